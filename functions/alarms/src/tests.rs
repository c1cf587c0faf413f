//! The handler over the in-memory fakes, with the events as EventBridge delivers them.

use std::sync::Arc;

use changes::Caller;
use domain::alarms::StandardAlarm;
use domain::{
    Actor, Arn, ChangeRequestId, ChangeRequestStatus, CustomerId, ResourceId, Role, Stamp, Tenant, TenantAwsResource,
    TenantCreate, TenantState,
};
use engine::workflows::MemoryWorkflows;
use engine::{MemoryCommands, MemoryJenkins};
use lambda_runtime::Context;
use store::layout::{self, Record};
use store::memory::MemoryTable;

use super::*;

struct World {
    workflows: Arc<MemoryWorkflows>,
    deps: Deps,
}

fn world() -> World {
    let workflows = Arc::new(MemoryWorkflows::new());
    let changes = Changes {
        table: Arc::new(MemoryTable::new()),
        workflows: workflows.clone(),
        jenkins: Arc::new(MemoryJenkins::new()),
        remote: Arc::new(MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    };
    World { workflows, deps: Deps { changes } }
}

fn admin() -> Caller {
    Caller::person(Actor { sub: "alice".into(), email: None }, Role::Admin)
}

impl World {
    /// A tenant resting in `state`, held by nothing.
    async fn tenant(&self, state: TenantState) -> Tenant {
        let name = format!("t-{}", TenantId::generate().as_str()[4..].to_lowercase());
        let cmd: TenantCreate =
            serde_json::from_value(json!({"customer_id": CustomerId::generate(), "name": name, "release": "3.1.0"}))
                .unwrap();
        let (mut t, _) = Tenant::create(cmd, &admin().context(None));
        t.state = state;
        t.active_change_request_id = None;
        self.deps.changes.table.batch_put(vec![t.to_item().unwrap()]).await.unwrap();
        t
    }

    /// An EC2 instance registered as used by `tenants`.
    async fn instance(&self, instance_id: &str, tenants: &[&Tenant]) {
        let arn = Arn::parse(&format!("arn:aws:ec2:us-east-1:123456789012:instance/{instance_id}")).unwrap();
        let r = TenantAwsResource {
            id: ResourceId::generate(),
            service: "ec2".into(),
            arn: arn.clone(),
            name: None,
            description: None,
            tenant_ids: tenants.iter().map(|t| t.id.clone()).collect(),
            stamp: Stamp::first(&admin().context(None)),
        };
        let guard = layout::guard_item(layout::arn_guard(&arn), r.id.as_str());
        self.deps.changes.table.batch_put(vec![r.to_item().unwrap(), guard]).await.unwrap();
    }

    async fn call(&self, event: Value) -> Result<Value, AlarmError> {
        handle(&self.deps, LambdaEvent::new(event, Context::default())).await
    }

    async fn now(&self, t: &Tenant) -> Tenant {
        self.deps.changes.tenant(&t.id).await.unwrap()
    }
}

/// An alarm state change as EventBridge delivers it (the shape of AWS's sample event).
fn alarm_event(name: &str, state: &str, dimensions: Value, at: &str) -> Value {
    json!({
        "version": "0", "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92", "detail-type": ALARM_STATE_CHANGE,
        "source": "aws.cloudwatch", "account": "123456789012", "time": "2026-12-01T03:00:00Z",
        "region": "us-east-1", "resources": [format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}")],
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed: 1 out of the last 1 datapoints [97.5 (01/12/26 02:59:00)] was greater than the threshold (90.0).", "timestamp": at},
            "previousState": {"value": "OK", "reason": "Threshold Crossed", "timestamp": "2026-11-30T10:00:00.000+0000"},
            "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                "metric": {"namespace": "AWS/EC2", "name": "CPUUtilization", "dimensions": dimensions},
                "period": 60, "stat": "Average"}}]}
        }
    })
}

const AT: &str = "2026-12-01T02:59:30.123+0000";

#[tokio::test]
async fn an_alarm_on_a_healthy_tenants_instance_marks_it_broken_with_the_evidence() {
    let w = world();
    let t = w.tenant(TenantState::Healthy).await;
    let bystander = w.tenant(TenantState::Healthy).await;
    w.instance("i-0abc", &[&t]).await;
    let answer = w.call(alarm_event("HighCPU", "ALARM", json!({"InstanceId": "i-0abc"}), AT)).await.unwrap();
    let outcome = &answer["tenants"][0];
    assert_eq!((outcome["result"].as_str(), answer["tenants"].as_array().unwrap().len()), (Some("broken"), 1));
    let id = ChangeRequestId::parse(outcome["change_request_id"].as_str().unwrap()).unwrap();
    let cr = w.deps.changes.change_request(&id).await.unwrap();
    assert_eq!((cr.operation, cr.status), (Operation::MarkBroken, ChangeRequestStatus::Running));
    assert_eq!(cr.stamp.updated_by, "system:alarm:HighCPU");
    assert_eq!(cr.stamp.source, Source::Alarm);
    let evidence = cr.params.alarm.expect("the evidence");
    assert_eq!(evidence.alarm_name, "HighCPU");
    assert_eq!(evidence.state, "ALARM");
    assert!(evidence.reason.starts_with("Threshold Crossed"), "{}", evidence.reason);
    assert_eq!(evidence.metric.as_deref(), Some("AWS/EC2/CPUUtilization InstanceId=i-0abc"));
    assert_eq!(evidence.at.to_rfc3339(), "2026-12-01T02:59:30.123+00:00");
    assert_eq!(evidence.alarm_arn.as_deref(), Some("arn:aws:cloudwatch:us-east-1:123456789012:alarm:HighCPU"));
    assert_eq!(w.now(&t).await.active_change_request_id, Some(cr.id.clone()), "the change request holds it");
    let started: Vec<String> = w.workflows.started().into_keys().collect();
    assert_eq!(started, [cr.id.to_string()], "its workflow writes Broken");
    assert_eq!(w.now(&bystander).await.active_change_request_id, None);
}

