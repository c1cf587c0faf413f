//! The core over the in-memory fakes: the registry (`MemoryTable`), Step Functions
//! (`MemoryWorkflows`), Jenkins and SSM. Its runs on moto, through the API and the workflow,
//! are in `tests/tests/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{Duration, Utc};
use domain::{
    Actor, ChangeParams, ChangeRequestStatus, CustomerId, Operation, ReleaseVersion, Role, Source, StepStatus, Tenant,
    TenantChangeRequest, TenantCreate, TenantName, TenantState, Text,
};
use engine::workflows::MemoryWorkflows;
use engine::{ExecutionStatus, MemoryCommands, MemoryJenkins, QueuedBuild, RemoteCommands};
use serde_json::{Value, json};
use store::layout::{self, Record};
use store::memory::MemoryTable;
use store::{Cond, Item, Key, Page, Query, StoreError, Table, WriteOp};

use crate::*;

use Operation as Op;
use TenantState as S;

static NEXT: AtomicUsize = AtomicUsize::new(1);

fn alice() -> Caller {
    Caller::person(Actor { sub: "alice".into(), email: Some("alice@vendor.example".into()) }, Role::Admin)
}
fn bob() -> Caller {
    Caller::person(Actor { sub: "bob".into(), email: None }, Role::Admin)
}
fn olga() -> Caller {
    Caller::person(Actor { sub: "olga".into(), email: None }, Role::Operator)
}
fn reason(s: &str) -> Text {
    Text::parse(s).unwrap()
}

/// A table that lets a test slip a write in just before the core's next transaction, as a
/// concurrent request would.
struct Racing {
    inner: MemoryTable,
    before_next_write: std::sync::Mutex<Vec<Vec<WriteOp>>>,
    writes: AtomicUsize,
}

#[async_trait]
impl Table for Racing {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let slipped = self.before_next_write.lock().unwrap().pop();
        if let Some(edit) = slipped {
            self.inner.write(edit).await?;
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(ops).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.inner.batch_put(items).await
    }
}

struct World {
    table: Arc<Racing>,
    workflows: Arc<MemoryWorkflows>,
    jenkins: Arc<MemoryJenkins>,
    ssm: Arc<MemoryCommands>,
    alarms: Arc<engine::MemoryAlarms>,
    core: Changes,
}

fn world() -> World {
    let table = Arc::new(Racing {
        inner: MemoryTable::new(),
        before_next_write: Default::default(),
        writes: AtomicUsize::new(0),
    });
    let workflows = Arc::new(MemoryWorkflows::new());
    let jenkins = Arc::new(MemoryJenkins::new());
    let ssm = Arc::new(MemoryCommands::new());
    let alarms = Arc::new(engine::MemoryAlarms::new());
    let core = Changes {
        table: table.clone(),
        workflows: workflows.clone(),
        jenkins: jenkins.clone(),
        remote: ssm.clone(),
        alarms: alarms.clone(),
    };
    World { table, workflows, jenkins, ssm, alarms, core }
}

impl World {
    async fn put<R: Record>(&self, r: &R) {
        self.table.inner.batch_put(vec![r.to_item().unwrap()]).await.unwrap();
    }

    async fn release(&self, version: &str) {
        let cmd = serde_json::from_value(json!({"version": version, "components": {"webapp": version}})).unwrap();
        let r = domain::ProductRelease::create(cmd, &alice().context(None)).unwrap();
        self.put(&r).await;
    }

    /// A tenant resting in `state`, held by nothing, counted in the fleet.
    async fn tenant(&self, state: TenantState) -> Tenant {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let cmd: TenantCreate = serde_json::from_value(
            json!({"customer_id": CustomerId::generate(), "name": format!("t-{n}"), "release": "3.1.0"}),
        )
        .unwrap();
        let (mut t, _) = Tenant::create(cmd, &alice().context(None));
        t.state = state;
        t.active_change_request_id = None;
        self.put(&t).await;
        let mut tx = store::Tx::<ChangeError>::new();
        fleet::count_in_fleet(&mut tx, &[(t.state, &t.release, 1)], ChangeError::Duplicate);
        tx.commit(self.table.as_ref()).await.unwrap();
        t
    }

    async fn reload(&self, t: &Tenant) -> Tenant {
        self.core.tenant(&t.id).await.unwrap()
    }

    async fn cr(&self, id: &domain::ChangeRequestId) -> TenantChangeRequest {
        self.core.change_request(id).await.unwrap()
    }

    async fn counter(&self, state: TenantState) -> i64 {
        let page = self.table.query(&Query::new(None, layout::FLEET_PARTITION).limit(1000)).await.unwrap();
        layout::fleet_counts(&page.items).get(&("state".to_owned(), state.to_string())).copied().unwrap_or(0)
    }

    async fn request(&self, t: &Tenant, op: Operation, caller: &Caller) -> Result<TenantChangeRequest, ChangeError> {
        self.core.create(&t.id, change(op), caller, None).await
    }

    /// Renames the tenant in a write that lands just before the core's next one.
    fn rename_before_next_write(&self, t: &Tenant, name: &str) {
        let mut renamed = t.clone();
        renamed.name = TenantName::parse(name).unwrap();
        renamed.stamp.revision += 1;
        let op = WriteOp::put(renamed.to_item().unwrap(), Cond::Always);
        self.table.before_next_write.lock().unwrap().push(vec![op]);
    }
}

fn change(op: Operation) -> ChangeCreate {
    ChangeCreate { operation: op, params: ChangeParams::default(), reason: None }
}

