//! The engine's `HttpJenkins` against the fake Jenkins, served in-process on a loopback port.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use devstack::fake_jenkins::{FakeBuildState, FakeJenkins, FakeOutcome, JobBehaviour};
use engine::jenkins::{BuildResult, BuildStatus, HttpJenkins, Jenkins, JenkinsError, QueuedBuild, STEP_ID_PARAM};
use serde_json::{Value, json};

const USER: &str = "portal";
const TOKEN: &str = "11aa22bb33cc44dd55ee66ff77889900aa";

async fn fake() -> (FakeJenkins, String) {
    let fake = FakeJenkins::new(USER, TOKEN);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
    let base = fake.serve(listener).await.expect("serving the fake");
    (fake, base)
}

fn client(base: &str) -> HttpJenkins {
    HttpJenkins::new(base, USER, TOKEN).expect("client")
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Polls until the build is done (or `limit` passes); answers every status seen, in order,
/// consecutive repeats folded.
async fn follow(j: &HttpJenkins, build: &QueuedBuild, limit: Duration) -> Vec<BuildStatus> {
    let start = Instant::now();
    let mut seen: Vec<BuildStatus> = Vec::new();
    while start.elapsed() < limit {
        let s = j.status(build).await.expect("status");
        let done = matches!(s, BuildStatus::Done { .. });
        if seen.last() != Some(&s) {
            seen.push(s);
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen
}

#[tokio::test]
async fn a_build_goes_from_queued_to_running_to_success_and_its_params_are_recorded() {
    let (fake, base) = fake().await;
    fake.set_job("tenant-upgrade", JobBehaviour::new(FakeOutcome::Success).queued_for(700).running_for(700));
    let j = client(&base);
    let p = params(&[("TENANT_ID", "ten_01"), ("RELEASE", "2.4.0"), ("NOTE", "a b&c=d é")]);

    let build = j.trigger("tenant-upgrade", &p).await.expect("trigger");
    assert_eq!(build.job, "tenant-upgrade");
    assert_eq!(build.queue_url, format!("{base}/queue/item/1/"));
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::Queued);

    let seen = follow(&j, &build, Duration::from_secs(10)).await;
    let url = format!("{base}/job/tenant-upgrade/1/");
    assert_eq!(
        seen,
        [
            BuildStatus::Queued,
            BuildStatus::Running { url: url.clone() },
            BuildStatus::done(url.clone(), BuildResult::Success)
        ]
    );

    let builds = fake.builds();
    assert_eq!(builds.len(), 1);
    assert_eq!(builds[0].params, p, "the form parameters arrive intact");
    assert_eq!(
        (builds[0].state, builds[0].number, builds[0].result.as_deref()),
        (FakeBuildState::Done, Some(1), Some("SUCCESS"))
    );

    // The same record over the admin API.
    let listed: Value = reqwest::get(format!("{base}/__admin/builds")).await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["job"], "tenant-upgrade");
    assert_eq!(listed[0]["params"]["NOTE"], "a b&c=d é");
    assert_eq!(listed[0]["url"], url);
    assert_eq!(fake.crumb_fetches(), 1);
}

#[tokio::test]
async fn a_failed_build_is_done_with_failure() {
    let (fake, base) = fake().await;
    fake.set_job("backup", JobBehaviour::new(FakeOutcome::Failure).running_for(200));
    let j = client(&base);
    let build = j.trigger("backup", &params(&[("TENANT_ID", "ten_02")])).await.unwrap();
    let seen = follow(&j, &build, Duration::from_secs(10)).await;
    assert_eq!(
        seen.last(),
        Some(&BuildStatus::done(format!("{base}/job/backup/1/"), BuildResult::Failure)),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_hanging_build_stays_running() {
    let (fake, base) = fake().await;
    fake.set_job("restore", JobBehaviour::new(FakeOutcome::Hang));
    let j = client(&base);
    let build = j.trigger("restore", &BTreeMap::new()).await.unwrap();
    let seen = follow(&j, &build, Duration::from_millis(1500)).await;
    assert_eq!(seen, [BuildStatus::Running { url: format!("{base}/job/restore/1/") }]);
    assert_eq!(fake.builds()[0].state, FakeBuildState::Running);
}

#[tokio::test]
async fn a_wrong_token_is_refused_and_triggers_nothing() {
    let (fake, base) = fake().await;
    let wrong = HttpJenkins::new(&base, USER, "not-the-token").unwrap();
    let err = wrong.trigger("deploy", &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(err, JenkinsError::Refused(_)), "{err:?}");
    assert!(!err.to_string().contains("not-the-token"));
    assert!(fake.builds().is_empty());

    let build = client(&base).trigger("deploy", &BTreeMap::new()).await.unwrap();
    assert!(matches!(wrong.status(&build).await, Err(JenkinsError::Refused(_))));
    let wrong_user = HttpJenkins::new(&base, "someone", TOKEN).unwrap();
    assert!(matches!(wrong_user.status(&build).await, Err(JenkinsError::Refused(_))));
}

#[tokio::test]
async fn a_rotated_crumb_is_fetched_again_once() {
    let (fake, base) = fake().await;
    let j = client(&base);
    j.trigger("deploy", &BTreeMap::new()).await.unwrap();
    j.trigger("deploy", &BTreeMap::new()).await.unwrap();
    assert_eq!(fake.crumb_fetches(), 1, "the crumb is fetched once and reused");

    fake.rotate_crumb();
    let build = j.trigger("deploy", &BTreeMap::new()).await.expect("a 403 refreshes the crumb and retries");
    assert_eq!(fake.crumb_fetches(), 2);
    assert_eq!(build.queue_url, format!("{base}/queue/item/3/"));
    assert_eq!(fake.builds().len(), 3, "the refused POST queued nothing");
}

#[tokio::test]
async fn an_unknown_job_is_no_such_job_in_strict_mode_and_succeeds_otherwise() {
    let (fake, base) = fake().await;
    let j = client(&base);
    let build = j.trigger("never-configured", &BTreeMap::new()).await.unwrap();
    assert!(matches!(j.status(&build).await.unwrap(), BuildStatus::Done { result: BuildResult::Success, .. }));

    fake.set_strict(true);
    let err = j.trigger("never-configured", &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(&err, JenkinsError::NoSuchJob(job) if job == "never-configured"), "{err:?}");
    fake.set_job("configured", JobBehaviour::default());
    j.trigger("configured", &BTreeMap::new()).await.expect("a configured job exists in strict mode");
}

#[tokio::test]
async fn a_finished_build_posts_its_callback_signed_with_the_key() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(axum::http::HeaderMap, axum::body::Bytes)>();
    let receiver = axum::Router::new().route(
        "/callback",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let (fake, base) = fake().await;
    let key = b"the-callback-key-of-this-test-32b".to_vec();
    fake.set_callback_key(Some(key.clone()));
    fake.set_job("provision", JobBehaviour::new(FakeOutcome::Unstable).running_for(100));
    let j = client(&base);
    let p = params(&[("CALLBACK_URL", &callback_url), ("TENANT_ID", "ten_03"), ("PORTAL_STEP_ID", "chg_x-2")]);
    j.trigger("provision", &p).await.unwrap();

    let (headers, body) =
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a callback").expect("a body");
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        sent,
        json!({
            "step_id": "chg_x-2",
            "build_url": format!("{base}/job/provision/1/"),
            "result": "UNSTABLE",
            "job": "provision",
        })
    );
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let signed = domain::callback::SignedHeaders {
        timestamp: header(domain::callback::TIMESTAMP_HEADER),
        nonce: header(domain::callback::NONCE_HEADER),
        signature: header(domain::callback::SIGNATURE_HEADER),
    };
    domain::callback::verify(&key, &signed, &body, chrono::Utc::now()).expect("signed with the key");
    assert!(domain::callback::verify(b"another key", &signed, &body, chrono::Utc::now()).is_err());
    // The fake records what came of it (once the post returned).
    let start = Instant::now();
    while fake.callbacks().is_empty() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.callbacks()[0].outcome, "HTTP 204");
}

#[tokio::test]
async fn a_cancelled_queue_item_is_aborted() {
    let (fake, base) = fake().await;
    fake.set_job("deploy", JobBehaviour::new(FakeOutcome::Success).queued_for(60_000));
    let j = client(&base);
    let build = j.trigger("deploy", &BTreeMap::new()).await.unwrap();
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::Queued);
    assert!(fake.cancel_queued(1));
    assert_eq!(
        j.status(&build).await.unwrap(),
        BuildStatus::Done { url: build.queue_url.clone(), result: BuildResult::Aborted, console_url: None }
    );
}

