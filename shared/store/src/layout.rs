//! Where every record lives in the one registry table. This is the single description of the
//! table layout; `infra/template.yaml` declares the same keys and indexes.
//!
//! All attributes are strings unless noted. Every record item also carries `item_type` and the
//! model's fields, with its write stamp (`revision`, `updated_at`, `updated_by`,
//! `change_request_id`, `source`).
//!
//! | item_type | pk | sk | gsi1 (collections) | gsi2 | gsi3 | gsi4 |
//! |---|---|---|---|---|---|---|
//! | customer | `CUSTOMER#<id>` | `CUSTOMER` | `CUSTOMERS` / id | | | |
//! | license | `LICENSE#<id>` | `LICENSE` | `LICENSES` / id | | | |
//! | license_assignment | `ASSIGNMENT#<id>` | `ASSIGNMENT` | `CUSTOMER#<cid>#ASSIGNMENTS` / id | `LICENSE#<lid>#ASSIGNMENTS` / id | `ASSIGNMENTS#EXPIRING` / `<expires_at>#<id>` (only while `active` with an expiry) | |
//! | release | `RELEASE#<version>` | `RELEASE` | `RELEASES` / sortable version | | | |
//! | tenant | `TENANT#<id>` | `TENANT` | `TENANTS` / id | `STATE#<state>` / id | `CUSTOMER#<cid>#TENANTS` / id | `RELEASE#<v>#TENANTS` / id |
//! | component_version | `TENANT#<tid>` | `COMPONENT#<name>` | | | | |
//! | tenant_config | `TENANT#<tid>` | `CONFIG#<key>` | | | | |
//! | health_run | `TENANT#<tid>` | `HEALTH#<id>` | | | | |
//! | meter_sample | `TENANT#<tid>` | `METER#<slot, RFC 3339 UTC>` | | | | |
//! | backup | `TENANT#<tid>` | `BACKUP#<id>` | | | | |
//! | drift_report | `TENANT#<tid>` | `DRIFT` | | `TENANTS#DRIFTED` / tid (only while it differs) | | |
//! | resource_link | `TENANT#<tid>` | `RESOURCE#<rid>` | | `RESOURCE#<rid>#TENANTS` / tid | | |
//! | change_request | `CHANGE#<id>` | `CHANGE` | `TENANT#<tid>#CHANGES` / id | | | |
//! | aws_resource | `RESOURCE#<id>` | `RESOURCE` | `RESOURCES` / id | | | |
//! | rollout | `ROLLOUT#<id>` | `ROLLOUT` | `ROLLOUTS` / id | `ROLLOUTS#ACTIVE` / id (while `running`) | | |
//! | rollout_member | `ROLLOUT#<id>` | `MEMBER#<wave, 4 digits>#<tenant id>` | | | | |
//! | guard (unique tenant name) | `TENANT_NAME#<name>` | `GUARD` | | | | |
//! | guard (unique ARN) | `ARN#<arn>` | `GUARD` | | | | |
//! | fleet counter | `FLEET` | `STATE#<state>#<shard>` or `RELEASE#<v>#<shard>` (`count`: number; [`FLEET_SHARDS`] shards) | | | | |
//! | idempotency record | `IDEM#<len(sub)>:<sub>#<key>` | `IDEM` (`ttl`: epoch seconds, the table's TTL attribute) | | | | |
//!
//! A deleted record leaves a tombstone under its key until DynamoDB's TTL sweeps it (see
//! [`Record::tombstone`]): its fields, stamped with the deleter, `deleted: true`, no index keys.
//!
//! Access patterns, each one `GetItem`, `BatchGetItem` or `Query` (never `Scan`):
//!
//! - a record by id: `GetItem(pk, sk)`;
//! - customers / licenses / releases / tenants / resources: `Query gsi1` on the collection;
//! - tenants by state, customer, release: `Query` gsi2 / gsi3 / gsi4 (a second filter is a
//!   `FilterExpression` on that query);
//! - a tenant's components, configs, resources, health runs and backups (newest first): `Query pk =
//!   TENANT#<tid>, begins_with(sk, ...)`;
//! - tenants of a resource: `Query gsi2 = RESOURCE#<rid>#TENANTS`;
//! - license assignments of a customer / of a license: `Query gsi1` / `gsi2`;
//! - active assignments expiring by a time (the expiring report, the `licenses` schedule's
//!   expired ones): `Query gsi3 = ASSIGNMENTS#EXPIRING, gsi3sk <= <time>#~`, soonest first;
//! - a tenant's last drift check: `GetItem(TENANT#<tid>, DRIFT)`; the tenants whose box differs
//!   from their record (the fleet's drift): `Query gsi2 = TENANTS#DRIFTED`;
//! - a tenant's usage samples over a window or a month: `Query pk = TENANT#<tid>, sk between
//!   METER#<from> and METER#<to>` (or `begins_with(sk, METER#<YYYY-MM>-)`);
//! - change requests of a tenant, newest first: `Query gsi1 = TENANT#<tid>#CHANGES`, descending
//!   (ids are ULIDs, so they sort by time);
//! - rollouts, newest first: `Query gsi1 = ROLLOUTS`, descending; the running ones (what the
//!   rollout driver advances): `Query gsi2 = ROLLOUTS#ACTIVE`; a rollout's members, wave by wave:
//!   `Query pk = ROLLOUT#<id>, begins_with(sk, MEMBER#<wave>#)`;
//! - fleet summary: `Query pk = FLEET` — a constant number of counter items whatever the fleet
//!   size (per state and release, [`FLEET_SHARDS`] shards summed), kept exact by updating one
//!   shard in the same transaction as the tenant.

