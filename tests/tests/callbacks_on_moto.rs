//! Jenkins completion by signed callback, for real: moto executes the lifecycle ASL, whose
//! Jenkins steps wait in a `.waitForTaskToken` state; the stand-in Jenkins posts each build's
//! end, signed with the key kept in SSM, to the API served on a loopback port, which wakes the
//! wait. Forged, stale and replayed callbacks are refused and change nothing; a lost callback
//! only costs a heartbeat.

use axum::http::{Method, StatusCode};
use devstack::fake_jenkins::{FakeOutcome, JobBehaviour};
use integration_tests::{Callbacks, Lifecycle, TestApi, all_items};
use serde_json::{Value, json};

async fn new_tenant(api: &TestApi, name: &str) -> (String, String) {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let release = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    let r = api.call("operator", Method::POST, "/v1/releases", Some(release)).await;
    assert!(r.status == StatusCode::CREATED || r.status == StatusCode::CONFLICT);
    let body = json!({"customer_id": customer, "name": name, "release": "3.1.0"});
    let t = api.call("operator", Method::POST, "/v1/tenants", Some(body)).await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    (t.body["id"].as_str().unwrap().to_owned(), t.body["active_change_request_id"].as_str().unwrap().to_owned())
}

/// How many times each kind of event happened in the execution's history, and how many times
/// a Jenkins wait was entered.
async fn tally(lc: &Lifecycle, arn: &str) -> (usize, usize, usize) {
    let events = lc.history(arn).await;
    let kind = |e: &aws_sdk_sfn::types::HistoryEvent| e.r#type().as_str().to_owned();
    let awaits =
        events.iter().filter(|e| e.state_entered_event_details().is_some_and(|d| d.name() == "JenkinsAwait")).count();
    let timed_out = events.iter().filter(|e| kind(e) == "TaskTimedOut").count();
    let entered = events.iter().filter(|e| kind(e).ends_with("StateEntered")).count();
    (awaits, timed_out, entered)
}

