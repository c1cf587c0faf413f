//! A tenant's backup catalog: the full backups its `backup` change requests made, newest first,
//! each with where it is, its checksum and what the tenant ran and was set to (secrets as
//! references). A `restore` names one of them.

use axum::extract::{Path, State};
use axum::response::Response;
use domain::{Backup, BackupId, TenantId};
use store::Query;
use store::layout;

use super::{path_param, tenants};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App};

/// The catalogued backups of a tenant, newest first.
#[utoipa::path(get, path = "/v1/tenants/{id}/backups", tag = "backups", params(("id" = TenantId, Path), ListParams),
    responses((status = 200, body = ListResponse<Backup>)))]
pub async fn list_backups(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<Backup>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let q = Query::new(None, layout::tenant_partition(&id)).prefix(layout::BACKUP_PREFIX).newest_first();
    Ok(axum::Json(persist::list_children(&app, q, &params, tenants::load(&app, &id)).await?))
}

/// One backup of a tenant: where it is, its size and checksum, the parts it covers, and the
/// release, component versions and configs it brings back when restored.
#[utoipa::path(get, path = "/v1/tenants/{id}/backups/{backup_id}", tag = "backups",
    params(("id" = TenantId, Path), ("backup_id" = BackupId, Path)), responses((status = 200, body = Backup)))]
pub async fn get_backup(
    State(app): State<App>,
    _: Principal,
    Path((id, backup_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = tenants::parse_id(&id)?;
    let backup_id = path_param("backup_id", &backup_id, BackupId::parse)?;
    let backup: Backup =
        persist::load(&app, &layout::backup_key(&id, &backup_id), || format!("tenant {id} has no backup {backup_id}"))
            .await?;
    persist::ok(&backup)
}
