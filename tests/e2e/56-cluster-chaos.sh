#!/usr/bin/env bash
# 56-cluster-chaos: taskapi on script/cluster's Galera rig (3 nodes, 2 instances, one
# nginx) while things break. Every create carries an Idempotency-Key and a failed
# create is retried with the same key (tests/e2e/cluster_load.py, the title is the key).
# - read-your-writes: 100 creates through instance 1, each read back at once through
#   instance 2 (which reads from any node, with wsrep_sync_wait = 1): all found;
# - a certification conflict: a third instance that lists node 2 first (a forced
#   multi-writer set-up) and instance 1 (writing to node 1) PATCH one task, several at
#   once: every answer 200, no update lost, and the nodes saw conflicts;
# - a partition: node 1 (the writer) cut off with gmcast.isolate under the load: it
#   answers 1047, taskapi moves its writes off it, and it rejoins when let back in;
# - failover: SIGKILL of the writer node, then of a whole taskapi instance, under the
#   load: every key ends as exactly one row with its acknowledged id on both surviving
#   nodes, and creates succeed again within 15 s.
# The load's figures (first attempts failed, the longest gap) are printed as diag; they
# are benchmark figures (script/bench --cluster), not assertions.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$E2E_DIR/lib-admin.sh"
# shellcheck source=tests/e2e/lib-cluster.sh
. "$E2E_DIR/lib-cluster.sh"

rig_require
rig_start cluster-chaos
ok "the rig is up (${RIG_START_S}s)"
export DB_NAME DB_ADMIN_USER
DB_ADMIN_USER=$(id -un)
node_socks=("" "$CLUSTER_DB1_SOCK" "$CLUSTER_DB2_SOCK" "$CLUSTER_DB3_SOCK")
node1="127.0.0.1:${CL_DB_PORT[1]}"

# metric N NAME — instance N's value of one /metrics series (the whole line's name and
# labels as written), 0 when absent.
metric() {
  cluster_app_use "$1"
  admin_get "$APP_ADMIN_SOCK" /metrics
  awk -v k="$2" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }' "$ADMIN_BODY"
}

# load PREFIX SECONDS — cluster_load.py in the background through nginx; its report is
# $E2E_TMP/PREFIX.json once load_wait returns.
load() {
  python3 "$E2E_DIR/cluster_load.py" --url "$CLUSTER_URL" --clients 4 --seconds "$2" --prefix "$1" \
    --retry-ms 200 --give-up-s 60 --timeout-s 10 --mark-dir "$E2E_TMP/marks-$1" \
    --out "$E2E_TMP/$1.json" >"$E2E_TMP/$1.out" 2>&1 &
  LOAD_PID=$!
  mkdir -p "$E2E_TMP/marks-$1"
}
load_wait() {
  if wait "$LOAD_PID" && [ -s "$E2E_TMP/$1.json" ]; then
    ok "the $1 load ran to its end"
  else
    not_ok "the $1 load ran to its end"
    diag "$(tail -n 20 "$E2E_TMP/$1.out")"
  fi
}
figures() {
  python3 - "$E2E_TMP/$1.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n = len(r["created"]) + len(r["unresolved"])
print("# %d creates, %d attempts, first attempts failed: %d (%.1f %%), replayed answers: %d, "
      "longest gap without a successful create: %.2f s (at %.1f s), marks: %s, statuses: %s"
      % (n, r["attempts"], r["first_failures"], 100.0 * r["first_failures"] / max(n, 1), r["replayed"],
         r["max_gap_s"], r["max_gap_at_s"], r["marks"], r["statuses"]))
PY
}

# ---- read-your-writes across instances -------------------------------------------
python3 "$E2E_DIR/cluster_check.py" ryw "$CLUSTER_APP1_SOCK" "$CLUSTER_APP2_SOCK" 100

