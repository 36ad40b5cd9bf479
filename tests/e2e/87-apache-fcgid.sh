#!/usr/bin/env bash
# 87-apache-fcgid: Debian's Apache with mod_fcgid and the shipped
# deploy/apache/taskapi-fcgid.conf. Apache starts taskapi itself as www-data with a
# listening socket on fd 0 and sends each process one request at a time; taskapi runs
# with one thread and one database connection (set by FcgidInitialEnv), answers every
# method, keeps up with parallel clients through more processes, and goes away with
# Apache.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if [ ! -e /usr/lib/apache2/modules/mod_fcgid.so ] || ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 and mod_fcgid are installed (script/bootstrap: apache2 libapache2-mod-fcgid)'
  exit 0
fi
# www-data runs taskapi: its own config and a copy of the binary it can reach.
web_config fcgid-conf
web_bin
tag=$$
bin_dir=$(dirname "$WEB_BIN")
site=$E2E_TMP/site-fcgid.conf
# mod_fcgid's own files (Debian keeps them in /var/lib/apache2/fcgid) stay in the test.
mkdir -p "$E2E_TMP/fcgid-ipc"
chown "$WEB_USER" "$E2E_TMP/fcgid-ipc"
{
  echo "FcgidIPCDir $E2E_TMP/fcgid-ipc"
  echo "FcgidProcessTableFile $E2E_TMP/fcgid-ipc/shm"
  sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" -e "s|\"/usr/local/bin/taskapi\"|\"$WEB_BIN\"|" \
    -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" "$TOP/deploy/apache/taskapi-fcgid.conf"
} >"$site"

# fcgid_pids — taskapi processes started by this test's mod_fcgid (their environment
# names this test's config file).
fcgid_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = taskapi ] || continue
    tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "TASKAPI_CONFIG=$WEB_INI" && echo "${p#/proc/}"
  done
  return 0
}

if ! apache_start apache-fcgid "$site" fcgid; then
  not_ok 'apache2 with deploy/apache/taskapi-fcgid.conf starts'
  diag "$(cat "$E2E_TMP/apache-fcgid/configtest.log" "$E2E_TMP/apache-fcgid/stderr.log" 2>/dev/null)" \
    "$(tail -n 5 "$APACHE_LOG" 2>/dev/null)"
  exit 0
fi
ok 'apache2 with deploy/apache/taskapi-fcgid.conf (mod_fcgid, FcgidWrapper virtual) is up'
TASKAPI_URL=$APACHE_URL
if wait_for 30 status_is /healthz 200; then
  ok "mod_fcgid: GET /healthz 200 (first request starts taskapi; ${WAITED}s)"
else
  not_ok "mod_fcgid: GET /healthz 200 within 30s (status $STATUS)"
  diag "$(tail -n 8 "$APACHE_LOG")"
fi
mapfile -t pids < <(fcgid_pids)
pid=${pids[0]:-}
check "mod_fcgid started taskapi (pid ${pid:-none}) as $WEB_USER" \
  test -n "$pid" -a "$(stat -c %U "/proc/${pid:-0}" 2>/dev/null)" = "$WEB_USER"
check 'it took the listening socket on fd 0 that mod_fcgid passed' \
  grep -q 'listening on the socket inherited as fd 0' "$APACHE_LOG"
check 'it runs as one process with 1 thread and a pool of 1 (FcgidInitialEnv)' \
  grep -qE "\[${pid:-x}\] info: .*ready: 1 threads?, pool of 1 connection" "$APACHE_LOG"
check '... with no worker processes of its own' test -z "$(pgrep -P "${pid:-0}" 2>/dev/null)"

task_json "fcgid $tag ✓"
http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
expect_json 'mod_fcgid: POST /tasks/ 201' 201 "j['title'] == 'fcgid $tag ✓'"
id=$(json_field 'j["id"]' || true)
check "mod_fcgid: Location: /tasks/$id" test "$(header Location)" = "/tasks/$id"
http GET "/tasks/$id"
expect_json "mod_fcgid: GET /tasks/$id 200" 200 "j['id'] == ${id:-0}"
etag=$(header ETag)
http PATCH "/tasks/$id" -H 'Content-Type: application/json' -H "If-Match: $etag" \
  --data-binary '{"is_completed": true}'
expect_json 'mod_fcgid: PATCH with a JSON body and If-Match 200' 200 'j["is_completed"] is True'
http GET '/tasks/?limit=zero'
expect_json 'mod_fcgid: GET /tasks/?limit=zero 422' 422 'isinstance(j["detail"], list)'
http GET /nope
expect_json 'mod_fcgid: GET /nope 404 JSON' 404 'j == {"detail": "Not Found"}'
http DELETE "/tasks/$id"
check "mod_fcgid: DELETE /tasks/$id 204 (got $STATUS)" test "$STATUS" = 204
head -c 70000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/big"
expect_json 'mod_fcgid: a 70000-byte body: 413 JSON from taskapi' 413 '"65536" in j["detail"]'

# Sixteen clients at once: one request per process at a time, so mod_fcgid queues
# them and may start more processes; every request is answered.
urls=()
for i in $(seq 16); do urls+=(-o /dev/null "$APACHE_URL/tasks/?limit=1&n=$i"); done
curl -s --parallel --parallel-immediate --parallel-max 16 --max-time 30 \
  -w '%{http_code}\n' "${urls[@]}" >"$E2E_TMP/burst" 2>/dev/null || true
n=$(grep -c '^200$' "$E2E_TMP/burst" || true)
check "mod_fcgid: 16 parallel GETs all answered 200 (got $n)" test "$n" = 16
check_sanitizer_free 'no sanitizer report in the Apache error log' "$APACHE_LOG"

mapfile -t pids < <(fcgid_pids)
stop_pid apache2 "$APACHE_PID" TERM 20 >/dev/null 2>&1 || true
left() { [ -z "$(fcgid_pids)" ]; }
if wait_for 15 left; then
  ok "Apache stopped: its ${#pids[@]} taskapi processes are gone too (${WAITED}s)"
else
  not_ok "Apache stopped: its taskapi processes are gone within 15s"
  for p in $(fcgid_pids); do kill -KILL "$p" 2>/dev/null || true; done
fi

sanitizer_check
