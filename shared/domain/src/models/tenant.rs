//! Tenants: one deployment of the product for a customer, and the change request creating one starts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, TenantChangeRequest, WriteContext, stamped};
use crate::schedule::{ScheduleName, Window};
use crate::tags::Tags;
use crate::{
    ChangeRequestId, ChangeRequestStatus, CustomerId, TenantId, TenantState, patch,
    values::{Region, ReleaseVersion, TenantName, Text},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub customer_id: CustomerId,
    pub name: TenantName,
    pub release: ReleaseVersion,
    pub state: TenantState,
    /// The change request that holds this tenant now (one at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub active_change_request_id: Option<ChangeRequestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub region: Option<Region>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<Text>,
    /// Registered as an already running deployment rather than provisioned by the portal.
    #[serde(default)]
    pub imported: bool,
    /// When the schedules may lock the tenant (the health validation; the backup too, unless
    /// it has a backup window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<Window>,
    /// When the nightly backup may run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_window: Option<Window>,
    /// The schedules that leave this tenant alone.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub schedule_opt_outs: BTreeSet<ScheduleName>,
    /// What rollouts and the tenant list select by (`{"env": "prod"}`).
    #[serde(default, skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    pub customer_id: CustomerId,
    pub name: TenantName,
    pub release: ReleaseVersion,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub description: Option<Text>,
    /// Register a tenant that already runs: it starts `InTesting` with a `validate` change request
    /// instead of `Provisioning` with a `provision` one.
    #[serde(default)]
    pub import: bool,
    #[serde(default)]
    pub tags: Tags,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    /// Leave it out to keep the name; it cannot be cleared.
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub name: Option<TenantName>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Region>)]
    pub region: Option<Option<Region>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub description: Option<Option<Text>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Window>)]
    pub maintenance_window: Option<Option<Window>>,
    /// `null` removes it.
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Window>)]
    pub backup_window: Option<Option<Window>>,
    /// Replaces the set (`[]`: every schedule serves the tenant).
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub schedule_opt_outs: Option<BTreeSet<ScheduleName>>,
    /// Replaces the tags (`{}`: none).
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub tags: Option<Tags>,
}

impl TenantPatch {
    pub fn apply_to(self, t: &mut Tenant) {
        patch::set(&mut t.name, self.name);
        patch::apply(&mut t.region, self.region);
        patch::apply(&mut t.description, self.description);
        patch::apply(&mut t.maintenance_window, self.maintenance_window);
        patch::apply(&mut t.backup_window, self.backup_window);
        patch::set(&mut t.schedule_opt_outs, self.schedule_opt_outs);
        patch::set(&mut t.tags, self.tags);
    }
}

impl Tenant {
    /// A new tenant, and the change request that brings it up: `provision` for a new deployment,
    /// `validate` for an imported one. The change request holds the tenant from the start.
    pub fn create(cmd: TenantCreate, ctx: &WriteContext) -> (Self, TenantChangeRequest) {
        let id = TenantId::generate();
        let plan = crate::lifecycle::creation_plan(cmd.import);
        let (state, operation) = (plan.started, plan.operation);
        let mut change_request = TenantChangeRequest::new(
            id.clone(),
            operation,
            super::ChangeParams { release: Some(cmd.release.clone()), ..Default::default() },
            ChangeRequestStatus::Pending,
            ctx,
        );
        change_request.started_from = Some(state);
        change_request.change_model = plan.change_model;
        let ctx = WriteContext { change_request_id: Some(change_request.id.clone()), ..ctx.clone() };
        let tenant = Self {
            id,
            customer_id: cmd.customer_id,
            name: cmd.name,
            release: cmd.release,
            state,
            active_change_request_id: Some(change_request.id.clone()),
            region: cmd.region,
            description: cmd.description,
            imported: cmd.import,
            maintenance_window: None,
            backup_window: None,
            schedule_opt_outs: BTreeSet::new(),
            tags: cmd.tags,
            stamp: Stamp::first(&ctx),
        };
        (tenant, change_request)
    }
}

stamped!(Tenant);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn create_bodies_refuse_missing_fields() {
        let err = serde_json::from_str::<TenantCreate>(r#"{"name":"acme-prod","release":"3.1.0"}"#).unwrap_err();
        assert!(err.to_string().contains("customer_id"));
    }

    #[test]
    fn a_new_tenant_is_held_by_its_first_change_request() {
        let cmd: TenantCreate = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "name": "acme-prod", "release": "3.1.0"
        }))
        .unwrap();
        let (t, cr) = Tenant::create(cmd.clone(), &ctx());
        assert_eq!(t.state, TenantState::Provisioning);
        assert_eq!(cr.operation, Operation::Provision);
        assert_eq!(t.active_change_request_id.as_ref(), Some(&cr.id));
        assert_eq!(t.stamp.change_request_id.as_ref(), Some(&cr.id));
        assert_eq!(cr.tenant_id, t.id);

        let (t, cr) = Tenant::create(TenantCreate { import: true, ..cmd }, &ctx());
        assert_eq!(t.state, TenantState::InTesting);
        assert_eq!(cr.operation, Operation::Validate);
        assert!(t.imported);
    }
}
