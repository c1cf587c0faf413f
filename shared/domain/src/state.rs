//! Tenant states, lifecycle operations and change-request statuses.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a tenant is in its life. Changed only by change requests (and alarms), never by PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub enum TenantState {
    #[serde(alias = "provisioning")]
    Provisioning,
    #[serde(alias = "healthy")]
    Healthy,
    /// Read-only to the customer while work runs.
    #[serde(alias = "maintenance")]
    Maintenance,
    #[serde(alias = "backing_up")]
    BackingUp,
    #[serde(alias = "restoring")]
    Restoring,
    /// Running the health baseline.
    #[serde(alias = "in_testing")]
    InTesting,
    /// Customer access revoked (e.g. license).
    #[serde(alias = "suspended")]
    Suspended,
    /// Failed the health definition or an alarm fired.
    #[serde(alias = "broken")]
    Broken,
    /// Resources may be deleted.
    #[serde(alias = "end_of_life")]
    EndOfLife,
}

impl TenantState {
    pub const ALL: [TenantState; 9] = [
        Self::Provisioning,
        Self::Healthy,
        Self::Maintenance,
        Self::BackingUp,
        Self::Restoring,
        Self::InTesting,
        Self::Suspended,
        Self::Broken,
        Self::EndOfLife,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "Provisioning",
            Self::Healthy => "Healthy",
            Self::Maintenance => "Maintenance",
            Self::BackingUp => "BackingUp",
            Self::Restoring => "Restoring",
            Self::InTesting => "InTesting",
            Self::Suspended => "Suspended",
            Self::Broken => "Broken",
            Self::EndOfLife => "EndOfLife",
        }
    }

    /// Parses `Healthy` or `healthy`, `EndOfLife` or `end_of_life`.
    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for TenantState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle operation a change request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    Provision,
    Terminate,
    Suspend,
    Resume,
    EnterMaintenance,
    ExitMaintenance,
    Upgrade,
    Backup,
    Restore,
    Validate,
    RotateWebappPassword,
    RotateDbPassword,
    RotateAirflowPassword,
    /// A CloudWatch alarm fired on a serving (or tested) tenant: it is `Broken`, with the
    /// alarm's evidence on the change request.
    MarkBroken,
    /// A license assigned to (or upgraded for) the tenant's customer is installed on the
    /// tenant, from its key's reference: the tenant ends as it started.
    ActivateLicense,
    /// What the tenant's box runs (its last drift check) becomes its record: the live component
    /// versions and configs that differ are written; the box is not touched.
    AdoptDrift,
    /// The recorded component versions and configs are installed on the box again by its
    /// Update Manager, in maintenance; the box is read back (no drift may be left), then tested.
    ReapplyRecorded,
}

impl Operation {
    /// Whether this operation in this change model builds a second side (blue/green): the new
    /// side is built and validated while the live one serves, traffic is cut over, and the old
    /// side is kept through a fallback window, then released. An upgrade and a restore in `swap`.
    pub fn builds_a_side(self, model: Option<ChangeModel>) -> bool {
        model == Some(ChangeModel::Swap) && matches!(self, Self::Upgrade | Self::Restore)
    }

    /// The API name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provision => "provision",
            Self::Terminate => "terminate",
            Self::Suspend => "suspend",
            Self::Resume => "resume",
            Self::EnterMaintenance => "enter_maintenance",
            Self::ExitMaintenance => "exit_maintenance",
            Self::Upgrade => "upgrade",
            Self::Backup => "backup",
            Self::Restore => "restore",
            Self::Validate => "validate",
            Self::RotateWebappPassword => "rotate_webapp_password",
            Self::RotateDbPassword => "rotate_db_password",
            Self::RotateAirflowPassword => "rotate_airflow_password",
            Self::MarkBroken => "mark_broken",
            Self::ActivateLicense => "activate_license",
            Self::AdoptDrift => "adopt_drift",
            Self::ReapplyRecorded => "reapply_recorded",
        }
    }

    pub const ALL: [Operation; 17] = [
        Self::Provision,
        Self::Terminate,
        Self::Suspend,
        Self::Resume,
        Self::EnterMaintenance,
        Self::ExitMaintenance,
        Self::Upgrade,
        Self::Backup,
        Self::Restore,
        Self::Validate,
        Self::RotateWebappPassword,
        Self::RotateDbPassword,
        Self::RotateAirflowPassword,
        Self::MarkBroken,
        Self::ActivateLicense,
        Self::AdoptDrift,
        Self::ReapplyRecorded,
    ];

    /// Operations that destroy data or access and wait for a second admin's approval (a column
    /// of the lifecycle table).
    pub fn needs_approval(self) -> bool {
        crate::lifecycle::rule(self).needs_approval
    }
}

/// How a change is applied (the seed's three change models).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeModel {
    /// Patch the running system in place, no interruption.
    Live,
    /// Lock-down: customer access denied or read-only while the work runs.
    Maintenance,
    /// Blue/green: build a parallel instance, validate, move traffic, keep the old for fallback.
    Swap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeRequestStatus {
    Pending,
    AwaitingApproval,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Rejected,
}

impl ChangeModel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Maintenance => "maintenance",
            Self::Swap => "swap",
        }
    }
}

impl std::fmt::Display for ChangeModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for ChangeRequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
        })
    }
}

impl ChangeRequestStatus {
    /// Whether the change request still holds its tenant (one active change request per tenant).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Pending | Self::AwaitingApproval | Self::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_serialize_pascal_case_and_parse_both_spellings() {
        for s in TenantState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
            assert_eq!(TenantState::parse(s.as_str()), Some(s));
        }
        assert_eq!(TenantState::parse("end_of_life"), Some(TenantState::EndOfLife));
        assert_eq!(TenantState::parse("Dead"), None);
    }

    #[test]
    fn operations_use_the_api_names() {
        let op: Operation = serde_json::from_str("\"rotate_airflow_password\"").unwrap();
        assert_eq!(op, Operation::RotateAirflowPassword);
        assert!(Operation::Terminate.needs_approval());
        assert!(!Operation::Validate.needs_approval());
    }

    #[test]
    fn only_unfinished_change_requests_are_active() {
        use ChangeRequestStatus::*;
        let active: Vec<_> = [Pending, AwaitingApproval, Running, Succeeded, Failed, Cancelled, Rejected]
            .into_iter()
            .filter(|s| s.is_active())
            .collect();
        assert_eq!(active, [Pending, AwaitingApproval, Running]);
    }
}
