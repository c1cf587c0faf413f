//! A tenant's report (`GET /v1/tenants/{id}/report`): one document holding what an operator
//! looks at first — its configs (secrets as references), its components against its release's
//! manifest (differences marked), its resources, its last health run and backup, and the change
//! request holding it. A fixed number of reads (the tenant, its release, one query each for
//! configs, components, resources, health runs and backups, the active change request),
//! whatever the fleet.

use axum::extract::{Path, State};
use domain::{
    Backup, ComponentVersion, HealthRun, ProductRelease, ResourceOfTenant, TenantChangeRequest, TenantConfig, TenantId,
    TenantReport, against_manifest,
};
use serde_json::Value;
use store::layout::{self, Record};
use store::{Item, Query};

use super::tenants;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::persist::App;

/// At most this many configs, components and resources a report holds.
const MAX_ITEMS: u32 = 200;

/// The live items of one query of the tenant's partition (`limit` at most), and whether there
/// were more.
async fn children(
    app: &App,
    id: &TenantId,
    prefix: &str,
    limit: u32,
    newest: bool,
) -> Result<(Vec<Item>, bool), ApiError> {
    let mut q = Query::new(None, layout::tenant_partition(id)).prefix(prefix).limit(limit);
    if newest {
        q = q.newest_first();
    }
    let page = app.table.query(&q).await?;
    let more = page.last_key.is_some();
    Ok((page.items.into_iter().filter(|i| !layout::is_tombstone(i)).collect(), more))
}

fn records<R: Record>(items: Vec<Item>) -> Result<Vec<R>, ApiError> {
    items.into_iter().map(|i| R::from_item(i).map_err(ApiError::from)).collect()
}

/// Everything about one tenant, read at once.
#[utoipa::path(get, path = "/v1/tenants/{id}/report", tag = "tenants", params(("id" = TenantId, Path)),
    responses((status = 200, body = TenantReport)))]
pub async fn tenant_report(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<axum::Json<TenantReport>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let tenant = tenants::load(&app, &id).await?;
    let (configs, more_configs) = children(&app, &id, layout::CONFIG_PREFIX, MAX_ITEMS, false).await?;
    let (components, more_components) = children(&app, &id, layout::COMPONENT_PREFIX, MAX_ITEMS, false).await?;
    let (links, more_links) = children(&app, &id, layout::RESOURCE_LINK_PREFIX, MAX_ITEMS, false).await?;
    let (runs, _) = children(&app, &id, layout::HEALTH_PREFIX, 1, true).await?;
    let (backups, _) = children(&app, &id, layout::BACKUP_PREFIX, 1, true).await?;
    let manifest = match app.table.get(&layout::release_key(&tenant.release)).await? {
        Some(item) if !layout::is_tombstone(&item) => ProductRelease::from_item(item)?.components,
        _ => Default::default(),
    };
    let components = against_manifest(&records::<ComponentVersion>(components)?, &manifest);
    let active = match &tenant.active_change_request_id {
        Some(cr) => match app.table.get(&layout::change_request_key(cr)).await? {
            Some(item) if !layout::is_tombstone(&item) => Some(TenantChangeRequest::from_item(item)?),
            _ => None,
        },
        None => None,
    };
    let text = |i: &Item, k: &str| i.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let resources =
        links.iter().map(|l| ResourceOfTenant { resource_id: text(l, "resource_id"), arn: text(l, "arn") }).collect();
    Ok(axum::Json(TenantReport {
        tenant,
        configs: records::<TenantConfig>(configs)?,
        components_differing: components.iter().filter(|c| c.differs).count() as u32,
        components,
        resources,
        last_health_run: records::<HealthRun>(runs)?.into_iter().next(),
        last_backup: records::<Backup>(backups)?.into_iter().next(),
        active_change_request: active,
        truncated: more_configs || more_components || more_links,
    }))
}
