//! Unit tests of the task handler over the in-memory fakes: the registry (`MemoryTable`, behind
//! a [`Registry`] that can fail a write or slip an edit in), Step Functions (`MemoryWorkflows`),
//! Jenkins (`MemoryJenkins`, scripted per job) and SSM (`MemoryCommands`, scripted per
//! playbook), all behind the change-request core (`changes::Changes`). Records are written
//! straight into the table; tasks are sent as the JSON the state machine
//! (`statemachines/lifecycle.asl.json`) sends. The end-to-end runs on moto are in
//! `tests/tests/lifecycle_on_moto.rs`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use changes::{Caller, ChangeError};
use chrono::{DateTime, Duration, Utc};
use domain::lifecycle::{self, Step};
use domain::{
    Actor, ChangeModel, ChangeParams, ChangeRequestId, ChangeRequestStatus, ChangeStep, ComponentName,
    ComponentVersion, ComponentVersionLabel, CustomerId, JobName, Operation, ResourceId, Role, Source, Stamp,
    StepStatus, Tenant, TenantChangeRequest, TenantCreate, TenantId, TenantName, TenantState, Text, WriteContext,
};
use engine::Secrets;
use engine::workflows::MemoryWorkflows;
use engine::{
    BuildResult, BuildStatus, CommandScript, Jenkins, JobScript, MemoryCommands, MemoryJenkins, QueuedBuild,
    STEP_ID_PARAM,
};
use lambda_runtime::{Context, Diagnostic};
use serde_json::json;
use store::memory::MemoryTable;
use store::{Cond, Item, Key, Page, Query, StoreError, Table, Tx, WriteOp};

use super::*;

use ChangeModel as M;
use Operation as Op;
use TenantState as S;

const SUITES: [&str; 2] = ["api-smoke", "ui-smoke"];
const SECRETS_PREFIX: &str = "/portal/tenants";
const PACE: Pace = Pace {
    poll_seconds: 5,
    heartbeat_seconds: 5,
    jenkins_timeout_seconds: 3600,
    ssm_timeout_seconds: 900,
    approval_timeout_seconds: 14_400,
};
const EC2_A: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0aaaaaaaaaaaaaaaa";
const EC2_B: &str = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0bbbbbbbbbbbbbbbb";
const RDS: &str = "arn:aws:rds:us-east-1:123456789012:db:acme-prod";

static NEXT_NAME: AtomicUsize = AtomicUsize::new(1);

/// The requester of every change request written here.
fn admin() -> WriteContext {
    WriteContext::api(Actor { sub: "alice".into(), email: Some("alice@vendor.example".into()) })
}

/// The admin who aborts (never the requester).
fn bob() -> Caller {
    Caller::person(Actor { sub: "bob".into(), email: None }, Role::Admin)
}

fn reason(s: &str) -> Text {
    Text::parse(s).unwrap()
}

fn suites() -> Vec<String> {
    SUITES.map(String::from).to_vec()
}

// =================================================================================================
// The registry, with the faults a test arms

/// The registry in memory, with two faults a test can arm: the `n`th write from now fails as an
/// unreachable table does (writing nothing), and a tenant edit is slipped in just before the next
/// write, as a concurrent PATCH landing between a task's read and its write would be.
#[derive(Default)]
struct Registry {
    inner: MemoryTable,
    faults: Mutex<Faults>,
    /// Writes refused because a condition no longer held (races lost).
    lost_races: AtomicUsize,
}

#[derive(Default)]
struct Faults {
    fail_in: Option<usize>,
    slipped: Option<Vec<WriteOp>>,
}

impl Registry {
    /// The `nth` write from now (1: the next one) fails with [`StoreError::Unavailable`].
    fn fail_write(&self, nth: usize) {
        self.faults.lock().unwrap().fail_in = Some(nth);
    }

    /// `edited` is written just before the next write lands.
    fn slip_before_next_write(&self, edited: &Tenant) {
        let op = WriteOp::put(edited.to_item().unwrap(), Cond::Always);
        self.faults.lock().unwrap().slipped = Some(vec![op]);
    }

    /// `op` is written just before the next write lands.
    fn slip_op_before_next_write(&self, op: WriteOp) {
        self.faults.lock().unwrap().slipped = Some(vec![op]);
    }

    fn slip_pending(&self) -> bool {
        self.faults.lock().unwrap().slipped.is_some()
    }

    fn lost_races(&self) -> usize {
        self.lost_races.load(Ordering::SeqCst)
    }

    fn dump(&self) -> Vec<Item> {
        self.inner.dump()
    }
}

#[async_trait]
impl Table for Registry {
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
        let slipped = {
            let mut f = self.faults.lock().unwrap();
            match f.fail_in {
                Some(1) => {
                    f.fail_in = None;
                    let down = std::io::Error::other("the registry did not answer (a fault armed by the test)");
                    return Err(StoreError::Unavailable(down.into()));
                }
                Some(n) => f.fail_in = Some(n - 1),
                None => {}
            }
            f.slipped.take()
        };
        if let Some(edit) = slipped {
            self.inner.write(edit).await?;
        }
        let written = self.inner.write(ops).await;
        if matches!(written, Err(StoreError::ConditionFailed { .. })) {
            self.lost_races.fetch_add(1, Ordering::SeqCst);
        }
        written
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.inner.batch_put(items).await
    }
}

#[tokio::test]
async fn the_registry_fails_the_armed_write_and_slips_an_edit_before_the_next() {
    let r = Registry::default();
    let item = |pk: &str| Key::new(pk, "X").to_item();
    r.fail_write(2);
    r.write(vec![WriteOp::put(item("A"), Cond::Always)]).await.unwrap();
    assert!(matches!(r.write(vec![WriteOp::put(item("B"), Cond::Always)]).await, Err(StoreError::Unavailable(_))));
    r.write(vec![WriteOp::put(item("C"), Cond::Always)]).await.unwrap();
    assert_eq!(r.dump().len(), 2, "the failed write wrote nothing, the next one landed");

    let (t, _) = World::create("3.1.0", false);
    r.slip_before_next_write(&t);
    assert!(r.slip_pending());
    r.write(vec![WriteOp::put(item("A"), Cond::NotExists)]).await.unwrap_err();
    assert!(!r.slip_pending());
    assert_eq!(r.lost_races(), 1);
    assert!(r.get(&layout::tenant_key(&t.id)).await.unwrap().is_some(), "the edit landed before the write");
}

// =================================================================================================
// The world

/// The handler's dependencies, with the fakes kept at hand.
struct World {
    table: Arc<Registry>,
    workflows: Arc<MemoryWorkflows>,
    jenkins: Arc<MemoryJenkins>,
    ssm: Arc<MemoryCommands>,
    secrets: Arc<engine::MemorySecrets>,
    update_manager: Arc<engine::MemoryUpdateManager>,
    /// What an admin does, one per poll of a gate or window: `approve`, `reject`, `rollback`.
    at_gate: Mutex<std::collections::VecDeque<&'static str>>,
    deps: Deps,
}

fn world() -> World {
    let table = Arc::new(Registry::default());
    let workflows = Arc::new(MemoryWorkflows::new());
    let jenkins = Arc::new(MemoryJenkins::new());
    let ssm = Arc::new(MemoryCommands::new());
    let secrets = Arc::new(engine::MemorySecrets::new());
    let update_manager = Arc::new(engine::MemoryUpdateManager::new());
    let changes = Changes {
        table: table.clone(),
        workflows: workflows.clone(),
        jenkins: jenkins.clone(),
        remote: ssm.clone(),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    };
    World {
        table,
        workflows,
        jenkins,
        ssm,
        secrets: secrets.clone(),
        update_manager: update_manager.clone(),
        at_gate: Mutex::new(Default::default()),
        deps: Deps {
            changes,
            suites: suites(),
            pace: PACE,
            region: Some("eu-west-1".into()),
            secrets,
            secrets_prefix: SECRETS_PREFIX.into(),
            callback_url: None,
            update_manager,
        },
    }
}

impl World {
    /// Bob's next decision at a gate or window, if the test queued one.
    async fn decide(&self, cr: &ChangeRequestId) {
        let next = self.at_gate.lock().unwrap().pop_front();
        let why = || reason("the new side misbehaves");
        match next {
            Some("approve") => drop(self.deps.changes.approve(cr, &bob()).await.unwrap()),
            Some("reject") => drop(self.deps.changes.reject(cr, &bob()).await.unwrap()),
            Some("rollback") => drop(self.deps.changes.request_rollback(cr, &bob(), why()).await.unwrap()),
            Some(other) => panic!("no such decision {other}"),
            None => {}
        }
    }

    // --- writing the table (straight, past the armed faults) ---------------------------------

    async fn put(&self, item: Item) {
        self.table.inner.batch_put(vec![item]).await.unwrap();
    }

    async fn put_record<R: Record>(&self, r: &R) {
        self.put(r.to_item().unwrap()).await;
    }

    /// Counts a tenant in (or out of) the fleet counters, as the API does when it writes one.
    async fn count(&self, t: &Tenant, by: i64) {
        let mut tx = Tx::<ChangeError>::new();
        changes::fleet::count_in_fleet(&mut tx, &[(t.state, &t.release, by)], ChangeError::Duplicate);
        tx.commit(&self.table.inner).await.unwrap();
    }

    async fn release(&self, version: &str, components: &[(&str, &str)]) -> ProductRelease {
        let manifest: serde_json::Map<String, Value> =
            components.iter().map(|(n, v)| ((*n).into(), json!(v))).collect();
        let cmd = serde_json::from_value(json!({ "version": version, "components": manifest })).unwrap();
        let r = ProductRelease::create(cmd, &admin()).unwrap();
        self.put_record(&r).await;
        r
    }

    async fn component(&self, t: &Tenant, name: &str, version: &str) -> ComponentVersion {
        let c = ComponentVersion {
            tenant_id: t.id.clone(),
            name: ComponentName::parse(name).unwrap(),
            version: ComponentVersionLabel::parse(version).unwrap(),
            stamp: Stamp::first(&admin()),
        };
        self.put_record(&c).await;
        c
    }

    fn create(release: &str, import: bool) -> (Tenant, TenantChangeRequest) {
        let n = NEXT_NAME.fetch_add(1, Ordering::SeqCst);
        let cmd: TenantCreate = serde_json::from_value(json!({
            "customer_id": CustomerId::generate(), "name": format!("tenant-{n}"), "release": release, "import": import
        }))
        .unwrap();
        Tenant::create(cmd, &admin())
    }

    /// A tenant resting in `state` on `release`, held by nothing, counted in the fleet.
    async fn tenant(&self, state: TenantState, release: &str) -> Tenant {
        let (mut t, _) = Self::create(release, false);
        t.state = state;
        t.active_change_request_id = None;
        self.put_record(&t).await;
        self.count(&t, 1).await;
        t
    }

    /// A new tenant and the running change request that creating it started (`provision`, or
    /// `validate` for an imported one), as the API writes them.
    async fn created(&self, release: &str, import: bool) -> (Tenant, TenantChangeRequest) {
        let (t, mut cr) = Self::create(release, import);
        cr.status = ChangeRequestStatus::Running;
        self.put_record(&cr).await;
        self.put_record(&t).await;
        self.count(&t, 1).await;
        (t, cr)
    }

    /// A running change request of `op` holding `t`, requested in `t`'s current state (as the
    /// API writes it: the plan's change model, the start state).
    async fn hold(
        &self,
        t: &mut Tenant,
        op: Operation,
        model: Option<ChangeModel>,
        params: Value,
    ) -> TenantChangeRequest {
        let plan = lifecycle::plan(t.state, op, model).unwrap();
        let params: ChangeParams = serde_json::from_value(params).unwrap();
        let mut cr = TenantChangeRequest::new(t.id.clone(), op, params, ChangeRequestStatus::Running, &admin());
        cr.change_model = plan.change_model;
        cr.started_from = Some(t.state);
        t.active_change_request_id = Some(cr.id.clone());
        self.put_record(&cr).await;
        self.put_record(t).await;
        cr
    }

    /// Registers a resource with `arn` as used by `t` (the link item only: what the task reads).
    async fn link(&self, t: &TenantId, arn: &str) {
        self.put(layout::resource_link_item(t, &ResourceId::generate(), &domain::Arn::parse(arn).unwrap())).await;
    }

    /// The tenant as a PATCH of its name and description leaves it: edit `n`, the next revision.
    async fn edited(&self, id: &TenantId, n: usize) -> Tenant {
        let mut t = self.tenant_now(id).await;
        t.name = TenantName::parse(&format!("edited-{n}")).unwrap();
        t.description = Some(Text::parse(&format!("edit {n}")).unwrap());
        t.stamp = t.stamp.next(&admin());
        t
    }

    /// Moves the change request's deadline (set at `begin`) into the past.
    async fn pass_deadline(&self, id: &ChangeRequestId) {
        let mut cr = self.cr_now(id).await;
        assert!(cr.deadline_at.is_some(), "begin sets the deadline");
        cr.deadline_at = Some(ago(1));
        cr.stamp = cr.stamp.next(&admin());
        self.put_record(&cr).await;
    }

    // --- reading it back --------------------------------------------------------------------

    async fn tenant_now(&self, id: &TenantId) -> Tenant {
        Tenant::from_item(self.table.get(&layout::tenant_key(id)).await.unwrap().expect("the tenant")).unwrap()
    }

    async fn cr_now(&self, id: &ChangeRequestId) -> TenantChangeRequest {
        TenantChangeRequest::from_item(self.table.get(&layout::change_request_key(id)).await.unwrap().expect("the cr"))
            .unwrap()
    }

    async fn components_now(&self, id: &TenantId) -> BTreeMap<String, ComponentVersion> {
        let q = Query::new(None, layout::tenant_partition(id)).prefix(layout::COMPONENT_PREFIX).limit(100);
        self.table
            .query(&q)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|i| !layout::is_tombstone(i))
            .map(|i| ComponentVersion::from_item(i).unwrap())
            .map(|c| (c.name.to_string(), c))
            .collect()
    }

    async fn health_runs(&self, id: &TenantId) -> Vec<domain::HealthRun> {
        let q = Query::new(None, layout::tenant_partition(id)).prefix(layout::HEALTH_PREFIX).limit(100);
        self.table
            .query(&q)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|i| domain::HealthRun::from_item(i).unwrap())
            .collect()
    }

    fn changes(&self) -> &Changes {
        &self.deps.changes
    }

    /// The fleet counters (`dimension` → value → count).
    fn counters(&self) -> BTreeMap<(String, String), i64> {
        let items = self.table.dump();
        layout::fleet_counts(
            items.iter().filter(|i| i.get("pk").and_then(Value::as_str) == Some(layout::FLEET_PARTITION)),
        )
    }

    fn counter(&self, dimension: &str, value: &str) -> i64 {
        self.counters().get(&(dimension.to_owned(), value.to_owned())).copied().unwrap_or(0)
    }

    /// The FLEET counters say what the tenant items say: per state and per release, and both
    /// dimensions sum to the number of tenants.
    fn assert_fleet_consistent(&self) {
        let tenants: Vec<Tenant> = self
            .table
            .dump()
            .into_iter()
            .filter(|i| i.get("item_type").and_then(Value::as_str) == Some("tenant"))
            .map(|i| Tenant::from_item(i).unwrap())
            .collect();
        let mut expected: BTreeMap<(String, String), i64> = BTreeMap::new();
        for t in &tenants {
            *expected.entry(("state".into(), t.state.to_string())).or_default() += 1;
            *expected.entry(("release".into(), t.release.to_string())).or_default() += 1;
        }
        let counters = self.counters();
        assert!(counters.values().all(|c| *c >= 0), "a negative fleet counter: {counters:?}");
        let nonzero: BTreeMap<_, _> = counters.into_iter().filter(|(_, c)| *c != 0).collect();
        assert_eq!(nonzero, expected, "the fleet counters disagree with the tenants");
        for dimension in ["state", "release"] {
            let sum: i64 = nonzero.iter().filter(|((d, _), _)| d == dimension).map(|(_, c)| c).sum();
            assert_eq!(sum, tenants.len() as i64, "{dimension} counters sum to the number of tenants");
        }
    }

    // --- running tasks ----------------------------------------------------------------------

    /// Sends a task as the state machine does: its JSON payload, through the Lambda handler.
    async fn call(&self, payload: Value) -> Result<Value, TaskError> {
        handle(&self.deps, LambdaEvent::new(payload, Context::default())).await
    }

    async fn begin(&self, cr: &ChangeRequestId) -> Vec<Step> {
        let answer = self.call(begin(cr)).await.expect("begin");
        serde_json::from_value(answer["steps"].clone()).unwrap()
    }

    /// Sends `task`, which must fail with `Conflict` and write, trigger and send nothing.
    async fn assert_refused(&self, task: Value, why: &str) {
        let table = self.table.dump();
        let (builds, commands) = (self.jenkins.triggered().len(), self.ssm.sent().len());
        let e = error_of(self.call(task.clone()).await);
        assert_eq!(e.error_type(), "Conflict", "{task} when {why}: {e}");
        assert_eq!(self.table.dump(), table, "{task} when {why} wrote to the table");
        assert_eq!(self.jenkins.triggered().len(), builds, "{task} when {why} triggered a job");
        assert_eq!(self.ssm.sent().len(), commands, "{task} when {why} sent a command");
    }
}

// --- task payloads, as the ASL builds them ------------------------------------------------------

