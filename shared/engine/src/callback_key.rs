//! The key Jenkins signs its completion callbacks with (see `domain::callback`): an SSM
//! SecureString both sides read, fetched on first use and kept for the life of the function.
//! Its value is never logged: [`CallbackKey`]'s `Debug` says only its length.

use async_trait::async_trait;
use tokio::sync::OnceCell;

/// Key bytes; `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyBytes(Vec<u8>);

impl KeyBytes {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for KeyBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyBytes({} bytes)", self.0.len())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the callback key is unavailable: {0}")]
    Unavailable(String),
}

/// Where the callback key comes from.
#[async_trait]
pub trait CallbackKey: Send + Sync {
    async fn key(&self) -> Result<KeyBytes, KeyError>;
}

/// The SecureString `param`, read once.
pub struct SsmCallbackKey {
    ssm: aws_sdk_ssm::Client,
    param: String,
    key: OnceCell<KeyBytes>,
}

impl SsmCallbackKey {
    pub fn new(ssm: aws_sdk_ssm::Client, param: impl Into<String>) -> Self {
        Self { ssm, param: param.into(), key: OnceCell::new() }
    }
}

#[async_trait]
impl CallbackKey for SsmCallbackKey {
    async fn key(&self) -> Result<KeyBytes, KeyError> {
        self.key
            .get_or_try_init(|| async {
                let out =
                    self.ssm.get_parameter().name(&self.param).with_decryption(true).send().await.map_err(|e| {
                        KeyError::Unavailable(format!(
                            "reading {}: {}",
                            self.param,
                            aws_sdk_ssm::error::DisplayErrorContext(e)
                        ))
                    })?;
                match out.parameter().and_then(|p| p.value()) {
                    Some(v) if v.len() >= 32 => Ok(KeyBytes::new(v.as_bytes())),
                    Some(_) => Err(KeyError::Unavailable(format!("{} holds fewer than 32 bytes", self.param))),
                    None => Err(KeyError::Unavailable(format!("{} has no value", self.param))),
                }
            })
            .await
            .cloned()
    }
}

/// A key given at wiring (tests, the local stack).
pub struct FixedCallbackKey(pub KeyBytes);

#[async_trait]
impl CallbackKey for FixedCallbackKey {
    async fn key(&self) -> Result<KeyBytes, KeyError> {
        Ok(self.0.clone())
    }
}

/// For an API wired without a callback key: every callback is refused as unavailable.
pub struct NoCallbackKey;

#[async_trait]
impl CallbackKey for NoCallbackKey {
    async fn key(&self) -> Result<KeyBytes, KeyError> {
        Err(KeyError::Unavailable("this API has no callback key configured (CALLBACK_KEY_PARAM)".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_key_never_shows_in_debug_output() {
        let key = FixedCallbackKey(KeyBytes::new(b"0123456789abcdef0123456789abcdef".to_vec())).key().await.unwrap();
        assert_eq!(format!("{key:?}"), "KeyBytes(32 bytes)");
        assert_eq!(key.expose(), b"0123456789abcdef0123456789abcdef");
        assert!(matches!(NoCallbackKey.key().await, Err(KeyError::Unavailable(_))));
    }
}
