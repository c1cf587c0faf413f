//! The DynamoDB adapter against a real emulator: the same contract the in-memory fake keeps.

use integration_tests::fresh_table;
use serde_json::{Value, json};
use store::dynamo::DynamoTable;
use store::{Cond, Index, Item, Key, Query, StoreError, Table, WriteOp};

fn item(pk: &str, sk: &str, extra: Value) -> Item {
    let mut i = Key::new(pk, sk).to_item();
    if let Value::Object(m) = extra {
        i.extend(m);
    }
    i
}

async fn table() -> DynamoTable {
    let (client, name) = fresh_table().await;
    DynamoTable::new(client, name)
}

#[tokio::test]
async fn a_failed_condition_cancels_the_whole_transaction_and_names_the_write() {
    let t = table().await;
    t.write(vec![WriteOp::put(item("A", "1", json!({"revision": 1})), Cond::NotExists)]).await.unwrap();
    let err = t
        .write(vec![
            WriteOp::put(item("B", "1", json!({"revision": 1})), Cond::NotExists),
            WriteOp::Check { key: Key::new("C", "1"), cond: Cond::NotExists },
            WriteOp::put(item("A", "1", json!({"revision": 2})), Cond::RevisionIs(5)),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { op: Some(2) }), "{err:?}");
    assert!(t.get(&Key::new("B", "1")).await.unwrap().is_none(), "B must not have landed");
    assert_eq!(t.get(&Key::new("A", "1")).await.unwrap().unwrap()["revision"], 1);
}

#[tokio::test]
async fn two_writes_of_one_item_in_a_transaction_are_refused_as_dynamodb_does() {
    let t = table().await;
    let err = t
        .write(vec![
            WriteOp::put(item("A", "1", json!({})), Cond::Always),
            WriteOp::Check { key: Key::new("A", "1"), cond: Cond::Exists },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    let fake = store::memory::MemoryTable::new();
    let err = fake
        .write(vec![
            WriteOp::put(item("A", "1", json!({})), Cond::Always),
            WriteOp::Check { key: Key::new("A", "1"), cond: Cond::Exists },
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "the fake must refuse what DynamoDB refuses: {err:?}");
}

#[tokio::test]
async fn single_writes_report_their_failed_condition_too() {
    let t = table().await;
    let a = item("A", "1", json!({"revision": 1, "owner": "x"}));
    t.write(vec![WriteOp::put(a.clone(), Cond::NotExists)]).await.unwrap();
    let err = t.write(vec![WriteOp::put(a.clone(), Cond::NotExists)]).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { op: Some(0) }));
    let err = t
        .write(vec![WriteOp::Delete { key: Key::new("A", "1"), cond: Cond::FieldIs("owner".into(), json!("y")) }])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { op: Some(0) }));
    t.write(vec![WriteOp::Delete { key: Key::new("A", "1"), cond: Cond::FieldIsNot("owner".into(), json!("y")) }])
        .await
        .unwrap();
    assert!(t.get(&Key::new("A", "1")).await.unwrap().is_none());
}

#[tokio::test]
async fn counters_increment_from_nothing_inside_transactions() {
    let t = table().await;
    let k = Key::new("FLEET", "STATE#Healthy");
    let mut set = Item::new();
    set.insert("dimension".into(), json!("state"));
    for by in [1, 1, 1, -1] {
        t.write(vec![
            WriteOp::Increment { key: k.clone(), field: "count".into(), by, set: set.clone() },
            WriteOp::put(item("X", &format!("{by}-{}", ulid_like()), json!({})), Cond::NotExists),
        ])
        .await
        .unwrap();
    }
    let counter = t.get(&k).await.unwrap().unwrap();
    assert_eq!(counter["count"], 2);
    assert_eq!(counter["dimension"], "state");
}

fn ulid_like() -> String {
    format!("{:?}", std::time::SystemTime::now())
}

#[tokio::test]
async fn index_queries_page_in_order_and_filter_after_the_limit() {
    let t = table().await;
    let ops = (0..7)
        .map(|n| {
            WriteOp::put(
                item(&format!("T#{n}"), "T", json!({"gsi2pk": "STATE#Healthy", "gsi2sk": format!("ten_{n}"), "release": if n % 2 == 0 { "3.1.0" } else { "3.2.0" }})),
                Cond::Always,
            )
        })
        .collect();
    t.write(ops).await.unwrap();

    let q = Query::new(Some(Index::Gsi2), "STATE#Healthy").limit(3);
    let mut seen = Vec::new();
    let mut page = t.query(&q).await.unwrap();
    loop {
        seen.extend(page.items.iter().map(|i| i["gsi2sk"].as_str().unwrap().to_owned()));
        match page.last_key.clone() {
            Some(k) => {
                let token = store::cursor::encode(Some(&k), &q).unwrap();
                let start = store::cursor::decode(&token, &q).expect("our own token decodes");
                page = t.query(&q.clone().start(Some(start))).await.unwrap();
            }
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|n| format!("ten_{n}")).collect::<Vec<_>>());

    let newest = t.query(&Query::new(Some(Index::Gsi2), "STATE#Healthy").newest_first().limit(1)).await.unwrap();
    assert_eq!(newest.items[0]["gsi2sk"], "ten_6");

    let filtered = t
        .query(&Query::new(Some(Index::Gsi2), "STATE#Healthy").limit(100).filter("release", json!("3.2.0")))
        .await
        .unwrap();
    assert_eq!(filtered.items.len(), 3);
    let prefixed = t.query(&Query::new(None, "T#3").prefix("T")).await.unwrap();
    assert_eq!(prefixed.items.len(), 1);
}

#[tokio::test]
async fn batch_get_returns_what_exists_and_skips_the_rest() {
    let t = table().await;
    let ops =
        (0..30).map(|n| WriteOp::put(item(&format!("K#{n}"), "K", json!({"n": n})), Cond::Always)).collect::<Vec<_>>();
    for chunk in ops.chunks(25) {
        t.write(chunk.to_vec()).await.unwrap();
    }
    let mut keys: Vec<Key> = (0..30).map(|n| Key::new(format!("K#{n}"), "K")).collect();
    keys.push(Key::new("K#missing", "K"));
    let got = t.batch_get(&keys).await.unwrap();
    assert_eq!(got.len(), 30);
}

#[tokio::test]
async fn expired_idempotency_records_can_be_reclaimed() {
    let t = table().await;
    let idem = item("IDEM#u#k", "IDEM", json!({"ttl": 1000}));
    t.write(vec![WriteOp::put(idem.clone(), Cond::NotExistsOrExpired(10))]).await.unwrap();
    let err = t.write(vec![WriteOp::put(idem.clone(), Cond::NotExistsOrExpired(999))]).await.unwrap_err();
    assert!(matches!(err, StoreError::ConditionFailed { .. }));
    t.write(vec![WriteOp::put(idem, Cond::NotExistsOrExpired(1001))]).await.unwrap();
}

#[tokio::test]
async fn more_than_a_transaction_holds_is_refused_before_calling_dynamodb() {
    let t = table().await;
    let ops = (0..101).map(|n| WriteOp::put(item(&format!("Z#{n}"), "Z", json!({})), Cond::Always)).collect();
    assert!(matches!(t.write(ops).await, Err(StoreError::TooLarge(101))));
}
