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
}

impl Changes {
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
        let mut ticks = tokio::time::interval(pace.every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for &state in rule(op).from {
            let mut start = None;
            loop {
                let q = Query::new(Some(Index::Gsi2), layout::tenants_in_state(state)).limit(100).start(start);
                let page = self.table.query(&q).await?;
                report.pages += 1;
                for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                    let tenant = Tenant::from_item(item)?;
                    report.considered += 1;
                    if let Err(why) = schedule.eligible(&tenant, at) {
                        *report.held_back.entry(why).or_default() += 1;
                        continue;
                    }
                    ticks.tick().await;
                    self.create_scheduled(&tenant, schedule, &slot, &caller, &mut report).await;
                }
                match page.last_key {
                    Some(k) => start = Some(k),
                    None => break,
                }
            }
        }
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
