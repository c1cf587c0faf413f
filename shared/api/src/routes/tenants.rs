use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{CustomerId, ReleaseVersion, Role, Tenant, TenantCreate, TenantId, TenantPatch, TenantState};
use serde::{Deserialize, Serialize};
use serde_json::json;
use store::layout::{self, collection};
use store::{Cond, Index, Query, WriteOp};
use utoipa::{IntoParams, ToSchema};

use super::path_param;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

pub(crate) fn parse_id(raw: &str) -> Result<TenantId, ApiError> {
    path_param("id", raw, TenantId::parse)
}

pub(crate) async fn load(app: &App, id: &TenantId) -> Result<Tenant, ApiError> {
    persist::load(app, &layout::tenant_key(id), || format!("no tenant {id}")).await
}

/// Create a tenant. A new tenant starts `Provisioning` held by a `provision` change request;
/// with `"import": true` an already running one is registered `InTesting` with a `validate`
/// change request. Its component versions start as the release's manifest.
#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = TenantCreate, params(IdempotencyKey),
    responses((status = 201, body = Tenant), (status = 409, description = "A tenant with this name exists, or the write lost a race."),
        (status = 422, description = "A value is not acceptable, `customer_id` names no customer, or `release` no available \
            release; `field` names it.")))]
pub async fn create_tenant(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<TenantCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/tenants", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let (tenant, prepared) = app.changes.prepare_tenant(body.value, &principal.caller()).await?;
    let answer = Stored::record(StatusCode::CREATED, &tenant, Some(format!("/v1/tenants/{}", tenant.id)))?;
    idem.submit(&app, prepared, answer).await
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TenantListParams {
    /// Only tenants in this state (`Healthy`, `Broken`...).
    #[param(value_type = Option<TenantState>)]
    pub state: Option<String>,
    /// Only tenants of this customer.
    #[param(value_type = Option<CustomerId>)]
    pub customer_id: Option<String>,
    /// Only tenants on this release.
    #[param(value_type = Option<ReleaseVersion>)]
    pub release: Option<String>,
    /// Only tenants carrying every one of these tags: `key:value` pairs separated by commas
    /// (`env:prod,tier:gold`). A filter on the page the other filters' index query reads (the
    /// whole tenant collection's when there is no other filter): a page may hold fewer tenants
    /// than `limit` and still have a `next_token`.
    #[param(
        pattern = r"^[a-z][a-z0-9_-]{0,63}:[A-Za-z0-9][A-Za-z0-9_.+@/-]{0,127}(,[a-z][a-z0-9_-]{0,63}:[A-Za-z0-9][A-Za-z0-9_.+@/-]{0,127}){0,19}$"
    )]
    pub tags: Option<String>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_token` of the previous page (of this same list, with the same filters).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub next_token: Option<String>,
}

impl TenantListParams {
    /// The query answering these filters: the most selective index, the others as filters.
    fn query(&self) -> Result<Query, ApiError> {
        let state = self
            .state
            .as_deref()
            .map(|s| {
                TenantState::parse(s).ok_or_else(|| {
                    ApiError::bad_request(
                        "state",
                        format!("unknown state `{s}`; one of {}", TenantState::ALL.map(|s| s.as_str()).join(", ")),
                    )
                })
            })
            .transpose()?;
        let customer =
            self.customer_id.as_deref().map(|c| path_param("customer_id", c, CustomerId::parse)).transpose()?;
        let release = self.release.as_deref().map(|r| path_param("release", r, ReleaseVersion::parse)).transpose()?;
        let mut q = match (&customer, &release, state) {
            (Some(c), _, _) => Query::new(Some(Index::Gsi3), layout::tenants_of_customer(c)),
            (None, Some(r), _) => Query::new(Some(Index::Gsi4), layout::tenants_on_release(r)),
            (None, None, Some(s)) => Query::new(Some(Index::Gsi2), layout::tenants_in_state(s)),
            (None, None, None) => Query::new(Some(Index::Gsi1), collection::TENANTS),
        };
        if let (Some(_), Some(r)) = (&customer, &release) {
            q = q.filter("release", json!(r.to_string()));
        }
        if let (true, Some(s)) = (customer.is_some() || release.is_some(), state) {
            q = q.filter("state", json!(s.as_str()));
        }
        if let Some(raw) = &self.tags {
            let filter = domain::TagFilter::parse(raw).map_err(|e| ApiError::bad_request("tags", e.message))?;
            for (key, value) in filter.pairs() {
                q = q.filter(&format!("tags.{key}"), json!(value.as_str()));
            }
        }
        Ok(q)
    }
}

/// List tenants, filtered by `state`, `customer_id`, `release` and `tags` (any combination).
#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(TenantListParams),
    responses((status = 200, body = ListResponse<Tenant>)))]
pub async fn list_tenants(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<TenantListParams>,
) -> Result<axum::Json<ListResponse<Tenant>>, ApiError> {
    let q = params.query()?;
    let page = ListParams { limit: params.limit, next_token: params.next_token };
    Ok(axum::Json(persist::list(&app, q, &page).await?))
}

/// A tenant.
#[utoipa::path(get, path = "/v1/tenants/{id}", tag = "tenants", params(("id" = TenantId, Path)),
    responses((status = 200, body = Tenant)))]
pub async fn get_tenant(State(app): State<App>, _: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    persist::ok(&load(&app, &parse_id(&id)?).await?)
}

/// Change a tenant's name, region, description, windows, schedule opt-outs or tags. Its state
/// and release change only through change requests.
#[utoipa::path(patch, path = "/v1/tenants/{id}", tag = "tenants", request_body = TenantPatch,
    params(("id" = TenantId, Path), IfMatch), responses((status = 200, body = Tenant),
        (status = 409, description = "Another tenant has this name, or the write lost a race.")))]
pub async fn patch_tenant(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: Result<JsonBody<TenantPatch>, ApiError>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let body = body.map_err(through_change_requests)?;
    let current = load(&app, &parse_id(&id)?).await?;
    if_match.check(current.stamp.revision)?;
    let mut next = current.clone();
    body.value.apply_to(&mut next);
    let mut tx = Tx::new();
    if next.name != current.name {
        tx.push(
            WriteOp::put(layout::guard_item(layout::tenant_name_guard(&next.name), next.id.as_str()), Cond::NotExists),
            ApiError::Conflict(format!("a tenant named {} already exists", next.name)),
        );
        tx.push(
            WriteOp::Delete {
                key: layout::tenant_name_guard(&current.name),
                cond: Cond::FieldIs("owner".into(), json!(current.id.as_str())),
            },
            ApiError::Conflict("the tenant was renamed concurrently".into()),
        );
    }
    persist::write_changed(&app, &current, next, &principal, if_match, tx).await
}

/// A PATCH naming `state` or `release` (fields a PATCH body does not have) is told how they
/// change: through a change request.
fn through_change_requests(e: ApiError) -> ApiError {
    let how = match &e {
        ApiError::Invalid(f) if f.field == "state" => "a tenant's state changes only through a change request",
        ApiError::Invalid(f) if f.field == "release" => {
            "a tenant's release changes only through an `upgrade` change request (`params.release`)"
        }
        _ => return e,
    };
    let ApiError::Invalid(f) = e else { return e };
    ApiError::invalid(&f.field, format!("{how}: POST /v1/tenants/{{id}}/change-requests"))
}

/// Tenant counts across the fleet.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetSummary {
    pub total: i64,
    /// Every state, with zero where no tenant is in it.
    pub by_state: BTreeMap<String, i64>,
    /// Releases with at least one tenant.
    pub by_release: BTreeMap<String, i64>,
}

/// Tenant counts by state and by release, from counters kept in the same transactions as the
/// tenants (each spread over a few shards, summed here): one query whatever the fleet size.
#[utoipa::path(get, path = "/v1/fleet/summary", tag = "tenants", responses((status = 200, body = FleetSummary)))]
pub async fn fleet_summary(State(app): State<App>, _: Principal) -> Result<axum::Json<FleetSummary>, ApiError> {
    let mut summary = FleetSummary {
        total: 0,
        by_state: TenantState::ALL.iter().map(|s| (s.to_string(), 0)).collect(),
        by_release: BTreeMap::new(),
    };
    let items = persist::query_all(app.table.as_ref(), Query::new(None, layout::FLEET_PARTITION).limit(1000)).await?;
    for ((dimension, value), count) in layout::fleet_counts(&items) {
        match dimension.as_str() {
            "state" => {
                summary.total += count;
                summary.by_state.insert(value, count);
            }
            "release" if count > 0 => {
                summary.by_release.insert(value, count);
            }
            _ => {}
        }
    }
    Ok(axum::Json(summary))
}

#[cfg(test)]
mod tests {
    /// The documented `tags` filter is the parser's pattern (whose own test checks it against
    /// the parser).
    #[test]
    fn the_tags_filter_is_documented_with_its_parsers_pattern() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document");
        let params = doc["paths"]["/v1/tenants"]["get"]["parameters"].as_array().expect("parameters");
        let tags = params.iter().find(|p| p["name"] == "tags").expect("a tags parameter");
        assert_eq!(tags["schema"]["pattern"], domain::TagFilter::PATTERN);
    }
}
