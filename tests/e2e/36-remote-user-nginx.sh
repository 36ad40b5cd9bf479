#!/usr/bin/env bash
# 36-remote-user-nginx: [auth] mode = remote_user behind the shipped nginx site with
# auth_basic. nginx answers 401 itself without credentials or with a wrong password;
# alice and bob, authenticated by nginx, reach taskapi as REMOTE_USER (the shipped
# snippet passes it: Debian's fastcgi_params does not) and each sees only their own
# tasks (another's is 404). The same with auth_request, the user named by an
# authentication service's answer (a Basic header the client adds names nobody). And
# the socket rule (fcgi_app/auth_socket.h): remote_user refuses to serve on TCP, on a
# handed-over TCP socket (spawn-fcgi, fd 0), on a unix socket others may write or whose
# group is shared, unless auth.remote_user_any_socket = true; also at a reload and in
# --check-config.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config remote-user)
root_args
tag=$$
# The users are alice-$tag and bob-$tag: their tasks go when the test ends (e2e 60
# counts every task in the table).
at_exit "sql \"DELETE FROM tasks WHERE owner LIKE '%-$tag'\""
ru=(-c "$ini" "${ROOT_ARGS[@]}" --set auth.mode=remote_user)
# The message names the rule's way out, whatever the reason.
refusal='remote_user.*refusing to serve because .*remote_user_any_socket = true'

# ---- the socket rule: refusals ----
port=$(free_port)
ta_start tcp "$TASKAPI_BIN" "${ru[@]}" --set server.listen="127.0.0.1:$port"
check "remote_user on TCP 127.0.0.1:$port: taskapi exits non-zero, saying why" \
  ta_died_with tcp "$TA_PID" "$refusal"
check '... naming the listener and who could connect' \
  grep -qE "127\.0\.0\.1:$port, a network socket: every local process" "$E2E_TMP/tcp.log"
grep -E 'error' "$E2E_TMP/tcp.log" | head -n 2 | sed 's/^/# /'
check '... and it never listened' test -z "$(ss -ltnH "sport = :$port" 2>/dev/null)"

"$TASKAPI_BIN" --check-config "${ru[@]}" --set server.listen="127.0.0.1:$port" >"$E2E_TMP/check.txt" 2>&1 || true
check '--check-config warns that remote_user would refuse the TCP listener' \
  grep -q "warning: auth.mode = remote_user would refuse this listener: the listener is 127.0.0.1:$port" \
  "$E2E_TMP/check.txt"

sock_dir=$E2E_TMP/sock
mkdir -p "$sock_dir"
ta_start open "$TASKAPI_BIN" "${ru[@]}" --set server.listen="$sock_dir/open.sock" --set server.socket_mode=0666
check 'remote_user on a unix socket of mode 0666: refused (writable by others)' \
  ta_died_with open "$TA_PID" "$refusal"
check '... the message says so' grep -q 'open.sock (mode 0666) is writable by others' "$E2E_TMP/open.log"
check '... and the socket file it made is removed' test ! -e "$sock_dir/open.sock"

if getent group www-data >/dev/null; then
  ta_start shared "$TASKAPI_BIN" "${ru[@]}" --set server.listen="$sock_dir/shared.sock" \
    --set server.socket_group=www-data
  check 'remote_user on a unix socket 0660 of group www-data: refused (a shared group)' \
    ta_died_with shared "$TA_PID" "$refusal"
  check '... naming the group' grep -q 'writable by its group www-data, which systems share' "$E2E_TMP/shared.log"
else
  ok 'remote_user on a socket of group www-data is refused # SKIP no group www-data here'
fi

# spawn-fcgi hands the socket over on fd 0: it is judged all the same.
port=$(free_port)
ta_start spawned spawn-fcgi -n -a 127.0.0.1 -p "$port" -- "$TASKAPI_BIN" "${ru[@]}"
check "remote_user on a TCP socket handed over by spawn-fcgi (fd 0): refused" \
  ta_died_with spawned "$TA_PID" "$refusal"

# ---- ... unless auth.remote_user_any_socket = true ----
port=$(free_port)
ta_start anytcp "$TASKAPI_BIN" "${ru[@]}" --set server.listen="127.0.0.1:$port" \
  --set auth.remote_user_any_socket=true
anypid=$TA_PID
if wait_for 30 fcgi_ok "127.0.0.1:$port"; then
  ok "remote_user on TCP with auth.remote_user_any_socket = true: it serves"
else
  not_ok "remote_user on TCP with auth.remote_user_any_socket = true serves within 30s"
  diag "$(tail -n 5 "$E2E_TMP/anytcp.log")"
