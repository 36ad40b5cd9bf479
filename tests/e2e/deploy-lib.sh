# shellcheck shell=bash
# shellcheck disable=SC2034 # TA_PID, FRONT_URL, ... are read by the tests sourcing this
# tests/e2e/deploy-lib.sh — helpers for the deployment-mode tests (tests/e2e/8x-*.sh):
# extra taskapi instances of their own (own sockets and ports, stopped by pid), a
# FastCGI client without a web server (cgi-fcgi), and a private nginx running the
# shipped site in front of an instance. Source lib.sh first.
#
# Instances use a copy of the stack's rendered taskapi.ini ($E2E_TMP/NAME.ini), so
# they talk to the stack's MariaDB, and never look like the stack's own taskapi.

# Users other than root (www-data for Apache, nobody for privilege tests) must reach
# sockets and files below the test's folder (lib.sh makes it in /tmp, never in the
# checkout), and the stack's MariaDB socket (script/test keeps the stack's sockets in
# a folder of their own under /tmp, mode 0711, for the same reason).
chmod 0711 "$E2E_TMP"

# instance_config NAME — copy the stack's config to $E2E_TMP/NAME.ini, without its
# listen address (never the stack's socket); print its path.
instance_config() {
  local ini=$E2E_TMP/$1.ini
  sed 's/^listen *=.*/listen =/' "$APP_CONF" >"$ini"
  chmod 600 "$ini"
  printf '%s\n' "$ini"
}

# web_config NAME — a configuration for taskapi started by a web server as its own
# user (www-data when the tests run as root): $E2E_TMP/NAME/taskapi.ini and the
# application's password file beside it (and the token key file, when the stack's
# configuration names one), all 0600 and that user's, without the migration and
# token-account credentials (serving needs neither). Sets WEB_INI and WEB_USER.
web_config() {
  local dir=$E2E_TMP/$1 key
  WEB_USER=$(id -un)
  if is_root; then WEB_USER=www-data; fi
  mkdir -p "$dir"
  chmod 0711 "$dir"
  cp "$SECRETS_DIR/app.pass" "$dir/app.pass"
  key=$(sed -nE 's/^token_key_file *= *//p' "$APP_CONF")
  if [ -n "$key" ] && [ -r "$key" ]; then
    cp "$key" "$dir/token.key"
    chown "$WEB_USER" "$dir/token.key"
    chmod 600 "$dir/token.key"
  fi
  sed -e 's/^listen *=.*/listen =/' -e "s|^password_file *=.*|password_file = $dir/app.pass|" \
    -e "s|^token_key_file *=.*|token_key_file = $dir/token.key|" \
    -e '/^migrate_/d' -e '/^token_admin_password/d' "$APP_CONF" >"$dir/taskapi.ini"
  chown "$WEB_USER" "$dir/app.pass" "$dir/taskapi.ini"
  chmod 600 "$dir/app.pass" "$dir/taskapi.ini"
  WEB_INI=$dir/taskapi.ini
}

# web_bin — a copy of the binary under test that another user can run:
# $E2E_TMP/bin/taskapi (folder 0711, file 0755). Apache's www-data and nobody cannot
# reach fcgi_app/taskapi when the checkout lies below a folder only its owner may
# enter (root's home, a mktemp -d folder); the copy keeps the name taskapi. Sets
# WEB_BIN.
web_bin() {
  mkdir -p "$E2E_TMP/bin"
  chmod 0711 "$E2E_TMP/bin"
  cp "$TASKAPI_BIN" "$E2E_TMP/bin/taskapi"
  chmod 0755 "$E2E_TMP/bin/taskapi"
  WEB_BIN=$E2E_TMP/bin/taskapi
}

# root_args — "--set server.allow_root=true" when the tests run as root (as in CI),
# like the stack's own taskapi; empty otherwise.
root_args() {
  ROOT_ARGS=()
  if is_root; then ROOT_ARGS=(--set server.allow_root=true); fi
}

# ta_start NAME COMMAND... — run COMMAND (taskapi, or a launcher that execs it in
# place) in the background, stdin from /dev/null, output appended to
# $E2E_TMP/NAME.log. TA_PID is its pid; it is stopped when the test ends.
ta_start() {
  local name=$1
  shift
  "$@" </dev/null >>"$E2E_TMP/$name.log" 2>&1 &
  TA_PID=$!
  at_exit "ta_kill $TA_PID"
}

# ta_kill PID — stop PID if it is still one of ours (its command line names taskapi
# or this test's folder): SIGTERM, then SIGKILL after 10 s.
ta_kill() {
  local args
  pid_alive "$1" || return 0
  args=$(pid_args "$1")
  [[ $args == *taskapi* || $args == *"$E2E_TMP"* ]] || return 0
  stop_pid "instance" "$1" TERM 10 >/dev/null 2>&1 || true
}

