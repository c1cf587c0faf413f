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

impl AssignmentStatus {
    /// The API name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
            Self::Expired => "expired",
        }
    }
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
    /// Another license for the customer (an upgrade): on an active assignment, its tenants get
    /// the new license installed.
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub license_id: Option<LicenseId>,
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
        patch::set(&mut a.license_id, self.license_id);
        patch::apply(&mut a.key_ref, self.key_ref);
        patch::apply(&mut a.starts_at, self.starts_at);
        patch::apply(&mut a.expires_at, self.expires_at);
        check_term(a.starts_at, a.expires_at)
    }
}

/// What a change of an assignment asks of its customer's tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LicenseEffect {
    /// It became active, or changed license while active: install it (`activate_license`).
    Activate,
    /// It stopped being active (revoked, suspended, expired): `suspend` the tenants.
    Suspend,
}

impl LicenseAssignment {
    /// What going from `before` (none: a new assignment) to `self` asks of the tenants.
    pub fn effect_since(&self, before: Option<&LicenseAssignment>) -> Option<LicenseEffect> {
        let active = |a: &LicenseAssignment| a.status == AssignmentStatus::Active;
        match before {
            None => active(self).then_some(LicenseEffect::Activate),
            Some(b) if active(b) && !active(self) => Some(LicenseEffect::Suspend),
            Some(b) if active(self) && (!active(b) || b.license_id != self.license_id) => Some(LicenseEffect::Activate),
            Some(_) => None,
        }
    }

    /// Whether it is active and past its expiry at `at`.
    pub fn expired_at(&self, at: DateTime<Utc>) -> bool {
        self.status == AssignmentStatus::Active && self.expires_at.is_some_and(|e| e <= at)
    }
}

stamped!(LicenseAssignment);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    fn assignment() -> LicenseAssignment {
        let cmd: AssignmentCreate = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "license_id": LicenseId::generate(),
        }))
        .unwrap();
        LicenseAssignment::create(cmd, &ctx()).unwrap()
    }

    #[test]
    fn an_assignment_activates_when_created_upgraded_or_reactivated_and_suspends_when_it_stops() {
        let a = assignment();
        assert_eq!(a.effect_since(None), Some(LicenseEffect::Activate));
        let mut upgraded = a.clone();
        upgraded.license_id = LicenseId::generate();
        assert_eq!(upgraded.effect_since(Some(&a)), Some(LicenseEffect::Activate));
        let mut revoked = a.clone();
        revoked.status = AssignmentStatus::Revoked;
        assert_eq!(revoked.effect_since(Some(&a)), Some(LicenseEffect::Suspend));
        assert_eq!(a.effect_since(Some(&revoked)), Some(LicenseEffect::Activate));
        let mut moved_term = a.clone();
        moved_term.expires_at = Some(Utc::now());
        assert_eq!(moved_term.effect_since(Some(&a)), None);
        let mut expired = revoked.clone();
        expired.status = AssignmentStatus::Expired;
        assert_eq!(expired.effect_since(Some(&revoked)), None);
    }

    #[test]
    fn only_an_active_assignment_past_its_end_is_expired() {
        let mut a = assignment();
        let now = Utc::now();
        assert!(!a.expired_at(now));
        a.expires_at = Some(now);
        assert!(a.expired_at(now));
        assert!(!a.expired_at(now - chrono::Duration::seconds(1)));
        a.status = AssignmentStatus::Revoked;
        assert!(!a.expired_at(now));
    }

    #[test]
    fn a_status_is_named_as_it_is_serialized() {
        use AssignmentStatus as A;
        for s in [A::Active, A::Suspended, A::Revoked, A::Expired] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

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
