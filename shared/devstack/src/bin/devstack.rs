//! `devstack serve`: the local API on the local emulator, with demo data.
//! `devstack serve --memory`: the same API and portal over the in-memory store (no emulator, no
//! workflow runs), to measure pages against a large fleet (`DEMO_TENANTS=1000`) in seconds.
//! `devstack token --role admin [--sub alice]`: a bearer token the local API accepts.
//! `devstack create-table`: the tables, as `infra/template.yaml` declares them.
//!
//! `serve` also follows the registry table's stream into the change log, as the deployed
//! `changelog` function does.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use devstack::local_auth::LocalTokens;
use devstack::seed::{self, ApiCaller};
use devstack::streams::StreamPoller;
use devstack::table_def;
use portal_api::App;
use store::dynamo::DynamoTable;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn dev_dir() -> PathBuf {
    PathBuf::from(env("PORTAL_DEV_DIR", ".dev"))
}

fn arg(args: &[String], flag: &str) -> Option<String> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Colours only on a terminal: `make dev`'s log piped to a file or a CI log stays plain.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("token") => {
            let role = arg(&args, "--role").unwrap_or_else(|| "admin".into());
            if domain::Role::parse(&role).is_none() {
                bail!("--role must be admin, operator or viewer");
            }
            let sub = arg(&args, "--sub").unwrap_or_else(|| format!("dev-{role}"));
            let email = arg(&args, "--email").unwrap_or_else(|| format!("{sub}@vendor.example"));
            let tokens = LocalTokens::for_checkout(&dev_dir())?;
            std::io::Write::write_all(
                &mut std::io::stdout(),
                format!("{}\n", tokens.mint(&sub, Some(&email), &role, 12 * 3600)).as_bytes(),
            )?;
            Ok(())
        }
        Some("create-table") => ensure_tables(&clients().await?).await,
        Some("serve") if args.iter().any(|a| a == "--memory") => serve_memory().await,
        Some("serve") => serve().await,
        _ => bail!("usage: devstack serve [--memory] | token --role admin|operator|viewer [--sub NAME] | create-table"),
    }
}

struct Local {
    config: aws_config::SdkConfig,
    dynamodb: aws_sdk_dynamodb::Client,
    registry: String,
    history: String,
}

async fn clients() -> anyhow::Result<Local> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").context("AWS_ENDPOINT_URL must point at the local emulator")?;
    let config = devstack::local_aws_config(&endpoint).await;
    Ok(Local {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        config,
        registry: env("TABLE_NAME", "admin-portal-registry"),
        history: env("CHANGELOG_TABLE_NAME", "admin-portal-changelog"),
    })
}