/// POSTs a callback to the API with these headers (`None`: left out).
async fn post_callback(api: &TestApi, body: &[u8], headers: [(&str, Option<String>); 3]) -> (StatusCode, Value) {
    let mut request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/callbacks/jenkins")
        .header("content-type", "application/json");
    for (name, value) in headers {
        if let Some(v) = value {
            request = request.header(name, v);
        }
    }
    let request = request.body(axum::body::Body::from(body.to_vec())).unwrap();
    let response = tower::ServiceExt::oneshot(api.router.clone(), request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn signed(key: &[u8], body: &[u8], at: i64, nonce: &str) -> [(&'static str, Option<String>); 3] {
    let ts = at.to_string();
    let sig = domain::callback::sign(key, &ts, nonce, body);
    [("x-portal-timestamp", Some(ts)), ("x-portal-nonce", Some(nonce.to_owned())), ("x-portal-signature", Some(sig))]
}

#[tokio::test]
async fn a_callback_ends_each_jenkins_wait_at_once_instead_of_at_the_heartbeat() {
    // A heartbeat longer than the test may take: only the callbacks can end the waits.
    let (api, lc) = TestApi::with_lifecycle_paced("api-smoke", Callbacks::Signed { heartbeat_seconds: 600 }).await;
    lc.jenkins.set_default_job(JobBehaviour::new(FakeOutcome::Success).running_for(1500));
    let (id, cr) = new_tenant(&api, "acme-callback").await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let t = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await.body;
    assert_eq!(t["state"], "Healthy");

    // Two Jenkins steps (the provision, the suite): one wait each, none timed out.
    let arn = done["execution_arn"].as_str().unwrap();
    let (awaits, timed_out, entered) = tally(&lc, arn).await;
    assert_eq!((awaits, timed_out), (2, 0), "each wait was woken by its build's callback");
    let callbacks = lc.jenkins.callbacks();
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
    assert!(callbacks.iter().all(|c| c.outcome == "HTTP 200"), "{callbacks:?}");
    // As many transitions as a job that had ended before its wait began: a constant per job,
    // whatever it runs for.
    assert_eq!(entered, lc.state_transitions(arn).await);
    eprintln!("provision with callbacks: {entered} state transitions, {awaits} waits");
}

#[tokio::test]
async fn a_forged_stale_or_replayed_callback_is_refused_and_changes_nothing() {
    let (api, lc) = TestApi::with_lifecycle_paced("api-smoke", Callbacks::Signed { heartbeat_seconds: 600 }).await;
    let key = lc.callback_key.clone().expect("the test's callback key");
    lc.jenkins.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Hang));
    let (_, cr) = new_tenant(&api, "acme-forged").await;
    // Wait until the provision's build runs and its step id is recorded.
    let mut step_id = None;
    for _ in 0..300 {
        let r = api.call("viewer", Method::GET, &format!("/v1/change-requests/{cr}"), None).await.body;
        let running = r["steps"].as_array().into_iter().flatten().find(|s| s["status"] == "running");
        if let Some(id) = running.and_then(|s| s["detail"]["build"].as_object().and(s["detail"]["step_id"].as_str())) {
            step_id = Some(id.to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let step_id = step_id.expect("the provision's build started");
    // Let the wait begin.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let before = all_items(&api.client, &api.table).await.len();
    let cr_before = api.call("viewer", Method::GET, &format!("/v1/change-requests/{cr}"), None).await.body;

    let body =
        serde_json::to_vec(&json!({"step_id": step_id, "job": "provision-tenant", "result": "SUCCESS"})).unwrap();
    let now = chrono::Utc::now().timestamp();
    let unsigned =
        [("x-portal-timestamp", Some(now.to_string())), ("x-portal-nonce", None), ("x-portal-signature", None)];
    let wrong_key = signed(b"not the key at all, but 32 bytes", &body, now, "nonce-forged-0000001");
    let stale = signed(&key, &body, now - 301, "nonce-stale-00000001");
    let mut tampered = signed(&key, &body, now, "nonce-tamper-0000001");
    tampered[1].1 = Some("nonce-tamper-0000002".into());
    for (what, headers) in [("unsigned", unsigned), ("wrong key", wrong_key), ("stale", stale), ("tampered", tampered)]
    {
        let (status, problem) = post_callback(&api, &body, headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {problem}");
        assert_eq!(problem["status"], 401, "{what}: a problem document");
    }
    assert_eq!(all_items(&api.client, &api.table).await.len(), before, "nothing was written");
    let cr_after = api.call("viewer", Method::GET, &format!("/v1/change-requests/{cr}"), None).await.body;
    assert_eq!(cr_after, cr_before, "the change request did not move");
    let (awaits, _, _) = tally(&lc, cr_before["execution_arn"].as_str().unwrap()).await;
    assert_eq!(awaits, 1, "the wait was not woken");

    // The honest one is let in and wakes the wait; the build still runs, so the workflow reads
    // it and waits again. The same callback once more is a replay.
    let honest = signed(&key, &body, now, "nonce-honest-0000001");
    let (status, outcome) = post_callback(&api, &body, honest.clone()).await;
    assert_eq!((status, outcome), (StatusCode::OK, json!({"step_id": step_id, "woke": true})));
    let (status, problem) = post_callback(&api, &body, honest).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("used before"), "{problem}");
    let arn = cr_before["execution_arn"].as_str().unwrap();
    let mut awaits = 0;
    for _ in 0..100 {
        awaits = tally(&lc, arn).await.0;
        if awaits == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(awaits, 2, "woken once: read the build (still running) and waited again");
    let r = api.call("viewer", Method::GET, &format!("/v1/change-requests/{cr}"), None).await.body;
    assert_eq!(r["status"], "running", "a callback cannot end a build that has not ended");
}

#[tokio::test]
async fn without_its_callback_a_job_is_read_at_the_heartbeat() {
    let (api, lc) = TestApi::with_lifecycle_paced("api-smoke", Callbacks::Signed { heartbeat_seconds: 2 }).await;
    // The stand-in posts its callbacks unsigned: every one is refused, as a lost one would be.
    lc.jenkins.set_callback_key(None);
    lc.jenkins.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Success).running_for(5000));
    let (id, cr) = new_tenant(&api, "acme-heartbeat").await;
    let done = api.settled(&cr).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let t = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await.body;
    assert_eq!(t["state"], "Healthy");
    let (awaits, timed_out, entered) = tally(&lc, done["execution_arn"].as_str().unwrap()).await;
    assert!(timed_out >= 1, "the 5 s build outlived a 2 s heartbeat at least once ({timed_out})");
    // Each timed-out wait was followed by a poll and a new wait, until a poll (or a wait that
    // found the build ended) read the end: the suite's one wait, and the provision's last
    // if it did not time out.
    assert!((timed_out + 1..=timed_out + 2).contains(&awaits), "{awaits} waits, {timed_out} timed out");
    assert!(lc.jenkins.callbacks().iter().all(|c| c.outcome == "HTTP 401"), "{:?}", lc.jenkins.callbacks());
    eprintln!(
        "provision polled at a 2 s heartbeat: {entered} state transitions, {awaits} waits, {timed_out} timed out"
    );
}

/// The Step Functions transitions of one Jenkins step whose job runs `run_ms`, under `callbacks`:
/// the whole provision's, less those of the same provision with jobs that end at once.
async fn transitions_of_a_job(callbacks: Callbacks, run_ms: u64) -> usize {
    let (api, lc) = TestApi::with_lifecycle_paced("api-smoke", callbacks).await;
    let (_, quick) = new_tenant(&api, "acme-quick").await;
    let quick = api.settled(&quick).await;
    assert_eq!(quick["status"], "succeeded", "{quick}");
    let base = lc.state_transitions(quick["execution_arn"].as_str().unwrap()).await;
    lc.jenkins.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Success).running_for(run_ms));
    let (_, slow) = new_tenant(&api, "acme-slow").await;
    let slow = api.settled(&slow).await;
    assert_eq!(slow["status"], "succeeded", "{slow}");
    lc.state_transitions(slow["execution_arn"].as_str().unwrap()).await - base
}

/// `BENCH_CALLBACKS=1 cargo test --workspace --test callbacks_on_moto -- --ignored --nocapture`:
/// what a 20 s job adds to a change request's transitions, polled every second, and woken by its
/// callback (bench/CALLBACKS.md scales it to a 30-minute job at the deployed pace).
#[tokio::test]
#[ignore = "a measurement: run it with --ignored"]
async fn measure_the_transitions_a_long_job_adds_polled_and_by_callback() {
    let polled = transitions_of_a_job(Callbacks::Polled, 20_000).await;
    let called_back = transitions_of_a_job(Callbacks::Signed { heartbeat_seconds: 600 }, 20_000).await;
    let heartbeat = transitions_of_a_job(Callbacks::Signed { heartbeat_seconds: 5 }, 20_000).await;
    eprintln!(
        "a 20 s job adds: polled every 1 s {polled}, by callback {called_back}, by callback with a 5 s heartbeat {heartbeat}"
    );
    assert_eq!(called_back, 0, "with its callback a job costs what a job that ends at once does");
    assert!(polled >= 3 * 15, "each poll is 3 transitions ({polled})");
    assert!((9..=12).contains(&heartbeat), "3 per heartbeat that came before the callback ({heartbeat})");
}