fn begin(cr: &ChangeRequestId) -> Value {
    json!({ "action": "begin", "change_request_id": cr })
}

/// The task for step `name` of the plan `begin` answered, as the Map sends it: the step's
/// index and the step.
fn step_task(action: &str, cr: &ChangeRequestId, steps: &[Step], name: &str) -> Value {
    let index = index_of(steps, name);
    json!({ "action": action, "change_request_id": cr, "index": index, "step": steps[index] })
}

fn poll_task(action: &str, cr: &ChangeRequestId, steps: &[Step], name: &str, ticket: &Value) -> Value {
    let mut task = step_task(action, cr, steps, name);
    task["ticket"] = ticket.clone();
    task
}

fn finish(cr: &ChangeRequestId, outcome: &str, error: Option<Value>) -> Value {
    match error {
        Some(e) => json!({ "action": "finish", "change_request_id": cr, "outcome": outcome, "error": e }),
        None => json!({ "action": "finish", "change_request_id": cr, "outcome": outcome }),
    }
}

fn release(cr: &ChangeRequestId, error: Value) -> Value {
    json!({ "action": "release", "change_request_id": cr, "error": error })
}

/// The error object a Catch puts in `$.error` for a task that failed with `e`: the Lambda
/// error's type, and its JSON diagnostic as the cause.
fn caught(e: TaskError) -> Value {
    let d = Diagnostic::from(e);
    json!({ "Error": d.error_type, "Cause": serde_json::to_string(&d).unwrap() })
}

fn names(steps: &[Step]) -> Vec<&str> {
    steps.iter().map(Step::name).collect()
}

fn index_of(steps: &[Step], name: &str) -> usize {
    steps.iter().position(|s| s.name() == name).unwrap_or_else(|| panic!("no step {name} in {steps:?}"))
}

fn jenkins_step(job: &str, suite: Option<&str>) -> Step {
    Step::Jenkins {
        name: match suite {
            Some(s) => format!("health suite {s}"),
            None => format!("jenkins {job}"),
        },
        job: JobName::parse(job).unwrap(),
        suite: suite.map(str::to_owned),
        backup: false,
        undo: false,
        secret: None,
        poll_seconds: PACE.poll_seconds,
        timeout_seconds: PACE.jenkins_timeout_seconds,
    }
}

fn playbook_step(playbook: &str) -> Step {
    Step::Ssm {
        name: format!("ansible {playbook}"),
        playbook: JobName::parse(playbook).unwrap(),
        secret: None,
        poll_seconds: PACE.poll_seconds,
        timeout_seconds: PACE.ssm_timeout_seconds,
    }
}

fn error_of(r: Result<Value, TaskError>) -> TaskError {
    match r {
        Err(e) => e,
        Ok(v) => panic!("expected an error, the task answered {v}"),
    }
}

/// The last recorded step of that name.
fn recorded<'a>(cr: &'a TenantChangeRequest, name: &str) -> &'a ChangeStep {
    cr.steps.iter().rev().find(|s| s.name == name).unwrap_or_else(|| panic!("no step {name} in {:?}", cr.steps))
}

/// The once-only id of step `index` (the build's `PORTAL_STEP_ID`, the command's comment).
fn step_id(cr: &ChangeRequestId, index: usize) -> String {
    format!("{cr}-{index}")
}

fn ago(seconds: i64) -> DateTime<Utc> {
    Utc::now() - Duration::seconds(seconds)
}

/// How a run of the workflow edits its tenant as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edits {
    /// Written between two tasks, as a PATCH would be.
    BetweenTasks,
    /// Slipped in after a task's read, just before its next write.
    DuringTasks,
}

/// Sends `payload`, editing the tenant first as `edit` says; an edit made is recorded in
/// `edits` with the action it came before (edit `n` names the tenant `edited-n`).
async fn send(
    w: &World,
    edit: Option<(Edits, &TenantId)>,
    edits: &mut Vec<String>,
    payload: Value,
) -> Result<Value, TaskError> {
    if let Some((how, tenant)) = edit {
        let action = payload["action"].as_str().unwrap_or_default().to_owned();
        match how {
            Edits::BetweenTasks => {
                let t = w.edited(tenant, edits.len() + 1).await;
                w.put_record(&t).await;
                edits.push(action);
            }
            Edits::DuringTasks if !w.table.slip_pending() => {
                let t = w.edited(tenant, edits.len() + 1).await;
                w.table.slip_before_next_write(&t);
                edits.push(action);
            }
            Edits::DuringTasks => {}
        }
    }
    w.call(payload).await
}

/// Runs a change request the way `lifecycle.asl.json` does, without the waits: begin, each step
/// by its index (started, then polled until done), finish succeeded; any error is caught with the
/// error object Step Functions builds and asks for the rollback: a change that does not roll back
/// finishes failed; one that does runs the rollback's steps and finishes rolled back, or failed
/// when they fail too.
async fn drive(w: &World, cr: &ChangeRequestId) -> Value {
    drive_editing(w, cr, None).await.0
}

/// Runs `steps` (each with its index in the stored plan) as the ASL's Map does.
async fn run_steps(
    w: &World,
    cr: &ChangeRequestId,
    steps: &[(usize, Value)],
    edit: Option<(Edits, &TenantId)>,
    edits: &mut Vec<String>,
) -> Result<(), TaskError> {
    for (index, step) in steps {
        let task = |action: &str, ticket: Option<&Value>| {
            let mut t = json!({ "action": action, "change_request_id": cr, "index": index, "step": step });
            if let Some(ticket) = ticket {
                t["ticket"] = ticket.clone();
            }
            t
        };
        let (start, poll) = match step["kind"].as_str().expect("a step kind") {
            "transition" => {
                send(w, edit, edits, task("transition", None)).await?;
                continue;
            }
            "record_release" | "revert_release" | "drift" => {
                send(w, edit, edits, task("record", None)).await?;
                continue;
            }
            "secret" => {
                send(w, edit, edits, task("secret", None)).await?;
                continue;
            }
            "approval" | "window" => {
                // Polled until done, as the ASL's Wait loop does: a test decides meanwhile.
                let action = step["kind"].as_str().unwrap();
                for _ in 0..50 {
                    if send(w, edit, edits, task(action, None)).await?["done"] == json!(true) {
                        break;
                    }
                    w.decide(cr).await;
                }
                continue;
            }
            "jenkins" => ("jenkins_start", "jenkins_poll"),
            "ssm" => ("ssm_send", "ssm_poll"),
            other => panic!("the ASL has no branch for a {other} step"),
        };
        let mut ticket = send(w, edit, edits, task(start, None)).await?;
        for _ in 0..50 {
            ticket = send(w, edit, edits, task(poll, Some(&ticket))).await?;
            if ticket["done"] == json!(true) {
                break;
            }
        }
        assert_eq!(ticket["done"], json!(true), "step {step} never finished");
    }
    Ok(())
}

/// [`drive`], editing the tenant before every task as `edit` says; answers what finish answered
/// and the actions an edit came before.
async fn drive_editing(w: &World, cr: &ChangeRequestId, edit: Option<(Edits, &TenantId)>) -> (Value, Vec<String>) {
    let mut edits = Vec::new();
    let own = async {
        let recipe = send(w, edit, &mut edits, begin(cr)).await?;
        let steps: Vec<(usize, Value)> =
            recipe["steps"].as_array().expect("steps").iter().cloned().enumerate().collect();
        run_steps(w, cr, &steps, edit, &mut edits).await
    }
    .await;
    let end = match own {
        Ok(()) => finish(cr, "succeeded", None),
        Err(e) => {
            let error = caught(e);
            let task = json!({ "action": "rollback", "change_request_id": cr, "error": error });
            match send(w, edit, &mut edits, task).await {
                Err(e) => finish(cr, "failed", Some(caught(e))),
                Ok(r) if r["rolls_back"] == json!(false) => finish(cr, "failed", Some(error)),
                Ok(r) => {
                    let steps: Vec<(usize, Value)> = r["steps"]
                        .as_array()
                        .expect("rollback steps")
                        .iter()
                        .map(|s| (s["index"].as_u64().unwrap() as usize, s["step"].clone()))
                        .collect();
                    assert_eq!(r["run"], json!(!steps.is_empty()));
                    match run_steps(w, cr, &steps, edit, &mut edits).await {
                        Ok(()) => finish(cr, "rolled_back", Some(error)),
                        Err(e) => finish(cr, "failed", Some(caught(e))),
                    }
                }
            }
        }
    };
    let answer = send(w, edit, &mut edits, end).await.expect("finish");
    (answer, edits)
}

// =================================================================================================
// begin

/// (operation, state it starts from, change model, steps, state after begin)
type BeginCase = (Operation, TenantState, Option<ChangeModel>, Vec<&'static str>, TenantState);

#[tokio::test]
async fn begin_answers_the_steps_of_each_operation_stores_them_and_enters_its_first_state() {
    let all = ["health suite api-smoke", "health suite ui-smoke"];
    #[rustfmt::skip]
    let cases: Vec<BeginCase> = vec![
        (Op::Upgrade, S::Healthy, Some(M::Maintenance),
            [&["snapshot", "jenkins upgrade-tenant", "record release", "state InTesting"][..], &all[..]].concat(), S::Maintenance),
        (Op::Upgrade, S::Healthy, Some(M::Swap),
            vec!["jenkins upgrade-tenant-swap", "new side health suite api-smoke", "new side health suite ui-smoke",
                 "cut-over approval", "jenkins cut-over-tenant-swap", "record release", "state InTesting",
                 "fallback window", "jenkins release-old-side"], S::Healthy),
        (Op::Upgrade, S::Maintenance, None,
            [&["snapshot", "jenkins upgrade-tenant", "record release", "state InTesting"][..], &all[..]].concat(), S::Maintenance),
        (Op::Backup, S::Healthy, None, vec!["ansible public-access-off", "jenkins backup-tenant", "ansible public-access-on"], S::BackingUp),
        (Op::Backup, S::Maintenance, None, vec!["ansible public-access-off", "jenkins backup-tenant", "ansible public-access-on"], S::BackingUp),
        (Op::EnterMaintenance, S::Healthy, None, vec!["ansible maintenance-on"], S::Healthy),
        (Op::ExitMaintenance, S::Maintenance, None, [&["ansible maintenance-off"][..], &all[..]].concat(), S::InTesting),
        (Op::Resume, S::Suspended, None, [&["ansible restore-access"][..], &all[..]].concat(), S::InTesting),
        (Op::Suspend, S::Healthy, None, vec!["ansible suspend-access"], S::Healthy),
        (Op::Terminate, S::Broken, None, vec!["jenkins terminate-tenant"], S::Broken),
        (Op::Restore, S::Broken, Some(M::Maintenance),
            [&["jenkins restore-tenant", "state InTesting"][..], &all[..]].concat(), S::Restoring),
        (Op::Restore, S::Maintenance, Some(M::Swap),
            vec!["jenkins restore-tenant-swap", "new side health suite api-smoke", "new side health suite ui-smoke",
                 "jenkins cut-over-tenant-swap", "state InTesting", "fallback window", "jenkins release-old-side"],
            S::Maintenance),
        (Op::Validate, S::Healthy, None, all.to_vec(), S::InTesting),
        (Op::RotateWebappPassword, S::Healthy, None,
            vec!["new secret version", "ansible rotate-webapp-password", "jenkins verify-webapp-password", "promote secret version"], S::Healthy),
        (Op::RotateDbPassword, S::Healthy, Some(M::Maintenance),
            vec!["new secret version", "ansible rotate-db-password", "jenkins verify-db-password", "promote secret version"], S::Maintenance),
        (Op::RotateAirflowPassword, S::Healthy, Some(M::Swap),
            vec!["new secret version", "ansible rotate-airflow-password", "jenkins verify-airflow-password", "promote secret version"], S::Healthy),
        (Op::AdoptDrift, S::Suspended, None, vec!["adopt drift"], S::Suspended),
        (Op::ReapplyRecorded, S::Broken, None,
            [&["reapply recorded", "verify no drift", "state InTesting"][..], &all[..]].concat(), S::Maintenance),
    ];
    for (op, from, model, expected, entered) in cases {
        let case = format!("{op} from {from} with {model:?}");
        let w = world();
        let mut t = w.tenant(from, "3.1.0").await;
        let params = match op {
            Op::Upgrade => json!({ "release": "3.2.0" }),
            Op::Restore => json!({ "backup_id": "bk-1" }),
            _ => json!({}),
        };
        let cr = w.hold(&mut t, op, model, params).await;
        let answer = w.call(begin(&cr.id)).await.unwrap_or_else(|e| panic!("{case}: {e}"));
        let steps: Vec<Step> = serde_json::from_value(answer["steps"].clone()).unwrap();
        assert_eq!(names(&steps), expected, "{case}");
        let plan = lifecycle::plan(from, op, model).unwrap();
        assert_eq!(cr.plan().unwrap(), plan);
        let recipe = recipe::steps(&plan, &cr.params, &suites(), PACE).unwrap();
        assert_eq!(answer, json!({ "steps": recipe }), "{case}: the answer is the recipe");
        let after = w.cr_now(&cr.id).await;
        assert_eq!(after.planned_steps, steps, "{case}: the steps are stored for every later task");
        let deadline = after.deadline_at.expect("a deadline");
        let expected_deadline = Utc::now() + Duration::seconds(steps::begin::deadline_seconds(&steps));
        assert!((expected_deadline - deadline).num_seconds().abs() < 5, "{case}: deadline {deadline}");
        let now = w.tenant_now(&t.id).await;
        assert_eq!(now.state, entered, "{case} enters {entered}");
        assert_eq!(now.active_change_request_id.as_ref(), Some(&cr.id), "still held");
        w.assert_fleet_consistent();
    }
}

#[test]
fn the_deadline_is_every_steps_timeout_and_poll_plus_a_minute_a_step() {
    let steps = [jenkins_step("backup-tenant", None), playbook_step("maintenance-on")];
    // A timeout is noticed at most one poll late (a Jenkins step's is its heartbeat).
    assert_eq!(steps::begin::deadline_seconds(&steps), (3600 + 5 + 60) + (900 + 5 + 60));
    let to = Step::Transition { name: "state InTesting".into(), to: S::InTesting };
    assert_eq!(steps::begin::deadline_seconds(&[to]), 60);
    assert_eq!(steps::begin::deadline_seconds(&[]), 60, "never less than a minute");
}

#[tokio::test]
async fn begin_of_a_new_tenant_answers_provision_or_validate_and_moves_nothing() {
    for (import, expected, state) in [
        (
            false,
            vec!["jenkins provision-tenant", "state InTesting", "health suite api-smoke", "health suite ui-smoke"],
            S::Provisioning,
        ),
        (true, vec!["health suite api-smoke", "health suite ui-smoke"], S::InTesting),
    ] {
        let w = world();
        let (t, cr) = w.created("3.1.0", import).await;
        let steps = w.begin(&cr.id).await;
        assert_eq!(names(&steps), expected, "import: {import}");
        let now = w.tenant_now(&t.id).await;
        assert_eq!(now.state, state);
        assert_eq!(now.stamp.revision, t.stamp.revision, "no state entered: the tenant is not written");
        assert_eq!(recorded(&w.cr_now(&cr.id).await, "begin").status, StepStatus::Succeeded);
        w.assert_fleet_consistent();
    }
}

#[tokio::test]
async fn begin_of_an_upgrade_enters_maintenance_but_a_swap_leaves_the_tenant_serving() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;

    let now = w.tenant_now(&t.id).await;
    assert_eq!(now.state, S::Maintenance);
    assert_eq!(now.stamp.revision, t.stamp.revision + 1);
    assert_eq!(now.stamp.change_request_id.as_ref(), Some(&cr.id), "the write is attributed to the change request");
    assert_eq!(now.stamp.source, Source::Workflow);
    assert_eq!(now.release, t.release, "the release moves only at the end");
    let after = w.cr_now(&cr.id).await;
    assert_eq!(after.status, ChangeRequestStatus::Running);
    assert_eq!(after.stamp.revision, cr.stamp.revision + 1);
    let step = recorded(&after, "begin");
    assert_eq!((step.status, step.error.as_deref()), (StepStatus::Succeeded, None));
    assert!(step.ended_at.is_some());
    let detail = step.detail.as_ref().expect("the plan is kept");
    assert_eq!(detail["plan"]["enter"], "Maintenance");
    // The steps are kept as the change request's plan (they were in the begin step's detail).
    assert_eq!(after.planned_steps, steps);
    assert!(
        matches!(&after.planned_steps[0], Step::Jenkins { job, backup: true, .. } if job.as_str() == "backup-tenant")
    );
    assert!(matches!(&after.planned_steps[1], Step::Jenkins { job, .. } if job.as_str() == "upgrade-tenant"));
    assert_eq!((w.counter("state", "Healthy"), w.counter("state", "Maintenance")), (0, 1));
    w.assert_fleet_consistent();

    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Swap), json!({ "release": "3.2.0" })).await;
    w.begin(&cr.id).await;
    let now = w.tenant_now(&t.id).await;
    assert_eq!(now, t, "a swap does not touch the live tenant at the start");
    let step = recorded(&w.cr_now(&cr.id).await, "begin").clone();
    assert_eq!(step.detail.unwrap()["plan"]["enter"], Value::Null);
    assert_eq!((w.counter("state", "Healthy"), w.counter("state", "Maintenance")), (1, 0));
}

