//! Rollouts: one operation over a selection of tenants, in waves, each tenant's change its own
//! change request; the request that makes one, the rollout record, its members (one record per
//! tenant), and the pure rules that drive it: how tenants fall into waves, which tenants a
//! rollout may run on (and why not), and the gate between two waves.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ChangeParams, Stamp, Tenant, UpgradePlan, WriteContext, stamped};
use crate::lifecycle::{self, Plan, Refusal};
use crate::{
    ChangeRequestId, ChangeRequestStatus, CustomerId, FieldError, Operation, ReleaseVersion, RolloutId, TagFilter,
    TenantId, TenantName, TenantState, Text,
};

/// Which tenants a rollout is over: all the criteria given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutSelector {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::patch::not_null")]
    #[schema(nullable = false)]
    pub state: Option<TenantState>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::patch::not_null")]
    #[schema(nullable = false)]
    pub release: Option<ReleaseVersion>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::patch::not_null")]
    #[schema(nullable = false)]
    pub customer_id: Option<CustomerId>,
    /// Tags every selected tenant carries (`{"env": "prod"}`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::patch::not_null")]
    #[schema(value_type = Option<crate::Tags>, nullable = false)]
    pub tags: Option<TagFilter>,
    /// These tenants (1 to 1,000, none twice), in this order.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::patch::not_null")]
    #[schema(nullable = false, max_items = 1000, min_items = 1)]
    pub tenant_ids: Option<Vec<TenantId>>,
}

impl RolloutSelector {
    /// Whether `t` is one this selector names.
    pub fn takes(&self, t: &Tenant) -> bool {
        self.state.is_none_or(|s| s == t.state)
            && self.release.as_ref().is_none_or(|r| r == &t.release)
            && self.customer_id.as_ref().is_none_or(|c| c == &t.customer_id)
            && self.tags.as_ref().is_none_or(|f| t.tags.matches(f))
            && self.tenant_ids.as_ref().is_none_or(|ids| ids.contains(&t.id))
    }
}

/// `POST /v1/rollouts` and `POST /v1/rollouts/plan`.
#[derive(Debug, Clone, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutCreate {
    pub operation: Operation,
    /// What the operation takes, as a change request's `params` (`{"release": "3.2.0",
    /// "change_model": "maintenance"}` for an upgrade).
    #[serde(default, deserialize_with = "params_without_nulls")]
    pub params: ChangeParams,
    /// Why (a ticket); on every change request it makes.
    #[serde(default)]
    pub reason: Option<Text>,
    #[serde(default)]
    pub selector: RolloutSelector,
    /// Wave sizes, in order (`[1, 10, 50]`); the last wave takes every tenant left.
    #[schema(min_items = 1, max_items = 20)]
    pub waves: Vec<WaveSize>,
    /// Failed changes a wave may have and still let the next one start (default 0).
    #[serde(default)]
    #[schema(maximum = 10000)]
    pub max_failures: u32,
    /// How long after a wave's changes ended its tenants must stay free of alarms (`mark_broken`,
    /// `Broken`) before the next wave starts (default 0; at most a day).
    #[serde(default)]
    #[schema(maximum = 86400)]
    pub soak_seconds: u32,
    /// Change requests of a wave running at once (default 10, 1–100).
    #[serde(default = "default_concurrency")]
    #[schema(minimum = 1, maximum = 100)]
    pub concurrency: u32,
}

/// [`ChangeParams`] as its schema says: a field that is not nullable (all but `alarm`) is absent
/// or a value, never `null` (which serde would read as absent).
fn params_without_nulls<'de, D: serde::Deserializer<'de>>(de: D) -> Result<ChangeParams, D::Error> {
    use serde::de::Error;
    let raw = serde_json::Map::<String, serde_json::Value>::deserialize(de)?;
    if let Some((key, _)) = raw.iter().find(|(k, v)| v.is_null() && k.as_str() != "alarm") {
        return Err(D::Error::custom(format!("params.{key} may not be null: leave it out")));
    }
    serde_path_to_error::deserialize(serde_json::Value::Object(raw))
        .map_err(|e| D::Error::custom(format!("params.{}: {}", e.path(), e.inner())))
}

fn default_concurrency() -> u32 {
    10
}

/// The size of one wave: 1–10,000 tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct WaveSize(u32);

impl utoipa::PartialSchema for WaveSize {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(1))
            .maximum(Some(10_000))
            .into()
    }
}
impl ToSchema for WaveSize {}

