#!/usr/bin/env bash
# 42-idempotency-concurrency: requests with the same Idempotency-Key at once, through an
# nginx of its own to taskapi instances of its own (owner "local"). Six parallel POSTs
# with one key store one task and one key row, and all six answer the same 201 body,
# five of them replayed. A key held by another transaction (a MariaDB session here,
# deterministically) makes requests wait on its row lock: when the holder rolls back,
# one of the six waiters creates and the other five replay it (none gets a deadlock's
# 503); when it commits a stored answer, the waiter replays that. Held past the lock
# wait bound (database.statement_timeout_ms = 1000 on a second instance): 409 with
# Retry-After: 1, nothing stored, and the retry after the holder let go creates.
# A write that fails with a 5xx inside the transaction (its UPDATE waiting past the
# bound on the task's row) is rolled back with its key: the retry writes, once.
# /metrics counts stored, replayed and busy exactly.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

RUN=e2e42-$$
at_exit "sql \"DELETE FROM tasks WHERE title LIKE '$RUN %'; DELETE FROM idempotency_keys WHERE idem_key LIKE '$RUN-%'\""
N=6

# Waits of up to 10 s for a row lock; a thread and a connection for every request.
proc_taskapi idem-wait --workers 1 --set server.threads=8 --set database.statement_timeout_ms=10000 \
  --set database.acquire_timeout_ms=10000 --set "server.admin_listen=$E2E_TMP/idem-wait-admin.sock"
proc_nginx idem-wait "$PROC_SOCK" 8
WAIT_URL=$PROC_URL
WAIT_ADMIN=$E2E_TMP/idem-wait-admin.sock
proc_taskapi idem-busy --workers 1 --set server.threads=4 --set database.statement_timeout_ms=1000 \
  --set "server.admin_listen=$E2E_TMP/idem-busy-admin.sock"
proc_nginx idem-busy "$PROC_SOCK" 4
BUSY_URL=$PROC_URL
BUSY_ADMIN=$E2E_TMP/idem-busy-admin.sock

# post_bg URL KEY TITLE NAME — POST in the background (pid added to POSTS); answer in
# $E2E_TMP/NAME.{head,body}. posts_done waits for them all.
POSTS=()
post_bg() {
  curl -sS --max-time 30 -o "$E2E_TMP/$4.body" -D "$E2E_TMP/$4.head" -X POST "$1/tasks/" \
    -H 'Content-Type: application/json' -H "Idempotency-Key: $2" --data-binary "{\"title\": \"$3\"}" \
    2>"$E2E_TMP/$4.err" &
  POSTS+=("$!")
}
posts_done() {
  wait "${POSTS[@]}" || true
  POSTS=()
}
status_of() { head -n 1 "$E2E_TMP/$1.head" | awk '{ print $2 }'; }
header_of() {
  awk -v want="$2" -F': ' '{ sub(/\r$/, "") } tolower($1) == tolower(want) { sub(/^[^:]*: */, ""); print; exit }' \
    "$E2E_TMP/$1.head"
}
keys() { sql "SELECT COUNT(*) FROM idempotency_keys WHERE owner = 'local' AND idem_key = '$1'"; }
tasks_titled() { sql "SELECT COUNT(*) FROM tasks WHERE title = '$1'"; }
# (information_schema.INNODB_TRX needs the PROCESS privilege: the database's admin account)
lock_waits() { db_admin <<<"SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'"; }
waiting() { [ "$(lock_waits)" -ge "$1" ]; }
# answers PREFIX — "status count" of the N answers, their distinct bodies, and how many replayed.
answers() {
  local i replayed=0
  for i in $(seq "$N"); do
    if [ "$(header_of "$1$i" Idempotent-Replayed)" = true ]; then replayed=$((replayed + 1)); fi
  done
  printf '%s | bodies %s | replayed %s' \
    "$(for i in $(seq "$N"); do status_of "$1$i"; done | sort | uniq -c | xargs)" \
    "$(md5sum "$E2E_TMP/$1"[0-9]*.body | awk '{ print $1 }' | sort -u | wc -l)" "$replayed"
}

