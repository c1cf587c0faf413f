//! Licenses on moto (seed recipes 1 and 2): assigning or upgrading a customer's license starts
//! `activate_license` on each of its tenants, whose Jenkins job is given the key's reference
//! (never a key); revoking it, or its expiry found by the daily `licenses` schedule (delivered
//! as EventBridge would), suspends them, once. The change requests run for real: Step Functions
//! in moto executing the lifecycle ASL against the stand-in Jenkins and SSM.

use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use devstack::schedule_events::{deliver, scheduled_event};
use domain::schedule::Schedule;
use integration_tests::TestApi;
use serde_json::{Value, json};

/// A customer with `names` as tenants provisioned through the API (so each has its instance).
async fn customer_with_tenants(api: &TestApi, names: &[&str]) -> (String, Vec<String>) {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let release = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    api.call("operator", Method::POST, "/v1/releases", Some(release)).await;
    let mut ids = Vec::new();
    for name in names {
        let body = json!({"customer_id": customer, "name": name, "release": "3.1.0"});
        let t = api.call("operator", Method::POST, "/v1/tenants", Some(body)).await;
        assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
        let done = api.settled(t.body["active_change_request_id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        ids.push(t.body["id"].as_str().unwrap().to_owned());
    }
    (customer, ids)
}

async fn license(api: &TestApi, body: Value) -> String {
    let l = api.call("operator", Method::POST, "/v1/licenses", Some(body)).await;
    assert_eq!(l.status, StatusCode::CREATED, "{}", l.body);
    l.body["id"].as_str().unwrap().to_owned()
}

/// The change requests `changes` started, each settled: (tenant, change request as it ended).
async fn settle_all(api: &TestApi, changes: &Value) -> Vec<(String, Value)> {
    let mut ended = Vec::new();
    for s in changes["started"].as_array().unwrap() {
        let done = api.settled(s["change_request_id"].as_str().unwrap()).await;
        ended.push((s["tenant_id"].as_str().unwrap().to_owned(), done));
    }
    ended
}

async fn state_of(api: &TestApi, tenant: &str) -> Value {
    api.call("viewer", Method::GET, &format!("/v1/tenants/{tenant}"), None).await.body["state"].clone()
}

#[tokio::test]
async fn assigning_or_upgrading_a_license_installs_it_on_the_tenants_and_revoking_it_suspends_them() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let (customer, tenants) = customer_with_tenants(&api, &["acme-a", "acme-b"]).await;
    let standard = license(&api, json!({"name": "Standard", "kind": "subscription", "max_release": "3.1.0"})).await;

    let body = json!({"customer_id": customer, "license_id": standard, "key_ref": "ssm:/licenses/acme"});
    let a = api.call("operator", Method::POST, "/v1/license-assignments", Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let assignment = a.body["id"].as_str().unwrap().to_owned();
    assert_eq!(a.body["license_changes"]["operation"], "activate_license", "{}", a.body);
    let ended = settle_all(&api, &a.body["license_changes"]).await;
    assert_eq!(ended.len(), 2);
    for (tenant, cr) in &ended {
        assert_eq!(cr["status"], "succeeded", "{cr}");
        assert!(cr["created_by"].as_str().unwrap().starts_with("operator-user"), "{cr}");
        assert_eq!(state_of(&api, tenant).await, "Healthy");
    }
    let installs: Vec<_> = lc.jenkins.builds().into_iter().filter(|b| b.job == "activate-license").collect();
    assert_eq!(installs.len(), 2);
    assert!(installs.iter().all(|b| b.params.get("LICENSE_KEY_REF").map(String::as_str) == Some("ssm:/licenses/acme")));
    assert!(installs.iter().all(|b| b.params.get("LICENSE_ID") == Some(&standard)));

    // The license stops at 3.1.0: an upgrade past it is refused, naming it.
    let release = json!({"version": "3.2.0", "components": {"webapp": "3.2.0"}});
    api.call("operator", Method::POST, "/v1/releases", Some(release)).await;
    let upgrade = json!({"operation": "upgrade", "params": {"release": "3.2.0"}});
    let path = format!("/v1/tenants/{}/change-requests", tenants[0]);
    let refused = api.call("operator", Method::POST, &path, Some(upgrade.clone())).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert_eq!(refused.body["field"], "params.release");
    assert!(refused.body["detail"].as_str().unwrap().contains(&standard), "{}", refused.body);

    // The upgrade of the license: installed again on every tenant; then the tenant upgrade passes
    // the license check (a plan answered, nothing written).
    let premium = license(&api, json!({"name": "Premium", "kind": "subscription"})).await;
    let path_a = format!("/v1/license-assignments/{assignment}");
    let up = api.call("operator", Method::PATCH, &path_a, Some(json!({"license_id": premium}))).await;
    assert_eq!(up.status, StatusCode::OK, "{}", up.body);
    assert_eq!(up.body["license_changes"]["operation"], "activate_license");
    for (_, cr) in settle_all(&api, &up.body["license_changes"]).await {
        assert_eq!(cr["status"], "succeeded", "{cr}");
    }
    let dry = json!({"operation": "upgrade", "params": {"release": "3.2.0"}, "dry_run": true});
    let plan = api.call("operator", Method::POST, &path, Some(dry)).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);

    // Revoked: every tenant suspended, by the admin who revoked it.
    let revoke = api.call("admin", Method::PATCH, &path_a, Some(json!({"status": "revoked"}))).await;
    assert_eq!(revoke.status, StatusCode::OK, "{}", revoke.body);
    assert_eq!(revoke.body["license_changes"]["operation"], "suspend");
    let ended = settle_all(&api, &revoke.body["license_changes"]).await;
    assert_eq!(ended.len(), 2);
    for (tenant, cr) in &ended {
        assert_eq!(cr["status"], "succeeded", "{cr}");
        assert!(cr["created_by"].as_str().unwrap().starts_with("admin-user"), "{cr}");
        assert_eq!(state_of(&api, tenant).await, "Suspended");
    }
    // Revoked again: nothing changed, nothing started.
    let again = api.call("admin", Method::PATCH, &path_a, Some(json!({"status": "revoked"}))).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.get("license_changes").is_none(), "{}", again.body);
}

