#!/usr/bin/env bash
# 75-pool-outage: issue 4's "Database outage". 8 clients keep sending GET /tasks/{id},
# GET /tasks/ and POST /tasks/ through nginx while MariaDB is stopped (the stack's own
# mariadb_stop: SIGTERM, clean shutdown) and started again. Every request ends within
# acquire_timeout + 2 s (no hang) as a 2xx or a JSON 503 with Retry-After; during the
# outage every answer is such a 503 within acquire_timeout + 1 s; /readyz says 503;
# taskapi is not restarted; after the restart everything succeeds again within 5 s
# and /readyz says 200. Prints the measured times.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

ACQUIRE_S=2 # database.acquire_timeout_ms of the stack (the default)
app_before=$(app_pid || true)
http POST /tasks/ -H 'Content-Type: application/json' -d '{"title": "outage: read me"}'
read_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY")
stop_file=$E2E_TMP/stop-load
events=$E2E_TMP/events

# now — wall-clock seconds with milliseconds (the load script converts to its own clock).
now() { date +%s.%3N; }

python3 - "$E2E_DIR" "$TASKAPI_URL" "$read_id" "$stop_file" >"$E2E_TMP/load.json" <<'PY' &
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from pool_client import http, load

url, read_id, stop_file = sys.argv[2], sys.argv[3], sys.argv[4]
def send(kind, n):
    if kind == "get":
        s, h, b = http(url, "GET", "/tasks/%s" % read_id)
    elif kind == "list":
        s, h, b = http(url, "GET", "/tasks/?limit=5")
    else:
        s, h, b = http(url, "POST", "/tasks/", json.dumps({"title": "outage %d" % n}))
    return s, h, b, None
wall0, t0 = time.time(), time.monotonic()
r = load(send, ["get", "list", "post"], threads=8, seconds=60, t0=t0,
         until=lambda: os.path.exists(stop_file), pause=0.005)
json.dump({"wall0": wall0, "results": r}, sys.stdout)
PY
load_pid=$!
at_exit "touch $stop_file; wait $load_pid 2>/dev/null"

sleep 2
echo "stop_begin $(now)" >"$events"
mariadb_stop >/dev/null 2>&1
echo "stop_done $(now)" >>"$events"
check 'mariadbd stopped' test -z "$(db_pid || true)"
sleep 1.5
http GET /readyz
expect_json 'during the outage: /readyz 503' 503 '"detail" in j'
sleep 2
echo "start_begin $(now)" >>"$events"
mariadb_start >/dev/null 2>&1
echo "up $(now)" >>"$events"
ready=0
for _ in $(seq 50); do
  http GET /readyz
  if [ "$STATUS" = 200 ]; then ready=1; break; fi
  sleep 0.1
done
check "after the restart: /readyz 200 again (status $STATUS)" test "$ready" = 1
sleep 6.5
touch "$stop_file"
wait "$load_pid" || true

python3 - "$E2E_TMP/load.json" "$events" "$ACQUIRE_S" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
ev = {k: float(v) - data["wall0"] for k, v in (l.split() for l in open(sys.argv[2]))}
acq = float(sys.argv[3])
r = sorted(data["results"], key=lambda x: x["start"])
def ok(cond, msg):
    print("%s - %s" % ("ok" if cond else "not ok", msg))
def good(x):
    return 200 <= x["status"] < 300
def proper_503(x):
    return x["status"] == 503 and x["json"] and x["retry_after"]

ok(len(r) > 100, "the load ran: %d requests, 8 clients" % len(r))
slowest = max(x["end"] - x["start"] for x in r)
ok(slowest < acq + 5, "no request hung: slowest %.2f s (< acquire timeout + 5 s, a liveness bound)" % slowest)
odd = [x for x in r if not good(x) and not proper_503(x)]
ok(not odd, "every answer is a 2xx or a JSON 503 with Retry-After (%d are not%s)"
   % (len(odd), (": " + ", ".join(sorted({str(x["status"]) for x in odd}))) if odd else ""))
before = [x for x in r if x["end"] < ev["stop_begin"]]
ok(before and all(good(x) for x in before), "before the stop: %d requests, all 2xx" % len(before))
first_503 = min((x["end"] for x in r if x["end"] >= ev["stop_begin"] and proper_503(x)), default=None)
if first_503 is None:
    ok(False, "503s appear after MariaDB stops")
else:
    print("#   first 503 %.2f s after the stop began (shutdown took %.2f s)"
          % (first_503 - ev["stop_begin"], ev["stop_done"] - ev["stop_begin"]))
    ok(first_503 - ev["stop_done"] <= acq + 3, "503s within acquire timeout + 3 s of MariaDB being gone")
during = [x for x in r if x["start"] >= ev["stop_done"] and x["end"] <= ev["start_begin"]]
slow = max([x["end"] - x["start"] for x in during] or [0])
ok(during and all(proper_503(x) for x in during),
   "while MariaDB is down: %d requests, all JSON 503 + Retry-After (%d not)"
   % (len(during), sum(1 for x in during if not proper_503(x))))
ok(slow <= acq + 3, "... each answered within acquire timeout + 3 s (slowest %.2f s)" % slow)
after = [x for x in r if x["start"] >= ev["up"]]
last_bad = max((x["end"] for x in after if not good(x)), default=ev["up"])
print("#   MariaDB back up %.2f s after its start began; last failure %.2f s after it was up"
      % (ev["up"] - ev["start_begin"], last_bad - ev["up"]))
ok(last_bad - ev["up"] <= 5, "recovered within 5 s of MariaDB being up (%.2f s)" % (last_bad - ev["up"]))
late = [x for x in after if x["start"] >= ev["up"] + 5]
ok(len(late) >= 20 and all(good(x) for x in late),
   "from 5 s after the restart: %d requests, 100 %% success (%d failed)"
   % (len(late), sum(1 for x in late if not good(x))))
PY
check 'taskapi was not restarted (same pid)' test "$(app_pid || true)" = "$app_before"
