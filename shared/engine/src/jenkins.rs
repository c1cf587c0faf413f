//! The vendor's "SaaS Jenkins": trigger a parameterized job and follow it to its result.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use reqwest::{Client, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum JenkinsError {
    /// Jenkins refused the credentials or the crumb.
    #[error("jenkins refused the request: {0}")]
    Refused(String),
    #[error("no jenkins job {0}")]
    NoSuchJob(String),
    /// Network trouble or a 5xx: worth retrying.
    #[error("jenkins unavailable: {0}")]
    Unavailable(String),
}

/// A build waiting in (or just out of) the Jenkins queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedBuild {
    pub job: String,
    /// The queue item URL (`.../queue/item/N/`) Jenkins answered `buildWithParameters` with.
    pub queue_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BuildResult {
    Success,
    Unstable,
    Failure,
    Aborted,
    NotBuilt,
}

/// Where a triggered build is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum BuildStatus {
    /// Still in the queue (no build number yet).
    Queued,
    /// Running: its URL is known.
    Running { url: String },
    /// Finished.
    Done { url: String, result: BuildResult },
}

#[async_trait]
pub trait Jenkins: Send + Sync {
    /// `POST /job/<job>/buildWithParameters`; answers the queue item to follow.
    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError>;
    /// Follows a queued build: the queue item until it has a build, then the build.
    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError>;
}

// ---------------------------------------------------------------------------------------------
// The HTTP adapter
// ---------------------------------------------------------------------------------------------

/// What can go wrong building an [`HttpJenkins`]. No message ever contains the token or the
/// secret it came from.
#[derive(Debug, thiserror::Error)]
pub enum JenkinsSetupError {
    #[error("the jenkins base url is not usable: {0}")]
    BadBaseUrl(String),
    #[error("the jenkins secret is not usable: {0}")]
    BadSecret(String),
    #[error("could not build the http client: {0}")]
    Client(String),
}

/// Timeout of every call to Jenkins (connect, send, read the answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Jenkins over its remote-access API, authenticated with a user and an API token (HTTP basic
/// auth on every call), with the CSRF crumb on every POST.
///
/// - `trigger`: `POST {base}/job/{job}/buildWithParameters` (form-encoded parameters) → `201` with
///   `Location: {base}/queue/item/{n}/`. A job name with `/` names a job inside folders
///   (`a/b` → `/job/a/job/b/`).
/// - `status`: `GET {queue item}api/json`; once it has an `executable`, `GET {build}api/json`.
///   Jenkins forgets a queue item about five minutes after it left the queue, so when the item
///   answers 404 the build is found through the job's builds by its `queueId`.
/// - Credentials are only ever sent to `base`: URLs Jenkins answers (queue item, build) are
///   rebuilt under `base` when they point elsewhere (a misconfigured Jenkins root URL), and
///   redirects are not followed.
pub struct HttpJenkins {
    client: Client,
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    base: String,
    user: String,
    token: String,
    crumb: Mutex<Crumb>,
}

#[derive(Clone)]
enum Crumb {
    /// Not asked yet.
    Unknown,
    /// The crumb issuer answered 404: CSRF protection is off.
    NotNeeded,
    Header(HeaderName, HeaderValue),
}

impl std::fmt::Debug for HttpJenkins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpJenkins")
            .field("base", &self.base)
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrumbJson {
    crumb_request_field: String,
    crumb: String,
}

#[derive(Deserialize)]
struct QueueItemJson {
    #[serde(default)]
    cancelled: Option<bool>,
    #[serde(default)]
    executable: Option<ExecutableJson>,
}

#[derive(Deserialize)]
struct ExecutableJson {
    number: u64,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct BuildJson {
    #[serde(default)]
    building: bool,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize)]
