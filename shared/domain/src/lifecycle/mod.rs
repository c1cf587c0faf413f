//! The tenant lifecycle, as data: one row per [`Operation`] in [`LIFECYCLE`], and small pure
//! functions over it. Everything that asks "may this tenant do that now, and where will it go?"
//! (the API refusing a change request, the workflows writing states with conditional writes, the
//! UI offering buttons, the README diagram) reads this table and nothing else.
//!
//! What is *not* here: the one-change-request-per-tenant claim (a conditional write in the store)
//! and who may approve (roles). A plan says a change request needs a second admin; the API
//! decides who that may be.
//!
//! Refinements of the brief's proposal, each explained on its row:
//! - a change made with the `swap` model never changes the live tenant's state before traffic
//!   moves (also for `restore`, not only `upgrade`);
//! - `rotate_db_password` / `rotate_airflow_password` with the `maintenance` model pass through
//!   `Maintenance` when started from `Healthy`, like `upgrade`;
//! - `restore` with `maintenance` has no rollback (it overwrote the data): failure ⇒ `Broken`.

use std::collections::BTreeMap;
use std::fmt;

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

/// A CloudWatch alarm is not an operation, but it moves a tenant too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlarmRule {
    pub from: &'static [TenantState],
    pub to: TenantState,
}

// ---------------------------------------------------------------------------------------------
// The table

