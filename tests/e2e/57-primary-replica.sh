#!/usr/bin/env bash
# 57-primary-replica: database.topology = primary_replicas against real MariaDB
# replication — a primary and two GTID replicas of the test's own
# (tests/e2e/replica-lib.sh), and two taskapi instances naming them (primary first): one
# with read_consistency = eventual, one with causal. Where each statement ran is counted
# on the servers (Com_stmt_execute: taskapi's statements are prepared; replication
# applies row events, which count as no statement). Eventual: POSTs execute on the
# primary only and their rows arrive on the replicas by replication; GETs execute on
# the replicas only, round robin (both serve some). Replica 2 SIGKILLed: GETs answer 200
# from replica 3, and /metrics (the admin socket) shows replica 2 down; replica 3
# SIGKILLed too: GETs answer 200 from the primary. Both started again: after
# node_down_ms and a check they are up, and GETs go back to them. Causal: GETs execute
# on the primary only. The primary SIGKILLed: POSTs answer 503 with Retry-After, nothing
# executes on a replica and their rows stay as they were (no silent write to a
# replica); eventual GETs still answer 200 from the replicas.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$E2E_DIR/lib-admin.sh"
# shellcheck source=tests/e2e/replica-lib.sh
. "$E2E_DIR/replica-lib.sh"

N=6 # requests per step (even: round robin gives each replica half)
DOWN_MS=1000

# ---- the servers ----
start=$SECONDS
app_pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
migrate_pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s' "$app_pw" >"$E2E_TMP/app.pass" && printf '%s' "$migrate_pw" >"$E2E_TMP/migrate.pass")
if ! rs_install || ! rs_start 1 2 3 || ! rs_provision "$app_pw" "$migrate_pw"; then
  not_ok 'a primary and two replicas start, and the replicas follow the primary'
  exit 0
fi
# ---- taskapi's configuration: both nodes, the primary first ----
nodes="127.0.0.1:${RS_PORT[1]}, 127.0.0.1:${RS_PORT[2]}, 127.0.0.1:${RS_PORT[3]}"
# NODE[N]: node N as taskapi names it in /metrics.
NODE=('' "127.0.0.1:${RS_PORT[1]}" "127.0.0.1:${RS_PORT[2]}" "127.0.0.1:${RS_PORT[3]}")
ini=$E2E_TMP/replica.ini
(umask 077 && cat >"$ini" <<EOF
[server]
listen =
workers = 1
threads = 2

[database]
topology = primary_replicas
nodes = $nodes
name = $DB_NAME
user = $DB_APP_USER
password_file = $E2E_TMP/app.pass
migrations_dir = $TOP/sql
migrate_user = $DB_MIGRATE_USER
migrate_password_file = $E2E_TMP/migrate.pass
health_interval_ms = 200
node_down_ms = $DOWN_MS
acquire_timeout_ms = 2000
connect_timeout_s = 1
read_consistency = eventual

[log]
level = info
access_log = true

[auth]
mode = none
EOF
)
root_args
# migrate connects to database.host/port, not to nodes: the primary.
if "$TASKAPI_BIN" migrate --config "$ini" "${ROOT_ARGS[@]}" --set database.host=127.0.0.1 \
  --set "database.port=${RS_PORT[1]}" </dev/null >"$E2E_TMP/migrate.log" 2>&1 &&
  rs_caught_up 10; then
  ok 'taskapi migrate against the primary; the schema replicated'
else
  not_ok 'taskapi migrate against the primary; the schema replicated'
  diag "$(tail -n 10 "$E2E_TMP/migrate.log")"
  exit 0
fi
pos=$(rs_sql 1 'SELECT @@gtid_binlog_pos')
for n in 2 3; do
  running=$(rs_status "$n" Slave_running)
  at=$(rs_sql "$n" 'SELECT @@gtid_slave_pos')
  check "replica $n runs replication (Slave_running $running) at the primary's GTID position ($at of $pos)" \
    test "$running" = ON -a "$at" = "$pos" -a -n "$pos"
done
tables() { rs_sql "$1" "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$DB_NAME'"; }
check "the replicas have the primary's tables ($(tables 1), $(tables 2), $(tables 3))" \
  test "$(tables 1)" = "$(tables 2)" -a "$(tables 1)" = "$(tables 3)" -a "$(tables 1)" -gt 0

