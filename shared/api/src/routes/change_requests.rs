//! Change requests: the only way a tenant's lifecycle moves. One at a time per tenant (the
//! tenant's `active_change_request_id`, claimed in the same transaction that creates the
//! request); destructive ones wait for a second admin; each runs as the Step Functions
//! execution named by its id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::lifecycle::{self, Refusal};
use domain::{
    ChangeModel, ChangeRequestId, ChangeRequestStatus, Operation, ReleaseStatus, ReleaseVersion, Role, Stamped, Tenant,
    TenantChangeRequest, TenantState, Text, WriteContext,
};
use serde::Deserialize;
use serde_json::json;
use store::layout;
use store::{Cond, Index, Query};
use utoipa::ToSchema;

use super::{ctx, path_param, releases, tenants};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::{IdempotencyKey, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

/// Parameters of an operation: `upgrade` takes `release`, `restore` takes `backup_id`; those
/// that have several change models take `change_model`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_model: Option<ChangeModel>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestCreate {
    pub operation: Operation,
    #[serde(default, deserialize_with = "object_only")]
    pub params: ChangeParams,
    /// Why (a ticket, an incident).
    #[serde(default)]
    pub reason: Option<Text>,
}

/// `params` must be a JSON object (serde would also take an array, by field position).
fn object_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ChangeParams, D::Error> {
    struct Object;
    impl<'de> serde::de::Visitor<'de> for Object {
        type Value = ChangeParams;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ChangeParams, A::Error> {
            ChangeParams::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(Object)
}

/// The workflow input of a change request: everything else the tasks read from the registry.
pub fn workflow_input(cr: &TenantChangeRequest) -> serde_json::Value {
    json!({
        "change_request_id": cr.id,
        "tenant_id": cr.tenant_id,
        "operation": cr.operation,
        "change_model": cr.change_model,
    })
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::NotFromState { .. } => ApiError::Conflict(r.to_string()),
        Refusal::ChangeModelNotAccepted { .. } => ApiError::invalid("params.change_model", r.to_string()),
        Refusal::CreationOnly { .. } => ApiError::invalid("operation", r.to_string()),
    }
}

async fn check_params(app: &App, tenant: &Tenant, op: Operation, p: &ChangeParams) -> Result<(), ApiError> {
    match (op, &p.release) {
        (Operation::Upgrade, None) => {
            return Err(ApiError::invalid("params.release", "upgrade needs the release to go to"));
        }
        (Operation::Upgrade, Some(v)) => {
            if v == &tenant.release {
                return Err(ApiError::invalid("params.release", format!("the tenant already runs {v}")));
            }
            let r = releases::load(app, v)
                .await
                .map_err(|_| ApiError::invalid("params.release", format!("no release {v}")))?;
            if r.status != ReleaseStatus::Available {
                return Err(ApiError::invalid("params.release", format!("release {v} is not available")));
            }
        }
        (_, Some(_)) => return Err(ApiError::invalid("params.release", format!("{op} takes no release"))),
        _ => {}
    }
    match (op, &p.backup_id) {
        (Operation::Restore, None) => Err(ApiError::invalid("params.backup_id", "restore needs the backup to restore")),
        (Operation::Restore, Some(b)) if b.is_empty() || b.len() > 128 => {
            Err(ApiError::invalid("params.backup_id", "must be 1-128 characters"))
        }
        (Operation::Restore, Some(_)) => Ok(()),
        (_, Some(_)) => Err(ApiError::invalid("params.backup_id", format!("{op} takes no backup_id"))),
        _ => Ok(()),
    }
}

/// Starts the execution of a change request already marked running; when Step Functions cannot
/// be reached, the request fails and releases its tenant (the state is left as it was, or set
/// to where a failure of this operation ends when the tenant was created for it).
pub(crate) async fn start_or_fail(
    app: &App,
    cr: &TenantChangeRequest,
    idempotency: Option<&store::Key>,
) -> Result<(), ApiError> {
    let err = match app.workflows.start(cr.id.as_str(), &workflow_input(cr)).await {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    tracing::error!(change_request = %cr.id, error = %err, "could not start the workflow");
    let tenant = tenants::load(app, &cr.tenant_id).await?;
    let now = Utc::now();
    let context = WriteContext {
        actor: domain::Actor::system("api"),
        source: domain::Source::Api,
        change_request_id: Some(cr.id.clone()),
        now,
    };
    let mut failed = cr.clone();
    failed.status = ChangeRequestStatus::Failed;
    failed.error = Some("the workflow could not be started; retry the change request".into());
    failed.stamp = cr.stamp().next(&context);
    let mut released = tenant.clone();
    released.active_change_request_id = None;
    // A tenant created for this change request ends where a failure of it ends (Broken).
    let created_for_it = matches!(cr.operation, Operation::Provision)
        || (cr.operation == Operation::Validate && cr.started_from == Some(TenantState::InTesting));
    if created_for_it {
        released.state = TenantState::Broken;
    }
    released.stamp = tenant.stamp().next(&context);
    let mut tx = Tx::new();
    tx.put(&failed, Cond::RevisionIs(cr.stamp.revision), ApiError::Unavailable)?;
    tx.put(&released, Cond::FieldIs("active_change_request_id".into(), json!(cr.id.as_str())), ApiError::Unavailable)?;
    if released.state != tenant.state {
        tenants::count_in_fleet(&mut tx, &[(tenant.state, &tenant.release, -1), (released.state, &tenant.release, 1)]);
    }
    // The answer kept for the Idempotency-Key said "running": forget it, so that the retry the
    // 503 asks for is a new request rather than a replay of that answer.
    if let Some(key) = idempotency {
        tx.push(store::WriteOp::Delete { key: key.clone(), cond: Cond::Always }, ApiError::Unavailable);
    }
    tx.commit(app).await?;
    Err(ApiError::Unavailable)
}

/// Request a lifecycle operation on a tenant. `202` with the change request, which is
/// `running` (its execution started) or `awaiting_approval` (`terminate`, `restore`).
#[utoipa::path(post, path = "/v1/tenants/{id}/change-requests", tag = "change requests", request_body = ChangeRequestCreate,
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 202, body = TenantChangeRequest), (status = 409, body = Problem, description = "not allowed in the tenant's state, or the tenant is busy"),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn create_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    idem: IdempotencyKey,
    body: JsonBody<ChangeRequestCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let tenant_id = tenants::parse_id(&id)?;
    let route = format!("POST /v1/tenants/{tenant_id}/change-requests");
    let idem = match Idempotency::begin(&app, &principal, idem, &route, &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let cmd = body.value;
    let tenant = tenants::load(&app, &tenant_id).await?;
    if let Some(active) = &tenant.active_change_request_id {
        return Err(ApiError::Conflict(format!(
            "tenant {tenant_id} is busy with change request {active}; one at a time"
        )));
    }
    let plan = lifecycle::plan(tenant.state, cmd.operation, cmd.params.change_model).map_err(refusal)?;
    check_params(&app, &tenant, cmd.operation, &cmd.params).await?;

    let ctx = ctx(&principal);
    let status = if plan.needs_approval { ChangeRequestStatus::AwaitingApproval } else { ChangeRequestStatus::Running };
    let params = serde_json::to_value(&cmd.params).unwrap_or_default();
    let mut cr = TenantChangeRequest::new(tenant_id.clone(), cmd.operation, params, status, &ctx);
    cr.change_model = plan.change_model;
    cr.started_from = Some(tenant.state);
    cr.reason = cmd.reason;
    if status == ChangeRequestStatus::Running {
        cr.execution_arn = Some(app.workflows.execution_arn(cr.id.as_str()));
    }
    let mut claimed = tenant.clone();
    claimed.active_change_request_id = Some(cr.id.clone());
    claimed.stamp = tenant.stamp.next(&WriteContext { change_request_id: Some(cr.id.clone()), ..ctx });

    let mut tx = Tx::new();
    tx.put(&cr, Cond::NotExists, ApiError::Conflict("id collision; retry".into()))?;
    tx.put(
        &claimed,
        Cond::RevisionIs(tenant.stamp.revision),
        ApiError::Conflict(format!("tenant {tenant_id} changed or was claimed meanwhile; read it again")),
    )?;
    let answer = Stored::record(StatusCode::ACCEPTED, &cr, Some(format!("/v1/change-requests/{}", cr.id)))?;
    let idem_key = idem.key().cloned();
    let response = idem.commit(&app, tx, answer).await?;
    if status == ChangeRequestStatus::Running && response.headers().get("idempotent-replayed").is_none() {
        start_or_fail(&app, &cr, idem_key.as_ref()).await?;
    }
    Ok(response)
}

async fn load(app: &App, raw: &str) -> Result<TenantChangeRequest, ApiError> {
    let id = path_param("id", raw, ChangeRequestId::parse)?;
    persist::load(app, &layout::change_request_key(&id), || format!("no change request {id}")).await
}

/// Ends a change request that never ran (rejected or cancelled) and releases its tenant.
async fn close_unstarted(
    app: &App,
    cr: TenantChangeRequest,
    status: ChangeRequestStatus,
    principal: &Principal,
) -> Result<Response, ApiError> {
    if !matches!(cr.status, ChangeRequestStatus::Pending | ChangeRequestStatus::AwaitingApproval) {
        return Err(ApiError::Conflict(
            format!("change request {} is {:?}; only one that has not started can be closed", cr.id, cr.status)
                .to_lowercase(),
        ));
    }
    let tenant = tenants::load(app, &cr.tenant_id).await?;
    let ctx = WriteContext { change_request_id: Some(cr.id.clone()), ..ctx(principal) };
    let mut closed = cr.clone();
    closed.status = status;
    closed.decided_by = Some(principal.actor.stamp());
    closed.decided_at = Some(ctx.now);
    closed.stamp = cr.stamp.next(&ctx);
    let mut tx = Tx::new();
    tx.put(
        &closed,
        Cond::RevisionIs(cr.stamp.revision),
        ApiError::Conflict("the change request changed meanwhile".into()),
    )?;
    if tenant.active_change_request_id.as_ref() == Some(&cr.id) {
        let mut released = tenant.clone();
        released.active_change_request_id = None;
        released.stamp = tenant.stamp.next(&ctx);
        tx.put(
            &released,
            Cond::RevisionIs(tenant.stamp.revision),
            ApiError::Conflict("the tenant changed meanwhile; retry".into()),
        )?;
    }
    tx.commit(app).await?;
    persist::ok(&closed)
}

/// A change request an admin other than its requester may now approve or reject.
async fn awaiting_decision(app: &App, principal: &Principal, id: &str) -> Result<TenantChangeRequest, ApiError> {
    principal.require(Role::Admin)?;
    let cr = load(app, id).await?;
    if cr.status != ChangeRequestStatus::AwaitingApproval {
        return Err(ApiError::Conflict(format!("change request {} does not await approval", cr.id)));
    }
    if domain::history::actor_sub(&cr.requested_by) == principal.actor.sub {
        return Err(ApiError::Forbidden(
            "a change request must be decided by an admin other than its requester (the requester may cancel it)"
                .into(),
        ));
    }
    Ok(cr)
}

/// Approve a change request that awaits approval; it starts at once. Admins only, and not the
/// admin who requested it.
#[utoipa::path(post, path = "/v1/change-requests/{id}/approve", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 202, body = TenantChangeRequest), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn approve_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cr = awaiting_decision(&app, &principal, &id).await?;
    let ctx = WriteContext { change_request_id: Some(cr.id.clone()), ..ctx(&principal) };
    let mut approved = cr.clone();
    approved.status = ChangeRequestStatus::Running;
    approved.decided_by = Some(principal.actor.stamp());
    approved.decided_at = Some(ctx.now);
    approved.execution_arn = Some(app.workflows.execution_arn(cr.id.as_str()));
    approved.stamp = cr.stamp.next(&ctx);
    let mut tx = Tx::new();
    tx.put(
        &approved,
        Cond::RevisionIs(cr.stamp.revision),
        ApiError::Conflict("the change request changed meanwhile".into()),
    )?;
    tx.commit(&app).await?;
    start_or_fail(&app, &approved, None).await?;
    Ok(Stored::record(StatusCode::ACCEPTED, &approved, None)?.into_response())
}

