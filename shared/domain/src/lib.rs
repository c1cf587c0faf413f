//! The tenant control plane's domain: the registry models, the values they are made of, and
//! the rules that hold whatever stores them. No AWS in here: every type is parsed at the edge
//! (HTTP body, stream record, table item) and is valid once it exists.

pub mod actor;
pub mod alarms;
pub mod callback;
pub mod compose;
pub mod drift;
pub mod emf;
pub mod error;
pub mod history;
pub mod ids;
pub mod lifecycle;
pub mod metering;
pub mod metrics;
pub mod models;
pub mod patch;
pub mod redact;
pub mod schedule;
pub mod state;
pub mod tags;
pub mod values;
pub mod versions;

pub use actor::{Actor, Role, Source};
pub use error::FieldError;
pub use ids::{AssignmentId, ChangeRequestId, CustomerId, HealthRunId, LicenseId, ResourceId, RolloutId, TenantId};
pub use models::*;
pub use state::{ChangeModel, ChangeRequestStatus, Operation, TenantState};
pub use tags::{TagFilter, Tags};
pub use values::*;
