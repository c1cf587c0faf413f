"""Every operation of the served OpenAPI document, called through a client that
openapi-python-client generated from it (tests/tests/openapi_python_client.rs generates it and
runs this).

Each call goes through the generated function (`sync_detailed`) with the generated body model
(`from_dict`), on a client that raises on any status the document does not list. A call must
answer its success status, and its answer must parse into the generated model of that status (a
list into its items' models), not into a `Problem` and not into nothing. The run fails when an
operation of the document was not called, or when the generator left an operation out.

Usage: python_client.py PACKAGE_DIR PACKAGE BASE_URL DOCUMENT
  environment: ADMIN_TOKEN, SECOND_ADMIN_TOKEN (another admin, who may approve the first's
  requests), VIEWER_TOKEN; TENANTS: three Healthy tenants of the seed, comma separated
Prints one JSON line: {"called": [...operation ids...], "checked": N}.
"""

import enum

import attrs
import importlib
import json
import os
import pkgutil
import sys
import typing
import time
import uuid

PACKAGE_DIR, PACKAGE, BASE_URL, DOCUMENT = sys.argv[1:5]
sys.path.insert(0, PACKAGE_DIR)

client_mod = importlib.import_module(f"{PACKAGE}.client")
types_mod = importlib.import_module(f"{PACKAGE}.types")
Problem = importlib.import_module(f"{PACKAGE}.models").Problem
UNSET = types_mod.UNSET


def client(token):
    return client_mod.AuthenticatedClient(base_url=BASE_URL, token=token, raise_on_unexpected_status=True)


ADMIN = client(os.environ["ADMIN_TOKEN"])
SECOND_ADMIN = client(os.environ["SECOND_ADMIN_TOKEN"])
VIEWER = client(os.environ["VIEWER_TOKEN"])
HEALTHY = os.environ["TENANTS"].split(",")

with open(DOCUMENT) as f:
    document = json.load(f)
operations = {
    op["operationId"]: (method.upper(), path)
    for path, item in document["paths"].items()
    for method, op in item.items()
    if isinstance(op, dict) and "operationId" in op
}

# The generated module of each operation: PACKAGE.api.<tag>.<operation id>.
api = importlib.import_module(f"{PACKAGE}.api")
modules = {}
for info in pkgutil.walk_packages(api.__path__, f"{PACKAGE}.api."):
    name = info.name.rsplit(".", 1)[-1]
    if not info.ispkg and name in operations:
        modules[name] = importlib.import_module(info.name)
missing = sorted(set(operations) - set(modules))
assert not missing, f"the generator left out {missing}"

called = []
checked = 0


def fail(op, detail):
    raise AssertionError(f"{op} ({' '.join(operations[op])}): {detail}")


def check_model(op, value):
    """A parsed answer is a generated model, every list item too (not a dict, not a Problem)."""
    global checked
    if value is None or isinstance(value, Problem):
        fail(op, f"answer parsed as {value!r}")
    if isinstance(value, list):
        for v in value:
            check_model(op, v)
        return
    if not hasattr(value, "to_dict"):
        fail(op, f"answer parsed as a {type(value).__name__}, not a model")
    items = getattr(value, "items", None)
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) or not hasattr(item, "to_dict"):
                fail(op, f"an item parsed as a {type(item).__name__}, not a model")
    checked += 1


def model_for(annotation, body):
    """`body` as the generated model of `annotation`: of a `oneOf` (a union of models), the member
    that has the body's keys as fields and takes their values (an operation its enum names)."""
    members = [t for t in typing.get_args(annotation) if hasattr(t, "from_dict")] or [annotation]
    for member in members:
        fields = {f.alias or f.name for f in attrs.fields(member)} if attrs.has(member) else set()
        if set(body) <= fields:
            try:
                return member.from_dict(body)
            except (ValueError, KeyError, TypeError):
                continue
    raise AssertionError(f"no model of {annotation} takes {sorted(body)}")


def call(op, *path, status, as_=None, body=None, **kwargs):
    """`op`'s generated `sync_detailed`, asserting its status and the parsed model."""
    module = modules[op]
    fn = module.sync_detailed
    hints = typing.get_type_hints(fn)
    if body is not None:
        kwargs["body"] = model_for(hints["body"], body)
    for name, value in kwargs.items():
        # A parameter the document enumerates takes the generated enum, not a string.
        kinds = [t for t in typing.get_args(hints.get(name)) or [hints.get(name)] if isinstance(t, type)]
        enum_type = next((t for t in kinds if issubclass(t, enum.Enum)), None)
        if enum_type is not None and isinstance(value, str):
            kwargs[name] = enum_type(value)
    response = fn(*path, client=as_ or ADMIN, **kwargs)
    code = int(response.status_code)
    if code != status:
        fail(op, f"answered {code}, want {status}: {response.content[:400]!r}")
    if status >= 400:
        # A refusal the document describes: it parses as its Problem, naming why.
        if not isinstance(response.parsed, Problem) or response.parsed.status != status:
            fail(op, f"a {status} parsed as {response.parsed!r}, not its Problem")
    elif status != 204 and op != "openapi_json":
        check_model(op, response.parsed)
    called.append(op)
    return response


