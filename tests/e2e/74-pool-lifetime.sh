#!/usr/bin/env bash
# 74-pool-lifetime: connections seen from the server (information_schema.PROCESSLIST
# of a private taskapi's own database user). With database.max_lifetime_s = 2 the
# pool's connections are replaced every ~2 s while requests keep succeeding, and there
# are never more than pool_size of them; a connection borrowed past its lifetime is
# not closed under its borrower (a PATCH waiting 3 s on a row lock still succeeds).
# With database.keepalive_s = 1 idle connections are pinged in the background (their
# server-side idle time stays short) and, killed while idle, are replaced by the
# housekeeper before any request comes (min_idle refilled).
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/pool-lib.sh
. "$E2E_DIR/pool-lib.sh"

# ---- max lifetime: rotation under traffic ----
pool_user pool_life
if ! private_taskapi pool_life --set database.pool_size=2 --set server.threads=2 \
  --set database.max_lifetime_s=2 --set database.keepalive_s=0 \
  --set database.statement_timeout_ms=10000 --set log.access_log=false; then
  not_ok 'a private taskapi with max_lifetime_s = 2 starts'
  diag "$(tail -n 5 "$PRIV_LOG")"
  exit 0
fi
python3 - "$E2E_DIR" "$PRIV_SOCK" "$DB_SOCK" "$(id -un)" <<'PY'
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from pool_client import fcgi

sock, db_sock, root = sys.argv[2:5]
def threads():
    out = subprocess.run(["mariadb", "--no-defaults", "--socket=" + db_sock, "--user=" + root,
                          "--batch", "--skip-column-names", "-e",
                          "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'pool_life'"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())

statuses, seen, most = [], set(), 0
t0 = time.monotonic()
while time.monotonic() - t0 < 7:
    statuses.append(fcgi(sock, "GET", "/tasks/?limit=1")[0])
    ids = threads()
    seen |= ids
    most = max(most, len(ids))
    time.sleep(0.1)
bad = [s for s in statuses if s != 200]
print("%s - %d requests over 7 s while connections retire: all 200 (%d not)"
      % ("ok" if not bad else "not ok", len(statuses), len(bad)))
print("%s - %d distinct server connections in 7 s with pool_size 2 and a 2 s lifetime (>= 6)"
      % ("ok" if len(seen) >= 6 else "not ok", len(seen)))
print("%s - never more than pool_size connections at once (at most %d)"
      % ("ok" if most <= 2 else "not ok", most))
PY

# ---- never closed while borrowed ----
id=$(sql "INSERT INTO tasks (title) VALUES ('lifetime: borrowed'); SELECT LAST_INSERT_ID()")
$MYSQL -e "BEGIN; SELECT id FROM tasks WHERE id = $id FOR UPDATE; DO SLEEP(3); COMMIT;" \
  >/dev/null 2>&1 &
locker=$!
at_exit "kill $locker 2>/dev/null"
sleep 0.3
fcgi PATCH "/tasks/$id" '{"title": "lifetime: patched"}'
wait "$locker" || true
expect_json 'a PATCH that held its connection 3 s (past the 2 s lifetime) still succeeds' 200 \
  'j["title"] == "lifetime: patched"'
check 'taskapi logged no lost connection meanwhile' \
  test "$(grep -c 'lost its connection' "$PRIV_LOG" || true)" = 0
stop_private "$PRIV_PID" || not_ok 'the lifetime taskapi exits 0 on SIGTERM'

# ---- keepalive: idle connections pinged, dead ones replaced in the background ----
pool_user pool_keep
if ! private_taskapi pool_keep --set database.pool_size=2 --set server.threads=2 \
  --set database.keepalive_s=1 --set database.validation_idle_ms=3600000 --set log.access_log=false; then
  not_ok 'a private taskapi with keepalive_s = 1 starts'
  diag "$(tail -n 5 "$PRIV_LOG")"
  exit 0
fi
# idle_ms — the longest server-side idle time (ms) among pool_keep's connections.
idle_ms() {
  db_root "SELECT COALESCE(MAX(TIME_MS), -1) FROM information_schema.PROCESSLIST WHERE USER = 'pool_keep'" |
    cut -d. -f1
}
two_keep() { [ "$(app_threads pool_keep | grep -c .)" = 2 ]; }
wait_for 5 two_keep || true
fcgi GET '/tasks/?limit=1'
longest=0
for _ in $(seq 8); do
  sleep 0.5
  v=$(idle_ms)
  [ "$v" -gt "$longest" ] && longest=$v
done
check "no request for 4 s: the idle connections were still pinged (longest server-side idle ${longest} ms < 3000)" \
  test "$longest" -ge 0 -a "$longest" -lt 3000
before=$(app_threads pool_keep | tr '\n' ' ')
killed=$(kill_threads pool_keep)
if wait_for 5 two_keep; then
  after=$(app_threads pool_keep | tr '\n' ' ')
  check "killed $killed idle connections ($before); the housekeeper replaced them without a request ($after, ${WAITED}s)" \
    test -z "$(comm -12 <(tr ' ' '\n' <<<"$before" | sort) <(tr ' ' '\n' <<<"$after" | sort) | grep .)"
else
  not_ok "killed idle connections are replaced in the background within 5 s ($(app_threads pool_keep | tr '\n' ' '))"
fi
check 'taskapi logged the keepalive discards' grep -q 'failed keepalive' "$PRIV_LOG"
fcgi GET '/tasks/?limit=1'
check "and the next request is served at once ($STATUS)" test "$STATUS" = 200
