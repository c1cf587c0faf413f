//! How handlers read and write records: typed loads that 404, all-or-nothing writes whose failed
//! conditions become the right problem, record responses with their `ETag`, and idempotent
//! creates.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::Stamped;
use serde::Serialize;
use serde_json::Value;
use store::layout::{self, Record};
use store::{Cond, Item, Key, Query, StoreError, Table, WriteOp};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, IfMatch};
use crate::pagination::{self, ListParams, ListResponse};

/// What every handler gets: the registry table, the change-log table, and the change-request
/// core (over the same registry table).
#[derive(Clone)]
pub struct App {
    pub table: Arc<dyn Table>,
    pub history: Arc<dyn Table>,
    pub changes: changes::Changes,
    /// The key Jenkins signs its completion callbacks with (none: every callback is a 503).
    pub callback_key: Arc<dyn engine::CallbackKey>,
}

impl App {
    pub fn new(history: Arc<dyn Table>, changes: changes::Changes) -> Self {
        Self { table: changes.table.clone(), history, changes, callback_key: Arc::new(engine::NoCallbackKey) }
    }

    /// The same API, checking Jenkins callbacks against `key`.
    pub fn with_callback_key(self, key: Arc<dyn engine::CallbackKey>) -> Self {
        Self { callback_key: key, ..self }
    }
}

/// Deleted records' tombstones (see [`delete_record`]) read as absent.
pub fn live(item: &Item) -> bool {
    !layout::is_tombstone(item)
}

/// Loads a record; 404 naming `what` when there is none.
pub async fn load<R: Record>(app: &App, key: &Key, what: impl FnOnce() -> String) -> Result<R, ApiError> {
    match app.table.get(key).await? {
        Some(item) if live(&item) => Ok(R::from_item(item)?),
        _ => Err(ApiError::NotFound(what())),
    }
}

/// Every item a query finds, page after page, deleted records' tombstones included.
pub async fn query_all(table: &dyn Table, mut query: store::Query) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    loop {
        let page = table.query(&query).await?;
        items.extend(page.items);
        match page.last_key {
            Some(k) => query = query.start(Some(k)),
            None => return Ok(items),
        }
    }
}

/// Loads a record if it exists.
pub async fn find<R: Record>(app: &App, key: &Key) -> Result<Option<R>, ApiError> {
    match app.table.get(key).await? {
        Some(item) if live(&item) => Ok(Some(R::from_item(item)?)),
        _ => Ok(None),
    }
}

/// One page of records for a list route.
pub async fn list<R: Record + Serialize>(
    app: &App,
    query: Query,
    params: &ListParams,
) -> Result<ListResponse<R>, ApiError> {
    let query = params.apply(query)?;
    let (items, next_token) = pagination::fetch(app.table.as_ref(), &query).await?;
    let items = items.into_iter().filter(live).map(R::from_item).collect::<Result<Vec<_>, _>>()?;
    Ok(ListResponse { items, next_token })
}

/// A list of a parent's children costs one query: the parent is read only when the first page
/// comes back empty, to answer 404 for "no such parent" rather than an empty list.
pub async fn parent_exists_if_empty<P>(
    empty: bool,
    first_page: bool,
    parent: impl std::future::Future<Output = Result<P, ApiError>>,
) -> Result<(), ApiError> {
    if empty && first_page {
        parent.await?;
    }
    Ok(())
}

/// One page of a parent's records (see [`parent_exists_if_empty`]).
pub async fn list_children<R: Record + Serialize, P>(
    app: &App,
    query: Query,
    params: &ListParams,
    parent: impl std::future::Future<Output = Result<P, ApiError>>,
) -> Result<ListResponse<R>, ApiError> {
    let page = list(app, query, params).await?;
    parent_exists_if_empty(page.items.is_empty(), params.next_token.is_none(), parent).await?;
    Ok(page)
}

/// An all-or-nothing batch of writes, each with the problem to report if its condition fails.
pub type Tx = store::Tx<ApiError>;

