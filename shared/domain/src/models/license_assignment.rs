//! License assignments: a customer's license, its key material by reference, status and term.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{AssignmentId, CustomerId, FieldError, LicenseId, patch, values::SecretRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    Active,
    Suspended,
    Revoked,
    Expired,
}

/// A customer's license: which license, its key material by reference, status and term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LicenseAssignment {
    pub id: AssignmentId,
    pub customer_id: CustomerId,
    pub license_id: LicenseId,
    pub status: AssignmentStatus,
    /// Where the license key material lives; never the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub key_ref: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentCreate {
    pub customer_id: CustomerId,
    pub license_id: LicenseId,
    #[serde(default)]
    pub key_ref: Option<SecretRef>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// After `starts_at` when both are given.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub status: Option<AssignmentStatus>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<SecretRef>)]
    pub key_ref: Option<Option<SecretRef>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

fn check_term(starts_at: Option<DateTime<Utc>>, expires_at: Option<DateTime<Utc>>) -> Result<(), FieldError> {
    match (starts_at, expires_at) {
        (Some(s), Some(e)) if e <= s => Err(FieldError::new("expires_at", "must be after starts_at")),
        _ => Ok(()),
    }
}

impl LicenseAssignment {
    pub fn create(cmd: AssignmentCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        check_term(cmd.starts_at, cmd.expires_at)?;
        Ok(Self {
            id: AssignmentId::generate(),
            customer_id: cmd.customer_id,
            license_id: cmd.license_id,
            status: AssignmentStatus::Active,
            key_ref: cmd.key_ref,
            starts_at: cmd.starts_at,
            expires_at: cmd.expires_at,
            stamp: Stamp::first(ctx),
        })
    }
}

impl AssignmentPatch {
    pub fn apply_to(self, a: &mut LicenseAssignment) -> Result<(), FieldError> {
        patch::set(&mut a.status, self.status);
        patch::apply(&mut a.key_ref, self.key_ref);
        patch::apply(&mut a.starts_at, self.starts_at);
        patch::apply(&mut a.expires_at, self.expires_at);
        check_term(a.starts_at, a.expires_at)
    }
}

stamped!(LicenseAssignment);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn terms_need_order() {
        let cmd: AssignmentCreate = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "license_id": LicenseId::generate(),
            "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2025-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(LicenseAssignment::create(cmd, &ctx()).unwrap_err().field, "expires_at");
    }
}
