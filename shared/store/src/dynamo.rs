//! The DynamoDB adapter of the [`Table`] port.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, anyhow};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, PutRequest, TransactWriteItem, Update, WriteRequest,
};
use serde_json::Value;
use tracing::instrument;

use crate::item::{from_attrs, to_attr, to_attrs};
use crate::table::MAX_TRANSACTION_ITEMS;
use crate::{Cond, Index, Item, Key, Page, Query, StoreError, Table, WriteOp};

/// The registry table in DynamoDB.
#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn name(&self) -> &str {
        &self.table
    }
}

/// Placeholders for one expression: `#n0` names and `:v0` values.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attr) {
            return k.clone();
        }
        let k = format!("#n{}", self.names.len());
        self.names.insert(k.clone(), attr.to_owned());
        k
    }

    /// A dotted attribute path (`tags.env`: the `env` entry of the map `tags`), each part a name.
    fn path(&mut self, attr: &str) -> String {
        attr.split('.').map(|part| self.name(part)).collect::<Vec<_>>().join(".")
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    fn cond(&mut self, c: &Cond) -> Option<String> {
        Some(match c {
            Cond::Always => return None,
            Cond::Exists => format!("attribute_exists({})", self.name("pk")),
            Cond::NotExists => format!("attribute_not_exists({})", self.name("pk")),
            Cond::RevisionIs(v) => {
                format!("{} = {}", self.name("revision"), self.value(AttributeValue::N(v.to_string())))
            }
            Cond::FieldIs(f, v) => format!("{} = {}", self.name(f), self.value(to_attr(v))),
            Cond::FieldIsNot(f, v) => {
                let (pk, n, val) = (self.name("pk"), self.name(f), self.value(to_attr(v)));
                format!("(attribute_exists({pk}) AND (attribute_not_exists({n}) OR {n} <> {val}))")
            }
            Cond::NotExistsOrExpired(now) => {
                let (pk, exp, now) =
                    (self.name("pk"), self.name("ttl"), self.value(AttributeValue::N(now.to_string())));
                format!("(attribute_not_exists({pk}) OR {exp} < {now})")
            }
            Cond::All(cs) => {
                let parts: Vec<String> = cs.iter().filter_map(|c| self.cond(c)).collect();
                if parts.is_empty() {
                    return None;
                }
                format!("({})", parts.join(" AND "))
            }
        })
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn key_attrs(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn increment_expr(field: &str, by: i64, set: &Item, e: &mut Expr) -> String {
    let mut expr = format!("ADD {} {}", e.name(field), e.value(AttributeValue::N(by.to_string())));
    let sets: Vec<String> = set.iter().map(|(k, v)| format!("{} = {}", e.name(k), e.value(to_attr(v)))).collect();
    if !sets.is_empty() {
        expr.push_str(&format!(" SET {}", sets.join(", ")));
    }
    expr
}

fn transact_item(table: &str, op: &WriteOp) -> Result<TransactWriteItem, StoreError> {
    let mut e = Expr::default();
    let built = match op {
        WriteOp::Put { item, cond } => {
            let c = e.cond(cond);
            TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(to_attrs(item)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("put")?,
            )
        }
        WriteOp::Delete { key, cond } => {
            let c = e.cond(cond);
            TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("delete")?,
            )
        }
        WriteOp::Check { key, cond } => {
            let c = e.cond(cond).unwrap_or_else(|| format!("attribute_exists({})", e.name("pk")));
            TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(table)
                    .set_key(Some(key_attrs(key)))
                    .condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("condition check")?,
            )
        }
        WriteOp::Increment { key, field, by, set } => {
            let update = increment_expr(field, *by, set, &mut e);
            TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(table)
                    .set_key(Some(key_attrs(key)))
                    .update_expression(update)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .build()
                    .context("update")?,
            )
        }
    };
    Ok(built.build())
}

fn sdk_error<E, R>(what: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let Some(service) = err.as_service_error()
        && service.code() == Some("ValidationException")
    {
        return StoreError::Invalid(format!("{what}: {}", service.message().unwrap_or_default()));
    }
    StoreError::Unavailable(anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(err)).context(what.to_owned()))
}

impl DynamoDbErrorExt for aws_sdk_dynamodb::operation::put_item::PutItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}
impl DynamoDbErrorExt for aws_sdk_dynamodb::operation::delete_item::DeleteItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}
impl DynamoDbErrorExt for aws_sdk_dynamodb::operation::update_item::UpdateItemError {
    fn is_condition_failed(&self) -> bool {
        self.is_conditional_check_failed_exception()
    }
}

trait DynamoDbErrorExt {
    fn is_condition_failed(&self) -> bool;
}

fn single_write_error<E, R>(what: &str, err: SdkError<E, R>) -> StoreError
where
    E: DynamoDbErrorExt + std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if err.as_service_error().is_some_and(DynamoDbErrorExt::is_condition_failed) {
        StoreError::ConditionFailed { op: Some(0) }
    } else {
        sdk_error(what, err)
    }
}

