//! Change-log throughput in-process: stream records → field diffs → table items.
//! `cargo bench --workspace --bench entries`; also prints table writes per 100 records.

use std::hint::black_box;

use aws_lambda_events::event::dynamodb::EventRecord;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};
use store::Table;
use store::memory::MemoryTable;

fn tenant(state: &str, revision: u64) -> Value {
    json!({
        "pk": "TENANT#ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A", "sk": "TENANT", "item_type": "tenant",
        "id": "ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A", "customer_id": "cus_01JD8X3Q5C7M2R4T6V8W0Y1Z2A",
        "name": "acme-prod", "release": "3.1.0", "state": state, "region": "us-east-1", "imported": false,
        "description": "EU production", "revision": revision, "created_at": "2026-11-30T06:00:00Z",
        "created_by": "alice", "updated_at": "2026-11-30T06:00:01.123456Z", "updated_by": "system:workflow",
        "change_request_id": "chg_01JD8X3Q5C7M2R4T6V8W0Y1Z2A", "source": "workflow",
        "gsi1pk": "TENANTS", "gsi1sk": "ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A", "gsi2pk": format!("STATE#{state}"),
        "gsi2sk": "ten_01JD8X3Q5C7M2R4T6V8W0Y1Z2A"
    })
}

fn record(seq: u64, name: &str, old: Option<Value>, new: Option<Value>) -> EventRecord {
    let as_map = |v: Value| match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    };
    let mut change = json!({"ApproximateCreationDateTime": 1796018400.0, "Keys": {}, "SequenceNumber": format!("{seq:021}"),
        "SizeBytes": 400, "StreamViewType": "NEW_AND_OLD_IMAGES"});
    if let Some(o) = old {
        change["OldImage"] = store::item::to_dynamodb_json(&as_map(o));
    }
    if let Some(n) = new {
        change["NewImage"] = store::item::to_dynamodb_json(&as_map(n));
    }
    serde_json::from_value(json!({"eventID": seq.to_string(), "eventName": name, "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1", "dynamodb": change}))
    .expect("record")
}

/// 100 state transitions (one changed field each) and 100 inserts (every field).
fn batches() -> (Vec<EventRecord>, Vec<EventRecord>) {
    let transitions =
        (0..100).map(|i| record(i, "MODIFY", Some(tenant("InTesting", 3)), Some(tenant("Healthy", 4)))).collect();
    let inserts = (0..100).map(|i| record(1000 + i, "INSERT", None, Some(tenant("Provisioning", 1)))).collect();
    (transitions, inserts)
}

fn writes_per_100_records(rt: &tokio::runtime::Runtime, records: &[EventRecord]) -> (usize, usize) {
    let table = MemoryTable::new();
    let before = table.calls();
    rt.block_on(changelog::process(&table, records));
    (table.calls() - before, table.len())
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let (transitions, inserts) = batches();
    for (what, batch) in [("state transitions", &transitions), ("inserts", &inserts)] {
        let (calls, entries) = writes_per_100_records(&rt, batch);
        println!("change log, 100 {what}: {entries} entries, {calls} BatchWriteItem calls");
    }
    let mut g = c.benchmark_group("changelog");
    g.throughput(Throughput::Elements(100));
    g.bench_function("entry_items/100 transitions", |b| {
        b.iter(|| {
            transitions.iter().map(|r| changelog::entry_items(black_box(r)).expect("entries").len()).sum::<usize>()
        })
    });
    g.bench_function("entry_items/100 inserts", |b| {
        b.iter(|| inserts.iter().map(|r| changelog::entry_items(black_box(r)).expect("entries").len()).sum::<usize>())
    });
    g.bench_function("process/100 transitions into the fake table", |b| {
        b.iter(|| {
            let table = MemoryTable::new();
            rt.block_on(changelog::process(&table, black_box(&transitions)));
            table.len()
        })
    });
    g.finish();
    let _ = MemoryTable::new().is_empty();
    let _: Option<&dyn Table> = None;
}

criterion_group!(benches, bench);
criterion_main!(benches);
