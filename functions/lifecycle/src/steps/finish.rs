//! `finish`: ends the change request through the core (where the tenant goes, the release and
//! components of an upgrade, the health run), and `release`, the failure path's own fallback.

use changes::Ending;
use domain::ChangeRequestId;
use serde_json::Value;

use super::{answer, workflow};
use crate::task::Outcome;
use crate::{Deps, TaskError};

/// The reason a Catch put in `$.error`: the error type and the message of the Lambda's
/// diagnostic, at most 1000 bytes, cut at a character boundary.
pub fn error_text(error: Option<&Value>) -> String {
    let Some(e) = error else { return "failed".into() };
    let kind = e.get("Error").and_then(Value::as_str).unwrap_or("Error");
    let cause = e.get("Cause").and_then(Value::as_str).unwrap_or_default();
    let message = serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|c| c.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned());
    let text = format!("{kind}: {message}");
    let mut end = text.len().min(1000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

pub async fn run(
    deps: &Deps,
    id: &ChangeRequestId,
    outcome: Outcome,
    error: Option<&Value>,
) -> Result<Value, TaskError> {
    let ending = match outcome {
        Outcome::Succeeded => Ending::Succeeded,
        Outcome::Failed => Ending::Failed { error: error_text(error) },
        Outcome::RolledBack => Ending::RolledBack { error: error_text(error) },
    };
    answer(&deps.changes.finish(id, &workflow(), ending).await?)
}

/// When `finish` with `failed` itself failed: the core's release of last resort (no plan
/// needed, conditional only on the claim), so the tenant is never left held.
pub async fn release(deps: &Deps, id: &ChangeRequestId, error: Option<&Value>) -> Result<Value, TaskError> {
    let why = format!("finishing failed, released by the fallback: {}", error_text(error));
    answer(&deps.changes.release_failed(id, &workflow(), &why).await?)
}
