//! The command table: every operation of the HTTP API (`shared/api/openapi.json`), the command
//! that calls it, and an example of that command. A test parses every example and checks that
//! it calls its operation, and that the table and the document name the same operations, so a
//! route without a command fails the build's tests.

use reqwest::Method;

/// One operation of the API.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    /// The document's `operationId`.
    pub operation_id: &'static str,
    pub method: Method,
    /// The path as the document writes it, `{name}` for each path parameter.
    pub template: &'static str,
    /// A command that calls it (without the leading `portal`).
    pub example: &'static str,
}

macro_rules! routes {
    ($($name:ident = $method:ident $template:literal $operation_id:literal: $example:literal;)*) => {
        $( pub const $name: Route = Route {
            operation_id: $operation_id,
            method: Method::$method,
            template: $template,
            example: $example,
        }; )*
        /// Every route, in the order of the API's `api_routes!`.
        pub const ALL: &[&Route] = &[$(&$name),*];
    };
}

routes! {
    HEALTH = GET "/v1/health" "health": "meta health";
    OPENAPI = GET "/v1/openapi.json" "openapi_json": "meta openapi";

    CREATE_CUSTOMER = POST "/v1/customers" "create_customer": "customers create --name Acme";
    LIST_CUSTOMERS = GET "/v1/customers" "list_customers": "customers list";
    GET_CUSTOMER = GET "/v1/customers/{id}" "get_customer": "customers get C1";
    PATCH_CUSTOMER = PATCH "/v1/customers/{id}" "patch_customer": "customers update C1 --notes renewal";
    LIST_CUSTOMER_ASSIGNMENTS = GET "/v1/customers/{id}/license-assignments" "list_customer_assignments":
        "customers assignments C1";

    CREATE_LICENSE = POST "/v1/licenses" "create_license": "licenses create --name Gold --kind subscription";
    LIST_LICENSES = GET "/v1/licenses" "list_licenses": "licenses list";
    EXPIRING_LICENSES = GET "/v1/licenses/expiring" "expiring_licenses": "licenses expiring --days 30";
    GET_LICENSE = GET "/v1/licenses/{id}" "get_license": "licenses get L1";
    PATCH_LICENSE = PATCH "/v1/licenses/{id}" "patch_license": "licenses update L1 --max-users 50";
    LIST_LICENSE_ASSIGNMENTS = GET "/v1/licenses/{id}/assignments" "list_license_assignments":
        "licenses assignments L1";
    CREATE_ASSIGNMENT = POST "/v1/license-assignments" "create_assignment":
        "license-assignments create --customer C1 --license L1";
    GET_ASSIGNMENT = GET "/v1/license-assignments/{id}" "get_assignment": "license-assignments get A1";
    PATCH_ASSIGNMENT = PATCH "/v1/license-assignments/{id}" "patch_assignment":
        "license-assignments update A1 --status suspended";

    CREATE_RELEASE = POST "/v1/releases" "create_release": "releases create 3.2.0 --component webapp=3.2.0";
    LIST_RELEASES = GET "/v1/releases" "list_releases": "releases list";
    GET_RELEASE = GET "/v1/releases/{version}" "get_release": "releases get 3.2.0";
    PATCH_RELEASE = PATCH "/v1/releases/{version}" "patch_release": "releases update 3.2.0 --status deprecated";

    CREATE_TENANT = POST "/v1/tenants" "create_tenant":
        "tenants create --customer C1 --name acme-prod --release 3.2.0";
    LIST_TENANTS = GET "/v1/tenants" "list_tenants": "tenants list --state Broken";
    GET_TENANT = GET "/v1/tenants/{id}" "get_tenant": "tenants get T1";
    PATCH_TENANT = PATCH "/v1/tenants/{id}" "patch_tenant": "tenants update T1 --description primary";
    FLEET_SUMMARY = GET "/v1/fleet/summary" "fleet_summary": "fleet summary";
    FLEET_VERSIONS = GET "/v1/fleet/versions" "fleet_versions": "fleet versions --release 3.1.0 --limit 50";
    FLEET_DRIFT = GET "/v1/fleet/drift" "fleet_drift": "fleet drift --limit 100";

    LIST_CONFIGS = GET "/v1/tenants/{id}/configs" "list_configs": "configs list T1";
    GET_CONFIG = GET "/v1/tenants/{id}/configs/{key}" "get_config": "configs get T1 smtp_host";
    PUT_CONFIG = PUT "/v1/tenants/{id}/configs/{key}" "put_config": "configs set T1 smtp_host --value smtp.example";
    DELETE_CONFIG = DELETE "/v1/tenants/{id}/configs/{key}" "delete_config": "configs delete T1 smtp_host";
    LIST_COMPONENTS = GET "/v1/tenants/{id}/components" "list_components": "components list T1";
    LIST_HEALTH_RUNS = GET "/v1/tenants/{id}/health-runs" "list_health_runs": "health-runs list T1";
    LIST_BACKUPS = GET "/v1/tenants/{id}/backups" "list_backups": "backups list T1";
    GET_BACKUP = GET "/v1/tenants/{id}/backups/{backup_id}" "get_backup": "backups get T1 bk_01JD8X3Q5C7M2R4T6V8W0Y1Z2A";
    TENANT_REPORT = GET "/v1/tenants/{id}/report" "tenant_report": "tenants report T1";
    TENANT_DRIFT = GET "/v1/tenants/{id}/drift" "tenant_drift": "tenants drift T1";
    IMPORT_COMPOSE = POST "/v1/tenants/{id}/import-compose" "import_compose":
        "tenants import-compose T1 --file docker-compose.yml --apply";
    TENANT_METRICS = GET "/v1/tenants/{id}/metrics" "tenant_metrics": "tenants metrics T1 --names cpu,app_health --period 60";
    TENANT_METERING = GET "/v1/tenants/{id}/metering" "tenant_metering": "tenants metering T1 --from 2026-11-01T00:00:00Z";
    CUSTOMER_METERING = GET "/v1/metering" "customer_metering": "customers metering C1 --month 2026-11";
    GET_COMPONENT = GET "/v1/tenants/{id}/components/{name}" "get_component": "components get T1 webapp";
    PUT_COMPONENT = PUT "/v1/tenants/{id}/components/{name}" "put_component": "components set T1 webapp 3.2.1";

    CREATE_RESOURCE = POST "/v1/resources" "create_resource":
        "resources create --arn arn:aws:rds:us-east-1:123456789012:cluster:shared";
    LIST_RESOURCES = GET "/v1/resources" "list_resources": "resources list";
    GET_RESOURCE = GET "/v1/resources/{id}" "get_resource": "resources get R1";
    PATCH_RESOURCE = PATCH "/v1/resources/{id}" "patch_resource": "resources update R1 --name shared-db";
    DELETE_RESOURCE = DELETE "/v1/resources/{id}" "delete_resource": "resources delete R1";
    LIST_TENANT_RESOURCES = GET "/v1/tenants/{id}/resources" "list_tenant_resources": "tenants resources T1";
    LIST_RESOURCE_TENANTS = GET "/v1/resources/{id}/tenants" "list_resource_tenants": "resources tenants R1";

    GET_CHANGE_REQUEST = GET "/v1/change-requests/{id}" "get_change_request": "change-requests get CR1";
    CREATE_CHANGE_REQUEST = POST "/v1/tenants/{id}/change-requests" "create_change_request":
        "change-requests create T1 upgrade --release 3.2.0 --change-model maintenance";
    LIST_TENANT_CHANGE_REQUESTS = GET "/v1/tenants/{id}/change-requests" "list_tenant_change_requests":
        "change-requests list T1";
    APPROVE_CHANGE_REQUEST = POST "/v1/change-requests/{id}/approve" "approve_change_request":
        "change-requests approve CR1";
    REJECT_CHANGE_REQUEST = POST "/v1/change-requests/{id}/reject" "reject_change_request":
        "change-requests reject CR1";
    CANCEL_CHANGE_REQUEST = POST "/v1/change-requests/{id}/cancel" "cancel_change_request":
        "change-requests cancel CR1";
    ABORT_CHANGE_REQUEST = POST "/v1/change-requests/{id}/abort" "abort_change_request":
        "change-requests abort CR1 --reason wrong-tenant";
    ROLLBACK_CHANGE_REQUEST = POST "/v1/change-requests/{id}/rollback" "rollback_change_request":
        "change-requests rollback CR1 --reason errors-after-cut-over";

    TENANT_HISTORY = GET "/v1/tenants/{id}/history" "tenant_history": "history T1 --field state";
    FLEET_HISTORY = GET "/v1/history" "fleet_history": "history --actor alice";

    JENKINS_CALLBACK = POST "/v1/callbacks/jenkins" "jenkins_callback":
        "callbacks jenkins CR1-2 --key-file callback.key --result SUCCESS";

    CREATE_ROLLOUT = POST "/v1/rollouts" "create_rollout":
        "rollouts create upgrade --release 3.2.0 --state Healthy --tag env=prod --wave 1 --wave 10 --wave 50";
    PLAN_ROLLOUT = POST "/v1/rollouts/plan" "plan_rollout": "rollouts plan validate --state Healthy --wave 1 --wave 10";
    LIST_ROLLOUTS = GET "/v1/rollouts" "list_rollouts": "rollouts list";
    GET_ROLLOUT = GET "/v1/rollouts/{id}" "get_rollout": "rollouts get R1";
    PAUSE_ROLLOUT = POST "/v1/rollouts/{id}/pause" "pause_rollout": "rollouts pause R1";
    RESUME_ROLLOUT = POST "/v1/rollouts/{id}/resume" "resume_rollout": "rollouts resume R1";
    ABORT_ROLLOUT = POST "/v1/rollouts/{id}/abort" "abort_rollout": "rollouts abort R1 --reason INC-9";
}

