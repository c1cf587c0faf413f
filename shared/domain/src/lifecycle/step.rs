//! The steps a change request's execution runs, one at a time: work on the tenant (a Jenkins
//! job, an allow-listed Ansible playbook over SSM), the states of its plan, the health suites.
//! The change request stores them at `begin`; every later task runs what was stored.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{JobName, TenantState};

/// The name of the entry a change request records when a failure starts its rollback, and the
/// prefix of its rollback's steps.
pub const ROLLBACK: &str = "rollback";

/// A tenant secret a rotation changes: the password of one of its components.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    Webapp,
    Db,
    Airflow,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webapp => "webapp",
            Self::Db => "db",
            Self::Airflow => "airflow",
        }
    }

    /// The name of its SSM parameter under `prefix` (`<prefix>/<tenant>/<kind>-password`).
    pub fn parameter(self, prefix: &str, tenant: &crate::TenantId) -> String {
        format!("{}/{tenant}/{}-password", prefix.trim_end_matches('/'), self.as_str())
    }
}

/// Which version of a rotation's secret a step works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretPick {
    /// The version this change request generated.
    Generated,
    /// The version labelled current (a rollback goes back to it).
    Current,
}

/// A secret version a job or playbook is given: by reference (parameter and version), never
/// its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SecretUse {
    pub secret: SecretKind,
    pub pick: SecretPick,
}

/// What a secret step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretAction {
    /// Write a new version with a generated value, labelled with the change request's id.
    Generate,
    /// Label the generated version current.
    Promote,
}

/// What a drift step does, through the tenant's Update Manager and the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// Write what the last drift check read from the box as the tenant's record.
    Adopt,
    /// Have the box's Update Manager install the recorded components and configs.
    Reapply,
    /// Read the box again: the step fails while it differs from the record.
    Verify,
}

/// One step of a change request's workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A job of the SaaS Jenkins; `suite` is set when it is a health-baseline suite.
    Jenkins {
        name: String,
        job: JobName,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        suite: Option<String>,
        /// The job makes a full backup: it must report it, and it is catalogued when it succeeds.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        backup: bool,
        /// The job undoes the change's work (a rollback): it is given the release to go back to
        /// and the change's snapshot, if it took one.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undo: bool,
        /// The secret version the job is given (`SECRET_PARAMETER`, `SECRET_VERSION`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        secret: Option<SecretUse>,
        /// How long the workflow waits for the job's completion callback before it polls
        /// Jenkins and waits again (the heartbeat; without callbacks, the poll pace).
        poll_seconds: u64,
        timeout_seconds: u64,
    },
    /// An allow-listed playbook of the project's SSM document on the tenant's EC2s.
    Ssm {
        name: String,
        playbook: JobName,
        /// The secret version the playbook is given (the document's `SecretVersion`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false)]
        secret: Option<SecretUse>,
        poll_seconds: u64,
        timeout_seconds: u64,
    },
    /// A rotation's secret: a new version, or its promotion.
    Secret { name: String, secret: SecretKind, action: SecretAction },
    /// Wait for an admin other than the requester to approve (or reject) what comes next, at
    /// most `timeout_seconds` (a swap's cut-over).
    Approval { name: String, poll_seconds: u64, timeout_seconds: u64 },
    /// Keep the old side for `seconds`, during which an admin may ask for a rollback (a swap's
    /// fallback window).
    Window { name: String, poll_seconds: u64, seconds: u64 },
    /// Move the tenant to a state of the plan.
    Transition { name: String, to: TenantState },
    /// Record the upgrade's target release and its components as the tenant's, keeping what
    /// was recorded before on the change request.
    RecordRelease { name: String },
    /// Write back what was recorded before the upgrade (a rollback's step).
    RevertRelease { name: String },
    /// Drift adopted, or the record installed again and read back.
    Drift { name: String, action: DriftAction },
}

impl Step {
    pub fn name(&self) -> &str {
        match self {
            Self::Jenkins { name, .. }
            | Self::Ssm { name, .. }
            | Self::Transition { name, .. }
            | Self::RecordRelease { name }
            | Self::RevertRelease { name }
            | Self::Drift { name, .. }
            | Self::Secret { name, .. }
            | Self::Approval { name, .. }
            | Self::Window { name, .. } => name,
        }
    }

    /// The longest it may run (a transition is one write).
    pub fn timeout_seconds(&self) -> u64 {
        match self {
            Self::Jenkins { timeout_seconds, .. }
            | Self::Ssm { timeout_seconds, .. }
            | Self::Approval { timeout_seconds, .. } => *timeout_seconds,
            Self::Window { seconds, .. } => *seconds,
            Self::Transition { .. }
            | Self::RecordRelease { .. }
            | Self::RevertRelease { .. }
            | Self::Secret { .. }
            | Self::Drift { .. } => 0,
        }
    }

    /// How long the step waits between two looks at its work (0 for a step that does not wait):
    /// a timeout is noticed at most this late.
    pub fn poll_seconds(&self) -> u64 {
        match self {
            Self::Jenkins { poll_seconds, .. }
            | Self::Ssm { poll_seconds, .. }
            | Self::Approval { poll_seconds, .. }
            | Self::Window { poll_seconds, .. } => *poll_seconds,
            Self::Transition { .. }
            | Self::RecordRelease { .. }
            | Self::RevertRelease { .. }
            | Self::Secret { .. }
            | Self::Drift { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_travel_as_tagged_json_and_refuse_a_job_that_is_not_an_identifier() {
        let s = Step::Transition { name: "state InTesting".into(), to: TenantState::InTesting };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "transition", "name": "state InTesting", "to": "InTesting"}));
        assert_eq!(serde_json::from_value::<Step>(json).unwrap(), s);
        let shell = serde_json::json!({"kind": "ssm", "name": "x", "playbook": "a; rm -rf /", "poll_seconds": 1, "timeout_seconds": 1});
        assert!(serde_json::from_value::<Step>(shell).is_err());
        let path = serde_json::json!({"kind": "jenkins", "name": "x", "job": "../admin", "poll_seconds": 1, "timeout_seconds": 9});
        assert!(serde_json::from_value::<Step>(path).is_err());
    }
}
