//! Turns the registry table's stream into the field change log.
//!
//! Each record of a logged kind becomes one entry per changed field ([`domain::history`]). An
//! entry's key comes from the record's sequence number and field, so a redelivered batch writes
//! the same items again and adds nothing. Entries of the whole batch are written 25 a call; a
//! record that cannot be read, or whose entries could not be written, is reported in
//! `batchItemFailures` (Lambda then retries from it, bisecting, and finally sends it to the
//! on-failure destination) while every other record is logged.

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::history::{self, ItemWrite, WriteKind};
use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Map, Value};
use store::{Item, Table};

pub struct Deps {
    pub history: Arc<dyn Table>,
}

/// Why one stream record could not be logged.
#[derive(Debug, PartialEq)]
pub enum RecordError {
    Unreadable(String),
    NotWritten(String),
}

fn image<T: serde::Serialize>(raw: &T) -> Result<Option<Map<String, Value>>, RecordError> {
    let json = serde_json::to_value(raw).map_err(|e| RecordError::Unreadable(e.to_string()))?;
    if json.as_object().is_none_or(Map::is_empty) {
        return Ok(None);
    }
    store::item::from_dynamodb_json(&json).map(Some).map_err(|e| RecordError::Unreadable(e.to_string()))
}

/// The change-log items of one stream record.
pub fn entry_items(record: &EventRecord) -> Result<Vec<Item>, RecordError> {
    let kind = match record.event_name.as_str() {
        "INSERT" => WriteKind::Insert,
        "MODIFY" => WriteKind::Modify,
        "REMOVE" => WriteKind::Remove,
        other => return Err(RecordError::Unreadable(format!("unknown event {other}"))),
    };
    let sequence = record.change.sequence_number.as_deref().unwrap_or(&record.event_id);
    let (old, new) = (image(&record.change.old_image)?, image(&record.change.new_image)?);
    let write = ItemWrite {
        kind,
        sequence,
        old: old.as_ref(),
        new: new.as_ref(),
        seen_at: record.change.approximate_creation_date_time,
    };
    let entries = history::entries(&write).map_err(|e| RecordError::Unreadable(e.to_string()))?;
    entries.iter().map(|e| store::history::entry_item(e).map_err(|e| RecordError::Unreadable(e.to_string()))).collect()
}

fn record_id(r: &EventRecord) -> String {
    r.change.sequence_number.clone().unwrap_or_else(|| r.event_id.clone())
}

/// Logs a batch of stream records; answers the records that failed.
pub async fn process(history: &dyn Table, records: &[EventRecord]) -> DynamoDbEventResponse {
    let mut failed: Vec<String> = Vec::new();
    // (owner record, item) in stream order.
    let mut pending: Vec<(usize, Item)> = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match entry_items(record) {
            Ok(items) => pending.extend(items.into_iter().map(|item| (i, item))),
            Err(e) => {
                tracing::error!(sequence = %record_id(record), error = ?e, "unreadable stream record");
                failed.push(record_id(record));
            }
        }
    }
    for chunk in pending.chunks(25) {
        let items = chunk.iter().map(|(_, item)| item.clone()).collect();
        if let Err(e) = history.batch_put(items).await {
            let mut owners: Vec<usize> = chunk.iter().map(|(i, _)| *i).collect();
            owners.dedup();
            for i in owners {
                tracing::error!(sequence = %record_id(&records[i]), error = %e, "change-log entries not written");
                failed.push(record_id(&records[i]));
            }
        }
    }
    failed.dedup();
    tracing::info!(records = records.len(), entries = pending.len(), failed = failed.len(), "change log batch");
    // How far behind the registry's writes the change log is: its oldest record's age.
    let now = chrono::Utc::now();
    if let Some(oldest) = records.iter().map(|r| r.change.approximate_creation_date_time).min() {
        let lag = (now - oldest).num_milliseconds().max(0) as f64 / 1000.0;
        lambda_setup::emf::emit(&domain::emf::MetricLine::new(now).seconds("ChangeLogLagSeconds", lag).to_json());
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut f = DynamoDbBatchItemFailure::default();
            f.item_identifier = Some(id);
            f
        })
        .collect();
    response
}

/// The Lambda handler.
pub async fn handle(deps: &Deps, event: LambdaEvent<Event>) -> Result<DynamoDbEventResponse, Error> {
    Ok(process(deps.history.as_ref(), &event.payload.records).await)
}

#[cfg(test)]
mod tests;
