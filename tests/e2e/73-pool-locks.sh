#!/usr/bin/env bash
# 73-pool-locks: row locks held by another session. A lock held "forever" (an open
# transaction holding SELECT ... FOR UPDATE) makes a PATCH of that row a JSON 503 with
# Retry-After within database.statement_timeout_ms (5000 by default) + 1 s, not a
# stuck thread, while reads of the row go on; the connection stays usable. A
# deadlock that InnoDB resolves by rolling back taskapi's UPDATE is retried
# (database.deadlock_retries) and the PATCH succeeds after the other transaction;
# with deadlock_retries = 0 the same deadlock is a 503. A one-connection pool whose
# connection is held makes the next request wait database.acquire_timeout_ms and get
# a JSON 503 with Retry-After.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

# new_task TITLE — create a task through nginx; prints its id.
new_task() {
  http POST /tasks/ -H 'Content-Type: application/json' -d "{\"title\": \"$1\"}"
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY"
}

# seconds_since NANOSECONDS — seconds elapsed since a `date +%s%N`, with 3 decimals.
seconds_since() {
  local ms=$((($(date +%s%N) - $1) / 1000000))
  printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
}

# patch_title ID TITLE — for wait_for: PATCH through nginx answers 200.
patch_title() {
  http PATCH "/tasks/$1" -H 'Content-Type: application/json' -d "{\"title\": \"$2\"}"
  [ "$STATUS" = 200 ]
}

# session SQL — run SQL as the migration user in the background (its own session);
# SESSION_PID is the client's pid, stopped when the test ends.
session() {
  $MYSQL --batch --skip-column-names -e "$1" >"$E2E_TMP/session.out" 2>&1 &
  SESSION_PID=$!
  at_exit "kill $SESSION_PID 2>/dev/null; wait $SESSION_PID 2>/dev/null"
}

# ---- a row lock held forever: 503 within the statement time limit ----
id=$(new_task 'locked row')
gave_up_before=$(grep -cE 'gave up: .*\((1969|1205)\)' "$APP_LOG" || true)
session "SET SESSION innodb_lock_wait_timeout = 60;
BEGIN; SELECT id FROM tasks WHERE id = $id FOR UPDATE; DO SLEEP(30); ROLLBACK;"
sleep 0.5
start=$(date +%s%N)
http PATCH "/tasks/$id" -H 'Content-Type: application/json' -d '{"title": "never"}'
took=$(seconds_since "$start")
expect_json "PATCH of a row locked by another session: 503 JSON (after ${took}s)" 503 '"detail" in j'
check "... with Retry-After ($(header Retry-After))" test -n "$(header Retry-After)"
check "... at statement_timeout_ms 5000: not before 4 s, nor at the 30 s lock (${took}s < 15)" \
  awk -v t="$took" 'BEGIN { exit !(t >= 4 && t < 15) }'
check 'taskapi logged the time limit (1969) or the lock wait (1205)' \
  test "$(grep -cE 'gave up: .*\((1969|1205)\)' "$APP_LOG" || true)" -gt "$gave_up_before"
start=$(date +%s%N)
http GET "/tasks/$id"
took=$(seconds_since "$start")
expect_json "meanwhile a GET of the locked row is not blocked (${took}s)" 200 'j["title"] == "locked row"'
kill "$SESSION_PID" 2>/dev/null || true
wait "$SESSION_PID" 2>/dev/null || true
# The client is gone; make sure its server session (and lock) is too.
db_root "SELECT CONCAT('KILL ', ID, ';') FROM information_schema.PROCESSLIST
WHERE USER = '$DB_MIGRATE_USER' AND INFO LIKE 'DO SLEEP%'" | db_admin >/dev/null 2>&1 || true
if wait_for 10 patch_title "$id" unlocked; then
  ok "once the lock is gone the same PATCH succeeds (${WAITED}s)"
else
  not_ok "once the lock is gone the same PATCH succeeds (last status $STATUS)"
fi

