//! `route-costs fleet --moto ENDPOINT [--sizes 1000,2500,5000,10000] [--select 1000]
//! [--concurrent 200] [--out FILE]`: a fleet grown on moto in steps up to 10,000 tenants, with at each size
//! what an operator's reads and a rollout cost, as functions of the fleet size:
//!
//! - `GET /v1/fleet/summary` (and whether its counts are exact);
//! - a filtered page of the tenant list (`state`, `release`, and `customer_id`, 50 a page);
//! - a dry-run plan (`POST /v1/rollouts/plan`) over the `--select` tenants of one customer;
//! - that rollout's fan-out: `POST /v1/rollouts` and each driver turn until its change requests
//!   were all created (executions counted by the in-memory Step Functions, not run; between turns
//!   the running change requests are finished, uncounted, as their executions would);
//! - `--concurrent` transitions of different tenants at once (each its change request's `begin`,
//!   `Healthy` → `InTesting`, through the lifecycle task handler), and the summary after them.
//!
//! The fleet is the rollout customer's `--select` tenants, all `Healthy` on 3.1.0, and around
//! them background tenants of 20 other customers, in every running state, a quarter on 3.0.0.
//!
//! For each: the DynamoDB requests sent (by operation), their capacity units estimated from the
//! items on the wire ([`crate::wire`]), the Step Functions executions started and the seconds.
//!
//! The fleet is seeded in batches (`BatchWriteItem`, 25 items a request: each tenant's item and
//! its name's guard, then the fleet counters of the batch in one transaction), not counted:
//! creating 10,000 tenants through the API would run 10,000 provisions.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use axum::http::Method;
use changes::{Caller, ChangeError, Ending};
use domain::{Actor, ReleaseVersion, Source, Tenant, TenantCreate, TenantState, WriteContext};
use serde_json::{Value, json};
use store::dynamo::DynamoTable;
use store::layout::{self, Record};
use store::{Table, Tx};

use crate::{Answer, Backend, Bench, Cost, flag, id_of};

/// The releases the fleet runs: a quarter of the background tenants on the older one.
const RELEASES: [&str; 2] = ["3.0.0", "3.1.0"];
/// Customers the background tenants are spread over.
const CUSTOMERS: usize = 20;

/// A state for the `i`th background tenant: mostly `Healthy`, some of every other running state.
fn state_of(i: usize) -> TenantState {
    match i % 20 {
        0 => TenantState::Broken,
        1 => TenantState::Suspended,
        2 | 3 => TenantState::Maintenance,
        _ => TenantState::Healthy,
    }
}

/// What the fleet counters must say: tenants by state and by release.
#[derive(Default)]
struct Expected {
    by_state: BTreeMap<String, i64>,
    by_release: BTreeMap<String, i64>,
}

impl Expected {
    fn add(&mut self, state: TenantState, release: &str, by: i64) {
        *self.by_state.entry(state.to_string()).or_default() += by;
        *self.by_release.entry(release.to_owned()).or_default() += by;
    }

    /// Whether a `GET /v1/fleet/summary` answer says exactly this.
    fn matches(&self, summary: &Value) -> bool {
        let same = |expected: &BTreeMap<String, i64>, got: &Value| {
            let got: BTreeMap<String, i64> = serde_json::from_value(got.clone()).unwrap_or_default();
            expected.iter().filter(|(_, n)| **n != 0).all(|(k, n)| got.get(k) == Some(n))
                && got.iter().filter(|(_, n)| **n != 0).all(|(k, n)| expected.get(k) == Some(n))
        };
        same(&self.by_state, &summary["by_state"]) && same(&self.by_release, &summary["by_release"])
    }
}

/// The seeded fleet, and what it holds.
struct Fleet {
    seed: DynamoTable,
    expected: Expected,
    /// The rollout customer's tenants, `Healthy` and holding no change request between measures.
    idle: Vec<String>,
    size: usize,
}

