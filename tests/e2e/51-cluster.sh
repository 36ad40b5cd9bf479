#!/usr/bin/env bash
# 51-cluster: script/cluster, the Galera rig — three MariaDB Galera nodes on loopback
# (run as mysql, each its own datadir and ports), two taskapi instances naming the
# nodes in the same order, one nginx with both in its upstream. Started with
# --background: the nodes are Synced in a cluster of 3; tasks POSTed through nginx are
# in every node's database; both instances served some of them; /readyz and /status
# answer through nginx. With instance 2 replaced by a peer that takes requests and
# closes without an answer, nginx answers a keyless POST it swallowed 502 (never
# replayed on instance 1: it may have been applied) and passes a POST with an
# Idempotency-Key on to instance 1 (201). --stop leaves no process of any pid file.
# Then in the foreground, stopped by SIGINT (Ctrl-C) the same way.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$E2E_DIR/lib-admin.sh"
# shellcheck source=tests/e2e/lib-cluster.sh
. "$E2E_DIR/lib-cluster.sh"

rig_require
# From here on, stack.sh's variables (SECRETS_DIR, NGX_DIR, ...) are the rig's, not
# the test stack's: this test needs only the rig.
rig_start cluster-e2e
ok "script/cluster --background returns once the rig answers (${RIG_START_S}s), env file $env_file"
check 'its env file is run/cluster/cluster.env of the run folder, CLUSTER_READY=1' \
  test "$env_file" = "$rig_base/cluster/cluster.env" -a -n "$(grep -x 'CLUSTER_READY=1' "$env_file")"

# ---- the nodes ----
for n in 1 2 3; do
  state=$(cluster_node_state "$n" || echo 'no answer')
  check "node $n: wsrep_ready ON, Synced, cluster size 3, Primary ($state)" test "$state" = 'ON Synced 3 Primary'
done
uuids=$(for n in 1 2 3; do cluster_sql "$n" "SHOW STATUS LIKE 'wsrep_cluster_state_uuid'" | cut -f2; done | sort -u)
check 'the three nodes are in one cluster (one wsrep_cluster_state_uuid)' test "$(wc -l <<<"$uuids")" = 1
for n in 1 2 3; do
  pidfile=$(cluster_node_pidfile "$n")
  pid=$(cat "$pidfile" 2>/dev/null || true)
  check "run/cluster/db$n/mariadbd.pid holds a live mariadbd ($pid)" \
    test -n "$pid" -a "$(cat "/proc/$pid/comm" 2>/dev/null)" = mariadbd
  if is_root; then
    check "node $n runs as mysql (rsync SST fails as root)" test "$(stat -c %U "/proc/$pid" 2>/dev/null)" = mysql
  fi
  check "node $n listens on its own port 127.0.0.1:${CL_DB_PORT[$n]} with its own datadir" \
    test "$(cluster_sql "$n" 'SELECT @@port, @@datadir')" = "${CL_DB_PORT[$n]}	$(cluster_node_dir "$n")/data/"
done
check 'node 2 came from node 1 by rsync SST' grep -q 'rsync SST' "$(cluster_node_log 2)"

# ---- the instances: both list the three nodes, in the same order ----
want_nodes="nodes = 127.0.0.1:${CL_DB_PORT[1]}, 127.0.0.1:${CL_DB_PORT[2]}, 127.0.0.1:${CL_DB_PORT[3]}"
for n in 1 2; do
  cluster_app_use "$n"
  pid=$(app_pid || true)
  check "run/cluster/app$n/taskapi.pid holds a live taskapi ($pid)" test -n "$pid"
  check "instance $n: topology = galera and $want_nodes" \
    test "$(grep -xE 'topology = galera|nodes = .*' "$APP_CONF" | tr '\n' '|')" = "topology = galera|$want_nodes|"
done

