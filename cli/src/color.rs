//! Colour, only for people: on a terminal, never with `NO_COLOR` (https://no-color.org), and
//! forced by `CLICOLOR_FORCE` for a pager that shows it.

use std::io::IsTerminal;

/// Whether to colour a stream: `NO_COLOR` (set and not empty) wins over everything, then
/// `CLICOLOR_FORCE` (set and not `0`), then whether the stream is a terminal.
pub fn enabled(no_color: Option<&str>, force: Option<&str>, is_terminal: bool) -> bool {
    if no_color.is_some_and(|v| !v.is_empty()) {
        return false;
    }
    if force.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    is_terminal
}

/// Whether to colour stdout (`stdout`) or stderr, from this process's environment.
pub fn for_stream(stdout: bool) -> Paint {
    let terminal = if stdout { std::io::stdout().is_terminal() } else { std::io::stderr().is_terminal() };
    let no_color = std::env::var("NO_COLOR").ok();
    let force = std::env::var("CLICOLOR_FORCE").ok();
    if enabled(no_color.as_deref(), force.as_deref(), terminal) { Paint::ansi() } else { Paint::none() }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paint {
    on: bool,
}

impl Paint {
    pub const fn none() -> Self {
        Self { on: false }
    }

    pub const fn ansi() -> Self {
        Self { on: true }
    }

    pub fn is_on(self) -> bool {
        self.on
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on && !text.is_empty() { format!("\u{1b}[{code}m{text}\u{1b}[0m") } else { text.to_owned() }
    }

    pub fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }

    pub fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    pub fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    pub fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }

    /// A tenant state, a change request or step status, a verdict: green when good, yellow
    /// while moving, red when broken or failed, dim when over.
    pub fn state(self, word: &str) -> String {
        match word {
            "Healthy" | "succeeded" | "passed" | "active" | "available" | "SUCCESS" | "ok" => self.green(word),
            "Provisioning" | "Maintenance" | "BackingUp" | "Restoring" | "InTesting" | "running" | "pending"
            | "awaiting_approval" | "deprecated" | "suspended" => self.wrap("33", word),
            "Broken" | "failed" | "rejected" | "FAILURE" | "revoked" | "withdrawn" | "expired" => self.red(word),
            "EndOfLife" | "Suspended" | "cancelled" | "ABORTED" => self.dim(word),
            _ => word.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_a_terminal_and_over_a_forced_colour() {
        assert!(!enabled(Some("1"), None, true));
        assert!(!enabled(Some("1"), Some("1"), true));
        assert!(enabled(Some(""), None, true), "an empty NO_COLOR is unset");
        assert!(enabled(None, Some("1"), false));
        assert!(!enabled(None, Some("0"), false));
        assert!(!enabled(None, None, false), "no colour in a pipe");
    }

    #[test]
    fn painting_off_leaves_text_as_is() {
        assert_eq!(Paint::none().state("Broken"), "Broken");
        assert_eq!(Paint::ansi().state("Broken"), "\u{1b}[31mBroken\u{1b}[0m");
    }
}
