//! What an upgrade will change, worked out before it is accepted (and shown on its change
//! request), and what the tenant was recorded as before the upgrade wrote its new release, so a
//! rollback can write that back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::SavedConfig;
use crate::{ComponentName, ComponentVersionLabel, ConfigKey, ConfigValue, ReleaseVersion, TenantSnapshot};

/// One component of an upgrade: the version the tenant runs (none: the release adds it) and the
/// one the target release ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComponentChange {
    pub name: ComponentName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub from: Option<ComponentVersionLabel>,
    pub to: ComponentVersionLabel,
}

/// An upgrade's plan: the releases, whether it goes back, and every component that changes.
/// Components the tenant runs that the target release does not ship are kept as they are (they
/// may be managed outside releases) and are listed in `kept`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpgradePlan {
    pub from_release: ReleaseVersion,
    pub to_release: ReleaseVersion,
    /// The target is older than the tenant's release (the request allowed it).
    pub downgrade: bool,
    /// Components whose version changes, or that the release adds.
    pub components: Vec<ComponentChange>,
    /// Components that stay at their version (the same in both, or not in the target release).
    pub kept: Vec<ComponentName>,
    /// Whether a full backup is taken after entering maintenance and before anything changes.
    pub snapshot: bool,
}

impl UpgradePlan {
    /// The plan of moving a tenant that runs `from` with `current` components to `to`, which
    /// ships `manifest`.
    pub fn new(
        from: &ReleaseVersion,
        to: &ReleaseVersion,
        current: &BTreeMap<ComponentName, ComponentVersionLabel>,
        manifest: &BTreeMap<ComponentName, ComponentVersionLabel>,
        snapshot: bool,
    ) -> Self {
        let components = manifest
            .iter()
            .filter(|(name, version)| current.get(*name) != Some(*version))
            .map(|(name, version)| ComponentChange {
                name: name.clone(),
                from: current.get(name).cloned(),
                to: version.clone(),
            })
            .collect();
        let kept = current
            .iter()
            .filter(|(name, version)| manifest.get(*name).is_none_or(|v| v == *version))
            .map(|(name, _)| name.clone())
            .collect();
        Self { from_release: from.clone(), to_release: to.clone(), downgrade: to < from, components, kept, snapshot }
    }
}

/// What the registry said of the tenant just before an upgrade recorded its new release: what a
/// rollback writes back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordedBefore {
    pub release: ReleaseVersion,
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    /// Configs, secrets as their references.
    pub configs: BTreeMap<ConfigKey, SavedConfig>,
}

impl RecordedBefore {
    pub fn new(release: ReleaseVersion, snapshot: &TenantSnapshot) -> Self {
        Self {
            release,
            components: snapshot.components.clone(),
            configs: snapshot.configs.iter().map(|(k, v)| (k.clone(), SavedConfig::of(v))).collect(),
        }
    }

    pub fn config_values(&self) -> BTreeMap<ConfigKey, ConfigValue> {
        self.configs.iter().filter_map(|(k, c)| c.to_value().map(|v| (k.clone(), v))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ReleaseVersion {
        ReleaseVersion::parse(s).unwrap()
    }
    fn m(pairs: &[(&str, &str)]) -> BTreeMap<ComponentName, ComponentVersionLabel> {
        pairs
            .iter()
            .map(|(n, v)| (ComponentName::parse(n).unwrap(), ComponentVersionLabel::parse(v).unwrap()))
            .collect()
    }

    #[test]
    fn a_plan_names_each_changed_and_added_component_and_keeps_the_rest() {
        let p = UpgradePlan::new(
            &v("3.1.0"),
            &v("3.2.0"),
            &m(&[("webapp", "3.1.0"), ("airflow", "2.9.3"), ("custom", "1")]),
            &m(&[("webapp", "3.2.0"), ("airflow", "2.9.3"), ("etl", "1.0.0")]),
            true,
        );
        let changed: Vec<(String, Option<String>, String)> = p
            .components
            .iter()
            .map(|c| (c.name.to_string(), c.from.as_ref().map(ToString::to_string), c.to.to_string()))
            .collect();
        assert_eq!(
            changed,
            [("etl".into(), None, "1.0.0".into()), ("webapp".into(), Some("3.1.0".into()), "3.2.0".into())]
        );
        let kept: Vec<String> = p.kept.iter().map(ToString::to_string).collect();
        assert_eq!(kept, ["airflow", "custom"]);
        assert!(!p.downgrade);
        assert!(UpgradePlan::new(&v("3.2.0"), &v("3.1.0"), &m(&[]), &m(&[("webapp", "3.1.0")]), false).downgrade);
    }
}
