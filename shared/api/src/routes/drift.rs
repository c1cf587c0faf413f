//! Drift reports: a tenant's last drift check (`GET /v1/tenants/{id}/drift`) and the tenants
//! whose box differs from their record (`GET /v1/fleet/drift`, one `Query` of the sparse index
//! the checks keep), read from what the `drift` schedule and the drift steps write. Drift is
//! only reported here: the change requests `adopt_drift` and `reapply_recorded` act on it.

use axum::extract::{Path, State};
use domain::{DriftReport, TenantId};
use serde::Serialize;
use store::layout;
use store::{Index, Query};
use utoipa::ToSchema;

use super::tenants;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App};

/// A tenant's last drift check, if its box was ever read.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDriftCheck {
    pub tenant_id: TenantId,
    /// Whether the last check found the box differing from the record (`false` when never
    /// checked).
    pub drifted: bool,
    /// The last check; `null` when the box was never read (the `drift` schedule reads every
    /// running tenant's once a day).
    pub last_check: Option<DriftReport>,
}

/// The tenant's last drift check: when its box was read, what differed from the record
/// (component versions, non-secret configs: `recorded` and `live` for each) and what the box
/// answered it runs. A config that names a secret is never read from the box.
#[utoipa::path(get, path = "/v1/tenants/{id}/drift", tag = "drift", params(("id" = TenantId, Path)),
    responses((status = 200, body = TenantDriftCheck)))]
pub async fn tenant_drift(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<TenantDriftCheck>, ApiError> {
    let id = tenants::parse_id(&id)?;
    tenants::load(&app, &id).await?;
    let last_check = app.changes.drift_report(&id).await?;
    Ok(axum::Json(TenantDriftCheck {
        tenant_id: id,
        drifted: last_check.as_ref().is_some_and(|r| r.is_drifted()),
        last_check,
    }))
}

/// The tenants whose last drift check found their box differing from the record, by tenant
/// id, each with that check.
#[utoipa::path(get, path = "/v1/fleet/drift", tag = "drift", params(ListParams),
    responses((status = 200, body = ListResponse<DriftReport>)))]
pub async fn fleet_drift(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<DriftReport>>, ApiError> {
    let q = Query::new(Some(Index::Gsi2), layout::DRIFTED_TENANTS);
    Ok(axum::Json(persist::list(&app, q, &params).await?))
}
