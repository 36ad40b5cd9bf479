#!/usr/bin/env bash
# 11-docs-ui: the browsable API docs through the stack's nginx (the shipped site,
# nginx/taskapi.conf). taskapi answers GET /docs (Swagger UI) and GET /redoc (ReDoc)
# with small HTML pages that link /openapi.json; nginx serves the UI files they load
# from the build's docs-ui/ (make stages them there; make install puts them under
# $(datadir)/taskapi/docs) as /docs/static/, the precompressed .gz copy to clients
# that accept gzip, cached for a year. [api] docs = false makes both pages the 404
# of an unknown path. The shipped Apache site (deploy/apache/taskapi.conf) serves the
# same files the same way (mod_rewrite + mod_headers). tests/e2e/12-docs-browser.sh
# loads the pages in Chromium.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$(dirname "$0")/lib-proc.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

STAGED=$TOP/docs-ui
STACK_PAGE_URL=$TASKAPI_URL
ui=0
[ -f "$STAGED/.staged" ] && ui=1

# page_checks PATH — the common part of both pages.
page_checks() {
  local path=$1
  http GET "$path"
  check "GET $path: 200 text/html; charset=utf-8 (got $STATUS $CTYPE)" \
    test "$STATUS $CTYPE" = "200 text/html; charset=utf-8"
  check "GET $path: X-Content-Type-Options: nosniff" test "$(header X-Content-Type-Options)" = nosniff
  check "GET $path: a Content-Security-Policy that allows nothing by default" \
    grep -qiE "^content-security-policy: default-src 'none'" "$HEADERS"
  check "GET $path: Cache-Control: no-store (the page names this build's files)" \
    test "$(header Cache-Control)" = no-store
  check "GET $path: the page links /openapi.json" grep -qE '"/openapi\.json"' "$BODY"
}

# asset_checks PAGE [SERVER] — every /docs/static/ URL of PAGE's body answers from
# SERVER (default: the stack's nginx) as the staged file, or its .gz copy.
asset_checks() {
  local page=$1 server=${2:-nginx} urls url file plain
  mapfile -t urls < <(grep -oE '"/docs/static/[^"]+"' "$BODY" | tr -d '"')
  check "GET $page names its UI files under /docs/static/ (${#urls[@]})" test "${#urls[@]}" -ge 1
  for url in "${urls[@]}"; do
    file=${url#/docs/static/}
    file=$STAGED/${file%%\?*}
    http GET "$url" -H 'Accept-Encoding: gzip'
    check "$server: GET $url (Accept-Encoding: gzip): 200 with Content-Encoding: gzip (got $STATUS, '$(header Content-Encoding)')" \
      test "$STATUS $(header Content-Encoding)" = "200 gzip"
    check "... it is the staged .gz copy, byte for byte (nothing compressed per request)" \
      cmp -s "$BODY" "$file.gz"
    check "... Vary: Accept-Encoding, X-Content-Type-Options: nosniff" \
      test "$(header Vary) $(header X-Content-Type-Options)" = "Accept-Encoding nosniff"
    check "... cached for a year: the URL carries the version (?v=)" \
      test "$(header Cache-Control)" = "public, max-age=31536000, immutable" -a "${url#*\?v=}" != "$url"
    case $url in
      *.js) check "... Content-Type text/javascript (got $CTYPE)" test "$CTYPE" = text/javascript ;;
      *.css) check "... Content-Type text/css (got $CTYPE)" test "$CTYPE" = text/css ;;
    esac
    plain=$E2E_TMP/plain
    http GET "$url"
    cp "$BODY" "$plain"
    check "$server: GET $url without Accept-Encoding: 200, not encoded, the staged file itself" \
      test "$STATUS" = 200 -a -z "$(header Content-Encoding)" -a "$(cmp -s "$plain" "$file" && echo same)" = same
  done
}

page_checks /docs
if [ "$ui" = 1 ]; then
  check "GET /docs is Swagger UI (its bundle and the SwaggerUIBundle call)" \
    grep -q 'SwaggerUIBundle({url: "/openapi.json"' "$BODY"
  check "GET /docs: its inline script is allowed by hash only" \
    grep -qiE "^content-security-policy: .*script-src 'self' 'sha256-[A-Za-z0-9+/]{43}=';" "$HEADERS"
  asset_checks /docs
