//! Business metrics as CloudWatch's embedded metric format (EMF): one JSON log line that
//! CloudWatch turns into metrics, with no call to CloudWatch. What the portal measures of
//! itself: change requests started, succeeded, failed and rolled back per operation, how long
//! they and their steps took, the change log's lag, a schedule's fan-out. Building the line is
//! pure; writing it is the function's (`lambda_setup::emf`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// The namespace of every business metric (the template's dashboard reads it).
pub const NAMESPACE: &str = "AdminPortal";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
        }
    }
}

/// One EMF line: values of metrics that share one set of dimensions.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine {
    pub at: DateTime<Utc>,
    pub dimensions: Vec<(&'static str, String)>,
    pub values: Vec<(&'static str, Unit, f64)>,
}

impl MetricLine {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self { at, dimensions: Vec::new(), values: Vec::new() }
    }

    pub fn dimension(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.dimensions.push((name, value.into()));
        self
    }

    pub fn count(mut self, name: &'static str, n: f64) -> Self {
        self.values.push((name, Unit::Count, n));
        self
    }

    pub fn seconds(mut self, name: &'static str, s: f64) -> Self {
        self.values.push((name, Unit::Seconds, s));
        self
    }

    /// The line as CloudWatch reads it: `_aws` names the metrics and their dimensions, and the
    /// values and dimension values are top-level members.
    pub fn to_json(&self) -> Value {
        let mut line = Map::new();
        let metrics: Vec<Value> =
            self.values.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let dimensions: Vec<&str> = self.dimensions.iter().map(|(k, _)| *k).collect();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": self.at.timestamp_millis(),
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dimensions], "Metrics": metrics}],
            }),
        );
        for (k, v) in &self.dimensions {
            line.insert((*k).into(), Value::String(v.clone()));
        }
        for (name, _, value) in &self.values {
            line.insert((*name).into(), json!(value));
        }
        Value::Object(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_its_metrics_and_dimensions_and_carries_their_values() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let line = MetricLine::new(at)
            .dimension("Operation", "upgrade")
            .count("ChangeRequestsFailed", 1.0)
            .seconds("ChangeRequestSeconds", 95.5)
            .to_json();
        assert_eq!(
            line,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "AdminPortal",
                        "Dimensions": [["Operation"]],
                        "Metrics": [
                            {"Name": "ChangeRequestsFailed", "Unit": "Count"},
                            {"Name": "ChangeRequestSeconds", "Unit": "Seconds"},
                        ],
                    }],
                },
                "Operation": "upgrade",
                "ChangeRequestsFailed": 1.0,
                "ChangeRequestSeconds": 95.5,
            })
        );
        let bare = MetricLine::new(at).seconds("ChangeLogLagSeconds", 0.4).to_json();
        assert_eq!(bare["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
    }
}
