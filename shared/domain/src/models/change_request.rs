//! Tenant change requests: a requested change to a tenant, the steps of its execution, and its
//! own state machine (`pending` → `awaiting_approval` → `running` → `succeeded` / `failed` /
//! `cancelled` / `rejected`) as methods that refuse what the rules do not allow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AlarmEvidence, RecordedBefore, Stamp, Tenant, UpgradePlan, WriteContext, stamped};
use crate::lifecycle::{self, Plan, Refusal, Step};
use crate::{
    Actor, AssignmentId, BackupId, ChangeModel, ChangeRequestId, ChangeRequestStatus, FieldError, Operation,
    ReleaseVersion, TenantId, TenantState, values::Text,
};

/// Where one step of a change request's execution is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Running,
    Succeeded,
    Failed,
    /// Stopped by an abort.
    Cancelled,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a change request's execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeStep {
    pub name: String,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub detail: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
}

/// Parameters of an operation: `upgrade` takes `release` (and may allow a downgrade, or skip
/// its snapshot), `restore` takes `backup_id`, `mark_broken` takes the `alarm` that fired (its
/// evidence); those that have several change models take `change_model`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub release: Option<ReleaseVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub backup_id: Option<BackupId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub change_model: Option<ChangeModel>,
    /// The alarm that moved the tenant (`mark_broken` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm: Option<AlarmEvidence>,
    /// `upgrade` only: go to an older release than the tenant's (refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub allow_downgrade: Option<bool>,
    /// `upgrade` in `maintenance` only: `false` skips the full backup taken before anything
    /// changes (a rollback then reinstalls the old release without restoring data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub snapshot: Option<bool>,
    /// `upgrade` or `restore` in `swap` only: how long the old side is kept after the cut-over,
    /// during which an admin may roll back (seconds, 0 to 86400; default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0, maximum = 86400)]
    pub fallback_seconds: Option<u32>,
    /// `activate_license` only: the customer's license assignment whose key is installed
    /// (requested by the core when an assignment becomes active or changes license).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub assignment_id: Option<AssignmentId>,
}

impl ChangeParams {
    /// What the operation takes, and nothing else: an upgrade names its release, a restore its
    /// backup.
    pub fn check_for(&self, op: Operation) -> Result<(), FieldError> {
        match (op, &self.release) {
            (Operation::Upgrade, None) => {
                return Err(FieldError::new("params.release", "upgrade needs the release to go to"));
            }
            (Operation::Upgrade, Some(_)) => {}
            (_, Some(_)) => return Err(FieldError::new("params.release", format!("{op} takes no release"))),
            (_, None) => {}
        }
        match (op, &self.backup_id) {
            (Operation::Restore, None) => {
                return Err(FieldError::new("params.backup_id", "restore needs the backup to restore"));
            }
            (Operation::Restore, Some(_)) => {}
            (_, Some(_)) => return Err(FieldError::new("params.backup_id", format!("{op} takes no backup_id"))),
            (_, None) => {}
        }
        if op != Operation::Upgrade {
            if self.allow_downgrade.is_some() {
                return Err(FieldError::new("params.allow_downgrade", format!("{op} takes no allow_downgrade")));
            }
            if self.snapshot.is_some() {
                return Err(FieldError::new("params.snapshot", format!("{op} takes no snapshot")));
            }
        }
        if let Some(s) = self.fallback_seconds {
            if !op.builds_a_side(self.change_model) {
                return Err(FieldError::new(
                    "params.fallback_seconds",
                    "only an upgrade or a restore with the swap change model keeps a fallback window",
                ));
            }
            if s > MAX_FALLBACK_SECONDS {
                return Err(FieldError::new("params.fallback_seconds", "at most 86400 seconds (a day)"));
            }
        }
        if self.snapshot.is_some() && self.change_model == Some(ChangeModel::Swap) {
            return Err(FieldError::new(
                "params.snapshot",
                "a swap keeps the old side to fall back to: it takes no snapshot",
            ));
        }
        match (op, &self.assignment_id) {
            (Operation::ActivateLicense, None) => {
                return Err(FieldError::new(
                    "params.assignment_id",
                    "activate_license needs the license assignment to install",
                ));
            }
            (Operation::ActivateLicense, Some(_)) => {}
            (_, Some(_)) => {
                return Err(FieldError::new("params.assignment_id", format!("{op} takes no assignment_id")));
            }
            (_, None) => {}
        }
        match (op, &self.alarm) {
            (Operation::MarkBroken, None) => {
                Err(FieldError::new("params.alarm", "mark_broken needs the alarm that fired (its evidence)"))
            }
            (Operation::MarkBroken, Some(alarm)) => alarm.check(),
            (_, Some(_)) => Err(FieldError::new("params.alarm", format!("{op} takes no alarm"))),
            (_, None) => Ok(()),
        }
    }

