//! Metering: the `metering` schedule reads each running tenant's usage through the
//! [`UpdateManager`] port and keeps it as a time series under the tenant (`METER#<slot>`), once per
//! tenant and slot (a run delivered twice writes nothing new); a tenant's samples over a window
//! and a customer's month are `Query`s on those items.

use chrono::{DateTime, Utc};
use domain::metering::{MeterRollup, MeterWindow, Month, rollup};
use domain::schedule::Schedule;
use domain::{CustomerId, MeterSample, Source, Tenant, TenantId, TenantState};
use engine::UpdateManager;
use serde::Serialize;
use store::layout::{self, Record};
use store::{Cond, Query, StoreError, WriteOp};

use crate::{Caller, ChangeError, Changes, Pace};

/// The states whose tenants run the product, hence are metered.
pub const METERED_STATES: [TenantState; 7] = [
    TenantState::Healthy,
    TenantState::Maintenance,
    TenantState::BackingUp,
    TenantState::Restoring,
    TenantState::InTesting,
    TenantState::Suspended,
    TenantState::Broken,
];

/// What one run of the `metering` schedule did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MeteringReport {
    pub schedule: String,
    pub slot: String,
    /// Tenants read in the metered states.
    pub considered: usize,
    /// Samples written.
    pub collected: usize,
    /// Tenants whose sample of this slot was there already (a redelivery).
    pub duplicates: usize,
    /// Tenants whose usage could not be read or written: a run again retries them.
    pub failed: usize,
}

impl Changes {
    /// One run of the `metering` schedule at `at`: a sample per metered tenant for the slot (the
    /// UTC day) `at` falls in, read at most one per `pace`.
    pub async fn collect_usage(
        &self,
        source: &dyn UpdateManager,
        at: DateTime<Utc>,
        pace: Pace,
    ) -> Result<MeteringReport, ChangeError> {
        let slot_at = Schedule::day_start(at);
        let caller = Caller::system(&format!("schedule:{}", Schedule::Metering), Source::Schedule);
        let mut report = MeteringReport {
            schedule: Schedule::Metering.to_string(),
            slot: Schedule::Metering.slot(at),
            ..Default::default()
        };
        let mut ticks = pace.ticker();
        let mut tenants = self.tenants_in(&METERED_STATES);
        while let Some(page) = tenants.next_page().await? {
            for tenant in page {
                report.considered += 1;
                ticks.tick().await;
                self.meter_one(source, &tenant, slot_at, &caller, &mut report).await;
            }
        }
        tracing::info!(slot = %report.slot, considered = report.considered, collected = report.collected,
            duplicates = report.duplicates, failed = report.failed, "metering");
        Ok(report)
    }

    async fn meter_one(
        &self,
        source: &dyn UpdateManager,
        tenant: &Tenant,
        slot_at: DateTime<Utc>,
        caller: &Caller,
        report: &mut MeteringReport,
    ) {
        let key = layout::meter_key(&tenant.id, &slot_at);
        match self.table.get(&key).await {
            Ok(Some(_)) => {
                report.duplicates += 1;
                return;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, error = %e, "metering: the store did not answer");
                report.failed += 1;
                return;
            }
        }
        let usage = match source.usage(&tenant.id).await {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, error = %e, "metering: no usage read");
                report.failed += 1;
                return;
            }
        };
        let sample = MeterSample::new(tenant.id.clone(), slot_at, usage, &caller.context(None));
        let write = match sample.to_item() {
            Ok(item) => WriteOp::put(item, Cond::NotExists),
            Err(e) => {
                tracing::error!(tenant = %tenant.id, error = %e, "metering: a sample that does not serialize");
                report.failed += 1;
                return;
            }
        };
        match self.table.write(vec![write]).await {
            Ok(()) => report.collected += 1,
            Err(StoreError::ConditionFailed { .. }) => report.duplicates += 1,
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, error = %e, "metering: the sample was not written");
                report.failed += 1;
            }
        }
    }

    /// A tenant's samples over the window, oldest first (`Query` pk, sk between).
    pub async fn meter_series(&self, tenant: &TenantId, window: &MeterWindow) -> Result<Vec<MeterSample>, ChangeError> {
        let from = format!("{}{}", layout::METER_PREFIX, layout::sortable_time(&window.from));
        let to = format!("{}{}", layout::METER_PREFIX, layout::sortable_time(&window.to));
        self.samples(Query::new(None, layout::tenant_partition(tenant)).between(from, to)).await
    }

    /// A customer's month: each of its tenants' samples of the month (`Query` pk,
    /// `begins_with(sk, METER#<YYYY-MM>-)`), rolled up.
    pub async fn meter_rollup(&self, customer: &CustomerId, month: Month) -> Result<MeterRollup, ChangeError> {
        let mut tenants = Vec::new();
        for t in self.tenants_of_customer(customer).await? {
            let prefix = format!("{}{}-", layout::METER_PREFIX, month.as_string());
            let samples = self.samples(Query::new(None, layout::tenant_partition(&t.id)).prefix(prefix)).await?;
            tenants.push((t.id, samples));
        }
        Ok(rollup(customer.clone(), month, tenants))
    }

    async fn samples(&self, query: Query) -> Result<Vec<MeterSample>, ChangeError> {
        let mut samples = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(&query.clone().limit(400).start(start)).await?;
            for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                samples.push(MeterSample::from_item(item)?);
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => return Ok(samples),
            }
        }
    }
}

#[cfg(test)]
mod tests;