#[tokio::test]
async fn a_retried_begin_answers_the_same_steps_and_changes_nothing() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let first = w.call(begin(&cr.id)).await.unwrap();
    let table = w.table.dump();
    let again = w.call(begin(&cr.id)).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(w.table.dump(), table, "a retried begin writes nothing");
    let after = w.cr_now(&cr.id).await;
    assert_eq!(after.steps.iter().filter(|s| s.name == "begin").count(), 1);
    assert_eq!(w.tenant_now(&t.id).await.state, S::Maintenance, "not entered twice, not moved back");
}

#[tokio::test]
async fn a_retried_begin_answers_the_stored_plan_even_when_no_plan_could_be_made_now() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Validate, None, json!({})).await;
    let first = w.begin(&cr.id).await;
    assert_eq!(names(&first), ["health suite api-smoke", "health suite ui-smoke"]);
    // The release's suites change since: one whose job (`health-<suite>`) is too long a job name.
    let mut r = w.release("3.1.0", &[("webapp", "3.1.0")]).await;
    r.health_suites = vec![domain::SuiteName::parse(&format!("s{}", "x".repeat(60))).unwrap()];
    w.put_record(&r).await;
    let mut other = w.tenant(S::Healthy, "3.1.0").await;
    let fresh = w.hold(&mut other, Op::Validate, None, json!({})).await;
    let e = error_of(w.call(begin(&fresh.id)).await);
    assert_eq!(e.error_type(), "Invalid", "no plan can be made now: {e}");
    assert!(e.to_string().contains("does not name a Jenkins job"), "{e}");

    let table = w.table.dump();
    assert_eq!(w.begin(&cr.id).await, first, "the plan stored at the first begin is the plan");
    assert_eq!(w.table.dump(), table);
}

// =================================================================================================
// The claim: every action refuses a change request that does not hold its tenant

/// The work a change request under way runs.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// An upgrade: a build to poll, then a transition.
    Build,
    /// An entry into maintenance: a command to poll.
    Command,
}

/// A running change request that has begun and started its work, and every task its execution
/// may send, each named.
async fn under_way(work: Work) -> (World, Tenant, TenantChangeRequest, Vec<(&'static str, Value)>) {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let (cr, mut tasks) = match work {
        Work::Build => {
            w.release("3.2.0", &[("webapp", "3.2.0")]).await;
            let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
            let steps = w.begin(&cr.id).await;
            let start = step_task("jenkins_start", &cr.id, &steps, "jenkins upgrade-tenant");
            let ticket = w.call(start.clone()).await.unwrap();
            let tasks = vec![
                ("begin", begin(&cr.id)),
                ("transition", step_task("transition", &cr.id, &steps, "state InTesting")),
                ("jenkins_start", start),
                ("jenkins_poll", poll_task("jenkins_poll", &cr.id, &steps, "jenkins upgrade-tenant", &ticket)),
            ];
            (cr, tasks)
        }
        Work::Command => {
            let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
            let steps = w.begin(&cr.id).await;
            let send = step_task("ssm_send", &cr.id, &steps, "ansible maintenance-on");
            let ticket = w.call(send.clone()).await.unwrap();
            let tasks = vec![
                ("begin", begin(&cr.id)),
                ("ssm_send", send),
                ("ssm_poll", poll_task("ssm_poll", &cr.id, &steps, "ansible maintenance-on", &ticket)),
            ];
            (cr, tasks)
        }
    };
    tasks.push(("finish succeeded", finish(&cr.id, "succeeded", None)));
    tasks.push(("finish failed", finish(&cr.id, "failed", Some(json!({ "Error": "Timeout", "Cause": "late" })))));
    let t = w.tenant_now(&t.id).await;
    let cr = w.cr_now(&cr.id).await;
    (w, t, cr, tasks)
}

/// Every task is refused with `Conflict` and nothing is written, triggered or sent.
async fn assert_every_task_refused(w: &World, tasks: &[(&str, Value)], except_finish: bool, why: &str) {
    for (name, task) in tasks {
        if except_finish && name.starts_with("finish") {
            continue;
        }
        w.assert_refused(task.clone(), &format!("{name} when {why}")).await;
    }
}

#[tokio::test]
async fn every_action_refuses_a_change_request_whose_tenant_was_released() {
    for work in [Work::Build, Work::Command] {
        let (w, mut t, _, tasks) = under_way(work).await;
        t.active_change_request_id = None;
        w.put_record(&t).await;
        assert_every_task_refused(&w, &tasks, false, &format!("{work:?}: the tenant was released")).await;
    }
}

#[tokio::test]
async fn every_action_refuses_a_change_request_whose_tenant_another_one_holds() {
    for work in [Work::Build, Work::Command] {
        let (w, mut t, _, tasks) = under_way(work).await;
        let other = TenantChangeRequest::new(
            t.id.clone(),
            Op::Backup,
            ChangeParams::default(),
            ChangeRequestStatus::Running,
            &admin(),
        );
        t.active_change_request_id = Some(other.id.clone());
        w.put_record(&other).await;
        w.put_record(&t).await;
        assert_every_task_refused(&w, &tasks, false, &format!("{work:?}: another change request holds the tenant"))
            .await;
        let other_now = w.cr_now(&other.id).await;
        assert_eq!(other_now, other, "the other change request is untouched");
    }
}

#[tokio::test]
async fn every_action_refuses_a_change_request_that_is_not_running() {
    for work in [Work::Build, Work::Command] {
        for status in [ChangeRequestStatus::Pending, ChangeRequestStatus::AwaitingApproval] {
            let (w, _, mut cr, tasks) = under_way(work).await;
            cr.status = status;
            w.put_record(&cr).await;
            assert_every_task_refused(&w, &tasks, false, &format!("{work:?}: the change request is {status}")).await;
        }
    }
}

#[tokio::test]
async fn an_ended_change_request_is_refused_and_its_finish_or_release_only_answers_how_it_ended() {
    for work in [Work::Build, Work::Command] {
        for status in [ChangeRequestStatus::Cancelled, ChangeRequestStatus::Rejected] {
            let (w, t, mut cr, mut tasks) = under_way(work).await;
            cr.status = status;
            w.put_record(&cr).await;
            let case = format!("{work:?}: the change request is {status}");
            assert_every_task_refused(&w, &tasks, true, &case).await;
            tasks.push(("release", release(&cr.id, json!({ "Error": "Invalid", "Cause": "x" }))));
            let table = w.table.dump();
            for (name, task) in tasks.iter().filter(|(n, _)| n.starts_with("finish") || *n == "release") {
                let answer = w.call(task.clone()).await.unwrap_or_else(|e| panic!("{name}, {case}: {e}"));
                // The answer now also says where the tenant is.
                assert_eq!(answer, json!({ "status": status, "state": t.state }), "{name}, {case}");
            }
            assert_eq!(w.table.dump(), table, "{case}: finishing or releasing an ended change request writes nothing");
        }
    }
}

#[tokio::test]
async fn tasks_of_an_unknown_change_request_are_invalid() {
    let w = world();
    let nobody = ChangeRequestId::generate();
    let send = json!({ "action": "ssm_send", "change_request_id": nobody, "index": 0, "step": playbook_step("x") });
    for task in [begin(&nobody), finish(&nobody, "succeeded", None), send, release(&nobody, json!({}))] {
        assert_eq!(error_of(w.call(task.clone()).await).error_type(), "Invalid", "{task}");
    }
    assert!(w.table.dump().is_empty());
}

// =================================================================================================
// Every task runs the plan stored at begin

#[tokio::test]
async fn a_task_runs_the_stored_step_it_names_never_the_step_its_payload_carries() {
    let w = world();
    w.jenkins.script("upgrade-tenant", JobScript::hang());
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;

    // Named by its name alone: the stored job runs, with the stored timeout.
    let forged = json!({ "kind": "jenkins", "name": "jenkins upgrade-tenant", "job": "terminate-tenant",
                         "poll_seconds": 1, "timeout_seconds": 1 });
    let start = json!({ "action": "jenkins_start", "change_request_id": cr.id, "step": forged });
    let ticket: BuildTicket = serde_json::from_value(w.call(start).await.unwrap()).unwrap();
    let built = w.jenkins.triggered();
    assert_eq!(built.len(), 1);
    assert_eq!(built[0].job, "upgrade-tenant", "the stored job, not the payload's");
    assert_eq!(built[0].params[STEP_ID_PARAM], step_id(&cr.id, index_of(&steps, "jenkins upgrade-tenant")));
    let late = BuildTicket { started_at: ago(60), ..ticket };
    let poll = json!({ "action": "jenkins_poll", "change_request_id": cr.id, "step": forged, "ticket": late });
    let answer = w.call(poll).await.unwrap();
    assert_eq!(answer["done"], json!(false), "the stored 3600 s apply, not the payload's 1 s");

    // An index names the step, whatever step the payload carries (and a job that is no job
    // name is never read).
    let shell = json!({ "kind": "jenkins", "name": "jenkins upgrade-tenant", "job": "x; rm -rf /" });
    let at = index_of(&steps, "health suite api-smoke");
    let suite = json!({ "action": "jenkins_start", "change_request_id": cr.id, "index": at, "step": shell });
    w.call(suite).await.unwrap();
    let built = w.jenkins.triggered();
    assert_eq!(
        (built[1].job.as_str(), built[1].params.get("SUITE").map(String::as_str)),
        ("health-api-smoke", Some("api-smoke"))
    );
    assert_eq!(built[1].params[STEP_ID_PARAM], step_id(&cr.id, at));
    let nowhere = json!({ "kind": "transition", "name": "state InTesting", "to": "EndOfLife" });
    let at = index_of(&steps, "state InTesting");
    let to_testing = json!({ "action": "transition", "change_request_id": cr.id, "index": at, "step": nowhere });
    w.call(to_testing).await.unwrap();
    assert_eq!(w.tenant_now(&t.id).await.state, S::InTesting, "the stored state, not the payload's");

    // A payload naming no step of the plan is refused, and runs nothing.
    let table = w.table.dump();
    for task in [
        json!({ "action": "jenkins_start", "change_request_id": cr.id, "step": jenkins_step("terminate-tenant", None) }),
        json!({ "action": "jenkins_start", "change_request_id": cr.id, "index": steps.len(), "step": steps[0] }),
        json!({ "action": "transition", "change_request_id": cr.id, "step": { "kind": "transition", "name": "state EndOfLife", "to": "EndOfLife" } }),
        json!({ "action": "ssm_send", "change_request_id": cr.id, "step": playbook_step("maintenance-on") }),
    ] {
        let e = error_of(w.call(task.clone()).await);
        assert_eq!(e.error_type(), "Invalid", "{task}: {e}");
        assert!(e.to_string().contains("names no step"), "{e}");
    }
    assert_eq!(w.table.dump(), table);
    assert_eq!(w.jenkins.triggered().len(), 2);
}

#[tokio::test]
async fn an_ssm_task_runs_the_stored_playbook_whatever_its_payload_names() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    w.begin(&cr.id).await;
    let forged = json!({ "kind": "ssm", "name": "ansible maintenance-on", "playbook": "suspend-access",
                         "poll_seconds": 1, "timeout_seconds": 1 });
    w.call(json!({ "action": "ssm_send", "change_request_id": cr.id, "step": forged })).await.unwrap();
    let sent = w.ssm.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].playbook.as_str(), sent[0].timeout_seconds), ("maintenance-on", 900));
}

#[tokio::test]
async fn a_task_before_begin_is_invalid_and_runs_nothing() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let job = jenkins_step("upgrade-tenant", None);
    let ticket = json!({ "build": QueuedBuild::queued("upgrade-tenant", "memory://jenkins/queue/item/1/"),
                         "started_at": Utc::now() });
    let command = json!({ "command_id": "c-1", "instance_ids": ["i-0aaaaaaaaaaaaaaaa"], "started_at": Utc::now() });
    let to = Step::Transition { name: "state InTesting".into(), to: S::InTesting };
    let table = w.table.dump();
    for task in [
        json!({ "action": "transition", "change_request_id": cr.id, "index": 1, "step": to }),
        json!({ "action": "jenkins_start", "change_request_id": cr.id, "index": 0, "step": job }),
        json!({ "action": "jenkins_poll", "change_request_id": cr.id, "index": 0, "step": job, "ticket": ticket }),
        json!({ "action": "ssm_send", "change_request_id": cr.id, "index": 0, "step": playbook_step("maintenance-on") }),
        json!({ "action": "ssm_poll", "change_request_id": cr.id, "index": 0, "step": playbook_step("maintenance-on"),
                "ticket": command }),
    ] {
        let e = error_of(w.call(task.clone()).await);
        assert_eq!(e.error_type(), "Invalid", "{task}: {e}");
        assert!(e.to_string().contains("begin first"), "{e}");
    }
    assert_eq!(w.table.dump(), table);
    assert!(w.jenkins.triggered().is_empty() && w.ssm.sent().is_empty());
}

// =================================================================================================
// transition

#[tokio::test]
async fn a_transition_moves_the_tenant_and_keeps_the_fleet_counters_exact() {
    let w = world();
    w.tenant(S::Healthy, "3.1.0").await;
    w.tenant(S::Broken, "3.2.0").await;
    w.tenant(S::InTesting, "3.1.0").await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;
    w.assert_fleet_consistent();
    assert_eq!(w.counter("state", "Maintenance"), 1);

    let to_testing = step_task("transition", &cr.id, &steps, "state InTesting");
    let answer = w.call(to_testing.clone()).await.unwrap();
    assert_eq!(answer, json!({ "done": true }));
    let now = w.tenant_now(&t.id).await;
    assert_eq!(now.state, S::InTesting);
    assert_eq!(now.active_change_request_id.as_ref(), Some(&cr.id), "a transition keeps the claim");
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "state InTesting");
    assert_eq!(step.status, StepStatus::Succeeded);
    assert_eq!(step.detail, Some(json!({ "from": "Maintenance", "to": "InTesting" })));
    w.assert_fleet_consistent();
    let by_state = |s: &str| w.counter("state", s);
    assert_eq!([by_state("Healthy"), by_state("Maintenance"), by_state("InTesting"), by_state("Broken")], [1, 0, 2, 1]);
    assert_eq!((w.counter("release", "3.1.0"), w.counter("release", "3.2.0")), (3, 1));

    // Retried (or a transition into the state it is in): the tenant is not written again.
    let counters = w.counters();
    let table = w.table.dump();
    w.call(to_testing).await.unwrap();
    assert_eq!(w.tenant_now(&t.id).await, now);
    assert_eq!(w.counters(), counters);
    assert_eq!(w.table.dump(), table, "a retried transition writes nothing");
    w.assert_fleet_consistent();
}

// =================================================================================================
// jenkins_start / jenkins_poll

