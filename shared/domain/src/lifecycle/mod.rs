//! The tenant lifecycle, as data: one row per [`Operation`](crate::Operation) in [`LIFECYCLE`], and small pure
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
//! - `restore` with `maintenance` has no rollback (it overwrote the data): failure ⇒ `Broken`;
//! - a firing alarm is the `mark_broken` operation, a change request like any other (it was a
//!   rule of its own beside the table), so its evidence and actor are on record.

mod diagram;
mod plan;
mod step;
mod table;

pub use diagram::mermaid;
pub use plan::{Plan, Refusal, creation_plan, plan};
pub use step::{DriftAction, ROLLBACK, SecretAction, SecretKind, SecretPick, SecretUse, Step};
pub use table::{End, LIFECYCLE, OperationRule, Route, alarm_fires, allowed_operations, rule};
