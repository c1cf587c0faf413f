//! Upgrades for real: the API checks the target and stores the plan, moto executes the ASL (its
//! rollback branch included), the Rust lifecycle handler calls the stand-in Jenkins, and the
//! registry on moto's DynamoDB says what the tenant runs at each step.

use axum::http::{Method, StatusCode};
use devstack::fake_jenkins::{FakeOutcome, JobBehaviour};
use integration_tests::TestApi;
use serde_json::{Value, json};

/// A customer, releases 3.1.0 (webapp) and 3.2.0 (webapp, etl), and a healthy tenant on 3.1.0
/// with a config.
async fn healthy_tenant(api: &TestApi) -> String {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    for (version, components) in
        [("3.1.0", json!({"webapp": "3.1.0"})), ("3.2.0", json!({"webapp": "3.2.0", "etl": "1.0.0"}))]
    {
        let r = api
            .call("operator", Method::POST, "/v1/releases", Some(json!({"version": version, "components": components})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let t = api
        .call(
            "operator",
            Method::POST,
            "/v1/tenants",
            Some(json!({"customer_id": customer, "name": "acme-prod", "release": "3.1.0"})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let id = t.body["id"].as_str().unwrap().to_owned();
    let done = api.settled(t.body["active_change_request_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let put = api
        .call("operator", Method::PUT, &format!("/v1/tenants/{id}/configs/smtp.host"), Some(json!({"value": "old"})))
        .await;
    assert!(put.status.is_success(), "{}", put.body);
    id
}

async fn get(api: &TestApi, path: &str) -> Value {
    let r = api.call("viewer", Method::GET, path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

fn versions(components: &Value) -> Vec<(String, String)> {
    components["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["version"].as_str().unwrap().to_owned()))
        .collect()
}

fn step_names(cr: &Value) -> Vec<String> {
    cr["steps"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
}

async fn upgrade(api: &TestApi, id: &str, params: Value) -> Value {
    let path = format!("/v1/tenants/{id}/change-requests");
    let r = api.call("operator", Method::POST, &path, Some(json!({"operation": "upgrade", "params": params}))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    r.body
}

#[tokio::test]
async fn an_upgrade_shows_its_plan_takes_a_snapshot_records_the_release_once_applied_and_validates_it() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api).await;
    let cr = upgrade(&api, &id, json!({"release": "3.2.0"})).await;
    assert_eq!(
        cr["upgrade"],
        json!({
            "from_release": "3.1.0", "to_release": "3.2.0", "downgrade": false, "snapshot": true, "kept": [],
            "components": [{"name": "etl", "to": "1.0.0"}, {"name": "webapp", "from": "3.1.0", "to": "3.2.0"}],
        }),
        "the plan is on the change request from the start"
    );
    let done = api.settled(cr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_names(&done),
        [
            "begin",
            "snapshot",
            "jenkins upgrade-tenant",
            "record release",
            "state InTesting",
            "health suite api-smoke",
            "finish"
        ]
    );
    assert_eq!(done["recorded_before"]["release"], "3.1.0");
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some("3.2.0")));
    let components = get(&api, &format!("/v1/tenants/{id}/components")).await;
    assert_eq!(versions(&components), [("etl".into(), "1.0.0".into()), ("webapp".into(), "3.2.0".into())]);

    // The snapshot is a catalogued backup of the tenant as it was before.
    let backups = get(&api, &format!("/v1/tenants/{id}/backups")).await;
    let snapshot = &backups["items"][0];
    assert_eq!(snapshot["change_request_id"], done["id"]);
    assert_eq!(
        (snapshot["release"].as_str(), snapshot["components"].clone()),
        (Some("3.1.0"), json!({"webapp": "3.1.0"}))
    );
    assert_eq!(snapshot["configs"]["smtp.host"], json!({"value": "old"}));
    let jobs: Vec<String> = lc.jenkins.builds().into_iter().map(|b| b.job).collect();
    assert!(!jobs.iter().any(|j| j.starts_with("rollback")), "{jobs:?}");
}

#[tokio::test]
async fn an_upgrade_whose_suite_fails_rolls_back_and_ends_healthy_on_the_old_release_components_and_configs() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api).await;
    // The suite fails on the new release only; the upgrade job sets a config the rollback undoes.
    lc.jenkins.set_job_when("health-api-smoke", "RELEASE", "3.2.0", JobBehaviour::new(FakeOutcome::Failure));
    lc.jenkins.set_report(
        "upgrade-tenant",
        json!({"configs": {"smtp.host": {"value": "new"}, "feature.x": {"value": true}}}),
    );
    let cr = upgrade(&api, &id, json!({"release": "3.2.0"})).await;
    let done = api.settled(cr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("rolled back to 3.1.0"), "{}", done["error"]);
    // While it was tested, the registry said what ran: the new release and the job's configs.
    api.drain_stream().await;
    let h = get(&api, &format!("/v1/tenants/{id}/history?field=release")).await;
    let moves: Vec<(Value, Value)> =
        h["items"].as_array().unwrap().iter().map(|e| (e["old"].clone(), e["new"].clone())).collect();
    assert_eq!(moves[..2], [(json!("3.2.0"), json!("3.1.0")), (json!("3.1.0"), json!("3.2.0"))], "newest first");
    let h = get(&api, &format!("/v1/tenants/{id}/history?field=value")).await;
    let set: Vec<Value> = h["items"].as_array().unwrap().iter().map(|e| e["new"].clone()).collect();
    assert!(set.contains(&json!("new")), "the upgrade recorded its job's config: {h}");
    let names = step_names(&done);
    let rollback = names.iter().position(|n| n == "rollback").expect("a rollback entry");
    assert_eq!(
        names[rollback..],
        [
            "rollback",
            "rollback jenkins rollback-upgrade-tenant",
            "rollback revert release",
            "rollback state InTesting",
            "rollback health suite api-smoke",
            "finish"
        ]
    );
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some("3.1.0")));
    assert!(t.get("active_change_request_id").is_none(), "released");
    let components = get(&api, &format!("/v1/tenants/{id}/components")).await;
    assert_eq!(versions(&components), [("webapp".into(), "3.1.0".into())], "etl, which 3.2.0 added, is gone");
    let configs = get(&api, &format!("/v1/tenants/{id}/configs")).await;
    let value =
        |key: &str| configs["items"].as_array().unwrap().iter().find(|c| c["key"] == key).map(|c| c["value"].clone());
    assert_eq!(value("smtp.host"), Some(json!("old")), "the upgrade's config change was undone");
    assert_eq!(value("feature.x"), None, "the config the upgrade added was undone");
    let undo = lc.jenkins.builds().into_iter().find(|b| b.job == "rollback-upgrade-tenant").expect("undone");
    assert_eq!(undo.params.get("RELEASE").map(String::as_str), Some("3.1.0"));
    let snapshot = &get(&api, &format!("/v1/tenants/{id}/backups")).await["items"][0];
    assert_eq!(undo.params.get("BACKUP_LOCATION"), snapshot["location"].as_str().map(str::to_owned).as_ref());
    let runs = get(&api, &format!("/v1/tenants/{id}/health-runs")).await;
    assert_eq!(runs["items"][0]["verdict"], "passed", "{runs}");
    assert_eq!(runs["items"][0]["release"], "3.1.0");
    let summary = get(&api, "/v1/fleet/summary").await;
    assert_eq!(summary["by_release"], json!({"3.1.0": 1}));
}

#[tokio::test]
async fn an_upgrade_whose_rollback_fails_too_ends_broken() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api).await;
    lc.jenkins.set_job("health-api-smoke", JobBehaviour::new(FakeOutcome::Failure));
    lc.jenkins.set_job("rollback-upgrade-tenant", JobBehaviour::new(FakeOutcome::Failure));
    let cr = upgrade(&api, &id, json!({"release": "3.2.0", "snapshot": false})).await;
    assert_eq!(cr["upgrade"]["snapshot"], false);
    let done = api.settled(cr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("rollback-upgrade-tenant"), "{}", done["error"]);
    assert!(!step_names(&done).contains(&"snapshot".to_owned()), "opted out of the snapshot");
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!(t["state"], "Broken");
    let undo = lc.jenkins.builds().into_iter().find(|b| b.job == "rollback-upgrade-tenant").expect("tried");
    assert!(!undo.params.contains_key("BACKUP_LOCATION"), "no snapshot to restore from");
}

#[tokio::test]
async fn an_upgrade_is_refused_to_an_older_unknown_or_unavailable_release_and_claims_nothing() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api).await;
    let path = format!("/v1/tenants/{id}/change-requests");
    let up = upgrade(&api, &id, json!({"release": "3.2.0"})).await;
    assert_eq!(api.settled(up["id"].as_str().unwrap()).await["status"], "succeeded");
    let refused = |params: Value| {
        let api = &api;
        let path = path.clone();
        async move {
            api.call("operator", Method::POST, &path, Some(json!({"operation": "upgrade", "params": params}))).await
        }
    };
    let back = refused(json!({"release": "3.1.0"})).await;
    assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", back.body);
    assert_eq!(back.body["field"], "params.release");
    let detail = back.body["detail"].as_str().unwrap();
    assert!(detail.contains("3.1.0") && detail.contains("3.2.0") && detail.contains("allow_downgrade"), "{detail}");
    let unknown = refused(json!({"release": "9.9.9"})).await;
    assert_eq!(
        (unknown.status, unknown.body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("params.release"))
    );
    let r = api
        .call(
            "operator",
            Method::POST,
            "/v1/releases",
            Some(json!({"version": "3.0.0", "components": {"webapp": "3.0.0"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let old_etag = r.headers.get("etag").unwrap().to_str().unwrap().to_owned();
    let p = api
        .send(
            Method::PATCH,
            "/v1/releases/3.0.0",
            Some(&api.token("operator", "olga")),
            &[("if-match", old_etag.as_str())],
            Some(json!({"status": "withdrawn"})),
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let withdrawn = refused(json!({"release": "3.0.0", "allow_downgrade": true})).await;
    assert_eq!(withdrawn.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", withdrawn.body);
    assert!(withdrawn.body["detail"].as_str().unwrap().contains("withdrawn"), "{}", withdrawn.body);
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert!(t.get("active_change_request_id").is_none(), "a refused upgrade claims nothing");

    // Allowed, it goes back, and its plan says so.
    let down = upgrade(&api, &id, json!({"release": "3.1.0", "allow_downgrade": true})).await;
    assert_eq!(down["upgrade"]["downgrade"], true);
    let done = api.settled(down["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(get(&api, &format!("/v1/tenants/{id}")).await["release"], "3.1.0");
}

/// Polls the change request until `ready` says so (at most 30 s).
async fn until(api: &TestApi, cr: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let now = get(api, &format!("/v1/change-requests/{cr}")).await;
        if ready(&now) {
            return now;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("change request {cr}: never {what}");
}

fn awaiting_gate(cr: &Value) -> bool {
    cr["gate"].is_object() && cr["gate"].get("approved").is_none()
}

fn in_window(cr: &Value) -> bool {
    cr["steps"].as_array().unwrap().iter().any(|s| s["name"] == "fallback window" && s["status"] == "running")
}

#[tokio::test]
async fn a_swap_waits_for_a_second_admin_to_cut_over_then_releases_the_old_side_after_its_window() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api).await;
    let cr = upgrade(&api, &id, json!({"release": "3.2.0", "change_model": "swap", "fallback_seconds": 1})).await;
    let cr_id = cr["id"].as_str().unwrap().to_owned();
    let waiting = until(&api, &cr_id, "awaiting the cut-over", awaiting_gate).await;
    assert_eq!(waiting["status"], "running");
    assert_eq!(get(&api, &format!("/v1/tenants/{id}")).await["state"], "Healthy", "the live side serves");
    let new_side: Vec<(String, String)> =
        lc.jenkins.builds().into_iter().map(|b| (b.job, b.params.get("SIDE").cloned().unwrap_or_default())).collect();
    assert!(new_side.contains(&("health-api-smoke".into(), "new".into())), "the new side was validated: {new_side:?}");
    assert!(!new_side.iter().any(|(j, _)| j == "cut-over-tenant-swap"), "no cut-over before the approval");

    // The requester may not approve; another admin does.
    let path = format!("/v1/change-requests/{cr_id}/approve");
    let own = api.call("operator", Method::POST, &path, None).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    let r = api.send(Method::POST, &path, Some(&api.token("admin", "erin")), &[], None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let done = api.settled(&cr_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["gate"]["decided_by"].as_str().unwrap().starts_with("erin"));
    let jobs: Vec<String> = lc.jenkins.builds().into_iter().map(|b| b.job).collect();
    let at = |job: &str| jobs.iter().position(|j| j == job).unwrap_or_else(|| panic!("{job}: {jobs:?}"));
    assert!(
        at("upgrade-tenant-swap") < at("cut-over-tenant-swap") && at("cut-over-tenant-swap") < at("release-old-side")
    );
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some("3.2.0")));
}

#[tokio::test]
async fn a_rollback_inside_the_fallback_window_moves_back_to_the_old_side_and_release() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api).await;
    let cr = upgrade(&api, &id, json!({"release": "3.2.0", "change_model": "swap", "fallback_seconds": 600})).await;
    let cr_id = cr["id"].as_str().unwrap().to_owned();
    until(&api, &cr_id, "awaiting the cut-over", awaiting_gate).await;
    let rollback = format!("/v1/change-requests/{cr_id}/rollback");
    let early =
        api.send(Method::POST, &rollback, Some(&api.token("admin", "erin")), &[], Some(json!({"reason": "x"}))).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "no window before the cut-over: {}", early.body);
    let approve = format!("/v1/change-requests/{cr_id}/approve");
    let r = api.send(Method::POST, &approve, Some(&api.token("admin", "erin")), &[], None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    until(&api, &cr_id, "in its fallback window", in_window).await;
    assert_eq!(get(&api, &format!("/v1/tenants/{id}")).await["release"], "3.2.0", "cut over");

    let body = json!({"reason": "INC-12: errors on the new side"});
    let r = api.send(Method::POST, &rollback, Some(&api.token("admin", "erin")), &[], Some(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let done = api.settled(&cr_id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(error.contains("INC-12") && error.contains("rolled back to 3.1.0"), "{error}");
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some("3.1.0")));
    let jobs: Vec<String> = lc.jenkins.builds().into_iter().map(|b| b.job).collect();
    assert!(jobs.contains(&"rollback-upgrade-tenant-swap".to_owned()), "{jobs:?}");
    assert!(!jobs.contains(&"release-old-side".to_owned()), "the old side is kept: {jobs:?}");
}

/// A tenant backed up on 3.1.0 (config `smtp.host` "old"), then upgraded to 3.2.0 with
/// `smtp.host` set to "new", and put in maintenance: what a restore starts from. Answers the
/// tenant and the backup.
async fn backed_up_then_changed(api: &TestApi) -> (String, String) {
    let id = healthy_tenant(api).await;
    let path = format!("/v1/tenants/{id}/change-requests");
    let b = api.call("operator", Method::POST, &path, Some(json!({"operation": "backup"}))).await;
    assert_eq!(b.status, StatusCode::ACCEPTED, "{}", b.body);
    assert_eq!(api.settled(b.body["id"].as_str().unwrap()).await["status"], "succeeded");
    let backups = get(api, &format!("/v1/tenants/{id}/backups")).await;
    let backup = backups["items"][0]["id"].as_str().unwrap_or_else(|| panic!("a backup: {backups}")).to_owned();
    let up = upgrade(api, &id, json!({"release": "3.2.0"})).await;
    assert_eq!(api.settled(up["id"].as_str().unwrap()).await["status"], "succeeded");
    let put = api
        .call("operator", Method::PUT, &format!("/v1/tenants/{id}/configs/smtp.host"), Some(json!({"value": "new"})))
        .await;
    assert!(put.status.is_success(), "{}", put.body);
    let m = api.call("operator", Method::POST, &path, Some(json!({"operation": "enter_maintenance"}))).await;
    assert_eq!(api.settled(m.body["id"].as_str().unwrap()).await["status"], "succeeded");
    (id, backup)
}

/// A restore in `swap`, requested by one admin and approved by another: answers its id.
async fn swap_restore(api: &TestApi, id: &str, backup: &str) -> String {
    let body =
        json!({"operation": "restore", "params": {"backup_id": backup, "change_model": "swap", "fallback_seconds": 1}});
    let path = format!("/v1/tenants/{id}/change-requests");
    let r = api.send(Method::POST, &path, Some(&api.token("admin", "dana")), &[], Some(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.body["status"], "awaiting_approval", "a restore needs a second admin: {}", r.body);
    let cr = r.body["id"].as_str().unwrap().to_owned();
    let approve = format!("/v1/change-requests/{cr}/approve");
    let a = api.send(Method::POST, &approve, Some(&api.token("admin", "erin")), &[], None).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    cr
}

async fn config(api: &TestApi, id: &str, key: &str) -> Value {
    get(api, &format!("/v1/tenants/{id}/configs/{key}")).await["value"].clone()
}

#[tokio::test]
async fn a_swap_restore_builds_the_new_side_from_the_backup_validates_it_cuts_over_and_releases_the_old_side() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let (id, backup) = backed_up_then_changed(&api).await;
    let before = lc.jenkins.builds().len();
    let cr = swap_restore(&api, &id, &backup).await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_names(&done),
        [
            "begin",
            "jenkins restore-tenant-swap",
            "new side health suite api-smoke",
            "jenkins cut-over-tenant-swap",
            "state InTesting",
            "fallback window",
            "jenkins release-old-side",
            "finish"
        ]
    );
    let jobs: Vec<(String, String, String)> = lc.jenkins.builds()[before..]
        .iter()
        .map(|b| {
            let p = |k: &str| b.params.get(k).cloned().unwrap_or_default();
            (b.job.clone(), p("SIDE"), p("BACKUP_ID"))
        })
        .collect();
    let j = |job: &str, side: &str| (job.to_owned(), side.to_owned(), backup.clone());
    assert_eq!(
        jobs,
        [
            j("restore-tenant-swap", "new"),
            j("health-api-smoke", "new"),
            j("cut-over-tenant-swap", "new"),
            j("release-old-side", "live")
        ],
        "built from the backup and validated on the new side, then the live side moved and the old one released"
    );
    // The backup's record came back: its release, its components, its configs.
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some("3.1.0")));
    assert_eq!(
        versions(&get(&api, &format!("/v1/tenants/{id}/components")).await),
        [("webapp".into(), "3.1.0".into())]
    );
    assert_eq!(config(&api, &id, "smtp.host").await, "old");
}

#[tokio::test]
async fn a_swap_restore_whose_new_side_fails_its_suite_drops_it_and_keeps_the_old_side_and_its_record() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let (id, backup) = backed_up_then_changed(&api).await;
    lc.jenkins.set_job_when("health-api-smoke", "SIDE", "new", JobBehaviour::new(FakeOutcome::Failure));
    let before = lc.jenkins.builds().len();
    let cr = swap_restore(&api, &id, &backup).await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "failed", "{done}");
    let jobs: Vec<String> = lc.jenkins.builds()[before..].iter().map(|b| b.job.clone()).collect();
    assert_eq!(
        jobs,
        ["restore-tenant-swap", "health-api-smoke", "rollback-restore-tenant-swap"],
        "only the new side was dropped"
    );
    // The live side never moved: the tenant is where it started, with the record it had.
    let t = get(&api, &format!("/v1/tenants/{id}")).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Maintenance"), Some("3.2.0")));
    assert_eq!(config(&api, &id, "smtp.host").await, "new");
    assert_eq!(t["active_change_request_id"], Value::Null, "{t}");
}
