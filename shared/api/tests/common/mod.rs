//! The handler test harness shared by the integration tests of this crate (`mod common;`):
//! the router over the in-memory table and the in-memory workflows, callers as
//! `Authorization: Bearer <role>:<sub>`, and the response helpers.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header, request::Parts};
use engine::workflows::MemoryWorkflows;
use http_body_util::BodyExt;
use portal_api::{ApiError, App, Authenticator, Principal};
use serde_json::{Value, json};
use store::memory::MemoryTable;
use store::{Item, Key, Page, Query, StoreError, Table, WriteOp};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------------
// Callers: `Authorization: Bearer <role>:<sub>`.

pub const ADMIN: Option<&str> = Some("admin:ada");
pub const OPERATOR: Option<&str> = Some("operator:otto");
pub const VIEWER: Option<&str> = Some("viewer:vera");
pub const ANONYMOUS: Option<&str> = None;

/// Reads `Authorization: Bearer <role>:<sub>`; anything else is unauthenticated.
pub struct TestTokens;

impl Authenticator for TestTokens {
    fn authenticate(&self, parts: &Parts) -> Result<Principal, ApiError> {
        let malformed = || ApiError::Unauthenticated("send `Authorization: Bearer <role>:<sub>`".into());
        let (role, sub) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| token.split_once(':'))
            .ok_or_else(malformed)?;
        Principal::from_claims(Some(sub), None, &[role.to_owned()])
    }
}

// ---------------------------------------------------------------------------------------------
// A table that behaves like one across a network: every call yields to the scheduler first, so
// concurrent requests interleave between their reads and their writes. It also keeps every
// write batch it was sent.

pub struct NetworkTable {
    pub inner: Arc<MemoryTable>,
    pub writes: Mutex<Vec<Vec<WriteOp>>>,
}

#[async_trait]
impl Table for NetworkTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        tokio::task::yield_now().await;
        self.inner.get(key).await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        tokio::task::yield_now().await;
        self.inner.batch_get(keys).await
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        tokio::task::yield_now().await;
        self.inner.query(query).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        self.writes.lock().unwrap().push(ops.clone());
        self.inner.write(ops).await
    }

    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        tokio::task::yield_now().await;
        self.inner.batch_put(items).await
    }
}

// ---------------------------------------------------------------------------------------------
// The harness.

pub struct Harness {
    pub table: Arc<MemoryTable>,
    /// The change-log table the history routes read (written here by [`Harness::log`]).
    pub history: Arc<MemoryTable>,
    pub network: Option<Arc<NetworkTable>>,
    /// The workflows the router starts change requests with: what it started, and a switch
    /// to make Step Functions unreachable.
    pub workflows: Arc<MemoryWorkflows>,
    pub router: Router,
}

/// One response: status, headers, the body as JSON (`Null` when empty) and as text.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

/// The change-request core over `table` and `workflows`, with Jenkins and SSM fakes.
pub fn core(table: Arc<dyn store::Table>, workflows: Arc<MemoryWorkflows>) -> changes::Changes {
    changes::Changes {
        table,
        workflows,
        jenkins: Arc::new(engine::MemoryJenkins::new()),
        remote: Arc::new(engine::MemoryCommands::new()),
        alarms: Arc::new(engine::MemoryAlarms::new()),
    }
}

impl Harness {
    /// The router over `App { table: Arc::new(MemoryTable::new()) }`.
    pub fn new() -> Self {
        let history = Arc::new(MemoryTable::new());
        Self::reading_history_through(history.clone(), history)
    }

    /// The router whose history routes read through `reader`, a view of `history`.
    pub fn reading_history_through(history: Arc<MemoryTable>, reader: Arc<dyn Table>) -> Self {
        let table = Arc::new(MemoryTable::new());
        let workflows = Arc::new(MemoryWorkflows::new());
        let app = App::new(reader, core(table.clone(), workflows.clone()));
        Self { table, history, network: None, workflows, router: portal_api::router(app, Arc::new(TestTokens)) }
    }

