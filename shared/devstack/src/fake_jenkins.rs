//! A stand-in for the vendor's "SaaS Jenkins", speaking the part of its remote-access API the
//! engine (and python-jenkins, which a test runs against it) uses, with HTTP basic auth (user
//! and API token) on every call and the crumb on every POST:
//!
//! | Jenkins route | |
//! |---|---|
//! | `GET /` | a page; like every answer, with the `X-Jenkins` version header |
//! | `GET /api/json` | the root: its jobs (configured or built), `useCrumbs`, `url` |
//! | `GET /me/api/json`, `GET /whoAmI/api/json` | the authenticated user |
//! | `GET /crumbIssuer/api/json` | the crumb |
//! | `POST /job/{job}/buildWithParameters` | parameters from the query string and the form body → `201`, `Location: /queue/item/{n}/` |
//! | `GET /job/{job}/api/json` | the job and its builds, newest first (with `queueId` and parameters) |
//! | `GET /queue/api/json` | the items still waiting, with their parameters |
//! | `GET /queue/item/{n}/api/json` | a waiting, cancelled or left item (`executable` once started) |
//! | `POST /queue/cancelItem?id={n}` | cancels a waiting item (`204`) |
//! | `GET /job/{job}/{n}/api/json` | a build: `building`, `result`, parameters in `actions` |
//! | `GET /job/{job}/{n}/consoleText` | its log as plain text: parameters, outcome, `Finished: RESULT` |
//! | `POST /job/{job}/{n}/stop` | a running (or hanging) build ends `ABORTED`; `302` to the build's page |
//!
//! Per job, an outcome (`SUCCESS`, `UNSTABLE`, `FAILURE`, `ABORTED`, `NOT_BUILT`, or `hang`: never
//! finishes), a time in the queue and a run time; jobs with none set have the default behaviour
//! (instant `SUCCESS` unless set). Set through the Rust handle or the admin API:
//!
//! | admin route (no auth) | |
//! |---|---|
//! | `PUT /__admin/jobs/{job}` `{"outcome": "FAILURE", "queue_delay_ms": 500, "run_ms": 1000}` | how builds of `job` triggered from now on behave (missing fields: defaults) |
//! | `PATCH /__admin/jobs/{job}` `{"outcome": "hang"}` | changes only the fields given (of the job's behaviour, or of the default); answers the result |
//! | `GET /__admin/jobs/{job}` | that behaviour (404 while it has the default) |
//! | `DELETE /__admin/jobs/{job}` | the job has the default behaviour again |
//! | `PUT`/`PATCH`/`GET /__admin/jobs` | the default behaviour of every job that has none set |
//! | `GET /__admin/builds` | every build triggered, with its parameters, state and result |
//! | `DELETE /__admin/builds` | forget the builds (and the callbacks) |
//! | `GET/PUT /__admin/settings` | `{"strict": bool, "forget_started_queue_items": bool}` |
//! | `POST /__admin/crumb/rotate` | a new crumb: the old one is refused from now on |
//! | `GET /__admin/callbacks` | the callbacks posted and what came of them |
//!
//! Unknown jobs succeed at once, or are 404 when `strict`. With `forget_started_queue_items`, a
//! queue item answers 404 once its build has started (Jenkins forgets queue items a few minutes
//! after they leave the queue), so a client has to find the build through the job.
//!
//! A build with a `CALLBACK_URL` parameter posts `{"step_id", "job", "build_url", "result"}` to
//! it when it finishes (fire and forget), signed as `domain::callback` says when the stand-in has
//! a callback key ([`FakeJenkins::set_callback_key`]), as the vendor's jobs do in their last
//! stage. Only loopback URLs are called: this is a local stand-in.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{http::HeaderValue, middleware};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The header Jenkins names for its crumb.
pub const CRUMB_FIELD: &str = "Jenkins-Crumb";

/// The Jenkins version the fake says it is (`X-Jenkins` on every answer).
pub const JENKINS_VERSION: &str = "2.462.3";

/// How a build ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FakeOutcome {
    #[default]
    Success,
    Unstable,
    Failure,
    Aborted,
    NotBuilt,
    /// Starts and never finishes.
    #[serde(alias = "hang")]
    Hang,
}

impl FakeOutcome {
    /// The `result` Jenkins reports (`None` for a build that never finishes).
    pub fn result(self) -> Option<&'static str> {
        match self {
            Self::Success => Some("SUCCESS"),
            Self::Unstable => Some("UNSTABLE"),
            Self::Failure => Some("FAILURE"),
            Self::Aborted => Some("ABORTED"),
            Self::NotBuilt => Some("NOT_BUILT"),
            Self::Hang => None,
        }
    }
}

/// How the builds of a job behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobBehaviour {
    pub outcome: FakeOutcome,
    /// Time in the queue before the build starts (and gets a number).
    pub queue_delay_ms: u64,
    /// Run time of the build.
    pub run_ms: u64,
}

impl JobBehaviour {
    pub fn new(outcome: FakeOutcome) -> Self {
        Self { outcome, queue_delay_ms: 0, run_ms: 0 }
    }

    pub fn queued_for(mut self, ms: u64) -> Self {
        self.queue_delay_ms = ms;
        self
    }

    pub fn running_for(mut self, ms: u64) -> Self {
        self.run_ms = ms;
        self
    }
}

/// Some fields of a [`JobBehaviour`], to change only those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobBehaviourPatch {
    pub outcome: Option<FakeOutcome>,
    pub queue_delay_ms: Option<u64>,
    pub run_ms: Option<u64>,
}

