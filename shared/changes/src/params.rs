//! The checks of a change request's parameters that need the registry: the release an upgrade
//! goes to exists, is available and is newer than the tenant's (unless the request allows going
//! back), and its plan is worked out from the tenant's components and the release's manifest;
//! the backup a restore names is one of that tenant's; the customer's active licenses cover the
//! release an upgrade goes to; the assignment an `activate_license` installs is active and the
//! tenant's customer's; an `adopt_drift` has drift to adopt. (What each operation takes is the
//! domain's rule: [`domain::ChangeParams::check_for`].)

use domain::{ChangeModel, ChangeParams, Operation, ReleaseStatus, Tenant, UpgradePlan};

use crate::{ChangeError, Changes};

impl Changes {
    /// Checks `p` for `op` on `tenant`; answers the plan of an upgrade.
    pub(crate) async fn check_params(
        &self,
        tenant: &Tenant,
        op: Operation,
        model: Option<ChangeModel>,
        p: &ChangeParams,
    ) -> Result<Option<UpgradePlan>, ChangeError> {
        p.check_for(op)?;
        if let (Operation::Restore, Some(id)) = (op, &p.backup_id)
            && self.backup(&tenant.id, id).await?.is_none()
        {
            let message =
                format!("tenant {} has no backup {id} (GET /v1/tenants/{}/backups lists them)", tenant.id, tenant.id);
            return Err(ChangeError::invalid("params.backup_id", message));
        }
        if let (Operation::ActivateLicense, Some(id)) = (op, &p.assignment_id) {
            let a = self.active_assignment(id).await?;
            if a.customer_id != tenant.customer_id {
                return Err(ChangeError::invalid(
                    "params.assignment_id",
                    format!("license assignment {id} is customer {}'s, not the tenant's", a.customer_id),
                ));
            }
        }
        if op == Operation::AdoptDrift {
            self.check_adoptable(&tenant.id).await?;
        }
        let (Operation::Upgrade, Some(v)) = (op, &p.release) else { return Ok(None) };
        if v == &tenant.release {
            return Err(ChangeError::invalid("params.release", format!("the tenant already runs {v}")));
        }
        if v < &tenant.release && p.allow_downgrade != Some(true) {
            return Err(ChangeError::invalid(
                "params.release",
                format!(
                    "{v} is older than the tenant's {}: a downgrade needs \"allow_downgrade\": true",
                    tenant.release
                ),
            ));
        }
        let release =
            self.release(v).await?.ok_or_else(|| ChangeError::invalid("params.release", format!("no release {v}")))?;
        if release.status != ReleaseStatus::Available {
            return Err(ChangeError::invalid(
                "params.release",
                format!("release {v} is {}; only an available release can be installed", release.status),
            ));
        }
        self.check_license_covers(tenant, v).await?;
        let components = self.components_of(&tenant.id).await?;
        let current = components.into_iter().map(|(name, c)| (name, c.version)).collect();
        Ok(Some(UpgradePlan::new(&tenant.release, v, &current, &release.components, p.takes_snapshot(model))))
    }
}
