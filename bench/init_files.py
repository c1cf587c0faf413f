#!/usr/bin/env python3
"""What a function's init opens and connects to: one start of each function under
`strace -f -e trace=openat,connect` against the Runtime API stub, until its first poll.

    python3 bench/init_files.py --spec FUNCTIONS.json > init_files.json

Counts the TLS root-certificate files opened (under /etc/ssl or a `pki/` directory: /etc/pki or the
bench's provided.al2023 layout; each load of the system roots opens the bundle and every file of
the certificate directory) and the TCP
connections opened besides the one to the stub. Prints `{label: {"cert_files", "connects"}}`,
or `{}` when strace is not installed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_init import lambda_env, load_spec  # noqa: E402
from runtime_stub import RuntimeStub  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", required=True)
    args = ap.parse_args()
    if not shutil.which("strace"):
        print("{}")
        return 0
    out = {}
    with RuntimeStub() as stub, tempfile.TemporaryDirectory() as tmp:
        for f in load_spec(args.spec):
            trace = Path(tmp) / "trace"
            run = stub.arm(None)
            env = lambda_env(stub.address, f.label, {k: v.replace("{stub}", stub.address) for k, v in f.env.items()})
            proc = subprocess.Popen(["strace", "-f", "-e", "trace=openat,connect", "-o", str(trace), *f.cmd],
                                    env=env, cwd=f.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                if not run.first_poll.wait(60):
                    continue
            finally:
                proc.kill()
                proc.wait()
                stub.disarm()
            text = trace.read_text(errors="replace")
            certs = len(re.findall(r'openat\([^"]*"[^"]*(?:/etc/ssl/|pki/)[^"]*"[^)]*\)\s*=\s*\d', text))
            ports = re.findall(r"connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)", text)
            out[f.label] = {"cert_files": certs, "connects": sum(1 for p in ports if int(p) != stub.port)}
    json.dump(out, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
