//! The evidence a CloudWatch alarm leaves on the change request that marks its tenant broken:
//! which alarm, why, on what metric, when. Parsed at the edge (the alarm handler, or an admin's
//! request body) and kept on the change request's params, so it shows wherever the change
//! request does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;

/// The longest alarm name CloudWatch allows.
pub const MAX_ALARM_NAME: usize = 255;
/// The longest reason kept (CloudWatch's own reasons are at most 1,023 characters).
pub const MAX_REASON: usize = 1023;

/// What an alarm said when it changed state.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmEvidence {
    /// The alarm's name.
    pub alarm_name: String,
    /// The alarm's ARN, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_arn: Option<String>,
    /// `ALARM`, `OK` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// CloudWatch's reason for the state change.
    pub reason: String,
    /// The metric watched, `<namespace>/<name>` with its dimensions (`AWS/EC2/CPUUtilization
    /// InstanceId=i-0abc`), when the alarm watches one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// When the alarm changed state.
    pub at: DateTime<Utc>,
}

impl AlarmEvidence {
    /// Refuses a nameless alarm and over-long fields (named as under `params.alarm`).
    pub fn check(&self) -> Result<(), FieldError> {
        if self.alarm_name.trim().is_empty() || self.alarm_name.chars().count() > MAX_ALARM_NAME {
            return Err(FieldError::new(
                "params.alarm.alarm_name",
                format!("an alarm name of 1 to {MAX_ALARM_NAME} characters"),
            ));
        }
        if self.reason.chars().count() > MAX_REASON {
            return Err(FieldError::new("params.alarm.reason", format!("at most {MAX_REASON} characters")));
        }
        if !matches!(self.state.as_str(), "ALARM" | "OK" | "INSUFFICIENT_DATA") {
            return Err(FieldError::new("params.alarm.state", "ALARM, OK or INSUFFICIENT_DATA"));
        }
        Ok(())
    }

    /// The reason cut to [`MAX_REASON`] characters (an event's reason is never refused for its
    /// length: the evidence is kept, shortened).
    pub fn shorten_reason(reason: &str) -> String {
        reason.chars().take(MAX_REASON).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence() -> AlarmEvidence {
        AlarmEvidence {
            alarm_name: "portal-ten_1-app-health".into(),
            alarm_arn: None,
            state: "ALARM".into(),
            reason: "Threshold Crossed: 1 datapoint [0.0] was less than the threshold (1.0).".into(),
            metric: Some("AdminPortal/Tenants/AppHealth TenantId=ten_1".into()),
            at: Utc::now(),
        }
    }

    #[test]
    fn evidence_names_its_alarm_and_a_known_state() {
        assert!(evidence().check().is_ok());
        let nameless = AlarmEvidence { alarm_name: " ".into(), ..evidence() };
        assert_eq!(nameless.check().unwrap_err().field, "params.alarm.alarm_name");
        let odd = AlarmEvidence { state: "BROKEN".into(), ..evidence() };
        assert_eq!(odd.check().unwrap_err().field, "params.alarm.state");
        let long = AlarmEvidence { reason: "x".repeat(MAX_REASON + 1), ..evidence() };
        assert_eq!(long.check().unwrap_err().field, "params.alarm.reason");
        assert_eq!(AlarmEvidence::shorten_reason(&"é".repeat(2000)).chars().count(), MAX_REASON);
    }

    #[test]
    fn evidence_refuses_unknown_fields() {
        let mut v = serde_json::to_value(evidence()).unwrap();
        v["force"] = serde_json::json!(true);
        assert!(serde_json::from_value::<AlarmEvidence>(v).is_err());
    }
}
