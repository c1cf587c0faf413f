//! [`SsmSecrets`]: the [`Secrets`] port over SSM Parameter Store SecureString parameters.

use async_trait::async_trait;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ssm::types::ParameterType;

use super::{SecretError, SecretVersion, Secrets, generate};

/// `GetParameterHistory` pages read when looking for a label (50 versions each).
const HISTORY_PAGES: usize = 20;

/// Secrets as SecureString parameters (encrypted with the account's SSM key, or `key_id`).
/// - `generate`: `PutParameter` (`Overwrite`), then `LabelParameterVersion` of the version it
///   answered; a retried call first finds the label in `GetParameterHistory`.
/// - `labelled`: `GetParameterHistory` (no decryption), the version carrying the label.
/// - `label`: `LabelParameterVersion` (SSM moves a label off the version that had it).
#[derive(Debug, Clone)]
pub struct SsmSecrets {
    client: aws_sdk_ssm::Client,
    key_id: Option<String>,
}

impl SsmSecrets {
    pub fn new(client: aws_sdk_ssm::Client, key_id: Option<String>) -> Self {
        Self { client, key_id }
    }
}

fn failed<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    what: &str,
    e: aws_sdk_ssm::error::SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
) -> SecretError {
    let code = e.code().unwrap_or_default().to_owned();
    match code.as_str() {
        "ParameterNotFound"
        | "ParameterVersionNotFound"
        | "ParameterVersionLabelLimitExceeded"
        | "AccessDeniedException"
        | "ValidationException"
        | "ParameterMaxVersionLimitExceeded" => SecretError::Refused(format!("{what}: {code}")),
        _ => SecretError::Unavailable(anyhow::anyhow!("{what}: {}", DisplayErrorContext(&e))),
    }
}

#[async_trait]
impl Secrets for SsmSecrets {
    async fn generate(&self, parameter: &str, label: &str) -> Result<SecretVersion, SecretError> {
        if let Some(v) = self.labelled(parameter, label).await? {
            return Ok(v);
        }
        let mut put = self
            .client
            .put_parameter()
            .name(parameter)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .value(generate()?);
        if let Some(key) = &self.key_id {
            put = put.key_id(key);
        }
        let version = put.send().await.map_err(|e| failed("PutParameter", e))?.version();
        let version = u64::try_from(version).map_err(|_| SecretError::Refused(format!("version {version}")))?;
        let v = SecretVersion { parameter: parameter.to_owned(), version };
        self.label(&v, label).await?;
        Ok(v)
    }

    async fn labelled(&self, parameter: &str, label: &str) -> Result<Option<SecretVersion>, SecretError> {
        let mut token = None;
        for _ in 0..HISTORY_PAGES {
            let page = match self
                .client
                .get_parameter_history()
                .name(parameter)
                .with_decryption(false)
                .max_results(50)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(page) => page,
                Err(e) if e.code() == Some("ParameterNotFound") => return Ok(None),
                Err(e) => return Err(failed("GetParameterHistory", e)),
            };
            let found = page.parameters().iter().find(|p| p.labels().iter().any(|l| l == label));
            if let Some(p) = found {
                let version = u64::try_from(p.version()).unwrap_or_default();
                return Ok(Some(SecretVersion { parameter: parameter.to_owned(), version }));
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(None)
    }

    async fn label(&self, v: &SecretVersion, label: &str) -> Result<(), SecretError> {
        let version = i64::try_from(v.version).map_err(|_| SecretError::Refused(format!("version {}", v.version)))?;
        let answer = self
            .client
            .label_parameter_version()
            .name(&v.parameter)
            .parameter_version(version)
            .labels(label)
            .send()
            .await
            .map_err(|e| failed("LabelParameterVersion", e))?;
        if !answer.invalid_labels().is_empty() {
            return Err(SecretError::Refused(format!("invalid label {label:?}")));
        }
        Ok(())
    }
}
