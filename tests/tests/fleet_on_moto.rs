//! The fleet counters under load, on moto's DynamoDB: 200 tenants move at once, each in its own
//! transaction with one shard of the counters, and the summary equals a recount of the tenants
//! with no write lost to a race.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::http::Method;
use changes::{Caller, ChangeCreate, Ending};
use domain::{ChangeParams, ChangeRequestId, Operation, Source, TenantId};
use integration_tests::{TestApi, all_items};
use serde_json::Value;
use store::{Item, Key, Page, Query, StoreError, Table, WriteOp};

const N: usize = 200;

/// The registry, counting the writes that lost a race (a failed condition, a conflict).
struct Contended {
    inner: Arc<dyn Table>,
    lost: AtomicUsize,
}

#[async_trait]
impl Table for Contended {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        self.inner.query(query).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let r = self.inner.write(ops).await;
        if matches!(r, Err(StoreError::ConditionFailed { .. } | StoreError::Conflict)) {
            self.lost.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.inner.batch_put(items).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_transitions_keep_the_sharded_counters_exact() {
    let api = TestApi::new().await;
    let c = api.call("admin", Method::POST, "/v1/customers", Some(serde_json::json!({"name": "Acme"}))).await;
    let customer = c.body["id"].as_str().unwrap().to_owned();
    let names: Vec<String> = (0..N).map(|i| format!("fleet-{i:03}")).collect();
    let ids = api.seed_healthy_tenants(&customer, "3.1.0", &names).await;
    // moto answers one DynamoDB request at a time: 200 transactions queue behind each other for
    // longer than the SDK's 10 s a call. Only the time limit differs from the API's client.
    let config = devstack::local_aws_config(&integration_tests::moto().endpoint).await;
    let patient = aws_sdk_dynamodb::config::Builder::from(&config)
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(std::time::Duration::from_secs(300))
                .operation_timeout(std::time::Duration::from_secs(300))
                .build(),
        )
        .build();
    let registry = store::dynamo::DynamoTable::new(aws_sdk_dynamodb::Client::from_conf(patient), api.table.clone());
    let table = Arc::new(Contended { inner: Arc::new(registry), lost: AtomicUsize::new(0) });
    let core = changes::Changes { table: table.clone(), ..api.app.changes.clone() };
    let workflow = Caller::system("workflow", Source::Workflow);

    // A validation of each (the tenant held, no state moved yet), one after the other.
    let mut requests = Vec::with_capacity(N);
    for id in &ids {
        let tenant = TenantId::parse(id).unwrap();
        let change = ChangeCreate { operation: Operation::Validate, params: ChangeParams::default(), reason: None };
        let cr = core.create(&tenant, change, &workflow, None).await.expect("a validation");
        requests.push(cr.id);
    }
    let lost_before = table.lost.load(Ordering::SeqCst);

    // Then every one fails at once: 200 transactions, each moving its tenant Healthy → Broken
    // and the counters with it.
    let started = std::time::Instant::now();
    let finishes = requests.iter().map(|id: &ChangeRequestId| {
        let (core, workflow) = (core.clone(), workflow.clone());
        let id = id.clone();
        tokio::spawn(async move {
            core.finish(&id, &workflow, Ending::Failed { error: "suite failed".into() }).await.map(|f| f.state)
        })
    });
    let ended = futures::future::join_all(finishes).await;
    let took = started.elapsed();
    for e in &ended {
        assert_eq!(e.as_ref().unwrap().as_ref().unwrap(), &domain::TenantState::Broken);
    }
    let lost = table.lost.load(Ordering::SeqCst) - lost_before;
    assert_eq!(lost, 0, "no transition of one tenant lost a race to another's");

    // The summary (the shards summed) is a recount of the tenants.
    let items = all_items(&api.client, &api.table).await;
    let s = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, k: &str| {
        i.get(k).and_then(|v| v.as_s().ok()).cloned()
    };
    let mut recount: BTreeMap<String, i64> = BTreeMap::new();
    for t in items.iter().filter(|i| s(i, "item_type").as_deref() == Some("tenant")) {
        *recount.entry(s(t, "state").unwrap()).or_insert(0) += 1;
    }
    let summary = api.call("viewer", Method::GET, "/v1/fleet/summary", None).await.body;
    let by_state: BTreeMap<String, i64> = summary["by_state"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| v.as_i64().filter(|n| *n != 0).map(|n| (k.clone(), n)))
        .collect();
    assert_eq!(by_state, recount, "{summary}");
    assert_eq!(by_state.get("Broken"), Some(&(N as i64)));
    assert_eq!(summary["by_release"]["3.1.0"], Value::from(N as i64));
    let shards = items.iter().filter(|i| s(i, "pk").as_deref() == Some("FLEET")).count();
    assert!(shards <= 3 * store::layout::FLEET_SHARDS as usize, "{shards} counter items for 3 counts");
    eprintln!("{N} concurrent transitions on moto: {took:?}, {lost} lost races, {shards} counter items");
}
