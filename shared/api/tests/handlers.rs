//! The HTTP handlers, end to end through the real router (auth middleware, extractors,
//! problem+json, persistence) over the in-memory table. Each test builds its own [`Harness`]
//! and drives it one request at a time with `tower::ServiceExt::oneshot`.
//!
//! Tests marked `//! run them with `cargo test --workspace --all-targets -- --ignored`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::*;
use serde_json::{Value, json};
use store::WriteOp;

fn set<const N: usize>(items: [&str; N]) -> BTreeSet<String> {
    items.into_iter().map(str::to_owned).collect()
}

const RDS_ARN: &str = "arn:aws:rds:us-east-1:123456789012:db:shared-db";

// =============================================================================================
// Meta: health, the OpenAPI document, unknown routes.

#[tokio::test]
async fn health_is_public_and_ok() {
    let h = Harness::new();
    let r = h.call(Method::GET, "/v1/health", ANONYMOUS, None).await.expect(StatusCode::OK);
    assert_eq!(r.body, json!({ "status": "ok" }));
}

#[tokio::test]
async fn openapi_document_is_public_and_openapi_3_1() {
    let h = Harness::new();
    let r = h.call(Method::GET, "/v1/openapi.json", ANONYMOUS, None).await.expect(StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let version = r.body["openapi"].as_str().expect("an `openapi` member");
    assert!(version.starts_with("3.1."), "OpenAPI {version}");
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
}

/// Every route the router serves (see `api_routes` in lib.rs), with its methods.
const SERVED_ROUTES: &[(&str, &[&str])] = &[
    ("/v1/health", &["get"]),
    ("/v1/openapi.json", &["get"]),
    ("/v1/customers", &["get", "post"]),
    ("/v1/customers/{id}", &["get", "patch"]),
    ("/v1/customers/{id}/license-assignments", &["get"]),
    ("/v1/licenses", &["get", "post"]),
    ("/v1/licenses/{id}", &["get", "patch"]),
    ("/v1/licenses/{id}/assignments", &["get"]),
    ("/v1/license-assignments", &["post"]),
    ("/v1/license-assignments/{id}", &["get", "patch"]),
    ("/v1/releases", &["get", "post"]),
    ("/v1/releases/{version}", &["get", "patch"]),
    ("/v1/tenants", &["get", "post"]),
    ("/v1/tenants/{id}", &["get", "patch"]),
    ("/v1/tenants/{id}/configs", &["get"]),
    ("/v1/tenants/{id}/configs/{key}", &["get", "put", "delete"]),
    ("/v1/tenants/{id}/components", &["get"]),
    ("/v1/tenants/{id}/components/{name}", &["get", "put"]),
    ("/v1/tenants/{id}/resources", &["get"]),
    ("/v1/tenants/{id}/health-runs", &["get"]),
    ("/v1/tenants/{id}/change-requests", &["get", "post"]),
    ("/v1/tenants/{id}/history", &["get"]),
    ("/v1/history", &["get"]),
    ("/v1/fleet/summary", &["get"]),
    ("/v1/fleet/versions", &["get"]),
    ("/v1/fleet/drift", &["get"]),
    ("/v1/tenants/{id}/drift", &["get"]),
    ("/v1/resources", &["get", "post"]),
    ("/v1/resources/{id}", &["get", "patch", "delete"]),
    ("/v1/resources/{id}/tenants", &["get"]),
    ("/v1/tenants/{id}/backups", &["get"]),
    ("/v1/tenants/{id}/backups/{backup_id}", &["get"]),
    ("/v1/tenants/{id}/metrics", &["get"]),
    ("/v1/tenants/{id}/metering", &["get"]),
    ("/v1/metering", &["get"]),
    ("/v1/licenses/expiring", &["get"]),
    ("/v1/tenants/{id}/report", &["get"]),
    ("/v1/change-requests/{id}", &["get"]),
    ("/v1/change-requests/{id}/approve", &["post"]),
    ("/v1/change-requests/{id}/reject", &["post"]),
    ("/v1/change-requests/{id}/cancel", &["post"]),
    ("/v1/change-requests/{id}/abort", &["post"]),
    ("/v1/change-requests/{id}/rollback", &["post"]),
    ("/v1/callbacks/jenkins", &["post"]),
    ("/v1/tenants/{id}/import-compose", &["post"]),
    ("/v1/rollouts", &["get", "post"]),
    ("/v1/rollouts/plan", &["post"]),
    ("/v1/rollouts/{id}", &["get"]),
    ("/v1/rollouts/{id}/pause", &["post"]),
    ("/v1/rollouts/{id}/resume", &["post"]),
    ("/v1/rollouts/{id}/abort", &["post"]),
];

const HTTP_METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

#[tokio::test]
async fn openapi_document_lists_every_route_the_router_serves() {
    let h = Harness::new();
    let doc = h.get("/v1/openapi.json").await.expect(StatusCode::OK).body;
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in SERVED_ROUTES {
        let operations = paths.get(*path).unwrap_or_else(|| panic!("{path} is missing from the OpenAPI document"));
        let documented: BTreeSet<&str> = HTTP_METHODS.into_iter().filter(|m| operations.get(*m).is_some()).collect();
        assert_eq!(documented, methods.iter().copied().collect(), "methods of {path}");
    }
    assert_eq!(paths.len(), SERVED_ROUTES.len(), "paths: {:?}", paths.keys());
}

#[tokio::test]
async fn every_documented_operation_is_served_by_the_router() {
    let h = Harness::new();
    let doc = h.get("/v1/openapi.json").await.expect(StatusCode::OK).body;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let concrete: String =
            path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/");
        for method in HTTP_METHODS.into_iter().filter(|m| operations.get(*m).is_some()) {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = matches!(method, "post" | "put" | "patch").then(|| json!({}));
            let r = h.call(m, &concrete, ADMIN, body).await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert_ne!(r.body["detail"], "no such route", "{method} {path} is documented but not routed");
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let h = Harness::new();
    h.call(Method::GET, "/v1/nothing-here", VIEWER, None).await.expect_problem(StatusCode::NOT_FOUND, None);
    let customer = h.customer("Acme").await;
    h.call(Method::DELETE, &format!("/v1/customers/{customer}"), ADMIN, None)
        .await
        .expect_problem(StatusCode::METHOD_NOT_ALLOWED, None);
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_one_is_made_otherwise() {
    let h = Harness::new();
    let r = h.call_with(Method::GET, "/v1/health", ANONYMOUS, &[("x-request-id", "req-42")], None).await;
    assert_eq!(r.header("x-request-id"), Some("req-42"));
    let r = h.call(Method::GET, "/v1/health", ANONYMOUS, None).await;
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
}

// =============================================================================================
// Authentication and roles.

#[tokio::test]
async fn requests_without_a_token_are_401() {
    let h = Harness::new();
    for path in ["/v1/customers", "/v1/tenants", "/v1/fleet/summary"] {
        let r = h.call(Method::GET, path, ANONYMOUS, None).await.expect_problem(StatusCode::UNAUTHORIZED, None);
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let before = h.snapshot();
    h.call(Method::POST, "/v1/customers", ANONYMOUS, Some(json!({ "name": "Acme" })))
        .await
        .expect_problem(StatusCode::UNAUTHORIZED, None);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn malformed_tokens_are_401() {
    let h = Harness::new();
    for authorization in ["Bearer", "Bearer admin", "Basic YWRtaW46YWRh", "admin:ada", ""] {
        let req =
            Request::get("/v1/customers").header(header::AUTHORIZATION, authorization).body(Body::empty()).unwrap();
        h.send(req).await.expect_problem(StatusCode::UNAUTHORIZED, None);
    }
    // A well-formed token with an empty subject is no identity either.
    h.call(Method::GET, "/v1/customers", Some("admin:"), None).await.expect_problem(StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn a_token_with_no_known_role_is_403() {
    let h = Harness::new();
    h.call(Method::GET, "/v1/customers", Some("root:mallory"), None).await.expect_problem(StatusCode::FORBIDDEN, None);
}

#[tokio::test]
async fn a_viewer_may_read_everything() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let customer = h.get("/v1/customers").await.expect(StatusCode::OK).items()[0].clone();
    for path in [
        "/v1/customers".to_owned(),
        format!("/v1/customers/{}", id_of(&customer)),
        "/v1/releases".to_owned(),
        "/v1/releases/3.1.0".to_owned(),
        "/v1/tenants".to_owned(),
        format!("/v1/tenants/{tenant}"),
        format!("/v1/tenants/{tenant}/configs"),
        format!("/v1/tenants/{tenant}/components"),
        format!("/v1/tenants/{tenant}/change-requests"),
        "/v1/fleet/summary".to_owned(),
        "/v1/resources".to_owned(),
        "/v1/licenses".to_owned(),
    ] {
        h.call(Method::GET, &path, VIEWER, None).await.expect(StatusCode::OK);
    }
}

#[tokio::test]
async fn a_viewer_may_not_post_patch_put_or_delete() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/configs/smtp.host"),
        OPERATOR,
        Some(json!({ "value": "mail.acme" })),
    )
    .await
    .expect(StatusCode::CREATED);
    let customer = id_of(&h.get("/v1/customers").await.items()[0]);
    let before = h.snapshot();

    let writes = [
        (Method::POST, "/v1/customers".to_owned(), Some(json!({ "name": "Globex" }))),
        (Method::PATCH, format!("/v1/customers/{customer}"), Some(json!({ "name": "Acme 2" }))),
        (Method::PATCH, format!("/v1/tenants/{tenant}"), Some(json!({ "description": "x" }))),
        (Method::PATCH, "/v1/releases/3.1.0".to_owned(), Some(json!({ "status": "deprecated" }))),
        (Method::PUT, format!("/v1/tenants/{tenant}/configs/smtp.host"), Some(json!({ "value": "mail.evil" }))),
        (Method::PUT, format!("/v1/tenants/{tenant}/components/webapp"), Some(json!({ "version": "9.9.9" }))),
        (Method::DELETE, format!("/v1/tenants/{tenant}/configs/smtp.host"), None),
        (Method::POST, "/v1/resources".to_owned(), Some(json!({ "arn": RDS_ARN }))),
    ];
    for (method, path, body) in writes {
        h.call(method, &path, VIEWER, body).await.expect_problem(StatusCode::FORBIDDEN, None);
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn an_operator_may_not_delete_a_resource() {
    let h = Harness::new();
    let resource = h
        .call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN })))
        .await
        .expect(StatusCode::CREATED)
        .id();
    let before = h.snapshot();
    h.call(Method::DELETE, &format!("/v1/resources/{resource}"), OPERATOR, None)
        .await
        .expect_problem(StatusCode::FORBIDDEN, None);
    h.assert_unchanged(&before);
    h.get(&format!("/v1/resources/{resource}")).await.expect(StatusCode::OK);
}

// =============================================================================================
// Customers: create, read, list and pagination.

#[tokio::test]
async fn creating_a_customer_answers_201_with_location_and_etag_1() {
    let h = Harness::new();
    let r = h
        .call(
            Method::POST,
            "/v1/customers",
            OPERATOR,
            Some(json!({ "name": "Acme Corp", "contact_email": "ops@acme.example" })),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r.id();
    assert!(id.starts_with("cus_"), "{id}");
    assert_eq!(r.header("location"), Some(format!("/v1/customers/{id}").as_str()));
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["name"], "Acme Corp");
    assert_eq!(r.body["contact_email"], "ops@acme.example");
    assert_eq!(r.body["revision"], 1, "the ETag is the revision");
    assert_eq!(r.body["created_by"], "otto", "the actor is the token's sub");
    assert_eq!(r.body["updated_by"], "otto");
    assert_eq!(h.count_kind("customer"), 1);
}

#[tokio::test]
async fn a_customer_reads_back_with_its_etag() {
    let h = Harness::new();
    let created = h
        .call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "name": "Acme" })))
        .await
        .expect(StatusCode::CREATED);
    let r = h.get(&format!("/v1/customers/{}", created.id())).await.expect(StatusCode::OK);
    assert_eq!(r.body, created.body);
    assert_eq!(r.etag(), "\"1\"");
}

