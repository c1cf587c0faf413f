//! The change-request routes, end to end through the real router over the in-memory table and
//! the in-memory workflows: requesting an operation (the lifecycle table decides, the tenant is
//! claimed in the same write), approval by a second admin, reject, cancel, idempotent retries,
//! and Step Functions being down.
//!
//! A tenant is put in a state with [`settle`], writing the tenant record directly as a finished
//! workflow would: a freshly created tenant is held by its running `provision` change request.

mod common;

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use common::*;
use domain::{TenantId, TenantState};
use serde_json::{Value, json};
use store::Table;
use store::layout;

/// A second admin: approvals need one other than the requester.
const GRACE: Option<&str> = Some("admin:grace");
/// Another operator, who did not request anything.
const OLGA: Option<&str> = Some("operator:olga");

fn tenant_key(tenant: &str) -> store::Key {
    layout::tenant_key(&TenantId::parse(tenant).expect("a tenant id"))
}

/// Puts a tenant in `state`, not held by any change request, as a finished workflow leaves it.
async fn settle(h: &Harness, tenant: &str, state: TenantState) {
    h.settle(tenant, state).await;
}

/// The tenant item as stored.
async fn stored_tenant(h: &Harness, tenant: &str) -> Value {
    Value::Object(h.table.get(&tenant_key(tenant)).await.unwrap().expect("the tenant item"))
}

/// The change request item as stored.
async fn stored_cr(h: &Harness, id: &str) -> Value {
    let key = layout::change_request_key(&domain::ChangeRequestId::parse(id).expect("a change request id"));
    Value::Object(h.table.get(&key).await.unwrap().expect("the change request item"))
}

/// The customer Acme, releases 3.1.0 and 3.2.0, and the tenant acme-prod on 3.1.0 settled
/// `Healthy`.
async fn healthy_tenant(h: &Harness) -> String {
    let id = h.one_tenant().await;
    h.release("3.2.0").await;
    settle(h, &id, TenantState::Healthy).await;
    id
}

async fn request(h: &Harness, tenant: &str, who: Option<&str>, body: Value) -> Resp {
    h.call(Method::POST, &format!("/v1/tenants/{tenant}/change-requests"), who, Some(body)).await
}

async fn decide(h: &Harness, cr: &str, verb: &str, who: Option<&str>) -> Resp {
    h.call(Method::POST, &format!("/v1/change-requests/{cr}/{verb}"), who, None).await
}

async fn cr(h: &Harness, id: &str) -> Value {
    h.get(&format!("/v1/change-requests/{id}")).await.expect(StatusCode::OK).body
}

async fn tenant(h: &Harness, id: &str) -> Value {
    h.get(&format!("/v1/tenants/{id}")).await.expect(StatusCode::OK).body
}

/// The executions started since `before`.
fn new_starts(h: &Harness, before: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    h.workflows.started().into_iter().filter(|(name, _)| !before.contains_key(name)).collect()
}

#[track_caller]
fn detail(r: &Resp) -> &str {
    r.body["detail"].as_str().expect("a detail")
}

const ARN_PREFIX: &str = "arn:aws:states:us-east-1:123456789012:execution:lifecycle:";

// =============================================================================================
// Requesting an operation.

#[tokio::test]
async fn enter_maintenance_on_a_healthy_tenant_claims_it_and_starts_one_execution() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.workflows.started();
    assert_eq!(before.len(), 1, "the provision of the new tenant");

    let r = request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance", "reason": "INC-42" }))
        .await
        .expect(StatusCode::ACCEPTED);
    let id = r.id();
    assert!(id.starts_with("chg_"), "{id}");
    assert_eq!(r.header("location"), Some(format!("/v1/change-requests/{id}").as_str()));
    assert_eq!(r.etag(), "\"1\"");
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["operation"], "enter_maintenance");
    assert_eq!(r.body["change_model"], "live", "the operation's default model");
    assert_eq!(r.body["started_from"], "Healthy");
    assert_eq!(r.body["tenant_id"], t.as_str());
    assert_eq!(r.body["requested_by"], "otto");
    assert_eq!(r.body["reason"], "INC-42");
    assert_eq!(r.body["params"], json!({}));
    assert_eq!(r.body["steps"], json!([]));
    assert_eq!(r.body["execution_arn"], format!("{ARN_PREFIX}{id}"));
    assert!(r.body["execution_arn"].as_str().unwrap().ends_with(&id));
    assert!(r.body.get("decided_by").is_none() && r.body.get("error").is_none(), "{}", r.text);

    // Exactly one execution, named by the change request, with the workflow input.
    let started = new_starts(&h, &before);
    assert_eq!(started.len(), 1, "{started:?}");
    let input = &started[&id];
    assert_eq!(input["change_request_id"], id.as_str());
    assert_eq!(input["tenant_id"], t.as_str());
    assert_eq!(input["operation"], "enter_maintenance");
    assert_eq!(input["change_model"], "live");

    // It reads back as answered; the tenant is held by it, its state left to the workflow.
    assert_eq!(cr(&h, &id).await, r.body);
    let tenant_now = tenant(&h, &t).await;
    assert_eq!(tenant_now["active_change_request_id"], id.as_str());
    assert_eq!(tenant_now["state"], "Healthy");
    assert_eq!(tenant_now["change_request_id"], id.as_str(), "the claim is stamped with the change request");
    assert_eq!(tenant_now["revision"], 3, "created, settled, claimed");
    let stored = stored_tenant(&h, &t).await;
    assert_eq!(stored["active_change_request_id"], id.as_str());
    assert_eq!(stored_cr(&h, &id).await["status"], "running");
    assert_eq!(h.count_kind("change_request"), 2);
}