impl TryFrom<u32> for WaveSize {
    type Error = FieldError;
    fn try_from(n: u32) -> Result<Self, FieldError> {
        if (1..=10_000).contains(&n) {
            Ok(Self(n))
        } else {
            Err(FieldError::new("", "a wave takes 1 to 10000 tenants"))
        }
    }
}

impl From<WaveSize> for u32 {
    fn from(w: WaveSize) -> u32 {
        w.0
    }
}

impl RolloutCreate {
    pub const MAX_WAVES: u32 = 20;

    /// What the body must say beyond its shape: an operation a rollout may run (not one that
    /// creates a tenant, waits for a second admin, or only an alarm requests), its parameters,
    /// the bounds no schema states.
    pub fn check(&self) -> Result<(), FieldError> {
        let rule = lifecycle::rule(self.operation);
        if rule.from.is_empty() || rule.needs_approval || self.operation == Operation::MarkBroken {
            return Err(FieldError::new(
                "operation",
                format!(
                    "a rollout cannot run {}: it creates a tenant, needs a second admin or is an alarm's",
                    self.operation
                ),
            ));
        }
        self.params.check_for(self.operation)?;
        if self.params.alarm.is_some() {
            return Err(FieldError::new("params.alarm", "only an alarm sets it"));
        }
        if let Some(m) = self.params.change_model
            && !rule.models.contains(&m)
        {
            return Err(FieldError::new(
                "params.change_model",
                format!("{} takes no {m} change model", self.operation),
            ));
        }
        if !(1..=20).contains(&self.waves.len()) {
            return Err(FieldError::new("waves", "1 to 20 waves"));
        }
        if !(1..=100).contains(&self.concurrency) {
            return Err(FieldError::new("concurrency", "1 to 100"));
        }
        if self.max_failures > 10_000 {
            return Err(FieldError::new("max_failures", "at most 10000"));
        }
        if self.soak_seconds > 86_400 {
            return Err(FieldError::new("soak_seconds", "at most 86400 (a day)"));
        }
        if let Some(ids) = &self.selector.tenant_ids {
            if ids.is_empty() || ids.len() > 1000 {
                return Err(FieldError::new("selector.tenant_ids", "1 to 1000 tenants"));
            }
            if ids.iter().collect::<BTreeSet<_>>().len() != ids.len() {
                return Err(FieldError::new("selector.tenant_ids", "a tenant is named twice"));
            }
        }
        Ok(())
    }
}

/// Where a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStatus {
    /// Its driver advances it every minute.
    Running,
    /// Nothing new starts; what runs runs on. `resume` goes on.
    Paused,
    /// A gate refused the next wave (failures beyond `max_failures`, an alarm): later waves
    /// are never touched.
    Halted,
    /// Every wave passed its gate.
    Succeeded,
    /// The last wave had more failures than `max_failures`.
    Failed,
    /// Aborted: its waiting tenants get no change request, its running ones were aborted.
    Cancelled,
}

impl RolloutStatus {
    pub fn is_over(self) -> bool {
        matches!(self, Self::Halted | Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// One rollout, as stored (its members are records of their own) and as answered (with its
/// `waves` when read one by one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rollout {
    pub id: RolloutId,
    pub operation: Operation,
    #[serde(default)]
    pub params: ChangeParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<Text>,
    pub selector: RolloutSelector,
    /// The wave sizes as asked.
    pub requested_waves: Vec<u32>,
    /// How many tenants each wave has (the last took the rest; waves with none are left out).
    pub wave_sizes: Vec<u32>,
    pub max_failures: u32,
    pub soak_seconds: u32,
    pub concurrency: u32,
    pub status: RolloutStatus,
    /// The wave running or soaking now (0-based); past the last when it is over.
    pub current_wave: u32,
    /// When the current wave's changes all ended and its soak began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub soak_started_at: Option<DateTime<Utc>>,
    /// Tenants in its waves.
    pub tenant_count: u32,
    /// Selected tenants left out of the waves (their state, busy, a downgrade...): the plan
    /// names each.
    pub refused_count: u32,
    /// Why it halted, failed or was cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub ended_reason: Option<String>,
    /// Its waves with their tenants (on `GET /v1/rollouts/{id}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<Wave>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// One wave as read: its tenants, their change requests and statuses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Wave {
    pub index: u32,
    pub size: u32,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
    pub tenants: Vec<WaveTenant>,
}

/// A tenant of a wave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WaveTenant {
    pub tenant_id: TenantId,
    pub status: MemberStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub change_request_id: Option<ChangeRequestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub note: Option<String>,
}

/// Where a tenant of a rollout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// No change request yet.
    Waiting,
    /// Its change request is active.
    Running,
    Succeeded,
    /// Its change request failed, was cancelled or rejected.
    Failed,
    /// Left alone when its wave came (busy, or its state no longer allows the operation); not a
    /// failure.
    Skipped,
    /// The rollout ended before its wave came (or was aborted while it waited).
    NotRun,
}

