//! Rollouts over the in-memory fakes: the gate, `max_failures`, pause, resume and abort, the
//! alarm during a soak, and the dry run that writes nothing. Their run on moto, through the API,
//! is `tests/tests/rollouts_on_moto.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{Duration, Utc};
use domain::{
    Actor, ChangeRequestStatus, CustomerId, MemberStatus, NotRun, Role, Rollout, RolloutCreate, RolloutStatus, Source,
    Tenant, TenantCreate, TenantState, Text,
};
use engine::workflows::MemoryWorkflows;
use serde_json::json;
use store::layout::Record;
use store::memory::MemoryTable;
use store::{Index, Query, Table};

use crate::{Caller, Changes, Ending};

static NEXT: AtomicUsize = AtomicUsize::new(1);

fn admin() -> Caller {
    Caller::person(Actor { sub: "ada".into(), email: None }, Role::Admin)
}
fn workflow() -> Caller {
    Caller::system("workflow", Source::Workflow)
}

struct World {
    table: Arc<MemoryTable>,
    core: Changes,
}

fn world() -> World {
    let table = Arc::new(MemoryTable::new());
    let core = Changes {
        table: table.clone(),
        workflows: Arc::new(MemoryWorkflows::new()),
        jenkins: Arc::new(engine::MemoryJenkins::new()),
        remote: Arc::new(engine::MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    };
    World { table, core }
}

impl World {
    async fn release(&self, version: &str) {
        let cmd = serde_json::from_value(json!({"version": version, "components": {"webapp": version}})).unwrap();
        let r = domain::ProductRelease::create(cmd, &admin().context(None)).unwrap();
        self.table.batch_put(vec![r.to_item().unwrap()]).await.unwrap();
    }

    /// `n` tenants resting in `state` on `release`, tagged `env: prod`, in id order.
    async fn tenants(&self, n: usize, state: TenantState, release: &str) -> Vec<Tenant> {
        let mut out = Vec::new();
        for _ in 0..n {
            let cmd: TenantCreate = serde_json::from_value(json!({
                "customer_id": CustomerId::generate(), "name": format!("t-{}", NEXT.fetch_add(1, Ordering::SeqCst)),
                "release": release, "tags": {"env": "prod"}
            }))
            .unwrap();
            let (mut t, _) = Tenant::create(cmd, &admin().context(None));
            t.state = state;
            t.active_change_request_id = None;
            self.table.batch_put(vec![t.to_item().unwrap()]).await.unwrap();
            out.push(t);
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    async fn rollout(&self, body: serde_json::Value) -> Rollout {
        let cmd: RolloutCreate = serde_json::from_value(body).unwrap();
        self.core.create_rollout(&cmd, &admin()).await.unwrap()
    }

    async fn read(&self, r: &Rollout) -> Rollout {
        self.core.rollout_with_waves(&r.id).await.unwrap()
    }

    /// Ends the running change requests of wave `wave`: the first `failures` fail, the rest succeed.
    async fn end_wave(&self, r: &Rollout, wave: usize, failures: usize) {
        let read = self.read(r).await;
        let running: Vec<_> =
            read.waves[wave].tenants.iter().filter(|t| t.status == MemberStatus::Running).cloned().collect();
        for (i, t) in running.iter().enumerate() {
            let ending = if i < failures { Ending::Failed { error: "job failed".into() } } else { Ending::Succeeded };
            self.core.finish(t.change_request_id.as_ref().unwrap(), &workflow(), ending).await.unwrap();
        }
    }

    async fn advance(&self, r: &Rollout) -> Rollout {
        self.core.advance_rollout(&r.id, Utc::now()).await.unwrap();
        self.read(r).await
    }

    async fn change_requests_of(&self, t: &domain::TenantId) -> usize {
        let q = Query::new(Some(Index::Gsi1), store::layout::change_requests_of_tenant(t));
        self.table.query(&q).await.unwrap().items.len()
    }
}

fn statuses(r: &Rollout, wave: usize) -> Vec<MemberStatus> {
    r.waves[wave].tenants.iter().map(|t| t.status).collect()
}

#[tokio::test]
async fn a_rollout_starts_its_first_wave_at_once_as_the_rollout_with_its_waves() {
    let w = world();
    w.release("3.1.0").await;
    let tenants = w.tenants(5, TenantState::Healthy, "3.1.0").await;
    let r = w.rollout(json!({"operation": "validate", "selector": {"state": "Healthy"}, "waves": [1, 2]})).await;
    assert_eq!(r.wave_sizes, vec![1, 4]);
    let r = w.read(&r).await;
    assert_eq!(r.status, RolloutStatus::Running);
    assert_eq!(statuses(&r, 0), vec![MemberStatus::Running]);
    assert_eq!(r.waves[0].tenants[0].tenant_id, tenants[0].id);
    let cr = w.core.change_request(r.waves[0].tenants[0].change_request_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(cr.stamp.created_by, format!("system:rollout:{}", r.id));
    assert!(cr.reason.unwrap().as_str().contains(r.id.as_str()));
    assert!(statuses(&r, 1).iter().all(|s| *s == MemberStatus::Waiting));

    w.end_wave(&r, 0, 0).await;
    let r = w.advance(&r).await;
    assert_eq!(r.current_wave, 1);
    assert_eq!(statuses(&r, 1), vec![MemberStatus::Running; 4]);
    w.end_wave(&r, 1, 0).await;
    let r = w.advance(&r).await;
    assert_eq!(r.status, RolloutStatus::Succeeded);
}

#[tokio::test]
async fn a_failing_first_wave_halts_the_rollout_and_later_waves_get_no_change_request() {
    let w = world();
    w.release("3.1.0").await;
    let tenants = w.tenants(4, TenantState::Healthy, "3.1.0").await;
    let r =
        w.rollout(json!({"operation": "validate", "selector": {"tags": {"env": "prod"}}, "waves": [1, 1, 5]})).await;
    w.end_wave(&r, 0, 1).await;
    let r = w.advance(&r).await;
    assert_eq!(r.status, RolloutStatus::Halted, "{:?}", r.ended_reason);
    assert!(r.ended_reason.as_deref().unwrap().contains("max_failures 0"));
    assert_eq!(statuses(&r, 0), vec![MemberStatus::Failed]);
    for wave in 1..r.waves.len() {
        assert!(statuses(&r, wave).iter().all(|s| *s == MemberStatus::NotRun));
    }
    for t in &tenants[1..] {
        assert_eq!(w.change_requests_of(&t.id).await, 0);
    }
    // A halted rollout stays halted.
    assert_eq!(w.advance(&r).await.status, RolloutStatus::Halted);
}

#[tokio::test]
async fn max_failures_tolerates_exactly_that_many_failures() {
    let w = world();
    w.release("3.1.0").await;
    w.tenants(7, TenantState::Healthy, "3.1.0").await;
    let body = json!({"operation": "validate", "waves": [3, 4], "max_failures": 1});
    let r = w.rollout(body.clone()).await;
    w.end_wave(&r, 0, 1).await;
    let r = w.advance(&r).await;
    assert_eq!((r.status, r.current_wave), (RolloutStatus::Running, 1), "one failure is tolerated");
    w.end_wave(&r, 1, 2).await;
    let r = w.advance(&r).await;
    assert_eq!(r.status, RolloutStatus::Failed, "two in the last wave are not: {:?}", r.ended_reason);
}

#[tokio::test]
async fn pause_starts_nothing_resume_goes_on_and_abort_aborts_the_running_changes() {
    let w = world();
    w.release("3.1.0").await;
    let tenants = w.tenants(4, TenantState::Healthy, "3.1.0").await;
    let r = w.rollout(json!({"operation": "validate", "waves": [1, 3], "concurrency": 2})).await;
    let paused = w.core.pause_rollout(&r.id, &admin()).await.unwrap();
    assert_eq!(paused.status, RolloutStatus::Paused);
    assert!(w.core.pause_rollout(&r.id, &admin()).await.is_err(), "only a running one pauses");
    w.end_wave(&r, 0, 0).await;
    let read = w.advance(&r).await;
    assert_eq!((read.status, read.current_wave), (RolloutStatus::Paused, 0), "paused: nothing moves");

    let resumed = w.core.resume_rollout(&r.id, &admin()).await.unwrap();
    assert_eq!((resumed.status, resumed.current_wave), (RolloutStatus::Running, 1));
    let read = w.read(&r).await;
    assert_eq!(statuses(&read, 1), vec![MemberStatus::Running, MemberStatus::Running, MemberStatus::Waiting]);

    let olga = Caller::person(Actor { sub: "olga".into(), email: None }, Role::Operator);
    assert!(w.core.abort_rollout(&r.id, &olga, Text::parse("no").unwrap()).await.is_err(), "admins only");
    let aborted = w.core.abort_rollout(&r.id, &admin(), Text::parse("wrong release, INC-9").unwrap()).await.unwrap();
    assert_eq!(aborted.status, RolloutStatus::Cancelled);
    let read = w.read(&r).await;
    assert_eq!(statuses(&read, 1), vec![MemberStatus::Failed, MemberStatus::Failed, MemberStatus::NotRun]);
    for t in &read.waves[1].tenants[..2] {
        let cr = w.core.change_request(t.change_request_id.as_ref().unwrap()).await.unwrap();
        assert_eq!(cr.status, ChangeRequestStatus::Cancelled);
    }
    assert_eq!(w.change_requests_of(&tenants[3].id).await, 0);
    assert!(w.core.resume_rollout(&r.id, &admin()).await.is_err());
}

#[tokio::test]
async fn an_alarm_during_the_soak_halts_the_rollout() {
    let w = world();
    w.release("3.1.0").await;
    let tenants = w.tenants(3, TenantState::Healthy, "3.1.0").await;
    let r = w.rollout(json!({"operation": "validate", "waves": [1, 2], "soak_seconds": 600})).await;
    w.end_wave(&r, 0, 0).await;
    let r = w.advance(&r).await;
    assert_eq!((r.status, r.current_wave), (RolloutStatus::Running, 0), "soaking");
    assert!(r.soak_started_at.is_some());
    // Still soaking a minute later, then past the soak the next wave starts...
    w.core.advance_rollout(&r.id, Utc::now() + Duration::seconds(60)).await.unwrap();
    assert_eq!(w.read(&r).await.current_wave, 0);

    // ...unless an alarm moved a tenant of the rollout: mark_broken on the first wave's tenant.
    let alarm = Caller::system("alarm:cpu", Source::Alarm);
    let evidence = serde_json::from_value(json!({
        "alarm_name": "portal-cpu", "state": "ALARM", "reason": "CPU above 90%", "at": Utc::now()
    }))
    .unwrap();
    let params = domain::ChangeParams { alarm: Some(evidence), ..Default::default() };
    let change = crate::ChangeCreate { operation: domain::Operation::MarkBroken, params, reason: None };
    w.core.create(&tenants[0].id, change, &alarm, None).await.unwrap();
    w.core.advance_rollout(&r.id, Utc::now() + Duration::seconds(601)).await.unwrap();
    let r = w.read(&r).await;
    assert_eq!(r.status, RolloutStatus::Halted);
    assert!(r.ended_reason.as_deref().unwrap().contains("alarm"), "{:?}", r.ended_reason);
    assert_eq!(w.change_requests_of(&tenants[1].id).await, 0);
}

#[tokio::test]
async fn a_plan_writes_nothing_and_names_every_refusal() {
    let w = world();
    for v in ["3.0.0", "3.1.0", "3.2.0"] {
        w.release(v).await;
    }
    let ok = w.tenants(2, TenantState::Healthy, "3.1.0").await;
    let suspended = w.tenants(1, TenantState::Suspended, "3.1.0").await;
    let same = w.tenants(1, TenantState::Healthy, "3.2.0").await;
    let newer = w.tenants(1, TenantState::Healthy, "4.0.0").await;
    // A busy tenant: another rollout's first wave holds it.
    let first = w.rollout(json!({"operation": "validate", "selector": {"tenant_ids": [ok[1].id]}, "waves": [1]})).await;
    assert_eq!(w.read(&first).await.waves[0].tenants[0].status, MemberStatus::Running);

    let before = w.table.dump();
    let body = json!({"operation": "upgrade", "params": {"release": "3.2.0"}, "selector": {"tags": {"env": "prod"}}, "waves": [1]});
    let cmd: RolloutCreate = serde_json::from_value(body).unwrap();
    let plan = w.core.plan_rollout(&cmd, &admin()).await.unwrap();
    assert_eq!(w.table.dump(), before, "a plan writes nothing");
    assert_eq!((plan.selected, plan.would_run, plan.refused), (5, 1, 4));
    let of = |t: &Tenant| plan.tenants.iter().find(|p| p.tenant_id == t.id).unwrap();
    let runs = of(&ok[0]);
    assert!(runs.would_run && runs.wave == Some(0));
    assert_eq!(runs.plan.as_ref().unwrap().through.first(), Some(&TenantState::Maintenance));
    let upgrade = runs.upgrade.as_ref().expect("an upgrade plan");
    assert_eq!(upgrade.components.len(), 1, "webapp 3.1.0 -> 3.2.0: {upgrade:?}");
    assert!(matches!(of(&ok[1]).not_run, Some(NotRun::Busy { .. })));
    assert!(matches!(of(&suspended[0]).not_run, Some(NotRun::State { state: TenantState::Suspended })));
    assert!(matches!(of(&same[0]).not_run, Some(NotRun::SameRelease { .. })));
    assert!(matches!(of(&newer[0]).not_run, Some(NotRun::Downgrade { .. })));

    let unknown = json!({"operation": "upgrade", "params": {"release": "9.9.9"}, "waves": [1]});
    let err = w.core.plan_rollout(&serde_json::from_value(unknown).unwrap(), &admin()).await.unwrap_err();
    assert!(err.to_string().contains("params.release"), "{err}");
}

#[tokio::test]
async fn a_tenant_outside_its_maintenance_window_waits_for_it_and_so_does_its_wave() {
    use chrono::Timelike;
    let w = world();
    w.release("3.1.0").await;
    let tenants = w.tenants(2, TenantState::Healthy, "3.1.0").await;
    // The first tenant's window opens two hours from now, for an hour, every day (UTC).
    let opens = Utc::now() + Duration::hours(2);
    let window: domain::schedule::Window = serde_json::from_value(json!({
        "start": format!("{:02}:00", opens.hour()), "end": format!("{:02}:00", (opens.hour() + 1) % 24),
        "time_zone": "UTC"
    }))
    .unwrap();
    let mut windowed = tenants[0].clone();
    windowed.maintenance_window = Some(window);
    w.table.batch_put(vec![windowed.to_item().unwrap()]).await.unwrap();

    // The plan says so: it would run, once its window opens.
    let body = json!({"operation": "validate", "selector": {"state": "Healthy"}, "waves": [2]});
    let plan = w.core.plan_rollout(&serde_json::from_value(body.clone()).unwrap(), &admin()).await.unwrap();
    let of = |t: &Tenant| plan.tenants.iter().find(|p| p.tenant_id == t.id).unwrap();
    let hour = opens.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    assert_eq!((of(&tenants[0]).would_run, of(&tenants[0]).waits_for_window), (true, Some(hour)));
    assert_eq!(of(&tenants[1]).waits_for_window, None, "no window: it runs at once");

    let r = w.rollout(body).await;
    let r = w.read(&r).await;
    let status_of = |r: &Rollout, t: &Tenant| r.waves[0].tenants.iter().find(|m| m.tenant_id == t.id).unwrap().status;
    assert_eq!(status_of(&r, &tenants[0]), MemberStatus::Waiting, "its window is closed");
    assert_eq!(status_of(&r, &tenants[1]), MemberStatus::Running);
    assert_eq!(w.change_requests_of(&tenants[0].id).await, 0);
    w.end_wave(&r, 0, 0).await;
    let report = w.core.advance_rollout(&r.id, Utc::now()).await.unwrap();
    assert_eq!((report.outside_window, report.started), (1, 0));
    let r = w.read(&r).await;
    assert_eq!(r.status, RolloutStatus::Running, "the wave waits for its tenant's window");

    // Inside the window, it runs.
    let inside = opens.with_minute(30).unwrap();
    let report = w.core.advance_rollout(&r.id, inside).await.unwrap();
    assert_eq!((report.outside_window, report.started), (0, 1));
    assert_eq!(status_of(&w.read(&r).await, &tenants[0]), MemberStatus::Running);
}
