//! [`MemoryUpdateManager`]: an in-memory [`UpdateManager`] for tests: per tenant a usage and a
//! box (what it runs, which an install changes unless the box is set to ignore installs), or a
//! failure; it counts the reads and keeps the installs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::drift::{ReportedRunning, Running};
use domain::{TenantId, Usage};

use super::{UpdateManager, UpdateManagerError};

#[derive(Debug, Default)]
struct State {
    usage: BTreeMap<TenantId, Result<Usage, UpdateManagerError>>,
    boxes: BTreeMap<TenantId, Result<ReportedRunning, UpdateManagerError>>,
    /// Tenants whose box answers an install but keeps running what it ran.
    stuck: Vec<TenantId>,
    reads: Vec<TenantId>,
    installs: Vec<(TenantId, Running)>,
}

#[derive(Debug, Default)]
pub struct MemoryUpdateManager {
    state: Mutex<State>,
}

impl MemoryUpdateManager {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("update manager lock"))
    }

    /// What the tenant reports from now on.
    pub fn set(&self, tenant: &TenantId, usage: Usage) {
        self.with(|s| s.usage.insert(tenant.clone(), Ok(usage)));
    }

    /// The tenant's API failing from now on (usage, running and installs).
    pub fn fail(&self, tenant: &TenantId, error: UpdateManagerError) {
        self.with(|s| {
            s.usage.insert(tenant.clone(), Err(error.clone()));
            s.boxes.insert(tenant.clone(), Err(error));
        });
    }

    /// What the tenant's box runs from now on.
    pub fn set_running(&self, tenant: &TenantId, running: ReportedRunning) {
        self.with(|s| s.boxes.insert(tenant.clone(), Ok(running)));
    }

    /// The tenant's box answers installs from now on, but keeps running what it runs.
    pub fn ignore_installs(&self, tenant: &TenantId) {
        self.with(|s| s.stuck.push(tenant.clone()));
    }

    /// The tenants read so far (usage), in order.
    pub fn reads(&self) -> Vec<TenantId> {
        self.with(|s| s.reads.clone())
    }

    /// The installs asked for so far, in order.
    pub fn installs(&self) -> Vec<(TenantId, Running)> {
        self.with(|s| s.installs.clone())
    }
}

#[async_trait]
impl UpdateManager for MemoryUpdateManager {
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, UpdateManagerError> {
        self.with(|s| {
            s.reads.push(tenant.clone());
            s.usage
                .get(tenant)
                .cloned()
                .unwrap_or_else(|| Err(UpdateManagerError::Refused(format!("no usage for tenant {tenant}"))))
        })
    }

    async fn running(&self, tenant: &TenantId) -> Result<ReportedRunning, UpdateManagerError> {
        self.with(|s| {
            s.boxes
                .get(tenant)
                .cloned()
                .unwrap_or_else(|| Err(UpdateManagerError::Refused(format!("no box for tenant {tenant}"))))
        })
    }

    async fn apply(&self, tenant: &TenantId, wanted: &Running) -> Result<(), UpdateManagerError> {
        self.with(|s| {
            let current = match s.boxes.get(tenant) {
                Some(Ok(r)) => r.clone(),
                Some(Err(e)) => return Err(e.clone()),
                None => return Err(UpdateManagerError::Refused(format!("no box for tenant {tenant}"))),
            };
            s.installs.push((tenant.clone(), wanted.clone()));
            if !s.stuck.contains(tenant) {
                s.boxes.insert(tenant.clone(), Ok(installed(current, wanted)));
            }
            Ok(())
        })
    }
}

/// What a box runs after an install of `wanted`: its components and the configs it names,
/// the other configs as they were.
pub fn installed(mut current: ReportedRunning, wanted: &Running) -> ReportedRunning {
    current.components =
        wanted.components.iter().map(|(n, v)| (n.as_str().to_owned(), v.as_str().to_owned())).collect();
    for (k, v) in &wanted.configs {
        current.configs.insert(k.as_str().to_owned(), v.as_json().clone());
    }
    current
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn the_fake_answers_what_it_was_told_and_refuses_unknown_tenants() {
        let fake = MemoryUpdateManager::new();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        fake.set(&a, Usage { assets: 3, users: 2, data_bytes: 1 });
        assert_eq!(fake.usage(&a).await.unwrap().assets, 3);
        assert!(matches!(fake.usage(&b).await, Err(UpdateManagerError::Refused(_))));
        fake.fail(&a, UpdateManagerError::Unavailable("down".into()));
        assert!(matches!(fake.usage(&a).await, Err(UpdateManagerError::Unavailable(_))));
        assert!(matches!(fake.running(&a).await, Err(UpdateManagerError::Unavailable(_))));
        assert_eq!(fake.reads(), [a.clone(), b, a]);
    }

    #[tokio::test]
    async fn an_install_changes_what_the_box_runs_unless_it_ignores_installs() {
        let fake = MemoryUpdateManager::new();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let box_ = serde_json::from_value::<ReportedRunning>(
            json!({"components": {"webapp": "4.3.0", "extra": "1"}, "configs": {"smtp.host": "b", "other": 1}}),
        )
        .unwrap();
        fake.set_running(&a, box_.clone());
        fake.set_running(&b, box_.clone());
        fake.ignore_installs(&b);
        let wanted = Running::read(
            serde_json::from_value(json!({"components": {"webapp": "4.2.0"}, "configs": {"smtp.host": "a"}})).unwrap(),
        )
        .0;
        fake.apply(&a, &wanted).await.unwrap();
        fake.apply(&b, &wanted).await.unwrap();
        let now = fake.running(&a).await.unwrap();
        assert_eq!(now.components, BTreeMap::from([("webapp".to_owned(), "4.2.0".to_owned())]));
        assert_eq!(now.configs, BTreeMap::from([("other".to_owned(), json!(1)), ("smtp.host".to_owned(), json!("a"))]));
        assert_eq!(fake.running(&b).await.unwrap(), box_);
        assert_eq!(fake.installs().len(), 2);
    }
}
