//! Ansible playbooks on a tenant's EC2 instances, run through SSM Run Command and the project's
//! own SSM document (`TenantPlaybookDocument` in `infra/template.yaml`), which runs only the
//! playbooks it allow-lists.
//!
//! - this module: the port ([`RemoteCommands`]) and what crosses it.
//! - [`ssm`]: the SSM adapter ([`SsmCommands`]).
//! - [`memory`]: a scriptable in-memory fake for unit tests ([`MemoryCommands`]).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod memory;
pub mod ssm;

pub use memory::{CommandScript, MemoryCommands, SentCommand};
pub use ssm::{DELIVERY_TIMEOUT_SECONDS, MAX_INSTANCES, STDERR_KEEP, SsmCommands};

/// The playbooks the SSM document allows (its `Playbook` parameter's `allowedValues`; a test
/// keeps the template equal to this list). Both adapters refuse any other before sending.
pub const PLAYBOOKS: [&str; 9] = [
    "suspend-access",
    "restore-access",
    "public-access-off",
    "public-access-on",
    "maintenance-on",
    "maintenance-off",
    "rotate-webapp-password",
    "rotate-db-password",
    "rotate-airflow-password",
];

/// The most a secret version selector (`<parameter>:<version>`) may be: SSM's parameter name
/// limit and a version.
pub const MAX_SECRET_SELECTOR: usize = 1024;

/// `Ok` for a secret version selector the SSM document takes (`/<path>:<version>`, the
/// document's `SecretVersion` `allowedPattern`); never a value.
pub fn check_secret_selector(selector: &str) -> Result<(), RemoteError> {
    let ok = selector.len() <= MAX_SECRET_SELECTOR
        && selector.rsplit_once(':').is_some_and(|(name, version)| {
            name.starts_with('/')
                && name.len() > 1
                && name.chars().all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c))
                && !version.is_empty()
                && version.len() <= 6
                && version.chars().all(|c| c.is_ascii_digit())
        });
    if ok { Ok(()) } else { Err(RemoteError::Refused(format!("{selector:?} is not a secret version selector"))) }
}

/// SSM refuses a longer comment.
pub const MAX_COMMENT: usize = 100;

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
    /// Runs the allow-listed `playbook` through the project's own SSM document (its name is
    /// configuration of the adapter: `SsmCommands::new(client, document_name)`), with parameters
    /// `{"Playbook": [playbook]}` and an `executionTimeout` within `timeout_seconds` (the command
    /// can never outlive its step); `comment` identifies the step (cut to [`MAX_COMMENT`]
    /// characters). Answers the command id.
    async fn send(
        &self,
        instance_ids: &[String],
        playbook: &str,
        comment: &str,
        timeout_seconds: u64,
    ) -> Result<String, RemoteError> {
        self.send_given(instance_ids, playbook, None, comment, timeout_seconds).await
    }
    /// [`RemoteCommands::send`], giving the playbook the secret version `secret_version` (a
    /// selector `<parameter>:<version>`, the document's `SecretVersion`: the box reads the
    /// value itself).
    async fn send_given(
        &self,
        instance_ids: &[String],
        playbook: &str,
        secret_version: Option<&str>,
        comment: &str,
        timeout_seconds: u64,
    ) -> Result<String, RemoteError>;
    /// The combined status of the command on all its instances.
    async fn status(&self, command_id: &str, instance_ids: &[String]) -> Result<CommandStatus, RemoteError>;
    /// The command sent earlier with exactly this comment (as `send` cut it), if any
    /// (ListCommands, newest first).
    async fn find(&self, comment: &str) -> Result<Option<String>, RemoteError>;
    /// CancelCommand. One already finished is `Ok(())`.
    async fn cancel(&self, command_id: &str, instance_ids: &[String]) -> Result<(), RemoteError>;
}

/// `Ok` for a playbook of [`PLAYBOOKS`]; else why not (never sent: SSM would refuse it too).
pub fn check_playbook(playbook: &str) -> Result<(), RemoteError> {
    if PLAYBOOKS.contains(&playbook) {
        Ok(())
    } else {
        Err(RemoteError::Refused(format!("{playbook:?} is not a playbook the SSM document allows")))
    }
}

/// The comment as SSM keeps it: cut (with an ellipsis) to [`MAX_COMMENT`] characters.
pub fn fit_comment(comment: &str) -> String {
    if comment.chars().count() > MAX_COMMENT { truncate_chars(comment, MAX_COMMENT - 1) } else { comment.to_owned() }
}

/// The first `max` characters of `s`, with `…` when something was cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_selector_is_a_parameter_path_and_a_version_never_a_value() {
        assert!(check_secret_selector("/portal/tenants/ten_1/webapp-password:12").is_ok());
        for bad in ["", "webapp-password:1", "/p:", "/p:x", "/p:1234567", "/p q:1", "/p;rm -rf /:1", "/p", "hunter2"] {
            assert!(check_secret_selector(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn comments_are_cut_to_what_ssm_keeps() {
        assert_eq!(truncate_chars("héllo", 2), "hé…");
        assert_eq!(fit_comment(&"é".repeat(150)).chars().count(), 100);
        assert!(fit_comment(&"é".repeat(150)).ends_with("é…"));
        assert_eq!(fit_comment(&"x".repeat(100)), "x".repeat(100), "100 characters fit");
        assert_eq!(fit_comment("chg_1 upgrade"), "chg_1 upgrade");
    }

    #[test]
    fn only_the_documents_playbooks_pass() {
        for p in PLAYBOOKS {
            check_playbook(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        for bad in ["", "upgrade", "maintenance-on; rm -rf /", "../maintenance-on", "Maintenance-On"] {
            assert!(matches!(check_playbook(bad), Err(RemoteError::Refused(_))), "{bad:?}");
        }
    }
}
