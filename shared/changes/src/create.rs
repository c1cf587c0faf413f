//! Creating a change request: the plan checked against the lifecycle table, the tenant claimed
//! in the same transaction, once only (a guard written with it), then its execution started.
//! A new tenant is created the same way, with the change request that brings it up.

use domain::lifecycle::{self, Refusal};
use domain::{
    ChangeParams, ChangeRequestStatus, ComponentVersion, Operation, ReleaseStatus, Stamp, Tenant, TenantChangeRequest,
    TenantCreate, TenantId, Text,
};
use serde_json::json;
use store::layout;
use store::{Cond, Key, StoreError, Tx, WriteOp};

use crate::fleet::count_in_fleet;
use crate::{Caller, ChangeError, Changes};

/// What a caller asks of a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeCreate {
    pub operation: Operation,
    pub params: ChangeParams,
    /// Why (a ticket, an incident, the schedule that asked).
    pub reason: Option<Text>,
}

/// A write that makes a create happen once (an `Idempotency-Key`, a schedule's slot): it lands
/// with the create, and when its condition fails the create is [`ChangeError::Duplicate`]. When
/// the workflow cannot be started it is deleted, so that a retry is a new request.
#[derive(Debug, Clone, PartialEq)]
pub struct Guard {
    pub write: WriteOp,
    pub key: Key,
}

/// A create checked and ready to commit: the change request and every write it makes.
#[derive(Debug)]
pub struct Prepared {
    cr: TenantChangeRequest,
    tx: Tx<ChangeError>,
}

impl Prepared {
    pub fn change_request(&self) -> &TenantChangeRequest {
        &self.cr
    }

    /// Adds a write that lands with the create, all or nothing (a rollout's member taking the
    /// change request's id); when its condition fails the create is `on_fail`.
    pub fn with_write(mut self, op: WriteOp, on_fail: ChangeError) -> Self {
        self.tx.push(op, on_fail);
        self
    }

    #[cfg(test)]
    pub(crate) fn into_tx(self) -> Tx<ChangeError> {
        self.tx
    }
}

fn refusal(r: Refusal) -> ChangeError {
    match r {
        Refusal::NotFromState { .. } => ChangeError::Conflict(r.to_string()),
        Refusal::ChangeModelNotAccepted { .. } => ChangeError::invalid("params.change_model", r.to_string()),
        Refusal::CreationOnly { .. } => ChangeError::invalid("operation", r.to_string()),
    }
}

impl Changes {
    /// Checks a change to `tenant_id` and prepares its writes: the change request (`running`, or
    /// `awaiting_approval` when its plan needs a second admin) and the claim of the tenant,
    /// conditional on the tenant being as read.
    pub async fn prepare(
        &self,
        tenant_id: &TenantId,
        cmd: ChangeCreate,
        caller: &Caller,
    ) -> Result<Prepared, ChangeError> {
        caller.require(domain::Role::Operator)?;
        let tenant = self.tenant(tenant_id).await?;
        if let Some(active) = &tenant.active_change_request_id {
            return Err(ChangeError::Conflict(format!(
                "tenant {tenant_id} is busy with change request {active}; one at a time"
            )));
        }
        let plan = lifecycle::plan(tenant.state, cmd.operation, cmd.params.change_model).map_err(refusal)?;
        let upgrade = self.check_params(&tenant, cmd.operation, plan.change_model, &cmd.params).await?;

        let ctx = caller.context(None);
        let status =
            if plan.needs_approval { ChangeRequestStatus::AwaitingApproval } else { ChangeRequestStatus::Running };
        let mut cr = TenantChangeRequest::new(tenant_id.clone(), cmd.operation, cmd.params, status, &ctx);
        cr.change_model = plan.change_model;
        cr.started_from = Some(tenant.state);
        cr.reason = cmd.reason;
        cr.upgrade = upgrade;
        if status == ChangeRequestStatus::Running {
            cr.execution_arn = Some(self.workflows.execution_arn(cr.id.as_str()));
        }
        let mut claimed = tenant.clone();
        claimed.active_change_request_id = Some(cr.id.clone());
        claimed.stamp = tenant.stamp.next(&caller.context(Some(&cr.id)));

        let mut tx = Tx::new();
        tx.put(&cr, Cond::NotExists, ChangeError::Conflict("id collision; retry".into()))?;
        tx.put(
            &claimed,
            Cond::RevisionIs(tenant.stamp.revision),
            ChangeError::Conflict(format!("tenant {tenant_id} changed or was claimed meanwhile; read it again")),
        )?;
        Ok(Prepared { cr, tx })
    }

