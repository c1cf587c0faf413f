//! Component versions: the version of one component in one tenant.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, stamped};
use crate::{
    TenantId,
    values::{ComponentName, ComponentVersionLabel},
};

/// The version of one component in one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComponentVersion {
    pub tenant_id: TenantId,
    pub name: ComponentName,
    pub version: ComponentVersionLabel,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentPut {
    pub version: ComponentVersionLabel,
}

stamped!(ComponentVersion);
