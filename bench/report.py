#!/usr/bin/env python3
"""bench/report.py — script/bench's tables: read the results folder script/bench wrote,
print Markdown tables, and with --docs FILE replace the marked sections of
docs/benchmarks.md that this run measured:

    <!-- bench:cases:begin --> ... <!-- bench:cases:end -->
    <!-- bench:callgrind:begin --> ... <!-- bench:callgrind:end -->
    <!-- bench:soak:begin --> ... <!-- bench:soak:end -->
    <!-- bench:scale:begin --> ... <!-- bench:scale:end -->

    report.py RESULTS_DIR [--docs FILE]

Result files (tab-separated, written by script/bench):
  meta.tsv                      key, value
  cases.tsv, scale_*.tsv        key label conns requests duration_us socket_errors
                                timeouts non2xx p50_us p99_us max_us rss statements rows_read
                                nginx_errors
  callgrind.tsv                 key label requests instructions
  soak.tsv                      requests, "MiB MiB ..." per worker, requests, "MiB ...",
                                socket errors, seconds
"""
import os
import re
import sys

# Issue 5's targets: (case key, share of the textbook ceiling at 64 connections).
RATIO_TARGETS = [("list", 0.60), ("get", 0.70), ("healthz", 1.20), ("post", 0.50), ("patch", 0.50)]
SQL_TARGETS = {"post": 1, "patch": 2}
CEILINGS = [("nginx", "nginx"), ("fcgi_keep", "textbook keep_conn"), ("fcgi_new", "textbook new conn")]
PRIMARY = "fcgi_keep"  # the ceiling the targets are judged against
APP_KEYS = ("healthz", "list", "get", "post", "patch")


class Run:
    def __init__(self, f):
        f = (f + [""] * 15)[:15]
        (self.key, self.label, conns, req, dur, self.errors, self.timeouts, self.non2xx, p50, p99,
         mx, self.rss, q, rows, self.notes) = f
        self.conns, self.requests, self.duration = int(conns), int(req), int(dur)
        self.errors, self.timeouts, self.non2xx = int(self.errors), int(self.timeouts), int(self.non2xx)
        self.p50, self.p99, self.max = int(p50) / 1000, int(p99) / 1000, int(mx) / 1000
        self.questions, self.rows = int(q), int(rows)
        # Answers below 400 per second: a fast 502 is not throughput.
        self.rps = (self.requests - self.non2xx) / (self.duration / 1e6) if self.duration else 0.0

    def per_request(self, n):
        return n / self.requests if self.requests else 0.0

    def worker_rss(self):
        """The per-worker peaks in MiB from "sum (a / b)", or []."""
        m = re.search(r"\(([^)]*)\)", self.rss)
        return [float(x) for x in m.group(1).split("/")] if m else []


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]


