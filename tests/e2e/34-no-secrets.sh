#!/usr/bin/env bash
# 34-no-secrets: a token's secret goes nowhere but to whoever created it. Tokens are made
# (`token create`, and `token create --sql` as on shared hosting), used, mistyped and
# revoked through nginx in front of a token-mode instance that logs everything it can
# (debug level, SQL echo, access lines, slow log); then every log (that instance's, the
# front nginx's, the stack's taskapi, nginx, migrate and MariaDB logs), a mysqldump of
# the database and /metrics and /status are searched for each secret made here and by
# 33-tokens (its list in the run folder) — whole, and its random part alone. Nothing
# may be found. The database holds only each token's keyed hash and its prefix.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$(dirname "$0")/lib-admin.sh"

ini=$(instance_config nosecrets)
sock=$E2E_TMP/nosecrets.sock
admin=$E2E_TMP/nosecrets-admin.sock
log=$E2E_TMP/nosecrets.log
root_args
tok() { taskapi_token "$@"; }
# The owner of this run only; its tasks go when it ends (later tests count every task).
dora=dora-$$
at_exit "sql \"DELETE FROM tasks WHERE owner = '$dora'\""
secrets=$E2E_TMP/secrets.txt
: >"$secrets"

ta_start nosecrets "$TASKAPI_BIN" --config "$ini" "${ROOT_ARGS[@]}" --workers 1 \
  --set "server.listen=$sock" --set "server.admin_listen=$admin" --set server.socket_mode=0666 \
  --set auth.mode=token --set "auth.token_key_file=$TOKEN_KEY_FILE" \
  --set log.level=debug --set log.sql_echo=true --set log.slow_request_ms=1
if ! wait_for 20 fcgi_ok "$sock" || ! ngx_front front "unix:$sock"; then
  not_ok "a token-mode instance behind nginx comes up"
  diag "$(tail -n 20 "$log")"
  exit 0
fi
ok "a token-mode instance behind nginx is up (debug log, SQL echo, slow log for every request)"

a=$(tok create --owner "$dora" --scopes tasks:read,tasks:write --note "e2e 34" 2>/dev/null) || a=''
b=$(tok create --owner "$dora" --scopes tasks:read 2>/dev/null) || b=''
c=$(tok create --sql --owner "$dora" --scopes tasks:read --note "pasted – ✓ 'x'" 2>"$E2E_TMP/insert.sql") || c=''
printf '%s\n%s\n%s\n' "$a" "$b" "$c" >>"$secrets"
check "three tokens made (two stored, one as SQL)" bash -c '[ "${#1}" = 42 ] && [ "${#2}" = 42 ] && [ "${#3}" = 42 ]' _ "$a" "$b" "$c"
check "the --sql INSERT holds the hash and the prefix, not the secret" \
  bash -c 'grep -q "^INSERT INTO api_tokens" "$1" && grep -qF "${2:0:8}" "$1" && ! grep -qF "${2:4:32}" "$1"' _ "$E2E_TMP/insert.sql" "$c"
$MYSQL <"$E2E_TMP/insert.sql"
listed=$(tok list --owner "$dora" --format json 2>&1) || true
check "the pasted row lists with its prefix and its note, unchanged" python3 -c '
import json, sys
rows = json.loads(sys.argv[1])
sys.exit(0 if any(r["prefix"] == sys.argv[2] and r["note"] == sys.argv[3] for r in rows) else 1)' \
  "$listed" "${c:0:8}" "pasted – ✓ 'x'"

front() { STATUS=$(curl -s -o "$E2E_TMP/front.body" -w '%{http_code}' --max-time 15 "$@") || STATUS=000; }
front -H "Authorization: Bearer $a" -H 'Content-Type: application/json' --data '{"title":"e2e 34"}' "$FRONT_URL/tasks/"
check "a stored token works through nginx (POST: 201, got $STATUS)" test "$STATUS" = 201
front -H "Authorization: Bearer $c" "$FRONT_URL/tasks/"
check "the token inserted from its SQL works (GET: 200, got $STATUS)" test "$STATUS" = 200
front -H "Authorization: Bearer $b" -X DELETE "$FRONT_URL/tasks/1"
check "the read-only token is refused a DELETE (403, got $STATUS)" test "$STATUS" = 403
front -H "Authorization: Bearer ${a:0:30}X${a:31}" "$FRONT_URL/tasks/"
check "a mistyped token is refused (401, got $STATUS)" test "$STATUS" = 401
front -H "Authorization: Bearer ${a:0:41}" "$FRONT_URL/tasks/"
check "a truncated token is refused (401, got $STATUS)" test "$STATUS" = 401
id=$(tok list --owner "$dora" --format json | python3 -c 'import json,sys; print([r for r in json.load(sys.stdin) if r["scopes"] == "tasks:read"][0]["id"])')
tok revoke "$id" >/dev/null 2>&1 || true
sleep 5
front -H "Authorization: Bearer $b" "$FRONT_URL/tasks/"
check "the revoked token is refused (401, got $STATUS)" test "$STATUS" = 401
admin_scrape "$admin" "$E2E_TMP/instance.prom"
admin_get "$admin" "/status?full"
cp "$ADMIN_BODY" "$E2E_TMP/instance.status"
admin_scrape "$APP_ADMIN_SOCK" "$E2E_TMP/stack.prom"
check "the instance logged its requests at debug level with SQL echo (the search below means something)" \
  grep -q "token_lookup" "$log"
ta_stop "$TA_PID"

# ---- search --------------------------------------------------------------------------------
if [ -r "$TASKAPI_RUN_DIR/e2e-token-secrets.txt" ]; then cat "$TASKAPI_RUN_DIR/e2e-token-secrets.txt" >>"$secrets"; fi
mariadb-dump --defaults-file="$SECRETS_DIR/migrate.cnf" --single-transaction --hex-blob "$DB_NAME" \
  >"$E2E_TMP/dump.sql" 2>"$E2E_TMP/dump.err" || diag "mariadb-dump: $(head -c 300 "$E2E_TMP/dump.err")"
check "the database dump has the tokens' rows" grep -q "INSERT INTO \`api_tokens\`" "$E2E_TMP/dump.sql"
places=("$log" "$E2E_TMP/front/access.log" "$E2E_TMP/front/error.log" "$E2E_TMP/dump.sql"
  "$E2E_TMP/instance.prom" "$E2E_TMP/instance.status" "$E2E_TMP/stack.prom")
while IFS= read -r f; do places+=("$f"); done < <(find "$TASKAPI_RUN_DIR" -path "$SECRETS_DIR" -prune -o \
  -type f \( -name '*.log' -o -name '*.err' \) -print)
n=$(grep -c . "$secrets" || true)
found=()
while IFS= read -r s; do
  [ -n "$s" ] || continue
  for f in "${places[@]}"; do
    [ -r "$f" ] || continue
    if grep -qF -- "${s:4:32}" "$f"; then found+=("${s:0:8}... in $f"); fi
  done
done <"$secrets"
diag "searched ${#places[@]} files for $n secrets"
if [ "${#found[@]}" -eq 0 ]; then
  ok "no secret in any log, the database dump or /metrics and /status"
else
  not_ok "secrets found"
  diag "${found[@]}"
fi
check "at least the 3 secrets of this test were searched for ($n)" test "$n" -ge 3
