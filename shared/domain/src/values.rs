//! Value types parsed at the edge: each can only exist valid, and its error names what is wrong.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, schema::Type};

use crate::FieldError;

/// A string newtype whose only constructor is `parse`, (de)serialized as a plain string.
macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, max = $max:expr, pattern = $pattern:expr, example = $example:expr, check = $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const MAX_LEN: usize = $max;

            pub fn parse(s: &str) -> Result<Self, FieldError> {
                if s.is_empty() {
                    return Err(FieldError::new("", "must not be empty"));
                }
                if s.chars().count() > $max {
                    return Err(FieldError::new("", format!("must be at most {} characters", $max)));
                }
                let check: fn(&str) -> Result<(), String> = $check;
                check(s).map_err(|m| FieldError::new("", m))?;
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = FieldError;
            fn try_from(s: String) -> Result<Self, FieldError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let pattern: Option<&str> = $pattern;
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some($max))
                    .pattern(pattern)
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

fn printable(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if s.trim() != s {
        return Err("must not start or end with whitespace".into());
    }
    Ok(())
}

fn matches_charset(s: &str, first: fn(char) -> bool, rest: fn(char) -> bool, what: &str) -> Result<(), String> {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if first(c) => {}
        _ => return Err(format!("must match {what}")),
    }
    if chars.all(rest) { Ok(()) } else { Err(format!("must match {what}")) }
}

