#!/usr/bin/env bash
# 40-tasks-crud: the happy paths of every task route through nginx — create (with and
# without a trailing slash), read, the seed's PATCH ?completed= in every spelling,
# JSON merge-patch bodies, ETag / If-None-Match / If-Match (current, stale, "*",
# lists, weak forms), delete — each checked over HTTP and against the stored row.
# Uses only the tasks it creates.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# jget EXPRESSION — print the Python EXPRESSION over the last body (`j`), or nothing.
jget() {
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
print(eval(sys.argv[2]))' "$BODY" "$1" 2>/dev/null || true
}

# post_json PATH JSON — POST JSON with Content-Type: application/json.
post_json() { http POST "$1" -H 'Content-Type: application/json' --data-binary "$2"; }
# patch_json PATH JSON [curl options] — PATCH with a JSON body.
patch_json() {
  local path=$1 body=$2
  shift 2
  http PATCH "$path" -H 'Content-Type: application/json' --data-binary "$body" "$@"
}
# row ID — the stored row as "title|description|is_completed|version" (NULL for null).
row() { sql "SELECT CONCAT_WS('|', title, IFNULL(description, 'NULL'), is_completed, version) FROM tasks WHERE id = $1"; }
# body_is_empty — the last response had no body at all.
body_is_empty() { [ ! -s "$BODY" ]; }
# saved NAME — keep the last body as $E2E_TMP/NAME (for E2E_EXPECT comparisons).
saved() { cp "$BODY" "$E2E_TMP/$1"; }

# counters — MariaDB's global statement counters that a request moves, "name value"
# lines sorted by name; delta FILE FILE — their changes, "name=N ...". Nothing else
# talks to the test stack's database while a test runs.
counters() {
  sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_delete', 'Com_insert', 'Com_select', 'Com_stmt_execute', 'Com_update')"
}
delta() { join "$1" "$2" | awk '{ printf "%s%s=%d", sep, $1, $3 - $2; sep = " " }'; }

TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
export TS_RE

# ---- POST /tasks/ --------------------------------------------------------------
counters >"$E2E_TMP/c0"
post_json /tasks/ '{"title": "crud: buy milk", "description": "2 litres", "is_completed": false}'
counters >"$E2E_TMP/c1"
expect_json 'POST /tasks/: 201 with the task as sent' 201 \
  'row(dict(j, id=0)) == (0, "crud: buy milk", "2 litres", False)'
ID=$(jget 'j["id"]')
saved created.json
expect_json 'the task has id, title, description, is_completed, created_at, updated_at' 201 \
  '{"id", "title", "description", "is_completed", "created_at", "updated_at"} <= set(j)'
expect_json 'id is a positive integer (not a string, not a bool)' 201 'type(j["id"]) is int and j["id"] > 0'
expect_json 'created_at and updated_at are RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ), equal on create' 201 \
  'all(__import__("re").match(os.environ["TS_RE"], j[k]) for k in ("created_at", "updated_at"))
   and j["created_at"] == j["updated_at"]'
expect_json 'created_at is now, in UTC (within 2 minutes of this clock)' 201 \
  'abs(__import__("calendar").timegm(__import__("time").strptime(j["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
       - __import__("time").time()) < 120'
check "Location: /tasks/$ID" test "$(header Location)" = "/tasks/$ID"
check 'ETag: "1" on create' test "$(header ETag)" = '"1"'
check 'the row is stored as sent (title, description, is_completed, version 1)' \
  test "$(row "$ID")" = 'crud: buy milk|2 litres|0|1'
d=$(delta "$E2E_TMP/c0" "$E2E_TMP/c1")
check "the create ran one statement, the INSERT, and no SELECT after it ($d)" \
  test "$d" = 'Com_delete=0 Com_insert=1 Com_select=0 Com_stmt_execute=1 Com_update=0'
created_at=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["created_at"])' "$E2E_TMP/created.json")
check "the answered created_at ($created_at) is the stored one (taskapi set it, in UTC)" \
  test "$(sql "SELECT DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') FROM tasks WHERE id = $ID")" = "$created_at"

post_json /tasks '{"title": "crud: no trailing slash"}'
expect_json 'POST /tasks (no trailing slash): 201; description defaults to null, is_completed to false' 201 \
  'j["title"] == "crud: no trailing slash" and j["description"] is None and j["is_completed"] is False'
