//! Rollouts for real: the API creates the rollout and starts its first wave, the rollout driver
//! (`functions/rollouts`' handler, called as its every-minute schedule would) moves it on, and
//! each tenant's change request runs in moto's Step Functions against the stand-in Jenkins,
//! over the registry in moto's DynamoDB.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use devstack::fake_jenkins::{FakeOutcome, JobBehaviour};
use integration_tests::TestApi;
use integration_tests::counting::CountingTable;
use serde_json::{Value, json};

/// The job of the health suite every validate runs here.
const SUITE_JOB: &str = "health-api-smoke";

/// A customer, release 3.1.0 and `n` Healthy tenants on it (`<prefix>-<i>`); answers (id, name)
/// of each.
async fn fleet(api: &TestApi, prefix: &str, n: usize) -> Vec<(String, String)> {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    let release = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    let r = api.call("operator", Method::POST, "/v1/releases", Some(release)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    let ids = api.seed_healthy_tenants(c.body["id"].as_str().unwrap(), "3.1.0", &names).await;
    ids.into_iter().zip(names).collect()
}

fn validate_over(ids: &[&str], waves: Value) -> Value {
    json!({"operation": "validate", "selector": {"tenant_ids": ids}, "waves": waves, "reason": "the nightly check"})
}

async fn get(api: &TestApi, path: &str) -> Value {
    let r = api.call("viewer", Method::GET, path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r.body
}

async fn rollout(api: &TestApi, id: &str) -> Value {
    get(api, &format!("/v1/rollouts/{id}")).await
}

async fn create(api: &TestApi, body: Value) -> Value {
    let r = api.call("operator", Method::POST, "/v1/rollouts", Some(body)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    r.body
}

/// One run of the rollout driver over `changes`, as its schedule fires it.
async fn tick(changes: &changes::Changes) -> Value {
    let event = rollouts::Event { detail_type: rollouts::SCHEDULED_EVENT.into(), time: Utc::now() };
    rollouts::run(changes, event).await.expect("the driver ran")
}

/// The change requests of a rollout's members that are running now.
fn running(r: &Value) -> Vec<String> {
    members(r)
        .into_iter()
        .filter(|m| m["status"] == "running")
        .filter_map(|m| m["change_request_id"].as_str().map(str::to_owned))
        .collect()
}

fn members(r: &Value) -> Vec<Value> {
    r["waves"].as_array().unwrap().iter().flat_map(|w| w["tenants"].as_array().unwrap().clone()).collect()
}

/// The wave of each member: (wave, tenant id, status, change request id).
fn by_wave(r: &Value) -> Vec<(u64, String, String, Option<String>)> {
    let mut out = Vec::new();
    for w in r["waves"].as_array().unwrap() {
        for t in w["tenants"].as_array().unwrap() {
            out.push((
                w["index"].as_u64().unwrap(),
                t["tenant_id"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
                t["change_request_id"].as_str().map(str::to_owned),
            ));
        }
    }
    out
}

/// Lets every running change request end, then runs the driver; until the rollout is no longer
/// running. Answers the rollout and how many driver runs it took.
async fn drive(api: &TestApi, id: &str) -> (Value, usize) {
    drive_with(api, &api.app.changes, id).await
}

/// [`drive`] with the driver over `driver`.
async fn drive_with(api: &TestApi, driver: &changes::Changes, id: &str) -> (Value, usize) {
    for runs in 0..100 {
        let r = rollout(api, id).await;
        if r["status"] != "running" {
            return (r, runs);
        }
        for cr in running(&r) {
            api.settled(&cr).await;
        }
        tick(driver).await;
    }
    panic!("rollout {id} still running after 100 driver runs: {}", rollout(api, id).await);
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a time: {v}"))
}

/// When a change request was requested, and when its last step ended.
fn span(cr: &Value) -> (DateTime<Utc>, DateTime<Utc>) {
    let last = cr["steps"].as_array().unwrap().last().unwrap_or_else(|| panic!("steps: {cr}"));
    (at(&cr["requested_at"]), at(&last["ended_at"]))
}

async fn tenant_changes(api: &TestApi, tenant: &str) -> Vec<Value> {
    get(api, &format!("/v1/tenants/{tenant}/change-requests")).await["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_rollout_runs_its_waves_in_order_each_tenant_through_its_own_change_request_and_succeeds() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let tenants = fleet(&api, "wave", 3).await;
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let created = create(&api, validate_over(&ids, json!([1, 2]))).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!((created["tenant_count"].as_u64(), created["wave_sizes"].clone()), (Some(3), json!([1, 2])));

    let first = rollout(&api, id).await;
    let waiting: Vec<_> = by_wave(&first).into_iter().filter(|m| m.0 == 1).collect();
    assert!(waiting.iter().all(|m| m.2 == "waiting" && m.3.is_none()), "wave 1 waits for wave 0: {first}");

    let (done, runs) = drive(&api, id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(runs >= 2, "wave 1 was started by the driver, after wave 0 ended: {runs} runs");
    let members = by_wave(&done);
    assert_eq!(members.iter().map(|m| m.0).collect::<Vec<_>>(), [0, 1, 1]);
    let mut spans = Vec::new();
    for (wave, tenant, status, cr) in &members {
        assert_eq!(status, "succeeded", "{done}");
        let cr = get(&api, &format!("/v1/change-requests/{}", cr.as_ref().unwrap())).await;
        assert_eq!((cr["status"].as_str(), cr["tenant_id"].as_str()), (Some("succeeded"), Some(tenant.as_str())));
        assert_eq!(cr["operation"], "validate");
        assert!(cr["requested_by"].as_str().unwrap().contains(id), "the change names its rollout: {cr}");
        assert!(cr["reason"].as_str().unwrap().contains("the nightly check"), "{cr}");
        spans.push((*wave, span(&cr)));
        // Exactly one change request per tenant.
        assert_eq!(tenant_changes(&api, tenant).await.len(), 1);
    }
    let wave0_ended = spans.iter().filter(|s| s.0 == 0).map(|s| s.1.1).max().unwrap();
    for (_, (requested, _)) in spans.iter().filter(|s| s.0 == 1) {
        assert!(*requested >= wave0_ended, "wave 1 was requested after wave 0 ended");
    }
    for (tenant, _) in &tenants {
        assert_eq!(get(&api, &format!("/v1/tenants/{tenant}")).await["state"], "Healthy");
    }
    // Over, it is no longer driven.
    assert_eq!(tick(&api.app.changes).await["advanced"], json!([]));
}

#[tokio::test]
async fn a_failing_first_wave_halts_the_rollout_and_the_later_waves_tenants_get_no_change_request() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let tenants = fleet(&api, "halt", 3).await;
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let body = validate_over(&ids, json!([1, 2]));
    // The plan says which tenant the first wave takes; its suite fails.
    let plan = api.call("operator", Method::POST, "/v1/rollouts/plan", Some(body.clone())).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    let first = plan.body["tenants"].as_array().unwrap().iter().find(|t| t["wave"] == 0).cloned().unwrap();
    lc.jenkins.set_job_when(
        SUITE_JOB,
        "TENANT_NAME",
        first["name"].as_str().unwrap(),
        JobBehaviour::new(FakeOutcome::Failure),
    );

    let created = create(&api, body).await;
    let id = created["id"].as_str().unwrap();
    let (done, _) = drive(&api, id).await;
    assert_eq!(done["status"], "halted", "{done}");
    assert!(done["ended_reason"].as_str().unwrap().contains("max_failures 0"), "{done}");
    let members = by_wave(&done);
    let (_, failed, status, cr) = &members[0];
    assert_eq!((failed.as_str(), status.as_str()), (first["tenant_id"].as_str().unwrap(), "failed"));
    let cr = get(&api, &format!("/v1/change-requests/{}", cr.as_ref().unwrap())).await;
    assert_eq!(cr["status"], "failed", "{cr}");
    for (wave, tenant, status, cr) in &members[1..] {
        assert_eq!((*wave, status.as_str(), cr), (1, "not_run", &None), "{done}");
        assert!(tenant_changes(&api, tenant).await.is_empty(), "tenant {tenant} got no change request");
    }
    // The driver leaves a halted rollout alone.
    tick(&api.app.changes).await;
    for (_, tenant, _, _) in &members[1..] {
        assert!(tenant_changes(&api, tenant).await.is_empty());
    }
    let suites: Vec<_> = lc.jenkins.builds().into_iter().filter(|b| b.job == SUITE_JOB).collect();
    assert_eq!(suites.len(), 1, "one suite ran, the first wave's");
}

#[tokio::test]
async fn an_upgrade_rollout_with_a_failure_within_max_failures_succeeds_and_each_tenant_ends_on_its_release() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let tenants = fleet(&api, "up", 3).await;
    let next = json!({"version": "3.2.0", "components": {"webapp": "3.2.0", "etl": "1.0.0"}});
    let r = api.call("operator", Method::POST, "/v1/releases", Some(next)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let body = json!({
        "operation": "upgrade", "params": {"release": "3.2.0"}, "selector": {"tenant_ids": ids},
        "waves": [1, 2], "max_failures": 1,
    });
    // One tenant of the second wave fails its upgrade job (and is rolled back).
    let plan = api.call("operator", Method::POST, "/v1/rollouts/plan", Some(body.clone())).await.body;
    let second: Vec<Value> = plan["tenants"].as_array().unwrap().iter().filter(|t| t["wave"] == 1).cloned().collect();
    assert_eq!(second.len(), 2, "{plan}");
    let failing = second[0]["tenant_id"].as_str().unwrap().to_owned();
    lc.jenkins.set_job_when(
        "upgrade-tenant",
        "TENANT_NAME",
        second[0]["name"].as_str().unwrap(),
        JobBehaviour::new(FakeOutcome::Failure),
    );

    let created = create(&api, body).await;
    let (done, _) = drive(&api, created["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "one failure is within max_failures 1: {done}");
    assert_eq!((done["waves"][1]["failed"].as_u64(), done["waves"][1]["succeeded"].as_u64()), (Some(1), Some(1)));
    for (tenant, _) in &tenants {
        let t = get(&api, &format!("/v1/tenants/{tenant}")).await;
        let want = if *tenant == failing { "3.1.0" } else { "3.2.0" };
        assert_eq!((t["state"].as_str(), t["release"].as_str()), (Some("Healthy"), Some(want)), "{t}");
    }
}

#[tokio::test]
async fn an_alarm_on_a_tenant_during_the_soak_halts_the_rollout_before_its_next_wave() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let tenants = fleet(&api, "soak", 2).await;
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let mut body = validate_over(&ids, json!([1, 1]));
    body["soak_seconds"] = json!(3600);
    let created = create(&api, body).await;
    let id = created["id"].as_str().unwrap();
    let first = rollout(&api, id).await;
    let cr = running(&first).pop().expect("wave 0 runs");
    assert_eq!(api.settled(&cr).await["status"], "succeeded");
    tick(&api.app.changes).await;
    let soaking = rollout(&api, id).await;
    assert!(soaking["soak_started_at"].is_string(), "wave 0 soaks: {soaking}");
    assert_eq!(soaking["current_wave"], 0);

    // Its tenant raises an alarm: a mark_broken change request, as the alarm handler makes.
    let (_, tenant, _, _) = by_wave(&soaking).into_iter().find(|m| m.0 == 0).unwrap();
    let alarm = json!({"operation": "mark_broken", "params": {"alarm": {
        "alarm_name": format!("portal-{tenant}-cpu"), "state": "ALARM", "reason": "CPU above 90%", "at": Utc::now()
    }}});
    let r = api.call("operator", Method::POST, &format!("/v1/tenants/{tenant}/change-requests"), Some(alarm)).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(api.settled(r.body["id"].as_str().unwrap()).await["status"], "succeeded");
    tick(&api.app.changes).await;
    let halted = rollout(&api, id).await;
    assert_eq!(halted["status"], "halted", "{halted}");
    assert!(halted["ended_reason"].as_str().unwrap().contains("an alarm during the soak of wave 1 of "), "{halted}");
    let (_, later, status, cr) = by_wave(&halted).into_iter().find(|m| m.0 == 1).unwrap();
    assert_eq!((status.as_str(), cr), ("not_run", None));
    assert!(tenant_changes(&api, &later).await.is_empty());
}

#[tokio::test]
async fn a_second_rollout_over_a_tenant_the_first_is_running_names_it_busy_and_leaves_it_out() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    lc.jenkins.set_job(SUITE_JOB, JobBehaviour::new(FakeOutcome::Hang));
    let tenants = fleet(&api, "twice", 2).await;
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let first = create(&api, validate_over(&ids, json!([1, 1]))).await;
    let running_now = rollout(&api, first["id"].as_str().unwrap()).await;
    let (_, busy, _, cr) = by_wave(&running_now).into_iter().find(|m| m.0 == 0).unwrap();

    let body = validate_over(&ids, json!([2]));
    let plan = api.call("operator", Method::POST, "/v1/rollouts/plan", Some(body.clone())).await;
    assert_eq!(plan.status, StatusCode::OK, "{}", plan.body);
    assert_eq!((plan.body["would_run"].as_u64(), plan.body["refused"].as_u64()), (Some(1), Some(1)));
    let entry = plan.body["tenants"].as_array().unwrap().iter().find(|t| t["tenant_id"] == busy.as_str()).unwrap();
    assert_eq!(entry["not_run"], json!({"reason": "busy", "change_request_id": cr.unwrap()}));
    let second = create(&api, body).await;
    assert_eq!((second["tenant_count"].as_u64(), second["refused_count"].as_u64()), (Some(1), Some(1)), "{second}");

    for r in [&first, &second] {
        let path = format!("/v1/rollouts/{}/abort", r["id"].as_str().unwrap());
        let done = api.call("admin", Method::POST, &path, Some(json!({"reason": "test over"}))).await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    }
}

#[tokio::test]
async fn a_paused_rollout_starts_nothing_a_resumed_one_goes_on_and_an_abort_stops_its_running_changes() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let tenants = fleet(&api, "ctl", 3).await;
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let body = validate_over(&ids, json!([1, 2]));
    let plan = api.call("operator", Method::POST, "/v1/rollouts/plan", Some(body.clone())).await.body;
    // The first wave's suite takes a while; the second wave's never ends.
    lc.jenkins.set_job(SUITE_JOB, JobBehaviour::new(FakeOutcome::Success).running_for(1500));
    for t in plan["tenants"].as_array().unwrap().iter().filter(|t| t["wave"] == 1) {
        lc.jenkins.set_job_when(
            SUITE_JOB,
            "TENANT_NAME",
            t["name"].as_str().unwrap(),
            JobBehaviour::new(FakeOutcome::Hang),
        );
    }
    let created = create(&api, body).await;
    let id = created["id"].as_str().unwrap();
    let r = api.call("operator", Method::POST, &format!("/v1/rollouts/{id}/pause"), None).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("paused")), "{}", r.body);
    let again = api.call("operator", Method::POST, &format!("/v1/rollouts/{id}/pause"), None).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    // Paused: what runs runs on, and nothing new starts however often the driver runs.
    let paused = rollout(&api, id).await;
    let first = running(&paused);
    assert_eq!(first.len(), 1, "{paused}");
    assert_eq!(api.settled(&first[0]).await["status"], "succeeded");
    tick(&api.app.changes).await;
    tick(&api.app.changes).await;
    let still = rollout(&api, id).await;
    assert_eq!(still["status"], "paused");
    assert!(by_wave(&still).iter().filter(|m| m.0 == 1).all(|m| m.3.is_none()), "{still}");

    // Resumed: the driver records wave 0's end and starts wave 1 at once.
    let r = api.call("operator", Method::POST, &format!("/v1/rollouts/{id}/resume"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let resumed = rollout(&api, id).await;
    assert_eq!((resumed["status"].as_str(), resumed["current_wave"].as_u64()), (Some("running"), Some(1)), "{resumed}");
    let second = running(&resumed);
    assert_eq!(second.len(), 2, "{resumed}");
    // Wait until both builds hang in Jenkins.
    for _ in 0..200 {
        let hanging = lc.jenkins.builds().into_iter().filter(|b| b.job == SUITE_JOB).count();
        if hanging == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // An operator may not abort; an admin does, with a reason.
    let path = format!("/v1/rollouts/{id}/abort");
    let r = api.call("operator", Method::POST, &path, Some(json!({"reason": "wrong night"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = api.call("admin", Method::POST, &path, Some(json!({"reason": "wrong night"}))).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{}", r.body);
    for cr in &second {
        let done = api.settled(cr).await;
        assert_eq!(done["status"], "cancelled", "{done}");
        assert!(done["abort_reason"].as_str().unwrap().contains("wrong night"), "{done}");
    }
    let ended = rollout(&api, id).await;
    assert!(ended["ended_reason"].as_str().unwrap().contains("wrong night"), "{ended}");
    for (wave, _, status, _) in by_wave(&ended) {
        assert_eq!(status, if wave == 0 { "succeeded" } else { "failed" }, "{ended}");
    }
    // Aborted, its tenants are free again.
    for (tenant, _) in &tenants {
        let t = get(&api, &format!("/v1/tenants/{tenant}")).await;
        assert!(t.get("active_change_request_id").is_none_or(Value::is_null), "{t}");
    }
    let r = api.call("operator", Method::POST, &format!("/v1/rollouts/{id}/resume"), None).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "an ended rollout does not resume: {}", r.body);
}

/// A rollout of `validate` over `ROLLOUT_TENANTS` (default 100) tenants seeded in the store, in
/// waves [1, 9, rest] at the default concurrency (10): the HTTP requests it needs, the DynamoDB
/// requests and items of the API's create and of the driver's runs (a counting table port around
/// the real adapter; the lifecycle tasks' own calls are per change request, see
/// `bench/RESULTS.md`), the driver runs (one a minute in AWS), the Step Functions executions and
/// their state transitions, and the wall time with the driver called as soon as the running
/// changes ended. `ROLLOUT_BENCH_OUT` names a file for the table.
#[tokio::test]
#[ignore = "a measurement"]
async fn measure_a_rollout_over_a_hundred_tenants() {
    let n: usize = std::env::var("ROLLOUT_TENANTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let seeding = std::time::Instant::now();
    let tenants = fleet(&api, "fleet", n).await;
    let seeded = seeding.elapsed();
    let counting = Arc::new(CountingTable::new(api.app.changes.table.clone()));
    let mut driver = api.app.changes.clone();
    driver.table = counting.clone();
    let counted =
        portal_api::router(portal_api::App::new(api.app.history.clone(), driver.clone()), Arc::new(api.tokens.clone()));
    let ids: Vec<&str> = tenants.iter().map(|(id, _)| id.as_str()).collect();
    let body = validate_over(&ids, json!([1, 9, 90]));

    let started = std::time::Instant::now();
    let token = api.token("operator", "olga");
    let req = axum::http::Request::post("/v1/rollouts")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(counted, req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let create_took = started.elapsed();
    let create_counts = counting.counts();
    let id = rollout_id_of(&api).await;
    let (done, runs) = drive_with(&api, &driver, &id).await;
    let took = started.elapsed();
    let all = counting.counts();
    assert_eq!(done["status"], "succeeded", "{done}");

    let crs: Vec<String> =
        members(&done).iter().filter_map(|m| m["change_request_id"].as_str().map(str::to_owned)).collect();
    assert_eq!(crs.len(), n);
    let mut transitions = 0;
    for cr in &crs {
        let cr = get(&api, &format!("/v1/change-requests/{cr}")).await;
        assert_eq!(cr["status"], "succeeded", "{cr}");
        transitions += lc.state_transitions(cr["execution_arn"].as_str().unwrap()).await;
    }
    let by_op = |c: &integration_tests::counting::Counts| {
        c.requests.iter().map(|(op, k)| format!("{op} {k}")).collect::<Vec<_>>().join(", ")
    };
    let table = format!(
        "| what | figure |\n|---|---|\n\
         | tenants (seeded with BatchWriteItem, not counted) | {n} in {:.1} s |\n\
         | HTTP requests to run it | 1 (`POST /v1/rollouts`); reading it is `GET /v1/rollouts/{{id}}` |\n\
         | POST /v1/rollouts: time, DynamoDB requests | {:.0} ms; {} ({}) |\n\
         | POST /v1/rollouts: items read / written | {} / {} |\n\
         | driver runs after the create (one a minute in AWS) | {runs} |\n\
         | create + driver: DynamoDB requests | {} ({}) |\n\
         | create + driver: items read / written | {} / {} |\n\
         | Step Functions executions | {} (one per change request) |\n\
         | state transitions, all executions | {transitions} ({:.1} each) |\n\
         | wall time, 202 → succeeded (driver run as soon as its changes ended) | {:.1} s |\n",
        seeded.as_secs_f64(),
        create_took.as_secs_f64() * 1000.0,
        create_counts.total_requests(),
        by_op(&create_counts),
        create_counts.items_read,
        create_counts.items_written,
        all.total_requests(),
        by_op(&all),
        all.items_read,
        all.items_written,
        crs.len(),
        transitions as f64 / crs.len() as f64,
        took.as_secs_f64(),
    );
    println!("{table}");
    if let Ok(out) = std::env::var("ROLLOUT_BENCH_OUT") {
        std::fs::write(out, table).unwrap();
    }
}

/// The newest rollout's id.
async fn rollout_id_of(api: &TestApi) -> String {
    let list = get(api, "/v1/rollouts").await;
    list["items"][0]["id"].as_str().unwrap_or_else(|| panic!("a rollout: {list}")).to_owned()
}
