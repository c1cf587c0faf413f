//! A tenant's tags: a small map of [`TagKey`] to [`TagValue`] (`{"env": "prod", "tier": "gold"}`),
//! set on create and with `PATCH`, logged in the history like any field (`tags.env`), and what a
//! tag filter (`env:prod,tier:gold`, on the tenant list and in a rollout's selector) matches.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use crate::{FieldError, TagKey, TagValue};

/// A tenant's tags, at most [`Tags::MAX`] of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<TagKey, TagValue>")]
pub struct Tags(BTreeMap<TagKey, TagValue>);

impl Tags {
    pub const MAX: usize = 20;

    pub fn new(map: BTreeMap<TagKey, TagValue>) -> Result<Self, FieldError> {
        if map.len() > Self::MAX {
            return Err(FieldError::new("", format!("at most {} tags", Self::MAX)));
        }
        Ok(Self(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &TagKey) -> Option<&TagValue> {
        self.0.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&TagKey, &TagValue)> {
        self.0.iter()
    }

    /// Whether every tag of `filter` is one of these, with the same value.
    pub fn matches(&self, filter: &TagFilter) -> bool {
        filter.0.iter().all(|(k, v)| self.0.get(k) == Some(v))
    }
}

impl TryFrom<BTreeMap<TagKey, TagValue>> for Tags {
    type Error = FieldError;
    fn try_from(map: BTreeMap<TagKey, TagValue>) -> Result<Self, FieldError> {
        Self::new(map)
    }
}

impl utoipa::PartialSchema for Tags {
    fn schema() -> RefOr<Schema> {
        let RefOr::T(key) = TagKey::schema() else { unreachable!("a string value's schema is inline") };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(key))
            .additional_properties(Some(AdditionalProperties::RefOr(TagValue::schema())))
            .max_properties(Some(Self::MAX))
            .description(Some("Tags: keys `^[a-z][a-z0-9_-]*$` (at most 64 characters), values of at most 128"))
            .examples([serde_json::json!({"env": "prod", "tier": "gold"})])
            .into()
    }
}
impl utoipa::ToSchema for Tags {}

/// Tags a tenant must all carry: `key:value` pairs separated by commas (`env:prod,tier:gold`),
/// at most [`Tags::MAX`]; a key named twice must have both values (so matches nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<TagKey, TagValue>", into = "BTreeMap<TagKey, TagValue>")]
pub struct TagFilter(Vec<(TagKey, TagValue)>);

impl TagFilter {
    /// The pattern of the query parameter, equal to what [`TagFilter::parse`] takes.
    pub const PATTERN: &'static str = "^[a-z][a-z0-9_-]{0,63}:[A-Za-z0-9][A-Za-z0-9_.+@/-]{0,127}(,[a-z][a-z0-9_-]{0,63}:[A-Za-z0-9][A-Za-z0-9_.+@/-]{0,127}){0,19}$";

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let mut pairs = Vec::new();
        for pair in s.split(',') {
            let (k, v) = pair
                .split_once(':')
                .ok_or_else(|| FieldError::new("", format!("`{pair}` is not `key:value` (e.g. env:prod,tier:gold)")))?;
            let key = TagKey::parse(k).map_err(|e| FieldError::new("", format!("tag key `{k}`: {}", e.message)))?;
            let value =
                TagValue::parse(v).map_err(|e| FieldError::new("", format!("tag value `{v}`: {}", e.message)))?;
            pairs.push((key, value));
        }
        if pairs.len() > Tags::MAX {
            return Err(FieldError::new("", format!("at most {} tags", Tags::MAX)));
        }
        Ok(Self(pairs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs, as given.
    pub fn pairs(&self) -> &[(TagKey, TagValue)] {
        &self.0
    }
}

impl TryFrom<BTreeMap<TagKey, TagValue>> for TagFilter {
    type Error = FieldError;
    fn try_from(map: BTreeMap<TagKey, TagValue>) -> Result<Self, FieldError> {
        Tags::new(map).map(|t| Self(t.0.into_iter().collect()))
    }
}

impl From<TagFilter> for BTreeMap<TagKey, TagValue> {
    fn from(f: TagFilter) -> Self {
        f.0.into_iter().collect()
    }
}

impl fmt::Display for TagFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}:{v}")).collect();
        f.write_str(&pairs.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: serde_json::Value) -> Result<Tags, serde_json::Error> {
        serde_json::from_value(v)
    }

    #[test]
    fn tags_take_valid_keys_and_values_and_at_most_twenty() {
        let t = tags(serde_json::json!({"env": "prod", "tier": "gold"})).unwrap();
        assert_eq!(t.get(&TagKey::parse("env").unwrap()).unwrap().as_str(), "prod");
        assert!(tags(serde_json::json!({"Env": "prod"})).is_err());
        assert!(tags(serde_json::json!({"env": "a b"})).is_err());
        assert!(tags(serde_json::json!({"env": ""})).is_err());
        assert!(tags(serde_json::json!({"env": 3})).is_err());
        let many: serde_json::Map<String, serde_json::Value> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(tags(serde_json::Value::Object(many.clone())).unwrap_err().to_string().contains("at most 20"));
        let twenty: serde_json::Map<_, _> = many.into_iter().take(20).collect();
        assert!(tags(serde_json::Value::Object(twenty)).is_ok());
    }

    #[test]
    fn a_filter_matches_tenants_carrying_all_its_tags() {
        let t = tags(serde_json::json!({"env": "prod", "tier": "gold"})).unwrap();
        assert!(t.matches(&TagFilter::parse("env:prod").unwrap()));
        assert!(t.matches(&TagFilter::parse("env:prod,tier:gold").unwrap()));
        assert!(!t.matches(&TagFilter::parse("env:prod,tier:silver").unwrap()));
        assert!(!t.matches(&TagFilter::parse("env:prod,env:dev").unwrap()));
        assert!(t.matches(&TagFilter::default()));
        assert_eq!(TagFilter::parse("env:prod,tier:gold").unwrap().to_string(), "env:prod,tier:gold");
    }

    #[test]
    fn the_filter_pattern_takes_exactly_what_its_parser_takes() {
        let pattern = regex::Regex::new(TagFilter::PATTERN).unwrap();
        let parts: &[&[&str]] = &[
            &["env", "Env", "", "e.v-1", "e_v-1", "1e", &"k".repeat(64), &"k".repeat(65)],
            &[":", "", "::", ": "],
            &["prod", "", "a/b+c@d", "-x", "a:b", "a,b", &"v".repeat(128), &"v".repeat(129)],
            &["", ",tier:gold", ",", ",tier", ",:x"],
        ];
        let joints = parts.iter().fold(vec![String::new()], |heads, part| {
            heads.iter().flat_map(|h| part.iter().map(move |p| format!("{h}{p}"))).collect()
        });
        let mut taken = 0;
        for s in joints.iter().chain([&(0..20).map(|i| format!("k{i}:v")).collect::<Vec<_>>().join(",")]) {
            let parsed = TagFilter::parse(s).is_ok();
            taken += usize::from(parsed);
            assert_eq!(pattern.is_match(s), parsed, "{s:?}");
        }
        let twenty_one = (0..21).map(|i| format!("k{i}:v")).collect::<Vec<_>>().join(",");
        assert!(!pattern.is_match(&twenty_one) && TagFilter::parse(&twenty_one).is_err());
        assert!(taken > 20, "only {taken} valid filters");
    }
}
