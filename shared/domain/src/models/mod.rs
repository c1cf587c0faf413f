//! The nine seed models (and the evidence an alarm leaves on a change request), their write stamp, and the commands (create / patch bodies) that make
//! and change them. Commands refuse unknown fields; models are what the store keeps and the API
//! returns.

mod alarm_evidence;
mod aws_resource;
mod backup;
mod change_request;
mod component_version;
mod customer;
mod drift_report;
mod health_run;
mod license;
mod license_assignment;
mod license_changes;
mod meter_sample;
mod release;
mod rollout;
mod stamp;
mod tenant;
mod tenant_config;
mod tenant_report;
mod upgrade_plan;
mod work_report;

pub use alarm_evidence::*;
pub use aws_resource::*;
pub use backup::*;
pub use change_request::*;
pub use component_version::*;
pub use customer::*;
pub use drift_report::*;
pub use health_run::*;
pub use license::*;
pub use license_assignment::*;
pub use license_changes::*;
pub use meter_sample::*;
pub use release::*;
pub use rollout::*;
pub use stamp::*;
pub use tenant::*;
pub use tenant_config::*;
pub use tenant_report::*;
pub use upgrade_plan::*;
pub use work_report::*;
