//! The backup catalog: what a full backup of a tenant holds and where it is, with what the tenant
//! ran and was set to when it was made, so that a restore can bring all of it back.
//!
//! The backup job reports the backup it wrote (its location, size, checksum and the parts it
//! covers) in its build's `portal/report.json` ([`ReportedBackup`]); the change request that ran
//! it catalogues it when it succeeds ([`Backup::catalogued`]), with the tenant's release,
//! component versions and configs (secrets as their references) read in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Stamp, WriteContext, stamped};
use crate::{
    BackupId, ChangeRequestId, ComponentName, ComponentVersionLabel, ConfigKey, ConfigValue, FieldError, PlainValue,
    ReleaseVersion, SecretRef, TenantId,
};

/// What a full backup covers; a backup that misses one is not full and is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BackupPart {
    /// The image digests of every component.
    Binary,
    /// The configuration files on the box.
    Config,
    /// The database dump and the volumes.
    Data,
    /// Runtime state: queues, schedules, caches worth keeping.
    Runtime,
}

impl BackupPart {
    pub const ALL: [BackupPart; 4] = [Self::Binary, Self::Config, Self::Data, Self::Runtime];
}

/// The backup a job reports it wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedBackup {
    /// Where it is: `s3://<bucket>/<key>`.
    pub location: String,
    pub size_bytes: u64,
    /// `sha256:` and 64 lowercase hex digits.
    pub checksum: String,
    pub parts: BTreeSet<BackupPart>,
}

impl ReportedBackup {
    /// Checks the shape of what the job reported (the field at fault named under `backup.`).
    pub fn check(&self) -> Result<(), FieldError> {
        let (bucket, key) = self
            .location
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('/'))
            .ok_or_else(|| FieldError::new("backup.location", "must be s3://<bucket>/<key>"))?;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
        if !bucket_ok || key.is_empty() || self.location.len() > 1024 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldError::new(
                "backup.location",
                "must be s3://<bucket>/<key> (a valid bucket, a visible key)",
            ));
        }
        let digest = self.checksum.strip_prefix("sha256:").unwrap_or_default();
        if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            return Err(FieldError::new("backup.checksum", "must be sha256: and 64 lowercase hex digits"));
        }
        if self.size_bytes == 0 {
            return Err(FieldError::new("backup.size_bytes", "an empty backup holds nothing"));
        }
        let missing: Vec<String> = BackupPart::ALL
            .iter()
            .filter(|p| !self.parts.contains(p))
            .map(|p| format!("{p:?}").to_lowercase())
            .collect();
        if !missing.is_empty() {
            return Err(FieldError::new("backup.parts", format!("a full backup covers {} too", missing.join(", "))));
        }
        Ok(())
    }
}

/// A config as a backup recorded it: its value, or the reference of its secret (never a secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SavedConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub value: Option<PlainValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub secret_ref: Option<SecretRef>,
}

impl SavedConfig {
    pub fn of(value: &ConfigValue) -> Self {
        match value {
            ConfigValue::Plain(v) => Self { value: Some(v.clone()), secret_ref: None },
            ConfigValue::Secret(r) => Self { value: None, secret_ref: Some(r.clone()) },
        }
    }

    pub fn to_value(&self) -> Option<ConfigValue> {
        match (&self.value, &self.secret_ref) {
            (Some(v), None) => Some(ConfigValue::Plain(v.clone())),
            (None, Some(r)) => Some(ConfigValue::Secret(r.clone())),
            _ => None,
        }
    }
}

/// A catalogued full backup of a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Backup {
    /// `bk_` and the ULID of the change request that made it, so backups sort by time.
    pub id: BackupId,
    pub tenant_id: TenantId,
    /// The `backup` change request that made it.
    pub change_request_id: ChangeRequestId,
    /// Who asked for it (the change request's requester: an admin, a schedule).
    pub made_by: String,
    pub location: String,
    pub size_bytes: u64,
    pub checksum: String,
    pub parts: BTreeSet<BackupPart>,
    /// The release the tenant ran.
    pub release: ReleaseVersion,
    /// The component versions the tenant ran.
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    /// The tenant's configs, secrets as their references.
    pub configs: BTreeMap<ConfigKey, SavedConfig>,
    pub made_at: DateTime<Utc>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

stamped!(Backup);

/// What the tenant was when a backup was made.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TenantSnapshot {
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    pub configs: BTreeMap<ConfigKey, ConfigValue>,
}

