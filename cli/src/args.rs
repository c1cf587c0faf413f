//! The command line: `portal <resource> <verb>`, one verb per route of the API (the table in
//! [`crate::routes`]), plus `login`, `logout`, `completions` and `man`.

use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub const OPERATIONS: &[&str] = &[
    "provision",
    "terminate",
    "suspend",
    "resume",
    "enter_maintenance",
    "exit_maintenance",
    "upgrade",
    "backup",
    "restore",
    "validate",
    "rotate_webapp_password",
    "rotate_db_password",
    "rotate_airflow_password",
    "mark_broken",
    "activate_license",
    "adopt_drift",
    "reapply_recorded",
];
pub const STATES: &[&str] = &[
    "Provisioning",
    "Healthy",
    "Maintenance",
    "BackingUp",
    "Restoring",
    "InTesting",
    "Suspended",
    "Broken",
    "EndOfLife",
];
pub const CHANGE_MODELS: &[&str] = &["live", "maintenance", "swap"];
pub const LICENSE_KINDS: &[&str] = &["trial", "subscription", "perpetual", "internal"];
pub const RELEASE_STATUSES: &[&str] = &["available", "deprecated", "withdrawn"];
pub const ASSIGNMENT_STATUSES: &[&str] = &["active", "suspended", "revoked", "expired"];

/// The values offered for an argument, by the schema of openapi.json they come from (a test
/// keeps them equal).
pub const ENUMS: &[(&str, &[&str])] = &[
    ("Operation", OPERATIONS),
    ("TenantState", STATES),
    ("ChangeModel", CHANGE_MODELS),
    ("LicenseKind", LICENSE_KINDS),
    ("ReleaseStatus", RELEASE_STATUSES),
    ("AssignmentStatus", ASSIGNMENT_STATUSES),
];

const GLOBAL: &str = "Global options";

pub const DEFAULT_URL: &str = "http://127.0.0.1:3000";

