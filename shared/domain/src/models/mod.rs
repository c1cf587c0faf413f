//! The nine seed models, their write stamp, and the commands (create / patch bodies) that make
//! and change them. Commands refuse unknown fields; models are what the store keeps and the API
//! returns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    Actor, AssignmentId, ChangeModel, ChangeRequestId, ChangeRequestStatus, CustomerId, FieldError, LicenseId,
    Operation, ResourceId, Source, TenantId, TenantState, patch,
    values::{
        Arn, ComponentName, ComponentVersionLabel, ConfigKey, Email, FeatureName, Name, PlainValue, Region,
        ReleaseVersion, SecretRef, SuiteName, TenantName, Text,
    },
};

/// Stamped on every write: the change log reads these from the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Stamp {
    /// Bumped by every write; the record's `ETag`. (Named `revision` because `version` is a
    /// field of releases and component versions themselves.)
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    /// The actor of the last write (`sub <email>`).
    pub updated_by: String,
    /// The change request the last write was part of, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_request_id: Option<ChangeRequestId>,
    pub source: Source,
}

/// Who is writing, why and from where: everything a write needs to stamp itself.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteContext {
    pub actor: Actor,
    pub source: Source,
    pub change_request_id: Option<ChangeRequestId>,
    pub now: DateTime<Utc>,
}

impl WriteContext {
    pub fn api(actor: Actor) -> Self {
        Self { actor, source: Source::Api, change_request_id: None, now: Utc::now() }
    }
}

impl Stamp {
    pub fn first(ctx: &WriteContext) -> Self {
        Self {
            revision: 1,
            created_at: ctx.now,
            created_by: ctx.actor.stamp(),
            updated_at: ctx.now,
            updated_by: ctx.actor.stamp(),
            change_request_id: ctx.change_request_id.clone(),
            source: ctx.source,
        }
    }

    /// The stamp of the next write of the same record.
    pub fn next(&self, ctx: &WriteContext) -> Self {
        Self {
            revision: self.revision + 1,
            created_at: self.created_at,
            created_by: self.created_by.clone(),
            updated_at: ctx.now,
            updated_by: ctx.actor.stamp(),
            change_request_id: ctx.change_request_id.clone(),
            source: ctx.source,
        }
    }
}

/// Implemented by every stamped model.
pub trait Stamped {
    fn stamp(&self) -> &Stamp;
    fn stamp_mut(&mut self) -> &mut Stamp;
}

macro_rules! stamped {
    ($($t:ty),*) => {$(
        impl Stamped for $t {
            fn stamp(&self) -> &Stamp { &self.stamp }
            fn stamp_mut(&mut self) -> &mut Stamp { &mut self.stamp }
        }
    )*};
}

// ---------------------------------------------------------------------------------------------
// Customer

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: CustomerId,
    pub name: Name,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
    #[serde(default, deserialize_with = "patch::not_null")]
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

// ---------------------------------------------------------------------------------------------
// License and LicenseAssignment

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseKind {
    Trial,
    Subscription,
    Perpetual,
    Internal,
}

/// A type of license and its template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct License {
    pub id: LicenseId,
    pub name: Name,
    pub kind: LicenseKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_users: Option<u32>,
    #[serde(default)]
    pub features: BTreeSet<FeatureName>,
    /// The license file template the key material is generated from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Text>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

pub const MAX_FEATURES: usize = 64;
pub const MAX_USERS: u32 = 10_000_000;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenseCreate {
    pub name: Name,
    pub kind: LicenseKind,
    #[serde(default)]
    pub max_users: Option<u32>,
    #[serde(default)]
    pub features: BTreeSet<FeatureName>,
    #[serde(default)]
    pub template: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicensePatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    pub name: Option<Name>,
    #[serde(default, deserialize_with = "patch::not_null")]
    pub kind: Option<LicenseKind>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<u32>)]
    pub max_users: Option<Option<u32>>,
    #[serde(default, deserialize_with = "patch::not_null")]
    pub features: Option<BTreeSet<FeatureName>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub template: Option<Option<Text>>,
}

fn check_license_bounds(max_users: Option<u32>, features: &BTreeSet<FeatureName>) -> Result<(), FieldError> {
    if let Some(n) = max_users
        && (n == 0 || n > MAX_USERS)
    {
        return Err(FieldError::new("max_users", format!("must be between 1 and {MAX_USERS}")));
    }
    if features.len() > MAX_FEATURES {
        return Err(FieldError::new("features", format!("at most {MAX_FEATURES} features")));
    }
    Ok(())
}

