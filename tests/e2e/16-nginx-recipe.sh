#!/usr/bin/env bash
# 16-nginx-recipe: the nginx recipe of docs/deployment.md, run as written against a
# stock Debian nginx. The commands are taken from the code blocks marked
# "<!-- doc-test: nginx-site -->" (the site) and "<!-- doc-test: nginx-ini -->" (taskapi's
# [server] section), not re-typed here. They run against a copy of Debian's packaged
# /etc/nginx — the files of nginx-common, checked against the package's conffile
# checksums, with the default site enabled as `apt install nginx` leaves it — under a
# folder of this test, so nothing under /etc is read for writing or changed:
#   - in the copy, /etc/nginx is the copy, the pid file and logs are the test's, and
#     EVERY `listen 80` (the default site's `listen 80 default_server` and
#     `listen [::]:80 default_server` included) listens on one free test port on the
#     loopback addresses; a conf.d file of the test puts nginx's temporary files here;
#   - in the recipe, /etc/nginx, /usr/local/share/taskapi (this checkout's nginx/ files,
#     as `make install` would put them) and /run/taskapi are mapped to the test's
#     folders, http://127.0.0.1/ to the test port, and `nginx` runs the copy.
# Then: nginx -t is clean (no "conflicting server name"), the recipe's own curl gets
# taskapi's JSON, a request for the site's server_name reaches taskapi, and any other
# name still reaches Debian's default site (both sites live side by side).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$E2E_DIR/lib-proc.sh"

doc=$TOP/docs/deployment.md
etc_state() { find /etc/nginx -printf '%p %s %T@ %l\n' 2>/dev/null | sort; }
etc_before=$(etc_state)
dir=$E2E_TMP/recipe
etc=$dir/etc/nginx
share=$dir/share/taskapi
run=$dir/run/taskapi
port=$(free_port)
mkdir -p "$dir/log" "$dir/tmp" "$share/nginx" "$run" "$(dirname "$etc")"
# nginx's workers (www-data, as Debian's nginx.conf says) must reach taskapi's socket.
chmod 0711 "$dir" "$dir/run" "$run"

# doc_block MARKER — the code block that follows the line "<!-- doc-test: MARKER ..."
# in docs/deployment.md, its indentation (a list item's) removed. Empty when missing.
doc_block() {
  python3 - "$doc" "$1" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
out, state, indent = [], 0, ""
for line in lines:
    if state == 0 and re.match(r"\s*<!-- doc-test: %s[ >]" % re.escape(sys.argv[2]), line):
        state = 1
    elif state == 1 and line.strip().startswith("```"):
        indent = line[: len(line) - len(line.lstrip())]
        state = 2
    elif state == 2:
        if line.strip() == "```":
            break
        out.append(line[len(indent):] if line.startswith(indent) else line.lstrip())
print("\n".join(out))
PY
}

site_cmds=$(doc_block nginx-site)
ini_block=$(doc_block nginx-ini)
check 'docs/deployment.md has the nginx recipe in a block marked <!-- doc-test: nginx-site -->' test -n "$site_cmds"
check 'docs/deployment.md has the [server] section of the recipe marked <!-- doc-test: nginx-ini -->' test -n "$ini_block"
diag "the recipe:" "$site_cmds"

# ---- a copy of Debian's packaged /etc/nginx ---------------------------------------------
# The reference is the package: the conffiles of nginx-common with their checksums.
# A file changed on this machine is taken from the package in apt's cache instead.
if [ ! -f /etc/nginx/nginx.conf ] || ! dpkg-query -W nginx-common >/dev/null 2>&1; then
  not_ok "Debian's nginx is installed (/etc/nginx/nginx.conf, package nginx-common): apt-get install nginx"
  exit 0
