//! Delivers the registry table's stream to the change-log handler the way Lambda's event source
//! mapping does: batches of up to 100 records in order, the Lambda event shape, retries (with
//! backoff) from the first record the handler reports failed, and a dead letter after the last
//! attempt. Used by `make dev` and the integration tests, against moto's DynamoDB Streams.
//!
//! Nothing stalls it silently:
//! - every call it makes has the SDK's timeouts ([`crate::LOCAL_SDK_LIMITS`]) and a whole poll has
//!   its own ([`StreamPoller::poll_timeout`]); a shard iterator moves on only once its batch was
//!   delivered, so a poll that failed or was abandoned is read again;
//! - a read that fails drops its iterator: the next poll takes a new one after the last record
//!   delivered (an expired iterator the same way; trimmed records from the oldest kept, logged);
//! - an iterator that has read nothing for [`StreamPoller::refresh_idle`] is checked against a new
//!   one from the same place; if the new one finds records the old one did not, that is logged
//!   and the poller goes on with the new one (moto once orphaned every iterator this way: see
//!   `tests/stack/moto_launcher.py`);
//! - a shard that answers no next iterator is logged as closed, and read again if the stream
//!   still lists it open;
//! - [`StreamPoller::spawn`] logs a line every [`StreamPoller::report_every`] with what was
//!   delivered and the iterator age (Lambda's `IteratorAge`: how old the newest record of a batch
//!   was when it was handed to the handler), and warns when a batch is older than
//!   [`StreamPoller::lag_warning`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use aws_lambda_events::event::dynamodb::EventRecord;
use aws_sdk_dynamodbstreams::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodbstreams::operation::get_records::{GetRecordsError, GetRecordsOutput};
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use serde_json::{Value, json};
use store::Table;

/// Lambda's default batch size for a DynamoDB stream.
pub const BATCH_SIZE: i32 = 100;

/// Attempts at a batch before its failing record is a dead letter: the stream mapping's
/// `MaximumRetryAttempts: 8` in `infra/template.yaml`, plus the first.
pub const MAX_ATTEMPTS: u32 = 9;

/// What the poller did since it started: its periodic log line and tests read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollerStats {
    pub polls: u64,
    /// Records handed to the handler and logged (dead letters not counted).
    pub delivered: u64,
    pub batches: u64,
    /// Handler attempts that reported failed records (each retried after a backoff).
    pub failed_attempts: u64,
    /// Stream calls that failed (DescribeStream, GetShardIterator, GetRecords) or polls abandoned.
    pub read_errors: u64,
    pub iterators_acquired: u64,
    /// Iterators that had stopped seeing records a new one found.
    pub stale_iterators: u64,
    pub closed_shards: u64,
    pub dead_letters: u64,
    /// The iterator age of the last batch (zero once a read comes back empty: caught up).
    pub iterator_age: Duration,
    pub max_iterator_age: Duration,
    pub shards: usize,
    pub open_shards: usize,
    /// When the poll under way started (`None` between polls), and what it is doing.
    pub poll_started: Option<Instant>,
    pub doing: &'static str,
    /// When a read last came back with records.
    pub last_records_at: Option<Instant>,
}

/// A shared view of a poller's [`PollerStats`], readable while it runs.
#[derive(Debug, Clone, Default)]
pub struct StatsHandle(Arc<Mutex<PollerStats>>);

impl StatsHandle {
    pub fn get(&self) -> PollerStats {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, f: impl FnOnce(&mut PollerStats)) {
        if let Ok(mut s) = self.0.lock() {
            f(&mut s);
        }
    }
}

/// Where the poller is in one shard.
#[derive(Debug)]
struct Shard {
    /// The iterator to read next; `None`: take a new one (after `after`, or from the start).
    iterator: Option<String>,
    /// The sequence number of the last record delivered (or dead-lettered).
    after: Option<String>,
    /// The shard answered no next iterator: read to its end.
    closed: bool,
    /// When the iterator was taken or last read records.
    fresh_since: Instant,
}

