//! Request costs of the API and of the lifecycle tasks, for `make bench` (`bench/run.sh`).
//!
//! `route-costs [--moto ENDPOINT]` builds the real router, creates a small registry through the
//! API, runs one change request through the lifecycle task handler (in-process, with the
//! in-memory Jenkins and SSM fakes), then sends one request to every route of the OpenAPI
//! document, a few variants, and `GET /v1/fleet/summary` before and after the fleet grows. It
//! does all that on the in-memory table (counting table calls: one get, batch_get, query or
//! write each, a write being one PutItem or one TransactWriteItems) and, with `--moto`, again on
//! DynamoDB tables made from `infra/template.yaml` in the moto server at ENDPOINT, where an SDK
//! interceptor counts the requests really sent, by operation. Prints JSON on stdout. Exits 1
//! when a route answers an error (a new route may need a path id or a body here).
//!
//! `route-costs fan-out --moto ENDPOINT [--tenants 1000] [--per-second 1000]`: one schedule
//! run over that many tenants in moto, and the same event again: requests, capacity, time
//! (`fanout.rs`; `bench/fanout.sh` runs it).
//!
//! `route-costs fleet --moto ENDPOINT [--sizes 1000,2500,5000,10000]`: a fleet seeded in batches
//! up to 10,000 tenants, and at each size the summary, a filtered list page, a dry-run plan over
//! 1,000 tenants, that rollout's fan-out and 200 concurrent transitions (`fleet.rs`;
//! `bench/fleet.sh` runs it).
//!
//! `route-costs fixtures --endpoint URL --table T --changelog-table C --changes N --secret-param P`
//! prepares moto for the warm and cold runs of the functions: both tables, the Jenkins
//! credentials as an SSM SecureString at P, N tenants each with its running `provision` change
//! request (never begun), and one more whose change request has begun. Prints
//! `{"fresh": [N change request ids], "begun": id}`.

mod fakes;
mod fanout;
mod fleet;
mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use devstack::local_auth::LocalTokens;
use devstack::table_def;
use domain::TenantState;
use http_body_util::BodyExt;
use portal_api::App;
use serde_json::{Value, json};
use store::Table;
use store::dynamo::DynamoTable;
use store::memory::MemoryTable;
use tower::ServiceExt;

/// What one request or task cost on one backend.
#[derive(Clone, Default)]
struct Cost {
    calls: usize,
    /// The DynamoDB requests in the order they were sent, with their estimated capacity (moto only).
    seq: Vec<wire::Sent>,
}

impl Cost {
    fn since(&self, before: &Cost) -> Cost {
        Cost { calls: self.calls - before.calls, seq: self.seq.get(before.seq.len()..).unwrap_or_default().to_vec() }
    }

    fn ops(&self) -> BTreeMap<&str, usize> {
        let mut ops = BTreeMap::new();
        for sent in &self.seq {
            *ops.entry(sent.op.as_str()).or_default() += 1;
        }
        ops
    }

    fn json(&self) -> Value {
        let seq: Vec<&str> = self.seq.iter().map(|s| s.op.as_str()).collect();
        let mut v = json!({ "calls": self.calls, "ops": self.ops(), "seq": seq });
        if !self.seq.is_empty() {
            v["rcu"] = json!(self.seq.iter().map(|s| s.rcu).sum::<f64>());
            v["wcu"] = json!(self.seq.iter().map(|s| s.wcu).sum::<f64>());
        }
        v
    }
}

/// The registry and history tables, and how many calls they have served.
struct Backend {
    table: Arc<dyn Table>,
    history: Arc<dyn Table>,
    /// The registry table's name in moto.
    registry_name: Option<String>,
    cost: Box<dyn Fn() -> Cost + Send + Sync>,
}

fn memory_backend() -> Backend {
    let table = Arc::new(MemoryTable::new());
    let history = Arc::new(MemoryTable::new());
    let (t, h) = (table.clone(), history.clone());
    Backend {
        table,
        history,
        registry_name: None,
        cost: Box::new(move || Cost { calls: t.calls() + h.calls(), seq: Vec::new() }),
    }
}

