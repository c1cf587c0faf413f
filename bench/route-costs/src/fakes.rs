//! The change-request core and the lifecycle task handler's dependencies with Step Functions,
//! Jenkins and SSM in memory (every job and command succeeds at once), over a given registry
//! table: shared by `route-costs` and its criterion bench (`benches/handlers.rs` includes this
//! file).

use std::sync::Arc;

use store::Table;

pub fn core(registry: Arc<dyn Table>) -> changes::Changes {
    changes::Changes {
        table: registry,
        workflows: Arc::new(engine::workflows::MemoryWorkflows::new()),
        jenkins: Arc::new(engine::MemoryJenkins::new()),
        remote: Arc::new(engine::MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    }
}

pub fn lifecycle_deps(registry: Arc<dyn Table>) -> lifecycle::Deps {
    lifecycle::Deps {
        changes: core(registry),
        suites: vec!["api-smoke".into(), "ui-smoke".into()],
        pace: lifecycle::recipe::Pace {
            poll_seconds: 1,
            heartbeat_seconds: 1,
            jenkins_timeout_seconds: 3600,
            ssm_timeout_seconds: 900,
            approval_timeout_seconds: 14_400,
        },
        region: None,
        secrets: Arc::new(engine::MemorySecrets::new()),
        secrets_prefix: "/portal/tenants".into(),
        callback_url: None,
        update_manager: std::sync::Arc::new(engine::NoUpdateManager),
    }
}
