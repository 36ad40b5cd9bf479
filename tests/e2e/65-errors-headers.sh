#!/usr/bin/env bash
# 65-errors-headers: what every response carries and what no response reveals.
#  - Every answer (200, 201, 400, 404, 405, 412, 413, 415, 422, 500, 502, 503) is
#    exactly "application/json; charset=utf-8" with "Cache-Control: no-store"; 204 and
#    304 have no body and no Content-Type; no body shows SQL, file paths or stack traces.
#  - 404 {"detail": "Not Found"} for unknown paths, 405 with an Allow header naming the
#    methods the path has (the same ones docs/openapi.yaml lists).
#  - nginx's own errors (400 malformed request, 413 too large, 502 taskapi down) are JSON.
#  - A failing statement (the table renamed away) is a 500 with a generic detail and the
#    cause in taskapi's log; MariaDB down is a quick 503 with Retry-After on every route.
#  - GET /openapi.json serves the OpenAPI 3.1 document of the API.
# Stops and restarts MariaDB and taskapi of the test stack, and renames the tasks table
# for a moment; everything is put back (also when the test dies half-way).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL APP_LOG TOP

# If this test stops half-way, the table, MariaDB and taskapi come back.
at_exit "sql 'RENAME TABLE e2e_tasks_away TO tasks' >/dev/null 2>&1"
at_exit 'db_pid >/dev/null || mariadb_start >/dev/null 2>&1'
at_exit 'app_pid >/dev/null || taskapi_start >/dev/null 2>&1'

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # TASKAPI_URL, MYSQL, req, ok, not_ok, check, expect, problems, sql, ...

# ---------------------------------------------------------------------------------------
import socket

LEAK = re.compile(r"(?i)\b(select|insert|update|delete\s+from|where|mysql|mariadb|sql|syntax|errno|"
                  r"traceback|segfault|backtrace|doesn't exist)\b|\.c:\d|\.c\b|/(work|usr|tmp|run|home|etc|var|opt)/|"
                  r"0x[0-9a-f]{6,}|\btasks?\.c\b|e2e_tasks_away")


def scrub(j):
    """The body without what a 422 echoes of the client's own text: "input", and the
    field names in "loc" (an unknown field is named there)."""
    if isinstance(j, dict) and isinstance(j.get("detail"), list):
        return {"detail": [{k: (v[:1] if k == "loc" and isinstance(v, list) else v) for k, v in d.items() if k != "input"}
                           if isinstance(d, dict) else d for d in j["detail"]]}
    return j


def header_problems(r, method="GET"):
    """What is wrong with r's headers and body by the rules for every response."""
    bad = []
    if "no-store" not in (r.header("cache-control") or ""):
        bad.append("Cache-Control %r, expected no-store" % r.header("cache-control"))
    if r.status in (204, 304):
        if r.raw:
            bad.append("a %d with a body: %r" % (r.status, r.raw[:100]))
        if r.header("content-type"):
            bad.append("a %d with Content-Type %r" % (r.status, r.header("content-type")))
        return bad
    if r.header("content-type") != JSON_CT:
        bad.append("Content-Type %r, expected %r" % (r.header("content-type"), JSON_CT))
    if method == "HEAD":
        return bad
    j = r.json()
    if j is None:
        bad.append("body is not UTF-8 JSON: %r" % r.raw[:120])
    elif r.status >= 400:
        if not (isinstance(j, dict) and "detail" in j):
            bad.append('an error without {"detail": ...}: %r' % r.raw[:200])
        m = LEAK.search(json.dumps(scrub(j), ensure_ascii=False))
        if m:
            bad.append("the body reveals internals (%r): %r" % (m.group(0), r.raw[:300]))
    return bad


def expect_sweep(desc, r, status, method="GET"):
    if r.status != status:
        return not_ok(desc, "status %s, expected %s: %s" % (r.status, status, r))
    bad = header_problems(r, method)
    return check(desc, not bad, *bad)


def raw_http(data):
    """Send bytes as they are on a new connection; the parsed response."""
    s = socket.create_connection((BASE.hostname, BASE.port), timeout=10)
    out = b""
    try:
        s.sendall(data)
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    finally:
        s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split() if lines else []
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if "content-length" in hdrs and hdrs["content-length"].isdigit():
        body = body[:int(hdrs["content-length"])]
    return Resp(status, hdrs, body)


