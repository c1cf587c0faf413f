#!/usr/bin/env python3
"""Runs a command and records how busy the machine was meanwhile.

    python3 bench/contention.py --out FILE.json -- CMD [ARG ...]

Writes `{"wall_s", "cpu_own_fraction", "cpu_other_fraction"}` to FILE.json: the share of all
cores used by CMD (with its children) and by every other process while it ran. Exits with
CMD's status. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cold_init import cpu_seconds  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    before, t0 = cpu_seconds(), time.monotonic()
    rc = subprocess.run(cmd).returncode
    after, wall = cpu_seconds(), time.monotonic() - t0
    capacity = wall * (os.cpu_count() or 1)
    busy, own = after[0] - before[0], after[1] - before[1]
    Path(args.out).write_text(json.dumps({
        "wall_s": round(wall, 1),
        "cpu_own_fraction": round(min(1.0, own / capacity), 3),
        "cpu_other_fraction": round(max(0.0, busy - own) / capacity, 3),
    }))
    return rc


if __name__ == "__main__":
    sys.exit(main())
