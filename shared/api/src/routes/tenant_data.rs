//! A tenant's key/value configs and component versions: items in the tenant's partition.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::{
    ComponentName, ComponentPut, ComponentVersion, ConfigKey, ConfigPut, Role, Stamp, TenantConfig, TenantId,
    TenantState,
};
use serde::Serialize;
use serde_json::{Value, json};
use store::layout::{self, Record};
use store::{Cond, Key, Query, WriteOp};

use super::{ctx, path_param, tenants};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IfMatch, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Stored, Tx};

fn config_key(raw: &str) -> Result<ConfigKey, ApiError> {
    path_param("key", raw, ConfigKey::parse)
}

fn component_name(raw: &str) -> Result<ComponentName, ApiError> {
    path_param("name", raw, ComponentName::parse)
}

/// Lists one kind of item of a tenant's partition. One query; the tenant is looked up only when
/// the page is empty, to tell "none" from "no such tenant".
async fn list_tenant_items<R: Record + Serialize>(
    app: &App,
    tenant: &TenantId,
    prefix: &str,
    params: &ListParams,
) -> Result<ListResponse<R>, ApiError> {
    let q = Query::new(None, layout::tenant_partition(tenant)).prefix(prefix);
    persist::list_children(app, q, params, tenants::load(app, tenant)).await
}

/// Writes an item of a live tenant: created (201) or replaced (200), `If-Match` honoured, an
/// unchanged value written not at all.
async fn put_tenant_item<R: Record + Serialize + Clone>(
    app: &App,
    principal: &Principal,
    if_match: IfMatch,
    tenant: &TenantId,
    found: Found<R>,
    build: impl FnOnce(Stamp) -> R,
    unchanged: impl FnOnce(&R) -> bool,
) -> Result<Response, ApiError> {
    let (current, deleted) = match found {
        Found::Live(r) => (Some(r), None),
        Found::Deleted(revision) => (None, Some(revision)),
        Found::Nothing => (None, None),
    };
    if let Some(c) = &current {
        if_match.check(c.stamp().revision)?;
        if unchanged(c) {
            return persist::ok(c);
        }
    } else if if_match.given() {
        return Err(ApiError::PreconditionFailed { current: 0 });
    }
    let ctx = ctx(principal);
    let (stamp, cond, status) = match &current {
        Some(c) => (c.stamp().next(&ctx), Cond::RevisionIs(c.stamp().revision), StatusCode::OK),
        // A new record over a deleted one's tombstone continues its revisions.
        None => match deleted {
            Some(revision) => (
                Stamp { revision: revision + 1, ..Stamp::first(&ctx) },
                Cond::RevisionIs(revision),
                StatusCode::CREATED,
            ),
            None => (Stamp::first(&ctx), Cond::NotExists, StatusCode::CREATED),
        },
    };
    let lost_race = match &current {
        Some(c) if if_match.given() => ApiError::PreconditionFailed { current: c.stamp().revision + 1 },
        _ => ApiError::Conflict("changed concurrently; read it again and retry".into()),
    };
    let record = build(stamp);
    let mut tx = Tx::new();
    tx.put(&record, cond, lost_race)?;
    tx.push(
        WriteOp::Check {
            key: layout::tenant_key(tenant),
            cond: Cond::FieldIsNot("state".into(), json!(TenantState::EndOfLife.as_str())),
        },
        ApiError::Conflict(format!("tenant {tenant} does not exist or is EndOfLife")),
    );
    tx.commit(app.table.as_ref()).await?;
    Ok(Stored::record(status, &record, None)?.into_response())
}

/// What a tenant's partition holds under a key.
enum Found<R> {
    Live(R),
    /// A deleted record's tombstone, at its revision: a new record continues from it, so no
    /// `ETag` of the deleted record can match the new one.
    Deleted(u64),
    Nothing,
}

/// An item of a tenant's partition and the tenant, in one read: 404 when there is no tenant,
/// 409 when it has reached the end of its life.
async fn find_item<R: Record>(app: &App, tenant: &TenantId, key: &Key) -> Result<Found<R>, ApiError> {
    let tenant_key = layout::tenant_key(tenant);
    let items = app.table.batch_get(&[tenant_key.clone(), key.clone()]).await?;
    let of = |k: &Key| items.iter().find(|i| Key::of(i).as_ref() == Some(k)).cloned();
    let t = of(&tenant_key).ok_or_else(|| ApiError::NotFound(format!("no tenant {tenant}")))?;
    if t.get("state").and_then(|s| s.as_str()) == Some(TenantState::EndOfLife.as_str()) {
        return Err(ApiError::Conflict(format!("tenant {tenant} is EndOfLife: its configs and components are frozen")));
    }
    Ok(match of(key) {
        Some(item) if persist::live(&item) => Found::Live(R::from_item(item)?),
        Some(tombstone) => Found::Deleted(tombstone.get("revision").and_then(Value::as_u64).unwrap_or(0)),
        None => Found::Nothing,
    })
}

/// The configs of a tenant. Secrets show as their reference only.
#[utoipa::path(get, path = "/v1/tenants/{id}/configs", tag = "configs", params(("id" = TenantId, Path), ListParams),
    responses((status = 200, body = ListResponse<TenantConfig>)))]
pub async fn list_configs(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<TenantConfig>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    Ok(axum::Json(list_tenant_items(&app, &id, layout::CONFIG_PREFIX, &params).await?))
}

/// One config of a tenant.
#[utoipa::path(get, path = "/v1/tenants/{id}/configs/{key}", tag = "configs",
    params(("id" = TenantId, Path), ("key" = ConfigKey, Path)), responses((status = 200, body = TenantConfig)))]
