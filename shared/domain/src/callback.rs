//! The Jenkins completion callback: what a job posts when it ends, and the signature that
//! proves the portal's Jenkins sent it.
//!
//! The job signs `<timestamp>.<nonce>.<body>` with HMAC-SHA256 under the key both sides hold
//! (an SSM SecureString), and sends three headers with the body:
//!
//! | header | |
//! |---|---|
//! | `X-Portal-Timestamp` | Unix seconds when it was signed; refused more than [`MAX_SKEW_SECS`] away from now |
//! | `X-Portal-Nonce` | 16 to 64 of `A-Z a-z 0-9 - _`, never used before (the portal keeps each for [`NONCE_TTL_SECS`]) |
//! | `X-Portal-Signature` | `sha256=` and the HMAC's 64 lower-case hex digits |
//!
//! The callback is only a wake-up: the step it names is read again from Jenkins, so a callback
//! cannot make a failed build succeed. Everything here is pure; keeping nonces is the core's.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;

use crate::ChangeRequestId;

pub const TIMESTAMP_HEADER: &str = "x-portal-timestamp";
pub const NONCE_HEADER: &str = "x-portal-nonce";
pub const SIGNATURE_HEADER: &str = "x-portal-signature";

/// How far a callback's timestamp may be from the portal's clock.
pub const MAX_SKEW_SECS: i64 = 300;
/// How long a nonce is remembered: past it, its timestamp is stale anyway.
pub const NONCE_TTL_SECS: i64 = 2 * MAX_SKEW_SECS + 60;

const SIGNATURE_PREFIX: &str = "sha256=";

/// What a job posts: the step it ran for (its `PORTAL_STEP_ID` parameter) and, for the logs,
/// what it says of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JenkinsCallback {
    /// The build's `PORTAL_STEP_ID` parameter: `<change request id>-<step index>`.
    #[schema(pattern = r"^chg_[0-7][0-9A-HJKMNP-TV-Z]{25}-[0-9]{1,4}$", example = "chg_01JD8X3V9Q7K2M4N6P8R0T2W4Y-3")]
    pub step_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 200)]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 2048)]
    pub build_url: Option<String>,
    /// What Jenkins says the build ended with; the portal reads the build again rather than
    /// trusting it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, max_length = 32)]
    pub result: Option<String>,
}

/// What came of a callback that was let in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CallbackOutcome {
    #[schema(pattern = r"^chg_[0-7][0-9A-HJKMNP-TV-Z]{25}-[0-9]{1,4}$")]
    pub step_id: String,
    /// Whether a workflow was waiting on this step and was woken. `false` when it was not
    /// waiting (yet, or any more): it reads the build at its own pace.
    pub woke: bool,
}

/// A step of a change request, as its work carries it outside: `<change request id>-<index>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepId {
    pub change_request_id: ChangeRequestId,
    pub index: usize,
}

impl StepId {
    pub fn parse(s: &str) -> Option<Self> {
        let (cr, index) = s.rsplit_once('-')?;
        if index.is_empty() || index.len() > 4 || !index.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self { change_request_id: ChangeRequestId::parse(cr).ok()?, index: index.parse().ok()? })
    }
}

impl std::fmt::Display for StepId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.change_request_id, self.index)
    }
}

/// Why a callback is refused (each is a 401: the sender is not proven).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefusal {
    #[error("the {0} header is missing")]
    Missing(&'static str),
    #[error("X-Portal-Timestamp is not Unix seconds")]
    BadTimestamp,
    #[error("the callback was signed {0} s away from now (at most {MAX_SKEW_SECS} s)")]
    Stale(i64),
    #[error("X-Portal-Nonce must be 16 to 64 of A-Z a-z 0-9 - _")]
    BadNonce,
    #[error("the signature does not match the body")]
    Forged,
    #[error("this nonce was used before")]
    Replayed,
}

/// The three headers, as received (any may be missing).
#[derive(Debug, Clone, Default)]
pub struct SignedHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// A callback whose signature holds; its nonce is still to be claimed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub nonce: String,
    pub signed_at: DateTime<Utc>,
}