impl JobBehaviourPatch {
    /// `behaviour` with the fields this patch sets.
    pub fn apply(self, behaviour: JobBehaviour) -> JobBehaviour {
        JobBehaviour {
            outcome: self.outcome.unwrap_or(behaviour.outcome),
            queue_delay_ms: self.queue_delay_ms.unwrap_or(behaviour.queue_delay_ms),
            run_ms: self.run_ms.unwrap_or(behaviour.run_ms),
        }
    }
}

/// Settings of the whole fake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FakeSettings {
    /// Unknown jobs are 404 (instead of succeeding at once).
    pub strict: bool,
    /// A queue item is 404 once its build started.
    pub forget_started_queue_items: bool,
}

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FakeBuildState {
    Queued,
    Cancelled,
    Running,
    Done,
}

/// A build the fake was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FakeBuild {
    pub queue_id: u64,
    pub job: String,
    /// Given when the build leaves the queue.
    pub number: Option<u64>,
    pub params: BTreeMap<String, String>,
    pub state: FakeBuildState,
    pub result: Option<String>,
    pub queue_url: String,
    pub url: Option<String>,
}

/// A callback the fake posted (or did not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackRecord {
    pub url: String,
    pub body: Value,
    /// `"HTTP 200"`, or what went wrong (errors are otherwise ignored).
    pub outcome: String,
}

/// The fake. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct FakeJenkins {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<FakeState>,
    http: Option<reqwest::Client>,
}

struct FakeState {
    user: String,
    token: String,
    crumb: String,
    crumb_fetches: u64,
    settings: FakeSettings,
    /// The behaviour of jobs not in `jobs`.
    default_job: JobBehaviour,
    jobs: HashMap<String, JobBehaviour>,
    items: Vec<Item>,
    next_number: HashMap<String, u64>,
    /// The root URL of absolute URLs; set by `serve`, else from the request's `Host`.
    root_url: Option<String>,
    callbacks: Vec<CallbackRecord>,
    /// The key callbacks are signed with (none: sent unsigned).
    callback_key: Option<Vec<u8>>,
    /// Per job, the template of the report its finished builds archive as
    /// [`REPORT_ARTIFACT`] (see [`FakeJenkins::set_report`]).
    reports: HashMap<String, Value>,
}

struct Item {
    build: FakeBuild,
    behaviour: JobBehaviour,
    root: String,
    queued_at_ms: u64,
    started_at_ms: Option<u64>,
    finished_at_ms: Option<u64>,
    /// Who stopped the build (`POST .../stop`), if anyone did.
    stopped_by: Option<String>,
}

