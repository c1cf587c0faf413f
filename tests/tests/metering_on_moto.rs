//! Metering on moto: the daily `metering` schedule (delivered as EventBridge would) reads each
//! running tenant's usage from the Update Manager API (the HTTP adapter against the devstack's
//! stand-in) and keeps it in moto's DynamoDB, once per tenant and day; the tenant's series and
//! the customer's month are read back through the API, a month's boundary in UTC.

use axum::http::{Method, StatusCode};
use chrono::TimeZone;
use devstack::fake_update_manager::FakeUpdateManager;
use devstack::schedule_events::{deliver, scheduled_event};
use domain::Usage;
use domain::schedule::Schedule;
use integration_tests::TestApi;
use serde_json::json;

#[tokio::test]
async fn metering_samples_each_tenant_once_a_day_and_rolls_up_a_customers_month() {
    let api = TestApi::new().await;
    let c = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let ids = api.seed_healthy_tenants(&customer, "3.1.0", &["acme-m1".into(), "acme-m2".into()]).await;
    let (a, b) = (&ids[0], &ids[1]);

    let manager = FakeUpdateManager::new();
    let url = manager.serve(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await.unwrap();
    let handler = schedules::Deps {
        changes: api.app.changes.clone(),
        pace: changes::Pace::per_second(50),
        update_manager: std::sync::Arc::new(engine::HttpUpdateManager::new(&url).unwrap()),
    };
    manager.set(a, Usage { assets: 100, users: 10, data_bytes: 1_000 });
    manager.fail(b);

    // The last day of November: b's box does not answer, so the run asks to be delivered again.
    let nov30 = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
    let failed = deliver(&handler, scheduled_event(Schedule::Metering, nov30)).await;
    assert!(failed.is_err(), "{failed:?}");
    manager.set(b, Usage { assets: 50, users: 5, data_bytes: 400 });
    let redelivered = deliver(&handler, scheduled_event(Schedule::Metering, nov30)).await.unwrap();
    assert_eq!((redelivered["collected"].as_u64(), redelivered["duplicates"].as_u64()), (Some(1), Some(1)));

    // December the 1st: a new slot, a new month.
    manager.set(a, Usage { assets: 300, users: 30, data_bytes: 3_000 });
    let dec1 = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 30, 0).unwrap();
    let report = deliver(&handler, scheduled_event(Schedule::Metering, dec1)).await.unwrap();
    assert_eq!(report["collected"], 2, "{report}");

    let series = api
        .call(
            "viewer",
            Method::GET,
            &format!("/v1/tenants/{a}/metering?from=2026-11-01T00:00:00Z&to=2026-12-31T00:00:00Z"),
            None,
        )
        .await;
    assert_eq!(series.status, StatusCode::OK, "{}", series.body);
    let samples = series.body["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2, "{}", series.body);
    assert_eq!((samples[0]["at"].as_str(), samples[0]["assets"].as_u64()), (Some("2026-11-30T00:00:00Z"), Some(100)));
    assert_eq!(samples[1]["users"], 30);

    let nov =
        api.call("viewer", Method::GET, &format!("/v1/metering?customer_id={customer}&month=2026-11"), None).await;
    assert_eq!(nov.status, StatusCode::OK, "{}", nov.body);
    assert_eq!(
        nov.body["total"],
        json!({"samples": 2, "max_users": 15, "max_assets": 150, "max_data_bytes": 1_400, "avg_data_bytes": 1_400})
    );
    let dec =
        api.call("viewer", Method::GET, &format!("/v1/metering?customer_id={customer}&month=2026-12"), None).await;
    assert_eq!((dec.body["total"]["samples"].as_u64(), dec.body["total"]["max_assets"].as_u64()), (Some(2), Some(350)));

    // Bad windows and months are refused naming the field.
    for (path, field) in [
        (format!("/v1/tenants/{a}/metering?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z"), "from"),
        (format!("/v1/tenants/{a}/metering?from=2024-01-01T00:00:00Z&to=2026-12-01T00:00:00Z"), "from"),
        (format!("/v1/tenants/{a}/metering?to=tomorrow"), "to"),
        (format!("/v1/metering?customer_id={customer}&month=2026-13"), "month"),
        ("/v1/metering?month=2026-11".to_owned(), "customer_id"),
    ] {
        let r = api.call("viewer", Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.body);
        assert_eq!(r.body["field"], field, "{path}");
    }
}
