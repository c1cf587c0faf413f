//! Health runs: a run of the health baseline on a tenant, with its verdict and evidence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, stamped};
use crate::{ChangeRequestId, TenantId, values::ReleaseVersion};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthVerdict {
    Passed,
    Failed,
}

/// One suite of a health run: its result and the evidence (the build that ran it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuiteResult {
    pub suite: String,
    /// The Jenkins result (`SUCCESS`, `FAILURE`...), or `not_run`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub build_url: Option<String>,
}

/// A run of the health baseline on a tenant, at the end of a validating change request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthRun {
    pub id: crate::HealthRunId,
    pub tenant_id: TenantId,
    pub change_request_id: ChangeRequestId,
    /// The release the tenant ran when tested.
    pub release: ReleaseVersion,
    pub verdict: HealthVerdict,
    pub suites: Vec<SuiteResult>,
    pub finished_at: DateTime<Utc>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

stamped!(HealthRun);
