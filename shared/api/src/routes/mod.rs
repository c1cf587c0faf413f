//! One module per resource; each handler is annotated for the OpenAPI document.

pub mod backups;
pub mod callbacks;
pub mod change_requests;
pub mod compose;
pub mod customers;
pub mod drift;
pub mod history;
pub mod licenses;
pub mod meta;
pub mod metering;
pub mod metrics;
pub mod releases;
pub mod report;
pub mod resources;
pub mod rollouts;
pub mod tenant_data;
pub mod tenants;
pub mod versions;

use domain::WriteContext;

use crate::auth::Principal;
use crate::error::ApiError;

/// The stamp context of a write made through the API by this caller.
pub(crate) fn ctx(p: &Principal) -> WriteContext {
    WriteContext::api(p.actor.clone())
}

/// Parses a path parameter, answering 400 naming it when it does not parse.
pub(crate) fn path_param<T>(
    name: &str,
    raw: &str,
    parse: impl FnOnce(&str) -> Result<T, domain::FieldError>,
) -> Result<T, ApiError> {
    parse(raw).map_err(|e| ApiError::bad_request(name, format!("path parameter `{name}`: {}", e.message)))
}
