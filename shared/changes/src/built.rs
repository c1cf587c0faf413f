//! Recording what a change request's jobs built: the resources (ARNs) and configs a job
//! reported in its build's artifact (`domain::WorkReport`, stored on the step that read it)
//! become the tenant's, in the change request's finishing transaction, whatever its outcome (a
//! provision whose health suites failed still built its instance, and a terminate must find it).
//! A provision that succeeded records its standard alarms with them (`standard_alarms.rs`).

use std::collections::BTreeSet;

use domain::{
    ConfigKey, ConfigValue, ResourceCreate, Stamp, TenantAwsResource, TenantChangeRequest, TenantConfig, WorkReport,
    WriteContext,
};
use serde_json::Value;
use store::layout::{self, Record};
use store::{Cond, Tx, WriteOp};

use crate::{ChangeError, Changes, Held};

/// The reports the change request's steps stored (`detail.report`), merged in step order.
pub fn reports(cr: &TenantChangeRequest) -> Result<WorkReport, ChangeError> {
    let mut merged = WorkReport::default();
    // The configs a rolled-back change's own work set were undone with it: only its rollback's
    // (the steps after the `rollback` entry) are kept; what was built is kept either way.
    let rolled_back = cr.steps.iter().position(|s| s.name == domain::lifecycle::ROLLBACK);
    for (i, step) in cr.steps.iter().enumerate() {
        let Some(report) = step.detail.as_ref().and_then(|d| d.get("report")) else { continue };
        let report = WorkReport::parse(report.clone())
            .map_err(|e| ChangeError::Internal(format!("the stored report of {} does not read: {e}", step.name)))?;
        merged.resources.extend(report.resources);
        if rolled_back.is_none_or(|at| i > at) {
            merged.configs.extend(report.configs);
        }
        merged.backup = report.backup.or(merged.backup);
    }
    Ok(merged)
}

fn raced() -> ChangeError {
    ChangeError::Conflict("a resource or config changed under the change request".into())
}

impl Changes {
    /// The writes that make what was reported the tenant's: each resource registered (or the
    /// tenant added to the one already registered with that ARN) and linked, each config set.
    /// The standard alarms of a provision that `succeeded` are recorded with them.
    pub(crate) async fn built_writes(
        &self,
        held: &Held,
        ctx: &WriteContext,
        succeeded: bool,
    ) -> Result<Tx<ChangeError>, ChangeError> {
        let mut report = reports(&held.cr)?;
        if succeeded && held.cr.operation == domain::Operation::Provision {
            let instance = report.resources.iter().find_map(|r| r.arn.ec2_instance_id().map(str::to_owned));
            report.resources.extend(self.put_standard_alarms(&held.tenant.id, instance.as_deref()).await);
        }
        let mut tx = Tx::new();
        let tenant = &held.tenant.id;
        let mut seen = BTreeSet::new();
        for r in report.resources.into_iter().filter(|r| seen.insert(r.arn.clone())) {
            let owner = match self.table.get(&layout::arn_guard(&r.arn)).await? {
                Some(g) if !layout::is_tombstone(&g) => g.get("owner").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            };
            let existing = match &owner {
                Some(id) => {
                    let id = domain::ResourceId::parse(id).map_err(|e| ChangeError::Internal(e.to_string()))?;
                    match self.table.get(&layout::resource_key(&id)).await? {
                        Some(item) if !layout::is_tombstone(&item) => Some(TenantAwsResource::from_item(item)?),
                        _ => None,
                    }
                }
                None => None,
            };
            match existing {
                Some(mut resource) => {
                    if resource.tenant_ids.insert(tenant.clone()) {
                        let revision = resource.stamp.revision;
                        resource.stamp = resource.stamp.next(ctx);
                        tx.put(&resource, Cond::RevisionIs(revision), raced())?;
                    }
                    tx.push(
                        WriteOp::put(layout::resource_link_item(tenant, &resource.id, &resource.arn), Cond::Always),
                        raced(),
                    );
                }
                None => {
                    let cmd = ResourceCreate {
                        arn: r.arn,
                        name: r.name,
                        description: None,
                        tenant_ids: [tenant.clone()].into(),
                    };
                    let resource = TenantAwsResource::create(cmd, ctx)?;
                    tx.put(&resource, Cond::NotExists, raced())?;
                    tx.push(
                        WriteOp::put(
                            layout::guard_item(layout::arn_guard(&resource.arn), resource.id.as_str()),
                            Cond::NotExists,
                        ),
                        raced(),
                    );
                    tx.push(
                        WriteOp::put(layout::resource_link_item(tenant, &resource.id, &resource.arn), Cond::Always),
                        raced(),
                    );
                }
            }
        }
        for (key, value) in report.configs {
            self.config_write(&mut tx, held, key, value, ctx).await?;
        }
        Ok(tx)
    }

    pub(crate) async fn config_write(
        &self,
        tx: &mut Tx<ChangeError>,
        held: &Held,
        key: ConfigKey,
        value: ConfigValue,
        ctx: &WriteContext,
    ) -> Result<(), ChangeError> {
        // A deleted config's tombstone is written over, continuing its revisions.
        let current = match self.table.get(&layout::config_key(&held.tenant.id, &key)).await? {
            Some(item) => Some((layout::is_tombstone(&item), TenantConfig::from_item(item)?)),
            None => None,
        };
        let (stamp, cond) = match &current {
            Some((false, c)) if c.holds(&value) => return Ok(()),
            Some((_, c)) => (c.stamp.next(ctx), Cond::RevisionIs(c.stamp.revision)),
            None => (Stamp::first(ctx), Cond::NotExists),
        };
        tx.put(&TenantConfig::new(held.tenant.id.clone(), key, value, stamp), cond, raced())?;
        Ok(())
    }
}
