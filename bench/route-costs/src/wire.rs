//! Records the DynamoDB requests a client sends, in order, by operation (`X-Amz-Target`), per
//! attempt: a retried call counts twice, as it costs two round trips.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

#[derive(Debug, Clone, Default)]
pub struct Wire(Arc<Mutex<Vec<String>>>);

impl Wire {
    /// The operations of the requests sent so far, in order.
    pub fn sent(&self) -> Vec<String> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "bench-wire-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or("?");
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        if let Ok(mut m) = self.0.lock() {
            m.push(op);
        }
        Ok(())
    }
}
