#!/usr/bin/env bash
# 77-admin-listener: server.admin_listen is a socket of taskapi's own, whatever the
# FastCGI listener is. With spawn-fcgi (the FastCGI socket on fd 0) and with socket
# activation (fd 3 from systemd-socket-activate), the API answers over the handed-over
# socket and /status over the admin socket: the admin socket never takes fd 0 (it did:
# the workers lost their listener and crash-looped, and the admin process answered the
# API socket with 404). With both sockets as unix paths of its own, a clean stop
# removes both files (the FastCGI one stayed behind: one record of "the file I made"
# was shared, and opening the admin socket overwrote it).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$E2E_DIR/lib-admin.sh"

ini=$(instance_config admin)
root_args

# serves_both NAME API_ADDRESS ADMIN_SOCKET — the assertions each way of starting gets:
# the API over API_ADDRESS (/healthz, /tasks/, ten /healthz in a row: none answered
# by the admin process), /status over the admin socket, no worker lost its listener.
serves_both() {
  local name=$1 api=$2 admin=$3 n=0
  if wait_for 30 fcgi_ok "$api"; then
    ok "$name: GET /healthz over the FastCGI socket answers 200 (after ${WAITED}s)"
  else
    not_ok "$name: GET /healthz over the FastCGI socket answers 200 within 30s (status $STATUS)"
    diag "$(tail -n 8 "$E2E_TMP/$name.log")"
  fi
  fcgi GET '/tasks/?limit=1' "$api"
  expect_json "$name: GET /tasks/ over the FastCGI socket: 200, a list" 200 'isinstance(j, list)'
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    fcgi GET /healthz "$api"
    [ "$STATUS" != 200 ] || n=$((n + 1))
  done
  check "$name: 10 more GET /healthz over the FastCGI socket: all 200 (got $n)" test "$n" = 10
  admin_get "$admin" /status
  check "$name: GET /status over server.admin_listen answers 200 (got $ADMIN_STATUS)" test "$ADMIN_STATUS" = 200
  check "$name: /status counts 2 workers, none restarted" \
    test "$(status_field 'j["workers"], j["worker_restarts"]' 2>/dev/null)" = '(2, 0)'
  admin_get "$admin" /healthz
  check "$name: the admin socket serves no API path (GET /healthz there: 404, got $ADMIN_STATUS)" \
    test "$ADMIN_STATUS" = 404
  check "$name: no worker lost its listener (no 'cannot set up the event loop' in the log)" \
    bash -c "! grep -q 'cannot set up the event loop' '$E2E_TMP/$name.log'"
}

# ---- spawn-fcgi -n: the FastCGI socket on fd 0 ----
sock=$E2E_TMP/sf.sock
admin=$E2E_TMP/sf-admin.sock
ta_start spawn spawn-fcgi -n -s "$sock" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" \
  --set server.workers=2 --set server.admin_listen="$admin"
pid=$TA_PID
serves_both spawn "$sock" "$admin"
check 'spawn-fcgi: taskapi took fd 0 for FastCGI' \
  grep -q 'listening on the socket inherited as fd 0' "$E2E_TMP/spawn.log"
check "spawn-fcgi: the admin socket is a file of its own ($admin)" test -S "$admin"
ta_stop "$pid"
check "spawn-fcgi: SIGTERM, exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
check 'spawn-fcgi: the admin socket file is removed at stop' test ! -e "$admin"
check "spawn-fcgi: the spawner's socket file is left to the spawner" test -S "$sock"
rm -f "$sock"

# ---- spawn-fcgi, one process (--workers 0: the admin socket is served by a thread) ----
ta_start spawn0 spawn-fcgi -n -s "$sock" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" \
  --set server.workers=0 --set server.admin_listen="$admin"
pid=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  n=0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    fcgi GET /healthz "$sock"
    [ "$STATUS" != 200 ] || n=$((n + 1))
  done
  check "spawn-fcgi, --workers 0: 10 GET /healthz over fd 0's socket all 200 (got $n)" test "$n" = 10
else
  not_ok "spawn-fcgi, --workers 0: GET /healthz answers 200 within 30s (status $STATUS)"
  diag "$(tail -n 8 "$E2E_TMP/spawn0.log")"
fi
admin_get "$admin" /status
check "spawn-fcgi, --workers 0: GET /status over the admin socket 200 (got $ADMIN_STATUS)" test "$ADMIN_STATUS" = 200
ta_stop "$pid"
check "spawn-fcgi, --workers 0: exit 0 (got $TA_EXIT), admin socket file removed" \
  test "$TA_EXIT" = 0 -a ! -e "$admin"
rm -f "$sock"

# ---- socket activation: the FastCGI socket on fd 3 ----
if command -v systemd-socket-activate >/dev/null 2>&1; then
  sock=$E2E_TMP/sda.sock
  admin=$E2E_TMP/sda-admin.sock
  ta_start sda systemd-socket-activate -l "$sock" "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" \
    --set server.workers=2 --set server.admin_listen="$admin"
  pid=$TA_PID
  serves_both sda "$sock" "$admin"
  check 'socket activation: taskapi took fd 3 for FastCGI' \
    grep -q 'listening on the socket passed by systemd (fd 3)' "$E2E_TMP/sda.log"
  ta_stop "$pid"
  check "socket activation: SIGTERM, exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
  check 'socket activation: the admin socket file is removed at stop' test ! -e "$admin"
  check "socket activation: systemd's socket file is left to systemd" test -S "$sock"
  rm -f "$sock"
else
  not_ok 'systemd-socket-activate is installed (Debian package systemd)'
fi

# ---- both sockets taskapi's own unix sockets: a clean stop removes both files ----
for workers in 2 0; do
  sock=$E2E_TMP/own-$workers.sock
  admin=$E2E_TMP/own-$workers-admin.sock
  ta_start "own$workers" "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
    --set server.workers="$workers" --set server.admin_listen="$admin"
  pid=$TA_PID
  wait_for 30 fcgi_ok "$sock" || diag "$(tail -n 5 "$E2E_TMP/own$workers.log")"
  admin_get "$admin" /status
  check "own sockets, --workers $workers: /healthz over FastCGI ($STATUS) and /status over admin ($ADMIN_STATUS) answer 200" \
    test "$STATUS" = 200 -a "$ADMIN_STATUS" = 200
  ta_stop "$pid"
  check "own sockets, --workers $workers: SIGTERM, exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
  check "own sockets, --workers $workers: the FastCGI socket file is removed at stop" test ! -e "$sock"
  check "own sockets, --workers $workers: the admin socket file is removed at stop" test ! -e "$admin"
done

# A failed start (the admin socket is in use) leaves no FastCGI socket file behind.
sock=$E2E_TMP/fail.sock
admin=$E2E_TMP/busy-admin.sock
ta_start busy "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$E2E_TMP/busy.sock" \
  --set server.admin_listen="$admin"
busy=$TA_PID
wait_for 30 test -S "$admin" || true
ta_start fail "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.admin_listen="$admin"
check 'admin socket in use by another server: exit non-zero, naming server.admin_listen' \
  ta_died_with fail "$TA_PID" "server.admin_listen: .*in use"
check '... and its FastCGI socket file is not left behind' test ! -e "$sock"
ta_stop "$busy"

sanitizer_check