impl License {
    pub fn create(cmd: LicenseCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        check_license_bounds(cmd.max_users, &cmd.features)?;
        Ok(Self {
            id: LicenseId::generate(),
            name: cmd.name,
            kind: cmd.kind,
            max_users: cmd.max_users,
            features: cmd.features,
            template: cmd.template,
            stamp: Stamp::first(ctx),
        })
    }
}

impl LicensePatch {
    pub fn apply_to(self, l: &mut License) -> Result<(), FieldError> {
        patch::set(&mut l.name, self.name);
        patch::set(&mut l.kind, self.kind);
        patch::apply(&mut l.max_users, self.max_users);
        patch::set(&mut l.features, self.features);
        patch::apply(&mut l.template, self.template);
        check_license_bounds(l.max_users, &l.features)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStatus {
    Active,
    Suspended,
    Revoked,
    Expired,
}

/// A customer's license: which license, its key material by reference, status and term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LicenseAssignment {
    pub id: AssignmentId,
    pub customer_id: CustomerId,
    pub license_id: LicenseId,
    pub status: AssignmentStatus,
    /// Where the license key material lives; never the key itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_ref: Option<SecretRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentCreate {
    pub customer_id: CustomerId,
    pub license_id: LicenseId,
    #[serde(default)]
    pub key_ref: Option<SecretRef>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentPatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    pub status: Option<AssignmentStatus>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<SecretRef>)]
    pub key_ref: Option<Option<SecretRef>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

fn check_term(starts_at: Option<DateTime<Utc>>, expires_at: Option<DateTime<Utc>>) -> Result<(), FieldError> {
    match (starts_at, expires_at) {
        (Some(s), Some(e)) if e <= s => Err(FieldError::new("expires_at", "must be after starts_at")),
        _ => Ok(()),
    }
}

impl LicenseAssignment {
    pub fn create(cmd: AssignmentCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        check_term(cmd.starts_at, cmd.expires_at)?;
        Ok(Self {
            id: AssignmentId::generate(),
            customer_id: cmd.customer_id,
            license_id: cmd.license_id,
            status: AssignmentStatus::Active,
            key_ref: cmd.key_ref,
            starts_at: cmd.starts_at,
            expires_at: cmd.expires_at,
            stamp: Stamp::first(ctx),
        })
    }
}

impl AssignmentPatch {
    pub fn apply_to(self, a: &mut LicenseAssignment) -> Result<(), FieldError> {
        patch::set(&mut a.status, self.status);
        patch::apply(&mut a.key_ref, self.key_ref);
        patch::apply(&mut a.starts_at, self.starts_at);
        patch::apply(&mut a.expires_at, self.expires_at);
        check_term(a.starts_at, a.expires_at)
    }
}

// ---------------------------------------------------------------------------------------------
// ProductRelease and ComponentVersion

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseStatus {
    /// Tenants may be provisioned on it and upgraded to it.
    Available,
    /// Still running somewhere; no new tenants.
    Deprecated,
    /// Must not be installed anywhere.
    Withdrawn,
}

/// An official release and its component manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProductRelease {
    pub version: ReleaseVersion,
    /// Component name → version shipped in this release.
    #[schema(value_type = BTreeMap<String, ComponentVersionLabel>)]
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    pub status: ReleaseStatus,
    /// The health-baseline suites that validate a tenant on this release (empty: the fleet's
    /// default suites).
    #[serde(default)]
    pub health_suites: Vec<SuiteName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Text>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

pub const MAX_SUITES: usize = 20;

/// A release's manifest fits in one transaction with the tenant that is created from it.
pub const MAX_COMPONENTS: usize = 64;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseCreate {
    pub version: ReleaseVersion,
    #[schema(value_type = BTreeMap<String, ComponentVersionLabel>)]
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    #[serde(default)]
    pub health_suites: Vec<SuiteName>,
    #[serde(default)]
    pub notes: Option<Text>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleasePatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    pub health_suites: Option<Vec<SuiteName>>,
    #[serde(default, deserialize_with = "patch::not_null")]
    pub status: Option<ReleaseStatus>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub notes: Option<Option<Text>>,
}