#[tokio::test]
async fn the_tenants_standard_alarm_names_it_and_a_redelivery_creates_nothing_new() {
    let w = world();
    let t = w.tenant(TenantState::InTesting).await;
    let event = alarm_event(&StandardAlarm::AppHealth.name(&t.id), "ALARM", json!({}), AT);
    let first = w.call(event.clone()).await.unwrap();
    assert_eq!(first["tenants"][0]["result"], "broken", "{first}");
    let cr = w.now(&t).await.active_change_request_id.unwrap();
    // The workflow ends it (Broken); the same state change delivered again creates nothing.
    w.deps
        .changes
        .finish(&cr, &Caller::system("workflow", Source::Workflow), changes::Ending::Succeeded)
        .await
        .unwrap();
    assert_eq!(w.now(&t).await.state, TenantState::Broken);
    let mut healed = w.now(&t).await;
    healed.state = TenantState::Healthy;
    w.deps.changes.table.batch_put(vec![healed.to_item().unwrap()]).await.unwrap();
    let again = w.call(event).await.unwrap();
    assert_eq!(again["tenants"][0]["result"], "already_acted_on", "{again}");
    assert_eq!(w.workflows.started().len(), 1);
    assert_eq!(w.now(&t).await.active_change_request_id, None);
}

#[tokio::test]
async fn an_alarm_about_an_unknown_resource_changes_nothing() {
    let w = world();
    let t = w.tenant(TenantState::Healthy).await;
    w.instance("i-0abc", &[&t]).await;
    let before = w.now(&t).await;
    let answer = w.call(alarm_event("HighCPU", "ALARM", json!({"InstanceId": "i-0fff"}), AT)).await.unwrap();
    assert_eq!(answer, json!({"result": "unknown_resource", "alarm": "HighCPU"}));
    let ghost = format!("portal-{}-cpu", TenantId::generate());
    let answer = w.call(alarm_event(&ghost, "ALARM", json!({}), AT)).await.unwrap();
    assert_eq!(answer["result"], "unknown_resource");
    assert_eq!(w.now(&t).await, before);
    assert!(w.workflows.started().is_empty());
}

#[tokio::test]
async fn ok_is_recorded_but_heals_nothing() {
    let w = world();
    let t = w.tenant(TenantState::Broken).await;
    let answer = w.call(alarm_event(&StandardAlarm::Cpu.name(&t.id), "OK", json!({}), AT)).await.unwrap();
    assert_eq!(answer["tenants"][0], json!({"result": "recorded", "tenant_id": t.id, "state": "OK"}));
    let now = w.now(&t).await;
    assert_eq!((now.state, now.active_change_request_id), (TenantState::Broken, None));
    assert!(w.workflows.started().is_empty());
}

#[tokio::test]
async fn only_serving_or_tested_tenants_break_and_a_held_one_is_left_to_its_change() {
    let w = world();
    let suspended = w.tenant(TenantState::Suspended).await;
    let answer = w.call(alarm_event(&StandardAlarm::Disk.name(&suspended.id), "ALARM", json!({}), AT)).await.unwrap();
    assert_eq!(answer["tenants"][0], json!({"result": "unchanged", "tenant_id": suspended.id, "state": "Suspended"}));

    let busy = w.tenant(TenantState::Healthy).await;
    let change = ChangeCreate { operation: Operation::Validate, params: ChangeParams::default(), reason: None };
    let validate = w.deps.changes.create(&busy.id, change, &admin(), None).await.unwrap();
    let answer = w.call(alarm_event(&StandardAlarm::Disk.name(&busy.id), "ALARM", json!({}), AT)).await.unwrap();
    assert_eq!(answer["tenants"][0]["result"], "busy");
    assert_eq!(answer["tenants"][0]["change_request_id"], validate.id.as_str());
    assert_eq!(w.workflows.started().len(), 1, "only the validate");
}

#[tokio::test]
async fn a_shared_resource_alarms_every_tenant_using_it_and_other_events_are_ignored() {
    let w = world();
    let (a, b) = (w.tenant(TenantState::Healthy).await, w.tenant(TenantState::Healthy).await);
    w.instance("i-0shared", &[&a, &b]).await;
    let answer = w.call(alarm_event("HighCPU", "ALARM", json!({"InstanceId": "i-0shared"}), AT)).await.unwrap();
    let results: Vec<&str> =
        answer["tenants"].as_array().unwrap().iter().map(|o| o["result"].as_str().unwrap()).collect();
    assert_eq!(results, ["broken", "broken"]);
    let ignored = json!({"detail-type": "EC2 Instance State-change Notification", "detail": {}});
    assert_eq!(w.call(ignored).await.unwrap()["result"], "ignored");
    assert!(matches!(w.call(json!({"nothing": true})).await, Err(AlarmError::Invalid(_))));
}
