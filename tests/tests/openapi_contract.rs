//! The OpenAPI document tells the truth, as a fuzzer nobody here wrote reads it: schemathesis
//! (pinned in `tests/stack/bootstrap.sh`) generates requests from the served document and runs
//! every check (`--checks all`: status codes, content types, headers and bodies as documented,
//! schema-valid requests accepted and schema-invalid ones refused, auth, methods) against the real
//! router on moto, over the demo seed. Its configuration and hooks are in `tests/contract/`.

use std::process::Command;

use axum::http::Method;
use integration_tests::TestApi;
use integration_tests::served::{listed, repo_root, scratch, seeded, serve, tool};
use serde_json::Value;

/// Fuzzed cases per operation and phase; with the coverage and stateful phases this makes well
/// over a thousand cases for the 48 operations.
const MAX_EXAMPLES: &str = "12";
const SEED: &str = "20261130";
/// At least this many generated cases, or the run proves too little.
const MIN_CASES: u64 = 1000;

fn toml_list(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| Value::String(v.clone()).to_string()).collect();
    format!("[{}]", quoted.join(", "))
}

/// Change requests that can be decided and aborted: two `terminate`s awaiting a second admin
/// (requested by another admin than the one schemathesis calls as) and a running `backup`.
async fn awaiting_and_running(api: &TestApi, tenants: &[String]) -> Vec<String> {
    let healthy = listed(api, "/v1/tenants?state=Healthy", "id").await;
    assert!(healthy.len() >= 3, "the seed has {} Healthy tenants", healthy.len());
    let requester = api.token("admin", "requester");
    let mut ids = Vec::new();
    for (tenant, operation) in healthy.iter().zip(["terminate", "terminate", "backup"]) {
        let path = format!("/v1/tenants/{tenant}/change-requests");
        let body = serde_json::json!({"operation": operation, "reason": "contract test"});
        let r = api.send(Method::POST, &path, Some(&requester), &[], Some(body)).await;
        assert_eq!(r.status, axum::http::StatusCode::ACCEPTED, "{operation} on {tenant}: {}", r.body);
        ids.push(r.body["id"].as_str().expect("an id").to_owned());
    }
    assert!(tenants.len() > healthy.len().min(3));
    ids
}

