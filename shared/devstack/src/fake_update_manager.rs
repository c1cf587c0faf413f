//! A stand-in for the product's Update Manager API, the part metering reads: `GET
//! /tenants/{id}/usage` answers `{"assets": n, "users": n, "data_bytes": n}`, what the API on
//! the tenant's box reports. What it answers per tenant can be set (`set`), else a figure drawn
//! from the tenant's id and the day, so a local fleet's usage varies from tenant to tenant and
//! day to day; a tenant can be made to fail (`fail`: 503).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::Usage;

#[derive(Debug, Clone, Default)]
pub struct FakeUpdateManager {
    answers: Arc<Mutex<BTreeMap<String, Option<Usage>>>>,
}

impl FakeUpdateManager {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the tenant's box reports from now on.
    pub fn set(&self, tenant: &str, usage: Usage) {
        self.answers.lock().expect("update manager lock").insert(tenant.to_owned(), Some(usage));
    }

    /// The tenant's box answering 503 from now on.
    pub fn fail(&self, tenant: &str) {
        self.answers.lock().expect("update manager lock").insert(tenant.to_owned(), None);
    }

    /// Serves it on `listener` in the background; answers its base URL.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> anyhow::Result<String> {
        let url = format!("http://{}", listener.local_addr()?);
        let router = axum::Router::new().route("/tenants/{id}/usage", get(usage)).with_state(self.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "the stand-in update manager stopped");
            }
        });
        Ok(url)
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
    let answer = fake.answers.lock().expect("update manager lock").get(&id).copied();
    match answer {
        Some(Some(u)) => Json(u).into_response(),
        Some(None) => (StatusCode::SERVICE_UNAVAILABLE, "down").into_response(),
        None => Json(drawn(&id)).into_response(),
    }
}