use domain::{
    AssignmentId, ChangeRequestId, ComponentName, ComponentVersion, ConfigKey, Customer, CustomerId, License,
    LicenseAssignment, LicenseId, ProductRelease, ReleaseVersion, ResourceId, Rollout, RolloutId, RolloutMember,
    RolloutStatus, Stamped, Tenant, TenantAwsResource, TenantChangeRequest, TenantConfig, TenantId, TenantName,
    TenantState,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::item::{from_item, to_item};
use crate::{Index, Item, Key, StoreError};

pub use domain::history::{DELETED, is_tombstone};

/// A model stored as one item of the registry table.
pub trait Record: Serialize + DeserializeOwned + Stamped + Send + Sync {
    /// The `item_type` attribute of its items (not `kind`: a license has a `kind` of its own).
    const KIND: &'static str;
    fn key(&self) -> Key;
    /// (index, partition, sort) for each index the record appears in.
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        Vec::new()
    }

    /// The record as a table item: its fields, `kind`, its key and its index keys.
    fn to_item(&self) -> Result<Item, StoreError> {
        let mut item = self.fields_and_key()?;
        for (index, pk, sk) in self.index_keys() {
            let (ipk, isk) = Index::key_attrs(Some(index));
            item.insert(ipk.into(), Value::String(pk));
            item.insert(isk.into(), Value::String(sk));
        }
        Ok(item)
    }

    /// Its fields, `item_type` and its key: what both [`Record::to_item`] and
    /// [`Record::tombstone`] write.
    fn fields_and_key(&self) -> Result<Item, StoreError> {
        let mut item = to_item(self)?;
        item.insert("item_type".into(), Value::String(Self::KIND.into()));
        item.extend(self.key().to_item());
        Ok(item)
    }

    /// What a delete writes in the record's place, in one conditional write with whatever else
    /// the delete changes: the record stamped with the deleter (so the change log can say who
    /// deleted it), `deleted: true` (reads treat it as absent; a new record may take its key,
    /// conditional on the tombstone's revision, and continues from it), no index keys (it leaves
    /// every index at once), and `ttl` set to `deleted_at` (epoch seconds), so DynamoDB's TTL
    /// sweep removes it within days; the change log ignores that REMOVE.
    fn tombstone(&self, deleted_at: i64) -> Result<Item, StoreError> {
        let mut item = self.fields_and_key()?;
        item.insert(DELETED.into(), Value::Bool(true));
        item.insert("ttl".into(), Value::from(deleted_at));
        Ok(item)
    }

    fn from_item(item: Item) -> Result<Self, StoreError> {
        match item.get("item_type").and_then(Value::as_str) {
            Some(k) if k == Self::KIND => from_item(item),
            other => Err(StoreError::Corrupt(format!("expected a {} item, found item_type {other:?}", Self::KIND))),
        }
    }
}

