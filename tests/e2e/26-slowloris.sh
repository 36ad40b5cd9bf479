#!/usr/bin/env bash
# 26-slowloris: 1,100 slow HTTP bodies through nginx do not take the service down.
# 1,100 connections (from 127.0.0.1, where the site's per-address limits count nobody in
# the private stack: this is the many-addresses attack, which only the timeouts and
# worker_connections answer) each send the head of a POST /tasks/ announcing a 60,000-byte
# body and then one byte of it every 2 s for 15 s, and then nothing. Asserts:
#  - nginx holds all of them: none is refused or dropped during the hold (before, with
#    512 worker_connections per nginx worker, the surplus was accepted and dropped at
#    once, over and over: "worker_connections are not enough");
#  - GET /healthz on a new connection answers 200 within 1 s every second, during the
#    hold and after it (before: it failed from the 5th second to the end);
#  - once they stop sending, nginx cuts every one of them after client_body_timeout
#    (10 s): closed 8-20 s after its last byte, without an answer, and the access log has
#    a 408 line for each (before: the default 60 s held them on);
#  - not one of the bodies reached taskapi (no task was created), and the error log has
#    no "worker_connections are not enough".
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

N=1100
want=$((N + 400))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then
  not_ok "this shell may open $want files (ulimit -Hn is $hard): raise the hard limit to run this test"
  exit 0
fi
[ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$want" ] && ulimit -n "$want"
per_worker=$(sed -nE 's/^\s*worker_connections\s+([0-9]+);.*/\1/p' "$NGX_CONF")
workers=$(sed -nE 's/^\s*worker_processes\s+([0-9]+);.*/\1/p' "$NGX_CONF")
diag "the stack's nginx: $workers workers x $per_worker worker_connections"

tag=e2e26-$$
tasks_before=$(sql 'SELECT COUNT(*) FROM tasks')
errors_before=$(grep -c 'worker_connections are not enough' "$NGX_LOG" || true)
out=$(python3 - "${TASKAPI_URL#http://}" "$N" 15 25 "$tag" <<'PY'
# slow clients HOST:PORT N HOLD AFTER TAG: N slow-body POSTs held HOLD seconds (a byte
# of body every 2 s; one the server closes is opened again, as an attacker would), then
# silent until the server closes them (at most AFTER s more); meanwhile GET /healthz on a
# new connection every second, bounded to 1 s. Prints one JSON summary.
import asyncio, json, sys, time
host, port = sys.argv[1].rsplit(":", 1)
port, n, hold, after, tag = int(port), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
HEAD = ("POST /tasks/?%s HTTP/1.1\r\nHost: taskapi.example.org\r\nContent-Type: application/json\r\n"
        "Content-Length: 60000\r\n\r\n[" % tag).encode()
res = {"opened": 0, "reopened": 0, "connect_failed": 0, "closed_in_hold": 0, "answered_in_hold": {},
       "closed_after": 0, "answered_after": {}, "open_at_end": 0, "close_s": [],
       "probes": 0, "probes_ok": 0, "probe_fail_s": []}
t0 = time.monotonic()
hold_end = None

async def slow(i):
    # A closed connection is opened again while the hold lasts: the attacker keeps N.
    while await slow1(i) and time.monotonic() < hold_end:
        res["reopened"] += 1
        await asyncio.sleep(0.2)

async def slow1(i):
    """True when the server closed the connection during the hold."""
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
        w.write(HEAD)
        await w.drain()
    except Exception:
        res["connect_failed"] += 1
        return True
    res["opened"] += 1
    last = time.monotonic()
    reader = asyncio.ensure_future(r.read(4096))
    try:
        while time.monotonic() < hold_end:
            done, _ = await asyncio.wait({reader}, timeout=2)
            if done:
                data = reader.result()
                res["closed_in_hold"] += 1
                k = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
                res["answered_in_hold"][k] = res["answered_in_hold"].get(k, 0) + 1
                return True
            w.write(b" ")
            await w.drain()
            last = time.monotonic()
        try:
            data = await asyncio.wait_for(reader, hold_end + after - time.monotonic())
        except asyncio.TimeoutError:
            res["open_at_end"] += 1
            return
        res["closed_after"] += 1
        res["close_s"].append(round(time.monotonic() - last, 1))
        k = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
        res["answered_after"][k] = res["answered_after"].get(k, 0) + 1
    except (ConnectionError, OSError):
        if time.monotonic() < hold_end:
            res["closed_in_hold"] += 1
            return True
        res["closed_after"] += 1
    finally:
        w.close()

async def probe():
    t = time.monotonic() - t0
    res["probes"] += 1
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
        w.write(b"GET /healthz HTTP/1.1\r\nHost: taskapi.example.org\r\nConnection: close\r\n\r\n")
        data = await asyncio.wait_for(r.read(), 1)
        w.close()
        if data.startswith(b"HTTP/1.1 200"):
            res["probes_ok"] += 1
            return
    except Exception:
        pass
    res["probe_fail_s"].append(round(t, 1))

async def main():
    global hold_end
    hold_end = time.monotonic() + hold + 5
    tasks = []
    for i in range(n):  # open them over ~2 s
        tasks.append(asyncio.ensure_future(slow(i)))
        if i % 100 == 99:
            await asyncio.sleep(0.2)
    hold_end = time.monotonic() + hold
    probes = []
    while time.monotonic() < hold_end + after:
        probes.append(asyncio.ensure_future(probe()))
        await asyncio.sleep(1)
        if all(t.done() for t in tasks) and time.monotonic() > hold_end:
            break
    await asyncio.gather(*tasks, *probes)
    cs = sorted(res["close_s"])
    res["close_s"] = {"min": cs[0], "max": cs[-1]} if cs else {"min": -1, "max": -1}
    print(json.dumps(res))

asyncio.run(main())
PY
)
diag "slow clients: $out"
# j EXPRESSION — EXPRESSION over the summary r is true.
j() { python3 -c 'import json, sys; r = json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' "$out" "$1"; }
check "all $N slow bodies were opened and held: none refused, cut or answered during the 15 s hold" \
  j "r['opened'] == $N and r['reopened'] == 0 and r['closed_in_hold'] == 0 and r['connect_failed'] == 0"
check "GET /healthz on a new connection answered 200 within 1 s at every probe, one a second (at least 20 probes)" \
  j "r['probes'] >= 20 and r['probes_ok'] == r['probes']"
check "once they stopped sending, nginx closed all $N without an answer, 8-20 s after the last byte (client_body_timeout 10 s)" \
  j "r['closed_after'] == $N and r['answered_after'] == {'none': $N} and r['open_at_end'] == 0 and 8 <= r['close_s']['min'] and r['close_s']['max'] <= 20"
sleep 1
lines=$(grep -c "\"POST /tasks/?$tag HTTP/1.1\" 408 " "$NGX_DIR/access.log" || true)
check "the access log has $N lines 'POST /tasks/?$tag ... 408' ($lines)" test "$lines" = "$N"
errors_after=$(grep -c 'worker_connections are not enough' "$NGX_LOG" || true)
check "nginx's error log has no new 'worker_connections are not enough' ($((errors_after - errors_before)))" \
  test "$errors_after" = "$errors_before"
check "no slow body reached taskapi: still $tasks_before tasks" test "$(sql 'SELECT COUNT(*) FROM tasks')" = "$tasks_before"
http GET /healthz
check "afterwards GET /healthz answers 200 ($STATUS)" test "$STATUS" = 200
