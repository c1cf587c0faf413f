//! Creates the registry table from the `RegistryTable` resource of `infra/template.yaml`, so the
//! local table and the deployed one cannot drift.

use anyhow::{Context, bail};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde_yaml::Value;

/// The SAM template, as built into this binary.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// The logical id of the registry table in the template.
pub const REGISTRY_TABLE: &str = "RegistryTable";

/// The logical id of the change-log table in the template.
pub const CHANGELOG_TABLE: &str = "ChangeLogTable";

fn get<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a Value> {
    v.get(key).with_context(|| format!("template: missing `{key}`"))
}

fn text<'a>(v: &'a Value, key: &str) -> anyhow::Result<&'a str> {
    get(v, key)?.as_str().with_context(|| format!("template: `{key}` is not a plain string"))
}

fn key_schema(v: &Value) -> anyhow::Result<Vec<KeySchemaElement>> {
    get(v, "KeySchema")?
        .as_sequence()
        .context("KeySchema is not a list")?
        .iter()
        .map(|k| {
            Ok(KeySchemaElement::builder()
                .attribute_name(text(k, "AttributeName")?)
                .key_type(KeyType::from(text(k, "KeyType")?))
                .build()?)
        })
        .collect()
}

/// The table's properties from the template.
pub fn table_properties(template: &str, logical_id: &str) -> anyhow::Result<Value> {
    let doc: Value = serde_yaml::from_str(template).context("parsing the SAM template")?;
    let resource = get(get(&doc, "Resources")?, logical_id)?;
    if text(resource, "Type")? != "AWS::DynamoDB::Table" {
        bail!("{logical_id} is not an AWS::DynamoDB::Table");
    }
    Ok(get(resource, "Properties")?.clone())
}

/// Creates table `name` as the template declares `logical_id`, with its stream and TTL, and
/// waits until it is active.
pub async fn create_table(client: &Client, template: &str, logical_id: &str, name: &str) -> anyhow::Result<()> {
    let props = table_properties(template, logical_id)?;
    let attributes = get(&props, "AttributeDefinitions")?
        .as_sequence()
        .context("AttributeDefinitions is not a list")?
        .iter()
        .map(|a| {
            Ok(AttributeDefinition::builder()
                .attribute_name(text(a, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(text(a, "AttributeType")?))
                .build()?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut gsis = Vec::new();
    if let Some(list) = props.get("GlobalSecondaryIndexes").and_then(Value::as_sequence) {
        for g in list {
            let projection = get(g, "Projection")?;
            gsis.push(
                GlobalSecondaryIndex::builder()
                    .index_name(text(g, "IndexName")?)
                    .set_key_schema(Some(key_schema(g)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(text(projection, "ProjectionType")?))
                            .build(),
                    )
                    .build()?,
            );
        }
    }
    let stream = match props.get("StreamSpecification") {
        Some(s) => Some(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(text(s, "StreamViewType")?))
                .build()?,
        ),
        None => None,
    };
    client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&props)?))
        .set_global_secondary_indexes((!gsis.is_empty()).then_some(gsis))
        .billing_mode(BillingMode::from(text(&props, "BillingMode")?))
        .set_stream_specification(stream)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        .with_context(|| format!("creating table {name}"))?;
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name(text(ttl, "AttributeName")?).enabled(true).build()?,
            )
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e)))
            .context("enabling TTL")?;
    }
    Ok(())
}

/// Whether table `name` exists.
pub async fn table_exists(client: &Client, name: &str) -> anyhow::Result<bool> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(false),
        Err(e) => Err(anyhow::anyhow!(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_declares_the_layout_the_store_uses() {
        let props = table_properties(TEMPLATE, REGISTRY_TABLE).unwrap();
        let gsis: Vec<String> = props["GlobalSecondaryIndexes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|g| g["IndexName"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = [store::Index::Gsi1, store::Index::Gsi2, store::Index::Gsi3, store::Index::Gsi4]
            .iter()
            .map(|i| i.name().to_owned())
            .collect();
        assert_eq!(gsis, expected);
        for (i, g) in props["GlobalSecondaryIndexes"].as_sequence().unwrap().iter().enumerate() {
            let (pk, sk) = store::Index::key_attrs(Some(
                [store::Index::Gsi1, store::Index::Gsi2, store::Index::Gsi3, store::Index::Gsi4][i],
            ));
            assert_eq!(g["KeySchema"][0]["AttributeName"].as_str(), Some(pk));
            assert_eq!(g["KeySchema"][1]["AttributeName"].as_str(), Some(sk));
        }
        assert_eq!(props["StreamSpecification"]["StreamViewType"].as_str(), Some("NEW_AND_OLD_IMAGES"));
        assert_eq!(props["TimeToLiveSpecification"]["AttributeName"].as_str(), Some("ttl"));
        assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
    }
}
