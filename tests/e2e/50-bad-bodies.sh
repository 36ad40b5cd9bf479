#!/usr/bin/env bash
# 50-bad-bodies: request bodies that are not what the API takes — not JSON, truncated,
# arrays and scalars, invalid UTF-8, nesting past the bound, empty, a Content-Type that
# is not JSON (415), and bodies over the 64 KiB cap (413, whether nginx or taskapi
# answers, in JSON either way) — on POST and PATCH. Each is refused with the right
# status and type, stores nothing, changes nothing, and taskapi keeps serving.
#
# Table-driven in Python (stdlib http.client and raw sockets for chunked bodies).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # TASKAPI_URL, MYSQL, req, ok, not_ok, check, expect, problems, sql, ...

# ---------------------------------------------------------------------------------------
import socket


def count():
    return sql("SELECT COUNT(*) FROM tasks")


def row(task_id):
    return sql("SELECT CONCAT_WS('|', title, IFNULL(description, 'NULL'), is_completed, version) "
               "FROM tasks WHERE id = %d" % task_id)


def chunked(method, path, payload, ctype="application/json", piece=8192):
    """The request with Transfer-Encoding: chunked (no Content-Length), on a raw socket."""
    head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n" % (method, path, ctype)).encode()
    body = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + piece]), payload[i:i + piece])
                    for i in range(0, len(payload), piece)) + b"0\r\n\r\n"
    s = socket.create_connection((BASE.hostname, BASE.port), timeout=15)
    data = b""
    try:
        s.sendall(head + body)
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    finally:
        s.close()
    head, _, raw = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if headers.get("transfer-encoding") == "chunked":  # the answer may be chunked too
        out, rest = b"", raw
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        raw = out
    return Resp(status, headers, raw)


def is_json_invalid(j):
    return isinstance(j, dict) and isinstance(j.get("detail"), list) and len(j["detail"]) == 1 \
        and j["detail"][0].get("type") == "json_invalid" and j["detail"][0].get("loc", [None])[0] == "body"


n0 = count()
r = req("POST", "/tasks/", {"title": "bad bodies: patch target", "description": "as created"})
P = (r.json() or {}).get("id", 0) if r.status == 201 else 0
check("a task to PATCH (201)", P > 0, str(r))
n0 = int(n0) + 1
before = row(P)

# ---- not JSON, or not a JSON object: 422 json_invalid, on POST and on PATCH -----------------
BAD = [
    (b"hello", "not JSON (a word)"),
    (b"title=x&description=y", "a form-encoded body"),
    (b"<task><title>x</title></task>", "XML"),
    (b'{"title": "x"', "truncated (no closing brace)"),
    (b'{"title": "x', "truncated inside a string"),
    (b'{"title": }', "a missing value"),
    (b"{'title': 'x'}", "single quotes"),
    (b'{"title": "x",}', "a trailing comma"),
    (b'{title: "x"}', "an unquoted key"),
    (b'{"title": "x"} {"title": "y"}', "two objects"),
    (b'{"title": "x"} trailing', "trailing garbage"),
    (b'[{"title": "x"}]', "an array of a task"),
    (b"[]", "an empty array"),
    (b'"x"', "a JSON string"),
    (b"42", "a JSON number"),
    (b"true", "true"),
    (b"null", "null"),
    (b'{"title": "raw\x01control"}', "a raw control character inside a string"),
    (b'{"title": "x", "is_completed": NaN}', "NaN"),
    (b'{"title": "\xff\xfe"}', "invalid UTF-8 (0xFF 0xFE)"),
    (b'{"title": "\xc3\x28"}', "invalid UTF-8 (a bad continuation byte)"),
    (b'{"title": "\xc0\xaf"}', "invalid UTF-8 (an overlong encoding)"),
    (b'{"title": "\xed\xa0\x80"}', "invalid UTF-8 (an encoded surrogate)"),
    (b'{"title": "\xf4\x90\x80\x80"}', "invalid UTF-8 (above U+10FFFF)"),
    (b'{"title": "caf\xe9"}', "Latin-1, not UTF-8"),
    (b'{"title": "x\xe2\x82"}', "invalid UTF-8 (a truncated sequence)"),
    (b'{"title": "x", "d\xffescription": null}', "invalid UTF-8 in a key"),
    (b'{"title": "\\ud800"}', "a lone surrogate escape"),
    (b"[" * 33 + b"]" * 33, "arrays nested 33 deep"),
    (b'{"title": "x", "description": ' + b"[" * 40 + b"]" * 40 + b"}", "a field nested 41 deep"),
    (b'{"a":' * 100 + b"1" + b"}" * 100, "objects nested 100 deep"),
    (b"[" * 30000, "30000 unclosed brackets"),
    (b'{"title": "x", "description": ' + b"[{" * 5000, "10000 levels, truncated"),
]
for payload, what in BAD:
    expect("POST %s: 422 json_invalid at body" % what, req("POST", "/tasks/", payload), 422, is_json_invalid)
