//! The stand-in Jenkins's remote API as a client sees it on the wire (raw HTTP, no engine
//! client): the version header, who-am-i, the root and queue listings, parameters in queue items
//! and builds, the console log, stopping a build, and the default job behaviour.

use std::time::{Duration, Instant};

use devstack::fake_jenkins::{CRUMB_FIELD, FakeBuildState, FakeJenkins, FakeOutcome, JENKINS_VERSION, JobBehaviour};
use reqwest::StatusCode;
use serde_json::{Value, json};

const USER: &str = "portal";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";

struct Jenkins {
    fake: FakeJenkins,
    base: String,
    http: reqwest::Client,
}

async fn jenkins() -> Jenkins {
    let fake = FakeJenkins::new(USER, TOKEN);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
    let base = fake.serve(listener).await.expect("serving the fake");
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Jenkins { fake, base, http }
}

impl Jenkins {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).basic_auth(USER, Some(TOKEN)).send().await.unwrap()
    }

    async fn json(&self, path: &str) -> Value {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.json().await.unwrap()
    }

    async fn text(&self, path: &str) -> String {
        let resp = self.get(path).await;
        assert_eq!(resp.status(), 200, "GET {path}");
        resp.text().await.unwrap()
    }

    async fn post(&self, path: &str) -> reqwest::Response {
        let crumb: Value = self.json("/crumbIssuer/api/json").await;
        self.http
            .post(format!("{}{path}", self.base))
            .basic_auth(USER, Some(TOKEN))
            .header(CRUMB_FIELD, crumb["crumb"].as_str().unwrap())
            .send()
            .await
            .unwrap()
    }

    async fn admin(&self, method: reqwest::Method, path: &str, body: &str) -> reqwest::Response {
        self.http.request(method, format!("{}{path}", self.base)).body(body.to_owned()).send().await.unwrap()
    }

    /// Triggers `job` with the query string `query`; answers the queue item's id.
    async fn trigger(&self, job: &str, query: &str) -> u64 {
        let resp = self.post(&format!("/job/{job}/buildWithParameters?{query}")).await;
        assert_eq!(resp.status(), 201);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        location.trim_end_matches('/').rsplit('/').next().unwrap().parse().unwrap()
    }

    async fn until(&self, what: &str, check: impl Fn(&[devstack::fake_jenkins::FakeBuild]) -> bool) {
        let start = Instant::now();
        while !check(&self.fake.builds()) {
            assert!(start.elapsed() < Duration::from_secs(10), "{what}: {:?}", self.fake.builds());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn parameters(actions: &Value) -> Vec<(String, String)> {
    actions
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["_class"] == "hudson.model.ParametersAction")
        .flat_map(|a| a["parameters"].as_array().cloned().unwrap_or_default())
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p["value"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test]
async fn every_answer_carries_the_jenkins_version_header() {
    let j = jenkins().await;
    let anonymous = j.http.get(format!("{}/api/json", j.base)).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    for resp in [
        anonymous,
        j.get("/").await,
        j.get("/api/json").await,
        j.get("/job/nope/7/consoleText").await,
        j.admin(reqwest::Method::GET, "/__admin/jobs", "").await,
    ] {
        assert_eq!(resp.headers().get("x-jenkins").map(|v| v.to_str().unwrap()), Some(JENKINS_VERSION), "{resp:?}");
    }
    assert!(j.text("/").await.contains("Dashboard"));
}

#[tokio::test]
async fn who_am_i_and_me_name_the_authenticated_user() {
    let j = jenkins().await;
    let me = j.json("/me/api/json").await;
    assert_eq!((me["id"].as_str(), me["fullName"].as_str()), (Some(USER), Some(USER)));
    assert_eq!(me["_class"], "hudson.model.User");
    let who = j.json("/whoAmI/api/json").await;
    assert_eq!(who["name"], USER);
    assert_eq!((who["authenticated"].as_bool(), who["anonymous"].as_bool()), (Some(true), Some(false)));
    let wrong = j.http.get(format!("{}/me/api/json", j.base)).basic_auth(USER, Some("nope")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn the_root_lists_configured_and_built_jobs_with_their_colour() {
    let j = jenkins().await;
    j.fake.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Failure));
    j.fake.set_job("never-built", JobBehaviour::default());
    j.trigger("provision-tenant", "TENANT_ID=ten_1").await;
    j.trigger("health-api-smoke", "").await;

    let root = j.json("/api/json").await;
    assert_eq!(root["_class"], "hudson.model.Hudson");
    assert_eq!(root["url"], format!("{}/", j.base));
    assert_eq!(root["useCrumbs"], true);
    let jobs: Vec<(&str, &str)> = root["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| (job["name"].as_str().unwrap(), job["color"].as_str().unwrap()))
        .collect();
    assert_eq!(jobs, [("health-api-smoke", "blue"), ("never-built", "notbuilt"), ("provision-tenant", "red")]);
    assert_eq!(root["jobs"][2]["url"], format!("{}/job/provision-tenant/", j.base));
}

#[tokio::test]
async fn the_queue_lists_waiting_items_with_their_parameters_and_builds_keep_them() {
    let j = jenkins().await;
    j.fake.set_job("backup-tenant", JobBehaviour::new(FakeOutcome::Success).queued_for(400));
    let first = j.trigger("backup-tenant", "PORTAL_STEP_ID=chg_1%2Fbackup&TENANT_ID=ten_1").await;
    let second = j.trigger("backup-tenant", "PORTAL_STEP_ID=chg_2%2Fbackup").await;

    let queue = j.json("/queue/api/json").await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|i| i["id"].as_u64().unwrap()).collect::<Vec<_>>(), [first, second]);
    assert_eq!(items[0]["task"]["url"], format!("{}/job/backup-tenant/", j.base));
    assert_eq!(
        parameters(&items[0]["actions"]),
        [("PORTAL_STEP_ID".to_owned(), "chg_1/backup".to_owned()), ("TENANT_ID".to_owned(), "ten_1".to_owned())]
    );
    let item = j.json(&format!("/queue/item/{second}/api/json")).await;
    assert_eq!(parameters(&item["actions"]), [("PORTAL_STEP_ID".to_owned(), "chg_2/backup".to_owned())]);

    j.until("both build", |b| b.iter().all(|b| b.state == FakeBuildState::Done)).await;
    assert_eq!(j.json("/queue/api/json").await["items"], json!([]), "started items leave the queue");
    let job = j.json("/job/backup-tenant/api/json").await;
    let builds = job["builds"].as_array().unwrap();
    assert_eq!(builds.iter().map(|b| b["queueId"].as_u64().unwrap()).collect::<Vec<_>>(), [second, first]);
    assert_eq!(parameters(&builds[1]["actions"])[0], ("PORTAL_STEP_ID".to_owned(), "chg_1/backup".to_owned()));
    let build = j.json("/job/backup-tenant/1/api/json").await;
    assert_eq!(parameters(&build["actions"]).len(), 2);
    assert_eq!((job["nextBuildNumber"].as_u64(), job["lastBuild"]["number"].as_u64()), (Some(3), Some(2)));
}

#[tokio::test]
async fn the_console_log_shows_the_parameters_and_the_result() {
    let j = jenkins().await;
    j.fake.set_job("upgrade-tenant", JobBehaviour::new(FakeOutcome::Failure));
    j.trigger("upgrade-tenant", "TENANT_ID=ten_1&RELEASE=2.4.0").await;
    let log = j.text("/job/upgrade-tenant/1/consoleText").await;
    assert!(log.starts_with(&format!("Started by remote API call by user {USER}\n")), "{log}");
    assert!(log.contains("  RELEASE=2.4.0\n  TENANT_ID=ten_1\n"), "{log}");
    assert!(log.ends_with("Finished: FAILURE\n"), "{log}");
    assert_eq!(j.get("/job/upgrade-tenant/2/consoleText").await.status(), 404);

    j.fake.set_job("restore-tenant", JobBehaviour::new(FakeOutcome::Hang));
    j.trigger("restore-tenant", "").await;
    let running = j.text("/job/restore-tenant/1/consoleText").await;
    assert!(running.contains("never finishes") && !running.contains("Finished:"), "{running}");
}

#[tokio::test]
async fn stop_ends_a_running_build_aborted_and_redirects_to_its_page() {
    let j = jenkins().await;
    j.fake.set_job("upgrade-tenant", JobBehaviour::new(FakeOutcome::Success).running_for(60_000));
    j.trigger("upgrade-tenant", "").await;
    j.until("the build starts", |b| b[0].state == FakeBuildState::Running).await;
    assert_eq!(j.json("/job/upgrade-tenant/1/api/json").await["building"], true);

    let stop = j.post("/job/upgrade-tenant/1/stop").await;
    assert_eq!(stop.status(), StatusCode::FOUND);
    let page = stop.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(page, format!("{}/job/upgrade-tenant/1/", j.base));
    assert_eq!(j.get("/job/upgrade-tenant/1/").await.status(), 200, "the page the redirect names exists");
    let build = j.json("/job/upgrade-tenant/1/api/json").await;
    assert_eq!((build["building"].as_bool(), build["result"].as_str()), (Some(false), Some("ABORTED")));
    assert!(j.text("/job/upgrade-tenant/1/consoleText").await.ends_with("Aborted by portal\nFinished: ABORTED\n"));

    // Stopping it again, or a finished build, changes nothing; an unknown build is 404.
    assert_eq!(j.post("/job/upgrade-tenant/1/stop").await.status(), StatusCode::FOUND);
    assert_eq!(j.json("/job/upgrade-tenant/1/api/json").await["result"], "ABORTED");
    assert_eq!(j.post("/job/upgrade-tenant/9/stop").await.status(), 404);
    let without_crumb = j
        .http
        .post(format!("{}/job/upgrade-tenant/1/stop", j.base))
        .basic_auth(USER, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(without_crumb.status(), 403);
}

#[tokio::test]
async fn a_hanging_build_stops_aborted() {
    let j = jenkins().await;
    j.fake.set_job("rotate-db-password", JobBehaviour::new(FakeOutcome::Hang));
    j.trigger("rotate-db-password", "").await;
    assert!(j.fake.stop("rotate-db-password", 1), "it was running");
    assert!(!j.fake.stop("rotate-db-password", 1), "not any more");
    assert_eq!(j.fake.builds()[0].result.as_deref(), Some("ABORTED"));
    assert_eq!(j.fake.builds()[0].state, FakeBuildState::Done);
}

#[tokio::test]
async fn jobs_without_a_behaviour_of_their_own_have_the_default_one() {
    use reqwest::Method;
    let j = jenkins().await;
    assert_eq!(j.admin(Method::PUT, "/__admin/jobs", r#"{"outcome": "FAILURE"}"#).await.status(), 204);
    assert_eq!(j.admin(Method::GET, "/__admin/jobs", "").await.json::<Value>().await.unwrap()["outcome"], "FAILURE");
    j.fake.set_job("backup-tenant", JobBehaviour::new(FakeOutcome::Success));
    j.trigger("anything", "").await;
    j.trigger("backup-tenant", "").await;
    let results: Vec<Option<String>> = j.fake.builds().into_iter().map(|b| b.result).collect();
    assert_eq!(results, [Some("FAILURE".to_owned()), Some("SUCCESS".to_owned())]);

    // A PATCH changes only what it names, of the default or of a job.
    let patched = j.admin(Method::PATCH, "/__admin/jobs", r#"{"run_ms": 250}"#).await;
    assert_eq!(patched.status(), 200);
    assert_eq!(
        patched.json::<Value>().await.unwrap(),
        json!({"outcome": "FAILURE", "queue_delay_ms": 0, "run_ms": 250})
    );
    let job = j.admin(Method::PATCH, "/__admin/jobs/restore-tenant", r#"{"outcome": "hang"}"#).await;
    assert_eq!(job.json::<Value>().await.unwrap(), json!({"outcome": "HANG", "queue_delay_ms": 0, "run_ms": 250}));
    assert_eq!(j.fake.behaviour_of("restore-tenant"), JobBehaviour::new(FakeOutcome::Hang).running_for(250));
    assert_eq!(j.admin(Method::PATCH, "/__admin/jobs", r#"{"outcome": "MAYBE"}"#).await.status(), 400);

    // DELETE returns a job to the default.
    assert_eq!(j.admin(Method::DELETE, "/__admin/jobs/backup-tenant", "").await.status(), 204);
    assert_eq!(j.admin(Method::GET, "/__admin/jobs/backup-tenant", "").await.status(), 404);
    assert_eq!(j.fake.behaviour_of("backup-tenant"), JobBehaviour::new(FakeOutcome::Failure).running_for(250));
}
