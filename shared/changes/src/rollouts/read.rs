//! Reading a rollout: its record, and its members wave by wave (one `Query` of its partition).

use domain::{MemberStatus, Rollout, RolloutId, RolloutMember, Wave};
use store::Query;
use store::layout::{self, Record};

use crate::{ChangeError, Changes};

impl Changes {
    /// A rollout's record (no waves); `NotFound` when there is none.
    pub async fn rollout(&self, id: &RolloutId) -> Result<Rollout, ChangeError> {
        match self.table.get(&layout::rollout_key(id)).await? {
            Some(item) if !layout::is_tombstone(&item) => Ok(Rollout::from_item(item)?),
            _ => Err(ChangeError::NotFound(format!("no rollout {id}"))),
        }
    }

    /// Members of the rollout whose sort keys start with `prefix` (a wave's, or every one).
    pub(crate) async fn members(&self, id: &RolloutId, prefix: &str) -> Result<Vec<RolloutMember>, ChangeError> {
        let q = Query::new(None, layout::rollout_partition(id)).prefix(prefix).limit(1000);
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self.table.query(&q.clone().start(start)).await?;
            for item in page.items {
                out.push(RolloutMember::from_item(item)?);
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }

    /// A rollout with its waves, each listing its tenants, their change requests and statuses
    /// (a tenant still waiting in a rollout that is over shows `not_run`).
    pub async fn rollout_with_waves(&self, id: &RolloutId) -> Result<Rollout, ChangeError> {
        let mut rollout = self.rollout(id).await?;
        let members = self.members(id, layout::MEMBER_PREFIX).await?;
        let over = rollout.status.is_over();
        rollout.waves = rollout
            .wave_sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let tenants: Vec<_> = members
                    .iter()
                    .filter(|m| m.wave == i as u32)
                    .map(|m| {
                        let mut v = m.view();
                        if over && v.status == MemberStatus::Waiting {
                            v.status = MemberStatus::NotRun;
                        }
                        v
                    })
                    .collect();
                let count = |s: MemberStatus| tenants.iter().filter(|t| t.status == s).count() as u32;
                Wave {
                    index: i as u32,
                    size,
                    succeeded: count(MemberStatus::Succeeded),
                    failed: count(MemberStatus::Failed),
                    skipped: count(MemberStatus::Skipped),
                    tenants,
                }
            })
            .collect();
        Ok(rollout)
    }
}
