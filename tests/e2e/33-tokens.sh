#!/usr/bin/env bash
# 33-tokens: taskapi's own bearer tokens end to end (auth.mode = token), straight over
# FastCGI to an instance of two workers. `taskapi token create|list|revoke` as the
# token account; no token, garbage, one character changed, truncated, expired, revoked
# and unknown tokens get 401 with the exact RFC 6750 challenge; a read-only token gets
# 403 insufficient_scope on every write and 200 on reads; a revocation reaches both
# workers, each holding the token in its cache, within 5 s; `token list` shows the
# prefix and never the secret; /metrics counts the refusals by reason, exactly; a lookup
# the database cannot answer is a 503, never a 401; bad key files are refused at start.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

ini=$(instance_config tokens)
sock=$E2E_TMP/tokens.sock
admin=$E2E_TMP/tokens-admin.sock
log=$E2E_TMP/tokens.log
root_args
# The token commands, as an operator runs them: the stack's config (token account, key).
tok() { taskapi_token "$@"; }
# Owners of this run only; their tasks go when it ends (later tests count every task).
alice=alice-$$ bob=bob-$$ carol=carol-$$
at_exit "sql \"DELETE FROM tasks WHERE owner LIKE '%-$$'\""

# Entries live the longest allowed (4 s): a revocation must still reach every worker in 5.
# A key file must be private and long enough: taskapi refuses to start otherwise.
printf '%s\n' 0123456789abcdef >"$E2E_TMP/short.key"
chmod 600 "$E2E_TMP/short.key"
od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$E2E_TMP/open.key"
chmod 644 "$E2E_TMP/open.key"
for k in short open; do
  ta_start "key-$k" "$TASKAPI_BIN" --config "$ini" "${ROOT_ARGS[@]}" --set "server.listen=$E2E_TMP/$k.sock" \
    --set auth.mode=token --set "auth.token_key_file=$E2E_TMP/$k.key"
  if [ "$k" = short ]; then want='the key is 16 bytes, at least 32 are needed'; else want='accessible by others'; fi
  check "a $k key file is refused at start ('$want')" ta_died_with "key-$k" "$TA_PID" "$want"
  "$TASKAPI_BIN" --config "$ini" "${ROOT_ARGS[@]}" --check-config --set auth.mode=token \
    --set "auth.token_key_file=$E2E_TMP/$k.key" >"$E2E_TMP/check-$k.txt" 2>&1 || true
  check "... and --check-config warns about it" grep -q "warning: .*$want" "$E2E_TMP/check-$k.txt"
done

# One thread per worker, and room for a PATCH that waits on a row lock (below).
ta_start tokens "$TASKAPI_BIN" --config "$ini" "${ROOT_ARGS[@]}" --workers 2 --set server.threads=1 \
  --set database.statement_timeout_ms=60000 --set database.read_timeout_s=90 \
  --set database.acquire_timeout_ms=60000 \
  --set "server.listen=$sock" --set "server.admin_listen=$admin" \
  --set auth.mode=token --set "auth.token_key_file=$TOKEN_KEY_FILE" --set auth.token_cache_ms=4000
pid=$TA_PID
if ! wait_for 20 fcgi_ok "$sock"; then
  not_ok "the token-mode instance answers /healthz over FastCGI"
  diag "$(tail -n 20 "$log")"
  exit 0
fi
ok "the token-mode instance (2 workers) answers /healthz without a token"

# ---- token create ---------------------------------------------------------------------
secrets=$E2E_TMP/secrets.txt # every secret made here, for the no-secrets check below
: >"$secrets"
made() { printf '%s\n' "$1" >>"$secrets"; }

rw=$(tok create --owner "$alice" --scopes tasks:read,tasks:write --note "e2e 33 rw" 2>"$E2E_TMP/create.err") || rw=''
made "$rw"
check "token create prints the secret alone: tka_ and 38 base62 characters ('${rw:0:8}...')" \
  grep -qxE 'tka_[0-9A-Za-z]{38}' <<<"$rw"
