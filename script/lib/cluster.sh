# shellcheck shell=bash
# shellcheck disable=SC2034 # the paths set here are read by the scripts that source it
# script/lib/cluster.sh — the Galera test and demo rig of script/cluster: three MariaDB
# Galera nodes on loopback, two taskapi instances and one nginx in front of both, on
# http://127.0.0.1:${TASKAPI_PORT:-8080}. Also the helpers of the cluster tests (kill,
# restart or isolate a node, query a node, kill an app instance). Source common.sh and
# stack.sh first, then call cluster_env. docs/scaling.md describes the rig.
#
# Where things live:
#   ${TASKAPI_RUN_DIR:-run}/cluster/        the rig's folder (CL_DIR): cluster.env (ports,
#       paths, the supervisor's pid; read by the tests), secrets/, nginx/, app1/ and
#       app2/ (taskapi.ini, taskapi.pid, taskapi.log), db1/ db2/ db3/ (mariadbd.pid, a
#       link to the node's error.log), migrate.log, cluster.log (--background).
#   /tmp/taskapi-cluster.XXXXXX/            the node folder (CLUSTER_NODE_DIR, 0711):
#       dbN/ (datadir, socket, error log) and the taskapi sockets. The nodes run as the
#       user mysql (rsync SST fails as root), which may not be able to enter the
#       checkout (CI clones into a 0700 folder of root's): so their files live here, and
#       the rig writes their pid files into CL_DIR itself. A fresh folder at each start,
#       removed at the stop: the rig keeps no data from one run to the next.
# Every process is started by stack.sh's spawn and stopped by its pid file.

CLUSTER_NODES=3
CLUSTER_APPS=2
CLUSTER_PROVIDER=${TASKAPI_GALERA_PROVIDER:-/usr/lib/galera/libgalera_smm.so}

# Galera's group communication settings (wsrep_provider_options), tuned so that a node
# that is SIGKILLed, frozen or cut off is evicted from the cluster within about 3 s
# (defaults: 5 s to suspect, 15 s to evict). docs/scaling.md says why and what it costs:
# on a machine that stalls a node for over 2 s (swap, a debugger), the others evict it
# and it has to rejoin with IST or SST.
#   evs.keepalive_period      0.5 s  how often a silent node sends a keepalive (1 s)
#   evs.inactive_check_period 0.5 s  how often peers are checked for silence (0.5 s)
#   evs.suspect_timeout       2 s    silent this long: suspected; evicted as soon as all
#                                    the others suspect it too (5 s)
#   evs.inactive_timeout      3 s    silent this long: evicted unconditionally (15 s)
#   evs.install_timeout       3 s    how long the new membership may take to settle (7.5 s)
#   gmcast.peer_timeout       2 s    a connection to a peer that is being set up (3 s)
#   gcache.size               32M    the write-set cache a rejoining node's IST comes
#                                    from: ample for a test, small on disk (128M)
CLUSTER_EVS_OPTIONS='evs.keepalive_period=PT0.5S; evs.inactive_check_period=PT0.5S; evs.suspect_timeout=PT2S; evs.inactive_timeout=PT3S; evs.install_timeout=PT3S; gmcast.peer_timeout=PT2S; gcache.size=32M'

