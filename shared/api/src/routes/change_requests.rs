//! Change requests over HTTP: each route parses, calls the change-request core
//! (`shared/changes`) as the caller, and answers. The rules (the lifecycle table, the claim, who
//! decides, how a change ends) are the core's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use changes::ChangeCreate;
use domain::{ChangeParams, ChangeRequestId, Operation, TenantChangeRequest, Text};
use serde::Deserialize;
use store::layout;
use store::{Index, Query};
use utoipa::ToSchema;

use super::{path_param, tenants};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::{IdempotencyKey, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored};

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

/// Why an admin aborts a running change request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortRequest {
    /// Required: recorded on the change request with who aborted it.
    pub reason: Text,
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
    let caller = principal.caller();
    caller.require(domain::Role::Operator)?;
    let tenant_id = tenants::parse_id(&id)?;
    let route = format!("POST /v1/tenants/{tenant_id}/change-requests");
    let idem = match Idempotency::begin(&app, &principal, idem, &route, &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let cmd = body.value;
    let change = ChangeCreate { operation: cmd.operation, params: cmd.params, reason: cmd.reason };
    let prepared = app.changes.prepare(&tenant_id, change, &caller).await?;
    let cr = prepared.change_request();
    let answer = Stored::record(StatusCode::ACCEPTED, cr, Some(format!("/v1/change-requests/{}", cr.id)))?;
    idem.submit(&app, prepared, answer).await
}

fn parse_id(raw: &str) -> Result<ChangeRequestId, ApiError> {
    path_param("id", raw, ChangeRequestId::parse)
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
    let approved = app.changes.approve(&parse_id(&id)?, &principal.caller()).await?;
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
    persist::ok(&app.changes.reject(&parse_id(&id)?, &principal.caller()).await?)
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
    persist::ok(&app.changes.cancel(&parse_id(&id)?, &principal.caller()).await?)
}

/// Abort an active change request: its execution and the Jenkins build or SSM command it runs
/// are stopped, it ends `cancelled` with who aborted it and why, and the tenant goes where a
/// failure of the operation goes. Admins only; the reason is required.
#[utoipa::path(post, path = "/v1/change-requests/{id}/abort", tag = "change requests", request_body = AbortRequest,
    params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "the change request already ended"), (status = 422, body = Problem),
        (status = 503, body = Problem)))]
pub async fn abort_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonBody<AbortRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    persist::ok(&app.changes.abort(&id, &principal.caller(), body.value.reason).await?)
}

/// A change request: its status, steps and the execution it runs as.
#[utoipa::path(get, path = "/v1/change-requests/{id}", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 404, body = Problem)))]
pub async fn get_change_request(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&app.changes.change_request(&parse_id(&id)?).await?)
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
