use std::sync::Arc;

use async_trait_free::*;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use domain::{
    Actor, AssignmentCreate, ComponentName, ComponentVersion, ComponentVersionLabel, ConfigKey, ConfigValue, Customer,
    License, LicenseAssignment, LicenseCreate, ProductRelease, ReleaseCreate, SecretRef, Stamp, Tenant, TenantConfig,
    TenantCreate, WriteContext,
};
use serde_json::{Value, json};
use store::layout::Record;
use store::memory::MemoryTable;
use store::{Item, Table};

use super::process;

/// Test helpers that build stream records the way DynamoDB Streams delivers them.
mod async_trait_free {
    use super::*;

    pub fn record(seq: u64, name: &str, old: Option<&Item>, new: Option<&Item>) -> EventRecord {
        let mut change = json!({
            "ApproximateCreationDateTime": 1796018400.0,
            "Keys": {"pk": {"S": "k"}, "sk": {"S": "k"}},
            "SequenceNumber": format!("{seq:021}"),
            "SizeBytes": 100,
            "StreamViewType": "NEW_AND_OLD_IMAGES"
        });
        if let Some(o) = old {
            change["OldImage"] = store::item::to_dynamodb_json(o);
        }
        if let Some(n) = new {
            change["NewImage"] = store::item::to_dynamodb_json(n);
        }
        let raw = json!({"eventID": format!("ev-{seq}"), "eventName": name, "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1", "eventVersion": "1.1", "dynamodb": change});
        serde_json::from_value(raw).expect("a stream record")
    }

    pub fn event(records: Vec<EventRecord>) -> Event {
        let mut e = Event::default();
        e.records = records;
        e
    }
}

fn ctx(sub: &str) -> WriteContext {
    WriteContext::api(Actor { sub: sub.into(), email: Some(format!("{sub}@vendor.example")) })
}

fn json_of<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// One record of each logged model, as the registry stores it.
fn every_logged_model() -> Vec<(&'static str, Item)> {
    let c = ctx("alice");
    let customer =
        Customer::create(json_of(json!({"name": "Acme", "contact_email": "ops@acme.example", "notes": "n"})), &c);
    let license = License::create(
        json_of::<LicenseCreate>(
            json!({"name": "Ent", "kind": "subscription", "max_users": 10, "features": ["sso"], "template": "t"}),
        ),
        &c,
    )
    .unwrap();
    let assignment = LicenseAssignment::create(
        json_of::<AssignmentCreate>(json!({"customer_id": customer.id, "license_id": license.id, "key_ref": "ssm:/k",
            "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2027-01-01T00:00:00Z"})),
        &c,
    )
    .unwrap();
    let release = ProductRelease::create(
        json_of::<ReleaseCreate>(
            json!({"version": "3.1.0", "components": {"webapp": "3.1.0", "api": "3.1.2"}, "notes": "x"}),
        ),
        &c,
    )
    .unwrap();
    let (tenant, _) = Tenant::create(
        json_of::<TenantCreate>(
            json!({"customer_id": customer.id, "name": "acme-prod", "release": "3.1.0", "region": "us-east-1", "description": "d"}),
        ),
        &c,
    );
    let component = ComponentVersion {
        tenant_id: tenant.id.clone(),
        name: ComponentName::parse("webapp").unwrap(),
        version: ComponentVersionLabel::parse("3.1.0").unwrap(),
        stamp: Stamp::first(&c),
    };
    let config = TenantConfig::new(
        tenant.id.clone(),
        ConfigKey::parse("db.password").unwrap(),
        ConfigValue::Secret(SecretRef::parse("ssm:/t/db").unwrap()),
        Stamp::first(&c),
    );
    vec![
        ("customer", customer.to_item().unwrap()),
        ("license", license.to_item().unwrap()),
        ("license_assignment", assignment.to_item().unwrap()),
        ("release", release.to_item().unwrap()),
        ("tenant", tenant.to_item().unwrap()),
        ("component_version", component.to_item().unwrap()),
        ("tenant_config", config.to_item().unwrap()),
    ]
}

