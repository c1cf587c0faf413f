//! The engine's SSM adapter against moto.
//!
//! What moto 5.2.5 does, and these tests pin down:
//! - `SendCommand` accepts any string as an instance id (no EC2 instance needs to exist) and adds
//!   every EC2 instance of the region to the command (an empty `Targets` matches all of them);
//!   nothing in this suite creates EC2 instances.
//! - Every invocation is `Success` at once, with empty output: a failing or running command
//!   cannot be played on moto (the status logic is unit-tested in the engine instead).
//! - `GetCommandInvocation` for an instance the command was not sent to is
//!   `InvocationDoesNotExist` (read as `Running`, as right after a send on AWS); for an unknown
//!   command id it is `InvalidCommandId`.

use std::collections::BTreeSet;

use engine::remote::{CommandStatus, RemoteCommands, RemoteError, SsmCommands};
use integration_tests::moto;

async fn ssm() -> aws_sdk_ssm::Client {
    let config = devstack::local_aws_config(&moto().endpoint).await;
    aws_sdk_ssm::Client::new(&config)
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_command_is_sent_as_a_shell_script_and_moto_reports_it_succeeded() {
    let client = ssm().await;
    let remote = SsmCommands::new(client.clone());
    // Made-up ids: moto checks nothing about them.
    let instances = ids(&["i-0a1b2c3d4e5f60718", "i-0f1e2d3c4b5a69788"]);
    let commands = ids(&["cd /opt/app", "ansible-playbook -i localhost, upgrade.yml -e release=2.4.0"]);
    let comment = format!("chg_01 upgrade {}", "x".repeat(200));

    let id = remote.send(&instances, &commands, &comment).await.expect("send");
    assert!(!id.is_empty());
    assert_eq!(remote.status(&id, &instances).await.unwrap(), CommandStatus::Succeeded);
    assert_eq!(remote.status(&id, &instances[..1]).await.unwrap(), CommandStatus::Succeeded);

    // What was sent, as SSM recorded it.
    let listed = client.list_commands().command_id(&id).send().await.expect("ListCommands");
    let cmd = &listed.commands()[0];
    assert_eq!(cmd.document_name(), Some("AWS-RunShellScript"));
    let params = cmd.parameters().expect("parameters");
    assert_eq!(params.get("commands"), Some(&commands));
    assert_eq!(params.get("executionTimeout"), Some(&ids(&["3600"])));
    assert_eq!(cmd.timeout_seconds(), Some(600));
    let sent_comment = cmd.comment().unwrap_or_default();
    assert!(sent_comment.starts_with("chg_01 upgrade xxx") && sent_comment.chars().count() == 100, "{sent_comment}");
    // moto adds every EC2 instance of the region (none here) and may reorder: compare as sets.
    let sent_to: BTreeSet<&str> = cmd.instance_ids().iter().map(String::as_str).collect();
    assert!(instances.iter().all(|i| sent_to.contains(i.as_str())), "{sent_to:?}");
}

#[tokio::test]
async fn an_instance_the_command_was_not_sent_to_reads_as_running() {
    let remote = SsmCommands::new(ssm().await);
    let id = remote.send(&ids(&["i-0aaaaaaaaaaaaaaa1"]), &ids(&["true"]), "chg_02").await.unwrap();
    // moto answers InvocationDoesNotExist, which AWS also answers right after a send.
    assert_eq!(remote.status(&id, &ids(&["i-0bbbbbbbbbbbbbbb2"])).await.unwrap(), CommandStatus::Running);
    // Succeeded on one instance, unknown on the other: not done yet.
    assert_eq!(
        remote.status(&id, &ids(&["i-0aaaaaaaaaaaaaaa1", "i-0bbbbbbbbbbbbbbb2"])).await.unwrap(),
        CommandStatus::Running
    );
}

#[tokio::test]
async fn an_unknown_command_id_is_refused() {
    let remote = SsmCommands::new(ssm().await);
    let err = remote.status("00000000-0000-0000-0000-000000000000", &ids(&["i-0aaaaaaaaaaaaaaa1"])).await.unwrap_err();
    assert!(matches!(&err, RemoteError::Refused(m) if m.contains("00000000-0000")), "{err:?}");
}

#[tokio::test]
async fn a_command_without_instances_or_lines_is_refused_before_ssm_is_called() {
    let remote = SsmCommands::new(ssm().await);
    assert!(matches!(remote.send(&[], &ids(&["true"]), "x").await, Err(RemoteError::Refused(_))));
    assert!(matches!(remote.send(&ids(&["i-1"]), &[], "x").await, Err(RemoteError::Refused(_))));
    let many: Vec<String> = (0..51).map(|n| format!("i-{n:017x}")).collect();
    assert!(matches!(remote.send(&many, &ids(&["true"]), "x").await, Err(RemoteError::Refused(_))));
}
