#!/usr/bin/env bash
# tests/e2e/run.sh — run every tests/e2e/NN-*.sh in order against a running stack and
# count their "ok" / "not ok" lines. A test that exits non-zero, prints no assertion or
# runs past its time limit counts as one more failure.
#
# Needs TASKAPI_URL, TASKAPI_RUN_DIR and MYSQL (see lib.sh); script/test provides them.
#
# Tiers: a test whose header has the line "# tier: slow" (load, chaos, reload storms,
# Apache) runs only when TASKAPI_E2E_TIER=all (script/test --slow); the default tier
# is every other test. TASKAPI_E2E_ONLY="81-* 82-*" runs only the tests whose file
# names match one of those globs (whatever their tier), for work on a few tests.
# Prints "# e2e: N ok, M not ok" last and, when TASKAPI_E2E_COUNTS names a file, writes
# "N M" there. Exits 0 only when nothing failed.
set -euo pipefail

if [ -z "${TASKAPI_URL:-}" ] || [ -z "${TASKAPI_RUN_DIR:-}" ]; then
  # e.g. run by `make check` without a stack: automake's "skipped" status
  echo "# e2e tests need a running stack (TASKAPI_URL, TASKAPI_RUN_DIR): use script/test"
  exit 77
fi

dir=$(cd "$(dirname "$0")" && pwd)
limit=${TASKAPI_E2E_TIMEOUT:-300}
tier=${TASKAPI_E2E_TIER:-fast}
only=${TASKAPI_E2E_ONLY:-}
case $tier in
  fast | all) ;;
  *)
    echo "tests/e2e/run.sh: TASKAPI_E2E_TIER must be fast or all, not '$tier'" >&2
    exit 2
    ;;
esac

# selected FILE — true when FILE runs in this tier / matches TASKAPI_E2E_ONLY.
selected() {
  local name pat pats
  name=$(basename "$1")
  if [ -n "$only" ]; then
    # read -a splits on blanks without expanding the globs against the current folder
    # (with nullglob set below, `for pat in $only` dropped every pattern).
    read -ra pats <<<"$only"
    for pat in "${pats[@]}"; do
      # shellcheck disable=SC2053 # the pattern is meant to glob
      [[ $name == $pat ]] && return 0
    done
    return 1
  fi
  [ "$tier" = all ] || ! sed -n '1,30p' "$1" | grep -qx '# tier: slow'
}
passed=0
failed=0
skips=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

shopt -s nullglob
skipped=0
e2e_started=$SECONDS
for t in "$dir"/[0-9][0-9]-*.sh; do
  name=$(basename "$t")
  if ! selected "$t"; then
    skipped=$((skipped + 1))
    continue
  fi
  echo "# $name"
  started=$SECONDS
  rc=0
  # --foreground keeps the test in this process group, so that stopping the group
  # (script/test does on an interrupt) reaches it; --kill-after ends a test that
  # ignores SIGTERM. stdin is not for tests.
  timeout --foreground --kill-after=10 "$limit" bash "$t" </dev/null 2>&1 | tee "$out" ||
    rc=${PIPESTATUS[0]}
  # "ok - ... # SKIP reason": an assertion that cannot fail in this build (TAP's
  # directive); counted apart, neither passed nor failed.
  s=$(grep -cE '^ok .*# SKIP' "$out" || true)
  p=$(($(grep -c '^ok ' "$out" || true) - s))
  f=$(grep -c '^not ok ' "$out" || true)
  if [ "$rc" -ne 0 ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "not ok - $name ran longer than ${limit}s"
    else
      echo "not ok - $name exited with status $rc"
    fi
    f=$((f + 1))
  elif [ $((p + f + s)) -eq 0 ]; then
    echo "not ok - $name made no assertion"
    f=1
  fi
  echo "# $name: $((SECONDS - started))s, $p ok, $f not ok, $s skipped"
  passed=$((passed + p))
  failed=$((failed + f))
  skips=$((skips + s))
done

echo "# e2e: $passed ok, $failed not ok, $skips skipped in $((SECONDS - e2e_started))s ($skipped test files not in this run: TASKAPI_E2E_TIER=$tier${only:+, TASKAPI_E2E_ONLY=$only})"
if [ -n "${TASKAPI_E2E_COUNTS:-}" ]; then
  echo "$passed $failed" >"$TASKAPI_E2E_COUNTS"
fi
[ "$failed" -eq 0 ]