impl FakeJenkins {
    /// A Jenkins that accepts `user` with the API token `token`.
    pub fn new(user: impl Into<String>, token: impl Into<String>) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).no_proxy().build().ok();
        let state = FakeState {
            user: user.into(),
            token: token.into(),
            crumb: new_crumb(),
            crumb_fetches: 0,
            settings: FakeSettings::default(),
            default_job: JobBehaviour::default(),
            jobs: HashMap::new(),
            items: Vec::new(),
            next_number: HashMap::new(),
            root_url: None,
            callbacks: Vec::new(),
            callback_key: None,
            reports: HashMap::new(),
        };
        Self { shared: Arc::new(Shared { state: Mutex::new(state), http }) }
    }

    fn state(&self) -> MutexGuard<'_, FakeState> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves the fake on `listener` (in a spawned task, until the runtime ends); answers its
    /// base URL, e.g. `http://127.0.0.1:41234`.
    pub async fn serve(&self, listener: tokio::net::TcpListener) -> std::io::Result<String> {
        let addr = listener.local_addr()?;
        let base = format!("http://{addr}");
        self.state().root_url = Some(base.clone());
        let router = self.router();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "fake jenkins stopped");
            }
        });
        Ok(base)
    }

    /// The routes, to serve or to call in-process.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(root_page))
            .route("/api/json", get(root_json))
            .route("/me/api/json", get(me_json))
            .route("/whoAmI/api/json", get(who_am_i_json))
            .route("/crumbIssuer/api/json", get(crumb_issuer))
            .route("/job/{job}/buildWithParameters", post(build_with_parameters))
            .route("/job/{job}/api/json", get(job_json))
            .route("/job/{job}/{number}/", get(build_page))
            .route("/job/{job}/{number}/api/json", get(build_json))
            .route("/job/{job}/{number}/consoleText", get(console_text))
            .route("/job/{job}/{number}/stop", post(stop_build))
            .route("/job/{job}/{number}/artifact/{*path}", get(artifact))
            .route("/queue/api/json", get(queue_json))
            .route("/queue/item/{id}/api/json", get(queue_item_json))
            .route("/queue/cancelItem", post(cancel_item))
            .route(
                "/__admin/jobs",
                put(admin_put_default_job).patch(admin_patch_default_job).get(admin_get_default_job),
            )
            .route(
                "/__admin/jobs/{job}",
                put(admin_put_job).patch(admin_patch_job).get(admin_get_job).delete(admin_delete_job),
            )
            .route("/__admin/reports/{job}", put(admin_put_report))
            .route("/__admin/builds", get(admin_builds).delete(admin_clear_builds))
            .route("/__admin/settings", get(admin_get_settings).put(admin_put_settings))
            .route("/__admin/crumb/rotate", post(admin_rotate_crumb))
            .route("/__admin/callbacks", get(admin_callbacks))
            .layer(middleware::map_response(with_version_header))
            .with_state(self.clone())
    }

    /// How builds of `job` triggered from now on behave.
    pub fn set_job(&self, job: &str, behaviour: JobBehaviour) {
        self.state().jobs.insert(job.to_owned(), behaviour);
    }

    /// How builds of `job` triggered from now on with the parameter `param` set to `value`
    /// behave (before the job's own behaviour): a suite that fails on one release only.
    pub fn set_job_when(&self, job: &str, param: &str, value: &str, behaviour: JobBehaviour) {
        self.state().jobs.insert(format!("{job}?{param}={value}"), behaviour);
    }

    /// How builds of every job without a behaviour of its own behave from now on.
    pub fn set_default_job(&self, behaviour: JobBehaviour) {
        self.state().default_job = behaviour;
    }

    /// `job` has the default behaviour again.
    pub fn clear_job(&self, job: &str) {
        self.state().jobs.remove(job);
    }

    /// How builds of `job` triggered now behave (its own behaviour, or the default).
    pub fn behaviour_of(&self, job: &str) -> JobBehaviour {
        self.state().behaviour_of(job)
    }

    pub fn settings(&self) -> FakeSettings {
        self.state().settings
    }

    pub fn set_settings(&self, settings: FakeSettings) {
        self.state().settings = settings;
    }

    /// Unknown jobs are 404 (`true`) or succeed at once (`false`, the default).
    pub fn set_strict(&self, strict: bool) {
        self.state().settings.strict = strict;
    }

    /// Queue items answer 404 once their build started.
    pub fn set_forget_started_queue_items(&self, forget: bool) {
        self.state().settings.forget_started_queue_items = forget;
    }

    /// Issues a new crumb: the old one is refused from now on.
    pub fn rotate_crumb(&self) {
        self.state().crumb = new_crumb();
    }

    /// How many times the crumb issuer answered a crumb.
    pub fn crumb_fetches(&self) -> u64 {
        self.state().crumb_fetches
    }

    /// What finished builds of `job` archive as [`REPORT_ARTIFACT`]: `template`, with every
    /// `${NAME}` in its strings replaced by the build's parameter `NAME`, and `${INSTANCE_ID}`,
    /// `${BUILD_NUMBER}`, `${BUILD_DIGEST}` by an EC2 instance id, the number of that build and
    /// 64 hex digits of its own (a stand-in for the checksum of what it wrote).
    pub fn set_report(&self, job: &str, template: Value) {
        self.state().reports.insert(job.to_owned(), template);
    }

    /// Every build triggered, in order.
    pub fn builds(&self) -> Vec<FakeBuild> {
        self.state().items.iter().map(|i| i.build.clone()).collect()
    }

    /// Every callback posted so far.
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.state().callbacks.clone()
    }

    /// Cancels queue item `queue_id` if still queued (as `POST /queue/cancelItem?id=` does).
    pub fn cancel_queued(&self, queue_id: u64) -> bool {
        let mut s = self.state();
        match s.items.iter_mut().find(|i| i.build.queue_id == queue_id) {
            Some(item) if item.build.state == FakeBuildState::Queued => {
                item.build.state = FakeBuildState::Cancelled;
                true
            }
            _ => false,
        }
    }

    /// Forgets every build and callback (job behaviours and settings stay).
    pub fn clear_builds(&self) {
        let mut s = self.state();
        s.items.clear();
        s.callbacks.clear();
    }

    /// Starts queue item `queue_id` if still queued; answers whether it did.
    fn start(&self, queue_id: u64) -> bool {
        let mut s = self.state();
        let Some(idx) = s.items.iter().position(|i| i.build.queue_id == queue_id) else { return false };
        if s.items[idx].build.state != FakeBuildState::Queued {
            return false;
        }
        let job = s.items[idx].build.job.clone();
        let number = {
            let n = s.next_number.entry(job.clone()).or_insert(0);
            *n += 1;
            *n
        };
        let item = &mut s.items[idx];
        item.build.number = Some(number);
        item.build.state = FakeBuildState::Running;
        item.build.url = Some(format!("{}/job/{}/{number}/", item.root, encode(&job)));
        item.started_at_ms = Some(now_ms());
        true
    }

    /// Finishes the running build of queue item `queue_id` as its behaviour says.
    fn finish(&self, queue_id: u64) {
        let result = {
            let s = self.state();
            s.items.iter().find(|i| i.build.queue_id == queue_id).and_then(|i| i.behaviour.outcome.result())
        };
        if let Some(result) = result {
            self.end(queue_id, result);
        }
    }

    /// Stops the build of job `job` numbered `number`, as `POST /job/{job}/{number}/stop` does:
    /// a running (or hanging) build ends `ABORTED`; answers whether it was running.
    pub fn stop(&self, job: &str, number: u64) -> bool {
        let queue_id = {
            let mut s = self.state();
            let user = s.user.clone();
            let Some(item) = s.items.iter_mut().find(|i| i.build.job == job && i.build.number == Some(number)) else {
                return false;
            };
            if item.build.state != FakeBuildState::Running {
                return false;
            }
            item.stopped_by = Some(user);
            item.build.queue_id
        };
        self.end(queue_id, "ABORTED");
        true
    }

    /// Ends the running build of queue item `queue_id` with `result`; posts its callback.
    fn end(&self, queue_id: u64, result: &'static str) {
        let callback = {
            let mut s = self.state();
            let Some(item) = s.items.iter_mut().find(|i| i.build.queue_id == queue_id) else { return };
            if item.build.state != FakeBuildState::Running {
                return;
            }
            item.build.state = FakeBuildState::Done;
            item.build.result = Some(result.to_owned());
            item.finished_at_ms = Some(now_ms());
            item.build.params.get("CALLBACK_URL").map(|url| {
                let body = json!({
                    "step_id": item.build.params.get(engine::STEP_ID_PARAM),
                    "job": item.build.job,
                    "build_url": item.build.url,
                    "result": result,
                });
                (url.clone(), body)
            })
        };
        if let Some((url, body)) = callback {
            self.post_callback(url, body);
        }
    }

    /// Signs the callbacks of builds that end from now on with `key` (`None`: unsigned).
    pub fn set_callback_key(&self, key: Option<Vec<u8>>) {
        self.state().callback_key = key;
    }

    fn post_callback(&self, url: String, body: Value) {
        let this = self.clone();
        let key = self.state().callback_key.clone();
        tokio::spawn(async move {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let outcome = if !is_loopback_url(&url) {
                "not called: only loopback callback URLs are called".to_owned()
            } else if let Some(http) = &this.shared.http {
                let mut request = http.post(&url).header(header::CONTENT_TYPE, "application/json");
                if let Some(key) = key {
                    let timestamp = (now_ms() / 1000).to_string();
                    let nonce = format!("fake-{}", ulid::Ulid::new());
                    let signature = domain::callback::sign(&key, &timestamp, &nonce, &bytes);
                    request = request
                        .header(domain::callback::TIMESTAMP_HEADER, timestamp)
                        .header(domain::callback::NONCE_HEADER, nonce)
                        .header(domain::callback::SIGNATURE_HEADER, signature);
                }
                match request.body(bytes).send().await {
                    Ok(resp) => format!("HTTP {}", resp.status().as_u16()),
                    Err(e) => format!("error: {e}"),
                }
            } else {
                "not called: no http client".to_owned()
            };
            this.state().callbacks.push(CallbackRecord { url, body, outcome });
        });
    }
}