#[tokio::test]
async fn a_forgotten_queue_item_is_found_through_the_jobs_builds() {
    let (fake, base) = fake().await;
    fake.set_forget_started_queue_items(true);
    fake.set_job("deploy", JobBehaviour::new(FakeOutcome::Failure));
    let j = client(&base);
    j.trigger("deploy", &BTreeMap::new()).await.unwrap();
    let build = j.trigger("deploy", &BTreeMap::new()).await.unwrap();

    // Jenkins no longer knows the queue item...
    let raw = reqwest::Client::new()
        .get(format!("{}api/json", build.queue_url))
        .basic_auth(USER, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 404);
    // ...but the build that came out of it (the second of the job) is found by its queueId.
    assert_eq!(
        j.status(&build).await.unwrap(),
        BuildStatus::done(format!("{base}/job/deploy/2/"), BuildResult::Failure)
    );
}

#[tokio::test]
async fn the_admin_api_sets_behaviour_and_lists_builds() {
    let (_fake, base) = fake().await;
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{base}/__admin/jobs/rotate-password"))
        .header("content-type", "application/json")
        .body(r#"{"outcome": "hang"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    let bad = http.put(format!("{base}/__admin/jobs/x")).body(r#"{"outcome": "MAYBE"}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let strict = http.put(format!("{base}/__admin/settings")).body(r#"{"strict": true}"#).send().await.unwrap();
    assert_eq!(strict.status(), 204);

    let j = client(&base);
    let build = j.trigger("rotate-password", &params(&[("USER", "airflow")])).await.unwrap();
    assert!(matches!(j.status(&build).await.unwrap(), BuildStatus::Running { .. }));
    assert!(
        matches!(j.trigger("x", &BTreeMap::new()).await, Err(JenkinsError::NoSuchJob(_))),
        "a refused PUT set nothing"
    );

    let listed: Value = http.get(format!("{base}/__admin/builds")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["state"], "running");
    assert_eq!(listed[0]["params"], json!({"USER": "airflow"}));
}

#[tokio::test]
async fn the_secret_json_configures_a_working_client() {
    let (fake, base) = fake().await;
    let j = HttpJenkins::from_secret(&base, &json!({"user": USER, "token": TOKEN}).to_string()).unwrap();
    j.trigger("deploy", &BTreeMap::new()).await.unwrap();
    assert_eq!(fake.builds().len(), 1);
}

#[tokio::test]
async fn a_jenkins_that_does_not_answer_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let j = client(&format!("http://127.0.0.1:{port}"));
    let err = j.trigger("deploy", &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(err, JenkinsError::Unavailable(_)), "{err:?}");

    // Accepts the connection, never answers: the client's timeout ends the call.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let j = HttpJenkins::with_timeout(&format!("http://{addr}"), USER, TOKEN, Duration::from_millis(300)).unwrap();
    let start = Instant::now();
    let err = j.trigger("deploy", &BTreeMap::new()).await.unwrap_err();
    assert!(matches!(&err, JenkinsError::Unavailable(m) if m.contains("timed out")), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

/// The parameters of a step's build: its step id and a tenant.
fn step(step_id: &str) -> BTreeMap<String, String> {
    params(&[(STEP_ID_PARAM, step_id), ("TENANT_ID", "ten_07")])
}

/// Waits until `check` holds for the fake's builds (or fails after 10 s).
async fn until(fake: &FakeJenkins, what: &str, check: impl Fn(&[devstack::fake_jenkins::FakeBuild]) -> bool) {
    let start = Instant::now();
    while !check(&fake.builds()) {
        assert!(start.elapsed() < Duration::from_secs(10), "{what}: {:?}", fake.builds());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn find_sees_a_still_queued_build_by_its_step_id() {
    let (fake, base) = fake().await;
    fake.set_job("upgrade-tenant", JobBehaviour::new(FakeOutcome::Success).queued_for(60_000));
    let j = client(&base);
    j.trigger("upgrade-tenant", &step("chg_1/jenkins upgrade-tenant")).await.unwrap();
    let mine = j.trigger("upgrade-tenant", &step("chg_2/jenkins upgrade-tenant")).await.unwrap();
    j.trigger("backup-tenant", &step("chg_2/jenkins upgrade-tenant")).await.unwrap();

    let found = j.find("upgrade-tenant", "chg_2/jenkins upgrade-tenant").await.unwrap();
    assert_eq!(found, Some(mine.clone()), "the queue item, known by its queue URL only");
    assert_eq!(j.status(&mine).await.unwrap(), BuildStatus::Queued);
    assert_eq!(j.find("upgrade-tenant", "chg_3/jenkins upgrade-tenant").await.unwrap(), None);
    assert_eq!(j.find("upgrade-tenant", "chg_2/jenkins").await.unwrap(), None, "the whole step id, not a prefix");
}

#[tokio::test]
async fn find_sees_a_started_build_by_its_step_id_after_jenkins_forgot_its_queue_item() {
    let (fake, base) = fake().await;
    fake.set_forget_started_queue_items(true);
    fake.set_job("restore-tenant", JobBehaviour::new(FakeOutcome::Failure));
    let j = client(&base);
    j.trigger("restore-tenant", &step("chg_1/jenkins restore-tenant")).await.unwrap();
    let mine = j.trigger("restore-tenant", &step("chg_2/jenkins restore-tenant")).await.unwrap();
    j.trigger("restore-tenant", &params(&[("TENANT_ID", "ten_07")])).await.unwrap();

    let found = j.find("restore-tenant", "chg_2/jenkins restore-tenant").await.unwrap().expect("found");
    assert_eq!(found.queue_url, mine.queue_url, "it came from the item the lost answer named");
    assert_eq!(found.build_url.as_deref(), Some(format!("{base}/job/restore-tenant/2/").as_str()));
    let url = format!("{base}/job/restore-tenant/2/");
    assert_eq!(j.status(&found).await.unwrap(), BuildStatus::done(url.clone(), BuildResult::Failure));
    // The same found build survives the round trip through a task's JSON.
    let json = serde_json::to_value(&found).unwrap();
    assert_eq!(serde_json::from_value::<QueuedBuild>(json).unwrap(), found);
}

#[tokio::test]
async fn a_retried_trigger_finds_the_build_its_lost_answer_queued_instead_of_queueing_another() {
    let (fake, base) = fake().await;
    fake.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Success).queued_for(300).running_for(300));
    let j = client(&base);
    let step_id = "chg_9/jenkins provision-tenant";
    // The first attempt queued a build, but its answer never came back: the retry looks first.
    j.trigger("provision-tenant", &step(step_id)).await.unwrap();
    let build = match j.find("provision-tenant", step_id).await.unwrap() {
        Some(b) => b,
        None => j.trigger("provision-tenant", &step(step_id)).await.unwrap(),
    };
    let seen = follow(&j, &build, Duration::from_secs(10)).await;
    assert!(matches!(seen.last(), Some(BuildStatus::Done { result: BuildResult::Success, .. })), "{seen:?}");
    assert_eq!(fake.builds().len(), 1, "one build for the step");
    // Found again once it has started (from the job's builds this time): the same build.
    let again = j.find("provision-tenant", step_id).await.unwrap().expect("found");
    assert_eq!(again.build_url.as_deref(), Some(format!("{base}/job/provision-tenant/1/").as_str()));
}

#[tokio::test]
async fn find_of_an_unknown_job_is_no_such_job_in_strict_mode() {
    let (fake, base) = fake().await;
    fake.set_strict(true);
    let err = client(&base).find("never-configured", "chg_1/x").await.unwrap_err();
    assert!(matches!(&err, JenkinsError::NoSuchJob(job) if job == "never-configured"), "{err:?}");
}

#[tokio::test]
async fn stop_cancels_a_queued_build() {
    let (fake, base) = fake().await;
    fake.set_job("backup-tenant", JobBehaviour::new(FakeOutcome::Success).queued_for(60_000));
    let j = client(&base);
    let build = j.trigger("backup-tenant", &step("chg_1/jenkins backup-tenant")).await.unwrap();
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::Queued);

    j.stop(&build).await.expect("stop");
    assert_eq!(fake.builds()[0].state, FakeBuildState::Cancelled);
    assert_eq!(
        j.status(&build).await.unwrap(),
        BuildStatus::Done { url: build.queue_url.clone(), result: BuildResult::Aborted, console_url: None }
    );
    assert_eq!(j.find("backup-tenant", "chg_1/jenkins backup-tenant").await.unwrap(), None, "nothing left of it");
    j.stop(&build).await.expect("stopping it again is fine");
}

#[tokio::test]
async fn stop_aborts_a_running_build() {
    let (fake, base) = fake().await;
    fake.set_job("upgrade-tenant", JobBehaviour::new(FakeOutcome::Success).running_for(60_000));
    let j = client(&base);
    let build = j.trigger("upgrade-tenant", &BTreeMap::new()).await.unwrap();
    until(&fake, "the build starts", |b| b[0].state == FakeBuildState::Running).await;
    let url = format!("{base}/job/upgrade-tenant/1/");
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::Running { url: url.clone() });

    j.stop(&build).await.expect("stop");
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::done(url, BuildResult::Aborted));
    assert_eq!(fake.builds()[0].result.as_deref(), Some("ABORTED"));
}

