//! The rollout driver: one step of a rollout, as far as it can go now. Its wave's change
//! requests that ended are recorded on their members; waiting members get change requests until
//! `concurrency` are active (a busy tenant, or one whose state no longer allows the operation, is
//! skipped and says why); when every change of the wave ended, the gate: more failures than
//! `max_failures` halts the rollout (or fails it, after its last wave) and later waves are never
//! touched; otherwise the soak begins, and an alarm on any of its tenants (a `mark_broken` change
//! request holding it, or a tenant whose change succeeded now `Broken`) halts it; after the soak
//! the next wave starts. Every write of the rollout record is conditional on the revision read,
//! so two drivers (the API's and the schedule's) never both move it; a member takes its change
//! request's id in the transaction that creates the change request, conditional on the member's
//! revision, so a tenant never gets two.

use chrono::{DateTime, Utc};
use domain::{
    ChangeRequestStatus, MemberStatus, Operation, Rollout, RolloutId, RolloutMember, RolloutStatus, TenantState, Text,
};
use domain::{Gate, gate};
use serde::Serialize;
use store::layout::{self, Record};
use store::{Cond, Index, Query, Tx, WriteOp};

use super::caller_of;
use crate::{ChangeCreate, ChangeError, Changes};

/// What one call of the driver did to one rollout.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdvanceReport {
    pub rollout_id: String,
    pub status: String,
    pub wave: u32,
    /// Change requests created.
    pub started: usize,
    /// Members whose change request ended.
    pub ended: usize,
    pub skipped: usize,
    /// Waiting members whose tenant's maintenance window is closed now.
    pub outside_window: usize,
}

