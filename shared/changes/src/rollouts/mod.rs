//! Rollouts: one operation over a selection of tenants, in waves, each tenant's change its own
//! change request made through [`Changes::create`] by the caller `rollout:<id>` (so the history
//! and every change request name the rollout), with a gate between waves.
//!
//! - [`select`]: the selected tenants, read with `Query`s on the tenant indexes (never a `Scan`).
//! - [`plan`]: the dry run (would each tenant run, or why not; its wave, its plan, the component
//!   diff of an upgrade), and the checks a rollout's body needs against the registry.
//! - [`create`]: the rollout record and one member record per tenant.
//! - [`advance`]: the driver: starts a wave's change requests (at most `concurrency` active),
//!   follows them, and opens the gate (every change ended, failures within `max_failures`, no
//!   alarm on the rollout's tenants during the soak) or halts the rollout. Called by the API right
//!   after a create or a resume, and every minute by `functions/rollouts`.
//! - [`control`]: pause, resume, abort (aborting the running change requests through
//!   [`Changes::abort`]); [`read`]: a rollout with its waves.

pub mod advance;
pub mod control;
pub mod create;
pub mod plan;
pub mod read;
pub mod select;

pub use advance::AdvanceReport;

use domain::{RolloutId, Source};

use crate::Caller;

/// Who makes a rollout's change requests.
pub fn caller_of(id: &RolloutId) -> Caller {
    Caller::system(&format!("rollout:{id}"), Source::Rollout)
}

#[cfg(test)]
mod tests;
