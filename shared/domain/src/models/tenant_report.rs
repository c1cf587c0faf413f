//! One document about a tenant (`GET /v1/tenants/{id}/report`): its configs (secrets as
//! references), its component versions against its release's manifest with the differences
//! marked, its AWS resources, its last health run and backup, and the change request holding it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use utoipa::ToSchema;

use super::{Backup, ComponentVersion, HealthRun, Tenant, TenantChangeRequest, TenantConfig};
use crate::{ComponentName, ComponentVersionLabel};

/// A component as recorded on the tenant and as its release ships it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ComponentAgainstManifest {
    pub name: ComponentName,
    /// What the tenant runs, as recorded (none: the release ships it, the tenant has no record).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub recorded: Option<ComponentVersionLabel>,
    /// What its release ships (none: not part of the release, managed outside it).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub manifest: Option<ComponentVersionLabel>,
    /// The release ships it and the record says another version, or none.
    pub differs: bool,
}

/// Each component of the record and of the manifest, by name.
pub fn against_manifest(
    recorded: &[ComponentVersion],
    manifest: &BTreeMap<ComponentName, ComponentVersionLabel>,
) -> Vec<ComponentAgainstManifest> {
    let names: BTreeSet<&ComponentName> = recorded.iter().map(|c| &c.name).chain(manifest.keys()).collect();
    names
        .into_iter()
        .map(|name| {
            let recorded = recorded.iter().find(|c| &c.name == name).map(|c| c.version.clone());
            let manifest = manifest.get(name).cloned();
            let differs = manifest.is_some() && manifest != recorded;
            ComponentAgainstManifest { name: name.clone(), recorded, manifest, differs }
        })
        .collect()
}

/// A tenant's AWS resource, as its link names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ResourceOfTenant {
    pub resource_id: String,
    pub arn: String,
}

/// Everything about one tenant, read at once.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TenantReport {
    pub tenant: Tenant,
    pub configs: Vec<TenantConfig>,
    pub components: Vec<ComponentAgainstManifest>,
    /// How many components differ from the manifest.
    pub components_differing: u32,
    pub resources: Vec<ResourceOfTenant>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_health_run: Option<HealthRun>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_backup: Option<Backup>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub active_change_request: Option<TenantChangeRequest>,
    /// A list was longer than the report holds (200 configs, components or resources): the
    /// list routes page through all of it.
    pub truncated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx;
    use crate::{Stamp, TenantId};

    #[test]
    fn a_component_differs_when_the_release_ships_another_version_or_the_tenant_has_none() {
        let t = TenantId::generate();
        let c = |n: &str, v: &str| ComponentVersion {
            tenant_id: t.clone(),
            name: ComponentName::parse(n).unwrap(),
            version: ComponentVersionLabel::parse(v).unwrap(),
            stamp: Stamp::first(&test_ctx()),
        };
        let manifest: BTreeMap<ComponentName, ComponentVersionLabel> =
            [("webapp", "3.1.0"), ("etl", "1.0.0"), ("airflow", "2.9.3")]
                .iter()
                .map(|(n, v)| (ComponentName::parse(n).unwrap(), ComponentVersionLabel::parse(v).unwrap()))
                .collect();
        let rows = against_manifest(&[c("webapp", "3.1.0"), c("airflow", "2.9.0"), c("custom", "7")], &manifest);
        let marked: Vec<(&str, bool)> = rows.iter().map(|r| (r.name.as_str(), r.differs)).collect();
        assert_eq!(marked, [("airflow", true), ("custom", false), ("etl", true), ("webapp", false)]);
        assert_eq!(rows[2].recorded, None);
        assert_eq!(rows[1].manifest, None, "managed outside the release");
    }
}
