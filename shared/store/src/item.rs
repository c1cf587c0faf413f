//! Items as JSON objects: the port speaks JSON, the DynamoDB adapter converts at its edge.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Number, Value};

use crate::StoreError;

/// One table item: attribute name → value.
pub type Item = Map<String, Value>;

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }

    pub fn to_item(&self) -> Item {
        let mut m = Map::new();
        m.insert("pk".into(), Value::String(self.pk.clone()));
        m.insert("sk".into(), Value::String(self.sk.clone()));
        m
    }

    pub fn of(item: &Item) -> Option<Self> {
        Some(Self::new(item.get("pk")?.as_str()?, item.get("sk")?.as_str()?))
    }
}

/// A serializable value as an item (it must serialize to a JSON object).
pub fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    match serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))? {
        Value::Object(m) => Ok(m),
        other => Err(StoreError::Corrupt(format!("expected an object, got {other}"))),
    }
}

/// An item as a typed value; extra attributes (keys, index keys) are ignored.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    let what = item.get("pk").and_then(Value::as_str).unwrap_or("?").to_owned();
    serde_json::from_value(Value::Object(item)).map_err(|e| StoreError::Corrupt(format!("item {what}: {e}")))
}

pub(crate) fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
    }
}

pub(crate) fn to_attrs(item: &Item) -> HashMap<String, AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()
}

pub(crate) fn from_attr(a: &AttributeValue) -> Result<Value, StoreError> {
    Ok(match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => parse_number(n)?,
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::Object(from_attrs(m)?),
        AttributeValue::Ss(ss) => Value::Array(ss.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(ns) => Value::Array(ns.iter().map(|n| parse_number(n)).collect::<Result<_, _>>()?),
        other => {
            return Err(StoreError::Corrupt(format!("unsupported attribute type {other:?}")));
        }
    })
}

pub(crate) fn from_attrs(m: &HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    m.iter().map(|(k, v)| Ok((k.clone(), from_attr(v)?))).collect()
}

fn parse_number(n: &str) -> Result<Value, StoreError> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(Value::Number(i.into()));
    }
    if let Ok(u) = n.parse::<u64>() {
        return Ok(Value::Number(u.into()));
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| StoreError::Corrupt(format!("bad number {n}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_items_survive_the_attribute_value_round_trip() {
        let item = to_item(&json!({
            "pk": "TENANT#1", "n": 42, "neg": -3, "f": 1.5, "b": true, "none": null,
            "list": [1, "x"], "map": {"a": {"b": "c"}}, "empty": ""
        }))
        .unwrap();
        let back = from_attrs(&to_attrs(&item)).unwrap();
        assert_eq!(back, item);
    }

    #[test]
    fn string_sets_read_back_as_arrays() {
        let v = from_attr(&AttributeValue::Ss(vec!["a".into(), "b".into()])).unwrap();
        assert_eq!(v, json!(["a", "b"]));
    }
}
