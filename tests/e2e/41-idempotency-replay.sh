#!/usr/bin/env bash
# 41-idempotency-replay: Idempotency-Key through nginx on the stack (owner "local").
# A POST retried with its key replays the first answer (status, Location, ETag, body,
# plus Idempotent-Replayed: true) and stores one task and one key row; the same body
# spelt otherwise is the same request; another body with the key is a 422 that stores
# nothing; bad keys (empty, 256 characters, control or non-ASCII bytes) are 422 and
# stored nowhere; a request refused by validation is not stored, so its corrected retry
# with the key creates; PATCH and DELETE replay (a retried DELETE is the same 204, not
# a 404), a 412 is kept as the answer; a request without a key runs as before (one
# INSERT, no key row). Its tasks and keys go when it ends.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

RUN=e2e41-$$
at_exit "sql \"DELETE FROM tasks WHERE title LIKE '$RUN %'; DELETE FROM idempotency_keys WHERE idem_key LIKE '$RUN-%'\""

jget() {
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1], encoding="utf-8"))
print(eval(sys.argv[2]))' "$BODY" "$1" 2>/dev/null || true
}
# post KEY JSON — POST /tasks/ with the key (none when KEY is -).
post() {
  local key=$1 body=$2 extra=()
  [ "$key" = - ] || extra=(-H "Idempotency-Key: $key")
  http POST /tasks/ -H 'Content-Type: application/json' --data-binary "$body" "${extra[@]}"
}
keys() { sql "SELECT COUNT(*) FROM idempotency_keys WHERE owner = 'local' AND idem_key LIKE '$1'"; }
tasks_titled() { sql "SELECT COUNT(*) FROM tasks WHERE title = '$1'"; }
snapshot() { # NAME — keep status, Location, ETag, Idempotent-Replayed and body
  printf '%s|%s|%s|%s\n' "$STATUS" "$(header Location)" "$(header ETag)" "$(header Idempotent-Replayed)" \
    >"$E2E_TMP/$1.head"
  cp "$BODY" "$E2E_TMP/$1.body"
}

# ---- POST replay ----------------------------------------------------------------------
k=$RUN-create
post "$k" "{\"title\": \"$RUN one\", \"description\": \"d\"}"
snapshot first
id=$(jget 'j["id"]')
check "POST with a key: 201, Location /tasks/$id, no Idempotent-Replayed" \
  test "$(cat "$E2E_TMP/first.head")" = "201|/tasks/$id|\"1\"|"
post "$k" "{\"title\": \"$RUN one\", \"description\": \"d\"}"
snapshot second
check "the retry replays it: 201, the same Location and ETag, Idempotent-Replayed: true" \
  test "$(cat "$E2E_TMP/second.head")" = "201|/tasks/$id|\"1\"|true"
check "... and the same body, byte for byte" cmp -s "$E2E_TMP/first.body" "$E2E_TMP/second.body"
check "one task stored, one key row" test "$(tasks_titled "$RUN one") $(keys "$k")" = "1 1"
check "the key row holds the answer (status 201, Location, ETag, body)" \
  test "$(sql "SELECT CONCAT_WS('|', status, location, etag, body = CAST('$(cat "$E2E_TMP/first.body")' AS BINARY))
    FROM idempotency_keys WHERE owner = 'local' AND idem_key = '$k'")" = "201|/tasks/$id|\"1\"|1"
post "$k" "{ \"description\":\"d\" ,   \"title\":\"$RUN one\" }"
check "the same body spelt otherwise (spaces, key order) is the same request: replayed" \
  test "$STATUS|$(header Idempotent-Replayed)|$(jget 'j["id"]')" = "201|true|$id"

# ---- the same key with another request -------------------------------------------------
post "$k" "{\"title\": \"$RUN other\"}"
expect_json "the key with another body: 422 naming the header" 422 \
  'j["detail"][0]["loc"] == ["header", "Idempotency-Key"] and j["detail"][0]["type"] == "idempotency_key_reused"'
check "... and nothing stored: no task, still one key row" test "$(tasks_titled "$RUN other") $(keys "$k")" = "0 1"
http DELETE "/tasks/$id" -H "Idempotency-Key: $k"
check "the key on another route (DELETE /tasks/$id): 422, the task is still there" \
  test "$STATUS $(sql "SELECT COUNT(*) FROM tasks WHERE id = $id")" = "422 1"