/// Partition keys of the collections (`gsi1`).
pub mod collection {
    pub const CUSTOMERS: &str = "CUSTOMERS";
    pub const LICENSES: &str = "LICENSES";
    pub const RELEASES: &str = "RELEASES";
    pub const TENANTS: &str = "TENANTS";
    pub const RESOURCES: &str = "RESOURCES";
}

pub fn customer_key(id: &CustomerId) -> Key {
    Key::new(format!("CUSTOMER#{id}"), "CUSTOMER")
}
pub fn license_key(id: &LicenseId) -> Key {
    Key::new(format!("LICENSE#{id}"), "LICENSE")
}
pub fn assignment_key(id: &AssignmentId) -> Key {
    Key::new(format!("ASSIGNMENT#{id}"), "ASSIGNMENT")
}
pub fn release_key(v: &ReleaseVersion) -> Key {
    Key::new(format!("RELEASE#{v}"), "RELEASE")
}
pub fn tenant_key(id: &TenantId) -> Key {
    Key::new(tenant_partition(id), "TENANT")
}
pub fn tenant_partition(id: &TenantId) -> String {
    format!("TENANT#{id}")
}
pub fn component_key(tenant: &TenantId, name: &ComponentName) -> Key {
    Key::new(tenant_partition(tenant), format!("{COMPONENT_PREFIX}{name}"))
}
pub fn config_key(tenant: &TenantId, key: &ConfigKey) -> Key {
    Key::new(tenant_partition(tenant), format!("{CONFIG_PREFIX}{key}"))
}
pub fn resource_link_key(tenant: &TenantId, resource: &ResourceId) -> Key {
    Key::new(tenant_partition(tenant), format!("{RESOURCE_LINK_PREFIX}{resource}"))
}
pub fn change_request_key(id: &ChangeRequestId) -> Key {
    Key::new(format!("CHANGE#{id}"), "CHANGE")
}
pub fn resource_key(id: &ResourceId) -> Key {
    Key::new(format!("RESOURCE#{id}"), "RESOURCE")
}
pub fn tenant_name_guard(name: &TenantName) -> Key {
    Key::new(format!("TENANT_NAME#{name}"), "GUARD")
}
pub fn arn_guard(arn: &domain::Arn) -> Key {
    Key::new(format!("ARN#{arn}"), "GUARD")
}
/// The sub is length-prefixed so that no (sub, key) pair can spell another's partition.
pub fn idempotency_key(sub: &str, key: &str) -> Key {
    Key::new(format!("IDEM#{}:{sub}#{key}", sub.len()), "IDEM")
}

pub const COMPONENT_PREFIX: &str = "COMPONENT#";
pub const CONFIG_PREFIX: &str = "CONFIG#";
pub const HEALTH_PREFIX: &str = "HEALTH#";
pub const BACKUP_PREFIX: &str = "BACKUP#";
pub const METER_PREFIX: &str = "METER#";

/// `gsi2` partition of the tenants whose last drift check found drift (sparse).
pub const DRIFTED_TENANTS: &str = "TENANTS#DRIFTED";

/// The key of a tenant's last drift check.
pub fn drift_key(tenant: &TenantId) -> Key {
    Key::new(tenant_partition(tenant), "DRIFT")
}

/// `gsi3` partition of the active assignments with an expiry, soonest first (sparse).
pub const EXPIRING_ASSIGNMENTS: &str = "ASSIGNMENTS#EXPIRING";

