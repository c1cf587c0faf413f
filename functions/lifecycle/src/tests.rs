//! Unit tests of the task handler over the in-memory fakes: the registry (`MemoryTable`),
//! Jenkins (`MemoryJenkins`, scripted per job) and SSM (`MemoryCommands`, scripted per command).
//! Records are written straight into the table; tasks are sent as the JSON the state machine
//! (`statemachines/lifecycle.asl.json`) sends. The end-to-end runs on moto are in
//! `tests/tests/lifecycle_on_moto.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Duration;
use domain::{ChangeModel, ComponentName, ComponentVersionLabel, CustomerId, ResourceId, TenantCreate, TenantId};
use engine::{CommandScript, JobScript, MemoryCommands, MemoryJenkins};
use lambda_runtime::Context;
use store::Item;
use store::memory::MemoryTable;

use super::*;

use ChangeModel as M;
use Operation as Op;
use TenantState as S;

const SUITES: [&str; 2] = ["api-smoke", "ui-smoke"];
const PACE: Pace = Pace { poll_seconds: 5, jenkins_timeout_seconds: 3600, ssm_timeout_seconds: 900 };
const EC2_A: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0aaaaaaaaaaaaaaaa";
const EC2_B: &str = "arn:aws:ec2:eu-west-1:123456789012:instance/i-0bbbbbbbbbbbbbbbb";
const RDS: &str = "arn:aws:rds:us-east-1:123456789012:db:acme-prod";

static NEXT_NAME: AtomicUsize = AtomicUsize::new(1);

fn admin() -> WriteContext {
    WriteContext::api(Actor { sub: "alice".into(), email: Some("alice@vendor.example".into()) })
}

fn suites() -> Vec<String> {
    SUITES.map(String::from).to_vec()
}

/// The handler's dependencies, with the fakes kept at hand.
struct World {
    table: Arc<MemoryTable>,
    jenkins: Arc<MemoryJenkins>,
    ssm: Arc<MemoryCommands>,
    deps: Deps,
}

fn world() -> World {
    let table = Arc::new(MemoryTable::new());
    let jenkins = Arc::new(MemoryJenkins::new());
    let ssm = Arc::new(MemoryCommands::new());
    let deps =
        Deps { registry: table.clone(), jenkins: jenkins.clone(), remote: ssm.clone(), suites: suites(), pace: PACE };
    World { table, jenkins, ssm, deps }
}

impl World {
    // --- writing the table ------------------------------------------------------------------

    async fn put(&self, item: Item) {
        self.table.batch_put(vec![item]).await.unwrap();
    }

    async fn put_record<R: Record>(&self, r: &R) {
        self.put(r.to_item().unwrap()).await;
    }

    /// Counts a tenant in (or out of) the fleet counters, as the API does when it writes one.
    async fn count(&self, t: &Tenant, by: i64) {
        let mut tx = Tx::new();
        count_in_fleet(&mut tx, &[(t.state, &t.release, by)]);
        tx.commit_to(self.table.as_ref()).await.unwrap();
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
            .map(|i| ComponentVersion::from_item(i).unwrap())
            .map(|c| (c.name.to_string(), c))
            .collect()
    }

