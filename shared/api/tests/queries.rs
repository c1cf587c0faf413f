//! Bad query strings over the in-memory harness: each is a 400 naming the parameter, never a
//! 500 and never a silent empty list. A `next_token` belongs to the query it came from.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};
use store::memory::MemoryTable;
use store::{Item, Key, Page, Query, StoreError, Table, WriteOp};

/// A tenant with `n` history entries of `field`, one a minute from 06:00.
async fn tenant_with_history(h: &Harness, name: &str, field: &str, actor: &str, n: u32) -> String {
    let customer = h.customer(&format!("{name} Inc")).await;
    if h.get("/v1/releases/3.1.0").await.status == StatusCode::NOT_FOUND {
        h.release("3.1.0").await;
    }
    let tenant = id_of(&h.tenant(&customer, name, "3.1.0").await);
    let entries: Vec<_> = (0..n).map(|m| entry(&tenant, field, actor, m)).collect();
    h.log(&entries).await;
    tenant
}

fn token(page: &Resp) -> String {
    page.body["next_token"].as_str().unwrap_or_else(|| panic!("a next page: {}", page.text)).to_owned()
}

fn minutes(page: &Resp) -> Vec<i64> {
    page.items().iter().map(|e| e["new"].as_i64().expect("a minute")).collect()
}

// =============================================================================================
// since / until

#[tokio::test]
async fn since_after_until_is_400_naming_since_on_both_history_routes() {
    let h = Harness::new();
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice", 3).await;
    let range = "since=2026-11-30T07:00:00Z&until=2026-11-30T06:00:00Z";
    for path in [format!("/v1/tenants/{tenant}/history?{range}"), format!("/v1/history?{range}")] {
        let r = h.get(&path).await.expect_problem(StatusCode::BAD_REQUEST, Some("since"));
        assert!(r.body["detail"].as_str().unwrap().contains("until"), "{}", r.text);
    }
    // Times compare as instants: 06:30-01:00 is 07:30 UTC, after 07:00; 07:30+02:00 is 05:30.
    h.get("/v1/history?since=2026-11-30T06:30:00-01:00&until=2026-11-30T07:00:00Z")
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("since"));
    h.get("/v1/history?since=2026-11-30T07:30:00%2B02:00&until=2026-11-30T06:00:00Z").await.expect(StatusCode::OK);
}

#[tokio::test]
async fn a_range_of_one_instant_or_open_at_one_end_is_a_list() {
    let h = Harness::new();
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice", 3).await;
    let at = "2026-11-30T06:01:00Z";
    let one = h.get(&format!("/v1/tenants/{tenant}/history?since={at}&until={at}")).await.expect(StatusCode::OK);
    assert_eq!(minutes(&one), [1]);
    let later = h.get(&format!("/v1/history?since={at}")).await.expect(StatusCode::OK);
    assert_eq!(minutes(&later), [2, 1]);
    let earlier = h.get(&format!("/v1/history?until={at}")).await.expect(StatusCode::OK);
    assert_eq!(minutes(&earlier), [1, 0]);
}

// =============================================================================================
// next_token belongs to its query

#[tokio::test]
async fn a_history_token_pages_its_own_query_whatever_the_page_size() {
    let h = Harness::new();
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice", 5).await;
    let first = h.get(&format!("/v1/tenants/{tenant}/history?field=state&limit=2")).await.expect(StatusCode::OK);
    assert_eq!(minutes(&first), [4, 3]);
    let rest = h
        .get(&format!("/v1/tenants/{tenant}/history?field=state&limit=10&next_token={}", token(&first)))
        .await
        .expect(StatusCode::OK);
    assert_eq!(minutes(&rest), [2, 1, 0]);
}

