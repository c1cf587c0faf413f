//! What the OpenAPI document says beyond each handler's own annotation, derived once from what
//! every operation reads, so that no handler can forget it: the problems it can answer (each as
//! `application/problem+json` with the [`Problem`](crate::Problem) schema) and the headers of its
//! answers (`ETag` on a record, `Location` on a create, `WWW-Authenticate` on a 401).
//!
//! An operation answers
//! - 401, 403 and 503 when it needs a token (every authenticated route reads the store; 403 also
//!   for a token that carries none of the known groups);
//! - 400 when it reads a path or query parameter, a header or a body (one that does not parse);
//! - 404 when its path names a record; 409 when it writes (a lost race, a uniqueness or state
//!   rule); 412 when it takes `If-Match`; 413, 415 and 422 when it reads a body.
//!
//! A handler documents only what is particular to it (a 409 that means "not in this state", a 403
//! for admins only); its description is kept, and the content is made the problem's.

use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::schema::{Schema, Type};
use utoipa::openapi::{Content, ObjectBuilder, OpenApi, Ref, RefOr, Response};

use crate::error::PROBLEM_JSON;
use crate::extract::MAX_BODY_BYTES;

/// The pattern of the `ETag` of a record: its revision, quoted.
pub const ETAG_PATTERN: &str = r#"^"[0-9]+"$"#;

/// Adds the derived responses and headers to every operation of `doc`.
pub fn complete(doc: &mut OpenApi) {
    let stamped = stamped_schemas(doc);
    for item in doc.paths.paths.values_mut() {
        for (method, op) in operations(item) {
            complete_operation(method, op, &stamped);
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
}

/// What an operation reads, as far as its problems go.
struct Reads {
    token: bool,
    path: bool,
    query: bool,
    header: bool,
    if_match: bool,
    body: bool,
    writes: bool,
}

impl Reads {
    fn of(method: &str, op: &Operation) -> Self {
        let params = op.parameters.as_deref().unwrap_or_default();
        let any_in = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
        // `security(())` on an operation makes it public; no `security` inherits the bearer.
        let token = match &op.security {
            None => true,
            Some(reqs) => reqs.iter().any(|r| serde_json::to_value(r).is_ok_and(|v| v != serde_json::json!({}))),
        };
        Self {
            token,
            path: any_in(ParameterIn::Path),
            query: any_in(ParameterIn::Query),
            header: any_in(ParameterIn::Header),
            if_match: params.iter().any(|p| p.parameter_in == ParameterIn::Header && p.name == "If-Match"),
            body: op.request_body.is_some(),
            writes: !matches!(method, "get" | "head" | "options"),
        }
    }

    /// The problem statuses these reads can answer, with what each means here by default.
    fn problems(&self) -> Vec<(u16, String)> {
        let mut out = Vec::new();
        let mut add = |on: bool, status: u16, why: &str| {
            if on {
                out.push((status, why.to_owned()));
            }
        };
        add(
            self.path || self.query || self.header || self.body,
            400,
            "Malformed request: a path or query parameter, a header or the body does not parse; `field` names it.",
        );
        add(self.token, 401, "No valid bearer token: missing, malformed, expired or not signed by the issuer.");
        add(self.token, 403, "The token's role does not allow this (or it carries none of admin, operator, viewer).");
        add(self.path, 404, "The path names a record that does not exist.");
        add(
            self.writes && self.token,
            409,
            "Conflict: the record changed concurrently (read it again and retry), or a uniqueness or state rule refused the write.",
        );
        add(self.if_match, 412, "`If-Match` names another revision than the record's current one (its `ETag`).");
        add(self.body, 413, &format!("The body is larger than {} KiB.", MAX_BODY_BYTES / 1024));
        add(self.body, 415, "The body is not JSON: send `Content-Type: application/json`.");
        add(
            self.body,
            422,
            "A value of the body (or the `Idempotency-Key` reused with another body) is not acceptable; `field` names it.",
        );
        add(
            self.token,
            503,
            "A dependency did not answer; safe to retry (with the same `Idempotency-Key` for a POST).",
        );
        out
    }
}

fn complete_operation(method: &str, op: &mut Operation, stamped: &[String]) {
    let reads = Reads::of(method, op);
    let responses = &mut op.responses.responses;
    for (status, why) in reads.problems() {
        let response = responses.entry(status.to_string()).or_insert_with(|| Response::new(why.clone()).into());
        if let RefOr::T(r) = response
            && r.description.is_empty()
        {
            r.description = why;
        }
    }
    let idempotent = op
        .parameters
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|p| p.parameter_in == ParameterIn::Header && p.name == "Idempotency-Key");
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        match status.parse::<u16>() {
            Ok(400..=599) => {
                response.content = [(PROBLEM_JSON.to_owned(), Content::new(Some(Ref::from_schema_name("Problem"))))]
                    .into_iter()
                    .collect();
                if status == "401" {
                    response.headers.insert("WWW-Authenticate".into(), string_header("`Bearer`", None));
                }
            }
            Ok(code @ 200..=299) => {
                if response.description.is_empty() {
                    response.description = match code {
                        201 => "Created.",
                        202 => "Accepted: it runs (or awaits approval).",
                        204 => "Done; no body.",
                        _ => "OK.",
                    }
                    .into();
                }
                if answers_a_record(response, stamped) {
                    response.headers.entry("ETag".into()).or_insert_with(|| {
                        string_header(
                            "The record's revision, quoted: send it back as `If-Match` to update only what you read.",
                            Some(ETAG_PATTERN),
                        )
                    });
                }
                if status == "201" {
                    response
                        .headers
                        .entry("Location".into())
                        .or_insert_with(|| string_header("Where the new record is.", None));
                }
                if idempotent {
                    response.headers.entry("idempotent-replayed".into()).or_insert_with(|| {
                        string_header("`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`.", Some("^true$"))
                    });
                }
            }
            _ => {}
        }
    }
}

