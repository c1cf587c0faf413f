use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::{ProductRelease, ReleaseCreate, ReleasePatch, ReleaseVersion, Role};
use store::layout::{self, collection};
use store::{Cond, Index, Query};

use super::{ctx, path_param};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored, Tx};

fn parse_version(raw: &str) -> Result<ReleaseVersion, ApiError> {
    path_param("version", raw, ReleaseVersion::parse)
}

pub(crate) async fn load(app: &App, v: &ReleaseVersion) -> Result<ProductRelease, ApiError> {
    persist::load(app, &layout::release_key(v), || format!("no release {v}")).await
}

/// Publish a release and its component manifest. Versions are unique and the manifest is
/// immutable once published.
#[utoipa::path(post, path = "/v1/releases", tag = "releases", request_body = ReleaseCreate, params(IdempotencyKey),
    responses((status = 201, body = ProductRelease), (status = 409, description = "This version is already published.")))]
pub async fn create_release(
    State(app): State<App>,
    principal: Principal,
    idem: IdempotencyKey,
    body: JsonBody<ReleaseCreate>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let idem = match Idempotency::begin(&app, &principal, idem, "POST /v1/releases", &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let release = ProductRelease::create(body.value, &ctx(&principal))?;
    let mut tx = Tx::new();
    tx.put(&release, Cond::NotExists, ApiError::Conflict(format!("release {} already exists", release.version)))?;
    let answer = Stored::record(StatusCode::CREATED, &release, Some(format!("/v1/releases/{}", release.version)))?;
    idem.commit(&app, tx, answer).await
}

/// List releases, lowest version first.
#[utoipa::path(get, path = "/v1/releases", tag = "releases", params(ListParams),
    responses((status = 200, body = ListResponse<ProductRelease>)))]
pub async fn list_releases(
    State(app): State<App>,
    _: Principal,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<ProductRelease>>, ApiError> {
    Ok(axum::Json(persist::list(&app, Query::new(Some(Index::Gsi1), collection::RELEASES), &params).await?))
}

/// A release and its manifest.
#[utoipa::path(get, path = "/v1/releases/{version}", tag = "releases", params(("version" = ReleaseVersion, Path)),
    responses((status = 200, body = ProductRelease)))]
pub async fn get_release(State(app): State<App>, _: Principal, Path(v): Path<String>) -> Result<Response, ApiError> {
    persist::ok(&load(&app, &parse_version(&v)?).await?)
}

/// Change a release's status (`available`, `deprecated`, `withdrawn`) or notes.
#[utoipa::path(patch, path = "/v1/releases/{version}", tag = "releases", request_body = ReleasePatch,
    params(("version" = ReleaseVersion, Path), IfMatch), responses((status = 200, body = ProductRelease)))]
pub async fn patch_release(
    State(app): State<App>,
    principal: Principal,
    Path(v): Path<String>,
    if_match: IfMatch,
    body: JsonBody<ReleasePatch>,
) -> Result<Response, ApiError> {
    principal.require(Role::Operator)?;
    let current = load(&app, &parse_version(&v)?).await?;
    if_match.check(current.stamp.revision)?;
    let mut next = current.clone();
    body.value.apply_to(&mut next)?;
    persist::write_changed(&app, &current, next, &principal, if_match, Tx::new()).await
}
