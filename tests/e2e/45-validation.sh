#!/usr/bin/env bash
# 45-validation: every validation rule of the Task API answers 422 in the seed's shape
# {"detail": [{"type", "loc", "msg", "input"?}, ...]}, with the right loc and type, and
# lists every problem, not just the first: the body fields of POST and PATCH (title,
# description, is_completed, unknown PATCH fields, NUL), the query parameters of GET
# /tasks/ and PATCH, and path ids. Refused requests change nothing. The limits are
# tested from both sides (50 / 51 code points, 255 / 256). The stack runs the default
# input rules (lax, as the seed: e2e 28 has the lax/strict matrix), so the booleans
# refused here are the ones no mode takes, and unknown POST fields are ignored.
#
# Table-driven in Python (stdlib http.client): one process instead of one per check.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
from e2e_client import *  # TASKAPI_URL, MYSQL, req, ok, not_ok, check, expect, problems, sql, ...

# ---------------------------------------------------------------------------------------


def post(body, **kw):
    return req("POST", "/tasks/", body, **kw)


def count():
    return sql("SELECT COUNT(*) FROM tasks")


def row(task_id):
    return sql("SELECT CONCAT_WS('|', title, IFNULL(description, 'NULL'), is_completed, version) "
               "FROM tasks WHERE id = %d" % task_id)


def created(desc, r):
    """r is a 201 with a task; returns its id (0 when not)."""
    j = r.json()
    if r.status == 201 and isinstance(j, dict) and isinstance(j.get("id"), int):
        ok(desc)
        return j["id"]
    not_ok(desc, "expected 201, got: %s" % r)
    return 0


# ---- POST: title ------------------------------------------------------------------------
n0 = count()
problems("POST {}: 422 body.title missing", post({}), "body.title:missing")
problems("POST without title (other fields fine): 422 body.title missing",
         post({"description": "no title", "is_completed": False}), "body.title:missing")
for bad in (5, None, True, [], {}, ["a"], 1.5):
    problems("POST title %s: 422 body.title string_type" % json.dumps(bad), post({"title": bad}),
             "body.title:string_type")
for bad, what in (("", '""'), ("   ", "of spaces"), ("\t\n\r ", "of tab/newline/CR"),
                  ("\u3000\u00a0\u2003", "of Unicode spaces (ideographic, no-break, em)")):
    problems("POST title %s: 422 body.title string_too_short (needs a non-whitespace character)" % what,
             post({"title": bad}), "body.title:string_too_short")
problems("POST title of 51 ASCII characters: 422 body.title string_too_long",
         post({"title": "x" * 51}), "body.title:string_too_long")
problems("POST title of 51 emoji (51 code points): 422 string_too_long",
         post({"title": "🎉" * 51}), "body.title:string_too_long")
problems("POST title of 26 e + combining accent (52 code points): 422 string_too_long (code points, not graphemes)",
         post({"title": "e\u0301" * 26}), "body.title:string_too_long")
problems("POST title with a NUL (\\u0000): 422 body.title string_pattern_mismatch",
         post('{"title": "a\\u0000b"}'), "body.title:string_pattern_mismatch")
problems("POST title that is only a NUL: 422 on body.title",
         post('{"title": "\\u0000"}'), "body.title:string_pattern_mismatch")

# ---- POST: description, is_completed, unknown fields -------------------------------------
problems("POST description of 256 characters: 422 body.description string_too_long",
         post({"title": "v", "description": "d" * 256}), "body.description:string_too_long")
problems("POST description of 256 two-byte characters: 422 string_too_long",
         post({"title": "v", "description": "ü" * 256}), "body.description:string_too_long")
for bad in (5, True, [], {"a": 1}):
    problems("POST description %s: 422 body.description string_type" % json.dumps(bad),
             post({"title": "v", "description": bad}), "body.description:string_type")
problems("POST description with a NUL: 422 body.description string_pattern_mismatch",
         post('{"title": "v", "description": "x\\u0000y"}'), "body.description:string_pattern_mismatch")
for bad in (None, [], {"a": 1}, 0.5):
    problems("POST is_completed %s: 422 body.is_completed bool_type" % json.dumps(bad),
             post({"title": "v", "is_completed": bad}), "body.is_completed:bool_type")
for bad in (2, -1, "maybe", "", "truee"):
    problems("POST is_completed %s: 422 body.is_completed bool_parsing" % json.dumps(bad),
             post({"title": "v", "is_completed": bad}), "body.is_completed:bool_parsing")
problems('POST {"Title": ...} (names are case-sensitive): title missing (the unknown Title is ignored)',
         post({"Title": "v"}), "body.title:missing")

# ---- POST: every problem listed -----------------------------------------------------------
problems("POST with three problems and two unknown fields: the three listed",
         post({"title": "", "description": 7, "is_completed": "x", "foo": 1, "bar": None}),
         "body.title:string_too_short", "body.description:string_type", "body.is_completed:bool_parsing")
