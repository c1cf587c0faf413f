//! Builds the task function's dependencies from its environment (the same code in Lambda and
//! in the local invoke server, which reads the environment the function was created with).

use std::sync::Arc;

use engine::jenkins::HttpJenkins;
use engine::remote::SsmCommands;
use store::dynamo::DynamoTable;

use crate::Deps;
use crate::recipe::Pace;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// From the process environment (in Lambda).
pub async fn deps_from_env(config: &aws_config::SdkConfig) -> Result<Deps, Error> {
    deps_from(config, |k| std::env::var(k).ok()).await
}

/// From any source of environment variables.
pub async fn deps_from(config: &aws_config::SdkConfig, var: impl Fn(&str) -> Option<String>) -> Result<Deps, Error> {
    let required = |k: &str| var(k).ok_or_else(|| format!("{k} is not set"));
    let number = |k: &str, default: u64| var(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let ssm = aws_sdk_ssm::Client::new(config);
    let param = required("JENKINS_SECRET_PARAM")?;
    let secret = ssm
        .get_parameter()
        .name(&param)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            format!("reading the Jenkins credentials {param}: {}", aws_sdk_ssm::error::DisplayErrorContext(e))
        })?
        .parameter()
        .and_then(|p| p.value())
        .map(str::to_owned)
        .ok_or_else(|| format!("{param} has no value"))?;
    let jenkins = HttpJenkins::from_secret(&required("JENKINS_URL")?, &secret).map_err(|e| e.to_string())?;
    Ok(Deps {
        registry: Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(config), required("TABLE_NAME")?)),
        jenkins: Arc::new(jenkins),
        remote: Arc::new(SsmCommands::new(ssm)),
        suites: var("HEALTH_SUITES")
            .unwrap_or_else(|| "api-smoke,ui-smoke".into())
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        pace: Pace {
            poll_seconds: number("POLL_SECONDS", 15),
            jenkins_timeout_seconds: number("JENKINS_TIMEOUT_SECONDS", 3600),
            ssm_timeout_seconds: number("SSM_TIMEOUT_SECONDS", 1800),
        },
    })
}