/// A time as the sort keys hold it: RFC 3339 in UTC to the second, so that text order is time
/// order.
pub fn sortable_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The last `gsi3sk` of [`EXPIRING_ASSIGNMENTS`] expiring at or before `t` (`~` sorts after
/// every id).
pub fn expiring_until(t: &chrono::DateTime<chrono::Utc>) -> String {
    format!("{}#~", sortable_time(t))
}

/// The key of a tenant's usage sample for the slot starting at `at`.
pub fn meter_key(tenant: &TenantId, at: &chrono::DateTime<chrono::Utc>) -> Key {
    Key::new(tenant_partition(tenant), format!("{METER_PREFIX}{}", sortable_time(at)))
}

/// The key of a tenant's backup (its id is `bk_` and a ULID: they sort by time).
pub fn backup_key(tenant: &TenantId, id: &domain::BackupId) -> Key {
    Key::new(tenant_partition(tenant), format!("{BACKUP_PREFIX}{id}"))
}
pub const RESOURCE_LINK_PREFIX: &str = "RESOURCE#";
pub const FLEET_PARTITION: &str = "FLEET";
/// `gsi2` partition of the change requests that hold a tenant (pending, awaiting approval,
/// running), oldest first by id: what the reconciler's sweep reads.
pub const ACTIVE_CHANGE_REQUESTS: &str = "CHANGES#ACTIVE";

/// `gsi2` partition of the running rollouts, oldest first by id: what the driver advances.
pub const ACTIVE_ROLLOUTS: &str = "ROLLOUTS#ACTIVE";
pub const ROLLOUTS: &str = "ROLLOUTS";
pub const MEMBER_PREFIX: &str = "MEMBER#";

pub fn rollout_key(id: &RolloutId) -> Key {
    Key::new(rollout_partition(id), "ROLLOUT")
}
pub fn rollout_partition(id: &RolloutId) -> String {
    format!("ROLLOUT#{id}")
}
/// The sort key prefix of a wave's members (`MEMBER#0002#`).
pub fn wave_prefix(wave: u32) -> String {
    format!("{MEMBER_PREFIX}{wave:04}#")
}
pub fn rollout_member_key(id: &RolloutId, wave: u32, tenant: &TenantId) -> Key {
    Key::new(rollout_partition(id), format!("{}{tenant}", wave_prefix(wave)))
}

/// How many items each fleet count is spread over. Every transaction that moves a tenant adds
/// its moves to one shard picked at random, so transitions of unrelated tenants rarely write the
/// same counter item (in DynamoDB, two transactions on one item conflict), and a count is the
/// sum of its shards: exact once the writes settle, read by one `Query` of the partition whose
/// size depends on the states and releases, never on the fleet.
pub const FLEET_SHARDS: u32 = 16;

pub fn fleet_state_counter(state: TenantState, shard: u32) -> Key {
    Key::new(FLEET_PARTITION, format!("STATE#{state}#{shard:02}"))
}
pub fn fleet_release_counter(release: &ReleaseVersion, shard: u32) -> Key {
    Key::new(FLEET_PARTITION, format!("RELEASE#{release}#{shard:02}"))
}

/// The fleet counts of counter items (of the `FLEET` partition), summed over their shards:
/// `(dimension, value)` → count, e.g. `("state", "Healthy")` → 12. An item written before the
/// counts were sharded (`STATE#Healthy`) counts as one more shard.
pub fn fleet_counts<'a>(
    items: impl IntoIterator<Item = &'a Item>,
) -> std::collections::BTreeMap<(String, String), i64> {
    let mut counts = std::collections::BTreeMap::new();
    for item in items {
        let text = |k: &str| item.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
        let (Some(dimension), Some(value)) = (text("dimension"), text("value")) else { continue };
        let count = item.get("count").and_then(serde_json::Value::as_i64).unwrap_or(0);
        *counts.entry((dimension, value)).or_insert(0) += count;
    }
    counts
}

pub fn tenants_in_state(state: TenantState) -> String {
    format!("STATE#{state}")
}
pub fn tenants_of_customer(id: &CustomerId) -> String {
    format!("CUSTOMER#{id}#TENANTS")
}
pub fn tenants_on_release(v: &ReleaseVersion) -> String {
    format!("RELEASE#{v}#TENANTS")
}
pub fn tenants_of_resource(id: &ResourceId) -> String {
    format!("RESOURCE#{id}#TENANTS")
}
pub fn assignments_of_customer(id: &CustomerId) -> String {
    format!("CUSTOMER#{id}#ASSIGNMENTS")
}
pub fn assignments_of_license(id: &LicenseId) -> String {
    format!("LICENSE#{id}#ASSIGNMENTS")
}
pub fn change_requests_of_tenant(id: &TenantId) -> String {
    format!("TENANT#{id}#CHANGES")
}

