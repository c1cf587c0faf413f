//! Integration-test harness: a real moto server (started once per test binary, or the one
//! `MOTO_ENDPOINT` names), a fresh registry table per test created from `infra/template.yaml`,
//! and the API router over the real DynamoDB adapter.

pub mod counting;
pub mod faults;
pub mod served;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use devstack::local_auth::LocalTokens;
use http_body_util::BodyExt;
use portal_api::App;
use serde_json::Value;
use store::dynamo::DynamoTable;
use tower::ServiceExt;

/// The emulator all tests of this binary share, and the local Lambda Invoke API it sends
/// function invocations to (running the real task handlers in this process).
pub struct Moto {
    pub endpoint: String,
    pub invoker: devstack::local_lambda::Invoker,
    /// Held for the life of the process: moto exits when this pipe closes.
    _child: Child,
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// Sets what every SDK client in tests needs to never look for AWS.
fn isolate_from_aws() {
    // SAFETY: called once, from `moto()`'s initializer, before any client is built.
    unsafe {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
}

/// The shared moto server, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        isolate_from_aws();
        let invoker = devstack::local_lambda::Invoker::new();
        let invoke_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the invoke API");
        let invoke_port = invoke_listener.local_addr().expect("address").port();
        invoke_listener.set_nonblocking(true).expect("non-blocking");
        let serving = invoker.clone();
        std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(invoke_listener).expect("listener");
                let _ = devstack::local_lambda::serve(serving, listener).await;
            });
        });
        let python = std::env::var("PORTAL_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|_| repo_root().join(".tools/venv/bin/python"));
        assert!(
            python.exists(),
            "{} not found: run `make test` (or tests/stack/bootstrap.sh) to install the local tools",
            python.display()
        );
        let port = free_port();
        let mut child = Command::new(&python)
            .arg(repo_root().join("tests/stack/moto_launcher.py"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--exit-on-stdin-eof"])
            .env("LAMBDA_INVOKE_ENDPOINT", format!("http://127.0.0.1:{invoke_port}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto");
        let stdout = child.stdout.take().expect("moto stdout");
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("moto ready") => break,
                Some(Ok(_)) => continue,
                _ => panic!("moto exited before it was ready"),
            }
        }
        // Keep draining stdout so moto never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let endpoint = format!("http://127.0.0.1:{port}");
        invoker.set_endpoint(&endpoint);
        Moto { endpoint, invoker, _child: child }
    })
}

/// A DynamoDB client for the shared moto.
pub async fn dynamodb() -> aws_sdk_dynamodb::Client {
    let config = devstack::local_aws_config(&moto().endpoint).await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// A new, empty table named after `logical_id` in the template, as the template declares it.
pub async fn fresh_table_of(logical_id: &str) -> (aws_sdk_dynamodb::Client, String) {
    let client = dynamodb().await;
    let name = format!("{}-{}", logical_id.to_lowercase(), ulid::Ulid::new().to_string().to_lowercase());
    devstack::table_def::create_table(&client, devstack::table_def::TEMPLATE, logical_id, &name)
        .await
        .unwrap_or_else(|e| panic!("creating {logical_id}: {e:#}"));
    (client, name)
}

/// A new, empty registry table.
pub async fn fresh_table() -> (aws_sdk_dynamodb::Client, String) {
    fresh_table_of(devstack::table_def::REGISTRY_TABLE).await
}

/// The `Properties` of resource `logical_id` of `infra/template.yaml`, as JSON.
pub fn template_properties(logical_id: &str) -> Value {
    let template: serde_yaml::Value =
        serde_yaml::from_str(devstack::table_def::TEMPLATE).expect("infra/template.yaml is YAML");
    let properties = template
        .get("Resources")
        .and_then(|r| r.get(logical_id))
        .and_then(|r| r.get("Properties"))
        .unwrap_or_else(|| panic!("no Resources.{logical_id}.Properties in infra/template.yaml"));
    serde_json::to_value(properties).expect("template properties as JSON")
}

/// The logical id of the SSM document the lifecycle function sends playbooks with.
pub const PLAYBOOK_DOCUMENT: &str = "TenantPlaybookDocument";

/// A new SSM document in moto with the `Content` of [`PLAYBOOK_DOCUMENT`] in the template (moto
/// parses it: a malformed document fails here); answers its name.
pub async fn fresh_playbook_document(client: &aws_sdk_ssm::Client) -> String {
    let properties = template_properties(PLAYBOOK_DOCUMENT);
    let name = format!("TenantPlaybook-{}", ulid::Ulid::new());
    client
        .create_document()
        .name(&name)
        .content(properties["Content"].to_string())
        .document_type(aws_sdk_ssm::types::DocumentType::Command)
        .document_format(aws_sdk_ssm::types::DocumentFormat::Json)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)));
    name
}

