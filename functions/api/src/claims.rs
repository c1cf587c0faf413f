//! In AWS the HTTP API's JWT authorizer has already verified the Cognito token; its claims
//! arrive in the request context. This is the only [`Authenticator`] the deployed function has:
//! it never verifies tokens itself, so the local dev tokens cannot work here.

use http::request::Parts;
use lambda_http::request::RequestContext;
use portal_api::ApiError;
use portal_api::auth::{Authenticator, Principal, parse_groups};

pub struct AuthorizerClaims;

impl Authenticator for AuthorizerClaims {
    fn authenticate(&self, parts: &Parts) -> Result<Principal, ApiError> {
        let Some(RequestContext::ApiGatewayV2(ctx)) = parts.extensions.get::<RequestContext>() else {
            return Err(ApiError::Unauthenticated("no verified token".into()));
        };
        let claims = ctx
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims)
            .ok_or_else(|| ApiError::Unauthenticated("no verified token".into()))?;
        let groups = claims.get("cognito:groups").map(|g| parse_groups(g)).unwrap_or_default();
        Principal::from_claims(claims.get("sub").map(String::as_str), claims.get("email").map(String::as_str), &groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::Role;

    fn parts_of(fixture: &str) -> Parts {
        let req = lambda_http::request::from_str(fixture).expect("fixture parses");
        let (parts, _) = req.into_parts();
        parts
    }

    #[test]
    fn claims_from_the_jwt_authorizer_become_the_principal() {
        let parts = parts_of(include_str!("../tests/data/apigw_v2_jwt.json"));
        let p = AuthorizerClaims.authenticate(&parts).unwrap();
        assert_eq!(p.actor.sub, "5f1c0d6e-admin");
        assert_eq!(p.actor.email.as_deref(), Some("dana@vendor.example"));
        assert_eq!(p.role, Role::Admin);
    }

    #[test]
    fn a_request_without_authorizer_claims_is_unauthenticated_even_with_a_bearer_header() {
        let fixture = include_str!("../tests/data/apigw_v2_jwt.json").replace("\"authorizer\"", "\"unused\"");
        let parts = parts_of(&fixture);
        assert!(parts.headers.contains_key("authorization"));
        assert!(matches!(AuthorizerClaims.authenticate(&parts), Err(ApiError::Unauthenticated(_))));
    }
}
