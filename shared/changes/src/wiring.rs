//! Builds the core over its AWS adapters from a function's environment (the same code in
//! Lambda and in the local invoke server, which reads the environment the function was created
//! with):
//!
//! | variable | |
//! |---|---|
//! | `TABLE_NAME` | the registry table (required) |
//! | `STATE_MACHINE_ARN` | the lifecycle state machine; without it the core starts and stops no workflow (the task function) |
//! | `JENKINS_URL`, `JENKINS_SECRET_PARAM` | the SaaS Jenkins and the SSM SecureString of its credentials, read on first use |
//! | `SSM_DOCUMENT` | the project's SSM document of allow-listed playbooks |

use std::sync::Arc;

use engine::jenkins::SecretJenkins;
use engine::remote::SsmCommands;
use engine::workflows::{NoWorkflows, StepFunctions};
use engine::{Jenkins, Workflows};
use store::dynamo::DynamoTable;

use crate::Changes;

/// The SSM document's name when the environment names none (local stacks).
pub const DEFAULT_SSM_DOCUMENT: &str = "TenantPlaybookDocument";

/// The core from the variables `var` answers.
pub fn from(config: &aws_config::SdkConfig, var: impl Fn(&str) -> Option<String>) -> Result<Changes, String> {
    let required = |k: &str| var(k).ok_or_else(|| format!("{k} is not set"));
    let ssm = aws_sdk_ssm::Client::new(config);
    let workflows: Arc<dyn Workflows> = match var("STATE_MACHINE_ARN") {
        Some(arn) => Arc::new(StepFunctions::new(aws_sdk_sfn::Client::new(config), arn)),
        None => Arc::new(NoWorkflows),
    };
    let jenkins: Arc<dyn Jenkins> = match (var("JENKINS_URL"), var("JENKINS_SECRET_PARAM")) {
        (Some(url), Some(param)) => Arc::new(SecretJenkins::new(ssm.clone(), param, url)),
        _ => Arc::new(engine::jenkins::NoJenkins),
    };
    let document = var("SSM_DOCUMENT").unwrap_or_else(|| DEFAULT_SSM_DOCUMENT.into());
    Ok(Changes {
        table: Arc::new(DynamoTable::new(aws_sdk_dynamodb::Client::new(config), required("TABLE_NAME")?)),
        workflows,
        jenkins,
        remote: Arc::new(SsmCommands::new(ssm, document)),
        alarms: Arc::new(engine::CloudWatchAlarms::new(aws_sdk_cloudwatch::Client::new(config))),
    })
}
