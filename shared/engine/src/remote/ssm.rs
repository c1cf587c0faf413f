//! [`SsmCommands`]: the [`RemoteCommands`] port over SSM Run Command.

use async_trait::async_trait;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::{CommandFilter, CommandFilterKey, CommandInvocationStatus};

use super::{
    CommandStatus, RemoteCommands, RemoteError, check_playbook, check_secret_selector, fit_comment, truncate_chars,
};

/// SendCommand takes at most this many instance ids.
pub const MAX_INSTANCES: usize = 50;
/// How much of an instance's standard error a failure's detail keeps.
pub const STDERR_KEEP: usize = 500;
/// SendCommand's `TimeoutSeconds`: an instance that has not picked the command up by then never
/// runs it. SSM's least, so that nearly all of a step's time is the playbook's.
pub const DELIVERY_TIMEOUT_SECONDS: u64 = 30;
/// The most a document's `executionTimeout` may be (48 h).
const MAX_EXECUTION_SECONDS: u64 = 172_800;
/// ListCommands pages read by `find` at most (50 commands each, newest first).
const FIND_PAGES: usize = 20;

/// Run Command over SSM: `SendCommand` of the project's document (`TenantPlaybookDocument`,
/// whose name CloudFormation generates: the lifecycle function gets it as `SSM_DOCUMENT`).
///
/// - `send`: parameters `{"Playbook": [playbook], "executionTimeout": [e]}` with
///   `TimeoutSeconds` (delivery) [`DELIVERY_TIMEOUT_SECONDS`] and `e` = `timeout_seconds` less
///   that delivery window (at least 1 s, at most 48 h): a command delivered as late as SSM allows
///   still ends within its step's `timeout_seconds`.
/// - `status`: `GetCommandInvocation` per instance (not `ListCommandInvocations`, which the
///   local emulator cannot answer).
/// - `find`: `ListCommands` filtered by the document (AWS applies the filter; moto 5.2.5 ignores
///   it, hence the document is checked again here), matching the comment exactly. AWS lists
///   newest first, moto oldest first in one page: the newest match (by `RequestedDateTime`, the
///   later listed on a tie) of the pages read wins, and reading stops after the first page with
///   a match.
/// - `cancel`: `CancelCommand` on the instances whose invocation is not finished; none left is
///   `Ok(())` without a call (moto 5.2.5 has no CancelCommand, but finishes every command at once).
#[derive(Debug, Clone)]
pub struct SsmCommands {
    client: aws_sdk_ssm::Client,
    document: String,
}

impl SsmCommands {
    /// Commands of the SSM document `document_name` (a name, or its ARN for a shared one).
    pub fn new(client: aws_sdk_ssm::Client, document_name: impl Into<String>) -> Self {
        Self { client, document: document_name.into() }
    }

    /// The document every command runs.
    pub fn document_name(&self) -> &str {
        &self.document
    }

    /// Where the command is on each instance, in order.
    async fn invocations(&self, command_id: &str, instance_ids: &[String]) -> Result<Vec<Invocation>, RemoteError> {
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
        Ok(states)
    }

    /// The instances on which the command has not finished.
    async fn unfinished(&self, command_id: &str, instance_ids: &[String]) -> Result<Vec<String>, RemoteError> {
        let states = self.invocations(command_id, instance_ids).await?;
        Ok(instance_ids.iter().zip(states).filter(|(_, s)| *s == Invocation::Pending).map(|(i, _)| i.clone()).collect())
    }
}

/// `executionTimeout` for a step of `timeout_seconds`: what remains after the delivery window.
fn execution_seconds(timeout_seconds: u64) -> u64 {
    timeout_seconds.saturating_sub(DELIVERY_TIMEOUT_SECONDS).clamp(1, MAX_EXECUTION_SECONDS)
}

