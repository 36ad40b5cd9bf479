#!/usr/bin/env bash
# 70-pool-unit: the unit tests that need a database, against the stack's MariaDB (under
# `make check` they run without a server and leave their "mariadb" case out). Each check
# test case is one assertion here.
# tests/unit/test_db_pool: fixed size filled, min_idle refilled after a discard, an open
# transaction rolled back on return, unread results discarded, lifetime never while
# borrowed, keepalive finding a killed idle connection, validation only after the idle
# window, the acquire timeout, a second release through the same pointer doing nothing,
# a killed connection replaced (never reconnected) with its statements prepared again,
# the statement time limit.
# tests/unit/test_db_conn: the session a connection opens with, its lifetime, ping,
# the statement cache, reset (rollback, autocommit, unread results), the retry policy,
# a killed connection marked broken.
# tests/unit/test_db_cluster: writes moving past a dead first node, reads round robin, primary
# and replicas, the health check finding a server that is not a Galera node.
# tests/unit/test_app: borrowing and returning a connection for a handler, 503 when the
# pool is exhausted, /readyz through app_handle.
# tests/unit/test_task_store: task_store_create refusing a title or description longer
# than struct task holds, even from a server that would truncate it.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

pool_user pool_unit

# run_unit NAME MIN_LIVE — runs tests/unit/NAME against the stack, one assertion per
# check test, and checks that at least MIN_LIVE live-server cases ran.
run_unit() {
  local name=$1 min_live=$2 unit=$TOP/tests/unit/$1 rc=0 n=0 live
  if [ ! -x "$unit" ]; then
    # TASKAPI_BIN runs (an installed binary) build no unit tests.
    ok "tests/unit/$name against MariaDB # SKIP not built"
    return 0
  fi
  TASKAPI_TEST_DB_SOCKET=$DB_SOCK TASKAPI_TEST_DB_USER=pool_unit TASKAPI_TEST_DB_NAME=$DB_NAME \
    TASKAPI_TEST_DB_PASSWORD_FILE=$E2E_TMP/pool_unit.pass CK_VERBOSITY=verbose CK_FORK=yes \
    timeout 120 "$unit" >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" || rc=$?

  # check's verbose lines: FILE:LINE:P|F|E:CASE:TEST:ITERATION: message
  while IFS=: read -r _ _ result tcase test _ msg; do
    n=$((n + 1))
    if [ "$result" = P ]; then
      ok "${name#test_} unit ($tcase): $test"
    else
      not_ok "${name#test_} unit ($tcase): $test"
      diag "$msg"
    fi
  done < <(grep -E '^[^:]+:[0-9]+:[PFE]:' "$E2E_TMP/$name.out")
  live=$(grep -c ':[PFE]:mariadb:' "$E2E_TMP/$name.out" || true)
  check "$name ran its live-server cases ($live of them)" test "$live" -ge "$min_live"
  check "$name exited 0 (status $rc)" test "$rc" = 0
  if [ "$rc" != 0 ] || [ "$n" = 0 ]; then
    diag "$(tail -n 20 "$E2E_TMP/$name.out")" "$(tail -n 20 "$E2E_TMP/$name.err")"
  fi
}

run_unit test_db_pool 11
run_unit test_db_conn 7
run_unit test_db_cluster 3
run_unit test_app 1
run_unit test_task_store 1
