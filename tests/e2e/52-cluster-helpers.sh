#!/usr/bin/env bash
# 52-cluster-helpers: the rig's failure helpers (script/lib/cluster.sh) do what the
# cluster tests rely on, and the rig's tuning holds. A SIGKILLed node is evicted within
# seconds, and the others go on taking writes; started again it rejoins, Synced, with
# the rows it missed. An isolated node is evicted and refuses queries (non-Primary);
# let back in, it is Synced again. With one taskapi instance killed (master, workers,
# admin process), keyless POSTs through nginx still succeed once each (nginx passes a
# write on only when it never reached the dead instance). The rig still stops cleanly.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-cluster.sh
. "$E2E_DIR/lib-cluster.sh"

rig_require
# From here on stack.sh's variables are the rig's, not the test stack's.
rig_start cluster-e2e-52

size_is() { [ "$(cluster_node_state "$1" | cut -d' ' -f3)" = "$2" ]; }
synced3() { [ "$(cluster_node_state "$1")" = 'ON Synced 3 Primary' ]; }
post() {
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary "{\"title\": \"$1\"}"
  [ "$STATUS" = 201 ]
}
count_on() {
  cluster_sql "$1" "SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM \`$DB_NAME\`.tasks WHERE title LIKE '$2%'"
}

# ---- kill -9 node 3, write, restart it ----
cluster_node_kill 3
check 'cluster_node_kill 3: node 3 is gone' test -z "$(cluster_node_pid 3 || true)"
if wait_for 15 size_is 1 2; then
  ok "the others evict it within ${WAITED}s (cluster size 2 on node 1; evs.inactive_timeout 3 s)"
else
  not_ok "node 1 sees a cluster of 2 within 15s (state: $(cluster_node_state 1))"
fi
n=0
for i in 1 2 3; do if post "while node 3 is down $i"; then n=$((n + 1)); fi; done
check "with node 3 down, POSTs through nginx succeed ($n of 3)" test "$n" = 3
if (cluster_node_restart 3 60) >"$E2E_TMP/restart.log" 2>&1; then
  ok 'cluster_node_restart 3: node 3 rejoins and is Synced'
else
  not_ok 'cluster_node_restart 3: node 3 rejoins and is Synced'
  diag "$(tail -n 20 "$E2E_TMP/restart.log")"
fi
check "node 3 is Synced in a cluster of 3 ($(cluster_node_state 3 || true))" synced3 3
check 'node 3 has the 3 tasks written while it was down' test "$(count_on 3 'while node 3 is down')" = 3
check 'the restarted node 3 has a new pid in run/cluster/db3/mariadbd.pid' \
  test -n "$(cluster_node_pid 3 || true)"

# ---- isolate node 2, then let it back in ----
cluster_node_isolate 2 1
if wait_for 15 size_is 1 2; then
  ok "cluster_node_isolate 2 1: the others evict node 2 within ${WAITED}s"
else
  not_ok "cluster_node_isolate 2 1: node 1 sees a cluster of 2 within 15s ($(cluster_node_state 1))"
fi
# Node 2 notices on its own clock (its peers silent for evs.inactive_timeout): wait for it.
non_primary() { state=$(cluster_node_state "$1" || true) && [ "${state##* }" = non-Primary ]; }
state=''
wait_for 15 non_primary 2 || true
check "the isolated node 2 is not Primary ($state)" test "${state##* }" = non-Primary
if cluster_sql 2 "SELECT COUNT(*) FROM \`$DB_NAME\`.tasks" >/dev/null 2>"$E2E_TMP/isolated.err"; then
  not_ok 'the isolated node 2 refuses queries'
else
  check "the isolated node 2 refuses queries ($(grep -o 'ERROR 1047 [^:]*' "$E2E_TMP/isolated.err" || true))" \
    grep -q 'ERROR 1047' "$E2E_TMP/isolated.err"
fi
post 'while node 2 is isolated'
check 'with node 2 isolated, a POST through nginx succeeds' test "$STATUS" = 201
cluster_node_isolate 2 0
if wait_for 30 synced3 2; then
  ok "cluster_node_isolate 2 0: node 2 is Synced in a cluster of 3 again within ${WAITED}s"
else
  not_ok "node 2 Synced in a cluster of 3 within 30s of gmcast.isolate=0 ($(cluster_node_state 2))"
fi
check 'node 2 has the task written while it was isolated' test "$(count_on 2 'while node 2 is isolated')" = 1

# ---- kill taskapi instance 1: keyless POSTs still go through, once each ----
cluster_app_use 1
master=$(app_pid || true)
mapfile -t kids < <(ps -o pid= --ppid "${master:-1}" | tr -d ' ')
cluster_app_kill 1
alive=0
for pid in "$master" "${kids[@]}"; do if pid_alive "$pid"; then alive=$((alive + 1)); fi; done
check "cluster_app_kill 1: its master and its ${#kids[@]} children are gone" test -n "$master" -a "$alive" = 0
n=0
for i in 1 2 3 4 5 6; do if post "instance 1 down $i"; then n=$((n + 1)); fi; done
check "with instance 1 killed, 6 keyless POSTs through nginx all answer 201 ($n)" test "$n" = 6
check 'each was created once (6 rows on node 1)' test "$(count_on 1 'instance 1 down')" = 6
if (cluster_app_start 1) >"$E2E_TMP/app.log" 2>&1; then
  ok 'cluster_app_start 1: instance 1 runs again'
else
  not_ok 'cluster_app_start 1: instance 1 runs again'
  diag "$(tail -n 20 "$E2E_TMP/app.log")"
fi

# ---- the rig still stops cleanly, restarted processes included ----
if rig --stop >"$E2E_TMP/stop.out" 2>&1; then
  ok 'script/cluster --stop exits 0 (a node and an instance were killed and started again)'
else
  not_ok 'script/cluster --stop exits 0'
  diag "$(tail -n 20 "$E2E_TMP/stop.out")"
fi
left=$(cluster_leftovers)
check 'no mariadbd, nginx, taskapi or rsync of the rig left' test -z "$left"
[ -z "$left" ] || diag "$left"
