#!/usr/bin/env bash
# 81-spawn-fcgi: a listening socket inherited on fd 0, the FastCGI convention that
# spawn-fcgi, Apache mod_fcgid and systemd's StandardInput=socket follow. taskapi
# takes it over whatever server.listen says, leaves the spawner's socket file alone at
# stop, is never mistaken for a CGI program while it has one, and serves the
# mod_fcgid sizing (server.threads = 1, database.pool_size = 1: one request at a time)
# correctly under concurrent clients.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ini=$(instance_config spawn)
root_args
sock=$E2E_TMP/spawn.sock
unused=$E2E_TMP/not-used.sock

# ---- spawn-fcgi -n: exec in place, the socket on fd 0 ----
ta_start spawn spawn-fcgi -n -s "$sock" -M 0660 -- \
  "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$unused"
pid=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  ok "spawn-fcgi -n -s SOCK: GET /healthz over its socket answers 200 (after ${WAITED}s)"
else
  not_ok "spawn-fcgi -n -s SOCK: GET /healthz answers 200 within 30s (status $STATUS)"
  diag "$(tail -n 5 "$E2E_TMP/spawn.log")"
fi
check 'the process is taskapi itself (spawn-fcgi -n execs in place)' \
  test "$(cat "/proc/$pid/comm" 2>/dev/null)" = taskapi
check 'it says it uses the socket inherited as fd 0, not server.listen' \
  grep -q "listening on the socket inherited as fd 0; server.listen '$unused' is not used" "$E2E_TMP/spawn.log"
check 'server.listen was not created' test ! -e "$unused"
task_json 'from spawn-fcgi'
fcgi POST /tasks/ "$sock" "$E2E_TMP/task.json"
expect_json 'POST /tasks/ through the inherited socket: 201' 201 'j["title"] == "from spawn-fcgi"'
id=$(json_field 'j["id"]' || true)
if ngx_front ngx "unix:$sock"; then
  TASKAPI_URL=$FRONT_URL http GET "/tasks/$id"
  expect_json "the shipped nginx site in front of spawn-fcgi: GET /tasks/$id 200" 200 'j["title"] == "from spawn-fcgi"'
  # A body through nginx with an If-Match: the headers reach taskapi too.
  etag=$(header ETag)
  TASKAPI_URL=$FRONT_URL http PATCH "/tasks/$id" -H 'Content-Type: application/json' \
    -H "If-Match: $etag" --data-binary '{"description": "patched through fd 0"}'
  expect_json "nginx -> fd 0: PATCH /tasks/$id with If-Match 200" 200 'j["description"] == "patched through fd 0"'
else
  not_ok 'nginx in front of the spawn-fcgi socket came up'
fi
ta_stop "$pid"
check "SIGTERM: taskapi exits 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
check "the spawner's socket file is left to the spawner" test -S "$sock"
rm -f "$sock"

# ---- spawn-fcgi -F 1 (forks, the parent exits), on TCP ----
port=$(free_port)
spawn-fcgi -a 127.0.0.1 -p "$port" -F 1 -P "$E2E_TMP/fork.pid" -- \
  "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" </dev/null >>"$E2E_TMP/fork.log" 2>&1 || true
fpid=$(cat "$E2E_TMP/fork.pid" 2>/dev/null || true)
[ -z "$fpid" ] || at_exit "ta_kill $fpid"
if [ -n "$fpid" ] && wait_for 30 fcgi_ok "127.0.0.1:$port"; then
  ok "spawn-fcgi -F 1 -p $port: the forked taskapi (pid $fpid) answers over TCP"
else
  not_ok "spawn-fcgi -F 1 -p $port: the forked taskapi answers over TCP within 30s"
  diag "$(tail -n 5 "$E2E_TMP/fork.log")"
fi
if [ -n "$fpid" ]; then
  ta_stop "$fpid"
  check "the forked taskapi stops on SIGTERM (${TA_EXIT})" test "$TA_EXIT" = gone
fi

# ---- the mod_fcgid sizing: one process, one thread, one connection ----
ta_start fcgid spawn-fcgi -n -s "$sock" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" \
  --set server.workers=0 --set server.threads=1 --set database.pool_size=1
pid=$TA_PID
wait_for 30 fcgi_ok "$sock" || true
# Eight clients at once: the backlog queues them and the one thread answers each.
clients=()
for i in 1 2 3 4 5 6 7 8; do
  (
    python3 -c 'import json, sys; print(json.dumps({"title": sys.argv[1]}))' "fcgid $$ $i" >"$E2E_TMP/c$i.json"
    env -i PATH="$PATH" REQUEST_METHOD=POST REQUEST_URI=/tasks/ CONTENT_TYPE=application/json \
      CONTENT_LENGTH="$(stat -c %s "$E2E_TMP/c$i.json")" \
      timeout 15 cgi-fcgi -bind -connect "$sock" <"$E2E_TMP/c$i.json" >"$E2E_TMP/c$i.out" 2>&1
  ) &
  clients+=($!)
done
wait "${clients[@]}" || true
created=0
for i in 1 2 3 4 5 6 7 8; do
  grep -q '^Status: 201' "$E2E_TMP/c$i.out" && created=$((created + 1))
done
check "8 concurrent POSTs to one process, one thread and one connection: all 8 answered 201 (got $created)" test "$created" = 8
check 'the 8 tasks are in the database' \
  test "$(sql "SELECT COUNT(*) FROM tasks WHERE title LIKE 'fcgid $$ %'")" = 8
ta_stop "$pid"
check "threads = 1: SIGTERM exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0
rm -f "$sock"

# ---- a listener on fd 0 is never taken for CGI, whatever the environment says ----
ta_start cgienv env GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET REQUEST_URI=/healthz \
  spawn-fcgi -n -s "$sock" -- "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}"
pid=$TA_PID
if wait_for 30 fcgi_ok "$sock"; then
  ok 'GATEWAY_INTERFACE and REQUEST_METHOD set, listener on fd 0: serves FastCGI, not one CGI answer'
else
  not_ok 'GATEWAY_INTERFACE set, listener on fd 0: serves FastCGI within 30s'
  diag "$(tail -n 5 "$E2E_TMP/cgienv.log")"
fi
fcgi GET /healthz "$sock"
check '... and keeps serving (a second request, same pid)' \
  test "$STATUS" = 200 -a "$(cat "/proc/$pid/comm" 2>/dev/null)" = taskapi
check '... and wrote nothing CGI-like to stdout' bash -c "! grep -q '^Status:' '$E2E_TMP/cgienv.log'"
ta_stop "$pid"
rm -f "$sock"

# ---- no listener on fd 0, no server.listen, no CGI environment: a clear error ----
ta_start nolisten "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen=
check 'server.listen empty and fd 0 not a listener: exit non-zero with a hint' \
  ta_died_with nolisten "$TA_PID" "server.listen is empty and no listening socket was passed"

sanitizer_check
