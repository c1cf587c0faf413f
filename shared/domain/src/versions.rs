//! The versions report's rules: how far a release is behind the newest available one, and how a
//! tenant's recorded components differ from its release's manifest.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ComponentName, ComponentVersionLabel, ProductRelease, ReleaseStatus, ReleaseVersion};

/// One component where a tenant differs from its release's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ComponentDrift {
    pub name: ComponentName,
    /// What the manifest ships (absent: the tenant runs a component the release does not ship).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub manifest: Option<ComponentVersionLabel>,
    /// What the registry records the tenant runs (absent: none recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub recorded: Option<ComponentVersionLabel>,
}

/// Every component whose recorded version is not the manifest's, by name: a different version,
/// one missing, or one the manifest does not ship.
pub fn drift(
    manifest: &BTreeMap<ComponentName, ComponentVersionLabel>,
    recorded: &BTreeMap<ComponentName, ComponentVersionLabel>,
) -> Vec<ComponentDrift> {
    let names: std::collections::BTreeSet<&ComponentName> = manifest.keys().chain(recorded.keys()).collect();
    names
        .into_iter()
        .filter(|n| manifest.get(*n) != recorded.get(*n))
        .map(|n| ComponentDrift {
            name: n.clone(),
            manifest: manifest.get(n).cloned(),
            recorded: recorded.get(n).cloned(),
        })
        .collect()
}

/// How many available releases are newer than `version` (0: none is, it is the newest).
pub fn behind(version: &ReleaseVersion, releases: &[ProductRelease]) -> u32 {
    let newer = releases.iter().filter(|r| r.status == ReleaseStatus::Available && r.version > *version).count();
    u32::try_from(newer).unwrap_or(u32::MAX)
}

/// The newest available release.
pub fn newest_available(releases: &[ProductRelease]) -> Option<&ReleaseVersion> {
    releases.iter().filter(|r| r.status == ReleaseStatus::Available).map(|r| &r.version).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<ComponentName, ComponentVersionLabel> {
        pairs
            .iter()
            .map(|(n, v)| (ComponentName::parse(n).unwrap(), ComponentVersionLabel::parse(v).unwrap()))
            .collect()
    }

    fn release(v: &str, status: ReleaseStatus) -> ProductRelease {
        let mut r: ProductRelease = serde_json::from_value(serde_json::json!({
            "version": v, "components": {"webapp": v}, "status": "available",
            "revision": 1, "created_at": "2026-12-01T00:00:00Z", "created_by": "t", "updated_at": "2026-12-01T00:00:00Z",
            "updated_by": "t", "source": "api"
        }))
        .unwrap();
        r.status = status;
        r
    }

    #[test]
    fn drift_names_a_different_a_missing_and_an_unshipped_component_and_nothing_else() {
        let manifest = m(&[("webapp", "3.1.0"), ("etl", "1.0.0"), ("db", "15")]);
        let recorded = m(&[("webapp", "3.1.1"), ("db", "15"), ("agent", "2")]);
        let d = drift(&manifest, &recorded);
        let named: Vec<(&str, Option<&str>, Option<&str>)> = d
            .iter()
            .map(|c| {
                (c.name.as_str(), c.manifest.as_ref().map(|v| v.as_str()), c.recorded.as_ref().map(|v| v.as_str()))
            })
            .collect();
        assert_eq!(
            named,
            [("agent", None, Some("2")), ("etl", Some("1.0.0"), None), ("webapp", Some("3.1.0"), Some("3.1.1"))]
        );
        assert!(drift(&manifest, &manifest).is_empty());
    }

    #[test]
    fn a_release_is_behind_by_the_available_releases_newer_than_it() {
        let releases = [
            release("3.0.0", ReleaseStatus::Deprecated),
            release("3.1.0", ReleaseStatus::Available),
            release("3.2.0-rc.1", ReleaseStatus::Available),
            release("3.2.0", ReleaseStatus::Available),
            release("4.0.0", ReleaseStatus::Withdrawn),
        ];
        let v = |s: &str| ReleaseVersion::parse(s).unwrap();
        assert_eq!(behind(&v("3.0.0"), &releases), 3);
        assert_eq!(behind(&v("3.1.0"), &releases), 2);
        assert_eq!(behind(&v("3.2.0"), &releases), 0);
        assert_eq!(behind(&v("4.0.0"), &releases), 0, "a withdrawn newer release counts for nothing");
        assert_eq!(newest_available(&releases), Some(&v("3.2.0")));
        assert_eq!(newest_available(&releases[..1]), None);
    }
}
