//! A tenant's metrics as the portal reads them back from CloudWatch
//! (`GET /v1/tenants/{id}/metrics`): the catalog of what it reads (the metrics its standard
//! alarms watch, and its database's), the window a request asks for (checked, with defaults),
//! the queries that window makes over the tenant's resources, and the series it answers.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::alarms::{APP_HEALTH_METRIC, APP_NAMESPACE, TENANT_DIMENSION};
use crate::{FieldError, TenantId};

/// A metric the portal reads for a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantMetric {
    /// EC2 `CPUUtilization` (%, average) of each of its instances.
    Cpu,
    /// EC2 `StatusCheckFailed` (0/1, maximum) of each of its instances.
    StatusCheckFailed,
    /// The CloudWatch agent's `disk_used_percent` of `/` (%, maximum) on each of its instances.
    DiskUsedPercent,
    /// RDS `CPUUtilization` (%, average) of each of its databases.
    DbCpu,
    /// RDS `FreeStorageSpace` (bytes, minimum) of each of its databases.
    DbFreeStorage,
    /// The app's health (1 while its health endpoint answers, minimum).
    AppHealth,
}

/// What a metric is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasuredOn {
    Instance,
    Database,
    Tenant,
}

impl TenantMetric {
    pub const ALL: [TenantMetric; 6] =
        [Self::Cpu, Self::StatusCheckFailed, Self::DiskUsedPercent, Self::DbCpu, Self::DbFreeStorage, Self::AppHealth];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::StatusCheckFailed => "status_check_failed",
            Self::DiskUsedPercent => "disk_used_percent",
            Self::DbCpu => "db_cpu",
            Self::DbFreeStorage => "db_free_storage",
            Self::AppHealth => "app_health",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn measured_on(self) -> MeasuredOn {
        match self {
            Self::Cpu | Self::StatusCheckFailed | Self::DiskUsedPercent => MeasuredOn::Instance,
            Self::DbCpu | Self::DbFreeStorage => MeasuredOn::Database,
            Self::AppHealth => MeasuredOn::Tenant,
        }
    }

    /// (namespace, metric name, statistic).
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Cpu => ("AWS/EC2", "CPUUtilization", "Average"),
            Self::StatusCheckFailed => ("AWS/EC2", "StatusCheckFailed", "Maximum"),
            Self::DiskUsedPercent => ("CWAgent", "disk_used_percent", "Maximum"),
            Self::DbCpu => ("AWS/RDS", "CPUUtilization", "Average"),
            Self::DbFreeStorage => ("AWS/RDS", "FreeStorageSpace", "Minimum"),
            Self::AppHealth => (APP_NAMESPACE, APP_HEALTH_METRIC, "Minimum"),
        }
    }

    /// The pattern of `names=`: metric names, comma-separated.
    pub fn list_pattern() -> String {
        let one = Self::ALL.map(Self::as_str).join("|");
        format!("^({one})(,({one}))*$")
    }
}

/// One CloudWatch metric query (a `MetricStat` of `GetMetricData`).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    /// `m0`, `m1`…: how the answer names it.
    pub id: String,
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
    pub statistic: String,
}

/// The time a request reads: `from` to `to`, one point per `period_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub period_seconds: u32,
}

/// The default window: the last 3 hours.
pub const DEFAULT_SPAN_HOURS: i64 = 3;
/// The default period: 5 minutes.
pub const DEFAULT_PERIOD_SECONDS: u32 = 300;
/// At most this many points a series (a day at one a minute).
pub const MAX_POINTS: i64 = 1440;
/// The period's bounds (CloudWatch keeps 1-minute points 15 days; a day is its coarsest useful step).
pub const MIN_PERIOD_SECONDS: u32 = 60;
pub const MAX_PERIOD_SECONDS: u32 = 86_400;
/// How far back a window may start (CloudWatch keeps 5-minute points 63 days, hourly 455).
pub const MAX_AGE_DAYS: i64 = 455;
/// At most this many resources of each kind are read (a query each per metric).
pub const MAX_RESOURCES: usize = 20;

