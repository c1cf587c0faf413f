use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Who asked for a change: the verified token's `sub`, and its `email` where present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Actor {
    /// The actor recorded for work the system does on its own (schedules, alarms, seeding).
    pub fn system(name: &str) -> Self {
        Self { sub: format!("system:{name}"), email: None }
    }

    /// `sub` or `sub <email>`: the one string stamped on every write as `updated_by`.
    pub fn stamp(&self) -> String {
        match &self.email {
            Some(email) => format!("{} <{email}>", self.sub),
            None => self.sub.clone(),
        }
    }
}

/// Roles come from the token's `cognito:groups` claim. Ordered by power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub fn parse(group: &str) -> Option<Self> {
        match group.trim() {
            "admin" => Some(Self::Admin),
            "operator" => Some(Self::Operator),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Operator => "operator",
            Self::Viewer => "viewer",
        }
    }
}

/// Where a write came from; stamped on items so the change log can say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Api,
    Workflow,
    Schedule,
    Alarm,
    Rollout,
    Seed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_only_known_groups_and_order_by_power() {
        assert_eq!(Role::parse("admin"), Some(Role::Admin));
        assert_eq!(Role::parse(" viewer "), Some(Role::Viewer));
        assert_eq!(Role::parse("Admin"), None);
        assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
    }

    #[test]
    fn stamp_includes_email_when_known() {
        let a = Actor { sub: "u-1".into(), email: Some("a@x.io".into()) };
        assert_eq!(a.stamp(), "u-1 <a@x.io>");
        assert_eq!(Actor::system("seed").stamp(), "system:seed");
    }
}
