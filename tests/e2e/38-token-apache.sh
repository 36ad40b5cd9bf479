#!/usr/bin/env bash
# 38-token-apache: [auth] mode = token through Debian's Apache in every way taskapi
# ships for it, with the shipped files as they are (paths and ports replaced only):
# mod_proxy_fcgi over the unix socket (deploy/apache/taskapi.conf) and over TCP
# (taskapi-tcp.conf), mod_fcgid (taskapi-fcgid.conf), CGI (taskapi-cgi.conf) and the
# shared-hosting .htaccess. Apache 2.4.13+ hides the Authorization header from
# FastCGI and CGI programs unless CGIPassAuth is on, so the files carry it: a valid
# token is 200, none is 401 with WWW-Authenticate: Bearer realm="taskapi", a wrong
# one 401 with error="invalid_token". And the trap itself: taskapi.conf without its
# CGIPassAuth line turns the valid token into a 401.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 is installed (script/bootstrap installs the Debian package apache2)'
  exit 0
fi
token_out=$("$TASKAPI_BIN" token list 2>&1 || true)
if [[ $token_out == *"unknown command 'token'"* ]]; then
  ok '# SKIP token commands not in this build'
  exit 0
fi
root_args
tag=$$
# The token's owner is alice-$tag: its tasks go when the test ends.
at_exit "sql \"DELETE FROM tasks WHERE owner LIKE '%-$tag'\""

# token_mode FILE — FILE's [auth] mode becomes token (the stack's file says which
# token_key_file); FILE stays its owner's, mode 0600.
token_mode() {
  local owner
  owner=$(stat -c %U "$1")
  sed -i 's/^mode *=.*/mode = token/' "$1"
  chown "$owner" "$1"
  chmod 600 "$1"
}

ini=$(instance_config token-apache)
token_mode "$ini"
check 'the configuration names a token key file' grep -q '^token_key_file *= *[^ ]' "$ini"
# As an operator runs it: the token account's password file on the command line only
# (the stack keeps it out of the serving configuration).
T=$("$TASKAPI_BIN" -c "$ini" --set "auth.token_admin_password_file=$SECRETS_DIR/tokens.pass" \
  token create --owner "alice-$tag" --scopes tasks:read,tasks:write 2>"$E2E_TMP/create.err") || true
check "taskapi token create --owner alice-$tag --scopes tasks:read,tasks:write prints one token" \
  bash -c "[ -n '$T' ] && [ \$(printf '%s\n' '$T' | wc -l) = 1 ]"
[ -n "$T" ] || diag "$(cat "$E2E_TMP/create.err")"
# The same token with its last character changed: well-formed, wrong.
last=${T: -1}
if [ "$last" = A ]; then bad=${T%?}B; else bad=${T%?}A; fi

# bearer LABEL — the token story at TASKAPI_URL.
bearer() {
  local label=$1 id
  http GET /healthz
  expect_json "$label: /healthz needs no token: 200" 200 'j == {"status": "ok"}'
  http GET /tasks/
  expect_json "$label: no token: 401" 401 '"detail" in j'
  check "$label: ... with WWW-Authenticate: Bearer realm=\"taskapi\" (no error code)" \
    test "$(header WWW-Authenticate)" = 'Bearer realm="taskapi"'
  http GET /tasks/ -H "Authorization: Bearer $bad"
  expect_json "$label: a token with one character changed: 401" 401 '"detail" in j'
  check "$label: ... with error=\"invalid_token\" (the token reached taskapi)" \
    test "$(header WWW-Authenticate)" = 'Bearer realm="taskapi", error="invalid_token"'
  http GET '/tasks/?limit=1' -H "Authorization: Bearer $T"
  expect_json "$label: a valid token: GET /tasks/ 200" 200 'isinstance(j, list)'
  task_json "token $label $tag"
  http POST /tasks/ -H "Authorization: Bearer $T" -H 'Content-Type: application/json' \
    --data-binary @"$E2E_TMP/task.json"
  expect_json "$label: a valid token: POST /tasks/ 201" 201 "j['title'] == 'token $label $tag'"
  id=$(json_field 'j["id"]' || true)
  http DELETE "/tasks/$id" -H "authorization: bearer $T"
  check "$label: DELETE with the token (scheme in lower case): 204 (got $STATUS)" test "$STATUS" = 204
}

