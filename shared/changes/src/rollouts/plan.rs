//! The dry run of a rollout (`POST /v1/rollouts/plan`): the same body as a rollout, nothing
//! written. For each selected tenant: would it run, or why not (its state, busy, an upgrade to
//! the release it runs or an older one, or one its customer's licenses do not cover); the wave it falls in; the plan it would run (the
//! lifecycle table's states and ends: the steps of each are the lifecycle workflow's recipe); and
//! for an upgrade, how its recorded components differ from the target release's manifest.
//!
//! One change request's dry run (`"dry_run": true` on `POST /v1/tenants/{id}/change-requests`)
//! answers the same entry for its tenant: [`Changes::plan_change`].

use std::collections::BTreeMap;

use domain::lifecycle::Plan;
use domain::{
    ChangeParams, CustomerId, LicenseId, NotRun, Operation, PlannedTenant, ProductRelease, ReleaseStatus, Role,
    RolloutCreate, RolloutPlanSummary, Tenant, TenantId, UpgradePlan, assign_waves, change_eligibility, eligibility,
};

use crate::{Caller, ChangeCreate, ChangeError, Changes};

impl Changes {
    /// What a rollout's body needs beyond its shape: its own checks ([`RolloutCreate::check`]),
    /// and an upgrade's release existing and available. Answers that release.
    pub(crate) async fn check_rollout(&self, cmd: &RolloutCreate) -> Result<Option<ProductRelease>, ChangeError> {
        cmd.check()?;
        self.upgrade_target(cmd.operation, &cmd.params).await
    }

    /// An upgrade's release, which must exist and be available; none for other operations.
    async fn upgrade_target(
        &self,
        operation: Operation,
        params: &ChangeParams,
    ) -> Result<Option<ProductRelease>, ChangeError> {
        let Some(v) = params.release.as_ref().filter(|_| operation == Operation::Upgrade) else {
            return Ok(None);
        };
        let release =
            self.release(v).await?.ok_or_else(|| ChangeError::invalid("params.release", format!("no release {v}")))?;
        if release.status != ReleaseStatus::Available {
            return Err(ChangeError::invalid("params.release", format!("release {v} is not available")));
        }
        Ok(Some(release))
    }

    /// The selected tenants, each with its plan or why it would not run, in the order they
    /// would fall into waves.
    pub(crate) async fn eligible(
        &self,
        cmd: &RolloutCreate,
    ) -> Result<Vec<(Tenant, Result<Plan, NotRun>)>, ChangeError> {
        let selection = self.select(&cmd.selector).await?;
        let target = cmd.params.release.as_ref().filter(|_| cmd.operation == Operation::Upgrade);
        // An upgrade's license bound, read once per customer.
        let mut not_licensed: BTreeMap<CustomerId, Option<Vec<LicenseId>>> = BTreeMap::new();
        let mut out = Vec::with_capacity(selection.tenants.len());
        for t in selection.tenants {
            let mut e = eligibility(&t, cmd);
            if let (Ok(_), Some(v)) = (&e, target) {
                if !not_licensed.contains_key(&t.customer_id) {
                    let refused = self.licenses_not_covering(&t.customer_id, v).await?;
                    let ids = refused.map(|ls| ls.into_iter().map(|l| l.id).collect());
                    not_licensed.insert(t.customer_id.clone(), ids);
                }
                if let Some(Some(licenses)) = not_licensed.get(&t.customer_id) {
                    e = Err(NotRun::NotLicensed { release: v.clone(), licenses: licenses.clone() });
                }
            }
            out.push((t, e));
        }
        Ok(out)
    }

    /// The dry run: reads the selection (and an upgrade's tenants' components), writes nothing.
    pub async fn plan_rollout(&self, cmd: &RolloutCreate, caller: &Caller) -> Result<RolloutPlanSummary, ChangeError> {
        caller.require(Role::Operator)?;
        let target = self.check_rollout(cmd).await?;
        let selected = self.eligible(cmd).await?;
        let would: usize = selected.iter().filter(|(_, e)| e.is_ok()).count();
        let requested: Vec<u32> = cmd.waves.iter().map(|&w| w.into()).collect();
        let wave_sizes = assign_waves(&requested, would);
        let mut waves = wave_sizes.iter().enumerate().flat_map(|(i, &n)| std::iter::repeat_n(i as u32, n as usize));
        let mut tenants = Vec::with_capacity(selected.len());
        // One clock for the whole plan: every window is judged at the same instant.
        let now = chrono::Utc::now();
        for (t, e) in selected {
            let wave = e.as_ref().ok().and_then(|_| waves.next());
            tenants.push(self.planned(t, e, target.as_ref(), &cmd.params, wave, now).await?);
        }
        Ok(RolloutPlanSummary {
            operation: cmd.operation,
            selected: tenants.len() as u32,
            would_run: would as u32,
            refused: (tenants.len() - would) as u32,
            wave_sizes,
            tenants,
        })
    }

    /// One tenant's entry of a plan: its plan or why it would not run, when its maintenance
    /// window (closed at `now`) next opens, and an upgrade's component changes from its
    /// recorded components.
    async fn planned(
        &self,
        t: Tenant,
        e: Result<domain::lifecycle::Plan, NotRun>,
        target: Option<&ProductRelease>,
        params: &ChangeParams,
        wave: Option<u32>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<PlannedTenant, ChangeError> {
        let upgrade = match target {
            Some(release) if e.is_ok() => {
                let recorded = self.components_of(&t.id).await?;
                let current = recorded.into_iter().map(|(name, c)| (name, c.version)).collect();
                let snapshot = params.takes_snapshot(params.change_model);
                Some(UpgradePlan::new(&t.release, &release.version, &current, &release.components, snapshot))
            }
            _ => None,
        };
        let (plan, not_run) = match e {
            Ok(p) => (Some(p), None),
            Err(why) => (None, Some(why)),
        };
        let waits_for_window = match (&plan, &t.maintenance_window) {
            (Some(_), Some(window)) => window.next_open(now),
            _ => None,
        };
        Ok(PlannedTenant {
            waits_for_window,
            tenant_id: t.id,
            name: t.name,
            state: t.state,
            release: t.release,
            would_run: plan.is_some(),
            wave,
            plan,
            not_run,
            upgrade,
        })
    }

    /// One change request's dry run: the entry a rollout's plan would give its tenant (no wave),
    /// writing nothing. A request the change request itself would refuse whatever the tenant
    /// (its params, an unknown or unavailable release) is refused alike; when the tenant could
    /// run it, the core's own checks of the create run too (read only), so a dry run that
    /// would run is one the request would accept now.
    pub async fn plan_change(
        &self,
        tenant_id: &TenantId,
        change: ChangeCreate,
        caller: &Caller,
    ) -> Result<PlannedTenant, ChangeError> {
        caller.require(Role::Operator)?;
        change.params.check_for(change.operation)?;
        let tenant = self.tenant(tenant_id).await?;
        let target = self.upgrade_target(change.operation, &change.params).await?;
        let e = change_eligibility(&tenant, change.operation, &change.params);
        if e.is_ok() {
            self.prepare(tenant_id, change.clone(), caller).await?;
        }
        self.planned(tenant, e, target.as_ref(), &change.params, None, chrono::Utc::now()).await
    }
}
