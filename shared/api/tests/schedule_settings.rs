//! A tenant's schedule settings (its maintenance and backup windows, its opt-outs) through
//! `PATCH /v1/tenants/{id}`: stored on the tenant record like any field, so the change log
//! records them; a bad window is a 422 naming the field at fault.

mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[tokio::test]
async fn windows_and_opt_outs_are_tenant_settings() {
    let h = Harness::new();
    let t = h.one_tenant().await;
    let path = format!("/v1/tenants/{t}");
    let window = json!({"days": ["sat", "sun"], "start": "02:00", "end": "05:00", "time_zone": "Europe/Berlin"});
    let body = json!({"maintenance_window": window, "schedule_opt_outs": ["validate"]});
    let r = h.call(Method::PATCH, &path, OPERATOR, Some(body)).await.expect(StatusCode::OK);
    assert_eq!(r.body["maintenance_window"], window);
    assert_eq!(r.body["schedule_opt_outs"], json!(["validate"]));
    assert!(r.body.get("backup_window").is_none());
    let read = h.get(&path).await.expect(StatusCode::OK);
    assert_eq!(read.body["maintenance_window"], window);

    // null removes a window; [] opts back in.
    let r = h
        .call(Method::PATCH, &path, OPERATOR, Some(json!({"maintenance_window": null, "schedule_opt_outs": []})))
        .await
        .expect(StatusCode::OK);
    assert!(r.body.get("maintenance_window").is_none(), "{}", r.text);
    assert!(r.body.get("schedule_opt_outs").is_none(), "{}", r.text);
}

#[tokio::test]
async fn a_bad_window_is_422_naming_its_field_and_writes_nothing() {
    let h = Harness::new();
    let t = h.one_tenant().await;
    let path = format!("/v1/tenants/{t}");
    let before = h.snapshot();
    for (body, field) in [
        (json!({"backup_window": {"start": "25:00", "end": "05:00", "time_zone": "UTC"}}), "backup_window.start"),
        (
            json!({"maintenance_window": {"start": "01:00", "end": "05:00", "time_zone": "Mars/Olympus"}}),
            "maintenance_window.time_zone",
        ),
        (
            json!({"backup_window": {"days": ["caturday"], "start": "01:00", "end": "02:00", "time_zone": "UTC"}}),
            "backup_window.days[0]",
        ),
        (json!({"schedule_opt_outs": ["metering"]}), "schedule_opt_outs[0]"),
        (json!({"schedule_opt_outs": null}), "schedule_opt_outs"),
    ] {
        h.call(Method::PATCH, &path, OPERATOR, Some(body))
            .await
            .expect_problem(StatusCode::UNPROCESSABLE_ENTITY, Some(field));
    }
    h.assert_unchanged(&before);
}
