#!/usr/bin/env bash
# 80-listen: taskapi's own listening sockets — a unix socket with the owner, group and
# mode it is told (born private, removed at stop, a live one never stolen, a stale
# one replaced), and TCP on IPv4 and IPv6 with the configured backlog, each serving
# real requests (cgi-fcgi straight to the socket, and the shipped nginx site).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config listen)
root_args
sock_dir=$E2E_TMP/sock
mkdir -p "$sock_dir"
chmod 0755 "$sock_dir"
sock=$sock_dir/taskapi.sock

# ---- unix socket: owner, group, mode, backlog ----
if is_root; then
  owner=nobody group=www-data
else
  owner=$(id -un) group=$(id -gn)
fi
ta_start unix "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.socket_owner="$owner" --set server.socket_group="$group" \
  --set server.socket_mode=0640 --set server.backlog=77 --set server.threads=2
pid=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  ok "own unix socket: GET /healthz over FastCGI answers 200 (after ${WAITED}s)"
else
  not_ok "own unix socket: GET /healthz over FastCGI answers 200 within 30s (status $STATUS)"
  diag "$(tail -n 5 "$E2E_TMP/unix.log")" "$(cat "$E2E_TMP/fcgi.err" 2>/dev/null)"
fi
check "the socket is $owner:$group with mode 0640, as configured" \
  test "$(stat -c '%U:%G %a' "$sock" 2>&1)" = "$owner:$group 640"
stat -c '#   socket: %U:%G %a' "$sock" 2>/dev/null || true
backlog=$(ss -xlnH "src $sock" 2>/dev/null | awk '{ print $4; exit }')
check "its listen backlog is server.backlog (77; ss says '${backlog}')" test "$backlog" = 77

task_json 'over a unix socket ✓'
fcgi POST /tasks/ "$sock" "$E2E_TMP/task.json"
expect_json 'POST /tasks/ over the unix socket: 201 with the task' 201 'j["title"] == "over a unix socket ✓"'
id=$(json_field 'j["id"]' || true)
fcgi GET "/tasks/$id" "$sock"
expect_json "GET /tasks/$id over the unix socket: 200, the same task" 200 "j['id'] == ${id:-0}"

# A second server on the same path must not take the socket of a live one.
ta_start unix2 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock"
check 'a second taskapi on the same live socket exits non-zero, saying it is in use' \
  ta_died_with unix2 "$TA_PID" "in use by another running server"
check 'the first one still answers on it' fcgi_ok "$sock"

ta_stop "$pid"
check "SIGTERM: exit status 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
check 'the socket file is removed at stop' test ! -e "$sock"

# ---- the socket is born private: never more open than configured ----
# Mode 0600 before chown and chmod (umask 0177 around bind): with socket_mode 0600
# the file must show exactly 0600, not 0755 from the default umask.
ta_start private "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.socket_mode=0600
pid=$TA_PID
wait_for 30 fcgi_ok "$sock" || true
check "socket_mode 0600 gives 0600 (got $(stat -c %a "$sock" 2>&1))" test "$(stat -c %a "$sock" 2>&1)" = 600
# listener_close removes only the file it made: replace it, then stop.
rm -f "$sock"
echo 'not the socket' >"$sock"
ta_stop "$pid"
check 'at stop, a file that replaced the socket is left alone' grep -q 'not the socket' "$sock"

# ---- a regular file in the way is refused, a stale socket replaced ----
ta_start notsock "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock"
check 'a regular file at server.listen: exit non-zero, "exists and is not a socket"' \
  ta_died_with notsock "$TA_PID" "exists and is not a socket"
check '... and the file is untouched' grep -q 'not the socket' "$sock"
rm -f "$sock"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$sock"
ta_start stale "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock"
pid=$TA_PID
check 'a stale socket file left by a crash is replaced: the new server answers' wait_for 30 fcgi_ok "$sock"
ta_stop "$pid"

ta_start badowner "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.socket_owner=no-such-user-e2e
check 'an unknown socket_owner: exit non-zero, "unknown user"' \
  ta_died_with badowner "$TA_PID" "unknown user 'no-such-user-e2e'"
