//! A parsed command becomes one [`ApiCall`]: its route, path, query, body and headers, how its
//! answer is shown and whether to follow a change request after it. No network here.

use serde_json::{Map, Value, json};

use crate::args::{
    ApiCommand, Backups, Callbacks, ChangeRequests, Cli, Command, Components, Configs, Customers, Fleet, HealthRuns,
    HistoryArgs, Idempotency, LicenseAssignments, Licenses, Meta, Page, Precondition, Releases, Resources, RolloutBody,
    Rollouts, Tenants, Wait,
};
use crate::error::CliError;
use crate::output::View;
use crate::routes::{self, Route};

/// One request to the API, as the command asked for it.
#[derive(Debug)]
pub struct ApiCall {
    pub route: &'static Route,
    /// The path after the base URL, one entry per segment (encoded when sent).
    pub segments: Vec<String>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub idempotency_key: Option<String>,
    pub if_match: Option<String>,
    /// A list: its paging (`--all` follows `next_token`).
    pub page: Option<Page>,
    pub view: View,
    /// `--wait`: after the call, follow a change request of the answer.
    pub follow: Option<Follow>,
    /// A callback: the file of the key its body is signed with when it is sent.
    pub signed_with: Option<std::path::PathBuf>,
    /// A file whose text goes into the body under this field when the call is sent (`-`: stdin).
    pub body_file: Option<(std::path::PathBuf, &'static str)>,
}

/// Which change request `--wait` follows, and what is printed once it ended.
#[derive(Debug, Clone)]
pub struct Follow {
    pub wait: Wait,
    /// The field of the answer that holds the change request's id.
    pub id_field: &'static str,
    /// Print this record (read again by the answer's `id`) instead of the change request.
    pub then_read: Option<&'static Route>,
}

impl ApiCall {
    pub fn new(route: &'static Route, args: &[&str], view: View) -> Self {
        Self {
            route,
            segments: route.segments(args),
            query: Vec::new(),
            body: None,
            idempotency_key: None,
            if_match: None,
            page: None,
            view,
            follow: None,
            signed_with: None,
            body_file: None,
        }
    }

    /// The body as sent: with the text of its file, if it takes one.
    pub fn with_file(&self) -> Result<Option<Value>, CliError> {
        let Some((path, field)) = &self.body_file else { return Ok(self.body.clone()) };
        let text = if path.as_os_str() == "-" {
            std::io::read_to_string(std::io::stdin())?
        } else {
            std::fs::read_to_string(path).map_err(|e| CliError::Usage(format!("reading {}: {e}", path.display())))?
        };
        let mut body = self.body.clone().unwrap_or_else(|| json!({}));
        body[*field] = Value::String(text);
        Ok(Some(body))
    }

    /// The signature headers of a callback (none for any other call): signed now, with a fresh
    /// nonce, under the key in its file, over the bytes the client sends (`reqwest`'s JSON is
    /// `serde_json::to_vec`).
    pub fn signature(&self) -> Result<Vec<(&'static str, String)>, CliError> {
        let Some(key_file) = &self.signed_with else { return Ok(Vec::new()) };
        let key = std::fs::read_to_string(key_file)
            .map_err(|e| CliError::Usage(format!("reading the callback key {}: {e}", key_file.display())))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(CliError::Usage(format!("{} holds no key", key_file.display())));
        }
        let bytes = serde_json::to_vec(self.body.as_ref().unwrap_or(&Value::Null))
            .map_err(|e| CliError::Protocol(e.to_string()))?;
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let nonce = format!("cli-{}", ulid::Ulid::new());
        let signature = domain::callback::sign(key.as_bytes(), &timestamp, &nonce, &bytes);
        Ok(vec![
            (domain::callback::TIMESTAMP_HEADER, timestamp),
            (domain::callback::NONCE_HEADER, nonce),
            (domain::callback::SIGNATURE_HEADER, signature),
        ])
    }

