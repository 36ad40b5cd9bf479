#!/usr/bin/env bash
# 18-secret-modes: the file modes docs/deployment.md prescribes for the configuration
# and password files work with server.user. Started as root with server.user, taskapi
# reads them as root at start, and as that user at every reload (SIGHUP): with
# root:<its group> mode 0640 (the documented modes) a reload succeeds and serving goes
# on; with a root-only 0600 password file (what the docs used to say) the reload fails
# with "Permission denied" while the old configuration keeps serving.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if ! is_root; then
  ok 'not root: server.user cannot be tested here (nothing to switch from)'
  exit 0
fi
user=nobody
group=$(id -gn "$user")

# files PASS_OWNER PASS_MODE NAME — a configuration (root:$group, 0640) and its
# password file (PASS_OWNER, PASS_MODE) in $E2E_TMP/NAME, the serving credentials
# only (no migration password); the socket folder belongs to $user, as /run/taskapi
# would. Sets INI and SOCK.
files() {
  local owner=$1 mode=$2 dir=$E2E_TMP/$3
  mkdir -p "$dir/run"
  chmod 0755 "$dir"
  chown "$user:$group" "$dir/run"
  cp "$SECRETS_DIR/app.pass" "$dir/db.pass"
  sed -e 's/^listen *=.*/listen =/' -e "s|^password_file *=.*|password_file = $dir/db.pass|" \
    -e '/^migrate_/d' "$APP_CONF" >"$dir/taskapi.ini"
  chown "root:$group" "$dir/taskapi.ini"
  chmod 0640 "$dir/taskapi.ini"
  chown "$owner" "$dir/db.pass"
  chmod "$mode" "$dir/db.pass"
  INI=$dir/taskapi.ini
  SOCK=$dir/run/taskapi.sock
}

# reload NAME PID — SIGHUP; wait for the master's verdict in NAME's log.
reload() {
  kill -HUP "$2"
  wait_for 20 grep -qE 'reload failed|reloading: starting generation 2' "$E2E_TMP/$1.log" || true
}

# ---- the documented modes: root:group 0640 ----
files "root:$group" 0640 doc
ta_start doc "$TASKAPI_BIN" -c "$INI" --set server.listen="$SOCK" --set server.user="$user"
pid=$TA_PID
check "configuration and password file root:$group 0640, server.user = $user: it serves" wait_for 30 fcgi_ok "$SOCK"
reload doc "$pid"
check 'SIGHUP: the reload reads both files again as that user and starts generation 2' \
  grep -q 'reloading: starting generation 2' "$E2E_TMP/doc.log"
check '... with no "reload failed"' bash -c "! grep -q 'reload failed' '$E2E_TMP/doc.log'"
check '... and it still serves' wait_for 20 fcgi_ok "$SOCK"
ta_stop "$pid"

# ---- a root-only 0600 password file: a reload cannot read it ----
files root:root 0600 rootonly
ta_start rootonly "$TASKAPI_BIN" -c "$INI" --set server.listen="$SOCK" --set server.user="$user"
pid=$TA_PID
check "password file root:root 0600, server.user = $user: it starts (read as root)" wait_for 30 fcgi_ok "$SOCK"
reload rootonly "$pid"
check 'SIGHUP: "reload failed ... db.pass: Permission denied": a root-only password file is not enough with server.user' \
  grep -qE "reload failed.*'$E2E_TMP/rootonly/db.pass': Permission denied" "$E2E_TMP/rootonly.log"
[ -z "$(grep 'reload failed' "$E2E_TMP/rootonly.log" || true)" ] || diag "$(grep 'reload failed' "$E2E_TMP/rootonly.log")"
check '... while the running configuration keeps serving' fcgi_ok "$SOCK"
ta_stop "$pid"

sanitizer_check