# cluster_env [new] — the rig's paths and settings (CL_*, CLUSTER_*, and stack.sh's
# variables through stack_env: SECRETS_DIR, NGX_*, DB_NAME...). With "new": plan a new
# rig (free ports, a new node folder) and write cluster.env; without: read the
# cluster.env of the rig that runs, or ran last, in this run folder.
cluster_env() {
  local base=${TASKAPI_RUN_DIR:-$TOP/run}
  mkdir -p "$base/cluster"
  CL_DIR=$(cd "$base/cluster" && pwd)
  CL_ENV=$CL_DIR/cluster.env
  CL_PIDFILE=$CL_DIR/cluster.pid
  CL_LOG=$CL_DIR/cluster.log
  CLUSTER_NODE_DIR='' CLUSTER_PORT='' CLUSTER_READY=0
  CLUSTER_DB_PORTS='' CLUSTER_GCOMM_PORTS='' CLUSTER_IST_PORTS='' CLUSTER_SST_PORTS=''
  if [ "${1:-}" = new ]; then
    cluster_plan
  elif [ -r "$CL_ENV" ]; then
    # shellcheck source=/dev/null
    . "$CL_ENV"
  fi
  # stack.sh's layout with CL_DIR as the run folder: secrets/, nginx/, migrate.log;
  # its sock-dir file names the node folder, where the taskapi sockets go too.
  TASKAPI_RUN_DIR=$CL_DIR TASKAPI_PORT=${CLUSTER_PORT:-${TASKAPI_PORT:-8080}} stack_env
  read -ra CL_DB_PORT <<<"0 $CLUSTER_DB_PORTS"
  read -ra CL_GCOMM_PORT <<<"0 $CLUSTER_GCOMM_PORTS"
  read -ra CL_IST_PORT <<<"0 $CLUSTER_IST_PORTS"
  read -ra CL_SST_PORT <<<"0 $CLUSTER_SST_PORTS"
  CL_APP_PID=('' '' '')
  CL_APP_EXIT=('' '' '')
  CL_NODE_PID=('' '' '' '')
  if [ -n "$CLUSTER_NODE_DIR" ]; then
    # Provisioning, the client option files of secrets/ and taskapi migrate use node 1.
    DB_SOCK=$(cluster_node_sock 1)
    DB_DATA=$(cluster_node_dir 1)/data
    local nodes='' n
    for n in $(seq "$CLUSTER_NODES"); do
      nodes+="${nodes:+, }127.0.0.1:${CL_DB_PORT[$n]}"
    done
    # taskapi_render_config puts these where the single stack has its socket line.
    APP_DB_SERVER="topology = galera
; every instance lists the nodes in the same order, so that all write to the same one
nodes = $nodes
; node 1 again: taskapi migrate and taskapi token connect to host and port, not nodes
host = 127.0.0.1
port = ${CL_DB_PORT[1]}"
  fi
}

# cluster_free_ports N — N distinct unused TCP ports on 127.0.0.1, on one line (all
# bound at once, so no two are the same).
cluster_free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# cluster_plan — a new node folder and the ports of a new rig, written to cluster.env.
cluster_plan() {
  local ports
  CLUSTER_PORT=${TASKAPI_PORT:-8080}
  CLUSTER_NODE_DIR=$(mktemp -d /tmp/taskapi-cluster.XXXXXX)
  chmod 0711 "$CLUSTER_NODE_DIR"
  echo "$CLUSTER_NODE_DIR" >"$CL_DIR/sock-dir"
  read -ra ports <<<"$(cluster_free_ports $((4 * CLUSTER_NODES)))"
  CLUSTER_DB_PORTS="${ports[*]:0:3}"
  CLUSTER_GCOMM_PORTS="${ports[*]:3:3}"
  CLUSTER_IST_PORTS="${ports[*]:6:3}"
  CLUSTER_SST_PORTS="${ports[*]:9:3}"
  CLUSTER_READY=0
  cluster_write_env
}

