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
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::pagination::{self, ListParams, ListResponse};
use crate::persist::{self, App};

fn instant(field: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(|s| {
        DateTime::parse_from_rfc3339(s).map(|t| timestamp(t.to_utc())).map_err(|_| {
            ApiError::bad_request(field, format!("`{field}` must be an RFC 3339 time such as 2026-11-30T06:00:00Z"))
        })
    })
    .transpose()
}

/// `since` and `until` as the bounds of the entries' sort key (fixed-width UTC timestamps, so
/// they compare as text). An empty range is a mistake, not an empty list: 400 naming `since`.
fn time_range(since: Option<&str>, until: Option<&str>) -> Result<(Option<String>, Option<String>), ApiError> {
    let (since, until) = (instant("since", since)?, instant("until", until)?);
    if let (Some(s), Some(u)) = (&since, &until)
        && s > u
    {
        return Err(ApiError::bad_request("since", format!("`since` ({s}) must not be after `until` ({u})")));
    }
    Ok((since, until))
}

/// The longest text a key-like filter takes (DynamoDB keys are at most 2048 bytes; 256
/// characters are at most 1024).
const MAX_FILTER_CHARS: usize = 256;

fn bounded<'a>(field: &str, raw: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match raw {
        Some(s) if s.chars().count() > MAX_FILTER_CHARS => {
            Err(ApiError::bad_request(field, format!("`{field}` must be at most {MAX_FILTER_CHARS} characters")))
        }
        other => Ok(other),
    }
}

/// `?actor=`: a `sub` alone matches every entry of that `sub`; `sub <email>`, as entries show
/// their actor, matches the entries that show exactly that.
struct ActorFilter<'a> {
    sub: &'a str,
    shown: Option<&'a str>,
}

impl<'a> ActorFilter<'a> {
    fn parse(raw: Option<&'a str>) -> Result<Option<Self>, ApiError> {
        Ok(bounded("actor", raw)?.map(|a| {
            let sub = domain::history::actor_sub(a);
            Self { sub, shown: (sub != a).then_some(a) }
        }))
    }

    /// The filters on entries found by another key; `keyed`: found by the actor's own index.
    fn apply(&self, mut q: Query, keyed: bool) -> Query {
        if !keyed {
            q = q.filter("actor_sub", json!(self.sub));
        }
        if let Some(shown) = self.shown {
            q = q.filter("actor", json!(shown));
        }
        q
    }
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
    let (items, next_token) = pagination::fetch(app.history.as_ref(), &query).await?;
    let items = items.into_iter().map(store::item::from_item).collect::<Result<Vec<ChangeEntry>, _>>()?;
    Ok(ListResponse { items, next_token })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantHistoryParams {
    /// Only changes of this field (`state`, `release`, `value`...).
    pub field: Option<String>,
    /// Only changes made by this actor: its `sub` (`alice`), or `sub <email>` as entries show
    /// it (`alice <alice@example.com>`).
    pub actor: Option<String>,
    /// From this time (RFC 3339), inclusive; not after `until`.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub since: Option<String>,
    /// Up to this time (RFC 3339), inclusive; not before `since`.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub until: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_token` of the previous page (of this same history, with the same filters).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub next_token: Option<String>,
}

/// Field changes of a tenant and its configs and components, newest first.
#[utoipa::path(get, path = "/v1/tenants/{id}/history", tag = "history", params(("id" = domain::TenantId, Path), TenantHistoryParams),
    responses((status = 200, body = ListResponse<ChangeEntry>)))]
pub async fn tenant_history(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<TenantHistoryParams>,
) -> Result<axum::Json<ListResponse<ChangeEntry>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let (since, until) = time_range(p.since.as_deref(), p.until.as_deref())?;
    let (field, actor) = (bounded("field", p.field.as_deref())?, ActorFilter::parse(p.actor.as_deref())?);
    let mut q = history::within(history::by_tenant(id.as_str()), since.as_deref(), until.as_deref());
    if let Some(f) = field {
        q = q.filter("field", json!(f));
    }
    if let Some(a) = &actor {
        q = a.apply(q, false);
    }
    let first_page = p.next_token.is_none();
    let result = page(&app, q, p.limit, p.next_token).await?;
    persist::parent_exists_if_empty(result.items.is_empty(), first_page, tenants::load(&app, &id)).await?;
    Ok(axum::Json(result))
}

/// The kinds of record that have a change log, as the schema of `?entity=`.
fn logged_kinds() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(domain::history::LOGGED_KINDS))
        .build()
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only this kind of record.
    #[param(schema_with = logged_kinds)]
    pub entity: Option<String>,
    /// With `entity` (required then): only this record (`cus_...`, `3.1.0`, `ten_.../smtp.host`).
    pub entity_id: Option<String>,
    /// Only changes made by this actor: its `sub` (`alice`), or `sub <email>` as entries show
    /// it (`alice <alice@example.com>`).
    pub actor: Option<String>,
    /// Only changes made by this change request.
    pub change_request_id: Option<String>,
    /// From this time (RFC 3339), inclusive; not after `until`.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub since: Option<String>,
    /// Up to this time (RFC 3339), inclusive; not before `since`.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub until: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_token` of the previous page (of this same history, with the same filters).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub next_token: Option<String>,
}

/// Field changes across the fleet, newest first.
#[utoipa::path(get, path = "/v1/history", tag = "history", params(HistoryParams),
    responses((status = 200, body = ListResponse<ChangeEntry>)))]
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
    let (since, until) = time_range(p.since.as_deref(), p.until.as_deref())?;
    let entity_id = bounded("entity_id", p.entity_id.as_deref())?;
    let change_request_id = bounded("change_request_id", p.change_request_id.as_deref())?;
    let actor = ActorFilter::parse(p.actor.as_deref())?;
    // The most selective key first; the other filters apply to what it finds.
    let (mut q, keyed) = match (&p.entity, entity_id, change_request_id, &actor) {
        (Some(e), Some(id), _, _) => (history::by_entity(e, id), "entity_id"),
        (None, Some(_), _, _) => return Err(ApiError::bad_request("entity_id", "`entity_id` needs `entity`")),
        (_, None, Some(c), _) => (history::by_change_request(c), "change_request_id"),
        (_, None, None, Some(a)) => (history::by_actor(a.sub), "actor"),
        _ => (history::everything(), ""),
    };
    q = history::within(q, since.as_deref(), until.as_deref());
    if let (Some(e), true) = (&p.entity, keyed != "entity_id") {
        q = q.filter("entity", json!(e));
    }
    if let (Some(c), true) = (change_request_id, keyed != "change_request_id") {
        q = q.filter("change_request_id", json!(c));
    }
    if let Some(a) = &actor {
        q = a.apply(q, keyed == "actor");
    }
    Ok(axum::Json(page(&app, q, p.limit, p.next_token).await?))
}
