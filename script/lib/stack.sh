# shellcheck shell=bash
# shellcheck disable=SC2034 # the paths set here are read by the scripts that source it
# script/lib/stack.sh — the private stack: a MariaDB server, taskapi and nginx, all
# living in one run folder of the checkout (default run/, or TASKAPI_RUN_DIR) and
# reachable on 127.0.0.1:TASKAPI_PORT (default 8080). Used by script/server,
# script/test and the e2e tests. Source common.sh first, then call stack_env.
#
# Every process is started by spawn: with setsid, so a Ctrl-C in the terminal reaches
# only the script, which then stops them in order (nginx, taskapi, mariadbd); with its
# stdio on log files, so no daemon keeps a caller's pipe open; and with its working
# folder inside the run folder. Each process is found again through a pid file plus a
# check that its command line names this run folder, never by its name alone.

# stack_env — derive every path and setting from the environment.
stack_env() {
  RUN_DIR=${TASKAPI_RUN_DIR:-$TOP/run}
  mkdir -p "$RUN_DIR"
  RUN_DIR=$(cd "$RUN_DIR" && pwd)
  [[ $RUN_DIR != *[[:space:]]* ]] || die "the run folder must not contain white space: '$RUN_DIR'"
  PORT=${TASKAPI_PORT:-8080}
  if ! [[ $PORT =~ ^[0-9]{1,5}$ ]] || [ "$PORT" -lt 1 ] || [ "$PORT" -gt 65535 ]; then
    die "TASKAPI_PORT must be a TCP port number, not '$PORT'"
  fi

  # A run folder may name its socket folder in the file sock-dir: script/test keeps
  # the sockets in a folder of their own under /tmp that other users may enter
  # (0711), so that a taskapi run as www-data or nobody reaches MariaDB wherever the
  # checkout is. The file belongs to that one run folder, so a stack started from a
  # test with another run folder never shares (and takes over) those sockets.
  # A unix socket path must fit in sockaddr_un (108 bytes). A deep checkout gets its
  # sockets in a short folder named after the run folder's checksum instead.
  SOCK_DIR=''
  if [ -r "$RUN_DIR/sock-dir" ]; then
    read -r SOCK_DIR <"$RUN_DIR/sock-dir" || true
    [ "${#SOCK_DIR}" -le 80 ] || die "$RUN_DIR/sock-dir must name a folder of at most 80 characters: '$SOCK_DIR'"
    [[ $SOCK_DIR != *[[:space:]]* ]] || die "$RUN_DIR/sock-dir must not contain white space: '$SOCK_DIR'"
  fi
  if [ -n "$SOCK_DIR" ]; then
    :
  elif [ "${#RUN_DIR}" -le 80 ]; then
    SOCK_DIR=$RUN_DIR
  else
    SOCK_DIR=${TMPDIR:-/tmp}/taskapi-$(printf '%s' "$RUN_DIR" | cksum | cut -d' ' -f1)
  fi

  DB_DIR=$RUN_DIR/mariadb
  DB_DATA=$DB_DIR/data
  DB_SOCK=$SOCK_DIR/mysqld.sock
  DB_PIDFILE=$DB_DIR/mariadbd.pid
  DB_LOG=$DB_DIR/error.log
  # TLS: a throwaway CA and a server certificate for 127.0.0.1 and localhost, made at
  # every start (mariadb_tls_files). Clients that ask for TLS get it; others stay in clear.
  DB_TLS_DIR=$DB_DIR/tls
  DB_CA=$DB_TLS_DIR/ca.pem
  DB_SERVER_CERT=$DB_TLS_DIR/server.pem
  DB_SERVER_KEY=$DB_TLS_DIR/server.key
  # The TCP port on 127.0.0.1 (tests that connect over TCP, TLS among them), chosen
  # at start and kept in a file so that every script of this run folder finds it.
  DB_PORT_FILE=$DB_DIR/port
  DB_PORT=''
  if [ -r "$DB_PORT_FILE" ]; then
    read -r DB_PORT <"$DB_PORT_FILE" || true
  fi
  DB_NAME=taskapi
  DB_APP_USER=taskapi_app
  DB_MIGRATE_USER=taskapi_migrate
  # The account of `taskapi token` (rights on api_tokens only): `taskapi migrate` creates
  # it, with the password of secrets/tokens.pass (auth.token_admin_password_file).
  DB_TOKENS_USER=taskapi_tokens
  SECRETS_DIR=$RUN_DIR/secrets
  # auth.token_key_file: the HMAC-SHA-256 key taskapi's own tokens are stored under.
  TOKEN_KEY_FILE=$SECRETS_DIR/token.key

  TASKAPI_BIN=${TASKAPI_BIN:-$TOP/fcgi_app/taskapi}
  APP_THREADS=${TASKAPI_THREADS:-8}
  APP_CONF=$RUN_DIR/taskapi.ini
  APP_SOCK=$SOCK_DIR/taskapi.sock
  APP_ADMIN_SOCK=$SOCK_DIR/admin.sock
  APP_PIDFILE=$RUN_DIR/taskapi.pid
  APP_LOG=$RUN_DIR/taskapi.log
  MIGRATE_LOG=$RUN_DIR/migrate.log

  NGX_DIR=$RUN_DIR/nginx
  NGX_CONF=$NGX_DIR/nginx.conf
  NGX_PIDFILE=$NGX_DIR/nginx.pid
  NGX_LOG=$NGX_DIR/error.log
  # Two nginx workers, each keeping up to `keepalive` idle FastCGI connections (from
  # nginx/taskapi.conf): more than taskapi's threads, which taskapi handles.
  NGX_WORKERS=2

  STACK_URL=http://127.0.0.1:$PORT
  # The same site on a second loopback address and the same port, where the site's
  # per-address limits (limit_req, limit_conn) count: on STACK_URL they count nobody
  # (nginx/private-stack.conf.in says why).
  NGX_LIMITED_ADDR=127.0.0.2
  LIMITED_URL=http://$NGX_LIMITED_ADDR:$PORT
  DB_PID='' APP_PID='' NGX_PID='' APP_EXIT=''
}