#[tokio::test]
async fn an_unknown_customer_is_404_and_a_malformed_id_400() {
    let h = Harness::new();
    let unknown = domain::CustomerId::generate();
    h.get(&format!("/v1/customers/{unknown}")).await.expect_problem(StatusCode::NOT_FOUND, None);
    h.get("/v1/customers/not-an-id").await.expect_problem(StatusCode::BAD_REQUEST, Some("id"));
    // An id of another kind is not a customer id.
    let tenant = domain::TenantId::generate();
    h.get(&format!("/v1/customers/{tenant}")).await.expect_problem(StatusCode::BAD_REQUEST, Some("id"));
}

#[tokio::test]
async fn listing_customers_pages_through_all_of_them_exactly_once() {
    let h = Harness::new();
    let mut created = BTreeSet::new();
    for n in 0..7 {
        created.insert(h.customer(&format!("Customer {n}")).await);
    }
    let mut seen = Vec::new();
    let mut url = "/v1/customers?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let page = h.get(&url).await.expect(StatusCode::OK);
        pages += 1;
        assert!(page.items().len() <= 3, "a page holds at most `limit` items");
        seen.extend(page.items().iter().map(id_of));
        assert!(page.body.as_object().unwrap().contains_key("next_token"), "next_token is always present");
        match page.body["next_token"].as_str() {
            Some(token) => url = format!("/v1/customers?limit=3&next_token={token}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "no duplicates: {seen:?}");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), created);
}

#[tokio::test]
async fn the_default_page_holds_everything_when_small() {
    let h = Harness::new();
    for n in 0..3 {
        h.customer(&format!("Customer {n}")).await;
    }
    let page = h.get("/v1/customers").await.expect(StatusCode::OK);
    assert_eq!(page.items().len(), 3);
    assert!(page.body["next_token"].is_null());
    // The bounds themselves are accepted.
    h.get("/v1/customers?limit=1").await.expect(StatusCode::OK);
    h.get("/v1/customers?limit=500").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_limit_out_of_range_or_not_a_number_is_400_naming_limit() {
    let h = Harness::new();
    h.customer("Acme").await;
    for limit in ["0", "501", "abc", "-1", ""] {
        h.get(&format!("/v1/customers?limit={limit}")).await.expect_problem(StatusCode::BAD_REQUEST, Some("limit"));
    }
}

#[tokio::test]
async fn a_bad_next_token_is_400_naming_next_token() {
    let h = Harness::new();
    for n in 0..3 {
        h.customer(&format!("Customer {n}")).await;
        h.release(&format!("3.{n}.0")).await;
    }
    h.get("/v1/customers?next_token=not-a-token").await.expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
    // A real token, but from another list.
    let releases = h.get("/v1/releases?limit=1").await.expect(StatusCode::OK);
    let token = releases.body["next_token"].as_str().expect("a next page");
    h.get(&format!("/v1/customers?next_token={token}"))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
}

#[tokio::test]
async fn an_unknown_query_parameter_is_400_naming_it() {
    let h = Harness::new();
    h.get("/v1/customers?colour=red").await.expect_problem(StatusCode::BAD_REQUEST, Some("colour"));
    h.get("/v1/tenants?owner=me").await.expect_problem(StatusCode::BAD_REQUEST, Some("owner"));
}

// =============================================================================================
// Bodies that cannot be accepted, each writing nothing.

#[tokio::test]
async fn a_malformed_json_body_is_400_and_writes_nothing() {
    let h = Harness::new();
    let before = h.snapshot();
    for body in [r#"{"name":"#, "", "not json", r#"{"name": "Acme",}"#] {
        h.raw(Method::POST, "/v1/customers", OPERATOR, &[], Some("application/json"), body)
            .await
            .expect_problem(StatusCode::BAD_REQUEST, None);
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn an_unknown_field_is_422_naming_it() {
    let h = Harness::new();
    let before = h.snapshot();
    let r = h
        .call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "name": "Acme", "colour": "red" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("colour"));
    assert!(r.body["detail"].as_str().unwrap().contains("colour"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_missing_name_is_422_naming_name() {
    let h = Harness::new();
    let before = h.snapshot();
    h.call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "contact_email": "ops@acme.example" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_value_of_the_wrong_type_or_shape_is_422_naming_its_field() {
    let h = Harness::new();
    let before = h.snapshot();
    let cases = [
        (json!({ "name": 5 }), "name"),
        (json!({ "name": ["Acme"] }), "name"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": " Acme" }), "name"),
        (json!({ "name": "Acme", "contact_email": 3 }), "contact_email"),
        (json!({ "name": "Acme", "contact_email": "not-an-email" }), "contact_email"),
        (json!({ "name": "Acme", "notes": "bell\u{7}" }), "notes"),
    ];
    for (body, field) in cases {
        h.call(Method::POST, "/v1/customers", OPERATOR, Some(body))
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_name_over_200_characters_is_422() {
    let h = Harness::new();
    let before = h.snapshot();
    h.call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "name": "x".repeat(201) })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    h.assert_unchanged(&before);
    // 200 characters (not bytes) is the limit.
    h.call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "name": "é".repeat(200) })))
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_that_is_not_json_by_its_content_type_is_415() {
    let h = Harness::new();
    let before = h.snapshot();
    for ct in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
        h.raw(Method::POST, "/v1/customers", OPERATOR, &[], Some(ct), r#"{"name":"Acme"}"#)
            .await
            .expect_problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("Content-Type"));
    }
    h.assert_unchanged(&before);
    // JSON with parameters, or a +json type, is JSON.
    h.raw(Method::POST, "/v1/customers", OPERATOR, &[], Some("application/json; charset=utf-8"), r#"{"name":"Acme"}"#)
        .await
        .expect(StatusCode::CREATED);
}

#[tokio::test]
async fn a_body_over_256_kib_is_413_and_writes_nothing() {
    let h = Harness::new();
    let before = h.snapshot();
    h.call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "name": "x".repeat(300 * 1024) })))
        .await
        .expect_problem(StatusCode::PAYLOAD_TOO_LARGE, None);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_duplicated_member_is_422_naming_it() {
    let h = Harness::new();
    h.raw(Method::POST, "/v1/customers", OPERATOR, &[], Some("application/json"), r#"{"name":"Acme","name":"Evil"}"#)
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn trailing_data_after_the_json_body_is_400() {
    let h = Harness::new();
    let before = h.snapshot();
    for body in [r#"{"name":"Acme"} trailing"#, r#"{"name":"Acme"}{"name":"Evil"}"#] {
        h.raw(Method::POST, "/v1/customers", OPERATOR, &[], Some("application/json"), body)
            .await
            .expect_problem(StatusCode::BAD_REQUEST, None);
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_body_that_is_not_a_json_object_is_422_and_writes_nothing() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    let before = h.snapshot();
    // serde would read `[null, null]` as the patch's first two fields, clearing them.
    for body in ["[null, null]", r#"["Evil"]"#, r#""Acme""#, "3", "null"] {
        h.raw(Method::PATCH, &format!("/v1/customers/{customer}"), OPERATOR, &[], Some("application/json"), body)
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, None);
        h.raw(Method::POST, "/v1/customers", OPERATOR, &[], Some("application/json"), body)
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, None);
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_viewer_posting_an_invalid_body_is_403() {
    let h = Harness::new();
    h.call(Method::POST, "/v1/customers", VIEWER, Some(json!({}))).await.expect_problem(StatusCode::FORBIDDEN, None);
    h.raw(Method::POST, "/v1/customers", VIEWER, &[], Some("text/plain"), "x")
        .await
        .expect_problem(StatusCode::FORBIDDEN, None);
}

// =============================================================================================
// PATCH and optimistic concurrency.

#[tokio::test]
async fn a_patch_with_the_current_if_match_answers_200_and_etag_2() {
    let h = Harness::new();
    let id = h.customer("Acme").await;
    let r = h
        .call_with(
            Method::PATCH,
            &format!("/v1/customers/{id}"),
            ADMIN,
            &[("if-match", "\"1\"")],
            Some(json!({ "name": "Acme Corp" })),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.etag(), "\"2\"");
    assert_eq!(r.body["name"], "Acme Corp");
    assert_eq!(r.body["updated_by"], "ada");
    assert_eq!(r.body["created_by"], "otto");
    let read = h.get(&format!("/v1/customers/{id}")).await;
    assert_eq!(read.body["name"], "Acme Corp");
    assert_eq!(read.etag(), "\"2\"");
}

#[tokio::test]
async fn a_patch_with_a_stale_if_match_is_412_and_changes_nothing() {
    let h = Harness::new();
    let id = h.customer("Acme").await;
    let path = format!("/v1/customers/{id}");
    h.call(Method::PATCH, &path, OPERATOR, Some(json!({ "name": "Acme 2" }))).await.expect(StatusCode::OK);
    let before = h.snapshot();
    for stale in ["\"1\"", "W/\"1\"", "7"] {
        h.call_with(Method::PATCH, &path, OPERATOR, &[("if-match", stale)], Some(json!({ "name": "Acme 3" })))
            .await
            .expect_problem(StatusCode::PRECONDITION_FAILED, Some("If-Match"));
    }
    h.assert_unchanged(&before);
    assert_eq!(h.get(&path).await.body["name"], "Acme 2");
}

#[tokio::test]
async fn a_malformed_if_match_is_400_naming_it() {
    let h = Harness::new();
    let id = h.customer("Acme").await;
    let before = h.snapshot();
    h.call_with(
        Method::PATCH,
        &format!("/v1/customers/{id}"),
        OPERATOR,
        &[("if-match", "\"one\"")],
        Some(json!({ "name": "Acme 2" })),
    )
    .await
    .expect_problem(StatusCode::BAD_REQUEST, Some("If-Match"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn patching_an_optional_field_to_null_clears_it() {
    let h = Harness::new();
    let id = h
        .call(
            Method::POST,
            "/v1/customers",
            OPERATOR,
            Some(json!({ "name": "Acme", "contact_email": "ops@acme.example", "notes": "VIP" })),
        )
        .await
        .expect(StatusCode::CREATED)
        .id();
    let r = h
        .call(Method::PATCH, &format!("/v1/customers/{id}"), OPERATOR, Some(json!({ "contact_email": null })))
        .await
        .expect(StatusCode::OK);
    assert!(r.body.get("contact_email").is_none(), "{}", r.text);
    assert_eq!(r.body["notes"], "VIP", "an absent field is left alone");
    let read = h.get(&format!("/v1/customers/{id}")).await;
    assert!(read.body.get("contact_email").is_none());
}

#[tokio::test]
async fn a_patch_that_changes_nothing_keeps_the_version_and_writes_nothing() {
    let h = Harness::new();
    let id = h.customer("Acme").await;
    let before = h.snapshot();
    for body in [json!({ "name": "Acme" }), json!({})] {
        let r = h
            .call_with(Method::PATCH, &format!("/v1/customers/{id}"), OPERATOR, &[("if-match", "\"1\"")], Some(body))
            .await
            .expect(StatusCode::OK);
        assert_eq!(r.etag(), "\"1\"");
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn patching_a_missing_record_is_404() {
    let h = Harness::new();
    let unknown = domain::CustomerId::generate();
    h.call(Method::PATCH, &format!("/v1/customers/{unknown}"), OPERATOR, Some(json!({ "name": "Ghost" })))
        .await
        .expect_problem(StatusCode::NOT_FOUND, None);
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn a_tenant_s_state_and_release_cannot_be_patched() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    h.release("3.2.0").await;
    let before = h.snapshot();
    for (body, field) in [
        (json!({ "state": "Healthy" }), "state"),
        (json!({ "release": "3.2.0" }), "release"),
        (json!({ "description": "ok", "state": "Broken" }), "state"),
    ] {
        h.call(Method::PATCH, &format!("/v1/tenants/{tenant}"), ADMIN, Some(body))
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_tenant_s_region_and_description_patch_and_clear() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let path = format!("/v1/tenants/{tenant}");
    let r = h
        .call(Method::PATCH, &path, OPERATOR, Some(json!({ "region": "eu-west-1", "description": "main" })))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.body["region"], "eu-west-1");
    assert_eq!(r.etag(), "\"2\"");
    let r = h.call(Method::PATCH, &path, OPERATOR, Some(json!({ "region": null }))).await.expect(StatusCode::OK);
    assert!(r.body.get("region").is_none());
    assert_eq!(r.body["description"], "main");
    h.call(Method::PATCH, &path, OPERATOR, Some(json!({ "region": "mars-1" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("region"));
}

// =============================================================================================
// Releases.

#[tokio::test]
async fn a_release_is_created_read_and_listed_in_version_order() {
    let h = Harness::new();
    let r = h
        .call(Method::POST, "/v1/releases", OPERATOR, Some(json!({ "version": "3.10.0", "components": manifest() })))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.header("location"), Some("/v1/releases/3.10.0"));
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["status"], "available");
    assert_eq!(r.body["components"], manifest());
    h.release("3.2.0").await;
    h.release("3.2.0-rc.1").await;
    let read = h.get("/v1/releases/3.10.0").await.expect(StatusCode::OK);
    assert_eq!(read.body, r.body);
    let list = h.get("/v1/releases").await.expect(StatusCode::OK);
    let versions: Vec<&str> = list.items().iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["3.2.0-rc.1", "3.2.0", "3.10.0"]);
}

#[tokio::test]
async fn releases_list_numeric_pre_releases_in_semver_order() {
    let h = Harness::new();
    h.release("3.2.0-rc.10").await;
    h.release("3.2.0-rc.2").await;
    let list = h.get("/v1/releases").await.expect(StatusCode::OK);
    let versions: Vec<&str> = list.items().iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["3.2.0-rc.2", "3.2.0-rc.10"]);
}

#[tokio::test]
async fn a_release_version_that_is_not_semver_is_422_naming_version() {
    let h = Harness::new();
    for version in ["3.1", "v3.1.0", "3.1.0+build.5", "03.1.0"] {
        h.call(Method::POST, "/v1/releases", OPERATOR, Some(json!({ "version": version, "components": manifest() })))
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("version"));
    }
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn a_release_version_is_published_once() {
    let h = Harness::new();
    h.release("3.1.0").await;
    let before = h.snapshot();
    h.call(
        Method::POST,
        "/v1/releases",
        ADMIN,
        Some(json!({ "version": "3.1.0", "components": { "webapp": "9.9.9" } })),
    )
    .await
    .expect_problem(StatusCode::CONFLICT, None);
    h.assert_unchanged(&before);
    assert_eq!(h.get("/v1/releases/3.1.0").await.body["components"], manifest());
}

#[tokio::test]
async fn a_release_without_components_is_422_naming_components() {
    let h = Harness::new();
    h.call(Method::POST, "/v1/releases", OPERATOR, Some(json!({ "version": "3.1.0", "components": {} })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("components"));
    h.call(Method::POST, "/v1/releases", OPERATOR, Some(json!({ "version": "3.1.0" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("components"));
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn a_bad_component_name_or_version_is_422_naming_the_component() {
    let h = Harness::new();
    let r = h
        .call(
            Method::POST,
            "/v1/releases",
            OPERATOR,
            Some(json!({ "version": "3.1.0", "components": { "Bad Name": "1.0" } })),
        )
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("components.Bad Name"));
    assert!(r.body["detail"].as_str().unwrap().contains("must match"));
    h.call(
        Method::POST,
        "/v1/releases",
        OPERATOR,
        Some(json!({ "version": "3.1.0", "components": { "webapp": "not a version" } })),
    )
    .await
    .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("components.webapp"));
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn a_release_path_that_is_not_semver_is_400_and_an_unknown_one_404() {
    let h = Harness::new();
    h.get("/v1/releases/not-semver").await.expect_problem(StatusCode::BAD_REQUEST, Some("version"));
    h.get("/v1/releases/9.9.9").await.expect_problem(StatusCode::NOT_FOUND, None);
}

// =============================================================================================
// Tenants.

#[tokio::test]
async fn a_tenant_needs_an_existing_customer() {
    let h = Harness::new();
    h.release("3.1.0").await;
    let before = h.snapshot();
    let unknown = domain::CustomerId::generate();
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": unknown, "name": "acme-prod", "release": "3.1.0" })),
    )
    .await
    .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("customer_id"));
    h.assert_unchanged(&before);
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": "cus_nope", "name": "acme-prod", "release": "3.1.0" })),
    )
    .await
    .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("customer_id"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_tenant_needs_an_existing_release() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let before = h.snapshot();
    for release in ["3.2.0", "3.1.0-rc.1"] {
        h.call(
            Method::POST,
            "/v1/tenants",
            OPERATOR,
            Some(json!({ "customer_id": customer, "name": "acme-prod", "release": release })),
        )
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("release"));
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_tenant_needs_an_available_release() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    h.call_with(
        Method::PATCH,
        "/v1/releases/3.1.0",
        OPERATOR,
        &[("if-match", "\"1\"")],
        Some(json!({ "status": "deprecated" })),
    )
    .await
    .expect(StatusCode::OK);
    let before = h.snapshot();
    let r = h
        .call(
            Method::POST,
            "/v1/tenants",
            OPERATOR,
            Some(json!({ "customer_id": customer, "name": "acme-prod", "release": "3.1.0" })),
        )
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("release"));
    assert!(r.body["detail"].as_str().unwrap().contains("deprecated"), "{}", r.text);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_new_tenant_starts_provisioning_held_by_a_running_provision_change_request() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let r = h
        .call(
            Method::POST,
            "/v1/tenants",
            OPERATOR,
            Some(json!({
                "customer_id": customer, "name": "acme-prod", "release": "3.1.0",
                "region": "us-east-1", "description": "production"
            })),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r.id();
    assert!(id.starts_with("ten_"));
    assert_eq!(r.header("location"), Some(format!("/v1/tenants/{id}").as_str()));
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["state"], "Provisioning");
    assert_eq!(r.body["customer_id"], customer.as_str());
    assert_eq!(r.body["release"], "3.1.0");
    assert_eq!(r.body["region"], "us-east-1");
    assert_eq!(r.body["imported"], false);
    let cr_id = r.body["active_change_request_id"].as_str().expect("an active change request");
    assert_eq!(r.body["change_request_id"], cr_id, "the tenant is stamped by its change request");

    let cr = h.get(&format!("/v1/change-requests/{cr_id}")).await.expect(StatusCode::OK);
    assert_eq!(cr.body["operation"], "provision");
    assert_eq!(cr.body["status"], "running", "its workflow started with the tenant");
    assert_eq!(cr.body["tenant_id"], id.as_str());
    assert_eq!(cr.body["requested_by"], "otto");
    assert_eq!(cr.body["params"]["release"], "3.1.0");

    let crs = h.get(&format!("/v1/tenants/{id}/change-requests")).await.expect(StatusCode::OK);
    assert_eq!(crs.item_strings("id"), set([cr_id]));

    assert_eq!(h.get(&format!("/v1/tenants/{id}")).await.body, r.body);
}

#[tokio::test]
async fn a_new_tenant_runs_the_components_of_its_release() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let r = h.get(&format!("/v1/tenants/{tenant}/components")).await.expect(StatusCode::OK);
    let components: BTreeMap<String, Value> = r
        .items()
        .iter()
        .map(|c| {
            assert_eq!(c["tenant_id"], tenant.as_str());
            (c["name"].as_str().unwrap().to_owned(), c["version"].clone())
        })
        .collect();
    assert_eq!(serde_json::to_value(components).unwrap(), manifest());
}

#[tokio::test]
async fn an_imported_tenant_starts_in_testing_with_a_validate_change_request() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let t = h.imported_tenant(&customer, "acme-legacy", "3.1.0").await;
    assert_eq!(t["state"], "InTesting");
    assert_eq!(t["imported"], true);
    let cr_id = t["active_change_request_id"].as_str().unwrap();
    let cr = h.get(&format!("/v1/change-requests/{cr_id}")).await.expect(StatusCode::OK);
    assert_eq!(cr.body["operation"], "validate");
    assert_eq!(cr.body["status"], "running", "its workflow started with the tenant");
}

#[tokio::test]
async fn a_change_request_path_is_checked_and_an_unknown_one_is_404() {
    let h = Harness::new();
    h.get("/v1/change-requests/nope").await.expect_problem(StatusCode::BAD_REQUEST, Some("id"));
    let unknown = domain::ChangeRequestId::generate();
    h.get(&format!("/v1/change-requests/{unknown}")).await.expect_problem(StatusCode::NOT_FOUND, None);
    let tenant = domain::TenantId::generate();
    h.get(&format!("/v1/tenants/{tenant}/change-requests")).await.expect_problem(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn a_tenant_name_is_unique_in_the_fleet() {
    let h = Harness::new();
    let acme = h.customer("Acme").await;
    let globex = h.customer("Globex").await;
    h.release("3.1.0").await;
    h.tenant(&acme, "shared-name", "3.1.0").await;
    let before = h.snapshot();
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": globex, "name": "shared-name", "release": "3.1.0" })),
    )
    .await
    .expect_problem(StatusCode::CONFLICT, None);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_tenant_name_must_be_a_dns_label() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let before = h.snapshot();
    for name in ["Acme", "acme_prod", "acme-", "a"] {
        h.call(
            Method::POST,
            "/v1/tenants",
            OPERATOR,
            Some(json!({ "customer_id": customer, "name": name, "release": "3.1.0" })),
        )
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("name"));
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn renaming_a_tenant_frees_the_old_name_and_takes_the_new_one() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let first = id_of(&h.tenant(&customer, "acme-prod", "3.1.0").await);
    let other = id_of(&h.tenant(&customer, "acme-test", "3.1.0").await);

    let r = h
        .call_with(
            Method::PATCH,
            &format!("/v1/tenants/{first}"),
            OPERATOR,
            &[("if-match", "\"1\"")],
            Some(json!({ "name": "acme-live" })),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.body["name"], "acme-live");
    assert_eq!(r.etag(), "\"2\"");

    // The old name is free again...
    h.tenant(&customer, "acme-prod", "3.1.0").await;
    // ...and the new one is taken, for new tenants and for renames.
    let before = h.snapshot();
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": customer, "name": "acme-live", "release": "3.1.0" })),
    )
    .await
    .expect_problem(StatusCode::CONFLICT, None);
    h.call(Method::PATCH, &format!("/v1/tenants/{other}"), OPERATOR, Some(json!({ "name": "acme-live" })))
        .await
        .expect_problem(StatusCode::CONFLICT, None);
    h.assert_unchanged(&before);
    assert_eq!(h.get(&format!("/v1/tenants/{other}")).await.body["name"], "acme-test");
}

/// Four tenants over two customers, two releases and two states.
struct Fleet {
    acme: String,
    globex: String,
}

async fn fleet(h: &Harness) -> Fleet {
    let acme = h.customer("Acme").await;
    let globex = h.customer("Globex").await;
    h.release("3.1.0").await;
    h.release("3.2.0").await;
    h.tenant(&acme, "acme-prod", "3.1.0").await; // Provisioning
    h.imported_tenant(&acme, "acme-test", "3.2.0").await; // InTesting
    h.imported_tenant(&globex, "globex-prod", "3.1.0").await; // InTesting
    h.tenant(&globex, "globex-test", "3.1.0").await; // Provisioning
    Fleet { acme, globex }
}

#[tokio::test]
async fn tenants_list_by_state_customer_release_and_any_combination() {
    let h = Harness::new();
    let Fleet { acme, globex } = fleet(&h).await;
    let cases: Vec<(String, BTreeSet<String>)> = vec![
        (String::new(), set(["acme-prod", "acme-test", "globex-prod", "globex-test"])),
        ("state=Provisioning".into(), set(["acme-prod", "globex-test"])),
        ("state=in_testing".into(), set(["acme-test", "globex-prod"])),
        ("state=Healthy".into(), set([])),
        (format!("customer_id={acme}"), set(["acme-prod", "acme-test"])),
        ("release=3.1.0".into(), set(["acme-prod", "globex-prod", "globex-test"])),
        (format!("customer_id={globex}&release=3.1.0"), set(["globex-prod", "globex-test"])),
        (format!("customer_id={globex}&state=InTesting"), set(["globex-prod"])),
        ("release=3.1.0&state=Provisioning".into(), set(["acme-prod", "globex-test"])),
        (format!("customer_id={acme}&release=3.2.0&state=InTesting"), set(["acme-test"])),
        (format!("customer_id={acme}&release=3.1.0&state=InTesting"), set([])),
    ];
    for (query, expected) in cases {
        let r = h.get(&format!("/v1/tenants?{query}")).await.expect(StatusCode::OK);
        assert_eq!(r.item_strings("name"), expected, "?{query}");
    }
}

#[tokio::test]
async fn a_bad_tenant_filter_is_400_naming_it() {
    let h = Harness::new();
    fleet(&h).await;
    h.get("/v1/tenants?state=Dead").await.expect_problem(StatusCode::BAD_REQUEST, Some("state"));
    h.get("/v1/tenants?customer_id=acme").await.expect_problem(StatusCode::BAD_REQUEST, Some("customer_id"));
    h.get("/v1/tenants?release=3.1").await.expect_problem(StatusCode::BAD_REQUEST, Some("release"));
    h.get("/v1/tenants?state=Provisioning&limit=0").await.expect_problem(StatusCode::BAD_REQUEST, Some("limit"));
}

#[tokio::test]
async fn a_filtered_tenant_list_pages_within_its_filter() {
    let h = Harness::new();
    fleet(&h).await;
    let first = h.get("/v1/tenants?release=3.1.0&limit=2").await.expect(StatusCode::OK);
    let token = first.body["next_token"].as_str().expect("a second page");
    let second = h.get(&format!("/v1/tenants?release=3.1.0&limit=2&next_token={token}")).await.expect(StatusCode::OK);
    assert!(second.body["next_token"].is_null());
    let mut names = first.item_strings("name");
    names.extend(second.item_strings("name"));
    assert_eq!(names, set(["acme-prod", "globex-prod", "globex-test"]));
    // The token belongs to that filter.
    h.get(&format!("/v1/tenants?release=3.2.0&next_token={token}"))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
}

#[tokio::test]
async fn the_fleet_summary_counts_tenants_by_state_and_release() {
    let h = Harness::new();
    let empty = h.get("/v1/fleet/summary").await.expect(StatusCode::OK);
    assert_eq!(empty.body["total"], 0);
    assert_eq!(empty.body["by_release"], json!({}));

    fleet(&h).await;
    let r = h.get("/v1/fleet/summary").await.expect(StatusCode::OK);
    assert_eq!(r.body["total"], 4);
    assert_eq!(r.body["by_release"], json!({ "3.1.0": 3, "3.2.0": 1 }));
    let by_state = r.body["by_state"].as_object().unwrap();
    assert_eq!(by_state.len(), 9, "every state is listed");
    for (state, count) in by_state {
        let expected = match state.as_str() {
            "Provisioning" | "InTesting" => 2,
            _ => 0,
        };
        assert_eq!(count, expected, "{state}");
    }
    // A failed create counts nothing.
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": domain::CustomerId::generate(), "name": "ghost", "release": "3.1.0" })),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h.get("/v1/fleet/summary").await.body, r.body);
}

// =============================================================================================
// Configs.

#[tokio::test]
async fn a_config_is_created_201_replaced_200_and_an_unchanged_put_keeps_its_version() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let path = format!("/v1/tenants/{tenant}/configs/smtp.host");

    let r =
        h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "mail.acme" }))).await.expect(StatusCode::CREATED);
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["value"], "mail.acme");
    assert_eq!(r.body["key"], "smtp.host");

    let before = h.snapshot();
    let r = h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "mail.acme" }))).await.expect(StatusCode::OK);
    assert_eq!(r.etag(), "\"1\"");
    h.assert_unchanged(&before);

    let r = h
        .call_with(Method::PUT, &path, OPERATOR, &[("if-match", "\"1\"")], Some(json!({ "value": "mail2.acme" })))
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.etag(), "\"2\"");

    let read = h.get(&path).await.expect(StatusCode::OK);
    assert_eq!(read.body["value"], "mail2.acme");
    assert_eq!(read.etag(), "\"2\"");

    // Numbers and booleans are values too.
    h.call(Method::PUT, &format!("/v1/tenants/{tenant}/configs/max_workers"), OPERATOR, Some(json!({ "value": 8 })))
        .await
        .expect(StatusCode::CREATED);
    let list = h.get(&format!("/v1/tenants/{tenant}/configs")).await.expect(StatusCode::OK);
    assert_eq!(list.item_strings("key"), set(["max_workers", "smtp.host"]));
}

