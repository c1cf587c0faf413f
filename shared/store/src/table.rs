//! The storage port: what the registry needs from a table, nothing more.

use async_trait::async_trait;
use serde_json::Value;

use crate::{Item, Key};

/// The table's global secondary indexes (see [`crate::layout`] for what each holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// Collections: every record of a kind, records of a parent.
    Gsi1,
    /// Tenants by state; tenants of a resource.
    Gsi2,
    /// Tenants by customer.
    Gsi3,
    /// Tenants by release.
    Gsi4,
}

impl Index {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gsi1 => "gsi1",
            Self::Gsi2 => "gsi2",
            Self::Gsi3 => "gsi3",
            Self::Gsi4 => "gsi4",
        }
    }

    /// The (partition, sort) key attribute names of the index.
    pub fn key_attrs(index: Option<Self>) -> (&'static str, &'static str) {
        match index {
            None => ("pk", "sk"),
            Some(Self::Gsi1) => ("gsi1pk", "gsi1sk"),
            Some(Self::Gsi2) => ("gsi2pk", "gsi2sk"),
            Some(Self::Gsi3) => ("gsi3pk", "gsi3sk"),
            Some(Self::Gsi4) => ("gsi4pk", "gsi4sk"),
        }
    }
}

/// A condition on the current item, checked atomically with the write.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// No condition.
    Always,
    Exists,
    NotExists,
    /// The item exists with this `revision` (the write stamp's counter).
    RevisionIs(u64),
    /// The item exists and its attribute equals the value.
    FieldIs(String, Value),
    /// The item exists and its attribute does not equal the value (or is absent).
    FieldIsNot(String, Value),
    /// No item, or one whose `ttl` (epoch seconds) is before this time.
    NotExistsOrExpired(i64),
    All(Vec<Cond>),
}

/// One write of an all-or-nothing batch.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    /// Replace the whole item (it carries `pk` and `sk`).
    Put {
        item: Item,
        cond: Cond,
    },
    Delete {
        key: Key,
        cond: Cond,
    },
    /// Write nothing; fail the batch unless the condition holds.
    Check {
        key: Key,
        cond: Cond,
    },
    /// Add `by` to a numeric attribute (creating the item and attribute at 0), and set `set`.
    Increment {
        key: Key,
        field: String,
        by: i64,
        set: Item,
    },
}

impl WriteOp {
    pub fn put(item: Item, cond: Cond) -> Self {
        Self::Put { item, cond }
    }
}

/// A key-condition query on the table or an index, newest or oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub index: Option<Index>,
    pub pk: String,
    pub sk_prefix: Option<String>,
    /// Sort keys from the first to the second, inclusive.
    pub sk_between: Option<(String, String)>,
    pub forward: bool,
    pub limit: u32,
    /// Exclusive start key, from a previous page.
    pub start: Option<Item>,
    /// Attribute equality filters, applied after `limit` items are read (as DynamoDB does); a
    /// dotted attribute (`tags.env`) names an entry of a map.
    pub filters: Vec<(String, Value)>,
}

impl Query {
    pub fn new(index: Option<Index>, pk: impl Into<String>) -> Self {
        Self {
            index,
            pk: pk.into(),
            sk_prefix: None,
            sk_between: None,
            forward: true,
            limit: 100,
            start: None,
            filters: Vec::new(),
        }
    }

    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.sk_prefix = Some(p.into());
        self
    }

    pub fn between(mut self, from: impl Into<String>, to: impl Into<String>) -> Self {
        self.sk_between = Some((from.into(), to.into()));
        self
    }

    pub fn limit(mut self, n: u32) -> Self {
        self.limit = n;
        self
    }

    pub fn newest_first(mut self) -> Self {
        self.forward = false;
        self
    }

    pub fn start(mut self, start: Option<Item>) -> Self {
        self.start = start;
        self
    }

    pub fn filter(mut self, attr: &str, value: Value) -> Self {
        self.filters.push((attr.to_owned(), value));
        self
    }

    /// The attribute names that make up a start key for this query.
    pub fn start_key_attrs(&self) -> Vec<&'static str> {
        let (ipk, isk) = Index::key_attrs(self.index);
        let mut attrs = vec!["pk", "sk"];
        if self.index.is_some() {
            attrs.extend([ipk, isk]);
        }
        attrs
    }
}

/// One page of a query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub items: Vec<Item>,
    /// Where the next page starts; `None` when the query is done.
    pub last_key: Option<Item>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition did not hold. `op` is the index of the failing write in the batch when known.
    #[error("condition failed (write {op:?})")]
    ConditionFailed { op: Option<usize> },
    /// Another transaction touched the same items at the same time; retry.
    #[error("transaction conflict")]
    Conflict,
    /// The batch is more than the table accepts in one transaction.
    #[error("too many writes in one transaction: {0}")]
    TooLarge(usize),
    /// A request DynamoDB refuses as malformed (e.g. two writes of one item in a transaction).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// An item that does not read back as its type.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// The table could not be reached or refused the call.
    #[error("storage unavailable: {0:#}")]
    Unavailable(#[from] anyhow::Error),
}

/// DynamoDB's limit on items in one `TransactWriteItems`.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// The table port. Every write is a batch that lands whole or not at all.
#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError>;
    /// Items for these keys (missing ones are left out), in no particular order.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError>;
    async fn query(&self, query: &Query) -> Result<Page, StoreError>;
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;
    /// Puts many items, unconditionally and not atomically (DynamoDB `BatchWriteItem`, 25 a
    /// call, unprocessed items retried). For append-only data whose keys make a repeat a no-op.
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError>;
}
