//! The lifecycle workflow's task function (see `statemachines/lifecycle.asl.json`).

use lambda_runtime::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .without_time()
        .init();
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let deps = lifecycle::wiring::deps_from_env(&config).await?;
    run(service_fn(|event| lifecycle::handle(&deps, event))).await
}
