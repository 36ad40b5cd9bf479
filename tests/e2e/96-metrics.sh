#!/usr/bin/env bash
# 96-metrics: /metrics in the Prometheus text format. Counters move by exactly the
# requests made, per route and status; each route's latency histogram adds up (buckets,
# _count, _sum) and puts a known slow request in the right bucket; pool figures are
# there; worker restarts are counted after a SIGKILL and no counter goes backwards
# across crashes, recycling or a reload, because the master folds a dead worker's
# counts into its totals.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

workers_of() { ps --ppid "$1" -o pid= | tr -d ' ' | sort -n; }

# scrape FILE — GET /metrics through the stack's nginx into FILE.
scrape() {
  http GET /metrics
  cp "$BODY" "$1"
  SCRAPE_TYPE=$CTYPE
}

# delta A B SERIES — the value of SERIES in scrape B minus scrape A.
delta() {
  python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); d = b - a; print(int(d) if d == int(d) else d)' \
    "$(prom "$1" "$3")" "$(prom "$2" "$3")"
}

# ---- exact counts through nginx --------------------------------------------------------------
http POST /tasks/ -H 'Content-Type: application/json' --data '{"title":"metrics 96"}'
task=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY" 2>/dev/null || echo 0)
etag=$(header ETag)
scrape "$E2E_TMP/a.prom"
check "GET /metrics answers 200 text/plain; version=0.0.4 ($STATUS, $SCRAPE_TYPE)" \
  test "$STATUS" = 200 -a "$SCRAPE_TYPE" = "text/plain; version=0.0.4; charset=utf-8"
check "the scrape is valid Prometheus text (types, names, labels, histograms)" prom_valid "$E2E_TMP/a.prom"

for _ in 1 2 3 4 5 6 7; do http GET /healthz; done
for _ in 1 2 3; do http GET /tasks/999999999; done
for _ in 1 2; do http GET /no/such/path; done
http DELETE /healthz
http POST /tasks/ -H 'Content-Type: application/json' --data '{"title": 5}'
http POST /tasks/ -H 'Content-Type: text/plain' --data 'x'
http POST /tasks/ -H 'Content-Type: application/json' --data '{"title":"metrics 96 b"}'
http GET "/tasks/$task"
http GET "/tasks/$task" -H "If-None-Match: $etag"
for _ in 1 2 3 4; do http GET "/tasks/?limit=2"; done
scrape "$E2E_TMP/b.prom"

expected='healthz 200 7
tasks.get 404 3
not_found 404 2
method_not_allowed 405 1
tasks.create 422 1
tasks.create 415 1
tasks.create 201 1
tasks.get 200 1
tasks.get 304 1
tasks.list 200 4'
wrong=()
while read -r route code n; do
  got=$(delta "$E2E_TMP/a.prom" "$E2E_TMP/b.prom" "taskapi_requests_total{route=\"$route\",code=\"$code\"}")
  [ "$got" = "$n" ] || wrong+=("$route $code: +$got, expected +$n")
done <<<"$expected"
check "taskapi_requests_total moved by exactly the requests made, per route and status" test "${#wrong[@]}" -eq 0
[ "${#wrong[@]}" -eq 0 ] || diag "${wrong[@]}"
check "and by nothing else: 22 requests in all (the /metrics scrapes are not counted)" python3 - "$E2E_TMP/a.prom" "$E2E_TMP/b.prom" <<'PY'
import sys
def total(path):
    return sum(float(l.rsplit(" ", 1)[1]) for l in open(path) if l.startswith("taskapi_requests_total{"))
d = total(sys.argv[2]) - total(sys.argv[1])
print("#   delta %s" % d)
sys.exit(0 if d == 22 else 1)
PY

# Each route's histogram: _count moved like its requests, +Inf equals _count, _sum grew.
check "per route, the latency histogram's _count moved exactly like its requests" python3 - "$E2E_TMP/a.prom" "$E2E_TMP/b.prom" <<'PY'
import re, sys
def load(path):
    d = {}
    for l in open(path):
        if not l.startswith("#"):
            k, v = l.rsplit(" ", 1)
            d[k] = float(v)
    return d
a, b = load(sys.argv[1]), load(sys.argv[2])
bad = []
for route in ("healthz", "tasks.get", "not_found", "method_not_allowed", "tasks.create", "tasks.list"):
    req = sum(v - a.get(k, 0) for k, v in b.items() if k.startswith('taskapi_requests_total{route="%s",' % route))
    cnt = b['taskapi_request_duration_seconds_count{route="%s"}' % route] - a.get('taskapi_request_duration_seconds_count{route="%s"}' % route, 0)
    inf = b['taskapi_request_duration_seconds_bucket{route="%s",le="+Inf"}' % route] - a.get('taskapi_request_duration_seconds_bucket{route="%s",le="+Inf"}' % route, 0)
    s = b['taskapi_request_duration_seconds_sum{route="%s"}' % route] - a.get('taskapi_request_duration_seconds_sum{route="%s"}' % route, 0)
    if not (req == cnt == inf and req > 0 and 0 < s < 10):
        bad.append("%s: requests +%s, _count +%s, +Inf +%s, _sum +%s" % (route, req, cnt, inf, s))
