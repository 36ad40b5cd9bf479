#!/usr/bin/env bash
# 99-nginx-admin: the shipped nginx site (nginx/taskapi.conf, as the stack runs it)
# passes /metrics and /status to taskapi's admin socket, from this host only: a client
# on 127.0.0.1 gets them, a client on another address (127.0.0.2, still this machine but
# not the allowed address) gets a JSON 403 while the API still answers it. The rendered
# configuration (nginx -T) says so for both locations, the admin socket has the FastCGI
# socket's mode, and the workers never see these requests.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

children_of() { ps --ppid "$1" -o pid= | tr -d ' ' | sort -n; }

# ---- allowed from 127.0.0.1 ------------------------------------------------------------------
http GET /metrics
check "GET /metrics from 127.0.0.1 through nginx: 200 Prometheus text ($STATUS, $CTYPE)" \
  test "$STATUS" = 200 -a "$CTYPE" = "text/plain; version=0.0.4; charset=utf-8"
check "it is taskapi's scrape (taskapi_build_info, taskapi_workers)" \
  bash -c "grep -q '^taskapi_build_info{version=' '$BODY' && grep -q '^taskapi_workers ' '$BODY'"
http GET "/status?full"
master=$(app_pid || true)
mapfile -t kids < <(children_of "${master:-0}")
expect_json "GET /status?full from 127.0.0.1 through nginx: the stack's own workers" 200 \
  "j['pool'] == 'taskapi' and len(j['processes']) == j['workers'] >= 1 and
   set(p['pid'] for p in j['processes']) <= set(int(x) for x in '${kids[*]}'.split())"

# ---- denied from elsewhere -------------------------------------------------------------------
# curl_from ADDR PATH — status and body of a GET through the stack's nginx from source ADDR.
curl_from() {
  curl -s --max-time 10 --interface "$1" -o "$E2E_TMP/from.body" -w '%{http_code} %{content_type}\n' "$TASKAPI_URL$2" ||
    echo "000 -"
}
for path in /metrics /status "/status?full"; do
  read -r code ctype < <(curl_from 127.0.0.2 "$path")
  check "GET $path from 127.0.0.2: 403 JSON ($code, $ctype)" \
    bash -c "[ '$code' = 403 ] && [[ '$ctype' == application/json* ]] && grep -q '\"detail\":\"Forbidden\"' '$E2E_TMP/from.body'"
done
read -r code _ < <(curl_from 127.0.0.2 /healthz)
check "the API itself still answers 127.0.0.2 ($code): only the operations endpoints are restricted" test "$code" = 200
read -r code _ < <(curl_from 127.0.0.1 /status)
check "and 127.0.0.1 still gets /status ($code)" test "$code" = 200

# ---- what nginx runs -------------------------------------------------------------------------
ngx_cmd -T 2>/dev/null >"$E2E_TMP/nginx-T.conf" || true
check "nginx -T: /metrics and /status each allow 127.0.0.1 and ::1, deny all, and pass to the admin socket" \
  python3 - "$E2E_TMP/nginx-T.conf" "$APP_ADMIN_SOCK" <<'PY'
import re, sys
text, sock = open(sys.argv[1]).read(), sys.argv[2]
bad = []
for loc in ("/metrics", "/status"):
    m = re.search(r"location = %s \{(.*?)\n    \}" % re.escape(loc), text, re.S)
    body = m.group(1) if m else ""
    lines = [l.strip() for l in body.splitlines() if l.strip() and not l.strip().startswith("#")]
    want = ["allow 127.0.0.1;", "allow ::1;", "deny all;", "fastcgi_pass unix:%s;" % sock]
    if not m or any(w not in lines for w in want) or lines.index("deny all;") < lines.index("allow ::1;"):
        bad.append("%s: %s" % (loc, lines))
for b in bad:
    print("#   " + b)
sys.exit(1 if bad else 0)
PY
check "the admin socket has the FastCGI socket's mode ($(stat -c %a "$APP_ADMIN_SOCK"))" \
  test "$(stat -c %a "$APP_ADMIN_SOCK")" = "$(stat -c %a "$APP_SOCK")"
check "the workers never saw /metrics or /status (no access line for them)" \
  bash -c "! grep -Eq ' access: \S+ GET /(metrics|status)' '$APP_LOG'"
