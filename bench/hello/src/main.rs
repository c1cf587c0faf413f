//! The cold-start baseline of `make bench`: the smallest `lambda_runtime` function, echoing its
//! event. Built with the workspace release profile like every function, so the api's size and
//! init time can be read against it.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|e: LambdaEvent<Value>| async { Ok::<_, Error>(e.payload) })).await
}
