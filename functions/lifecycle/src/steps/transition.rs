//! A state of the plan: moves the tenant there. A retried transition writes nothing.

use changes::Advance;
use domain::lifecycle::Step;
use domain::{ChangeRequestId, StepStatus};
use serde_json::json;

use super::{answer, planned, workflow};
use crate::task::{StepDone, StepRef};
use crate::{Deps, TaskError};

pub async fn run(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<serde_json::Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let (_, step) = planned(&held.cr, at)?;
    let Step::Transition { name, to } = step else {
        return Err(TaskError::Invalid(format!("step {} is not a transition", step.name())));
    };
    let plan = held.cr.plan().map_err(|e| TaskError::Invalid(e.to_string()))?;
    if !plan.through.contains(&to) {
        return Err(TaskError::Invalid(format!("{to} is not a state of this change request's plan")));
    }
    deps.changes
        .advance(id, &workflow(), |held| {
            let done = held.cr.steps.iter().any(|s| s.name == name && s.status == StepStatus::Succeeded);
            if held.tenant.state == to && done {
                return Ok(Advance::Done(()));
            }
            let mut cr = held.cr.clone();
            let detail = json!({ "from": held.tenant.state, "to": to });
            cr.record_step(&name, StepStatus::Succeeded, Some(detail), None, chrono::Utc::now());
            Ok(Advance::Write { cr, state: Some(to), answer: () })
        })
        .await?;
    answer(&StepDone { done: true })
}
