#!/usr/bin/env bash
# 31-owner-isolation: two owners against every task route, as an attacker would try
# it. An instance in auth.mode = remote_user (the identity is the REMOTE_USER param,
# sent here straight over FastCGI) serves alice and bob: each sees, lists, changes and
# deletes only their own tasks; the other's task is a 404 exactly like a task that does
# not exist (never 403, 409 or 412, which would disclose it) and stays unchanged in
# MariaDB, whatever the route, filter, cursor, body form or precondition. Also: the
# owner column holds the caller, a request without REMOTE_USER is a 401, the per-owner
# quota (409), and the stack's none-mode instance (owner "local") sees neither.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"
export MYSQL

# Its owners' tasks go when it ends: later tests count the stack owner's tasks.
at_exit "sql \"DELETE FROM tasks WHERE owner LIKE '%-$$'\""
ini=$(instance_config owners)
root_args
start_owners() { # NAME SOCKET EXTRA-SETS...
  local name=$1 sock=$2
  shift 2
  # The test writes REMOTE_USER itself, so the socket check is waived for this socket.
  ta_start "$name" "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
    --set server.workers=1 --set server.threads=2 --set auth.mode=remote_user \
    --set auth.remote_user_any_socket=true "$@"
  wait_for 20 fcgi_ok "$sock" || diag "$name did not answer: $(tail -n 5 "$E2E_TMP/$name.log")"
}
start_owners owners "$E2E_TMP/owners.sock"
start_owners quota "$E2E_TMP/quota.sock" --set auth.max_tasks_per_owner=2

SOCK=$E2E_TMP/owners.sock QUOTA_SOCK=$E2E_TMP/quota.sock RUN=$$ \
  PYTHONPATH="$E2E_DIR" python3 - <<'PY'
import json, os, sys
import fcgi_peer as fp
from e2e_client import Resp, ok, not_ok, check, expect, sql, req

SOCK, QUOTA_SOCK, RUN = os.environ["SOCK"], os.environ["QUOTA_SOCK"], os.environ["RUN"]
ALICE, BOB = "alice-" + RUN, "bob-" + RUN


def freq(user, method, uri, body=None, headers=(), sock=None, ctype="application/json"):
    """One request over FastCGI as user (None: no REMOTE_USER); headers as (CGI name, value)."""
    raw = json.dumps(body).encode() if body is not None else b""
    extra = list(headers)
    if user is not None:
        extra.append((b"REMOTE_USER", user.encode()))
    if raw and ctype != "application/json":
        extra.append((b"CONTENT_TYPE", ctype.encode()))
    s = fp.connect(sock or SOCK, 10)
    try:
        s.sendall(fp.request(method.encode(), uri.encode(), raw, extra))
        answer = fp.read_answer(s, 10)
    finally:
        s.close()
    if answer is None:
        return Resp(0, {}, b"no answer")
    head, _, payload = answer.partition(b"\r\n\r\n")
    hdrs = {}
    for line in head.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        hdrs[name.strip().lower()] = value.strip()
    return Resp(fp.status_of(answer), hdrs, payload)


def make(user, title, **fields):
    r = freq(user, "POST", "/tasks/", dict(title=title, **fields))
    expect("%s creates %r" % (user.split("-")[0], title), r, 201, lambda j: j["title"] == title)
    return (r.json() or {}).get("id", 0)


def row(tid):
    return sql("SELECT owner, title, is_completed, version FROM tasks WHERE id = %d" % tid)


def ids(r):
    j = r.json()
    return [t["id"] for t in j] if isinstance(j, list) else None


a1 = make(ALICE, "a1")
a2 = make(ALICE, "a2", is_completed=True)
b1 = make(BOB, "b1")
check("the owner column holds who created each task",
      sql("SELECT owner FROM tasks WHERE id = %d" % a1) == ALICE and sql("SELECT owner FROM tasks WHERE id = %d" % b1) == BOB)
a1_before, a2_before = row(a1), row(a2)

# ---- GET one: the other's task is the same 404 as a task that does not exist -------------------
r = freq(ALICE, "GET", "/tasks/%d" % a1)
expect("alice reads her task", r, 200, lambda j: j["id"] == a1)
missing = freq(BOB, "GET", "/tasks/999999999999")
for uri in ["/tasks/%d" % a1, "/tasks/%d/" % a1]:
    r = freq(BOB, "GET", uri)
    check("bob GET %s: 404, byte for byte the answer for a missing task" % uri.replace(str(a1), "<alice's>"),
          r.status == 404 and r.raw == missing.raw and r.header("etag") is None, str(r))
r = freq(BOB, "HEAD", "/tasks/%d" % a1)
check("bob HEAD alice's task: 404", r.status == 404, str(r))
r = freq(BOB, "GET", "/tasks/%d" % a1, headers=[(b"HTTP_IF_NONE_MATCH", b'"1"')])
check("bob GET alice's task with If-None-Match: 404, not 304", r.status == 404, str(r))

# ---- list, with every filter, the keyset cursor and the Link header ---------------------------
for q in ["", "?completed=true", "?completed=false", "?after_id=0", "?after_id=%d" % (a1 - 1),
          "?skip=0&limit=100", "?completed=false&after_id=0&limit=100"]:
    ra, rb = freq(ALICE, "GET", "/tasks/" + q), freq(BOB, "GET", "/tasks/" + q)
    want_a = [t for t, done in [(a1, False), (a2, True)] if
              ("completed=true" not in q or done) and ("completed=false" not in q or not done)]
    want_b = [] if "completed=true" in q else [b1]
    check("list %s: alice gets exactly hers %s" % (q or "(no query)", want_a), ids(ra) == want_a, str(ra))
    check("list %s: bob gets exactly his %s" % (q or "(no query)", want_b), ids(rb) == want_b, str(rb))