#[tokio::test]
async fn upgrade_takes_its_release_and_a_change_model_into_the_workflow() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.workflows.started();
    let r = request(
        &h,
        &t,
        OPERATOR,
        json!({ "operation": "upgrade", "params": { "release": "3.2.0", "change_model": "swap" } }),
    )
    .await
    .expect(StatusCode::ACCEPTED);
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["change_model"], "swap");
    assert_eq!(r.body["params"], json!({ "release": "3.2.0", "change_model": "swap" }));
    let started = new_starts(&h, &before);
    assert_eq!(started.len(), 1);
    assert_eq!(started[&r.id()]["operation"], "upgrade");
    assert_eq!(started[&r.id()]["change_model"], "swap");

    // Without a model, upgrade takes its default, maintenance.
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let r = request(&h, &t, OPERATOR, json!({ "operation": "upgrade", "params": { "release": "3.2.0" } }))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(r.body["change_model"], "maintenance");
    assert_eq!(h.workflows.started()[&r.id()]["change_model"], "maintenance");
}

#[tokio::test]
async fn an_operation_the_state_does_not_allow_is_409_naming_the_state_and_writes_nothing() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let cases = [
        (TenantState::Healthy, json!({ "operation": "resume" })),
        (TenantState::Healthy, json!({ "operation": "exit_maintenance" })),
        (TenantState::Healthy, json!({ "operation": "restore", "params": { "backup_id": "bkp-1" } })),
        (TenantState::Suspended, json!({ "operation": "upgrade", "params": { "release": "3.2.0" } })),
        (TenantState::Suspended, json!({ "operation": "backup" })),
        (TenantState::InTesting, json!({ "operation": "validate" })),
        (TenantState::Maintenance, json!({ "operation": "rotate_webapp_password" })),
        (TenantState::EndOfLife, json!({ "operation": "terminate" })),
        (TenantState::EndOfLife, json!({ "operation": "resume" })),
    ];
    for (state, body) in cases {
        settle(&h, &t, state).await;
        let before = h.snapshot();
        let starts = h.workflows.started();
        let r = request(&h, &t, ADMIN, body.clone()).await.expect_problem(StatusCode::CONFLICT, None);
        let op = body["operation"].as_str().unwrap();
        assert!(detail(&r).contains(&format!("while the tenant is {state}")), "{body} from {state}: {}", r.text);
        assert!(detail(&r).contains(op), "{}", r.text);
        h.assert_unchanged(&before);
        assert_eq!(h.workflows.started(), starts);
    }
    assert!(stored_tenant(&h, &t).await.get("active_change_request_id").is_none());
}

#[tokio::test]
async fn a_second_change_request_while_one_is_active_is_409_naming_the_active_one() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let first =
        request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" })).await.expect(StatusCode::ACCEPTED);
    let starts = h.workflows.started();
    let before = h.snapshot();
    for (who, body) in [
        (OPERATOR, json!({ "operation": "suspend" })),
        (ADMIN, json!({ "operation": "enter_maintenance" })),
        (ADMIN, json!({ "operation": "terminate" })),
    ] {
        let r = request(&h, &t, who, body).await.expect_problem(StatusCode::CONFLICT, None);
        assert!(detail(&r).contains(&first.id()), "{}", r.text);
    }
    h.assert_unchanged(&before);
    assert_eq!(h.workflows.started(), starts);

    // A freshly created tenant is held by its provision.
    let customer = id_of(&h.get("/v1/customers").await.items()[0]);
    let fresh = h.tenant(&customer, "acme-new", "3.1.0").await;
    let provision = fresh["active_change_request_id"].as_str().expect("held by its provision").to_owned();
    assert_eq!(cr(&h, &provision).await["operation"], "provision");
    let before = h.snapshot();
    let starts = h.workflows.started();
    for body in [json!({ "operation": "terminate" }), json!({ "operation": "suspend" })] {
        let r = request(&h, &id_of(&fresh), ADMIN, body).await.expect_problem(StatusCode::CONFLICT, None);
        assert!(detail(&r).contains(&provision), "{}", r.text);
    }
    h.assert_unchanged(&before);
    assert_eq!(h.workflows.started(), starts);
}

