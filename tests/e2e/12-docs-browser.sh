#!/usr/bin/env bash
# 12-docs-browser: /docs (Swagger UI) and /redoc (ReDoc) loaded through nginx in
# headless Chromium (Debian's chromium, installed by script/bootstrap), driven over
# the DevTools protocol by tests/e2e/docs_browser.py: every operation of
# /openapi.json is rendered by both, with no console error (the pages' policy
# refuses anything but this origin, so the UI works offline); Swagger UI offers the
# bearer field, and "Try it out" + "Execute" on GET /healthz shows the answer from
# this origin. About 5 s here.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

CHROMIUM=${TASKAPI_CHROMIUM:-/usr/bin/chromium}
if [ ! -f "$TOP/docs-ui/.staged" ]; then
  ok "the docs UI in Chromium # SKIP this build has no docs UI (configure found no ui/node_modules)"
  exit 0
fi
if [ ! -x "$CHROMIUM" ]; then
  not_ok "$CHROMIUM is not there: script/bootstrap installs Debian's chromium"
  exit 0
fi
python3 "$E2E_DIR/docs_browser.py" "$TASKAPI_URL" "$CHROMIUM"
