#!/usr/bin/env bash
# 24-crash-policy: a worker crash cannot be amplified into an outage. Two workers; 12
# times in a row a worker that has served a request is killed (SIGABRT and SIGSEGV in
# turn, as a poisoned request would): each time two workers are running again within
# 1 s, not counting the victim, and /healthz through nginx answers; the master logs each
# death once, with its signal and "after it had served", and never backs off for them
# (the old rule counted them: the 5th crash in 10 s made it wait 1, 2, 4 ... s). Then a
# start-up loop: every new worker is killed before it has served anything (no traffic
# meanwhile), and after server.crash_threshold (5) such deaths within
# server.crash_interval_s the master backs off and says so; afterwards it recovers.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

asock=$E2E_TMP/crashpol-admin.sock
proc_taskapi crashpol --set server.workers=2 --set server.threads=2 \
  --set server.crash_threshold=5 --set server.crash_interval_s=10 --set "server.admin_listen=$asock"
master=$PROC_PID
sock=$PROC_SOCK
log=$E2E_TMP/crashpol.log
proc_nginx crashpol "$sock" 4 1

# worker_pids — the master's worker processes (not the admin process), one a line.
worker_pids() { ps --ppid "$master" -o pid=,args= | awk '/worker process/ { print $1 }' | sort -n; }
# served_worker — a live worker with at least one request answered (per /status?full).
served_worker() {
  admin_get "$asock" "/status?full" >/dev/null 2>&1 || return 1
  status_field '[p["pid"] for p in j["processes"] if p["requests"] > 0 and not p.get("leaving")]' |
    tr -d '[] ' | tr ',' '\n' | grep -m 1 . || return 1
}
# serve_one — a /healthz straight to the FastCGI socket: a new connection, some worker's request.
serve_one() { env -i REQUEST_METHOD=GET REQUEST_URI=/healthz timeout 2 cgi-fcgi -bind -connect "$sock" >/dev/null 2>&1 || true; }

two_workers() { [ "$(worker_pids | wc -l)" -eq 2 ]; }
check "the master runs 2 workers" wait_for 10 two_workers
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$PROC_URL/healthz" || true; }
for _ in 1 2 3 4; do serve_one; done

replaced=0
healthy=0
served_kills=0
victims=()
for i in $(seq 12); do
  victim=''
  for _ in $(seq 30); do
    victim=$(served_worker) && [ -n "$victim" ] && break
    serve_one
  done
  if [ -z "$victim" ]; then
    diag "round $i: no worker has served a request ($(worker_pids | tr '\n' ' '))"
    continue
  fi
  if [ $((i % 2)) = 1 ]; then sig=ABRT; else sig=SEGV; fi
  kill -"$sig" "$victim"
  victims+=("$victim")
  served_kills=$((served_kills + 1))
  start=$(date +%s%N)
  back=0
  while [ $(($(date +%s%N) - start)) -lt 1000000000 ]; do
    if ! kill -0 "$victim" 2>/dev/null || ps -o stat= -p "$victim" | grep -q Z; then
      if [ "$(worker_pids | grep -vx "$victim" | wc -l)" -ge 2 ]; then back=1; break; fi
    fi
    sleep 0.05
  done
  [ "$back" = 0 ] || replaced=$((replaced + 1))
  [ "$back" = 1 ] || diag "round $i: after SIG$sig of $victim, workers within 1 s: $(worker_pids | tr '\n' ' ')"
  code=$(http_code)
  [ "$code" != 200 ] || healthy=$((healthy + 1))
done
check "12 times a worker that had served was killed (SIGABRT/SIGSEGV): done $served_kills times" \
  test "$served_kills" = 12
check "each time 2 workers ran again within 1 s: $replaced of 12" test "$replaced" = 12
check "each time /healthz through nginx answered 200: $healthy of 12" test "$healthy" = 12
once=0
for v in "${victims[@]}"; do
  [ "$(grep -c "worker $v was killed by signal .* after it had served" "$log")" = 1 ] && once=$((once + 1))
done
check "each death is logged once, with its signal, as after serving: $once of ${#victims[@]}" \
  test "$once" = "${#victims[@]}" -a "$once" -gt 0
# Under ASan (script/test --enable-asan exports ASAN_OPTIONS) its SEGV handler reports and
# aborts: a SIGSEGV ends as signal 6 there.
if [ -z "${ASAN_OPTIONS:-}" ]; then
  check "both signals are named in the log (6 Aborted, 11 Segmentation fault)" \
    bash -c "grep -q 'killed by signal 6 (Aborted) after it had served' '$log' &&
      grep -q 'killed by signal 11 (Segmentation fault) after it had served' '$log'"
else
  check "the signal is named in the log (6 Aborted)" grep -q 'killed by signal 6 (Aborted) after it had served' "$log"
fi
check "no back-off for crashes after serving" bash -c "! grep -q 'waiting .* ms before starting another' '$log'"

# ---- a start-up loop: workers that die before serving anything still back off ----------
# No traffic from here on: every worker the master starts now is killed before it can
# accept a connection; the two running ones (which have served) go first.
seen=" $(worker_pids | tr '\n' ' ') "
for p in $seen; do kill -KILL "$p"; done
unserved=0
deadline=$((SECONDS + 15))
while [ "$SECONDS" -lt "$deadline" ] && ! grep -q 'waiting .* ms before starting another' "$log"; do
  for p in $(worker_pids); do
    case $seen in *" $p "*) continue ;; esac
    seen="$seen$p "
    kill -KILL "$p" && unserved=$((unserved + 1))
  done
  sleep 0.02
done
check "workers killed before serving anything: $unserved; the master backs off and says so" \
  grep -q '5 worker crashes within 10 s: waiting 1000 ms before starting another' "$log"
check "those deaths are logged as before serving, counted toward the back-off" \
  grep -q 'was killed by signal 9 (Killed) before it had served anything: starting a new one; counted toward the crash back-off' "$log"
check "afterwards the master recovers: 2 workers" wait_for 10 two_workers
ok_again() { [ "$(http_code)" = 200 ]; }
check "and /healthz through nginx answers 200" wait_for 10 ok_again
check "the master is still there" kill -0 "$master"
