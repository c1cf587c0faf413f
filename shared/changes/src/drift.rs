//! Drift: a tenant's box read through its Update Manager ([`UpdateManager`]) and compared with
//! what the registry records (`domain::drift`), the result kept as the tenant's last check
//! (`TENANT#<id>` / `DRIFT`, listed under `TENANTS#DRIFTED` while it differs). The `drift`
//! schedule checks every running tenant that no change request holds; a check never changes a
//! record. Two change requests act on it: `adopt_drift` writes the live values as the record,
//! `reapply_recorded` has the box install the record again and reads it back.

use chrono::{DateTime, Utc};
use domain::drift::{Drifted, Running, compare};
use domain::schedule::Schedule;
use domain::{
    ChangeRequestId, ComponentName, ComponentVersionLabel, ConfigKey, ConfigValue, DriftReport, Source, Stamp,
    StepStatus, Tenant, TenantId, TenantState,
};
use engine::{UpdateManager, UpdateManagerError};
use serde::Serialize;
use serde_json::json;
use store::layout::{self, Record};
use store::{Cond, Index, Item, Query, WriteOp};

use crate::retry::{self, Attempt};
use crate::{Advance, Caller, ChangeError, Changes, Held, Pace};

/// The states whose tenants' boxes run the product, hence are checked for drift.
pub const CHECKED_STATES: [TenantState; 4] =
    [TenantState::Healthy, TenantState::Maintenance, TenantState::Suspended, TenantState::Broken];

/// At most this many differences are adopted by one change request (one transaction).
pub const MAX_ADOPTED: usize = 90;

/// What one run of the `drift` schedule did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DriftRunReport {
    pub schedule: String,
    pub slot: String,
    /// Tenants read in the checked states.
    pub considered: usize,
    /// Tenants whose box was read and compared.
    pub checked: usize,
    /// Of those, the ones whose box differs from the record.
    pub drifted: usize,
    /// Tenants a change request holds: their box is changing, so it is read on the next run.
    pub busy: usize,
    /// Tenants whose box could not be read or whose check was not written: the next run retries.
    pub failed: usize,
}

/// One page of the tenants whose last check found drift.
#[derive(Debug, Clone, PartialEq)]
pub struct DriftPage {
    pub reports: Vec<DriftReport>,
    pub last_key: Option<Item>,
}

fn from_port(e: UpdateManagerError) -> ChangeError {
    match e {
        UpdateManagerError::Unavailable(m) => ChangeError::Unavailable(format!("the tenant's Update Manager: {m}")),
        UpdateManagerError::Refused(m) => ChangeError::Conflict(format!("the tenant's Update Manager refused: {m}")),
    }
}

