//! The in-memory fake of [`Alarms`]: the alarms by name, the metric points a test put, and a
//! switch to make it fail.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use domain::alarms::AlarmSpec;
use domain::metrics::{MetricPoint, MetricQuery, MetricWindow};

use super::{Alarms, AlarmsError};

/// A metric as a query names it: namespace, name, dimensions (sorted), statistic.
type MetricKey = (String, String, Vec<(String, String)>, String);

fn key_of(q: &MetricQuery) -> MetricKey {
    let mut dims = q.dimensions.clone();
    dims.sort();
    (q.namespace.clone(), q.metric.clone(), dims, q.statistic.clone())
}

#[derive(Default)]
pub struct MemoryAlarms {
    alarms: Mutex<BTreeMap<String, AlarmSpec>>,
    points: Mutex<BTreeMap<MetricKey, Vec<MetricPoint>>>,
    failing: AtomicBool,
}

impl MemoryAlarms {
    pub fn new() -> Self {
        Self::default()
    }

    /// The alarms that exist, by name.
    pub fn alarms(&self) -> BTreeMap<String, AlarmSpec> {
        self.alarms.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Points of the metric `query` names (as the statistic over their period already).
    pub fn put_points(&self, query: &MetricQuery, points: &[MetricPoint]) {
        if let Ok(mut m) = self.points.lock() {
            m.entry(key_of(query)).or_default().extend_from_slice(points);
        }
    }

    /// Every call fails (`Unavailable`) while set.
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), AlarmsError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(AlarmsError::Unavailable(anyhow::anyhow!("the fake is failing")));
        }
        Ok(())
    }
}

#[async_trait]
impl Alarms for MemoryAlarms {
    async fn put_alarm(&self, alarm: &AlarmSpec) -> Result<String, AlarmsError> {
        self.check()?;
        if let Ok(mut m) = self.alarms.lock() {
            m.insert(alarm.name.clone(), alarm.clone());
        }
        Ok(format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}", alarm.name))
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), AlarmsError> {
        self.check()?;
        if let Ok(mut m) = self.alarms.lock() {
            for n in names {
                m.remove(n);
            }
        }
        Ok(())
    }

    async fn metric_data(
        &self,
        queries: &[MetricQuery],
        window: &MetricWindow,
    ) -> Result<Vec<(String, Vec<MetricPoint>)>, AlarmsError> {
        self.check()?;
        let all = self.points.lock().map(|m| m.clone()).unwrap_or_default();
        Ok(queries
            .iter()
            .map(|q| {
                let mut points: Vec<MetricPoint> = all
                    .get(&key_of(q))
                    .into_iter()
                    .flatten()
                    .filter(|p| p.at >= window.from && p.at < window.to)
                    .copied()
                    .collect();
                points.sort_by_key(|p| p.at);
                (q.id.clone(), points)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::TenantId;
    use domain::alarms::StandardAlarm;

    #[tokio::test]
    async fn alarms_are_upserted_by_name_and_deleted_and_the_fake_can_fail() {
        let fake = MemoryAlarms::new();
        let t = TenantId::generate();
        let spec = StandardAlarm::AppHealth.spec(&t, None).unwrap();
        let arn = fake.put_alarm(&spec).await.unwrap();
        assert!(arn.ends_with(&format!(":alarm:{}", spec.name)));
        fake.put_alarm(&spec).await.unwrap();
        assert_eq!(fake.alarms().len(), 1);
        fake.delete_alarms(&[spec.name.clone(), "not-there".into()]).await.unwrap();
        assert!(fake.alarms().is_empty());
        fake.fail(true);
        assert!(matches!(fake.put_alarm(&spec).await, Err(AlarmsError::Unavailable(_))));
    }
}
