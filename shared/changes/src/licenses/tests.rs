//! Licenses over the in-memory fakes: the change requests an assignment's change starts on its
//! customer's tenants, the `licenses` schedule's expiry, and the license bound of an upgrade.

use std::sync::Arc;

use chrono::{Duration, Utc};
use domain::{
    Actor, AssignmentCreate, AssignmentStatus, ChangeParams, CustomerId, License, LicenseAssignment, LicenseCreate,
    LicenseSkip, Operation, ReleaseVersion, Role, Tenant, TenantCreate, TenantState,
};
use engine::workflows::MemoryWorkflows;
use engine::{MemoryCommands, MemoryJenkins};
use serde_json::json;
use store::layout::Record;
use store::memory::MemoryTable;

use crate::*;

use TenantState as S;

fn alice() -> Caller {
    Caller::person(Actor { sub: "alice".into(), email: None }, Role::Admin)
}

fn core() -> Changes {
    Changes {
        table: Arc::new(MemoryTable::new()),
        workflows: Arc::new(MemoryWorkflows::new()),
        jenkins: Arc::new(MemoryJenkins::new()),
        remote: Arc::new(MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    }
}

async fn put<R: Record>(core: &Changes, r: &R) {
    core.table.batch_put(vec![r.to_item().unwrap()]).await.unwrap();
}

async fn tenant(core: &Changes, customer: &CustomerId, state: S) -> Tenant {
    let name = format!("t-{}", domain::TenantId::generate().as_str()[4..].to_lowercase());
    let cmd: TenantCreate =
        serde_json::from_value(json!({"customer_id": customer, "name": name, "release": "3.1.0"})).unwrap();
    let (mut t, _) = Tenant::create(cmd, &alice().context(None));
    t.state = state;
    t.active_change_request_id = None;
    put(core, &t).await;
    t
}

async fn license(core: &Changes, max_release: Option<&str>) -> License {
    let cmd: LicenseCreate =
        serde_json::from_value(json!({"name": "Std", "kind": "subscription", "max_release": max_release})).unwrap();
    let l = License::create(cmd, &alice().context(None)).unwrap();
    put(core, &l).await;
    l
}

async fn assign(core: &Changes, customer: &CustomerId, l: &License, expires_in: Option<Duration>) -> LicenseAssignment {
    let cmd: AssignmentCreate = serde_json::from_value(json!({
        "customer_id": customer, "license_id": l.id, "key_ref": "ssm:/licenses/acme",
        "expires_at": expires_in.map(|d| Utc::now() + d),
    }))
    .unwrap();
    let a = LicenseAssignment::create(cmd, &alice().context(None)).unwrap();
    put(core, &a).await;
    a
}

async fn active_operation(core: &Changes, t: &Tenant) -> Option<Operation> {
    let t = core.tenant(&t.id).await.unwrap();
    let id = t.active_change_request_id?;
    Some(core.change_request(&id).await.unwrap().operation)
}

#[tokio::test]
async fn an_assignment_activates_the_license_on_every_tenant_whose_state_allows_it_and_reports_the_others() {
    let core = core();
    let customer = CustomerId::generate();
    let healthy = tenant(&core, &customer, S::Healthy).await;
    let suspended = tenant(&core, &customer, S::Suspended).await;
    let gone = tenant(&core, &customer, S::EndOfLife).await;
    let elsewhere = tenant(&core, &CustomerId::generate(), S::Healthy).await;
    let l = license(&core, None).await;
    let a = assign(&core, &customer, &l, None).await;

    let changes = core.apply_license_change(None, &a, &alice()).await.unwrap().unwrap();
    assert_eq!(changes.operation, Operation::ActivateLicense);
    let started: Vec<_> = changes.started.iter().map(|s| s.tenant_id.clone()).collect();
    assert_eq!(started.len(), 2);
    assert!(started.contains(&healthy.id) && started.contains(&suspended.id));
    assert_eq!(changes.skipped.len(), 1);
    assert_eq!((&changes.skipped[0].tenant_id, changes.skipped[0].reason), (&gone.id, LicenseSkip::State));
    assert_eq!(active_operation(&core, &healthy).await, Some(Operation::ActivateLicense));
    assert_eq!(active_operation(&core, &elsewhere).await, None);
    let cr = core.change_request(&changes.started[0].change_request_id).await.unwrap();
    assert_eq!(cr.params.assignment_id.as_ref(), Some(&a.id));
    assert_eq!(cr.requested_by, "alice");

    // The same change again (a retried request) starts nothing new.
    let again = core.apply_license_change(None, &a, &alice()).await.unwrap().unwrap();
    assert!(again.started.is_empty());
}

#[tokio::test]
async fn revoking_an_assignment_suspends_its_customers_tenants_and_a_busy_one_is_reported() {
    let core = core();
    let customer = CustomerId::generate();
    let healthy = tenant(&core, &customer, S::Healthy).await;
    let broken = tenant(&core, &customer, S::Broken).await;
    let mut busy = tenant(&core, &customer, S::Maintenance).await;
    busy.active_change_request_id = Some(domain::ChangeRequestId::generate());
    put(&core, &busy).await;
    let l = license(&core, None).await;
    let a = assign(&core, &customer, &l, None).await;
    let mut revoked = a.clone();
    revoked.status = AssignmentStatus::Revoked;
    revoked.stamp = a.stamp.next(&alice().context(None));

    let changes = core.apply_license_change(Some(&a), &revoked, &alice()).await.unwrap().unwrap();
    assert_eq!(changes.operation, Operation::Suspend);
    assert_eq!(changes.started.len(), 2);
    assert_eq!(active_operation(&core, &healthy).await, Some(Operation::Suspend));
    assert_eq!(active_operation(&core, &broken).await, Some(Operation::Suspend));
    assert_eq!(changes.skipped[0].reason, LicenseSkip::Busy);
    // A change that asks nothing of the tenants (the term moved) starts nothing.
    let mut moved = revoked.clone();
    moved.expires_at = Some(Utc::now());
    assert_eq!(core.apply_license_change(Some(&revoked), &moved, &alice()).await.unwrap(), None);
}

#[tokio::test]
async fn an_expired_license_suspends_the_customers_tenants_once_and_is_marked_expired() {
    let core = core();
    let customer = CustomerId::generate();
    let healthy = tenant(&core, &customer, S::Healthy).await;
    let l = license(&core, None).await;
    let expired = assign(&core, &customer, &l, Some(Duration::hours(-2))).await;
    let later = assign(&core, &CustomerId::generate(), &l, Some(Duration::days(3))).await;

    let report = core.expire_licenses(Utc::now()).await.unwrap();
    assert_eq!(report.expired, std::slice::from_ref(&expired.id));
    assert_eq!(report.changes[0].started.len(), 1);
    let cr = core.change_request(&report.changes[0].started[0].change_request_id).await.unwrap();
    assert_eq!((cr.operation, cr.requested_by.as_str()), (Operation::Suspend, "system:schedule:licenses"));
    assert_eq!(cr.tenant_id, healthy.id);
    assert_eq!(core.assignment(&expired.id).await.unwrap().status, AssignmentStatus::Expired);
    assert_eq!(core.assignment(&later.id).await.unwrap().status, AssignmentStatus::Active);

    let again = core.expire_licenses(Utc::now()).await.unwrap();
    assert!(again.expired.is_empty() && again.changes.is_empty(), "{again:?}");
}

#[tokio::test]
async fn an_expired_license_with_a_busy_tenant_stays_active_until_a_later_run_suspends_it() {
    let core = core();
    let customer = CustomerId::generate();
    let free = tenant(&core, &customer, S::Healthy).await;
    let mut busy = tenant(&core, &customer, S::Healthy).await;
    busy.active_change_request_id = Some(domain::ChangeRequestId::generate());
    put(&core, &busy).await;
    let l = license(&core, None).await;
    let a = assign(&core, &customer, &l, Some(Duration::hours(-1))).await;

    let first = core.expire_licenses(Utc::now()).await.unwrap();
    assert_eq!(first.pending, std::slice::from_ref(&a.id));
    assert_eq!(active_operation(&core, &free).await, Some(Operation::Suspend));
    busy.active_change_request_id = None;
    busy.stamp = busy.stamp.next(&alice().context(None));
    put(&core, &busy).await;

    let second = core.expire_licenses(Utc::now()).await.unwrap();
    assert_eq!(second.expired, std::slice::from_ref(&a.id));
    assert_eq!(second.changes[0].started.len(), 1, "only the tenant the first run could not suspend");
    assert_eq!(second.changes[0].started[0].tenant_id, busy.id);
}

#[tokio::test]
async fn an_upgrade_the_customers_license_does_not_cover_is_refused_naming_the_license() {
    let core = core();
    let customer = CustomerId::generate();
    let t = tenant(&core, &customer, S::Healthy).await;
    for v in ["3.1.0", "3.2.0"] {
        let cmd = serde_json::from_value(json!({"version": v, "components": {"webapp": v}})).unwrap();
        put(&core, &domain::ProductRelease::create(cmd, &alice().context(None)).unwrap()).await;
    }
    let upgrade = |v: &str| ChangeCreate {
        operation: Operation::Upgrade,
        params: ChangeParams { release: Some(ReleaseVersion::parse(v).unwrap()), ..Default::default() },
        reason: None,
    };
    let l = license(&core, Some("3.1.5")).await;
    assign(&core, &customer, &l, None).await;
    let err = core.create(&t.id, upgrade("3.2.0"), &alice(), None).await.unwrap_err();
    let ChangeError::Invalid(e) = err else { panic!("{err:?}") };
    assert_eq!(e.field, "params.release");
    assert!(e.message.contains(&l.id.to_string()) && e.message.contains("3.1.5"), "{}", e.message);

    // A second license that covers it lets it through.
    let open = license(&core, None).await;
    assign(&core, &customer, &open, None).await;
    assert!(core.create(&t.id, upgrade("3.2.0"), &alice(), None).await.is_ok());
}

#[tokio::test]
async fn an_activation_names_an_active_assignment_of_the_tenants_customer() {
    let core = core();
    let customer = CustomerId::generate();
    let t = tenant(&core, &customer, S::Healthy).await;
    let l = license(&core, None).await;
    let foreign = assign(&core, &CustomerId::generate(), &l, None).await;
    let cmd = |a: &LicenseAssignment| ChangeCreate {
        operation: Operation::ActivateLicense,
        params: ChangeParams { assignment_id: Some(a.id.clone()), ..Default::default() },
        reason: None,
    };
    let err = core.create(&t.id, cmd(&foreign), &alice(), None).await.unwrap_err();
    assert!(matches!(&err, ChangeError::Invalid(e) if e.field == "params.assignment_id"), "{err:?}");
    let none = ChangeCreate { operation: Operation::ActivateLicense, params: ChangeParams::default(), reason: None };
    let err = core.create(&t.id, none, &alice(), None).await.unwrap_err();
    assert!(matches!(&err, ChangeError::Invalid(e) if e.field == "params.assignment_id"), "{err:?}");
}

#[tokio::test]
async fn a_rollout_plan_leaves_out_the_tenants_whose_license_does_not_cover_the_release() {
    let core = core();
    let (bounded, open) = (CustomerId::generate(), CustomerId::generate());
    let held_back = tenant(&core, &bounded, S::Healthy).await;
    let free = tenant(&core, &open, S::Healthy).await;
    for v in ["3.1.0", "3.2.0"] {
        let cmd = serde_json::from_value(json!({"version": v, "components": {"webapp": v}})).unwrap();
        put(&core, &domain::ProductRelease::create(cmd, &alice().context(None)).unwrap()).await;
    }
    let l = license(&core, Some("3.1.0")).await;
    assign(&core, &bounded, &l, None).await;
    let cmd: domain::RolloutCreate = serde_json::from_value(json!({
        "operation": "upgrade", "params": {"release": "3.2.0"},
        "selector": {"tenant_ids": [held_back.id, free.id]}, "waves": [1]
    }))
    .unwrap();
    let plan = core.plan_rollout(&cmd, &alice()).await.unwrap();
    assert_eq!((plan.would_run, plan.refused), (1, 1));
    let refused = plan.tenants.iter().find(|t| t.tenant_id == held_back.id).unwrap();
    assert_eq!(
        refused.not_run,
        Some(domain::NotRun::NotLicensed { release: ReleaseVersion::parse("3.2.0").unwrap(), licenses: vec![l.id] })
    );
}