check '... and no socket file is left behind' test ! -e "$sock"

# ---- TCP, IPv4 ----
port=$(free_port)
ta_start tcp4 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="127.0.0.1:$port" \
  --set server.backlog=33
pid4=$TA_PID
if wait_for 30 fcgi_ok "127.0.0.1:$port"; then
  ok "TCP 127.0.0.1:$port: GET /healthz over FastCGI answers 200"
else
  not_ok "TCP 127.0.0.1:$port: GET /healthz over FastCGI answers 200 within 30s"
  diag "$(tail -n 5 "$E2E_TMP/tcp4.log")"
fi
backlog=$(ss -ltnH "sport = :$port" 2>/dev/null | awk '{ print $3; exit }')
check "TCP IPv4 listen backlog is server.backlog (33; ss says '${backlog}')" test "$backlog" = 33
if ngx_front ngx4 "127.0.0.1:$port"; then
  TASKAPI_URL=$FRONT_URL http GET /healthz
  expect_json 'the shipped nginx site over TCP IPv4: GET /healthz 200' 200 'j == {"status": "ok"}'
  task_json 'over TCP IPv4'
  TASKAPI_URL=$FRONT_URL http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json 'nginx -> TCP IPv4: POST /tasks/ 201' 201 'j["title"] == "over TCP IPv4"'
  id=$(json_field 'j["id"]' || true)
  TASKAPI_URL=$FRONT_URL http PATCH "/tasks/$id?completed=true"
  expect_json "nginx -> TCP IPv4: PATCH /tasks/$id?completed=true 200" 200 'j["is_completed"] is True'
else
  not_ok 'nginx in front of TCP IPv4 came up'
fi

# The port is taken: a second server says so and exits.
ta_start tcp4b "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="127.0.0.1:$port"
check 'a second taskapi on the same TCP port exits non-zero ("Address already in use")' \
  ta_died_with tcp4b "$TA_PID" "cannot listen on '127.0.0.1:$port': Address already in use"
ta_stop "$pid4"
check "TCP IPv4: SIGTERM exit status 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

# ---- TCP, IPv6 ----
port=$(free_port)
ta_start tcp6 "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="[::1]:$port" \
  --set server.backlog=44
pid6=$TA_PID
listening() { [ -n "$(ss -ltnH "sport = :$port" 2>/dev/null)" ]; }
wait_for 30 listening || true
line=$(ss -ltnH "sport = :$port" 2>/dev/null | head -n 1)
check "TCP IPv6: listening on [::1]:$port with backlog 44 (ss: ${line//  / })" \
  awk -v want="[::1]:$port" '$4 == want && $3 == 44 { found = 1 } END { exit !found }' <<<"$line"
if ngx_front ngx6 "[::1]:$port"; then
  TASKAPI_URL=$FRONT_URL http GET /healthz
  expect_json 'the shipped nginx site over TCP IPv6: GET /healthz 200' 200 'j == {"status": "ok"}'
  task_json 'over TCP IPv6'
  TASKAPI_URL=$FRONT_URL http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json 'nginx -> TCP IPv6: POST /tasks/ 201' 201 'j["title"] == "over TCP IPv6"'
  id=$(json_field 'j["id"]' || true)
  TASKAPI_URL=$FRONT_URL http DELETE "/tasks/$id"
  check "nginx -> TCP IPv6: DELETE /tasks/$id 204 (got $STATUS)" test "$STATUS" = 204
  TASKAPI_URL=$FRONT_URL http GET "/tasks/$id"
  expect_json "nginx -> TCP IPv6: GET /tasks/$id after DELETE 404" 404 '"detail" in j'
else
  not_ok 'nginx in front of TCP IPv6 came up'
fi
ta_stop "$pid6"
check "TCP IPv6: SIGTERM exit status 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

ta_start badspec "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="no-port-here"
check 'a listen address without a port: exit non-zero, "invalid listen address"' \
  ta_died_with badspec "$TA_PID" "invalid listen address 'no-port-here'"

sanitizer_check
