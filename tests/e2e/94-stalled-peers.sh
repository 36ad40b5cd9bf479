#!/usr/bin/env bash
# 94-stalled-peers: FastCGI peers that connect and then say nothing, or stop in the
# middle of a record, do not take taskapi's threads away from real requests (a request
# that has not fully arrived holds no thread), and are cut off after
# server.request_timeout_ms. A record with hostile lengths is refused before libfcgi
# reads it (libfcgi aborts when it cannot allocate them): no worker is lost.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

proc_taskapi stall --set server.workers=1 --set server.threads=2 --set server.request_timeout_ms=1000
master=$PROC_PID

python3 - "$PROC_SOCK" >"$E2E_TMP/stall" <<'PY'
import socket, struct, subprocess, sys, time
sock_path = sys.argv[1]

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s

def record(rtype, content, req_id=1):
    return struct.pack(">BBHHBx", 1, rtype, req_id, len(content), 0) + content

def pair(name, value):
    def ln(n):
        return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return ln(len(name)) + ln(len(value)) + name + value

def request(path):
    params = b"".join(pair(k, v) for k, v in [(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", path)])
    return (record(1, struct.pack(">HB5x", 1, 0)) + record(4, params) + record(4, b"") + record(5, b""))

def ask(path):
    """One real request; returns (seconds, first line)."""
    start = time.time()
    s = connect()
    s.settimeout(10)
    s.sendall(request(path))
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"\x01\x03\x00\x01" in data:  # FCGI_END_REQUEST
            break
    s.close()
    body = data[8:].split(b"\r\n")[0]
    return time.time() - start, body.decode("latin-1")

silent = [connect() for _ in range(50)]                  # connect, then nothing
partial = [connect() for _ in range(4)]                  # half a record header
for s in partial:
    s.sendall(b"\x01\x01\x00")
time.sleep(0.2)

times = [ask(b"/healthz") for _ in range(10)]
slowest = max(t for t, _ in times)
statuses = {line for _, line in times}
print("served", len(times), "slowest_ms", int(slowest * 1000), "statuses", "|".join(sorted(statuses)).replace(" ", "_"))

# The partial ones are cut off after request_timeout_ms (1 s, swept once a second).
time.sleep(2.5)
closed = 0
for s in partial:
    s.settimeout(0.5)
    try:
        if s.recv(1) == b"":
            closed += 1
    except (ConnectionResetError, BrokenPipeError):
        closed += 1
    except socket.timeout:
        pass
print("partial_closed", closed, "of", len(partial))
t, line = ask(b"/healthz")
print("after", line.replace(" ", "_"), int(t * 1000))

hostile = connect()                                      # CVE-2025-23016-style lengths
hostile.sendall(record(1, struct.pack(">HB5x", 1, 0)) +
                record(4, struct.pack(">II", 0xFFFFFFF0, 0xFFFFFFF0) + b"x" * 16))
time.sleep(1.5)
t, line = ask(b"/healthz")
print("hostile", line.replace(" ", "_"), int(t * 1000))
PY
read -r _ served _ slowest _ statuses <"$E2E_TMP/stall"
# Silent peers and peers stopped mid-record cost nothing: they wait in epoll, no thread
# reads from them. The bound is liveness only, with a wide margin (1 ms is normal).
check "50 silent + 4 half-record peers on 2 threads: $served real requests served, slowest ${slowest} ms (< 1000)" \
  test "$served" -eq 10 -a "$slowest" -lt 1000
check "every real request answered 200 ($statuses)" test "$statuses" = "Status:_200_OK"
read -r _ closed _ total < <(sed -n 2p "$E2E_TMP/stall")
check "peers stalled mid-record are cut off after request_timeout_ms ($closed of $total)" test "$closed" = "$total"
read -r _ line _ < <(sed -n 3p "$E2E_TMP/stall")
check "taskapi still answers afterwards ($line)" test "$line" = "Status:_200_OK"
read -r _ line _ < <(sed -n 4p "$E2E_TMP/stall")
check "after a record with 4 GiB lengths taskapi still answers ($line)" test "$line" = "Status:_200_OK"
check "the master is alive" kill -0 "$master"
check "no worker was lost to it" \
  test "$(grep -c 'killed by signal\|exited with status' "$E2E_TMP/stall.log")" = 0
