#!/usr/bin/env bash
# 89-accept-fairness: when every thread is busy, a request on a new FastCGI connection
# waits its turn, not behind every kept connection again and again. nginx keeps few
# idle connections here (2 per nginx worker), so under 128 clients it keeps opening
# new ones; each worker has 2 threads. With one accept per wakeup the listener was one
# entry among the kept connections in epoll's ready list and the listen queue starved:
# p99 was 20-40 x p50 (1.2 s against 30 ms in script/bench at 256 clients). Issue 5
# asks p99 <= 5 x p50.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

secs=${TASKAPI_E2E_FAIRNESS_SECONDS:-8}

proc_taskapi fair --set server.threads=2 --set server.workers=2
proc_nginx fair "$PROC_SOCK" 2 2

# A request that costs the database some work, so that requests queue up.
url="$PROC_URL/tasks/?limit=10&skip=200"
proc_wrk 1s 128 "$url" # warm-up: the workers' pool connections and statements
proc_wrk "${secs}s" 128 "$url"
diag "wrk ${secs}s, 128 connections, 4 threads: $WRK_REQUESTS requests, p50 ${WRK_P50_MS} ms, p99 ${WRK_P99_MS} ms, max ${WRK_MAX_MS} ms, errors $WRK_ERRORS, non-2xx $WRK_NON2XX"
check "load run answered requests ($WRK_REQUESTS)" test "${WRK_REQUESTS:-0}" -gt 100
check "no socket errors or timeouts ($WRK_ERRORS)" test "$WRK_ERRORS" -eq 0
check "every response 2xx ($WRK_NON2XX non-2xx)" test "$WRK_NON2XX" -eq 0
check "p99 ${WRK_P99_MS} ms <= 5 x p50 ${WRK_P50_MS} ms" \
  awk -v p50="$WRK_P50_MS" -v p99="$WRK_P99_MS" 'BEGIN { exit !(p50 > 0 && p99 <= 5 * p50) }'
