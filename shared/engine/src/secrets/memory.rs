//! [`MemorySecrets`]: the [`Secrets`] port in memory, for unit tests. It keeps the generated
//! values (only a test reads them, to look for them where they must not be) and can be made to
//! fail.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{SecretError, SecretVersion, Secrets, generate};

#[derive(Debug, Default)]
struct Parameter {
    /// Values by version (1, 2, …).
    values: Vec<String>,
    labels: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct MemorySecrets {
    parameters: Mutex<BTreeMap<String, Parameter>>,
    down: Mutex<bool>,
}

impl MemorySecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every later call fails as an unreachable store does.
    pub fn set_down(&self, down: bool) {
        *self.down.lock().unwrap_or_else(|e| e.into_inner()) = down;
    }

    /// Every value ever written (what a test looks for where it must not be).
    pub fn values(&self) -> Vec<String> {
        self.lock().values().flat_map(|p| p.values.clone()).collect()
    }

    /// The value of a version (a test only: the box reads it this way).
    pub fn value(&self, v: &SecretVersion) -> Option<String> {
        let version = usize::try_from(v.version).ok()?.checked_sub(1)?;
        self.lock().get(&v.parameter).and_then(|p| p.values.get(version).cloned())
    }

    /// Writes `value` as a new version labelled `label` (a secret the tenant had before).
    pub fn seed(&self, parameter: &str, value: &str, label: &str) -> SecretVersion {
        let mut all = self.lock();
        let p = all.entry(parameter.to_owned()).or_default();
        p.values.push(value.to_owned());
        let version = p.values.len() as u64;
        p.labels.insert(label.to_owned(), version);
        SecretVersion { parameter: parameter.to_owned(), version }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Parameter>> {
        self.parameters.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check(&self) -> Result<(), SecretError> {
        if *self.down.lock().unwrap_or_else(|e| e.into_inner()) {
            Err(SecretError::Unavailable(anyhow::anyhow!("memory secrets are down")))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Secrets for MemorySecrets {
    async fn generate(&self, parameter: &str, label: &str) -> Result<SecretVersion, SecretError> {
        self.check()?;
        if let Some(v) = self.labelled(parameter, label).await? {
            return Ok(v);
        }
        let value = generate()?;
        Ok(self.seed(parameter, &value, label))
    }

    async fn labelled(&self, parameter: &str, label: &str) -> Result<Option<SecretVersion>, SecretError> {
        self.check()?;
        Ok(self
            .lock()
            .get(parameter)
            .and_then(|p| p.labels.get(label))
            .map(|&version| SecretVersion { parameter: parameter.to_owned(), version }))
    }

    async fn label(&self, v: &SecretVersion, label: &str) -> Result<(), SecretError> {
        self.check()?;
        let mut all = self.lock();
        let p =
            all.get_mut(&v.parameter).ok_or_else(|| SecretError::Refused(format!("no parameter {}", v.parameter)))?;
        if v.version == 0 || v.version > p.values.len() as u64 {
            return Err(SecretError::Refused(format!("{} has no version {}", v.parameter, v.version)));
        }
        p.labels.insert(label.to_owned(), v.version);
        Ok(())
    }
}
