//! What the state machine sends each task and what each answers: typed, both ways. A task
//! names its step (by its index in the plan, or its name); what the step does is read from the
//! plan the change request stored at `begin`, never from the payload.

use chrono::{DateTime, Utc};
use domain::ChangeRequestId;
use domain::lifecycle::Step;
use engine::QueuedBuild;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    /// It failed and its rollback ran to the end (or there was nothing to undo).
    RolledBack,
}

/// Which step of the stored plan a task is for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StepRef {
    /// Its index in the plan (`$$.Map.Item.Index`).
    #[serde(default)]
    pub index: Option<usize>,
    /// The step as the Map item carried it: only its name is read, to find it in the plan when
    /// no index is given.
    #[serde(default)]
    pub step: Option<Value>,
}

/// A Jenkins build being followed: what `jenkins_start` answers and `jenkins_poll` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildTicket {
    pub build: QueuedBuild,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub done: bool,
}

/// An SSM command being followed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandTicket {
    pub command_id: String,
    pub instance_ids: Vec<String>,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub done: bool,
}

/// What a task state of the workflow asks for.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Task {
    Begin {
        change_request_id: ChangeRequestId,
    },
    Transition {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    JenkinsStart {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    JenkinsPoll {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
        ticket: BuildTicket,
    },
    /// The wait for a build's end: a `.waitForTaskToken` state, woken by the job's callback or
    /// timed out by its heartbeat.
    JenkinsAwait {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
        ticket: BuildTicket,
        task_token: String,
    },
    SsmSend {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    SsmPoll {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
        ticket: CommandTicket,
    },
    /// A step that records (or, in a rollback, writes back) the release the tenant runs.
    Record {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    /// A rotation's secret step: a new version, or its promotion.
    Secret {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    /// A gate: waits for a second admin's decision.
    Approval {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    /// A fallback window: waits its seconds, or an admin's rollback.
    Window {
        change_request_id: ChangeRequestId,
        #[serde(flatten)]
        at: StepRef,
    },
    /// A step of the change failed: whether it rolls back, and the rollback's steps.
    Rollback {
        change_request_id: ChangeRequestId,
        #[serde(default)]
        error: Option<Value>,
    },
    Finish {
        change_request_id: ChangeRequestId,
        outcome: Outcome,
        #[serde(default)]
        error: Option<Value>,
    },
    /// The failure path's own fallback, when `finish` with `failed` itself failed: ends the
    /// change request failed and releases the tenant, retrying its write until it lands.
    Release {
        change_request_id: ChangeRequestId,
        #[serde(default)]
        error: Option<Value>,
    },
}

impl Task {
    /// The change request the task is for.
    pub fn change_request_id(&self) -> &ChangeRequestId {
        match self {
            Self::Begin { change_request_id }
            | Self::Transition { change_request_id, .. }
            | Self::JenkinsStart { change_request_id, .. }
            | Self::JenkinsPoll { change_request_id, .. }
            | Self::JenkinsAwait { change_request_id, .. }
            | Self::SsmSend { change_request_id, .. }
            | Self::SsmPoll { change_request_id, .. }
            | Self::Record { change_request_id, .. }
            | Self::Secret { change_request_id, .. }
            | Self::Approval { change_request_id, .. }
            | Self::Window { change_request_id, .. }
            | Self::Rollback { change_request_id, .. }
            | Self::Finish { change_request_id, .. }
            | Self::Release { change_request_id, .. } => change_request_id,
        }
    }
}

/// What `begin` answers: the steps the Map runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Begun {
    pub steps: Vec<Step>,
}

/// A step with its index in the stored plan (the rollback's Map items: its steps do not start
/// at 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedStep {
    pub index: usize,
    pub step: Step,
}

/// What `rollback` answers: whether the change rolls back at all (when not, it finishes
/// failed), whether there is anything to run, and the steps to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackPlanned {
    pub rolls_back: bool,
    pub run: bool,
    pub steps: Vec<IndexedStep>,
}

/// What a step without polling answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepDone {
    pub done: bool,
}
