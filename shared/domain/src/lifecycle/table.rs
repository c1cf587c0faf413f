//! The lifecycle table: which operations may be requested from which states, the states they
//! pass through under each change model, and where they end (a CloudWatch alarm too: its
//! `mark_broken` is a row like any other).

use serde::Serialize;
use utoipa::ToSchema;

use crate::{ChangeModel, Operation, TenantState};

use ChangeModel as M;
use TenantState as S;

// ---------------------------------------------------------------------------------------------
// The table's vocabulary

/// Where a change request leaves the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// This state, whatever the tenant started from.
    State(TenantState),
    /// The state the tenant was in when the change request started.
    AsStarted,
}

impl End {
    pub fn resolve(self, started: TenantState) -> TenantState {
        match self {
            Self::State(s) => s,
            Self::AsStarted => started,
        }
    }
}

/// The states an operation passes through under one change model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Route {
    /// The change model this route is for; `None`: every model the operation takes (or none,
    /// for `provision`).
    pub model: Option<ChangeModel>,
    /// Whether the first state is written as soon as the change request starts. `false` for
    /// `swap`: the live tenant keeps its state while the parallel side is built and validated,
    /// and moves to the first state only once traffic has moved to the new side.
    pub entered_at_start: bool,
    /// In order. A step into the state the tenant is already in is skipped (an `upgrade` from
    /// `Maintenance` does not "enter" `Maintenance` again).
    pub through: &'static [TenantState],
}

/// One operation's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OperationRule {
    pub operation: Operation,
    /// The states an admin may request it in. Empty: it is only started by creating a tenant.
    pub from: &'static [TenantState],
    /// Also (or only) started by creating a tenant, which is created in this state: `provision`
    /// (a new deployment, `Provisioning`) and `validate` (registering an imported, already running
    /// deployment, `InTesting`).
    pub on_creation: Option<TenantState>,
    /// The change models it accepts; empty for `provision`.
    pub models: &'static [ChangeModel],
    /// The model used when the request names none; `None` only for `provision`.
    pub default_model: Option<ChangeModel>,
    /// The states it passes through, per change model.
    pub routes: &'static [Route],
    pub on_success: End,
    /// Where a failure ends when it is not rolled back, and where a rollback that fails ends.
    pub on_failure: End,
    /// Under these change models a failure is rolled back: the rollback working ends
    /// [`End::AsStarted`], the rollback failing ends [`on_failure`](Self::on_failure).
    pub rolls_back: &'static [ChangeModel],
    /// Waits for a second admin's approval before it runs.
    pub needs_approval: bool,
    /// Runs the health baseline (in `InTesting`) at its end; its verdict picks success or failure.
    pub validates: bool,
}

// ---------------------------------------------------------------------------------------------
// The table

const ANY: Option<ChangeModel> = None;
const ONLY_LIVE: &[ChangeModel] = &[M::Live];
const ONLY_MAINTENANCE: &[ChangeModel] = &[M::Maintenance];
const MAINTENANCE_OR_SWAP: &[ChangeModel] = &[M::Maintenance, M::Swap];
const NO_STATES: &[TenantState] = &[];
/// A live change with no state of its own: the tenant moves straight to its end.
const STRAIGHT: &[Route] = &[Route { model: ANY, entered_at_start: true, through: NO_STATES }];
/// Validated after the work: `InTesting` from the start (the work is the validation, or it
/// happens before the change request moves the tenant).
const TESTED: &[Route] = &[Route { model: ANY, entered_at_start: true, through: &[S::InTesting] }];