/// The differences, as one line: `component webapp runs 4.3.0 (recorded 4.2.0); …`.
pub fn describe(drifted: &[Drifted]) -> String {
    let side = |v: &Option<serde_json::Value>| v.as_ref().map_or_else(|| "nothing".to_owned(), |v| v.to_string());
    drifted
        .iter()
        .map(|d| {
            let kind = match d.kind {
                domain::drift::DriftKind::Component => "component",
                domain::drift::DriftKind::Config => "config",
            };
            format!("{kind} {} runs {} (recorded {})", d.name, side(&d.live), side(&d.recorded))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl Changes {
    /// The last drift check of a tenant, if it was ever checked.
    pub async fn drift_report(&self, tenant: &TenantId) -> Result<Option<DriftReport>, ChangeError> {
        match self.table.get(&layout::drift_key(tenant)).await? {
            Some(item) if !layout::is_tombstone(&item) => Ok(Some(DriftReport::from_item(item)?)),
            _ => Ok(None),
        }
    }

    /// One page of the tenants whose last check found drift, by tenant id (`Query gsi2`).
    pub async fn drifted_tenants(&self, limit: u32, start: Option<Item>) -> Result<DriftPage, ChangeError> {
        let q = Query::new(Some(Index::Gsi2), layout::DRIFTED_TENANTS.to_owned()).limit(limit).start(start);
        let page = self.table.query(&q).await?;
        let reports = page
            .items
            .into_iter()
            .filter(|i| !layout::is_tombstone(i))
            .map(|i| DriftReport::from_item(i).map_err(ChangeError::from))
            .collect::<Result<_, _>>()?;
        Ok(DriftPage { reports, last_key: page.last_key })
    }

    /// What the registry records of a tenant as the box would run it (components, plain configs).
    pub async fn recorded_running(&self, tenant: &TenantId) -> Result<Running, ChangeError> {
        let (components, configs) = self.recorded_sets(tenant).await?;
        Ok(Running::recorded(&components, &configs))
    }

    async fn recorded_sets(
        &self,
        tenant: &TenantId,
    ) -> Result<
        (
            std::collections::BTreeMap<ComponentName, ComponentVersionLabel>,
            std::collections::BTreeMap<ConfigKey, ConfigValue>,
        ),
        ChangeError,
    > {
        let (components, configs) = self.snapshot(tenant).await?;
        Ok((
            components.into_iter().map(|(n, c)| (n, c.version)).collect(),
            configs.into_values().filter_map(|c| c.as_value().map(|v| (c.key, v))).collect(),
        ))
    }

    /// Reads the tenant's box, compares it with the record and keeps the result as its last
    /// check (stamped by `caller`, under change request `cr` when one checks); answers it.
    pub async fn check_drift(
        &self,
        manager: &dyn UpdateManager,
        tenant: &Tenant,
        caller: &Caller,
        cr: Option<&ChangeRequestId>,
    ) -> Result<DriftReport, ChangeError> {
        let reported = manager.running(&tenant.id).await.map_err(from_port)?;
        let (running, ignored) = Running::read(reported);
        let (components, configs) = self.recorded_sets(&tenant.id).await?;
        let drifted = compare(&components, &configs, &running);
        let ctx = caller.context(cr);
        let before = self.drift_report(&tenant.id).await?;
        let report = DriftReport {
            tenant_id: tenant.id.clone(),
            checked_at: ctx.now,
            release: tenant.release.clone(),
            drifted,
            ignored,
            running,
            stamp: before.as_ref().map_or_else(|| Stamp::first(&ctx), |b| b.stamp.next(&ctx)),
        };
        // The last check wins: two checks racing both read the box.
        self.table.write(vec![WriteOp::put(report.to_item()?, Cond::Always)]).await?;
        if report.is_drifted() {
            tracing::warn!(tenant = %tenant.id, differences = report.drifted.len(), drift = %describe(&report.drifted),
                "the box differs from its record");
        }
        Ok(report)
    }

    /// One run of the `drift` schedule at `at`: every tenant in a checked state that no change
    /// request holds has its box read, at most one per `pace`.
    pub async fn check_fleet_drift(
        &self,
        manager: &dyn UpdateManager,
        at: DateTime<Utc>,
        pace: Pace,
    ) -> Result<DriftRunReport, ChangeError> {
        let caller = Caller::system(&format!("schedule:{}", Schedule::Drift), Source::Schedule);
        let mut report = DriftRunReport {
            schedule: Schedule::Drift.to_string(),
            slot: Schedule::Drift.slot(at),
            ..Default::default()
        };
        let mut ticks = pace.ticker();
        let mut tenants = self.tenants_in(&CHECKED_STATES);
        while let Some(page) = tenants.next_page().await? {
            for tenant in page {
                report.considered += 1;
                if tenant.active_change_request_id.is_some() {
                    report.busy += 1;
                    continue;
                }
                ticks.tick().await;
                match self.check_drift(manager, &tenant, &caller, None).await {
                    Ok(r) => {
                        report.checked += 1;
                        report.drifted += usize::from(r.is_drifted());
                    }
                    Err(e) => {
                        tracing::warn!(tenant = %tenant.id, error = %e, "drift: the box was not checked");
                        report.failed += 1;
                    }
                }
            }
        }
        tracing::info!(slot = %report.slot, considered = report.considered, checked = report.checked,
            drifted = report.drifted, busy = report.busy, failed = report.failed, "drift");
        Ok(report)
    }

    /// Refuses an `adopt_drift` for a tenant whose last check found nothing to adopt.
    pub(crate) async fn check_adoptable(&self, tenant: &TenantId) -> Result<(), ChangeError> {
        let report = self.drift_report(tenant).await?;
        match report {
            Some(r) if r.drifted.len() > MAX_ADOPTED => Err(ChangeError::Conflict(format!(
                "tenant {tenant} has {} differences; at most {MAX_ADOPTED} are adopted by one change request",
                r.drifted.len()
            ))),
            Some(r) if r.is_drifted() => Ok(()),
            Some(r) => Err(ChangeError::Conflict(format!(
                "tenant {tenant}'s box ran what is recorded when it was last checked ({}): there is no drift to adopt",
                r.checked_at
            ))),
            None => Err(ChangeError::Conflict(format!(
                "tenant {tenant} was never checked for drift (GET /v1/tenants/{tenant}/drift): there is nothing to adopt"
            ))),
        }
    }

    /// The step `step` of an `adopt_drift`: what the last check read from the box becomes the
    /// record where it differed (a component or config the box lacks is deleted; a secret is
    /// never touched), and the check then reports no drift; one transaction with the change
    /// request. A step that succeeded writes nothing.
    pub async fn adopt_drift(&self, id: &ChangeRequestId, caller: &Caller, step: &str) -> Result<(), ChangeError> {
        let adopted = retry::on_conflict(|| async {
            let held = self.held(id).await?;
            if held.cr.succeeded(step) {
                return Ok(0);
            }
            let Some(report) = self.drift_report(&held.tenant.id).await? else {
                return Err(Attempt::from(ChangeError::Conflict(format!(
                    "tenant {} has no drift check to adopt",
                    held.tenant.id
                ))));
            };
            let ctx = caller.context(Some(id));
            let (mut components, mut configs) = self.recorded_sets(&held.tenant.id).await?;
            let adoption = report.adoption();
            for (name, live) in &adoption.components {
                match live {
                    Some(v) => components.insert(name.clone(), v.clone()),
                    None => components.remove(name),
                };
            }
            for (key, live) in &adoption.configs {
                match live {
                    Some(v) => configs.insert(key.clone(), ConfigValue::Plain(v.clone())),
                    None => configs.remove(key),
                };
            }
            let mut tx = self.write_back(&held, &components, Some(&configs), &ctx).await?;
            let mut adopted_report = report.clone();
            adopted_report.drifted.clear();
            adopted_report.stamp = report.stamp.next(&ctx);
            tx.put(
                &adopted_report,
                Cond::RevisionIs(report.stamp.revision),
                ChangeError::Conflict("the drift check changed meanwhile".into()),
            )?;
            let mut cr = held.cr.clone();
            let n = report.drifted.len();
            cr.record_step(
                step,
                StepStatus::Succeeded,
                Some(json!({ "adopted": n, "checked_at": report.checked_at })),
                None,
                ctx.now,
            );
            cr.stamp = held.cr.stamp.next(&ctx);
            tx.put(
                &cr,
                Cond::RevisionIs(held.cr.stamp.revision),
                ChangeError::Conflict("change request raced".into()),
            )?;
            retry::committed(tx.commit(self.table.as_ref()).await)?;
            Ok::<usize, Attempt>(n)
        })
        .await?;
        tracing::info!(change_request = %id, adopted, "drift adopted as the record");
        Ok(())
    }

    /// The step `step` of a `reapply_recorded`: the tenant's Update Manager installs the
    /// recorded components and plain configs (the same install again is the same install).
    pub async fn reapply_recorded(
        &self,
        manager: &dyn UpdateManager,
        id: &ChangeRequestId,
        caller: &Caller,
        step: &str,
    ) -> Result<(), ChangeError> {
        let held = self.held(id).await?;
        if held.cr.succeeded(step) {
            return Ok(());
        }
        let wanted = self.recorded_running(&held.tenant.id).await?;
        manager.apply(&held.tenant.id, &wanted).await.map_err(from_port)?;
        let detail = json!({ "components": wanted.components.len(), "configs": wanted.configs.len() });
        self.record_done(id, caller, step, detail).await?;
        tracing::info!(change_request = %id, "the record was installed on the box again");
        Ok(())
    }

    /// The step `step` that reads the box back after an install: the check is kept as the
    /// tenant's last; it answers the differences left (none: the step succeeded).
    pub async fn verify_no_drift(
        &self,
        manager: &dyn UpdateManager,
        id: &ChangeRequestId,
        caller: &Caller,
        step: &str,
    ) -> Result<Vec<Drifted>, ChangeError> {
        let held = self.held(id).await?;
        if held.cr.succeeded(step) {
            return Ok(Vec::new());
        }
        let report = self.check_drift(manager, &held.tenant, caller, Some(id)).await?;
        if report.is_drifted() {
            return Ok(report.drifted);
        }
        self.record_done(id, caller, step, json!({ "drifted": 0, "checked_at": report.checked_at })).await?;
        Ok(Vec::new())
    }

    async fn record_done(
        &self,
        id: &ChangeRequestId,
        caller: &Caller,
        step: &str,
        detail: serde_json::Value,
    ) -> Result<(), ChangeError> {
        self.advance(id, caller, |held: &Held| {
            if held.cr.succeeded(step) {
                return Ok(Advance::Done(()));
            }
            let mut cr = held.cr.clone();
            cr.record_step(step, StepStatus::Succeeded, Some(detail.clone()), None, Utc::now());
            Ok(Advance::Write { cr, state: None, answer: () })
        })
        .await
    }
}