/// Every item of a table (tests only: the product never scans).
pub async fn all_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client.scan().table_name(table).set_exclusive_start_key(start).send().await.expect("scan");
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(k) => start = Some(k.clone()),
            None => return items,
        }
    }
}

/// The API over a fresh table in moto, with local tokens.
pub struct TestApi {
    pub router: Router,
    pub app: App,
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
    pub tokens: LocalTokens,
    history_table: String,
    /// The workflows change requests start (in memory here: these tests stop at the start).
    pub workflows: Arc<engine::workflows::MemoryWorkflows>,
    poller: tokio::sync::Mutex<Option<devstack::streams::StreamPoller>>,
}

/// A response, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The key [`TestApi::new`]'s API checks Jenkins callbacks with.
pub const TEST_CALLBACK_KEY: &[u8] = b"integration-test-callback-key-0123456789";

/// Whether builds end their step's wait by a signed callback.
#[derive(Debug, Clone, Copy)]
pub enum Callbacks {
    /// Only polled: a Jenkins step looks at its build every second (`POLL_SECONDS` 0, at least 1),
    /// and a job that runs more than 3 s times out.
    Off,
    /// As `Off`, with jobs that may run a minute.
    Polled,
    /// The build's signed callback wakes the wait, which polls only every `heartbeat_seconds`.
    Signed { heartbeat_seconds: u64 },
}

/// A lifecycle stack in moto for one test: a stand-in Jenkins, its credentials in SSM, the task
/// function and the lifecycle state machine from `statemachines/lifecycle.asl.json`.
pub struct Lifecycle {
    pub jenkins: devstack::fake_jenkins::FakeJenkins,
    pub state_machine_arn: String,
    pub sfn: aws_sdk_sfn::Client,
    /// Delivers the executions' ends and the sweep to the reconciler, as EventBridge would.
    pub events: tokio::sync::Mutex<devstack::execution_events::ExecutionEvents>,
    /// The key the stand-in Jenkins signs its callbacks with (`Callbacks::Signed`).
    pub callback_key: Option<Vec<u8>>,
    /// The boxes' stand-in Update Manager: each runs its tenant's record but for hand changes.
    pub boxes: devstack::fake_update_manager::FakeUpdateManager,
    /// Its URL, for a schedule's or a check's client.
    pub update_manager_url: String,
}

impl Lifecycle {
    /// Every event of execution `arn`'s history, oldest first.
    pub async fn history(&self, arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .sfn
                .get_execution_history()
                .execution_arn(arn)
                .set_next_token(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("history of {arn}: {}", aws_sdk_sfn::error::DisplayErrorContext(e)));
            events.extend(page.events().iter().cloned());
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return events,
            }
        }
    }

    /// The states execution `arn` entered (its transitions, as Step Functions bills them).
    pub async fn state_transitions(&self, arn: &str) -> usize {
        self.history(arn).await.iter().filter(|e| e.r#type().as_str().ends_with("StateEntered")).count()
    }
}

impl TestApi {
    /// The API whose change requests run for real: Step Functions in moto executing the
    /// lifecycle ASL, whose tasks run the lifecycle handler against a stand-in Jenkins.
    pub async fn with_lifecycle(health_suites: &str) -> (Self, Lifecycle) {
        Self::with_lifecycle_paced(health_suites, Callbacks::Off).await
    }

