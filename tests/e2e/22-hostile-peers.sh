#!/usr/bin/env bash
# 22-hostile-peers: the FastCGI attacks of issue 11, replayed against a stack of 2
# workers x 8 threads behind its own nginx, each while /healthz is asked through nginx:
#   - 12 records whose pair lengths make libfcgi abort, sent within 0.6 s under load;
#   - 40 connections trickling one byte every 2 s;
#   - 300 MB of PARAMS in one request;
#   - 3,000 connections that never send a byte;
#   - the per-process connection cap reached by connections that did start a request.
# Outcome asserted: no worker dies, /healthz answers within 1 s throughout, worker RSS
# stays small, the peers are cut off by the caps and deadlines, the log stays short.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

admin=$E2E_TMP/hostile-admin.sock
proc_taskapi hostile --set server.workers=2 --set server.threads=8 \
  --set server.request_timeout_ms=6000 --set "server.admin_listen=$admin"
master=$PROC_PID
sock=$PROC_SOCK
wait_for 10 test -S "$admin" || diag "no admin socket"
proc_nginx hostile "$sock" 32
url=$PROC_URL
wait_for 10 test "$(workers_of "$master" | wc -l)" -ge 3 || diag "workers did not start"
pids_before=$(workers_of "$master" | tr '\n' ' ')

