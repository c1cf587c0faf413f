//! The registry over the in-memory store, with its change log written as each write commits (what
//! the table's stream and the `changelog` function do in AWS and on moto). For `devstack serve
//! --memory`: a fleet of thousands in seconds, to measure what a page costs at that size
//! (provisioning 1,000 tenants through the API on moto runs 1,000 provisions; `bench/fleet.sh`
//! seeds moto in batches instead, without the change log). It runs no workflow: a change request
//! it starts never moves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use domain::history::{self, ItemWrite, WriteKind};
use store::memory::MemoryTable;
use store::{Item, Key, Page, Query, StoreError, Table, WriteOp};

pub struct LoggedMemoryTable {
    inner: MemoryTable,
    history: Arc<dyn Table>,
    sequence: AtomicU64,
}

impl LoggedMemoryTable {
    pub fn new(history: Arc<dyn Table>) -> Self {
        Self { inner: MemoryTable::new(), history, sequence: AtomicU64::new(1) }
    }
}

fn key_of(op: &WriteOp) -> Option<Key> {
    let s = |item: &Item, k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    match op {
        WriteOp::Put { item, .. } => Some(Key::new(s(item, "pk")?, s(item, "sk")?)),
        WriteOp::Delete { key, .. } | WriteOp::Increment { key, .. } => Some(key.clone()),
        WriteOp::Check { .. } => None,
    }
}

fn find<'a>(items: &'a [Item], key: &Key) -> Option<&'a Item> {
    items.iter().find(|i| {
        i.get("pk").and_then(|v| v.as_str()) == Some(&key.pk) && i.get("sk").and_then(|v| v.as_str()) == Some(&key.sk)
    })
}

#[async_trait]
impl Table for LoggedMemoryTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let keys: Vec<Key> = ops.iter().filter_map(key_of).collect();
        let before = self.inner.batch_get(&keys).await?;
        self.inner.write(ops).await?;
        let after = self.inner.batch_get(&keys).await?;
        let mut entries = Vec::new();
        for key in &keys {
            let (old, new) = (find(&before, key), find(&after, key));
            let kind = match (old, new) {
                (None, Some(_)) => WriteKind::Insert,
                (Some(_), Some(_)) => WriteKind::Modify,
                (Some(_), None) => WriteKind::Remove,
                (None, None) => continue,
            };
            let sequence = format!("{:021}", self.sequence.fetch_add(1, Ordering::SeqCst));
            let write = ItemWrite { kind, sequence: &sequence, old, new, seen_at: chrono::Utc::now() };
            // As the changelog function does: a record it cannot read is skipped, not fatal.
            for e in history::entries(&write).unwrap_or_default() {
                entries.push(store::history::entry_item(&e)?);
            }
        }
        if !entries.is_empty() {
            self.history.batch_put(entries).await?;
        }
        Ok(())
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.inner.batch_put(items).await
    }
}
