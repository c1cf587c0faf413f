//! What every Lambda function of the portal does before it serves its first event: JSON logs on
//! stdout (CloudWatch Logs) filtered by `RUST_LOG`, and the AWS SDK configuration from the
//! Lambda environment, with the timeouts and retries every SDK client gets ([`SdkLimits`]).

pub mod emf;

use std::time::Duration;

use aws_config::ConfigLoader;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The log filter `RUST_LOG` names: `info`, or per target as in `info,aws_smithy_runtime=warn`
/// (tracing-subscriber's `Targets` syntax: levels per target prefix, no regex, so it costs no
/// regex engine in the binary nor any time at start). Unset or unreadable: `info`, and the
/// unreadable value is reported once the subscriber runs.
pub fn log_filter(rust_log: Option<&str>) -> Result<Targets, String> {
    match rust_log.map(str::trim) {
        None | Some("") => Ok(Targets::new().with_default(Level::INFO)),
        Some(value) => {
            value.parse().map_err(|e| format!("RUST_LOG={value:?} is not a log filter ({e}); logging at info"))
        }
    }
}

/// Installs the JSON log subscriber (no timestamps: CloudWatch stamps every line).
pub fn init_logging() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let (filter, problem) = match log_filter(rust_log.as_deref()) {
        Ok(filter) => (filter, None),
        Err(problem) => (Targets::new().with_default(Level::INFO), Some(problem)),
    };
    tracing_subscriber::registry().with(tracing_subscriber::fmt::layer().json().without_time()).with(filter).init();
    if let Some(problem) = problem {
        tracing::warn!("{problem}");
    }
}

/// How long one SDK call may take, and how it is retried: no call waits forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkLimits {
    /// Opening a connection.
    pub connect: Duration,
    /// One attempt: the request sent and its whole answer read.
    pub attempt: Duration,
    /// The whole call, every attempt and backoff included.
    pub operation: Duration,
    /// Attempts in all (the first one included), on transient errors, throttling and timeouts.
    pub max_attempts: u32,
    /// The first backoff (jittered, doubling up to `max_backoff`).
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl SdkLimits {
    /// In Lambda, for DynamoDB, Step Functions and SSM alike.
    ///
    /// - `connect` 2 s: an in-region endpoint connects in milliseconds; a connect still pending
    ///   after 2 s has no route (the SDK's own default is 3.1 s).
    /// - `attempt` 3 s: DynamoDB answers in milliseconds, a 100-item `TransactWriteItems`,
    ///   `StartExecution` or `SendCommand` well under a second. An attempt still unanswered
    ///   after 3 s is a stalled connection (such as a pooled one that died while the function
    ///   was frozen), better retried on a fresh one than waited for.
    /// - `operation` 10 s, 3 attempts, backoff from 200 ms: three attempts and their backoffs
    ///   fit in it. The API function has 29 s (API Gateway gives up at 30 s): a dependency that
    ///   stops answering costs a request 10 s and answers 503, not a Lambda timeout with no
    ///   answer; the other functions (60 s, 120 s) keep room for their own retries. Retried
    ///   transactions are safe: the SDK gives each `TransactWriteItems` a `ClientRequestToken`.
    pub const LAMBDA: Self = Self {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(3),
        operation: Duration::from_secs(10),
        max_attempts: 3,
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(2),
    };

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// Standard mode (the retry quota guards against retry storms).
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// `loader` with these timeouts and retries.
    pub fn apply(&self, loader: ConfigLoader) -> ConfigLoader {
        loader.timeout_config(self.timeout_config()).retry_config(self.retry_config())
    }
}

/// The loader of every function's SDK configuration: the Lambda environment's role and region,
/// and [`SdkLimits::LAMBDA`].
pub fn aws_config_loader() -> ConfigLoader {
    SdkLimits::LAMBDA.apply(aws_config::defaults(aws_config::BehaviorVersion::latest()))
}

/// The SDK configuration of the function's role and region (from the Lambda environment).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config_loader().load().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn unset_or_blank_logs_at_info() {
        for value in [None, Some(""), Some("  ")] {
            let filter = log_filter(value).expect("a filter");
            assert!(filter.would_enable("portal_api", &Level::INFO));
            assert!(!filter.would_enable("portal_api", &Level::DEBUG));
        }
    }

    #[test]
    fn a_level_and_per_target_levels_are_read() {
        let filter = log_filter(Some("warn,lifecycle=debug")).expect("a filter");
        assert!(filter.would_enable("lifecycle::actions", &Level::DEBUG));
        assert!(!filter.would_enable("aws_smithy_runtime", &Level::INFO));
        assert!(filter.would_enable("aws_smithy_runtime", &Level::WARN));
        assert_eq!(log_filter(Some("off")).expect("a filter").default_level(), Some(LevelFilter::OFF));
    }

    #[test]
    fn a_filter_that_does_not_parse_is_refused_with_its_value() {
        let problem = log_filter(Some("info,[{bad}]=x")).expect_err("not a filter");
        assert!(problem.contains("info,[{bad}]=x"), "{problem}");
    }
}