impl MemberStatus {
    pub fn ended(self) -> bool {
        !matches!(self, Self::Waiting | Self::Running)
    }

    /// A member's status from its change request's.
    pub fn of(cr: ChangeRequestStatus) -> Self {
        match cr {
            ChangeRequestStatus::Pending | ChangeRequestStatus::AwaitingApproval | ChangeRequestStatus::Running => {
                Self::Running
            }
            ChangeRequestStatus::Succeeded => Self::Succeeded,
            ChangeRequestStatus::Failed | ChangeRequestStatus::Cancelled | ChangeRequestStatus::Rejected => {
                Self::Failed
            }
        }
    }
}

/// One tenant of a rollout, in its wave: its own record, so a rollout of thousands of tenants is
/// thousands of small items, none near DynamoDB's 400 KB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutMember {
    pub rollout_id: RolloutId,
    pub wave: u32,
    pub tenant_id: TenantId,
    pub status: MemberStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request_id: Option<ChangeRequestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

stamped!(Rollout, RolloutMember);

impl RolloutMember {
    pub fn view(&self) -> WaveTenant {
        WaveTenant {
            tenant_id: self.tenant_id.clone(),
            status: self.status,
            change_request_id: self.change_request_id.clone(),
            note: self.note.clone(),
        }
    }
}

impl Rollout {
    /// A new rollout over `tenants` (already found eligible, in order), with its members.
    pub fn create(
        cmd: &RolloutCreate,
        tenants: &[TenantId],
        refused: usize,
        ctx: &WriteContext,
    ) -> (Self, Vec<RolloutMember>) {
        let id = RolloutId::generate();
        let requested: Vec<u32> = cmd.waves.iter().map(|&w| w.into()).collect();
        let waves = assign_waves(&requested, tenants.len());
        let stamp = Stamp::first(ctx);
        let members = tenants
            .iter()
            .zip(waves.iter().enumerate().flat_map(|(i, &n)| std::iter::repeat_n(i as u32, n as usize)))
            .map(|(t, wave)| RolloutMember {
                rollout_id: id.clone(),
                wave,
                tenant_id: t.clone(),
                status: MemberStatus::Waiting,
                change_request_id: None,
                note: None,
                stamp: stamp.clone(),
            })
            .collect();
        let rollout = Self {
            id,
            operation: cmd.operation,
            params: cmd.params.clone(),
            reason: cmd.reason.clone(),
            selector: cmd.selector.clone(),
            requested_waves: requested,
            tenant_count: tenants.len() as u32,
            refused_count: refused as u32,
            wave_sizes: waves,
            max_failures: cmd.max_failures,
            soak_seconds: cmd.soak_seconds,
            concurrency: cmd.concurrency,
            status: if tenants.is_empty() { RolloutStatus::Succeeded } else { RolloutStatus::Running },
            current_wave: 0,
            soak_started_at: None,
            ended_reason: tenants.is_empty().then(|| "no tenant to run on".to_owned()),
            waves: Vec::new(),
            stamp,
        };
        (rollout, members)
    }

    pub fn wave_count(&self) -> u32 {
        self.wave_sizes.len() as u32
    }

    /// The current wave as people count them: `wave 1 of 3`.
    pub fn wave_label(&self) -> String {
        format!("wave {} of {}", self.current_wave + 1, self.wave_count())
    }
}

/// How many tenants each wave gets: its size, the last wave every one left; waves that get
/// none are left out.
pub fn assign_waves(sizes: &[u32], tenants: usize) -> Vec<u32> {
    let mut left = tenants as u32;
    let mut out = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        if left == 0 {
            break;
        }
        let n = if i + 1 == sizes.len() { left } else { size.min(left) };
        out.push(n);
        left -= n;
    }
    out
}

/// Why a selected tenant would not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NotRun {
    /// Its state does not allow the operation (the lifecycle table).
    State { state: TenantState },
    /// Another change request holds it.
    Busy { change_request_id: ChangeRequestId },
    /// An upgrade to a release older than the tenant's.
    Downgrade { from: ReleaseVersion, to: ReleaseVersion },
    /// An upgrade to the release it runs.
    SameRelease { release: ReleaseVersion },
    /// An upgrade to a release none of its customer's active licenses covers (they are named).
    NotLicensed { release: ReleaseVersion, licenses: Vec<crate::LicenseId> },
}

