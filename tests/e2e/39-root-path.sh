#!/usr/bin/env bash
# 39-root-path: the API under a prefix, as FastAPI's root_path. With [api] root_path =
# /api behind the shipped nginx site (which passes every path): /api/... is served
# without the prefix, a path without it as it is (a proxy that stripped it), /apix is
# not /api; Location, Link, /openapi.json's servers and the /docs pages carry /api.
# Without root_path, the stack's own taskapi has no servers and no prefix, and
# FastCGI's SCRIPT_NAME / PATH_INFO (nginx's, or Apache's walk of its document root)
# never make one. As a CGI program, the prefix comes from SCRIPT_NAME and PATH_INFO:
# the shared-hosting rewrite in a folder and a ScriptAlias. Apache itself:
# tests/e2e/49-root-path-apache.sh.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config root-path)
root_args
tag=$$
at_exit "sql \"DELETE FROM tasks WHERE title LIKE 'root-path $tag%'\""

# servers_are EXPECTED — the last body is the OpenAPI document, with servers EXPECTED
# (a Python value: None when it has none).
servers_are() {
  json_true "'paths' in j and j.get('servers') == $1"
}

# ---- [api] root_path = /api behind the shipped nginx site ----
sock=$E2E_TMP/root-path.sock
ta_start root-path "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set api.root_path=/api
if ! wait_for 30 fcgi_ok "$sock" || ! ngx_front ngx "unix:$sock"; then
  not_ok 'taskapi with api.root_path = /api and nginx in front start'
  diag "$(tail -n 5 "$E2E_TMP/root-path.log")" "$(tail -n 5 "$E2E_TMP/ngx/error.log" 2>/dev/null)"
  exit 0
fi
stack_url=$TASKAPI_URL
TASKAPI_URL=$FRONT_URL

task_json "root-path $tag one"
http POST /api/tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
expect_json 'root_path /api: POST /api/tasks/ 201' 201 "j['title'] == 'root-path $tag one'"
id=$(json_field 'j["id"]' || true)
check "... Location: /api/tasks/$id (got $(header Location))" test "$(header Location)" = "/api/tasks/$id"
http GET "/api/tasks/$id"
expect_json "root_path /api: GET /api/tasks/$id 200" 200 "j['id'] == ${id:-0}"
http GET "/tasks/$id"
expect_json "root_path /api: GET /tasks/$id (a proxy stripped the prefix) 200" 200 "j['id'] == ${id:-0}"
http GET /apix/tasks/
expect_json 'root_path /api: GET /apix/tasks/ is not under /api: 404' 404 'j == {"detail": "Not Found"}'
http GET /api/healthz
expect_json 'root_path /api: GET /api/healthz 200' 200 'j == {"status": "ok"}'

task_json "root-path $tag two"
http POST /api/tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
http GET "/api/tasks/?after_id=$((${id:-0} - 1))&limit=1"
expect_json 'root_path /api: GET /api/tasks/?limit=1 200, one task' 200 "len(j) == 1 and j[0]['id'] == ${id:-0}"
link=$(header Link)
check "... Link: </api/tasks/?after_id=$id&limit=1>; rel=\"next\" (got $link)" \
  test "$link" = "</api/tasks/?after_id=$id&limit=1>; rel=\"next\""
