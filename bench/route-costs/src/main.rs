//! Table calls per API route: builds the real router on a [`MemoryTable`], creates a small
//! registry through the API, then sends one request to every route of the OpenAPI document and
//! prints how many table calls it made, on the registry and the history table together (one per
//! get / batch_get / query / write; a write is one PutItem or one TransactWriteItems). In DynamoDB
//! each call is one round trip.
//!
//! `make bench` runs the release build of `cargo lambda build --release`; on its own,
//! `cargo build --workspace --locked && target/debug/route-costs` (the counts do not depend on the
//! build). Exits 1 when a route answers an error: a new route may need a path id or a body here.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use devstack::local_auth::LocalTokens;
use domain::TenantState;
use http_body_util::BodyExt;
use portal_api::App;
use serde_json::{Value, json};
use store::memory::MemoryTable;
use tower::ServiceExt;

struct Bench {
    router: Router,
    table: Arc<MemoryTable>,
    history: Arc<MemoryTable>,
    token: String,
}

struct Answer {
    status: StatusCode,
    body: Value,
    calls: usize,
}

impl Bench {
    async fn call(&self, method: &Method, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Answer {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("authorization", format!("Bearer {}", self.token));
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
        let before = self.calls();
        let resp = self.router.clone().oneshot(req.body(body).expect("request")).await.expect("infallible router");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let calls = self.calls() - before;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer { status, body, calls }
    }

    /// Calls made so far on both tables, the registry and the change history.
    fn calls(&self) -> usize {
        self.table.calls() + self.history.calls()
    }

    /// A setup call that must succeed; answers its body.
    async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let a = self.call(&method, path, Some(&body), &[]).await;
        if !a.status.is_success() {
            eprintln!("route-costs: setup {method} {path} answered {}: {}", a.status, a.body);
            std::process::exit(1);
        }
        a.body
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("created record has an id").to_owned()
}

/// The ids the routes' path parameters are filled with.
struct Ids {
    customer: String,
    license: String,
    assignment: String,
    release: String,
    tenant: String,
    tenant2: String,
    change_request: String,
    resource: String,
    config_key: String,
    component: String,
}

impl Ids {
    fn fill(&self, template: &str) -> String {
        let id = if template.starts_with("/v1/customers/") {
            &self.customer
        } else if template.starts_with("/v1/licenses/") {
            &self.license
        } else if template.starts_with("/v1/license-assignments/") {
            &self.assignment
        } else if template.starts_with("/v1/tenants/") {
            &self.tenant
        } else if template.starts_with("/v1/resources/") {
            &self.resource
        } else if template.starts_with("/v1/change-requests/") {
            &self.change_request
        } else {
            "unknown"
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

/// A request whose cost differs from the plain call of its route: method, path, body, headers and
/// what it shows.
type Variant<'a> = (Method, &'a str, Option<Value>, Vec<(&'a str, &'a str)>, &'a str);

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

#[tokio::main]
async fn main() {
    let table = Arc::new(MemoryTable::new());
    let tokens = LocalTokens::new(b"route-costs: a fixed local secret, 32+ bytes".to_vec());
    let token = tokens.mint("bench", Some("bench@vendor.example"), "admin", 3600);
    let history = Arc::new(MemoryTable::new());
    let router = portal_api::router(
        App {
            table: table.clone(),
            history: history.clone(),
            workflows: Arc::new(engine::workflows::MemoryWorkflows::new()),
        },
        Arc::new(tokens),
    );
    let b = Bench { router, table, history, token };

    // The registry the routes are measured on.
    let customer = id_of(&b.ok(Method::POST, "/v1/customers", json!({"name": "Bench Corp"})).await);
    let license =
        id_of(&b.ok(Method::POST, "/v1/licenses", json!({"name": "Bench Enterprise", "kind": "subscription"})).await);
    let assignment = id_of(
        &b.ok(Method::POST, "/v1/license-assignments", json!({"customer_id": customer, "license_id": license})).await,
    );
    let release = "3.2.0".to_owned();
    b.ok(
        Method::POST,
        "/v1/releases",
        json!({"version": release, "components": {"webapp": "3.2.0", "api": "3.2.0", "airflow": "2.9.0"}}),
    )
    .await;
    let t1 = b
        .ok(Method::POST, "/v1/tenants", json!({"customer_id": customer, "name": "bench-one", "release": release}))
        .await;
    let tenant = id_of(&t1);
    let change_request = t1["active_change_request_id"].as_str().expect("a new tenant's change request").to_owned();
    let tenant2 = id_of(
        &b.ok(Method::POST, "/v1/tenants", json!({"customer_id": customer, "name": "bench-two", "release": release}))
            .await,
    );
    b.ok(Method::PUT, &format!("/v1/tenants/{tenant}/configs/smtp.host"), json!({"value": "smtp.mail.example"})).await;
    b.ok(Method::PUT, &format!("/v1/tenants/{tenant}/components/extras"), json!({"version": "1.0.0"})).await;
    let resource = id_of(
        &b.ok(
            Method::POST,
            "/v1/resources",
            json!({"arn": "arn:aws:s3:::bench-bucket", "name": "bench bucket", "tenant_ids": [tenant]}),
        )
        .await,
    );
    let ids = Ids {
        customer,
        license,
        assignment,
        release,
        tenant,
        tenant2,
        change_request,
        resource,
        config_key: "smtp.host".into(),
        component: "webapp".into(),
    };

    // Every operation of the OpenAPI document, in document order.
    let doc = serde_json::to_value(portal_api::openapi()).expect("OpenAPI document");
    let mut routes: Vec<(Method, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete", "head", "options", "trace"] {
            if item.get(method).is_some() {
                routes.push((Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"), path.clone()));
            }
        }
    }
    let mut order: Vec<usize> = (0..routes.len()).collect();
    order.sort_by_key(|&i| rank(&routes[i].0));
    let mut rows: BTreeMap<usize, Answer> = BTreeMap::new();
    for i in order {
        let (method, template) = &routes[i];
        let body = ids.body(method, template);
        rows.insert(i, b.call(method, &ids.fill(template), body.as_ref(), &[]).await);
    }

    println!("| method | route | status | table calls |");
    println!("|---|---|---|---|");
    let mut failed = Vec::new();
    for (i, (method, template)) in routes.iter().enumerate() {
        let a = &rows[&i];
        println!("| {method} | `{template}` | {} | {} |", a.status.as_u16(), a.calls);
        if !a.status.is_success() {
            failed.push(format!("{method} {template}: {} {}", a.status, a.body));
        }
    }
    let total: usize = rows.values().map(|a| a.calls).sum();
    let max = rows.values().map(|a| a.calls).max().unwrap_or(0);
    println!();
    println!("{} operations, {total} table calls in all, at most {max} for one request.", routes.len());

    // A few variants of the same routes whose cost differs from the plain call above.
    let t = &ids.tenant;
    let idem_body = json!({"name": "Bench Idempotent"});
    let provisioning = format!("/v1/tenants?state={}", TenantState::Provisioning.as_str());
    let by_customer = format!("/v1/tenants?customer_id={}&state=Provisioning", ids.customer);
    let new_key = format!("/v1/tenants/{t}/configs/smtp.port");
    let empty_list = format!("/v1/tenants/{}/configs", ids.tenant2);
    let variants: Vec<Variant> = vec![
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
    println!();
    println!("| method | request | status | table calls | variant |");
    println!("|---|---|---|---|---|");
    for (method, path, body, headers, what) in variants {
        let a = b.call(&method, path, body.as_ref(), &headers).await;
        let shown = path.replace(&ids.customer, "{customer}").replace(&ids.tenant2, "{id2}").replace(t, "{id}");
        println!("| {method} | `{shown}` | {} | {} | {what} |", a.status.as_u16(), a.calls);
    }

    if !failed.is_empty() {
        eprintln!("route-costs: {} route(s) did not succeed:", failed.len());
        for f in &failed {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}
