//! The schedules Lambda: wiring only (see `lib.rs`).

use std::sync::Arc;

use schedules::Deps;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let var = |k: &str| std::env::var(k).ok();
    let per_second = var("FANOUT_PER_SECOND").and_then(|v| v.parse().ok()).unwrap_or(10);
    let usage = engine::HttpUpdateManager::new(&var("UPDATE_MANAGER_URL").unwrap_or_default())?;
    let deps = Arc::new(Deps {
        changes: changes::wiring::from(&config, var)?,
        pace: changes::Pace::per_second(per_second),
        update_manager: Arc::new(usage),
    });
    lambda_runtime::run(lambda_runtime::service_fn(move |event| {
        let deps = deps.clone();
        async move { schedules::handle(&deps, event).await }
    }))
    .await
}
