#!/usr/bin/env bash
# 95-logs: one access line per request with nginx's request id (or a generated one),
# the pool wait and the route, as text or JSON; a slow-request log naming the route,
# the duration, the pool wait and the SQL statements; SQL echo with bound parameters
# and never a password; log files reopened on SIGUSR1 after a logrotate-style rename,
# by the master, every worker and the admin process; log.level filters the error log.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

workers_of() { ps --ppid "$1" -o pid= | tr -d ' ' | sort -n; }

# fcgi SOCKET METHOD URI [BODY] — one request straight to a taskapi socket (no nginx, so
# no REQUEST_ID param); the raw answer goes to $E2E_TMP/fcgi.out.
fcgi() {
  local sock=$1 method=$2 uri=$3 body=${4:-}
  printf '%s' "$body" | env -i REQUEST_METHOD="$method" REQUEST_URI="$uri" \
    CONTENT_TYPE=application/json CONTENT_LENGTH="${#body}" \
    timeout 10 cgi-fcgi -bind -connect "$sock" >"$E2E_TMP/fcgi.out" 2>&1 || true
}

# access_ok FILE ID METHOD URI STATUS ROUTE — FILE has exactly one text access line for
# request ID with these fields, a duration and a pool wait.
access_ok() {
  python3 - "$@" <<'PY'
import re, sys
path, rid, method, uri, status, route = sys.argv[1:]
pat = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] access: (\S+) (\S+) (\S+) (\d{3}) (\d+) '
                 r'(\d+\.\d{3})ms wait=(\d+\.\d{3})ms (\S+) owner=(\S+) cred=(\S+)$')
hits = [pat.match(l.rstrip("\n")) for l in open(path, encoding="utf-8", errors="replace") if " access: %s " % rid in l]
if len(hits) != 1 or hits[0] is None:
    print("#   %d access lines for %s, or not in the expected shape" % (len(hits), rid)); sys.exit(1)
m = hits[0]
want = (rid, method, uri, status)
if m.groups()[:4] != want or m.group(8) != route:
    print("#   got %s, expected %s route %s" % (m.groups(), want, route)); sys.exit(1)
PY
}

# ---- access lines through the stack's nginx ------------------------------------------------
http GET /healthz
rid=$(header X-Request-Id)
check "nginx gives the request a 32-hex id ($rid)" grep -Eqx '[0-9a-f]{32}' <<<"$rid"
wait_for 3 grep -q " access: $rid " "$APP_LOG" || true
check "taskapi's access line carries nginx's request id, method, URI, status, bytes, duration, pool wait, route" \
  access_ok "$APP_LOG" "$rid" GET /healthz 200 healthz
http GET "/tasks/?limit=1"
rid=$(header X-Request-Id)
wait_for 3 grep -q " access: $rid " "$APP_LOG" || true
check "a database route's access line (tasks.list) with its pool wait" \
  access_ok "$APP_LOG" "$rid" GET "/tasks/?limit=1" 200 tasks.list
check "SQL echo is off by default (no sql: lines in the stack's log)" bash -c "! grep -q '] info: sql: ' '$APP_LOG'"

# Straight to the socket, without nginx: taskapi makes an id up.
fcgi "$APP_SOCK" GET "/healthz?probe=95-generated"
wait_for 3 grep -q "GET /healthz?probe=95-generated " "$APP_LOG" || true
gen=$(grep "GET /healthz?probe=95-generated " "$APP_LOG" | tail -n 1 | awk '{ print $4 }')
check "without REQUEST_ID taskapi generates a 32-hex request id ($gen)" grep -Eqx '[0-9a-f]{32}' <<<"$gen"

