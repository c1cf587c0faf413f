//! A Jenkins job of the plan (the work of an operation, or a health suite): started once, then
//! followed to its result.
//!
//! Work runs once: the intent is recorded on the change request before Jenkins is called, and
//! a retried start (after a timeout, a lost answer, a save that failed) first looks for the
//! build an earlier try queued, by its `PORTAL_STEP_ID` parameter, before it triggers anything.

use std::collections::BTreeMap;

use changes::Held;
use changes::work::{RunningWork, work_of};
use chrono::Utc;
use domain::lifecycle::Step;
use domain::{ChangeRequestId, StepStatus, WorkReport};
use engine::jenkins::REPORT_ARTIFACT;
use engine::{BuildResult, BuildStatus, QueuedBuild};
use serde_json::{Value, json};

use super::{answer, check_deadline, expired, planned, record, step_id};
use crate::task::{BuildTicket, StepRef};
use crate::{Deps, TaskError};

/// The parameter naming the step a build is for.
pub const STEP_ID_PARAM: &str = engine::jenkins::STEP_ID_PARAM;

/// The release a step works with: the target of an upgrade, except in its rollback, whose
/// steps go back to (and test) the release recorded before it; otherwise the tenant's.
fn release_of(held: &Held, index: usize) -> domain::ReleaseVersion {
    let cr = &held.cr;
    let in_rollback = cr.rollback_from.is_some_and(|from| index >= from);
    match (in_rollback, cr.target_release(), &cr.recorded_before) {
        (true, _, Some(before)) => before.release.clone(),
        (true, _, None) => held.tenant.release.clone(),
        (false, Some(target), _) => target,
        (false, None, _) => held.tenant.release.clone(),
    }
}

fn params(held: &Held, index: usize, suite: Option<&str>, step_id: &str) -> BTreeMap<String, String> {
    let cr = &held.cr;
    let mut p = BTreeMap::from([
        ("TENANT_ID".to_owned(), held.tenant.id.to_string()),
        ("TENANT_NAME".to_owned(), held.tenant.name.to_string()),
        ("RELEASE".to_owned(), release_of(held, index).to_string()),
        ("CHANGE_REQUEST_ID".to_owned(), cr.id.to_string()),
        ("OPERATION".to_owned(), cr.operation.to_string()),
        (STEP_ID_PARAM.to_owned(), step_id.to_owned()),
    ]);
    if let Some(m) = cr.change_model {
        p.insert("CHANGE_MODEL".into(), m.as_str().to_owned());
    }
    if cr.operation.builds_a_side(cr.change_model) {
        // Before the cut-over the jobs and suites work on the new side; after it, on the live one.
        let side = if cr.ran(crate::recipe::CUT_OVER) { "live" } else { "new" };
        p.insert("SIDE".into(), side.to_owned());
    }
    if let Some(b) = &cr.params.backup_id {
        p.insert("BACKUP_ID".into(), b.to_string());
    }
    if let Some(s) = suite {
        p.insert("SUITE".into(), s.to_owned());
    }
    p
}

/// Where the backup a restore names is (or, for an undo job, the change's own snapshot, if it
/// took one), and its checksum, from the catalog: the job restores from there and checks what it
/// read. (A restore's backup was checked at create; one deleted since fails the step.)
async fn restored_backup(deps: &Deps, held: &Held, undo: bool) -> Result<BTreeMap<String, String>, TaskError> {
    let location = |b: domain::Backup| {
        BTreeMap::from([("BACKUP_LOCATION".to_owned(), b.location), ("BACKUP_CHECKSUM".to_owned(), b.checksum)])
    };
    if undo {
        let snapshot = deps.changes.backup(&held.tenant.id, &domain::Backup::id_for(&held.cr.id)).await?;
        return Ok(snapshot.map(location).unwrap_or_default());
    }
    let (domain::Operation::Restore, Some(id)) = (held.cr.operation, &held.cr.params.backup_id) else {
        return Ok(BTreeMap::new());
    };
    let backup = deps.changes.backup(&held.tenant.id, id).await?.ok_or_else(|| {
        TaskError::JenkinsFailed(format!("backup {id} of tenant {} is not in the catalog", held.tenant.id))
    })?;
    Ok(location(backup))
}

