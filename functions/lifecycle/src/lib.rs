//! The lifecycle workflow's tasks: one Lambda, one action per task state of
//! `statemachines/lifecycle.asl.json`. Every write is conditional on the change request still
//! holding its tenant, so a stale or duplicated task can never move a tenant it does not own.
//!
//! Errors carry an `errorType` the state machine matches: `Transient` is retried; `Conflict`,
//! `JenkinsFailed`, `CommandFailed`, `HealthFailed`, `Timeout` and `Invalid` end the change
//! request failed.

pub mod recipe;
pub mod wiring;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::lifecycle::{self, Plan};
use domain::{
    Actor, ChangeRequestId, ChangeRequestStatus, ChangeStep, ComponentVersion, Operation, ProductRelease,
    ReleaseVersion, Source, Stamp, Tenant, TenantChangeRequest, TenantState, WriteContext,
};
use engine::{
    BuildResult, BuildStatus, CommandStatus, Jenkins, JenkinsError, QueuedBuild, RemoteCommands, RemoteError,
};
use lambda_runtime::{Diagnostic, LambdaEvent};
use portal_api::persist::Tx;
use portal_api::routes::tenants::count_in_fleet;
use recipe::{Pace, Step};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use store::layout::{self, Record};
use store::{Cond, Query, StoreError, Table, WriteOp};

pub struct Deps {
    pub registry: Arc<dyn Table>,
    pub jenkins: Arc<dyn Jenkins>,
    pub remote: Arc<dyn RemoteCommands>,
    /// The health-baseline suites run at the end of every validating change.
    pub suites: Vec<String>,
    pub pace: Pace,
}

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    JenkinsFailed(String),
    #[error("{0}")]
    CommandFailed(String),
    #[error("{0}")]
    HealthFailed(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Invalid(String),
}

impl TaskError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Transient(_) => "Transient",
            Self::Conflict(_) => "Conflict",
            Self::JenkinsFailed(_) => "JenkinsFailed",
            Self::CommandFailed(_) => "CommandFailed",
            Self::HealthFailed(_) => "HealthFailed",
            Self::Timeout(_) => "Timeout",
            Self::Invalid(_) => "Invalid",
        }
    }
}

impl From<TaskError> for Diagnostic {
    fn from(e: TaskError) -> Self {
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed { .. } => {
                Self::Conflict("the change request no longer holds its tenant".into())
            }
            StoreError::Conflict | StoreError::Unavailable(_) => Self::Transient(e.to_string()),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<portal_api::ApiError> for TaskError {
    fn from(e: portal_api::ApiError) -> Self {
        match e {
            portal_api::ApiError::Unavailable => Self::Transient("the registry is unavailable".into()),
            portal_api::ApiError::Conflict(m) => Self::Conflict(m),
            other => Self::Invalid(other.problem().detail),
        }
    }
}

impl From<JenkinsError> for TaskError {
    fn from(e: JenkinsError) -> Self {
        match e {
            JenkinsError::Unavailable(_) => Self::Transient(e.to_string()),
            other => Self::JenkinsFailed(other.to_string()),
        }
    }
}

impl From<RemoteError> for TaskError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Unavailable(_) => Self::Transient(e.to_string()),
            other => Self::CommandFailed(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// A Jenkins build being followed: what `jenkins_start` answers and `jenkins_poll` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildTicket {
    pub build: QueuedBuild,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub done: bool,
}

/// An SSM command being followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandTicket {
    pub command_id: String,
    pub instance_ids: Vec<String>,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub done: bool,
}

/// What a task state of the workflow asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Task {
    Begin {
        change_request_id: ChangeRequestId,
    },
    Transition {
        change_request_id: ChangeRequestId,
        step: Step,
    },
    JenkinsStart {
        change_request_id: ChangeRequestId,
        step: Step,
    },
    JenkinsPoll {
        change_request_id: ChangeRequestId,
        step: Step,
        ticket: BuildTicket,
    },
    SsmSend {
        change_request_id: ChangeRequestId,
        step: Step,
    },
    SsmPoll {
        change_request_id: ChangeRequestId,
        step: Step,
        ticket: CommandTicket,
    },
    Finish {
        change_request_id: ChangeRequestId,
        outcome: Outcome,
        #[serde(default)]
        error: Option<Value>,
    },
}

