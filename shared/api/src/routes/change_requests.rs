//! Change requests over HTTP: each route parses, calls the change-request core
//! (`shared/changes`) as the caller, and answers. The rules (the lifecycle table, the claim, who
//! decides, how a change ends) are the core's.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use changes::ChangeCreate;
use domain::{ChangeParams, ChangeRequestId, Operation, TenantChangeRequest, Text};
use serde::Deserialize;
use store::layout;
use store::{Index, Query};
use utoipa::ToSchema;

use super::{path_param, tenants};
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{IdempotencyKey, JsonBody, QueryParams};
use crate::pagination::{ListParams, ListResponse};
use crate::persist::{self, App, Idempotency, Stored};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequestCreate {
    pub operation: Operation,
    #[serde(default, deserialize_with = "object_only")]
    pub params: ChangeParams,
    /// Why (a ticket, an incident).
    #[serde(default)]
    pub reason: Option<Text>,
    /// `true`: write nothing, answer `200` with what it would do (the entry a rollout's plan
    /// gives the tenant).
    #[serde(default)]
    pub dry_run: bool,
}

/// One shape of [`ChangeRequestCreate`]: the operations that take the same change models and
/// need the same parameters, read from the lifecycle table (the models) and from
/// [`ChangeParams::check_for`] (the parameters). `provision` has none: it is started only by
/// creating a tenant.
struct Shape {
    operations: Vec<Operation>,
    models: &'static [domain::ChangeModel],
    release: bool,
    backup: bool,
}

impl Shape {
    fn all() -> Vec<Shape> {
        let needs =
            |op: Operation, field: &str| matches!(ChangeParams::default().check_for(op), Err(e) if e.field == field);
        let mut shapes: Vec<Shape> = Vec::new();
        for op in Operation::ALL {
            let rule = domain::lifecycle::rule(op);
            if rule.from.is_empty() {
                continue;
            }
            let (models, release, backup) = (rule.models, needs(op, "params.release"), needs(op, "params.backup_id"));
            match shapes.iter_mut().find(|s| (s.models, s.release, s.backup) == (models, release, backup)) {
                Some(shape) => shape.operations.push(op),
                None => shapes.push(Shape { operations: vec![op], models, release, backup }),
            }
        }
        shapes
    }

    /// Its name in the document, unique by construction: `ChangeRequestCreate`, then the models
    /// (`MaintenanceOrSwap`), then `WithRelease` / `WithBackup` (each shape is named, so that a
    /// client generator makes one model of each, not one per place it appears).
    fn name(&self, of: &str) -> String {
        let camel = |s: &str| s.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect::<String>();
        let models: Vec<String> = self.models.iter().map(|m| camel(m.as_str())).collect();
        let mut name = format!("{of}{}", models.join("Or"));
        if self.release {
            name += "WithRelease";
        }
        if self.backup {
            name += "WithBackup";
        }
        name
    }

    fn params(&self) -> utoipa::openapi::schema::Schema {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let models: Vec<serde_json::Value> =
            self.models.iter().map(|m| m.as_str().into()).chain([serde_json::Value::Null]).collect();
        let mut params = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "change_model",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .enum_values(Some(models)),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        params = match self.release {
            true => params.property("release", Ref::from_schema_name("ReleaseVersion")).required("release"),
            false => params.property("release", null()),
        };
        params = match self.backup {
            true => params.property("backup_id", Ref::from_schema_name("BackupId")).required("backup_id"),
            false => params.property("backup_id", null()),
        };
        params
            .description(Some("What the operations take: a change model they accept (their default when left out)"))
            .into()
    }

    fn request(&self) -> utoipa::openapi::schema::Schema {
        use utoipa::openapi::Ref;
        use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, OneOfBuilder, Type};
        let names: Vec<&str> = self.operations.iter().map(|op| op.as_str()).collect();
        let reason =
            OneOfBuilder::new().item(ObjectBuilder::new().schema_type(Type::Null)).item(Ref::from_schema_name("Text"));
        let mut request = ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("operation", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)))
            .required("operation")
            .property("params", Ref::from_schema_name(self.name("ChangeParams")))
            .property("reason", reason)
            .property(
                "dry_run",
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .description(Some("`true`: nothing is written; `200` with what the change request would do.")),
            )
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        if self.release || self.backup {
            request = request.required("params");
        }
        request.into()
    }
}

