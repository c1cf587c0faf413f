//! What EventBridge does in AWS and moto does not: a schedule's rule firing, delivered to the
//! schedules handler as a `Scheduled Event` of the rule `admin-portal-schedule-<name>`
//! (`backup`, `validate`, `metering`, `licenses`).

use chrono::{DateTime, Utc};
use domain::schedule::Schedule;
use serde_json::{Value, json};

use crate::alarm_events::{ACCOUNT, REGION};

/// The event of `schedule`'s rule firing for `time`, as EventBridge delivers it.
pub fn scheduled_event(schedule: impl Into<Schedule>, time: DateTime<Utc>) -> Value {
    let schedule = schedule.into();
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string(),
        "detail-type": schedules::SCHEDULED_EVENT,
        "source": "aws.events",
        "account": ACCOUNT,
        "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/admin-portal-{}{schedule}", schedules::RULE_INFIX)],
        "detail": {}
    })
}

/// Delivers `event` to the schedules handler, as EventBridge would; answers its report.
pub async fn deliver(deps: &schedules::Deps, event: Value) -> anyhow::Result<Value> {
    let event: schedules::Event = serde_json::from_value(event)?;
    schedules::run(deps, event).await.map_err(|e| anyhow::anyhow!("{e}"))
}
