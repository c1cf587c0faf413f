//! The Jenkins client of a deployed function, built on first use from the SSM SecureString
//! holding its credentials: a function or task that never calls Jenkins does not pay for the
//! SSM read, and a cold start does not wait on it. And [`NoJenkins`], for a function wired
//! without Jenkins.

use std::collections::BTreeMap;

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{BuildStatus, HttpJenkins, Jenkins, JenkinsError, QueuedBuild};

pub struct SecretJenkins {
    ssm: aws_sdk_ssm::Client,
    param: String,
    url: String,
    client: OnceCell<HttpJenkins>,
}

impl SecretJenkins {
    /// Jenkins at `url`, with the credentials (`{"user", "token"}`) of the SecureString `param`.
    pub fn new(ssm: aws_sdk_ssm::Client, param: impl Into<String>, url: impl Into<String>) -> Self {
        Self { ssm, param: param.into(), url: url.into(), client: OnceCell::new() }
    }

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

#[async_trait]
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

    async fn report(&self, build_url: &str) -> Result<Option<serde_json::Value>, JenkinsError> {
        self.client().await?.report(build_url).await
    }
}

/// For a function wired without Jenkins: every call is refused as unavailable.
pub struct NoJenkins;

fn none() -> JenkinsError {
    JenkinsError::Unavailable("this function has no Jenkins configured (JENKINS_URL, JENKINS_SECRET_PARAM)".into())
}

#[async_trait]
impl Jenkins for NoJenkins {
    async fn trigger(&self, _: &str, _: &BTreeMap<String, String>) -> Result<QueuedBuild, JenkinsError> {
        Err(none())
    }
    async fn status(&self, _: &QueuedBuild) -> Result<BuildStatus, JenkinsError> {
        Err(none())
    }
    async fn find(&self, _: &str, _: &str) -> Result<Option<QueuedBuild>, JenkinsError> {
        Err(none())
    }
    async fn stop(&self, _: &QueuedBuild) -> Result<(), JenkinsError> {
        Err(none())
    }
    async fn report(&self, _: &str) -> Result<Option<serde_json::Value>, JenkinsError> {
        Err(none())
    }
}