/// One branch per [`Shape`], each naming its operations.
impl utoipa::PartialSchema for ChangeRequestCreate {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::OneOfBuilder;
        use utoipa::openapi::{Ref, RefOr};
        let one_of = Shape::all()
            .iter()
            .fold(OneOfBuilder::new(), |one_of, shape| one_of.item(Ref::from_schema_name(shape.name("ChangeRequestCreate"))))
            .description(Some(
                "An operation and what it takes: `upgrade` needs `params.release`, `restore` needs \
                 `params.backup_id`; `params.change_model` is one the operation accepts (its default when \
                 left out); `reason` says why (a ticket, an incident).",
            ))
            .examples([serde_json::json!({"operation": "upgrade", "params": {"release": "3.2.0", "change_model": "maintenance"}, "reason": "CHG-1042"})]);
        RefOr::T(one_of.into())
    }
}

impl ToSchema for ChangeRequestCreate {
    fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
        use utoipa::PartialSchema;
        schemas.push(("ReleaseVersion".into(), domain::ReleaseVersion::schema()));
        schemas.push(("BackupId".into(), domain::BackupId::schema()));
        schemas.push(("Text".into(), Text::schema()));
        for shape in Shape::all() {
            schemas.push((shape.name("ChangeRequestCreate"), shape.request().into()));
            schemas.push((shape.name("ChangeParams"), shape.params().into()));
        }
    }
}

/// `params` must be a JSON object (serde would also take an array, by field position).
fn object_only<'de, D: serde::Deserializer<'de>>(d: D) -> Result<ChangeParams, D::Error> {
    struct Object;
    impl<'de> serde::de::Visitor<'de> for Object {
        type Value = ChangeParams;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ChangeParams, A::Error> {
            ChangeParams::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(Object)
}

/// Why an admin aborts a running change request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortRequest {
    /// Required: recorded on the change request with who aborted it.
    pub reason: Text,
}

/// Request a lifecycle operation on a tenant. `202` with the change request, which is
/// `running` (its execution started) or `awaiting_approval` (`terminate`, `restore`). With
/// `"dry_run": true` nothing is written (an `Idempotency-Key` is not used) and the answer is
/// `200` with what it would do, as `POST /v1/rollouts/plan` says it of each tenant: whether it
/// would run or why not (`state`, `busy`, `same_release`, `downgrade`), its plan (states and
/// ends) and an upgrade's component changes. Params the request would refuse whatever the
/// tenant are refused alike (`422`).
#[utoipa::path(post, path = "/v1/tenants/{id}/change-requests", tag = "change requests", request_body = ChangeRequestCreate,
    params(("id" = domain::TenantId, Path), IdempotencyKey),
    responses((status = 202, body = TenantChangeRequest, headers(("Location" = String, description = "Where the change request is."))),
        (status = 200, body = domain::PlannedTenant, description = "A dry run: what it would do; nothing was written."),
        (status = 409, description = "The operation is not allowed in the tenant's state, or the tenant is busy with another change request."),
        (status = 422, description = "A value is not acceptable, or the release of an upgrade is unknown, not available or \
            the one the tenant runs; `field` names it.")))]
pub async fn create_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    idem: IdempotencyKey,
    body: JsonBody<ChangeRequestCreate>,
) -> Result<Response, ApiError> {
    let caller = principal.caller();
    caller.require(domain::Role::Operator)?;
    let tenant_id = tenants::parse_id(&id)?;
    if body.value.dry_run {
        let cmd = body.value;
        let change = ChangeCreate { operation: cmd.operation, params: cmd.params, reason: cmd.reason };
        let planned = app.changes.plan_change(&tenant_id, change, &caller).await?;
        return Ok(axum::Json(planned).into_response());
    }
    let route = format!("POST /v1/tenants/{tenant_id}/change-requests");
    let idem = match Idempotency::begin(&app, &principal, idem, &route, &body.sha256).await? {
        Ok(i) => i,
        Err(replay) => return Ok(replay),
    };
    let cmd = body.value;
    let change = ChangeCreate { operation: cmd.operation, params: cmd.params, reason: cmd.reason };
    let prepared = app.changes.prepare(&tenant_id, change, &caller).await?;
    let cr = prepared.change_request();
    let answer = Stored::record(StatusCode::ACCEPTED, cr, Some(format!("/v1/change-requests/{}", cr.id)))?;
    idem.submit(&app, prepared, answer).await
}

