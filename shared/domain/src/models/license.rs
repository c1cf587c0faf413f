//! Licenses: a type of license (its kind, bounds and features) and its template.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{
    FieldError, LicenseId, ReleaseVersion, patch,
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
    #[schema(nullable = false, minimum = 1, maximum = 10_000_000)]
    pub max_users: Option<u32>,
    #[serde(default)]
    #[schema(max_items = 64)]
    pub features: BTreeSet<FeatureName>,
    /// The license file template the key material is generated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub template: Option<Text>,
    /// The newest release the license covers (none: every release). An upgrade of a tenant
    /// whose customer's active licenses all stop before the target is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub max_release: Option<ReleaseVersion>,
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
    /// 1 to 10,000,000.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub max_users: Option<u32>,
    /// At most 64 (a feature listed twice counts once).
    #[serde(default)]
    #[schema(value_type = Vec<FeatureName>, max_items = 64)]
    pub features: BTreeSet<FeatureName>,
    #[serde(default)]
    pub template: Option<Text>,
    /// The newest release the license covers (none: every release).
    #[serde(default)]
    pub max_release: Option<ReleaseVersion>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicensePatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub name: Option<Name>,
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub kind: Option<LicenseKind>,
    /// 1 to 10,000,000; `null` for no bound.
    #[serde(default, deserialize_with = "nullable_whole_number")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 10_000_000)]
    pub max_users: Option<Option<u32>>,
    /// Replaces the features: at most 64 (a feature listed twice counts once).
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(value_type = Vec<FeatureName>, nullable = false, max_items = 64)]
    pub features: Option<BTreeSet<FeatureName>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub template: Option<Option<Text>>,
    /// The newest release the license covers; `null`: every release.
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<ReleaseVersion>)]
    pub max_release: Option<Option<ReleaseVersion>>,
}

/// A count, also written as a whole float (`436.0`): JSON Schema's `integer` is both.
struct WholeNumber(u32);

impl<'de> Deserialize<'de> for WholeNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = WholeNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number from 0 to 4294967295")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<WholeNumber, E> {
                u32::try_from(n)
                    .map(WholeNumber)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<WholeNumber, E> {
                u32::try_from(n).map(WholeNumber).map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(n), &self))
            }
            fn visit_f64<E: serde::de::Error>(self, x: f64) -> Result<WholeNumber, E> {
                match x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&x) {
                    true => Ok(WholeNumber(x as u32)),
                    false => Err(E::invalid_value(serde::de::Unexpected::Float(x), &self)),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(Option::<WholeNumber>::deserialize(d)?.map(|n| n.0))
}

fn nullable_whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    Ok(Some(Option::<WholeNumber>::deserialize(d)?.map(|n| n.0)))
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
            max_release: cmd.max_release,
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
        patch::apply(&mut l.max_release, self.max_release);
        check_license_bounds(l.max_users, &l.features)
    }
}

impl License {
    /// Whether the license covers `release` (it has no newest release, or `release` is not
    /// newer than it).
    pub fn covers(&self, release: &ReleaseVersion) -> bool {
        self.max_release.as_ref().is_none_or(|max| release <= max)
    }
}

stamped!(License);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn a_license_covers_the_releases_up_to_its_newest() {
        let cmd: LicenseCreate =
            serde_json::from_str(r#"{"name":"Std","kind":"subscription","max_release":"3.1.0"}"#).unwrap();
        let l = License::create(cmd, &ctx()).unwrap();
        let v = |s: &str| ReleaseVersion::parse(s).unwrap();
        assert!(l.covers(&v("3.0.2")) && l.covers(&v("3.1.0")));
        assert!(!l.covers(&v("3.2.0")));
        let mut open = l.clone();
        let patch: LicensePatch = serde_json::from_str(r#"{"max_release":null}"#).unwrap();
        patch.apply_to(&mut open).unwrap();
        assert!(open.covers(&v("9.0.0")));
    }

    #[test]
    fn licenses_bound_users() {
        let cmd: LicenseCreate = serde_json::from_str(r#"{"name":"Ent","kind":"subscription","max_users":0}"#).unwrap();
        assert_eq!(License::create(cmd, &ctx()).unwrap_err().field, "max_users");
    }

    #[test]
    fn a_count_may_be_written_as_a_whole_float_as_json_schema_allows() {
        let cmd: LicenseCreate = serde_json::from_str(r#"{"name":"Ent","kind":"trial","max_users":436.0}"#).unwrap();
        assert_eq!(cmd.max_users, Some(436));
        for bad in ["436.5", "-1", "4294967296", "\"5\""] {
            let json = format!(r#"{{"name":"Ent","kind":"trial","max_users":{bad}}}"#);
            assert!(serde_json::from_str::<LicenseCreate>(&json).is_err(), "{bad}");
        }
        let patch: LicensePatch = serde_json::from_str(r#"{"max_users":null}"#).unwrap();
        assert_eq!(patch.max_users, Some(None));
        let patch: LicensePatch = serde_json::from_str(r#"{"max_users":25.0}"#).unwrap();
        assert_eq!(patch.max_users, Some(Some(25)));
    }
}
