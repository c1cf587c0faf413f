//! The stream poller of the local stack against moto when the emulator stops answering, and the
//! stream itself across a cancelled transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use axum::http::{Method, StatusCode};
use devstack::streams::StreamPoller;
use integration_tests::{TestApi, all_items, moto};
use lambda_setup::SdkLimits;
use serde_json::json;
use store::dynamo::DynamoTable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// When a proxy stops answering: from the `nth` request whose bytes hold `trigger`, for `length`.
struct Stall {
    trigger: &'static [u8],
    nth: usize,
    length: Duration,
    seen: AtomicUsize,
    until: Mutex<Option<Instant>>,
    /// Chunks (of requests or answers) that went nowhere.
    swallowed: AtomicUsize,
}

impl Stall {
    fn new(trigger: &'static [u8], nth: usize, length: Duration) -> Self {
        Self {
            trigger,
            nth,
            length,
            seen: AtomicUsize::new(0),
            until: Mutex::new(None),
            swallowed: AtomicUsize::new(0),
        }
    }

    fn observe(&self, chunk: &[u8]) {
        if chunk.windows(self.trigger.len()).any(|w| w == self.trigger)
            && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.nth
        {
            *self.until.lock().unwrap() = Some(Instant::now() + self.length);
        }
    }

    fn under_way(&self) -> bool {
        self.until.lock().unwrap().is_some_and(|until| Instant::now() < until)
    }

    fn started(&self) -> bool {
        self.until.lock().unwrap().is_some()
    }
}

/// Copies `from` to `to` until the stall catches this connection: from then on, whatever
/// either side sends goes nowhere and the connection stays open, silent, for good.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stall: Arc<Stall>,
    dead: Arc<AtomicBool>,
    requests: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = from.read(&mut buf).await {
        if requests {
            stall.observe(&buf[..n]);
        }
        if stall.under_way() {
            dead.store(true, Ordering::SeqCst);
        }
        if dead.load(Ordering::SeqCst) {
            stall.swallowed.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
    if !dead.load(Ordering::SeqCst) {
        let _ = to.shutdown().await;
    }
}

/// A TCP proxy in front of `upstream` that stops answering while `stall` is under way: a call
/// sent then waits for an answer that never comes, as with an emulator that hangs, until the
/// caller gives up; connections opened after it relay again.
async fn stalling_proxy(upstream: SocketAddr, stall: Arc<Stall>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else { continue };
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            let dead = Arc::new(AtomicBool::new(false));
            tokio::spawn(pump(client_read, server_write, stall.clone(), dead.clone(), true));
            tokio::spawn(pump(server_read, client_write, stall.clone(), dead, false));
        }
    });
    url
}

fn moto_addr() -> SocketAddr {
    moto().endpoint.trim_start_matches("http://").parse().expect("moto's address")
}