#[tokio::test]
async fn a_config_put_with_a_stale_if_match_is_412() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let path = format!("/v1/tenants/{tenant}/configs/smtp.host");
    h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "a" }))).await.expect(StatusCode::CREATED);
    h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "b" }))).await.expect(StatusCode::OK);
    let before = h.snapshot();
    h.call_with(Method::PUT, &path, OPERATOR, &[("if-match", "\"1\"")], Some(json!({ "value": "c" })))
        .await
        .expect_problem(StatusCode::PRECONDITION_FAILED, Some("If-Match"));
    // If-Match on a key that does not exist yet cannot match either.
    h.call_with(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/configs/new.key"),
        OPERATOR,
        &[("if-match", "\"1\"")],
        Some(json!({ "value": "c" })),
    )
    .await
    .expect_problem(StatusCode::PRECONDITION_FAILED, Some("If-Match"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_secret_key_refuses_a_plain_value_without_echoing_it() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let before = h.snapshot();
    let secret = "hunter2-Sup3rS3cret";
    for key in SECRET_KEY_SPELLINGS {
        let r = h
            .call(
                Method::PUT,
                &format!("/v1/tenants/{tenant}/configs/{key}"),
                OPERATOR,
                Some(json!({ "value": secret })),
            )
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("value"));
        assert!(!r.text.contains(secret), "the answer echoes the secret: {}", r.text);
        assert!(!r.text.contains("hunter2"));
    }
    h.assert_unchanged(&before);
}