# cluster_write_env — cluster.env, a shell file the tests source: the ports, the pid
# files, sockets and logs of every process, the supervisor's pid, and CLUSTER_READY=1
# once everything answers. Written whole and renamed, so a reader never sees half.
cluster_write_env() {
  local n tmp=$CL_ENV.tmp
  {
    echo "# script/cluster's rig in $CL_DIR — written by script/lib/cluster.sh"
    echo "CLUSTER_READY=$CLUSTER_READY"
    echo "CLUSTER_URL=http://127.0.0.1:$CLUSTER_PORT"
    echo "CLUSTER_PORT=$CLUSTER_PORT"
    echo "CLUSTER_DIR=$CL_DIR"
    echo "CLUSTER_NODE_DIR=$CLUSTER_NODE_DIR"
    echo "CLUSTER_PIDFILE=$CL_PIDFILE"
    echo "CLUSTER_DB_PORTS='$CLUSTER_DB_PORTS'"
    echo "CLUSTER_GCOMM_PORTS='$CLUSTER_GCOMM_PORTS'"
    echo "CLUSTER_IST_PORTS='$CLUSTER_IST_PORTS'"
    echo "CLUSTER_SST_PORTS='$CLUSTER_SST_PORTS'"
    for n in $(seq "$CLUSTER_NODES"); do
      echo "CLUSTER_DB${n}_PIDFILE=$CL_DIR/db$n/mariadbd.pid"
      echo "CLUSTER_DB${n}_SOCK=$CLUSTER_NODE_DIR/db$n/mysqld.sock"
      echo "CLUSTER_DB${n}_LOG=$CLUSTER_NODE_DIR/db$n/error.log"
    done
    for n in $(seq "$CLUSTER_APPS"); do
      echo "CLUSTER_APP${n}_PIDFILE=$CL_DIR/app$n/taskapi.pid"
      echo "CLUSTER_APP${n}_CONF=$CL_DIR/app$n/taskapi.ini"
      echo "CLUSTER_APP${n}_LOG=$CL_DIR/app$n/taskapi.log"
      echo "CLUSTER_APP${n}_SOCK=$CLUSTER_NODE_DIR/app$n.sock"
      echo "CLUSTER_APP${n}_ADMIN_SOCK=$CLUSTER_NODE_DIR/app$n-admin.sock"
    done
    echo "CLUSTER_NGX_PIDFILE=$CL_DIR/nginx/nginx.pid"
    echo "CLUSTER_NGX_ACCESS_LOG=$CL_DIR/nginx/access.log"
  } >"$tmp"
  mv "$tmp" "$CL_ENV"
}

# cluster_pid — the pid of the rig's supervisor (script/cluster), if it runs.
cluster_pid() { pid_from_file "$CL_PIDFILE" script/cluster; }

# ---- the Galera nodes ----

cluster_node_dir() { printf '%s/db%s\n' "$CLUSTER_NODE_DIR" "$1"; }
cluster_node_sock() { printf '%s/db%s/mysqld.sock\n' "$CLUSTER_NODE_DIR" "$1"; }
cluster_node_pidfile() { printf '%s/db%s/mariadbd.pid\n' "$CL_DIR" "$1"; }
cluster_node_log() { printf '%s/db%s/error.log\n' "$CLUSTER_NODE_DIR" "$1"; }
cluster_node_pid() { pid_from_file "$(cluster_node_pidfile "$1")" "--datadir=$(cluster_node_dir "$1")/data"; }

# cluster_gcomm — the cluster address every node is given: all three, in order.
cluster_gcomm() {
  local n addr=''
  for n in $(seq "$CLUSTER_NODES"); do
    addr+="${addr:+,}127.0.0.1:${CL_GCOMM_PORT[$n]}"
  done
  printf 'gcomm://%s\n' "$addr"
}

