//! `next_token`: a page's last key, opaque to clients (base64url of its JSON), checked on the
//! way back in so a token from another list is refused rather than misread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::{Index, Item, Query};

/// Encodes a page's last key; `None` when the list is done.
pub fn encode(last_key: Option<&Item>) -> Option<String> {
    last_key.map(|k| URL_SAFE_NO_PAD.encode(Value::Object(k.clone()).to_string()))
}

/// Why a `next_token` was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("is not a token this list returned")]
pub struct BadToken;

/// Decodes a token for this query: it must hold exactly the query's key attributes, as strings,
/// with the query's partition.
pub fn decode(token: &str, query: &Query) -> Result<Item, BadToken> {
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadToken)?;
    let Ok(Value::Object(item)) = serde_json::from_slice::<Value>(&bytes) else {
        return Err(BadToken);
    };
    let attrs = query.start_key_attrs();
    if item.len() != attrs.len() || !attrs.iter().all(|a| item.get(*a).is_some_and(Value::is_string)) {
        return Err(BadToken);
    }
    let (ipk, _) = Index::key_attrs(query.index);
    if item.get(ipk).and_then(Value::as_str) != Some(query.pk.as_str()) {
        return Err(BadToken);
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tokens_round_trip_only_for_their_own_list() {
        let q = Query::new(Some(Index::Gsi2), "STATE#Healthy");
        let key = json!({"pk": "TENANT#1", "sk": "TENANT", "gsi2pk": "STATE#Healthy", "gsi2sk": "ten_1"});
        let Value::Object(key) = key else { unreachable!() };
        let token = encode(Some(&key)).unwrap();
        assert_eq!(decode(&token, &q).unwrap(), key);

        let other = Query::new(Some(Index::Gsi2), "STATE#Broken");
        assert_eq!(decode(&token, &other), Err(BadToken));
        let base = Query::new(None, "TENANT#1");
        assert_eq!(decode(&token, &base), Err(BadToken));
        assert_eq!(decode("not base64 !", &q), Err(BadToken));
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode("[1]"), &q), Err(BadToken));
        assert_eq!(encode(None), None);
    }
}