fn parse_id(raw: &str) -> Result<ChangeRequestId, ApiError> {
    path_param("id", raw, ChangeRequestId::parse)
}

/// Approve a change request that awaits approval; it starts at once. Or, when it runs and waits
/// at a gate (a swap's cut-over: `gate` on the change request), approve what the gate waits for;
/// its workflow goes on. Admins only, and not the admin who requested it.
#[utoipa::path(post, path = "/v1/change-requests/{id}/approve", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 202, body = TenantChangeRequest), (status = 403, description = "Admins only, and not the admin who requested it."),
        (status = 409, description = "It does not await approval.")))]
pub async fn approve_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let approved = app.changes.approve(&parse_id(&id)?, &principal.caller()).await?;
    Ok(Stored::record(StatusCode::ACCEPTED, &approved, None)?.into_response())
}

/// Reject a change request that awaits approval; its tenant is released. Or, when it runs and
/// waits at a gate, reject what the gate waits for: its workflow rolls back. Admins only.
#[utoipa::path(post, path = "/v1/change-requests/{id}/reject", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 403, description = "Admins only, and not the admin who requested it."),
        (status = 409, description = "It does not await approval.")))]
pub async fn reject_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&app.changes.reject(&parse_id(&id)?, &principal.caller()).await?)
}

/// Cancel a change request that has not started; its tenant is released. Its requester or an
/// admin.
#[utoipa::path(post, path = "/v1/change-requests/{id}/cancel", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 403, description = "Only its requester or an admin."),
        (status = 409, description = "It has started (an admin may abort it) or ended.")))]
pub async fn cancel_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&app.changes.cancel(&parse_id(&id)?, &principal.caller()).await?)
}

/// Abort an active change request: its execution and the Jenkins build or SSM command it runs
/// are stopped, it ends `cancelled` with who aborted it and why, and the tenant goes where a
/// failure of the operation goes. Admins only; the reason is required.
#[utoipa::path(post, path = "/v1/change-requests/{id}/abort", tag = "change requests", request_body = AbortRequest,
    params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest), (status = 403, description = "Admins only."),
        (status = 409, description = "The change request already ended.")))]
pub async fn abort_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonBody<AbortRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    persist::ok(&app.changes.abort(&id, &principal.caller(), body.value.reason).await?)
}

/// Roll back a change request in its fallback window (a swap keeps its old side for
/// `fallback_seconds` after the cut-over): its workflow moves traffic back to the old side and
/// writes back what the registry recorded before. Admins only; the reason is required.
#[utoipa::path(post, path = "/v1/change-requests/{id}/rollback", tag = "change requests", request_body = AbortRequest,
    params(("id" = ChangeRequestId, Path)),
    responses((status = 202, body = TenantChangeRequest), (status = 403, description = "Admins only."),
        (status = 409, description = "It is in no fallback window, or was asked to roll back already.")))]
pub async fn rollback_change_request(
    State(app): State<App>,
    principal: Principal,
    Path(id): Path<String>,
    body: JsonBody<AbortRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let cr = app.changes.request_rollback(&id, &principal.caller(), body.value.reason).await?;
    Ok(Stored::record(StatusCode::ACCEPTED, &cr, None)?.into_response())
}

/// A change request: its status, steps and the execution it runs as.
#[utoipa::path(get, path = "/v1/change-requests/{id}", tag = "change requests", params(("id" = ChangeRequestId, Path)),
    responses((status = 200, body = TenantChangeRequest)))]
pub async fn get_change_request(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    persist::ok(&app.changes.change_request(&parse_id(&id)?).await?)
}

/// The change requests of a tenant, newest first.
#[utoipa::path(get, path = "/v1/tenants/{id}/change-requests", tag = "change requests",
    params(("id" = domain::TenantId, Path), ListParams), responses((status = 200, body = ListResponse<TenantChangeRequest>)))]
pub async fn list_tenant_change_requests(
    State(app): State<App>,
    _: Principal,
    Path(id): Path<String>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<axum::Json<ListResponse<TenantChangeRequest>>, ApiError> {
    let id = tenants::parse_id(&id)?;
    let q = Query::new(Some(Index::Gsi1), layout::change_requests_of_tenant(&id)).newest_first();
    Ok(axum::Json(persist::list_children(&app, q, &params, tenants::load(&app, &id)).await?))
}
