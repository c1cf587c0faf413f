//! PATCH semantics for optional fields: absent leaves a field alone, `null` clears it, a value
//! sets it.

use serde::{Deserialize, Deserializer};

/// Use with `#[serde(default, deserialize_with = "patch::nullable")]` on an `Option<Option<T>>`.
pub fn nullable<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Use with `#[serde(default, deserialize_with = "patch::not_null")]` on an `Option<T>` field
/// that cannot be cleared: absent leaves it alone, `null` is refused.
pub fn not_null<'de, T, D>(de: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    match Option::<T>::deserialize(de)? {
        Some(v) => Ok(Some(v)),
        None => Err(serde::de::Error::custom("may not be null (leave the field out to keep it)")),
    }
}

/// Applies a nullable patch field to its target.
pub fn apply<T: PartialEq>(target: &mut Option<T>, patch: Option<Option<T>>) {
    if let Some(v) = patch {
        *target = v;
    }
}

/// Applies a plain patch field to its target.
pub fn set<T>(target: &mut T, patch: Option<T>) {
    if let Some(v) = patch {
        *target = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct P {
        #[serde(default, deserialize_with = "nullable")]
        note: Option<Option<String>>,
    }

    #[derive(Debug, Deserialize)]
    struct Q {
        #[serde(default, deserialize_with = "not_null")]
        name: Option<String>,
    }

    #[test]
    fn fields_that_cannot_be_cleared_refuse_null() {
        assert_eq!(serde_json::from_str::<Q>("{}").unwrap().name, None);
        assert_eq!(serde_json::from_str::<Q>(r#"{"name":"x"}"#).unwrap().name.as_deref(), Some("x"));
        assert!(serde_json::from_str::<Q>(r#"{"name":null}"#).unwrap_err().to_string().contains("may not be null"));
    }

    #[test]
    fn absent_null_and_value_are_three_different_things() {
        let absent: P = serde_json::from_str("{}").unwrap();
        let null: P = serde_json::from_str(r#"{"note":null}"#).unwrap();
        let value: P = serde_json::from_str(r#"{"note":"x"}"#).unwrap();
        assert_eq!(absent.note, None);
        assert_eq!(null.note, Some(None));
        assert_eq!(value.note, Some(Some("x".into())));

        let mut target = Some("old".to_owned());
        apply(&mut target, absent.note);
        assert_eq!(target.as_deref(), Some("old"));
        apply(&mut target, value.note);
        assert_eq!(target.as_deref(), Some("x"));
        apply(&mut target, null.note);
        assert_eq!(target, None);
    }
}
