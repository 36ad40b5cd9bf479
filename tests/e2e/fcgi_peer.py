"""tests/e2e/fcgi_peer.py — a FastCGI peer for the intake tests (21, 22, 94): builds
records as a web server does (or as a hostile peer would), sends them to taskapi's
socket and reads the answer, with every wait bounded.

Import it from a test's python snippet:
    sys.path.insert(0, os.environ["E2E_DIR"]); import fcgi_peer as fp
"""
import resource
import socket
import struct
import time

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, GET_VALUES = 1, 2, 3, 4, 5, 6, 9


def raise_fd_limit(n):
    """Lets this process open n descriptors (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def blocking(s, seconds):
    """Makes s block in the kernel as a plain C client's socket does, for at most
    seconds per send or recv (SO_SNDTIMEO/SO_RCVTIMEO). Python's own timeouts wait for
    poll() to say writable first, which a unix socket only says once three quarters of
    its send buffer are free: such a client stops long before a real one would."""
    s.settimeout(None)
    tv = struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
    return s


def record(rtype, content=b"", req_id=1, padding=0, version=1):
    return struct.pack(">BBHHBx", version, rtype, req_id, len(content), padding) + content + b"\0" * padding


def length(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def pair(name, value):
    return length(len(name)) + length(len(value)) + name + value


def begin(req_id=1, role=1, keep=True):
    return record(BEGIN, struct.pack(">HB5x", role, 1 if keep else 0), req_id)


def params_stream(method=b"GET", uri=b"/healthz", body=b"", extra=()):
    items = [(b"REQUEST_METHOD", method), (b"REQUEST_URI", uri), (b"SCRIPT_NAME", uri.split(b"?")[0])]
    if body:
        items += [(b"CONTENT_TYPE", b"application/json"), (b"CONTENT_LENGTH", str(len(body)).encode())]
    items += list(extra)
    return b"".join(pair(k, v) for k, v in items)


def request(method=b"GET", uri=b"/healthz", body=b"", extra=(), record_size=65535, keep=True):
    """One whole request, its params and body cut into records of record_size bytes."""
    out = [begin(keep=keep)]
    stream = params_stream(method, uri, body, extra)
    for i in range(0, len(stream), record_size):
        out.append(record(PARAMS, stream[i:i + record_size]))
    out.append(record(PARAMS))
    for i in range(0, len(body), record_size):
        out.append(record(STDIN, body[i:i + record_size]))
    out.append(record(STDIN))
    return b"".join(out)


def read_answer(s, timeout=5.0):
    """The STDOUT bytes of one answer, up to its END_REQUEST; None when the connection
    ended (or the time ran out) first."""
    deadline = time.time() + timeout
    buf, out = b"", b""
    while True:
        while len(buf) >= 8:
            _, rtype, _, clen, plen = struct.unpack(">BBHHBx", buf[:8])
            if len(buf) < 8 + clen + plen:
                break
            if rtype == STDOUT:
                out += buf[8:8 + clen]
            buf = buf[8 + clen + plen:]
            if rtype == END:
                return out
        left = deadline - time.time()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionError):
            return None
        if not chunk:
            return None
        buf += chunk


def status_of(answer):
    """The status code of an answer's Status header, 0 when there is none."""
    if answer is None:
        return 0
    for line in answer.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            return int(line.split()[1])
        if not line:
            break
    return 200


def ask(path, data=None, timeout=5.0):
    """Sends one request (default: GET /healthz) on a new connection: (status, seconds)."""
    start = time.time()
    try:
        s = connect(path, timeout)
        s.sendall(data if data is not None else request())
        answer = read_answer(s, timeout)
        s.close()
    except OSError:
        answer = None
    return status_of(answer), time.time() - start


def closed_within(s, timeout):
    """Seconds until the peer closed s (EOF or reset), None when it did not within timeout.
    Bytes the peer sends meanwhile are read and dropped."""
    start = time.time()
    deadline = start + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            if s.recv(65536) == b"":
                return time.time() - start
        except socket.timeout:
            return None
        except ConnectionError:
            return time.time() - start


def is_closed_now(s):
    """True when the peer has already closed s."""
    return closed_within(s, 0.05) is not None