/// A config key names a secret in any of these spellings (case and separators ignored).
const SECRET_KEY_SPELLINGS: &[&str] = &[
    "smtp.pwd",
    "SMTP_PWD",
    "smtpPwd",
    "smtp.pass",
    "db-pass",
    "db.passwd",
    "db.password",
    "DB_PASSWORD",
    "dbPassword",
    "ssh.passphrase",
    "AIRFLOW_SECRET",
    "api-token",
    "githubToken",
    "vault.credential",
    "aws.credentials",
    "stripe.apikey",
    "stripe.api-key",
    "stripe.api_key",
    "stripe.apiKey",
    "STRIPE_API_KEY",
    "ssh.private_key",
    "ssh.privatekey",
    "ssh.privateKey",
    "s3.access_key",
    "S3_ACCESS_KEY",
    "oidc.client_secret",
    "oidc.clientSecret",
    "sentry.dsn",
    "db.connection_string",
    "db.connectionString",
    "db.connstr",
    "smtp.auth",
    "basicAuth",
];

#[tokio::test]
async fn smtp_pwd_with_a_plain_value_is_422_naming_value_and_stores_nothing() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let before = h.snapshot();
    let path = format!("/v1/tenants/{tenant}/configs/smtp.pwd");
    let r = h
        .call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "hunter2" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("value"));
    assert!(r.body["detail"].as_str().unwrap().contains("secret_ref"), "{}", r.text);
    assert!(!r.text.contains("hunter2"));
    h.assert_unchanged(&before);
    h.get(&path).await.expect_problem(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn keys_that_only_look_like_secrets_take_plain_values() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    for key in
        ["author", "passenger_limit", "bypass_proxy", "keyboard_layout", "ssh.public_key", "auth.url", "token_ttl"]
    {
        let path = format!("/v1/tenants/{tenant}/configs/{key}");
        h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "x" }))).await.expect(StatusCode::CREATED);
        assert_eq!(h.get(&path).await.expect(StatusCode::OK).body["value"], "x", "{key}");
    }
}

