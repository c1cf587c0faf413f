//! The router of a [`TestApi`] served on a loopback port, for tools outside the process (the
//! contract tests' schemathesis and generated Python client), and what they need of the seed.

use std::path::PathBuf;

use axum::http::Method;

use crate::TestApi;

/// The repository's root (this crate is `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// A tool installed by `make tools` under `.tools/`, or a panic that says so.
pub fn tool(relative: &str) -> PathBuf {
    let path = repo_root().join(".tools").join(relative);
    assert!(path.exists(), "{} not found: run `make tools`", path.display());
    path
}

/// The router on a free loopback port for the life of the test process; its base URL.
pub async fn serve(api: &TestApi) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let router = api.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

/// The `field` of every item of the list at `path` (one page of up to 500).
pub async fn listed(api: &TestApi, path: &str, field: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = api.call("viewer", Method::GET, &format!("{path}{sep}limit=500"), None).await;
    assert!(r.status.is_success(), "GET {path}: {} {}", r.status, r.body);
    let items = r.body["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|i| i[field].as_str().map(str::to_owned)).collect()
}

/// A fresh API over moto with the demo seed, its change log delivered; as `make dev` starts,
/// two boxes drifted and every running tenant checked for drift once.
pub async fn seeded() -> TestApi {
    let api = TestApi::new().await;
    let seeder = devstack::seed::ApiCaller::new(api.router.clone(), api.token("admin", "seed"));
    devstack::seed::seed(&api.app.changes, &seeder).await.expect("the demo seed");
    let boxes = devstack::fake_update_manager::FakeUpdateManager::new().following(api.app.changes.clone());
    let url = boxes.serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port")).await.expect("boxes");
    devstack::seed::drift_demo_boxes(&seeder, &boxes).await.expect("drifting two demo boxes");
    let manager = engine::HttpUpdateManager::new(&url).expect("a client");
    let run = api.app.changes.check_fleet_drift(&manager, chrono::Utc::now(), changes::Pace::per_second(100)).await;
    assert_eq!(run.expect("the drift check").drifted, 2, "the seed drifts two boxes");
    api.drain_stream().await;
    api
}

/// A scratch directory of its own under the system's temporary one.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portal-{name}-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}
