//! The write stamp every model carries, and the context a write stamps itself from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{Actor, ChangeRequestId, Source};

/// Stamped on every write: the change log reads these from the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stamp {
    /// Bumped by every write; the record's `ETag`. (Named `revision` because `version` is a
    /// field of releases and component versions themselves.)
    #[schema(minimum = 1)]
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// The actor of the last write (`sub <email>`).
    pub updated_by: String,
    /// The change request the last write was part of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub change_request_id: Option<ChangeRequestId>,
    pub source: Source,
}

/// Who is writing, why and from where: everything a write needs to stamp itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteContext {
    pub actor: Actor,
    pub source: Source,
    pub change_request_id: Option<ChangeRequestId>,
    pub now: DateTime<Utc>,
}

impl WriteContext {
    pub fn api(actor: Actor) -> Self {
        Self { actor, source: Source::Api, change_request_id: None, now: Utc::now() }
    }
}

impl Stamp {
    pub fn first(ctx: &WriteContext) -> Self {
        Self {
            revision: 1,
            created_at: ctx.now,
            created_by: ctx.actor.stamp(),
            updated_at: ctx.now,
            updated_by: ctx.actor.stamp(),
            change_request_id: ctx.change_request_id.clone(),
            source: ctx.source,
        }
    }

    /// The stamp of the next write of the same record.
    pub fn next(&self, ctx: &WriteContext) -> Self {
        Self {
            revision: self.revision + 1,
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            updated_at: ctx.now,
            updated_by: ctx.actor.stamp(),
            change_request_id: ctx.change_request_id.clone(),
            source: ctx.source,
        }
    }
}

/// Implemented by every stamped model.
pub trait Stamped {
    fn stamp(&self) -> &Stamp;
    fn stamp_mut(&mut self) -> &mut Stamp;
}

/// Implements [`Stamped`] for models with a `stamp` field.
macro_rules! stamped {
    ($($t:ty),*) => {$(
        impl $crate::models::Stamped for $t {
            fn stamp(&self) -> &$crate::models::Stamp { &self.stamp }
            fn stamp_mut(&mut self) -> &mut $crate::models::Stamp { &mut self.stamp }
        }
    )*};
}
pub(super) use stamped;

/// The write context of the models' tests.
#[cfg(test)]
pub(super) fn test_ctx() -> WriteContext {
    WriteContext::api(Actor { sub: "alice".into(), email: Some("alice@vendor.example".into()) })
}

#[cfg(test)]
mod tests {
    use super::test_ctx as ctx;
    use super::*;
    use crate::models::{Customer, ProductRelease};

    #[test]
    fn stamps_count_versions_and_keep_creation() {
        let c = ctx();
        let first = Stamp::first(&c);
        assert_eq!(first.revision, 1);
        assert_eq!(first.updated_by, "alice <alice@vendor.example>");
        let later = WriteContext { actor: Actor::system("alarm"), source: Source::Alarm, ..c };
        let next = first.next(&later);
        assert_eq!(next.revision, 2);
        assert_eq!(next.created_by, first.created_by);
        assert_eq!(next.updated_by, "system:alarm");
        assert_eq!(next.source, Source::Alarm);
    }

    #[test]
    fn stamp_fields_never_collide_with_model_fields() {
        let ctx = ctx();
        let release = ProductRelease::create(
            serde_json::from_str(r#"{"version":"3.1.0","components":{"webapp":"3.1.0"}}"#).unwrap(),
            &ctx,
        )
        .unwrap();
        let json = serde_json::to_value(&release).unwrap();
        assert_eq!(json["version"], "3.1.0");
        assert_eq!(json["revision"], 1);
        assert_eq!(serde_json::from_value::<ProductRelease>(json).unwrap(), release);
    }

    #[test]
    fn models_round_trip_through_json_with_their_stamp_flattened() {
        let c = Customer::create(serde_json::from_str(r#"{"name":"Acme"}"#).unwrap(), &ctx());
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["revision"], 1);
        assert_eq!(json["source"], "api");
        let back: Customer = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
