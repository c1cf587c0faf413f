//! Sends an [`ApiCall`]: the URL, the headers (the token, `Idempotency-Key`, `If-Match`), the
//! retries that are safe, the pages of `--all`, and every answer that is not a success as a
//! [`CliError`]. The token goes into the `Authorization` header and nowhere else.

use std::time::{Duration, Instant};

use reqwest::{Method, Url, header};

use crate::calls::ApiCall;
use crate::config::{Secret, Settings};
use crate::error::{CliError, Problem};
use crate::output::{self, Doc};

pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<Secret>,
    profile: String,
    verbose: bool,
    retries: u32,
}

/// The most pages `--all` reads (500 items each at most) before it stops with an error.
const MAX_PAGES: usize = 10_000;

impl Client {
    pub fn new(settings: &Settings, timeout: Duration, verbose: bool, retries: u32) -> Result<Self, CliError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("portal/", env!("CARGO_PKG_VERSION")))
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| CliError::Config(format!("cannot start an HTTP client: {e}")))?;
        Ok(Self {
            http,
            base: settings.url.clone(),
            token: settings.token.clone(),
            profile: settings.profile_name.clone(),
            verbose,
            retries,
        })
    }

    /// The URL of `call` (with this page's start).
    pub fn url(&self, call: &ApiCall, next_token: Option<&str>) -> Result<Url, CliError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| CliError::Usage(format!("--url `{}` cannot be a base URL", self.base)))?
            .pop_if_empty()
            .extend(&call.segments);
        let limit = call.page.as_ref().and_then(|p| p.limit).map(|n| ("limit", n.to_string()));
        let start = next_token.map(|t| ("next_token", t.to_owned()));
        let pairs: Vec<(&str, String)> = call.query.iter().cloned().chain(limit).chain(start).collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    /// The answer of `call`, every page of it with `--all` (merged as one last page).
    pub async fn fetch(&self, call: &ApiCall) -> Result<Doc, CliError> {
        let all = call.page.as_ref().is_some_and(|p| p.all);
        let mut next = call.page.as_ref().and_then(|p| p.next_token.clone());
        let mut pages = Vec::new();
        loop {
            let doc = output::parse(&self.send(call, next.as_deref()).await?)?;
            if !all {
                return Ok(doc);
            }
            let following = doc.get("next_token").and_then(|t| t.as_str()).map(str::to_owned);
            pages.push(doc);
            match following {
                None => return Ok(output::merge_pages(pages)),
                Some(t) if Some(&t) == next.as_ref() || pages.len() >= MAX_PAGES => {
                    return Err(CliError::Protocol(format!("the pages do not end (after {} pages)", pages.len())));
                }
                Some(t) => next = Some(t),
            }
        }
    }

    /// One request, tried again while the API is unavailable and trying again is safe.
    /// The body of a successful answer.
    pub async fn send(&self, call: &ApiCall, next_token: Option<&str>) -> Result<Vec<u8>, CliError> {
        if !call.route.is_public() && self.token.is_none() {
            return Err(CliError::NoToken { profile: self.profile.clone() });
        }
        let url = self.url(call, next_token)?;
        let signature = call.signature()?;
        let body = call.with_file()?;
        let method = &call.route.method;
        // A create carries its idempotency key: sent again, it creates nothing twice.
        let repeatable =
            matches!(*method, Method::GET | Method::PUT | Method::DELETE) || call.idempotency_key.is_some();
        let mut attempt = 0;
        loop {
            let last = attempt >= self.retries;
            let started = Instant::now();
            self.log(|| format!("> {method} {url}"));
            if let Some(key) = &call.idempotency_key {
                self.log(|| format!("> idempotency-key: {key}"));
            }
            match self.request(call, &url, &signature, body.as_ref()).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let replayed = resp.headers().get("idempotent-replayed").is_some();
                    self.log(|| {
                        let replay = if replayed { " (idempotent replay)" } else { "" };
                        format!("< {status} in {} ms{replay}", started.elapsed().as_millis())
                    });
                    let transient = matches!(status.as_u16(), 429 | 502 | 503 | 504);
                    if transient && repeatable && !last {
                        backoff(attempt).await;
                        attempt += 1;
                        continue;
                    }
                    let body = resp.bytes().await.map_err(|e| self.unreachable(&e))?.to_vec();
                    if status.is_success() {
                        return Ok(body);
                    }
                    return Err(CliError::Api(Problem::of_answer(status.as_u16(), &body)));
                }
                // Refused: nothing was sent, so any call may go again.
                Err(e) if !last && (e.is_connect() || (e.is_timeout() && repeatable)) => {
                    self.log(|| format!("< {}", describe(&e)));
                    backoff(attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(self.unreachable(&e)),
            }
        }
    }

    fn request(
        &self,
        call: &ApiCall,
        url: &Url,
        signature: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> reqwest::RequestBuilder {
        let mut req =
            self.http.request(call.route.method.clone(), url.clone()).header(header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            req = req.bearer_auth(token.expose());
        }
        if let Some(key) = &call.idempotency_key {
            req = req.header("idempotency-key", key);
        }
        if let Some(tag) = &call.if_match {
            req = req.header(header::IF_MATCH, etag(tag));
        }
        for (name, value) in signature {
            req = req.header(*name, value);
        }
        if let Some(body) = body {
            req = req.json(body);
        }
        req
    }

    fn unreachable(&self, e: &reqwest::Error) -> CliError {
        CliError::Unreachable { url: self.base.to_string(), reason: describe(e) }
    }

    fn log(&self, line: impl FnOnce() -> String) {
        if self.verbose {
            eprintln!("{}", line());
        }
    }
}