    /// How long a swap keeps its old side after the cut-over.
    pub fn fallback_window(&self) -> u64 {
        u64::from(self.fallback_seconds.unwrap_or(DEFAULT_FALLBACK_SECONDS))
    }

    /// Whether an upgrade takes its snapshot (in maintenance, unless the request opted out).
    pub fn takes_snapshot(&self, model: Option<ChangeModel>) -> bool {
        model != Some(ChangeModel::Swap) && self.snapshot != Some(false)
    }
}

/// A swap's fallback window when the request names none, and its longest.
pub const DEFAULT_FALLBACK_SECONDS: u32 = 3600;
pub const MAX_FALLBACK_SECONDS: u32 = 86_400;

/// A running change request's step that waits for an admin other than the requester (a swap's
/// cut-over): open while `approved` is unset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApprovalGate {
    /// The step that waits.
    pub step: String,
    pub opened_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub approved: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decided_at: Option<DateTime<Utc>>,
}

/// An admin's request to roll a change back during its fallback window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RollbackRequest {
    pub by: String,
    pub reason: Text,
    pub at: DateTime<Utc>,
}

/// Why a change request cannot make the move asked of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefusal {
    #[error("change request {id} is {status}; it does not await approval")]
    NotAwaitingApproval { id: ChangeRequestId, status: ChangeRequestStatus },
    #[error("a change request must be decided by an admin other than its requester (the requester may cancel it)")]
    DecidedByRequester,
    #[error("only its requester or an admin may cancel a change request")]
    NotYours,
    #[error("change request {id} is {status}; only one that has not started can be cancelled (an admin may abort it)")]
    Started { id: ChangeRequestId, status: ChangeRequestStatus },
    #[error("change request {id} already ended {status}")]
    Ended { id: ChangeRequestId, status: ChangeRequestStatus },
    #[error("change request {id} is {status}, not running")]
    NotRunning { id: ChangeRequestId, status: ChangeRequestStatus },
    #[error("change request {id} is in no fallback window (a swap keeps one after its cut-over)")]
    NoFallbackWindow { id: ChangeRequestId },
    #[error("change request {id} was asked to roll back already")]
    RollbackRequested { id: ChangeRequestId },
}

/// A requested change to a tenant. It is itself a log, so it has no field change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantChangeRequest {
    pub id: ChangeRequestId,
    pub tenant_id: TenantId,
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub change_model: Option<ChangeModel>,
    /// The tenant's state when the change was requested (what "as started" resolves to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub started_from: Option<TenantState>,
    #[serde(default)]
    pub params: ChangeParams,
    pub status: ChangeRequestStatus,
    /// Why the change is made (ticket, incident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<Text>,
    /// Who asked (`sub <email>`, or `system:<name>` for a schedule, an alarm, a rollout).
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub decided_at: Option<DateTime<Utc>>,
    /// The admin who aborted it, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub aborted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub abort_reason: Option<Text>,
    /// The Step Functions execution this change request runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub execution_arn: Option<String>,
    /// The steps its execution runs, stored at `begin` from its plan; every task runs these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned_steps: Vec<Step>,
    /// Where the rollback's steps start in `planned_steps`, once a failure started one (the
    /// steps before are the change's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rollback_from: Option<usize>,
    /// A step waiting for a second admin (a swap's cut-over): `awaiting approval` while open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub gate: Option<ApprovalGate>,
    /// An admin asked for a rollback during the fallback window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub rollback_requested: Option<RollbackRequest>,
    /// `upgrade` only: what it changes, worked out when it was requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub upgrade: Option<UpgradePlan>,
    /// `upgrade` only: the tenant's release, components and configs as recorded just before the
    /// upgrade wrote its own (what a rollback writes back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub recorded_before: Option<RecordedBefore>,
    /// When it must have ended, set at `begin` from its plan's steps; past it, the next task
    /// stops its work and fails it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub deadline_at: Option<DateTime<Utc>>,
    /// What ran so far, in order.
    #[serde(default)]
    pub steps: Vec<ChangeStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