    /// The router over a [`NetworkTable`] wrapping the in-memory one.
    pub fn over_network() -> Self {
        let table = Arc::new(MemoryTable::new());
        let network = Arc::new(NetworkTable { inner: table.clone(), writes: Mutex::default() });
        let workflows = Arc::new(MemoryWorkflows::new());
        let history = Arc::new(MemoryTable::new());
        let app = App::new(history.clone(), core(network.clone(), workflows.clone()));
        let router = portal_api::router(app, Arc::new(TestTokens));
        Self { table, history, network: Some(network), workflows, router }
    }

    pub async fn call(&self, method: Method, path: &str, who: Option<&str>, body: Option<Value>) -> Resp {
        self.call_with(method, path, who, &[], body).await
    }

    /// A call with extra headers (`If-Match`, `Idempotency-Key`...); a body is sent as JSON.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        who: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Resp {
        let (content_type, body) = match body {
            Some(v) => (Some("application/json"), v.to_string()),
            None => (None, String::new()),
        };
        self.raw(method, path, who, headers, content_type, &body).await
    }

    /// A call with a body sent byte for byte, under the given content type (or none).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        who: Option<&str>,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: &str,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(who) = who {
            req = req.header(header::AUTHORIZATION, format!("Bearer {who}"));
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        self.send(req.body(Body::from(body.to_owned())).unwrap()).await
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, VIEWER, None).await
    }

    /// Every item of the table, to compare before and after a request that must write nothing.
    pub fn snapshot(&self) -> Vec<Item> {
        self.table.dump()
    }

    #[track_caller]
    pub fn assert_unchanged(&self, before: &[Item]) {
        assert_eq!(self.table.dump(), before, "the table must not have changed");
    }

    /// Live items of a `kind` in the table (deleted records' tombstones left out).
    pub fn count_kind(&self, kind: &str) -> usize {
        self.of_kind(kind).iter().filter(|i| !store::layout::is_tombstone(i)).count()
    }

    /// Every item of a `kind` in the table, tombstones included.
    pub fn of_kind(&self, kind: &str) -> Vec<Item> {
        self.table.dump().into_iter().filter(|i| i.get("item_type").and_then(Value::as_str) == Some(kind)).collect()
    }

    /// The write batches the table was sent ([`Harness::over_network`] only).
    pub fn writes(&self) -> Vec<Vec<WriteOp>> {
        self.network.as_ref().expect("a harness over the network table").writes.lock().unwrap().clone()
    }

    /// Writes change-log entries as the change-log function would.
    pub async fn log(&self, entries: &[domain::history::ChangeEntry]) {
        let items = entries.iter().map(|e| store::history::entry_item(e).unwrap()).collect();
        self.history.batch_put(items).await.unwrap();
    }

    // Fixtures ---------------------------------------------------------------------------------

    pub async fn customer(&self, name: &str) -> String {
        self.call(Method::POST, "/v1/customers", OPERATOR, Some(json!({ "name": name })))
            .await
            .expect(StatusCode::CREATED)
            .id()
    }

    pub async fn release(&self, version: &str) -> Value {
        self.release_with(version, manifest()).await
    }

    pub async fn release_with(&self, version: &str, components: Value) -> Value {
        self.call(Method::POST, "/v1/releases", OPERATOR, Some(json!({ "version": version, "components": components })))
            .await
            .expect(StatusCode::CREATED)
            .body
    }

    pub async fn tenant(&self, customer: &str, name: &str, release: &str) -> Value {
        self.tenant_with(json!({ "customer_id": customer, "name": name, "release": release })).await
    }

    pub async fn imported_tenant(&self, customer: &str, name: &str, release: &str) -> Value {
        self.tenant_with(json!({ "customer_id": customer, "name": name, "release": release, "import": true })).await
    }

    pub async fn tenant_with(&self, body: Value) -> Value {
        self.call(Method::POST, "/v1/tenants", OPERATOR, Some(body)).await.expect(StatusCode::CREATED).body
    }

    /// A customer, the release `3.1.0` and one tenant `acme-prod` on it; the tenant's id.
    /// A catalogued backup `backup_id` of tenant `tenant`, as a backup that succeeded leaves it.
    pub async fn backup(&self, tenant: &str, backup_id: &str) {
        use store::layout::Record;
        let reported: domain::ReportedBackup =
            serde_json::from_value(engine::jenkins::backup_report()["backup"].clone()).expect("a reported backup");
        let ctx = domain::WriteContext::api(domain::Actor { sub: "alice".into(), email: None });
        let tenant = domain::TenantId::parse(tenant).expect("a tenant id");
        let release = domain::ReleaseVersion::parse("3.1.0").expect("a release");
        let mut backup = domain::Backup::catalogued(
            &tenant,
            &domain::ChangeRequestId::generate(),
            "alice",
            &reported,
            release,
            domain::TenantSnapshot::default(),
            &ctx,
        );
        backup.id = domain::BackupId::parse(backup_id).expect("a backup id");
        self.table.batch_put(vec![backup.to_item().expect("an item")]).await.expect("written");
    }

    /// Puts a tenant in `state`, not held by any change request, as a finished workflow leaves it.
    pub async fn settle(&self, tenant: &str, state: domain::TenantState) {
        use store::layout::Record;
        let key = store::layout::tenant_key(&domain::TenantId::parse(tenant).expect("a tenant id"));
        let item = self.table.get(&key).await.unwrap().expect("the tenant item");
        let mut t = domain::Tenant::from_item(item).unwrap();
        t.state = state;
        t.active_change_request_id = None;
        t.stamp.revision += 1;
        self.table.write(vec![WriteOp::put(t.to_item().unwrap(), store::Cond::Always)]).await.unwrap();
    }

    pub async fn one_tenant(&self) -> String {
        let customer = self.customer("Acme").await;
        self.release("3.1.0").await;
        id_of(&self.tenant(&customer, "acme-prod", "3.1.0").await)
    }
}

