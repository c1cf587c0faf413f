//! A rotation's secret steps. `generate`: a new version of the tenant's secret, its value made
//! where it is stored (the port never hands it out), labelled with the change request's id, so
//! a retried step finds it instead of making another. `promote`: that version labelled current;
//! the tenant's config `<kind>.password` then references the parameter (never the value).
//! The step's detail records the parameter and the version, nothing else.

use domain::lifecycle::{SecretAction, SecretPick, SecretUse, Step};
use domain::{ChangeRequestId, StepStatus};
use serde_json::json;

use super::{answer, planned, record, secret_version};
use crate::task::{StepDone, StepRef};
use crate::{Deps, TaskError};

pub async fn run(deps: &Deps, id: &ChangeRequestId, at: &StepRef) -> Result<serde_json::Value, TaskError> {
    let held = deps.changes.held(id).await?;
    let Step::Secret { name, secret, action } = planned(&held.cr, at)?.1 else {
        return Err(TaskError::Invalid("the task names no secret step".into()));
    };
    if held.cr.succeeded(&name) {
        return answer(&StepDone { done: true });
    }
    let parameter = secret.parameter(&deps.secrets_prefix, &held.tenant.id);
    let detail = match action {
        SecretAction::Generate => {
            let v = deps.secrets.generate(&parameter, held.cr.id.as_str()).await?;
            tracing::info!(change_request = %id, parameter = %v.parameter, version = v.version, "new secret version");
            json!({ "parameter": v.parameter, "version": v.version })
        }
        SecretAction::Promote => {
            let v = secret_version(deps, &held, &SecretUse { secret, pick: SecretPick::Generated }).await?;
            deps.secrets.label(&v, engine::secrets::CURRENT).await?;
            tracing::info!(change_request = %id, parameter = %v.parameter, version = v.version, "secret version promoted");
            let reference = format!("ssm:{}", v.parameter);
            let config = format!("{}.password", secret.as_str());
            json!({
                "parameter": v.parameter,
                "version": v.version,
                "label": engine::secrets::CURRENT,
                "report": { "configs": { config: { "secret_ref": reference } } },
            })
        }
    };
    record(deps, id, &name, StepStatus::Succeeded, Some(detail), None).await?;
    answer(&StepDone { done: true })
}