/// Change-log entries by key (`pk`, `sk`: entity, time, sequence number, field) → field.
async fn entries(client: &aws_sdk_dynamodb::Client, table: &str) -> BTreeMap<(String, String), String> {
    let s = |item: &std::collections::HashMap<String, AttributeValue>, k: &str| {
        item.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    all_items(client, table).await.iter().map(|i| ((s(i, "pk"), s(i, "sk")), s(i, "field"))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_the_emulator_stalls_mid_batch_the_history_catches_up_exactly_once() {
    let api = TestApi::new().await;
    for i in 0..30 {
        let body = json!({"name": format!("Customer {i:02}")});
        let r = api.call("operator", Method::POST, "/v1/customers", Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // What the change log holds when nothing stalls: the harness's poller, straight to moto.
    api.drain_stream().await;
    let expected = entries(&api.client, &api.history_table_name()).await;
    assert!(expected.len() > 25, "more than one BatchWriteItem of entries: {}", expected.len());

    // A second change log, written by a poller whose every call goes through a proxy that stops
    // answering for 10 s from its second BatchWriteItem: the batch is half written when it
    // stalls. Calls then wait for answers that never come: without timeouts the poller would
    // wait for good; without backoff it would spend its attempts during the stall.
    let (_, stalled_history) = integration_tests::fresh_table_of(devstack::table_def::CHANGELOG_TABLE).await;
    let stall = Arc::new(Stall::new(b"DynamoDB_20120810.BatchWriteItem", 2, Duration::from_secs(10)));
    let proxy = stalling_proxy(moto_addr(), stall.clone()).await;
    // Short limits, so the stall is seen as timeouts quickly.
    let limits = SdkLimits {
        attempt: Duration::from_millis(500),
        operation: Duration::from_secs(2),
        ..devstack::LOCAL_SDK_LIMITS
    };
    let config = devstack::local_aws_config(&proxy)
        .await
        .to_builder()
        .timeout_config(limits.timeout_config())
        .retry_config(limits.retry_config())
        .build();
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let history = Arc::new(DynamoTable::new(dynamodb.clone(), stalled_history.clone()));
    let poller = StreamPoller::new(&dynamodb, aws_sdk_dynamodbstreams::Client::new(&config), &api.table, history)
        .await
        .expect("following the stream through the proxy")
        .with_retries(9, Duration::from_millis(200), Duration::from_secs(1));
    let stats = poller.stats();
    let running = poller.spawn(Duration::from_millis(100));

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut written = entries(&api.client, &stalled_history).await;
    while written.len() < expected.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        written = entries(&api.client, &stalled_history).await;
    }
    // A while longer: nothing more is written (a batch delivered again writes the same keys).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let written = entries(&api.client, &stalled_history).await;
    running.abort();

    let seen = stats.get();
    assert!(stall.started() && stall.swallowed.load(Ordering::SeqCst) > 0, "the proxy stalled");
    assert!(seen.failed_attempts >= 1, "the stall failed a delivery mid-batch, which was retried: {seen:?}");
    assert_eq!(seen.dead_letters, 0, "{seen:?}");
    assert_eq!(written, expected, "every entry, once, under the key a clean run gives it");
    let per_field: BTreeSet<(&String, &String)> = written.iter().map(|((pk, _), field)| (pk, field)).collect();
    assert_eq!(per_field.len(), written.len(), "no field of a created customer logged twice");
    assert!(seen.max_iterator_age >= Duration::from_secs(9), "the lag shows the stall: {seen:?}");
}

#[tokio::test]
async fn a_cancelled_transaction_leaves_the_stream_iterators_reading() {
    let api = TestApi::new().await;
    let streams = aws_sdk_dynamodbstreams::Client::new(&devstack::local_aws_config(&moto().endpoint).await);
    let d = api.client.describe_table().table_name(&api.table).send().await.unwrap();
    let arn = d.table().and_then(|t| t.latest_stream_arn()).unwrap().to_owned();
    let described = streams.describe_stream().stream_arn(&arn).send().await.unwrap();
    let shard = described.stream_description().unwrap().shards()[0].shard_id().unwrap().to_owned();
    let it = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let acme = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Acme"}))).await;
    let release = json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}});
    assert_eq!(api.call("operator", Method::POST, "/v1/releases", Some(release)).await.status, StatusCode::CREATED);
    let tenant = json!({"customer_id": acme.body["id"], "name": "acme-prod", "release": "3.1.0"});
    let first = api.call("operator", Method::POST, "/v1/tenants", Some(tenant.clone())).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let read = streams.get_records().shard_iterator(it.shard_iterator().unwrap()).send().await.unwrap();
    assert!(!read.records().is_empty());
    let next = read.next_shard_iterator().unwrap().to_owned();

    // The same name again: its transaction fails the name guard's condition and is cancelled.
    let again = api.call("operator", Method::POST, "/v1/tenants", Some(tenant)).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    let globex = api.call("operator", Method::POST, "/v1/customers", Some(json!({"name": "Globex"}))).await;
    assert_eq!(globex.status, StatusCode::CREATED);

    let after = streams.get_records().shard_iterator(&next).send().await.unwrap();
    let keys: Vec<String> = after
        .records()
        .iter()
        .filter_map(|r| r.dynamodb().and_then(|d| d.keys()).and_then(|k| k.get("pk")))
        .filter_map(|pk| pk.as_s().ok().cloned())
        .collect();
    let globex_pk = format!("CUSTOMER#{}", globex.body["id"].as_str().unwrap());
    assert_eq!(keys, vec![globex_pk], "the iterator from before the cancelled transaction reads the next write");
}