#[async_trait]
impl RemoteCommands for SsmCommands {
    async fn send_given(
        &self,
        instance_ids: &[String],
        playbook: &str,
        secret_version: Option<&str>,
        comment: &str,
        timeout_seconds: u64,
    ) -> Result<String, RemoteError> {
        if instance_ids.is_empty() {
            return Err(RemoteError::Refused("no instance to run the command on".into()));
        }
        if instance_ids.len() > MAX_INSTANCES {
            return Err(RemoteError::Refused(format!(
                "{} instances: SSM takes at most {MAX_INSTANCES} per command",
                instance_ids.len()
            )));
        }
        check_playbook(playbook)?;
        if let Some(selector) = secret_version {
            check_secret_selector(selector)?;
        }
        let execution = execution_seconds(timeout_seconds);
        tracing::info!(instances = ?instance_ids, playbook, secret_version, comment, execution, document = %self.document, "sending an ssm command");
        let mut send = self
            .client
            .send_command()
            .document_name(&self.document)
            .set_instance_ids(Some(instance_ids.to_vec()))
            .parameters("Playbook", vec![playbook.to_owned()])
            .parameters("executionTimeout", vec![execution.to_string()]);
        if let Some(selector) = secret_version {
            send = send.parameters("SecretVersion", vec![selector.to_owned()]);
        }
        let out = send
            .comment(fit_comment(comment))
            .timeout_seconds(DELIVERY_TIMEOUT_SECONDS as i32)
            .send()
            .await
            .map_err(sdk_error)?;
        out.command()
            .and_then(|c| c.command_id())
            .map(str::to_owned)
            .ok_or_else(|| RemoteError::Unavailable(anyhow::anyhow!("SendCommand answered no command id")))
    }

    async fn status(&self, command_id: &str, instance_ids: &[String]) -> Result<CommandStatus, RemoteError> {
        Ok(combine(self.invocations(command_id, instance_ids).await?))
    }

    async fn find(&self, comment: &str) -> Result<Option<String>, RemoteError> {
        let wanted = fit_comment(comment);
        let filter = CommandFilter::builder()
            .key(CommandFilterKey::DocumentName)
            .value(&self.document)
            .build()
            .map_err(|e| RemoteError::Unavailable(anyhow::anyhow!(e)))?;
        let mut pages = self.client.list_commands().filters(filter).max_results(50).into_paginator().send();
        let mut newest: Option<(Option<aws_sdk_ssm::primitives::DateTime>, String)> = None;
        let mut read = 0;
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error)?;
            read += 1;
            for c in page.commands() {
                let (Some(id), Some(c_comment)) = (c.command_id(), c.comment()) else { continue };
                if c_comment != wanted || c.document_name() != Some(self.document.as_str()) {
                    continue;
                }
                let at = c.requested_date_time().copied();
                if newest.as_ref().is_none_or(|(best, _)| at >= *best) {
                    newest = Some((at, id.to_owned()));
                }
            }
            if newest.is_some() {
                break;
            }
            if read >= FIND_PAGES {
                tracing::warn!(comment = %wanted, pages = read, "no command with this comment in the newest pages");
                break;
            }
        }
        Ok(newest.map(|(_, id)| id))
    }

    async fn cancel(&self, command_id: &str, instance_ids: &[String]) -> Result<(), RemoteError> {
        let unfinished = self.unfinished(command_id, instance_ids).await?;
        if unfinished.is_empty() {
            return Ok(());
        }
        tracing::info!(command_id, instances = ?unfinished, "cancelling an ssm command");
        let sent = self.client.cancel_command().command_id(command_id).set_instance_ids(Some(unfinished)).send().await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_command_id()) => {
                Err(RemoteError::Refused(format!("no command {command_id}")))
            }
            // It may have finished meanwhile: then there is nothing left to cancel.
            Err(e) => match self.unfinished(command_id, instance_ids).await {
                Ok(left) if left.is_empty() => Ok(()),
                _ => Err(sdk_error(e)),
            },
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }

    #[test]
    fn the_execution_timeout_leaves_room_for_delivery() {
        assert_eq!(execution_seconds(1800), 1770);
        assert_eq!(execution_seconds(120), 90);
        assert_eq!(execution_seconds(3), 1, "never 0 (SSM refuses it)");
        assert_eq!(execution_seconds(u64::MAX), MAX_EXECUTION_SECONDS);
        assert_eq!(execution_seconds(1800) + DELIVERY_TIMEOUT_SECONDS, 1800);
    }
}
