//! Plans: what one change request will do to a tenant, read from the table before it is
//! accepted, or why it is refused.

use serde::Serialize;
use utoipa::ToSchema;

use super::{End, OperationRule, rule};
use crate::{ChangeModel, Operation, TenantState};

/// What a change request will do to a tenant: computed before it is accepted, so the API can
/// show it and the workflow can write each state with a conditional write on the previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Plan {
    pub operation: Operation,
    /// The tenant's state when the change request was requested (what `as_started` means).
    pub started: TenantState,
    /// The change model it runs with (the operation's default when the request named none);
    /// `None` only for `provision`.
    pub change_model: Option<ChangeModel>,
    /// The state written when the change request starts running, if it moves the tenant at once.
    pub enter: Option<TenantState>,
    /// Every state the tenant is moved to while it runs, in order (`enter`, if any, first); a
    /// step into the state it is already in is left out.
    pub through: Vec<TenantState>,
    pub on_success: End,
    /// Where it ends when it fails (when it rolls back: when the rollback works).
    pub on_failure: End,
    /// Set when a failure is rolled back: where it ends when the rollback fails too.
    pub on_rollback_failure: Option<End>,
    pub validates: bool,
    pub needs_approval: bool,
}

impl Plan {
    pub(super) fn new(rule: &OperationRule, started: TenantState, change_model: Option<ChangeModel>) -> Self {
        let route = rule.route(change_model);
        let mut through = Vec::with_capacity(route.through.len());
        let mut at = started;
        for &s in route.through {
            if s != at {
                through.push(s);
                at = s;
            }
        }
        let enter = match route.through.first() {
            Some(&first) if route.entered_at_start && first != started => Some(first),
            _ => None,
        };
        let rolls_back = change_model.is_some_and(|m| rule.rolls_back.contains(&m));
        Self {
            operation: rule.operation,
            started,
            change_model,
            enter,
            through,
            on_success: rule.on_success,
            on_failure: if rolls_back { End::AsStarted } else { rule.on_failure },
            on_rollback_failure: rolls_back.then_some(rule.on_failure),
            validates: rule.validates,
            needs_approval: rule.needs_approval,
        }
    }

    pub fn success_state(&self) -> TenantState {
        self.on_success.resolve(self.started)
    }

    pub fn failure_state(&self) -> TenantState {
        self.on_failure.resolve(self.started)
    }
}

/// Why an operation cannot be requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    #[error(
        "{} is not allowed while the tenant is {state} (allowed from: {})",
        op_name(*op),
        join(allowed.iter().map(|s| s.as_str()))
    )]
    NotFromState { op: Operation, state: TenantState, allowed: Vec<TenantState> },
    #[error(
        "{} does not take the {} change model (it takes: {})",
        op_name(*op),
        model_name(*model),
        join(accepted.iter().map(|m| model_name(*m)))
    )]
    ChangeModelNotAccepted { op: Operation, model: ChangeModel, accepted: Vec<ChangeModel> },
    #[error("{} is started only by creating a tenant, not requested", op_name(*op))]
    CreationOnly { op: Operation },
}

/// The plan of `op` requested on a tenant that is `current`, with the given change model (the
/// operation's default when `None`).
pub fn plan(current: TenantState, op: Operation, model: Option<ChangeModel>) -> Result<Plan, Refusal> {
    let rule = rule(op);
    if rule.from.is_empty() {
        return Err(Refusal::CreationOnly { op });
    }
    let model = match model {
        None => rule.default_model,
        Some(m) if rule.models.contains(&m) => Some(m),
        Some(m) => return Err(Refusal::ChangeModelNotAccepted { op, model: m, accepted: rule.models.to_vec() }),
    };
    if !rule.from.contains(&current) {
        return Err(Refusal::NotFromState { op, state: current, allowed: rule.from.to_vec() });
    }
    Ok(Plan::new(rule, current, model))
}

/// The plan of the change request that creating a tenant starts: `provision` from
/// `Provisioning`, or for an imported tenant `validate` from `InTesting`. `plan.started` is the
/// state to create the tenant in.
pub fn creation_plan(import: bool) -> Plan {
    let rule = rule(if import { Operation::Validate } else { Operation::Provision });
    let started = rule.on_creation.expect("provision and validate are started by creation"); // ok: a static row of the table
    Plan::new(rule, started, rule.default_model)
}