# ---- tasks through nginx, read back from every node ----
ids=()
rids=()
for i in 1 2 3 4 5 6; do
  key=()
  # Two of them with an Idempotency-Key: nginx routes those to the location that may
  # retry them on the other instance.
  if [ "$i" -gt 4 ]; then key=(-H "Idempotency-Key: e2e-51-$i-$$"); fi
  http POST /tasks/ -H 'Content-Type: application/json' "${key[@]}" \
    --data-binary "{\"title\": \"cluster task $i ✓\"}"
  if [ "$STATUS" = 201 ]; then
    ids+=("$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY")")
    rids+=("$(header X-Request-Id)")
  else
    diag "POST $i: status $STATUS: $(head -c 300 "$BODY")"
  fi
done
check "6 POST /tasks/ through nginx (4 without an Idempotency-Key, 2 with): all 201" test "${#ids[@]}" = 6
want=$(for i in "${!ids[@]}"; do printf '%s\tcluster task %s ✓\n' "${ids[i]}" $((i + 1)); done)
in_list=$(IFS=,; echo "${ids[*]:-0}")
for n in 1 2 3; do
  # wsrep_sync_wait = 1: the read waits until the node has applied every write the
  # cluster committed before it (a causal read), so this is not a race.
  got=$(cluster_sql "$n" "SET SESSION wsrep_sync_wait = 1;
    SELECT id, title FROM \`$DB_NAME\`.tasks WHERE id IN ($in_list) ORDER BY id" 2>&1 || true)
  check "node $n's database holds all 6 tasks" test "$got" = "$want"
  [ "$got" = "$want" ] || diag "node $n: $got"
done
for id in "${ids[@]}"; do
  http GET "/tasks/$id"
  [ "$STATUS" = 200 ] || break
done
check 'each task reads back through nginx (GET /tasks/ID 200)' test "$STATUS" = 200

# ---- both instances served: each request id is in exactly one instance's log ----
served1=0 served2=0 once=0
for rid in "${rids[@]}"; do
  a=$(grep -c "access: $rid " "$CLUSTER_APP1_LOG" || true)
  b=$(grep -c "access: $rid " "$CLUSTER_APP2_LOG" || true)
  served1=$((served1 + a))
  served2=$((served2 + b))
  if [ $((a + b)) = 1 ]; then once=$((once + 1)); fi
done
check "each POST reached exactly one instance ($once of ${#rids[@]}, by its X-Request-Id in the access logs)" \
  test "$once" = 6
check "both instances served POSTs (instance 1: $served1, instance 2: $served2)" test "$served1" -gt 0 -a "$served2" -gt 0
for n in 1 2; do
  cluster_app_use "$n"
  admin_get "$APP_ADMIN_SOCK" /status
  reqs=$(status_field 'j["requests"]' 2>/dev/null || echo 0)
  check "instance $n's own /status (its admin socket) counts requests ($reqs)" test "$ADMIN_STATUS" = 200 -a "${reqs:-0}" -gt 0
done

# ---- /readyz, /status through nginx ----
http GET /readyz
expect_json 'GET /readyz through nginx: 200 ready' 200 'j.get("status") == "ready"'
http GET /status
expect_json 'GET /status through nginx: 200, the status of an instance' 200 'isinstance(j, dict) and "requests" in j'

# ---- nginx never replays a keyless write on the other instance ----
site=$NGX_DIR/taskapi-site.conf
check 'nginx: both instances in the upstream, max_fails=1 fail_timeout=2s, keepalive' \
  test "$(grep -cE "server unix:$CLUSTER_NODE_DIR/app[12]\\.sock max_fails=1 fail_timeout=2s;" "$site")" = 2 -a \
  -n "$(grep -E '^ *keepalive [0-9]+;' "$site")"
check 'nginx: the default location retries on error and timeout only (no non_idempotent)' \
  test "$(grep -h '^fastcgi_next_upstream' "$NGX_DIR/snippets/taskapi-fastcgi.conf")" = 'fastcgi_next_upstream error timeout;'
check 'nginx: requests with an Idempotency-Key go to a location with non_idempotent' \
  test "$(grep -h '^fastcgi_next_upstream' "$NGX_DIR/snippets/taskapi-fastcgi-retry.conf")" = \
  'fastcgi_next_upstream error timeout non_idempotent;' -a -n "$(grep -F 'if ($http_idempotency_key)' "$site")"

# ---- ... and in deed: a write that reached an instance is replayed only with a key ----
# Instance 2 is replaced by a FastCGI peer that reads each request whole, notes it,
# and closes the connection without an answer: to nginx the instance failed after the
# request was sent, and for all it knows the write was applied.
cluster_app_kill 2
fake_log=$E2E_TMP/fake.log
: >"$fake_log"
rm -f "$CLUSTER_APP2_SOCK" # the killed instance's, which nobody accepts on
python3 - "$CLUSTER_APP2_SOCK" "$fake_log" >"$E2E_TMP/fake.out" 2>&1 <<'PY' &
import os, socket, struct, sys
path, log = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
srv = socket.socket(socket.AF_UNIX)
srv.bind(path)
os.chmod(path, 0o666)
srv.listen(16)
while True:
    conn, _ = srv.accept()
    conn.settimeout(5)
    data = b""
    try:
        # Records until the empty STDIN record that ends the request body.
        done = False
        while not done:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
            off = 0
            while len(data) - off >= 8:
                _, rtype, _, clen, plen = struct.unpack(">BBHHB", data[off:off + 7])
                if len(data) - off < 8 + clen + plen:
                    break
                if rtype == 5 and clen == 0:
                    done = True
                off += 8 + clen + plen
    except OSError:
        pass
    if b"POST" in data:
        with open(log, "a") as f:
            f.write(("keyed" if b"HTTP_IDEMPOTENCY_KEY" in data else "plain") + "\n")
    conn.close()
PY
fake_pid=$!
at_exit "kill $fake_pid 2>/dev/null"
fake_hits() { grep -cx "$1" "$fake_log" || true; }
wait_for 10 test -S "$CLUSTER_APP2_SOCK" || true
# nginx may have taken instance 2 out of the rotation meanwhile (a connection to the
# killed one failed): let that pass. fail_timeout is 2 s, counted by nginx in whole
# seconds of its clock: up to 3 s.
sleep 3.2

# post_until KIND — POST through nginx, with an Idempotency-Key of its own each time
# when KIND is keyed, until the fake has swallowed 2 requests of KIND, 30 tries at
# most; after each one it swallowed, wait out fail_timeout (up to 3 s, as above) so
# that nginx sends it requests again (round robin: within a few). The answers go to
# CODES ("201 502 ..."), the tries to TRIES.
post_until() {
  local kind=$1 before key
  CODES='' TRIES=0
  while [ "$(fake_hits "$kind")" -lt 2 ] && [ "$TRIES" -lt 30 ]; do
    TRIES=$((TRIES + 1))
    key=()
    if [ "$kind" = keyed ]; then key=(-H "Idempotency-Key: e2e-51-replay-$TRIES-$$"); fi
    before=$(fake_hits "$kind")
    http POST /tasks/ -H 'Content-Type: application/json' "${key[@]}" \
      --data-binary "{\"title\": \"replay $kind $TRIES\"}"
    CODES+="$STATUS "
    if [ "$(fake_hits "$kind")" -gt "$before" ]; then sleep 3.2; fi
  done
}
# codes CODE — how many answers in CODES were CODE.
codes() {
  local c n=0
  for c in $CODES; do if [ "$c" = "$1" ]; then n=$((n + 1)); fi; done
  echo "$n"
}
rows() { cluster_sql 1 "SET SESSION wsrep_sync_wait = 1; SELECT COUNT(*) FROM \`$DB_NAME\`.tasks WHERE title LIKE 'replay $1 %'"; }

post_until plain
swallowed=$(fake_hits plain)
n201=$(codes 201)
n502=$(codes 502)
check "keyless POSTs: the failing instance got $swallowed of $TRIES (answers: $CODES)" test "$swallowed" = 2
check "each keyless POST it swallowed was answered 502, not passed to the other instance ($n502 x 502)" \
  test "$n502" = "$swallowed" -a $((n201 + n502)) = "$TRIES"
check "the keyless POSTs created only the $n201 tasks answered 201" test "$(rows plain)" = "$n201"

post_until keyed
swallowed=$(fake_hits keyed)
n201=$(codes 201)
check "POSTs with an Idempotency-Key: the failing instance got $swallowed of $TRIES (answers: $CODES)" \
  test "$swallowed" = 2
[ "$swallowed" = 2 ] || diag "the peer: $(cat "$E2E_TMP/fake.out")" "$(tail -n 8 "$NGX_DIR/error.log")"
check "every one was answered 201: nginx passed those it swallowed to the other instance" test "$n201" = "$TRIES"
check "each created one task ($TRIES)" test "$(rows keyed)" = "$TRIES"
kill "$fake_pid" 2>/dev/null || true
wait "$fake_pid" 2>/dev/null || true

# ---- --stop: everything of every pid file is gone ----
pids=("$(cat "$CLUSTER_PIDFILE" 2>/dev/null)" "$(cat "$CLUSTER_NGX_PIDFILE" 2>/dev/null)")
for n in 1 2 3; do pids+=("$(cat "$(cluster_node_pidfile "$n")" 2>/dev/null)"); done
for n in 1 2; do
  cluster_app_use "$n"
  pid=$(cat "$APP_PIDFILE" 2>/dev/null || true)
  pids+=("$pid")
  # and its workers
  mapfile -t -O "${#pids[@]}" pids < <(ps -o pid= --ppid "${pid:-1}" 2>/dev/null | tr -d ' ' || true)
done
stop_start=$SECONDS
if rig --stop >"$E2E_TMP/stop.out" 2>&1; then
  ok "script/cluster --stop exits 0 ($((SECONDS - stop_start))s)"
else
  not_ok 'script/cluster --stop exits 0'
  diag "$(tail -n 20 "$E2E_TMP/stop.out")"
fi
alive=()
for pid in "${pids[@]}"; do
  if [ -n "$pid" ] && pid_alive "$pid"; then alive+=("$pid $(pid_args "$pid")"); fi
done
check "none of the rig's ${#pids[@]} processes (supervisor, nginx, 3 nodes, 2 instances and their workers) is left" \
  test "${#alive[@]}" = 0
[ "${#alive[@]}" = 0 ] || diag "${alive[@]}"
left=$(cluster_leftovers)
check 'no mariadbd, nginx, taskapi or rsync of the rig left' test -z "$left"
[ -z "$left" ] || diag "$left"
check "the node folder $CLUSTER_NODE_DIR is removed" test ! -e "$CLUSTER_NODE_DIR"

# ---- the foreground rig stops on SIGINT (Ctrl-C) ----
# set -m: a process group of its own, or the shell would start it with SIGINT ignored.
# exec: fg_pid is script/cluster itself, not a subshell waiting for it.
set -m
(exec env TASKAPI_RUN_DIR="$rig_base" TASKAPI_PORT="$rig_port" TASKAPI_BIN="$TASKAPI_BIN" \
  "$TOP/script/cluster" </dev/null >"$E2E_TMP/fg.log" 2>&1) &
fg_pid=$!
set +m
at_exit "kill -TERM $fg_pid 2>/dev/null"
gone() { ! pid_alive "$1"; }
ready() { grep -qx 'CLUSTER_READY=1' "$env_file" 2>/dev/null; }
if wait_for 120 ready; then
  ok "script/cluster in the foreground: ready within ${WAITED}s"
  TASKAPI_RUN_DIR=$rig_base cluster_env
  pids=("$(cat "$CLUSTER_NGX_PIDFILE")")
  for n in 1 2 3; do pids+=("$(cat "$(cluster_node_pidfile "$n")")"); done
  kill -INT "$fg_pid"
  if wait_for 90 gone "$fg_pid"; then
    rc=0
    wait "$fg_pid" || rc=$?
    check "script/cluster exits 0 on SIGINT (${WAITED}s)" test "$rc" = 0
  else
    not_ok 'script/cluster exits within 90s of SIGINT'
  fi
  alive=()
  for pid in "${pids[@]}"; do
    if pid_alive "$pid"; then alive+=("$pid"); fi
  done
  check 'after SIGINT: nginx and the three nodes are gone, nothing of the rig left' \
    test "${#alive[@]}" = 0 -a -z "$(cluster_leftovers)"
else
  not_ok 'script/cluster in the foreground: ready within 120s'
  diag "$(tail -n 30 "$E2E_TMP/fg.log")"
fi
