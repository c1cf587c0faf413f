//! `GET /v1/fleet/versions`: each release's tenant count (the fleet counters), how far it is
//! behind the newest available release, a page of its tenants' ids and the ones whose recorded
//! components differ from its manifest; pages of one release with `next_token`; bad parameters
//! are 400s naming them.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{Value, json};

/// Releases 3.0.0 (deprecated), 3.1.0 and 3.2.0, three tenants on 3.1.0 and one on 3.2.0.
async fn fleet(h: &Harness) -> (Vec<String>, String) {
    let customer = h.customer("Acme").await;
    for v in ["3.0.0", "3.1.0", "3.2.0"] {
        h.release(v).await;
    }
    h.call(Method::PATCH, "/v1/releases/3.0.0", OPERATOR, Some(json!({ "status": "deprecated" })))
        .await
        .expect(StatusCode::OK);
    let mut on_31 = Vec::new();
    for n in 0..3 {
        on_31.push(id_of(&h.tenant(&customer, &format!("acme-{n}"), "3.1.0").await));
    }
    on_31.sort();
    let on_32 = id_of(&h.tenant(&customer, "acme-next", "3.2.0").await);
    (on_31, on_32)
}

fn entry<'a>(report: &'a Value, version: &str) -> &'a Value {
    report["releases"].as_array().unwrap().iter().find(|r| r["version"] == version).unwrap()
}

fn ids(entry: &Value) -> Vec<String> {
    entry["tenant_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn each_release_has_its_count_how_far_it_is_behind_its_tenants_and_those_that_drifted() {
    let h = Harness::new();
    let (on_31, on_32) = fleet(&h).await;
    // One tenant runs another webapp than its release ships.
    h.call(
        Method::PUT,
        &format!("/v1/tenants/{}/components/webapp", on_31[1]),
        OPERATOR,
        Some(json!({ "version": "3.1.3-hotfix" })),
    )
    .await
    .expect(StatusCode::OK);

    let report = h.get("/v1/fleet/versions").await.expect(StatusCode::OK).body;
    assert_eq!(report["newest_available"], "3.2.0");
    let versions: Vec<&str> =
        report["releases"].as_array().unwrap().iter().map(|r| r["version"].as_str().unwrap()).collect();
    assert_eq!(versions, ["3.2.0", "3.1.0", "3.0.0"], "newest first");

    let r31 = entry(&report, "3.1.0");
    assert_eq!((r31["tenant_count"].as_i64(), r31["behind"].as_u64()), (Some(3), Some(1)));
    assert_eq!(ids(r31), on_31);
    assert!(r31["next_token"].is_null());
    assert_eq!(
        r31["drifted"],
        json!([{ "tenant_id": on_31[1], "components": [{ "name": "webapp", "manifest": "3.1.2", "recorded": "3.1.3-hotfix" }] }])
    );
    let r32 = entry(&report, "3.2.0");
    assert_eq!((r32["tenant_count"].as_i64(), r32["behind"].as_u64()), (Some(1), Some(0)));
    assert_eq!(ids(r32), [on_32]);
    assert_eq!(r32["drifted"], json!([]));
    // A deprecated release with no tenant is behind the two available ones.
    let r30 = entry(&report, "3.0.0");
    assert_eq!(
        (r30["status"].as_str(), r30["tenant_count"].as_i64(), r30["behind"].as_u64()),
        (Some("deprecated"), Some(0), Some(2))
    );
    assert_eq!(ids(r30), Vec::<String>::new());
}

#[tokio::test]
async fn one_release_pages_its_tenants_with_next_token() {
    let h = Harness::new();
    let (on_31, _) = fleet(&h).await;
    let first = h.get("/v1/fleet/versions?limit=2").await.expect(StatusCode::OK).body;
    let r31 = entry(&first, "3.1.0");
    assert_eq!(ids(r31), on_31[..2]);
    let token = r31["next_token"].as_str().expect("a next page").to_owned();

    let next = h
        .get(&format!("/v1/fleet/versions?release=3.1.0&limit=2&next_token={token}"))
        .await
        .expect(StatusCode::OK)
        .body;
    assert_eq!(next["releases"].as_array().unwrap().len(), 1, "only the release asked for: {next}");
    let r31 = entry(&next, "3.1.0");
    assert_eq!((ids(r31), r31["tenant_count"].as_i64()), (on_31[2..].to_vec(), Some(3)));
    assert!(r31["next_token"].is_null());

    // A version no release has: no entry.
    let none = h.get("/v1/fleet/versions?release=9.9.9").await.expect(StatusCode::OK).body;
    assert_eq!(none["releases"], json!([]));
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them_and_reading_writes_nothing() {
    let h = Harness::new();
    fleet(&h).await;
    let before = h.snapshot();
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("release=3.1", "release"),
        ("next_token=abc", "next_token"),
        ("release=3.1.0&next_token=abc", "next_token"),
        ("tenant=1", "tenant"),
    ] {
        h.get(&format!("/v1/fleet/versions?{query}")).await.expect_problem(StatusCode::BAD_REQUEST, Some(field));
    }
    h.call(Method::GET, "/v1/fleet/versions", ANONYMOUS, None).await.expect(StatusCode::UNAUTHORIZED);
    h.assert_unchanged(&before);
}

/// Bounded work, `Query`s only: the releases, the counters, then per release with tenants one
/// page of them and one query of each one's components.
#[tokio::test]
async fn the_report_costs_two_queries_and_per_release_a_page_and_its_tenants_components() {
    let h = Harness::new();
    fleet(&h).await;
    let before = h.table.calls();
    h.get("/v1/fleet/versions").await.expect(StatusCode::OK);
    // releases, counters; 3.1.0: its page and 3 tenants' components; 3.2.0: its page and 1.
    assert_eq!(h.table.calls() - before, 2 + (1 + 3) + (1 + 1));
    let before = h.table.calls();
    h.get("/v1/fleet/versions?release=3.1.0&limit=1").await.expect(StatusCode::OK);
    assert_eq!(h.table.calls() - before, 2 + 1 + 1);
}