# hold SQL — a MariaDB session of the test's own runs SQL and stays open (its transaction
# with it) until release SQL; hold waits until SQL has run.
hold() {
  rm -f "$E2E_TMP/hold.fifo" "$E2E_TMP/hold.out"
  mkfifo "$E2E_TMP/hold.fifo"
  $MYSQL --batch --skip-column-names --unbuffered <"$E2E_TMP/hold.fifo" >"$E2E_TMP/hold.out" 2>&1 &
  HOLD_PID=$!
  at_exit "kill $HOLD_PID 2>/dev/null"
  exec 7>"$E2E_TMP/hold.fifo"
  printf '%s\nSELECT CONCAT("he", "ld");\n' "$1" >&7
  wait_for 10 grep -qx held "$E2E_TMP/hold.out" || diag "the holding session: $(cat "$E2E_TMP/hold.out")"
}
release() {
  printf '%s\n' "$1" >&7
  exec 7>&-
  wait "$HOLD_PID" || true
}
HELD_ROW="INSERT INTO idempotency_keys (owner, idem_key, fingerprint, status, created_at, expires_at)
  VALUES ('local', '%s', UNHEX(REPEAT('00', 32)), 0, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 1 HOUR);"

admin_scrape "$WAIT_ADMIN" "$E2E_TMP/m0.prom"

# ---- N at once ---------------------------------------------------------------------------
k=$RUN-parallel
for i in $(seq "$N"); do post_bg "$WAIT_URL" "$k" "$RUN parallel" "par$i"; done
posts_done
a=$(answers par)
check "$N parallel POSTs with one key: all 201, one body, $((N - 1)) replayed ($a)" \
  test "$a" = "$N 201 | bodies 1 | replayed $((N - 1))"
check "... one task, one key row" test "$(tasks_titled "$RUN parallel") $(keys "$k")" = "1 1"

# ---- waiting on a holder that rolls back -------------------------------------------------
k=$RUN-rolled-back
# shellcheck disable=SC2059 # HELD_ROW is the format
hold "START TRANSACTION; $(printf "$HELD_ROW" "$k")"
for i in $(seq "$N"); do post_bg "$WAIT_URL" "$k" "$RUN rolled back" "rb$i"; done
check "$N POSTs wait on the held key's row lock" wait_for 15 waiting "$N"
release "ROLLBACK;"
posts_done
a=$(answers rb)
check "the holder rolled back: one created, the others replayed it, all 201 with one body ($a)" \
  test "$a" = "$N 201 | bodies 1 | replayed $((N - 1))"
check "... one task, one key row" test "$(tasks_titled "$RUN rolled back") $(keys "$k")" = "1 1"

# ---- waiting on a holder that commits ----------------------------------------------------
k=$RUN-committed
post_bg "$WAIT_URL" "$k" "$RUN committed" first
posts_done
hold "START TRANSACTION; SELECT 1 FROM idempotency_keys WHERE owner = 'local' AND idem_key = '$k' FOR UPDATE;"
post_bg "$WAIT_URL" "$k" "$RUN committed" retry
check "a retry waits on the key's row lock" wait_for 15 waiting 1
release "COMMIT;"
posts_done
check "the holder committed: the retry replays the first answer (201, same body, Idempotent-Replayed)" \
  test "$(status_of retry)|$(header_of retry Idempotent-Replayed)|$(cmp -s "$E2E_TMP/first.body" "$E2E_TMP/retry.body" && echo same)" = "201|true|same"
check "... one task" test "$(tasks_titled "$RUN committed")" = 1

