//! Licenses and their customers' tenants (seed recipes 1 and 2): an assignment that becomes
//! active or changes license starts `activate_license` on each of the customer's tenants, one
//! that stops being active (revoked, suspended, expired) starts `suspend`; the `licenses`
//! schedule finds the active assignments past their expiry with a `Query` on the sparse
//! expiring index, suspends their tenants (actor `schedule:licenses`) and marks them `expired`.
//! Each change of an assignment starts its change requests once: a guard per assignment
//! revision and tenant, so a repeat (or the schedule run twice) creates nothing new. An upgrade
//! to a release none of the customer's active licenses covers is refused.

use chrono::{DateTime, Duration, Utc};
use domain::lifecycle::rule;
use domain::schedule::Schedule;
use domain::{
    AssignmentId, AssignmentStatus, ChangeParams, CustomerId, License, LicenseAssignment, LicenseChanges,
    LicenseEffect, LicenseSkip, LicenseSkipped, LicenseStarted, Operation, ReleaseVersion, Source, Tenant, Text,
};
use serde::Serialize;
use store::layout::{self, Record};
use store::{Cond, Index, Query, WriteOp};

use crate::{Caller, ChangeCreate, ChangeError, Changes};

/// The most days ahead the expiring report looks.
pub const MAX_EXPIRING_DAYS: u32 = 365;

/// What one run of the `licenses` schedule did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpiryReport {
    pub schedule: String,
    pub slot: String,
    /// Assignments marked `expired` (every tenant of theirs suspended or left alone by state).
    pub expired: Vec<AssignmentId>,
    /// Assignments past their expiry kept `active` because a tenant was busy or a create
    /// failed: the next run tries again (and creates only what this one did not).
    pub pending: Vec<AssignmentId>,
    /// The change requests each started.
    pub changes: Vec<LicenseChanges>,
}

/// The last `gsi3sk` instant the expiring report reads: the end of the UTC day `days` from `now`
/// (a whole day, so a `next_token` holds all day).
pub fn expiring_until(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    Schedule::day_start(now + Duration::days(i64::from(days))) + Duration::days(1) - Duration::seconds(1)
}

/// The query of the active assignments expiring at or before `until` (overdue ones first).
pub fn expiring_query(until: &DateTime<Utc>) -> Query {
    Query::new(Some(Index::Gsi3), layout::EXPIRING_ASSIGNMENTS).between("0", layout::expiring_until(until))
}