#[tokio::test]
async fn a_history_token_of_another_tenant_filter_or_list_is_400_naming_next_token() {
    let h = Harness::new();
    let acme = tenant_with_history(&h, "acme-prod", "state", "alice <alice@acme.example>", 3).await;
    let globex = tenant_with_history(&h, "globex-prod", "state", "bob", 3).await;
    let acme_page = h.get(&format!("/v1/tenants/{acme}/history?limit=1")).await.expect(StatusCode::OK);
    let filtered = h.get(&format!("/v1/tenants/{acme}/history?field=state&limit=1")).await.expect(StatusCode::OK);
    let by_actor = h.get("/v1/history?actor=alice&limit=1").await.expect(StatusCode::OK);
    let fleet = h.get("/v1/history?limit=1").await.expect(StatusCode::OK);
    let misuses = [
        // Another tenant.
        format!("/v1/tenants/{globex}/history?next_token={}", token(&acme_page)),
        // Another filter, or none where the token had one, or one where it had none.
        format!("/v1/tenants/{acme}/history?field=release&next_token={}", token(&filtered)),
        format!("/v1/tenants/{acme}/history?next_token={}", token(&filtered)),
        format!("/v1/tenants/{acme}/history?field=state&next_token={}", token(&acme_page)),
        format!("/v1/tenants/{acme}/history?since=2026-11-30T06:00:00Z&next_token={}", token(&acme_page)),
        format!("/v1/history?actor=bob&next_token={}", token(&by_actor)),
        format!("/v1/history?next_token={}", token(&by_actor)),
        // Another list.
        format!("/v1/history?next_token={}", token(&acme_page)),
        format!("/v1/tenants/{acme}/history?next_token={}", token(&fleet)),
        format!("/v1/customers?next_token={}", token(&fleet)),
    ];
    for path in misuses {
        h.get(&path).await.expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
    }
}

#[tokio::test]
async fn a_forged_token_outside_its_query_is_400_naming_next_token() {
    let h = Harness::new();
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice", 3).await;
    let (since, until) = ("2026-11-30T06:01:00.000000Z", "2026-11-30T06:02:00.000000Z");
    // The digest is not a secret: a client can compute it. Its key must still fall in the range.
    let query = store::history::within(store::history::by_tenant(&tenant), Some(since), Some(until));
    let forge = |sk: &str| {
        let key: Item = serde_json::from_value(json!({
            "pk": format!("ENTITY#tenant#{tenant}"), "sk": sk, "gsi1pk": format!("TENANT#{tenant}"), "gsi1sk": sk,
        }))
        .unwrap();
        store::cursor::encode(Some(&key), &query).unwrap()
    };
    let range = "since=2026-11-30T06:01:00Z&until=2026-11-30T06:02:00Z";
    let inside = forge("2026-11-30T06:02:00.000000Z#000002#state");
    let page = h.get(&format!("/v1/tenants/{tenant}/history?{range}&next_token={inside}")).await.expect(StatusCode::OK);
    assert_eq!(minutes(&page), [1], "a key inside the range reads on from it");
    let outside = forge("2026-11-30T06:30:00.000000Z#000030#state");
    h.get(&format!("/v1/tenants/{tenant}/history?{range}&next_token={outside}"))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
}

#[tokio::test]
async fn a_registry_token_of_another_tenant_or_kind_is_400_naming_next_token() {
    let h = Harness::new();
    let acme = h.one_tenant().await;
    let globex_customer = h.customer("Globex").await;
    let globex = id_of(&h.tenant(&globex_customer, "globex-prod", "3.1.0").await);
    for t in [&acme, &globex] {
        for key in ["a.one", "a.two", "a.three"] {
            let path = format!("/v1/tenants/{t}/configs/{key}");
            h.call(axum::http::Method::PUT, &path, OPERATOR, Some(json!({ "value": 1 })))
                .await
                .expect(StatusCode::CREATED);
        }
    }
    let configs = h.get(&format!("/v1/tenants/{acme}/configs?limit=1")).await.expect(StatusCode::OK);
    let components = h.get(&format!("/v1/tenants/{acme}/components?limit=1")).await.expect(StatusCode::OK);
    for path in [
        format!("/v1/tenants/{globex}/configs?next_token={}", token(&configs)),
        format!("/v1/tenants/{acme}/components?next_token={}", token(&configs)),
        format!("/v1/tenants/{acme}/configs?next_token={}", token(&components)),
        format!("/v1/tenants/{acme}/resources?next_token={}", token(&configs)),
        format!("/v1/tenants?next_token={}", token(&configs)),
    ] {
        h.get(&path).await.expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
    }
    // Its own list takes it.
    h.get(&format!("/v1/tenants/{acme}/configs?next_token={}", token(&configs))).await.expect(StatusCode::OK);
}

