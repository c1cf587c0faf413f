//! The reconciler Lambda: wiring only (see `lib.rs`).

use std::sync::Arc;

use reconciler::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let var = |k: &str| std::env::var(k).ok();
    let changes = changes::wiring::from(&config, var)?;
    let grace = var("SWEEP_GRACE_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(300);
    let deps = Arc::new(Deps {
        changes,
        state_machine_arn: var("STATE_MACHINE_ARN"),
        grace: chrono::Duration::seconds(grace),
    });
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        let deps = deps.clone();
        async move { reconciler::handle(&deps, event).await }
    }))
    .await
}
