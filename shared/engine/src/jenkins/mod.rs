//! The vendor's "SaaS Jenkins": trigger a parameterized job, follow it to its result, find it
//! again after a lost answer, stop it.
//!
//! - this module: the port ([`Jenkins`]) and what crosses it.
//! - [`http`]: the adapter over Jenkins's remote-access API ([`HttpJenkins`]).
//! - [`memory`]: a scriptable in-memory fake for unit tests ([`MemoryJenkins`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod http;
pub mod memory;
pub mod secret;

pub use http::{DEFAULT_TIMEOUT, HttpJenkins, JenkinsSetupError};
pub use memory::{JobScript, MemoryJenkins, Triggered, backup_report};
pub use secret::{NoJenkins, SecretJenkins};

/// The build parameter naming the workflow step that triggered a build: a retried step finds
/// its build by it ([`Jenkins::find`]) instead of queueing a second one.
pub const STEP_ID_PARAM: &str = "PORTAL_STEP_ID";

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

/// A build waiting in (or out of) the Jenkins queue. Serialized as `{"job", "queue_url"}`, plus
/// `build_url` once known: JSON written before `build_url` existed still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedBuild {
    pub job: String,
    /// The queue item URL (`.../queue/item/N/`) Jenkins answered `buildWithParameters` with.
    /// Empty only for a build [`Jenkins::find`] found without a `queueId`.
    pub queue_url: String,
    /// The build (`.../job/<job>/<n>/`), when known without the queue item: set by
    /// [`Jenkins::find`] for a build that already left the queue (Jenkins forgets queue items a
    /// few minutes after they leave it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_url: Option<String>,
}

impl QueuedBuild {
    /// A build known by its queue item only (what `trigger` answers).
    pub fn queued(job: impl Into<String>, queue_url: impl Into<String>) -> Self {
        Self { job: job.into(), queue_url: queue_url.into(), build_url: None }
    }
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
    /// Finished. `url` is the build's, or the queue item's for an item cancelled before it
    /// started (which has no build, hence no `console_url`).
    Done {
        url: String,
        result: BuildResult,
        /// The build's plain-text log ([`console_url`] of `url`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        console_url: Option<String>,
    },
}

impl BuildStatus {
    /// A finished build at `build_url`, with its console log.
    pub fn done(build_url: impl Into<String>, result: BuildResult) -> Self {
        let url = build_url.into();
        Self::Done { console_url: Some(console_url(&url)), url, result }
    }
}

/// The plain-text console log of the build at `build_url` (`.../job/<job>/<n>/consoleText`).
pub fn console_url(build_url: &str) -> String {
    if build_url.ends_with('/') { format!("{build_url}consoleText") } else { format!("{build_url}/consoleText") }
}

/// The artifact a job archives to say what it built and set (the EC2 instances, databases and
/// buckets it made, as ARNs, and the configs it set): see `domain::WorkReport`.
pub const REPORT_ARTIFACT: &str = "portal/report.json";

#[async_trait]
pub trait Jenkins: Send + Sync {
    /// `POST /job/<job>/buildWithParameters`; answers the queue item to follow.
    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError>;
    /// Follows a queued build: the queue item until it has a build, then the build.
    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError>;
    /// The most recent build or still-queued item of `job` triggered with parameter
    /// [`STEP_ID_PARAM`] = `step_id`, if any (so a retried task never queues a second build).
    /// Looks in the queue (`/queue/api/json`, items' `actions[].parameters`) and in the job's
    /// builds (`/job/<job>/api/json?tree=builds[number,url,queueId,actions[parameters[name,value]]]`).
    async fn find(&self, job: &str, step_id: &str) -> Result<Option<QueuedBuild>, JenkinsError>;
    /// Stops it: cancels the queue item (`/queue/cancelItem?id=N`) while queued, or
    /// `POST /job/<job>/<n>/stop` once it runs. A build already finished, or gone, is `Ok(())`.
    async fn stop(&self, build: &QueuedBuild) -> Result<(), JenkinsError>;
    /// The [`REPORT_ARTIFACT`] the finished build at `build_url` archived, as JSON; `None` when
    /// it archived none (`GET <build_url>artifact/portal/report.json` answers 404).
    async fn report(&self, build_url: &str) -> Result<Option<serde_json::Value>, JenkinsError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_log_is_beside_the_build() {
        assert_eq!(console_url("https://ci.example/job/deploy/7/"), "https://ci.example/job/deploy/7/consoleText");
        assert_eq!(console_url("https://ci.example/job/deploy/7"), "https://ci.example/job/deploy/7/consoleText");
        assert_eq!(
            BuildStatus::done("https://ci.example/job/deploy/7/", BuildResult::Failure),
            BuildStatus::Done {
                url: "https://ci.example/job/deploy/7/".into(),
                result: BuildResult::Failure,
                console_url: Some("https://ci.example/job/deploy/7/consoleText".into()),
            }
        );
    }

    #[test]
    fn a_queued_build_reads_the_json_of_before_build_url_and_writes_it_back_unchanged() {
        let before = r#"{"job":"upgrade-tenant","queue_url":"https://ci.example/queue/item/4/"}"#;
        let build: QueuedBuild = serde_json::from_str(before).expect("the old shape reads");
        assert_eq!(build, QueuedBuild::queued("upgrade-tenant", "https://ci.example/queue/item/4/"));
        assert_eq!(serde_json::to_string(&build).unwrap(), before);

        let found = QueuedBuild { build_url: Some("https://ci.example/job/upgrade-tenant/2/".into()), ..build };
        let json = serde_json::to_value(&found).unwrap();
        assert_eq!(json["build_url"], "https://ci.example/job/upgrade-tenant/2/");
        assert_eq!(serde_json::from_value::<QueuedBuild>(json).unwrap(), found);
    }

    #[test]
    fn a_done_status_without_console_url_still_reads() {
        let old = r#"{"status":"done","url":"https://ci.example/job/x/1/","result":"SUCCESS"}"#;
        let status: BuildStatus = serde_json::from_str(old).unwrap();
        assert_eq!(
            status,
            BuildStatus::Done {
                url: "https://ci.example/job/x/1/".into(),
                result: BuildResult::Success,
                console_url: None
            }
        );
        let new = serde_json::to_value(BuildStatus::done("https://ci.example/job/x/1/", BuildResult::Success)).unwrap();
        assert_eq!(new["console_url"], "https://ci.example/job/x/1/consoleText");
    }
}
