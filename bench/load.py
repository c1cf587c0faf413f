#!/usr/bin/env python3
"""`make load`: a bounded load test of the local stack (moto + the real API + the lifecycle
workflows, started by tests/stack/dev.sh on free ports). N clients for M seconds over a mix of
reads, creates, patches and change requests; then an audit: every acknowledged write reads back,
every change request ends, no tenant is left claimed, and the fleet counters equal a recount.

    python3 bench/load.py [--clients 8] [--seconds 30] [--out bench/LOAD.md]

Standard library only. Prints the report and writes it to --out.
"""
import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("content-type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            status, raw = 599, str(e).encode()
        elapsed = time.perf_counter() - started
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return status, payload, elapsed

    def all(self, path):
        items, token = [], None
        while True:
            sep = "&" if "?" in path else "?"
            p = path + (f"{sep}limit=500" + (f"&next_token={token}" if token else ""))
            status, page, _ = self.call("GET", p)
            assert status == 200, (p, status, page)
            items += page["items"]
            token = page.get("next_token")
            if not token:
                return items


class Client(threading.Thread):
    """One client: a loop of weighted operations until the deadline."""

    def __init__(self, api, n, deadline, customer, seeded, results, acked, lock):
        super().__init__(daemon=True)
        self.api, self.n, self.deadline, self.customer, self.seeded = api, n, deadline, customer, seeded
        self.results, self.acked, self.lock = results, acked, lock
        self.rng = random.Random(n)
        self.seq = 0

    def record(self, op, status, elapsed):
        with self.lock:
            self.results.append((op, status, elapsed))

    def run(self):
        while time.monotonic() < self.deadline:
            op = self.rng.choices(["read", "list", "create", "patch", "change"], [40, 15, 10, 15, 20])[0]
            getattr(self, op)()

    def tenants(self):
        # The demo fleet, and the tenants made here (still provisioning for most of a short run).
        with self.lock:
            return self.seeded + list(self.acked["tenants"].keys())

    def read(self):
        ids = self.tenants()
        path = f"/v1/tenants/{self.rng.choice(ids)}" if ids else "/v1/fleet/summary"
        status, _, t = self.api.call("GET", path)
        self.record("read", status, t)

    def list(self):
        status, _, t = self.api.call("GET", "/v1/tenants?limit=50")
        self.record("list", status, t)

    def create(self):
        self.seq += 1
        name = f"load-{self.n}-{self.seq}-{self.rng.randrange(10**6)}"
        body = {"customer_id": self.customer, "name": name, "release": "3.1.0"}
        status, t_body, t = self.api.call("POST", "/v1/tenants", body, {"idempotency-key": name})
        self.record("create", status, t)
        if status == 201:
            with self.lock:
                self.acked["tenants"][t_body["id"]] = {"name": name}
                # Its provision is a change request like any other: the audit waits for it.
                self.acked["changes"].append(t_body["active_change_request_id"])

    def patch(self):
        ids = self.tenants()
        if not ids:
            return self.read()
        tid = self.rng.choice(ids)
        text = f"patched by client {self.n} at {time.time():.6f}"
        status, body, t = self.api.call("PATCH", f"/v1/tenants/{tid}", {"description": text})
        self.record("patch", status, t)
        if status == 200:
            with self.lock:
                self.acked["patches"].append((tid, int(body["revision"]), text))

    # What each resting state can be asked, among the operations that need no approval.
    ALLOWED = {
        "Healthy": ["validate", "enter_maintenance", "backup", "rotate_webapp_password", "suspend"],
        "Maintenance": ["exit_maintenance", "backup"],
        "Suspended": ["resume"],
        "Broken": ["validate"],
    }

    def change(self):
        ids = self.tenants()
        if not ids:
            return self.read()
        tid = self.rng.choice(ids)
        status, t_body, t = self.api.call("GET", f"/v1/tenants/{tid}")
        self.record("read", status, t)
        ops = self.ALLOWED.get(t_body.get("state"), []) if status == 200 and not t_body.get("active_change_request_id") else []
        op = self.rng.choice(ops) if ops else "validate"
        status, body, t = self.api.call("POST", f"/v1/tenants/{tid}/change-requests", {"operation": op})
        self.record("change", status, t)
        if status == 202:
            with self.lock:
                self.acked["changes"].append(body["id"])


def pct(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=int(os.environ.get("CLIENTS", 8)))
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("SECONDS_", os.environ.get("DURATION", 30))))
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "LOAD.md"))
    args = ap.parse_args()

    port = free_port()
    env = dict(os.environ, PORT=str(port))
    log = open(os.path.join(REPO, ".dev", "load-stack.log"), "w") if os.path.isdir(os.path.join(REPO, ".dev")) else subprocess.DEVNULL
    print(f"load: starting the local stack on 127.0.0.1:{port} (tests/stack/dev.sh)", file=sys.stderr)
    stack = subprocess.Popen(["bash", "tests/stack/dev.sh"], cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(900):
            try:
                with urllib.request.urlopen(base + "/v1/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if stack.poll() is not None:
                sys.exit("load: the local stack exited; see .dev/load-stack.log")
            time.sleep(1)
        token = subprocess.run(
            ["target/debug/devstack", "token", "--role", "admin", "--sub", "load"], cwd=REPO, env=env,
            capture_output=True, text=True, check=True).stdout.strip()
        api = Api(base, token)
        # The seed may still be writing: wait for its customers.
        for _ in range(120):
            status, page, _ = api.call("GET", "/v1/customers?limit=1")
            if status == 200 and page["items"]:
                break
            time.sleep(1)
        customer = page["items"][0]["id"]
        # The seed's tenants, once it has settled them all (no tenant held by a change request).
        for _ in range(120):
            fleet = api.all("/v1/tenants")
            if len(fleet) >= 20 and not any(t.get("active_change_request_id") for t in fleet):
                break
            time.sleep(1)
        seeded = [t["id"] for t in fleet]
        results, lock = [], threading.Lock()
        acked = {"tenants": {}, "patches": [], "changes": []}
        deadline = time.monotonic() + args.seconds
        started = time.monotonic()
        clients = [Client(api, n, deadline, customer, seeded, results, acked, lock) for n in range(args.clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        wall = time.monotonic() - started

        # The audit: wait for every change request to end, then read everything back.
        audit = []
        for _ in range(240):
            running = [c for c in acked["changes"] if api.call("GET", f"/v1/change-requests/{c}")[1]["status"] in ("running", "pending")]
            # (the audit's own reads are not counted in the report)
            if not running:
                break
            time.sleep(1)
        audit.append(("every acknowledged change request ended", not running, f"{len(running)} still running"))
        missing = [t for t in acked["tenants"] if api.call("GET", f"/v1/tenants/{t}")[0] != 200]
        audit.append(("every acknowledged tenant reads back", not missing, f"{len(missing)} missing"))
        latest = {}
        for tid, rev, text in acked["patches"]:
            if rev >= latest.get(tid, (0, ""))[0]:
                latest[tid] = (rev, text)
        lost = []
        for tid, (rev, text) in latest.items():
            _, t, _ = api.call("GET", f"/v1/tenants/{tid}")
            # A later write (a workflow's) may follow the patch; the patch's text stays.
            if int(t["revision"]) < rev or t.get("description") != text:
                lost.append(tid)
        audit.append(("every acknowledged patch reads back (newest per tenant)", not lost, f"{len(lost)} lost"))
        tenants = api.all("/v1/tenants")
        claimed = [t["id"] for t in tenants if t.get("active_change_request_id")]
        audit.append(("no tenant is left claimed", not claimed, f"{len(claimed)} claimed"))
        status, summary, _ = api.call("GET", "/v1/fleet/summary")
        recount = {}
        for t in tenants:
            recount[t["state"]] = recount.get(t["state"], 0) + 1
        counted = {k: v for k, v in summary["by_state"].items() if v}
        audit.append(("the fleet counters equal a recount", counted == recount and summary["total"] == len(tenants),
                      f"counters {counted} vs recount {recount}"))
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)

    lat = [e for _, _, e in results]
    five = [r for r in results if r[1] >= 500]
    by_op = {}
    for op, status, e in results:
        by_op.setdefault(op, []).append((status, e))
    lines = [
        "# make load",
        "",
        f"{args.clients} clients for {args.seconds} s against the local stack (moto, the debug build of the API, "
        f"the lifecycle workflows running in moto); {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| | |",
        "|---|---|",
        f"| requests | {len(results)} in {wall:.1f} s |",
        f"| requests/s | {len(results) / wall:.1f} |",
        f"| p50 / p99 | {pct(lat, 50) * 1000:.1f} ms / {pct(lat, 99) * 1000:.1f} ms |",
        f"| 5xx | {len(five)} |",
        "",
        "| operation | requests | answers | p50 | p99 |",
        "|---|---|---|---|---|",
    ]
    for op, rs in sorted(by_op.items()):
        answers = {}
        for s_, _ in rs:
            answers[s_] = answers.get(s_, 0) + 1
        es = [e for _, e in rs]
        lines.append(f"| {op} | {len(rs)} | {', '.join(f'{k}: {v}' for k, v in sorted(answers.items()))} | "
                     f"{pct(es, 50) * 1000:.1f} ms | {pct(es, 99) * 1000:.1f} ms |")
    lines += ["", "| audit | result |", "|---|---|"]
    for what, ok, detail in audit:
        lines.append(f"| {what} | {'yes' if ok else 'NO: ' + detail} |")
    report = "\n".join(lines) + "\n"
    print(report)
    with open(args.out, "w") as f:
        f.write(report)
    failed = [a for a in audit if not a[1]]
    sys.exit(1 if failed or five else 0)


if __name__ == "__main__":
    main()
