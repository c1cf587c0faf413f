//! A tenant's metrics for real: data put into moto's CloudWatch for the tenant's EC2 instance
//! (registered by its provision) and its app's health metric, read back through the API's
//! `GetMetricData` adapter.

use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use axum::http::{Method, StatusCode};
use integration_tests::TestApi;
use serde_json::{Value, json};

async fn healthy_tenant(api: &TestApi) -> (String, String) {
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let body = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    api.call("operator", Method::POST, "/v1/releases", Some(body)).await;
    let body = json!({"customer_id": c.body["id"], "name": "acme-metrics", "release": "3.1.0"});
    let t = api.call("operator", Method::POST, "/v1/tenants", Some(body)).await;
    assert_eq!(t.status, StatusCode::CREATED, "{}", t.body);
    let id = t.body["id"].as_str().unwrap().to_owned();
    assert_eq!(api.settled(t.body["active_change_request_id"].as_str().unwrap()).await["status"], "succeeded");
    let r = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/resources"), None).await;
    let instance = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["arn"].as_str())
        .find_map(|a| a.split_once(":instance/").map(|(_, i)| i.to_owned()))
        .expect("the provision registered an EC2 instance");
    (id, instance)
}

fn datum(metric: &str, dimension: (&str, &str), at: chrono::DateTime<chrono::Utc>, value: f64) -> MetricDatum {
    MetricDatum::builder()
        .metric_name(metric)
        .dimensions(Dimension::builder().name(dimension.0).value(dimension.1).build())
        .timestamp(AwsTime::from_secs(at.timestamp()))
        .value(value)
        .build()
}

#[tokio::test]
async fn the_metrics_report_reads_the_data_put_into_cloudwatch_for_the_tenants_instance_and_app() {
    let (api, _lc) = TestApi::with_lifecycle("api-smoke").await;
    let (id, instance) = healthy_tenant(&api).await;
    let config = devstack::local_aws_config(&integration_tests::moto().endpoint).await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let now = chrono::Utc::now();
    let minutes = |m: i64| now - chrono::Duration::minutes(m);
    cw.put_metric_data()
        .namespace("AWS/EC2")
        .metric_data(datum("CPUUtilization", ("InstanceId", &instance), minutes(50), 42.0))
        .metric_data(datum("CPUUtilization", ("InstanceId", &instance), minutes(20), 64.0))
        .send()
        .await
        .expect("cpu data");
    cw.put_metric_data()
        .namespace(domain::alarms::APP_NAMESPACE)
        .metric_data(datum(domain::alarms::APP_HEALTH_METRIC, ("TenantId", &id), minutes(30), 1.0))
        .send()
        .await
        .expect("app health data");

    let from = minutes(60).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = format!("/v1/tenants/{id}/metrics?names=cpu,app_health&period=600&from={}", from.replace('+', "%2B"));
    let r = api.call("viewer", Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["period_seconds"], 600);
    let series = r.body["series"].as_array().unwrap();
    let of =
        |metric: &str| series.iter().find(|s| s["metric"] == metric).unwrap_or_else(|| panic!("{metric}: {series:?}"));
    let cpu = of("cpu");
    assert_eq!((cpu["resource"].as_str(), cpu["namespace"].as_str()), (Some(instance.as_str()), Some("AWS/EC2")));
    let values: Vec<f64> = cpu["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [42.0, 64.0], "{cpu}");
    let health = of("app_health");
    assert_eq!(health["resource"], json!(id));
    assert_eq!(
        health["points"].as_array().unwrap().iter().map(|p| p["value"].clone()).collect::<Vec<Value>>(),
        [json!(1.0)]
    );

    // A window the API cannot answer is a 400 naming the parameter, never a 500.
    for (query, field) in
        [("period=90", "period"), ("names=load", "names"), ("from=2026-01-01T00:00:00Z&period=60", "period")]
    {
        let r = api.call("viewer", Method::GET, &format!("/v1/tenants/{id}/metrics?{query}"), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}: {}", r.body);
        assert_eq!(r.body["field"], field, "{query}");
    }
    let missing = api.call("viewer", Method::GET, "/v1/tenants/ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A/metrics", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.body);
}
