//! [`UsageSource`]: what the product on a tenant meters (assets, users, data volume), as its
//! Update Manager API reports it. The `metering` schedule reads it once a day per tenant.
//!
//! - [`HttpUsage`] (`http.rs`): the Update Manager API over HTTP.
//! - [`MemoryUsage`] (`memory.rs`): an in-memory fake with per-tenant answers and failures.

mod http;
mod memory;

use async_trait::async_trait;
use domain::{TenantId, Usage};

pub use http::HttpUsage;
pub use memory::MemoryUsage;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    /// The API did not answer (a timeout, a 5xx): a later run tries again.
    #[error("usage unavailable: {0}")]
    Unavailable(String),
    /// It answered, but not with a usage (an unknown tenant, a malformed body).
    #[error("usage refused: {0}")]
    Refused(String),
}

/// The usage of a tenant, now.
#[async_trait]
pub trait UsageSource: Send + Sync {
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, UsageError>;
}