#[tokio::test]
async fn a_secret_is_stored_and_shown_as_its_reference_only() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let path = format!("/v1/tenants/{tenant}/configs/db.password");
    let reference = "ssm:/tenants/acme-prod/db_password";
    let r = h
        .call(Method::PUT, &path, OPERATOR, Some(json!({ "secret_ref": reference })))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.body["secret_ref"], reference);
    assert!(r.body.get("value").is_none());

    let read = h.get(&path).await.expect(StatusCode::OK);
    assert_eq!(read.body["secret_ref"], reference);
    assert!(read.body.get("value").is_none(), "{}", read.text);

    let list = h.get(&format!("/v1/tenants/{tenant}/configs")).await;
    assert_eq!(list.items()[0]["secret_ref"], reference);
    assert!(list.items()[0].get("value").is_none());

    h.call(Method::PUT, &path, OPERATOR, Some(json!({ "secret_ref": "hunter2" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("secret_ref"));
}

#[tokio::test]
async fn a_config_body_takes_a_scalar_value_or_a_reference_not_both() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let path = format!("/v1/tenants/{tenant}/configs/smtp.host");
    let before = h.snapshot();
    let cases = [
        (json!({ "value": "x", "secret_ref": "ssm:/a/b" }), "secret_ref"),
        (json!({ "value": { "host": "x" } }), "value"),
        (json!({ "value": ["x"] }), "value"),
        (json!({ "value": null }), "value"),
        (json!({}), "value"),
        (json!({ "value": "x".repeat(4097) }), "value"),
        (json!({ "value": "x", "ttl": 5 }), "ttl"),
    ];
    for (body, field) in cases {
        h.call(Method::PUT, &path, OPERATOR, Some(body))
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    h.call(Method::PUT, &format!("/v1/tenants/{tenant}/configs/1bad"), OPERATOR, Some(json!({ "value": "x" })))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("key"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_deleted_config_is_gone() {
    let h = Harness::over_network();
    let tenant = h.one_tenant().await;
    let path = format!("/v1/tenants/{tenant}/configs/smtp.host");
    h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "mail.acme" }))).await.expect(StatusCode::CREATED);
    let before = h.snapshot();
    h.call_with(Method::DELETE, &path, OPERATOR, &[("if-match", "\"7\"")], None)
        .await
        .expect_problem(StatusCode::PRECONDITION_FAILED, Some("If-Match"));
    h.assert_unchanged(&before);

    let writes_before = h.writes().len();
    let r = h.call(Method::DELETE, &path, OPERATOR, None).await.expect(StatusCode::NO_CONTENT);
    assert!(r.text.is_empty());
    let writes = h.writes();
    assert_eq!(writes.len() - writes_before, 1, "a delete is one write: {:?}", &writes[writes_before..]);
    h.get(&path).await.expect_problem(StatusCode::NOT_FOUND, None);
    assert!(h.get(&format!("/v1/tenants/{tenant}/configs")).await.items().is_empty());
    assert_eq!(h.count_kind("tenant_config"), 0);
    // What is left is the tombstone: stamped with the deleter, out of every index, expiring.
    let tombstones = h.of_kind("tenant_config");
    assert_eq!(tombstones.len(), 1);
    let t = &tombstones[0];
    assert_eq!(
        (t["deleted"].clone(), t["updated_by"].clone(), t["revision"].clone()),
        (json!(true), json!("otto"), json!(2))
    );
    assert!(t["ttl"].as_i64().is_some_and(|ttl| ttl > 1_700_000_000), "{t:?}");
    assert!(t.keys().all(|k| !k.starts_with("gsi")), "{t:?}");
    h.call(Method::DELETE, &path, OPERATOR, None).await.expect_problem(StatusCode::NOT_FOUND, None);
    // The key can be set again: a new record over the tombstone.
    let again =
        h.call(Method::PUT, &path, OPERATOR, Some(json!({ "value": "mail2.acme" }))).await.expect(StatusCode::CREATED);
    assert_eq!(again.body["revision"], 3, "the new record continues from the tombstone's revision");
    assert_eq!(h.get(&path).await.expect(StatusCode::OK).body["value"], "mail2.acme");
    // No ETag of the deleted record matches the new one.
    for stale in ["\"1\"", "\"2\""] {
        h.call_with(Method::PUT, &path, OPERATOR, &[("if-match", stale)], Some(json!({ "value": "x" })))
            .await
            .expect_problem(StatusCode::PRECONDITION_FAILED, Some("If-Match"));
    }
    assert_eq!(h.get(&format!("/v1/tenants/{tenant}/configs")).await.items().len(), 1);
}

