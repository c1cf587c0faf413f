//! Builds the task function's dependencies from its environment (the same code in Lambda and
//! in the local invoke server, which reads the environment the function was created with): the
//! core over its adapters (`changes::wiring`), the fleet's health suites and the pace.
//!
//! Besides the core's: `HEALTH_SUITES`, `POLL_SECONDS`, `JENKINS_CALLBACK_URL` (given to every
//! build as `CALLBACK_URL`), `JENKINS_HEARTBEAT_SECONDS` (how long a Jenkins step then waits for
//! its callback before it polls; default 300; without a callback URL it polls every
//! `POLL_SECONDS`), the timeouts,
//! `TENANT_SECRETS_PREFIX`, `TENANT_SECRETS_KEY`, `UPDATE_MANAGER_URL` (the tenants' Update
//! Manager API, for the drift steps; unset, they fail saying so).

use crate::Deps;
use crate::recipe::Pace;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where the tenants' secrets are when `TENANT_SECRETS_PREFIX` does not say.
pub const DEFAULT_SECRETS_PREFIX: &str = "/portal/tenants";

/// From the process environment (in Lambda).
pub async fn deps_from_env(config: &aws_config::SdkConfig) -> Result<Deps, Error> {
    deps_from(config, |k| std::env::var(k).ok()).await
}

/// From any source of environment variables.
pub async fn deps_from(config: &aws_config::SdkConfig, var: impl Fn(&str) -> Option<String>) -> Result<Deps, Error> {
    let number = |k: &str, default: u64| var(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    for required in ["JENKINS_URL", "JENKINS_SECRET_PARAM"] {
        if var(required).is_none() {
            return Err(format!("{required} is not set").into());
        }
    }
    let callback_url = var("JENKINS_CALLBACK_URL").filter(|u| !u.is_empty());
    let poll_seconds = number("POLL_SECONDS", 15);
    // Without callbacks a Jenkins step polls at the pace of the others; a wait's timeout must be
    // at least a second.
    let heartbeat_seconds = match callback_url {
        Some(_) => number("JENKINS_HEARTBEAT_SECONDS", 300),
        None => poll_seconds,
    }
    .max(1);
    Ok(Deps {
        changes: changes::wiring::from(config, &var)?,
        suites: var("HEALTH_SUITES")
            .unwrap_or_else(|| "api-smoke,ui-smoke".into())
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        pace: Pace {
            poll_seconds,
            heartbeat_seconds,
            jenkins_timeout_seconds: number("JENKINS_TIMEOUT_SECONDS", 3600),
            ssm_timeout_seconds: number("SSM_TIMEOUT_SECONDS", 1800),
            approval_timeout_seconds: number("APPROVAL_TIMEOUT_SECONDS", 14_400),
        },
        region: var("AWS_REGION"),
        secrets: std::sync::Arc::new(engine::SsmSecrets::new(
            aws_sdk_ssm::Client::new(config),
            var("TENANT_SECRETS_KEY").filter(|k| !k.is_empty()),
        )),
        secrets_prefix: var("TENANT_SECRETS_PREFIX").unwrap_or_else(|| DEFAULT_SECRETS_PREFIX.into()),
        callback_url,
        update_manager: match var("UPDATE_MANAGER_URL").filter(|u| !u.is_empty()) {
            Some(url) => std::sync::Arc::new(engine::HttpUpdateManager::new(&url)?),
            None => std::sync::Arc::new(engine::NoUpdateManager),
        },
    })
}
