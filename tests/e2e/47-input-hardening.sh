#!/usr/bin/env bash
# 47-input-hardening: client input echoed back never breaks an answer or a log line.
# A Content-Type with invalid UTF-8, or a character across the 80 bytes the 415 quotes,
# is a 415 JSON (was a 500); a body key cut mid-character stays in the 422's loc; a query
# value in invalid UTF-8 is echoed repaired; refused body values are echoed bounded. ?skip= past 100000 is a 422. The access log
# escapes bytes >= 0x80 and control bytes of the URI, in text and in JSON (every JSON
# line parses and gives the raw bytes back); log files are 0640 even under umask 000,
# after a USR1 reopen too, and a world-readable log file of ours loses others' bits;
# /readyz asks the database at most once a second per worker (MariaDB's counters).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
export MYSQL

# ---- answers through nginx ----------------------------------------------------------------------
PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # req, ok, not_ok, check, expect, sql, ...

REPL = "\ufffd"


def detail_ok(j):
    return isinstance(j.get("detail"), str) and "Content-Type" in j["detail"]


for ctype, why in [
    (b"text/\xff\xfe", "invalid UTF-8"),
    (b"text/" + b"x" * 74 + "é".encode() + b"tail", "a 2-byte character across byte 80"),
    (b"text/" + b"x" * 73 + "🎉".encode() * 3, "a 4-byte character across byte 80"),
    (b"application/\xc3", "a lead byte at the very end"),
]:
    r = req("POST", "/tasks/", b'{"title": "x"}', ctype=None, headers={"Content-Type": ctype})
    expect("POST with Content-Type of %s: 415 JSON, not 500" % why, r, 415, detail_ok)
    r = req("PATCH", "/tasks/1", b'{"title": "x"}', ctype=None, headers={"Content-Type": ctype})
    expect("PATCH with Content-Type of %s: 415 JSON" % why, r, 415, detail_ok)
r = req("POST", "/tasks/", b'{"title": "x"}', ctype=None, headers={"Content-Type": b"text/\xff\xfe"})
check("  ... the invalid bytes are shown as U+FFFD", REPL + REPL in ((r.json() or {}).get("detail") or ""), str(r))
r = req("POST", "/tasks/", b'{"title": "x"}', ctype=None,
        headers={"Content-Type": b"text/" + b"x" * 74 + "é".encode() + b"tail"})
# 80 bytes quoted: 77 of the value, cut before a character, and "...".
check("  ... a long one is cut on a character boundary, marked '...'",
      "'text/" + "x" * 72 + "...'" in ((r.json() or {}).get("detail") or ""), str(r))

# A body key with a 2-byte character across the 47 bytes loc keeps of a name. Unknown
# keys are refused in a PATCH body whatever the input rules (a POST ignores them by
# default), so the PATCH of one task carries them.
r = req("POST", "/tasks/", {"title": "hardening: unknown keys"})
T = (r.json() or {}).get("id", 0)
check("a task to PATCH with unknown keys", r.status == 201, str(r))
at = "/tasks/%d" % T
key = "k" * 46 + "é" + "rest"
r = req("PATCH", at, {"title": "x", key: 1})
expect("an unknown key cut mid-character stays in the 422's loc", r, 422,
       lambda j: [d["loc"] for d in j["detail"]] == [["body", "k" * 44 + "..."]]
       and j["detail"][0]["type"] == "extra_forbidden")
key = "é" * 30
r = req("PATCH", at, {"title": "x", key: 1})
expect("an unknown key of 2-byte characters only: cut between them", r, 422,
       lambda j: j["detail"][0]["loc"] == ["body", "é" * 22 + "..."])

r = req("GET", "/tasks/?skip=%FF%FE1")
expect("?skip= in invalid UTF-8: 422 echoing the value repaired", r, 422,
       lambda j: j["detail"][0]["loc"] == ["query", "skip"] and j["detail"][0]["input"] == REPL + REPL + "1")
r = req("GET", "/tasks/?limit=1&completed=" + "%C3%A9" * 200)
expect("a long query value is echoed cut on a character boundary (at most 256 bytes)", r, 422,
       lambda j: j["detail"][0]["input"].endswith("...") and len(j["detail"][0]["input"].encode()) <= 256
       and j["detail"][0]["input"].startswith("éé"))

# Refused body values come back as "input" bounded: a long string cut, a big container left out.
r = req("POST", "/tasks/", {"title": "é" * 3000})
expect("a 3000-character title: 422 string_too_long echoing at most 1024 bytes, cut between characters", r, 422,
       lambda j: j["detail"][0]["type"] == "string_too_long"
       and j["detail"][0]["input"] == "é" * 510 + "...")
r = req("PATCH", at, {"title": "x", "extra": list(range(5000))})
expect("an unknown key holding a big array: 422 extra_forbidden without the array echoed", r, 422,
       lambda j: j["detail"][0]["loc"] == ["body", "extra"] and "input" not in j["detail"][0] and len(r.raw) < 1024)
r = req("PATCH", at, {"title": "x", "extra": [1, 2]})
expect("  ... a small one is still echoed", r, 422, lambda j: j["detail"][0]["input"] == [1, 2])

