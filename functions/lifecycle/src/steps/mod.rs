//! One module per kind of task. What they share: the caller they write as, the step of the
//! stored plan a task names, its once-only id, and the change request's deadline.

pub mod begin;
pub mod drift;
pub mod finish;
pub mod gate;
pub mod jenkins;
pub mod record;
pub mod rollback;
pub mod secret;
pub mod ssm;
pub mod transition;

use changes::{Caller, Held};
use chrono::Utc;
use domain::lifecycle::Step;
use domain::{Source, TenantChangeRequest};
use serde_json::Value;

use crate::TaskError;
use crate::task::StepRef;

/// Every task writes as the workflow.
pub fn workflow() -> Caller {
    Caller::system("workflow", Source::Workflow)
}

/// The step of the stored plan that `at` names (by index, or by the name its payload carries).
pub fn planned(cr: &TenantChangeRequest, at: &StepRef) -> Result<(usize, Step), TaskError> {
    let plan = &cr.planned_steps;
    if plan.is_empty() {
        return Err(TaskError::Invalid(format!("change request {} has no stored plan; begin first", cr.id)));
    }
    let found = match (at.index, at.step.as_ref().and_then(|s| s.get("name")).and_then(Value::as_str)) {
        (Some(i), _) => plan.get(i).map(|s| (i, s.clone())),
        (None, Some(name)) => plan.iter().position(|s| s.name() == name).map(|i| (i, plan[i].clone())),
        (None, None) => None,
    };
    found.ok_or_else(|| TaskError::Invalid(format!("the task names no step of change request {}'s plan", cr.id)))
}

/// The id a step's work carries outside (`PORTAL_STEP_ID` on a Jenkins build, the comment of
/// an SSM command): how a retried task finds the work an earlier try started.
pub fn step_id(cr: &TenantChangeRequest, index: usize) -> String {
    format!("{}-{index}", cr.id)
}

/// Whether a step started at `started` ran past its `timeout_seconds`.
pub fn expired(started: chrono::DateTime<Utc>, timeout_seconds: u64) -> bool {
    (Utc::now() - started).num_seconds() > i64::try_from(timeout_seconds).unwrap_or(i64::MAX)
}

/// Fails when the change request passed the deadline its plan gave it at `begin`.
pub fn check_deadline(held: &Held) -> Result<(), TaskError> {
    match held.cr.deadline_at {
        Some(deadline) if Utc::now() > deadline => {
            Err(TaskError::Timeout(format!("change request {} passed its deadline ({deadline})", held.cr.id)))
        }
        _ => Ok(()),
    }
}

/// Records the step `name` of a running change request (`running` updates its last running
/// entry: the intent, then what it started).
pub async fn record(
    deps: &crate::Deps,
    id: &domain::ChangeRequestId,
    name: &str,
    status: domain::StepStatus,
    detail: Option<Value>,
    error: Option<String>,
) -> Result<(), TaskError> {
    deps.changes
        .advance(id, &workflow(), |held| {
            let mut cr = held.cr.clone();
            cr.record_step(name, status, detail.clone(), error.clone(), Utc::now());
            Ok(changes::Advance::Write { cr, state: None, answer: () })
        })
        .await?;
    Ok(())
}

/// The version of the rotated secret a step is given: the one this change request generated
/// (labelled with its id), or the current one. Either must exist: a step is never given a
/// version that is not there.
pub async fn secret_version(
    deps: &crate::Deps,
    held: &Held,
    given: &domain::lifecycle::SecretUse,
) -> Result<engine::SecretVersion, TaskError> {
    let parameter = given.secret.parameter(&deps.secrets_prefix, &held.tenant.id);
    let (label, missing) = match given.pick {
        domain::lifecycle::SecretPick::Generated => {
            (held.cr.id.to_string(), "this change request generated no version")
        }
        domain::lifecycle::SecretPick::Current => {
            (engine::secrets::CURRENT.to_owned(), "no version is current: there is none to go back to")
        }
    };
    deps.secrets
        .labelled(&parameter, &label)
        .await?
        .ok_or_else(|| TaskError::CommandFailed(format!("secret {parameter}: {missing}")))
}

/// A task answer as JSON.
pub fn answer<T: serde::Serialize>(value: &T) -> Result<Value, TaskError> {
    serde_json::to_value(value).map_err(|e| TaskError::Invalid(format!("unserializable answer: {e}")))
}
