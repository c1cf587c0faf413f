//! The backup catalog in the change request's life: a `backup` that succeeds catalogues what its
//! job reported with the tenant as it was (release, component versions, configs); a `restore`
//! may only name a catalogued backup of its own tenant, and when it succeeds the tenant takes
//! that backup's release, components and configs back, in the finishing transaction.

use std::collections::BTreeMap;

use domain::{
    Backup, BackupId, ComponentName, ComponentVersion, ConfigKey, ConfigValue, Operation, ReleaseVersion, Stamp,
    TenantConfig, TenantId, TenantSnapshot, WriteContext,
};
use store::layout::{self, Record};
use store::{Cond, Query, Tx, WriteOp};

use crate::{ChangeError, Changes, Held, built};

fn raced() -> ChangeError {
    ChangeError::Conflict("a component or config changed under the change request".into())
}

/// A tenant has at most this many components and configs that a backup records (and a restore
/// writes back, in one transaction with the change request's end).
const MAX_SNAPSHOT: usize = 80;

impl Changes {
    /// A catalogued backup of `tenant` (a tombstone or another tenant's is none).
    pub async fn backup(&self, tenant: &TenantId, id: &BackupId) -> Result<Option<Backup>, ChangeError> {
        match self.table.get(&layout::backup_key(tenant, id)).await? {
            Some(item) if !layout::is_tombstone(&item) => Ok(Some(Backup::from_item(item)?)),
            _ => Ok(None),
        }
    }

    /// What the tenant runs and is set to now: its component versions and configs.
    pub(crate) async fn snapshot(
        &self,
        tenant: &TenantId,
    ) -> Result<(BTreeMap<ComponentName, ComponentVersion>, BTreeMap<ConfigKey, TenantConfig>), ChangeError> {
        let partition = layout::tenant_partition(tenant);
        let live = |items: Vec<store::Item>| items.into_iter().filter(|i| !layout::is_tombstone(i));
        let q = Query::new(None, partition.clone()).prefix(layout::COMPONENT_PREFIX).limit(MAX_SNAPSHOT as u32);
        let components = live(self.table.query(&q).await?.items)
            .map(|i| ComponentVersion::from_item(i).map(|c| (c.name.clone(), c)))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        let q = Query::new(None, partition).prefix(layout::CONFIG_PREFIX).limit(MAX_SNAPSHOT as u32);
        let configs = live(self.table.query(&q).await?.items)
            .map(|i| TenantConfig::from_item(i).map(|c| (c.key.clone(), c)))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok((components, configs))
    }

    /// The catalog item of a `backup` that succeeded, from the backup its job reported. (The
    /// lifecycle's job step fails a backup job that reports none, so a backup that succeeds
    /// without one was finished by hand: it is logged, and there is nothing to catalogue.)
    pub(crate) async fn catalog_write(&self, held: &Held, ctx: &WriteContext) -> Result<Tx<ChangeError>, ChangeError> {
        let mut tx = Tx::new();
        if held.cr.operation != Operation::Backup {
            return Ok(tx);
        }
        let Some(reported) = built::reports(&held.cr)?.backup else {
            tracing::warn!(change_request = %held.cr.id, "a backup succeeded with no reported backup: nothing catalogued");
            return Ok(tx);
        };
        let (components, configs) = self.snapshot(&held.tenant.id).await?;
        let snapshot = TenantSnapshot {
            components: components.into_iter().map(|(name, c)| (name, c.version)).collect(),
            configs: configs.into_values().filter_map(|c| config_value(&c).map(|v| (c.key, v))).collect(),
        };
        let backup = Backup::catalogued(
            &held.tenant.id,
            &held.cr.id,
            &held.cr.requested_by,
            &reported,
            held.tenant.release.clone(),
            snapshot,
            ctx,
        );
        tx.put(&backup, Cond::NotExists, raced())?;
        Ok(tx)
    }

    /// The writes of a `restore` that succeeded: the backup's component versions and configs
    /// become the tenant's again (each conditional on the revision read), the configs it did not
    /// have are deleted; answers them with the backup's release, which the tenant takes.
    pub(crate) async fn restored_writes(
        &self,
        held: &Held,
        ctx: &WriteContext,
    ) -> Result<Option<(ReleaseVersion, Tx<ChangeError>)>, ChangeError> {
        let (Operation::Restore, Some(id)) = (held.cr.operation, &held.cr.params.backup_id) else { return Ok(None) };
        // Checked at create, and the API deletes no backup; a finish never fails on it, so that
        // the tenant is released whatever happened to the catalog.
        let Some(backup) = self.backup(&held.tenant.id, id).await? else {
            tracing::error!(change_request = %held.cr.id, backup = %id, "the restored backup is not in the catalog: the tenant's records stay as they are");
            return Ok(None);
        };
        let (components, configs) = self.snapshot(&held.tenant.id).await?;
        let mut tx = Tx::new();
        for (name, version) in &backup.components {
            let (stamp, cond) = match components.get(name) {
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
        let saved = backup.config_values();
        for (key, value) in &saved {
            self.config_write(&mut tx, held, key.clone(), value.clone(), ctx).await?;
        }
        for (key, current) in configs.iter().filter(|(k, _)| !saved.contains_key(*k)) {
            let mut deleted = current.clone();
            deleted.stamp = current.stamp.next(ctx);
            let item = deleted.tombstone(ctx.now.timestamp())?;
            tx.push(WriteOp::put(item, Cond::RevisionIs(current.stamp.revision)), raced());
            tracing::info!(tenant = %held.tenant.id, %key, backup = %id, "restore deletes a config the backup did not have");
        }
        Ok(Some((backup.release, tx)))
    }
}

fn config_value(c: &TenantConfig) -> Option<ConfigValue> {
    match (&c.value, &c.secret_ref) {
        (Some(v), None) => Some(ConfigValue::Plain(v.clone())),
        (None, Some(r)) => Some(ConfigValue::Secret(r.clone())),
        _ => None,
    }
}