/// The fields a model's item carries that the change log tracks (nested maps flattened).
fn tracked_fields(item: &Item) -> Vec<String> {
    let bookkeeping = [
        "pk",
        "sk",
        "item_type",
        "revision",
        "created_at",
        "created_by",
        "updated_at",
        "updated_by",
        "change_request_id",
        "source",
    ];
    let mut out = Vec::new();
    for (k, v) in item {
        if bookkeeping.contains(&k.as_str()) || k.starts_with("gsi") {
            continue;
        }
        match v {
            Value::Object(m) if !m.is_empty() => out.extend(m.keys().map(|n| format!("{k}.{n}"))),
            _ => out.push(k.clone()),
        }
    }
    out.sort();
    out
}

fn modified(item: &Item, by: &str) -> Item {
    let mut next = item.clone();
    next.insert("revision".into(), json!(item["revision"].as_u64().unwrap() + 1));
    next.insert("updated_by".into(), json!(by));
    next.insert("updated_at".into(), json!("2026-12-01T00:00:00Z"));
    next
}

async fn entries(table: &MemoryTable) -> Vec<Item> {
    let mut all = table.dump();
    all.sort_by_key(|i| (i["entity"].as_str().unwrap().to_owned(), i["field"].as_str().unwrap().to_owned()));
    all
}

#[tokio::test]
async fn every_field_of_every_logged_model_is_one_entry_on_insert() {
    for (kind, item) in every_logged_model() {
        let table = MemoryTable::new();
        let resp = process(&table, &[record(1, "INSERT", None, Some(&item))]).await;
        assert!(resp.batch_item_failures.is_empty());
        let got = entries(&table).await;
        let mut fields: Vec<String> = got.iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect();
        fields.sort();
        assert_eq!(fields, tracked_fields(&item), "{kind}");
        assert!(
            got.iter()
                .all(|e| e["entity"] == kind && e["actor"] == "alice <alice@vendor.example>" && e["old"].is_null()),
            "{kind}"
        );
    }
}

#[tokio::test]
async fn each_changed_field_of_every_logged_model_is_exactly_one_entry_with_old_and_new() {
    for (kind, item) in every_logged_model() {
        for field in tracked_fields(&item) {
            if ["id", "tenant_id", "key", "version", "name"].contains(&field.as_str())
                && kind != "tenant"
                && kind != "customer"
                && kind != "license"
            {
                continue; // identity fields of these kinds are part of their key and never change
            }
            let table = MemoryTable::new();
            let mut next = modified(&item, "bob <bob@vendor.example>");
            let new_value = json!("changed");
            match field.split_once('.') {
                Some((map, key)) => {
                    next.get_mut(map).unwrap().as_object_mut().unwrap().insert(key.into(), new_value.clone());
                }
                None => {
                    next.insert(field.clone(), new_value.clone());
                }
            }
            let resp = process(&table, &[record(2, "MODIFY", Some(&item), Some(&next))]).await;
            assert!(resp.batch_item_failures.is_empty());
            let got = entries(&table).await;
            assert_eq!(got.len(), 1, "{kind}.{field}: {got:?}");
            assert_eq!(got[0]["field"], field.as_str());
            assert_eq!(got[0]["new"], new_value);
            assert_ne!(got[0]["old"], new_value);
            assert_eq!(got[0]["actor_sub"], "bob");
        }
    }
}

#[tokio::test]
async fn an_unchanged_write_logs_nothing() {
    for (kind, item) in every_logged_model() {
        let table = MemoryTable::new();
        process(&table, &[record(3, "MODIFY", Some(&item), Some(&modified(&item, "carol")))]).await;
        assert!(table.is_empty(), "{kind}");
    }
}

#[tokio::test]
async fn the_same_batch_delivered_twice_adds_nothing() {
    let table = MemoryTable::new();
    let batch: Vec<EventRecord> = every_logged_model()
        .iter()
        .enumerate()
        .map(|(i, (_, item))| record(i as u64 + 10, "INSERT", None, Some(item)))
        .collect();
    process(&table, &batch).await;
    let once = table.dump();
    process(&table, &batch).await;
    assert_eq!(table.dump(), once);
    assert!(!once.is_empty());
}

