//! Races on the local emulator: requests sent at once through the real router to DynamoDB in
//! moto (serialized by `tests/stack/moto_launcher.py`) keep the guarantees the code relies on:
//! of racing conditional transactions exactly one wins, and counters written in the same
//! transactions stay exact.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use changes::{Caller, Ending};
use domain::{Actor, ChangeRequestId, Role, Source};
use integration_tests::{Reply, TestApi};
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// Requests sent at once in each race.
const N: usize = 12;
/// Items in the table before a race (see [`ballast`]).
const BALLAST: usize = 500;

async fn customer(api: &TestApi, name: &str) -> String {
    let r = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": name}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn release(api: &TestApi, version: &str) {
    let body = json!({"version": version, "components": {"webapp": version, "airflow": "2.9.0"}});
    let r = api.call("operator", Method::POST, "/v1/releases", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// A tenant whose provision succeeded: Healthy, held by nothing.
async fn healthy_tenant(api: &TestApi, name: &str) -> String {
    let acme = customer(api, "Acme").await;
    release(api, "3.1.0").await;
    let body = json!({"customer_id": acme, "name": name, "release": "3.1.0"});
    let created = api.call("operator", Method::POST, "/v1/tenants", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let provision = ChangeRequestId::parse(created.body["active_change_request_id"].as_str().unwrap()).unwrap();
    let workflow = Caller { actor: Actor::system("workflow"), role: Role::Admin, source: Source::Workflow };
    api.app.changes.finish(&provision, &workflow, Ending::Succeeded).await.expect("the provision finishes");
    let id = created.body["id"].as_str().unwrap().to_owned();
    let tenant = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await;
    assert_eq!(tenant.body["state"], "Healthy", "{}", tenant.body);
    id
}

/// Items of no kind the API reads, `n` of them, so the table and its stream hold as much as a
/// local stack that ran a while: moto copies the whole table (stream included) into every
/// transaction to undo it on failure, and that copy is where unserialized writes race.
async fn ballast(api: &TestApi, n: usize) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let s = |v: String| AttributeValue::S(v);
    for chunk in (0..n).collect::<Vec<_>>().chunks(25) {
        let writes = chunk
            .iter()
            .map(|i| {
                let item = [
                    ("pk".to_owned(), s(format!("BALLAST#{i}"))),
                    ("sk".to_owned(), s("BALLAST".into())),
                    ("item_type".to_owned(), s("ballast".into())),
                    ("note".to_owned(), s("x".repeat(200))),
                ];
                let put = PutRequest::builder().set_item(Some(item.into_iter().collect())).build().unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        api.client.batch_write_item().request_items(&api.table, writes).send().await.expect("ballast");
    }
}

/// Sends `bodies` to `path` all at once (each task waits at one barrier, then posts).
async fn post_at_once(api: &Arc<TestApi>, path: &str, bodies: Vec<Value>) -> Vec<Reply> {
    let barrier = Arc::new(Barrier::new(bodies.len()));
    let mut set = JoinSet::new();
    for (i, body) in bodies.into_iter().enumerate() {
        let (api, barrier, path) = (api.clone(), barrier.clone(), path.to_owned());
        set.spawn(async move {
            let token = api.token("operator", &format!("racer-{i}"));
            barrier.wait().await;
            api.send(Method::POST, &path, Some(&token), &[], Some(body)).await
        });
    }
    let mut replies = Vec::new();
    while let Some(reply) = set.join_next().await {
        replies.push(reply.expect("a request task"));
    }
    replies
}

/// Every tenant, through the API's own paging.
async fn all_tenants(api: &TestApi) -> Vec<Value> {
    let mut tenants = Vec::new();
    let mut path = "/v1/tenants?limit=100".to_owned();
    loop {
        let page = api.call("viewer", Method::GET, &path, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        tenants.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_token"].as_str() {
            Some(t) => path = format!("/v1/tenants?limit=100&next_token={t}"),
            None => return tenants,
        }
    }
}

fn count_by(tenants: &[Value], field: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for t in tenants {
        *counts.entry(t[field].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

fn as_counts(v: &Value) -> BTreeMap<String, u64> {
    v.as_object().unwrap().iter().map(|(k, n)| (k.clone(), n.as_u64().unwrap())).filter(|(_, n)| *n > 0).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_concurrent_change_requests_on_one_tenant_exactly_one_is_accepted_and_holds_the_tenant() {
    let api = Arc::new(TestApi::new().await);
    ballast(&api, BALLAST).await;
    let tenant = healthy_tenant(&api, "acme-prod").await;
    let started_before = api.workflows.started().len();

    let bodies = (0..N).map(|i| json!({"operation": "validate", "reason": format!("race {i}")})).collect();
    let replies = post_at_once(&api, &format!("/v1/tenants/{tenant}/change-requests"), bodies).await;

    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == StatusCode::ACCEPTED).collect();
    assert_eq!(accepted.len(), 1, "exactly one accepted: {statuses:?}");
    for r in replies.iter().filter(|r| r.status != StatusCode::ACCEPTED) {
        assert_eq!(r.status, StatusCode::CONFLICT, "every other one is a conflict: {statuses:?} {}", r.body);
    }
    let id = accepted[0].body["id"].as_str().unwrap();

    let read = api.call("viewer", Method::GET, &format!("/v1/change-requests/{id}"), None).await;
    assert_eq!(read.status, StatusCode::OK, "the accepted change request is there: {}", read.body);
    assert_eq!(read.body["operation"], "validate");
    assert_eq!(read.body["status"], "running");
    let held = api.call("viewer", Method::GET, &format!("/v1/tenants/{tenant}"), None).await;
    assert_eq!(held.body["active_change_request_id"], id, "the tenant is held by it: {}", held.body);
    let listed = api.call("viewer", Method::GET, &format!("/v1/tenants/{tenant}/change-requests"), None).await;
    let operations: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|c| c["operation"].as_str().unwrap()).collect();
    assert_eq!(operations.len(), 2, "the provision and the one validate, nothing of the losers: {operations:?}");
    assert_eq!(api.workflows.started().len(), started_before + 1, "one workflow started");
    assert!(api.workflows.started().contains_key(id), "the one started is the accepted one's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tenant_creates_make_every_tenant_and_exact_fleet_counters() {
    let api = Arc::new(TestApi::new().await);
    ballast(&api, BALLAST).await;
    let acme = customer(&api, "Acme").await;
    release(&api, "3.1.0").await;
    release(&api, "3.2.0").await;

    let bodies = (0..N)
        .map(|i| {
            let release = if i % 3 == 0 { "3.2.0" } else { "3.1.0" };
            json!({"customer_id": acme, "name": format!("acme-{i:02}"), "release": release})
        })
        .collect();
    let replies = post_at_once(&api, "/v1/tenants", bodies).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    let refused: Vec<&Value> = replies.iter().filter(|r| r.status != StatusCode::CREATED).map(|r| &r.body).collect();
    assert!(refused.is_empty(), "every create succeeds: {statuses:?} {refused:?}");

    let tenants = all_tenants(&api).await;
    assert_eq!(tenants.len(), N, "one tenant per create");
    for r in &replies {
        let id = r.body["id"].as_str().unwrap();
        let read = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await;
        assert_eq!(read.status, StatusCode::OK, "{id} is readable: {}", read.body);
    }
    let summary = api.call("viewer", Method::GET, "/v1/fleet/summary", None).await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    assert_eq!(summary.body["total"].as_u64(), Some(N as u64), "{}", summary.body);
    assert_eq!(as_counts(&summary.body["by_state"]), count_by(&tenants, "state"), "{}", summary.body);
    assert_eq!(as_counts(&summary.body["by_release"]), count_by(&tenants, "release"), "{}", summary.body);
}

#[tokio::test]
async fn a_transaction_sent_again_with_its_client_request_token_answers_as_the_first_and_writes_nothing() {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let api = TestApi::new().await;
    let put = |pk: &str| {
        let item = [("pk", pk), ("sk", "RETRY")].map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())));
        let put = Put::builder()
            .table_name(&api.table)
            .set_item(Some(item.into_iter().collect()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .unwrap();
        TransactWriteItem::builder().put(put).build()
    };
    let send = |pk: &str, token: &str| {
        api.client.transact_write_items().transact_items(put(pk)).client_request_token(token).send()
    };
    send("RETRY#1", "token-1").await.expect("the first");
    // As when an attempt timed out after it committed and the SDK sent it again.
    send("RETRY#1", "token-1").await.expect("the same transaction, the same token: answered as the first");
    let fresh = send("RETRY#1", "token-2").await.expect_err("another token: a new transaction, whose condition fails");
    assert!(fresh.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()), "{fresh:?}");
    let other = send("RETRY#2", "token-1").await.expect_err("the token of other items");
    assert_eq!(other.as_service_error().and_then(|e| e.meta().code()), Some("IdempotentParameterMismatchException"));
    assert_eq!(api.item_count().await, 1, "one item, written once");
}
