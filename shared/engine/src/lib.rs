//! The lifecycle engine's ports — what a change request needs from the outside world — with
//! their AWS/HTTP adapters and in-memory fakes:
//!
//! - [`Workflows`]: start the Step Functions execution of a change request (named by its id),
//!   and wake a task that waits on its token.
//! - [`CallbackKey`]: the key Jenkins signs its completion callbacks with (`callback_key.rs`).
//! - [`Jenkins`]: trigger a job of the vendor's "SaaS Jenkins", follow it to its result, find it
//!   again by its step, stop it (`jenkins/{mod,http,memory}.rs`).
//! - [`RemoteCommands`]: run an allow-listed Ansible playbook on a tenant's EC2s through the
//!   project's SSM document, follow, find and cancel it (`remote/{mod,ssm,memory}.rs`).
//! - [`Secrets`]: new versions of a tenant's secrets with a generated value that never leaves the
//!   store, and the labels that say which one is current (`secrets/{mod,ssm,memory}.rs`).
//! - [`Alarms`]: create and delete the tenants' CloudWatch alarms (`metrics/{mod,cloudwatch,memory}.rs`).
//! - [`UpdateManager`]: a tenant's Update Manager API: what its product meters, what its box runs, an install
//!   (`update_manager/{mod,http,memory}.rs`).

pub mod callback_key;
pub mod jenkins;
pub mod metrics;
pub mod remote;
pub mod secrets;
pub mod update_manager;
pub mod workflows;

pub use callback_key::{CallbackKey, FixedCallbackKey, KeyBytes, KeyError, NoCallbackKey, SsmCallbackKey};
pub use jenkins::{
    BuildResult, BuildStatus, HttpJenkins, Jenkins, JenkinsError, JenkinsSetupError, JobScript, MemoryJenkins,
    QueuedBuild, STEP_ID_PARAM, Triggered, console_url,
};
pub use metrics::{Alarms, AlarmsError, CloudWatchAlarms, MemoryAlarms};
pub use remote::{CommandScript, CommandStatus, MemoryCommands, RemoteCommands, RemoteError, SentCommand, SsmCommands};
pub use secrets::{MemorySecrets, SecretError, SecretVersion, Secrets, SsmSecrets};
pub use update_manager::{HttpUpdateManager, MemoryUpdateManager, NoUpdateManager, UpdateManager, UpdateManagerError};
pub use workflows::{ExecutionStatus, WorkflowError, Workflows};
