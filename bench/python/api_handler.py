"""The `api` function written the way AWS's SaaS Builder Toolkit writes its Python Lambdas:
boto3 clients created at import, so their setup is part of the cold start, then a plain
handler. Only `GET /v1/health` is ported (what `make bench` invokes); the point is the init
next to the Rust function's, which builds the same two clients (DynamoDB, Step Functions).

Run by `bench/run.sh` as `python -m awslambdaric api_handler.handler` against the Runtime API
stub. (The toolkit's functions also import AWS Lambda Powertools' Logger and Tracer at module
level and use `boto3.resource`; both would only add to this init.)
"""

import json
import os

import boto3

dynamodb = boto3.client("dynamodb")
sfn = boto3.client("stepfunctions")
TABLE_NAME = os.environ["TABLE_NAME"]
CHANGELOG_TABLE_NAME = os.environ["CHANGELOG_TABLE_NAME"]
STATE_MACHINE_ARN = os.environ["STATE_MACHINE_ARN"]


def _answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json" if status < 400 else "application/problem+json"},
        "body": json.dumps(body),
    }


def handler(event, context):
    http = event.get("requestContext", {}).get("http", {})
    if http.get("method") == "GET" and event.get("rawPath") == "/v1/health":
        return _answer(200, {"status": "ok"})
    return _answer(404, {"type": "about:blank", "title": "Not found", "status": 404, "detail": "no such route"})
