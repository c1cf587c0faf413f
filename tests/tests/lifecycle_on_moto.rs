//! Change requests running for real: the API starts the lifecycle state machine in moto, moto
//! executes the ASL, its tasks run the Rust lifecycle handler, which calls a stand-in Jenkins
//! and SSM and moves the tenant in DynamoDB.

use axum::http::{Method, StatusCode};
use devstack::fake_jenkins::{FakeOutcome, JobBehaviour};
use integration_tests::{Lifecycle, TestApi};
use serde_json::{Value, json};

const EC2: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0";

/// A tenant created through the API (its provision starts at once), and its change request.
async fn new_tenant(api: &TestApi, name: &str) -> (String, String) {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let r = api
        .call(
            "operator",
            Method::POST,
            "/v1/releases",
            Some(json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}})),
        )
        .await;
    assert!(r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT);
    api.call(
        "operator",
        Method::POST,
        "/v1/releases",
        Some(json!({"version": "3.2.0", "components": {"webapp": "3.2.0", "etl": "1.0.0"}})),
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
    (t.body["id"].as_str().unwrap().to_owned(), t.body["active_change_request_id"].as_str().unwrap().to_owned())
}

async fn tenant(api: &TestApi, id: &str) -> Value {
    api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await.body
}

fn step_names(cr: &Value) -> Vec<(String, String)> {
    cr["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s["status"].as_str().unwrap().to_owned()))
        .collect()
}

async fn request(api: &TestApi, tenant: &str, role: &str, body: Value) -> Value {
    let r = api.call(role, Method::POST, &format!("/v1/tenants/{tenant}/change-requests"), Some(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    r.body
}

async fn healthy_tenant(api: &TestApi, name: &str) -> String {
    let (id, cr) = new_tenant(api, name).await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    id
}

#[tokio::test]
async fn a_new_tenant_is_provisioned_tested_and_healthy() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke,ui-smoke").await;
    let (id, cr) = new_tenant(&api, "acme-prod").await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_names(&done),
        [
            ("begin", "succeeded"),
            ("jenkins provision-tenant", "succeeded"),
            ("state InTesting", "succeeded"),
            ("health suite api-smoke", "succeeded"),
            ("health suite ui-smoke", "succeeded"),
            ("finish", "succeeded"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let t = tenant(&api, &id).await;
    assert_eq!(t["state"], "Healthy");
    assert!(t.get("active_change_request_id").is_none(), "the claim is released");
    let builds = lc.jenkins.builds();
    let provision = builds.iter().find(|b| b.job == "provision-tenant").expect("provision job triggered");
    assert_eq!(provision.params.get("TENANT_ID").map(String::as_str), Some(id.as_str()));
    assert_eq!(provision.params.get("CHANGE_REQUEST_ID").map(String::as_str), Some(cr.as_str()));
    assert!(builds.iter().any(|b| b.job == "health-ui-smoke"));
    let summary = api.call("viewer", Method::GET, "/v1/fleet/summary", None).await.body;
    assert_eq!(
        (summary["by_state"]["Healthy"].as_i64(), summary["by_state"]["Provisioning"].as_i64()),
        (Some(1), Some(0))
    );
    assert_eq!(ended(&lc, done["execution_arn"].as_str().unwrap()).await, "SUCCEEDED");
    let runs = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/health-runs"), None).await.body;
    let run = &runs["items"][0];
    assert_eq!((run["verdict"].as_str(), run["change_request_id"].as_str()), (Some("passed"), Some(cr.as_str())));
    let suites: Vec<(&str, &str)> = run["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["suite"].as_str().unwrap(), s["result"].as_str().unwrap()))
        .collect();
    assert_eq!(suites, [("api-smoke", "SUCCESS"), ("ui-smoke", "SUCCESS")]);
    assert!(
        run["suites"][0]["build_url"].as_str().unwrap().contains("/job/health-api-smoke/"),
        "the evidence is the build"
    );
}

async fn failed_provision(job: &str, behaviour: JobBehaviour, reason: &str) {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    lc.jenkins.set_job(job, behaviour);
    let (id, cr) = new_tenant(&api, "acme-prod").await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains(reason), "{}", done["error"]);
    let t = tenant(&api, &id).await;
    assert_eq!(t["state"], "Broken", "a failed provision ends Broken");
    assert!(t.get("active_change_request_id").is_none());
    assert_eq!(ended(&lc, done["execution_arn"].as_str().unwrap()).await, "FAILED");
}

/// The execution's status once it ended: the change request is finished by the execution's
/// last task, and the execution ends a moment later.
async fn ended(lc: &Lifecycle, arn: &str) -> String {
    let mut status = String::new();
    for _ in 0..100 {
        let execution = lc.sfn.describe_execution().execution_arn(arn).send().await.unwrap();
        status = execution.status().as_str().to_owned();
        if status != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    status
}

#[tokio::test]
async fn a_failed_jenkins_job_fails_the_change_and_leaves_the_tenant_broken() {
    failed_provision("provision-tenant", JobBehaviour::new(FakeOutcome::Failure), "provision-tenant").await;
}

#[tokio::test]
async fn a_failed_health_suite_fails_validation() {
    failed_provision("health-api-smoke", JobBehaviour::new(FakeOutcome::Failure), "health-api-smoke").await;
}

#[tokio::test]
async fn a_failed_suite_is_a_failed_health_run_with_its_evidence() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke,ui-smoke").await;
    lc.jenkins.set_job("health-ui-smoke", JobBehaviour::new(FakeOutcome::Failure));
    let (id, cr) = new_tenant(&api, "acme-prod").await;
    assert_eq!(api.settled(&cr).await["status"], "failed");
    let runs = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/health-runs"), None).await.body;
    let run = &runs["items"][0];
    assert_eq!(run["verdict"], "failed");
    let suites: Vec<(&str, &str)> = run["suites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["suite"].as_str().unwrap(), s["result"].as_str().unwrap()))
        .collect();
    assert_eq!(suites, [("api-smoke", "SUCCESS"), ("ui-smoke", "FAILURE")]);
}

#[tokio::test]
async fn a_job_that_never_finishes_times_out() {
    failed_provision("provision-tenant", JobBehaviour::new(FakeOutcome::Hang), "did not finish").await;
}

#[tokio::test]
async fn maintenance_runs_its_playbook_over_ssm_and_exit_revalidates() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    let r = api.call("operator", Method::POST, "/v1/resources", Some(json!({"arn": EC2, "tenant_ids": [id]}))).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let enter = request(&api, &id, "operator", json!({"operation": "enter_maintenance"})).await;
    let done = api.settled(enter["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let ssm_step = done["steps"].as_array().unwrap().iter().find(|s| s["name"] == "ansible maintenance-on").unwrap();
    assert_eq!(ssm_step["status"], "succeeded");
    // The instance the provision built, and the one registered by hand.
    let instances = ssm_step["detail"]["instance_ids"].as_array().unwrap();
    assert_eq!(instances.len(), 2, "{instances:?}");
    assert!(instances.contains(&json!("i-0123456789abcdef0")));
    assert_eq!(tenant(&api, &id).await["state"], "Maintenance");

    let exit = request(&api, &id, "operator", json!({"operation": "exit_maintenance"})).await;
    let done = api.settled(exit["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(step_names(&done).iter().any(|(n, _)| n == "health suite api-smoke"));
    assert_eq!(tenant(&api, &id).await["state"], "Healthy");
}

#[tokio::test]
async fn an_ssm_step_without_instances_fails_and_the_tenant_stays_as_it_was() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    // A provision that reports nothing it built.
    lc.jenkins.set_report("provision-tenant", json!({}));
    let id = healthy_tenant(&api, "acme-prod").await;
    let cr = request(&api, &id, "operator", json!({"operation": "suspend"})).await;
    let done = api.settled(cr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().unwrap().contains("no EC2 instance"), "{}", done["error"]);
    let t = tenant(&api, &id).await;
    assert_eq!(t["state"], "Healthy", "a failed suspend leaves the tenant as it started");
    assert!(t.get("active_change_request_id").is_none());
}

#[tokio::test]
async fn an_upgrade_moves_release_and_components_after_testing() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    let cr = request(&api, &id, "operator", json!({"operation": "upgrade", "params": {"release": "3.2.0"}})).await;
    assert_eq!(cr["change_model"], "maintenance");
    let done = api.settled(cr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let t = tenant(&api, &id).await;
    assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some("3.2.0")));
    let comps = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/components"), None).await.body;
    let versions: Vec<(String, String)> = comps["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["version"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(versions, [("etl".to_owned(), "1.0.0".to_owned()), ("webapp".to_owned(), "3.2.0".to_owned())]);
    let upgrade = lc.jenkins.builds().into_iter().find(|b| b.job == "upgrade-tenant").unwrap();
    assert_eq!(upgrade.params.get("RELEASE").map(String::as_str), Some("3.2.0"));
    let summary = api.call("viewer", Method::GET, "/v1/fleet/summary", None).await.body;
    assert_eq!(summary["by_release"], json!({"3.2.0": 1}));
}

#[tokio::test]
async fn terminate_waits_for_a_second_admin_then_ends_the_tenant() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    let dana = api.token("admin", "dana");
    let r = api
        .send(
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            Some(&dana),
            &[],
            Some(json!({"operation": "terminate"})),
        )
        .await;
    assert_eq!(r.body["status"], "awaiting_approval");
    let cr = r.body["id"].as_str().unwrap().to_owned();
    let own = api.send(Method::POST, &format!("/v1/change-requests/{cr}/approve"), Some(&dana), &[], None).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN);
    assert!(lc.jenkins.builds().iter().all(|b| b.job != "terminate-tenant"), "nothing ran before approval");
    let erin = api.token("admin", "erin");
    let ok = api.send(Method::POST, &format!("/v1/change-requests/{cr}/approve"), Some(&erin), &[], None).await;
    assert_eq!(ok.status, StatusCode::ACCEPTED, "{}", ok.body);
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(tenant(&api, &id).await["state"], "EndOfLife");
}

#[tokio::test]
async fn a_retried_start_runs_the_change_once() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let (_, cr) = new_tenant(&api, "acme-prod").await;
    let first = api.settled(&cr).await;
    let input = changes::WorkflowInput::of(&serde_json::from_value(first.clone()).unwrap()).to_json();
    let again = api.app.changes.workflows.start(&cr, &input).await.expect("an identical start is the same execution");
    assert_eq!(again, first["execution_arn"].as_str().unwrap());
    let list = lc.sfn.list_executions().state_machine_arn(&lc.state_machine_arn).send().await.unwrap();
    assert_eq!(list.executions().len(), 1);
    assert_eq!(lc.jenkins.builds().iter().filter(|b| b.job == "provision-tenant").count(), 1);
}

#[allow(dead_code)]
fn _uses(_: Lifecycle) {}

#[tokio::test]
async fn an_imported_tenant_is_validated_into_health() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
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
            Some(json!({"customer_id": c.body["id"], "name": "legacy-prod", "release": "3.1.0", "import": true})),
        )
        .await;
    assert_eq!(t.body["state"], "InTesting");
    let done = api.settled(t.body["active_change_request_id"].as_str().unwrap()).await;
    assert_eq!(done["operation"], "validate");
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(tenant(&api, t.body["id"].as_str().unwrap()).await["state"], "Healthy");
    assert!(lc.jenkins.builds().iter().all(|b| b.job != "provision-tenant"), "an imported tenant is not provisioned");
}

#[tokio::test]
async fn suspend_then_resume_revokes_then_restores_access_and_revalidates() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    api.call("operator", Method::POST, "/v1/resources", Some(json!({"arn": EC2, "tenant_ids": [id]}))).await;
    let s = request(&api, &id, "operator", json!({"operation": "suspend", "reason": "license revoked"})).await;
    let done = api.settled(s["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(tenant(&api, &id).await["state"], "Suspended");
    let r = request(&api, &id, "operator", json!({"operation": "resume"})).await;
    let done = api.settled(r["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(step_names(&done).iter().any(|(n, _)| n == "ansible restore-access"));
    assert_eq!(tenant(&api, &id).await["state"], "Healthy");
}

#[tokio::test]
async fn a_broken_tenant_that_passes_validation_is_healthy_again() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    lc.jenkins.set_job("health-api-smoke", JobBehaviour::new(FakeOutcome::Failure));
    let (id, cr) = new_tenant(&api, "acme-prod").await;
    assert_eq!(api.settled(&cr).await["status"], "failed");
    assert_eq!(tenant(&api, &id).await["state"], "Broken");
    lc.jenkins.set_job("health-api-smoke", JobBehaviour::new(FakeOutcome::Success));
    let v = request(&api, &id, "operator", json!({"operation": "validate"})).await;
    let done = api.settled(v["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(tenant(&api, &id).await["state"], "Healthy");
}

#[tokio::test]
async fn a_backup_passes_through_backing_up_and_returns_to_where_it_started() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    let b = request(&api, &id, "operator", json!({"operation": "backup"})).await;
    let done = api.settled(b["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(tenant(&api, &id).await["state"], "Healthy");
    api.drain_stream().await;
    let h = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/history?field=state"), None).await.body;
    let moves: Vec<(Value, Value)> =
        h["items"].as_array().unwrap().iter().map(|e| (e["old"].clone(), e["new"].clone())).collect();
    assert_eq!(moves[0], (json!("BackingUp"), json!("Healthy")));
    assert_eq!(moves[1], (json!("Healthy"), json!("BackingUp")));
}

async fn admin_request(api: &TestApi, tenant: &str, body: Value) -> Value {
    let (requester, approver) = (api.token("admin", "dana"), api.token("admin", "erin"));
    let path = format!("/v1/tenants/{tenant}/change-requests");
    let r = api.send(Method::POST, &path, Some(&requester), &[], Some(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let cr = r.body["id"].as_str().unwrap().to_owned();
    let a = api.send(Method::POST, &format!("/v1/change-requests/{cr}/approve"), Some(&approver), &[], None).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    api.settled(&cr).await
}

#[tokio::test]
async fn a_backup_is_catalogued_and_a_restore_of_it_brings_back_its_release_components_and_configs() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    let put = |key: &'static str, value: Value| {
        let api = &api;
        let path = format!("/v1/tenants/{id}/configs/{key}");
        async move { api.call("operator", Method::PUT, &path, Some(json!({ "value": value }))).await }
    };
    assert!(put("smtp.host", json!("old.example")).await.status.is_success());
    let before = tenant(&api, &id).await;
    let b = request(&api, &id, "operator", json!({"operation": "backup"})).await;
    let done = api.settled(b["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let list = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/backups"), None).await.body;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let backup = &items[0];
    assert_eq!(backup["change_request_id"], done["id"]);
    assert_eq!(backup["release"], before["release"]);
    assert_eq!(backup["configs"]["smtp.host"], json!({"value": "old.example"}));
    assert!(backup["location"].as_str().unwrap().starts_with("s3://portal-backups-local/acme-prod/"), "{backup}");
    assert!(backup["checksum"].as_str().unwrap().starts_with("sha256:"));
    let backup_id = backup["id"].as_str().unwrap().to_owned();
    let one = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/backups/{backup_id}"), None).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(&one.body, backup);

    // Then an upgrade and an edited config; the restore brings back what the backup recorded.
    let up = request(&api, &id, "operator", json!({"operation": "upgrade", "params": {"release": "3.2.0"}})).await;
    assert_eq!(api.settled(up["id"].as_str().unwrap()).await["status"], "succeeded");
    assert!(put("smtp.host", json!("new.example")).await.status.is_success());
    assert_eq!(tenant(&api, &id).await["release"], "3.2.0");
    let m = request(&api, &id, "operator", json!({"operation": "enter_maintenance"})).await;
    assert_eq!(api.settled(m["id"].as_str().unwrap()).await["status"], "succeeded");
    let restored = admin_request(
        &api,
        &id,
        json!({"operation": "restore", "params": {"backup_id": backup_id, "change_model": "maintenance"}}),
    )
    .await;
    assert_eq!(restored["status"], "succeeded", "{restored}");
    let after = tenant(&api, &id).await;
    assert_eq!((after["state"].clone(), after["release"].clone()), (json!("Healthy"), before["release"].clone()));
    let host = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/configs/smtp.host"), None).await.body;
    assert_eq!(host["value"], "old.example");
    let components = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/components"), None).await.body;
    let webapp = components["items"].as_array().unwrap().iter().find(|c| c["name"] == "webapp").cloned();
    assert_eq!(webapp.map(|c| c["version"].clone()), Some(backup["components"]["webapp"].clone()));
}

#[tokio::test]
async fn a_backup_job_that_reports_no_backup_fails_and_catalogues_nothing_and_a_restore_needs_a_catalogued_one() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-prod").await;
    lc.jenkins.set_report("backup-tenant", json!({}));
    let b = request(&api, &id, "operator", json!({"operation": "backup"})).await;
    let done = api.settled(b["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("names no backup"), "{done}");
    assert_eq!(tenant(&api, &id).await["state"], "Healthy", "a failed backup gives the tenant back");
    let list = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/backups"), None).await.body;
    assert_eq!(list["items"], json!([]));
    let m = request(&api, &id, "operator", json!({"operation": "enter_maintenance"})).await;
    assert_eq!(api.settled(m["id"].as_str().unwrap()).await["status"], "succeeded");
    let path = format!("/v1/tenants/{id}/change-requests");
    let r = api
        .call(
            "admin",
            Method::POST,
            &path,
            Some(json!({"operation": "restore", "params": {"backup_id": "bk_nothing"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "params.backup_id");
    assert_eq!(tenant(&api, &id).await["active_change_request_id"], Value::Null, "a refused restore claims nothing");
    let missing = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/backups/bk_nothing"), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

/// Not a check: measures each operation on the local stack with an instant Jenkins — the Step
/// Functions state transitions of its execution (what Standard workflows bill) and the wall time
/// from the API's 202 to the change request settling. `make bench` runs it and keeps the table.
#[tokio::test]
#[ignore = "a measurement, run by make bench"]
async fn measure_lifecycle_operations() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke,ui-smoke").await;
    let mut rows = Vec::new();
    let mut measure = |op: &str, started: std::time::Instant, done: &Value, transitions: usize| {
        // The tenant's states, from its change request's steps: where it started, each state a
        // step moved it to, where it ended.
        let mut path = vec![done["started_from"].as_str().unwrap_or("new").to_owned()];
        for step in done["steps"].as_array().into_iter().flatten() {
            let to = step["detail"]["to"].as_str().or_else(|| step["detail"]["state"].as_str());
            let moved = step["name"].as_str().is_some_and(|n| n.contains("state ") || n == "finish" || n == "begin");
            let entered = if step["name"] == "begin" { step["detail"]["plan"]["enter"].as_str() } else { None };
            for state in [to.filter(|_| moved), entered].into_iter().flatten() {
                if path.last().map(String::as_str) != Some(state) {
                    path.push(state.to_owned());
                }
            }
        }
        rows.push(format!(
            "| {op} | {} | {} | {} | {transitions} | {:.0} ms |",
            done["status"].as_str().unwrap_or("?"),
            path.join(" → "),
            path.len().saturating_sub(1),
            started.elapsed().as_secs_f64() * 1000.0
        ));
    };
    async fn transitions(lc: &Lifecycle, done: &Value) -> usize {
        lc.state_transitions(done["execution_arn"].as_str().unwrap()).await
    }
    let started = std::time::Instant::now();
    let (id, cr) = new_tenant(&api, "acme-prod").await;
    let done = api.settled(&cr).await;
    let n = transitions(&lc, &done).await;
    measure("provision", started, &done, n);
    api.call("operator", Method::POST, "/v1/resources", Some(json!({"arn": EC2, "tenant_ids": [id]}))).await;
    let ops = [
        json!({"operation": "validate"}),
        json!({"operation": "backup"}),
        json!({"operation": "rotate_webapp_password"}),
        json!({"operation": "rotate_db_password"}),
        json!({"operation": "rotate_airflow_password"}),
        json!({"operation": "enter_maintenance"}),
        json!({"operation": "exit_maintenance"}),
        json!({"operation": "upgrade", "params": {"release": "3.2.0"}}),
        json!({"operation": "upgrade", "params": {"release": "3.1.0", "change_model": "swap", "allow_downgrade": true}}),
        json!({"operation": "suspend"}),
        json!({"operation": "resume"}),
    ];
    // Last, an upgrade whose suite fails on the new release: it rolls back.
    let ops: Vec<Value> = ops
        .into_iter()
        .chain([json!({"operation": "upgrade", "params": {"release": "3.2.0"}, "expect": "failed"})])
        .collect();
    for body in ops {
        if body.get("expect").is_some() {
            lc.jenkins.set_job_when("health-ui-smoke", "RELEASE", "3.2.0", JobBehaviour::new(FakeOutcome::Failure));
        }
        let mut sent = body.clone();
        sent.as_object_mut().unwrap().remove("expect");
        let started = std::time::Instant::now();
        let cr = request(&api, &id, "operator", sent).await;
        let done = api.settled(cr["id"].as_str().unwrap()).await;
        let expected = if body.get("expect").is_some() { "failed" } else { "succeeded" };
        assert_eq!(done["status"], expected, "{done}");
        let n = transitions(&lc, &done).await;
        let mut label = match body["params"]["change_model"].as_str() {
            Some(m) => format!("{} ({m})", body["operation"].as_str().unwrap()),
            None => body["operation"].as_str().unwrap().to_owned(),
        };
        if body.get("expect").is_some() {
            label.push_str(", suite fails, rolled back");
        }
        measure(&label, started, &done, n);
    }
    // The destructive ones, each approved by a second admin: restore (from Maintenance, back to
    // Healthy), then terminate.
    let admin = api.token("admin", "dana");
    let other = api.token("admin", "erin");
    let cr = request(&api, &id, "operator", json!({"operation": "enter_maintenance"})).await;
    assert_eq!(api.settled(cr["id"].as_str().unwrap()).await["status"], "succeeded");
    let backups = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/backups"), None).await.body;
    let backup_id = backups["items"][0]["id"].as_str().unwrap_or_else(|| panic!("a backup: {backups}")).to_owned();
    let started = std::time::Instant::now();
    let r = api
        .send(
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            Some(&admin),
            &[],
            Some(json!({"operation": "restore", "params": {"backup_id": backup_id, "change_model": "maintenance"}})),
        )
        .await;
    let cr = r.body["id"].as_str().unwrap_or_else(|| panic!("a restore change request: {}", r.body)).to_owned();
    api.send(Method::POST, &format!("/v1/change-requests/{cr}/approve"), Some(&other), &[], None).await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let n = transitions(&lc, &done).await;
    measure("restore (after approval)", started, &done, n);

    let started = std::time::Instant::now();
    let t = api
        .send(
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            Some(&admin),
            &[],
            Some(json!({"operation": "terminate"})),
        )
        .await;
    let cr = t.body["id"].as_str().unwrap().to_owned();
    api.send(Method::POST, &format!("/v1/change-requests/{cr}/approve"), Some(&other), &[], None).await;
    let done = api.settled(&cr).await;
    let n = transitions(&lc, &done).await;
    measure("terminate (after approval)", started, &done, n);

    let table = format!(
        "| operation | result | tenant states | tenant moves | Step Functions state transitions | wall time (202 → settled) |\n|---|---|---|---|---|---|\n{}\n",
        rows.join("\n")
    );
    println!("{table}");
    if let Ok(out) = std::env::var("LIFECYCLE_BENCH_OUT") {
        std::fs::write(out, table).unwrap();
    }
}

#[tokio::test]
async fn a_release_names_its_own_health_suites() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke,ui-smoke").await;
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let r = api
        .call(
            "operator",
            Method::POST,
            "/v1/releases",
            Some(json!({"version": "4.0.0", "components": {"webapp": "4.0.0"}, "health_suites": ["db-integrity"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let t = api
        .call(
            "operator",
            Method::POST,
            "/v1/tenants",
            Some(json!({"customer_id": c.body["id"], "name": "acme-next", "release": "4.0.0"})),
        )
        .await;
    let done = api.settled(t.body["active_change_request_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let suites: Vec<String> =
        lc.jenkins.builds().iter().filter(|b| b.job.starts_with("health-")).map(|b| b.job.clone()).collect();
    assert_eq!(suites, ["health-db-integrity"]);
    let runs = api
        .call("viewer", Method::GET, &format!("/v1/tenants/{}/health-runs", t.body["id"].as_str().unwrap()), None)
        .await
        .body;
    assert_eq!(runs["items"][0]["suites"][0]["suite"], "db-integrity");
}

use domain::Operation as Op;

/// Reads the tenant's box through the stand-in Update Manager and keeps what differs.
async fn drift_checked(api: &TestApi, lc: &Lifecycle, id: &str) {
    let manager = engine::HttpUpdateManager::new(&lc.update_manager_url).unwrap();
    let tenant = api.app.changes.tenant(&domain::TenantId::parse(id).unwrap()).await.unwrap();
    let caller = changes::Caller::system("schedule:drift", domain::Source::Schedule);
    let report = api.app.changes.check_drift(&manager, &tenant, &caller, None).await.unwrap();
    assert!(report.is_drifted(), "the box was changed by hand: {report:?}");
}

#[tokio::test]
async fn a_provision_records_what_its_job_built_and_every_operation_from_healthy_then_succeeds() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-built").await;
    let resources = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/resources"), None).await.body;
    let arns: Vec<&str> = resources["items"].as_array().unwrap().iter().map(|r| r["arn"].as_str().unwrap()).collect();
    // What the job built, and the four standard alarms the provision created on its instance.
    let (alarms, built): (Vec<&str>, Vec<&str>) = arns.iter().partition(|a| a.starts_with("arn:aws:cloudwatch:"));
    assert_eq!((built.len(), alarms.len()), (3, 4), "{resources}");
    assert!(arns.iter().any(|a| a.starts_with("arn:aws:ec2:") && a.contains(":instance/i-")), "{arns:?}");
    assert!(arns.contains(&"arn:aws:s3:::acme-built-data"));
    let configs = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/configs"), None).await.body;
    let by_key =
        |k: &str| configs["items"].as_array().unwrap().iter().find(|c| c["key"] == k).cloned().unwrap_or_default();
    assert_eq!(by_key("webapp.url")["value"], "https://acme-built.tenants.example");
    assert_eq!(by_key("db.password")["secret_ref"], "ssm:/tenants/acme-built/db_password");
    assert!(by_key("db.password").get("value").is_none());

    // Each on a tenant of its own, all at once.
    let runs = domain::lifecycle::allowed_operations(domain::TenantState::Healthy).into_iter().map(|op| {
        let (api, lc) = (&api, &lc);
        async move {
            let name = format!("ops-{}", op.as_str().replace('_', "-"));
            let id = healthy_tenant(api, &name).await;
            if matches!(op, Op::AdoptDrift | Op::ReapplyRecorded) {
                // There is something to adopt or re-apply only once a check found the box differ.
                lc.boxes.change_config(&id, "log.level", json!("debug"));
                drift_checked(api, lc, &id).await;
            }
            let body = match op {
                domain::Operation::Upgrade => json!({"operation": op, "params": {"release": "3.2.0"}}),
                domain::Operation::MarkBroken => json!({"operation": op, "params": {"alarm": {
                    "alarm_name": "ops-check", "state": "ALARM", "reason": "seen by hand", "at": "2026-12-03T02:00:00Z"
                }}}),
                _ => json!({"operation": op}),
            };
            let mut cr = if op == domain::Operation::ActivateLicense {
                // Requested by assigning a license to the tenant's customer.
                let t = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await.body;
                let l = json!({"name": "Ops", "kind": "subscription"});
                let l = api.call("operator", Method::POST, "/v1/licenses", Some(l)).await.body;
                let a = json!({"customer_id": t["customer_id"], "license_id": l["id"], "key_ref": "ssm:/licenses/ops"});
                let a = api.call("operator", Method::POST, "/v1/license-assignments", Some(a)).await.body;
                let started = &a["license_changes"]["started"][0];
                assert_eq!(started["tenant_id"], id.as_str(), "{a}");
                let path = format!("/v1/change-requests/{}", started["change_request_id"].as_str().unwrap());
                api.call("viewer", Method::GET, &path, None).await.body
            } else {
                request(api, &id, "operator", body).await
            };
            if cr["status"] == "awaiting_approval" {
                let path = format!("/v1/change-requests/{}/approve", cr["id"].as_str().unwrap());
                let r = api.call("admin", Method::POST, &path, None).await;
                assert_eq!(r.status, StatusCode::ACCEPTED, "{op}: {}", r.body);
                cr = r.body;
            }
            (op, api.settled(cr["id"].as_str().unwrap()).await)
        }
    });
    let results = futures::future::join_all(runs).await;
    let ran: Vec<domain::Operation> = results.iter().map(|(op, _)| *op).collect();
    for needed in [Op::EnterMaintenance, Op::Suspend, Op::RotateWebappPassword, Op::Backup, Op::Terminate] {
        assert!(ran.contains(&needed), "{needed} is among the operations from Healthy: {ran:?}");
    }
    for (op, done) in results {
        assert_eq!(done["status"], "succeeded", "{op} on a tenant the API provisioned: {done}");
    }
}
