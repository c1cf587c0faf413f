//! The rollout driver Lambda: wiring only (see `lib.rs`).

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let changes = Arc::new(changes::wiring::from(&config, |k| std::env::var(k).ok())?);
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        let changes = changes.clone();
        async move { rollouts::handle(&changes, event).await }
    }))
    .await
}
