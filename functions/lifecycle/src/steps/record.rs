//! The steps that record what a tenant runs, with no wait: an upgrade's release, once its job
//! applied it, and its rollback's, which writes back what was recorded before; the drift steps
//! (`drift.rs`). All are the core's; a retried step writes nothing.

use domain::ChangeRequestId;
use domain::lifecycle::Step;

use super::{answer, planned, workflow};
use crate::task::{StepDone, StepRef};
use crate::{Deps, TaskError};

pub async fn run(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<serde_json::Value, TaskError> {
    let held = deps.changes.held(id).await?;
    match planned(&held.cr, at)?.1 {
        Step::RecordRelease { name } => deps.changes.record_release(id, &workflow(), &name).await?,
        Step::RevertRelease { name } => deps.changes.revert_release(id, &workflow(), &name).await?,
        Step::Drift { name, action } => super::drift::run(deps, id, &name, action).await?,
        other => return Err(TaskError::Invalid(format!("step {} records no release", other.name()))),
    }
    answer(&StepDone { done: true })
}