/// Reject a change request that awaits approval; its tenant is released. Admins only.
#[utoipa::path(post, path = "/v1/change-requests/{id}/reject", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn reject_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cr = awaiting_decision(&app, &principal, &id).await?;
    close_unstarted(&app, cr, ChangeRequestStatus::Rejected, &principal).await
}

/// Cancel a change request that has not started; its tenant is released. Its requester or an
/// admin.
#[utoipa::path(post, path = "/v1/change-requests/{id}/cancel", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cr = load(&app, &id).await?;
    if principal.role < Role::Admin && domain::history::actor_sub(&cr.requested_by) != principal.actor.sub {
        return Err(ApiError::Forbidden("only its requester or an admin may cancel a change request".into()));
    }
    close_unstarted(&app, cr, ChangeRequestStatus::Cancelled, &principal).await
}

/// A change request: its status, steps and the execution it runs as.
#[utoipa::path(get, path = "/v1/change-requests/{id}", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 404, body = Problem)))]
pub async fn get_change_request(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&load(&app, &id).await?)
}

/// The change requests of a tenant, newest first.
#[utoipa::path(get, path = "/v1/tenants/{id}/change-requests", tag = "change requests", params(("id" = String, Path), ListParams),
    responses((status = 200, body = ListResponse<TenantChangeRequest>), (status = 404, body = Problem)))]
pub async fn list_tenant_change_requests(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<TenantChangeRequest>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let q = Query::new(Some(Index::Gsi1), layout::change_requests_of_tenant(&id)).newest_first();
    Ok(axum::Json(persist::list_children(&app, q, &params, tenants::load(&app, &id)).await?))
}
