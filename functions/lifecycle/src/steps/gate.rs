//! The steps that wait on people: a gate (`approval`: a swap's cut-over waits for an admin
//! other than the requester, at most its timeout; a rejection or the timeout fails the step and
//! the change rolls back) and a fallback window (`window`: the old side is kept for its seconds;
//! an admin's rollback request fails the step and the change rolls back). The state machine
//! polls each until it answers `done`; a poll that only waits writes nothing.

use changes::Advance;
use chrono::{Duration, Utc};
use domain::lifecycle::Step;
use domain::{ApprovalGate, ChangeRequestId, StepStatus};
use serde_json::json;

use super::{answer, planned, record, workflow};
use crate::task::{StepDone, StepRef};
use crate::{Deps, TaskError};

fn pending() -> Result<serde_json::Value, TaskError> {
    answer(&StepDone { done: false })
}

pub async fn approval(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<serde_json::Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let Step::Approval { name, timeout_seconds, .. } = planned(&held.cr, at)?.1 else {
        return Err(TaskError::Invalid("the task names no approval step".into()));
    };
    if held.cr.succeeded(&name) {
        return answer(&StepDone { done: true });
    }
    let gate = held.cr.gate.clone().filter(|g| g.step == name);
    let Some(gate) = gate else {
        // Open the gate: the change request now awaits an admin's decision.
        deps.changes
            .advance(id, &workflow(), |held| {
                if held.cr.gate.as_ref().is_some_and(|g| g.step == name) {
                    return Ok(Advance::Done(()));
                }
                let now = Utc::now();
                let mut cr = held.cr.clone();
                cr.gate = Some(ApprovalGate { step: name.clone(), opened_at: now, approved: None, decided_by: None, decided_at: None });
                let detail = json!({ "awaiting": "an admin other than the requester: POST /v1/change-requests/{id}/approve or /reject" });
                cr.record_step(&name, StepStatus::Running, Some(detail), None, now);
                Ok(Advance::Write { cr, state: None, answer: () })
            })
            .await?;
        tracing::info!(change_request = %id, step = %name, "waiting for a second admin");
        return pending();
    };
    match (gate.approved, gate.decided_by.as_deref()) {
        (Some(true), by) => {
            record(deps, id, &name, StepStatus::Succeeded, Some(json!({ "approved_by": by })), None).await?;
            answer(&StepDone { done: true })
        }
        (Some(false), by) => {
            let msg = format!("{name} rejected by {}", by.unwrap_or("an admin"));
            record(deps, id, &name, StepStatus::Failed, None, Some(msg.clone())).await?;
            Err(TaskError::Rejected(msg))
        }
        (None, _)
            if Utc::now()
                > gate.opened_at + Duration::seconds(i64::try_from(timeout_seconds).unwrap_or(i64::MAX / 2)) =>
        {
            let msg = format!("{name}: no admin decided within {timeout_seconds} s");
            record(deps, id, &name, StepStatus::Failed, None, Some(msg.clone())).await?;
            Err(TaskError::Timeout(msg))
        }
        (None, _) => pending(),
    }
}

pub async fn window(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<serde_json::Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let Step::Window { name, seconds, .. } = planned(&held.cr, at)?.1 else {
        return Err(TaskError::Invalid("the task names no window step".into()));
    };
    if held.cr.succeeded(&name) {
        return answer(&StepDone { done: true });
    }
    let running = held.cr.steps.iter().rev().find(|s| s.name == name && s.status == StepStatus::Running);
    let Some(started) = running.map(|s| s.started_at) else {
        let until = Utc::now() + Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 2));
        let detail = json!({ "until": until, "rollback": "POST /v1/change-requests/{id}/rollback" });
        let status = if seconds == 0 { StepStatus::Succeeded } else { StepStatus::Running };
        record(deps, id, &name, status, Some(detail), None).await?;
        return answer(&StepDone { done: seconds == 0 });
    };
    if let Some(asked) = &held.cr.rollback_requested {
        let msg = format!("rolled back by {} during the {name}: {}", asked.by, asked.reason);
        record(deps, id, &name, StepStatus::Failed, None, Some(msg.clone())).await?;
        return Err(TaskError::Rejected(msg));
    }
    if Utc::now() >= started + Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX / 2)) {
        record(deps, id, &name, StepStatus::Succeeded, None, None).await?;
        return answer(&StepDone { done: true });
    }
    pending()
}
