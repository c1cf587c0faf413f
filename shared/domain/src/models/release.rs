//! Product releases: an official release, its component manifest and its health suites.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{
    FieldError, patch,
    values::{ComponentName, ComponentVersionLabel, ReleaseVersion, SuiteName, Text},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// Tenants may be provisioned on it and upgraded to it.
    Available,
    /// Still running somewhere; no new tenants.
    Deprecated,
    /// Must not be installed anywhere.
    Withdrawn,
}

impl std::fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Available => "available",
            Self::Deprecated => "deprecated",
            Self::Withdrawn => "withdrawn",
        })
    }
}

/// An official release and its component manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductRelease {
    pub version: ReleaseVersion,
    /// Component name → version shipped in this release.
    #[schema(schema_with = manifest_schema)]
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    pub status: ReleaseStatus,
    /// The health-baseline suites that validate a tenant on this release (empty: the fleet's
    /// default suites).
    #[serde(default)]
    #[schema(max_items = 20, schema_with = suites_schema)]
    pub health_suites: Vec<SuiteName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub notes: Option<Text>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

pub const MAX_SUITES: usize = 20;

/// The schema of a release manifest: 1 to [`MAX_COMPONENTS`] component names, each to its version.
fn manifest_schema() -> utoipa::openapi::Object {
    use utoipa::{PartialSchema, openapi::ObjectBuilder, openapi::RefOr, openapi::schema::AdditionalProperties};
    let names = match ComponentName::schema() {
        RefOr::T(schema) => Some(schema),
        RefOr::Ref(_) => None,
    };
    ObjectBuilder::new()
        .property_names(names)
        .additional_properties(Some(AdditionalProperties::RefOr(ComponentVersionLabel::schema())))
        .min_properties(Some(1))
        .max_properties(Some(MAX_COMPONENTS))
        .examples([serde_json::json!({"webapp": "3.1.0", "airflow": "2.9.3"})])
        .build()
}

/// The schema of a release's health suites: at most [`MAX_SUITES`], each once.
fn suites_schema() -> utoipa::openapi::schema::Array {
    use utoipa::{PartialSchema, openapi::schema::ArrayBuilder};
    ArrayBuilder::new().items(SuiteName::schema()).max_items(Some(MAX_SUITES)).unique_items(true).build()
}

/// A release's manifest fits in one transaction with the tenant that is created from it.
pub const MAX_COMPONENTS: usize = 64;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseCreate {
    pub version: ReleaseVersion,
    /// Component name → version: 1 to 64 components.
    #[schema(schema_with = manifest_schema)]
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    /// At most 20, each once (none: the fleet's default suites).
    #[serde(default)]
    #[schema(schema_with = suites_schema)]
    pub health_suites: Vec<SuiteName>,
    #[serde(default)]
    pub notes: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasePatch {
    /// Replaces the suites: at most 20, each once.
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(schema_with = suites_schema)]
    pub health_suites: Option<Vec<SuiteName>>,
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub status: Option<ReleaseStatus>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub notes: Option<Option<Text>>,
}

impl ProductRelease {
    pub fn create(cmd: ReleaseCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        if cmd.components.is_empty() {
            return Err(FieldError::new("components", "a release ships at least one component"));
        }
        if cmd.components.len() > MAX_COMPONENTS {
            return Err(FieldError::new("components", format!("at most {MAX_COMPONENTS} components")));
        }
        check_suites(&cmd.health_suites)?;
        Ok(Self {
            version: cmd.version,
            components: cmd.components,
            status: ReleaseStatus::Available,
            health_suites: cmd.health_suites,
            notes: cmd.notes,
            stamp: Stamp::first(ctx),
        })
    }
}

fn check_suites(suites: &[SuiteName]) -> Result<(), FieldError> {
    if suites.len() > MAX_SUITES {
        return Err(FieldError::new("health_suites", format!("at most {MAX_SUITES} suites")));
    }
    let distinct: std::collections::BTreeSet<&SuiteName> = suites.iter().collect();
    if distinct.len() != suites.len() {
        return Err(FieldError::new("health_suites", "a suite is listed twice"));
    }
    Ok(())
}

impl ReleasePatch {
    pub fn apply_to(self, r: &mut ProductRelease) -> Result<(), FieldError> {
        patch::set(&mut r.status, self.status);
        patch::set(&mut r.health_suites, self.health_suites);
        patch::apply(&mut r.notes, self.notes);
        check_suites(&r.health_suites)
    }
}

stamped!(ProductRelease);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn releases_need_components() {
        let cmd: ReleaseCreate = serde_json::from_str(r#"{"version":"3.1.0","components":{}}"#).unwrap();
        assert_eq!(ProductRelease::create(cmd, &ctx()).unwrap_err().field, "components");
        let err =
            serde_json::from_str::<ReleaseCreate>(r#"{"version":"3.1.0","components":{"Bad Name":"1"}}"#).unwrap_err();
        assert!(err.to_string().contains("must match"));
    }
}
