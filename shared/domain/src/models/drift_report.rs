//! The last drift check of a tenant (`TENANT#<id>` / `DRIFT`): what its box answered it runs,
//! compared with what was recorded then (`crate::drift`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, stamped};
use crate::drift::{Adoption, Drifted, Ignored, Running, adoption};
use crate::{ReleaseVersion, TenantId};

/// The last drift check of a tenant: when, against which release, what differed, and what the
/// box answered (its non-secret part), which is what adopting it writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DriftReport {
    pub tenant_id: TenantId,
    /// When the box was read.
    pub checked_at: DateTime<Utc>,
    /// The release the tenant was recorded on then.
    pub release: ReleaseVersion,
    /// Every difference (none: the box runs what is recorded).
    pub drifted: Vec<Drifted>,
    /// What of the box's answer was not compared, and why.
    #[serde(default)]
    pub ignored: Vec<Ignored>,
    /// What the box answered it runs.
    pub running: Running,
    #[serde(flatten)]
    pub stamp: Stamp,
}

stamped!(DriftReport);

impl DriftReport {
    pub fn is_drifted(&self) -> bool {
        !self.drifted.is_empty()
    }

    /// What adopting the live values writes: per drifted component its live version (`None`:
    /// delete the record), per drifted config its live value (`None`: delete it).
    pub fn adoption(&self) -> Adoption {
        adoption(&self.drifted, &self.running)
    }
}