impl MetricWindow {
    /// The window of `from`, `to` (RFC 3339) and `period` (seconds, a multiple of 60) as a
    /// request gives them, with the defaults (the 3 hours before `to`, `to` now, 5 minutes);
    /// refused, naming the parameter, when `from` is not before `to`, `to` is in the future,
    /// the window starts too long ago or holds more than [`MAX_POINTS`] periods.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        period: Option<u32>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldError> {
        let instant = |field: &str, raw: Option<&str>| {
            raw.map(|s| {
                DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).map_err(|_| {
                    FieldError::new(field, format!("`{field}` must be an RFC 3339 time such as 2026-11-30T06:00:00Z"))
                })
            })
            .transpose()
        };
        let to = instant("to", to)?.unwrap_or(now);
        let from = instant("from", from)?.unwrap_or(to - Duration::hours(DEFAULT_SPAN_HOURS));
        let period_seconds = period.unwrap_or(DEFAULT_PERIOD_SECONDS);
        if !(MIN_PERIOD_SECONDS..=MAX_PERIOD_SECONDS).contains(&period_seconds) || !period_seconds.is_multiple_of(60) {
            return Err(FieldError::new("period", "`period` is seconds, a multiple of 60 from 60 to 86400"));
        }
        if from >= to {
            return Err(FieldError::new("from", format!("`from` ({from}) must be before `to` ({to})")));
        }
        if to > now + Duration::minutes(5) {
            return Err(FieldError::new("to", format!("`to` ({to}) is in the future")));
        }
        if from < now - Duration::days(MAX_AGE_DAYS) {
            return Err(FieldError::new("from", format!("`from` is more than {MAX_AGE_DAYS} days ago")));
        }
        let points = (to - from).num_seconds() / i64::from(period_seconds);
        if points > MAX_POINTS {
            return Err(FieldError::new(
                "period",
                format!("{points} points a series: at most {MAX_POINTS} (a longer `period`, or a shorter window)"),
            ));
        }
        Ok(Self { from, to, period_seconds })
    }
}

/// The metrics `names=` asks for (every one when it is absent), each once, in catalog order.
pub fn parse_names(raw: Option<&str>) -> Result<Vec<TenantMetric>, FieldError> {
    let Some(raw) = raw else { return Ok(TenantMetric::ALL.to_vec()) };
    let mut names: Vec<TenantMetric> = raw
        .split(',')
        .map(|n| {
            TenantMetric::parse(n).ok_or_else(|| {
                let known = TenantMetric::ALL.map(TenantMetric::as_str).join(", ");
                FieldError::new("names", format!("no metric {n:?} (known: {known})"))
            })
        })
        .collect::<Result<_, _>>()?;
    names.sort();
    names.dedup();
    Ok(names)
}

/// What one query reads: a metric of one of the tenant's resources.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedSeries {
    pub metric: TenantMetric,
    /// The instance id, the database identifier, or the tenant id.
    pub resource: String,
    pub query: MetricQuery,
}

/// The queries of `names` over the tenant's instances and databases (at most
/// [`MAX_RESOURCES`] of each), one per metric and resource.
pub fn plan_series(
    tenant: &TenantId,
    names: &[TenantMetric],
    instances: &[String],
    databases: &[String],
) -> Vec<PlannedSeries> {
    let mut planned = Vec::new();
    for &metric in names {
        let (namespace, name, statistic) = metric.source();
        let on: Vec<(String, Vec<(String, String)>)> = match metric.measured_on() {
            MeasuredOn::Instance => instances
                .iter()
                .take(MAX_RESOURCES)
                .map(|i| {
                    let mut dims = vec![("InstanceId".to_owned(), i.clone())];
                    if metric == TenantMetric::DiskUsedPercent {
                        dims.push(("path".to_owned(), "/".to_owned()));
                    }
                    (i.clone(), dims)
                })
                .collect(),
            MeasuredOn::Database => databases
                .iter()
                .take(MAX_RESOURCES)
                .map(|d| (d.clone(), vec![("DBInstanceIdentifier".to_owned(), d.clone())]))
                .collect(),
            MeasuredOn::Tenant => vec![(tenant.to_string(), vec![(TENANT_DIMENSION.to_owned(), tenant.to_string())])],
        };
        for (resource, dimensions) in on {
            let id = format!("m{}", planned.len());
            let query = MetricQuery {
                id,
                namespace: namespace.to_owned(),
                metric: name.to_owned(),
                dimensions,
                statistic: statistic.to_owned(),
            };
            planned.push(PlannedSeries { metric, resource, query });
        }
    }
    planned
}