fi
check '... with a warning at start that names the risk' \
  grep -qE 'warn: auth.mode = remote_user trusts REMOTE_USER .*serving anyway \(auth.remote_user_any_socket = true\)' \
  "$E2E_TMP/anytcp.log"
fcgi GET /tasks/ "127.0.0.1:$port"
expect_json 'remote_user: a request without REMOTE_USER is 401 from taskapi' 401 '"REMOTE_USER" in j["detail"]'
check '... with WWW-Authenticate: Basic' grep -qi '^WWW-Authenticate: Basic realm="taskapi"' "$HEADERS"
ta_stop "$anypid"

# ---- a reload (SIGHUP) keeps the socket: one into remote_user on TCP is refused ----
rini=$(instance_config reload)
port=$(free_port)
ta_start reload "$TASKAPI_BIN" -c "$rini" "${ROOT_ARGS[@]}" --set server.listen="127.0.0.1:$port" --set server.workers=1
rpid=$TA_PID
wait_for 30 fcgi_ok "127.0.0.1:$port" || diag "$(tail -n 5 "$E2E_TMP/reload.log")"
sed -i 's/^mode *=.*/mode = remote_user/' "$rini"
kill -HUP "$rpid"
check 'SIGHUP into auth.mode = remote_user on TCP: the reload is refused, saying why' \
  wait_for 15 grep -q 'reload failed, keeping the running configuration: auth.mode = remote_user .*refusing to serve' \
  "$E2E_TMP/reload.log"
fcgi GET /tasks/ "127.0.0.1:$port"
check "... and the running mode (none) still answers without REMOTE_USER (got $STATUS)" test "$STATUS" = 200
ta_stop "$rpid"

# ---- behind nginx with auth_basic, on a unix socket only nginx can write ----
sock=$sock_dir/taskapi.sock
# As root: 0660 with root's group (nginx's workers run as root here), which no other
# account holds. Otherwise nginx runs as this user: 0600, whatever this user's group is.
mode=0600
if is_root; then mode=0660; fi
ta_start app "$TASKAPI_BIN" "${ru[@]}" --set server.listen="$sock" --set server.socket_mode=$mode
apid=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  ok "remote_user on a unix socket $(stat -c '%a %U:%G' "$sock" 2>/dev/null): it serves"
else
  not_ok "remote_user on a unix socket serves within 30s"
  diag "$(tail -n 5 "$E2E_TMP/app.log")"
fi

pw_alice="a-$tag-secret" pw_bob="b-$tag-secret"
htpasswd=$E2E_TMP/htpasswd
{
  printf 'alice-%s:%s\n' "$tag" "$(openssl passwd -apr1 "$pw_alice")"
  printf 'bob-%s:%s\n' "$tag" "$(openssl passwd -apr1 "$pw_bob")"
} >"$htpasswd"
chmod 0644 "$htpasswd"
if ! ngx_front ngx "unix:$sock" "    auth_basic \"taskapi\";
    auth_basic_user_file $htpasswd;"; then
  not_ok 'nginx with auth_basic in front of the remote_user instance came up'
  diag "$(tail -n 5 "$E2E_TMP/ngx/error.log" "$E2E_TMP/ngx/stderr.log" 2>/dev/null)"
  exit 0
fi
ok 'nginx (the shipped site with auth_basic added) is up'
TASKAPI_URL=$FRONT_URL

http GET /tasks/
check "no credentials: nginx answers 401 (got $STATUS)" test "$STATUS" = 401
check '... with WWW-Authenticate: Basic realm="taskapi"' grep -qi '^WWW-Authenticate: Basic realm="taskapi"' "$HEADERS"
http GET /tasks/ -u "alice-$tag:wrong"
check "a wrong password: 401 (got $STATUS)" test "$STATUS" = 401
http GET /tasks/ -u "nobody-$tag:$pw_alice"
check "an unknown user: 401 (got $STATUS)" test "$STATUS" = 401

# create AS TITLE — POST as alice or bob; prints the new id.
create() {
  local pw=$pw_alice
  [ "$1" = bob ] && pw=$pw_bob
  task_json "$2"
  http POST /tasks/ -u "$1-$tag:$pw" -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
}
as() {
  local who=$1 pw=$pw_alice
  shift
  [ "$who" = bob ] && pw=$pw_bob
  http "$@" -u "$who-$tag:$pw"
}

create alice "alice's $tag"
expect_json 'alice creates a task: 201' 201 "j['title'] == \"alice's $tag\""
a_id=$(json_field 'j["id"]' || true)
create bob "bob's $tag"
expect_json 'bob creates a task: 201' 201 "j['title'] == \"bob's $tag\""
b_id=$(json_field 'j["id"]' || true)
check "the access log names the owner (alice) of the request" \
  grep -qE "POST /tasks/.*owner[=\":]+alice-$tag" "$E2E_TMP/app.log"

