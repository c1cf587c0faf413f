//! What each operation does, as steps the state machine runs one by one: work on the tenant
//! (a Jenkins job or an SSM command), the state transitions of its plan, and the health
//! baseline when the plan validates; and, when a change that rolls back fails, its rollback.

use domain::lifecycle::{DriftAction, Plan, SecretAction, SecretKind, SecretPick, SecretUse, Step};
use domain::{ChangeModel, ChangeParams, JobName, Operation, TenantChangeRequest};

/// How long steps wait between polls and at most.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub poll_seconds: u64,
    /// How long a Jenkins step waits for its job's completion callback before it polls Jenkins
    /// (and waits again): the slow heartbeat under the callback, the poll pace without one.
    pub heartbeat_seconds: u64,
    pub jenkins_timeout_seconds: u64,
    pub ssm_timeout_seconds: u64,
    /// How long a gate (a swap's cut-over) waits for a second admin before it fails.
    pub approval_timeout_seconds: u64,
}

/// The job that makes a full backup (a `backup`'s work, an upgrade's snapshot).
pub const BACKUP_JOB: &str = "backup-tenant";

/// The job that installs a license on a tenant, given its assignment's key by reference
/// (`LICENSE_KEY_REF`), never the key.
pub const ACTIVATE_LICENSE_JOB: &str = "activate-license";

/// The playbooks that block a tenant's public access while it is backed up, and open it again.
pub const PUBLIC_ACCESS_OFF: &str = "public-access-off";
pub const PUBLIC_ACCESS_ON: &str = "public-access-on";

/// The step of a swap that moves traffic to the new side: before it, jobs and suites work on
/// the new side (`SIDE=new`), and a rollback only drops it.
pub const CUT_OVER: &str = "jenkins cut-over-tenant-swap";

/// A swap (blue/green): the new side built and validated while the live one serves, traffic
/// moved to it, the old side kept through the fallback window (an admin may roll back
/// meanwhile), then released.
///
/// - An upgrade builds the new side with the new release; its cut-over waits for a second
///   admin's approval, and the release is recorded once traffic moved.
/// - A restore builds it from the backup; a second admin approved the restore before it started,
///   so its cut-over waits for no other approval; the backup's release, components and configs are
///   recorded when it succeeds (after the window: a rollback inside it keeps the record as it was).
fn swap(op: Operation, params: &ChangeParams, suites: &[String], pace: Pace) -> Result<Vec<Step>, String> {
    let upgrade = op == Operation::Upgrade;
    let mut steps = vec![jenkins(if upgrade { "upgrade-tenant-swap" } else { "restore-tenant-swap" }, pace)];
    steps.extend(suite_steps("new side ", suites, pace)?);
    if upgrade {
        steps.push(Step::Approval {
            name: "cut-over approval".into(),
            poll_seconds: pace.poll_seconds,
            timeout_seconds: pace.approval_timeout_seconds,
        });
    }
    steps.push(jenkins("cut-over-tenant-swap", pace));
    if upgrade {
        steps.push(record_release());
    }
    steps.push(Step::Transition {
        name: format!("state {}", domain::TenantState::InTesting),
        to: domain::TenantState::InTesting,
    });
    steps.push(Step::Window {
        name: "fallback window".into(),
        poll_seconds: pace.poll_seconds,
        seconds: params.fallback_window(),
    });
    steps.push(jenkins("release-old-side", pace));
    Ok(steps)
}

/// The prefix of a rollback step's name (and, with the work's job, of its undo job).
pub use domain::lifecycle::ROLLBACK;

/// A job or playbook named here: a constant of this file, so always an identifier.
fn id(name: &str) -> JobName {
    JobName::parse(name).unwrap_or_else(|e| panic!("{name} is not a job name: {e}"))
}

fn jenkins(job: &str, pace: Pace) -> Step {
    Step::Jenkins {
        name: format!("jenkins {job}"),
        job: id(job),
        suite: None,
        backup: false,
        undo: false,
        secret: None,
        poll_seconds: pace.heartbeat_seconds,
        timeout_seconds: pace.jenkins_timeout_seconds,
    }
}

fn backup(name: &str, pace: Pace) -> Step {
    Step::Jenkins {
        name: name.to_owned(),
        job: id(BACKUP_JOB),
        suite: None,
        backup: true,
        undo: false,
        secret: None,
        poll_seconds: pace.heartbeat_seconds,
        timeout_seconds: pace.jenkins_timeout_seconds,
    }
}

