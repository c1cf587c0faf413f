//! Jenkins completion by signed callback: the workflow's wait on a build ends as soon as the
//! build does, instead of at the next poll.
//!
//! 1. The workflow's `JenkinsAwait` task (a `.waitForTaskToken` state) hands its task token to
//!    [`Changes::await_callback`], which keeps it under the step (never in the change request:
//!    the API shows change requests, and a token completes a task).
//! 2. The job, when it ends, posts to `POST /v1/callbacks/jenkins`, signed (`domain::callback`).
//!    [`Changes::jenkins_callback`] checks the signature and the clock, claims the nonce once,
//!    and wakes the waiting task. A forged, stale or replayed callback changes nothing.
//! 3. The workflow then reads the build from Jenkins (its poll), so the callback decides only
//!    *when* the step looks again, never *what* the build did.
//!
//! The wait has a timeout (the step's `heartbeat_seconds`): without a callback the workflow
//! polls at that slow pace, so a lost callback costs time, never the change.

use chrono::{DateTime, Utc};
use domain::callback::{self, CallbackOutcome, CallbackRefusal, JenkinsCallback, SignedHeaders, StepId};
use engine::CallbackKey;
use serde_json::{Value, json};
use store::{Cond, Key, WriteOp};

use crate::{ChangeError, Changes};

/// How long a task token is kept: longer than any step may run.
pub const TOKEN_TTL_SECS: i64 = 2 * 24 * 3600;

/// The key of the token the workflow waits on for one step.
pub fn token_key(step: &StepId) -> Key {
    Key::new(format!("CALLBACK#{step}"), "TOKEN")
}

/// The key of a nonce a callback used.
pub fn nonce_key(nonce: &str) -> Key {
    Key::new(format!("NONCE#{nonce}"), "NONCE")
}

impl From<CallbackRefusal> for ChangeError {
    fn from(r: CallbackRefusal) -> Self {
        Self::Unauthenticated(r.to_string())
    }
}

impl Changes {
    /// The workflow waits on `task_token` for `step`'s build: kept until a callback wakes it.
    pub async fn await_callback(&self, step: &StepId, task_token: &str) -> Result<(), ChangeError> {
        let mut item = token_key(step).to_item();
        item.insert("item_type".into(), Value::String("task_token".into()));
        item.insert("task_token".into(), Value::String(task_token.to_owned()));
        item.insert("ttl".into(), Value::from(Utc::now().timestamp() + TOKEN_TTL_SECS));
        // A later wait (after a heartbeat) replaces the token: only the newest is waited on.
        self.table.write(vec![WriteOp::put(item, Cond::Always)]).await?;
        Ok(())
    }

    /// A callback as it arrived: verified against `key` and `now`, its nonce claimed once, then
    /// the task waiting on its step woken. Refused (`Unauthenticated`) before anything is
    /// written when the signature, the clock or the nonce says no; a body that is signed but
    /// not a callback is `Invalid`.
    pub async fn jenkins_callback(
        &self,
        key: &dyn CallbackKey,
        headers: &SignedHeaders<'_>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<CallbackOutcome, ChangeError> {
        let key = key.key().await.map_err(|e| ChangeError::Unavailable(e.to_string()))?;
        let verified = callback::verify(key.expose(), headers, body, now)?;
        let sent: JenkinsCallback = serde_json::from_slice(body).map_err(|e| {
            let field = if e.to_string().contains("step_id") { "step_id" } else { "" };
            ChangeError::invalid(field, format!("not a Jenkins callback: {e}"))
        })?;
        let step = StepId::parse(&sent.step_id)
            .ok_or_else(|| ChangeError::invalid("step_id", "must be <change request id>-<step index>"))?;
        self.claim_nonce(&verified.nonce, verified.signed_at).await?;
        let token = self.table.get(&token_key(&step)).await?;
        let token = token.as_ref().and_then(|t| t.get("task_token")).and_then(Value::as_str);
        let woke = match token {
            Some(token) => self.workflows.wake(token, &json!({ "callback": true, "result": sent.result })).await?,
            None => false,
        };
        tracing::info!(
            step_id = %step, job = sent.job.as_deref().unwrap_or(""), result = sent.result.as_deref().unwrap_or(""),
            woke, "jenkins callback"
        );
        Ok(CallbackOutcome { step_id: step.to_string(), woke })
    }