/// `3` → `"3"`: the ETag the API sent, as `If-Match` wants it (a quoted or `*` one as is).
fn etag(tag: &str) -> String {
    if tag.starts_with('"') || tag.starts_with("W/") || tag == "*" { tag.to_owned() } else { format!("\"{tag}\"") }
}

/// Why a request got no answer, in a line (reqwest's innermost cause says it best).
fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    format!("{what} ({cause})")
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(200u64 << attempt.min(5))).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::Cli;
    use crate::config::Profiles;
    use clap::Parser;

    fn client(base: &str) -> Client {
        let settings = Settings::resolve(Some(base), Some("t".into()), "default", &Profiles::default()).unwrap();
        Client::new(&settings, Duration::from_secs(1), false, 0).unwrap()
    }

    fn call(args: &[&str]) -> ApiCall {
        Cli::try_parse_from(std::iter::once("portal").chain(args.iter().copied())).unwrap().api_call().unwrap().unwrap()
    }

    #[test]
    fn ids_are_path_segments_encoded_and_a_base_path_is_kept() {
        let c = client("https://api.example/prod/");
        let url = c.url(&call(&["configs", "get", "T1", "a/b c"]), None).unwrap();
        assert_eq!(url.as_str(), "https://api.example/prod/v1/tenants/T1/configs/a%2Fb%20c");
    }

    #[test]
    fn filters_limit_and_the_page_start_are_the_query() {
        let c = client("http://127.0.0.1:3000");
        let url = c.url(&call(&["tenants", "list", "--state", "Broken", "--limit", "10"]), Some("abc+/=")).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:3000/v1/tenants?state=Broken&limit=10&next_token=abc%2B%2F%3D");
        let plain = c.url(&call(&["fleet", "summary"]), None).unwrap();
        assert_eq!(plain.as_str(), "http://127.0.0.1:3000/v1/fleet/summary");
    }

    #[test]
    fn if_match_takes_the_revision_bare_or_quoted() {
        assert_eq!(etag("3"), "\"3\"");
        assert_eq!(etag("\"3\""), "\"3\"");
        assert_eq!(etag("W/\"3\""), "W/\"3\"");
    }
}
