//! Drift: what a tenant's box really runs, as its Update Manager reports it, against what the
//! registry records of it (component versions and non-secret configs). Pure: the reading of the
//! box's answer (a config that names a secret is never taken, whatever it holds), the
//! comparison, and what adopting the live values writes.
//!
//! Drift is reported, never fixed silently: a change request adopts the live values
//! (`adopt_drift`) or installs the recorded ones again (`reapply_recorded`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{ComponentName, ComponentVersionLabel, ConfigKey, ConfigValue, PlainValue};

/// What a tenant's Update Manager answers it runs, before it is read: names and values as
/// they came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportedRunning {
    #[serde(default)]
    pub components: BTreeMap<String, String>,
    #[serde(default)]
    pub configs: BTreeMap<String, Value>,
}

/// What a tenant's box runs: its component versions and its non-secret configs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Running {
    #[schema(value_type = BTreeMap<String, String>)]
    pub components: BTreeMap<ComponentName, ComponentVersionLabel>,
    #[schema(value_type = BTreeMap<String, PlainValue>)]
    pub configs: BTreeMap<ConfigKey, PlainValue>,
}

/// Why part of the box's answer was not compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ignored {
    /// `components.<name>` or `configs.<key>`.
    pub field: String,
    pub reason: String,
}

impl Running {
    /// The box's answer as the registry can compare it. A config whose key names a secret is
    /// dropped (its value is never kept, nor repeated); a name or value the registry could not
    /// record is dropped too. Each is named in the answer's second part.
    pub fn read(reported: ReportedRunning) -> (Self, Vec<Ignored>) {
        let mut running = Self::default();
        let mut ignored = Vec::new();
        for (name, version) in reported.components {
            let field = format!("components.{name}");
            match (ComponentName::parse(&name), ComponentVersionLabel::parse(&version)) {
                (Ok(n), Ok(v)) => {
                    running.components.insert(n, v);
                }
                (Err(e), _) | (_, Err(e)) => ignored.push(Ignored { field, reason: e.message }),
            }
        }
        for (key, value) in reported.configs {
            let field = format!("configs.{key}");
            let Ok(k) = ConfigKey::parse(&key) else {
                ignored.push(Ignored { field, reason: "not a config key the registry records".into() });
                continue;
            };
            if k.names_a_secret() {
                ignored.push(Ignored { field, reason: "names a secret: its value is never read".into() });
                continue;
            }
            match PlainValue::parse(value) {
                Ok(v) => {
                    running.configs.insert(k, v);
                }
                Err(e) => ignored.push(Ignored { field, reason: e.message }),
            }
        }
        (running, ignored)
    }

    /// What the registry records of a tenant, as the box would run it: its components, and its
    /// plain configs (a secret's reference is not a value the box is given by the registry).
    pub fn recorded(
        components: &BTreeMap<ComponentName, ComponentVersionLabel>,
        configs: &BTreeMap<ConfigKey, ConfigValue>,
    ) -> Self {
        Self {
            components: components.clone(),
            configs: configs
                .iter()
                .filter_map(|(k, v)| match v {
                    ConfigValue::Plain(p) => Some((k.clone(), p.clone())),
                    ConfigValue::Secret(_) => None,
                })
                .collect(),
        }
    }
}

/// Whether a drift is in a component version or a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    Component,
    Config,
}

/// One difference between the record and the box. `recorded` is absent when the box runs
/// what the registry does not record; `live` when the box lacks what is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Drifted {
    pub kind: DriftKind,
    /// The component's name or the config's key.
    pub name: String,
    /// The record's version or value: a string, a number or a boolean.
    #[schema(value_type = Option<PlainValue>)]
    pub recorded: Option<Value>,
    /// The box's, likewise.
    #[schema(value_type = Option<PlainValue>)]
    pub live: Option<Value>,
}

/// The differences between what is recorded and what runs, components first, each by name. A
/// config recorded as a secret's reference is never compared (the box's secrets are not read).
pub fn compare(
    components: &BTreeMap<ComponentName, ComponentVersionLabel>,
    configs: &BTreeMap<ConfigKey, ConfigValue>,
    running: &Running,
) -> Vec<Drifted> {
    let label = |v: &ComponentVersionLabel| Value::String(v.as_str().to_owned());
    let mut drifted = Vec::new();
    let names = components.keys().chain(running.components.keys()).collect::<std::collections::BTreeSet<_>>();
    for name in names {
        let (r, l) = (components.get(name), running.components.get(name));
        if r != l {
            drifted.push(Drifted {
                kind: DriftKind::Component,
                name: name.as_str().to_owned(),
                recorded: r.map(label),
                live: l.map(label),
            });
        }
    }
    let secret = |k: &ConfigKey| matches!(configs.get(k), Some(ConfigValue::Secret(_)));
    let keys = configs.keys().chain(running.configs.keys()).filter(|k| !secret(k));
    for key in keys.collect::<std::collections::BTreeSet<_>>() {
        let r = match configs.get(key) {
            Some(ConfigValue::Plain(p)) => Some(p),
            _ => None,
        };
        let l = running.configs.get(key);
        if r != l {
            drifted.push(Drifted {
                kind: DriftKind::Config,
                name: key.as_str().to_owned(),
                recorded: r.map(|p| p.as_json().clone()),
                live: l.map(|p| p.as_json().clone()),
            });
        }
    }
    drifted
}

