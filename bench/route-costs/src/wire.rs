//! Records the DynamoDB requests a client sends, in order, by operation (`X-Amz-Target`), per
//! attempt: a retried call counts twice, as it costs two round trips. Each request's capacity
//! units are estimated from the items on the wire by DynamoDB's billing rules (see
//! [`capacity`]): moto's own `ConsumedCapacity` is a constant, whatever the items.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use serde_json::{Map, Value};

/// One request as sent, with the capacity its items would consume on DynamoDB.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sent {
    pub op: String,
    pub rcu: f64,
    pub wcu: f64,
}

#[derive(Debug, Default)]
struct Log {
    sent: Vec<Sent>,
    /// The body of the request in flight (set before transmit, read after deserialization).
    request: Option<Value>,
}

#[derive(Debug, Clone, Default)]
pub struct Wire(Arc<Mutex<Log>>);

impl Wire {
    /// The requests sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.0.lock().map(|m| m.sent.clone()).unwrap_or_default()
    }
}

fn body_json(bytes: Option<&[u8]>) -> Value {
    bytes.and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null)
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "bench-wire-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        let request = body_json(context.request().body().bytes());
        if let Ok(mut m) = self.0.lock() {
            // Until the answer is read, the request's own items give the estimate.
            let (rcu, wcu) = capacity(&op, &request, &Value::Null);
            m.sent.push(Sent { op, rcu, wcu });
            m.request = Some(request);
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = body_json(context.response().body().bytes());
        if let Ok(mut m) = self.0.lock() {
            let request = m.request.take().unwrap_or(Value::Null);
            if let Some(last) = m.sent.last_mut() {
                (last.rcu, last.wcu) = capacity(&last.op, &request, &response);
            }
        }
        Ok(())
    }
}

/// The size DynamoDB bills for an attribute value in its wire form (`{"S": ...}`, `{"M": ...}`...):
/// strings and binaries by their bytes, a number ~1 byte per two significant digits plus one,
/// booleans and nulls 1, lists and maps 3 bytes plus their elements (1 more each, and a map's
/// names).
pub fn value_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else { return 0 };
    let number = |n: &str| n.trim_start_matches('-').trim_matches('0').replace('.', "").len().div_ceil(2) + 1;
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => s.len(),
        ("N", Value::String(n)) => number(n),
        ("B", Value::String(b)) => b.len() * 3 / 4,
        ("BOOL" | "NULL", _) => 1,
        ("SS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::len).sum(),
        ("NS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(number).sum(),
        ("BS", Value::Array(a)) => a.iter().filter_map(Value::as_str).map(|b| b.len() * 3 / 4).sum(),
        ("L", Value::Array(a)) => 3 + a.iter().map(|e| value_size(e) + 1).sum::<usize>(),
        ("M", Value::Object(m)) => 3 + m.iter().map(|(k, e)| k.len() + value_size(e) + 1).sum::<usize>(),
        _ => 0,
    }
}

/// An item's size: each attribute's name and value.
pub fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(name, v)| name.len() + value_size(v)).sum()
}

fn items_in(v: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    v.as_array().into_iter().flatten().filter_map(Value::as_object)
}

/// Read units of `size` bytes: 4 KB each, at least one; half for an eventually consistent read.
fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

/// Write units of an item of `size` bytes: 1 KB each, at least one.
fn write_units(size: usize) -> f64 {
    size.div_ceil(1024).max(1) as f64
}

/// (read units, write units) DynamoDB would bill for one request, from its body and answer:
/// a `GetItem` or each key of a `BatchGetItem` per item (a missing item still costs a read);
/// a `Query` on the size of what it returned (an index query is eventually consistent); a
/// `PutItem` or `BatchWriteItem` put on the new item's size, a delete or update 1 (the old item's
/// size is not on the wire, so these are lower bounds); a transaction twice its items' units.
pub fn capacity(op: &str, request: &Value, response: &Value) -> (f64, f64) {
    let consistent = request["ConsistentRead"] == Value::Bool(true);
    let put_size = |put: &Value| put["Item"].as_object().map_or(0, item_size);
    match op {
        "GetItem" => (read_units(response["Item"].as_object().map_or(0, item_size), consistent), 0.0),
        "BatchGetItem" => {
            let mut rcu = 0.0;
            for (table, asked) in request["RequestItems"].as_object().into_iter().flatten() {
                let consistent = asked["ConsistentRead"] == Value::Bool(true);
                let got: Vec<usize> = items_in(&response["Responses"][table]).map(item_size).collect();
                let missing = asked["Keys"].as_array().map_or(0, Vec::len).saturating_sub(got.len());
                rcu += got.iter().map(|s| read_units(*s, consistent)).sum::<f64>()
                    + missing as f64 * read_units(0, consistent);
            }
            (rcu, 0.0)
        }
        "Query" | "Scan" => (read_units(items_in(&response["Items"]).map(item_size).sum(), consistent), 0.0),
        "PutItem" => (0.0, write_units(put_size(request))),
        "DeleteItem" | "UpdateItem" => (0.0, 1.0),
        "BatchWriteItem" => {
            let writes = request["RequestItems"].as_object().into_iter().flat_map(|t| t.values()).flat_map(items_in);
            (0.0, writes.map(|w| w.get("PutRequest").map_or(1.0, |p| write_units(put_size(p)))).sum())
        }
        "TransactWriteItems" => {
            let items = items_in(&request["TransactItems"]);
            (0.0, items.map(|t| 2.0 * t.get("Put").map_or(1.0, |p| write_units(put_size(p)))).sum())
        }
        _ => (0.0, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        assert_eq!(value_size(&json!({"S": "abc"})), 3);
        assert_eq!(value_size(&json!({"N": "12345"})), 4);
        assert_eq!(value_size(&json!({"BOOL": true})), 1);
        assert_eq!(value_size(&json!({"M": {"ab": {"S": "xyz"}}})), 3 + 2 + 3 + 1);
        let item = json!({"pk": {"S": "TENANT#1"}, "revision": {"N": "3"}});
        assert_eq!(item_size(item.as_object().unwrap()), 2 + 8 + 8 + 2);
    }

    #[test]
    fn reads_and_writes_are_billed_by_size_consistency_and_transaction() {
        let big = json!({"pk": {"S": "x".repeat(5000)}});
        assert_eq!(capacity("GetItem", &json!({"ConsistentRead": true}), &json!({"Item": big})), (2.0, 0.0));
        assert_eq!(capacity("GetItem", &json!({}), &json!({})), (0.5, 0.0), "a missing item still costs a read");
        assert_eq!(capacity("Query", &json!({}), &json!({"Items": [big, big]})), (1.5, 0.0));
        let batch = json!({"RequestItems": {"t": {"ConsistentRead": true, "Keys": [{}, {}, {}]}}});
        assert_eq!(capacity("BatchGetItem", &batch, &json!({"Responses": {"t": [big]}})), (4.0, 0.0));
        assert_eq!(capacity("PutItem", &json!({"Item": big}), &json!({})), (0.0, 5.0));
        let tx = json!({"TransactItems": [{"Put": {"Item": big}}, {"ConditionCheck": {}}]});
        assert_eq!(capacity("TransactWriteItems", &tx, &json!({})), (0.0, 12.0));
    }
}