def new_task(title):
    r = req("POST", "/tasks/", {"title": title})
    return (r.json() or {}).get("id", 0) if r.status == 201 else 0


# ---- every status, its headers and body ------------------------------------------------------
A, B = new_task("headers: a"), new_task("headers: b")
MISSING = int(sql("SELECT COALESCE(MAX(id), 0) FROM tasks")) + 100000
check("two tasks to work with", A > 0 and B > 0)
expect_sweep("GET /tasks/: 200", req("GET", "/tasks/?limit=3"), 200)
expect_sweep("GET /tasks (no slash): 200", req("GET", "/tasks?limit=3"), 200)
expect_sweep("HEAD /tasks/: 200 (no body)", req("HEAD", "/tasks/"), 200, "HEAD")
expect_sweep("GET /tasks/{id}: 200", req("GET", "/tasks/%d" % A), 200)
expect_sweep("POST /tasks/: 201", req("POST", "/tasks/", {"title": "headers: c"}), 201)
expect_sweep("PATCH /tasks/{id}?completed=true: 200", req("PATCH", "/tasks/%d?completed=true" % A), 200)
expect_sweep('GET /tasks/{id} with If-None-Match "2": 304', req("GET", "/tasks/%d" % A, headers={"If-None-Match": '"2"'}), 304)
expect_sweep("GET /healthz: 200", req("GET", "/healthz"), 200)
expect_sweep("GET /readyz: 200", req("GET", "/readyz"), 200)
expect_sweep("GET /openapi.json: 200", req("GET", "/openapi.json"), 200)
expect_sweep("GET of an unknown path: 404", req("GET", "/nope"), 404)
expect_sweep("GET of a missing task: 404", req("GET", "/tasks/%d" % MISSING), 404)
expect_sweep("PUT /tasks/: 405", req("PUT", "/tasks/", {"title": "x"}), 405)
expect_sweep("PATCH with a stale If-Match: 412",
             req("PATCH", "/tasks/%d" % A, {"title": "x"}, headers={"If-Match": '"1"'}), 412)
expect_sweep("POST as text/plain: 415", req("POST", "/tasks/", b'{"title": "x"}', ctype="text/plain"), 415)
expect_sweep("GET /tasks/?limit=0: 422", req("GET", "/tasks/?limit=0"), 422)
expect_sweep("POST of broken JSON: 422", req("POST", "/tasks/", b'{"title": '), 422)
expect_sweep("GET /tasks/abc: 422", req("GET", "/tasks/abc"), 422)
expect_sweep("POST with SQL-looking input: 422 whose detail (apart from the echoed input) says nothing of SQL",
             req("POST", "/tasks/", {"title": "x", "SELECT * FROM tasks": 1, "is_completed": "DROP TABLE"}), 422)
expect_sweep("POST of a 70000-byte body: 413 (nginx's own answer)", req("POST", "/tasks/", b"[" + b" " * 69999), 413)
expect_sweep("DELETE /tasks/{id}: 204", req("DELETE", "/tasks/%d" % B), 204)

