#!/usr/bin/env bash
# 97-status: the PHP-FPM-like /status page on the admin socket: every field with its
# type and the right value for a known set-up; ?full with one entry per worker (pids
# that are the master's workers); the accept queue of the FastCGI socket counted exactly
# while the workers are stopped, for a unix and a TCP listener; HEAD, wrong methods and
# paths; the admin process is restarted by the master when it dies, and the counts
# survive it (they live in the master's shared memory).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

children_of() { ps --ppid "$1" -o pid= | tr -d ' ' | sort -n; }

proc_taskapi status --set server.workers=2 --set server.threads=3 --set server.backlog=77 \
  --set "server.admin_listen=$E2E_TMP/status-admin.sock"
master=$PROC_PID
sock=$PROC_SOCK
asock=$E2E_TMP/status-admin.sock
wait_for 5 test -S "$asock" || true
for _ in 1 2 3 4 5; do
  env -i REQUEST_METHOD=GET REQUEST_URI=/healthz timeout 5 cgi-fcgi -bind -connect "$sock" >/dev/null 2>&1 || true
done

# ---- the fields ----------------------------------------------------------------------------
admin_get "$asock" /status
check "GET /status answers 200 JSON on the admin socket ($ADMIN_STATUS)" \
  bash -c "[ '$ADMIN_STATUS' = 200 ] && grep -qi '^Content-Type: application/json' '$ADMIN_HEAD'"
check "every field, with its type and the value this set-up implies" python3 - "$ADMIN_BODY" "$(date +%s)" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
now = int(sys.argv[2])
want = {
    "pool": "taskapi", "process_manager": "static", "workers": 2, "total_threads": 6,
    "active_threads": 0, "idle_threads": 6, "worker_restarts": 0, "workers_started": 2,
    "requests": 5, "accepted_conn": 5, "listen_queue": 0, "listen_queue_len": 77,
    "slow_requests": 0, "max_threads_reached": 0,
}
bad = ["%s = %r, expected %r" % (k, j.get(k), v) for k, v in want.items() if j.get(k) != v]
if not (isinstance(j.get("start_time"), int) and now - 60 <= j["start_time"] <= now):
    bad.append("start_time %r" % j.get("start_time"))
if not (isinstance(j.get("uptime_seconds"), int) and 0 <= j["uptime_seconds"] < 60):
    bad.append("uptime_seconds %r" % j.get("uptime_seconds"))
if not (isinstance(j.get("max_active_threads"), int) and 1 <= j["max_active_threads"] <= 6):
    bad.append("max_active_threads %r" % j.get("max_active_threads"))
if not (isinstance(j.get("max_listen_queue"), int) and j["max_listen_queue"] >= 0):
    bad.append("max_listen_queue %r" % j.get("max_listen_queue"))
if not j.get("listen", "").endswith("status.sock"):
    bad.append("listen %r" % j.get("listen"))
pool = j.get("db_pool", {})
for k in ("size", "in_use", "idle", "waiters", "acquire_timeouts", "evictions"):
    if not isinstance(pool.get(k), int):
        bad.append("db_pool.%s %r" % (k, pool.get(k)))
if pool.get("size") != 6:
    bad.append("db_pool.size %r, expected 6 (3 per worker)" % pool.get("size"))
if "processes" in j:
    bad.append("processes without ?full")
for b in bad:
    print("#   " + b)
sys.exit(1 if bad else 0)
PY

admin_get "$asock" "/status?full"
mapfile -t kids < <(children_of "$master")
check "?full lists one process per worker, with the master's worker pids" python3 - "$ADMIN_BODY" "${kids[*]}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
kids = set(int(p) for p in sys.argv[2].split())
procs = j.get("processes", [])
pids = set(p["pid"] for p in procs)
# The master's children are the two workers and the admin process itself.
ok = len(procs) == 2 and pids <= kids and len(kids - pids) == 1 and \
    sum(p["requests"] for p in procs) == 5 and sum(p["accepted_conn"] for p in procs) == 5 and \
    all(p["state"] == "running" and p["total_threads"] == 3 and p["idle_threads"] == 3 and
        p["generation"] == 1 and p["db_pool"]["size"] == 3 for p in procs)
if not ok:
    print("#   children %s; processes %s" % (sorted(kids), procs))
sys.exit(0 if ok else 1)
PY

admin_get "$asock" /status HEAD
check "HEAD /status: 200, Content-Length, no body" \
  bash -c "[ '$ADMIN_STATUS' = 200 ] && grep -qi '^Content-Length: [1-9]' '$ADMIN_HEAD' && [ ! -s '$ADMIN_BODY' ]"
