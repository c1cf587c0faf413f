//! A tenant's report on DynamoDB (moto): one document with its configs, its components against
//! its release's manifest, its resources, its last health run and backup, and the change
//! request holding it.

use axum::http::{Method, StatusCode};
use integration_tests::TestApi;
use serde_json::json;

#[tokio::test]
async fn a_report_holds_the_tenants_configs_components_against_the_manifest_resources_and_latest_runs() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let body = json!({"version": "3.1.0", "components": {"webapp": "3.1.0", "etl": "1.0.0"}});
    api.call("operator", Method::POST, "/v1/releases", Some(body)).await;
    let body = json!({"customer_id": c.body["id"], "name": "acme-report", "release": "3.1.0"});
    let t = api.call("operator", Method::POST, "/v1/tenants", Some(body)).await;
    let id = t.body["id"].as_str().unwrap().to_owned();
    assert_eq!(api.settled(t.body["active_change_request_id"].as_str().unwrap()).await["status"], "succeeded");
    // The box runs another etl than the release ships (recorded by hand), and has a config.
    let path = format!("/v1/tenants/{id}/components/etl");
    let etl = api.call("viewer", Method::GET, &path, None).await;
    let etag = etl.headers.get("etag").unwrap().to_str().unwrap().to_owned();
    let put = api
        .send(
            Method::PUT,
            &path,
            Some(&api.token("operator", "olga")),
            &[("if-match", &etag)],
            Some(json!({"version": "1.0.1"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    let backup = api
        .call(
            "operator",
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            Some(json!({"operation": "backup"})),
        )
        .await;
    assert_eq!(api.settled(backup.body["id"].as_str().unwrap()).await["status"], "succeeded");

    let r = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/report"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let report = &r.body;
    assert_eq!(report["tenant"]["id"], json!(id));
    assert_eq!(report["components_differing"], 1);
    assert_eq!(
        report["components"],
        json!([
            {"name": "etl", "recorded": "1.0.1", "manifest": "1.0.0", "differs": true},
            {"name": "webapp", "recorded": "3.1.0", "manifest": "3.1.0", "differs": false},
        ])
    );
    let configs = report["configs"].as_array().unwrap();
    let secret = configs.iter().find(|c| c["key"] == "db.password").expect("the provision's secret config");
    assert!(secret.get("value").is_none() && secret["secret_ref"].is_string(), "a secret as its reference: {secret}");
    assert!(report["resources"].as_array().unwrap().iter().any(|r| r["arn"].as_str().unwrap().contains(":instance/")));
    assert_eq!(report["last_health_run"]["verdict"], "passed");
    assert_eq!(report["last_backup"]["change_request_id"], backup.body["id"]);
    assert!(report.get("active_change_request").is_none(), "nothing holds it");
    assert_eq!(report["truncated"], false);
    let missing = api.call("viewer", Method::GET, "/v1/tenants/ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A/report", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}
