//! The local stack: what `make dev` and the integration tests need beyond the product code.
//! Nothing here is linked into a deployed function.
//!
//! - [`table_def`]: creates the registry table from `infra/template.yaml` (one definition).
//! - [`local_auth`]: mints and verifies the local-only bearer tokens (`make token`).
//! - [`seed`]: demo data, written through the API itself.
//! - [`streams`]: delivers the registry stream to the change-log handler as Lambda would.
//! - [`execution_events`]: delivers execution ends and the sweep to the reconciler, as
//!   EventBridge would.
//! - [`alarm_events`]: a tenant's standard health alarm changing state, delivered to the alarm
//!   handler as EventBridge would; [`schedule_events`]: a schedule's rule firing, delivered to
//!   the schedules handler; [`event_admin`]: the loopback endpoint `make alarm` and `make
//!   schedule` call.
//! - [`fake_jenkins`]: a stand-in for the vendor's Jenkins (the API subset the engine uses);
//!   [`fake_update_manager`]: a stand-in for the tenants' Update Manager API (the usage metering
//!   reads).
//! - [`web`]: the web portal's built assets at `/`, with the headers CloudFront adds in AWS.
//! - [`logged_memory`]: the registry in memory with its change log, for `serve --memory`.

pub mod alarm_events;
pub mod event_admin;
pub mod execution_events;
pub mod fake_jenkins;
pub mod fake_update_manager;
pub mod local_auth;
pub mod local_lambda;
pub mod logged_memory;
pub mod schedule_events;
pub mod seed;
pub mod streams;
pub mod table_def;
pub mod web;

/// The timeouts and retries of every SDK client of the local stack and the tests: those of
/// Lambda ([`lambda_setup::SdkLimits::LAMBDA`]) made roomier for moto, which serves one
/// DynamoDB request at a time (its launcher's lock) and walks the whole table for every index
/// query, so a call can wait seconds behind a burst of others: 10 s an attempt, 30 s a call. Still, nothing waits forever.
pub const LOCAL_SDK_LIMITS: lambda_setup::SdkLimits = lambda_setup::SdkLimits {
    attempt: std::time::Duration::from_secs(10),
    operation: std::time::Duration::from_secs(30),
    ..lambda_setup::SdkLimits::LAMBDA
};

/// An SDK config for the local emulator at `endpoint`: fixed region and static credentials, so
/// the SDK never looks for AWS (no instance-metadata probe), and [`LOCAL_SDK_LIMITS`].
pub async fn local_aws_config(endpoint: &str) -> aws_config::SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "devstack");
    LOCAL_SDK_LIMITS
        .apply(aws_config::defaults(aws_config::BehaviorVersion::latest()))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .load()
        .await
}