impl std::fmt::Display for NotRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::State { state } => write!(f, "its state {state} does not allow the operation"),
            Self::Busy { change_request_id } => write!(f, "busy with change request {change_request_id}"),
            Self::Downgrade { from, to } => write!(f, "a downgrade from {from} to {to}"),
            Self::SameRelease { release } => write!(f, "it already runs {release}"),
            Self::NotLicensed { release, licenses } => {
                let names: Vec<String> = licenses.iter().map(ToString::to_string).collect();
                write!(f, "{release} is not covered by the customer's license: {}", names.join(", "))
            }
        }
    }
}

/// What `cmd` would do to `tenant`: its plan, or why it would not run. `target` is the upgrade's
/// release (checked to exist and be available before).
pub fn eligibility(tenant: &Tenant, cmd: &RolloutCreate) -> Result<Plan, NotRun> {
    change_eligibility(tenant, cmd.operation, &cmd.params)
}

/// What `operation` with `params` would do to `tenant` (a rollout's member, or one change
/// request's dry run): its plan, or why it would not run.
pub fn change_eligibility(tenant: &Tenant, operation: Operation, params: &ChangeParams) -> Result<Plan, NotRun> {
    let plan = lifecycle::plan(tenant.state, operation, params.change_model).map_err(|r| match r {
        Refusal::NotFromState { .. } | Refusal::ChangeModelNotAccepted { .. } | Refusal::CreationOnly { .. } => {
            NotRun::State { state: tenant.state }
        }
    })?;
    if let (Operation::Upgrade, Some(to)) = (operation, &params.release) {
        if to == &tenant.release {
            return Err(NotRun::SameRelease { release: to.clone() });
        }
        if to < &tenant.release && params.allow_downgrade != Some(true) {
            return Err(NotRun::Downgrade { from: tenant.release.clone(), to: to.clone() });
        }
    }
    if let Some(cr) = &tenant.active_change_request_id {
        return Err(NotRun::Busy { change_request_id: cr.clone() });
    }
    Ok(plan)
}

/// One selected tenant in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PlannedTenant {
    pub tenant_id: TenantId,
    pub name: TenantName,
    pub state: TenantState,
    pub release: ReleaseVersion,
    pub would_run: bool,
    /// Why it would not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub not_run: Option<NotRun>,
    /// When it would run but its maintenance window is closed now: when the window next opens.
    /// Its change request waits for it, and so does its wave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub waits_for_window: Option<DateTime<Utc>>,
    /// The wave it falls in (0-based), when it would run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub wave: Option<u32>,
    /// What its change request would do: the states it goes through and where it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub plan: Option<Plan>,
    /// An upgrade's plan, as its change request would store it: the components that change
    /// (recorded version → the release's) and those kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub upgrade: Option<UpgradePlan>,
}

/// What a rollout would do; nothing was written.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RolloutPlanSummary {
    pub operation: Operation,
    /// Tenants the selector names.
    pub selected: u32,
    pub would_run: u32,
    pub refused: u32,
    /// How many tenants each wave would have.
    pub wave_sizes: Vec<u32>,
    pub tenants: Vec<PlannedTenant>,
}

/// What the gate between a wave and the next says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Changes of the wave are still waiting or running.
    Running,
    /// Every change ended within `max_failures`; the soak may begin (or goes on).
    Soak,
    /// More failures than `max_failures`.
    TooManyFailures { failed: u32 },
}

