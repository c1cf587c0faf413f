//! The tenant's standard CloudWatch alarms: their names (`portal-<tenant id>-<kind>`), which
//! say whose they are, and the app's own health metric. The alarm handler reads a tenant from
//! an alarm's name with [`tenant_of_alarm`]; what creates the alarms names them with
//! [`StandardAlarm::name`].

use crate::TenantId;

/// The prefix of every standard alarm's name.
pub const ALARM_PREFIX: &str = "portal-";
/// The namespace of the app's custom metrics, each with a `TenantId` dimension.
pub const APP_NAMESPACE: &str = "AdminPortal/Tenant";
/// The app's health metric: 1 while its health endpoint answers, 0 when it does not.
pub const APP_HEALTH_METRIC: &str = "AppHealth";
/// The dimension naming the tenant on the app's metrics.
pub const TENANT_DIMENSION: &str = "TenantId";

/// The alarms every tenant gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandardAlarm {
    /// EC2 `StatusCheckFailed` of the tenant's instance.
    StatusCheck,
    /// EC2 `CPUUtilization` of the tenant's instance.
    Cpu,
    /// The CloudWatch agent's `disk_used_percent` on the tenant's instance.
    Disk,
    /// The app's [`APP_HEALTH_METRIC`].
    AppHealth,
}

impl StandardAlarm {
    pub const ALL: [StandardAlarm; 4] = [Self::StatusCheck, Self::Cpu, Self::Disk, Self::AppHealth];

    pub fn kind(self) -> &'static str {
        match self {
            Self::StatusCheck => "status-check",
            Self::Cpu => "cpu",
            Self::Disk => "disk",
            Self::AppHealth => "app-health",
        }
    }

    /// `portal-<tenant id>-<kind>`.
    pub fn name(self, tenant: &TenantId) -> String {
        format!("{ALARM_PREFIX}{tenant}-{}", self.kind())
    }
}

/// The tenant a standard alarm's name names, if it is one.
pub fn tenant_of_alarm(alarm_name: &str) -> Option<TenantId> {
    let rest = alarm_name.strip_prefix(ALARM_PREFIX)?;
    let (id, kind) = rest.split_once('-')?;
    StandardAlarm::ALL.iter().any(|a| a.kind() == kind).then_some(())?;
    TenantId::parse(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standard_alarm_names_its_tenant_and_nothing_else_does() {
        let t = TenantId::generate();
        for a in StandardAlarm::ALL {
            assert_eq!(tenant_of_alarm(&a.name(&t)), Some(t.clone()), "{a:?}");
        }
        assert_eq!(tenant_of_alarm(&format!("portal-{t}-coffee")), None);
        assert_eq!(tenant_of_alarm("portal-ten_nope-cpu"), None);
        assert_eq!(tenant_of_alarm("HighCPU"), None);
        assert_eq!(tenant_of_alarm(&format!("{t}-cpu")), None);
    }
}
