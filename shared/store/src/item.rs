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

/// An item in DynamoDB's JSON wire format (`{"name": {"S": "x"}, "n": {"N": "1"}}`, as stream
/// records carry images) as a plain JSON item.
pub fn from_dynamodb_json(image: &Value) -> Result<Item, StoreError> {
    let Value::Object(attrs) = image else {
        return Err(StoreError::Corrupt("an image is not an object".into()));
    };
    attrs.iter().map(|(k, v)| Ok((k.clone(), from_typed(v)?))).collect()
}

fn from_typed(v: &Value) -> Result<Value, StoreError> {
    let bad = || StoreError::Corrupt(format!("not a DynamoDB attribute value: {v}"));
    let Value::Object(m) = v else { return Err(bad()) };
    let (tag, inner) = m.iter().next().filter(|_| m.len() == 1).ok_or_else(bad)?;
    Ok(match (tag.as_str(), inner) {
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("N", Value::String(n)) => parse_number(n)?,
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("NULL", _) => Value::Null,
        ("L", Value::Array(l)) => Value::Array(l.iter().map(from_typed).collect::<Result<_, _>>()?),
        ("M", m @ Value::Object(_)) => Value::Object(from_dynamodb_json(m)?),
        ("SS", Value::Array(l)) => Value::Array(l.clone()),
        ("NS", Value::Array(l)) => {
            Value::Array(l.iter().map(|n| n.as_str().ok_or_else(bad).and_then(parse_number)).collect::<Result<_, _>>()?)
        }
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod wire_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stream_images_read_as_plain_json() {
        let image = json!({
            "pk": {"S": "TENANT#1"}, "revision": {"N": "3"}, "imported": {"BOOL": false}, "region": {"NULL": true},
            "components": {"M": {"webapp": {"S": "3.1.0"}}}, "features": {"L": [{"S": "sso"}]}, "ratio": {"N": "0.5"}
        });
        let item = from_dynamodb_json(&image).unwrap();
        assert_eq!(
            Value::Object(item),
            json!({"pk": "TENANT#1", "revision": 3, "imported": false, "region": null,
                "components": {"webapp": "3.1.0"}, "features": ["sso"], "ratio": 0.5})
        );
        assert!(from_dynamodb_json(&json!({"x": {"Q": 1}})).is_err());
        assert!(from_dynamodb_json(&json!({"x": "plain"})).is_err());
    }
}

/// A plain JSON item in DynamoDB's JSON wire format (the inverse of [`from_dynamodb_json`]).
pub fn to_dynamodb_json(item: &Item) -> Value {
    fn typed(v: &Value) -> Value {
        match v {
            Value::Null => serde_json::json!({"NULL": true}),
            Value::Bool(b) => serde_json::json!({"BOOL": b}),
            Value::Number(n) => serde_json::json!({"N": n.to_string()}),
            Value::String(s) => serde_json::json!({"S": s}),
            Value::Array(a) => serde_json::json!({"L": a.iter().map(typed).collect::<Vec<_>>()}),
            Value::Object(m) => serde_json::json!({"M": to_dynamodb_json(m)}),
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), typed(v))).collect())
}