#[tokio::test]
async fn an_expired_license_suspends_the_customers_tenants_once_and_is_reported_while_it_expires() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let (customer, tenants) = customer_with_tenants(&api, &["acme-expiring"]).await;
    let trial = license(&api, json!({"name": "Trial", "kind": "trial"})).await;
    let expires = Utc::now() + Duration::days(3);
    let body = json!({"customer_id": customer, "license_id": trial, "expires_at": expires.to_rfc3339()});
    let a = api.call("operator", Method::POST, "/v1/license-assignments", Some(body)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let assignment = a.body["id"].as_str().unwrap().to_owned();
    for (_, cr) in settle_all(&api, &a.body["license_changes"]).await {
        assert_eq!(cr["status"], "succeeded", "{cr}");
    }

    // Expiring within 30 days, not within 1; `days` out of range is a 400 naming it.
    let soon = api.call("viewer", Method::GET, "/v1/licenses/expiring?days=30", None).await;
    assert_eq!(soon.status, StatusCode::OK, "{}", soon.body);
    assert!(soon.body["items"].as_array().unwrap().iter().any(|i| i["id"] == assignment.as_str()), "{}", soon.body);
    let not_yet = api.call("viewer", Method::GET, "/v1/licenses/expiring?days=1", None).await;
    assert!(!not_yet.body["items"].as_array().unwrap().iter().any(|i| i["id"] == assignment.as_str()));
    for bad in ["0", "366", "soon"] {
        let r = api.call("viewer", Method::GET, &format!("/v1/licenses/expiring?days={bad}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert_eq!(r.body["field"], "days", "{bad}");
    }

    // The daily run after the expiry: the tenant is suspended by the schedule, the assignment is
    // expired and leaves the expiring report.
    let handler = schedules::Deps {
        changes: api.app.changes.clone(),
        pace: changes::Pace::per_second(20),
        update_manager: std::sync::Arc::new(engine::MemoryUpdateManager::new()),
    };
    let after = expires + Duration::hours(1);
    let report = deliver(&handler, scheduled_event(Schedule::Licenses, after)).await.unwrap();
    assert_eq!(report["expired"], json!([assignment]), "{report}");
    let started = &report["changes"][0]["started"];
    assert_eq!(started.as_array().unwrap().len(), 1, "{report}");
    let cr = api.settled(started[0]["change_request_id"].as_str().unwrap()).await;
    assert_eq!((cr["operation"].as_str(), cr["status"].as_str()), (Some("suspend"), Some("succeeded")), "{cr}");
    assert_eq!(cr["created_by"], "system:schedule:licenses");
    assert_eq!(state_of(&api, &tenants[0]).await, "Suspended");
    let got = api.call("viewer", Method::GET, &format!("/v1/license-assignments/{assignment}"), None).await;
    assert_eq!(got.body["status"], "expired");
    let gone = api.call("viewer", Method::GET, "/v1/licenses/expiring?days=30", None).await;
    assert!(!gone.body["items"].as_array().unwrap().iter().any(|i| i["id"] == assignment.as_str()));

    // The same run again (a redelivery), or the next day's: nothing new.
    let again = deliver(&handler, scheduled_event(Schedule::Licenses, after)).await.unwrap();
    assert_eq!((again["expired"].clone(), again["changes"].clone()), (json!([]), json!([])), "{again}");
    let crs = api.call("viewer", Method::GET, &format!("/v1/tenants/{}/change-requests", tenants[0]), None).await;
    let suspends = crs.body["items"].as_array().unwrap().iter().filter(|c| c["operation"] == "suspend").count();
    assert_eq!(suspends, 1);
}

#[tokio::test]
async fn a_replayed_assignment_starts_nothing_twice() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let (customer, _) = customer_with_tenants(&api, &["acme-replay"]).await;
    let l = license(&api, json!({"name": "Std", "kind": "subscription"})).await;
    let body = json!({"customer_id": customer, "license_id": l, "key_ref": "ssm:/licenses/acme"});
    let token = api.token("operator", "olga");
    let key = [("idempotency-key", "assign-once")];
    let first = api.send(Method::POST, "/v1/license-assignments", Some(&token), &key, Some(body.clone())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["license_changes"]["started"].as_array().map(Vec::len), Some(1), "{}", first.body);
    let again = api.send(Method::POST, "/v1/license-assignments", Some(&token), &key, Some(body)).await;
    assert_eq!((again.status, again.header("idempotent-replayed")), (StatusCode::CREATED, Some("true")));
    assert_eq!(again.body["id"], first.body["id"]);
    assert!(again.body["license_changes"]["started"].as_array().unwrap().is_empty(), "{}", again.body);
    assert_eq!(again.body["license_changes"]["skipped"][0]["reason"], "already_started", "{}", again.body);
    for (_, cr) in settle_all(&api, &first.body["license_changes"]).await {
        assert_eq!(cr["status"], "succeeded", "{cr}");
    }
}
