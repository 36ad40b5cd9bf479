#!/usr/bin/env bash
# 84-cgi: plain CGI (RFC 3875). Without a FastCGI socket on fd 0 and with
# GATEWAY_INTERFACE set, taskapi answers the one request in its environment and on
# stdin, on stdout, and exits: first run by hand the way a web server runs it (every
# method, SCRIPT_NAME in front of the path or not, bodies cut at CONTENT_LENGTH, too
# large, too short, the database down), then behind Debian's Apache with mod_cgid,
# with the shipped deploy/apache/taskapi-cgi.conf and shared-hosting.htaccess.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config cgi)
root_args
tag=$$

# cgi METHOD REQUEST_URI [BODY_FILE] [NAME=VALUE...] — run taskapi as a CGI program
# (SCRIPT_NAME /cgi-bin/taskapi unless given), 10 s at most. Sets STATUS, CTYPE, BODY,
# HEADERS (cgi_split) and CGI_EXIT; its stderr is in $E2E_TMP/cgi.err.
cgi() {
  local method=$1 uri=$2 body=${3:-/dev/null} len=0
  shift 2
  [ $# -eq 0 ] || shift
  [ "$body" = /dev/null ] || len=$(stat -c %s "$body")
  CGI_EXIT=0
  env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
    REQUEST_METHOD="$method" REQUEST_URI="$uri" QUERY_STRING="$([[ $uri == *\?* ]] && echo "${uri#*\?}")" \
    SCRIPT_NAME=/cgi-bin/taskapi PATH_INFO="$(p=${uri%%\?*}; echo "${p#/cgi-bin/taskapi}")" \
    CONTENT_TYPE="$([ "$len" -gt 0 ] && echo application/json)" \
    CONTENT_LENGTH="$([ "$len" -gt 0 ] && echo "$len")" "$@" \
    timeout 10 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" <"$body" >"$E2E_TMP/cgi.out" 2>"$E2E_TMP/cgi.err" ||
    CGI_EXIT=$?
  cgi_split "$E2E_TMP/cgi.out"
}

# ---- by hand ----
cgi GET /cgi-bin/taskapi/healthz
expect_json 'CGI GET /cgi-bin/taskapi/healthz: 200 on stdout (SCRIPT_NAME stripped)' 200 'j == {"status": "ok"}'
check "... and the program exits 0 after the one request (exit $CGI_EXIT)" test "$CGI_EXIT" = 0
check '... with a CGI Status line first' grep -q $'^Status: 200 OK\r$' "$E2E_TMP/cgi.out"

task_json "cgi $tag ✓"
cgi POST /cgi-bin/taskapi/tasks/ "$E2E_TMP/task.json"
expect_json 'CGI POST /tasks/ with a JSON body on stdin: 201' 201 "j['title'] == 'cgi $tag ✓'"
id=$(json_field 'j["id"]' || true)
check 'the task is in the database' test "$(sql "SELECT title FROM tasks WHERE id = ${id:-0}")" = "cgi $tag ✓"

# Behind a rewrite REQUEST_URI is the API path already (it does not start with SCRIPT_NAME).
cgi GET "/tasks/$id" /dev/null SCRIPT_NAME=/taskapi.cgi
expect_json "CGI GET /tasks/$id with SCRIPT_NAME /taskapi.cgi (a rewrite): 200" 200 "j['id'] == ${id:-0}"
etag=$(header ETag)
cgi GET "/cgi-bin/taskapi/tasks/?limit=1&skip=0"
expect_json 'CGI GET /tasks/?limit=1 (QUERY_STRING): a list of 1' 200 'isinstance(j, list) and len(j) == 1'
cgi PATCH "/cgi-bin/taskapi/tasks/$id?completed=true"
expect_json "CGI PATCH /tasks/$id?completed=true: 200" 200 'j["is_completed"] is True'
printf '{"description": "from CGI"}' >"$E2E_TMP/patch.json"
cgi PATCH "/cgi-bin/taskapi/tasks/$id" "$E2E_TMP/patch.json" HTTP_IF_MATCH="$etag"
expect_json 'CGI PATCH with an outdated If-Match (HTTP_IF_MATCH): 412' 412 '"detail" in j'
cgi PATCH "/cgi-bin/taskapi/tasks/$id" "$E2E_TMP/patch.json"
expect_json 'CGI PATCH with a JSON body: 200' 200 'j["description"] == "from CGI"'
printf '{"title": ""}' >"$E2E_TMP/empty.json"
cgi POST /cgi-bin/taskapi/tasks/ "$E2E_TMP/empty.json"
expect_json 'CGI POST an empty title: 422 with a detail list' 422 'isinstance(j["detail"], list)'
cgi GET /cgi-bin/taskapi/nowhere
expect_json 'CGI GET /nowhere: 404 JSON' 404 'j == {"detail": "Not Found"}'
cgi HEAD /cgi-bin/taskapi/healthz
check 'CGI HEAD /healthz: 200, headers only' test "$STATUS" = 200 -a ! -s "$BODY"
cgi DELETE "/cgi-bin/taskapi/tasks/$id"
check "CGI DELETE /tasks/$id: 204 (got $STATUS)" test "$STATUS" = 204
cgi GET "/cgi-bin/taskapi/tasks/$id"
expect_json "CGI GET /tasks/$id after DELETE: 404" 404 'j == {"detail": "Task not found"}'

# RFC 3875 4.2: the program reads CONTENT_LENGTH bytes and no more; the server need
# not close stdin.
first="{\"title\": \"cut $tag\"}"
printf '%s{"title": "never read"}' "$first" >"$E2E_TMP/long.json"
cgi POST /cgi-bin/taskapi/tasks/ "$E2E_TMP/long.json" CONTENT_LENGTH=${#first}
expect_json 'CGI: only CONTENT_LENGTH bytes of stdin are the body' 201 "j['title'] == 'cut $tag'"
rc=0
mkfifo "$E2E_TMP/stdin.fifo"
sleep 20 >"$E2E_TMP/stdin.fifo" 2>/dev/null & # the writer that never closes
holder=$!
env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/healthz CONTENT_LENGTH=0 \
  timeout 5 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" <"$E2E_TMP/stdin.fifo" >"$E2E_TMP/open.out" 2>/dev/null ||
  rc=$?
kill "$holder" 2>/dev/null || true
check "CGI with stdin left open and CONTENT_LENGTH 0: answers without waiting for end of file (exit $rc)" \
  test "$rc" = 0
printf '{"title": "short"}' >"$E2E_TMP/short.json"
cgi POST /cgi-bin/taskapi/tasks/ "$E2E_TMP/short.json" CONTENT_LENGTH=100
expect_json 'CGI: a body shorter than CONTENT_LENGTH: 400' 400 '"Content-Length" in j["detail"]'
head -c 70000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
cgi POST /cgi-bin/taskapi/tasks/ "$E2E_TMP/big"
expect_json 'CGI: a body over server.max_body_bytes: 413' 413 '"65536" in j["detail"]'

# The database down: a JSON 503, not a crash or a hang.
cgi GET /cgi-bin/taskapi/tasks/ /dev/null TASKAPI_DATABASE_SOCKET="$E2E_TMP/no-such.sock"
expect_json 'CGI with the database unreachable: 503 JSON' 503 '"detail" in j'
check "... and still exit 0 with a response written (exit $CGI_EXIT)" test "$CGI_EXIT" = 0

# Not CGI: no GATEWAY_INTERFACE, no listener, no server.listen.
rc=0
env -i PATH="$PATH" REQUEST_METHOD=GET REQUEST_URI=/healthz timeout 10 "$TASKAPI_BIN" -c "$ini" \
  "${ROOT_ARGS[@]}" </dev/null >"$E2E_TMP/notcgi.out" 2>&1 || rc=$?
check "without GATEWAY_INTERFACE taskapi does not answer as CGI (exit $rc, no Status line)" \
  bash -c "[ $rc -ne 0 ] && ! grep -q '^Status:' '$E2E_TMP/notcgi.out'"
if is_root; then
  rc=0
  env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/healthz \
    timeout 10 "$TASKAPI_BIN" -c "$ini" </dev/null >"$E2E_TMP/root.out" 2>"$E2E_TMP/root.err" || rc=$?
  check "as root without server.user or allow_root, the CGI refuses (exit $rc, stdout empty)" \
    bash -c "[ $rc -eq 1 ] && [ ! -s '$E2E_TMP/root.out' ] && grep -q 'refusing to run as root' '$E2E_TMP/root.err'"
fi

# ---- behind Apache (mod_cgid): the shipped site and the shared-hosting .htaccess ----
if ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 is installed (script/bootstrap installs the Debian package apache2)'
  exit 0
fi
# The program runs as Apache's user: give it its own config and password file.
# and a copy of the binary it can reach wherever the checkout is.
web_config cgi-conf
web_bin
bin_dir=$(dirname "$WEB_BIN")

sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" \
  -e "s|\"/usr/local/bin/taskapi/\"|\"$WEB_BIN/\"|" -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" \
  "$TOP/deploy/apache/taskapi-cgi.conf" >"$E2E_TMP/site-cgi.conf"
if apache_start apache-cgi "$E2E_TMP/site-cgi.conf" cgid alias env; then
  ok 'apache2 with deploy/apache/taskapi-cgi.conf (mod_cgid, ScriptAlias /) is up'
  TASKAPI_URL=$APACHE_URL
  http GET /healthz
  expect_json 'Apache CGI: GET /healthz 200' 200 'j == {"status": "ok"}'
  task_json "apache cgi $tag"
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json 'Apache CGI: POST /tasks/ 201' 201 "j['title'] == 'apache cgi $tag'"
  id=$(json_field 'j["id"]' || true)
  check "Apache CGI: Location: /tasks/$id (the API is at the site root)" test "$(header Location)" = "/tasks/$id"
  http PATCH "/tasks/$id?completed=true"
  expect_json "Apache CGI: PATCH /tasks/$id?completed=true 200" 200 'j["is_completed"] is True'
  http GET '/tasks/?limit=zero'
  expect_json 'Apache CGI: GET /tasks/?limit=zero 422' 422 'isinstance(j["detail"], list)'
  http DELETE "/tasks/$id"
  check "Apache CGI: DELETE /tasks/$id 204 (got $STATUS)" test "$STATUS" = 204
  http GET "/tasks/$id"
  expect_json 'Apache CGI: GET after DELETE 404 JSON' 404 'j == {"detail": "Task not found"}'
  head -c 70000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/big"
  check "Apache CGI: a 70000-byte body: 413 (LimitRequestBody; got $STATUS)" test "$STATUS" = 413
  check_sanitizer_free 'Apache CGI: no sanitizer report in the error log' "$APACHE_LOG"
else
  not_ok 'apache2 with deploy/apache/taskapi-cgi.conf starts'
  diag "$(cat "$E2E_TMP/apache-cgi/configtest.log" "$E2E_TMP/apache-cgi/stderr.log" 2>/dev/null)" \
    "$(tail -n 5 "$E2E_TMP/apache-cgi/logs/error.log" 2>/dev/null)"
fi

# Shared hosting: the binary as taskapi.cgi in a web root with the shipped .htaccess.
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
if apache_start apache-shared "$site_dir/site.conf" cgid env mime rewrite; then
  TASKAPI_URL=$APACHE_URL
  task_json "shared hosting $tag"
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json 'shared hosting (.htaccess, taskapi.cgi): POST /tasks/ 201' 201 "j['title'] == 'shared hosting $tag'"
  id=$(json_field 'j["id"]' || true)
  check "shared hosting: Location: /tasks/$id" test "$(header Location)" = "/tasks/$id"
  http GET "/tasks/$id"
  expect_json "shared hosting: GET /tasks/$id 200" 200 "j['id'] == ${id:-0}"
  http GET /healthz
  expect_json 'shared hosting: GET /healthz 200' 200 'j == {"status": "ok"}'
  http GET /no/such
  expect_json 'shared hosting: GET /no/such 404 JSON from taskapi' 404 'j == {"detail": "Not Found"}'
  check_sanitizer_free 'shared hosting: no sanitizer report in the error log' "$APACHE_LOG"
else
  not_ok 'apache2 with the shared-hosting .htaccess starts'
  diag "$(cat "$E2E_TMP/apache-shared/configtest.log" "$E2E_TMP/apache-shared/stderr.log" 2>/dev/null)" \
    "$(tail -n 5 "$E2E_TMP/apache-shared/logs/error.log" 2>/dev/null)"
fi

sanitizer_check