fn playbook(playbook: &str, pace: Pace) -> Step {
    Step::Ssm {
        name: format!("ansible {playbook}"),
        playbook: id(playbook),
        secret: None,
        poll_seconds: pace.poll_seconds,
        timeout_seconds: pace.ssm_timeout_seconds,
    }
}

/// The steps of a rotation of `secret`, the version given by `pick` (`prefix` names them):
/// the playbook that applies it on the box, then the Jenkins job that checks the component
/// works with it (from outside, as its users do).
fn apply_and_verify(prefix: &str, secret: SecretKind, pick: SecretPick, pace: Pace) -> [Step; 2] {
    let kind = secret.as_str();
    let given = Some(SecretUse { secret, pick });
    let apply = format!("rotate-{kind}-password");
    let verify = format!("verify-{kind}-password");
    [
        Step::Ssm {
            name: format!("{prefix}ansible {apply}"),
            playbook: id(&apply),
            secret: given,
            poll_seconds: pace.poll_seconds,
            timeout_seconds: pace.ssm_timeout_seconds,
        },
        Step::Jenkins {
            name: format!("{prefix}jenkins {verify}"),
            job: id(&verify),
            suite: None,
            backup: false,
            undo: false,
            secret: given,
            poll_seconds: pace.heartbeat_seconds,
            timeout_seconds: pace.jenkins_timeout_seconds,
        },
    ]
}

/// A rotation: a new version of the secret (its value generated where it is stored), applied
/// and verified, then promoted to current.
fn rotation(secret: SecretKind, pace: Pace) -> Vec<Step> {
    let mut steps = vec![Step::Secret { name: "new secret version".into(), secret, action: SecretAction::Generate }];
    steps.extend(apply_and_verify("", secret, SecretPick::Generated, pace));
    steps.push(Step::Secret { name: "promote secret version".into(), secret, action: SecretAction::Promote });
    steps
}

/// The secret a rotation changes.
fn rotated(op: Operation) -> Option<SecretKind> {
    match op {
        Operation::RotateWebappPassword => Some(SecretKind::Webapp),
        Operation::RotateDbPassword => Some(SecretKind::Db),
        Operation::RotateAirflowPassword => Some(SecretKind::Airflow),
        _ => None,
    }
}

fn record_release() -> Step {
    Step::RecordRelease { name: "record release".into() }
}

/// The work an operation does on the tenant, before the plan's transitions. An upgrade in
/// maintenance first takes a full backup (its snapshot) unless the request opted out; every
/// upgrade records its release once its job applied it, before it is tested.
fn work(op: Operation, model: Option<ChangeModel>, params: &ChangeParams, pace: Pace) -> Vec<Step> {
    let swap = model == Some(ChangeModel::Swap);
    match op {
        Operation::Provision => vec![jenkins("provision-tenant", pace)],
        Operation::Terminate => vec![jenkins("terminate-tenant", pace)],
        Operation::Suspend => vec![playbook("suspend-access", pace)],
        Operation::Resume => vec![playbook("restore-access", pace)],
        Operation::EnterMaintenance => vec![playbook("maintenance-on", pace)],
        Operation::ExitMaintenance => vec![playbook("maintenance-off", pace)],
        Operation::Upgrade if swap => unreachable!("a swap upgrade's steps are swap's"),
        Operation::Upgrade => {
            let snapshot = params.takes_snapshot(model).then(|| backup("snapshot", pace));
            snapshot.into_iter().chain([jenkins("upgrade-tenant", pace), record_release()]).collect()
        }
        // Public access is blocked while the backup copies, and opened again after.
        Operation::Backup => vec![
            playbook(PUBLIC_ACCESS_OFF, pace),
            backup(&format!("jenkins {BACKUP_JOB}"), pace),
            playbook(PUBLIC_ACCESS_ON, pace),
        ],
        Operation::Restore if swap => unreachable!("a swap restore's steps are swap's"),
        Operation::Restore => vec![jenkins("restore-tenant", pace)],
        Operation::Validate => vec![],
        Operation::RotateWebappPassword => rotation(SecretKind::Webapp, pace),
        Operation::RotateDbPassword => rotation(SecretKind::Db, pace),
        Operation::RotateAirflowPassword => rotation(SecretKind::Airflow, pace),
        // The alarm was the work: its one step is the move to `Broken`.
        Operation::MarkBroken => vec![],
        // The job installs the assignment's key, read by the job itself from its reference.
        Operation::ActivateLicense => vec![jenkins(ACTIVATE_LICENSE_JOB, pace)],
        // Only records are written: the box is not touched.
        Operation::AdoptDrift => vec![Step::Drift { name: "adopt drift".into(), action: DriftAction::Adopt }],
        // The box's Update Manager installs the record, then the box is read back.
        Operation::ReapplyRecorded => vec![
            Step::Drift { name: "reapply recorded".into(), action: DriftAction::Reapply },
            Step::Drift { name: "verify no drift".into(), action: DriftAction::Verify },
        ],
    }
}