#[tokio::test]
async fn a_hanging_build_found_by_its_step_stops_aborted_and_its_console_says_so() {
    let (fake, base) = fake().await;
    fake.set_job("rotate-db-password", JobBehaviour::new(FakeOutcome::Hang));
    let j = client(&base);
    j.trigger("rotate-db-password", &step("chg_4/jenkins rotate-db-password")).await.unwrap();
    let found = j.find("rotate-db-password", "chg_4/jenkins rotate-db-password").await.unwrap().expect("found");
    assert!(found.build_url.is_some(), "it started at once: found among the job's builds");
    assert!(matches!(j.status(&found).await.unwrap(), BuildStatus::Running { .. }));

    j.stop(&found).await.expect("stop");
    let status = j.status(&found).await.unwrap();
    let BuildStatus::Done { result: BuildResult::Aborted, console_url: Some(console), .. } = &status else {
        panic!("a stopped build is done, aborted, with its console: {status:?}");
    };
    assert_eq!(console, &format!("{base}/job/rotate-db-password/1/consoleText"));
    let log = reqwest::Client::new().get(console).basic_auth(USER, Some(TOKEN)).send().await.unwrap();
    assert_eq!(log.status(), 200);
    let log = log.text().await.unwrap();
    assert!(log.contains("PORTAL_STEP_ID=chg_4/jenkins rotate-db-password"), "{log}");
    assert!(log.contains(&format!("Aborted by {USER}")) && log.trim_end().ends_with("Finished: ABORTED"), "{log}");
}