/// What `char::is_whitespace` and `char::is_control` refuse at the ends of a [`Name`], as a regex class body.
macro_rules! not_space_or_control {
    () => {
        r"\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

/// Unicode white space (`char::is_whitespace`), as a regex class body.
macro_rules! white_space {
    () => {
        r"\t\n\x0B\x0C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"
    };
}

string_value!(
    /// A display name: 1–200 characters, no control characters, no white space at either end.
    Name, max = 200,
    pattern = Some(concat!("^[^", not_space_or_control!(), r"]([^\x00-\x1F\x7F-\x9F]*[^", not_space_or_control!(), "])?$")),
    example = "Acme Corp", check = printable);

string_value!(
    /// Free text such as notes or a description: up to 2000 printable characters (newlines allowed).
    Text, max = 2000, pattern = Some(r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"), example = "Renewal due in Q3",
    check = |s| if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        Err("must not contain control characters other than newlines and tabs".into())
    } else { Ok(()) });

string_value!(
/// A tenant's name: a DNS label (lowercase letters, digits, `-`), unique in the fleet.
TenantName, max = 63, pattern = Some("^[a-z][a-z0-9-]*[a-z0-9]$"), example = "acme-prod",
check = |s| {
    matches_charset(s, |c| c.is_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        "^[a-z][a-z0-9-]*[a-z0-9]$ (a DNS label)")?;
    if s.len() < 2 || s.ends_with('-') { Err("must match ^[a-z][a-z0-9-]*[a-z0-9]$ (a DNS label)".into()) } else { Ok(()) }
});

string_value!(
    /// A product component's name, e.g. `webapp`, `airflow`.
    ComponentName, max = 64, pattern = Some("^[a-z][a-z0-9_-]*$"), example = "webapp",
    check = |s| matches_charset(s, |c| c.is_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-', "^[a-z][a-z0-9_-]*$"));

string_value!(
    /// The version of one component: a docker tag-like label such as `3.1.2` or `2024.10.1-hotfix`.
    ComponentVersionLabel, max = 128, pattern = Some("^[A-Za-z0-9][A-Za-z0-9._+-]*$"), example = "3.1.2",
    check = |s| matches_charset(s, |c| c.is_ascii_alphanumeric(), |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'), "^[A-Za-z0-9][A-Za-z0-9._+-]*$"));

string_value!(
    /// A tenant config key: letters, digits, `_`, `.`, `-`, starting with a letter.
    ConfigKey, max = 128, pattern = Some("^[A-Za-z][A-Za-z0-9_.-]*$"), example = "smtp.host",
    check = |s| matches_charset(s, |c| c.is_ascii_alphabetic(), |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'), "^[A-Za-z][A-Za-z0-9_.-]*$"));

string_value!(
/// An AWS region code such as `us-east-1`.
Region, max = 32, pattern = Some("^[a-z]{2}(-[a-z]+)+-[0-9]+$"), example = "us-east-1",
check = |s| {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok { Ok(()) } else { Err("must be an AWS region code such as us-east-1".into()) }
});

string_value!(
/// An e-mail address (shape only: `local@domain.tld`).
Email, max = 254,
pattern = Some(concat!("^[^@", white_space!(), "]+@[^@.", white_space!(), "][^@", white_space!(), r"]*\.[^@",
    white_space!(), "]*[^@.", white_space!(), "]$")),
example = "ops@acme.example",
check = |s| {
    let ok = s.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@')
    }) && !s.chars().any(char::is_whitespace);
    if ok { Ok(()) } else { Err("must be an e-mail address".into()) }
});

string_value!(
    /// A product feature flag name carried by a license.
    FeatureName, max = 64, pattern = Some("^[a-z][a-z0-9_.-]*$"), example = "sso",
    check = |s| matches_charset(s, |c| c.is_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'), "^[a-z][a-z0-9_.-]*$"));

string_value!(
    /// A tenant tag's key, e.g. `env`, `tier`, `cost-center`: what rollouts select by (no `.`:
    /// the history names a tag `tags.<key>`).
    TagKey, max = 64, pattern = Some("^[a-z][a-z0-9_-]*$"), example = "env",
    check = |s| matches_charset(s, |c| c.is_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'), "^[a-z][a-z0-9_-]*$"));

string_value!(
    /// A tenant tag's value, e.g. `prod`, `eu-west`, `Gold`: letters, digits and `_ . + @ / -`,
    /// starting with a letter or digit (never `:` or `,`, which a tag filter separates with).
    TagValue, max = 128, pattern = Some("^[A-Za-z0-9][A-Za-z0-9_.+@/-]*$"), example = "prod",
    check = |s| matches_charset(s, |c| c.is_ascii_alphanumeric(), |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '@' | '/' | '-'), "^[A-Za-z0-9][A-Za-z0-9_.+@/-]*$"));

string_value!(
    /// A health-baseline suite (a Jenkins job `health-<suite>`), e.g. `api-smoke`.
    SuiteName, max = 64, pattern = Some("^[a-z][a-z0-9_-]*$"), example = "api-smoke",
    check = |s| matches_charset(s, |c| c.is_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'), "^[a-z][a-z0-9_-]*$"));

string_value!(
    /// A Jenkins job or an Ansible playbook the engine runs: lowercase letters, digits, `_` and
    /// `-`, never a path or a shell word.
    JobName, max = 64, pattern = Some("^[a-z][a-z0-9_-]*$"), example = "upgrade-tenant",
    check = |s| matches_charset(s, |c| c.is_ascii_lowercase(), |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-', "^[a-z][a-z0-9_-]*$"));

string_value!(
    /// A backup of a tenant, as its catalogue names it: letters, digits, `.`, `_`, `-`.
    BackupId, max = 128, pattern = Some("^[A-Za-z0-9][A-Za-z0-9._-]*$"), example = "bk_01j9z3k2",
    check = |s| matches_charset(s, |c| c.is_ascii_alphanumeric(), |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'), "^[A-Za-z0-9][A-Za-z0-9._-]*$"));

string_value!(
    /// An Amazon Resource Name: `arn:partition:service:region:account:resource`.
    /// At most 2044 characters, so that its uniqueness guard (`ARN#<arn>`) fits DynamoDB's 2048
    /// bytes of partition key; the resource part is visible ASCII, as AWS writes it.
    Arn, max = 2044,
    pattern = Some("^arn:aws(-cn|-us-gov)?:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12})?:[!-~]+$"),
    example = "arn:aws:rds:us-east-1:123456789012:db:acme-prod", check = check_arn);

fn check_arn(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err("must be an ARN: arn:partition:service:region:account:resource".into());
    }
    if !matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov") {
        return Err(format!("unknown partition `{}`", parts[1]));
    }
    if parts[2].is_empty() || !parts[2].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err("the service part must be lowercase letters, digits and `-`".into());
    }
    if !parts[3].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
        return Err("the region part must be empty or a region code".into());
    }
    if !(parts[4].is_empty() || (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit()))) {
        return Err("the account part must be empty or 12 digits".into());
    }
    if parts[5].is_empty() || !parts[5].chars().all(|c| c.is_ascii_graphic()) {
        return Err("the resource part must be present, in visible ASCII without whitespace".into());
    }
    Ok(())
}

impl Arn {
    /// The AWS service the ARN belongs to (`rds`, `ec2`, `s3`, ...).
    pub fn service(&self) -> &str {
        self.0.split(':').nth(2).unwrap_or_default()
    }

    /// An EC2 instance id when the ARN names one (`arn:aws:ec2:...:instance/i-...`).
    pub fn ec2_instance_id(&self) -> Option<&str> {
        let resource = self.0.splitn(6, ':').nth(5)?;
        if self.service() == "ec2" { resource.strip_prefix("instance/") } else { None }
    }

    /// The identifier of an RDS DB instance's ARN (`arn:aws:rds:…:db:<id>`).
    pub fn rds_instance_id(&self) -> Option<&str> {
        let resource = self.0.splitn(6, ':').nth(5)?;
        if self.service() == "rds" { resource.strip_prefix("db:") } else { None }
    }
}

/// A product release version: strict semver (`3.1.0`, `3.2.0-rc.1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReleaseVersion(semver::Version);

impl ReleaseVersion {
    pub const MAX_LEN: usize = 64;

    /// What [`parse`](Self::parse) takes: `MAJOR.MINOR.PATCH` without leading zeros, an optional
    /// pre-release of dot-separated identifiers (numeric ones without leading zeros), no build.
    pub const PATTERN: &str = concat!(
        r"^(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,18})",
        r"(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?$"
    );

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        if s.len() > Self::MAX_LEN {
            return Err(FieldError::new("", "must be at most 64 characters"));
        }
        let v = semver::Version::parse(s)
            .map_err(|e| FieldError::new("", format!("`{s}` is not a semantic version (MAJOR.MINOR.PATCH): {e}")))?;
        if !v.build.is_empty() {
            return Err(FieldError::new("", "build metadata (`+...`) is not allowed in a release version"));
        }
        Ok(Self(v))
    }

    pub fn semver(&self) -> &semver::Version {
        &self.0
    }

    /// A key that sorts like the version (for a sort key): zero-padded numbers, pre-releases
    /// before their release.
    pub fn sort_key(&self) -> String {
        let v = &self.0;
        // Pre-release identifiers compare as semver says: numbers numerically and before words.
        let pre = if v.pre.is_empty() {
            "~".to_owned()
        } else {
            let ids: Vec<String> = v
                .pre
                .split('.')
                .map(|id| match id.parse::<u64>() {
                    Ok(n) => format!("0{n:020}"),
                    Err(_) => format!("1{id}"),
                })
                .collect();
            format!("-{}", ids.join("."))
        };
        format!("{:010}.{:010}.{:010}{pre}", v.major, v.minor, v.patch)
    }
}

impl Ord for ReleaseVersion {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}
impl PartialOrd for ReleaseVersion {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TryFrom<String> for ReleaseVersion {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<ReleaseVersion> for String {
    fn from(v: ReleaseVersion) -> String {
        v.0.to_string()
    }
}
impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
impl utoipa::PartialSchema for ReleaseVersion {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(5))
            .max_length(Some(Self::MAX_LEN))
            .pattern(Some(Self::PATTERN))
            .examples([serde_json::json!("3.1.0")])
            .into()
    }
}
impl utoipa::ToSchema for ReleaseVersion {}

/// Where a secret lives. The portal stores and shows only this reference, never the value.
/// Written `ssm:/path/to/param` (an SSM SecureString) or `secretsmanager:name-or-arn`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SecretRef {
    SsmParameter(String),
    SecretsManager(String),
}

impl SecretRef {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let bad_char = |v: &str| v.chars().any(|c| !(c.is_ascii_alphanumeric() || "/_.-+=@:".contains(c)));
        if s.len() > 2048 {
            return Err(FieldError::new("", "must be at most 2048 characters"));
        }
        if let Some(path) = s.strip_prefix("ssm:") {
            if !path.starts_with('/') || path.len() < 2 || bad_char(path) {
                return Err(FieldError::new("", "an SSM reference is `ssm:/path/name` (letters, digits, `/_.-`)"));
            }
            return Ok(Self::SsmParameter(path.to_owned()));
        }
        if let Some(name) = s.strip_prefix("secretsmanager:") {
            if name.is_empty() || bad_char(name) {
                return Err(FieldError::new("", "a Secrets Manager reference is `secretsmanager:name-or-arn`"));
            }
            return Ok(Self::SecretsManager(name.to_owned()));
        }
        Err(FieldError::new("", "must be a secret reference: `ssm:/path` or `secretsmanager:name`"))
    }
}

impl TryFrom<String> for SecretRef {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        Self::parse(&s)
    }
}
impl From<SecretRef> for String {
    fn from(r: SecretRef) -> String {
        r.to_string()
    }
}
impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SsmParameter(p) => write!(f, "ssm:{p}"),
            Self::SecretsManager(n) => write!(f, "secretsmanager:{n}"),
        }
    }
}
impl utoipa::PartialSchema for SecretRef {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(2048))
            .pattern(Some("^(ssm:/[A-Za-z0-9/_.+=@:-]+|secretsmanager:[A-Za-z0-9/_.+=@:-]+)$"))
            .description(Some("A reference to a secret (SSM SecureString or Secrets Manager); never its value."))
            .examples([serde_json::json!("ssm:/tenants/acme-prod/db_password")])
            .into()
    }
}
impl utoipa::ToSchema for SecretRef {}

/// A plain config value: a string (≤ 4096 characters), a number or a boolean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value", into = "serde_json::Value")]
pub struct PlainValue(serde_json::Value);

impl PlainValue {
    pub const MAX_LEN: usize = 4096;

    /// The magnitudes of a number DynamoDB stores (besides 0): at least 1e-130, below 1e126.
    pub const SMALLEST: f64 = 1e-130;
    pub const TOO_LARGE: f64 = 1e126;

    pub fn parse(v: serde_json::Value) -> Result<Self, FieldError> {
        match &v {
            serde_json::Value::String(s) if s.chars().count() > Self::MAX_LEN => {
                Err(FieldError::new("", format!("must be at most {} characters", Self::MAX_LEN)))
            }
            serde_json::Value::Number(n)
                if !n.as_f64().is_some_and(|x| x == 0.0 || (Self::SMALLEST..Self::TOO_LARGE).contains(&x.abs())) =>
            {
                Err(FieldError::new("", "a number must be 0 or of magnitude from 1e-130 to below 1e126"))
            }
            serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Ok(Self(v)),
            _ => Err(FieldError::new("", "must be a string, a number or a boolean")),
        }
    }

    pub fn as_json(&self) -> &serde_json::Value {
        &self.0
    }
}
impl TryFrom<serde_json::Value> for PlainValue {
    type Error = FieldError;
    fn try_from(v: serde_json::Value) -> Result<Self, FieldError> {
        Self::parse(v)
    }
}
impl From<PlainValue> for serde_json::Value {
    fn from(v: PlainValue) -> Self {
        v.0
    }
}
impl utoipa::PartialSchema for PlainValue {
    fn schema() -> RefOr<Schema> {
        let number = || ObjectBuilder::new().schema_type(Type::Number);
        utoipa::openapi::OneOfBuilder::new()
            .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(Self::MAX_LEN)))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(number().enum_values(Some([0])))
            .item(number().minimum(Some(Self::SMALLEST)).exclusive_maximum(Some(Self::TOO_LARGE)))
            .item(number().maximum(Some(-Self::SMALLEST)).exclusive_minimum(Some(-Self::TOO_LARGE)))
            .description(Some(
                "A plain value: a string (at most 4096 characters), a boolean, or a number that is 0 or of \
                 magnitude from 1e-130 to below 1e126 (what the store holds).",
            ))
            .examples([serde_json::json!("smtp.acme.example")])
            .into()
    }
}
impl utoipa::ToSchema for PlainValue {}

