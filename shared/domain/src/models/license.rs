//! Licenses: a type of license (its kind, bounds and features) and its template.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{
    FieldError, LicenseId, patch,
    values::{FeatureName, Name, Text},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseKind {
    Trial,
    Subscription,
    Perpetual,
    Internal,
}

/// A type of license and its template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct License {
    pub id: LicenseId,
    pub name: Name,
    pub kind: LicenseKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_users: Option<u32>,
    #[serde(default)]
    pub features: BTreeSet<FeatureName>,
    /// The license file template the key material is generated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Text>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

pub const MAX_FEATURES: usize = 64;
pub const MAX_USERS: u32 = 10_000_000;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenseCreate {
    pub name: Name,
    pub kind: LicenseKind,
    #[serde(default)]
    pub max_users: Option<u32>,
    #[serde(default)]
    pub features: BTreeSet<FeatureName>,
    #[serde(default)]
    pub template: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicensePatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    pub name: Option<Name>,
    #[serde(default, deserialize_with = "patch::not_null")]
    pub kind: Option<LicenseKind>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<u32>)]
    pub max_users: Option<Option<u32>>,
    #[serde(default, deserialize_with = "patch::not_null")]
    pub features: Option<BTreeSet<FeatureName>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub template: Option<Option<Text>>,
}

fn check_license_bounds(max_users: Option<u32>, features: &BTreeSet<FeatureName>) -> Result<(), FieldError> {
    if let Some(n) = max_users
        && (n == 0 || n > MAX_USERS)
    {
        return Err(FieldError::new("max_users", format!("must be between 1 and {MAX_USERS}")));
    }
    if features.len() > MAX_FEATURES {
        return Err(FieldError::new("features", format!("at most {MAX_FEATURES} features")));
    }
    Ok(())
}

impl License {
    pub fn create(cmd: LicenseCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        check_license_bounds(cmd.max_users, &cmd.features)?;
        Ok(Self {
            id: LicenseId::generate(),
            name: cmd.name,
            kind: cmd.kind,
            max_users: cmd.max_users,
            features: cmd.features,
            template: cmd.template,
            stamp: Stamp::first(ctx),
        })
    }
}

impl LicensePatch {
    pub fn apply_to(self, l: &mut License) -> Result<(), FieldError> {
        patch::set(&mut l.name, self.name);
        patch::set(&mut l.kind, self.kind);
        patch::apply(&mut l.max_users, self.max_users);
        patch::set(&mut l.features, self.features);
        patch::apply(&mut l.template, self.template);
        check_license_bounds(l.max_users, &l.features)
    }
}

stamped!(License);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn licenses_bound_users() {
        let cmd: LicenseCreate = serde_json::from_str(r#"{"name":"Ent","kind":"subscription","max_users":0}"#).unwrap();
        assert_eq!(License::create(cmd, &ctx()).unwrap_err().field, "max_users");
    }
}
