#!/usr/bin/env bash
# 92-signals: SIGTERM stops an idle taskapi within 1 s with exit status 0; with a
# request in flight it finishes that request first; SIGQUIT stops gracefully.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# stop_and_time PID SIGNAL — send SIGNAL, wait for exit; sets STOP_MS and STOP_STATUS.
stop_and_time() {
  local start
  start=$(ms_now)
  kill "-$2" "$1"
  STOP_STATUS=0
  wait "$1" || STOP_STATUS=$?
  STOP_MS=$(($(ms_now) - start))
}

# ---- idle stop, master + workers and single process ---------------------------------
for mode in 2 0; do
  proc_taskapi "idle$mode" --workers "$mode" --set server.threads=8
  REQUEST_METHOD=GET REQUEST_URI=/healthz cgi-fcgi -bind -connect "$PROC_SOCK" >/dev/null 2>&1 || true
  stop_and_time "$PROC_PID" TERM
  check "--workers $mode: idle SIGTERM exits within 1 s (${STOP_MS} ms)" test "$STOP_MS" -lt 1000
  check "--workers $mode: exit status 0 ($STOP_STATUS)" test "$STOP_STATUS" -eq 0
  check "--workers $mode: the socket file is removed" test ! -e "$PROC_SOCK"
done

# ---- SIGTERM with a request in flight ---------------------------------------------------
id=$(sql "INSERT INTO tasks (title) VALUES ('signal test'); SELECT LAST_INSERT_ID();")
proc_taskapi busy --set server.workers=1 --set server.threads=2
# A client session holds the row for 3 s, so the PATCH below waits inside taskapi.
$MYSQL -e "BEGIN; SELECT id FROM tasks WHERE id = $id FOR UPDATE; DO SLEEP(3); COMMIT;" >/dev/null &
locker=$!
sleep 0.5
REQUEST_METHOD=PATCH REQUEST_URI="/tasks/$id?completed=true" QUERY_STRING=completed=true \
  cgi-fcgi -bind -connect "$PROC_SOCK" >"$E2E_TMP/inflight.out" 2>&1 &
client=$!
sleep 0.5
stop_and_time "$PROC_PID" TERM
wait "$client" || true
wait "$locker" || true
check "the request in flight was answered 200 before the exit" grep -q '^Status: 200' "$E2E_TMP/inflight.out"
check "the change was stored" test "$(sql "SELECT is_completed FROM tasks WHERE id = $id")" = 1
check "taskapi waited for it (${STOP_MS} ms >= 1500) and exited 0 ($STOP_STATUS)" \
  test "$STOP_MS" -ge 1500 -a "$STOP_STATUS" -eq 0
check "and did not wait much longer than the request (${STOP_MS} ms < 5000)" test "$STOP_MS" -lt 5000

# ---- SIGQUIT: graceful stop through nginx with kept connections -----------------------------
proc_taskapi quit --set server.workers=2 --set server.threads=4 --set server.drain_timeout_ms=1000
proc_nginx quit "$PROC_SOCK" 16 2
for _ in $(seq 20); do curl -s -o /dev/null "$PROC_URL/healthz"; done
stop_and_time "$PROC_PID" QUIT
check "SIGQUIT: graceful stop within drain + 1 s (${STOP_MS} ms), exit status $STOP_STATUS" \
  test "$STOP_MS" -lt 2500 -a "$STOP_STATUS" -eq 0
check "SIGQUIT is logged as a drain" grep -q "draining" "$E2E_TMP/quit.log"
