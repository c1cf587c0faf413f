//! An all-or-nothing batch of writes being built, each write with the error its caller reports
//! when that write's condition fails. The error type is the caller's: the HTTP edge keeps
//! problems, the change-request core keeps domain errors.

use crate::layout::Record;
use crate::{Cond, StoreError, Table, WriteOp};

/// Writes that land together or not at all, each with what to report if its condition fails.
#[derive(Debug)]
pub struct Tx<E> {
    ops: Vec<WriteOp>,
    on_fail: Vec<E>,
}

impl<E> Default for Tx<E> {
    fn default() -> Self {
        Self { ops: Vec::new(), on_fail: Vec::new() }
    }
}

impl<E: Clone + From<StoreError>> Tx<E> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, op: WriteOp, on_fail: E) -> &mut Self {
        self.ops.push(op);
        self.on_fail.push(on_fail);
        self
    }

    /// Puts a record; `cond` guards it.
    pub fn put<R: Record>(&mut self, record: &R, cond: Cond, on_fail: E) -> Result<&mut Self, E> {
        let item = record.to_item().map_err(E::from)?;
        Ok(self.push(WriteOp::put(item, cond), on_fail))
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Moves the writes of another batch into this one.
    pub fn extend(&mut self, other: Tx<E>) {
        self.ops.extend(other.ops);
        self.on_fail.extend(other.on_fail);
    }

    /// The writes and their errors, in order.
    pub fn into_parts(self) -> (Vec<WriteOp>, Vec<E>) {
        (self.ops, self.on_fail)
    }

    /// Writes the batch to `table`; a failed condition is the error pushed with its write, any
    /// other failure the store's error.
    pub async fn commit(self, table: &dyn Table) -> Result<(), E> {
        match table.write(self.ops).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { op: Some(i) }) if i < self.on_fail.len() => Err(self.on_fail[i].clone()),
            Err(e) => Err(E::from(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryTable;
    use crate::{Item, Key};
    use serde_json::json;

    #[derive(Debug, Clone, PartialEq)]
    enum Why {
        First,
        Second,
        Store(String),
    }

    impl From<StoreError> for Why {
        fn from(e: StoreError) -> Self {
            Self::Store(e.to_string())
        }
    }

    fn item(pk: &str) -> Item {
        let mut i = Key::new(pk, "X").to_item();
        i.insert("v".into(), json!(1));
        i
    }

    #[tokio::test]
    async fn a_failed_condition_reports_the_error_of_its_write_and_writes_nothing() {
        let table = MemoryTable::new();
        let mut tx = Tx::new();
        tx.push(WriteOp::put(item("A"), Cond::NotExists), Why::First);
        tx.push(WriteOp::put(item("B"), Cond::Exists), Why::Second);
        assert_eq!(tx.len(), 2);
        assert_eq!(tx.commit(&table).await, Err(Why::Second));
        assert_eq!(table.get(&Key::new("A", "X")).await.unwrap(), None);

        let mut ok = Tx::<Why>::new();
        ok.push(WriteOp::put(item("A"), Cond::NotExists), Why::First);
        let mut more = Tx::new();
        more.push(WriteOp::put(item("B"), Cond::NotExists), Why::Second);
        ok.extend(more);
        ok.commit(&table).await.unwrap();
        assert!(table.get(&Key::new("B", "X")).await.unwrap().is_some());
    }
}
