//! What can go wrong, how it is told on stderr, and its exit code: 2 bad input, 3 auth,
//! 4 conflict, 5 unavailable, 1 anything else.

use serde::Deserialize;

/// An `application/problem+json` answer (or what the gateway answered instead).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub status: u16,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub field: Option<String>,
}

impl Problem {
    /// The problem of an error answer: its problem+json body, else the gateway's
    /// `{"message": ...}`, else the status alone.
    pub fn of_answer(status: u16, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Gateway {
            message: String,
        }
        let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error");
        let mut problem = match serde_json::from_slice::<Problem>(body) {
            Ok(p) if !p.title.is_empty() => p,
            _ => Problem {
                title: reason.to_owned(),
                detail: serde_json::from_slice::<Gateway>(body).map(|g| g.message).unwrap_or_default(),
                ..Problem::default()
            },
        };
        problem.status = status;
        problem
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input found before any call.
    #[error("{0}")]
    Usage(String),
    /// The API answered with a problem.
    #[error("{}", problem_text(.0))]
    Api(Problem),
    #[error(
        "not logged in (profile `{profile}`): run `portal login --token <TOKEN>` (locally the token comes from \
         `make token ROLE=admin SUB=<you>`), `portal login --issuer <URL> --client-id <ID>` in AWS, or set PORTAL_TOKEN"
    )]
    NoToken { profile: String },
    /// No answer: connection refused, a timeout, or the API unavailable after the retries.
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// An answer this client cannot read.
    #[error("{0}")]
    Protocol(String),
    #[error("change request {id} ended {status}{}", .error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())]
    NotSucceeded { id: String, status: String, error: Option<String> },
    #[error(
        "change request {id} is still {status} after {seconds} s (it goes on; follow it with `portal change-requests get {id} --wait`)"
    )]
    WaitTimedOut { id: String, status: String, seconds: u64 },
    #[error("{0}")]
    Config(String),
    #[error("login failed: {0}")]
    Login(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn problem_text(p: &Problem) -> String {
    let mut text = match (p.title.as_str(), p.detail.as_str()) {
        (t, "") => format!("{t} ({})", p.status),
        (t, d) => format!("{t} ({}): {d}", p.status),
    };
    if let Some(field) = p.field.as_deref().filter(|f| !f.is_empty()) {
        text.push_str(&format!("\n  field: {field}"));
    }
    if p.status == 401 {
        text.push_str("\n  hint: the token was refused (expired?); run `portal login` again");
    }
    text
}

impl CliError {
    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Api(p) => match p.status {
                400 | 422 => 2,
                401 | 403 => 3,
                409 | 412 => 4,
                429 | 502 | 503 | 504 => 5,
                _ => 1,
            },
            Self::NoToken { .. } | Self::Login(_) => 3,
            Self::Unreachable { .. } => 5,
            Self::Protocol(_)
            | Self::NotSucceeded { .. }
            | Self::WaitTimedOut { .. }
            | Self::Config(_)
            | Self::Io(_) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> CliError {
        CliError::Api(Problem { status, ..Problem::default() })
    }

    #[test]
    fn exit_codes_follow_the_class_of_the_problem() {
        let codes: Vec<u8> = [400, 422, 401, 403, 409, 412, 503, 404, 500].map(|s| api(s).exit_code()).to_vec();
        assert_eq!(codes, [2, 2, 3, 3, 4, 4, 5, 1, 1]);
        assert_eq!(CliError::NoToken { profile: "default".into() }.exit_code(), 3);
        assert_eq!(CliError::Unreachable { url: "u".into(), reason: "refused".into() }.exit_code(), 5);
    }

    #[test]
    fn a_problem_is_told_by_title_detail_and_field() {
        let body =
            br#"{"type":"x","title":"Invalid value","status":422,"detail":"name: must not be empty","field":"name"}"#;
        let text = CliError::Api(Problem::of_answer(422, body)).to_string();
        assert_eq!(text, "Invalid value (422): name: must not be empty\n  field: name");
    }

    #[test]
    fn a_gateway_answer_without_problem_still_reads() {
        let p = Problem::of_answer(401, br#"{"message":"Unauthorized"}"#);
        assert_eq!((p.title.as_str(), p.detail.as_str(), p.status), ("Unauthorized", "Unauthorized", 401));
        assert!(CliError::Api(p).to_string().contains("portal login"));
        let p = Problem::of_answer(502, b"<html>bad gateway</html>");
        assert_eq!((p.title.as_str(), p.detail.as_str()), ("Bad Gateway", ""));
    }

    #[test]
    fn no_token_says_how_to_log_in() {
        let text = CliError::NoToken { profile: "prod".into() }.to_string();
        assert!(text.contains("portal login --token"), "{text}");
        assert!(text.contains("PORTAL_TOKEN"), "{text}");
    }
}
