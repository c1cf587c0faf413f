#!/usr/bin/env python3
"""Events and moto facts for `make bench` (run with the bench venv's Python: needs boto3).

    fixtures.py events --out DIR --changes CHANGES.json
        writes the events the functions are invoked with:
        - changelog-batch.json: a DynamoDB Streams batch of 10 MODIFY records of tenants (a state
          change each: one change-log entry per record, one BatchWriteItem for the batch);
        - lifecycle-begun.json: `begin` of the change request that has already begun (the task
          reads the change request and its tenant and answers the steps; it writes nothing);
        - lifecycle-begin.jsonl: one `begin` a line for each fresh change request (each a first
          begin: two reads and one conditional write);
        CHANGES.json is what `route-costs fixtures` printed.

    fixtures.py moto --endpoint URL --param NAME
        asks moto for ConsumedCapacity on small and large items, and times a GetItem and a
        GetParameter from a warm boto3 client (what one round trip to moto costs); prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path


def ddb(v):
    """A plain value as DynamoDB JSON."""
    if isinstance(v, bool):
        return {"BOOL": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, (int, float)):
        return {"N": str(v)}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, dict):
        return {"M": {k: ddb(x) for k, x in v.items()}}
    if isinstance(v, list):
        return {"L": [ddb(x) for x in v]}
    raise TypeError(type(v))


def tenant(n: int, state: str, revision: int) -> dict:
    tid = f"ten_01JD8X3Q5C7M2R4T6V8W0Y1Z{n:02d}"
    return {
        "pk": f"TENANT#{tid}", "sk": "TENANT", "item_type": "tenant", "id": tid,
        "customer_id": "cus_01JD8X3Q5C7M2R4T6V8W0Y1Z2A", "name": f"acme-prod-{n}", "release": "3.1.0",
        "state": state, "region": "us-east-1", "imported": False, "description": "EU production",
        "revision": revision, "created_at": "2026-11-30T06:00:00Z", "created_by": "alice",
        "updated_at": f"2026-11-30T06:00:{revision:02d}.123456Z", "updated_by": "system:workflow",
        "change_request_id": "chg_01JD8X3Q5C7M2R4T6V8W0Y1Z2A", "source": "workflow",
        "gsi1pk": "TENANTS", "gsi1sk": tid, "gsi2pk": f"STATE#{state}", "gsi2sk": tid,
    }


def stream_batch(records: int = 10) -> dict:
    out = []
    for i in range(records):
        old, new = tenant(i, "InTesting", 3), tenant(i, "Healthy", 4)
        seq = 4_100_000_000_000_000_000 + i
        out.append({
            "eventID": f"{seq:x}", "eventName": "MODIFY", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/bench/stream/2026-11-30T00:00:00.000",
            "dynamodb": {
                "ApproximateCreationDateTime": 1796018400.0,
                "Keys": {"pk": ddb(new["pk"]), "sk": ddb("TENANT")},
                "OldImage": {k: ddb(v) for k, v in old.items()},
                "NewImage": {k: ddb(v) for k, v in new.items()},
                "SequenceNumber": str(seq), "SizeBytes": 600, "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        })
    return {"Records": out}


def events(args) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    changes = json.loads(Path(args.changes).read_text())
    (out / "changelog-batch.json").write_text(json.dumps(stream_batch()))
    (out / "lifecycle-begun.json").write_text(json.dumps({"action": "begin", "change_request_id": changes["begun"]}))
    (out / "lifecycle-begin.jsonl").write_text(
        "".join(json.dumps({"action": "begin", "change_request_id": c}) + "\n" for c in changes["fresh"]))


def moto_facts(args) -> dict:
    import boto3

    kw = dict(endpoint_url=args.endpoint, region_name="us-east-1", aws_access_key_id="test",
              aws_secret_access_key="test")
    ddb_client, ssm = boto3.client("dynamodb", **kw), boto3.client("ssm", **kw)
    table = f"bench-capacity-{int(time.time() * 1000)}"
    ddb_client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}])
    sizes = {"100 B": 100, "20 KB": 20_000}
    capacity: dict[str, dict[str, float | None]] = {}

    def units(out) -> float | None:
        c = out.get("ConsumedCapacity")
        if isinstance(c, list):
            return sum(x.get("CapacityUnits", 0) for x in c) if c else None
        return c.get("CapacityUnits") if c else None

    # What DynamoDB would charge: a write unit per KB (twice in a transaction), a strongly
    # consistent read unit per 4 KB.
    dynamodb_would = {
        "PutItem": {"100 B": 1, "20 KB": 20},
        "GetItem (consistent)": {"100 B": 1, "20 KB": 5},
        "Query (1 item)": {"100 B": 1, "20 KB": 5},
        "TransactWriteItems (1 put)": {"100 B": 2, "20 KB": 40},
    }
    for label, size in sizes.items():
        key = {"pk": {"S": f"ITEM#{label}"}, "sk": {"S": "X"}}
        item = {**key, "blob": {"S": "x" * size}}
        capacity.setdefault("PutItem", {})[label] = units(
            ddb_client.put_item(TableName=table, Item=item, ReturnConsumedCapacity="TOTAL"))
        capacity.setdefault("GetItem (consistent)", {})[label] = units(
            ddb_client.get_item(TableName=table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL"))
        capacity.setdefault("Query (1 item)", {})[label] = units(ddb_client.query(
            TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": key["pk"]},
            ConsistentRead=True, ReturnConsumedCapacity="TOTAL"))
        capacity.setdefault("TransactWriteItems (1 put)", {})[label] = units(ddb_client.transact_write_items(
            TransactItems=[{"Put": {"TableName": table, "Item": item}}], ReturnConsumedCapacity="TOTAL"))

    def timed(call, n: int) -> float:
        call()  # connection up, first-call setup done
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            call()
            samples.append((time.perf_counter() - t0) * 1000)
        return statistics.median(samples)

    key = {"pk": {"S": "ITEM#100 B"}, "sk": {"S": "X"}}
    latency = {
        "GetItem": timed(lambda: ddb_client.get_item(TableName=table, Key=key, ConsistentRead=True), 50),
        "GetParameter": timed(lambda: ssm.get_parameter(Name=args.param, WithDecryption=True), 30),
    }
    ddb_client.delete_table(TableName=table)
    return {"capacity": capacity, "dynamodb_would": dynamodb_would, "latency_ms": latency}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("events")
    e.add_argument("--out", required=True)
    e.add_argument("--changes", required=True)
    m = sub.add_parser("moto")
    m.add_argument("--endpoint", required=True)
    m.add_argument("--param", required=True)
    args = ap.parse_args()
    if args.cmd == "events":
        events(args)
    else:
        json.dump(moto_facts(args), sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
