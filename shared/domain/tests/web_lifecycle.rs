//! The web portal offers, for a tenant's state, the operations the lifecycle table allows and
//! no other. The API exposes no route for that, so the portal reads
//! `web/src/generated/lifecycle.json`, written from the table here: this test fails when the
//! file and the table differ, and `UPDATE_WEB_LIFECYCLE=1` (what `make web-lifecycle` sets)
//! rewrites it.

use domain::lifecycle::{LIFECYCLE, allowed_operations};
use domain::{Operation, TenantState};
use serde_json::{Map, Value, json};

fn name_of(v: impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn generated() -> Value {
    let allowed_from: Map<String, Value> =
        TenantState::ALL.iter().map(|&s| (name_of(s), json!(allowed_operations(s)))).collect();
    let operations: Map<String, Value> = LIFECYCLE
        .iter()
        .map(|r| {
            let shape = json!({
                "models": r.models,
                "default_model": r.default_model,
                "needs_approval": r.needs_approval,
                "validates": r.validates,
                "takes_release": r.operation == Operation::Upgrade,
                "takes_backup": r.operation == Operation::Restore,
                // Requested by the alarm handler with the alarm's evidence, not by a person.
                "by_alarms_only": r.operation == Operation::MarkBroken,
                // Requested by the core when a license assignment changes, with the assignment.
                "by_licenses_only": r.operation == Operation::ActivateLicense,
            });
            (name_of(r.operation), shape)
        })
        .collect();
    json!({
        "//": "Generated from shared/domain/src/lifecycle/table.rs by shared/domain/tests/web_lifecycle.rs: do not edit.",
        "allowed_from": allowed_from,
        "operations": operations,
    })
}

#[test]
fn the_portals_lifecycle_file_is_the_lifecycle_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/src/generated/lifecycle.json");
    let want = format!("{}\n", serde_json::to_string_pretty(&generated()).expect("the table serializes"));
    if std::env::var_os("UPDATE_WEB_LIFECYCLE").is_some() {
        std::fs::write(&path, &want).expect("writing web/src/generated/lifecycle.json");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{} differs from the lifecycle table: run `make web-lifecycle`", path.display());
}
