#!/usr/bin/env python3
"""Run moto server on loopback, configured for this project's local stack.

Usage:
    python moto_launcher.py --port PORT [--host 127.0.0.1] [--exit-on-stdin-eof]

- Prints ``moto ready on http://HOST:PORT`` (one line, flushed, on stdout) once the server
  listens and Step Functions execution has been switched on
  (``POST /moto-api/config {"stepfunctions":{"execute_state_machine":true}}``).
- ``--exit-on-stdin-eof``: exit as soon as stdin reaches EOF, so a parent that holds the
  write end of a pipe (and dies) takes moto with it.
- ``LAMBDA_INVOKE_ENDPOINT=http://127.0.0.1:9000``: every Lambda invocation moto makes
  (Invoke API, Step Functions ``lambda:invoke`` tasks, DynamoDB Streams / SQS event source
  mappings, ...) is forwarded to a local Lambda Invoke API such as ``cargo lambda watch``:
  ``POST {endpoint}/2015-03-31/functions/{function_name}/invocations``.
  ``LAMBDA_INVOKE_TIMEOUT`` (seconds, default 600: the first call to ``cargo lambda watch``
  compiles) bounds each call.

DynamoDB keeps the guarantees the portal relies on (moto as shipped does not, its server being
threaded):

- Every DynamoDB and DynamoDB Streams request runs under one process-wide lock, so a
  conditional write, a ``TransactWriteItems`` or a ``BatchWriteItem`` is atomic and isolated as
  in DynamoDB. Without it two transactions on one item can both pass their conditions, a stream
  record can take another's sequence number, and a cancelled transaction (which moto undoes by
  putting back a copy of the whole table it took before) can undo a write that committed
  meanwhile.
- A cancelled ``TransactWriteItems`` leaves the table's stream where it was. moto's undo puts a
  copy of the table in place, with a copy of its stream shard; every shard iterator handed out
  before still reads the old shard, which never grows again and keeps the records of the
  cancelled transaction's own writes (of writes that never happened), while the new shard reuses
  their sequence numbers: a stream reader saw nothing more, with no error, after the first
  transaction that failed its condition. Here the undo keeps the live table and its shard: it
  puts back the items under the transaction's keys as they were before it and drops the
  records of its writes. moto's copy of every table it names also made each transaction cost
  time in the size of the table (measured: 325 ms at 1,000 items, 4 s at 10,000); this undo
  costs time in the transaction's items (about 5 ms at either size).
- A ``TransactWriteItems`` retried with the ``ClientRequestToken`` of one that succeeded answers
  as that one did and writes nothing, as in DynamoDB (the SDK's clients time out and retry).

``MOTO_LAUNCHER_AS_SHIPPED=1`` leaves moto's DynamoDB as shipped (no lock, the undo orphans the
stream): only to show what the race tests under tests/tests/ catch.

Depends on moto internals (``LambdaFunction._invoke_lambda``, ``DynamoHandler.call_action``,
``DynamoDBBackend.transact_write_items``, ``Table.items``, ``Table.stream_shard``): moto is pinned to 5.2.5 in
bootstrap.sh. Standard library only, apart from moto itself.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

EXPECTED_MOTO_VERSION = "5.2.5"
READY_TIMEOUT_S = 60.0
# Connections the server's socket queues before it accepts them (werkzeug's default is 128).
LISTEN_BACKLOG = 1024

# Loopback only: never let an environment proxy setting route these calls elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _log(msg: str) -> None:
    print(f"moto_launcher: {msg}", file=sys.stderr, flush=True)


def _watch_stdin() -> None:
    """Read stdin until EOF, then end the whole process at once."""
    try:
        stream = sys.stdin.buffer
        while stream.read(65536):
            pass
    except Exception:  # a closed or broken stdin counts as EOF
        pass
    os._exit(0)


def _encode_event(event: object) -> bytes:
    """The request body for the local Invoke API.

    moto's ``LambdaFunction.invoke`` json-decodes the request body before calling
    ``_invoke_lambda(event=...)`` (despite its ``str`` annotation), so ``event`` is usually
    a dict/list; an empty body arrives as the *string* ``"{}"``.
    """
    if event is None:
        return b"{}"
    if isinstance(event, (bytes, bytearray)):
        return bytes(event)
    if isinstance(event, str) and event == "{}":
        return b"{}"
    return json.dumps(event).encode("utf-8")


def _patch_lambda_invoke(endpoint: str) -> None:
    from moto.awslambda.models import LambdaFunction

    endpoint = endpoint.rstrip("/")
    timeout = float(os.environ.get("LAMBDA_INVOKE_TIMEOUT", "600"))

    def _invoke_lambda(self, event=None):  # same signature as moto 5.2.5
        url = (
            f"{endpoint}/2015-03-31/functions/"
            f"{urllib.parse.quote(self.function_name, safe='')}/invocations"
        )
        req = urllib.request.Request(
            url,
            data=_encode_event(event),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                status, headers, body = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:  # non-2xx: still a response
            status, headers, body = err.code, err.headers, err.read()
        except Exception as err:  # connection refused, timeout, ...
            msg = f"local lambda invoke of {self.function_name} at {url} failed: {err}"
            _log(msg)
            return msg, True, ""

        payload = body.decode("utf-8", errors="replace")
        errored = bool(headers.get("X-Amz-Function-Error")) or not (200 <= status < 300)
        logs = ""
        log_result = headers.get("X-Amz-Log-Result")
        if log_result:
            try:
                logs = base64.b64decode(log_result).decode("utf-8", errors="replace")
            except Exception:
                logs = ""
        try:  # mirror moto: record the invocation in the function's CloudWatch log group
            self.logs_backend.ensure_log_group(self.logs_group_name)
            self.save_logs(logs or f"invoked {self.function_name}: HTTP {status}")
        except Exception:
            pass
        return payload, errored, logs

    LambdaFunction._invoke_lambda = _invoke_lambda
    _log(f"lambda invocations go to {endpoint}")


def _patch_config_report() -> None:
    """Make ``GET /moto-api/config`` also report the ``stepfunctions`` section.

    moto 5.2.5 accepts ``stepfunctions`` in ``POST /moto-api/config`` but its ``get_config``
    returns only ``batch`` and ``lambda``, so a client could not check the setting.
    """
    from moto.core.config import default_user_config
    from moto.moto_api._internal.models import MotoAPIBackend

    original = MotoAPIBackend.get_config

    def get_config(self):
        config = dict(original(self))
        config.setdefault("stepfunctions", dict(default_user_config.get("stepfunctions", {})))
        return config

    MotoAPIBackend.get_config = get_config


def _keep_dynamodb_guarantees() -> None:
    """One lock around every DynamoDB (and Streams) request; a cancelled transaction keeps the
    stream's shard. See the module's doc."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    # Re-entrant: a handler's action calls other backend methods, all under the same hold. The
    # whole request (parsing, the action, serializing the answer) holds it, so a read never
    # serializes an item that a write is changing in place.
    lock = threading.RLock()

    def serialized(call_action):
        def call_action_serialized(self):
            with lock:
                return call_action(self)

        return call_action_serialized

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        handler.call_action = serialized(handler.call_action)

    original = DynamoDBBackend.transact_write_items

    def own_copy(table, memo):
        return table

    def transact_write_items(self, transact_items):
        # moto undoes a cancelled transaction by putting back a deep copy of every table it
        # names, taken before it starts: each transaction cost time in the size of the table
        # (4 s at 10,000 items), and that copy came with a copy of the stream's shard.
        # Here the undo keeps what the transaction can touch instead: the items under its keys,
        # as they were, and the length of each table's stream.
        before = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            key = _item_key(table, op.get("Item") or op.get("Key") or {}) if table is not None else None
            if key is None:
                continue  # moto itself refuses the transaction before it writes anything
            hash_value, range_value = key
            before.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
        streams = {id(t): (t.stream_shard, len(t.stream_shard.items)) for t, *_ in before if t.stream_shard is not None}
        Table.__deepcopy__ = own_copy
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(before):
                bucket = table.items[hash_value] if range_value is not None else table.items
                at = range_value if range_value is not None else hash_value
                if item is None:
                    bucket.pop(at, None)
                else:
                    bucket[at] = item
            # Drop the records of the cancelled transaction's own writes: DynamoDB never wrote them.
            for shard, length in streams.values():
                del shard.items[length:]
            raise
        finally:
            del Table.__deepcopy__

    DynamoDBBackend.transact_write_items = transact_write_items
    _honour_client_request_tokens()