/// The API name of an operation (as serialized).
pub(super) fn op_name(op: Operation) -> &'static str {
    op.as_str()
}

fn model_name(m: ChangeModel) -> &'static str {
    match m {
        ChangeModel::Live => "live",
        ChangeModel::Maintenance => "maintenance",
        ChangeModel::Swap => "swap",
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = items.collect();
    if v.is_empty() { "nowhere".to_owned() } else { v.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::LIFECYCLE;
    use ChangeModel as M;
    use Operation as O;
    use TenantState as S;

    fn ok(state: TenantState, op: Operation, model: Option<ChangeModel>) -> Plan {
        plan(state, op, model).unwrap_or_else(|e| panic!("{op:?} from {state}: {e}"))
    }

    #[test]
    fn refusals_read_well() {
        let err = plan(S::Suspended, O::Upgrade, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upgrade is not allowed while the tenant is Suspended (allowed from: Healthy, Maintenance)"
        );
        let err = plan(S::Healthy, O::Backup, Some(M::Swap)).unwrap_err();
        assert_eq!(err.to_string(), "backup does not take the swap change model (it takes: maintenance)");
        let err = plan(S::Provisioning, O::Provision, None).unwrap_err();
        assert_eq!(err.to_string(), "provision is started only by creating a tenant, not requested");
        let json = serde_json::to_value(plan(S::EndOfLife, O::Terminate, None).unwrap_err()).unwrap();
        assert_eq!(json["refusal"], "not_from_state");
        assert_eq!(json["state"], "EndOfLife");
        assert_eq!(json["op"], "terminate");
    }

    #[test]
    fn every_operation_has_its_default_change_model_and_refuses_the_others() {
        use ChangeModel::*;
        let expected: [(Operation, Option<ChangeModel>, &[ChangeModel]); 17] = [
            (O::Provision, None, &[]),
            (O::Terminate, Some(Live), &[Live]),
            (O::Suspend, Some(Live), &[Live]),
            (O::Resume, Some(Live), &[Live]),
            (O::EnterMaintenance, Some(Live), &[Live]),
            (O::ExitMaintenance, Some(Maintenance), &[Maintenance]),
            (O::Upgrade, Some(Maintenance), &[Maintenance, Swap]),
            (O::Backup, Some(Maintenance), &[Maintenance]),
            (O::Restore, Some(Maintenance), &[Maintenance, Swap]),
            (O::Validate, Some(Live), &[Live]),
            (O::RotateWebappPassword, Some(Live), &[Live]),
            (O::RotateDbPassword, Some(Maintenance), &[Maintenance, Swap]),
            (O::RotateAirflowPassword, Some(Maintenance), &[Maintenance, Swap]),
            (O::MarkBroken, Some(Live), &[Live]),
            (O::ActivateLicense, Some(Live), &[Live]),
            (O::AdoptDrift, Some(Live), &[Live]),
            (O::ReapplyRecorded, Some(Maintenance), &[Maintenance]),
        ];
        for (op, default, accepted) in expected {
            assert_eq!(rule(op).default_model, default, "{op:?}");
            assert_eq!(rule(op).models, accepted, "{op:?}");
            let Some(&from) = rule(op).from.first() else {
                assert_eq!(creation_plan(false).change_model, None);
                continue;
            };
            assert_eq!(ok(from, op, None).change_model, default, "{op:?}");
            for model in [Live, Maintenance, Swap] {
                let got = plan(from, op, Some(model));
                if accepted.contains(&model) {
                    assert_eq!(got.unwrap().change_model, Some(model));
                } else {
                    assert_eq!(
                        got,
                        Err(Refusal::ChangeModelNotAccepted { op, model, accepted: accepted.to_vec() }),
                        "{op:?} with {model:?}"
                    );
                }
            }
        }
        assert!(matches!(plan(S::Healthy, O::Backup, Some(Swap)), Err(Refusal::ChangeModelNotAccepted { .. })));
        assert!(matches!(
            plan(S::Healthy, O::Validate, Some(Maintenance)),
            Err(Refusal::ChangeModelNotAccepted { .. })
        ));
        // A wrong model is reported even from a state the operation is not allowed in.
        assert!(matches!(plan(S::Suspended, O::Backup, Some(Swap)), Err(Refusal::ChangeModelNotAccepted { .. })));
    }

    /// (op, from, model, enter, through, success, failure, failure when the rollback fails)
    type Case = (
        Operation,
        TenantState,
        Option<ChangeModel>,
        Option<TenantState>,
        &'static [TenantState],
        TenantState,
        TenantState,
        Option<TenantState>,
    );

    #[test]
    fn each_operation_passes_through_and_ends_where_the_brief_says() {
        use ChangeModel::*;
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (O::Terminate, S::Healthy, None, None, &[], S::EndOfLife, S::Healthy, None),
            (O::Terminate, S::Restoring, None, None, &[], S::EndOfLife, S::Restoring, None),
            (O::Suspend, S::Broken, None, None, &[], S::Suspended, S::Broken, None),
            (O::Suspend, S::Maintenance, None, None, &[], S::Suspended, S::Maintenance, None),
            (O::Resume, S::Suspended, None, Some(S::InTesting), &[S::InTesting], S::Healthy, S::Broken, None),
            (O::EnterMaintenance, S::Healthy, None, None, &[], S::Maintenance, S::Healthy, None),
            (O::EnterMaintenance, S::Broken, None, None, &[], S::Maintenance, S::Broken, None),
            (O::ExitMaintenance, S::Maintenance, None, Some(S::InTesting), &[S::InTesting], S::Healthy, S::Broken, None),
            // upgrade with maintenance from Healthy locks the tenant first...
            (O::Upgrade, S::Healthy, Some(Maintenance), Some(S::Maintenance), &[S::Maintenance, S::InTesting], S::Healthy, S::Healthy, Some(S::Broken)),
            // ...and does not re-enter Maintenance when it is there already;
            (O::Upgrade, S::Maintenance, None, None, &[S::InTesting], S::Healthy, S::Maintenance, Some(S::Broken)),
            // with swap the live tenant keeps its state until traffic moves.
            (O::Upgrade, S::Healthy, Some(Swap), None, &[S::InTesting], S::Healthy, S::Healthy, Some(S::Broken)),
            (O::Upgrade, S::Maintenance, Some(Swap), None, &[S::InTesting], S::Healthy, S::Maintenance, Some(S::Broken)),
            // A backup whose public access could not be opened again leaves the customer locked out.
            (O::Backup, S::Healthy, None, Some(S::BackingUp), &[S::BackingUp], S::Healthy, S::Healthy, Some(S::Maintenance)),
            (O::Backup, S::Maintenance, None, Some(S::BackingUp), &[S::BackingUp], S::Maintenance, S::Maintenance, Some(S::Maintenance)),
            (O::Restore, S::Broken, None, Some(S::Restoring), &[S::Restoring, S::InTesting], S::Healthy, S::Broken, None),
            (O::Restore, S::Maintenance, Some(Maintenance), Some(S::Restoring), &[S::Restoring, S::InTesting], S::Healthy, S::Broken, None),
            (O::Restore, S::Maintenance, Some(Swap), None, &[S::InTesting], S::Healthy, S::Maintenance, Some(S::Broken)),
            (O::Restore, S::Broken, Some(Swap), None, &[S::InTesting], S::Healthy, S::Broken, Some(S::Broken)),
            (O::Validate, S::Healthy, None, Some(S::InTesting), &[S::InTesting], S::Healthy, S::Broken, None),
            (O::Validate, S::Broken, None, Some(S::InTesting), &[S::InTesting], S::Healthy, S::Broken, None),
            // A rotation rolls back to the current secret; only a failed rollback breaks the tenant.
            (O::RotateWebappPassword, S::Healthy, None, None, &[], S::Healthy, S::Healthy, Some(S::Broken)),
            (O::RotateDbPassword, S::Healthy, None, Some(S::Maintenance), &[S::Maintenance], S::Healthy, S::Healthy, Some(S::Broken)),
            (O::RotateDbPassword, S::Maintenance, None, None, &[], S::Maintenance, S::Maintenance, Some(S::Broken)),
            (O::RotateDbPassword, S::Healthy, Some(Swap), None, &[], S::Healthy, S::Healthy, Some(S::Broken)),
            (O::RotateAirflowPassword, S::Healthy, None, Some(S::Maintenance), &[S::Maintenance], S::Healthy, S::Healthy, Some(S::Broken)),
            (O::RotateAirflowPassword, S::Maintenance, Some(Swap), None, &[], S::Maintenance, S::Maintenance, Some(S::Broken)),
            // An alarm's one step breaks the tenant, and a failure of its workflow does not unbreak it.
            (O::MarkBroken, S::Healthy, None, None, &[S::Broken], S::Broken, S::Broken, None),
            (O::MarkBroken, S::InTesting, None, None, &[S::Broken], S::Broken, S::Broken, None),
            // A license is installed live: the tenant ends as it started, whatever the outcome.
            (O::ActivateLicense, S::Suspended, None, None, &[], S::Suspended, S::Suspended, None),
            (O::ActivateLicense, S::Healthy, None, None, &[], S::Healthy, S::Healthy, None),
            // Adopting drift writes only records: the tenant ends as it started.
            (O::AdoptDrift, S::Broken, None, None, &[], S::Broken, S::Broken, None),
            (O::AdoptDrift, S::Suspended, None, None, &[], S::Suspended, S::Suspended, None),
            // Re-applying the record locks the tenant, then tests it; a box left unknown is Broken.
            (O::ReapplyRecorded, S::Healthy, None, Some(S::Maintenance), &[S::Maintenance, S::InTesting], S::Healthy, S::Broken, None),
            (O::ReapplyRecorded, S::Maintenance, None, None, &[S::InTesting], S::Healthy, S::Broken, None),
            (O::ReapplyRecorded, S::Broken, None, Some(S::Maintenance), &[S::Maintenance, S::InTesting], S::Healthy, S::Broken, None),
        ];
        for &(op, from, model, enter, through, success, failure, rollback_failure) in cases {
            let p = ok(from, op, model);
            let what = format!("{op:?} from {from} with {model:?}");
            assert_eq!(p.enter, enter, "enter: {what}");
            assert_eq!(p.through, through, "through: {what}");
            assert_eq!(p.success_state(), success, "success: {what}");
            assert_eq!(p.failure_state(), failure, "failure: {what}");
            assert_eq!(p.on_rollback_failure.map(|e| e.resolve(from)), rollback_failure, "rollback: {what}");
        }
        // Every requestable operation has at least one case above.
        for op in Operation::ALL.into_iter().filter(|&op| op != O::Provision) {
            assert!(cases.iter().any(|c| c.0 == op), "{op:?} has no case");
        }
    }

    #[test]
    fn as_started_resolves_to_the_state_the_change_request_started_from() {
        assert_eq!(End::AsStarted.resolve(S::Maintenance), S::Maintenance);
        assert_eq!(End::State(S::Healthy).resolve(S::Maintenance), S::Healthy);
        let from_maintenance = ok(S::Maintenance, O::Backup, None);
        let from_healthy = ok(S::Healthy, O::Backup, None);
        assert_eq!(from_maintenance.on_success, End::AsStarted);
        assert_eq!(from_maintenance.on_success.resolve(S::Maintenance), S::Maintenance);
        assert_eq!(from_healthy.on_success.resolve(S::Healthy), S::Healthy);
        assert_eq!(
            (from_maintenance.success_state(), from_maintenance.failure_state()),
            (S::Maintenance, S::Maintenance)
        );
        assert_eq!((from_healthy.success_state(), from_healthy.failure_state()), (S::Healthy, S::Healthy));
    }

    #[test]
    fn creating_a_tenant_starts_provision_or_for_an_import_validate() {
        let p = creation_plan(false);
        assert_eq!((p.operation, p.started, p.change_model), (O::Provision, S::Provisioning, None));
        assert_eq!((p.enter, p.through.as_slice()), (None, &[S::InTesting][..]));
        assert_eq!((p.success_state(), p.failure_state()), (S::Healthy, S::Broken));
        assert_eq!(rule(O::Provision).route(None).through, [S::Provisioning, S::InTesting]);

        let p = creation_plan(true);
        assert_eq!((p.operation, p.started, p.change_model), (O::Validate, S::InTesting, Some(M::Live)));
        assert_eq!((p.enter, p.through.as_slice()), (None, &[][..]));
        assert_eq!((p.success_state(), p.failure_state()), (S::Healthy, S::Broken));
        assert!(p.validates);
        // An admin cannot request validate while a tenant is InTesting: only an import starts it there.
        assert!(plan(S::InTesting, O::Validate, None).is_err());
    }

    /// Every plan from every state with every model: the ends are resting states (a change request
    /// never leaves a tenant Provisioning, BackingUp, Restoring or InTesting) except a failed
    /// `terminate` started in one of them (a tenant whose workflow died), which leaves it as it
    /// was; the steps are real states, and `validates` means the last step is InTesting.
    #[test]
    fn no_plan_ends_outside_the_resting_states() {
        let resting = [S::Healthy, S::Maintenance, S::Suspended, S::Broken, S::EndOfLife];
        let mut plans = vec![creation_plan(false), creation_plan(true)];
        for state in TenantState::ALL {
            for op in Operation::ALL {
                for model in [None, Some(M::Live), Some(M::Maintenance), Some(M::Swap)] {
                    plans.extend(plan(state, op, model).ok());
                }
            }
        }
        assert!(plans.len() > 30);
        for p in plans {
            let what = format!("{:?} from {} with {:?}", p.operation, p.started, p.change_model);
            let mut ends = vec![p.success_state(), p.failure_state()];
            ends.extend(p.on_rollback_failure.map(|e| e.resolve(p.started)));
            for end in ends {
                assert!(TenantState::ALL.contains(&end), "{what}");
                let terminate_failed = p.operation == O::Terminate && end == p.started;
                assert!(resting.contains(&end) || terminate_failed, "{what} ends {end}");
            }
            assert!(p.through.iter().all(|s| TenantState::ALL.contains(s)), "{what}");
            assert!(!p.through.contains(&S::EndOfLife) && !p.through.contains(&p.started), "{what}");
            assert_eq!(p.enter, p.enter.and(p.through.first().copied()), "{what}: enter is the first step");
            let route = rule(p.operation).route(p.change_model);
            assert_eq!(p.validates, route.through.last() == Some(&S::InTesting), "{what}");
            assert_eq!(p.needs_approval, p.operation.needs_approval(), "{what}");
            if let Some(end) = p.on_rollback_failure {
                assert_eq!(p.on_failure, End::AsStarted, "{what}: a working rollback ends as started");
                // A failed rollback breaks the tenant, but a backup's, which only leaves its
                // public access blocked: the customer is locked out, as in Maintenance.
                let locked_out = p.operation == O::Backup;
                assert_eq!(end, End::State(if locked_out { S::Maintenance } else { S::Broken }), "{what}");
            }
        }
    }

    #[test]
    fn only_terminate_and_restore_wait_for_a_second_admin() {
        let approved: Vec<Operation> = Operation::ALL.into_iter().filter(|op| op.needs_approval()).collect();
        assert_eq!(approved, [O::Terminate, O::Restore]);
        assert!(ok(S::Broken, O::Restore, None).needs_approval);
        assert!(!ok(S::Healthy, O::Upgrade, None).needs_approval);
    }

    #[test]
    fn names_match_the_api() {
        for op in Operation::ALL {
            assert_eq!(serde_json::to_value(op).unwrap(), serde_json::json!(op_name(op)));
        }
        for m in [M::Live, M::Maintenance, M::Swap] {
            assert_eq!(serde_json::to_value(m).unwrap(), serde_json::json!(model_name(m)));
        }
    }

    #[test]
    fn a_plan_serializes_for_the_api() {
        let json = serde_json::to_value(ok(S::Healthy, O::Upgrade, None)).unwrap();
        assert_eq!(json["operation"], "upgrade");
        assert_eq!(json["change_model"], "maintenance");
        assert_eq!(json["enter"], "Maintenance");
        assert_eq!(json["through"], serde_json::json!(["Maintenance", "InTesting"]));
        assert_eq!(json["on_success"], serde_json::json!({ "state": "Healthy" }));
        assert_eq!(json["on_failure"], "as_started");
        assert_eq!(json["on_rollback_failure"], serde_json::json!({ "state": "Broken" }));
        assert_eq!(serde_json::to_value(LIFECYCLE).unwrap().as_array().unwrap().len(), Operation::ALL.len());
    }
}