/// The change-log table as DynamoDB answers a start key outside its query: a validation error.
struct RefusesStartKeys(Arc<MemoryTable>);

#[async_trait]
impl Table for RefusesStartKeys {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.0.get(key).await
    }
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.0.batch_get(keys).await
    }
    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        match query.start {
            Some(_) => Err(StoreError::Invalid(
                "Query: The provided starting key is outside query boundaries based on provided conditions".into(),
            )),
            None => self.0.query(query).await,
        }
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.0.write(ops).await
    }
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        self.0.batch_put(items).await
    }
}

#[tokio::test]
async fn a_start_key_the_store_refuses_is_400_naming_next_token_not_500() {
    let history = Arc::new(MemoryTable::new());
    let h = Harness::reading_history_through(history.clone(), Arc::new(RefusesStartKeys(history)));
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice", 3).await;
    let first = h.get(&format!("/v1/tenants/{tenant}/history?limit=1")).await.expect(StatusCode::OK);
    let r = h
        .get(&format!("/v1/tenants/{tenant}/history?limit=1&next_token={}", token(&first)))
        .await
        .expect_problem(StatusCode::BAD_REQUEST, Some("next_token"));
    assert!(!r.text.contains("boundaries"), "the store's own text stays in the logs: {}", r.text);
}

// =============================================================================================
// actor: the sub, or `sub <email>` as entries show it

#[tokio::test]
async fn actor_matches_the_sub_or_the_actor_as_entries_show_it() {
    let h = Harness::new();
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice <alice@acme.example>", 2).await;
    h.log(&[entry(&tenant, "name", "bob <bob@acme.example>", 5), entry(&tenant, "release", "system:seed", 6)]).await;
    let actors = |r: &Resp| r.items().iter().map(|e| e["actor"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let alice = vec!["alice <alice@acme.example>".to_owned(); 2];
    for base in [format!("/v1/tenants/{tenant}/history"), "/v1/history".to_owned(), "/v1/history?entity=tenant".into()]
    {
        let sep = if base.contains('?') { '&' } else { '?' };
        for actor in ["alice", "alice%20%3Calice%40acme.example%3E", "alice+%3Calice%40acme.example%3E"] {
            let r = h.get(&format!("{base}{sep}actor={actor}")).await.expect(StatusCode::OK);
            assert_eq!(actors(&r), alice, "{base} actor={actor}");
        }
        let seed = h.get(&format!("{base}{sep}actor=system:seed")).await.expect(StatusCode::OK);
        assert_eq!(actors(&seed), ["system:seed"], "{base}");
        let other = h.get(&format!("{base}{sep}actor=alice%20%3Cother%40acme.example%3E")).await.expect(StatusCode::OK);
        assert!(other.items().is_empty(), "another e-mail is another actor: {}", other.text);
    }
}

#[tokio::test]
async fn an_overlong_key_filter_is_400_naming_it() {
    let h = Harness::new();
    let tenant = tenant_with_history(&h, "acme-prod", "state", "alice", 1).await;
    let long = "x".repeat(257);
    for (path, field) in [
        (format!("/v1/history?actor={long}"), "actor"),
        (format!("/v1/history?change_request_id={long}"), "change_request_id"),
        (format!("/v1/history?entity=tenant&entity_id={long}"), "entity_id"),
        (format!("/v1/tenants/{tenant}/history?actor={long}"), "actor"),
        (format!("/v1/tenants/{tenant}/history?field={long}"), "field"),
    ] {
        h.get(&path).await.expect_problem(StatusCode::BAD_REQUEST, Some(field));
    }
    let at_most = "x".repeat(256);
    let r = h.get(&format!("/v1/history?actor={at_most}")).await.expect(StatusCode::OK);
    assert_eq!(r.body["items"], Value::Array(vec![]));
}
