//! Who asks the core to act: an admin over HTTP, a schedule, an alarm, a workflow, the seed.

use chrono::Utc;
use domain::{Actor, ChangeRequestId, Role, Source, WriteContext};

use crate::ChangeError;

/// The actor, the role it acts with and where the call comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Caller {
    pub actor: Actor,
    pub role: Role,
    pub source: Source,
}

impl Caller {
    /// A person calling the API.
    pub fn person(actor: Actor, role: Role) -> Self {
        Self { actor, role, source: Source::Api }
    }

    /// The system acting on its own (`schedule:nightly-backup`, `alarm`, `workflow`, `seed`):
    /// it may request changes (operator) but never decides one.
    pub fn system(name: &str, source: Source) -> Self {
        Self { actor: Actor::system(name), role: Role::Operator, source }
    }

    pub fn require(&self, role: Role) -> Result<(), ChangeError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ChangeError::Forbidden(format!("this needs the {} role", role.as_str())))
        }
    }

    /// The stamp context of a write this caller makes as part of change request `id`.
    pub fn context(&self, id: Option<&ChangeRequestId>) -> WriteContext {
        WriteContext { actor: self.actor.clone(), source: self.source, change_request_id: id.cloned(), now: Utc::now() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_request_but_do_not_decide() {
        let s = Caller::system("schedule:nightly", Source::Schedule);
        assert_eq!(s.actor.sub, "system:schedule:nightly");
        assert!(s.require(Role::Operator).is_ok());
        assert!(matches!(s.require(Role::Admin), Err(ChangeError::Forbidden(_))));
        let ctx = s.context(None);
        assert_eq!(ctx.source, Source::Schedule);
    }
}
