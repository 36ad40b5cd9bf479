#!/usr/bin/env bash
# 88-descriptors: every idle connection nginx keeps is a descriptor in taskapi
# (nginx/taskapi.conf keeps up to 256 per nginx worker), so taskapi raises its soft
# limit on open files to the hard one at start, and serves on descriptors past 1023,
# where a select()-based library would overflow its fd_set (libfcgi uses poll() in
# its accept path since 2.4.1.1). Started with a soft limit of 1024, a worker holds 1,100 idle
# connections, then answers two requests on one kept connection above them, and more
# on new connections after half of the idle ones went away.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"

hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt 2048 ]; then
  diag "the hard limit on open files is $hard here: cannot hold 1,100 connections past 1024"
  check "skipped: hard open-file limit $hard < 2048" true
  exit 0
fi
ulimit -Sn 1024 # taskapi inherits this soft limit and must raise it itself
proc_taskapi fds --set server.workers=1 --set server.threads=2
worker=$(ps --ppid "$PROC_PID" -o pid= | head -n 1 | tr -d ' ')
limits=$(awk '/^Max open files/ { print $4, $5 }' "/proc/${worker:-$PROC_PID}/limits" 2>/dev/null)
read -r soft whard <<<"$limits"
check "the worker's soft open-file limit was raised from 1024 to the hard one ($soft of $whard)" \
  test "$soft" = "$whard" -a "$soft" != 1024

python3 - "$PROC_SOCK" >"$E2E_TMP/fds" <<'PY'
import resource, socket, struct, sys
sock_path = sys.argv[1]
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    return s

def record(rtype, content, req_id=1):
    return struct.pack(">BBHHBx", 1, rtype, req_id, len(content), 0) + content

def pair(name, value):
    return bytes([len(name), len(value)]) + name + value

def request(path, keep):
    params = b"".join(pair(k, v) for k, v in [(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", path)])
    return (record(1, struct.pack(">HB5x", 1, 1 if keep else 0)) + record(4, params) + record(4, b"")
            + record(5, b""))

def ask(s, path, keep):
    """One request on s; the status line of the answer, or what went wrong."""
    s.settimeout(10)
    try:
        s.sendall(request(path, keep))
        data = b""
        while b"\x01\x03\x00\x01" not in data:  # FCGI_END_REQUEST
            chunk = s.recv(65536)
            if not chunk:
                return "closed"
            data += chunk
    except OSError as e:
        return type(e).__name__
    return data[8:].split(b"\r\n")[0].decode("latin-1").replace(" ", "_")

idle = [connect() for _ in range(1100)]
kept = connect()
print("kept", ask(kept, b"/healthz", True), ask(kept, b"/tasks/?limit=1", True))
kept.close()
for s in idle[::2]:
    s.close()
fresh = [ask(connect(), b"/healthz", False) for _ in range(5)]
print("fresh", "|".join(sorted(set(fresh))), len(fresh))
PY
diag "$(tr '\n' ' ' <"$E2E_TMP/fds")"
check "two requests answered on one kept connection past 1,100 idle ones" \
  grep -qx 'kept Status:_200_OK Status:_200_OK' "$E2E_TMP/fds"
check "new connections answered after half of the idle ones closed" grep -qx 'fresh Status:_200_OK 5' "$E2E_TMP/fds"
check "the worker is the same process (no crash): $worker" \
  test "$(ps --ppid "$PROC_PID" -o pid= | head -n 1 | tr -d ' ')" = "$worker"
fds=$(find "/proc/$worker/fd" 2>/dev/null | wc -l)
diag "worker $worker holds $fds descriptors"