// --- create -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_change_claims_its_tenant_and_starts_its_execution_named_by_its_id() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Validate, &olga()).await.unwrap();
    assert_eq!(cr.status, ChangeRequestStatus::Running);
    assert_eq!(cr.started_from, Some(S::Healthy));
    assert_eq!(cr.requested_by, "olga");
    assert_eq!(w.reload(&t).await.active_change_request_id, Some(cr.id.clone()));
    let started = w.workflows.started();
    let input: WorkflowInput = serde_json::from_value(started[cr.id.as_str()].clone()).unwrap();
    assert_eq!(input, WorkflowInput::of(&cr));
    assert_eq!(cr.execution_arn.as_deref(), Some(w.workflows.execution_arn(cr.id.as_str()).as_str()));

    // One at a time; the table decides what a state allows; viewers ask for nothing.
    let busy = w.request(&t, Op::Validate, &olga()).await.unwrap_err();
    assert!(matches!(&busy, ChangeError::Conflict(m) if m.contains(cr.id.as_str())), "{busy:?}");
    let suspended = w.tenant(S::Suspended).await;
    assert!(matches!(w.request(&suspended, Op::Backup, &olga()).await, Err(ChangeError::Conflict(_))));
    let viewer = Caller::person(Actor { sub: "v".into(), email: None }, Role::Viewer);
    assert!(matches!(w.request(&suspended, Op::Resume, &viewer).await, Err(ChangeError::Forbidden(_))));
}

#[tokio::test]
async fn parameters_are_checked_against_the_operation_and_the_registry() {
    let w = world();
    w.release("3.2.0").await;
    let t = w.tenant(S::Healthy).await;
    let upgrade = |release: Option<&str>| ChangeCreate {
        operation: Op::Upgrade,
        params: ChangeParams { release: release.map(|r| ReleaseVersion::parse(r).unwrap()), ..Default::default() },
        reason: None,
    };
    for (cmd, field) in [
        (upgrade(None), "params.release"),
        (upgrade(Some("3.1.0")), "params.release"),
        (upgrade(Some("9.9.9")), "params.release"),
        (ChangeCreate { operation: Op::Validate, ..upgrade(Some("3.2.0")) }, "params.release"),
    ] {
        match w.core.create(&t.id, cmd, &olga(), None).await {
            Err(ChangeError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("{other:?}"),
        }
    }
    let maintenance = w.tenant(S::Maintenance).await;
    match w.core.create(&maintenance.id, change(Op::Restore), &olga(), None).await {
        Err(ChangeError::Invalid(e)) => assert_eq!(e.field, "params.backup_id"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.reload(&t).await.active_change_request_id, None, "a refused change claims nothing");
    assert!(w.workflows.started().is_empty());
    let cr = w.core.create(&t.id, upgrade(Some("3.2.0")), &olga(), None).await.unwrap();
    assert_eq!(cr.target_release(), Some(ReleaseVersion::parse("3.2.0").unwrap()));
}

#[tokio::test]
async fn a_guard_makes_a_create_happen_once() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let guard = || {
        let key = Key::new("SLOT#nightly#2026-12-01", "SLOT");
        Guard { write: WriteOp::put(key.to_item(), Cond::NotExists), key }
    };
    let first = w.core.create(&t.id, change(Op::Validate), &olga(), Some(guard())).await.unwrap();
    w.core.finish(&first.id, &reconcile::reconciler(), Ending::Succeeded).await.unwrap();
    let again = w.core.create(&t.id, change(Op::Validate), &olga(), Some(guard())).await;
    assert_eq!(again.unwrap_err(), ChangeError::Duplicate);
    assert_eq!(w.reload(&t).await.active_change_request_id, None, "the duplicate claimed nothing");
    assert_eq!(w.workflows.started().len(), 1);
}

#[tokio::test]
async fn when_the_workflow_cannot_start_the_change_fails_and_releases_its_tenant_and_guard() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    w.workflows.fail_starts(true);
    let key = Key::new("IDEM#x", "IDEM");
    let guard = Guard { write: WriteOp::put(key.to_item(), Cond::NotExists), key: key.clone() };
    let err = w.core.create(&t.id, change(Op::Validate), &olga(), Some(guard)).await.unwrap_err();
    assert!(matches!(err, ChangeError::Unavailable(_)));
    let t2 = w.reload(&t).await;
    assert_eq!((t2.state, t2.active_change_request_id), (S::Healthy, None));
    assert_eq!(w.table.get(&key).await.unwrap(), None, "the guard is forgotten: a retry is a new request");
    let page = w.table.query(&Query::new(Some(store::Index::Gsi1), layout::change_requests_of_tenant(&t.id))).await;
    let crs: Vec<TenantChangeRequest> =
        page.unwrap().items.into_iter().map(TenantChangeRequest::from_item).collect::<Result<_, _>>().unwrap();
    assert_eq!(crs.len(), 1);
    assert_eq!(crs[0].status, ChangeRequestStatus::Failed);
    assert_eq!(crs[0].error.as_deref(), Some(start::NOT_STARTED));
}

#[tokio::test]
async fn a_new_tenant_that_cannot_start_provisioning_is_broken_and_counted_so() {
    let w = world();
    w.release("3.1.0").await;
    let customer = domain::Customer::create(
        serde_json::from_value(json!({"name": "Acme", "contact_email": "a@acme.example"})).unwrap(),
        &alice().context(None),
    );
    w.put(&customer).await;
    let cmd: TenantCreate =
        serde_json::from_value(json!({"customer_id": customer.id, "name": "acme-prod", "release": "3.1.0"})).unwrap();
    let (tenant, prepared) = w.core.prepare_tenant(cmd.clone(), &olga()).await.unwrap();
    assert_eq!(prepared.change_request().operation, Op::Provision);
    w.core.submit(prepared, None).await.unwrap();
    assert_eq!(w.reload(&tenant).await.state, S::Provisioning);
    assert_eq!(w.counter(S::Provisioning).await, 1);

    w.workflows.fail_starts(true);
    let cmd = TenantCreate { name: TenantName::parse("acme-dr").unwrap(), ..cmd };
    let (broken, prepared) = w.core.prepare_tenant(cmd, &olga()).await.unwrap();
    assert!(matches!(w.core.submit(prepared, None).await, Err(ChangeError::Unavailable(_))));
    assert_eq!(w.reload(&broken).await.state, S::Broken);
    assert_eq!((w.counter(S::Provisioning).await, w.counter(S::Broken).await), (1, 1));
}