fn mac(key: &[u8], timestamp: &str, nonce: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(nonce.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Portal-Signature` value for this body (what the job, or a test, sends).
pub fn sign(key: &[u8], timestamp: &str, nonce: &str, body: &[u8]) -> String {
    let digest = mac(key, timestamp, nonce, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{SIGNATURE_PREFIX}{hex}")
}

fn valid_nonce(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// Checks the headers against the body and the clock: the signature is compared in constant
/// time, and only once the timestamp is fresh and the nonce well formed.
pub fn verify(
    key: &[u8],
    headers: &SignedHeaders<'_>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Verified, CallbackRefusal> {
    let timestamp = headers.timestamp.ok_or(CallbackRefusal::Missing("X-Portal-Timestamp"))?;
    let nonce = headers.nonce.ok_or(CallbackRefusal::Missing("X-Portal-Nonce"))?;
    let signature = headers.signature.ok_or(CallbackRefusal::Missing("X-Portal-Signature"))?;
    let secs: i64 = timestamp.parse().map_err(|_| CallbackRefusal::BadTimestamp)?;
    let signed_at = DateTime::<Utc>::from_timestamp(secs, 0).ok_or(CallbackRefusal::BadTimestamp)?;
    let skew = (now - signed_at).num_seconds();
    if skew.abs() > MAX_SKEW_SECS {
        return Err(CallbackRefusal::Stale(skew));
    }
    if !valid_nonce(nonce) {
        return Err(CallbackRefusal::BadNonce);
    }
    let given = signature.strip_prefix(SIGNATURE_PREFIX).and_then(unhex).ok_or(CallbackRefusal::Forged)?;
    mac(key, timestamp, nonce, body).verify_slice(&given).map_err(|_| CallbackRefusal::Forged)?;
    Ok(Verified { nonce: nonce.to_owned(), signed_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"callback-key-of-the-test";
    const BODY: &[u8] = br#"{"step_id":"chg_01JD8X3V9Q7K2M4N6P8R0T2W4Y-3"}"#;
    const NONCE: &str = "n0nce-0123456789ab";

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    fn headers<'a>(ts: &'a str, nonce: &'a str, sig: &'a str) -> SignedHeaders<'a> {
        SignedHeaders { timestamp: Some(ts), nonce: Some(nonce), signature: Some(sig) }
    }

    #[test]
    fn a_signed_body_verifies_and_anything_changed_does_not() {
        let sig = sign(KEY, "1700000000", NONCE, BODY);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let ok = verify(KEY, &headers("1700000000", NONCE, &sig), BODY, at(1_700_000_100)).unwrap();
        assert_eq!(ok, Verified { nonce: NONCE.into(), signed_at: at(1_700_000_000) });

        let other_body = br#"{"step_id":"chg_01JD8X3V9Q7K2M4N6P8R0T2W4Y-4"}"#;
        let refused = |h: SignedHeaders<'_>, body: &[u8], key: &[u8]| verify(key, &h, body, at(1_700_000_100));
        assert_eq!(refused(headers("1700000000", NONCE, &sig), other_body, KEY), Err(CallbackRefusal::Forged));
        assert_eq!(refused(headers("1700000000", NONCE, &sig), BODY, b"another key"), Err(CallbackRefusal::Forged));
        assert_eq!(refused(headers("1700000001", NONCE, &sig), BODY, KEY), Err(CallbackRefusal::Forged));
        assert_eq!(refused(headers("1700000000", "n0nce-0123456789ac", &sig), BODY, KEY), Err(CallbackRefusal::Forged));
        let upper = sig.to_uppercase().replacen("SHA256=", "sha256=", 1);
        assert!(refused(headers("1700000000", NONCE, &upper), BODY, KEY).is_ok(), "hex digits in any case");
        for bad in ["", "sha256=", "sha256=zz", "md5=00", &sig[..sig.len() - 2]] {
            assert_eq!(refused(headers("1700000000", NONCE, bad), BODY, KEY), Err(CallbackRefusal::Forged), "{bad}");
        }
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused_before_the_signature_is_looked_at() {
        let sig = sign(KEY, "1700000000", NONCE, BODY);
        let h = headers("1700000000", NONCE, &sig);
        assert!(verify(KEY, &h, BODY, at(1_700_000_000 + MAX_SKEW_SECS)).is_ok());
        assert_eq!(verify(KEY, &h, BODY, at(1_700_000_301)), Err(CallbackRefusal::Stale(301)));
        assert_eq!(verify(KEY, &h, BODY, at(1_699_999_699)), Err(CallbackRefusal::Stale(-301)));
        let junk = headers("yesterday", NONCE, &sig);
        assert_eq!(verify(KEY, &junk, BODY, at(1_700_000_000)), Err(CallbackRefusal::BadTimestamp));
    }

    #[test]
    fn every_header_is_required_and_the_nonce_is_well_formed() {
        let sig = sign(KEY, "1700000000", NONCE, BODY);
        let now = at(1_700_000_000);
        let mut h = headers("1700000000", NONCE, &sig);
        h.signature = None;
        assert_eq!(verify(KEY, &h, BODY, now), Err(CallbackRefusal::Missing("X-Portal-Signature")));
        h = headers("1700000000", NONCE, &sig);
        h.nonce = None;
        assert_eq!(verify(KEY, &h, BODY, now), Err(CallbackRefusal::Missing("X-Portal-Nonce")));
        h = headers("1700000000", NONCE, &sig);
        h.timestamp = None;
        assert_eq!(verify(KEY, &h, BODY, now), Err(CallbackRefusal::Missing("X-Portal-Timestamp")));
        for bad in ["short", "has space in it 12345", &"x".repeat(65), "n0nce/0123456789ab"] {
            let sig = sign(KEY, "1700000000", bad, BODY);
            assert_eq!(verify(KEY, &headers("1700000000", bad, &sig), BODY, now), Err(CallbackRefusal::BadNonce));
        }
    }

    #[test]
    fn a_step_id_is_the_change_request_and_the_index() {
        let id = ChangeRequestId::generate();
        let parsed = StepId::parse(&format!("{id}-12")).unwrap();
        assert_eq!((parsed.change_request_id.clone(), parsed.index), (id.clone(), 12));
        assert_eq!(parsed.to_string(), format!("{id}-12"));
        for bad in [format!("{id}"), format!("{id}-"), format!("{id}-x1"), format!("{id}-12345"), "cr_x-1".into()] {
            assert_eq!(StepId::parse(&bad), None, "{bad}");
        }
    }
}