check "token create names the token on stderr, never the secret" \
  bash -c '! grep -qF -- "$1" "$2" && grep -q "token [0-9]* (tka_" "$2"' _ "$rw" "$E2E_TMP/create.err"
ro=$(tok create --owner "$alice" --scopes tasks:read 2>/dev/null) || ro=''
made "$ro"
two=$(tok create --owner "$alice" --scopes tasks:write --expires 2x 2>&1 >/dev/null) && rc=0 || rc=$?
check "token create refuses a bad --expires (exit 2: '$two')" test "$rc" = 2
long=$(tok create --owner "$alice" --scopes tasks:write --expires 91d 2>&1 >/dev/null) && rc=0 || rc=$?
check "token create refuses an expiry past auth.token_max_lifetime_days (90): exit 2" \
  bash -c '[ "$1" = 2 ] && grep -q token_max_lifetime_days <<<"$2"' _ "$rc" "$long"
bad=$(tok create --owner "$alice" --scopes tasks:admin 2>&1 >/dev/null) && rc=0 || rc=$?
check "token create refuses an unknown scope (exit 2: '$bad')" test "$rc" = 2
short=$(tok create --owner "$bob" --scopes tasks:read,tasks:write --expires 1s 2>/dev/null) || short=''
made "$short"
expire_at=$((SECONDS + 3))

# ---- what a client sees ---------------------------------------------------------------
# req METHOD URI [AUTHORIZATION] [BODY_FILE]
req() {
  local auth=()
  [ -z "${3:-}" ] || auth=("HTTP_AUTHORIZATION=$3")
  fcgi "$1" "$2" "$sock" "${4:-/dev/null}" "${auth[@]}"
}
challenge() { header WWW-Authenticate; }
bearer='Bearer realm="taskapi"'
invalid='Bearer realm="taskapi", error="invalid_token"'

admin_scrape "$admin" "$E2E_TMP/a.prom"

# refused DESC AUTH WANT_CHALLENGE WANT_DETAIL_REGEX
refused() {
  req GET /tasks/ "$2"
  if [ "$STATUS" = 401 ] && [ "$(challenge)" = "$3" ] && json_true "isinstance(j.get('detail'), str)" &&
    grep -qE "$4" "$BODY"; then
    ok "$1: 401, WWW-Authenticate: $3"
  else
    not_ok "$1"
    diag "status $STATUS, WWW-Authenticate: $(challenge)" "body: $(head -c 300 "$BODY")"
  fi
}

refused "no Authorization at all" "" "$bearer" "Not authenticated"
refused "Basic credentials" "Basic YWxpY2U6c2VjcmV0" "$invalid" "not valid"
refused "garbage after Bearer" "Bearer not-a-token" "$invalid" "not valid"
refused "a JWT-shaped token" "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2ln" "$invalid" "not valid"
# One character changed, in the random part and in the checksum.
pos=20
c=${rw:$pos:1}
if [ "$c" = A ]; then d=B; else d=A; fi
refused "the token with one character of its random part changed" "Bearer ${rw:0:$pos}$d${rw:$((pos + 1))}" \
  "$invalid" "not valid"
c=${rw:40:1}
if [ "$c" = A ]; then d=B; else d=A; fi
refused "the token with one character of its checksum changed" "Bearer ${rw:0:40}$d${rw:41}" "$invalid" "not valid"
refused "the token truncated by one character" "Bearer ${rw:0:41}" "$invalid" "not valid"
refused "the token with a character more" "Bearer ${rw}x" "$invalid" "not valid"
# Well formed, right checksum, but never made with this key: unknown.
stranger=$(python3 - <<'PY'
import random, string, zlib
a = string.digits + string.ascii_uppercase + string.ascii_lowercase
r = "".join(random.SystemRandom().choice(a) for _ in range(32))
v = zlib.crc32(r.encode()); c = ""
for _ in range(6):
    c = a[v % 62] + c; v //= 62
print("tka_" + r + c)
PY
)
refused "a well-formed token nobody made (right checksum)" "Bearer $stranger" "$invalid" "not valid"

