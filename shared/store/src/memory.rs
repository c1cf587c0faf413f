//! An in-memory [`Table`] for unit tests of the domain and the handlers. It keeps DynamoDB's
//! semantics that the code relies on: conditions checked before any write of a batch lands,
//! index queries by key attributes, `limit` counted before filters, exclusive start keys.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use serde_json::Value;

use crate::table::MAX_TRANSACTION_ITEMS;
use crate::{Cond, Index, Item, Key, Page, Query, StoreError, Table, WriteOp};

#[derive(Default)]
pub struct MemoryTable {
    items: Mutex<BTreeMap<Key, Item>>,
    calls: AtomicUsize,
}

impl MemoryTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many calls the table has served (reads and writes), for round-trip tests.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every item, for assertions.
    pub fn dump(&self) -> Vec<Item> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, Item>> {
        self.items.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

pub(crate) fn holds(cond: &Cond, item: Option<&Item>) -> bool {
    match cond {
        Cond::Always => true,
        Cond::Exists => item.is_some(),
        Cond::NotExists => item.is_none(),
        Cond::RevisionIs(v) => item.and_then(|i| i.get("revision")).and_then(Value::as_u64) == Some(*v),
        Cond::FieldIs(f, v) => item.and_then(|i| i.get(f)) == Some(v),
        Cond::FieldIsNot(f, v) => item.is_some_and(|i| i.get(f) != Some(v)),
        Cond::NotExistsOrExpired(now) => {
            item.is_none_or(|i| i.get("ttl").and_then(Value::as_i64).is_some_and(|t| t < *now))
        }
        Cond::All(cs) => cs.iter().all(|c| holds(c, item)),
    }
}

fn key_of_op(op: &WriteOp) -> Result<Key, StoreError> {
    match op {
        WriteOp::Put { item, .. } => Key::of(item).ok_or_else(|| StoreError::Corrupt("put without pk/sk".into())),
        WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } | WriteOp::Increment { key, .. } => Ok(key.clone()),
    }
}

fn sort_tuple(item: &Item, index: Option<Index>) -> (String, String, String) {
    let (_, isk) = Index::key_attrs(index);
    let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    (s(isk), s("pk"), s("sk"))
}

#[async_trait]
impl Table for MemoryTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count();
        Ok(self.lock().get(key).cloned())
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.count();
        let items = self.lock();
        Ok(keys.iter().filter_map(|k| items.get(k).cloned()).collect())
    }

    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        self.count();
        let (ipk, _) = Index::key_attrs(q.index);
        let items = self.lock();
        let mut matching: Vec<&Item> = items
            .values()
            .filter(|i| i.get(ipk).and_then(Value::as_str) == Some(q.pk.as_str()))
            .filter(|i| match (&q.sk_prefix, q.index) {
                (Some(p), index) => {
                    let (_, isk) = Index::key_attrs(index);
                    i.get(isk).and_then(Value::as_str).is_some_and(|s| s.starts_with(p.as_str()))
                }
                (None, _) => true,
            })
            .filter(|i| match &q.sk_between {
                Some((from, to)) => {
                    let (_, isk) = Index::key_attrs(q.index);
                    i.get(isk).and_then(Value::as_str).is_some_and(|s| s >= from.as_str() && s <= to.as_str())
                }
                None => true,
            })
            .collect();
        matching.sort_by_key(|i| sort_tuple(i, q.index));
        if !q.forward {
            matching.reverse();
        }
        if let Some(start) = &q.start {
            let start = sort_tuple(start, q.index);
            matching.retain(
                |i| {
                    if q.forward { sort_tuple(i, q.index) > start } else { sort_tuple(i, q.index) < start }
                },
            );
        }
        let evaluated: Vec<&Item> = matching.iter().take(q.limit as usize).copied().collect();
        let last_key = if matching.len() > evaluated.len() {
            evaluated.last().map(|i| {
                q.start_key_attrs().into_iter().filter_map(|a| i.get(a).map(|v| (a.to_owned(), v.clone()))).collect()
            })
        } else {
            None
        };
        let items = evaluated
            .into_iter()
            .filter(|i| q.filters.iter().all(|(attr, v)| at_path(i, attr) == Some(v)))
            .cloned()
            .collect();
        Ok(Page { items, last_key })
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let mut table = self.lock();
        for chunk in items.chunks(25) {
            self.count();
            for item in chunk {
                let key = Key::of(item).ok_or_else(|| StoreError::Corrupt("put without pk/sk".into()))?;
                table.insert(key, item.clone());
            }
        }
        Ok(())
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.count();
        if ops.len() > MAX_TRANSACTION_ITEMS {
            return Err(StoreError::TooLarge(ops.len()));
        }
        let mut items = self.lock();
        let keys = ops.iter().map(key_of_op).collect::<Result<Vec<_>, _>>()?;
        if keys.iter().collect::<std::collections::BTreeSet<_>>().len() != keys.len() {
            return Err(StoreError::Invalid("a transaction cannot include multiple operations on one item".into()));
        }
        for (i, (op, key)) in ops.iter().zip(&keys).enumerate() {
            let cond = match op {
                WriteOp::Put { cond, .. } | WriteOp::Delete { cond, .. } | WriteOp::Check { cond, .. } => cond,
                WriteOp::Increment { .. } => &Cond::Always,
            };
            if !holds(cond, items.get(key)) {
                return Err(StoreError::ConditionFailed { op: Some(i) });
            }
        }
        for (op, key) in ops.into_iter().zip(keys) {
            match op {
                WriteOp::Put { item, .. } => {
                    items.insert(key, item);
                }
                WriteOp::Delete { .. } => {
                    items.remove(&key);
                }
                WriteOp::Check { .. } => {}
                WriteOp::Increment { field, by, set, .. } => {
                    let entry = items.entry(key.clone()).or_insert_with(|| key.to_item());
                    let now = entry.get(&field).and_then(Value::as_i64).unwrap_or(0);
                    entry.insert(field, Value::from(now + by));
                    entry.extend(set);
                }
            }
        }
        Ok(())
    }
}