/// The Lambda handler.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, TaskError> {
    let task: Task =
        serde_json::from_value(event.payload).map_err(|e| TaskError::Invalid(format!("bad task input: {e}")))?;
    run(deps, task).await
}

/// A change request and the tenant it holds, read together.
struct Held {
    cr: TenantChangeRequest,
    tenant: Tenant,
}

fn ctx(cr: &TenantChangeRequest) -> WriteContext {
    WriteContext {
        actor: Actor::system("workflow"),
        source: Source::Workflow,
        change_request_id: Some(cr.id.clone()),
        now: Utc::now(),
    }
}

async fn read(deps: &Deps, id: &ChangeRequestId) -> Result<(TenantChangeRequest, Option<Tenant>), TaskError> {
    let cr_item = deps
        .registry
        .get(&layout::change_request_key(id))
        .await?
        .ok_or_else(|| TaskError::Invalid(format!("no change request {id}")))?;
    let cr = TenantChangeRequest::from_item(cr_item)?;
    let tenant = deps.registry.get(&layout::tenant_key(&cr.tenant_id)).await?.map(Tenant::from_item).transpose()?;
    Ok((cr, tenant))
}

/// The running change request and its tenant, which it must hold.
async fn held(deps: &Deps, id: &ChangeRequestId) -> Result<Held, TaskError> {
    let (cr, tenant) = read(deps, id).await?;
    holding(cr, tenant)
}

/// Checks that a change request read with its tenant is running and holds it.
fn holding(cr: TenantChangeRequest, tenant: Option<Tenant>) -> Result<Held, TaskError> {
    let id = cr.id.clone();
    let tenant = tenant.ok_or_else(|| TaskError::Invalid(format!("change request {id} names no tenant")))?;
    if cr.status != ChangeRequestStatus::Running {
        return Err(TaskError::Conflict(format!("change request {id} is not running")));
    }
    if tenant.active_change_request_id.as_ref() != Some(&cr.id) {
        return Err(TaskError::Conflict(format!("change request {id} does not hold tenant {}", tenant.id)));
    }
    Ok(Held { cr, tenant })
}

/// The plan the change request runs (recomputed from the table: the table is the truth).
pub fn plan_of(cr: &TenantChangeRequest) -> Result<Plan, TaskError> {
    let started = cr.started_from.ok_or_else(|| TaskError::Invalid("the change request has no start state".into()))?;
    let creation = matches!(cr.operation, Operation::Provision)
        || (cr.operation == Operation::Validate && started == TenantState::InTesting);
    if creation {
        Ok(lifecycle::creation_plan(cr.operation == Operation::Validate))
    } else {
        lifecycle::plan(started, cr.operation, cr.change_model).map_err(|e| TaskError::Invalid(e.to_string()))
    }
}

/// Records a step on the change request: updates its last running entry of that name, or adds it.
fn record(cr: &mut TenantChangeRequest, name: &str, status: &str, detail: Option<Value>, error: Option<String>) {
    let now = Utc::now();
    let ended = (status != "running").then_some(now);
    match cr.steps.iter_mut().rev().find(|s| s.name == name && s.status == "running") {
        Some(step) => {
            step.status = status.into();
            step.ended_at = ended;
            if detail.is_some() {
                step.detail = detail;
            }
            step.error = error;
        }
        None => cr.steps.push(ChangeStep {
            name: name.into(),
            status: status.into(),
            started_at: now,
            ended_at: ended,
            detail,
            error,
        }),
    }
}

/// Writes the change request (and, when given, the tenant moved to a new state) conditionally
/// on both being as read.
async fn save(deps: &Deps, held: &Held, mut cr: TenantChangeRequest, tenant: Option<Tenant>) -> Result<(), TaskError> {
    let ctx = ctx(&held.cr);
    cr.stamp = held.cr.stamp.next(&ctx);
    let mut tx = Tx::new();
    tx.put(
        &cr,
        Cond::RevisionIs(held.cr.stamp.revision),
        portal_api::ApiError::Conflict("change request changed".into()),
    )?;
    if let Some(mut t) = tenant {
        t.stamp = held.tenant.stamp.next(&ctx);
        tx.put(
            &t,
            Cond::All(vec![
                Cond::RevisionIs(held.tenant.stamp.revision),
                Cond::FieldIs("active_change_request_id".into(), json!(held.cr.id.as_str())),
            ]),
            portal_api::ApiError::Conflict("the tenant changed under its change request".into()),
        )?;
        let moves = [(held.tenant.state, &held.tenant.release, -1), (t.state, &t.release, 1)];
        count_in_fleet(&mut tx, &moves);
    }
    tx.commit_to(deps.registry.as_ref()).await.map_err(TaskError::from)
}

