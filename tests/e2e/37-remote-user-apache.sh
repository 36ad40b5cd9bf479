#!/usr/bin/env bash
# 37-remote-user-apache: [auth] mode = remote_user behind Debian's Apache with
# AuthType Basic (mod_auth_basic, mod_authn_file, htpasswd made with openssl), added to
# the shipped deploy/apache files: mod_proxy_fcgi over taskapi's unix socket (owned by
# Apache's user, 0600: the socket rule lets it serve) and mod_fcgid (Apache starts
# taskapi on its own 0700 socket, fd 0). Apache answers 401 without credentials and
# with a wrong password; alice and bob reach taskapi as REMOTE_USER, each sees only
# their own tasks, another's is 404.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 is installed (script/bootstrap installs the Debian package apache2)'
  exit 0
fi
root_args
tag=$$
# The users are alice-$tag and bob-$tag: their tasks go when the test ends (e2e 60
# counts every task in the table).
at_exit "sql \"DELETE FROM tasks WHERE owner LIKE '%-$tag'\""
web_user=$(id -un)
if is_root; then web_user=www-data; fi
auth_mods=(auth_basic authn_core authn_file authz_user)

pw_alice="a-$tag-secret" pw_bob="b-$tag-secret"
htpasswd=$E2E_TMP/htpasswd
{
  printf 'alice-%s:%s\n' "$tag" "$(openssl passwd -apr1 "$pw_alice")"
  printf 'bob-%s:%s\n' "$tag" "$(openssl passwd -apr1 "$pw_bob")"
} >"$htpasswd"
chmod 0644 "$htpasswd"
basic_auth="        AuthType Basic
        AuthName \"taskapi\"
        AuthBasicProvider file
        AuthUserFile \"$htpasswd\"
        Require valid-user"

# as WHO METHOD PATH [CURL ARGS...] — a request with WHO's password.
as() {
  local who=$1 pw=$pw_alice
  shift
  [ "$who" = bob ] && pw=$pw_bob
  http "$@" -u "$who-$tag:$pw"
}

# two_owners LABEL — the whole story at TASKAPI_URL.
two_owners() {
  local label=$1 a_id b_id
  http GET /tasks/
  check "$label: no credentials: Apache answers 401 (got $STATUS)" test "$STATUS" = 401
  check "$label: ... with WWW-Authenticate: Basic realm=\"taskapi\"" \
    grep -qi '^WWW-Authenticate: Basic realm="taskapi"' "$HEADERS"
  http GET /tasks/ -u "alice-$tag:wrong"
  check "$label: a wrong password: 401 (got $STATUS)" test "$STATUS" = 401

  task_json "alice's $label $tag"
  as alice POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json "$label: alice creates a task: 201" 201 "j['title'] == \"alice's $label $tag\""
  a_id=$(json_field 'j["id"]' || true)
  task_json "bob's $label $tag"
  as bob POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json "$label: bob creates a task: 201" 201 "j['title'] == \"bob's $label $tag\""
  b_id=$(json_field 'j["id"]' || true)

  as alice GET "/tasks/$a_id"
  expect_json "$label: alice GETs her task: 200" 200 "j['id'] == ${a_id:-0}"
  as bob GET "/tasks/$b_id"
  expect_json "$label: bob GETs his task: 200" 200 "j['id'] == ${b_id:-0}"
  as alice GET "/tasks/$b_id"
  expect_json "$label: alice GETs bob's task: 404" 404 'j == {"detail": "Task not found"}'
  as bob GET "/tasks/$a_id"
  expect_json "$label: bob GETs alice's task: 404" 404 'j == {"detail": "Task not found"}'
  as bob PATCH "/tasks/$a_id" -H 'Content-Type: application/json' --data-binary '{"title": "taken"}'
  check "$label: bob PATCHes alice's task: 404 (got $STATUS)" test "$STATUS" = 404
  as alice GET "/tasks/?limit=100&after_id=$((${a_id:-1} - 1))"
  expect_json "$label: alice's list has her task, not bob's" 200 \
    "${a_id:-0} in [t['id'] for t in j] and ${b_id:-0} not in [t['id'] for t in j]"
  as bob GET "/tasks/?limit=100&after_id=$((${a_id:-1} - 1))"
  expect_json "$label: bob's list has his task, not alice's" 200 \
    "${b_id:-0} in [t['id'] for t in j] and ${a_id:-0} not in [t['id'] for t in j]"
  as alice GET "/tasks/$a_id"
  expect_json "$label: alice's task is unchanged" 200 "j['title'] == \"alice's $label $tag\""
  as alice DELETE "/tasks/$a_id"
  check "$label: alice DELETEs her task: 204 (got $STATUS)" test "$STATUS" = 204
  as bob DELETE "/tasks/$b_id"
  check "$label: bob DELETEs his task: 204 (got $STATUS)" test "$STATUS" = 204
}

