//! Reconciling what ends an execution other than its own `Finish`: a timeout, a failure the
//! workflow could not record, an abort from outside the portal, or a crash between the claim
//! and `StartExecution`. The execution-end event and the periodic sweep both come here; both
//! finish the change request failed, stop its work and release the tenant where the lifecycle
//! table says.

use chrono::{DateTime, Duration, Utc};
use domain::{ChangeRequestId, ChangeRequestStatus, Source, TenantChangeRequest};
use engine::ExecutionStatus;
use serde::Serialize;
use store::layout::{self, Record};
use store::{Index, Query};

use crate::{Caller, ChangeError, Changes, Ending, Finished};

/// What the reconciler did about one execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Reconciled {
    /// The execution is not a change request's (another state machine, a foreign name).
    NotAChange,
    /// The change request had already ended (its own Finish, or an abort through the portal).
    AlreadyEnded { status: ChangeRequestStatus },
    /// Its execution is still live: nothing to do.
    Live,
    /// It was running with no execution to finish it: it is finished now.
    Finished(Finished),
}

/// What one sweep found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SweepReport {
    /// Active change requests read.
    pub examined: usize,
    /// Running ones whose execution ended or never started, now finished failed.
    pub finished: Vec<ChangeRequestId>,
}

/// The reconciler's own stamp.
pub fn reconciler() -> Caller {
    Caller::system("reconciler", Source::Workflow)
}

fn why(status: ExecutionStatus, cause: Option<&str>) -> String {
    let what = match status {
        ExecutionStatus::TimedOut => "the execution passed its deadline and was stopped",
        ExecutionStatus::Aborted => "the execution was aborted outside the portal",
        ExecutionStatus::Failed => "the execution failed before it could record why",
        ExecutionStatus::Succeeded => "the execution ended without finishing its change request",
        ExecutionStatus::Running | ExecutionStatus::PendingRedrive => "the execution is still running",
    };
    match cause.filter(|c| !c.is_empty()) {
        Some(c) => format!("{what}: {}", c.chars().take(500).collect::<String>()),
        None => what.to_owned(),
    }
}

impl Changes {
    /// The end of execution `name` (an EventBridge "Step Functions Execution Status Change").
    pub async fn reconcile(
        &self,
        name: &str,
        status: ExecutionStatus,
        cause: Option<&str>,
    ) -> Result<Reconciled, ChangeError> {
        let Ok(id) = ChangeRequestId::parse(name) else {
            return Ok(Reconciled::NotAChange);
        };
        let cr = match self.change_request(&id).await {
            Ok(cr) => cr,
            Err(ChangeError::NotFound(_)) => return Ok(Reconciled::NotAChange),
            Err(e) => return Err(e),
        };
        if status.is_live() {
            return Ok(Reconciled::Live);
        }
        self.end_orphan(cr, why(status, cause)).await
    }

    async fn end_orphan(&self, cr: TenantChangeRequest, error: String) -> Result<Reconciled, ChangeError> {
        if cr.status != ChangeRequestStatus::Running {
            return Ok(Reconciled::AlreadyEnded { status: cr.status });
        }
        self.stop_work(&cr).await;
        tracing::warn!(change_request = %cr.id, %error, "reconciling a change request its execution did not finish");
        let finished = self.finish(&cr.id, &reconciler(), Ending::Failed { error }).await?;
        Ok(Reconciled::Finished(finished))
    }

    /// Finds the running change requests with no live execution and finishes them. One
    /// changed within `grace` is left alone (its execution may be starting right now).
    pub async fn sweep(&self, now: DateTime<Utc>, grace: Duration) -> Result<SweepReport, ChangeError> {
        let mut report = SweepReport::default();
        let mut query = Query::new(Some(Index::Gsi2), layout::ACTIVE_CHANGE_REQUESTS).limit(100);
        loop {
            let page = self.table.query(&query).await?;
            for item in page.items.into_iter().filter(|i| !layout::is_tombstone(i)) {
                report.examined += 1;
                let cr = TenantChangeRequest::from_item(item)?;
                if cr.status != ChangeRequestStatus::Running || now - cr.stamp.updated_at < grace {
                    continue;
                }
                let error = match self.workflows.status(cr.id.as_str()).await? {
                    Some(s) if s.is_live() => continue,
                    Some(s) => why(s, None),
                    None => "its workflow never started (the claim was written, the start was lost)".to_owned(),
                };
                let id = cr.id.clone();
                if let Reconciled::Finished(_) = self.end_orphan(cr, error).await? {
                    report.finished.push(id);
                }
            }
            match page.last_key {
                Some(k) => query = query.start(Some(k)),
                None => break,
            }
        }
        Ok(report)
    }
}