    /// The fleet counters (`dimension` → value → count).
    fn counters(&self) -> BTreeMap<(String, String), i64> {
        self.table
            .dump()
            .into_iter()
            .filter(|i| i.get("pk").and_then(Value::as_str) == Some(layout::FLEET_PARTITION))
            .map(|i| {
                let s = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                ((s("dimension"), s("value")), i.get("count").and_then(Value::as_i64).unwrap_or_default())
            })
            .collect()
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
}

// --- task payloads, as the ASL builds them ------------------------------------------------------

fn begin(cr: &ChangeRequestId) -> Value {
    json!({ "action": "begin", "change_request_id": cr })
}

fn step_task(action: &str, cr: &ChangeRequestId, step: &Step) -> Value {
    json!({ "action": action, "change_request_id": cr, "step": step })
}

fn poll_task(action: &str, cr: &ChangeRequestId, step: &Step, ticket: &Value) -> Value {
    json!({ "action": action, "change_request_id": cr, "step": step, "ticket": ticket })
}

fn finish(cr: &ChangeRequestId, outcome: &str, error: Option<Value>) -> Value {
    match error {
        Some(e) => json!({ "action": "finish", "change_request_id": cr, "outcome": outcome, "error": e }),
        None => json!({ "action": "finish", "change_request_id": cr, "outcome": outcome }),
    }
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

fn named(steps: &[Step], name: &str) -> Step {
    steps.iter().find(|s| s.name() == name).cloned().unwrap_or_else(|| panic!("no step {name} in {steps:?}"))
}

fn jenkins_step(job: &str, suite: Option<&str>) -> Step {
    Step::Jenkins {
        name: match suite {
            Some(s) => format!("health suite {s}"),
            None => format!("jenkins {job}"),
        },
        job: job.into(),
        suite: suite.map(str::to_owned),
        poll_seconds: PACE.poll_seconds,
        timeout_seconds: PACE.jenkins_timeout_seconds,
    }
}

fn playbook_step(playbook: &str) -> Step {
    Step::Ssm {
        name: format!("ansible {playbook}"),
        commands: vec![format!("ansible-playbook -i localhost, -c local /opt/lucidum/playbooks/{playbook}.yml")],
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

fn ago(seconds: i64) -> DateTime<Utc> {
    Utc::now() - Duration::seconds(seconds)
}

/// Runs a change request the way `lifecycle.asl.json` does, without the waits: begin, each step
/// (started, then polled until done), finish succeeded; any error is caught and finishes the
/// change request failed with the error object Step Functions builds.
async fn drive(w: &World, cr: &ChangeRequestId) -> Value {
    let run_steps = async {
        let recipe = w.call(begin(cr)).await?;
        for step in recipe["steps"].as_array().expect("steps") {
            let kind = step["kind"].as_str().expect("a step kind");
            let (start, poll) = match kind {
                "transition" => {
                    w.call(json!({ "action": "transition", "change_request_id": cr, "step": step })).await?;
                    continue;
                }
                "jenkins" => ("jenkins_start", "jenkins_poll"),
                "ssm" => ("ssm_send", "ssm_poll"),
                other => panic!("the ASL has no branch for a {other} step"),
            };
            let mut ticket = w.call(json!({ "action": start, "change_request_id": cr, "step": step })).await?;
            for _ in 0..50 {
                let payload = json!({ "action": poll, "change_request_id": cr, "step": step, "ticket": ticket });
                ticket = w.call(payload).await?;
                if ticket["done"] == json!(true) {
                    break;
                }
            }
            assert_eq!(ticket["done"], json!(true), "step {step} never finished");
        }
        Ok::<(), TaskError>(())
    }
    .await;
    match run_steps {
        Ok(()) => w.call(finish(cr, "succeeded", None)).await.expect("finish succeeded"),
        Err(e) => w.call(finish(cr, "failed", Some(caught(e)))).await.expect("finish failed"),
    }
}

// =================================================================================================
// begin

/// (operation, state it starts from, change model, steps, state after begin)
type BeginCase = (Operation, TenantState, Option<ChangeModel>, Vec<&'static str>, TenantState);

#[tokio::test]
async fn begin_answers_the_steps_of_each_operation_and_enters_its_first_state() {
    let all = ["health suite api-smoke", "health suite ui-smoke"];
    #[rustfmt::skip]
    let cases: Vec<BeginCase> = vec![
        (Op::Upgrade, S::Healthy, Some(M::Maintenance),
            [&["jenkins upgrade-tenant", "state InTesting"][..], &all[..]].concat(), S::Maintenance),
        (Op::Upgrade, S::Healthy, Some(M::Swap),
            [&["jenkins upgrade-tenant-swap", "state InTesting"][..], &all[..]].concat(), S::Healthy),
        (Op::Upgrade, S::Maintenance, None,
            [&["jenkins upgrade-tenant", "state InTesting"][..], &all[..]].concat(), S::Maintenance),
        (Op::Backup, S::Healthy, None, vec!["jenkins backup-tenant"], S::BackingUp),
        (Op::Backup, S::Maintenance, None, vec!["jenkins backup-tenant"], S::BackingUp),
        (Op::EnterMaintenance, S::Healthy, None, vec!["ansible maintenance-on"], S::Healthy),
        (Op::ExitMaintenance, S::Maintenance, None, [&["ansible maintenance-off"][..], &all[..]].concat(), S::InTesting),
        (Op::Resume, S::Suspended, None, [&["ansible restore-access"][..], &all[..]].concat(), S::InTesting),
        (Op::Suspend, S::Healthy, None, vec!["ansible suspend-access"], S::Healthy),
        (Op::Terminate, S::Broken, None, vec!["jenkins terminate-tenant"], S::Broken),
        (Op::Restore, S::Broken, Some(M::Maintenance),
            [&["jenkins restore-tenant", "state InTesting"][..], &all[..]].concat(), S::Restoring),
        (Op::Restore, S::Maintenance, Some(M::Swap),
            [&["jenkins restore-tenant-swap", "state InTesting"][..], &all[..]].concat(), S::Maintenance),
        (Op::Validate, S::Healthy, None, all.to_vec(), S::InTesting),
        (Op::RotateWebappPassword, S::Healthy, None, vec!["ansible rotate-webapp-password"], S::Healthy),
        (Op::RotateDbPassword, S::Healthy, Some(M::Maintenance), vec!["jenkins rotate-db-password"], S::Maintenance),
        (Op::RotateAirflowPassword, S::Healthy, Some(M::Swap), vec!["jenkins rotate-airflow-password"], S::Healthy),
    ];
    for (op, from, model, expected, entered) in cases {
        let w = world();
        let mut t = w.tenant(from, "3.1.0").await;
        let cr = w.hold(&mut t, op, model, json!({})).await;
        let answer = w.call(begin(&cr.id)).await.unwrap_or_else(|e| panic!("{op} from {from}: {e}"));
        let steps: Vec<Step> = serde_json::from_value(answer["steps"].clone()).unwrap();
        assert_eq!(names(&steps), expected, "{op} from {from} with {model:?}");
        let plan = lifecycle::plan(from, op, model).unwrap();
        assert_eq!(plan_of(&cr).unwrap(), plan);
        assert_eq!(answer, json!({ "steps": recipe::steps(&plan, &suites(), PACE) }), "the answer is the recipe");
        let now = w.tenant_now(&t.id).await;
        assert_eq!(now.state, entered, "{op} from {from} with {model:?} enters {entered}");
        assert_eq!(now.active_change_request_id.as_ref(), Some(&cr.id), "still held");
        w.assert_fleet_consistent();
    }
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
        assert_eq!(recorded(&w.cr_now(&cr.id).await, "begin").status, "succeeded");
        w.assert_fleet_consistent();
    }
}

#[tokio::test]
async fn begin_of_an_upgrade_enters_maintenance_but_a_swap_leaves_the_tenant_serving() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    w.begin(&cr.id).await;

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
    assert_eq!((step.status.as_str(), step.error.as_deref()), ("succeeded", None));
    assert!(step.ended_at.is_some());
    let detail = step.detail.as_ref().expect("the plan and steps are kept");
    assert_eq!(detail["plan"]["enter"], "Maintenance");
    assert_eq!(detail["steps"][0]["job"], "upgrade-tenant");
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

// =================================================================================================
// The claim: every action refuses a change request that does not hold its tenant

/// A running upgrade that has begun, a build and a command to poll, and every task it may
/// send, each named.
async fn an_upgrade_under_way() -> (World, Tenant, TenantChangeRequest, Vec<(&'static str, Value)>) {
    let w = world();
    w.release("3.2.0", &[("webapp", "3.2.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    w.begin(&cr.id).await;
    let job = jenkins_step("upgrade-tenant", None);
    let ticket = w.call(step_task("jenkins_start", &cr.id, &job)).await.unwrap();
    let ssm = playbook_step("maintenance-on");
    let command = w.call(step_task("ssm_send", &cr.id, &ssm)).await.unwrap();
    let transition = Step::Transition { name: "state InTesting".into(), to: S::InTesting };
    let tasks = vec![
        ("begin", begin(&cr.id)),
        ("transition", step_task("transition", &cr.id, &transition)),
        ("jenkins_start", step_task("jenkins_start", &cr.id, &job)),
        ("jenkins_poll", poll_task("jenkins_poll", &cr.id, &job, &ticket)),
        ("ssm_send", step_task("ssm_send", &cr.id, &ssm)),
        ("ssm_poll", poll_task("ssm_poll", &cr.id, &ssm, &command)),
        ("finish succeeded", finish(&cr.id, "succeeded", None)),
        ("finish failed", finish(&cr.id, "failed", Some(json!({ "Error": "Timeout", "Cause": "late" })))),
    ];
    let t = w.tenant_now(&t.id).await;
    let cr = w.cr_now(&cr.id).await;
    (w, t, cr, tasks)
}

/// Every task is refused with `Conflict` and nothing is written, triggered or sent.
async fn assert_every_task_refused(w: &World, tasks: &[(&str, Value)], except_finish: bool, why: &str) {
    let table = w.table.dump();
    let (builds, commands) = (w.jenkins.triggered().len(), w.ssm.sent().len());
    for (name, task) in tasks {
        if except_finish && name.starts_with("finish") {
            continue;
        }
        let e = error_of(w.call(task.clone()).await);
        assert_eq!(e.error_type(), "Conflict", "{name} when {why}: {e}");
        assert_eq!(w.table.dump(), table, "{name} when {why} wrote to the table");
    }
    assert_eq!(w.jenkins.triggered().len(), builds, "a job was triggered when {why}");
    assert_eq!(w.ssm.sent().len(), commands, "a command was sent when {why}");
}

#[tokio::test]
async fn every_action_refuses_a_change_request_whose_tenant_was_released() {
    let (w, mut t, _, tasks) = an_upgrade_under_way().await;
    t.active_change_request_id = None;
    w.put_record(&t).await;
    assert_every_task_refused(&w, &tasks, false, "the tenant was released").await;
}

#[tokio::test]
async fn every_action_refuses_a_change_request_whose_tenant_another_one_holds() {
    let (w, mut t, _, tasks) = an_upgrade_under_way().await;
    let other = TenantChangeRequest::new(t.id.clone(), Op::Backup, json!({}), ChangeRequestStatus::Running, &admin());
    t.active_change_request_id = Some(other.id.clone());
    w.put_record(&other).await;
    w.put_record(&t).await;
    assert_every_task_refused(&w, &tasks, false, "another change request holds the tenant").await;
    let other_now = w.cr_now(&other.id).await;
    assert_eq!(other_now, other, "the other change request is untouched");
}

#[tokio::test]
async fn every_action_refuses_a_change_request_that_is_not_running() {
    for status in [ChangeRequestStatus::Pending, ChangeRequestStatus::AwaitingApproval] {
        let (w, _, mut cr, tasks) = an_upgrade_under_way().await;
        cr.status = status;
        w.put_record(&cr).await;
        assert_every_task_refused(&w, &tasks, false, &format!("the change request is {status:?}")).await;
    }
}

#[tokio::test]
async fn an_ended_change_request_is_refused_and_its_finish_only_answers_its_status() {
    for (status, answer) in [(ChangeRequestStatus::Cancelled, "cancelled"), (ChangeRequestStatus::Rejected, "rejected")]
    {
        let (w, _, mut cr, tasks) = an_upgrade_under_way().await;
        cr.status = status;
        w.put_record(&cr).await;
        assert_every_task_refused(&w, &tasks, true, &format!("the change request is {status:?}")).await;
        let table = w.table.dump();
        for (name, task) in tasks.iter().filter(|(n, _)| n.starts_with("finish")) {
            assert_eq!(w.call(task.clone()).await.unwrap(), json!({ "status": answer }), "{name}");
        }
        assert_eq!(w.table.dump(), table, "finishing an ended change request writes nothing");
    }
}

#[tokio::test]
async fn tasks_of_an_unknown_change_request_are_invalid() {
    let w = world();
    let nobody = ChangeRequestId::generate();
    for task in
        [begin(&nobody), finish(&nobody, "succeeded", None), step_task("ssm_send", &nobody, &playbook_step("x"))]
    {
        assert_eq!(error_of(w.call(task).await).error_type(), "Invalid");
    }
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

    let to_testing = named(&steps, "state InTesting");
    let answer = w.call(step_task("transition", &cr.id, &to_testing)).await.unwrap();
    assert_eq!(answer, json!({ "done": true }));
    let now = w.tenant_now(&t.id).await;
    assert_eq!(now.state, S::InTesting);
    assert_eq!(now.active_change_request_id.as_ref(), Some(&cr.id), "a transition keeps the claim");
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "state InTesting");
    assert_eq!(step.status, "succeeded");
    assert_eq!(step.detail, Some(json!({ "from": "Maintenance", "to": "InTesting" })));
    w.assert_fleet_consistent();
    let by_state = |s: &str| w.counter("state", s);
    assert_eq!([by_state("Healthy"), by_state("Maintenance"), by_state("InTesting"), by_state("Broken")], [1, 0, 2, 1]);
    assert_eq!((w.counter("release", "3.1.0"), w.counter("release", "3.2.0")), (3, 1));

    // Retried (or a transition into the state it is in): the tenant is not written again.
    let counters = w.counters();
    w.call(step_task("transition", &cr.id, &to_testing)).await.unwrap();
    assert_eq!(w.tenant_now(&t.id).await, now);
    assert_eq!(w.counters(), counters);
    w.assert_fleet_consistent();
}

// =================================================================================================
// jenkins_start / jenkins_poll

#[tokio::test]
async fn jenkins_start_passes_the_tenant_the_target_release_and_the_change_request() {
    let w = world();
    w.release("3.2.0", &[("webapp", "3.2.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;

    let ticket = w.call(step_task("jenkins_start", &cr.id, &named(&steps, "jenkins upgrade-tenant"))).await.unwrap();
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
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(built[0].params, expected, "the upgrade target, no BACKUP_ID, no SUITE");
    let ticket: BuildTicket = serde_json::from_value(ticket).unwrap();
    assert_eq!(ticket.build, QueuedBuild::queued("upgrade-tenant", built[0].queue_url.clone()));
    assert!(!ticket.done);
    assert!((Utc::now() - ticket.started_at).num_seconds() < 5);
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "jenkins upgrade-tenant");
    assert_eq!((step.status.as_str(), step.ended_at), ("running", None));
    assert_eq!(step.detail, Some(json!({ "job": "upgrade-tenant", "queue_url": built[0].queue_url })));
    assert_eq!(w.tenant_now(&t.id).await.state, S::Maintenance, "starting a job moves nothing");

    // A health suite names its suite.
    w.call(step_task("jenkins_start", &cr.id, &named(&steps, "health suite ui-smoke"))).await.unwrap();
    let suite = &w.jenkins.triggered()[1];
    assert_eq!(suite.job, "health-ui-smoke");
    assert_eq!(suite.params.get("SUITE").map(String::as_str), Some("ui-smoke"));
    assert_eq!(suite.params.get("RELEASE").map(String::as_str), Some("3.2.0"));
}

#[tokio::test]
async fn jenkins_start_passes_a_restores_backup_and_the_tenants_own_release() {
    let w = world();
    let mut t = w.tenant(S::Broken, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Restore, Some(M::Maintenance), json!({ "backup_id": "bk-2024-10-01" })).await;
    let steps = w.begin(&cr.id).await;
    w.call(step_task("jenkins_start", &cr.id, &steps[0])).await.unwrap();
    let p = &w.jenkins.triggered()[0].params;
    assert_eq!(w.jenkins.triggered()[0].job, "restore-tenant");
    assert_eq!(p.get("BACKUP_ID").map(String::as_str), Some("bk-2024-10-01"));
    assert_eq!(p.get("RELEASE").map(String::as_str), Some("3.1.0"));
    assert_eq!(p.get("OPERATION").map(String::as_str), Some("restore"));
    assert!(!p.contains_key("SUITE"));

    // A provision has no change model; an upgrade's "release" param means nothing to it.
    let w = world();
    let (t, cr) = w.created("3.1.0", false).await;
    let steps = w.begin(&cr.id).await;
    w.call(step_task("jenkins_start", &cr.id, &steps[0])).await.unwrap();
    let p = &w.jenkins.triggered()[0].params;
    assert_eq!(p.get("TENANT_ID"), Some(&t.id.to_string()));
    assert_eq!(p.get("RELEASE").map(String::as_str), Some("3.1.0"));
    assert_eq!(p.get("OPERATION").map(String::as_str), Some("provision"));
    assert!(!p.contains_key("CHANGE_MODEL") && !p.contains_key("BACKUP_ID"));
}

#[tokio::test]
async fn jenkins_start_when_jenkins_is_down_is_transient_and_records_nothing() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let before = w.cr_now(&cr.id).await;
    w.jenkins.set_down(true);
    let e = error_of(w.call(step_task("jenkins_start", &cr.id, &steps[0])).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_eq!(w.cr_now(&cr.id).await, before);
    w.jenkins.set_down(false);
    w.jenkins.set_refusing(true);
    let e = error_of(w.call(step_task("jenkins_start", &cr.id, &steps[0])).await);
    assert_eq!(e.error_type(), "JenkinsFailed", "a refused token is not retried: {e}");
}

#[tokio::test]
async fn jenkins_poll_is_not_done_while_queued_or_running_and_done_on_success() {
    let w = world();
    w.jenkins.script("backup-tenant", JobScript::success().queued_for(2).running_for(2));
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let started = w.call(step_task("jenkins_start", &cr.id, &steps[0])).await.unwrap();
    let mut ticket = started.clone();
    for poll in 0..4 {
        ticket = w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &ticket)).await.unwrap();
        assert_eq!(ticket, started, "poll {poll}: the same ticket, not done");
        assert_eq!(recorded(&w.cr_now(&cr.id).await, "jenkins backup-tenant").status, "running");
    }
    let done = w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
    assert_eq!(done["build"], started["build"]);
    assert_eq!(done["started_at"], started["started_at"]);
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "jenkins backup-tenant");
    assert_eq!(step.status, "succeeded");
    assert!(step.ended_at.is_some() && step.error.is_none());
    let detail = step.detail.clone().unwrap();
    assert_eq!(detail["result"], "SUCCESS");
    assert_eq!(detail["build_url"], "memory://jenkins/job/backup-tenant/1/");
    assert_eq!(after.steps.iter().filter(|s| s.name == "jenkins backup-tenant").count(), 1, "one entry per step");
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
        w.begin(&cr.id).await;
        let step = jenkins_step(job, suite);
        let ticket = w.call(step_task("jenkins_start", &cr.id, &step)).await.unwrap();
        let ticket = w.call(poll_task("jenkins_poll", &cr.id, &step, &ticket)).await.unwrap();
        assert_eq!(ticket["done"], json!(false));
        let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &step, &ticket)).await);
        assert_eq!(e.error_type(), error_type, "{job} {result:?}: {e}");
        assert!(e.to_string().contains(job), "{e}");
        let after = w.cr_now(&cr.id).await;
        let recorded = recorded(&after, step.name());
        assert_eq!(recorded.status, "failed");
        assert_eq!(recorded.error.as_deref(), Some(e.to_string().as_str()));
        assert_eq!(recorded.detail.as_ref().unwrap()["result"], json!(result));
        assert_eq!(after.status, ChangeRequestStatus::Running, "the change request ends only at finish");
        assert_eq!(w.tenant_now(&t.id).await.active_change_request_id.as_ref(), Some(&cr.id));
    }
}

#[tokio::test]
async fn a_build_not_finished_within_its_timeout_times_out() {
    for script in [JobScript::hang(), JobScript::success().queued_for(1000)] {
        let w = world();
        w.jenkins.script("backup-tenant", script.clone());
        let mut t = w.tenant(S::Healthy, "3.1.0").await;
        let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
        let steps = w.begin(&cr.id).await;
        let mut ticket: BuildTicket =
            serde_json::from_value(w.call(step_task("jenkins_start", &cr.id, &steps[0])).await.unwrap()).unwrap();

        ticket.started_at = ago(3500);
        let within = serde_json::to_value(&ticket).unwrap();
        let answer = w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &within)).await.unwrap();
        assert_eq!(answer["done"], json!(false), "{script:?}: still within its 3600 s");

        ticket.started_at = ago(3601 + 5);
        let late = serde_json::to_value(&ticket).unwrap();
        let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &late)).await);
        assert_eq!(e.error_type(), "Timeout", "{script:?}: {e}");
        assert_eq!(e.to_string(), "jenkins job backup-tenant did not finish within 3600 s");
        let after = w.cr_now(&cr.id).await;
        let step = recorded(&after, "jenkins backup-tenant");
        assert_eq!((step.status.as_str(), step.error.as_deref()), ("failed", Some(e.to_string().as_str())));
    }

    // A build that is done when polled late counts: its result, not the clock, decides.
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let mut ticket: BuildTicket =
        serde_json::from_value(w.call(step_task("jenkins_start", &cr.id, &steps[0])).await.unwrap()).unwrap();
    ticket.started_at = ago(10_000);
    let answer = w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &json!(ticket))).await.unwrap();
    assert_eq!(answer["done"], json!(true));
}