for x in bad:
    print("#   " + x)
sys.exit(1 if bad else 0)
PY
check "the pool wait histogram counted the 10 requests that borrowed a connection" \
  test "$(delta "$E2E_TMP/a.prom" "$E2E_TMP/b.prom" taskapi_db_pool_wait_seconds_count)" = 10
check "the second scrape is valid Prometheus text too" prom_valid "$E2E_TMP/b.prom"

# A PATCH held about 2 s by a row lock: its duration (from taskapi's access line) puts
# it in exactly the buckets at or above it, and adds just that to _sum.
$MYSQL --unbuffered -e "BEGIN; SELECT id FROM tasks WHERE id = $task FOR UPDATE; SELECT SLEEP(2); COMMIT;" \
  >"$E2E_TMP/locker.out" 2>&1 &
locker=$!
wait_for 10 grep -qx "$task" "$E2E_TMP/locker.out" || diag "the row lock was not taken"
http PATCH "/tasks/$task?completed=true"
patch_status=$STATUS
patch_id=$(header X-Request-Id)
wait "$locker" || true
scrape "$E2E_TMP/c.prom"
wait_for 3 grep -q " access: $patch_id " "$APP_LOG" || true
patch_ms=$(grep " access: $patch_id " "$APP_LOG" | sed -n 's/.* \([0-9]*\.[0-9]*\)ms wait=.*/\1/p' | head -n 1)
check "the locked PATCH ($patch_status, ${patch_ms:-?} ms) is counted in exactly the buckets at or above its duration, and in _sum" \
  python3 - "$E2E_TMP/b.prom" "$E2E_TMP/c.prom" "${patch_ms:-0}" <<'PY'
import sys
def load(path):
    d = {}
    for l in open(path):
        if not l.startswith("#"):
            k, v = l.rsplit(" ", 1)
            d[k] = float(v)
    return d
a, b, ms = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
secs = ms / 1000
bad = []
if secs < 0.5:
    bad.append("the PATCH took %s ms: the row lock did not hold it" % ms)
for le in ("0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"):
    key = 'taskapi_request_duration_seconds_bucket{route="tasks.patch",le="%s"}' % le
    got = b.get(key, 0) - a.get(key, 0)
    want = 1 if le == "+Inf" or secs <= float(le) else 0
    # at a bucket's edge the log's millisecond rounding cannot decide: skip that bucket
    if le != "+Inf" and abs(secs - float(le)) < 0.002:
        continue
    if got != want:
        bad.append("le=%s: +%s, expected +%s" % (le, got, want))
key = 'taskapi_request_duration_seconds_sum{route="tasks.patch"}'
d = b.get(key, 0) - a.get(key, 0)
if abs(d - secs) > 0.002:
    bad.append("_sum +%s, the access line says %s s" % (d, secs))
for x in bad:
    print("#   " + x)
sys.exit(1 if bad else 0)
PY

# Pool and process figures of the stack. Workers publish their pool's figures every
# 50 ms: give the last request's connection that long to show as idle again.
pool_ok() {
  scrape "$E2E_TMP/d.prom"
  python3 - "$E2E_TMP/d.prom" <<'PY'
import sys
d = {}
for l in open(sys.argv[1]):
    if not l.startswith("#"):
        k, v = l.rsplit(" ", 1)
        d[k] = float(v)
ok = d["taskapi_db_pool_size"] >= 8 * d["taskapi_workers"] and d['taskapi_db_pool_connections{state="idle"}'] >= 1 \
    and d['taskapi_db_pool_connections{state="in_use"}'] == 0 and d["taskapi_db_pool_waiters"] == 0 \
    and "taskapi_db_pool_acquire_timeouts_total" in d and "taskapi_db_pool_evictions_total" in d \
    and d['taskapi_threads{state="idle"}'] == 8 * d["taskapi_workers"] and d["taskapi_connections_accepted_total"] >= 1
if not ok and len(sys.argv) > 2:
    print("#   " + repr({k: v for k, v in d.items() if "pool_conn" in k or "threads" in k or "workers" in k}))
sys.exit(0 if ok else 1)
PY
}
check "pool gauges: size = sum of the workers' pools, one idle connection or more, none in use" wait_for 3 pool_ok