# ---- mod_proxy_fcgi over the unix socket (deploy/apache/taskapi.conf) ----
ini=$(instance_config ru-apache)
sock_dir=$E2E_TMP/sock
mkdir -p "$sock_dir"
chmod 0755 "$sock_dir"
sock=$sock_dir/taskapi.sock
ta_start ru-proxy "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set auth.mode=remote_user \
  --set server.listen="$sock" --set server.socket_owner="$web_user" --set server.socket_mode=0600
ppid_=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  ok "remote_user on a unix socket $(stat -c '%a %U:%G' "$sock" 2>/dev/null) (Apache's user alone): it serves"
else
  not_ok "remote_user on a unix socket owned by $web_user serves within 30s"
  diag "$(tail -n 5 "$E2E_TMP/ru-proxy.log")"
fi
site=$E2E_TMP/site-proxy.conf
awk -v auth="$basic_auth" '{ print } /SetHandler "proxy:unix:/ { print auth }' \
  "$TOP/deploy/apache/taskapi.conf" | sed "s|/run/taskapi/taskapi.sock|$sock|" >"$site"
if apache_start apache-ru-proxy "$site" proxy proxy_fcgi "${auth_mods[@]}"; then
  ok 'apache2 with deploy/apache/taskapi.conf and AuthType Basic is up'
  TASKAPI_URL=$APACHE_URL
  two_owners 'mod_proxy_fcgi'
  stop_pid apache2 "$APACHE_PID" TERM 15 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with deploy/apache/taskapi.conf and AuthType Basic starts'
  diag "$(cat "$E2E_TMP/apache-ru-proxy/configtest.log" "$E2E_TMP/apache-ru-proxy/stderr.log" 2>/dev/null)"
fi
ta_stop "$ppid_"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

# ---- mod_fcgid (deploy/apache/taskapi-fcgid.conf): Apache starts taskapi ----
if [ ! -e /usr/lib/apache2/modules/mod_fcgid.so ]; then
  not_ok 'mod_fcgid is installed (script/bootstrap: libapache2-mod-fcgid)'
  exit 0
fi
web_config ru-fcgid-conf
web_bin
bin_dir=$(dirname "$WEB_BIN")
mkdir -p "$E2E_TMP/fcgid-ipc"
chown "$WEB_USER" "$E2E_TMP/fcgid-ipc"
site=$E2E_TMP/site-fcgid.conf
{
  echo "FcgidIPCDir $E2E_TMP/fcgid-ipc"
  echo "FcgidProcessTableFile $E2E_TMP/fcgid-ipc/shm"
  # The mode for this test only (the file layer under it is the stack's, mode none).
  echo "FcgidInitialEnv TASKAPI_AUTH_MODE remote_user"
  sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" -e "s|\"/usr/local/bin/taskapi\"|\"$WEB_BIN\"|" \
    -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" "$TOP/deploy/apache/taskapi-fcgid.conf" |
    awk -v auth="$basic_auth" '{ print } /FcgidWrapper / { print auth }'
} >"$site"
if apache_start apache-ru-fcgid "$site" fcgid "${auth_mods[@]}"; then
  ok 'apache2 with deploy/apache/taskapi-fcgid.conf and AuthType Basic is up'
  TASKAPI_URL=$APACHE_URL
  if wait_for 30 bash -c "curl -s -o /dev/null -w '%{http_code}' -u 'alice-$tag:$pw_alice' '$APACHE_URL/healthz' | grep -qx 200"; then
    ok "mod_fcgid: taskapi started in remote_user mode on mod_fcgid's socket (${WAITED}s)"
  else
    not_ok 'mod_fcgid: taskapi answers /healthz within 30s'
    diag "$(tail -n 8 "$APACHE_LOG")"
  fi
  check "... its socket passed the rule (no refusal in Apache's error log)" \
    bash -c "! grep -q 'refusing to serve' '$APACHE_LOG'"
  two_owners 'mod_fcgid'
  stop_pid apache2 "$APACHE_PID" TERM 20 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with deploy/apache/taskapi-fcgid.conf and AuthType Basic starts'
  diag "$(cat "$E2E_TMP/apache-ru-fcgid/configtest.log" "$E2E_TMP/apache-ru-fcgid/stderr.log" 2>/dev/null)"
fi

sanitizer_check
