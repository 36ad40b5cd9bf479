#!/usr/bin/env bash
# 90-keepalive-no-stall: nginx keeps far more idle FastCGI connections than taskapi has
# threads (64 per nginx worker against 2 threads) and no request waits behind them.
# A textbook libfcgi loop parks a thread on each idle kept connection and stalls here
# (p99 of seconds); taskapi waits for them in epoll instead.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

# 60 s as the issue asks; TASKAPI_E2E_LOAD_SECONDS shortens it (the ASan run).
secs=${TASKAPI_E2E_LOAD_SECONDS:-60}

proc_taskapi ka --set server.threads=2 --set server.workers=1
proc_nginx ka "$PROC_SOCK" 64 2

# First fill nginx's keepalive cache: 128 concurrent requests leave up to 128 idle
# connections behind, 64 per nginx worker, all waiting on a 2-thread process.
urls=()
for i in $(seq 128); do urls+=(-o /dev/null "$PROC_URL/healthz?n=$i"); done
curl -s --parallel --parallel-immediate --parallel-max 128 --max-time 5 \
  -w '%{http_code}\n' "${urls[@]}" >"$E2E_TMP/fill" 2>/dev/null || true
check "128 concurrent requests all answered 200 ($(grep -c '^200$' "$E2E_TMP/fill") of 128)" \
  test "$(grep -c '^200$' "$E2E_TMP/fill")" -eq 128
worker=$(ps --ppid "$PROC_PID" -o pid= | head -n 1 | tr -d ' ')
idle=$(find "/proc/${worker:-$PROC_PID}/fd" -lname 'socket:*' 2>/dev/null | wc -l)
check "taskapi holds many more connections than threads ($idle sockets, 2 threads)" test "$idle" -gt 8

proc_wrk "${secs}s" 64 "$PROC_URL/tasks/?limit=10"
diag "wrk ${secs}s, 64 connections, GET /tasks/?limit=10: $WRK_REQUESTS requests, p50 ${WRK_P50_MS} ms, p99 ${WRK_P99_MS} ms, max ${WRK_MAX_MS} ms, errors $WRK_ERRORS, non-2xx $WRK_NON2XX"
check "load run answered requests ($WRK_REQUESTS)" test "${WRK_REQUESTS:-0}" -gt 100
check "no socket errors or timeouts ($WRK_ERRORS)" test "$WRK_ERRORS" -eq 0
check "every response 2xx ($WRK_NON2XX non-2xx)" test "$WRK_NON2XX" -eq 0
# A request stalled behind a parked thread waits for nginx to drop the kept connection,
# seconds: wrk counts it as a timeout (over 2 s). The slowest time itself is shown, not
# judged: a loaded machine moves it.
check "no request timed out behind a kept connection ($WRK_TIMEOUTS timeouts over 2 s; slowest ${WRK_MAX_MS} ms)" \
  test "$WRK_TIMEOUTS" -eq 0
