//! [`UpdateManager`]: the API of the Update Manager on a tenant's box, the part the portal uses:
//! what the product meters (assets, users, data volume; the `metering` schedule reads it once a
//! day per tenant), what the box runs (component versions and configs; the `drift` schedule
//! compares it with the record), and the install of a recorded set (`reapply_recorded`).
//!
//! - [`HttpUpdateManager`] (`http.rs`): the Update Manager API over HTTP.
//! - [`MemoryUpdateManager`] (`memory.rs`): an in-memory fake of per-tenant boxes, with failures.
//! - [`NoUpdateManager`]: none configured; every call is refused, saying so.

mod http;
mod memory;

use async_trait::async_trait;
use domain::drift::{ReportedRunning, Running};
use domain::{TenantId, Usage};

pub use http::HttpUpdateManager;
pub use memory::MemoryUpdateManager;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateManagerError {
    /// The API did not answer (a timeout, a 5xx): a later run tries again.
    #[error("update manager unavailable: {0}")]
    Unavailable(String),
    /// It answered, but not with what was asked (an unknown tenant, a malformed body).
    #[error("update manager refused: {0}")]
    Refused(String),
}

#[async_trait]
pub trait UpdateManager: Send + Sync {
    /// The usage of a tenant, now.
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, UpdateManagerError>;

    /// What the tenant's box runs, as it answers (read by [`Running::read`], which drops what
    /// names a secret).
    async fn running(&self, tenant: &TenantId) -> Result<ReportedRunning, UpdateManagerError>;

    /// Installs `wanted` on the tenant's box: these component versions, these configs set
    /// (configs it does not name are left as they are). Answers once it is installed; the same
    /// install twice is the same install.
    async fn apply(&self, tenant: &TenantId, wanted: &Running) -> Result<(), UpdateManagerError>;
}

/// No Update Manager configured (`UPDATE_MANAGER_URL` unset): every call is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoUpdateManager;

fn not_configured() -> UpdateManagerError {
    UpdateManagerError::Refused("no Update Manager API is configured (UPDATE_MANAGER_URL)".into())
}

#[async_trait]
impl UpdateManager for NoUpdateManager {
    async fn usage(&self, _: &TenantId) -> Result<Usage, UpdateManagerError> {
        Err(not_configured())
    }
    async fn running(&self, _: &TenantId) -> Result<ReportedRunning, UpdateManagerError> {
        Err(not_configured())
    }
    async fn apply(&self, _: &TenantId, _: &Running) -> Result<(), UpdateManagerError> {
        Err(not_configured())
    }
}
