use axum::extract::{Path, State};
use axum::response::Response;
use domain::{ChangeRequestId, TenantChangeRequest};
use store::layout;
use store::{Index, Query};

use super::{path_param, tenants};
use crate::auth::Principal;
use crate::error::{ApiError, Problem};
use crate::extract::QueryParams;
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App};

/// A change request: its status, steps and the execution it runs as.
#[utoipa::path(get, path = "/v1/change-requests/{id}", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 404, body = Problem)))]
pub async fn get_change_request(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_param("id", &id, ChangeRequestId::parse)?;
    let cr: TenantChangeRequest =
        persist::load(&app, &layout::change_request_key(&id), || format!("no change request {id}")).await?;
    persist::ok(&cr)
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
    let page = persist::list(&app, q, &params).await?;
    if page.items.is_empty() && params.next_token.is_none() {
        tenants::load(&app, &id).await?;
    }
    Ok(axum::Json(page))
}
