//! A table port that counts what goes through it, wrapping the real adapter: calls by
//! operation (as DynamoDB bills them: a `batch_get` of more than 100 keys or a `batch_put` of
//! more than 25 items is several requests) and the items read and written. For measurements.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use store::{Item, Key, Page, Query, StoreError, Table, WriteOp};

/// What went through a [`CountingTable`] so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// DynamoDB requests by operation (`GetItem`, `BatchGetItem`, `Query`, `TransactWriteItems`,
    /// a single-item write, `BatchWriteItem`).
    pub requests: BTreeMap<&'static str, usize>,
    pub items_read: usize,
    pub items_written: usize,
}

impl Counts {
    pub fn total_requests(&self) -> usize {
        self.requests.values().sum()
    }
}

pub struct CountingTable {
    pub inner: Arc<dyn Table>,
    counts: Mutex<Counts>,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self { inner, counts: Mutex::new(Counts::default()) }
    }

    pub fn counts(&self) -> Counts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn add(&self, op: &'static str, requests: usize, read: usize, written: usize) {
        if let Ok(mut c) = self.counts.lock() {
            *c.requests.entry(op).or_default() += requests;
            c.items_read += read;
            c.items_written += written;
        }
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self.inner.get(key).await;
        self.add("GetItem", 1, usize::from(matches!(out, Ok(Some(_)))), 0);
        out
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let out = self.inner.batch_get(keys).await;
        let read = out.as_ref().map(Vec::len).unwrap_or(0);
        self.add("BatchGetItem", keys.len().div_ceil(100).max(1), read, 0);
        out
    }
    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let out = self.inner.query(q).await;
        let read = out.as_ref().map(|p| p.items.len()).unwrap_or(0);
        self.add("Query", 1, read, 0);
        out
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let n = ops.len();
        // The adapter sends one write alone as a `PutItem`/`UpdateItem`/`DeleteItem`.
        let op = if n == 1 { "single-item write" } else { "TransactWriteItems" };
        let out = self.inner.write(ops).await;
        self.add(op, usize::from(n > 0), 0, if out.is_ok() { n } else { 0 });
        out
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let n = items.len();
        let out = self.inner.batch_put(items).await;
        self.add("BatchWriteItem", n.div_ceil(25).max(1), 0, if out.is_ok() { n } else { 0 });
        out
    }
}
