#!/usr/bin/env bash
# 76-pool-startup: taskapi starting while MariaDB is down. By default it fails fast
# (exit 1 at once, saying why); with database.wait_at_start_s = 2 it tries for 2 s and
# then exits 1; with database.wait_at_start_s = 30 it waits, and serves as soon as
# MariaDB is back. The stack's own taskapi rides the outage out.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

# exit_of PID SECONDS — wait up to SECONDS for our child PID to exit; sets RC to its
# exit status, or to "running".
exit_of() {
  RC=running
  if wait_pid_gone "$1" "$2"; then
    RC=0
    wait "$1" 2>/dev/null || RC=$?
  fi
}

pool_user pool_fast
pool_user pool_short
pool_user pool_wait
mariadb_stop >/dev/null 2>&1
at_exit "db_pid >/dev/null || mariadb_start >/dev/null 2>&1"
check 'mariadbd stopped' test -z "$(db_pid || true)"

start=$SECONDS
PRIV_NOWAIT=1 private_taskapi pool_fast
exit_of "$PRIV_PID" 10
# Bounds here are liveness with wide margins: "at once" is well under the 10 s that
# exit_of waits; "after trying for 2 s" is a lower bound (it cannot be shorter).
check "default (fail fast): taskapi exits 1 at once ($RC after $((SECONDS - start))s)" \
  test "$RC" = 1 -a $((SECONDS - start)) -le 8
check '... saying it cannot connect to MariaDB' grep -q 'cannot connect to MariaDB' "$PRIV_LOG"

start=$(date +%s%N)
PRIV_NOWAIT=1 private_taskapi pool_short --set database.wait_at_start_s=2
exit_of "$PRIV_PID" 10
took=$((($(date +%s%N) - start) / 1000000))
check "wait_at_start_s = 2: exits 1 after trying for 2 s ($RC after ${took} ms)" \
  test "$RC" = 1 -a "$took" -ge 1900 -a "$took" -lt 10000
check '... saying it waits for the database' grep -q 'waiting up to 2 s for the database' "$PRIV_LOG"

PRIV_NOWAIT=1 private_taskapi pool_wait --set database.wait_at_start_s=30
sleep 1.5
exit_of "$PRIV_PID" 0
check 'wait_at_start_s = 30: still waiting after 1.5 s (no socket yet)' \
  test "$RC" = running -a ! -S "$PRIV_SOCK"
mariadb_start >/dev/null 2>&1
start=$(date +%s%N)
has_sock() { [ -S "$PRIV_SOCK" ]; }
if wait_for 10 has_sock; then
  took=$((($(date +%s%N) - start) / 1000000))
  ok "... it starts serving once MariaDB is up (${took} ms later, within 10 s)"
  fcgi GET '/tasks/?limit=1'
  check "... and answers ($STATUS)" test "$STATUS" = 200
  check '... saying the database answers' grep -q 'the database answers; starting' "$PRIV_LOG"
else
  not_ok "wait_at_start_s = 30: taskapi serves within 10 s of MariaDB being up"
  diag "$(tail -n 5 "$PRIV_LOG")"
fi
if wait_for 10 status_is /readyz 200; then
  ok "the stack's taskapi is ready again without a restart (${WAITED}s)"
else
  not_ok "the stack's taskapi is ready again within 10 s (last status $STATUS)"
fi
