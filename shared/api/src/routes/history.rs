//! The field change log: who changed what, when, and as part of which change request.

use axum::extract::{Path, State};
use chrono::DateTime;
use domain::history::{ChangeEntry, timestamp};
use serde::Deserialize;
use serde_json::json;
use store::{Query, history};
use utoipa::IntoParams;

use super::tenants;
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App};

fn instant(field: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s).map(|t| timestamp(t.to_utc())).map_err(|_| {
            ApiError::bad_request(field, format!("`{field}` must be an RFC 3339 time such as 2026-11-30T06:00:00Z"))
        })
    })
    .transpose()
}

/// One page of entries for `query`, newest first.
async fn page(
    app: &App,
    query: Query,
    limit: Option<u32>,
    next_token: Option<String>,
) -> Result<ListResponse<ChangeEntry>, ApiError> {
    let params = ListParams { limit, next_token };
    let query = params.apply(query)?;
    let page = app.history.query(&query).await?;
    let items = page.items.into_iter().map(store::item::from_item).collect::<Result<Vec<ChangeEntry>, _>>()?;
    Ok(ListResponse { items, next_token: store::cursor::encode(page.last_key.as_ref()) })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantHistoryParams {
    /// Only changes of this field (`state`, `release`, `value`...).
    pub field: Option<String>,
    /// Only changes made by this actor (`sub`).
    pub actor: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub since: Option<String>,
    /// Up to this time (RFC 3339), inclusive.
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub next_token: Option<String>,
}

/// Field changes of a tenant and its configs and components, newest first.
#[utoipa::path(get, path = "/v1/tenants/{id}/history", tag = "history", params(("id" = String, Path), TenantHistoryParams),
    responses((status = 200, body = ListResponse<ChangeEntry>), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn tenant_history(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<TenantHistoryParams>,
) -> Result<axum::Json<ListResponse<ChangeEntry>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let (since, until) = (instant("since", p.since.as_deref())?, instant("until", p.until.as_deref())?);
    let mut q = history::within(history::by_tenant(id.as_str()), since.as_deref(), until.as_deref());
    if let Some(f) = &p.field {
        q = q.filter("field", json!(f));
    }
    if let Some(a) = &p.actor {
        q = q.filter("actor_sub", json!(a));
    }
    let first_page = p.next_token.is_none();
    let result = page(&app, q, p.limit, p.next_token).await?;
    persist::parent_exists_if_empty(result.items.is_empty(), first_page, tenants::load(&app, &id)).await?;
    Ok(axum::Json(result))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only this kind of record: `customer`, `license`, `license_assignment`, `release`,
    /// `component_version`, `tenant`, `tenant_config`.
    pub entity: Option<String>,
    /// With `entity`: only this record (`cus_...`, `3.1.0`, `ten_.../smtp.host`).
    pub entity_id: Option<String>,
    /// Only changes made by this actor (`sub`).
    pub actor: Option<String>,
    /// Only changes made by this change request.
    pub change_request_id: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<u32>,
    pub next_token: Option<String>,
}

/// Field changes across the fleet, newest first.
#[utoipa::path(get, path = "/v1/history", tag = "history", params(HistoryParams),
    responses((status = 200, body = ListResponse<ChangeEntry>), (status = 400, body = Problem)))]
pub async fn fleet_history(
    State(app): State<App>,
    _: Principal,
    QueryParams(p): QueryParams<HistoryParams>,
) -> Result<axum::Json<ListResponse<ChangeEntry>>, ApiError> {
    if let Some(e) = &p.entity
        && !domain::history::LOGGED_KINDS.contains(&e.as_str())
    {
        return Err(ApiError::bad_request(
            "entity",
            format!("`entity` must be one of {}", domain::history::LOGGED_KINDS.join(", ")),
        ));
    }
    let (since, until) = (instant("since", p.since.as_deref())?, instant("until", p.until.as_deref())?);
    // The most selective key first; the other filters apply to what it finds.
    let (mut q, keyed) = match (&p.entity, &p.entity_id, &p.change_request_id, &p.actor) {
        (Some(e), Some(id), _, _) => (history::by_entity(e, id), "entity_id"),
        (None, Some(_), _, _) => return Err(ApiError::bad_request("entity_id", "`entity_id` needs `entity`")),
        (_, None, Some(c), _) => (history::by_change_request(c), "change_request_id"),
        (_, None, None, Some(a)) => (history::by_actor(a), "actor"),
        _ => (history::everything(), ""),
    };
    q = history::within(q, since.as_deref(), until.as_deref());
    if let (Some(e), true) = (&p.entity, keyed != "entity_id") {
        q = q.filter("entity", json!(e));
    }
    if let (Some(c), true) = (&p.change_request_id, keyed != "change_request_id") {
        q = q.filter("change_request_id", json!(c));
    }
    if let (Some(a), true) = (&p.actor, keyed != "actor") {
        q = q.filter("actor_sub", json!(a));
    }
    Ok(axum::Json(page(&app, q, p.limit, p.next_token).await?))
}
