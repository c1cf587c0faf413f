//! Local-only bearer tokens: HS256 JWTs signed with a per-checkout secret, carrying the same
//! claims Cognito would (`sub`, `email`, `cognito:groups`). The deployed function never links
//! this module: in AWS the HTTP API's JWT authorizer verifies Cognito tokens.

use anyhow::Context;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use portal_api::ApiError;
use portal_api::auth::{Authenticator, Principal, bearer_token};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The issuer of local tokens; a token from anywhere else is refused.
pub const ISSUER: &str = "admin-portal-local";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "cognito:groups", default)]
    pub groups: Vec<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and verifies local tokens with one secret.
#[derive(Clone)]
pub struct LocalTokens {
    secret: Vec<u8>,
}

impl LocalTokens {
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self { secret: secret.into() }
    }

    /// The secret of this checkout (`.dev/jwt-secret`), made on first use.
    pub fn for_checkout(dir: &std::path::Path) -> anyhow::Result<Self> {
        let path = dir.join("jwt-secret");
        if let Ok(s) = std::fs::read_to_string(&path)
            && s.trim().len() >= 32
        {
            return Ok(Self::new(s.trim().as_bytes().to_vec()));
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let secret = format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new());
        std::fs::write(&path, &secret).with_context(|| format!("writing {}", path.display()))?;
        Ok(Self::new(secret.into_bytes()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length") // ok: infallible for HMAC
    }

    /// A token for `sub` with `role`, valid for `ttl_secs`.
    pub fn mint(&self, sub: &str, email: Option<&str>, role: &str, ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_owned(),
            email: email.map(str::to_owned),
            groups: vec![role.to_owned()],
            iss: ISSUER.into(),
            iat: now,
            exp: now + ttl_secs,
        };
        self.sign(&claims)
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{sig}")
    }

    /// The claims of a valid, unexpired token of ours.
    pub fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("malformed token");
        };
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|_| "malformed token")?)
                .map_err(|_| "malformed token")?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err("unsupported token algorithm");
        }
        let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| "malformed token")?;
        let mut mac = self.mac();
        mac.update(format!("{h}.{p}").as_bytes());
        mac.verify_slice(&sig).map_err(|_| "bad token signature")?;
        let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| "malformed token")?)
            .map_err(|_| "malformed token claims")?;
        if claims.iss != ISSUER {
            return Err("token from another issuer");
        }
        if claims.exp <= chrono::Utc::now().timestamp() {
            return Err("token expired");
        }
        Ok(claims)
    }
}

impl Authenticator for LocalTokens {
    fn authenticate(&self, parts: &Parts) -> Result<Principal, ApiError> {
        let token = bearer_token(parts)?;
        let claims = self.verify(token).map_err(|why| ApiError::Unauthenticated(why.into()))?;
        Principal::from_claims(Some(&claims.sub), claims.email.as_deref(), &claims.groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_verify_and_tampered_or_foreign_ones_do_not() {
        let tokens = LocalTokens::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let t = tokens.mint("alice", Some("alice@vendor.example"), "admin", 60);
        let claims = tokens.verify(&t).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.groups, ["admin"]);

        let other = LocalTokens::new(b"another secret another secret!!".to_vec());
        assert_eq!(other.verify(&t), Err("bad token signature"));

        let mut forged = claims.clone();
        forged.groups = vec!["admin".into(), "operator".into()];
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let mut parts: Vec<&str> = t.split('.').collect();
        parts[1] = &forged_payload;
        assert_eq!(tokens.verify(&parts.join(".")), Err("bad token signature"));

        let expired = tokens.mint("bob", None, "viewer", -1);
        assert_eq!(tokens.verify(&expired), Err("token expired"));

        let none_alg = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), parts[1]);
        assert_eq!(tokens.verify(&none_alg), Err("unsupported token algorithm"));
        assert!(tokens.verify("garbage").is_err());
    }
}