struct JobJson {
    #[serde(default)]
    builds: Vec<JobBuildJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobBuildJson {
    number: u64,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    queue_id: Option<u64>,
}

impl HttpJenkins {
    /// A client of the Jenkins at `base` (e.g. `https://ci.vendor.example` or
    /// `http://127.0.0.1:8080/jenkins`), calling as `user` with the API `token`.
    pub fn new(base: &str, user: impl Into<String>, token: impl Into<String>) -> Result<Self, JenkinsSetupError> {
        Self::with_timeout(base, user, token, DEFAULT_TIMEOUT)
    }

    /// [`HttpJenkins::new`] with another timeout than [`DEFAULT_TIMEOUT`].
    pub fn with_timeout(
        base: &str,
        user: impl Into<String>,
        token: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, JenkinsSetupError> {
        let base = normalize_base(base)?;
        let (user, token) = (user.into(), token.into());
        if user.is_empty() || token.is_empty() {
            return Err(JenkinsSetupError::BadSecret("the user and the token must not be empty".into()));
        }
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("admin-portal-engine/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JenkinsSetupError::Client(e.to_string()))?;
        Ok(Self { client, base, user, token, crumb: Mutex::new(Crumb::Unknown) })
    }

    /// A client from the JSON kept in the SSM SecureString: `{"user": "...", "token": "..."}`
    /// (other fields are ignored). Errors say what is wrong, never what the secret holds.
    pub fn from_secret(base: &str, secret_json: &str) -> Result<Self, JenkinsSetupError> {
        let (user, token) = parse_secret(secret_json)?;
        Self::new(base, user, token)
    }

    /// The base URL every call goes to (normalized, without a trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn job_url(&self, job: &str) -> Result<String, JenkinsError> {
        job_path(job).map(|p| format!("{}{p}", self.base)).ok_or_else(|| JenkinsError::NoSuchJob(job.to_owned()))
    }

    async fn get(&self, url: &str, what: &str) -> Result<reqwest::Response, JenkinsError> {
        self.client.get(url).basic_auth(&self.user, Some(&self.token)).send().await.map_err(|e| transport(&e, what))
    }

    async fn read_json<T: DeserializeOwned>(resp: reqwest::Response, what: &str) -> Result<T, JenkinsError> {
        // The error of a failed decode may quote the body: say only which answer was unreadable.
        resp.json::<T>().await.map_err(|e| {
            if e.is_decode() {
                JenkinsError::Unavailable(format!("{what}: jenkins answered JSON of an unexpected shape"))
            } else {
                transport(&e, what)
            }
        })
    }

    /// The crumb to send on POSTs: the cached one, or a fresh one when `refresh` (or none yet).
    async fn crumb(&self, refresh: bool) -> Result<Crumb, JenkinsError> {
        if !refresh {
            let cached = self.crumb.lock().map(|c| c.clone()).unwrap_or(Crumb::Unknown);
            if !matches!(cached, Crumb::Unknown) {
                return Ok(cached);
            }
        }
        let what = "crumb issuer";
        let resp = self.get(&format!("{}/crumbIssuer/api/json", self.base), what).await?;
        let crumb = match resp.status() {
            s if s.is_success() => {
                let c: CrumbJson = Self::read_json(resp, what).await?;
                let name = HeaderName::from_bytes(c.crumb_request_field.as_bytes());
                let value = HeaderValue::from_str(&c.crumb);
                match (name, value) {
                    (Ok(n), Ok(v)) => Crumb::Header(n, v),
                    _ => {
                        return Err(JenkinsError::Unavailable(format!("{what}: the crumb is not a valid HTTP header")));
                    }
                }
            }
            StatusCode::NOT_FOUND => Crumb::NotNeeded,
            s => return Err(by_status(s, &resp, what)),
        };
        if let Ok(mut c) = self.crumb.lock() {
            *c = crumb.clone();
        }
        Ok(crumb)
    }

    /// `url` when it is under `base`; otherwise the same path rebuilt under `base`.
    fn under_base(
        &self,
        url: Option<&str>,
        fallback: impl FnOnce() -> Result<String, JenkinsError>,
    ) -> Result<String, JenkinsError> {
        match url {
            Some(u) if u.starts_with(&format!("{}/", self.base)) => {
                Ok(if u.ends_with('/') { u.to_owned() } else { format!("{u}/") })
            }
            _ => fallback(),
        }
    }

    async fn build_status(&self, job: &str, number: u64, url: Option<&str>) -> Result<BuildStatus, JenkinsError> {
        let build_url = self.under_base(url, || Ok(format!("{}{number}/", self.job_url(job)?)))?;
        let what = "build";
        let resp = self.get(&format!("{build_url}api/json"), what).await?;
        match resp.status() {
            s if s.is_success() => {
                let b: BuildJson = Self::read_json(resp, what).await?;
                let url = b.url.or_else(|| url.map(str::to_owned)).unwrap_or(build_url);
                Ok(match (b.building, b.result) {
                    (false, Some(r)) => BuildStatus::Done { url, result: parse_result(&r) },
                    // Still building, or finished an instant ago and the result not yet set.
                    _ => BuildStatus::Running { url },
                })
            }
            StatusCode::NOT_FOUND => {
                Err(JenkinsError::Unavailable(format!("build {number} of {job} is gone (deleted by Jenkins?)")))
            }
            s => Err(by_status(s, &resp, what)),
        }
    }

    /// The build that came out of queue item `item`, found through the job's builds.
    async fn find_by_queue_id(&self, job: &str, item: u64) -> Result<BuildStatus, JenkinsError> {
        let what = "job";
        let resp = self.get(&format!("{}api/json?tree=builds[number,url,queueId]", self.job_url(job)?), what).await?;
        match resp.status() {
            s if s.is_success() => {
                let j: JobJson = Self::read_json(resp, what).await?;
                match j.builds.into_iter().find(|b| b.queue_id == Some(item)) {
                    Some(b) => self.build_status(job, b.number, b.url.as_deref()).await,
                    None => Err(JenkinsError::Unavailable(format!(
                        "queue item {item} of {job} is gone and none of the job's builds came from it"
                    ))),
                }
            }
            StatusCode::NOT_FOUND => Err(JenkinsError::NoSuchJob(job.to_owned())),
            s => Err(by_status(s, &resp, what)),
        }
    }
}

#[async_trait]
impl Jenkins for HttpJenkins {
    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError> {
        // Parameter values may be secrets: log their names only.
        tracing::info!(job, params = ?params.keys().collect::<Vec<_>>(), "triggering a jenkins build");
        let url = format!("{}buildWithParameters", self.job_url(job)?);
        let body = form_encode(params);
        let what = "buildWithParameters";
        let mut crumb = self.crumb(false).await?;
        let mut refreshed = false;
        loop {
            let mut req = self
                .client
                .post(&url)
                .basic_auth(&self.user, Some(&self.token))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body.clone());
            if let Crumb::Header(name, value) = &crumb {
                req = req.header(name.clone(), value.clone());
            }
            let resp = req.send().await.map_err(|e| transport(&e, what))?;
            match resp.status() {
                s if s.is_success() => {
                    let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
                    // The build may be queued: not worth a retry that could queue a second one.
                    let item = queue_item_number(location).ok_or_else(|| {
                        JenkinsError::Refused(format!(
                            "{what}: HTTP {s} without a queue item Location (is the job parameterized?)"
                        ))
                    })?;
                    let queue_url = format!("{}/queue/item/{item}/", self.base);
                    tracing::info!(job, %queue_url, "jenkins queued the build");
                    return Ok(QueuedBuild { job: job.to_owned(), queue_url });
                }
                StatusCode::FORBIDDEN if !refreshed => {
                    // Most likely a stale crumb (Jenkins restarted, session expired): once more
                    // with a fresh one.
                    tracing::info!(job, "jenkins answered 403: fetching a new crumb");
                    refreshed = true;
                    crumb = self.crumb(true).await?;
                }
                StatusCode::NOT_FOUND => return Err(JenkinsError::NoSuchJob(job.to_owned())),
                s => return Err(by_status(s, &resp, what)),
            }
        }
    }

    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError> {
        let item = queue_item_number(&build.queue_url)
            .ok_or_else(|| JenkinsError::Refused(format!("{} is not a jenkins queue item url", build.queue_url)))?;
        let what = "queue item";
        let resp = self.get(&format!("{}/queue/item/{item}/api/json", self.base), what).await?;
        match resp.status() {
            s if s.is_success() => {
                let q: QueueItemJson = Self::read_json(resp, what).await?;
                match q.executable {
                    Some(exe) => self.build_status(&build.job, exe.number, exe.url.as_deref()).await,
                    None if q.cancelled == Some(true) => {
                        Ok(BuildStatus::Done { url: build.queue_url.clone(), result: BuildResult::Aborted })
                    }
                    None => Ok(BuildStatus::Queued),
                }
            }
            StatusCode::NOT_FOUND => self.find_by_queue_id(&build.job, item).await,
            s => Err(by_status(s, &resp, what)),
        }
    }
}

fn normalize_base(base: &str) -> Result<String, JenkinsSetupError> {
    let url =
        reqwest::Url::parse(base.trim()).map_err(|e| JenkinsSetupError::BadBaseUrl(format!("not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(JenkinsSetupError::BadBaseUrl(format!("scheme {:?} is not http or https", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo it: the part before `@` may be a credential.
        return Err(JenkinsSetupError::BadBaseUrl("credentials belong in the secret, not in the URL".into()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(JenkinsSetupError::BadBaseUrl("a base URL has no query or fragment".into()));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

fn parse_secret(secret_json: &str) -> Result<(String, String), JenkinsSetupError> {
    // serde's messages can quote the input: build our own, naming fields only.
    let bad =
        |why: &str| JenkinsSetupError::BadSecret(format!("{why} (expected {{\"user\": \"...\", \"token\": \"...\"}})"));
    let value: serde_json::Value = serde_json::from_str(secret_json).map_err(|_| bad("not valid JSON"))?;
    let obj = value.as_object().ok_or_else(|| bad("not a JSON object"))?;
    let field = |name: &str| match obj.get(name) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(serde_json::Value::String(_)) => Err(bad(&format!("field {name:?} is empty"))),
        Some(_) => Err(bad(&format!("field {name:?} is not a string"))),
        None => Err(bad(&format!("field {name:?} is missing"))),
    };
    Ok((field("user")?, field("token")?))
}

/// `/job/a/job/b/` for `a/b` (each segment percent-encoded); `None` for an empty name or segment.
fn job_path(job: &str) -> Option<String> {
    let mut path = String::new();
    for segment in job.split('/') {
        if segment.is_empty() {
            return None;
        }
        path.push_str("/job/");
        path.push_str(&percent_encode(segment));
    }
    path.push('/');
    Some(path)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `application/x-www-form-urlencoded` (reqwest's `form` feature is off in this workspace).
fn form_encode(params: &BTreeMap<String, String>) -> String {
    let enc = |s: &str| percent_encode(s).replace("%20", "+");
    params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// `N` of a `.../queue/item/N/` URL (absolute or not).
fn queue_item_number(url: &str) -> Option<u64> {
    let (_, rest) = url.split_once("/queue/item/")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[digits.len()..];
    if !(after.is_empty() || after.starts_with('/')) {
        return None;
    }
    digits.parse().ok()
}

fn parse_result(result: &str) -> BuildResult {
    match result {
        "SUCCESS" => BuildResult::Success,
        "UNSTABLE" => BuildResult::Unstable,
        "FAILURE" => BuildResult::Failure,
        "ABORTED" => BuildResult::Aborted,
        "NOT_BUILT" => BuildResult::NotBuilt,
        other => {
            tracing::warn!(result = other, "unknown jenkins build result: counted as a failure");
            BuildResult::Failure
        }
    }
}

fn transport(e: &reqwest::Error, what: &str) -> JenkinsError {
    let mut msg = if e.is_timeout() { format!("{what}: timed out") } else { format!("{what}: {e}") };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    JenkinsError::Unavailable(msg)
}

fn by_status(status: StatusCode, resp: &reqwest::Response, what: &str) -> JenkinsError {
    let s = status.as_u16();
    match s {
        401 => JenkinsError::Refused(format!("{what}: HTTP 401: check the jenkins user and API token")),
        403 => JenkinsError::Refused(format!("{what}: HTTP 403: the user may not do this, or the crumb was refused")),
        408 | 429 => JenkinsError::Unavailable(format!("{what}: HTTP {s}")),
        s if s >= 500 => JenkinsError::Unavailable(format!("{what}: HTTP {s}")),
        300..=399 => {
            let to = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("?");
            JenkinsError::Refused(format!("{what}: redirected (HTTP {s}) to {to}: check the jenkins base URL"))
        }
        s => JenkinsError::Refused(format!("{what}: unexpected HTTP {s}")),
    }
}

// ---------------------------------------------------------------------------------------------
// The in-memory fake
// ---------------------------------------------------------------------------------------------

/// How a job of [`MemoryJenkins`] behaves, counted in `status` calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobScript {
    /// `None`: runs forever.
    pub result: Option<BuildResult>,
    /// `status` answers `Queued` this many times first.
    pub queued_polls: u32,
    /// Then `Running` this many times before the result.
    pub running_polls: u32,
}

impl JobScript {
    /// Done with `SUCCESS` at the first `status`.
    pub fn success() -> Self {
        Self::finishing(BuildResult::Success)
    }

    /// Done with `FAILURE` at the first `status`.
    pub fn failure() -> Self {
        Self::finishing(BuildResult::Failure)
    }

    pub fn finishing(result: BuildResult) -> Self {
        Self { result: Some(result), queued_polls: 0, running_polls: 0 }
    }

    /// Starts and never finishes.
    pub fn hang() -> Self {
        Self { result: None, queued_polls: 0, running_polls: 0 }
    }

    pub fn queued_for(mut self, polls: u32) -> Self {
        self.queued_polls = polls;
        self
    }

    pub fn running_for(mut self, polls: u32) -> Self {
        self.running_polls = polls;
        self
    }
}

/// A build [`MemoryJenkins`] was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triggered {
    pub job: String,
    pub params: BTreeMap<String, String>,
    pub queue_url: String,
}

/// Jenkins for unit tests: scripted per job, records every trigger. Unscripted jobs succeed at
/// the first `status` (or are [`JenkinsError::NoSuchJob`] when [`MemoryJenkins::strict`]).
#[derive(Default)]
pub struct MemoryJenkins {
    state: Mutex<MemoryJenkinsState>,
}

#[derive(Default)]
struct MemoryJenkinsState {
    scripts: HashMap<String, JobScript>,
    strict: bool,
    down: bool,
    refusing: bool,
    builds: Vec<MemoryBuild>,
}

struct MemoryBuild {
    triggered: Triggered,
    script: JobScript,
    number: u64,
    polls: u32,
}

impl MemoryJenkins {
    pub fn new() -> Self {
        Self::default()
    }

    /// Unscripted jobs do not exist.
    pub fn strict(self) -> Self {
        if let Ok(mut s) = self.state.lock() {
            s.strict = true;
        }
        self
    }

    /// How builds of `job` triggered from now on behave.
    pub fn script(&self, job: &str, script: JobScript) {
        if let Ok(mut s) = self.state.lock() {
            s.scripts.insert(job.to_owned(), script);
        }
    }

    /// Every later call fails with [`JenkinsError::Unavailable`] (Jenkins down).
    pub fn set_down(&self, down: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.down = down;
        }
    }

    /// Every later call fails with [`JenkinsError::Refused`] (a revoked token).
    pub fn set_refusing(&self, refusing: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.refusing = refusing;
        }
    }

    /// Every build triggered so far, in order.
    pub fn triggered(&self) -> Vec<Triggered> {
        self.state.lock().map(|s| s.builds.iter().map(|b| b.triggered.clone()).collect()).unwrap_or_default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, MemoryJenkinsState>, JenkinsError> {
        let s = self.state.lock().map_err(|_| JenkinsError::Unavailable("memory jenkins poisoned".into()))?;
        if s.down {
            return Err(JenkinsError::Unavailable("memory jenkins is down".into()));
        }
        if s.refusing {
            return Err(JenkinsError::Refused("memory jenkins refuses the token".into()));
        }
        Ok(s)
    }
}

const MEMORY_BASE: &str = "memory://jenkins";

#[async_trait]
impl Jenkins for MemoryJenkins {
    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError> {
        let mut s = self.lock()?;
        let script = match s.scripts.get(job) {
            Some(script) => script.clone(),
            None if s.strict => return Err(JenkinsError::NoSuchJob(job.to_owned())),
            None => JobScript::success(),
        };
        let item = s.builds.len() as u64 + 1;
        let number = s.builds.iter().filter(|b| b.triggered.job == job).count() as u64 + 1;
        let queue_url = format!("{MEMORY_BASE}/queue/item/{item}/");
        let triggered = Triggered { job: job.to_owned(), params: params.clone(), queue_url: queue_url.clone() };
        s.builds.push(MemoryBuild { triggered, script, number, polls: 0 });
        Ok(QueuedBuild { job: job.to_owned(), queue_url })
    }

    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError> {
        let mut s = self.lock()?;
        let b = s.builds.iter_mut().find(|b| b.triggered.queue_url == build.queue_url).ok_or_else(|| {
            JenkinsError::Unavailable(format!("memory jenkins has no queue item {}", build.queue_url))
        })?;
        let poll = b.polls;
        b.polls = b.polls.saturating_add(1);
        let url = format!("{MEMORY_BASE}{}{}/", job_path(&b.triggered.job).unwrap_or_default(), b.number);
        let script = &b.script;
        Ok(if poll < script.queued_polls {
            BuildStatus::Queued
        } else {
            match script.result {
                Some(result) if poll >= script.queued_polls.saturating_add(script.running_polls) => {
                    BuildStatus::Done { url, result }
                }
                _ => BuildStatus::Running { url },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_secret_gives_user_and_token_and_its_errors_never_echo_it() {
        let j =
            HttpJenkins::from_secret("https://ci.vendor.example/", r#"{"user": "portal", "token": "s3cr3t-t0ken"}"#)
                .expect("a good secret");
        assert_eq!(j.base_url(), "https://ci.vendor.example");
        assert!(!format!("{j:?}").contains("s3cr3t-t0ken"), "Debug must redact the token: {j:?}");

        for bad in [
            r#"{"user": "portal", "token": "s3cr3t-t0ken""#,
            r#""s3cr3t-t0ken""#,
            r#"{"user": "portal"}"#,
            r#"{"user": "portal", "token": ["s3cr3t-t0ken"]}"#,
            r#"{"user": "s3cr3t-t0ken", "token": 12345}"#,
            r#"{"user": "", "token": "s3cr3t-t0ken"}"#,
            "s3cr3t-t0ken",
        ] {
            let err = HttpJenkins::from_secret("https://ci.vendor.example", bad).expect_err(bad);
            let shown = format!("{err} {err:?}");
            assert!(matches!(err, JenkinsSetupError::BadSecret(_)), "{shown}");
            assert!(!shown.contains("s3cr3t") && !shown.contains("12345"), "the error echoes the secret: {shown}");
        }
    }

    #[test]
    fn base_urls_are_checked_and_normalized() {
        let base = |b: &str| HttpJenkins::new(b, "u", "t").map(|j| j.base_url().to_owned());
        assert_eq!(base("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(base("https://ci.example/jenkins/").unwrap(), "https://ci.example/jenkins");
        let err = base("https://portal:hunter2@ci.example").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(base("ftp://ci.example").is_err());
        assert!(base("ci.example").is_err());
        assert!(base("https://ci.example/?x=1").is_err());
    }

    #[test]
    fn job_names_become_paths_and_queue_urls_give_their_item() {
        assert_eq!(job_path("deploy").as_deref(), Some("/job/deploy/"));
        assert_eq!(job_path("tenants/deploy prod").as_deref(), Some("/job/tenants/job/deploy%20prod/"));
        assert_eq!(job_path(""), None);
        assert_eq!(job_path("a//b"), None);
        assert_eq!(queue_item_number("https://ci.example/queue/item/42/"), Some(42));
        assert_eq!(queue_item_number("/queue/item/7"), Some(7));
        assert_eq!(queue_item_number("https://ci.example/queue/item/4x2/"), None);
        assert_eq!(queue_item_number("https://ci.example/job/x/1/"), None);
        assert_eq!(form_encode(&params(&[("A", "x y&z=1"), ("B", "é")])), "A=x+y%26z%3D1&B=%C3%A9");
        assert_eq!(parse_result("NOT_BUILT"), BuildResult::NotBuilt);
        assert_eq!(parse_result("SOMETHING_NEW"), BuildResult::Failure);
    }

    #[tokio::test]
    async fn the_memory_fake_follows_its_script_and_records_triggers() {
        let j = MemoryJenkins::new();
        j.script("upgrade", JobScript::success().queued_for(1).running_for(2));
        j.script("backup", JobScript::failure());
        j.script("restore", JobScript::hang());
        let p = params(&[("TENANT", "t-1")]);

        let up = j.trigger("upgrade", &p).await.unwrap();
        assert_eq!(j.status(&up).await.unwrap(), BuildStatus::Queued);
        let url = "memory://jenkins/job/upgrade/1/".to_owned();
        assert_eq!(j.status(&up).await.unwrap(), BuildStatus::Running { url: url.clone() });
        assert_eq!(j.status(&up).await.unwrap(), BuildStatus::Running { url: url.clone() });
        assert_eq!(j.status(&up).await.unwrap(), BuildStatus::Done { url, result: BuildResult::Success });

        let b = j.trigger("backup", &p).await.unwrap();
        assert!(matches!(j.status(&b).await.unwrap(), BuildStatus::Done { result: BuildResult::Failure, .. }));
        let r = j.trigger("restore", &p).await.unwrap();
        for _ in 0..10 {
            assert!(matches!(j.status(&r).await.unwrap(), BuildStatus::Running { .. }));
        }
        let other = j.trigger("anything", &BTreeMap::new()).await.unwrap();
        assert!(matches!(j.status(&other).await.unwrap(), BuildStatus::Done { result: BuildResult::Success, .. }));

        let jobs: Vec<_> = j.triggered().into_iter().map(|t| t.job).collect();
        assert_eq!(jobs, ["upgrade", "backup", "restore", "anything"]);
        assert_eq!(j.triggered()[0].params, p);

        j.set_down(true);
        assert!(matches!(j.trigger("upgrade", &p).await, Err(JenkinsError::Unavailable(_))));
        j.set_down(false);
        j.set_refusing(true);
        assert!(matches!(j.status(&up).await, Err(JenkinsError::Refused(_))));

        let strict = MemoryJenkins::new().strict();
        assert!(matches!(strict.trigger("nope", &p).await, Err(JenkinsError::NoSuchJob(j)) if j == "nope"));
    }
}
