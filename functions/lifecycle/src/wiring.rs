//! Builds the task function's dependencies from its environment (the same code in Lambda and
//! in the local invoke server, which reads the environment the function was created with).

use std::sync::Arc;

use std::collections::BTreeMap;

use engine::jenkins::HttpJenkins;
use engine::remote::SsmCommands;
use engine::{BuildStatus, Jenkins, JenkinsError, QueuedBuild};
use store::dynamo::DynamoTable;
use tokio::sync::OnceCell;

use crate::Deps;
use crate::recipe::Pace;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The Jenkins client, built on first use from the SecureString holding its credentials: the
/// tasks that never call Jenkins (`begin`, `transition`, `finish`, SSM steps) do not pay for the
/// SSM read, and a cold start does not wait on it.
struct SecretJenkins {
    ssm: aws_sdk_ssm::Client,
    param: String,
    url: String,
    client: OnceCell<HttpJenkins>,
}

impl SecretJenkins {
    async fn client(&self) -> Result<&HttpJenkins, JenkinsError> {
        self.client
            .get_or_try_init(|| async {
                let out =
                    self.ssm.get_parameter().name(&self.param).with_decryption(true).send().await.map_err(|e| {
                        JenkinsError::Unavailable(format!(
                            "reading the Jenkins credentials {}: {}",
                            self.param,
                            aws_sdk_ssm::error::DisplayErrorContext(e)
                        ))
                    })?;
                let secret = out
                    .parameter()
                    .and_then(|p| p.value())
                    .ok_or_else(|| JenkinsError::Refused(format!("{} has no value", self.param)))?;
                HttpJenkins::from_secret(&self.url, secret).map_err(|e| JenkinsError::Refused(e.to_string()))
            })
            .await
    }
}

#[async_trait::async_trait]
impl Jenkins for SecretJenkins {
    async fn trigger(&self, job: &str, params: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError> {
        self.client().await?.trigger(job, params).await
    }

    async fn status(&self, build: &QueuedBuild) -> Result<BuildStatus, JenkinsError> {
        self.client().await?.status(build).await
    }

    async fn find(&self, job: &str, step_id: &str) -> Result<Option<QueuedBuild>, JenkinsError> {
        self.client().await?.find(job, step_id).await
    }

    async fn stop(&self, build: &QueuedBuild) -> Result<(), JenkinsError> {
        self.client().await?.stop(build).await
    }
}

/// From the process environment (in Lambda).
pub async fn deps_from_env(config: &aws_config::SdkConfig) -> Result<Deps, Error> {
    deps_from(config, |k| std::env::var(k).ok()).await
}

/// From any source of environment variables.
pub async fn deps_from(config: &aws_config::SdkConfig, var: impl Fn(&str) -> Option<String>) -> Result<Deps, Error> {
    let required = |k: &str| var(k).ok_or_else(|| format!("{k} is not set"));
    let number = |k: &str, default: u64| var(k).and_then(|v| v.parse().ok()).unwrap_or(default);
    let ssm = aws_sdk_ssm::Client::new(config);
    let jenkins = SecretJenkins {
        ssm: ssm.clone(),
        param: required("JENKINS_SECRET_PARAM")?,
        url: required("JENKINS_URL")?,
        client: OnceCell::new(),
    };
    Ok(Deps {
        registry: Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(config), required("TABLE_NAME")?)),
        jenkins: Arc::new(jenkins),
        // The template sets it; local stacks (moto does not check document names) need not.
        remote: Arc::new(SsmCommands::new(ssm, var("SSM_DOCUMENT").unwrap_or_else(|| "TenantPlaybookDocument".into()))),
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
