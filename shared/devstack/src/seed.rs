//! Demo data for `make dev`: customers, licenses, three releases, tenants spread over the
//! states a tenant rests in, configs, components and shared AWS resources. Everything is
//! created through the API router itself, and the spread of states through the change-request
//! core, as change requests that ran (finished by `system:seed`: the seed runs no workflow).

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use changes::{Advance, Caller, ChangeCreate, Changes, Ending};

use crate::fake_update_manager::FakeUpdateManager;
use domain::{Actor, ChangeParams, ChangeRequestStatus, Operation, Role, Source, StepStatus, TenantState, Text};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Calls the router in-process as an authenticated caller.
pub struct ApiCaller {
    router: Router,
    token: String,
}

impl ApiCaller {
    pub fn new(router: Router, token: String) -> Self {
        Self { router, token }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> anyhow::Result<(StatusCode, Value)> {
        let mut req =
            Request::builder().method(method).uri(path).header("authorization", format!("Bearer {}", self.token));
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let resp = self.router.clone().oneshot(req.body(body)?).await?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        Ok((status, value))
    }

    /// A call that must succeed; answers its body.
    pub async fn ok(&self, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, value) = self.call(method.clone(), path, Some(body)).await?;
        if !status.is_success() {
            bail!("{method} {path}: {status} {value}");
        }
        Ok(value)
    }
}

const CUSTOMERS: [(&str, &str); 5] = [
    ("Acme Corp", "ops@acme.example"),
    ("Globex", "it@globex.example"),
    ("Initech", "admin@initech.example"),
    ("Umbrella Health", "secops@umbrella.example"),
    ("Stark Industries", "cloud@stark.example"),
];

/// The state each demo tenant is left in: every state a tenant rests in, each reached by the
/// change requests that lead there. (States a tenant only passes through while a change runs,
/// `Provisioning`, `BackingUp`, `Restoring` and `InTesting`, are not seeded: the seed runs no
/// workflow, and a tenant shown in one with nothing running would be a lie.)
const STATES: [TenantState; 20] = [
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Maintenance,
    TenantState::Maintenance,
    TenantState::Healthy,
    TenantState::Healthy,
    TenantState::Maintenance,
    TenantState::Suspended,
    TenantState::Suspended,
    TenantState::Broken,
    TenantState::Broken,
    TenantState::EndOfLife,
    TenantState::Healthy,
];

const ENVIRONMENTS: [&str; 4] = ["prod", "staging", "dr", "eval"];

/// Whether the registry already holds data (then seeding is skipped).
pub async fn is_seeded(caller: &ApiCaller) -> anyhow::Result<bool> {
    let (_, page) = caller.call(Method::GET, "/v1/customers?limit=1", None).await?;
    Ok(page["items"].as_array().is_some_and(|a| !a.is_empty()))
}

