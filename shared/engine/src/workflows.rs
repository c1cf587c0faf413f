//! Starting change requests as Step Functions executions.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// An execution of this name already exists with another input: a different change request
    /// cannot reuse an id, so this is a bug or tampering.
    #[error("an execution named {0} already exists with another input")]
    NameTaken(String),
    #[error("the workflow service is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

/// Where an execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// Waiting for a redrive (Step Functions' own status for a redriven execution).
    PendingRedrive,
}

impl ExecutionStatus {
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(Value::String(s.to_owned())).ok()
    }

    pub fn is_live(self) -> bool {
        matches!(self, Self::Running | Self::PendingRedrive)
    }
}

/// Starts workflows. The execution name is the change request id, so a retried start can never
/// run a change twice.
#[async_trait]
pub trait Workflows: Send + Sync {
    /// Starts (or finds, when already started with the same input) the execution `name`;
    /// answers its ARN.
    async fn start(&self, name: &str, input: &Value) -> Result<String, WorkflowError>;
    /// The ARN the execution `name` has (or will have): known before it starts.
    fn execution_arn(&self, name: &str) -> String;
    /// Where the execution `name` is; `None` when it never started.
    async fn status(&self, name: &str) -> Result<Option<ExecutionStatus>, WorkflowError>;
    /// Stops the execution `name` (`StopExecution`), giving `cause`. One that already ended, or
    /// never started, is left as it is.
    async fn stop(&self, name: &str, cause: &str) -> Result<(), WorkflowError>;
    /// Ends the task waiting on `task_token` (`SendTaskSuccess`) with `output`: answers whether
    /// a task was waiting on it (a token whose task timed out, or ended, wakes nothing).
    async fn wake(&self, task_token: &str, output: &Value) -> Result<bool, WorkflowError>;
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> WorkflowError {
    WorkflowError::Unavailable(anyhow::anyhow!(aws_sdk_sfn::error::DisplayErrorContext(e)))
}

/// Step Functions.
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self { client, state_machine_arn: state_machine_arn.into() }
    }
}