r = freq(ALICE, "GET", "/tasks/?limit=1")
link = r.header("link") or ""
check("alice's first page of one links a next page", ids(r) == [a1] and "after_id=%d" % a1 in link, str(r), link)
r = freq(BOB, "GET", "/tasks/?limit=1&after_id=%d" % a1)
check("bob following alice's cursor gets only his own", ids(r) == [b1], str(r))
r = freq(ALICE, "GET", "/tasks/?limit=1&after_id=%d" % a1)
check("alice's next page is her second task, never bob's", ids(r) == [a2], str(r))

# ---- PATCH (JSON and merge-patch, with and without If-Match) and DELETE -------------------------
attempts = [
    ("PATCH", {"title": "pwned"}, "application/json", []),
    ("PATCH", {"is_completed": True}, "application/merge-patch+json", []),
    ("PATCH", {"title": "pwned"}, "application/json", [(b"HTTP_IF_MATCH", b'"1"')]),
    ("PATCH", {"title": "pwned"}, "application/json", [(b"HTTP_IF_MATCH", b'"7"')]),
    ("PATCH", {"title": "pwned"}, "application/json", [(b"HTTP_IF_MATCH", b"*")]),
    ("PATCH", {"title": "pwned"}, "application/json", [(b"HTTP_IF_NONE_MATCH", b"*")]),
    ("DELETE", None, "application/json", []),
    ("DELETE", None, "application/json", [(b"HTTP_IF_MATCH", b'"1"')]),
    ("DELETE", None, "application/json", [(b"HTTP_IF_MATCH", b'"9"')]),
    ("DELETE", None, "application/json", [(b"HTTP_IF_MATCH", b"*")]),
]
for method, body, ctype, hdrs in attempts:
    for tid in (a1, a2):
        r = freq(BOB, method, "/tasks/%d" % tid, body, hdrs, ctype=ctype)
        what = "%s %s %s" % (method, ctype.split("/")[1], " ".join(h[0].decode() + "=" + h[1].decode() for h in hdrs))
        check("bob %s on alice's task: 404" % what, r.status == 404 and r.raw == missing.raw, str(r))
check("alice's tasks are unchanged in MariaDB after bob's attempts", row(a1) == a1_before and row(a2) == a2_before,
      row(a1), row(a2))

# Her own writes still work, and bob's view of them is still nothing.
r = freq(ALICE, "PATCH", "/tasks/%d" % a1, {"title": "a1 v2"}, [(b"HTTP_IF_MATCH", b'"1"')])
expect("alice PATCHes her task with If-Match", r, 200, lambda j: j["title"] == "a1 v2")
r = freq(BOB, "DELETE", "/tasks/%d" % b1, None, [(b"HTTP_IF_MATCH", b'"1"')])
check("bob DELETEs his own task", r.status == 204, str(r))
r = freq(ALICE, "GET", "/tasks/%d" % b1)
check("bob's deleted task is a 404 for alice too", r.status == 404, str(r))
r = freq(ALICE, "DELETE", "/tasks/%d" % a2)
check("alice DELETEs her task", r.status == 204, str(r))

# ---- no identity -------------------------------------------------------------------------------
for method, uri in [("GET", "/tasks/"), ("GET", "/tasks/%d" % a1), ("POST", "/tasks/")]:
    r = freq(None, method, uri, {"title": "x"} if method == "POST" else None)
    expect("%s %s without REMOTE_USER: 401" % (method, uri.replace(str(a1), "<id>")), r, 401,
           lambda j: "REMOTE_USER" in j["detail"])
    check("... with a challenge", (r.header("www-authenticate") or "").startswith("Basic realm="), str(r.headers))
r = freq("bad user", "GET", "/tasks/")
check("an owner name with a space: 401", r.status == 401, str(r))
r = freq(None, "GET", "/healthz")
check("/healthz needs no identity", r.status == 200, str(r))

# ---- the quota is per owner ----------------------------------------------------------------------
carol, dave = "carol-" + RUN, "dave-" + RUN
made = [freq(carol, "POST", "/tasks/", {"title": "q%d" % i}, sock=QUOTA_SOCK) for i in range(3)]
check("carol's first two creates: 201", [m.status for m in made[:2]] == [201, 201], *map(str, made))
expect("carol's third create: 409 naming the limit", made[2], 409, lambda j: "at most 2 tasks" in j["detail"])
check("nothing was written for the refused create",
      sql("SELECT COUNT(*) FROM tasks WHERE owner = '%s'" % carol) == "2")
r = freq(dave, "POST", "/tasks/", {"title": "d"}, sock=QUOTA_SOCK)
check("dave still may create", r.status == 201, str(r))
first = (made[0].json() or {}).get("id", 0)
freq(carol, "DELETE", "/tasks/%d" % first, sock=QUOTA_SOCK)
r = freq(carol, "POST", "/tasks/", {"title": "again"}, sock=QUOTA_SOCK)
check("after a delete carol has room again", r.status == 201, str(r))

# ---- the stack's own taskapi (auth.mode = none, owner "local") sees none of it -----------------
r = req("GET", "/tasks/%d" % a1)
check("through nginx, mode none: alice's task is a 404", r.status == 404, str(r))
r = req("GET", "/tasks/?limit=100&after_id=%d" % (a1 - 1))
check("... and not in the list", r.status == 200 and a1 not in (ids(r) or []), str(r))
PY