/// What in a config key says its value is a secret. The key is read as words: split at `.`,
/// `_`, `-`, at camelCase humps (`apiKey`, `APIKey`) and between letters and digits, then
/// lowercased. A key names a secret when
/// - one word, or two or three adjacent words run together, is a [`SECRET_TERMS`] term (or its
///   plural): `pwd`, `smtp.pass`, `api-key`, `apiKey`, `connection_string`, `client.secret`;
/// - or one word ends with a [`SECRET_SUFFIXES`] term: `dbpassword`, `jwtsecret`, `githubtoken`;
///
/// unless its last word is a [`SECRET_METADATA`] word: `auth.url` or `token_ttl` name a
/// property of a secret, not the secret. Matching whole words keeps `author`, `passenger_limit`,
/// `bypass`, `compass` and `keyboard_layout` plain.
pub const SECRET_TERMS: &[&str] = &[
    "pwd",
    "pass",
    "passwd",
    "password",
    "passphrase",
    "passcode",
    "secret",
    "token",
    "credential",
    "cred",
    "creds",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
    "clientsecret",
    "sessionkey",
    "signingkey",
    "encryptionkey",
    "masterkey",
    "sshkey",
    "licensekey",
    "dsn",
    "connectionstring",
    "connstring",
    "connstr",
    "auth",
    "authtoken",
];