#[tokio::test]
async fn stopping_a_finished_build_is_ok_and_keeps_its_result() {
    let (fake, base) = fake().await;
    fake.set_job("terminate-tenant", JobBehaviour::new(FakeOutcome::Unstable));
    let j = client(&base);
    let build = j.trigger("terminate-tenant", &BTreeMap::new()).await.unwrap();
    let url = format!("{base}/job/terminate-tenant/1/");
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::done(url.clone(), BuildResult::Unstable));
    j.stop(&build).await.expect("stop of a finished build");
    assert_eq!(j.status(&build).await.unwrap(), BuildStatus::done(url, BuildResult::Unstable));
}

#[tokio::test]
async fn stop_finds_a_build_whose_queue_item_jenkins_forgot() {
    let (fake, base) = fake().await;
    fake.set_forget_started_queue_items(true);
    fake.set_job("upgrade-tenant", JobBehaviour::new(FakeOutcome::Hang).queued_for(100));
    let j = client(&base);
    let build = j.trigger("upgrade-tenant", &BTreeMap::new()).await.unwrap();
    until(&fake, "the build starts", |b| b[0].state == FakeBuildState::Running).await;

    j.stop(&build).await.expect("stop through the job's builds");
    assert_eq!(fake.builds()[0].result.as_deref(), Some("ABORTED"));
    assert_eq!(
        j.status(&build).await.unwrap(),
        BuildStatus::done(format!("{base}/job/upgrade-tenant/1/"), BuildResult::Aborted)
    );
}

