//! Starting a change request's execution. When Step Functions cannot be reached the change
//! request fails at once and releases its tenant, so nothing is left claimed by an execution
//! that does not exist.

use domain::{Source, TenantState};
use store::{Cond, Key, Tx, WriteOp};

use crate::fleet::{count_in_fleet, moved};
use crate::retry::{self, Attempt};
use crate::{Caller, ChangeError, Changes, WorkflowInput};

/// What a change request whose workflow never started says.
pub const NOT_STARTED: &str = "the workflow could not be started; retry the change request";

impl Changes {
    /// Starts the execution of a change request already marked running (named by its id, so a
    /// retried start is the same execution). When that fails, the change request fails and
    /// releases its tenant (a tenant created for it ends where a failure of it ends, `Broken`),
    /// the guard of its create is deleted, and the answer is `Unavailable`.
    pub async fn start_or_fail(
        &self,
        cr: &domain::TenantChangeRequest,
        guard: Option<&Key>,
    ) -> Result<(), ChangeError> {
        let input = WorkflowInput::of(cr).to_json();
        let err = match self.workflows.start(cr.id.as_str(), &input).await {
            Ok(_) => {
                lambda_setup::emf::emit(&crate::measure::started(cr, chrono::Utc::now()).to_json());
                return Ok(());
            }
            Err(e) => e,
        };
        tracing::error!(change_request = %cr.id, error = %err, "could not start the workflow");
        let caller = Caller::system("api", Source::Api);
        retry::on_conflict(|| async {
            let (current, tenant) = self.read(&cr.id).await?;
            if current.status != domain::ChangeRequestStatus::Running {
                return Ok(());
            }
            let ctx = caller.context(Some(&cr.id));
            let mut failed = current.clone();
            failed.fail(NOT_STARTED, ctx.now)?;
            failed.stamp = current.stamp.next(&ctx);
            let mut tx = Tx::new();
            tx.put(&failed, Cond::RevisionIs(current.stamp.revision), ChangeError::Conflict("raced".into()))?;
            if let Some(tenant) = tenant.filter(|t| current.holds(t)) {
                let mut released = tenant.clone();
                released.active_change_request_id = None;
                if current.is_creation() {
                    released.state = TenantState::Broken;
                }
                released.stamp = tenant.stamp.next(&ctx);
                tx.put(&released, Cond::RevisionIs(tenant.stamp.revision), ChangeError::Conflict("raced".into()))?;
                let moves = moved((tenant.state, &tenant.release), (released.state, &tenant.release));
                count_in_fleet(&mut tx, &moves, ChangeError::Internal("counter".into()));
            }
            if let Some(key) = guard {
                tx.push(
                    WriteOp::Delete { key: key.clone(), cond: Cond::Always },
                    ChangeError::Internal("guard".into()),
                );
            }
            retry::committed(tx.commit(self.table.as_ref()).await)?;
            Ok::<(), Attempt>(())
        })
        .await?;
        Err(ChangeError::Unavailable(err.to_string()))
    }
}
