//! Import from docker-compose: today's record of what each tenant runs. Each service with an
//! image tag is a component at that version; its environment is configs `<service>.<VARIABLE>`.
//! A variable that names a secret (`DB_PASSWORD`, `apiKey`...) is taken only as a reference
//! (`ssm:/…`, `secretsmanager:…`): a value is refused, and never repeated in the refusal.
//! What it would change is a diff against what the registry records; nothing here writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{ComponentName, ComponentVersionLabel, ConfigKey, FieldError, PlainValue, SecretRef};

/// The largest compose file taken.
pub const MAX_COMPOSE_BYTES: usize = 128 * 1024;

/// A config value read from the file: plain, or a reference to a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportedValue {
    Value(PlainValue),
    SecretRef(SecretRef),
}

/// What a compose file says a tenant runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Composed {
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    pub configs: BTreeMap<ConfigKey, ImportedValue>,
    /// Services or variables left out, and why (no image tag, no value...).
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    /// `services.<name>` or `services.<name>.environment.<VARIABLE>`.
    pub at: String,
    pub why: String,
}

/// How the file's value of one item compares with the registry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// In the file, not recorded: the import adds it.
    Added,
    /// Recorded with another value: the import replaces it.
    Changed,
    Unchanged,
    /// Recorded, not in the file: the import leaves it as it is.
    NotInFile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComponentDiff {
    pub name: ComponentName,
    pub change: Change,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub recorded: Option<ComponentVersionLabel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub compose: Option<ComponentVersionLabel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfigDiff {
    pub key: ConfigKey,
    pub change: Change,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub recorded: Option<ImportedValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub compose: Option<ImportedValue>,
}

/// What an import changes (or, with `apply`, changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComposeDiff {
    pub components: Vec<ComponentDiff>,
    pub configs: Vec<ConfigDiff>,
    pub skipped: Vec<Skipped>,
    /// How many records the import writes (the added and changed ones).
    pub changes: usize,
    /// Whether they were written (`"apply": true`).
    pub applied: bool,
}

fn invalid(at: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError::new(format!("compose.{}", at.into()), message)
}

/// The tag of an image reference (`registry:5000/vendor/webapp:3.1.2@sha256:…` → `3.1.2`).
fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split_once(':').map(|(_, tag)| tag).filter(|t| !t.is_empty())
}

/// A service's environment as (variable, value) pairs: a list of `VAR=value` (a bare `VAR`
/// has no value) or a map (`null` has none).
fn environment(at: &str, env: &serde_yaml::Value) -> Result<Vec<(String, Option<serde_json::Value>)>, FieldError> {
    let scalar = |v: &serde_yaml::Value| -> Option<serde_json::Value> {
        match v {
            serde_yaml::Value::String(s) => Some(serde_json::Value::String(s.clone())),
            serde_yaml::Value::Bool(b) => Some(serde_json::Value::Bool(*b)),
            serde_yaml::Value::Number(n) => serde_json::to_value(n).ok(),
            _ => None,
        }
    };
    match env {
        serde_yaml::Value::Sequence(items) => items
            .iter()
            .map(|i| match i.as_str() {
                Some(s) => Ok(match s.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(serde_json::Value::String(v.to_owned()))),
                    None => (s.to_owned(), None),
                }),
                None => Err(invalid(at, "an environment list holds VAR=value strings")),
            })
            .collect(),
        serde_yaml::Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let k = k.as_str().ok_or_else(|| invalid(at, "an environment variable's name is a string"))?;
                match v {
                    serde_yaml::Value::Null => Ok((k.to_owned(), None)),
                    other => scalar(other)
                        .map(|v| (k.to_owned(), Some(v)))
                        .ok_or_else(|| invalid(format!("{at}.{k}"), "a value is a string, a number or a boolean")),
                }
            })
            .collect(),
        serde_yaml::Value::Null => Ok(Vec::new()),
        _ => Err(invalid(at, "environment is a list of VAR=value or a map")),
    }
}

