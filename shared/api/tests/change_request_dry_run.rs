//! `"dry_run": true` on `POST /v1/tenants/{id}/change-requests`: `200` with the entry a
//! rollout's plan gives the tenant (would it run or why not, its plan, an upgrade's component
//! changes), nothing written and no workflow started; params refused as the request would be.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use domain::TenantState;
use serde_json::{Value, json};

/// The customer Acme, releases 3.1.0 and 3.2.0 (3.2.0 adds `etl`), the tenant acme-prod on
/// 3.1.0 settled `Healthy`.
async fn healthy_tenant(h: &Harness) -> String {
    let id = h.one_tenant().await;
    h.release_with("3.2.0", json!({ "webapp": "3.2.0", "airflow": "2.9.1", "postgres": "16.4", "etl": "1.0.0" })).await;
    h.settle(&id, TenantState::Healthy).await;
    id
}

async fn dry_run(h: &Harness, tenant: &str, who: Option<&str>, body: Value) -> Resp {
    let mut body = body;
    body["dry_run"] = json!(true);
    h.call(Method::POST, &format!("/v1/tenants/{tenant}/change-requests"), who, Some(body)).await
}

#[tokio::test]
async fn a_dry_run_answers_the_rollout_plans_entry_for_its_tenant_and_writes_nothing() {
    let h = Harness::new();
    let id = healthy_tenant(&h).await;
    let (before, started) = (h.snapshot(), h.workflows.started().len());
    let upgrade = json!({ "operation": "upgrade", "params": { "release": "3.2.0" } });
    let r = dry_run(&h, &id, OPERATOR, upgrade.clone()).await.expect(StatusCode::OK);
    h.assert_unchanged(&before);
    assert_eq!(h.workflows.started().len(), started, "no workflow started");
    assert!(r.header("etag").is_none() && r.header("location").is_none());
    assert_eq!((r.body["would_run"].as_bool(), r.body["tenant_id"].as_str()), (Some(true), Some(id.as_str())));
    assert!(r.body.get("wave").is_none(), "{}", r.text);
    assert_eq!(
        r.body["upgrade"]["components"],
        json!([{ "name": "etl", "to": "1.0.0" }, { "name": "webapp", "from": "3.1.2", "to": "3.2.0" }])
    );
    // The same as the rollout plan says of this tenant, but its wave.
    let mut body = upgrade.clone();
    body["selector"] = json!({ "tenant_ids": [id] });
    body["waves"] = json!([1]);
    let plan = h.call(Method::POST, "/v1/rollouts/plan", OPERATOR, Some(body)).await.expect(StatusCode::OK).body;
    let mut entry = plan["tenants"][0].clone();
    entry.as_object_mut().unwrap().remove("wave");
    assert_eq!(r.body, entry);

    // Then the request itself takes it.
    h.call(Method::POST, &format!("/v1/tenants/{id}/change-requests"), OPERATOR, Some(upgrade))
        .await
        .expect(StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_dry_run_names_why_a_tenant_would_not_run() {
    let h = Harness::new();
    let id = healthy_tenant(&h).await;
    let same = dry_run(&h, &id, OPERATOR, json!({ "operation": "upgrade", "params": { "release": "3.1.0" } }))
        .await
        .expect(StatusCode::OK);
    assert_eq!(same.body["would_run"], false);
    assert_eq!(same.body["not_run"], json!({ "reason": "same_release", "release": "3.1.0" }));
    let state = dry_run(&h, &id, OPERATOR, json!({ "operation": "exit_maintenance" })).await.expect(StatusCode::OK);
    assert_eq!(state.body["not_run"], json!({ "reason": "state", "state": "Healthy" }));
    assert!(state.body.get("plan").is_none(), "{}", state.text);

    let cr = h
        .call(
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            OPERATOR,
            Some(json!({ "operation": "validate" })),
        )
        .await
        .expect(StatusCode::ACCEPTED)
        .id();
    let busy = dry_run(&h, &id, OPERATOR, json!({ "operation": "backup" })).await.expect(StatusCode::OK);
    assert_eq!(busy.body["not_run"], json!({ "reason": "busy", "change_request_id": cr }));
}

#[tokio::test]
async fn a_dry_run_refuses_what_the_request_would_and_needs_an_operator() {
    let h = Harness::new();
    let id = healthy_tenant(&h).await;
    let before = h.snapshot();
    for (body, field) in [
        (json!({ "operation": "upgrade" }), "params.release"),
        (json!({ "operation": "upgrade", "params": { "release": "9.9.9" } }), "params.release"),
        (json!({ "operation": "validate", "params": { "release": "3.2.0" } }), "params.release"),
    ] {
        dry_run(&h, &id, OPERATOR, body).await.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    let path = format!("/v1/tenants/{id}/change-requests");
    h.call(Method::POST, &path, OPERATOR, Some(json!({ "operation": "validate", "dry_run": "yes" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("dry_run"));
    dry_run(&h, &id, VIEWER, json!({ "operation": "validate" })).await.expect(StatusCode::FORBIDDEN);
    dry_run(&h, "ten_01M8Y72FMWKM8YWRC9HXHZ3WPQ", OPERATOR, json!({ "operation": "validate" }))
        .await
        .expect(StatusCode::NOT_FOUND);
    h.assert_unchanged(&before);
}