/// One point of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// A metric of one resource over the window, oldest point first (a period without data has no
/// point).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricSeries {
    pub metric: TenantMetric,
    /// The instance id, the database identifier, or the tenant id.
    pub resource: String,
    /// The CloudWatch namespace, metric name and statistic it reads.
    pub namespace: String,
    pub metric_name: String,
    pub statistic: String,
    #[schema(max_items = 1440)]
    pub points: Vec<MetricPoint>,
}

/// What `GET /v1/tenants/{id}/metrics` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantMetrics {
    pub tenant_id: TenantId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub period_seconds: u32,
    pub series: Vec<MetricSeries>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-03T12:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn a_window_has_defaults_and_refuses_what_cloudwatch_could_not_answer_well() {
        let w = MetricWindow::parse(None, None, None, now()).unwrap();
        assert_eq!((w.to, (w.to - w.from).num_hours(), w.period_seconds), (now(), 3, 300));
        let field = |from: Option<&str>, to: Option<&str>, period: Option<u32>| {
            MetricWindow::parse(from, to, period, now()).unwrap_err().field
        };
        assert_eq!(field(Some("yesterday"), None, None), "from");
        assert_eq!(field(None, None, Some(90)), "period");
        assert_eq!(field(None, None, Some(30)), "period");
        assert_eq!(field(Some("2026-12-03T12:00:00Z"), Some("2026-12-03T11:00:00Z"), None), "from");
        assert_eq!(field(None, Some("2026-12-04T12:00:00Z"), None), "to");
        assert_eq!(field(Some("2026-11-01T00:00:00Z"), None, Some(60)), "period", "too many points");
        assert!(MetricWindow::parse(Some("2026-11-01T00:00:00Z"), None, Some(3600), now()).is_ok());
    }

    #[test]
    fn names_are_the_catalogs_each_once_and_every_one_by_default() {
        assert_eq!(parse_names(None).unwrap(), TenantMetric::ALL);
        assert_eq!(parse_names(Some("app_health,cpu,cpu")).unwrap(), [TenantMetric::Cpu, TenantMetric::AppHealth]);
        assert_eq!(parse_names(Some("cpu,load")).unwrap_err().field, "names");
        let pattern = TenantMetric::list_pattern();
        assert!(pattern.starts_with("^(cpu|status_check_failed|"), "{pattern}");
    }

    #[test]
    fn each_metric_is_read_on_each_of_its_resources() {
        let t = TenantId::generate();
        let planned = plan_series(
            &t,
            &[TenantMetric::Cpu, TenantMetric::DiskUsedPercent, TenantMetric::DbFreeStorage, TenantMetric::AppHealth],
            &["i-1".into(), "i-2".into()],
            &["acme-db".into()],
        );
        let what: Vec<(TenantMetric, &str, &str)> =
            planned.iter().map(|p| (p.metric, p.resource.as_str(), p.query.id.as_str())).collect();
        assert_eq!(
            what,
            [
                (TenantMetric::Cpu, "i-1", "m0"),
                (TenantMetric::Cpu, "i-2", "m1"),
                (TenantMetric::DiskUsedPercent, "i-1", "m2"),
                (TenantMetric::DiskUsedPercent, "i-2", "m3"),
                (TenantMetric::DbFreeStorage, "acme-db", "m4"),
                (TenantMetric::AppHealth, t.as_str(), "m5"),
            ]
        );
        assert_eq!(planned[2].query.dimensions, [("InstanceId".into(), "i-1".into()), ("path".into(), "/".into())]);
        assert_eq!((planned[4].query.namespace.as_str(), planned[4].query.statistic.as_str()), ("AWS/RDS", "Minimum"));
        assert_eq!(planned[5].query.dimensions, [("TenantId".into(), t.to_string())]);
    }
}
