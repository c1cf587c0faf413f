//! Writes business metrics where CloudWatch finds them: a line of CloudWatch's embedded metric
//! format (built by `domain::emf`) on the function's standard output, which Lambda sends to its
//! log group, where CloudWatch extracts the metrics. No call, no client, nothing to wait for.

use std::io::Write;

/// Writes one EMF line. A failed write (a closed stdout) loses the metric, never the work it
/// measured.
pub fn emit(line: &impl std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}
