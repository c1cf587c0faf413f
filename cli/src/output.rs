//! Answers on stdout: the API's JSON (or YAML) unchanged for scripts, aligned columns for people.
//!
//! An answer is held as a [`Doc`], a `serde_yaml::Value` read from the JSON: its mappings keep
//! the API's field order (serde_json's `Value` sorts keys unless a feature that would change
//! every crate of the workspace is on), and it prints as JSON as well as YAML.

use serde_yaml::Value;
use unicode_width::UnicodeWidthStr;

use crate::args::Format;
use crate::color::Paint;
use crate::error::CliError;

pub type Doc = Value;

/// How a command's answer is shown as a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// `{"items": [...], "next_token"}`: one row per item, these fields as columns.
    List(&'static [&'static str]),
    /// One record: a field per line, its lists of records as tables below.
    Record,
    /// Counts: scalars per line, each map as a two-column table.
    Summary,
    /// A document (the OpenAPI description): JSON, also for `--output table`.
    Document,
    /// No body (`204`).
    Empty,
}

pub fn parse(body: &[u8]) -> Result<Doc, CliError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| CliError::Protocol(format!("the answer is not JSON: {e}")))
}

/// The text to print for an answer (with its final newline; empty for nothing).
pub fn render(format: Format, view: View, doc: &Doc, paint: Paint) -> Result<String, CliError> {
    if view == View::Empty || doc.is_null() {
        return Ok(String::new());
    }
    match (format, view) {
        (Format::Json, _) | (Format::Table, View::Document) => serde_json::to_string_pretty(doc)
            .map(|s| s + "\n")
            .map_err(|e| CliError::Protocol(format!("cannot print the answer as JSON: {e}"))),
        (Format::Yaml, _) => {
            serde_yaml::to_string(doc).map_err(|e| CliError::Protocol(format!("cannot print the answer as YAML: {e}")))
        }
        (Format::Table, View::List(columns)) => {
            let items = doc.get("items").and_then(Value::as_sequence).map(Vec::as_slice).unwrap_or_default();
            Ok(rows_table(columns, items, paint))
        }
        (Format::Table, View::Record) => Ok(record(doc, paint)),
        (Format::Table, View::Summary) => Ok(summary(doc, paint)),
        (Format::Table, View::Empty) => Ok(String::new()),
    }
}

/// A cell: the text of a value, and whether it is a state to colour.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".to_owned(),
        Some(Value::String(s)) => s.replace('\n', " "),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Sequence(items)) if items.iter().all(is_scalar) => {
            items.iter().map(|v| cell(Some(v))).collect::<Vec<_>>().join(",")
        }
        Some(Value::Mapping(m)) if m.values().all(is_scalar) => {
            m.iter().map(|(k, v)| format!("{}={}", cell(Some(k)), cell(Some(v)))).collect::<Vec<_>>().join(",")
        }
        Some(other) => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn is_scalar(v: &Value) -> bool {
    !matches!(v, Value::Sequence(_) | Value::Mapping(_) | Value::Tagged(_))
}

/// Columns whose values are states, statuses or verdicts: coloured by word.
fn is_state_column(name: &str) -> bool {
    matches!(name, "state" | "status" | "verdict" | "result")
}