impl Changes {
    /// An assignment; `NotFound` when there is none.
    pub async fn assignment(&self, id: &AssignmentId) -> Result<LicenseAssignment, ChangeError> {
        self.find(&layout::assignment_key(id))
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("no license assignment {id}")))
    }

    /// An assignment that is active (what an `activate_license` installs); refused naming
    /// `params.assignment_id` otherwise.
    pub async fn active_assignment(&self, id: &AssignmentId) -> Result<LicenseAssignment, ChangeError> {
        let a = self.find::<LicenseAssignment>(&layout::assignment_key(id)).await?;
        match a {
            Some(a) if a.status == AssignmentStatus::Active => Ok(a),
            Some(a) => Err(ChangeError::invalid(
                "params.assignment_id",
                format!("license assignment {id} is {}, not active", a.status.as_str()),
            )),
            None => Err(ChangeError::invalid("params.assignment_id", format!("no license assignment {id}"))),
        }
    }

    /// What the change of an assignment from `before` (none: just created) to `after` asks of
    /// its customer's tenants, started as `caller`: `None` when it asks nothing.
    pub async fn apply_license_change(
        &self,
        before: Option<&LicenseAssignment>,
        after: &LicenseAssignment,
        caller: &Caller,
    ) -> Result<Option<LicenseChanges>, ChangeError> {
        let op = match after.effect_since(before) {
            None => return Ok(None),
            Some(LicenseEffect::Activate) => Operation::ActivateLicense,
            Some(LicenseEffect::Suspend) => Operation::Suspend,
        };
        Ok(Some(self.license_fan_out(after, op, caller).await?))
    }

    /// `op` on each tenant of the assignment's customer whose state allows it, once per
    /// assignment revision and tenant; the others are reported with why.
    async fn license_fan_out(
        &self,
        a: &LicenseAssignment,
        op: Operation,
        caller: &Caller,
    ) -> Result<LicenseChanges, ChangeError> {
        let mut report = LicenseChanges::new(a.id.clone(), op);
        for tenant in self.tenants_of_customer(&a.customer_id).await? {
            let skip = |reason| LicenseSkipped { tenant_id: tenant.id.clone(), state: tenant.state, reason };
            if !rule(op).from.contains(&tenant.state) {
                report.skipped.push(skip(LicenseSkip::State));
                continue;
            }
            let once = crate::once::guard(caller, &format!("license:{}@{}#{}", a.id, a.stamp.revision, tenant.id));
            if tenant.active_change_request_id.is_some() {
                // Held by this change's own change request (an earlier run's), or by another.
                let ours = self.table.get(&once.key).await?.is_some();
                report.skipped.push(skip(if ours { LicenseSkip::AlreadyStarted } else { LicenseSkip::Busy }));
                continue;
            }
            let (params, why) = match op {
                Operation::ActivateLicense => (
                    ChangeParams { assignment_id: Some(a.id.clone()), ..Default::default() },
                    format!("license {} assigned (assignment {})", a.license_id, a.id),
                ),
                _ => (ChangeParams::default(), format!("license assignment {} is {}", a.id, a.status.as_str())),
            };
            let cmd = ChangeCreate { operation: op, params, reason: Text::parse(&why).ok() };
            match self.create(&tenant.id, cmd, caller, Some(once)).await {
                Ok(cr) => {
                    report.started.push(LicenseStarted { tenant_id: tenant.id.clone(), change_request_id: cr.id })
                }
                Err(ChangeError::Duplicate) => report.skipped.push(skip(LicenseSkip::AlreadyStarted)),
                Err(ChangeError::Conflict(_)) => report.skipped.push(skip(LicenseSkip::Busy)),
                Err(e) => {
                    tracing::warn!(tenant = %tenant.id, assignment = %a.id, operation = %op, error = %e,
                        "a license's change request could not be created");
                    report.skipped.push(skip(LicenseSkip::Failed));
                }
            }
        }
        tracing::info!(assignment = %a.id, operation = %op, started = report.started.len(),
            skipped = report.skipped.len(), "license change fan-out");
        Ok(report)
    }

    /// Every tenant of a customer (`Query` gsi3, page by page).
    pub async fn tenants_of_customer(&self, id: &CustomerId) -> Result<Vec<Tenant>, ChangeError> {
        let mut tenants = Vec::new();
        let mut start = None;
        loop {
            let q = Query::new(Some(Index::Gsi3), layout::tenants_of_customer(id)).limit(100).start(start);
            let page = self.table.query(&q).await?;
            for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                tenants.push(Tenant::from_item(item)?);
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => return Ok(tenants),
            }
        }
    }

    /// One run of the `licenses` schedule at `at`: each active assignment past its expiry has
    /// its customer's tenants suspended (actor `schedule:licenses`), then is marked `expired`
    /// (which takes it out of the expiring index), unless a tenant was busy or a create failed.
    pub async fn expire_licenses(&self, at: DateTime<Utc>) -> Result<ExpiryReport, ChangeError> {
        let caller = Caller::system(&format!("schedule:{}", Schedule::Licenses), Source::Schedule);
        let mut report = ExpiryReport {
            schedule: Schedule::Licenses.to_string(),
            slot: Schedule::Licenses.slot(at),
            ..Default::default()
        };
        let mut due = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(&expiring_query(&at).limit(100).start(start)).await?;
            for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                let a = LicenseAssignment::from_item(item)?;
                if a.expired_at(at) {
                    due.push(a);
                }
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        for a in due {
            let changes = self.license_fan_out(&a, Operation::Suspend, &caller).await?;
            let held = changes.skipped.iter().any(|s| matches!(s.reason, LicenseSkip::Busy | LicenseSkip::Failed));
            if held {
                report.pending.push(a.id.clone());
            } else {
                let mut expired = a.clone();
                expired.status = AssignmentStatus::Expired;
                expired.stamp = a.stamp.next(&caller.context(None));
                let write = WriteOp::put(expired.to_item()?, Cond::RevisionIs(a.stamp.revision));
                match self.table.write(vec![write]).await {
                    Ok(()) => report.expired.push(a.id.clone()),
                    // Changed meanwhile (an admin's edit): the next run reads it again.
                    Err(store::StoreError::ConditionFailed { .. }) => report.pending.push(a.id.clone()),
                    Err(e) => return Err(e.into()),
                }
            }
            report.changes.push(changes);
        }
        tracing::info!(slot = %report.slot, expired = report.expired.len(), pending = report.pending.len(),
            "licenses schedule");
        Ok(report)
    }

    /// Refuses an upgrade of `tenant` to `v` when its customer holds active licenses and none
    /// of them covers `v` (naming them); a customer with no active license is not bounded.
    pub(crate) async fn check_license_covers(&self, tenant: &Tenant, v: &ReleaseVersion) -> Result<(), ChangeError> {
        let Some(licenses) = self.licenses_not_covering(&tenant.customer_id, v).await? else { return Ok(()) };
        let named: Vec<String> = licenses
            .iter()
            .map(|l| match &l.max_release {
                Some(max) => format!("{} ({}, up to {max})", l.name, l.id),
                None => format!("{} ({})", l.name, l.id),
            })
            .collect();
        Err(ChangeError::invalid(
            "params.release",
            format!("release {v} is not covered by the customer's license: {}", named.join(", ")),
        ))
    }

    /// The customer's active licenses when it has some and none covers `v`; `None` when the
    /// upgrade is licensed (or nothing bounds it).
    pub async fn licenses_not_covering(
        &self,
        customer: &CustomerId,
        v: &ReleaseVersion,
    ) -> Result<Option<Vec<License>>, ChangeError> {
        let licenses = self.active_licenses(customer).await?;
        Ok((!licenses.is_empty() && !licenses.iter().any(|l| l.covers(v))).then_some(licenses))
    }

    /// The licenses of a customer's active assignments (one `Query`, one `BatchGetItem`).
    pub async fn active_licenses(&self, customer: &CustomerId) -> Result<Vec<License>, ChangeError> {
        let q = Query::new(Some(Index::Gsi1), layout::assignments_of_customer(customer))
            .filter("status", serde_json::json!("active"))
            .limit(100);
        let page = self.table.query(&q).await?;
        let mut keys: Vec<store::Key> = Vec::new();
        for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
            let a = LicenseAssignment::from_item(item)?;
            let key = layout::license_key(&a.license_id);
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let items = self.table.batch_get(&keys).await?;
        items
            .into_iter()
            .filter(|i| !layout::is_tombstone(i))
            .map(|i| License::from_item(i).map_err(Into::into))
            .collect()
    }
}

#[cfg(test)]
mod tests;
