//! The reconciler: what ends a change request's execution other than its own `Finish` comes
//! here, as EventBridge delivers it, and goes to the change-request core.
//!
//! - `Step Functions Execution Status Change` (`FAILED`, `TIMED_OUT`, `ABORTED`, from a rule on
//!   the lifecycle state machine): the change request, if it still runs, has its work stopped
//!   and is finished failed; the tenant goes where the lifecycle table says.
//! - `Scheduled Event` (a rule every few minutes): the sweep finds running change requests
//!   with no live execution (a crash between the claim and `StartExecution`, a lost event).
//!
//! Locally moto emits neither: `make dev` and the tests deliver the same events to this
//! handler (`shared/devstack/src/execution_events.rs`).

use changes::{ChangeError, Changes};
use chrono::{Duration, Utc};
use engine::ExecutionStatus;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{Value, json};

/// The detail type of an execution's status change.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";
/// The detail type of a scheduled rule's event.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";

/// An EventBridge event, as far as the reconciler reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    #[serde(default)]
    pub detail: Value,
}

/// The detail of an execution's status change.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub state_machine_arn: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

pub struct Deps {
    pub changes: Changes,
    /// Only executions of this state machine are change requests (the rule filters too).
    pub state_machine_arn: Option<String>,
    /// A running change request changed within this is left to its execution by the sweep.
    pub grace: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<ChangeError> for ReconcileError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Unavailable(m) | ChangeError::Conflict(m) => Self::Unavailable(m),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<ReconcileError> for Diagnostic {
    fn from(e: ReconcileError) -> Self {
        let error_type = match e {
            ReconcileError::Unavailable(_) => "Unavailable",
            ReconcileError::Invalid(_) => "Invalid",
        };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// The Lambda handler. An error makes EventBridge (or Lambda's async retries) deliver the
/// event again; reconciling is idempotent.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, ReconcileError> {
    let event: Event =
        serde_json::from_value(event.payload).map_err(|e| ReconcileError::Invalid(format!("not an event: {e}")))?;
    run(deps, event).await
}

pub async fn run(deps: &Deps, event: Event) -> Result<Value, ReconcileError> {
    match event.detail_type.as_str() {
        EXECUTION_STATUS_CHANGE => {
            let d: ExecutionDetail = serde_json::from_value(event.detail)
                .map_err(|e| ReconcileError::Invalid(format!("not an execution status change: {e}")))?;
            if let (Some(want), Some(got)) = (&deps.state_machine_arn, &d.state_machine_arn)
                && want != got
            {
                tracing::info!(state_machine = %got, "not the lifecycle state machine; ignored");
                return Ok(json!({ "result": "not_a_change" }));
            }
            let Some(status) = ExecutionStatus::parse(&d.status) else {
                return Err(ReconcileError::Invalid(format!("unknown execution status {}", d.status)));
            };
            let cause = match (&d.error, &d.cause) {
                (Some(e), Some(c)) => Some(format!("{e}: {c}")),
                (Some(e), None) => Some(e.clone()),
                (None, c) => c.clone(),
            };
            let done = deps.changes.reconcile(&d.name, status, cause.as_deref()).await?;
            tracing::info!(execution = %d.name, status = %d.status, ?done, "execution end reconciled");
            Ok(serde_json::to_value(done).unwrap_or_default())
        }
        SCHEDULED_EVENT => {
            let report = deps.changes.sweep(Utc::now(), deps.grace).await?;
            if !report.finished.is_empty() {
                tracing::warn!(finished = ?report.finished, "the sweep finished change requests no execution would");
            }
            Ok(serde_json::to_value(report).unwrap_or_default())
        }
        other => {
            tracing::info!(detail_type = %other, "an event the reconciler does not handle; ignored");
            Ok(json!({ "result": "ignored" }))
        }
    }
}

#[cfg(test)]
mod tests;