# ---- a certification conflict: two writers on one row ---------------------------
# Instance 3 names node 2 first: its writes go to node 2 while instance 1's go to node 1.
cluster_app_use 3
# shellcheck disable=SC2034 # read by taskapi_render_config
APP_DB_SERVER="topology = galera
nodes = 127.0.0.1:${CL_DB_PORT[2]}, 127.0.0.1:${CL_DB_PORT[1]}, 127.0.0.1:${CL_DB_PORT[3]}"
taskapi_render_config
unset APP_DB_SERVER
cluster_app_start 3
app3_sock=$APP_SOCK
# conflicts — certification failures and brute-force aborts, all nodes together.
conflicts() {
  local n c sum=0
  for n in 1 2 3; do
    c=$(cluster_sql "$n" "SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS
      WHERE VARIABLE_NAME IN ('WSREP_LOCAL_CERT_FAILURES', 'WSREP_LOCAL_BF_ABORTS')")
    sum=$((sum + ${c:-0}))
  done
  echo "$sum"
}
conflicts_before=$(conflicts)
id=$(python3 - "$E2E_DIR" "$CLUSTER_APP1_SOCK" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
import cluster_check
st, body = cluster_check.fcgi(sys.argv[2], b"POST", b"/tasks/", b'{"title": "contended"}')
print(json.loads(body)["id"] if st == 201 else 0)
PY
)
python3 "$E2E_DIR/cluster_check.py" patch "$CLUSTER_APP1_SOCK" "$app3_sock" "$id" 200
conflicts=$(conflicts)
check "the nodes saw certification conflicts or brute-force aborts ($((conflicts - conflicts_before)))" \
  test "$conflicts" -gt "$conflicts_before"
diag "reruns after a conflict: instance 1 $(metric 1 'taskapi_db_reruns_total{reason="deadlock"}'), instance 3 $(metric 3 'taskapi_db_reruns_total{reason="deadlock"}')"
cluster_app_stop 3

# ---- a partition: the writer node cut off ------------------------------------------
load part 24
sleep 4
cluster_node_isolate 1 1
touch "$E2E_TMP/marks-part/isolated"
refused=''
for _ in $(seq 50); do
  if refused=$(cluster_sql 1 "SELECT COUNT(*) FROM \`$DB_NAME\`.tasks" 2>&1); then sleep 0.2; else break; fi
done
check "the isolated node refuses queries with 1047 ($refused)" grep -q 'ERROR 1047' <<<"$refused"
sleep 8
cluster_node_isolate 1 0
touch "$E2E_TMP/marks-part/rejoined"
if cluster_node_wait 1 60 3 2>"$E2E_TMP/rejoin.err"; then
  ok 'node 1 rejoins when the link returns: Synced in a cluster of 3'
else
  not_ok 'node 1 rejoins when the link returns'
  diag "$(cat "$E2E_TMP/rejoin.err")"
fi
load_wait part
figures part
python3 "$E2E_DIR/cluster_check.py" rows "$E2E_TMP/part.json" part "${node_socks[1]}" "${node_socks[2]}" "${node_socks[3]}"
f1=$(metric 1 "taskapi_db_node_failures_total{node=\"$node1\"}")
f2=$(metric 2 "taskapi_db_node_failures_total{node=\"$node1\"}")
check "both instances marked node 1 down (failures: $f1, $f2)" test "${f1:-0}" -gt 0 -a "${f2:-0}" -gt 0
# Writes move back to the first node once it is healthy again.
back=0
for _ in $(seq 50); do
  w=$(metric 1 "taskapi_db_node_writer{node=\"$node1\"}")
  if [ "${w:-0}" -gt 0 ]; then back=1 && break; fi
  sleep 0.2
done
check 'instance 1 writes to node 1 again once it is back' test "$back" = 1

# ---- failover: the writer node, then a whole instance, killed ---------------------
load fail 24
sleep 4
cluster_node_kill 1 KILL
touch "$E2E_TMP/marks-fail/node1-killed"
sleep 4
cluster_app_kill 1 KILL
touch "$E2E_TMP/marks-fail/app1-killed"
load_wait fail
figures fail
python3 "$E2E_DIR/cluster_check.py" rows "$E2E_TMP/fail.json" fail "${node_socks[2]}" "${node_socks[3]}"
gap=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["max_gap_s"])' "$E2E_TMP/fail.json")
check "creates succeed again within 15 s of each failure (longest gap without one: ${gap}s)" \
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 15 else 1)' "$gap"

rig --stop >/dev/null 2>&1 || true