impl ProductRelease {
    pub fn create(cmd: ReleaseCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        if cmd.components.is_empty() {
            return Err(FieldError::new("components", "a release ships at least one component"));
        }
        if cmd.components.len() > MAX_COMPONENTS {
            return Err(FieldError::new("components", format!("at most {MAX_COMPONENTS} components")));
        }
        check_suites(&cmd.health_suites)?;
        Ok(Self {
            version: cmd.version,
            components: cmd.components,
            status: ReleaseStatus::Available,
            health_suites: cmd.health_suites,
            notes: cmd.notes,
            stamp: Stamp::first(ctx),
        })
    }
}

fn check_suites(suites: &[SuiteName]) -> Result<(), FieldError> {
    if suites.len() > MAX_SUITES {
        return Err(FieldError::new("health_suites", format!("at most {MAX_SUITES} suites")));
    }
    let distinct: std::collections::BTreeSet<&SuiteName> = suites.iter().collect();
    if distinct.len() != suites.len() {
        return Err(FieldError::new("health_suites", "a suite is listed twice"));
    }
    Ok(())
}

impl ReleasePatch {
    pub fn apply_to(self, r: &mut ProductRelease) -> Result<(), FieldError> {
        patch::set(&mut r.status, self.status);
        patch::set(&mut r.health_suites, self.health_suites);
        patch::apply(&mut r.notes, self.notes);
        check_suites(&r.health_suites)
    }
}

/// The version of one component in one tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComponentVersion {
    pub tenant_id: TenantId,
    pub name: ComponentName,
    pub version: ComponentVersionLabel,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentPut {
    pub version: ComponentVersionLabel,
}

// ---------------------------------------------------------------------------------------------
// Tenant

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    pub id: TenantId,
    pub customer_id: CustomerId,
    pub name: TenantName,
    pub release: ReleaseVersion,
    pub state: TenantState,
    /// The change request that holds this tenant now (one at a time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_change_request_id: Option<ChangeRequestId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// Registered as an already running deployment rather than provisioned by the portal.
    #[serde(default)]
    pub imported: bool,
    #[serde(flatten)]
    pub stamp: Stamp,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantCreate {
    pub customer_id: CustomerId,
    pub name: TenantName,
    pub release: ReleaseVersion,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub description: Option<Text>,
    /// Register a tenant that already runs: it starts `InTesting` with a `validate` change request
    /// instead of `Provisioning` with a `provision` one.
    #[serde(default)]
    pub import: bool,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPatch {
    #[serde(default, deserialize_with = "patch::not_null")]
    pub name: Option<TenantName>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Region>)]
    pub region: Option<Option<Region>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub description: Option<Option<Text>>,
}

impl TenantPatch {
    pub fn apply_to(self, t: &mut Tenant) {
        patch::set(&mut t.name, self.name);
        patch::apply(&mut t.region, self.region);
        patch::apply(&mut t.description, self.description);
    }
}

impl Tenant {
    /// A new tenant, and the change request that brings it up: `provision` for a new deployment,
    /// `validate` for an imported one. The change request holds the tenant from the start.
    pub fn create(cmd: TenantCreate, ctx: &WriteContext) -> (Self, TenantChangeRequest) {
        let id = TenantId::generate();
        let plan = crate::lifecycle::creation_plan(cmd.import);
        let (state, operation) = (plan.started, plan.operation);
        let mut change_request = TenantChangeRequest::new(
            id.clone(),
            operation,
            serde_json::json!({ "release": cmd.release.to_string() }),
            ChangeRequestStatus::Pending,
            ctx,
        );
        change_request.started_from = Some(state);
        change_request.change_model = plan.change_model;
        let ctx = WriteContext { change_request_id: Some(change_request.id.clone()), ..ctx.clone() };
        let tenant = Self {
            id,
            customer_id: cmd.customer_id,
            name: cmd.name,
            release: cmd.release,
            state,
            active_change_request_id: Some(change_request.id.clone()),
            region: cmd.region,
            description: cmd.description,
            imported: cmd.import,
            stamp: Stamp::first(&ctx),
        };
        (tenant, change_request)
    }
}

// ---------------------------------------------------------------------------------------------
// TenantConfig

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
    pub value: Option<PlainValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// `{"value": ...}` for a plain value or `{"secret_ref": "ssm:/..."}` for a secret.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigPut {
    #[serde(default)]
    #[schema(value_type = Option<PlainValue>)]
    pub value: Option<serde_json::Value>,
    #[serde(default)]
    pub secret_ref: Option<SecretRef>,
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
}

// ---------------------------------------------------------------------------------------------
// TenantChangeRequest

