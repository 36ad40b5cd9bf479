#!/usr/bin/env bash
# 46-etags: entity tags per RFC 9110 §13.1 through nginx. If-Match compares strongly:
# W/"N", "0N" and "N"garbage never match (412, the task unchanged), lists and "*"
# do. If-None-Match compares weakly (W/"N" matches "N"): 304 on GET, 412 on PATCH and
# DELETE, "If-None-Match: *" included, which the writes used to ignore. A field that
# does not parse matches nothing. A missing task is a 404 whatever the preconditions.
# Uses only the tasks it creates.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # req, ok, not_ok, check, expect, sql, ...


def version(tid):
    return sql("SELECT version FROM tasks WHERE id = %d" % tid)


def exists(tid):
    return sql("SELECT COUNT(*) FROM tasks WHERE id = %d" % tid) == "1"


r = req("POST", "/tasks/", {"title": "etags"})
expect("POST: 201 with the task", r, 201, lambda j: j["title"] == "etags")
tid = (r.json() or {}).get("id", 0)
check('the new task\'s ETag is strong, "1"', r.header("etag") == '"1"', "ETag: %r" % r.header("etag"))

# ---- GET + If-None-Match: weak comparison ---------------------------------------------------
for field, status, why in [
    ('"1"', 304, "the current tag"),
    ('W/"1"', 304, "its weak form (weak comparison)"),
    ('"7", W/"1"', 304, "a list holding it"),
    ('*', 304, '"*" (the task exists)'),
    (' , "1" ,', 304, "empty list elements ignored"),
    ('"01"', 200, '"01" is not "1"'),
    ('"1"garbage', 200, "a field that does not parse matches nothing"),
    ('"2"', 200, "another tag"),
]:
    r = req("GET", "/tasks/%d" % tid, headers={"If-None-Match": field})
    check("GET with If-None-Match: %s: %d (%s)" % (field, status, why), r.status == status, str(r))
    if status == 304:
        check("  ... the 304 has no body and the current ETag", r.raw == b"" and r.header("etag") == '"1"', str(r))

# ---- PATCH + If-Match: strong comparison ------------------------------------------------------
for field, why in [
    ('W/"1"', "a weak tag never matches strongly"),
    ('"01"', '"01" is not "1"'),
    ('"1"garbage', "an If-Match that does not parse matches nothing"),
    ('"1" "2"', "two tags without a comma do not parse"),
    ('W/"1", "2"', "a list of a weak match and a stale tag"),
    ('1', "a bare token is no entity tag"),
    ('*, "1"', '"*" inside a list does not parse'),
]:
    r = req("PATCH", "/tasks/%d" % tid, {"title": "must not land"}, headers={"If-Match": field})
    expect("PATCH with If-Match: %s: 412 (%s)" % (field, why), r, 412, lambda j: isinstance(j.get("detail"), str))
check("  ... and the task is unchanged (version 1)", version(tid) == "1", version(tid))

r = req("PATCH", "/tasks/%d" % tid, {"title": "v2"}, headers={"If-Match": '"1"'})
expect('PATCH with If-Match: "1" (current): 200', r, 200, lambda j: j["title"] == "v2")
check('  ... ETag "2"', r.header("etag") == '"2"', "ETag: %r" % r.header("etag"))
r = req("PATCH", "/tasks/%d" % tid, {"title": "v3"}, headers={"If-Match": '"x", W/"2", "2"'})
expect('PATCH with If-Match: "x", W/"2", "2" (a list holding the strong current tag): 200', r, 200,
       lambda j: j["title"] == "v3")
r = req("PATCH", "/tasks/%d" % tid, {"title": "v4"}, headers={"If-Match": "*"})
expect("PATCH with If-Match: * on an existing task: 200", r, 200, lambda j: j["title"] == "v4")
check("  ... version 4 stored", version(tid) == "4", version(tid))

# ---- PATCH + If-None-Match --------------------------------------------------------------------
for field, why in [
    ("*", '"*": the task exists'),
    ('"4"', "the current tag"),
    ('W/"4"', "its weak form (weak comparison)"),
    ('"9", "4"', "a list holding it"),
]:
    r = req("PATCH", "/tasks/%d" % tid, {"title": "must not land"}, headers={"If-None-Match": field})
    expect("PATCH with If-None-Match: %s: 412 (%s)" % (field, why), r, 412, lambda j: isinstance(j.get("detail"), str))
check("  ... and the task is unchanged (version 4)", version(tid) == "4", version(tid))
r = req("PATCH", "/tasks/%d" % tid, {"title": "v5"}, headers={"If-None-Match": '"3"'})
expect('PATCH with If-None-Match: "3" (not current): 200', r, 200, lambda j: j["title"] == "v5")
r = req("PATCH", "/tasks/%d" % tid, {"title": "v6"}, headers={"If-None-Match": '"5"garbage'})
expect('PATCH with an If-None-Match that does not parse: it matches nothing, 200', r, 200,
       lambda j: j["title"] == "v6")
r = req("PATCH", "/tasks/%d" % tid, {"title": "must not land"},
        headers={"If-Match": '"6"', "If-None-Match": "*"})
expect('PATCH with If-Match: "6" (current) and If-None-Match: *: 412 (both are evaluated)', r, 412)
check("  ... version 6 stored", version(tid) == "6", version(tid))

# ---- DELETE -----------------------------------------------------------------------------------
r = req("DELETE", "/tasks/%d" % tid, headers={"If-None-Match": "*"})
expect("DELETE with If-None-Match: * on an existing task: 412", r, 412)
r = req("DELETE", "/tasks/%d" % tid, headers={"If-Match": 'W/"6"'})
expect('DELETE with If-Match: W/"6": 412', r, 412)
r = req("DELETE", "/tasks/%d" % tid, headers={"If-Match": '"06"'})
expect('DELETE with If-Match: "06": 412', r, 412)
check("  ... the task still exists", exists(tid))
r = req("DELETE", "/tasks/%d" % tid, headers={"If-Match": '"6"'})
check('DELETE with If-Match: "6" (current): 204', r.status == 204, str(r))
check("  ... the task is gone", not exists(tid))
for h in ({"If-Match": "*"}, {"If-Match": '"6"'}, {"If-None-Match": "*"}):
    r = req("DELETE", "/tasks/%d" % tid, headers=h)
    expect("DELETE of a missing task with %s: 404 (a 404 ignores preconditions)" % h, r, 404)
    r = req("PATCH", "/tasks/%d" % tid, {"title": "x"}, headers=h)
    expect("PATCH of a missing task with %s: 404" % h, r, 404)
PY
