# shellcheck shell=bash
# shellcheck disable=SC2034 # RS_* are read by the tests sourcing this
# tests/e2e/replica-lib.sh — a MariaDB primary and replicas of a test's own (GTID
# replication, on 127.0.0.1 free ports, datadirs below the test's folder), for
# tests/e2e/57-primary-replica.sh, and a FastCGI client for batches of requests. Source
# lib.sh first. Each server is started by pid and killed at the test's exit (at_exit),
# even when the test fails half-way.
#
# Node 1 is the primary (log_bin, server_id 1, binlog_format ROW), nodes 2..RS_NODES the
# replicas (server_id N, MASTER_USE_GTID = slave_pos). Every datadir is a copy of one
# mariadb-install-db run (one install instead of three); each replica then applies the
# primary's whole binlog, which holds every statement run on it after its start:
# accounts, database, migrations.

RS_DIR=$E2E_TMP/rs
RS_NODES=${RS_NODES:-3}
RS_USER_OPT=()
# As root, mariadbd refuses to run unless told which user to be (stack.sh does the same).
if is_root; then RS_USER_OPT=(--user=root); fi
declare -a RS_PORT RS_PID
RS_REPL_PW=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

rs_sock() { printf '%s/db%s/mysqld.sock\n' "$RS_DIR" "$1"; }

# rs_sql N SQL — SQL on node N over its socket as the administrative account (socket
# authentication, from mariadb-install-db). Tab-separated rows, no column names.
rs_sql() {
  mariadb --no-defaults --socket="$(rs_sock "$1")" --user="$(id -un)" --skip-ssl \
    --connect-timeout=2 --batch --skip-column-names -e "$2"
}

# rs_status N NAME — the value of global status variable NAME on node N.
rs_status() {
  rs_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2
}

# rs_install — one datadir made by mariadb-install-db, copied for every node.
rs_install() {
  local n
  mkdir -p "$RS_DIR/seed" "$RS_DIR/tmp"
  chmod 0711 "$RS_DIR"
  if ! mariadb-install-db --no-defaults --datadir="$RS_DIR/seed" "${RS_USER_OPT[@]}" \
    --auth-root-authentication-method=socket --skip-test-db --tmpdir="$RS_DIR/tmp" \
    >"$RS_DIR/install.log" 2>&1; then
    diag "mariadb-install-db failed: $(tail -n 10 "$RS_DIR/install.log")"
    return 1
  fi
  for n in $(seq "$RS_NODES"); do
    mkdir -p "$RS_DIR/db$n/tmp"
    cp -a "$RS_DIR/seed" "$RS_DIR/db$n/data"
    RS_PORT[n]=$(free_port)
  done
}

# rs_start N... — start nodes N... at once, each on its port (the same at every start),
# and wait until each answers (at most 30 s); RS_PID[N] is its pid, killed at exit.
# Commits are not flushed at once (the data is throwaway): fewer fsyncs on a loaded disk.
rs_start() {
  local n dir role
  for n in "$@"; do
    dir=$RS_DIR/db$n
    if [ "$n" = 1 ]; then
      role=(--server-id=1 --log-bin="$dir/data/binlog" --binlog-format=ROW)
    else
      # Not read_only: a write that reached a replica would then succeed there, and the
      # test would see it (a silent write), instead of an error that hides the routing.
      role=(--server-id="$n" --relay-log="$dir/data/relay" --binlog-format=ROW)
    fi
    spawn "$dir" "$dir/stderr.log" mariadbd --no-defaults "${RS_USER_OPT[@]}" \
      --datadir="$dir/data" --socket="$dir/mysqld.sock" --pid-file="$dir/mariadbd.pid" \
      --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
      --bind-address=127.0.0.1 --port="${RS_PORT[n]}" --skip-name-resolve \
      --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
      --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 \
      --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
      "${role[@]}"
    RS_PID[n]=$!
    at_exit "rs_kill ${RS_PID[n]}"
  done
  for n in "$@"; do
    wait_for 30 rs_answers "$n" || {
      diag "node $n did not answer within 30 s: $(tail -n 10 "$RS_DIR/db$n/error.log" 2>/dev/null)"
      return 1
    }
  done
}

