//! The handler paths with in-memory fakes, under criterion: what the API and the lifecycle task
//! function spend themselves, without a network or a DynamoDB. `make bench` runs it
//! (`cargo bench --workspace --bench handlers`) and reports it in bench/RESULTS.md.
//!
//! API: requests through the whole router (auth, request id, tracing span, extractors, problem
//! mapping) over the in-memory table, with a fleet of 200 tenants. Lifecycle: a `backup` change
//! request from its `POST` through every task the state machine would send (begin, the steps,
//! finish), with the in-memory Jenkins and SSM.

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Method, Request, StatusCode};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt;
use portal_api::{ApiError, App, Authenticator, Principal};
use serde_json::{Value, json};
use store::memory::MemoryTable;
use tower::ServiceExt;

#[path = "../src/fakes.rs"]
mod fakes;

const FLEET: usize = 200;

/// Every request comes from one admin (the token check is API Gateway's in AWS).
struct Admin;

impl Authenticator for Admin {
    fn authenticate(&self, _: &Parts) -> Result<Principal, ApiError> {
        Principal::from_claims(Some("bench"), Some("bench@vendor.example"), &["admin".to_owned()])
    }
}

struct Api {
    router: Router,
    table: Arc<MemoryTable>,
}

impl Api {
    fn new() -> Self {
        let table = Arc::new(MemoryTable::new());
        let app = App::new(Arc::new(MemoryTable::new()), fakes::core(table.clone()));
        Api { router: portal_api::router(app, Arc::new(Admin)), table }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path).header("authorization", "Bearer bench");
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(serde_json::to_vec(b).expect("a JSON body"))
            }
            None => Body::empty(),
        };
        let resp = self.router.clone().oneshot(req.body(body).expect("a request")).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("the body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(method.clone(), path, body.as_ref()).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_owned()
}

async fn task(deps: &lifecycle::Deps, payload: Value) -> Value {
    let what = payload["action"].clone();
    let task: lifecycle::Task = serde_json::from_value(payload).expect("a task");
    lifecycle::run(deps, task).await.unwrap_or_else(|e| panic!("task {what}: {e}"))
}

/// Runs change request `cr` the way the state machine does, without its waits; answers how many
/// tasks it took.
async fn drive(deps: &lifecycle::Deps, cr: &str) -> usize {
    let recipe = task(deps, json!({"action": "begin", "change_request_id": cr})).await;
    let mut tasks = 1;
    for step in recipe["steps"].as_array().expect("steps") {
        let (start, poll) = match step["kind"].as_str() {
            Some("transition") => {
                task(deps, json!({"action": "transition", "change_request_id": cr, "step": step})).await;
                tasks += 1;
                continue;
            }
            Some("jenkins") => ("jenkins_start", "jenkins_poll"),
            Some("ssm") => ("ssm_send", "ssm_poll"),
            other => panic!("no branch for a {other:?} step"),
        };
        let mut ticket = task(deps, json!({"action": start, "change_request_id": cr, "step": step})).await;
        tasks += 1;
        while ticket["done"] != json!(true) {
            ticket = task(deps, json!({"action": poll, "change_request_id": cr, "step": step, "ticket": ticket})).await;
            tasks += 1;
        }
    }
    task(deps, json!({"action": "finish", "change_request_id": cr, "outcome": "succeeded"})).await;
    tasks + 1
}