#[tokio::test]
async fn jenkins_down_while_polling_is_transient_and_writes_nothing() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let ticket = w.call(step_task("jenkins_start", &cr.id, &steps[0])).await.unwrap();
    let table = w.table.dump();
    w.jenkins.set_down(true);
    let e = error_of(w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &ticket)).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_eq!(w.table.dump(), table);
    // Retried once Jenkins is back, the poll carries on.
    w.jenkins.set_down(false);
    let done = w.call(poll_task("jenkins_poll", &cr.id, &steps[0], &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
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
    let e = error_of(w.call(step_task("ssm_send", &cr.id, &steps[0])).await);
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
    let ticket = w.call(step_task("ssm_send", &cr.id, &steps[0])).await.unwrap();

    let sent = w.ssm.sent();
    assert_eq!(sent.len(), 1, "one command for all instances");
    let mut on = sent[0].instance_ids.clone();
    on.sort();
    assert_eq!(on, ["i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"]);
    assert_eq!(sent[0].playbook, "maintenance-on");
    assert_eq!(sent[0].comment, format!("enter_maintenance {}", cr.id));
    let ticket: CommandTicket = serde_json::from_value(ticket).unwrap();
    assert_eq!((ticket.command_id.as_str(), ticket.done), (sent[0].command_id.as_str(), false));
    assert_eq!(ticket.instance_ids, sent[0].instance_ids);
    let after = w.cr_now(&cr.id).await;
    let step = recorded(&after, "ansible maintenance-on");
    assert_eq!(step.status, "running");
    assert_eq!(step.detail.as_ref().unwrap()["command_id"], json!(ticket.command_id));
    assert_eq!(step.detail.as_ref().unwrap()["instance_ids"], json!(ticket.instance_ids));
}

/// A tenant entering maintenance with one instance, its command sent: (world, cr, step, ticket).
async fn a_command_under_way(script: CommandScript) -> (World, TenantChangeRequest, Step, Value) {
    let w = world();
    w.ssm.script_matching("maintenance-on", script);
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    w.link(&t.id, EC2_A).await;
    let cr = w.hold(&mut t, Op::EnterMaintenance, None, json!({})).await;
    let steps = w.begin(&cr.id).await;
    let ticket = w.call(step_task("ssm_send", &cr.id, &steps[0])).await.unwrap();
    (w, cr, steps[0].clone(), ticket)
}

#[tokio::test]
async fn ssm_poll_is_not_done_while_running_and_done_when_the_command_succeeds() {
    let (w, cr, step, sent) = a_command_under_way(CommandScript::succeed().running_for(2)).await;
    let mut ticket = sent.clone();
    for _ in 0..2 {
        ticket = w.call(poll_task("ssm_poll", &cr.id, &step, &ticket)).await.unwrap();
        assert_eq!(ticket, sent);
    }
    let done = w.call(poll_task("ssm_poll", &cr.id, &step, &ticket)).await.unwrap();
    assert_eq!(done["done"], json!(true));
    assert_eq!(done["command_id"], sent["command_id"]);
    let after = w.cr_now(&cr.id).await;
    let recorded = recorded(&after, "ansible maintenance-on");
    assert_eq!((recorded.status.as_str(), recorded.error.as_deref()), ("succeeded", None));
    assert!(recorded.detail.is_some(), "the command id recorded at send is kept");
}

#[tokio::test]
async fn a_failed_command_is_command_failed_with_its_detail() {
    let (w, cr, step, ticket) = a_command_under_way(CommandScript::fail("i-0aaaaaaaaaaaaaaaa: Failed (exit 2)")).await;
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &step, &ticket)).await);
    assert_eq!(e.error_type(), "CommandFailed", "{e}");
    assert!(e.to_string().contains("i-0aaaaaaaaaaaaaaaa: Failed (exit 2)"), "{e}");
    let after = w.cr_now(&cr.id).await;
    let recorded = recorded(&after, "ansible maintenance-on");
    assert_eq!((recorded.status.as_str(), recorded.error.clone()), ("failed", Some(e.to_string())));
}

