//! The change log: a DynamoDB Streams consumer of the registry table.

use std::sync::Arc;

use changelog::{Deps, handle};
use lambda_runtime::{run, service_fn};
use store::dynamo::DynamoTable;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_setup::init_logging();
    let config = lambda_setup::aws_config().await;
    let table = std::env::var("CHANGELOG_TABLE_NAME").map_err(|_| "CHANGELOG_TABLE_NAME is not set")?;
    let deps = Deps { history: Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(&config), table)) };
    run(service_fn(|event| handle(&deps, event))).await
}