def _item_key(table, attrs):
    """The (hash, range) key of the item that ``attrs`` (a Put's item or a key) names in moto's
    ``table``, or None when it names none."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if not isinstance(attrs, dict) or table.hash_key_attr not in attrs:
        return None
    if table.range_key_attr is None:
        return DynamoType(attrs[table.hash_key_attr]), None
    if table.range_key_attr not in attrs:
        return None
    return DynamoType(attrs[table.hash_key_attr]), DynamoType(attrs[table.range_key_attr])


# DynamoDB keeps a transaction's ClientRequestToken for 10 minutes.
CLIENT_REQUEST_TOKEN_TTL_S = 600.0


def _honour_client_request_tokens() -> None:
    """A ``TransactWriteItems`` sent again with the ``ClientRequestToken`` of one that succeeded
    within 10 minutes answers as that one did and writes nothing, as DynamoDB does (the SDK sets
    a token on every transaction, so an attempt that timed out after it committed is retried
    safely); the same token with other items is ``IdempotentParameterMismatchException``.
    Called under the lock."""
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    class IdempotentParameterMismatch(DynamodbException):
        error_type = ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException"

        def __init__(self) -> None:
            super().__init__(self.error_type, message="ClientRequestToken was used with other transaction items")

    succeeded: dict[str, tuple[float, str, object]] = {}
    original = DynamoHandler.transact_write_items

    def transact_write_items(self):
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        now = time.monotonic()
        for old in [t for t, (at, _, _) in succeeded.items() if now - at > CLIENT_REQUEST_TOKEN_TTL_S]:
            del succeeded[old]
        items = json.dumps(self.body.get("TransactItems"), sort_keys=True, default=str)
        if token in succeeded:
            _, first_items, answer = succeeded[token]
            if first_items != items:
                raise IdempotentParameterMismatch()
            return answer
        answer = original(self)
        succeeded[token] = (now, items, answer)
        return answer

    DynamoHandler.transact_write_items = transact_write_items


def _sfn_execution_enabled() -> bool:
    from moto.core.config import default_user_config

    return bool(default_user_config.get("stepfunctions", {}).get("execute_state_machine"))


def _post_json(url: str, doc: object) -> None:
    req = urllib.request.Request(
        url,
        data=json.dumps(doc).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with _OPENER.open(req, timeout=10) as resp:
        resp.read()


LOCAL_ROLE = "admin-portal-local"


def _create_local_role(base: str) -> None:
    """The IAM role local Lambda functions and state machines run as (moto checks it exists)."""
    import boto3

    iam = boto3.client(
        "iam",
        endpoint_url=base,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    try:
        iam.create_role(RoleName=LOCAL_ROLE, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass


def _configure_when_up(host: str, port: int) -> None:
    """Wait for the port, switch Step Functions execution on, announce readiness."""
    connect_host = "127.0.0.1" if host in ("0.0.0.0", "") else host
    connect_host = "::1" if connect_host == "::" else connect_host
    url_host = f"[{connect_host}]" if ":" in connect_host else connect_host
    base = f"http://{url_host}:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_err: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((connect_host, port), timeout=1):
                pass
            _post_json(f"{base}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
            if not _sfn_execution_enabled():  # the server runs in this process
                raise RuntimeError("stepfunctions.execute_state_machine not applied")
            _create_local_role(base)
            print(f"moto ready on {base}", flush=True)
            return
        except Exception as err:
            last_err = err
            time.sleep(0.05)
    _log(f"moto did not become ready on {base} within {READY_TIMEOUT_S:.0f}s: {last_err}")
    os._exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--exit-on-stdin-eof", action="store_true")
    args = parser.parse_args(argv)

    if args.exit_on_stdin_eof:
        threading.Thread(target=_watch_stdin, name="stdin-eof", daemon=True).start()

    import moto
    import moto.server

    if moto.__version__ != EXPECTED_MOTO_VERSION:
        _log(
            f"warning: moto {moto.__version__} found, this launcher was written against "
            f"{EXPECTED_MOTO_VERSION} (it patches moto internals)"
        )

    _patch_config_report()
    if os.environ.get("MOTO_LAUNCHER_AS_SHIPPED", "").strip() == "1":
        _log("warning: MOTO_LAUNCHER_AS_SHIPPED=1: DynamoDB as shipped (no lock, cancelled transactions orphan the stream)")
    else:
        _keep_dynamodb_guarantees()

    endpoint = os.environ.get("LAMBDA_INVOKE_ENDPOINT", "").strip()
    if endpoint:
        _patch_lambda_invoke(endpoint)

    # werkzeug listens with a backlog of 128: a burst of more clients connecting at once (the
    # fleet bench's 200 concurrent transitions) had connections dropped until the SDK's connect
    # timeout. DynamoDB accepts them all.
    import werkzeug.serving

    werkzeug.serving.BaseWSGIServer.request_queue_size = LISTEN_BACKLOG

    threading.Thread(
        target=_configure_when_up, args=(args.host, args.port), name="ready", daemon=True
    ).start()
    moto.server.main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