# instance NAME CONSISTENCY — a taskapi on $E2E_TMP/NAME.sock, admin socket
# $E2E_TMP/NAME-admin.sock; false when /healthz does not answer within 15 s.
instance() {
  ta_start "$1" "$TASKAPI_BIN" --config "$ini" "${ROOT_ARGS[@]}" --set "server.listen=$E2E_TMP/$1.sock" \
    --set "server.admin_listen=$E2E_TMP/$1-admin.sock" --set "database.read_consistency=$2"
  wait_for 15 fcgi_ok "$E2E_TMP/$1.sock" || { diag "$1: no /healthz: $(tail -n 5 "$E2E_TMP/$1.log")"; return 1; }
}
if ! instance ev eventual || ! instance ca causal; then
  not_ok 'two taskapi instances (eventual, causal) start on the primary and the replicas'
  exit 0
fi
ok "two taskapi instances (eventual, causal) serve, nodes = $nodes ($((SECONDS - start)) s so far)"

# ---- counting statements ----
# mark — remember each node's Com_stmt_execute; delta — D[N]: how much node N's moved
# since (a node that does not answer counts 0).
stmts() { rs_status "$1" Com_stmt_execute 2>/dev/null || echo 0; }
mark() {
  local n
  for n in 1 2 3; do M[n]=$(stmts "$n"); M[n]=${M[n]:-0}; done
}
delta() {
  local n v
  for n in 1 2 3; do
    v=$(stmts "$n")
    D[n]=$((${v:-0} - M[n]))
  done
  DS="primary +${D[1]}, replica 2 +${D[2]}, replica 3 +${D[3]}"
}
declare -a M D
# On a replica, the replication applier's row events move no Com_ counter, and the
# health checks (a ping) and the pool's validations (a ping) are no statements either:
# between requests, no counter moves. Checked, so that the counts below mean something.
mark
sleep 1
delta
check "with no requests, no statement runs on any node in 1 s ($DS)" test "${D[1]}${D[2]}${D[3]}" = 000