fn sub_of(stamp: &str) -> &str {
    crate::history::actor_sub(stamp)
}

impl TenantChangeRequest {
    pub fn new(
        tenant_id: TenantId,
        operation: Operation,
        params: ChangeParams,
        status: ChangeRequestStatus,
        ctx: &WriteContext,
    ) -> Self {
        let id = ChangeRequestId::generate();
        let ctx = WriteContext { change_request_id: Some(id.clone()), ..ctx.clone() };
        Self {
            id,
            tenant_id,
            operation,
            change_model: None,
            started_from: None,
            params,
            status,
            reason: None,
            requested_by: ctx.actor.stamp(),
            requested_at: ctx.now,
            decided_by: None,
            decided_at: None,
            aborted_by: None,
            abort_reason: None,
            execution_arn: None,
            planned_steps: Vec::new(),
            rollback_from: None,
            gate: None,
            rollback_requested: None,
            upgrade: None,
            recorded_before: None,
            deadline_at: None,
            steps: Vec::new(),
            error: None,
            stamp: Stamp::first(&ctx),
        }
    }

    /// Whether it holds `tenant` now (one change request at a time per tenant).
    pub fn holds(&self, tenant: &Tenant) -> bool {
        tenant.active_change_request_id.as_ref() == Some(&self.id)
    }

    /// Whether it is the change request that created its tenant (`provision`, or the
    /// `validate` of an import).
    pub fn is_creation(&self) -> bool {
        self.operation == Operation::Provision
            || (self.operation == Operation::Validate && self.started_from == Some(TenantState::InTesting))
    }

    /// The plan it runs, recomputed from the lifecycle table (the table is the truth).
    pub fn plan(&self) -> Result<Plan, Refusal> {
        let started = self.started_from.unwrap_or(TenantState::Provisioning);
        if self.is_creation() {
            Ok(lifecycle::creation_plan(self.operation == Operation::Validate))
        } else {
            lifecycle::plan(started, self.operation, self.change_model)
        }
    }

    /// The release an upgrade goes to.
    pub fn target_release(&self) -> Option<ReleaseVersion> {
        (self.operation == Operation::Upgrade).then(|| self.params.release.clone()).flatten()
    }

    /// Whether the last entry of the step `name` ended succeeded (a retried task that finds it
    /// done writes nothing).
    pub fn succeeded(&self, name: &str) -> bool {
        self.steps.iter().rev().find(|s| s.name == name).is_some_and(|s| s.status == StepStatus::Succeeded)
    }

    /// Whether a step of that name ever started (it ran, runs, or failed).
    pub fn ran(&self, step: &str) -> bool {
        self.steps.iter().any(|s| s.name == step)
    }

    /// The planned steps of the change itself (before any rollback's) and of its rollback.
    pub fn phases(&self) -> (&[Step], &[Step]) {
        let at = self.rollback_from.unwrap_or(self.planned_steps.len()).min(self.planned_steps.len());
        self.planned_steps.split_at(at)
    }

    fn by_requester(&self, who: &Actor) -> bool {
        sub_of(&self.requested_by) == who.sub
    }

