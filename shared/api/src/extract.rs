//! Request extractors that fail with a problem naming the field: JSON bodies, query strings,
//! `If-Match` and `Idempotency-Key`.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// A JSON body parsed into `T`, with the SHA-256 of its bytes (for idempotency).
#[derive(Debug)]
pub struct JsonBody<T> {
    pub value: T,
    pub sha256: String,
}

/// Where in the body a deserialization error happened, as a dotted field path.
fn field_path(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p == "." { String::new() } else { p }
}

/// Parses JSON, naming the field at fault: syntax errors are 400, wrong or missing values 422.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(_) => {
                Err(ApiError::BadRequest { field: None, detail: "the body has data after its JSON value".into() })
            }
        },
        Err(err) => {
            let field = field_path(err.path());
            let inner = err.into_inner();
            let mut message = inner.to_string();
            if let Some(i) = message.find(" at line ") {
                message.truncate(i);
            }
            // serde_json reports some type mismatches (a number where an enum is expected) as
            // syntax errors: the body is malformed only when it does not parse as JSON at all.
            let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
            match inner.classify() {
                serde_json::error::Category::Syntax
                | serde_json::error::Category::Eof
                | serde_json::error::Category::Io
                    if !well_formed =>
                {
                    Err(ApiError::BadRequest { field: None, detail: format!("the body is not valid JSON: {message}") })
                }
                _ => {
                    let field =
                        if field.is_empty() { missing_or_unknown_field(&message).unwrap_or_default() } else { field };
                    Err(ApiError::Invalid(domain::FieldError::new(field, message)))
                }
            }
        }
    }
}

/// serde reports missing and unknown fields at the parent: pull the name out of its message.
fn missing_or_unknown_field(message: &str) -> Option<String> {
    let rest =
        ["missing field `", "unknown field `", "duplicate field `"].iter().find_map(|p| message.strip_prefix(p))?;
    rest.split('`').next().map(str::to_owned)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or_default().trim().to_owned();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(ApiError::UnsupportedMediaType);
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| ApiError::PayloadTooLarge(MAX_BODY_BYTES))?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
        // Every body of this API is an object: serde would also read an array into a struct, by
        // field position (`[null, null]` clearing the first two fields of a patch).
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
            return Err(ApiError::invalid("", "the body must be a JSON object"));
        }
        let value = parse_json(&bytes)?;
        let sha256 = hex(&Sha256::digest(&bytes));
        Ok(Self { value, sha256 })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A query string parsed into `T`; unknown parameters are refused.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded_parse(q));
        serde_path_to_error::deserialize(de).map(QueryParams).map_err(|err| {
            let field = field_path(err.path());
            let message = err.into_inner().to_string();
            let field = if field.is_empty() { missing_or_unknown_field(&message).unwrap_or_default() } else { field };
            ApiError::bad_request(&field, format!("query parameter `{field}`: {message}"))
        })
    }
}

fn form_urlencoded_parse(q: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(q.as_bytes())
}

/// `If-Match: "<version>"` (weak or strong, or `*`): the version the client last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<u64>);

impl IfMatch {
    /// Fails with 412 unless the record's current version is the one the client expects.
    pub fn check(self, current: u64) -> Result<(), ApiError> {
        match self.0 {
            Some(v) if v != current => Err(ApiError::PreconditionFailed { current }),
            _ => Ok(()),
        }
    }

    pub fn given(self) -> bool {
        self.0.is_some()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get(header::IF_MATCH) else {
            return Ok(Self(None));
        };
        let bad = || ApiError::bad_request("If-Match", "If-Match must be an ETag this API returned, such as \"3\"");
        let s = raw.to_str().map_err(|_| bad())?.trim();
        if s == "*" {
            return Ok(Self(None));
        }
        let s = s.strip_prefix("W/").unwrap_or(s);
        let s = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s);
        s.parse::<u64>().map(|v| Self(Some(v))).map_err(|_| bad())
    }
}

/// The form of an `If-Match` this API takes: `*`, or an ETag it returned (`"3"`, weak `W/"3"`; the
/// revision unquoted, `3`, is taken too).
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?("[0-9]{1,19}"|[0-9]{1,19}))$"#;

/// The form of an `Idempotency-Key`: 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";

fn header_param(name: &str, pattern: &str, example: &str, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::{ObjectBuilder, Required, path::ParameterBuilder, path::ParameterIn, schema::Type};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(pattern))
                .examples([serde_json::json!(example)]),
        ))
        .build()
}

/// Documents the header as the extractor reads it (`params(IfMatch)` in a handler's annotation).
impl utoipa::IntoParams for IfMatch {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![header_param(
            "If-Match",
            IF_MATCH_PATTERN,
            "\"3\"",
            "The `ETag` of the record as you read it: the write happens only if it is still the current \
             revision (412 otherwise). `*` or no header: no check (a lost race is then 409).",
        )]
    }
}

/// The optional `Idempotency-Key` header of a POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(raw) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        let bad = || ApiError::bad_request("Idempotency-Key", "Idempotency-Key must be 1-255 visible ASCII characters");
        let s = raw.to_str().map_err(|_| bad())?;
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(bad());
        }
        Ok(Self(Some(s.to_owned())))
    }
}

/// Documents the header as the extractor reads it (`params(IdempotencyKey)` in an annotation).
impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![header_param(
            "Idempotency-Key",
            IDEMPOTENCY_KEY_PATTERN,
            "create-acme-prod-2026-11-30",
            "Makes the POST safe to retry: the same key with the same body within 24 h answers as the \
             first request did (with `idempotent-replayed: true`) and creates nothing; the same key with \
             another body is 422.",
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: domain::Name,
        inner: Option<Inner>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn field_of(json: &str) -> (u16, Option<String>) {
        let p = parse_json::<Body>(json.as_bytes()).unwrap_err().problem();
        (p.status, p.field)
    }

    #[test]
    fn json_errors_name_the_field() {
        assert_eq!(field_of("{"), (400, None));
        assert_eq!(field_of("{}"), (422, Some("name".into())));
        assert_eq!(field_of(r#"{"name":"a","colour":1}"#), (422, Some("colour".into())));
        assert_eq!(field_of(r#"{"name":5}"#), (422, Some("name".into())));
        assert_eq!(field_of(r#"{"name":""}"#), (422, Some("name".into())));
        assert_eq!(field_of(r#"{"name":"a","inner":{"count":-1}}"#), (422, Some("inner.count".into())));
        assert_eq!(field_of("[]"), (422, None));
    }

    #[test]
    fn if_match_compares_versions() {
        assert!(IfMatch(Some(3)).check(3).is_ok());
        assert_eq!(IfMatch(Some(2)).check(3), Err(ApiError::PreconditionFailed { current: 3 }));
        assert!(IfMatch(None).check(9).is_ok());
    }
}
