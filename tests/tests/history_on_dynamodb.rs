//! The change log end to end: API writes → registry stream → change-log handler → history API.

use axum::http::{Method, StatusCode};
use integration_tests::{TestApi, all_items};
use serde_json::{Value, json};

struct Fleet {
    api: TestApi,
    customer: String,
    tenant: String,
    change_request: String,
}

async fn fleet() -> Fleet {
    let api = TestApi::new().await;
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
    let t = api
        .call(
            "operator",
            Method::POST,
            "/v1/tenants",
            Some(json!({"customer_id": customer, "name": "acme-prod", "release": "3.1.0"})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let tenant = t.body["id"].as_str().unwrap().to_owned();
    let change_request = t.body["active_change_request_id"].as_str().unwrap().to_owned();
    Fleet { api, customer, tenant, change_request }
}

fn fields(page: &Value) -> Vec<(String, Value, Value)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap().to_owned(), e["old"].clone(), e["new"].clone()))
        .collect()
}

#[tokio::test]
async fn changes_made_through_the_api_show_in_the_tenant_history_newest_first() {
    let f = fleet().await;
    let api = &f.api;
    let alice = api.token("operator", "alice");
    let path = format!("/v1/tenants/{}", f.tenant);
    let r = api.send(Method::PATCH, &path, Some(&alice), &[], Some(json!({"description": "EU production"}))).await;
    assert_eq!(r.status, StatusCode::OK);
    let cfg = format!("{path}/configs/smtp.host");
    assert_eq!(
        api.send(Method::PUT, &cfg, Some(&alice), &[], Some(json!({"value": "mail.acme"}))).await.status,
        StatusCode::CREATED
    );
    let bob = api.token("operator", "bob");
    assert_eq!(api.send(Method::DELETE, &cfg, Some(&bob), &[], None).await.status, StatusCode::NO_CONTENT);
    assert!(api.drain_stream().await > 0);

    let h = api.call("viewer", Method::GET, &format!("{path}/history"), None).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    let items = h.body["items"].as_array().unwrap();
    let ats: Vec<&str> = items.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(ats.windows(2).all(|w| w[0] >= w[1]), "newest first: {ats:?}");

    let removed: Vec<&Value> = items.iter().filter(|e| e["write"] == "remove").collect();
    assert!(!removed.is_empty(), "the delete is logged");
    assert!(removed.iter().all(|e| e["actor"] == "bob <bob@vendor.example>" && e["entity"] == "tenant_config"));
    let description = items.iter().find(|e| e["field"] == "description").unwrap();
    assert_eq!((description["old"].clone(), description["new"].clone()), (Value::Null, json!("EU production")));
    assert_eq!(description["actor_sub"], "alice");
    let created_state = items.iter().find(|e| e["entity"] == "tenant" && e["field"] == "state").unwrap();
    assert_eq!(created_state["new"], "Provisioning");
    assert_eq!(created_state["change_request_id"], f.change_request.as_str());
    assert!(
        items.iter().any(|e| e["entity"] == "component_version" && e["field"] == "version"),
        "components are part of a tenant's history"
    );

    let only_value = api.call("viewer", Method::GET, &format!("{path}/history?field=value"), None).await;
    assert_eq!(fields(&only_value.body).len(), 2, "set, then removed: {}", only_value.body);
    let by_bob = api.call("viewer", Method::GET, &format!("{path}/history?actor=bob"), None).await;
    assert!(by_bob.body["items"].as_array().unwrap().iter().all(|e| e["actor_sub"] == "bob"));
    assert!(!by_bob.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_unchanged_write_adds_no_history_and_a_redelivered_stream_adds_nothing() {
    let f = fleet().await;
    let api = &f.api;
    let cfg = format!("/v1/tenants/{}/configs/max_workers", f.tenant);
    api.call("operator", Method::PUT, &cfg, Some(json!({"value": 4}))).await;
    api.drain_stream().await;
    let before = all_items(&api.client, &history_table(api)).await.len();
    let same = api.call("operator", Method::PUT, &cfg, Some(json!({"value": 4}))).await;
    assert_eq!(same.status, StatusCode::OK);
    api.drain_stream().await;
    assert_eq!(all_items(&api.client, &history_table(api)).await.len(), before, "an unchanged PUT is not a change");

    // A second consumer reading the whole stream again (Lambda redelivering every batch).
    let mut again = api.new_poller().await;
    assert!(again.drain().await.unwrap() > 0);
    assert_eq!(all_items(&api.client, &history_table(api)).await.len(), before, "redelivery must add nothing");
    assert!(again.dead_letters().is_empty());
}

fn history_table(api: &TestApi) -> String {
    // The change-log table is the one the app's history adapter names.
    api.history_table_name()
}

#[tokio::test]
async fn fleet_history_filters_by_entity_actor_change_request_and_time() {
    let f = fleet().await;
    let api = &f.api;
    let carol = api.token("operator", "carol");
    let r = api
        .send(
            Method::PATCH,
            &format!("/v1/customers/{}", f.customer),
            Some(&carol),
            &[],
            Some(json!({"notes": "key account"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    api.drain_stream().await;

    let by_entity =
        api.call("viewer", Method::GET, &format!("/v1/history?entity=customer&entity_id={}", f.customer), None).await;
    assert_eq!(by_entity.status, StatusCode::OK);
    let entries = by_entity.body["items"].as_array().unwrap();
    assert_eq!(entries[0]["field"], "notes", "newest first");
    assert!(entries.iter().all(|e| e["entity"] == "customer"));

    let by_actor = api.call("viewer", Method::GET, "/v1/history?actor=carol", None).await;
    assert_eq!(fields(&by_actor.body), vec![("notes".to_owned(), Value::Null, json!("key account"))]);

    let by_cr =
        api.call("viewer", Method::GET, &format!("/v1/history?change_request_id={}", f.change_request), None).await;
    let kinds: std::collections::BTreeSet<&str> =
        by_cr.body["items"].as_array().unwrap().iter().map(|e| e["entity"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["component_version", "tenant"].into(),
        "the tenant and its components were written by its provision change request"
    );

    let releases = api.call("viewer", Method::GET, "/v1/history?entity=release", None).await;
    assert!(releases.body["items"].as_array().unwrap().iter().all(|e| e["entity"] == "release"));
    assert!(!releases.body["items"].as_array().unwrap().is_empty());

    let future = api.call("viewer", Method::GET, "/v1/history?since=2999-01-01T00:00:00Z", None).await;
    assert!(future.body["items"].as_array().unwrap().is_empty());
    let past = api.call("viewer", Method::GET, "/v1/history?until=2000-01-01T00:00:00Z", None).await;
    assert!(past.body["items"].as_array().unwrap().is_empty());
    let all = api
        .call(
            "viewer",
            Method::GET,
            "/v1/history?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&limit=500",
            None,
        )
        .await;
    let everything = api.call("viewer", Method::GET, "/v1/history?limit=500", None).await;
    assert_eq!(all.body["items"], everything.body["items"]);

    let bad = api.call("viewer", Method::GET, "/v1/history?since=yesterday", None).await;
    assert_eq!((bad.status, bad.body["field"].clone()), (StatusCode::BAD_REQUEST, json!("since")));
    let bad = api.call("viewer", Method::GET, "/v1/history?entity=change_request", None).await;
    assert_eq!((bad.status, bad.body["field"].clone()), (StatusCode::BAD_REQUEST, json!("entity")));
    let missing = api.call("viewer", Method::GET, "/v1/tenants/ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A/history", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_seeded_state_spread_shows_as_state_transitions_with_their_change_request() {
    let api = TestApi::new().await;
    let caller = devstack::seed::ApiCaller::new(api.router.clone(), api.token("admin", "seed"));
    devstack::seed::seed(&api.app.changes, &caller).await.unwrap();
    api.drain_stream().await;
    let broken = api.call("viewer", Method::GET, "/v1/tenants?state=Broken&limit=1", None).await;
    let tenant = &broken.body["items"][0];
    let h = api
        .call(
            "viewer",
            Method::GET,
            &format!("/v1/tenants/{}/history?field=state", tenant["id"].as_str().unwrap()),
            None,
        )
        .await;
    let states = fields(&h.body);
    assert_eq!(states[0], ("state".to_owned(), json!("Provisioning"), json!("Broken")));
    assert_eq!(h.body["items"][0]["source"], "seed");
    assert_eq!(h.body["items"][0]["change_request_id"], tenant["change_request_id"]);
    let secrets = api.call("viewer", Method::GET, "/v1/history?limit=500", None).await;
    assert!(!secrets.body.to_string().contains("\"value\":\"hunter"), "no secret value anywhere");
}