impl FakeState {
    fn behaviour_of(&self, job: &str) -> JobBehaviour {
        self.jobs.get(job).copied().unwrap_or(self.default_job)
    }

    /// The behaviour of a build of `job` with `params`: one set for a parameter's value first.
    fn behaviour_for(&self, job: &str, params: &BTreeMap<String, String>) -> JobBehaviour {
        params
            .iter()
            .find_map(|(k, v)| self.jobs.get(&format!("{job}?{k}={v}")).copied())
            .unwrap_or_else(|| self.behaviour_of(job))
    }
}

fn new_crumb() -> String {
    ulid::Ulid::new().to_string().to_lowercase()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn is_loopback_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

// --- the Jenkins API ---------------------------------------------------------------------------

fn error(status: StatusCode, text: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain")], text.to_owned()).into_response()
}

/// 401 unless the request carries the configured user and token.
fn check_auth(s: &FakeState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok());
    match given.as_deref().and_then(|g| g.split_once(':')) {
        Some((user, token)) if user == s.user && token == s.token => Ok(()),
        _ => Err(Box::new(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Basic realm=\"Jenkins\""), (header::CONTENT_TYPE, "text/plain")],
                "Invalid password/token for user",
            )
                .into_response(),
        )),
    }
}

/// 403 unless the request carries the current crumb.
fn check_crumb(s: &FakeState, headers: &HeaderMap) -> Result<(), Box<Response>> {
    match headers.get(CRUMB_FIELD).and_then(|v| v.to_str().ok()) {
        Some(c) if c == s.crumb => Ok(()),
        _ => Err(Box::new(error(StatusCode::FORBIDDEN, "No valid crumb was included in the request"))),
    }
}

fn root(s: &FakeState, headers: &HeaderMap) -> String {
    s.root_url.clone().unwrap_or_else(|| {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
        format!("http://{host}")
    })
}

fn job_exists(s: &FakeState, job: &str) -> bool {
    !s.settings.strict || s.jobs.contains_key(job)
}

async fn crumb_issuer(State(fake): State<FakeJenkins>, headers: HeaderMap) -> Response {
    let mut s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    s.crumb_fetches += 1;
    axum::Json(json!({
        "_class": "hudson.security.csrf.DefaultCrumbIssuer",
        "crumb": s.crumb,
        "crumbRequestField": CRUMB_FIELD,
    }))
    .into_response()
}

async fn build_with_parameters(
    State(fake): State<FakeJenkins>,
    Path(job): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Jenkins takes the parameters from the query string and the form body.
    let mut params = BTreeMap::new();
    let from_query = serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or(""));
    let from_body = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body);
    let (Ok(q), Ok(b)) = (from_query, from_body) else {
        return error(StatusCode::BAD_REQUEST, "unreadable parameters");
    };
    params.extend(q);
    params.extend(b);

    let (queue_id, behaviour, queue_url) = {
        let mut s = fake.state();
        if let Err(r) = check_auth(&s, &headers).and_then(|_| check_crumb(&s, &headers)) {
            return *r;
        }
        if !job_exists(&s, &job) {
            return error(StatusCode::NOT_FOUND, "Not Found");
        }
        let behaviour = s.behaviour_for(&job, &params);
        let root = root(&s, &headers);
        let queue_id = s.items.iter().map(|i| i.build.queue_id).max().unwrap_or(0) + 1;
        let queue_url = format!("{root}/queue/item/{queue_id}/");
        s.items.push(Item {
            build: FakeBuild {
                queue_id,
                job: job.clone(),
                number: None,
                params,
                state: FakeBuildState::Queued,
                result: None,
                queue_url: queue_url.clone(),
                url: None,
            },
            behaviour,
            root,
            queued_at_ms: now_ms(),
            started_at_ms: None,
            finished_at_ms: None,
            stopped_by: None,
        });
        (queue_id, behaviour, queue_url)
    };

    if behaviour.queue_delay_ms == 0 && behaviour.run_ms == 0 {
        // At once: the next request already sees the result.
        if fake.start(queue_id) {
            fake.finish(queue_id);
        }
    } else {
        let fake = fake.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(behaviour.queue_delay_ms)).await;
            if !fake.start(queue_id) || behaviour.outcome == FakeOutcome::Hang {
                return;
            }
            tokio::time::sleep(Duration::from_millis(behaviour.run_ms)).await;
            fake.finish(queue_id);
        });
    }
    (StatusCode::CREATED, [(header::LOCATION, queue_url)]).into_response()
}