    fn list(route: &'static Route, args: &[&str], page: &Page, columns: &'static [&'static str]) -> Self {
        Self { page: Some(page.clone()), ..Self::new(route, args, View::List(columns)) }
    }

    pub fn record(route: &'static Route, args: &[&str]) -> Self {
        Self::new(route, args, View::Record)
    }

    /// A create: its body and its idempotency key (a new ULID unless given).
    fn create(route: &'static Route, args: &[&str], body: Value, idempotency: &Idempotency) -> Self {
        let key = idempotency.idempotency_key.clone().unwrap_or_else(|| ulid::Ulid::new().to_string());
        Self { body: Some(body), idempotency_key: Some(key), ..Self::record(route, args) }
    }

    /// An update: its body and its `If-Match`.
    fn update(route: &'static Route, args: &[&str], body: Value, precondition: &Precondition) -> Self {
        Self { body: Some(body), if_match: precondition.if_match.clone(), ..Self::record(route, args) }
    }

    fn query(mut self, pairs: &[(&'static str, &Option<String>)]) -> Self {
        self.query.extend(pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone()))));
        self
    }

    fn following(mut self, wait: &Wait, id_field: &'static str, then_read: Option<&'static Route>) -> Self {
        if wait.wait {
            self.follow = Some(Follow { wait: wait.clone(), id_field, then_read });
        }
        self
    }
}

/// A JSON object of the fields that are given (an absent flag is not sent, so a patch leaves it).
fn object<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    Value::Object(fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))).collect())
}

fn text(v: &Option<String>) -> Option<Value> {
    v.as_ref().map(|s| Value::String(s.clone()))
}

/// A repeated flag as a list; `None` when not given (a patch leaves the list as it is).
fn list(v: &[String]) -> Option<Value> {
    (!v.is_empty()).then(|| json!(v))
}

const TENANT_COLUMNS: &[&str] =
    &["id", "name", "state", "release", "customer_id", "region", "active_change_request_id"];
const CHANGE_COLUMNS: &[&str] = &["id", "tenant_id", "operation", "status", "requested_by", "requested_at", "error"];
const HISTORY_COLUMNS: &[&str] = &["at", "actor", "entity", "entity_id", "field", "old", "new", "change_request_id"];
const ASSIGNMENT_COLUMNS: &[&str] = &["id", "customer_id", "license_id", "status", "starts_at", "expires_at"];

impl Cli {
    /// The API call this command makes; `None` for the commands that make none (`login`...).
    pub fn api_call(&self) -> Result<Option<ApiCall>, CliError> {
        match &self.command {
            Command::Api(command) => command.call().map(Some),
            _ => Ok(None),
        }
    }
}

impl ApiCommand {
    fn call(&self) -> Result<ApiCall, CliError> {
        Ok(match self {
            Self::Tenants(c) => c.call(),
            Self::ChangeRequests(c) => c.call()?,
            Self::History(c) => c.call(),
            Self::Configs(c) => c.call(),
            Self::Components(c) => c.call(),
            Self::HealthRuns(c) => c.call(),
            Self::Backups(c) => c.call(),
            Self::Releases(c) => c.call(),
            Self::Customers(c) => c.call(),
            Self::Licenses(c) => c.call(),
            Self::LicenseAssignments(c) => c.call(),
            Self::Resources(c) => c.call(),
            Self::Rollouts(c) => c.call(),
            Self::Fleet(Fleet::Summary) => ApiCall::new(&routes::FLEET_SUMMARY, &[], View::Summary),
            Self::Fleet(Fleet::Drift { page }) => {
                ApiCall::list(&routes::FLEET_DRIFT, &[], page, &["tenant_id", "checked_at", "release", "drifted"])
            }
            Self::Fleet(Fleet::Versions { release, limit, next_token }) => {
                ApiCall::record(&routes::FLEET_VERSIONS, &[]).query(&[
                    ("release", release),
                    ("limit", &limit.map(|n| n.to_string())),
                    ("next_token", next_token),
                ])
            }
            Self::Callbacks(Callbacks::Jenkins { step_id, key_file, result, job }) => ApiCall {
                body: Some(object([("step_id", Some(json!(step_id))), ("job", text(job)), ("result", text(result))])),
                signed_with: Some(key_file.clone()),
                ..ApiCall::record(&routes::JENKINS_CALLBACK, &[])
            },
            Self::Meta(Meta::Health) => ApiCall::record(&routes::HEALTH, &[]),
            Self::Meta(Meta::Openapi) => ApiCall::new(&routes::OPENAPI, &[], View::Document),
        })
    }
}