# get_all SOCKET — GET /tasks/ID for every id in IDS; GOT is how many answered 200.
get_all() {
  local status retry id
  GOT=0
  while read -r status retry id; do
    if [ "$status" = 200 ]; then GOT=$((GOT + 1)); else diag "a GET answered $status"; fi
  done < <(rs_requests "$1" get "${IDS[@]}")
}
# rows N — how many of IDS node N's tasks table holds.
rows() {
  local list
  list=$(IFS=,; echo "${IDS[*]:-0}")
  rs_sql "$1" "SELECT COUNT(*) FROM \`$DB_NAME\`.tasks WHERE id IN ($list)"
}
ev=$E2E_TMP/ev.sock
ca=$E2E_TMP/ca.sock
scrape() { admin_scrape "$E2E_TMP/$1-admin.sock" "$E2E_TMP/$1.prom"; }
# node_up INSTANCE NODE WANT — /metrics of INSTANCE says taskapi_db_node_up WANT for NODE.
node_up() {
  scrape "$1"
  [ "$(prom "$E2E_TMP/$1.prom" "taskapi_db_node_up{node=\"$2\"}")" = "$3" ]
}

# ---- eventual: writes to the primary, reads from the replicas ----
all_up() { node_up "$1" "${NODE[1]}" 1 && node_up "$1" "${NODE[2]}" 1 && node_up "$1" "${NODE[3]}" 1; }
check 'eventual: /metrics (admin socket) shows the three nodes up, within 5 s' wait_for 5 all_up ev
mark
mapfile -t titles < <(seq -f 'replica e2e %g ✓' "$N")
IDS=()
while read -r status retry id; do
  if [ "$status" = 201 ]; then IDS+=("$id"); else diag "a POST answered $status"; fi
done < <(rs_requests "$ev" post "${titles[@]}")
delta
check "eventual: $N POSTs answer 201" test "${#IDS[@]}" = "$N"
check "... their statements ran on the primary only ($DS)" test "${D[1]}" -ge "$N" -a "${D[2]}${D[3]}" = 00
rs_caught_up 10 || true
check "... and both replicas have their $N rows by replication ($(rows 2), $(rows 3))" \
  test "$(rows 2)" = "$N" -a "$(rows 3)" = "$N"

# replicas_served — the last GETs ran on the replicas only, round robin: each some.
replicas_served() { [ "${D[1]}" = 0 ] && [ "${D[2]}" -ge 1 ] && [ "${D[3]}" -ge 1 ] && [ $((D[2] + D[3])) -ge "$N" ]; }
mark
get_all "$ev"
delta
check "eventual: $N GETs answer 200 ($GOT)" test "$GOT" = "$N"
check "... they ran on the replicas, round robin, none on the primary ($DS)" replicas_served

# ---- the replicas crash, one after the other ----
rs_kill "${RS_PID[2]}"
mark
get_all "$ev"
delta
check "replica 2 killed: eventual GETs still answer 200 ($GOT of $N)" test "$GOT" = "$N"
check "... from replica 3, none on the primary ($DS)" test "${D[3]}" -ge "$N" -a "${D[1]}" = 0
check "... /metrics (admin socket) shows replica 2 down, within 5 s" wait_for 5 node_up ev "${NODE[2]}" 0
fails=$(prom "$E2E_TMP/ev.prom" "taskapi_db_node_failures_total{node=\"${NODE[2]}\"}")
check "... taskapi_db_node_failures_total counts it ($fails)" test "$fails" -ge 1
rs_kill "${RS_PID[3]}"
mark
get_all "$ev"
delta
check "replica 3 killed too: eventual GETs still answer 200 ($GOT of $N)" test "$GOT" = "$N"
check "... from the primary ($DS)" test "${D[1]}" -ge "$N"
check "... /metrics shows replica 3 down, within 5 s" wait_for 5 node_up ev "${NODE[3]}" 0
check "... and the primary up" node_up ev "${NODE[1]}" 1

# ---- ... and come back ----
if rs_start 2 3; then
  ok 'the replicas start again on their ports'
else
  not_ok 'the replicas start again on their ports'
fi
check "after node_down_ms ($DOWN_MS) and a check, /metrics shows all three up again, within 10 s" \
  wait_for 10 all_up ev
rs_caught_up 10 || true
mark
get_all "$ev"
delta
check "replicas back: eventual GETs answer 200 ($GOT of $N)" test "$GOT" = "$N"
check "... from the replicas again, round robin, none on the primary ($DS)" replicas_served

# ---- causal: reads on the primary ----
mark
get_all "$ca"
delta
check "causal: $N GETs answer 200 ($GOT)" test "$GOT" = "$N"
check "... they ran on the primary only ($DS)" test "${D[1]}" -ge "$N" -a "${D[2]}${D[3]}" = 00

# ---- the primary crashes: no write goes anywhere else ----
rs_caught_up 10 || true
replica_tasks() { rs_sql 2 "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM \`$DB_NAME\`.tasks"; rs_sql 3 "SELECT COUNT(*), COALESCE(MAX(id), 0) FROM \`$DB_NAME\`.tasks"; }
before_rows=$(replica_tasks | tr '\t\n' ' ')
rs_kill "${RS_PID[1]}"
mark
answered=0 retries=0
while read -r status retry id; do
  [ "$status" != 503 ] || answered=$((answered + 1))
  [ "$retry" = - ] || retries=$((retries + 1))
  [ "$status" = 503 ] || diag "a POST answered $status (id $id)"
done < <(rs_requests "$ev" post 'after the primary died 1' 'after the primary died 2' 'after the primary died 3')
delta
check "primary killed: 3 POSTs answer 503 ($answered) with Retry-After ($retries)" test "$answered" = 3 -a "$retries" = 3
check "... none of them ran a statement on a replica ($DS)" test "${D[2]}${D[3]}" = 00
after_rows=$(replica_tasks | tr '\t\n' ' ')
check "... and the replicas' tasks (count, highest id) are unchanged ($before_rows-> $after_rows)" \
  test "$before_rows" = "$after_rows"
mark
get_all "$ev"
delta
check "primary killed: eventual GETs still answer 200 from the replicas ($GOT of $N; $DS)" replicas_served
check "... and /metrics shows the primary down, within 5 s" wait_for 5 node_up ev "${NODE[1]}" 0
# A causal read never goes to a replica, which may lag: with the primary down, 503.
mark
get_all "$ca"
delta
check "primary killed: causal GETs answer 503, none served by a replica ($GOT of $N answered 200; $DS)" \
  test "$GOT" = 0 -a "$((D[2] + D[3]))" = 0
diag "the test took $((SECONDS - start)) s"