/// Writes the demo data. Returns the number of tenants created.
pub async fn seed(changes: &Changes, caller: &ApiCaller) -> anyhow::Result<usize> {
    let mut customers = Vec::new();
    for (name, email) in CUSTOMERS {
        let c = caller.ok(Method::POST, "/v1/customers", json!({"name": name, "contact_email": email})).await?;
        customers.push(c["id"].as_str().context("customer id")?.to_owned());
    }
    let enterprise = caller
        .ok(
            Method::POST,
            "/v1/licenses",
            json!({"name": "Enterprise", "kind": "subscription", "max_users": 5000,
            "features": ["sso", "audit", "connectors"], "template": "edition=enterprise\nusers={{max_users}}"}),
        )
        .await?;
    let trial = caller
        .ok(
            Method::POST,
            "/v1/licenses",
            json!({"name": "Trial", "kind": "trial", "max_users": 25, "features": ["connectors"]}),
        )
        .await?;
    for (i, c) in customers.iter().enumerate() {
        let license = if i == 4 { &trial } else { &enterprise };
        caller
            .ok(
                Method::POST,
                "/v1/license-assignments",
                json!({"customer_id": c, "license_id": license["id"],
                "key_ref": format!("ssm:/admin-portal/licenses/{c}"),
                "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"}),
            )
            .await?;
    }
    let releases = [
        (
            "3.0.0",
            json!({"webapp": "3.0.0", "api": "3.0.0", "airflow": "2.7.3", "postgres": "14.9", "connectors": "1.8.0"}),
        ),
        (
            "3.1.0",
            json!({"webapp": "3.1.0", "api": "3.1.2", "airflow": "2.8.1", "postgres": "15.4", "connectors": "1.9.0"}),
        ),
        (
            "3.2.0",
            json!({"webapp": "3.2.0", "api": "3.2.0", "airflow": "2.9.0", "postgres": "15.4", "connectors": "2.0.1"}),
        ),
    ];
    for (v, components) in &releases {
        caller
            .ok(
                Method::POST,
                "/v1/releases",
                json!({"version": v, "components": components, "notes": format!("Release {v}")}),
            )
            .await?;
    }

    let shared_rds = "arn:aws:rds:us-east-1:123456789012:cluster:shared-analytics";
    let mut shared_users = Vec::new();
    for (i, state) in STATES.iter().cycle().take(demo_tenants()).enumerate() {
        let customer = &customers[i % customers.len()];
        let slug = CUSTOMERS[i % CUSTOMERS.len()].0.split(' ').next().unwrap_or("t").to_lowercase();
        let name = format!("{slug}-{}-{}", ENVIRONMENTS[i / customers.len() % ENVIRONMENTS.len()], i + 1);
        let release = releases[i % releases.len()].0;
        let t = caller
            .ok(
                Method::POST,
                "/v1/tenants",
                json!({"customer_id": customer, "name": name, "release": release,
                "region": if i % 3 == 0 { "eu-west-1" } else { "us-east-1" }}),
            )
            .await?;
        let id = t["id"].as_str().context("tenant id")?.to_owned();
        for (key, value) in [
            ("smtp.host", json!("smtp.mail.example")),
            ("max_workers", json!(4 + i % 4)),
            ("sso.enabled", json!(i % 2 == 0)),
        ] {
            caller.ok(Method::PUT, &format!("/v1/tenants/{id}/configs/{key}"), json!({"value": value})).await?;
        }
        caller
            .ok(
                Method::PUT,
                &format!("/v1/tenants/{id}/configs/db.password"),
                json!({"secret_ref": format!("ssm:/tenants/{name}/db_password")}),
            )
            .await?;
        caller
            .ok(
                Method::POST,
                "/v1/resources",
                json!({"arn": format!("arn:aws:ec2:us-east-1:123456789012:instance/i-{:017x}", 0xabc000 + i),
                "name": format!("{name} app server"), "tenant_ids": [id]}),
            )
            .await?;
        // A resource takes at most 49 tenants: a large demo fleet shares the cluster among 40.
        if i % 4 == 0 && shared_users.len() < 40 {
            shared_users.push(id.clone());
        }
        settle(changes, &id, *state).await?;
        if *state == TenantState::Healthy && i % 2 == 0 {
            back_up(changes, &id, &name, i).await?;
        }
    }
    caller
        .ok(Method::POST, "/v1/resources", json!({"arn": shared_rds, "name": "Shared analytics cluster",
            "description": "One Aurora cluster serving several tenants' analytics schemas", "tenant_ids": shared_users}))
        .await?;
    caller.ok(Method::PATCH, "/v1/releases/3.0.0", json!({"status": "deprecated"})).await?;
    Ok(demo_tenants())
}

/// How many demo tenants: `DEMO_TENANTS` (to measure a page against a large fleet), else one
/// of each entry of [`STATES`]. Beyond those, the spread of states repeats.
fn demo_tenants() -> usize {
    std::env::var("DEMO_TENANTS").ok().and_then(|n| n.parse().ok()).filter(|&n| n > 0).unwrap_or(STATES.len())
}