# spawn DIR LOG COMMAND... — start COMMAND in the background as described above; $!
# is its pid (setsid does not fork here: a background job of a non-interactive shell
# is not a process group leader, so setsid simply execs).
spawn() {
  local dir=$1 log=$2
  shift 2
  (cd "$dir" && exec setsid "$@" </dev/null >>"$log" 2>&1) &
}

# taskapi_args — the options every taskapi invocation gets. taskapi refuses to run as
# root unless told otherwise; CI and containers are root, so tell it there.
taskapi_args() {
  TASKAPI_ARGS=(--config "$APP_CONF")
  if is_root; then
    TASKAPI_ARGS+=(--set server.allow_root=true)
  fi
}

# ---- MariaDB ----

# The administrative account: install-db gives root (or the installing user) unix
# socket authentication, so no admin password exists anywhere.
db_admin() {
  mariadb --no-defaults --socket="$DB_SOCK" --user="$(id -un)" --batch --skip-column-names
}

db_pid() { pid_from_file "$DB_PIDFILE" "--datadir=$DB_DATA"; }

# tls_cert OUT_PREFIX CA_PREFIX SAN — an EC P-256 key (OUT_PREFIX.key) and a certificate
# (OUT_PREFIX.pem) for the subjectAltName SAN, signed by CA_PREFIX.{pem,key}; valid
# for two days. Quiet; dies on failure. Also used by e2e tests for wrong certificates.
tls_cert() {
  local out=$1 ca=$2 san=$3
  (umask 077 && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$out.key" -subj "/CN=${san##*:}" -out "$out.csr" 2>/dev/null) ||
    die "openssl: cannot make a key and request for $out"
  openssl x509 -req -in "$out.csr" -CA "$ca.pem" -CAkey "$ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile <(printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san") \
    -out "$out.pem" 2>/dev/null || die "openssl: cannot sign $out.pem"
  rm -f "$out.csr"
}

# tls_ca PREFIX NAME — a throwaway CA: PREFIX.key (EC P-256) and PREFIX.pem (self-signed).
tls_ca() {
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -subj "/CN=$2" -days 2 -sha256 -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null) ||
    die "openssl: cannot make the CA $1.pem"
}