impl Tenants {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { state, customer, release, tags, page } => {
                let tags = (!tags.is_empty())
                    .then(|| tags.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(","));
                ApiCall::list(&routes::LIST_TENANTS, &[], page, TENANT_COLUMNS).query(&[
                    ("state", state),
                    ("customer_id", customer),
                    ("release", release),
                    ("tags", &tags),
                ])
            }
            Self::Get { id } => ApiCall::record(&routes::GET_TENANT, &[id]),
            Self::Create { customer, name, release, region, description, import, idempotency, wait } => {
                let body = object([
                    ("customer_id", Some(json!(customer))),
                    ("name", Some(json!(name))),
                    ("release", Some(json!(release))),
                    ("region", text(region)),
                    ("description", text(description)),
                    ("import", import.then_some(json!(true))),
                ]);
                ApiCall::create(&routes::CREATE_TENANT, &[], body, idempotency).following(
                    wait,
                    "active_change_request_id",
                    Some(&routes::GET_TENANT),
                )
            }
            Self::Update { id, name, region, description, precondition } => {
                let body = object([("name", text(name)), ("region", text(region)), ("description", text(description))]);
                ApiCall::update(&routes::PATCH_TENANT, &[id], body, precondition)
            }
            Self::Resources { id, page } => {
                ApiCall::list(&routes::LIST_TENANT_RESOURCES, &[id], page, &["resource_id", "arn"])
            }
            Self::Report { id } => ApiCall::record(&routes::TENANT_REPORT, &[id]),
            Self::Drift { id } => ApiCall::record(&routes::TENANT_DRIFT, &[id]),
            Self::ImportCompose { id, file, apply } => ApiCall {
                body_file: Some((file.clone(), "compose")),
                body: Some(json!({ "apply": apply })),
                ..ApiCall::record(&routes::IMPORT_COMPOSE, &[id])
            },
            Self::Metrics { id, names, from, to, period } => ApiCall::record(&routes::TENANT_METRICS, &[id]).query(&[
                ("names", names),
                ("from", from),
                ("to", to),
                ("period", period),
            ]),
            Self::Metering { id, from, to } => {
                ApiCall::record(&routes::TENANT_METERING, &[id]).query(&[("from", from), ("to", to)])
            }
        }
    }
}

impl ChangeRequests {
    fn call(&self) -> Result<ApiCall, CliError> {
        Ok(match self {
            Self::Create {
                tenant_id,
                operation,
                release,
                change_model,
                backup_id,
                allow_downgrade,
                no_snapshot,
                params,
                reason,
                dry_run,
                idempotency,
                wait,
            } => {
                let mut all = Map::new();
                let named = [("release", release), ("change_model", change_model), ("backup_id", backup_id)];
                let given = named.iter().filter_map(|(k, v)| v.as_ref().map(|v| (*k, v)));
                for (key, value) in given.chain(params.iter().map(|(k, v)| (k.as_str(), v))) {
                    match all.get(key) {
                        Some(Value::String(earlier)) if earlier != value => {
                            return Err(CliError::Usage(format!(
                                "params.{key} is given twice, as `{earlier}` and as `{value}`"
                            )));
                        }
                        _ => {
                            all.insert(key.to_owned(), Value::String(value.clone()));
                        }
                    }
                }
                if *allow_downgrade {
                    all.insert("allow_downgrade".into(), Value::Bool(true));
                }
                if *no_snapshot {
                    all.insert("snapshot".into(), Value::Bool(false));
                }
                let body = object([
                    ("operation", Some(json!(operation))),
                    ("params", (!all.is_empty()).then_some(Value::Object(all))),
                    ("reason", text(reason)),
                    ("dry_run", dry_run.then_some(Value::Bool(true))),
                ]);
                if *dry_run {
                    return Ok(ApiCall {
                        body: Some(body),
                        ..ApiCall::record(&routes::CREATE_CHANGE_REQUEST, &[tenant_id])
                    });
                }
                ApiCall::create(&routes::CREATE_CHANGE_REQUEST, &[tenant_id], body, idempotency)
                    .following(wait, "id", None)
            }
            Self::List { tenant_id, page } => {
                ApiCall::list(&routes::LIST_TENANT_CHANGE_REQUESTS, &[tenant_id], page, CHANGE_COLUMNS)
            }
            Self::Get { id, wait } => ApiCall::record(&routes::GET_CHANGE_REQUEST, &[id]).following(wait, "id", None),
            Self::Approve { id, wait } => {
                ApiCall::record(&routes::APPROVE_CHANGE_REQUEST, &[id]).following(wait, "id", None)
            }
            Self::Reject { id } => ApiCall::record(&routes::REJECT_CHANGE_REQUEST, &[id]),
            Self::Cancel { id } => ApiCall::record(&routes::CANCEL_CHANGE_REQUEST, &[id]),
            Self::Abort { id, reason } => ApiCall {
                body: Some(json!({ "reason": reason })),
                ..ApiCall::record(&routes::ABORT_CHANGE_REQUEST, &[id])
            },
            Self::Rollback { id, reason } => ApiCall {
                body: Some(json!({ "reason": reason })),
                ..ApiCall::record(&routes::ROLLBACK_CHANGE_REQUEST, &[id])
            },
        })
    }
}