admin_get "$asock" /status POST
check "POST /status: 405 with Allow: GET, HEAD" \
  bash -c "[ '$ADMIN_STATUS' = 405 ] && grep -qi '^Allow: GET, HEAD' '$ADMIN_HEAD'"
admin_get "$asock" /tasks/
check "the admin socket serves nothing else: GET /tasks/ is 404 there" test "$ADMIN_STATUS" = 404

# ---- the accept queue, counted exactly ------------------------------------------------------------
# Stop the workers, connect 5 clients: they wait in the listening socket's queue, which
# only the admin process (not stopped) can report.
# queue_is SOCKET N — /status says listen_queue N.
queue_is() { admin_get "$1" /status && [ "$(status_field 'j["listen_queue"]')" = "$2" ]; }
# hold_connections TARGET N SECONDS — N connections to TARGET (a path or host:port), kept open.
hold_connections() {
  python3 - "$@" <<'PY' &
import socket, sys, time
target, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(n):
    if "/" in target:
        s = socket.socket(socket.AF_UNIX); s.connect(target)
    else:
        host, port = target.rsplit(":", 1); s = socket.create_connection((host, int(port)))
    conns.append(s)
time.sleep(secs)
PY
  HOLDER=$!
}
admin_get "$asock" "/status?full"
mapfile -t workers < <(status_field '"\n".join(str(p["pid"]) for p in j["processes"])')
kill -STOP "${workers[@]}"
hold_connections "$sock" 5 4
check "5 connections waiting while the workers are stopped: listen_queue is 5" wait_for 10 queue_is "$asock" 5
check "max_listen_queue remembers at least 5" test "$(status_field 'j["max_listen_queue"]')" -ge 5
admin_scrape "$asock" "$E2E_TMP/q.prom"
check "and /metrics says taskapi_listen_queue 5, taskapi_listen_queue_length 77" \
  test "$(prom "$E2E_TMP/q.prom" taskapi_listen_queue)" = 5 -a "$(prom "$E2E_TMP/q.prom" taskapi_listen_queue_length)" = 77
kill -CONT "${workers[@]}"
wait "$HOLDER" || true
check "the queue drains once the workers run again" wait_for 10 queue_is "$asock" 0

# The same on TCP (TCP_INFO of the listening socket).
# (Not proc_taskapi: it waits for a unix socket file.)
port=$(free_port)
taskapi_args
"$TASKAPI_BIN" "${TASKAPI_ARGS[@]}" --set server.workers=1 --set server.threads=1 \
  --set "server.listen=127.0.0.1:$port" --set server.backlog=33 \
  --set "server.admin_listen=$E2E_TMP/tcp-admin.sock" </dev/null >>"$E2E_TMP/tcp.log" 2>&1 &
at_exit "stop_pid taskapi-tcp $! TERM 20 >/dev/null 2>&1"
wait_for 10 test -S "$E2E_TMP/tcp-admin.sock" || diag "the TCP instance did not start: $(tail -n 3 "$E2E_TMP/tcp.log")"
tcp_ready() { admin_get "$E2E_TMP/tcp-admin.sock" /status && [ "$(status_field 'j["workers"]')" = 1 ]; }
wait_for 5 tcp_ready || true
admin_get "$E2E_TMP/tcp-admin.sock" "/status?full"
check "TCP listener: listen_queue_len is the backlog (33), the queue is empty" \
  test "$(status_field 'j["listen_queue_len"]')" = 33 -a "$(status_field 'j["listen_queue"]')" = 0
mapfile -t tcp_workers < <(status_field '"\n".join(str(p["pid"]) for p in j["processes"])')
kill -STOP "${tcp_workers[@]}"
hold_connections "127.0.0.1:$port" 4 4
check "TCP listener: 4 connections waiting while the worker is stopped: listen_queue is 4" \
  wait_for 10 queue_is "$E2E_TMP/tcp-admin.sock" 4
kill -CONT "${tcp_workers[@]}"
wait "$HOLDER" || true

# ---- the admin process is supervised ---------------------------------------------------------------
admin_pid=$(comm -13 <(printf '%s\n' "${workers[@]}" | sort) <(children_of "$master") | head -n 1)
check "the admin process is a child of the master ($admin_pid)" test -n "$admin_pid"
kill -KILL "$admin_pid" 2>/dev/null || true
back() { admin_get "$asock" /status && [ "$ADMIN_STATUS" = 200 ]; }
check "after a SIGKILL the master starts another admin process (within 10 s)" wait_for 10 back
check "the counts survived it (requests still 5, no worker restart counted)" \
  test "$(status_field 'j["requests"]')" = 5 -a "$(status_field 'j["worker_restarts"]')" = 0
check "the master logged the admin process's death" grep -q "admin process $admin_pid was killed by signal 9" "$E2E_TMP/status.log"
