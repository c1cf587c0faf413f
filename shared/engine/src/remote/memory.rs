//! [`MemoryCommands`]: the [`RemoteCommands`] port in memory, scripted per playbook, for unit
//! tests.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::{CommandStatus, RemoteCommands, RemoteError, check_playbook, fit_comment};

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
    pub playbook: String,
    /// As SSM keeps it (cut to 100 characters).
    pub comment: String,
    pub timeout_seconds: u64,
    /// The secret version selector the playbook was given, if any.
    pub secret_version: Option<String>,
}

/// What a cancelled command reports (as the SSM adapter reads a `Cancelled` invocation).
pub const CANCELLED: &str = "Cancelled";

/// SSM for unit tests. A sent command takes the script of the first [`script_matching`] rule
/// whose text occurs in its playbook, else the next one queued with [`script_next`], else
/// succeeds at the first `status`. Records every command sent and every cancel; `find` sees
/// every command sent (also those whose answer [`lose_send_answers`] lost); `cancel` fails a
/// command still running with [`CANCELLED`] and leaves a finished one as it ended.
///
/// [`script_matching`]: MemoryCommands::script_matching
/// [`script_next`]: MemoryCommands::script_next
/// [`lose_send_answers`]: MemoryCommands::lose_send_answers
#[derive(Default)]
pub struct MemoryCommands {
    state: Mutex<MemoryCommandsState>,
}

#[derive(Default)]
struct MemoryCommandsState {
    rules: Vec<(String, CommandScript)>,
    next: VecDeque<CommandScript>,
    down: bool,
    lost_send_answers: u32,
    sent: Vec<SentCommand>,
    running: HashMap<String, (CommandScript, u32)>,
    cancels: Vec<String>,
}

impl MemoryCommands {
    pub fn new() -> Self {
        Self::default()
    }

    /// Commands whose playbook contains `text` (e.g. `"maintenance-on"`) behave as `script`.
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

    /// The next `count` sends send their command, then answer [`RemoteError::Unavailable`] (the
    /// answer is lost on the way back): a caller that retries must `find` the command.
    pub fn lose_send_answers(&self, count: u32) {
        if let Ok(mut s) = self.state.lock() {
            s.lost_send_answers = count;
        }
    }