# ---- mod_proxy_fcgi over the unix socket ----
sock_dir=$E2E_TMP/sock
mkdir -p "$sock_dir"
chmod 0755 "$sock_dir"
sock=$sock_dir/taskapi.sock
web_group=$(id -gn)
if is_root; then web_group=www-data; fi
ta_start tok-unix "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.socket_group="$web_group"
upid=$TA_PID
wait_for 30 fcgi_ok "$sock" || diag "$(tail -n 5 "$E2E_TMP/tok-unix.log")"
sed "s|/run/taskapi/taskapi.sock|$sock|" "$TOP/deploy/apache/taskapi.conf" >"$E2E_TMP/site-unix.conf"
check 'deploy/apache/taskapi.conf has CGIPassAuth On' grep -q '^ *CGIPassAuth On' "$E2E_TMP/site-unix.conf"
if apache_start apache-tok-unix "$E2E_TMP/site-unix.conf" proxy proxy_fcgi; then
  TASKAPI_URL=$APACHE_URL bearer 'mod_proxy_fcgi unix'
  stop_pid apache2 "$APACHE_PID" TERM 15 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with deploy/apache/taskapi.conf starts'
  diag "$(cat "$E2E_TMP/apache-tok-unix/configtest.log" "$E2E_TMP/apache-tok-unix/stderr.log" 2>/dev/null)"
fi
# The trap: the same file without CGIPassAuth.
grep -v 'CGIPassAuth' "$E2E_TMP/site-unix.conf" >"$E2E_TMP/site-nopass.conf"
if apache_start apache-tok-nopass "$E2E_TMP/site-nopass.conf" proxy proxy_fcgi; then
  TASKAPI_URL=$APACHE_URL http GET /tasks/ -H "Authorization: Bearer $T"
  check "without CGIPassAuth On, Apache hides the valid token: 401 (got $STATUS)" test "$STATUS" = 401
  check '... and taskapi saw no token at all (no error code)' \
    test "$(header WWW-Authenticate)" = 'Bearer realm="taskapi"'
  stop_pid apache2 "$APACHE_PID" TERM 15 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with taskapi.conf minus CGIPassAuth starts'
fi
ta_stop "$upid"

# ---- mod_proxy_fcgi over TCP ----
port=$(free_port)
ta_start tok-tcp "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="127.0.0.1:$port"
tpid=$TA_PID
wait_for 30 fcgi_ok "127.0.0.1:$port" || diag "$(tail -n 5 "$E2E_TMP/tok-tcp.log")"
sed "s|127.0.0.1:9000|127.0.0.1:$port|" "$TOP/deploy/apache/taskapi-tcp.conf" >"$E2E_TMP/site-tcp.conf"
if apache_start apache-tok-tcp "$E2E_TMP/site-tcp.conf" proxy proxy_fcgi; then
  TASKAPI_URL=$APACHE_URL bearer 'mod_proxy_fcgi TCP'
  stop_pid apache2 "$APACHE_PID" TERM 15 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with deploy/apache/taskapi-tcp.conf starts'
  diag "$(cat "$E2E_TMP/apache-tok-tcp/configtest.log" "$E2E_TMP/apache-tok-tcp/stderr.log" 2>/dev/null)"
fi
ta_stop "$tpid"

# ---- Apache runs taskapi itself: its own configuration, readable by its user ----
web_config tok-web
token_mode "$WEB_INI"
web_bin
bin_dir=$(dirname "$WEB_BIN")