const ROLLOUT_COLUMNS: &[&str] =
    &["id", "operation", "status", "current_wave", "wave_sizes", "tenant_count", "refused_count", "created_at"];

impl RolloutBody {
    fn body(&self) -> Value {
        let Self {
            operation,
            waves,
            release,
            change_model,
            state,
            on_release,
            customer,
            tags,
            tenant_ids,
            max_failures,
            soak_seconds,
            concurrency,
            reason,
        } = self;
        let params = object([("release", text(release)), ("change_model", text(change_model))]);
        let tags: Map<String, Value> = tags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let selector = object([
            ("state", text(state)),
            ("release", text(on_release)),
            ("customer_id", text(customer)),
            ("tags", (!tags.is_empty()).then_some(Value::Object(tags))),
            ("tenant_ids", list(tenant_ids)),
        ]);
        object([
            ("operation", Some(json!(operation))),
            ("params", Some(params)),
            ("selector", Some(selector)),
            ("waves", Some(json!(waves))),
            ("max_failures", max_failures.map(|n| json!(n))),
            ("soak_seconds", soak_seconds.map(|n| json!(n))),
            ("concurrency", concurrency.map(|n| json!(n))),
            ("reason", text(reason)),
        ])
    }
}

impl Rollouts {
    fn call(&self) -> ApiCall {
        match self {
            Self::Create { body, idempotency } => {
                ApiCall::create(&routes::CREATE_ROLLOUT, &[], body.body(), idempotency)
            }
            Self::Plan { body } => ApiCall { body: Some(body.body()), ..ApiCall::record(&routes::PLAN_ROLLOUT, &[]) },
            Self::List { page } => ApiCall::list(&routes::LIST_ROLLOUTS, &[], page, ROLLOUT_COLUMNS),
            Self::Get { id } => ApiCall::record(&routes::GET_ROLLOUT, &[id]),
            Self::Pause { id } => ApiCall::record(&routes::PAUSE_ROLLOUT, &[id]),
            Self::Resume { id } => ApiCall::record(&routes::RESUME_ROLLOUT, &[id]),
            Self::Abort { id, reason } => {
                ApiCall { body: Some(json!({ "reason": reason })), ..ApiCall::record(&routes::ABORT_ROLLOUT, &[id]) }
            }
        }
    }
}

impl HistoryArgs {
    fn call(&self) -> ApiCall {
        let Self { tenant_id, field, actor, entity, entity_id, change_request, since, until, page } = self;
        match tenant_id {
            Some(id) => ApiCall::list(&routes::TENANT_HISTORY, &[id], page, HISTORY_COLUMNS).query(&[
                ("field", field),
                ("actor", actor),
                ("since", since),
                ("until", until),
            ]),
            None => ApiCall::list(&routes::FLEET_HISTORY, &[], page, HISTORY_COLUMNS).query(&[
                ("entity", entity),
                ("entity_id", entity_id),
                ("actor", actor),
                ("change_request_id", change_request),
                ("since", since),
                ("until", until),
            ]),
        }
    }
}

impl Configs {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { tenant_id, page } => {
                ApiCall::list(&routes::LIST_CONFIGS, &[tenant_id], page, &["key", "value", "secret_ref", "revision"])
            }
            Self::Get { tenant_id, key } => ApiCall::record(&routes::GET_CONFIG, &[tenant_id, key]),
            Self::Set { tenant_id, key, value, json_value, secret_ref, precondition } => {
                let value = text(value).or_else(|| json_value.clone());
                let body = object([("value", value), ("secret_ref", text(secret_ref))]);
                ApiCall::update(&routes::PUT_CONFIG, &[tenant_id, key], body, precondition)
            }
            Self::Delete { tenant_id, key, precondition } => ApiCall {
                if_match: precondition.if_match.clone(),
                ..ApiCall::new(&routes::DELETE_CONFIG, &[tenant_id, key], View::Empty)
            },
        }
    }
}