# ta_stop PID — SIGTERM; wait up to 15 s (then SIGKILL). TA_EXIT: the exit status
# when PID is a child of this shell, "gone" when it is not, "killed" after SIGKILL.
ta_stop() {
  local pid=$1 rc=0
  if ! stop_pid instance "$pid" TERM 15 2>/dev/null; then
    TA_EXIT=killed
    return 0
  fi
  if wait "$pid" 2>/dev/null; then TA_EXIT=0; else rc=$?; TA_EXIT=$rc; fi
  [ "$rc" != 127 ] || TA_EXIT=gone
}

# ta_died_with NAME PID PATTERN — PID exits by itself within 15 s with a non-zero
# status and NAME's log matches the extended regex PATTERN.
ta_died_with() {
  local name=$1 pid=$2 pattern=$3 rc=0
  wait_for 15 gone "$pid" || return 1
  wait "$pid" 2>/dev/null || rc=$?
  [ "$rc" -ne 0 ] && [ "$rc" -ne 127 ] && grep -qE "$pattern" "$E2E_TMP/$name.log"
}

gone() { ! pid_alive "$1"; }

# fcgi METHOD URI ADDRESS [BODY_FILE] [NAME=VALUE...] — one request straight to a
# FastCGI socket (unix path or IPv4 host:port) with cgi-fcgi, no web server. The
# params are the CGI variables nginx's fastcgi_params sends, plus NAME=VALUE. Sets
# STATUS, CTYPE, BODY and HEADERS like lib.sh's http (STATUS 000: no answer).
fcgi() {
  local method=$1 uri=$2 addr=$3 body=${4:-/dev/null} len=0 qs=''
  shift 3
  [ $# -eq 0 ] || shift
  [ "$body" = /dev/null ] || len=$(stat -c %s "$body")
  [[ $uri != *\?* ]] || qs=${uri#*\?}
  BODY=$E2E_TMP/body
  HEADERS=$E2E_TMP/headers
  env -i PATH="$PATH" REQUEST_METHOD="$method" REQUEST_URI="$uri" DOCUMENT_URI="${uri%%\?*}" \
    QUERY_STRING="$qs" SERVER_PROTOCOL=HTTP/1.1 GATEWAY_INTERFACE=CGI/1.1 \
    CONTENT_TYPE="$([ "$len" -gt 0 ] && echo application/json)" \
    CONTENT_LENGTH="$([ "$len" -gt 0 ] && echo "$len")" "$@" \
    timeout 15 cgi-fcgi -bind -connect "$addr" <"$body" >"$E2E_TMP/fcgi.out" 2>"$E2E_TMP/fcgi.err" || true
  cgi_split "$E2E_TMP/fcgi.out"
}

# cgi_split FILE — split a CGI-style response (Status: line, headers, blank line,
# body) into HEADERS and BODY; set STATUS (000 when FILE holds no response) and CTYPE.
cgi_split() {
  local out
  BODY=$E2E_TMP/body
  HEADERS=$E2E_TMP/headers
  out=$(python3 - "$1" "$HEADERS" "$BODY" <<'PY'
import re, sys
raw = open(sys.argv[1], "rb").read()
m = re.search(rb"\r?\n\r?\n", raw)
head, body = (raw[:m.start()], raw[m.end():]) if m else (b"", b"")
open(sys.argv[2], "wb").write(head + b"\n")
open(sys.argv[3], "wb").write(body)
status, ctype = "000", ""
for line in head.decode("latin-1").splitlines():
    name, _, value = line.partition(":")
    if name.lower() == "status":
        status = value.strip()[:3]
    elif name.lower() == "content-type":
        ctype = value.strip()
if m and status == "000":
    status = "200"  # CGI: no Status header means 200
print(status, ctype)
PY
  ) || out='000 '
  STATUS=${out%% *}
  CTYPE=${out#* }
}

# fcgi_ok ADDRESS — for wait_for: GET /healthz over FastCGI answers 200.
fcgi_ok() {
  fcgi GET /healthz "$1"
  [ "$STATUS" = 200 ]
}

# json_field EXPRESSION — print a Python expression over the last body `j`.
json_field() {
  python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$BODY" "$1" 2>/dev/null
}

# task_json TITLE — write a task creation body to $E2E_TMP/task.json.
task_json() {
  python3 -c 'import json, sys; print(json.dumps({"title": sys.argv[1]}))' "$1" >"$E2E_TMP/task.json"
}

# ngx_front NAME UPSTREAM [SERVER_LINES] — a private nginx running the shipped site
# (nginx/taskapi.conf + nginx/taskapi-fastcgi.conf) with its upstream server replaced
# by UPSTREAM ("unix:/path", "127.0.0.1:9000", "[::1]:9000"), on a free port;
# SERVER_LINES (e.g. auth_basic ...) go into its server block. Sets FRONT_URL and
# FRONT_PID; stopped when the test ends. False when it does not come up.
ngx_front() {
  local name=$1 upstream=$2 extra=${3:-} dir=$E2E_TMP/$1 port site
  mkdir -p "$dir/tmp" "$dir/snippets"
  cp /etc/nginx/fastcgi_params "$dir/"
  cp "$TOP/nginx/taskapi-fastcgi.conf" "$dir/snippets/"
  port=$(free_port)
  site=$(<"$TOP/nginx/taskapi.conf")
  site=${site//"unix:/run/taskapi/taskapi.sock"/"$upstream"}
  site=${site//"listen 80;"/"listen 127.0.0.1:$port;"}
  [ -z "$extra" ] || site=${site//"server_tokens off;"/"server_tokens off;"$'\n'"$extra"}
  # The stack's main context and limit key (script/lib/stack.sh): on 127.0.0.1 the
  # per-address limits count nobody.
  ngx_site_keyed "$site" >"$dir/taskapi-site.conf"
  ngx_main_conf "$dir" 1 >"$dir/nginx.conf"
  nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null >>"$dir/stderr.log" 2>&1 &
  FRONT_PID=$!
  at_exit "stop_pid nginx $FRONT_PID QUIT 10 >/dev/null 2>&1"
  FRONT_URL=http://127.0.0.1:$port
  wait_for 15 port_in_use "$port"
}

# apache_start NAME SITE MODULE... — Debian's apache2 in the foreground
# (-DFOREGROUND), everything in $E2E_TMP/NAME: its own ServerRoot, pid file, logs
# and a free port on 127.0.0.1. Loads mpm_event, authz_core and the MODULEs (short
# names: proxy, proxy_fcgi, cgid, rewrite, ...) from /usr/lib/apache2/modules, then
# SITE (a shipped file from deploy/apache/, already rendered by the caller) with
# "*:80" replaced by the port. As root its workers run as www-data. Sets
# APACHE_URL, APACHE_PID and APACHE_LOG; stopped when the test ends. False when it
# does not come up (apache2 -t output in $E2E_TMP/NAME/configtest.log).
apache_start() {
  local name=$1 site=$2 dir=$E2E_TMP/$1 port mod loads='' user group
  shift 2
  mkdir -p "$dir/run" "$dir/logs" "$dir/htdocs"
  port=$(free_port)
  for mod in mpm_event authz_core "$@"; do
    loads+="LoadModule ${mod}_module /usr/lib/apache2/modules/mod_$mod.so"$'\n'
  done
  user=$(id -un) group=$(id -gn)
  if is_root; then user=www-data group=www-data; fi
  sed "s/\*:80>/*:$port>/" "$site" >"$dir/site.conf"
  cat >"$dir/httpd.conf" <<CONF
# Rendered by tests/e2e/deploy-lib.sh for $name — everything stays in $dir.
ServerRoot "$dir"
ServerName 127.0.0.1
Listen 127.0.0.1:$port
PidFile "$dir/run/httpd.pid"
DefaultRuntimeDir "$dir/run"
ErrorLog "$dir/logs/error.log"
LogLevel warn
$loads
User $user
Group $group
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 17
DocumentRoot "$dir/htdocs"
<IfModule mime_module>
    TypesConfig /dev/null
</IfModule>
Include "$dir/site.conf"
CONF
  APACHE_LOG=$dir/logs/error.log
  APACHE_URL=http://127.0.0.1:$port
  apache2 -t -f "$dir/httpd.conf" >"$dir/configtest.log" 2>&1 || return 1
  apache2 -DFOREGROUND -f "$dir/httpd.conf" </dev/null >>"$dir/stderr.log" 2>&1 &
  APACHE_PID=$!
  at_exit "stop_pid apache2 $APACHE_PID TERM 15 >/dev/null 2>&1"
  wait_for 15 port_in_use "$port"
}

# sanitizer_free FILE... — no ASan/LSan/UBSan report in the files (a taskapi run by a
# web server writes its stderr to the server's error log).
sanitizer_free() {
  ! cat "$@" 2>/dev/null | grep -qE 'ERROR: (Address|Leak|Memory)Sanitizer|runtime error:'
}

# asan_build — true when the taskapi under test is built with the sanitizers
# (script/test --enable-asan). In any other build no report can appear, so the
# sanitizer assertions say "# SKIP" instead of an "ok" that proves nothing.
asan_build() {
  ldd "$TASKAPI_BIN" 2>/dev/null | grep -q libasan
}

# check_sanitizer_free DESC FILE... — one assertion: no sanitizer report in the files.
check_sanitizer_free() {
  local desc=$1
  shift
  if ! asan_build; then
    ok "$desc # SKIP not an ASan build"
  else
    check "$desc" sanitizer_free "$@"
  fi
}

# sanitizer_check — one assertion: no sanitizer report in any log this test kept
# (its instances' NAME.log files and its web servers' error logs). Under
# --enable-asan an expected failure (exit 1 with a message) must not hide a leak.
sanitizer_check() {
  local logs
  if ! asan_build; then
    ok "no sanitizer report in the logs of this test # SKIP not an ASan build"
    return 0
  fi
  mapfile -t logs < <(find "$E2E_TMP" -type f \( -name '*.log' -o -name '*.err' \) 2>/dev/null)
  if sanitizer_free "${logs[@]}" /dev/null; then
    ok "no sanitizer report in ${#logs[@]} logs of this test"
  else
    not_ok "no sanitizer report in the logs of this test"
    grep -hE -A8 'ERROR: (Address|Leak|Memory)Sanitizer|runtime error:' "${logs[@]}" | head -n 40 | sed 's/^/#   /'
  fi
}
