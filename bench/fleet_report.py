#!/usr/bin/env python3
"""Render bench/FLEET.json (``route-costs fleet``) as the Markdown table of bench/FLEET.md, with
each target of the fleet issue met or missed: summary and list page flat in the fleet size, no
failed transition among the concurrent ones (and the summary exact after them), the plan and the
fan-out linear in the tenants they touch and not in the fleet.

Usage: python3 bench/fleet_report.py bench/FLEET.json > bench/FLEET.md
Standard library only.
"""

from __future__ import annotations

import json
import sys

MEASURES = [
    ("summary", "`GET /v1/fleet/summary`"),
    ("list_page", "a list page: `state`, `release`, `customer_id`, 50 a page"),
    ("list_page_state_only", "a list page: `state` only, 50 a page"),
    ("plan", "dry-run plan over {select} tenants"),
    ("fan_out", "rollout fan-out: {select} change requests"),
    ("transitions", "{concurrent} concurrent transitions"),
]


def cost(row: dict, key: str) -> dict:
    return row[key]["cost"]


def ops(c: dict) -> str:
    return ", ".join(f"{op} {n}" for op, n in sorted(c["by_operation"].items())) or "none"


def flat(rows: list[dict], key: str, field: str) -> bool:
    """The same figure at every size (requests and units do not grow with the fleet)."""
    values = {cost(r, key)[field] for r in rows}
    return len(values) == 1


def main(path: str) -> int:
    doc = json.load(open(path))
    rows = doc["sizes"]
    select, concurrent = doc["select"], doc["concurrent"]
    out = []
    out.append("# A 10,000-tenant fleet on moto\n")
    out.append(
        "`bash bench/fleet.sh` (`route-costs fleet`, `bench/route-costs/src/fleet.rs`): the fleet is "
        "seeded in batches (`BatchWriteItem`, not counted) to each size; at each size the API's router "
        "over the real DynamoDB adapter on moto is called in-process. DynamoDB requests are counted on "
        "the wire (an SDK interceptor), capacity units estimated from the items on the wire by "
        "DynamoDB's billing rules (moto's `ConsumedCapacity` is a constant); Step Functions is the "
        "in-memory fake, whose executions are counted, not run. Seconds are moto's on a shared 2-core "
        "machine: moto evaluates every index query by walking the whole table, so its time grows with "
        "the fleet where DynamoDB's would not; the requests and units are what DynamoDB would bill.\n"
    )
    header = "| measure | " + " | ".join(f"{r['tenants']:,} tenants" for r in rows) + " |"
    out.append(header)
    out.append("|---" * (len(rows) + 1) + "|")
    for key, label in MEASURES:
        label = label.format(select=f"{select:,}", concurrent=concurrent)
        for field, name in [("dynamodb_requests", "requests"), ("rcu", "RCU"), ("wcu", "WCU"), ("seconds", "s")]:
            cells = " | ".join(f"{cost(r, key)[field]:,}" for r in rows)
            out.append(f"| {label}: {name} | {cells} |")
        if key == "fan_out":
            cells = " | ".join(f"{cost(r, key)['step_functions_executions']:,}" for r in rows)
            out.append(f"| {label}: Step Functions executions | {cells} |")
            cells = " | ".join(str(r[key]["driver_turns"]) for r in rows)
            out.append(f"| {label}: driver turns after the POST | {cells} |")
    cells = " | ".join(str(r["transitions"]["failed"]) for r in rows)
    out.append(f"| {concurrent} concurrent transitions: failed | {cells} |")
    cells = " | ".join("yes" if r["summary"]["exact"] and r["transitions"]["summary_exact_after"] else "NO" for r in rows)
    out.append(f"| summary exact before and after them | {cells} |")
    cells = " | ".join(f"{r['seed_seconds']:,}" for r in rows)
    out.append(f"| seeding to this size (s, not counted) | {cells} |")
    out.append("")
    out.append("Operations sent, at the largest size:\n")
    last = rows[-1]
    for key, label in MEASURES:
        label = label.format(select=f"{select:,}", concurrent=concurrent)
        out.append(f"- {label}: {ops(cost(last, key))}")
    out.append("")

    out.append("## Targets\n")
    verdicts = []
    ok = flat(rows, "summary", "dynamodb_requests") and flat(rows[-2:], "summary", "rcu")
    verdicts.append(ok)
    out.append("- The summary is flat in the fleet size (the same requests at every size; its units are those of "
               "the counter items, at most 16 shards of each state and release, which the first sizes have not all "
               f"written yet, and the same at the two largest): {'met' if ok else 'MISSED'}.")
    for key, name in [("list_page", "filtered list page"), ("list_page_state_only", "list page by state")]:
        ok = flat(rows, key, "dynamodb_requests") and flat(rows, key, "rcu")
        verdicts.append(ok)
        out.append(f"- The {name} is flat in the fleet size (requests and units the same at every size): "
                   f"{'met' if ok else 'MISSED'}.")
    for key, name in [("plan", "plan"), ("fan_out", "fan-out")]:
        ok = flat(rows, key, "dynamodb_requests")
        verdicts.append(ok)
        first = cost(rows[0], key)["dynamodb_requests"]
        out.append(f"- The {name} costs what its {select:,} tenants cost, not the fleet (requests the same at "
                   f"every size, {first:,}: {first / select:.3g} a tenant): {'met' if ok else 'MISSED'}.")
    ok = all(r["transitions"]["failed"] == 0 and r["transitions"]["summary_exact_after"] for r in rows)
    verdicts.append(ok)
    out.append(f"- 0 conflicts among the {concurrent} concurrent transitions, and the summary exact after them: "
               f"{'met' if ok else 'MISSED'}. moto serializes every request, so a `TransactionConflict` cannot "
               "happen here: what this shows is that no transition failed or was lost and the counters add up. "
               "On DynamoDB the transitions of unrelated tenants share no item but a counter shard (16 of each "
               "counter, one picked at random per transaction).")
    print("\n".join(out))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
