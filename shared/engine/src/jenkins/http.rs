//! [`HttpJenkins`]: the [`Jenkins`] port over Jenkins's remote-access API.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use reqwest::{Client, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{BuildResult, BuildStatus, Jenkins, JenkinsError, QueuedBuild, REPORT_ARTIFACT, STEP_ID_PARAM};

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
/// - `find`: `GET {base}/queue/api/json` (items waiting, with their parameters), then
///   `GET {job}api/json?tree=builds[...]` (the job's latest 100 builds, with their parameters
///   and `queueId`), in that order, so a build leaving the queue in between is seen in one of
///   the two; the match with the highest queue id wins.
/// - `stop`: `POST {base}/queue/cancelItem?id={n}` while queued, `POST {build}stop` once it runs
///   (both answer a redirect or a 2xx on Jenkins versions alike); 404s mean gone, hence stopped.
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
    /// Read leniently (Jenkins lists `{}` for actions the tree leaves out).
    #[serde(default)]
    actions: Vec<Value>,
}

#[derive(Deserialize)]
struct QueueJson {
    #[serde(default)]
    items: Vec<QueueEntryJson>,
}

#[derive(Deserialize)]
struct QueueEntryJson {
    id: u64,
    #[serde(default)]
    task: Option<TaskJson>,
    #[serde(default)]
    actions: Vec<Value>,
}

#[derive(Deserialize)]
struct TaskJson {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
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

    /// The URL of build `number` of `job` under `base`: `url` (as Jenkins gave it) when it is.
    fn build_url(&self, job: &str, number: u64, url: Option<&str>) -> Result<String, JenkinsError> {
        self.under_base(url, || Ok(format!("{}{number}/", self.job_url(job)?)))
    }

    /// The build URL `build` carries (set by `find`), refused unless under `base`: credentials
    /// only ever go there.
    fn carried_build_url(&self, build: &QueuedBuild) -> Result<Option<String>, JenkinsError> {
        let Some(url) = &build.build_url else { return Ok(None) };
        self.under_base(Some(url), || {
            Err(JenkinsError::Refused(format!("{url} is not a build of the jenkins at {}", self.base)))
        })
        .map(Some)
    }

    /// A POST with the crumb; a 403 fetches a new crumb and tries once more (a stale crumb:
    /// Jenkins restarted, the session expired). Answers any other response as it is.
    async fn post(&self, url: &str, form: Option<&str>, what: &str) -> Result<reqwest::Response, JenkinsError> {
        let mut crumb = self.crumb(false).await?;
        let mut refreshed = false;
        loop {
            let mut req = self.client.post(url).basic_auth(&self.user, Some(&self.token));
            if let Some(body) = form {
                req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(body.to_owned());
            }
            if let Crumb::Header(name, value) = &crumb {
                req = req.header(name.clone(), value.clone());
            }
            let resp = req.send().await.map_err(|e| transport(&e, what))?;
            if resp.status() == StatusCode::FORBIDDEN && !refreshed {
                tracing::info!(what, "jenkins answered 403: fetching a new crumb");
                refreshed = true;
                crumb = self.crumb(true).await?;
                continue;
            }
            return Ok(resp);
        }
    }

    async fn build_status(&self, build_url: &str) -> Result<BuildStatus, JenkinsError> {
        let what = "build";
        let resp = self.get(&format!("{build_url}api/json"), what).await?;
        match resp.status() {
            s if s.is_success() => {
                let b: BuildJson = Self::read_json(resp, what).await?;
                let url = self.under_base(b.url.as_deref(), || Ok(build_url.to_owned()))?;
                Ok(match (b.building, b.result) {
                    (false, Some(r)) => BuildStatus::done(url, parse_result(&r)),
                    // Still building, or finished an instant ago and the result not yet set.
                    _ => BuildStatus::Running { url },
                })
            }
            StatusCode::NOT_FOUND => {
                Err(JenkinsError::Unavailable(format!("build {build_url} is gone (deleted by Jenkins?)")))
            }
            s => Err(by_status(s, &resp, what)),
        }
    }