# mariadb_tls_files — a new CA and server certificate (SAN IP:127.0.0.1, DNS:localhost)
# in DB_TLS_DIR, at every start: nothing to renew, nothing reused from an older run.
mariadb_tls_files() {
  rm -rf "$DB_TLS_DIR"
  mkdir -p "$DB_TLS_DIR"
  chmod 700 "$DB_TLS_DIR"
  tls_ca "$DB_TLS_DIR/ca" "taskapi test CA $$"
  tls_cert "$DB_TLS_DIR/server" "$DB_TLS_DIR/ca" "IP:127.0.0.1,DNS:localhost"
  chmod 644 "$DB_CA" "$DB_SERVER_CERT"
}

mariadb_start() {
  local pid install_log=$DB_DIR/install.log deadline
  local user_opt=()
  if pid=$(db_pid); then
    die "mariadbd already runs for $RUN_DIR (pid $pid); stop it first"
  fi
  is_root && user_opt=(--user=root)
  mkdir -p "$DB_DIR/tmp" "$SOCK_DIR"
  chmod 700 "$DB_DIR"
  if [ ! -d "$DB_DATA/mysql" ]; then
    say "mariadb: creating data directory $DB_DATA"
    rm -rf "$DB_DATA" # a half-made one from an interrupted attempt
    # --tmpdir (passed on to mariadbd): not /tmp, where the bootstrap's temporary
    # tables of another stack installing at the same moment (other checkouts, other
    # pid namespaces) can bear the same name ("Unknown table 'mysql.tmp_user_sys'").
    if ! mariadb-install-db --no-defaults --datadir="$DB_DATA" "${user_opt[@]}" \
      --auth-root-authentication-method=socket --skip-test-db --tmpdir="$DB_DIR/tmp" >"$install_log" 2>&1; then
      tail -n 20 "$install_log" >&2
      die "mariadb-install-db failed (full log: $install_log)"
    fi
  fi
  mariadb_tls_files
  DB_PORT=$(free_port)
  echo "$DB_PORT" >"$DB_PORT_FILE"
  say "mariadb: starting on $DB_SOCK and 127.0.0.1:$DB_PORT (TLS offered)"
  # --no-defaults: nothing from /etc/mysql; the binary's defaults plus these, plus
  # TASKAPI_MARIADB_ARGS (words, e.g. "--thread-handling=pool-of-threads") if set.
  # Durable commits (flush at every commit), a small buffer pool, utf8mb4 by default,
  # TCP on the loopback address only, TLS offered (not required) on both.
  spawn "$DB_DIR" "$DB_DIR/stderr.log" mariadbd --no-defaults "${user_opt[@]}" \
    --datadir="$DB_DATA" --socket="$DB_SOCK" --pid-file="$DB_PIDFILE" \
    --log-error="$DB_LOG" --tmpdir="$DB_DIR/tmp" \
    --bind-address=127.0.0.1 --port="$DB_PORT" \
    --ssl-ca="$DB_CA" --ssl-cert="$DB_SERVER_CERT" --ssl-key="$DB_SERVER_KEY" \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=16M \
    --innodb-flush-log-at-trx-commit=1 \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    ${TASKAPI_MARIADB_ARGS:-}
  DB_PID=$!
  # mariadbd writes the same pid there itself once it is up; writing it now lets a
  # stop find a server that is still starting.
  echo "$DB_PID" >"$DB_PIDFILE"
  deadline=$((SECONDS + ${TASKAPI_DB_START_TIMEOUT:-60}))
  # `ping` succeeds once the server accepts connections (even without privileges).
  until mariadb-admin --no-defaults --socket="$DB_SOCK" --connect-timeout=2 ping >/dev/null 2>&1; do
    if ! pid_alive "$DB_PID"; then
      tail -n 20 "$DB_LOG" >&2
      die "mariadbd exited during start-up (log: $DB_LOG)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "mariadbd did not answer within ${TASKAPI_DB_START_TIMEOUT:-60}s (log: $DB_LOG)"
    sleep 0.2
  done
}

# mariadb_stop — SIGTERM is mariadbd's clean shutdown; give it a minute to flush.
mariadb_stop() {
  local pid
  if pid=$(db_pid) || { [ -n "$DB_PID" ] && pid=$DB_PID && pid_alive "$pid"; }; then
    say "mariadb: stopping (pid $pid)"
    stop_pid mariadbd "$pid" TERM 60 || STACK_FORCED=1
  fi
  DB_PID=''
}

