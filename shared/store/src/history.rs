//! Where change-log entries live: the change-log table, laid out like the registry table
//! (`pk`/`sk` and four GSIs) so one template definition serves both shapes.
//!
//! | index | partition | sort |
//! |---|---|---|
//! | table | `ENTITY#<kind>#<id>` | `<at>#<sequence>#<field>` |
//! | gsi1 | `TENANT#<tenant_id>` | same |
//! | gsi2 | `ACTOR#<sub>` | same |
//! | gsi3 | `CHANGE#<change_request_id>` | same |
//! | gsi4 | `ALL` | same |
//!
//! `at` is a fixed-width UTC timestamp, so every partition sorts by time and `since`/`until`
//! are a `BETWEEN` on the sort key. The key is made of the stream record's sequence number and
//! the field: a redelivered record writes the same items again, adding nothing.

use domain::history::ChangeEntry;
use serde_json::Value;

use crate::item::to_item;
use crate::{Index, Item, Query, StoreError};

pub fn entry_sort_key(e: &ChangeEntry) -> String {
    format!("{}#{}#{}", e.at, e.sequence, e.field)
}

pub fn entity_partition(kind: &str, id: &str) -> String {
    format!("ENTITY#{kind}#{id}")
}

pub fn entry_item(e: &ChangeEntry) -> Result<Item, StoreError> {
    let mut item = to_item(e)?;
    let sk = entry_sort_key(e);
    let mut key = |attr: &str, value: String| {
        item.insert(attr.to_owned(), Value::String(value));
    };
    key("pk", entity_partition(&e.entity, &e.entity_id));
    key("sk", sk.clone());
    if let Some(t) = &e.tenant_id {
        key("gsi1pk", format!("TENANT#{t}"));
        key("gsi1sk", sk.clone());
    }
    key("gsi2pk", format!("ACTOR#{}", e.actor_sub));
    key("gsi2sk", sk.clone());
    if let Some(c) = &e.change_request_id {
        key("gsi3pk", format!("CHANGE#{c}"));
        key("gsi3sk", sk.clone());
    }
    key("gsi4pk", "ALL".into());
    key("gsi4sk", sk);
    item.insert("item_type".into(), Value::String("change_entry".into()));
    Ok(item)
}

pub fn by_entity(kind: &str, id: &str) -> Query {
    Query::new(None, entity_partition(kind, id)).newest_first()
}
pub fn by_tenant(tenant_id: &str) -> Query {
    Query::new(Some(Index::Gsi1), format!("TENANT#{tenant_id}")).newest_first()
}
pub fn by_actor(sub: &str) -> Query {
    Query::new(Some(Index::Gsi2), format!("ACTOR#{sub}")).newest_first()
}
pub fn by_change_request(id: &str) -> Query {
    Query::new(Some(Index::Gsi3), format!("CHANGE#{id}")).newest_first()
}
pub fn everything() -> Query {
    Query::new(Some(Index::Gsi4), "ALL").newest_first()
}

/// Limits a history query to `[since, until]` (timestamps as [`domain::history::timestamp`]
/// writes them; either may be open).
pub fn within(q: Query, since: Option<&str>, until: Option<&str>) -> Query {
    if since.is_none() && until.is_none() {
        return q;
    }
    // '0' sorts before every timestamp and '~' after every character of a timestamp, sequence
    // number and field name (a key value may not be empty).
    let to = until.map_or_else(|| "~".to_owned(), |u| format!("{u}~"));
    q.between(since.unwrap_or("0"), to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Table;
    use crate::memory::MemoryTable;
    use domain::history::WriteKind;

    fn entry(at: &str, field: &str, seq: &str) -> ChangeEntry {
        ChangeEntry {
            at: at.into(),
            actor: "alice <a@x.io>".into(),
            actor_sub: "alice".into(),
            entity: "tenant".into(),
            entity_id: "ten_1".into(),
            tenant_id: Some("ten_1".into()),
            field: field.into(),
            old: Value::Null,
            new: Value::from(1),
            change_request_id: Some("chg_1".into()),
            source: "api".into(),
            write: WriteKind::Modify,
            sequence: seq.into(),
        }
    }

    #[tokio::test]
    async fn entries_are_found_by_every_key_newest_first_and_a_repeat_adds_nothing() {
        let t = MemoryTable::new();
        let entries =
            [entry("2026-11-30T06:00:00.000000Z", "state", "1"), entry("2026-11-30T07:00:00.000000Z", "name", "2")];
        let items: Vec<Item> = entries.iter().map(|e| entry_item(e).unwrap()).collect();
        t.batch_put(items.clone()).await.unwrap();
        t.batch_put(items).await.unwrap();
        assert_eq!(t.len(), 2, "redelivery must not add entries");
        for q in [
            by_entity("tenant", "ten_1"),
            by_tenant("ten_1"),
            by_actor("alice"),
            by_change_request("chg_1"),
            everything(),
        ] {
            let page = t.query(&q).await.unwrap();
            let fields: Vec<&str> = page.items.iter().map(|i| i["field"].as_str().unwrap()).collect();
            assert_eq!(fields, ["name", "state"], "{q:?}");
        }
        let early = t.query(&within(by_tenant("ten_1"), None, Some("2026-11-30T06:30:00.000000Z"))).await.unwrap();
        assert_eq!(early.items.len(), 1);
        assert_eq!(early.items[0]["field"], "state");
        let late = t.query(&within(by_tenant("ten_1"), Some("2026-11-30T06:30:00.000000Z"), None)).await.unwrap();
        assert_eq!(late.items[0]["field"], "name");
    }
}
