//! The lifecycle engine's ports — what a change request needs from the outside world — with
//! their AWS/HTTP adapters and in-memory fakes:
//!
//! - [`Workflows`]: start the Step Functions execution of a change request (named by its id).
//! - [`Jenkins`]: trigger a job of the vendor's "SaaS Jenkins" and follow it to its result.
//! - [`RemoteCommands`]: run an SSM command (Ansible, the Update Manager) on a tenant's EC2s.

pub mod jenkins;
pub mod remote;
pub mod workflows;

pub use jenkins::{
    BuildResult, BuildStatus, HttpJenkins, Jenkins, JenkinsError, JenkinsSetupError, JobScript, MemoryJenkins,
    QueuedBuild, Triggered,
};
pub use remote::{CommandScript, CommandStatus, MemoryCommands, RemoteCommands, RemoteError, SentCommand, SsmCommands};
pub use workflows::{WorkflowError, Workflows};
