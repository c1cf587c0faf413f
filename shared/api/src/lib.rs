//! The Admin Portal's HTTP API: one axum [`Router`], run by `lambda_http` in AWS
//! (`functions/api`) and by a plain listener locally (`shared/devstack`). Auth, request ids,
//! body limits and problem+json errors are middleware here, so both run the same stack.

pub mod auth;
pub mod error;
pub mod extract;
pub mod pagination;
pub mod persist;
pub mod routes;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{Authenticator, Principal};
pub use error::{ApiError, Problem};
pub use persist::App;

use routes::{change_requests, customers, history, licenses, meta, releases, resources, tenant_data, tenants};

#[derive(OpenApi)]
#[openapi(
    info(title = "Admin Portal: tenant control plane", version = "1.0.0",
        description = "One pane of glass over every customer tenant. Errors are application/problem+json."),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    components(schemas(Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

fn api_routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meta::health))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(customers::create_customer, customers::list_customers))
        .routes(routes!(customers::get_customer, customers::patch_customer))
        .routes(routes!(customers::list_customer_assignments))
        .routes(routes!(licenses::create_license, licenses::list_licenses))
        .routes(routes!(licenses::get_license, licenses::patch_license))
        .routes(routes!(licenses::list_license_assignments))
        .routes(routes!(licenses::create_assignment))
        .routes(routes!(licenses::get_assignment, licenses::patch_assignment))
        .routes(routes!(releases::create_release, releases::list_releases))
        .routes(routes!(releases::get_release, releases::patch_release))
        .routes(routes!(tenants::create_tenant, tenants::list_tenants))
        .routes(routes!(tenants::get_tenant, tenants::patch_tenant))
        .routes(routes!(tenants::fleet_summary))
        .routes(routes!(tenant_data::list_configs))
        .routes(routes!(tenant_data::get_config, tenant_data::put_config, tenant_data::delete_config))
        .routes(routes!(tenant_data::list_components))
        .routes(routes!(tenant_data::list_health_runs))
        .routes(routes!(tenant_data::get_component, tenant_data::put_component))
        .routes(routes!(resources::create_resource, resources::list_resources))
        .routes(routes!(resources::get_resource, resources::patch_resource, resources::delete_resource))
        .routes(routes!(resources::list_tenant_resources))
        .routes(routes!(resources::list_resource_tenants))
        .routes(routes!(change_requests::get_change_request))
        .routes(routes!(change_requests::create_change_request, change_requests::list_tenant_change_requests))
        .routes(routes!(change_requests::approve_change_request))
        .routes(routes!(change_requests::reject_change_request))
        .routes(routes!(change_requests::cancel_change_request))
        .routes(routes!(history::tenant_history))
        .routes(routes!(history::fleet_history))
}

/// The OpenAPI document of every route.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// The OpenAPI document as JSON, built once.
pub fn openapi_json() -> String {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| openapi().to_json().unwrap_or_default()).clone()
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives every request an id (the caller's `x-request-id` when it sends a sane one) and echoes
/// it on the response.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::new().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID, value.clone());
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(REQUEST_ID, value);
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::Internal.into_response()
}

/// The whole API: routes, auth, limits, tracing, problem+json for everything that fails.
pub fn router(app: App, authenticator: Arc<dyn Authenticator>) -> Router {
    let (routes, _) = api_routes().split_for_parts();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(authenticator, auth::authenticate))
        .layer(DefaultBodyLimit::max(extract::MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id, actor = tracing::field::Empty)
        }))
        .layer(middleware::from_fn(request_id))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(axum::http::StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(25)))
        .with_state(app)
}
