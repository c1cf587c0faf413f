//! Delivers the registry table's stream to the change-log handler the way Lambda's event source
//! mapping does: batches of up to 100 records in order, the Lambda event shape, retries from the
//! first record the handler reports failed, and a dead letter after the last attempt. Used by
//! `make dev` and the integration tests, against moto's DynamoDB Streams.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};
use store::Table;

/// Lambda's default batch size for a DynamoDB stream.
pub const BATCH_SIZE: i32 = 100;

pub struct StreamPoller {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    /// Shard id → the iterator to read next (`None` once the shard is closed and read).
    shards: BTreeMap<String, Option<String>>,
    history: Arc<dyn Table>,
    max_attempts: u32,
    dead_letters: Vec<String>,
}

fn attr_json(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(_) => json!({"NULL": true}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attr_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": image_json(m)}),
        AttributeValue::Ss(v) => json!({"SS": v}),
        AttributeValue::Ns(v) => json!({"NS": v}),
        other => json!({"NULL": true, "unsupported": format!("{other:?}")}),
    }
}

fn image_json(m: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(m.iter().map(|(k, v)| (k.clone(), attr_json(v))).collect())
}

/// A stream record as Lambda hands it to a function.
pub fn lambda_record(r: &Record, stream_arn: &str) -> anyhow::Result<EventRecord> {
    let d = r.dynamodb().context("record without dynamodb")?;
    let mut change = json!({
        "ApproximateCreationDateTime": d.approximate_creation_date_time().map_or(0.0, |t| t.as_secs_f64()),
        "Keys": d.keys().map(image_json).unwrap_or(json!({})),
        "SequenceNumber": d.sequence_number(),
        "SizeBytes": d.size_bytes().unwrap_or(0),
        "StreamViewType": d.stream_view_type().map(|v| v.as_str().to_owned()),
    });
    if let Some(i) = d.new_image() {
        change["NewImage"] = image_json(i);
    }
    if let Some(i) = d.old_image() {
        change["OldImage"] = image_json(i);
    }
    let raw = json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str().to_owned()),
        "eventVersion": r.event_version(),
        "eventSource": "aws:dynamodb",
        "awsRegion": r.aws_region().unwrap_or("us-east-1"),
        "eventSourceARN": stream_arn,
        "dynamodb": change,
    });
    serde_json::from_value(raw).context("stream record as a Lambda event record")
}

impl StreamPoller {
    /// Follows the stream of `table` from its beginning, delivering to the change log in `history`.
    pub async fn new(
        dynamodb: &aws_sdk_dynamodb::Client,
        client: aws_sdk_dynamodbstreams::Client,
        table: &str,
        history: Arc<dyn Table>,
    ) -> anyhow::Result<Self> {
        let described = dynamodb.describe_table().table_name(table).send().await.context("describing the table")?;
        let stream_arn = described
            .table()
            .and_then(|t| t.latest_stream_arn())
            .ok_or_else(|| anyhow!("table {table} has no stream"))?
            .to_owned();
        Ok(Self { client, stream_arn, shards: BTreeMap::new(), history, max_attempts: 3, dead_letters: Vec::new() })
    }

    /// Sequence numbers of records that still failed after every attempt.
    pub fn dead_letters(&self) -> &[String] {
        &self.dead_letters
    }

    async fn discover_shards(&mut self) -> anyhow::Result<()> {
        let out =
            self.client.describe_stream().stream_arn(&self.stream_arn).send().await.context("describing the stream")?;
        for shard in out.stream_description().map(|d| d.shards()).unwrap_or_default() {
            let Some(id) = shard.shard_id() else { continue };
            if self.shards.contains_key(id) {
                continue;
            }
            let it = self
                .client
                .get_shard_iterator()
                .stream_arn(&self.stream_arn)
                .shard_id(id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .context("getting a shard iterator")?;
            self.shards.insert(id.to_owned(), it.shard_iterator().map(str::to_owned));
        }
        Ok(())
    }

    /// Reads what the stream has now and delivers it; answers the number of records delivered.
    pub async fn poll_once(&mut self) -> anyhow::Result<usize> {
        self.discover_shards().await?;
        let mut delivered = 0;
        let shard_ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in shard_ids {
            let Some(Some(iterator)) = self.shards.get(&id).cloned() else { continue };
            let out = self
                .client
                .get_records()
                .shard_iterator(iterator)
                .limit(BATCH_SIZE)
                .send()
                .await
                .context("reading records")?;
            self.shards.insert(id, out.next_shard_iterator().map(str::to_owned));
            let records =
                out.records().iter().map(|r| lambda_record(r, &self.stream_arn)).collect::<anyhow::Result<Vec<_>>>()?;
            delivered += records.len();
            self.deliver(records).await;
        }
        Ok(delivered)
    }

    /// Polls until the stream has nothing more.
    pub async fn drain(&mut self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            match self.poll_once().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// One batch, with Lambda's retry semantics for reported item failures.
    async fn deliver(&mut self, mut batch: Vec<EventRecord>) {
        let mut attempts: BTreeMap<String, u32> = BTreeMap::new();
        while !batch.is_empty() {
            let response = changelog::process(self.history.as_ref(), &batch).await;
            let failed: Vec<String> =
                response.batch_item_failures.into_iter().filter_map(|f| f.item_identifier).collect();
            let Some(first) =
                batch.iter().position(|r| r.change.sequence_number.as_ref().is_some_and(|s| failed.contains(s)))
            else {
                return;
            };
            let seq = batch[first].change.sequence_number.clone().unwrap_or_default();
            let n = attempts.entry(seq.clone()).or_default();
            *n += 1;
            if *n >= self.max_attempts {
                tracing::error!(sequence = %seq, "stream record failed every attempt: dead letter");
                self.dead_letters.push(seq);
                batch.drain(..=first);
            } else {
                batch.drain(..first);
            }
        }
    }

    /// Polls forever, every `interval`.
    pub fn spawn(mut self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.poll_once().await {
                    tracing::warn!(error = %format!("{e:#}"), "stream poll failed");
                }
                tokio::time::sleep(interval).await;
            }
        })
    }
}