impl Components {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { tenant_id, page } => {
                ApiCall::list(&routes::LIST_COMPONENTS, &[tenant_id], page, &["name", "version", "updated_at"])
            }
            Self::Get { tenant_id, name } => ApiCall::record(&routes::GET_COMPONENT, &[tenant_id, name]),
            Self::Set { tenant_id, name, version, precondition } => {
                ApiCall::update(&routes::PUT_COMPONENT, &[tenant_id, name], json!({ "version": version }), precondition)
            }
        }
    }
}

impl HealthRuns {
    fn call(&self) -> ApiCall {
        let Self::List { tenant_id, page } = self;
        ApiCall::list(
            &routes::LIST_HEALTH_RUNS,
            &[tenant_id],
            page,
            &["id", "verdict", "release", "change_request_id", "finished_at"],
        )
    }
}

impl Backups {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { tenant_id, page } => ApiCall::list(
                &routes::LIST_BACKUPS,
                &[tenant_id],
                page,
                &["id", "release", "size_bytes", "made_by", "made_at"],
            ),
            Self::Get { tenant_id, backup_id } => ApiCall::record(&routes::GET_BACKUP, &[tenant_id, backup_id]),
        }
    }
}

impl Releases {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { page } => {
                ApiCall::list(&routes::LIST_RELEASES, &[], page, &["version", "status", "components", "health_suites"])
            }
            Self::Get { version } => ApiCall::record(&routes::GET_RELEASE, &[version]),
            Self::Create { version, components, health_suites, notes, idempotency } => {
                let components: Map<String, Value> =
                    components.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                let body = object([
                    ("version", Some(json!(version))),
                    ("components", Some(Value::Object(components))),
                    ("health_suites", list(health_suites)),
                    ("notes", text(notes)),
                ]);
                ApiCall::create(&routes::CREATE_RELEASE, &[], body, idempotency)
            }
            Self::Update { version, status, health_suites, notes, precondition } => {
                let body =
                    object([("status", text(status)), ("health_suites", list(health_suites)), ("notes", text(notes))]);
                ApiCall::update(&routes::PATCH_RELEASE, &[version], body, precondition)
            }
        }
    }
}

impl Customers {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { page } => ApiCall::list(&routes::LIST_CUSTOMERS, &[], page, &["id", "name", "contact_email"]),
            Self::Get { id } => ApiCall::record(&routes::GET_CUSTOMER, &[id]),
            Self::Create { name, contact_email, notes, idempotency } => {
                let body = object([
                    ("name", Some(json!(name))),
                    ("contact_email", text(contact_email)),
                    ("notes", text(notes)),
                ]);
                ApiCall::create(&routes::CREATE_CUSTOMER, &[], body, idempotency)
            }
            Self::Update { id, name, contact_email, notes, precondition } => {
                let body =
                    object([("name", text(name)), ("contact_email", text(contact_email)), ("notes", text(notes))]);
                ApiCall::update(&routes::PATCH_CUSTOMER, &[id], body, precondition)
            }
            Self::Assignments { id, page } => {
                ApiCall::list(&routes::LIST_CUSTOMER_ASSIGNMENTS, &[id], page, ASSIGNMENT_COLUMNS)
            }
            Self::Metering { id, month } => ApiCall::record(&routes::CUSTOMER_METERING, &[])
                .query(&[("customer_id", &Some(id.clone())), ("month", month)]),
        }
    }
}

impl Licenses {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { page } => {
                ApiCall::list(&routes::LIST_LICENSES, &[], page, &["id", "name", "kind", "max_users", "features"])
            }
            Self::Get { id } => ApiCall::record(&routes::GET_LICENSE, &[id]),
            Self::Create { name, kind, max_users, features, template, max_release, idempotency } => {
                let body = object([
                    ("name", Some(json!(name))),
                    ("kind", Some(json!(kind))),
                    ("max_users", max_users.map(|n| json!(n))),
                    ("features", list(features)),
                    ("template", text(template)),
                    ("max_release", text(max_release)),
                ]);
                ApiCall::create(&routes::CREATE_LICENSE, &[], body, idempotency)
            }
            Self::Update { id, name, kind, max_users, features, template, max_release, precondition } => {
                let body = object([
                    ("name", text(name)),
                    ("kind", text(kind)),
                    ("max_users", max_users.map(|n| json!(n))),
                    ("features", list(features)),
                    ("template", text(template)),
                    ("max_release", text(max_release)),
                ]);
                ApiCall::update(&routes::PATCH_LICENSE, &[id], body, precondition)
            }
            Self::Assignments { id, page } => {
                ApiCall::list(&routes::LIST_LICENSE_ASSIGNMENTS, &[id], page, ASSIGNMENT_COLUMNS)
            }
            Self::Expiring { days, page } => ApiCall::list(&routes::EXPIRING_LICENSES, &[], page, ASSIGNMENT_COLUMNS)
                .query(&[("days", &days.map(|d| d.to_string()))]),
        }
    }
}