#[tokio::test]
async fn jenkins_start_passes_the_tenant_the_target_release_the_change_request_and_its_step() {
    let w = world();
    w.release("3.2.0", &[("webapp", "3.2.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;

    let ticket = w.call(step_task("jenkins_start", &cr.id, &steps, "jenkins upgrade-tenant")).await.unwrap();
    let built = w.jenkins.triggered();
    assert_eq!(built.len(), 1);
    assert_eq!(built[0].job, "upgrade-tenant");
    let expected: BTreeMap<String, String> = [
        ("TENANT_ID", t.id.to_string()),
        ("TENANT_NAME", t.name.to_string()),
        ("RELEASE", "3.2.0".into()),
        ("CHANGE_REQUEST_ID", cr.id.to_string()),
        ("OPERATION", "upgrade".into()),
        ("CHANGE_MODEL", "maintenance".into()),
        (STEP_ID_PARAM, step_id(&cr.id, index_of(&steps, "jenkins upgrade-tenant"))),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(built[0].params, expected, "the upgrade target, its step, no BACKUP_ID, no SUITE");
    let ticket: BuildTicket = serde_json::from_value(ticket).unwrap();
    assert_eq!(ticket.build, QueuedBuild::queued("upgrade-tenant", built[0].queue_url.clone()));
    assert!(!ticket.done);
    assert!((Utc::now() - ticket.started_at).num_seconds() < 5);
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "jenkins upgrade-tenant");
    assert_eq!((step.status, step.ended_at), (StepStatus::Running, None));
    assert_eq!(
        step.detail,
        Some(json!({
            "job": "upgrade-tenant", "step_id": step_id(&cr.id, index_of(&steps, "jenkins upgrade-tenant")),
            "build": ticket.build, "queue_url": built[0].queue_url
        }))
    );
    assert_eq!(w.tenant_now(&t.id).await.state, S::Maintenance, "starting a job moves nothing");

    // A health suite names its suite.
    w.call(step_task("jenkins_start", &cr.id, &steps, "health suite ui-smoke")).await.unwrap();
    let suite = &w.jenkins.triggered()[1];
    assert_eq!(suite.job, "health-ui-smoke");
    assert_eq!(suite.params.get("SUITE").map(String::as_str), Some("ui-smoke"));
    assert_eq!(suite.params.get("RELEASE").map(String::as_str), Some("3.2.0"));
    assert_eq!(suite.params[STEP_ID_PARAM], step_id(&cr.id, index_of(&steps, "health suite ui-smoke")));
}

#[tokio::test]
async fn jenkins_start_passes_a_restores_backup_and_the_tenants_own_release() {
    let w = world();
    let mut t = w.tenant(S::Broken, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Restore, Some(M::Maintenance), json!({ "backup_id": "bk-2024-10-01" })).await;
    let steps = w.begin(&cr.id).await;
    // Not in the catalog (deleted since it was checked): the job is not started.
    let e = w.call(step_task("jenkins_start", &cr.id, &steps, "jenkins restore-tenant")).await.unwrap_err();
    assert!(format!("{e:?}").contains("not in the catalog"), "{e:?}");
    assert!(w.jenkins.triggered().is_empty());
    let reported: domain::ReportedBackup =
        serde_json::from_value(engine::jenkins::backup_report()["backup"].clone()).unwrap();
    let mut backup = domain::Backup::catalogued(
        &t.id,
        &cr.id,
        "alice",
        &reported,
        t.release.clone(),
        domain::TenantSnapshot::default(),
        &domain::WriteContext::api(domain::Actor { sub: "alice".into(), email: None }),
    );
    backup.id = domain::BackupId::parse("bk-2024-10-01").unwrap();
    w.put_record(&backup).await;
    w.call(step_task("jenkins_start", &cr.id, &steps, "jenkins restore-tenant")).await.unwrap();
    let p = &w.jenkins.triggered()[0].params;
    assert_eq!(p.get("BACKUP_LOCATION"), Some(&reported.location), "the job restores from the catalogued place");
    assert_eq!(p.get("BACKUP_CHECKSUM"), Some(&reported.checksum));
    assert_eq!(w.jenkins.triggered()[0].job, "restore-tenant");
    assert_eq!(p.get("BACKUP_ID").map(String::as_str), Some("bk-2024-10-01"));
    assert_eq!(p.get("RELEASE").map(String::as_str), Some("3.1.0"));
    assert_eq!(p.get("OPERATION").map(String::as_str), Some("restore"));
    assert!(!p.contains_key("SUITE"));

    // A provision has no change model; the release its params carry is its own.
    let w = world();
    let (t, cr) = w.created("3.1.0", false).await;
    let steps = w.begin(&cr.id).await;
    w.call(step_task("jenkins_start", &cr.id, &steps, "jenkins provision-tenant")).await.unwrap();
    let p = &w.jenkins.triggered()[0].params;
    assert_eq!(p.get("TENANT_ID"), Some(&t.id.to_string()));
    assert_eq!(p.get("RELEASE").map(String::as_str), Some("3.1.0"));
    assert_eq!(p.get("OPERATION").map(String::as_str), Some("provision"));
    assert!(!p.contains_key("CHANGE_MODEL") && !p.contains_key("BACKUP_ID"));
}

#[tokio::test]
async fn jenkins_start_when_jenkins_is_down_is_transient_records_only_its_intent_and_triggers_once_back() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let start = step_task("jenkins_start", &cr.id, &steps, "jenkins backup-tenant");
    w.jenkins.set_down(true);
    let e = error_of(w.call(start.clone()).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    // Before it calls Jenkins, the start records what it is about to do (no build yet).
    let intent =
        json!({ "job": "backup-tenant", "step_id": step_id(&cr.id, index_of(&steps, "jenkins backup-tenant")) });
    let step = recorded(&w.cr_now(&cr.id).await, "jenkins backup-tenant").clone();
    assert_eq!((step.status, step.detail), (StepStatus::Running, Some(intent)));
    assert!(w.jenkins.triggered().is_empty());
    let e = error_of(w.call(start.clone()).await);
    assert_eq!(e.error_type(), "Transient", "still down: {e}");

    w.jenkins.set_down(false);
    w.call(start.clone()).await.unwrap();
    assert_eq!(w.jenkins.triggered().len(), 1, "back up, the retry found nothing and triggered once");

    let w2 = world();
    let mut t = w2.tenant(S::Healthy, "3.1.0").await;
    let cr = w2.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w2.begin(&cr.id).await;
    w2.jenkins.set_refusing(true);
    let e = error_of(w2.call(step_task("jenkins_start", &cr.id, &steps, "jenkins backup-tenant")).await);
    assert_eq!(e.error_type(), "JenkinsFailed", "a refused token is not retried: {e}");
}

#[tokio::test]
async fn jenkins_poll_is_not_done_while_queued_or_running_and_done_on_success() {
    let w = world();
    w.jenkins.script("backup-tenant", JobScript::success().queued_for(2).running_for(2));
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let name = "jenkins backup-tenant";
    let started = w.call(step_task("jenkins_start", &cr.id, &steps, name)).await.unwrap();
    let mut ticket = started.clone();
    for poll in 0..4 {
        ticket = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
        assert_eq!(ticket, started, "poll {poll}: the same ticket, not done");
        assert_eq!(recorded(&w.cr_now(&cr.id).await, name).status, StepStatus::Running);
    }
    let done = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
    assert_eq!(done["build"], started["build"]);
    assert_eq!(done["started_at"], started["started_at"]);
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, name);
    assert_eq!(step.status, StepStatus::Succeeded);
    assert!(step.ended_at.is_some() && step.error.is_none());
    let detail = step.detail.clone().unwrap();
    assert_eq!(detail["result"], "SUCCESS");
    assert_eq!(detail["build_url"], "memory://jenkins/job/backup-tenant/1/");
    assert_eq!(detail["console_url"], "memory://jenkins/job/backup-tenant/1/consoleText");
    assert_eq!(after.steps.iter().filter(|s| s.name == name).count(), 1, "one entry per step");
    assert_eq!(w.tenant_now(&t.id).await.state, S::BackingUp, "a job's result moves nothing");
}

#[tokio::test]
async fn a_failed_build_is_jenkins_failed_and_a_failed_suite_is_health_failed() {
    let cases = [
        ("upgrade-tenant", None, BuildResult::Failure, "JenkinsFailed"),
        ("upgrade-tenant", None, BuildResult::Aborted, "JenkinsFailed"),
        ("upgrade-tenant", None, BuildResult::Unstable, "JenkinsFailed"),
        ("upgrade-tenant", None, BuildResult::NotBuilt, "JenkinsFailed"),
        ("health-api-smoke", Some("api-smoke"), BuildResult::Failure, "HealthFailed"),
        ("health-ui-smoke", Some("ui-smoke"), BuildResult::Unstable, "HealthFailed"),
    ];
    for (job, suite, result, error_type) in cases {
        let w = world();
        w.jenkins.script(job, JobScript::finishing(result).running_for(1));
        let mut t = w.tenant(S::Healthy, "3.1.0").await;
        let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
        let steps = w.begin(&cr.id).await;
        let step = jenkins_step(job, suite);
        let name = step.name();
        let ticket = w.call(step_task("jenkins_start", &cr.id, &steps, name)).await.unwrap();
        let ticket = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
        assert_eq!(ticket["done"], json!(false));
        let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await);
        assert_eq!(e.error_type(), error_type, "{job} {result:?}: {e}");
        assert!(e.to_string().contains(job), "{e}");
        assert!(e.to_string().contains(&format!("memory://jenkins/job/{job}/1/consoleText")), "names its log: {e}");
        let after = w.cr_now(&cr.id).await;
        let recorded = recorded(&after, name);
        assert_eq!(recorded.status, StepStatus::Failed);
        assert_eq!(recorded.error.as_deref(), Some(e.to_string().as_str()));
        assert_eq!(recorded.detail.as_ref().unwrap()["result"], json!(result));
        assert_eq!(after.status, ChangeRequestStatus::Running, "the change request ends only at finish");
        assert_eq!(w.tenant_now(&t.id).await.active_change_request_id.as_ref(), Some(&cr.id));
    }
}

#[tokio::test]
async fn a_build_not_finished_within_its_timeout_times_out_and_is_stopped() {
    let name = "jenkins backup-tenant";
    for script in [JobScript::hang(), JobScript::success().queued_for(1000)] {
        let w = world();
        w.jenkins.script("backup-tenant", script.clone());
        let mut t = w.tenant(S::Healthy, "3.1.0").await;
        let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
        let steps = w.begin(&cr.id).await;
        let mut ticket: BuildTicket =
            serde_json::from_value(w.call(step_task("jenkins_start", &cr.id, &steps, name)).await.unwrap()).unwrap();

        ticket.started_at = ago(3500);
        let within = serde_json::to_value(&ticket).unwrap();
        let answer = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &within)).await.unwrap();
        assert_eq!(answer["done"], json!(false), "{script:?}: still within its 3600 s");
        assert!(w.jenkins.stops().is_empty());

        ticket.started_at = ago(3601 + 5);
        let late = serde_json::to_value(&ticket).unwrap();
        let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &late)).await);
        assert_eq!(e.error_type(), "Timeout", "{script:?}: {e}");
        assert_eq!(e.to_string(), "jenkins job backup-tenant did not finish within 3600 s");
        assert_eq!(w.jenkins.stops(), vec![ticket.build.clone()], "{script:?}: the work stops with its step");
        let after = w.cr_now(&cr.id).await;
        let step = recorded(&after, name);
        assert_eq!((step.status, step.error.as_deref()), (StepStatus::Failed, Some(e.to_string().as_str())));
    }

    // A build that is done when polled late counts: its result, not the clock, decides.
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let mut ticket: BuildTicket =
        serde_json::from_value(w.call(step_task("jenkins_start", &cr.id, &steps, name)).await.unwrap()).unwrap();
    ticket.started_at = ago(10_000);
    let answer = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &json!(ticket))).await.unwrap();
    assert_eq!(answer["done"], json!(true));
    assert!(w.jenkins.stops().is_empty());
}

#[tokio::test]
async fn jenkins_down_while_polling_is_transient_and_writes_nothing() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let name = "jenkins backup-tenant";
    let ticket = w.call(step_task("jenkins_start", &cr.id, &steps, name)).await.unwrap();
    let table = w.table.dump();
    w.jenkins.set_down(true);
    let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_eq!(w.table.dump(), table);
    // Retried once Jenkins is back, the poll carries on.
    w.jenkins.set_down(false);
    let done = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
}

// --- once only ----------------------------------------------------------------------------------

/// A backup that has begun: (world, change request, steps, its jenkins_start task).
async fn a_backup_begun() -> (World, TenantChangeRequest, Vec<Step>, Value) {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let start = step_task("jenkins_start", &cr.id, &steps, "jenkins backup-tenant");
    (w, cr, steps, start)
}

/// After a first start failed `Transient` once its build was queued: the retried start answers
/// that build, triggers no other, and records it; a start retried again answers it without
/// asking Jenkins; the build is followed to its end.
async fn assert_the_retry_finds_the_one_build(w: &World, cr: &TenantChangeRequest, steps: &[Step], start: &Value) {
    let name = "jenkins backup-tenant";
    assert_eq!(w.jenkins.triggered().len(), 1, "the first try queued its build");
    let intent =
        json!({ "job": "backup-tenant", "step_id": step_id(&cr.id, index_of(steps, "jenkins backup-tenant")) });
    assert_eq!(recorded(&w.cr_now(&cr.id).await, name).detail, Some(intent), "only the intent was recorded");

    let ticket: BuildTicket = serde_json::from_value(w.call(start.clone()).await.unwrap()).unwrap();
    let built = w.jenkins.triggered();
    assert_eq!(built.len(), 1, "the retry found the build: exactly one build was triggered");
    assert_eq!(ticket.build.queue_url, built[0].queue_url, "the ticket names that build");
    let step = recorded(&w.cr_now(&cr.id).await, name).clone();
    assert_eq!(step.status, StepStatus::Running);
    assert_eq!(step.detail.unwrap()["build"], json!(ticket.build));

    w.jenkins.set_down(true);
    let again: BuildTicket = serde_json::from_value(w.call(start.clone()).await.unwrap()).unwrap();
    w.jenkins.set_down(false);
    assert_eq!(again.build, ticket.build, "a recorded build is answered without asking Jenkins");
    let done = w.call(poll_task("jenkins_poll", &cr.id, steps, name, &json!(ticket))).await.unwrap();
    assert_eq!(done["done"], json!(true));
    assert_eq!(w.jenkins.triggered().len(), 1);
}

#[tokio::test]
async fn a_jenkins_start_whose_answer_was_lost_finds_its_build_when_retried_and_triggers_no_other() {
    let (w, cr, steps, start) = a_backup_begun().await;
    w.jenkins.lose_trigger_answers(1);
    let e = error_of(w.call(start.clone()).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_the_retry_finds_the_one_build(&w, &cr, &steps, &start).await;
}

#[tokio::test]
async fn a_jenkins_start_whose_save_failed_after_the_trigger_finds_its_build_when_retried() {
    let (w, cr, steps, start) = a_backup_begun().await;
    // Write 1 records the intent, write 2 the build Jenkins answered.
    w.table.fail_write(2);
    let e = error_of(w.call(start.clone()).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_the_retry_finds_the_one_build(&w, &cr, &steps, &start).await;
}

// =================================================================================================
// ssm_send / ssm_poll

#[tokio::test]
async fn ssm_send_without_an_ec2_instance_fails_the_command_and_sends_nothing() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let other = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, RDS).await;
    w.link(&other.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let before = w.cr_now(&cr.id).await;
    let e = error_of(w.call(step_task("ssm_send", &cr.id, &steps, "ansible maintenance-on")).await);
    assert_eq!(e.error_type(), "CommandFailed", "{e}");
    assert!(e.to_string().contains(&t.id.to_string()) && e.to_string().contains("no EC2 instance"), "{e}");
    assert!(w.ssm.sent().is_empty(), "another tenant's instance is not used");
    assert_eq!(w.cr_now(&cr.id).await, before);
}

#[tokio::test]
async fn ssm_send_sends_the_playbook_once_to_every_ec2_instance_of_the_tenant() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let other = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    w.link(&t.id, RDS).await;
    w.link(&t.id, EC2_B).await;
    w.link(&other.id, "arn:aws:ec2:us-east-1:123456789012:instance/i-0ccccccccccccccc0").await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let ticket = w.call(step_task("ssm_send", &cr.id, &steps, "ansible maintenance-on")).await.unwrap();

    let sent = w.ssm.sent();
    assert_eq!(sent.len(), 1, "one command for all instances");
    let mut on = sent[0].instance_ids.clone();
    on.sort();
    assert_eq!(on, ["i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"]);
    assert_eq!((sent[0].playbook.as_str(), sent[0].timeout_seconds), ("maintenance-on", 900));
    // The comment is the step's once-only id (it named the operation and the change request).
    assert_eq!(sent[0].comment, step_id(&cr.id, 0));
    let ticket: CommandTicket = serde_json::from_value(ticket).unwrap();
    assert_eq!((ticket.command_id.as_str(), ticket.done), (sent[0].command_id.as_str(), false));
    assert_eq!(ticket.instance_ids, sent[0].instance_ids);
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "ansible maintenance-on");
    assert_eq!(step.status, StepStatus::Running);
    let detail = step.detail.as_ref().unwrap();
    assert_eq!(detail["command_id"], json!(ticket.command_id));
    assert_eq!(detail["instance_ids"], json!(ticket.instance_ids));
    assert_eq!(
        (detail["playbook"].as_str(), detail["step_id"].as_str()),
        (Some("maintenance-on"), Some(sent[0].comment.as_str()))
    );
}

/// A tenant entering maintenance with one instance, its command sent: (world, cr, steps, ticket).
async fn a_command_under_way(script: CommandScript) -> (World, TenantChangeRequest, Vec<Step>, Value) {
    let w = world();
    w.ssm.script_matching("maintenance-on", script);
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let ticket = w.call(step_task("ssm_send", &cr.id, &steps, "ansible maintenance-on")).await.unwrap();
    (w, cr, steps, ticket)
}

const PLAYBOOK: &str = "ansible maintenance-on";

#[tokio::test]
async fn ssm_poll_is_not_done_while_running_and_done_when_the_command_succeeds() {
    let (w, cr, steps, sent) = a_command_under_way(CommandScript::succeed().running_for(2)).await;
    let mut ticket = sent.clone();
    for _ in 0..2 {
        ticket = w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket)).await.unwrap();
        assert_eq!(ticket, sent);
    }
    let done = w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
    assert_eq!(done["command_id"], sent["command_id"]);
    let after = w.cr_now(&cr.id).await;
    let recorded = recorded(&after, PLAYBOOK);
    assert_eq!((recorded.status, recorded.error.as_deref()), (StepStatus::Succeeded, None));
    assert_eq!(
        recorded.detail.as_ref().unwrap()["command_id"],
        sent["command_id"],
        "the command recorded at send is kept"
    );
}

#[tokio::test]
async fn a_failed_command_is_command_failed_with_its_detail() {
    let (w, cr, steps, ticket) = a_command_under_way(CommandScript::fail("i-0aaaaaaaaaaaaaaaa: Failed (exit 2)")).await;
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket)).await);
    assert_eq!(e.error_type(), "CommandFailed", "{e}");
    assert!(e.to_string().contains("i-0aaaaaaaaaaaaaaaa: Failed (exit 2)"), "{e}");
    let after = w.cr_now(&cr.id).await;
    let recorded = recorded(&after, PLAYBOOK);
    assert_eq!((recorded.status, recorded.error.clone()), (StepStatus::Failed, Some(e.to_string())));
}

#[tokio::test]
async fn a_command_still_running_past_its_timeout_times_out_and_is_cancelled() {
    let (w, cr, steps, ticket) = a_command_under_way(CommandScript::run_forever()).await;
    let mut t: CommandTicket = serde_json::from_value(ticket).unwrap();
    t.started_at = ago(800);
    let answer = w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &json!(t))).await.unwrap();
    assert_eq!(answer["done"], json!(false), "within its 900 s");
    assert!(w.ssm.cancels().is_empty());
    t.started_at = ago(905);
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &json!(t))).await);
    assert_eq!(e.error_type(), "Timeout", "{e}");
    assert!(e.to_string().contains("did not finish within 900 s"), "{e}");
    assert_eq!(w.ssm.cancels(), vec![t.command_id.clone()], "the work stops with its step");
    assert_eq!(recorded(&w.cr_now(&cr.id).await, PLAYBOOK).status, StepStatus::Failed);
}