// --- decide -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_second_admin_approves_and_it_starts_while_the_requester_cannot() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Terminate, &alice()).await.unwrap();
    assert_eq!(cr.status, ChangeRequestStatus::AwaitingApproval);
    assert!(w.workflows.started().is_empty());
    assert!(matches!(w.core.approve(&cr.id, &alice()).await, Err(ChangeError::Forbidden(_))));
    assert!(matches!(w.core.approve(&cr.id, &olga()).await, Err(ChangeError::Forbidden(_))));
    let approved = w.core.approve(&cr.id, &bob()).await.unwrap();
    assert_eq!(approved.status, ChangeRequestStatus::Running);
    assert_eq!(approved.decided_by.as_deref(), Some("bob"));
    assert!(w.workflows.started().contains_key(cr.id.as_str()));
    assert!(matches!(w.core.approve(&cr.id, &bob()).await, Err(ChangeError::Conflict(_))));
}

#[tokio::test]
async fn reject_and_cancel_release_the_tenant_and_keep_an_edit_made_meanwhile() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Terminate, &olga()).await.unwrap();
    assert!(matches!(
        w.core.cancel(&cr.id, &Caller::person(Actor { sub: "eve".into(), email: None }, Role::Operator)).await,
        Err(ChangeError::Forbidden(_))
    ));
    w.rename_before_next_write(&w.reload(&t).await, "renamed-meanwhile");
    let rejected = w.core.reject(&cr.id, &bob()).await.unwrap();
    assert_eq!(rejected.status, ChangeRequestStatus::Rejected);
    let t2 = w.reload(&t).await;
    assert_eq!(t2.active_change_request_id, None);
    assert_eq!(t2.name.as_str(), "renamed-meanwhile");

    let cr = w.request(&t2, Op::Terminate, &olga()).await.unwrap();
    let cancelled = w.core.cancel(&cr.id, &olga()).await.unwrap();
    assert_eq!(cancelled.status, ChangeRequestStatus::Cancelled);
    assert_eq!(w.reload(&t).await.active_change_request_id, None);
    assert!(matches!(w.core.cancel(&cr.id, &olga()).await, Err(ChangeError::Conflict(_))));
}

// --- progress and finish ------------------------------------------------------------------------

#[tokio::test]
async fn a_step_and_a_finish_survive_an_edit_of_the_tenant_and_keep_it() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::EnterMaintenance, &olga()).await.unwrap();
    let workflow = Caller::system("workflow", Source::Workflow);
    w.rename_before_next_write(&w.reload(&t).await, "edited-during-step");
    let writes = w.table.writes.load(Ordering::SeqCst);
    let answer = w
        .core
        .advance(&cr.id, &workflow, |held| {
            let mut cr = held.cr.clone();
            cr.record_step("state Maintenance", StepStatus::Succeeded, None, None, Utc::now());
            Ok(Advance::Write { cr, state: Some(S::Maintenance), answer: 7 })
        })
        .await
        .unwrap();
    assert_eq!(answer, 7);
    assert_eq!(w.table.writes.load(Ordering::SeqCst), writes + 2, "the lost write was read again and retried");
    let t2 = w.reload(&t).await;
    assert_eq!((t2.state, t2.name.as_str()), (S::Maintenance, "edited-during-step"));
    assert_eq!((w.counter(S::Healthy).await, w.counter(S::Maintenance).await), (0, 1));

    w.rename_before_next_write(&t2, "edited-during-finish");
    let done = w.core.finish(&cr.id, &workflow, Ending::Succeeded).await.unwrap();
    assert_eq!(done, Finished { status: ChangeRequestStatus::Succeeded, state: S::Maintenance });
    let t3 = w.reload(&t).await;
    assert_eq!((t3.active_change_request_id.clone(), t3.name.as_str()), (None, "edited-during-finish"));
    // Finishing again answers as it ended and writes nothing.
    let again = w.core.finish(&cr.id, &workflow, Ending::Failed { error: "late".into() }).await.unwrap();
    assert_eq!(again.status, ChangeRequestStatus::Succeeded);
    assert_eq!(w.reload(&t).await, t3);
}

#[tokio::test]
async fn a_failed_change_ends_where_the_table_says_with_its_reason() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Validate, &olga()).await.unwrap();
    let done =
        w.core.finish(&cr.id, &reconcile::reconciler(), Ending::Failed { error: "suite api failed".into() }).await;
    assert_eq!(done.unwrap(), Finished { status: ChangeRequestStatus::Failed, state: S::Broken });
    let cr = w.cr(&cr.id).await;
    assert_eq!(cr.error.as_deref(), Some("suite api failed"));
    assert_eq!(cr.steps.last().map(|s| s.status), Some(StepStatus::Failed));
}

// --- abort --------------------------------------------------------------------------------------

#[tokio::test]
async fn abort_stops_the_execution_and_the_running_build_and_ends_cancelled_with_who_and_why() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Backup, &olga()).await.unwrap();
    let workflow = Caller::system("workflow", Source::Workflow);
    let build = QueuedBuild::queued("backup-tenant", "http://jenkins/queue/item/7/");
    w.core
        .advance(&cr.id, &workflow, |held| {
            let mut cr = held.cr.clone();
            cr.record_step(
                "jenkins backup-tenant",
                StepStatus::Running,
                Some(json!({"build": build})),
                None,
                Utc::now(),
            );
            Ok(Advance::Write { cr, state: None, answer: () })
        })
        .await
        .unwrap();

    assert!(matches!(w.core.abort(&cr.id, &olga(), reason("wrong tenant")).await, Err(ChangeError::Forbidden(_))));
    let aborted = w.core.abort(&cr.id, &bob(), reason("wrong tenant")).await.unwrap();
    assert_eq!(aborted.status, ChangeRequestStatus::Cancelled);
    assert_eq!(aborted.aborted_by.as_deref(), Some("bob"));
    assert_eq!(aborted.abort_reason.as_ref().map(Text::as_str), Some("wrong tenant"));
    assert_eq!(w.workflows.status(cr.id.as_str()).await.unwrap(), Some(ExecutionStatus::Aborted));
    assert_eq!(w.jenkins.stops(), vec![build.clone()]);
    let t2 = w.reload(&t).await;
    // An aborted backup runs no rollback: its public access may still be blocked, which is what
    // `Maintenance` says (a backup that fails and opens it again ends as it started).
    assert_eq!((t2.state, t2.active_change_request_id), (S::Maintenance, None));
    assert!(matches!(w.core.abort(&cr.id, &bob(), reason("again")).await, Err(ChangeError::Conflict(_))));
}

