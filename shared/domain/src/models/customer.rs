//! Customers: who tenants and licenses belong to.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{
    CustomerId, patch,
    values::{Email, Name, Text},
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: CustomerId,
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub contact_email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub notes: Option<Text>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerCreate {
    pub name: Name,
    #[serde(default)]
    pub contact_email: Option<Email>,
    #[serde(default)]
    pub notes: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerPatch {
    /// Leave it out to keep the name; it cannot be cleared.
    #[serde(default, deserialize_with = "patch::not_null")]
    #[schema(nullable = false)]
    pub name: Option<Name>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Email>)]
    pub contact_email: Option<Option<Email>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub notes: Option<Option<Text>>,
}

impl Customer {
    pub fn create(cmd: CustomerCreate, ctx: &WriteContext) -> Self {
        Self {
            id: CustomerId::generate(),
            name: cmd.name,
            contact_email: cmd.contact_email,
            notes: cmd.notes,
            stamp: Stamp::first(ctx),
        }
    }
}

impl CustomerPatch {
    pub fn apply_to(self, c: &mut Customer) {
        patch::set(&mut c.name, self.name);
        patch::apply(&mut c.contact_email, self.contact_email);
        patch::apply(&mut c.notes, self.notes);
    }
}

stamped!(Customer);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies_refuse_unknown_fields() {
        let err = serde_json::from_str::<CustomerCreate>(r#"{"name":"A","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("colour"));
    }
}
