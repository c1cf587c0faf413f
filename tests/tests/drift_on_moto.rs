//! Drift on moto: the daily `drift` schedule (delivered as EventBridge would) reads each
//! running tenant's box through the Update Manager API (the HTTP adapter against the devstack's
//! stand-in, whose boxes follow their record but for hand changes) and keeps what differs in
//! moto's DynamoDB; the tenant's and the fleet's views read it back; `adopt_drift` and
//! `reapply_recorded` change requests run through the real ASL; a box that keeps its drift
//! after the install breaks its tenant; a secret on a box is never read.

use axum::http::{Method, StatusCode};
use devstack::schedule_events::{deliver, scheduled_event};
use domain::schedule::Schedule;
use integration_tests::{Lifecycle, TestApi};
use serde_json::{Value, json};

/// Two healthy tenants provisioned through the ASL, each recording webapp 3.1.0 and two configs.
async fn fleet(api: &TestApi, names: &[&str]) -> Vec<String> {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let body = json!({"version": "3.1.0", "components": {"webapp": "3.1.0", "api": "3.1.2"}});
    let r = api.call("operator", Method::POST, "/v1/releases", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut ids = Vec::new();
    for name in names {
        let body = json!({"customer_id": c.body["id"], "name": name, "release": "3.1.0"});
        let t = api.call("operator", Method::POST, "/v1/tenants", Some(body)).await;
        assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
        let id = t.body["id"].as_str().unwrap().to_owned();
        let done = api.settled(t.body["active_change_request_id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        for (path, body) in [
            (format!("/v1/tenants/{id}/components/webapp"), json!({"version": "3.1.0"})),
            (format!("/v1/tenants/{id}/configs/max_workers"), json!({"value": 4})),
            (format!("/v1/tenants/{id}/configs/smtp.host"), json!({"value": "smtp.example"})),
            (format!("/v1/tenants/{id}/configs/db.password"), json!({"secret_ref": "ssm:/tenants/acme/db"})),
        ] {
            let r = api.call("operator", Method::PUT, &path, Some(body)).await;
            assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
        }
        ids.push(id);
    }
    ids
}

fn schedule(api: &TestApi, lc: &Lifecycle) -> schedules::Deps {
    schedules::Deps {
        changes: api.app.changes.clone(),
        pace: changes::Pace::per_second(50),
        update_manager: std::sync::Arc::new(engine::HttpUpdateManager::new(&lc.update_manager_url).unwrap()),
    }
}

async fn drift_of(api: &TestApi, id: &str) -> Value {
    let r = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/drift"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

async fn request(api: &TestApi, id: &str, operation: &str) -> Value {
    let path = format!("/v1/tenants/{id}/change-requests");
    let r = api.call("operator", Method::POST, &path, Some(json!({"operation": operation}))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{operation}: {}", r.body);
    api.settled(r.body["id"].as_str().unwrap()).await
}

async fn state_of(api: &TestApi, id: &str) -> String {
    let t = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await;
    t.body["state"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_schedule_finds_drift_and_a_change_request_adopts_it() {
    let (api, lc) = TestApi::with_lifecycle("").await;
    let ids = fleet(&api, &["acme-d1", "acme-d2"]).await;
    let (a, b) = (&ids[0], &ids[1]);
    let handler = schedule(&api, &lc);

    // Before any check: nothing is known, and nothing can be adopted.
    let never = drift_of(&api, a).await;
    assert_eq!((never["drifted"].as_bool(), never["last_check"].is_null()), (Some(false), true), "{never}");
    let path = format!("/v1/tenants/{a}/change-requests");
    let refused = api.call("operator", Method::POST, &path, Some(json!({"operation": "adopt_drift"}))).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // On a's box someone installed a webapp hotfix, raised max_workers, added a key, and the
    // box also reports its database password: that is never read.
    lc.boxes.change_component(a, "webapp", "3.1.1-hotfix");
    lc.boxes.change_config(a, "max_workers", json!(16));
    lc.boxes.change_config(a, "log.level", json!("debug"));
    lc.boxes.change_config(a, "db.password", json!("the-box-password-9f8e7d"));
    let at = chrono::Utc::now();
    let run = deliver(&handler, scheduled_event(Schedule::Drift, at)).await.unwrap();
    assert_eq!((run["checked"].as_u64(), run["drifted"].as_u64(), run["failed"].as_u64()), (Some(2), Some(1), Some(0)));

    let found = drift_of(&api, a).await;
    assert_eq!(found["drifted"], true, "{found}");
    let drifted = found["last_check"]["drifted"].as_array().unwrap();
    let by_name = |n: &str| drifted.iter().find(|d| d["name"] == n).cloned().unwrap_or(Value::Null);
    assert_eq!(by_name("webapp")["kind"], "component");
    assert_eq!(
        (by_name("webapp")["recorded"].as_str(), by_name("webapp")["live"].as_str()),
        (Some("3.1.0"), Some("3.1.1-hotfix"))
    );
    assert_eq!(
        (by_name("max_workers")["recorded"].as_i64(), by_name("max_workers")["live"].as_i64()),
        (Some(4), Some(16))
    );
    assert_eq!(
        (by_name("log.level")["recorded"].clone(), by_name("log.level")["live"].as_str()),
        (Value::Null, Some("debug"))
    );
    assert_eq!(drifted.len(), 3, "{found}");
    let ignored = found["last_check"]["ignored"].as_array().unwrap();
    assert_eq!(ignored.iter().map(|i| i["field"].as_str().unwrap()).collect::<Vec<_>>(), ["configs.db.password"]);
    assert_eq!(drift_of(&api, b).await["drifted"], false);

    let fleet = api.call("viewer", Method::GET, "/v1/fleet/drift", None).await;
    assert_eq!(fleet.status, StatusCode::OK, "{}", fleet.body);
    let tenants: Vec<&str> =
        fleet.body["items"].as_array().unwrap().iter().map(|r| r["tenant_id"].as_str().unwrap()).collect();
    assert_eq!(tenants, [a.as_str()]);

    // A second delivery of the same slot reads the boxes again and finds the same.
    let again = deliver(&handler, scheduled_event(Schedule::Drift, at)).await.unwrap();
    assert_eq!(again["drifted"], 1, "{again}");

    // Adopting it: the record takes the live values, through a change request on the ASL.
    let done = request(&api, a, "adopt_drift").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(state_of(&api, a).await, "Healthy");
    let webapp = api.call("viewer", Method::GET, &format!("/v1/tenants/{a}/components/webapp"), None).await;
    assert_eq!(webapp.body["version"], "3.1.1-hotfix", "{}", webapp.body);
    let workers = api.call("viewer", Method::GET, &format!("/v1/tenants/{a}/configs/max_workers"), None).await;
    assert_eq!(workers.body["value"], 16, "{}", workers.body);
    let level = api.call("viewer", Method::GET, &format!("/v1/tenants/{a}/configs/log.level"), None).await;
    assert_eq!(level.body["value"], "debug", "{}", level.body);
    let secret = api.call("viewer", Method::GET, &format!("/v1/tenants/{a}/configs/db.password"), None).await;
    assert_eq!(secret.body["secret_ref"], "ssm:/tenants/acme/db", "the reference is kept: {}", secret.body);
    // The next run finds nothing, and the fleet view empties.
    deliver(&handler, scheduled_event(Schedule::Drift, chrono::Utc::now())).await.unwrap();
    assert_eq!(drift_of(&api, a).await["drifted"], false);
    let fleet = api.call("viewer", Method::GET, "/v1/fleet/drift", None).await;
    assert_eq!(fleet.body["items"], json!([]), "{}", fleet.body);

    // The history names the change request that adopted the hotfix, and the box's password
    // is nowhere.
    api.drain_stream().await;
    let registry = integration_tests::all_items(&api.client, &api.table).await;
    let history = integration_tests::all_items(&api.client, &api.history_table_name()).await;
    for (place, held) in [("registry", format!("{registry:?}")), ("change log", format!("{history:?}"))] {
        assert!(!held.contains("the-box-password-9f8e7d"), "the box's password was kept in the {place}");
    }
    assert!(format!("{history:?}").contains("3.1.1-hotfix"), "the adoption is in the change log");
}

#[tokio::test]
async fn reapplying_the_record_heals_a_box_and_a_box_that_keeps_its_drift_breaks_its_tenant() {
    let (api, lc) = TestApi::with_lifecycle("").await;
    let ids = fleet(&api, &["acme-r1", "acme-r2", "acme-r3"]).await;
    let (a, b, c) = (&ids[0], &ids[1], &ids[2]);
    let handler = schedule(&api, &lc);
    for id in &ids {
        lc.boxes.change_component(id, "webapp", "3.0.9");
        lc.boxes.remove_config(id, "smtp.host");
    }
    lc.boxes.stuck(b);
    lc.boxes.refusing(c);
    let run = deliver(&handler, scheduled_event(Schedule::Drift, chrono::Utc::now())).await.unwrap();
    assert_eq!(run["drifted"], 3, "{run}");

    // a: the box installs the record; the read-back finds nothing; the tenant is Healthy.
    let done = request(&api, a, "reapply_recorded").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(state_of(&api, a).await, "Healthy");
    let healed = drift_of(&api, a).await;
    assert_eq!(healed["drifted"], false, "{healed}");
    assert_eq!(healed["last_check"]["change_request_id"], done["id"], "{healed}");
    let webapp = api.call("viewer", Method::GET, &format!("/v1/tenants/{a}/components/webapp"), None).await;
    assert_eq!(webapp.body["version"], "3.1.0", "the record is unchanged: {}", webapp.body);

    // b: the box says it installed, yet still runs its hotfix: the check fails, Broken.
    let stuck = request(&api, b, "reapply_recorded").await;
    assert_eq!(stuck["status"], "failed", "{stuck}");
    assert!(stuck["error"].as_str().unwrap_or_default().contains("still differs"), "{stuck}");
    assert_eq!(state_of(&api, b).await, "Broken");
    assert_eq!(drift_of(&api, b).await["drifted"], true);

    // c: the box refuses the install: Broken, saying so; its drift is still reported.
    let refused = request(&api, c, "reapply_recorded").await;
    assert_eq!(refused["status"], "failed", "{refused}");
    assert!(refused["error"].as_str().unwrap_or_default().contains("refused"), "{refused}");
    assert_eq!(state_of(&api, c).await, "Broken");
    let fleet = api.call("viewer", Method::GET, "/v1/fleet/drift", None).await;
    let mut tenants: Vec<String> =
        fleet.body["items"].as_array().unwrap().iter().map(|r| r["tenant_id"].as_str().unwrap().to_owned()).collect();
    tenants.sort();
    let mut expected = vec![b.clone(), c.clone()];
    expected.sort();
    assert_eq!(tenants, expected);
}