/// Terms that mark a secret even at the end of a longer word (`dbpassword`, `adminpwd`); `pass`
/// is not one of them (`bypass`, `compass`).
pub const SECRET_SUFFIXES: &[&str] = &[
    "pwd",
    "passwd",
    "password",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "privatekey",
    "accesskey",
    "secretkey",
];

/// A last word that makes the key a property of a secret rather than the secret itself.
pub const SECRET_METADATA: &[&str] = &[
    "url", "uri", "endpoint", "host", "port", "mode", "type", "method", "enabled", "required", "provider", "ttl",
    "expiry", "lifetime", "length", "policy", "rotation", "days", "hours", "minutes", "seconds", "timeout",
];

/// The words of a config key, lowercased (see [`SECRET_TERMS`]).
fn key_words(key: &str) -> Vec<String> {
    let chars: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            continue;
        }
        if !word.is_empty() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = (prev.is_ascii_lowercase() && c.is_ascii_uppercase())
                || (prev.is_ascii_uppercase() && c.is_ascii_uppercase() && next_lower)
                || (prev.is_ascii_digit() != c.is_ascii_digit());
            if boundary {
                words.push(std::mem::take(&mut word));
            }
        }
        word.push(c.to_ascii_lowercase());
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}

fn is_term(run: &str) -> bool {
    SECRET_TERMS.contains(&run) || run.strip_suffix('s').is_some_and(|r| SECRET_TERMS.contains(&r))
}

