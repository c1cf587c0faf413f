//! The field change log: what changed, field by field, in each write of a logged record.
//! Built from the before/after images of a table write (a DynamoDB stream record), so no writer
//! can forget to log. Pure: the images come in as JSON objects.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The record kinds that carry a field change log (the seed's seven).
pub const LOGGED_KINDS: [&str; 7] =
    ["customer", "license", "license_assignment", "release", "component_version", "tenant", "tenant_config"];

/// Attributes that are bookkeeping, not fields: never an entry of their own.
const BOOKKEEPING: [&str; 20] = [
    "pk",
    "sk",
    "gsi1pk",
    "gsi1sk",
    "gsi2pk",
    "gsi2sk",
    "gsi3pk",
    "gsi3sk",
    "gsi4pk",
    "gsi4sk",
    "item_type",
    "revision",
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "change_request_id",
    "source",
    DELETED,
    "ttl",
];

/// What happened to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Insert,
    Modify,
    Remove,
}

/// One changed field of one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeEntry {
    /// When the write happened (the record's `updated_at`), RFC 3339 with microseconds.
    pub at: String,
    /// Who made it: `sub <email>`, or `system:<name>`.
    pub actor: String,
    /// The actor's `sub` alone (what `?actor=` matches).
    pub actor_sub: String,
    /// The record kind: `tenant`, `tenant_config`, `release`...
    pub entity: String,
    /// The record's id (`ten_...`, `3.1.0`, `ten_.../smtp.host`).
    pub entity_id: String,
    /// The tenant the record belongs to, when it belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tenant_id: Option<String>,
    /// The field, dotted for nested maps (`components.webapp`).
    pub field: String,
    /// The field's value before the write, as stored: any JSON value, `null` when it had none.
    pub old: Value,
    /// The field's value after the write: any JSON value, `null` when it was removed.
    pub new: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub change_request_id: Option<String>,
    /// `api`, `workflow`, `schedule`, `alarm` or `seed`.
    pub source: String,
    pub write: WriteKind,
    /// The stream sequence number of the write: with `field`, what makes an entry unique.
    pub sequence: String,
}

/// A write of one table item, as a stream delivers it.
#[derive(Debug, Clone)]
pub struct ItemWrite<'a> {
    pub kind: WriteKind,
    pub sequence: &'a str,
    pub old: Option<&'a Map<String, Value>>,
    pub new: Option<&'a Map<String, Value>>,
    /// When the stream saw the write; used only when the item carries no `updated_at`.
    pub seen_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error("the {0} image is missing")]
    MissingImage(&'static str),
    #[error("the item has no `{0}`")]
    MissingAttribute(&'static str),
}

/// A fixed-width UTC timestamp, so that entries sort by time as strings.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn str_of<'a>(item: &'a Map<String, Value>, attr: &str) -> Option<&'a str> {
    item.get(attr).and_then(Value::as_str)
}

fn flatten(prefix: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other.clone());
        }
    }
}

fn fields(item: Option<&Map<String, Value>>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (k, v) in item.into_iter().flatten() {
        if !BOOKKEEPING.contains(&k.as_str()) {
            flatten(k, v, &mut out);
        }
    }
    out
}

fn entity_id(kind: &str, item: &Map<String, Value>) -> Option<String> {
    let s = |a| str_of(item, a).map(str::to_owned);
    match kind {
        "release" => s("version"),
        "component_version" => Some(format!("{}/{}", str_of(item, "tenant_id")?, str_of(item, "name")?)),
        "tenant_config" => Some(format!("{}/{}", str_of(item, "tenant_id")?, str_of(item, "key")?)),
        _ => s("id"),
    }
}

fn tenant_of(kind: &str, item: &Map<String, Value>) -> Option<String> {
    match kind {
        "tenant" => str_of(item, "id"),
        "component_version" | "tenant_config" => str_of(item, "tenant_id"),
        _ => None,
    }
    .map(str::to_owned)
}

