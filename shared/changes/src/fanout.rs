//! A schedule's run over the fleet: the tenants in the states its operation starts from, read
//! with one `Query` per state on the tenants-by-state index (never a `Scan`), each checked
//! against its own settings ([`ScheduleName::eligible`]: not opted out, unheld, inside its
//! window), and a change request created for each eligible one at a bounded rate, with actor
//! `schedule:<name>` and a once-only guard per slot and tenant: a run delivered twice for the
//! same slot creates nothing new.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::lifecycle::rule;
use domain::schedule::{HeldBack, ScheduleName};
use domain::{ChangeParams, Source, Tenant, Text};
use serde::Serialize;
use store::layout::{self, Record};
use store::{Index, Query};

use crate::{Caller, ChangeCreate, ChangeError, Changes};

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FanOutReport {
    pub schedule: String,
    pub slot: String,
    /// Tenants read in the states the operation starts from.
    pub considered: usize,
    /// Change requests created.
    pub created: usize,
    /// Eligible, but this slot's change request was created already (a redelivery).
    pub duplicates: usize,
    /// Left alone, by reason.
    pub held_back: BTreeMap<HeldBack, usize>,
    /// Creates that failed (the store or Step Functions did not answer): a run again retries them.
    pub failed: usize,
    /// `Query` pages read.
    pub pages: usize,
}

/// How fast a run creates change requests: at most one per `every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    pub every: Duration,
}

impl Pace {
    pub fn per_second(n: u32) -> Self {
        Self { every: Duration::from_secs(1) / n.max(1) }
    }

    /// A tick per call at this pace; a late tick delays the next ones rather than bursting.
    pub fn ticker(self) -> tokio::time::Interval {
        let mut ticks = tokio::time::interval(self.every.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks
    }
}

impl Changes {
    /// Every tenant in `states`, a page at a time (`TenantsIn::next_page`).
    pub(crate) fn tenants_in<'a>(&'a self, states: &'a [domain::TenantState]) -> TenantsIn<'a> {
        TenantsIn { changes: self, states, start: None, pages: 0 }
    }

    /// One run of `schedule` at `at` (its slot is [`ScheduleName::slot`] of it).
    pub async fn fan_out(
        &self,
        schedule: ScheduleName,
        at: DateTime<Utc>,
        pace: Pace,
    ) -> Result<FanOutReport, ChangeError> {
        let op = schedule.operation();
        let slot = schedule.slot(at);
        let caller = Caller::system(&format!("schedule:{schedule}"), Source::Schedule);
        let mut report = FanOutReport { schedule: schedule.to_string(), slot: slot.clone(), ..Default::default() };
        let mut ticks = pace.ticker();
        let mut tenants = self.tenants_in(rule(op).from);
        while let Some(page) = tenants.next_page().await? {
            for tenant in page {
                report.considered += 1;
                if let Err(why) = schedule.eligible(&tenant, at) {
                    *report.held_back.entry(why).or_default() += 1;
                    continue;
                }
                ticks.tick().await;
                self.create_scheduled(&tenant, schedule, &slot, &caller, &mut report).await;
            }
        }
        report.pages = tenants.pages;
        tracing::info!(
            schedule = %schedule, slot = %slot, considered = report.considered, created = report.created,
            duplicates = report.duplicates, held_back = ?report.held_back, failed = report.failed, "schedule fan-out"
        );
        lambda_setup::emf::emit(&crate::measure::fanned_out(&report.schedule, report.created, Utc::now()).to_json());
        Ok(report)
    }

    async fn create_scheduled(
        &self,
        tenant: &Tenant,
        schedule: ScheduleName,
        slot: &str,
        caller: &Caller,
        report: &mut FanOutReport,
    ) {
        let cmd = ChangeCreate {
            operation: schedule.operation(),
            params: ChangeParams::default(),
            reason: Text::parse(&format!("scheduled {schedule} ({slot})")).ok(),
        };
        let once = crate::once::guard(caller, &format!("{slot}#{}", tenant.id));
        match self.create(&tenant.id, cmd, caller, Some(once)).await {
            Ok(_) => report.created += 1,
            Err(ChangeError::Duplicate) => report.duplicates += 1,
            // Claimed or moved since it was read.
            Err(ChangeError::Conflict(_)) => *report.held_back.entry(HeldBack::Busy).or_default() += 1,
            Err(e) => {
                tracing::warn!(tenant = %tenant.id, schedule = %schedule, error = %e, "a scheduled change request failed");
                report.failed += 1;
            }
        }
    }
}

/// A walk over the tenants in some states: each state's tenants read 100 at a time with
/// `Query gsi2` (never a `Scan`), one state after the other.
pub(crate) struct TenantsIn<'a> {
    changes: &'a Changes,
    /// The states still to read, the first being read.
    states: &'a [domain::TenantState],
    start: Option<store::Item>,
    /// Pages read so far.
    pub pages: usize,
}

impl TenantsIn<'_> {
    /// The next page of tenants (perhaps empty); `None` once every state was read.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Tenant>>, ChangeError> {
        let Some((&state, rest)) = self.states.split_first() else { return Ok(None) };
        let q = Query::new(Some(Index::Gsi2), layout::tenants_in_state(state)).limit(100).start(self.start.take());
        let page = self.changes.table.query(&q).await?;
        self.pages += 1;
        match page.last_key {
            Some(k) => self.start = Some(k),
            None => self.states = rest,
        }
        let tenants = page.items.into_iter().filter(|i| !layout::is_tombstone(i)).map(Tenant::from_item);
        Ok(Some(tenants.collect::<Result<_, _>>()?))
    }
}
