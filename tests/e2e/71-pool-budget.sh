#!/usr/bin/env bash
# 71-pool-budget: what each request costs the database, counted by MariaDB itself
# (SHOW GLOBAL STATUS, TechEmpower style) around N requests to a private taskapi with a
# one-connection pool: POST = 1 statement, GET /tasks/{id} = 1, GET /tasks/ = 1,
# PATCH = 2 (UPDATE + SELECT), DELETE = 1; nothing prepared again and no ping while
# the pool is busy (validation only after database.validation_idle_ms of idleness);
# one ping after an idle pause; and, as a control that the ping count can see them, a
# taskapi with validation_idle_ms = 0 pinging on (nearly) every request.
#
# The counters are global: the stack's own taskapi is frozen (SIGSTOP to its process
# group) while they are read, so its keepalive pings cannot land in the window, and
# the cost of reading the counters is measured on an empty window and subtracted.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

pool_user pool_budget
if ! private_taskapi pool_budget --set database.pool_size=1 --set server.threads=2 \
  --set database.keepalive_s=0 --set database.validation_idle_ms=500 --set log.access_log=false; then
  not_ok 'a private taskapi with a one-connection pool starts'
  diag "$(tail -n 5 "$PRIV_LOG")"
  exit 0
fi
busy_sock=$PRIV_SOCK
pool_user pool_eager
private_taskapi pool_eager --set database.pool_size=1 --set server.threads=2 \
  --set database.keepalive_s=0 --set database.validation_idle_ms=0 --set log.access_log=false ||
  not_ok 'a private taskapi with validation_idle_ms = 0 starts'
eager_sock=$PRIV_SOCK

# Freeze the stack's taskapi (and any worker it forked) for the counting.
main_pgid=$(ps -o pgid= -p "$(app_pid)" | tr -d ' ')
kill -STOP -- "-$main_pgid"
at_exit "kill -CONT -- -$main_pgid"

python3 - "$E2E_DIR" "$DB_SOCK" "$(id -un)" "$busy_sock" "$eager_sock" <<'PY'
import json, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from pool_client import fcgi

db_sock, db_user, busy, eager = sys.argv[2:6]
N = 20
NAMES = ["com_stmt_execute", "com_stmt_prepare", "com_stmt_close", "com_stmt_reset",
         "com_select", "com_insert", "com_update", "com_delete", "com_admin_commands",
         "com_begin", "com_commit", "com_rollback", "com_set_option", "questions"]

def counters():
    sql = ("SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
           "WHERE LOWER(VARIABLE_NAME) IN (%s)" % ",".join("'%s'" % n for n in NAMES))
    out = subprocess.run(["mariadb", "--no-defaults", "--socket=" + db_sock, "--user=" + db_user,
                          "--batch", "--skip-column-names", "-e", sql],
                         capture_output=True, text=True, check=True).stdout
    return {k: int(v) for k, v in (line.split("\t") for line in out.splitlines())}

def window(fn):
    a = counters()
    fn()
    b = counters()
    return {k: b[k] - a[k] for k in NAMES}

reader = window(lambda: None)

def measure(fn):
    d = window(fn)
    return {k: d[k] - reader[k] for k in NAMES}

def call(sock, method, uri, body=b"", want=200):
    status, _, data = fcgi(sock, method, uri, body)
    if status != want:
        raise SystemExit("not ok - %s %s answered %d: %r" % (method, uri, status, data[:200]))
    return json.loads(data) if data else None

def report(what, got, expect):
    diff = {k: v for k, v in got.items() if v != expect.get(k, 0)}
    if diff:
        print("not ok - %s: counters differ from %s" % (what, expect))
        print("#   got: %s" % {k: v for k, v in got.items() if v})
    else:
        print("ok - %s: %s" % (what, ", ".join("%s %d" % kv for kv in expect.items())))

# Warm up: every statement prepared once on the single connection.
t = call(busy, "POST", "/tasks/", '{"title":"budget warm-up"}', 201)
call(busy, "GET", "/tasks/%d" % t["id"])
call(busy, "GET", "/tasks/?limit=5")
call(busy, "PATCH", "/tasks/%d" % t["id"], '{"is_completed":true}')
call(busy, "DELETE", "/tasks/%d" % t["id"], want=204)

ids = []
got = measure(lambda: ids.extend(call(busy, "POST", "/tasks/", '{"title":"budget %d"}' % i, 201)["id"]
                                  for i in range(N)))
report("%d x POST /tasks/" % N, got, {"com_stmt_execute": N, "com_insert": N, "questions": N})
got = measure(lambda: [call(busy, "GET", "/tasks/%d" % i) for i in ids])
report("%d x GET /tasks/{id}" % N, got, {"com_stmt_execute": N, "com_select": N, "questions": N})
got = measure(lambda: [call(busy, "GET", "/tasks/?limit=10&skip=%d" % i) for i in range(N)])
report("%d x GET /tasks/" % N, got, {"com_stmt_execute": N, "com_select": N, "questions": N})
got = measure(lambda: [call(busy, "PATCH", "/tasks/%d" % i, '{"title":"budget patched"}') for i in ids])
report("%d x PATCH /tasks/{id} (UPDATE + SELECT)" % N, got,
       {"com_stmt_execute": 2 * N, "com_update": N, "com_select": N, "questions": 2 * N})
got = measure(lambda: [call(busy, "DELETE", "/tasks/%d" % i, want=204) for i in ids])
report("%d x DELETE /tasks/{id}" % N, got, {"com_stmt_execute": N, "com_delete": N, "questions": N})

# A busy pool: 100 requests back to back, no ping. After an idle pause: exactly one.
got = measure(lambda: [call(busy, "GET", "/tasks/?limit=1") for _ in range(100)])
print("%s - 100 requests back to back: %d pings (validation skipped within validation_idle_ms)"
      % ("ok" if got["com_admin_commands"] == 0 else "not ok", got["com_admin_commands"]))
def pause_then_one():
    time.sleep(0.8)
    call(busy, "GET", "/tasks/?limit=1")
got = measure(pause_then_one)
print("%s - one request after 0.8 s idle (> 500 ms): %d ping (validation on borrow)"
      % ("ok" if got["com_admin_commands"] == 1 else "not ok", got["com_admin_commands"]))

# The control: with validation_idle_ms = 0 the same count sees a ping per request.
call(eager, "GET", "/tasks/?limit=1")
def spaced():
    for _ in range(20):
        time.sleep(0.005)
        call(eager, "GET", "/tasks/?limit=1")
got = measure(spaced)
print("%s - control, validation_idle_ms = 0: %d pings for 20 requests 5 ms apart (the count sees them)"
      % ("ok" if got["com_admin_commands"] == 20 else "not ok", got["com_admin_commands"]))
PY
kill -CONT -- "-$main_pgid"
http GET /readyz
expect_json "the stack's taskapi answers again after being frozen" 200 'j.get("status") == "ready"'
