#!/usr/bin/env bash
# 23-admin-bounds: no peer of the admin socket can hold /status from the others.
# For 9 s, 10 tricklers (a FastCGI request that never ends, one byte every 0.5 s:
# faster than any per-read timeout) and 40 silent connections keep reconnecting to
# server.admin_listen; at 4 s a burst of 40 more silent ones passes the 64-connection
# cap; one request with a 40 KB header is sent. Meanwhile /status is asked 10 times: each answer
# is a 200 within 1 s. The attacker observes the server closing every trickler and
# every silent connection (none lives past the 2 s request deadline, with slack), the
# oversized request closed without an answer; the log reports all this in a bounded
# number of lines (one per 10 s interval, never one per connection); the admin process
# is still the same one and answers afterwards.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

asock=$E2E_TMP/bounds-admin.sock
proc_taskapi bounds --set server.workers=1 --set server.threads=2 --set "server.admin_listen=$asock"
master=$PROC_PID
log=$E2E_TMP/bounds.log
wait_for 10 test -S "$asock" || diag "no admin socket: $(tail -n 5 "$log")"
up() { admin_get "$asock" /status && [ "$ADMIN_STATUS" = 200 ]; }
check "the admin socket answers /status before the attack" wait_for 10 up
admin_pid() { ps --ppid "$master" -o pid=,args= | awk '/admin process/ { print $1 }'; }
admin_before=$(admin_pid)
lines_before=$(grep -c 'admin socket:' "$log" || true)