impl Record for Customer {
    const KIND: &'static str = "customer";
    fn key(&self) -> Key {
        customer_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        vec![(Index::Gsi1, collection::CUSTOMERS.into(), self.id.to_string())]
    }
}

impl Record for License {
    const KIND: &'static str = "license";
    fn key(&self) -> Key {
        license_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        vec![(Index::Gsi1, collection::LICENSES.into(), self.id.to_string())]
    }
}

impl Record for LicenseAssignment {
    const KIND: &'static str = "license_assignment";
    fn key(&self) -> Key {
        assignment_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        let mut keys = vec![
            (Index::Gsi1, assignments_of_customer(&self.customer_id), self.id.to_string()),
            (Index::Gsi2, assignments_of_license(&self.license_id), self.id.to_string()),
        ];
        // Sparse: only while it is active with an expiry, so the expiring report and the
        // `licenses` schedule read those alone.
        if let (domain::AssignmentStatus::Active, Some(e)) = (self.status, &self.expires_at) {
            keys.push((Index::Gsi3, EXPIRING_ASSIGNMENTS.into(), format!("{}#{}", sortable_time(e), self.id)));
        }
        keys
    }
}

impl Record for domain::MeterSample {
    const KIND: &'static str = "meter_sample";
    fn key(&self) -> Key {
        meter_key(&self.tenant_id, &self.at)
    }
}

impl Record for ProductRelease {
    const KIND: &'static str = "release";
    fn key(&self) -> Key {
        release_key(&self.version)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        vec![(Index::Gsi1, collection::RELEASES.into(), self.version.sort_key())]
    }
}

impl Record for Tenant {
    const KIND: &'static str = "tenant";
    fn key(&self) -> Key {
        tenant_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        let id = self.id.to_string();
        vec![
            (Index::Gsi1, collection::TENANTS.into(), id.clone()),
            (Index::Gsi2, tenants_in_state(self.state), id.clone()),
            (Index::Gsi3, tenants_of_customer(&self.customer_id), id.clone()),
            (Index::Gsi4, tenants_on_release(&self.release), id),
        ]
    }
}

impl Record for ComponentVersion {
    const KIND: &'static str = "component_version";
    fn key(&self) -> Key {
        component_key(&self.tenant_id, &self.name)
    }
}

impl Record for TenantConfig {
    const KIND: &'static str = "tenant_config";
    fn key(&self) -> Key {
        config_key(&self.tenant_id, &self.key)
    }
}

impl Record for TenantChangeRequest {
    const KIND: &'static str = "change_request";
    fn key(&self) -> Key {
        change_request_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        let mut keys = vec![(Index::Gsi1, change_requests_of_tenant(&self.tenant_id), self.id.to_string())];
        // Sparse: only while it holds its tenant, so the sweep reads the active ones alone.
        if self.status.is_active() {
            keys.push((Index::Gsi2, ACTIVE_CHANGE_REQUESTS.into(), self.id.to_string()));
        }
        keys
    }
}

impl Record for Rollout {
    const KIND: &'static str = "rollout";
    fn key(&self) -> Key {
        rollout_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        let mut keys = vec![(Index::Gsi1, ROLLOUTS.into(), self.id.to_string())];
        if self.status == RolloutStatus::Running {
            keys.push((Index::Gsi2, ACTIVE_ROLLOUTS.into(), self.id.to_string()));
        }
        keys
    }
}

impl Record for RolloutMember {
    const KIND: &'static str = "rollout_member";
    fn key(&self) -> Key {
        rollout_member_key(&self.rollout_id, self.wave, &self.tenant_id)
    }
}

impl Record for domain::HealthRun {
    const KIND: &'static str = "health_run";
    fn key(&self) -> Key {
        Key::new(tenant_partition(&self.tenant_id), format!("{HEALTH_PREFIX}{}", self.id))
    }
}

