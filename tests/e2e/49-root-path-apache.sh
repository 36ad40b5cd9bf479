#!/usr/bin/env bash
# 49-root-path-apache: the API under /api/ behind Debian's Apache, with the shipped
# deploy/apache/ files moved to a folder: CGI (taskapi-cgi.conf with ScriptAlias
# "/api/"), the shared-hosting .htaccess unchanged in a folder api/ of the document
# root, mod_proxy_fcgi (taskapi.conf with <Location "/api/">) and mod_fcgid
# (taskapi-fcgid.conf likewise), the last two with [api] root_path = /api. Location,
# Link and /openapi.json's servers carry /api. tests/e2e/39-root-path.sh has the rules.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 is installed (script/bootstrap installs the Debian package apache2)'
  exit 0
fi
tag=$$
at_exit "sql \"DELETE FROM tasks WHERE title LIKE 'root-path-apache $tag%'\""
web_config root-path-conf
web_bin
bin_dir=$(dirname "$WEB_BIN")

# under_api LABEL — the API at $APACHE_URL/api/: create, read, a page with its Link,
# the OpenAPI servers.
under_api() {
  local label=$1 id link
  TASKAPI_URL=$APACHE_URL
  task_json "root-path-apache $tag $label"
  http POST /api/tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json "$label: POST /api/tasks/ 201" 201 "j['title'] == 'root-path-apache $tag $label'"
  id=$(json_field 'j["id"]' || true)
  check "$label: Location: /api/tasks/$id (got $(header Location))" test "$(header Location)" = "/api/tasks/$id"
  http GET "/api/tasks/$id"
  expect_json "$label: GET /api/tasks/$id 200" 200 "j['id'] == ${id:-0}"
  http GET "/api/tasks/?after_id=$((${id:-0} - 1))&limit=1"
  expect_json "$label: GET /api/tasks/?limit=1 200, one task" 200 "len(j) == 1 and j[0]['id'] == ${id:-0}"
  link=$(header Link)
  check "$label: Link: </api/tasks/?after_id=$id&limit=1>; rel=\"next\" (got $link)" \
    test "$link" = "</api/tasks/?after_id=$id&limit=1>; rel=\"next\""
  http GET /api/openapi.json
  expect_json "$label: GET /api/openapi.json has servers [{\"url\": \"/api\"}]" 200 \
    "'paths' in j and j.get('servers') == [{'url': '/api'}]"
  http GET /api/no/such
  expect_json "$label: GET /api/no/such 404 JSON from taskapi" 404 'j == {"detail": "Not Found"}'
  http DELETE "/api/tasks/$id"
  check "$label: DELETE /api/tasks/$id 204 (got $STATUS)" test "$STATUS" = 204
}

# ---- CGI: the shipped site with ScriptAlias "/api/" ----
sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" \
  -e "s|ScriptAlias \"/\" \"/usr/local/bin/taskapi/\"|ScriptAlias \"/api/\" \"$WEB_BIN/\"|" \
  -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" "$TOP/deploy/apache/taskapi-cgi.conf" >"$E2E_TMP/site-cgi.conf"
if grep -q 'ScriptAlias "/api/"' "$E2E_TMP/site-cgi.conf" &&
  apache_start apache-cgi "$E2E_TMP/site-cgi.conf" cgid alias env; then
  ok 'apache2 with deploy/apache/taskapi-cgi.conf at ScriptAlias "/api/" is up'
  under_api 'Apache CGI at /api/'
  check_sanitizer_free 'Apache CGI: no sanitizer report in the error log' "$APACHE_LOG"
else
  not_ok 'apache2 with deploy/apache/taskapi-cgi.conf at ScriptAlias "/api/" starts'
  diag "$(cat "$E2E_TMP/apache-cgi/configtest.log" "$E2E_TMP/apache-cgi/stderr.log" 2>/dev/null)"
fi

# ---- shared hosting: the shipped .htaccess and taskapi.cgi in a folder api/ ----
site_dir=$E2E_TMP/shared
mkdir -p "$site_dir/htdocs/api"
cp "$TASKAPI_BIN" "$site_dir/htdocs/api/taskapi.cgi"
chmod 755 "$site_dir/htdocs/api/taskapi.cgi"
sed "s|/home/USER/.local/etc/taskapi/taskapi.ini|$WEB_INI|" "$TOP/deploy/apache/shared-hosting.htaccess" \
  >"$site_dir/htdocs/api/.htaccess"
