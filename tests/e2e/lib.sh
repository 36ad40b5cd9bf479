# shellcheck shell=bash
# shellcheck disable=SC2034 # STATUS, CTYPE, BODY, ... are read by the tests sourcing this
# tests/e2e/lib.sh — helpers for the end-to-end tests (tests/e2e/NN-*.sh).
#
# Each test prints one line per assertion, "ok - ..." or "not ok - ...", with
# diagnostics on "#" lines; tests/e2e/run.sh counts them. A test must not stop at the
# first failed assertion: the helpers return 0 either way.
#
# Given by script/test (tests/e2e/run.sh passes them on):
#   TASKAPI_URL       http://127.0.0.1:PORT of the stack's nginx
#   TASKAPI_RUN_DIR   the stack's run folder (sockets, pid files, secrets, logs)
#   MYSQL             a mariadb client command line for the database, as the migration user
# The tests change data and stop/start the stack's MariaDB: run them on a test stack.
set -euo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=script/lib/common.sh
. "$E2E_DIR/../../script/lib/common.sh"
# shellcheck source=script/lib/stack.sh
. "$TOP/script/lib/stack.sh"

: "${TASKAPI_URL:?TASKAPI_URL is not set: run the e2e tests through script/test}"
: "${TASKAPI_RUN_DIR:?TASKAPI_RUN_DIR is not set: run the e2e tests through script/test}"
TASKAPI_PORT=${TASKAPI_URL##*:} stack_env
MYSQL=${MYSQL:-mariadb --defaults-file=$SECRETS_DIR/migrate.cnf $DB_NAME}
APP_MYSQL="mariadb --defaults-file=$SECRETS_DIR/app.cnf $DB_NAME"

# In /tmp, not $TMPDIR: other users (Apache's www-data, nobody) must be able to enter
# it when a test allows them (deploy-lib.sh), and a TMPDIR such as libpam-tmpdir's
# /tmp/user/0 is closed to them; unix socket paths below it also stay short.
E2E_TMP=$(mktemp -d /tmp/taskapi-e2e.XXXXXX)
E2E_CLEANUP=()
# at_exit COMMAND — run COMMAND (a string) when the test ends, last added first.
at_exit() { E2E_CLEANUP=("$1" "${E2E_CLEANUP[@]}"); }
e2e_exit() {
  local cmd
  for cmd in "${E2E_CLEANUP[@]}"; do
    eval "$cmd" || true
  done
  rm -rf "$E2E_TMP"
}
trap e2e_exit EXIT
# Stopped from outside (script/test interrupted, or the time limit): still clean up,
# quietly, since whoever read our output may be gone.
trap 'exec >/dev/null 2>&1; exit 143' TERM INT HUP

ok() { printf 'ok - %s\n' "$*"; }
not_ok() { printf 'not ok - %s\n' "$*"; }
diag() {
  local arg
  for arg in "$@"; do
    printf '%s\n' "$arg" | sed 's/^/#   /'
  done
}

# check DESCRIPTION COMMAND... — one assertion: COMMAND succeeds.
check() {
  local desc=$1
  shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
  return 0
}

# http METHOD PATH [curl options...] — one request through nginx. Sets STATUS (000
# when there was no answer), CTYPE, and the files BODY and HEADERS.
http() {
  local method=$1 path=$2 out
  shift 2
  BODY=$E2E_TMP/body
  HEADERS=$E2E_TMP/headers
  : >"$BODY"
  : >"$HEADERS"
  out=$(curl -sS --max-time 15 -X "$method" -o "$BODY" -D "$HEADERS" \
    -w '%{http_code} %{content_type}' "$@" "$TASKAPI_URL$path" 2>"$E2E_TMP/curl.err") ||
    out="000 $(head -c 200 "$E2E_TMP/curl.err")"
  STATUS=${out%% *}
  CTYPE=${out#* }
}

# header NAME — the value of response header NAME from the last http call.
header() {
  awk -v want="$1" -F': ' '
    { sub(/\r$/, "") } tolower($1) == tolower(want) { sub(/^[^:]*: */, ""); print; exit }' "$HEADERS"
}

# The Python side of the JSON checks: `j` is the parsed body (bytes decoded as strict
# UTF-8), `exp` the parsed file named by $E2E_EXPECT (if set), `row(t)` projects a task
# onto the fields the tests compare.
E2E_PY='
import json, os, sys
with open(sys.argv[1], "rb") as f:
    raw = f.read()
try:
    j = json.loads(raw.decode("utf-8"))
except Exception as e:
    print("#   body is not UTF-8 JSON (%s): %r" % (e, raw[:300]))
    sys.exit(2)
exp = None
if os.environ.get("E2E_EXPECT"):
    with open(os.environ["E2E_EXPECT"], encoding="utf-8") as f:
        exp = json.load(f)
def row(t):
    return (t["id"], t["title"], t["description"], t["is_completed"])
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print("#   expected: " + sys.argv[2])
    print("#   body: " + raw[:600].decode("utf-8", "replace"))
sys.exit(0 if ok else 1)
'

# json_true EXPRESSION — the body satisfies the Python EXPRESSION (see E2E_PY).
json_true() {
  python3 -c "$E2E_PY" "$BODY" "$1"
}

# expect_json DESCRIPTION STATUS EXPRESSION — one assertion on the last response:
# that status, a JSON content type, and the body satisfying EXPRESSION.
expect_json() {
  local desc=$1 want=$2 expr=$3 problems=()
  [ "$STATUS" = "$want" ] || problems+=("status $STATUS, expected $want")
  [[ $CTYPE == application/json* ]] || problems+=("content type '$CTYPE', expected application/json")
  if [ "${#problems[@]}" -eq 0 ]; then
    if json_true "$expr"; then
      ok "$desc"
      return 0
    fi
  else
    diag "${problems[@]}" "body: $(head -c 400 "$BODY")"
  fi
  not_ok "$desc"
}

# sql STATEMENTS — run SQL as the migration user; prints tab-separated rows.
sql() {
  $MYSQL --batch --skip-column-names -e "$1"
}

# wait_for SECONDS COMMAND... — retry COMMAND every 0.2 s until it succeeds; false on
# timeout. WAITED holds the seconds it took.
wait_for() {
  local secs=$1 start=$SECONDS
  shift
  until "$@"; do
    if [ $((SECONDS - start)) -ge "$secs" ]; then
      WAITED=$((SECONDS - start))
      return 1
    fi
    sleep 0.2
  done
  WAITED=$((SECONDS - start))
}

# status_is PATH CODE — for wait_for: GET PATH answers CODE.
status_is() {
  http GET "$1"
  [ "$STATUS" = "$2" ]
}