as alice GET "/tasks/$a_id"
expect_json "alice GETs her task $a_id: 200" 200 "j['id'] == ${a_id:-0}"
as bob GET "/tasks/$b_id"
expect_json "bob GETs his task $b_id: 200" 200 "j['id'] == ${b_id:-0}"
as alice GET "/tasks/$b_id"
expect_json "alice GETs bob's task $b_id: 404, as if it did not exist" 404 'j == {"detail": "Task not found"}'
as bob GET "/tasks/$a_id"
expect_json "bob GETs alice's task $a_id: 404" 404 'j == {"detail": "Task not found"}'
as bob PATCH "/tasks/$a_id?completed=true"
check "bob PATCHes alice's task: 404 (got $STATUS)" test "$STATUS" = 404
as bob DELETE "/tasks/$a_id"
check "bob DELETEs alice's task: 404 (got $STATUS)" test "$STATUS" = 404
as alice GET "/tasks/$a_id"
expect_json "... and alice's task is unchanged" 200 'j["is_completed"] is False'

as alice GET "/tasks/?limit=100&after_id=$((${a_id:-1} - 1))"
expect_json "alice's list has her task and not bob's" 200 \
  "${a_id:-0} in [t['id'] for t in j] and ${b_id:-0} not in [t['id'] for t in j]"
as bob GET "/tasks/?limit=100&after_id=$((${a_id:-1} - 1))"
expect_json "bob's list has his task and not alice's" 200 \
  "${b_id:-0} in [t['id'] for t in j] and ${a_id:-0} not in [t['id'] for t in j]"

as alice DELETE "/tasks/$a_id"
check "alice DELETEs her task: 204 (got $STATUS)" test "$STATUS" = 204
as bob DELETE "/tasks/$b_id"
check "bob DELETEs his task: 204 (got $STATUS)" test "$STATUS" = 204

# ---- auth_request: the user comes from the authentication service's answer ----
# The recipe of docs/deployment.md: auth_request_set overrides the snippet's
# $taskapi_remote_user, so a Basic header the client adds names nobody.
auth_port=$(free_port)
python3 - "$auth_port" "$tag" >>"$E2E_TMP/authsvc.log" 2>&1 <<'PY' &
import http.server, sys
KEYS = {"k-alice": "alice-" + sys.argv[2], "k-bob": "bob-" + sys.argv[2]}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        user = KEYS.get(self.headers.get("X-Api-Key", ""))
        self.send_response(204 if user else 401)
        if user:
            self.send_header("X-Auth-User", user)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
auth_pid=$!
at_exit "kill $auth_pid 2>/dev/null || true"
wait_for 15 port_in_use "$auth_port" || diag 'the authentication service did not come up'
if ngx_front ngx-ar "unix:$sock" "    auth_request /_auth;
    auth_request_set \$taskapi_remote_user \$upstream_http_x_auth_user;
    location = /_auth {
        internal;
        proxy_pass http://127.0.0.1:$auth_port/check;
        proxy_pass_request_body off;
        proxy_set_header Content-Length \"\";
    }"; then
  ok 'nginx (the shipped site with auth_request added) is up'
  TASKAPI_URL=$FRONT_URL
  http GET /tasks/
  check "auth_request, no key: 401 from nginx (got $STATUS)" test "$STATUS" = 401
  task_json "alice by key $tag"
  http POST /tasks/ -H 'X-Api-Key: k-alice' -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json 'auth_request, alice'"'"'s key: POST 201' 201 "j['title'] == 'alice by key $tag'"
  k_id=$(json_field 'j["id"]' || true)
  # alice's key and a Basic header claiming bob: the service's answer wins.
  http GET "/tasks/$k_id" -H 'X-Api-Key: k-alice' -u "bob-$tag:whatever"
  expect_json "auth_request, alice's key plus a Basic header naming bob: still alice (200)" 200 "j['id'] == ${k_id:-0}"
  http GET "/tasks/$k_id" -H 'X-Api-Key: k-bob'
  expect_json "auth_request, bob's key: alice's task is 404" 404 'j == {"detail": "Task not found"}'
  check "the owner in the database is alice-$tag" \
    test "$(sql "SELECT owner FROM tasks WHERE id = ${k_id:-0}")" = "alice-$tag"
  http DELETE "/tasks/$k_id" -H 'X-Api-Key: k-alice'
  check "auth_request, alice deletes it: 204 (got $STATUS)" test "$STATUS" = 204
else
  not_ok 'nginx with auth_request in front of the remote_user instance came up'
  diag "$(tail -n 5 "$E2E_TMP/ngx-ar/error.log" "$E2E_TMP/ngx-ar/stderr.log" 2>/dev/null)"
fi

ta_stop "$apid"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
sanitizer_check
