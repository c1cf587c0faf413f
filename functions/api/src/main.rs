//! The Admin Portal API as a Lambda function behind API Gateway (HTTP API, JWT authorizer).

mod claims;

use std::sync::Arc;

use portal_api::App;
use store::dynamo::DynamoTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let var = |k: &str| std::env::var(k).ok();
    if var("STATE_MACHINE_ARN").is_none() {
        return Err("STATE_MACHINE_ARN is not set".into());
    }
    let changes = changes::wiring::from(&config, var)?;
    let history = var("CHANGELOG_TABLE_NAME").ok_or("CHANGELOG_TABLE_NAME is not set")?;
    let history = Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), history));
    let mut app = App::new(history, changes);
    if let Some(param) = var("CALLBACK_KEY_PARAM") {
        // Jenkins signs its completion callbacks with this SecureString; read on first use.
        app = app.with_callback_key(Arc::new(engine::SsmCallbackKey::new(aws_sdk_ssm::Client::new(&config), param)));
    }
    let router = portal_api::router(app, Arc::new(claims::AuthorizerClaims));
    lambda_http::run(router).await
}
