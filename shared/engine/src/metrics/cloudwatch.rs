//! [`Alarms`] on CloudWatch: `PutMetricAlarm`, then `DescribeAlarms` for the ARN it does not
//! answer; `DeleteAlarms` (at most 100 names a call); `GetMetricData` (at most 500 queries a
//! call, every page of its answer).

use async_trait::async_trait;
use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricDataQuery, MetricStat, ScanBy, Statistic,
};
use domain::alarms::{AlarmSpec, Comparison};
use domain::metrics::{MetricPoint, MetricQuery, MetricWindow};

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

    #[tracing::instrument(skip(self, queries, window), fields(queries = queries.len()))]
    async fn metric_data(
        &self,
        queries: &[MetricQuery],
        window: &MetricWindow,
    ) -> Result<Vec<(String, Vec<MetricPoint>)>, AlarmsError> {
        let mut answers: Vec<(String, Vec<MetricPoint>)> = queries.iter().map(|q| (q.id.clone(), Vec::new())).collect();
        for chunk in queries.chunks(500) {
            let metric_queries: Vec<MetricDataQuery> = chunk
                .iter()
                .map(|q| {
                    let dimensions =
                        q.dimensions.iter().map(|(n, v)| Dimension::builder().name(n).value(v).build()).collect();
                    let metric = Metric::builder()
                        .namespace(&q.namespace)
                        .metric_name(&q.metric)
                        .set_dimensions(Some(dimensions))
                        .build();
                    let stat = MetricStat::builder()
                        .metric(metric)
                        .period(i32::try_from(window.period_seconds).unwrap_or(i32::MAX))
                        .stat(&q.statistic)
                        .build();
                    MetricDataQuery::builder().id(&q.id).metric_stat(stat).return_data(true).build()
                })
                .collect();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(metric_queries.clone()))
                    .start_time(AwsTime::from_secs(window.from.timestamp()))
                    .end_time(AwsTime::from_secs(window.to.timestamp()))
                    .scan_by(ScanBy::TimestampAscending)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(unavailable)?;
                for result in page.metric_data_results() {
                    let Some((_, points)) = answers.iter_mut().find(|(id, _)| Some(id.as_str()) == result.id()) else {
                        continue;
                    };
                    for (at, value) in result.timestamps().iter().zip(result.values()) {
                        if let Some(at) = chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()) {
                            points.push(MetricPoint { at, value: *value });
                        }
                    }
                }
                token = page.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        for (_, points) in &mut answers {
            points.sort_by_key(|p| p.at);
        }
        Ok(answers)
    }
}