/// The lifecycle, one row per operation, in [`Operation::ALL`] order.
pub static LIFECYCLE: [OperationRule; 17] = [
    // A new deployment. The tenant is created `Provisioning`, with this change request holding it.
    OperationRule {
        operation: Operation::Provision,
        from: &[],
        on_creation: Some(S::Provisioning),
        models: &[],
        default_model: None,
        routes: &[Route { model: ANY, entered_at_start: true, through: &[S::Provisioning, S::InTesting] }],
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: &[],
        needs_approval: false,
        validates: true,
    },
    // From any state but `EndOfLife` (that a change request already holds the tenant is refused
    // by the claim, not here). A failed termination leaves the tenant as it was: nothing the
    // customer relies on has been deleted before the last step. Started from a transitional
    // state (a tenant whose workflow died in `Provisioning`, `BackingUp`, `Restoring` or
    // `InTesting`), that means it stays there: the only way a change request ends outside the
    // resting states.
    OperationRule {
        operation: Operation::Terminate,
        from: &[
            S::Provisioning,
            S::Healthy,
            S::Maintenance,
            S::BackingUp,
            S::Restoring,
            S::InTesting,
            S::Suspended,
            S::Broken,
        ],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::State(S::EndOfLife),
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: true,
        validates: false,
    },
    OperationRule {
        operation: Operation::Suspend,
        from: &[S::Healthy, S::Maintenance, S::Broken],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::State(S::Suspended),
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: false,
        validates: false,
    },
    // Access comes back, then the baseline says whether the tenant is fit to serve.
    OperationRule {
        operation: Operation::Resume,
        from: &[S::Suspended],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: TESTED,
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: &[],
        needs_approval: false,
        validates: true,
    },
    OperationRule {
        operation: Operation::EnterMaintenance,
        from: &[S::Healthy, S::Broken],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::State(S::Maintenance),
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: false,
        validates: false,
    },
    OperationRule {
        operation: Operation::ExitMaintenance,
        from: &[S::Maintenance],
        on_creation: None,
        models: ONLY_MAINTENANCE,
        default_model: Some(M::Maintenance),
        routes: TESTED,
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: &[],
        needs_approval: false,
        validates: true,
    },
    // With `maintenance` the tenant is locked down (`Maintenance`, entered at once unless it is
    // there already), upgraded, then tested. With `swap` the live tenant keeps serving while the
    // new side is built and validated; `InTesting` starts once traffic has moved. Either way a
    // failure is rolled back (swap: before traffic moved there is nothing to undo; after, traffic
    // moves back to the kept old side) and only a failed rollback leaves it `Broken`.
    OperationRule {
        operation: Operation::Upgrade,
        from: &[S::Healthy, S::Maintenance],
        on_creation: None,
        models: MAINTENANCE_OR_SWAP,
        default_model: Some(M::Maintenance),
        routes: &[
            Route { model: Some(M::Maintenance), entered_at_start: true, through: &[S::Maintenance, S::InTesting] },
            Route { model: Some(M::Swap), entered_at_start: false, through: &[S::InTesting] },
        ],
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: MAINTENANCE_OR_SWAP,
        needs_approval: false,
        validates: true,
    },
    // A full backup locks the tenant (`BackingUp` is read-only to the customer, like
    // `Maintenance`), blocks its public access while it copies (seed recipe 4) and gives it back
    // as it was, whether the backup worked or not: a failure once access was blocked opens it
    // again (its rollback). When even that fails the customer stays locked out, which is what
    // `Maintenance` says.
    OperationRule {
        operation: Operation::Backup,
        from: &[S::Healthy, S::Maintenance],
        on_creation: None,
        models: ONLY_MAINTENANCE,
        default_model: Some(M::Maintenance),
        routes: &[Route { model: ANY, entered_at_start: true, through: &[S::BackingUp] }],
        on_success: End::AsStarted,
        on_failure: End::State(S::Maintenance),
        rolls_back: ONLY_MAINTENANCE,
        needs_approval: false,
        validates: false,
    },
    // Refined: with `swap` the backup is restored onto the parallel side, so the live tenant
    // keeps its state (as for `upgrade`) and a failure before traffic moved leaves it as it
    // started; after traffic moved, traffic moves back. With `maintenance` the restore overwrites
    // the live data: there is nothing to roll back to, so a failure is `Broken`.
    OperationRule {
        operation: Operation::Restore,
        from: &[S::Maintenance, S::Broken],
        on_creation: None,
        models: MAINTENANCE_OR_SWAP,
        default_model: Some(M::Maintenance),
        routes: &[
            Route { model: Some(M::Maintenance), entered_at_start: true, through: &[S::Restoring, S::InTesting] },
            Route { model: Some(M::Swap), entered_at_start: false, through: &[S::InTesting] },
        ],
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: &[M::Swap],
        needs_approval: true,
        validates: true,
    },
    // Requested from `Healthy` or `Broken`; also started by registering an imported tenant,
    // which is created `InTesting` (so an admin cannot request it while a tenant is `InTesting`).
    OperationRule {
        operation: Operation::Validate,
        from: &[S::Healthy, S::Broken],
        on_creation: Some(S::InTesting),
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: TESTED,
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: &[],
        needs_approval: false,
        validates: true,
    },
    // A rotation writes a new version of the tenant's secret, applies it on the box, verifies
    // the component works with it, then promotes it to current. A failure once it was applied is
    // rolled back (the current version applied again and verified): the tenant ends as it
    // started; only a rollback that fails too leaves it `Broken` (a password half-applied).
    OperationRule {
        operation: Operation::RotateWebappPassword,
        from: &[S::Healthy],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: ONLY_LIVE,
        needs_approval: false,
        validates: false,
    },
    // Refined: with `maintenance` the services are stopped while the password changes, so a
    // `Healthy` tenant shows `Maintenance` meanwhile (the state must say when the customer is
    // locked out), then returns as it started. With `swap` the live side is untouched.
    // A failure is rolled back as for `rotate_webapp_password` and ends as started; a failed
    // rollback (a half-applied password) is `Broken`.
    OperationRule {
        operation: Operation::RotateDbPassword,
        from: &[S::Healthy, S::Maintenance],
        on_creation: None,
        models: MAINTENANCE_OR_SWAP,
        default_model: Some(M::Maintenance),
        routes: &[
            Route { model: Some(M::Maintenance), entered_at_start: true, through: &[S::Maintenance] },
            Route { model: Some(M::Swap), entered_at_start: false, through: NO_STATES },
        ],
        on_success: End::AsStarted,
        on_failure: End::State(S::Broken),
        rolls_back: MAINTENANCE_OR_SWAP,
        needs_approval: false,
        validates: false,
    },
    // As `rotate_db_password`.
    OperationRule {
        operation: Operation::RotateAirflowPassword,
        from: &[S::Healthy, S::Maintenance],
        on_creation: None,
        models: MAINTENANCE_OR_SWAP,
        default_model: Some(M::Maintenance),
        routes: &[
            Route { model: Some(M::Maintenance), entered_at_start: true, through: &[S::Maintenance] },
            Route { model: Some(M::Swap), entered_at_start: false, through: NO_STATES },
        ],
        on_success: End::AsStarted,
        on_failure: End::State(S::Broken),
        rolls_back: MAINTENANCE_OR_SWAP,
        needs_approval: false,
        validates: false,
    },
    // A firing CloudWatch alarm breaks a tenant that is serving (or being tested); in any other
    // state the alarm is expected (work in progress, access revoked) or already acted on. The
    // change request (actor `alarm:<name>`, the alarm's evidence in its params) has no work:
    // its one step writes `Broken`, and a failure of its workflow ends there too (the alarm
    // fired whatever the workflow did). Only a `validate` (or a restore) brings the tenant
    // back; an alarm going `OK` does not.
    OperationRule {
        operation: Operation::MarkBroken,
        from: &[S::Healthy, S::InTesting],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: &[Route { model: ANY, entered_at_start: false, through: &[S::Broken] }],
        on_success: End::State(S::Broken),
        on_failure: End::State(S::Broken),
        rolls_back: &[],
        needs_approval: false,
        validates: false,
    },
    // A license assigned to the tenant's customer (or upgraded) is installed on the box from its
    // key's reference (seed recipe 1), live: the tenant keeps its state whatever the outcome (a
    // suspended tenant gets the new key too, and stays suspended until it is resumed).
    // Requested by the core when an assignment becomes active or changes license.
    OperationRule {
        operation: Operation::ActivateLicense,
        from: &[S::Healthy, S::Maintenance, S::Suspended, S::Broken],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::AsStarted,
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: false,
        validates: false,
    },
    // Drift adopted: the box is right and the record follows it. Nothing runs on the box; the
    // tenant keeps its state whatever the outcome (a record that could not be written is left
    // as it was, with its drift still reported).
    OperationRule {
        operation: Operation::AdoptDrift,
        from: &[S::Healthy, S::Maintenance, S::Suspended, S::Broken],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::AsStarted,
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: false,
        validates: false,
    },
    // Drift undone: the record is right and the box is made to run it again, locked down while
    // its Update Manager installs (as an upgrade in maintenance), then read back and tested. A
    // box that still differs, or fails its suites, is `Broken`: what it runs is then unknown.
    OperationRule {
        operation: Operation::ReapplyRecorded,
        from: &[S::Healthy, S::Maintenance, S::Broken],
        on_creation: None,
        models: ONLY_MAINTENANCE,
        default_model: Some(M::Maintenance),
        routes: &[Route { model: ANY, entered_at_start: true, through: &[S::Maintenance, S::InTesting] }],
        on_success: End::State(S::Healthy),
        on_failure: End::State(S::Broken),
        rolls_back: &[],
        needs_approval: false,
        validates: true,
    },
];