async fn ensure_tables(local: &Local) -> anyhow::Result<()> {
    for (logical_id, name) in
        [(table_def::REGISTRY_TABLE, &local.registry), (table_def::CHANGELOG_TABLE, &local.history)]
    {
        if !table_def::table_exists(&local.dynamodb, name).await? {
            table_def::create_table(&local.dynamodb, table_def::TEMPLATE, logical_id, name).await?;
            tracing::info!(table = %name, "created {logical_id} from infra/template.yaml");
        }
    }
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    let local = clients().await?;
    ensure_tables(&local).await?;
    let history: Arc<DynamoTable> = Arc::new(DynamoTable::new(local.dynamodb.clone(), &local.history));
    let Stack { changes, callback_key, boxes, update_manager } = lifecycle_stack(&local).await?;
    let app = App::new(history.clone(), changes.clone()).with_callback_key(callback_key);
    let streams = aws_sdk_dynamodbstreams::Client::new(&local.config);
    StreamPoller::new(&local.dynamodb, streams, &local.registry, history.clone())
        .await?
        .spawn(std::time::Duration::from_millis(250));
    let tokens = LocalTokens::for_checkout(&dev_dir())?;
    // The web portal at `/` (built into web/dist by `make web`), the API under `/v1`.
    let web_dir = PathBuf::from(env("PORTAL_WEB_DIR", "web/dist"));
    let router = devstack::web::router(web_dir).merge(portal_api::router(app.clone(), Arc::new(tokens.clone())));

    // Demo history is written as if it had happened: the seed's change requests run no workflow.
    let quiet = changes::Changes { workflows: Arc::new(engine::workflows::MemoryWorkflows::new()), ..changes.clone() };
    let seeder = ApiCaller::new(
        portal_api::router(App::new(history.clone(), quiet.clone()), Arc::new(tokens.clone())),
        tokens.mint("seed", None, "admin", 600),
    );
    if !seed::is_seeded(&seeder).await? {
        let n = seed::seed(&quiet, &seeder).await?;
        tracing::info!(tenants = n, "seeded demo data");
    }
    // A few boxes run what their record does not say, and the drift schedule has seen them.
    seed::drift_demo_boxes(&seeder, &boxes).await?;
    let found =
        changes.check_fleet_drift(update_manager.as_ref(), chrono::Utc::now(), changes::Pace::per_second(50)).await?;
    tracing::info!(checked = found.checked, drifted = found.drifted, "checked the demo boxes for drift");

    let addr = format!("127.0.0.1:{}", env("PORT", "3000"));
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!("Admin Portal API on http://{addr}  (token: make token ROLE=admin)");
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// The API and the portal over the in-memory store, its change log written as each write
/// commits; seeded like `serve`. Change requests are started on in-memory workflows: none runs.
async fn serve_memory() -> anyhow::Result<()> {
    let history: Arc<store::memory::MemoryTable> = Arc::new(store::memory::MemoryTable::new());
    let table = Arc::new(devstack::logged_memory::LoggedMemoryTable::new(history.clone()));
    let changes = changes::Changes {
        table,
        workflows: Arc::new(engine::workflows::MemoryWorkflows::new()),
        jenkins: Arc::new(engine::MemoryJenkins::new()),
        remote: Arc::new(engine::MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    };
    let tokens = LocalTokens::for_checkout(&dev_dir())?;
    let api = portal_api::router(App::new(history.clone(), changes.clone()), Arc::new(tokens.clone()));
    let seeder = ApiCaller::new(api.clone(), tokens.mint("seed", None, "admin", 600));
    let n = seed::seed(&changes, &seeder).await?;
    tracing::info!(tenants = n, "seeded demo data (in memory)");
    let router = devstack::web::router(PathBuf::from(env("PORTAL_WEB_DIR", "web/dist"))).merge(api);
    let addr = format!("127.0.0.1:{}", env("PORT", "3000"));
    let listener = tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("binding {addr}"))?;
    tracing::info!("Admin Portal API (in memory) on http://{addr}");
    axum::serve(listener, router).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (what `make dev`'s script sends on exit).
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// The lifecycle workflows, for real on the emulator: a stand-in Jenkins, its credentials in
/// SSM, the task function (run by the local invoke API that moto calls), the state machine
/// from `statemachines/lifecycle.asl.json`, and the reconciler fed with its execution ends and
/// a sweep as EventBridge would, and the builds' signed completion callbacks. Answers the core
/// the API runs on and the key it checks callbacks with.
/// The core over the local workflows, with what `serve` needs of the rest.
struct Stack {
    changes: changes::Changes,
    callback_key: Arc<dyn engine::CallbackKey>,
    /// The stand-in Update Manager of every box, to drift some of them by hand.
    boxes: devstack::fake_update_manager::FakeUpdateManager,
    update_manager: Arc<dyn engine::UpdateManager>,
}

async fn lifecycle_stack(local: &Local) -> anyhow::Result<Stack> {
    use devstack::fake_jenkins::{FakeJenkins, FakeOutcome, JobBehaviour};
    use devstack::local_lambda;

    let invoker = local_lambda::Invoker::new();
    invoker.set_endpoint(&std::env::var("AWS_ENDPOINT_URL")?);
    let invoke_addr = format!("127.0.0.1:{}", env("INVOKE_PORT", "9001"));
    let invoke = tokio::net::TcpListener::bind(&invoke_addr).await.with_context(|| format!("binding {invoke_addr}"))?;
    tokio::spawn(local_lambda::serve(invoker, invoke));

    let jenkins = FakeJenkins::new("portal", "local-jenkins-token");
    let jenkins_addr = format!("127.0.0.1:{}", env("JENKINS_PORT", "0"));
    let listener =
        tokio::net::TcpListener::bind(&jenkins_addr).await.with_context(|| format!("binding {jenkins_addr}"))?;
    let jenkins_url = jenkins.serve(listener).await?;
    // Every job, long enough to watch a tenant move through its states (`make jenkins` changes it).
    jenkins.set_default_job(JobBehaviour::new(FakeOutcome::Success).queued_for(300).running_for(2000));
    // Where `make jenkins` finds the stand-in.
    let url_file = dev_dir().join("jenkins-url");
    std::fs::create_dir_all(dev_dir())
        .and_then(|_| std::fs::write(&url_file, format!("{jenkins_url}\n")))
        .with_context(|| format!("writing {}", url_file.display()))?;
    for (job, report) in devstack::fake_jenkins::reports() {
        jenkins.set_report(job, report);
    }
    let secret = "/admin-portal/local/jenkins";
    local_lambda::put_jenkins_secret(&local.config, secret, "portal", "local-jenkins-token").await?;
    // Builds post their end to the API, signed with a key both read from SSM.
    let callback_key = "/admin-portal/local/jenkins-callback-key";
    jenkins.set_callback_key(Some(local_lambda::put_callback_key(&local.config, callback_key).await?));
    let callback_url = format!("http://127.0.0.1:{}/v1/callbacks/jenkins", env("PORT", "3000"));
    // The tenants' Update Manager API, which metering and drift read and re-applying writes.
    let update_manager_port =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the update manager")?;
    let update_manager_url = format!("http://{}", update_manager_port.local_addr()?);
    let vars = [
        ("TABLE_NAME", local.registry.clone()),
        ("JENKINS_URL", jenkins_url.clone()),
        ("JENKINS_SECRET_PARAM", secret.to_owned()),
        ("HEALTH_SUITES", "api-smoke,ui-smoke".to_owned()),
        ("POLL_SECONDS", "1".to_owned()),
        // The callback ends a job's wait; without one, it is polled every 30 s.
        ("JENKINS_HEARTBEAT_SECONDS", "30".to_owned()),
        ("JENKINS_CALLBACK_URL", callback_url),
        ("JENKINS_TIMEOUT_SECONDS", "300".to_owned()),
        ("SSM_TIMEOUT_SECONDS", "120".to_owned()),
        ("UPDATE_MANAGER_URL", update_manager_url.clone()),
    ];
    let function = local_lambda::create_function(&local.config, "admin-portal-lifecycle", "lifecycle", &vars).await?;
    let machine =
        local_lambda::create_lifecycle_state_machine(&local.config, "admin-portal-lifecycle", &function).await?;
    let core_env: std::collections::HashMap<&str, String> =
        vars.iter().map(|(k, v)| (*k, v.clone())).chain([("STATE_MACHINE_ARN", machine.clone())]).collect();
    let changes = changes::wiring::from(&local.config, |k| core_env.get(k).cloned()).map_err(anyhow::Error::msg)?;
    let reconciler = Arc::new(reconciler::Deps {
        changes: changes.clone(),
        state_machine_arn: Some(machine.clone()),
        grace: chrono::Duration::seconds(120),
    });
    devstack::execution_events::ExecutionEvents::new(aws_sdk_sfn::Client::new(&local.config), &machine, reconciler)
        .spawn(std::time::Duration::from_secs(2), std::time::Duration::from_secs(60));
    // The rollout driver's schedule (every minute in AWS; moto fires none): every 10 s here.
    let driver = changes.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            every.tick().await;
            if let Err(e) = driver.advance_rollouts(chrono::Utc::now()).await {
                tracing::warn!(error = %e, "advancing the rollouts failed; trying again at the next tick");
            }
        }
    });
    // Each box runs what its tenant records, but for what the seed changed on it by hand.
    let update_manager = devstack::fake_update_manager::FakeUpdateManager::new().following(changes.clone());
    update_manager.serve(update_manager_port).await?;
    let client: Arc<dyn engine::UpdateManager> = Arc::new(engine::HttpUpdateManager::new(&update_manager_url)?);
    // Alarm and schedule events moto never emits: `make alarm` and `make schedule` deliver them.
    let targets = devstack::event_admin::EventTargets {
        alarms: Arc::new(alarms::Deps { changes: changes.clone() }),
        schedules: Arc::new(schedules::Deps {
            changes: changes.clone(),
            pace: changes::Pace::per_second(10),
            update_manager: client.clone(),
        }),
    };
    let events_addr = format!("127.0.0.1:{}", env("EVENTS_PORT", "0"));
    let listener =
        tokio::net::TcpListener::bind(&events_addr).await.with_context(|| format!("binding {events_addr}"))?;
    let events_url = devstack::event_admin::serve(targets, listener).await?;
    let events_file = dev_dir().join("events-url");
    std::fs::write(&events_file, format!("{events_url}\n"))
        .with_context(|| format!("writing {}", events_file.display()))?;
    tracing::info!(%jenkins_url, %events_url, state_machine = %machine, "lifecycle workflows ready");
    let key: Arc<dyn engine::CallbackKey> =
        Arc::new(engine::SsmCallbackKey::new(aws_sdk_ssm::Client::new(&local.config), callback_key));
    Ok(Stack { changes, callback_key: key, boxes: update_manager, update_manager: client })
}
