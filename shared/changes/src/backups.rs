//! The backup catalog in the change request's life: a job that makes a backup (a `backup`'s,
//! an upgrade's snapshot) has it catalogued as soon as it succeeds, with the tenant as it was
//! (release, component versions, configs); a `restore` may only name a catalogued backup of its
//! own tenant, and when it succeeds the tenant takes that backup's release, components and
//! configs back, in the finishing transaction.

use std::collections::BTreeMap;

use domain::{
    Backup, BackupId, ComponentName, ComponentVersion, ConfigKey, Operation, ReleaseVersion, ReportedBackup,
    TenantConfig, TenantId, WriteContext,
};
use store::layout::{self, Record};
use store::{Cond, Query, Tx};

use crate::{Caller, ChangeError, Changes, Held};

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

    /// The tenant's component versions as recorded now (one query).
    pub(crate) async fn components_of(
        &self,
        tenant: &TenantId,
    ) -> Result<BTreeMap<ComponentName, ComponentVersion>, ChangeError> {
        let q = Query::new(None, layout::tenant_partition(tenant))
            .prefix(layout::COMPONENT_PREFIX)
            .limit(MAX_SNAPSHOT as u32);
        self.table
            .query(&q)
            .await?
            .items
            .into_iter()
            .filter(|i| !layout::is_tombstone(i))
            .map(|i| ComponentVersion::from_item(i).map(|c| (c.name.clone(), c)).map_err(ChangeError::from))
            .collect()
    }

    /// What the tenant runs and is set to now: its component versions and configs (two queries).
    pub(crate) async fn snapshot(
        &self,
        tenant: &TenantId,
    ) -> Result<(BTreeMap<ComponentName, ComponentVersion>, BTreeMap<ConfigKey, TenantConfig>), ChangeError> {
        let components = self.components_of(tenant).await?;
        let q =
            Query::new(None, layout::tenant_partition(tenant)).prefix(layout::CONFIG_PREFIX).limit(MAX_SNAPSHOT as u32);
        let configs = self
            .table
            .query(&q)
            .await?
            .items
            .into_iter()
            .filter(|i| !layout::is_tombstone(i))
            .map(|i| TenantConfig::from_item(i).map(|c| (c.key.clone(), c)).map_err(ChangeError::from))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok((components, configs))
    }

    /// Catalogues the backup a job of the running change request `held` reported (a `backup`, or
    /// an upgrade's snapshot), with the tenant as it is recorded now: its release, component
    /// versions and configs (secrets as their references). Once only: a backup catalogued already
    /// is left as it is.
    pub async fn catalog_backup(
        &self,
        held: &Held,
        caller: &Caller,
        reported: &ReportedBackup,
    ) -> Result<BackupId, ChangeError> {
        let id = &held.cr.id;
        let ctx = caller.context(Some(id));
        let backup = Backup::catalogued(
            &held.tenant.id,
            &held.cr.id,
            &held.cr.requested_by,
            reported,
            held.tenant.release.clone(),
            self.recorded(held).await?,
            &ctx,
        );
        let mut tx = Tx::new();
        tx.put(&backup, Cond::NotExists, ChangeError::Duplicate)?;
        match tx.commit(self.table.as_ref()).await {
            Ok(()) => tracing::info!(change_request = %id, backup = %backup.id, "backup catalogued"),
            Err(ChangeError::Duplicate) => {
                tracing::info!(change_request = %id, backup = %backup.id, "backup catalogued already")
            }
            Err(e) => return Err(e),
        }
        Ok(backup.id)
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
        let tx = self.write_back(held, &backup.components, Some(&backup.config_values()), ctx).await?;
        Ok(Some((backup.release, tx)))
    }
}