def table(head, rows, align=None):
    align = align or ["l"] + ["r"] * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    out = ["| " + " | ".join(head) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def pct(a, b):
    return "%.0f %%" % (100 * a / b) if b else "-"


def ms(x):
    return "%.2f" % x


def environment(meta, with_load=True):
    keys = [("command", "command"), ("started", "date"), ("commit", "commit"), ("seconds", "whole run, s"),
            ("machine", "machine"), ("loadavg", "load average at start"), ("versions", "versions"),
            ("build", "taskapi build"), ("taskapi", "taskapi"), ("master_rss", "taskapi master peak RSS"),
            ("mariadb", "MariaDB"), ("nginx", "nginx"), ("textbook", "textbook responder")]
    if with_load:
        keys.append(("load", "load"))
    rows = [(name, meta[k].replace("|", "\\|")) for k, name in keys if k in meta]
    return table(["setting", "value"], rows, ["l", "l"])


def notes(runs):
    """What nginx logged as errors, per run that logged any."""
    lines = ["- %s, %d conns: %s" % (r.label, r.conns, r.notes) for r in runs if r.notes]
    return (["nginx's error log during the runs:", ""] + lines + [""]) if lines else []


def cases_section(meta, runs):
    ceil = {(r.key, r.conns): r for r in runs if r.key in dict(CEILINGS)}
    head = ["case", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors", "SQL/req",
            "peak RSS MiB: sum (per worker)"] + ["vs " + name for _, name in CEILINGS]
    rows = []
    for r in runs:
        sql = "-" if r.key in dict(CEILINGS) else "%.2f" % r.per_request(r.questions)
        ratios = [pct(r.rps, ceil[(k, r.conns)].rps) if (k, r.conns) in ceil else "-" for k, _ in CEILINGS]
        rows.append([r.label.replace("|", "\\|"), r.conns, "%.0f" % r.rps, ms(r.p50), ms(r.p99), r.non2xx,
                     r.errors, sql, r.rss] + ratios)
    out = [table(head, rows), ""] + notes(runs)

    # Issue 5's targets, judged in this run.
    by = {(r.key, r.conns): r for r in runs}
    trows = []
    for key, share in RATIO_TARGETS:
        r, c = by.get((key, 64)), ceil.get((PRIMARY, 64))
        if r and c:
            new = ceil.get(("fcgi_new", 64))
            ok = r.rps >= share * c.rps
            trows.append(["%s, 64 conns: >= %.0f %% of textbook keep_conn" % (r.label, 100 * share),
                          "%s (%s of textbook new conn)" % (pct(r.rps, c.rps), pct(r.rps, new.rps) if new else "-"),
                          "yes" if ok else "**no**"])
    for key, most in SQL_TARGETS.items():
        r = by.get((key, 64))
        if r:
            q = r.per_request(r.questions)
            trows.append(["%s: at most %d SQL statement(s) per request" % (r.label, most), "%.2f" % q,
                          "yes" if q <= most + 0.01 else "**no**"])
    for r in runs:
        if r.conns == 256 and r.key in APP_KEYS:
            ok = r.errors == 0 and r.non2xx == 0 and r.p99 <= 5 * r.p50
            trows.append(["%s, 256 conns: no errors, p99 <= 5 x p50" % r.label,
                          "%d errors, %d non-2xx, p99/p50 %.1f" % (r.errors, r.non2xx, r.p99 / r.p50 if r.p50 else 0),
                          "yes" if ok else "**no**"])
    peaks = [x for r in runs if r.key in APP_KEYS for x in r.worker_rss()]
    if peaks:
        trows.append(["peak RSS per worker process <= 8 MiB", "%.1f MiB (largest)" % max(peaks),
                      "yes" if max(peaks) <= 8 else "**no**"])
    if trows:
        out += ["Issue 5 targets in this run (the ceiling is the textbook responder with "
                "fastcgi_keep_conn, as taskapi is deployed):", "",
                table(["target", "this run", "met"], trows, ["l", "r", "l"]), ""]
    return "\n".join(out)


def callgrind_section(meta, rows, results):
    out = [table(["request", "requests counted", "instructions (Ir)", "Ir per request"],
                 [[label, int(n), "{:,}".format(int(ir)), "{:,}".format(round(int(ir) / int(n)))]
                  for _, label, n, ir in rows]), ""]
    for key, label, _, _ in rows[:1]:
        txt = os.path.join(os.path.dirname(results), "callgrind", key + ".txt")
        if os.path.exists(txt):
            with open(txt, encoding="utf-8", errors="replace") as f:
                lines = [l.rstrip() for l in f]
            # callgrind_annotate's function list: "Ir (pct) file:function" lines, less the
            # total and the thread-start frames that were active when the counters were
            # zeroed (callgrind books the whole count to them).
            funcs = []
            for l in lines:
                m = re.match(r"^\s*[\d,]+ \(\s*([\d.]+)%\)\s+\S", l)
                if m and float(m.group(1)) < 99 and "PROGRAM TOTALS" not in l:
                    funcs.append(l)
            funcs = funcs[:15]
            if funcs:
                out += ["<details><summary>%s: the 15 functions with the most instructions of their own "
                        "(callgrind_annotate --inclusive=no)</summary>" % label, "", "```"] + funcs + ["```", "",
                                                                                                  "</details>", ""]
    return "\n".join(out)


def scale_section(meta, conns, depth):
    out = []
    if conns:
        out += ["Connections (GET /tasks/?limit=10&skip=0..999, 10,000 tasks):", "",
                table(["conns", "req/s", "p50 ms", "p99 ms", "p99 / p50", "max ms", "socket errors", "non-2xx"],
                      [[r.conns, "%.0f" % r.rps, ms(r.p50), ms(r.p99), "%.1f" % (r.p99 / r.p50 if r.p50 else 0),
                        ms(r.max), r.errors, r.non2xx] for r in conns]), ""] + notes(conns)
    if depth:
        by = {r.key: r for r in depth}
        rows = []
        for d in sorted({int(k.split("=")[1]) for k in by}):
            row = ["{:,}".format(d)]
            for kind in ("skip", "after_id"):
                r = by.get("%s=%d" % (kind, d))
                row += ["%.0f" % r.rps, ms(r.p50), ms(r.p99), "{:,.0f}".format(r.per_request(r.rows))] if r else ["-"] * 4
            rows.append(row)
        out += ["Paging depth on 1,000,000 tasks, %d connections, `limit=10`: `skip=N` against "
                "`after_id=N` (keyset). Rows read: MariaDB's `Handler_read_*` counters per request:"
                % depth[0].conns, "",
                table(["N", "skip req/s", "skip p50 ms", "skip p99 ms", "skip rows read",
                       "after_id req/s", "after_id p50 ms", "after_id p99 ms", "after_id rows read"], rows), ""] + notes(depth)
    return "\n".join(out)


def soak_section(rows):
    out = []
    for first_at, first, last_at, last, errors, secs in rows:
        a, b = [float(x) for x in first.split()], [float(x) for x in last.split()]
        trows = []
        for i, (x, y) in enumerate(zip(a, b)):
            growth = 100 * (y - x) / x if x else 0
            trows.append(["worker %d" % (i + 1), "%.2f" % x, "%.2f" % y, "%+.1f %%" % growth,
                          "yes" if growth <= 5 and y <= 8 else "**no**"])
        out += ["A mix of routes (60 %% list, 20 %% get, 10 %% POST, 10 %% PATCH) at 64 connections for "
                "%s s, %s socket errors. Current RSS (VmRSS) of each worker process:" % (secs, errors), "",
                table(["process", "MiB after {:,} requests".format(int(first_at)),
                       "MiB after {:,} requests".format(int(last_at)), "growth",
                       "flat (<= 5 %) and <= 8 MiB"], trows), ""]
    return "\n".join(out)


def replace_section(text, name, body):
    begin, end = "<!-- bench:%s:begin -->" % name, "<!-- bench:%s:end -->" % name
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        sys.exit("report.py: docs file lacks %s ... %s" % (begin, end))
    return text[:i + len(begin)] + "\n" + body.rstrip() + "\n" + text[j:]


def main():
    args = sys.argv[1:]
    docs = None
    if "--docs" in args:
        i = args.index("--docs")
        docs = args[i + 1]
        del args[i:i + 2]
    results = args[0]
    meta = dict((r + [""])[:2] for r in read_tsv(os.path.join(results, "meta.tsv")))
    cases = [Run(f) for f in read_tsv(os.path.join(results, "cases.tsv"))]
    cg = read_tsv(os.path.join(results, "callgrind.tsv"))
    sconns = [Run(f) for f in read_tsv(os.path.join(results, "scale_conns.tsv"))]
    sdepth = [Run(f) for f in read_tsv(os.path.join(results, "scale_depth.tsv"))]
    stamp = "`%s`, %s, commit %s, %s s in all." % (meta.get("command", "script/bench"), meta.get("started", "?"),
                                                  meta.get("commit", "?"), meta.get("seconds", "?"))

    sections = {}
    if cases:
        sections["cases"] = "\n".join(["Measured by " + stamp, "", cases_section(meta, cases), environment(meta)])
    if cg:
        sections["callgrind"] = "\n".join(["Measured by " + stamp, "", callgrind_section(meta, cg, results),
                                           "How: " + meta.get("callgrind", "")])
    soak = read_tsv(os.path.join(results, "soak.tsv"))
    if soak:
        sections["soak"] = "\n".join(["Measured by " + stamp, "", soak_section(soak)])
    if sconns or sdepth:
        sections["scale"] = "\n".join(["Measured by " + stamp, "", scale_section(meta, sconns, sdepth),
                                       environment(meta)])
    titles = {"cases": "Cases and ceilings", "callgrind": "Instructions per request",
              "soak": "Memory over a million requests", "scale": "Scale shape"}
    for name in ("cases", "callgrind", "soak", "scale"):
        if name in sections:
            print("\n## %s\n\n%s" % (titles[name], sections[name]))
    if docs:
        with open(docs, encoding="utf-8") as f:
            text = f.read()
        for name, body in sections.items():
            text = replace_section(text, name, body)
        with open(docs, "w", encoding="utf-8") as f:
            f.write(text)
        print("\n(written into %s)" % docs, file=sys.stderr)


if __name__ == "__main__":
    main()