impl Shard {
    fn new() -> Self {
        Self { iterator: None, after: None, closed: false, fresh_since: Instant::now() }
    }
}

pub struct StreamPoller {
    client: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    shards: BTreeMap<String, Shard>,
    history: Arc<dyn Table>,
    max_attempts: u32,
    /// The first backoff between attempts at a batch; it doubles up to `max_backoff`.
    initial_backoff: Duration,
    max_backoff: Duration,
    /// How long an iterator may read nothing before it is checked against a new one.
    pub refresh_idle: Duration,
    /// The longest a whole poll may take before it is abandoned (and read again).
    pub poll_timeout: Duration,
    /// How often [`StreamPoller::spawn`] logs what it delivered and its iterator age.
    pub report_every: Duration,
    /// A batch older than this when handed to the handler is logged as a warning.
    pub lag_warning: Duration,
    dead_letters: Vec<String>,
    stats: StatsHandle,
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

fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 10.0).round() / 10.0
}

/// How old `record` is now (zero for one stamped in the future).
fn age(record: &EventRecord) -> Duration {
    (chrono::Utc::now() - record.change.approximate_creation_date_time).to_std().unwrap_or_default()
}

fn sequence(record: &EventRecord) -> Option<String> {
    record.change.sequence_number.clone()
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
        Ok(Self {
            client,
            stream_arn,
            shards: BTreeMap::new(),
            history,
            max_attempts: MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            refresh_idle: Duration::from_secs(5),
            poll_timeout: Duration::from_secs(120),
            report_every: Duration::from_secs(30),
            lag_warning: Duration::from_secs(10),
            dead_letters: Vec::new(),
            stats: StatsHandle::default(),
        })
    }

    /// Attempts at a batch, and the backoff between them (doubling from `initial` up to `max`).
    pub fn with_retries(mut self, max_attempts: u32, initial: Duration, max: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// Sequence numbers of records that still failed after every attempt.
    pub fn dead_letters(&self) -> &[String] {
        &self.dead_letters
    }

    /// What this poller did so far, readable while it runs.
    pub fn stats(&self) -> StatsHandle {
        self.stats.clone()
    }

    /// Lists the stream's shards: new ones are read from their start, closed ones the stream
    /// still lists open are read again, and those it no longer lists are forgotten.
    async fn discover_shards(&mut self) -> anyhow::Result<()> {
        self.stats.update(|s| s.doing = "describing the stream");
        let out =
            self.client.describe_stream().stream_arn(&self.stream_arn).send().await.context("describing the stream")?;
        let listed = out.stream_description().map(|d| d.shards()).unwrap_or_default();
        let mut seen = Vec::new();
        for shard in listed {
            let Some(id) = shard.shard_id() else { continue };
            seen.push(id.to_owned());
            let ended = shard.sequence_number_range().and_then(|r| r.ending_sequence_number()).is_some();
            let known = self.shards.entry(id.to_owned()).or_insert_with(Shard::new);
            if known.closed && !ended && known.fresh_since.elapsed() >= self.refresh_idle {
                tracing::warn!(shard = %id, after = ?known.after,
                    "shard answered no next iterator but the stream lists it open: reading it again after the last record delivered");
                known.closed = false;
                known.fresh_since = Instant::now();
            }
        }
        self.shards.retain(|id, _| seen.contains(id));
        let (shards, open) = (self.shards.len(), self.shards.values().filter(|s| !s.closed).count());
        self.stats.update(|s| (s.shards, s.open_shards) = (shards, open));
        Ok(())
    }

    /// A new iterator for `id`: after the last record delivered, or from the shard's start.
    async fn acquire(&self, id: &str, after: Option<&str>) -> anyhow::Result<String> {
        self.stats.update(|s| s.doing = "getting a shard iterator");
        let request = self.client.get_shard_iterator().stream_arn(&self.stream_arn).shard_id(id);
        let request = match after {
            Some(seq) => request.shard_iterator_type(ShardIteratorType::AfterSequenceNumber).sequence_number(seq),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                self.stats.update(|s| s.read_errors += 1);
                return Err(anyhow!(DisplayErrorContext(e)).context(format!("getting an iterator for shard {id}")));
            }
        };
        self.stats.update(|s| s.iterators_acquired += 1);
        out.shard_iterator().map(str::to_owned).ok_or_else(|| anyhow!("shard {id}: GetShardIterator answered none"))
    }

    async fn read(&self, iterator: &str) -> Result<GetRecordsOutput, SdkError<GetRecordsError>> {
        self.stats.update(|s| s.doing = "reading records");
        self.client.get_records().shard_iterator(iterator).limit(BATCH_SIZE).send().await
    }

    /// Reads one batch of shard `id` and delivers it; answers the records read.
    async fn poll_shard(&mut self, id: &str) -> anyhow::Result<usize> {
        let Some(shard) = self.shards.get(id) else { return Ok(0) };
        if shard.closed {
            return Ok(0);
        }
        let after = shard.after.clone();
        let iterator = match shard.iterator.clone() {
            Some(it) => it,
            None => {
                let it = self.acquire(id, after.as_deref()).await?;
                if let Some(shard) = self.shards.get_mut(id) {
                    shard.fresh_since = Instant::now();
                }
                it
            }
        };
        let mut out = match self.read(&iterator).await {
            Ok(out) => out,
            Err(e) => return Err(self.read_failed(id, e)),
        };
        let idle = self.shards.get(id).map(|s| s.fresh_since.elapsed()).unwrap_or_default();
        if out.records().is_empty() && idle >= self.refresh_idle {
            // Nothing for a while: does a new iterator from the same place see more?
            let fresh = self.acquire(id, after.as_deref()).await?;
            let fresh_out = match self.read(&fresh).await {
                Ok(out) => out,
                Err(e) => return Err(self.read_failed(id, e)),
            };
            if !fresh_out.records().is_empty() {
                tracing::warn!(shard = %id, after = ?after, records = fresh_out.records().len(), idle_s = seconds(idle),
                    "the shard iterator had stopped seeing the stream: a new one found records; going on with it");
                self.stats.update(|s| s.stale_iterators += 1);
            }
            out = fresh_out;
            if let Some(shard) = self.shards.get_mut(id) {
                shard.fresh_since = Instant::now();
            }
        }
        let next = out.next_shard_iterator().map(str::to_owned);
        let mut batch = Vec::new();
        let mut last = None;
        for record in out.records() {
            let seq = record.dynamodb().and_then(|d| d.sequence_number()).map(str::to_owned);
            last = seq.clone().or(last);
            match lambda_record(record, &self.stream_arn) {
                Ok(r) => batch.push(r),
                Err(e) => {
                    let seq = seq.unwrap_or_else(|| record.event_id().unwrap_or_default().to_owned());
                    tracing::error!(shard = %id, sequence = %seq, error = %format!("{e:#}"),
                        "stream record not readable as a Lambda event: dead letter");
                    self.dead_letters.push(seq);
                    self.stats.update(|s| s.dead_letters += 1);
                }
            }
        }
        let read = out.records().len();
        if read > 0 {
            self.stats.update(|s| s.last_records_at = Some(Instant::now()));
        }
        if batch.is_empty() {
            self.stats.update(|s| s.iterator_age = Duration::ZERO);
        } else {
            self.deliver(batch).await;
        }
        // Only now, the batch delivered, does the shard move on.
        let closed = next.is_none();
        if let Some(shard) = self.shards.get_mut(id) {
            shard.iterator = next;
            shard.after = last.or(shard.after.take());
            if read > 0 {
                shard.fresh_since = Instant::now();
            }
            if closed {
                shard.closed = true;
                shard.fresh_since = Instant::now();
                tracing::info!(shard = %id, after = ?shard.after, "shard closed: read to its end");
                self.stats.update(|s| s.closed_shards += 1);
            }
        }
        Ok(read)
    }

    /// A failed read drops the shard's iterator (the next poll takes a new one), and says why.
    fn read_failed(&mut self, id: &str, e: SdkError<GetRecordsError>) -> anyhow::Error {
        self.stats.update(|s| s.read_errors += 1);
        let Some(shard) = self.shards.get_mut(id) else { return anyhow!(DisplayErrorContext(e)) };
        shard.iterator = None;
        let service = e.as_service_error();
        if service.is_some_and(GetRecordsError::is_expired_iterator_exception) {
            tracing::info!(shard = %id, after = ?shard.after, "shard iterator expired: taking a new one after the last record delivered");
        } else if service.is_some_and(GetRecordsError::is_trimmed_data_access_exception) {
            tracing::error!(shard = %id, after = ?shard.after,
                "records after the last one delivered were trimmed before they were read: going on from the oldest kept");
            shard.after = None;
        } else if service.is_some_and(GetRecordsError::is_resource_not_found_exception) {
            tracing::warn!(shard = %id, "shard not found: forgetting it");
            self.shards.remove(id);
        }
        anyhow!(DisplayErrorContext(e)).context(format!("reading shard {id}"))
    }

    /// Reads what the stream has now and delivers it; answers the number of records read. A
    /// failure is logged and counted; it fails the poll only when nothing could be read.
    pub async fn poll_once(&mut self) -> anyhow::Result<usize> {
        self.stats.update(|s| {
            s.polls += 1;
            s.poll_started = Some(Instant::now());
        });
        let polled = self.poll_shards().await;
        self.stats.update(|s| {
            s.poll_started = None;
            s.doing = "waiting for the next poll";
        });
        polled
    }

    async fn poll_shards(&mut self) -> anyhow::Result<usize> {
        let mut problem = None;
        if let Err(e) = self.discover_shards().await {
            self.stats.update(|s| s.read_errors += 1);
            problem = Some(e);
        }
        let mut read = 0;
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            match self.poll_shard(&id).await {
                Ok(n) => read += n,
                Err(e) => {
                    tracing::warn!(shard = %id, error = %format!("{e:#}"), "stream read failed: read again at the next poll");
                    problem.get_or_insert(e);
                }
            }
        }
        match problem {
            Some(e) if read == 0 => Err(e),
            _ => Ok(read),
        }
    }

    /// Every shard's iterator taken again after the last record delivered.
    fn refresh_iterators(&mut self) {
        for shard in self.shards.values_mut().filter(|s| !s.closed) {
            shard.iterator = None;
        }
    }

    /// Polls until the stream has nothing more (also to a new iterator); answers the records
    /// delivered. A read that fails is tried again, up to 10 polls in a row.
    pub async fn drain(&mut self) -> anyhow::Result<usize> {
        let before = self.stats.get().delivered;
        let mut failures = 0;
        let mut confirmed = false;
        loop {
            match self.poll_once().await {
                Ok(0) if confirmed => break,
                Ok(0) => {
                    confirmed = true;
                    self.refresh_iterators();
                }
                Ok(_) => {
                    confirmed = false;
                    failures = 0;
                }
                Err(e) => {
                    failures += 1;
                    if failures >= 10 {
                        return Err(e.context("draining the stream"));
                    }
                    tokio::time::sleep(self.backoff(failures)).await;
                }
            }
        }
        Ok((self.stats.get().delivered - before) as usize)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self.initial_backoff.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        doubled.min(self.max_backoff)
    }

    /// One batch, with Lambda's retry semantics for reported item failures: the batch is sent
    /// again from its first failed record after a backoff, and a record that failed every attempt
    /// is a dead letter.
    async fn deliver(&mut self, mut batch: Vec<EventRecord>) {
        self.stats.update(|s| s.batches += 1);
        let mut attempts: BTreeMap<String, u32> = BTreeMap::new();
        while !batch.is_empty() {
            let age = batch.last().map(age).unwrap_or_default();
            self.stats.update(|s| {
                s.iterator_age = age;
                s.max_iterator_age = s.max_iterator_age.max(age);
            });
            if age >= self.lag_warning {
                tracing::warn!(iterator_age_s = seconds(age), records = batch.len(), "stream delivery is behind");
            }
            self.stats.update(|s| s.doing = "delivering a batch to the change log");
            let response = changelog::process(self.history.as_ref(), &batch).await;
            let failed: Vec<String> =
                response.batch_item_failures.into_iter().filter_map(|f| f.item_identifier).collect();
            let Some(first) = batch.iter().position(|r| sequence(r).is_some_and(|s| failed.contains(&s))) else {
                self.stats.update(|s| s.delivered += batch.len() as u64);
                return;
            };
            self.stats.update(|s| {
                s.delivered += first as u64;
                s.failed_attempts += 1;
            });
            let seq = sequence(&batch[first]).unwrap_or_default();
            let n = attempts.entry(seq.clone()).or_default();
            *n += 1;
            if *n >= self.max_attempts {
                tracing::error!(sequence = %seq, attempts = *n, "stream record failed every attempt: dead letter");
                self.dead_letters.push(seq);
                self.stats.update(|s| s.dead_letters += 1);
                batch.drain(..=first);
            } else {
                let wait = self.backoff(*n);
                tracing::warn!(sequence = %seq, attempt = *n, retry_in_ms = wait.as_millis() as u64,
                    "change log batch failed from this record: retrying");
                batch.drain(..first);
                self.stats.update(|s| s.doing = "waiting to deliver a batch again");
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Polls forever, every `interval`, each poll bounded by [`StreamPoller::poll_timeout`]. In
    /// the same task, a line every [`StreamPoller::report_every`] says what it delivered, its
    /// iterator age, and (as a warning) a poll that has been under way for longer than that.
    pub fn spawn(mut self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let stats = self.stats.clone();
            let every = self.report_every;
            let polling = async move {
                loop {
                    match tokio::time::timeout(self.poll_timeout, self.poll_once()).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "stream poll failed"),
                        Err(_) => {
                            let doing = self.stats.get().doing;
                            self.stats.update(|s| {
                                s.read_errors += 1;
                                s.poll_started = None;
                            });
                            tracing::error!(
                                timeout_s = self.poll_timeout.as_secs(),
                                doing,
                                "stream poll took too long: abandoned, its batch is read again"
                            );
                            self.refresh_iterators();
                        }
                    }
                    tokio::time::sleep(interval).await;
                }
            };
            tokio::pin!(polling);
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            let mut since = stats.get();
            loop {
                tokio::select! {
                    () = &mut polling => return,
                    _ = ticks.tick() => since = report(&stats, &since, every),
                }
            }
        })
    }
}

/// The periodic line: what happened since `since`, the iterator age now, and a poll that has
/// been under way for longer than `every`.
fn report(stats: &StatsHandle, since: &PollerStats, every: Duration) -> PollerStats {
    let now = stats.get();
    let idle = now.last_records_at.map(|t| seconds(t.elapsed()));
    tracing::info!(
        shards = now.shards,
        open_shards = now.open_shards,
        polls = now.polls - since.polls,
        delivered = now.delivered - since.delivered,
        batches = now.batches - since.batches,
        failed_attempts = now.failed_attempts - since.failed_attempts,
        read_errors = now.read_errors - since.read_errors,
        stale_iterators = now.stale_iterators - since.stale_iterators,
        dead_letters = now.dead_letters,
        iterator_age_s = seconds(now.iterator_age),
        max_iterator_age_s = seconds(now.max_iterator_age),
        last_records_s_ago = ?idle,
        "stream poller"
    );
    if let Some(started) = now.poll_started.filter(|t| t.elapsed() >= every) {
        tracing::warn!(under_way_s = seconds(started.elapsed()), doing = now.doing, "stream poll is taking long");
    }
    now
}