fn jenkins_params(held: &Held, suite: Option<&str>) -> BTreeMap<String, String> {
    let cr = &held.cr;
    let mut p = BTreeMap::from([
        ("TENANT_ID".to_owned(), held.tenant.id.to_string()),
        ("TENANT_NAME".to_owned(), held.tenant.name.to_string()),
        ("RELEASE".to_owned(), target_release(cr).unwrap_or_else(|| held.tenant.release.clone()).to_string()),
        ("CHANGE_REQUEST_ID".to_owned(), cr.id.to_string()),
        ("OPERATION".to_owned(), cr.operation.to_string()),
    ]);
    if let Some(m) = cr.change_model {
        p.insert(
            "CHANGE_MODEL".into(),
            serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
        );
    }
    if let Some(b) = cr.params.get("backup_id").and_then(Value::as_str) {
        p.insert("BACKUP_ID".into(), b.to_owned());
    }
    if let Some(s) = suite {
        p.insert("SUITE".into(), s.to_owned());
    }
    p
}

fn target_release(cr: &TenantChangeRequest) -> Option<ReleaseVersion> {
    (cr.operation == Operation::Upgrade)
        .then(|| cr.params.get("release").and_then(Value::as_str).and_then(|r| ReleaseVersion::parse(r).ok()))
        .flatten()
}

fn expired(started: DateTime<Utc>, timeout_seconds: u64) -> bool {
    (Utc::now() - started).num_seconds() > i64::try_from(timeout_seconds).unwrap_or(i64::MAX)
}

/// The health suites of the release the tenant will run when the change ends (the upgrade
/// target, or its release): the release's own list, or the fleet's default.
async fn suites_for(deps: &Deps, held: &Held) -> Result<Vec<String>, TaskError> {
    let release = target_release(&held.cr).unwrap_or_else(|| held.tenant.release.clone());
    let own = match deps.registry.get(&layout::release_key(&release)).await? {
        Some(item) => ProductRelease::from_item(item)?.health_suites,
        None => Vec::new(),
    };
    Ok(if own.is_empty() { deps.suites.clone() } else { own.into_iter().map(String::from).collect() })
}

/// The playbook an SSM step's command runs (`.../playbooks/<name>.yml`): the SSM document takes
/// the playbook by name.
fn playbook_of(commands: &[String]) -> Result<&str, TaskError> {
    commands
        .iter()
        .find_map(|c| c.rsplit_once("/playbooks/")?.1.strip_suffix(".yml"))
        .ok_or_else(|| TaskError::Invalid(format!("no playbook in the step's command {commands:?}")))
}