# ---- skip has a maximum ---------------------------------------------------------------------------
r = req("GET", "/tasks/?skip=100000&limit=1")
expect("?skip=100000 (the maximum): 200", r, 200, lambda j: isinstance(j, list))
r = req("GET", "/tasks/?skip=100001")
expect("?skip=100001: 422 less_than_equal on query.skip", r, 422,
       lambda j: [(d["loc"], d["type"]) for d in j["detail"]] == [(["query", "skip"], "less_than_equal")]
       and "100000" in j["detail"][0]["msg"])
r = req("GET", "/tasks/?skip=9223372036854775807")
expect("?skip=2^63-1: 422", r, 422)
PY

# fcgi SOCKET URI — one GET straight to a taskapi socket (the URI may hold any byte).
fcgi() {
  env -i REQUEST_METHOD=GET REQUEST_URI="$2" CONTENT_LENGTH=0 \
    timeout 10 cgi-fcgi -bind -connect "$1" >"$E2E_TMP/fcgi.out" 2>&1 || true
}
URI=$'/nope?raw=\xff\xfe\xc3\xa9&ctl=\x01\x7f&q="\\'
URI_HEX=$(printf '%s' "$URI" | od -An -tx1 | tr -d ' \n')

# ---- access log: JSON, log files' modes -----------------------------------------------------------
logs=$E2E_TMP/logs
mkdir -p "$logs"
install -m 0644 /dev/null "$logs/access.log" # as a shell redirect or logrotate "create 0644" makes it
old_umask=$(umask)
umask 000
proc_taskapi json --workers 1 --set server.threads=2 --set log.access_format=json \
  --set "log.access_log_file=$logs/access.log" --set "log.error_log=$logs/error.log"
json_master=$PROC_PID json_sock=$PROC_SOCK
umask "$old_umask"
fcgi "$json_sock" "$URI"
fcgi "$json_sock" "/healthz?plain=1"
wait_for 3 grep -q 'plain=1' "$logs/access.log" || true
check "JSON access lines: every line parses, and the URI with bytes >= 0x80 and control bytes comes back exact (Latin-1)" \
  python3 - "$logs/access.log" "$URI_HEX" <<'PY'
import json, sys
path, want = sys.argv[1], bytes.fromhex(sys.argv[2])
raw = open(path, "rb").read()
if any(b >= 0x80 for b in raw):
    print("#   the log holds raw bytes >= 0x80"); sys.exit(1)
found = False
for line in raw.decode("ascii").splitlines():
    j = json.loads(line)  # raises: the test fails
    if j.get("route") == "not_found" and j["uri"].encode("latin-1") == want:
        found = True
if not found:
    print("#   no line with the URI; lines: %r" % raw[:600])
sys.exit(0 if found else 1)
PY
check "a world-readable access log of ours is 0640 once taskapi opened it" \
  test "$(stat -c %a "$logs/access.log")" = 640
check "the error log taskapi created under umask 000 is 0640" test "$(stat -c %a "$logs/error.log")" = 640
mv "$logs/access.log" "$logs/access.log.1"
mv "$logs/error.log" "$logs/error.log.1"
kill -USR1 "$json_master"
wait_for 5 test -e "$logs/error.log" || true
fcgi "$json_sock" "/healthz?after=1"
wait_for 3 test -e "$logs/access.log" || true
check "after a rotation and USR1 (umask 000 still) the new access log is 0640" \
  test "$(stat -c %a "$logs/access.log" 2>/dev/null)" = 640
check "  ... and the new error log" test "$(stat -c %a "$logs/error.log" 2>/dev/null)" = 640

# ---- access log: text ------------------------------------------------------------------------------
proc_taskapi text --workers 0 --set server.threads=2 --set log.access_format=text
fcgi "$PROC_SOCK" "$URI"
wait_for 3 grep -q ' access: .* not_found' "$E2E_TMP/text.log" || true
check "text access line: bytes >= 0x80 as \\xHH, control bytes as \\u00HH, quote and backslash escaped" \
  grep -qF ' /nope?raw=\xff\xfe\xc3\xa9&ctl=\u0001\u007f&q=\"\\ 404 ' "$E2E_TMP/text.log"
check "  ... and no raw byte >= 0x80 in any access line" \
  bash -c "! grep ' access: ' '$E2E_TMP/text.log' | LC_ALL=C grep -q \$'[\\x80-\\xff]'"

# ---- /readyz: at most one database question a second per worker ------------------------------------
proc_taskapi ready --workers 2 --set server.threads=4
ready_sock=$PROC_SOCK
# /readyz's question is a prepared statement: Com_stmt_execute counts one per question
# (nothing else talks to the test stack's database meanwhile; SHOW is not counted there).
executed() { sql "SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'" | awk '{ print $2 }'; }
fcgi "$ready_sock" /readyz # the pool's first connection, outside the count
sleep 1.1
before=$(executed)
start=$(date +%s%N)
ok200=0
for _ in $(seq 50); do
  fcgi "$ready_sock" /readyz
  if grep -q '"status":"ready"' "$E2E_TMP/fcgi.out"; then ok200=$((ok200 + 1)); fi
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
queries=$(($(executed) - before))
# Two workers, each asking at most once per started second of the run (+1 for the edge).
bound=$((2 * (elapsed_ms / 1000 + 2)))
diag "50 /readyz in ${elapsed_ms} ms: Com_stmt_execute moved by $queries"
check "50 /readyz answered 200 ready ($ok200)" test "$ok200" -eq 50
check "50 /readyz asked the database $queries times, at most $bound (2 workers, 1 s cache)" test "$queries" -le "$bound"