/// `actions` of a queue item or a build: its parameters, as Jenkins's `ParametersAction`.
fn actions(params: &BTreeMap<String, String>) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|(k, v)| json!({"_class": "hudson.model.StringParameterValue", "name": k, "value": v}))
        .collect();
    json!([
        {"_class": "hudson.model.ParametersAction", "parameters": parameters},
        {"_class": "hudson.model.CauseAction", "causes": [{"_class": "hudson.model.Cause$RemoteCause", "shortDescription": "Started by remote API call"}]},
    ])
}

fn build_value(item: &Item) -> Value {
    let b = &item.build;
    let duration = match (item.started_at_ms, item.finished_at_ms) {
        (Some(s), Some(f)) => f.saturating_sub(s),
        _ => 0,
    };
    json!({
        "_class": "hudson.model.FreeStyleBuild",
        "actions": actions(&b.params),
        "building": b.state == FakeBuildState::Running,
        "duration": duration,
        "fullDisplayName": format!("{} #{}", b.job, b.number.unwrap_or(0)),
        "id": b.number.map(|n| n.to_string()),
        "number": b.number,
        "queueId": b.queue_id,
        "result": b.result,
        "timestamp": item.started_at_ms,
        "url": b.url,
    })
}

async fn job_json(State(fake): State<FakeJenkins>, Path(job): Path<String>, headers: HeaderMap) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    if !job_exists(&s, &job) {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let root = root(&s, &headers);
    // Newest first, as Jenkins lists them; only builds that left the queue.
    let started: Vec<&Item> = s.items.iter().rev().filter(|i| i.build.job == job && i.build.number.is_some()).collect();
    let reference =
        |i: &&Item| json!({"_class": "hudson.model.FreeStyleBuild", "number": i.build.number, "url": i.build.url});
    let builds: Vec<Value> = started
        .iter()
        .map(|i| {
            json!({
                "_class": "hudson.model.FreeStyleBuild",
                "actions": actions(&i.build.params),
                "number": i.build.number,
                "queueId": i.build.queue_id,
                "url": i.build.url,
            })
        })
        .collect();
    let waiting = s.items.iter().find(|i| i.build.job == job && i.build.state == FakeBuildState::Queued);
    axum::Json(json!({
        "_class": "hudson.model.FreeStyleProject",
        "name": job,
        "fullName": job,
        "displayName": job,
        "url": format!("{root}/job/{}/", encode(&job)),
        "buildable": true,
        "color": color(&s, &job),
        "builds": builds,
        "firstBuild": started.last().map(reference),
        "lastBuild": started.first().map(reference),
        "inQueue": waiting.is_some(),
        "queueItem": waiting.map(|i| json!({"id": i.build.queue_id})),
        "nextBuildNumber": s.next_number.get(&job).copied().unwrap_or(0) + 1,
    }))
    .into_response()
}

