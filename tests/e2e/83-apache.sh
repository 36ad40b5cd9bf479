#!/usr/bin/env bash
# 83-apache: Debian's Apache httpd with mod_proxy_fcgi in front of taskapi, with the
# shipped deploy/apache/ files: over taskapi's unix socket (SetHandler
# "proxy:unix:...|fcgi://localhost/", the socket's group www-data) and over TCP
# (ProxyPass fcgi://127.0.0.1:PORT/). Apache fills REQUEST_URI, SCRIPT_NAME and
# PATH_INFO its own way: every method, query strings, bodies, conditional headers,
# status codes (201, 204, 404, 405, 412, 422, 413) and JSON bodies must round-trip.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 is installed (script/bootstrap installs the Debian package apache2)'
  exit 0
fi
ini=$(instance_config apache)
root_args
sock_dir=$E2E_TMP/sock
mkdir -p "$sock_dir"
chmod 0755 "$sock_dir"
sock=$sock_dir/taskapi.sock
web_group=$(id -gn)
if is_root; then web_group=www-data; fi

# roundtrip LABEL — the API through Apache at APACHE_URL.
roundtrip() {
  local label=$1 id etag
  TASKAPI_URL=$APACHE_URL
  http GET /healthz
  expect_json "$label: GET /healthz 200" 200 'j == {"status": "ok"}'
  check "$label: Content-Type application/json; charset=utf-8 and Cache-Control: no-store pass through" \
    test "$CTYPE|$(header Cache-Control)" = 'application/json; charset=utf-8|no-store'

  task_json "Apache $label ✓ ünïcode"
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json "$label: POST /tasks/ 201 with the task" 201 "j['title'] == 'Apache $label ✓ ünïcode'"
  id=$(json_field 'j["id"]' || true)
  check "$label: Location: /tasks/$id" test "$(header Location)" = "/tasks/$id"

  http GET "/tasks/$id"
  expect_json "$label: GET /tasks/$id 200" 200 "j['id'] == ${id:-0} and j['is_completed'] is False"
  etag=$(header ETag)
  check "$label: an ETag comes back ($etag)" test -n "$etag"

  http GET "/tasks/?skip=0&limit=2"
  expect_json "$label: GET /tasks/?skip=0&limit=2 — the query string arrives: at most 2" 200 \
    'isinstance(j, list) and 1 <= len(j) <= 2'

  http PATCH "/tasks/$id?completed=true"
  expect_json "$label: PATCH /tasks/$id?completed=true 200" 200 'j["is_completed"] is True'
  http PATCH "/tasks/$id" -H 'Content-Type: application/json' -H "If-Match: $etag" \
    --data-binary '{"description": "stale"}'
  expect_json "$label: PATCH with the old If-Match: 412" 412 '"detail" in j'
  http GET "/tasks/$id"
  etag=$(header ETag)
  http PATCH "/tasks/$id" -H 'Content-Type: application/json' -H "If-Match: $etag" \
    --data-binary '{"description": "through Apache"}'
  expect_json "$label: PATCH with a JSON body and the current If-Match: 200" 200 \
    'j["description"] == "through Apache"'

  http POST /tasks/ -H 'Content-Type: application/json' --data-binary '{"title": ""}'
  expect_json "$label: POST an empty title: 422 with a detail list" 422 \
    'isinstance(j["detail"], list) and j["detail"][0]["loc"][-1] == "title"'
  http GET /tasks/?limit=zero
  expect_json "$label: GET /tasks/?limit=zero: 422" 422 'isinstance(j["detail"], list)'
  http GET /no/such/route
  expect_json "$label: GET /no/such/route: 404 JSON from taskapi" 404 'j == {"detail": "Not Found"}'
  http DELETE /healthz
  expect_json "$label: DELETE /healthz: 405 JSON" 405 '"detail" in j'
  check "$label: ... with Allow listing GET" grep -qiE '^allow:.*GET' "$HEADERS"
  http HEAD /healthz
  check "$label: HEAD /healthz 200 without a body" test "$STATUS" = 200 -a ! -s "$BODY"

  http DELETE "/tasks/$id"
  check "$label: DELETE /tasks/$id 204 without a body (got $STATUS)" test "$STATUS" = 204 -a ! -s "$BODY"
  http GET "/tasks/$id"
  expect_json "$label: GET /tasks/$id after DELETE: 404 JSON" 404 'j == {"detail": "Task not found"}'

  head -c 70000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/big"
  check "$label: a 70000-byte body: 413 (LimitRequestBody; got $STATUS)" test "$STATUS" = 413
  # Under taskapi's cap, but more than a unix socket lets mod_proxy_fcgi send before
  # taskapi reads (it waits for POLLOUT): handed to a thread once stalled, answered
  # (422: not JSON; or Apache's 413), never held until server.request_timeout_ms.
  head -c 50000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/big"
  check "$label: a 50000-byte body is answered, not held (413 or 422; got $STATUS)" \
    test "$STATUS" = 413 -o "$STATUS" = 422
}