rs_answers() {
  pid_alive "${RS_PID[$1]}" &&
    mariadb-admin --no-defaults --socket="$(rs_sock "$1")" --connect-timeout=2 ping >/dev/null 2>&1
}

# rs_kill PID — SIGKILL a node's mariadbd (a crash; its data is throwaway) and wait.
rs_kill() {
  pid_alive "$1" || return 0
  [[ "$(pid_args "$1")" == *"$RS_DIR"* ]] || return 0
  # wait reaps it (a child of this shell) and keeps bash from reporting "Killed".
  { kill -KILL "$1" && wait "$1"; } 2>/dev/null || true
  wait_pid_gone "$1" 15 || true
}

# rs_provision APP_PW MIGRATE_PW — on the primary: the replication account, the
# database, stack.sh's application and migration accounts on '127.0.0.1' (taskapi
# reaches the nodes over TCP, and with skip_name_resolve a loopback client is
# 127.0.0.1); all of it replicates. Then each replica follows the primary by GTID.
rs_provision() {
  local n
  rs_sql 1 "DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY '$RS_REPL_PW';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';
CREATE DATABASE \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER '$DB_APP_USER'@'127.0.0.1' IDENTIFIED BY '$1';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB_NAME\`.* TO '$DB_APP_USER'@'127.0.0.1';
CREATE USER '$DB_MIGRATE_USER'@'127.0.0.1' IDENTIFIED BY '$2';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_MIGRATE_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT CREATE USER ON *.* TO '$DB_MIGRATE_USER'@'127.0.0.1';" || return 1
  for n in $(seq 2 "$RS_NODES"); do
    rs_sql "$n" "SET GLOBAL gtid_slave_pos = '';
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${RS_PORT[1]},
  MASTER_USER = 'repl', MASTER_PASSWORD = '$RS_REPL_PW', MASTER_USE_GTID = slave_pos,
  MASTER_CONNECT_RETRY = 1;
START SLAVE;" || return 1
  done
}

# rs_caught_up SECONDS — every replica has applied everything the primary has logged
# (MASTER_GTID_WAIT on the primary's gtid_binlog_pos, at most SECONDS each).
rs_caught_up() {
  local pos got n
  pos=$(rs_sql 1 'SELECT @@gtid_binlog_pos') || return 1
  for n in $(seq 2 "$RS_NODES"); do
    got=$(rs_sql "$n" "SELECT MASTER_GTID_WAIT('$pos', $1)") || return 1
    [ "$got" = 0 ] || { diag "replica $n did not reach $pos: $(rs_sql "$n" 'SELECT @@gtid_slave_pos' 2>&1)"; return 1; }
  done
}

# rs_requests SOCKET post TITLE... | get ID... — FastCGI requests to taskapi's SOCKET
# from one python process (tests/e2e/fcgi_peer.py), each on a connection of its own:
# far cheaper on a loaded machine than a client process per request. One line per
# request: "STATUS RETRY_AFTER ID" (ID of a created task, "-" when absent).
rs_requests() {
  E2E_DIR=$E2E_DIR python3 - "$@" <<'PY'
import json, os, sys
sys.path.insert(0, os.environ["E2E_DIR"])
import fcgi_peer as fp

sock, op, args = sys.argv[1], sys.argv[2], sys.argv[3:]
for arg in args:
    if op == "post":
        method, uri, body = b"POST", b"/tasks/", json.dumps({"title": arg}).encode()
    else:
        method, uri, body = b"GET", ("/tasks/%s" % arg).encode(), b""
    extra = [(b"DOCUMENT_URI", uri), (b"QUERY_STRING", b""), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
             (b"GATEWAY_INTERFACE", b"CGI/1.1")]
    answer = None
    try:
        s = fp.connect(sock, 15.0)
        s.sendall(fp.request(method, uri, body, extra))
        answer = fp.read_answer(s, 15.0)
        s.close()
    except OSError:
        pass
    status, retry, tid = fp.status_of(answer), "-", "-"
    if answer is not None:
        head, _, rest = answer.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"retry-after:"):
                retry = line.split(b":", 1)[1].strip().decode()
        try:
            tid = str(json.loads(rest)["id"])
        except Exception:
            pass
    print(status, retry, tid, flush=True)
PY
}
