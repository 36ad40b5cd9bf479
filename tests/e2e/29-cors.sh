#!/usr/bin/env bash
# 29-cors: cross-origin requests ([cors], fcgi_app/cors.h) and nosniff on every answer.
#  - Three instances of their own: "list" (two origins, auth.mode = remote_user, behind a
#    private nginx running the shipped site, so the browser's headers arrive as nginx
#    passes them), "creds" (allow_credentials) and "star" (allow_origins = *).
#  - A preflight (OPTIONS + Origin + Access-Control-Request-Method) is answered by
#    taskapi before routing's 405 and before authentication: 204 with the allow headers
#    and Vary: Origin; a refused origin, method or header is a JSON 400 "Disallowed CORS
#    ..." without them; a preflight for a path no route has is a 404.
#  - Actual answers to an allowed origin carry Access-Control-Allow-Origin, -Expose-Headers
#    and Vary: Origin, whatever they are: 401 from authentication, 405, 201, an
#    idempotent replay; a refused origin or none gets no CORS header (Vary: Origin only).
#  - Credentials: Access-Control-Allow-Credentials: true and the origin itself; `*`: the
#    literal `*` and no credentials; a malformed origin and `*` with credentials are
#    refused by --check-config.
#  - The stack's own taskapi (CORS off): OPTIONS is the 405 it always was, no CORS header.
#  - X-Content-Type-Options: nosniff exactly once on taskapi's answers through nginx and
#    on nginx's own JSON error answers (405, 413, 414, 429, 502, 503, 504), and on the
#    admin socket's /status that nginx passes on.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"
export MYSQL

APP=https://app.example.com
DEV=http://localhost:3000
EVIL=https://evil.example
USER_NAME=cors-$$
at_exit "sql \"DELETE FROM tasks WHERE owner = '$USER_NAME'\""
ini=$(instance_config cors)
root_args

start_cors() { # NAME EXTRA-SETS...
  local name=$1 sock=$E2E_TMP/$1.sock
  shift
  # The test writes REMOTE_USER itself, so the socket check is waived for this socket.
  ta_start "$name" "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
    --set server.workers=1 --set server.threads=2 --set auth.mode=remote_user \
    --set auth.remote_user_any_socket=true "$@"
  wait_for 20 fcgi_ok "$sock" || diag "$name did not answer: $(tail -n 5 "$E2E_TMP/$name.log")"
}
start_cors list --set "cors.allow_origins=$APP, $DEV"
start_cors creds --set "cors.allow_origins=$APP" --set cors.allow_credentials=true
start_cors star --set "cors.allow_origins=*"

# Locations that make nginx answer these itself, to show their error pages.
if ngx_front front "unix:$E2E_TMP/list.sock" '    location = /e2e/429 { return 429; }
    location = /e2e/502 { return 502; }
    location = /e2e/503 { return 503; }
    location = /e2e/504 { return 504; }'; then
  ok "a private nginx runs the shipped site in front of the CORS instance"
else
  not_ok "a private nginx runs the shipped site in front of the CORS instance"
  diag "$(cat "$E2E_TMP/front/stderr.log" "$E2E_TMP/front/error.log" 2>/dev/null | tail -n 5)"
fi

front() { TASKAPI_URL=$FRONT_URL http "$@"; }
# count NAME — how many times the last answer has header NAME.
count() { grep -ci "^$1:" "$HEADERS" || true; }
# is NAME VALUE — the last answer has header NAME exactly once, with VALUE.
is() { [ "$(count "$1")" = 1 ] && [ "$(header "$1")" = "$2" ]; }
# no_cors — the last answer has no Access-Control-* header.
no_cors() { ! grep -qi '^access-control-' "$HEADERS"; }
show() { diag "status $STATUS" "$(cat "$HEADERS")" "$(head -c 300 "$BODY")"; }
# expect DESCRIPTION COMMAND... — one assertion, the answer shown when it fails.
expect() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; show; fi
}

# ---- preflight through nginx ---------------------------------------------------------
front OPTIONS /tasks/ -H "Origin: $APP" -H 'Access-Control-Request-Method: POST' \
  -H 'Access-Control-Request-Headers: content-type,idempotency-key'
expect "preflight from an allowed origin: 204 before authentication (remote_user would say 401)" \
  test "$STATUS" = 204
expect "preflight: Access-Control-Allow-Origin is the origin" is Access-Control-Allow-Origin "$APP"
expect "preflight: Access-Control-Allow-Methods lists the configured methods" \
  is Access-Control-Allow-Methods "GET, HEAD, POST, PATCH, DELETE"
expect "preflight: Access-Control-Allow-Headers names the requested ones" \
  is Access-Control-Allow-Headers "Content-Type, Idempotency-Key"