impl Changes {
    /// Advances every running rollout (read from the sparse index of the running ones).
    pub async fn advance_rollouts(&self, now: DateTime<Utc>) -> Result<Vec<AdvanceReport>, ChangeError> {
        let q = Query::new(Some(Index::Gsi2), layout::ACTIVE_ROLLOUTS).limit(100);
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(&q.clone().start(start)).await?;
            for item in page.items {
                ids.push(Rollout::from_item(item)?.id);
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        let mut reports = Vec::new();
        for id in ids {
            match self.advance_rollout(&id, now).await {
                Ok(r) => reports.push(r),
                Err(e) => tracing::warn!(rollout = %id, error = %e, "a rollout could not advance"),
            }
        }
        Ok(reports)
    }

    /// [`Changes::advance_rollout`] now, its failure logged (the schedule tries again in a minute).
    pub async fn advance_logged(&self, id: &RolloutId) {
        if let Err(e) = self.advance_rollout(id, Utc::now()).await {
            tracing::warn!(rollout = %id, error = %e, "a rollout could not advance");
        }
    }

    /// One step of rollout `id` at `now`.
    pub async fn advance_rollout(&self, id: &RolloutId, now: DateTime<Utc>) -> Result<AdvanceReport, ChangeError> {
        let mut report = AdvanceReport { rollout_id: id.to_string(), ..Default::default() };
        // Each turn moves at most one wave on; a wave with nothing to run passes at once.
        for _ in 0..=domain::RolloutCreate::MAX_WAVES {
            let mut rollout = self.rollout(id).await?;
            report.status = serde_json::to_value(rollout.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            report.wave = rollout.current_wave;
            if rollout.status != RolloutStatus::Running {
                return Ok(report);
            }
            let mut members = self.members(id, &layout::wave_prefix(rollout.current_wave)).await?;
            report.ended += self.follow(&mut members).await?;
            self.start_waiting(&rollout, &mut members, &mut report, now).await?;
            let statuses: Vec<MemberStatus> = members.iter().map(|m| m.status).collect();
            let last = rollout.current_wave + 1 >= rollout.wave_count();
            let next = rollout.clone();
            match gate(&statuses, rollout.max_failures) {
                Gate::Running => return Ok(report),
                Gate::TooManyFailures { failed } => {
                    rollout.status = if last { RolloutStatus::Failed } else { RolloutStatus::Halted };
                    rollout.ended_reason = Some(format!(
                        "{} had {failed} failed changes, more than max_failures {}",
                        rollout.wave_label(),
                        rollout.max_failures
                    ));
                }
                Gate::Soak => {
                    let soak_started = *rollout.soak_started_at.get_or_insert(now);
                    if let Some(alarm) = self.alarm_on(&rollout).await? {
                        rollout.status = RolloutStatus::Halted;
                        rollout.ended_reason =
                            Some(format!("an alarm during the soak of {}: {alarm}", rollout.wave_label()));
                    } else if (now - soak_started).num_seconds() < i64::from(rollout.soak_seconds) {
                        if next.soak_started_at.is_none() {
                            self.save(&next, rollout).await?;
                        }
                        return Ok(report);
                    } else if last {
                        rollout.status = RolloutStatus::Succeeded;
                        rollout.current_wave += 1;
                        rollout.soak_started_at = None;
                    } else {
                        rollout.current_wave += 1;
                        rollout.soak_started_at = None;
                    }
                }
            }
            self.save(&next, rollout).await?;
        }
        Ok(report)
    }

    /// Writes `rollout` over `read`, conditional on it being as read; a lost race is a conflict
    /// (another driver moved it: the next call reads it again).
    async fn save(&self, read: &Rollout, mut rollout: Rollout) -> Result<(), ChangeError> {
        let ctx = caller_of(&read.id).context(None);
        rollout.stamp = read.stamp.next(&ctx);
        let mut tx = Tx::new();
        tx.put(
            &rollout,
            Cond::RevisionIs(read.stamp.revision),
            ChangeError::Conflict(format!("rollout {} changed meanwhile; read it again", read.id)),
        )?;
        tx.commit(self.table.as_ref()).await
    }

    /// Records on each running member how its change request ended; answers how many ended.
    pub(crate) async fn follow(&self, members: &mut [RolloutMember]) -> Result<usize, ChangeError> {
        let keys: Vec<_> = members
            .iter()
            .filter(|m| m.status == MemberStatus::Running)
            .filter_map(|m| m.change_request_id.as_ref().map(layout::change_request_key))
            .collect();
        if keys.is_empty() {
            return Ok(0);
        }
        let mut statuses = std::collections::HashMap::new();
        for item in self.table.batch_get(&keys).await? {
            let cr = domain::TenantChangeRequest::from_item(item)?;
            statuses.insert(cr.id.clone(), cr.status);
        }
        let mut ended = 0;
        for m in members.iter_mut().filter(|m| m.status == MemberStatus::Running) {
            let Some(status) = m.change_request_id.as_ref().and_then(|id| statuses.get(id)) else { continue };
            let now = MemberStatus::of(*status);
            if now != MemberStatus::Running {
                let note = match status {
                    ChangeRequestStatus::Cancelled => Some("its change request was aborted".to_owned()),
                    ChangeRequestStatus::Rejected => Some("its change request was rejected".to_owned()),
                    _ => m.note.clone(),
                };
                self.update_member(m, now, m.change_request_id.clone(), note).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    pub(crate) async fn update_member(
        &self,
        m: &mut RolloutMember,
        status: MemberStatus,
        cr: Option<domain::ChangeRequestId>,
        note: Option<String>,
    ) -> Result<(), ChangeError> {
        let mut next = m.clone();
        next.status = status;
        next.change_request_id = cr;
        next.note = note;
        next.stamp = m.stamp.next(&caller_of(&m.rollout_id).context(next.change_request_id.as_ref()));
        let mut tx = Tx::new();
        tx.put(&next, Cond::RevisionIs(m.stamp.revision), ChangeError::Conflict("member changed meanwhile".into()))?;
        tx.commit(self.table.as_ref()).await?;
        *m = next;
        Ok(())
    }

    /// Creates change requests for waiting members until `concurrency` are active. A tenant with
    /// a maintenance window that `now` is outside of waits for it (it stays `waiting`, and so
    /// does its wave), as the schedules do.
    async fn start_waiting(
        &self,
        rollout: &Rollout,
        members: &mut [RolloutMember],
        report: &mut AdvanceReport,
        now: DateTime<Utc>,
    ) -> Result<(), ChangeError> {
        let caller = caller_of(&rollout.id);
        let mut active = members.iter().filter(|m| m.status == MemberStatus::Running).count();
        for m in members.iter_mut().filter(|m| m.status == MemberStatus::Waiting) {
            if active >= rollout.concurrency as usize {
                break;
            }
            if let Some(t) = self.tenant_if_any(&m.tenant_id).await?
                && t.maintenance_window.as_ref().is_some_and(|w| !w.contains(now))
            {
                report.outside_window += 1;
                continue;
            }
            let why = match &rollout.reason {
                Some(r) => format!("rollout {} {}: {r}", rollout.id, rollout.wave_label()),
                None => format!("rollout {} {}", rollout.id, rollout.wave_label()),
            };
            let cmd = ChangeCreate {
                operation: rollout.operation,
                params: rollout.params.clone(),
                reason: Text::parse(&why).ok(),
            };
            let prepared = match self.prepare(&m.tenant_id, cmd, &caller).await {
                Ok(p) => p,
                Err(e @ (ChangeError::Conflict(_) | ChangeError::Invalid(_) | ChangeError::NotFound(_))) => {
                    self.update_member(m, MemberStatus::Skipped, None, Some(e.to_string())).await?;
                    report.skipped += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let cr_id = prepared.change_request().id.clone();
            let mut taken = m.clone();
            taken.status = MemberStatus::Running;
            taken.change_request_id = Some(cr_id.clone());
            taken.stamp = m.stamp.next(&caller.context(Some(&cr_id)));
            let write = WriteOp::put(taken.to_item()?, Cond::RevisionIs(m.stamp.revision));
            let prepared = prepared.with_write(write, ChangeError::Duplicate);
            match self.submit(prepared, None).await {
                Ok(_) | Err(ChangeError::Unavailable(_)) => {
                    // Unavailable: committed, but its workflow did not start, so it failed at
                    // once; the next call records that.
                    *m = taken;
                    active += 1;
                    report.started += 1;
                }
                // Another driver took this member first.
                Err(ChangeError::Duplicate) => return Ok(()),
                Err(ChangeError::Conflict(e)) => {
                    self.update_member(m, MemberStatus::Skipped, None, Some(e)).await?;
                    report.skipped += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// An alarm on a tenant of the rollout so far: a `mark_broken` change request holding it, or
    /// a tenant whose change succeeded now `Broken`. Names the tenant.
    async fn alarm_on(&self, rollout: &Rollout) -> Result<Option<String>, ChangeError> {
        let upto = layout::wave_prefix(rollout.current_wave + 1);
        let members: Vec<RolloutMember> = self
            .members(&rollout.id, layout::MEMBER_PREFIX)
            .await?
            .into_iter()
            .filter(|m| m.key().sk < upto && m.status != MemberStatus::Waiting)
            .collect();
        let keys: Vec<_> = members.iter().map(|m| layout::tenant_key(&m.tenant_id)).collect();
        let mut tenants = Vec::new();
        for item in self.table.batch_get(&keys).await?.into_iter().filter(|i| !layout::is_tombstone(i)) {
            tenants.push(domain::Tenant::from_item(item)?);
        }
        for t in &tenants {
            let succeeded = members.iter().any(|m| m.tenant_id == t.id && m.status == MemberStatus::Succeeded);
            if succeeded && t.state == TenantState::Broken {
                return Ok(Some(format!("tenant {} is Broken", t.id)));
            }
        }
        let holders: Vec<_> = tenants
            .iter()
            .filter_map(|t| t.active_change_request_id.as_ref())
            .filter(|cr| !members.iter().any(|m| m.change_request_id.as_ref() == Some(*cr)))
            .map(layout::change_request_key)
            .collect();
        if holders.is_empty() {
            return Ok(None);
        }
        for item in self.table.batch_get(&holders).await? {
            let cr = domain::TenantChangeRequest::from_item(item)?;
            if cr.operation == Operation::MarkBroken {
                return Ok(Some(format!("tenant {} is being marked broken ({})", cr.tenant_id, cr.id)));
            }
        }
        Ok(None)
    }
}
