//! `POST /v1/callbacks/jenkins`: a Jenkins job says it ended. No bearer token: the body is
//! signed (HMAC-SHA256 with the key both sides read from SSM, over the timestamp, the nonce and
//! the body), fresh and never seen before, or it is a 401 and nothing changes. What it does is
//! the core's (`changes::callback`): wake the workflow waiting on the step, which then reads the
//! build from Jenkins itself.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use chrono::Utc;
use domain::callback::{
    CallbackOutcome, JenkinsCallback, NONCE_HEADER, SIGNATURE_HEADER, SignedHeaders, TIMESTAMP_HEADER,
};

use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::persist::App;

/// A job's completion callback: wakes the change request's workflow waiting on the step it
/// names, at once rather than at its next poll. The workflow reads the build's result from
/// Jenkins itself, so the `result` sent is only logged. The job signs
/// `<X-Portal-Timestamp>.<X-Portal-Nonce>.<body>` with HMAC-SHA256 under the shared key and
/// sends `X-Portal-Signature: sha256=<hex>`; a timestamp more than 300 s off, or a nonce used
/// before, is refused.
#[utoipa::path(post, path = "/v1/callbacks/jenkins", tag = "callbacks", security(()),
    params(
        ("X-Portal-Timestamp" = String, Header, description = "Unix seconds when the body was signed.", pattern = r"^[0-9]{1,12}$"),
        ("X-Portal-Nonce" = String, Header, description = "16 to 64 of `A-Z a-z 0-9 - _`, never used before.", pattern = r"^[A-Za-z0-9_-]{16,64}$"),
        ("X-Portal-Signature" = String, Header, description = "`sha256=` and the HMAC-SHA256 of `<timestamp>.<nonce>.<body>`, in hex.", pattern = r"^sha256=[0-9a-fA-F]{64}$"),
    ),
    request_body = JenkinsCallback,
    responses(
        (status = 200, body = CallbackOutcome, description = "Let in: the workflow waiting on the step, if any, is woken."),
        (status = 401, description = "Not proven: a header is missing, the signature does not match the body, the \
            timestamp is more than 300 s away, or the nonce was used before. Nothing changed."),
        (status = 503, description = "The callback key or a dependency did not answer; send it again with a new nonce."),
    ))]
pub async fn jenkins_callback(
    State(app): State<App>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<CallbackOutcome>, ApiError> {
    let body = body.map_err(|_| ApiError::PayloadTooLarge(MAX_BODY_BYTES))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signed = SignedHeaders {
        timestamp: header(TIMESTAMP_HEADER),
        nonce: header(NONCE_HEADER),
        signature: header(SIGNATURE_HEADER),
    };
    let outcome = app.changes.jenkins_callback(app.callback_key.as_ref(), &signed, &body, Utc::now()).await?;
    Ok(Json(outcome))
}
