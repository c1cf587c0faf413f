//! The stream poller's own recovery, against moto as shipped (`MOTO_LAUNCHER_AS_SHIPPED=1`: the
//! launcher's DynamoDB fixes off). There a cancelled transaction swaps in a copy of the table,
//! and every shard iterator handed out before reads the old copy's stream, which never grows:
//! what silenced `make dev`'s change log. This binary holds one test, so that its moto is the only
//! one started so.
//!
//! The transaction cancelled here writes nothing. One that wrote some of its items before it
//! failed also leaves their records in the old stream (records of writes that never happened)
//! and the new one reuses their sequence numbers: no reader can make sense of that, which is
//! why the launcher fixes moto itself (`stream_stalls_on_moto.rs` tests that).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use axum::http::{Method, StatusCode};
use integration_tests::{TestApi, all_items};
use serde_json::json;

/// Whether the change log holds an entry of the record keyed `pk`.
async fn logged(api: &TestApi, entity: &str, id: &str) -> bool {
    let pk = format!("ENTITY#{entity}#{id}");
    all_items(&api.client, &api.history_table_name())
        .await
        .iter()
        .any(|i| i.get("pk").and_then(|v| v.as_s().ok()) == Some(&pk))
}

async fn logged_within(api: &TestApi, entity: &str, id: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if logged(api, entity, id).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poller_finds_its_way_back_when_its_iterator_stops_seeing_the_stream() {
    // SAFETY: set before this binary's moto starts (the first `TestApi::new`), which inherits it.
    unsafe { std::env::set_var("MOTO_LAUNCHER_AS_SHIPPED", "1") };
    let api = TestApi::new().await;
    let mut poller = api.new_poller().await;
    poller.refresh_idle = Duration::from_secs(1);
    let stats = poller.stats();
    let running = poller.spawn(Duration::from_millis(100));

    let acme = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let acme = acme.body["id"].as_str().unwrap().to_owned();
    let release = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    assert_eq!(api.call("operator", Method::POST, "/v1/releases", Some(release)).await.status, StatusCode::CREATED);
    assert!(logged_within(&api, "customer", &acme, Duration::from_secs(10)).await, "the poller runs");

    // A transaction that only checks a condition, which fails: cancelled, having written nothing.
    let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(&api.table)
        .key("pk", AttributeValue::S("NOTHING".into()))
        .key("sk", AttributeValue::S("HERE".into()))
        .condition_expression("attribute_exists(pk)")
        .build()
        .unwrap();
    let cancelled = api
        .client
        .transact_write_items()
        .transact_items(aws_sdk_dynamodb::types::TransactWriteItem::builder().condition_check(check).build())
        .send()
        .await
        .expect_err("its condition fails");
    assert!(cancelled.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()), "{cancelled:?}");
    let globex = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Globex"}))).await;
    let globex = globex.body["id"].as_str().unwrap().to_owned();

    assert!(
        logged_within(&api, "customer", &globex, Duration::from_secs(15)).await,
        "the write after the cancelled transaction reaches the change log: {:?}",
        stats.get()
    );
    running.abort();
    assert!(
        stats.get().stale_iterators >= 1,
        "the poller saw its iterator had stopped, and said so: {:?}",
        stats.get()
    );
}