/// Dictionaries of the seeded records' ids, and which parameters draw from them (half the time:
/// the other half stays random, so absent records are tried too).
async fn seeded_dictionaries(api: &TestApi) -> String {
    let tenants = listed(api, "/v1/tenants", "id").await;
    let customers = listed(api, "/v1/customers", "id").await;
    let licenses = listed(api, "/v1/licenses", "id").await;
    let releases = listed(api, "/v1/releases", "version").await;
    let resources = listed(api, "/v1/resources", "id").await;
    let mut assignments = Vec::new();
    for c in &customers {
        assignments.extend(listed(api, &format!("/v1/customers/{c}/license-assignments"), "id").await);
    }
    let (mut changes, mut keys, mut components) = (awaiting_and_running(api, &tenants).await, Vec::new(), Vec::new());
    for t in tenants.iter().take(6) {
        changes.extend(listed(api, &format!("/v1/tenants/{t}/change-requests"), "id").await);
        keys.extend(listed(api, &format!("/v1/tenants/{t}/configs"), "key").await);
        components.extend(listed(api, &format!("/v1/tenants/{t}/components"), "name").await);
    }
    for list in [&mut keys, &mut components] {
        list.sort();
        list.dedup();
    }
    for (name, list) in [
        ("tenants", &tenants),
        ("customers", &customers),
        ("licenses", &licenses),
        ("releases", &releases),
        ("resources", &resources),
        ("assignments", &assignments),
        ("change_requests", &changes),
        ("config_keys", &keys),
        ("components", &components),
    ] {
        assert!(!list.is_empty(), "the seed has no {name}");
    }
    let dictionaries = [
        ("tenants", &tenants),
        ("customers", &customers),
        ("licenses", &licenses),
        ("releases", &releases),
        ("resources", &resources),
        ("assignments", &assignments),
        ("change_requests", &changes),
        ("config_keys", &keys),
        ("components", &components),
    ];
    let etags: Vec<String> = ["*", "\"1\"", "\"2\"", "\"3\""].map(String::from).to_vec();
    let mut toml = String::from("\n# Written by tests/tests/openapi_contract.rs: the seeded records.\n");
    toml += &format!("\n[dictionaries.etags]\nvalues = {}\n", toml_list(&etags));
    for (name, values) in dictionaries {
        toml += &format!("\n[dictionaries.{name}]\nvalues = {}\n", toml_list(values));
    }
    // (operations whose path matches, the parameter, the dictionary)
    let bindings = [
        ("^/v1/tenants/\\\\{id\\\\}", "path.id", "tenants"),
        ("^/v1/customers/\\\\{id\\\\}", "path.id", "customers"),
        ("^/v1/licenses/\\\\{id\\\\}", "path.id", "licenses"),
        ("^/v1/license-assignments/\\\\{id\\\\}", "path.id", "assignments"),
        ("^/v1/releases/\\\\{version\\\\}", "path.version", "releases"),
        ("^/v1/resources/\\\\{id\\\\}", "path.id", "resources"),
        ("^/v1/change-requests/\\\\{id\\\\}", "path.id", "change_requests"),
    ];
    for (path, parameter, dictionary) in bindings {
        toml += &format!(
            "\n[[operations]]\ninclude-path-regex = \"{path}\"\nparameters = {{ \"{parameter}\" = {{ dictionary = \"{dictionary}\", probability = 0.5 }}"
        );
        if dictionary == "tenants" {
            toml += ", \"path.key\" = { dictionary = \"config_keys\", probability = 0.5 }";
            toml += ", \"path.name\" = { dictionary = \"components\", probability = 0.5 }";
        }
        toml += " }\n";
    }
    // Bodies and filters that name other records.
    toml += "\n[parameters]\n";
    for (parameter, dictionary) in [
        ("body.customer_id", "customers"),
        ("body.license_id", "licenses"),
        ("body.release", "releases"),
        ("body.params.release", "releases"),
        ("body.tenant_ids[*]", "tenants"),
        ("query.customer_id", "customers"),
        ("header.If-Match", "etags"),
        ("query.release", "releases"),
    ] {
        toml += &format!("\"{parameter}\" = {{ dictionary = \"{dictionary}\", probability = 0.5 }}\n");
    }
    toml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_with_every_check_finds_nothing_the_document_does_not_say() {
    let api = seeded().await;
    let base = serve(&api).await;

    let dir = scratch("schemathesis");
    let contract = repo_root().join("tests/contract");
    let config = std::fs::read_to_string(contract.join("schemathesis.toml")).expect("tests/contract/schemathesis.toml");
    let config_path = dir.join("schemathesis.toml");
    std::fs::write(&config_path, config + &seeded_dictionaries(&api).await).expect("the run's configuration");
    let report = dir.join("report.json");

    let schemathesis = tool("contract/bin/schemathesis");
    let token = api.token("admin", "schemathesis");
    let args: Vec<String> = vec![
        "--config-file".into(),
        config_path.display().to_string(),
        "--no-color".into(),
        "run".into(),
        format!("{base}/v1/openapi.json"),
        "--checks".into(),
        "all".into(),
        "--seed".into(),
        SEED.into(),
        "--max-examples".into(),
        MAX_EXAMPLES.into(),
        // One request at a time: the emulator is the bottleneck, and a second worker only queues.
        "--workers".into(),
        "1".into(),
        "--generation-database".into(),
        "none".into(),
        "--request-timeout".into(),
        "20".into(),
        "--header".into(),
        format!("Authorization: Bearer {token}"),
        "--report".into(),
        "json".into(),
        "--report-json-path".into(),
        report.display().to_string(),
    ];
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&schemathesis)
            .args(&args)
            .current_dir(&dir)
            .env("PYTHONPATH", &contract)
            .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
            .output()
            .expect("running schemathesis")
    })
    .await
    .expect("schemathesis finished");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        std::fs::read_to_string(&report).ok().and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_else(|| {
            panic!("no JSON report; schemathesis said:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
        });
    let cases = report["test_cases"]["generated"].as_u64().unwrap_or(0);
    println!(
        "schemathesis: {cases} cases in {:.0} s, exit {:?}; test_cases {}",
        started.elapsed().as_secs_f64(),
        out.status.code(),
        report["test_cases"]
    );
    assert!(out.status.success(), "schemathesis found contract failures:\n{stdout}");
    assert!(cases >= MIN_CASES, "only {cases} cases generated (want at least {MIN_CASES}):\n{stdout}");
}