#[tokio::test]
async fn a_finished_build_archives_its_report_rendered_from_its_parameters_and_others_have_none() {
    let (fake, base) = fake().await;
    fake.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Success));
    fake.set_report("provision-tenant", devstack::fake_jenkins::provision_report());
    fake.set_job("backup-tenant", JobBehaviour::new(FakeOutcome::Success));
    let j = client(&base);
    let build = j.trigger("provision-tenant", &params(&[("TENANT_NAME", "acme-prod")])).await.unwrap();
    let Some(BuildStatus::Done { url, .. }) = follow(&j, &build, Duration::from_secs(5)).await.pop() else {
        panic!("the build did not finish");
    };
    let report = j.report(&url).await.unwrap().expect("a report");
    let parsed = domain::WorkReport::parse(report.clone()).expect("the report reads as the engine reads it");
    assert_eq!(parsed.resources.len(), 3);
    assert!(parsed.resources[0].arn.ec2_instance_id().is_some_and(|i| i.len() == 19), "{report}");
    assert_eq!(report["configs"]["webapp.url"]["value"], "https://acme-prod.tenants.example");
    // A job with no report, and a URL outside the Jenkins, answer none / are refused.
    let other = j.trigger("backup-tenant", &params(&[])).await.unwrap();
    let Some(BuildStatus::Done { url, .. }) = follow(&j, &other, Duration::from_secs(5)).await.pop() else {
        panic!("the build did not finish");
    };
    assert_eq!(j.report(&url).await.unwrap(), None);
    assert!(matches!(j.report("http://elsewhere.example/job/x/1/").await, Err(JenkinsError::Refused(_))));
}