# probe SECONDS OUT — asks /healthz through nginx every 0.25 s for SECONDS; writes "N
# ok" (answered 200 within 1 s) to OUT. Runs in the background.
probe() {
  local until=$((SECONDS + $1)) n=0 good=0 code
  while [ "$SECONDS" -lt "$until" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url/healthz" || true)
    n=$((n + 1))
    [ "$code" = 200 ] && good=$((good + 1))
    sleep 0.25
  done
  echo "$n $good" >"$2"
}

deaths() { grep -c 'killed by signal\|exited with status' "$E2E_TMP/hostile.log" || true; }

# ---- 1. twelve poisoned records under load ------------------------------------------
python3 - "$E2E_DIR" "$sock" >"$E2E_TMP/poison.out" <<'PY' &
import struct, sys, time
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
time.sleep(2)
closed = 0
for i in range(12):
    lengths = (0xFFFFFFFE, 0x80000000) if i % 2 == 0 else (0xC0000000, 0xC0000000)
    s = fp.connect(sys.argv[2])
    s.sendall(fp.begin() + fp.record(fp.PARAMS, struct.pack(">II", *lengths) + b"x" * 32))
    if fp.closed_within(s, 1.0) is not None:
        closed += 1
    s.close()
    time.sleep(0.05)
print("closed", closed)
PY
poison=$!
proc_wrk 6s 16 "$url/healthz"
wait "$poison"
read -r _ closed <"$E2E_TMP/poison.out"
check "12 poisoned records: each connection closed at once ($closed of 12)" test "${closed:-0}" = 12
check "meanwhile wrk got no error and no non-2xx ($WRK_REQUESTS requests, $WRK_ERRORS errors, $WRK_NON2XX non-2xx)" \
  test "$WRK_REQUESTS" -gt 0 -a "$WRK_ERRORS" = 0 -a "$WRK_NON2XX" = 0
check "no worker died ($(deaths) deaths logged)" test "$(deaths)" = 0

# ---- 2. forty tricklers ---------------------------------------------------------------
probe 10 "$E2E_TMP/probe2" &
prober=$!
python3 - "$E2E_DIR" "$sock" >"$E2E_TMP/trickle.out" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
payload = fp.request()
conns = [fp.connect(sys.argv[2]) for _ in range(40)]
alive = list(conns)
start = time.time()
cut_at = []
i = 0
while alive and time.time() - start < 12:
    for c in list(alive):
        try:
            c.send(payload[i:i + 1])
        except OSError:
            alive.remove(c)
            cut_at.append(time.time() - start)
    i += 1
    time.sleep(2)
for c in list(alive):
    if fp.closed_within(c, 0.1) is not None:
        alive.remove(c)
        cut_at.append(time.time() - start)
print("cut", len(cut_at), "of", len(conns), "latest_s", int(max(cut_at) if cut_at else -1))
PY
wait "$prober"
read -r n good <"$E2E_TMP/probe2"
check "40 tricklers: /healthz answered 200 within 1 s $good of $n times" test "$n" -gt 0 -a "$good" = "$n"
read -r _ cut _ total _ latest <"$E2E_TMP/trickle.out"
check "the tricklers are cut off by request_timeout_ms (6 s): $cut of $total, the last after ${latest} s" \
  test "$cut" = "$total"

# ---- 3. 300 MB of params ----------------------------------------------------------------
python3 - "$E2E_DIR" "$sock" >"$E2E_TMP/params.out" <<'PY'
import socket, struct, sys
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
s = fp.blocking(fp.connect(sys.argv[2]), 3)
chunk = fp.record(fp.PARAMS, b"\x01\x7f" + b"x" * 65533)
sent = 0
try:
    s.sendall(fp.begin())
    while sent < 300 * 1024 * 1024:
        s.sendall(chunk)
        sent += len(chunk)
except OSError:
    pass
print("sent", sent)
PY
read -r _ sent <"$E2E_TMP/params.out"
check "300 MB of PARAMS: the connection is closed after $sent bytes (< 2 MB)" test "$sent" -lt 2000000
rss_max=0
for pid in $(workers_of "$master"); do
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$rss_max" ] && rss_max=$rss
done
check "worker RSS stays small: largest ${rss_max} KiB (< 32768)" test "$rss_max" -gt 0 -a "$rss_max" -lt 32768

# ---- 4. three thousand silent connections ---------------------------------------------
probe 8 "$E2E_TMP/probe4" &
prober=$!
python3 - "$E2E_DIR" "$sock" >"$E2E_TMP/silent.out" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
fp.raise_fd_limit(4000)
conns = []
for _ in range(3000):
    try:
        conns.append(fp.connect(sys.argv[2]))
    except OSError:
        break
opened = len(conns)
# idle_timeout_ms is 10 s; give the sweep 4 s more.
deadline = time.time() + 14
closed = 0
for c in conns:
    t = fp.closed_within(c, max(0.01, deadline - time.time()))
    if t is not None:
        closed += 1
    c.close()
print("opened", opened, "closed", closed)
PY
wait "$prober"
read -r n good <"$E2E_TMP/probe4"
check "3,000 silent connections: /healthz answered 200 within 1 s $good of $n times" test "$n" -gt 0 -a "$good" = "$n"
read -r _ opened _ closed <"$E2E_TMP/silent.out"
check "all $opened silent connections are closed by the idle timeout or for new ones ($closed)" \
  test "$opened" = 3000 -a "$closed" = 3000
admin_get "$admin" /status
read -r idle evicted rejected slow < <(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["intake_closed"]; print(c["idle"], c["evicted"], c["rejected"], c["slow"])' "$ADMIN_BODY" 2>/dev/null || echo x x x x)
check "/status counts them: idle $idle + evicted $evicted >= 3000; rejected $rejected >= 13; slow $slow >= 40" \
  test "$((idle + evicted))" -ge 3000 -a "$rejected" -ge 13 -a "$slow" -ge 40

check "no worker died in all this ($(deaths) deaths logged)" test "$(deaths)" = 0
check "the same worker processes serve as at the start" test "$(workers_of "$master" | tr '\n' ' ')" = "$pids_before"
lines=$(grep -c 'FastCGI connections closed unserved' "$E2E_TMP/hostile.log" || true)
check "thousands of closes took $lines log lines (at most one per worker per 10 s)" test "$lines" -le 20

# ---- 5. the connection cap, with connections that started a request ------------------
proc_taskapi capped --set server.workers=1 --set server.threads=2 --set server.max_connections=50
python3 - "$E2E_DIR" "$PROC_SOCK" >"$E2E_TMP/cap.out" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
fp.raise_fd_limit(1000)
held = [fp.connect(sys.argv[2]) for _ in range(50)]
for c in held:
    c.sendall(fp.begin())
time.sleep(0.3)
refused = 0
for _ in range(200):
    c = fp.connect(sys.argv[2])
    if fp.closed_within(c, 1.0) is not None:
        refused += 1
    c.close()
print("refused", refused)
PY
read -r _ refused <"$E2E_TMP/cap.out"
check "at server.max_connections (50 busy) each of 200 new connections is closed at once ($refused)" test "$refused" = 200
lines=$(grep -c 'refused at server.max_connections' "$E2E_TMP/capped.log" || true)
check "... logged in $lines line (once per interval, not 200)" test "$lines" = 1