impl Route {
    /// Whether this route answers without a token (the API's public routes).
    pub fn is_public(&self) -> bool {
        matches!(self.operation_id, "health" | "openapi_json" | "jenkins_callback")
    }

    /// The path segments after the base URL, each `{name}` replaced by the next of `args`.
    pub fn segments(&self, args: &[&str]) -> Vec<String> {
        let mut args = args.iter();
        self.template
            .trim_start_matches('/')
            .split('/')
            .map(|s| if s.starts_with('{') { args.next().copied().unwrap_or_default() } else { s }.to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use crate::calls::ApiCall;
    use clap::Parser;
    use std::collections::BTreeSet;

    const DOCUMENT: &str = include_str!("../../shared/api/openapi.json");

    /// Every (operationId, METHOD, path) of the served OpenAPI document.
    fn documented_operations() -> BTreeSet<(String, String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        let mut ops = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if let Some(id) = op.get("operationId").and_then(|v| v.as_str()) {
                    ops.insert((id.to_owned(), method.to_uppercase(), path.clone()));
                }
            }
        }
        ops
    }

    fn call_of(example: &str) -> ApiCall {
        let cli = Cli::try_parse_from(std::iter::once("portal").chain(example.split(' ')))
            .unwrap_or_else(|e| panic!("`portal {example}` does not parse: {e}"));
        cli.api_call()
            .unwrap_or_else(|e| panic!("`portal {example}`: {e}"))
            .unwrap_or_else(|| panic!("`portal {example}` calls no route"))
    }

