#!/usr/bin/env bash
# 08-cgi-access-log: log.access_log defaults to "auto": an access line per request
# when serving FastCGI, none in CGI mode, whose stderr is the web server's error log
# (Apache wrote one line per request there). log.access_log = true (or
# TASKAPI_LOG_ACCESS_LOG=true, e.g. Apache's SetEnv) turns it back on for CGI.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config cgilog)
# The stack's file sets access_log = true; these tests are about its default.
sed -i '/^access_log *=/d' "$ini"
root_args

# cgi_get NAME [VAR=VALUE...] [-- taskapi options...] — GET /healthz as a CGI program,
# run by hand as a web server runs it; stdout in $E2E_TMP/NAME.out, stderr in NAME.err.
cgi_get() {
  local name=$1 vars=() opts=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ $# -eq 0 ] || { shift; opts=("$@"); }
  env -i PATH="$PATH" GATEWAY_INTERFACE=CGI/1.1 SERVER_PROTOCOL=HTTP/1.1 REQUEST_METHOD=GET \
    REQUEST_URI=/cgi-bin/taskapi/healthz SCRIPT_NAME=/cgi-bin/taskapi PATH_INFO=/healthz "${vars[@]}" \
    timeout 10 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" "${opts[@]}" </dev/null \
    >"$E2E_TMP/$name.out" 2>"$E2E_TMP/$name.err" || true
  cgi_split "$E2E_TMP/$name.out"
}

# access_lines FILE — how many access lines FILE holds.
access_lines() { grep -c ' access: .*GET /cgi-bin/taskapi/healthz 200 \| access: .*GET /healthz 200 ' "$1" || true; }

cgi_get default
check "CGI, log.access_log at its default (auto): GET /healthz answers 200 (got $STATUS)" test "$STATUS" = 200
check "... and writes no access line to stderr (the web server's error log; got $(access_lines "$E2E_TMP/default.err"))" \
  test "$(access_lines "$E2E_TMP/default.err")" = 0
diag "stderr: $(head -c 300 "$E2E_TMP/default.err")"

cgi_get on -- --set log.access_log=true
check "CGI, --set log.access_log=true: 200 and one access line on stderr (got $STATUS, $(access_lines "$E2E_TMP/on.err"))" \
  test "$STATUS" = 200 -a "$(access_lines "$E2E_TMP/on.err")" = 1

cgi_get env TASKAPI_LOG_ACCESS_LOG=true
check "CGI, TASKAPI_LOG_ACCESS_LOG=true (Apache: SetEnv): one access line (got $(access_lines "$E2E_TMP/env.err"))" \
  test "$(access_lines "$E2E_TMP/env.err")" = 1

check '--print-config shows log.access_log = auto by default' \
  bash -c "'$TASKAPI_BIN' -c '$ini' --print-config | grep -qx 'access_log = auto'"

# Serving FastCGI (here on spawn-fcgi's fd 0), "auto" means on.
sock=$E2E_TMP/cgilog.sock
ta_start fcgi spawn-fcgi -n -s "$sock" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.workers=0
wait_for 30 fcgi_ok "$sock" || diag "$(tail -n 5 "$E2E_TMP/fcgi.log")"
fcgi GET /healthz "$sock"
check "FastCGI, access_log auto: GET /healthz answered $STATUS and logged access lines" \
  wait_for 5 grep -q ' access: .*GET /healthz 200 ' "$E2E_TMP/fcgi.log"
ta_stop "$TA_PID"
rm -f "$sock"

sanitizer_check
