"""The `lifecycle` function written the way AWS's SaaS Builder Toolkit writes its Python
Lambdas: the boto3 SSM and DynamoDB clients created at import, and the Jenkins credentials read
from their SSM SecureString at import, as such functions read their configuration. (The Rust
function reads them when a task first calls Jenkins.)

Only what `make bench` invokes is ported: `begin` of a change request that has already begun
reads the change request and its tenant (two GetItem, as the Rust task does) and answers the
steps recorded when it began. Every other task is refused.
"""

import json
import os

import boto3
from boto3.dynamodb.types import TypeDeserializer

ssm = boto3.client("ssm")
dynamodb = boto3.client("dynamodb")
TABLE_NAME = os.environ["TABLE_NAME"]
JENKINS_URL = os.environ["JENKINS_URL"]
_secret = json.loads(
    ssm.get_parameter(Name=os.environ["JENKINS_SECRET_PARAM"], WithDecryption=True)["Parameter"]["Value"])
JENKINS_USER, JENKINS_TOKEN = _secret["user"], _secret["token"]
_plain = TypeDeserializer()


class Invalid(Exception):
    pass


class Conflict(Exception):
    pass


def _get(pk, sk):
    item = dynamodb.get_item(TableName=TABLE_NAME, Key={"pk": {"S": pk}, "sk": {"S": sk}},
                             ConsistentRead=True).get("Item")
    return {k: _plain.deserialize(v) for k, v in item.items()} if item else None


def handler(event, context):
    if event.get("action") != "begin":
        raise Invalid(f"only begin is ported, not {event.get('action')!r}")
    cr_id = event["change_request_id"]
    cr = _get(f"CHANGE#{cr_id}", "CHANGE")
    if cr is None:
        raise Invalid(f"no change request {cr_id}")
    tenant = _get(f"TENANT#{cr['tenant_id']}", "TENANT")
    if tenant is None or tenant.get("active_change_request_id") != cr_id or cr.get("status") != "running":
        raise Conflict(f"change request {cr_id} does not hold its tenant")
    begun = next((s for s in cr.get("steps", []) if s.get("name") == "begin"), None)
    if begun is None:
        raise Invalid("a first begin is not ported")
    return json.loads(json.dumps({"steps": begun["detail"]["steps"]}, default=str))
