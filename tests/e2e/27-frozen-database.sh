#!/usr/bin/env bash
# 27-frozen-database: issue 11's "frozen database". mariadbd is stopped with SIGSTOP
# (a hung server or a network that black-holes: connections stay open, nothing
# answers) under a private taskapi with database.acquire_timeout_ms = 1000 and the
# default statement deadline (database.statement_timeout_ms = 5000). A PATCH already
# waiting on a row lock when the server freezes answers a JSON 503 with Retry-After
# saying the write may have been applied, within the statement deadline + 1 s; two
# rounds of new GET and POST requests (the first meets idle connections that need a
# validation ping, the second empty slots that need a new connection) each answer a
# JSON 503 with Retry-After within the acquire timeout + 1 s. After SIGCONT every
# request succeeds again within a few seconds, without a restart. Prints the times.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

ACQUIRE_MS=1000
STATEMENT_MS=5000 # the default database.statement_timeout_ms

# session SQL — run SQL as the migration user in the background (its own session);
# SESSION_PID is the client's pid, stopped when the test ends.
session() {
  $MYSQL --batch --skip-column-names -e "$1" >"$E2E_TMP/session.out" 2>&1 &
  SESSION_PID=$!
  at_exit "kill $SESSION_PID 2>/dev/null; wait $SESSION_PID 2>/dev/null"
}

db=$(db_pid) || { not_ok 'the stack has a running mariadbd'; exit 0; }
pool_user frozen
if ! private_taskapi frozen --set database.pool_size=4 --set server.threads=16 \
  --set "database.acquire_timeout_ms=$ACQUIRE_MS" --set log.access_log=false; then
  not_ok 'a private taskapi starts'
  diag "$(tail -n 5 "$PRIV_LOG")"
  exit 0
fi

fcgi POST /tasks/ '{"title": "frozen: locked row"}'
expect_json 'before: POST 201' 201 '"id" in j'
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BODY")
for _ in 1 2 3 4; do fcgi GET "/tasks/$id"; done
expect_json 'before: GET 200' 200 'j["id"] == '"$id"

# A row lock held by another session: the PATCH below is in flight (a lock wait) when
# the server freezes.
session "SET SESSION innodb_lock_wait_timeout = 60;
BEGIN; SELECT id FROM tasks WHERE id = $id FOR UPDATE; DO SLEEP(60); ROLLBACK;"
sleep 0.5
# Whatever happens, the server runs again when the test ends.
at_exit "kill -CONT $db 2>/dev/null"

python3 - "$E2E_DIR" "$PRIV_SOCK" "$id" "$db" "$ACQUIRE_MS" "$STATEMENT_MS" <<'PY'
import json, os, signal, sys, threading, time
sys.path.insert(0, sys.argv[1])
from pool_client import fcgi, is_json

sock, task_id, db = sys.argv[2], sys.argv[3], int(sys.argv[4])
acquire, statement = int(sys.argv[5]) / 1000.0, int(sys.argv[6]) / 1000.0

def ok(cond, msg):
    print("%s - %s" % ("ok" if cond else "not ok", msg))
    sys.stdout.flush()

def timed(method, uri, body=b""):
    start = time.monotonic()
    try:
        status, headers, data = fcgi(sock, method, uri, body, timeout=30.0)
    except OSError as e:
        status, headers, data = 0, {"error": str(e)}, b""
    return {"took": time.monotonic() - start, "status": status,
            "retry_after": headers.get("retry-after"), "json": is_json(data),
            "body": data.decode("utf-8", "replace")}

def proper_503(r):
    return r["status"] == 503 and r["json"] and r["retry_after"]

# (b) a request already mid-statement
patch = {}
def do_patch():
    patch.update(timed("PATCH", "/tasks/%s" % task_id, '{"title": "frozen: never"}'))
t = threading.Thread(target=do_patch)
t.start()
time.sleep(0.5)
os.kill(db, signal.SIGSTOP)
frozen_at = time.monotonic()
print("# mariadbd %d stopped (SIGSTOP) 0.5 s after the PATCH began" % db)

# (a) new requests, two rounds of six at once
def round_of(n):
    results = [None] * n
    def one(i):
        if i % 2:
            results[i] = timed("POST", "/tasks/", '{"title": "frozen: new %d"}' % i)
        else:
            results[i] = timed("GET", "/tasks/%s" % task_id)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return results

time.sleep(0.6) # past database.validation_idle_ms (500): the idle connections get a ping
new = []
for rnd in (1, 2):
    r = round_of(6)
    new += r
    print("#   round %d: %s" % (rnd, ", ".join("%d in %.2f s" % (x["status"], x["took"]) for x in r)))
# acquire + 1 s is taskapi's bound (a connect gets a whole second at most: Connector/C's
# connect timeout is in seconds); 0.3 s more is this client's own time on a loaded machine.
bound = acquire + 1.3
ok(all(proper_503(x) for x in new),
   "frozen: %d new GET/POST requests, %d JSON 503 with Retry-After"
   % (len(new), sum(1 for x in new if proper_503(x))))
slowest = max(x["took"] for x in new)
ok(all(x["took"] < bound for x in new),
   "... each within acquire timeout + 1 s: %d of %d under %.1f s (slowest %.2f s)"
   % (sum(1 for x in new if x["took"] < bound), len(new), bound, slowest))

t.join()
print("#   the PATCH in flight: %d after %.2f s: %s" % (patch["status"], patch["took"], patch["body"]))
ok(proper_503(patch), "the PATCH in flight when the server froze: JSON 503 with Retry-After (%d)"
   % patch["status"])
ok(patch["took"] < statement + 1,
   "... within the statement deadline + 1 s (%.2f s < %.1f s)" % (patch["took"], statement + 1))
ok("may have" in patch["body"], "... and the body says the write may have been applied")

os.kill(db, signal.SIGCONT)
resumed = time.monotonic()
print("# mariadbd resumed (SIGCONT) after %.1f s frozen" % (resumed - frozen_at))
recovered = None
while time.monotonic() - resumed < 15:
    r = timed("GET", "/tasks/%s" % task_id)
    if r["status"] == 200:
        recovered = time.monotonic() - resumed
        break
    time.sleep(0.1)
ok(recovered is not None and recovered < 5,
   "after SIGCONT a GET succeeds again within 5 s (%s)"
   % ("%.2f s" % recovered if recovered is not None else "never"))
after = []
for i in range(20):
    after.append(timed("GET", "/tasks/%s" % task_id) if i % 2 else
                 timed("POST", "/tasks/", '{"title": "frozen: after %d"}' % i))
good = sum(1 for x in after if x["status"] in (200, 201))
ok(good == len(after), "then %d of %d GET/POST requests succeed" % (good, len(after)))
PY

kill "$SESSION_PID" 2>/dev/null || true
wait "$SESSION_PID" 2>/dev/null || true
db_root "SELECT CONCAT('KILL ', ID, ';') FROM information_schema.PROCESSLIST
WHERE USER = '$DB_MIGRATE_USER' AND INFO LIKE 'DO SLEEP%'" | db_admin >/dev/null 2>&1 || true
check 'the private taskapi is still the same process' pid_alive "$PRIV_PID"
