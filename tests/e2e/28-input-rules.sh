#!/usr/bin/env bash
# 28-input-rules: [api] strict, both ways, through nginx. Default (lax, pydantic v2's
# rules, as the seed): a boolean (?completed= on GET /tasks/ and PATCH, is_completed
# in a POST or PATCH body) is also 0/1 (0.0/1.0 in a body) or one of true false 1 0
# yes no on off t f y n in any case; 2, "maybe", null, a list stay 422 with pydantic's
# type (bool_parsing for a string or number it cannot read, bool_type for the rest)
# and message; unknown POST fields are ignored, id/created_at/updated_at/version
# included (they change nothing); an unknown PATCH field is still a 422; an ignored
# field still counts in an Idempotency-Key's fingerprint. Strict (a second instance
# with --set api.strict=true behind its own nginx): the same requests answer as
# before the lax rules — JSON booleans only in a body, the one-letter words refused
# in a query, unknown POST fields 422 extra_forbidden.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"
export MYSQL

# The tasks this test creates go when it ends (later tests count every task).
: >"$E2E_TMP/ids"
at_exit "ids=\$(paste -sd, '$E2E_TMP/ids'); [ -z \"\$ids\" ] || sql \"DELETE FROM tasks WHERE id IN (\$ids)\""

matrix() {
  PYTHONPATH="$E2E_DIR" MODE=$1 IDS_FILE=$E2E_TMP/ids TASKAPI_URL=$2 python3 - <<'PY'
import os
from e2e_client import *  # req, ok, not_ok, check, expect, problems, sql, ...

MODE = os.environ["MODE"]
STRICT = MODE == "strict"
PARSING = "Input should be a valid boolean, unable to interpret input"
TYPE = "Input should be a valid boolean"
WORDS = [("true", True), ("false", False), ("1", True), ("0", False), ("yes", True), ("no", False),
         ("on", True), ("off", False), ("t", True), ("f", False), ("y", True), ("n", False)]
SHORT = {"t", "f", "y", "n"}  # the spellings the strict rules refuse in a query
ids = open(os.environ["IDS_FILE"], "a")


def post(body, **kw):
    r = req("POST", "/tasks/", body, **kw)
    j = r.json()
    if r.status == 201 and isinstance(j, dict) and isinstance(j.get("id"), int):
        ids.write("%d\n" % j["id"])
        ids.flush()
    return r


def one_problem(desc, r, loc, typ, msg, value):
    """r is a 422 with exactly one item: this loc, type, message and echoed input."""
    expect(desc, r, 422, lambda j: len(j["detail"]) == 1 and j["detail"][0]["loc"] == loc
           and j["detail"][0]["type"] == typ and j["detail"][0]["msg"] == msg
           and j["detail"][0].get("input") == value)


def row(task_id):
    return sql("SELECT CONCAT_WS('|', title, is_completed, version) FROM tasks WHERE id = %d" % task_id)


print("# mode: %s, %s" % (MODE, os.environ["TASKAPI_URL"]))

# ---- is_completed in a POST body ----------------------------------------------------------------
lax_ok = [(w, v) for w, v in WORDS] + [(w.upper(), v) for w, v in WORDS] + [("On", True), ("fAlSe", False)]
for word, want in lax_ok:
    r = post({"title": "rules: %s" % word, "is_completed": word})
    if STRICT:
        one_problem('%s: POST is_completed "%s": 422 bool_type' % (MODE, word), r,
                    ["body", "is_completed"], "bool_type", TYPE, word)
    else:
        expect('%s: POST is_completed "%s": 201, is_completed %s' % (MODE, word, want), r, 201,
               lambda j: j["is_completed"] is want)
for raw, want in (("1", True), ("0", False), ("1.0", True), ("0.0", False), ("-0", False)):
    r = post('{"title": "rules: number", "is_completed": %s}' % raw)
    if STRICT:
        one_problem("%s: POST is_completed %s: 422 bool_type" % (MODE, raw), r,
                    ["body", "is_completed"], "bool_type", TYPE, json.loads(raw))
    else:
        expect("%s: POST is_completed %s: 201, is_completed %s" % (MODE, raw, want), r, 201,
               lambda j: j["is_completed"] is want)
for raw in ("true", "false"):
    expect("%s: POST is_completed %s: 201" % (MODE, raw),
           post('{"title": "rules: bool", "is_completed": %s}' % raw), 201,
           lambda j: j["is_completed"] is (raw == "true"))
# Never a boolean. Lax: a string or a whole number it cannot read is bool_parsing, any
# other kind bool_type (pydantic's split); strict: all bool_type.
n0 = sql("SELECT COUNT(*) FROM tasks")
for value, lax_type in ((2, "bool_parsing"), (-1, "bool_parsing"), (2.0, "bool_parsing"),
                        ("maybe", "bool_parsing"), ("", "bool_parsing"), ("tru", "bool_parsing"),
                        (" true", "bool_parsing"), (0.5, "bool_type"), (None, "bool_type"),
                        ([True], "bool_type"), ({}, "bool_type")):
    typ = "bool_type" if STRICT else lax_type
    one_problem("%s: POST is_completed %s: 422 %s" % (MODE, json.dumps(value), typ),
                post({"title": "rules: refused", "is_completed": value}),
                ["body", "is_completed"], typ, TYPE if typ == "bool_type" else PARSING, value)
check("%s: no refused POST stored a row" % MODE, sql("SELECT COUNT(*) FROM tasks") == n0)

# ---- unknown POST fields ------------------------------------------------------------------------
r = post({"title": "rules: extra", "colour": "red"})
if STRICT:
    problems("%s: POST with colour: 422 body.colour extra_forbidden" % MODE, r, "body.colour:extra_forbidden")
    problems("%s: POST with id, created_at, updated_at, version: each extra_forbidden" % MODE,
             post({"title": "rules: ids", "id": 999999999, "created_at": "2000-01-01T00:00:00",
                   "updated_at": "2000-01-01T00:00:00", "version": 42}),
             "body.id:extra_forbidden", "body.created_at:extra_forbidden",
             "body.updated_at:extra_forbidden", "body.version:extra_forbidden")
    problems("%s: POST {\"Title\": ...}: extra_forbidden and title missing" % MODE,
             post({"Title": "x"}), "body.Title:extra_forbidden", "body.title:missing")
else:
    expect("%s: POST with colour: 201, the field ignored (not in the answer)" % MODE, r, 201,
           lambda j: "colour" not in j and j["title"] == "rules: extra")
    r = post({"title": "rules: ids", "id": 999999999, "created_at": "2000-01-01T00:00:00",
              "updated_at": "2000-01-01T00:00:00", "version": 42, "is_completed": "yes"})
    expect("%s: POST with id, created_at, updated_at, version: 201, none taken" % MODE, r, 201,
           lambda j: j["id"] != 999999999 and r.header("etag") == '"1"' and not j["created_at"].startswith("2000")
           and not j["updated_at"].startswith("2000") and j["is_completed"] is True)
    tid = (r.json() or {}).get("id", 0)
    check("%s: ... the row is the server's (version 1, no row 999999999, created this century)" % MODE,
          sql("SELECT CONCAT(version, ' ', YEAR(created_at) > 2000) FROM tasks WHERE id = %d" % tid) == "1 1"
          and sql("SELECT COUNT(*) FROM tasks WHERE id = 999999999") == "0")
    problems("%s: POST {\"Title\": ...}: the unknown Title ignored, title missing" % MODE,
             post({"Title": "x"}), "body.title:missing")
    problems("%s: an ignored field does not hide a bad one: is_completed 2 still 422" % MODE,
             post({"title": "x", "colour": "red", "is_completed": 2}), "body.is_completed:bool_parsing")
    # The fingerprint is of the request as sent: an ignored field still makes another request.
    key = "rules-%d" % os.getpid()
    r1 = post({"title": "rules: keyed", "colour": "red"}, headers={"Idempotency-Key": key})
    r2 = post({"title": "rules: keyed", "colour": "red"}, headers={"Idempotency-Key": key})
    check("%s: the same keyed POST with an ignored field twice: 201, then the replay" % MODE,
          r1.status == 201 and r2.status == 201 and r2.header("idempotent-replayed") == "true"
          and r1.json() == r2.json(), "%s | %s" % (r1, r2))
    problems("%s: ... the key with another value of the ignored field: 422 idempotency_key_reused" % MODE,
             post({"title": "rules: keyed", "colour": "blue"}, headers={"Idempotency-Key": key}),
             "header.Idempotency-Key:idempotency_key_reused")

# ---- PATCH: body and ?completed= ----------------------------------------------------------------
r = post({"title": "rules: patch me"})
P = (r.json() or {}).get("id", 0)
check("%s: a task to PATCH" % MODE, r.status == 201, str(r))


def patch(body, query=""):
    return req("PATCH", "/tasks/%d%s" % (P, query), body)


before = row(P)
for body in ({"colour": "red"}, {"titel": "typo"}, {"id": 5}, {"version": 9}):
    key = next(iter(body))
    problems("%s: PATCH with the unknown field %s: 422 extra_forbidden" % (MODE, key), patch(body),
             "body.%s:extra_forbidden" % key)
check("%s: ... and the row did not change" % MODE, row(P) == before, "%s -> %s" % (before, row(P)))

state = False
for value, want in (("yes", True), (0, False), ("T", True), (0.0, False), (1, True), ("off", False)):
    r = patch({"is_completed": value})
    if STRICT:
        one_problem("%s: PATCH body is_completed %s: 422 bool_type" % (MODE, json.dumps(value)), r,
                    ["body", "is_completed"], "bool_type", TYPE, value)
    else:
        expect("%s: PATCH body is_completed %s: 200, is_completed %s" % (MODE, json.dumps(value), want),
               r, 200, lambda j: j["is_completed"] is want)
for value, lax_type in ((2, "bool_parsing"), ("maybe", "bool_parsing"), (None, "bool_type"), ([], "bool_type")):
    typ = "bool_type" if STRICT else lax_type
    one_problem("%s: PATCH body is_completed %s: 422 %s" % (MODE, json.dumps(value), typ),
                patch({"is_completed": value}), ["body", "is_completed"], typ,
                TYPE if typ == "bool_type" else PARSING, value)

# ?completed= is always text: a refused one is bool_parsing in both modes.
words = WORDS + [("TRUE", True), ("Off", False), ("YES", True), ("N", False), ("T", True), ("F", False)]
for word, want in words:
    r = req("PATCH", "/tasks/%d?completed=%s" % (P, word))
    if STRICT and word.lower() in SHORT:
        one_problem("%s: PATCH ?completed=%s: 422 bool_parsing" % (MODE, word), r,
                    ["query", "completed"], "bool_parsing", PARSING, word)
    else:
        expect("%s: PATCH ?completed=%s: 200, is_completed %s" % (MODE, word, want), r, 200,
               lambda j: j["is_completed"] is want)
for word in ("2", "maybe", "", "null", "1.0"):
    one_problem("%s: PATCH ?completed=%s: 422 bool_parsing" % (MODE, word),
                req("PATCH", "/tasks/%d?completed=%s" % (P, word)), ["query", "completed"],
                "bool_parsing", PARSING, word)
if not STRICT:
    expect("%s: PATCH ?completed=t with body is_completed 1 (they agree): 200" % MODE,
           patch({"is_completed": 1}, "?completed=t"), 200, lambda j: j["is_completed"] is True)
    problems("%s: PATCH ?completed=f with body is_completed \"y\": 422 (they disagree)" % MODE,
             patch({"is_completed": "y"}, "?completed=f"), "query.completed:value_error")

# ---- GET /tasks/?completed= ----------------------------------------------------------------------
for word, want in words:
    r = req("GET", "/tasks/?limit=100&completed=" + word)
    if STRICT and word.lower() in SHORT:
        one_problem("%s: GET ?completed=%s: 422 bool_parsing" % (MODE, word), r,
                    ["query", "completed"], "bool_parsing", PARSING, word)
    else:
        expect("%s: GET ?completed=%s: 200, only tasks with is_completed %s" % (MODE, word, want), r, 200,
               lambda j: isinstance(j, list) and len(j) > 0 and all(t["is_completed"] is want for t in j))
for word in ("2", "maybe", "", "on1"):
    one_problem("%s: GET ?completed=%s: 422 bool_parsing" % (MODE, word),
                req("GET", "/tasks/?completed=" + word), ["query", "completed"], "bool_parsing", PARSING, word)
PY
}

# ---- lax: the stack, default configuration ----
if grep -qE '^strict *= *(true|1|yes|on)' "$APP_CONF"; then
  not_ok "the stack's configuration leaves api.strict at its default"
else
  ok "the stack's configuration leaves api.strict at its default (lax)"
fi
matrix lax "$TASKAPI_URL"

# ---- strict: an instance of its own with api.strict = true, behind nginx ----
ini=$(instance_config strict)
root_args
sock=$E2E_TMP/strict.sock
ta_start strict "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  --set server.workers=1 --set api.strict=true
if ! wait_for 20 fcgi_ok "$sock" || ! ngx_front front "unix:$sock"; then
  not_ok "an instance with --set api.strict=true behind nginx comes up"
  diag "$(tail -n 20 "$E2E_TMP/strict.log")"
  exit 0
fi
ok "an instance with --set api.strict=true behind nginx is up"
matrix strict "$FRONT_URL"
