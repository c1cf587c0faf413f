//! The web portal's built assets (`web/dist`, what `make web` builds), served locally at `/`
//! next to the API under `/v1`, with the security headers CloudFront adds in AWS.
//!
//! Only `GET /` (the page), `GET /assets/<file>` (Vite's hashed bundles) and `GET /config.json`
//! (a deployment's sign-in settings) are served: the portal routes by the URL's fragment, so no
//! other path needs the page, and every other path stays the API's (its `404` problem).

use std::path::{Path, PathBuf};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The page's Content-Security-Policy: everything from this origin, no inline script or style,
/// never framed. The same as the template's CloudFront response headers policy (which adds
/// Cognito's domain to `connect-src` for the token exchange).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// `GET /` and `GET /assets/{file}` from `dir`.
pub fn router(dir: PathBuf) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*file}", get(asset))
        .route("/config.json", get(config))
        .route("/favicon.ico", get(|| async { StatusCode::NOT_FOUND }))
        .with_state(dir)
}

/// The deployment's `config.json` (the Cognito hosted UI), which a local build has none of:
/// `404`, and the page signs in with `make signin`'s links.
async fn config(State(dir): State<PathBuf>) -> Response {
    match tokio::fs::read(dir.join("config.json")).await {
        Ok(body) => with_headers(body, "application/json", "no-cache"),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn index(State(dir): State<PathBuf>) -> Response {
    match tokio::fs::read(dir.join("index.html")).await {
        Ok(body) => with_headers(body, "text/html; charset=utf-8", "no-cache"),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The web portal is not built in {}: run `make web`.\n", dir.display()),
        )
            .into_response(),
    }
}

async fn asset(State(dir): State<PathBuf>, UrlPath(file): UrlPath<String>) -> Response {
    let Some(path) = safe_join(&dir.join("assets"), &file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(body) => with_headers(body, content_type(&path), "public, max-age=31536000, immutable"),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `file` under `base`, or `None` when it could leave it (`..`, an absolute path, odd bytes).
fn safe_join(base: &Path, file: &str) -> Option<PathBuf> {
    let ok = |seg: &str| {
        !seg.is_empty()
            && seg != "."
            && seg != ".."
            && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    file.split('/').all(ok).then(|| base.join(file))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn with_headers(body: Vec<u8>, content_type: &'static str, cache: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_paths_stay_under_the_assets_folder() {
        let base = Path::new("/srv/assets");
        assert_eq!(safe_join(base, "index-abc.js"), Some(base.join("index-abc.js")));
        assert_eq!(safe_join(base, "../index.html"), None);
        assert_eq!(safe_join(base, "a/../../etc/passwd"), None);
        assert_eq!(safe_join(base, "/etc/passwd"), None);
        assert_eq!(safe_join(base, "a//b.js"), None);
        assert_eq!(safe_join(base, "a%2e%2e.js"), None);
    }

    #[tokio::test]
    async fn the_page_is_served_with_its_security_headers() {
        use tower::ServiceExt;
        let dir = std::env::temp_dir().join(format!("devstack-web-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html><title>t</title>").unwrap();
        std::fs::write(dir.join("assets/app-1.js"), "export {}").unwrap();
        let get = |uri: &str| axum::http::Request::builder().uri(uri).body(axum::body::Body::empty()).unwrap();
        let page = router(dir.clone()).oneshot(get("/")).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        assert!(!CSP.contains("unsafe-inline"));
        let js = router(dir.clone()).oneshot(get("/assets/app-1.js")).await.unwrap();
        assert_eq!(js.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        let missing = router(dir.clone()).oneshot(get("/assets/nope.js")).await.unwrap();
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