impl Fleet {
    /// Writes `count` tenants in batches: each one's item and its name's guard, then the batch's
    /// counter moves in one transaction.
    async fn seed(
        &mut self,
        count: usize,
        customer_of: impl Fn(usize) -> String,
        state_of: impl Fn(usize) -> TenantState,
        release_of: impl Fn(usize) -> &'static str,
    ) -> anyhow::Result<Vec<String>> {
        let ctx = WriteContext { source: Source::Seed, ..WriteContext::api(Actor::system("bench-seed")) };
        let mut ids = Vec::with_capacity(count);
        let mut batch = Vec::new();
        let mut moves: BTreeMap<(TenantState, &'static str), i64> = BTreeMap::new();
        for i in 0..count {
            let n = self.size + i;
            let cmd: TenantCreate = serde_json::from_value(json!({
                "customer_id": customer_of(i),
                "name": format!("fleet-{n:05}"),
                "release": release_of(i),
                "tags": {"tier": if n.is_multiple_of(3) { "gold" } else { "silver" }, "region": format!("r{}", n % 4)},
            }))?;
            let (mut t, _) = Tenant::create(cmd, &ctx);
            t.state = state_of(i);
            t.active_change_request_id = None;
            batch.push(layout::guard_item(layout::tenant_name_guard(&t.name), t.id.as_str()));
            batch.push(t.to_item()?);
            *moves.entry((t.state, release_of(i))).or_default() += 1;
            ids.push(t.id.to_string());
            if batch.len() >= 500 || i + 1 == count {
                self.seed.batch_put(std::mem::take(&mut batch)).await?;
                self.count(std::mem::take(&mut moves)).await?;
            }
        }
        self.size += count;
        Ok(ids)
    }

    async fn count(&mut self, moves: BTreeMap<(TenantState, &'static str), i64>) -> anyhow::Result<()> {
        let releases: BTreeMap<&str, ReleaseVersion> =
            RELEASES.iter().map(|r| Ok((*r, ReleaseVersion::parse(r)?))).collect::<anyhow::Result<_>>()?;
        let moves: Vec<(TenantState, &ReleaseVersion, i64)> =
            moves.iter().map(|((s, r), n)| (*s, &releases[r], *n)).collect();
        for (state, release, by) in &moves {
            self.expected.add(*state, &release.to_string(), *by);
        }
        let mut tx = Tx::<ChangeError>::new();
        changes::fleet::count_in_fleet(&mut tx, &moves, ChangeError::Internal("seed counters".into()));
        tx.commit(&self.seed).await.context("the seed's counters")
    }
}

/// One measured call or run: what it cost and how long it took.
fn measured(cost: &Cost, seconds: f64, executions: usize) -> Value {
    json!({
        "dynamodb_requests": cost.seq.len(),
        "by_operation": cost.ops(),
        "rcu": (cost.seq.iter().map(|s| s.rcu).sum::<f64>() * 10.0).round() / 10.0,
        "wcu": (cost.seq.iter().map(|s| s.wcu).sum::<f64>() * 10.0).round() / 10.0,
        "step_functions_executions": executions,
        "seconds": (seconds * 1000.0).round() / 1000.0,
    })
}

async fn timed_call(b: &Bench, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<(Answer, f64)> {
    let started = Instant::now();
    let a = b.call(&method, path, body.as_ref(), &[]).await;
    let seconds = started.elapsed().as_secs_f64();
    if !a.status.is_success() {
        bail!("{method} {path} answered {}: {}", a.status, a.body);
    }
    Ok((a, seconds))
}

pub async fn fleet(args: &[String]) -> anyhow::Result<Value> {
    let endpoint = flag(args, "--moto")?;
    let sizes: Vec<usize> = flag(args, "--sizes")
        .unwrap_or_else(|_| "1000,2500,5000,10000".into())
        .split(',')
        .map(|s| s.trim().parse().context("--sizes"))
        .collect::<anyhow::Result<_>>()?;
    let select: usize = flag(args, "--select").unwrap_or_else(|_| "1000".into()).parse().context("--select")?;
    let concurrent: usize =
        flag(args, "--concurrent").unwrap_or_else(|_| "200".into()).parse().context("--concurrent")?;
    ensure!(sizes.windows(2).all(|w| w[0] < w[1]), "--sizes grow");
    ensure!(sizes.first().is_some_and(|s| *s >= select.max(concurrent)), "the first size holds the tenants selected");

    let backend: Backend = crate::moto_backend(&endpoint).await?;
    let registry = backend.registry_name.clone().context("a moto table")?;
    let workflows = Arc::new(engine::workflows::MemoryWorkflows::new());
    let mut core = crate::fakes::core(backend.table.clone());
    core.workflows = workflows.clone();
    let deps =
        Arc::new(lifecycle::Deps { changes: core.clone(), ..crate::fakes::lifecycle_deps(backend.table.clone()) });
    let b = Bench::with_core(backend, core.clone());
    let plain = aws_sdk_dynamodb::Client::new(&devstack::local_aws_config(&endpoint).await);

    for release in RELEASES {
        b.ok(Method::POST, "/v1/releases", json!({"version": release, "components": {"webapp": release}})).await?;
    }
    let mut customers = Vec::new();
    for i in 0..CUSTOMERS {
        customers.push(id_of(&b.ok(Method::POST, "/v1/customers", json!({"name": format!("Fleet {i}")})).await?)?);
    }
    let customer = id_of(&b.ok(Method::POST, "/v1/customers", json!({"name": "Rollout Corp"})).await?)?;
    let mut fleet =
        Fleet { seed: DynamoTable::new(plain, registry), expected: Expected::default(), idle: Vec::new(), size: 0 };

    let mut rows = Vec::new();
    for size in sizes {
        let started = Instant::now();
        if fleet.size == 0 {
            // The rollout's customer: `select` Healthy tenants, seeded first, planned and rolled
            // out at every size; the transitions and the filtered list page are theirs too.
            let ids = fleet.seed(select, |_| customer.clone(), |_| TenantState::Healthy, |_| "3.1.0").await?;
            fleet.idle = ids;
        }
        let offset = fleet.size - select;
        fleet
            .seed(
                size - fleet.size,
                |i| customers[(offset + i) % CUSTOMERS].clone(),
                |i| state_of(offset + i),
                |i| RELEASES[usize::from(!(offset + i).is_multiple_of(4))],
            )
            .await?;
        let seed_seconds = started.elapsed().as_secs_f64();
        eprintln!("route-costs fleet: {size} tenants seeded ({seed_seconds:.1} s)");

        let (summary, summary_s) = timed_call(&b, Method::GET, "/v1/fleet/summary", None).await?;
        let exact_before = fleet.expected.matches(&summary.body);
        let list = format!("/v1/tenants?state=Healthy&release=3.1.0&customer_id={customer}&limit=50");
        let (list_page, list_s) = timed_call(&b, Method::GET, &list, None).await?;
        let (list_any, list_any_s) = timed_call(&b, Method::GET, "/v1/tenants?state=Healthy&limit=50", None).await?;

        let body = json!({"operation": "validate", "selector": {"customer_id": customer}, "waves": [select],
            "concurrency": 100});
        let (plan, plan_s) = timed_call(&b, Method::POST, "/v1/rollouts/plan", Some(body.clone())).await?;
        ensure!(plan.body["would_run"] == json!(select), "the plan runs all {select}: {}", plan.body["would_run"]);

        let (fan_out, fan_out_s, turns, executions) = rollout(&b, &core, &workflows, body).await?;
        ensure!(executions == select, "the rollout started {executions} executions, not {select}");

        let (burst, burst_s, failed, exact_after) = transitions(&b, &core, &deps, &mut fleet, concurrent).await?;

        let row = json!({
            "tenants": size,
            "seed_seconds": (seed_seconds * 10.0).round() / 10.0,
            "summary": {"cost": measured(&summary.cost, summary_s, 0), "exact": exact_before},
            "list_page": {"filters": "state, release, customer_id", "items": list_page.body["items"].as_array().map_or(0, Vec::len),
                "cost": measured(&list_page.cost, list_s, 0)},
            "list_page_state_only": {"items": list_any.body["items"].as_array().map_or(0, Vec::len),
                "cost": measured(&list_any.cost, list_any_s, 0)},
            "plan": {"tenants": select, "cost": measured(&plan.cost, plan_s, 0)},
            "fan_out": {"change_requests": executions, "driver_turns": turns, "cost": measured(&fan_out, fan_out_s, executions)},
            "transitions": {"concurrent": concurrent, "failed": failed, "cost": measured(&burst, burst_s, 0),
                "summary_exact_after": exact_after},
        });
        eprintln!("route-costs fleet: {row}");
        rows.push(row);
    }
    let doc = json!({"select": select, "concurrent": concurrent, "sizes": rows});
    // stdout also carries the core's metric lines (CloudWatch's embedded format, as in Lambda).
    if let Ok(out) = flag(args, "--out") {
        std::fs::write(&out, serde_json::to_string_pretty(&doc)?).with_context(|| format!("writing {out}"))?;
    }
    Ok(doc)
}

/// `POST /v1/rollouts` and the driver's turns (each measured) until every member's change
/// request was created; between turns the running ones are finished, not measured. Answers the
/// measured cost, its seconds, the driver turns after the POST and the executions started.
async fn rollout(
    b: &Bench,
    core: &changes::Changes,
    workflows: &engine::workflows::MemoryWorkflows,
    body: Value,
) -> anyhow::Result<(Cost, f64, usize, usize)> {
    let executions_before = workflows.started().len();
    let mut cost = Cost::default();
    let (created, mut seconds) = timed_call(b, Method::POST, "/v1/rollouts", Some(body)).await?;
    cost.seq.extend(created.cost.seq);
    let id: domain::RolloutId = serde_json::from_value(created.body["id"].clone())?;
    let system = Caller::system("bench", Source::Workflow);
    let mut turns = 0;
    loop {
        // What the executions would do: end each change request the rollout holds running.
        let rollout = core.rollout_with_waves(&id).await?;
        let running: Vec<domain::ChangeRequestId> = rollout
            .waves
            .iter()
            .flat_map(|w| w.tenants.iter())
            .filter(|m| m.status == domain::MemberStatus::Running)
            .filter_map(|m| m.change_request_id.clone())
            .collect();
        if running.is_empty() && rollout.status != domain::RolloutStatus::Running {
            ensure!(rollout.status == domain::RolloutStatus::Succeeded, "the rollout ended {:?}", rollout.status);
            break;
        }
        for cr in &running {
            core.finish(cr, &system, Ending::Succeeded).await?;
        }
        let before = b.cost();
        let started = Instant::now();
        core.advance_rollout(&id, chrono::Utc::now()).await?;
        seconds += started.elapsed().as_secs_f64();
        cost.seq.extend(b.cost().since(&before).seq);
        turns += 1;
        ensure!(turns < 1000, "the rollout never ended");
    }
    Ok((cost, seconds, turns, workflows.started().len() - executions_before))
}

/// `concurrent` of the rollout customer's tenants (idle again once the rollout is over) each get a `validate` change request (not measured), then
/// all their `begin`s run at once: what they cost, their seconds, how many failed, and whether
/// the fleet summary is exact after them.
async fn transitions(
    b: &Bench,
    core: &changes::Changes,
    deps: &Arc<lifecycle::Deps>,
    fleet: &mut Fleet,
    concurrent: usize,
) -> anyhow::Result<(Cost, f64, usize, bool)> {
    ensure!(fleet.idle.len() >= concurrent, "only {} idle Healthy tenants", fleet.idle.len());
    let tenants: Vec<String> = fleet.idle.drain(..concurrent).collect();
    let mut crs = Vec::new();
    for t in &tenants {
        let cr =
            b.ok(Method::POST, &format!("/v1/tenants/{t}/change-requests"), json!({"operation": "validate"})).await?;
        crs.push(id_of(&cr)?);
    }
    let before = b.cost();
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for cr in crs.clone() {
        let deps = deps.clone();
        set.spawn(async move {
            let task: lifecycle::Task = serde_json::from_value(json!({"action": "begin", "change_request_id": cr}))?;
            lifecycle::run(&deps, task).await.map_err(|e| anyhow::anyhow!("begin {cr}: {e}"))
        });
    }
    let mut failed = 0;
    while let Some(joined) = set.join_next().await {
        if let Err(e) = joined.context("a begin panicked")? {
            eprintln!("route-costs fleet: {e:#}");
            failed += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cost = b.cost().since(&before);
    let moved = i64::try_from(concurrent - failed)?;
    fleet.expected.add(TenantState::Healthy, "3.1.0", -moved);
    fleet.expected.add(TenantState::InTesting, "3.1.0", moved);
    let (after, _) = timed_call(b, Method::GET, "/v1/fleet/summary", None).await?;
    let exact = fleet.expected.matches(&after.body);
    // The tenants go back to Healthy (not measured), so that later sizes find the fleet as seeded.
    let system = Caller::system("bench", Source::Workflow);
    for cr in &crs {
        let id: domain::ChangeRequestId = serde_json::from_value(json!(cr))?;
        core.finish(&id, &system, Ending::Succeeded).await?;
    }
    fleet.expected.add(TenantState::InTesting, "3.1.0", -moved);
    fleet.expected.add(TenantState::Healthy, "3.1.0", moved);
    fleet.idle.extend(tenants);
    Ok((cost, seconds, failed, exact))
}
