//! What a job reports it built and set: the provision job (and later a swap's new side) names
//! the AWS resources it created, as ARNs, and the configs it set, in the artifact its build
//! archives (`portal/report.json`). The change request that ran it records them as the
//! tenant's resources and configs when it finishes, so that the tenant can be operated (its
//! SSM playbooks need its EC2 instances).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{ConfigPut, ConfigValue, ReportedBackup};
use crate::{Arn, ConfigKey, FieldError, Name};

/// One resource the job created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportedResource {
    pub arn: Arn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
}

/// A job's report, as its artifact says it: `{"resources": [{"arn", "name"}], "configs":
/// {"key": {"value": ...} | {"secret_ref": "ssm:/..."}}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    #[serde(default)]
    resources: Vec<ReportedResource>,
    #[serde(default)]
    configs: BTreeMap<ConfigKey, ConfigPut>,
    #[serde(default)]
    backup: Option<ReportedBackup>,
}

/// A job's report, checked: ARNs parse, config keys are keys, and a key that names a secret
/// holds only a reference (a job that reports a password in clear is refused, and the value is
/// never echoed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkReport {
    pub resources: Vec<ReportedResource>,
    pub configs: BTreeMap<ConfigKey, ConfigValue>,
    /// The backup a backup job wrote (`{"backup": {"location", "size_bytes", "checksum",
    /// "parts"}}`), catalogued when its change request succeeds.
    pub backup: Option<ReportedBackup>,
}

/// At most this many resources and configs are taken from one report (they are written in the
/// change request's finishing transaction).
pub const MAX_REPORTED: usize = 40;

impl WorkReport {
    pub fn parse(value: serde_json::Value) -> Result<Self, FieldError> {
        let raw: RawReport = serde_path_to_error::deserialize(value).map_err(|e| {
            let at = e.path().to_string();
            let message = e.inner().to_string();
            // serde's message may quote an unexpected value: keep only its shape.
            let message = message.split(", expected").next().unwrap_or(&message).to_owned();
            FieldError::new(if at == "." { "" } else { at.as_str() }, message)
        })?;
        if raw.resources.len() + raw.configs.len() > MAX_REPORTED {
            return Err(FieldError::new("", format!("at most {MAX_REPORTED} resources and configs in one report")));
        }
        let mut configs = BTreeMap::new();
        for (key, put) in raw.configs {
            let value = put.parse_for(&key).map_err(|e| FieldError::new(format!("configs.{key}"), e.message))?;
            configs.insert(key, value);
        }
        if let Some(backup) = &raw.backup {
            backup.check()?;
        }
        Ok(Self { resources: raw.resources, configs, backup: raw.backup })
    }

    /// As stored on the step that read it.
    pub fn to_json(&self) -> serde_json::Value {
        let configs: serde_json::Map<String, serde_json::Value> = self
            .configs
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    ConfigValue::Plain(p) => serde_json::json!({ "value": p }),
                    ConfigValue::Secret(r) => serde_json::json!({ "secret_ref": r }),
                };
                (k.to_string(), v)
            })
            .collect();
        let mut json = serde_json::json!({ "resources": self.resources, "configs": configs });
        if let Some(backup) = &self.backup {
            json["backup"] = serde_json::json!(backup);
        }
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_report_names_resources_by_arn_and_configs_with_secrets_as_references() {
        let r = WorkReport::parse(json!({
            "resources": [
                {"arn": "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0", "name": "app server"},
                {"arn": "arn:aws:s3:::acme-prod-data"}
            ],
            "configs": {"webapp.url": {"value": "https://acme.example"}, "db.password": {"secret_ref": "ssm:/t/acme/db"}}
        }))
        .unwrap();
        assert_eq!(r.resources.len(), 2);
        assert_eq!(r.resources[0].arn.ec2_instance_id(), Some("i-0123456789abcdef0"));
        assert!(matches!(r.configs[&ConfigKey::parse("db.password").unwrap()], ConfigValue::Secret(_)));
        assert_eq!(WorkReport::parse(r.to_json()).unwrap(), r, "stored as read");
        assert_eq!(WorkReport::parse(json!({})).unwrap(), WorkReport::default());
    }

    #[test]
    fn a_backup_job_reports_the_backup_it_wrote() {
        let digest = "0f".repeat(32);
        let r = WorkReport::parse(json!({"backup": {"location": "s3://portal-backups/acme/1.tar.zst", "size_bytes": 7,
            "checksum": format!("sha256:{digest}"), "parts": ["binary", "config", "data", "runtime"]}}))
        .unwrap();
        assert_eq!(r.backup.as_ref().map(|b| b.size_bytes), Some(7));
        assert_eq!(WorkReport::parse(r.to_json()).unwrap(), r, "stored as read");
    }

    #[test]
    fn a_report_with_a_secret_in_clear_or_a_bad_arn_is_refused_without_echoing_it() {
        let e = WorkReport::parse(json!({"configs": {"db.password": {"value": "hunter2"}}})).unwrap_err();
        assert_eq!(e.field, "configs.db.password");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = WorkReport::parse(json!({"resources": [{"arn": "not-an-arn"}]})).unwrap_err();
        assert!(e.field.starts_with("resources"), "{e:?}");
        assert!(WorkReport::parse(json!({"machines": []})).is_err());
        let e = WorkReport::parse(
            json!({"backup": {"location": "s3://b/k", "size_bytes": 1, "checksum": "x", "parts": []}}),
        )
        .unwrap_err();
        assert_eq!(e.field, "backup.location", "{e}");
        let many: Vec<_> = (0..41).map(|i| json!({"arn": format!("arn:aws:s3:::b-{i}")})).collect();
        assert!(WorkReport::parse(json!({"resources": many})).is_err());
    }
}
