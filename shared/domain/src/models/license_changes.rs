//! What a license's change did to its customer's tenants: the change requests it started
//! (`activate_license` when an assignment becomes active or changes license, `suspend` when it
//! is revoked or expires) and the tenants it left alone, with why.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{AssignmentId, ChangeRequestId, Operation, TenantId, TenantState};

/// Why a tenant of the customer got no change request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseSkip {
    /// Its state does not allow the operation (e.g. `EndOfLife`, or already `Suspended`).
    State,
    /// Another change request holds it.
    Busy,
    /// This change of the assignment already started its change request (a repeat).
    AlreadyStarted,
    /// The store or Step Functions did not answer; the schedule (or a repeat) tries again.
    Failed,
}

/// A tenant the license's change started a change request on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseStarted {
    pub tenant_id: TenantId,
    pub change_request_id: ChangeRequestId,
}

/// A tenant it left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseSkipped {
    pub tenant_id: TenantId,
    pub state: TenantState,
    pub reason: LicenseSkip,
}

/// The change requests one change of an assignment started on its customer's tenants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LicenseChanges {
    pub assignment_id: AssignmentId,
    /// `activate_license` or `suspend`.
    pub operation: Operation,
    pub started: Vec<LicenseStarted>,
    pub skipped: Vec<LicenseSkipped>,
}

impl LicenseChanges {
    pub fn new(assignment_id: AssignmentId, operation: Operation) -> Self {
        Self { assignment_id, operation, started: Vec::new(), skipped: Vec::new() }
    }

    /// Whether every tenant was served or deliberately left alone (none failed).
    pub fn complete(&self) -> bool {
        self.skipped.iter().all(|s| s.reason != LicenseSkip::Failed)
    }
}
