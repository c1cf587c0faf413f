//! `next_token`: a page's last key, bound to the query it came from, opaque to clients
//! (base64url of `{"k": <last key>, "q": <digest of the query>}`). On the way back in the token
//! must carry the digest of the query it is used with (same table or index, partition, sort-key
//! condition, order and filters; the page size may change), and a key inside that query's
//! bounds. So a token of another list, another tenant or another filter is refused rather than
//! misread, and DynamoDB is never sent a start key it would reject.
//!
//! The digest is not a signature: a client that forges a token with the right digest and a key
//! inside the query's bounds gets that query's items after that key, which it may read anyway.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::{Index, Item, Query};

/// Encodes a page's last key for `query`; `None` when the list is done.
pub fn encode(last_key: Option<&Item>, query: &Query) -> Option<String> {
    last_key.map(|k| URL_SAFE_NO_PAD.encode(json!({ "k": Value::Object(k.clone()), "q": digest(query) }).to_string()))
}

/// Why a `next_token` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("is not a token this list returned")]
pub struct BadToken;

/// Decodes a token for this query: it must carry the query's digest and exactly the query's
/// key attributes, as strings, in the query's partition and within its sort-key condition.
pub fn decode(token: &str, query: &Query) -> Result<Item, BadToken> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadToken)?;
    let Ok(Value::Object(mut token)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(BadToken);
    };
    if token.get("q").and_then(Value::as_str) != Some(digest(query).as_str()) {
        return Err(BadToken);
    }
    let Some(Value::Object(key)) = token.remove("k") else {
        return Err(BadToken);
    };
    let attrs = query.start_key_attrs();
    if key.len() != attrs.len() || !attrs.iter().all(|a| key.get(*a).is_some_and(Value::is_string)) {
        return Err(BadToken);
    }
    let (ipk, isk) = Index::key_attrs(query.index);
    if key.get(ipk).and_then(Value::as_str) != Some(query.pk.as_str()) {
        return Err(BadToken);
    }
    let sk = key.get(isk).and_then(Value::as_str).unwrap_or_default();
    let in_prefix = query.sk_prefix.as_ref().is_none_or(|p| sk.starts_with(p.as_str()));
    let in_range = query.sk_between.as_ref().is_none_or(|(from, to)| (from.as_str()..=to.as_str()).contains(&sk));
    if !(in_prefix && in_range) {
        return Err(BadToken);
    }
    Ok(key)
}

/// What makes two queries the same list: everything but the page size and the start. FNV-1a
/// over a canonical JSON rendering: stable across builds and processes (the token outlives
/// both), and enough to tell lists apart; it is not meant to resist forgery (see above).
fn digest(query: &Query) -> String {
    let mut filters: Vec<(String, String)> = query.filters.iter().map(|(a, v)| (a.clone(), v.to_string())).collect();
    filters.sort();
    let canonical = json!([
        query.index.map_or("table", Index::name),
        query.pk,
        query.sk_prefix,
        query.sk_between,
        query.forward,
        filters,
    ])
    .to_string();
    let hash =
        canonical.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(v: Value) -> Item {
        let Value::Object(k) = v else { unreachable!() };
        k
    }

    fn healthy_key() -> Item {
        key(json!({"pk": "TENANT#1", "sk": "TENANT", "gsi2pk": "STATE#Healthy", "gsi2sk": "ten_1"}))
    }

    fn forged(k: Value, q: &Query) -> String {
        URL_SAFE_NO_PAD.encode(json!({"k": k, "q": digest(q)}).to_string())
    }

    #[test]
    fn tokens_round_trip_for_their_own_query_whatever_the_page_size() {
        let q = Query::new(Some(Index::Gsi2), "STATE#Healthy").limit(2);
        let token = encode(Some(&healthy_key()), &q).unwrap();
        assert_eq!(decode(&token, &q).unwrap(), healthy_key());
        assert_eq!(decode(&token, &q.clone().limit(50)).unwrap(), healthy_key());
        assert_eq!(decode(&token, &q.clone().start(Some(healthy_key()))).unwrap(), healthy_key());
        assert_eq!(encode(None, &q), None);
    }

    #[test]
    fn a_token_of_another_list_partition_filter_order_or_range_is_refused() {
        let q = Query::new(Some(Index::Gsi2), "STATE#Healthy");
        let token = encode(Some(&healthy_key()), &q).unwrap();
        let others = [
            Query::new(Some(Index::Gsi2), "STATE#Broken"),
            Query::new(None, "TENANT#1"),
            Query::new(Some(Index::Gsi3), "STATE#Healthy"),
            q.clone().filter("release", json!("3.1.0")),
            q.clone().newest_first(),
            q.clone().prefix("ten_"),
            q.clone().between("a", "z"),
        ];
        for other in others {
            assert_eq!(decode(&token, &other), Err(BadToken), "{other:?}");
        }
        let filtered = q.clone().filter("release", json!("3.1.0"));
        let token = encode(Some(&healthy_key()), &filtered).unwrap();
        assert_eq!(decode(&token, &filtered.clone().filter("state", json!("x"))), Err(BadToken));
        assert_eq!(decode(&token, &q.clone().filter("release", json!("3.2.0"))), Err(BadToken));
    }

    #[test]
    fn filters_are_one_list_in_any_order() {
        let a = Query::new(None, "P").filter("x", json!(1)).filter("y", json!("b"));
        let b = Query::new(None, "P").filter("y", json!("b")).filter("x", json!(1));
        let token = encode(Some(&key(json!({"pk": "P", "sk": "1"}))), &a).unwrap();
        assert!(decode(&token, &b).is_ok());
    }

    #[test]
    fn malformed_or_forged_tokens_are_refused() {
        let q = Query::new(None, "TENANT#1").prefix("CONFIG#");
        for bad in ["not base64 !", &URL_SAFE_NO_PAD.encode("[1]"), &URL_SAFE_NO_PAD.encode("{}")] {
            assert_eq!(decode(bad, &q), Err(BadToken), "{bad}");
        }
        // The key alone, as tokens were before they carried their query.
        let bare = URL_SAFE_NO_PAD.encode(json!({"pk": "TENANT#1", "sk": "CONFIG#a"}).to_string());
        assert_eq!(decode(&bare, &q), Err(BadToken));
        assert!(decode(&forged(json!({"pk": "TENANT#1", "sk": "CONFIG#a"}), &q), &q).is_ok());
        for k in [
            json!({"pk": "TENANT#1", "sk": "RESOURCE#a"}),
            json!({"pk": "TENANT#2", "sk": "CONFIG#a"}),
            json!({"pk": "TENANT#1", "sk": 7}),
            json!({"pk": "TENANT#1"}),
            json!({"pk": "TENANT#1", "sk": "CONFIG#a", "extra": "x"}),
            json!("TENANT#1"),
        ] {
            assert_eq!(decode(&forged(k.clone(), &q), &q), Err(BadToken), "{k}");
        }
        let ranged = Query::new(None, "P").between("2026-01", "2026-02~");
        assert!(decode(&forged(json!({"pk": "P", "sk": "2026-01-15"}), &ranged), &ranged).is_ok());
        assert_eq!(decode(&forged(json!({"pk": "P", "sk": "2026-03-01"}), &ranged), &ranged), Err(BadToken));
    }
}