req GET /tasks/ "Bearer $rw"
check "the read-write token lists tasks (200; got $STATUS)" test "$STATUS" = 200
task_json "token 33"
req POST /tasks/ "Bearer $rw" "$E2E_TMP/task.json"
id=$(json_field 'j["id"]')
check "the read-write token creates a task (201; got $STATUS)" test "$STATUS" = 201
req GET "/tasks/$id" "Bearer $ro"
check "the read-only token reads it (200; got $STATUS)" test "$STATUS" = 200
insufficient='Bearer realm="taskapi", error="insufficient_scope", scope="tasks:write"'
for m in POST PATCH DELETE; do
  if [ "$m" = POST ]; then uri=/tasks/; else uri=/tasks/$id; fi
  req "$m" "$uri" "Bearer $ro" "$E2E_TMP/task.json"
  check "the read-only token: $m $uri is 403 with $insufficient (got $STATUS, $(challenge))" \
    test "$STATUS" = 403 -a "$(challenge)" = "$insufficient"
done
rw_id=$(tok list --owner "$alice" --format json |
  python3 -c 'import json,sys; print([r["id"] for r in json.load(sys.stdin) if r["prefix"] == sys.argv[1]][0])' "${rw:0:8}")
check "the access line names the owner and the token's id, not its secret (owner=$alice cred=$rw_id)" \
  grep -qE "access: .* POST /tasks/ 201 .* owner=$alice cred=$rw_id\$" "$log"
other=$(tok create --owner "$bob" --scopes tasks:read 2>/dev/null) || other=''
made "$other"
req GET "/tasks/$id" "Bearer $other"
check "another owner's token does not see $alice's task (404; got $STATUS)" test "$STATUS" = 404
req GET "/tasks/$id" "bearer   $rw  "
check "'bearer' in lower case and extra spaces around the token still work (200; got $STATUS)" test "$STATUS" = 200

# ---- expiry ---------------------------------------------------------------------------
while [ "$SECONDS" -lt "$expire_at" ]; do sleep 0.5; done
refused "a token past its --expires 1s" "Bearer $short" "$invalid" "expired"

# ---- revocation reaches every worker ----------------------------------------------------
# Which worker takes a connection is the kernel's choice (EPOLLEXCLUSIVE wakes the first
# worker with a thread waiting), so with one thread per worker a request reaches the
# other worker only while the first is busy. busy: a PATCH of a task whose row another
# session holds locked keeps one worker's only thread until free() kills that session.
# served_by FROM STATUS — the pids of the workers whose access lines after line FROM of
# the instance's log answered GET /tasks/ with STATUS.
served_by() {
  tail -n +"$(($1 + 1))" "$log" | sed -nE "s/^.* \[([0-9]+)\] access: .* GET \/tasks\/ $2 .*/\1/p" | sort -u
}
lines() { wc -l <"$log"; }
st() { admin_get "$admin" "/status?full" && [ "$ADMIN_STATUS" = 200 ] && status_field "$1"; }
busy_threads() { [ "$(st 'j["active_threads"]')" = "$1" ]; }
req POST /tasks/ "Bearer $rw" "$E2E_TMP/task.json"
locked=$(json_field 'j["id"]')
printf '{"is_completed": true}' >"$E2E_TMP/patch.json"
busy() {
  $MYSQL --unbuffered --batch --skip-column-names -e "SELECT CONCAT('cid=', CONNECTION_ID()); BEGIN;
    SELECT CONCAT('locked=', id) FROM tasks WHERE id = $locked FOR UPDATE; SELECT SLEEP(120); COMMIT;" \
    >"$E2E_TMP/locker.out" 2>&1 &
  locker=$!
  at_exit "kill $locker 2>/dev/null"
  wait_for 10 grep -qx "locked=$locked" "$E2E_TMP/locker.out" || diag "no row lock: $(cat "$E2E_TMP/locker.out")"
  env -i PATH="$PATH" REQUEST_METHOD=PATCH REQUEST_URI="/tasks/$locked" DOCUMENT_URI="/tasks/$locked" \
    QUERY_STRING='' SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 CONTENT_TYPE=application/json \
    CONTENT_LENGTH="$(stat -c %s "$E2E_TMP/patch.json")" HTTP_AUTHORIZATION="Bearer $rw" \
    timeout 60 cgi-fcgi -bind -connect "$sock" <"$E2E_TMP/patch.json" >"$E2E_TMP/patch.out" 2>&1 &
  patcher=$!
  wait_for 15 busy_threads 1 ||
    diag "no thread busy in the PATCH: active_threads $(st 'j["active_threads"]')" \
      "PATCH: $(head -c 300 "$E2E_TMP/patch.out")" "lock: $(cat "$E2E_TMP/locker.out")"
}
free() {
  sql "KILL $(sed -n 's/^cid=//p' "$E2E_TMP/locker.out")" || true
  wait "$locker" 2>/dev/null || true
  wait "$patcher" 2>/dev/null || true
  wait_for 15 busy_threads 0 || diag "a thread stays busy: $(head -c 300 "$ADMIN_BODY")"
}
# both_answer STATUS AUTH — requests with AUTH, first with both workers idle, then with
# one busy, until both workers have answered STATUS (at most 6 rounds); counts in ANSWERS
# the requests made and in ACCEPTED those answered 200.
both_answer() {
  local want=$1 from round
  from=$(lines)
  ANSWERS=0 ACCEPTED=0
  for round in 1 2 3 4 5 6; do
    if [ $((round % 2)) = 0 ]; then busy; fi
    req GET /tasks/ "$2"
    ANSWERS=$((ANSWERS + 1))
    [ "$STATUS" != 200 ] || ACCEPTED=$((ACCEPTED + 1))
    if [ $((round % 2)) = 0 ]; then free; fi
    [ "$(served_by "$from" "$want" | wc -l)" -lt 2 ] || break
  done
  WORKERS=$(served_by "$from" "$want" | wc -l)
}

