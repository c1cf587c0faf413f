//! Record ids: a short type prefix and a ULID (`ten_01J9...`), so an id says what it names and
//! sorts by creation time.

use crate::FieldError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, ulid::Ulid::new()))
            }

            pub fn parse(s: &str) -> Result<Self, FieldError> {
                let rest = s.strip_prefix($prefix).ok_or_else(|| {
                    FieldError::new("", format!("must be an id starting with `{}`", $prefix))
                })?;
                if rest.len() != 26 || ulid::Ulid::from_string(rest).is_err() {
                    return Err(FieldError::new("", format!("`{s}` is not a valid id")));
                }
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    // Crockford base32; a ULID's 128 bits start with a digit 0-7.
                    .pattern(Some(concat!("^", $prefix, "[0-7][0-9A-HJKMNP-TV-Z]{25}$")))
                    .examples([serde_json::json!(concat!($prefix, "01JD8X3Q5C7M2R4T6V8W0Y1Z2A"))])
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

id_type!(/// A customer.
    CustomerId, "cus_");
id_type!(/// A license (a type of license and its template).
    LicenseId, "lic_");
id_type!(/// A license assigned to a customer.
    AssignmentId, "asg_");
id_type!(/// A tenant: one customer deployment.
    TenantId, "ten_");
id_type!(/// An AWS resource (ARN) used by one or more tenants.
    ResourceId, "res_");
id_type!(/// A change request.
    ChangeRequestId, "chg_");
id_type!(/// A run of the health baseline.
    HealthRunId, "hlt_");
id_type!(/// A rollout: one operation over a selection of tenants, in waves.
    RolloutId, "rol_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_carry_their_prefix() {
        let id = TenantId::generate();
        assert!(id.as_str().starts_with("ten_"));
        assert_eq!(TenantId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn ids_of_another_type_or_malformed_are_refused() {
        let cus = CustomerId::generate();
        assert!(TenantId::parse(cus.as_str()).is_err());
        assert!(TenantId::parse("ten_short").is_err());
        assert!(TenantId::parse("ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2!").is_err());
        assert!(TenantId::parse("").is_err());
    }

    #[test]
    fn ids_deserialize_through_parse() {
        let ok: Result<TenantId, _> = serde_json::from_str("\"ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A\"");
        assert!(ok.is_ok());
        let bad: Result<TenantId, _> = serde_json::from_str("\"cus_01JD8X3Q5C7M2R4T6V8W0Y1Z2A\"");
        assert!(bad.unwrap_err().to_string().contains("ten_"));
    }
}