    /// Checks a new tenant and prepares its writes: the tenant held by the change request that
    /// brings it up (`provision`, or `validate` for an import), its name guard, its component
    /// versions from the release manifest and the fleet counters; guarded by its customer
    /// existing and its release being available. Answers the tenant with them.
    pub async fn prepare_tenant(&self, cmd: TenantCreate, caller: &Caller) -> Result<(Tenant, Prepared), ChangeError> {
        caller.require(domain::Role::Operator)?;
        let ctx = caller.context(None);
        let (tenant, mut cr) = Tenant::create(cmd, &ctx);
        cr.status = ChangeRequestStatus::Running;
        cr.execution_arn = Some(self.workflows.execution_arn(cr.id.as_str()));

        let unknown_release = || ChangeError::invalid("release", format!("no available release {}", tenant.release));
        let release = self.release(&tenant.release).await?.ok_or_else(unknown_release)?;
        if release.status != ReleaseStatus::Available {
            return Err(ChangeError::invalid(
                "release",
                format!("release {} is {}; new tenants need an available release", release.version, release.status),
            ));
        }
        let mut tx = Tx::new();
        tx.put(&tenant, Cond::NotExists, ChangeError::Conflict("id collision; retry".into()))?;
        tx.put(&cr, Cond::NotExists, ChangeError::Conflict("id collision; retry".into()))?;
        tx.push(
            WriteOp::put(
                layout::guard_item(layout::tenant_name_guard(&tenant.name), tenant.id.as_str()),
                Cond::NotExists,
            ),
            ChangeError::Conflict(format!("a tenant named {} already exists", tenant.name)),
        );
        tx.push(
            WriteOp::Check { key: layout::customer_key(&tenant.customer_id), cond: Cond::Exists },
            ChangeError::invalid("customer_id", format!("no customer {}", tenant.customer_id)),
        );
        tx.push(
            WriteOp::Check {
                key: layout::release_key(&tenant.release),
                cond: Cond::FieldIs("status".into(), json!("available")),
            },
            unknown_release(),
        );
        let stamp = Stamp::first(&caller.context(Some(&cr.id)));
        for (name, version) in &release.components {
            let component = ComponentVersion {
                tenant_id: tenant.id.clone(),
                name: name.clone(),
                version: version.clone(),
                stamp: stamp.clone(),
            };
            tx.put(&component, Cond::NotExists, ChangeError::Internal("component collision".into()))?;
        }
        count_in_fleet(&mut tx, &[(tenant.state, &tenant.release, 1)], ChangeError::Internal("counter".into()));
        Ok((tenant, Prepared { cr, tx }))
    }

    /// Commits a prepared create with its guard, then starts its execution when it runs now.
    /// Answers the change request as it stands.
    pub async fn submit(&self, prepared: Prepared, guard: Option<Guard>) -> Result<TenantChangeRequest, ChangeError> {
        let Prepared { cr, tx } = prepared;
        let (mut ops, on_fail) = tx.into_parts();
        let guard_index = ops.len();
        let guard_key = guard.as_ref().map(|g| g.key.clone());
        if let Some(g) = guard {
            ops.push(g.write);
        }
        match self.table.write(ops).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { op: Some(i) }) if i == guard_index => return Err(ChangeError::Duplicate),
            Err(StoreError::ConditionFailed { op: Some(i) }) if i < on_fail.len() => return Err(on_fail[i].clone()),
            Err(e) => return Err(e.into()),
        }
        if cr.status == ChangeRequestStatus::Running {
            self.start_or_fail(&cr, guard_key.as_ref()).await?;
        }
        Ok(cr)
    }

    /// [`Changes::prepare`] then [`Changes::submit`].
    pub async fn create(
        &self,
        tenant_id: &TenantId,
        cmd: ChangeCreate,
        caller: &Caller,
        guard: Option<Guard>,
    ) -> Result<TenantChangeRequest, ChangeError> {
        let prepared = self.prepare(tenant_id, cmd, caller).await?;
        self.submit(prepared, guard).await
    }
}
