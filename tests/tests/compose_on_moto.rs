//! A tenant's docker-compose file imported over the API on moto: the diff against what is
//! recorded, then applied in one transaction, each record in the change log; a secret given by
//! value refuses the file and writes nothing.

use axum::http::{Method, StatusCode};
use integration_tests::TestApi;
use serde_json::{Value, json};

const COMPOSE: &str = r#"
services:
  webapp:
    image: registry.vendor.example:5000/saas/webapp:3.2.1
    environment:
      - SMTP_HOST=smtp.acme.example
      - DB_PASSWORD=ssm:/tenants/acme/db_password
  airflow:
    image: apache/airflow:2.9.3
    environment:
      WORKERS: 4
  etl:
    build: ./etl
"#;

async fn tenant(api: &TestApi) -> String {
    let c = api.call("admin", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let id = api.seed_healthy_tenants(&customer, "3.1.0", &["acme-compose".to_owned()]).await.remove(0);
    for (name, version) in [("webapp", "3.1.0"), ("airflow", "2.9.3"), ("etl", "1.0.0")] {
        let path = format!("/v1/tenants/{id}/components/{name}");
        let r = api.call("operator", Method::PUT, &path, Some(json!({"version": version}))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let path = format!("/v1/tenants/{id}/configs/webapp.SMTP_HOST");
    let r = api.call("operator", Method::PUT, &path, Some(json!({"value": "smtp.old.example"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    id
}

fn change_of<'a>(list: &'a Value, field: &str, name: &str) -> &'a str {
    let item = list.as_array().unwrap().iter().find(|i| i[field] == name).unwrap_or_else(|| panic!("{name} in {list}"));
    item["change"].as_str().unwrap()
}

#[tokio::test]
async fn a_compose_file_gives_a_diff_then_applies_it_and_the_change_log_records_it() {
    let api = TestApi::new().await;
    let id = tenant(&api).await;
    let path = format!("/v1/tenants/{id}/import-compose");
    let before = api.item_count().await;

    let diff = api.call("operator", Method::POST, &path, Some(json!({"compose": COMPOSE}))).await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.body);
    let d = &diff.body;
    assert_eq!(d["applied"], false);
    assert_eq!(change_of(&d["components"], "name", "webapp"), "changed");
    assert_eq!(change_of(&d["components"], "name", "airflow"), "unchanged");
    assert_eq!(change_of(&d["components"], "name", "etl"), "not_in_file");
    assert_eq!(change_of(&d["configs"], "key", "webapp.SMTP_HOST"), "changed");
    assert_eq!(change_of(&d["configs"], "key", "webapp.DB_PASSWORD"), "added");
    assert_eq!(change_of(&d["configs"], "key", "airflow.WORKERS"), "added");
    assert_eq!(d["changes"], 4, "{d}");
    assert_eq!(d["skipped"][0]["at"], "services.etl");
    assert_eq!(api.item_count().await, before, "a diff writes nothing");

    let applied = api.call("operator", Method::POST, &path, Some(json!({"compose": COMPOSE, "apply": true}))).await;
    assert_eq!(applied.status, StatusCode::OK, "{}", applied.body);
    assert_eq!(applied.body["applied"], true);
    let webapp = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/components/webapp"), None).await.body;
    assert_eq!((webapp["version"].as_str(), webapp["revision"].as_u64()), (Some("3.2.1"), Some(2)));
    let etl = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/components/etl"), None).await.body;
    assert_eq!(etl["version"], "1.0.0", "what is not in the file is left as it is");
    let secret = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/configs/webapp.DB_PASSWORD"), None).await;
    assert_eq!(secret.body["secret_ref"], "ssm:/tenants/acme/db_password");
    assert!(secret.body.get("value").is_none());
    let workers = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/configs/airflow.WORKERS"), None).await;
    assert_eq!(workers.body["value"], 4);

    // The same file again changes nothing.
    let again = api.call("operator", Method::POST, &path, Some(json!({"compose": COMPOSE, "apply": true}))).await;
    assert_eq!(again.body["changes"], 0, "{}", again.body);

    // The change log has the import's writes, by the operator.
    api.drain_stream().await;
    let history = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/history?limit=200"), None).await.body;
    let entries = history["items"].as_array().unwrap();
    let version = entries.iter().find(|e| e["entity_id"] == format!("{id}/webapp") && e["field"] == "version");
    let version = version.unwrap_or_else(|| panic!("the webapp's new version in {history}"));
    assert_eq!((version["old"].as_str(), version["new"].as_str()), (Some("3.1.0"), Some("3.2.1")), "{version}");
}

#[tokio::test]
async fn a_secret_given_by_value_refuses_the_file_names_where_and_writes_nothing() {
    let api = TestApi::new().await;
    let id = tenant(&api).await;
    let before = api.item_count().await;
    let file =
        "services:\n  db:\n    image: postgres:16.2\n    environment:\n      - POSTGRES_PASSWORD=hunter2hunter2\n";
    let r = api
        .call(
            "operator",
            Method::POST,
            &format!("/v1/tenants/{id}/import-compose"),
            Some(json!({"compose": file, "apply": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "compose.services.db.environment.POSTGRES_PASSWORD");
    assert!(!r.body.to_string().contains("hunter2"), "the value is never repeated: {}", r.body);
    assert_eq!(api.item_count().await, before);
    let viewer = api
        .call("viewer", Method::POST, &format!("/v1/tenants/{id}/import-compose"), Some(json!({"compose": COMPOSE})))
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
}