#[tokio::test]
async fn invalid_operations_and_params_are_422_naming_the_field_and_write_nothing() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    // A third release, deprecated: not one to upgrade to.
    h.release("3.3.0").await;
    h.call(Method::PATCH, "/v1/releases/3.3.0", OPERATOR, Some(json!({ "status": "deprecated" })))
        .await
        .expect(StatusCode::OK);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "operation": "provision" }), "operation", "only by creating a tenant"),
        (json!({ "operation": "backup", "params": { "change_model": "swap" } }), "params.change_model", "swap"),
        (json!({ "operation": "suspend", "params": { "change_model": "maintenance" } }), "params.change_model", "live"),
        (json!({ "operation": "upgrade" }), "params.release", "upgrade needs the release"),
        (json!({ "operation": "upgrade", "params": {} }), "params.release", "upgrade needs the release"),
        (json!({ "operation": "upgrade", "params": { "release": "3.1.0" } }), "params.release", "already runs 3.1.0"),
        (json!({ "operation": "upgrade", "params": { "release": "9.9.9" } }), "params.release", "no release 9.9.9"),
        (
            json!({ "operation": "upgrade", "params": { "release": "3.3.0" } }),
            "params.release",
            "only an available release",
        ),
        (json!({ "operation": "upgrade", "params": { "release": "three" } }), "params.release", ""),
        (
            json!({ "operation": "upgrade", "params": { "release": "3.2.0", "change_model": "yolo" } }),
            "params.change_model",
            "yolo",
        ),
        (
            json!({ "operation": "suspend", "params": { "release": "3.2.0" } }),
            "params.release",
            "suspend takes no release",
        ),
        (
            json!({ "operation": "enter_maintenance", "params": { "backup_id": "bkp-1" } }),
            "params.backup_id",
            "takes no backup_id",
        ),
        (json!({ "operation": "reboot" }), "operation", "reboot"),
        (json!({}), "operation", "operation"),
        (json!({ "operation": "suspend", "urgency": "high" }), "urgency", "urgency"),
        (json!({ "operation": "suspend", "params": "none" }), "params", ""),
    ];
    let before = h.snapshot();
    let starts = h.workflows.started();
    for (body, field, says) in cases {
        let r = request(&h, &t, ADMIN, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        let r = r.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        assert!(detail(&r).contains(says), "{body}: {}", r.text);
    }
    h.assert_unchanged(&before);
    assert_eq!(h.workflows.started(), starts);

    // restore is allowed from Maintenance; its backup_id is then checked.
    settle(&h, &t, TenantState::Maintenance).await;
    let before = h.snapshot();
    for (body, says) in [
        (json!({ "operation": "restore" }), "restore needs the backup"),
        (json!({ "operation": "restore", "params": { "backup_id": "" } }), "must not be empty"),
        (json!({ "operation": "restore", "params": { "backup_id": "b".repeat(129) } }), "at most 128"),
        // A strict identifier: never a path, a shell word or a parameter of a job.
        (json!({ "operation": "restore", "params": { "backup_id": "../../etc/passwd" } }), "must match"),
        (json!({ "operation": "restore", "params": { "backup_id": "bk-1; rm -rf /" } }), "must match"),
    ] {
        let r = request(&h, &t, ADMIN, body)
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("params.backup_id"));
        assert!(detail(&r).contains(says), "{}", r.text);
    }
    h.assert_unchanged(&before);
    assert_eq!(h.workflows.started(), starts);
}

/// An unknown field inside `params` is refused, and the problem names that field, as it does
/// for an unknown top-level field (`urgency` above).
#[tokio::test]
async fn an_unknown_param_field_is_422_naming_it() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.snapshot();
    let r = request(&h, &t, ADMIN, json!({ "operation": "suspend", "params": { "colour": "red" } })).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(detail(&r).contains("colour"), "{}", r.text);
    r.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("params.colour"));
    h.assert_unchanged(&before);
}

/// API.md: "a value out of range is `400`/`422` with a `detail` that names the field". A
/// well-formed body whose enum member (`operation`, `change_model`) has the wrong JSON type
/// is answered "the body is not valid JSON", naming no field.
#[tokio::test]
async fn an_operation_or_change_model_of_the_wrong_type_is_422_naming_it() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.snapshot();
    for (body, field) in [
        (json!({ "operation": 7 }), "operation"),
        (json!({ "operation": null }), "operation"),
        (json!({ "operation": "upgrade", "params": { "release": "3.2.0", "change_model": 5 } }), "params.change_model"),
    ] {
        let r = request(&h, &t, ADMIN, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        r.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    h.assert_unchanged(&before);
}

/// `params` is an object (API.md: `"params": {...}`). serde's derived `Deserialize` also takes a
/// struct as a JSON array, by position, and `ChangeParams`' fields all default: `[]` is `{}`,
/// and `["3.2.0"]` is `{"release": "3.2.0"}`.
#[tokio::test]
async fn params_that_are_an_array_are_422_naming_params() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.snapshot();
    for body in
        [json!({ "operation": "upgrade", "params": ["3.2.0"] }), json!({ "operation": "suspend", "params": [] })]
    {
        let r = request(&h, &t, ADMIN, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        r.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("params"));
    }
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn unknown_or_malformed_tenants_and_change_requests_are_404_and_400() {
    let h = Harness::new();
    let unknown = TenantId::generate();
    request(&h, unknown.as_str(), ADMIN, json!({ "operation": "suspend" }))
        .await
        .expect_problem(StatusCode::NOT_FOUND, None);
    request(&h, "nope", ADMIN, json!({ "operation": "suspend" }))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("id"));
    let unknown_cr = domain::ChangeRequestId::generate();
    for verb in ["approve", "reject", "cancel"] {
        decide(&h, unknown_cr.as_str(), verb, ADMIN).await.expect_problem(StatusCode::NOT_FOUND, None);
        decide(&h, "nope", verb, ADMIN).await.expect_problem(StatusCode::BAD_REQUEST, Some("id"));
    }
    assert!(h.table.is_empty());
    assert!(h.workflows.started().is_empty());
}