#[tokio::test]
async fn a_config_of_an_unknown_tenant_is_refused_and_writes_nothing() {
    let h = Harness::new();
    h.one_tenant().await;
    let unknown = domain::TenantId::generate();
    let before = h.snapshot();
    // The tenant is read with the config: no such tenant is a 404.
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{unknown}/configs/smtp.host"),
        OPERATOR,
        Some(json!({ "value": "mail.acme" })),
    )
    .await
    .expect_problem(StatusCode::NOT_FOUND, None);
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{unknown}/components/webapp"),
        OPERATOR,
        Some(json!({ "version": "1.0.0" })),
    )
    .await
    .expect_problem(StatusCode::NOT_FOUND, None);
    h.assert_unchanged(&before);
    h.get(&format!("/v1/tenants/{unknown}/configs")).await.expect_problem(StatusCode::NOT_FOUND, None);
    h.get(&format!("/v1/tenants/{unknown}/components")).await.expect_problem(StatusCode::NOT_FOUND, None);
    h.get("/v1/tenants/nope/configs").await.expect_problem(StatusCode::BAD_REQUEST, Some("id"));
}

// =============================================================================================
// Components.

#[tokio::test]
async fn a_component_version_is_recorded_and_listed() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let webapp = format!("/v1/tenants/{tenant}/components/webapp");

    let r =
        h.call(Method::PUT, &webapp, OPERATOR, Some(json!({ "version": "3.1.3-hotfix" }))).await.expect(StatusCode::OK);
    assert_eq!(r.body["version"], "3.1.3-hotfix");
    assert_eq!(r.etag(), "\"2\"", "the manifest wrote version 1");

    let before = h.snapshot();
    h.call(Method::PUT, &webapp, OPERATOR, Some(json!({ "version": "3.1.3-hotfix" }))).await.expect(StatusCode::OK);
    h.assert_unchanged(&before);

    h.call(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/components/reports"),
        OPERATOR,
        Some(json!({ "version": "1.0.0" })),
    )
    .await
    .expect(StatusCode::CREATED);

    let read = h.get(&webapp).await.expect(StatusCode::OK);
    assert_eq!(read.body["version"], "3.1.3-hotfix");
    let list = h.get(&format!("/v1/tenants/{tenant}/components")).await.expect(StatusCode::OK);
    let versions: BTreeMap<&str, &str> =
        list.items().iter().map(|c| (c["name"].as_str().unwrap(), c["version"].as_str().unwrap())).collect();
    assert_eq!(
        versions,
        BTreeMap::from([("airflow", "2.9.1"), ("postgres", "16.4"), ("reports", "1.0.0"), ("webapp", "3.1.3-hotfix"),])
    );
}

#[tokio::test]
async fn a_bad_component_version_or_name_is_refused() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let before = h.snapshot();
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/components/webapp"),
        OPERATOR,
        Some(json!({ "version": "not a version" })),
    )
    .await
    .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("version"));
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/components/Web%20App"),
        OPERATOR,
        Some(json!({ "version": "1.0.0" })),
    )
    .await
    .expect_problem(StatusCode::BAD_REQUEST, Some("name"));
    h.assert_unchanged(&before);
}

// =============================================================================================
// AWS resources and their tenants.

async fn two_tenants(h: &Harness) -> (String, String, String) {
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let a = id_of(&h.tenant(&customer, "acme-prod", "3.1.0").await);
    let b = id_of(&h.tenant(&customer, "acme-test", "3.1.0").await);
    (customer, a, b)
}

