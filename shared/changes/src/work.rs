//! Stopping the work a change request runs: the Jenkins build or the SSM command of its
//! running step, found in what the step recorded when it started it. Used by abort, by the
//! reconciler (an execution that timed out, failed or was aborted elsewhere) and by a step
//! that timed out.

use domain::{StepStatus, TenantChangeRequest};
use engine::QueuedBuild;
use serde_json::Value;

use crate::Changes;

/// What a running step started, as it recorded it.
#[derive(Debug, Clone, PartialEq)]
pub enum RunningWork {
    Build(QueuedBuild),
    Command {
        command_id: String,
        instance_ids: Vec<String>,
    },
    /// Only the intent was recorded (the answer of the call was lost, or the save after it
    /// failed): the build or command may exist all the same, found by the step's id.
    IntendedBuild {
        job: String,
        step_id: String,
    },
    IntendedCommand {
        step_id: String,
        instance_ids: Vec<String>,
    },
}

/// The work of the change request's running steps.
pub fn running_work(cr: &TenantChangeRequest) -> Vec<RunningWork> {
    cr.steps
        .iter()
        .filter(|s| s.status == StepStatus::Running)
        .filter_map(|s| s.detail.as_ref())
        .filter_map(|d| work_of(d).or_else(|| intent_of(d)))
        .collect()
}

fn instance_ids(detail: &Value) -> Vec<String> {
    detail
        .get("instance_ids")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The intent a step recorded before calling out: `{job, step_id}` for a build,
/// `{step_id, instance_ids}` for a command.
pub fn intent_of(detail: &Value) -> Option<RunningWork> {
    let step_id = detail.get("step_id").and_then(Value::as_str)?.to_owned();
    match detail.get("job").and_then(Value::as_str) {
        Some(job) => Some(RunningWork::IntendedBuild { job: job.to_owned(), step_id }),
        None => Some(RunningWork::IntendedCommand { step_id, instance_ids: instance_ids(detail) }),
    }
}

/// The work a step's detail names: a build (`job`, `queue_url`) or a command (`command_id`,
/// `instance_ids`).
pub fn work_of(detail: &Value) -> Option<RunningWork> {
    if let Some(build) = detail.get("build").and_then(|b| serde_json::from_value::<QueuedBuild>(b.clone()).ok()) {
        return Some(RunningWork::Build(build));
    }
    let command_id = detail.get("command_id").and_then(Value::as_str)?;
    Some(RunningWork::Command { command_id: command_id.to_owned(), instance_ids: instance_ids(detail) })
}

impl Changes {
    /// Stops each piece of running work; a failure to stop one is logged (the build or command
    /// may already be gone) and does not keep the others from being stopped.
    pub async fn stop_work(&self, cr: &TenantChangeRequest) {
        for work in running_work(cr) {
            self.stop_one(cr, &work).await;
        }
    }

    pub async fn stop_one(&self, cr: &TenantChangeRequest, work: &RunningWork) {
        let result = match work {
            RunningWork::Build(build) => self.jenkins.stop(build).await.map_err(|e| e.to_string()),
            RunningWork::Command { command_id, instance_ids } => {
                self.remote.cancel(command_id, instance_ids).await.map_err(|e| e.to_string())
            }
            RunningWork::IntendedBuild { job, step_id } => match self.jenkins.find(job, step_id).await {
                Ok(Some(build)) => self.jenkins.stop(&build).await.map_err(|e| e.to_string()),
                Ok(None) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            RunningWork::IntendedCommand { step_id, instance_ids } => match self.remote.find(step_id).await {
                Ok(Some(command_id)) => self.remote.cancel(&command_id, instance_ids).await.map_err(|e| e.to_string()),
                Ok(None) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
        };
        match result {
            Ok(()) => tracing::info!(change_request = %cr.id, ?work, "stopped the running work"),
            Err(error) => tracing::warn!(change_request = %cr.id, ?work, %error, "could not stop the running work"),
        }
    }
}
