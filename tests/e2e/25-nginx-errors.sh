#!/usr/bin/env bash
# 25-nginx-errors: what nginx itself answers, through the shipped site (nginx/taskapi.conf
# as the private stack renders it).
#  - Every error nginx makes and sends a body for is JSON {"detail": "..."}, exactly
#    application/json; charset=utf-8 with Cache-Control: no-store: 405 (TRACE, CONNECT),
#    501 (unknown Transfer-Encoding), 400 (malformed request line, bad chunk, a header or
#    cookie too large: nginx's 494), 413, 414, 505; and 500, 502, 503, 504 from a second
#    nginx of this test on the same rendered configuration, whose upstream is a stub that
#    hangs up (502) or never answers (504, fastcgi_read_timeout cut to 2 s there).
#  - 408: a client that stops sending its headers, or its body, is cut off after
#    client_header_timeout / client_body_timeout (10 s) without a byte of answer, and
#    the access log has one 408 line for each.
#  - The internal error URIs (/_taskapi_error/...) cannot be fetched from outside: they
#    get taskapi's own JSON 404, the same as any unknown path.
#  - The per-address limits, on the stack's second listener (127.0.0.2, where they count;
#    on 127.0.0.1 they count nobody, for the load tests): limit_req lets a burst through,
#    then answers 429 JSON with Retry-After: 1; another client address is not limited;
#    limit_conn holds the site's number of requests in progress per address and answers
#    429 to the next one; on 127.0.0.1 the same burst is never limited.
# Changes nothing in the stack; its own nginx and stub stop at exit.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# ---- a second nginx on the stack's rendered configuration, for 500, 502, 503, 504 --------
ngx2=$E2E_TMP/nginx
port2=$(free_port)
mkdir -p "$ngx2/tmp" "$ngx2/snippets"
stub_sock=$E2E_TMP/stub.sock
cp "$NGX_DIR/fastcgi_params" "$ngx2/"
sed -E 's/^(fastcgi_read_timeout )30s;/\12s;/' "$NGX_DIR/snippets/taskapi-fastcgi.conf" >"$ngx2/snippets/taskapi-fastcgi.conf"
sed -e "s#$NGX_DIR#$ngx2#g" "$NGX_CONF" >"$ngx2/nginx.conf"
# Its listeners on a port of its own, its upstream the stub, and two locations that make
# nginx answer 500 and 503 itself (nothing in the shipped site does: limit_req and
# limit_conn answer 429, taskapi's own 503 passes through), to show their error pages.
sed -e "s#:$PORT;#:$port2;#g" -e "s#unix:$APP_SOCK#unix:$stub_sock#g" \
  -e 's#^\(\s*location / {\)#    location = /e2e/500 { return 500; }\n    location = /e2e/503 { return 503; }\n\1#' \
  "$NGX_DIR/taskapi-site.conf" >"$ngx2/taskapi-site.conf"
python3 - "$stub_sock" >"$E2E_TMP/stub.log" 2>&1 <<'PY' &
# A FastCGI "application" that hangs up on a request for /e2e/502 and never answers any
# other (nginx's fastcgi_read_timeout then gives 504).
import socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(64)
held = []
def serve(c):
    data = b""
    while b"REQUEST_URI" not in data or b"/e2e/" not in data:
        more = c.recv(65536)
        if not more:
            break
        data += more
    if b"/e2e/502" in data:
        c.close()
    else:
        held.append(c)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
stub_pid=$!
at_exit "kill $stub_pid 2>/dev/null"
(cd "$ngx2" && exec nginx -p "$ngx2/" -c "$ngx2/nginx.conf" -e "$ngx2/error.log" </dev/null >"$ngx2/stderr.log" 2>&1) &
ngx2_pid=$!
at_exit "stop_pid nginx-25 $ngx2_pid QUIT 10 >/dev/null 2>&1"
if wait_for 10 port_in_use "$port2"; then
  ok "a second nginx runs the stack's rendered site on port $port2, upstream a stub"