pub async fn get_config(
    State(app): State<App>,
    _: Principal,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, key) = (tenants::parse_id(&id)?, config_key(&key)?);
    let config: TenantConfig =
        persist::load(&app, &layout::config_key(&id, &key), || format!("tenant {id} has no config {key}")).await?;
    persist::ok(&config)
}

/// Set a config: `{"value": ...}` for a plain value, `{"secret_ref": "ssm:/..."}` for a secret.
/// A key that names a secret (`password`, `pwd`, `secret`, `token`, `api_key`, `dsn`..., in any case
/// or separator: `smtp.pwd`, `apiKey`) only takes a reference.
#[utoipa::path(put, path = "/v1/tenants/{id}/configs/{key}", tag = "configs", request_body = ConfigPut,
    params(("id" = TenantId, Path), ("key" = ConfigKey, Path), IfMatch),
    responses((status = 200, body = TenantConfig, description = "Replaced (or unchanged)."),
        (status = 201, body = TenantConfig, description = "Created."),
        (status = 409, description = "The tenant is EndOfLife (its configs are frozen), or the write lost a race."),
        (status = 422, description = "A value is not acceptable, or the key names a secret and the body sends a `value` \
            (a secret is stored only as `secret_ref`); `field` names it.")))]
pub async fn put_config(
    State(app): State<App>,
    principal: Principal,
    Path((id, key)): Path<(String, String)>,
    if_match: IfMatch,
    body: JsonBody<ConfigPut>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let (id, key) = (tenants::parse_id(&id)?, config_key(&key)?);
    let value = body.value.parse_for(&key)?;
    let current: Found<TenantConfig> = find_item(&app, &id, &layout::config_key(&id, &key)).await?;
    let (tid, k, v) = (id.clone(), key.clone(), value.clone());
    put_tenant_item(
        &app,
        &principal,
        if_match,
        &id,
        current,
        move |stamp| TenantConfig::new(tid, k, v, stamp),
        |c| c.holds(&value),
    )
    .await
}

/// Remove a config.
#[utoipa::path(delete, path = "/v1/tenants/{id}/configs/{key}", tag = "configs",
    params(("id" = TenantId, Path), ("key" = ConfigKey, Path), IfMatch), responses((status = 204, description = "Removed.")))]
pub async fn delete_config(
    State(app): State<App>,
    principal: Principal,
    Path((id, key)): Path<(String, String)>,
    if_match: IfMatch,
) -> Result<StatusCode, ApiError> {
    principal.require(Role::Operator)?;
    let (id, key) = (tenants::parse_id(&id)?, config_key(&key)?);
    let current: TenantConfig =
        persist::load(&app, &layout::config_key(&id, &key), || format!("tenant {id} has no config {key}")).await?;
    if_match.check(current.stamp.revision)?;
    let mut tx = Tx::new();
    persist::delete_record(&mut tx, &current, &ctx(&principal))?;
    tx.commit(app.table.as_ref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The component versions running in a tenant.
#[utoipa::path(get, path = "/v1/tenants/{id}/components", tag = "components", params(("id" = TenantId, Path), ListParams),
    responses((status = 200, body = ListResponse<ComponentVersion>)))]
pub async fn list_components(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<ComponentVersion>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    Ok(axum::Json(list_tenant_items(&app, &id, layout::COMPONENT_PREFIX, &params).await?))
}

/// One component version of a tenant.
#[utoipa::path(get, path = "/v1/tenants/{id}/components/{name}", tag = "components",
    params(("id" = TenantId, Path), ("name" = ComponentName, Path)), responses((status = 200, body = ComponentVersion)))]
pub async fn get_component(
    State(app): State<App>,
    _: Principal,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (id, name) = (tenants::parse_id(&id)?, component_name(&name)?);
    let c: ComponentVersion =
        persist::load(&app, &layout::component_key(&id, &name), || format!("tenant {id} has no component {name}"))
            .await?;
    persist::ok(&c)
}

/// Record the version of a component in a tenant (e.g. a hotfix, or what a poll of the tenant
/// found).
#[utoipa::path(put, path = "/v1/tenants/{id}/components/{name}", tag = "components", request_body = ComponentPut,
    params(("id" = TenantId, Path), ("name" = ComponentName, Path), IfMatch),
    responses((status = 200, body = ComponentVersion, description = "Replaced (or unchanged)."),
        (status = 201, body = ComponentVersion, description = "Created."),
        (status = 409, description = "The tenant is EndOfLife (its components are frozen), or the write lost a race.")))]
pub async fn put_component(
    State(app): State<App>,
    principal: Principal,
    Path((id, name)): Path<(String, String)>,
    if_match: IfMatch,
    body: JsonBody<ComponentPut>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let (id, name) = (tenants::parse_id(&id)?, component_name(&name)?);
    let current: Found<ComponentVersion> = find_item(&app, &id, &layout::component_key(&id, &name)).await?;
    let version = body.value.version;
    let (tid, n, v) = (id.clone(), name.clone(), version.clone());
    put_tenant_item(
        &app,
        &principal,
        if_match,
        &id,
        current,
        move |stamp| ComponentVersion { tenant_id: tid, name: n, version: v, stamp },
        |c| c.version == version,
    )
    .await
}

/// The health-baseline runs of a tenant, newest first: each suite's result and the build that
/// ran it.
#[utoipa::path(get, path = "/v1/tenants/{id}/health-runs", tag = "health", params(("id" = TenantId, Path), ListParams),
    responses((status = 200, body = ListResponse<domain::HealthRun>)))]
pub async fn list_health_runs(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<domain::HealthRun>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let q = Query::new(None, layout::tenant_partition(&id)).prefix(layout::HEALTH_PREFIX).newest_first();
    Ok(axum::Json(persist::list_children(&app, q, &params, tenants::load(&app, &id)).await?))
}
