//! Alarms on moto: CloudWatch never evaluates one here, so the tenant's standard health alarm
//! changing state is delivered to the alarm handler as EventBridge would
//! (`devstack::alarm_events`), and its `mark_broken` change request runs for real (Step
//! Functions in moto executing the lifecycle ASL). A provision creates the tenant's standard
//! alarms in moto's CloudWatch, and a terminate deletes them.

use axum::http::{Method, StatusCode};
use devstack::alarm_events::{deliver, health_alarm_event};
use domain::TenantId;
use integration_tests::TestApi;
use serde_json::{Value, json};

async fn healthy_tenant(api: &TestApi, name: &str) -> String {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    api.call(
        "operator",
        Method::POST,
        "/v1/releases",
        Some(json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}})),
    )
    .await;
    let t = api
        .call(
            "operator",
            Method::POST,
            "/v1/tenants",
            Some(json!({"customer_id": customer, "name": name, "release": "3.1.0"})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let done = api.settled(t.body["active_change_request_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    t.body["id"].as_str().unwrap().to_owned()
}

async fn tenant(api: &TestApi, id: &str) -> Value {
    api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await.body
}

fn handler(api: &TestApi) -> alarms::Deps {
    alarms::Deps { changes: api.app.changes.clone() }
}

#[tokio::test]
async fn an_alarm_on_a_healthy_tenant_ends_in_broken_with_its_evidence_in_the_change_request_and_the_history() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-alarm").await;
    let tenant_id = TenantId::parse(&id).unwrap();
    let answer = deliver(&handler(&api), health_alarm_event(&tenant_id, "ALARM")).await.unwrap();
    assert_eq!(answer["tenants"][0]["result"], "broken", "{answer}");
    let cr_id = answer["tenants"][0]["change_request_id"].as_str().unwrap().to_owned();

    let cr = api.settled(&cr_id).await;
    assert_eq!((cr["status"].as_str(), cr["operation"].as_str()), (Some("succeeded"), Some("mark_broken")), "{cr}");
    let alarm_name = format!("portal-{id}-app-health");
    let evidence = &cr["params"]["alarm"];
    assert_eq!(evidence["alarm_name"], alarm_name.as_str());
    assert_eq!(evidence["state"], "ALARM");
    assert!(evidence["reason"].as_str().unwrap().starts_with("Threshold Crossed"), "{evidence}");
    assert_eq!(evidence["metric"], format!("AdminPortal/Tenant/AppHealth TenantId={id}").as_str());
    assert!(evidence["at"].is_string(), "{evidence}");
    assert_eq!(cr["created_by"], format!("system:alarm:{alarm_name}").as_str(), "{cr}");
    let t = tenant(&api, &id).await;
    assert_eq!(t["state"], "Broken");
    assert!(t.get("active_change_request_id").is_none(), "{t}");

    // The history: the alarm claimed the tenant (its actor, source `alarm`), and the move to
    // Broken is the change request's, whose params hold the evidence.
    api.drain_stream().await;
    let h = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/history"), None).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.body);
    let entries = h.body["items"].as_array().unwrap();
    let broke = entries
        .iter()
        .find(|e| e["field"] == "state" && e["new"] == "Broken")
        .unwrap_or_else(|| panic!("no move to Broken in {}", h.body));
    assert_eq!(broke["old"], "Healthy");
    assert_eq!(broke["change_request_id"], cr_id.as_str());
    let claim = entries
        .iter()
        .find(|e| e["field"] == "active_change_request_id" && e["new"] == cr_id.as_str())
        .unwrap_or_else(|| panic!("no claim by the alarm in {}", h.body));
    assert_eq!(claim["actor"], format!("system:alarm:{alarm_name}").as_str());
    assert_eq!(claim["source"], "alarm");

    // OK is recorded (the handler's answer and its log) and heals nothing.
    let ok = deliver(&handler(&api), health_alarm_event(&tenant_id, "OK")).await.unwrap();
    assert_eq!(ok["tenants"][0], json!({"result": "recorded", "tenant_id": id, "state": "OK"}));
    assert_eq!(tenant(&api, &id).await["state"], "Broken");
}

#[tokio::test]
async fn an_alarm_for_an_unknown_resource_changes_nothing() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-bystander").await;
    let before = api.item_count().await;
    let stranger = TenantId::generate();
    let answer = deliver(&handler(&api), health_alarm_event(&stranger, "ALARM")).await.unwrap();
    assert_eq!(answer["result"], "unknown_resource", "{answer}");
    assert_eq!(api.item_count().await, before, "nothing written");
    let t = tenant(&api, &id).await;
    assert_eq!(t["state"], "Healthy");
    assert!(t.get("active_change_request_id").is_none());
}

async fn alarm_names(tenant: &str) -> Vec<String> {
    let config = devstack::local_aws_config(&integration_tests::moto().endpoint).await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let out = cw.describe_alarms().alarm_name_prefix(format!("portal-{tenant}-")).send().await.expect("DescribeAlarms");
    out.metric_alarms().iter().filter_map(|a| a.alarm_name().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_provision_creates_the_standard_alarms_in_cloudwatch_and_a_terminate_deletes_them() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-watched").await;
    let mut names = alarm_names(&id).await;
    names.sort();
    let expected: Vec<String> =
        ["app-health", "cpu", "disk", "status-check"].iter().map(|k| format!("portal-{id}-{k}")).collect();
    assert_eq!(names, expected);
    let resources = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/resources"), None).await.body;
    let alarm_arns = resources["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["arn"].as_str().is_some_and(|a| a.contains(":alarm:portal-")))
        .count();
    assert_eq!(alarm_arns, 4, "recorded as the tenant's resources: {resources}");

    let r = api
        .call(
            "operator",
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            Some(json!({"operation": "terminate"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let cr = r.body["id"].as_str().unwrap().to_owned();
    let r = api.call("admin", Method::POST, &format!("/v1/change-requests/{cr}/approve"), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(alarm_names(&id).await.is_empty(), "deleted with the tenant");
}
