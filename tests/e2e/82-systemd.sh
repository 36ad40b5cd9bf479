#!/usr/bin/env bash
# 82-systemd: socket activation without systemd. The fd hand-off is done the way
# systemd does it (socket on fd 3, LISTEN_FDS=1, LISTEN_PID = the exec'd pid): with
# systemd-socket-activate, and with a launcher that can also get it wrong (another
# process's LISTEN_PID, two sockets, fd 3 not a socket). Then every shipped unit
# (taskapi.socket + taskapi.service, and taskapi-standalone.service that makes its own
# socket): systemd-analyze verify, and the exposure score of the sandbox.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config sd)
root_args
sock=$E2E_TMP/activated.sock
own=$E2E_TMP/own.sock

# ---- systemd-socket-activate (from the systemd package) ----
if command -v systemd-socket-activate >/dev/null 2>&1; then
  ta_start sda systemd-socket-activate -l "$sock" \
    "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$own"
  pid=$TA_PID
  if wait_for 30 fcgi_ok "$sock"; then
    ok "systemd-socket-activate -l SOCK taskapi: GET /healthz over SOCK answers 200 (after ${WAITED}s)"
  else
    not_ok "systemd-socket-activate -l SOCK taskapi: GET /healthz answers 200 within 30s (status $STATUS)"
    diag "$(tail -n 5 "$E2E_TMP/sda.log")"
  fi
  check 'taskapi says it took the socket passed by systemd (fd 3), not server.listen' \
    grep -q "listening on the socket passed by systemd (fd 3); server.listen '$own' is not used" "$E2E_TMP/sda.log"
  check 'server.listen was not created' test ! -e "$own"
  task_json 'socket-activated'
  fcgi POST /tasks/ "$sock" "$E2E_TMP/task.json"
  expect_json 'POST /tasks/ through the activated socket: 201' 201 'j["title"] == "socket-activated"'
  ta_stop "$pid"
  check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
  check "systemd's socket file is left to systemd" test -S "$sock"
else
  not_ok 'systemd-socket-activate is installed (Debian package systemd)'
fi

# ---- a launcher that does what systemd does, on TCP, and some mistakes ----
# launch MODE PORT -- COMMAND...: bind 127.0.0.1:PORT, put the socket on fd 3 and exec
# COMMAND in place. MODE: ok (LISTEN_PID = own pid), otherpid (LISTEN_PID of another
# process), two (LISTEN_FDS=2, sockets on fd 3 and 4), notsock (fd 3 is a file).
cat >"$E2E_TMP/launch.py" <<'PY'
import os, socket, sys
mode, port, argv = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
n = 1
if mode == "notsock":
    f = os.open("/dev/null", os.O_RDONLY)
    os.dup2(f, 3)
else:
    os.dup2(s.fileno(), 3)
if mode == "two":
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    t.listen(1)
    os.dup2(t.fileno(), 4)
    os.set_inheritable(4, True)
    n = 2
os.set_inheritable(3, True)  # dup2 onto itself (s may already be fd 3) keeps close-on-exec
env = dict(os.environ, LISTEN_FDS=str(n), LISTEN_FDNAMES="taskapi.socket",
           LISTEN_PID=str(os.getpid() if mode != "otherpid" else os.getppid()))
os.execvpe(argv[0], argv, env)
PY

port=$(free_port)
ta_start launch python3 "$E2E_TMP/launch.py" ok "$port" -- \
  "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$own"
pid=$TA_PID
if wait_for 30 fcgi_ok "127.0.0.1:$port"; then
  ok "LISTEN_FDS=1, LISTEN_PID=own pid, TCP socket on fd 3: GET /healthz answers 200"
else
  not_ok "LISTEN_FDS=1 with a TCP socket on fd 3: GET /healthz answers 200 within 30s"
  diag "$(tail -n 5 "$E2E_TMP/launch.log")"
fi
if ngx_front ngx "127.0.0.1:$port"; then
  task_json 'activated over TCP'
  TASKAPI_URL=$FRONT_URL http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
  expect_json 'the shipped nginx site -> the fd-3 TCP socket: POST /tasks/ 201' 201 'j["title"] == "activated over TCP"'
  id=$(json_field 'j["id"]' || true)
  TASKAPI_URL=$FRONT_URL http GET "/tasks/$id"
  expect_json "... and GET /tasks/$id 200" 200 'j["title"] == "activated over TCP"'
else
  not_ok 'nginx in front of the activated TCP socket came up'
fi
check 'server.listen was not created (the fd from systemd wins)' test ! -e "$own"
ta_stop "$pid"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

