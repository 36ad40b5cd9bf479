# shellcheck shell=bash
# shellcheck disable=SC2034 # PRIV_* and COUNTERS are read by the tests sourcing this
# tests/e2e/pool-lib.sh — helpers for the connection-pool tests (7x-pool-*.sh), sourced
# after lib.sh: the stack's MariaDB as root, private taskapi processes with their own
# pool settings (and their own database user, so their connections can be told apart),
# FastCGI requests straight to them, and MariaDB's global status counters.

POOL_CLIENT=$E2E_DIR/pool_client.py

# db_root SQL — run SQL as the server's root account (unix socket authentication).
db_root() {
  db_admin <<<"$1"
}

# pool_user NAME — a database user with the application's grants and a password file
# ($E2E_TMP/NAME.pass); dropped when the test ends.
pool_user() {
  local name=$1 pw
  pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077 && printf '%s\n' "$pw" >"$E2E_TMP/$name.pass")
  db_root "DROP USER IF EXISTS '$name'@'localhost';
CREATE USER '$name'@'localhost' IDENTIFIED BY '$pw';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB_NAME\`.* TO '$name'@'localhost';"
  at_exit "db_root \"DROP USER IF EXISTS '$name'@'localhost'\" >/dev/null 2>&1"
}

# private_taskapi NAME [--set KEY=VALUE...] — start taskapi with the stack's config,
# its own socket and log ($RUN_DIR/pool-NAME/, where script/test looks for sanitizer
# reports), database user NAME (see pool_user) and one process (server.workers = 0:
# one pool, so counts are exact), plus the given settings. Returns
# once its socket exists (true) or it exited (false); at once when PRIV_NOWAIT=1.
# Sets PRIV_PID, PRIV_SOCK, PRIV_LOG; stopped when the test ends.
private_taskapi() {
  local name=$1 dir deadline
  shift
  dir=$RUN_DIR/pool-$name
  mkdir -p "$dir"
  PRIV_SOCK=$E2E_TMP/$name.sock
  PRIV_LOG=$dir/taskapi.log
  taskapi_args
  rm -f "$PRIV_SOCK"
  (cd "$dir" && exec setsid "$TASKAPI_BIN" "${TASKAPI_ARGS[@]}" \
    --set server.workers=0 --set "server.listen=$PRIV_SOCK" --set "database.user=$name" \
    --set "database.password_file=$E2E_TMP/$name.pass" "$@" \
    </dev/null >>"$PRIV_LOG" 2>&1) &
  PRIV_PID=$!
  at_exit "stop_private $PRIV_PID"
  [ "${PRIV_NOWAIT:-0}" = 0 ] || return 0
  deadline=$((SECONDS + 30))
  until [ -S "$PRIV_SOCK" ]; do
    pid_alive "$PRIV_PID" || return 1
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

# stop_private PID — SIGTERM, then SIGKILL after 15 s; true when it exited 0 on SIGTERM.
stop_private() {
  local pid=$1 rc=0
  pid_alive "$pid" || { wait "$pid" 2>/dev/null || true; return 0; }
  stop_pid taskapi "$pid" TERM 15 || rc=1
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

# fcgi METHOD URI [JSON] — one request straight to the private taskapi's socket; sets
# STATUS, CTYPE, BODY and HEADERS like lib.sh's http (so expect_json works).
fcgi() {
  local out
  BODY=$E2E_TMP/body
  HEADERS=$E2E_TMP/headers
  out=$(python3 "$POOL_CLIENT" fcgi "$PRIV_SOCK" "$1" "$2" "$BODY" "$HEADERS" "${3:-}")
  STATUS=${out%% *}
  CTYPE=${out#* }
}

# app_threads USER — ids of the server connections of database user USER, one a line.
app_threads() {
  db_root "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '$1' ORDER BY ID"
}

# kill_threads USER — KILL every server connection of USER; prints how many.
kill_threads() {
  local ids id n=0
  ids=$(app_threads "$1")
  for id in $ids; do
    db_root "KILL CONNECTION $id" 2>/dev/null && n=$((n + 1))
  done
  echo "$n"
}
