//! Aborting a change request: an admin, giving a reason, stops its execution and the work it
//! runs (the Jenkins build, the SSM command); it ends `cancelled`, saying who aborted it and
//! why, and the tenant goes where a failure of that operation goes.

use domain::{ChangeRequestId, ChangeRequestStatus, Role, TenantChangeRequest, Text};

use crate::{Caller, ChangeError, Changes, Ending};

impl Changes {
    pub async fn abort(
        &self,
        id: &ChangeRequestId,
        caller: &Caller,
        reason: Text,
    ) -> Result<TenantChangeRequest, ChangeError> {
        caller.require(Role::Admin)?;
        let cr = self.change_request(id).await?;
        match cr.status {
            ChangeRequestStatus::Pending | ChangeRequestStatus::AwaitingApproval => {
                let ctx = caller.context(Some(id));
                let mut aborted = cr.clone();
                aborted.abort(&caller.actor, reason, ctx.now)?;
                self.close_unstarted(cr, aborted, caller).await
            }
            ChangeRequestStatus::Running => {
                // The execution first, so that no task starts new work; then the work it runs.
                self.workflows.stop(id.as_str(), &format!("aborted by {}: {reason}", caller.actor.stamp())).await?;
                self.stop_work(&cr).await;
                self.finish(id, caller, Ending::Aborted { by: caller.actor.clone(), reason }).await?;
                self.change_request(id).await
            }
            other => {
                Err(ChangeError::Conflict(format!("change request {id} is {other}; only an active one can be aborted")))
            }
        }
    }
}
