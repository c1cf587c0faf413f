//! Rollouts over HTTP: each route parses, calls the core's rollouts (`shared/changes/src/rollouts`)
//! as the caller, and answers. The rules (selection, waves, the gate, the controls) are the core's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{Role, Rollout, RolloutCreate, RolloutId, RolloutPlanSummary};
use store::layout;
use store::{Index, Query};

use super::change_requests::AbortRequest;
use super::path_param;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

fn parse_id(raw: &str) -> Result<RolloutId, ApiError> {
    path_param("id", raw, RolloutId::parse)
}

/// Start a rollout: one operation over the tenants the selector names, in waves (the last
/// taking the rest), each tenant's change its own change request (requested by
/// `rollout:<id>`). The next wave starts when every change of this one ended with at most
/// `max_failures` failed and no tenant of the rollout raised an alarm during `soak_seconds`;
/// otherwise the rollout is `halted`. Selected tenants that cannot run now (their state, busy, a
/// downgrade) are left out (`refused_count`; the plan names each). `202` with the rollout; its
/// first wave starts at once, the next ones from the rollout driver, every minute.
#[utoipa::path(post, path = "/v1/rollouts", tag = "rollouts", request_body = RolloutCreate, params(IdempotencyKey),
    responses((status = 202, body = Rollout, headers(("Location" = String, description = "Where the rollout is."))),
        (status = 422, description = "A value is not acceptable: an operation a rollout cannot run (one creating a tenant, \
            needing a second admin, or an alarm's), its params, an unknown or unavailable release, a tenant id that names \
            no tenant; `field` names it.")))]
pub async fn create_rollout(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<RolloutCreate>,
) -> Result<Response, ApiError> {
    let caller = principal.caller();
    caller.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/rollouts", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let prepared = app.changes.prepare_rollout(&body.value, &caller).await?;
    app.changes.write_members(&prepared).await?;
    let rollout = &prepared.rollout;
    let answer = Stored::record(StatusCode::ACCEPTED, rollout, Some(format!("/v1/rollouts/{}", rollout.id)))?;
    let mut tx = Tx::new();
    tx.push(prepared.record_write()?, ApiError::Conflict("id collision; retry".into()));
    let response = idem.commit(&app, tx, answer).await?;
    if response.status() == StatusCode::ACCEPTED {
        app.changes.advance_logged(&rollout.id).await;
    }
    Ok(response)
}

/// What a rollout with this body would do, writing nothing: for each selected tenant, whether
/// it would run or why not (`state`, `busy`, `same_release`, `downgrade`), its wave, the plan
/// its change request would run (states and ends), and an upgrade's component changes.
#[utoipa::path(post, path = "/v1/rollouts/plan", tag = "rollouts", request_body = RolloutCreate,
    responses((status = 200, body = RolloutPlanSummary),
        (status = 422, description = "A value is not acceptable (as for a rollout); `field` names it.")))]
pub async fn plan_rollout(
    State(app): State<App>,
    principal: Principal,
    body: JsonBody<RolloutCreate>,
) -> Result<axum::Json<RolloutPlanSummary>, ApiError> {
    Ok(axum::Json(app.changes.plan_rollout(&body.value, &principal.caller()).await?))
}

/// Rollouts, newest first (without their waves: `GET /v1/rollouts/{id}` has them).
#[utoipa::path(get, path = "/v1/rollouts", tag = "rollouts", params(ListParams),
    responses((status = 200, body = ListResponse<Rollout>)))]
pub async fn list_rollouts(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<Rollout>>, ApiError> {
    let q = Query::new(Some(Index::Gsi1), layout::ROLLOUTS).newest_first();
    Ok(axum::Json(persist::list(&app, q, &params).await?))
}

/// A rollout with its waves: each wave's tenants, their change requests and statuses.
#[utoipa::path(get, path = "/v1/rollouts/{id}", tag = "rollouts", params(("id" = RolloutId, Path)),
    responses((status = 200, body = Rollout)))]
pub async fn get_rollout(State(app): State<App>, _: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    persist::ok(&app.changes.rollout_with_waves(&parse_id(&id)?).await?)
}

/// Pause a running rollout: nothing new starts; the change requests running go on.
#[utoipa::path(post, path = "/v1/rollouts/{id}/pause", tag = "rollouts", params(("id" = RolloutId, Path)),
    responses((status = 200, body = Rollout), (status = 409, description = "It is not running.")))]
pub async fn pause_rollout(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&app.changes.pause_rollout(&parse_id(&id)?, &principal.caller()).await?)
}

/// Resume a paused rollout where it stopped.
#[utoipa::path(post, path = "/v1/rollouts/{id}/resume", tag = "rollouts", params(("id" = RolloutId, Path)),
    responses((status = 200, body = Rollout), (status = 409, description = "It is not paused.")))]
pub async fn resume_rollout(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&app.changes.resume_rollout(&parse_id(&id)?, &principal.caller()).await?)
}

/// Abort a rollout: it ends `cancelled`, its running change requests are aborted (their
/// executions and work stopped), its waiting tenants get none. Admins only; the reason is
/// required.
#[utoipa::path(post, path = "/v1/rollouts/{id}/abort", tag = "rollouts", request_body = AbortRequest,
    params(("id" = RolloutId, Path)),
    responses((status = 200, body = Rollout), (status = 403, description = "Admins only."),
        (status = 409, description = "The rollout already ended.")))]
pub async fn abort_rollout(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonBody<AbortRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    persist::ok(&app.changes.abort_rollout(&id, &principal.caller(), body.value.reason).await?)
}
