"""The `changelog` function written the way AWS's SaaS Builder Toolkit writes its Python
Lambdas: the boto3 DynamoDB client created at import. A simplified port of
`functions/changelog`: one entry per changed top-level field of each stream record (bookkeeping
fields left out), written 25 a call with BatchWriteItem; records whose entries could not be
written are reported in `batchItemFailures`. (The Rust function also diffs nested maps key by
key and keeps more context on each entry.)
"""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
CHANGELOG_TABLE_NAME = os.environ["CHANGELOG_TABLE_NAME"]

BOOKKEEPING = {"revision", "updated_at", "updated_by", "change_request_id", "source", "created_at", "created_by",
               "pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "gsi4pk", "gsi4sk", "ttl"}


def _s(image, name):
    v = image.get(name) or {}
    return v.get("S") or v.get("N") or ""


def _entries(record):
    change = record["dynamodb"]
    old, new = change.get("OldImage") or {}, change.get("NewImage") or {}
    image = new or old
    sequence = change.get("SequenceNumber") or record["eventID"]
    for field in sorted((set(old) | set(new)) - BOOKKEEPING):
        if old.get(field) == new.get(field):
            continue
        entity, entity_id = _s(image, "item_type"), _s(image, "id")
        yield {
            "pk": {"S": f"{entity.upper()}#{entity_id}"},
            "sk": {"S": f"{sequence}#{field}"},
            "entity": {"S": entity},
            "entity_id": {"S": entity_id},
            "field": {"S": field},
            "old": {"S": json.dumps(old.get(field))},
            "new": {"S": json.dumps(new.get(field))},
            "actor": {"S": _s(new, "updated_by") or "unknown"},
            "at": {"S": _s(new, "updated_at") or _s(old, "updated_at")},
            "source": {"S": _s(new, "source") or "unknown"},
        }


def handler(event, context):
    pending = []
    for record in event.get("Records", []):
        sequence = record["dynamodb"].get("SequenceNumber") or record["eventID"]
        pending.extend((sequence, item) for item in _entries(record))
    failed = []
    for i in range(0, len(pending), 25):
        chunk = pending[i:i + 25]
        try:
            out = dynamodb.batch_write_item(
                RequestItems={CHANGELOG_TABLE_NAME: [{"PutRequest": {"Item": item}} for _, item in chunk]})
            if out.get("UnprocessedItems"):
                raise RuntimeError("unprocessed items")
        except Exception:
            failed.extend(seq for seq, _ in chunk if seq not in failed)
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}