#[async_trait]
impl Workflows for StepFunctions {
    #[tracing::instrument(skip(self, input))]
    async fn start(&self, name: &str, input: &Value) -> Result<String, WorkflowError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.execution_arn().to_owned()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                // Standard workflows answer an identical retried start with the running
                // execution; a clash means another input under the same name.
                let arn = self.execution_arn(name);
                let existing = self.client.describe_execution().execution_arn(&arn).send().await.map_err(|e| {
                    WorkflowError::Unavailable(anyhow::anyhow!(aws_sdk_sfn::error::DisplayErrorContext(e)))
                })?;
                let same = existing.input().and_then(|i| serde_json::from_str::<Value>(i).ok()).as_ref() == Some(input);
                if same { Ok(arn) } else { Err(WorkflowError::NameTaken(name.to_owned())) }
            }
            Err(e) => Err(WorkflowError::Unavailable(anyhow::anyhow!(aws_sdk_sfn::error::DisplayErrorContext(e)))),
        }
    }

    fn execution_arn(&self, name: &str) -> String {
        format!("{}:{name}", self.state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
    }

    #[tracing::instrument(skip(self))]
    async fn status(&self, name: &str) -> Result<Option<ExecutionStatus>, WorkflowError> {
        match self.client.describe_execution().execution_arn(self.execution_arn(name)).send().await {
            Ok(out) => Ok(ExecutionStatus::parse(out.status().as_str())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn stop(&self, name: &str, cause: &str) -> Result<(), WorkflowError> {
        let cause: String = cause.chars().take(32_768).collect();
        match self.client.stop_execution().execution_arn(self.execution_arn(name)).cause(cause).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn wake(&self, task_token: &str, output: &Value) -> Result<bool, WorkflowError> {
        match self.client.send_task_success().task_token(task_token).output(output.to_string()).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_task_timed_out() || s.is_task_does_not_exist() || s.is_invalid_token()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// For a function that starts and stops no workflow (the lifecycle task function runs inside
/// one): every call is refused as unavailable.
pub struct NoWorkflows;

#[async_trait]
impl Workflows for NoWorkflows {
    async fn start(&self, name: &str, _: &Value) -> Result<String, WorkflowError> {
        Err(WorkflowError::Unavailable(anyhow::anyhow!("this function starts no workflow ({name})")))
    }

    fn execution_arn(&self, name: &str) -> String {
        format!("arn:aws:states:::execution:unknown:{name}")
    }

    async fn status(&self, name: &str) -> Result<Option<ExecutionStatus>, WorkflowError> {
        Err(WorkflowError::Unavailable(anyhow::anyhow!("this function reads no workflow ({name})")))
    }

    async fn stop(&self, name: &str, _: &str) -> Result<(), WorkflowError> {
        Err(WorkflowError::Unavailable(anyhow::anyhow!("this function stops no workflow ({name})")))
    }

    async fn wake(&self, _: &str, _: &Value) -> Result<bool, WorkflowError> {
        Err(WorkflowError::Unavailable(anyhow::anyhow!("this function wakes no workflow task")))
    }
}

/// Records starts; a name started twice is one execution, as in Step Functions. Executions stay
/// `RUNNING` until [`MemoryWorkflows::end`] or a stop.
#[derive(Default)]
pub struct MemoryWorkflows {
    started: Mutex<BTreeMap<String, Value>>,
    ended: Mutex<BTreeMap<String, ExecutionStatus>>,
    stops: Mutex<Vec<(String, String)>>,
    /// Tokens tasks wait on (see [`MemoryWorkflows::wait_on`]), and the wakes sent to each.
    waiting: Mutex<BTreeMap<String, Vec<Value>>>,
    fail: Mutex<bool>,
}

impl MemoryWorkflows {
    pub fn new() -> Self {
        Self::default()
    }

    /// Executions started so far: name → input.
    pub fn started(&self) -> BTreeMap<String, Value> {
        self.started.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Ends the execution `name` with `status`, as Step Functions would on its own.
    pub fn end(&self, name: &str, status: ExecutionStatus) {
        if let Ok(mut e) = self.ended.lock() {
            e.insert(name.to_owned(), status);
        }
    }

    /// The stops asked for so far: (name, cause).
    pub fn stops(&self) -> Vec<(String, String)> {
        self.stops.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// A task now waits on `task_token`, as a `.waitForTaskToken` state does.
    pub fn wait_on(&self, task_token: &str) {
        if let Ok(mut w) = self.waiting.lock() {
            w.entry(task_token.to_owned()).or_default();
        }
    }

    /// The outputs each token was woken with so far (only the first woke its task).
    pub fn wakes(&self, task_token: &str) -> Vec<Value> {
        self.waiting.lock().ok().and_then(|w| w.get(task_token).cloned()).unwrap_or_default()
    }

    fn down(&self) -> bool {
        self.fail.lock().map(|f| *f).unwrap_or(false)
    }

    /// Makes every later start fail as if Step Functions were down.
    pub fn fail_starts(&self, fail: bool) {
        if let Ok(mut f) = self.fail.lock() {
            *f = fail;
        }
    }
}

#[async_trait]
impl Workflows for MemoryWorkflows {
    async fn start(&self, name: &str, input: &Value) -> Result<String, WorkflowError> {
        if self.down() {
            return Err(WorkflowError::Unavailable(anyhow::anyhow!("step functions is down")));
        }
        let mut started = self.started.lock().map_err(|_| WorkflowError::Unavailable(anyhow::anyhow!("poisoned")))?;
        match started.get(name) {
            Some(existing) if existing != input => return Err(WorkflowError::NameTaken(name.to_owned())),
            Some(_) => {}
            None => {
                started.insert(name.to_owned(), input.clone());
            }
        }
        Ok(self.execution_arn(name))
    }

    fn execution_arn(&self, name: &str) -> String {
        format!("arn:aws:states:us-east-1:123456789012:execution:lifecycle:{name}")
    }

    async fn status(&self, name: &str) -> Result<Option<ExecutionStatus>, WorkflowError> {
        if self.down() {
            return Err(WorkflowError::Unavailable(anyhow::anyhow!("step functions is down")));
        }
        if !self.started().contains_key(name) {
            return Ok(None);
        }
        let ended = self.ended.lock().ok().and_then(|e| e.get(name).copied());
        Ok(Some(ended.unwrap_or(ExecutionStatus::Running)))
    }

    async fn stop(&self, name: &str, cause: &str) -> Result<(), WorkflowError> {
        if self.down() {
            return Err(WorkflowError::Unavailable(anyhow::anyhow!("step functions is down")));
        }
        if let Ok(mut s) = self.stops.lock() {
            s.push((name.to_owned(), cause.to_owned()));
        }
        if self.status(name).await? == Some(ExecutionStatus::Running) {
            self.end(name, ExecutionStatus::Aborted);
        }
        Ok(())
    }

    async fn wake(&self, task_token: &str, output: &Value) -> Result<bool, WorkflowError> {
        if self.down() {
            return Err(WorkflowError::Unavailable(anyhow::anyhow!("step functions is down")));
        }
        let mut waiting = self.waiting.lock().map_err(|_| WorkflowError::Unavailable(anyhow::anyhow!("poisoned")))?;
        Ok(match waiting.get_mut(task_token) {
            Some(wakes) => {
                wakes.push(output.clone());
                wakes.len() == 1
            }
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_retried_start_is_one_execution_and_a_reused_name_is_refused() {
        let w = MemoryWorkflows::new();
        let a = w.start("chg_1", &json!({"x": 1})).await.unwrap();
        let b = w.start("chg_1", &json!({"x": 1})).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(w.started().len(), 1);
        assert!(matches!(w.start("chg_1", &json!({"x": 2})).await, Err(WorkflowError::NameTaken(_))));
        w.fail_starts(true);
        assert!(matches!(w.start("chg_2", &json!({})).await, Err(WorkflowError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_stop_ends_a_running_execution_and_leaves_an_ended_one() {
        let w = MemoryWorkflows::new();
        assert_eq!(w.status("chg_1").await.unwrap(), None);
        w.start("chg_1", &json!({})).await.unwrap();
        w.start("chg_2", &json!({})).await.unwrap();
        assert_eq!(w.status("chg_1").await.unwrap(), Some(ExecutionStatus::Running));
        w.end("chg_2", ExecutionStatus::Succeeded);
        w.stop("chg_1", "aborted by alice").await.unwrap();
        w.stop("chg_2", "too late").await.unwrap();
        assert_eq!(w.status("chg_1").await.unwrap(), Some(ExecutionStatus::Aborted));
        assert_eq!(w.status("chg_2").await.unwrap(), Some(ExecutionStatus::Succeeded));
        assert_eq!(w.stops().len(), 2);
        assert!(!ExecutionStatus::Aborted.is_live() && ExecutionStatus::Running.is_live());
        assert_eq!(ExecutionStatus::parse("TIMED_OUT"), Some(ExecutionStatus::TimedOut));
    }

    #[test]
    fn execution_arns_follow_the_state_machine_arn() {
        let config =
            aws_sdk_sfn::Config::builder().behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest()).build();
        let sfn = StepFunctions::new(
            aws_sdk_sfn::Client::from_conf(config),
            "arn:aws:states:us-east-1:123456789012:stateMachine:lifecycle",
        );
        assert_eq!(sfn.execution_arn("chg_1"), "arn:aws:states:us-east-1:123456789012:execution:lifecycle:chg_1");
    }
}