# ---- JSON access lines ------------------------------------------------------------------------
proc_taskapi json --workers 0 --set server.threads=2 --set log.access_format=json
fcgi "$PROC_SOCK" GET '/nope?x="quoted"'
wait_for 3 grep -q '"route":"not_found"' "$E2E_TMP/json.log" || true
check "log.access_format = json: one JSON object per request with every field" python3 - "$E2E_TMP/json.log" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    if '"route":"not_found"' in line:
        j = json.loads(line)
        want = {"method": "GET", "uri": '/nope?x="quoted"', "status": 404, "route": "not_found"}
        ok = all(j.get(k) == v for k, v in want.items()) and len(j["request_id"]) == 32 and \
            isinstance(j["duration_ms"], float) and isinstance(j["pool_wait_ms"], float) and \
            j["bytes"] > 0 and j["time"].endswith("Z") and isinstance(j["pid"], int)
        if not ok:
            print("#   " + line.strip())
        sys.exit(0 if ok else 1)
print("#   no JSON access line")
sys.exit(1)
PY

# ---- slow requests and pool wait ---------------------------------------------------------------
# One worker, four threads, ONE pooled connection. A PATCH waits on a row lock held by
# another session, holding the only connection; a GET meanwhile waits for that
# connection in db_pool_acquire. Both are slow (> 500 ms); the GET's time is pool wait.
# The lock ends when the script ends it, a second after /status shows the GET waiting
# (db_pool.waiters 1), so the GET's wait is at least that second however slowly this
# script runs.
proc_taskapi slow --set server.workers=1 --set server.threads=4 --set database.pool_size=1 \
  --set database.acquire_timeout_ms=15000 --set database.statement_timeout_ms=20000 \
  --set log.slow_request_ms=500 \
  --set "log.slow_log_file=$E2E_TMP/slowreq.log" --set "server.admin_listen=$E2E_TMP/slow-admin.sock"
slow_sock=$PROC_SOCK
proc_nginx slow "$slow_sock" 8 1
http POST /tasks/ -H 'Content-Type: application/json' --data '{"title":"slow log 95"}'
task=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY" 2>/dev/null || echo 0)
$MYSQL --unbuffered -e "BEGIN; SELECT id FROM tasks WHERE id = $task FOR UPDATE; SELECT SLEEP(60); COMMIT;" \
  >"$E2E_TMP/locker.out" 2>&1 &
locker=$!
at_exit "kill $locker 2>/dev/null"
wait_for 10 grep -qx "$task" "$E2E_TMP/locker.out" || diag "the row lock was not taken: $(cat "$E2E_TMP/locker.out")"
curl -s -o /dev/null -X PATCH "$PROC_URL/tasks/$task?completed=true" &
patcher=$!
# The GET must come second: wait until the PATCH holds the only connection.
holding() { admin_get "$E2E_TMP/slow-admin.sock" /status && [ "$(status_field 'j["db_pool"]["in_use"]')" = 1 ]; }
wait_for 5 holding || diag "the PATCH did not take the connection"
curl -s -o /dev/null "$PROC_URL/tasks/?limit=1" &
getter=$!
waiting() { admin_get "$E2E_TMP/slow-admin.sock" /status && [ "$(status_field 'j["db_pool"]["waiters"]')" = 1 ]; }
wait_for 10 waiting || diag "the GET did not wait for the connection"
curl -s -o /dev/null "$PROC_URL/healthz"
sleep 1
for id in $(sql "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP(60)%'" || true); do
  sql "KILL $id" >/dev/null 2>&1 || true