# secret NAME — print the password stored in secrets/NAME.pass, creating it (random,
# mode 0600) the first time. Hex only, so it needs no quoting in SQL or option files.
secret() {
  local file=$SECRETS_DIR/$1.pass
  if [ ! -s "$file" ]; then
    (umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# client_cnf NAME USER PASSWORD — an option file for the mariadb client, so that tests
# and people never put a password on a command line (where ps shows it).
client_cnf() {
  (umask 077 && cat >"$SECRETS_DIR/$1.cnf" <<EOF
[client]
user=$2
password=$3
socket=$DB_SOCK
default-character-set=utf8mb4
EOF
  )
}

# mariadb_provision — database, users and grants; safe to repeat on every start.
# The application user may only read and write rows (api_tokens included: it needs
# SELECT and UPDATE(last_used_at) there, docs/operations.md); schema changes need the
# migration user, which also creates the token account (CREATE USER, and GRANT OPTION
# on the database: it hands out SELECT, INSERT, UPDATE on api_tokens).
mariadb_provision() {
  local app_pw migrate_pw tokens_pw
  mkdir -p "$SECRETS_DIR"
  chmod 700 "$SECRETS_DIR"
  app_pw=$(secret app)
  migrate_pw=$(secret migrate)
  tokens_pw=$(secret tokens)
  token_key >/dev/null
  db_admin <<SQL
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_APP_USER'@'localhost';
ALTER USER '$DB_APP_USER'@'localhost' IDENTIFIED BY '$app_pw';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$DB_APP_USER'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON \`$DB_NAME\`.* TO '$DB_APP_USER'@'localhost';
CREATE USER IF NOT EXISTS '$DB_MIGRATE_USER'@'localhost';
ALTER USER '$DB_MIGRATE_USER'@'localhost' IDENTIFIED BY '$migrate_pw';
REVOKE ALL PRIVILEGES, GRANT OPTION FROM '$DB_MIGRATE_USER'@'localhost';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_MIGRATE_USER'@'localhost' WITH GRANT OPTION;
GRANT CREATE USER ON *.* TO '$DB_MIGRATE_USER'@'localhost';
SQL
  client_cnf app "$DB_APP_USER" "$app_pw"
  client_cnf migrate "$DB_MIGRATE_USER" "$migrate_pw"
  client_cnf tokens "$DB_TOKENS_USER" "$tokens_pw"
}

# token_key — print the path of the token key file, creating it (32 random bytes as
# 64 hex digits, mode 0600) the first time. Kept across restarts: a new key would
# turn every token made before into an unknown one.
token_key() {
  if [ ! -s "$TOKEN_KEY_FILE" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$TOKEN_KEY_FILE")
  fi
  chmod 600 "$TOKEN_KEY_FILE"
  printf '%s\n' "$TOKEN_KEY_FILE"
}

# jwt_dev_keys — the private stack's stand-in for an identity provider (auth.mode =
# jwt): an Ed25519 key in secrets/jwt.pem and its public half as a JWKS in
# secrets/jwks.json (auth.jwt_jwks_file), made the first time. Prints the JWKS path.
jwt_dev_keys() {
  local jwks=$SECRETS_DIR/jwks.json key=$SECRETS_DIR/jwt.pem
  if [ ! -s "$jwks" ]; then
    (umask 077 && openssl genpkey -algorithm ED25519 -out "$key" 2>/dev/null) ||
      die "openssl genpkey failed (is the openssl command installed?)"
    openssl pkey -in "$key" -pubout -outform DER | python3 -c '
import base64, json, sys
x = base64.urlsafe_b64encode(sys.stdin.buffer.read()[-32:]).rstrip(b"=").decode()
print(json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "dev", "alg": "EdDSA", "use": "sig"}]}))' \
      >"$jwks.tmp" && mv "$jwks.tmp" "$jwks"
  fi
  printf '%s\n' "$jwks"
}