impl Backup {
    /// The id of the backup made by change request `cr`.
    pub fn id_for(cr: &ChangeRequestId) -> BackupId {
        let ulid = cr.as_str().strip_prefix(ChangeRequestId::PREFIX).unwrap_or(cr.as_str());
        BackupId::parse(&format!("bk_{ulid}")).expect("bk_ and a ULID is a backup id")
    }

    /// The catalog item of what `cr` (requested by `made_by`) reported, with the tenant as it was.
    pub fn catalogued(
        tenant_id: &TenantId,
        cr: &ChangeRequestId,
        made_by: &str,
        reported: &ReportedBackup,
        release: ReleaseVersion,
        snapshot: TenantSnapshot,
        ctx: &WriteContext,
    ) -> Self {
        Self {
            id: Self::id_for(cr),
            tenant_id: tenant_id.clone(),
            change_request_id: cr.clone(),
            made_by: made_by.to_owned(),
            location: reported.location.clone(),
            size_bytes: reported.size_bytes,
            checksum: reported.checksum.clone(),
            parts: reported.parts.clone(),
            release,
            components: snapshot.components,
            configs: snapshot.configs.iter().map(|(k, v)| (k.clone(), SavedConfig::of(v))).collect(),
            made_at: ctx.now,
            stamp: Stamp::first(ctx),
        }
    }

    /// Its configs as values (a saved config holding neither or both is left out: it cannot be
    /// written back).
    pub fn config_values(&self) -> BTreeMap<ConfigKey, ConfigValue> {
        self.configs.iter().filter_map(|(k, c)| c.to_value().map(|v| (k.clone(), v))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::test_ctx;

    fn reported() -> ReportedBackup {
        ReportedBackup {
            location: "s3://portal-backups/acme/bk.tar.zst".into(),
            size_bytes: 42,
            checksum: format!("sha256:{}", "ab".repeat(32)),
            parts: BackupPart::ALL.into_iter().collect(),
        }
    }

    #[test]
    fn a_full_backup_names_its_place_its_checksum_and_every_part() {
        assert_eq!(reported().check(), Ok(()));
        let field = |r: ReportedBackup| r.check().unwrap_err().field;
        assert_eq!(field(ReportedBackup { location: "https://x/y".into(), ..reported() }), "backup.location");
        assert_eq!(field(ReportedBackup { location: "s3://Bad_Bucket/k".into(), ..reported() }), "backup.location");
        assert_eq!(field(ReportedBackup { location: "s3://bucket/".into(), ..reported() }), "backup.location");
        assert_eq!(field(ReportedBackup { checksum: "md5:abc".into(), ..reported() }), "backup.checksum");
        assert_eq!(field(ReportedBackup { size_bytes: 0, ..reported() }), "backup.size_bytes");
        let partial = ReportedBackup { parts: [BackupPart::Data].into(), ..reported() };
        let e = partial.check().unwrap_err();
        assert_eq!(e.field, "backup.parts");
        assert!(e.message.contains("binary, config, runtime"), "{e}");
    }

    #[test]
    fn a_catalogued_backup_keeps_the_tenant_as_it_was_with_secrets_as_references() {
        let cr = ChangeRequestId::generate();
        let tenant = TenantId::generate();
        let key = |k: &str| ConfigKey::parse(k).unwrap();
        let snapshot = TenantSnapshot {
            components: [(ComponentName::parse("webapp").unwrap(), ComponentVersionLabel::parse("3.1.0").unwrap())]
                .into(),
            configs: [
                (key("smtp.host"), ConfigValue::Plain(PlainValue::parse(serde_json::json!("smtp.example")).unwrap())),
                (key("db.password"), ConfigValue::Secret(SecretRef::parse("ssm:/t/acme/db").unwrap())),
            ]
            .into(),
        };
        let release = ReleaseVersion::parse("3.1.0").unwrap();
        let b = Backup::catalogued(&tenant, &cr, "alice", &reported(), release, snapshot.clone(), &test_ctx());
        assert_eq!(b.id.as_str(), format!("bk_{}", &cr.as_str()[4..]));
        assert_eq!(b.config_values(), snapshot.configs);
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["configs"]["db.password"], serde_json::json!({"secret_ref": "ssm:/t/acme/db"}));
        assert_eq!(json["parts"], serde_json::json!(["binary", "config", "data", "runtime"]));
        let back: Backup = serde_json::from_value(json).unwrap();
        assert_eq!(back, b);
    }
}
