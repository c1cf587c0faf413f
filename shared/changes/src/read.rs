//! Reading change requests and their tenants.

use domain::{
    Arn, ChangeRequestId, ChangeRequestStatus, ResourceId, Tenant, TenantAwsResource, TenantChangeRequest, TenantId,
};
use serde_json::Value;
use store::Key;
use store::layout::{self, Record};

use crate::{ChangeError, Changes};

/// The most resources of a tenant that its work (SSM commands) and its metrics are read over.
pub const MAX_TENANT_RESOURCES: u32 = 200;

/// A running change request and the tenant it holds, read together.
#[derive(Debug, Clone, PartialEq)]
pub struct Held {
    pub cr: TenantChangeRequest,
    pub tenant: Tenant,
}

impl Held {
    /// Checks that a change request read with its tenant is running and holds it.
    pub fn check(cr: TenantChangeRequest, tenant: Option<Tenant>) -> Result<Self, ChangeError> {
        let id = cr.id.clone();
        let tenant = tenant.ok_or_else(|| ChangeError::Internal(format!("change request {id} names no tenant")))?;
        if cr.status != ChangeRequestStatus::Running {
            return Err(ChangeError::Conflict(format!("change request {id} is {}, not running", cr.status)));
        }
        if !cr.holds(&tenant) {
            return Err(ChangeError::Conflict(format!("change request {id} does not hold tenant {}", tenant.id)));
        }
        Ok(Self { cr, tenant })
    }
}

impl Changes {
    pub(crate) async fn find<R: Record>(&self, key: &Key) -> Result<Option<R>, ChangeError> {
        match self.table.get(key).await? {
            Some(item) if !layout::is_tombstone(&item) => Ok(Some(R::from_item(item)?)),
            _ => Ok(None),
        }
    }

    /// A change request; `NotFound` when there is none.
    pub async fn change_request(&self, id: &ChangeRequestId) -> Result<TenantChangeRequest, ChangeError> {
        self.find(&layout::change_request_key(id))
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("no change request {id}")))
    }

    /// A tenant; `NotFound` when there is none.
    pub async fn tenant(&self, id: &TenantId) -> Result<Tenant, ChangeError> {
        self.find(&layout::tenant_key(id)).await?.ok_or_else(|| ChangeError::NotFound(format!("no tenant {id}")))
    }

    /// The ARNs of the AWS resources the tenant uses (its resource links; one query, at most
    /// [`MAX_TENANT_RESOURCES`]).
    pub async fn resource_arns(&self, tenant: &TenantId) -> Result<Vec<Arn>, ChangeError> {
        let q = store::Query::new(None, layout::tenant_partition(tenant))
            .prefix(layout::RESOURCE_LINK_PREFIX)
            .limit(MAX_TENANT_RESOURCES);
        Ok(self
            .table
            .query(&q)
            .await?
            .items
            .iter()
            .filter(|i| !layout::is_tombstone(i))
            .filter_map(|i| i.get("arn").and_then(Value::as_str))
            .filter_map(|a| Arn::parse(a).ok())
            .collect())
    }

    /// A tenant if there is one (`None` for an id no tenant has).
    pub async fn tenant_if_any(&self, id: &TenantId) -> Result<Option<Tenant>, ChangeError> {
        self.find(&layout::tenant_key(id)).await
    }

    /// The tenants using the AWS resource registered with this ARN (none when no resource is):
    /// two `GetItem`s, the ARN's uniqueness guard then the resource.
    pub async fn tenants_of_arn(&self, arn: &Arn) -> Result<Vec<TenantId>, ChangeError> {
        let owner = match self.table.get(&layout::arn_guard(arn)).await? {
            Some(g) if !layout::is_tombstone(&g) => g.get("owner").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let Some(owner) = owner else { return Ok(Vec::new()) };
        let id = ResourceId::parse(&owner).map_err(|e| ChangeError::Internal(e.to_string()))?;
        let resource: Option<TenantAwsResource> = self.find(&layout::resource_key(&id)).await?;
        Ok(resource.map(|r| r.tenant_ids.into_iter().collect()).unwrap_or_default())
    }

    /// A change request and its tenant, if the tenant is still there.
    pub async fn read(&self, id: &ChangeRequestId) -> Result<(TenantChangeRequest, Option<Tenant>), ChangeError> {
        let cr = self.change_request(id).await?;
        let tenant = self.find(&layout::tenant_key(&cr.tenant_id)).await?;
        Ok((cr, tenant))
    }

    /// The running change request `id` and the tenant it must hold.
    pub async fn held(&self, id: &ChangeRequestId) -> Result<Held, ChangeError> {
        let (cr, tenant) = self.read(id).await?;
        // A caller's span that declares `tenant_id` (a workflow task's) now carries it: every
        // later log line of the task names its tenant.
        tracing::Span::current().record("tenant_id", cr.tenant_id.as_str());
        Held::check(cr, tenant)
    }

    pub(crate) async fn release(
        &self,
        v: &domain::ReleaseVersion,
    ) -> Result<Option<domain::ProductRelease>, ChangeError> {
        self.find(&layout::release_key(v)).await
    }
}