# ---- bad keys ----------------------------------------------------------------------------
long=$(printf 'k%.0s' $(seq 256))
for case in "empty|" "256 characters|$long" "a space|a b"; do
  name=${case%%|*} key=${case#*|}
  if [ -z "$key" ]; then
    http POST /tasks/ -H 'Content-Type: application/json' --data-binary "{\"title\": \"$RUN bad\"}" -H 'Idempotency-Key;'
  else
    post "$key" "{\"title\": \"$RUN bad\"}"
  fi
  expect_json "a key that is $name: 422 under [\"header\", \"Idempotency-Key\"]" 422 \
    'j["detail"][0]["loc"] == ["header", "Idempotency-Key"] and j["detail"][0]["type"] == "idempotency_key"'
done
# Bytes nginx would not pass on: straight to the stack's FastCGI socket.
printf '{"title": "%s bad"}' "$RUN" >"$E2E_TMP/bad.json"
for case in "a control character|$RUN-$(printf '\001')x" "a tab|$RUN-a$(printf '\t')b" "DEL|$RUN-$(printf '\177')" \
  "non-ASCII|$RUN-caf$(printf '\303\251')"; do
  name=${case%%|*} key=${case#*|}
  fcgi POST /tasks/ "$APP_SOCK" "$E2E_TMP/bad.json" "HTTP_IDEMPOTENCY_KEY=$key"
  expect_json "a key with $name (over FastCGI): 422" 422 'j["detail"][0]["loc"] == ["header", "Idempotency-Key"]'
done
check "no bad key stored a task or a key row" test "$(tasks_titled "$RUN bad") $(keys "$RUN-%")" = "0 1"

# ---- a refused request is not stored ----------------------------------------------------
k=$RUN-fixed
post "$k" '{"title": ""}'
check "validation failure with a key: 422" test "$STATUS" = 422
check "... not stored" test "$(keys "$k")" = 0
post "$k" "{\"title\": \"$RUN fixed\"}"
check "the corrected retry with the same key creates: 201, not a replay" \
  test "$STATUS|$(header Idempotent-Replayed)|$(tasks_titled "$RUN fixed")" = "201||1"

# ---- PATCH -------------------------------------------------------------------------------
k=$RUN-patch
http PATCH "/tasks/$id" -H 'Content-Type: application/json' --data-binary '{"description": "p"}' -H "Idempotency-Key: $k"
snapshot p1
http PATCH "/tasks/$id" -H 'Content-Type: application/json' --data-binary '{"description": "p"}' -H "Idempotency-Key: $k"
snapshot p2
check "PATCH with a key: 200, ETag \"2\"" test "$(cat "$E2E_TMP/p1.head")" = '200||"2"|'
check "the retried PATCH replays it (ETag \"2\", Idempotent-Replayed: true)" test "$(cat "$E2E_TMP/p2.head")" = '200||"2"|true'
check "... with the same body" cmp -s "$E2E_TMP/p1.body" "$E2E_TMP/p2.body"
check "the task was updated once (version 2)" test "$(sql "SELECT version FROM tasks WHERE id = $id")" = 2
http PATCH "/tasks/$id?completed=true" -H "Idempotency-Key: $k"
check "the key with another PATCH (?completed=true): 422" test "$STATUS" = 422
k=$RUN-stale
http PATCH "/tasks/$id" -H 'Content-Type: application/json' --data-binary '{"description": "q"}' \
  -H 'If-Match: "1"' -H "Idempotency-Key: $k"
check "a PATCH with a stale If-Match: 412" test "$STATUS" = 412
http PATCH "/tasks/$id" -H 'Content-Type: application/json' --data-binary '{"description": "q"}' \
  -H 'If-Match: "1"' -H "Idempotency-Key: $k"
check "... its retry replays the 412 (Idempotent-Replayed: true), the task untouched" \
  test "$STATUS|$(header Idempotent-Replayed)|$(sql "SELECT version FROM tasks WHERE id = $id")" = "412|true|2"

# ---- DELETE ------------------------------------------------------------------------------
k=$RUN-delete
http DELETE "/tasks/$id" -H 'If-Match: "2"' -H "Idempotency-Key: $k"
check "DELETE with a key: 204" test "$STATUS|$(header Idempotent-Replayed)" = "204|"
http DELETE "/tasks/$id" -H 'If-Match: "2"' -H "Idempotency-Key: $k"
check "the retried DELETE: the same 204 (not 404), Idempotent-Replayed: true, no body" \
  test "$STATUS|$(header Idempotent-Replayed)|$(stat -c %s "$BODY")" = "204|true|0"
http DELETE "/tasks/$id" -H "Idempotency-Key: $RUN-delete-again"
check "a DELETE with a new key: 404 (the task is gone)" test "$STATUS" = 404

# ---- without a key -----------------------------------------------------------------------
counters() {
  sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_delete', 'Com_insert', 'Com_select', 'Com_stmt_execute', 'Com_update', 'Com_begin', 'Com_commit')"
}
delta() { join "$1" "$2" | awk '{ printf "%s%s=%d", sep, $1, $3 - $2; sep = " " }'; }
before_keys=$(sql "SELECT COUNT(*) FROM idempotency_keys")
counters >"$E2E_TMP/c0"
post - "{\"title\": \"$RUN keyless\"}"
counters >"$E2E_TMP/c1"
d=$(delta "$E2E_TMP/c0" "$E2E_TMP/c1")
check "a POST without a key: 201, one INSERT, no transaction, no key row ($d)" \
  test "$STATUS|$d|$(sql "SELECT COUNT(*) FROM idempotency_keys")" = \
  "201|Com_begin=0 Com_commit=0 Com_delete=0 Com_insert=1 Com_select=0 Com_stmt_execute=1 Com_update=0|$before_keys"
post - "{\"title\": \"$RUN keyless\"}"
check "... and the same POST again creates again (no key, no replay)" \
  test "$STATUS|$(header Idempotent-Replayed)|$(tasks_titled "$RUN keyless")" = "201||2"