#[tokio::test]
async fn ssm_down_is_transient_and_a_send_retried_after_it_sends_once() {
    // Polling: transient, nothing written.
    let (w, cr, steps, ticket) = a_command_under_way(CommandScript::succeed()).await;
    let send = step_task("ssm_send", &cr.id, &steps, PLAYBOOK);
    let table = w.table.dump();
    w.ssm.set_down(true);
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket)).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    // A send retried after its command was recorded answers that command without asking SSM
    // (it used to call SSM again, and so failed Transient here).
    let again = w.call(send).await.unwrap();
    assert_eq!(again["command_id"], ticket["command_id"]);
    assert_eq!(w.table.dump(), table);
    w.ssm.set_down(false);

    // A first send while SSM is down: transient; it recorded its intent only; back up, the retry
    // finds no command and sends exactly one.
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let send = step_task("ssm_send", &cr.id, &steps, PLAYBOOK);
    w.ssm.set_down(true);
    let e = error_of(w.call(send.clone()).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    let step = recorded(&w.cr_now(&cr.id).await, PLAYBOOK).clone();
    assert_eq!(step.detail.as_ref().unwrap()["step_id"], json!(step_id(&cr.id, 0)));
    assert_eq!(step.detail.as_ref().unwrap().get("command_id"), None);
    w.ssm.set_down(false);
    w.call(send).await.unwrap();
    assert_eq!(w.ssm.sent().len(), 1);
}

// --- once only ----------------------------------------------------------------------------------

/// An entry into maintenance that has begun: (world, change request, steps, its ssm_send task).
async fn a_maintenance_begun() -> (World, TenantChangeRequest, Vec<Step>, Value) {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let send = step_task("ssm_send", &cr.id, &steps, PLAYBOOK);
    (w, cr, steps, send)
}

/// After a first send failed `Transient` once its command was sent: the retried send answers
/// that command, sends no other, and records it; the command is followed to its end.
async fn assert_the_retry_finds_the_one_command(w: &World, cr: &TenantChangeRequest, steps: &[Step], send: &Value) {
    assert_eq!(w.ssm.sent().len(), 1, "the first try sent its command");
    assert_eq!(w.ssm.sent()[0].comment, step_id(&cr.id, 0));
    let detail = recorded(&w.cr_now(&cr.id).await, PLAYBOOK).detail.clone().unwrap();
    assert_eq!(detail.get("command_id"), None, "only the intent was recorded");

    let ticket: CommandTicket = serde_json::from_value(w.call(send.clone()).await.unwrap()).unwrap();
    let sent = w.ssm.sent();
    assert_eq!(sent.len(), 1, "the retry found the command: exactly one command was sent");
    assert_eq!(ticket.command_id, sent[0].command_id, "the ticket names that command");
    let step = recorded(&w.cr_now(&cr.id).await, PLAYBOOK).clone();
    assert_eq!(step.status, StepStatus::Running);
    assert_eq!(step.detail.unwrap()["command_id"], json!(ticket.command_id));
    let done = w.call(poll_task("ssm_poll", &cr.id, steps, PLAYBOOK, &json!(ticket))).await.unwrap();
    assert_eq!(done["done"], json!(true));
    assert_eq!(w.ssm.sent().len(), 1);
}

#[tokio::test]
async fn an_ssm_send_whose_answer_was_lost_finds_its_command_when_retried_and_sends_no_other() {
    let (w, cr, steps, send) = a_maintenance_begun().await;
    w.ssm.lose_send_answers(1);
    let e = error_of(w.call(send.clone()).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_the_retry_finds_the_one_command(&w, &cr, &steps, &send).await;
}

#[tokio::test]
async fn an_ssm_send_whose_save_failed_after_sending_finds_its_command_when_retried() {
    let (w, cr, steps, send) = a_maintenance_begun().await;
    // Write 1 records the intent, write 2 the command SSM answered.
    w.table.fail_write(2);
    let e = error_of(w.call(send.clone()).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_the_retry_finds_the_one_command(&w, &cr, &steps, &send).await;
}

// =================================================================================================
// The change request's deadline

#[tokio::test]
async fn past_the_change_requests_deadline_a_build_is_stopped_and_its_poll_times_out() {
    let (w, cr, steps, start) = a_backup_begun().await;
    let name = "jenkins backup-tenant";
    w.jenkins.script("backup-tenant", JobScript::hang());
    let ticket = w.call(start.clone()).await.unwrap();
    let build: BuildTicket = serde_json::from_value(ticket.clone()).unwrap();
    w.pass_deadline(&cr.id).await;

    // Past it, a retried start triggers nothing and writes nothing.
    let table = w.table.dump();
    let e = error_of(w.call(start).await);
    assert_eq!(e.error_type(), "Timeout", "{e}");
    assert_eq!(w.table.dump(), table);
    assert_eq!(w.jenkins.triggered().len(), 1);

    // Its own timeout is far off, but the change request's deadline passed.
    let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await);
    assert_eq!(e.error_type(), "Timeout", "{e}");
    assert!(e.to_string().contains("passed its deadline"), "{e}");
    assert_eq!(w.jenkins.stops(), vec![build.build.clone()]);
    assert!(matches!(
        w.jenkins.status(&build.build).await.unwrap(),
        BuildStatus::Done { result: BuildResult::Aborted, .. }
    ));
    let step = recorded(&w.cr_now(&cr.id).await, name).clone();
    assert_eq!((step.status, step.error), (StepStatus::Failed, Some(e.to_string())));
}

#[tokio::test]
async fn past_the_change_requests_deadline_a_command_is_cancelled_and_its_poll_times_out() {
    let (w, cr, steps, ticket) = a_command_under_way(CommandScript::run_forever()).await;
    w.pass_deadline(&cr.id).await;
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket)).await);
    assert_eq!(e.error_type(), "Timeout", "{e}");
    assert!(e.to_string().contains("passed its deadline"), "{e}");
    assert_eq!(w.ssm.cancels(), vec![ticket["command_id"].as_str().unwrap().to_owned()]);
    assert_eq!(recorded(&w.cr_now(&cr.id).await, PLAYBOOK).status, StepStatus::Failed);
}

// =================================================================================================
// An edit of the tenant while its change request runs

/// Runs `cr` with an edit before every task, both ways, and checks it ends as it would have
/// without them, the last edit kept. `writes_tenant` is how many of its tasks write the tenant
/// (and so lose a race to an edit slipped in before their write).
async fn assert_edits_are_kept(
    op: Operation,
    model: Option<ChangeModel>,
    params: Value,
    kinds: &[&str],
    writes_tenant: usize,
) {
    for how in [Edits::BetweenTasks, Edits::DuringTasks] {
        let case = format!("{op} with {how:?}");
        let w = world();
        w.release("3.2.0", &[("webapp", "3.2.0")]).await;
        w.jenkins.script("upgrade-tenant", JobScript::success().running_for(1));
        w.ssm.script_matching("maintenance-on", CommandScript::succeed().running_for(1));
        let mut t = w.tenant(S::Healthy, "3.1.0").await;
        w.link(&t.id, EC2_A).await;
        let cr = w.hold(&mut t, op, model, params.clone()).await;
        let (answer, edits) = drive_editing(&w, &cr.id, Some((how, &t.id))).await;
        let ends = if op == Op::Upgrade { S::Healthy } else { S::Maintenance };
        assert_eq!(answer, json!({ "status": "succeeded", "state": ends }), "{case}");
        for kind in kinds {
            assert!(edits.iter().any(|a| a == kind), "{case}: no edit came before a {kind} ({edits:?})");
        }
        let now = w.tenant_now(&t.id).await;
        let n = edits.len();
        assert_eq!(now.name.as_str(), format!("edited-{n}"), "{case}: the last edit is kept");
        assert_eq!(now.description.as_ref().map(Text::as_str), Some(format!("edit {n}").as_str()), "{case}");
        assert_eq!((now.state, now.active_change_request_id), (ends, None), "{case}");
        if how == Edits::DuringTasks {
            assert!(!w.table.slip_pending(), "{case}: every edit landed");
            assert_eq!(
                w.table.lost_races(),
                writes_tenant,
                "{case}: each write of the tenant lost once and was retried"
            );
        }
        assert_eq!(w.cr_now(&cr.id).await.status, ChangeRequestStatus::Succeeded);
        w.assert_fleet_consistent();
    }
}

#[tokio::test]
async fn an_edit_during_a_build_a_transition_the_suites_or_finish_neither_fails_the_change_nor_is_undone() {
    let kinds = ["begin", "jenkins_start", "jenkins_poll", "record", "transition", "finish"];
    // begin enters Maintenance, the record moves the release, the transition InTesting, finish
    // ends it: four writes of the tenant.
    assert_edits_are_kept(Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" }), &kinds, 4).await;
}

#[tokio::test]
async fn an_edit_during_a_command_or_finish_neither_fails_the_change_nor_is_undone() {
    let kinds = ["begin", "ssm_send", "ssm_poll", "finish"];
    // Only finish writes the tenant.
    assert_edits_are_kept(Op::EnterMaintenance, None, json!({}), &kinds, 1).await;
}

// =================================================================================================
// Abort

/// The change request ended `cancelled` by bob, the execution was stopped, and the tenant is
/// released where a failure of its operation goes.
async fn assert_aborted(w: &World, cr: &ChangeRequestId, tenant: &TenantId, ends: TenantState) -> TenantChangeRequest {
    let after = w.cr_now(cr).await;
    assert_eq!(after.status, ChangeRequestStatus::Cancelled);
    assert_eq!(after.aborted_by.as_deref(), Some("bob"));
    assert_eq!(after.abort_reason.as_ref().map(Text::as_str), Some("wrong tenant"));
    assert_eq!(after.error.as_deref(), Some("aborted by bob: wrong tenant"));
    let finish = recorded(&after, "finish");
    assert_eq!((finish.status, finish.detail.clone()), (StepStatus::Cancelled, Some(json!({ "state": ends }))));
    let stops = w.workflows.stops();
    assert_eq!(stops.len(), 1, "{stops:?}");
    let (name, cause) = stops[0].clone();
    assert_eq!(name, cr.as_str(), "its execution was stopped");
    assert!(cause.contains("wrong tenant"), "{cause}");
    let t = w.tenant_now(tenant).await;
    assert_eq!((t.state, t.active_change_request_id), (ends, None));
    w.assert_fleet_consistent();
    after
}

#[tokio::test]
async fn an_abort_while_a_build_runs_stops_it_and_the_next_task_is_refused() {
    let (w, cr, steps, start) = a_backup_begun().await;
    let name = "jenkins backup-tenant";
    w.jenkins.script("backup-tenant", JobScript::hang());
    let ticket = w.call(start).await.unwrap();
    let polled = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
    assert_eq!(polled["done"], json!(false));

    let aborted = w.deps.changes.abort(&cr.id, &bob(), reason("wrong tenant")).await.unwrap();
    assert_eq!(aborted.status, ChangeRequestStatus::Cancelled);
    let build: BuildTicket = serde_json::from_value(ticket.clone()).unwrap();
    assert_eq!(w.jenkins.stops(), vec![build.build.clone()], "the running build was stopped");
    // An aborted backup runs no rollback: its public access may still be blocked (Maintenance).
    let after = assert_aborted(&w, &cr.id, &cr.tenant_id, S::Maintenance).await;
    assert_eq!(recorded(&after, name).status, StepStatus::Cancelled);

    w.assert_refused(poll_task("jenkins_poll", &cr.id, &steps, name, &polled), "the change request was aborted").await;
    assert_eq!(w.jenkins.stops().len(), 1);
}

#[tokio::test]
async fn an_abort_while_a_command_runs_cancels_it_and_the_next_task_is_refused() {
    let (w, cr, steps, ticket) = a_command_under_way(CommandScript::run_forever()).await;
    let aborted = w.deps.changes.abort(&cr.id, &bob(), reason("wrong tenant")).await.unwrap();
    assert_eq!(aborted.status, ChangeRequestStatus::Cancelled);
    assert_eq!(w.ssm.cancels(), vec![ticket["command_id"].as_str().unwrap().to_owned()], "the command was cancelled");
    // A failed entry into maintenance leaves the tenant as it started.
    let after = assert_aborted(&w, &cr.id, &cr.tenant_id, S::Healthy).await;
    assert_eq!(recorded(&after, PLAYBOOK).status, StepStatus::Cancelled);

    w.assert_refused(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket), "the change request was aborted").await;
    assert_eq!(w.ssm.cancels().len(), 1);
}

#[tokio::test]
async fn an_abort_between_steps_stops_no_work_and_the_next_task_is_refused() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;
    let job = "jenkins upgrade-tenant";
    let ticket = w.call(step_task("jenkins_start", &cr.id, &steps, job)).await.unwrap();
    assert_eq!(w.call(poll_task("jenkins_poll", &cr.id, &steps, job, &ticket)).await.unwrap()["done"], json!(true));
    w.call(step_task("transition", &cr.id, &steps, "state InTesting")).await.unwrap();

    w.deps.changes.abort(&cr.id, &bob(), reason("wrong tenant")).await.unwrap();
    assert!(w.jenkins.stops().is_empty() && w.ssm.cancels().is_empty(), "no work was running");
    // An upgrade in maintenance that fails has no rollback yet: the tenant is broken.
    let after = assert_aborted(&w, &cr.id, &t.id, S::Broken).await;
    assert_eq!(recorded(&after, "state InTesting").status, StepStatus::Succeeded, "what ran stays as it ran");

    w.assert_refused(step_task("jenkins_start", &cr.id, &steps, "health suite api-smoke"), "aborted").await;
    w.assert_refused(step_task("transition", &cr.id, &steps, "state InTesting"), "aborted").await;
    // A finish arriving after the abort only answers how it ended.
    let table = w.table.dump();
    let answer = w.call(finish(&cr.id, "succeeded", None)).await.unwrap();
    assert_eq!(answer, json!({ "status": "cancelled", "state": "Broken" }));
    assert_eq!(w.table.dump(), table);
}

// =================================================================================================
// finish

/// (operation, start state, model, outcome, where the tenant ends)
#[rustfmt::skip]
const ENDINGS: &[(Operation, TenantState, Option<ChangeModel>, &str, TenantState)] = &[
    (Op::Upgrade, S::Healthy, Some(M::Maintenance), "succeeded", S::Healthy),
    // `failed` is a change that failed for good: where the plan rolls back, its rollback failed too
    // (a rollback that worked finishes `rolled_back`: see the upgrade and rotation tests).
    (Op::Upgrade, S::Healthy, Some(M::Maintenance), "failed", S::Broken),
    (Op::Upgrade, S::Maintenance, Some(M::Maintenance), "failed", S::Broken),
    (Op::Upgrade, S::Healthy, Some(M::Swap), "failed", S::Broken),
    (Op::Backup, S::Maintenance, None, "failed", S::Maintenance),
    (Op::Backup, S::Maintenance, None, "succeeded", S::Maintenance),
    (Op::Backup, S::Healthy, None, "failed", S::Maintenance),
    (Op::Terminate, S::Healthy, None, "succeeded", S::EndOfLife),
    (Op::Terminate, S::Restoring, None, "failed", S::Restoring),
    (Op::Suspend, S::Maintenance, None, "failed", S::Maintenance),
    (Op::Suspend, S::Broken, None, "succeeded", S::Suspended),
    (Op::Resume, S::Suspended, None, "failed", S::Broken),
    (Op::EnterMaintenance, S::Broken, None, "succeeded", S::Maintenance),
    (Op::ExitMaintenance, S::Maintenance, None, "succeeded", S::Healthy),
    (Op::Restore, S::Broken, Some(M::Maintenance), "failed", S::Broken),
    (Op::Restore, S::Maintenance, Some(M::Swap), "failed", S::Broken),
    (Op::Validate, S::Broken, None, "succeeded", S::Healthy),
    (Op::RotateDbPassword, S::Healthy, Some(M::Maintenance), "failed", S::Broken),
    (Op::RotateAirflowPassword, S::Maintenance, Some(M::Swap), "succeeded", S::Maintenance),
];

#[tokio::test]
async fn finish_ends_the_tenant_where_the_plan_says_and_releases_it() {
    for &(op, from, model, outcome, ends) in ENDINGS {
        let w = world();
        w.release("3.2.0", &[("webapp", "3.2.0")]).await;
        w.tenant(S::Healthy, "3.1.0").await;
        let mut t = w.tenant(from, "3.1.0").await;
        let params = match op {
            Op::Upgrade => json!({ "release": "3.2.0" }),
            Op::Restore => json!({ "backup_id": "bk-1" }),
            _ => json!({}),
        };
        let cr = w.hold(&mut t, op, model, params).await;
        w.begin(&cr.id).await;
        let error = (outcome == "failed").then(|| json!({ "Error": "JenkinsFailed", "Cause": "it broke" }));
        let case = format!("{op} from {from} with {model:?} {outcome}");

        let answer = w.call(finish(&cr.id, outcome, error)).await.unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(answer, json!({ "status": outcome, "state": ends }), "{case}");
        let now = w.tenant_now(&t.id).await;
        assert_eq!(now.state, ends, "{case}");
        assert_eq!(now.active_change_request_id, None, "{case}: the claim is released");
        let after = w.cr_now(&cr.id).await;
        assert_eq!(json!(after.status), json!(outcome), "{case}");
        let step = recorded(&after, "finish");
        assert_eq!(step.status.as_str(), outcome, "{case}");
        assert_eq!(step.detail, Some(json!({ "state": ends })), "{case}");
        assert_eq!(after.error.is_some(), outcome == "failed", "{case}");
        w.assert_fleet_consistent();
    }
}

