//! The checks of a change request's parameters that need the registry: the release an upgrade
//! goes to exists and is available; the backup a restore names is one of that tenant's. (What each operation takes is the domain's rule:
//! [`domain::ChangeParams::check_for`].)

use domain::{ChangeParams, Operation, ReleaseStatus, Tenant};

use crate::{ChangeError, Changes};

impl Changes {
    pub(crate) async fn check_params(
        &self,
        tenant: &Tenant,
        op: Operation,
        p: &ChangeParams,
    ) -> Result<(), ChangeError> {
        p.check_for(op)?;
        if let (Operation::Upgrade, Some(v)) = (op, &p.release) {
            if v == &tenant.release {
                return Err(ChangeError::invalid("params.release", format!("the tenant already runs {v}")));
            }
            let release = self
                .release(v)
                .await?
                .ok_or_else(|| ChangeError::invalid("params.release", format!("no release {v}")))?;
            if release.status != ReleaseStatus::Available {
                return Err(ChangeError::invalid("params.release", format!("release {v} is not available")));
            }
        }
        if let (Operation::Restore, Some(id)) = (op, &p.backup_id)
            && self.backup(&tenant.id, id).await?.is_none()
        {
            let message =
                format!("tenant {} has no backup {id} (GET /v1/tenants/{}/backups lists them)", tenant.id, tenant.id);
            return Err(ChangeError::invalid("params.backup_id", message));
        }
        Ok(())
    }
}
