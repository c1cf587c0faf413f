//! Schedules on moto: EventBridge never fires a rule here, so the nightly backup's rule firing
//! is delivered to the schedules handler as EventBridge would (`devstack::schedule_events`),
//! over the registry in moto's DynamoDB, and its change requests run for real (Step Functions
//! in moto executing the lifecycle ASL against the stand-in Jenkins).

use axum::http::{Method, StatusCode};
use chrono::TimeZone;
use devstack::schedule_events::{deliver, scheduled_event};
use domain::schedule::ScheduleName;
use integration_tests::TestApi;
use serde_json::{Value, json};

async fn healthy_tenants(api: &TestApi, names: &[&str]) -> Vec<String> {
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
    ids
}

async fn changes_of(api: &TestApi, id: &str) -> Vec<Value> {
    let r = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/change-requests"), None).await;
    r.body["items"].as_array().unwrap().iter().filter(|c| c["operation"] == "backup").cloned().collect()
}

#[tokio::test]
async fn the_nightly_backup_runs_once_per_slot_on_exactly_the_eligible_tenants_inside_their_windows() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let ids = healthy_tenants(&api, &["acme-plain", "acme-windowed", "acme-opted-out"]).await;
    let (plain, windowed, opted_out) = (&ids[0], &ids[1], &ids[2]);
    // Saturdays 04:00-06:00 in Berlin (03:00-05:00 UTC in December); the other opts out.
    let window = json!({"days": ["sat"], "start": "04:00", "end": "06:00", "time_zone": "Europe/Berlin"});
    let r = api
        .call("operator", Method::PATCH, &format!("/v1/tenants/{windowed}"), Some(json!({"backup_window": window})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = api
        .call(
            "operator",
            Method::PATCH,
            &format!("/v1/tenants/{opted_out}"),
            Some(json!({"schedule_opt_outs": ["backup"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let handler = schedules::Deps {
        changes: api.app.changes.clone(),
        pace: changes::Pace::per_second(20),
        update_manager: std::sync::Arc::new(engine::MemoryUpdateManager::new()),
    };
    let two = chrono::Utc.with_ymd_and_hms(2026, 12, 5, 2, 0, 0).unwrap();
    let report = deliver(&handler, scheduled_event(ScheduleName::Backup, two)).await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(report["held_back"], json!({"opted_out": 1, "outside_window": 1}), "{report}");
    let backups = changes_of(&api, plain).await;
    assert_eq!(backups.len(), 1);
    assert_eq!(backups[0]["created_by"], "system:schedule:backup");
    assert!(changes_of(&api, windowed).await.is_empty() && changes_of(&api, opted_out).await.is_empty());
    let done = api.settled(backups[0]["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    // The same event again (EventBridge delivers at least once): nothing new.
    let again = deliver(&handler, scheduled_event(ScheduleName::Backup, two)).await.unwrap();
    assert_eq!((again["created"].as_u64(), again["duplicates"].as_u64()), (Some(0), Some(1)), "{again}");
    assert_eq!(changes_of(&api, plain).await.len(), 1);

    // 03:00 UTC is inside the windowed tenant's own window; the plain one has had its slot.
    let three = chrono::Utc.with_ymd_and_hms(2026, 12, 5, 3, 0, 0).unwrap();
    let report = deliver(&handler, scheduled_event(ScheduleName::Backup, three)).await.unwrap();
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(changes_of(&api, windowed).await.len(), 1);

    // The settings are in the tenant's history, with who set them.
    api.drain_stream().await;
    let h = api.call("viewer", Method::GET, &format!("/v1/tenants/{windowed}/history"), None).await;
    let set = h.body["items"].as_array().unwrap().iter().find(|e| e["field"] == "backup_window.time_zone").cloned();
    let set = set.unwrap_or_else(|| panic!("no backup window in {}", h.body));
    assert_eq!(set["new"], "Europe/Berlin");
    assert!(set["actor"].as_str().unwrap().starts_with("operator-user"), "{set}");
}
