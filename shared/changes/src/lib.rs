//! The change-request core: every operation on change requests, over the store and the
//! workflow ports, with no HTTP in it. The API's handlers, the lifecycle workflow's tasks, the
//! reconciler of execution ends, the schedules, the alarms, the rollouts and the demo seed all
//! call it alike, as a [`Caller`].
//!
//! - [`create`]: the plan checked against the lifecycle table, the claim, once-only guards, the
//!   start ([`start`]); a new tenant with the change request that brings it up.
//! - [`decide`]: approve, reject, cancel; [`abort`]: stop a running one.
//! - [`progress`]: record a step, move the tenant through its plan; [`finish`]: end it.
//! - [`reconcile`]: finish what its execution did not; [`work`]: stop the running build or command.
//! - [`built`]: what its jobs reported they built and set, recorded when it finishes;
//!   [`standard_alarms`]: a provision's CloudWatch alarms, deleted by a terminate.
//! - [`records`]: an upgrade's release recorded, and written back by its rollback;
//!   [`backups`]: the catalog, and what a restore writes back.
//! - [`fleet`]: the fleet counters kept in the same transactions.
//! - [`fanout`]: a schedule's run over the fleet, eligible tenants found with `Query`s.
//! - [`rollouts`]: one operation over a selection of tenants, in waves with health gates; its
//!   dry-run plan; the driver that advances it.
//! - [`callback`]: Jenkins completion by signed callback: the token a workflow waits on, and
//!   the callback that wakes it (verified, once only).
//! - [`measure`]: the business metrics it writes as it acts (EMF lines).
//! - [`licenses`]: an assignment's change started on its customer's tenants (activate, suspend),
//!   the `licenses` schedule's expiry, the license bound of an upgrade.
//! - [`drift`]: a tenant's box read through its Update Manager and compared with the record, the
//!   `drift` schedule, the fleet's drifted tenants, and the steps that adopt the live values or
//!   install the record again and read it back.
//! - [`metering`]: the `metering` schedule's usage samples, a tenant's series and a customer's
//!   month.
//! - [`once`]: once-only guards for what a system creates (a schedule's slot, an alarm).

pub mod abort;
pub mod backups;
pub mod built;
pub mod callback;
pub mod caller;
pub mod create;
pub mod decide;
pub mod drift;
pub mod error;
pub mod fanout;
pub mod finish;
pub mod fleet;
pub mod input;
pub mod licenses;
pub mod measure;
pub mod metering;
pub mod once;
pub mod params;
pub mod progress;
pub mod read;
pub mod reconcile;
pub mod records;
pub mod retry;
pub mod rollouts;
pub mod standard_alarms;
pub mod start;
pub mod wiring;
pub mod work;

use std::sync::Arc;

use engine::{Alarms, Jenkins, RemoteCommands, Workflows};
use store::Table;

pub use caller::Caller;
pub use create::{ChangeCreate, Guard, Prepared};
pub use error::ChangeError;
pub use fanout::{FanOutReport, Pace};
pub use finish::{Ending, Finished};
pub use input::WorkflowInput;
pub use progress::Advance;
pub use read::Held;
pub use reconcile::{Reconciled, SweepReport};

/// The core, over its ports: the registry table, the workflows that run change requests, the
/// Jenkins and SSM that run their work (to stop it), and CloudWatch for the tenants' alarms.
#[derive(Clone)]
pub struct Changes {
    pub table: Arc<dyn Table>,
    pub workflows: Arc<dyn Workflows>,
    pub jenkins: Arc<dyn Jenkins>,
    pub remote: Arc<dyn RemoteCommands>,
    pub alarms: Arc<dyn Alarms>,
}

#[cfg(test)]
mod tests;
