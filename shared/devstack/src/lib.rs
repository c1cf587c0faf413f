//! The local stack: what `make dev` and the integration tests need beyond the product code.
//! Nothing here is linked into a deployed function.
//!
//! - [`table_def`]: creates the registry table from `infra/template.yaml` (one definition).
//! - [`local_auth`]: mints and verifies the local-only bearer tokens (`make token`).
//! - [`seed`]: demo data, written through the API itself.
//! - [`streams`]: delivers the registry stream to the change-log handler as Lambda would.
//! - [`execution_events`]: delivers execution ends and the sweep to the reconciler, as
//!   EventBridge would.
//! - [`fake_jenkins`]: a stand-in for the vendor's Jenkins (the API subset the engine uses).

pub mod execution_events;
pub mod fake_jenkins;
pub mod local_auth;
pub mod local_lambda;
pub mod seed;
pub mod streams;
pub mod table_def;

/// An SDK config for the local emulator at `endpoint`: fixed region and static credentials, so
/// the SDK never looks for AWS (no instance-metadata probe).
pub async fn local_aws_config(endpoint: &str) -> aws_config::SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "devstack");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(endpoint)
        .load()
        .await
}