# mod_fcgid
if [ -e /usr/lib/apache2/modules/mod_fcgid.so ]; then
  mkdir -p "$E2E_TMP/fcgid-ipc"
  chown "$WEB_USER" "$E2E_TMP/fcgid-ipc"
  {
    echo "FcgidIPCDir $E2E_TMP/fcgid-ipc"
    echo "FcgidProcessTableFile $E2E_TMP/fcgid-ipc/shm"
    sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" -e "s|\"/usr/local/bin/taskapi\"|\"$WEB_BIN\"|" \
      -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" "$TOP/deploy/apache/taskapi-fcgid.conf"
  } >"$E2E_TMP/site-fcgid.conf"
  if apache_start apache-tok-fcgid "$E2E_TMP/site-fcgid.conf" fcgid; then
    TASKAPI_URL=$APACHE_URL
    wait_for 30 status_is /healthz 200 || diag "$(tail -n 8 "$APACHE_LOG")"
    bearer 'mod_fcgid'
    stop_pid apache2 "$APACHE_PID" TERM 20 >/dev/null 2>&1 || true
  else
    not_ok 'apache2 with deploy/apache/taskapi-fcgid.conf starts'
    diag "$(cat "$E2E_TMP/apache-tok-fcgid/configtest.log" "$E2E_TMP/apache-tok-fcgid/stderr.log" 2>/dev/null)"
  fi
else
  not_ok 'mod_fcgid is installed (script/bootstrap: libapache2-mod-fcgid)'
fi

# CGI (mod_cgid)
sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" \
  -e "s|\"/usr/local/bin/taskapi/\"|\"$WEB_BIN/\"|" -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" \
  "$TOP/deploy/apache/taskapi-cgi.conf" >"$E2E_TMP/site-cgi.conf"
if apache_start apache-tok-cgi "$E2E_TMP/site-cgi.conf" cgid alias env; then
  TASKAPI_URL=$APACHE_URL bearer 'CGI'
  stop_pid apache2 "$APACHE_PID" TERM 15 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with deploy/apache/taskapi-cgi.conf starts'
  diag "$(cat "$E2E_TMP/apache-tok-cgi/configtest.log" "$E2E_TMP/apache-tok-cgi/stderr.log" 2>/dev/null)"
fi

# Shared hosting: taskapi.cgi in a web root with the shipped .htaccess.
site_dir=$E2E_TMP/shared
mkdir -p "$site_dir/htdocs"
cp "$TASKAPI_BIN" "$site_dir/htdocs/taskapi.cgi"
chmod 755 "$site_dir/htdocs/taskapi.cgi"
sed "s|/home/USER/.local/etc/taskapi/taskapi.ini|$WEB_INI|" "$TOP/deploy/apache/shared-hosting.htaccess" \
  >"$site_dir/htdocs/.htaccess"
cat >"$site_dir/site.conf" <<EOF
<VirtualHost *:80>
    DocumentRoot "$site_dir/htdocs"
    <Directory "$site_dir/htdocs">
        AllowOverride All
        Require all granted
    </Directory>
</VirtualHost>
EOF
if apache_start apache-tok-shared "$site_dir/site.conf" cgid env mime rewrite; then
  TASKAPI_URL=$APACHE_URL bearer 'shared hosting .htaccess'
  stop_pid apache2 "$APACHE_PID" TERM 15 >/dev/null 2>&1 || true
else
  not_ok 'apache2 with the shared-hosting .htaccess starts'
  diag "$(cat "$E2E_TMP/apache-tok-shared/configtest.log" "$E2E_TMP/apache-tok-shared/stderr.log" 2>/dev/null)"
fi

# no_secret_in_logs — a token was made, and no log of this test (taskapi's, Apache's)
# holds it.
no_secret_in_logs() {
  local hits
  [ -n "$T" ] || return 1
  hits=$(grep -rlF --include='*.log' -- "$T" "$E2E_TMP" || true)
  [ -z "$hits" ] || diag "the token is in: $hits"
  [ -z "$hits" ]
}
check 'the token appears in no log of this test' no_secret_in_logs
sanitizer_check