    /// Every command sent so far, in order.
    pub fn sent(&self) -> Vec<SentCommand> {
        self.state.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    /// The command id of every `cancel` call, in order (a no-op cancel of a finished one too).
    pub fn cancels(&self) -> Vec<String> {
        self.state.lock().map(|s| s.cancels.clone()).unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryCommandsState>, RemoteError> {
        let s = self.state.lock().map_err(|_| RemoteError::Unavailable(anyhow::anyhow!("memory ssm poisoned")))?;
        if s.down {
            return Err(RemoteError::Unavailable(anyhow::anyhow!("memory ssm is down")));
        }
        Ok(s)
    }
}

/// What `status` answers at poll `poll` of a command scripted `script`.
fn status_at(script: &CommandScript, poll: u32) -> CommandStatus {
    match &script.outcome {
        Some(_) if poll < script.running_polls => CommandStatus::Running,
        Some(Ok(())) => CommandStatus::Succeeded,
        Some(Err(detail)) => CommandStatus::Failed { detail: detail.clone() },
        None => CommandStatus::Running,
    }
}

#[async_trait]
impl RemoteCommands for MemoryCommands {
    async fn send_given(
        &self,
        instance_ids: &[String],
        playbook: &str,
        secret_version: Option<&str>,
        comment: &str,
        timeout_seconds: u64,
    ) -> Result<String, RemoteError> {
        let mut s = self.lock()?;
        if instance_ids.is_empty() {
            return Err(RemoteError::Refused("no instance to run the command on".into()));
        }
        check_playbook(playbook)?;
        if let Some(selector) = secret_version {
            super::check_secret_selector(selector)?;
        }
        let ruled = s.rules.iter().find(|(text, _)| playbook.contains(text.as_str())).map(|(_, r)| r.clone());
        let script = match ruled {
            Some(r) => r,
            None => s.next.pop_front().unwrap_or_else(CommandScript::succeed),
        };
        let command_id = format!("memory-command-{}", s.sent.len() + 1);
        s.sent.push(SentCommand {
            command_id: command_id.clone(),
            instance_ids: instance_ids.to_vec(),
            playbook: playbook.to_owned(),
            comment: fit_comment(comment),
            timeout_seconds,
            secret_version: secret_version.map(str::to_owned),
        });
        s.running.insert(command_id.clone(), (script, 0));
        if s.lost_send_answers > 0 {
            s.lost_send_answers -= 1;
            return Err(RemoteError::Unavailable(anyhow::anyhow!(
                "memory ssm sent {command_id} but the answer was lost"
            )));
        }
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
        Ok(status_at(script, poll))
    }

    async fn find(&self, comment: &str) -> Result<Option<String>, RemoteError> {
        let s = self.lock()?;
        let wanted = fit_comment(comment);
        Ok(s.sent.iter().rev().find(|c| c.comment == wanted).map(|c| c.command_id.clone()))
    }

    async fn cancel(&self, command_id: &str, _instance_ids: &[String]) -> Result<(), RemoteError> {
        let mut s = self.lock()?;
        s.cancels.push(command_id.to_owned());
        let Some((script, polls)) = s.running.get_mut(command_id) else {
            return Err(RemoteError::Refused(format!("no command {command_id}")));
        };
        if status_at(script, *polls) == CommandStatus::Running {
            *script = CommandScript::fail(CANCELLED);
            *polls = 0;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[tokio::test]
    async fn the_memory_fake_follows_its_scripts_and_records_what_was_sent() {
        let ssm = MemoryCommands::new();
        ssm.script_matching("maintenance-on", CommandScript::fail("i-1: ansible failed").running_for(1));
        ssm.script_next(CommandScript::run_forever());
        let on = ids(&["i-1", "i-2"]);

        let up = ssm.send(&on, "maintenance-on", "chg_1 enter_maintenance", 600).await.unwrap();
        let hang = ssm.send(&on, "suspend-access", "chg_2", 60).await.unwrap();
        let ok = ssm.send(&on, "restore-access", "chg_3", 60).await.unwrap();

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
        assert_eq!(sent[0].comment, "chg_1 enter_maintenance");
        assert_eq!(sent[0].instance_ids, on);
        assert_eq!((sent[0].playbook.as_str(), sent[0].timeout_seconds), ("maintenance-on", 600));

        assert!(matches!(ssm.send(&on, "rm -rf /", "x", 60).await, Err(RemoteError::Refused(_))));
        assert!(matches!(ssm.send(&[], "maintenance-on", "x", 60).await, Err(RemoteError::Refused(_))));
        assert_eq!(ssm.sent().len(), 3, "a refused command is not sent");
        ssm.set_down(true);
        assert!(matches!(ssm.send(&on, "maintenance-on", "x", 60).await, Err(RemoteError::Unavailable(_))));
    }

    #[tokio::test]
    async fn find_answers_the_latest_command_with_that_comment_as_ssm_keeps_it() {
        let ssm = MemoryCommands::new();
        let on = ids(&["i-1"]);
        let first = ssm.send(&on, "maintenance-on", "chg_1 ansible maintenance-on", 60).await.unwrap();
        ssm.send(&on, "maintenance-on", "chg_2 ansible maintenance-on", 60).await.unwrap();
        assert_eq!(ssm.find("chg_1 ansible maintenance-on").await.unwrap(), Some(first));
        assert_eq!(ssm.find("chg_1").await.unwrap(), None, "the whole comment, not a prefix");

        let again = ssm.send(&on, "maintenance-on", "chg_1 ansible maintenance-on", 60).await.unwrap();
        assert_eq!(ssm.find("chg_1 ansible maintenance-on").await.unwrap(), Some(again));

        let long = format!("chg_3 {}", "x".repeat(200));
        let cut = ssm.send(&on, "suspend-access", &long, 60).await.unwrap();
        assert_eq!(ssm.find(&long).await.unwrap(), Some(cut), "found by the comment as given");
    }

    #[tokio::test]
    async fn a_lost_send_answer_leaves_a_command_that_find_sees() {
        let ssm = MemoryCommands::new();
        ssm.lose_send_answers(1);
        let on = ids(&["i-1"]);
        let err = ssm.send(&on, "maintenance-off", "chg_1 ansible maintenance-off", 60).await.unwrap_err();
        assert!(matches!(&err, RemoteError::Unavailable(e) if e.to_string().contains("lost")), "{err:?}");
        let found = ssm.find("chg_1 ansible maintenance-off").await.unwrap().expect("the retry finds it");
        assert_eq!(found, ssm.sent()[0].command_id);
        assert_eq!(ssm.status(&found, &on).await.unwrap(), CommandStatus::Succeeded);
        ssm.send(&on, "maintenance-off", "chg_2", 60).await.expect("only one answer was to be lost");
    }

    #[tokio::test]
    async fn cancel_fails_a_running_command_and_leaves_a_finished_one() {
        let ssm = MemoryCommands::new();
        let on = ids(&["i-1"]);
        ssm.script_next(CommandScript::run_forever());
        let hung = ssm.send(&on, "rotate-webapp-password", "chg_1", 60).await.unwrap();
        let done = ssm.send(&on, "restore-access", "chg_2", 60).await.unwrap();
        assert_eq!(ssm.status(&hung, &on).await.unwrap(), CommandStatus::Running);
        assert_eq!(ssm.status(&done, &on).await.unwrap(), CommandStatus::Succeeded);

        ssm.cancel(&hung, &on).await.unwrap();
        ssm.cancel(&done, &on).await.expect("cancelling a finished command is fine");
        assert_eq!(ssm.status(&hung, &on).await.unwrap(), CommandStatus::Failed { detail: CANCELLED.into() });
        assert_eq!(ssm.status(&done, &on).await.unwrap(), CommandStatus::Succeeded, "it keeps its result");
        assert!(matches!(ssm.cancel("nope", &on).await, Err(RemoteError::Refused(_))));
        assert_eq!(ssm.cancels(), [hung, done, "nope".to_owned()]);
    }
}
