//! `portal login`: a token given (locally, from `make token`), or Cognito's authorization-code
//! flow with PKCE (RFC 7636) through its hosted UI: a browser signs in, Cognito redirects to
//! `http://localhost:<port>/callback` served here for that one request, and the code is traded
//! for tokens. The ID token is the bearer (the API's JWT authorizer checks its audience, the app
//! client, and reads `email` and `cognito:groups` from it); the refresh token renews it when it
//! expires. Cognito has no device-code grant, so a machine without a browser logs in with a
//! token obtained elsewhere (`--token -` reads it from stdin).
//!
//! Tokens are written to the profile file and nowhere else: never printed, never logged.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use reqwest::Url;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::args::LoginArgs;
use crate::config::{Profile, Profiles, Secret, parse_url};
use crate::error::CliError;

/// How long the browser has to come back.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// The PKCE pair: the verifier stays here, its challenge goes to the authorize URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

impl Pkce {
    /// A verifier of 32 random bytes (43 characters), its S256 challenge.
    pub fn new() -> Result<Self, CliError> {
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| CliError::Login(format!("no randomness: {e}")))?;
        Ok(Self::from_verifier(URL_SAFE_NO_PAD.encode(random)))
    }

    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self { verifier: Secret::new(verifier), challenge }
    }
}

fn random_state() -> Result<String, CliError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| CliError::Login(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(random))
}

/// `{issuer}/oauth2/{endpoint}` (Cognito's hosted UI endpoints), keeping a path the issuer has.
fn endpoint(issuer: &Url, name: &str) -> Result<Url, CliError> {
    let mut url = issuer.clone();
    url.path_segments_mut()
        .map_err(|()| CliError::Usage(format!("--issuer `{issuer}` cannot be a base URL")))?
        .pop_if_empty()
        .extend(["oauth2", name]);
    Ok(url)
}

/// The URL the browser opens to sign in.
pub fn authorize_url(
    issuer: &Url,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
    state: &str,
    challenge: &str,
) -> Result<Url, CliError> {
    let mut url = endpoint(issuer, "authorize")?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url)
}

/// Cognito's token answer.
#[derive(Deserialize)]
struct Tokens {
    id_token: Secret,
    #[serde(default)]
    refresh_token: Option<Secret>,
    #[serde(default)]
    expires_in: Option<i64>,
}

async fn token_request(http: &reqwest::Client, issuer: &Url, form: &[(&str, &str)]) -> Result<Tokens, CliError> {
    let body = serde_urlencoded::to_string(form).map_err(|e| CliError::Login(e.to_string()))?;
    let resp = http
        .post(endpoint(issuer, "token")?)
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| CliError::Unreachable { url: issuer.to_string(), reason: e.to_string() })?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| CliError::Login(e.to_string()))?;
    if !status.is_success() {
        // OAuth errors are `{"error": "invalid_grant"}`: a code, never a token.
        #[derive(Deserialize)]
        struct OAuthError {
            error: String,
        }
        let why = serde_json::from_slice::<OAuthError>(&bytes).map(|e| e.error).unwrap_or_default();
        return Err(CliError::Login(format!("the token endpoint answered {status} {why}")));
    }
    serde_json::from_slice(&bytes).map_err(|_| CliError::Login("the token endpoint's answer has no id_token".into()))
}

/// What a token says about itself (unverified: only to tell who you are and when it expires).
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "cognito:groups")]
    pub groups: Vec<String>,
    #[serde(default)]
    pub exp: Option<i64>,
}

impl Claims {
    pub fn of(token: &Secret) -> Self {
        token
            .expose()
            .split('.')
            .nth(1)
            .and_then(|payload| URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok())
            .and_then(|json| serde_json::from_slice(&json).ok())
            .unwrap_or_default()
    }

    fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.exp.and_then(|s| DateTime::from_timestamp(s, 0))
    }

    /// `alice@vendor.example (admin), expires 2026-05-01 10:00 UTC`: who, never the token.
    pub fn describe(&self) -> String {
        let who = self.email.as_deref().or(self.sub.as_deref()).unwrap_or("an unknown user");
        let groups = if self.groups.is_empty() { String::new() } else { format!(" ({})", self.groups.join(", ")) };
        let until =
            self.expires_at().map(|t| format!(", expires {}", t.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        format!("{who}{groups}{until}")
    }
}

fn read_token_from_stdin() -> Result<Secret, CliError> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let token = line.trim();
    if token.is_empty() {
        return Err(CliError::Usage("no token on stdin".into()));
    }
    Ok(Secret::new(token))
}

