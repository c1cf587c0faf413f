//! What each operation does, as steps the state machine runs one by one: work on the tenant
//! (a Jenkins job or an SSM command), the state transitions of its plan, and the health
//! baseline when the plan validates.

use domain::lifecycle::{Plan, Step};
use domain::{ChangeModel, JobName, Operation};

/// How long steps wait between polls and at most.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub poll_seconds: u64,
    pub jenkins_timeout_seconds: u64,
    pub ssm_timeout_seconds: u64,
}

/// A job or playbook named here: a constant of this file, so always an identifier.
fn id(name: &str) -> JobName {
    JobName::parse(name).unwrap_or_else(|e| panic!("{name} is not a job name: {e}"))
}

fn jenkins(job: &str, pace: Pace) -> Step {
    Step::Jenkins {
        name: format!("jenkins {job}"),
        job: id(job),
        suite: None,
        poll_seconds: pace.poll_seconds,
        timeout_seconds: pace.jenkins_timeout_seconds,
    }
}

fn playbook(playbook: &str, pace: Pace) -> Step {
    Step::Ssm {
        name: format!("ansible {playbook}"),
        playbook: id(playbook),
        poll_seconds: pace.poll_seconds,
        timeout_seconds: pace.ssm_timeout_seconds,
    }
}

/// The work an operation does on the tenant, before the plan's transitions.
fn work(op: Operation, model: Option<ChangeModel>, pace: Pace) -> Vec<Step> {
    let swap = model == Some(ChangeModel::Swap);
    match op {
        Operation::Provision => vec![jenkins("provision-tenant", pace)],
        Operation::Terminate => vec![jenkins("terminate-tenant", pace)],
        Operation::Suspend => vec![playbook("suspend-access", pace)],
        Operation::Resume => vec![playbook("restore-access", pace)],
        Operation::EnterMaintenance => vec![playbook("maintenance-on", pace)],
        Operation::ExitMaintenance => vec![playbook("maintenance-off", pace)],
        Operation::Upgrade if swap => vec![jenkins("upgrade-tenant-swap", pace)],
        Operation::Upgrade => vec![jenkins("upgrade-tenant", pace)],
        Operation::Backup => vec![jenkins("backup-tenant", pace)],
        Operation::Restore if swap => vec![jenkins("restore-tenant-swap", pace)],
        Operation::Restore => vec![jenkins("restore-tenant", pace)],
        Operation::Validate => vec![],
        Operation::RotateWebappPassword => vec![playbook("rotate-webapp-password", pace)],
        Operation::RotateDbPassword => vec![jenkins("rotate-db-password", pace)],
        Operation::RotateAirflowPassword => vec![jenkins("rotate-airflow-password", pace)],
        // The alarm was the work: its one step is the move to `Broken`.
        Operation::MarkBroken => vec![],
    }
}

/// The steps of a change request with this plan: its work, then each state of the plan after
/// the one entered at the start, then one Jenkins job per health suite when it validates. A
/// suite whose job (`health-<suite>`) would not be a job name is refused.
pub fn steps(plan: &Plan, suites: &[String], pace: Pace) -> Result<Vec<Step>, String> {
    let mut steps = work(plan.operation, plan.change_model, pace);
    let skip = usize::from(plan.enter.is_some());
    for &to in plan.through.iter().skip(skip) {
        steps.push(Step::Transition { name: format!("state {to}"), to });
    }
    if plan.validates {
        for suite in suites {
            let job = JobName::parse(&format!("health-{suite}"))
                .map_err(|e| format!("health suite {suite:?} does not name a Jenkins job: {}", e.message))?;
            steps.push(Step::Jenkins {
                name: format!("health suite {suite}"),
                job,
                suite: Some(suite.clone()),
                poll_seconds: pace.poll_seconds,
                timeout_seconds: pace.jenkins_timeout_seconds,
            });
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::TenantState;
    use domain::lifecycle::{creation_plan, plan};

    const PACE: Pace = Pace { poll_seconds: 5, jenkins_timeout_seconds: 3600, ssm_timeout_seconds: 900 };

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(Step::name).collect()
    }

    #[test]
    fn provisioning_builds_then_tests_then_runs_every_suite() {
        let s = steps(&creation_plan(false), &["api".into(), "ui".into()], PACE).unwrap();
        assert_eq!(names(&s), ["jenkins provision-tenant", "state InTesting", "health suite api", "health suite ui"]);
    }

    #[test]
    fn an_upgrade_in_maintenance_enters_it_at_the_start_and_tests_after_the_job() {
        let p = plan(TenantState::Healthy, Operation::Upgrade, Some(ChangeModel::Maintenance)).unwrap();
        assert_eq!(p.enter, Some(TenantState::Maintenance));
        let s = steps(&p, &["api".into()], PACE).unwrap();
        assert_eq!(names(&s), ["jenkins upgrade-tenant", "state InTesting", "health suite api"]);
        let swap = plan(TenantState::Healthy, Operation::Upgrade, Some(ChangeModel::Swap)).unwrap();
        assert_eq!(steps(&swap, &[], PACE).unwrap()[0].name(), "jenkins upgrade-tenant-swap");
    }

    #[test]
    fn live_operations_without_validation_are_their_work_alone() {
        let p = plan(TenantState::Healthy, Operation::EnterMaintenance, None).unwrap();
        assert_eq!(names(&steps(&p, &["api".into()], PACE).unwrap()), ["ansible maintenance-on"]);
        let p = plan(TenantState::Broken, Operation::Terminate, None).unwrap();
        assert_eq!(names(&steps(&p, &["api".into()], PACE).unwrap()), ["jenkins terminate-tenant"]);
    }

    #[test]
    fn an_alarm_is_one_move_to_broken() {
        let p = plan(TenantState::Healthy, Operation::MarkBroken, None).unwrap();
        assert_eq!(names(&steps(&p, &["api".into()], PACE).unwrap()), ["state Broken"]);
    }

    #[test]
    fn every_requestable_operation_has_steps_from_every_state_it_allows() {
        for op in Operation::ALL {
            for state in TenantState::ALL {
                if let Ok(p) = plan(state, op, None) {
                    let s = steps(&p, &["api".into()], PACE).unwrap();
                    assert!(!s.is_empty(), "{op} from {state}");
                    assert_eq!(p.validates, s.iter().any(|st| matches!(st, Step::Jenkins { suite: Some(_), .. })));
                }
            }
        }
    }
}
