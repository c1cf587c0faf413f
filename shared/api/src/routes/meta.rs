use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: answers without touching any dependency.
#[utoipa::path(get, path = "/v1/health", tag = "meta", security(()), responses((status = 200, body = Health)))]
pub async fn health() -> axum::Json<Health> {
    axum::Json(Health { status: "ok" })
}

/// This document: OpenAPI 3.1, generated from the handlers themselves (checked in as
/// `shared/api/openapi.json`; a test fails when it differs from what the handlers say).
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", security(()), responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi_json() -> Response {
    let mut resp = crate::OPENAPI_JSON.into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}
