//! The alarm handler: EventBridge's `CloudWatch Alarm State Change` → the tenants the alarm is
//! about → for each one `Healthy` or `InTesting`, a `mark_broken` change request created by the
//! change-request core, with actor `alarm:<alarm name>` and the alarm's evidence (name, ARN,
//! state, reason, metric, time) in its params.
//!
//! - The tenants: those the alarm names (a standard alarm's name `portal-<tenant id>-<kind>`,
//!   a `TenantId` dimension) and those using a registered resource whose ARN is the alarm's, or
//!   one its metrics' dimensions name (an EC2 instance, an RDS instance or cluster).
//! - An alarm about nothing the registry knows changes nothing and is logged.
//! - `OK` (and `INSUFFICIENT_DATA`) is logged with the tenants it is about, and heals nothing:
//!   a `validate` does.
//! - Once per state change and tenant (the core's once-only guard, keyed by the change's
//!   timestamp): a redelivered event creates nothing new.
//!
//! Locally CloudWatch never evaluates an alarm: `make alarm` and the tests deliver the same
//! event to this handler (`shared/devstack/src/alarm_events.rs`).

pub mod event;

use std::collections::BTreeSet;

use changes::{Caller, ChangeCreate, ChangeError, Changes};
use domain::lifecycle::alarm_fires;
use domain::{ChangeParams, Operation, Source, TenantId, Text};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::{Value, json};

pub use event::{ALARM_STATE_CHANGE, AlarmDetail, Event};

pub struct Deps {
    pub changes: Changes,
}

#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<ChangeError> for AlarmError {
    fn from(e: ChangeError) -> Self {
        match e {
            ChangeError::Unavailable(m) | ChangeError::Conflict(m) => Self::Unavailable(m),
            other => Self::Invalid(other.to_string()),
        }
    }
}

impl From<AlarmError> for Diagnostic {
    fn from(e: AlarmError) -> Self {
        let error_type = match e {
            AlarmError::Unavailable(_) => "Unavailable",
            AlarmError::Invalid(_) => "Invalid",
        };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// What the alarm did to one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// A `mark_broken` change request was created.
    Broken { tenant_id: TenantId, change_request_id: String },
    /// The tenant's state is not one an alarm breaks (work in progress, suspended, broken).
    Unchanged { tenant_id: TenantId, state: String },
    /// Another change request holds the tenant; the alarm is logged, not acted on.
    Busy { tenant_id: TenantId, change_request_id: String },
    /// This state change was acted on already (a redelivery).
    AlreadyActedOn { tenant_id: TenantId },
    /// `OK` or `INSUFFICIENT_DATA`: recorded in the log, nothing healed.
    Recorded { tenant_id: TenantId, state: String },
}

/// The Lambda handler. An error makes EventBridge (Lambda's async retries) deliver the event
/// again; acting on it is idempotent.
pub async fn handle(deps: &Deps, event: LambdaEvent<Value>) -> Result<Value, AlarmError> {
    let event: Event =
        serde_json::from_value(event.payload).map_err(|e| AlarmError::Invalid(format!("not an event: {e}")))?;
    run(deps, event).await
}

pub async fn run(deps: &Deps, event: Event) -> Result<Value, AlarmError> {
    if event.detail_type != ALARM_STATE_CHANGE {
        tracing::info!(detail_type = %event.detail_type, "an event the alarm handler does not handle; ignored");
        return Ok(json!({ "result": "ignored" }));
    }
    let detail: AlarmDetail = serde_json::from_value(event.detail.clone())
        .map_err(|e| AlarmError::Invalid(format!("not an alarm state change: {e}")))?;
    let evidence = detail.evidence(&event);
    let tenants = tenants_of(deps, &detail, &event).await?;
    if tenants.is_empty() {
        tracing::warn!(
            alarm = %detail.alarm_name, state = %evidence.state, resources = ?event.resources,
            metric = ?evidence.metric, "an alarm about no tenant or registered resource; nothing changed"
        );
        return Ok(json!({ "result": "unknown_resource", "alarm": detail.alarm_name }));
    }
    let mut outcomes = Vec::with_capacity(tenants.len());
    for tenant_id in tenants {
        let outcome = act(deps, &detail, &evidence, tenant_id).await?;
        tracing::info!(alarm = %detail.alarm_name, state = %evidence.state, reason = %evidence.reason, ?outcome, "alarm state change");
        outcomes.push(outcome);
    }
    Ok(json!({ "result": "handled", "alarm": detail.alarm_name, "tenants": outcomes }))
}

/// The tenants the alarm is about, each once, that exist.
async fn tenants_of(deps: &Deps, detail: &AlarmDetail, event: &Event) -> Result<BTreeSet<TenantId>, AlarmError> {
    let mut ids: BTreeSet<TenantId> = detail.named_tenants().into_iter().collect();
    for arn in detail.arns(event) {
        ids.extend(deps.changes.tenants_of_arn(&arn).await?);
    }
    let mut known = BTreeSet::new();
    for id in ids {
        if deps.changes.tenant_if_any(&id).await?.is_some() {
            known.insert(id);
        }
    }
    Ok(known)
}

async fn act(
    deps: &Deps,
    detail: &AlarmDetail,
    evidence: &domain::AlarmEvidence,
    tenant_id: TenantId,
) -> Result<Outcome, AlarmError> {
    let tenant = deps.changes.tenant(&tenant_id).await?;
    if evidence.state != "ALARM" {
        return Ok(Outcome::Recorded { tenant_id, state: evidence.state.clone() });
    }
    if alarm_fires(tenant.state).is_none() {
        return Ok(Outcome::Unchanged { tenant_id, state: tenant.state.to_string() });
    }
    if let Some(active) = tenant.active_change_request_id {
        tracing::warn!(tenant = %tenant_id, change_request = %active, alarm = %detail.alarm_name,
            "an alarm fired on a tenant another change request holds; not marked broken");
        return Ok(Outcome::Busy { tenant_id, change_request_id: active.to_string() });
    }
    let caller = Caller::system(&format!("alarm:{}", detail.alarm_name), Source::Alarm);
    let cmd = ChangeCreate {
        operation: Operation::MarkBroken,
        params: ChangeParams { alarm: Some(evidence.clone()), ..Default::default() },
        reason: Text::parse(&format!("CloudWatch alarm {} is ALARM", detail.alarm_name)).ok(),
    };
    let once = changes::once::guard(&caller, &format!("{}@{}#{tenant_id}", evidence.state, evidence.at.to_rfc3339()));
    match deps.changes.create(&tenant_id, cmd, &caller, Some(once)).await {
        Ok(cr) => Ok(Outcome::Broken { tenant_id, change_request_id: cr.id.to_string() }),
        Err(ChangeError::Duplicate) => Ok(Outcome::AlreadyActedOn { tenant_id }),
        // Claimed or moved between the read and the claim: read again and say what it is now.
        Err(ChangeError::Conflict(_)) => {
            let now = deps.changes.tenant(&tenant_id).await?;
            Ok(match now.active_change_request_id {
                Some(active) => Outcome::Busy { tenant_id, change_request_id: active.to_string() },
                None => Outcome::Unchanged { tenant_id, state: now.state.to_string() },
            })
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
