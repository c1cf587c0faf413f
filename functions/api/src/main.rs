//! The Admin Portal API as a Lambda function behind API Gateway (HTTP API, JWT authorizer).

mod claims;

use std::sync::Arc;

use engine::workflows::StepFunctions;
use portal_api::App;
use store::dynamo::DynamoTable;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let table = |var: &str| std::env::var(var).map(|name| Arc::new(DynamoTable::new(dynamodb.clone(), name)));
    let state_machine = std::env::var("STATE_MACHINE_ARN").map_err(|_| "STATE_MACHINE_ARN is not set")?;
    let app = App {
        table: table("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?,
        history: table("CHANGELOG_TABLE_NAME").map_err(|_| "CHANGELOG_TABLE_NAME is not set")?,
        workflows: Arc::new(StepFunctions::new(aws_sdk_sfn::Client::new(&config), state_machine)),
    };
    let router = portal_api::router(app, Arc::new(claims::AuthorizerClaims));
    lambda_http::run(router).await
}
