//! A tenant's metrics (`GET /v1/tenants/{id}/metrics`): CloudWatch `GetMetricData` over its
//! registered resources — the EC2 instances (CPU, status checks, disk), the RDS databases (CPU,
//! free storage) — and the app's own health metric, over a window with defaults (the last 3
//! hours, a point per 5 minutes).

use axum::extract::{Path, State};
use chrono::Utc;
use domain::TenantId;
use domain::metrics::{MetricSeries, MetricWindow, TenantMetrics, parse_names, plan_series};
use serde::Deserialize;
use utoipa::IntoParams;

use super::tenants;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::persist::App;

/// The pattern of `names=` (a unit test keeps it equal to the catalog's).
pub const NAMES_PATTERN: &str = "^(cpu|status_check_failed|disk_used_percent|db_cpu|db_free_storage|app_health)(,(cpu|status_check_failed|disk_used_percent|db_cpu|db_free_storage|app_health))*$";

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// The metrics, comma-separated (default: every one): `cpu`, `status_check_failed` and
    /// `disk_used_percent` of each EC2 instance, `db_cpu` and `db_free_storage` of each RDS
    /// database, `app_health` of the tenant.
    #[param(
        pattern = "^(cpu|status_check_failed|disk_used_percent|db_cpu|db_free_storage|app_health)(,(cpu|status_check_failed|disk_used_percent|db_cpu|db_free_storage|app_health))*$"
    )]
    pub names: Option<String>,
    /// From this time (RFC 3339; default: 3 hours before `to`), before `to`, at most 455 days ago.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub from: Option<String>,
    /// Up to this time (RFC 3339; default: now), not in the future.
    #[param(value_type = Option<chrono::DateTime<chrono::Utc>>)]
    pub to: Option<String>,
    /// Seconds a point (default 300), a multiple of 60; at most 1440 points a series.
    #[param(minimum = 60, maximum = 86400, multiple_of = 60)]
    pub period: Option<u32>,
}

/// The tenant's EC2 instance ids and RDS database identifiers, from its registered resources.
async fn resources(app: &App, id: &TenantId) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let arns = app.changes.resource_arns(id).await?;
    let instances = arns.iter().filter_map(|a| a.ec2_instance_id().map(str::to_owned)).collect();
    let databases = arns.iter().filter_map(|a| a.rds_instance_id().map(str::to_owned)).collect();
    Ok((instances, databases))
}

/// The tenant's metrics over the window, one series per metric and resource, oldest point first.
#[utoipa::path(get, path = "/v1/tenants/{id}/metrics", tag = "metrics", params(("id" = TenantId, Path), MetricsParams),
    responses((status = 200, body = TenantMetrics)))]
pub async fn tenant_metrics(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(p): QueryParams<MetricsParams>,
) -> Result<axum::Json<TenantMetrics>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let names = parse_names(p.names.as_deref()).map_err(|e| ApiError::bad_request(&e.field, e.message))?;
    let window = MetricWindow::parse(p.from.as_deref(), p.to.as_deref(), p.period, Utc::now())
        .map_err(|e| ApiError::bad_request(&e.field, e.message))?;
    tenants::load(&app, &id).await?;
    let (instances, databases) = resources(&app, &id).await?;
    let planned = plan_series(&id, &names, &instances, &databases);
    let queries: Vec<_> = planned.iter().map(|p| p.query.clone()).collect();
    let mut data = app.changes.alarms.metric_data(&queries, &window).await.map_err(|e| {
        tracing::warn!(tenant = %id, error = %e, "metrics unavailable");
        ApiError::Unavailable
    })?;
    let series = planned
        .into_iter()
        .map(|p| {
            let points = data.iter_mut().find(|(qid, _)| qid == &p.query.id).map(|(_, v)| std::mem::take(v));
            MetricSeries {
                metric: p.metric,
                resource: p.resource,
                namespace: p.query.namespace,
                metric_name: p.query.metric,
                statistic: p.query.statistic,
                points: points.unwrap_or_default(),
            }
        })
        .collect();
    Ok(axum::Json(TenantMetrics {
        tenant_id: id,
        from: window.from,
        to: window.to,
        period_seconds: window.period_seconds,
        series,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_documented_names_pattern_is_the_catalogs() {
        assert_eq!(super::NAMES_PATTERN, domain::metrics::TenantMetric::list_pattern());
    }
}
