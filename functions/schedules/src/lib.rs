//! The schedules: EventBridge's `Scheduled Event` from one of the fleet's rules (named
//! `<stack>-schedule-<name>`: `backup` nightly, `validate` every 6 hours, both fired hourly so
//! each tenant is served inside its own window) → the change-request core's fan-out
//! ([`changes::Changes::fan_out`]): eligible tenants found with `Query`s, change requests
//! created at a bounded rate with actor `schedule:<name>`, once per slot and tenant. Two daily
//! rules are not fan-outs: `metering` reads every running tenant's usage through the
//! [`engine::UpdateManager`] port ([`changes::Changes::collect_usage`], once per tenant and day),
//! and `licenses` suspends the tenants of active assignments past their expiry and marks them
//! `expired` ([`changes::Changes::expire_licenses`]); `drift` reads what every running tenant's
//! box runs through the same port and keeps its comparison with the record
//! ([`changes::Changes::check_fleet_drift`]).
//!
//! Locally EventBridge never fires a rule: `make schedule` and the tests deliver the same event
//! to this handler (`shared/devstack/src/schedule_events.rs`).

use std::sync::Arc;

use changes::{ChangeError, Changes, Pace};
use chrono::{DateTime, Utc};
use domain::LicenseSkip;
use domain::schedule::Schedule;
use engine::UpdateManager;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Deserialize;
use serde_json::{Value, json};

/// The detail type of a scheduled rule's event.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";
/// What a schedule's rule is named after the stack's name: `<stack>-schedule-backup`.
pub const RULE_INFIX: &str = "schedule-";

/// An EventBridge event, as far as the handler reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The time the rule fired for (the slot is read from it, so a redelivery has the same).
    pub time: DateTime<Utc>,
    /// The rule's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
}

pub struct Deps {
    pub changes: Changes,
    pub pace: Pace,
    /// The tenants' Update Manager API: where `metering` reads each tenant's usage and `drift`
    /// what its box runs.
    pub update_manager: Arc<dyn UpdateManager>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<ChangeError> for ScheduleError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Unavailable(m) | ChangeError::Conflict(m) => Self::Unavailable(m),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<ScheduleError> for Diagnostic {
    fn from(e: ScheduleError) -> Self {
        let error_type = match e {
            ScheduleError::Unavailable(_) => "Unavailable",
            ScheduleError::Invalid(_) => "Invalid",
        };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// The schedule a rule's ARN names (`arn:aws:events:...:rule/<stack>-schedule-backup`).
pub fn schedule_of_rule(rule_arn: &str) -> Option<Schedule> {
    let name = rule_arn.rsplit('/').next()?;
    let (_, schedule) = name.rsplit_once(RULE_INFIX)?;
    Schedule::parse(schedule)
}

/// The Lambda handler. An error (some creates failed) makes Lambda deliver the event again:
/// the slot's guards make the new run create only what the first did not.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, ScheduleError> {
    let event: Event =
        serde_json::from_value(event.payload).map_err(|e| ScheduleError::Invalid(format!("not an event: {e}")))?;
    run(deps, event).await
}

pub async fn run(deps: &Deps, event: Event) -> Result<Value, ScheduleError> {
    if event.detail_type != SCHEDULED_EVENT {
        tracing::info!(detail_type = %event.detail_type, "an event the schedules do not handle; ignored");
        return Ok(json!({ "result": "ignored" }));
    }
    let Some(schedule) = event.resources.iter().find_map(|r| schedule_of_rule(r)) else {
        return Err(ScheduleError::Invalid(format!("no schedule's rule among {:?}", event.resources)));
    };
    let (report, failed) = match schedule {
        Schedule::FanOut(name) => {
            let report = deps.changes.fan_out(name, event.time, deps.pace).await?;
            let failed = report.failed;
            (serde_json::to_value(report), failed)
        }
        Schedule::Metering => {
            let report = deps.changes.collect_usage(deps.update_manager.as_ref(), event.time, deps.pace).await?;
            let failed = report.failed;
            (serde_json::to_value(report), failed)
        }
        Schedule::Drift => {
            let report = deps.changes.check_fleet_drift(deps.update_manager.as_ref(), event.time, deps.pace).await?;
            let failed = report.failed;
            (serde_json::to_value(report), failed)
        }
        Schedule::Licenses => {
            let report = deps.changes.expire_licenses(event.time).await?;
            let failed =
                report.changes.iter().flat_map(|c| &c.skipped).filter(|s| s.reason == LicenseSkip::Failed).count();
            (serde_json::to_value(report), failed)
        }
    };
    if failed > 0 {
        return Err(ScheduleError::Unavailable(format!(
            "{failed} of the {schedule} run's tenants could not be served; run again"
        )));
    }
    report.map_err(|e| ScheduleError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests;