/// Runs one task.
pub async fn run(deps: &Deps, task: Task) -> Result<Value, TaskError> {
    match task {
        Task::Begin { change_request_id } => {
            let held = held(deps, &change_request_id).await?;
            let plan = plan_of(&held.cr)?;
            let suites = suites_for(deps, &held).await?;
            let steps = recipe::steps(&plan, &suites, deps.pace);
            if held.cr.steps.iter().any(|s| s.name == "begin") {
                return Ok(json!({ "steps": steps }));
            }
            let mut cr = held.cr.clone();
            record(&mut cr, "begin", "succeeded", Some(json!({ "plan": plan, "steps": steps })), None);
            let tenant =
                plan.enter.filter(|s| *s != held.tenant.state).map(|state| Tenant { state, ..held.tenant.clone() });
            save(deps, &held, cr, tenant).await?;
            Ok(json!({ "steps": steps }))
        }
        Task::Transition { change_request_id, step: Step::Transition { name, to } } => {
            let held = held(deps, &change_request_id).await?;
            if !plan_of(&held.cr)?.through.contains(&to) {
                return Err(TaskError::Invalid(format!("{to} is not a state of this change request's plan")));
            }
            if held.tenant.state == to && held.cr.steps.iter().any(|s| s.name == name && s.status == "succeeded") {
                return Ok(json!({ "done": true }));
            }
            let mut cr = held.cr.clone();
            record(&mut cr, &name, "succeeded", Some(json!({ "from": held.tenant.state, "to": to })), None);
            let tenant = (held.tenant.state != to).then(|| Tenant { state: to, ..held.tenant.clone() });
            save(deps, &held, cr, tenant).await?;
            Ok(json!({ "done": true }))
        }
        Task::JenkinsStart { change_request_id, step: Step::Jenkins { name, job, suite, .. } } => {
            let held = held(deps, &change_request_id).await?;
            let build = deps.jenkins.trigger(&job, &jenkins_params(&held, suite.as_deref())).await?;
            let mut cr = held.cr.clone();
            record(&mut cr, &name, "running", Some(json!({ "job": job, "queue_url": build.queue_url })), None);
            save(deps, &held, cr, None).await?;
            Ok(serde_json::to_value(BuildTicket { build, started_at: Utc::now(), done: false }).unwrap_or_default())
        }
        Task::JenkinsPoll {
            change_request_id,
            step: Step::Jenkins { name, job, suite, timeout_seconds, .. },
            ticket,
        } => {
            let status = deps.jenkins.status(&ticket.build).await?;
            let (url, result) = match status {
                BuildStatus::Done { url, result, .. } => (url, result),
                BuildStatus::Queued | BuildStatus::Running { .. } if expired(ticket.started_at, timeout_seconds) => {
                    let held = held(deps, &change_request_id).await?;
                    let mut cr = held.cr.clone();
                    let msg = format!("jenkins job {job} did not finish within {timeout_seconds} s");
                    record(&mut cr, &name, "failed", None, Some(msg.clone()));
                    save(deps, &held, cr, None).await?;
                    return Err(TaskError::Timeout(msg));
                }
                BuildStatus::Queued | BuildStatus::Running { .. } => {
                    return Ok(serde_json::to_value(BuildTicket { done: false, ..ticket }).unwrap_or_default());
                }
            };
            let held = held(deps, &change_request_id).await?;
            let mut cr = held.cr.clone();
            let detail = json!({ "job": job, "build_url": url, "result": result, "suite": suite });
            if result == BuildResult::Success {
                record(&mut cr, &name, "succeeded", Some(detail), None);
                save(deps, &held, cr, None).await?;
                return Ok(serde_json::to_value(BuildTicket { done: true, ..ticket }).unwrap_or_default());
            }
            let msg = format!("jenkins job {job} ended {result:?}: {url}");
            record(&mut cr, &name, "failed", Some(detail), Some(msg.clone()));
            save(deps, &held, cr, None).await?;
            Err(if suite.is_some() { TaskError::HealthFailed(msg) } else { TaskError::JenkinsFailed(msg) })
        }
        Task::SsmSend { change_request_id, step: Step::Ssm { name, commands, timeout_seconds, .. } } => {
            let held = held(deps, &change_request_id).await?;
            let instance_ids = instances(deps, &held.tenant).await?;
            if instance_ids.is_empty() {
                return Err(TaskError::CommandFailed(format!(
                    "tenant {} has no EC2 instance registered as a resource",
                    held.tenant.id
                )));
            }
            let comment = format!("{} {}", held.cr.operation, held.cr.id);
            let command_id =
                deps.remote.send(&instance_ids, playbook_of(&commands)?, &comment, timeout_seconds).await?;
            let mut cr = held.cr.clone();
            record(
                &mut cr,
                &name,
                "running",
                Some(json!({ "command_id": command_id, "instance_ids": instance_ids })),
                None,
            );
            save(deps, &held, cr, None).await?;
            Ok(serde_json::to_value(CommandTicket { command_id, instance_ids, started_at: Utc::now(), done: false })
                .unwrap_or_default())
        }
        Task::SsmPoll { change_request_id, step: Step::Ssm { name, timeout_seconds, .. }, ticket } => {
            let status = deps.remote.status(&ticket.command_id, &ticket.instance_ids).await?;
            let failure = match status {
                CommandStatus::Running if !expired(ticket.started_at, timeout_seconds) => {
                    return Ok(serde_json::to_value(CommandTicket { done: false, ..ticket }).unwrap_or_default());
                }
                CommandStatus::Running => TaskError::Timeout(format!(
                    "command {} did not finish within {timeout_seconds} s",
                    ticket.command_id
                )),
                CommandStatus::Failed { detail } => {
                    TaskError::CommandFailed(format!("command {} failed: {detail}", ticket.command_id))
                }
                CommandStatus::Succeeded => {
                    let held = held(deps, &change_request_id).await?;
                    let mut cr = held.cr.clone();
                    record(&mut cr, &name, "succeeded", None, None);
                    save(deps, &held, cr, None).await?;
                    return Ok(serde_json::to_value(CommandTicket { done: true, ..ticket }).unwrap_or_default());
                }
            };
            let held = held(deps, &change_request_id).await?;
            let mut cr = held.cr.clone();
            record(&mut cr, &name, "failed", None, Some(failure.to_string()));
            save(deps, &held, cr, None).await?;
            Err(failure)
        }
        Task::Finish { change_request_id, outcome, error } => finish(deps, &change_request_id, outcome, error).await,
        other => Err(TaskError::Invalid(format!("a task and its step do not match: {other:?}"))),
    }
}