problems("POST with no title, a long description and a non-boolean: three problems",
         post({"description": "d" * 300, "is_completed": None}),
         "body.title:missing", "body.description:string_too_long", "body.is_completed:bool_type")
r = post('{"title": "%s", "description": "a\\u0000"}' % ("x" * 60))
problems("POST with a long title and a NUL in the description: both listed", r,
         "body.title:string_too_long", "body.description:string_pattern_mismatch")
expect('the string_too_long item echoes the refused title as "input"', r, 422,
       lambda j: any(d.get("input") == "x" * 60 for d in j["detail"] if d["loc"] == ["body", "title"]))
n1 = count()
check("no refused POST stored a row (%s rows before and after)" % n0, n1 == n0, "after: %s" % n1)

# ---- POST: the limits, accepted side ---------------------------------------------------------
created("POST title of exactly 50 ASCII characters: 201", post({"title": "x" * 50}))
i = created("POST title of 50 emoji (50 code points, 200 bytes): 201", post({"title": "🎉" * 50}))
check("stored as 50 characters, 200 bytes", sql("SELECT CONCAT(CHAR_LENGTH(title), ' ', LENGTH(title)) "
                                               "FROM tasks WHERE id = %d" % i) == "50 200")
created("POST title of 25 e + combining accent (50 code points): 201", post({"title": "e\u0301" * 25}))
i = created("POST title with surrounding spaces: 201 (one non-whitespace character is enough)",
            post({"title": " x "}))
check("the spaces are kept, not trimmed", sql("SELECT CONCAT('[', title, ']') FROM tasks WHERE id = %d" % i) == "[ x ]")
created("POST description of exactly 255 characters: 201", post({"title": "v", "description": "d" * 255}))
i = created("POST description of 255 emoji (1020 bytes): 201", post({"title": "v", "description": "😀" * 255}))
check("stored as 255 characters", sql("SELECT CHAR_LENGTH(description) FROM tasks WHERE id = %d" % i) == "255")
i = created('POST description "": 201', post({"title": "v", "description": ""}))
check('an empty description stays "", not NULL',
      sql("SELECT CONCAT('[', description, ']') FROM tasks WHERE id = %d" % i) == "[]")
created("POST description of spaces: 201 (a description may be blank)", post({"title": "v", "description": "   "}))

# ---- PATCH: body fields ---------------------------------------------------------------------
P = created("a task to PATCH", post({"title": "validation: patch me", "description": "keep"}))
before = row(P)


def patch(body, query="", **kw):
    return req("PATCH", "/tasks/%d%s" % (P, query), body, **kw)


for body, want, what in (
        ({"title": ""}, "body.title:string_too_short", 'title ""'),
        ({"title": " \t "}, "body.title:string_too_short", "blank title"),
        ({"title": None}, "body.title:string_type", "title null (a title cannot be cleared)"),
        ({"title": "y" * 51}, "body.title:string_too_long", "title of 51 characters"),
        ({"description": "y" * 256}, "body.description:string_too_long", "description of 256 characters"),
        ({"description": 5}, "body.description:string_type", "description 5"),
        ('{"title": "a\\u0000"}', "body.title:string_pattern_mismatch", "title with a NUL"),
        ({"is_completed": "maybe"}, "body.is_completed:bool_parsing", 'is_completed "maybe"'),
        ({"is_completed": None}, "body.is_completed:bool_type", "is_completed null"),
        ({"done": True}, "body.done:extra_forbidden", "an unknown field"),
        ({"id": 1}, "body.id:extra_forbidden", '{"id": 1}'),
        ({"title": "valid", "description": 5}, "body.description:string_type", "one good and one bad field"),
):
    problems("PATCH %s: 422 %s" % (what, want), patch(body), want)
problems("PATCH with four problems: all four listed",
         patch({"title": "", "description": [], "is_completed": 2, "x": 1}),
         "body.title:string_too_short", "body.description:string_type", "body.is_completed:bool_parsing",
         "body.x:extra_forbidden")
check("no refused PATCH changed the row (not even the good field of a bad body)", row(P) == before,
      "before %s, after %s" % (before, row(P)))

# ---- PATCH: the query, alone and with a body ---------------------------------------------------
r = req("PATCH", "/tasks/%d" % P)
problems("PATCH with neither ?completed nor a body: 422 naming completed as missing", r,
         "query.completed:missing", exact=False)
for bad in ("maybe", "2", "", "tru", "yess", "-1", "null"):
    problems("PATCH ?completed=%s: 422 query.completed bool_parsing" % bad,
             req("PATCH", "/tasks/%d?completed=%s" % (P, bad)), "query.completed:bool_parsing")
problems("PATCH ?completed=true with body is_completed false: 422 (they disagree)",
         patch({"is_completed": False}, "?completed=true"), "query.completed:value_error")
