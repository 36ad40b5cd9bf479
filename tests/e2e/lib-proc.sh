# shellcheck shell=bash
# shellcheck disable=SC2034 # PROC_*, WRK_* are read by the tests sourcing this
# tests/e2e/lib-proc.sh — extra taskapi and nginx instances for the process-model
# tests (90-99), beside the stack's own, plus wrk load runs. Source after lib.sh.
# Everything started here is stopped by pid when the test ends.

# workers_of MASTER_PID — the master's child processes (workers, and the admin process
# when server.admin_listen is set), one pid a line, in order.
workers_of() { ps --ppid "$1" -o pid= | tr -d ' ' | sort -n; }

# proc_taskapi NAME [taskapi options...] — start taskapi with the stack's configuration
# but its own socket $E2E_TMP/NAME.sock and log $E2E_TMP/NAME.log. Sets PROC_PID and
# PROC_SOCK; waits until the socket accepts connections.
proc_taskapi() {
  local name=$1 args=()
  shift
  PROC_SOCK=$E2E_TMP/$name.sock
  taskapi_args
  args=("${TASKAPI_ARGS[@]}" --set "server.listen=$PROC_SOCK" "$@")
  "$TASKAPI_BIN" "${args[@]}" </dev/null >>"$E2E_TMP/$name.log" 2>&1 &
  PROC_PID=$!
  at_exit "stop_pid taskapi-$name $PROC_PID TERM 20 >/dev/null 2>&1"
  wait_for 10 test -S "$PROC_SOCK" || diag "taskapi $name did not create $PROC_SOCK"
}

# proc_nginx NAME SOCKET KEEPALIVE [WORKERS] — an nginx in $E2E_TMP/NAME-nginx on a
# free port, passing everything to SOCKET with fastcgi_keep_conn on and KEEPALIVE
# idle connections per worker. Sets PROC_URL.
proc_nginx() {
  local name=$1 sock=$2 keepalive=$3 workers=${4:-2} dir port user_line=''
  dir=$E2E_TMP/$name-nginx
  port=$(free_port)
  mkdir -p "$dir/tmp"
  cp /etc/nginx/fastcgi_params "$dir/"
  if is_root; then user_line='user root;'; fi
  cat >"$dir/nginx.conf" <<NGX
$user_line
worker_processes $workers;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    fastcgi_temp_path $dir/tmp/fastcgi;
    proxy_temp_path $dir/tmp/proxy;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    upstream app {
        server unix:$sock;
        keepalive $keepalive;
        # as nginx/taskapi.conf: nginx ends kept connections, which ends a drain
        keepalive_requests 100;
        keepalive_timeout 5s;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            include $dir/fastcgi_params;
            fastcgi_keep_conn on;
            fastcgi_pass app;
        }
    }
}
NGX
  nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" </dev/null >>"$dir/out.log" 2>&1 &
  at_exit "stop_pid nginx-$name $! QUIT 10 >/dev/null 2>&1"
  PROC_URL=http://127.0.0.1:$port
  wait_for 10 curl -s -o /dev/null "$PROC_URL/healthz" || diag "nginx $name did not start: $(tail -n 3 "$dir/error.log")"
}

# proc_wrk DURATION CONNECTIONS URL [LUA] — a wrk run; sets WRK_REQUESTS, WRK_ERRORS
# (connect + read + write + timeout), WRK_TIMEOUTS, WRK_NON2XX, WRK_MAX_MS, WRK_P50_MS,
# WRK_P99_MS. Requests slower than 2 s count as timeouts.
proc_wrk() {
  local duration=$1 conns=$2 url=$3 lua=${4:-} script=$E2E_TMP/wrk-report.lua out
  {
    [ -z "$lua" ] || cat "$lua"
    cat <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %.3f %.3f %.3f\n", summary.requests,
    e.connect + e.read + e.write + e.timeout, e.timeout, e.status,
    latency.max / 1000, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
LUA
  } >"$script"
  out=$(wrk -t 2 -c "$conns" -d "$duration" --timeout 2s -s "$script" "$url" 2>&1 | grep '^WRK ' || true)
  read -r _ WRK_REQUESTS WRK_ERRORS WRK_TIMEOUTS WRK_NON2XX WRK_MAX_MS WRK_P50_MS WRK_P99_MS <<<"${out:-WRK 0 -1 -1 -1 -1 -1 -1}"
}
