# shellcheck shell=bash
# shellcheck disable=SC2034 # ADMIN_* are read by the tests sourcing this
# tests/e2e/lib-admin.sh — helpers for the observability tests (95-99): ask taskapi's
# admin socket for /metrics and /status without nginx, read single values out of a
# Prometheus scrape, and check the text format strictly. Source after lib.sh.

# admin_get SOCKET PATH [METHOD] — one FastCGI request to SOCKET with cgi-fcgi (at
# most 5 s). Sets ADMIN_STATUS (000 when there was no answer), ADMIN_MS (how long it
# took) and the files ADMIN_HEAD and ADMIN_BODY.
admin_get() {
  local sock=$1 uri=$2 method=${3:-GET} raw=$E2E_TMP/admin.raw start query=''
  if [[ $uri == *\?* ]]; then query=${uri#*\?}; fi
  ADMIN_HEAD=$E2E_TMP/admin.head
  ADMIN_BODY=$E2E_TMP/admin.body
  start=$(date +%s%N)
  env -i REQUEST_METHOD="$method" REQUEST_URI="$uri" QUERY_STRING="$query" \
    timeout 5 cgi-fcgi -bind -connect "$sock" >"$raw" 2>/dev/null || true
  ADMIN_MS=$((($(date +%s%N) - start) / 1000000))
  python3 - "$raw" "$ADMIN_HEAD" "$ADMIN_BODY" <<'PY'
import sys
raw = open(sys.argv[1], "rb").read()
head, sep, body = raw.partition(b"\r\n\r\n")
if not sep:
    head, body = b"", b""
open(sys.argv[2], "wb").write(head)
open(sys.argv[3], "wb").write(body)
PY
  ADMIN_STATUS=$(sed -n 's/^Status: \([0-9][0-9][0-9]\).*/\1/p' "$ADMIN_HEAD" | head -n 1)
  ADMIN_STATUS=${ADMIN_STATUS:-000}
}

# admin_scrape SOCKET FILE — GET /metrics into FILE (empty when it failed).
admin_scrape() {
  admin_get "$1" /metrics
  if [ "$ADMIN_STATUS" = 200 ]; then cp "$ADMIN_BODY" "$2"; else : >"$2"; fi
}

# prom FILE SERIES — the value of SERIES (name{labels} exactly as rendered, or a bare
# name) in scrape FILE, 0 when absent. Prints an integer when the value is one.
prom() {
  python3 - "$1" "$2" <<'PY'
import sys
want = sys.argv[2]
value = 0
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("#"):
        continue
    series, _, v = line.rstrip("\n").rpartition(" ")
    if series == want:
        value = float(v)
print(int(value) if value == int(value) else value)
PY
}

# status_field FIELD — a field of the JSON /status body in ADMIN_BODY (Python
# expression on `j`, e.g. 'j["db_pool"]["size"]'); "null" for None.
status_field() {
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print("null" if v is None else json.dumps(v) if isinstance(v, (dict, list)) else v)' "$ADMIN_BODY" "$1"
}

# prom_valid FILE — strict checks of the Prometheus text format 0.0.4: every sample
# belongs to a family declared by # TYPE before it, names and labels are well formed,
# values are numbers, no series twice, each histogram has cumulative buckets ending
# in le="+Inf" that equals its _count, and a _sum. Prints problems; false when any.
prom_valid() {
  python3 - "$1" <<'PY'
import math, re, sys
name_re = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*$')
label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')
types, seen, problems, hist = {}, set(), [], {}
text = open(sys.argv[1], encoding="utf-8").read()
if not text.endswith("\n"):
    problems.append("does not end with a newline")
for n, line in enumerate(text.splitlines(), 1):
    if line.startswith("# TYPE "):
        parts = line.split()
        if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
            problems.append("line %d: bad TYPE line" % n)
        elif parts[2] in types:
            problems.append("line %d: TYPE of %s given twice" % (n, parts[2]))
        else:
            types[parts[2]] = parts[3]
        continue
    if line.startswith("#"):
        continue
    m = re.match(r'^([^{ ]+)(\{(.*)\})? (\S+)$', line)
    if not m:
        problems.append("line %d: not a sample: %r" % (n, line)); continue
    name, labels, value = m.group(1), m.group(3) or "", m.group(4)
    if not name_re.match(name):
        problems.append("line %d: bad metric name %s" % (n, name))
    pairs, rest = [], labels
    while rest:
        lm = label_re.match(rest)
        if not lm:
            problems.append("line %d: bad labels {%s}" % (n, labels)); break
        pairs.append((lm.group(1), lm.group(2)))
        rest = rest[lm.end():]
    try:
        v = float(value)
    except ValueError:
        problems.append("line %d: value %r is not a number" % (n, value)); continue
    family = name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[: -len(suffix)]) == "histogram":
            family = name[: -len(suffix)]
    if family not in types:
        problems.append("line %d: %s has no # TYPE before it" % (n, name))
    if types.get(family) == "counter" and (v < 0 or not name.endswith("_total")):
        problems.append("line %d: counter %s is negative or not named *_total" % (n, name))
    key = (name, tuple(sorted(pairs)))
    if key in seen:
        problems.append("line %d: series %s{%s} twice" % (n, name, labels))
    seen.add(key)
    if types.get(family) == "histogram":
        other = tuple(sorted(p for p in pairs if p[0] != "le"))
        h = hist.setdefault((family, other), {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            le = dict(pairs).get("le")
            if le is None:
                problems.append("line %d: bucket without le" % n)
            else:
                h["buckets"].append((math.inf if le == "+Inf" else float(le), v))
        elif name.endswith("_sum"):
            h["sum"] = v
        elif name.endswith("_count"):
            h["count"] = v
for (family, other), h in hist.items():
    b = h["buckets"]
    where = "%s%s" % (family, dict(other) or "")
    if not b or b[-1][0] != math.inf:
        problems.append("%s: no le=\"+Inf\" bucket last" % where); continue
    if [x[0] for x in b] != sorted(x[0] for x in b):
        problems.append("%s: buckets out of order" % where)
    if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)):
        problems.append("%s: buckets are not cumulative" % where)
    if h["count"] != b[-1][1]:
        problems.append("%s: _count %s != +Inf bucket %s" % (where, h["count"], b[-1][1]))
    if h["sum"] is None or h["sum"] < 0:
        problems.append("%s: _sum missing or negative" % where)
for p in problems[:20]:
    print("#   " + p)
sys.exit(1 if problems else 0)
PY
}
