//! Password rotations for real: moto executes the ASL, the lifecycle handler writes a new
//! SecureString version in moto's SSM (its value generated there and never handed out), sends
//! the playbook over moto's SSM with the version by reference, has the stand-in Jenkins verify
//! it, then promotes it by label; and nothing anywhere holds the value.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use devstack::fake_jenkins::{FakeOutcome, JobBehaviour};
use integration_tests::{Lifecycle, TestApi};
use serde_json::{Value, json};

const PREFIX: &str = "/portal/tenants";

/// Every log line of this test binary (every test in it, every level from info, ours from
/// debug), for the scan: installed before any test installs its own.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let filter = tracing_subscriber::EnvFilter::new("info,lifecycle=debug,changes=debug,engine=debug");
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(move || Sink(sink.clone()))
            .with_ansi(false)
            .try_init();
        buffer
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the test saw answered, to scan.
#[derive(Default)]
struct Seen(Vec<Value>);

impl Seen {
    async fn call(&mut self, api: &TestApi, role: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = api.call(role, method, path, body).await;
        assert!(r.status.is_success(), "{path}: {} {}", r.status, r.body);
        self.0.push(r.body.clone());
        r.body
    }
}

/// A healthy tenant (its provision registered an EC2 instance), its webapp password version 1
/// current in SSM.
async fn healthy_tenant(api: &TestApi, seen: &mut Seen, ssm: &aws_sdk_ssm::Client) -> (String, String) {
    let c = seen.call(api, "operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let body = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    seen.call(api, "operator", Method::POST, "/v1/releases", Some(body)).await;
    let body = json!({"customer_id": c["id"], "name": "acme-prod", "release": "3.1.0"});
    let t = seen.call(api, "operator", Method::POST, "/v1/tenants", Some(body)).await;
    let id = t["id"].as_str().unwrap().to_owned();
    let done = api.settled(t["active_change_request_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let parameter = format!("{PREFIX}/{id}/webapp-password");
    let put = ssm
        .put_parameter()
        .name(&parameter)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value("the-old-webapp-password-0123456789")
        .send()
        .await
        .expect("the old password");
    ssm.label_parameter_version()
        .name(&parameter)
        .parameter_version(put.version())
        .labels("current")
        .send()
        .await
        .expect("labelled current");
    (id, parameter)
}

async fn rotate(api: &TestApi, seen: &mut Seen, id: &str) -> Value {
    let path = format!("/v1/tenants/{id}/change-requests");
    let r = api.call("operator", Method::POST, &path, Some(json!({"operation": "rotate_webapp_password"}))).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    seen.0.push(r.body.clone());
    let done = api.settled(r.body["id"].as_str().unwrap()).await;
    seen.0.push(done.clone());
    done
}

/// The version labelled `label`, and every value the parameter ever had.
async fn versions(ssm: &aws_sdk_ssm::Client, parameter: &str) -> (Vec<(i64, Vec<String>)>, Vec<String>) {
    let history = ssm.get_parameter_history().name(parameter).with_decryption(true).send().await.expect("the history");
    let labels = history.parameters().iter().map(|p| (p.version(), p.labels().to_vec())).collect();
    let values = history.parameters().iter().filter_map(|p| p.value().map(str::to_owned)).collect();
    (labels, values)
}

fn current(labels: &[(i64, Vec<String>)]) -> Option<i64> {
    labels.iter().find(|(_, l)| l.iter().any(|l| l == "current")).map(|(v, _)| *v)
}

/// Looks for every generated value (all but the one the test wrote) in every place the flow
/// leaves something: the registry and change-log tables, the executions' histories, the Jenkins
/// builds, the SSM commands, the answers, the logs.
async fn assert_no_generated_value_anywhere(api: &TestApi, lc: &Lifecycle, seen: &Seen, values: &[String]) {
    let generated: Vec<&String> = values.iter().filter(|v| !v.starts_with("the-old-")).collect();
    assert!(!generated.is_empty(), "the rotation generated a value");
    api.drain_stream().await;
    let mut places: Vec<(&str, String)> = Vec::new();
    let registry = integration_tests::all_items(&api.client, &api.table).await;
    places.push(("registry table", format!("{registry:?}")));
    let history = integration_tests::all_items(&api.client, &api.history_table_name()).await;
    places.push(("change-log table", format!("{history:?}")));
    let executions =
        lc.sfn.list_executions().state_machine_arn(&lc.state_machine_arn).send().await.expect("executions");
    let mut events = String::new();
    for e in executions.executions() {
        let h = lc.sfn.get_execution_history().execution_arn(e.execution_arn()).send().await.expect("history");
        events.push_str(&format!("{:?}", h.events()));
    }
    assert!(
        events.contains("TaskSucceeded") || events.contains("task_succeeded"),
        "the executions' histories were read: {}",
        &events[..events.len().min(3000)]
    );
    places.push(("step function histories", events));
    places.push(("jenkins builds", format!("{:?}", lc.jenkins.builds())));
    let config = devstack::local_aws_config(&integration_tests::moto().endpoint).await;
    let commands = aws_sdk_ssm::Client::new(&config).list_commands().send().await.expect("commands");
    places.push(("ssm commands", format!("{:?}", commands.commands())));
    places.push(("api answers", serde_json::to_string(&seen.0).unwrap()));
    let logged = String::from_utf8_lossy(&logs().lock().unwrap()).into_owned();
    assert!(logged.contains("new secret version"), "the logs were captured");
    places.push(("logs", logged));
    for value in generated {
        for (place, text) in &places {
            assert!(!text.contains(value.as_str()), "a generated secret value is in the {place}");
        }
    }
}

#[tokio::test]
async fn a_rotation_makes_a_new_version_current_and_its_value_is_nowhere_but_in_ssm() {
    logs();
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let ssm = aws_sdk_ssm::Client::new(&devstack::local_aws_config(&integration_tests::moto().endpoint).await);
    let mut seen = Seen::default();
    let (id, parameter) = healthy_tenant(&api, &mut seen, &ssm).await;
    let done = rotate(&api, &mut seen, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (labels, values) = versions(&ssm, &parameter).await;
    assert_eq!(current(&labels), Some(2), "{labels:?}");
    assert_eq!(values.len(), 2);
    assert!(values[1].len() >= 32, "a strong value");
    let verify = lc.jenkins.builds().into_iter().find(|b| b.job == "verify-webapp-password").expect("verified");
    assert_eq!(verify.params.get("SECRET_PARAMETER"), Some(&parameter));
    assert_eq!(verify.params.get("SECRET_VERSION").map(String::as_str), Some("2"));
    let t = seen.call(&api, "viewer", Method::GET, &format!("/v1/tenants/{id}/configs/webapp.password"), None).await;
    assert_eq!(t["secret_ref"], format!("ssm:{parameter}"));
    assert!(t.get("value").is_none());
    api.drain_stream().await;
    let h = seen.call(&api, "viewer", Method::GET, &format!("/v1/tenants/{id}/history"), None).await;
    assert!(h["items"].as_array().unwrap().iter().any(|e| e["change_request_id"] == done["id"]), "{h}");
    assert_eq!(seen.call(&api, "viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await["state"], "Healthy");
    assert_no_generated_value_anywhere(&api, &lc, &seen, &values).await;
}

#[tokio::test]
async fn a_failed_rotation_leaves_the_old_version_current_and_working_and_its_value_nowhere() {
    logs();
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    let ssm = aws_sdk_ssm::Client::new(&devstack::local_aws_config(&integration_tests::moto().endpoint).await);
    let mut seen = Seen::default();
    let (id, parameter) = healthy_tenant(&api, &mut seen, &ssm).await;
    // The component does not work with the new version; it does with the old one.
    lc.jenkins.set_job_when("verify-webapp-password", "SECRET_VERSION", "2", JobBehaviour::new(FakeOutcome::Failure));
    let done = rotate(&api, &mut seen, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().unwrap().contains("rolled back"), "{}", done["error"]);
    let (labels, values) = versions(&ssm, &parameter).await;
    assert_eq!(current(&labels), Some(1), "the old version stays current: {labels:?}");
    let verified: Vec<(String, String)> = lc
        .jenkins
        .builds()
        .into_iter()
        .filter(|b| b.job == "verify-webapp-password")
        .map(|b| (b.params["SECRET_VERSION"].clone(), format!("{:?}", b.result)))
        .collect();
    assert_eq!(verified.len(), 2, "the new version failed, the old one was verified again: {verified:?}");
    assert_eq!((verified[0].0.as_str(), verified[1].0.as_str()), ("2", "1"));
    assert!(verified[1].1.contains("SUCCESS"), "{verified:?}");
    let t = seen.call(&api, "viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await;
    assert_eq!(t["state"], "Healthy", "as it started");
    assert_no_generated_value_anywhere(&api, &lc, &seen, &values).await;
}
