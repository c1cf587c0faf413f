//! What a task answers when it fails: an `errorType` the state machine matches. `Transient` is
//! retried; `BuildEnded` sends a wait straight to its poll; every other type ends the change
//! request failed.

use changes::ChangeError;
use engine::{JenkinsError, RemoteError};
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{0}")]
    Transient(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    JenkinsFailed(String),
    #[error("{0}")]
    CommandFailed(String),
    #[error("{0}")]
    HealthFailed(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Invalid(String),
    /// The build a wait is for had already ended: the workflow reads it at once.
    #[error("{0}")]
    BuildEnded(String),
    /// An admin rejected a gate, or asked for a rollback in a fallback window.
    #[error("{0}")]
    Rejected(String),
}

impl TaskError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Transient(_) => "Transient",
            Self::Conflict(_) => "Conflict",
            Self::JenkinsFailed(_) => "JenkinsFailed",
            Self::CommandFailed(_) => "CommandFailed",
            Self::HealthFailed(_) => "HealthFailed",
            Self::Timeout(_) => "Timeout",
            Self::Invalid(_) => "Invalid",
            Self::Rejected(_) => "Rejected",
            Self::BuildEnded(_) => "BuildEnded",
        }
    }
}

impl From<TaskError> for Diagnostic {
    fn from(e: TaskError) -> Self {
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}

impl From<ChangeError> for TaskError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Unavailable(m) => Self::Transient(m),
            ChangeError::Conflict(m) => Self::Conflict(m),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<engine::SecretError> for TaskError {
    fn from(e: engine::SecretError) -> Self {
        match e {
            engine::SecretError::Unavailable(_) => Self::Transient(e.to_string()),
            engine::SecretError::Refused(_) => Self::CommandFailed(e.to_string()),
        }
    }
}

impl From<store::StoreError> for TaskError {
    fn from(e: store::StoreError) -> Self {
        ChangeError::from(e).into()
    }
}

impl From<JenkinsError> for TaskError {
    fn from(e: JenkinsError) -> Self {
        match e {
            JenkinsError::Unavailable(_) => Self::Transient(e.to_string()),
            other => Self::JenkinsFailed(other.to_string()),
        }
    }
}

impl From<RemoteError> for TaskError {
    fn from(e: RemoteError) -> Self {
        match e {
            RemoteError::Unavailable(_) => Self::Transient(e.to_string()),
            other => Self::CommandFailed(other.to_string()),
        }
    }
}
