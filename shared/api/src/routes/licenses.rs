use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::{
    AssignmentCreate, AssignmentId, AssignmentPatch, License, LicenseAssignment, LicenseChanges, LicenseCreate,
    LicenseId, LicensePatch, Role, Stamp, Stamped,
};
use serde::{Deserialize, Serialize};
use store::layout::{self, collection};
use store::{Cond, Index, Query, WriteOp};
use utoipa::{IntoParams, ToSchema};

use super::{ctx, path_param};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

/// A license assignment as a create or a change left it, with the change requests that started
/// on its customer's tenants (`activate_license` when it became active or changed license,
/// `suspend` when it stopped being active) and the tenants left alone, with why.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentAnswer {
    #[serde(flatten)]
    pub assignment: LicenseAssignment,
    /// Absent when the change asked nothing of the tenants (and on the replay of a create whose
    /// assignment changed since).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub license_changes: Option<LicenseChanges>,
}

impl Stamped for AssignmentAnswer {
    fn stamp(&self) -> &Stamp {
        &self.assignment.stamp
    }
    fn stamp_mut(&mut self) -> &mut Stamp {
        &mut self.assignment.stamp
    }
}

fn license_id(raw: &str) -> Result<LicenseId, ApiError> {
    path_param("id", raw, LicenseId::parse)
}

fn assignment_id(raw: &str) -> Result<AssignmentId, ApiError> {
    path_param("id", raw, AssignmentId::parse)
}

async fn load_license(app: &App, id: &LicenseId) -> Result<License, ApiError> {
    persist::load(app, &layout::license_key(id), || format!("no license {id}")).await
}

async fn load_assignment(app: &App, id: &AssignmentId) -> Result<LicenseAssignment, ApiError> {
    persist::load(app, &layout::assignment_key(id), || format!("no license assignment {id}")).await
}

/// Create a license (a type of license and its template).
#[utoipa::path(post, path = "/v1/licenses", tag = "licenses", request_body = LicenseCreate, params(IdempotencyKey),
    responses((status = 201, body = License)))]
pub async fn create_license(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<LicenseCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/licenses", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let license = License::create(body.value, &ctx(&principal))?;
    let mut tx = Tx::new();
    tx.put(&license, Cond::NotExists, ApiError::Conflict("id collision; retry".into()))?;
    let answer = Stored::record(StatusCode::CREATED, &license, Some(format!("/v1/licenses/{}", license.id)))?;
    idem.commit(&app, tx, answer).await
}

/// List licenses.
#[utoipa::path(get, path = "/v1/licenses", tag = "licenses", params(ListParams),
    responses((status = 200, body = ListResponse<License>)))]
pub async fn list_licenses(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<License>>, ApiError> {
    Ok(axum::Json(persist::list(&app, Query::new(Some(Index::Gsi1), collection::LICENSES), &params).await?))
}

/// A license.
#[utoipa::path(get, path = "/v1/licenses/{id}", tag = "licenses", params(("id" = LicenseId, Path)),
    responses((status = 200, body = License)))]
pub async fn get_license(State(app): State<App>, _: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    persist::ok(&load_license(&app, &license_id(&id)?).await?)
}

/// Change a license.
#[utoipa::path(patch, path = "/v1/licenses/{id}", tag = "licenses", request_body = LicensePatch,
    params(("id" = LicenseId, Path), IfMatch), responses((status = 200, body = License)))]
pub async fn patch_license(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: JsonBody<LicensePatch>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let current = load_license(&app, &license_id(&id)?).await?;
    if_match.check(current.stamp.revision)?;
    let mut next = current.clone();
    body.value.apply_to(&mut next)?;
    persist::write_changed(&app, &current, next, &principal, if_match, Tx::new()).await
}

/// Assign a license to a customer. The customer and the license must exist. Each of the
/// customer's tenants whose state allows it gets an `activate_license` change request (requested
/// by the caller) that installs the license from its `key_ref`; `license_changes` names them and
/// the tenants left alone (their state, busy). A replay (the same `Idempotency-Key`) of an
/// assignment unchanged since starts what the first could not and answers that.
#[utoipa::path(post, path = "/v1/license-assignments", tag = "licenses", request_body = AssignmentCreate,
    params(IdempotencyKey), responses((status = 201, body = AssignmentAnswer),
        (status = 422, description = "A value is not acceptable, `customer_id` or `license_id` names no record, or \
            `expires_at` is not after `starts_at`; `field` names it.")))]
pub async fn create_assignment(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<AssignmentCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/license-assignments", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return complete_replay(&app, &principal, replay).await,
    };
    let a = LicenseAssignment::create(body.value, &ctx(&principal))?;
    let mut tx = Tx::new();
    tx.put(&a, Cond::NotExists, ApiError::Conflict("id collision; retry".into()))?;
    tx.push(
        WriteOp::Check { key: layout::customer_key(&a.customer_id), cond: Cond::Exists },
        ApiError::invalid("customer_id", format!("no customer {}", a.customer_id)),
    );
    tx.push(
        WriteOp::Check { key: layout::license_key(&a.license_id), cond: Cond::Exists },
        ApiError::invalid("license_id", format!("no license {}", a.license_id)),
    );
    let answer = Stored::record(StatusCode::CREATED, &a, Some(format!("/v1/license-assignments/{}", a.id)))?;
    let response = idem.commit(&app, tx, answer).await?;
    if response.headers().contains_key(REPLAYED) {
        // The same key won a race with this request.
        return complete_replay(&app, &principal, response).await;
    }
    answer_with_changes(&app, &principal, a, false).await
}