fi
conffiles=$(dpkg-query -W -f='${Conffiles}\n' nginx-common | awk '$1 ~ "^/etc/nginx/" { print $1, $2 }')
version=$(dpkg-query -W -f='${Version}' nginx-common)
deb=/var/cache/apt/archives/nginx-common_${version//:/%3a}_all.deb
[ -f "$deb" ] || deb=
bad=()
while read -r path sum; do
  rel=${path#/etc/nginx/}
  mkdir -p "$etc/$(dirname "$rel")"
  if [ -f "$path" ] && [ "$(md5sum <"$path" | cut -d' ' -f1)" = "$sum" ]; then
    cp "$path" "$etc/$rel"
  elif [ -n "$deb" ] && dpkg-deb --fsys-tarfile "$deb" | tar -xO ".$path" >"$etc/$rel" 2>/dev/null &&
    [ "$(md5sum <"$etc/$rel" | cut -d' ' -f1)" = "$sum" ]; then
    diag "$path differs from the package here: the copy takes it from $deb"
  else
    bad+=("$path")
  fi
done <<<"$conffiles"
check "the copy holds Debian's packaged nginx.conf and default site ($(wc -l <<<"$conffiles") conffiles of nginx-common $version)" \
  test "${#bad[@]}" = 0 -a -f "$etc/nginx.conf" -a -f "$etc/sites-available/default"
[ "${#bad[@]}" = 0 ] || diag "changed on this machine and not in apt's cache: ${bad[*]}" \
  "(apt-get install --reinstall -o Dpkg::Options::=--force-confmiss nginx-common restores missing ones)"
mkdir -p "$etc/conf.d" "$etc/modules-enabled" "$etc/sites-enabled" "$etc/snippets"
# Modules enabled by installed module packages, as on this machine.
cp -P /etc/nginx/modules-enabled/* "$etc/modules-enabled/" 2>/dev/null || true
# The default site enabled, as the package's postinst leaves it.
ln -s "$etc/sites-available/default" "$etc/sites-enabled/default"

# Every listen on port 80 to the test port, on loopback only: IPv4 and, when this host
# has IPv6, [::1] (else that line is left out: it would not bind).
v6="s#^(\s*listen\s+)\[::\]:80\b#\1[::1]:$port#"
[ -s /proc/net/if_inet6 ] || v6='s#^(\s*listen\s+\[::\]:80\b)#\# no IPv6 here: \1#'
listen_sed=(-e "s#^(\s*listen\s+)80\b#\1127.0.0.1:$port#" -e "$v6")
# Paths into the copy.
find "$etc" -type f -exec sed -i -E "${listen_sed[@]}" \
  -e "s#/etc/nginx/#$etc/#g" \
  -e "s#^(\s*pid\s+)/run/nginx.pid;#\1$dir/nginx.pid;#" \
  -e "s#/var/log/nginx/#$dir/log/#g" {} +
cat >"$etc/conf.d/zz-e2e-temp-paths.conf" <<EOF
# Added by tests/e2e/16-nginx-recipe.sh: nginx's temporary files in the test's folder.
client_body_temp_path $dir/tmp/body;
fastcgi_temp_path $dir/tmp/fastcgi;
proxy_temp_path $dir/tmp/proxy;
uwsgi_temp_path $dir/tmp/uwsgi;
scgi_temp_path $dir/tmp/scgi;
EOF
left=$(grep -rnE '^\s*listen\s+(\S+:)?80\b' "$etc" || true)
check "every 'listen 80' of the copy is on test port $port, the default site's too" \
  bash -c "[ -z '$left' ] && grep -q 'listen 127.0.0.1:$port default_server' '$etc/sites-available/default'"
[ -z "$left" ] || diag "$left"

# `nginx` in the recipe: Debian's nginx binary on the copy.
# shellcheck disable=SC2120 # the recipe passes the arguments
ngx() { command nginx -p "$dir/" -c "$etc/nginx.conf" -e "$dir/log/error.log" "$@"; }
rc=0
ngx -q </dev/null >"$dir/start.log" 2>&1 || rc=$?
stop_copy() { [ -f "$dir/nginx.pid" ] && stop_pid nginx-copy "$(cat "$dir/nginx.pid")" QUIT 10; }
at_exit "stop_copy >/dev/null 2>&1"
if [ "$rc" = 0 ] && wait_for 10 port_in_use "$port"; then
  ok "Debian's nginx runs the copy on port $port"
else
  not_ok "Debian's nginx runs the copy on port $port (exit $rc)"
  diag "$(cat "$dir/start.log")" "$(tail -n 5 "$dir/log/error.log" 2>/dev/null)"
fi
# get HOST PATH [curl options] — GET through the copy with that Host header; sets CODE,
# TYPE and the file $dir/body.
get() {
  local host=$1 path=$2 out
  shift 2
  out=$(curl -s --max-time 10 -H "Host: $host" -o "$dir/body" -w '%{http_code} %{content_type}' "$@" \
    "http://127.0.0.1:$port$path") || out='000 -'
  CODE=${out%% *} TYPE=${out#* }
}
# default_site — the last answer is Debian's default site: nginx's HTML 404 page.
default_site() { [ "$CODE" = 404 ] && [[ $TYPE == text/html* ]] && grep -q '<center>nginx' "$dir/body"; }
get localhost /healthz
check "before the recipe, GET /healthz is Debian's default site: an HTML 404 ($CODE $TYPE)" default_site

# ---- taskapi with the recipe's [server] section -----------------------------------------
# The keys of the block, paths under /run/taskapi mapped; user/group only when that
# account exists here (this test creates no account: that would change /etc).
sets=()
while IFS='=' read -r key value; do
  key=$(tr -d ' ' <<<"$key")
  value=$(sed -E 's/\s*;.*$//; s/^\s+//; s/\s+$//' <<<"$value")
  case $key in
    '' | \;* | \[*) continue ;;
    user | group)
      if ! getent passwd "$value" >/dev/null && ! getent group "$value" >/dev/null; then
        diag "server.$key = $value: no such account here, left out"
        continue
      fi
      ;;
  esac
  sets+=(--set "server.$key=${value//\/run\/taskapi\//$run/}")
done < <(grep -v '^\[' <<<"$ini_block")
diag "taskapi ${sets[*]}"
taskapi_args
"$TASKAPI_BIN" "${TASKAPI_ARGS[@]}" "${sets[@]}" </dev/null >>"$E2E_TMP/taskapi.log" 2>&1 &
ta_pid=$!
at_exit "stop_pid taskapi-recipe $ta_pid TERM 20 >/dev/null 2>&1"
if wait_for 15 test -S "$run/taskapi.sock"; then
  ok "taskapi listens on the recipe's socket ($(stat -c '%U:%G %a' "$run/taskapi.sock"))"
else
  not_ok "taskapi listens on the recipe's socket /run/taskapi/taskapi.sock (here $run/taskapi.sock)"
  diag "$(tail -n 5 "$E2E_TMP/taskapi.log")"
fi

# ---- the recipe, as written -------------------------------------------------------------
# /usr/local/share/taskapi/nginx holds this checkout's files, "installed" with the socket
# paths mapped and, as everything that lands in the copy, listen 80 on the test port.
for f in "$TOP"/nginx/taskapi.conf "$TOP"/nginx/taskapi-fastcgi.conf; do
  sed -E "${listen_sed[@]}" -e "s#/run/taskapi/#$run/#g" "$f" >"$share/nginx/$(basename "$f")"
done
script=$(sed -e "s#/usr/local/share/taskapi/#$share/#g" -e "s#/etc/nginx/#$etc/#g" \
  -e "s#http://127.0.0.1/#http://127.0.0.1:$port/#g" <<<"$site_cmds")
printf '%s\n' "$script" >"$dir/recipe.sh"
rc=0
out=$(cd "$dir" && export -f ngx && export dir etc && bash -c 'nginx() { ngx "$@"; }; set -e; . ./recipe.sh' 2>&1) || rc=$?
diag "the recipe said:" "$out"
check "the recipe runs to its end (exit $rc)" test "$rc" = 0
check 'nginx -t in the recipe: syntax ok, test successful, no warning (no "conflicting server name")' \
  bash -c "grep -q 'test is successful' <<<\"\$1\" && ! grep -q '\\[warn\\]' <<<\"\$1\"" _ "$out"
check 'the recipe'"'"'s own check (its curl line) prints taskapi'"'"'s {"status":"ok"}' \
  grep -qxF '{"status":"ok"}' <<<"$out"

# ---- after the recipe ----------------------------------------------------------------------
name=$(sed -nE 's/^\s*server_name\s+([^ ;]+).*/\1/p' "$etc/sites-available/taskapi" 2>/dev/null | head -n 1)
to_taskapi() { get "$name" /healthz && [ "$CODE" = 200 ]; }
wait_for 10 to_taskapi || true
check "GET /healthz for the site's server_name '$name' reaches taskapi: 200 {\"status\":\"ok\"} JSON ($CODE $TYPE)" \
  bash -c "[ '$CODE' = 200 ] && [[ '$TYPE' == application/json* ]] && [ \"\$(cat '$dir/body')\" = '{\"status\":\"ok\"}' ]"
task_json 'through the recipe'
get "$name" /tasks/ -X POST -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/task.json"
check "POST /tasks/ for '$name' through the recipe's nginx: 201 JSON ($CODE $TYPE)" \
  bash -c "[ '$CODE' = 201 ] && [[ '$TYPE' == application/json* ]]"
get elsewhere.example /healthz
check "any other name still reaches Debian's default site: HTML 404 ($CODE $TYPE)" default_site
check 'nothing under /etc/nginx changed (same files, sizes and times as before the test)' \
  test "$(etc_state)" = "$etc_before"

sanitizer_check
