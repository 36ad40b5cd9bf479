#!/usr/bin/env bash
# 10-health: liveness, readiness and JSON errors, through nginx.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

http GET /healthz
expect_json 'GET /healthz: 200 {"status":"ok"}' 200 'j == {"status": "ok"}'
check 'nginx gives every response an X-Request-Id (32 hex digits)' \
  grep -qiE '^x-request-id: [0-9a-f]{32}'$'\r''?$' "$HEADERS"

http GET /readyz
expect_json 'GET /readyz: 200 {"status":"ready", ...}' 200 'isinstance(j, dict) and j.get("status") == "ready"'

http GET /no/such/path
expect_json 'GET /no/such/path: 404 JSON with a detail' 404 'isinstance(j, dict) and "detail" in j'

http GET '/healthzz?x=1'
expect_json 'GET /healthzz: 404 JSON (no prefix matching)' 404 'isinstance(j, dict) and "detail" in j'

# A method the route does not have: 405 (or 404), JSON either way.
http DELETE /healthz
if [[ $STATUS == 40[45] ]]; then
  expect_json "DELETE /healthz: $STATUS JSON with a detail" "$STATUS" 'isinstance(j, dict) and "detail" in j'
else
  not_ok "DELETE /healthz: expected 405 or 404, got $STATUS"
fi

# nginx's client_max_body_size (64k) answers before taskapi sees the body, in JSON.
head -c 70000 /dev/zero | tr '\0' 'x' >"$E2E_TMP/big"
http POST /tasks/ -H 'Content-Type: application/json' --data-binary @"$E2E_TMP/big"
expect_json 'POST of a 70000-byte body: 413 JSON from nginx' 413 'isinstance(j, dict) and "detail" in j'