cat >"$site_dir/site.conf" <<EOF
<VirtualHost *:80>
    DocumentRoot "$site_dir/htdocs"
    <Directory "$site_dir/htdocs">
        AllowOverride All
        Require all granted
    </Directory>
</VirtualHost>
EOF
if apache_start apache-shared "$site_dir/site.conf" cgid env mime rewrite; then
  under_api 'shared hosting in api/'
  http GET /api/taskapi.ini
  check "shared hosting in api/: GET /api/taskapi.ini is no file's content (got $STATUS)" test "$STATUS" != 200
  check_sanitizer_free 'shared hosting: no sanitizer report in the error log' "$APACHE_LOG"
else
  not_ok 'apache2 with the shared-hosting .htaccess in api/ starts'
  diag "$(cat "$E2E_TMP/apache-shared/configtest.log" "$E2E_TMP/apache-shared/stderr.log" 2>/dev/null)"
fi

# ---- mod_proxy_fcgi: <Location "/api/">, [api] root_path = /api ----
ini=$(instance_config root-path-fcgi)
root_args
web_group=$(id -gn)
if is_root; then web_group=www-data; fi
sock_dir=$E2E_TMP/sock
mkdir -p "$sock_dir"
chmod 0755 "$sock_dir"
sock=$sock_dir/taskapi.sock
ta_start proxyapp "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.socket_group="$web_group" --set api.root_path=/api
wait_for 30 fcgi_ok "$sock" || diag "$(tail -n 5 "$E2E_TMP/proxyapp.log")"
sed -e "s|/run/taskapi/taskapi.sock|$sock|" -e 's|<Location "/">|<Location "/api/">|' \
  "$TOP/deploy/apache/taskapi.conf" >"$E2E_TMP/site-proxy.conf"
if grep -q '<Location "/api/">' "$E2E_TMP/site-proxy.conf" &&
  apache_start apache-proxy "$E2E_TMP/site-proxy.conf" proxy proxy_fcgi; then
  ok 'apache2 with deploy/apache/taskapi.conf at <Location "/api/"> is up'
  under_api 'mod_proxy_fcgi at /api/'
else
  not_ok 'apache2 with deploy/apache/taskapi.conf at <Location "/api/"> starts'
  diag "$(cat "$E2E_TMP/apache-proxy/configtest.log" "$E2E_TMP/apache-proxy/stderr.log" 2>/dev/null)"
fi

# ---- mod_fcgid: <Location "/api/">, TASKAPI_API_ROOT_PATH=/api ----
if [ -e /usr/lib/apache2/modules/mod_fcgid.so ]; then
  mkdir -p "$E2E_TMP/fcgid-ipc"
  chown "$WEB_USER" "$E2E_TMP/fcgid-ipc"
  {
    echo "FcgidIPCDir $E2E_TMP/fcgid-ipc"
    echo "FcgidProcessTableFile $E2E_TMP/fcgid-ipc/shm"
    echo "FcgidInitialEnv TASKAPI_API_ROOT_PATH /api"
    sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" -e "s|\"/usr/local/bin/taskapi\"|\"$WEB_BIN\"|" \
      -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" -e 's|<Location "/">|<Location "/api/">|' \
      "$TOP/deploy/apache/taskapi-fcgid.conf"
  } >"$E2E_TMP/site-fcgid.conf"
  if apache_start apache-fcgid "$E2E_TMP/site-fcgid.conf" fcgid; then
    # The first request starts taskapi.
    TASKAPI_URL=$APACHE_URL wait_for 30 status_is /api/healthz 200 || diag "$(tail -n 8 "$APACHE_LOG")"
    under_api 'mod_fcgid at /api/'
  else
    not_ok 'apache2 with deploy/apache/taskapi-fcgid.conf at <Location "/api/"> starts'
    diag "$(cat "$E2E_TMP/apache-fcgid/configtest.log" "$E2E_TMP/apache-fcgid/stderr.log" 2>/dev/null)"
  fi
else
  not_ok 'mod_fcgid is installed (script/bootstrap: libapache2-mod-fcgid)'
fi

sanitizer_check
