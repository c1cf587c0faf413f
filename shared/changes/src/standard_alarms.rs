//! The tenant's standard CloudWatch alarms ([`domain::alarms::StandardAlarm`]): a provision
//! creates them when it succeeds (on the instance its job built, and the app's health metric),
//! and they are recorded as the tenant's resources in the same transaction as the rest of what
//! it built; a terminate that succeeds deletes them. Best effort: CloudWatch not answering is
//! logged and never fails the change request (the tenant's own work did not fail).

use domain::alarms::StandardAlarm;
use domain::{Arn, Name, ReportedResource, TenantId};

use crate::Changes;

impl Changes {
    /// Puts the standard alarms on `tenant` (its EC2 instance `instance`, if any); answers those
    /// created as resources to record.
    pub(crate) async fn put_standard_alarms(&self, tenant: &TenantId, instance: Option<&str>) -> Vec<ReportedResource> {
        let mut created = Vec::new();
        for spec in StandardAlarm::ALL.iter().filter_map(|a| a.spec(tenant, instance)) {
            match self.alarms.put_alarm(&spec).await {
                Ok(arn) => match Arn::parse(&arn) {
                    Ok(arn) => created.push(ReportedResource { arn, name: Name::parse(&spec.name).ok() }),
                    Err(e) => {
                        tracing::warn!(alarm = %spec.name, %arn, error = %e.message, "an alarm ARN that does not parse")
                    }
                },
                Err(e) => {
                    tracing::warn!(tenant = %tenant, alarm = %spec.name, error = %e, "a standard alarm was not created")
                }
            }
        }
        created
    }

    /// Deletes the standard alarms of `tenant`.
    pub(crate) async fn delete_standard_alarms(&self, tenant: &TenantId) {
        let names: Vec<String> = StandardAlarm::ALL.iter().map(|a| a.name(tenant)).collect();
        if let Err(e) = self.alarms.delete_alarms(&names).await {
            tracing::warn!(tenant = %tenant, error = %e, "the standard alarms were not deleted");
        }
    }
}