#[tokio::test]
async fn a_command_still_running_past_its_timeout_times_out() {
    let (w, cr, step, ticket) = a_command_under_way(CommandScript::run_forever()).await;
    let mut t: CommandTicket = serde_json::from_value(ticket).unwrap();
    t.started_at = ago(800);
    let answer = w.call(poll_task("ssm_poll", &cr.id, &step, &json!(t))).await.unwrap();
    assert_eq!(answer["done"], json!(false), "within its 900 s");
    t.started_at = ago(905);
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &step, &json!(t))).await);
    assert_eq!(e.error_type(), "Timeout", "{e}");
    assert!(e.to_string().contains("did not finish within 900 s"), "{e}");
    assert_eq!(recorded(&w.cr_now(&cr.id).await, "ansible maintenance-on").status, "failed");
}

#[tokio::test]
async fn ssm_down_is_transient() {
    let (w, cr, step, ticket) = a_command_under_way(CommandScript::succeed()).await;
    let table = w.table.dump();
    w.ssm.set_down(true);
    let e = error_of(w.call(poll_task("ssm_poll", &cr.id, &step, &ticket)).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    let e = error_of(w.call(step_task("ssm_send", &cr.id, &step)).await);
    assert_eq!(e.error_type(), "Transient", "{e}");
    assert_eq!(w.table.dump(), table);
}

// =================================================================================================
// finish

/// (operation, start state, model, outcome, where the tenant ends)
#[rustfmt::skip]
const ENDINGS: &[(Operation, TenantState, Option<ChangeModel>, &str, TenantState)] = &[
    (Op::Upgrade, S::Healthy, Some(M::Maintenance), "succeeded", S::Healthy),
    // No rollback runs yet: where the plan would roll back, the failure ends as a failed rollback.
    (Op::Upgrade, S::Healthy, Some(M::Maintenance), "failed", S::Broken),
    (Op::Upgrade, S::Maintenance, Some(M::Maintenance), "failed", S::Broken),
    (Op::Upgrade, S::Healthy, Some(M::Swap), "failed", S::Broken),
    (Op::Backup, S::Maintenance, None, "failed", S::Maintenance),
    (Op::Backup, S::Maintenance, None, "succeeded", S::Maintenance),
    (Op::Backup, S::Healthy, None, "failed", S::Healthy),
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
    (Op::RotateDbPassword, S::Healthy, Some(M::Maintenance), "failed", S::Healthy),
    (Op::RotateAirflowPassword, S::Maintenance, Some(M::Swap), "succeeded", S::Maintenance),
];

#[tokio::test]
async fn finish_ends_the_tenant_where_the_plan_says_and_releases_it() {
    for &(op, from, model, outcome, ends) in ENDINGS {
        let w = world();
        w.release("3.2.0", &[("webapp", "3.2.0")]).await;
        w.tenant(S::Healthy, "3.1.0").await;
        let mut t = w.tenant(from, "3.1.0").await;
        let params = if op == Op::Upgrade { json!({ "release": "3.2.0" }) } else { json!({}) };
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
        assert_eq!(step.status, outcome, "{case}");
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
            w.call(step_task("transition", &cr.id, to_testing)).await.unwrap();
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
        assert_eq!(again["status"], first["status"], "{outcome}");
        assert_eq!(w.table.dump(), table, "a retried {outcome} finish writes nothing");
        // Even the other outcome, late: the change request has ended.
        let other = if outcome == "failed" { "succeeded" } else { "failed" };
        assert_eq!(w.call(finish(&cr.id, other, None)).await.unwrap()["status"], json!(outcome));
        assert_eq!(w.table.dump(), table);
        assert_eq!(w.cr_now(&cr.id).await.steps.iter().filter(|s| s.name == "finish").count(), 1);
    }
}

#[tokio::test]
async fn an_upgrade_moves_the_release_and_the_components_to_the_target_manifest() {
    let w = world();
    w.release("3.1.0", &[("webapp", "3.1.0"), ("airflow", "2.9.0")]).await;
    w.release("3.2.0", &[("webapp", "3.2.0"), ("airflow", "2.9.0"), ("etl", "1.0.0")]).await;
    w.tenant(S::Healthy, "3.1.0").await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let webapp = w.component(&t, "webapp", "3.1.0").await;
    let airflow = w.component(&t, "airflow", "2.9.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    let steps = w.begin(&cr.id).await;
    w.call(step_task("transition", &cr.id, &named(&steps, "state InTesting"))).await.unwrap();
    assert_eq!(w.tenant_now(&t.id).await.release.to_string(), "3.1.0", "the release moves only at the end");

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

#[tokio::test]
async fn a_failed_upgrade_keeps_the_release_and_the_components() {
    let w = world();
    w.release("3.2.0", &[("webapp", "3.2.0"), ("etl", "1.0.0")]).await;
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let webapp = w.component(&t, "webapp", "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    w.begin(&cr.id).await;
    w.call(finish(&cr.id, "failed", Some(caught(TaskError::HealthFailed("api-smoke".into()))))).await.unwrap();
    let now = w.tenant_now(&t.id).await;
    assert_eq!((now.release.to_string(), now.state), ("3.1.0".to_owned(), S::Broken));
    assert_eq!(w.components_now(&t.id).await, BTreeMap::from([("webapp".to_owned(), webapp)]));
    assert_eq!((w.counter("release", "3.1.0"), w.counter("release", "3.2.0")), (1, 0));
    w.assert_fleet_consistent();
}

#[tokio::test]
async fn an_upgrade_to_a_release_that_is_gone_cannot_finish_succeeded() {
    let w = world();
    let mut t = w.tenant(S::Healthy, "3.1.0").await;
    let cr = w.hold(&mut t, Op::Upgrade, Some(M::Maintenance), json!({ "release": "3.2.0" })).await;
    w.begin(&cr.id).await;
    let table = w.table.dump();
    let e = error_of(w.call(finish(&cr.id, "succeeded", None)).await);
    assert_eq!(e.error_type(), "Invalid", "{e}");
    assert!(e.to_string().contains("3.2.0"), "{e}");
    assert_eq!(w.table.dump(), table, "nothing half-written");
    // The state machine's Catch then finishes it failed, which needs no release.
    w.call(finish(&cr.id, "failed", Some(caught(e)))).await.unwrap();
    assert_eq!(w.tenant_now(&t.id).await.state, S::Broken);
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
    let cr = w.hold(&mut t, Op::Backup, None, json!({})).await;
    let id = cr.id.to_string();
    let transition = json!({ "kind": "transition", "name": "state InTesting", "to": "InTesting" });
    let jenkins = json!(jenkins_step("backup-tenant", None));
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
        json!({ "action": "jenkins_poll", "change_request_id": id, "step": jenkins }),
        json!({ "action": "jenkins_poll", "change_request_id": id, "step": jenkins, "ticket": { "started_at": "yesterday" } }),
        json!({ "action": "finish", "change_request_id": id }),
        json!({ "action": "finish", "change_request_id": id, "outcome": "maybe" }),
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
fn the_state_machine_retries_exactly_the_transient_errors_of_its_tasks() {
    let asl: Value = serde_json::from_str(include_str!("../../../statemachines/lifecycle.asl.json")).unwrap();
    let mut tasks = Vec::new();
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
    walk(&asl, &mut tasks);
    let actions: Vec<&str> = tasks.iter().filter_map(|(_, s)| s["Parameters"]["Payload"]["action"].as_str()).collect();
    for action in ["begin", "transition", "jenkins_start", "jenkins_poll", "ssm_send", "ssm_poll", "finish"] {
        assert!(actions.contains(&action), "no task state sends {action}");
    }
    for (name, state) in tasks {
        let retried: Vec<&str> =
            state["Retry"][0]["ErrorEquals"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(retried.contains(&"Transient"), "{name} retries Transient");
        for kind in ["Conflict", "JenkinsFailed", "CommandFailed", "HealthFailed", "Timeout", "Invalid"] {
            assert!(!retried.contains(&kind), "{name} must not retry {kind}");
        }
    }
}