    fn awaiting(&self) -> Result<(), ChangeRefusal> {
        if self.status == ChangeRequestStatus::AwaitingApproval {
            Ok(())
        } else {
            Err(ChangeRefusal::NotAwaitingApproval { id: self.id.clone(), status: self.status })
        }
    }

    fn decide(&mut self, by: &Actor, now: DateTime<Utc>, status: ChangeRequestStatus) -> Result<(), ChangeRefusal> {
        self.awaiting()?;
        if self.by_requester(by) {
            return Err(ChangeRefusal::DecidedByRequester);
        }
        self.status = status;
        self.decided_by = Some(by.stamp());
        self.decided_at = Some(now);
        Ok(())
    }

    /// Whether it runs and a step of it waits for a second admin.
    pub fn awaits_gate(&self) -> bool {
        self.status == ChangeRequestStatus::Running && self.gate.as_ref().is_some_and(|g| g.approved.is_none())
    }

    /// A second admin approves (or rejects) what its open gate waits for.
    pub fn decide_gate(&mut self, by: &Actor, approve: bool, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        if !self.awaits_gate() {
            return Err(ChangeRefusal::NotAwaitingApproval { id: self.id.clone(), status: self.status });
        }
        if self.by_requester(by) {
            return Err(ChangeRefusal::DecidedByRequester);
        }
        if let Some(g) = self.gate.as_mut() {
            g.approved = Some(approve);
            g.decided_by = Some(by.stamp());
            g.decided_at = Some(now);
        }
        Ok(())
    }

    /// An admin asks to roll back during its fallback window (a window step is running).
    pub fn request_rollback(&mut self, by: &Actor, reason: Text, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        self.running()?;
        if self.rollback_requested.is_some() {
            return Err(ChangeRefusal::RollbackRequested { id: self.id.clone() });
        }
        let windows: Vec<&str> =
            self.planned_steps.iter().filter(|s| matches!(s, Step::Window { .. })).map(Step::name).collect();
        let in_window =
            self.steps.iter().any(|s| s.status == StepStatus::Running && windows.contains(&s.name.as_str()));
        if !in_window {
            return Err(ChangeRefusal::NoFallbackWindow { id: self.id.clone() });
        }
        self.rollback_requested = Some(RollbackRequest { by: by.stamp(), reason, at: now });
        Ok(())
    }

    /// A second admin approves it: it runs. (The role is the caller's to check.)
    pub fn approve(&mut self, by: &Actor, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        self.decide(by, now, ChangeRequestStatus::Running)
    }

    /// A second admin rejects it: it never runs.
    pub fn reject(&mut self, by: &Actor, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        self.decide(by, now, ChangeRequestStatus::Rejected)
    }

    /// Its requester, or an admin, cancels it before it starts.
    pub fn cancel(&mut self, by: &Actor, admin: bool, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        if !admin && !self.by_requester(by) {
            return Err(ChangeRefusal::NotYours);
        }
        if !matches!(self.status, ChangeRequestStatus::Pending | ChangeRequestStatus::AwaitingApproval) {
            return Err(ChangeRefusal::Started { id: self.id.clone(), status: self.status });
        }
        self.status = ChangeRequestStatus::Cancelled;
        self.decided_by = Some(by.stamp());
        self.decided_at = Some(now);
        Ok(())
    }

    /// An admin aborts it, running or not: it ends `cancelled`, saying who and why.
    pub fn abort(&mut self, by: &Actor, reason: Text, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        if !self.status.is_active() {
            return Err(ChangeRefusal::Ended { id: self.id.clone(), status: self.status });
        }
        for step in self.steps.iter_mut().filter(|s| s.status == StepStatus::Running) {
            step.status = StepStatus::Cancelled;
            step.ended_at = Some(now);
        }
        self.status = ChangeRequestStatus::Cancelled;
        self.aborted_by = Some(by.stamp());
        self.error = Some(format!("aborted by {}: {reason}", by.stamp()));
        self.abort_reason = Some(reason);
        Ok(())
    }

    fn running(&self) -> Result<(), ChangeRefusal> {
        if self.status == ChangeRequestStatus::Running {
            Ok(())
        } else {
            Err(ChangeRefusal::NotRunning { id: self.id.clone(), status: self.status })
        }
    }

