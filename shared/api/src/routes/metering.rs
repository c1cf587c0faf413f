//! Metering reports: a tenant's usage samples over a window (`GET /v1/tenants/{id}/metering`)
//! and a customer's month (`GET /v1/metering`), read by the core from the samples the daily
//! `metering` schedule keeps under each tenant.

use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use domain::metering::{MeterRollup, MeterWindow, Month};
use domain::{CustomerId, MeterSample, TenantId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{path_param, tenants};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::persist::App;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeteringParams {
    /// From this time (RFC 3339; default: 30 days before `to`), before `to`, at most 366 days
    /// before it.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub from: Option<String>,
    /// Up to this time (RFC 3339; default: now).
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub to: Option<String>,
}

/// A tenant's usage samples over a window, oldest first: one a day (the `metering` schedule's
/// slot), each as its Update Manager reported it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantMetering {
    pub tenant_id: TenantId,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub samples: Vec<MeterSample>,
}

/// The tenant's usage samples (assets, users, data volume in bytes) from `from` to `to`.
#[utoipa::path(get, path = "/v1/tenants/{id}/metering", tag = "metering", params(("id" = TenantId, Path), MeteringParams),
    responses((status = 200, body = TenantMetering)))]
pub async fn tenant_metering(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<MeteringParams>,
) -> Result<axum::Json<TenantMetering>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let window = MeterWindow::parse(p.from.as_deref(), p.to.as_deref(), Utc::now())
        .map_err(|e| ApiError::bad_request(&e.field, e.message))?;
    tenants::load(&app, &id).await?;
    let samples = app.changes.meter_series(&id, &window).await?;
    Ok(axum::Json(TenantMetering { tenant_id: id, from: window.from, to: window.to, samples }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RollupParams {
    /// The customer whose tenants are rolled up.
    #[param(value_type = CustomerId, required = true)]
    pub customer_id: Option<String>,
    /// The month, `YYYY-MM` in UTC (default: this month). A sample belongs to the month of its
    /// time in UTC.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub month: Option<String>,
}

/// A customer's usage over a month: per tenant the month's peak users and assets, its peak and
/// its average data volume (the mean of its daily samples, bytes, rounded down); `total` is the
/// sum over the tenants of each figure. A customer with no tenants (or an id no customer has)
/// rolls up to nothing.
#[utoipa::path(get, path = "/v1/metering", tag = "metering", params(RollupParams),
    responses((status = 200, body = MeterRollup)))]
pub async fn customer_metering(
    State(app): State<App>,
    _: Principal,
    QueryParams(p): QueryParams<RollupParams>,
) -> Result<axum::Json<MeterRollup>, ApiError> {
    let raw = p.customer_id.ok_or_else(|| ApiError::bad_request("customer_id", "customer_id is required"))?;
    let customer = path_param("customer_id", &raw, CustomerId::parse)?;
    let month = match p.month.as_deref() {
        Some(m) => Month::parse(m).map_err(|e| ApiError::bad_request(&e.field, e.message))?,
        None => Month::of(Utc::now()),
    };
    Ok(axum::Json(app.changes.meter_rollup(&customer, month).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_month_pattern_is_the_parsers() {
        assert_eq!(domain::metering::MONTH_PATTERN, "^[0-9]{4}-(0[1-9]|1[0-2])$");
    }
}