    /// As [`TestApi::with_lifecycle`]; with `Callbacks::Signed`, the API is also served on a
    /// loopback port, the stand-in Jenkins posts each build's end to its
    /// `/v1/callbacks/jenkins` signed with a key kept in SSM, and a Jenkins step waits
    /// `heartbeat_seconds` for it before it polls.
    pub async fn with_lifecycle_paced(health_suites: &str, callbacks: Callbacks) -> (Self, Lifecycle) {
        let mut api = Self::new().await;
        let config = devstack::local_aws_config(&moto().endpoint).await;
        let suffix = ulid::Ulid::new().to_string().to_lowercase();
        let jenkins = devstack::fake_jenkins::FakeJenkins::new("portal", "jenkins-token");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("jenkins port");
        let jenkins_url = jenkins.serve(listener).await.expect("serving the stand-in Jenkins");
        for (job, report) in devstack::fake_jenkins::reports() {
            jenkins.set_report(job, report);
        }
        let secret = format!("/admin-portal/test-{suffix}/jenkins");
        devstack::local_lambda::put_jenkins_secret(&config, &secret, "portal", "jenkins-token").await.expect("secret");
        let boxes_port = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("update manager port");
        let update_manager_url = format!("http://{}", boxes_port.local_addr().expect("update manager address"));
        let mut env = vec![
            ("TABLE_NAME", api.table.clone()),
            ("UPDATE_MANAGER_URL", update_manager_url.clone()),
            ("JENKINS_URL", jenkins_url),
            ("JENKINS_SECRET_PARAM", secret),
            ("HEALTH_SUITES", health_suites.to_owned()),
            ("POLL_SECONDS", "0".to_owned()),
            ("JENKINS_TIMEOUT_SECONDS", "3".to_owned()),
            ("SSM_TIMEOUT_SECONDS", "3".to_owned()),
        ];
        let (mut served, mut callback_key) = (None, None);
        match callbacks {
            Callbacks::Off => {}
            Callbacks::Polled => {
                env.retain(|(k, _)| *k != "JENKINS_TIMEOUT_SECONDS");
                env.push(("JENKINS_TIMEOUT_SECONDS", "60".to_owned()));
            }
            Callbacks::Signed { heartbeat_seconds } => {
                let key_param = format!("/admin-portal/test-{suffix}/jenkins-callback-key");
                let key = devstack::local_lambda::put_callback_key(&config, &key_param).await.expect("callback key");
                jenkins.set_callback_key(Some(key.clone()));
                callback_key = Some(key);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("api port");
                let url = format!("http://{}/v1/callbacks/jenkins", listener.local_addr().expect("api address"));
                env.push(("JENKINS_HEARTBEAT_SECONDS", heartbeat_seconds.to_string()));
                // Jobs here run for seconds, longer than the 3 s the polled tests allow.
                env.retain(|(k, _)| *k != "JENKINS_TIMEOUT_SECONDS");
                env.push(("JENKINS_TIMEOUT_SECONDS", "60".to_owned()));
                env.push(("JENKINS_CALLBACK_URL", url));
                let ssm = aws_sdk_ssm::Client::new(&config);
                served = Some((listener, Arc::new(engine::SsmCallbackKey::new(ssm, key_param))));
            }
        }
        let function =
            devstack::local_lambda::create_function(&config, &format!("lifecycle-{suffix}"), "lifecycle", &env)
                .await
                .expect("function");
        let state_machine_arn =
            devstack::local_lambda::create_lifecycle_state_machine(&config, &format!("lifecycle-{suffix}"), &function)
                .await
                .expect("state machine");
        let sfn = aws_sdk_sfn::Client::new(&config);
        let core_env: std::collections::HashMap<&str, String> =
            env.iter().cloned().chain([("STATE_MACHINE_ARN", state_machine_arn.clone())]).collect();
        let changes = changes::wiring::from(&config, |k| core_env.get(k).cloned()).expect("the core");
        let boxes = devstack::fake_update_manager::FakeUpdateManager::new().following(changes.clone());
        boxes.serve(boxes_port).await.expect("serving the stand-in update manager");
        api.app = App::new(api.app.history.clone(), changes.clone());
        if let Some((listener, key)) = served {
            api.app = api.app.with_callback_key(key);
            let router = portal_api::router(api.app.clone(), Arc::new(api.tokens.clone()));
            tokio::spawn(async move { axum::serve(listener, router).await });
        }
        api.router = portal_api::router(api.app.clone(), Arc::new(api.tokens.clone()));
        let reconciler = Arc::new(reconciler::Deps {
            changes,
            state_machine_arn: Some(state_machine_arn.clone()),
            grace: chrono::Duration::seconds(0),
        });
        let events = devstack::execution_events::ExecutionEvents::new(sfn.clone(), &state_machine_arn, reconciler);
        let events = tokio::sync::Mutex::new(events);
        (api, Lifecycle { jenkins, state_machine_arn, sfn, events, callback_key, boxes, update_manager_url })
    }

