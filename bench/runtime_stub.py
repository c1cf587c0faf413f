"""A stub of the AWS Lambda Runtime API (2018-06-01), enough to start a custom-runtime function,
time its init and serve it one invocation. Standard library only.

- GET  /2018-06-01/runtime/invocation/next        records the monotonic time of the first poll;
  answers the armed event (once) with the Lambda-Runtime-* headers, otherwise holds the poll
  open until the run ends (as Lambda does while no event is queued).
- POST /2018-06-01/runtime/invocation/{id}/response  the function's answer: 202.
- POST /2018-06-01/runtime/invocation/{id}/error     a handler error: 202.
- POST /2018-06-01/runtime/init/error                an init error: 202.

One function process at a time: `arm()` before spawning it, `disarm()` after killing it.
"""

from __future__ import annotations

import http.server
import threading
import time
import uuid

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:bench"


class Run:
    """What the stub saw of one function process."""

    def __init__(self, event: bytes | None, on_first_poll=None):
        self.event = event
        self.on_first_poll = on_first_poll
        self.request_id = str(uuid.uuid4())
        self.first_poll_ns: int | None = None
        self.polls = 0
        self.first_poll = threading.Event()
        self.second_poll = threading.Event()  # the runtime is idle again after the invocation
        self.answered = threading.Event()  # a response or an error arrived
        self.response: bytes | None = None
        self.error: bytes | None = None
        self.init_error: bytes | None = None
        self.first_poll_info = None  # what on_first_poll returned
        self.ended = threading.Event()  # the process is gone: release held polls
        self.event_sent = False


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime client expects
    server: "_Server"

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

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
        if run.event is not None and not run.event_sent:
            run.event_sent = True
            deadline_ms = int(time.time() * 1000) + 30_000
            self._reply(
                200,
                run.event,
                {
                    "Lambda-Runtime-Aws-Request-Id": run.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                },
            )
            return
        # Nothing queued: hold the long poll until the process is killed.
        run.ended.wait(60)
        self.close_connection = True

    def do_POST(self):
        run = self.server.stub.current
        body = self._body()
        if run is None:
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        if self.path == f"{PREFIX}/invocation/{run.request_id}/response":
            run.response = body
        elif self.path == f"{PREFIX}/invocation/{run.request_id}/error":
            run.error = body or b"{}"
        elif self.path == f"{PREFIX}/init/error":
            run.init_error = body or b"{}"
        else:
            self._reply(404, b'{"errorType":"NotFound"}')
            return
        self._reply(202, b'{"status":"OK"}')
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

    def arm(self, event: bytes | None = None, on_first_poll=None) -> Run:
        """Starts a run: the next process to poll gets `event` (if any) once.
        `on_first_poll()` is called in the handler right after the first poll is timed."""
        if self.current:
            self.current.ended.set()
        self.current = Run(event, on_first_poll)
        return self.current

    def disarm(self):
        if self.current:
            self.current.ended.set()
        self.current = None