/// One Jenkins job per health suite (`health-<suite>`), named with `prefix`. A suite whose job
/// would not be a job name is refused.
fn suite_steps(prefix: &str, suites: &[String], pace: Pace) -> Result<Vec<Step>, String> {
    suites
        .iter()
        .map(|suite| {
            let job = JobName::parse(&format!("health-{suite}"))
                .map_err(|e| format!("health suite {suite:?} does not name a Jenkins job: {}", e.message))?;
            Ok(Step::Jenkins {
                name: format!("{prefix}health suite {suite}"),
                job,
                suite: Some(suite.clone()),
                backup: false,
                undo: false,
                secret: None,
                poll_seconds: pace.heartbeat_seconds,
                timeout_seconds: pace.jenkins_timeout_seconds,
            })
        })
        .collect()
}

/// The steps of a change request with this plan and these params: its work, then each state
/// of the plan after the one entered at the start, then one Jenkins job per health suite when
/// it validates.
pub fn steps(plan: &Plan, params: &ChangeParams, suites: &[String], pace: Pace) -> Result<Vec<Step>, String> {
    if plan.operation.builds_a_side(plan.change_model) {
        return swap(plan.operation, params, suites, pace);
    }
    let mut steps = work(plan.operation, plan.change_model, params, pace);
    let skip = usize::from(plan.enter.is_some());
    for &to in plan.through.iter().skip(skip) {
        steps.push(Step::Transition { name: format!("state {to}"), to });
    }
    if plan.validates {
        steps.extend(suite_steps("", suites, pace)?);
    }
    Ok(steps)
}

/// The work step of a change's own steps: the job or playbook that changes the tenant (not a
/// snapshot, not a suite).
fn work_step(own: &[Step]) -> Option<&Step> {
    own.iter().find(|s| match s {
        Step::Jenkins { suite, backup, undo, secret, .. } => suite.is_none() && !backup && !undo && secret.is_none(),
        Step::Ssm { .. } => true,
        _ => false,
    })
}

