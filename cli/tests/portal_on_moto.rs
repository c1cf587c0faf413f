//! The built `portal` binary against the real router on a loopback port, over DynamoDB in moto
//! (and, for `--wait`, the lifecycle state machine running in moto): what a script or a person
//! on call sees, its stdout, its stderr and its exit code.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::http::{Method, StatusCode};
use devstack::fake_jenkins::{FakeOutcome, JobBehaviour};
use integration_tests::TestApi;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// Serves `router` on a free loopback port for the rest of the test; answers its URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// What a run of `portal` printed and how it exited.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// `portal` for one test: the URL of its API, its own config directory, no token unless given.
struct Portal {
    url: String,
    home: PathBuf,
}

impl Portal {
    fn new(url: &str) -> Self {
        let home = std::env::temp_dir().join(format!("portal-cli-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&home).expect("a home");
        Self { url: url.to_owned(), home }
    }

    fn profiles_file(&self) -> PathBuf {
        self.home.join("config/portal/profiles.yaml")
    }

    fn command(&self, token: Option<&str>, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_portal"));
        cmd.args(args)
            .env("PORTAL_URL", &self.url)
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join("config"))
            .env_remove("PORTAL_TOKEN")
            .env_remove("PORTAL_PROFILE")
            .env_remove("PORTAL_OUTPUT")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(t) = token {
            cmd.env("PORTAL_TOKEN", t);
        }
        cmd
    }

    async fn run_with(&self, mut cmd: tokio::process::Command) -> Run {
        let out = cmd.output().await.expect("portal runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn run(&self, token: Option<&str>, args: &[&str]) -> Run {
        self.run_with(self.command(token, args)).await
    }

    /// A run that must succeed.
    async fn ok(&self, token: &str, args: &[&str]) -> Run {
        let run = self.run(Some(token), args).await;
        assert_eq!(run.code, 0, "portal {args:?}: {run:?}");
        run
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

async fn customer(api: &TestApi, name: &str) -> String {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({ "name": name }))).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    c.body["id"].as_str().expect("id").to_owned()
}

async fn release(api: &TestApi, version: &str) {
    let r = api
        .call(
            "operator",
            Method::POST,
            "/v1/releases",
            Some(json!({"version": version, "components": {"webapp": version}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// A customer, a release and a tenant of theirs (its provision started, in memory).
async fn tenant(api: &TestApi, name: &str) -> String {
    let customer = customer(api, "Acme").await;
    release(api, "3.1.0").await;
    let t = api
        .call(
            "operator",
            Method::POST,
            "/v1/tenants",
            Some(json!({"customer_id": customer, "name": name, "release": "3.1.0"})),
        )
        .await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    t.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_is_the_apis_answer_unchanged_and_yaml_and_tables_show_the_same_records() {
    let api = TestApi::new().await;
    let id = tenant(&api, "acme-prod").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let token = api.token("viewer", "vera");

    let got = portal.ok(&token, &["tenants", "get", &id, "-o", "json"]).await.json();
    let direct = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}"), None).await.body;
    assert_eq!(got, direct, "the tenant as the API answers it");

    let listed = portal.ok(&token, &["tenants", "list", "--output", "json"]).await.json();
    assert_eq!(listed, api.call("viewer", Method::GET, "/v1/tenants", None).await.body);

    let summary = portal.ok(&token, &["fleet", "summary", "-o", "json"]).await.json();
    assert_eq!(summary, api.call("viewer", Method::GET, "/v1/fleet/summary", None).await.body);

    let yaml = portal.ok(&token, &["tenants", "get", &id, "-o", "yaml"]).await;
    let from_yaml: Value = serde_yaml::from_str(&yaml.stdout).expect("YAML");
    assert_eq!(from_yaml, direct);

    let table = portal.ok(&token, &["tenants", "list", "--state", "Provisioning"]).await;
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("STATE"), "{table:?}");
    assert!(
        lines[1].starts_with(&id) && lines[1].contains("acme-prod") && lines[1].contains("Provisioning"),
        "{table:?}"
    );
    assert!(!table.stdout.contains('\u{1b}'), "no colour in a pipe");
    let none = portal.ok(&token, &["tenants", "list", "--state", "Broken"]).await;
    assert_eq!(none.stdout.lines().count(), 1, "the header alone: {none:?}");

    let record = portal.ok(&token, &["tenants", "get", &id]).await;
    assert!(record.stdout.lines().any(|l| l.starts_with("state") && l.ends_with("Provisioning")), "{record:?}");

    let doc = portal.run(None, &["meta", "openapi"]).await;
    assert_eq!(doc.code, 0, "the document needs no token: {doc:?}");
    assert!(doc.json()["paths"]["/v1/tenants"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_follows_next_token_to_the_last_page() {
    let api = TestApi::new().await;
    for name in ["Acme", "Globex", "Initech"] {
        customer(&api, name).await;
    }
    let portal = Portal::new(&serve(api.router.clone()).await);
    let token = api.token("viewer", "vera");

    let page = portal.ok(&token, &["customers", "list", "--limit", "2", "-o", "json"]).await.json();
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2));
    let next = page["next_token"].as_str().expect("a next page").to_owned();

    let all = portal.ok(&token, &["customers", "list", "--limit", "2", "--all", "-o", "json"]).await.json();
    let names: Vec<&str> = all["items"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names.len(), 3, "{all}");
    assert_eq!(all["next_token"], Value::Null);

    let rest =
        portal.ok(&token, &["customers", "list", "--limit", "2", "--next-token", &next, "-o", "json"]).await.json();
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1));

    let table = portal.ok(&token, &["customers", "list", "--limit", "2"]).await;
    assert!(table.stderr.contains("--next-token") && table.stderr.contains("--all"), "{table:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_tell_bad_input_auth_conflict_unavailable_and_the_rest_apart() {
    let api = TestApi::new().await;
    let id = tenant(&api, "acme-prod").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let admin = api.token("admin", "alice");
    let viewer = api.token("viewer", "vera");

    // 2: a value the API refuses, named by its field; a bad argument refused before any call.
    let bad = portal.run(Some(&admin), &["customers", "create", "--name", ""]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("Invalid value") && bad.stderr.contains("field: name"), "{bad:?}");
    let limit = portal.run(Some(&viewer), &["tenants", "list", "--limit", "0"]).await;
    assert_eq!(limit.code, 2, "{limit:?}");
    assert!(limit.stderr.contains("field: limit"), "{limit:?}");
    let usage = portal.run(Some(&admin), &["change-requests", "create", &id, "explode"]).await;
    assert_eq!(usage.code, 2, "{usage:?}");

    // 3: no token (and how to get one), a token refused, a role not allowed.
    let none = portal.run(None, &["tenants", "list"]).await;
    assert_eq!(none.code, 3, "{none:?}");
    assert!(none.stderr.contains("portal login --token"), "{none:?}");
    let forged = portal.run(Some("not.a.token"), &["tenants", "list"]).await;
    assert_eq!(forged.code, 3, "{forged:?}");
    assert!(forged.stderr.contains("Authentication required"), "{forged:?}");
    let viewer_writes = portal.run(Some(&viewer), &["customers", "create", "--name", "Umbrella"]).await;
    assert_eq!(viewer_writes.code, 3, "{viewer_writes:?}");
    assert!(viewer_writes.stderr.contains("Not allowed for your role"), "{viewer_writes:?}");

    // 4: a stale If-Match; a second release of one version.
    let stale = portal.run(Some(&admin), &["tenants", "update", &id, "--description", "x", "--if-match", "999"]).await;
    assert_eq!(stale.code, 4, "{stale:?}");
    assert!(stale.stderr.contains("field: If-Match"), "{stale:?}");
    let again = portal.run(Some(&admin), &["releases", "create", "3.1.0", "--component", "webapp=3.1.0"]).await;
    assert_eq!(again.code, 4, "{again:?}");

    // 5: nobody listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = Portal::new(&format!("http://{closed}"));
    let down = gone.run(Some(&admin), &["tenants", "list", "--retries", "0"]).await;
    assert_eq!(down.code, 5, "{down:?}");
    assert!(down.stderr.contains("cannot reach"), "{down:?}");

    // 1: what is not found.
    let missing = format!("ten_{}", ulid::Ulid::new());
    let lost = portal.run(Some(&viewer), &["tenants", "get", &missing]).await;
    assert_eq!(lost.code, 1, "{lost:?}");
    assert!(lost.stderr.contains("Not found"), "{lost:?}");

    // A fitting If-Match goes through.
    let current = portal.ok(&admin, &["tenants", "get", &id, "-o", "json"]).await.json();
    let revision = current["revision"].to_string();
    let updated = portal
        .ok(&admin, &["tenants", "update", &id, "--description", "primary", "--if-match", &revision, "-o", "json"])
        .await;
    assert_eq!(updated.json()["description"], "primary");
}

/// A stand-in API that answers `503` to the first create and `201` to the next, noting the
/// idempotency key of each.
async fn flaky_api() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::response::IntoResponse;
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = keys.clone();
    let router = axum::Router::new().route(
        "/v1/customers",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let seen = seen.clone();
            async move {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let first = {
                    let mut keys = seen.lock().unwrap();
                    keys.push(key);
                    keys.len() == 1
                };
                if first {
                    let problem = json!({"type": "u", "title": "Temporarily unavailable", "status": 503, "detail": "retry shortly"});
                    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(problem)).into_response()
                } else {
                    (StatusCode::CREATED, axum::Json(json!({"id": "cus_1", "name": "Acme"}))).into_response()
                }
            }
        }),
    );
    (serve(router).await, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_that_found_the_api_unavailable_is_sent_again_with_the_same_idempotency_key() {
    let (url, keys) = flaky_api().await;
    let portal = Portal::new(&url);
    let run = portal.ok("t", &["customers", "create", "--name", "Acme", "-o", "json"]).await;
    assert_eq!(run.json()["id"], "cus_1");
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], keys[1], "one key for both tries");
    assert!(ulid::Ulid::from_string(&keys[0]).is_ok(), "a ULID: {}", keys[0]);

    let (url, _) = flaky_api().await;
    let unavailable =
        Portal::new(&url).run(Some("t"), &["customers", "create", "--name", "Acme", "--retries", "0"]).await;
    assert_eq!(unavailable.code, 5, "{unavailable:?}");
    assert!(unavailable.stderr.contains("Temporarily unavailable (503): retry shortly"), "{unavailable:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_idempotency_key_creates_once_however_often_the_script_runs_and_no_token_is_ever_printed() {
    let api = TestApi::new().await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let token = api.token("operator", "olga");
    let args = ["customers", "create", "--name", "Acme", "--idempotency-key", "deploy-42", "-o", "json", "-v"];
    let first = portal.ok(&token, &args).await;
    let second = portal.ok(&token, &args).await;
    assert_eq!(first.json()["id"], second.json()["id"], "the second run replays the first");
    assert!(second.stderr.contains("idempotent replay"), "{second:?}");
    let all = api.call("viewer", Method::GET, "/v1/customers", None).await.body;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));

    let fresh = portal.ok(&token, &["customers", "create", "--name", "Globex", "-v"]).await;
    let key = fresh.stderr.lines().find_map(|l| l.strip_prefix("> idempotency-key: ")).expect("the key is shown");
    assert!(ulid::Ulid::from_string(key).is_ok(), "{key}");
    for run in [&first, &second, &fresh] {
        assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token), "the token shows: {run:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_the_token_for_the_profile_only_its_owner_reads_and_logout_forgets_it() {
    let api = TestApi::new().await;
    tenant(&api, "acme-prod").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let token = api.token("admin", "alice");

    let login = portal.run(None, &["login", "--token", &token]).await;
    assert_eq!(login.code, 0, "{login:?}");
    assert!(login.stderr.contains("alice@vendor.example (admin)"), "{login:?}");
    assert!(!login.stderr.contains(&token) && !login.stdout.contains(&token), "{login:?}");
    let listed = portal.run(None, &["tenants", "list", "-o", "json"]).await;
    assert_eq!(listed.code, 0, "the profile's token is used: {listed:?}");
    assert_eq!(listed.json()["items"].as_array().map(Vec::len), Some(1));
    assert_mode_600(&portal.profiles_file());

    // Another profile from stdin, to another API; the default one is untouched.
    let mut cmd =
        portal.command(None, &["login", "--profile", "staging", "--url", "http://127.0.0.1:9", "--token", "-"]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("portal runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(format!("{token}\n").as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let profiles: Value = serde_yaml::from_str(&std::fs::read_to_string(portal.profiles_file()).unwrap()).unwrap();
    assert_eq!(profiles["profiles"]["staging"]["url"], "http://127.0.0.1:9/");
    assert_eq!(profiles["profiles"]["staging"]["token"], token.as_str());
    assert!(profiles["profiles"]["default"]["token"].is_string());

    let logout = portal.run(None, &["logout"]).await;
    assert_eq!(logout.code, 0, "{logout:?}");
    let after = portal.run(None, &["tenants", "list"]).await;
    assert_eq!(after.code, 3, "{after:?}");
}

fn assert_mode_600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).expect("the profiles file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_the_man_page_generate_and_no_color_is_respected() {
    let portal = Portal::new("http://127.0.0.1:9");
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef portal"), ("fish", "complete -c portal")] {
        let run = portal.run(None, &["completions", shell]).await;
        assert_eq!(run.code, 0, "{run:?}");
        assert!(run.stdout.contains(marker), "{shell}: {}", &run.stdout[..run.stdout.len().min(300)]);
        assert!(run.stdout.contains("change-requests"), "{shell} completes the resources");
    }
    let zsh = portal.run(None, &["completions", "zsh"]).await;
    assert!(zsh.stdout.contains("rotate_db_password"), "operations complete");
    let man = portal.run(None, &["man"]).await;
    assert_eq!(man.code, 0, "{man:?}");
    assert!(man.stdout.contains(".TH portal"), "{}", &man.stdout[..man.stdout.len().min(300)]);

    let api = TestApi::new().await;
    tenant(&api, "acme-prod").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let token = api.token("viewer", "vera");
    let mut forced = portal.command(Some(&token), &["tenants", "list"]);
    forced.env("CLICOLOR_FORCE", "1");
    let colored = portal.run_with(forced).await;
    assert!(colored.stdout.contains("\u{1b}["), "forced colour: {colored:?}");
    let mut no_color = portal.command(Some(&token), &["tenants", "list"]);
    no_color.env("CLICOLOR_FORCE", "1").env("NO_COLOR", "1");
    let plain = portal.run_with(no_color).await;
    assert_eq!(plain.code, 0, "{plain:?}");
    assert!(!plain.stdout.contains('\u{1b}'), "NO_COLOR wins: {plain:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_follows_a_provision_and_a_backup_running_on_moto_step_by_step_to_success() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let customer = customer(&api, "Acme").await;
    release(&api, "3.1.0").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let operator = api.token("operator", "olga");

    let created = portal
        .ok(
            &operator,
            &[
                "tenants",
                "create",
                "--customer",
                &customer,
                "--name",
                "acme-prod",
                "--release",
                "3.1.0",
                "--wait",
                "-o",
                "json",
            ],
        )
        .await;
    let tenant = created.json();
    assert_eq!(tenant["state"], "Healthy", "the tenant as it is once provisioned: {created:?}");
    let id = tenant["id"].as_str().unwrap().to_owned();
    for line in [
        "begin: succeeded",
        "jenkins provision-tenant: succeeded",
        "health suite api-smoke: succeeded",
        "finish: succeeded",
    ] {
        assert!(created.stderr.contains(line), "{line}: {}", created.stderr);
    }
    assert!(created.stderr.contains(": succeeded"), "{created:?}");

    let backup = portal
        .ok(&operator, &["change-requests", "create", &id, "backup", "--reason", "CHG-7", "--wait", "-o", "json"])
        .await;
    let cr = backup.json();
    assert_eq!((cr["status"].as_str(), cr["operation"].as_str()), (Some("succeeded"), Some("backup")), "{backup:?}");
    let direct =
        api.call("viewer", Method::GET, &format!("/v1/change-requests/{}", cr["id"].as_str().unwrap()), None).await;
    assert_eq!(cr, direct.body, "the change request as it ended, as the API answers it");

    let listed = portal.ok(&operator, &["change-requests", "list", &id]).await;
    assert!(listed.stdout.lines().any(|l| l.contains("backup") && l.contains("succeeded")), "{listed:?}");
    let history = portal.ok(&operator, &["history", &id, "-o", "json"]).await;
    assert!(history.json()["items"].is_array(), "{history:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_exits_non_zero_when_the_change_request_fails_and_prints_how_it_ended() {
    let (api, lc) = TestApi::with_lifecycle("api-smoke").await;
    lc.jenkins.set_job("provision-tenant", JobBehaviour::new(FakeOutcome::Failure));
    let customer = customer(&api, "Acme").await;
    release(&api, "3.1.0").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let operator = api.token("operator", "olga");

    let run = portal
        .run(
            Some(&operator),
            &[
                "tenants",
                "create",
                "--customer",
                &customer,
                "--name",
                "acme-prod",
                "--release",
                "3.1.0",
                "--wait",
                "-o",
                "json",
            ],
        )
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.json()["state"], "Broken", "{run:?}");
    assert!(run.stderr.contains("jenkins provision-tenant: failed"), "{}", run.stderr);
    assert!(run.stderr.contains("ended failed"), "{}", run.stderr);
}

/// A stand-in for Cognito's token endpoint: trades the code `c0de` for `id_token` when the
/// verifier fits the challenge the authorize URL carried, and the refresh token `r1` for `renewed`.
struct FakeCognito {
    url: String,
    challenge: std::sync::Arc<std::sync::Mutex<String>>,
    grants: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

async fn fake_cognito(id_token: String, renewed: String) -> FakeCognito {
    use axum::response::IntoResponse;
    use base64::Engine;
    use sha2::Digest;
    let challenge = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let grants = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (expected, seen) = (challenge.clone(), grants.clone());
    let router = axum::Router::new().route(
        "/oauth2/token",
        axum::routing::post(move |body: String| {
            let (expected, seen, id_token, renewed) = (expected.clone(), seen.clone(), id_token.clone(), renewed.clone());
            async move {
                let form: std::collections::HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
                let field = |k: &str| form.get(k).cloned().unwrap_or_default();
                seen.lock().unwrap().push(field("grant_type"));
                let verified = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(field("code_verifier").as_bytes()))
                    == *expected.lock().unwrap();
                let answer = match field("grant_type").as_str() {
                    "authorization_code" if field("code") == "c0de" && verified && field("client_id") == "app-client" => {
                        json!({"id_token": id_token, "access_token": "a", "refresh_token": "r1", "expires_in": 3600, "token_type": "Bearer"})
                    }
                    "refresh_token" if field("refresh_token") == "r1" => {
                        json!({"id_token": renewed, "access_token": "a2", "expires_in": 3600, "token_type": "Bearer"})
                    }
                    _ => return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant"}))).into_response(),
                };
                axum::Json(answer).into_response()
            }
        }),
    );
    FakeCognito { url: serve(router).await, challenge, grants }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_login_trades_the_redirected_code_with_its_pkce_verifier_and_renews_an_expired_token() {
    use tokio::io::AsyncBufReadExt;
    let api = TestApi::new().await;
    tenant(&api, "acme-prod").await;
    let (first, renewed) = (api.token("admin", "alice"), api.token("admin", "alice-renewed"));
    let cognito = fake_cognito(first.clone(), renewed.clone()).await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();

    let mut cmd = portal.command(
        None,
        &["login", "--issuer", &cognito.url, "--client-id", "app-client", "--redirect-port", &port, "--no-browser"],
    );
    cmd.stderr(Stdio::piped()).stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("portal runs");
    let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let authorize = loop {
        let line = lines.next_line().await.unwrap().expect("portal prints the sign-in URL");
        if line.starts_with("http") {
            break reqwest::Url::parse(&line).expect("a URL");
        }
    };
    let param =
        |k: &str| authorize.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned()).unwrap_or_default();
    assert_eq!(authorize.path(), "/oauth2/authorize");
    assert_eq!((param("response_type"), param("client_id")), ("code".into(), "app-client".into()));
    assert_eq!(param("code_challenge_method"), "S256");
    assert_eq!(param("redirect_uri"), format!("http://localhost:{port}/callback"));
    *cognito.challenge.lock().unwrap() = param("code_challenge");

    // The browser, back from the hosted UI.
    let redirect = format!("http://127.0.0.1:{port}/callback?code=c0de&state={}", param("state"));
    let page = reqwest::get(&redirect).await.expect("the redirect is served");
    assert_eq!(page.status(), 200);
    let status = child.wait().await.unwrap();
    let rest: Vec<String> = {
        let mut rest = Vec::new();
        while let Ok(Some(l)) = lines.next_line().await {
            rest.push(l);
        }
        rest
    };
    assert!(status.success(), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("Logged in as alice@vendor.example (admin)")), "{rest:?}");

    let profiles_text = std::fs::read_to_string(portal.profiles_file()).unwrap();
    let profiles: Value = serde_yaml::from_str(&profiles_text).unwrap();
    let profile = &profiles["profiles"]["default"];
    assert_eq!((profile["token"].as_str(), profile["refresh_token"].as_str()), (Some(first.as_str()), Some("r1")));
    assert_eq!(profile["client_id"], "app-client");
    assert_mode_600(&portal.profiles_file());
    let listed = portal.run(None, &["tenants", "list", "-o", "json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");

    // Expired: the next command renews it with the refresh token first.
    let expired = profiles_text.replace(profile["expires_at"].as_str().unwrap(), "2020-01-01T00:00:00Z");
    std::fs::write(portal.profiles_file(), expired).unwrap();
    let listed = portal.run(None, &["tenants", "list", "-o", "json"]).await;
    assert_eq!(listed.code, 0, "{listed:?}");
    assert_eq!(*cognito.grants.lock().unwrap(), ["authorization_code", "refresh_token"]);
    let profiles: Value = serde_yaml::from_str(&std::fs::read_to_string(portal.profiles_file()).unwrap()).unwrap();
    assert_eq!(profiles["profiles"]["default"]["token"], renewed.as_str());
    assert_eq!(profiles["profiles"]["default"]["refresh_token"], "r1", "Cognito keeps the refresh token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_is_sent_signed_with_the_key_in_its_file_and_without_the_key_it_is_refused() {
    let key = b"0123456789abcdef0123456789abcdef".to_vec();
    let mut api = TestApi::new().await;
    api.app = api
        .app
        .clone()
        .with_callback_key(std::sync::Arc::new(engine::FixedCallbackKey(engine::KeyBytes::new(key.clone()))));
    let router = portal_api::router(api.app.clone(), std::sync::Arc::new(api.tokens.clone()));
    let portal = Portal::new(&serve(router).await);
    let key_file = portal.home.join("callback.key");
    std::fs::write(&key_file, [key.as_slice(), b"\n"].concat()).unwrap();
    let wrong_file = portal.home.join("wrong.key");
    std::fs::write(&wrong_file, "not-the-key-not-the-key-not-the-key").unwrap();
    let step = format!("chg_{}-2", ulid::Ulid::new());
    let key_path = key_file.to_str().unwrap();

    // No token needed; nobody waits on that step, so it is let in and wakes nothing.
    let sent = portal
        .run(None, &["callbacks", "jenkins", &step, "--key-file", key_path, "--result", "SUCCESS", "-o", "json"])
        .await;
    assert_eq!(sent.code, 0, "{sent:?}");
    assert_eq!(sent.json(), json!({"step_id": step, "woke": false}));
    // Each run signs with a fresh nonce: sent again, it is not a replay.
    let again = portal.run(None, &["callbacks", "jenkins", &step, "--key-file", key_path, "-o", "json"]).await;
    assert_eq!(again.code, 0, "{again:?}");

    let forged = portal.run(None, &["callbacks", "jenkins", &step, "--key-file", wrong_file.to_str().unwrap()]).await;
    assert_eq!(forged.code, 3, "{forged:?}");
    assert!(forged.stderr.contains("signature does not match"), "{forged:?}");
    let missing = portal.run(None, &["callbacks", "jenkins", &step, "--key-file", "/nonexistent/key"]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.stderr.contains("reading the callback key"), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compose_file_is_read_from_disk_diffed_then_applied() {
    let api = TestApi::new().await;
    let id = tenant(&api, "acme-compose").await;
    let portal = Portal::new(&serve(api.router.clone()).await);
    let operator = api.token("operator", "olga");
    let file = portal.home.join("docker-compose.yml");
    std::fs::write(
        &file,
        "services:\n  webapp:\n    image: vendor/webapp:3.2.0\n    environment:\n      - SMTP_HOST=smtp.acme.example\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();

    let diff = portal.ok(&operator, &["tenants", "import-compose", &id, "--file", path, "-o", "json"]).await.json();
    assert_eq!((diff["applied"].as_bool(), diff["changes"].as_u64()), (Some(false), Some(2)), "{diff}");
    let applied =
        portal.ok(&operator, &["tenants", "import-compose", &id, "--file", path, "--apply", "-o", "json"]).await.json();
    assert_eq!(applied["applied"], true, "{applied}");
    let webapp = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/components/webapp"), None).await.body;
    assert_eq!(webapp["version"], "3.2.0");

    let missing = portal.run(Some(&operator), &["tenants", "import-compose", &id, "--file", "/nonexistent.yml"]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
}