#[tokio::test]
async fn finish_of_a_new_tenant_ends_healthy_or_broken() {
    for (import, outcome, ends) in [
        (false, "succeeded", S::Healthy),
        (false, "failed", S::Broken),
        (true, "failed", S::Broken),
        (true, "succeeded", S::Healthy),
    ] {
        let w = world();
        let (t, cr) = w.created("3.1.0", import).await;
        let steps = w.begin(&cr.id).await;
        if let Some(to_testing) = steps.iter().find(|s| matches!(s, Step::Transition { .. })) {
            w.call(step_task("transition", &cr.id, &steps, to_testing.name())).await.unwrap();
        }
        let answer = w.call(finish(&cr.id, outcome, None)).await.unwrap();
        assert_eq!(answer["state"], json!(ends), "import {import} {outcome}");
        let now = w.tenant_now(&t.id).await;
        assert_eq!((now.state, now.active_change_request_id), (ends, None));
        assert_eq!(now.release, t.release);
        w.assert_fleet_consistent();
    }
}

#[tokio::test]
async fn a_failed_finish_keeps_the_message_of_the_lambda_error_that_failed_the_change() {
    let jenkins =
        TaskError::JenkinsFailed("jenkins job upgrade-tenant ended Failure: memory://jenkins/job/x/1/".into());
    let cases = [
        (caught(jenkins), "JenkinsFailed: jenkins job upgrade-tenant ended Failure: memory://jenkins/job/x/1/"),
        (
            json!({ "Error": "JenkinsFailed", "Cause": "{\"errorType\":\"JenkinsFailed\",\"errorMessage\":\"boom\"}" }),
            "JenkinsFailed: boom",
        ),
        (
            caught(TaskError::Conflict("change request chg_1 does not hold tenant t".into())),
            "Conflict: change request chg_1 does not hold tenant t",
        ),
        // Not a Lambda diagnostic: the cause as it is.
        (json!({ "Error": "States.Timeout", "Cause": "the task timed out" }), "States.Timeout: the task timed out"),
        (json!({ "Error": "Lambda.Unknown" }), "Lambda.Unknown: "),
        (json!({ "Cause": "{\"errorMessage\":\"no type\"}" }), "Error: no type"),
        (json!("not an error object"), "Error: "),
    ];
    for (error, text) in cases {
        let w = world();
        let mut t = w.tenant(S::Healthy, "3.1.0").await;
        let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
        w.begin(&cr.id).await;
        w.call(finish(&cr.id, "failed", Some(error.clone()))).await.unwrap();
        let after = w.cr_now(&cr.id).await;
        assert_eq!(after.error.as_deref(), Some(text), "{error}");
        assert_eq!(recorded(&after, "finish").error.as_deref(), Some(text), "{error}");
    }

    // No error object at all (a finish failed sent without one).
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    w.call(finish(&cr.id, "failed", None)).await.unwrap();
    assert_eq!(w.cr_now(&cr.id).await.error.as_deref(), Some("failed"));
}

#[tokio::test]
async fn a_very_long_error_is_cut_to_1000_bytes() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let error = caught(TaskError::CommandFailed("x".repeat(5000)));
    w.call(finish(&cr.id, "failed", Some(error))).await.unwrap();
    let text = w.cr_now(&cr.id).await.error.unwrap();
    assert_eq!(text.len(), 1000);
    assert!(text.starts_with("CommandFailed: xxx"));
}

#[tokio::test]
async fn a_long_non_ascii_error_is_cut_at_a_character_boundary() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    // "CommandFailed: " is 15 bytes, each "é" 2: byte 1000 falls inside one.
    let error = caught(TaskError::CommandFailed("é".repeat(600)));
    let answer = w.call(finish(&cr.id, "failed", Some(error))).await.expect("finish must not panic");
    assert_eq!(answer["status"], "failed");
    let text = w.cr_now(&cr.id).await.error.unwrap();
    assert!(text.len() <= 1000 && text.starts_with("CommandFailed: éé"), "{text}");
    assert_eq!(w.tenant_now(&t.id).await.active_change_request_id, None);
}

#[tokio::test]
async fn a_retried_finish_changes_nothing_and_answers_the_same_status() {
    for outcome in ["succeeded", "failed"] {
        let w = world();
        let mut t = w.tenant(S::Healthy, "3.1.0").await;
        let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
        w.begin(&cr.id).await;
        let error = (outcome == "failed").then(|| json!({ "Error": "Timeout", "Cause": "late" }));
        let first = w.call(finish(&cr.id, outcome, error.clone())).await.unwrap();
        let table = w.table.dump();
        let again = w.call(finish(&cr.id, outcome, error)).await.unwrap();
        assert_eq!(again, first, "{outcome}");
        assert_eq!(w.table.dump(), table, "a retried {outcome} finish writes nothing");
        // Even the other outcome, late: the change request has ended.
        let other = if outcome == "failed" { "succeeded" } else { "failed" };
        assert_eq!(w.call(finish(&cr.id, other, None)).await.unwrap()["status"], json!(outcome));
        assert_eq!(w.table.dump(), table);
        assert_eq!(w.cr_now(&cr.id).await.steps.iter().filter(|s| s.name == "finish").count(), 1);
    }
}

#[tokio::test]
async fn an_upgrade_records_the_release_and_the_components_of_the_target_manifest_once_applied() {
    let w = world();
    w.release("3.1.0", &[("webapp", "3.1.0"), ("airflow", "2.9.0")]).await;
    w.release("3.2.0", &[("webapp", "3.2.0"), ("airflow", "2.9.0"), ("etl", "1.0.0")]).await;
    w.tenant(S::Healthy, "3.1.0").await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let webapp = w.component(&t, "webapp", "3.1.0").await;
    let airflow = w.component(&t, "airflow", "2.9.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;
    assert_eq!(w.tenant_now(&t.id).await.release.to_string(), "3.1.0", "nothing recorded before it is applied");
    w.call(step_task("record", &cr.id, &steps, "record release")).await.unwrap();
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.release.to_string(), now.state), ("3.2.0".to_owned(), S::Maintenance));
    let before = w.cr_now(&cr.id).await.recorded_before.expect("what was recorded before is kept");
    assert_eq!(before.release.to_string(), "3.1.0");
    assert_eq!(before.components.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["airflow", "webapp"]);
    let table = w.table.dump();
    w.call(step_task("record", &cr.id, &steps, "record release")).await.unwrap();
    assert_eq!(w.table.dump(), table, "a retried record writes nothing");

    w.call(step_task("transition", &cr.id, &steps, "state InTesting")).await.unwrap();
    let answer = w.call(finish(&cr.id, "succeeded", None)).await.unwrap();
    assert_eq!(answer, json!({ "status": "succeeded", "state": "Healthy" }));
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.release.to_string(), now.state), ("3.2.0".to_owned(), S::Healthy));
    let c = w.components_now(&t.id).await;
    let versions: BTreeMap<&str, &str> = c.iter().map(|(n, c)| (n.as_str(), c.version.as_str())).collect();
    assert_eq!(versions, BTreeMap::from([("airflow", "2.9.0"), ("etl", "1.0.0"), ("webapp", "3.2.0")]));
    assert_eq!(c["webapp"].stamp.revision, webapp.stamp.revision + 1, "a changed component is bumped");
    assert_eq!(c["webapp"].stamp.created_at, webapp.stamp.created_at);
    assert_eq!(c["webapp"].stamp.change_request_id.as_ref(), Some(&cr.id));
    assert_eq!(c["airflow"], airflow, "an unchanged component is not written");
    assert_eq!(c["etl"].stamp.revision, 1, "a component new in the release is created");
    assert_eq!(c["etl"].stamp.change_request_id.as_ref(), Some(&cr.id));
    assert_eq!(c["etl"].stamp.source, Source::Workflow);
    assert_eq!((w.counter("release", "3.1.0"), w.counter("release", "3.2.0")), (1, 1));
    assert_eq!(w.counter("state", "Healthy"), 2);
    w.assert_fleet_consistent();
}

