//! AWS resources (ARNs) and the tenants that use them; one ARN may serve many tenants.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{ResourceCreate, ResourceId, ResourcePatch, Role, Tenant, TenantAwsResource, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::layout::{self, Record, collection};
use store::{Cond, Index, Query, WriteOp};
use utoipa::ToSchema;

use super::{ctx, path_param, tenants};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::pagination::{self, ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

fn parse_id(raw: &str) -> Result<ResourceId, ApiError> {
    path_param("id", raw, ResourceId::parse)
}

async fn load(app: &App, id: &ResourceId) -> Result<TenantAwsResource, ApiError> {
    persist::load(app, &layout::resource_key(id), || format!("no resource {id}")).await
}

/// Fails with 422 naming the first of `ids` that is not a tenant. Tenants are never deleted
/// (they end `EndOfLife`), so a tenant seen here still exists when the write lands.
async fn ensure_tenants_exist(app: &App, ids: &BTreeSet<TenantId>) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<_> = ids.iter().map(layout::tenant_key).collect();
    let found: BTreeSet<String> = app
        .table
        .batch_get(&keys)
        .await?
        .into_iter()
        .filter_map(|i| i.get("id").and_then(|v| v.as_str()).map(str::to_owned))
        .collect();
    match ids.iter().find(|id| !found.contains(id.as_str())) {
        Some(missing) => Err(ApiError::invalid("tenant_ids", format!("no tenant {missing}"))),
        None => Ok(()),
    }
}

fn link(tx: &mut Tx, r: &TenantAwsResource, tenant: &TenantId) {
    tx.push(WriteOp::put(layout::resource_link_item(tenant, &r.id, &r.arn), Cond::Always), ApiError::Internal);
}

fn unlink(tx: &mut Tx, r: &TenantAwsResource, tenant: &TenantId) {
    tx.push(WriteOp::Delete { key: layout::resource_link_key(tenant, &r.id), cond: Cond::Always }, ApiError::Internal);
}

/// Register an AWS resource and the tenants using it. An ARN is registered once.
#[utoipa::path(post, path = "/v1/resources", tag = "resources", request_body = ResourceCreate, params(IdempotencyKey),
    responses((status = 201, body = TenantAwsResource), (status = 409, description = "This ARN is already registered."),
        (status = 422, description = "A value is not acceptable, or a tenant of `tenant_ids` does not exist; `field` names it.")))]
pub async fn create_resource(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<ResourceCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/resources", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let resource = TenantAwsResource::create(body.value, &ctx(&principal))?;
    ensure_tenants_exist(&app, &resource.tenant_ids).await?;
    let mut tx = Tx::new();
    tx.put(&resource, Cond::NotExists, ApiError::Conflict("id collision; retry".into()))?;
    tx.push(
        WriteOp::put(layout::guard_item(layout::arn_guard(&resource.arn), resource.id.as_str()), Cond::NotExists),
        ApiError::Conflict(format!("{} is already registered", resource.arn)),
    );
    for t in &resource.tenant_ids {
        link(&mut tx, &resource, t);
    }
    let answer = Stored::record(StatusCode::CREATED, &resource, Some(format!("/v1/resources/{}", resource.id)))?;
    idem.commit(&app, tx, answer).await
}

/// List AWS resources.
#[utoipa::path(get, path = "/v1/resources", tag = "resources", params(ListParams),
    responses((status = 200, body = ListResponse<TenantAwsResource>)))]
pub async fn list_resources(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<TenantAwsResource>>, ApiError> {
    Ok(axum::Json(persist::list(&app, Query::new(Some(Index::Gsi1), collection::RESOURCES), &params).await?))
}

/// An AWS resource.
#[utoipa::path(get, path = "/v1/resources/{id}", tag = "resources", params(("id" = ResourceId, Path)),
    responses((status = 200, body = TenantAwsResource)))]
pub async fn get_resource(State(app): State<App>, _: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    persist::ok(&load(&app, &parse_id(&id)?).await?)
}

