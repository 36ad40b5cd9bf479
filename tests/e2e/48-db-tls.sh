#!/usr/bin/env bash
# 48-db-tls: taskapi talks to MariaDB over TLS with the server's certificate verified.
# The stack's MariaDB offers TLS on 127.0.0.1 (script/lib/stack.sh: a throwaway CA and
# a certificate for IP:127.0.0.1 and DNS:localhost). A second taskapi connects over TCP
# as an account created REQUIRE SSL, so an answer from the database proves the
# connection was encrypted (the server refuses that account in clear: checked too), and
# Ssl_finished_accepts grows. With database.ssl_ca = the stack's CA it serves; with
# another CA, or against a certificate that names another host, it refuses to start
# and says why, without the password; ssl_verify_server_cert = false with the wrong CA
# serves, still encrypted (the documented trade-off). `taskapi migrate` over TLS
# works and refuses the wrong CA; --check-config names a missing CA file.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if [ -z "$DB_PORT" ] || [ ! -s "$DB_CA" ]; then
  not_ok "the stack's MariaDB has a TCP port and a CA ($DB_PORT_FILE, $DB_CA)"
  exit 0
fi

# root_sql STATEMENTS — as the stack's administrator over the socket, in clear, so that
# these connections never count in Ssl_finished_accepts (the 10.11 client asks for TLS
# by default).
root_sql() {
  mariadb --no-defaults --socket="$DB_SOCK" --user="$(id -un)" --skip-ssl --batch --skip-column-names -e "$1"
}
tls_accepts() { root_sql "SHOW GLOBAL STATUS LIKE 'Ssl_finished_accepts'" | cut -f2; }

# An account that MariaDB lets in only over TLS, for serving and migrating.
user=taskapi_e2e_tls
pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s' "$pw" >"$E2E_TMP/tls.pass")
root_sql "DROP USER IF EXISTS '$user'@'localhost';
CREATE USER '$user'@'localhost' IDENTIFIED BY '$pw' REQUIRE SSL;
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$user'@'localhost';"
at_exit "root_sql \"DROP USER IF EXISTS '$user'@'localhost'\""

ini=$(instance_config tls)
root_args
# tls_args NAME [--set ...] — the instance's arguments: its own socket, the stack's
# MariaDB over TCP as the TLS account, one try at start (no wait).
tls_args() {
  local name=$1
  shift
  ARGS=(--config "$ini" "${ROOT_ARGS[@]}" --set "server.listen=$E2E_TMP/$name.sock"
    --set server.workers=0 --set server.threads=2
    --set database.socket= --set database.host=127.0.0.1 --set "database.port=$DB_PORT"
    --set "database.user=$user" --set "database.password_file=$E2E_TMP/tls.pass"
    --set "database.migrate_user=$user" --set "database.migrate_password_file=$E2E_TMP/tls.pass"
    --set database.wait_at_start_s=0 "$@")
}
# serves NAME [--set ...] — start an instance; true when GET /tasks answers 200 from
# the database. The instance keeps running until the test ends.
serves() {
  local name=$1
  shift
  tls_args "$name" "$@"
  ta_start "$name" "$TASKAPI_BIN" "${ARGS[@]}"
  wait_for 10 fcgi_ok "$E2E_TMP/$name.sock" || { diag "$name: no /healthz; log: $(tail -n 5 "$E2E_TMP/$name.log")"; return 1; }
  fcgi GET /tasks "$E2E_TMP/$name.sock"
  [ "$STATUS" = 200 ] || { diag "$name: GET /tasks answered $STATUS: $(head -c 300 "$BODY")"; return 1; }
}
# refused NAME PATTERN [--set ...] — start an instance: it exits non-zero by itself,
# its log matches PATTERN, never holds the password, and it never listened.
refused() {
  local name=$1 pattern=$2
  shift 2
  tls_args "$name" "$@"
  ta_start "$name" "$TASKAPI_BIN" "${ARGS[@]}"
  if ! ta_died_with "$name" "$TA_PID" "$pattern"; then
    diag "$name: log: $(tail -n 5 "$E2E_TMP/$name.log")"
    return 1
  fi
  if grep -qF "$pw" "$E2E_TMP/$name.log"; then
    diag "$name: the log holds the password"
    return 1
  fi
  [ ! -S "$E2E_TMP/$name.sock" ] || { diag "$name: it listened"; return 1; }
}

