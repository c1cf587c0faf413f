//! `--wait`: reads a change request until it ends and tells each step as it starts and ends, as
//! a progress bar on a terminal and as plain lines otherwise (both on stderr: stdout gets the
//! change request as it ended). Exit 0 only if it succeeded.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};

use crate::args::Wait;
use crate::calls::ApiCall;
use crate::client::Client;
use crate::color::Paint;
use crate::error::CliError;
use crate::output::{self, Doc};
use crate::routes;

/// Change request statuses after which nothing moves.
const ENDED: &[&str] = &["succeeded", "failed", "cancelled", "rejected"];

/// Consecutive reads that may find the API unavailable before the wait gives up.
const UNAVAILABLE_READS: u32 = 30;

/// Something that happened to a change request between two reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Status {
        status: String,
    },
    StepStarted {
        name: String,
    },
    StepEnded {
        name: String,
        status: String,
        seconds: Option<f64>,
        error: Option<String>,
    },
    /// How many steps it runs in all, once its plan is stored.
    Planned {
        steps: u64,
    },
}

/// What the previous read showed.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    status: Option<String>,
    steps: Vec<(String, String)>,
    planned: Option<u64>,
}

fn text(doc: &Doc, field: &str) -> Option<String> {
    doc.get(field).and_then(|v| v.as_str()).map(str::to_owned)
}

fn seconds_between(start: Option<String>, end: Option<String>) -> Option<f64> {
    let start: DateTime<Utc> = start?.parse().ok()?;
    let end: DateTime<Utc> = end?.parse().ok()?;
    Some((end - start).num_milliseconds() as f64 / 1000.0)
}

impl Seen {
    /// What changed since the last read, in order; and what this read shows.
    pub fn advance(&self, cr: &Doc) -> (Vec<Event>, Seen) {
        let mut events = Vec::new();
        let mut next = Seen { status: text(cr, "status"), ..Seen::default() };
        let planned = cr.get("planned_steps").and_then(|p| p.as_sequence()).map(|p| p.len() as u64);
        // Begin and finish are steps of every change request besides those of its plan.
        next.planned = planned.filter(|n| *n > 0).map(|n| n + 2).or(self.planned);
        if next.planned != self.planned
            && let Some(steps) = next.planned
        {
            events.push(Event::Planned { steps });
        }
        // A status that moves on is told before the steps it shows, one that ends after them.
        let changed = next.status.clone().filter(|_| next.status != self.status);
        let ended = changed.as_deref().is_some_and(|s| ENDED.contains(&s));
        if let Some(status) = changed.clone().filter(|_| !ended) {
            events.push(Event::Status { status });
        }
        let steps = cr.get("steps").and_then(|s| s.as_sequence()).map(Vec::as_slice).unwrap_or_default();
        for (i, step) in steps.iter().enumerate() {
            let name = text(step, "name").unwrap_or_default();
            let status = text(step, "status").unwrap_or_default();
            let before = self.steps.get(i).map(|(_, s)| s.as_str());
            if before.is_none() && status == "running" {
                events.push(Event::StepStarted { name: name.clone() });
            } else if before != Some(status.as_str()) && status != "running" {
                events.push(Event::StepEnded {
                    name: name.clone(),
                    status: status.clone(),
                    seconds: seconds_between(text(step, "started_at"), text(step, "ended_at")),
                    error: text(step, "error"),
                });
            }
            next.steps.push((name, status));
        }
        if let Some(status) = changed.filter(|_| ended) {
            events.push(Event::Status { status });
        }
        (events, next)
    }
}

/// Where the events are told.
pub trait Progress {
    fn tell(&mut self, id: &str, event: &Event);
    fn done(&mut self);
}

fn ended_line(paint: Paint, name: &str, status: &str, seconds: Option<f64>, error: Option<&str>) -> String {
    let took = seconds.map(|s| format!(" ({s:.1} s)")).unwrap_or_default();
    let why = error.map(|e| format!(": {e}")).unwrap_or_default();
    format!("  {name}: {}{took}{why}", paint.state(status))
}

fn status_line(paint: Paint, id: &str, status: &str) -> String {
    let hint = match status {
        "awaiting_approval" => {
            format!(" (an admin other than the requester: `portal change-requests approve {id}`)")
        }
        _ => String::new(),
    };
    format!("change request {id}: {}{hint}", paint.state(status))
}

/// One line per event: for pipes and logs.
pub struct Lines {
    pub paint: Paint,
}

impl Progress for Lines {
    fn tell(&mut self, id: &str, event: &Event) {
        match event {
            Event::Status { status } => eprintln!("{}", status_line(self.paint, id, status)),
            Event::StepStarted { name } => eprintln!("  {name}: {}", self.paint.state("running")),
            Event::StepEnded { name, status, seconds, error } => {
                eprintln!("{}", ended_line(self.paint, name, status, *seconds, error.as_deref()))
            }
            Event::Planned { .. } => {}
        }
    }

    fn done(&mut self) {}
}

/// A progress bar with the running step, the ended steps printed above it: for a terminal.
pub struct Bar {
    bar: ProgressBar,
    paint: Paint,
}

impl Bar {
    pub fn new(paint: Paint) -> Self {
        let bar = ProgressBar::new_spinner();
        let this = Self { bar, paint };
        this.style(false);
        this.bar.enable_steady_tick(Duration::from_millis(120));
        this
    }