/// Reads a compose file. A refusal names where in the file it is (`compose.services.db.environment.DB_PASSWORD`).
pub fn read(yaml: &str) -> Result<Composed, FieldError> {
    if yaml.len() > MAX_COMPOSE_BYTES {
        return Err(FieldError::new("compose", format!("at most {} KiB", MAX_COMPOSE_BYTES / 1024)));
    }
    let doc: serde_yaml::Value = serde_yaml::from_str(yaml).map_err(|e| {
        // The parser's message may quote the file; keep only where it failed.
        let place = e.location().map(|l| format!(" at line {}, column {}", l.line(), l.column())).unwrap_or_default();
        FieldError::new("compose", format!("not YAML{place}"))
    })?;
    let services = doc
        .get("services")
        .and_then(serde_yaml::Value::as_mapping)
        .ok_or_else(|| FieldError::new("compose", "has no `services` map"))?;
    let mut out = Composed::default();
    for (name, service) in services {
        let name = name.as_str().ok_or_else(|| invalid("services", "a service's name is a string"))?;
        let at = format!("services.{name}");
        let component =
            ComponentName::parse(name).map_err(|e| invalid(&at, format!("is not a component name: {}", e.message)))?;
        match service.get("image").and_then(serde_yaml::Value::as_str) {
            None => out.skipped.push(Skipped { at: at.clone(), why: "no image (built from source)".into() }),
            Some(image) => match image_tag(image) {
                None | Some("latest") => {
                    out.skipped.push(Skipped { at: at.clone(), why: format!("image {image} names no version tag") })
                }
                Some(tag) => {
                    let version = ComponentVersionLabel::parse(tag)
                        .map_err(|e| invalid(format!("{at}.image"), format!("tag {tag:?}: {}", e.message)))?;
                    out.components.insert(component, version);
                }
            },
        }
        let env_at = format!("{at}.environment");
        for (var, value) in environment(&env_at, service.get("environment").unwrap_or(&serde_yaml::Value::Null))? {
            let var_at = format!("{env_at}.{var}");
            let key = ConfigKey::parse(&format!("{name}.{var}"))
                .map_err(|e| invalid(&var_at, format!("is not a config key: {}", e.message)))?;
            let Some(value) = value else {
                out.skipped.push(Skipped { at: var_at, why: "no value in the file (taken from the host)".into() });
                continue;
            };
            let reference = value.as_str().and_then(|s| SecretRef::parse(s).ok());
            let imported =
                match (key.names_a_secret() || ConfigKey::parse(&var).is_ok_and(|k| k.names_a_secret()), reference) {
                    (_, Some(r)) => ImportedValue::SecretRef(r),
                    (true, None) => {
                        return Err(invalid(
                            &var_at,
                            "names a secret: give a reference (ssm:/path or secretsmanager:name) instead of its value",
                        ));
                    }
                    (false, None) => {
                        ImportedValue::Value(PlainValue::parse(value).map_err(|e| invalid(&var_at, e.message))?)
                    }
                };
            out.configs.insert(key, imported);
        }
    }
    Ok(out)
}

fn change<T: PartialEq>(recorded: Option<&T>, compose: Option<&T>) -> Change {
    match (recorded, compose) {
        (None, _) => Change::Added,
        (Some(_), None) => Change::NotInFile,
        (Some(r), Some(c)) if r == c => Change::Unchanged,
        _ => Change::Changed,
    }
}