# ---- restarts, recycling and reloads never make a counter go backwards -------------------------
proc_taskapi restarts --set server.workers=2 --set server.threads=2 --set server.max_requests=40 \
  --set "server.admin_listen=$E2E_TMP/restarts-admin.sock"
master=$PROC_PID
sock=$PROC_SOCK
asock=$E2E_TMP/restarts-admin.sock
wait_for 5 test -S "$asock" || true
get() { env -i REQUEST_METHOD=GET REQUEST_URI="$1" timeout 5 cgi-fcgi -bind -connect "$sock" >/dev/null 2>&1 || true; }
for _ in $(seq 30); do get /healthz; done
admin_scrape "$asock" "$E2E_TMP/r1.prom"
total1=$(prom "$E2E_TMP/r1.prom" 'taskapi_requests_total{route="healthz",code="200"}')
check "30 requests counted ($total1), no restart yet" \
  test "$total1" = 30 -a "$(prom "$E2E_TMP/r1.prom" taskapi_worker_restarts_total)" = 0
admin_get "$asock" "/status?full"
mapfile -t wpids < <(status_field '"\n".join(str(p["pid"]) for p in j["processes"])')
victim=${wpids[0]:-0}
kill -KILL "$victim" 2>/dev/null || true
restarted() { admin_scrape "$asock" "$E2E_TMP/r2.prom" && [ "$(prom "$E2E_TMP/r2.prom" taskapi_worker_restarts_total)" = 1 ] &&
  [ "$(prom "$E2E_TMP/r2.prom" taskapi_workers)" = 2 ]; }
check "after a SIGKILL of worker $victim, taskapi_worker_restarts_total is 1 and 2 workers run" wait_for 5 restarted
check "the dead worker's requests are still counted (30, not fewer)" \
  test "$(prom "$E2E_TMP/r2.prom" 'taskapi_requests_total{route="healthz",code="200"}')" = 30
check "every counter of the first scrape is still there, none lower" python3 - "$E2E_TMP/r1.prom" "$E2E_TMP/r2.prom" <<'PY'
import sys
def load(path):
    d, types = {}, {}
    for l in open(path):
        if l.startswith("# TYPE"):
            _, _, name, t = l.split()
            types[name] = t
        elif not l.startswith("#"):
            k, v = l.rsplit(" ", 1)
            d[k] = float(v)
    return d, types
a, types = load(sys.argv[1])
b, _ = load(sys.argv[2])
def is_counter(k):
    name = k.split("{")[0]
    for s in ("_bucket", "_sum", "_count"):
        if name.endswith(s) and types.get(name[:-len(s)]) == "histogram":
            return True
    return types.get(name) == "counter"
bad = [k for k, v in a.items() if is_counter(k) and b.get(k, -1) < v]
for k in bad[:10]:
    print("#   %s: %s -> %s" % (k, a[k], b.get(k)))
sys.exit(1 if bad else 0)
PY
# Kill both workers, then recycle by max_requests (40 per worker), then reload.
for pid in $(workers_of "$master"); do
  admin_get "$asock" "/status?full"
  if status_field '[p["pid"] for p in j["processes"]]' | grep -qw "$pid"; then kill -KILL "$pid"; fi
done
restarted3() { admin_scrape "$asock" "$E2E_TMP/r3.prom" && [ "$(prom "$E2E_TMP/r3.prom" taskapi_worker_restarts_total)" = 3 ] &&
  [ "$(prom "$E2E_TMP/r3.prom" taskapi_workers)" = 2 ]; }
check "after killing both workers: 3 restarts, 2 workers" wait_for 5 restarted3
check "still exactly 30 requests counted" \
  test "$(prom "$E2E_TMP/r3.prom" 'taskapi_requests_total{route="healthz",code="200"}')" = 30
for _ in $(seq 100); do get /healthz; done
kill -HUP "$master"
sleep 1
for _ in $(seq 10); do get /healthz; done
settled() { admin_scrape "$asock" "$E2E_TMP/r4.prom" && [ "$(prom "$E2E_TMP/r4.prom" taskapi_workers)" = 2 ]; }
wait_for 10 settled || true
started=$(prom "$E2E_TMP/r4.prom" taskapi_workers_started_total)
check "after 100 requests with max_requests 40 and a reload: exactly 140 counted ($started workers started)" \
  test "$(prom "$E2E_TMP/r4.prom" 'taskapi_requests_total{route="healthz",code="200"}')" = 140 -a "$started" -ge 7
check "recycling and reloads are not crashes (restarts still 3)" test "$(prom "$E2E_TMP/r4.prom" taskapi_worker_restarts_total)" = 3
check "the accepted connections never went backwards (140 connections, one per cgi-fcgi)" \
  test "$(prom "$E2E_TMP/r4.prom" taskapi_connections_accepted_total)" = 140