fn string_header(description: &str, pattern: Option<&str>) -> Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String).pattern(pattern))
        .description(Some(description))
        .build()
}

/// The component schemas of records that carry the write stamp (and so an `ETag`).
fn stamped_schemas(doc: &OpenApi) -> Vec<String> {
    let Some(components) = &doc.components else { return Vec::new() };
    components
        .schemas
        .iter()
        .filter(|(_, s)| match s {
            RefOr::T(Schema::AllOf(all)) => {
                all.items.iter().any(|i| matches!(i, RefOr::Ref(r) if r.ref_location == "#/components/schemas/Stamp"))
            }
            _ => false,
        })
        .map(|(name, _)| format!("#/components/schemas/{name}"))
        .collect()
}

fn answers_a_record(response: &Response, stamped: &[String]) -> bool {
    response.content.values().any(|c| matches!(&c.schema, Some(RefOr::Ref(r)) if stamped.contains(&r.ref_location)))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn operations() -> Vec<(String, String, Value)> {
        let doc = serde_json::to_value(crate::openapi()).expect("the document as JSON");
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("a path item") {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
        out
    }

    fn statuses(op: &Value) -> Vec<u16> {
        op["responses"].as_object().expect("responses").keys().map(|s| s.parse().expect("a status")).collect()
    }

    fn takes(op: &Value, place: &str, name: Option<&str>) -> bool {
        op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["in"] == place && name.is_none_or(|n| p["name"] == n))
    }

    #[test]
    fn every_problem_is_documented_as_problem_json() {
        for (method, path, op) in operations() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let content = response["content"].as_object();
                if status.as_str() >= "400" {
                    let content = content.unwrap_or_else(|| panic!("{method} {path} {status} has no content"));
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                    assert_eq!(content["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
                    assert!(
                        !response["description"].as_str().unwrap_or_default().is_empty(),
                        "{method} {path} {status}"
                    );
                } else if let Some(content) = content {
                    assert!(!content.contains_key("application/problem+json"), "{method} {path} {status}");
                }
            }
        }
    }

    #[test]
    fn each_operation_documents_the_problems_of_what_it_reads_and_no_others() {
        for (method, path, op) in operations() {
            let got = statuses(&op);
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().all(|r| r.as_object().is_some_and(|o| o.is_empty())));
            let has = |s: u16| got.contains(&s);
            if public {
                // A public route answers the problems of what it reads (the Jenkins callback: its
                // body, and the 401 of a signature that does not hold), and no role's.
                let reads = op.get("requestBody").is_some() || takes(&op, "header", None);
                if !reads {
                    assert!(
                        got.iter().all(|s| *s < 400),
                        "{method} {path}: a public route answers no problem ({got:?})"
                    );
                }
                for s in [403, 404, 409, 412, 500] {
                    assert!(!has(s), "{method} {path}: a public route never answers {s}");
                }
                assert_eq!(has(400), reads, "{method} {path}: 400 iff it reads a header or a body");
                continue;
            }
            for s in [401, 403, 503] {
                assert!(has(s), "{method} {path} lacks {s}");
            }
            let path_params = takes(&op, "path", None);
            let body = op.get("requestBody").is_some();
            assert_eq!(has(404), path_params, "{method} {path}: 404 iff the path names a record");
            assert_eq!(has(412), takes(&op, "header", Some("If-Match")), "{method} {path}: 412 iff it takes If-Match");
            for s in [413, 415] {
                assert_eq!(has(s), body, "{method} {path}: {s} iff it reads a body");
            }
            assert_eq!(has(409), method != "GET", "{method} {path}: 409 iff it writes");
            let reads_input = path_params || body || takes(&op, "query", None) || takes(&op, "header", None);
            assert_eq!(has(400), reads_input, "{method} {path}: 400 iff it reads a parameter, a header or a body");
            assert!(!has(500), "{method} {path}: an internal error is never part of the contract");
        }
    }

    #[test]
    fn records_answer_with_their_etag_and_creates_with_their_location() {
        let doc = serde_json::to_value(crate::openapi()).expect("the document as JSON");
        // A record is what has a revision (its stamp); reports, summaries and lists have none.
        let stamped = |r: &str| {
            let name = r.trim_start_matches("#/components/schemas/");
            let schema = &doc["components"]["schemas"][name];
            let revision = |s: &Value| s["properties"]["revision"].is_object();
            revision(schema) || schema["allOf"].as_array().is_some_and(|all| all.iter().any(revision))
        };
        for (method, path, op) in operations() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                let record = schema.as_str().is_some_and(|s| !s.contains("ListResponse") && stamped(s));
                if status.starts_with('2') && record {
                    assert_eq!(
                        response["headers"]["ETag"]["schema"]["pattern"],
                        super::ETAG_PATTERN,
                        "{method} {path} {status}"
                    );
                }
                if status == "201" {
                    assert!(response["headers"]["Location"].is_object(), "{method} {path} 201 has no Location");
                }
            }
        }
    }
}