    /// It ran to the end.
    pub fn succeed(&mut self, _now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        self.running()?;
        self.status = ChangeRequestStatus::Succeeded;
        Ok(())
    }

    /// It failed, saying why; a step still running ends failed with it.
    pub fn fail(&mut self, error: &str, now: DateTime<Utc>) -> Result<(), ChangeRefusal> {
        self.running()?;
        for step in self.steps.iter_mut().filter(|s| s.status == StepStatus::Running) {
            step.status = StepStatus::Failed;
            step.ended_at = Some(now);
        }
        self.status = ChangeRequestStatus::Failed;
        self.error = Some(error.to_owned());
        Ok(())
    }

    /// Records a step: updates its last running entry of that name, or adds it.
    pub fn record_step(
        &mut self,
        name: &str,
        status: StepStatus,
        detail: Option<serde_json::Value>,
        error: Option<String>,
        now: DateTime<Utc>,
    ) {
        let ended = (status != StepStatus::Running).then_some(now);
        match self.steps.iter_mut().rev().find(|s| s.name == name && s.status == StepStatus::Running) {
            Some(step) => {
                step.status = status;
                step.ended_at = ended;
                if detail.is_some() {
                    step.detail = detail;
                }
                step.error = error;
            }
            None => self.steps.push(ChangeStep {
                name: name.into(),
                status,
                started_at: now,
                ended_at: ended,
                detail,
                error,
            }),
        }
    }
}