/// The EC2 instances of a tenant, from its registered resources.
async fn instances(deps: &Deps, tenant: &Tenant) -> Result<Vec<String>, TaskError> {
    let q = Query::new(None, layout::tenant_partition(&tenant.id)).prefix(layout::RESOURCE_LINK_PREFIX).limit(100);
    let page = deps.registry.query(&q).await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| i.get("arn").and_then(Value::as_str))
        .filter_map(|a| domain::Arn::parse(a).ok())
        .filter_map(|a| a.ec2_instance_id().map(str::to_owned))
        .collect())
}

fn error_text(error: Option<Value>) -> String {
    let Some(e) = error else { return "failed".into() };
    let kind = e.get("Error").and_then(Value::as_str).unwrap_or("Error");
    let cause = e.get("Cause").and_then(Value::as_str).unwrap_or_default();
    // A Lambda error's cause is its JSON diagnostic: keep the message.
    let message = serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| c.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned());
    let text = format!("{kind}: {message}");
    // At most 1000 bytes, cut at a character boundary (SSM and Jenkins output is often UTF-8).
    let mut end = text.len().min(1000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Ends the change request: the tenant goes where the plan says for this outcome, the claim is
/// released. A finish that already happened answers as it did (a retried task).
async fn finish(deps: &Deps, id: &ChangeRequestId, outcome: Outcome, error: Option<Value>) -> Result<Value, TaskError> {
    let (cr, tenant) = read(deps, id).await?;
    if !cr.status.is_active() {
        return Ok(json!({ "status": cr.status }));
    }
    let held = holding(cr, tenant)?;
    let plan = plan_of(&held.cr)?;
    let mut cr = held.cr.clone();
    let mut tenant = held.tenant.clone();
    tenant.active_change_request_id = None;
    let mut extra = Vec::new();
    match outcome {
        Outcome::Succeeded => {
            cr.status = ChangeRequestStatus::Succeeded;
            tenant.state = plan.success_state();
            if let Some(target) = target_release(&cr) {
                extra = upgraded_components(deps, &held, &target).await?;
                tenant.release = target;
            }
            record(&mut cr, "finish", "succeeded", Some(json!({ "state": tenant.state })), None);
        }
        Outcome::Failed => {
            cr.status = ChangeRequestStatus::Failed;
            // No automatic rollback runs yet: where a rollback would be tried, end as a failed one.
            tenant.state = plan.on_rollback_failure.map_or_else(|| plan.failure_state(), |e| e.resolve(plan.started));
            let text = error_text(error);
            record(&mut cr, "finish", "failed", Some(json!({ "state": tenant.state })), Some(text.clone()));
            cr.error = Some(text);
        }
    }
    let ctx = ctx(&held.cr);
    cr.stamp = held.cr.stamp.next(&ctx);
    tenant.stamp = held.tenant.stamp.next(&ctx);
    let conflict = || portal_api::ApiError::Conflict("changed under its change request".into());
    let mut tx = Tx::new();
    tx.put(&cr, Cond::RevisionIs(held.cr.stamp.revision), conflict())?;
    tx.put(
        &tenant,
        Cond::All(vec![
            Cond::RevisionIs(held.tenant.stamp.revision),
            Cond::FieldIs("active_change_request_id".into(), json!(id.as_str())),
        ]),
        conflict(),
    )?;
    count_in_fleet(&mut tx, &[(held.tenant.state, &held.tenant.release, -1), (tenant.state, &tenant.release, 1)]);
    for op in extra {
        tx.push(op, conflict());
    }
    if let Some(run) = health_run(&cr, &tenant) {
        tx.put(&run, Cond::NotExists, conflict())?;
    }
    tx.commit_to(deps.registry.as_ref()).await?;
    tracing::info!(change_request = %id, status = ?cr.status, state = %tenant.state, "change request finished");
    Ok(json!({ "status": cr.status, "state": tenant.state }))
}

/// The health run a validating change request made, from its suite steps (none when no suite
/// ran, e.g. the work before them failed).
fn health_run(cr: &TenantChangeRequest, tenant: &Tenant) -> Option<domain::HealthRun> {
    let ran: Vec<&ChangeStep> = cr.steps.iter().filter(|s| s.name.starts_with("health suite ")).collect();
    if ran.is_empty() {
        return None;
    }
    // The suites planned at `begin`, so that those a failure kept from running show as not run.
    let planned: Vec<Step> = cr
        .steps
        .iter()
        .find(|s| s.name == "begin")
        .and_then(|s| s.detail.as_ref())
        .and_then(|d| d.get("steps"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let suites: Vec<String> = planned
        .into_iter()
        .filter_map(|s| match s {
            Step::Jenkins { suite: Some(suite), .. } => Some(suite),
            _ => None,
        })
        .collect();
    let results: Vec<domain::SuiteResult> = suites
        .iter()
        .map(|suite| {
            let step = ran.iter().rev().find(|s| s.name == format!("health suite {suite}"));
            let detail = step.and_then(|s| s.detail.as_ref());
            domain::SuiteResult {
                suite: suite.clone(),
                result: detail
                    .and_then(|d| d.get("result").and_then(Value::as_str))
                    .map_or_else(|| step.map_or("not_run", |s| s.status.as_str()).to_owned(), str::to_owned),
                build_url: detail.and_then(|d| d.get("build_url").and_then(Value::as_str)).map(str::to_owned),
            }
        })
        .collect();
    let passed = results.iter().all(|r| r.result == "SUCCESS");
    Some(domain::HealthRun {
        id: domain::HealthRunId::generate(),
        tenant_id: tenant.id.clone(),
        change_request_id: cr.id.clone(),
        release: tenant.release.clone(),
        verdict: if passed { domain::HealthVerdict::Passed } else { domain::HealthVerdict::Failed },
        suites: results,
        finished_at: Utc::now(),
        stamp: Stamp::first(&ctx(cr)),
    })
}

/// After an upgrade: the components the target release ships take its versions (each write
/// conditional on the revision read, so a concurrent PUT is not overwritten blindly); components
/// it does not ship are left as they are (they may be managed outside releases).
async fn upgraded_components(deps: &Deps, held: &Held, target: &ReleaseVersion) -> Result<Vec<WriteOp>, TaskError> {
    let item = deps
        .registry
        .get(&layout::release_key(target))
        .await?
        .ok_or_else(|| TaskError::Invalid(format!("release {target} is gone")))?;
    let release = ProductRelease::from_item(item)?;
    let q = Query::new(None, layout::tenant_partition(&held.tenant.id)).prefix(layout::COMPONENT_PREFIX).limit(100);
    let current: BTreeMap<String, ComponentVersion> = deps
        .registry
        .query(&q)
        .await?
        .items
        .into_iter()
        .map(ComponentVersion::from_item)
        .map(|c| c.map(|c| (c.name.to_string(), c)))
        .collect::<Result<_, _>>()?;
    let ctx = ctx(&held.cr);
    let mut ops = Vec::new();
    for (name, version) in &release.components {
        let (stamp, cond) = match current.get(name.as_str()) {
            Some(c) if &c.version == version => continue,
            Some(c) => (c.stamp.next(&ctx), Cond::RevisionIs(c.stamp.revision)),
            None => (Stamp::first(&ctx), Cond::NotExists),
        };
        let c =
            ComponentVersion { tenant_id: held.tenant.id.clone(), name: name.clone(), version: version.clone(), stamp };
        ops.push(WriteOp::put(c.to_item()?, cond));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests;