expect "preflight: Access-Control-Max-Age 600, Vary: Origin, no credentials" \
  eval 'is Access-Control-Max-Age 600 && is Vary Origin && [ "$(count Access-Control-Allow-Credentials)" = 0 ]'
expect "preflight: nosniff once" is X-Content-Type-Options nosniff

front OPTIONS /tasks/42 -H "Origin: $DEV" -H 'Access-Control-Request-Method: PATCH' \
  -H 'Access-Control-Request-Headers: Authorization, If-Match'
expect "preflight for /tasks/{id} from the second origin: 204, its headers allowed" \
  eval '[ "$STATUS" = 204 ] && is Access-Control-Allow-Origin "$DEV" && is Access-Control-Allow-Headers "Authorization, If-Match"'

refused() { # DESCRIPTION DETAIL
  if [ "$STATUS" = 400 ] && json_true "j == {'detail': '$2'}" && no_cors && is Vary Origin; then
    ok "$1"
  else
    not_ok "$1"
    show
  fi
}
front OPTIONS /tasks/ -H "Origin: $EVIL" -H 'Access-Control-Request-Method: GET'
refused "preflight from another origin: JSON 400, no allow header" "Disallowed CORS origin"
front OPTIONS /tasks/ -H "Origin: $APP/" -H 'Access-Control-Request-Method: GET'
refused "an Origin with a path matches nothing" "Disallowed CORS origin"
front OPTIONS /tasks/ -H "Origin: $APP" -H 'Access-Control-Request-Method: PUT'
refused "preflight for a method not allowed: JSON 400" "Disallowed CORS method"
front OPTIONS /tasks/ -H "Origin: $APP" -H 'Access-Control-Request-Method: GET' \
  -H 'Access-Control-Request-Headers: authorization, x-secret'
refused "preflight for a header not allowed: JSON 400" "Disallowed CORS headers"
front OPTIONS /tasks/ -H "Origin: $EVIL" -H 'Access-Control-Request-Method: PUT' \
  -H 'Access-Control-Request-Headers: x-secret'
refused "every refusal is named" "Disallowed CORS origin, method, headers"
front OPTIONS /nowhere -H "Origin: $APP" -H 'Access-Control-Request-Method: GET'
expect "preflight for a path no route has: 404" eval '[ "$STATUS" = 404 ] && json_true "j == {\"detail\": \"Not Found\"}"'

# ---- actual answers ------------------------------------------------------------------
actual() { # DESCRIPTION ORIGIN
  if is Access-Control-Allow-Origin "$2" && is Vary Origin &&
    is Access-Control-Expose-Headers "ETag, Location, Link, Idempotent-Replayed"; then
    ok "$1"
  else
    not_ok "$1"
    show
  fi
}
front GET /tasks/ -H "Origin: $APP"
[ "$STATUS" = 401 ] || not_ok "GET without REMOTE_USER is 401 (got $STATUS)"
actual "a 401 from authentication carries the CORS headers" "$APP"
front OPTIONS /tasks/ -H "Origin: $APP"
[ "$STATUS" = 405 ] || not_ok "OPTIONS without Access-Control-Request-Method is a 405 (got $STATUS)"
actual "OPTIONS without Access-Control-Request-Method is not a preflight: a 405 with the CORS headers" "$APP"
front GET /nowhere -H "Origin: $DEV"
actual "a 404 carries them" "$DEV"
front GET /tasks/ -H "Origin: $EVIL"
expect "a refused origin gets no CORS header, only Vary: Origin" eval 'no_cors && is Vary Origin'
front GET /tasks/
expect "no Origin: no CORS header, Vary: Origin" eval 'no_cors && is Vary Origin'

# Straight over FastCGI as the web server would pass an authenticated user.
task_json "cors task"
fcgi POST /tasks/ "$E2E_TMP/list.sock" "$E2E_TMP/task.json" REMOTE_USER="$USER_NAME" \
  HTTP_ORIGIN="$APP" HTTP_IDEMPOTENCY_KEY="cors-$$"
[ "$STATUS" = 201 ] || not_ok "create is 201 (got $STATUS)"
actual "a 201 carries the CORS headers (and exposes Location, ETag)" "$APP"
tid=$(json_field 'j["id"]')
fcgi POST /tasks/ "$E2E_TMP/list.sock" "$E2E_TMP/task.json" REMOTE_USER="$USER_NAME" \
  HTTP_ORIGIN="$APP" HTTP_IDEMPOTENCY_KEY="cors-$$"
