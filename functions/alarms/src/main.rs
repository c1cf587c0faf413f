//! The alarm Lambda: wiring only (see `lib.rs`).

use std::sync::Arc;

use alarms::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let var = |k: &str| std::env::var(k).ok();
    let deps = Arc::new(Deps { changes: changes::wiring::from(&config, var)? });
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        let deps = deps.clone();
        async move { alarms::handle(&deps, event).await }
    }))
    .await
}