    /// The job's latest builds (newest first), with their parameters.
    async fn job_builds(&self, job: &str) -> Result<Vec<JobBuildJson>, JenkinsError> {
        let what = "job";
        let tree = "builds[number,url,queueId,actions[parameters[name,value]]]";
        let resp = self.get(&format!("{}api/json?tree={tree}", self.job_url(job)?), what).await?;
        match resp.status() {
            s if s.is_success() => Ok(Self::read_json::<JobJson>(resp, what).await?.builds),
            StatusCode::NOT_FOUND => Err(JenkinsError::NoSuchJob(job.to_owned())),
            s => Err(by_status(s, &resp, what)),
        }
    }

    /// The URL of the build that came out of queue item `item`, found through the job's builds.
    async fn build_of_queue_item(&self, job: &str, item: u64) -> Result<Option<String>, JenkinsError> {
        match self.job_builds(job).await?.into_iter().find(|b| b.queue_id == Some(item)) {
            Some(b) => self.build_url(job, b.number, b.url.as_deref()).map(Some),
            None => Ok(None),
        }
    }

    /// Queue item `item` as Jenkins answers it; `None` once Jenkins forgot it (404).
    async fn queue_item(&self, item: u64) -> Result<Option<QueueItemJson>, JenkinsError> {
        let what = "queue item";
        let resp = self.get(&format!("{}/queue/item/{item}/api/json", self.base), what).await?;
        match resp.status() {
            s if s.is_success() => Self::read_json(resp, what).await.map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(by_status(s, &resp, what)),
        }
    }

    /// The items waiting in the queue.
    async fn queue(&self) -> Result<Vec<QueueEntryJson>, JenkinsError> {
        let what = "queue";
        let tree = "items[id,task[name,url],actions[parameters[name,value]]]";
        let resp = self.get(&format!("{}/queue/api/json?tree={tree}", self.base), what).await?;
        match resp.status() {
            s if s.is_success() => Ok(Self::read_json::<QueueJson>(resp, what).await?.items),
            s => Err(by_status(s, &resp, what)),
        }
    }

    /// `POST {build}stop`. A redirect is what Jenkins answers (to the build page); a 404 is a
    /// build that is gone.
    async fn stop_build(&self, build_url: &str) -> Result<(), JenkinsError> {
        let what = "stop";
        let resp = self.post(&format!("{build_url}stop"), None, what).await?;
        match resp.status() {
            s if s.is_success() || s.is_redirection() || s == StatusCode::NOT_FOUND => {
                tracing::info!(build = build_url, "asked jenkins to stop the build");
                Ok(())
            }
            s => Err(by_status(s, &resp, what)),
        }
    }

    /// `POST /queue/cancelItem?id=`: whether Jenkins said it did (204, or the redirect of older
    /// versions). Jenkins answers 404 for an item that already left the queue, and some
    /// versions for a cancelled one too: the caller reads the item again to know.
    async fn cancel_item(&self, item: u64) -> Result<bool, JenkinsError> {
        let what = "cancelItem";
        let resp = self.post(&format!("{}/queue/cancelItem?id={item}", self.base), None, what).await?;
        match resp.status() {
            s if s.is_success() || s.is_redirection() => Ok(true),
            StatusCode::NOT_FOUND | StatusCode::INTERNAL_SERVER_ERROR | StatusCode::UNPROCESSABLE_ENTITY => Ok(false),
            s => Err(by_status(s, &resp, what)),
        }
    }
}

/// Tries at stopping a queued build: cancelling it, which races with Jenkins starting it.
const STOP_ATTEMPTS: u32 = 3;

