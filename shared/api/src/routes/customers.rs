use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{Customer, CustomerCreate, CustomerId, CustomerPatch, LicenseAssignment, Role};
use store::layout::{self, collection};
use store::{Cond, Index, Query};

use super::{ctx, path_param};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

pub(crate) fn parse_id(raw: &str) -> Result<CustomerId, ApiError> {
    path_param("id", raw, CustomerId::parse)
}

pub(crate) async fn load(app: &App, id: &CustomerId) -> Result<Customer, ApiError> {
    persist::load(app, &layout::customer_key(id), || format!("no customer {id}")).await
}

/// Create a customer.
#[utoipa::path(post, path = "/v1/customers", tag = "customers", request_body = CustomerCreate, params(IdempotencyKey),
    responses((status = 201, body = Customer)))]
pub async fn create_customer(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<CustomerCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/customers", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let customer = Customer::create(body.value, &ctx(&principal));
    let mut tx = Tx::new();
    tx.put(&customer, Cond::NotExists, ApiError::Conflict("id collision; retry".into()))?;
    let answer = Stored::record(StatusCode::CREATED, &customer, Some(format!("/v1/customers/{}", customer.id)))?;
    idem.commit(&app, tx, answer).await
}

/// List customers, oldest first.
#[utoipa::path(get, path = "/v1/customers", tag = "customers", params(ListParams),
    responses((status = 200, body = ListResponse<Customer>)))]
pub async fn list_customers(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<Customer>>, ApiError> {
    Ok(axum::Json(persist::list(&app, Query::new(Some(Index::Gsi1), collection::CUSTOMERS), &params).await?))
}

/// A customer.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers", params(("id" = CustomerId, Path)),
    responses((status = 200, body = Customer)))]
pub async fn get_customer(State(app): State<App>, _: Principal, Path(id): Path<String>) -> Result<Response, ApiError> {
    persist::ok(&load(&app, &parse_id(&id)?).await?)
}

/// Change a customer (`null` clears an optional field).
#[utoipa::path(patch, path = "/v1/customers/{id}", tag = "customers", request_body = CustomerPatch,
    params(("id" = CustomerId, Path), IfMatch), responses((status = 200, body = Customer)))]
pub async fn patch_customer(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    if_match: IfMatch,
    body: JsonBody<CustomerPatch>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let current = load(&app, &parse_id(&id)?).await?;
    if_match.check(current.stamp.revision)?;
    let mut next = current.clone();
    body.value.apply_to(&mut next);
    persist::write_changed(&app, &current, next, &principal, if_match, Tx::new()).await
}

/// License assignments of a customer.
#[utoipa::path(get, path = "/v1/customers/{id}/license-assignments", tag = "licenses",
    params(("id" = CustomerId, Path), ListParams), responses((status = 200, body = ListResponse<LicenseAssignment>)))]
pub async fn list_customer_assignments(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<LicenseAssignment>>, ApiError> {
    let id = parse_id(&id)?;
    let q = Query::new(Some(Index::Gsi1), layout::assignments_of_customer(&id));
    Ok(axum::Json(persist::list_children(&app, q, &params, load(&app, &id)).await?))
}
