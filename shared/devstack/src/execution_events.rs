//! What EventBridge does in AWS and moto does not: deliver "Step Functions Execution Status
//! Change" events of the lifecycle state machine (`FAILED`, `TIMED_OUT`, `ABORTED`) and the
//! reconciler's scheduled sweep to the reconciler's handler. It watches the state machine's
//! executions with `ListExecutions` and delivers each end once, shaped as EventBridge shapes it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use serde_json::{Value, json};

/// The events of one execution's end, as EventBridge delivers them.
pub fn status_change_event(
    state_machine_arn: &str,
    execution_arn: &str,
    name: &str,
    status: &str,
    error: Option<&str>,
    cause: Option<&str>,
) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": reconciler::EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1",
        "resources": [execution_arn],
        "detail": {
            "executionArn": execution_arn,
            "stateMachineArn": state_machine_arn,
            "name": name,
            "status": status,
            "error": error,
            "cause": cause,
        }
    })
}

/// The event of a scheduled rule.
pub fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": reconciler::SCHEDULED_EVENT,
        "source": "aws.events",
        "time": chrono::Utc::now().to_rfc3339(),
        "region": "us-east-1",
        "resources": [],
        "detail": {}
    })
}

/// Watches a state machine's executions and delivers their ends to the reconciler.
pub struct ExecutionEvents {
    sfn: aws_sdk_sfn::Client,
    state_machine_arn: String,
    deps: Arc<reconciler::Deps>,
    delivered: HashSet<String>,
}

impl ExecutionEvents {
    pub fn new(sfn: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>, deps: Arc<reconciler::Deps>) -> Self {
        Self { sfn, state_machine_arn: state_machine_arn.into(), deps, delivered: HashSet::new() }
    }

    /// Delivers the end of every execution that ended `FAILED`, `TIMED_OUT` or `ABORTED` since
    /// the last call; answers how many were delivered. An execution's end is delivered once.
    pub async fn deliver_ends(&mut self) -> anyhow::Result<usize> {
        let mut delivered = 0;
        for status in [SfnStatus::Failed, SfnStatus::TimedOut, SfnStatus::Aborted] {
            let mut pages = self
                .sfn
                .list_executions()
                .state_machine_arn(&self.state_machine_arn)
                .status_filter(status.clone())
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| anyhow::anyhow!(aws_sdk_sfn::error::DisplayErrorContext(e)))?;
                for e in page.executions() {
                    if self.delivered.contains(e.execution_arn()) {
                        continue;
                    }
                    let (error, cause) = self.error_of(e.execution_arn()).await;
                    let event = status_change_event(
                        &self.state_machine_arn,
                        e.execution_arn(),
                        e.name(),
                        e.status().as_str(),
                        error.as_deref(),
                        cause.as_deref(),
                    );
                    let event: reconciler::Event = serde_json::from_value(event)?;
                    match reconciler::run(&self.deps, event).await {
                        Ok(done) => {
                            tracing::info!(execution = %e.name(), status = %e.status().as_str(), %done, "delivered an execution end");
                            self.delivered.insert(e.execution_arn().to_owned());
                            delivered += 1;
                        }
                        // EventBridge would retry: so do we, on the next round.
                        Err(err) => {
                            tracing::warn!(execution = %e.name(), error = %err, "the reconciler failed; retrying")
                        }
                    }
                }
            }
        }
        Ok(delivered)
    }

    async fn error_of(&self, execution_arn: &str) -> (Option<String>, Option<String>) {
        match self.sfn.describe_execution().execution_arn(execution_arn).send().await {
            Ok(d) => (d.error().map(str::to_owned), d.cause().map(str::to_owned)),
            Err(_) => (None, None),
        }
    }

    /// Runs the reconciler's scheduled sweep once.
    pub async fn sweep(&self) -> anyhow::Result<Value> {
        let event: reconciler::Event = serde_json::from_value(scheduled_event())?;
        reconciler::run(&self.deps, event).await.map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Delivers ends every `every`, and sweeps every `sweep_every`, until the process ends.
    pub fn spawn(mut self, every: Duration, sweep_every: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut last_sweep = tokio::time::Instant::now();
            loop {
                if let Err(e) = self.deliver_ends().await {
                    tracing::warn!(error = %format!("{e:#}"), "listing executions failed; retrying");
                }
                if last_sweep.elapsed() >= sweep_every {
                    last_sweep = tokio::time::Instant::now();
                    if let Err(e) = self.sweep().await {
                        tracing::warn!(error = %format!("{e:#}"), "the sweep failed; retrying");
                    }
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}
