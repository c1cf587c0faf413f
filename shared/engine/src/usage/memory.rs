//! [`MemoryUsage`]: an in-memory [`UsageSource`] for tests, answering what it was told per
//! tenant (or failing), and counting the reads.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use domain::{TenantId, Usage};

use super::{UsageError, UsageSource};

#[derive(Debug, Default)]
pub struct MemoryUsage {
    answers: Mutex<BTreeMap<TenantId, Result<Usage, UsageError>>>,
    reads: Mutex<Vec<TenantId>>,
}

impl MemoryUsage {
    pub fn new() -> Self {
        Self::default()
    }

    /// What the tenant reports from now on.
    pub fn set(&self, tenant: &TenantId, usage: Usage) {
        self.answers.lock().expect("usage lock").insert(tenant.clone(), Ok(usage));
    }

    /// The tenant's API failing from now on.
    pub fn fail(&self, tenant: &TenantId, error: UsageError) {
        self.answers.lock().expect("usage lock").insert(tenant.clone(), Err(error));
    }

    /// The tenants read so far, in order.
    pub fn reads(&self) -> Vec<TenantId> {
        self.reads.lock().expect("usage lock").clone()
    }
}

#[async_trait]
impl UsageSource for MemoryUsage {
    async fn usage(&self, tenant: &TenantId) -> Result<Usage, UsageError> {
        self.reads.lock().expect("usage lock").push(tenant.clone());
        self.answers
            .lock()
            .expect("usage lock")
            .get(tenant)
            .cloned()
            .unwrap_or_else(|| Err(UsageError::Refused(format!("no usage for tenant {tenant}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_fake_answers_what_it_was_told_and_refuses_unknown_tenants() {
        let fake = MemoryUsage::new();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        fake.set(&a, Usage { assets: 3, users: 2, data_bytes: 1 });
        assert_eq!(fake.usage(&a).await.unwrap().assets, 3);
        assert!(matches!(fake.usage(&b).await, Err(UsageError::Refused(_))));
        fake.fail(&a, UsageError::Unavailable("down".into()));
        assert!(matches!(fake.usage(&a).await, Err(UsageError::Unavailable(_))));
        assert_eq!(fake.reads(), [a.clone(), b, a]);
    }
}