#[tokio::test]
async fn abort_of_a_running_ssm_step_cancels_the_command_and_of_an_unstarted_one_closes_it() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Suspend, &olga()).await.unwrap();
    w.core
        .advance(&cr.id, &Caller::system("workflow", Source::Workflow), |held| {
            let mut cr = held.cr.clone();
            let detail = json!({"command_id": "cmd-1", "instance_ids": ["i-1"]});
            cr.record_step("ansible suspend-access", StepStatus::Running, Some(detail), None, Utc::now());
            Ok(Advance::Write { cr, state: None, answer: () })
        })
        .await
        .unwrap();
    w.core.abort(&cr.id, &bob(), reason("customer called back")).await.unwrap();
    assert_eq!(w.ssm.cancels(), vec!["cmd-1".to_owned()]);

    let t = w.tenant(S::Healthy).await;
    let waiting = w.request(&t, Op::Terminate, &olga()).await.unwrap();
    let closed = w.core.abort(&waiting.id, &bob(), reason("not today")).await.unwrap();
    assert_eq!(closed.status, ChangeRequestStatus::Cancelled);
    assert_eq!(w.reload(&t).await.active_change_request_id, None);
}

// --- reconcile ----------------------------------------------------------------------------------

#[tokio::test]
async fn each_kind_of_execution_end_finishes_a_running_change_failed_and_stops_its_work() {
    for (status, words) in [
        (ExecutionStatus::TimedOut, "deadline"),
        (ExecutionStatus::Failed, "failed"),
        (ExecutionStatus::Aborted, "aborted outside"),
    ] {
        let w = world();
        let t = w.tenant(S::Healthy).await;
        let cr = w.request(&t, Op::Validate, &olga()).await.unwrap();
        let build = QueuedBuild::queued("health-api", "http://j/queue/item/1/");
        w.core
            .advance(&cr.id, &Caller::system("workflow", Source::Workflow), |held| {
                let mut cr = held.cr.clone();
                cr.record_step(
                    "health suite api",
                    StepStatus::Running,
                    Some(json!({"build": build})),
                    None,
                    Utc::now(),
                );
                Ok(Advance::Write { cr, state: Some(S::InTesting), answer: () })
            })
            .await
            .unwrap();
        w.workflows.end(cr.id.as_str(), status);
        let r = w.core.reconcile(cr.id.as_str(), status, Some("States.Timeout")).await.unwrap();
        assert_eq!(r, Reconciled::Finished(Finished { status: ChangeRequestStatus::Failed, state: S::Broken }));
        let cr = w.cr(&cr.id).await;
        assert!(cr.error.as_deref().unwrap().contains(words), "{status:?}: {:?}", cr.error);
        assert_eq!(w.jenkins.stops(), vec![build]);
        assert_eq!(w.reload(&t).await.active_change_request_id, None);
        assert_eq!(w.counter(S::InTesting).await, 0);
        // The event delivered twice changes nothing more.
        let again = w.core.reconcile(cr.id.as_str(), status, None).await.unwrap();
        assert_eq!(again, Reconciled::AlreadyEnded { status: ChangeRequestStatus::Failed });
    }
}

#[tokio::test]
async fn the_end_of_an_execution_that_finished_its_change_or_is_not_one_changes_nothing() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Validate, &olga()).await.unwrap();
    w.core.finish(&cr.id, &Caller::system("workflow", Source::Workflow), Ending::Succeeded).await.unwrap();
    let r = w.core.reconcile(cr.id.as_str(), ExecutionStatus::Failed, None).await.unwrap();
    assert_eq!(r, Reconciled::AlreadyEnded { status: ChangeRequestStatus::Succeeded });
    assert_eq!(w.core.reconcile("rollout-7", ExecutionStatus::Failed, None).await.unwrap(), Reconciled::NotAChange);
    assert_eq!(w.reload(&t).await.state, S::Healthy);
}

#[tokio::test]
async fn the_sweep_finishes_running_changes_with_no_live_execution_after_a_grace() {
    let w = world();
    let healthy = w.tenant(S::Healthy).await;
    let live = w.request(&healthy, Op::Validate, &olga()).await.unwrap();
    let ended = w.request(&w.tenant(S::Healthy).await, Op::Validate, &olga()).await.unwrap();
    w.workflows.end(ended.id.as_str(), ExecutionStatus::Failed);
    let never = w.tenant(S::Healthy).await;
    // A crash between the claim and StartExecution: committed, never started.
    w.workflows.fail_starts(true);
    let prepared = w.core.prepare(&never.id, change(Op::Validate), &olga()).await.unwrap();
    let orphan_id = prepared.change_request().id.clone();
    let (ops, _) = prepared_parts(prepared);
    w.table.write(ops).await.unwrap();
    w.workflows.fail_starts(false);
    let waiting = w.request(&w.tenant(S::Healthy).await, Op::Terminate, &olga()).await.unwrap();

    let soon = w.core.sweep(Utc::now(), Duration::minutes(5)).await.unwrap();
    assert_eq!((soon.examined, soon.finished.len()), (4, 0), "within the grace nothing is touched");
    let later = w.core.sweep(Utc::now() + Duration::minutes(10), Duration::minutes(5)).await.unwrap();
    let mut finished = later.finished.clone();
    finished.sort();
    let mut want = vec![ended.id.clone(), orphan_id.clone()];
    want.sort();
    assert_eq!(finished, want);
    assert!(w.cr(&orphan_id).await.error.unwrap().contains("never started"));
    assert_eq!(w.reload(&never).await.active_change_request_id, None);
    assert_eq!(w.cr(&live.id).await.status, ChangeRequestStatus::Running);
    assert_eq!(w.cr(&waiting.id).await.status, ChangeRequestStatus::AwaitingApproval);
    // Ended ones leave the index of active change requests.
    let again = w.core.sweep(Utc::now() + Duration::minutes(10), Duration::minutes(5)).await.unwrap();
    assert_eq!((again.examined, again.finished.len()), (2, 0));
}

