//! Commands on a tenant's EC2 instances through SSM (Ansible playbooks, the Update Manager).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::CommandInvocationStatus;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("the command was refused: {0}")]
    Refused(String),
    #[error("ssm unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommandStatus {
    Running,
    Succeeded,
    Failed { detail: String },
}

#[async_trait]
pub trait RemoteCommands: Send + Sync {
    /// Sends `commands` (an `AWS-RunShellScript`) to the instances; answers the command id.
    async fn send(&self, instance_ids: &[String], commands: &[String], comment: &str) -> Result<String, RemoteError>;
    /// The combined status of the command on all its instances.
    async fn status(&self, command_id: &str, instance_ids: &[String]) -> Result<CommandStatus, RemoteError>;
}

// ---------------------------------------------------------------------------------------------
// The SSM adapter
// ---------------------------------------------------------------------------------------------

/// The SSM document every command runs as.
pub const RUN_SHELL_SCRIPT: &str = "AWS-RunShellScript";
/// SendCommand takes at most this many instance ids.
pub const MAX_INSTANCES: usize = 50;
/// How much of an instance's standard error a failure's detail keeps.
pub const STDERR_KEEP: usize = 500;
/// SSM refuses a longer comment.
const MAX_COMMENT: usize = 100;

/// Run Command over SSM: `SendCommand` of [`RUN_SHELL_SCRIPT`], followed with
/// `GetCommandInvocation` per instance (not `ListCommandInvocations`, which the local emulator
/// cannot answer).
#[derive(Debug, Clone)]
pub struct SsmCommands {
    client: aws_sdk_ssm::Client,
    delivery_timeout: Duration,
    execution_timeout: Duration,
}

impl SsmCommands {
    /// Delivery timeout 10 minutes (an instance that has not picked the command up by then
    /// never runs it), execution timeout 1 hour.
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        Self { client, delivery_timeout: Duration::from_secs(600), execution_timeout: Duration::from_secs(3600) }
    }

    /// `delivery`: SendCommand's `TimeoutSeconds` (30 s – 30 days); `execution`: the document's
    /// `executionTimeout` (1 s – 48 h). Values outside are clamped.
    pub fn with_timeouts(mut self, delivery: Duration, execution: Duration) -> Self {
        self.delivery_timeout = delivery;
        self.execution_timeout = execution;
        self
    }
}

#[async_trait]
impl RemoteCommands for SsmCommands {
    async fn send(&self, instance_ids: &[String], commands: &[String], comment: &str) -> Result<String, RemoteError> {
        if instance_ids.is_empty() {
            return Err(RemoteError::Refused("no instance to run the command on".into()));
        }
        if instance_ids.len() > MAX_INSTANCES {
            return Err(RemoteError::Refused(format!(
                "{} instances: SSM takes at most {MAX_INSTANCES} per command",
                instance_ids.len()
            )));
        }
        if commands.is_empty() {
            return Err(RemoteError::Refused("no command to run".into()));
        }
        let delivery = self.delivery_timeout.as_secs().clamp(30, 2_592_000) as i32;
        let execution = self.execution_timeout.as_secs().clamp(1, 172_800);
        // The commands may carry secrets: log how many, not what.
        tracing::info!(instances = ?instance_ids, commands = commands.len(), comment, "sending an ssm command");
        let out = self
            .client
            .send_command()
            .document_name(RUN_SHELL_SCRIPT)
            .set_instance_ids(Some(instance_ids.to_vec()))
            .parameters("commands", commands.to_vec())
            .parameters("executionTimeout", vec![execution.to_string()])
            .comment(fit_comment(comment))
            .timeout_seconds(delivery)
            .send()
            .await
            .map_err(sdk_error)?;
        out.command()
            .and_then(|c| c.command_id())
            .map(str::to_owned)
            .ok_or_else(|| RemoteError::Unavailable(anyhow::anyhow!("SendCommand answered no command id")))
    }

