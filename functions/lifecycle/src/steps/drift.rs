//! The drift steps: the live values adopted as the record (the core's write), the record
//! installed on the box again by its Update Manager, and the box read back, which fails the
//! change request while it still differs.

use domain::ChangeRequestId;
use domain::lifecycle::DriftAction;

use super::workflow;
use crate::{Deps, TaskError};

pub async fn run(deps: &Deps, id: &ChangeRequestId, name: &str, action: DriftAction) -> Result<(), TaskError> {
    let manager = deps.update_manager.as_ref();
    match action {
        DriftAction::Adopt => deps.changes.adopt_drift(id, &workflow(), name).await?,
        DriftAction::Reapply => deps.changes.reapply_recorded(manager, id, &workflow(), name).await?,
        DriftAction::Verify => {
            let left = deps.changes.verify_no_drift(manager, id, &workflow(), name).await?;
            if !left.is_empty() {
                return Err(TaskError::CommandFailed(format!(
                    "the box still differs from its record after the install: {}",
                    changes::drift::describe(&left)
                )));
            }
        }
    }
    Ok(())
}