# ---- over the unix socket ----
ta_start unixapp "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.socket_group="$web_group"
upid=$TA_PID
wait_for 30 fcgi_ok "$sock" || diag "$(tail -n 5 "$E2E_TMP/unixapp.log")"
check "taskapi's socket: group $web_group, mode 0660 (Apache's workers connect as $web_group)" \
  test "$(stat -c '%G %a' "$sock" 2>&1)" = "$web_group 660"
sed "s|/run/taskapi/taskapi.sock|$sock|" "$TOP/deploy/apache/taskapi.conf" >"$E2E_TMP/site-unix.conf"
if apache_start apache-unix "$E2E_TMP/site-unix.conf" proxy proxy_fcgi; then
  ok "apache2 -DFOREGROUND with deploy/apache/taskapi.conf (SetHandler proxy:unix:...) is up"
  roundtrip 'Apache -> unix socket'
  check 'no proxy error in the Apache error log' bash -c "! grep -q 'proxy.*:error' '$APACHE_LOG'"
else
  not_ok "apache2 with deploy/apache/taskapi.conf starts"
  diag "$(cat "$E2E_TMP/apache-unix/configtest.log" "$E2E_TMP/apache-unix/stderr.log" 2>/dev/null)"
fi
ta_stop "$upid"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

# ---- over TCP ----
port=$(free_port)
ta_start tcpapp "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="127.0.0.1:$port"
tpid=$TA_PID
wait_for 30 fcgi_ok "127.0.0.1:$port" || diag "$(tail -n 5 "$E2E_TMP/tcpapp.log")"
sed "s|127.0.0.1:9000|127.0.0.1:$port|" "$TOP/deploy/apache/taskapi-tcp.conf" >"$E2E_TMP/site-tcp.conf"
if apache_start apache-tcp "$E2E_TMP/site-tcp.conf" proxy proxy_fcgi; then
  ok "apache2 -DFOREGROUND with deploy/apache/taskapi-tcp.conf (ProxyPass fcgi://127.0.0.1:$port/) is up"
  roundtrip 'Apache -> TCP'
  check 'no proxy error in the Apache error log' bash -c "! grep -q 'proxy.*:error' '$APACHE_LOG'"
else
  not_ok "apache2 with deploy/apache/taskapi-tcp.conf starts"
  diag "$(cat "$E2E_TMP/apache-tcp/configtest.log" "$E2E_TMP/apache-tcp/stderr.log" 2>/dev/null)"
fi
ta_stop "$tpid"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

# taskapi down: Apache answers 503 (its own page), the client is not left hanging.
if [ -n "${APACHE_PID:-}" ] && pid_alive "$APACHE_PID"; then
  TASKAPI_URL=$APACHE_URL http GET /healthz
  check "taskapi stopped: Apache answers 503 at once (got $STATUS)" test "$STATUS" = 503
fi

sanitizer_check
