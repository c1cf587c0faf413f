//! A stand-in for the product's Update Manager API on each tenant's box:
//! - `GET /tenants/{id}/usage` answers `{"assets": n, "users": n, "data_bytes": n}`: what it was
//!   `set` to, else a figure drawn from the tenant's id and the day (so a local fleet's usage
//!   varies from tenant to tenant and day to day); 503 once the tenant is made to `fail`.
//! - `GET /tenants/{id}/running` answers `{"components": {…}, "configs": {…}}`: the box follows
//!   its record (as Jenkins and SSM installs keep it), read through the core it is given
//!   (`following`), except for what was changed on the box by hand (`change_component`,
//!   `change_config`, `remove_config`). Without a record source it runs only those changes.
//! - `POST /tenants/{id}/apply` installs what it is given: the hand changes are gone, unless the
//!   box is `stuck` (it answers 200 and keeps running what it ran) or `refusing` (422).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::drift::{ReportedRunning, Running};
use domain::{TenantId, Usage};
use serde_json::Value;

/// How a box takes an install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Installs {
    Taken,
    Ignored,
    Refused,
}

/// What was changed on a box by hand: `None` removed it.
#[derive(Debug, Clone, Default)]
struct HandChanges {
    components: BTreeMap<String, Option<String>>,
    configs: BTreeMap<String, Option<Value>>,
}

#[derive(Debug, Default)]
struct Boxes {
    usage: BTreeMap<String, Option<Usage>>,
    changed: BTreeMap<String, HandChanges>,
    installs: BTreeMap<String, Installs>,
}

#[derive(Clone, Default)]
pub struct FakeUpdateManager {
    boxes: Arc<Mutex<Boxes>>,
    record: Option<changes::Changes>,
}

impl std::fmt::Debug for FakeUpdateManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeUpdateManager").field("follows_a_record", &self.record.is_some()).finish_non_exhaustive()
    }
}

impl FakeUpdateManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// The boxes run what `changes` records of their tenants, apart from their hand changes.
    #[must_use]
    pub fn following(mut self, changes: changes::Changes) -> Self {
        self.record = Some(changes);
        self
    }

    fn with<T>(&self, f: impl FnOnce(&mut Boxes) -> T) -> T {
        f(&mut self.boxes.lock().expect("update manager lock"))
    }

    /// What the tenant's box reports from now on.
    pub fn set(&self, tenant: &str, usage: Usage) {
        self.with(|b| b.usage.insert(tenant.to_owned(), Some(usage)));
    }

    /// The tenant's box answering 503 from now on.
    pub fn fail(&self, tenant: &str) {
        self.with(|b| b.usage.insert(tenant.to_owned(), None));
    }

    /// Someone installed `version` of `component` on the box by hand.
    pub fn change_component(&self, tenant: &str, component: &str, version: &str) {
        self.with(|b| {
            b.changed.entry(tenant.to_owned()).or_default().components.insert(component.into(), Some(version.into()))
        });
    }

    /// Someone set `key` to `value` on the box by hand.
    pub fn change_config(&self, tenant: &str, key: &str, value: Value) {
        self.with(|b| b.changed.entry(tenant.to_owned()).or_default().configs.insert(key.into(), Some(value)));
    }

    /// Someone removed `key` from the box by hand.
    pub fn remove_config(&self, tenant: &str, key: &str) {
        self.with(|b| b.changed.entry(tenant.to_owned()).or_default().configs.insert(key.into(), None));
    }

    /// The box answers installs with 200 from now on, but keeps running what it runs.
    pub fn stuck(&self, tenant: &str) {
        self.with(|b| b.installs.insert(tenant.to_owned(), Installs::Ignored));
    }

    /// The box refuses installs (422) from now on.
    pub fn refusing(&self, tenant: &str) {
        self.with(|b| b.installs.insert(tenant.to_owned(), Installs::Refused));
    }

    /// Serves it on `listener` in the background; answers its base URL.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> anyhow::Result<String> {
        let url = format!("http://{}", listener.local_addr()?);
        let router = axum::Router::new()
            .route("/tenants/{id}/usage", get(usage))
            .route("/tenants/{id}/running", get(running))
            .route("/tenants/{id}/apply", post(apply))
            .with_state(self.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the stand-in update manager stopped");
            }
        });
        Ok(url)
    }

    /// What the box runs: its record (when it follows one) with its hand changes over it.
    async fn runs(&self, tenant: &str) -> Result<ReportedRunning, Response> {
        let mut runs = ReportedRunning::default();
        if let Some(record) = &self.record {
            let id = TenantId::parse(tenant).map_err(|e| (StatusCode::NOT_FOUND, e.message).into_response())?;
            let recorded = record.recorded_running(&id).await.map_err(|e| {
                tracing::warn!(tenant, error = %e, "the stand-in update manager could not read the record");
                (StatusCode::NOT_FOUND, "no such tenant").into_response()
            })?;
            runs.components = recorded.components.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            runs.configs = recorded.configs.iter().map(|(k, v)| (k.to_string(), v.as_json().clone())).collect();
        }
        let changed = self.with(|b| b.changed.get(tenant).cloned()).unwrap_or_default();
        for (name, version) in changed.components {
            match version {
                Some(v) => runs.components.insert(name, v),
                None => runs.components.remove(&name),
            };
        }
        for (key, value) in changed.configs {
            match value {
                Some(v) => runs.configs.insert(key, v),
                None => runs.configs.remove(&key),
            };
        }
        Ok(runs)
    }
}

/// A figure drawn from the tenant's id and today: the same all day.
fn drawn(tenant: &str) -> Usage {
    let day = chrono::Utc::now().date_naive().to_string();
    let h = tenant
        .bytes()
        .chain(day.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    Usage { assets: 500 + h % 5_000, users: 5 + (h >> 16) % 200, data_bytes: (1 + (h >> 32) % 500) * 1_000_000_000 }
}

async fn usage(State(fake): State<FakeUpdateManager>, Path(id): Path<String>) -> Response {
    match fake.with(|b| b.usage.get(&id).copied()) {
        Some(Some(u)) => Json(u).into_response(),
        Some(None) => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        None => Json(drawn(&id)).into_response(),
    }
}

async fn running(State(fake): State<FakeUpdateManager>, Path(id): Path<String>) -> Response {
    if fake.with(|b| b.usage.get(&id) == Some(&None)) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    match fake.runs(&id).await {
        Ok(runs) => Json(runs).into_response(),
        Err(refused) => refused,
    }
}

async fn apply(State(fake): State<FakeUpdateManager>, Path(id): Path<String>, Json(wanted): Json<Running>) -> Response {
    match fake.with(|b| b.installs.get(&id).copied().unwrap_or(Installs::Taken)) {
        Installs::Refused => (StatusCode::UNPROCESSABLE_ENTITY, "the box refused the install").into_response(),
        Installs::Ignored => StatusCode::OK.into_response(),
        Installs::Taken => {
            // The box now runs what it was given; what it was given is its record.
            fake.with(|b| b.changed.remove(&id));
            tracing::info!(tenant = %id, components = wanted.components.len(), configs = wanted.configs.len(), "installed");
            StatusCode::OK.into_response()
        }
    }
}
