//! What the registry records of the software a tenant runs, as a change request changes it: an
//! upgrade records its target release and that release's components (keeping what was recorded
//! before on the change request, [`domain::RecordedBefore`]), a rollback writes that back, and a
//! restore writes back what its backup recorded. Each is one transaction with the change request,
//! the tenant and the fleet counters, conditional on what was read, and retried when it loses a
//! race; a step that already succeeded writes nothing.

use std::collections::BTreeMap;

use domain::{
    ChangeRequestId, ComponentName, ComponentVersion, ComponentVersionLabel, ConfigKey, ConfigValue, RecordedBefore,
    ReleaseVersion, Stamp, StepStatus, TenantChangeRequest, TenantSnapshot, WriteContext,
};
use serde_json::json;
use store::layout::Record;
use store::{Cond, Tx, WriteOp};

use crate::fleet::{count_in_fleet, moved};
use crate::retry::{self, Attempt};
use crate::{Caller, ChangeError, Changes, Held};

fn raced() -> ChangeError {
    ChangeError::Conflict("a component or config changed under the change request".into())
}

impl Changes {
    /// The tenant's components and configs as they are recorded now.
    pub(crate) async fn recorded(&self, held: &Held) -> Result<TenantSnapshot, ChangeError> {
        Ok(as_snapshot(self.snapshot(&held.tenant.id).await?))
    }

    /// The writes that make the tenant's components exactly `components` (the others are
    /// deleted) and, when `configs` is given, its configs exactly those.
    pub(crate) async fn write_back(
        &self,
        held: &Held,
        components: &BTreeMap<ComponentName, ComponentVersionLabel>,
        configs: Option<&BTreeMap<ConfigKey, ConfigValue>>,
        ctx: &WriteContext,
    ) -> Result<Tx<ChangeError>, ChangeError> {
        let (current, current_configs) = self.snapshot(&held.tenant.id).await?;
        let mut tx = self.component_writes(held, &current, components, ctx)?;
        for (name, c) in current.iter().filter(|(name, _)| !components.contains_key(*name)) {
            let mut deleted = c.clone();
            deleted.stamp = c.stamp.next(ctx);
            tx.push(WriteOp::put(deleted.tombstone(ctx.now.timestamp())?, Cond::RevisionIs(c.stamp.revision)), raced());
            tracing::info!(tenant = %held.tenant.id, component = %name, "a component the record did not have is deleted");
        }
        let Some(configs) = configs else { return Ok(tx) };
        for (key, value) in configs {
            self.config_write(&mut tx, held, key.clone(), value.clone(), ctx).await?;
        }
        for (key, c) in current_configs.iter().filter(|(k, _)| !configs.contains_key(*k)) {
            let mut deleted = c.clone();
            deleted.stamp = c.stamp.next(ctx);
            tx.push(WriteOp::put(deleted.tombstone(ctx.now.timestamp())?, Cond::RevisionIs(c.stamp.revision)), raced());
            tracing::info!(tenant = %held.tenant.id, %key, "a config the record did not have is deleted");
        }
        Ok(tx)
    }

    /// Puts of the components in `wanted` whose version differs from `current` (each
    /// conditional on the revision read).
    fn component_writes(
        &self,
        held: &Held,
        current: &BTreeMap<ComponentName, ComponentVersion>,
        wanted: &BTreeMap<ComponentName, ComponentVersionLabel>,
        ctx: &WriteContext,
    ) -> Result<Tx<ChangeError>, ChangeError> {
        let mut tx = Tx::new();
        for (name, version) in wanted {
            let (stamp, cond) = match current.get(name) {
                Some(c) if &c.version == version => continue,
                Some(c) => (c.stamp.next(ctx), Cond::RevisionIs(c.stamp.revision)),
                None => (Stamp::first(ctx), Cond::NotExists),
            };
            let c = ComponentVersion {
                tenant_id: held.tenant.id.clone(),
                name: name.clone(),
                version: version.clone(),
                stamp,
            };
            tx.push(WriteOp::put(c.to_item()?, cond), raced());
        }
        Ok(tx)
    }