// The rows are in `Operation` order, so `rule` is an index.
const _: () = {
    let mut i = 0;
    while i < LIFECYCLE.len() {
        assert!(LIFECYCLE[i].operation as usize == i, "LIFECYCLE rows must be in Operation order");
        i += 1;
    }
};

// ---------------------------------------------------------------------------------------------
// Reading it

/// The row of one operation.
pub fn rule(op: Operation) -> &'static OperationRule {
    &LIFECYCLE[op as usize]
}

impl OperationRule {
    /// The route taken under a change model (`None` for `provision`).
    pub fn route(&self, model: Option<ChangeModel>) -> &'static Route {
        self.routes
            .iter()
            .find(|r| r.model.is_none() || r.model == model)
            .expect("every accepted change model has a route (checked by the tests)") // ok: static table
    }
}

/// What an admin may request for a tenant in this state (ignoring a change request that already
/// holds it).
pub fn allowed_operations(state: TenantState) -> Vec<Operation> {
    Operation::ALL.into_iter().filter(|&op| rule(op).from.contains(&state)).collect()
}

/// The state a firing CloudWatch alarm moves a tenant to (through `mark_broken`), if it moves it.
pub fn alarm_fires(state: TenantState) -> Option<TenantState> {
    let r = rule(Operation::MarkBroken);
    r.from.contains(&state).then(|| r.on_success.resolve(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::plan::op_name;
    use crate::lifecycle::{Refusal, plan};
    use Operation as O;

    /// The states, in the column order of [`EXPECTED`].
    const COLUMNS: [TenantState; 9] = [
        S::Provisioning,
        S::Healthy,
        S::Maintenance,
        S::BackingUp,
        S::Restoring,
        S::InTesting,
        S::Suspended,
        S::Broken,
        S::EndOfLife,
    ];

    /// Written by hand from the brief, not from the table: `x` may be requested in that state,
    /// `.` may not, `c` is started only by creating a tenant.
    #[rustfmt::skip]
    const EXPECTED: [(Operation, &str); 17] = [
        //                              Prov Heal Main BkUp Rest InTe Susp Brok EoL
        (O::Provision,             "c    c    c    c    c    c    c    c    c"),
        (O::Terminate,             "x    x    x    x    x    x    x    x    ."),
        (O::Suspend,               ".    x    x    .    .    .    .    x    ."),
        (O::Resume,                ".    .    .    .    .    .    x    .    ."),
        (O::EnterMaintenance,      ".    x    .    .    .    .    .    x    ."),
        (O::ExitMaintenance,       ".    .    x    .    .    .    .    .    ."),
        (O::Upgrade,               ".    x    x    .    .    .    .    .    ."),
        (O::Backup,                ".    x    x    .    .    .    .    .    ."),
        (O::Restore,               ".    .    x    .    .    .    .    x    ."),
        (O::Validate,              ".    x    .    .    .    .    .    x    ."),
        (O::RotateWebappPassword,  ".    x    .    .    .    .    .    .    ."),
        (O::RotateDbPassword,      ".    x    x    .    .    .    .    .    ."),
        (O::RotateAirflowPassword, ".    x    x    .    .    .    .    .    ."),
        (O::MarkBroken,            ".    x    .    .    .    x    .    .    ."),
        (O::ActivateLicense,       ".    x    x    .    .    .    x    x    ."),
        (O::AdoptDrift,            ".    x    x    .    .    .    x    x    ."),
        (O::ReapplyRecorded,       ".    x    x    .    .    .    .    x    ."),
    ];

    #[test]
    fn the_table_has_one_row_per_operation_in_order() {
        assert_eq!(LIFECYCLE.len(), Operation::ALL.len());
        for (i, op) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(op as usize, i);
            assert_eq!(rule(op).operation, op);
        }
        assert_eq!(COLUMNS, TenantState::ALL);
    }

    #[test]
    fn every_state_and_operation_pair_is_allowed_or_refused_as_expected() {
        let mut checked = 0;
        for (op, row) in EXPECTED {
            let cells: Vec<&str> = row.split_whitespace().collect();
            assert_eq!(cells.len(), 9, "{op:?}");
            let allowed: Vec<TenantState> =
                COLUMNS.into_iter().zip(&cells).filter(|(_, c)| **c == "x").map(|(s, _)| s).collect();
            for (state, cell) in COLUMNS.into_iter().zip(cells) {
                let got = plan(state, op, None);
                match cell {
                    "x" => {
                        let p = got.unwrap_or_else(|e| panic!("{op:?} from {state} refused: {e}"));
                        assert_eq!((p.operation, p.started), (op, state));
                    }
                    "." => {
                        let Err(err) = got else { panic!("{op:?} from {state} must be refused") };
                        assert_eq!(err, Refusal::NotFromState { op, state, allowed: allowed.clone() });
                        let text = err.to_string();
                        assert!(text.contains(&format!("while the tenant is {state} ")), "{text}");
                        assert!(text.starts_with(&format!("{} is not allowed", op_name(op))), "{text}");
                    }
                    "c" => assert_eq!(got, Err(Refusal::CreationOnly { op })),
                    other => panic!("bad cell {other}"),
                }
                assert_eq!(allowed_operations(state).contains(&op), cell == "x", "{op:?} from {state}");
                checked += 1;
            }
        }
        assert_eq!(checked, 9 * Operation::ALL.len());
    }

    #[test]
    fn the_alarm_breaks_only_a_serving_or_tested_tenant() {
        for s in TenantState::ALL {
            let expected = match s {
                S::Healthy | S::InTesting => Some(S::Broken),
                S::Provisioning
                | S::Maintenance
                | S::BackingUp
                | S::Restoring
                | S::Suspended
                | S::Broken
                | S::EndOfLife => None,
            };
            assert_eq!(alarm_fires(s), expected, "{s}");
        }
    }

    #[test]
    fn allowed_operations_are_what_an_admin_may_request_now() {
        assert!(allowed_operations(S::EndOfLife).is_empty());
        let healthy = allowed_operations(S::Healthy);
        assert!(healthy.contains(&O::Upgrade));
        assert!(!healthy.contains(&O::Resume));
        assert!(!healthy.contains(&O::Provision));
        assert_eq!(allowed_operations(S::Suspended), [O::Terminate, O::Resume, O::ActivateLicense, O::AdoptDrift]);
        assert_eq!(allowed_operations(S::InTesting), [O::Terminate, O::MarkBroken]);
    }

    #[test]
    fn every_operation_can_start_from_some_state() {
        for op in Operation::ALL {
            let by_request = TenantState::ALL.into_iter().any(|s| plan(s, op, None).is_ok());
            let by_creation = rule(op).on_creation.is_some();
            assert!(by_request || by_creation, "{op:?} can never run");
        }
    }

    #[test]
    fn every_accepted_change_model_has_exactly_one_route() {
        for r in &LIFECYCLE {
            assert_eq!(r.default_model.is_none(), r.models.is_empty(), "{:?}", r.operation);
            if let Some(d) = r.default_model {
                assert!(r.models.contains(&d), "{:?}", r.operation);
            }
            assert!(r.rolls_back.iter().all(|m| r.models.contains(m)), "{:?}", r.operation);
            let models: Vec<Option<ChangeModel>> =
                if r.models.is_empty() { vec![None] } else { r.models.iter().copied().map(Some).collect() };
            for m in models {
                let n = r.routes.iter().filter(|route| route.model.is_none() || route.model == m).count();
                assert_eq!(n, 1, "{:?} with {m:?}", r.operation);
            }
        }
    }
}