/// A registry of `FLEET` provisioned (Healthy) tenants; answers the first tenant's id.
async fn fleet(api: &Api, deps: &lifecycle::Deps) -> String {
    let customer = id(&api.ok(Method::POST, "/v1/customers", Some(json!({"name": "Bench Corp"}))).await);
    let release = json!({"version": "3.2.0", "components": {"webapp": "3.2.0", "api": "3.2.0"}});
    api.ok(Method::POST, "/v1/releases", Some(release)).await;
    let mut first = None;
    for n in 0..FLEET {
        let body = json!({"customer_id": customer, "name": format!("bench-{n:03}"), "release": "3.2.0"});
        let tenant = api.ok(Method::POST, "/v1/tenants", Some(body)).await;
        let cr = tenant["active_change_request_id"].as_str().expect("a provision change request").to_owned();
        drive(deps, &cr).await;
        first.get_or_insert_with(|| id(&tenant));
    }
    first.expect("a tenant")
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let api = Api::new();
    let deps = fakes::lifecycle_deps(api.table.clone());
    let tenant = rt.block_on(fleet(&api, &deps));
    let tenant_path = format!("/v1/tenants/{tenant}");
    let state = rt.block_on(api.ok(Method::GET, &tenant_path, None));
    assert_eq!(state["state"], "Healthy", "the fleet is provisioned");

    let mut g = c.benchmark_group("api");
    let config_path = format!("{tenant_path}/configs/smtp.host");
    let cases: [(&str, Method, &str, Option<Value>, StatusCode); 7] = [
        ("GET /v1/health", Method::GET, "/v1/health", None, StatusCode::OK),
        ("GET /v1/tenants/{id}", Method::GET, &tenant_path, None, StatusCode::OK),
        ("GET /v1/tenants?limit=50 (first page of 200)", Method::GET, "/v1/tenants?limit=50", None, StatusCode::OK),
        ("GET /v1/fleet/summary (200 tenants)", Method::GET, "/v1/fleet/summary", None, StatusCode::OK),
        (
            "PATCH /v1/tenants/{id}",
            Method::PATCH,
            &tenant_path,
            Some(json!({"description": "patched"})),
            StatusCode::OK,
        ),
        (
            "PUT /v1/tenants/{id}/configs/{key}",
            Method::PUT,
            &config_path,
            Some(json!({"value": "smtp.example"})),
            StatusCode::OK,
        ),
        (
            "POST /v1/customers with a bad field (422)",
            Method::POST,
            "/v1/customers",
            Some(json!({"name": 42})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    // The config exists before its PUT is measured: an update (200), the same value each time.
    rt.block_on(api.ok(Method::PUT, &config_path, Some(json!({"value": "smtp.example"}))));
    for (name, method, path, body, expected) in &cases {
        let (status, answer) = rt.block_on(api.call(method.clone(), path, body.as_ref()));
        assert_eq!(status, *expected, "{name}: {answer}");
        g.bench_function(*name, |b| b.iter(|| rt.block_on(api.call(method.clone(), black_box(path), body.as_ref()))));
    }
    let mut n = 0u64;
    g.bench_function("POST /v1/customers", |b| {
        b.iter(|| {
            n += 1;
            let (status, _) =
                rt.block_on(api.call(Method::POST, "/v1/customers", Some(&json!({"name": format!("Customer {n}")}))));
            assert_eq!(status, StatusCode::CREATED);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("lifecycle");
    // A backup blocks the tenant's public access on its instance while it copies (SSM): the
    // tenant needs one registered.
    let instance =
        json!({"arn": "arn:aws:ec2:us-east-1:123456789012:instance/i-0bench0000000000a", "tenant_ids": [tenant]});
    rt.block_on(api.ok(Method::POST, "/v1/resources", Some(instance)));
    let requests = format!("{tenant_path}/change-requests");
    let backup = json!({"operation": "backup", "reason": "bench"});
    let mut tasks = 0;
    g.bench_function("backup change request: POST, then every task begin → finish", |b| {
        b.iter(|| {
            rt.block_on(async {
                let cr = api.ok(Method::POST, &requests, Some(backup.clone())).await;
                tasks = drive(&deps, &id(&cr)).await;
            })
        })
    });
    let customer = rt.block_on(api.ok(Method::GET, &tenant_path, None))["customer_id"].clone();
    let (mut n, mut provision_tasks) = (0u64, 0);
    g.bench_function("new tenant: POST /v1/tenants, then every provision task begin → finish", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(async {
                let body = json!({"customer_id": customer, "name": format!("new-{n}"), "release": "3.2.0"});
                let tenant = api.ok(Method::POST, "/v1/tenants", Some(body)).await;
                let cr = tenant["active_change_request_id"].as_str().expect("a provision change request").to_owned();
                provision_tasks = drive(&deps, &cr).await;
            })
        })
    });
    g.finish();
    println!("lifecycle: a backup change request is {tasks} tasks, a provision {provision_tasks}");
}

criterion_group!(benches, bench);
criterion_main!(benches);
