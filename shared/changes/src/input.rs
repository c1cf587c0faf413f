//! What a change request's execution starts with. Everything else the tasks read from the
//! registry (the plan stored at `begin`, the tenant), never from the payload.

use domain::{ChangeModel, ChangeRequestId, Operation, TenantChangeRequest, TenantId};
use serde::{Deserialize, Serialize};

/// The input of the lifecycle workflow's execution, named by the change request id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowInput {
    pub change_request_id: ChangeRequestId,
    pub tenant_id: TenantId,
    pub operation: Operation,
    #[serde(default)]
    pub change_model: Option<ChangeModel>,
}

impl WorkflowInput {
    pub fn of(cr: &TenantChangeRequest) -> Self {
        Self {
            change_request_id: cr.id.clone(),
            tenant_id: cr.tenant_id.clone(),
            operation: cr.operation,
            change_model: cr.change_model,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}
