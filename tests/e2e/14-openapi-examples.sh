#!/usr/bin/env bash
# 14-openapi-examples: the document's examples work against the running stack. Every
# operation of GET /openapi.json is sent through nginx as a client would build it from
# the examples alone: the path with its parameters' examples, every query and header
# parameter that has an example (If-Match, If-None-Match, Idempotency-Key, ...), and the
# request body's example. The examples tell one story, so the task operations run in its
# order (create, list, update, read, delete; the others after, in document order), and
# task_id is the id the create answered (ids are global: example 1 is someone's task).
# Each answer must have the status the examples promise (the operation's first
# documented 2xx), the documented media type, a body that fits the documented schema
# (tests/e2e/oas_schema.py; a field the schema does not list is drift too), and agree
# with the documented example for that answer (ids and timestamps aside).
# The stack runs auth.mode = none: no credential is needed, the caller is its
# default owner. The example Idempotency-Keys are cleared before and after the run, so
# a second run in the same database does not replay the first one's answers.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
export MYSQL

PYTHONPATH="$E2E_DIR" python3 - <<'PY'
import json, urllib.parse

from e2e_client import req, ok, not_ok, check, sql
import oas_schema

METHODS = ("get", "put", "post", "patch", "delete", "options", "head")
# The story the examples tell; operations not named here run after it, in document order.
FLOW = ["createTask", "listTasks", "updateTask", "getTask", "deleteTask"]
# Fields of an answer that no example can predict.
VOLATILE = {"id", "created_at", "updated_at"}

r = req("GET", "/openapi.json")
doc = r.json()
if r.status != 200 or not isinstance(doc, dict):
    not_ok("GET /openapi.json answers the document", str(r))
    raise SystemExit(0)


def resolve(obj):
    return oas_schema.resolve(doc, obj["$ref"]) if isinstance(obj, dict) and "$ref" in obj else obj


def example_of(obj):
    """The example of a parameter or media type object, or None."""
    if "example" in obj:
        return obj["example"]
    for ex in (obj.get("examples") or {}).values():
        return resolve(ex).get("value")
    return None


ops = []
for path, item in doc["paths"].items():
    for method in METHODS:
        if method in item:
            ops.append((path, method, item[method], item.get("parameters", [])))
by_id = {op.get("operationId"): (path, method, op, common) for path, method, op, common in ops}
check("the document has the operations of the examples' story: %s" % ", ".join(FLOW),
      all(f in by_id for f in FLOW), "operationIds: %s" % sorted(k for k in by_id if k))
ordered = [by_id[f] for f in FLOW if f in by_id] + \
          [o for o in ops if o[2].get("operationId") not in FLOW]

keys = sorted(str(p["example"]) for _, _, op, common in ops
              for p in map(resolve, common + op.get("parameters", []))
              if p.get("in") == "header" and p.get("name") == "Idempotency-Key" and "example" in p)
check("the operations' Idempotency-Key examples are all different (each names one write)",
      len(keys) == len(set(keys)) and len(keys) >= 3, keys)
forget_keys = "DELETE FROM idempotency_keys WHERE idem_key IN (%s)" % ", ".join("'%s'" % k for k in keys)
if keys:
    sql(forget_keys)


def agrees(example, answer):
    """The answer says what the example says: same values, ids and timestamps aside;
    an example object may leave fields out; an example list's items each appear."""
    if isinstance(example, dict):
        return isinstance(answer, dict) and all(
            k in VOLATILE or (k in answer and agrees(v, answer[k])) for k, v in example.items())
    if isinstance(example, list):
        return isinstance(answer, list) and all(any(agrees(e, a) for a in answer) for e in example)
    return example == answer


created = None
for path, method, op, common in ordered:
    name = "%s (%s %s)" % (op.get("operationId"), method.upper(), path)
    params = [resolve(p) for p in common + op.get("parameters", [])]
    target, query, headers = path, [], {}
    for p in params:
        value = example_of(p)
        if value is None:
            continue
        if p["in"] == "path" and p["name"] == "task_id" and created is not None:
            value = created  # the task this run created, not example id 1
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if p["in"] == "path":
            target = target.replace("{%s}" % p["name"], urllib.parse.quote(text, safe=""))
        elif p["in"] == "query":
            query.append((p["name"], text))
        elif p["in"] == "header":
            headers[p["name"]] = text
    if query:
        target += "?" + urllib.parse.urlencode(query)
    body, ctype = None, None
    if "requestBody" in op:
        content = resolve(op["requestBody"]).get("content", {})
        ctype = "application/json" if "application/json" in content else next(iter(content), None)
        if ctype is not None:
            body = json.dumps(example_of(content[ctype]))
    r = req(method.upper(), target, body, ctype=ctype, headers=headers)
    sent = "%s %s %s %s" % (method.upper(), target, headers, body or "")

    documented = op.get("responses", {})
    want = min((c for c in documented if c.startswith("2")), default=None)
    if not check("%s answers %s as its examples promise" % (name, want), str(r.status) == want,
                 "sent: " + sent, "got:  %s" % r):
        continue
    resp = resolve(documented[want])
    content = resp.get("content") or {}
    if not content:
        check("%s: a %s without a body, as documented" % (name, want), r.raw == b"", "got: %s" % r)
        continue
    media = next(iter(content))
    got_type = (r.header("content-type") or "").split(";")[0].strip()
    check("%s: Content-Type %s, as documented" % (name, media), got_type == media, "got: %s" % r)
    if not media.endswith("json"):
        check("%s: a body" % name, len(r.raw) > 0)
        continue
    answer = r.json()
    problems = oas_schema.problems(doc, content[media].get("schema", {}), answer, strict=True)
    check("%s: the %s body fits its documented schema" % (name, want), answer is not None and not problems,
          *(problems or ["body: %s" % r]))
    example = example_of(content[media])
    check("%s: the %s body agrees with the documented example" % (name, want), agrees(example, answer),
          "example: %s" % json.dumps(example), "answer:  %s" % json.dumps(answer))
    if op.get("operationId") == "createTask" and isinstance(answer, dict):
        created = answer.get("id")

# The checker above finds what it is meant to find (a checker that passes anything
# would make every line above meaningless).
task = {"$ref": "#/components/schemas/Task"}
good = {"id": 1, "title": "t", "description": None, "is_completed": False,
        "created_at": "2026-11-25T12:00:00Z", "updated_at": "2026-11-25T12:00:00Z"}
check("the schema checker accepts a valid task", oas_schema.problems(doc, task, good, strict=True) == [])
for bad, why in ((dict(good, id="1"), "a string id"), (dict(good, title=""), "an empty title"),
                 (dict(good, is_completed=0), "0 for a boolean"), (dict(good, created_at="yesterday"), "a date"),
                 (dict(good, colour="red"), "an undocumented field"),
                 ({k: v for k, v in good.items() if k != "title"}, "a missing title")):
    check("the schema checker refuses a task with %s" % why, oas_schema.problems(doc, task, bad, strict=True) != [])

if created is not None:
    sql("DELETE FROM tasks WHERE id = %d" % int(created))
if keys:
    sql(forget_keys)
PY