#[tokio::test]
async fn a_resource_links_its_tenants_both_ways() {
    let h = Harness::new();
    let (_, a, b) = two_tenants(&h).await;
    let r = h
        .call(
            Method::POST,
            "/v1/resources",
            OPERATOR,
            Some(json!({ "arn": RDS_ARN, "name": "Shared DB", "tenant_ids": [a, b] })),
        )
        .await
        .expect(StatusCode::CREATED);
    let id = r.id();
    assert!(id.starts_with("res_"));
    assert_eq!(r.header("location"), Some(format!("/v1/resources/{id}").as_str()));
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["service"], "rds");
    assert_eq!(r.body["tenant_ids"], json!(BTreeSet::from([&a, &b])));

    for tenant in [&a, &b] {
        let links = h.get(&format!("/v1/tenants/{tenant}/resources")).await.expect(StatusCode::OK);
        assert_eq!(links.items().len(), 1);
        assert_eq!(links.items()[0]["resource_id"], id.as_str());
        assert_eq!(links.items()[0]["tenant_id"], tenant.as_str());
        assert_eq!(links.items()[0]["arn"], RDS_ARN);
    }
    let tenants = h.get(&format!("/v1/resources/{id}/tenants")).await.expect(StatusCode::OK);
    assert_eq!(tenants.item_strings("id"), [a.clone(), b.clone()].into());
    assert_eq!(tenants.item_strings("name"), set(["acme-prod", "acme-test"]));

    let list = h.get("/v1/resources").await.expect(StatusCode::OK);
    assert_eq!(list.item_strings("id"), [id].into());
}

#[tokio::test]
async fn an_arn_is_registered_once() {
    let h = Harness::new();
    let (_, a, _) = two_tenants(&h).await;
    h.call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN }))).await.expect(StatusCode::CREATED);
    let before = h.snapshot();
    h.call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN, "tenant_ids": [a] })))
        .await
        .expect_problem(StatusCode::CONFLICT, None);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn a_bad_arn_is_422_naming_arn() {
    let h = Harness::new();
    for arn in [
        "not-an-arn",
        "arn:aws:rds:us-east-1:123:db:x",
        "arn:azure:rds:us-east-1:123456789012:db:x",
        "arn:aws:rds:us-east-1:123456789012:",
    ] {
        h.call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": arn })))
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("arn"));
    }
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn a_resource_of_an_unknown_tenant_is_422_naming_tenant_ids() {
    let h = Harness::new();
    let (_, a, _) = two_tenants(&h).await;
    let before = h.snapshot();
    let unknown = domain::TenantId::generate();
    let r = h
        .call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN, "tenant_ids": [a, unknown] })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("tenant_ids"));
    assert!(r.body["detail"].as_str().unwrap().contains(unknown.as_str()));
    // A malformed id is refused while the body is read, naming its place in the list.
    h.call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN, "tenant_ids": ["ten_bad"] })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("tenant_ids[0]"));
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn patching_tenant_ids_replaces_the_links() {
    let h = Harness::new();
    let (customer, a, b) = two_tenants(&h).await;
    let c = id_of(&h.tenant(&customer, "acme-dev", "3.1.0").await);
    let id = h
        .call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN, "tenant_ids": [a, b] })))
        .await
        .expect(StatusCode::CREATED)
        .id();

    let r = h
        .call_with(
            Method::PATCH,
            &format!("/v1/resources/{id}"),
            OPERATOR,
            &[("if-match", "\"1\"")],
            Some(json!({ "tenant_ids": [b, c] })),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.etag(), "\"2\"");

    assert!(h.get(&format!("/v1/tenants/{a}/resources")).await.items().is_empty());
    for tenant in [&b, &c] {
        let links = h.get(&format!("/v1/tenants/{tenant}/resources")).await;
        assert_eq!(links.item_strings("resource_id"), [id.clone()].into());
    }
    let tenants = h.get(&format!("/v1/resources/{id}/tenants")).await;
    assert_eq!(tenants.item_strings("id"), [b.clone(), c.clone()].into());

    // An unknown tenant in the new set is refused, and nothing changes.
    let before = h.snapshot();
    h.call(
        Method::PATCH,
        &format!("/v1/resources/{id}"),
        OPERATOR,
        Some(json!({ "tenant_ids": [b, domain::TenantId::generate()] })),
    )
    .await
    .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("tenant_ids"));
    h.assert_unchanged(&before);

    // No tenants at all.
    h.call(Method::PATCH, &format!("/v1/resources/{id}"), OPERATOR, Some(json!({ "tenant_ids": [] })))
        .await
        .expect(StatusCode::OK);
    assert!(h.get(&format!("/v1/resources/{id}/tenants")).await.items().is_empty());
    assert_eq!(h.count_kind("resource_link"), 0);
}

#[tokio::test]
async fn an_admin_deleting_a_resource_removes_its_links_and_frees_its_arn() {
    let h = Harness::new();
    let (_, a, b) = two_tenants(&h).await;
    let id = h
        .call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN, "tenant_ids": [a, b] })))
        .await
        .expect(StatusCode::CREATED)
        .id();
    h.call_with(Method::DELETE, &format!("/v1/resources/{id}"), ADMIN, &[("if-match", "\"2\"")], None)
        .await
        .expect_problem(StatusCode::PRECONDITION_FAILED, Some("If-Match"));

    h.call(Method::DELETE, &format!("/v1/resources/{id}"), ADMIN, None).await.expect(StatusCode::NO_CONTENT);
    h.get(&format!("/v1/resources/{id}")).await.expect_problem(StatusCode::NOT_FOUND, None);
    h.get(&format!("/v1/resources/{id}/tenants")).await.expect_problem(StatusCode::NOT_FOUND, None);
    for tenant in [&a, &b] {
        assert!(h.get(&format!("/v1/tenants/{tenant}/resources")).await.items().is_empty());
    }
    assert_eq!(h.count_kind("resource_link"), 0);
    assert_eq!(h.count_kind("aws_resource"), 0);
    assert!(h.get("/v1/resources").await.items().is_empty(), "the list skips the deleted resource");
    assert_eq!(h.count_kind("guard"), 2, "only the two tenant names are still guarded");
    h.call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN }))).await.expect(StatusCode::CREATED);
}

#[tokio::test]
async fn a_resource_may_swap_its_maximum_of_tenants_for_as_many_others() {
    let max = domain::MAX_TENANTS_PER_RESOURCE;
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let mut tenants = Vec::new();
    for n in 0..=2 * max {
        tenants.push(id_of(&h.tenant(&customer, &format!("t-{n}"), "3.1.0").await));
    }
    let id = h
        .call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN, "tenant_ids": tenants[..max] })))
        .await
        .expect(StatusCode::CREATED)
        .id();
    h.call(
        Method::PATCH,
        &format!("/v1/resources/{id}"),
        OPERATOR,
        Some(json!({ "tenant_ids": tenants[max..2 * max] })),
    )
    .await
    .expect(StatusCode::OK);
    h.call(Method::PATCH, &format!("/v1/resources/{id}"), OPERATOR, Some(json!({ "tenant_ids": tenants[..=max] })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("tenant_ids"));
}

#[tokio::test]
async fn deleting_a_resource_records_who_deleted_it() {
    let h = Harness::over_network();
    let id = h
        .call(Method::POST, "/v1/resources", OPERATOR, Some(json!({ "arn": RDS_ARN })))
        .await
        .expect(StatusCode::CREATED)
        .id();
    let before = h.writes().len();
    h.call(Method::DELETE, &format!("/v1/resources/{id}"), ADMIN, None).await.expect(StatusCode::NO_CONTENT);
    let writes = h.writes();
    assert_eq!(writes.len() - before, 1, "the tombstone, the ARN guard and the links in one transaction");
    let stamped_by_admin = writes.iter().flatten().any(|op| match op {
        WriteOp::Put { item, .. } => {
            item.get("id").and_then(Value::as_str) == Some(id.as_str())
                && item.get("updated_by").and_then(Value::as_str) == Some("ada")
        }
        _ => false,
    });
    assert!(stamped_by_admin, "no write of the resource names the admin who deleted it");
}

// =============================================================================================
// Idempotency-Key.