/// A response kept for idempotent replay: status, JSON body, version and location.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Stored {
    pub status: u16,
    pub body: Value,
    #[serde(default)]
    pub etag: Option<u64>,
    #[serde(default)]
    pub location: Option<String>,
}

impl Stored {
    pub fn record<R: Serialize + Stamped>(
        status: StatusCode,
        record: &R,
        location: Option<String>,
    ) -> Result<Self, ApiError> {
        let body = serde_json::to_value(record).map_err(|_| ApiError::Internal)?;
        Ok(Self { status: status.as_u16(), body, etag: Some(record.stamp().revision), location })
    }
}

impl IntoResponse for Stored {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::OK);
        let mut resp = (status, axum::Json(self.body)).into_response();
        let headers = resp.headers_mut();
        if let Some(v) = self.etag.and_then(|v| HeaderValue::from_str(&format!("\"{v}\"")).ok()) {
            headers.insert(header::ETAG, v);
        }
        if let Some(l) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, l);
        }
        resp
    }
}

/// A record as a `200` response with its `ETag`.
pub fn ok<R: Serialize + Stamped>(record: &R) -> Result<Response, ApiError> {
    Ok(Stored::record(StatusCode::OK, record, None)?.into_response())
}

/// Writes `next` over `current` unless nothing changed, with `tx`'s other writes; answers the
/// record as it now stands.
pub async fn write_changed<R: Record + Clone + PartialEq>(
    app: &App,
    current: &R,
    next: R,
    principal: &Principal,
    if_match: IfMatch,
    tx: Tx,
) -> Result<Response, ApiError> {
    ok(&commit_changed(app, current, next, principal, if_match, tx).await?)
}

/// [`write_changed`], answering the record as it now stands (`current` when nothing changed).
pub async fn commit_changed<R: Record + Clone + PartialEq>(
    app: &App,
    current: &R,
    mut next: R,
    principal: &Principal,
    if_match: IfMatch,
    tx: Tx,
) -> Result<R, ApiError> {
    if &next == current && tx.is_empty() {
        return Ok(current.clone());
    }
    let revision = current.stamp().revision;
    *next.stamp_mut() = current.stamp().next(&domain::WriteContext::api(principal.actor.clone()));
    let lost_race = if if_match.given() {
        ApiError::PreconditionFailed { current: revision + 1 }
    } else {
        ApiError::Conflict("the record was changed concurrently; read it again and retry".into())
    };
    let mut all = Tx::new();
    all.put(&next, Cond::RevisionIs(revision), lost_race)?;
    all.extend(tx);
    all.commit(app.table.as_ref()).await?;
    Ok(next)
}

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_TTL_SECS: i64 = 24 * 60 * 60;

/// An idempotent POST in progress: the key it claims and the request it stands for.
pub struct Idempotency {
    key: Option<Key>,
    request_hash: String,
}

impl Idempotency {
    /// Looks the key up: `Err(response)` replays the first answer; `Ok` goes on with the request.
    pub async fn begin(
        app: &App,
        principal: &Principal,
        key: IdempotencyKey,
        route: &str,
        body_sha256: &str,
    ) -> Result<Result<Self, Response>, ApiError> {
        let request_hash = format!("{route} {body_sha256}");
        let Some(raw) = key.0 else {
            return Ok(Ok(Self { key: None, request_hash }));
        };
        let key = layout::idempotency_key(&principal.actor.sub, &raw);
        if let Some(replay) = Self::replay(app, &key, &request_hash).await? {
            return Ok(Err(replay));
        }
        Ok(Ok(Self { key: Some(key), request_hash }))
    }

    /// The table key of this request's idempotency record, when it has one.
    pub fn key(&self) -> Option<&Key> {
        self.key.as_ref()
    }