ID2=$(jget 'j["id"]')
check 'two creates get different ids, the later one larger' test "${ID2:-0}" -gt "${ID:-0}"
check "its Location is /tasks/$ID2" test "$(header Location)" = "/tasks/$ID2"

post_json /tasks/ '{"title": "crud: done already", "is_completed": true, "description": null}'
expect_json 'POST with is_completed true and description null: stored so' 201 \
  'j["is_completed"] is True and j["description"] is None'
ID3=$(jget 'j["id"]')
check 'the row says is_completed = 1, description NULL' test "$(row "$ID3")" = 'crud: done already|NULL|1|1'

# ---- GET /tasks/{id} -------------------------------------------------------------
export E2E_EXPECT=$E2E_TMP/created.json
http GET "/tasks/$ID"
expect_json "GET /tasks/$ID: 200, exactly the body POST returned" 200 'j == exp'
check 'GET: ETag "1"' test "$(header ETag)" = '"1"'
http GET "/tasks/$ID/"
expect_json "GET /tasks/$ID/ (trailing slash): the same task" 200 'j == exp'
unset E2E_EXPECT

http GET "/tasks/$ID" -H 'If-None-Match: "1"'
check 'If-None-Match: "1" (current): 304' test "$STATUS" = 304
check 'the 304 has no body' body_is_empty
check 'the 304 repeats ETag "1"' test "$(header ETag)" = '"1"'
http GET "/tasks/$ID" -H 'If-None-Match: *'
check 'If-None-Match: *: 304' test "$STATUS" = 304
http GET "/tasks/$ID" -H 'If-None-Match: "7", "1", "9"'
check 'If-None-Match: a list containing "1": 304' test "$STATUS" = 304
http GET "/tasks/$ID" -H 'If-None-Match: W/"1"'
check 'If-None-Match: W/"1" (weak form): 304' test "$STATUS" = 304
http GET "/tasks/$ID" -H 'If-None-Match: "2"'
expect_json 'If-None-Match: "2" (not current): 200 with the task' 200 "j['id'] == $ID"

MISSING=$(($(sql 'SELECT COALESCE(MAX(id), 0) FROM tasks') + 100000))
http GET "/tasks/$MISSING"
expect_json "GET /tasks/$MISSING (no such task): 404 {\"detail\": \"Task not found\"}" 404 \
  'j == {"detail": "Task not found"}'

# ---- PATCH: the seed's ?completed= ----------------------------------------------
http PATCH "/tasks/$ID?completed=true"
expect_json 'PATCH ?completed=true (seed form, no body): 200, is_completed true, rest unchanged' 200 \
  "j['id'] == $ID and j['is_completed'] is True and j['title'] == 'crud: buy milk' and j['description'] == '2 litres'"
check 'its ETag is "2" (version bumped)' test "$(header ETag)" = '"2"'
check 'the row: is_completed 1, version 2' test "$(row "$ID")" = 'crud: buy milk|2 litres|1|2'
http GET "/tasks/$ID"
expect_json 'GET after the PATCH shows is_completed true' 200 'j["is_completed"] is True'

