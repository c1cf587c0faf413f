//! [`MemoryJenkins`]: the [`Jenkins`] port in memory, scripted per job, for unit tests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::json;

use super::http::job_path;
use super::{BuildResult, BuildStatus, Jenkins, JenkinsError, QueuedBuild, STEP_ID_PARAM};

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

/// Jenkins for unit tests: scripted per job, records every trigger and every stop. Unscripted
/// jobs succeed at the first `status` (or are [`JenkinsError::NoSuchJob`] when
/// [`MemoryJenkins::strict`]).
///
/// `find` sees every build triggered so far (by job and [`STEP_ID_PARAM`]), including those whose
/// trigger answered an error after [`MemoryJenkins::lose_trigger_answers`]. `stop` ends a queued
/// build as Jenkins reports a cancelled queue item (`Done`/`ABORTED` at the queue item's URL, no
/// console) and a running one `ABORTED`; a finished build stays as it ended.
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
    lost_trigger_answers: u32,
    builds: Vec<MemoryBuild>,
    stops: Vec<QueuedBuild>,
    reports: HashMap<String, serde_json::Value>,
}

struct MemoryBuild {
    triggered: Triggered,
    script: JobScript,
    number: u64,
    polls: u32,
    /// Stopped while queued (`true`) or while running (`false`).
    stopped: Option<bool>,
}

/// Where a build of the fake is: what its next `status` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Running,
    Done(BuildResult),
}

impl MemoryBuild {
    fn phase(&self) -> Phase {
        let s = &self.script;
        match self.stopped {
            Some(_) => Phase::Done(BuildResult::Aborted),
            None if self.polls < s.queued_polls => Phase::Queued,
            None => match s.result {
                Some(r) if self.polls >= s.queued_polls.saturating_add(s.running_polls) => Phase::Done(r),
                _ => Phase::Running,
            },
        }
    }

    fn url(&self) -> String {
        format!("{MEMORY_BASE}{}{}/", job_path(&self.triggered.job).unwrap_or_default(), self.number)
    }

    fn queued_build(&self) -> QueuedBuild {
        QueuedBuild::queued(&self.triggered.job, &self.triggered.queue_url)
    }
}