# cluster_node_start N [new] — start node N and return at once (cluster_node_wait waits
# for it). "new" bootstraps a new cluster from it (--wsrep-new-cluster), creating its
# datadir first; otherwise it joins the others, and its state comes from a donor: by IST
# (the write-sets it missed, from the donor's gcache) when it has a datadir that knows
# its position, else by SST (rsync of the donor's whole datadir into its own, which may
# be empty).
cluster_node_start() {
  local n=$1 mode=${2:-join} dir data pid user_opt=() new_opt=()
  if pid=$(cluster_node_pid "$n"); then
    die "node $n already runs (pid $pid); stop it first"
  fi
  dir=$(cluster_node_dir "$n")
  data=$dir/data
  mkdir -p "$data" "$dir/tmp" "$CL_DIR/db$n"
  chmod 0711 "$dir"
  chmod 0700 "$data" "$dir/tmp"
  if is_root; then
    # As root, mariadbd switches to mysql itself (--user); its files must be mysql's.
    user_opt=(--user=mysql)
    chown mysql:mysql "$dir" "$data" "$dir/tmp"
  fi
  ln -sfn "$dir/error.log" "$CL_DIR/db$n/error.log"
  if [ "$mode" = new ]; then
    new_opt=(--wsrep-new-cluster)
    if [ ! -d "$data/mysql" ]; then
      say "galera: creating the datadir of node 1 in $data"
      if ! mariadb-install-db --no-defaults --datadir="$data" "${user_opt[@]}" \
        --auth-root-authentication-method=socket --skip-test-db --tmpdir="$dir/tmp" \
        >"$dir/install.log" 2>&1; then
        tail -n 20 "$dir/install.log" >&2
        die "mariadb-install-db failed (full log: $dir/install.log)"
      fi
    fi
  fi
  say "galera: starting node $n ($mode) on 127.0.0.1:${CL_DB_PORT[$n]}, $(cluster_node_sock "$n")"
  # --no-defaults: nothing from /etc/mysql. The settings of the single stack, plus TCP
  # on loopback (taskapi names the nodes by host:port) and what Galera needs: row-based
  # replication, interleaved auto-increment locks, InnoDB (only InnoDB tables
  # replicate). Each node has its own ports for clients, group communication, IST and
  # SST. docs/scaling.md explains each setting.
  spawn "$dir" "$dir/stderr.log" mariadbd --no-defaults "${user_opt[@]}" \
    --datadir="$data" --socket="$dir/mysqld.sock" --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
    --port="${CL_DB_PORT[$n]}" --bind-address=127.0.0.1 --skip-name-resolve \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
    --innodb-flush-log-at-trx-commit=1 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    --binlog-format=ROW --innodb-autoinc-lock-mode=2 --default-storage-engine=InnoDB \
    --wsrep-on=ON --wsrep-provider="$CLUSTER_PROVIDER" \
    --wsrep-cluster-name=taskapi-rig --wsrep-node-name="db$n" \
    --wsrep-cluster-address="$(cluster_gcomm)" \
    --wsrep-node-address="127.0.0.1:${CL_GCOMM_PORT[$n]}" \
    --wsrep-node-incoming-address="127.0.0.1:${CL_DB_PORT[$n]}" \
    --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:${CL_GCOMM_PORT[$n]}; ist.recv_addr=127.0.0.1:${CL_IST_PORT[$n]}; $CLUSTER_EVS_OPTIONS" \
    --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:${CL_SST_PORT[$n]}" \
    "${new_opt[@]}" ${TASKAPI_MARIADB_ARGS:-}
  CL_NODE_PID[n]=$!
  echo "${CL_NODE_PID[n]}" >"$(cluster_node_pidfile "$n")"
}

# cluster_sql N SQL — run SQL on node N over its socket, as the administrative account
# (install-db gave root, or the user who made the rig, socket authentication: the
# SST copies that account to every node). Tab-separated rows, no column names.
cluster_sql() {
  mariadb --no-defaults --socket="$(cluster_node_sock "$1")" --user="$(id -un)" \
    --connect-timeout=2 --batch --skip-column-names -e "$2"
}