else
  check "GET /docs without the UI files: says how to add them" grep -q 'script/bootstrap' "$BODY"
  ok "Swagger UI's files through nginx # SKIP this build has no docs UI (configure found no ui/node_modules)"
fi

page_checks /redoc
if [ "$ui" = 1 ]; then
  check "GET /redoc is ReDoc (<redoc spec-url=\"/openapi.json\">)" grep -q '<redoc spec-url="/openapi.json">' "$BODY"
  asset_checks /redoc
else
  check "GET /redoc without the UI files: says how to add them" grep -q 'script/bootstrap' "$BODY"
  ok "ReDoc's files through nginx # SKIP this build has no docs UI (configure found no ui/node_modules)"
fi

http GET /docs
len=$(header Content-Length)
http HEAD /docs -I
check "HEAD /docs: 200 text/html with the GET's Content-Length ($len)" \
  test "$STATUS $CTYPE $(header Content-Length)" = "200 text/html; charset=utf-8 $len"
http POST /docs
expect_json "POST /docs: 405 JSON" 405 'isinstance(j, dict) and "detail" in j'
http GET /docs/static/swagger-ui/no-such-file.js
expect_json "a file that is not there under /docs/static/: taskapi's JSON 404" 404 'j == {"detail": "Not Found"}'
http GET /docs/static/../../openapi.json
check "no way out of the docs folder (/docs/static/../../openapi.json is /openapi.json, served by taskapi)" \
  test "$STATUS $CTYPE" = "200 application/json; charset=utf-8"

# [api] docs = false: a taskapi of its own behind a plain nginx.
proc_taskapi nodocs --set api.docs=false --set server.workers=1
proc_nginx nodocs "$PROC_SOCK" 4 1
TASKAPI_URL=$PROC_URL
http GET /no/such/page
cp "$BODY" "$E2E_TMP/unknown"
for path in /docs /redoc /docs/; do
  http GET "$path"
  check "api.docs = false: GET $path is 404 with the body of an unknown path (got $STATUS)" \
    test "$STATUS $CTYPE $(cmp -s "$BODY" "$E2E_TMP/unknown" && echo same)" = "404 application/json; charset=utf-8 same"
  check "... and no Content-Security-Policy" test -z "$(header Content-Security-Policy)"
done
http GET /openapi.json
check "api.docs = false: /openapi.json still answers 200" test "$STATUS" = 200

# The shipped Apache site serves the same files, with only the folder replaced.
if [ "$ui" = 0 ]; then
  ok "Apache serves the docs UI's files # SKIP this build has no docs UI"
elif ! command -v apache2 >/dev/null 2>&1; then
  not_ok 'apache2 is installed (script/bootstrap installs the Debian package apache2)'
else
  site=$(<"$TOP/deploy/apache/taskapi.conf")
  [[ $site == *"/usr/local/share/taskapi/docs"* ]] || not_ok "deploy/apache/taskapi.conf names /usr/local/share/taskapi/docs"
  # A copy in the test folder: Apache's user (www-data when run as root) may not be
  # able to enter the checkout (a clone under a private 0700 folder).
  cp -R "$STAGED" "$E2E_TMP/docs-ui"
  chmod -R a+rX "$E2E_TMP/docs-ui"
  printf '%s\n' "${site//"/usr/local/share/taskapi/docs"/"$E2E_TMP/docs-ui"}" >"$E2E_TMP/site-docs.conf"
  if apache_start apache-docs "$E2E_TMP/site-docs.conf" proxy proxy_fcgi alias mime rewrite headers; then
    # The pages come from taskapi (above); here only the files they name.
    TASKAPI_URL=$STACK_PAGE_URL
    http GET /docs
    cp "$BODY" "$E2E_TMP/docs.html"
    http GET /redoc
    cat "$E2E_TMP/docs.html" >>"$BODY"
    TASKAPI_URL=$APACHE_URL
    asset_checks "/docs and /redoc" Apache
  else
    not_ok "Apache starts with deploy/apache/taskapi.conf"
    diag "$(tail -n 5 "$E2E_TMP/apache-docs/configtest.log")"
  fi
fi