    /// Claims `nonce` once: a second use while it is remembered is a replay.
    async fn claim_nonce(&self, nonce: &str, signed_at: DateTime<Utc>) -> Result<(), ChangeError> {
        let mut item = nonce_key(nonce).to_item();
        item.insert("item_type".into(), Value::String("callback_nonce".into()));
        let ttl = signed_at.timestamp() + callback::NONCE_TTL_SECS;
        item.insert("ttl".into(), Value::from(ttl));
        let claim = WriteOp::put(item, Cond::NotExistsOrExpired(Utc::now().timestamp()));
        match self.table.write(vec![claim]).await {
            Ok(()) => Ok(()),
            Err(store::StoreError::ConditionFailed { .. }) => Err(CallbackRefusal::Replayed.into()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use domain::callback::sign;
    use engine::{FixedCallbackKey, KeyBytes};

    use std::sync::Arc;

    use engine::workflows::MemoryWorkflows;
    use store::Table;
    use store::memory::MemoryTable;

    use super::*;

    fn core_with() -> (Changes, Arc<MemoryTable>, Arc<MemoryWorkflows>) {
        let (table, workflows) = (Arc::new(MemoryTable::new()), Arc::new(MemoryWorkflows::new()));
        let core = Changes {
            table: table.clone(),
            workflows: workflows.clone(),
            jenkins: Arc::new(engine::MemoryJenkins::new()),
            remote: Arc::new(engine::MemoryCommands::new()),
            alarms: Arc::new(engine::MemoryAlarms::new()),
        };
        (core, table, workflows)
    }

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    struct Sent {
        ts: String,
        nonce: String,
        sig: String,
        body: Vec<u8>,
    }

    fn signed(step: &str, nonce: &str, at: DateTime<Utc>) -> Sent {
        let body = serde_json::to_vec(&json!({"step_id": step, "job": "upgrade-tenant", "result": "SUCCESS"})).unwrap();
        let ts = at.timestamp().to_string();
        Sent { sig: sign(KEY, &ts, nonce, &body), ts, nonce: nonce.into(), body }
    }

    impl Sent {
        fn headers(&self) -> SignedHeaders<'_> {
            SignedHeaders { timestamp: Some(&self.ts), nonce: Some(&self.nonce), signature: Some(&self.sig) }
        }
    }

    fn key() -> FixedCallbackKey {
        FixedCallbackKey(KeyBytes::new(KEY.to_vec()))
    }

    #[tokio::test]
    async fn a_signed_callback_wakes_the_waiting_task_once() {
        let (core, table, workflows) = core_with();
        let step = StepId::parse(&format!("{}-2", domain::ChangeRequestId::generate())).unwrap();
        core.await_callback(&step, "token-1").await.unwrap();
        workflows.wait_on("token-1");
        let now = Utc::now();
        let sent = signed(&step.to_string(), "nonce-aaaaaaaaaaaaaaaa", now);
        let out = core.jenkins_callback(&key(), &sent.headers(), &sent.body, now).await.unwrap();
        assert_eq!(out, CallbackOutcome { step_id: step.to_string(), woke: true });
        assert_eq!(workflows.wakes("token-1"), vec![json!({"callback": true, "result": "SUCCESS"})]);
        assert!(table.get(&nonce_key("nonce-aaaaaaaaaaaaaaaa")).await.unwrap().is_some());

        // The same callback again is a replay: refused, and nothing is woken again.
        let again = core.jenkins_callback(&key(), &sent.headers(), &sent.body, now).await;
        assert!(matches!(again, Err(ChangeError::Unauthenticated(ref m)) if m.contains("used before")), "{again:?}");
        assert_eq!(workflows.wakes("token-1").len(), 1);

        // A fresh callback for a step nobody waits on is let in and wakes nothing.
        let other = StepId::parse(&format!("{}-0", domain::ChangeRequestId::generate())).unwrap();
        let sent = signed(&other.to_string(), "nonce-bbbbbbbbbbbbbbbb", now);
        let out = core.jenkins_callback(&key(), &sent.headers(), &sent.body, now).await.unwrap();
        assert!(!out.woke);
    }

    #[tokio::test]
    async fn a_forged_or_stale_callback_changes_nothing() {
        let (core, table, workflows) = core_with();
        let step = StepId::parse(&format!("{}-1", domain::ChangeRequestId::generate())).unwrap();
        core.await_callback(&step, "token-2").await.unwrap();
        workflows.wait_on("token-2");
        let now = Utc::now();
        let before = table.len();

        let mut forged = signed(&step.to_string(), "nonce-cccccccccccccccc", now);
        forged.body = serde_json::to_vec(&json!({"step_id": step.to_string(), "result": "FAILURE"})).unwrap();
        let stale = signed(&step.to_string(), "nonce-dddddddddddddddd", now - chrono::Duration::seconds(301));
        let other_key = FixedCallbackKey(KeyBytes::new(b"another key, 32 bytes long......".to_vec()));
        let honest = signed(&step.to_string(), "nonce-eeeeeeeeeeeeeeee", now);
        for (what, sent, key) in
            [("forged", &forged, &key()), ("stale", &stale, &key()), ("wrong key", &honest, &other_key)]
        {
            let r = core.jenkins_callback(key, &sent.headers(), &sent.body, now).await;
            assert!(matches!(r, Err(ChangeError::Unauthenticated(_))), "{what}: {r:?}");
        }
        assert_eq!(table.len(), before, "no nonce was claimed");
        assert!(workflows.wakes("token-2").is_empty());
        // The honest one still works afterwards: a refused callback burned nothing.
        let out = core.jenkins_callback(&key(), &honest.headers(), &honest.body, now).await.unwrap();
        assert!(out.woke);
    }

    #[tokio::test]
    async fn a_signed_body_that_is_not_a_callback_names_its_field() {
        let (core, _, _) = core_with();
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        for (body, field) in [(&br#"{"step_id":"nope"}"#[..], "step_id"), (&br#"{"job":"x"}"#[..], "step_id")] {
            let sig = sign(KEY, &ts, "nonce-ffffffffffffffff", body);
            let h =
                SignedHeaders { timestamp: Some(&ts), nonce: Some("nonce-ffffffffffffffff"), signature: Some(&sig) };
            match core.jenkins_callback(&key(), &h, body, now).await {
                Err(ChangeError::Invalid(e)) => assert_eq!(e.field, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
