//! [`Alarms`] on CloudWatch: `PutMetricAlarm`, then `DescribeAlarms` for the ARN it does not
//! answer; `DeleteAlarms` (at most 100 names a call).

use async_trait::async_trait;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use domain::alarms::{AlarmSpec, Comparison};

use super::{Alarms, AlarmsError};

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> AlarmsError {
    AlarmsError::Unavailable(anyhow::anyhow!(aws_sdk_cloudwatch::error::DisplayErrorContext(e)))
}

pub struct CloudWatchAlarms {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchAlarms {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Alarms for CloudWatchAlarms {
    #[tracing::instrument(skip(self, alarm), fields(alarm = %alarm.name))]
    async fn put_alarm(&self, alarm: &AlarmSpec) -> Result<String, AlarmsError> {
        let dimensions: Vec<Dimension> =
            alarm.dimensions.iter().map(|(n, v)| Dimension::builder().name(n).value(v).build()).collect();
        let comparison = match alarm.comparison {
            Comparison::GreaterThan => ComparisonOperator::GreaterThanThreshold,
            Comparison::LessThan => ComparisonOperator::LessThanThreshold,
        };
        self.client
            .put_metric_alarm()
            .alarm_name(&alarm.name)
            .alarm_description(&alarm.description)
            .namespace(&alarm.namespace)
            .metric_name(&alarm.metric)
            .set_dimensions(Some(dimensions))
            .statistic(Statistic::from(alarm.statistic.as_str()))
            .period(alarm.period_seconds)
            .evaluation_periods(alarm.evaluation_periods)
            .threshold(alarm.threshold)
            .comparison_operator(comparison)
            .treat_missing_data(if alarm.missing_is_breaching { "breaching" } else { "notBreaching" })
            .send()
            .await
            .map_err(unavailable)?;
        let described = self.client.describe_alarms().alarm_names(&alarm.name).send().await.map_err(unavailable)?;
        described
            .metric_alarms()
            .iter()
            .find_map(|a| a.alarm_arn().map(str::to_owned))
            .ok_or_else(|| AlarmsError::Unavailable(anyhow::anyhow!("alarm {} not found after its put", alarm.name)))
    }

    #[tracing::instrument(skip(self))]
    async fn delete_alarms(&self, names: &[String]) -> Result<(), AlarmsError> {
        for chunk in names.chunks(100) {
            self.client.delete_alarms().set_alarm_names(Some(chunk.to_vec())).send().await.map_err(unavailable)?;
        }
        Ok(())
    }
}