stamped!(TenantChangeRequest);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx;

    fn alice() -> Actor {
        Actor { sub: "alice".into(), email: Some("alice@vendor.example".into()) }
    }
    fn bob() -> Actor {
        Actor { sub: "bob".into(), email: None }
    }
    fn waiting() -> TenantChangeRequest {
        let ctx = WriteContext { actor: alice(), ..test_ctx() };
        TenantChangeRequest::new(
            TenantId::generate(),
            Operation::Terminate,
            ChangeParams::default(),
            ChangeRequestStatus::AwaitingApproval,
            &ctx,
        )
    }

    #[test]
    fn a_fallback_window_is_taken_by_what_builds_a_second_side_only() {
        let params = |v: serde_json::Value| -> ChangeParams { serde_json::from_value(v).unwrap() };
        let backup = "bk_01HZZZZZZZZZZZZZZZZZZZZZZZ";
        let restore_swap =
            params(serde_json::json!({"backup_id": backup, "change_model": "swap", "fallback_seconds": 60}));
        assert_eq!(restore_swap.check_for(Operation::Restore), Ok(()));
        let upgrade_swap =
            params(serde_json::json!({"release": "3.2.0", "change_model": "swap", "fallback_seconds": 60}));
        assert_eq!(upgrade_swap.check_for(Operation::Upgrade), Ok(()));
        for (op, v) in [
            (
                Operation::Restore,
                serde_json::json!({"backup_id": backup, "change_model": "maintenance", "fallback_seconds": 60}),
            ),
            (Operation::Upgrade, serde_json::json!({"release": "3.2.0", "fallback_seconds": 60})),
            (Operation::RotateDbPassword, serde_json::json!({"change_model": "swap", "fallback_seconds": 60})),
        ] {
            let e = params(v).check_for(op).unwrap_err();
            assert_eq!(e.field, "params.fallback_seconds", "{op}");
        }
    }

    #[test]
    fn only_another_person_decides_and_only_once() {
        let now = Utc::now();
        let mut cr = waiting();
        assert_eq!(cr.approve(&alice(), now), Err(ChangeRefusal::DecidedByRequester));
        assert_eq!(cr.status, ChangeRequestStatus::AwaitingApproval);
        cr.approve(&bob(), now).unwrap();
        assert_eq!((cr.status, cr.decided_by.as_deref()), (ChangeRequestStatus::Running, Some("bob")));
        assert!(matches!(cr.reject(&bob(), now), Err(ChangeRefusal::NotAwaitingApproval { .. })));
        assert!(matches!(cr.cancel(&alice(), false, now), Err(ChangeRefusal::Started { .. })));
        let mut other = waiting();
        assert_eq!(other.cancel(&bob(), false, now), Err(ChangeRefusal::NotYours));
        other.cancel(&alice(), false, now).unwrap();
        assert_eq!(other.status, ChangeRequestStatus::Cancelled);
    }

    #[test]
    fn an_abort_ends_it_cancelled_with_who_and_why_and_stops_its_running_steps() {
        let now = Utc::now();
        let mut cr = waiting();
        cr.approve(&bob(), now).unwrap();
        cr.record_step("jenkins terminate-tenant", StepStatus::Running, None, None, now);
        cr.abort(&bob(), Text::parse("wrong tenant").unwrap(), now).unwrap();
        assert_eq!(cr.status, ChangeRequestStatus::Cancelled);
        assert_eq!(cr.aborted_by.as_deref(), Some("bob"));
        assert_eq!(cr.steps[0].status, StepStatus::Cancelled);
        assert!(matches!(cr.abort(&bob(), Text::parse("again").unwrap(), now), Err(ChangeRefusal::Ended { .. })));
        assert!(matches!(cr.fail("late", now), Err(ChangeRefusal::NotRunning { .. })));
    }

    #[test]
    fn steps_are_updated_in_place_while_running_and_a_failure_ends_them() {
        let now = Utc::now();
        let mut cr = waiting();
        cr.approve(&bob(), now).unwrap();
        cr.record_step("jenkins x", StepStatus::Running, Some(serde_json::json!({"a": 1})), None, now);
        cr.record_step("jenkins x", StepStatus::Running, Some(serde_json::json!({"a": 2})), None, now);
        assert_eq!(cr.steps.len(), 1);
        cr.fail("boom", now).unwrap();
        assert_eq!((cr.steps[0].status, cr.error.as_deref()), (StepStatus::Failed, Some("boom")));
        assert_eq!(serde_json::to_value(StepStatus::Cancelled).unwrap(), serde_json::json!("cancelled"));
    }

    #[test]
    fn params_are_what_the_operation_takes() {
        let upgrade = ChangeParams { release: Some(ReleaseVersion::parse("3.2.0").unwrap()), ..Default::default() };
        assert!(upgrade.check_for(Operation::Upgrade).is_ok());
        assert_eq!(upgrade.check_for(Operation::Validate).unwrap_err().field, "params.release");
        assert_eq!(ChangeParams::default().check_for(Operation::Upgrade).unwrap_err().field, "params.release");
        assert_eq!(ChangeParams::default().check_for(Operation::Restore).unwrap_err().field, "params.backup_id");
        let bad: Result<ChangeParams, _> = serde_json::from_value(serde_json::json!({"backup_id": "../../etc"}));
        assert!(bad.is_err());
        let unknown: Result<ChangeParams, _> = serde_json::from_value(serde_json::json!({"force": true}));
        assert!(unknown.is_err());
    }

    #[test]
    fn mark_broken_takes_the_alarm_evidence_and_nothing_else_does() {
        let alarm = AlarmEvidence {
            alarm_name: "portal-ten_1-cpu".into(),
            alarm_arn: None,
            state: "ALARM".into(),
            reason: "Threshold Crossed".into(),
            metric: Some("AWS/EC2/CPUUtilization".into()),
            at: Utc::now(),
        };
        let broken = ChangeParams { alarm: Some(alarm.clone()), ..Default::default() };
        assert!(broken.check_for(Operation::MarkBroken).is_ok());
        assert_eq!(ChangeParams::default().check_for(Operation::MarkBroken).unwrap_err().field, "params.alarm");
        assert_eq!(broken.check_for(Operation::Validate).unwrap_err().field, "params.alarm");
        let nameless =
            ChangeParams { alarm: Some(AlarmEvidence { alarm_name: String::new(), ..alarm }), ..Default::default() };
        assert_eq!(nameless.check_for(Operation::MarkBroken).unwrap_err().field, "params.alarm.alarm_name");
    }
}