/// A firing CloudWatch alarm breaks a tenant that is serving (or being tested); in any other
/// state the alarm is expected (work in progress, access revoked) or already acted on.
pub static ALARM: AlarmRule = AlarmRule { from: &[S::Healthy, S::InTesting], to: S::Broken };

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
pub static LIFECYCLE: [OperationRule; 13] = [
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
    // `Maintenance`) and gives it back as it was, whether the backup worked or not.
    OperationRule {
        operation: Operation::Backup,
        from: &[S::Healthy, S::Maintenance],
        on_creation: None,
        models: ONLY_MAINTENANCE,
        default_model: Some(M::Maintenance),
        routes: &[Route { model: ANY, entered_at_start: true, through: &[S::BackingUp] }],
        on_success: End::AsStarted,
        on_failure: End::AsStarted,
        rolls_back: &[],
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
    // A failure leaves the old password valid: nothing changed.
    OperationRule {
        operation: Operation::RotateWebappPassword,
        from: &[S::Healthy],
        on_creation: None,
        models: ONLY_LIVE,
        default_model: Some(M::Live),
        routes: STRAIGHT,
        on_success: End::State(S::Healthy),
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: false,
        validates: false,
    },
    // Refined: with `maintenance` the services are stopped while the password changes, so a
    // `Healthy` tenant shows `Maintenance` meanwhile (the state must say when the customer is
    // locked out), then returns as it started. With `swap` the live side is untouched.
    // A failure ends as started: the workflow applies the new password only once it works on
    // both sides (database and config). A half-applied password (database changed, config not)
    // is a failure the workflow must repair or report by moving the tenant to `Broken` itself;
    // it is not this table's default.
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
        on_failure: End::AsStarted,
        rolls_back: &[],
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
        on_failure: End::AsStarted,
        rolls_back: &[],
        needs_approval: false,
        validates: false,
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
    fn new(rule: &OperationRule, started: TenantState, change_model: Option<ChangeModel>) -> Self {
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

/// What an admin may request for a tenant in this state (ignoring a change request that already
/// holds it).
pub fn allowed_operations(state: TenantState) -> Vec<Operation> {
    Operation::ALL.into_iter().filter(|&op| rule(op).from.contains(&state)).collect()
}

/// The state a firing CloudWatch alarm moves a tenant to, if it moves it.
pub fn alarm_fires(state: TenantState) -> Option<TenantState> {
    ALARM.from.contains(&state).then_some(ALARM.to)
}

/// The state diagram (`stateDiagram-v2`) drawn from the table, for the README. One edge per
/// (from → first step), per step, and per end, each labelled with the operations taking it; a
/// failure that leaves the tenant where it was draws no edge.
pub fn mermaid() -> String {
    let mut edges: BTreeMap<(Node, Node), Vec<String>> = BTreeMap::new();
    let mut add = |from: Node, to: Node, label: String| {
        let labels = edges.entry((from, to)).or_default();
        if !labels.contains(&label) {
            labels.push(label);
        }
    };

    for rule in &LIFECYCLE {
        let op = op_name(rule.operation);
        let mut starts: Vec<(TenantState, Vec<Option<ChangeModel>>)> = Vec::new();
        if let Some(created) = rule.on_creation {
            let label = if rule.from.is_empty() { "create" } else { "import" };
            add(Node::Start, Node::State(created), format!("{label} ({op})"));
            starts.push((created, vec![rule.default_model]));
        }
        for &from in rule.from {
            starts.push((from, rule.models.iter().copied().map(Some).collect()));
        }
        for (started, models) in starts {
            for model in models {
                let p = Plan::new(rule, started, model);
                let mut at = started;
                // Where the tenant may be when the work fails.
                let mut positions = vec![started];
                for &s in &p.through {
                    add(Node::State(at), Node::State(s), op.to_owned());
                    positions.push(s);
                    at = s;
                }
                add(Node::State(at), Node::State(p.success_state()), op.to_owned());
                if p.enter.is_some() {
                    positions.remove(0);
                }
                // With `swap`, nothing has touched the live side before its first step: a failure
                // there has nothing to roll back.
                let untouched = if rule.route(model).entered_at_start { None } else { Some(started) };
                for &pos in &positions {
                    let failed = p.failure_state();
                    if failed != pos {
                        add(Node::State(pos), Node::State(failed), format!("{op} failed"));
                    }
                    if Some(pos) == untouched {
                        continue;
                    }
                    if let Some(end) = p.on_rollback_failure {
                        let end = end.resolve(started);
                        if end != pos {
                            add(Node::State(pos), Node::State(end), format!("{op} rollback failed"));
                        }
                    }
                }
            }
        }
    }
    for &from in ALARM.from {
        add(Node::State(from), Node::State(ALARM.to), "alarm".to_owned());
    }
    add(Node::State(S::EndOfLife), Node::End, "resources deleted".to_owned());

    let mut out = String::from("stateDiagram-v2\n");
    for ((from, to), mut labels) in edges {
        // `backup, backup failed` says no more than `backup`.
        let plain = labels.clone();
        labels.retain(|l| !l.strip_suffix(" failed").is_some_and(|op| plain.iter().any(|p| p == op)));
        out.push_str(&format!("    {from} --> {to}: {}\n", labels.join(", ")));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Start,
    State(TenantState),
    End,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start | Self::End => f.write_str("[*]"),
            Self::State(s) => f.write_str(s.as_str()),
        }
    }
}

/// The API name of an operation (as serialized).
fn op_name(op: Operation) -> &'static str {
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
    const EXPECTED: [(Operation, &str); 13] = [
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
    ];

    fn ok(state: TenantState, op: Operation, model: Option<ChangeModel>) -> Plan {
        plan(state, op, model).unwrap_or_else(|e| panic!("{op:?} from {state}: {e}"))
    }

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
        assert_eq!(checked, 9 * 13);
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
        let expected: [(Operation, Option<ChangeModel>, &[ChangeModel]); 13] = [
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
            (O::Backup, S::Healthy, None, Some(S::BackingUp), &[S::BackingUp], S::Healthy, S::Healthy, None),
            (O::Backup, S::Maintenance, None, Some(S::BackingUp), &[S::BackingUp], S::Maintenance, S::Maintenance, None),
            (O::Restore, S::Broken, None, Some(S::Restoring), &[S::Restoring, S::InTesting], S::Healthy, S::Broken, None),
            (O::Restore, S::Maintenance, Some(Maintenance), Some(S::Restoring), &[S::Restoring, S::InTesting], S::Healthy, S::Broken, None),
            (O::Restore, S::Maintenance, Some(Swap), None, &[S::InTesting], S::Healthy, S::Maintenance, Some(S::Broken)),
            (O::Restore, S::Broken, Some(Swap), None, &[S::InTesting], S::Healthy, S::Broken, Some(S::Broken)),
            (O::Validate, S::Healthy, None, Some(S::InTesting), &[S::InTesting], S::Healthy, S::Broken, None),
            (O::Validate, S::Broken, None, Some(S::InTesting), &[S::InTesting], S::Healthy, S::Broken, None),
            (O::RotateWebappPassword, S::Healthy, None, None, &[], S::Healthy, S::Healthy, None),
            (O::RotateDbPassword, S::Healthy, None, Some(S::Maintenance), &[S::Maintenance], S::Healthy, S::Healthy, None),
            (O::RotateDbPassword, S::Maintenance, None, None, &[], S::Maintenance, S::Maintenance, None),
            (O::RotateDbPassword, S::Healthy, Some(Swap), None, &[], S::Healthy, S::Healthy, None),
            (O::RotateAirflowPassword, S::Healthy, None, Some(S::Maintenance), &[S::Maintenance], S::Healthy, S::Healthy, None),
            (O::RotateAirflowPassword, S::Maintenance, Some(Swap), None, &[], S::Maintenance, S::Maintenance, None),
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
        assert_eq!(allowed_operations(S::Suspended), [O::Terminate, O::Resume]);
        assert_eq!(allowed_operations(S::InTesting), [O::Terminate]);
    }

    #[test]
    fn every_operation_can_start_from_some_state() {
        for op in Operation::ALL {
            let by_request = TenantState::ALL.into_iter().any(|s| plan(s, op, None).is_ok());
            let by_creation = rule(op).on_creation.is_some();
            assert!(by_request || by_creation, "{op:?} can never run");
        }
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
                assert_eq!(end, End::State(S::Broken), "{what}");
            }
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
        assert_eq!(serde_json::to_value(LIFECYCLE).unwrap().as_array().unwrap().len(), 13);
    }

    #[test]
    fn the_diagram_is_drawn_from_the_table() {
        let d = mermaid();
        assert!(d.starts_with("stateDiagram-v2\n"));
        assert!(d.lines().count() > 20);
        for s in TenantState::ALL {
            assert!(d.contains(s.as_str()), "{s} missing from\n{d}");
        }
        for op in Operation::ALL {
            assert!(d.contains(op_name(op)), "{op:?} missing from\n{d}");
        }
        for edge in [
            "[*] --> Provisioning: create (provision)",
            "[*] --> InTesting: import (validate)",
            "Healthy --> Maintenance: enter_maintenance, upgrade, rotate_db_password, rotate_airflow_password",
            "EndOfLife --> [*]",
        ] {
            assert!(d.contains(edge), "{edge} missing from\n{d}");
        }
        assert!(d.lines().any(|l| l.starts_with("    Healthy --> Broken:") && l.contains("alarm")), "{d}");
        // Swap leaves the live side alone: no "rollback failed" straight from where it started.
        assert!(!d.contains("Healthy --> Broken: upgrade"), "{d}");
        assert!(d.contains("    BackingUp --> Healthy: backup\n"), "{d}");
        assert_eq!(d, mermaid(), "deterministic");
    }
}

#[cfg(test)]
mod readme {
    /// The README draws the lifecycle; it must be the diagram the table generates.
    #[test]
    fn the_readme_diagram_is_the_generated_one() {
        let readme = include_str!("../../../../README.md");
        let diagram = super::mermaid();
        if std::env::var_os("PRINT_LIFECYCLE").is_some() {
            println!("{diagram}");
        }
        assert!(
            readme.contains(diagram.trim()),
            "README.md's lifecycle diagram is stale: run PRINT_LIFECYCLE=1 cargo test --workspace --lib the_readme_diagram -- --nocapture and paste it"
        );
    }
}