/// The file against what the registry records.
pub fn diff(
    composed: &Composed,
    components: &BTreeMap<ComponentName, ComponentVersionLabel>,
    configs: &BTreeMap<ConfigKey, ImportedValue>,
) -> ComposeDiff {
    let mut names: Vec<&ComponentName> = components.keys().chain(composed.components.keys()).collect();
    names.sort();
    names.dedup();
    let components: Vec<ComponentDiff> = names
        .into_iter()
        .map(|n| ComponentDiff {
            name: n.clone(),
            change: change(components.get(n), composed.components.get(n)),
            recorded: components.get(n).cloned(),
            compose: composed.components.get(n).cloned(),
        })
        .collect();
    let mut keys: Vec<&ConfigKey> = configs.keys().chain(composed.configs.keys()).collect();
    keys.sort();
    keys.dedup();
    let configs: Vec<ConfigDiff> = keys
        .into_iter()
        .map(|k| ConfigDiff {
            key: k.clone(),
            change: change(configs.get(k), composed.configs.get(k)),
            recorded: configs.get(k).cloned(),
            compose: composed.configs.get(k).cloned(),
        })
        .collect();
    let writes = |c: Change| matches!(c, Change::Added | Change::Changed);
    let changes =
        components.iter().filter(|c| writes(c.change)).count() + configs.iter().filter(|c| writes(c.change)).count();
    ComposeDiff { components, configs, skipped: composed.skipped.clone(), changes, applied: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
services:
  webapp:
    image: registry.vendor.example:5000/saas/webapp:3.2.1
    environment:
      - SMTP_HOST=smtp.acme.example
      - DB_PASSWORD=ssm:/tenants/acme/db_password
      - FROM_HOST
  airflow:
    image: apache/airflow:2.9.3@sha256:0123
    environment:
      WORKERS: 4
      DEBUG: false
  etl:
    build: ./etl
  cache:
    image: redis:latest
"#;

    fn name(s: &str) -> ComponentName {
        ComponentName::parse(s).unwrap()
    }
    fn key(s: &str) -> ConfigKey {
        ConfigKey::parse(s).unwrap()
    }
    fn label(s: &str) -> ComponentVersionLabel {
        ComponentVersionLabel::parse(s).unwrap()
    }
    fn plain(v: serde_json::Value) -> ImportedValue {
        ImportedValue::Value(PlainValue::parse(v).unwrap())
    }

    #[test]
    fn image_tags_are_versions_and_the_environment_is_configs() {
        let c = read(FILE).unwrap();
        assert_eq!(
            c.components,
            BTreeMap::from([(name("airflow"), label("2.9.3")), (name("webapp"), label("3.2.1"))]),
            "the registry's port is not a tag, nor is the digest"
        );
        assert_eq!(c.configs[&key("webapp.SMTP_HOST")], plain(serde_json::json!("smtp.acme.example")));
        assert_eq!(
            c.configs[&key("webapp.DB_PASSWORD")],
            ImportedValue::SecretRef(SecretRef::parse("ssm:/tenants/acme/db_password").unwrap())
        );
        assert_eq!(c.configs[&key("airflow.WORKERS")], plain(serde_json::json!(4)));
        assert_eq!(c.configs[&key("airflow.DEBUG")], plain(serde_json::json!(false)));
        let skipped: Vec<&str> = c.skipped.iter().map(|s| s.at.as_str()).collect();
        assert_eq!(
            skipped,
            ["services.webapp.environment.FROM_HOST", "services.etl", "services.cache"],
            "in file order"
        );
    }

    #[test]
    fn a_secret_given_by_value_refuses_the_file_without_repeating_it() {
        for (file, at) in [
            (
                "services:\n  db:\n    image: postgres:16.2\n    environment:\n      - POSTGRES_PASSWORD=hunter2hunter2\n",
                "compose.services.db.environment.POSTGRES_PASSWORD",
            ),
            (
                "services:\n  web:\n    image: w:1\n    environment:\n      apiKey: hunter2hunter2\n",
                "compose.services.web.environment.apiKey",
            ),
            (
                "services:\n  web:\n    image: w:1\n    environment:\n      JWT_SECRET: ${JWT_SECRET}\n",
                "compose.services.web.environment.JWT_SECRET",
            ),
        ] {
            let e = read(file).unwrap_err();
            assert_eq!(e.field, at);
            assert!(!e.message.contains("hunter2"), "{}", e.message);
        }
    }

    #[test]
    fn what_is_not_a_compose_file_is_refused_at_its_place() {
        assert_eq!(read("services: [").unwrap_err().field, "compose");
        assert!(!read("password: hunter2 [").unwrap_err().message.contains("hunter2"));
        assert_eq!(read("version: '3'\n").unwrap_err().field, "compose");
        assert_eq!(read("services:\n  Web:\n    image: w:1\n").unwrap_err().field, "compose.services.Web");
        assert_eq!(read("services:\n  web:\n    image: w:1!\n").unwrap_err().field, "compose.services.web.image");
        assert_eq!(
            read("services:\n  web:\n    image: w:1\n    environment: 3\n").unwrap_err().field,
            "compose.services.web.environment"
        );
    }

    #[test]
    fn the_diff_says_what_is_added_changed_kept_and_left_alone() {
        let c = read(FILE).unwrap();
        let recorded = BTreeMap::from([
            (name("webapp"), label("3.1.0")),
            (name("airflow"), label("2.9.3")),
            (name("etl"), label("1.0.0")),
        ]);
        let configs = BTreeMap::from([(key("webapp.SMTP_HOST"), plain(serde_json::json!("smtp.old.example")))]);
        let d = diff(&c, &recorded, &configs);
        let of = |n: &str| d.components.iter().find(|x| x.name == name(n)).unwrap().change;
        assert_eq!((of("webapp"), of("airflow"), of("etl")), (Change::Changed, Change::Unchanged, Change::NotInFile));
        let cfg = |k: &str| d.configs.iter().find(|x| x.key == key(k)).unwrap().change;
        assert_eq!((cfg("webapp.SMTP_HOST"), cfg("airflow.WORKERS")), (Change::Changed, Change::Added));
        // webapp changed; 4 configs (SMTP_HOST changed, 3 added).
        assert_eq!(d.changes, 1 + 4);
        assert!(!d.applied);
    }
}
