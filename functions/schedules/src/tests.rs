//! The handler over the in-memory fakes, with the events as EventBridge delivers them.

use std::sync::Arc;
use std::time::Duration;

use changes::{Caller, ChangeCreate, Ending};
use domain::{
    Actor, ChangeParams, CustomerId, Operation, Role, Source, Tenant, TenantChangeRequest, TenantCreate, TenantId,
    TenantState,
};
use engine::workflows::MemoryWorkflows;
use engine::{MemoryCommands, MemoryJenkins};
use lambda_runtime::Context;
use store::layout::{self, Record};
use store::memory::MemoryTable;
use store::{Index, Query};

use super::*;

use TenantState as S;

struct World {
    workflows: Arc<MemoryWorkflows>,
    usage: Arc<engine::MemoryUpdateManager>,
    deps: Deps,
}

fn world() -> World {
    let workflows = Arc::new(MemoryWorkflows::new());
    let changes = Changes {
        table: Arc::new(MemoryTable::new()),
        workflows: workflows.clone(),
        jenkins: Arc::new(MemoryJenkins::new()),
        remote: Arc::new(MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    };
    let usage = Arc::new(engine::MemoryUpdateManager::new());
    World {
        workflows,
        usage: usage.clone(),
        deps: Deps { changes, pace: Pace { every: Duration::from_millis(1) }, update_manager: usage },
    }
}

fn admin() -> Caller {
    Caller::person(Actor { sub: "alice".into(), email: None }, Role::Admin)
}

impl World {
    /// A tenant resting in `state`, held by nothing, with `settings` patched onto it.
    async fn tenant(&self, state: S, settings: Value) -> Tenant {
        let name = format!("t-{}", TenantId::generate().as_str()[4..].to_lowercase());
        let cmd: TenantCreate =
            serde_json::from_value(json!({"customer_id": CustomerId::generate(), "name": name, "release": "3.1.0"}))
                .unwrap();
        let (mut t, _) = Tenant::create(cmd, &admin().context(None));
        t.state = state;
        t.active_change_request_id = None;
        let patch: domain::TenantPatch = serde_json::from_value(settings).unwrap();
        patch.apply_to(&mut t);
        self.deps.changes.table.batch_put(vec![t.to_item().unwrap()]).await.unwrap();
        t
    }

    async fn call(&self, event: Value) -> Result<Value, ScheduleError> {
        handle(&self.deps, LambdaEvent::new(event, Context::default())).await
    }

    async fn changes_of(&self, t: &Tenant) -> Vec<TenantChangeRequest> {
        let q = Query::new(Some(Index::Gsi1), layout::change_requests_of_tenant(&t.id));
        let page = self.deps.changes.table.query(&q).await.unwrap();
        page.items.into_iter().map(|i| TenantChangeRequest::from_item(i).unwrap()).collect()
    }

    /// Ends every running change request (as their workflows would).
    async fn finish_all(&self) {
        for id in self.workflows.started().into_keys() {
            let id = domain::ChangeRequestId::parse(&id).unwrap();
            let workflow = Caller::system("workflow", Source::Workflow);
            self.deps.changes.finish(&id, &workflow, Ending::Succeeded).await.unwrap();
        }
    }
}

/// A scheduled rule's event, as EventBridge delivers it.
fn scheduled(rule: &str, time: &str) -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": SCHEDULED_EVENT,
        "source": "aws.events", "account": "123456789012", "time": time, "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:123456789012:rule/{rule}")], "detail": {}
    })
}

#[tokio::test]
async fn the_fan_out_picks_exactly_the_eligible_tenants_and_is_idempotent_per_slot() {
    let w = world();
    let healthy = w.tenant(S::Healthy, json!({})).await;
    let maintenance = w.tenant(S::Maintenance, json!({})).await;
    let suspended = w.tenant(S::Suspended, json!({})).await;
    let broken = w.tenant(S::Broken, json!({})).await;
    let opted_out = w.tenant(S::Healthy, json!({"schedule_opt_outs": ["backup"]})).await;
    let busy = w.tenant(S::Healthy, json!({})).await;
    let validate = ChangeCreate { operation: Operation::Validate, params: ChangeParams::default(), reason: None };
    w.deps.changes.create(&busy.id, validate, &admin(), None).await.unwrap();

    let event = scheduled("admin-portal-schedule-backup", "2026-12-03T02:00:00Z");
    let report = w.call(event.clone()).await.unwrap();
    assert_eq!(report["slot"], "backup@2026-12-03");
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(report["considered"], 4, "Healthy and Maintenance tenants only, by Query: {report}");
    assert_eq!(report["held_back"], json!({"opted_out": 1, "busy": 1}), "{report}");
    for t in [&healthy, &maintenance] {
        let crs = w.changes_of(t).await;
        assert_eq!(crs.len(), 1, "{}", t.id);
        assert_eq!(crs[0].operation, Operation::Backup);
        assert_eq!(crs[0].stamp.updated_by, "system:schedule:backup");
        assert_eq!(crs[0].stamp.source, Source::Schedule);
    }
    for t in [&suspended, &broken, &opted_out] {
        assert!(w.changes_of(t).await.is_empty(), "{} was left alone", t.id);
    }

    // Delivered again for the same slot once the backups (and the validate) ended: nothing new
    // for the two served, and `busy`, free now, gets its backup of the slot.
    w.finish_all().await;
    let again = w.call(event).await.unwrap();
    assert_eq!((again["created"].as_u64(), again["duplicates"].as_u64()), (Some(1), Some(2)), "{again}");
    assert_eq!(w.changes_of(&healthy).await.len(), 1);
    assert_eq!(w.changes_of(&busy).await.len(), 2, "its validate, then its backup");
    // The next night is a new slot.
    w.finish_all().await;
    let next = w.call(scheduled("admin-portal-schedule-backup", "2026-12-04T02:00:00Z")).await.unwrap();
    assert_eq!(next["created"], 3, "{next}");
    assert_eq!(w.changes_of(&healthy).await.len(), 2);
}