# nginx's own 400s (a malformed request never reaches taskapi) are JSON too.
for what, data in (
        ("a Content-Length that is not a number",
         b"GET /tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\nConnection: close\r\n\r\n"),
        ("HTTP/1.1 without Host", b"GET /tasks/ HTTP/1.1\r\nConnection: close\r\n\r\n"),
        ("both Content-Length and Transfer-Encoding: chunked",
         b"POST /tasks/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"
         b"Connection: close\r\n\r\n0\r\n\r\n"),
        ("a request line that is not HTTP", b"HELLO\r\n\r\n"),
        ("a TLS ClientHello sent to the plain HTTP port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40)):
    expect_sweep("nginx answers %s with 400" % what, raw_http(data), 400)

# ---- 404 and 405 -------------------------------------------------------------------------------------
for path in ("/nope", "/", "/tasks/1/extra", "/tasks/1/2", "/taskss", "/TASKS/", "/task", "/tasks/1/comments/",
             "/healthz/x", "/openapi.yaml", "/index.html", "/api/tasks/"):
    expect("GET %s: 404 {\"detail\": \"Not Found\"}" % path, req("GET", path), 404,
           lambda j: j == {"detail": "Not Found"})
expect('DELETE /nope (unknown path, any method): 404 {"detail": "Not Found"}', req("DELETE", "/nope"), 404,
       lambda j: j == {"detail": "Not Found"})

METHODS = {"/tasks/": {"GET", "POST"}, "/tasks/{task_id}": {"GET", "PATCH", "DELETE"},
           "/healthz": {"GET"}, "/readyz": {"GET"}, "/openapi.json": {"GET"}}


def allow_of(r):
    return {m.strip().upper() for m in (r.header("allow") or "").split(",") if m.strip()} - {"HEAD", "OPTIONS"}


for method, path, route in (("PUT", "/tasks/", "/tasks/"), ("DELETE", "/tasks", "/tasks/"), ("PATCH", "/tasks/", "/tasks/"),
                            ("PROPFIND", "/tasks/", "/tasks/"), ("POST", "/tasks/%d" % A, "/tasks/{task_id}"),
                            ("PUT", "/tasks/%d/" % A, "/tasks/{task_id}"), ("POST", "/tasks/abc", "/tasks/{task_id}"),
                            ("DELETE", "/openapi.json", "/openapi.json"), ("POST", "/healthz", "/healthz")):
    r = req(method, path)
    expect("%s %s: 405 with Allow naming %s" % (method, path, ", ".join(sorted(METHODS[route]))), r, 405,
           lambda j, r=r, route=route: isinstance(j.get("detail"), str) and allow_of(r) == METHODS[route])
check("the 405s changed nothing (task %d still at version 2)" % A,
      sql("SELECT version FROM tasks WHERE id = %d" % A) == "2")

# ---- the OpenAPI document ------------------------------------------------------------------------------
r = req("GET", "/openapi.json")
doc = r.json() if r.status == 200 else None
expect("GET /openapi.json: 200, an OpenAPI 3.1.0 document", r, 200,
       lambda j: j.get("openapi") == "3.1.0" and isinstance(j.get("info"), dict) and isinstance(j.get("paths"), dict))
doc = doc if isinstance(doc, dict) and isinstance(doc.get("paths"), dict) else {"paths": {}}
paths = doc["paths"]
verbs = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
doc_methods = {p: {m.upper() for m in ops if m in verbs} for p, ops in paths.items()}
check("it documents exactly the routes taskapi serves, with their methods",
      doc_methods == METHODS, "documented: %s" % doc_methods)
for p, methods in sorted(doc_methods.items()):
    r = req("OPTIONS", p.replace("{task_id}", str(A)))
    check("%s: the methods taskapi allows (Allow) are the documented %s" % (p, sorted(methods)),
          allow_of(r) == methods, "Allow: %r (status %s)" % (r.header("allow"), r.status))
with open(os.path.join(os.environ["TOP"], "docs/openapi.yaml"), encoding="utf-8") as f:
    yaml_text = f.read()
try:
    import yaml  # PyYAML (python3-yaml, installed by script/bootstrap)
except ImportError:
    yaml = None
if yaml is not None:
    check("it is docs/openapi.yaml, as JSON", yaml.safe_load(yaml_text) == doc)
else:
    yaml_paths = set(re.findall(r"(?m)^  (/\S*):\s*$", yaml_text))
    check("it has the same paths as docs/openapi.yaml (no PyYAML here to compare more)", set(paths) == yaml_paths,
          "served %s, yaml %s" % (sorted(paths), sorted(yaml_paths)))


def params(op):
    return {p.get("name") for p in (op or {}).get("parameters", []) if isinstance(p, dict)}


def codes(op):
    return set((op or {}).get("responses", {}))


tl, ti = paths.get("/tasks/", {}), paths.get("/tasks/{task_id}", {})
check("GET /tasks/ documents skip, limit, completed and after_id",
      {"skip", "limit", "completed", "after_id"} <= params(tl.get("get")), str(params(tl.get("get"))))
check("PATCH documents ?completed and If-Match, DELETE If-Match, GET If-None-Match",
      {"completed", "If-Match"} <= params(ti.get("patch")) and "If-Match" in params(ti.get("delete"))
      and "If-None-Match" in params(ti.get("get")))
check("the documented answers: POST 201/413/415/422, GET one 200/304/404/422, PATCH 200/404/412/415/422, DELETE 204/404/412",
      {"201", "413", "415", "422"} <= codes(tl.get("post")) and {"200", "304", "404", "422"} <= codes(ti.get("get"))
      and {"200", "404", "412", "415", "422"} <= codes(ti.get("patch")) and {"204", "404", "412"} <= codes(ti.get("delete")),
      "post %s, get %s, patch %s, delete %s" % (codes(tl.get("post")), codes(ti.get("get")), codes(ti.get("patch")),
                                               codes(ti.get("delete"))))
task_schema = doc.get("components", {}).get("schemas", {}).get("Task", {})
check("the Task schema requires id, title, description, is_completed, created_at, updated_at",
      {"id", "title", "description", "is_completed", "created_at", "updated_at"} <= set(task_schema.get("required", [])))

# ---- an internal failure: 500, generic, the cause in the log ----------------------------------------------
log_at = os.path.getsize(os.environ["APP_LOG"])
sql("RENAME TABLE tasks TO e2e_tasks_away")
try:
    for method, path, body in (("GET", "/tasks/", None), ("GET", "/tasks/%d" % A, None), ("POST", "/tasks/", {"title": "x"}),
                               ("PATCH", "/tasks/%d" % A, {"title": "x"}), ("DELETE", "/tasks/%d" % A, None)):
        r = req(method, path, body)
        expect_sweep("%s %s with the table gone: 500 JSON, generic detail" % (method, path), r, 500)
finally:
    sql("RENAME TABLE e2e_tasks_away TO tasks")
with open(os.environ["APP_LOG"], "rb") as f:
    f.seek(log_at)
    logged = f.read().decode("utf-8", "replace")
check("taskapi's log names the cause (the missing table)", "doesn't exist" in logged or "1146" in logged,
      "log since: %s" % logged[-400:])
expect("the table back: GET /tasks/{id} 200 again", req("GET", "/tasks/%d" % A), 200, lambda j: j["id"] == A)
PY

# ---- MariaDB down: a quick 503 with Retry-After on every route ---------------------------------
headers_503_ok() {
  [ "$CTYPE" = 'application/json; charset=utf-8' ] && [ "$(header Cache-Control)" = no-store ] &&
    [[ $(header Retry-After) =~ ^[0-9]+$ ]]
}
mariadb_stop >/dev/null 2>&1
check 'MariaDB stopped' test -z "$(db_pid || true)"
for req in "GET /tasks/" "GET /tasks/1" "POST /tasks/" "PATCH /tasks/1?completed=true" "DELETE /tasks/1"; do
  method=${req%% *} path=${req#* }
  start=$(date +%s%N)
  if [ "$method" = POST ]; then
    http POST "$path" -H 'Content-Type: application/json' --data-binary '{"title": "db down"}'
  else
    http "$method" "$path"
  fi
  ms=$((($(date +%s%N) - start) / 1000000))
  expect_json "database down: $req answers 503 JSON with a detail (${ms} ms)" 503 'isinstance(j.get("detail"), str)'
  check "database down: $req: Content-Type exact, Cache-Control: no-store, Retry-After in seconds" \
    headers_503_ok
  check "database down: $req answered within 3 s (${ms} ms), not a hang" test "$ms" -lt 3000
done
mariadb_start >/dev/null 2>&1
if wait_for 30 status_is /readyz 200; then
  ok "MariaDB back: /readyz 200 within ${WAITED}s"
else
  not_ok "MariaDB back: /readyz 200 within 30s (last $STATUS)"
fi
http GET /tasks/1
check 'and the tasks answer again (200 or 404, not 503)' test "$STATUS" = 200 -o "$STATUS" = 404

# ---- taskapi down: nginx's 502 is JSON too ---------------------------------------------------------
taskapi_stop >/dev/null 2>&1
http GET /tasks/
expect_json "taskapi down: GET /tasks/ answers $STATUS JSON with a detail (502 or 503)" "$(
  [ "$STATUS" = 503 ] && echo 503 || echo 502)" 'isinstance(j.get("detail"), str)'
check "taskapi down: that answer is exactly application/json; charset=utf-8 with Cache-Control: no-store" \
  test "$CTYPE|$(header Cache-Control)" = 'application/json; charset=utf-8|no-store'
diag "status $STATUS, Content-Type '$CTYPE', Cache-Control '$(header Cache-Control)'"
taskapi_start >/dev/null 2>&1
if wait_for 30 status_is /readyz 200; then
  ok "taskapi restarted: /readyz 200 within ${WAITED}s"
else
  not_ok "taskapi restarted: /readyz 200 within 30s (last $STATUS)"
fi
