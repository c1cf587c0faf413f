//! Tenant config: one key/value of a tenant, a plain value or a reference to a secret.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, stamped};
use crate::{
    FieldError, TenantId,
    values::{ConfigKey, PlainValue, SecretRef},
};

/// What a config key holds: a plain value, or a reference to a secret stored elsewhere.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigValue {
    Plain(PlainValue),
    Secret(SecretRef),
}

/// One key/value of a tenant. Exactly one of `value` and `secret_ref` is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantConfig {
    pub tenant_id: TenantId,
    pub key: ConfigKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub value: Option<PlainValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub secret_ref: Option<SecretRef>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// `{"value": ...}` for a plain value or `{"secret_ref": "ssm:/..."}` for a secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigPut {
    #[serde(default)]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    pub secret_ref: Option<SecretRef>,
}

/// Exactly one of `value` and `secret_ref` (the other left out or `null`), as [`ConfigPut::parse_for`]
/// reads it.
impl utoipa::PartialSchema for ConfigPut {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        use utoipa::openapi::{Ref, RefOr};
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let branch = |given: &str, schema: &str, absent: &str| {
            ObjectBuilder::new()
                .property(given, Ref::from_schema_name(schema))
                .property(absent, null())
                .required(given)
                .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)))
        };
        let one_of = OneOfBuilder::new()
            .item(branch("value", "PlainValue", "secret_ref"))
            .item(branch("secret_ref", "SecretRef", "value"))
            .description(Some(
                "`{\"value\": ...}` for a plain value, or `{\"secret_ref\": \"ssm:/...\"}` for a secret (a key that \
                 names a secret takes only `secret_ref`).",
            ))
            .examples([serde_json::json!({"value": "smtp.acme.example"})]);
        RefOr::T(one_of.into())
    }
}

impl utoipa::ToSchema for ConfigPut {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push(("PlainValue".into(), PlainValue::schema()));
        schemas.push(("SecretRef".into(), SecretRef::schema()));
    }
}

impl ConfigPut {
    /// The value this body sets for `key`; a key that names a secret only takes a reference.
    pub fn parse_for(self, key: &ConfigKey) -> Result<ConfigValue, FieldError> {
        match (self.value, self.secret_ref) {
            (Some(_), Some(_)) => Err(FieldError::new("secret_ref", "give either `value` or `secret_ref`, not both")),
            (None, None) => Err(FieldError::new("value", "missing field `value` (or `secret_ref` for a secret)")),
            (None, Some(r)) => Ok(ConfigValue::Secret(r)),
            (Some(_), None) if key.names_a_secret() => Err(FieldError::new(
                "value",
                format!(
                    "`{key}` names a secret: store it in SSM or Secrets Manager and send `secret_ref`, never the value"
                ),
            )),
            (Some(v), None) => PlainValue::parse(v).map(ConfigValue::Plain).map_err(|e| e.within("value")),
        }
    }
}

impl TenantConfig {
    pub fn new(tenant_id: TenantId, key: ConfigKey, value: ConfigValue, stamp: Stamp) -> Self {
        let (value, secret_ref) = match value {
            ConfigValue::Plain(v) => (Some(v), None),
            ConfigValue::Secret(r) => (None, Some(r)),
        };
        Self { tenant_id, key, value, secret_ref, stamp }
    }

    /// Whether another value equals this one (an unchanged PUT writes nothing).
    pub fn holds(&self, value: &ConfigValue) -> bool {
        match value {
            ConfigValue::Plain(v) => self.value.as_ref() == Some(v) && self.secret_ref.is_none(),
            ConfigValue::Secret(r) => self.secret_ref.as_ref() == Some(r) && self.value.is_none(),
        }
    }

    /// Its value, or its secret's reference (`None` for a record holding neither or both).
    pub fn as_value(&self) -> Option<ConfigValue> {
        match (&self.value, &self.secret_ref) {
            (Some(v), None) => Some(ConfigValue::Plain(v.clone())),
            (None, Some(r)) => Some(ConfigValue::Secret(r.clone())),
            _ => None,
        }
    }
}

stamped!(TenantConfig);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;

    #[test]
    fn config_bodies_take_a_value_or_a_reference_and_secrets_only_by_reference() {
        let key = ConfigKey::parse("smtp.host").unwrap();
        let put: ConfigPut = serde_json::from_str(r#"{"value":"mail.acme"}"#).unwrap();
        assert!(matches!(put.parse_for(&key), Ok(ConfigValue::Plain(_))));

        let secret = ConfigKey::parse("db.password").unwrap();
        let put: ConfigPut = serde_json::from_str(r#"{"value":"hunter2"}"#).unwrap();
        let err = put.parse_for(&secret).unwrap_err();
        assert_eq!(err.field, "value");
        assert!(!err.message.contains("hunter2"), "the error must not echo the secret");

        let put: ConfigPut = serde_json::from_str(r#"{"secret_ref":"ssm:/t/db"}"#).unwrap();
        let v = put.parse_for(&secret).unwrap();
        let cfg = TenantConfig::new(TenantId::generate(), secret, v.clone(), Stamp::first(&ctx()));
        assert!(cfg.holds(&v));
        assert!(cfg.value.is_none());

        let both: ConfigPut = serde_json::from_str(r#"{"value":"x","secret_ref":"ssm:/t/db"}"#).unwrap();
        assert!(both.parse_for(&key).is_err());
        let neither: ConfigPut = serde_json::from_str("{}").unwrap();
        assert_eq!(neither.parse_for(&key).unwrap_err().field, "value");
        let nested: ConfigPut = serde_json::from_str(r#"{"value":{"a":1}}"#).unwrap();
        assert_eq!(nested.parse_for(&key).unwrap_err().field, "value");
    }
}