# jwt_dev_token OWNER SCOPES SECONDS — a JWT from the stand-in provider (jwt_dev_keys):
# sub OWNER, scope SCOPES ("tasks:read tasks:write"), valid for SECONDS.
jwt_dev_token() {
  local input sig tmp
  jwt_dev_keys >/dev/null
  input=$(python3 -c '
import base64, json, sys, time, uuid
b = lambda d: base64.urlsafe_b64encode(json.dumps(d, separators=(",", ":")).encode()).rstrip(b"=").decode()
now = int(time.time())
print(b({"alg": "EdDSA", "typ": "JWT", "kid": "dev"}) + "." + b({"sub": sys.argv[1], "scope": sys.argv[2],
      "iat": now, "exp": now + int(sys.argv[3]), "jti": uuid.uuid4().hex[:16]}))' "$1" "$2" "$3")
  # Ed25519 signs the whole message at once: pkeyutl needs it in a file, not a pipe.
  tmp=$(mktemp)
  printf '%s' "$input" >"$tmp"
  sig=$(openssl pkeyutl -sign -inkey "$SECRETS_DIR/jwt.pem" -rawin -in "$tmp" |
    python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).rstrip(b"=").decode())')
  rm -f "$tmp"
  [ -n "$sig" ] || return 1
  printf '%s.%s\n' "$input" "$sig"
}

# taskapi_token ARGS... — `taskapi token ARGS...` against the private stack, as the
# token account (e.g. taskapi_token create --owner alice --scopes tasks:write).
taskapi_token() {
  taskapi_token_args
  "$TASKAPI_BIN" "${TASKAPI_ARGS[@]}" token "$@"
}

# ---- taskapi ----

# taskapi_render_config — the private stack's taskapi.ini. Passwords stay in their
# files (password_file), never in the config or the environment. APP_DB_SERVER, when
# set, replaces the line "socket = $DB_SOCK" with its own [database] lines (the
# cluster rig, script/lib/cluster.sh, names its nodes there).
taskapi_render_config() {
  (umask 077 && cat >"$APP_CONF" <<EOF
; Rendered by script/lib/stack.sh for the private stack in $RUN_DIR — do not edit.
[server]
listen = $APP_SOCK
threads = $APP_THREADS
socket_mode = 0660

[database]
${APP_DB_SERVER:-socket = $DB_SOCK}
name = $DB_NAME
user = $DB_APP_USER
password_file = $SECRETS_DIR/app.pass
migrations_dir = $TOP/sql
migrate_user = $DB_MIGRATE_USER
migrate_password_file = $SECRETS_DIR/migrate.pass

[log]
level = ${TASKAPI_LOG_LEVEL:-info}
access_log = true

[auth]
mode = ${TASKAPI_AUTH:-none}
token_key_file = $TOKEN_KEY_FILE
token_admin_user = $DB_TOKENS_USER
jwt_jwks_file = $(jwt_dev_keys)
; token_admin_password_file ($SECRETS_DIR/tokens.pass) is given to
; taskapi migrate and taskapi token only (taskapi_token_args), as an operator
; keeps it out of the serving configuration: a server reads every password file
; named here, again at each reload as its service user.
EOF
  )
}

# taskapi_token_args — TASKAPI_ARGS plus the token account's password file, for the
# commands that use that account (migrate creates it, token uses it).
taskapi_token_args() {
  taskapi_args
  TASKAPI_ARGS+=(--set "auth.token_admin_password_file=$SECRETS_DIR/tokens.pass")
}

# taskapi_migrate — apply pending migrations with the migration user (and create the
# token account). Its output is also kept in migrate.log (script/test scans it for
# sanitizer reports).
taskapi_migrate() {
  taskapi_token_args
  say "taskapi migrate"
  "$TASKAPI_BIN" migrate "${TASKAPI_ARGS[@]}" </dev/null 2>&1 | tee -a "$MIGRATE_LOG" >&2
}

app_pid() { pid_from_file "$APP_PIDFILE" "$APP_CONF"; }

taskapi_start() {
  local pid deadline
  if pid=$(app_pid); then
    die "taskapi already runs for $RUN_DIR (pid $pid); stop it first"
  fi
  [ -x "$TASKAPI_BIN" ] || die "$TASKAPI_BIN not found: build it first (make)"
  taskapi_args
  rm -f "$APP_SOCK"
  say "taskapi: starting on $APP_SOCK (log: $APP_LOG)"
  # The admin socket (/metrics, /status) is this instance's alone, so it is a flag, not
  # a line of taskapi.ini: the extra instances tests start from that file need none.
  spawn "$RUN_DIR" "$APP_LOG" "$TASKAPI_BIN" "${TASKAPI_ARGS[@]}" --set "server.admin_listen=$APP_ADMIN_SOCK"
  APP_PID=$!
  echo "$APP_PID" >"$APP_PIDFILE"
  deadline=$((SECONDS + 30))
  until [ -S "$APP_SOCK" ]; do
    if ! pid_alive "$APP_PID"; then
      tail -n 20 "$APP_LOG" >&2
      die "taskapi exited during start-up (log: $APP_LOG)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "taskapi did not create $APP_SOCK within 30s (log: $APP_LOG)"
    sleep 0.1
  done
}