    async fn status(&self, command_id: &str, instance_ids: &[String]) -> Result<CommandStatus, RemoteError> {
        if instance_ids.is_empty() {
            return Err(RemoteError::Refused("no instance to ask about".into()));
        }
        let mut states = Vec::with_capacity(instance_ids.len());
        for instance in instance_ids {
            let result = self.client.get_command_invocation().command_id(command_id).instance_id(instance).send().await;
            let state = match result {
                Ok(inv) => Invocation::from_ssm(
                    instance,
                    inv.status(),
                    inv.status_details(),
                    inv.response_code(),
                    inv.standard_error_content(),
                ),
                // Right after SendCommand, SSM may not have registered the invocation yet.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_invocation_does_not_exist()) => Invocation::Pending,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_instance_id()) => {
                    Invocation::Failed(format!(
                        "{instance}: the instance cannot run commands ({})",
                        e.as_service_error().and_then(|s| s.message()).unwrap_or("InvalidInstanceId")
                    ))
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_command_id()) => {
                    return Err(RemoteError::Refused(format!("no command {command_id}")));
                }
                Err(e) => return Err(sdk_error(e)),
            };
            states.push(state);
        }
        Ok(combine(states))
    }
}

/// Where the command is on one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Invocation {
    Pending,
    Succeeded,
    Failed(String),
}

impl Invocation {
    fn from_ssm(
        instance: &str,
        status: Option<&CommandInvocationStatus>,
        details: Option<&str>,
        exit_code: i32,
        stderr: Option<&str>,
    ) -> Self {
        match status {
            Some(CommandInvocationStatus::Success) => Self::Succeeded,
            Some(
                s @ (CommandInvocationStatus::Failed
                | CommandInvocationStatus::Cancelled
                | CommandInvocationStatus::TimedOut),
            ) => {
                let mut detail = format!("{instance}: {}", s.as_str());
                let mut notes = Vec::new();
                if let Some(d) = details.filter(|d| !d.is_empty() && *d != s.as_str()) {
                    notes.push(d.to_owned());
                }
                if exit_code >= 0 {
                    notes.push(format!("exit {exit_code}"));
                }
                if !notes.is_empty() {
                    detail.push_str(&format!(" ({})", notes.join(", ")));
                }
                if let Some(err) = stderr.map(str::trim).filter(|e| !e.is_empty()) {
                    detail.push_str(": ");
                    detail.push_str(&truncate_chars(err, STDERR_KEEP));
                }
                Self::Failed(detail)
            }
            // Pending, InProgress, Delayed, Cancelling, or a status newer than this code.
            _ => Self::Pending,
        }
    }
}

/// All succeeded → `Succeeded`; any failed → `Failed` (every failure's detail); else `Running`.
fn combine(states: Vec<Invocation>) -> CommandStatus {
    let failures: Vec<String> =
        states.iter().filter_map(|s| if let Invocation::Failed(d) = s { Some(d.clone()) } else { None }).collect();
    if !failures.is_empty() {
        CommandStatus::Failed { detail: failures.join("; ") }
    } else if states.iter().all(|s| *s == Invocation::Succeeded) {
        CommandStatus::Succeeded
    } else {
        CommandStatus::Running
    }
}

/// SSM refuses a comment over 100 characters: cut it (with an ellipsis) to fit.
fn fit_comment(comment: &str) -> String {
    if comment.chars().count() > MAX_COMMENT { truncate_chars(comment, MAX_COMMENT - 1) } else { comment.to_owned() }
}

/// The first `max` characters of `s`, with `…` when something was cut.
fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// A throttle, a 5xx or no answer is worth a retry; any other service error is a refusal.
fn sdk_error<E>(e: SdkError<E, HttpResponse>) -> RemoteError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(se) = &e {
        let status = se.raw().status().as_u16();
        let code = se.err().code().unwrap_or("Unknown");
        let retryable = status >= 500
            || status == 429
            || code.contains("Throttl")
            || matches!(code, "InternalServerError" | "RequestLimitExceeded" | "ServiceUnavailable");
        if !retryable {
            let message = se.err().message().unwrap_or("");
            return RemoteError::Refused(format!("{code}: {message}"));
        }
    }
    RemoteError::Unavailable(anyhow::anyhow!(DisplayErrorContext(e)))
}

// ---------------------------------------------------------------------------------------------
// The in-memory fake
// ---------------------------------------------------------------------------------------------

/// How a command sent to [`MemoryCommands`] behaves, counted in `status` calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandScript {
    /// `None`: runs forever; `Some(Err(detail))`: fails with that detail.
    pub outcome: Option<Result<(), String>>,
    /// `status` answers `Running` this many times first.
    pub running_polls: u32,
}

impl CommandScript {
    /// Succeeded at the first `status`.
    pub fn succeed() -> Self {
        Self { outcome: Some(Ok(())), running_polls: 0 }
    }

