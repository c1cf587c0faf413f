use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{
    AssignmentCreate, AssignmentId, AssignmentPatch, License, LicenseAssignment, LicenseCreate, LicenseId,
    LicensePatch, Role,
};
use store::layout::{self, collection};
use store::{Cond, Index, Query, WriteOp};

use super::{ctx, path_param};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

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

/// Assign a license to a customer. The customer and the license must exist.
#[utoipa::path(post, path = "/v1/license-assignments", tag = "licenses", request_body = AssignmentCreate,
    params(IdempotencyKey), responses((status = 201, body = LicenseAssignment),
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
        Err(replay) => return Ok(replay),
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
    idem.commit(&app, tx, answer).await
}

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

/// Change a license assignment: status (e.g. `revoked`), key reference, term.
#[utoipa::path(patch, path = "/v1/license-assignments/{id}", tag = "licenses", request_body = AssignmentPatch,
    params(("id" = AssignmentId, Path), IfMatch), responses((status = 200, body = LicenseAssignment),
        (status = 422, description = "A value is not acceptable, or `expires_at` is not after `starts_at`; `field` names it.")))]
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
    persist::write_changed(&app, &current, next, &principal, if_match, Tx::new()).await
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