/// An upgrade of a tenant on 3.1.0 (webapp 3.1.0, a config) to 3.2.0, held and begun.
async fn an_upgrade_begun(w: &World) -> (Tenant, TenantChangeRequest, Vec<Step>) {
    w.release("3.1.0", &[("webapp", "3.1.0")]).await;
    w.release("3.2.0", &[("webapp", "3.2.0"), ("etl", "1.0.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.component(&t, "webapp", "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;
    (t, cr, steps)
}

fn versions(c: &BTreeMap<String, ComponentVersion>) -> BTreeMap<String, String> {
    c.iter().map(|(n, c)| (n.clone(), c.version.to_string())).collect()
}

#[tokio::test]
async fn an_upgrade_whose_suite_fails_rolls_back_to_the_old_release_and_components_and_ends_healthy() {
    let w = world();
    let (t, cr, _) = an_upgrade_begun(&w).await;
    // A suite fails on the new release only: the rollback's validation passes.
    w.jenkins.script_when("health-ui-smoke", "RELEASE", "3.2.0", JobScript::failure());
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Healthy" }), "rolled back: as it started");
    let done = w.cr_now(&cr.id).await;
    let error = done.error.clone().unwrap();
    assert!(error.contains("HealthFailed") && error.contains("rolled back to 3.1.0"), "{error}");
    let (own, rollback) = done.phases();
    assert_eq!(own.len(), 6);
    assert_eq!(
        names(rollback),
        [
            "rollback jenkins rollback-upgrade-tenant",
            "rollback revert release",
            "rollback state InTesting",
            "rollback health suite api-smoke",
            "rollback health suite ui-smoke"
        ]
    );
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.release.to_string(), now.state), ("3.1.0".to_owned(), S::Healthy));
    assert_eq!(versions(&w.components_now(&t.id).await), BTreeMap::from([("webapp".into(), "3.1.0".into())]));
    // The undo job goes back to 3.1.0 from the snapshot the upgrade took first.
    let undo = w.jenkins.triggered().into_iter().find(|b| b.job == "rollback-upgrade-tenant").unwrap();
    assert_eq!(undo.params.get("RELEASE").map(String::as_str), Some("3.1.0"));
    let snapshot = domain::Backup::id_for(&cr.id);
    let backup = w.changes().backup(&t.id, &snapshot).await.unwrap().expect("the snapshot is catalogued");
    assert_eq!(undo.params.get("BACKUP_LOCATION"), Some(&backup.location));
    assert_eq!(backup.release.to_string(), "3.1.0", "the snapshot records the tenant before the upgrade");
    let suites: Vec<_> = w.jenkins.triggered().into_iter().filter(|b| b.job.starts_with("health-")).collect();
    let releases: Vec<&str> = suites.iter().map(|b| b.params["RELEASE"].as_str()).collect();
    assert_eq!(releases, ["3.2.0", "3.2.0", "3.1.0", "3.1.0"], "tested on the new release, then the old");
    let run = w.health_runs(&t.id).await;
    assert_eq!(run.len(), 1);
    assert_eq!((run[0].verdict, run[0].release.to_string()), (domain::HealthVerdict::Passed, "3.1.0".to_owned()));
    assert_eq!((w.counter("release", "3.1.0"), w.counter("release", "3.2.0")), (1, 0));
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn an_upgrade_whose_rollback_fails_ends_broken() {
    let w = world();
    let (t, cr, _) = an_upgrade_begun(&w).await;
    w.jenkins.script("health-api-smoke", JobScript::failure());
    w.jenkins.script("rollback-upgrade-tenant", JobScript::failure());
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Broken" }));
    let done = w.cr_now(&cr.id).await;
    assert!(done.error.as_deref().unwrap().contains("rollback-upgrade-tenant"), "{:?}", done.error);
    let now = w.tenant_now(&t.id).await;
    assert_eq!(now.state, S::Broken);
    assert_eq!(now.release.to_string(), "3.2.0", "the registry says what was applied: the undo failed");
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn an_upgrade_that_fails_before_its_work_started_has_nothing_to_undo_and_ends_as_it_started() {
    let w = world();
    let (t, cr, _) = an_upgrade_begun(&w).await;
    w.jenkins.script("backup-tenant", JobScript::failure());
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Healthy" }));
    let done = w.cr_now(&cr.id).await;
    assert_eq!(done.phases().1.len(), 0, "no rollback step: its work never started");
    assert!(!w.jenkins.triggered().iter().any(|b| b.job.starts_with("upgrade") || b.job.starts_with("rollback")));
    assert_eq!(w.tenant_now(&t.id).await.release.to_string(), "3.1.0");
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn an_upgrade_whose_job_fails_is_undone_without_a_record_to_write_back() {
    let w = world();
    let (t, cr, _) = an_upgrade_begun(&w).await;
    w.jenkins.script("upgrade-tenant", JobScript::failure());
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Healthy" }));
    let done = w.cr_now(&cr.id).await;
    assert_eq!(
        names(done.phases().1),
        [
            "rollback jenkins rollback-upgrade-tenant",
            "rollback state InTesting",
            "rollback health suite api-smoke",
            "rollback health suite ui-smoke"
        ]
    );
    assert!(done.recorded_before.is_none());
    assert_eq!(w.tenant_now(&t.id).await.release.to_string(), "3.1.0");
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn a_retried_rollback_answers_the_stored_steps_and_a_change_that_does_not_roll_back_says_so() {
    let w = world();
    let (_, cr, steps) = an_upgrade_begun(&w).await;
    for name in ["snapshot", "jenkins upgrade-tenant"] {
        let ticket = w.call(step_task("jenkins_start", &cr.id, &steps, name)).await.unwrap();
        w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
    }
    let task = json!({ "action": "rollback", "change_request_id": cr.id, "error": caught(TaskError::HealthFailed("x".into())) });
    let first = w.call(task.clone()).await.unwrap();
    assert_eq!(first["run"], json!(true));
    assert_eq!(first["steps"][0]["index"], json!(steps.len()), "the rollback's steps follow the change's own");
    let table = w.table.dump();
    assert_eq!(w.call(task).await.unwrap(), first);
    assert_eq!(w.table.dump(), table, "a retried rollback writes nothing");

    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let validate = w.hold(&mut t, Op::Validate, None, json!({})).await;
    w.begin(&validate.id).await;
    let answer = w.call(json!({ "action": "rollback", "change_request_id": validate.id })).await.unwrap();
    assert_eq!(answer, json!({ "rolls_back": false, "run": false, "steps": [] }));
}

#[tokio::test]
async fn an_upgrade_to_a_release_that_is_gone_cannot_record_it() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;
    let table = w.table.dump();
    let e = error_of(w.call(step_task("record", &cr.id, &steps, "record release")).await);
    assert_eq!(e.error_type(), "Invalid", "{e}");
    assert!(e.to_string().contains("3.2.0"), "{e}");
    assert_eq!(w.table.dump(), table, "nothing half-written");
}

// =================================================================================================
// release: the failure path's own fallback

#[tokio::test]
async fn release_frees_the_tenant_and_fails_the_change_when_finish_cannot_read_its_plan() {
    let (w, cr, steps, start) = a_backup_begun().await;
    let name = "jenkins backup-tenant";
    w.jenkins.script("backup-tenant", JobScript::failure());
    let ticket = w.call(start).await.unwrap();
    let failed = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await);
    assert_eq!(failed.error_type(), "JenkinsFailed");
    // The stored change request no longer makes a plan (a start state its operation is not
    // allowed from): finish cannot tell where the tenant goes.
    let mut corrupt = w.cr_now(&cr.id).await;
    corrupt.started_from = Some(S::EndOfLife);
    w.put_record(&corrupt).await;
    let error = caught(failed);
    let table = w.table.dump();
    let e = error_of(w.call(finish(&cr.id, "failed", Some(error.clone()))).await);
    assert_eq!(e.error_type(), "Invalid", "{e}");
    assert_eq!(w.table.dump(), table, "the failed finish wrote nothing");
    assert_eq!(w.tenant_now(&cr.tenant_id).await.active_change_request_id.as_ref(), Some(&cr.id), "still held");

    let answer = w.call(release(&cr.id, error.clone())).await.unwrap();
    assert_eq!(answer, json!({ "status": "failed", "state": "Broken" }), "no plan: the tenant is broken");
    let now = w.tenant_now(&cr.tenant_id).await;
    assert_eq!((now.state, now.active_change_request_id), (S::Broken, None));
    let after = w.cr_now(&cr.id).await;
    assert_eq!(after.status, ChangeRequestStatus::Failed);
    let text = after.error.clone().unwrap();
    assert!(
        text.starts_with("finishing failed, released by the fallback: JenkinsFailed: jenkins job backup-tenant"),
        "{text}"
    );
    assert_eq!(recorded(&after, name).status, StepStatus::Failed);
    w.assert_fleet_consistent();

    // Retried, it answers the same and writes nothing.
    let table = w.table.dump();
    assert_eq!(w.call(release(&cr.id, error)).await.unwrap(), answer);
    assert_eq!(w.table.dump(), table);
}

#[tokio::test]
async fn release_fails_a_change_whose_claim_is_gone_and_leaves_the_tenant_to_its_holder() {
    let (w, cr, _, _) = a_backup_begun().await;
    let mut t = w.tenant_now(&cr.tenant_id).await;
    let other = TenantChangeRequest::new(
        t.id.clone(),
        Op::Validate,
        ChangeParams::default(),
        ChangeRequestStatus::Running,
        &admin(),
    );
    t.active_change_request_id = Some(other.id.clone());
    w.put_record(&other).await;
    w.put_record(&t).await;
    let error = json!({ "Error": "Timeout", "Cause": "late" });
    let e = error_of(w.call(finish(&cr.id, "failed", Some(error.clone()))).await);
    assert_eq!(e.error_type(), "Conflict", "{e}");

    let answer = w.call(release(&cr.id, error)).await.unwrap();
    assert_eq!(answer, json!({ "status": "failed", "state": "BackingUp" }));
    assert_eq!(w.cr_now(&cr.id).await.status, ChangeRequestStatus::Failed);
    assert_eq!(w.tenant_now(&t.id).await, t, "the tenant is its holder's, untouched");
    assert_eq!(w.cr_now(&other.id).await, other);
    w.assert_fleet_consistent();
}

// =================================================================================================
// The whole workflow, as the state machine sequences it

#[tokio::test]
async fn a_resume_restores_access_then_tests_and_ends_healthy() {
    let w = world();
    let mut t = w.tenant(S::Suspended, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    w.ssm.script_matching("restore-access", CommandScript::succeed().running_for(2));
    w.jenkins.script("health-api-smoke", JobScript::success().queued_for(1).running_for(1));
    let cr = w.hold(&mut t, Op::Resume, None, json!({})).await;
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "succeeded", "state": "Healthy" }));
    let after = w.cr_now(&cr.id).await;
    let steps: Vec<(&str, &str)> = after.steps.iter().map(|s| (s.name.as_str(), s.status.as_str())).collect();
    assert_eq!(
        steps,
        [
            ("begin", "succeeded"),
            ("ansible restore-access", "succeeded"),
            ("health suite api-smoke", "succeeded"),
            ("health suite ui-smoke", "succeeded"),
            ("finish", "succeeded"),
        ]
    );
    assert_eq!(w.ssm.sent().len(), 1);
    let jobs: Vec<String> = w.jenkins.triggered().into_iter().map(|b| b.job).collect();
    assert_eq!(jobs, ["health-api-smoke", "health-ui-smoke"]);
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn a_failed_suite_stops_the_remaining_steps_and_finishes_failed_with_its_reason() {
    let w = world();
    w.release("3.2.0", &[("webapp", "3.2.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.jenkins.script("health-api-smoke", JobScript::failure());
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Broken" }));
    let after = w.cr_now(&cr.id).await;
    let error = after.error.clone().unwrap();
    assert!(error.starts_with("HealthFailed: jenkins job health-api-smoke ended Failure"), "{error}");
    assert!(!w.jenkins.triggered().iter().any(|b| b.job == "health-ui-smoke"), "later steps do not run");
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.release.to_string(), now.active_change_request_id), ("3.1.0".to_owned(), None));
    w.assert_fleet_consistent();
}

// =================================================================================================
// Task input and errors

#[tokio::test]
async fn unknown_or_malformed_task_input_is_invalid() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    // Begun, so that a refusal below is the input's, not a missing plan's.
    let steps = w.begin(&cr.id).await;
    let id = cr.id.to_string();
    let transition = json!(steps[index_of(&steps, "state InTesting")]);
    let jenkins = json!(steps[index_of(&steps, "jenkins upgrade-tenant")]);
    let bad = [
        json!({ "action": "explode", "change_request_id": id }),
        json!({ "change_request_id": id }),
        json!({ "action": "begin" }),
        json!({ "action": "begin", "change_request_id": 42 }),
        json!({ "action": "begin", "change_request_id": "not-a-change-request-id" }),
        json!("begin"),
        json!(null),
        json!({ "action": "transition", "change_request_id": id }),
        json!({ "action": "transition", "change_request_id": id, "step": { "kind": "teleport", "name": "x" } }),
        json!({ "action": "transition", "change_request_id": id, "step": { "kind": "transition", "name": "x", "to": "Nowhere" } }),
        json!({ "action": "transition", "change_request_id": id, "index": 99 }),
        json!({ "action": "transition", "change_request_id": id, "index": -1 }),
        json!({ "action": "transition", "change_request_id": id, "index": "one" }),
        json!({ "action": "jenkins_poll", "change_request_id": id, "step": jenkins }),
        json!({ "action": "jenkins_poll", "change_request_id": id, "step": jenkins, "ticket": { "started_at": "yesterday" } }),
        json!({ "action": "finish", "change_request_id": id }),
        json!({ "action": "finish", "change_request_id": id, "outcome": "maybe" }),
        json!({ "action": "release" }),
        // A task and a step of another kind.
        json!({ "action": "transition", "change_request_id": id, "step": jenkins }),
        json!({ "action": "jenkins_start", "change_request_id": id, "step": transition }),
        json!({ "action": "ssm_send", "change_request_id": id, "step": jenkins }),
        json!({ "action": "ssm_poll", "change_request_id": id, "step": jenkins,
                "ticket": { "command_id": "c", "instance_ids": [], "started_at": Utc::now() } }),
    ];
    let table = w.table.dump();
    for task in bad {
        let e = error_of(w.call(task.clone()).await);
        assert_eq!(e.error_type(), "Invalid", "{task}: {e}");
    }
    assert_eq!(w.table.dump(), table);
    assert!(w.jenkins.triggered().is_empty() && w.ssm.sent().is_empty());
}

#[test]
fn a_task_error_becomes_a_lambda_diagnostic_with_its_error_type() {
    let errors = [
        (TaskError::Transient("t".into()), "Transient"),
        (TaskError::Conflict("c".into()), "Conflict"),
        (TaskError::JenkinsFailed("j".into()), "JenkinsFailed"),
        (TaskError::CommandFailed("s".into()), "CommandFailed"),
        (TaskError::HealthFailed("h".into()), "HealthFailed"),
        (TaskError::Timeout("late".into()), "Timeout"),
        (TaskError::Invalid("i".into()), "Invalid"),
    ];
    for (e, kind) in errors {
        let message = e.to_string();
        assert_eq!(e.error_type(), kind);
        let d = Diagnostic::from(e);
        assert_eq!((d.error_type.as_str(), d.error_message.as_str()), (kind, message.as_str()));
        // What Lambda sends back, and what the state machine's Retry / Catch match on.
        let wire = serde_json::to_value(&d).unwrap();
        assert_eq!(wire, json!({ "errorType": kind, "errorMessage": message }));
    }
}

#[test]
fn the_cores_errors_become_the_task_errors_the_state_machine_matches() {
    let cases = [
        (ChangeError::Unavailable("down".into()), "Transient"),
        (ChangeError::Conflict("raced".into()), "Conflict"),
        (ChangeError::NotFound("no cr".into()), "Invalid"),
        (ChangeError::Internal("corrupt".into()), "Invalid"),
    ];
    for (e, kind) in cases {
        assert_eq!(TaskError::from(e.clone()).error_type(), kind, "{e:?}");
    }
    let down = StoreError::Unavailable(std::io::Error::other("timeout").into());
    assert_eq!(TaskError::from(down).error_type(), "Transient");
    assert_eq!(TaskError::from(StoreError::ConditionFailed { op: Some(0) }).error_type(), "Conflict");
}

/// Every task state of the state machine, by name.
fn asl_tasks(asl: &Value) -> Vec<(&str, &Value)> {
    fn walk<'a>(v: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
        if let Some(states) = v.get("States").and_then(Value::as_object) {
            for (name, state) in states {
                if state["Type"] == "Task" {
                    out.push((name, state));
                }
                walk(state, out);
                if let Some(p) = state.get("ItemProcessor") {
                    walk(p, out);
                }
            }
        }
    }
    let mut tasks = Vec::new();
    walk(asl, &mut tasks);
    tasks
}

fn asl() -> Value {
    serde_json::from_str(include_str!("../../../statemachines/lifecycle.asl.json")).unwrap()
}

#[test]
fn the_state_machine_retries_exactly_the_transient_errors_of_its_tasks() {
    let asl = asl();
    let tasks = asl_tasks(&asl);
    let actions: Vec<&str> = tasks.iter().filter_map(|(_, s)| s["Parameters"]["Payload"]["action"].as_str()).collect();
    for action in ["begin", "transition", "jenkins_start", "jenkins_poll", "ssm_send", "ssm_poll", "finish", "release"]
    {
        assert!(actions.contains(&action), "no task state sends {action}");
    }
    for (name, state) in tasks {
        let retried: Vec<&str> =
            state["Retry"][0]["ErrorEquals"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        if state["Parameters"]["Payload"]["action"] == "release" {
            // The fallback that frees the tenant retries whatever failed, then gives up failed.
            assert_eq!(retried, ["States.ALL"], "{name}");
            assert_eq!(state["Catch"][0]["Next"], "ChangeFailed", "{name}");
            continue;
        }
        assert!(retried.contains(&"Transient"), "{name} retries Transient");
        for kind in ["Conflict", "JenkinsFailed", "CommandFailed", "HealthFailed", "Timeout", "Invalid"] {
            assert!(!retried.contains(&kind), "{name} must not retry {kind}");
        }
    }
    // A finish that failed falls back to Release.
    assert_eq!(asl["States"]["FinishFailed"]["Catch"][0]["Next"], "Release");
}

#[test]
fn every_step_task_of_the_state_machine_names_its_step_by_its_index_in_the_plan() {
    let asl = asl();
    assert_eq!(asl["States"]["Steps"]["ItemSelector"]["index.$"], "$$.Map.Item.Index");
    // The rollback's steps follow the change's own in the stored plan: each item carries its index.
    assert_eq!(asl["States"]["RollbackSteps"]["ItemsPath"], "$.rollback.value.steps");
    assert_eq!(asl["States"]["RollbackSteps"]["ItemSelector"]["index.$"], "$$.Map.Item.Value.index");
    assert_eq!(asl["States"]["RollbackSteps"]["ItemSelector"]["step.$"], "$$.Map.Item.Value.step");
    let mut seen = Vec::new();
    for (name, state) in asl_tasks(&asl) {
        let payload = &state["Parameters"]["Payload"];
        let action = payload["action"].as_str().unwrap_or_default();
        let steps = ["transition", "record", "secret", "jenkins_start", "jenkins_poll", "ssm_send", "ssm_poll"];
        if steps.contains(&action) || ["approval", "window"].contains(&action) {
            assert_eq!(payload["index.$"], "$.index", "{name}");
            seen.push(action);
        }
    }
    // Each step task in both Maps, and the swap's gate and window (in the change's own Map only:
    // a rollback waits on no one).
    assert_eq!(seen.len(), 16, "{seen:?}");
}

#[tokio::test]
async fn a_poll_retried_after_its_success_answers_done_and_adds_no_second_entry() {
    let (w, cr, steps, start) = a_backup_begun().await;
    let name = "jenkins backup-tenant";
    let ticket = w.call(start).await.unwrap();
    let done = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
    let before = w.cr_now(&cr.id).await;
    // Step Functions retries the poll whose answer it lost: done again, nothing written.
    w.jenkins.set_down(true);
    let again = w.call(poll_task("jenkins_poll", &cr.id, &steps, name, &ticket)).await.unwrap();
    assert_eq!(again["done"], json!(true));
    assert_eq!(w.cr_now(&cr.id).await, before);
    assert_eq!(before.steps.iter().filter(|s| s.name == name).count(), 1);
}

#[tokio::test]
async fn an_abort_that_finds_only_the_intent_stops_the_build_the_lost_answer_queued() {
    let (w, cr, _, start) = a_backup_begun().await;
    w.jenkins.lose_trigger_answers(1);
    assert_eq!(error_of(w.call(start).await).error_type(), "Transient");
    assert_eq!(w.jenkins.triggered().len(), 1, "queued, though its answer was lost");
    w.deps.changes.abort(&cr.id, &bob(), reason("wrong window")).await.unwrap();
    let stopped = w.jenkins.stops();
    assert_eq!(stopped.len(), 1, "found by its PORTAL_STEP_ID and stopped: {stopped:?}");
    assert_eq!(stopped[0].queue_url, w.jenkins.triggered()[0].queue_url);
}

#[tokio::test]
async fn a_build_triggered_just_before_an_abort_landed_is_stopped_by_the_start_that_queued_it() {
    let (w, cr, _, start) = a_backup_begun().await;
    // A first try records its intent, and finds Jenkins down.
    w.jenkins.set_down(true);
    assert_eq!(error_of(w.call(start.clone()).await).error_type(), "Transient");
    w.jenkins.set_down(false);
    // The abort lands between the retry's trigger and its write recording the build.
    let mut aborted = w.cr_now(&cr.id).await;
    aborted.abort(&domain::Actor { sub: "bob".into(), email: None }, reason("now"), Utc::now()).unwrap();
    aborted.stamp.revision += 1;
    w.table.slip_op_before_next_write(WriteOp::put(aborted.to_item().unwrap(), Cond::Always));
    let e = error_of(w.call(start).await);
    assert_eq!(e.error_type(), "Conflict", "{e}");
    let queued = w.jenkins.triggered();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        w.jenkins.stops().iter().map(|b| b.queue_url.clone()).collect::<Vec<_>>(),
        vec![queued[0].queue_url.clone()],
        "nothing would follow that build: the start that queued it stopped it"
    );
}

#[tokio::test]
async fn a_provision_reports_what_it_built_and_the_finish_makes_it_the_tenants() {
    let w = world();
    w.release("3.1.0", &[("webapp", "3.1.0")]).await;
    let ec2 = "arn:aws:ec2:us-east-1:123456789012:instance/i-0cccccccccccccccc";
    w.jenkins.set_report(
        "provision-tenant",
        json!({"resources": [{"arn": ec2, "name": "app"}], "configs": {"webapp.url": {"value": "https://x.example"}}}),
    );
    let (t, cr) = w.created("3.1.0", false).await;
    let done = drive(&w, &cr.id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let step = recorded(&w.cr_now(&cr.id).await, "jenkins provision-tenant").clone();
    assert_eq!(step.detail.unwrap()["report"]["resources"][0]["arn"], ec2);
    let q = Query::new(None, layout::tenant_partition(&t.id)).prefix(layout::RESOURCE_LINK_PREFIX);
    let links = w.table.query(&q).await.unwrap().items;
    let (alarms, built): (Vec<Value>, Vec<Value>) = links
        .iter()
        .map(|i| i["arn"].clone())
        .partition(|a| a.as_str().is_some_and(|a| a.starts_with("arn:aws:cloudwatch:")));
    assert_eq!(built, vec![json!(ec2)]);
    assert_eq!(alarms.len(), 4, "and the provision's standard alarms: {alarms:?}");
    // Its EC2 instance is what an SSM step now runs on.
    let mut t = w.tenant_now(&t.id).await;
    let m = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    assert_eq!(drive(&w, &m.id).await["status"], "succeeded");
    assert_eq!(w.ssm.sent()[0].instance_ids, vec!["i-0cccccccccccccccc".to_owned()]);
}

#[tokio::test]
async fn a_report_that_does_not_read_fails_the_step_and_never_echoes_a_secret() {
    let w = world();
    w.release("3.1.0", &[("webapp", "3.1.0")]).await;
    w.jenkins.set_report("provision-tenant", json!({"configs": {"db.password": {"value": "hunter2"}}}));
    let (t, cr) = w.created("3.1.0", false).await;
    let done = drive(&w, &cr.id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "jenkins provision-tenant");
    assert_eq!(step.status, StepStatus::Failed);
    assert!(step.error.as_deref().unwrap().contains("portal/report.json"), "{:?}", step.error);
    assert!(!serde_json::to_string(&after).unwrap().contains("hunter2"), "the value is never stored");
    assert_eq!(w.tenant_now(&t.id).await.state, S::Broken);
}

#[tokio::test]
async fn a_failed_commands_output_is_kept_short_and_redacted_with_a_link_to_the_full_log() {
    let stderr = "i-0aaaaaaaaaaaaaaaa: Failed (exit 2): mysql: login failed password=hunter2\nTraceback...\n  line 2";
    let (w, cr, steps, ticket) = a_command_under_way(CommandScript::fail(stderr)).await;
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &steps, PLAYBOOK, &ticket)).await);
    let text = e.to_string();
    assert!(text.contains("login failed password=***"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains("Traceback"), "{text}");
    let command_id = serde_json::from_value::<CommandTicket>(ticket).unwrap().command_id;
    assert!(
        text.ends_with(&format!(
            "its output: https://eu-west-1.console.aws.amazon.com/systems-manager/run-command/{command_id}?region=eu-west-1"
        )),
        "{text}"
    );
    let stored = serde_json::to_string(&w.cr_now(&cr.id).await).unwrap();
    assert!(!stored.contains("hunter2"), "never stored");
}

// =================================================================================================
// Password rotations

/// A healthy tenant with an EC2 instance whose webapp password is version 1 (current), and a
/// `rotate_webapp_password` of it, held. Answers the tenant, the change request and the old value.
async fn a_rotation(w: &World) -> (Tenant, TenantChangeRequest, String) {
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let parameter = domain::lifecycle::SecretKind::Webapp.parameter(SECRETS_PREFIX, &t.id);
    let old = engine::secrets::generate().unwrap();
    w.secrets.seed(&parameter, &old, engine::secrets::CURRENT);
    let cr = w.hold(&mut t, Op::RotateWebappPassword, None, json!({})).await;
    (t, cr, old)
}