    /// Failed with `detail` at the first `status`.
    pub fn fail(detail: impl Into<String>) -> Self {
        Self { outcome: Some(Err(detail.into())), running_polls: 0 }
    }

    pub fn run_forever() -> Self {
        Self { outcome: None, running_polls: 0 }
    }

    pub fn running_for(mut self, polls: u32) -> Self {
        self.running_polls = polls;
        self
    }
}

/// A command [`MemoryCommands`] was asked to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCommand {
    pub command_id: String,
    pub instance_ids: Vec<String>,
    pub commands: Vec<String>,
    pub comment: String,
}

/// SSM for unit tests. A sent command takes the script of the first [`script_matching`] rule
/// whose text occurs in one of its commands, else the next one queued with [`script_next`],
/// else succeeds at the first `status`. Records every command sent.
///
/// [`script_matching`]: MemoryCommands::script_matching
/// [`script_next`]: MemoryCommands::script_next
#[derive(Default)]
pub struct MemoryCommands {
    state: Mutex<MemoryCommandsState>,
}

#[derive(Default)]
struct MemoryCommandsState {
    rules: Vec<(String, CommandScript)>,
    next: std::collections::VecDeque<CommandScript>,
    down: bool,
    sent: Vec<SentCommand>,
    running: HashMap<String, (CommandScript, u32)>,
}

impl MemoryCommands {
    pub fn new() -> Self {
        Self::default()
    }

    /// Commands containing `text` (e.g. `"upgrade.yml"`) behave as `script`.
    pub fn script_matching(&self, text: &str, script: CommandScript) {
        if let Ok(mut s) = self.state.lock() {
            s.rules.push((text.to_owned(), script));
        }
    }

    /// The next command sent (that no rule matches) behaves as `script`.
    pub fn script_next(&self, script: CommandScript) {
        if let Ok(mut s) = self.state.lock() {
            s.next.push_back(script);
        }
    }

    /// Changes the script of a command already sent (its poll count restarts).
    pub fn script_command(&self, command_id: &str, script: CommandScript) {
        if let Ok(mut s) = self.state.lock() {
            s.running.insert(command_id.to_owned(), (script, 0));
        }
    }

    /// Every later call fails with [`RemoteError::Unavailable`].
    pub fn set_down(&self, down: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.down = down;
        }
    }

    /// Every command sent so far, in order.
    pub fn sent(&self) -> Vec<SentCommand> {
        self.state.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryCommandsState>, RemoteError> {
        let s = self.state.lock().map_err(|_| RemoteError::Unavailable(anyhow::anyhow!("memory ssm poisoned")))?;
        if s.down {
            return Err(RemoteError::Unavailable(anyhow::anyhow!("memory ssm is down")));
        }
        Ok(s)
    }
}

#[async_trait]
impl RemoteCommands for MemoryCommands {
    async fn send(&self, instance_ids: &[String], commands: &[String], comment: &str) -> Result<String, RemoteError> {
        let mut s = self.lock()?;
        if instance_ids.is_empty() || commands.is_empty() {
            return Err(RemoteError::Refused("no instance or no command".into()));
        }
        let ruled =
            s.rules.iter().find(|(text, _)| commands.iter().any(|c| c.contains(text.as_str()))).map(|(_, r)| r.clone());
        let script = match ruled {
            Some(r) => r,
            None => s.next.pop_front().unwrap_or_else(CommandScript::succeed),
        };
        let command_id = format!("memory-command-{}", s.sent.len() + 1);
        s.sent.push(SentCommand {
            command_id: command_id.clone(),
            instance_ids: instance_ids.to_vec(),
            commands: commands.to_vec(),
            comment: comment.to_owned(),
        });
        s.running.insert(command_id.clone(), (script, 0));
        Ok(command_id)
    }

