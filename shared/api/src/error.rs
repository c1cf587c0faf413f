//! The one place errors become HTTP: `application/problem+json` (RFC 9457) with the field at
//! fault where there is one. Internal detail is logged, never sent.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use serde::Serialize;
use store::StoreError;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem details body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status, repeated.
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    pub detail: String,
    /// The request field at fault (`name`, `components.webapp`, `limit`, `If-Match`...), when there
    /// is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read: malformed JSON, a bad query string or header.
    #[error("{detail}")]
    BadRequest { field: Option<String>, detail: String },
    /// The request was read but a value is not acceptable.
    #[error("{0}")]
    Invalid(FieldError),
    #[error("authentication required")]
    Unauthenticated(String),
    #[error("forbidden")]
    Forbidden(String),
    #[error("not found")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict")]
    Conflict(String),
    /// `If-Match` did not match the record's current version.
    #[error("precondition failed")]
    PreconditionFailed { current: u64 },
    #[error("payload too large")]
    PayloadTooLarge(usize),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The store (or another dependency) is unreachable; safe to retry.
    #[error("unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid(FieldError::new(field, message))
    }

    pub fn bad_request(field: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest { field: Some(field.to_owned()), detail: detail.into() }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn problem(&self) -> Problem {
        let (slug, title, detail, field) = match self {
            Self::BadRequest { field, detail } => ("bad-request", "Malformed request", detail.clone(), field.clone()),
            Self::Invalid(e) => {
                ("validation", "Invalid value", e.to_string(), Some(e.field.clone()).filter(|f| !f.is_empty()))
            }
            Self::Unauthenticated(why) => ("unauthenticated", "Authentication required", why.clone(), None),
            Self::Forbidden(why) => ("forbidden", "Not allowed for your role", why.clone(), None),
            Self::NotFound(what) => ("not-found", "Not found", what.clone(), None),
            Self::MethodNotAllowed => {
                ("method-not-allowed", "Method not allowed", "this route does not take this method".into(), None)
            }
            Self::Conflict(why) => ("conflict", "Conflict", why.clone(), None),
            Self::PreconditionFailed { current } => (
                "precondition-failed",
                "The record changed since you read it",
                format!("If-Match does not match the current version (ETag \"{current}\"); read it again and retry"),
                Some("If-Match".into()),
            ),
            Self::PayloadTooLarge(max) => {
                ("payload-too-large", "Request body too large", format!("the body must be at most {max} bytes"), None)
            }
            Self::UnsupportedMediaType => (
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json".into(),
                Some("Content-Type".into()),
            ),
            Self::Unavailable => {
                ("unavailable", "Temporarily unavailable", "a dependency did not answer; retry shortly".into(), None)
            }
            Self::Internal => {
                ("internal", "Internal error", "the request failed unexpectedly; it has been logged".into(), None)
            }
        };
        Problem {
            kind: format!("https://admin-portal.invalid/problems/{slug}"),
            title: title.into(),
            status: self.status().as_u16(),
            detail,
            field,
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::ConditionFailed { .. } | StoreError::Conflict => {
                Self::Conflict("the record was changed concurrently; read it again and retry".into())
            }
            StoreError::TooLarge(n) => {
                Self::invalid("", format!("this change needs {n} writes; at most 100 fit in one"))
            }
            StoreError::Unavailable(err) => {
                tracing::error!(error = %format!("{err:#}"), "store unavailable");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::Internal
            }
        }
    }
}

impl From<changes::ChangeError> for ApiError {
    fn from(e: changes::ChangeError) -> Self {
        use changes::ChangeError as C;
        match e {
            C::Invalid(f) => Self::Invalid(f),
            C::NotFound(what) => Self::NotFound(what),
            C::Conflict(why) => Self::Conflict(why),
            C::Forbidden(why) => Self::Forbidden(why),
            C::Unauthenticated(why) => Self::Unauthenticated(why),
            // A guard the API did not give cannot be taken: the idempotent routes replay first.
            C::Duplicate => Self::Conflict("this request was already made; read the change request".into()),
            C::Unavailable(why) => {
                tracing::error!(error = %why, "a dependency of the change-request core is unavailable");
                Self::Unavailable
            }
            C::Internal(why) => {
                tracing::error!(error = %why, "change-request core error");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Self::Unauthenticated(_) = self {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_problems_name_their_field() {
        let p = ApiError::invalid("components.webapp", "must match ...").problem();
        assert_eq!(p.status, 422);
        assert_eq!(p.field.as_deref(), Some("components.webapp"));
        assert!(p.detail.starts_with("components.webapp:"));
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let e: ApiError = StoreError::Unavailable(anyhow::anyhow!("secret connection string")).into();
        assert_eq!(e, ApiError::Unavailable);
        assert!(!e.problem().detail.contains("secret"));
    }
}
