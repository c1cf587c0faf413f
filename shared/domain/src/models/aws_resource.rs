//! Tenant AWS resources: an AWS resource (by ARN) used by one or more tenants.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{
    FieldError, ResourceId, TenantId, patch,
    values::{Arn, Name, Text},
};

/// An AWS resource (by ARN) used by one or more tenants, e.g. a shared RDS cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantAwsResource {
    pub id: ResourceId,
    pub arn: Arn,
    /// The AWS service, from the ARN (`rds`, `ec2`, `s3`...).
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<Text>,
    /// The tenants using this resource.
    #[serde(default)]
    #[schema(max_items = 49)]
    pub tenant_ids: BTreeSet<TenantId>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// A resource's tenants are linked in the same transaction as the resource itself; replacing all
/// of them (the resource, this many unlinks and as many links) must fit DynamoDB's 100 writes.
pub const MAX_TENANTS_PER_RESOURCE: usize = 49;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceCreate {
    pub arn: Arn,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub description: Option<Text>,
    /// The tenants using it: at most 49 (a tenant listed twice counts once), each existing.
    #[serde(default)]
    #[schema(value_type = Vec<TenantId>, max_items = 49)]
    pub tenant_ids: BTreeSet<TenantId>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcePatch {
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Name>)]
    pub name: Option<Option<Name>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub description: Option<Option<Text>>,
    /// Replaces the set of tenants using the resource: at most 49 (a tenant listed twice counts
    /// once), each existing.
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(value_type = Vec<TenantId>, nullable = false, max_items = 49)]
    pub tenant_ids: Option<BTreeSet<TenantId>>,
}

fn check_tenant_count(ids: &BTreeSet<TenantId>) -> Result<(), FieldError> {
    if ids.len() > MAX_TENANTS_PER_RESOURCE {
        return Err(FieldError::new("tenant_ids", format!("at most {MAX_TENANTS_PER_RESOURCE} tenants per resource")));
    }
    Ok(())
}

impl TenantAwsResource {
    pub fn create(cmd: ResourceCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        check_tenant_count(&cmd.tenant_ids)?;
        Ok(Self {
            id: ResourceId::generate(),
            service: cmd.arn.service().to_owned(),
            arn: cmd.arn,
            name: cmd.name,
            description: cmd.description,
            tenant_ids: cmd.tenant_ids,
            stamp: Stamp::first(ctx),
        })
    }
}

impl ResourcePatch {
    pub fn apply_to(self, r: &mut TenantAwsResource) -> Result<(), FieldError> {
        patch::apply(&mut r.name, self.name);
        patch::apply(&mut r.description, self.description);
        patch::set(&mut r.tenant_ids, self.tenant_ids);
        check_tenant_count(&r.tenant_ids)
    }
}

stamped!(TenantAwsResource);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn resources_bound_tenants() {
        let many: BTreeSet<TenantId> = (0..=MAX_TENANTS_PER_RESOURCE).map(|_| TenantId::generate()).collect();
        let cmd = ResourceCreate {
            arn: Arn::parse("arn:aws:s3:::b").unwrap(),
            name: None,
            description: None,
            tenant_ids: many,
        };
        assert_eq!(TenantAwsResource::create(cmd, &ctx()).unwrap_err().field, "tenant_ids");
    }
}
