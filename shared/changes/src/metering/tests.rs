//! Metering over the in-memory fakes: once per tenant and slot, failures retried, the series
//! and the month read back.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use domain::metering::{MeterWindow, Month};
use domain::{Actor, CustomerId, Role, Tenant, TenantCreate, TenantState, Usage};
use engine::workflows::MemoryWorkflows;
use engine::{MemoryCommands, MemoryJenkins, MemoryUpdateManager, UpdateManagerError};
use serde_json::json;
use store::layout::Record;
use store::memory::MemoryTable;

use crate::*;

fn core() -> Changes {
    Changes {
        table: Arc::new(MemoryTable::new()),
        workflows: Arc::new(MemoryWorkflows::new()),
        jenkins: Arc::new(MemoryJenkins::new()),
        remote: Arc::new(MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    }
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

const PACE: Pace = Pace { every: StdDuration::from_millis(1) };

async fn tenant(core: &Changes, customer: &CustomerId, state: TenantState) -> Tenant {
    let name = format!("t-{}", domain::TenantId::generate().as_str()[4..].to_lowercase());
    let cmd: TenantCreate =
        serde_json::from_value(json!({"customer_id": customer, "name": name, "release": "3.1.0"})).unwrap();
    let caller = Caller::person(Actor { sub: "alice".into(), email: None }, Role::Admin);
    let (mut t, _) = Tenant::create(cmd, &caller.context(None));
    t.state = state;
    t.active_change_request_id = None;
    core.table.batch_put(vec![t.to_item().unwrap()]).await.unwrap();
    t
}

#[tokio::test]
async fn a_run_samples_every_running_tenant_once_per_slot_and_retries_only_what_failed() {
    let core = core();
    let customer = CustomerId::generate();
    let a = tenant(&core, &customer, TenantState::Healthy).await;
    let b = tenant(&core, &customer, TenantState::Suspended).await;
    let gone = tenant(&core, &customer, TenantState::EndOfLife).await;
    let usage = MemoryUpdateManager::new();
    usage.set(&a.id, Usage { assets: 10, users: 2, data_bytes: 300 });
    usage.fail(&b.id, UpdateManagerError::Unavailable("down".into()));
    usage.set(&gone.id, Usage::default());

    let first = core.collect_usage(&usage, utc("2026-11-30T03:00:00Z"), PACE).await.unwrap();
    assert_eq!((first.considered, first.collected, first.failed, first.duplicates), (2, 1, 1, 0));
    assert_eq!(first.slot, "metering@2026-11-30");
    usage.set(&b.id, Usage { assets: 5, users: 1, data_bytes: 100 });
    let again = core.collect_usage(&usage, utc("2026-11-30T09:00:00Z"), PACE).await.unwrap();
    assert_eq!((again.collected, again.duplicates, again.failed), (1, 1, 0));
    assert!(!usage.reads().contains(&gone.id));
    // a was read once in the slot, b again after its failure.
    assert_eq!(usage.reads().iter().filter(|t| **t == a.id).count(), 1);

    usage.set(&a.id, Usage { assets: 12, users: 3, data_bytes: 500 });
    core.collect_usage(&usage, utc("2026-12-01T03:00:00Z"), PACE).await.unwrap();

    let window = MeterWindow::parse(Some("2026-11-01T00:00:00Z"), Some("2026-12-02T00:00:00Z"), Utc::now()).unwrap();
    let series = core.meter_series(&a.id, &window).await.unwrap();
    assert_eq!(
        series.iter().map(|s| s.at).collect::<Vec<_>>(),
        [utc("2026-11-30T00:00:00Z"), utc("2026-12-01T00:00:00Z")]
    );
    assert_eq!(series[0].stamp.updated_by, "system:schedule:metering");

    let november = core.meter_rollup(&customer, Month::parse("2026-11").unwrap()).await.unwrap();
    assert_eq!(november.total.samples, 2);
    assert_eq!((november.total.max_assets, november.total.max_users), (15, 3));
    let december = core.meter_rollup(&customer, Month::parse("2026-12").unwrap()).await.unwrap();
    assert_eq!((december.total.samples, december.total.max_assets), (2, 17));
}