done
wait "$locker" "$patcher" "$getter" || true
wait_for 3 grep -q "GET /tasks/?limit=1 " "$E2E_TMP/slowreq.log" || true
diag "slow log:" "$(cat "$E2E_TMP/slowreq.log" 2>/dev/null)"
# slow_ok "METHOD URI" ROUTE SQL MIN_MS MIN_WAIT_MS MAX_WAIT_MS — the slow line of that
# request (this instance has no nginx request ids: each request here is unique).
slow_ok() {
  python3 - "$E2E_TMP/slowreq.log" "$@" <<'PY'
import re, sys
path, request, route, sql, min_ms, min_wait, max_wait = sys.argv[1:]
for line in open(path, encoding="utf-8"):
    m = re.search(r' slow: [0-9a-f]{32} (\S+ \S+) \d{3} (\d+\.\d+)ms wait=(\d+\.\d+)ms route=(\S+) sql=(\S+) rows=(\d+)$', line.strip())
    if m and m.group(1) == request:
        ms, wait = float(m.group(2)), float(m.group(3))
        ok = m.group(4) == route and m.group(5) == sql and ms >= float(min_ms) and \
            float(min_wait) <= wait <= float(max_wait)
        if not ok:
            print("#   " + line.strip())
        sys.exit(0 if ok else 1)
print("#   no slow line for %s" % request)
sys.exit(1)
PY
}
check "the PATCH held by a row lock is in the slow log: tasks.patch, > 1 s, no pool wait, sql=update,get" \
  slow_ok "PATCH /tasks/$task?completed=true" tasks.patch update,get 1000 0 100
check "the GET that waited for the only connection: tasks.list, its time is pool wait (> 700 ms), sql=list" \
  slow_ok "GET /tasks/?limit=1" tasks.list list 700 700 10000
check "a fast request is not in the slow log" bash -c "! grep -q 'GET /healthz ' '$E2E_TMP/slowreq.log'"
check "the GET's access line shows the pool wait too" \
  bash -c "grep ' GET /tasks/?limit=1 ' '$E2E_TMP/slow.log' | grep -Eq 'wait=([7-9][0-9]{2}|[0-9]{4,})\.[0-9]{3}ms'"
admin_scrape "$E2E_TMP/slow-admin.sock" "$E2E_TMP/slow.prom"
check "taskapi_slow_requests_total counts exactly those 2" test "$(prom "$E2E_TMP/slow.prom" taskapi_slow_requests_total)" = 2

# ---- SQL echo ------------------------------------------------------------------------------------
proc_taskapi echo --workers 0 --set server.threads=2 --set log.sql_echo=true
fcgi "$PROC_SOCK" POST /tasks/ '{"title":"echo '"'"'quoted'"'"' 95","is_completed":true}'
echo_id=$(sed -n 's/.*"id":\([0-9]*\).*/\1/p' "$E2E_TMP/fcgi.out" | head -n 1)
fcgi "$PROC_SOCK" GET "/tasks/${echo_id:-0}"
wait_for 3 grep -q "get: SELECT" "$E2E_TMP/echo.log" || true
diag "$(grep ' sql: ' "$E2E_TMP/echo.log" | cut -c1-300)"
check "SQL echo logs the INSERT at info level with its bound parameters (the owner, quotes escaped, NULL, booleans)" \
  grep -Eq "\] info: sql: [0-9a-f]{32} insert: INSERT INTO tasks .*\('local', 'echo \\\\'quoted\\\\' 95', NULL, 1, 2[0-9-]+ [0-9:]+, 2[0-9-]+ [0-9:]+\)$" "$E2E_TMP/echo.log"
check "SQL echo logs the GET's SELECT with the id and the owner bound" \
  grep -Eq "\] info: sql: [0-9a-f]{32} get: SELECT .* WHERE id = \? AND owner = \? \(${echo_id:-x}, 'local'\)$" "$E2E_TMP/echo.log"