// =============================================================================================
// Approval.

#[tokio::test]
async fn terminate_awaits_a_second_admin_then_runs_once() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.workflows.started();

    let r = request(&h, &t, ADMIN, json!({ "operation": "terminate", "reason": "contract ended" }))
        .await
        .expect(StatusCode::ACCEPTED);
    let id = r.id();
    assert_eq!(r.header("location"), Some(format!("/v1/change-requests/{id}").as_str()));
    assert_eq!(r.body["status"], "awaiting_approval");
    assert_eq!(r.body["requested_by"], "ada");
    assert_eq!(r.body["started_from"], "Healthy");
    assert!(r.body.get("execution_arn").is_none(), "not started: {}", r.text);
    assert!(new_starts(&h, &before).is_empty());
    assert_eq!(stored_tenant(&h, &t).await["active_change_request_id"], id.as_str(), "the tenant is claimed");

    // Not by its requester, not by an operator or a viewer.
    let r = decide(&h, &id, "approve", ADMIN).await.expect_problem(StatusCode::FORBIDDEN, None);
    assert!(detail(&r).contains("other than its requester"), "{}", r.text);
    decide(&h, &id, "approve", OPERATOR).await.expect_problem(StatusCode::FORBIDDEN, None);
    decide(&h, &id, "approve", VIEWER).await.expect_problem(StatusCode::FORBIDDEN, None);
    let waiting = cr(&h, &id).await;
    assert_eq!(waiting["status"], "awaiting_approval");
    assert!(waiting.get("decided_by").is_none());
    assert!(new_starts(&h, &before).is_empty());

    // Another admin: it starts.
    let r = decide(&h, &id, "approve", GRACE).await.expect(StatusCode::ACCEPTED);
    assert_eq!(r.id(), id);
    assert_eq!(r.body["status"], "running");
    assert_eq!(r.body["decided_by"], "grace");
    assert!(r.body["decided_at"].is_string());
    assert_eq!(r.body["requested_by"], "ada");
    assert_eq!(r.body["execution_arn"], format!("{ARN_PREFIX}{id}"));
    assert_eq!(r.etag(), "\"2\"");
    let started = new_starts(&h, &before);
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[&id]["change_request_id"], id.as_str());
    assert_eq!(started[&id]["tenant_id"], t.as_str());
    assert_eq!(started[&id]["operation"], "terminate");
    assert_eq!(cr(&h, &id).await, r.body);
    assert_eq!(stored_cr(&h, &id).await["status"], "running");
    assert_eq!(stored_tenant(&h, &t).await["active_change_request_id"], id.as_str(), "still held while it runs");

    // Decided already.
    let before = h.snapshot();
    for (verb, who) in [("approve", GRACE), ("approve", Some("admin:hopper")), ("reject", GRACE), ("cancel", ADMIN)] {
        decide(&h, &id, verb, who).await.expect_problem(StatusCode::CONFLICT, None);
    }
    h.assert_unchanged(&before);
    assert_eq!(new_starts(&h, &BTreeMap::new()).len(), 2, "the provision and the terminate, once");
}

#[tokio::test]
async fn restore_requested_by_an_operator_awaits_any_admin() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    settle(&h, &t, TenantState::Broken).await;
    h.backup(&t, "bkp-2024-05-01").await;
    let before = h.workflows.started();
    let r = request(&h, &t, OPERATOR, json!({ "operation": "restore", "params": { "backup_id": "bkp-2024-05-01" } }))
        .await
        .expect(StatusCode::ACCEPTED);
    assert_eq!(r.body["status"], "awaiting_approval");
    assert_eq!(r.body["started_from"], "Broken");
    assert_eq!(r.body["change_model"], "maintenance");
    assert_eq!(r.body["params"], json!({ "backup_id": "bkp-2024-05-01" }));
    // The operator who asked cannot approve it either.
    decide(&h, &r.id(), "approve", OPERATOR).await.expect_problem(StatusCode::FORBIDDEN, None);
    let approved = decide(&h, &r.id(), "approve", ADMIN).await.expect(StatusCode::ACCEPTED);
    assert_eq!(approved.body["decided_by"], "ada");
    let started = new_starts(&h, &before);
    assert_eq!(started.len(), 1);
    assert_eq!(started[&r.id()]["operation"], "restore");
    assert_eq!(started[&r.id()]["change_model"], "maintenance");
}

#[tokio::test]
async fn a_rejected_change_request_releases_its_tenant() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let id = request(&h, &t, ADMIN, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();

    decide(&h, &id, "reject", OPERATOR).await.expect_problem(StatusCode::FORBIDDEN, None);
    decide(&h, &id, "reject", VIEWER).await.expect_problem(StatusCode::FORBIDDEN, None);
    assert_eq!(cr(&h, &id).await["status"], "awaiting_approval");

    let r = decide(&h, &id, "reject", GRACE).await.expect(StatusCode::OK);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["decided_by"], "grace");
    assert!(r.body["decided_at"].is_string());
    assert!(r.body.get("execution_arn").is_none());
    assert_eq!(r.etag(), "\"2\"");
    assert_eq!(cr(&h, &id).await, r.body);
    assert_eq!(stored_cr(&h, &id).await["status"], "rejected");
    let stored = stored_tenant(&h, &t).await;
    assert!(stored.get("active_change_request_id").is_none(), "released: {stored}");
    assert_eq!(stored["state"], "Healthy");
    assert_eq!(h.workflows.started(), starts, "a rejected change request never runs");

    // Closed: no second decision.
    let before = h.snapshot();
    for (verb, who) in [("approve", GRACE), ("reject", GRACE), ("cancel", ADMIN)] {
        decide(&h, &id, verb, who).await.expect_problem(StatusCode::CONFLICT, None);
    }
    h.assert_unchanged(&before);

    // The tenant takes a new change request.
    request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" })).await.expect(StatusCode::ACCEPTED);
}

