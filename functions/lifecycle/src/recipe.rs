//! What each operation does, as steps the state machine runs one by one: work on the tenant
//! (a Jenkins job or an SSM command), the state transitions of its plan, and the health
//! baseline when the plan validates.

use domain::lifecycle::Plan;
use domain::{ChangeModel, Operation, TenantState};
use serde::{Deserialize, Serialize};

/// One step of a change request's workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A job of the SaaS Jenkins; `suite` is set when it is a health-baseline suite.
    Jenkins {
        name: String,
        job: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        suite: Option<String>,
        poll_seconds: u64,
        timeout_seconds: u64,
    },
    /// A shell command (an Ansible playbook run, the Update Manager) on the tenant's EC2s.
    Ssm { name: String, commands: Vec<String>, poll_seconds: u64, timeout_seconds: u64 },
    /// Move the tenant to a state of the plan.
    Transition { name: String, to: TenantState },
}

impl Step {
    pub fn name(&self) -> &str {
        match self {
            Self::Jenkins { name, .. } | Self::Ssm { name, .. } | Self::Transition { name, .. } => name,
        }
    }
}

/// How long steps wait between polls and at most.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub poll_seconds: u64,
    pub jenkins_timeout_seconds: u64,
    pub ssm_timeout_seconds: u64,
}

fn jenkins(job: &str, pace: Pace) -> Step {
    Step::Jenkins {
        name: format!("jenkins {job}"),
        job: job.into(),
        suite: None,
        poll_seconds: pace.poll_seconds,
        timeout_seconds: pace.jenkins_timeout_seconds,
    }
}

fn playbook(playbook: &str, pace: Pace) -> Step {
    Step::Ssm {
        name: format!("ansible {playbook}"),
        commands: vec![format!("ansible-playbook -i localhost, -c local /opt/lucidum/playbooks/{playbook}.yml")],
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
    }
}

/// The steps of a change request with this plan: its work, then each state of the plan after
/// the one entered at the start, then one Jenkins job per health suite when it validates.
pub fn steps(plan: &Plan, suites: &[String], pace: Pace) -> Vec<Step> {
    let mut steps = work(plan.operation, plan.change_model, pace);
    let skip = usize::from(plan.enter.is_some());
    for &to in plan.through.iter().skip(skip) {
        steps.push(Step::Transition { name: format!("state {to}"), to });
    }
    if plan.validates {
        for suite in suites {
            steps.push(Step::Jenkins {
                name: format!("health suite {suite}"),
                job: format!("health-{suite}"),
                suite: Some(suite.clone()),
                poll_seconds: pace.poll_seconds,
                timeout_seconds: pace.jenkins_timeout_seconds,
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::lifecycle::{creation_plan, plan};

    const PACE: Pace = Pace { poll_seconds: 5, jenkins_timeout_seconds: 3600, ssm_timeout_seconds: 900 };

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(Step::name).collect()
    }

    #[test]
    fn provisioning_builds_then_tests_then_runs_every_suite() {
        let s = steps(&creation_plan(false), &["api".into(), "ui".into()], PACE);
        assert_eq!(names(&s), ["jenkins provision-tenant", "state InTesting", "health suite api", "health suite ui"]);
    }

    #[test]
    fn an_upgrade_in_maintenance_enters_it_at_the_start_and_tests_after_the_job() {
        let p = plan(TenantState::Healthy, Operation::Upgrade, Some(ChangeModel::Maintenance)).unwrap();
        assert_eq!(p.enter, Some(TenantState::Maintenance));
        let s = steps(&p, &["api".into()], PACE);
        assert_eq!(names(&s), ["jenkins upgrade-tenant", "state InTesting", "health suite api"]);
        let swap = plan(TenantState::Healthy, Operation::Upgrade, Some(ChangeModel::Swap)).unwrap();
        assert_eq!(steps(&swap, &[], PACE)[0].name(), "jenkins upgrade-tenant-swap");
    }

    #[test]
    fn live_operations_without_validation_are_their_work_alone() {
        let p = plan(TenantState::Healthy, Operation::EnterMaintenance, None).unwrap();
        assert_eq!(names(&steps(&p, &["api".into()], PACE)), ["ansible maintenance-on"]);
        let p = plan(TenantState::Broken, Operation::Terminate, None).unwrap();
        assert_eq!(names(&steps(&p, &["api".into()], PACE)), ["jenkins terminate-tenant"]);
    }

    #[test]
    fn every_requestable_operation_has_steps_from_every_state_it_allows() {
        for op in Operation::ALL {
            for state in TenantState::ALL {
                if let Ok(p) = plan(state, op, None) {
                    let s = steps(&p, &["api".into()], PACE);
                    assert!(!s.is_empty(), "{op} from {state}");
                    assert_eq!(p.validates, s.iter().any(|st| matches!(st, Step::Jenkins { suite: Some(_), .. })));
                }
            }
        }
    }

    #[test]
    fn steps_travel_as_tagged_json() {
        let s = Step::Transition { name: "state InTesting".into(), to: TenantState::InTesting };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "transition", "name": "state InTesting", "to": "InTesting"}));
        assert_eq!(serde_json::from_value::<Step>(json).unwrap(), s);
    }
}
