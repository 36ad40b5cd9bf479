#!/usr/bin/env python3
"""bench/cluster_failover.py — script/bench --cluster: the figures of one failover or
partition run, from what tests/e2e/cluster_load.py reported and what a surviving node
holds afterwards. Appends one JSON line to OUT (read by bench/report.py).

    cluster_failover.py OUT NAME CLIENTS LOAD_JSON START ROWS COMMITS EVENTS

LOAD_JSON  cluster_load.py's report (created, unresolved, attempts, first_failures,
           replayed, max_gap_s, max_gap_at_s, marks, statuses)
START      the wall-clock time (Unix seconds) just before cluster_load.py was started
ROWS       "title<TAB>rows<TAB>smallest id" per key, on a surviving node
COMMITS    "key<TAB>Unix seconds" per key: its idempotency_keys.created_at (taken in
           the transaction of the create), on a surviving node
EVENTS     "name<TAB>Unix seconds" of each kill, isolation or return, as done

Per event, from the commit times: the last create committed before it, the first
after it, and the first after it of a client whose previous create had been cut by it
(not measurable from commits alone: the client's view is cluster_load.py's gap).
"""
import json
import sys


def read_tsv(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n").split("\t") for l in f if l.strip()]


def main():
    out, name, clients, load_json, start, rows, commits, events = sys.argv[1:9]
    start = float(start)
    r = json.load(open(load_json, encoding="utf-8"))
    creates = len(r["created"]) + len(r["unresolved"])
    per_key = {t: (int(n), int(i)) for t, n, i in read_tsv(rows)}
    duplicates = sum(n - 1 for n, _ in per_key.values() if n > 1)
    # Acknowledged creates whose row is not there, or is another row than the answer said.
    lost = sum(1 for k, tid in r["created"].items() if per_key.get(k, (0, 0))[1] != tid)
    times = sorted(float(t) - start for _, t in read_tsv(commits))
    ev = []
    for ename, t in read_tsv(events):
        at = float(t) - start
        before = [x for x in times if x < at]
        after = [x for x in times if x >= at]
        ev.append({"event": ename, "at_s": round(at, 2),
                   "last_commit_before_s": round(at - before[-1], 3) if before else None,
                   "first_commit_after_s": round(after[0] - at, 3) if after else None})
    line = {
        "name": name, "clients": int(clients), "creates": creates, "attempts": r["attempts"],
        "first_failures": r["first_failures"],
        "first_failure_share": r["first_failures"] / creates if creates else 0.0,
        "replayed": r["replayed"], "max_gap_s": r["max_gap_s"], "max_gap_at_s": r["max_gap_at_s"],
        "duration_s": r.get("duration_s"), "marks": r.get("marks", {}), "statuses": r.get("statuses", {}),
        "unresolved": len(r["unresolved"]), "rows": sum(n for n, _ in per_key.values()),
        "duplicates": duplicates, "lost": lost, "events": ev,
    }
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")
    print("%s, %d clients: %d creates, %d attempts, first attempts failed %d (%.1f %%), replayed %d, "
          "longest gap %.2f s at %.1f s, duplicates %d, lost %d, unresolved %d; marks %s; statuses %s"
          % (name, line["clients"], creates, r["attempts"], r["first_failures"], 100 * line["first_failure_share"],
             r["replayed"], r["max_gap_s"], r["max_gap_at_s"], duplicates, lost, line["unresolved"],
             line["marks"], line["statuses"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