leaks=0
for pass in "$SECRETS_DIR"/*.pass; do
  pw=$(cat "$pass")
  [ -n "$pw" ] || continue
  if grep -rqF -- "$pw" "$E2E_TMP" "$APP_LOG" 2>/dev/null; then leaks=$((leaks + 1)); fi
done
check "no database password in any log (SQL echo, access, slow, the stack's log)" test "$leaks" -eq 0

# ---- log files and SIGUSR1 ---------------------------------------------------------------------
logs=$E2E_TMP/logs
mkdir -p "$logs"
conf=$E2E_TMP/files.ini
cp "$APP_CONF" "$conf"
printf '\n[server]\nworkers = 2\nthreads = 2\n[log]\nerror_log = %s\naccess_log_file = %s\n' \
  "$logs/error.log" "$logs/access.log" >>"$conf"
proc_taskapi files --config "$conf" --set "server.admin_listen=$E2E_TMP/files-admin.sock"
files_master=$PROC_PID
files_sock=$PROC_SOCK
wait_for 5 test -S "$E2E_TMP/files-admin.sock" || true
for i in 1 2 3; do fcgi "$files_sock" GET "/healthz?before=$i"; done
wait_for 3 test "$(grep -c ' access: ' "$logs/access.log" 2>/dev/null)" -ge 3 || true
check "log.access_log_file gets the access lines" test "$(grep -c 'GET /healthz?before=' "$logs/access.log")" -eq 3
check "log.error_log gets the error stream (workers ready)" test "$(grep -c ' info: taskapi .* ready' "$logs/error.log")" -eq 2
check "nothing but start-up reached the old stderr" bash -c "! grep -q ' access: ' '$E2E_TMP/files.log'"
# logrotate: rename, then USR1 to the master.
mv "$logs/access.log" "$logs/access.log.1"
mv "$logs/error.log" "$logs/error.log.1"
fcgi "$files_sock" GET "/healthz?between=1"
kill -USR1 "$files_master"
wait_for 5 test "$(grep -c 'SIGUSR1: log files reopened' "$logs/error.log" 2>/dev/null)" -ge 4 || true
reopened=$(grep 'SIGUSR1: log files reopened' "$logs/error.log" 2>/dev/null | sed 's/.*\[\([0-9]*\)\].*/\1/' | sort -u | tr '\n' ' ')
mapfile -t children < <(workers_of "$files_master")
expected=$(printf '%s\n' "$files_master" "${children[@]}" | sort -u | tr '\n' ' ')
check "after USR1 the master, both workers and the admin process reopened their logs ($reopened)" \
  test "$reopened" = "$expected"
before=$(grep -c ' access: ' "$logs/access.log.1")
for i in 1 2 3 4; do fcgi "$files_sock" GET "/healthz?after=$i"; done
wait_for 3 test "$(grep -c 'GET /healthz?after=' "$logs/access.log" 2>/dev/null)" -ge 4 || true
check "new access lines go to a new file at the original path" \
  test "$(grep -c 'GET /healthz?after=' "$logs/access.log" 2>/dev/null)" -eq 4
check "the rotated file gets nothing more ($before lines, the one between included)" \
  test "$(grep -c ' access: ' "$logs/access.log.1")" -eq 4 -a "$before" -eq 4
check "the new files are mode 0640" test "$(stat -c %a "$logs/access.log")" = 640

# ---- log.level filters the error log --------------------------------------------------------------
# A reload to level warn: the new workers' "ready" lines and the master's "starting
# generation" (info) must not appear, a refused reload after it (error) must. The old
# workers drain with their own configuration, level info included.
started() { admin_get "$E2E_TMP/files-admin.sock" /status && [ "$(status_field 'j["workers_started"]')" = "$1" ]; }
printf '[log]\nlevel = warn\n' >>"$conf"
kill -HUP "$files_master"
check "the reload to level warn started two new workers" wait_for 5 started 4
sleep 0.5
printf '\n[server]\nno_such_key = 1\n' >>"$conf"
kill -HUP "$files_master"
check "log.level = warn still writes errors (the refused reload)" \
  wait_for 5 grep -q "\] error: reload failed, keeping the running configuration" "$logs/error.log"
check "log.level = warn drops info lines (no 'ready', no 'starting generation')" \
  bash -c "! grep -Eq 'ready: |starting generation' '$logs/error.log'"
check "while level info had written them (the first generation's 'ready' lines)" \
  test "$(grep -c 'ready: ' "$logs/error.log.1")" -eq 2