    async fn replay(app: &App, key: &Key, request_hash: &str) -> Result<Option<Response>, ApiError> {
        let Some(item) = app.table.get(key).await? else {
            return Ok(None);
        };
        let expired = item.get("ttl").and_then(Value::as_i64).is_none_or(|t| t < Utc::now().timestamp());
        if expired {
            return Ok(None);
        }
        if item.get("request_hash").and_then(Value::as_str) != Some(request_hash) {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "this key was already used with a different request; use a new key for a new request",
            ));
        }
        let stored: Stored =
            item.get("response").cloned().and_then(|v| serde_json::from_value(v).ok()).ok_or(ApiError::Internal)?;
        let mut resp = stored.into_response();
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        Ok(Some(resp))
    }

    /// The write that records this request's answer, conditional on the key being free (or
    /// its earlier record expired).
    fn record_write(&self, key: &Key, answer: &Stored) -> Result<WriteOp, ApiError> {
        let now = Utc::now().timestamp();
        let mut item = key.to_item();
        item.insert("item_type".into(), Value::String("idempotency".into()));
        item.insert("request_hash".into(), Value::String(self.request_hash.clone()));
        item.insert("response".into(), serde_json::to_value(answer).map_err(|_| ApiError::Internal)?);
        item.insert("ttl".into(), Value::from(now + IDEMPOTENCY_TTL_SECS));
        Ok(WriteOp::put(item, Cond::NotExistsOrExpired(now)))
    }

    /// The same key won a race with us: answer as it did.
    async fn replay_race(&self, app: &App, key: &Key) -> Result<Response, ApiError> {
        Self::replay(app, key, &self.request_hash).await?.ok_or_else(|| ApiError::Conflict("retry the request".into()))
    }

    /// Commits the writes of the create together with the record of its answer, then answers.
    pub async fn commit(self, app: &App, tx: Tx, answer: Stored) -> Result<Response, ApiError> {
        let Some(key) = self.key.clone() else {
            tx.commit(app.table.as_ref()).await?;
            return Ok(answer.into_response());
        };
        let (mut ops, on_fail) = tx.into_parts();
        let idem_index = ops.len();
        ops.push(self.record_write(&key, &answer)?);
        match app.table.write(ops).await {
            Ok(()) => Ok(answer.into_response()),
            Err(StoreError::ConditionFailed { op: Some(i) }) if i == idem_index => self.replay_race(app, &key).await,
            Err(StoreError::ConditionFailed { op: Some(i) }) if i < on_fail.len() => Err(on_fail[i].clone()),
            Err(e) => Err(e.into()),
        }
    }

    /// Submits a change request (or a new tenant) prepared by the core, with the record of its
    /// answer as its once-only guard, then answers.
    pub async fn submit(self, app: &App, prepared: changes::Prepared, answer: Stored) -> Result<Response, ApiError> {
        let guard = match &self.key {
            Some(key) => Some(changes::Guard { write: self.record_write(key, &answer)?, key: key.clone() }),
            None => None,
        };
        match app.changes.submit(prepared, guard).await {
            Ok(_) => Ok(answer.into_response()),
            Err(changes::ChangeError::Duplicate) => match &self.key {
                Some(key) => self.replay_race(app, key).await,
                None => Err(ApiError::Conflict("retry the request".into())),
            },
            Err(e) => Err(e.into()),
        }
    }
}

/// Adds the delete of a record to `tx`: its tombstone (see [`Record::tombstone`]), stamped with
/// the deleter and conditional on the revision the caller read, so a delete is one write (one
/// transaction with whatever else it releases) and the change log can say who deleted what.
pub fn delete_record<R: Record + Clone>(tx: &mut Tx, current: &R, ctx: &domain::WriteContext) -> Result<(), ApiError> {
    let revision = current.stamp().revision;
    let mut deleted = current.clone();
    *deleted.stamp_mut() = current.stamp().next(ctx);
    let item = deleted.tombstone(deleted.stamp().updated_at.timestamp())?;
    tx.push(WriteOp::put(item, Cond::RevisionIs(revision)), ApiError::PreconditionFailed { current: revision });
    Ok(())
}