    #[test]
    fn every_operation_of_the_openapi_document_has_a_command_and_no_command_calls_an_undocumented_one() {
        let table: BTreeSet<(String, String, String)> =
            ALL.iter().map(|r| (r.operation_id.to_owned(), r.method.to_string(), r.template.to_owned())).collect();
        let documented = documented_operations();
        let missing: Vec<_> = documented.difference(&table).collect();
        assert!(missing.is_empty(), "operations of openapi.json without a command in cli/src/routes.rs: {missing:?}");
        let stale: Vec<_> = table.difference(&documented).collect();
        assert!(stale.is_empty(), "commands of routes that openapi.json does not have: {stale:?}");
        assert_eq!(ALL.len(), documented.len(), "one command per operation");
    }

    #[test]
    fn every_example_parses_into_a_call_of_its_own_operation_on_a_path_of_its_template() {
        for route in ALL {
            let call = call_of(route.example);
            assert_eq!(call.route, *route, "`portal {}` calls another route", route.example);
            let expected: Vec<&str> = route.template.trim_start_matches('/').split('/').collect();
            assert_eq!(call.segments.len(), expected.len(), "{}", route.example);
            for (got, want) in call.segments.iter().zip(&expected) {
                assert!(want.starts_with('{') || got == want, "`portal {}`: {got} is not {want}", route.example);
                assert!(!got.is_empty(), "`portal {}` leaves {want} empty", route.example);
            }
        }
    }

    #[test]
    fn segments_fill_the_template_in_order() {
        assert_eq!(GET_CONFIG.segments(&["T1", "smtp.host"]), ["v1", "tenants", "T1", "configs", "smtp.host"]);
        assert_eq!(FLEET_SUMMARY.segments(&[]), ["v1", "fleet", "summary"]);
    }

    /// The values the CLI offers (and completes) for an argument are the document's enum.
    #[test]
    fn the_values_offered_are_the_documents_enums() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("openapi.json is JSON");
        for (schema, offered) in crate::args::ENUMS {
            let documented: Vec<&str> = doc["components"]["schemas"][schema]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{schema} is an enum of openapi.json"))
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(*offered, documented.as_slice(), "cli/src/args.rs offers other values of {schema}");
        }
    }
}
