//! Ending a running change request: the tenant goes where its plan says for the outcome and is
//! released, in one transaction with the fleet counters, the component versions of an upgrade
//! and the health run of a validating change. Finishing is idempotent (a change request that
//! already ended answers as it ended) and a lost race is read again and retried, so an edit of
//! the tenant meanwhile never fails it.

use chrono::Utc;
use domain::lifecycle::Step;
use domain::{
    Actor, ChangeRequestId, ChangeRequestStatus, HealthRun, HealthRunId, HealthVerdict, Stamp, StepStatus, SuiteResult,
    Tenant, TenantChangeRequest, TenantState, Text, WriteContext,
};
use serde::Serialize;
use serde_json::json;
use store::{Cond, Tx};

use crate::fleet::{count_in_fleet, moved};
use crate::retry::{self, Attempt};
use crate::{Caller, ChangeError, Changes, Held};

/// How a change request ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Succeeded,
    Failed {
        error: String,
    },
    /// It failed and its rollback worked: it ends `failed` (saying why, and that it was rolled
    /// back) with the tenant where the plan says a rolled-back failure ends.
    RolledBack {
        error: String,
    },
    /// Stopped by an admin: it ends `cancelled`.
    Aborted {
        by: Actor,
        reason: Text,
    },
}

/// Where a change request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Finished {
    pub status: ChangeRequestStatus,
    pub state: TenantState,
}

fn raced() -> ChangeError {
    ChangeError::Conflict("changed under its change request".into())
}

impl Changes {
    pub async fn finish(&self, id: &ChangeRequestId, caller: &Caller, ending: Ending) -> Result<Finished, ChangeError> {
        let finished = retry::on_conflict(|| async {
            let (cr, tenant) = self.read(id).await?;
            if !cr.status.is_active() {
                let state = tenant.map_or(TenantState::EndOfLife, |t| t.state);
                return Ok(Finished { status: cr.status, state });
            }
            let held = Held::check(cr, tenant)?;
            let tx = self.finish_writes(&held, caller, &ending).await?;
            let finished = Finished { status: tx.1, state: tx.2 };
            retry::committed(tx.0.commit(self.table.as_ref()).await)?;
            let mut ended = held.cr.clone();
            ended.status = finished.status;
            for line in crate::measure::ended(&ended, &ending, chrono::Utc::now()) {
                lambda_setup::emf::emit(&line.to_json());
            }
            Ok::<_, Attempt>(finished)
        })
        .await?;
        tracing::info!(change_request = %id, status = %finished.status, state = %finished.state, "change request finished");
        Ok(finished)
    }

    async fn finish_writes(
        &self,
        held: &Held,
        caller: &Caller,
        ending: &Ending,
    ) -> Result<(Tx<ChangeError>, ChangeRequestStatus, TenantState), ChangeError> {
        let plan = held.cr.plan().map_err(|e| ChangeError::Internal(e.to_string()))?;
        let ctx = caller.context(Some(&held.cr.id));
        let mut cr = held.cr.clone();
        let mut tenant = held.tenant.clone();
        tenant.active_change_request_id = None;
        let mut restored = Tx::new();
        let failed_state = plan.on_rollback_failure.map_or_else(|| plan.failure_state(), |e| e.resolve(plan.started));
        match ending {
            Ending::Succeeded => {
                tenant.state = plan.success_state();
                if cr.operation == domain::Operation::Terminate {
                    self.delete_standard_alarms(&tenant.id).await;
                }
                if let Some((release, writes)) = self.restored_writes(held, &ctx).await? {
                    tenant.release = release;
                    restored = writes;
                }
                cr.record_step("finish", StepStatus::Succeeded, Some(json!({ "state": tenant.state })), None, ctx.now);
                cr.succeed(ctx.now)?;
            }
            Ending::Failed { error } => {
                tenant.state = failed_state;
                cr.record_step(
                    "finish",
                    StepStatus::Failed,
                    Some(json!({ "state": tenant.state })),
                    Some(error.clone()),
                    ctx.now,
                );
                cr.fail(error, ctx.now)?;
            }
            Ending::RolledBack { error } => {
                tenant.state = plan.failure_state();
                let error = format!("{error}; rolled back to {}", tenant.release);
                cr.record_step(
                    "finish",
                    StepStatus::Failed,
                    Some(json!({ "state": tenant.state, "rolled_back": true })),
                    Some(error.clone()),
                    ctx.now,
                );
                cr.fail(&error, ctx.now)?;
            }
            Ending::Aborted { by, reason } => {
                tenant.state = failed_state;
                cr.record_step(
                    "finish",
                    StepStatus::Cancelled,
                    Some(json!({ "state": tenant.state })),
                    Some(format!("aborted by {}: {reason}", by.stamp())),
                    ctx.now,
                );
                cr.abort(by, reason.clone(), ctx.now)?;
            }
        }
        cr.stamp = held.cr.stamp.next(&ctx);
        tenant.stamp = held.tenant.stamp.next(&ctx);
        let mut tx = Tx::new();
        tx.put(&cr, Cond::RevisionIs(held.cr.stamp.revision), raced())?;
        tx.put(
            &tenant,
            Cond::All(vec![
                Cond::RevisionIs(held.tenant.stamp.revision),
                Cond::FieldIs("active_change_request_id".into(), json!(held.cr.id.as_str())),
            ]),
            raced(),
        )?;
        let moves = moved((held.tenant.state, &held.tenant.release), (tenant.state, &tenant.release));
        count_in_fleet(&mut tx, &moves, raced());
        if let Some(run) = health_run(&cr, &tenant, &ctx) {
            tx.put(&run, Cond::NotExists, raced())?;
        }
        tx.extend(self.built_writes(held, &ctx, matches!(ending, Ending::Succeeded)).await?);
        tx.extend(restored);
        Ok((tx, cr.status, tenant.state))
    }
}