/// API.md: "`POST /v1/change-requests/{id}/approve` (or `/reject`) by an admin other than the
/// requester." The requester withdraws their own request with `cancel`.
#[tokio::test]
async fn the_requesting_admin_may_not_reject_their_own_change_request() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let id = request(&h, &t, ADMIN, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    let before = h.snapshot();
    decide(&h, &id, "reject", ADMIN).await.expect_problem(StatusCode::FORBIDDEN, None);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn cancel_is_for_the_requester_or_an_admin_and_only_before_it_runs() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let id = request(&h, &t, OPERATOR, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();

    let before = h.snapshot();
    let r = decide(&h, &id, "cancel", OLGA).await.expect_problem(StatusCode::FORBIDDEN, None);
    assert!(detail(&r).contains("requester or an admin"), "{}", r.text);
    decide(&h, &id, "cancel", VIEWER).await.expect_problem(StatusCode::FORBIDDEN, None);
    h.assert_unchanged(&before);

    let r = decide(&h, &id, "cancel", OPERATOR).await.expect(StatusCode::OK);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["decided_by"], "otto");
    assert_eq!(cr(&h, &id).await["status"], "cancelled");
    let stored = stored_tenant(&h, &t).await;
    assert!(stored.get("active_change_request_id").is_none(), "released: {stored}");
    assert_eq!(stored["state"], "Healthy");
    decide(&h, &id, "cancel", OPERATOR).await.expect_problem(StatusCode::CONFLICT, None);
    decide(&h, &id, "approve", GRACE).await.expect_problem(StatusCode::CONFLICT, None);
    assert_eq!(h.workflows.started(), starts);

    // An admin may cancel someone else's.
    let id = request(&h, &t, OPERATOR, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    let r = decide(&h, &id, "cancel", GRACE).await.expect(StatusCode::OK);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["decided_by"], "grace");
    assert!(stored_tenant(&h, &t).await.get("active_change_request_id").is_none());

    // A running one cannot be cancelled, by its requester or an admin; it keeps the tenant.
    let running =
        request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" })).await.expect(StatusCode::ACCEPTED).id();
    let before = h.snapshot();
    for who in [OPERATOR, ADMIN] {
        let r = decide(&h, &running, "cancel", who).await.expect_problem(StatusCode::CONFLICT, None);
        assert!(detail(&r).contains("running"), "{}", r.text);
    }
    h.assert_unchanged(&before);
    assert_eq!(cr(&h, &running).await["status"], "running");
    assert_eq!(stored_tenant(&h, &t).await["active_change_request_id"], running.as_str());
}

#[tokio::test]
async fn a_patch_of_state_or_release_says_they_change_only_through_a_change_request() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.snapshot();
    let path = format!("/v1/tenants/{t}");
    for (body, field) in [
        (json!({ "state": "Suspended" }), "state"),
        (json!({ "description": "x", "state": "Healthy" }), "state"),
        (json!({ "release": "3.2.0" }), "release"),
    ] {
        let r = h.call(Method::PATCH, &path, OPERATOR, Some(body)).await;
        let r = r.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        assert!(detail(&r).contains("only through"), "{}", r.text);
        assert!(detail(&r).contains("/change-requests"), "{}", r.text);
    }
    let other = h.call(Method::PATCH, &path, OPERATOR, Some(json!({ "colour": "red" }))).await;
    let other = other.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("colour"));
    assert!(detail(&other).contains("unknown field"), "other unknown fields keep serde's message: {}", other.text);
    // Viewers are refused before their body is read.
    h.call(Method::PATCH, &path, VIEWER, Some(json!({ "state": "Suspended" })))
        .await
        .expect_problem(StatusCode::FORBIDDEN, None);
    h.assert_unchanged(&before);
}

#[tokio::test]
async fn messages_keep_ids_and_versions_as_they_are_written() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let running =
        request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" })).await.expect(StatusCode::ACCEPTED).id();
    assert!(running.chars().any(|c| c.is_ascii_uppercase()), "a ULID id has capitals: {running}");
    let r = decide(&h, &running, "cancel", ADMIN).await.expect_problem(StatusCode::CONFLICT, None);
    assert!(detail(&r).contains(&running), "the id keeps its case: {}", r.text);
    let r = request(&h, &t, ADMIN, json!({ "operation": "suspend" })).await.expect_problem(StatusCode::CONFLICT, None);
    assert!(detail(&r).contains(&running), "{}", r.text);

    h.release("3.3.0-RC.1").await;
    h.call(Method::PATCH, "/v1/releases/3.3.0-RC.1", OPERATOR, Some(json!({ "status": "deprecated" })))
        .await
        .expect(StatusCode::OK);
    let customer = id_of(&h.get("/v1/customers").await.items()[0]);
    let r = h
        .call(
            Method::POST,
            "/v1/tenants",
            OPERATOR,
            Some(json!({ "customer_id": customer, "name": "acme-rc", "release": "3.3.0-RC.1" })),
        )
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("release"));
    assert!(detail(&r).contains("3.3.0-RC.1"), "the version keeps its case: {}", r.text);
}