const AFTER_HELP: &str = "\
Configuration:
  PORTAL_URL      the API (default http://127.0.0.1:3000, or the profile's)
  PORTAL_TOKEN    a bearer token (else the profile's, written by `portal login`)
  PORTAL_PROFILE  the profile under $XDG_CONFIG_HOME/portal/profiles.yaml (default `default`)
  NO_COLOR        no colours

Exit codes: 0 ok, 1 other failure (a change request that did not succeed with --wait),
2 bad input (400, 422, a bad argument), 3 not authenticated or not allowed (401, 403, no token),
4 conflict (409, 412), 5 unavailable (503, no answer, connection refused).";

/// The Admin Portal from the command line: every route of its HTTP API.
#[derive(Debug, Parser)]
#[command(name = "portal", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// How to print answers: a table for people, or the API's JSON (or YAML) unchanged.
    #[arg(long, short, global = true, help_heading = GLOBAL, value_enum, default_value_t = Format::Table, env = "PORTAL_OUTPUT")]
    pub output: Format,

    /// The API's base URL [env: PORTAL_URL; default: the profile's, else http://127.0.0.1:3000].
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "URL")]
    pub url: Option<String>,

    /// The profile to use and `login` writes.
    #[arg(long, global = true, help_heading = GLOBAL, env = "PORTAL_PROFILE", default_value = "default", value_name = "NAME")]
    pub profile: String,

    /// Print each request's method, URL and status on stderr (never the token).
    #[arg(long, short, global = true, help_heading = GLOBAL)]
    pub verbose: bool,

    /// Seconds to wait for each answer.
    #[arg(long, global = true, help_heading = GLOBAL, default_value_t = 30, value_name = "SECONDS")]
    pub timeout: u64,

    /// Times to try again a call that found the API unavailable, when that is safe (reads,
    /// PUT, DELETE, creates with their idempotency key, and a refused connection).
    #[arg(long, global = true, help_heading = GLOBAL, default_value_t = 2, value_name = "N")]
    pub retries: u32,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Api(ApiCommand),
    /// Store a token (or sign in with Cognito) in a profile.
    Login(LoginArgs),
    /// Forget the profile's token.
    Logout,
    /// Print a shell completion script: `portal completions bash > /etc/bash_completion.d/portal`.
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the man page (roff): `portal man | man -l -`.
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The commands that call the API.
#[derive(Debug, Subcommand)]
pub enum ApiCommand {
    /// Tenants: list, read, create, update; the AWS resources they use.
    #[command(subcommand)]
    Tenants(Tenants),
    /// Change requests: the only way a tenant moves; create, follow, decide, abort.
    #[command(subcommand, name = "change-requests", visible_alias = "cr")]
    ChangeRequests(ChangeRequests),
    /// The change log: a tenant's (`history TENANT_ID`) or across the fleet (`history`).
    History(HistoryArgs),
    /// A tenant's configuration values (secrets only as references).
    #[command(subcommand)]
    Configs(Configs),
    /// A tenant's component versions.
    #[command(subcommand)]
    Components(Components),
    /// A tenant's health runs, newest first.
    #[command(subcommand, name = "health-runs")]
    HealthRuns(HealthRuns),
    /// A tenant's backup catalog, newest first.
    #[command(subcommand)]
    Backups(Backups),
    /// Product releases.
    #[command(subcommand)]
    Releases(Releases),
    /// Customers.
    #[command(subcommand)]
    Customers(Customers),
    /// Licenses.
    #[command(subcommand)]
    Licenses(Licenses),
    /// Licenses assigned to customers.
    #[command(subcommand, name = "license-assignments")]
    LicenseAssignments(LicenseAssignments),
    /// AWS resources and the tenants that use them.
    #[command(subcommand)]
    Resources(Resources),
    /// Rollouts: one operation over a selection of tenants, in waves with health gates.
    #[command(subcommand)]
    Rollouts(Rollouts),
    /// The fleet: tenant counts, and its releases' versions report.
    #[command(subcommand)]
    Fleet(Fleet),
    /// Jenkins completion callbacks (signed, no token).
    #[command(subcommand)]
    Callbacks(Callbacks),
    /// The API itself: its health and its OpenAPI document.
    #[command(subcommand)]
    Meta(Meta),
}

/// `--limit`, `--next-token` and `--all` of every list.
#[derive(Debug, Clone, Default, Args)]
pub struct Page {
    /// Page size (1-500; the API's default is 50).
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Start at this page (the `next_token` of the previous one).
    #[arg(long, value_name = "TOKEN", conflicts_with = "all")]
    pub next_token: Option<String>,
    /// Follow `next_token` to the last page and print every item.
    #[arg(long)]
    pub all: bool,
}

/// `--idempotency-key` of every create.
#[derive(Debug, Clone, Default, Args)]
pub struct Idempotency {
    /// Sent as Idempotency-Key. By default a new ULID, which this command's own retries reuse;
    /// pass your own (a deploy id...) so that a re-run script creates nothing twice.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
}

/// `--if-match` of every update.
#[derive(Debug, Clone, Default, Args)]
pub struct Precondition {
    /// Only if the record is still at this revision (its ETag, e.g. 3): else exit 4.
    #[arg(long, value_name = "REVISION")]
    pub if_match: Option<String>,
}

