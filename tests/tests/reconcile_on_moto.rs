//! Change requests that their own Finish does not end, on moto: an admin's abort (the execution
//! and the Jenkins build are stopped), an execution stopped outside the portal, the execution
//! ends moto never emits (delivered to the same reconciler handler as EventBridge would), and
//! the sweep of a change request whose execution never started.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use devstack::execution_events::status_change_event;
use devstack::fake_jenkins::{FakeBuildState, FakeOutcome, JobBehaviour};
use integration_tests::{Lifecycle, TestApi};
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

async fn change(api: &TestApi, id: &str) -> Value {
    api.call("viewer", Method::GET, &format!("/v1/change-requests/{id}"), None).await.body
}

/// Waits until the change request's step `name` runs.
async fn running_step(api: &TestApi, cr: &str, name: &str) -> Value {
    for _ in 0..300 {
        let body = change(api, cr).await;
        let found =
            body["steps"].as_array().and_then(|s| s.iter().find(|s| s["name"] == name && s["status"] == "running"));
        if let Some(step) =
            found.filter(|s| s["detail"].get("build").is_some() || s["detail"].get("command_id").is_some())
        {
            return step.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("step {name} of {cr} never ran: {}", change(api, cr).await);
}

/// A Healthy tenant named `name` with a running `validate` whose health suite hangs, waited for
/// until the suite's build runs: (tenant, change request, execution ARN).
async fn hanging_validate(api: &TestApi, lc: &Lifecycle, name: &str) -> (String, String, String) {
    let id = healthy_tenant(api, name).await;
    lc.jenkins.set_job("health-api-smoke", JobBehaviour::new(FakeOutcome::Hang));
    let path = format!("/v1/tenants/{id}/change-requests");
    let r = api.call("operator", Method::POST, &path, Some(json!({"operation": "validate"}))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let cr = r.body["id"].as_str().unwrap().to_owned();
    running_step(api, &cr, "health suite api-smoke").await;
    (id, cr, r.body["execution_arn"].as_str().unwrap().to_owned())
}

/// The execution's status once it is no longer `RUNNING` (moto ends a stopped execution when
/// the state it is in returns), or `RUNNING` after 20 s.
async fn execution_status(lc: &Lifecycle, arn: &str) -> String {
    for _ in 0..200 {
        let status = lc.sfn.describe_execution().execution_arn(arn).send().await.unwrap().status().as_str().to_owned();
        if status != "RUNNING" {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    "RUNNING".into()
}

#[tokio::test]
async fn an_abort_during_a_jenkins_build_stops_the_build_and_the_execution_and_ends_cancelled() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-abort").await;
    lc.jenkins.set_job("backup-tenant", JobBehaviour::new(FakeOutcome::Hang));
    let r = api
        .call(
            "operator",
            Method::POST,
            &format!("/v1/tenants/{id}/change-requests"),
            Some(json!({"operation": "backup"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let cr = r.body["id"].as_str().unwrap().to_owned();
    running_step(&api, &cr, "jenkins backup-tenant").await;
    assert_eq!(tenant(&api, &id).await["state"], "BackingUp");

    let r = api
        .call(
            "admin",
            Method::POST,
            &format!("/v1/change-requests/{cr}/abort"),
            Some(json!({"reason": "INC-9: wrong window"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["abort_reason"], "INC-9: wrong window");
    assert!(r.body["aborted_by"].as_str().unwrap().starts_with("admin-user"));
    let t = tenant(&api, &id).await;
    // Aborted after its public access was blocked: no rollback runs, so the tenant is locked out
    // (Maintenance) until an exit_maintenance opens it and validates it.
    assert_eq!(t["state"], "Maintenance", "an aborted backup leaves the customer locked out");
    assert!(t.get("active_change_request_id").is_none());
    let backup = lc.jenkins.builds().into_iter().rfind(|b| b.job == "backup-tenant").expect("the backup build");
    assert_eq!(backup.result.as_deref(), Some("ABORTED"), "the build was stopped: {backup:?}");
    assert!(matches!(backup.state, FakeBuildState::Done | FakeBuildState::Cancelled));
    // Stopped: AWS says ABORTED; moto's ASL engine ends an execution stopped inside a Map
    // FAILED (States.Runtime), so both are accepted here.
    let ended = execution_status(&lc, r.body["execution_arn"].as_str().unwrap()).await;
    assert!(ended == "ABORTED" || ended == "FAILED", "{ended}");

    // The execution's ABORTED end, delivered as EventBridge would, changes nothing more.
    lc.events.lock().await.deliver_ends().await.unwrap();
    assert_eq!(change(&api, &cr).await["status"], "cancelled");
    assert_eq!(tenant(&api, &id).await["state"], "Maintenance");
}

#[tokio::test]
async fn an_execution_stopped_outside_the_portal_is_reconciled_from_its_end_event() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let (id, cr, arn) = hanging_validate(&api, &lc, "acme-console").await;
    // Someone stops it in the console: no Finish runs.
    lc.sfn.stop_execution().execution_arn(&arn).cause("stopped by hand").send().await.unwrap();
    let ended = execution_status(&lc, &arn).await;
    assert!(ended == "ABORTED" || ended == "FAILED", "{ended} (moto ends a stopped Map FAILED)");
    assert_eq!(change(&api, &cr).await["status"], "running", "nothing told the portal yet");

    let delivered = lc.events.lock().await.deliver_ends().await.unwrap();
    assert!(delivered >= 1);
    let done = change(&api, &cr).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error"].as_str().unwrap();
    assert!(
        error.contains("aborted outside the portal") || error.contains("failed before it could record why"),
        "{done}"
    );
    let t = tenant(&api, &id).await;
    assert_eq!(t["state"], "Broken", "a failed validate ends Broken");
    assert!(t.get("active_change_request_id").is_none());
    let suite = lc.jenkins.builds().into_iter().rfind(|b| b.job == "health-api-smoke").unwrap();
    assert_eq!(suite.result.as_deref(), Some("ABORTED"), "its running build was stopped too");
    // Delivered again (EventBridge delivers at least once): nothing changes.
    assert_eq!(lc.events.lock().await.deliver_ends().await.unwrap(), 0);
    assert_eq!(change(&api, &cr).await, done);
}

#[tokio::test]
async fn timed_out_and_failed_ends_that_moto_never_emits_go_to_the_same_handler() {
    for status in ["TIMED_OUT", "FAILED"] {
        let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
        let (id, cr, arn) =
            hanging_validate(&api, &lc, &format!("acme-{}", status.to_lowercase().replace('_', "-"))).await;
        lc.sfn.stop_execution().execution_arn(&arn).send().await.unwrap();
        let event =
            status_change_event(&lc.state_machine_arn, &arn, &cr, status, Some("States.Timeout"), Some("deadline"));
        let event: reconciler::Event = serde_json::from_value(event).unwrap();
        // The handler the events watcher calls, given this end directly.
        let deps = reconciler_deps(&api, &lc);
        let answer = reconciler::run(&deps, event).await.unwrap();
        assert_eq!(answer["result"], "finished", "{status}: {answer}");
        let done = change(&api, &cr).await;
        assert_eq!(done["status"], "failed");
        let t = tenant(&api, &id).await;
        assert_eq!((t["state"].as_str(), t.get("active_change_request_id")), (Some("Broken"), None));
    }
}

fn reconciler_deps(api: &TestApi, lc: &Lifecycle) -> reconciler::Deps {
    reconciler::Deps {
        changes: api.app.changes.clone(),
        state_machine_arn: Some(lc.state_machine_arn.clone()),
        grace: chrono::Duration::seconds(0),
    }
}

#[tokio::test]
async fn the_sweep_finishes_a_change_whose_execution_never_started() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let id = healthy_tenant(&api, "acme-crash").await;
    // A crash between the claim and StartExecution: the claim is committed, nothing started.
    let caller = changes::Caller::person(domain::Actor { sub: "olga".into(), email: None }, domain::Role::Operator);
    let cmd =
        changes::ChangeCreate { operation: domain::Operation::Validate, params: Default::default(), reason: None };
    let tenant_id = domain::TenantId::parse(&id).unwrap();
    let prepared = api.app.changes.prepare(&tenant_id, cmd, &caller).await.unwrap();
    let cr = prepared.change_request().id.to_string();
    let quiet = changes::Changes {
        workflows: std::sync::Arc::new(engine::workflows::MemoryWorkflows::new()),
        ..api.app.changes.clone()
    };
    quiet.submit(prepared, None).await.unwrap();
    assert_eq!(tenant(&api, &id).await["active_change_request_id"], cr.as_str());

    let report = lc.events.lock().await.sweep().await.unwrap();
    assert_eq!(report["finished"], json!([cr]), "{report}");
    let done = change(&api, &cr).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().unwrap().contains("never started"), "{done}");
    assert!(tenant(&api, &id).await.get("active_change_request_id").is_none());
}