async fn build_json(
    State(fake): State<FakeJenkins>,
    Path((job, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    let number: Option<u64> = number.parse().ok();
    match s.items.iter().find(|i| i.build.job == job && number.is_some() && i.build.number == number) {
        Some(item) => axum::Json(build_value(item)).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

async fn queue_item_json(State(fake): State<FakeJenkins>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    let id: Option<u64> = id.parse().ok();
    let Some(item) = s.items.iter().find(|i| Some(i.build.queue_id) == id) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let b = &item.build;
    let task = json!({"_class": "hudson.model.FreeStyleProject", "name": b.job, "url": format!("{}/job/{}/", item.root, encode(&b.job))});
    let value = match b.state {
        FakeBuildState::Queued => json!({
            "_class": "hudson.model.Queue$WaitingItem",
            "id": b.queue_id,
            "actions": actions(&b.params),
            "blocked": false,
            "buildable": false,
            "inQueueSince": item.queued_at_ms,
            "params": b.params.iter().map(|(k, v)| format!("\n{k}={v}")).collect::<String>(),
            "task": task,
            "why": "In the quiet period.",
        }),
        FakeBuildState::Running | FakeBuildState::Done if s.settings.forget_started_queue_items => {
            return error(StatusCode::NOT_FOUND, "Not Found");
        }
        FakeBuildState::Cancelled => json!({
            "_class": "hudson.model.Queue$LeftItem",
            "id": b.queue_id,
            "actions": actions(&b.params),
            "cancelled": true,
            "executable": null,
            "inQueueSince": item.queued_at_ms,
            "task": task,
        }),
        FakeBuildState::Running | FakeBuildState::Done => json!({
            "_class": "hudson.model.Queue$LeftItem",
            "id": b.queue_id,
            "actions": actions(&b.params),
            "cancelled": false,
            "executable": {"_class": "hudson.model.FreeStyleBuild", "number": b.number, "url": b.url},
            "inQueueSince": item.queued_at_ms,
            "task": task,
        }),
    };
    axum::Json(value).into_response()
}

async fn cancel_item(State(fake): State<FakeJenkins>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    {
        let s = fake.state();
        if let Err(r) = check_auth(&s, &headers).and_then(|_| check_crumb(&s, &headers)) {
            return *r;
        }
    }
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or("")).unwrap_or_default();
    match pairs.iter().find(|(k, _)| k == "id").and_then(|(_, v)| v.parse::<u64>().ok()) {
        Some(id) => {
            fake.cancel_queued(id);
            StatusCode::NO_CONTENT.into_response()
        }
        None => error(StatusCode::BAD_REQUEST, "id is required"),
    }
}

async fn with_version_header(mut resp: Response) -> Response {
    resp.headers_mut().insert("x-jenkins", HeaderValue::from_static(JENKINS_VERSION));
    resp
}

fn html(title: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html><head><title>{title} [Jenkins]</title></head><body><h1>{title}</h1></body></html>"
    );
    ([(header::CONTENT_TYPE, "text/html;charset=utf-8")], page).into_response()
}

/// The jobs Jenkins would list: those with a behaviour of their own, and those built.
fn job_names(s: &FakeState) -> Vec<String> {
    let mut names: Vec<String> = s.jobs.keys().cloned().chain(s.items.iter().map(|i| i.build.job.clone())).collect();
    names.sort();
    names.dedup();
    names
}

/// The ball colour of a job: its last build's result, `_anime` while one runs.
fn color(s: &FakeState, job: &str) -> String {
    let mut builds = s.items.iter().rev().filter(|i| i.build.job == job && i.build.number.is_some());
    let Some(last) = builds.next() else { return "notbuilt".into() };
    let last_result = if last.build.state == FakeBuildState::Done {
        last.build.result.clone()
    } else {
        s.items.iter().rev().filter(|i| i.build.job == job).find_map(|i| i.build.result.clone())
    };
    let base = match last_result.as_deref() {
        Some("SUCCESS") => "blue",
        Some("UNSTABLE") => "yellow",
        Some("FAILURE") => "red",
        Some("ABORTED") => "aborted",
        _ => "notbuilt",
    };
    if last.build.state == FakeBuildState::Running { format!("{base}_anime") } else { base.to_owned() }
}

async fn root_page(State(fake): State<FakeJenkins>, headers: HeaderMap) -> Response {
    if let Err(r) = check_auth(&fake.state(), &headers) {
        return *r;
    }
    html("Dashboard")
}

async fn root_json(State(fake): State<FakeJenkins>, headers: HeaderMap) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    let root = root(&s, &headers);
    let jobs: Vec<Value> = job_names(&s)
        .into_iter()
        .map(|name| {
            json!({
                "_class": "hudson.model.FreeStyleProject",
                "name": name,
                "url": format!("{root}/job/{}/", encode(&name)),
                "color": color(&s, &name),
            })
        })
        .collect();
    axum::Json(json!({
        "_class": "hudson.model.Hudson",
        "assignedLabels": [{"name": "built-in"}],
        "mode": "NORMAL",
        "nodeDescription": "the local stand-in for the SaaS Jenkins",
        "nodeName": "",
        "numExecutors": 2,
        "jobs": jobs,
        "primaryView": {"_class": "hudson.model.AllView", "name": "all", "url": format!("{root}/")},
        "quietingDown": false,
        "url": format!("{root}/"),
        "useCrumbs": true,
        "useSecurity": true,
        "views": [{"_class": "hudson.model.AllView", "name": "all", "url": format!("{root}/")}],
    }))
    .into_response()
}

async fn me_json(State(fake): State<FakeJenkins>, headers: HeaderMap) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    let root = root(&s, &headers);
    axum::Json(json!({
        "_class": "hudson.model.User",
        "absoluteUrl": format!("{root}/user/{}", encode(&s.user)),
        "description": null,
        "fullName": s.user,
        "id": s.user,
        "property": [],
    }))
    .into_response()
}

async fn who_am_i_json(State(fake): State<FakeJenkins>, headers: HeaderMap) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    axum::Json(json!({
        "_class": "hudson.security.WhoAmI",
        "anonymous": false,
        "authenticated": true,
        "authorities": ["authenticated"],
        "name": s.user,
    }))
    .into_response()
}

/// The items still waiting in the queue, oldest first, as Jenkins lists them.
async fn queue_json(State(fake): State<FakeJenkins>, headers: HeaderMap) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    let items: Vec<Value> = s
        .items
        .iter()
        .filter(|i| i.build.state == FakeBuildState::Queued)
        .map(|i| {
            let b = &i.build;
            json!({
                "_class": "hudson.model.Queue$WaitingItem",
                "id": b.queue_id,
                "actions": actions(&b.params),
                "blocked": false,
                "buildable": false,
                "inQueueSince": i.queued_at_ms,
                "params": b.params.iter().map(|(k, v)| format!("\n{k}={v}")).collect::<String>(),
                "stuck": false,
                "task": {"_class": "hudson.model.FreeStyleProject", "name": b.job, "url": format!("{}/job/{}/", i.root, encode(&b.job)), "color": color(&s, &b.job)},
                "url": format!("queue/item/{}/", b.queue_id),
                "why": "In the quiet period.",
            })
        })
        .collect();
    axum::Json(json!({"_class": "hudson.model.Queue", "discoverableItems": [], "items": items})).into_response()
}

