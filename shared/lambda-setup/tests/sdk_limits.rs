//! No SDK call waits forever: an unanswered call is retried, then given up within its limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::error::SdkError;
use lambda_setup::SdkLimits;
use tokio::io::AsyncReadExt;

/// A server that reads requests and never answers; answers its URL and the requests it read.
async fn silent_server() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut seen = Vec::new();
                while let Ok(n @ 1..) = socket.read(&mut buf).await {
                    seen.extend_from_slice(&buf[..n]);
                    // One request head (ending in a blank line) per request; the JSON body has none.
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        counter.fetch_add(1, Ordering::SeqCst);
                        seen.drain(..end + 4);
                    }
                }
            });
        }
    });
    (url, requests)
}

async fn config(loader: aws_config::ConfigLoader, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let loader = loader
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"));
    match endpoint {
        Some(url) => loader.endpoint_url(url).load().await,
        None => loader.load().await,
    }
}

fn short(attempt_ms: u64, operation_ms: u64) -> SdkLimits {
    SdkLimits {
        connect: Duration::from_millis(500),
        attempt: Duration::from_millis(attempt_ms),
        operation: Duration::from_millis(operation_ms),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
    }
}

async fn describe_unanswered(limits: SdkLimits) -> (Duration, usize, String) {
    let (url, requests) = silent_server().await;
    let config = config(limits.apply(aws_config::defaults(BehaviorVersion::latest())), Some(&url)).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let started = Instant::now();
    let err = client.describe_table().table_name("registry").send().await.expect_err("nothing answers");
    let took = started.elapsed();
    assert!(matches!(err, SdkError::TimeoutError(_)), "a timeout: {err:?}");
    (took, requests.load(Ordering::SeqCst), format!("{err:?}"))
}

#[tokio::test]
async fn an_unanswered_call_is_tried_max_attempts_times_then_fails_as_a_timeout() {
    let (took, requests, err) = describe_unanswered(short(300, 5_000)).await;
    assert_eq!(requests, 3, "three attempts: {err}");
    assert!(took >= Duration::from_millis(900), "each attempt waited its 300 ms: {took:?}");
    assert!(took < Duration::from_secs(3), "and no longer: {took:?}");
}

#[tokio::test]
async fn the_operation_timeout_bounds_the_call_whatever_its_attempts() {
    let (took, requests, err) = describe_unanswered(short(2_000, 500)).await;
    assert_eq!(requests, 1, "the operation ended during its first attempt: {err}");
    assert!(took >= Duration::from_millis(450) && took < Duration::from_millis(1_500), "{took:?}");
}

#[tokio::test]
async fn every_function_gets_the_lambda_limits() {
    let config = config(lambda_setup::aws_config_loader(), None).await;
    let limits = SdkLimits::LAMBDA;
    let timeouts = config.timeout_config().expect("timeouts");
    assert_eq!(timeouts.connect_timeout(), Some(limits.connect));
    assert_eq!(timeouts.operation_attempt_timeout(), Some(limits.attempt));
    assert_eq!(timeouts.operation_timeout(), Some(limits.operation));
    let retries = config.retry_config().expect("retries");
    assert_eq!(retries.max_attempts(), limits.max_attempts);
    assert_eq!(retries.initial_backoff(), limits.initial_backoff);
    assert_eq!(retries.max_backoff(), limits.max_backoff);
}

#[test]
fn in_lambda_every_attempt_and_backoff_fit_in_the_operation_and_it_in_the_api_timeout() {
    let l = SdkLimits::LAMBDA;
    let backoffs: Duration =
        (0..l.max_attempts - 1).map(|n| (l.initial_backoff * 2u32.pow(n)).min(l.max_backoff)).sum();
    assert!(l.attempt * l.max_attempts + backoffs <= l.operation, "{l:?}");
    // The API function's timeout (infra/template.yaml) and API Gateway's 30 s: two calls that
    // time out still leave the function time to answer.
    assert!(l.operation * 2 < Duration::from_secs(29), "{l:?}");
}