# ---- a deadlock: taskapi's UPDATE is the victim and is retried ----
# The other session holds next-key locks on the title index around 'dl-p' and then
# asks for the row taskapi's UPDATE holds; taskapi's UPDATE waits for the title index
# (it moves the row to 'dl-p'). InnoDB rolls back the lighter transaction: taskapi's
# single statement (the other one has updated rows first).
deadlock() { # deadlock TASK_ID — start the other session's side
  local id=$1 m z w
  m=$(new_task "dl-m-$id")
  z=$(new_task "dl-z-$id")
  w=$(new_task "dl-w-$id")
  session "BEGIN;
UPDATE tasks SET description = 'weight' WHERE id IN ($m, $z, $w);
SELECT id FROM tasks FORCE INDEX (ix_tasks_title) WHERE title BETWEEN 'dl-m-$id' AND 'dl-z-$id' FOR UPDATE;
DO SLEEP(1);
UPDATE tasks SET description = 'by the other session' WHERE id = $id;
DO SLEEP(1);
COMMIT;"
  sleep 0.4
}

id=$(new_task 'deadlock target')
retries_before=$(grep -c 'deadlock (1213); retry' "$APP_LOG" || true)
deadlock "$id"
http PATCH "/tasks/$id" -H 'Content-Type: application/json' -d "{\"title\": \"dl-p-$id\"}"
expect_json 'PATCH caught in a deadlock: 200 after a retry, applied after the other transaction' 200 \
  "j['title'] == 'dl-p-$id' and j['description'] == 'by the other session'"
wait "$SESSION_PID" 2>/dev/null || true
check 'the other session committed (it was not the victim)' test "$(sql "SELECT description FROM tasks WHERE id = $id")" = 'by the other session'
retries=$(($(grep -c 'deadlock (1213); retry' "$APP_LOG" || true) - retries_before))
check "taskapi logged the deadlock and its retry ($retries)" test "$retries" -ge 1

# Without retries the same deadlock reaches the client: a 503 (not a 500).
pool_user pool_noretry
if private_taskapi pool_noretry --set database.deadlock_retries=0 --set database.pool_size=2; then
  id=$(new_task 'deadlock, no retries')
  deadlock "$id"
  fcgi PATCH "/tasks/$id" "{\"title\": \"dl-p-$id\"}"
  expect_json 'with database.deadlock_retries = 0 the deadlock is a JSON 503' 503 '"detail" in j'
  check '... with Retry-After' grep -qi '^retry-after:' "$HEADERS"
  wait "$SESSION_PID" 2>/dev/null || true
  check '... and the other session won' test "$(sql "SELECT description FROM tasks WHERE id = $id")" = 'by the other session'
else
  not_ok 'a taskapi with deadlock_retries = 0 starts'
  diag "$(tail -n 5 "$PRIV_LOG")"
fi

# ---- every connection busy: the acquire timeout answers 503 ----
# A one-connection pool whose connection waits on a row lock: another request waits
# database.acquire_timeout_ms (500 here) for it, then gets a JSON 503 with Retry-After.
pool_user pool_one
if private_taskapi pool_one --set database.pool_size=1 --set server.threads=2 \
  --set database.acquire_timeout_ms=500 --set database.statement_timeout_ms=3000; then
  id=$(new_task 'pool of one')
  session "BEGIN; SELECT id FROM tasks WHERE id = $id FOR UPDATE; DO SLEEP(4); ROLLBACK;"
  sleep 0.3
  python3 "$POOL_CLIENT" fcgi "$PRIV_SOCK" PATCH "/tasks/$id" "$E2E_TMP/held.body" "$E2E_TMP/held.headers" \
    '{"title": "held"}' >"$E2E_TMP/held.status" &
  holder=$!
  sleep 0.3
  start=$(date +%s%N)
  fcgi GET "/tasks/$id"
  took=$(seconds_since "$start")
  expect_json "pool of 1, its connection busy: another request gets 503 JSON after ${took}s" 503 \
    '"overloaded" in j["detail"]'
  check "... with Retry-After" grep -qi '^retry-after:' "$HEADERS"
  check "... after the acquire timeout of 0.5 s, not at the holder's 3 s time limit (${took}s < 2.5)" \
    awk -v t="$took" 'BEGIN { exit !(t >= 0.45 && t < 2.5) }'
  wait "$holder" || true
  check "the request holding the connection ends as a 503 at its statement time limit ($(cat "$E2E_TMP/held.status"))" \
    grep -q '^503' "$E2E_TMP/held.status"
  fcgi GET "/tasks/$id"
  check "then the pool serves again ($STATUS)" test "$STATUS" = 200
  wait "$SESSION_PID" 2>/dev/null || true
else
  not_ok 'a taskapi with a one-connection pool starts'
  diag "$(tail -n 5 "$PRIV_LOG")"
fi