/// The started build `number` of `job`, if any.
fn started_build<'a>(s: &'a FakeState, job: &str, number: &str) -> Option<&'a Item> {
    let number: u64 = number.parse().ok()?;
    s.items.iter().find(|i| i.build.job == job && i.build.number == Some(number))
}

async fn build_page(
    State(fake): State<FakeJenkins>,
    Path((job, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    match started_build(&s, &job, &number) {
        Some(item) => html(&format!("{} #{}", item.build.job, item.build.number.unwrap_or(0))),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// The log a build would have written: what started it, its parameters, its outcome.
fn console_log(item: &Item, user: &str) -> String {
    let b = &item.build;
    let mut log = format!("Started by remote API call by user {user}\n");
    log.push_str("[fake-jenkins] parameters:\n");
    for (k, v) in &b.params {
        log.push_str(&format!("  {k}={v}\n"));
    }
    log.push_str(&format!("Building in workspace /var/jenkins_home/workspace/{}\n", b.job));
    let outcome = item.behaviour.outcome.result().unwrap_or("(never finishes: hang)");
    log.push_str(&format!(
        "[fake-jenkins] #{} of {}: queued {} ms, runs {} ms, then {outcome}\n",
        b.number.unwrap_or(0),
        b.job,
        item.behaviour.queue_delay_ms,
        item.behaviour.run_ms
    ));
    if let Some(by) = &item.stopped_by {
        log.push_str(&format!("Aborted by {by}\n"));
    }
    if let (FakeBuildState::Done, Some(result)) = (b.state, &b.result) {
        log.push_str(&format!("Finished: {result}\n"));
    }
    log
}

async fn console_text(
    State(fake): State<FakeJenkins>,
    Path((job, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    match started_build(&s, &job, &number) {
        Some(item) => {
            ([(header::CONTENT_TYPE, "text/plain;charset=utf-8")], console_log(item, &s.user)).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

/// As Jenkins: stops the build if it runs, and in any case redirects to the build's page.
async fn stop_build(
    State(fake): State<FakeJenkins>,
    Path((job, number)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let url = {
        let s = fake.state();
        if let Err(r) = check_auth(&s, &headers).and_then(|_| check_crumb(&s, &headers)) {
            return *r;
        }
        match started_build(&s, &job, &number) {
            Some(item) => item.build.url.clone().unwrap_or_default(),
            None => return error(StatusCode::NOT_FOUND, "Not Found"),
        }
    };
    if let Ok(n) = number.parse() {
        fake.stop(&job, n);
    }
    (StatusCode::FOUND, [(header::LOCATION, url)]).into_response()
}

// --- the admin API -----------------------------------------------------------------------------

/// A whole behaviour (missing fields: defaults; an empty body: the default behaviour).
fn read_behaviour(body: &[u8]) -> Result<JobBehaviour, String> {
    if body.is_empty() {
        return Ok(JobBehaviour::default());
    }
    serde_json::from_slice(body).map_err(|e| format!("bad job behaviour: {e}"))
}

async fn admin_put_job(State(fake): State<FakeJenkins>, Path(job): Path<String>, body: Bytes) -> Response {
    match read_behaviour(&body) {
        Ok(behaviour) => {
            fake.set_job(&job, behaviour);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(why) => error(StatusCode::BAD_REQUEST, &why),
    }
}

async fn admin_get_job(State(fake): State<FakeJenkins>, Path(job): Path<String>) -> Response {
    match fake.state().jobs.get(&job) {
        Some(b) => axum::Json(*b).into_response(),
        None => error(StatusCode::NOT_FOUND, "no behaviour set for this job: it has the default (GET /__admin/jobs)"),
    }
}

fn read_patch(body: &[u8]) -> Result<JobBehaviourPatch, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad job behaviour: {e}"))
}

async fn admin_patch_job(State(fake): State<FakeJenkins>, Path(job): Path<String>, body: Bytes) -> Response {
    let patch = match read_patch(&body) {
        Ok(p) => p,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let behaviour = patch.apply(fake.behaviour_of(&job));
    fake.set_job(&job, behaviour);
    axum::Json(behaviour).into_response()
}

async fn admin_delete_job(State(fake): State<FakeJenkins>, Path(job): Path<String>) -> Response {
    fake.clear_job(&job);
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_put_default_job(State(fake): State<FakeJenkins>, body: Bytes) -> Response {
    match read_behaviour(&body) {
        Ok(behaviour) => {
            fake.set_default_job(behaviour);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(why) => error(StatusCode::BAD_REQUEST, &why),
    }
}

async fn admin_patch_default_job(State(fake): State<FakeJenkins>, body: Bytes) -> Response {
    let patch = match read_patch(&body) {
        Ok(p) => p,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    let behaviour = patch.apply(fake.state().default_job);
    fake.set_default_job(behaviour);
    axum::Json(behaviour).into_response()
}

async fn admin_get_default_job(State(fake): State<FakeJenkins>) -> Response {
    axum::Json(fake.state().default_job).into_response()
}

async fn admin_builds(State(fake): State<FakeJenkins>) -> Response {
    axum::Json(fake.builds()).into_response()
}

async fn admin_clear_builds(State(fake): State<FakeJenkins>) -> Response {
    fake.clear_builds();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_get_settings(State(fake): State<FakeJenkins>) -> Response {
    axum::Json(fake.settings()).into_response()
}

async fn admin_put_settings(State(fake): State<FakeJenkins>, body: Bytes) -> Response {
    match serde_json::from_slice::<FakeSettings>(&body) {
        Ok(settings) => {
            fake.set_settings(settings);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &format!("bad settings: {e}")),
    }
}

async fn admin_rotate_crumb(State(fake): State<FakeJenkins>) -> Response {
    fake.rotate_crumb();
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_callbacks(State(fake): State<FakeJenkins>) -> Response {
    axum::Json(fake.callbacks()).into_response()
}

/// The artifact a job archives to say what it built and set (the engine reads it).
pub const REPORT_ARTIFACT: &str = engine::jenkins::REPORT_ARTIFACT;

/// What the stand-in's `provision-tenant` reports it built, as the vendor's job would: an EC2
/// instance, a database and a bucket named after the tenant, the web app's URL and a reference
/// to the database password it stored in SSM.
pub fn provision_report() -> Value {
    json!({
        "resources": [
            {"arn": "arn:aws:ec2:us-east-1:123456789012:instance/${INSTANCE_ID}", "name": "${TENANT_NAME} app server"},
            {"arn": "arn:aws:rds:us-east-1:123456789012:db:${TENANT_NAME}", "name": "${TENANT_NAME} database"},
            {"arn": "arn:aws:s3:::${TENANT_NAME}-data", "name": "${TENANT_NAME} data bucket"}
        ],
        "configs": {
            "webapp.url": {"value": "https://${TENANT_NAME}.tenants.example"},
            "db.password": {"secret_ref": "ssm:/tenants/${TENANT_NAME}/db_password"}
        }
    })
}

/// What the stand-in backup job reports: a full backup of the tenant in the local backups bucket.
pub fn backup_report() -> Value {
    json!({
        "backup": {
            "location": "s3://portal-backups-local/${TENANT_NAME}/${BUILD_NUMBER}.tar.zst",
            "size_bytes": 7_340_032,
            "checksum": "sha256:${BUILD_DIGEST}",
            "parts": ["binary", "config", "data", "runtime"]
        }
    })
}

/// Every report the stand-in jobs archive: the provision's resources and configs, the backup's
/// backup.
pub fn reports() -> [(&'static str, Value); 2] {
    [("provision-tenant", provision_report()), ("backup-tenant", backup_report())]
}

/// 64 hex digits that are the same for the same build and differ between builds.
fn digest_of(job: &str, queue_id: u64, number: u64) -> String {
    use std::hash::{Hash, Hasher};
    (0..4u8)
        .map(|round| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (job, queue_id, number, round).hash(&mut h);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// `template` with its `${NAME}` placeholders filled from `vars`.
fn render(template: &Value, vars: &BTreeMap<String, String>) -> Value {
    match template {
        Value::String(s) => {
            let mut out = s.clone();
            for (k, v) in vars {
                out = out.replace(&format!("${{{k}}}"), v);
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| render(v, vars)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (render_key(k, vars), render(v, vars))).collect()),
        other => other.clone(),
    }
}

fn render_key(key: &str, vars: &BTreeMap<String, String>) -> String {
    match render(&Value::String(key.to_owned()), vars) {
        Value::String(s) => s,
        _ => key.to_owned(),
    }
}

async fn artifact(
    State(fake): State<FakeJenkins>,
    Path((job, number, path)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let s = fake.state();
    if let Err(r) = check_auth(&s, &headers) {
        return *r;
    }
    let number: Option<u64> = number.parse().ok();
    let Some(item) = s.items.iter().find(|i| i.build.job == job && number.is_some() && i.build.number == number) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    // Jenkins archives a build's artifacts when it ends; a report is written by a build that worked.
    let (Some(template), true, Some("SUCCESS")) =
        (s.reports.get(&job), path == REPORT_ARTIFACT, item.build.result.as_deref())
    else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let mut vars = item.build.params.clone();
    let n = item.build.number.unwrap_or_default();
    vars.insert("BUILD_NUMBER".into(), n.to_string());
    vars.insert("INSTANCE_ID".into(), format!("i-{:017x}", (item.build.queue_id << 20) ^ n ^ 0x0a11_ce00));
    vars.insert("BUILD_DIGEST".into(), digest_of(&job, item.build.queue_id, n));
    axum::Json(render(template, &vars)).into_response()
}

async fn admin_put_report(State(fake): State<FakeJenkins>, Path(job): Path<String>, body: Bytes) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(template) => {
            fake.set_report(&job, template.clone());
            axum::Json(template).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, &format!("the report template is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_callbacks_are_called() {
        assert!(is_loopback_url("http://127.0.0.1:9000/cb"));
        assert!(is_loopback_url("http://localhost/cb"));
        assert!(is_loopback_url("http://[::1]:80/cb"));
        assert!(!is_loopback_url("http://example.com/cb"));
        assert!(!is_loopback_url("http://127.0.0.1@example.com/cb"));
        assert!(!is_loopback_url("ftp://127.0.0.1/cb"));
    }

    #[test]
    fn behaviours_read_the_admin_json() {
        let b: JobBehaviour = serde_json::from_str(r#"{"outcome": "hang", "run_ms": 5}"#).unwrap();
        assert_eq!(b, JobBehaviour { outcome: FakeOutcome::Hang, queue_delay_ms: 0, run_ms: 5 });
        let b: JobBehaviour = serde_json::from_str(r#"{"outcome": "FAILURE"}"#).unwrap();
        assert_eq!(b.outcome, FakeOutcome::Failure);
        assert!(serde_json::from_str::<JobBehaviour>(r#"{"outcome": "SUCCESS", "delay": 1}"#).is_err());
    }
}
