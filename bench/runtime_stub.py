"""A stub of the AWS Lambda Runtime API (2018-06-01), enough to start a custom-runtime function
(or a Python one through `awslambdaric`), time its init and serve it invocations, timing each.
Standard library only.

- GET  /2018-06-01/runtime/invocation/next        records the monotonic time of the first poll;
  answers the next armed event (each once, in order) with the Lambda-Runtime-* headers,
  otherwise holds the poll open until the run ends (as Lambda does while no event is queued).
- POST /2018-06-01/runtime/invocation/{id}/response  the function's answer: 202.
- POST /2018-06-01/runtime/invocation/{id}/error     a handler error: 202.
- POST /2018-06-01/runtime/init/error                an init error: 202.
- POST / with `X-Amz-Target: AmazonSSM.GetParameter`  answers SSM_PARAMETER as the parameter's
  value at once: point a function's `AWS_ENDPOINT_URL` here to take an SSM read at init out of
  its cold start (what is left is the client's own work).

One function process at a time: `arm()` before spawning it, `disarm()` after killing it. An
invocation is timed from just before the event is written to the poll's connection until the
function's whole answer has been read: the round trip Lambda's own bookkeeping would see,
including this stub's HTTP handling (the bare `hello` shows that floor).
"""

from __future__ import annotations

import http
import http.server
import json
import socket
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"
SSM_PARAMETER = json.dumps({"user": "bench", "token": "bench-api-token"})


class Invocation:
    def __init__(self, index: int, event: bytes):
        self.index = index
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.sent_ns: int | None = None
        self.answered_ns: int | None = None
        self.response: bytes | None = None
        self.error: bytes | None = None
        self.done = threading.Event()

    @property
    def ms(self) -> float:
        return (self.answered_ns - self.sent_ns) / 1e6


class Run:
    """What the stub saw of one function process."""

    def __init__(self, events: list[bytes] | None, on_first_poll=None):
        self.invocations = [Invocation(i, e) for i, e in enumerate(events or [])]
        self._by_id = {inv.request_id: inv for inv in self.invocations}
        self._next = 0
        self._lock = threading.Lock()
        self.on_first_poll = on_first_poll
        self.first_poll_ns: int | None = None
        self.polls = 0
        self.first_poll = threading.Event()
        self.second_poll = threading.Event()  # the runtime is idle again after its first invocation
        self.idle = threading.Event()  # every event answered and the runtime polled again
        self.answered = threading.Event()  # the first invocation answered (response or error)
        self.init_error: bytes | None = None
        self.first_poll_info = None  # what on_first_poll returned
        self.ended = threading.Event()  # the process is gone: release held polls

    # The first invocation, for a run that serves one event.
    @property
    def response(self) -> bytes | None:
        return self.invocations[0].response if self.invocations else None

    @property
    def error(self) -> bytes | None:
        return self.invocations[0].error if self.invocations else None

    def take(self) -> Invocation | None:
        with self._lock:
            if self._next >= len(self.invocations):
                return None
            inv = self.invocations[self._next]
            self._next += 1
            return inv

    def all_answered(self) -> bool:
        return all(inv.done.is_set() for inv in self.invocations)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime clients expect
    server: "_Server"

    def setup(self):
        super().setup()
        # Small writes go out at once: no Nagle delay against the client's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None,
               content_type: str = "application/json"):
        # Status line, headers and body in one write.
        head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", f"Content-Type: {content_type}",
                f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def do_GET(self):
        now = time.monotonic_ns()
        run = self.server.stub.current
        if self.path != f"{PREFIX}/invocation/next" or run is None:
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        run.polls += 1
        if run.first_poll_ns is None:
            run.first_poll_ns = now
            if run.on_first_poll:
                run.first_poll_info = run.on_first_poll()
            run.first_poll.set()
        else:
            run.second_poll.set()
        inv = run.take()
        if inv is not None:
            deadline_ms = int(time.time() * 1000) + 30_000
            headers = {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
            }
            inv.sent_ns = time.monotonic_ns()
            self._reply(200, inv.event, headers)
            return
        if run.all_answered():
            run.idle.set()
        # Nothing queued: hold the long poll until the process is killed.
        run.ended.wait(120)
        self.close_connection = True

    def do_POST(self):
        run = self.server.stub.current
        body = self._body()
        now = time.monotonic_ns()
        if self.path == "/" and self.headers.get("X-Amz-Target") == "AmazonSSM.GetParameter":
            name = json.loads(body or b"{}").get("Name", "")
            param = {"Name": name, "Type": "SecureString", "Value": SSM_PARAMETER, "Version": 1, "DataType": "text",
                     "ARN": f"arn:aws:ssm:us-east-1:123456789012:parameter{name}"}
            self._reply(200, json.dumps({"Parameter": param}).encode(), content_type="application/x-amz-json-1.1")
            return
        if run is None:
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        if self.path == f"{PREFIX}/init/error":
            run.init_error = body or b"{}"
            self._reply(202, b'{"status":"OK"}')
            run.answered.set()
            return
        parts = self.path[len(f"{PREFIX}/invocation/"):].split("/") if self.path.startswith(PREFIX) else []
        inv = run._by_id.get(parts[0]) if len(parts) == 2 else None
        if inv is None or parts[1] not in ("response", "error"):
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        inv.answered_ns = now
        if parts[1] == "response":
            inv.response = body
        else:
            inv.error = body or b"{}"
        self._reply(202, b'{"status":"OK"}')
        inv.done.set()
        if inv.index == 0:
            run.answered.set()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, stub: "RuntimeStub"):
        self.stub = stub
        super().__init__(("127.0.0.1", 0), _Handler)


class RuntimeStub:
    """`with RuntimeStub() as stub:` serves on 127.0.0.1:`stub.port` in a background thread."""

    def __init__(self):
        self.current: Run | None = None
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.current:
            self.current.ended.set()
        self._server.shutdown()
        self._server.server_close()

    def arm(self, event: bytes | None = None, on_first_poll=None, events: list[bytes] | None = None) -> Run:
        """Starts a run: the next process to poll gets `event` (if any) once, or each of
        `events` in turn. `on_first_poll()` is called in the handler right after the first poll
        is timed."""
        if self.current:
            self.current.ended.set()
        if events is None:
            events = [event] if event is not None else []
        self.current = Run(events, on_first_poll)
        return self.current

    def disarm(self):
        if self.current:
            self.current.ended.set()
        self.current = None
