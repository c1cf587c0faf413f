//! The core's business metrics (`domain::emf`), written as it acts: a change request started,
//! how it ended and how long it and each of its steps took, a schedule's fan-out.

use chrono::{DateTime, Utc};
use domain::emf::MetricLine;
use domain::{ChangeRequestStatus, TenantChangeRequest};

use crate::Ending;

/// A change request's workflow started.
pub fn started(cr: &TenantChangeRequest, at: DateTime<Utc>) -> MetricLine {
    MetricLine::new(at).dimension("Operation", cr.operation.as_str()).count("ChangeRequestsStarted", 1.0)
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

/// A change request ended (`cr` as it was written then): one line for its outcome and
/// duration, one per step that ended for how long it took.
pub fn ended(cr: &TenantChangeRequest, ending: &Ending, at: DateTime<Utc>) -> Vec<MetricLine> {
    let outcome = match (ending, cr.status) {
        (Ending::RolledBack { .. }, _) => "ChangeRequestsRolledBack",
        (_, ChangeRequestStatus::Succeeded) => "ChangeRequestsSucceeded",
        (_, ChangeRequestStatus::Cancelled) => "ChangeRequestsCancelled",
        _ => "ChangeRequestsFailed",
    };
    let op = cr.operation.as_str();
    let mut lines = vec![
        MetricLine::new(at)
            .dimension("Operation", op)
            .count(outcome, 1.0)
            .seconds("ChangeRequestSeconds", seconds(cr.requested_at, at)),
    ];
    for step in &cr.steps {
        if let Some(end) = step.ended_at {
            let line = MetricLine::new(at).dimension("Operation", op).dimension("Step", step.name.clone());
            lines.push(line.seconds("StepSeconds", seconds(step.started_at, end)));
        }
    }
    lines
}

/// What a schedule's run created.
pub fn fanned_out(schedule: &str, created: usize, at: DateTime<Utc>) -> MetricLine {
    MetricLine::new(at).dimension("Schedule", schedule.to_owned()).count("FanOutCreated", created as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Actor, ChangeParams, Operation, StepStatus, TenantId, WriteContext};

    #[test]
    fn an_ended_change_request_says_its_outcome_and_each_steps_duration() {
        let ctx = WriteContext::api(Actor::system("test"));
        let mut cr = TenantChangeRequest::new(
            TenantId::generate(),
            Operation::Upgrade,
            ChangeParams::default(),
            ChangeRequestStatus::Running,
            &ctx,
        );
        let t0 = cr.requested_at;
        cr.record_step("jenkins upgrade-tenant", StepStatus::Running, None, None, t0);
        cr.record_step("jenkins upgrade-tenant", StepStatus::Failed, None, None, t0 + chrono::Duration::seconds(90));
        cr.status = ChangeRequestStatus::Failed;
        let at = t0 + chrono::Duration::seconds(120);
        let lines = ended(&cr, &Ending::RolledBack { error: "x".into() }, at);
        let first = lines[0].to_json();
        assert_eq!(
            (first["ChangeRequestsRolledBack"].as_f64(), first["ChangeRequestSeconds"].as_f64()),
            (Some(1.0), Some(120.0))
        );
        assert_eq!(first["Operation"], "upgrade");
        let step = lines[1].to_json();
        assert_eq!((step["Step"].as_str(), step["StepSeconds"].as_f64()), (Some("jenkins upgrade-tenant"), Some(90.0)));
        let failed = ended(&cr, &Ending::Failed { error: "x".into() }, at)[0].to_json();
        assert_eq!(failed["ChangeRequestsFailed"].as_f64(), Some(1.0));
        assert_eq!(started(&cr, at).to_json()["ChangeRequestsStarted"].as_f64(), Some(1.0));
        assert_eq!(fanned_out("backup", 12, at).to_json()["FanOutCreated"].as_f64(), Some(12.0));
    }
}