victim=$(tok create --owner "$carol" --scopes tasks:read 2>/dev/null) || victim=''
made "$victim"
victim_id=$(tok list --owner "$carol" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
both_answer 200 "Bearer $victim"
check "both workers accepted the token, and so hold it in their caches ($WORKERS of 2, $ANSWERS requests)" \
  test "$WORKERS" = 2
out=$(tok revoke "$victim_id" 2>&1) && rc=0 || rc=$?
revoked_at=$SECONDS
check "token revoke $victim_id succeeds ($out)" test "$rc" = 0
again=$(tok revoke "$victim_id" 2>&1) && rc=0 || rc=$?
check "revoking it again says so and succeeds ($again)" bash -c '[ "$1" = 0 ] && grep -q "revoked already" <<<"$2"' _ "$rc" "$again"
tok revoke 999999999 >/dev/null 2>&1 && rc=0 || rc=$?
check "revoking an unknown id fails (exit 1)" test "$rc" = 1
# The promise is 5 s, with entries living 4 s. Wait them out; then no worker may accept it.
while [ $((SECONDS - revoked_at)) -le 5 ]; do sleep 0.5; done
both_answer 401 "Bearer $victim"
check "5 s after the revocation no request with the token is accepted ($ACCEPTED of $ANSWERS)" test "$ACCEPTED" = 0
check "... and both workers refused it ($WORKERS of 2)" test "$WORKERS" = 2
refused "the revoked token" "Bearer $victim" "$invalid" "revoked"

# ---- token list -----------------------------------------------------------------------
tok list >"$E2E_TMP/list.txt" 2>&1 || true
tok list --format json >"$E2E_TMP/list.json" 2>&1 || true
check "token list shows each token's prefix (${rw:0:8})" grep -qF "${rw:0:8}" "$E2E_TMP/list.txt"
check "token list --format json has id, owner, scopes, prefix, created, expires, last used, revoked" \
  python3 - "$E2E_TMP/list.json" "${rw:0:8}" "$victim_id" "$alice" <<'PY'
import json, sys
rows = json.load(open(sys.argv[1]))
keys = {"id", "owner", "scopes", "prefix", "note", "created_at", "expires_at", "last_used_at", "revoked_at"}
by_prefix = [r for r in rows if r["prefix"] == sys.argv[2]]
victim = [r for r in rows if r["id"] == int(sys.argv[3])]
ok = all(set(r) == keys for r in rows) and len(by_prefix) == 1 and by_prefix[0]["owner"] == sys.argv[4] \
    and by_prefix[0]["scopes"] == "tasks:read,tasks:write" and by_prefix[0]["note"] == "e2e 33 rw" \
    and victim and victim[0]["revoked_at"] is not None and by_prefix[0]["revoked_at"] is None
sys.exit(0 if ok else 1)
PY
leaked=0
while read -r s; do
  [ -n "$s" ] || continue
  if grep -qF -- "$s" "$E2E_TMP/list.txt" "$E2E_TMP/list.json"; then leaked=$((leaked + 1)); fi
  if grep -qF -- "${s:4}" "$E2E_TMP/list.txt" "$E2E_TMP/list.json"; then leaked=$((leaked + 1)); fi
done <"$secrets"
check "token list never shows a secret ($leaked found)" test "$leaked" = 0
# last_used_at is written off the request path, soon after the first use.
used() {
  tok list --owner "$alice" --format json | python3 -c '
import json, sys; rows = json.load(sys.stdin); sys.exit(0 if any(r["prefix"] == sys.argv[1] and r["last_used_at"] for r in rows) else 1)' "${rw:0:8}"
}
check "last_used_at of a used token is set by the background writer" wait_for 15 used

# ---- /metrics counts refusals by reason --------------------------------------------------
admin_scrape "$admin" "$E2E_TMP/b.prom"
delta() { echo $(($(prom "$E2E_TMP/b.prom" "taskapi_auth_refused_total{reason=\"$1\"}") - $(prom "$E2E_TMP/a.prom" "taskapi_auth_refused_total{reason=\"$1\"}"))); }
check "refusals counted as missing: 1 ($(delta missing))" test "$(delta missing)" = 1
check "refusals counted as malformed: 7 ($(delta malformed))" test "$(delta malformed)" = 7
check "refusals counted as unknown: 1 ($(delta unknown))" test "$(delta unknown)" = 1
check "refusals counted as expired: 1 ($(delta expired))" test "$(delta expired)" = 1
check "refusals counted as insufficient_scope: 3 ($(delta insufficient_scope))" test "$(delta insufficient_scope)" = 3
rv=$(delta revoked)
check "refusals counted as revoked: one per refused request after the revocation ($rv)" test "$rv" = $((ANSWERS + 1))

# ---- a lookup the database cannot answer: 503, never a 401 ------------------------------------
fresh=$(tok create --owner "$alice" --scopes tasks:read 2>/dev/null) || fresh=''
made "$fresh"
sql "RENAME TABLE api_tokens TO api_tokens_away"
at_exit "sql 'RENAME TABLE api_tokens_away TO api_tokens' 2>/dev/null"
req GET /tasks/ "Bearer $fresh"
check "a token the database cannot look up now is 503 with Retry-After (got $STATUS, Retry-After $(header Retry-After))" \
  test "$STATUS" = 503 -a "$(header Retry-After)" = 1
sql "RENAME TABLE api_tokens_away TO api_tokens"
req GET /tasks/ "Bearer $fresh"
check "... and accepted once it can (200; got $STATUS)" test "$STATUS" = 200

# ---- the secrets go nowhere ---------------------------------------------------------------
found=0
while read -r s; do
  [ -n "$s" ] || continue
  if grep -qF -- "${s:4}" "$log" "$E2E_TMP/b.prom"; then found=$((found + 1)); fi
done <"$secrets"
check "no secret in the instance's log or its /metrics ($found found)" test "$found" = 0
cp "$secrets" "$TASKAPI_RUN_DIR/e2e-token-secrets.txt" # 34-no-secrets looks for them everywhere
chmod 600 "$TASKAPI_RUN_DIR/e2e-token-secrets.txt"

ta_stop "$pid"
check "the instance stops cleanly on SIGTERM (exit $TA_EXIT)" test "$TA_EXIT" = 0
