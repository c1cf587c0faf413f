//! Runs the real Rust task handlers for the local emulator. moto keeps the Lambda functions and
//! state machines, executes the ASL, and (through `tests/stack/moto_launcher.py`) sends every
//! invocation to this Lambda Invoke API, which calls the same handler the function's binary runs
//! in AWS, with dependencies built from the environment the function was created with.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The role local functions and state machines run as (made by the moto launcher).
pub const LOCAL_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/admin-portal-local";

/// The environment variable that says which handler a local function runs.
pub const HANDLER_VAR: &str = "PORTAL_HANDLER";

/// The invoke server's state: how to reach moto, and the dependencies of each function, built
/// once per function (as a cold start would).
#[derive(Clone, Default)]
pub struct Invoker {
    endpoint: Arc<OnceLock<String>>,
    deps: Arc<Mutex<HashMap<String, Arc<lifecycle::Deps>>>>,
}

impl Invoker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Where moto is (known once it runs; invocations before that fail).
    pub fn set_endpoint(&self, endpoint: &str) {
        let _ = self.endpoint.set(endpoint.to_owned());
    }

    pub fn router(&self) -> Router {
        Router::new().route("/2015-03-31/functions/{name}/invocations", post(invoke)).with_state(self.clone())
    }

    async fn lifecycle_deps(&self, name: &str) -> anyhow::Result<Arc<lifecycle::Deps>> {
        if let Some(d) = self.deps.lock().await.get(name) {
            return Ok(d.clone());
        }
        let endpoint = self.endpoint.get().context("moto is not up yet")?;
        let config = crate::local_aws_config(endpoint).await;
        let env = function_env(&config, name).await?;
        let deps =
            lifecycle::wiring::deps_from(&config, |k| env.get(k).cloned()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let deps = Arc::new(deps);
        self.deps.lock().await.insert(name.to_owned(), deps.clone());
        Ok(deps)
    }
}

async fn function_env(config: &aws_config::SdkConfig, name: &str) -> anyhow::Result<HashMap<String, String>> {
    let lambda = aws_sdk_lambda::Client::new(config);
    let out = lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("{}", aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    Ok(out.environment().and_then(|e| e.variables()).cloned().unwrap_or_default())
}

fn function_error(error_type: &str, message: &str) -> Response {
    let mut resp =
        (StatusCode::OK, axum::Json(json!({"errorType": error_type, "errorMessage": message}))).into_response();
    resp.headers_mut().insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
    resp
}

async fn invoke(State(invoker): State<Invoker>, Path(name): Path<String>, body: Bytes) -> Response {
    let payload: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let deps = match invoker.lifecycle_deps(&name).await {
        Ok(d) => d,
        Err(e) => return function_error("Runtime.InitError", &format!("{e:#}")),
    };
    let event = lambda_runtime::LambdaEvent::new(payload, lambda_runtime::Context::default());
    match lifecycle::handle(&deps, event).await {
        Ok(v) => (StatusCode::OK, axum::Json(v)).into_response(),
        Err(e) => {
            tracing::info!(function = %name, error_type = e.error_type(), error = %e, "task failed");
            function_error(e.error_type(), &e.to_string())
        }
    }
}

/// Serves the invoke API on `listener` (forever).
pub async fn serve(invoker: Invoker, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    axum::serve(listener, invoker.router()).await
}

/// A function record in moto for a handler, with its environment.
pub async fn create_function(
    config: &aws_config::SdkConfig,
    name: &str,
    handler: &str,
    env: &[(&str, String)],
) -> anyhow::Result<String> {
    let lambda = aws_sdk_lambda::Client::new(config);
    let mut vars: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    vars.insert(HANDLER_VAR.into(), handler.into());
    let out = lambda
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(LOCAL_ROLE_ARN)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(b"local".to_vec()))
                .build(),
        )
        .environment(aws_sdk_lambda::types::Environment::builder().set_variables(Some(vars)).build())
        .timeout(60)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("creating function {name}: {}", aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    out.function_arn().map(str::to_owned).context("no function ARN")
}

/// The lifecycle state machine, from `statemachines/lifecycle.asl.json` with its task function.
pub const LIFECYCLE_ASL: &str = include_str!("../../../statemachines/lifecycle.asl.json");

pub async fn create_lifecycle_state_machine(
    config: &aws_config::SdkConfig,
    name: &str,
    function_arn: &str,
) -> anyhow::Result<String> {
    let sfn = aws_sdk_sfn::Client::new(config);
    let definition = LIFECYCLE_ASL.replace("${LifecycleFunctionArn}", function_arn);
    let out =
        sfn.create_state_machine().name(name).definition(definition).role_arn(LOCAL_ROLE_ARN).send().await.map_err(
            |e| anyhow::anyhow!("creating state machine {name}: {}", aws_sdk_sfn::error::DisplayErrorContext(e)),
        )?;
    Ok(out.state_machine_arn().to_owned())
}

/// Stores the Jenkins credentials as the deployed stack does: an SSM SecureString.
pub async fn put_jenkins_secret(
    config: &aws_config::SdkConfig,
    name: &str,
    user: &str,
    token: &str,
) -> anyhow::Result<()> {
    let ssm = aws_sdk_ssm::Client::new(config);
    ssm.put_parameter()
        .name(name)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(json!({"user": user, "token": token}).to_string())
        .overwrite(true)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("storing {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// A new random key for Jenkins callbacks, stored as the SecureString `name` (what the API reads)
/// and answered (what the stand-in Jenkins signs with).
pub async fn put_callback_key(config: &aws_config::SdkConfig, name: &str) -> anyhow::Result<Vec<u8>> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|e| anyhow::anyhow!("no randomness for the callback key: {e}"))?;
    let key: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let ssm = aws_sdk_ssm::Client::new(config);
    ssm.put_parameter()
        .name(name)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value(&key)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("storing {name}: {}", aws_sdk_ssm::error::DisplayErrorContext(e)))?;
    Ok(key.into_bytes())
}
