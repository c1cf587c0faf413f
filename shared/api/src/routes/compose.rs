//! `POST /v1/tenants/{id}/import-compose`: a tenant's docker-compose file as the registry's
//! record of its components and configs. The reading and the diff are the domain's
//! (`domain::compose`); here the recorded side is read, and with `apply` the added and changed
//! records are written in one transaction (the change log records each, as for a `PUT`).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use domain::compose::{self, Change, ComposeDiff, ImportedValue};
use domain::{ComponentVersion, ConfigValue, Role, Stamp, TenantConfig, TenantState};
use serde::Deserialize;
use serde_json::{Value, json};
use store::layout::{self, Record};
use store::{Cond, Key, Query, WriteOp};
use utoipa::ToSchema;

use super::{ctx, tenants};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::persist::{self, App, Tx};

/// A compose file, and whether to apply what it changes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComposeImport {
    /// The docker-compose file's YAML text (at most 128 KiB).
    #[schema(max_length = 131072)]
    pub compose: String,
    /// Write the added and changed records (`false`: only the diff).
    #[serde(default)]
    pub apply: bool,
}

/// At most this many records in one import: one transaction, with the tenant's check.
const MAX_WRITES: usize = 99;

/// Import a tenant's docker-compose file: each service's image tag as a component version, its
/// environment as configs `<service>.<VARIABLE>`. A variable that names a secret is taken only
/// as a reference (`ssm:/…`, `secretsmanager:…`); given a value, the file is refused. Answers
/// the diff against what is recorded; with `"apply": true` the added and changed records are
/// written, all or nothing (what is recorded and not in the file is left as it is).
#[utoipa::path(post, path = "/v1/tenants/{id}/import-compose", tag = "components", request_body = ComposeImport,
    params(("id" = domain::TenantId, Path)),
    responses((status = 200, body = ComposeDiff, description = "The diff (`applied` says whether it was written)."),
        (status = 409, description = "The tenant is EndOfLife (its records are frozen), or a record changed meanwhile \
            (send it again to diff anew)."),
        (status = 422, description = "Not a compose file, a service or variable that is not a component or config name, \
            a secret given by value, or more than 99 changes for one import; `field` names where (e.g. \
            `compose.services.db.environment.DB_PASSWORD`).")))]
pub async fn import_compose(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonBody<ComposeImport>,
) -> Result<axum::Json<ComposeDiff>, ApiError> {
    principal.require(Role::Operator)?;
    let id = tenants::parse_id(&id)?;
    let tenant = tenants::load(&app, &id).await?;
    let composed = compose::read(&body.value.compose).map_err(ApiError::Invalid)?;
    let partition = layout::tenant_partition(&id);
    let recorded_components =
        persist::query_all(app.table.as_ref(), Query::new(None, partition.clone()).prefix(layout::COMPONENT_PREFIX))
            .await?;
    let recorded_configs =
        persist::query_all(app.table.as_ref(), Query::new(None, partition).prefix(layout::CONFIG_PREFIX)).await?;
    let mut components = BTreeMap::new();
    for item in recorded_components.iter().filter(|i| persist::live(i)) {
        let c = ComponentVersion::from_item(item.clone())?;
        components.insert(c.name, c.version);
    }
    let mut configs = BTreeMap::new();
    for item in recorded_configs.iter().filter(|i| persist::live(i)) {
        let c = TenantConfig::from_item(item.clone())?;
        if let Some(v) = c.as_value() {
            configs.insert(c.key, imported(v));
        }
    }
    let mut diff = compose::diff(&composed, &components, &configs);
    if !body.value.apply || diff.changes == 0 {
        diff.applied = body.value.apply;
        return Ok(axum::Json(diff));
    }
    if tenant.state == TenantState::EndOfLife {
        return Err(ApiError::Conflict(format!("tenant {id} is EndOfLife: its configs and components are frozen")));
    }
    if diff.changes > MAX_WRITES {
        return Err(ApiError::invalid(
            "compose",
            format!("{} changes; at most {MAX_WRITES} fit in one import: split the file", diff.changes),
        ));
    }
    // Each written record continues the revisions of what is at its key (a record, or a
    // deleted one's tombstone), on the condition that it is still there.
    let revision_at = |key: &Key| {
        let mut items = recorded_components.iter().chain(&recorded_configs);
        items.find(|i| Key::of(i).as_ref() == Some(key)).and_then(|i| i.get("revision").and_then(Value::as_u64))
    };
    let write_ctx = ctx(&principal);
    let stamp_for = |key: &Key| match revision_at(key) {
        Some(r) => (Stamp { revision: r + 1, ..Stamp::first(&write_ctx) }, Cond::RevisionIs(r)),
        None => (Stamp::first(&write_ctx), Cond::NotExists),
    };
    let raced = || ApiError::Conflict("a record changed meanwhile; send the import again to diff anew".into());
    let mut tx = Tx::new();
    for c in diff.components.iter().filter(|c| writes(c.change)) {
        let Some(version) = c.compose.clone() else { continue };
        let (stamp, cond) = stamp_for(&layout::component_key(&id, &c.name));
        tx.put(&ComponentVersion { tenant_id: id.clone(), name: c.name.clone(), version, stamp }, cond, raced())?;
    }
    for c in diff.configs.iter().filter(|c| writes(c.change)) {
        let Some(value) = c.compose.clone() else { continue };
        let (stamp, cond) = stamp_for(&layout::config_key(&id, &c.key));
        tx.put(&TenantConfig::new(id.clone(), c.key.clone(), config_value(value), stamp), cond, raced())?;
    }
    tx.push(
        WriteOp::Check {
            key: layout::tenant_key(&id),
            cond: Cond::FieldIsNot("state".into(), json!(TenantState::EndOfLife.as_str())),
        },
        ApiError::Conflict(format!("tenant {id} does not exist or is EndOfLife")),
    );
    tx.commit(app.table.as_ref()).await?;
    diff.applied = true;
    Ok(axum::Json(diff))
}

fn writes(c: Change) -> bool {
    matches!(c, Change::Added | Change::Changed)
}

fn imported(v: ConfigValue) -> ImportedValue {
    match v {
        ConfigValue::Plain(p) => ImportedValue::Value(p),
        ConfigValue::Secret(r) => ImportedValue::SecretRef(r),
    }
}

fn config_value(v: ImportedValue) -> ConfigValue {
    match v {
        ImportedValue::Value(p) => ConfigValue::Plain(p),
        ImportedValue::SecretRef(r) => ConfigValue::Secret(r),
    }
}
