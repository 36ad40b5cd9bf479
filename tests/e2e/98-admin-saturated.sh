#!/usr/bin/env bash
# 98-admin-saturated: /status and /metrics answer while every worker thread is busy.
# Two workers of two threads; a row lock held by another session makes six PATCHes
# wait in MariaDB: four take every thread, two more wait behind them (in the listen
# queue, or accepted by a worker whose threads are all busy). The workers'
# socket then answers nothing (a /healthz does not come back within 1 s), while the
# admin socket answers /status and /metrics at once and shows all four threads busy,
# the waiting connections and the pool in use. When the lock goes, every PATCH succeeds.
# "At once" is not timed (a loaded machine moves any figure): the admin socket must
# answer while the lock still holds every thread, which is what the last check shows.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

proc_taskapi busy --set server.workers=2 --set server.threads=2 \
  --set database.acquire_timeout_ms=10000 --set database.read_timeout_s=30 \
  --set database.statement_timeout_ms=30000 \
  --set "server.admin_listen=$E2E_TMP/busy-admin.sock"
sock=$PROC_SOCK
asock=$E2E_TMP/busy-admin.sock
proc_nginx busy "$sock" 8 1
wait_for 5 test -S "$asock" || true
ready() { admin_get "$asock" /status && [ "$(status_field 'j["total_threads"]')" = 4 ]; }
wait_for 5 ready || true

lock_s=30 # long enough for the checks on a loaded machine; ended early below
http POST /tasks/ -H 'Content-Type: application/json' --data '{"title":"saturate 98"}'
task=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY" 2>/dev/null || echo 0)
$MYSQL --unbuffered -e "BEGIN; SELECT id FROM tasks WHERE id = $task FOR UPDATE; SELECT SLEEP($lock_s); COMMIT;" \
  >"$E2E_TMP/locker.out" 2>&1 &
locker=$!
wait_for 10 grep -qx "$task" "$E2E_TMP/locker.out" || diag "the row lock was not taken: $(cat "$E2E_TMP/locker.out")"
admin_get "$asock" /status
accepted_before=$(status_field 'j["accepted_conn"]')
start=$SECONDS
pids=()
for i in 1 2 3 4 5 6; do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time $((lock_s + 30)) -X PATCH "$PROC_URL/tasks/$task?completed=true" \
    >"$E2E_TMP/patch.$i" 2>&1 &
  pids+=($!)
done
saturated() { admin_get "$asock" /status && [ "$(status_field 'j["active_threads"]')" = 4 ]; }
check "all 4 worker threads are busy (admin /status active_threads)" wait_for 10 saturated

# The workers answer nothing now...
t0=$(date +%s%N)
env -i REQUEST_METHOD=GET REQUEST_URI=/healthz timeout 1 cgi-fcgi -bind -connect "$sock" >"$E2E_TMP/hz.out" 2>&1 || true
hz_ms=$((($(date +%s%N) - t0) / 1000000))
check "meanwhile a /healthz to the workers' socket gets no answer within 1 s (${hz_ms} ms)" \
  bash -c "! grep -q '\"status\":\"ok\"' '$E2E_TMP/hz.out'"

# ...but the admin socket does, at once.
admin_get "$asock" "/status?full"
check "/status answers 200 while saturated (${ADMIN_MS} ms)" test "$ADMIN_STATUS" = 200
check "it shows 4 of 4 threads active, 0 idle, every worker at its limit" python3 - "$ADMIN_BODY" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ok = j["active_threads"] == 4 and j["idle_threads"] == 0 and j["total_threads"] == 4 and \
    j["max_active_threads"] >= 4 and j["max_threads_reached"] >= 2 and \
    all(p["active_threads"] == 2 and p["idle_threads"] == 0 for p in j["processes"])
if not ok:
    print("#   " + json.dumps({k: v for k, v in j.items() if k != "processes"}))
sys.exit(0 if ok else 1)
PY
# Each PATCH came on a connection of its own (nginx had at most the POST's to reuse,
# and the /healthz above adds one): in the listen queue, or accepted and waiting.
waiting=$(($(status_field 'j["listen_queue"]') + $(status_field 'j["accepted_conn"]') - accepted_before))
check "the 2 PATCHes without a thread wait unanswered: $waiting connections queued or accepted (>= 6) for 4 busy threads" \
  test "$waiting" -ge 6
admin_scrape "$asock" "$E2E_TMP/busy.prom"
check "/metrics answers 200 while saturated (${ADMIN_MS} ms)" test "$ADMIN_STATUS" = 200
check "/metrics: taskapi_threads{state=\"busy\"} 4, idle 0, 4 pool connections in use" \
  test "$(prom "$E2E_TMP/busy.prom" 'taskapi_threads{state="busy"}')" = 4 -a \
  "$(prom "$E2E_TMP/busy.prom" 'taskapi_threads{state="idle"}')" = 0 -a \
  "$(prom "$E2E_TMP/busy.prom" 'taskapi_db_pool_connections{state="in_use"}')" = 4
check "the lock was still held during these checks (they took $((SECONDS - start)) s of its $lock_s)" \
  test $((SECONDS - start)) -lt "$lock_s"

# End the lock now rather than wait for it (killing the session rolls it back).
for id in $(sql "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP($lock_s)%'" || true); do
  sql "KILL $id" >/dev/null 2>&1 || true
done
wait "$locker" "${pids[@]}" || true
codes=$(sort "$E2E_TMP"/patch.* | uniq -c | tr -s ' ' | tr '\n' ' ')
check "once the lock is gone all 6 PATCHes succeed ($codes)" test "$codes" = " 6 200 "
idle_again() { admin_get "$asock" /status && [ "$(status_field 'j["active_threads"]')" = 0 ]; }
check "and the threads are idle again" wait_for 10 idle_again
