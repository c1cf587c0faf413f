//! A `make bench` baseline between `hello` and the functions: the bare echo function plus the
//! SDK setup each function starts with (`aws_config::load_defaults` and one DynamoDB client),
//! and nothing else (no tracing subscriber, no router, no other client). Its cold init minus
//! hello's is what the SDK setup alone costs.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    run(service_fn(move |e: LambdaEvent<Value>| {
        let _client = &dynamodb;
        async { Ok::<_, Error>(e.payload) }
    }))
    .await
}
