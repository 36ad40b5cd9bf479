"""Clients for the connection-pool tests (tests/e2e/7x-pool-*.sh).

fcgi()  one request straight to a taskapi FastCGI socket (a private taskapi
        started by a test with its own settings has no nginx in front).
http()  one request through nginx.
load()  several threads sending a request mix for a while; every request is
        recorded with its start and end time, status, Retry-After and whether
        the body was JSON, so a test can say what happened when.

As a program:  pool_client.py fcgi SOCKET METHOD URI BODY_FILE HEADERS_FILE [JSON]
writes the body and the headers to the files and prints "STATUS CONTENT-TYPE",
the way lib.sh's http() does.
"""
import http.client as httpclient
import json
import socket
import struct
import sys
import threading
import time

FCGI_BEGIN, FCGI_END, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _record(rtype, content, req_id=1):
    out = b""
    for i in range(0, max(len(content), 1), 65535):
        chunk = content[i:i + 65535]
        out += struct.pack("!BBHHBB", 1, rtype, req_id, len(chunk), 0, 0) + chunk
    return out


def _nv(name, value):
    def length(n):
        return struct.pack("!B", n) if n < 128 else struct.pack("!I", n | 0x80000000)
    name, value = name.encode(), value.encode()
    return length(len(name)) + length(len(value)) + name + value


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("FastCGI peer closed the connection")
        data += chunk
    return data


def _parse_cgi(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    headers, status = {}, 200
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "status" in headers:
        status = int(headers["status"].split()[0])
    return status, headers, body


def fcgi(sock_path, method, uri, body=b"", timeout=15.0, headers=None):
    """One FastCGI request; returns (status, headers with lower-case names, body)."""
    if isinstance(body, str):
        body = body.encode()
    path, _, query = uri.partition("?")
    params = {
        "REQUEST_METHOD": method, "REQUEST_URI": uri, "QUERY_STRING": query,
        "SCRIPT_NAME": path, "SERVER_PROTOCOL": "HTTP/1.1", "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
        "CONTENT_LENGTH": str(len(body)),
    }
    if body:
        params["CONTENT_TYPE"] = "application/json"
    for name, value in (headers or {}).items():
        params["HTTP_" + name.upper().replace("-", "_")] = value
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(_record(FCGI_BEGIN, struct.pack("!HB5x", 1, 0))
                  + _record(FCGI_PARAMS, b"".join(_nv(k, v) for k, v in params.items()))
                  + _record(FCGI_PARAMS, b"")
                  + (_record(FCGI_STDIN, body) if body else b"") + _record(FCGI_STDIN, b""))
        out = b""
        while True:
            _, rtype, _, clen, plen, _ = struct.unpack("!BBHHBB", _read_exact(s, 8))
            content = _read_exact(s, clen + plen)[:clen]
            if rtype == FCGI_STDOUT:
                out += content
            elif rtype == FCGI_END:
                break
    finally:
        s.close()
    return _parse_cgi(out)


def http(base, method, path, body=None, timeout=15.0):
    """One HTTP request through nginx; returns (status, headers, body); status 0 = no answer."""
    host, port = base.split("//", 1)[1].split(":")
    conn = httpclient.HTTPConnection(host, int(port), timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    except (OSError, httpclient.HTTPException) as e:
        return 0, {"error": str(e)}, b""
    finally:
        conn.close()


def is_json(data):
    try:
        json.loads(data.decode("utf-8"))
        return True
    except ValueError:
        return False


def load(send, mix, threads, seconds, t0=None, until=None, pause=0.0):
    """Runs send(kind, n) from `threads` threads for `seconds` (or until until()
    is true, checked before each request), kinds taken in turn from mix, each
    thread pausing `pause` seconds between requests. send returns (status,
    headers, body, extra). Returns a list of dicts: kind, start, end (seconds
    since t0, monotonic), status, retry_after, json, extra."""
    t0 = t0 if t0 is not None else time.monotonic()
    stop = t0 + seconds
    results, lock = [], threading.Lock()

    def worker(w):
        n = 0
        while time.monotonic() < stop and not (until and until()):
            kind = mix[(w + n) % len(mix)]
            start = time.monotonic()
            status, headers, body, extra = send(kind, w * 1000000 + n)
            end = time.monotonic()
            with lock:
                results.append({"kind": kind, "start": start - t0, "end": end - t0,
                                "status": status, "retry_after": headers.get("retry-after"),
                                "json": is_json(body), "extra": extra})
            n += 1
            if pause:
                time.sleep(pause)

    pool = [threading.Thread(target=worker, args=(w,)) for w in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return results


def main(argv):
    if len(argv) < 6 or argv[0] != "fcgi":
        sys.exit(__doc__)
    sock, method, uri, body_file, headers_file = argv[1:6]
    body = argv[6] if len(argv) > 6 else ""
    try:
        status, headers, data = fcgi(sock, method, uri, body)
    except (OSError, ValueError) as e:
        status, headers, data = 0, {}, str(e).encode()
    with open(body_file, "wb") as f:
        f.write(data)
    with open(headers_file, "w", encoding="latin-1") as f:
        for name, value in headers.items():
            f.write("%s: %s\r\n" % (name, value))
    print("%03d %s" % (status, headers.get("content-type", "")))


if __name__ == "__main__":
    main(sys.argv[1:])