#[tokio::test]
async fn a_poison_record_fails_alone_and_the_rest_are_logged() {
    let table = MemoryTable::new();
    let models = every_logged_model();
    let mut poison = record(21, "MODIFY", None, None);
    poison.change.new_image = serde_json::from_value(json!({"item_type": {"S": "tenant"}})).unwrap();
    let batch =
        vec![record(20, "INSERT", None, Some(&models[0].1)), poison, record(22, "INSERT", None, Some(&models[1].1))];
    let resp = process(&table, &batch).await;
    let failed: Vec<String> = resp.batch_item_failures.iter().filter_map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, [format!("{:021}", 21)]);
    let kinds: std::collections::BTreeSet<String> =
        table.dump().iter().map(|e| e["entity"].as_str().unwrap().to_owned()).collect();
    assert_eq!(kinds, ["customer".to_owned(), "license".to_owned()].into());
}

#[tokio::test]
async fn a_delete_is_attributed_to_who_deleted_and_removes_every_field() {
    let (_, config) = every_logged_model().pop().unwrap();
    let mut tombstone = modified(&config, "dave <dave@vendor.example>");
    tombstone.insert("deleted".into(), json!(true));
    let table = MemoryTable::new();
    let resp = process(
        &table,
        &[record(30, "MODIFY", Some(&config), Some(&tombstone)), record(31, "REMOVE", Some(&tombstone), None)],
    )
    .await;
    assert!(resp.batch_item_failures.is_empty());
    let got = entries(&table).await;
    assert_eq!(got.len(), tracked_fields(&config).len());
    assert!(
        got.iter().all(|e| e["actor"] == "dave <dave@vendor.example>" && e["new"].is_null() && e["write"] == "remove")
    );
}

#[tokio::test]
async fn secrets_appear_only_as_references() {
    let (_, config) = every_logged_model().pop().unwrap();
    let table = MemoryTable::new();
    process(&table, &[record(40, "INSERT", None, Some(&config))]).await;
    let dump = serde_json::to_string(&table.dump()).unwrap();
    assert!(dump.contains("ssm:/t/db"));
    assert!(table.dump().iter().all(|e| e["field"] != "value"));
}

/// A table whose batch writes fail: every record with entries in the failed call is reported.
struct Unavailable;

#[async_trait::async_trait]
impl Table for Unavailable {
    async fn get(&self, _: &store::Key) -> Result<Option<Item>, store::StoreError> {
        unreachable!()
    }
    async fn batch_get(&self, _: &[store::Key]) -> Result<Vec<Item>, store::StoreError> {
        unreachable!()
    }
    async fn query(&self, _: &store::Query) -> Result<store::Page, store::StoreError> {
        unreachable!()
    }
    async fn write(&self, _: Vec<store::WriteOp>) -> Result<(), store::StoreError> {
        unreachable!()
    }
    async fn batch_put(&self, _: Vec<Item>) -> Result<(), store::StoreError> {
        Err(store::StoreError::Unavailable(anyhow::anyhow!("throttled")))
    }
}

#[tokio::test]
async fn entries_that_cannot_be_written_fail_their_records_for_redelivery() {
    let models = every_logged_model();
    let unlogged: Item = serde_json::from_value(json!({"pk": "FLEET", "sk": "STATE#Healthy", "count": 1})).unwrap();
    let batch =
        vec![record(50, "INSERT", None, Some(&models[4].1)), record(51, "MODIFY", Some(&unlogged), Some(&unlogged))];
    let resp = process(&Unavailable, &batch).await;
    let failed: Vec<String> = resp.batch_item_failures.iter().filter_map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, [format!("{:021}", 50)], "a record with nothing to write cannot fail");
}

#[tokio::test]
async fn the_handler_answers_a_lambda_event() {
    let table = Arc::new(MemoryTable::new());
    let deps = super::Deps { history: table.clone() };
    let (_, tenant) = every_logged_model().remove(4);
    let event =
        lambda_runtime::LambdaEvent::new(event(vec![record(60, "INSERT", None, Some(&tenant))]), Default::default());
    let resp = super::handle(&deps, event).await.unwrap();
    assert!(resp.batch_item_failures.is_empty());
    assert!(!table.is_empty());
}