    /// The step `step` of an upgrade: its target release, the components that release ships and
    /// the configs its job reported it set become the tenant's (components it does not ship are
    /// kept: they may be managed outside releases); what was recorded before is kept on the
    /// change request.
    pub async fn record_release(&self, id: &ChangeRequestId, caller: &Caller, step: &str) -> Result<(), ChangeError> {
        retry::on_conflict(|| async {
            let held = self.held(id).await?;
            if held.cr.succeeded(step) {
                return Ok(());
            }
            let target = held
                .cr
                .target_release()
                .ok_or_else(|| ChangeError::Internal(format!("change request {id} has no target release to record")))?;
            let release = self
                .release(&target)
                .await?
                .ok_or_else(|| ChangeError::Internal(format!("release {target} is gone")))?;
            let ctx = caller.context(Some(id));
            let (current, configs) = self.snapshot(&held.tenant.id).await?;
            let mut tx = self.component_writes(&held, &current, &release.components, &ctx)?;
            let before = RecordedBefore::new(held.tenant.release.clone(), &as_snapshot((current, configs)));
            // The configs its job reported it set are the tenant's from now on too.
            for (key, value) in crate::built::reports(&held.cr)?.configs {
                self.config_write(&mut tx, &held, key, value, &ctx).await?;
            }
            let mut cr = held.cr.clone();
            let detail = json!({ "from": before.release, "to": target });
            cr.recorded_before = Some(before);
            cr.record_step(step, StepStatus::Succeeded, Some(detail), None, ctx.now);
            tx.extend(held_writes(&held, cr, target, &ctx)?);
            retry::committed(tx.commit(self.table.as_ref()).await)
        })
        .await?;
        tracing::info!(change_request = %id, "upgrade recorded its release");
        Ok(())
    }

    /// The step `step` of a rollback: what was recorded before the upgrade is written back
    /// (release, components, configs); when nothing was recorded there is nothing to write.
    pub async fn revert_release(&self, id: &ChangeRequestId, caller: &Caller, step: &str) -> Result<(), ChangeError> {
        retry::on_conflict(|| async {
            let held = self.held(id).await?;
            if held.cr.succeeded(step) {
                return Ok(());
            }
            let ctx = caller.context(Some(id));
            let mut cr = held.cr.clone();
            let Some(before) = held.cr.recorded_before.clone() else {
                cr.record_step(step, StepStatus::Succeeded, Some(json!({ "reverted": false })), None, ctx.now);
                let tx = held_writes(&held, cr, held.tenant.release.clone(), &ctx)?;
                return retry::committed(tx.commit(self.table.as_ref()).await);
            };
            let mut tx = self.write_back(&held, &before.components, Some(&before.config_values()), &ctx).await?;
            let detail = json!({ "reverted": true, "from": held.tenant.release, "to": before.release });
            cr.record_step(step, StepStatus::Succeeded, Some(detail), None, ctx.now);
            tx.extend(held_writes(&held, cr, before.release.clone(), &ctx)?);
            retry::committed(tx.commit(self.table.as_ref()).await)
        })
        .await?;
        tracing::info!(change_request = %id, "rollback wrote back what was recorded before the upgrade");
        Ok(())
    }
}

/// Component versions and configs as a snapshot records them (versions; values or references).
fn as_snapshot(
    (components, configs): (BTreeMap<ComponentName, ComponentVersion>, BTreeMap<ConfigKey, domain::TenantConfig>),
) -> TenantSnapshot {
    TenantSnapshot {
        components: components.into_iter().map(|(name, c)| (name, c.version)).collect(),
        configs: configs.into_values().filter_map(|c| c.as_value().map(|v| (c.key, v))).collect(),
    }
}

/// The change request and its tenant (on `release`) written back, each conditional on its
/// revision read and the tenant still held, with the fleet counters when the release moves.
fn held_writes(
    held: &Held,
    mut cr: TenantChangeRequest,
    release: ReleaseVersion,
    ctx: &WriteContext,
) -> Result<Tx<ChangeError>, Attempt> {
    let mut tx = Tx::new();
    cr.stamp = held.cr.stamp.next(ctx);
    tx.put(&cr, Cond::RevisionIs(held.cr.stamp.revision), ChangeError::Conflict("change request raced".into()))?;
    if release != held.tenant.release {
        let mut t = held.tenant.clone();
        t.release = release;
        t.stamp = held.tenant.stamp.next(ctx);
        tx.put(
            &t,
            Cond::All(vec![
                Cond::RevisionIs(held.tenant.stamp.revision),
                Cond::FieldIs("active_change_request_id".into(), json!(held.cr.id.as_str())),
            ]),
            ChangeError::Conflict("tenant raced".into()),
        )?;
        count_in_fleet(
            &mut tx,
            &moved((held.tenant.state, &held.tenant.release), (held.tenant.state, &t.release)),
            ChangeError::Conflict("counter".into()),
        );
    }
    Ok(tx)
}