/// `--wait` and how to follow.
#[derive(Debug, Clone, Default, Args)]
pub struct Wait {
    /// Follow the change request step by step until it ends: exit 0 if it succeeded, 1 if not.
    #[arg(long)]
    pub wait: bool,
    /// Give up waiting after this many seconds (the change request goes on): exit 1.
    #[arg(long, value_name = "SECONDS", requires = "wait")]
    pub wait_timeout: Option<u64>,
    /// Milliseconds between two reads of the change request.
    #[arg(long, value_name = "MS", default_value_t = 1000, hide = true)]
    pub poll_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum Tenants {
    /// List tenants, filtered by state, customer, release or tags.
    List {
        #[arg(long, value_parser = PossibleValuesParser::new(STATES))]
        state: Option<String>,
        /// A customer id.
        #[arg(long, value_name = "ID")]
        customer: Option<String>,
        #[arg(long, value_name = "VERSION")]
        release: Option<String>,
        /// Only tenants with this tag (repeat it: all must hold).
        #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = key_value)]
        tags: Vec<(String, String)>,
        #[command(flatten)]
        page: Page,
    },
    /// Read one tenant.
    Get { id: String },
    /// Register a tenant: its provision change request starts at once (`--wait` follows it).
    Create {
        /// The customer id.
        #[arg(long, value_name = "ID")]
        customer: String,
        /// Its unique name (`acme-prod`).
        #[arg(long)]
        name: String,
        /// The release it runs.
        #[arg(long, value_name = "VERSION")]
        release: String,
        /// Its AWS region (`eu-west-1`).
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A tenant that already runs: it is validated instead of provisioned.
        #[arg(long = "import")]
        import: bool,
        #[command(flatten)]
        idempotency: Idempotency,
        #[command(flatten)]
        wait: Wait,
    },
    /// Change a tenant's name, region or description (its state moves only by change requests).
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        precondition: Precondition,
    },
    /// The AWS resources a tenant uses.
    Resources {
        id: String,
        #[command(flatten)]
        page: Page,
    },
    /// One document about a tenant: configs, components against its release, resources, last
    /// health run and backup, the change request holding it.
    Report { id: String },
    /// The tenant's last drift check: what its box runs that its record does not say
    /// (component versions, non-secret configs), and when it was read.
    Drift { id: String },
    /// Import a tenant's docker-compose file: image tags as component versions, environment as
    /// configs (a secret only as a reference). Prints the diff; `--apply` writes it.
    ImportCompose {
        id: String,
        /// The compose file (`-` reads standard input).
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        /// Write the added and changed records (without it: only the diff).
        #[arg(long)]
        apply: bool,
    },
    /// A tenant's metrics from CloudWatch: its instances, databases and app health.
    Metrics {
        id: String,
        /// Comma-separated: cpu, status_check_failed, disk_used_percent, db_cpu, db_free_storage,
        /// app_health (default: every one).
        #[arg(long)]
        names: Option<String>,
        /// From (RFC 3339; default: 3 hours before `--to`).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339; default: now).
        #[arg(long)]
        to: Option<String>,
        /// Seconds a point, a multiple of 60 (default 300).
        #[arg(long)]
        period: Option<String>,
    },
    /// A tenant's usage samples (assets, users, data volume), one a day.
    Metering {
        id: String,
        /// From (RFC 3339; default: 30 days before `--to`).
        #[arg(long)]
        from: Option<String>,
        /// To (RFC 3339; default: now).
        #[arg(long)]
        to: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ChangeRequests {
    /// Ask for an operation on a tenant (checked against the lifecycle table).
    Create {
        tenant_id: String,
        #[arg(value_parser = PossibleValuesParser::new(OPERATIONS))]
        operation: String,
        /// The release to upgrade to.
        #[arg(long, value_name = "VERSION")]
        release: Option<String>,
        #[arg(long, value_parser = PossibleValuesParser::new(CHANGE_MODELS))]
        change_model: Option<String>,
        /// The backup to restore.
        #[arg(long, value_name = "ID")]
        backup_id: Option<String>,
        /// An upgrade to an older release than the tenant's (`params.allow_downgrade`).
        #[arg(long)]
        allow_downgrade: bool,
        /// An upgrade in maintenance without its snapshot backup (`params.snapshot: false`).
        #[arg(long)]
        no_snapshot: bool,
        /// Any parameter of the operation, as sent in `params`.
        #[arg(long = "param", value_name = "KEY=VALUE", value_parser = key_value)]
        params: Vec<(String, String)>,
        /// Why (a ticket, an incident).
        #[arg(long)]
        reason: Option<String>,
        /// Write nothing: what it would do (would it run or why not, its plan, an upgrade's
        /// component changes).
        #[arg(long, conflicts_with = "wait")]
        dry_run: bool,
        #[command(flatten)]
        idempotency: Idempotency,
        #[command(flatten)]
        wait: Wait,
    },
    /// A tenant's change requests, newest first.
    List {
        tenant_id: String,
        #[command(flatten)]
        page: Page,
    },
    /// Read one change request (`--wait` follows it to its end).
    Get {
        id: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Approve a change request awaiting approval (an admin other than the requester).
    Approve {
        id: String,
        #[command(flatten)]
        wait: Wait,
    },
    /// Reject a change request awaiting approval.
    Reject { id: String },
    /// Cancel a change request that has not started.
    Cancel { id: String },
    /// Stop a running change request, its execution and its build or command (admins).
    Abort {
        id: String,
        /// Required: recorded with who aborted it.
        #[arg(long)]
        reason: String,
    },
    /// Roll back a swap in its fallback window: traffic moves back to the old side (admins).
    Rollback {
        id: String,
        /// Required: recorded with who asked.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A tenant's history; without it, the fleet's.
    pub tenant_id: Option<String>,
    /// Only this field (a tenant's history).
    #[arg(long, requires = "tenant_id")]
    pub field: Option<String>,
    /// Only changes by this actor (its `sub`).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this kind of record (`tenant`, `customer`...; the fleet's history).
    #[arg(long, conflicts_with = "tenant_id")]
    pub entity: Option<String>,
    /// Only this record (with --entity).
    #[arg(long, requires = "entity")]
    pub entity_id: Option<String>,
    /// Only the changes a change request made (the fleet's history).
    #[arg(long, value_name = "ID", conflicts_with = "tenant_id")]
    pub change_request: Option<String>,
    /// From this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Until this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    #[command(flatten)]
    pub page: Page,
}

#[derive(Debug, Subcommand)]
pub enum Configs {
    /// A tenant's configuration values.
    List {
        tenant_id: String,
        #[command(flatten)]
        page: Page,
    },
    /// One value.
    Get { tenant_id: String, key: String },
    /// Set a plain value or a secret's reference (a key that names a secret takes only a reference).
    #[command(group = clap::ArgGroup::new("what").required(true))]
    Set {
        tenant_id: String,
        key: String,
        /// A plain value, sent as a string.
        #[arg(long, group = "what")]
        value: Option<String>,
        /// A plain value as JSON: a number or a boolean (`--json-value 25`).
        #[arg(long, group = "what", value_name = "JSON", value_parser = json_scalar)]
        json_value: Option<serde_json::Value>,
        /// A secret's reference: `ssm:/path` or `secretsmanager:name`.
        #[arg(long, group = "what", value_name = "REF")]
        secret_ref: Option<String>,
        #[command(flatten)]
        precondition: Precondition,
    },
    /// Delete a value.
    Delete {
        tenant_id: String,
        key: String,
        #[command(flatten)]
        precondition: Precondition,
    },
}

#[derive(Debug, Subcommand)]
pub enum Components {
    /// A tenant's component versions.
    List {
        tenant_id: String,
        #[command(flatten)]
        page: Page,
    },
    /// One component.
    Get { tenant_id: String, name: String },
    /// Record the version a component runs.
    Set {
        tenant_id: String,
        name: String,
        version: String,
        #[command(flatten)]
        precondition: Precondition,
    },
}

#[derive(Debug, Subcommand)]
pub enum HealthRuns {
    /// A tenant's health runs: each suite's result and build, newest first.
    List {
        tenant_id: String,
        #[command(flatten)]
        page: Page,
    },
}

#[derive(Debug, Subcommand)]
pub enum Backups {
    /// A tenant's catalogued backups, newest first.
    List {
        tenant_id: String,
        #[command(flatten)]
        page: Page,
    },
    /// One backup: where it is, its checksum, and the release, components and configs it restores.
    Get { tenant_id: String, backup_id: String },
}

#[derive(Debug, Subcommand)]
pub enum Releases {
    /// Every release.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// One release.
    Get { version: String },
    /// Register a release and its component versions.
    Create {
        version: String,
        /// A component's version (`webapp=3.2.0`), one per component.
        #[arg(long = "component", value_name = "NAME=VERSION", value_parser = key_value, required = true)]
        components: Vec<(String, String)>,
        /// A health suite its tenants are validated with.
        #[arg(long = "health-suite", value_name = "SUITE")]
        health_suites: Vec<String>,
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        idempotency: Idempotency,
    },
    /// Change a release's status, health suites or notes.
    Update {
        version: String,
        #[arg(long, value_parser = PossibleValuesParser::new(RELEASE_STATUSES))]
        status: Option<String>,
        /// Replaces the health suites (repeat for several).
        #[arg(long = "health-suite", value_name = "SUITE")]
        health_suites: Vec<String>,
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        precondition: Precondition,
    },
}

#[derive(Debug, Subcommand)]
pub enum Customers {
    /// Every customer.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// One customer.
    Get { id: String },
    /// Register a customer.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "EMAIL")]
        contact_email: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        idempotency: Idempotency,
    },
    /// Change a customer.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_name = "EMAIL")]
        contact_email: Option<String>,
        #[arg(long)]
        notes: Option<String>,
        #[command(flatten)]
        precondition: Precondition,
    },
    /// The licenses assigned to a customer.
    Assignments {
        id: String,
        #[command(flatten)]
        page: Page,
    },
    /// A customer's usage over a month: per tenant and in total.
    Metering {
        id: String,
        /// `YYYY-MM` in UTC (default: this month).
        #[arg(long)]
        month: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Licenses {
    /// Every license.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// One license.
    Get { id: String },
    /// Register a license.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = PossibleValuesParser::new(LICENSE_KINDS))]
        kind: String,
        #[arg(long, value_name = "N")]
        max_users: Option<u32>,
        /// A feature it grants (repeat for several).
        #[arg(long = "feature", value_name = "NAME")]
        features: Vec<String>,
        #[arg(long)]
        template: Option<String>,
        /// The newest release it covers (default: every release).
        #[arg(long, value_name = "VERSION")]
        max_release: Option<String>,
        #[command(flatten)]
        idempotency: Idempotency,
    },
    /// Change a license.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = PossibleValuesParser::new(LICENSE_KINDS))]
        kind: Option<String>,
        #[arg(long, value_name = "N")]
        max_users: Option<u32>,
        /// Replaces the features (repeat for several).
        #[arg(long = "feature", value_name = "NAME")]
        features: Vec<String>,
        #[arg(long)]
        template: Option<String>,
        /// The newest release it covers.
        #[arg(long, value_name = "VERSION")]
        max_release: Option<String>,
        #[command(flatten)]
        precondition: Precondition,
    },
    /// The customers a license is assigned to.
    Assignments {
        id: String,
        #[command(flatten)]
        page: Page,
    },
    /// Active assignments expiring within `--days` (overdue ones first).
    Expiring {
        /// 1-365 (the API's default is 30).
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        #[command(flatten)]
        page: Page,
    },
}

#[derive(Debug, Subcommand)]
pub enum LicenseAssignments {
    /// Assign a license to a customer.
    Create {
        /// The customer id.
        #[arg(long, value_name = "ID")]
        customer: String,
        /// The license id.
        #[arg(long, value_name = "ID")]
        license: String,
        /// The license key's reference (`ssm:/...`), never the key.
        #[arg(long, value_name = "REF")]
        key_ref: Option<String>,
        #[arg(long, value_name = "TIME")]
        starts_at: Option<String>,
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        #[command(flatten)]
        idempotency: Idempotency,
    },
    /// One assignment.
    Get { id: String },
    /// Change an assignment (`--status revoked` suspends the customer's tenants, `--license`
    /// installs another license on them).
    Update {
        id: String,
        #[arg(long, value_parser = PossibleValuesParser::new(ASSIGNMENT_STATUSES))]
        status: Option<String>,
        /// Another license (an upgrade).
        #[arg(long, value_name = "ID")]
        license: Option<String>,
        #[arg(long, value_name = "REF")]
        key_ref: Option<String>,
        #[arg(long, value_name = "TIME")]
        starts_at: Option<String>,
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        #[command(flatten)]
        precondition: Precondition,
    },
}

#[derive(Debug, Subcommand)]
pub enum Resources {
    /// Every registered AWS resource.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// One resource.
    Get { id: String },
    /// Register an AWS resource, optionally with the tenants that use it.
    Create {
        #[arg(long)]
        arn: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A tenant that uses it (repeat for several).
        #[arg(long = "tenant", value_name = "ID")]
        tenant_ids: Vec<String>,
        #[command(flatten)]
        idempotency: Idempotency,
    },
    /// Change a resource; `--tenant` replaces the set of tenants using it.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// A tenant that uses it (repeat for several): replaces the set.
        #[arg(long = "tenant", value_name = "ID", conflicts_with = "no_tenants")]
        tenant_ids: Vec<String>,
        /// No tenant uses it any more.
        #[arg(long)]
        no_tenants: bool,
        #[command(flatten)]
        precondition: Precondition,
    },
    /// Delete a resource.
    Delete {
        id: String,
        #[command(flatten)]
        precondition: Precondition,
    },
    /// The tenants that use a resource.
    Tenants {
        id: String,
        #[command(flatten)]
        page: Page,
    },
}

/// What a rollout (or its plan) does: the operation, its parameters, the selector, the waves.
#[derive(Debug, Args)]
pub struct RolloutBody {
    #[arg(value_parser = PossibleValuesParser::new(OPERATIONS))]
    pub operation: String,
    /// A wave's size, in order (repeat it: `--wave 1 --wave 10 --wave 50`); the last takes the rest.
    #[arg(long = "wave", value_name = "N", required = true)]
    pub waves: Vec<u32>,
    /// The release to upgrade to.
    #[arg(long, value_name = "VERSION")]
    pub release: Option<String>,
    #[arg(long, value_parser = PossibleValuesParser::new(CHANGE_MODELS))]
    pub change_model: Option<String>,
    /// Only tenants in this state.
    #[arg(long, value_parser = PossibleValuesParser::new(STATES))]
    pub state: Option<String>,
    /// Only tenants on this release.
    #[arg(long, value_name = "VERSION")]
    pub on_release: Option<String>,
    /// Only tenants of this customer.
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    /// Only tenants with this tag (repeat it).
    #[arg(long = "tag", value_name = "KEY=VALUE", value_parser = key_value)]
    pub tags: Vec<(String, String)>,
    /// Only these tenants (repeat it), in this order.
    #[arg(long = "tenant", value_name = "ID")]
    pub tenant_ids: Vec<String>,
    /// Failed changes a wave may have and the next still start (default 0).
    #[arg(long)]
    pub max_failures: Option<u32>,
    /// How long a wave's tenants must stay free of alarms before the next starts.
    #[arg(long)]
    pub soak_seconds: Option<u32>,
    /// Change requests of a wave running at once (default 10).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Why (a ticket).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Rollouts {
    /// Start a rollout (its first wave starts at once).
    Create {
        #[command(flatten)]
        body: RolloutBody,
        #[command(flatten)]
        idempotency: Idempotency,
    },
    /// What a rollout would do, tenant by tenant; writes nothing.
    Plan {
        #[command(flatten)]
        body: RolloutBody,
    },
    /// Rollouts, newest first.
    List {
        #[command(flatten)]
        page: Page,
    },
    /// A rollout with its waves, their tenants and change requests.
    Get { id: String },
    /// Start nothing new (what runs runs on).
    Pause { id: String },
    /// Go on where it paused.
    Resume { id: String },
    /// End it and abort its running change requests (admins).
    Abort {
        id: String,
        /// Required: recorded with who aborted it.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum Fleet {
    /// Tenants by state and by release.
    Summary,
    /// The tenants whose box differs from their record at its last drift check.
    Drift {
        #[command(flatten)]
        page: Page,
    },
    /// Each release: its tenants (count and a page of ids), how many newer available releases
    /// it is behind, and its tenants whose recorded components differ from its manifest.
    Versions {
        /// Only this release (and with `--next-token`, the next page of its tenants).
        #[arg(long, value_name = "VERSION")]
        release: Option<String>,
        /// Tenant ids per release (1-100; the API's default is 20).
        #[arg(long, value_name = "N")]
        limit: Option<u32>,
        /// The release's `next_token` of the previous page (with `--release`).
        #[arg(long, value_name = "TOKEN", requires = "release")]
        next_token: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Callbacks {
    /// Send a build's completion callback, as its job does when it ends (for one Jenkins lost):
    /// signed with the key in KEY_FILE (the value of the SSM SecureString both sides read). It
    /// wakes the change request's wait on that step, which then reads the build from Jenkins.
    Jenkins {
        /// The step, as the build's `PORTAL_STEP_ID` parameter says: `<change request id>-<index>`.
        step_id: String,
        /// A file holding the callback key.
        #[arg(long, value_name = "FILE")]
        key_file: std::path::PathBuf,
        /// What the build ended with (only logged: the portal reads the build itself).
        #[arg(long)]
        result: Option<String>,
        /// The job's name (only logged).
        #[arg(long)]
        job: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum Meta {
    /// Whether the API answers (no token needed).
    Health,
    /// The API's OpenAPI document (JSON, whatever --output says).
    Openapi,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Store this token (locally: `make token ROLE=admin SUB=you`); `-` reads it from stdin,
    /// which keeps it out of the shell's history.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["issuer", "client_id"])]
    pub token: Option<String>,
    /// The Cognito hosted UI (`https://<domain>.auth.<region>.amazoncognito.com`): sign in in a
    /// browser (authorization code with PKCE) and store the tokens.
    #[arg(long, value_name = "URL", requires = "client_id")]
    pub issuer: Option<String>,
    /// The Cognito app client id (public: no secret).
    #[arg(long, value_name = "ID", requires = "issuer")]
    pub client_id: Option<String>,
    /// The local port of the redirect, `http://localhost:<port>/callback` (an allowed callback
    /// URL of the app client).
    #[arg(long, default_value_t = 8400, value_name = "PORT")]
    pub redirect_port: u16,
    /// OAuth scopes to ask for.
    #[arg(long, default_value = "openid email profile")]
    pub scope: String,
    /// Print the sign-in URL only; do not open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

fn json_scalar(s: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v @ (serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::String(_))) => Ok(v),
        _ => Err(format!("`{s}` is not a JSON number, boolean or string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn key_values_need_a_key_and_an_equals_sign() {
        assert_eq!(key_value("release=3.2.0"), Ok(("release".into(), "3.2.0".into())));
        assert_eq!(key_value("note=a=b"), Ok(("note".into(), "a=b".into())));
        assert!(key_value("release").is_err());
        assert!(key_value("=3").is_err());
    }

    #[test]
    fn an_unknown_operation_is_refused_before_any_call_with_the_valid_ones() {
        let err = Cli::try_parse_from(["portal", "change-requests", "create", "T1", "explode"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("upgrade"), "{err}");
    }
}