/// Fresh tables in moto, behind a client that counts what it sends.
async fn moto_backend(endpoint: &str) -> anyhow::Result<Backend> {
    let config = devstack::local_aws_config(endpoint).await;
    let wire = wire::Wire::default();
    let client = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config).interceptor(wire.clone()).build(),
    );
    let suffix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
    let (registry, history) = (format!("route-costs-{suffix}"), format!("route-costs-history-{suffix}"));
    table_def::create_table(&client, table_def::TEMPLATE, table_def::REGISTRY_TABLE, &registry).await?;
    table_def::create_table(&client, table_def::TEMPLATE, table_def::CHANGELOG_TABLE, &history).await?;
    Ok(Backend {
        table: Arc::new(DynamoTable::new(client.clone(), registry.clone())),
        history: Arc::new(DynamoTable::new(client, history)),
        registry_name: Some(registry),
        cost: Box::new(move || {
            let seq = wire.sent();
            Cost { calls: seq.len(), seq }
        }),
    })
}

struct Answer {
    status: StatusCode,
    body: Value,
    cost: Cost,
}

impl Answer {
    fn json(&self) -> Value {
        let mut v = self.cost.json();
        v["status"] = json!(self.status.as_u16());
        v
    }
}

struct Bench {
    router: Router,
    backend: Backend,
    /// The admin every measured request is sent as.
    token: String,
    /// A second admin, who requests what `token` approves or rejects.
    requester: String,
}

impl Bench {
    fn new(backend: Backend) -> Self {
        let core = fakes::core(backend.table.clone());
        Self::with_core(backend, core)
    }

    /// The router over `core` (whose table is `backend`'s).
    fn with_core(backend: Backend, core: changes::Changes) -> Self {
        let tokens = LocalTokens::new(b"route-costs: a fixed local secret, 32+ bytes".to_vec());
        let token = tokens.mint("bench", Some("bench@vendor.example"), "admin", 3600);
        let requester = tokens.mint("bench-requester", Some("requester@vendor.example"), "admin", 3600);
        let router = portal_api::router(App::new(backend.history.clone(), core), Arc::new(tokens));
        Bench { router, backend, token, requester }
    }

    fn cost(&self) -> Cost {
        (self.backend.cost)()
    }