/// The license an `activate_license` installs: its assignment's key by reference
/// (`LICENSE_KEY_REF`, which the job resolves itself; never the key) and the license.
/// An assignment gone or no longer active since the change request was created fails the step.
async fn license_key(deps: &Deps, held: &Held) -> Result<BTreeMap<String, String>, TaskError> {
    let (domain::Operation::ActivateLicense, Some(id)) = (held.cr.operation, &held.cr.params.assignment_id) else {
        return Ok(BTreeMap::new());
    };
    let a = deps.changes.active_assignment(id).await.map_err(|e| match e {
        changes::ChangeError::Unavailable(m) => TaskError::Transient(m),
        other => TaskError::JenkinsFailed(other.to_string()),
    })?;
    let mut p = BTreeMap::from([
        ("ASSIGNMENT_ID".to_owned(), a.id.to_string()),
        ("LICENSE_ID".to_owned(), a.license_id.to_string()),
    ]);
    if let Some(key) = &a.key_ref {
        p.insert("LICENSE_KEY_REF".into(), key.to_string());
    }
    Ok(p)
}

/// A Jenkins step of the stored plan, as this module reads it.
struct JobStep {
    index: usize,
    name: String,
    job: String,
    suite: Option<String>,
    backup: bool,
    undo: bool,
    secret: Option<domain::lifecycle::SecretUse>,
    timeout_seconds: u64,
}

fn jenkins_step(held: &Held, at: &StepRef) -> Result<JobStep, TaskError> {
    match planned(&held.cr, at)? {
        (index, Step::Jenkins { name, job, suite, backup, undo, secret, timeout_seconds, .. }) => {
            Ok(JobStep { index, name, job: job.to_string(), suite, backup, undo, secret, timeout_seconds })
        }
        (_, other) => Err(TaskError::Invalid(format!("step {} is not a Jenkins job", other.name()))),
    }
}

/// What the step recorded so far: `(intent recorded, build recorded)`.
fn recorded(held: &Held, name: &str, step_id: &str) -> (bool, Option<QueuedBuild>) {
    let Some(step) = held.cr.steps.iter().rev().find(|s| s.name == name && s.status == StepStatus::Running) else {
        return (false, None);
    };
    let detail = step.detail.clone().unwrap_or_default();
    let intent = detail.get("step_id").and_then(Value::as_str) == Some(step_id);
    let build = match work_of(&detail) {
        Some(RunningWork::Build(b)) if intent => Some(b),
        _ => None,
    };
    (intent, build)
}

pub async fn start(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<Value, TaskError> {
    let held = deps.changes.held(id).await?;
    check_deadline(&held)?;
    let JobStep { index, name, job, suite, undo, secret, .. } = jenkins_step(&held, at)?;
    let step_id = step_id(&held.cr, index);
    let started_at = Utc::now();
    let (intent, build) = recorded(&held, &name, &step_id);
    if let Some(build) = build {
        return answer(&BuildTicket { build, started_at, done: false });
    }
    let intent_detail = json!({ "job": job, "step_id": step_id });
    let earlier = if intent {
        deps.changes.jenkins.find(&job, &step_id).await?
    } else {
        record(deps, id, &name, StepStatus::Running, Some(intent_detail.clone()), None).await?;
        None
    };
    let build = match earlier {
        Some(b) => {
            tracing::info!(change_request = %id, %step_id, "found the build an earlier try queued; not triggering again");
            b
        }
        None => {
            let mut p = params(&held, index, suite.as_deref(), &step_id);
            if let Some(url) = &deps.callback_url {
                // The job posts there, signed, when it ends (see `changes::callback`).
                p.insert("CALLBACK_URL".into(), url.clone());
            }
            p.extend(restored_backup(deps, &held, undo).await?);
            p.extend(license_key(deps, &held).await?);
            if let Some(given) = &secret {
                // The job reads the value itself, by this reference.
                let v = super::secret_version(deps, &held, given).await?;
                p.insert("SECRET_PARAMETER".into(), v.parameter);
                p.insert("SECRET_VERSION".into(), v.version.to_string());
            }
            deps.changes.jenkins.trigger(&job, &p).await?
        }
    };
    let mut detail = intent_detail;
    detail["build"] = serde_json::to_value(&build).unwrap_or_default();
    detail["queue_url"] = json!(build.queue_url);
    if let Err(e) = record(deps, id, &name, StepStatus::Running, Some(detail), None).await {
        if matches!(e, TaskError::Conflict(_)) {
            // Aborted (or finished) between the trigger and this write: nothing will follow the
            // build, so it must not run.
            deps.changes.stop_one(&held.cr, &RunningWork::Build(build)).await;
        }
        return Err(e);
    }
    answer(&BuildTicket { build, started_at, done: false })
}

/// The wait for the build to end: keeps the task token the job's callback will wake, then
/// looks at the build once, since one that ended before the token was kept (a quick job, a
/// callback that came first) would wake nothing. An ended build is `BuildEnded`, which the
/// workflow takes straight to its poll; otherwise the workflow waits for the callback, or for
/// the step's heartbeat (`poll_seconds`), whichever comes first.
pub async fn await_end(
    deps: &Deps,
    id: &ChangeRequestId,
    at: &StepRef,
    ticket: BuildTicket,
    task_token: &str,
) -> Result<Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let JobStep { index, job, .. } = jenkins_step(&held, at)?;
    let step = domain::callback::StepId { change_request_id: id.clone(), index };
    deps.changes.await_callback(&step, task_token).await?;
    match deps.changes.jenkins.status(&ticket.build).await? {
        BuildStatus::Done { .. } => Err(TaskError::BuildEnded(format!("jenkins job {job} ended; reading it now"))),
        BuildStatus::Queued | BuildStatus::Running { .. } => answer(&json!({ "waiting": step.to_string() })),
    }
}