/// The value at a dotted attribute path (`tags.env`), as a filter reads it.
fn at_path<'a>(item: &'a Item, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let first = item.get(parts.next()?)?;
    parts.try_fold(first, |v, part| v.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(pk: &str, sk: &str, extra: Value) -> Item {
        let mut i = Key::new(pk, sk).to_item();
        if let Value::Object(m) = extra {
            i.extend(m);
        }
        i
    }

    #[tokio::test]
    async fn a_failed_condition_writes_nothing_of_the_batch() {
        let t = MemoryTable::new();
        t.write(vec![WriteOp::put(item("A", "1", json!({"revision": 1})), Cond::NotExists)]).await.unwrap();
        let err = t
            .write(vec![
                WriteOp::put(item("B", "1", json!({})), Cond::NotExists),
                WriteOp::put(item("A", "1", json!({"revision": 2})), Cond::RevisionIs(7)),
            ])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::ConditionFailed { op: Some(1) }));
        assert_eq!(t.len(), 1, "B must not have been written");
    }

    #[tokio::test]
    async fn queries_page_through_an_index_in_order_with_filters_after_limit() {
        let t = MemoryTable::new();
        let ops = (0..5)
            .map(|n| {
                WriteOp::put(
                    item(
                        &format!("T#{n}"),
                        "T",
                        json!({"gsi1pk": "ALL", "gsi1sk": format!("{n}"), "even": n % 2 == 0}),
                    ),
                    Cond::Always,
                )
            })
            .collect();
        t.write(ops).await.unwrap();
        let q = Query::new(Some(Index::Gsi1), "ALL").limit(2);
        let p1 = t.query(&q).await.unwrap();
        assert_eq!(p1.items.len(), 2);
        let p2 = t.query(&q.clone().start(p1.last_key.clone())).await.unwrap();
        assert_eq!(p2.items[0]["gsi1sk"], "2");
        let desc = t.query(&Query::new(Some(Index::Gsi1), "ALL").newest_first().limit(10)).await.unwrap();
        assert_eq!(desc.items[0]["gsi1sk"], "4");
        assert_eq!(desc.last_key, None);
        let filtered = t.query(&q.clone().filter("even", json!(true))).await.unwrap();
        assert_eq!(filtered.items.len(), 1, "limit counts items read, the filter applies after");
    }

    #[tokio::test]
    async fn increments_create_counters_and_expiry_conditions_see_time() {
        let t = MemoryTable::new();
        let k = Key::new("FLEET", "STATE#Healthy");
        for by in [1, 1, -1] {
            t.write(vec![WriteOp::Increment { key: k.clone(), field: "count".into(), by, set: Item::new() }])
                .await
                .unwrap();
        }
        assert_eq!(t.get(&k).await.unwrap().unwrap()["count"], 1);

        let idem = item("I", "I", json!({"ttl": 100}));
        t.write(vec![WriteOp::put(idem.clone(), Cond::NotExistsOrExpired(50))]).await.unwrap();
        assert!(t.write(vec![WriteOp::put(idem.clone(), Cond::NotExistsOrExpired(99))]).await.is_err());
        assert!(t.write(vec![WriteOp::put(idem, Cond::NotExistsOrExpired(101))]).await.is_ok());
    }
}