/// Runs `portal login` for `profile_name` (the API at `url` if given) and saves the profile.
pub async fn login(
    args: &LoginArgs,
    url: Option<&str>,
    profile_name: &str,
    path: &std::path::Path,
) -> Result<String, CliError> {
    let mut profiles = Profiles::load(path)?;
    let mut profile = profiles.profiles.get(profile_name).cloned().unwrap_or_default();
    if let Some(url) = url {
        profile.url = Some(parse_url(url)?.to_string());
    }
    let token = match (&args.token, &args.issuer, &args.client_id) {
        (Some(t), _, _) => {
            let token = if t == "-" { read_token_from_stdin()? } else { Secret::new(t.clone()) };
            profile = Profile {
                url: profile.url.take(),
                expires_at: Claims::of(&token).expires_at(),
                token: Some(token.clone()),
                ..Profile::default()
            };
            token
        }
        (None, Some(issuer), Some(client_id)) => {
            let issuer = parse_url(issuer)?;
            let tokens = sign_in(args, &issuer, client_id).await?;
            profile.issuer = Some(issuer.to_string());
            profile.client_id = Some(client_id.clone());
            keep(&mut profile, tokens);
            profile.token.clone().ok_or_else(|| CliError::Login("no token".into()))?
        }
        _ => {
            return Err(CliError::Usage(
                "give --token <TOKEN> (or `--token -` to read it from stdin), or --issuer <URL> --client-id <ID>"
                    .into(),
            ));
        }
    };
    profiles.profiles.insert(profile_name.to_owned(), profile.clone());
    profiles.save(path)?;
    let api = profile.url.as_deref().unwrap_or(crate::args::DEFAULT_URL);
    Ok(format!(
        "Logged in as {} for {api} (profile `{profile_name}`, {})",
        Claims::of(&token).describe(),
        path.display()
    ))
}

fn keep(profile: &mut Profile, tokens: Tokens) {
    let claims = Claims::of(&tokens.id_token);
    profile.expires_at = tokens.expires_in.map(|s| Utc::now() + chrono::Duration::seconds(s)).or(claims.expires_at());
    profile.token = Some(tokens.id_token);
    if let Some(refresh) = tokens.refresh_token {
        profile.refresh_token = Some(refresh);
    }
}

/// The browser signs in; answers Cognito's tokens.
async fn sign_in(args: &LoginArgs, issuer: &Url, client_id: &str) -> Result<Tokens, CliError> {
    let pkce = Pkce::new()?;
    let state = random_state()?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.redirect_port)).await.map_err(|e| {
        CliError::Login(format!("cannot listen on 127.0.0.1:{} for the redirect: {e}", args.redirect_port))
    })?;
    let redirect_uri = format!("http://localhost:{}/callback", args.redirect_port);
    let url = authorize_url(issuer, client_id, &redirect_uri, &args.scope, &state, &pkce.challenge)?;
    eprintln!("Sign in at this URL (it comes back to {redirect_uri}):\n{url}");
    if !args.no_browser {
        open_browser(url.as_str());
    }
    let code = tokio::time::timeout(SIGN_IN_TIMEOUT, receive_code(&listener, &state))
        .await
        .map_err(|_| CliError::Login(format!("no sign-in within {} s", SIGN_IN_TIMEOUT.as_secs())))??;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Login(e.to_string()))?;
    token_request(
        &http,
        issuer,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code.expose()),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", pkce.verifier.expose()),
        ],
    )
    .await
}

/// A new ID token for a profile whose token expired, from its refresh token; saved.
pub async fn refresh(profile_name: &str, path: &std::path::Path) -> Result<Option<Secret>, CliError> {
    let mut profiles = Profiles::load(path)?;
    let Some(profile) = profiles.profiles.get_mut(profile_name) else { return Ok(None) };
    let (Some(refresh), Some(issuer), Some(client_id)) =
        (profile.refresh_token.clone(), profile.issuer.clone(), profile.client_id.clone())
    else {
        return Ok(None);
    };
    let issuer = parse_url(&issuer)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Login(e.to_string()))?;
    let form =
        [("grant_type", "refresh_token"), ("client_id", client_id.as_str()), ("refresh_token", refresh.expose())];
    let tokens = token_request(&http, &issuer, &form).await?;
    keep(profile, tokens);
    let token = profile.token.clone();
    profiles.save(path)?;
    Ok(token)
}