#[async_trait]
impl Jenkins for HttpJenkins {
    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError> {
        // Parameter values may be secrets: log their names only.
        tracing::info!(job, params = ?params.keys().collect::<Vec<_>>(), "triggering a jenkins build");
        let url = format!("{}buildWithParameters", self.job_url(job)?);
        let what = "buildWithParameters";
        let resp = self.post(&url, Some(&form_encode(params)), what).await?;
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
                Ok(QueuedBuild::queued(job, queue_url))
            }
            StatusCode::NOT_FOUND => Err(JenkinsError::NoSuchJob(job.to_owned())),
            s => Err(by_status(s, &resp, what)),
        }
    }

    #[tracing::instrument(skip(self))]
    async fn report(&self, build_url: &str) -> Result<Option<serde_json::Value>, JenkinsError> {
        let what = "build report";
        let build = self.under_base(Some(build_url), || {
            Err(JenkinsError::Refused(format!("{build_url} is not a build of the jenkins at {}", self.base)))
        })?;
        let url = if build.ends_with('/') {
            format!("{build}artifact/{REPORT_ARTIFACT}")
        } else {
            format!("{build}/artifact/{REPORT_ARTIFACT}")
        };
        let resp = self.get(&url, what).await?;
        match resp.status() {
            s if s.is_success() => Self::read_json(resp, what).await.map(Some),
            StatusCode::NOT_FOUND => Ok(None),
            s => Err(by_status(s, &resp, what)),
        }
    }

    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError> {
        if let Some(url) = self.carried_build_url(build)? {
            return self.build_status(&url).await;
        }
        let item = queue_item_number(&build.queue_url)
            .ok_or_else(|| JenkinsError::Refused(format!("{} is not a jenkins queue item url", build.queue_url)))?;
        match self.queue_item(item).await? {
            Some(QueueItemJson { executable: Some(exe), .. }) => {
                self.build_status(&self.build_url(&build.job, exe.number, exe.url.as_deref())?).await
            }
            Some(QueueItemJson { cancelled: Some(true), .. }) => {
                Ok(BuildStatus::Done { url: build.queue_url.clone(), result: BuildResult::Aborted, console_url: None })
            }
            Some(_) => Ok(BuildStatus::Queued),
            None => match self.build_of_queue_item(&build.job, item).await? {
                Some(url) => self.build_status(&url).await,
                None => Err(JenkinsError::Unavailable(format!(
                    "queue item {item} of {} is gone and none of the job's builds came from it",
                    build.job
                ))),
            },
        }
    }

    async fn find(&self, job: &str, step_id: &str) -> Result<Option<QueuedBuild>, JenkinsError> {
        let job_path = job_path(job).ok_or_else(|| JenkinsError::NoSuchJob(job.to_owned()))?;
        // The queue first: an item that leaves it before the builds are read is among them.
        let queued = self
            .queue()
            .await?
            .into_iter()
            .filter(|i| i.task.as_ref().is_some_and(|t| is_task_of(t, job, &job_path)))
            .filter(|i| has_param(&i.actions, STEP_ID_PARAM, step_id))
            .map(|i| i.id)
            .max();
        let started = self
            .job_builds(job)
            .await?
            .into_iter()
            .filter(|b| has_param(&b.actions, STEP_ID_PARAM, step_id))
            .max_by_key(|b| (b.queue_id, b.number));
        let found = match (queued, started) {
            (Some(item), Some(b)) if b.queue_id.is_none_or(|q| q < item) => {
                Some(QueuedBuild::queued(job, format!("{}/queue/item/{item}/", self.base)))
            }
            (_, Some(b)) => Some(QueuedBuild {
                job: job.to_owned(),
                queue_url: b.queue_id.map(|q| format!("{}/queue/item/{q}/", self.base)).unwrap_or_default(),
                build_url: Some(self.build_url(job, b.number, b.url.as_deref())?),
            }),
            (Some(item), None) => Some(QueuedBuild::queued(job, format!("{}/queue/item/{item}/", self.base))),
            (None, None) => None,
        };
        tracing::info!(job, step_id, found = ?found, "looked for the build of a step");
        Ok(found)
    }

    async fn stop(&self, build: &QueuedBuild) -> Result<(), JenkinsError> {
        if let Some(url) = self.carried_build_url(build)? {
            // Jenkins answers a stop of a finished build with the same redirect: no need to ask first.
            return self.stop_build(&url).await;
        }
        let item = queue_item_number(&build.queue_url)
            .ok_or_else(|| JenkinsError::Refused(format!("{} is not a jenkins queue item url", build.queue_url)))?;
        for _ in 0..STOP_ATTEMPTS {
            match self.queue_item(item).await? {
                Some(QueueItemJson { executable: Some(exe), .. }) => {
                    return self.stop_build(&self.build_url(&build.job, exe.number, exe.url.as_deref())?).await;
                }
                Some(QueueItemJson { cancelled: Some(true), .. }) => return Ok(()),
                Some(_) => {
                    if self.cancel_item(item).await? {
                        tracing::info!(job = build.job, item, "cancelled the queued jenkins build");
                        return Ok(());
                    }
                    // Not cancelled: it may have just started. Read the item again.
                }
                None => {
                    return match self.build_of_queue_item(&build.job, item).await? {
                        Some(url) => self.stop_build(&url).await,
                        // Forgotten, and no build came of it: nothing runs.
                        None => Ok(()),
                    };
                }
            }
        }
        Err(JenkinsError::Unavailable(format!(
            "queue item {item} of {} could neither be cancelled nor found started",
            build.job
        )))
    }
}