fn prepared_parts(p: Prepared) -> (Vec<WriteOp>, Vec<ChangeError>) {
    p.into_tx().into_parts()
}

#[tokio::test]
async fn an_abort_finds_and_stops_the_command_of_a_step_that_recorded_only_its_intent() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let cr = w.request(&t, Op::Suspend, &olga()).await.unwrap();
    let comment = format!("{}-0", cr.id);
    // The command was sent, its answer lost: only the intent is on the change request.
    w.ssm.lose_send_answers(1);
    assert!(w.ssm.send(&["i-1".to_owned()], "suspend-access", &comment, 600).await.is_err());
    w.core
        .advance(&cr.id, &Caller::system("workflow", Source::Workflow), |held| {
            let mut cr = held.cr.clone();
            let intent = json!({"playbook": "suspend-access", "step_id": comment, "instance_ids": ["i-1"]});
            cr.record_step("ansible suspend-access", StepStatus::Running, Some(intent), None, Utc::now());
            Ok(Advance::Write { cr, state: None, answer: () })
        })
        .await
        .unwrap();
    w.core.abort(&cr.id, &bob(), reason("hold on")).await.unwrap();
    let sent = w.ssm.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(w.ssm.cancels(), vec![sent[0].command_id.clone()]);
}

// --- what the jobs built -------------------------------------------------------------------------