pub async fn poll(deps: &Deps, id: &ChangeRequestId, at: &StepRef, ticket: BuildTicket) -> Result<Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let JobStep { name, job, suite, backup, timeout_seconds, .. } = jenkins_step(&held, at)?;
    if held.cr.succeeded(&name) {
        return answer(&BuildTicket { done: true, ..ticket });
    }
    let status = deps.changes.jenkins.status(&ticket.build).await?;
    let (url, console, result) = match status {
        BuildStatus::Done { url, result, console_url } => (url, console_url, result),
        BuildStatus::Queued | BuildStatus::Running { .. } => {
            let late = if expired(ticket.started_at, timeout_seconds) {
                Some(TaskError::Timeout(format!("jenkins job {job} did not finish within {timeout_seconds} s")))
            } else {
                check_deadline(&held).err()
            };
            let Some(timeout) = late else {
                return answer(&BuildTicket { done: false, ..ticket });
            };
            // The work stops with its step.
            deps.changes.stop_one(&held.cr, &RunningWork::Build(ticket.build.clone())).await;
            record(deps, id, &name, StepStatus::Failed, None, Some(timeout.to_string())).await?;
            return Err(timeout);
        }
    };
    let mut detail = json!({ "job": job, "build_url": url, "console_url": console, "result": result, "suite": suite });
    if result == BuildResult::Success {
        // The work of an operation (not a health suite) may report what it built and set.
        if suite.is_none() {
            match deps.changes.jenkins.report(&url).await?.map(WorkReport::parse) {
                Some(Ok(report)) if report.backup.is_none() && backup => {
                    let msg = format!("jenkins job {job} succeeded but its {REPORT_ARTIFACT} names no backup");
                    record(deps, id, &name, StepStatus::Failed, Some(detail), Some(msg.clone())).await?;
                    return Err(TaskError::JenkinsFailed(msg));
                }
                Some(Ok(report)) => {
                    if let (true, Some(made)) = (backup, &report.backup) {
                        // Catalogued before the step is recorded done, so a retried poll
                        // (which answers a done step at once) never skips it.
                        let catalogued = deps.changes.catalog_backup(&held, &super::workflow(), made).await?;
                        detail["backup_id"] = json!(catalogued);
                    }
                    detail["report"] = report.to_json();
                }
                Some(Err(e)) => {
                    let msg = format!("jenkins job {job} succeeded but its {REPORT_ARTIFACT} does not read: {e}");
                    record(deps, id, &name, StepStatus::Failed, Some(detail), Some(msg.clone())).await?;
                    return Err(TaskError::JenkinsFailed(msg));
                }
                None if backup => {
                    let msg =
                        format!("jenkins job {job} succeeded but archived no {REPORT_ARTIFACT} naming its backup");
                    record(deps, id, &name, StepStatus::Failed, Some(detail), Some(msg.clone())).await?;
                    return Err(TaskError::JenkinsFailed(msg));
                }
                None => {}
            }
        }
        record(deps, id, &name, StepStatus::Succeeded, Some(detail), None).await?;
        return answer(&BuildTicket { done: true, ..ticket });
    }
    let log = console.clone().unwrap_or_else(|| engine::jenkins::console_url(&url));
    let msg = format!("jenkins job {job} ended {result:?}; its log: {log}");
    record(deps, id, &name, StepStatus::Failed, Some(detail), Some(msg.clone())).await?;
    Err(if suite.is_some() { TaskError::HealthFailed(msg) } else { TaskError::JenkinsFailed(msg) })
}