// =============================================================================================
// Roles.

#[tokio::test]
async fn viewers_may_not_request_approve_reject_or_cancel() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let before = h.snapshot();
    let starts = h.workflows.started();
    request(&h, &t, VIEWER, json!({ "operation": "enter_maintenance" }))
        .await
        .expect_problem(StatusCode::FORBIDDEN, None);
    // Refused before the body is read.
    request(&h, &t, VIEWER, json!({ "operation": "reboot" })).await.expect_problem(StatusCode::FORBIDDEN, None);
    h.assert_unchanged(&before);

    let id = request(&h, &t, ADMIN, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    let before = h.snapshot();
    for verb in ["approve", "reject", "cancel"] {
        decide(&h, &id, verb, VIEWER).await.expect_problem(StatusCode::FORBIDDEN, None);
    }
    h.assert_unchanged(&before);
    assert_eq!(h.workflows.started(), starts);
    // Reading is fine.
    assert_eq!(cr(&h, &id).await["status"], "awaiting_approval");
    assert_eq!(h.get(&format!("/v1/tenants/{t}/change-requests")).await.expect(StatusCode::OK).items().len(), 2);
}

/// Viewers are read only (API.md), also a viewer whose `sub` requested the change request
/// (say, an operator since demoted).
#[tokio::test]
async fn a_viewer_may_not_cancel_even_a_change_request_of_their_sub() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let id = request(&h, &t, OPERATOR, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    let before = h.snapshot();
    decide(&h, &id, "cancel", Some("viewer:otto")).await.expect_problem(StatusCode::FORBIDDEN, None);
    h.assert_unchanged(&before);
}

// =============================================================================================
// Idempotency.

#[tokio::test]
async fn a_retried_request_with_the_same_key_replays_the_answer_and_starts_nothing_new() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let path = format!("/v1/tenants/{t}/change-requests");
    let key = [("idempotency-key", "maint-acme-1")];
    let body = json!({ "operation": "enter_maintenance" });
    let first = h.call_with(Method::POST, &path, OPERATOR, &key, Some(body.clone())).await.expect(StatusCode::ACCEPTED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let before = h.snapshot();

    let again = h.call_with(Method::POST, &path, OPERATOR, &key, Some(body.clone())).await.expect(StatusCode::ACCEPTED);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.etag(), first.etag());
    h.assert_unchanged(&before);
    let started = new_starts(&h, &starts);
    assert_eq!(started.keys().collect::<Vec<_>>(), [&first.id()], "one execution");
    assert_eq!(h.count_kind("change_request"), 2, "the provision and this one");

    // The same key with another body is another request: refused, naming the key.
    h.call_with(Method::POST, &path, OPERATOR, &key, Some(json!({ "operation": "suspend" })))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("Idempotency-Key"));
    // Without the key it is a second request, refused as the tenant is busy.
    h.call(Method::POST, &path, OPERATOR, Some(body)).await.expect_problem(StatusCode::CONFLICT, None);
    h.assert_unchanged(&before);
}

/// The 503 says "retry the change request"; the natural retry is the same request with the same
/// `Idempotency-Key`. It must not answer `202 running` for a change request that failed and
/// whose execution never started.
#[tokio::test]
async fn a_retry_with_the_same_key_after_step_functions_was_down_does_not_claim_it_runs() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let path = format!("/v1/tenants/{t}/change-requests");
    let key = [("idempotency-key", "maint-acme-1")];
    let body = json!({ "operation": "enter_maintenance" });
    h.workflows.fail_starts(true);
    h.call_with(Method::POST, &path, OPERATOR, &key, Some(body.clone()))
        .await
        .expect_problem(StatusCode::SERVICE_UNAVAILABLE, None);
    h.workflows.fail_starts(false);

    let retry = h.call_with(Method::POST, &path, OPERATOR, &key, Some(body)).await;
    if retry.status == StatusCode::ACCEPTED && retry.body["status"] == "running" {
        let id = retry.id();
        assert_eq!(cr(&h, &id).await["status"], "running", "answered running: {}", retry.text);
        assert!(new_starts(&h, &starts).contains_key(&id), "answered running but nothing started: {}", retry.text);
    }
}

// =============================================================================================
// Step Functions unreachable.

