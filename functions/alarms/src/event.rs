//! A `CloudWatch Alarm State Change` event as EventBridge delivers it, and what the handler
//! reads from it: the evidence, and the ARNs and tenant ids it may name.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::alarms::{TENANT_DIMENSION, tenant_of_alarm};
use domain::{AlarmEvidence, Arn, TenantId};
use serde::Deserialize;
use serde_json::Value;

/// The detail type of an alarm's state change.
pub const ALARM_STATE_CHANGE: &str = "CloudWatch Alarm State Change";

/// An EventBridge event, as far as the handler reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    /// The alarm's ARN.
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub detail: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmDetail {
    pub alarm_name: String,
    pub state: AlarmState,
    #[serde(default)]
    pub previous_state: Option<AlarmState>,
    #[serde(default)]
    pub configuration: Configuration,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AlarmState {
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub value: String,
    #[serde(default)]
    pub reason: String,
    /// CloudWatch writes `2026-12-01T03:00:00.123+0000`.
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Configuration {
    #[serde(default)]
    pub metrics: Vec<MetricQuery>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricQuery {
    #[serde(default)]
    pub metric_stat: Option<MetricStat>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetricStat {
    pub metric: Metric,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metric {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
}

impl AlarmState {
    /// When the alarm changed state: its own timestamp, else the event's time.
    pub fn at(&self, event_time: Option<DateTime<Utc>>) -> DateTime<Utc> {
        self.timestamp
            .as_deref()
            .and_then(|t| {
                DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z").or_else(|_| DateTime::parse_from_rfc3339(t)).ok()
            })
            .map(|t| t.with_timezone(&Utc))
            .or(event_time)
            .unwrap_or_else(Utc::now)
    }
}

impl AlarmDetail {
    fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.configuration.metrics.iter().filter_map(|m| m.metric_stat.as_ref().map(|s| &s.metric))
    }

    /// The evidence for the change request: name, ARN, state, reason, metric, time.
    pub fn evidence(&self, event: &Event) -> AlarmEvidence {
        let metric = self.metrics().next().map(|m| {
            let dims: Vec<String> = m.dimensions.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let metric = format!("{}/{}", m.namespace, m.name);
            if dims.is_empty() { metric } else { format!("{metric} {}", dims.join(",")) }
        });
        AlarmEvidence {
            alarm_name: self.alarm_name.clone(),
            alarm_arn: event.resources.first().cloned(),
            state: self.state.value.clone(),
            reason: AlarmEvidence::shorten_reason(&self.state.reason),
            metric,
            at: self.state.at(event.time),
        }
    }

    /// The tenants the alarm names itself: a standard alarm's name, or a `TenantId` dimension.
    pub fn named_tenants(&self) -> Vec<TenantId> {
        let by_name = tenant_of_alarm(&self.alarm_name);
        let by_dimension = self.metrics().filter_map(|m| TenantId::parse(m.dimensions.get(TENANT_DIMENSION)?).ok());
        by_name.into_iter().chain(by_dimension).collect()
    }

    /// The ARNs of what the alarm watches: the alarm itself, and the resources its metrics'
    /// dimensions name (an EC2 instance, an RDS instance or cluster, a load balancer).
    pub fn arns(&self, event: &Event) -> Vec<Arn> {
        let (region, account) = (&event.region, &event.account);
        let mut arns: Vec<String> = event.resources.clone();
        for m in self.metrics() {
            for (dim, value) in &m.dimensions {
                let arn = match dim.as_str() {
                    "InstanceId" => format!("arn:aws:ec2:{region}:{account}:instance/{value}"),
                    "DBInstanceIdentifier" => format!("arn:aws:rds:{region}:{account}:db:{value}"),
                    "DBClusterIdentifier" => format!("arn:aws:rds:{region}:{account}:cluster:{value}"),
                    "LoadBalancer" => format!("arn:aws:elasticloadbalancing:{region}:{account}:loadbalancer/{value}"),
                    _ => continue,
                };
                arns.push(arn);
            }
        }
        let mut parsed: Vec<Arn> = arns.iter().filter_map(|a| Arn::parse(a).ok()).collect();
        parsed.dedup();
        parsed
    }
}