/// What adopting the live values writes: per drifted component its live version (`None`:
/// delete the record), per drifted config its live value (`None`: delete it).
pub fn adoption(drifted: &[Drifted], running: &Running) -> Adoption {
    let mut a = Adoption::default();
    for d in drifted {
        match d.kind {
            DriftKind::Component => {
                if let Ok(name) = ComponentName::parse(&d.name) {
                    a.components.insert(name.clone(), running.components.get(&name).cloned());
                }
            }
            DriftKind::Config => {
                if let Ok(key) = ConfigKey::parse(&d.name) {
                    a.configs.insert(key.clone(), running.configs.get(&key).cloned());
                }
            }
        }
    }
    a
}

/// The records an adoption writes (`Some`) or deletes (`None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Adoption {
    pub components: BTreeMap<ComponentName, Option<ComponentVersionLabel>>,
    pub configs: BTreeMap<ConfigKey, Option<PlainValue>>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::SecretRef;

    fn c(n: &str) -> ComponentName {
        ComponentName::parse(n).unwrap()
    }
    fn v(s: &str) -> ComponentVersionLabel {
        ComponentVersionLabel::parse(s).unwrap()
    }
    fn k(s: &str) -> ConfigKey {
        ConfigKey::parse(s).unwrap()
    }
    fn plain(x: Value) -> ConfigValue {
        ConfigValue::Plain(PlainValue::parse(x).unwrap())
    }

    fn reported(components: Value, configs: Value) -> ReportedRunning {
        serde_json::from_value(json!({ "components": components, "configs": configs })).unwrap()
    }

    #[test]
    fn a_changed_component_and_a_changed_config_are_drift_and_nothing_else_is() {
        let components = BTreeMap::from([(c("webapp"), v("4.2.0")), (c("db"), v("15.4"))]);
        let configs = BTreeMap::from([(k("smtp.host"), plain(json!("smtp.acme"))), (k("max.users"), plain(json!(50)))]);
        let (running, ignored) = Running::read(reported(
            json!({"webapp": "4.2.1", "db": "15.4"}),
            json!({"smtp.host": "smtp.acme", "max.users": 75}),
        ));
        assert!(ignored.is_empty());
        let d = compare(&components, &configs, &running);
        assert_eq!(
            d,
            [
                Drifted {
                    kind: DriftKind::Component,
                    name: "webapp".into(),
                    recorded: Some(json!("4.2.0")),
                    live: Some(json!("4.2.1"))
                },
                Drifted {
                    kind: DriftKind::Config,
                    name: "max.users".into(),
                    recorded: Some(json!(50)),
                    live: Some(json!(75))
                },
            ]
        );
        assert!(compare(&components, &configs, &Running::recorded(&components, &configs)).is_empty());
    }

    #[test]
    fn what_only_one_side_has_is_drift_with_the_other_side_absent() {
        let components = BTreeMap::from([(c("airflow"), v("2.9"))]);
        let (running, _) = Running::read(reported(json!({"redis": "7.2"}), json!({"feature.x": true})));
        let d = compare(&components, &BTreeMap::new(), &running);
        assert_eq!(d.len(), 3);
        assert_eq!((d[0].name.as_str(), d[0].live.clone()), ("airflow", None));
        assert_eq!((d[1].name.as_str(), d[1].recorded.clone()), ("redis", None));
        assert_eq!((d[2].kind, d[2].live.clone()), (DriftKind::Config, Some(json!(true))));
    }

    #[test]
    fn a_secret_is_never_read_from_the_box_nor_compared() {
        let configs =
            BTreeMap::from([(k("db.password"), ConfigValue::Secret(SecretRef::parse("ssm:/t/a/db").unwrap()))]);
        let (running, ignored) =
            Running::read(reported(json!({}), json!({"db.password": "hunter2", "smtpPwd": "x", "bad key!": 1})));
        assert!(running.configs.is_empty(), "{running:?}");
        assert_eq!(ignored.len(), 3);
        assert!(ignored.iter().all(|i| !i.reason.contains("hunter2")));
        assert!(ignored.iter().any(|i| i.field == "configs.db.password" && i.reason.contains("secret")));
        assert!(compare(&BTreeMap::new(), &configs, &running).is_empty());
        assert!(Running::recorded(&BTreeMap::new(), &configs).configs.is_empty());
    }

    #[test]
    fn adopting_writes_the_live_side_of_each_drift_and_deletes_what_the_box_lacks() {
        let components = BTreeMap::from([(c("webapp"), v("4.2.0")), (c("airflow"), v("2.9"))]);
        let (running, ignored) = Running::read(reported(json!({"webapp": "4.3.0"}), json!({"smtp.host": "b"})));
        let configs = BTreeMap::from([(k("smtp.host"), plain(json!("a")))]);
        let drifted = compare(&components, &configs, &running);
        assert!(ignored.is_empty());
        let a = adoption(&drifted, &running);
        assert_eq!(a.components, BTreeMap::from([(c("airflow"), None), (c("webapp"), Some(v("4.3.0")))]));
        assert_eq!(a.configs, BTreeMap::from([(k("smtp.host"), Some(PlainValue::parse(json!("b")).unwrap()))]));
    }
}
