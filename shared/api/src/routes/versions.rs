//! `GET /v1/fleet/versions`: the fleet by release, from `Query`s only (never a `Scan`) and with
//! bounded work: the releases' collection, the fleet's release counters, then per release with
//! tenants one page of them from the tenants-by-release index (`gsi4`) and each one's recorded
//! components (one `Query` a tenant of the page). The rules are `domain::versions`.

use std::collections::BTreeMap;

use axum::extract::State;
use domain::versions::{ComponentDrift, behind, drift, newest_available};
use domain::{ComponentVersion, ProductRelease, ReleaseStatus, ReleaseVersion, Tenant, TenantId};
use serde::{Deserialize, Serialize};
use store::layout::{self, Record, collection};
use store::{Index, Query, Table};
use utoipa::{IntoParams, ToSchema};

use super::path_param;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::pagination::{ListParams, fetch};
use crate::persist::{self, App};

/// Tenant ids per release when `limit` is not given.
pub const DEFAULT_TENANTS_PER_RELEASE: u32 = 20;
/// The most tenant ids (each with its components read) per release in one answer.
pub const MAX_TENANTS_PER_RELEASE: u32 = 100;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionsParams {
    /// Only this release (a version no release has: no entry). With `next_token`, the next page
    /// of its tenants.
    #[param(value_type = Option<ReleaseVersion>)]
    pub release: Option<String>,
    /// Tenant ids per release, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// A release's `next_token`, with that release as `release`.
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub next_token: Option<String>,
}

/// The fleet by release.
#[derive(Debug, Serialize, ToSchema)]
pub struct FleetVersionsSummary {
    /// The newest release whose status is `available` (absent when none is).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub newest_available: Option<ReleaseVersion>,
    /// Every release (or the one `release` names), newest first.
    pub releases: Vec<ReleaseTenants>,
}

/// One release, its tenants and how far they are behind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseTenants {
    pub version: ReleaseVersion,
    pub status: ReleaseStatus,
    /// Available releases newer than this one: how far each of its tenants is behind the newest
    /// available release (0: it is on it, or nothing newer is available).
    pub behind: u32,
    /// Tenants on this release (the fleet counter).
    pub tenant_count: i64,
    /// A page of its tenants' ids (by id), at most `limit`.
    pub tenant_ids: Vec<TenantId>,
    /// The next page of `tenant_ids`: pass with this release as `release`; `null` on the last.
    pub next_token: Option<String>,
    /// The tenants of this page whose recorded components differ from the release's manifest.
    pub drifted: Vec<TenantDrift>,
}

/// A tenant whose recorded components differ from its release's manifest.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantDrift {
    pub tenant_id: TenantId,
    pub components: Vec<ComponentDrift>,
}

impl VersionsParams {
    fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_TENANTS_PER_RELEASE),
            Some(n) if (1..=MAX_TENANTS_PER_RELEASE).contains(&n) => Ok(n),
            Some(_) => {
                Err(ApiError::bad_request("limit", format!("limit must be between 1 and {MAX_TENANTS_PER_RELEASE}")))
            }
        }
    }
}

/// Every page of `q`, without deleted records' tombstones.
async fn all(table: &dyn Table, q: Query) -> Result<Vec<store::Item>, ApiError> {
    Ok(persist::query_all(table, q).await?.into_iter().filter(persist::live).collect())
}

/// Tenants on each release, from the fleet's release counters (one partition, a few items per
/// release: its shards, summed).
async fn counts(table: &dyn Table) -> Result<BTreeMap<String, i64>, ApiError> {
    let q = Query::new(None, layout::FLEET_PARTITION).prefix("RELEASE#").limit(1000);
    let items = all(table, q).await?;
    Ok(layout::fleet_counts(&items).into_iter().map(|((_, release), count)| (release, count)).collect())
}

/// The components the registry records for tenant `id`.
async fn recorded(
    table: &dyn Table,
    id: &TenantId,
) -> Result<BTreeMap<domain::ComponentName, domain::ComponentVersionLabel>, ApiError> {
    let q = Query::new(None, layout::tenant_partition(id)).prefix(layout::COMPONENT_PREFIX).limit(1000);
    let mut out = BTreeMap::new();
    for item in all(table, q).await? {
        let c = ComponentVersion::from_item(item)?;
        out.insert(c.name, c.version);
    }
    Ok(out)
}

/// For each release (newest first), its tenant count, how far it is behind the newest available
/// release, a page of its tenants' ids and those of them whose recorded components differ from
/// its manifest. Bounded work: `Query`s on the releases' collection and the fleet counters, then
/// per release with tenants one page of at most `limit` tenants from the tenants-by-release
/// index and one `Query` of each one's components; with `release`, that release only, and its
/// `next_token` pages on.
#[utoipa::path(get, path = "/v1/fleet/versions", tag = "tenants", params(VersionsParams),
    responses((status = 200, body = FleetVersionsSummary)))]
pub async fn fleet_versions(
    State(app): State<App>,
    _: Principal,
    crate::extract::QueryParams(params): crate::extract::QueryParams<VersionsParams>,
) -> Result<axum::Json<FleetVersionsSummary>, ApiError> {
    let limit = params.limit()?;
    let only = params.release.as_deref().map(|r| path_param("release", r, ReleaseVersion::parse)).transpose()?;
    if params.next_token.is_some() && only.is_none() {
        return Err(ApiError::bad_request("next_token", "next_token pages one release's tenants: give `release` too"));
    }
    let table = app.table.as_ref();
    let mut releases = Vec::new();
    for item in all(table, Query::new(Some(Index::Gsi1), collection::RELEASES).limit(100)).await? {
        releases.push(ProductRelease::from_item(item)?);
    }
    releases.sort_by(|a, b| b.version.cmp(&a.version));
    let counts = counts(table).await?;
    let mut out = Vec::new();
    for release in releases.iter().filter(|r| only.as_ref().is_none_or(|v| *v == r.version)) {
        let tenant_count = counts.get(&release.version.to_string()).copied().unwrap_or(0);
        let mut entry = ReleaseTenants {
            version: release.version.clone(),
            status: release.status,
            behind: behind(&release.version, &releases),
            tenant_count,
            tenant_ids: Vec::new(),
            next_token: None,
            drifted: Vec::new(),
        };
        if tenant_count > 0 || params.next_token.is_some() {
            let page = ListParams { limit: Some(limit), next_token: params.next_token.clone() };
            let q = page.apply(Query::new(Some(Index::Gsi4), layout::tenants_on_release(&release.version)))?;
            let (items, next_token) = fetch(table, &q).await?;
            entry.next_token = next_token;
            let tenants = items.into_iter().map(Tenant::from_item).collect::<Result<Vec<_>, _>>()?;
            let components = futures::future::try_join_all(tenants.iter().map(|t| recorded(table, &t.id))).await?;
            for (t, recorded) in tenants.into_iter().zip(components) {
                let differs = drift(&release.components, &recorded);
                if !differs.is_empty() {
                    entry.drifted.push(TenantDrift { tenant_id: t.id.clone(), components: differs });
                }
                entry.tenant_ids.push(t.id);
            }
        }
        out.push(entry);
    }
    Ok(axum::Json(FleetVersionsSummary { newest_available: newest_available(&releases).cloned(), releases: out }))
}