# Every spelling FastAPI accepts for a bool, any case; each PATCH flips the value so a
# spelling that is ignored (or read the wrong way) shows.
for pair in false:false TRUE:true No:false yes:true OFF:false On:true 0:false 1:true fAlSe:false; do
  word=${pair%%:*} want=${pair#*:}
  http PATCH "/tasks/$ID?completed=$word"
  expect_json "PATCH ?completed=$word: 200, is_completed $want" 200 \
    "j['is_completed'] is $([ "$want" = true ] && echo True || echo False)"
done
check 'the row went through 9 more versions (11 now) and ends not completed' \
  test "$(row "$ID")" = 'crud: buy milk|2 litres|0|11'

http PATCH "/tasks/$MISSING?completed=true"
expect_json 'PATCH ?completed=true of a missing task: 404 Task not found' 404 'j == {"detail": "Task not found"}'

# ---- PATCH: JSON merge-patch bodies ------------------------------------------------
counters >"$E2E_TMP/c0"
patch_json "/tasks/$ID2" '{"title": "crud: renamed"}'
counters >"$E2E_TMP/c1"
d=$(delta "$E2E_TMP/c0" "$E2E_TMP/c1")
check "the PATCH was one UPDATE (then at most one SELECT to answer with the task) ($d)" \
  grep -qE '^Com_delete=0 Com_insert=0 Com_select=[01] Com_stmt_execute=[12] Com_update=1$' <<<"$d"
expect_json 'PATCH {"title"}: 200, title changed, description and is_completed kept' 200 \
  'j["title"] == "crud: renamed" and j["description"] is None and j["is_completed"] is False'
check 'ETag "2" after the first change' test "$(header ETag)" = '"2"'
patch_json "/tasks/$ID2" '{"description": "now with a description"}'
expect_json 'PATCH {"description"}: description set, title kept' 200 \
  'j["title"] == "crud: renamed" and j["description"] == "now with a description"'
check 'the row has both changes' test "$(row "$ID2")" = 'crud: renamed|now with a description|0|3'
patch_json "/tasks/$ID2" '{"description": null}'
expect_json 'PATCH {"description": null}: clears it' 200 'j["description"] is None and j["title"] == "crud: renamed"'
check 'the stored description is NULL' test "$(sql "SELECT description IS NULL FROM tasks WHERE id = $ID2")" = 1
patch_json "/tasks/$ID2" '{"is_completed": true}'
expect_json 'PATCH {"is_completed": true}: 200, completed' 200 'j["is_completed"] is True'
http PATCH "/tasks/$ID2" -H 'Content-Type: application/merge-patch+json' \
  --data-binary '{"title": "crud: merge-patch type", "is_completed": false}'
expect_json 'PATCH with Content-Type application/merge-patch+json: accepted, two fields at once' 200 \
  'j["title"] == "crud: merge-patch type" and j["is_completed"] is False'
http PATCH "/tasks/$ID2" -H 'Content-Type:' --data-binary '{"description": "no content type"}'
expect_json 'PATCH with a JSON body and no Content-Type: accepted' 200 'j["description"] == "no content type"'
http PATCH "/tasks/$ID2" -H 'Content-Type: application/json; charset=utf-8' --data-binary '{"description": "charset"}'
expect_json 'PATCH with application/json; charset=utf-8: accepted' 200 'j["description"] == "charset"'
patch_json "/tasks/$ID2?completed=true" '{"is_completed": true, "title": "crud: query and body"}'
expect_json 'PATCH ?completed=true with a body that agrees (is_completed true) and a title: both applied' 200 \
  'j["is_completed"] is True and j["title"] == "crud: query and body"'
patch_json "/tasks/$ID2?completed=false" '{"description": "query + body"}'
expect_json 'PATCH ?completed=false with a body changing description: both applied' 200 \
  'j["is_completed"] is False and j["description"] == "query + body"'
before=$(row "$ID2")
http GET "/tasks/$ID2"
saved before-empty.json
patch_json "/tasks/$ID2" '{}'
export E2E_EXPECT=$E2E_TMP/before-empty.json
expect_json 'PATCH {} (nothing to change): 200 with the task unchanged (updated_at too)' 200 'j == exp'
unset E2E_EXPECT
check 'PATCH {}: the row is untouched (version not bumped)' test "$(row "$ID2")" = "$before"
patch_json "/tasks/$MISSING" '{"title": "x"}'
expect_json 'PATCH with a body of a missing task: 404 Task not found' 404 'j == {"detail": "Task not found"}'

# updated_at moves on a change, created_at never does.
http GET "/tasks/$ID3"
saved t3.json
sleep 1.1
patch_json "/tasks/$ID3" '{"title": "crud: later"}'
export E2E_EXPECT=$E2E_TMP/t3.json
expect_json 'a change a second later: updated_at later than before, created_at unchanged' 200 \
  'j["created_at"] == exp["created_at"] and j["updated_at"] > exp["updated_at"]'
unset E2E_EXPECT
http GET "/tasks/$ID3"
expect_json 'GET shows the same updated_at as the PATCH answer' 200 'j["updated_at"] > j["created_at"]'

# ---- If-None-Match after a change, If-Match on PATCH -------------------------------
http GET "/tasks/$ID" -H 'If-None-Match: "1"'
expect_json 'If-None-Match: "1" after the task changed: 200 with the task' 200 "j['id'] == $ID"
etag=$(header ETag)
check "the current ETag is \"11\" (got $etag)" test "$etag" = '"11"'

before=$(row "$ID")
patch_json "/tasks/$ID" '{"title": "crud: stale write"}' -H 'If-Match: "1"'
expect_json 'PATCH with a stale If-Match "1": 412 JSON with a detail' 412 \
  'isinstance(j, dict) and isinstance(j.get("detail"), str)'
check 'after the 412 the row is unchanged (title, version)' test "$(row "$ID")" = "$before"
http GET "/tasks/$ID"
expect_json 'after the 412 GET shows the old title' 200 'j["title"] == "crud: buy milk"'
check 'and the ETag did not move' test "$(header ETag)" = "$etag"
http PATCH "/tasks/$ID?completed=true" -H 'If-Match: "10"'
check 'PATCH ?completed=true with If-Match "10" (one behind): 412' test "$STATUS" = 412
check 'and nothing changed' test "$(row "$ID")" = "$before"
patch_json "/tasks/$ID" '{}' -H 'If-Match: "3"'
check 'PATCH {} with a stale If-Match: 412 too' test "$STATUS" = 412
http PATCH "/tasks/$ID?completed=true" -H 'If-Match: "2", "5"'
check 'If-Match with a list of stale tags: 412' test "$STATUS" = 412
check 'and nothing changed' test "$(row "$ID")" = "$before"

patch_json "/tasks/$ID" '{"title": "crud: guarded write"}' -H "If-Match: $etag"
expect_json "PATCH with the current If-Match $etag: 200, changed" 200 'j["title"] == "crud: guarded write"'
check 'its ETag is "12"' test "$(header ETag)" = '"12"'
patch_json "/tasks/$ID" '{"description": "star"}' -H 'If-Match: *'
expect_json 'PATCH with If-Match: * on an existing task: 200' 200 'j["description"] == "star"'
patch_json "/tasks/$ID" '{"description": "list"}' -H 'If-Match: "1", "13", "99"'
expect_json 'PATCH with If-Match listing the current tag among others: 200' 200 'j["description"] == "list"'
check 'the row: 3 guarded writes, version 14' test "$(row "$ID")" = 'crud: guarded write|list|0|14'

# ---- DELETE -------------------------------------------------------------------------
http DELETE "/tasks/$ID" -H 'If-Match: "1"'
expect_json 'DELETE with a stale If-Match: 412 JSON with a detail' 412 'isinstance(j.get("detail"), str)'
check 'after the 412 the row is still there, unchanged' test "$(row "$ID")" = 'crud: guarded write|list|0|14'
http GET "/tasks/$ID"
check 'and GET still answers 200' test "$STATUS" = 200

http DELETE "/tasks/$ID" -H 'If-Match: "14"'
check 'DELETE with the current If-Match: 204' test "$STATUS" = 204
check 'the 204 has no body' body_is_empty
check 'the row is gone' test "$(sql "SELECT COUNT(*) FROM tasks WHERE id = $ID")" = 0
http GET "/tasks/$ID"
expect_json 'GET of the deleted task: 404 Task not found' 404 'j == {"detail": "Task not found"}'
http DELETE "/tasks/$ID"
expect_json 'DELETE it again: 404 Task not found' 404 'j == {"detail": "Task not found"}'
http PATCH "/tasks/$ID?completed=true"
expect_json 'PATCH the deleted task: 404 Task not found' 404 'j == {"detail": "Task not found"}'
http DELETE "/tasks/$ID" -H 'If-Match: "14"'
expect_json 'DELETE with If-Match of a deleted task: 404 Task not found' 404 'j == {"detail": "Task not found"}'

counters >"$E2E_TMP/c0"
http DELETE "/tasks/$ID2/"
counters >"$E2E_TMP/c1"
check "DELETE /tasks/$ID2/ (trailing slash, no If-Match): 204" test "$STATUS" = 204
d=$(delta "$E2E_TMP/c0" "$E2E_TMP/c1")
check "the DELETE was one DELETE statement ($d)" grep -qE '^Com_delete=1 Com_insert=0 .*Com_update=0$' <<<"$d"
check 'that row is gone too' test "$(sql "SELECT COUNT(*) FROM tasks WHERE id = $ID2")" = 0
http DELETE "/tasks/$ID3" -H 'If-Match: *'
check 'DELETE with If-Match: *: 204' test "$STATUS" = 204
http DELETE "/tasks/$MISSING"
expect_json 'DELETE of a task that never existed: 404 Task not found' 404 'j == {"detail": "Task not found"}'