/// One step of a change request's execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeStep {
    pub name: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A requested change to a tenant. It is itself a log, so it has no field change log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantChangeRequest {
    pub id: ChangeRequestId,
    pub tenant_id: TenantId,
    pub operation: Operation,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_model: Option<ChangeModel>,
    /// The tenant's state when the change was requested (what "as started" resolves to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_from: Option<TenantState>,
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    pub status: ChangeRequestStatus,
    /// Why the change is made (ticket, incident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    /// The Step Functions execution this change request runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default)]
    pub steps: Vec<ChangeStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl TenantChangeRequest {
    pub fn new(
        tenant_id: TenantId,
        operation: Operation,
        params: serde_json::Value,
        status: ChangeRequestStatus,
        ctx: &WriteContext,
    ) -> Self {
        let id = ChangeRequestId::generate();
        let ctx = WriteContext { change_request_id: Some(id.clone()), ..ctx.clone() };
        Self {
            id,
            tenant_id,
            operation,
            change_model: None,
            started_from: None,
            params,
            status,
            reason: None,
            requested_by: ctx.actor.stamp(),
            requested_at: ctx.now,
            decided_by: None,
            decided_at: None,
            execution_arn: None,
            steps: Vec::new(),
            error: None,
            stamp: Stamp::first(&ctx),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// TenantAwsResource

/// An AWS resource (by ARN) used by one or more tenants, e.g. a shared RDS cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TenantAwsResource {
    pub id: ResourceId,
    pub arn: Arn,
    /// The AWS service, from the ARN (`rds`, `ec2`, `s3`...).
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
    /// The tenants using this resource.
    #[serde(default)]
    pub tenant_ids: BTreeSet<TenantId>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// A resource's tenants are linked in the same transaction as the resource itself; replacing all
/// of them (the resource, this many unlinks and as many links) must fit DynamoDB's 100 writes.
pub const MAX_TENANTS_PER_RESOURCE: usize = 49;

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceCreate {
    pub arn: Arn,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub description: Option<Text>,
    #[serde(default)]
    pub tenant_ids: BTreeSet<TenantId>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourcePatch {
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Name>)]
    pub name: Option<Option<Name>>,
    #[serde(default, deserialize_with = "patch::nullable")]
    #[schema(value_type = Option<Text>)]
    pub description: Option<Option<Text>>,
    /// Replaces the set of tenants using the resource.
    #[serde(default, deserialize_with = "patch::not_null")]
    pub tenant_ids: Option<BTreeSet<TenantId>>,
}

fn check_tenant_count(ids: &BTreeSet<TenantId>) -> Result<(), FieldError> {
    if ids.len() > MAX_TENANTS_PER_RESOURCE {
        return Err(FieldError::new("tenant_ids", format!("at most {MAX_TENANTS_PER_RESOURCE} tenants per resource")));
    }
    Ok(())
}

impl TenantAwsResource {
    pub fn create(cmd: ResourceCreate, ctx: &WriteContext) -> Result<Self, FieldError> {
        check_tenant_count(&cmd.tenant_ids)?;
        Ok(Self {
            id: ResourceId::generate(),
            service: cmd.arn.service().to_owned(),
            arn: cmd.arn,
            name: cmd.name,
            description: cmd.description,
            tenant_ids: cmd.tenant_ids,
            stamp: Stamp::first(ctx),
        })
    }
}

impl ResourcePatch {
    pub fn apply_to(self, r: &mut TenantAwsResource) -> Result<(), FieldError> {
        patch::apply(&mut r.name, self.name);
        patch::apply(&mut r.description, self.description);
        patch::set(&mut r.tenant_ids, self.tenant_ids);
        check_tenant_count(&r.tenant_ids)
    }
}

// ---------------------------------------------------------------------------------------------
// HealthRun

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthVerdict {
    Passed,
    Failed,
}

/// One suite of a health run: its result and the evidence (the build that ran it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SuiteResult {
    pub suite: String,
    /// The Jenkins result (`SUCCESS`, `FAILURE`...), or `not_run`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_url: Option<String>,
}

/// A run of the health baseline on a tenant, at the end of a validating change request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthRun {
    pub id: crate::HealthRunId,
    pub tenant_id: TenantId,
    pub change_request_id: ChangeRequestId,
    /// The release the tenant ran when tested.
    pub release: ReleaseVersion,
    pub verdict: HealthVerdict,
    pub suites: Vec<SuiteResult>,
    pub finished_at: DateTime<Utc>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

stamped!(HealthRun);

stamped!(
    Customer,
    License,
    LicenseAssignment,
    ProductRelease,
    ComponentVersion,
    Tenant,
    TenantConfig,
    TenantChangeRequest,
    TenantAwsResource
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> WriteContext {
        WriteContext::api(Actor { sub: "alice".into(), email: Some("alice@vendor.example".into()) })
    }

    #[test]
    fn stamps_count_versions_and_keep_creation() {
        let c = ctx();
        let first = Stamp::first(&c);
        assert_eq!(first.revision, 1);
        assert_eq!(first.updated_by, "alice <alice@vendor.example>");
        let later = WriteContext { actor: Actor::system("alarm"), source: Source::Alarm, ..c };
        let next = first.next(&later);
        assert_eq!(next.revision, 2);
        assert_eq!(next.created_by, first.created_by);
        assert_eq!(next.updated_by, "system:alarm");
        assert_eq!(next.source, Source::Alarm);
    }

    #[test]
    fn create_bodies_refuse_unknown_and_missing_fields() {
        let err = serde_json::from_str::<CustomerCreate>(r#"{"name":"A","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("colour"));
        let err = serde_json::from_str::<TenantCreate>(r#"{"name":"acme-prod","release":"3.1.0"}"#).unwrap_err();
        assert!(err.to_string().contains("customer_id"));
    }

    #[test]
    fn a_new_tenant_is_held_by_its_first_change_request() {
        let cmd: TenantCreate = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "name": "acme-prod", "release": "3.1.0"
        }))
        .unwrap();
        let (t, cr) = Tenant::create(cmd.clone(), &ctx());
        assert_eq!(t.state, TenantState::Provisioning);
        assert_eq!(cr.operation, Operation::Provision);
        assert_eq!(t.active_change_request_id.as_ref(), Some(&cr.id));
        assert_eq!(t.stamp.change_request_id.as_ref(), Some(&cr.id));
        assert_eq!(cr.tenant_id, t.id);

        let (t, cr) = Tenant::create(TenantCreate { import: true, ..cmd }, &ctx());
        assert_eq!(t.state, TenantState::InTesting);
        assert_eq!(cr.operation, Operation::Validate);
        assert!(t.imported);
    }

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

    #[test]
    fn releases_need_components_and_terms_need_order() {
        let cmd: ReleaseCreate = serde_json::from_str(r#"{"version":"3.1.0","components":{}}"#).unwrap();
        assert_eq!(ProductRelease::create(cmd, &ctx()).unwrap_err().field, "components");
        let err =
            serde_json::from_str::<ReleaseCreate>(r#"{"version":"3.1.0","components":{"Bad Name":"1"}}"#).unwrap_err();
        assert!(err.to_string().contains("must match"));

        let cmd: AssignmentCreate = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "license_id": LicenseId::generate(),
            "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2025-01-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(LicenseAssignment::create(cmd, &ctx()).unwrap_err().field, "expires_at");
    }

    #[test]
    fn licenses_bound_users_and_resources_bound_tenants() {
        let cmd: LicenseCreate = serde_json::from_str(r#"{"name":"Ent","kind":"subscription","max_users":0}"#).unwrap();
        assert_eq!(License::create(cmd, &ctx()).unwrap_err().field, "max_users");
        let many: BTreeSet<TenantId> = (0..=MAX_TENANTS_PER_RESOURCE).map(|_| TenantId::generate()).collect();
        let cmd = ResourceCreate {
            arn: Arn::parse("arn:aws:s3:::b").unwrap(),
            name: None,
            description: None,
            tenant_ids: many,
        };
        assert_eq!(TenantAwsResource::create(cmd, &ctx()).unwrap_err().field, "tenant_ids");
    }

    #[test]
    fn stamp_fields_never_collide_with_model_fields() {
        let ctx = ctx();
        let release = ProductRelease::create(
            serde_json::from_str(r#"{"version":"3.1.0","components":{"webapp":"3.1.0"}}"#).unwrap(),
            &ctx,
        )
        .unwrap();
        let json = serde_json::to_value(&release).unwrap();
        assert_eq!(json["version"], "3.1.0");
        assert_eq!(json["revision"], 1);
        assert_eq!(serde_json::from_value::<ProductRelease>(json).unwrap(), release);
    }

    #[test]
    fn models_round_trip_through_json_with_their_stamp_flattened() {
        let c = Customer::create(serde_json::from_str(r#"{"name":"Acme"}"#).unwrap(), &ctx());
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["revision"], 1);
        assert_eq!(json["source"], "api");
        let back: Customer = serde_json::from_value(json).unwrap();
        assert_eq!(back, c);
    }
}
