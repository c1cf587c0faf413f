//! The handler over the in-memory fakes, with the events as EventBridge delivers them.

use std::sync::Arc;

use changes::{Caller, ChangeCreate};
use domain::{
    Actor, ChangeParams, ChangeRequestStatus, CustomerId, Operation, Role, Tenant, TenantCreate, TenantState,
};
use engine::workflows::MemoryWorkflows;
use engine::{MemoryCommands, MemoryJenkins};
use lambda_runtime::Context;
use serde_json::json;
use store::layout::Record;
use store::memory::MemoryTable;

use super::*;

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:lifecycle";

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
    World { workflows, deps: Deps { changes, state_machine_arn: Some(MACHINE.into()), grace: Duration::minutes(5) } }
}

impl World {
    /// A Healthy tenant with a running `validate` change request.
    async fn running(&self) -> (Tenant, domain::TenantChangeRequest) {
        let cmd: TenantCreate = serde_json::from_value(
            json!({"customer_id": CustomerId::generate(), "name": format!("t-{}", ulid_like()), "release": "3.1.0"}),
        )
        .unwrap();
        let admin = Caller::person(Actor { sub: "alice".into(), email: None }, Role::Admin);
        let (mut t, _) = Tenant::create(cmd, &admin.context(None));
        t.state = TenantState::Healthy;
        t.active_change_request_id = None;
        self.deps.changes.table.batch_put(vec![t.to_item().unwrap()]).await.unwrap();
        let change = ChangeCreate { operation: Operation::Validate, params: ChangeParams::default(), reason: None };
        let cr = self.deps.changes.create(&t.id, change, &admin, None).await.unwrap();
        (t, cr)
    }

    async fn call(&self, event: Value) -> Result<Value, ReconcileError> {
        handle(&self.deps, LambdaEvent::new(event, Context::default())).await
    }
}

fn ulid_like() -> String {
    domain::TenantId::generate().to_string().to_lowercase().replace('_', "-")
}

fn status_change(name: &str, machine: &str, status: &str) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": EXECUTION_STATUS_CHANGE, "source": "aws.states",
        "account": "123456789012", "time": "2026-12-01T03:00:00Z", "region": "us-east-1",
        "resources": [format!("{}:{name}", machine.replace(":stateMachine:", ":execution:"))],
        "detail": {
            "executionArn": format!("{}:{name}", machine.replace(":stateMachine:", ":execution:")),
            "stateMachineArn": machine, "name": name, "status": status,
            "startDate": 1764558000000u64, "stopDate": 1764561600000u64,
            "input": "{}", "output": null, "error": "States.Timeout", "cause": "the execution passed its TimeoutSeconds"
        }
    })
}

#[tokio::test]
async fn a_timed_out_execution_finishes_its_change_failed_and_a_second_delivery_changes_nothing() {
    let w = world();
    let (t, cr) = w.running().await;
    let answer = w.call(status_change(cr.id.as_str(), MACHINE, "TIMED_OUT")).await.unwrap();
    assert_eq!(answer["result"], "finished");
    let now = w.deps.changes.change_request(&cr.id).await.unwrap();
    assert_eq!(now.status, ChangeRequestStatus::Failed);
    assert!(now.error.unwrap().contains("States.Timeout"));
    assert_eq!(w.deps.changes.tenant(&t.id).await.unwrap().active_change_request_id, None);
    let again = w.call(status_change(cr.id.as_str(), MACHINE, "TIMED_OUT")).await.unwrap();
    assert_eq!(again, json!({"result": "already_ended", "status": "failed"}));
}

#[tokio::test]
async fn events_of_other_state_machines_and_other_detail_types_change_nothing() {
    let w = world();
    let (_, cr) = w.running().await;
    let other = "arn:aws:states:us-east-1:123456789012:stateMachine:rollouts";
    assert_eq!(w.call(status_change(cr.id.as_str(), other, "FAILED")).await.unwrap()["result"], "not_a_change");
    let ignored = json!({"detail-type": "EC2 Instance State-change Notification", "detail": {}});
    assert_eq!(w.call(ignored).await.unwrap()["result"], "ignored");
    assert_eq!(w.deps.changes.change_request(&cr.id).await.unwrap().status, ChangeRequestStatus::Running);
    assert!(matches!(w.call(json!({"nothing": true})).await, Err(ReconcileError::Invalid(_))));
    let bad = status_change(cr.id.as_str(), MACHINE, "EXPLODED");
    assert!(matches!(w.call(bad).await, Err(ReconcileError::Invalid(_))));
}

#[tokio::test]
async fn a_scheduled_event_sweeps() {
    let w = world();
    let (_, cr) = w.running().await;
    w.workflows.end(cr.id.as_str(), ExecutionStatus::Failed);
    let w = World { deps: Deps { grace: Duration::seconds(-1), ..w.deps }, ..w };
    let report = w.call(json!({"detail-type": SCHEDULED_EVENT, "source": "aws.events", "detail": {}})).await.unwrap();
    assert_eq!(report["finished"], json!([cr.id]));
    assert_eq!(w.deps.changes.change_request(&cr.id).await.unwrap().status, ChangeRequestStatus::Failed);
}