    async fn status(&self, command_id: &str, instance_ids: &[String]) -> Result<CommandStatus, RemoteError> {
        let mut s = self.lock()?;
        let sent_to = s.sent.iter().find(|c| c.command_id == command_id).map(|c| c.instance_ids.clone());
        let (Some(sent_to), Some((script, polls))) = (sent_to, s.running.get_mut(command_id)) else {
            return Err(RemoteError::Refused(format!("no command {command_id}")));
        };
        let poll = *polls;
        *polls = polls.saturating_add(1);
        // As SSM: an instance the command was not sent to has no invocation (read as Running).
        if instance_ids.iter().any(|i| !sent_to.contains(i)) {
            return Ok(CommandStatus::Running);
        }
        Ok(match &script.outcome {
            Some(_) if poll < script.running_polls => CommandStatus::Running,
            Some(Ok(())) => CommandStatus::Succeeded,
            Some(Err(detail)) => CommandStatus::Failed { detail: detail.clone() },
            None => CommandStatus::Running,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn invocations_combine_into_one_status() {
        use CommandInvocationStatus as S;
        let ok = Invocation::from_ssm("i-1", Some(&S::Success), Some("Success"), 0, None);
        assert_eq!(ok, Invocation::Succeeded);
        for s in [S::Pending, S::InProgress, S::Delayed, S::Cancelling] {
            assert_eq!(Invocation::from_ssm("i-1", Some(&s), None, -1, None), Invocation::Pending, "{s:?}");
        }
        assert_eq!(combine(vec![ok.clone(), ok.clone()]), CommandStatus::Succeeded);
        assert_eq!(combine(vec![ok.clone(), Invocation::Pending]), CommandStatus::Running);

        let long = "x".repeat(2000);
        let failed = Invocation::from_ssm("i-2", Some(&S::Failed), Some("Failed"), 2, Some(&long));
        let timed_out = Invocation::from_ssm("i-3", Some(&S::TimedOut), Some("DeliveryTimedOut"), -1, None);
        let CommandStatus::Failed { detail } = combine(vec![ok, Invocation::Pending, failed, timed_out]) else {
            panic!("a failure must fail the command");
        };
        assert!(detail.starts_with("i-2: Failed (exit 2): xxx"), "{detail}");
        assert!(
            detail.contains(&format!("{}…", "x".repeat(STDERR_KEEP))) && !detail.contains(&"x".repeat(STDERR_KEEP + 1))
        );
        assert!(detail.ends_with("; i-3: TimedOut (DeliveryTimedOut)"), "{detail}");
        let cancelled = Invocation::from_ssm("i-4", Some(&S::Cancelled), None, -1, Some("  \n"));
        assert_eq!(cancelled, Invocation::Failed("i-4: Cancelled".into()));
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(fit_comment(&"é".repeat(150)).chars().count(), 100);
        assert_eq!(fit_comment("chg_1 upgrade"), "chg_1 upgrade");
    }

    #[tokio::test]
    async fn the_memory_fake_follows_its_scripts_and_records_what_was_sent() {
        let ssm = MemoryCommands::new();
        ssm.script_matching("upgrade.yml", CommandScript::fail("i-1: ansible failed").running_for(1));
        ssm.script_next(CommandScript::run_forever());
        let on = ids(&["i-1", "i-2"]);

        let up = ssm.send(&on, &ids(&["ansible-playbook upgrade.yml"]), "chg_1 upgrade").await.unwrap();
        let hang = ssm.send(&on, &ids(&["sleep 1000"]), "chg_2").await.unwrap();
        let ok = ssm.send(&on, &ids(&["true"]), "chg_3").await.unwrap();

        assert_eq!(ssm.status(&up, &on).await.unwrap(), CommandStatus::Running);
        assert_eq!(ssm.status(&up, &on).await.unwrap(), CommandStatus::Failed { detail: "i-1: ansible failed".into() });
        for _ in 0..5 {
            assert_eq!(ssm.status(&hang, &on).await.unwrap(), CommandStatus::Running);
        }
        assert_eq!(ssm.status(&ok, &on).await.unwrap(), CommandStatus::Succeeded);
        assert_eq!(ssm.status(&ok, &ids(&["i-9"])).await.unwrap(), CommandStatus::Running);
        assert!(matches!(ssm.status("nope", &on).await, Err(RemoteError::Refused(_))));

        ssm.script_command(&hang, CommandScript::succeed());
        assert_eq!(ssm.status(&hang, &on).await.unwrap(), CommandStatus::Succeeded);

        let sent = ssm.sent();
        assert_eq!(sent.len(), 3);
        assert_eq!(sent[0].comment, "chg_1 upgrade");
        assert_eq!(sent[0].instance_ids, on);
        assert_eq!(sent[0].commands, ids(&["ansible-playbook upgrade.yml"]));

        ssm.set_down(true);
        assert!(matches!(ssm.send(&on, &ids(&["true"]), "x").await, Err(RemoteError::Unavailable(_))));
    }
}
