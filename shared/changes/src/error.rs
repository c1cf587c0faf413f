//! What the change-request core answers when it refuses or cannot act: domain errors, with no
//! HTTP in them (`portal-api`'s `error.rs` is the one place they become problems).

use domain::FieldError;
use engine::WorkflowError;
use store::StoreError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChangeError {
    /// A value of the request is not acceptable; names its field (`params.release`...).
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    NotFound(String),
    /// Not in this state, busy with another change, or changed meanwhile.
    #[error("{0}")]
    Conflict(String),
    /// The caller may not do this (role, or the requester deciding their own request).
    #[error("{0}")]
    Forbidden(String),
    /// The sender is not proven (a callback's signature, clock or nonce).
    #[error("{0}")]
    Unauthenticated(String),
    /// The once-only guard of this create was taken: the same request was already made.
    #[error("this request was already made")]
    Duplicate,
    /// The store or the workflow service did not answer; safe to retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or a corrupt record: logged, never shown.
    #[error("internal: {0}")]
    Internal(String),
}

impl ChangeError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }
}

impl From<FieldError> for ChangeError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ChangeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed { .. } | StoreError::Conflict => {
                Self::Conflict("the record was changed concurrently; read it again and retry".into())
            }
            StoreError::Unavailable(err) => Self::Unavailable(format!("{err:#}")),
            StoreError::TooLarge(n) => {
                Self::invalid("", format!("this change needs {n} writes; at most 100 fit in one"))
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<WorkflowError> for ChangeError {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::Unavailable(_) => Self::Unavailable(e.to_string()),
            WorkflowError::NameTaken(_) => Self::Internal(e.to_string()),
        }
    }
}

impl From<domain::ChangeRefusal> for ChangeError {
    fn from(r: domain::ChangeRefusal) -> Self {
        use domain::ChangeRefusal as R;
        match r {
            R::DecidedByRequester | R::NotYours => Self::Forbidden(r.to_string()),
            _ => Self::Conflict(r.to_string()),
        }
    }
}
