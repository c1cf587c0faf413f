//! [`HttpUsage`]: the [`UsageSource`] port over the Update Manager API: `GET
//! {base}/tenants/{tenant id}/usage` answers `{"assets": n, "users": n, "data_bytes": n}`.

use std::time::Duration;

use async_trait::async_trait;
use domain::{TenantId, Usage};
use reqwest::{Client, StatusCode};

use super::{UsageError, UsageSource};

/// Timeout of every call (connect, send, read the answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Update Manager API at `base` (`scheme://host[:port][/prefix]`).
#[derive(Debug, Clone)]
pub struct HttpUsage {
    client: Client,
    base: String,
}

impl HttpUsage {
    pub fn new(base: &str) -> Result<Self, UsageError> {
        let client = Client::builder()
            .timeout(DEFAULT_TIMEOUT)
            .connect_timeout(DEFAULT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| UsageError::Refused(format!("could not build the http client: {e}")))?;
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(UsageError::Refused(format!("the update manager url {base:?} is not http(s)")));
        }
        Ok(Self { client, base })
    }
}

#[async_trait]
impl UsageSource for HttpUsage {
    #[tracing::instrument(skip(self))]
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, UsageError> {
        let url = format!("{}/tenants/{tenant}/usage", self.base);
        let resp =
            self.client.get(&url).send().await.map_err(|e| UsageError::Unavailable(format!("GET {url}: {e}")))?;
        match resp.status() {
            s if s.is_success() => {
                resp.json::<Usage>().await.map_err(|e| UsageError::Refused(format!("GET {url}: not a usage: {e}")))
            }
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                Err(UsageError::Unavailable(format!("GET {url}: {s}")))
            }
            s => Err(UsageError::Refused(format!("GET {url}: {s}"))),
        }
    }
}