#[tokio::test]
async fn a_window_outside_its_hours_holds_the_tenant_back() {
    let w = world();
    // Saturdays 04:00-06:00 in Berlin: 03:00-05:00 UTC in December.
    let window = json!({"maintenance_window": {"days": ["sat"], "start": "04:00", "end": "06:00", "time_zone": "Europe/Berlin"}});
    let windowed = w.tenant(S::Healthy, window).await;
    let plain = w.tenant(S::Healthy, json!({})).await;

    let at_two = w.call(scheduled("admin-portal-schedule-backup", "2026-12-05T02:00:00Z")).await.unwrap();
    assert_eq!(at_two["created"], 1, "{at_two}");
    assert_eq!(at_two["held_back"], json!({"outside_window": 1}));
    assert!(w.changes_of(&windowed).await.is_empty());
    assert_eq!(w.changes_of(&plain).await.len(), 1);

    let at_three = w.call(scheduled("admin-portal-schedule-backup", "2026-12-05T03:00:00Z")).await.unwrap();
    assert_eq!(at_three["created"], 1, "inside its window: {at_three}");
    assert_eq!(w.changes_of(&windowed).await.len(), 1);
    // The validation honours the same window.
    w.finish_all().await;
    let validate = w.call(scheduled("admin-portal-schedule-validate", "2026-12-05T12:00:00Z")).await.unwrap();
    assert_eq!(validate["held_back"]["outside_window"], 1, "{validate}");
}

#[tokio::test]
async fn other_events_and_unknown_rules_are_not_a_run() {
    let w = world();
    w.tenant(S::Healthy, json!({})).await;
    let ignored = json!({"detail-type": "EC2 Instance State-change Notification", "time": "2026-12-03T02:00:00Z"});
    assert_eq!(w.call(ignored).await.unwrap()["result"], "ignored");
    let unknown = w.call(scheduled("admin-portal-schedule-nightly", "2026-12-03T02:00:00Z")).await;
    assert!(matches!(unknown, Err(ScheduleError::Invalid(_))));
    assert!(w.workflows.started().is_empty());
    assert_eq!(
        schedule_of_rule("arn:aws:events:us-east-1:1:rule/x-schedule-validate"),
        Some(Schedule::FanOut(domain::schedule::ScheduleName::Validate))
    );
}

#[tokio::test]
async fn the_metering_rule_samples_each_running_tenant_once_a_day_and_a_failure_asks_for_a_redelivery() {
    let w = world();
    let up = w.tenant(S::Healthy, json!({})).await;
    let down = w.tenant(S::Broken, json!({})).await;
    w.usage.set(&up.id, domain::Usage { assets: 4, users: 2, data_bytes: 10 });
    let failed = w.call(scheduled("admin-portal-schedule-metering", "2026-12-03T01:00:00Z")).await;
    assert!(matches!(failed, Err(ScheduleError::Unavailable(_))), "{failed:?}");
    w.usage.set(&down.id, domain::Usage::default());
    let again = w.call(scheduled("admin-portal-schedule-metering", "2026-12-03T01:00:00Z")).await.unwrap();
    assert_eq!((again["collected"].as_u64(), again["duplicates"].as_u64()), (Some(1), Some(1)), "{again}");
    assert!(w.workflows.started().is_empty(), "metering starts no change request");
}

#[tokio::test]
async fn the_licenses_rule_runs_the_expiry() {
    let w = world();
    let report = w.call(scheduled("admin-portal-schedule-licenses", "2026-12-03T03:00:00Z")).await.unwrap();
    assert_eq!(report["slot"], "licenses@2026-12-03");
    assert_eq!(report["expired"], json!([]));
}