r = patch({"is_completed": True, "title": "disagree"}, "?completed=0")
expect("PATCH ?completed=0 with is_completed true: 422", r, 422)
problems("PATCH with a bad ?completed and a bad body field: both listed",
         patch({"title": 5}, "?completed=maybe"), "query.completed:bool_parsing", "body.title:string_type")
check("after all the refused PATCHes the row is unchanged (title, description, version)", row(P) == before,
      "before %s, after %s" % (before, row(P)))

# ---- GET /tasks/: query parameters ---------------------------------------------------------------
cases = [("skip=" + v, "query.skip:int_parsing") for v in ("abc", "1.5", "1e3", "0x10", "", "%201", "one")]
cases += [("skip=-1", "query.skip:greater_than_equal"),
          ("skip=99999999999999999999", "query.skip:less_than_equal"),
          ("limit=0", "query.limit:greater_than_equal"), ("limit=-5", "query.limit:greater_than_equal"),
          ("limit=99999999999999999999", "query.limit:less_than_equal"),
          ("limit=18446744073709551616", "query.limit:less_than_equal")]
cases += [("limit=" + v, "query.limit:int_parsing") for v in ("abc", "10.0", "", "ten")]
cases += [("after_id=" + v, "query.after_id:int_parsing") for v in ("x", "1.5", "")]
cases += [("after_id=-1", "query.after_id:greater_than_equal"),
          ("after_id=99999999999999999999", "query.after_id:less_than_equal")]
cases += [("completed=" + v, "query.completed:bool_parsing") for v in ("maybe", "2", "", "truee")]
for q, want in cases:
    problems("GET /tasks/?%s: 422 %s" % (q, want), req("GET", "/tasks/?" + q), want)
problems("GET with four bad parameters: all four listed",
         req("GET", "/tasks/?skip=abc&limit=0&after_id=x&completed=maybe"),
         "query.skip:int_parsing", "query.limit:greater_than_equal", "query.after_id:int_parsing",
         "query.completed:bool_parsing")
r = req("GET", "/tasks/?skip=-1&limit=99999999999999999999")
problems("GET with a negative skip and an overflowing limit: both listed", r,
         "query.skip:greater_than_equal", "query.limit:less_than_equal")
expect('the 422 echoes each refused value as "input"', r, 422,
       lambda j: sorted(d.get("input") for d in j["detail"]) == ["-1", "99999999999999999999"])
# A value that is not an integer because of what it decodes to is still a 422 on that
# parameter (as FastAPI, which decodes leniently, answers), not a 400 for the request.
problems("GET /tasks/?limit=1%00 (a NUL in the value): 422 on query.limit",
         req("GET", "/tasks/?limit=1%00"), "query.limit:int_parsing")
problems("GET /tasks/?limit=%zz (not valid percent-encoding): 422 on query.limit",
         req("GET", "/tasks/?limit=%zz"), "query.limit:int_parsing")
expect("GET /tasks/?limit=1000 (above the maximum): 200, clamped, not refused",
       req("GET", "/tasks/?limit=1000"), 200, lambda j: isinstance(j, list) and len(j) <= 100)
expect("all four parameters valid at once: 200 and a list",
       req("GET", "/tasks/?skip=0&limit=1&after_id=0&completed=false"), 200, lambda j: isinstance(j, list))

# ---- path ids ---------------------------------------------------------------------------------------
# Not a positive integer in range: 422 on path.task_id (404 is allowed too), never a 500.
for pid, kind in (("abc", "int_parsing"), ("0", "greater_than_equal"), ("-1", "greater_than_equal"),
                  ("99999999999999999999", "less_than_equal"), ("9223372036854775808", "less_than_equal"),
                  ("1.5", "int_parsing"), ("1e3", "int_parsing"), ("0x1", "int_parsing"), ("%20", "int_parsing"),
                  ("1%20OR%201=1", "int_parsing"), ("%FF", "int_parsing"), ("%E2%82%AC", "int_parsing")):
    for method in ("GET", "PATCH", "DELETE"):
        r = req(method, "/tasks/" + pid, {"title": "x"} if method == "PATCH" else None)
        if r.status == 404:
            expect("%s /tasks/%s: 404 Task not found (allowed)" % (method, pid), r, 404,
                   lambda j: j == {"detail": "Task not found"})
        else:
            problems("%s /tasks/%s: 422 path.task_id %s" % (method, pid, kind), r, "path.task_id:" + kind)
check("no refused PATCH or DELETE changed the table", row(P) == before and count() == str(int(n1) + 9),
      "row %s, count %s" % (row(P), count()))

# Every problem listed means path, query and body problems together, as FastAPI lists them.
problems('PATCH /tasks/abc?completed=maybe with body {"title": 5}: all three problems listed',
         req("PATCH", "/tasks/abc?completed=maybe", {"title": 5}),
         "path.task_id:int_parsing", "query.completed:bool_parsing", "body.title:string_type")
PY
