//! Deciding a change request: one that has not started is approved by an admin other than its
//! requester (it starts at once) or rejected, or cancelled by its requester or an admin; one
//! that runs and waits at a gate (a swap's cut-over) is approved or rejected there, and its
//! workflow goes on (or rolls back); one in its fallback window may be rolled back.

use domain::{ChangeRequestId, Role, TenantChangeRequest};
use store::{Cond, Tx};

use crate::retry::{self, Attempt};
use crate::{Caller, ChangeError, Changes};

impl Changes {
    /// Approves a change request awaiting approval and starts it; or, when it runs and waits at
    /// a gate, approves what the gate waits for.
    pub async fn approve(&self, id: &ChangeRequestId, caller: &Caller) -> Result<TenantChangeRequest, ChangeError> {
        caller.require(Role::Admin)?;
        let cr = self.change_request(id).await?;
        if cr.awaits_gate() {
            return self.decide_gate(cr, caller, true).await;
        }
        let ctx = caller.context(Some(id));
        let mut approved = cr.clone();
        approved.approve(&caller.actor, ctx.now)?;
        approved.execution_arn = Some(self.workflows.execution_arn(id.as_str()));
        approved.stamp = cr.stamp.next(&ctx);
        let mut tx = Tx::new();
        tx.put(
            &approved,
            Cond::RevisionIs(cr.stamp.revision),
            ChangeError::Conflict("the change request changed meanwhile".into()),
        )?;
        tx.commit(self.table.as_ref()).await?;
        self.start_or_fail(&approved, None).await?;
        Ok(approved)
    }

    /// Rejects a change request awaiting approval; its tenant is released. When it runs and
    /// waits at a gate, rejects what the gate waits for: its workflow rolls back.
    pub async fn reject(&self, id: &ChangeRequestId, caller: &Caller) -> Result<TenantChangeRequest, ChangeError> {
        caller.require(Role::Admin)?;
        let cr = self.change_request(id).await?;
        if cr.awaits_gate() {
            return self.decide_gate(cr, caller, false).await;
        }
        let ctx = caller.context(Some(id));
        let mut rejected = cr.clone();
        rejected.reject(&caller.actor, ctx.now)?;
        self.close_unstarted(cr, rejected, caller).await
    }

    async fn decide_gate(
        &self,
        cr: TenantChangeRequest,
        caller: &Caller,
        approve: bool,
    ) -> Result<TenantChangeRequest, ChangeError> {
        let ctx = caller.context(Some(&cr.id));
        let mut decided = cr.clone();
        decided.decide_gate(&caller.actor, approve, ctx.now)?;
        self.write_decision(&cr, decided, caller).await
    }

    /// An admin asks a change request in its fallback window to roll back: its workflow sees it
    /// at its next poll and rolls back.
    pub async fn request_rollback(
        &self,
        id: &ChangeRequestId,
        caller: &Caller,
        reason: domain::Text,
    ) -> Result<TenantChangeRequest, ChangeError> {
        caller.require(Role::Admin)?;
        let cr = self.change_request(id).await?;
        let ctx = caller.context(Some(id));
        let mut asked = cr.clone();
        asked.request_rollback(&caller.actor, reason, ctx.now)?;
        self.write_decision(&cr, asked, caller).await
    }

    async fn write_decision(
        &self,
        read: &TenantChangeRequest,
        mut decided: TenantChangeRequest,
        caller: &Caller,
    ) -> Result<TenantChangeRequest, ChangeError> {
        decided.stamp = read.stamp.next(&caller.context(Some(&read.id)));
        let mut tx = Tx::new();
        tx.put(
            &decided,
            Cond::RevisionIs(read.stamp.revision),
            ChangeError::Conflict("the change request changed meanwhile".into()),
        )?;
        tx.commit(self.table.as_ref()).await?;
        tracing::info!(change_request = %read.id, by = %caller.actor.stamp(), "decided while it runs");
        Ok(decided)
    }

    /// Cancels a change request that has not started; its tenant is released.
    pub async fn cancel(&self, id: &ChangeRequestId, caller: &Caller) -> Result<TenantChangeRequest, ChangeError> {
        let cr = self.change_request(id).await?;
        let ctx = caller.context(Some(id));
        let mut cancelled = cr.clone();
        cancelled.cancel(&caller.actor, caller.role >= Role::Admin, ctx.now)?;
        self.close_unstarted(cr, cancelled, caller).await
    }

    /// Writes a change request that ends before it ran, and releases its tenant (read again if
    /// it was edited meanwhile, so the edit stays).
    pub(crate) async fn close_unstarted(
        &self,
        read: TenantChangeRequest,
        mut closed: TenantChangeRequest,
        caller: &Caller,
    ) -> Result<TenantChangeRequest, ChangeError> {
        let ctx = caller.context(Some(&read.id));
        closed.stamp = read.stamp.next(&ctx);
        let revision = read.stamp.revision;
        let tenant_id = read.tenant_id.clone();
        retry::on_conflict(|| async {
            let mut tx = Tx::new();
            tx.put(
                &closed,
                Cond::RevisionIs(revision),
                ChangeError::Conflict("the change request changed meanwhile".into()),
            )?;
            let tenant = self.tenant(&tenant_id).await?;
            if read.holds(&tenant) {
                let mut released = tenant.clone();
                released.active_change_request_id = None;
                released.stamp = tenant.stamp.next(&ctx);
                tx.put(
                    &released,
                    Cond::RevisionIs(tenant.stamp.revision),
                    ChangeError::Conflict("tenant raced".into()),
                )?;
            }
            match tx.commit(self.table.as_ref()).await {
                Ok(()) => Ok(()),
                // The change request itself changed: that is the caller's conflict, not a race.
                Err(ChangeError::Conflict(m)) if m == "tenant raced" => Err(Attempt::Lost(ChangeError::Conflict(m))),
                Err(e) => Err(Attempt::Final(e)),
            }
        })
        .await?;
        Ok(closed)
    }
}