impl MemoryJenkins {
    /// Every job builds with success; `backup-tenant` reports a full backup
    /// ([`backup_report`]), as the real job archives one.
    pub fn new() -> Self {
        let jenkins = Self::default();
        jenkins.set_report("backup-tenant", backup_report());
        jenkins
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

    /// How builds of `job` triggered from now on with the parameter `param` set to `value`
    /// behave (before the job's own script).
    pub fn script_when(&self, job: &str, param: &str, value: &str, script: JobScript) {
        if let Ok(mut s) = self.state.lock() {
            s.scripts.insert(format!("{job}?{param}={value}"), script);
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

    /// The next `count` triggers queue their build, then answer [`JenkinsError::Unavailable`]
    /// (the answer is lost on the way back): a caller that retries must `find` the build.
    pub fn lose_trigger_answers(&self, count: u32) {
        if let Ok(mut s) = self.state.lock() {
            s.lost_trigger_answers = count;
        }
    }

    /// Every build triggered so far, in order.
    pub fn triggered(&self) -> Vec<Triggered> {
        self.state.lock().map(|s| s.builds.iter().map(|b| b.triggered.clone()).collect()).unwrap_or_default()
    }

    /// What finished builds of `job` answer to [`Jenkins::report`].
    pub fn set_report(&self, job: &str, report: serde_json::Value) {
        if let Ok(mut s) = self.state.lock() {
            s.reports.insert(job.to_owned(), report);
        }
    }

    /// Every build `stop` was called with, in order (a no-op stop of a finished build included).
    pub fn stops(&self) -> Vec<QueuedBuild> {
        self.state.lock().map(|s| s.stops.clone()).unwrap_or_default()
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

fn no_such_item(build: &QueuedBuild) -> JenkinsError {
    JenkinsError::Unavailable(format!("memory jenkins has no queue item {}", build.queue_url))
}

#[async_trait]
impl Jenkins for MemoryJenkins {
    async fn report(&self, build_url: &str) -> Result<Option<serde_json::Value>, JenkinsError> {
        let s = self.lock()?;
        let job = build_url.strip_prefix(&format!("{MEMORY_BASE}/job/")).and_then(|rest| rest.split('/').next());
        Ok(job.and_then(|j| s.reports.get(j)).cloned())
    }

    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError> {
        let mut s = self.lock()?;
        let when = params.iter().find_map(|(k, v)| s.scripts.get(&format!("{job}?{k}={v}")));
        let script = match when.or_else(|| s.scripts.get(job)) {
            Some(script) => script.clone(),
            None if s.strict => return Err(JenkinsError::NoSuchJob(job.to_owned())),
            None => JobScript::success(),
        };
        let item = s.builds.len() as u64 + 1;
        let number = s.builds.iter().filter(|b| b.triggered.job == job).count() as u64 + 1;
        let queue_url = format!("{MEMORY_BASE}/queue/item/{item}/");
        let triggered = Triggered { job: job.to_owned(), params: params.clone(), queue_url: queue_url.clone() };
        s.builds.push(MemoryBuild { triggered, script, number, polls: 0, stopped: None });
        if s.lost_trigger_answers > 0 {
            s.lost_trigger_answers -= 1;
            return Err(JenkinsError::Unavailable(format!(
                "memory jenkins queued {queue_url} but the answer was lost"
            )));
        }
        Ok(QueuedBuild::queued(job, queue_url))
    }

    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError> {
        let mut s = self.lock()?;
        let b = s
            .builds
            .iter_mut()
            .find(|b| b.triggered.queue_url == build.queue_url)
            .ok_or_else(|| no_such_item(build))?;
        let phase = b.phase();
        b.polls = b.polls.saturating_add(1);
        Ok(match phase {
            Phase::Queued => BuildStatus::Queued,
            Phase::Running => BuildStatus::Running { url: b.url() },
            Phase::Done(result) if b.stopped == Some(true) => {
                BuildStatus::Done { url: b.triggered.queue_url.clone(), result, console_url: None }
            }
            Phase::Done(result) => BuildStatus::done(b.url(), result),
        })
    }

    async fn find(&self, job: &str, step_id: &str) -> Result<Option<QueuedBuild>, JenkinsError> {
        let s = self.lock()?;
        Ok(s.builds
            .iter()
            .rev()
            .find(|b| {
                b.triggered.job == job && b.triggered.params.get(STEP_ID_PARAM).map(String::as_str) == Some(step_id)
            })
            .map(MemoryBuild::queued_build))
    }

    async fn stop(&self, build: &QueuedBuild) -> Result<(), JenkinsError> {
        let mut s = self.lock()?;
        s.stops.push(build.clone());
        // As Jenkins: a build it no longer knows is gone, hence stopped.
        let Some(b) = s.builds.iter_mut().find(|b| b.triggered.queue_url == build.queue_url) else { return Ok(()) };
        match b.phase() {
            Phase::Queued => b.stopped = Some(true),
            Phase::Running => b.stopped = Some(false),
            Phase::Done(_) => {}
        }
        Ok(())
    }
}

/// What a backup job archives as its report: a full backup (every part), with a checksum.
pub fn backup_report() -> serde_json::Value {
    json!({"backup": {"location": "s3://portal-backups/memory/1.tar.zst", "size_bytes": 1024,
        "checksum": format!("sha256:{}", "c0".repeat(32)), "parts": ["binary", "config", "data", "runtime"]}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
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
        assert_eq!(j.status(&up).await.unwrap(), BuildStatus::done(url, BuildResult::Success));

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
        assert!(matches!(j.find("upgrade", "s").await, Err(JenkinsError::Unavailable(_))));
        j.set_down(false);
        j.set_refusing(true);
        assert!(matches!(j.status(&up).await, Err(JenkinsError::Refused(_))));
        assert!(matches!(j.stop(&up).await, Err(JenkinsError::Refused(_))));

        let strict = MemoryJenkins::new().strict();
        assert!(matches!(strict.trigger("nope", &p).await, Err(JenkinsError::NoSuchJob(j)) if j == "nope"));
    }

    #[tokio::test]
    async fn find_answers_the_latest_build_of_the_job_with_that_step_id() {
        let j = MemoryJenkins::new();
        let step = |id: &str| params(&[(STEP_ID_PARAM, id), ("TENANT_ID", "ten_1")]);
        let first = j.trigger("upgrade", &step("chg_1/upgrade")).await.unwrap();
        j.trigger("backup", &step("chg_1/upgrade")).await.unwrap();
        j.trigger("upgrade", &step("chg_2/upgrade")).await.unwrap();
        j.trigger("upgrade", &params(&[("TENANT_ID", "ten_1")])).await.unwrap();

        assert_eq!(j.find("upgrade", "chg_1/upgrade").await.unwrap(), Some(first.clone()));
        assert_eq!(j.find("upgrade", "chg_9/upgrade").await.unwrap(), None);
        assert_eq!(j.find("restore", "chg_1/upgrade").await.unwrap(), None, "another job's build is not it");

        let again = j.trigger("upgrade", &step("chg_1/upgrade")).await.unwrap();
        assert_ne!(again, first);
        assert_eq!(j.find("upgrade", "chg_1/upgrade").await.unwrap(), Some(again), "the most recent one");
    }

    #[tokio::test]
    async fn a_lost_trigger_answer_leaves_a_build_that_find_sees() {
        let j = MemoryJenkins::new();
        j.script("upgrade", JobScript::success().running_for(1));
        j.lose_trigger_answers(1);
        let p = params(&[(STEP_ID_PARAM, "chg_1/upgrade")]);

        let err = j.trigger("upgrade", &p).await.unwrap_err();
        assert!(matches!(&err, JenkinsError::Unavailable(m) if m.contains("lost")), "{err:?}");
        assert_eq!(j.triggered().len(), 1, "the build was queued all the same");

        let found = j.find("upgrade", "chg_1/upgrade").await.unwrap().expect("the retry finds it");
        assert_eq!(found.queue_url, j.triggered()[0].queue_url);
        assert!(matches!(j.status(&found).await.unwrap(), BuildStatus::Running { .. }));
        assert!(matches!(j.status(&found).await.unwrap(), BuildStatus::Done { result: BuildResult::Success, .. }));
        j.trigger("upgrade", &p).await.expect("only one answer was to be lost");
    }

    #[tokio::test]
    async fn stop_aborts_a_queued_or_running_build_and_leaves_a_finished_one() {
        let j = MemoryJenkins::new();
        j.script("queued", JobScript::success().queued_for(100));
        j.script("hung", JobScript::hang());
        j.script("quick", JobScript::failure());

        let queued = j.trigger("queued", &BTreeMap::new()).await.unwrap();
        assert_eq!(j.status(&queued).await.unwrap(), BuildStatus::Queued);
        j.stop(&queued).await.unwrap();
        assert_eq!(
            j.status(&queued).await.unwrap(),
            BuildStatus::Done { url: queued.queue_url.clone(), result: BuildResult::Aborted, console_url: None },
            "a cancelled queue item: no build, no console"
        );

        let hung = j.trigger("hung", &BTreeMap::new()).await.unwrap();
        assert!(matches!(j.status(&hung).await.unwrap(), BuildStatus::Running { .. }));
        j.stop(&hung).await.unwrap();
        assert_eq!(
            j.status(&hung).await.unwrap(),
            BuildStatus::done("memory://jenkins/job/hung/1/", BuildResult::Aborted)
        );

        let quick = j.trigger("quick", &BTreeMap::new()).await.unwrap();
        assert!(matches!(j.status(&quick).await.unwrap(), BuildStatus::Done { result: BuildResult::Failure, .. }));
        j.stop(&quick).await.expect("stopping a finished build is fine");
        assert!(
            matches!(j.status(&quick).await.unwrap(), BuildStatus::Done { result: BuildResult::Failure, .. }),
            "it keeps its result"
        );

        let unknown = QueuedBuild::queued("x", "memory://jenkins/queue/item/99/");
        j.stop(&unknown).await.expect("a build jenkins does not know is gone, hence stopped");
        assert_eq!(j.stops(), [queued, hung, quick, unknown]);
    }
}
