//! The engine's `HttpJenkins` against the fake Jenkins, served in-process on a loopback port.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use devstack::fake_jenkins::{FakeBuildState, FakeJenkins, FakeOutcome, JobBehaviour};
use engine::jenkins::{BuildResult, BuildStatus, HttpJenkins, Jenkins, JenkinsError, QueuedBuild};
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
async fn a_finished_build_posts_its_callback() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let receiver = axum::Router::new().route(
        "/callback/{token}",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(body);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callback/task-token-1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let (fake, base) = fake().await;
    fake.set_job("provision", JobBehaviour::new(FakeOutcome::Unstable).running_for(100));
    let j = client(&base);
    let p = params(&[("CALLBACK_URL", &callback_url), ("TENANT_ID", "ten_03")]);
    j.trigger("provision", &p).await.unwrap();

    let body = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a callback").expect("a body");
    assert_eq!(
        body,
        json!({
            "build_url": format!("{base}/job/provision/1/"),
            "result": "UNSTABLE",
            "job": "provision",
            "params": {"CALLBACK_URL": callback_url, "TENANT_ID": "ten_03"},
        })
    );
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
