//! The local stack's event admin endpoint (loopback only, never part of the public API): what
//! `make alarm` (and `make schedule`) call while `make dev` runs, to deliver the events moto
//! never emits to the same handlers, in the same JSON shape as AWS.
//!
//! | Route | |
//! |---|---|
//! | `POST /__admin/alarms` `{"tenant_id": "ten_...", "state": "ALARM"}` | the tenant's standard health alarm changes state (`ALARM` or `OK`); answers the alarm handler's result |
//! | `POST /__admin/schedules` `{"name": "backup"}` | the schedule's rule fires now (`backup`, `validate`, `metering`, `licenses`); answers its run's report |

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use domain::TenantId;
use domain::schedule::Schedule;
use serde::Deserialize;
use serde_json::json;

/// The handlers events are delivered to.
#[derive(Clone)]
pub struct EventTargets {
    pub alarms: Arc<alarms::Deps>,
    pub schedules: Arc<schedules::Deps>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlarmRequest {
    tenant_id: String,
    #[serde(default = "alarm")]
    state: String,
}

fn alarm() -> String {
    "ALARM".into()
}

fn refused(status: StatusCode, field: &str, detail: String) -> Response {
    (status, Json(json!({ "field": field, "detail": detail }))).into_response()
}

async fn post_alarm(State(t): State<EventTargets>, Json(req): Json<AlarmRequest>) -> Response {
    let tenant = match TenantId::parse(&req.tenant_id) {
        Ok(t) => t,
        Err(e) => return refused(StatusCode::UNPROCESSABLE_ENTITY, "tenant_id", e.message),
    };
    if !matches!(req.state.as_str(), "ALARM" | "OK") {
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "state", "ALARM or OK".into());
    }
    let event = crate::alarm_events::health_alarm_event(&tenant, &req.state);
    match crate::alarm_events::deliver(&t.alarms, event).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => refused(StatusCode::SERVICE_UNAVAILABLE, "", format!("the alarm handler failed: {e:#}")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleRequest {
    name: String,
}

async fn post_schedule(State(t): State<EventTargets>, Json(req): Json<ScheduleRequest>) -> Response {
    let Some(schedule) = Schedule::parse(&req.name) else {
        let names: Vec<&str> = Schedule::ALL.iter().map(|s| s.as_str()).collect();
        return refused(StatusCode::UNPROCESSABLE_ENTITY, "name", format!("one of {}", names.join(", ")));
    };
    let event = crate::schedule_events::scheduled_event(schedule, chrono::Utc::now());
    match crate::schedule_events::deliver(&t.schedules, event).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => refused(StatusCode::SERVICE_UNAVAILABLE, "", format!("the schedule's run failed: {e:#}")),
    }
}

pub fn router(targets: EventTargets) -> Router {
    Router::new()
        .route("/__admin/alarms", post(post_alarm))
        .route("/__admin/schedules", post(post_schedule))
        .with_state(targets)
}

/// Serves the endpoint on `listener` in the background; answers its base URL.
pub async fn serve(targets: EventTargets, listener: tokio::net::TcpListener) -> anyhow::Result<String> {
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(targets)).await {
            tracing::error!(error = %e, "the event admin endpoint stopped");
        }
    });
    Ok(url)
}
