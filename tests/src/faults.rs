//! Fault injection for the integration tests: a store and a workflow port that fail every Nth
//! call as if DynamoDB or Step Functions were unreachable, wrapping the real adapters.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use engine::{ExecutionStatus, WorkflowError, Workflows};
use serde_json::Value;
use store::{Item, Key, Page, Query, StoreError, Table, WriteOp};

/// Counts calls and says which fail: every `every`th, from the first counted.
#[derive(Debug)]
pub struct Every {
    every: usize,
    calls: AtomicUsize,
    failed: AtomicUsize,
}

impl Every {
    pub fn new(every: usize) -> Self {
        Self { every: every.max(1), calls: AtomicUsize::new(0), failed: AtomicUsize::new(0) }
    }

    fn fails(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let fail = n.is_multiple_of(self.every);
        if fail {
            self.failed.fetch_add(1, Ordering::SeqCst);
        }
        fail
    }

    /// (calls, failed ones) so far.
    pub fn counts(&self) -> (usize, usize) {
        (self.calls.load(Ordering::SeqCst), self.failed.load(Ordering::SeqCst))
    }
}

/// A table whose every Nth call fails `Unavailable` before it reaches the real one (so a failed
/// write wrote nothing, as DynamoDB's would not have).
pub struct FaultyTable {
    pub inner: Arc<dyn Table>,
    pub faults: Every,
}

fn down() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("injected fault: the table did not answer"))
}

#[async_trait]
impl Table for FaultyTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        if self.faults.fails() {
            return Err(down());
        }
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if self.faults.fails() {
            return Err(down());
        }
        self.inner.batch_get(keys).await
    }
    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        if self.faults.fails() {
            return Err(down());
        }
        self.inner.query(q).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if self.faults.fails() {
            return Err(down());
        }
        self.inner.write(ops).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        if self.faults.fails() {
            return Err(down());
        }
        self.inner.batch_put(items).await
    }
}

/// Workflows whose every Nth start, status or stop fails `Unavailable` (before reaching Step
/// Functions).
pub struct FaultyWorkflows {
    pub inner: Arc<dyn Workflows>,
    pub faults: Every,
}

fn sfn_down() -> WorkflowError {
    WorkflowError::Unavailable(anyhow::anyhow!("injected fault: step functions did not answer"))
}

#[async_trait]
impl Workflows for FaultyWorkflows {
    async fn start(&self, name: &str, input: &Value) -> Result<String, WorkflowError> {
        if self.faults.fails() {
            return Err(sfn_down());
        }
        self.inner.start(name, input).await
    }
    fn execution_arn(&self, name: &str) -> String {
        self.inner.execution_arn(name)
    }
    async fn status(&self, name: &str) -> Result<Option<ExecutionStatus>, WorkflowError> {
        if self.faults.fails() {
            return Err(sfn_down());
        }
        self.inner.status(name).await
    }
    async fn stop(&self, name: &str, cause: &str) -> Result<(), WorkflowError> {
        if self.faults.fails() {
            return Err(sfn_down());
        }
        self.inner.stop(name, cause).await
    }
    async fn wake(&self, task_token: &str, output: &Value) -> Result<bool, WorkflowError> {
        if self.faults.fails() {
            return Err(sfn_down());
        }
        self.inner.wake(task_token, output).await
    }
}
