#!/usr/bin/env bash
# 21-intake-bounds: the FastCGI intake hands a connection to a thread only when one
# whole request within the caps waits in it. Records that would make libfcgi abort or
# allocate past a cap are closed before any thread reads them; a request arriving in
# pieces is served once whole and holds no thread meanwhile; silent and trickling peers
# are cut at server.idle_timeout_ms / request_timeout_ms; at server.max_connections a
# silent connection makes room for a new one, or the new one is closed at once. Every
# close is counted in /status and logged once per interval.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

admin=$E2E_TMP/intake-admin.sock
proc_taskapi intake --set server.workers=1 --set server.threads=2 \
  --set server.idle_timeout_ms=1500 --set server.request_timeout_ms=2500 \
  --set server.max_connections=40 --set server.max_params_bytes=4096 \
  --set server.max_records=64 --set server.max_body_bytes=1000 \
  --set "server.admin_listen=$admin"
master=$PROC_PID
wait_for 10 test -S "$admin" || diag "no admin socket"
worker_before=$(workers_of "$master" | head -n 1)

python3 - "$E2E_DIR" "$PROC_SOCK" >"$E2E_TMP/intake.out" <<'PY'
import struct, sys, threading, time
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
sock = sys.argv[2]
fp.raise_fd_limit(512)

def say(name, value):
    print(name, value, flush=True)

# A request in many small records, sent in pieces: served once whole.
data = fp.request(b"POST", b"/tasks/", b'{"title":"in pieces"}', record_size=7)
s = fp.connect(sock)
for i in range(0, len(data), 40):
    s.sendall(data[i:i + 40])
    time.sleep(0.02)
say("pieces_status", fp.status_of(fp.read_answer(s)))
s.close()

# Records that make libfcgi abort, or that no web server sends: closed at once.
hostile = {
    "len_7ffffffe": fp.begin() + fp.record(fp.PARAMS, struct.pack(">II", 0xFFFFFFFE, 0x80000000)),
    "len_40000000x2": fp.begin() + fp.record(fp.PARAMS, struct.pack(">II", 0xC0000000, 0xC0000000)),
    "params_over_cap": fp.begin() + fp.record(fp.PARAMS, fp.pair(b"HTTP_X", b"x" * 5000)[:4200]),
    "records_over_cap": fp.begin() + fp.record(fp.PARAMS, fp.params_stream()) + fp.record(fp.PARAMS)
                        + b"".join(fp.record(fp.STDIN, b"x") for _ in range(70)),
    "management": fp.record(fp.GET_VALUES, fp.pair(b"FCGI_MAX_CONNS", b""), req_id=0),
    "version_2": fp.record(fp.BEGIN, struct.pack(">HB5x", 1, 1), version=2),
    "pair_past_end": fp.begin() + fp.record(fp.PARAMS, b"\x0a\x0aab") + fp.record(fp.PARAMS),
}
for name, payload in hostile.items():
    s = fp.connect(sock)
    s.sendall(payload)
    t = fp.closed_within(s, 1.0)
    say("closed_" + name, "yes" if t is not None else "no")
    s.close()
say("after_hostile", fp.ask(sock)[0])

# A body over server.max_body_bytes without CONTENT_LENGTH: answered 413 once the cap is
# passed, without waiting for the rest of it.
s = fp.connect(sock)
body = b"x" * 1500
s.sendall(fp.begin() + fp.record(fp.PARAMS, fp.params_stream(b"POST", b"/tasks/")) + fp.record(fp.PARAMS)
          + fp.record(fp.STDIN, body))
say("body_over_cap", fp.status_of(fp.read_answer(s, 3.0)))
s.close()

# Two tricklers (one byte every 0.3 s) on a worker with two threads: real requests go on.
trick = [fp.connect(sock) for _ in range(2)]
payload = fp.request()
stop = threading.Event()
def trickle(c):
    for b in payload[:60]:
        if stop.is_set():
            return
        try:
            c.send(bytes([b]))
        except OSError:
            return
        time.sleep(0.3)
threads = [threading.Thread(target=trickle, args=(c,)) for c in trick]
for t in threads:
    t.start()
time.sleep(0.5)
answers = [fp.ask(sock, timeout=1.0) for _ in range(5)]
say("during_trickle_ok", sum(1 for st, t in answers if st == 200 and t < 1.0))
cut = [fp.closed_within(c, 6.0) for c in trick]
stop.set()
say("tricklers_cut", sum(1 for t in cut if t is not None))
for t in threads:
    t.join()

# Silent connections: closed after idle_timeout_ms (1.5 s), not before.
silent = [fp.connect(sock) for _ in range(20)]
time.sleep(0.5)
say("silent_open_early", sum(1 for c in silent if not fp.is_closed_now(c)))
cut = [fp.closed_within(c, 4.0) for c in silent]
say("silent_cut", sum(1 for t in cut if t is not None))

# At the cap (40), with every connection silent: a new one gets in, evicting one.
silent = [fp.connect(sock) for _ in range(40)]
time.sleep(0.2)
say("at_cap_silent_served", fp.ask(sock, timeout=2.0)[0])

# At the cap with every connection in the middle of a request: the new one is closed at once.
for c in silent:
    c.close()
time.sleep(0.3)
busy = [fp.connect(sock) for _ in range(40)]
for c in busy:
    c.sendall(fp.begin())
time.sleep(0.3)
extra = fp.connect(sock)
say("at_cap_busy_refused", "yes" if fp.closed_within(extra, 1.0) is not None else "no")
for c in busy:
    c.close()
time.sleep(0.3)
say("after_all", fp.ask(sock)[0])
PY