fn webapp_parameter(t: &Tenant) -> String {
    domain::lifecycle::SecretKind::Webapp.parameter(SECRETS_PREFIX, &t.id)
}

/// Every place a secret value must never be: the table, the Jenkins builds' parameters, the SSM
/// commands, the change request (its steps and their outputs) and what the tasks answered.
fn assert_no_secret_value(w: &World, answers: &[Value]) {
    let table = serde_json::to_string(&w.table.dump()).unwrap();
    let builds = format!("{:?}", w.jenkins.triggered());
    let commands = format!("{:?}", w.ssm.sent());
    let answered = serde_json::to_string(answers).unwrap();
    let values = w.secrets.values();
    assert!(!values.is_empty());
    for v in values {
        for (place, text) in [("table", &table), ("jenkins", &builds), ("ssm", &commands), ("answers", &answered)] {
            assert!(!text.contains(&v), "a secret value is in the {place}");
        }
    }
}

#[tokio::test]
async fn a_rotation_writes_a_new_version_applies_and_verifies_it_by_reference_then_promotes_it() {
    let w = world();
    let (t, cr, old) = a_rotation(&w).await;
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "succeeded", "state": "Healthy" }));
    let parameter = webapp_parameter(&t);
    let current = w.secrets.labelled(&parameter, engine::secrets::CURRENT).await.unwrap().unwrap();
    assert_eq!(current.version, 2, "the new version is current");
    let new = w.secrets.value(&current).unwrap();
    assert_ne!(new, old);
    assert_eq!(new.len(), engine::secrets::GENERATED_LEN);
    // The box and the verifying job were given the version by reference.
    let sent = w.ssm.sent();
    assert_eq!(sent[0].playbook, "rotate-webapp-password");
    assert_eq!(sent[0].secret_version.as_deref(), Some(format!("{parameter}:2").as_str()));
    let verify = w.jenkins.triggered().into_iter().find(|b| b.job == "verify-webapp-password").unwrap();
    assert_eq!(
        (verify.params["SECRET_PARAMETER"].as_str(), verify.params["SECRET_VERSION"].as_str()),
        (parameter.as_str(), "2")
    );
    // The tenant's config references the secret.
    let config = w.table.dump().into_iter().find(|i| i.get("key").and_then(Value::as_str) == Some("webapp.password"));
    let config = config.expect("the config webapp.password");
    assert_eq!(config.get("secret_ref").and_then(Value::as_str), Some(format!("ssm:{parameter}").as_str()));
    let done = w.cr_now(&cr.id).await;
    assert_eq!(recorded(&done, "new secret version").detail, Some(json!({ "parameter": parameter, "version": 2 })));
    assert_no_secret_value(&w, &[answer, serde_json::to_value(&done).unwrap()]);
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn a_rotation_whose_new_password_does_not_work_goes_back_to_the_current_one_and_ends_as_it_started() {
    let w = world();
    let (t, cr, old) = a_rotation(&w).await;
    w.jenkins.script_when("verify-webapp-password", "SECRET_VERSION", "2", JobScript::failure());
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Healthy" }));
    let parameter = webapp_parameter(&t);
    let current = w.secrets.labelled(&parameter, engine::secrets::CURRENT).await.unwrap().unwrap();
    assert_eq!((current.version, w.secrets.value(&current).unwrap()), (1, old), "the old version stays current");
    let done = w.cr_now(&cr.id).await;
    assert!(done.error.as_deref().unwrap().contains("rolled back"), "{:?}", done.error);
    assert_eq!(
        names(done.phases().1),
        ["rollback ansible rotate-webapp-password", "rollback jenkins verify-webapp-password"],
    );
    // Applied again, and verified working, by the current version.
    let sent = w.ssm.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].secret_version.as_deref(), Some(format!("{parameter}:1").as_str()));
    let verified: Vec<String> = w
        .jenkins
        .triggered()
        .into_iter()
        .filter(|b| b.job == "verify-webapp-password")
        .map(|b| b.params["SECRET_VERSION"].clone())
        .collect();
    assert_eq!(verified, ["2", "1"]);
    assert!(!w.table.dump().iter().any(|i| i.get("key").and_then(Value::as_str) == Some("webapp.password")));
    assert_no_secret_value(&w, &[answer, serde_json::to_value(&done).unwrap()]);
}

#[tokio::test]
async fn a_rotation_whose_rollback_fails_too_ends_broken_and_one_with_no_current_version_cannot_go_back() {
    let w = world();
    let (t, cr, _) = a_rotation(&w).await;
    w.jenkins.script("verify-webapp-password", JobScript::failure());
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "failed", "state": "Broken" }));
    assert_eq!(w.tenant_now(&t.id).await.state, S::Broken);

    // The first rotation of a secret the portal never had: nothing to go back to.
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::RotateWebappPassword, None, json!({})).await;
    w.jenkins.script("verify-webapp-password", JobScript::failure());
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "failed", "state": "Broken" }));
    let done = w.cr_now(&cr.id).await;
    assert!(done.error.as_deref().unwrap().contains("no version is current"), "{:?}", done.error);
}

#[tokio::test]
async fn a_retried_new_version_step_makes_no_second_version_and_a_rotation_that_fails_before_applying_has_nothing_to_undo()
 {
    let w = world();
    let (t, cr, _) = a_rotation(&w).await;
    let steps = w.begin(&cr.id).await;
    let generate = step_task("secret", &cr.id, &steps, "new secret version");
    w.call(generate.clone()).await.unwrap();
    // The answer was lost and the record too: the step runs again.
    let mut lost = w.cr_now(&cr.id).await;
    lost.steps.retain(|s| s.name != "new secret version");
    w.put_record(&lost).await;
    w.call(generate).await.unwrap();
    let parameter = webapp_parameter(&t);
    assert_eq!(w.secrets.labelled(&parameter, cr.id.as_str()).await.unwrap().unwrap().version, 2);
    assert_eq!(w.secrets.values().len(), 2, "one new version, not two");

    let w = world();
    let (t, cr, old) = a_rotation(&w).await;
    w.secrets.set_down(true);
    let answer = drive(&w, &cr.id).await;
    w.secrets.set_down(false);
    assert_eq!(answer, json!({ "status": "failed", "state": "Healthy" }), "nothing was applied: as it started");
    assert!(w.ssm.sent().is_empty());
    let current = w.secrets.labelled(&webapp_parameter(&t), engine::secrets::CURRENT).await.unwrap().unwrap();
    assert_eq!(w.secrets.value(&current), Some(old));
}

// =================================================================================================
// A backup blocks public access while it copies

#[tokio::test]
async fn a_backup_blocks_public_access_while_it_copies_and_a_failed_one_opens_it_again() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "succeeded", "state": "Healthy" }));
    let playbooks: Vec<String> = w.ssm.sent().into_iter().map(|c| c.playbook).collect();
    assert_eq!(playbooks, ["public-access-off", "public-access-on"]);

    // The backup job fails: access is opened again and the tenant is given back as it was.
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    w.jenkins.script("backup-tenant", JobScript::failure());
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "failed", "state": "Healthy" }));
    let playbooks: Vec<String> = w.ssm.sent().into_iter().map(|c| c.playbook).collect();
    assert_eq!(playbooks, ["public-access-off", "public-access-on"]);
    assert_eq!(names(w.cr_now(&cr.id).await.phases().1), ["rollback ansible public-access-on"]);

    // Opening it again fails too: the customer is locked out, which Maintenance says.
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    w.jenkins.script("backup-tenant", JobScript::failure());
    w.ssm.script_matching("public-access-on", CommandScript::fail("iptables: permission denied"));
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "failed", "state": "Maintenance" }));
}

#[test]
fn every_state_of_the_state_machine_has_a_name_of_its_own_across_its_maps() {
    fn names(states: &Value, out: &mut Vec<String>) {
        for (name, state) in states.as_object().expect("states") {
            out.push(name.clone());
            if let Some(inner) = state.get("ItemProcessor").and_then(|p| p.get("States")) {
                names(inner, out);
            }
        }
    }
    let mut all = Vec::new();
    names(&asl()["States"], &mut all);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "a state name is used twice (Step Functions refuses it): {all:?}");
}

// =================================================================================================
// A swap upgrade: the new side, a gate for the cut-over, a fallback window

async fn a_swap(w: &World, fallback_seconds: u64) -> (Tenant, TenantChangeRequest) {
    w.release("3.1.0", &[("webapp", "3.1.0")]).await;
    w.release("3.2.0", &[("webapp", "3.2.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.component(&t, "webapp", "3.1.0").await;
    let params = json!({ "release": "3.2.0", "change_model": "swap", "fallback_seconds": fallback_seconds });
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Swap), params).await;
    (t, cr)
}

fn jobs(w: &World) -> Vec<(String, String)> {
    w.jenkins
        .triggered()
        .into_iter()
        .map(|b| (b.job.clone(), b.params.get("SIDE").cloned().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn a_swap_builds_and_validates_the_new_side_cuts_over_once_approved_then_releases_the_old_side() {
    let w = world();
    let (t, cr) = a_swap(&w, 0).await;
    let steps = w.begin(&cr.id).await;
    assert_eq!(
        names(&steps),
        [
            "jenkins upgrade-tenant-swap",
            "new side health suite api-smoke",
            "new side health suite ui-smoke",
            "cut-over approval",
            "jenkins cut-over-tenant-swap",
            "record release",
            "state InTesting",
            "fallback window",
            "jenkins release-old-side"
        ]
    );
    assert_eq!(w.tenant_now(&t.id).await.state, S::Healthy, "the live side serves meanwhile");
    w.at_gate.lock().unwrap().push_back("approve");
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "succeeded", "state": "Healthy" }));
    let s = |j: &str, side: &str| (j.to_owned(), side.to_owned());
    assert_eq!(
        jobs(&w),
        [
            s("upgrade-tenant-swap", "new"),
            s("health-api-smoke", "new"),
            s("health-ui-smoke", "new"),
            s("cut-over-tenant-swap", "new"),
            s("release-old-side", "live")
        ]
    );
    let done = w.cr_now(&cr.id).await;
    let gate = done.gate.clone().expect("the gate");
    assert_eq!((gate.approved, gate.decided_by.as_deref()), (Some(true), Some("bob")));
    assert_eq!(w.tenant_now(&t.id).await.release.to_string(), "3.2.0");
}

#[tokio::test]
async fn a_swap_whose_cut_over_is_rejected_drops_the_new_side_and_the_live_one_never_moved() {
    let w = world();
    let (t, cr) = a_swap(&w, 0).await;
    w.at_gate.lock().unwrap().push_back("reject");
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "failed", "state": "Healthy" }));
    let done = w.cr_now(&cr.id).await;
    assert!(done.error.as_deref().unwrap().contains("rejected by bob"), "{:?}", done.error);
    assert_eq!(
        names(done.phases().1),
        ["rollback jenkins rollback-upgrade-tenant-swap"],
        "only the new side is dropped"
    );
    assert!(!jobs(&w).iter().any(|(j, _)| j == "cut-over-tenant-swap"));
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.state, now.release.to_string()), (S::Healthy, "3.1.0".to_owned()));
    assert_eq!(versions(&w.components_now(&t.id).await), BTreeMap::from([("webapp".into(), "3.1.0".into())]));
}

#[tokio::test]
async fn a_rollback_in_the_fallback_window_moves_traffic_back_and_the_old_side_is_kept() {
    let w = world();
    let (t, cr) = a_swap(&w, 3600).await;
    w.at_gate.lock().unwrap().extend(["approve", "rollback"]);
    assert_eq!(drive(&w, &cr.id).await, json!({ "status": "failed", "state": "Healthy" }));
    let done = w.cr_now(&cr.id).await;
    let error = done.error.clone().unwrap();
    assert!(
        error.contains("rolled back by bob during the fallback window") && error.contains("rolled back to 3.1.0"),
        "{error}"
    );
    assert_eq!(
        names(done.phases().1),
        [
            "rollback jenkins rollback-upgrade-tenant-swap",
            "rollback revert release",
            "rollback state InTesting",
            "rollback health suite api-smoke",
            "rollback health suite ui-smoke"
        ]
    );
    assert!(!jobs(&w).iter().any(|(j, _)| j == "release-old-side"), "the old side is kept");
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.state, now.release.to_string()), (S::Healthy, "3.1.0".to_owned()));
}

#[tokio::test]
async fn only_another_admin_decides_a_gate_and_a_rollback_needs_a_fallback_window() {
    let w = world();
    let (_, cr) = a_swap(&w, 3600).await;
    let steps = w.begin(&cr.id).await;
    // Not in a window yet: nothing to roll back.
    let e = w.deps.changes.request_rollback(&cr.id, &bob(), reason("now")).await.unwrap_err();
    assert!(matches!(e, ChangeError::Conflict(_)), "{e}");
    let gate = step_task("approval", &cr.id, &steps, "cut-over approval");
    assert_eq!(w.call(gate.clone()).await.unwrap(), json!({ "done": false }));
    assert!(w.cr_now(&cr.id).await.awaits_gate());
    let requester = Caller::person(Actor { sub: "alice".into(), email: None }, Role::Admin);
    let e = w.deps.changes.approve(&cr.id, &requester).await.unwrap_err();
    assert!(matches!(e, ChangeError::Forbidden(_)), "the requester does not approve: {e}");
    let table = w.table.dump();
    assert_eq!(w.call(gate.clone()).await.unwrap(), json!({ "done": false }));
    assert_eq!(w.table.dump(), table, "a poll that only waits writes nothing");
    w.deps.changes.approve(&cr.id, &bob()).await.unwrap();
    assert_eq!(w.call(gate).await.unwrap(), json!({ "done": true }));
    let e = w.deps.changes.approve(&cr.id, &bob()).await.unwrap_err();
    assert!(matches!(e, ChangeError::Conflict(_)), "decided once: {e}");
}

// =================================================================================================
// drift

/// A tenant in `state` recording webapp 3.1.0 whose box runs 3.2.0, checked by the schedule,
/// and a change request of `op` holding it.
async fn a_drifted(w: &World, state: TenantState, op: Operation) -> (Tenant, TenantChangeRequest) {
    let mut t = w.tenant(state, "3.1.0").await;
    w.component(&t, "webapp", "3.1.0").await;
    let running = json!({"components": {"webapp": "3.2.0"}, "configs": {}});
    w.update_manager.set_running(&t.id, serde_json::from_value(running).unwrap());
    let caller = changes::Caller::system("schedule:drift", domain::Source::Schedule);
    let report = w.changes().check_drift(w.update_manager.as_ref(), &t, &caller, None).await.unwrap();
    assert_eq!(report.drifted.len(), 1);
    let cr = w.hold(&mut t, op, None, json!({})).await;
    (t, cr)
}

#[tokio::test]
async fn adopting_drift_records_what_the_box_runs_and_ends_as_it_started() {
    let w = world();
    let (t, cr) = a_drifted(&w, S::Broken, Op::AdoptDrift).await;
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "succeeded", "state": "Broken" }));
    assert_eq!(w.components_now(&t.id).await["webapp"].version.as_str(), "3.2.0");
    assert!(w.update_manager.installs().is_empty(), "the box is not touched");
    assert!(!w.changes().drift_report(&t.id).await.unwrap().unwrap().is_drifted());
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn reapplying_installs_the_record_reads_the_box_back_and_tests_it() {
    let w = world();
    let (t, cr) = a_drifted(&w, S::Healthy, Op::ReapplyRecorded).await;
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "succeeded", "state": "Healthy" }));
    let installs = w.update_manager.installs();
    assert_eq!(installs.len(), 1);
    assert_eq!(installs[0].1.components.values().map(|v| v.as_str()).collect::<Vec<_>>(), ["3.1.0"]);
    assert_eq!(w.components_now(&t.id).await["webapp"].version.as_str(), "3.1.0", "the record is unchanged");
    assert!(!w.changes().drift_report(&t.id).await.unwrap().unwrap().is_drifted());
    let done = w.cr_now(&cr.id).await;
    assert!(done.succeeded("verify no drift") && done.succeeded("health suite api-smoke"));
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn a_box_that_still_differs_after_the_install_is_broken_and_named() {
    let w = world();
    let (t, cr) = a_drifted(&w, S::Healthy, Op::ReapplyRecorded).await;
    w.update_manager.ignore_installs(&t.id);
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Broken" }));
    let done = w.cr_now(&cr.id).await;
    let error = done.error.clone().unwrap_or_default();
    assert!(error.contains("component webapp runs \"3.2.0\" (recorded \"3.1.0\")"), "{error}");
    assert!(!done.ran("health suite api-smoke"), "no suite runs on a box that differs");
    assert!(w.changes().drift_report(&t.id).await.unwrap().unwrap().is_drifted());
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn an_update_manager_that_refuses_the_install_fails_the_reapply() {
    let w = world();
    let (t, cr) = a_drifted(&w, S::Maintenance, Op::ReapplyRecorded).await;
    w.update_manager.fail(&t.id, engine::UpdateManagerError::Refused("404 Not Found".into()));
    let answer = drive(&w, &cr.id).await;
    assert_eq!(answer, json!({ "status": "failed", "state": "Broken" }));
    let error = w.cr_now(&cr.id).await.error.unwrap_or_default();
    assert!(error.contains("Update Manager refused"), "{error}");
}
