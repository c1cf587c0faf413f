//! What is kept of a failure's text from outside (an SSM command's standard error, a Jenkins
//! answer): one short line, with anything that looks like a credential masked. The full output
//! stays where it was written (SSM, the Jenkins console); the change request links to it.

use crate::ConfigKey;

/// At most this many characters of a failure's text are kept.
pub const FAILURE_KEEP: usize = 240;

const MASK: &str = "***";

/// `raw` as a change request may store it.
pub fn failure_text(raw: &str) -> String {
    let line = raw.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default();
    let masked: Vec<String> = line.split(' ').map(mask_word).collect();
    let text = masked.join(" ");
    let mut kept: String = text.chars().take(FAILURE_KEEP).collect();
    if kept.chars().count() < text.chars().count() || raw.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        kept.push('…');
    }
    kept
}

/// One word: `key=value` / `key:value` with a key that names a secret, a URL's user info, or
/// a long token-like string are masked.
fn mask_word(word: &str) -> String {
    if let Some((scheme, rest)) = word.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && !userinfo.contains('/')
    {
        return format!("{scheme}://{MASK}@{host}");
    }
    for sep in ['=', ':'] {
        if let Some((key, value)) = word.split_once(sep)
            && !value.is_empty()
            && ConfigKey::parse(key.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
                .is_ok_and(|k| k.names_a_secret())
        {
            return format!("{key}{sep}{MASK}");
        }
    }
    let tokenish = word.len() >= 32
        && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-'))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_alphabetic());
    if tokenish { MASK.to_owned() } else { word.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_its_first_line_short_and_masks_what_looks_like_a_credential() {
        let raw = "fatal: login failed password=hunter2 for https://deploy:s3cr3t@git.example/repo token AKIAABCDEFGHIJKLMNOP1234567890abcd\nline two with more";
        let kept = failure_text(raw);
        assert!(
            kept.starts_with("fatal: login failed password=*** for https://***@git.example/repo token ***"),
            "{kept}"
        );
        assert!(kept.ends_with('…'), "more lines were cut: {kept}");
        for secret in ["hunter2", "s3cr3t", "AKIAABCDEF"] {
            assert!(!kept.contains(secret), "{secret} in {kept}");
        }
        let long = "x ".repeat(500);
        assert!(failure_text(&long).chars().count() <= FAILURE_KEEP + 1);
        assert_eq!(failure_text("ansible: host unreachable"), "ansible: host unreachable");
        assert_eq!(failure_text(""), "");
    }
}
