//! The rollout driver: EventBridge's `Scheduled Event` of the rule `<stack>-rollouts` (every
//! minute) → the core's [`changes::Changes::advance_rollouts`]: every running rollout (read from
//! the sparse index of the running ones) moved on as far as it can go now. No execution history
//! grows with a rollout: each run is one short invocation over the table.
//!
//! Locally EventBridge never fires a rule: the tests call [`run`] (or the core) directly.

use changes::{ChangeError, Changes};
use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{Value, json};

/// The detail type of a scheduled rule's event.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// An EventBridge event, as far as the handler reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub time: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<ChangeError> for DriverError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Unavailable(m) | ChangeError::Conflict(m) => Self::Unavailable(m),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<DriverError> for Diagnostic {
    fn from(e: DriverError) -> Self {
        let error_type = match e {
            DriverError::Unavailable(_) => "Unavailable",
            DriverError::Invalid(_) => "Invalid",
        };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// The Lambda handler.
pub async fn handle(changes: &Changes, event: LambdaEvent<Value>) -> Result<Value, DriverError> {
    let event: Event =
        serde_json::from_value(event.payload).map_err(|e| DriverError::Invalid(format!("not an event: {e}")))?;
    run(changes, event).await
}

/// One run: every running rollout advanced at the event's time (the clock's, if later).
pub async fn run(changes: &Changes, event: Event) -> Result<Value, DriverError> {
    if event.detail_type != SCHEDULED_EVENT {
        tracing::info!(detail_type = %event.detail_type, "an event the rollout driver does not handle; ignored");
        return Ok(json!({ "result": "ignored" }));
    }
    let now = event.time.max(Utc::now());
    let reports = changes.advance_rollouts(now).await?;
    tracing::info!(rollouts = reports.len(), "rollouts advanced");
    Ok(json!({ "advanced": reports }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::{Actor, Role, RolloutStatus, Tenant, TenantState};
    use serde_json::json;
    use store::layout::Record;

    use super::*;

    fn core() -> Changes {
        Changes {
            table: Arc::new(store::memory::MemoryTable::new()),
            workflows: Arc::new(engine::workflows::MemoryWorkflows::new()),
            jenkins: Arc::new(engine::MemoryJenkins::new()),
            remote: Arc::new(engine::MemoryCommands::new()),
            alarms: Arc::new(engine::MemoryAlarms::new()),
        }
    }

    fn scheduled() -> Event {
        serde_json::from_value(json!({"detail-type": SCHEDULED_EVENT, "time": Utc::now()})).unwrap()
    }

    #[tokio::test]
    async fn a_scheduled_run_advances_every_running_rollout_and_ignores_other_events() {
        let changes = core();
        let admin = changes::Caller::person(Actor { sub: "ada".into(), email: None }, Role::Admin);
        let mut ids = Vec::new();
        for n in 0..2 {
            let cmd = serde_json::from_value(json!({
                "customer_id": domain::CustomerId::generate(), "name": format!("t-{n}"), "release": "3.1.0"
            }))
            .unwrap();
            let (mut t, _) = Tenant::create(cmd, &admin.context(None));
            t.state = TenantState::Healthy;
            t.active_change_request_id = None;
            changes.table.batch_put(vec![t.to_item().unwrap()]).await.unwrap();
            ids.push(t.id);
        }
        ids.sort();
        let body = json!({"operation": "validate", "selector": {"tenant_ids": ids}, "waves": [1, 1]});
        let rollout = changes.create_rollout(&serde_json::from_value(body).unwrap(), &admin).await.unwrap();
        let read = changes.rollout_with_waves(&rollout.id).await.unwrap();
        let first = read.waves[0].tenants[0].change_request_id.clone().unwrap();
        let workflow = changes::Caller::system("workflow", domain::Source::Workflow);
        changes.finish(&first, &workflow, changes::Ending::Succeeded).await.unwrap();

        let ignored = serde_json::from_value(json!({"detail-type": "Other", "time": Utc::now()})).unwrap();
        assert_eq!(run(&changes, ignored).await.unwrap()["result"], "ignored");
        let out = run(&changes, scheduled()).await.unwrap();
        assert_eq!(out["advanced"].as_array().unwrap().len(), 1);
        let read = changes.rollout_with_waves(&rollout.id).await.unwrap();
        assert_eq!((read.status, read.current_wave), (RolloutStatus::Running, 1));
        assert!(read.waves[1].tenants[0].change_request_id.is_some());
    }
}
