//! The state diagram of the README, drawn from the table.

use std::collections::BTreeMap;
use std::fmt;

use super::LIFECYCLE;
use super::plan::{Plan, op_name};
use crate::{ChangeModel, TenantState};

use TenantState as S;

/// The state diagram (`stateDiagram-v2`) drawn from the table, for the README. One edge per
/// (from → first step), per step, and per end, each labelled with the operations taking it; a
/// failure that leaves the tenant where it was draws no edge.
pub fn mermaid() -> String {
    let mut edges: BTreeMap<(Node, Node), Vec<String>> = BTreeMap::new();
    let mut add = |from: Node, to: Node, label: String| {
        let labels = edges.entry((from, to)).or_default();
        if !labels.contains(&label) {
            labels.push(label);
        }
    };

    for rule in &LIFECYCLE {
        let op = op_name(rule.operation);
        let mut starts: Vec<(TenantState, Vec<Option<ChangeModel>>)> = Vec::new();
        if let Some(created) = rule.on_creation {
            let label = if rule.from.is_empty() { "create" } else { "import" };
            add(Node::Start, Node::State(created), format!("{label} ({op})"));
            starts.push((created, vec![rule.default_model]));
        }
        for &from in rule.from {
            starts.push((from, rule.models.iter().copied().map(Some).collect()));
        }
        for (started, models) in starts {
            for model in models {
                let p = Plan::new(rule, started, model);
                let mut at = started;
                // Where the tenant may be when the work fails.
                let mut positions = vec![started];
                for &s in &p.through {
                    add(Node::State(at), Node::State(s), op.to_owned());
                    positions.push(s);
                    at = s;
                }
                // Where the last step already is the end (`mark_broken`), no loop onto itself.
                if at != p.success_state() || p.through.is_empty() {
                    add(Node::State(at), Node::State(p.success_state()), op.to_owned());
                }
                if p.enter.is_some() {
                    positions.remove(0);
                }
                // With `swap`, nothing has touched the live side before its first step: a failure
                // there has nothing to roll back.
                let untouched = if rule.route(model).entered_at_start { None } else { Some(started) };
                for &pos in &positions {
                    let failed = p.failure_state();
                    if failed != pos {
                        add(Node::State(pos), Node::State(failed), format!("{op} failed"));
                    }
                    if Some(pos) == untouched {
                        continue;
                    }
                    if let Some(end) = p.on_rollback_failure {
                        let end = end.resolve(started);
                        if end != pos {
                            add(Node::State(pos), Node::State(end), format!("{op} rollback failed"));
                        }
                    }
                }
            }
        }
    }
    add(Node::State(S::EndOfLife), Node::End, "resources deleted".to_owned());

    let mut out = String::from("stateDiagram-v2\n");
    for ((from, to), mut labels) in edges {
        // `backup, backup failed` says no more than `backup`.
        let plain = labels.clone();
        labels.retain(|l| !l.strip_suffix(" failed").is_some_and(|op| plain.iter().any(|p| p == op)));
        out.push_str(&format!("    {from} --> {to}: {}\n", labels.join(", ")));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Node {
    Start,
    State(TenantState),
    End,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start | Self::End => f.write_str("[*]"),
            Self::State(s) => f.write_str(s.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;

    #[test]
    fn the_diagram_is_drawn_from_the_table() {
        let d = mermaid();
        assert!(d.starts_with("stateDiagram-v2\n"));
        assert!(d.lines().count() > 20);
        for s in TenantState::ALL {
            assert!(d.contains(s.as_str()), "{s} missing from\n{d}");
        }
        for op in Operation::ALL {
            assert!(d.contains(op_name(op)), "{op:?} missing from\n{d}");
        }
        for edge in [
            "[*] --> Provisioning: create (provision)",
            "[*] --> InTesting: import (validate)",
            "Healthy --> Maintenance: enter_maintenance, upgrade, rotate_db_password, rotate_airflow_password",
            "EndOfLife --> [*]",
        ] {
            assert!(d.contains(edge), "{edge} missing from\n{d}");
        }
        assert!(d.lines().any(|l| l.starts_with("    Healthy --> Broken:") && l.contains("mark_broken")), "{d}");
        // An alarm on a broken tenant changes nothing: no loop onto itself for `mark_broken`
        // (a license installed on a broken tenant does loop: it stays `Broken`).
        assert!(!d.lines().any(|l| l.starts_with("    Broken --> Broken:") && l.contains("mark_broken")), "{d}");
        // Swap leaves the live side alone: no "rollback failed" straight from where it started.
        assert!(!d.contains("Healthy --> Broken: upgrade"), "{d}");
        assert!(d.contains("    BackingUp --> Healthy: backup\n"), "{d}");
        assert_eq!(d, mermaid(), "deterministic");
    }
}

#[cfg(test)]
mod readme {
    /// The README draws the lifecycle; it must be the diagram the table generates.
    #[test]
    fn the_readme_diagram_is_the_generated_one() {
        let readme = include_str!("../../../../README.md");
        let diagram = super::mermaid();
        if std::env::var_os("PRINT_LIFECYCLE").is_some() {
            println!("{diagram}");
        }
        assert!(
            readme.contains(diagram.trim()),
            "README.md's lifecycle diagram is stale: run PRINT_LIFECYCLE=1 cargo test --workspace --lib the_readme_diagram -- --nocapture and paste it"
        );
    }
}