#[tokio::test]
async fn the_same_key_and_body_replays_the_first_answer_and_creates_nothing_new() {
    let h = Harness::new();
    let body = json!({ "name": "Acme" });
    let first = h
        .call_with(Method::POST, "/v1/customers", OPERATOR, &[("idempotency-key", "create-acme-1")], Some(body.clone()))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let before = h.snapshot();

    let again = h
        .call_with(Method::POST, "/v1/customers", OPERATOR, &[("idempotency-key", "create-acme-1")], Some(body))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert!(again.header("location").is_some());
    assert_eq!(again.etag(), first.etag());
    h.assert_unchanged(&before);
    assert_eq!(h.count_kind("customer"), 1);
    assert_eq!(h.get("/v1/customers").await.items().len(), 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_422_naming_the_key() {
    let h = Harness::new();
    let key = [("idempotency-key", "create-1")];
    h.call_with(Method::POST, "/v1/customers", OPERATOR, &key, Some(json!({ "name": "Acme" })))
        .await
        .expect(StatusCode::CREATED);
    let before = h.snapshot();
    h.call_with(Method::POST, "/v1/customers", OPERATOR, &key, Some(json!({ "name": "Globex" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("Idempotency-Key"));
    // The same body on another route is another request too.
    h.call_with(Method::POST, "/v1/licenses", OPERATOR, &key, Some(json!({ "name": "Acme" })))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    h.assert_unchanged(&before);
    assert_eq!(h.count_kind("customer"), 1);
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_400_naming_it() {
    let h = Harness::new();
    let long = "k".repeat(256);
    for key in ["has space", long.as_str()] {
        h.call_with(
            Method::POST,
            "/v1/customers",
            OPERATOR,
            &[("idempotency-key", key)],
            Some(json!({ "name": "Acme" })),
        )
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("Idempotency-Key"));
    }
    assert!(h.table.is_empty());
}

#[tokio::test]
async fn different_callers_with_the_same_key_are_independent() {
    let h = Harness::new();
    let key = [("idempotency-key", "shared-key")];
    let body = Some(json!({ "name": "Acme" }));
    let otto =
        h.call_with(Method::POST, "/v1/customers", OPERATOR, &key, body.clone()).await.expect(StatusCode::CREATED);
    let ada = h.call_with(Method::POST, "/v1/customers", ADMIN, &key, body).await.expect(StatusCode::CREATED);
    assert_eq!(ada.header("idempotent-replayed"), None);
    assert_ne!(otto.id(), ada.id());
    assert_eq!(ada.body["created_by"], "ada");
    assert_eq!(h.count_kind("customer"), 2);
    // And Ada's other body under that key is hers to refuse, not Otto's.
    h.call_with(Method::POST, "/v1/customers", ADMIN, &key, Some(json!({ "name": "Other" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("Idempotency-Key"));
}

#[tokio::test]
async fn idempotency_records_of_different_callers_never_collide() {
    let h = Harness::new();
    let body = Some(json!({ "name": "Acme" }));
    let first = h
        .call_with(Method::POST, "/v1/customers", Some("operator:a#b"), &[("idempotency-key", "c")], body.clone())
        .await
        .expect(StatusCode::CREATED);
    let second = h
        .call_with(Method::POST, "/v1/customers", Some("operator:a"), &[("idempotency-key", "b#c")], body)
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(second.header("idempotent-replayed"), None);
    assert_ne!(first.id(), second.id());
}

#[tokio::test]
async fn a_replayed_tenant_create_makes_one_tenant_and_counts_it_once() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let body = json!({ "customer_id": customer, "name": "acme-prod", "release": "3.1.0" });
    let key = [("idempotency-key", "tenant-acme-prod")];
    let first =
        h.call_with(Method::POST, "/v1/tenants", OPERATOR, &key, Some(body.clone())).await.expect(StatusCode::CREATED);
    let again = h.call_with(Method::POST, "/v1/tenants", OPERATOR, &key, Some(body)).await.expect(StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(h.count_kind("tenant"), 1);
    assert_eq!(h.count_kind("change_request"), 1);
    assert_eq!(h.get("/v1/fleet/summary").await.body["total"], 1);
}

// =============================================================================================
// Concurrency.

fn statuses(a: &Resp, b: &Resp) -> BTreeSet<u16> {
    [a.status.as_u16(), b.status.as_u16()].into()
}

#[tokio::test]
async fn two_patches_racing_with_the_same_if_match_make_one_200_and_one_412() {
    let h = Harness::new();
    let id = h.customer("Acme").await;
    let path = format!("/v1/customers/{id}");
    let (a, b) = tokio::join!(
        h.call_with(Method::PATCH, &path, OPERATOR, &[("if-match", "\"1\"")], Some(json!({ "name": "A" }))),
        h.call_with(Method::PATCH, &path, ADMIN, &[("if-match", "\"1\"")], Some(json!({ "name": "B" }))),
    );
    assert_eq!(statuses(&a, &b), [200, 412].into(), "{} / {}", a.text, b.text);
    let winner = if a.status == StatusCode::OK { &a } else { &b };
    let read = h.get(&path).await;
    assert_eq!(read.body["name"], winner.body["name"]);
    assert_eq!(read.etag(), "\"2\"");
}

#[tokio::test]
async fn patches_that_both_read_version_1_before_either_writes_make_one_200_and_one_412() {
    let h = Harness::over_network();
    let id = h.customer("Acme").await;
    let path = format!("/v1/customers/{id}");
    let calls = h.table.calls();
    let (a, b) = tokio::join!(
        h.call_with(Method::PATCH, &path, OPERATOR, &[("if-match", "\"1\"")], Some(json!({ "name": "A" }))),
        h.call_with(Method::PATCH, &path, ADMIN, &[("if-match", "\"1\"")], Some(json!({ "name": "B" }))),
    );
    assert_eq!(statuses(&a, &b), [200, 412].into(), "{} / {}", a.text, b.text);
    let loser = if a.status == StatusCode::OK { &b } else { &a };
    assert_eq!(loser.body["field"], "If-Match");
    assert_eq!(h.table.calls() - calls, 4, "both requests read, then both tried to write: the loser lost at the write");
    assert_eq!(h.get(&path).await.etag(), "\"2\"");
}

#[tokio::test]
async fn patches_racing_without_if_match_make_one_200_and_one_409() {
    let h = Harness::over_network();
    let id = h.customer("Acme").await;
    let path = format!("/v1/customers/{id}");
    let (a, b) = tokio::join!(
        h.call(Method::PATCH, &path, OPERATOR, Some(json!({ "name": "A" }))),
        h.call(Method::PATCH, &path, ADMIN, Some(json!({ "name": "B" }))),
    );
    assert_eq!(statuses(&a, &b), [200, 409].into(), "{} / {}", a.text, b.text);
    assert_eq!(h.get(&path).await.etag(), "\"2\"");
}

#[tokio::test]
async fn two_tenants_created_at_once_under_one_name_make_one_201_and_one_409() {
    let h = Harness::over_network();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    let body = json!({ "customer_id": customer, "name": "acme-prod", "release": "3.1.0" });
    let (a, b) = tokio::join!(
        h.call(Method::POST, "/v1/tenants", OPERATOR, Some(body.clone())),
        h.call(Method::POST, "/v1/tenants", ADMIN, Some(body)),
    );
    assert_eq!(statuses(&a, &b), [201, 409].into(), "{} / {}", a.text, b.text);
    assert_eq!(h.count_kind("tenant"), 1);
    assert_eq!(h.count_kind("change_request"), 1);
    assert_eq!(h.get("/v1/fleet/summary").await.body["total"], 1);
}

// =============================================================================================
// DynamoDB round trips per request.

#[tokio::test]
async fn reading_one_record_costs_one_table_call() {
    let h = Harness::new();
    let tenant = h.one_tenant().await;
    let customer = id_of(&h.get("/v1/customers").await.items()[0]);
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/configs/smtp.host"),
        OPERATOR,
        Some(json!({ "value": "mail.acme" })),
    )
    .await
    .expect(StatusCode::CREATED);
    let cr =
        h.get(&format!("/v1/tenants/{tenant}")).await.body["active_change_request_id"].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/customers/{customer}"),
        format!("/v1/tenants/{tenant}"),
        "/v1/releases/3.1.0".to_owned(),
        format!("/v1/tenants/{tenant}/configs/smtp.host"),
        format!("/v1/tenants/{tenant}/components/webapp"),
        format!("/v1/change-requests/{cr}"),
    ] {
        let before = h.table.calls();
        h.get(&path).await.expect(StatusCode::OK);
        assert_eq!(h.table.calls() - before, 1, "GET {path}");
    }
}

#[tokio::test]
async fn a_list_page_costs_one_table_call() {
    let h = Harness::new();
    let Fleet { acme, .. } = fleet(&h).await;
    let tenant = id_of(&h.get("/v1/tenants").await.items()[0]);
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{tenant}/configs/smtp.host"),
        OPERATOR,
        Some(json!({ "value": "mail.acme" })),
    )
    .await
    .expect(StatusCode::CREATED);
    for path in [
        "/v1/customers".to_owned(),
        "/v1/customers?limit=1".to_owned(),
        "/v1/releases".to_owned(),
        "/v1/tenants".to_owned(),
        "/v1/tenants?state=InTesting".to_owned(),
        format!("/v1/tenants?customer_id={acme}&state=Provisioning"),
        "/v1/tenants?release=3.1.0&state=Provisioning".to_owned(),
        format!("/v1/tenants/{tenant}/configs"),
        format!("/v1/tenants/{tenant}/components"),
        format!("/v1/tenants/{tenant}/change-requests"),
    ] {
        let before = h.table.calls();
        h.get(&path).await.expect(StatusCode::OK);
        assert_eq!(h.table.calls() - before, 1, "GET {path}");
    }
}

#[tokio::test]
async fn the_fleet_summary_costs_one_table_call() {
    let h = Harness::new();
    fleet(&h).await;
    let before = h.table.calls();
    h.get("/v1/fleet/summary").await.expect(StatusCode::OK);
    assert_eq!(h.table.calls() - before, 1);
}
