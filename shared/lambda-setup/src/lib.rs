//! What every Lambda function of the portal does before it serves its first event: JSON logs on
//! stdout (CloudWatch Logs) filtered by `RUST_LOG`, and the AWS SDK configuration from the
//! Lambda environment.

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

/// The SDK configuration of the function's role and region (from the Lambda environment).
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
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