/// The health run a validating change request made, from the suite steps of its last phase
/// (its rollback's when one ran suites, else its own; none when no suite ran, e.g. the work
/// before them failed). The suites planned that a failure kept from running show as `not_run`.
pub fn health_run(cr: &TenantChangeRequest, tenant: &Tenant, ctx: &WriteContext) -> Option<HealthRun> {
    let (own, rollback) = cr.phases();
    let is_suite = |s: &&Step| matches!(s, Step::Jenkins { suite: Some(_), .. });
    let phase = if rollback.iter().filter(is_suite).any(|s| cr.ran(s.name())) { rollback } else { own };
    let suites: Vec<(&str, &str)> = phase
        .iter()
        .filter_map(|s| match s {
            Step::Jenkins { name, suite: Some(suite), .. } => Some((name.as_str(), suite.as_str())),
            _ => None,
        })
        .collect();
    let ran = |name: &str| cr.steps.iter().rev().find(|s| s.name == name);
    if suites.iter().all(|(name, _)| ran(name).is_none()) {
        return None;
    }
    let results: Vec<SuiteResult> = suites
        .iter()
        .map(|(name, suite)| {
            let step = ran(name);
            let detail = step.and_then(|s| s.detail.as_ref());
            SuiteResult {
                suite: (*suite).to_owned(),
                result: detail
                    .and_then(|d| d.get("result").and_then(serde_json::Value::as_str))
                    .map_or_else(|| step.map_or("not_run".to_owned(), |s| s.status.to_string()), str::to_owned),
                build_url: detail
                    .and_then(|d| d.get("build_url").and_then(serde_json::Value::as_str))
                    .map(str::to_owned),
            }
        })
        .collect();
    let passed = results.iter().all(|r| r.result == "SUCCESS");
    Some(HealthRun {
        id: HealthRunId::generate(),
        tenant_id: tenant.id.clone(),
        change_request_id: cr.id.clone(),
        release: tenant.release.clone(),
        verdict: if passed { HealthVerdict::Passed } else { HealthVerdict::Failed },
        suites: results,
        finished_at: Utc::now(),
        stamp: Stamp::first(ctx),
    })
}

impl Changes {
    /// The release of last resort, for when [`Changes::finish`] itself failed: ends the change
    /// request failed and frees its tenant with nothing else (no health run, no components),
    /// and when even its plan cannot be read the tenant goes to `Broken`, so it is never left
    /// held.
    pub async fn release_failed(
        &self,
        id: &ChangeRequestId,
        caller: &Caller,
        error: &str,
    ) -> Result<Finished, ChangeError> {
        retry::on_conflict(|| async {
            let (cr, tenant) = self.read(id).await?;
            let Some(tenant) = tenant else {
                return Err(Attempt::Final(ChangeError::Internal(format!("change request {id} names no tenant"))));
            };
            if !cr.status.is_active() {
                return Ok(Finished { status: cr.status, state: tenant.state });
            }
            if cr.status != ChangeRequestStatus::Running {
                // Only a running change request has a failure path to fall back from.
                return Err(Attempt::Final(ChangeError::Conflict(format!(
                    "change request {id} is {}, not running",
                    cr.status
                ))));
            }
            let ctx = caller.context(Some(id));
            let state = cr
                .plan()
                .map(|p| p.on_rollback_failure.map_or_else(|| p.failure_state(), |e| e.resolve(p.started)))
                .unwrap_or(TenantState::Broken);
            let mut failed = cr.clone();
            failed.fail(error, ctx.now)?;
            failed.stamp = cr.stamp.next(&ctx);
            let mut tx = Tx::new();
            tx.put(&failed, Cond::RevisionIs(cr.stamp.revision), raced())?;
            let mut finished = Finished { status: ChangeRequestStatus::Failed, state: tenant.state };
            if cr.holds(&tenant) {
                let mut released = tenant.clone();
                released.active_change_request_id = None;
                released.state = state;
                released.stamp = tenant.stamp.next(&ctx);
                tx.put(&released, Cond::RevisionIs(tenant.stamp.revision), raced())?;
                count_in_fleet(&mut tx, &moved((tenant.state, &tenant.release), (state, &tenant.release)), raced());
                finished.state = state;
            }
            retry::committed(tx.commit(self.table.as_ref()).await)?;
            Ok(finished)
        })
        .await
    }
}
