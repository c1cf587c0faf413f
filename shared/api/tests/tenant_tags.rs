//! A tenant's tags: set on create and with `PATCH /v1/tenants/{id}` (replacing the map), kept on
//! the tenant record like any field (so the change log records `tags.<key>`), a bad tag a 422
//! naming its field, and `GET /v1/tenants?tags=key:value,...` filtering the index query's page.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn tags_are_set_on_create_and_replaced_by_a_patch() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let t = h
        .tenant_with(json!({"customer_id": customer, "name": "acme-prod", "release": "3.1.0", "tags": {"env": "prod"}}))
        .await;
    assert_eq!(t["tags"], json!({"env": "prod"}));
    let path = format!("/v1/tenants/{}", id_of(&t));
    let r = h
        .call(Method::PATCH, &path, OPERATOR, Some(json!({"tags": {"env": "prod", "tier": "gold"}})))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.body["tags"], json!({"env": "prod", "tier": "gold"}));
    let r = h.call(Method::PATCH, &path, OPERATOR, Some(json!({"tags": {}}))).await.expect(StatusCode::OK);
    assert!(r.body.get("tags").is_none(), "{}", r.text);
}

#[tokio::test]
async fn a_bad_tag_is_422_naming_its_field_and_writes_nothing() {
    let h = Harness::new();
    let t = h.one_tenant().await;
    let path = format!("/v1/tenants/{t}");
    let before = h.snapshot();
    let many: serde_json::Map<String, serde_json::Value> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    for body in [
        json!({"tags": {"Env": "prod"}}),
        json!({"tags": {"env": "a b"}}),
        json!({"tags": {"env": 1}}),
        json!({"tags": null}),
        json!({"tags": many}),
    ] {
        let r = h.call(Method::PATCH, &path, OPERATOR, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        assert!(r.body["field"].as_str().is_some_and(|f| f.starts_with("tags")), "{body}: {}", r.text);
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn the_list_filters_by_tags_alone_or_with_the_other_filters() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let mut ids = Vec::new();
    for (name, tags) in [
        ("a-prod", json!({"env": "prod", "tier": "gold"})),
        ("b-prod", json!({"env": "prod"})),
        ("c-dev", json!({"env": "dev"})),
        ("d-none", json!({})),
    ] {
        let body = json!({"customer_id": customer, "name": name, "release": "3.1.0", "tags": tags});
        ids.push(id_of(&h.tenant_with(body).await));
    }
    let names = |r: &Resp| r.item_strings("name");
    let r = h.get("/v1/tenants?tags=env:prod").await.expect(StatusCode::OK);
    assert_eq!(names(&r), ["a-prod", "b-prod"].map(String::from).into());
    let r = h.get("/v1/tenants?tags=env:prod,tier:gold").await.expect(StatusCode::OK);
    assert_eq!(names(&r), ["a-prod"].map(String::from).into());
    let r = h.get(&format!("/v1/tenants?customer_id={customer}&state=Provisioning&tags=env:dev")).await;
    assert_eq!(names(&r.expect(StatusCode::OK)), ["c-dev"].map(String::from).into());
    let r = h.get("/v1/tenants?tags=env:prod,env:dev").await.expect(StatusCode::OK);
    assert!(r.items().is_empty());
    for bad in ["env", "env:", "Env:prod", "env:a%20b", ""] {
        h.get(&format!("/v1/tenants?tags={bad}")).await.expect_problem(StatusCode::BAD_REQUEST, Some("tags"));
    }
}
