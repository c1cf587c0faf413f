//! What CloudWatch and EventBridge do in AWS and moto does not: an alarm changing state, and
//! the `CloudWatch Alarm State Change` event delivered to the alarm handler. Locally (`make
//! alarm`, the tests) the alarm is the tenant's standard health alarm, shaped as AWS shapes it.

use chrono::Utc;
use domain::TenantId;
use domain::alarms::{APP_HEALTH_METRIC, APP_NAMESPACE, StandardAlarm, TENANT_DIMENSION};
use serde_json::{Value, json};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The state change of `tenant`'s standard health alarm to `state` (`ALARM`, `OK`), as
/// EventBridge delivers it.
pub fn health_alarm_event(tenant: &TenantId, state: &str) -> Value {
    let name = StandardAlarm::AppHealth.name(tenant);
    let now = Utc::now();
    let (previous, reason) = match state {
        "ALARM" => (
            "OK",
            "Threshold Crossed: 3 out of the last 3 datapoints [0.0] were less than the threshold (1.0) (minimum 3 datapoints for OK -> ALARM transition).",
        ),
        _ => (
            "ALARM",
            "Threshold Crossed: 1 out of the last 3 datapoints [1.0] was not less than the threshold (1.0) (minimum 1 datapoint for ALARM -> OK transition).",
        ),
    };
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": alarms::ALARM_STATE_CHANGE,
        "source": "aws.cloudwatch",
        "account": ACCOUNT,
        "time": now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}")],
        "detail": {
            "alarmName": name,
            "state": {
                "value": state,
                "reason": reason,
                "timestamp": now.format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
            },
            "previousState": {
                "value": previous,
                "reason": "Threshold Crossed",
                "timestamp": (now - chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%S%.3f%z").to_string(),
            },
            "configuration": {
                "description": "The app's health endpoint does not answer",
                "metrics": [{
                    "id": "health",
                    "metricStat": {
                        "metric": {
                            "namespace": APP_NAMESPACE,
                            "name": APP_HEALTH_METRIC,
                            "dimensions": { TENANT_DIMENSION: tenant.as_str() },
                        },
                        "period": 60,
                        "stat": "Minimum",
                    },
                    "returnData": true,
                }],
            },
        },
    })
}

/// Delivers `event` to the alarm handler, as EventBridge would; answers what it did.
pub async fn deliver(deps: &alarms::Deps, event: Value) -> anyhow::Result<Value> {
    let event: alarms::Event = serde_json::from_value(event)?;
    alarms::run(deps, event).await.map_err(|e| anyhow::anyhow!("{e}"))
}
