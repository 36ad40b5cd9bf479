"""Shared by the Python e2e tests (45-65): HTTP through nginx, TAP lines, SQL.

Each test runs its table in one python3 process (PYTHONPATH=tests/e2e) and
imports everything from here.
"""
import http.client, json, os, re, subprocess, sys, time, urllib.parse

BASE = urllib.parse.urlsplit(os.environ["TASKAPI_URL"])
MYSQL = os.environ["MYSQL"].split()
JSON_CT = "application/json; charset=utf-8"


class Resp:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.raw.decode("utf-8"))
        except Exception:
            return None

    def __str__(self):
        return "%s %s %s" % (self.status, self.header("content-type"), self.raw[:400].decode("utf-8", "replace"))


def req(method, path, body=None, ctype="application/json", headers=None):
    """One request on a fresh connection. body: bytes/str sent as is, anything else as JSON."""
    h = {}
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if body is not None and ctype is not None:
        h["Content-Type"] = ctype
    h.update(headers or {})
    c = http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=15)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        raw = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
    except (OSError, http.client.HTTPException) as e:
        return Resp(0, {}, str(e).encode())
    finally:
        c.close()


def ok(desc):
    print("ok - " + desc, flush=True)
    return True


def not_ok(desc, *diag):
    print("not ok - " + desc)
    for d in diag:
        for line in str(d).splitlines() or [""]:
            print("#   " + line)
    sys.stdout.flush()
    return False


def check(desc, cond, *diag):
    return ok(desc) if cond else not_ok(desc, *diag)


def expect(desc, r, status, pred=None):
    """r has this status, a JSON content type, and pred(parsed body) is true."""
    j = r.json()
    if r.status != status or not (r.header("content-type") or "").startswith("application/json") or j is None:
        return not_ok(desc, "expected %s JSON, got: %s" % (status, r))
    try:
        good = pred is None or pred(j)
    except Exception as e:  # a body of another shape
        return not_ok(desc, "check raised %r on: %s" % (e, r))
    return check(desc, good, "body: %s" % r)


def problem_keys(j):
    keys = []
    for it in j.get("detail") if isinstance(j, dict) and isinstance(j.get("detail"), list) else [None]:
        if not (isinstance(it, dict) and isinstance(it.get("type"), str) and isinstance(it.get("msg"), str)
                and it["msg"] and isinstance(it.get("loc"), list) and it["loc"]
                and all(isinstance(p, (str, int)) for p in it["loc"])):
            keys.append("MALFORMED:%r" % (it,))
            continue
        loc = it["loc"]
        if it["type"] == "json_invalid" and len(loc) == 2 and isinstance(loc[1], int):
            loc = loc[:1]  # the position in the body
        keys.append(".".join(str(p) for p in loc) + ":" + it["type"])
    return sorted(keys)


def problems(desc, r, *want, exact=True):
    """r is a 422 JSON in the seed's shape listing these problems ("loc.parts:type")."""
    j = r.json()
    if r.status != 422 or j is None:
        return not_ok(desc, "expected 422 JSON, got: %s" % r)
    got = problem_keys(j)
    good = got == sorted(want) if exact else all(w in got for w in want) and not any(g.startswith("MALFORMED") for g in got)
    return check(desc, good, "wanted: %s" % sorted(want), "got:    %s" % got, "body: %s" % r)


def sql(query):
    out = subprocess.run(MYSQL + ["--batch", "--skip-column-names", "-e", query],
                         capture_output=True, check=False)
    if out.returncode != 0:
        print("#   sql failed: %s: %s" % (query[:200], out.stderr.decode(errors="replace")))
    return out.stdout.decode("utf-8", "replace").strip()
