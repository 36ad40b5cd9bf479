#!/usr/bin/env bash
# 85-privileges: taskapi refuses to serve as root unless told what to do; with
# server.user (and server.group) it opens its socket and reads its secrets as root,
# then switches for good (real, effective and saved ids, supplementary groups, no
# capabilities left) before serving — and still serves, connects to the database
# and removes its socket at stop. Started as another user it cannot switch, and says so.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if ! is_root; then
  # Not root: asking for another user is refused, asking for oneself is fine.
  ini=$(instance_config priv)
  ta_start other "$TASKAPI_BIN" -c "$ini" --set server.listen="$E2E_TMP/x.sock" --set server.user=root
  check 'not root, server.user = root: exit non-zero' ta_died_with other "$TA_PID" "server.user"
  exit 0
fi

ini=$(instance_config priv)
# The socket folder belongs to the user taskapi becomes, as /run/taskapi would
# (systemd's RuntimeDirectory=), so that it can remove its socket at stop.
sock_dir=$E2E_TMP/run-nobody
mkdir -p "$sock_dir"
chown nobody:nogroup "$sock_dir"
sock=$sock_dir/taskapi.sock

# status_field PID NAME — a line of /proc/PID/status without its name, tabs as spaces.
status_field() {
  { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" 2>/dev/null || true; } | tr '\t' ' ' | sed 's/ *$//'
}

# ---- root without server.user or allow_root ----
ta_start refuse "$TASKAPI_BIN" -c "$ini" --set server.listen="$sock"
check 'as root with neither server.user nor allow_root: exit 1, "refusing to run as root"' \
  ta_died_with refuse "$TA_PID" "refusing to run as root: set server.user"
check '... before creating its socket' test ! -e "$sock"

# ---- server.user = nobody ----
ta_start nobody "$TASKAPI_BIN" -c "$ini" --set server.listen="$sock" --set server.user=nobody \
  --set server.threads=4 --set database.pool_size=4
pid=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  ok "server.user = nobody: GET /healthz over its socket answers 200 (after ${WAITED}s)"
else
  not_ok 'server.user = nobody: GET /healthz answers 200 within 30s'
  diag "$(tail -n 5 "$E2E_TMP/nobody.log")"
fi
uid=$(status_field "$pid" Uid) gid=$(status_field "$pid" Gid)
check "real, effective, saved and fs uid are all nobody's (Uid: $uid)" test "$uid" = '65534 65534 65534 65534'
check "... and the gids nogroup's (Gid: $gid)" test "$gid" = '65534 65534 65534 65534'
check "supplementary groups: only nogroup, root's dropped (Groups: $(status_field "$pid" Groups))" \
  test "$(status_field "$pid" Groups)" = 65534
check "no capability left (CapEff: $(status_field "$pid" CapEff), CapPrm: $(status_field "$pid" CapPrm))" \
  test "$(status_field "$pid" CapEff)$(status_field "$pid" CapPrm)" = 00000000000000000000000000000000
check 'it logs the switch' grep -q 'running as user nobody (uid 65534, gid 65534)' "$E2E_TMP/nobody.log"
# Worker processes are forked after the switch: nobody's too.
workers=0 rooted=0
for w in $(pgrep -P "$pid" 2>/dev/null || true); do
  workers=$((workers + 1))
  [ "$(status_field "$w" Uid)" = '65534 65534 65534 65534' ] || rooted=$((rooted + 1))
done
check "its $workers worker processes run as nobody too ($rooted do not)" test "$rooted" = 0
check 'its socket belongs to nobody (socket_owner defaults to server.user), mode 0660' \
  test "$(stat -c '%U %a' "$sock" 2>&1)" = 'nobody 660'
# Eight clients at once on four threads: the pool opens connections after the switch.
clients=()
for i in 1 2 3 4 5 6 7 8; do
  python3 -c 'import json, sys; print(json.dumps({"title": sys.argv[1]}))' "as nobody $$ $i" >"$E2E_TMP/n$i.json"
  env -i PATH="$PATH" REQUEST_METHOD=POST REQUEST_URI=/tasks/ CONTENT_TYPE=application/json \
    CONTENT_LENGTH="$(stat -c %s "$E2E_TMP/n$i.json")" \
    timeout 15 cgi-fcgi -bind -connect "$sock" <"$E2E_TMP/n$i.json" >"$E2E_TMP/n$i.out" 2>&1 &
  clients+=($!)
done
wait "${clients[@]}" || true
created=0
for i in 1 2 3 4 5 6 7 8; do
  grep -q '^Status: 201' "$E2E_TMP/n$i.out" && created=$((created + 1))
done
check "as nobody: 8 concurrent POSTs answered 201 (got $created)" test "$created" = 8
check 'as nobody: the 8 rows are in the database' \
  test "$(sql "SELECT COUNT(*) FROM tasks WHERE title LIKE 'as nobody $$ %'")" = 8
# A reload (SIGHUP) reads the configuration and password files again, as nobody now:
# here both are root's (0600), so the reload is refused, with the reason, and serving
# goes on (docs/deployment.md says to give the user read access).
kill -HUP "$pid"
refused() { grep -qE 'reload failed, keeping the running configuration: cannot open .*Permission denied' "$E2E_TMP/nobody.log"; }
check 'SIGHUP as nobody with root-only configuration files: the reload is refused, with the reason' \
  wait_for 10 refused
check '... and it still serves' fcgi_ok "$sock"
ta_stop "$pid"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
check 'the socket was removed at stop (after the switch)' test ! -e "$sock"

# ---- server.user + server.group; socket_group defaults to server.group ----
ta_start group "$TASKAPI_BIN" -c "$ini" --set server.listen="$sock" --set server.user=nobody \
  --set server.group=www-data
pid=$TA_PID
wait_for 30 fcgi_ok "$sock" || diag "$(tail -n 5 "$E2E_TMP/group.log")"
check "server.group = www-data: Gid all 33 (Gid: $(status_field "$pid" Gid))" \
  test "$(status_field "$pid" Gid)" = '33 33 33 33'
check 'its socket is nobody:www-data' test "$(stat -c '%U:%G' "$sock" 2>&1)" = nobody:www-data
ta_stop "$pid"

# ---- CGI mode switches too ----
out=$(env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/tasks/?limit=1 \
  timeout 10 "$TASKAPI_BIN" -c "$ini" --set server.user=nobody </dev/null 2>"$E2E_TMP/cgi.err") || true
printf '%s' "$out" >"$E2E_TMP/cgi.out"
cgi_split "$E2E_TMP/cgi.out"
expect_json 'CGI as root with server.user = nobody: answers 200' 200 'isinstance(j, list)'
check '... after switching to nobody' grep -q 'running as user nobody' "$E2E_TMP/cgi.err"

# ---- refused settings ----
ta_start asroot "$TASKAPI_BIN" -c "$ini" --set server.listen="$sock" --set server.user=root
check 'server.user = root: exit non-zero, "must not be root"' \
  ta_died_with asroot "$TA_PID" "server.user must not be root"
ta_start unknown "$TASKAPI_BIN" -c "$ini" --set server.listen="$sock" --set server.user=no-such-user-e2e
check 'an unknown server.user: exit non-zero, "unknown user"' \
  ta_died_with unknown "$TA_PID" "unknown user 'no-such-user-e2e'"
ta_start grouponly "$TASKAPI_BIN" -c "$ini" --set server.listen="$sock" --set server.group=www-data
check 'server.group without server.user: exit non-zero' \
  ta_died_with grouponly "$TA_PID" "server.group is set but server.user is not"
check 'none of them left a socket' test ! -e "$sock"

# ---- started as nobody: cannot switch to another user ----
cat >"$E2E_TMP/plain.ini" <<EOF
[server]
listen = $E2E_TMP/plain.sock
user = www-data

[auth]
mode = none
EOF
chmod 644 "$E2E_TMP/plain.ini"
web_bin # nobody runs it: a copy it can reach wherever the checkout is
ta_start plain setpriv --reuid=65534 --regid=65534 --clear-groups "$WEB_BIN" -c "$E2E_TMP/plain.ini"
check 'started as nobody with server.user = www-data: exit non-zero, "cannot switch"' \
  ta_died_with plain "$TA_PID" "is not root, so it cannot switch"

sanitizer_check