# Variables meant for another process (a parent that did not unset them): ignored.
port=$(free_port)
ta_start otherpid python3 "$E2E_TMP/launch.py" otherpid "$port" -- \
  "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$own"
pid=$TA_PID
if wait_for 30 fcgi_ok "$own"; then
  ok 'LISTEN_PID of another process: fd 3 is not taken; taskapi opens server.listen and answers there'
else
  not_ok 'LISTEN_PID of another process: taskapi answers on its own server.listen within 30s'
  diag "$(tail -n 5 "$E2E_TMP/otherpid.log")"
fi
check '... and never claims the systemd socket' bash -c "! grep -q 'passed by systemd' '$E2E_TMP/otherpid.log'"
ta_stop "$pid"

port=$(free_port)
ta_start two python3 "$E2E_TMP/launch.py" two "$port" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}"
check 'LISTEN_FDS=2: exit non-zero, taskapi takes exactly one socket' \
  ta_died_with two "$TA_PID" "systemd passed 2 sockets .*takes exactly one"
port=$(free_port)
ta_start notsock python3 "$E2E_TMP/launch.py" notsock "$port" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}"
check 'LISTEN_FDS=1 but fd 3 is a file: exit non-zero, "not a listening stream socket"' \
  ta_died_with notsock "$TA_PID" "fd 3 from systemd .* is not a listening stream socket"

# ---- the shipped units: every file in systemd/ ----
units=$E2E_TMP/units
mkdir -p "$units/man/man8"
cp "$TOP/docs/taskapi.8" "$units/man/man8/"
shipped=()
for f in "$TOP"/systemd/*.socket "$TOP"/systemd/*.service; do
  # ExecStart must name an executable that exists: this build's binary.
  sed "s|/usr/local/bin/taskapi|$TASKAPI_BIN|" "$f" >"$units/$(basename "$f")"
  shipped+=("./$(basename "$f")")
done
check "systemd/ ships the socket-activated pair and taskapi-standalone.service (${shipped[*]})" \
  test "$(printf '%s\n' "${shipped[@]}" | LC_ALL=C sort | tr '\n' ' ')" = "./taskapi-standalone.service ./taskapi.service ./taskapi.socket "
if command -v systemd-analyze >/dev/null 2>&1; then
  rc=0
  out=$(cd "$units" && MANPATH=$units/man systemd-analyze verify "${shipped[@]}" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
    ok "systemd-analyze verify: ${shipped[*]} pass without a warning"
  else
    not_ok "systemd-analyze verify: ${shipped[*]} pass without a warning (exit $rc)"
    diag "$out"
  fi
  score=$(cd "$units" && systemd-analyze security --offline=yes ./taskapi.service 2>/dev/null |
    sed -n 's/.*Overall exposure level for taskapi.service: \([0-9.]*\).*/\1/p')
  check "systemd-analyze security: exposure of taskapi.service below 2.0 (got '${score}')" \
    awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 < 2.0) }'
else
  not_ok 'systemd-analyze is installed (Debian package systemd)'
fi
for directive in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
  PrivateDevices=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
  SystemCallFilter=@system-service UMask=0077 DynamicUser=yes 'ExecReload=/bin/kill -HUP $MAINPID'; do
  check "taskapi.service has $directive" grep -qxF "$directive" "$TOP/systemd/taskapi.service"
done
# The standalone unit makes its own socket: no socket activation, its own folder, the
# fixed account and the group that lets it hand the socket to nginx.
standalone=$TOP/systemd/taskapi-standalone.service
for directive in User=taskapi SupplementaryGroups=www-data RuntimeDirectory=taskapi \
  'Conflicts=taskapi.socket taskapi.service' NoNewPrivileges=yes ProtectSystem=strict; do
  check "taskapi-standalone.service has $directive" grep -qxF "$directive" "$standalone"
done
check 'taskapi-standalone.service does not need taskapi.socket (no Requires=, no socket activation)' \
  bash -c "! grep -qE '^(Requires|Also|Sockets)=' '$standalone'"
check 'taskapi.socket: ListenStream=/run/taskapi/taskapi.sock, SocketMode=0660, Accept=no' \
  bash -c "grep -qx 'ListenStream=/run/taskapi/taskapi.sock' '$TOP/systemd/taskapi.socket' &&
    grep -qx 'SocketMode=0660' '$TOP/systemd/taskapi.socket' && grep -qx 'Accept=no' '$TOP/systemd/taskapi.socket'"

sanitizer_check
