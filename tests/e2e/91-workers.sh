#!/usr/bin/env bash
# 91-workers: the master keeps its worker processes alive. A worker killed under load
# is replaced within 1 s and only its requests in flight are lost; repeated crashes
# make the master back off instead of forking in a loop; max_requests recycles
# workers without failing a request; --workers 0 serves from a single process.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

has_workers() { [ "$(workers_of "$1" | wc -l)" -ge "${2:-1}" ]; }

# ---- SIGKILL one worker under load -------------------------------------------------
proc_taskapi crash --set server.workers=2 --set server.threads=4
master=$PROC_PID
proc_nginx crash "$PROC_SOCK" 16 2
wait_for 5 has_workers "$master" 2 || true
mapfile -t before < <(workers_of "$master")
check "the master runs 2 workers (${before[*]})" test "${#before[@]}" -eq 2

proc_wrk 6s 32 "$PROC_URL/tasks/?limit=5" >/dev/null &
wrk_job=$!
# Results of the background wrk come back through a file.
(
  sleep 2
  victim=${before[0]}
  kill -KILL "$victim"
  start=$(date +%s%N)
  while :; do
    now=$(workers_of "$master" | grep -vx "$victim" | wc -l)
    [ "$now" -ge 2 ] && break
    [ $(($(date +%s%N) - start)) -lt 10000000000 ] || break
    sleep 0.01
  done
  echo $((($(date +%s%N) - start) / 1000000)) >"$E2E_TMP/respawn_ms"
) &
killer=$!
wait "$wrk_job" "$killer" || true
respawn_ms=$(cat "$E2E_TMP/respawn_ms" 2>/dev/null || echo 99999)
# Liveness, with a wide margin: the master replaces it on SIGCHLD (milliseconds).
check "a SIGKILLed worker is replaced (within 10 s; took ${respawn_ms} ms)" test "$respawn_ms" -lt 10000
check "the master survived" kill -0 "$master"
check "the master logged the death" grep -q "was killed by signal 9" "$E2E_TMP/crash.log"

# After the crash every request succeeds again.
proc_wrk 3s 32 "$PROC_URL/tasks/?limit=5"
check "after the crash: $WRK_REQUESTS requests, no errors ($WRK_ERRORS), no non-2xx ($WRK_NON2XX)" \
  test "$WRK_REQUESTS" -gt 0 -a "$WRK_ERRORS" -eq 0 -a "$WRK_NON2XX" -eq 0

# Only requests that were inside the killed worker can fail: measure it with curl
# clients that count failures while a worker dies.
python3 - "$PROC_URL" "$master" >"$E2E_TMP/lost" <<'PY'
import os, subprocess, sys, threading, time, urllib.request
url, master = sys.argv[1], int(sys.argv[2])
ok = bad = 0
lock = threading.Lock()
stop = time.time() + 4
def client():
    global ok, bad
    while time.time() < stop:
        try:
            with urllib.request.urlopen(url + "/tasks/?limit=5", timeout=5) as r:
                r.read()
                good = r.status == 200
        except Exception:
            good = False
        with lock:
            if good: ok += 1
            else: bad += 1
threads = [threading.Thread(target=client) for _ in range(8)]
for t in threads: t.start()
time.sleep(1.5)
kids = subprocess.run(["ps", "--ppid", str(master), "-o", "pid="], capture_output=True, text=True).stdout.split()
os.kill(int(kids[0]), 9)
for t in threads: t.join()
print(ok, bad)
PY
read -r ok bad <"$E2E_TMP/lost"
check "8 clients while a worker is killed: $ok ok, $bad failed (at most its 4 threads' requests)" \
  test "$ok" -gt 100 -a "$bad" -le 4

# ---- a crash loop backs off ---------------------------------------------------------
proc_taskapi loop --set server.workers=1 --set server.threads=1 --set server.crash_threshold=3 \
  --set server.crash_interval_s=10
loop_master=$PROC_PID
for _ in 1 2 3; do
  wait_for 3 has_workers "$loop_master" || true
  kill -KILL "$(workers_of "$loop_master" | head -n 1)" 2>/dev/null || true
  sleep 0.1
done
check "after 3 crashes in 10 s the master backs off and says so" \
  wait_for 2 grep -q "worker crashes within 10 s: waiting 1000 ms" "$E2E_TMP/loop.log"
check "no worker during the back-off" test -z "$(workers_of "$loop_master")"
check "a worker is back after the back-off" wait_for 3 has_workers "$loop_master"
check "the master is still there" kill -0 "$loop_master"

# ---- max_requests recycles workers without failing requests ---------------------------
proc_taskapi recycle --set server.workers=1 --set server.threads=2 --set server.max_requests=50
recycle_master=$PROC_PID
proc_nginx recycle "$PROC_SOCK" 8 1
first=$(workers_of "$recycle_master")
codes=$(for _ in $(seq 200); do curl -s -o /dev/null -w '%{http_code}\n' "$PROC_URL/healthz"; done | sort | uniq -c | tr -s ' ')
check "200 requests across recycling all answered 200 ($codes)" test "$codes" = " 200 200"
check "the worker was recycled ($first -> $(workers_of "$recycle_master"))" \
  test "$first" != "$(workers_of "$recycle_master")"
check "recycling is logged, not counted as a crash" grep -q "recycled after server.max_requests" "$E2E_TMP/recycle.log"
check "no crash was logged" bash -c "! grep -q 'killed by signal\|exited with status' '$E2E_TMP/recycle.log'"

# ---- --workers 0: one process ---------------------------------------------------------
proc_taskapi single --workers 0 --set server.threads=2
REQUEST_METHOD=GET REQUEST_URI=/healthz cgi-fcgi -bind -connect "$PROC_SOCK" >"$E2E_TMP/single.out" 2>&1 || true
check "--workers 0 answers" grep -q '{"status":"ok"}' "$E2E_TMP/single.out"
check "--workers 0 starts no worker process" test -z "$(workers_of "$PROC_PID")"