next=${link#<}
next=${next%%>*}
http GET "$next"
expect_json "... the Link answers: the task after $id" 200 "len(j) == 1 and j[0]['id'] > ${id:-0}"
link=$(header Link)
check "... and its own Link is under /api too ($link)" test "${link#</api/tasks/?after_id=}" != "$link"

http GET /api/openapi.json
expect_json 'root_path /api: GET /api/openapi.json has servers [{"url": "/api"}]' 200 \
  "'paths' in j and j.get('servers') == [{'url': '/api'}]"
http GET /openapi.json
expect_json '... and so has /openapi.json (a stripped path)' 200 "j.get('servers') == [{'url': '/api'}]"
http GET /api/docs
check "root_path /api: GET /api/docs ($STATUS) points its UI at /api/openapi.json" \
  grep -q '"/api/openapi.json"' "$BODY"

# ---- no root_path: the stack's own taskapi, and a FastCGI peer's variables ----
TASKAPI_URL=$stack_url
http GET /openapi.json
check 'no root_path: /openapi.json has no servers (relative to where it is served)' servers_are None
task_json "root-path $tag three"
http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
id3=$(json_field 'j["id"]' || true)
check "no root_path: Location: /tasks/$id3 (got $(header Location))" test "$(header Location)" = "/tasks/$id3"
http GET /api/tasks/
expect_json 'no root_path: GET /api/tasks/ 404' 404 'j == {"detail": "Not Found"}'

sock0=$E2E_TMP/plain.sock
ta_start plain "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock0"
if wait_for 30 fcgi_ok "$sock0"; then
  # nginx's fastcgi_params: SCRIPT_NAME is the whole path.
  fcgi GET "/tasks/$id" "$sock0" /dev/null SCRIPT_NAME="/tasks/$id"
  expect_json "FastCGI with nginx's SCRIPT_NAME /tasks/$id: GET /tasks/$id 200 (no prefix)" 200 "j['id'] == ${id:-0}"
  # Apache's mod_proxy_fcgi and mod_fcgid at "/" walk their document root.
  fcgi GET "/tasks/$id" "$sock0" /dev/null SCRIPT_NAME=/tasks PATH_INFO="/$id"
  expect_json "FastCGI with Apache's SCRIPT_NAME /tasks, PATH_INFO /$id: GET /tasks/$id 200 (no prefix)" 200 \
    "j['id'] == ${id:-0}"
  fcgi GET /openapi.json "$sock0" /dev/null SCRIPT_NAME=/openapi.json
  check '... and /openapi.json has no servers' servers_are None
  fcgi GET /api/openapi.json "$sock0" /dev/null SCRIPT_NAME=/api PATH_INFO=/openapi.json
  expect_json 'FastCGI with SCRIPT_NAME /api, PATH_INFO /openapi.json: no prefix is made up (404)' 404 \
    'j == {"detail": "Not Found"}'
else
  not_ok 'taskapi without root_path on its own socket starts'
fi

# ---- CGI: the prefix from SCRIPT_NAME and PATH_INFO ----
# cgi METHOD REQUEST_URI SCRIPT_NAME PATH_INFO [BODY_FILE] — taskapi run as a CGI program.
cgi() {
  local method=$1 uri=$2 script=$3 info=$4 body=${5:-/dev/null} len=0
  [ "$body" = /dev/null ] || len=$(stat -c %s "$body")
  env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 \
    REQUEST_METHOD="$method" REQUEST_URI="$uri" QUERY_STRING="$([[ $uri == *\?* ]] && echo "${uri#*\?}")" \
    SCRIPT_NAME="$script" PATH_INFO="$info" \
    CONTENT_TYPE="$([ "$len" -gt 0 ] && echo application/json)" \
    CONTENT_LENGTH="$([ "$len" -gt 0 ] && echo "$len")" \
    timeout 10 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" <"$body" >"$E2E_TMP/cgi.out" 2>"$E2E_TMP/cgi.err" || true
  cgi_split "$E2E_TMP/cgi.out"
}

# The shared-hosting .htaccess in a folder api/: .../api/taskapi.cgi/$1.
task_json "root-path $tag cgi"
cgi POST /api/tasks/ /api/taskapi.cgi /tasks/ "$E2E_TMP/task.json"
expect_json 'CGI rewrite in api/ (SCRIPT_NAME /api/taskapi.cgi, PATH_INFO /tasks/): POST 201' 201 \
  "j['title'] == 'root-path $tag cgi'"
idc=$(json_field 'j["id"]' || true)
check "... Location: /api/tasks/$idc (got $(header Location))" test "$(header Location)" = "/api/tasks/$idc"
cgi GET "/api/tasks/?after_id=$((${idc:-0} - 1))&limit=1" /api/taskapi.cgi /tasks/
expect_json 'CGI rewrite in api/: GET /api/tasks/?limit=1 200' 200 "len(j) == 1 and j[0]['id'] == ${idc:-0}"
check "... Link under /api ($(header Link))" \
  test "$(header Link)" = "</api/tasks/?after_id=$idc&limit=1>; rel=\"next\""
cgi GET /api/openapi.json /api/taskapi.cgi /openapi.json
check 'CGI rewrite in api/: /openapi.json has servers [{"url": "/api"}]' servers_are "[{'url': '/api'}]"
cgi GET /api/redoc /api/taskapi.cgi /redoc
check "CGI rewrite in api/: GET /api/redoc ($STATUS) points its UI at /api/openapi.json" \
  grep -q '"/api/openapi.json"' "$BODY"
# The same rewrite at the document root: no prefix.
cgi GET /openapi.json /taskapi.cgi /openapi.json
check 'CGI rewrite at the document root: /openapi.json has no servers' servers_are None
cgi GET "/tasks/$idc" /taskapi.cgi ''
expect_json "CGI rewrite at the document root without PATH_INFO: GET /tasks/$idc 200" 200 "j['id'] == ${idc:-0}"
# ScriptAlias /cgi-bin/taskapi: the prefix is SCRIPT_NAME.
cgi GET /cgi-bin/taskapi/openapi.json /cgi-bin/taskapi /openapi.json
check 'CGI ScriptAlias /cgi-bin/taskapi: servers [{"url": "/cgi-bin/taskapi"}]' \
  servers_are "[{'url': '/cgi-bin/taskapi'}]"
cgi GET /cgi-bin/taskapix/healthz /cgi-bin/taskapi ''
expect_json 'CGI: /cgi-bin/taskapix is not under /cgi-bin/taskapi: 404' 404 'j == {"detail": "Not Found"}'
