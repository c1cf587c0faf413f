//! Pausing, resuming and aborting a rollout. A pause starts nothing new (what runs runs on); a
//! resume goes on where it stopped; an abort (admins, with a reason) ends it `cancelled`, then
//! aborts its running change requests through [`Changes::abort`] and records how they ended;
//! its waiting tenants never get a change request.

use domain::{MemberStatus, Role, Rollout, RolloutId, RolloutStatus, Text};
use store::layout;

use crate::{Caller, ChangeError, Changes};

impl Changes {
    /// Moves rollout `id` from `from` to `to` (conditional on the revision read).
    async fn move_rollout(
        &self,
        id: &RolloutId,
        caller: &Caller,
        from: &[RolloutStatus],
        to: RolloutStatus,
        reason: Option<String>,
    ) -> Result<Rollout, ChangeError> {
        let read = self.rollout(id).await?;
        if !from.contains(&read.status) {
            let status = serde_json::to_value(read.status).ok().and_then(|v| v.as_str().map(str::to_owned));
            return Err(ChangeError::Conflict(format!("rollout {id} is {}", status.unwrap_or_default())));
        }
        let mut next = read.clone();
        next.status = to;
        if reason.is_some() {
            next.ended_reason = reason;
        }
        next.stamp = read.stamp.next(&caller.context(None));
        let mut tx = store::Tx::new();
        tx.put(
            &next,
            store::Cond::RevisionIs(read.stamp.revision),
            ChangeError::Conflict(format!("rollout {id} changed meanwhile; read it again")),
        )?;
        tx.commit(self.table.as_ref()).await?;
        Ok(next)
    }

    pub async fn pause_rollout(&self, id: &RolloutId, caller: &Caller) -> Result<Rollout, ChangeError> {
        caller.require(Role::Operator)?;
        self.move_rollout(id, caller, &[RolloutStatus::Running], RolloutStatus::Paused, None).await
    }

    /// Resumes a paused rollout and advances it at once.
    pub async fn resume_rollout(&self, id: &RolloutId, caller: &Caller) -> Result<Rollout, ChangeError> {
        caller.require(Role::Operator)?;
        self.move_rollout(id, caller, &[RolloutStatus::Paused], RolloutStatus::Running, None).await?;
        self.advance_logged(id).await;
        self.rollout(id).await
    }

    /// Ends the rollout `cancelled`, then aborts each of its running change requests.
    pub async fn abort_rollout(&self, id: &RolloutId, caller: &Caller, reason: Text) -> Result<Rollout, ChangeError> {
        caller.require(Role::Admin)?;
        let why = format!("aborted by {}: {reason}", caller.actor.stamp());
        let active = [RolloutStatus::Running, RolloutStatus::Paused];
        let rollout = self.move_rollout(id, caller, &active, RolloutStatus::Cancelled, Some(why)).await?;
        let mut members = self.members(id, layout::MEMBER_PREFIX).await?;
        for m in members.iter().filter(|m| m.status == MemberStatus::Running) {
            let Some(cr) = &m.change_request_id else { continue };
            match self.abort(cr, caller, reason.clone()).await {
                Ok(_) | Err(ChangeError::Conflict(_)) => {}
                Err(e) => tracing::warn!(rollout = %id, change_request = %cr, error = %e, "could not abort"),
            }
        }
        self.follow(&mut members).await?;
        Ok(rollout)
    }
}
