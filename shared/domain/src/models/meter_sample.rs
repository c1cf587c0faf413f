//! A usage sample of one tenant: what the product meters (assets, users, data volume), collected
//! once a slot by the `metering` schedule and kept as a time series under the tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::TenantId;

/// What the product on a tenant reports it holds, as its Update Manager API answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    /// Assets the product tracks.
    pub assets: u64,
    /// Users with access.
    pub users: u64,
    /// Data volume, in bytes.
    pub data_bytes: u64,
}

/// One tenant's usage at one slot of the `metering` schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeterSample {
    pub tenant_id: TenantId,
    /// The slot the sample is for (the start of its UTC day): one sample per tenant and slot.
    pub at: DateTime<Utc>,
    /// When it was read from the tenant.
    pub collected_at: DateTime<Utc>,
    pub assets: u64,
    pub users: u64,
    pub data_bytes: u64,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl MeterSample {
    pub fn new(tenant_id: TenantId, at: DateTime<Utc>, usage: Usage, ctx: &WriteContext) -> Self {
        Self {
            tenant_id,
            at,
            collected_at: ctx.now,
            assets: usage.assets,
            users: usage.users,
            data_bytes: usage.data_bytes,
            stamp: Stamp::first(ctx),
        }
    }

    pub fn usage(&self) -> Usage {
        Usage { assets: self.assets, users: self.users, data_bytes: self.data_bytes }
    }
}

stamped!(MeterSample);