# ---- the account is refused in clear: an answer below proves TLS ----
check 'in clear (no database.ssl_ca), the REQUIRE SSL account is refused: taskapi does not start' \
  refused clear 'Access denied'

# ---- verified against the stack's CA ----
before=$(tls_accepts)
check "with database.ssl_ca = the stack's CA (verification on): GET /tasks answers 200" \
  serves good --set "database.ssl_ca=$DB_CA"
after=$(tls_accepts)
check "its connections were TLS handshakes (Ssl_finished_accepts $before -> $after)" \
  test "$after" -gt "$before"
check "its log has no TLS complaint" sh -c "! grep -qiE 'ssl|tls|certificate' '$E2E_TMP/good.log'"

# ---- another CA ----
tls_ca "$E2E_TMP/other-ca" "another CA"
check 'with another CA: taskapi refuses to start, and its log names the verification failure and the CA file' \
  refused wrongca "TLS/SSL error: [^;]*certificate[^;]*\(2026\); TLS with verification: .*database.ssl_ca '$E2E_TMP/other-ca.pem'" \
  --set "database.ssl_ca=$E2E_TMP/other-ca.pem"

# ---- verification off: encrypted, not authenticated ----
before=$(tls_accepts)
check 'ssl_verify_server_cert = false with another CA: GET /tasks answers 200 (encrypted, unverified)' \
  serves noverify --set "database.ssl_ca=$E2E_TMP/other-ca.pem" --set database.ssl_verify_server_cert=false
after=$(tls_accepts)
check "... over TLS (Ssl_finished_accepts $before -> $after)" test "$after" -gt "$before"

# ---- migrate ----
tls_args migrate --set "database.ssl_ca=$DB_CA"
if "$TASKAPI_BIN" migrate "${ARGS[@]}" </dev/null >"$E2E_TMP/migrate.log" 2>&1; then
  ok 'taskapi migrate over TLS, verified, as the REQUIRE SSL account'
else
  not_ok 'taskapi migrate over TLS, verified, as the REQUIRE SSL account'
  diag "$(tail -n 5 "$E2E_TMP/migrate.log")"
fi
tls_args migrate --set "database.ssl_ca=$E2E_TMP/other-ca.pem"
if "$TASKAPI_BIN" migrate "${ARGS[@]}" </dev/null >"$E2E_TMP/migrate-bad.log" 2>&1; then
  not_ok 'taskapi migrate with another CA fails'
else
  check 'taskapi migrate with another CA fails and says the certificate did not verify' \
    grep -q 'TLS/SSL error: .*certificate' "$E2E_TMP/migrate-bad.log"
fi

# ---- --check-config ----
tls_args checkcfg --set database.ssl_ca=/nonexistent/ca.pem
out=$("$TASKAPI_BIN" --check-config "${ARGS[@]}" 2>&1 || true)
check '--check-config warns that database.ssl_ca cannot be read' \
  grep -q "database.ssl_ca '/nonexistent/ca.pem' cannot be read" <<<"$out"

# ---- a certificate for another name ----
# The server presents, for a moment, a certificate signed by the stack's CA for
# DNS:elsewhere only (FLUSH SSL reloads the files); the stack's own is put back at exit.
cp "$DB_SERVER_CERT" "$E2E_TMP/server.pem.orig"
cp "$DB_SERVER_KEY" "$E2E_TMP/server.key.orig"
restore_cert() {
  cp "$E2E_TMP/server.pem.orig" "$DB_SERVER_CERT"
  cp "$E2E_TMP/server.key.orig" "$DB_SERVER_KEY"
  root_sql 'FLUSH SSL'
}
at_exit restore_cert
tls_cert "$E2E_TMP/elsewhere" "$DB_TLS_DIR/ca" "DNS:elsewhere"
cp "$E2E_TMP/elsewhere.pem" "$DB_SERVER_CERT"
cp "$E2E_TMP/elsewhere.key" "$DB_SERVER_KEY"
root_sql 'FLUSH SSL'
check 'a certificate from the right CA for DNS:elsewhere, reached as 127.0.0.1: refused, naming the host' \
  refused wrongname "Validation of SSL server certificate failed.*name '127.0.0.1'" --set "database.ssl_ca=$DB_CA"
restore_cert
check "with the stack's certificate back (FLUSH SSL), the same settings serve again" \
  serves goodagain --set "database.ssl_ca=$DB_CA"
