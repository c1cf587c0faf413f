//! The lifecycle workflow's task function (see `statemachines/lifecycle.asl.json`).

use lambda_runtime::{run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let deps = lifecycle::wiring::deps_from_env(&config).await?;
    run(service_fn(|event| lifecycle::handle(&deps, event))).await
}
