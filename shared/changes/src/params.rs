//! The checks of a change request's parameters that need the registry: the release an upgrade
//! goes to exists and is available. (What each operation takes is the domain's rule:
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
        Ok(())
    }
}
