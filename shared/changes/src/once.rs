//! Once-only guards for the creates a system makes on its own: a schedule's slot for one
//! tenant, an alarm's state change. The same idempotency record an `Idempotency-Key` writes
//! (under the caller's `sub`, with the table's TTL), so a delivery of the same event again
//! creates nothing new ([`crate::ChangeError::Duplicate`]) and a create whose workflow could
//! not start frees its key for a retry.

use chrono::Utc;
use serde_json::Value;
use store::layout;
use store::{Cond, WriteOp};

use crate::{Caller, Guard};

/// How long a system's once-only key is kept: longer than any redelivery (EventBridge retries
/// for at most 24 hours) and than a schedule's period.
pub const SYSTEM_KEY_TTL_SECS: i64 = 8 * 24 * 3600;

/// The guard of a create `caller` makes once for `key` (e.g. `<slot>#<tenant id>`).
pub fn guard(caller: &Caller, key: &str) -> Guard {
    let now = Utc::now().timestamp();
    let key = layout::idempotency_key(&caller.actor.sub, key);
    let mut item = key.to_item();
    item.insert("item_type".into(), Value::String("idempotency".into()));
    item.insert("ttl".into(), Value::from(now + SYSTEM_KEY_TTL_SECS));
    Guard { write: WriteOp::put(item, Cond::NotExistsOrExpired(now)), key }
}
