//! Recording a running change request's progress: its steps, and the states of its plan it
//! moves the tenant through. Every write is conditional on the change request still running and
//! holding its tenant, so a stale or duplicated task never moves a tenant it does not own; a
//! tenant edited meanwhile (its name, its description) is read again and the step applied
//! again, so an edit never fails a change request and a change request never undoes an edit.

use domain::{ChangeRequestId, TenantChangeRequest, TenantState};
use serde_json::json;
use store::{Cond, Tx};

use crate::fleet::{count_in_fleet, moved};
use crate::retry::{self, Attempt};
use crate::{Caller, ChangeError, Changes, Held};

/// What a step makes of the change request it read. (Returned once per write and consumed at
/// once, so the size of `Write` costs nothing worth a box.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Advance<T> {
    /// Write this change request (and move the tenant to `state`), then answer `answer`.
    Write { cr: TenantChangeRequest, state: Option<TenantState>, answer: T },
    /// Nothing to write (the step was done already): answer at once.
    Done(T),
}

impl Changes {
    /// Reads the running change request `id` with its tenant, lets `step` decide, and writes
    /// what it decided; read again and decided again when the write loses a race.
    pub async fn advance<T>(
        &self,
        id: &ChangeRequestId,
        caller: &Caller,
        step: impl Fn(&Held) -> Result<Advance<T>, ChangeError>,
    ) -> Result<T, ChangeError> {
        retry::on_conflict(|| async {
            let held = self.held(id).await?;
            let (cr, state, answer) = match step(&held)? {
                Advance::Done(answer) => return Ok(answer),
                Advance::Write { cr, state, answer } => (cr, state, answer),
            };
            let ctx = caller.context(Some(id));
            let mut cr = cr;
            cr.stamp = held.cr.stamp.next(&ctx);
            let mut tx = Tx::new();
            tx.put(
                &cr,
                Cond::RevisionIs(held.cr.stamp.revision),
                ChangeError::Conflict("change request raced".into()),
            )?;
            if let Some(to) = state.filter(|s| *s != held.tenant.state) {
                let mut t = held.tenant.clone();
                t.state = to;
                t.stamp = held.tenant.stamp.next(&ctx);
                tx.put(
                    &t,
                    Cond::All(vec![
                        Cond::RevisionIs(held.tenant.stamp.revision),
                        Cond::FieldIs("active_change_request_id".into(), json!(id.as_str())),
                    ]),
                    ChangeError::Conflict("tenant raced".into()),
                )?;
                count_in_fleet(
                    &mut tx,
                    &moved((held.tenant.state, &t.release), (to, &t.release)),
                    ChangeError::Conflict("counter".into()),
                );
            }
            retry::committed(tx.commit(self.table.as_ref()).await)?;
            Ok::<T, Attempt>(answer)
        })
        .await
    }
}
