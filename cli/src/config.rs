//! Where the API is and who calls it: `--url`/`PORTAL_URL` and `PORTAL_TOKEN`, else the profile
//! that `portal login` wrote to `$XDG_CONFIG_HOME/portal/profiles.yaml` (mode 0600).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::args::DEFAULT_URL;
use crate::error::CliError;

/// A bearer token. It has no `Display`, and its `Debug` hides it: it can be sent, never shown.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, to put in a header or the profile file: nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One profile: an API and how to call it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The bearer token (a local token, or Cognito's ID token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Cognito: the refresh token, its hosted UI and app client, to renew `token` when it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Profile {
    /// Whether the token is past its expiry (with a minute to spare).
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at - chrono::Duration::seconds(60) <= now)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// `$XDG_CONFIG_HOME/portal/profiles.yaml` (`~/.config/portal/...`; the platform's config
/// directory elsewhere).
pub fn profiles_path() -> Result<PathBuf, CliError> {
    dirs::config_dir()
        .map(|d| d.join("portal").join("profiles.yaml"))
        .ok_or_else(|| CliError::Config("no config directory: set XDG_CONFIG_HOME or HOME".into()))
}

impl Profiles {
    pub fn load(path: &Path) -> Result<Self, CliError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_yaml::from_str(&text)
                .map_err(|e| CliError::Config(format!("{} is not a profiles file: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(CliError::Config(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Writes the file readable by its owner only, whole or not at all (a new file renamed over).
    pub fn save(&self, path: &Path) -> Result<(), CliError> {
        use std::io::Write;
        let dir = path.parent().ok_or_else(|| CliError::Config(format!("{} has no directory", path.display())))?;
        std::fs::create_dir_all(dir).map_err(|e| CliError::Config(format!("cannot create {}: {e}", dir.display())))?;
        let text = serde_yaml::to_string(self).map_err(|e| CliError::Config(format!("cannot write profiles: {e}")))?;
        let tmp = dir.join(format!(".profiles.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options.open(&tmp).and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()));
        written
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| CliError::Config(format!("cannot write {}: {e}", path.display())))
    }
}

/// What a call needs, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: reqwest::Url,
    pub token: Option<Secret>,
    pub profile_name: String,
    /// The profile as read (to renew its token).
    pub profile: Profile,
}

impl Settings {
    /// `--url`/`PORTAL_URL`, else the profile's, else the local stack; `PORTAL_TOKEN`, else the
    /// profile's token.
    pub fn resolve(
        url: Option<&str>,
        env_token: Option<String>,
        profile_name: &str,
        profiles: &Profiles,
    ) -> Result<Self, CliError> {
        let profile = profiles.profiles.get(profile_name).cloned().unwrap_or_default();
        let raw = url.or(profile.url.as_deref()).unwrap_or(DEFAULT_URL);
        let url = parse_url(raw)?;
        let token = env_token.filter(|t| !t.is_empty()).map(Secret::new).or_else(|| profile.token.clone());
        Ok(Self { url, token, profile_name: profile_name.to_owned(), profile })
    }
}

pub fn parse_url(raw: &str) -> Result<reqwest::Url, CliError> {
    let url = reqwest::Url::parse(raw).map_err(|e| CliError::Usage(format!("--url `{raw}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(CliError::Usage(format!("--url `{raw}` must be http or https")));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles(url: Option<&str>, token: Option<&str>) -> Profiles {
        let mut p = Profiles::default();
        p.profiles.insert(
            "default".into(),
            Profile { url: url.map(Into::into), token: token.map(Secret::new), ..Profile::default() },
        );
        p
    }

    #[test]
    fn the_flag_or_environment_wins_over_the_profile_which_wins_over_the_local_default() {
        let p = profiles(Some("https://portal.example/"), Some("from-profile"));
        let s = Settings::resolve(Some("http://127.0.0.1:9/"), Some("from-env".into()), "default", &p).unwrap();
        assert_eq!((s.url.as_str(), s.token.unwrap().expose()), ("http://127.0.0.1:9/", "from-env"));
        let s = Settings::resolve(None, None, "default", &p).unwrap();
        assert_eq!((s.url.as_str(), s.token.unwrap().expose()), ("https://portal.example/", "from-profile"));
        let s = Settings::resolve(None, Some(String::new()), "other", &p).unwrap();
        assert_eq!((s.url.as_str(), s.token), ("http://127.0.0.1:3000/", None));
    }

    #[test]
    fn a_token_never_shows_in_debug_output() {
        let s = Settings::resolve(None, Some("eyJhbGciOi.secret".into()), "default", &Profiles::default()).unwrap();
        assert!(!format!("{s:?}").contains("secret"), "{s:?}");
    }

    #[test]
    fn the_profiles_file_is_written_for_its_owner_only_and_reads_back() {
        let dir = std::env::temp_dir().join(format!("portal-cli-test-{}", ulid::Ulid::new()));
        let path = dir.join("portal/profiles.yaml");
        profiles(Some("http://x/"), Some("t0k3n")).save(&path).unwrap();
        let back = Profiles::load(&path).unwrap();
        assert_eq!(back.profiles["default"].token.as_ref().map(Secret::expose), Some("t0k3n"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_url_must_be_http() {
        assert_eq!(parse_url("ftp://x").unwrap_err().exit_code(), 2);
        assert!(parse_url("not a url").is_err());
    }
}