/// Whether a queue item's task is `job` (its URL ends with the job's path; a task without a URL
/// by its name, for a job outside folders).
fn is_task_of(task: &TaskJson, job: &str, job_path: &str) -> bool {
    match (&task.url, &task.name) {
        (Some(url), _) => url.ends_with(job_path) || format!("{url}/").ends_with(job_path),
        (None, Some(name)) => name == job,
        (None, None) => false,
    }
}

/// Whether any `parameters` of `actions` (Jenkins's `ParametersAction`) holds `name` = `value`.
fn has_param(actions: &[Value], name: &str, value: &str) -> bool {
    actions.iter().filter_map(|a| a.get("parameters").and_then(Value::as_array)).flatten().any(|p| {
        p.get("name").and_then(Value::as_str) == Some(name) && p.get("value").and_then(Value::as_str) == Some(value)
    })
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
pub(super) fn job_path(job: &str) -> Option<String> {
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

    #[test]
    fn queue_items_and_builds_are_matched_by_their_step_id_parameter() {
        let actions = vec![
            serde_json::json!({}),
            serde_json::json!({"_class": "hudson.model.CauseAction", "causes": []}),
            serde_json::json!({"_class": "hudson.model.ParametersAction", "parameters": [
                {"name": "TENANT_ID", "value": "ten_1"},
                {"name": "PORTAL_STEP_ID", "value": "chg_1/jenkins upgrade-tenant"},
                {"name": "DRY_RUN", "value": true},
            ]}),
        ];
        assert!(has_param(&actions, STEP_ID_PARAM, "chg_1/jenkins upgrade-tenant"));
        assert!(!has_param(&actions, STEP_ID_PARAM, "chg_2/jenkins upgrade-tenant"));
        assert!(!has_param(&actions, "DRY_RUN", "true"), "only string values match");
        assert!(!has_param(&[], STEP_ID_PARAM, "x"));

        let task =
            |url: Option<&str>, name: Option<&str>| TaskJson { url: url.map(Into::into), name: name.map(Into::into) };
        let path = job_path("tenants/deploy").unwrap();
        assert!(is_task_of(&task(Some("https://ci.example/job/tenants/job/deploy/"), None), "tenants/deploy", &path));
        assert!(is_task_of(&task(Some("https://ci.example/job/tenants/job/deploy"), None), "tenants/deploy", &path));
        assert!(!is_task_of(&task(Some("https://ci.example/job/other/job/deploy/"), None), "tenants/deploy", &path));
        assert!(!is_task_of(
            &task(Some("https://ci.example/job/tenants/job/predeploy/"), None),
            "tenants/deploy",
            &path
        ));
        assert!(is_task_of(&task(None, Some("deploy")), "deploy", &job_path("deploy").unwrap()));
    }
}
