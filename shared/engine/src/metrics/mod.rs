//! CloudWatch on the tenants: their alarms (create or update one, delete some) and the metric
//! data those alarms and the portal's reports read. Port + CloudWatch adapter (`cloudwatch.rs`,
//! `aws-sdk-cloudwatch` pinned to 1.99.0, the last awsQuery version, which moto speaks) +
//! in-memory fake (`memory.rs`).

mod cloudwatch;
mod memory;

use async_trait::async_trait;
use domain::alarms::AlarmSpec;
use domain::metrics::{MetricPoint, MetricQuery, MetricWindow};

pub use cloudwatch::CloudWatchAlarms;
pub use memory::MemoryAlarms;

#[derive(Debug, thiserror::Error)]
pub enum AlarmsError {
    #[error("CloudWatch is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

#[async_trait]
pub trait Alarms: Send + Sync {
    /// Creates the alarm, or updates the one of that name (`PutMetricAlarm` is an upsert);
    /// answers its ARN.
    async fn put_alarm(&self, alarm: &AlarmSpec) -> Result<String, AlarmsError>;
    /// Deletes the alarms of these names; names with no alarm are left alone.
    async fn delete_alarms(&self, names: &[String]) -> Result<(), AlarmsError>;
    /// The points of each query over `window` (`GetMetricData`), by query id, oldest first.
    async fn metric_data(
        &self,
        queries: &[MetricQuery],
        window: &MetricWindow,
    ) -> Result<Vec<(String, Vec<MetricPoint>)>, AlarmsError>;
}
