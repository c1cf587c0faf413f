//! [`HttpUpdateManager`]: the [`UpdateManager`] port over the Update Manager API:
//! - `GET {base}/tenants/{id}/usage` answers `{"assets": n, "users": n, "data_bytes": n}`;
//! - `GET {base}/tenants/{id}/running` answers `{"components": {name: version}, "configs":
//!   {key: value}}`;
//! - `POST {base}/tenants/{id}/apply` with `{"components": …, "configs": …}` answers 2xx once
//!   installed.

use std::time::Duration;

use async_trait::async_trait;
use domain::drift::{ReportedRunning, Running};
use domain::{TenantId, Usage};
use reqwest::{Client, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::{UpdateManager, UpdateManagerError};

/// Timeout of a read (connect, send, read the answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Timeout of an install: the Update Manager answers once the box runs what it was given.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(600);

/// The Update Manager API at `base` (`scheme://host[:port][/prefix]`).
#[derive(Debug, Clone)]
pub struct HttpUpdateManager {
    client: Client,
    base: String,
}

impl HttpUpdateManager {
    pub fn new(base: &str) -> Result<Self, UpdateManagerError> {
        let client = Client::builder()
            .timeout(DEFAULT_TIMEOUT)
            .connect_timeout(DEFAULT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| UpdateManagerError::Refused(format!("could not build the http client: {e}")))?;
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(UpdateManagerError::Refused(format!("the update manager url {base:?} is not http(s)")));
        }
        Ok(Self { client, base })
    }

    async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, UpdateManagerError> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| UpdateManagerError::Unavailable(format!("GET {url}: {e}")))?;
        let resp = checked("GET", url, resp)?;
        resp.json::<T>().await.map_err(|e| UpdateManagerError::Refused(format!("GET {url}: not what was asked: {e}")))
    }
}

/// The answer when it is a success; a 5xx or 429 is a later try's, anything else a refusal.
fn checked(method: &str, url: &str, resp: Response) -> Result<Response, UpdateManagerError> {
    match resp.status() {
        s if s.is_success() => Ok(resp),
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            Err(UpdateManagerError::Unavailable(format!("{method} {url}: {s}")))
        }
        s => Err(UpdateManagerError::Refused(format!("{method} {url}: {s}"))),
    }
}

#[async_trait]
impl UpdateManager for HttpUpdateManager {
    #[tracing::instrument(skip(self))]
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, UpdateManagerError> {
        self.get(&format!("{}/tenants/{tenant}/usage", self.base)).await
    }

    #[tracing::instrument(skip(self))]
    async fn running(&self, tenant: &TenantId) -> Result<ReportedRunning, UpdateManagerError> {
        self.get(&format!("{}/tenants/{tenant}/running", self.base)).await
    }

    // The body is components and non-secret configs: nothing in it is a secret.
    #[tracing::instrument(skip(self, wanted))]
    async fn apply(&self, tenant: &TenantId, wanted: &Running) -> Result<(), UpdateManagerError> {
        let url = format!("{}/tenants/{tenant}/apply", self.base);
        let resp = self
            .client
            .post(&url)
            .timeout(APPLY_TIMEOUT)
            .json(wanted)
            .send()
            .await
            .map_err(|e| UpdateManagerError::Unavailable(format!("POST {url}: {e}")))?;
        checked("POST", &url, resp).map(|_| ())
    }
}
