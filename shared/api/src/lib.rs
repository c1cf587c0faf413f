//! The Admin Portal's HTTP API: one axum [`Router`], run by `lambda_http` in AWS
//! (`functions/api`) and by a plain listener locally (`shared/devstack`). Auth, request ids,
//! body limits and problem+json errors are middleware here, so both run the same stack.

pub mod auth;
pub mod document;
pub mod error;
pub mod extract;
pub mod pagination;
pub mod persist;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::{PathItemExt, routes};

pub use auth::{Authenticator, Principal};
pub use error::{ApiError, Problem};
pub use persist::App;

use routes::{
    backups, callbacks, change_requests, compose, customers, drift, history, licenses, meta, metering, metrics,
    releases, report, resources, rollouts, tenant_data, tenants, versions,
};

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

/// Every route, named once. Expands to [`serving_routes`] (what the API mounts: each handler at the
/// path and methods its `#[utoipa::path]` names, nothing else built) and [`documented_routes`] (the
/// same handlers with their OpenAPI operations and schemas, which take ~2.5 ms to build in a
/// release binary: a cold start should not pay for them, so the served document is the checked-in
/// `openapi.json`, which a test keeps equal to what `documented_routes` builds).
macro_rules! api_routes {
    ($($module:ident :: $handler:ident),* $(,)?) => {
        fn serving_routes() -> Router<App> {
            let router = Router::new();
            $( let router = utoipa_axum::paste! { mount::<$module::[<__path_ $handler>], _, _>(router, $module::$handler) }; )*
            router
        }

        fn documented_routes() -> OpenApiRouter<App> {
            OpenApiRouter::with_openapi(ApiDoc::openapi()) $( .routes(routes!($module::$handler)) )*
        }
    };
}

api_routes! {
    meta::health,
    meta::openapi_json,
    customers::create_customer,
    customers::list_customers,
    customers::get_customer,
    customers::patch_customer,
    customers::list_customer_assignments,
    licenses::create_license,
    licenses::list_licenses,
    licenses::expiring_licenses,
    licenses::get_license,
    licenses::patch_license,
    licenses::list_license_assignments,
    licenses::create_assignment,
    licenses::get_assignment,
    licenses::patch_assignment,
    releases::create_release,
    releases::list_releases,
    releases::get_release,
    releases::patch_release,
    tenants::create_tenant,
    tenants::list_tenants,
    tenants::get_tenant,
    tenants::patch_tenant,
    tenants::fleet_summary,
    versions::fleet_versions,
    drift::fleet_drift,
    tenant_data::list_configs,
    tenant_data::get_config,
    tenant_data::put_config,
    tenant_data::delete_config,
    tenant_data::list_components,
    tenant_data::list_health_runs,
    backups::list_backups,
    backups::get_backup,
    metrics::tenant_metrics,
    metering::tenant_metering,
    metering::customer_metering,
    report::tenant_report,
    drift::tenant_drift,
    tenant_data::get_component,
    tenant_data::put_component,
    compose::import_compose,
    resources::create_resource,
    resources::list_resources,
    resources::get_resource,
    resources::patch_resource,
    resources::delete_resource,
    resources::list_tenant_resources,
    resources::list_resource_tenants,
    change_requests::get_change_request,
    change_requests::create_change_request,
    change_requests::list_tenant_change_requests,
    change_requests::approve_change_request,
    change_requests::reject_change_request,
    change_requests::cancel_change_request,
    change_requests::abort_change_request,
    change_requests::rollback_change_request,
    history::tenant_history,
    history::fleet_history,
    callbacks::jenkins_callback,
    rollouts::create_rollout,
    rollouts::plan_rollout,
    rollouts::list_rollouts,
    rollouts::get_rollout,
    rollouts::pause_rollout,
    rollouts::resume_rollout,
    rollouts::abort_rollout,
}

/// Mounts `handler` at the path and methods of its `#[utoipa::path]` (`P`); a second handler on
/// the same path joins the first (axum merges method routers).
fn mount<P: utoipa::Path, H: Handler<T, App>, T: 'static>(router: Router<App>, handler: H) -> Router<App> {
    let methods = P::methods()
        .iter()
        .fold(MethodRouter::new(), |methods, method| methods.on(method.to_method_filter(), handler.clone()));
    router.route(&P::path(), methods)
}

/// The OpenAPI document of every route, built from the handlers' annotations and completed with
/// what every operation can answer ([`document::complete`]).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = documented_routes().split_for_parts().1;
    document::complete(&mut doc);
    doc
}

/// The OpenAPI document the API serves: `openapi()` as pretty JSON, checked in, so serving it
/// costs nothing at start. `openapi_json_is_the_generated_document` fails when it is stale
/// (`make openapi` rewrites it).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

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
    serving_routes()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The served document is the checked-in file; it must be what the handlers' annotations
    /// build. `UPDATE_OPENAPI=1` (what `make openapi` sets) rewrites the file instead.
    #[test]
    fn openapi_json_is_the_generated_document() {
        let generated = openapi().to_pretty_json().expect("the document serializes") + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).expect("openapi.json written");
            return;
        }
        let first_difference = OPENAPI_JSON.lines().zip(generated.lines()).position(|(a, b)| a != b);
        assert!(
            OPENAPI_JSON == generated,
            "shared/api/openapi.json is not what the handlers document (first differing line: {:?}); run `make openapi`",
            first_difference.map(|i| i + 1)
        );
    }

    /// Two types of one name would be one schema of the document (utoipa keeps either), and the
    /// other type's answers would be described wrongly: every schema of the document is declared
    /// by one type of the crates it documents.
    #[test]
    fn no_two_documented_types_share_a_schema_name() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut declared: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        let mut dirs = vec![root.join("domain/src"), root.join("api/src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("a source directory").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let mut deriving = false;
                for line in text.lines().map(str::trim) {
                    if line.starts_with("#[derive(") && line.contains("ToSchema") {
                        deriving = true;
                    } else if deriving && !line.starts_with("#[") && !line.starts_with("///") {
                        let name = line
                            .strip_prefix("pub struct ")
                            .or_else(|| line.strip_prefix("pub enum "))
                            .map(|rest| rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or(""));
                        if let Some(name) = name.filter(|n| !n.is_empty()) {
                            declared.entry(name.to_owned()).or_default().push(path.display().to_string());
                        }
                        deriving = false;
                    }
                }
            }
        }
        let document: serde_json::Value = serde_json::from_str(OPENAPI_JSON).expect("the document");
        let schemas = document["components"]["schemas"].as_object().expect("the document's schemas");
        let shared: Vec<_> = declared.iter().filter(|(n, at)| at.len() > 1 && schemas.contains_key(*n)).collect();
        assert!(shared.is_empty(), "schema names declared by more than one type: {shared:?}");
        assert!(declared.len() > 50, "the scan found the documented types: {}", declared.len());
    }
}
