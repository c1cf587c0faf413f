//! Tenant change requests: a requested change to a tenant and the steps of its execution.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{ChangeModel, ChangeRequestId, ChangeRequestStatus, Operation, TenantId, TenantState, values::Text};

/// One step of a change request's execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeStep {
    pub name: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A requested change to a tenant. It is itself a log, so it has no field change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantChangeRequest {
    pub id: ChangeRequestId,
    pub tenant_id: TenantId,
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_model: Option<ChangeModel>,
    /// The tenant's state when the change was requested (what "as started" resolves to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<TenantState>,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub status: ChangeRequestStatus,
    /// Why the change is made (ticket, incident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The Step Functions execution this change request runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default)]
    pub steps: Vec<ChangeStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl TenantChangeRequest {
    pub fn new(
        tenant_id: TenantId,
        operation: Operation,
        params: serde_json::Value,
        status: ChangeRequestStatus,
        ctx: &WriteContext,
    ) -> Self {
        let id = ChangeRequestId::generate();
        let ctx = WriteContext { change_request_id: Some(id.clone()), ..ctx.clone() };
        Self {
            id,
            tenant_id,
            operation,
            change_model: None,
            started_from: None,
            params,
            status,
            reason: None,
            requested_by: ctx.actor.stamp(),
            requested_at: ctx.now,
            decided_by: None,
            decided_at: None,
            execution_arn: None,
            steps: Vec::new(),
            error: None,
            stamp: Stamp::first(&ctx),
        }
    }
}

stamped!(TenantChangeRequest);
