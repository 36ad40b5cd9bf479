#!/usr/bin/env bash
# 13-openapi-lint: docs/openapi.yaml passes the standard OpenAPI linters with no error:
# Redocly CLI (its recommended rules, redocly.yaml, examples checked against their
# schemas as errors) and Spectral (spectral:oas, .spectral.yaml), the exact versions of
# tools/oas-lint/package-lock.json that script/bootstrap installs (npm ci). Then, on
# copies of the document, that the linters still mean something: a wrong example fails
# both, and the waivers reach no further than the one place each names (a new path
# with a trailing slash, or an operation without a description, is still reported).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

lint_dir=$TOP/tools/oas-lint
redocly=$lint_dir/node_modules/.bin/redocly
spectral=$lint_dir/node_modules/.bin/spectral
if [ ! -x "$redocly" ] || [ ! -x "$spectral" ]; then
  not_ok "the OpenAPI linters are installed in tools/oas-lint/node_modules"
  diag "missing $redocly or $spectral: run script/bootstrap (it runs npm ci --ignore-scripts there)"
  exit 0
fi
# No usage data sent, no registry asked for a newer version.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# lint DIR — run both linters on DIR/docs/openapi.yaml with DIR's configuration files
# (the waivers name docs/openapi.yaml relative to them); outputs in $E2E_TMP/*.out.
lint() {
  local dir=$1
  REDOCLY_RC=0 SPECTRAL_RC=0
  (cd "$dir" && "$redocly" lint --format=stylish docs/openapi.yaml) >"$E2E_TMP/redocly.out" 2>&1 || REDOCLY_RC=$?
  (cd "$dir" && "$spectral" lint --fail-severity=error docs/openapi.yaml) >"$E2E_TMP/spectral.out" 2>&1 ||
    SPECTRAL_RC=$?
}
show() { diag "$(tail -n 40 "$E2E_TMP/$1.out")"; }

pinned=$(grep -A1 '"node_modules/@redocly/cli"' "$lint_dir/package-lock.json" | sed -n 's/.*"version": "\(.*\)".*/\1/p')
check "redocly is the version the lock file pins ($pinned)" test "$("$redocly" --version 2>/dev/null)" = "$pinned"

lint "$TOP"
if [ "$REDOCLY_RC" -eq 0 ] && grep -q 'Your API description is valid' "$E2E_TMP/redocly.out"; then
  ok "Redocly CLI (recommended rules): docs/openapi.yaml has no error"
else
  not_ok "Redocly CLI (recommended rules): docs/openapi.yaml has no error (exit $REDOCLY_RC)"
  show redocly
fi
if [ "$SPECTRAL_RC" -eq 0 ] && ! grep -qE '^ +[0-9]+:[0-9]+ +error ' "$E2E_TMP/spectral.out"; then
  ok "Spectral (spectral:oas): docs/openapi.yaml has no error"
else
  not_ok "Spectral (spectral:oas): docs/openapi.yaml has no error (exit $SPECTRAL_RC)"
  show spectral
fi
diag "warnings left: $(grep -cE '^ +[0-9]+:[0-9]+ +warning ' "$E2E_TMP/spectral.out" || true) from Spectral, \
$(grep -cE '^ +[0-9]+:[0-9]+ +warning ' "$E2E_TMP/redocly.out" || true) from Redocly"

# A copy of the repository's lint inputs, to break on purpose.
copy=$E2E_TMP/copy
mkdir -p "$copy/docs"
cp "$TOP/redocly.yaml" "$TOP/.redocly.lint-ignore.yaml" "$TOP/.spectral.yaml" "$copy/"

# A limit example of 0 where the schema says minimum 1: both linters must refuse it.
sed 's/^          example: 10$/          example: 0/' "$TOP/docs/openapi.yaml" >"$copy/docs/openapi.yaml"
differs() { ! cmp -s "$1" "$2"; }
check "(the copy has the wrong example)" differs "$TOP/docs/openapi.yaml" "$copy/docs/openapi.yaml"
lint "$copy"
if [ "$REDOCLY_RC" -ne 0 ] && grep -q 'no-invalid-parameter-examples' "$E2E_TMP/redocly.out"; then
  ok "Redocly refuses a parameter example that does not fit its schema"
else
  not_ok "Redocly refuses a parameter example that does not fit its schema (exit $REDOCLY_RC)"
  show redocly
fi
if [ "$SPECTRAL_RC" -ne 0 ] && grep -q 'oas3-valid-media-example' "$E2E_TMP/spectral.out"; then
  ok "Spectral refuses a parameter example that does not fit its schema"
else
  not_ok "Spectral refuses a parameter example that does not fit its schema (exit $SPECTRAL_RC)"
  show spectral
fi

# A new path with a trailing slash and an operation without description: the /tasks/
# waivers do not cover it.
python3 - "$TOP/docs/openapi.yaml" "$copy/docs/openapi.yaml" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
new = """  /extra/:
    get:
      tags: [operations]
      operationId: extra
      security: []
      summary: Added by the test
      responses:
        '200':
          description: OK.
          content:
            application/json:
              schema: {type: object}
              example: {}
        '400': {$ref: '#/components/responses/BadRequest'}
"""
open(sys.argv[2], "w", encoding="utf-8").write(text.replace("\npaths:\n", "\npaths:\n" + new, 1))
PY
lint "$copy"
check "Redocly still reports another path's trailing slash (the waiver is for /tasks/ only)" \
  grep -q 'no-path-trailing-slash.*/extra/' "$E2E_TMP/redocly.out"
check "... as an error" test "$REDOCLY_RC" -ne 0
check "Spectral still reports another path's trailing slash" grep -q 'path-keys-no-trailing-slash.*/extra/' "$E2E_TMP/spectral.out"
check "Spectral reports an operation without a description" grep -q 'operation-description.*extra' "$E2E_TMP/spectral.out"
