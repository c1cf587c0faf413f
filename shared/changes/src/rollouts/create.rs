//! Creating a rollout: the body checked, the selection read, the eligible tenants put in waves.
//! Its members are written first (`BatchWriteItem`, unconditional: their keys are the new
//! rollout's, which nothing reads until its record exists), then the rollout record itself,
//! conditional on its id being new: the rollout exists whole or not at all (members of a rollout
//! whose record never landed are unreachable and harmless).

use domain::{Role, Rollout, RolloutCreate, RolloutMember};
use store::layout::Record;
use store::{Cond, Tx, WriteOp};

use crate::{Caller, ChangeError, Changes};

/// A rollout checked and ready to be written: the record and its members.
#[derive(Debug)]
pub struct PreparedRollout {
    pub rollout: Rollout,
    pub members: Vec<RolloutMember>,
}

impl PreparedRollout {
    /// The write of the rollout's record: after its members, conditional on its id being new.
    pub fn record_write(&self) -> Result<WriteOp, ChangeError> {
        Ok(WriteOp::put(self.rollout.to_item()?, Cond::NotExists))
    }
}

impl Changes {
    /// Checks `cmd` and reads its selection; nothing is written.
    pub async fn prepare_rollout(&self, cmd: &RolloutCreate, caller: &Caller) -> Result<PreparedRollout, ChangeError> {
        caller.require(Role::Operator)?;
        self.check_rollout(cmd).await?;
        let selected = self.eligible(cmd).await?;
        let refused = selected.iter().filter(|(_, e)| e.is_err()).count();
        let ids: Vec<_> = selected.into_iter().filter(|(_, e)| e.is_ok()).map(|(t, _)| t.id).collect();
        let (rollout, members) = Rollout::create(cmd, &ids, refused, &caller.context(None));
        Ok(PreparedRollout { rollout, members })
    }

    /// Writes the members of a prepared rollout (its record goes after them, conditional on
    /// its id being new: [`PreparedRollout::record_write`]).
    pub async fn write_members(&self, prepared: &PreparedRollout) -> Result<(), ChangeError> {
        let items = prepared.members.iter().map(|m| m.to_item()).collect::<Result<Vec<_>, _>>()?;
        self.table.batch_put(items).await?;
        Ok(())
    }

    /// Creates a rollout and starts its first wave.
    pub async fn create_rollout(&self, cmd: &RolloutCreate, caller: &Caller) -> Result<Rollout, ChangeError> {
        let prepared = self.prepare_rollout(cmd, caller).await?;
        self.write_members(&prepared).await?;
        let mut tx = Tx::new();
        tx.push(prepared.record_write()?, ChangeError::Conflict("id collision; retry".into()));
        tx.commit(self.table.as_ref()).await?;
        self.advance_logged(&prepared.rollout.id).await;
        self.rollout(&prepared.rollout.id).await
    }
}