    async fn send(
        &self,
        token: &str,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req =
            Request::builder().method(method.clone()).uri(path).header("authorization", format!("Bearer {token}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let before = self.cost();
        let resp = self.router.clone().oneshot(req.body(body).expect("request")).await.expect("infallible router");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let cost = self.cost().since(&before);
        Answer { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), cost }
    }

    async fn call(&self, method: &Method, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Answer {
        self.send(&self.token, method, path, body, headers).await
    }

    /// A setup call that must succeed; answers its body.
    async fn ok_as(&self, token: &str, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let a = self.send(token, &method, path, Some(&body), &[]).await;
        if !a.status.is_success() {
            bail!("setup {method} {path} answered {}: {}", a.status, a.body);
        }
        Ok(a.body)
    }

    async fn ok(&self, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        self.ok_as(&self.token.clone(), method, path, body).await
    }

    /// A new tenant on `release`; answers its id and its running change request.
    async fn tenant(&self, customer: &str, name: &str, release: &str) -> anyhow::Result<(String, String)> {
        let t = self
            .ok(Method::POST, "/v1/tenants", json!({"customer_id": customer, "name": name, "release": release}))
            .await?;
        let cr = t["active_change_request_id"].as_str().context("a new tenant's change request")?.to_owned();
        Ok((id_of(&t)?, cr))
    }
}

fn id_of(v: &Value) -> anyhow::Result<String> {
    Ok(v["id"].as_str().with_context(|| format!("created record has no id: {v}"))?.to_owned())
}

// --- the lifecycle tasks -----------------------------------------------------------------------

/// One task of a change request and what it cost.
struct TaskCost {
    action: String,
    step: String,
    cost: Cost,
}

/// Sends one task to the handler, as the state machine does (the JSON of its task state).
async fn task(b: &Bench, deps: &lifecycle::Deps, payload: Value, out: &mut Vec<TaskCost>) -> anyhow::Result<Value> {
    let action = payload["action"].as_str().unwrap_or("?").to_owned();
    let step = payload["step"]["name"].as_str().unwrap_or_default().to_owned();
    let t: lifecycle::Task = serde_json::from_value(payload)?;
    let before = b.cost();
    let r = lifecycle::run(deps, t).await;
    out.push(TaskCost { action: action.clone(), step: step.clone(), cost: b.cost().since(&before) });
    r.map_err(|e| anyhow!("lifecycle task {action} {step}: {}: {e}", e.error_type()))
}

/// Runs change request `cr` the way `statemachines/lifecycle.asl.json` does, without its waits:
/// begin, each step (started, then polled until done), finish succeeded. Answers every task.
async fn drive(b: &Bench, deps: &lifecycle::Deps, cr: &str) -> anyhow::Result<Vec<TaskCost>> {
    let mut out = Vec::new();
    let recipe = task(b, deps, json!({"action": "begin", "change_request_id": cr}), &mut out).await?;
    for step in recipe["steps"].as_array().context("begin answers steps")? {
        let (start, poll) = match step["kind"].as_str() {
            Some("transition") => {
                task(b, deps, json!({"action": "transition", "change_request_id": cr, "step": step}), &mut out).await?;
                continue;
            }
            Some("jenkins") => ("jenkins_start", "jenkins_poll"),
            Some("ssm") => ("ssm_send", "ssm_poll"),
            other => bail!("the state machine has no branch for a {other:?} step"),
        };
        let mut ticket =
            task(b, deps, json!({"action": start, "change_request_id": cr, "step": step}), &mut out).await?;
        for _ in 0..20 {
            let payload = json!({"action": poll, "change_request_id": cr, "step": step, "ticket": ticket});
            ticket = task(b, deps, payload, &mut out).await?;
            if ticket["done"] == json!(true) {
                break;
            }
        }
        if ticket["done"] != json!(true) {
            bail!("step {step} never finished");
        }
    }
    task(b, deps, json!({"action": "finish", "change_request_id": cr, "outcome": "succeeded"}), &mut out).await?;
    Ok(out)
}

/// Gives `tenant` the history the change log would have written from the registry's stream (no
/// stream consumer runs here): its item as an INSERT through the change log's own handler. A
/// tenant's history is never empty once its creation is logged, and the route is measured so.
async fn log_tenant_history(b: &Bench, tenant: &str) -> anyhow::Result<()> {
    let id = domain::TenantId::parse(tenant).map_err(|e| anyhow!("tenant id {tenant}: {e:?}"))?;
    let item = b.backend.table.get(&store::layout::tenant_key(&id)).await?.context("the tenant item")?;
    let record = serde_json::from_value(json!({
        "eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {"Keys": {}, "NewImage": store::item::to_dynamodb_json(&item), "SequenceNumber": "1",
            "SizeBytes": 1, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    }))?;
    let answer = changelog::process(b.backend.history.as_ref(), &[record]).await;
    if !answer.batch_item_failures.is_empty() {
        bail!("the change log could not log the tenant's creation");
    }
    Ok(())
}

// --- the routes --------------------------------------------------------------------------------

/// The ids the routes' path parameters are filled with.
struct Ids {
    customer: String,
    license: String,
    assignment: String,
    release: String,
    tenant: String,
    tenant2: String,
    /// A healthy tenant held by nothing, for `POST /v1/tenants/{id}/change-requests`.
    free_tenant: String,
    change_request: String,
    /// Change requests awaiting approval, requested by the other admin.
    to_approve: String,
    to_reject: String,
    to_cancel: String,
    resource: String,
    config_key: String,
    component: String,
}

impl Ids {
    fn fill(&self, method: &Method, template: &str) -> String {
        let id = match template {
            "/v1/tenants/{id}/change-requests" if method == Method::POST => &self.free_tenant,
            "/v1/change-requests/{id}/approve" => &self.to_approve,
            "/v1/change-requests/{id}/reject" => &self.to_reject,
            "/v1/change-requests/{id}/cancel" => &self.to_cancel,
            t if t.starts_with("/v1/customers/") => &self.customer,
            t if t.starts_with("/v1/licenses/") => &self.license,
            t if t.starts_with("/v1/license-assignments/") => &self.assignment,
            t if t.starts_with("/v1/tenants/") => &self.tenant,
            t if t.starts_with("/v1/resources/") => &self.resource,
            t if t.starts_with("/v1/change-requests/") => &self.change_request,
            _ => "unknown",
        };
        template
            .replace("{id}", id)
            .replace("{version}", &self.release)
            .replace("{key}", &self.config_key)
            .replace("{name}", &self.component)
    }

    /// A valid body for a write route, by method and path template.
    fn body(&self, method: &Method, template: &str) -> Option<Value> {
        let body = match (method.as_str(), template) {
            ("POST", "/v1/customers") => json!({"name": "Bench Customer Two", "contact_email": "two@bench.example"}),
            ("POST", "/v1/licenses") => json!({"name": "Bench Trial", "kind": "trial", "max_users": 10}),
            ("POST", "/v1/license-assignments") => json!({"customer_id": self.customer, "license_id": self.license}),
            ("POST", "/v1/releases") => json!({"version": "9.1.0", "components": {"webapp": "9.1.0", "api": "9.1.0"}}),
            ("POST", "/v1/tenants") => {
                json!({"customer_id": self.customer, "name": "bench-three", "release": self.release})
            }
            ("POST", "/v1/resources") => json!({"arn": "arn:aws:s3:::bench-bucket-two", "tenant_ids": [self.tenant]}),
            ("POST", "/v1/tenants/{id}/change-requests") => json!({"operation": "backup", "reason": "route-costs"}),
            ("POST", t) if t.starts_with("/v1/change-requests/") => return None,
            ("PATCH", "/v1/customers/{id}") => json!({"notes": "patched by route-costs"}),
            ("PATCH", "/v1/licenses/{id}") => json!({"max_users": 200}),
            ("PATCH", "/v1/license-assignments/{id}") => json!({"status": "suspended"}),
            ("PATCH", "/v1/releases/{version}") => json!({"notes": "patched by route-costs"}),
            ("PATCH", "/v1/tenants/{id}") => json!({"description": "patched by route-costs"}),
            ("PATCH", "/v1/resources/{id}") => json!({"tenant_ids": [self.tenant, self.tenant2]}),
            ("PUT", "/v1/tenants/{id}/configs/{key}") => json!({"value": "smtp2.mail.example"}),
            ("PUT", "/v1/tenants/{id}/components/{name}") => json!({"version": "3.2.1"}),
            (m, _) if m == "POST" || m == "PUT" || m == "PATCH" => json!({}),
            _ => return None,
        };
        Some(body)
    }
}

/// Reads before writes, deletes last, so that every route finds what it asks for.
fn rank(m: &Method) -> u8 {
    match m.as_str() {
        "GET" | "HEAD" => 0,
        "POST" => 1,
        "PUT" => 2,
        "PATCH" => 3,
        "DELETE" => 4,
        _ => 5,
    }
}

/// Every operation of the OpenAPI document, in document order.
fn documented_routes() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(portal_api::openapi()).expect("OpenAPI document");
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
            if item.get(method).is_some() {
                routes.push((Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"), path.clone()));
            }
        }
    }
    routes
}

/// What one backend measured, in a fixed order (the same on every backend).
struct Report {
    routes: Vec<(Method, String, Answer)>,
    variants: Vec<(Method, String, &'static str, Answer)>,
    fleet: Vec<(usize, Answer)>,
    lifecycle: Vec<TaskCost>,
}

const FLEET_GROWTH: usize = 40;

async fn measure(backend: Backend) -> anyhow::Result<Report> {
    let b = Bench::new(backend);
    let mut tenants = 0;

    // The registry the routes are measured on.
    let customer = id_of(&b.ok(Method::POST, "/v1/customers", json!({"name": "Bench Corp"})).await?)?;
    let license =
        id_of(&b.ok(Method::POST, "/v1/licenses", json!({"name": "Bench Enterprise", "kind": "subscription"})).await?)?;
    let assignment = id_of(
        &b.ok(Method::POST, "/v1/license-assignments", json!({"customer_id": customer, "license_id": license})).await?,
    )?;
    let release = "3.2.0".to_owned();
    b.ok(
        Method::POST,
        "/v1/releases",
        json!({"version": release, "components": {"webapp": "3.2.0", "api": "3.2.0", "airflow": "2.9.0"}}),
    )
    .await?;
    let (tenant, change_request) = b.tenant(&customer, "bench-one", &release).await?;
    let (tenant2, _) = b.tenant(&customer, "bench-two", &release).await?;
    tenants += 2;

    // The first tenant's provision, run through the lifecycle task handler: what each task costs.
    let deps = fakes::lifecycle_deps(b.backend.table.clone());
    let lifecycle = drive(&b, &deps, &change_request).await?;

    // Healthy tenants for the change-request routes: one free, three holding a terminate that
    // awaits approval, requested by the other admin.
    let mut healthy = Vec::new();
    for name in ["bench-free", "bench-approve", "bench-reject", "bench-cancel"] {
        let (t, cr) = b.tenant(&customer, name, &release).await?;
        drive(&b, &deps, &cr).await?;
        healthy.push(t);
        tenants += 1;
    }
    let mut awaiting = Vec::new();
    for t in &healthy[1..] {
        let path = format!("/v1/tenants/{t}/change-requests");
        let requester = b.requester.clone();
        let cr = b.ok_as(&requester, Method::POST, &path, json!({"operation": "terminate"})).await?;
        if cr["status"] != "awaiting_approval" {
            bail!("a terminate should await approval: {cr}");
        }
        awaiting.push(id_of(&cr)?);
    }

    b.ok(Method::PUT, &format!("/v1/tenants/{tenant}/configs/smtp.host"), json!({"value": "smtp.mail.example"}))
        .await?;
    b.ok(Method::PUT, &format!("/v1/tenants/{tenant}/components/extras"), json!({"version": "1.0.0"})).await?;
    let resource = id_of(
        &b.ok(
            Method::POST,
            "/v1/resources",
            json!({"arn": "arn:aws:s3:::bench-bucket", "name": "bench bucket", "tenant_ids": [tenant]}),
        )
        .await?,
    )?;
    log_tenant_history(&b, &tenant).await?;
    let ids = Ids {
        customer,
        license,
        assignment,
        release,
        tenant,
        tenant2,
        free_tenant: healthy[0].clone(),
        change_request,
        to_approve: awaiting[0].clone(),
        to_reject: awaiting[1].clone(),
        to_cancel: awaiting[2].clone(),
        resource,
        config_key: "smtp.host".into(),
        component: "webapp".into(),
    };

    let documented = documented_routes();
    let mut order: Vec<usize> = (0..documented.len()).collect();
    order.sort_by_key(|&i| rank(&documented[i].0));
    let mut answers: BTreeMap<usize, Answer> = BTreeMap::new();
    for i in order {
        let (method, template) = &documented[i];
        let body = ids.body(method, template);
        answers.insert(i, b.call(method, &ids.fill(method, template), body.as_ref(), &[]).await);
    }
    let routes: Vec<(Method, String, Answer)> =
        documented.into_iter().zip(answers.into_values()).map(|((m, t), a)| (m, t, a)).collect();
    tenants +=
        routes.iter().filter(|(m, t, a)| *m == Method::POST && t == "/v1/tenants" && a.status.is_success()).count();

    // Variants of the same routes whose cost differs from the plain call above.
    let t = ids.tenant.clone();
    let idem_body = json!({"name": "Bench Idempotent"});
    let provisioning = format!("/v1/tenants?state={}", TenantState::Provisioning.as_str());
    let by_customer = format!("/v1/tenants?customer_id={}&state=Provisioning", ids.customer);
    let new_key = format!("/v1/tenants/{t}/configs/smtp.port");
    let empty_list = format!("/v1/tenants/{}/configs", ids.tenant2);
    type Variant<'a> = (Method, &'a str, Option<Value>, Vec<(&'a str, &'a str)>, &'static str);
    let planned: Vec<Variant> = vec![
        (Method::GET, provisioning.as_str(), None, vec![], "list filtered by state (GSI2)"),
        (Method::GET, by_customer.as_str(), None, vec![], "customer index + state filter"),
        (Method::GET, empty_list.as_str(), None, vec![], "empty page: the tenant is read to tell 404 from none"),
        (
            Method::POST,
            "/v1/customers",
            Some(idem_body.clone()),
            vec![("idempotency-key", "bench-1")],
            "with Idempotency-Key, first",
        ),
        (Method::POST, "/v1/customers", Some(idem_body), vec![("idempotency-key", "bench-1")], "same key, replayed"),
        (Method::PUT, new_key.as_str(), Some(json!({"value": 25})), vec![], "new config key"),
        (Method::PUT, new_key.as_str(), Some(json!({"value": 25})), vec![], "same value again: nothing written"),
        (Method::GET, "/v1/no-such-route", None, vec![], "unknown route"),
    ];
    let mut variants = Vec::new();
    for (method, path, body, headers, what) in planned {
        let a = b.call(&method, path, body.as_ref(), &headers).await;
        let shown = path.replace(&ids.customer, "{customer}").replace(&ids.tenant2, "{id2}").replace(&t, "{id}");
        variants.push((method, shown, what, a));
    }

    // The fleet summary, then again once the fleet has grown.
    let mut fleet = vec![(tenants, b.call(&Method::GET, "/v1/fleet/summary", None, &[]).await)];
    for i in 0..FLEET_GROWTH {
        b.tenant(&ids.customer, &format!("bench-fleet-{i}"), &ids.release).await?;
    }
    tenants += FLEET_GROWTH;
    fleet.push((tenants, b.call(&Method::GET, "/v1/fleet/summary", None, &[]).await));

    Ok(Report { routes, variants, fleet, lifecycle })
}

/// One JSON row per measured thing, with each backend's answer under its name.
fn merged(reports: &[(&str, Report)]) -> anyhow::Result<Value> {
    let (_, first) = &reports[0];
    let side = |f: &dyn Fn(&Report) -> Value| -> Value {
        reports.iter().map(|(name, r)| ((*name).to_owned(), f(r))).collect::<serde_json::Map<_, _>>().into()
    };
    let mut routes = Vec::new();
    let mut failed = Vec::new();
    for (i, (method, template, _)) in first.routes.iter().enumerate() {
        for (name, r) in reports {
            let (m, t, a) = &r.routes[i];
            if (m, t) != (method, template) {
                bail!("the backends measured different routes");
            }
            if !a.status.is_success() {
                failed.push(format!("{name}: {method} {template}: {} {}", a.status, a.body));
            }
        }
        let mut row = side(&|r: &Report| r.routes[i].2.json());
        row["method"] = json!(method.as_str());
        row["route"] = json!(template);
        routes.push(row);
    }
    let variants: Vec<Value> = (0..first.variants.len())
        .map(|i| {
            let (m, shown, what, _) = &first.variants[i];
            let mut row = side(&|r: &Report| r.variants[i].3.json());
            row["method"] = json!(m.as_str());
            row["request"] = json!(shown);
            row["what"] = json!(what);
            row
        })
        .collect();
    let fleet: Vec<Value> = (0..first.fleet.len())
        .map(|i| {
            let mut row = side(&|r: &Report| r.fleet[i].1.json());
            row["tenants"] = json!(first.fleet[i].0);
            row
        })
        .collect();
    let lifecycle: Vec<Value> = (0..first.lifecycle.len())
        .map(|i| {
            let mut row = side(&|r: &Report| r.lifecycle.get(i).map(|t| t.cost.json()).unwrap_or(Value::Null));
            row["action"] = json!(first.lifecycle[i].action);
            row["step"] = json!(first.lifecycle[i].step);
            row
        })
        .collect();
    Ok(json!({
        "backends": reports.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        "routes": routes,
        "variants": variants,
        "fleet_summary": fleet,
        "lifecycle": {"operation": "provision", "tasks": lifecycle},
        "failed": failed,
    }))
}

// --- fixtures for the function runs ------------------------------------------------------------

fn flag(args: &[String], name: &str) -> anyhow::Result<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .with_context(|| format!("{name} is required"))
}

async fn fixtures(args: &[String]) -> anyhow::Result<Value> {
    let endpoint = flag(args, "--endpoint")?;
    let (registry, history) = (flag(args, "--table")?, flag(args, "--changelog-table")?);
    let changes: usize = flag(args, "--changes")?.parse().context("--changes")?;
    let config = devstack::local_aws_config(&endpoint).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    for (logical_id, name) in [(table_def::REGISTRY_TABLE, &registry), (table_def::CHANGELOG_TABLE, &history)] {
        if !table_def::table_exists(&client, name).await? {
            table_def::create_table(&client, table_def::TEMPLATE, logical_id, name).await?;
        }
    }
    devstack::local_lambda::put_jenkins_secret(&config, &flag(args, "--secret-param")?, "bench", "bench-api-token")
        .await?;
    let b = Bench::new(Backend {
        table: Arc::new(DynamoTable::new(client.clone(), registry)),
        history: Arc::new(DynamoTable::new(client, history)),
        registry_name: None,
        cost: Box::new(Cost::default),
    });
    let customer = id_of(&b.ok(Method::POST, "/v1/customers", json!({"name": "Fixture Corp"})).await?)?;
    b.ok(Method::POST, "/v1/releases", json!({"version": "3.1.0", "components": {"webapp": "3.1.0"}})).await?;
    let mut fresh = Vec::with_capacity(changes);
    for i in 0..changes {
        fresh.push(b.tenant(&customer, &format!("fixture-{i}"), "3.1.0").await?.1);
    }
    let (_, begun) = b.tenant(&customer, "fixture-begun", "3.1.0").await?;
    let deps = fakes::lifecycle_deps(b.backend.table.clone());
    task(&b, &deps, json!({"action": "begin", "change_request_id": begun}), &mut Vec::new()).await?;
    Ok(json!({"fresh": fresh, "begun": begun}))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = async {
        if args.first().map(String::as_str) == Some("fixtures") {
            return fixtures(&args).await.map(|v| (v, false));
        }
        if args.first().map(String::as_str) == Some("fleet") {
            return fleet::fleet(&args).await.map(|v| (v, false));
        }
        if args.first().map(String::as_str) == Some("fan-out") {
            return fanout::fan_out(&args).await.map(|v| (v, false));
        }
        let mut reports = vec![("memory", measure(memory_backend()).await.context("on the in-memory table")?)];
        if let Ok(endpoint) = flag(&args, "--moto") {
            let backend = moto_backend(&endpoint).await.context("creating the tables in moto")?;
            reports.push(("moto", measure(backend).await.context("on moto")?));
        }
        let out = merged(&reports)?;
        let failed = out["failed"].as_array().is_some_and(|f| !f.is_empty());
        Ok::<_, anyhow::Error>((out, failed))
    }
    .await;
    match result {
        Ok((out, failed)) => {
            println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
            if failed {
                eprintln!("route-costs: some routes did not succeed:");
                for f in out["failed"].as_array().into_iter().flatten() {
                    eprintln!("  {}", f.as_str().unwrap_or_default());
                }
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("route-costs: {e:#}");
            std::process::exit(2);
        }
    }
}