/// The gate of a wave whose members are `statuses`.
pub fn gate(statuses: &[MemberStatus], max_failures: u32) -> Gate {
    if statuses.iter().any(|s| !s.ended()) {
        return Gate::Running;
    }
    let failed = statuses.iter().filter(|s| **s == MemberStatus::Failed).count() as u32;
    if failed > max_failures { Gate::TooManyFailures { failed } } else { Gate::Soak }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::stamp::test_ctx as ctx;
    use MemberStatus as M;

    fn cmd(v: serde_json::Value) -> Result<RolloutCreate, String> {
        let c: RolloutCreate = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.check().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn params_are_a_change_requests_and_a_field_that_is_not_nullable_may_not_be_null() {
        let body = |params: serde_json::Value| serde_json::json!({"operation": "upgrade", "params": params, "selector": {"state": "Healthy"}, "waves": [1]});
        let ok = cmd(body(serde_json::json!({"release": "3.2.0", "alarm": null}))).unwrap();
        assert_eq!(ok.params.release.map(|r| r.to_string()).as_deref(), Some("3.2.0"));
        for (params, named) in [
            (serde_json::json!({"release": null}), "params.release may not be null"),
            (serde_json::json!({"release": "3.2.0", "snapshot": null}), "params.snapshot may not be null"),
            (serde_json::json!({"release": 5}), "params.release: invalid type"),
            (serde_json::json!({"release": "3.2.0", "colour": "blue"}), "unknown field `colour`"),
        ] {
            let err = cmd(body(params.clone())).unwrap_err();
            assert!(err.contains(named), "{params}: {err}");
        }
    }

    #[test]
    fn the_last_wave_takes_the_rest_and_empty_waves_are_left_out() {
        assert_eq!(assign_waves(&[1, 10, 50], 100), vec![1, 10, 89]);
        assert_eq!(assign_waves(&[1, 10, 50], 5), vec![1, 4]);
        assert_eq!(assign_waves(&[1, 10, 50], 1), vec![1]);
        assert_eq!(assign_waves(&[5], 3), vec![3]);
        assert_eq!(assign_waves(&[1, 2], 0), Vec::<u32>::new());
    }

    #[test]
    fn a_rollout_body_is_checked_beyond_its_shape() {
        assert!(cmd(serde_json::json!({"operation": "validate", "waves": [1, 10]})).is_ok());
        let c = cmd(serde_json::json!({"operation": "validate", "waves": [1]})).unwrap();
        assert_eq!((c.max_failures, c.soak_seconds, c.concurrency), (0, 0, 10));
        for (body, field) in [
            (serde_json::json!({"operation": "terminate", "waves": [1]}), "operation"),
            (serde_json::json!({"operation": "mark_broken", "waves": [1]}), "operation"),
            (serde_json::json!({"operation": "upgrade", "waves": [1]}), "params.release"),
            (serde_json::json!({"operation": "validate", "waves": []}), "waves"),
            (serde_json::json!({"operation": "validate", "waves": [0]}), "waves"),
            (serde_json::json!({"operation": "validate", "waves": [1], "concurrency": 0}), "concurrency"),
            (serde_json::json!({"operation": "validate", "waves": [1], "soak_seconds": 90000}), "soak_seconds"),
            (
                serde_json::json!({"operation": "validate", "waves": [1], "selector": {"tenant_ids": []}}),
                "selector.tenant_ids",
            ),
        ] {
            let err = cmd(body.clone()).unwrap_err();
            assert!(err.contains(field) || err.contains("wave"), "{body}: {err}");
        }
    }

    #[test]
    fn members_fall_into_their_waves_in_order() {
        let c = cmd(serde_json::json!({"operation": "validate", "waves": [1, 2]})).unwrap();
        let ids: Vec<TenantId> = (0..5).map(|_| TenantId::generate()).collect();
        let (r, members) = Rollout::create(&c, &ids, 2, &ctx());
        assert_eq!(r.wave_sizes, vec![1, 4]);
        assert_eq!(r.status, RolloutStatus::Running);
        assert_eq!((r.tenant_count, r.refused_count), (5, 2));
        assert_eq!(members.iter().map(|m| m.wave).collect::<Vec<_>>(), vec![0, 1, 1, 1, 1]);
        assert_eq!(members[0].tenant_id, ids[0]);
        let (empty, none) = Rollout::create(&c, &[], 3, &ctx());
        assert_eq!(empty.status, RolloutStatus::Succeeded);
        assert!(none.is_empty());
    }

    #[test]
    fn the_gate_waits_for_every_change_then_counts_failures() {
        assert_eq!(gate(&[M::Succeeded, M::Running], 0), Gate::Running);
        assert_eq!(gate(&[M::Succeeded, M::Waiting], 5), Gate::Running);
        assert_eq!(gate(&[M::Succeeded, M::Skipped], 0), Gate::Soak);
        assert_eq!(gate(&[M::Succeeded, M::Failed], 1), Gate::Soak);
        assert_eq!(gate(&[M::Failed, M::Failed], 1), Gate::TooManyFailures { failed: 2 });
        assert_eq!(M::of(ChangeRequestStatus::Cancelled), M::Failed);
        assert_eq!(M::of(ChangeRequestStatus::AwaitingApproval), M::Running);
    }
}
