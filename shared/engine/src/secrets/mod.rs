//! The tenants' secrets (the passwords of their components), as versions of one SecureString
//! parameter per secret, with labels saying which version is which:
//!
//! - [`CURRENT`]: the version the component uses and the portal can fall back to;
//! - a change request's own label (its id): the version it generated, until it is promoted.
//!
//! A value is generated inside the adapter ([`generate`]) and written straight to the store:
//! it never crosses this port, so it never reaches a table, a log, a step's output, a Jenkins
//! parameter or a response. What crosses is a [`SecretVersion`]: the parameter's name and a
//! version number, which the box and the verifying job read the value with.
//!
//! - this module: the port ([`Secrets`]).
//! - [`ssm`]: SSM Parameter Store (`PutParameter` with `Overwrite`, `LabelParameterVersion`,
//!   `GetParameterHistory`; what moto keeps as AWS does, unlike Secrets Manager's stages).
//! - [`memory`]: an in-memory fake for unit tests, which keeps the values so a test can look for
//!   them where they must not be.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod memory;
pub mod ssm;

pub use memory::MemorySecrets;
pub use ssm::SsmSecrets;

/// The label of the version a component uses.
pub const CURRENT: &str = "current";

/// Characters of a generated value: 64 of them, so each random byte's low 6 bits pick one
/// without bias.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Length of a generated value: 40 characters of 6 bits, 240 bits.
pub const GENERATED_LEN: usize = 40;

/// One version of a secret: where the box and a job read it, never what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVersion {
    pub parameter: String,
    pub version: u64,
}

impl SecretVersion {
    /// `name:version`, the selector SSM's `GetParameter` reads a version with.
    pub fn selector(&self) -> String {
        format!("{}:{}", self.parameter, self.version)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the secret store refused: {0}")]
    Refused(String),
    #[error("the secret store is unavailable: {0:#}")]
    Unavailable(anyhow::Error),
}

#[async_trait]
pub trait Secrets: Send + Sync {
    /// Writes a freshly generated value as a new version of `parameter` (creating it when there
    /// is none) and labels it `label`; answers that version. Once per label: when a version
    /// already carries `label` (a retried call), that version is answered and nothing is written.
    async fn generate(&self, parameter: &str, label: &str) -> Result<SecretVersion, SecretError>;
    /// The version of `parameter` labelled `label`, if any.
    async fn labelled(&self, parameter: &str, label: &str) -> Result<Option<SecretVersion>, SecretError>;
    /// Moves `label` to `version` (off whichever version had it).
    async fn label(&self, version: &SecretVersion, label: &str) -> Result<(), SecretError>;
}

/// A strong value from the operating system's random source.
pub fn generate() -> Result<String, SecretError> {
    let mut bytes = [0u8; GENERATED_LEN];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Unavailable(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 63)])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_value_is_long_from_the_alphabet_and_never_the_same() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.len(), GENERATED_LEN);
        assert!(a.bytes().all(|c| ALPHABET.contains(&c)), "{a}");
        assert_ne!(a, b);
        assert_eq!(
            SecretVersion { parameter: "/p/t/webapp-password".into(), version: 3 }.selector(),
            "/p/t/webapp-password:3"
        );
    }
}