/// The assignment as created, with the change requests its creation started.
async fn answer_with_changes(
    app: &App,
    principal: &Principal,
    a: LicenseAssignment,
    replayed: bool,
) -> Result<Response, ApiError> {
    let license_changes = app.changes.apply_license_change(None, &a, &principal.caller()).await?;
    let location = Some(format!("/v1/license-assignments/{}", a.id));
    let answer = AssignmentAnswer { assignment: a, license_changes };
    let mut response = Stored::record(StatusCode::CREATED, &answer, location)?.into_response();
    if replayed {
        response.headers_mut().insert(REPLAYED, axum::http::HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// A replay of a create (the same `Idempotency-Key` and body): when its assignment is as it was
/// created, its tenants' change requests are started again, so a retry after a failure finishes
/// what the first did not (the guards keep what it did start from starting twice); otherwise
/// the first answer, as it was.
async fn complete_replay(app: &App, principal: &Principal, replay: Response) -> Result<Response, ApiError> {
    let id = replay
        .headers()
        .get(axum::http::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
        .and_then(|id| AssignmentId::parse(id).ok());
    let Some(id) = id.filter(|_| replay.status() == StatusCode::CREATED) else { return Ok(replay) };
    match load_assignment(app, &id).await {
        Ok(a) if a.stamp.revision == 1 => answer_with_changes(app, principal, a, true).await,
        Ok(_) | Err(ApiError::NotFound(_)) => Ok(replay),
        Err(e) => Err(e),
    }
}

const REPLAYED: &str = "idempotent-replayed";

/// A license assignment.
#[utoipa::path(get, path = "/v1/license-assignments/{id}", tag = "licenses", params(("id" = AssignmentId, Path)),
    responses((status = 200, body = LicenseAssignment)))]
pub async fn get_assignment(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&load_assignment(&app, &assignment_id(&id)?).await?)
}

/// Change a license assignment: status (e.g. `revoked`), license (an upgrade), key reference,
/// term. One that stops being active (`revoked`, `suspended`, `expired`) starts `suspend` on each
/// of the customer's tenants whose state allows it; one that becomes active again, or changes
/// license while active, starts `activate_license` on them. `license_changes` names them and the
/// tenants left alone.
#[utoipa::path(patch, path = "/v1/license-assignments/{id}", tag = "licenses", request_body = AssignmentPatch,
    params(("id" = AssignmentId, Path), IfMatch), responses((status = 200, body = AssignmentAnswer),
        (status = 422, description = "A value is not acceptable, `license_id` names no license, or `expires_at` is \
            not after `starts_at`; `field` names it.")))]
pub async fn patch_assignment(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: JsonBody<AssignmentPatch>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let current = load_assignment(&app, &assignment_id(&id)?).await?;
    if_match.check(current.stamp.revision)?;
    let mut next = current.clone();
    body.value.apply_to(&mut next)?;
    if next.license_id != current.license_id {
        load_license(&app, &next.license_id)
            .await
            .map_err(|_| ApiError::invalid("license_id", format!("no license {}", next.license_id)))?;
    }
    let written = persist::commit_changed(&app, &current, next, &principal, if_match, Tx::new()).await?;
    let license_changes = app.changes.apply_license_change(Some(&current), &written, &principal.caller()).await?;
    persist::ok(&AssignmentAnswer { assignment: written, license_changes })
}

/// Assignments of a license (which customers hold it).
#[utoipa::path(get, path = "/v1/licenses/{id}/assignments", tag = "licenses",
    params(("id" = LicenseId, Path), ListParams), responses((status = 200, body = ListResponse<LicenseAssignment>)))]
pub async fn list_license_assignments(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<LicenseAssignment>>, ApiError> {
    let id = license_id(&id)?;
    let q = Query::new(Some(Index::Gsi2), layout::assignments_of_license(&id));
    Ok(axum::Json(persist::list_children(&app, q, &params, load_license(&app, &id)).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExpiringParams {
    /// Days ahead, 1–365 (default 30): assignments expiring by the end of that UTC day.
    #[param(minimum = 1, maximum = 365)]
    pub days: Option<u32>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_token` of the previous page (of this same list, with the same filters).
    #[param(pattern = r"^[A-Za-z0-9_-]+$")]
    pub next_token: Option<String>,
}

/// Active license assignments expiring within `days` (by the end of that UTC day), soonest
/// first; those already past their expiry that the daily `licenses` schedule has not marked
/// `expired` yet come first. A `Query` on the sparse expiring index.
#[utoipa::path(get, path = "/v1/licenses/expiring", tag = "licenses", params(ExpiringParams),
    responses((status = 200, body = ListResponse<LicenseAssignment>)))]
pub async fn expiring_licenses(
    State(app): State<App>,
    _: Principal,
    QueryParams(p): QueryParams<ExpiringParams>,
) -> Result<axum::Json<ListResponse<LicenseAssignment>>, ApiError> {
    let days = p.days.unwrap_or(30);
    if !(1..=changes::licenses::MAX_EXPIRING_DAYS).contains(&days) {
        return Err(ApiError::bad_request("days", "days must be between 1 and 365"));
    }
    let until = changes::licenses::expiring_until(Utc::now(), days);
    let params = ListParams { limit: p.limit, next_token: p.next_token };
    Ok(axum::Json(persist::list(&app, changes::licenses::expiring_query(&until), &params).await?))
}