/// Aligned columns under upper-case headers, two spaces apart (kubectl's way: greps and awks).
fn table(headers: &[String], rows: &[Vec<String>], colored: &[bool], paint: Paint) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String], header: bool| {
        let mut text = String::new();
        for (i, c) in cells.iter().enumerate() {
            let last = i + 1 == cells.len();
            let shown = if header {
                paint.bold(c)
            } else if colored.get(i).copied().unwrap_or(false) {
                paint.state(c)
            } else {
                c.clone()
            };
            text.push_str(&shown);
            if !last {
                text.push_str(&" ".repeat(widths[i] - c.width() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(headers, true);
    for row in rows {
        line(row, false);
    }
    out
}

fn rows_table(columns: &[&str], items: &[Value], paint: Paint) -> String {
    let headers: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
    let rows: Vec<Vec<String>> = items.iter().map(|item| columns.iter().map(|c| cell(item.get(c))).collect()).collect();
    let colored: Vec<bool> = columns.iter().map(|c| is_state_column(c)).collect();
    table(&headers, &rows, &colored, paint)
}

fn key_text(k: &Value) -> String {
    k.as_str().map(str::to_owned).unwrap_or_else(|| cell(Some(k)))
}

fn record(doc: &Doc, paint: Paint) -> String {
    let Some(fields) = doc.as_mapping() else {
        return cell(Some(doc)) + "\n";
    };
    let mut rows = Vec::new();
    let mut colored = Vec::new();
    let mut tables = Vec::new();
    for (k, v) in fields {
        let name = key_text(k);
        match v.as_sequence() {
            Some(items) if !items.is_empty() && items.iter().all(Value::is_mapping) => tables.push((name, items)),
            _ => {
                colored.push(is_state_column(&name));
                rows.push(vec![name, cell(Some(v))]);
            }
        }
    }
    // Field names on the left, values on the right: no header line, colour the value column.
    let width = rows.iter().map(|r| r[0].width()).max().unwrap_or(0);
    let mut out = String::new();
    for (row, color) in rows.iter().zip(colored) {
        let value = if color { paint.state(&row[1]) } else { row[1].clone() };
        out.push_str(&format!("{}{}  {value}\n", paint.bold(&row[0]), " ".repeat(width - row[0].width())));
    }
    for (name, items) in tables {
        let (columns, left_out) = sub_table_columns(items);
        let rows: Vec<Vec<String>> =
            items.iter().map(|item| columns.iter().map(|c| cell(item.get(c.as_str()))).collect()).collect();
        let colored: Vec<bool> = columns.iter().map(|c| is_state_column(c)).collect();
        let headers: Vec<String> = columns.iter().map(|c| c.to_uppercase()).collect();
        out.push_str(&format!("\n{}:\n", paint.bold(&name)));
        out.push_str(&table(&headers, &rows, &colored, paint));
        if !left_out.is_empty() {
            out.push_str(&paint.dim(&format!("({} in -o yaml or -o json)", left_out.join(", "))));
            out.push('\n');
        }
    }
    out
}

/// The columns of a table of records: the fields every record has as a scalar (or not at all),
/// `name` and `status` first; and the fields left out (nested records, such as a step's detail).
fn sub_table_columns(items: &[Value]) -> (Vec<String>, Vec<String>) {
    let mut columns: Vec<String> = Vec::new();
    let mut left_out: Vec<String> = Vec::new();
    for item in items.iter().filter_map(Value::as_mapping) {
        for (k, v) in item {
            let k = key_text(k);
            if !is_scalar(v) && !left_out.contains(&k) {
                columns.retain(|c| c != &k);
                left_out.push(k);
            } else if !columns.contains(&k) && !left_out.contains(&k) {
                columns.push(k);
            }
        }
    }
    for first in ["status", "name"] {
        if let Some(i) = columns.iter().position(|c| c == first) {
            let c = columns.remove(i);
            columns.insert(0, c);
        }
    }
    (columns, left_out)
}

fn summary(doc: &Doc, paint: Paint) -> String {
    let Some(fields) = doc.as_mapping() else {
        return cell(Some(doc)) + "\n";
    };
    let mut out = String::new();
    for (k, v) in fields {
        let name = key_text(k);
        match v.as_mapping() {
            Some(counts) => {
                let label = name.strip_prefix("by_").unwrap_or(&name).to_uppercase();
                let rows: Vec<Vec<String>> = counts.iter().map(|(k, v)| vec![key_text(k), cell(Some(v))]).collect();
                out.push('\n');
                out.push_str(&table(&[label, "TENANTS".to_owned()], &rows, &[true, false], paint));
            }
            None => out.push_str(&format!("{}  {}\n", paint.bold(&name), cell(Some(v)))),
        }
    }
    out
}

/// `{"items": [...every page's...], "next_token": null}`: the shape of one last page.
pub fn merge_pages(pages: Vec<Doc>) -> Doc {
    let mut items = Vec::new();
    for page in pages {
        if let Some(Value::Sequence(more)) = page.get("items").cloned() {
            items.extend(more);
        }
    }
    let mut merged = serde_yaml::Mapping::new();
    merged.insert("items".into(), Value::Sequence(items));
    merged.insert("next_token".into(), Value::Null);
    Value::Mapping(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(json: &str) -> Doc {
        parse(json.as_bytes()).unwrap()
    }

    const PLAIN: Paint = Paint::none();

    #[test]
    fn json_keeps_the_apis_fields_in_the_apis_order() {
        let body = r#"{"revision":3,"id":"T1","name":"acme","state":"Healthy","imported":false,"n":1.5,"big":18446744073709551615}"#;
        let text = render(Format::Json, View::Record, &doc(body), PLAIN).unwrap();
        let keys: Vec<&str> = text.lines().filter_map(|l| l.trim().split('"').nth(1)).collect();
        assert_eq!(keys, ["revision", "id", "name", "state", "imported", "n", "big"]);
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, serde_json::from_str::<serde_json::Value>(body).unwrap());
    }

    #[test]
    fn a_list_is_aligned_columns_with_a_dash_for_what_is_absent() {
        let body = r#"{"items":[{"id":"T1","name":"acme-prod","state":"Healthy"},{"id":"T22","name":"b","state":"Broken","region":"eu-west-1"}],"next_token":null}"#;
        let text = render(Format::Table, View::List(&["id", "name", "state", "region"]), &doc(body), PLAIN).unwrap();
        assert_eq!(
            text,
            "ID   NAME       STATE    REGION\n\
             T1   acme-prod  Healthy  -\n\
             T22  b          Broken   eu-west-1\n"
        );
    }

    #[test]
    fn a_record_lists_its_fields_and_its_steps_as_a_table() {
        let body = r#"{"id":"CR1","status":"running","params":{"release":"3.2.0"},"steps":[{"detail":{"plan":{}},"ended_at":"t1","name":"begin","status":"succeeded"},{"name":"jenkins upgrade","status":"running","error":null,"detail":{"build_url":"u"}}]}"#;
        let text = render(Format::Table, View::Record, &doc(body), PLAIN).unwrap();
        assert_eq!(
            text,
            "id      CR1\nstatus  running\nparams  release=3.2.0\n\nsteps:\n\
             NAME             STATUS     ENDED_AT  ERROR\n\
             begin            succeeded  t1        -\n\
             jenkins upgrade  running    -         -\n\
             (detail in -o yaml or -o json)\n"
        );
    }

    #[test]
    fn the_fleet_summary_is_one_table_per_count() {
        let body = r#"{"total":3,"by_state":{"Healthy":2,"Broken":1},"by_release":{"3.1.0":3}}"#;
        let text = render(Format::Table, View::Summary, &doc(body), PLAIN).unwrap();
        assert_eq!(text, "total  3\n\nSTATE    TENANTS\nHealthy  2\nBroken   1\n\nRELEASE  TENANTS\n3.1.0    3\n");
    }

    #[test]
    fn states_are_coloured_only_when_painting() {
        let body = r#"{"items":[{"id":"T1","state":"Broken"}]}"#;
        let colored = render(Format::Table, View::List(&["id", "state"]), &doc(body), Paint::ansi()).unwrap();
        assert!(colored.contains("\u{1b}[31mBroken\u{1b}[0m"), "{colored:?}");
        let plain = render(Format::Table, View::List(&["id", "state"]), &doc(body), PLAIN).unwrap();
        assert!(!plain.contains('\u{1b}'));
    }

    #[test]
    fn pages_merge_into_the_shape_of_one_last_page() {
        let merged =
            merge_pages(vec![doc(r#"{"items":[1,2],"next_token":"x"}"#), doc(r#"{"items":[3],"next_token":null}"#)]);
        let json: serde_json::Value = serde_json::to_value(&merged).unwrap();
        assert_eq!(json, serde_json::json!({"items": [1, 2, 3], "next_token": null}));
    }

    #[test]
    fn yaml_is_the_same_fields() {
        let text = render(Format::Yaml, View::Record, &doc(r#"{"id":"T1","tags":["a"]}"#), PLAIN).unwrap();
        assert_eq!(text, "id: T1\ntags:\n- a\n");
    }
}