/// The rollback of a failed change request whose plan rolls back, given what it ran: when its
/// work never started there is nothing to undo (no steps); otherwise the undo job of its work
/// (`rollback-<job>`: given the release to go back to and the snapshot, if one was taken), what
/// was recorded before written back if the change recorded its release, the move to the plan's
/// testing state, and the health suites of the release it went back to (`suites`).
///
/// A rotation whose new version was applied (or whose applying started) goes back to the current
/// version: applied again and verified. Its new version is never promoted. A backup whose
/// blocking of public access started opens it again.
pub fn rollback(cr: &TenantChangeRequest, suites: &[String], pace: Pace) -> Result<Vec<Step>, String> {
    let plan = cr.plan().map_err(|e| e.to_string())?;
    let (own, _) = cr.phases();
    let Some(work) = work_step(own).filter(|w| cr.ran(w.name())) else { return Ok(Vec::new()) };
    if let Some(secret) = rotated(cr.operation) {
        return Ok(apply_and_verify(&format!("{ROLLBACK} "), secret, SecretPick::Current, pace).to_vec());
    }
    if cr.operation == Operation::Backup {
        // Public access blocked (or its blocking started): it is opened again.
        let mut open = playbook(PUBLIC_ACCESS_ON, pace);
        if let Step::Ssm { name, .. } = &mut open {
            *name = format!("{ROLLBACK} {name}");
        }
        return Ok(vec![open]);
    }
    let job = match work {
        Step::Jenkins { job, .. } => format!("{ROLLBACK}-{job}"),
        Step::Ssm { playbook, .. } => format!("{ROLLBACK}-{playbook}"),
        _ => unreachable!("work_step finds only jobs and playbooks"),
    };
    let job = JobName::parse(&job).map_err(|e| format!("the undo job {job:?} is not a job name: {}", e.message))?;
    let mut steps = vec![Step::Jenkins {
        name: format!("{ROLLBACK} jenkins {job}"),
        job,
        suite: None,
        backup: false,
        undo: true,
        secret: None,
        poll_seconds: pace.heartbeat_seconds,
        timeout_seconds: pace.jenkins_timeout_seconds,
    }];
    if own.iter().any(|s| matches!(s, Step::RecordRelease { name } if cr.ran(name))) {
        steps.push(Step::RevertRelease { name: format!("{ROLLBACK} revert release") });
    }
    // Before a swap's cut-over the live side was never touched: dropping the new side is all.
    let live_touched = !cr.operation.builds_a_side(cr.change_model) || cr.ran(CUT_OVER);
    if plan.validates && live_touched {
        if let Some(&to) = plan.through.last() {
            steps.push(Step::Transition { name: format!("{ROLLBACK} state {to}"), to });
        }
        steps.extend(suite_steps(&format!("{ROLLBACK} "), suites, pace)?);
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::TenantState;
    use domain::lifecycle::{creation_plan, plan};

    const PACE: Pace = Pace {
        poll_seconds: 5,
        heartbeat_seconds: 300,
        jenkins_timeout_seconds: 3600,
        ssm_timeout_seconds: 900,
        approval_timeout_seconds: 14_400,
    };
    const NONE: ChangeParams = ChangeParams {
        release: None,
        backup_id: None,
        change_model: None,
        alarm: None,
        allow_downgrade: None,
        fallback_seconds: None,
        assignment_id: None,
        snapshot: None,
    };

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(Step::name).collect()
    }

    #[test]
    fn provisioning_builds_then_tests_then_runs_every_suite() {
        let s = steps(&creation_plan(false), &NONE, &["api".into(), "ui".into()], PACE).unwrap();
        assert_eq!(names(&s), ["jenkins provision-tenant", "state InTesting", "health suite api", "health suite ui"]);
    }

    #[test]
    fn an_upgrade_in_maintenance_enters_it_at_the_start_and_tests_after_the_job() {
        let p = plan(TenantState::Healthy, Operation::Upgrade, Some(ChangeModel::Maintenance)).unwrap();
        assert_eq!(p.enter, Some(TenantState::Maintenance));
        let s = steps(&p, &NONE, &["api".into()], PACE).unwrap();
        assert_eq!(
            names(&s),
            ["snapshot", "jenkins upgrade-tenant", "record release", "state InTesting", "health suite api"]
        );
        let opted_out = ChangeParams { snapshot: Some(false), ..NONE };
        assert_eq!(steps(&p, &opted_out, &[], PACE).unwrap()[0].name(), "jenkins upgrade-tenant");
        let swap = plan(TenantState::Healthy, Operation::Upgrade, Some(ChangeModel::Swap)).unwrap();
        assert_eq!(steps(&swap, &NONE, &[], PACE).unwrap()[0].name(), "jenkins upgrade-tenant-swap");
    }

    #[test]
    fn live_operations_without_validation_are_their_work_alone() {
        let p = plan(TenantState::Healthy, Operation::EnterMaintenance, None).unwrap();
        assert_eq!(names(&steps(&p, &NONE, &["api".into()], PACE).unwrap()), ["ansible maintenance-on"]);
        let p = plan(TenantState::Broken, Operation::Terminate, None).unwrap();
        assert_eq!(names(&steps(&p, &NONE, &["api".into()], PACE).unwrap()), ["jenkins terminate-tenant"]);
    }

    #[test]
    fn a_license_is_installed_by_one_job_and_the_tenant_keeps_its_state() {
        let p = plan(TenantState::Suspended, Operation::ActivateLicense, None).unwrap();
        assert_eq!(names(&steps(&p, &NONE, &["api".into()], PACE).unwrap()), ["jenkins activate-license"]);
    }

    #[test]
    fn an_alarm_is_one_move_to_broken() {
        let p = plan(TenantState::Healthy, Operation::MarkBroken, None).unwrap();
        assert_eq!(names(&steps(&p, &NONE, &["api".into()], PACE).unwrap()), ["state Broken"]);
    }

    #[test]
    fn every_requestable_operation_has_steps_from_every_state_it_allows() {
        for op in Operation::ALL {
            for state in TenantState::ALL {
                if let Ok(p) = plan(state, op, None) {
                    let s = steps(&p, &NONE, &["api".into()], PACE).unwrap();
                    assert!(!s.is_empty(), "{op} from {state}");
                    assert_eq!(p.validates, s.iter().any(|st| matches!(st, Step::Jenkins { suite: Some(_), .. })));
                }
            }
        }
    }
}