for payload, what in BAD:
    expect("PATCH %s: 422 json_invalid at body" % what, req("PATCH", "/tasks/%d" % P, payload), 422,
           is_json_invalid)
# Nesting is counted in the JSON, not inside strings.
r = req("POST", "/tasks/", {"title": "[" * 50, "description": '\\"' + "{[" * 100})
check("brackets inside strings are not nesting: a title of 50 '[' and a description of 200 brackets: 201",
      r.status == 201, str(r))
if r.status == 201:
    n0 += 1
problems("a value nested 5 deep is a normal validation error (string_type), not json_invalid",
         req("POST", "/tasks/", b'{"title": [[[[["x"]]]]]}'), "body.title:string_type")
expect("PATCH ?completed=true with a bad body: 422 json_invalid (the query alone does not apply)",
       req("PATCH", "/tasks/%d?completed=true" % P, b"[1]"), 422, is_json_invalid)

# ---- empty bodies ---------------------------------------------------------------------------------
for payload, ctype, what in ((b"", "application/json", "an empty body (Content-Type JSON)"),
                             (None, None, "no body and no Content-Type"),
                             (b"", None, "an empty body, no Content-Type"),
                             (b"   \r\n\t ", "application/json", "a body of white space")):
    expect("POST with %s: 422, the problem at body" % what, req("POST", "/tasks/", payload, ctype=ctype), 422,
           lambda j: j["detail"] and all(d["loc"][0] == "body" for d in j["detail"]))
check("no refused body stored a row", count() == str(n0), "count %s, expected %s" % (count(), n0))
check("no refused PATCH changed the task", row(P) == before, "%s != %s" % (row(P), before))

# ---- Content-Type --------------------------------------------------------------------------------
GOOD = b'{"title": "bad bodies: media type"}'
for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
              "application/xml", "text/json", "application/jsonx", "application/json-seq",
              "application/merge-patch+json", "application/x-json", "json", "application/javascript"):
    expect("POST with Content-Type %s: 415 telling to send application/json" % ctype,
           req("POST", "/tasks/", GOOD, ctype=ctype), 415,
           lambda j: isinstance(j.get("detail"), str) and "application/json" in j["detail"])
for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
    expect("PATCH with Content-Type %s: 415 telling to send application/json" % ctype,
           req("PATCH", "/tasks/%d" % P, b'{"title": "changed"}', ctype=ctype), 415,
           lambda j: isinstance(j.get("detail"), str) and "application/json" in j["detail"])
check("no 415 stored a row", count() == str(n0), "count %s, expected %s" % (count(), n0))
check("no 415 changed the task", row(P) == before, "%s != %s" % (row(P), before))
for ctype in (None, "application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
              "Application/JSON", "application/json ; charset=utf-8"):
    r = req("POST", "/tasks/", GOOD, ctype=ctype)
    check("POST with %s: 201" % ("no Content-Type (curl users)" if ctype is None else "Content-Type " + ctype),
          r.status == 201, str(r))
    n0 += r.status == 201

# ---- size: 64 KiB is the cap ------------------------------------------------------------------------
CAP = 65536


def padded(size, title="bad bodies: big"):
    """A valid JSON object of exactly size bytes (white space inside)."""
    head, tail = ('{"title": "%s"' % title).encode(), b"}"
    return head + b" " * (size - len(head) - len(tail)) + tail


r = req("POST", "/tasks/", padded(CAP, "bad bodies: exactly 64 KiB"))
check("POST of a valid body of exactly 64 KiB (65536 bytes): 201", r.status == 201, str(r))
n0 += r.status == 201
for size in (CAP + 1, 2 * CAP, 1 << 20):
    expect("POST of a %d-byte body: 413 JSON with a detail" % size, req("POST", "/tasks/", padded(size)), 413,
           lambda j: isinstance(j.get("detail"), str))
expect("PATCH with a 70000-byte body: 413 JSON with a detail",
       req("PATCH", "/tasks/%d" % P, padded(70000)), 413, lambda j: isinstance(j.get("detail"), str))
expect("POST of 70000 bytes, chunked (no Content-Length): 413 JSON with a detail",
       chunked("POST", "/tasks/", padded(70000)), 413, lambda j: isinstance(j.get("detail"), str))
r = chunked("POST", "/tasks/", padded(3000, "bad bodies: chunked"))
expect("POST of a small chunked body: 201, read whole", r, 201, lambda j: j["title"] == "bad bodies: chunked")
n0 += r.status == 201
check("no 413 stored a row", count() == str(n0), "count %s, expected %s" % (count(), n0))
check("no 413 changed the task", row(P) == before, "%s != %s" % (row(P), before))

expect("after all of this taskapi still answers: GET /tasks/{id} 200, unchanged",
       req("GET", "/tasks/%d" % P), 200, lambda j: j["title"] == "bad bodies: patch target")
PY
