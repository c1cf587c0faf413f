//! Storage for the registry: one DynamoDB table behind a small port.
//!
//! - [`table`]: the port (`Table`): get, batch get, query, and all-or-nothing conditional writes.
//! - [`dynamo`]: its DynamoDB adapter; [`memory`]: an in-memory fake for unit tests.
//! - [`layout`]: where each model lives in the table (keys, indexes, access patterns).
//! - [`tx`]: an all-or-nothing batch of writes being built, each with its caller's error.
//! - [`cursor`]: opaque `next_token`s for paginated lists.

pub mod cursor;
pub mod dynamo;
pub mod history;
pub mod item;
pub mod layout;
pub mod memory;
pub mod table;
pub mod tx;

pub use item::{Item, Key};
pub use table::{Cond, Index, Page, Query, StoreError, Table, WriteOp};
pub use tx::Tx;
