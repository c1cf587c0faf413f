//! Who is calling and what their role lets them do. How a token is verified depends on where
//! the router runs, so it sits behind [`Authenticator`]: in AWS the HTTP API's JWT authorizer
//! has verified it and the claims arrive in the request context; locally a dev verifier checks
//! a locally minted token. The router only ever sees a [`Principal`].

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use domain::{Actor, Role};

use crate::error::ApiError;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub actor: Actor,
    /// The most powerful role among the caller's groups.
    pub role: Role,
}

impl Principal {
    /// Fails with 403 unless the caller's role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the `{}` role; you have `{}`",
                needed.as_str(),
                self.role.as_str()
            )))
        }
    }

    /// The caller the change-request core sees.
    pub fn caller(&self) -> changes::Caller {
        changes::Caller::person(self.actor.clone(), self.role)
    }

    /// Builds a principal from verified claims: `sub`, optional `email`, `cognito:groups`.
    pub fn from_claims(sub: Option<&str>, email: Option<&str>, groups: &[String]) -> Result<Self, ApiError> {
        let sub = sub
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or_else(|| ApiError::Unauthenticated("the token has no subject".into()))?;
        let role = groups.iter().filter_map(|g| Role::parse(g)).max().ok_or_else(|| {
            ApiError::Forbidden("the token carries none of the groups admin, operator, viewer".into())
        })?;
        Ok(Self {
            actor: Actor { sub: sub.to_owned(), email: email.filter(|e| !e.is_empty()).map(str::to_owned) },
            role,
        })
    }
}

/// Parses a `cognito:groups` claim as API Gateway passes it (`[admin operator]`), as a JSON
/// array string, or as a comma-separated list.
pub fn parse_groups(raw: &str) -> Vec<String> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Verifies the caller of a request.
pub trait Authenticator: Send + Sync {
    fn authenticate(&self, parts: &Parts) -> Result<Principal, ApiError>;
}

/// Routes anyone may call.
pub fn is_public(path: &str) -> bool {
    // The Jenkins callback proves itself by its signature instead (`routes/callbacks.rs`).
    matches!(path, "/v1/health" | "/v1/openapi.json" | "/v1/callbacks/jenkins")
}

/// Middleware: authenticates every non-public request and puts the [`Principal`] in its
/// extensions.
pub async fn authenticate(State(auth): State<Arc<dyn Authenticator>>, req: Request, next: Next) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    match auth.authenticate(&parts) {
        Ok(principal) => {
            tracing::Span::current().record("actor", principal.actor.sub.as_str());
            // Viewers are read-only: refuse a write before its body is even read.
            if !parts.method.is_safe()
                && let Err(e) = principal.require(Role::Operator)
            {
                return e.into_response();
            }
            parts.extensions.insert(principal);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| ApiError::Unauthenticated("no credentials".into()))
    }
}

/// The bearer token of a request, if any.
pub fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let raw = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("send `Authorization: Bearer <token>`".into()))?;
    let s = raw.to_str().map_err(|_| ApiError::Unauthenticated("malformed Authorization header".into()))?;
    let (scheme, token) =
        s.split_once(' ').ok_or_else(|| ApiError::Unauthenticated("malformed Authorization header".into()))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated("send `Authorization: Bearer <token>`".into()));
    }
    Ok(token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_in_every_shape_api_gateway_may_send() {
        assert_eq!(parse_groups("[admin operator]"), ["admin", "operator"]);
        assert_eq!(parse_groups(r#"["viewer"]"#), ["viewer"]);
        assert_eq!(parse_groups("viewer,operator"), ["viewer", "operator"]);
        assert!(parse_groups("[]").is_empty());
    }

    #[test]
    fn the_strongest_known_group_wins_and_unknown_groups_give_nothing() {
        let p = Principal::from_claims(Some("u1"), None, &["viewer".into(), "operator".into(), "x".into()]).unwrap();
        assert_eq!(p.role, Role::Operator);
        assert!(p.require(Role::Viewer).is_ok());
        assert!(matches!(p.require(Role::Admin), Err(ApiError::Forbidden(_))));
        assert!(matches!(Principal::from_claims(Some("u1"), None, &["x".into()]), Err(ApiError::Forbidden(_))));
        assert!(matches!(Principal::from_claims(None, None, &["admin".into()]), Err(ApiError::Unauthenticated(_))));
    }
}