impl DynamoTable {
    /// One write without a transaction: half the capacity of a one-item transaction.
    async fn write_one(&self, op: WriteOp) -> Result<(), StoreError> {
        let mut e = Expr::default();
        match op {
            WriteOp::Put { item, cond } => {
                let c = e.cond(&cond);
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(to_attrs(&item)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(|err| single_write_error("PutItem", err))?;
            }
            WriteOp::Delete { key, cond } => {
                let c = e.cond(&cond);
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(|err| single_write_error("DeleteItem", err))?;
            }
            WriteOp::Increment { key, field, by, set } => {
                let update = increment_expr(&field, by, &set, &mut e);
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .update_expression(update)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map_err(|err| single_write_error("UpdateItem", err))?;
            }
            check @ WriteOp::Check { .. } => return self.transact(vec![check]).await,
        }
        Ok(())
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let items = ops.into_iter().map(|op| transact_item(&self.table, &op)).collect::<Result<Vec<_>, _>>()?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                    let reasons = e.cancellation_reasons();
                    let failed = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed"));
                    if failed.is_some() {
                        Err(StoreError::ConditionFailed { op: failed })
                    } else if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
                        Err(StoreError::Conflict)
                    } else {
                        Err(sdk_error("TransactWriteItems", err))
                    }
                }
                _ => Err(sdk_error("TransactWriteItems", err)),
            },
        }
    }
}

#[async_trait]
impl Table for DynamoTable {
    #[instrument(skip(self), fields(table = %self.table))]
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        out.item().map(from_attrs).transpose()
    }

    #[instrument(skip(self, keys), fields(table = %self.table, keys = keys.len()))]
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(key_attrs).collect()))
                .consistent_read(true)
                .build()
                .context("keys")?;
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                if let Some(items) = out.responses().and_then(|r| r.get(&self.table)) {
                    for i in items {
                        found.push(from_attrs(i)?);
                    }
                }
                match out.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        if attempt >= 8 {
                            return Err(StoreError::Unavailable(anyhow!(
                                "BatchGetItem: keys still unprocessed after retries"
                            )));
                        }
                        pending = rest.clone();
                        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    #[instrument(skip(self), fields(table = %self.table))]
    async fn query(&self, q: &Query) -> Result<Page, StoreError> {
        let mut e = Expr::default();
        let (ipk, isk) = Index::key_attrs(q.index);
        let mut key_cond = format!("{} = {}", e.name(ipk), e.value(AttributeValue::S(q.pk.clone())));
        if let Some((from, to)) = &q.sk_between {
            key_cond.push_str(&format!(
                " AND {} BETWEEN {} AND {}",
                e.name(isk),
                e.value(AttributeValue::S(from.clone())),
                e.value(AttributeValue::S(to.clone()))
            ));
        }
        if let Some(p) = &q.sk_prefix {
            key_cond.push_str(&format!(" AND begins_with({}, {})", e.name(isk), e.value(AttributeValue::S(p.clone()))));
        }
        let filters: Vec<String> =
            q.filters.iter().map(|(attr, v)| format!("{} = {}", e.path(attr), e.value(to_attr(v)))).collect();
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(q.index.map(|i| i.name().to_owned()))
            .key_condition_expression(key_cond)
            .set_filter_expression((!filters.is_empty()).then(|| filters.join(" AND ")))
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .scan_index_forward(q.forward)
            .limit(q.limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(q.start.as_ref().map(to_attrs))
            .send()
            .await
            .map_err(|e| sdk_error("Query", e))?;
        let items = out.items().iter().map(from_attrs).collect::<Result<Vec<_>, _>>()?;
        let last_key = out.last_evaluated_key().map(from_attrs).transpose()?;
        Ok(Page { items, last_key })
    }

    #[instrument(skip(self, items), fields(table = %self.table, items = items.len()))]
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(25) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|i| {
                    Ok(WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(to_attrs(i))).build().context("put request")?)
                        .build())
                })
                .collect::<Result<_, StoreError>>()?;
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", e))?;
                match out.unprocessed_items().and_then(|u| u.get(&self.table)) {
                    Some(rest) if !rest.is_empty() => {
                        if attempt >= 8 {
                            return Err(StoreError::Unavailable(anyhow!(
                                "BatchWriteItem: items still unprocessed after retries"
                            )));
                        }
                        pending = rest.clone();
                        tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                    }
                    _ => break,
                }
            }
        }
        Ok(())
    }

    #[instrument(skip(self, ops), fields(table = %self.table, ops = ops.len()))]
    async fn write(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        match ops.len() {
            0 => Ok(()),
            1 => self.write_one(ops.remove(0)).await,
            n if n > MAX_TRANSACTION_ITEMS => Err(StoreError::TooLarge(n)),
            _ => self.transact(ops).await,
        }
    }
}

/// `Value` helper for callers building conditions.
pub fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}