    /// Waits until the change request is no longer running; answers it.
    pub async fn settled(&self, change_request_id: &str) -> Value {
        let path = format!("/v1/change-requests/{change_request_id}");
        for _ in 0..600 {
            let r = self.call("viewer", Method::GET, &path, None).await;
            if !matches!(r.body["status"].as_str(), Some("running" | "pending")) {
                return r.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("change request {change_request_id} still running after 60 s");
    }

    pub async fn new() -> Self {
        static LOGS: std::sync::Once = std::sync::Once::new();
        LOGS.call_once(|| {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
        });
        let (client, table) = fresh_table().await;
        let (_, history_table) = fresh_table_of(devstack::table_def::CHANGELOG_TABLE).await;
        let history = Arc::new(DynamoTable::new(client.clone(), history_table.clone()));
        let workflows = Arc::new(engine::workflows::MemoryWorkflows::new());
        let app = App::new(
            history,
            changes::Changes {
                table: Arc::new(DynamoTable::new(client.clone(), table.clone())),
                workflows: workflows.clone(),
                jenkins: Arc::new(engine::MemoryJenkins::new()),
                remote: Arc::new(engine::MemoryCommands::new()),
                alarms: Arc::new(engine::MemoryAlarms::new()),
            },
        );
        let app = app.with_callback_key(Arc::new(engine::FixedCallbackKey(engine::KeyBytes::new(TEST_CALLBACK_KEY))));
        let tokens = LocalTokens::new(b"integration-test-secret-0123456789".to_vec());
        let router = portal_api::router(app.clone(), Arc::new(tokens.clone()));
        Self { router, app, client, table, tokens, history_table, workflows, poller: tokio::sync::Mutex::new(None) }
    }

    pub fn history_table_name(&self) -> String {
        self.history_table.clone()
    }

    /// A poller of this API's registry stream that delivers to its change log, from the start.
    pub async fn new_poller(&self) -> devstack::streams::StreamPoller {
        let config = devstack::local_aws_config(&moto().endpoint).await;
        let streams = aws_sdk_dynamodbstreams::Client::new(&config);
        devstack::streams::StreamPoller::new(&self.client, streams, &self.table, self.app.history.clone())
            .await
            .expect("following the registry stream")
    }

    /// Delivers everything written so far to the change log, as the stream consumer would.
    pub async fn drain_stream(&self) -> usize {
        let mut guard = self.poller.lock().await;
        if guard.is_none() {
            *guard = Some(self.new_poller().await);
        }
        guard.as_mut().expect("poller").drain().await.expect("draining the stream")
    }

    pub fn token(&self, role: &str, sub: &str) -> String {
        self.tokens.mint(sub, Some(&format!("{sub}@vendor.example")), role, 600)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self.router.clone().oneshot(req.body(body).expect("request")).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Reply { status, headers, body }
    }

    /// A call as `sub` with `role`, no extra headers.
    pub async fn call(&self, role: &str, method: Method, path: &str, body: Option<Value>) -> Reply {
        let token = self.token(role, &format!("{role}-user"));
        self.send(method, path, Some(&token), &[], body).await
    }

    /// `names` as Healthy tenants on `release` of `customer`, written straight to the store
    /// (`BatchWriteItem`, 25 a call) with their fleet counters, as if provisioned long ago: a
    /// fleet in seconds where provisioning each through the API would take minutes on moto.
    pub async fn seed_healthy_tenants(&self, customer: &str, release: &str, names: &[String]) -> Vec<String> {
        use store::layout::Record;
        let ctx = domain::WriteContext::api(domain::Actor { sub: "seed".into(), email: None });
        let mut items = Vec::with_capacity(names.len());
        let mut ids = Vec::with_capacity(names.len());
        for name in names {
            let cmd: domain::TenantCreate =
                serde_json::from_value(serde_json::json!({"customer_id": customer, "name": name, "release": release}))
                    .expect("a tenant");
            let (mut t, _) = domain::Tenant::create(cmd, &ctx);
            t.state = domain::TenantState::Healthy;
            t.active_change_request_id = None;
            ids.push(t.id.to_string());
            items.push(t.to_item().expect("a tenant item"));
        }
        self.app.changes.table.batch_put(items).await.expect("seeding tenants");
        let release = domain::ReleaseVersion::parse(release).expect("a release");
        let mut tx = store::Tx::<changes::ChangeError>::new();
        let by = i64::try_from(names.len()).expect("a count");
        changes::fleet::count_in_fleet(
            &mut tx,
            &[(domain::TenantState::Healthy, &release, by)],
            changes::ChangeError::Duplicate,
        );
        tx.commit(self.app.changes.table.as_ref()).await.expect("counting the seeded tenants");
        ids
    }

    pub async fn item_count(&self) -> usize {
        all_items(&self.client, &self.table).await.len()
    }
}