# taskapi_stop — SIGTERM is taskapi's clean stop; it must exit 0. APP_EXIT keeps the
# exit status when this shell started it (script/test counts a bad one as a failure).
taskapi_stop() {
  local pid
  if pid=$(app_pid) || { [ -n "$APP_PID" ] && pid=$APP_PID && pid_alive "$pid"; }; then
    say "taskapi: stopping (pid $pid)"
    stop_pid taskapi "$pid" TERM 15 || STACK_FORCED=1
  fi
  if [ -n "$APP_PID" ]; then
    APP_EXIT=0
    wait "$APP_PID" 2>/dev/null || APP_EXIT=$?
  fi
  APP_PID=''
  rm -f "$APP_PIDFILE"
}

# ---- nginx ----

# ngx_main_conf DIR WORKERS — nginx/private-stack.conf.in, the main and http contexts
# of an nginx whose files (pid, logs, temporary files) live in DIR, on stdout. Shared
# by nginx_render and the extra nginx instances of the e2e tests (deploy-lib.sh).
ngx_main_conf() {
  local dir=$1 workers=$2 tpl nofile conns user_line=''
  # nginx's master drops to `user` (default nobody) for its workers only when it runs
  # as root; the workers must be able to open taskapi's 0660 socket, owned by root then.
  is_root && user_line='user root;'
  # Descriptors: what the hard limit allows, at most 16384; half of them per worker
  # for connections (a proxied request holds two), at most 4096.
  nofile=$(ulimit -Hn)
  [[ $nofile =~ ^[0-9]+$ ]] && [ "$nofile" -le 16384 ] || nofile=16384
  conns=$((nofile / 2))
  [ "$conns" -le 4096 ] || conns=4096
  tpl=$(<"$TOP/nginx/private-stack.conf.in")
  tpl=${tpl//"@USER_LINE@"/"$user_line"}
  tpl=${tpl//"@WORKERS@"/"$workers"}
  tpl=${tpl//"@NGX_DIR@"/"$dir"}
  tpl=${tpl//"@LIMITED_ADDR@"/"$NGX_LIMITED_ADDR"}
  tpl=${tpl//"@NOFILE@"/"$nofile"}
  tpl=${tpl//"@WORKER_CONNECTIONS@"/"$conns"}
  printf '%s\n' "$tpl"
}

# ngx_site_keyed SITE — SITE (the text of nginx/taskapi.conf) with its per-address limit
# zones keyed by $taskapi_limit_key, the map of private-stack.conf.in, on stdout.
ngx_site_keyed() {
  local site=$1
  # shellcheck disable=SC2016 # nginx's variables, not the shell's
  [[ $site == *'$binary_remote_addr zone=taskapi_'* ]] ||
    die "nginx/taskapi.conf no longer has '\$binary_remote_addr zone=taskapi_' for script/lib/stack.sh to replace"
  # shellcheck disable=SC2016
  printf '%s\n' "${site//'$binary_remote_addr zone=taskapi_'/'$taskapi_limit_key zone=taskapi_'}"
}

# nginx_render — the private nginx: nginx/private-stack.conf.in for the main and
# http contexts, plus the production site nginx/taskapi.conf itself with only its
# listen addresses, upstream sockets and the key of its limits replaced, so the tests
# exercise the shipped site.
nginx_render() {
  local site
  mkdir -p "$NGX_DIR/tmp" "$NGX_DIR/snippets"
  # Relative includes resolve against the folder of nginx.conf: give it the stock
  # fastcgi_params (read from the system, never changed) and our snippet.
  cp /etc/nginx/fastcgi_params "$NGX_DIR/fastcgi_params"
  cp "$TOP/nginx/taskapi-fastcgi.conf" "$NGX_DIR/snippets/taskapi-fastcgi.conf"

  site=$(<"$TOP/nginx/taskapi.conf")
  [[ $site == *"unix:/run/taskapi/taskapi.sock"* && $site == *"listen 80;"* ]] ||
    die "nginx/taskapi.conf no longer has 'listen 80;' and 'unix:/run/taskapi/taskapi.sock' for script/lib/stack.sh to replace"
  # The docs UI's files: make stages them in docs-ui/ of the build (the checkout);
  # a build without them has none there, and nginx then answers as it would in
  # production without them.
  [[ $site == *"alias /usr/local/share/taskapi/docs/;"* ]] ||
    die "nginx/taskapi.conf no longer has 'alias /usr/local/share/taskapi/docs/;' for script/lib/stack.sh to replace"
  site=${site//"alias /usr/local/share/taskapi/docs/;"/"alias \"$TOP/docs-ui/\";"}
  site=${site//"unix:/run/taskapi/taskapi.sock"/"unix:$APP_SOCK"}
  site=${site//"unix:/run/taskapi/admin.sock"/"unix:$APP_ADMIN_SOCK"}
  # Two listeners: 127.0.0.1, where the limits count nobody, and NGX_LIMITED_ADDR.
  site=${site//"listen 80;"/"listen 127.0.0.1:$PORT; listen $NGX_LIMITED_ADDR:$PORT;"}
  site=$(ngx_site_keyed "$site") || return 1
  if [ "${TASKAPI_AUTH:-none}" = remote_user ]; then
    # auth.mode = remote_user: nginx authenticates (Basic, secrets/htpasswd) and the
    # snippet passes the user on as REMOTE_USER; /healthz and the rest stay open.
    [[ $site == *"    location / {"* ]] ||
      die "nginx/taskapi.conf no longer has 'location / {' for script/lib/stack.sh to add auth_basic to"
    site=${site//"    location / {"/"    location / {
        auth_basic \$taskapi_dev_realm;
        auth_basic_user_file $(ngx_htpasswd);"}
    # The public routes stay public (the start-up probe reads /healthz).
    site="map \$uri \$taskapi_dev_realm {
    default taskapi;
    ~^/(healthz|readyz|openapi\\.json)/?\$ off;
}
$site"
  fi
  printf '# Rendered from nginx/taskapi.conf by script/lib/stack.sh — do not edit.\n%s\n' "$site" \
    >"$NGX_DIR/taskapi-site.conf"
  ngx_main_conf "$NGX_DIR" "$NGX_WORKERS" >"$NGX_CONF"
}

# ngx_htpasswd — the private stack's Basic password file for auth.mode = remote_user:
# the user "local" with a random password kept in secrets/htpasswd.pass, made the
# first time. Prints the path of the password file nginx reads.
ngx_htpasswd() {
  local file=$SECRETS_DIR/htpasswd pass=$SECRETS_DIR/htpasswd.pass
  if [ ! -s "$file" ] || [ ! -s "$pass" ]; then
    (umask 077 && od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$pass")
    (umask 077 && printf 'local:%s\n' "$(openssl passwd -apr1 -stdin <"$pass")" >"$file")
  fi
  # nginx's workers run as root in a stack started by root, else as this user.
  printf '%s\n' "$file"
}

ngx_cmd() {
  nginx -p "$NGX_DIR/" -c "$NGX_CONF" -e "$NGX_LOG" "$@"
}

ngx_pid() { pid_from_file "$NGX_PIDFILE" "$NGX_CONF"; }

# nginx_start [RENDER] — render the configuration with the function RENDER (default
# nginx_render; the cluster rig passes its own), check it, start nginx and wait until
# /healthz answers 200 through it.
# shellcheck disable=SC2120 # script/lib/cluster.sh passes RENDER
nginx_start() {
  local pid deadline code render=${1:-nginx_render}
  if pid=$(ngx_pid); then
    die "nginx already runs for $RUN_DIR (pid $pid); stop it first"
  fi
  if port_in_use "$PORT"; then
    die "port $PORT on 127.0.0.1 is taken; choose another with TASKAPI_PORT=..."
  fi
  "$render"
  ngx_cmd -t -q || die "nginx rejected $NGX_CONF"
  say "nginx: starting on $STACK_URL"
  spawn "$NGX_DIR" "$NGX_DIR/stderr.log" nginx -p "$NGX_DIR/" -c "$NGX_CONF" -e "$NGX_LOG"
  NGX_PID=$!
  deadline=$((SECONDS + 30))
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$STACK_URL/healthz") || code=000
    [ "$code" = 200 ] && break
    pid_alive "$NGX_PID" || die "nginx exited during start-up (log: $NGX_LOG)"
    if [ -n "$APP_PID" ] && ! pid_alive "$APP_PID"; then
      tail -n 20 "$APP_LOG" >&2
      die "taskapi exited (log: $APP_LOG)"
    fi
    [ "$SECONDS" -lt "$deadline" ] || die "GET $STACK_URL/healthz did not answer 200 within 30s (last: $code)"
    sleep 0.1
  done
}

# nginx_stop — SIGQUIT lets in-flight requests finish, SIGTERM after 10 s.
nginx_stop() {
  local pid
  if pid=$(ngx_pid) || { [ -n "$NGX_PID" ] && pid=$NGX_PID && pid_alive "$pid"; }; then
    say "nginx: stopping (pid $pid)"
    stop_pid nginx "$pid" QUIT 10 || STACK_FORCED=1
  fi
  NGX_PID=''
}

# ---- the whole stack ----

# stack_start — MariaDB (created, provisioned), migrations, taskapi, nginx.
stack_start() {
  # Fail before starting anything when nginx could not listen anyway.
  if port_in_use "$PORT"; then
    die "port $PORT on 127.0.0.1 is taken; choose another with TASKAPI_PORT=..."
  fi
  mariadb_start
  mariadb_provision
  taskapi_render_config
  taskapi_migrate || die "taskapi migrate failed (log: $MIGRATE_LOG)"
  taskapi_start
  nginx_start
}

# stack_leftovers — mariadbd, nginx or taskapi processes of this stack, as "pid args"
# lines; a clean stop leaves none. A process belongs to it when its command line
# names one of the stack's own files (data folder, taskapi.ini, nginx.conf) or it
# works in one of the stack's folders (nginx workers and forked taskapi workers need
# not repeat the master's arguments). Stacks in folders below this one (script/test's
# run/test inside run/) are not this stack's.
stack_leftovers() {
  python3 - "$DB_DATA" "$APP_CONF" "$NGX_CONF" -- "$RUN_DIR" "$DB_DIR" "$DB_DATA" "$NGX_DIR" <<'PY'
import os, sys
sep = sys.argv.index("--")
files, dirs = sys.argv[1:sep], {d.rstrip("/") for d in sys.argv[sep + 1:]}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/comm") as f:
            comm = f.read().strip()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(") ", 1)[1].split()[0]
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
    except (OSError, IndexError):
        continue
    if state == "Z" or comm not in ("mariadbd", "nginx", "taskapi"):
        continue
    words = args.replace("=", " ").split()
    if any(f in words for f in files) or cwd in dirs:
        print(pid, args)
PY
}

# stack_stop — front to back, each by its pid; returns 1 if anything had to be killed
# or is still there afterwards. Safe to call when nothing (or only part) runs.
stack_stop() {
  local left
  STACK_FORCED=0
  nginx_stop
  taskapi_stop
  mariadb_stop
  left=$(stack_leftovers)
  if [ -n "$left" ]; then
    warn "processes of $RUN_DIR still running after stop:"$'\n'"$left"
    return 1
  fi
  [ "$STACK_FORCED" = 0 ]
}

# stack_supervise — wait while all three run. Returns (1) as soon as one exits on its
# own, after saying which; signals are the caller's business (its traps).
stack_supervise() {
  local name pid rc
  while :; do
    # Returns when one of them exits, or when a trapped signal arrives (the trap runs
    # first). 127 means one was already gone before the call: the loop below sees it.
    rc=0
    wait -n "$DB_PID" "$APP_PID" "$NGX_PID" 2>/dev/null || rc=$?
    for name in mariadbd:"$DB_PID" taskapi:"$APP_PID" nginx:"$NGX_PID"; do
      pid=${name#*:}
      if ! pid_alive "$pid"; then
        warn "${name%%:*} (pid $pid) exited unexpectedly; stopping the rest"
        return 1
      fi
    done
    # Never spin: should wait fail while all three still run, look again in a second.
    if [ "$rc" = 127 ]; then sleep 1; fi
  done
}