    /// A spinner, the steps done out of how many once the plan is known, the running step.
    fn style(&self, counted: bool) {
        let template = match (counted, self.paint.is_on()) {
            (true, true) => "{spinner:.cyan} [{pos}/{len}] {msg} {elapsed:.dim}",
            (true, false) => "{spinner} [{pos}/{len}] {msg} {elapsed}",
            (false, true) => "{spinner:.cyan} {msg} {elapsed:.dim}",
            (false, false) => "{spinner} {msg} {elapsed}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            self.bar.set_style(style);
        }
    }
}

impl Progress for Bar {
    fn tell(&mut self, id: &str, event: &Event) {
        match event {
            Event::Planned { steps } => {
                self.bar.set_length(*steps);
                self.style(true);
            }
            Event::Status { status } => self.bar.println(status_line(self.paint, id, status)),
            Event::StepStarted { name } => self.bar.set_message(name.clone()),
            Event::StepEnded { name, status, seconds, error } => {
                self.bar.println(ended_line(self.paint, name, status, *seconds, error.as_deref()));
                self.bar.inc(1);
            }
        }
    }

    fn done(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The display for stderr: a bar on a terminal, lines otherwise.
pub fn progress_for_stderr(paint: Paint) -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() { Box::new(Bar::new(paint)) } else { Box::new(Lines { paint }) }
}

/// Reads change request `id` until it ends; answers it as it ended (`Ok` whatever its status:
/// [`outcome`] says whether it succeeded).
pub async fn follow(client: &Client, id: &str, wait: &Wait, progress: &mut dyn Progress) -> Result<Doc, CliError> {
    let call = ApiCall::record(&routes::GET_CHANGE_REQUEST, &[id]);
    let started = Instant::now();
    let mut seen = Seen::default();
    let mut unavailable = 0;
    let result = loop {
        match client.send(&call, None).await {
            Ok(body) => {
                unavailable = 0;
                let cr = output::parse(&body)?;
                let (events, next) = seen.advance(&cr);
                for event in &events {
                    progress.tell(id, event);
                }
                seen = next;
                if seen.status.as_deref().is_some_and(|s| ENDED.contains(&s)) {
                    break Ok(cr);
                }
            }
            Err(e) if e.exit_code() == 5 && unavailable < UNAVAILABLE_READS => unavailable += 1,
            Err(e) => break Err(e),
        }
        if let Some(limit) = wait.wait_timeout
            && started.elapsed() >= Duration::from_secs(limit)
        {
            let status = seen.status.clone().unwrap_or_else(|| "unknown".into());
            break Err(CliError::WaitTimedOut { id: id.to_owned(), status, seconds: limit });
        }
        tokio::time::sleep(Duration::from_millis(wait.poll_ms)).await;
    };
    progress.done();
    result
}

/// `Ok` if the change request succeeded, else why not.
pub fn outcome(cr: &Doc) -> Result<(), CliError> {
    match text(cr, "status").as_deref() {
        Some("succeeded") => Ok(()),
        status => Err(CliError::NotSucceeded {
            id: text(cr, "id").unwrap_or_default(),
            status: status.unwrap_or("unknown").to_owned(),
            error: text(cr, "error"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Doc {
        output::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn each_step_is_told_when_it_starts_and_when_it_ends_and_the_status_when_it_changes() {
        let first = doc(r#"{"id":"CR1","status":"pending","steps":[]}"#);
        let (events, seen) = Seen::default().advance(&first);
        assert_eq!(events, [Event::Status { status: "pending".into() }]);
        let second = doc(r#"{"id":"CR1","status":"running","planned_steps":[{"name":"jenkins x"}],
               "steps":[{"name":"begin","status":"succeeded","started_at":"2026-01-01T00:00:00Z","ended_at":"2026-01-01T00:00:01.500Z"},
                        {"name":"jenkins x","status":"running","started_at":"2026-01-01T00:00:02Z"}]}"#);
        let (events, seen) = seen.advance(&second);
        assert_eq!(
            events,
            [
                Event::Planned { steps: 3 },
                Event::Status { status: "running".into() },
                Event::StepEnded { name: "begin".into(), status: "succeeded".into(), seconds: Some(1.5), error: None },
                Event::StepStarted { name: "jenkins x".into() },
            ]
        );
        let (again, seen) = seen.advance(&second);
        assert!(again.is_empty(), "nothing new, nothing told: {again:?}");
        let third = doc(r#"{"id":"CR1","status":"failed","planned_steps":[{"name":"jenkins x"}],
               "steps":[{"name":"begin","status":"succeeded"},{"name":"jenkins x","status":"failed","error":"build FAILURE"}]}"#);
        let (events, _) = seen.advance(&third);
        assert_eq!(
            events,
            [
                Event::StepEnded {
                    name: "jenkins x".into(),
                    status: "failed".into(),
                    seconds: None,
                    error: Some("build FAILURE".into())
                },
                Event::Status { status: "failed".into() },
            ]
        );
    }

    #[test]
    fn only_a_succeeded_change_request_is_a_success() {
        assert!(outcome(&doc(r#"{"id":"CR1","status":"succeeded"}"#)).is_ok());
        let err = outcome(&doc(r#"{"id":"CR1","status":"failed","error":"provision-tenant FAILURE"}"#)).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert_eq!(err.to_string(), "change request CR1 ended failed: provision-tenant FAILURE");
        assert!(outcome(&doc(r#"{"id":"CR1","status":"rejected"}"#)).is_err());
    }
}