def etag(response):
    tag = response.headers.get("etag")
    assert tag, "no ETag"
    return tag


def parsed_dict(response):
    return response.parsed.to_dict()


unique = uuid.uuid4().hex[:8]

# Meta.
call("health", status=200, as_=VIEWER)
doc = call("openapi_json", status=200, as_=VIEWER)
assert json.loads(doc.content)["openapi"].startswith("3."), "the served document"
call("fleet_summary", status=200, as_=VIEWER)
versions = parsed_dict(call("fleet_versions", status=200, as_=VIEWER, limit=2))
paged = next((r for r in versions["releases"] if r.get("next_token")), None)
if paged is not None:
    call("fleet_versions", status=200, as_=VIEWER, release=paged["version"], next_token=paged["next_token"])

# Customers.
call("list_customers", status=200, as_=VIEWER)
customer = parsed_dict(call("create_customer", status=201, body={"name": f"Client {unique}"},
                            idempotency_key=f"py-{unique}-customer"))
got = call("get_customer", customer["id"], status=200)
call("patch_customer", customer["id"], status=200, body={"notes": "through the generated client"}, if_match=etag(got))

# Licenses and assignments.
call("list_licenses", status=200, as_=VIEWER)
license_ = parsed_dict(call("create_license", status=201, body={"name": f"Plan {unique}", "kind": "subscription"}))
got = call("get_license", license_["id"], status=200)
call("patch_license", license_["id"], status=200, body={"max_users": 50}, if_match=etag(got))
assignment = parsed_dict(call("create_assignment", status=201,
                              body={"customer_id": customer["id"], "license_id": license_["id"]}))
got = call("get_assignment", assignment["id"], status=200)
call("patch_assignment", assignment["id"], status=200, body={"status": "suspended"}, if_match=etag(got))
call("list_customer_assignments", customer["id"], status=200)
call("list_license_assignments", license_["id"], status=200)
call("expiring_licenses", status=200, as_=VIEWER, days=30)
rollup = parsed_dict(call("customer_metering", status=200, as_=VIEWER, customer_id=customer["id"], month="2026-11"))
assert rollup["month"] == "2026-11" and rollup["tenants"] == [], rollup

# Releases.
releases = parsed_dict(call("list_releases", status=200, as_=VIEWER))["items"]
base = next(r for r in releases if r["status"] == "available")
version = f"99.{int(unique, 16) % 100000}.0"
call("create_release", status=201, body={"version": version, "components": base["components"]})
got = call("get_release", version, status=200)
call("patch_release", version, status=200, body={"notes": "made by the generated client"}, if_match=etag(got))

# Tenants.
call("list_tenants", status=200, as_=VIEWER, state="Healthy")
created = parsed_dict(call("create_tenant", status=201,
                           body={"customer_id": customer["id"], "name": f"py-{unique}", "release": base["version"]},
                           idempotency_key=f"py-{unique}-tenant"))
got = call("get_tenant", created["id"], status=200)
call("patch_tenant", created["id"], status=200, body={"description": "created by the generated client"},
     if_match=etag(got))

# A Healthy tenant's records.
tenant = HEALTHY[0]
call("get_tenant", tenant, status=200, as_=VIEWER)
components = parsed_dict(call("list_components", tenant, status=200))["items"]
component = components[0]["name"]
got = call("get_component", tenant, component, status=200)
call("put_component", tenant, component, status=200, body={"version": "0.0.1-py"}, if_match=etag(got))
call("list_configs", tenant, status=200)
key = f"py.{unique}"
put = call("put_config", tenant, key, status=201, body={"value": "through the client"})
call("get_config", tenant, key, status=200)
call("delete_config", tenant, key, status=204, if_match=etag(put))
call("list_health_runs", tenant, status=200)
backups = parsed_dict(call("list_backups", tenant, status=200))["items"]
assert backups, f"the seed backs up {tenant}"
call("get_backup", tenant, backups[0]["id"], status=200)
report = parsed_dict(call("tenant_report", tenant, status=200))
assert report["tenant"]["id"] == tenant and isinstance(report["components"], list), report
drift = parsed_dict(call("tenant_drift", tenant, status=200))
assert drift["tenant_id"] == tenant and drift["last_check"]["tenant_id"] == tenant, drift
drifted = parsed_dict(call("fleet_drift", status=200, as_=VIEWER))["items"]
assert drifted and all(r["drifted"] for r in drifted), f"the seed drifts two boxes: {drifted}"
compose = "services:\n  webapp:\n    image: vendor/webapp:9.9.9\n    environment:\n      - SMTP_HOST=smtp.py.example\n"
diff = parsed_dict(call("import_compose", tenant, status=200, body={"compose": compose, "apply": False}))
assert diff["applied"] is False and diff["changes"] >= 1, diff
call("import_compose", tenant, status=422,
     body={"compose": "services:\n  db:\n    image: pg:16\n    environment:\n      - DB_PASSWORD=hunter2\n"})