/// Change a resource's name, description or the set of tenants using it.
#[utoipa::path(patch, path = "/v1/resources/{id}", tag = "resources", request_body = ResourcePatch,
    params(("id" = ResourceId, Path), IfMatch), responses((status = 200, body = TenantAwsResource),
        (status = 422, description = "A value is not acceptable, or a tenant of `tenant_ids` does not exist; `field` names it.")))]
pub async fn patch_resource(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: JsonBody<ResourcePatch>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let current = load(&app, &parse_id(&id)?).await?;
    if_match.check(current.stamp.revision)?;
    let mut next = current.clone();
    body.value.apply_to(&mut next)?;
    let added: BTreeSet<TenantId> = next.tenant_ids.difference(&current.tenant_ids).cloned().collect();
    ensure_tenants_exist(&app, &added).await?;
    let mut tx = Tx::new();
    for t in &added {
        link(&mut tx, &next, t);
    }
    for t in current.tenant_ids.difference(&next.tenant_ids) {
        unlink(&mut tx, &next, t);
    }
    persist::write_changed(&app, &current, next, &principal, if_match, tx).await
}

/// Forget a resource (the AWS resource itself is not touched).
#[utoipa::path(delete, path = "/v1/resources/{id}", tag = "resources",
    params(("id" = ResourceId, Path), IfMatch), responses((status = 204, description = "Forgotten."),
        (status = 403, description = "Admins only.")))]
pub async fn delete_resource(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Admin)?;
    let current = load(&app, &parse_id(&id)?).await?;
    if_match.check(current.stamp.revision)?;
    // One transaction: the resource's tombstone, its ARN guard and every tenant link.
    let mut tx = Tx::new();
    persist::delete_record(&mut tx, &current, &ctx(&principal))?;
    tx.push(
        WriteOp::Delete {
            key: layout::arn_guard(&current.arn),
            cond: Cond::FieldIs("owner".into(), json!(current.id.as_str())),
        },
        ApiError::Internal,
    );
    for t in &current.tenant_ids {
        unlink(&mut tx, &current, t);
    }
    tx.commit(app.table.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant's use of a resource.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResourceLink {
    pub resource_id: ResourceId,
    pub tenant_id: TenantId,
    pub arn: String,
}

/// The AWS resources a tenant uses (one query).
#[utoipa::path(get, path = "/v1/tenants/{id}/resources", tag = "resources", params(("id" = TenantId, Path), ListParams),
    responses((status = 200, body = ListResponse<ResourceLink>)))]
pub async fn list_tenant_resources(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<ResourceLink>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let q = params.apply(Query::new(None, layout::tenant_partition(&id)).prefix(layout::RESOURCE_LINK_PREFIX))?;
    let (items, next_token) = pagination::fetch(app.table.as_ref(), &q).await?;
    persist::parent_exists_if_empty(items.is_empty(), params.next_token.is_none(), tenants::load(&app, &id)).await?;
    let items = items
        .into_iter()
        .map(|i| store::item::from_item(i).map_err(ApiError::from))
        .collect::<Result<Vec<ResourceLink>, _>>()?;
    Ok(axum::Json(ListResponse { items, next_token }))
}

/// The tenants using a resource (one query on the links, one batch read of the tenants).
#[utoipa::path(get, path = "/v1/resources/{id}/tenants", tag = "resources", params(("id" = ResourceId, Path), ListParams),
    responses((status = 200, body = ListResponse<Tenant>)))]
pub async fn list_resource_tenants(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<Tenant>>, ApiError> {
    let id = parse_id(&id)?;
    let q = params.apply(Query::new(Some(Index::Gsi2), layout::tenants_of_resource(&id)))?;
    let (links, next_token) = pagination::fetch(app.table.as_ref(), &q).await?;
    persist::parent_exists_if_empty(links.is_empty(), params.next_token.is_none(), load(&app, &id)).await?;
    let keys: Vec<_> = links
        .iter()
        .filter_map(|i| i.get("tenant_id").and_then(|v| v.as_str()))
        .filter_map(|t| TenantId::parse(t).ok())
        .map(|t| layout::tenant_key(&t))
        .collect();
    let mut items =
        app.table.batch_get(&keys).await?.into_iter().map(Tenant::from_item).collect::<Result<Vec<_>, _>>()?;
    items.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(axum::Json(ListResponse { items, next_token }))
}