#[tokio::test]
async fn step_functions_down_fails_the_change_request_and_releases_the_tenant() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let revision = tenant(&h, &t).await["revision"].as_u64().unwrap();
    h.workflows.fail_starts(true);

    let r = request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" }))
        .await
        .expect_problem(StatusCode::SERVICE_UNAVAILABLE, None);
    assert!(detail(&r).contains("retry"), "{}", r.text);
    assert_eq!(h.workflows.started(), starts);

    // The change request is stored failed, with its error.
    // (Found by operation: it and the provision may share a millisecond, so their ULID order.)
    let list = h.get(&format!("/v1/tenants/{t}/change-requests")).await.expect(StatusCode::OK);
    assert_eq!(list.items().len(), 2);
    let failed = list.items().iter().find(|i| i["operation"] == "enter_maintenance").expect("the change request");
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");
    let stored = stored_cr(&h, failed["id"].as_str().unwrap()).await;
    assert_eq!(stored["status"], "failed");
    assert_eq!(stored["revision"], 2);

    // The tenant is released, its state as it was.
    let now = tenant(&h, &t).await;
    assert!(now.get("active_change_request_id").is_none(), "released: {now}");
    assert_eq!(now["state"], "Healthy");
    assert_eq!(now["revision"], revision + 2, "claimed, then released");

    // Once Step Functions is back, the tenant takes a change request again.
    h.workflows.fail_starts(false);
    let r = request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" })).await.expect(StatusCode::ACCEPTED);
    assert_eq!(new_starts(&h, &starts).keys().collect::<Vec<_>>(), [&r.id()]);
}

#[tokio::test]
async fn step_functions_down_at_approval_fails_the_change_request_and_releases_the_tenant() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let id = request(&h, &t, ADMIN, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    h.workflows.fail_starts(true);
    decide(&h, &id, "approve", GRACE).await.expect_problem(StatusCode::SERVICE_UNAVAILABLE, None);
    let failed = cr(&h, &id).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");
    assert_eq!(failed["decided_by"], "grace");
    let now = stored_tenant(&h, &t).await;
    assert!(now.get("active_change_request_id").is_none(), "released: {now}");
    assert_eq!(now["state"], "Healthy");
    assert_eq!(h.workflows.started(), starts);
    // It cannot be approved again.
    h.workflows.fail_starts(false);
    decide(&h, &id, "approve", GRACE).await.expect_problem(StatusCode::CONFLICT, None);
    assert_eq!(h.workflows.started(), starts);
}

#[tokio::test]
async fn a_tenant_created_while_step_functions_is_down_ends_broken_and_released() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    h.workflows.fail_starts(true);
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": customer, "name": "acme-prod", "release": "3.1.0" })),
    )
    .await
    .expect_problem(StatusCode::SERVICE_UNAVAILABLE, None);
    assert!(h.workflows.started().is_empty());

    let tenants = h.get("/v1/tenants").await.expect(StatusCode::OK);
    assert_eq!(tenants.items().len(), 1);
    let t = id_of(&tenants.items()[0]);
    let now = tenant(&h, &t).await;
    assert_eq!(now["state"], "Broken");
    assert!(now.get("active_change_request_id").is_none(), "released: {now}");
    let crs = h.get(&format!("/v1/tenants/{t}/change-requests")).await.expect(StatusCode::OK);
    assert_eq!(crs.items().len(), 1);
    let provision = &crs.items()[0];
    assert_eq!(provision["operation"], "provision");
    assert_eq!(provision["status"], "failed");
    assert!(provision["error"].as_str().is_some_and(|e| !e.is_empty()), "{provision}");
    assert_eq!(stored_cr(&h, provision["id"].as_str().unwrap()).await["status"], "failed");
    // The fleet counts it where it is.
    let summary = h.get("/v1/fleet/summary").await.body;
    assert_eq!(summary["total"], 1);
    assert_eq!(summary["by_state"]["Broken"], 1, "{summary}");
    assert_eq!(summary["by_state"]["Provisioning"], 0, "{summary}");
    assert_eq!(h.get("/v1/tenants?state=Broken").await.items().len(), 1);

    // From Broken it can be worked on once Step Functions is back.
    h.workflows.fail_starts(false);
    request(&h, &t, OPERATOR, json!({ "operation": "validate" })).await.expect(StatusCode::ACCEPTED);
}

/// An imported tenant is created `InTesting` for its `validate`, whose failure ends `Broken`
/// (the lifecycle table). With the workflow never started, leaving it `InTesting` released
/// strands it: from `InTesting` only `terminate` may be requested, and no plan ends there.
#[tokio::test]
async fn an_imported_tenant_created_while_step_functions_is_down_ends_broken() {
    let h = Harness::new();
    let customer = h.customer("Acme").await;
    h.release("3.1.0").await;
    h.workflows.fail_starts(true);
    h.call(
        Method::POST,
        "/v1/tenants",
        OPERATOR,
        Some(json!({ "customer_id": customer, "name": "acme-prod", "release": "3.1.0", "import": true })),
    )
    .await
    .expect_problem(StatusCode::SERVICE_UNAVAILABLE, None);
    let t = id_of(&h.get("/v1/tenants").await.items()[0]);
    let now = tenant(&h, &t).await;
    assert!(now.get("active_change_request_id").is_none(), "released: {now}");
    let crs = h.get(&format!("/v1/tenants/{t}/change-requests")).await;
    assert_eq!(crs.items()[0]["status"], "failed");
    assert_eq!(now["state"], "Broken", "{now}");
}

// =============================================================================================
// Listing.