metrics = parsed_dict(call("tenant_metrics", tenant, status=200, names="cpu,app_health", period=300))
assert [s["metric"] for s in metrics["series"]][-1] == "app_health", metrics
metering = parsed_dict(call("tenant_metering", tenant, status=200))
assert metering["tenant_id"] == tenant and isinstance(metering["samples"], list), metering
call("tenant_history", tenant, status=200)
call("fleet_history", status=200, as_=VIEWER)
call("list_tenant_resources", tenant, status=200)

# Resources.
arn = f"arn:aws:s3:::portal-py-{unique}"
resource = parsed_dict(call("create_resource", status=201, body={"arn": arn, "tenant_ids": [tenant]}))
call("list_resources", status=200, as_=VIEWER)
call("list_resource_tenants", resource["id"], status=200)
got = call("get_resource", resource["id"], status=200)
patched = call("patch_resource", resource["id"], status=200, body={"name": "py bucket"}, if_match=etag(got))
call("delete_resource", resource["id"], status=204, if_match=etag(patched))

# Change requests: a dry run (200, its plan), a running backup aborted; terminates decided by a
# second admin or cancelled.
planned = parsed_dict(call("create_change_request", tenant, status=200,
                           body={"operation": "backup", "reason": "py", "dry_run": True}))
assert planned["would_run"] is True and planned["tenant_id"] == tenant, planned
running = parsed_dict(call("create_change_request", tenant, status=202, body={"operation": "backup", "reason": "py"},
                           idempotency_key=f"py-{unique}-backup"))
call("get_change_request", running["id"], status=200, as_=VIEWER)
call("list_tenant_change_requests", tenant, status=200)
# Not in a fallback window (it is no swap): the rollback is refused with a problem.
call("rollback_change_request", running["id"], status=409, body={"reason": "no window to roll back in"})
call("abort_change_request", running["id"], status=200, body={"reason": "the generated client aborts it"})
for tenant_id, decision in zip(HEALTHY[1:3], ["reject_change_request", "cancel_change_request"]):
    pending = parsed_dict(call("create_change_request", tenant_id, status=202,
                               body={"operation": "terminate", "reason": "py"}))
    assert pending["status"] == "awaiting_approval", pending
    decider = SECOND_ADMIN if decision == "reject_change_request" else ADMIN
    call(decision, pending["id"], status=200, as_=decider)
approvable = parsed_dict(call("create_change_request", HEALTHY[1], status=202,
                              body={"operation": "terminate", "reason": "py approve"}))
call("approve_change_request", approvable["id"], status=202, as_=SECOND_ADMIN)

# Rollouts: a plan over the Healthy tenants, then a rollout over one of them, paused, resumed, aborted.
call("plan_rollout", status=200, body={"operation": "validate", "selector": {"state": "Healthy"}, "waves": [1, 2]})
rollout = parsed_dict(call("create_rollout", status=202,
                           body={"operation": "validate", "selector": {"tenant_ids": [HEALTHY[2]]}, "waves": [1],
                                 "reason": "py"},
                           idempotency_key=f"py-{unique}-rollout"))
call("list_rollouts", status=200, as_=VIEWER)
call("get_rollout", rollout["id"], status=200, as_=VIEWER)
call("pause_rollout", rollout["id"], status=200)
call("resume_rollout", rollout["id"], status=200)
call("abort_rollout", rollout["id"], status=200, body={"reason": "the generated client aborts it"})

# A Jenkins callback needs no token but its signature: a forged one is refused with a problem.
forged = {"x_portal_timestamp": str(int(time.time())), "x_portal_nonce": f"py-{unique}-nonce-0001",
          "x_portal_signature": "sha256=" + "0" * 64}
call("jenkins_callback", status=401, as_=VIEWER, body={"step_id": f"{running['id']}-1", "result": "SUCCESS"},
     **forged)

not_called = sorted(set(operations) - set(called))
assert not not_called, f"not called: {not_called}"
print(json.dumps({"called": sorted(set(called)), "checked": checked}))
