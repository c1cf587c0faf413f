//! A client generated from the served OpenAPI document by a generator nobody here wrote
//! (openapi-python-client, pinned in `tests/stack/bootstrap.sh`) works for every operation:
//! generated without a schema or an operation dropped, it calls each of them against the real
//! router on moto over the demo seed and parses every answer into its generated model
//! (`tests/contract/python_client.py` says how).

use std::process::Command;

use integration_tests::served::{listed, repo_root, scratch, seeded, serve, tool};
use serde_json::Value;

/// The generator's configuration: a package name of our own, and none of its formatting hooks
/// (ruff is not installed, and formatting changes nothing a caller sees).
const CONFIG: &str = "project_name_override: portal-client\npackage_name_override: portal_client\npost_hooks: []\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_python_client_calls_every_operation_and_parses_every_answer() {
    let api = seeded().await;
    let base = serve(&api).await;
    let dir = scratch("python-client");
    let document = dir.join("openapi.json");
    std::fs::write(&document, portal_api::OPENAPI_JSON).expect("the document written");
    std::fs::write(dir.join("config.yaml"), CONFIG).expect("the generator's configuration");

    let generate = Command::new(tool("contract/bin/openapi-python-client"))
        .args(["generate", "--path", "openapi.json", "--config", "config.yaml", "--output-path", "client"])
        .current_dir(&dir)
        .output()
        .expect("running openapi-python-client");
    let said = format!("{}{}", String::from_utf8_lossy(&generate.stdout), String::from_utf8_lossy(&generate.stderr));
    assert!(generate.status.success(), "openapi-python-client failed:\n{said}");
    // It goes on after a schema it cannot read, dropping it and what refers to it.
    for warning in ["Unable to process schema", "Unable to parse", "Failure to process", "removal of"] {
        assert!(!said.contains(warning), "openapi-python-client dropped part of the document:\n{said}");
    }

    let healthy = listed(&api, "/v1/tenants?state=Healthy", "id").await;
    assert!(healthy.len() >= 3, "the seed has {} Healthy tenants, want 3", healthy.len());
    let script = repo_root().join("tests/contract/python_client.py");
    let (admin, second, viewer) =
        (api.token("admin", "py-admin"), api.token("admin", "py-second-admin"), api.token("viewer", "py-viewer"));
    let (client_dir, base_url, doc) = (dir.join("client"), base.clone(), document.clone());
    let run = tokio::task::spawn_blocking(move || {
        Command::new(tool("contract/bin/python"))
            .arg(script)
            .args([client_dir.as_os_str(), "portal_client".as_ref(), base_url.as_ref(), doc.as_os_str()])
            .env("ADMIN_TOKEN", admin)
            .env("SECOND_ADMIN_TOKEN", second)
            .env("VIEWER_TOKEN", viewer)
            .env("TENANTS", healthy[..3].join(","))
            .output()
            .expect("running the generated client")
    })
    .await
    .expect("the client finished");
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the generated client failed:\n{stdout}\n{stderr}");

    let summary: Value = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).expect("its summary line");
    let document: Value = serde_json::from_str(portal_api::OPENAPI_JSON).expect("the document");
    let operations = document["paths"].as_object().expect("paths").values().flat_map(|item| {
        item.as_object().into_iter().flat_map(|ops| ops.values().filter_map(|op| op["operationId"].as_str()))
    });
    let mut want: Vec<&str> = operations.collect();
    want.sort_unstable();
    let called: Vec<&str> = summary["called"].as_array().expect("called").iter().filter_map(Value::as_str).collect();
    assert_eq!(called, want, "the operations called through the generated client");
    println!("generated client: {} operations called, {} answers parsed into models", called.len(), summary["checked"]);
}