# cluster_node_state N — "wsrep_ready wsrep_local_state_comment wsrep_cluster_size
# wsrep_cluster_status" of node N, e.g. "ON Synced 3 Primary"; false when it does not answer.
cluster_node_state() {
  local out
  out=$(cluster_sql "$1" "SELECT
      MAX(IF(VARIABLE_NAME = 'WSREP_READY', VARIABLE_VALUE, NULL)),
      MAX(IF(VARIABLE_NAME = 'WSREP_LOCAL_STATE_COMMENT', VARIABLE_VALUE, NULL)),
      MAX(IF(VARIABLE_NAME = 'WSREP_CLUSTER_SIZE', VARIABLE_VALUE, NULL)),
      MAX(IF(VARIABLE_NAME = 'WSREP_CLUSTER_STATUS', VARIABLE_VALUE, NULL))
    FROM information_schema.GLOBAL_STATUS" 2>/dev/null) || return 1
  [ -n "$out" ] || return 1
  printf '%s\n' "$out" | tr '\t' ' '
}

# cluster_node_wait N [SECONDS] [SIZE] — wait until node N is ready and Synced (and,
# with SIZE, sees that many nodes in the cluster); dies when it exits or takes longer
# than SECONDS (default TASKAPI_DB_START_TIMEOUT or 90: an SST copies a datadir).
cluster_node_wait() {
  local n=$1 secs=${2:-${TASKAPI_DB_START_TIMEOUT:-90}} size=${3:-} deadline state='' pid
  local ready comment csize
  deadline=$((SECONDS + secs))
  while :; do
    state=$(cluster_node_state "$n") || state=''
    read -r ready comment csize _ <<<"${state:-x x x x}"
    if [ "$ready" = ON ] && [ "$comment" = Synced ] && { [ -z "$size" ] || [ "$csize" = "$size" ]; }; then
      return 0
    fi
    if ! pid=$(cluster_node_pid "$n"); then
      tail -n 30 "$(cluster_node_log "$n")" >&2 2>/dev/null || true
      die "node $n exited during start-up (log: $(cluster_node_log "$n"))"
    fi
    [ "$SECONDS" -lt "$deadline" ] ||
      die "node $n not Synced${size:+ in a cluster of $size} within ${secs}s (state: ${state:-no answer}; log: $(cluster_node_log "$n"))"
    sleep 0.2
  done
}

# cluster_node_kill N [SIGNAL] — send node N SIGNAL (default KILL: a crash) and wait
# until it is gone. Its pid file stays (cluster_node_pid is false for a dead process).
cluster_node_kill() {
  local pid
  pid=$(cluster_node_pid "$1") || return 0
  kill "-${2:-KILL}" "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 30
}

# cluster_node_stop N — SIGTERM: a clean shutdown (the node leaves the cluster).
cluster_node_stop() {
  local pid
  pid=$(cluster_node_pid "$1") || return 0
  say "galera: stopping node $1 (pid $pid)"
  stop_pid "mariadbd (node $1)" "$pid" TERM 60 || STACK_FORCED=1
}

# cluster_node_restart N [SECONDS] — start node N again into the running cluster and
# wait until it is Synced: after a SIGKILL it rejoins (SST, or IST when its position
# is known), after an isolation it needs none of this (cluster_node_isolate N 0).
cluster_node_restart() {
  cluster_node_start "$1" join
  cluster_node_wait "$1" "${2:-}"
}

# cluster_node_isolate N 1|0 — cut node N off from the others (gmcast.isolate=1: it
# closes every group connection and accepts none; the others evict it, and it is
# left non-Primary, refusing queries with 1047) or let it back in (0).
cluster_node_isolate() {
  cluster_sql "$1" "SET GLOBAL wsrep_provider_options = 'gmcast.isolate=$2'"
}

# ---- the taskapi instances ----

# cluster_app_use N — point stack.sh's APP_* variables at instance N, so that
# taskapi_render_config, taskapi_start, taskapi_stop and app_pid act on it.
cluster_app_use() {
  local n=$1
  mkdir -p "$CL_DIR/app$n"
  APP_CONF=$CL_DIR/app$n/taskapi.ini
  APP_PIDFILE=$CL_DIR/app$n/taskapi.pid
  APP_LOG=$CL_DIR/app$n/taskapi.log
  APP_SOCK=$CLUSTER_NODE_DIR/app$n.sock
  APP_ADMIN_SOCK=$CLUSTER_NODE_DIR/app$n-admin.sock
  APP_PID=${CL_APP_PID[n]:-}
}

# cluster_app_start N — start taskapi instance N (its own master and workers).
cluster_app_start() {
  cluster_app_use "$1"
  taskapi_start
  CL_APP_PID[$1]=$APP_PID
}

# cluster_app_stop N — SIGTERM, as stack.sh's taskapi_stop. When this shell started
# the instance and it still ran, CL_APP_EXIT[N] is its exit status (0 on a clean stop).
# One that had died before (a cluster test kills them on purpose) is only reaped.
cluster_app_stop() {
  local cur
  cluster_app_use "$1"
  cur=$(app_pid) || cur=''
  if [ -n "$APP_PID" ] && [ "$APP_PID" != "$cur" ]; then
    # The one this shell started is gone (killed, maybe started again by a test from
    # another shell): reap it, without judging its status.
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=''
  fi
  APP_EXIT=''
  taskapi_stop
  CL_APP_EXIT[$1]=''
  if [ -n "$cur" ]; then CL_APP_EXIT[$1]=$APP_EXIT; fi
  CL_APP_PID[$1]=''
}

# cluster_app_kill N [SIGNAL] — send instance N's master and its children (workers,
# admin process) SIGNAL (default KILL: the whole instance crashes at once) and wait
# until all are gone. Workers whose master dies alone would only get SIGTERM and
# finish their requests first.
cluster_app_kill() {
  local pid pids p
  cluster_app_use "$1"
  pid=$(app_pid) || return 0
  mapfile -t pids < <(ps -o pid= --ppid "$pid" | tr -d ' ')
  pids+=("$pid")
  kill "-${2:-KILL}" "${pids[@]}" 2>/dev/null || true
  for p in "${pids[@]}"; do
    wait_pid_gone "$p" 30 || return 1
  done
}

# ---- nginx ----

# cluster_nginx_render — for nginx_start: the shipped site nginx/taskapi.conf, as
# nginx_render uses it, with both instances in its upstream and a location that may
# retry keyed writes on the other instance. The comments it adds explain each change.
cluster_nginx_render() {
  local site snippet n servers='' admins='' plain retry errors
  mkdir -p "$NGX_DIR/tmp" "$NGX_DIR/snippets"
  cp /etc/nginx/fastcgi_params "$NGX_DIR/fastcgi_params"
  cp "$TOP/nginx/taskapi-fastcgi.conf" "$NGX_DIR/snippets/taskapi-fastcgi.conf"

  # The retrying snippet: the shipped one with non_idempotent added to
  # fastcgi_next_upstream (the directive may appear only once in a location).
  snippet=$(<"$TOP/nginx/taskapi-fastcgi.conf")
  [[ $snippet == *$'\nfastcgi_next_upstream error timeout;'* ]] ||
    die "nginx/taskapi-fastcgi.conf no longer has 'fastcgi_next_upstream error timeout;' for script/lib/cluster.sh to replace"
  snippet=${snippet//$'\nfastcgi_next_upstream error timeout;'/$'\n# script/lib/cluster.sh: for requests with an Idempotency-Key only.\nfastcgi_next_upstream error timeout non_idempotent;'}
  printf '# Rendered from nginx/taskapi-fastcgi.conf by script/lib/cluster.sh — do not edit.\n%s\n' \
    "$snippet" >"$NGX_DIR/snippets/taskapi-fastcgi-retry.conf"

  for n in $(seq "$CLUSTER_APPS"); do
    cluster_app_use "$n"
    servers+="    server unix:$APP_SOCK max_fails=1 fail_timeout=2s;"$'\n'
    admins+="    server unix:$APP_ADMIN_SOCK;"$'\n'
  done
  site=$(<"$TOP/nginx/taskapi.conf")
  plain='    location / {
        include snippets/taskapi-fastcgi.conf;
        fastcgi_pass taskapi;
    }'
  [[ $site == *"    server unix:/run/taskapi/taskapi.sock;"* && $site == *"listen 80;"* &&
    $site == *"$plain"* && $site == *"    error_page 404 = @taskapi;"* ]] ||
    die "nginx/taskapi.conf no longer has the lines script/lib/cluster.sh replaces (listen 80;, the upstream's server line, location /, error_page 404)"
  site=${site//"    server unix:/run/taskapi/taskapi.sock;"/"    # script/cluster: both instances. One failure (refused connection, timeout)
    # takes an instance out of the rotation for 2 s, then nginx tries it again.
${servers%$'\n'}"}
  site=${site//"unix:/run/taskapi/admin.sock"/"taskapi_admin"}
  site=${site//"listen 80;"/"listen 127.0.0.1:$PORT;"}
  errors='    error_page 404 = @taskapi;
    # script/cluster: location / hands requests with an Idempotency-Key to
    # @taskapi_retry (nginx'"'"'s own 418 never reaches a client; taskapi'"'"'s answers pass
    # through untouched, fastcgi_intercept_errors is off).
    error_page 418 = @taskapi_retry;'
  site=${site//"    error_page 404 = @taskapi;"/"$errors"}
  retry='    location / {
        # script/cluster: nginx (since 1.9.13) passes a POST or PATCH to the other
        # instance only when it never reached the first one (connect refused). Once
        # sent, a write that failed or timed out is not replayed: taskapi may have
        # applied it, and a keyless POST would create its task twice. A write with an
        # Idempotency-Key may be replayed, since taskapi answers a repeated key with
        # the first outcome: those go to @taskapi_retry, where fastcgi_next_upstream
        # has non_idempotent.
        if ($http_idempotency_key) {
            return 418;
        }
        include snippets/taskapi-fastcgi.conf;
        fastcgi_pass taskapi;
    }
    location @taskapi_retry {
        include snippets/taskapi-fastcgi-retry.conf;
        fastcgi_pass taskapi;
    }'
  site=${site//"$plain"/"$retry"}
  site=$(ngx_site_keyed "$site") || return 1
  printf '%s\n' "# Rendered from nginx/taskapi.conf by script/lib/cluster.sh — do not edit.
# /metrics and /status go to the admin socket of either instance (round robin):
# taskapi's own admin sockets answer for one instance each.
upstream taskapi_admin {
${admins%$'\n'}
}
$site" >"$NGX_DIR/taskapi-site.conf"
  ngx_main_conf "$NGX_DIR" "$NGX_WORKERS" >"$NGX_CONF"
}

# ---- the whole rig ----

# cluster_provision — stack.sh's users (on 'localhost', for the socket), plus the same
# accounts on '127.0.0.1': taskapi reaches the nodes over TCP, and with
# skip_name_resolve a TCP client from loopback is 127.0.0.1, never localhost.
# Run on node 1 before the others join: their SST copies it all.
cluster_provision() {
  local app_pw migrate_pw
  mariadb_provision
  app_pw=$(secret app)
  migrate_pw=$(secret migrate)
  db_admin <<SQL
CREATE USER IF NOT EXISTS '$DB_APP_USER'@'127.0.0.1';
ALTER USER '$DB_APP_USER'@'127.0.0.1' IDENTIFIED BY '$app_pw';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$DB_APP_USER'@'127.0.0.1';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB_NAME\`.* TO '$DB_APP_USER'@'127.0.0.1';
CREATE USER IF NOT EXISTS '$DB_MIGRATE_USER'@'127.0.0.1';
ALTER USER '$DB_MIGRATE_USER'@'127.0.0.1' IDENTIFIED BY '$migrate_pw';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$DB_MIGRATE_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_MIGRATE_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT CREATE USER ON *.* TO '$DB_MIGRATE_USER'@'127.0.0.1';
SQL
}

# cluster_start — node 1 (a new cluster), the accounts and the migrations on it, then
# nodes 2 and 3 joining (SST from node 1) at the same time, then both taskapi
# instances and nginx. Writes cluster.env with CLUSTER_READY=1 at the end.
cluster_start() {
  local n
  if port_in_use "$PORT"; then
    die "port $PORT on 127.0.0.1 is taken; choose another with TASKAPI_PORT=..."
  fi
  [ -r "$CLUSTER_PROVIDER" ] ||
    die "$CLUSTER_PROVIDER not found: script/bootstrap installs galera-4 (and rsync)"
  command -v rsync >/dev/null 2>&1 || die "rsync not found: script/bootstrap installs it"
  [ "${TASKAPI_AUTH:-none}" != remote_user ] ||
    die "TASKAPI_AUTH=remote_user is not supported by script/cluster (its nginx asks for no password)"
  cluster_node_start 1 new
  cluster_node_wait 1
  cluster_provision
  for n in $(seq "$CLUSTER_APPS"); do
    cluster_app_use "$n"
    taskapi_render_config
  done
  cluster_app_use 1
  taskapi_migrate || die "taskapi migrate failed (log: $MIGRATE_LOG)"
  # Both join at once: node 1 donates to one of them at a time, the other's SST request
  # is retried every second until it is free (or the first joiner donates).
  for n in $(seq 2 "$CLUSTER_NODES"); do
    cluster_node_start "$n" join
  done
  for n in $(seq 2 "$CLUSTER_NODES"); do
    cluster_node_wait "$n"
  done
  for n in $(seq "$CLUSTER_NODES"); do
    cluster_node_wait "$n" 30 "$CLUSTER_NODES"
  done
  for n in $(seq "$CLUSTER_APPS"); do
    cluster_app_start "$n"
  done
  nginx_start cluster_nginx_render
  CLUSTER_READY=1
  cluster_write_env
}

# cluster_leftovers — mariadbd, nginx, taskapi or rsync processes of this rig, as "pid
# args" lines: those whose command line or working folder lies in the rig's folder or
# its node folder. A clean stop leaves none.
cluster_leftovers() {
  python3 - "$CL_DIR" "${CLUSTER_NODE_DIR:-$CL_DIR}" <<'PY'
import os, sys
roots = [d.rstrip("/") + "/" for d in sys.argv[1:]]
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(") ", 1)[1].split()[0]
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd") + "/"
        except OSError:
            cwd = ""
    except (OSError, IndexError):
        continue
    if state == "Z" or comm not in ("mariadbd", "nginx", "taskapi", "rsync"):
        continue
    if any(r in args + " " or cwd.startswith(r) for r in roots):
        print(pid, args)
PY
}

# cluster_stop — nginx, both instances, then the three nodes (SIGTERM to all, then
# waited for), each by its pid file; then the node folder goes. Returns 1 if anything
# had to be killed or is still there. Safe to call when nothing, or part, runs.
cluster_stop() {
  local n pid left pids=()
  STACK_FORCED=0
  nginx_stop
  for n in $(seq "$CLUSTER_APPS"); do
    cluster_app_stop "$n"
  done
  for n in $(seq "$CLUSTER_NODES"); do
    if pid=$(cluster_node_pid "$n"); then
      say "galera: stopping node $n (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids[n]=$pid
    fi
  done
  for n in "${!pids[@]}"; do
    stop_pid "mariadbd (node $n)" "${pids[n]}" TERM 60 || STACK_FORCED=1
  done
  left=$(cluster_leftovers)
  if [ -n "$left" ]; then
    warn "processes of the rig in $CL_DIR still running after stop:"$'\n'"$left"
    return 1
  fi
  for n in $(seq "$CLUSTER_NODES"); do
    rm -f "$(cluster_node_pidfile "$n")"
  done
  if [[ $CLUSTER_NODE_DIR == /tmp/taskapi-cluster.* ]]; then
    rm -rf "$CLUSTER_NODE_DIR"
  fi
  rm -f "$CL_DIR/sock-dir"
  [ "$STACK_FORCED" = 0 ]
}

# cluster_running — true when any process of the rig in CL_DIR runs (by its pid file):
# the supervisor, a node, an instance or nginx.
cluster_running() {
  local n
  cluster_pid >/dev/null && return 0
  ngx_pid >/dev/null && return 0
  for n in $(seq "$CLUSTER_NODES"); do
    cluster_node_pid "$n" >/dev/null && return 0
  done
  for n in $(seq "$CLUSTER_APPS"); do
    (cluster_app_use "$n" && app_pid >/dev/null) && return 0
  done
  return 1
}
