#!/usr/bin/env python3
"""The criterion results of one `cargo bench` run, as JSON for report.py.

    python3 bench/criterion_results.py --since MARKER_FILE target/criterion > criterion.json

Reads every `<group>/<bench>/new/{benchmark,estimates}.json` under the criterion directory that
was written after MARKER_FILE (so benches of earlier runs, renamed or removed since, are left
out) and prints `[{"group", "name", "median_ns", "low_ns", "high_ns", "mean_ns", "throughput"}]`:
the median with its 95% confidence interval. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--since", required=True, help="a file touched just before the run")
    ap.add_argument("root", help="the criterion output directory (target/criterion)")
    args = ap.parse_args()
    since = Path(args.since).stat().st_mtime
    rows = []
    for meta_path in sorted(Path(args.root).glob("*/*/new/benchmark.json")):
        estimates_path = meta_path.with_name("estimates.json")
        if not estimates_path.exists() or estimates_path.stat().st_mtime < since:
            continue
        meta = json.loads(meta_path.read_text())
        est = json.loads(estimates_path.read_text())
        median = est["median"]
        rows.append({
            "group": meta["group_id"],
            "name": meta.get("function_id") or meta.get("value_str") or meta["full_id"],
            "median_ns": median["point_estimate"],
            "low_ns": median["confidence_interval"]["lower_bound"],
            "high_ns": median["confidence_interval"]["upper_bound"],
            "mean_ns": est["mean"]["point_estimate"],
            "throughput": meta.get("throughput"),
        })
    if not rows:
        print(f"no criterion results newer than {args.since} under {args.root}", file=sys.stderr)
        return 1
    json.dump(rows, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
