#!/usr/bin/env bash
# 93-reload: SIGHUP re-reads the configuration and replaces the workers without
# failing a request, under load; a bad configuration is refused and the running one
# kept; a storm of 25 SIGHUPs 1 ms apart leaves the master serving.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

n_workers_is() { [ "$(workers_of "$1" | wc -l)" -eq "$2" ]; }
conf=$E2E_TMP/reload.ini
# Reloads re-read this file (flags given with --set would win over it).
cp "$APP_CONF" "$conf"
printf '\n[server]\nworkers = 2\nthreads = 4\n' >>"$conf"

proc_taskapi reload --config "$conf"
master=$PROC_PID
proc_nginx reload "$PROC_SOCK" 32 2
before=$(workers_of "$master" | tr '\n' ' ')

# ---- reloads under load: GETs through wrk, POSTs from python clients --------------------
(
  for _ in 1 2 3; do
    sleep 2
    kill -HUP "$master"
  done
) &
hupper=$!
python3 - "$PROC_URL" >"$E2E_TMP/posts" <<'PY' &
import json, sys, threading, time, urllib.request
url = sys.argv[1]
ok = bad = 0
errors = []
lock = threading.Lock()
stop = time.time() + 8
def client(n):
    global ok, bad
    i = 0
    while time.time() < stop:
        i += 1
        req = urllib.request.Request(url + "/tasks/", data=json.dumps({"title": "reload %d-%d" % (n, i)}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                r.read()
                good = r.status == 201
        except Exception as e:
            good = False
            with lock:
                errors.append(str(e)[:80])
        with lock:
            if good: ok += 1
            else: bad += 1
threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(ok, bad, "|".join(sorted(set(errors))[:3]))
PY
poster=$!
proc_wrk 8s 32 "$PROC_URL/tasks/?limit=5"
wait "$hupper" "$poster" || true
read -r posts_ok posts_bad posts_err <"$E2E_TMP/posts"
diag "during 3 reloads: wrk $WRK_REQUESTS GETs (errors $WRK_ERRORS, non-2xx $WRK_NON2XX); POST $posts_ok ok, $posts_bad failed ${posts_err:-}"
check "3 reloads under load: $WRK_REQUESTS GETs, none failed" \
  test "$WRK_REQUESTS" -gt 100 -a "$WRK_ERRORS" -eq 0 -a "$WRK_NON2XX" -eq 0
check "3 reloads under load: $posts_ok POSTs, $posts_bad failed" test "$posts_ok" -gt 20 -a "$posts_bad" -eq 0
check "three new generations were started" grep -q "starting generation 4" "$E2E_TMP/reload.log"
# Old generations drain until nginx has closed their connections (5 s idle here).
wait_for 12 n_workers_is "$master" 2 || true
after=$(workers_of "$master" | tr '\n' ' ')
check "the workers were replaced ($before-> $after)" test "$before" != "$after"
check "two workers again after the reloads ($after)" test "$(workers_of "$master" | wc -l)" -eq 2

# ---- a bad configuration is refused, the running one kept ---------------------------------
printf '\n[server]\nno_such_key = 1\n' >>"$conf"
kill -HUP "$master"
check "a bad configuration is refused with the reason" \
  wait_for 3 grep -q "reload failed, keeping the running configuration: .*no_such_key" "$E2E_TMP/reload.log"
curl -s -o /dev/null -w '%{http_code}' "$PROC_URL/healthz" >"$E2E_TMP/after-bad"
check "still serving after the refused reload" test "$(cat "$E2E_TMP/after-bad")" = 200

# A good change is applied: three worker processes.
cp "$APP_CONF" "$conf"
printf '\n[server]\nworkers = 3\nthreads = 4\n' >>"$conf"
kill -HUP "$master"
check "a reload applies the new worker count (3)" wait_for 12 n_workers_is "$master" 3

# ---- a storm of SIGHUPs ---------------------------------------------------------------------
for _ in $(seq 25); do
  kill -HUP "$master"
  sleep 0.001
done
check "the master survives 25 SIGHUPs 1 ms apart" kill -0 "$master"
codes=$(for _ in $(seq 20); do curl -s -o /dev/null -w '%{http_code}\n' "$PROC_URL/tasks/?limit=1"; done | sort | uniq -c | tr -s ' ')
check "and serves during it ($codes)" test "$codes" = " 20 200"
check "the storm settles to 3 workers" wait_for 15 n_workers_is "$master" 3
reloads=$(grep -c "starting generation" "$E2E_TMP/reload.log")
diag "reloads started in all: $reloads"