/// Serves the redirect: answers the code of the first `/callback` that carries our `state`.
async fn receive_code(listener: &tokio::net::TcpListener, state: &str) -> Result<Secret, CliError> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        while len < buf.len() && !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
        }
        let request = String::from_utf8_lossy(&buf[..len]);
        let target = request.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/");
        let outcome = callback(target, state);
        let (status, page) = match &outcome {
            Some(Ok(_)) => ("200 OK", "Signed in to the Admin Portal: you can close this tab."),
            Some(Err(_)) => ("400 Bad Request", "The sign-in failed: see the terminal."),
            None => ("404 Not Found", "Not found."),
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
        if let Some(outcome) = outcome {
            return outcome;
        }
    }
}

/// The code of a redirect to `/callback` (`None` for another path, such as a favicon).
fn callback(target: &str, state: &str) -> Option<Result<Secret, CliError>> {
    let url = Url::parse("http://localhost").ok()?.join(target).ok()?;
    if url.path() != "/callback" {
        return None;
    }
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    Some(match (param("error"), param("state"), param("code")) {
        (Some(error), _, _) => Err(CliError::Login(format!(
            "{error}{}",
            param("error_description").map(|d| format!(": {d}")).unwrap_or_default()
        ))),
        (None, Some(s), Some(code)) if s == state => Ok(Secret::new(code)),
        (None, Some(_), Some(_)) => Err(CliError::Login("the redirect's state is not ours".into())),
        _ => Err(CliError::Login("the redirect has no code".into())),
    })
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// `portal logout`: the profile keeps its URL, loses its tokens.
pub fn logout(profile_name: &str, path: &std::path::Path) -> Result<String, CliError> {
    let mut profiles = Profiles::load(path)?;
    match profiles.profiles.get_mut(profile_name) {
        Some(p) if p.token.is_some() || p.refresh_token.is_some() => {
            *p = Profile { url: p.url.take(), ..Profile::default() };
            profiles.save(path)?;
            Ok(format!("Logged out (profile `{profile_name}`)"))
        }
        _ => Ok(format!("Not logged in (profile `{profile_name}`)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(pkce.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let fresh = Pkce::new().unwrap();
        assert_eq!(fresh.verifier.expose().len(), 43);
        assert_ne!(fresh.verifier.expose(), Pkce::new().unwrap().verifier.expose());
    }

    #[test]
    fn the_authorize_url_is_cognitos_hosted_ui_with_the_s256_challenge() {
        let issuer = Url::parse("https://portal-prod.auth.eu-west-1.amazoncognito.com").unwrap();
        let url = authorize_url(&issuer, "abc123", "http://localhost:8400/callback", "openid email", "st4te", "ch4l")
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://portal-prod.auth.eu-west-1.amazoncognito.com/oauth2/authorize?response_type=code\
             &client_id=abc123&redirect_uri=http%3A%2F%2Flocalhost%3A8400%2Fcallback&scope=openid+email\
             &state=st4te&code_challenge=ch4l&code_challenge_method=S256"
        );
        assert_eq!(
            endpoint(&issuer, "token").unwrap().as_str(),
            "https://portal-prod.auth.eu-west-1.amazoncognito.com/oauth2/token"
        );
    }

    #[test]
    fn the_callback_gives_the_code_only_with_our_state() {
        let code = callback("/callback?code=c0de&state=s1", "s1").unwrap().unwrap();
        assert_eq!(code.expose(), "c0de");
        assert!(callback("/callback?code=c0de&state=other", "s1").unwrap().is_err());
        let denied = callback("/callback?error=access_denied&error_description=no", "s1").unwrap().unwrap_err();
        assert_eq!(denied.to_string(), "login failed: access_denied: no");
        assert!(callback("/favicon.ico", "s1").is_none());
    }

    #[test]
    fn claims_tell_who_without_the_token() {
        let payload = URL_SAFE_NO_PAD
            .encode(br#"{"sub":"u1","email":"dana@vendor.example","cognito:groups":["admin"],"exp":1893456000}"#);
        let token = Secret::new(format!("h.{payload}.sig"));
        let said = Claims::of(&token).describe();
        assert_eq!(said, "dana@vendor.example (admin), expires 2030-01-01 00:00 UTC");
        assert_eq!(Claims::of(&Secret::new("not-a-jwt")).describe(), "an unknown user");
    }
}