[ "$(header Idempotent-Replayed)" = true ] || not_ok "the retry is a replay"
actual "an idempotent replay carries them once" "$APP"
fcgi GET "/tasks/$tid" "$E2E_TMP/list.sock" /dev/null REMOTE_USER="$USER_NAME" HTTP_ORIGIN="$DEV"
[ "$STATUS" = 200 ] || not_ok "read is 200 (got $STATUS)"
actual "a 200 carries them" "$DEV"

# ---- credentials and * ---------------------------------------------------------------
fcgi OPTIONS /tasks/ "$E2E_TMP/creds.sock" /dev/null HTTP_ORIGIN="$APP" \
  HTTP_ACCESS_CONTROL_REQUEST_METHOD=DELETE
expect "credentials: the preflight says Allow-Credentials: true, with the origin itself" \
  eval '[ "$STATUS" = 204 ] && is Access-Control-Allow-Credentials true && is Access-Control-Allow-Origin "$APP"'
fcgi GET /tasks/ "$E2E_TMP/creds.sock" /dev/null REMOTE_USER="$USER_NAME" HTTP_ORIGIN="$APP"
expect "credentials: an actual answer says it too" \
  eval '[ "$STATUS" = 200 ] && is Access-Control-Allow-Credentials true && is Access-Control-Allow-Origin "$APP"'
fcgi GET /tasks/ "$E2E_TMP/creds.sock" /dev/null REMOTE_USER="$USER_NAME" HTTP_ORIGIN="$DEV"
expect "credentials: an origin not listed gets nothing" no_cors

fcgi OPTIONS /tasks/ "$E2E_TMP/star.sock" /dev/null HTTP_ORIGIN="$EVIL" \
  HTTP_ACCESS_CONTROL_REQUEST_METHOD=GET HTTP_ACCESS_CONTROL_REQUEST_HEADERS=authorization
expect "*: any origin's preflight is 204 with Allow-Origin: * and no credentials" \
  eval '[ "$STATUS" = 204 ] && is Access-Control-Allow-Origin "*" && [ "$(count Access-Control-Allow-Credentials)" = 0 ]'
fcgi GET /tasks/ "$E2E_TMP/star.sock" /dev/null REMOTE_USER="$USER_NAME" HTTP_ORIGIN="$EVIL"
actual "*: an actual answer says *" "*"

check_refuses() { # DESCRIPTION PATTERN SETS...
  local desc=$1 pattern=$2 rc=0
  shift 2
  "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --check-config "$@" >"$E2E_TMP/check.txt" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] && grep -qF -- "$pattern" "$E2E_TMP/check.txt"; then
    ok "$desc"
  else
    not_ok "$desc"
    diag "exit $rc" "$(cat "$E2E_TMP/check.txt")"
  fi
}
check_refuses "--check-config refuses an origin with a path, naming it" \
  "cors.allow_origins: '$APP/app' has a path" --set "cors.allow_origins=$APP/app"
check_refuses "--check-config refuses * with credentials" \
  "cannot be used with cors.allow_credentials" --set "cors.allow_origins=*" --set cors.allow_credentials=true

# ---- CORS off: the stack's own taskapi -----------------------------------------------
http OPTIONS /tasks/ -H "Origin: $APP" -H 'Access-Control-Request-Method: GET'
expect "CORS off: a preflight is the 405 it always was, without any CORS header or Vary" \
  eval '[ "$STATUS" = 405 ] && no_cors && [ "$(count Vary)" = 0 ]'
http GET /healthz -H "Origin: $APP"
expect "CORS off: an actual answer has no CORS header" eval '[ "$STATUS" = 200 ] && no_cors'

# ---- nosniff, once, on every answer through nginx ------------------------------------
nosniff() { # DESCRIPTION STATUS
  if [ "$STATUS" = "$2" ] && is X-Content-Type-Options nosniff; then
    ok "$1"
  else
    not_ok "$1"
    show
  fi
}
http GET /healthz
nosniff "taskapi's 200 has nosniff once" 200
http GET /nowhere
nosniff "taskapi's 404 has nosniff once" 404
http GET /status
nosniff "the admin socket's /status (through nginx) has nosniff once" 200
http TRACE /tasks/
nosniff "nginx's own 405 (TRACE) has nosniff" 405
head -c 70000 /dev/zero | tr '\0' a >"$E2E_TMP/big"
http POST /tasks/ -H 'Content-Type: application/json' --data-binary "@$E2E_TMP/big"
nosniff "nginx's own 413 has nosniff" 413
http GET "/tasks/?q=$(head -c 9000 /dev/zero | tr '\0' a)"
nosniff "nginx's own 414 has nosniff" 414
for code in 429 502 503 504; do
  front GET "/e2e/$code"
  nosniff "nginx's own $code has nosniff (its error location sets headers of its own)" "$code"
done