impl LicenseAssignments {
    fn call(&self) -> ApiCall {
        match self {
            Self::Create { customer, license, key_ref, starts_at, expires_at, idempotency } => {
                let body = object([
                    ("customer_id", Some(json!(customer))),
                    ("license_id", Some(json!(license))),
                    ("key_ref", text(key_ref)),
                    ("starts_at", text(starts_at)),
                    ("expires_at", text(expires_at)),
                ]);
                ApiCall::create(&routes::CREATE_ASSIGNMENT, &[], body, idempotency)
            }
            Self::Get { id } => ApiCall::record(&routes::GET_ASSIGNMENT, &[id]),
            Self::Update { id, status, license, key_ref, starts_at, expires_at, precondition } => {
                let body = object([
                    ("status", text(status)),
                    ("license_id", text(license)),
                    ("key_ref", text(key_ref)),
                    ("starts_at", text(starts_at)),
                    ("expires_at", text(expires_at)),
                ]);
                ApiCall::update(&routes::PATCH_ASSIGNMENT, &[id], body, precondition)
            }
        }
    }
}

impl Resources {
    fn call(&self) -> ApiCall {
        match self {
            Self::List { page } => {
                ApiCall::list(&routes::LIST_RESOURCES, &[], page, &["id", "arn", "service", "name", "tenant_ids"])
            }
            Self::Get { id } => ApiCall::record(&routes::GET_RESOURCE, &[id]),
            Self::Create { arn, name, description, tenant_ids, idempotency } => {
                let body = object([
                    ("arn", Some(json!(arn))),
                    ("name", text(name)),
                    ("description", text(description)),
                    ("tenant_ids", list(tenant_ids)),
                ]);
                ApiCall::create(&routes::CREATE_RESOURCE, &[], body, idempotency)
            }
            Self::Update { id, name, description, tenant_ids, no_tenants, precondition } => {
                let tenants = if *no_tenants { Some(json!([])) } else { list(tenant_ids) };
                let body = object([("name", text(name)), ("description", text(description)), ("tenant_ids", tenants)]);
                ApiCall::update(&routes::PATCH_RESOURCE, &[id], body, precondition)
            }
            Self::Delete { id, precondition } => ApiCall {
                if_match: precondition.if_match.clone(),
                ..ApiCall::new(&routes::DELETE_RESOURCE, &[id], View::Empty)
            },
            Self::Tenants { id, page } => ApiCall::list(&routes::LIST_RESOURCE_TENANTS, &[id], page, TENANT_COLUMNS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn call(args: &str) -> Result<ApiCall, CliError> {
        let cli = Cli::try_parse_from(std::iter::once("portal").chain(args.split(' '))).expect("parses");
        cli.api_call().map(|c| c.expect("an API call"))
    }

    #[test]
    fn an_upgrade_sends_its_parameters_and_a_fresh_ulid_as_idempotency_key() {
        let c =
            call("change-requests create T1 upgrade --release 3.2.0 --param change_model=live --reason CHG-1").unwrap();
        assert_eq!(
            c.body,
            Some(
                json!({"operation": "upgrade", "params": {"release": "3.2.0", "change_model": "live"}, "reason": "CHG-1"})
            )
        );
        let key = c.idempotency_key.expect("a key");
        assert!(ulid::Ulid::from_string(&key).is_ok(), "{key}");
        let back = call("change-requests create T1 upgrade --release 3.1.0 --allow-downgrade --no-snapshot").unwrap();
        assert_eq!(
            back.body,
            Some(
                json!({"operation": "upgrade", "params": {"release": "3.1.0", "allow_downgrade": true, "snapshot": false}})
            )
        );
        let again = call("change-requests create T1 upgrade --release 3.2.0").unwrap();
        assert_ne!(again.idempotency_key, Some(key), "each run has its own key");
    }

    #[test]
    fn a_given_idempotency_key_is_sent_as_is() {
        let c = call("customers create --name Acme --idempotency-key deploy-42").unwrap();
        assert_eq!(c.idempotency_key.as_deref(), Some("deploy-42"));
    }

    #[test]
    fn a_parameter_given_twice_with_two_values_is_bad_input() {
        let err = call("change-requests create T1 upgrade --release 3.2.0 --param release=3.3.0").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("params.release"), "{err}");
        assert!(call("change-requests create T1 upgrade --release 3.2.0 --param release=3.2.0").is_ok());
    }

    #[test]
    fn a_patch_sends_only_the_fields_given() {
        let c = call("tenants update T1 --description primary --if-match 3").unwrap();
        assert_eq!(c.body, Some(json!({"description": "primary"})));
        assert_eq!(c.if_match.as_deref(), Some("3"));
        assert_eq!(c.idempotency_key, None);
    }

    #[test]
    fn filters_become_the_query_and_absent_ones_are_not_sent() {
        let c = call("tenants list --state Broken --release 3.1.0 --all").unwrap();
        assert_eq!(c.query, [("state", "Broken".to_owned()), ("release", "3.1.0".to_owned())]);
        assert!(c.page.expect("a list").all);
    }

    #[test]
    fn history_is_a_tenants_with_an_id_and_the_fleets_without() {
        assert_eq!(call("history T1").unwrap().route, &routes::TENANT_HISTORY);
        let fleet = call("history --entity tenant --entity-id T1 --change-request CR1").unwrap();
        assert_eq!(fleet.route, &routes::FLEET_HISTORY);
        assert_eq!(
            fleet.query,
            [("entity", "tenant".into()), ("entity_id", "T1".into()), ("change_request_id", "CR1".into())]
        );
    }

    #[test]
    fn tenants_are_listed_by_tags_and_a_dry_run_sends_no_idempotency_key() {
        let c = call("tenants list --state Healthy --tag env=prod --tag tier=gold").unwrap();
        assert_eq!(c.query, [("state", "Healthy".into()), ("tags", "env:prod,tier:gold".into())]);
        let c = call("change-requests create T1 upgrade --release 3.2.0 --dry-run").unwrap();
        assert_eq!(c.body, Some(json!({"operation": "upgrade", "params": {"release": "3.2.0"}, "dry_run": true})));
        assert!(c.idempotency_key.is_none(), "a dry run writes nothing");
        assert!(
            Cli::try_parse_from(["portal", "change-requests", "create", "T1", "validate", "--dry-run", "--wait"])
                .is_err()
        );
    }

    #[test]
    fn the_versions_report_pages_one_release_and_a_next_token_needs_it() {
        let c = call("fleet versions --release 3.1.0 --limit 5 --next-token abc").unwrap();
        assert_eq!(c.route, &routes::FLEET_VERSIONS);
        assert_eq!(c.query, [("release", "3.1.0".into()), ("limit", "5".into()), ("next_token", "abc".into())]);
        assert!(call("fleet versions").unwrap().query.is_empty());
        assert!(Cli::try_parse_from(["portal", "fleet", "versions", "--next-token", "abc"]).is_err());
    }

    #[test]
    fn a_config_value_is_a_string_unless_given_as_json() {
        assert_eq!(call("configs set T1 k --value 25").unwrap().body, Some(json!({"value": "25"})));
        assert_eq!(call("configs set T1 k --json-value 25").unwrap().body, Some(json!({"value": 25})));
        assert_eq!(
            call("configs set T1 db_password --secret-ref ssm:/t/db").unwrap().body,
            Some(json!({"secret_ref": "ssm:/t/db"}))
        );
    }

    #[test]
    fn wait_follows_the_tenants_provision_or_the_change_request_itself() {
        let t = call("tenants create --customer C1 --name n --release 3.2.0 --wait").unwrap();
        let follow = t.follow.expect("follows");
        assert_eq!((follow.id_field, follow.then_read), ("active_change_request_id", Some(&routes::GET_TENANT)));
        let cr = call("change-requests create T1 backup --wait").unwrap();
        assert_eq!(cr.follow.map(|f| (f.id_field, f.then_read)), Some(("id", None)));
        assert!(call("change-requests create T1 backup").unwrap().follow.is_none());
    }
}