else
  not_ok "a second nginx runs the stack's rendered site on port $port2"
  diag "$(cat "$ngx2/stderr.log" "$ngx2/error.log" 2>/dev/null | tail -n 5)"
fi

export MYSQL NGX_DIR PORT2=$port2 LIMITED_ADDR=$NGX_LIMITED_ADDR SITE=$TOP/nginx/taskapi.conf
PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # BASE, JSON_CT, ok, not_ok, check, ...
import socket, threading

HOST, PORT = BASE.hostname, BASE.port
PORT2 = int(os.environ["PORT2"])
LIMITED = os.environ["LIMITED_ADDR"]
ACCESS_LOG = os.path.join(os.environ["NGX_DIR"], "access.log")
site = open(os.environ["SITE"], encoding="utf-8").read()
CONN_LIMIT = int(re.search(r"^\s*limit_conn taskapi_conn (\d+);", site, re.M).group(1))
BURST = int(re.search(r"^\s*limit_req zone=taskapi_req burst=(\d+)", site, re.M).group(1))


def connect(host=HOST, port=PORT, source=None, timeout=15):
    return socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0) if source else None)


def read_response(s):
    """One HTTP/1.1 response from s: (status, {header: value}, body); status 0 when the
    connection closed before a whole head arrived."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = s.recv(65536)
        if not more:
            return 0, {}, data
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    while len(body) < n:
        more = s.recv(65536)
        if not more:
            break
        body += more
    return status, hdrs, body[:n]


def raw(request, host=HOST, port=PORT, source=None):
    """Send request bytes on a fresh connection; the response (status 0 on none)."""
    try:
        with connect(host, port, source) as s:
            s.sendall(request)
            return read_response(s)
    except OSError as e:
        return 0, {}, str(e).encode()


def json_error(desc, resp, status, extra=None):
    """resp is STATUS, exactly JSON_CT, Cache-Control: no-store, {"detail": "<text>"}."""
    st, h, body = resp
    bad = []
    if st != status:
        bad.append("status %s, expected %s" % (st, status))
    if h.get("content-type") != JSON_CT:
        bad.append("Content-Type %r" % h.get("content-type"))
    if h.get("cache-control") != "no-store":
        bad.append("Cache-Control %r" % h.get("cache-control"))
    try:
        j = json.loads(body.decode("utf-8"))
        if not (isinstance(j, dict) and list(j) == ["detail"] and isinstance(j["detail"], str) and j["detail"]):
            bad.append("body is not {\"detail\": \"...\"}")
    except Exception:
        bad.append("body is not JSON")
    for k, v in (extra or {}).items():
        if h.get(k.lower()) != v:
            bad.append("%s %r, expected %r" % (k, h.get(k.lower()), v))
    return check(desc, not bad, *bad, "answer: %s %s %r" % (st, h, body[:300]))


def log_lines(needle):
    with open(ACCESS_LOG, encoding="utf-8", errors="replace") as f:
        return [l for l in f if needle in l]


# ---- 408: started first, they take client_*_timeout (10 s) --------------------------------
tag = "e2e25-%d" % os.getpid()
timeouts = {}


def timed_out(name, request):
    t0 = time.monotonic()
    try:
        with connect(timeout=40) as s:
            s.sendall(request)
            got = b""
            while True:
                more = s.recv(4096)
                if not more:
                    break
                got += more
        timeouts[name] = (time.monotonic() - t0, got)
    except OSError as e:
        timeouts[name] = (time.monotonic() - t0, ("error %s" % e).encode())


threads = [
    threading.Thread(target=timed_out, args=("header", (
        "GET /healthz?%s=header HTTP/1.1\r\nHost: taskapi.example.org\r\nX-Slow: " % tag).encode())),
    threading.Thread(target=timed_out, args=("body", (
        "POST /tasks/?%s=body HTTP/1.1\r\nHost: taskapi.example.org\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{" % tag).encode())),
]
for t in threads:
    t.start()

# ---- errors nginx makes itself, through the stack ----------------------------------------
H = b"Host: taskapi.example.org\r\n"
json_error("TRACE /: 405 JSON, no-store", raw(b"TRACE / HTTP/1.1\r\n" + H + b"\r\n"), 405)
json_error("CONNECT /: 405 JSON, no-store", raw(b"CONNECT / HTTP/1.1\r\n" + H + b"\r\n"), 405)
json_error("CONNECT example.org:443 (authority form): 400 JSON, no-store",
           raw(b"CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"), 400)
json_error("POST with Transfer-Encoding: gzip: 501 JSON, no-store",
           raw(b"POST /tasks/ HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\nContent-Type: application/json\r\n\r\n"), 501)
json_error("a malformed request line: 400 JSON, no-store", raw(b"GET\x01 / HTTP/1.1\r\n" + H + b"\r\n"), 400)
json_error("a malformed chunk: 400 JSON, no-store",
           raw(b"POST /tasks/ HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n"), 400)
json_error("a 9,000-byte header (Request Header Or Cookie Too Large, 494): 400 JSON, no-store",
           raw(b"GET /healthz HTTP/1.1\r\n" + H + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n"), 400)
json_error("a 9,000-byte Cookie: 400 JSON, no-store",
           raw(b"GET /healthz HTTP/1.1\r\n" + H + b"Cookie: c=" + b"a" * 9000 + b"\r\n\r\n"), 400)
json_error("a 9,000-byte URI: 414 JSON, no-store", raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + H + b"\r\n"), 414)
json_error("a 70,000-byte body: 413 JSON, no-store",
           raw(b"POST /tasks/ HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n"
               + b"[" + b" " * 69999), 413)
json_error("HTTP/2.0 in an HTTP/1 request line: 505 JSON, no-store", raw(b"GET /healthz HTTP/2.0\r\n" + H + b"\r\n"), 505)

# ---- ... and from the second nginx: upstream errors --------------------------------------
def get2(path):
    return raw(("GET %s HTTP/1.1\r\nHost: taskapi.example.org\r\n\r\n" % path).encode(), port=PORT2)


json_error("taskapi hangs up (stub): 502 JSON, no-store, Retry-After: 5", get2("/e2e/502"), 502, {"Retry-After": "5"})
json_error("taskapi never answers (stub, fastcgi_read_timeout 2 s there): 504 JSON, no-store, Retry-After: 5",
           get2("/e2e/504"), 504, {"Retry-After": "5"})
json_error("nginx's own 503: JSON, no-store, Retry-After: 1", get2("/e2e/503"), 503, {"Retry-After": "1"})
json_error("nginx's own 500: JSON, no-store", get2("/e2e/500"), 500)

# ---- the internal error URIs are not reachable --------------------------------------------
unknown = raw(b"GET /no-such-path HTTP/1.1\r\n" + H + b"\r\n")
for method, path in (("GET", "/_taskapi_error/502.json"), ("GET", "/_taskapi_error/400.json"),
                     ("GET", "/_taskapi_error/429.json"), ("POST", "/_taskapi_error/503.json"),
                     ("GET", "/_taskapi_error/")):
    body = b"{}" if method == "POST" else b""
    st, h, b = raw(("%s %s HTTP/1.1\r\nHost: taskapi.example.org\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n" % (method, path, len(body))).encode() + body)
    check("%s %s from outside: taskapi's own 404 (the body of any unknown path, X-Request-Id), not the error file"
          % (method, path),
          st == 404 and b == unknown[2] and h.get("content-type") == JSON_CT and "x-request-id" in h
          and "retry-after" not in h,
          "got %s %s %r; unknown path: %s %r" % (st, h, b[:200], unknown[0], unknown[2][:200]))

# ---- per-address limits on the limited listener ---------------------------------------------
def burst(host, source=None, n=None):
    """n GET /healthz on one connection as fast as they go: Counter of statuses and the
    first 429 answer."""
    n = n or 3 * BURST
    counts, first429 = {}, None
    with connect(host, PORT, source) as s:
        for _ in range(n):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: taskapi.example.org\r\n\r\n")
            r = read_response(s)
            counts[r[0]] = counts.get(r[0], 0) + 1
            if r[0] == 429 and first429 is None:
                first429 = r
    return counts, first429


counts, first = burst(LIMITED, "127.0.0.1")
check("limit_req on %s: %d GETs at once from one address: at least the burst (%d) answered 200, some 429, nothing else (%s)"
      % (LIMITED, 3 * BURST, BURST, counts),
      counts.get(200, 0) >= BURST and counts.get(429, 0) >= 1 and set(counts) <= {200, 429})
if first:
    json_error("limit_req's 429: JSON, no-store, Retry-After: 1", first, 429, {"Retry-After": "1"})
else:
    not_ok("limit_req's 429: JSON, no-store, Retry-After: 1", "no 429 came")
# Still limited: a single request would race the bucket's drain (one slot every 20 ms at
# 50 r/s, so a pause of a loaded machine lets it through). Another BURST requests right
# after all pass only if they are spread over BURST x 20 ms (2 s): some must be refused.
again, _ = burst(LIMITED, "127.0.0.1", BURST)
check("right after, 127.0.0.1 is still limited on %s: %d more GETs meet 429s (%s)" % (LIMITED, BURST, again),
      again.get(429, 0) >= 1 and set(again) <= {200, 429})
st = raw(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n", host=LIMITED, source="127.0.0.3")[0]
check("another client address (127.0.0.3) is not: 200 (%s)" % st, st == 200)
counts, _ = burst(HOST)
check("on %s (the load tests' listener) the same %d GETs are all 200 (%s)" % (HOST, 3 * BURST, counts),
      counts == {200: 3 * BURST})

# limit_conn: requests in progress. Slow bodies from a fresh address hold CONN_LIMIT
# requests; the next request from it is refused at once, and allowed again once they go.
src = "127.0.0.4"
conns = []
for i in range(CONN_LIMIT + 3):
    s = connect(LIMITED, PORT, src)
    s.sendall(b"POST /tasks/ HTTP/1.1\r\n" + H + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    conns.append(s)
time.sleep(1)  # the refused ones have their answer by now; client_body_timeout is 10 s
held, extra = [], []
for s in conns:
    s.settimeout(0.05)
    try:
        extra.append(read_response(s))
        s.close()
    except socket.timeout:
        held.append(s)
check("limit_conn: of %d slow bodies from %s, %d are held in progress (the site's limit_conn) and %d answered 429 at once"
      % (CONN_LIMIT + 3, src, CONN_LIMIT, 3),
      len(held) == CONN_LIMIT and [r[0] for r in extra] == [429] * 3,
      "held %d, answered %s" % (len(held), [r[0] for r in extra]))
r = raw(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n", host=LIMITED, source=src)
json_error("limit_conn: the next GET /healthz from %s: 429 JSON, no-store, Retry-After: 1" % src, r, 429, {"Retry-After": "1"})
for s in held:
    s.close()
deadline = time.monotonic() + 10
while True:
    st = raw(b"GET /healthz HTTP/1.1\r\n" + H + b"\r\n", host=LIMITED, source=src)[0]
    if st == 200 or time.monotonic() > deadline:
        break
    time.sleep(0.2)
check("limit_conn: once those close, %s gets 200 again (%s)" % (src, st), st == 200)

# ---- 408 ------------------------------------------------------------------------------------
for t in threads:
    t.join(60)
for name, what in (("header", "client_header_timeout"), ("body", "client_body_timeout")):
    secs, got = timeouts.get(name, (0, b"none"))
    check("a client that stops sending its %s is cut off by %s (10 s): closed after %.1f s, with no answer"
          % (name, what, secs), 8 <= secs <= 20 and got == b"", "received %r" % got[:200])
time.sleep(0.5)  # the access log line is written as the connection closes
for name, method in (("header", "GET"), ("body", "POST")):
    lines = log_lines("%s=%s" % (tag, name))
    check("the access log has one 408 line for the %s timeout (%s)" % (name, method),
          len(lines) == 1 and ('"%s ' % method) in lines[0] and '" 408 ' in lines[0], *lines)
PY