/// Moves a freshly created demo tenant to `state` through the change-request core, as its
/// change requests would have: its provision succeeds (or fails, for a Broken one, saying why),
/// then the operation that leads to `state` runs and succeeds. The seed's core runs no
/// workflow (`MemoryWorkflows`), so each change request is finished here, by `system:seed`.
async fn settle(changes: &Changes, id: &str, state: TenantState) -> anyhow::Result<()> {
    let id = domain::TenantId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tenant = changes.tenant(&id).await?;
    let provision = tenant.active_change_request_id.clone().context("a new tenant has a change request")?;
    // The seed stands for admins (it requests and finishes), stamped `seed` in the history.
    let seed = Caller { actor: Actor::system("seed"), role: Role::Admin, source: Source::Seed };
    let provisioned = match state {
        TenantState::Provisioning => return Ok(()),
        TenantState::Broken => Ending::Failed {
            error: "JenkinsFailed: jenkins job provision-tenant ended Failure (demo data: the stack never came up)"
                .into(),
        },
        _ => Ending::Succeeded,
    };
    changes.finish(&provision, &seed, provisioned).await?;
    let then = match state {
        TenantState::Maintenance => Operation::EnterMaintenance,
        TenantState::Suspended => Operation::Suspend,
        TenantState::EndOfLife => Operation::Terminate,
        _ => return Ok(()),
    };
    let cmd =
        ChangeCreate { operation: then, params: ChangeParams::default(), reason: Some(Text::parse("demo data")?) };
    let mut cr = changes.create(&id, cmd, &seed, None).await?;
    if cr.status == ChangeRequestStatus::AwaitingApproval {
        let approver = Caller { actor: Actor::system("seed-approver"), ..seed.clone() };
        cr = changes.approve(&cr.id, &approver).await?;
    }
    changes.finish(&cr.id, &seed, Ending::Succeeded).await?;
    Ok(())
}

/// A full backup of a demo tenant, as its `backup` change request would have made it: the step of
/// its job records what the job reported (as the stand-in Jenkins's backup job reports it), and
/// the change request's end catalogues it with the tenant as it is.
async fn back_up(changes: &Changes, id: &str, name: &str, i: usize) -> anyhow::Result<()> {
    let id = domain::TenantId::parse(id).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seed = Caller { actor: Actor::system("backup-schedule"), role: Role::Admin, source: Source::Seed };
    let cmd = ChangeCreate {
        operation: Operation::Backup,
        params: ChangeParams::default(),
        reason: Some(Text::parse("demo data: the nightly backup")?),
    };
    let cr = changes.create(&id, cmd, &seed, None).await?;
    let report = json!({"backup": {
        "location": format!("s3://portal-backups-demo/{name}/nightly.tar.zst"),
        "size_bytes": 1_073_741_824u64 + 52_428_800 * i as u64,
        "checksum": format!("sha256:{:064x}", 0x5eed_0000 + i),
        "parts": ["binary", "config", "data", "runtime"],
    }});
    let report = domain::WorkReport::parse(report).map_err(|e| anyhow::anyhow!("the demo backup report: {e}"))?;
    changes
        .advance(&cr.id, &seed, |held| {
            let mut cr = held.cr.clone();
            let detail = json!({"job": "backup-tenant", "result": "SUCCESS", "report": report.to_json()});
            cr.record_step("jenkins backup-tenant", StepStatus::Succeeded, Some(detail), None, chrono::Utc::now());
            Ok(Advance::Write { cr, state: None, answer: () })
        })
        .await?;
    if let Some(reported) = &report.backup {
        changes.catalog_backup(&changes.held(&cr.id).await?, &seed, reported).await?;
    }
    changes.finish(&cr.id, &seed, Ending::Succeeded).await?;
    Ok(())
}

/// Drifts two demo boxes by hand, as an engineer on the box would have: on the second Healthy
/// tenant (by name) someone installed a hotfix of the web app; on the fourth someone raised
/// `max_workers` and set a config the registry never recorded. Boxes are the stand-in's, in
/// memory: this runs at every start.
pub async fn drift_demo_boxes(caller: &ApiCaller, boxes: &FakeUpdateManager) -> anyhow::Result<()> {
    let (status, page) = caller.call(Method::GET, "/v1/tenants?state=Healthy&limit=100", None).await?;
    if !status.is_success() {
        bail!("listing the healthy demo tenants: {status} {page}");
    }
    let mut healthy: Vec<(String, String)> = page["items"]
        .as_array()
        .context("a tenant page")?
        .iter()
        .filter_map(|t| Some((t["name"].as_str()?.to_owned(), t["id"].as_str()?.to_owned())))
        .collect();
    healthy.sort();
    if let Some((_, id)) = healthy.get(1) {
        boxes.change_component(id, "webapp", "3.1.1-hotfix");
    }
    if let Some((_, id)) = healthy.get(3) {
        boxes.change_config(id, "max_workers", json!(16));
        boxes.change_config(id, "log.level", json!("debug"));
    }
    Ok(())
}
