//! The tenant's standard CloudWatch alarms: their names (`portal-<tenant id>-<kind>`), which
//! say whose they are, what each watches ([`StandardAlarm::spec`]), and the app's own health
//! metric. The alarm handler reads a tenant from an alarm's name with [`tenant_of_alarm`]; a
//! provision creates them (`PutMetricAlarm`) and a terminate deletes them.

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

/// How an alarm compares its metric to its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThan,
    LessThan,
}

/// A CloudWatch metric alarm, as `PutMetricAlarm` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub description: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
    pub period_seconds: i32,
    pub evaluation_periods: i32,
    pub threshold: f64,
    pub comparison: Comparison,
    /// Missing data counts as breaching (an app that stops reporting its health is unhealthy).
    pub missing_is_breaching: bool,
}

impl StandardAlarm {
    /// The alarm on `tenant`, on its EC2 instance when it has one: `None` for an instance
    /// alarm of a tenant without an instance.
    pub fn spec(self, tenant: &TenantId, instance_id: Option<&str>) -> Option<AlarmSpec> {
        let instance = || instance_id.map(|i| vec![("InstanceId".to_owned(), i.to_owned())]);
        let (namespace, metric, dimensions, statistic, period, periods, threshold, comparison, what) = match self {
            Self::StatusCheck => (
                "AWS/EC2",
                "StatusCheckFailed",
                instance()?,
                "Maximum",
                60,
                2,
                0.0,
                Comparison::GreaterThan,
                "its instance fails its status checks",
            ),
            Self::Cpu => (
                "AWS/EC2",
                "CPUUtilization",
                instance()?,
                "Average",
                300,
                3,
                90.0,
                Comparison::GreaterThan,
                "its instance's CPU is above 90% for 15 minutes",
            ),
            Self::Disk => {
                let mut dims = instance()?;
                dims.push(("path".to_owned(), "/".to_owned()));
                (
                    "CWAgent",
                    "disk_used_percent",
                    dims,
                    "Maximum",
                    300,
                    2,
                    90.0,
                    Comparison::GreaterThan,
                    "its instance's root disk is more than 90% full",
                )
            }
            Self::AppHealth => (
                APP_NAMESPACE,
                APP_HEALTH_METRIC,
                vec![(TENANT_DIMENSION.to_owned(), tenant.to_string())],
                "Minimum",
                60,
                3,
                1.0,
                Comparison::LessThan,
                "the app's health endpoint does not answer for 3 minutes",
            ),
        };
        Some(AlarmSpec {
            name: self.name(tenant),
            description: format!("Tenant {tenant}: {what}"),
            namespace: namespace.to_owned(),
            metric: metric.to_owned(),
            dimensions,
            statistic: statistic.to_owned(),
            period_seconds: period,
            evaluation_periods: periods,
            threshold,
            comparison,
            missing_is_breaching: self == Self::AppHealth,
        })
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

    #[test]
    fn a_tenant_without_an_instance_gets_only_its_app_health_alarm() {
        let t = TenantId::generate();
        let without: Vec<_> = StandardAlarm::ALL.iter().filter_map(|a| a.spec(&t, None)).collect();
        assert_eq!(without.len(), 1);
        assert_eq!(without[0].dimensions, [(TENANT_DIMENSION.to_owned(), t.to_string())]);
        assert!(without[0].missing_is_breaching && without[0].comparison == Comparison::LessThan);
        let with: Vec<_> = StandardAlarm::ALL.iter().filter_map(|a| a.spec(&t, Some("i-0abc"))).collect();
        assert_eq!(with.len(), 4);
        assert!(with.iter().all(|a| tenant_of_alarm(&a.name) == Some(t.clone())));
        assert!(with[..3].iter().all(|a| a.dimensions[0] == ("InstanceId".to_owned(), "i-0abc".to_owned())));
    }
}