impl Resp {
    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        self
    }

    /// Asserts a problem+json answer with this status, naming `field` (or no field).
    #[track_caller]
    pub fn expect_problem(self, status: StatusCode, field: Option<&str>) -> Self {
        let resp = self.expect(status);
        assert_eq!(resp.header("content-type"), Some("application/problem+json"), "errors are problem+json");
        assert_eq!(resp.body["status"], status.as_u16(), "{}", resp.text);
        for member in ["type", "title", "detail"] {
            assert!(
                resp.body[member].as_str().is_some_and(|s| !s.is_empty()),
                "problem without `{member}`: {}",
                resp.text
            );
        }
        assert_eq!(resp.body["field"].as_str(), field, "the problem names the wrong field: {}", resp.text);
        resp
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn etag(&self) -> &str {
        self.header("etag").expect("an ETag header")
    }

    pub fn id(&self) -> String {
        id_of(&self.body)
    }

    pub fn items(&self) -> &Vec<Value> {
        self.body["items"].as_array().expect("a list body")
    }

    /// A string member of every item of a list body.
    pub fn item_strings(&self, member: &str) -> BTreeSet<String> {
        self.items().iter().map(|i| i[member].as_str().expect("a string member").to_owned()).collect()
    }
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

pub fn manifest() -> Value {
    json!({ "webapp": "3.1.2", "airflow": "2.9.1", "postgres": "16.4" })
}

/// A change-log entry of `field` of tenant `tenant` by `actor` (`sub` or `sub <email>`), at
/// minute `minute` of 2026-11-30 06:00 UTC.
pub fn entry(tenant: &str, field: &str, actor: &str, minute: u32) -> domain::history::ChangeEntry {
    domain::history::ChangeEntry {
        at: format!("2026-11-30T06:{minute:02}:00.000000Z"),
        actor: actor.to_owned(),
        actor_sub: domain::history::actor_sub(actor).to_owned(),
        entity: "tenant".into(),
        entity_id: tenant.to_owned(),
        tenant_id: Some(tenant.to_owned()),
        field: field.to_owned(),
        old: Value::Null,
        new: json!(minute),
        change_request_id: None,
        source: "api".into(),
        write: domain::history::WriteKind::Modify,
        sequence: format!("{minute:06}"),
    }
}