impl ConfigKey {
    /// Whether the key names a secret (`db.password`, `smtpPwd`, `sentry.dsn`...; see
    /// [`SECRET_TERMS`]): then it may only hold a `secret_ref`.
    pub fn names_a_secret(&self) -> bool {
        let words = key_words(&self.0);
        if words.last().is_some_and(|w| SECRET_METADATA.contains(&w.as_str())) {
            return false;
        }
        let runs = (0..words.len()).flat_map(|i| (i + 1..=(i + 3).min(words.len())).map(move |j| (i, j)));
        let compound = runs.map(|(i, j)| words[i..j].concat()).any(|run| is_term(&run));
        let suffixed = words.iter().any(|w| {
            let w = w.strip_suffix('s').unwrap_or(w);
            SECRET_SUFFIXES.iter().any(|t| w.ends_with(t))
        });
        compound || suffixed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_empty_long_control_and_padded() {
        assert!(Name::parse("Acme Corp").is_ok());
        assert!(Name::parse("").is_err());
        assert!(Name::parse(&"x".repeat(201)).is_err());
        assert!(Name::parse(&"é".repeat(200)).is_ok(), "length counts characters, not bytes");
        assert!(Name::parse("a\u{7}b").is_err());
        assert!(Name::parse(" padded").is_err());
    }

    #[test]
    fn tenant_names_are_dns_labels() {
        for ok in ["acme-prod", "a1", "t-2-x"] {
            assert!(TenantName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["Acme", "1acme", "acme-", "a", "acme_prod", "acme.prod", &"a".repeat(64)] {
            assert!(TenantName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn release_versions_are_strict_semver_and_sort_numerically() {
        assert!(ReleaseVersion::parse("3.1.0").is_ok());
        assert!(ReleaseVersion::parse("3.2.0-rc.1").is_ok());
        for bad in ["3.1", "v3.1.0", "3.1.0+build.5", "03.1.0", "", "x.y.z"] {
            assert!(ReleaseVersion::parse(bad).is_err(), "{bad}");
        }
        let order = [
            "3.2.0-alpha",
            "3.2.0-alpha.1",
            "3.2.0-alpha.beta",
            "3.2.0-rc.2",
            "3.2.0-rc.10",
            "3.2.0",
            "3.10.0",
            "10.0.0",
        ];
        let mut vs: Vec<ReleaseVersion> = order.iter().rev().map(|s| ReleaseVersion::parse(s).unwrap()).collect();
        vs.sort_by_key(ReleaseVersion::sort_key);
        let sorted: Vec<String> = vs.iter().cloned().map(String::from).collect();
        assert_eq!(sorted, order);
        let mut by_semver = vs.clone();
        by_semver.sort();
        assert_eq!(by_semver, vs, "the sort key orders exactly as semver does");
    }

    #[test]
    fn arns_are_checked_part_by_part() {
        let rds = Arn::parse("arn:aws:rds:us-east-1:123456789012:db:acme-prod").unwrap();
        assert_eq!(rds.service(), "rds");
        assert!(Arn::parse("arn:aws:s3:::acme-backups").is_ok());
        let ec2 = Arn::parse("arn:aws:ec2:us-east-1:123456789012:instance/i-0abc").unwrap();
        assert_eq!(ec2.ec2_instance_id(), Some("i-0abc"));
        assert_eq!(rds.ec2_instance_id(), None);
        for bad in [
            "arn:aws:rds:us-east-1:123:db:x",
            "arn:azure:rds:us-east-1:123456789012:db:x",
            "arn:aws::us-east-1:123456789012:db:x",
            "arn:aws:rds:us-east-1:123456789012:",
            "rds:aws:rds:us-east-1:123456789012:db:x",
            "arn:aws:rds",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_refs_are_references_only() {
        assert_eq!(
            SecretRef::parse("ssm:/tenants/acme/db_password").unwrap(),
            SecretRef::SsmParameter("/tenants/acme/db_password".into())
        );
        assert!(SecretRef::parse("secretsmanager:acme/db").is_ok());
        for bad in ["hunter2", "ssm:relative", "ssm:/has space", "secretsmanager:", ""] {
            assert!(SecretRef::parse(bad).is_err(), "{bad}");
        }
        let r = SecretRef::parse("ssm:/a/b").unwrap();
        assert_eq!(String::from(r), "ssm:/a/b");
    }

    /// Every spelling of a secret the API must refuse a plain value for.
    const SECRET_KEYS: &[&str] = &[
        // pwd, pass, passwd, password, passphrase
        "smtp.pwd",
        "SMTP_PWD",
        "smtpPwd",
        "smtp.PWD",
        "adminpwd",
        "db-pass",
        "DB_PASS",
        "dbPass",
        "smtp.pass2",
        "DB.PASSWD",
        "db.passwd",
        "db.password",
        "DB_PASSWORD",
        "dbPassword",
        "DbPassword",
        "DBPassword",
        "dbpassword",
        "db.password2",
        "passwords",
        "ssh.passphrase",
        "sshPassphrase",
        "pin.passcode",
        // secret, token, credential(s)
        "AIRFLOW_SECRET",
        "airflow.secret",
        "jwtsecret",
        "webhook-secrets",
        "api-token",
        "githubToken",
        "GITHUB_TOKEN",
        "access.tokens",
        "vault.credential",
        "aws.credentials",
        "CREDENTIALS",
        "git.creds",
        // apikey, api-key, api_key
        "stripe.apikey",
        "stripe.api-key",
        "stripe.api_key",
        "stripe.apiKey",
        "STRIPE_API_KEY",
        "stripe.APIKey",
        "stripe.api.key",
        "api_keys",
        // private_key, privatekey, access_key, client_secret, secret key, other keys
        "ssh.private_key",
        "ssh.privatekey",
        "ssh.privateKey",
        "ssh.private-key",
        "SSH_PRIVATE_KEY",
        "s3.access_key",
        "s3.accessKey",
        "aws.access.key",
        "AWS_ACCESS_KEY_ID",
        "s3.secret_key",
        "oidc.client_secret",
        "oidc.clientSecret",
        "OIDC_CLIENT_SECRET",
        "deploy.ssh_key",
        "jwt.signing_key",
        "backup.encryption-key",
        "product.license_key",
        // dsn, connection_string, connstr, auth
        "sentry.dsn",
        "SENTRY_DSN",
        "db.connection_string",
        "db.connectionString",
        "DB_CONNECTION_STRING",
        "db.connstr",
        "db.conn_str",
        "db.connString",
        "smtp.auth",
        "basicAuth",
        "proxy.auth",
        "AUTH",
        "smtp.authToken",
    ];

    /// Keys that only look like secrets, or name a property of one: they take plain values.
    const PLAIN_KEYS: &[&str] = &[
        "smtp.host",
        "max_workers",
        "keyboard_layout",
        "author",
        "author.email",
        "commitAuthor",
        "authority",
        "oauth.client_id",
        "passenger_limit",
        "passengerLimit",
        "bypass",
        "bypass_proxy",
        "compass.heading",
        "passive",
        "passport.number",
        "secretary_email",
        "tokenizer",
        "ssh.public_key",
        "monkey",
        "class",
        "auth.url",
        "auth_mode",
        "sso.auth.provider",
        "authType",
        "token_ttl",
        "tokenLifetime",
        "password.min_length",
        "password_policy",
        "passwordRotationDays",
        "secret.rotation",
        "sso.enabled",
    ];

    #[test]
    fn config_keys_split_into_lowercase_words() {
        assert_eq!(key_words("smtp.host"), ["smtp", "host"]);
        assert_eq!(key_words("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(key_words("stripe.apiKey"), ["stripe", "api", "key"]);
        assert_eq!(key_words("APIKey"), ["api", "key"]);
        assert_eq!(key_words("DBPassword2"), ["db", "password", "2"]);
        assert_eq!(key_words("a--b..c"), ["a", "b", "c"]);
    }

    #[test]
    fn config_keys_that_name_secrets_are_recognised_in_every_spelling() {
        for k in SECRET_KEYS {
            assert!(ConfigKey::parse(k).unwrap().names_a_secret(), "{k} names a secret");
        }
    }

    #[test]
    fn config_keys_that_only_look_like_secrets_take_plain_values() {
        for k in PLAIN_KEYS {
            assert!(!ConfigKey::parse(k).unwrap().names_a_secret(), "{k} does not name a secret");
        }
        assert!(ConfigKey::parse("1abc").is_err());
        assert!(ConfigKey::parse("a b").is_err());
    }

    #[test]
    fn plain_values_are_scalars_of_bounded_length() {
        assert!(PlainValue::parse(serde_json::json!("x")).is_ok());
        assert!(PlainValue::parse(serde_json::json!(3)).is_ok());
        assert!(PlainValue::parse(serde_json::json!(true)).is_ok());
        assert!(PlainValue::parse(serde_json::json!(null)).is_err());
        assert!(PlainValue::parse(serde_json::json!({"a": 1})).is_err());
        assert!(PlainValue::parse(serde_json::json!("x".repeat(4097))).is_err());
        for storable in [0.0, 1e-130, -1e-130, 9.99e125, -9.99e125, 0.5] {
            assert!(PlainValue::parse(serde_json::json!(storable)).is_ok(), "{storable}");
        }
        for beyond in [1e-131, -5e-324, 1e126, -1e200] {
            assert!(PlainValue::parse(serde_json::json!(beyond)).is_err(), "{beyond}");
        }
    }

    /// What the schema a value type documents takes: its length bounds and pattern, compiled once.
    struct Documented {
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<regex::Regex>,
    }

    impl Documented {
        fn of<T: utoipa::PartialSchema>() -> Self {
            let schema = serde_json::to_value(T::schema()).unwrap();
            Self {
                min: schema["minLength"].as_u64(),
                max: schema["maxLength"].as_u64(),
                pattern: schema["pattern"].as_str().map(|p| regex::Regex::new(p).unwrap()),
            }
        }

        fn takes(&self, s: &str) -> bool {
            let len = s.chars().count() as u64;
            self.min.is_none_or(|min| len >= min)
                && self.max.is_none_or(|max| len <= max)
                && self.pattern.as_ref().is_none_or(|p| p.is_match(s))
        }
    }

    /// Strings from `alphabet`, up to `max` characters, drawn the same way every run, and the
    /// given edge cases.
    fn corpus(alphabet: &str, max: usize, edges: &[&str]) -> Vec<String> {
        let chars: Vec<char> = alphabet.chars().collect();
        let mut seed: u64 = 0x5eed;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let mut out: Vec<String> = edges.iter().map(|s| s.to_string()).collect();
        for _ in 0..20_000 {
            let len = next() % (max + 1);
            out.push((0..len).map(|_| chars[next() % chars.len()]).collect());
        }
        out
    }

    /// Every joint of one part from each list, in order: random characters seldom make a
    /// structured value (a region, an ARN), joints of valid and broken parts do.
    fn joints(parts: &[&[&str]]) -> Vec<String> {
        parts.iter().fold(vec![String::new()], |heads, part| {
            heads.iter().flat_map(|h| part.iter().map(move |p| format!("{h}{p}"))).collect()
        })
    }

    fn assert_documented_as_parsed<T: utoipa::PartialSchema>(
        name: &str,
        parse: impl Fn(&str) -> bool,
        strings: &[String],
    ) {
        let documented = Documented::of::<T>();
        let mut accepted = 0;
        for s in strings {
            let parsed = parse(s);
            accepted += usize::from(parsed);
            assert_eq!(
                documented.takes(s),
                parsed,
                "{name}: {s:?} is {} but the schema says otherwise",
                if parsed { "taken" } else { "refused" }
            );
        }
        assert!(accepted > 20, "{name}: the corpus holds only {accepted} valid values");
    }

    /// Characters that tell the patterns apart: letters, digits, punctuation, spaces and controls
    /// of every kind, non-ASCII letters.
    const TRICKY: &str = "aAz09-_.:/@+=~ \t\n\r\u{b}\u{c}\u{1}\u{7f}\u{85}\u{9f}\u{a0}\u{2028}\u{3000}é漢😀\"#";

    #[test]
    fn every_documented_pattern_takes_exactly_what_its_parser_takes() {
        let plain = corpus(TRICKY, 8, &[" ", "a ", " a", "a\tb", "a\nb", "\u{85}", "a\u{a0}", "x"]);
        assert_documented_as_parsed::<Name>("Name", |s| Name::parse(s).is_ok(), &plain);
        assert_documented_as_parsed::<Text>("Text", |s| Text::parse(s).is_ok(), &plain);
        let lower = corpus("az09-_.A", 10, &["a", "ab", "a-", "a1", "-a", "a_b"]);
        assert_documented_as_parsed::<TenantName>("TenantName", |s| TenantName::parse(s).is_ok(), &lower);
        assert_documented_as_parsed::<ComponentName>("ComponentName", |s| ComponentName::parse(s).is_ok(), &lower);
        assert_documented_as_parsed::<ComponentVersionLabel>(
            "ComponentVersionLabel",
            |s| ComponentVersionLabel::parse(s).is_ok(),
            &lower,
        );
        assert_documented_as_parsed::<ConfigKey>("ConfigKey", |s| ConfigKey::parse(s).is_ok(), &lower);
        assert_documented_as_parsed::<FeatureName>("FeatureName", |s| FeatureName::parse(s).is_ok(), &lower);
        assert_documented_as_parsed::<SuiteName>("SuiteName", |s| SuiteName::parse(s).is_ok(), &lower);
        assert_documented_as_parsed::<JobName>("JobName", |s| JobName::parse(s).is_ok(), &lower);
        assert_documented_as_parsed::<TagKey>("TagKey", |s| TagKey::parse(s).is_ok(), &lower);
        let tag_values = corpus("aZ09_.+@/-: ,é", 8, &["a", "A", "0", "-a", "a:b", "a,b", "a b", "a/b"]);
        assert_documented_as_parsed::<TagValue>("TagValue", |s| TagValue::parse(s).is_ok(), &tag_values);
        assert_documented_as_parsed::<BackupId>("BackupId", |s| BackupId::parse(s).is_ok(), &lower);
        let mut regions = corpus("austeg-19", 12, &["us-east-1", "us-east-12", "us-gov-west-1", "u-east-1", "us--1"]);
        regions.extend(joints(&[
            &["us", "ap", "eu", "sa", "u", "usa", "US", ""],
            &["-east", "-gov-west", "-southeast", "-", "-east-", "east", "-e1"],
            &["-1", "-12", "-", "1", "-a", ""],
        ]));
        assert_documented_as_parsed::<Region>("Region", |s| Region::parse(s).is_ok(), &regions);
        let emails =
            corpus("ab.@ \t\u{a0}\u{1}é", 9, &["a@b.c", "a@.b.c", "a@b.c.", "a@b..c", "@b.c", "a@b", "a@@b.c"]);
        assert_documented_as_parsed::<Email>("Email", |s| Email::parse(s).is_ok(), &emails);
        let mut arns = corpus(
            "arn:aws-cn0123456789 \u{1}é/",
            30,
            &[
                "arn:aws:s3:::b",
                "arn:aws:rds:us-east-1:123456789012:db:x",
                "arn:aws:s3:::a b",
                "arn:aws:s3:::é",
                "arn:aws:s3:::",
            ],
        );
        arns.extend(joints(&[
            &["arn:aws:", "arn:aws-cn:", "arn:aws-us-gov:", "arn:awz:", "arn:aws"],
            &["s3", "rds", "ec2", "", "S3", "ec 2"],
            &[":", ":us-east-1:", ":US:", "::"],
            &["", "123456789012", "12345", "12345678901a"],
            &[":b", ":db:x", ":instance/i-1", ":", ":a b", ":é", ":\u{1}", "b"],
        ]));
        assert_documented_as_parsed::<Arn>("Arn", |s| Arn::parse(s).is_ok(), &arns);
        let mut versions = corpus(
            "0123.-ab+",
            12,
            &["1.2.3", "01.2.3", "1.2.3-rc.01", "1.2.3-rc.0a", "1.2.3+b", "1.2.3-", "1.2.3-a..b"],
        );
        versions.extend(joints(&[
            &["0", "1", "12", "01", "a", ""],
            &[".0", ".2", ".10", ".02", "."],
            &[".3", ".0", ".03", ""],
            &["", "-rc.1", "-rc.01", "-0a", "-alpha", "-", "-a..b", "+build", "-x-y.7"],
        ]));
        assert_documented_as_parsed::<ReleaseVersion>(
            "ReleaseVersion",
            |s| ReleaseVersion::parse(s).is_ok(),
            &versions,
        );
        let mut refs = corpus(
            "ssm:/secretsmanager a_=@é",
            16,
            &["ssm:/a", "ssm:/", "ssm:a", "secretsmanager:a", "secretsmanager:"],
        );
        refs.extend(joints(&[
            &["ssm:", "secretsmanager:", "ssm", "SSM:", ""],
            &["/", "", "//"],
            &["tenants/acme", "db_password", "a b", "é", "x=1@y:z", "", "arn:aws:secretsmanager:us-east-1:1:secret:s"],
        ]));
        assert_documented_as_parsed::<SecretRef>("SecretRef", |s| SecretRef::parse(s).is_ok(), &refs);
    }

    #[test]
    fn arns_fit_the_partition_key_of_their_guard() {
        let resource = "x".repeat(Arn::MAX_LEN - "arn:aws:s3:::".len());
        let longest = Arn::parse(&format!("arn:aws:s3:::{resource}")).unwrap();
        assert!(format!("ARN#{longest}").len() <= 2048, "DynamoDB's partition keys are at most 2048 bytes");
        assert!(Arn::parse(&format!("arn:aws:s3:::{resource}x")).is_err());
        assert!(Arn::parse("arn:aws:s3:::bücket").is_err(), "the resource part is ASCII");
    }

    #[test]
    fn regions_and_emails_have_their_shape() {
        assert!(Region::parse("us-east-1").is_ok());
        assert!(Region::parse("ap-southeast-2").is_ok());
        assert!(Region::parse("us-gov-west-1").is_ok());
        assert!(Region::parse("useast1").is_err());
        assert!(Email::parse("ops@acme.example").is_ok());
        assert!(Email::parse("ops@acme").is_err());
        assert!(Email::parse("o ps@acme.example").is_err());
    }
}
