//! Fault injection on moto: the API's change-request core over a store and a workflow port that
//! fail every Nth call (wrapping the real DynamoDB and Step Functions adapters). Whatever the
//! faults hit, nothing is half-written, every change request ends, every tenant is released,
//! and the fleet counters equal a recount.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{Method, StatusCode};
use integration_tests::faults::{Every, FaultyTable, FaultyWorkflows};
use integration_tests::{TestApi, all_items};
use portal_api::App;
use serde_json::{Value, json};

type Raw = HashMap<String, AttributeValue>;

fn s<'a>(item: &'a Raw, field: &str) -> Option<&'a str> {
    item.get(field).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A call retried with the same Idempotency-Key while it answers 503 (as a client should).
async fn with_retries(api: &TestApi, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let token = api.token("operator", "olga");
    let key = ulid::Ulid::new().to_string();
    for _ in 0..12 {
        let r = api.send(method.clone(), path, Some(&token), &[("idempotency-key", &key)], Some(body.clone())).await;
        assert_ne!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", r.body);
        if r.status != StatusCode::SERVICE_UNAVAILABLE {
            return (r.status, r.body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (StatusCode::SERVICE_UNAVAILABLE, Value::Null)
}

/// Waits until no change request is active, delivering execution ends and sweeping as
/// EventBridge and the schedule would.
async fn settle_all(api: &TestApi, lc: &integration_tests::Lifecycle) {
    let mut running = usize::MAX;
    for _ in 0..300 {
        lc.events.lock().await.deliver_ends().await.unwrap();
        lc.events.lock().await.sweep().await.unwrap();
        let items = all_items(&api.client, &api.table).await;
        running = items
            .iter()
            .filter(|i| s(i, "item_type") == Some("change_request"))
            .filter(|i| matches!(s(i, "status"), Some("running" | "pending" | "awaiting_approval")))
            .count();
        if running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(running, 0, "every change request ended");
}

#[tokio::test]
async fn under_faults_every_change_ends_every_tenant_is_released_and_nothing_is_half_written() {
    let (mut api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            "operator",
            Method::POST,
            "/v1/releases",
            Some(json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);

    // From here the API's store fails every 7th call and Step Functions every 3rd.
    let table = Arc::new(FaultyTable { inner: api.app.changes.table.clone(), faults: Every::new(7) });
    let workflows = Arc::new(FaultyWorkflows { inner: api.app.changes.workflows.clone(), faults: Every::new(3) });
    let changes = changes::Changes { table: table.clone(), workflows: workflows.clone(), ..api.app.changes.clone() };
    api.app = App::new(api.app.history.clone(), changes);
    api.router = portal_api::router(api.app.clone(), Arc::new(api.tokens.clone()));

    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for i in 0..8 {
        let body = json!({"customer_id": customer, "name": format!("faulty-{i}"), "release": "3.1.0"});
        let (status, _) = with_retries(&api, Method::POST, "/v1/tenants", body).await;
        *statuses.entry(status.as_u16()).or_default() += 1;
    }
    // Once they are provisioned (or broken), each gets a change, the faults still hitting.
    settle_all(&api, &lc).await;
    let listed = api.call("viewer", Method::GET, "/v1/tenants?limit=100", None).await;
    for t in listed.body["items"].as_array().cloned().unwrap_or_default() {
        let path = format!("/v1/tenants/{}/change-requests", t["id"].as_str().unwrap());
        let op = if t["state"] == "Healthy" { "enter_maintenance" } else { "validate" };
        let (status, _) = with_retries(&api, Method::POST, &path, json!({"operation": op})).await;
        *statuses.entry(status.as_u16()).or_default() += 1;
    }
    assert!(statuses.keys().all(|s| [201, 202, 409, 503].contains(s)), "{statuses:?}");
    let (calls, failed) = table.faults.counts();
    assert!(failed > 0 && calls > failed, "the faults hit: {failed} of {calls} table calls");
    assert!(workflows.faults.counts().1 > 0, "and some workflow calls");
    eprintln!(
        "faults: {failed} of {calls} table calls, {} of {} workflow calls; answers {statuses:?}",
        workflows.faults.counts().1,
        workflows.faults.counts().0
    );

    // Every change request ends: by its workflow, or by the reconciler's sweep.
    settle_all(&api, &lc).await;

    // The audit, on the raw table.
    let items = all_items(&api.client, &api.table).await;
    let kind =
        |k: &'static str| items.iter().filter(move |i| s(i, "item_type") == Some(k) && !i.contains_key("deleted"));
    let tenants: Vec<&Raw> = kind("tenant").collect();
    assert!(!tenants.is_empty());
    let mut recount: BTreeMap<(String, String), i64> = BTreeMap::new();
    for t in &tenants {
        assert!(!t.contains_key("active_change_request_id"), "tenant {:?} is still held", s(t, "id"));
        *recount.entry(("state".into(), s(t, "state").unwrap().to_owned())).or_default() += 1;
        *recount.entry(("release".into(), s(t, "release").unwrap().to_owned())).or_default() += 1;
        let guard = items.iter().any(|g| s(g, "pk") == Some(&format!("TENANT_NAME#{}", s(t, "name").unwrap())));
        assert!(guard, "tenant {:?} has its name guard", s(t, "name"));
    }
    let tenant_ids: Vec<&str> = tenants.iter().filter_map(|t| s(t, "id")).collect();
    for cr in kind("change_request") {
        assert!(tenant_ids.contains(&s(cr, "tenant_id").unwrap()), "a change request of no tenant: {cr:?}");
    }
    for g in items.iter().filter(|i| s(i, "pk").is_some_and(|p| p.starts_with("TENANT_NAME#"))) {
        assert!(tenant_ids.contains(&s(g, "owner").unwrap()), "a name guard of no tenant: {g:?}");
    }
    // Each count is spread over shards: summed.
    let mut counters: BTreeMap<(String, String), i64> = BTreeMap::new();
    for i in items.iter().filter(|i| s(i, "pk") == Some("FLEET")) {
        let n: i64 = i.get("count").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
        *counters.entry((s(i, "dimension").unwrap().to_owned(), s(i, "value").unwrap().to_owned())).or_insert(0) += n;
    }
    counters.retain(|_, n| *n != 0);
    assert_eq!(counters, recount, "the fleet counters equal a recount");
}