python3 - "$asock" 10 40 40 9 "$E2E_TMP/attack.json" >"$E2E_TMP/attack.out" 2>&1 <<'PY' &
import errno, json, select, socket, sys, time
path, n_trickle, n_silent, n_burst, duration, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
BEGIN = bytes([1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
# An FCGI_PARAMS record announcing 65535 bytes that come one at a time: never whole.
TRICKLE = BEGIN + bytes([1, 4, 0, 1, 0xFF, 0xFF, 0, 0]) + b"x" * 4096

def nv(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else (n | 0x80000000).to_bytes(4, "big")
    return ln(len(name)) + ln(len(value)) + name + value

def record(t, content):
    return bytes([1, t, 0, 1, len(content) >> 8, len(content) & 255, 0, 0]) + content

start = time.monotonic()
conns, waiting = {}, []
life = {"trickle": [], "silent": [], "burst": []}
refused = 0

def now():
    return time.monotonic() - start

def open_conn(kind):
    global refused
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
    except OSError:  # a unix socket's full listen queue says EAGAIN: no connection
        refused += 1
        s.close()
        waiting.append((now() + 0.2, kind))
        return
    conns[s] = {"kind": kind, "t0": now(), "pos": 0, "next": now()}

def closed(s):
    c = conns.pop(s)
    life[c["kind"]].append(round(now() - c["t0"], 3))
    s.close()
    if c["kind"] != "burst":
        waiting.append((now() + 0.2, c["kind"]))  # come back, as an attacker would

# The oversized request: valid FastCGI, REQUEST_URI=/status, one 40 KB header.
params = nv(b"REQUEST_METHOD", b"GET") + nv(b"REQUEST_URI", b"/status") + nv(b"HTTP_X_BIG", b"b" * 40000)
big_req = record(1, bytes([0, 1, 0, 0, 0, 0, 0, 0])) + record(4, params) + record(4, b"") + record(5, b"")
big = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
big_result = {"answered_bytes": 0, "closed": False, "ms": None, "error": None}

for _ in range(n_trickle):
    open_conn("trickle")
for _ in range(n_silent):
    open_conn("silent")
big_sent = burst_sent = False
while now() < duration:
    t = now()
    if not big_sent and t > 1.0:
        big_sent = True
        big.settimeout(5)
        b0 = time.monotonic()
        for _ in range(20):
            try:
                big.connect(path)
                break
            except OSError as e:
                big_result["error"] = str(e)
                time.sleep(0.05)
        try:
            big.sendall(big_req)
        except OSError as e:
            big_result["error"] = str(e)
        try:
            while True:
                d = big.recv(65536)
                if not d:
                    break
                big_result["answered_bytes"] += len(d)
            big_result["closed"] = True
        except socket.timeout:
            pass
        except OSError as e:  # a reset is a close too
            big_result["closed"] = True
            big_result["error"] = str(e)
        big_result["ms"] = int((time.monotonic() - b0) * 1000)
        big.close()
    if not burst_sent and t > 4.0:
        burst_sent = True
        for _ in range(n_burst):
            open_conn("burst")
    for s, c in list(conns.items()):
        if c["kind"] == "trickle" and t >= c["next"]:
            try:
                s.send(TRICKLE[c["pos"] % len(TRICKLE):c["pos"] % len(TRICKLE) + 1])
                c["pos"] += 1
                c["next"] = t + 0.5
            except (BlockingIOError, InterruptedError):
                c["next"] = t + 0.5
            except OSError:
                closed(s)
    for when, kind in list(waiting):
        if when <= t:
            waiting.remove((when, kind))
            open_conn(kind)
    r, _, _ = select.select(list(conns), [], [], 0.05)
    for s in r:
        try:
            d = s.recv(4096)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError:
            d = b""
        if not d:
            closed(s)
open_ages = {"trickle": [], "silent": [], "burst": []}
for s, c in conns.items():
    open_ages[c["kind"]].append(round(now() - c["t0"], 3))
json.dump({"life": life, "open": open_ages, "refused": refused, "big": big_result}, open(out, "w"))
PY
attacker=$!
at_exit "kill $attacker 2>/dev/null"

sleep 1.5
answers=0
slowest=0
for _ in 1 2 3 4 5 6 7 8 9 10; do
  admin_get "$asock" /status
  if [ "$ADMIN_STATUS" = 200 ] && [ "$ADMIN_MS" -le 1000 ]; then answers=$((answers + 1)); fi
  [ "$ADMIN_MS" -le "$slowest" ] || slowest=$ADMIN_MS
  sleep 0.5
done
check "during the attack /status answered 200 within 1 s 10 times out of 10 (got $answers; slowest ${slowest} ms)" \
  test "$answers" = 10
wait "$attacker" || diag "$(tail -n 5 "$E2E_TMP/attack.out")"

summary() { python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
print(eval(sys.argv[2]))' "$E2E_TMP/attack.json" "$1" 2>/dev/null || echo "?"; }
diag "attack: $(summary '{k: (len(v), max(v or [0])) for k, v in j["life"].items()}') closed (count, longest s); still open (ages): $(summary 'j["open"]'); refused connects: $(summary 'j["refused"]')"
# At the deadline (2 s) give or take a poll tick and a loaded machine; the burst's
# evictions close some earlier, never later.
check "tricklers were closed by the server: $(summary 'len(j["life"]["trickle"])') (>= 10 at the 2 s deadline), none open past 3.5 s" \
  test "$(summary 'len([x for x in j["life"]["trickle"] if 1.8 <= x <= 3.5]) >= 10 and max(j["life"]["trickle"] + j["open"]["trickle"]) <= 3.5')" = True
check "silent connections were closed by the server: $(summary 'len(j["life"]["silent"])') (>= 40 at the deadline), none open past 3.5 s" \
  test "$(summary 'len([x for x in j["life"]["silent"] if 1.8 <= x <= 3.5]) >= 40 and max(j["life"]["silent"] + j["open"]["silent"]) <= 3.5')" = True
check "the burst past the 64-connection cap closed the oldest at once: $(summary 'len([x for x in j["life"]["silent"] + j["life"]["trickle"] + j["life"]["burst"] if x < 1.8])') closed before the deadline (>= 20)" \
  test "$(summary 'len([x for x in j["life"]["silent"] + j["life"]["trickle"] + j["life"]["burst"] if x < 1.8]) >= 20')" = True
check "the 40 KB request was closed without an answer ($(summary 'j["big"]'))" \
  test "$(summary 'j["big"]["closed"] and j["big"]["answered_bytes"] == 0')" = True

# The first report comes with the first close; the next one an interval later.
reported() { grep 'admin socket:' "$log" | grep -q 'request deadline'; }
wait_for 12 reported || true
lines=$(($(grep -c 'admin socket:' "$log" || true) - lines_before))
check "the log reports it in 1 to 2 lines (one per 10 s interval), not one per connection (got $lines)" \
  test "$lines" -ge 1 -a "$lines" -le 2
check "the report names the deadline, the size cap and the connection cap" \
  bash -c "grep 'admin socket:' '$log' | grep -q 'request deadline' &&
    grep 'admin socket:' '$log' | grep -q 'more than the request size cap' &&
    grep 'admin socket:' '$log' | grep -q 'connection cap was reached'"
admin_get "$asock" /metrics
check "afterwards /metrics answers 200 ($ADMIN_STATUS) from the same admin process ($admin_before -> $(admin_pid))" \
  test "$ADMIN_STATUS" = 200 -a "$admin_before" = "$(admin_pid)"
# A clean stop, then the log holds no sanitizer report (an ASan build writes them there,
# leaks at exit included).
check "taskapi stops cleanly on SIGTERM" stop_pid taskapi-bounds "$master" TERM 20
check "no sanitizer report in its log" bash -c "! grep -qE 'ERROR: (Address|Leak|Memory)Sanitizer|runtime error:' '$log'"