impl Record for domain::DriftReport {
    const KIND: &'static str = "drift_report";
    fn key(&self) -> Key {
        drift_key(&self.tenant_id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        if self.is_drifted() { vec![(Index::Gsi2, DRIFTED_TENANTS.into(), self.tenant_id.to_string())] } else { vec![] }
    }
}

impl Record for domain::Backup {
    const KIND: &'static str = "backup";
    fn key(&self) -> Key {
        backup_key(&self.tenant_id, &self.id)
    }
}

impl Record for TenantAwsResource {
    const KIND: &'static str = "aws_resource";
    fn key(&self) -> Key {
        resource_key(&self.id)
    }
    fn index_keys(&self) -> Vec<(Index, String, String)> {
        vec![(Index::Gsi1, collection::RESOURCES.into(), self.id.to_string())]
    }
}

/// The item linking a tenant to a resource it uses (the reverse of `tenant_ids`).
pub fn resource_link_item(tenant: &TenantId, resource: &ResourceId, arn: &domain::Arn) -> Item {
    let mut item = resource_link_key(tenant, resource).to_item();
    item.insert("item_type".into(), Value::String("resource_link".into()));
    item.insert("tenant_id".into(), Value::String(tenant.to_string()));
    item.insert("resource_id".into(), Value::String(resource.to_string()));
    item.insert("arn".into(), Value::String(arn.to_string()));
    item.insert("gsi2pk".into(), Value::String(tenants_of_resource(resource)));
    item.insert("gsi2sk".into(), Value::String(tenant.to_string()));
    item
}

/// A uniqueness guard item: held by the record that owns the unique value.
pub fn guard_item(key: Key, owner: &str) -> Item {
    let mut item = key.to_item();
    item.insert("item_type".into(), Value::String("guard".into()));
    item.insert("owner".into(), Value::String(owner.to_owned()));
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Actor, WriteContext};

    #[test]
    fn only_an_active_assignment_with_an_expiry_is_in_the_expiring_index() {
        let ctx = WriteContext::api(Actor::system("test"));
        let cmd = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "license_id": LicenseId::generate(),
            "expires_at": "2026-12-31T10:00:00.5+01:00"
        }))
        .unwrap();
        let mut a = LicenseAssignment::create(cmd, &ctx).unwrap();
        let item = a.to_item().unwrap();
        assert_eq!(item["gsi3pk"], EXPIRING_ASSIGNMENTS);
        assert_eq!(item["gsi3sk"], format!("2026-12-31T09:00:00Z#{}", a.id));
        assert!(item["gsi3sk"].as_str().unwrap() <= expiring_until(&a.expires_at.unwrap()).as_str());
        a.status = domain::AssignmentStatus::Revoked;
        assert!(!a.to_item().unwrap().contains_key("gsi3pk"));
        a.status = domain::AssignmentStatus::Active;
        a.expires_at = None;
        assert!(!a.to_item().unwrap().contains_key("gsi3pk"));
    }

    #[test]
    fn a_tenant_item_carries_every_index_key_of_its_filters() {
        let ctx = WriteContext::api(Actor::system("test"));
        let cmd = serde_json::from_value(serde_json::json!({
            "customer_id": CustomerId::generate(), "name": "acme-prod", "release": "3.1.0"
        }))
        .unwrap();
        let (tenant, _) = Tenant::create(cmd, &ctx);
        let item = tenant.to_item().unwrap();
        assert_eq!(item["item_type"], "tenant");
        assert_eq!(item["pk"], format!("TENANT#{}", tenant.id));
        assert_eq!(item["gsi2pk"], "STATE#Provisioning");
        assert_eq!(item["gsi3pk"], format!("CUSTOMER#{}#TENANTS", tenant.customer_id));
        assert_eq!(item["gsi4pk"], "RELEASE#3.1.0#TENANTS");
        assert_eq!(Tenant::from_item(item.clone()).unwrap(), tenant);
        let mut wrong = item;
        wrong.insert("item_type".into(), "customer".into());
        assert!(Tenant::from_item(wrong).is_err());
    }
}
