//! An allow-listed Ansible playbook run over SSM on the tenant's EC2 instances (the project's
//! own SSM document; never arbitrary shell), sent once and followed to its end.
//!
//! Work runs once: the intent is recorded before `SendCommand`, and a retried send first looks
//! for the command an earlier try sent, by its comment (the step's id).

use changes::Held;
use changes::work::RunningWork;
use chrono::Utc;
use domain::lifecycle::{SecretUse, Step};
use domain::{ChangeRequestId, JobName, StepStatus, Tenant};
use engine::CommandStatus;
use serde_json::{Value, json};

use super::{answer, check_deadline, expired, planned, record, secret_version, step_id};
use crate::task::{CommandTicket, StepRef};
use crate::{Deps, TaskError};

type SsmStep = (usize, String, JobName, Option<SecretUse>, u64);

fn ssm_step(held: &Held, at: &StepRef) -> Result<SsmStep, TaskError> {
    match planned(&held.cr, at)? {
        (i, Step::Ssm { name, playbook, secret, timeout_seconds, .. }) => {
            Ok((i, name, playbook, secret, timeout_seconds))
        }
        (_, other) => Err(TaskError::Invalid(format!("step {} is not an SSM command", other.name()))),
    }
}

/// The EC2 instances of a tenant, from its registered resources.
async fn instances(deps: &Deps, tenant: &Tenant) -> Result<Vec<String>, TaskError> {
    let arns = deps.changes.resource_arns(&tenant.id).await?;
    Ok(arns.iter().filter_map(|a| a.ec2_instance_id().map(str::to_owned)).collect())
}

pub async fn send(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<Value, TaskError> {
    let held = deps.changes.held(id).await?;
    check_deadline(&held)?;
    let (index, name, playbook, secret, timeout_seconds) = ssm_step(&held, at)?;
    let comment = step_id(&held.cr, index);
    let instance_ids = instances(deps, &held.tenant).await?;
    if instance_ids.is_empty() {
        return Err(TaskError::CommandFailed(format!(
            "tenant {} has no EC2 instance registered as a resource",
            held.tenant.id
        )));
    }
    let recorded = held.cr.steps.iter().rev().find(|s| s.name == name && s.status == StepStatus::Running);
    let detail = recorded.and_then(|s| s.detail.clone()).unwrap_or_default();
    let intent = detail.get("step_id").and_then(Value::as_str) == Some(comment.as_str());
    if let (true, Some(command_id)) = (intent, detail.get("command_id").and_then(Value::as_str)) {
        let ticket =
            CommandTicket { command_id: command_id.to_owned(), instance_ids, started_at: Utc::now(), done: false };
        return answer(&ticket);
    }
    let earlier = if intent {
        deps.changes.remote.find(&comment).await?
    } else {
        let intent = json!({ "playbook": playbook, "step_id": comment, "instance_ids": instance_ids });
        record(deps, id, &name, StepStatus::Running, Some(intent), None).await?;
        None
    };
    let command_id = match earlier {
        Some(c) => {
            tracing::info!(change_request = %id, %comment, "found the command an earlier try sent; not sending again");
            c
        }
        None => {
            // The box reads the value itself, by this reference.
            let given = match &secret {
                Some(s) => Some(secret_version(deps, &held, s).await?.selector()),
                None => None,
            };
            deps.changes
                .remote
                .send_given(&instance_ids, playbook.as_str(), given.as_deref(), &comment, timeout_seconds)
                .await?
        }
    };
    let detail =
        json!({ "playbook": playbook, "step_id": comment, "command_id": command_id, "instance_ids": instance_ids });
    if let Err(e) = record(deps, id, &name, StepStatus::Running, Some(detail), None).await {
        if matches!(e, TaskError::Conflict(_)) {
            // Aborted (or finished) between the send and this write: nothing will follow the
            // command, so it must not run.
            let work = RunningWork::Command { command_id, instance_ids };
            deps.changes.stop_one(&held.cr, &work).await;
        }
        return Err(e);
    }
    answer(&CommandTicket { command_id, instance_ids, started_at: Utc::now(), done: false })
}

/// Where the command's full output is: its page in the Systems Manager console.
fn output_url(deps: &Deps, command_id: &str) -> String {
    let region = deps.region.as_deref().unwrap_or("us-east-1");
    format!("https://{region}.console.aws.amazon.com/systems-manager/run-command/{command_id}?region={region}")
}

pub async fn poll(deps: &Deps, id: &ChangeRequestId, at: &StepRef, ticket: CommandTicket) -> Result<Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let (_, name, _, _, timeout_seconds) = ssm_step(&held, at)?;
    if held.cr.succeeded(&name) {
        return answer(&CommandTicket { done: true, ..ticket });
    }
    let status = deps.changes.remote.status(&ticket.command_id, &ticket.instance_ids).await?;
    let failure = match status {
        CommandStatus::Running => {
            let late = if expired(ticket.started_at, timeout_seconds) {
                Some(TaskError::Timeout(format!(
                    "command {} did not finish within {timeout_seconds} s",
                    ticket.command_id
                )))
            } else {
                check_deadline(&held).err()
            };
            let Some(timeout) = late else {
                return answer(&CommandTicket { done: false, ..ticket });
            };
            let work = RunningWork::Command {
                command_id: ticket.command_id.clone(),
                instance_ids: ticket.instance_ids.clone(),
            };
            deps.changes.stop_one(&held.cr, &work).await;
            timeout
        }
        CommandStatus::Failed { detail } => TaskError::CommandFailed(format!(
            "command {} failed: {}; its output: {}",
            ticket.command_id,
            domain::redact::failure_text(&detail),
            output_url(deps, &ticket.command_id)
        )),
        CommandStatus::Succeeded => {
            record(deps, id, &name, StepStatus::Succeeded, None, None).await?;
            return answer(&CommandTicket { done: true, ..ticket });
        }
    };
    record(deps, id, &name, StepStatus::Failed, None, Some(failure.to_string())).await?;
    Err(failure)
}
