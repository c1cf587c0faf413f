//! `route-costs fan-out --moto ENDPOINT [--tenants N] [--per-second P]`: one schedule run (the
//! nightly backup) over N Healthy tenants in a fresh registry table in moto, then the same
//! event delivered again. For each: the DynamoDB requests sent by operation (an SDK
//! interceptor, [`crate::wire`]), their estimated capacity units, the executions started and
//! the time it took. The tenants are written first with `BatchWriteItem`, not counted.
//! Step Functions is the in-memory fake here (moto's would run every backup's workflow):
//! one `StartExecution` per change request created.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use chrono::{TimeZone, Utc};
use devstack::table_def;
use domain::schedule::ScheduleName;
use domain::{Actor, CustomerId, Tenant, TenantCreate, TenantState, WriteContext};
use serde_json::{Value, json};
use store::Table;
use store::dynamo::DynamoTable;
use store::layout::Record;

use crate::{flag, wire};

pub async fn fan_out(args: &[String]) -> anyhow::Result<Value> {
    let endpoint = flag(args, "--moto")?;
    let tenants: usize = flag(args, "--tenants").unwrap_or_else(|_| "1000".into()).parse().context("--tenants")?;
    let per_second: u32 =
        flag(args, "--per-second").unwrap_or_else(|_| "1000".into()).parse().context("--per-second")?;
    let config = devstack::local_aws_config(&endpoint).await;
    let wire = wire::Wire::default();
    let counted = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config).interceptor(wire.clone()).build(),
    );
    let plain = aws_sdk_dynamodb::Client::new(&config);
    let table_name = format!("fan-out-{}", Utc::now().timestamp_millis());
    table_def::create_table(&plain, table_def::TEMPLATE, table_def::REGISTRY_TABLE, &table_name).await?;

    let seed = DynamoTable::new(plain, table_name.clone());
    let ctx = WriteContext::api(Actor { sub: "bench".into(), email: None });
    let customer = CustomerId::generate();
    let mut items = Vec::with_capacity(tenants);
    for i in 0..tenants {
        let cmd: TenantCreate =
            serde_json::from_value(json!({"customer_id": customer, "name": format!("fan-{i}"), "release": "3.1.0"}))?;
        let (mut t, _) = Tenant::create(cmd, &ctx);
        t.state = TenantState::Healthy;
        t.active_change_request_id = None;
        items.push(t.to_item()?);
    }
    for chunk in items.chunks(25) {
        seed.batch_put(chunk.to_vec()).await?;
    }

    let workflows = Arc::new(engine::workflows::MemoryWorkflows::new());
    let core = changes::Changes {
        table: Arc::new(DynamoTable::new(counted, table_name)),
        workflows: workflows.clone(),
        jenkins: Arc::new(engine::MemoryJenkins::new()),
        remote: Arc::new(engine::MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    };
    let at = Utc.with_ymd_and_hms(2026, 12, 3, 2, 0, 0).single().context("a time")?;
    let pace = changes::Pace::per_second(per_second);
    let mut runs = Vec::new();
    for run in ["first delivery", "same event again"] {
        let before = (wire.sent().len(), workflows.started().len());
        let started = Instant::now();
        let report = core.fan_out(ScheduleName::Backup, at, pace).await?;
        let seconds = started.elapsed().as_secs_f64();
        let sent = wire.sent();
        let sent = &sent[before.0..];
        let mut by_op: BTreeMap<&str, usize> = BTreeMap::new();
        for s in sent {
            *by_op.entry(s.op.as_str()).or_default() += 1;
        }
        runs.push(json!({
            "run": run,
            "seconds": (seconds * 100.0).round() / 100.0,
            "report": report,
            "dynamodb_requests": sent.len(),
            "by_operation": by_op,
            "rcu": sent.iter().map(|s| s.rcu).sum::<f64>(),
            "wcu": sent.iter().map(|s| s.wcu).sum::<f64>(),
            "start_execution": workflows.started().len() - before.1,
        }));
    }
    Ok(json!({"tenants": tenants, "per_second_bound": per_second, "runs": runs}))
}