/// The `sub` part of an `updated_by` stamp (`sub <email>`).
pub fn actor_sub(actor: &str) -> &str {
    actor.split_once(" <").map_or(actor, |(sub, _)| sub)
}

/// The attribute that marks a deleted record's tombstone.
pub const DELETED: &str = "deleted";

/// Whether an item (or a stream image of one) is a deleted record's tombstone (`deleted: true`):
/// the API deletes a record by writing it, stamped with the deleter, in the record's place, and
/// DynamoDB's TTL removes it later. Every read treats it as absent.
pub fn is_tombstone(image: &Map<String, Value>) -> bool {
    image.get(DELETED) == Some(&Value::Bool(true))
}

/// The entries of one write: one per changed field, none for an unchanged write or a write of a
/// kind that is not logged. A delete — the write of a tombstone over the record — records every
/// field as removed (`Remove`), attributed to the deleter; the later removal of the tombstone
/// by DynamoDB's TTL logs nothing; a new record over a tombstone is an `Insert`. An item removed
/// outside the API is a `Remove` by `unknown`.
pub fn entries(write: &ItemWrite<'_>) -> Result<Vec<ChangeEntry>, HistoryError> {
    // What happened to the record, whichever write carried it, and the image that names the
    // record: the new one (a tombstone carries the record's fields), the old one of a removal.
    let (what, old, new, image) = match write.kind {
        WriteKind::Insert => {
            let new = write.new.ok_or(HistoryError::MissingImage("new"))?;
            (WriteKind::Insert, None, Some(new), new)
        }
        WriteKind::Modify => {
            let new = write.new.ok_or(HistoryError::MissingImage("new"))?;
            let old = write.old.ok_or(HistoryError::MissingImage("old"))?;
            match (is_tombstone(old), is_tombstone(new)) {
                (false, false) => (WriteKind::Modify, Some(old), Some(new), new),
                (false, true) => (WriteKind::Remove, Some(old), Some(new), new),
                (true, false) => (WriteKind::Insert, None, Some(new), new),
                (true, true) => return Ok(Vec::new()),
            }
        }
        WriteKind::Remove => {
            let old = write.old.ok_or(HistoryError::MissingImage("old"))?;
            if is_tombstone(old) {
                return Ok(Vec::new());
            }
            (WriteKind::Remove, Some(old), None, old)
        }
    };
    // The stamp of the write: the new image's, none for a removal outside the API.
    let unknown = Map::new();
    let stamp_from = new.unwrap_or(&unknown);
    let Some(kind) = str_of(image, "item_type") else { return Ok(Vec::new()) };
    if !LOGGED_KINDS.contains(&kind) {
        return Ok(Vec::new());
    }
    let entity_id = entity_id(kind, image).ok_or(HistoryError::MissingAttribute("id"))?;
    let actor = str_of(stamp_from, "updated_by").unwrap_or("unknown").to_owned();
    let at = str_of(stamp_from, "updated_at")
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or(write.seen_at, |t| t.with_timezone(&Utc));
    let (old, new) = match what {
        WriteKind::Insert => (BTreeMap::new(), fields(new)),
        WriteKind::Modify => (fields(old), fields(new)),
        WriteKind::Remove => (fields(old), BTreeMap::new()),
    };
    let mut names: Vec<&String> = old.keys().chain(new.keys()).collect();
    names.sort();
    names.dedup();
    let base = ChangeEntry {
        at: timestamp(at),
        actor_sub: actor_sub(&actor).to_owned(),
        actor,
        entity: kind.to_owned(),
        entity_id,
        tenant_id: tenant_of(kind, image),
        field: String::new(),
        old: Value::Null,
        new: Value::Null,
        change_request_id: str_of(stamp_from, "change_request_id").map(str::to_owned),
        source: str_of(stamp_from, "source").unwrap_or("unknown").to_owned(),
        write: what,
        sequence: write.sequence.to_owned(),
    };
    Ok(names
        .into_iter()
        .filter_map(|name| {
            let (o, n) = (old.get(name).cloned().unwrap_or(Value::Null), new.get(name).cloned().unwrap_or(Value::Null));
            (o != n).then(|| ChangeEntry { field: name.clone(), old: o, new: n, ..base.clone() })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    fn tenant(state: &str, revision: u64, by: &str) -> Map<String, Value> {
        obj(json!({
            "pk": "TENANT#ten_1", "sk": "TENANT", "item_type": "tenant", "id": "ten_1", "name": "acme-prod",
            "state": state, "release": "3.1.0", "revision": revision, "updated_by": by,
            "updated_at": "2026-11-30T06:00:00.5Z", "change_request_id": "chg_9", "source": "workflow",
            "gsi2pk": format!("STATE#{state}")
        }))
    }

    fn write<'a>(
        kind: WriteKind,
        old: Option<&'a Map<String, Value>>,
        new: Option<&'a Map<String, Value>>,
    ) -> ItemWrite<'a> {
        ItemWrite { kind, sequence: "100", old, new, seen_at: Utc::now() }
    }

    #[test]
    fn a_state_transition_is_one_entry_with_actor_and_change_request() {
        let (old, new) = (tenant("InTesting", 3, "system:workflow"), tenant("Healthy", 4, "system:workflow"));
        let e = entries(&write(WriteKind::Modify, Some(&old), Some(&new))).unwrap();
        assert_eq!(e.len(), 1, "bookkeeping (revision, gsi keys) must not be entries: {e:?}");
        assert_eq!((e[0].field.as_str(), &e[0].old, &e[0].new), ("state", &json!("InTesting"), &json!("Healthy")));
        assert_eq!(e[0].change_request_id.as_deref(), Some("chg_9"));
        assert_eq!(e[0].tenant_id.as_deref(), Some("ten_1"));
        assert_eq!(e[0].at, "2026-11-30T06:00:00.500000Z");
        assert_eq!(e[0].source, "workflow");
    }

    #[test]
    fn an_unchanged_write_and_unlogged_kinds_produce_nothing() {
        let (a, b) = (tenant("Healthy", 3, "x"), tenant("Healthy", 4, "y"));
        assert!(entries(&write(WriteKind::Modify, Some(&a), Some(&b))).unwrap().is_empty());
        let cr = obj(json!({"item_type": "change_request", "id": "chg_1", "status": "running"}));
        assert!(entries(&write(WriteKind::Insert, None, Some(&cr))).unwrap().is_empty());
        let counter = obj(json!({"pk": "FLEET", "count": 3}));
        assert!(entries(&write(WriteKind::Modify, Some(&counter), Some(&counter))).unwrap().is_empty());
    }

    #[test]
    fn an_insert_logs_every_field_from_nothing() {
        let new = tenant("Provisioning", 1, "alice <alice@vendor.example>");
        let e = entries(&write(WriteKind::Insert, None, Some(&new))).unwrap();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["id", "name", "release", "state"]);
        assert!(e.iter().all(|e| e.old.is_null() && e.actor_sub == "alice"));
    }

    #[test]
    fn nested_maps_are_diffed_key_by_key() {
        let old = obj(
            json!({"item_type": "release", "version": "3.1.0", "components": {"webapp": "3.1.0", "api": "3.1.0"}, "updated_by": "a"}),
        );
        let new = obj(
            json!({"item_type": "release", "version": "3.1.0", "components": {"webapp": "3.1.1", "api": "3.1.0", "etl": "1.0"}, "updated_by": "a"}),
        );
        let e = entries(&write(WriteKind::Modify, Some(&old), Some(&new))).unwrap();
        let got: Vec<(&str, Value, Value)> =
            e.iter().map(|e| (e.field.as_str(), e.old.clone(), e.new.clone())).collect();
        assert_eq!(
            got,
            [("components.etl", json!(null), json!("1.0")), ("components.webapp", json!("3.1.0"), json!("3.1.1"))]
        );
        assert_eq!(e[0].entity_id, "3.1.0");
    }

    fn config(extra: Value) -> Map<String, Value> {
        let mut item =
            obj(json!({"item_type": "tenant_config", "tenant_id": "ten_1", "key": "smtp.host", "value": "mail"}));
        item.extend(obj(extra));
        item
    }

    #[test]
    fn a_delete_is_the_tombstone_write_attributed_to_the_deleter_and_removes_every_field() {
        let live = config(json!({"updated_by": "alice", "revision": 1}));
        let tomb = config(json!({"updated_by": "bob <b@x.io>", "revision": 2, "deleted": true, "ttl": 1796018400}));
        let e = entries(&write(WriteKind::Modify, Some(&live), Some(&tomb))).unwrap();
        let got: Vec<(&str, Value, Value)> =
            e.iter().map(|e| (e.field.as_str(), e.old.clone(), e.new.clone())).collect();
        assert_eq!(
            got,
            [
                ("key", json!("smtp.host"), json!(null)),
                ("tenant_id", json!("ten_1"), json!(null)),
                ("value", json!("mail"), json!(null))
            ]
        );
        assert!(e.iter().all(|e| e.actor == "bob <b@x.io>" && e.actor_sub == "bob" && e.write == WriteKind::Remove));
        assert_eq!(e[0].entity_id, "ten_1/smtp.host");
        assert_eq!(e[0].tenant_id.as_deref(), Some("ten_1"));
    }

    #[test]
    fn the_ttl_sweep_of_a_tombstone_logs_nothing_and_a_record_over_one_is_an_insert() {
        let tomb = config(json!({"updated_by": "bob", "revision": 2, "deleted": true, "ttl": 1796018400}));
        assert!(entries(&write(WriteKind::Remove, Some(&tomb), None)).unwrap().is_empty(), "the sweep is not a change");
        let again = config(json!({"value": "smtp2", "updated_by": "carol", "revision": 1}));
        let e = entries(&write(WriteKind::Modify, Some(&tomb), Some(&again))).unwrap();
        assert_eq!(e.len(), 3, "every field of the new record: {e:?}");
        assert!(e.iter().all(|e| e.old.is_null() && e.write == WriteKind::Insert && e.actor == "carol"));
        assert_eq!(e.iter().find(|e| e.field == "value").unwrap().new, json!("smtp2"));
    }

    #[test]
    fn an_item_removed_outside_the_api_is_a_remove_by_unknown() {
        let live = config(json!({"updated_by": "alice", "revision": 1}));
        let e = entries(&write(WriteKind::Remove, Some(&live), None)).unwrap();
        assert_eq!(e.len(), 3);
        assert!(e.iter().all(|e| e.actor == "unknown" && e.source == "unknown" && e.new.is_null()));
    }

    #[test]
    fn secrets_show_as_their_reference() {
        let new = obj(
            json!({"item_type": "tenant_config", "tenant_id": "ten_1", "key": "db.password", "secret_ref": "ssm:/t/db", "updated_by": "a"}),
        );
        let e = entries(&write(WriteKind::Insert, None, Some(&new))).unwrap();
        let secret = e.iter().find(|e| e.field == "secret_ref").unwrap();
        assert_eq!(secret.new, json!("ssm:/t/db"));
    }

    #[test]
    fn missing_images_are_errors_not_silence() {
        assert_eq!(entries(&write(WriteKind::Modify, None, None)).unwrap_err(), HistoryError::MissingImage("new"));
        assert_eq!(entries(&write(WriteKind::Remove, None, None)).unwrap_err(), HistoryError::MissingImage("old"));
        let no_id = obj(json!({"item_type": "tenant", "state": "Healthy"}));
        assert_eq!(
            entries(&write(WriteKind::Insert, None, Some(&no_id))).unwrap_err(),
            HistoryError::MissingAttribute("id")
        );
    }
}
