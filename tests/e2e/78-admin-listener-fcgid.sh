#!/usr/bin/env bash
# 78-admin-listener-fcgid: Apache mod_fcgid (the shipped deploy/apache/taskapi-fcgid.conf)
# with server.admin_listen set: mod_fcgid hands taskapi its FastCGI socket on fd 0, and
# the admin socket must be a socket of taskapi's own beside it (it used to take fd 0
# too, so the admin thread answered API requests with 404). One process
# (FcgidMaxProcessesPerClass 1): the admin socket path belongs to one process.
# tier: slow
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"
# shellcheck source=tests/e2e/lib-admin.sh
. "$E2E_DIR/lib-admin.sh"

if [ ! -e /usr/lib/apache2/modules/mod_fcgid.so ] || ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 and mod_fcgid are installed (script/bootstrap: apache2 libapache2-mod-fcgid)'
  exit 0
fi
web_config fcgid-admin-conf
web_bin
bin_dir=$(dirname "$WEB_BIN")
site=$E2E_TMP/site-fcgid.conf
admin_dir=$E2E_TMP/admin
admin=$admin_dir/admin.sock
mkdir -p "$E2E_TMP/fcgid-ipc" "$admin_dir"
chown "$WEB_USER" "$E2E_TMP/fcgid-ipc" "$admin_dir"
{
  echo "FcgidIPCDir $E2E_TMP/fcgid-ipc"
  echo "FcgidProcessTableFile $E2E_TMP/fcgid-ipc/shm"
  echo "FcgidInitialEnv TASKAPI_SERVER_ADMIN_LISTEN $admin"
  sed -e "s|/usr/local/etc/taskapi/taskapi.ini|$WEB_INI|" -e "s|\"/usr/local/bin/taskapi\"|\"$WEB_BIN\"|" \
    -e "s|\"/usr/local/bin\"|\"$bin_dir\"|" -e 's|FcgidMaxProcessesPerClass .*|FcgidMaxProcessesPerClass 1|' \
    "$TOP/deploy/apache/taskapi-fcgid.conf"
} >"$site"

if ! apache_start apache-fcgid-admin "$site" fcgid; then
  not_ok 'apache2 with deploy/apache/taskapi-fcgid.conf and an admin socket starts'
  diag "$(cat "$E2E_TMP/apache-fcgid-admin/configtest.log" "$E2E_TMP/apache-fcgid-admin/stderr.log" 2>/dev/null)"
  exit 0
fi
TASKAPI_URL=$APACHE_URL
if wait_for 30 status_is /healthz 200; then
  ok "mod_fcgid + admin_listen: GET /healthz 200 (${WAITED}s)"
else
  not_ok "mod_fcgid + admin_listen: GET /healthz 200 within 30s (status $STATUS)"
  diag "$(tail -n 8 "$APACHE_LOG")"
fi
n=0
for _ in $(seq 20); do
  http GET '/tasks/?limit=1'
  [ "$STATUS" != 200 ] || n=$((n + 1))
done
check "mod_fcgid + admin_listen: 20 GET /tasks/ through Apache all 200 (got $n)" test "$n" = 20
check 'taskapi took the socket on fd 0 that mod_fcgid passed' \
  grep -q 'listening on the socket inherited as fd 0' "$APACHE_LOG"
check "the admin socket is a file of its own ($admin)" test -S "$admin"
admin_get "$admin" /status
check "GET /status over the admin socket: 200 (got $ADMIN_STATUS)" test "$ADMIN_STATUS" = 200
admin_get "$admin" /healthz
check "the admin socket serves no API path (GET /healthz there: 404, got $ADMIN_STATUS)" test "$ADMIN_STATUS" = 404
check 'no sanitizer report in the Apache error log' sanitizer_free "$APACHE_LOG"
stop_pid apache2 "$APACHE_PID" TERM 20 >/dev/null 2>&1 || true
if wait_for 15 test ! -e "$admin"; then
  ok "Apache stopped: taskapi left and removed its admin socket file (${WAITED}s)"
else
  not_ok 'Apache stopped: the admin socket file is removed within 15s'
fi

sanitizer_check
