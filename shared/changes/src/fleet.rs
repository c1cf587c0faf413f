//! The fleet counters: tenants by state and by release, kept exact in the same transaction as
//! every write that moves a tenant, each transaction on one of [`layout::FLEET_SHARDS`] shards
//! (picked at random) so that transitions of unrelated tenants do not contend for one item.

use std::collections::BTreeMap;

use domain::{ReleaseVersion, TenantState};
use serde_json::{Value, json};
use store::layout;
use store::{Item, StoreError, Tx, WriteOp};

/// Adds the counter moves to `tx`: each `(state, release, ±n)` moves tenants into or out of a
/// state and a release. Moves that cancel out touch nothing (a transaction may write an item
/// only once). Increments have no condition, so `on_fail` is never reported.
pub fn count_in_fleet<E: Clone + From<StoreError>>(
    tx: &mut Tx<E>,
    moves: &[(TenantState, &ReleaseVersion, i64)],
    on_fail: E,
) {
    let shard = shard();
    let mut deltas: BTreeMap<store::Key, (i64, &str, String)> = BTreeMap::new();
    for (state, release, by) in moves {
        deltas.entry(layout::fleet_state_counter(*state, shard)).or_insert((0, "state", state.to_string())).0 += by;
        let release_key = layout::fleet_release_counter(release, shard);
        deltas.entry(release_key).or_insert((0, "release", release.to_string())).0 += by;
    }
    for (key, (by, dimension, value)) in deltas {
        if by == 0 {
            continue;
        }
        let mut set = Item::new();
        set.insert("item_type".into(), json!("fleet_counter"));
        set.insert("dimension".into(), json!(dimension));
        set.insert("value".into(), Value::String(value));
        tx.push(WriteOp::Increment { key, field: "count".into(), by, set }, on_fail.clone());
    }
}

/// A shard picked at random (`RandomState`'s keys are random and differ at each call).
fn shard() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new().build_hasher().finish();
    u32::try_from(random % u64::from(layout::FLEET_SHARDS)).unwrap_or(0)
}

/// The moves of a tenant going from one (state, release) to another.
pub fn moved<'a>(
    from: (TenantState, &'a ReleaseVersion),
    to: (TenantState, &'a ReleaseVersion),
) -> [(TenantState, &'a ReleaseVersion, i64); 2] {
    [(from.0, from.1, -1), (to.0, to.1, 1)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChangeError;

    #[test]
    fn moves_that_cancel_out_write_nothing() {
        let r = ReleaseVersion::parse("3.1.0").unwrap();
        let mut tx = Tx::<ChangeError>::new();
        count_in_fleet(&mut tx, &moved((TenantState::Healthy, &r), (TenantState::Healthy, &r)), ChangeError::Duplicate);
        assert!(tx.is_empty());
        count_in_fleet(&mut tx, &moved((TenantState::Healthy, &r), (TenantState::Broken, &r)), ChangeError::Duplicate);
        // Two states move; the release's count does not.
        assert_eq!(tx.len(), 2);
    }

    #[test]
    fn the_counts_spread_over_the_shards() {
        let seen: std::collections::BTreeSet<u32> = (0..2000).map(|_| shard()).collect();
        assert_eq!(seen.len(), layout::FLEET_SHARDS as usize, "every shard is used");
    }
}