# Senders that wait for the socket to drain, on an instance with the default body cap.
proc_taskapi drain --set server.workers=1 --set server.threads=2 --set server.request_timeout_ms=2500
python3 - "$E2E_DIR" "$PROC_SOCK" >>"$E2E_TMP/intake.out" <<'PY'
import select, sys, time
sys.path.insert(0, sys.argv[1])
import fcgi_peer as fp
sock = sys.argv[2]

def say(name, value):
    print(name, value, flush=True)

# A sender that writes the next record only once the socket reports room (Apache's
# mod_proxy_fcgi: POLLOUT, which a unix socket reports only while under a quarter of
# the sender's buffer is in flight): a 60 KB body is served, within a few seconds.
body = b'{"title":"drained"' + b" " * 60000 + b"}"
data = fp.request(b"POST", b"/tasks/", body, record_size=8192)
s = fp.connect(sock)
s.setblocking(False)
start, sent, stuck = time.time(), 0, False
while sent < len(data):
    if not select.select([], [s], [], 8)[1]:
        stuck = True
        break
    try:
        sent += s.send(data[sent:sent + 8200])
    except OSError:  # closed at the deadline: never served
        stuck = True
        break
s.setblocking(True)
status = fp.status_of(fp.read_answer(s, 8.0)) if not stuck else 0
say("drained_sender", "%d_%s" % (status, "fast" if time.time() - start < 6 else "slow"))
s.close()

# Three senders that stop after 20 KB of body: at most a quarter of the threads (here
# one of two) serves such requests; the other answers meanwhile, and all three are cut
# at request_timeout_ms.
stalled = []
for _ in range(3):
    c = fp.connect(sock)
    c.sendall(fp.request(b"POST", b"/tasks/", b"x" * 40000, record_size=8192)[:20500])
    stalled.append(c)
time.sleep(2.2)  # found stalled at a sweep (once a second) after a second without news
answers = [fp.ask(sock, timeout=1.0) for _ in range(3)]
say("during_stalled_ok", sum(1 for st, t in answers if st == 200 and t < 1.0))
cut = [fp.closed_within(c, 5.0) for c in stalled]
say("stalled_cut", sum(1 for t in cut if t is not None))

PY

declare -A got
while read -r k v; do got[$k]=$v; done <"$E2E_TMP/intake.out"

check "a request in 7-byte records sent in pieces is served once whole (${got[pieces_status]:-none})" \
  test "${got[pieces_status]:-}" = 201
for name in len_7ffffffe len_40000000x2 params_over_cap records_over_cap management version_2 pair_past_end; do
  check "hostile records ($name): the connection is closed at once" test "${got[closed_$name]:-}" = yes
done
check "taskapi answers after them (${got[after_hostile]:-none})" test "${got[after_hostile]:-}" = 200
check "no worker aborted: same worker pid, no death in the log" \
  test "$(workers_of "$master" | head -n 1)" = "$worker_before" -a \
  "$(grep -c 'killed by signal\|exited with status' "$E2E_TMP/intake.log")" = 0
check "a body over max_body_bytes without CONTENT_LENGTH: 413 without waiting for the rest (${got[body_over_cap]:-none})" \
  test "${got[body_over_cap]:-}" = 413
check "2 tricklers on 2 threads: 5 of 5 real requests answered 200 within 1 s (${got[during_trickle_ok]:-none})" \
  test "${got[during_trickle_ok]:-}" = 5
check "the tricklers are cut at request_timeout_ms (${got[tricklers_cut]:-none} of 2)" test "${got[tricklers_cut]:-}" = 2
check "a sender that waits for the socket to drain gets its 60 KB request served (${got[drained_sender]:-none})" \
  test "${got[drained_sender]:-}" = 201_fast
check "3 senders stalled mid-body on 2 threads: 3 of 3 real requests answered within 1 s (${got[during_stalled_ok]:-none})" \
  test "${got[during_stalled_ok]:-}" = 3
check "... and the stalled senders are cut at request_timeout_ms (${got[stalled_cut]:-none} of 3)" \
  test "${got[stalled_cut]:-}" = 3
check "silent connections stay open before idle_timeout_ms (${got[silent_open_early]:-none} of 20)" \
  test "${got[silent_open_early]:-}" = 20
check "... and are closed after it (${got[silent_cut]:-none} of 20)" test "${got[silent_cut]:-}" = 20
check "at max_connections, all silent: a new request is served (${got[at_cap_silent_served]:-none})" \
  test "${got[at_cap_silent_served]:-}" = 200
check "at max_connections, none silent: the new connection is closed at once" \
  test "${got[at_cap_busy_refused]:-}" = yes
check "taskapi answers at the end (${got[after_all]:-none})" test "${got[after_all]:-}" = 200

admin_get "$admin" /status
closed=$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["intake_closed"]; print(c["idle"], c["slow"], c["rejected"], c["refused"], c["evicted"])' "$ADMIN_BODY" 2>/dev/null)
read -r idle slow rejected refused evicted <<<"${closed:-x x x x x}"
check "/status counts the closes: idle $idle >= 20, slow $slow >= 2, rejected $rejected >= 7, refused $refused >= 1, evicted $evicted >= 1" \
  test "$idle" -ge 20 -a "$slow" -ge 2 -a "$rejected" -ge 7 -a "$refused" -ge 1 -a "$evicted" -ge 1
lines=$(grep -c 'FastCGI connections closed unserved' "$E2E_TMP/intake.log" || true)
check "closes are logged once per 10 s interval, not once each ($lines lines for $((idle + slow + rejected + refused + evicted)) closes)" \
  test "$lines" -ge 1 -a "$lines" -le 3