async fn record_report(w: &World, cr: &TenantChangeRequest, report: Value) {
    w.core
        .advance(&cr.id, &Caller::system("workflow", Source::Workflow), |held| {
            let mut cr = held.cr.clone();
            let detail = json!({"job": "provision-tenant", "report": report});
            cr.record_step("jenkins provision-tenant", StepStatus::Succeeded, Some(detail), None, Utc::now());
            Ok(Advance::Write { cr, state: None, answer: () })
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_finish_records_the_resources_and_configs_its_jobs_reported_sharing_a_registered_arn() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    // The shared cluster is registered already, by another tenant.
    let other = w.tenant(S::Healthy).await;
    let shared = "arn:aws:rds:us-east-1:123456789012:cluster:shared";
    let cmd = domain::ResourceCreate {
        arn: domain::Arn::parse(shared).unwrap(),
        name: None,
        description: None,
        tenant_ids: [other.id.clone()].into(),
    };
    let cluster = domain::TenantAwsResource::create(cmd, &alice().context(None)).unwrap();
    w.put(&cluster).await;
    w.table
        .inner
        .batch_put(vec![layout::guard_item(layout::arn_guard(&cluster.arn), cluster.id.as_str())])
        .await
        .unwrap();

    let cr = w.request(&t, Op::Validate, &olga()).await.unwrap();
    record_report(
        &w,
        &cr,
        json!({
            "resources": [
                {"arn": "arn:aws:ec2:us-east-1:123456789012:instance/i-0aaaaaaaaaaaaaaaa", "name": "app"},
                {"arn": shared},
                {"arn": shared}
            ],
            "configs": {"webapp.url": {"value": "https://t.example"}, "db.password": {"secret_ref": "ssm:/t/db"}}
        }),
    )
    .await;
    // Recorded whatever the outcome: a failed change still built what it built.
    w.core.finish(&cr.id, &reconcile::reconciler(), Ending::Failed { error: "suite failed".into() }).await.unwrap();

    let q = Query::new(None, layout::tenant_partition(&t.id)).prefix(layout::RESOURCE_LINK_PREFIX);
    let links: Vec<String> =
        w.table.query(&q).await.unwrap().items.iter().map(|i| i["arn"].as_str().unwrap().to_owned()).collect();
    assert_eq!(links.len(), 2, "{links:?}");
    assert!(links.contains(&shared.to_owned()));
    let cluster_now =
        domain::TenantAwsResource::from_item(w.table.get(&layout::resource_key(&cluster.id)).await.unwrap().unwrap())
            .unwrap();
    assert_eq!(
        cluster_now.tenant_ids,
        [other.id.clone(), t.id.clone()].into(),
        "the tenant joined the registered cluster"
    );
    let url = w
        .table
        .get(&layout::config_key(&t.id, &domain::ConfigKey::parse("webapp.url").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(url["value"], "https://t.example");
    let pwd = w
        .table
        .get(&layout::config_key(&t.id, &domain::ConfigKey::parse("db.password").unwrap()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((pwd["secret_ref"].as_str(), pwd.get("value")), (Some("ssm:/t/db"), None));
}

// --- the backup catalog --------------------------------------------------------------------------

fn backup_report(n: u8) -> Value {
    json!({"backup": {"location": format!("s3://portal-backups/t/{n}.tar.zst"), "size_bytes": 1000 + u64::from(n),
        "checksum": format!("sha256:{}", format!("{n:02x}").repeat(32)), "parts": ["binary", "config", "data", "runtime"]}})
}

async fn set_config(w: &World, t: &Tenant, key: &str, value: domain::ConfigValue) {
    let key = domain::ConfigKey::parse(key).unwrap();
    let c = domain::TenantConfig::new(t.id.clone(), key, value, domain::Stamp::first(&alice().context(None)));
    w.put(&c).await;
}

async fn set_component(w: &World, t: &Tenant, name: &str, version: &str) {
    let key = layout::component_key(&t.id, &domain::ComponentName::parse(name).unwrap());
    let current = w.table.get(&key).await.unwrap().map(|i| domain::ComponentVersion::from_item(i).unwrap());
    let stamp = match &current {
        Some(c) => c.stamp.next(&alice().context(None)),
        None => domain::Stamp::first(&alice().context(None)),
    };
    let c = domain::ComponentVersion {
        tenant_id: t.id.clone(),
        name: domain::ComponentName::parse(name).unwrap(),
        version: domain::ComponentVersionLabel::parse(version).unwrap(),
        stamp,
    };
    w.put(&c).await;
}

fn plain(v: Value) -> domain::ConfigValue {
    domain::ConfigValue::Plain(domain::PlainValue::parse(v).unwrap())
}

/// A `backup` of `t` whose job reported `report`, finished as `ending`.
async fn back_up(w: &World, t: &Tenant, report: Option<Value>, ending: Ending) -> TenantChangeRequest {
    let cr = w.request(t, Op::Backup, &olga()).await.unwrap();
    let workflow = Caller::system("workflow", Source::Workflow);
    if let Some(report) = report {
        record_report(w, &cr, report.clone()).await;
        // The lifecycle's job step catalogues what a backup job reported when the job succeeded.
        let reported = domain::WorkReport::parse(report).unwrap().backup;
        if let (Some(reported), Ending::Succeeded) = (reported, &ending) {
            let held = w.core.held(&cr.id).await.unwrap();
            w.core.catalog_backup(&held, &workflow, &reported).await.unwrap();
        }
    }
    w.core.finish(&cr.id, &Caller::system("workflow", Source::Workflow), ending).await.unwrap();
    w.cr(&cr.id).await
}

fn restore(backup: &domain::BackupId) -> ChangeCreate {
    ChangeCreate {
        operation: Op::Restore,
        params: ChangeParams { backup_id: Some(backup.clone()), ..Default::default() },
        reason: None,
    }
}

#[tokio::test]
async fn a_backup_that_succeeds_is_catalogued_with_the_tenant_as_it_was_and_one_that_fails_is_not() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    set_component(&w, &t, "webapp", "3.1.0").await;
    set_config(&w, &t, "smtp.host", plain(json!("smtp.example"))).await;
    set_config(&w, &t, "db.password", domain::ConfigValue::Secret(domain::SecretRef::parse("ssm:/t/db").unwrap()))
        .await;

    let cr = back_up(&w, &t, Some(backup_report(1)), Ending::Succeeded).await;
    assert_eq!(cr.status, ChangeRequestStatus::Succeeded);
    assert_eq!(w.reload(&t).await.state, S::Healthy, "a backup gives the tenant back as it was");
    let id = domain::Backup::id_for(&cr.id);
    let b = w.core.backup(&t.id, &id).await.unwrap().expect("catalogued");
    assert_eq!((b.change_request_id.clone(), b.made_by.as_str(), b.size_bytes), (cr.id.clone(), "olga", 1001));
    assert_eq!(b.location, "s3://portal-backups/t/1.tar.zst");
    assert_eq!(b.release.to_string(), "3.1.0");
    assert_eq!(b.components.len(), 1);
    let json = serde_json::to_value(&b).unwrap();
    assert_eq!(json["configs"]["db.password"], json!({"secret_ref": "ssm:/t/db"}), "a secret as its reference");
    assert_eq!(json["configs"]["smtp.host"], json!({"value": "smtp.example"}));

    let failed = back_up(&w, &t, Some(backup_report(2)), Ending::Failed { error: "upload failed".into() }).await;
    assert_eq!(failed.status, ChangeRequestStatus::Failed);
    assert_eq!(w.core.backup(&t.id, &domain::Backup::id_for(&failed.id)).await.unwrap(), None);
    assert_eq!(w.core.backup(&w.tenant(S::Healthy).await.id, &id).await.unwrap(), None, "another tenant's");
}

#[tokio::test]
async fn a_restore_names_a_backup_of_its_own_tenant() {
    let w = world();
    let t = w.tenant(S::Healthy).await;
    let other = w.tenant(S::Healthy).await;
    let theirs = back_up(&w, &other, Some(backup_report(3)), Ending::Succeeded).await;
    let maintenance = |t: &Tenant| {
        let mut t = t.clone();
        t.state = S::Maintenance;
        t
    };
    let (t, other) = (maintenance(&t), maintenance(&other));
    w.put(&t).await;
    w.put(&other).await;
    for id in [domain::Backup::id_for(&theirs.id), domain::BackupId::parse("bk_unknown").unwrap()] {
        match w.core.create(&t.id, restore(&id), &olga(), None).await {
            Err(ChangeError::Invalid(e)) => {
                assert_eq!(e.field, "params.backup_id");
                assert!(e.message.contains(id.as_str()), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(w.reload(&t).await.active_change_request_id, None, "a refused restore claims nothing");
    let own = w.core.create(&other.id, restore(&domain::Backup::id_for(&theirs.id)), &olga(), None).await.unwrap();
    assert_eq!(own.status, ChangeRequestStatus::AwaitingApproval, "a restore waits for a second admin");
}

#[tokio::test]
async fn a_restore_that_succeeds_brings_back_the_backups_release_components_and_configs() {
    let w = world();
    w.release("3.2.0").await;
    let t = w.tenant(S::Healthy).await;
    set_component(&w, &t, "webapp", "3.1.0").await;
    set_config(&w, &t, "smtp.host", plain(json!("old.example"))).await;
    set_config(&w, &t, "max_workers", plain(json!(4))).await;
    let made = back_up(&w, &t, Some(backup_report(4)), Ending::Succeeded).await;
    let backup = domain::Backup::id_for(&made.id);

    // Since then: an upgrade, an edited config, a new one, a deleted one.
    let mut now = w.reload(&t).await;
    now.release = ReleaseVersion::parse("3.2.0").unwrap();
    now.state = S::Maintenance;
    w.put(&now).await;
    set_component(&w, &t, "webapp", "3.2.0").await;
    set_config(&w, &t, "smtp.host", plain(json!("new.example"))).await;
    set_config(&w, &t, "feature.x", plain(json!(true))).await;
    let key = layout::config_key(&t.id, &domain::ConfigKey::parse("max_workers").unwrap());
    let deleted = domain::TenantConfig::from_item(w.table.get(&key).await.unwrap().unwrap()).unwrap();
    w.table.inner.batch_put(vec![deleted.tombstone(0).unwrap()]).await.unwrap();

    let cr = w.core.create(&t.id, restore(&backup), &olga(), None).await.unwrap();
    let cr = w.core.approve(&cr.id, &bob()).await.unwrap();
    assert_eq!(cr.status, ChangeRequestStatus::Running);
    w.core.finish(&cr.id, &Caller::system("workflow", Source::Workflow), Ending::Succeeded).await.unwrap();

    let after = w.reload(&t).await;
    assert_eq!((after.state, after.release.to_string()), (S::Healthy, "3.1.0".to_owned()));
    let (components, configs) = w.core.snapshot(&t.id).await.unwrap();
    assert_eq!(components.values().map(|c| c.version.to_string()).collect::<Vec<_>>(), ["3.1.0"]);
    let values: std::collections::BTreeMap<String, Value> =
        configs.into_iter().map(|(k, c)| (k.to_string(), json!(c.value))).collect();
    assert_eq!(values, [("max_workers".to_owned(), json!(4)), ("smtp.host".to_owned(), json!("old.example"))].into());
}

#[tokio::test]
async fn a_provision_creates_the_standard_alarms_as_resources_of_the_tenant_and_a_terminate_deletes_them() {
    let w = world();
    w.release("3.1.0").await;
    let customer =
        domain::Customer::create(serde_json::from_value(json!({"name": "Acme"})).unwrap(), &alice().context(None));
    w.put(&customer).await;
    let cmd: TenantCreate =
        serde_json::from_value(json!({"customer_id": customer.id, "name": "t-alarmed", "release": "3.1.0"})).unwrap();
    let (tenant, prepared) = w.core.prepare_tenant(cmd, &olga()).await.unwrap();
    let cr = w.core.submit(prepared, None).await.unwrap();
    let instance = "arn:aws:ec2:us-east-1:123456789012:instance/i-0bbbbbbbbbbbbbbbb";
    record_report(&w, &cr, json!({"resources": [{"arn": instance}]})).await;
    w.core.finish(&cr.id, &reconcile::reconciler(), Ending::Succeeded).await.unwrap();

    let alarms = w.alarms.alarms();
    let names: Vec<&str> = alarms.keys().map(String::as_str).collect();
    let expected: Vec<String> = domain::alarms::StandardAlarm::ALL.iter().map(|a| a.name(&tenant.id)).collect();
    let mut expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(names, expected);
    assert!(alarms.values().filter(|a| a.namespace == "AWS/EC2").all(|a| a.dimensions[0].1 == "i-0bbbbbbbbbbbbbbbb"));
    let q = Query::new(None, layout::tenant_partition(&tenant.id)).prefix(layout::RESOURCE_LINK_PREFIX);
    let links: Vec<String> =
        w.table.query(&q).await.unwrap().items.iter().map(|i| i["arn"].as_str().unwrap().to_owned()).collect();
    assert_eq!(links.len(), 5, "the instance and its four alarms: {links:?}");
    assert!(links.iter().filter(|a| a.contains(":alarm:portal-")).count() == 4, "{links:?}");

    let now = w.reload(&tenant).await;
    let terminate = w.request(&now, Op::Terminate, &olga()).await.unwrap();
    w.core.approve(&terminate.id, &alice()).await.unwrap();
    w.core.finish(&terminate.id, &reconcile::reconciler(), Ending::Succeeded).await.unwrap();
    assert!(w.alarms.alarms().is_empty(), "deleted with the tenant");
}

#[tokio::test]
async fn cloudwatch_down_never_fails_a_provision() {
    let w = world();
    w.release("3.1.0").await;
    let customer =
        domain::Customer::create(serde_json::from_value(json!({"name": "Acme"})).unwrap(), &alice().context(None));
    w.put(&customer).await;
    let cmd: TenantCreate =
        serde_json::from_value(json!({"customer_id": customer.id, "name": "t-quiet", "release": "3.1.0"})).unwrap();
    let (tenant, prepared) = w.core.prepare_tenant(cmd, &olga()).await.unwrap();
    let cr = w.core.submit(prepared, None).await.unwrap();
    w.alarms.fail(true);
    let done = w.core.finish(&cr.id, &reconcile::reconciler(), Ending::Succeeded).await.unwrap();
    assert_eq!((done.status, done.state), (domain::ChangeRequestStatus::Succeeded, S::Healthy));
    assert_eq!(w.reload(&tenant).await.state, S::Healthy);
}

// --- drift --------------------------------------------------------------------------------------

fn reported(v: Value) -> domain::drift::ReportedRunning {
    serde_json::from_value(v).unwrap()
}

/// A tenant recording webapp 3.1.0, `smtp.host` = a and a secret's reference, whose box runs
/// webapp 3.2.0 and `smtp.host` = b (and a password, which is never read).
async fn drifted_tenant(w: &World, state: TenantState) -> (Tenant, engine::MemoryUpdateManager) {
    let t = w.tenant(state).await;
    set_component(w, &t, "webapp", "3.1.0").await;
    set_config(w, &t, "smtp.host", plain(json!("a"))).await;
    let secret = domain::ConfigValue::Secret(domain::SecretRef::parse("ssm:/t/x/db").unwrap());
    set_config(w, &t, "db.password", secret).await;
    let um = engine::MemoryUpdateManager::new();
    um.set_running(
        &t.id,
        reported(json!({"components": {"webapp": "3.2.0"}, "configs": {"smtp.host": "b", "db.password": "hunter2"}})),
    );
    (t, um)
}

#[tokio::test]
async fn a_check_reports_a_changed_component_and_config_and_lists_the_tenant_until_it_matches() {
    let w = world();
    let (t, um) = drifted_tenant(&w, S::Healthy).await;
    let caller = Caller::system("schedule:drift", Source::Schedule);
    let report = w.core.check_drift(&um, &t, &caller, None).await.unwrap();
    let names: Vec<(&str, Option<Value>, Option<Value>)> =
        report.drifted.iter().map(|d| (d.name.as_str(), d.recorded.clone(), d.live.clone())).collect();
    assert_eq!(
        names,
        [("webapp", Some(json!("3.1.0")), Some(json!("3.2.0"))), ("smtp.host", Some(json!("a")), Some(json!("b")))]
    );
    assert!(report.ignored.iter().any(|i| i.field == "configs.db.password"));
    let stored = serde_json::to_string(&w.table.inner.get(&layout::drift_key(&t.id)).await.unwrap()).unwrap();
    assert!(!stored.contains("hunter2"), "a secret read from the box is never stored: {stored}");
    assert_eq!(w.core.drift_report(&t.id).await.unwrap(), Some(report));
    let page = w.core.drifted_tenants(10, None).await.unwrap();
    assert_eq!(page.reports.iter().map(|r| r.tenant_id.clone()).collect::<Vec<_>>(), std::slice::from_ref(&t.id));

    um.set_running(&t.id, reported(json!({"components": {"webapp": "3.1.0"}, "configs": {"smtp.host": "a"}})));
    let clean = w.core.check_drift(&um, &t, &caller, None).await.unwrap();
    assert!(!clean.is_drifted());
    assert_eq!(clean.stamp.revision, 2);
    assert!(w.core.drifted_tenants(10, None).await.unwrap().reports.is_empty());
}

#[tokio::test]
async fn the_schedule_checks_idle_running_tenants_and_leaves_busy_and_gone_ones() {
    let w = world();
    let (a, um) = drifted_tenant(&w, S::Healthy).await;
    let busy = w.tenant(S::Healthy).await;
    w.request(&busy, Op::Validate, &olga()).await.unwrap();
    let gone = w.tenant(S::EndOfLife).await;
    let down = w.tenant(S::Broken).await;
    um.fail(&down.id, engine::UpdateManagerError::Unavailable("timeout".into()));
    let run = w.core.check_fleet_drift(&um, Utc::now(), Pace { every: std::time::Duration::from_millis(1) }).await;
    let run = run.unwrap();
    assert_eq!((run.considered, run.checked, run.drifted, run.busy, run.failed), (3, 1, 1, 1, 1));
    assert!(run.slot.starts_with("drift@"));
    assert!(w.core.drift_report(&a.id).await.unwrap().is_some());
    assert!(w.core.drift_report(&gone.id).await.unwrap().is_none());
    assert!(w.core.drift_report(&busy.id).await.unwrap().is_none());
}

#[tokio::test]
async fn adopting_is_refused_without_drift_and_writes_the_live_values_but_no_secret() {
    let w = world();
    let (t, um) = drifted_tenant(&w, S::Broken).await;
    let refused = w.request(&t, Op::AdoptDrift, &olga()).await.unwrap_err();
    assert!(matches!(&refused, ChangeError::Conflict(m) if m.contains("never checked")), "{refused:?}");
    w.core.check_drift(&um, &t, &Caller::system("schedule:drift", Source::Schedule), None).await.unwrap();
    let cr = w.request(&t, Op::AdoptDrift, &olga()).await.unwrap();
    let workflow = Caller::system("workflow", Source::Workflow);
    w.core.adopt_drift(&cr.id, &workflow, "adopt drift").await.unwrap();
    let (components, configs) = w.core.snapshot(&t.id).await.unwrap();
    assert_eq!(components[&domain::ComponentName::parse("webapp").unwrap()].version.as_str(), "3.2.0");
    let smtp = &configs[&domain::ConfigKey::parse("smtp.host").unwrap()];
    assert_eq!(smtp.as_value(), Some(plain(json!("b"))));
    assert_eq!(smtp.stamp.change_request_id.as_ref(), Some(&cr.id));
    let db = &configs[&domain::ConfigKey::parse("db.password").unwrap()];
    assert!(matches!(db.as_value(), Some(domain::ConfigValue::Secret(_))), "the secret's reference is kept");
    let after = w.core.drift_report(&t.id).await.unwrap().unwrap();
    assert!(!after.is_drifted());
    assert!(w.core.drifted_tenants(10, None).await.unwrap().reports.is_empty());
    assert!(w.cr(&cr.id).await.succeeded("adopt drift"));
    // Adopting again writes nothing: the step succeeded.
    let revision = after.stamp.revision;
    w.core.adopt_drift(&cr.id, &workflow, "adopt drift").await.unwrap();
    assert_eq!(w.core.drift_report(&t.id).await.unwrap().unwrap().stamp.revision, revision);
    // A box read again that matches the record is no drift to adopt.
    w.core.finish(&cr.id, &workflow, Ending::Succeeded).await.unwrap();
    let refused = w.request(&t, Op::AdoptDrift, &olga()).await.unwrap_err();
    assert!(matches!(&refused, ChangeError::Conflict(m) if m.contains("no drift to adopt")), "{refused:?}");
}

#[tokio::test]
async fn reapplying_installs_the_record_and_the_read_back_names_what_still_differs() {
    let w = world();
    let (t, um) = drifted_tenant(&w, S::Healthy).await;
    let workflow = Caller::system("workflow", Source::Workflow);
    let cr = w.request(&t, Op::ReapplyRecorded, &olga()).await.unwrap();
    w.core.reapply_recorded(&um, &cr.id, &workflow, "reapply recorded").await.unwrap();
    let (_, installed) = um.installs().pop().unwrap();
    assert_eq!(installed.components[&domain::ComponentName::parse("webapp").unwrap()].as_str(), "3.1.0");
    assert!(!installed.configs.contains_key(&domain::ConfigKey::parse("db.password").unwrap()), "no secret sent");
    let left = w.core.verify_no_drift(&um, &cr.id, &workflow, "verify no drift").await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(w.cr(&cr.id).await.succeeded("verify no drift"));
    assert!(!w.core.drift_report(&t.id).await.unwrap().unwrap().is_drifted());

    let (stuck, um) = drifted_tenant(&w, S::Healthy).await;
    um.ignore_installs(&stuck.id);
    let cr = w.request(&stuck, Op::ReapplyRecorded, &olga()).await.unwrap();
    w.core.reapply_recorded(&um, &cr.id, &workflow, "reapply recorded").await.unwrap();
    let left = w.core.verify_no_drift(&um, &cr.id, &workflow, "verify no drift").await.unwrap();
    assert_eq!(
        crate::drift::describe(&left),
        "component webapp runs \"3.2.0\" (recorded \"3.1.0\"); config smtp.host runs \"b\" (recorded \"a\")"
    );
    assert!(!w.cr(&cr.id).await.succeeded("verify no drift"));
    assert!(w.core.drift_report(&stuck.id).await.unwrap().unwrap().is_drifted());
}
