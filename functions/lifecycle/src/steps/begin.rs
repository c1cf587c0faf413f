//! `begin`: stores the plan's steps and deadline on the change request and enters the state the
//! plan enters at once. A retried begin answers the stored steps.

use changes::Advance;
use chrono::{Duration, Utc};
use domain::lifecycle::Step;
use domain::{ChangeRequestId, StepStatus};
use serde_json::json;

use super::{answer, workflow};
use crate::task::Begun;
use crate::{Deps, TaskError, recipe};

/// How long a change request may take: every step's timeout, plus a minute per step for the
/// tasks and waits between them.
pub fn deadline_seconds(steps: &[Step]) -> i64 {
    // Each step's timeout, noticed at most one poll (a Jenkins step's heartbeat) late, and a minute.
    let step = |s: &Step| i64::try_from(s.timeout_seconds() + s.poll_seconds()).unwrap_or(i64::MAX / 4) + 60;
    steps.iter().map(step).sum::<i64>().max(60)
}

pub async fn run(deps: &Deps, id: &ChangeRequestId) -> Result<serde_json::Value, TaskError> {
    let held = deps.changes.held(id).await?;
    if !held.cr.planned_steps.is_empty() {
        return answer(&Begun { steps: held.cr.planned_steps.clone() });
    }
    let plan = held.cr.plan().map_err(|e| TaskError::Invalid(e.to_string()))?;
    let suites = deps.suites_for(&held).await?;
    let steps = recipe::steps(&plan, &held.cr.params, &suites, deps.pace).map_err(TaskError::Invalid)?;
    let begun = deps
        .changes
        .advance(id, &workflow(), |held| {
            if !held.cr.planned_steps.is_empty() {
                return Ok(Advance::Done(held.cr.planned_steps.clone()));
            }
            let now = Utc::now();
            let mut cr = held.cr.clone();
            cr.planned_steps = steps.clone();
            cr.deadline_at = Some(now + Duration::seconds(deadline_seconds(&steps)));
            cr.record_step("begin", StepStatus::Succeeded, Some(json!({ "plan": plan })), None, now);
            Ok(Advance::Write { cr, state: plan.enter, answer: steps.clone() })
        })
        .await?;
    answer(&Begun { steps: begun })
}

#[cfg(test)]
mod tests {
    use domain::lifecycle::{creation_plan, plan};
    use domain::{ChangeModel, Operation, TenantState};

    use super::deadline_seconds;
    use crate::recipe::{self, Pace};

    /// The state machine's own `TimeoutSeconds` is the ceiling of every execution: it must not
    /// cut a change request short of the deadline its plan gives it at the deployed pace
    /// (`infra/template.yaml`: `POLL_SECONDS` 15, `JENKINS_HEARTBEAT_SECONDS` 300, the wiring's
    /// default timeouts), with the
    /// longest rollback after its last step failed.
    #[test]
    fn the_state_machines_timeout_is_above_every_plans_deadline_at_the_deployed_pace() {
        let asl: serde_json::Value =
            serde_json::from_str(include_str!("../../../../statemachines/lifecycle.asl.json")).unwrap();
        let ceiling = asl["TimeoutSeconds"].as_i64().expect("the lifecycle ASL has a TimeoutSeconds");
        let pace = Pace {
            poll_seconds: 15,
            heartbeat_seconds: 300,
            jenkins_timeout_seconds: 3600,
            ssm_timeout_seconds: 1800,
            approval_timeout_seconds: 14_400,
        };
        let suites: Vec<String> = ["api-smoke", "ui-smoke"].map(String::from).to_vec();
        let mut plans = vec![creation_plan(false), creation_plan(true)];
        for op in Operation::ALL {
            for state in TenantState::ALL {
                for model in [None, Some(ChangeModel::Live), Some(ChangeModel::Maintenance), Some(ChangeModel::Swap)] {
                    if let Ok(p) = plan(state, op, model) {
                        plans.push(p);
                    }
                }
            }
        }
        // The longest a request may ask for: a swap's day-long fallback window.
        let longest_params =
            domain::ChangeParams { fallback_seconds: Some(domain::MAX_FALLBACK_SECONDS), ..Default::default() };
        let whole = |p: &domain::lifecycle::Plan| {
            let steps = recipe::steps(p, &longest_params, &suites, pace).unwrap();
            let mut cr = domain::TenantChangeRequest::new(
                domain::TenantId::generate(),
                p.operation,
                domain::ChangeParams::default(),
                domain::ChangeRequestStatus::Running,
                &domain::WriteContext::api(domain::Actor::system("test")),
            );
            (cr.started_from, cr.change_model) = (Some(p.started), p.change_model);
            for s in &steps {
                cr.record_step(s.name(), domain::StepStatus::Succeeded, None, None, chrono::Utc::now());
            }
            cr.planned_steps = steps.clone();
            let rollback = if p.on_rollback_failure.is_some() {
                deadline_seconds(&recipe::rollback(&cr, &suites, pace).unwrap())
            } else {
                0
            };
            deadline_seconds(&steps) + rollback
        };
        let longest = plans.iter().map(whole).max().unwrap();
        assert!(longest <= ceiling, "a plan needs {longest} s, the state machine stops at {ceiling} s");
        assert!(ceiling <= 2 * longest, "the ceiling ({ceiling} s) is far above any plan ({longest} s)");
    }
}
