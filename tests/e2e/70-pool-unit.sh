#!/usr/bin/env bash
# 70-pool-unit: tests/unit/test_db_pool against the stack's MariaDB (under `make check`
# it runs without a server and leaves its "mariadb" case out). Each check test case
# is one assertion here: fixed size filled, min_idle refilled after a discard, an
# open transaction rolled back on return, unread results discarded, lifetime never
# while borrowed, keepalive finding a killed idle connection, validation only after
# the idle window, the acquire timeout, a killed connection replaced (never
# reconnected) with its statements prepared again, the statement time limit.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

unit=$TOP/tests/unit/test_db_pool
if [ ! -x "$unit" ]; then
  # TASKAPI_BIN runs (an installed binary) build no unit tests.
  ok "tests/unit/test_db_pool against MariaDB # SKIP not built"
  exit 0
fi

pool_user pool_unit
rc=0
TASKAPI_TEST_DB_SOCKET=$DB_SOCK TASKAPI_TEST_DB_USER=pool_unit TASKAPI_TEST_DB_NAME=$DB_NAME \
  TASKAPI_TEST_DB_PASSWORD_FILE=$E2E_TMP/pool_unit.pass CK_VERBOSITY=verbose CK_FORK=yes \
  timeout 120 "$unit" >"$E2E_TMP/unit.out" 2>"$E2E_TMP/unit.err" || rc=$?

# check's verbose lines: FILE:LINE:P|F|E:CASE:TEST:ITERATION: message
n=0
while IFS=: read -r _ _ result tcase name _ msg; do
  n=$((n + 1))
  if [ "$result" = P ]; then
    ok "db_pool unit ($tcase): $name"
  else
    not_ok "db_pool unit ($tcase): $name"
    diag "$msg"
  fi
done < <(grep -E '^[^:]+:[0-9]+:[PFE]:' "$E2E_TMP/unit.out")
live=$(grep -c ':[PFE]:mariadb:' "$E2E_TMP/unit.out" || true)
check "the unit test ran its live-server cases ($live of them)" test "$live" -ge 10
check "test_db_pool exited 0 (status $rc)" test "$rc" = 0
if [ "$rc" != 0 ] || [ "$n" = 0 ]; then
  diag "$(tail -n 20 "$E2E_TMP/unit.out")" "$(tail -n 20 "$E2E_TMP/unit.err")"
fi
