//! python-jenkins — a client written against the real Jenkins — drives the stand-in Jenkins
//! (`python_jenkins_check.py`): if the fake drifted from what Jenkins answers, a real client
//! would notice. Needs the local tools (`make tools` installs python-jenkins into .tools/venv);
//! without them this test fails, saying so, rather than skipping.

use std::path::PathBuf;
use std::time::Duration;

use devstack::fake_jenkins::{FakeBuildState, FakeJenkins, FakeOutcome, JobBehaviour};

const USER: &str = "portal";
const TOKEN: &str = "python-jenkins-token-0123456789";
const JOB: &str = "tenant-restore";

/// The venv's python (`PORTAL_PYTHON` overrides it), or a failure that says what to run.
fn python() -> PathBuf {
    let python = std::env::var("PORTAL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run `make tools` (tests/stack/bootstrap.sh) to install the local tools, python-jenkins among them",
        python.display()
    );
    python
}

#[tokio::test]
async fn python_jenkins_triggers_follows_reads_and_stops_a_build_of_the_stand_in() {
    let python = python();
    let fake = FakeJenkins::new(USER, TOKEN);
    // A moment in the queue (for get_queue_item and get_queue_info to see it), then it hangs
    // until python-jenkins stops it.
    fake.set_job(JOB, JobBehaviour::new(FakeOutcome::Hang).queued_for(700));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
    let base = fake.serve(listener).await.expect("serving the fake");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python_jenkins_check.py");

    let run = tokio::process::Command::new(&python)
        .arg(&script)
        .args([&base, USER, TOKEN, JOB])
        // requests honours proxy variables: this call stays on loopback.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run).await.expect("the script ended").expect("python ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'jenkins'"),
        "python-jenkins is not installed in {}: run `make tools`",
        python.display()
    );
    assert!(out.status.success(), "the script failed ({}):\n{stdout}\n{stderr}", out.status);

    for call in [
        "get_whoami",
        "get_version",
        "get_info lists the job",
        "get_jobs lists the job",
        "get_job_info",
        "build_job answers a queue item",
        "get_queue_item while queued",
        "get_queue_info shows its parameters",
        "get_queue_item once started",
        "get_build_info while it runs",
        "get_build_info shows its parameters",
        "get_build_console_output",
        "stop_build aborts it",
        "the console says so",
    ] {
        assert!(stdout.lines().any(|l| l == format!("ok: {call}")), "no `ok: {call}` in:\n{stdout}");
    }
    assert!(stdout.trim_end().ends_with("python-jenkins: all checks passed"), "{stdout}");

    // What python-jenkins did, as the fake recorded it.
    let builds = fake.builds();
    assert_eq!(builds.len(), 1, "{builds:?}");
    assert_eq!((builds[0].state, builds[0].result.as_deref()), (FakeBuildState::Done, Some("ABORTED")));
    assert_eq!(builds[0].params.get("PORTAL_STEP_ID").map(String::as_str), Some("chg_py/jenkins check"));
}