#[tokio::test]
async fn a_tenant_s_change_requests_list_newest_first() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let provision = cr(&h, h.workflows.started().keys().next().unwrap()).await["id"].as_str().unwrap().to_owned();
    let mut ids = vec![provision];
    // Ids are ULIDs, ordered by their millisecond: keep the requests apart.
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(3));
    pause().await;
    let a = request(&h, &t, OPERATOR, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    decide(&h, &a, "cancel", OPERATOR).await.expect(StatusCode::OK);
    ids.push(a);
    pause().await;
    let b = request(&h, &t, OPERATOR, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    decide(&h, &b, "reject", GRACE).await.expect(StatusCode::OK);
    ids.push(b);
    pause().await;
    let c =
        request(&h, &t, OPERATOR, json!({ "operation": "enter_maintenance" })).await.expect(StatusCode::ACCEPTED).id();
    ids.push(c);
    ids.reverse();

    let list = h.get(&format!("/v1/tenants/{t}/change-requests")).await.expect(StatusCode::OK);
    let listed: Vec<&str> = list.items().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids);
    let statuses: Vec<&str> = list.items().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["running", "rejected", "cancelled", "running"]);
    assert!(list.body["next_token"].is_null());

    // Paged, still newest first, each once.
    let first = h.get(&format!("/v1/tenants/{t}/change-requests?limit=3")).await.expect(StatusCode::OK);
    let token = first.body["next_token"].as_str().expect("a next page").to_owned();
    let second =
        h.get(&format!("/v1/tenants/{t}/change-requests?limit=3&next_token={token}")).await.expect(StatusCode::OK);
    let paged: Vec<&str> = first.items().iter().chain(second.items()).map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(paged, ids);

    // Only this tenant's.
    let customer = id_of(&h.get("/v1/customers").await.items()[0]);
    let other = id_of(&h.tenant(&customer, "acme-other", "3.1.0").await);
    assert_eq!(h.get(&format!("/v1/tenants/{other}/change-requests")).await.items().len(), 1);
    assert_eq!(h.get(&format!("/v1/tenants/{t}/change-requests")).await.items().len(), 4);
}

// =============================================================================================
// Concurrency.

#[tokio::test]
async fn two_change_requests_racing_for_one_tenant_make_one_202_and_one_409() {
    let h = Harness::over_network();
    let t = healthy_tenant(&h).await;
    let starts = h.workflows.started();
    let path = format!("/v1/tenants/{t}/change-requests");
    let (a, b) = tokio::join!(
        h.call(Method::POST, &path, OPERATOR, Some(json!({ "operation": "enter_maintenance" }))),
        h.call(Method::POST, &path, ADMIN, Some(json!({ "operation": "suspend" }))),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{} / {}", a.text, b.text);
    let winner = if a.status == StatusCode::ACCEPTED { &a } else { &b };
    assert_eq!(stored_tenant(&h, &t).await["active_change_request_id"], winner.id().as_str());
    assert_eq!(new_starts(&h, &starts).keys().collect::<Vec<_>>(), [&winner.id()]);
    assert_eq!(h.count_kind("change_request"), 2, "the provision and the winner");
}

async fn abort(h: &Harness, cr: &str, who: Option<&str>, body: Value) -> Resp {
    h.call(Method::POST, &format!("/v1/change-requests/{cr}/abort"), who, Some(body)).await
}

#[tokio::test]
async fn an_admin_aborts_a_running_change_with_a_reason_and_the_tenant_goes_where_a_failure_goes() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let id = request(&h, &t, OPERATOR, json!({ "operation": "validate" })).await.expect(StatusCode::ACCEPTED).id();

    // Admins only, a reason is required, and nothing changes until both hold.
    let before = h.snapshot();
    abort(&h, &id, OPERATOR, json!({ "reason": "wrong tenant" })).await.expect_problem(StatusCode::FORBIDDEN, None);
    abort(&h, &id, ADMIN, json!({})).await.expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("reason"));
    abort(&h, &id, ADMIN, json!({ "reason": "" }))
        .await
        .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some("reason"));
    h.assert_unchanged(&before);

    let r = abort(&h, &id, ADMIN, json!({ "reason": "wrong tenant, INC-7" })).await.expect(StatusCode::OK);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(r.body["aborted_by"], "ada");
    assert_eq!(r.body["abort_reason"], "wrong tenant, INC-7");
    assert_eq!(cr(&h, &id).await, r.body);
    let now = tenant(&h, &t).await;
    assert!(now.get("active_change_request_id").is_none(), "released: {now}");
    assert_eq!(now["state"], "Broken", "a failed validate ends Broken");

    // An ended change request cannot be aborted again; an unknown one is 404.
    let again = abort(&h, &id, ADMIN, json!({ "reason": "again" })).await;
    let again = again.expect_problem(StatusCode::CONFLICT, None);
    assert!(detail(&again).contains("cancelled"), "{}", again.text);
    abort(&h, "chg_01JZZZZZZZZZZZZZZZZZZZZZZZ", ADMIN, json!({ "reason": "x" }))
        .await
        .expect_problem(StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn an_abort_of_a_change_awaiting_approval_closes_it_and_releases_the_tenant() {
    let h = Harness::new();
    let t = healthy_tenant(&h).await;
    let id = request(&h, &t, OPERATOR, json!({ "operation": "terminate" })).await.expect(StatusCode::ACCEPTED).id();
    let r = abort(&h, &id, ADMIN, json!({ "reason": "customer renewed" })).await.expect(StatusCode::OK);
    assert_eq!(r.body["status"], "cancelled");
    let now = tenant(&h, &t).await;
    assert_eq!(now["state"], "Healthy");
    assert!(now.get("active_change_request_id").is_none());
    decide(&h, &id, "approve", GRACE).await.expect_problem(StatusCode::CONFLICT, None);
}