admin_scrape "$WAIT_ADMIN" "$E2E_TMP/m1.prom"
moved() { echo $(($(prom "$E2E_TMP/m1.prom" "$1") - $(prom "$E2E_TMP/m0.prom" "$1"))); }
m="$(moved 'taskapi_idempotency_total{result="stored"}') $(moved 'taskapi_idempotency_total{result="replayed"}') $(moved 'taskapi_idempotency_total{result="busy"}')"
check "/metrics: stored 3, replayed $((2 * (N - 1) + 1)), busy 0 ($m)" test "$m" = "3 $((2 * (N - 1) + 1)) 0"

# ---- held past the bound -----------------------------------------------------------------
k=$RUN-busy
admin_scrape "$BUSY_ADMIN" "$E2E_TMP/b0.prom"
# shellcheck disable=SC2059
hold "START TRANSACTION; $(printf "$HELD_ROW" "$k")"
TASKAPI_URL=$BUSY_URL http POST /tasks/ -H 'Content-Type: application/json' -H "Idempotency-Key: $k" \
  --data-binary "{\"title\": \"$RUN busy\"}"
expect_json "the key held past statement_timeout_ms (1 s): 409 saying it is in progress" 409 \
  '"in progress" in j["detail"]'
check "... with Retry-After: 1" test "$(header Retry-After)" = 1
release "ROLLBACK;"
check "... and nothing stored (no task, no key row)" test "$(tasks_titled "$RUN busy") $(keys "$k")" = "0 0"
TASKAPI_URL=$BUSY_URL http POST /tasks/ -H 'Content-Type: application/json' -H "Idempotency-Key: $k" \
  --data-binary "{\"title\": \"$RUN busy\"}"
check "the retry once the holder let go: 201, created" \
  test "$STATUS|$(header Idempotent-Replayed)|$(tasks_titled "$RUN busy")" = "201||1"
admin_scrape "$BUSY_ADMIN" "$E2E_TMP/b1.prom"
check "/metrics counts the 409 as busy" \
  test "$(($(prom "$E2E_TMP/b1.prom" 'taskapi_idempotency_total{result="busy"}') - $(prom "$E2E_TMP/b0.prom" 'taskapi_idempotency_total{result="busy"}')))" = 1

# ---- a 5xx is not stored: the retry does the write once ------------------------------------
TASKAPI_URL=$BUSY_URL http POST /tasks/ -H 'Content-Type: application/json' --data-binary "{\"title\": \"$RUN locked\"}"
tid=$(sed -n 's/^{"id":\([0-9]*\),.*/\1/p' "$BODY")
k=$RUN-locked
hold "START TRANSACTION; SELECT id FROM tasks WHERE id = ${tid:-0} FOR UPDATE;"
TASKAPI_URL=$BUSY_URL http PATCH "/tasks/$tid" -H 'Content-Type: application/json' -H "Idempotency-Key: $k" \
  --data-binary '{"is_completed": true}'
check "a keyed PATCH whose UPDATE waits past the bound on the task's row: 503 with Retry-After" \
  test "$STATUS|$(header Retry-After)" = "503|1"
release "ROLLBACK;"
check "... rolled back with its key: no key row, the task at version 1" \
  test "$(keys "$k")|$(sql "SELECT version FROM tasks WHERE id = ${tid:-0}")" = "0|1"
TASKAPI_URL=$BUSY_URL http PATCH "/tasks/$tid" -H 'Content-Type: application/json' -H "Idempotency-Key: $k" \
  --data-binary '{"is_completed": true}'
check "the retry with the key applies it: 200, ETag \"2\", not a replay" \
  test "$STATUS|$(header ETag)|$(header Idempotent-Replayed)" = '200|"2"|'
TASKAPI_URL=$BUSY_URL http PATCH "/tasks/$tid" -H 'Content-Type: application/json' -H "Idempotency-Key: $k" \
  --data-binary '{"is_completed": true}'
check "... and once only: a further retry replays it, the task stays at version 2" \
  test "$STATUS|$(header Idempotent-Replayed)|$(sql "SELECT version FROM tasks WHERE id = ${tid:-0}")" = "200|true|2"
