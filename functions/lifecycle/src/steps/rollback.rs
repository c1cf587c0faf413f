//! `rollback`: a step of a change failed. When its plan rolls back, the rollback's steps (from
//! what the change ran: `recipe::rollback`) are stored after its own, with a deadline of their
//! own, and answered for the state machine's rollback Map; when its work never started there is
//! nothing to undo. A retried rollback answers what was stored.

use changes::Advance;
use chrono::{Duration, Utc};
use domain::{ChangeRequestId, StepStatus, TenantChangeRequest};
use serde_json::{Value, json};

use super::begin::deadline_seconds;
use super::finish::error_text;
use super::{answer, workflow};
use crate::task::{IndexedStep, RollbackPlanned};
use crate::{Deps, TaskError, recipe};

fn planned(cr: &TenantChangeRequest, from: usize) -> RollbackPlanned {
    let steps: Vec<IndexedStep> = cr
        .planned_steps
        .iter()
        .enumerate()
        .skip(from)
        .map(|(index, step)| IndexedStep { index, step: step.clone() })
        .collect();
    RollbackPlanned { rolls_back: true, run: !steps.is_empty(), steps }
}

pub async fn run(deps: &Deps, id: &ChangeRequestId, error: Option<&Value>) -> Result<Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let plan = held.cr.plan().map_err(|e| TaskError::Invalid(e.to_string()))?;
    if plan.on_rollback_failure.is_none() {
        return answer(&RollbackPlanned { rolls_back: false, run: false, steps: Vec::new() });
    }
    if let Some(from) = held.cr.rollback_from {
        return answer(&planned(&held.cr, from));
    }
    let back_to = held.cr.recorded_before.as_ref().map_or_else(|| held.tenant.release.clone(), |b| b.release.clone());
    let suites = deps.suites_of(&back_to).await?;
    let steps = recipe::rollback(&held.cr, &suites, deps.pace).map_err(TaskError::Invalid)?;
    let why = error_text(error);
    let cr = deps
        .changes
        .advance(id, &workflow(), |held| {
            if held.cr.rollback_from.is_some() {
                return Ok(Advance::Done(held.cr.clone()));
            }
            let now = Utc::now();
            let mut cr = held.cr.clone();
            cr.rollback_from = Some(cr.planned_steps.len());
            cr.planned_steps.extend(steps.iter().cloned());
            let own_deadline = now + Duration::seconds(deadline_seconds(&steps));
            cr.deadline_at = cr.deadline_at.max(Some(own_deadline));
            let names: Vec<&str> = steps.iter().map(|s| s.name()).collect();
            let detail = json!({ "because": why, "to_release": back_to, "steps": names });
            cr.record_step(recipe::ROLLBACK, StepStatus::Succeeded, Some(detail), None, now);
            Ok(Advance::Write { answer: cr.clone(), cr, state: None })
        })
        .await?;
    tracing::info!(change_request = %id, steps = steps.len(), "rolling back");
    answer(&planned(&cr, cr.rollback_from.unwrap_or(cr.planned_steps.len())))
}
