//! The lifecycle workflow's tasks: one Lambda, one action per task state of
//! `statemachines/lifecycle.asl.json`, one module per kind of task in [`steps`]. Every write
//! goes through the change-request core (`shared/changes`), conditional on the change request
//! still holding its tenant, so a stale or duplicated task can never move a tenant it does not
//! own; every step runs what the change request stored at `begin`.
//!
//! Errors carry an `errorType` the state machine matches ([`TaskError`]): `Transient` is
//! retried; `Conflict`, `JenkinsFailed`, `CommandFailed`, `HealthFailed`, `Timeout` and
//! `Invalid` end the change request failed.

pub mod error;
pub mod recipe;
pub mod steps;
pub mod task;
pub mod wiring;

use changes::{Changes, Held};
use domain::ProductRelease;
use lambda_runtime::LambdaEvent;
use serde_json::Value;
use store::layout::{self, Record};

pub use error::TaskError;
pub use recipe::Pace;
pub use task::{BuildTicket, CommandTicket, Outcome, Task};

/// What the tasks need: the core (with its store, workflow, Jenkins and SSM ports), the
/// fleet's default health suites, and the pace of polling.
pub struct Deps {
    pub changes: Changes,
    /// The health-baseline suites run at the end of every validating change.
    pub suites: Vec<String>,
    pub pace: Pace,
    /// The region the function runs in (links to the SSM console).
    pub region: Option<String>,
    /// The tenants' secrets, and the path their parameters are under
    /// (`<prefix>/<tenant>/<kind>-password`).
    pub secrets: std::sync::Arc<dyn engine::Secrets>,
    pub secrets_prefix: String,
    /// Where a build posts its completion callback (`CALLBACK_URL`); none, it is only polled.
    pub callback_url: Option<String>,
    /// The tenants' Update Manager API (`UPDATE_MANAGER_URL`): the drift steps install and read
    /// back through it.
    pub update_manager: std::sync::Arc<dyn engine::UpdateManager>,
}

impl Deps {
    /// The health suites of the release the tenant will run when the change ends (the upgrade
    /// target, or its release): the release's own list, or the fleet's default.
    pub async fn suites_for(&self, held: &Held) -> Result<Vec<String>, TaskError> {
        self.suites_of(&held.cr.target_release().unwrap_or_else(|| held.tenant.release.clone())).await
    }

    /// The health suites of `release`: its own list, or the fleet's default.
    pub async fn suites_of(&self, release: &domain::ReleaseVersion) -> Result<Vec<String>, TaskError> {
        let own = match self.changes.table.get(&layout::release_key(release)).await? {
            Some(item) if !layout::is_tombstone(&item) => ProductRelease::from_item(item)?.health_suites,
            _ => Vec::new(),
        };
        Ok(if own.is_empty() { self.suites.clone() } else { own.into_iter().map(String::from).collect() })
    }
}

/// The Lambda handler.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, TaskError> {
    let task: Task =
        serde_json::from_value(event.payload).map_err(|e| TaskError::Invalid(format!("bad task input: {e}")))?;
    // Every line the task logs names its request (the runtime's span), change request and tenant.
    let span = tracing::info_span!(
        "task",
        request_id = %event.context.request_id,
        change_request_id = %task.change_request_id(),
        tenant_id = tracing::field::Empty,
    );
    tracing::Instrument::instrument(run(deps, task), span).await
}

/// Runs one task.
pub async fn run(deps: &Deps, task: Task) -> Result<Value, TaskError> {
    match task {
        Task::Begin { change_request_id } => steps::begin::run(deps, &change_request_id).await,
        Task::Transition { change_request_id, at } => steps::transition::run(deps, &change_request_id, &at).await,
        Task::JenkinsStart { change_request_id, at } => steps::jenkins::start(deps, &change_request_id, &at).await,
        Task::JenkinsPoll { change_request_id, at, ticket } => {
            steps::jenkins::poll(deps, &change_request_id, &at, ticket).await
        }
        Task::JenkinsAwait { change_request_id, at, ticket, task_token } => {
            steps::jenkins::await_end(deps, &change_request_id, &at, ticket, &task_token).await
        }
        Task::SsmSend { change_request_id, at } => steps::ssm::send(deps, &change_request_id, &at).await,
        Task::SsmPoll { change_request_id, at, ticket } => {
            steps::ssm::poll(deps, &change_request_id, &at, ticket).await
        }
        Task::Record { change_request_id, at } => steps::record::run(deps, &change_request_id, &at).await,
        Task::Secret { change_request_id, at } => steps::secret::run(deps, &change_request_id, &at).await,
        Task::Approval { change_request_id, at } => steps::gate::approval(deps, &change_request_id, &at).await,
        Task::Window { change_request_id, at } => steps::gate::window(deps, &change_request_id, &at).await,
        Task::Rollback { change_request_id, error } => {
            steps::rollback::run(deps, &change_request_id, error.as_ref()).await
        }
        Task::Finish { change_request_id, outcome, error } => {
            steps::finish::run(deps, &change_request_id, outcome, error.as_ref()).await
        }
        Task::Release { change_request_id, error } => {
            steps::finish::release(deps, &change_request_id, error.as_ref()).await
        }
    }
}

#[cfg(test)]
mod tests;
