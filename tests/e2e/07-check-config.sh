#!/usr/bin/env bash
# 07-check-config: taskapi --check-config names the files it read, reports every
# problem (not only the first), fails when there is no configuration at all, and
# warns about what would stop a real start here (root without server.user, an empty
# server.listen with no socket passed, a file a reload as server.user cannot read),
# without failing for those: a real start may be given a socket or run as another user.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

# run_check NAME [env VAR=VALUE... --] [taskapi options...] — taskapi --check-config with
# an empty environment (plus what is given); output (both streams) in
# $E2E_TMP/NAME.txt, exit status in CHECK_RC.
run_check() {
  local name=$1 vars=()
  shift
  if [ "${1:-}" = env ]; then
    shift
    while [[ ${1:-} == *=* && ${1:-} != -* ]]; do vars+=("$1"); shift; done
    [ "${1:-}" != -- ] || shift
  fi
  CHECK_RC=0
  env -i "${vars[@]}" "$TASKAPI_BIN" --check-config "$@" </dev/null >"$E2E_TMP/$name.txt" 2>&1 || CHECK_RC=$?
}
# says NAME TEXT — NAME's output has a line containing TEXT.
says() { grep -qF -- "$2" "$E2E_TMP/$1.txt"; }

ini=$(instance_config check)
pass_file=$(sed -n 's/^password_file *= *//p' "$ini")

# ---- a good file: named, with the password files it read ----
run_check good -c "$ini" --set server.listen="$E2E_TMP/x.sock" --set server.allow_root=true
check "a valid file: exit 0 (got $CHECK_RC)" test "$CHECK_RC" = 0
check '... names the file it read' says good "taskapi: configuration file $ini"
check '... and the password file' says good "taskapi: password file $pass_file"
check '... and each --set' says good 'taskapi: from the command line: --set server.listen='
check '... and ends with "taskapi: configuration ok"' test "$(tail -n 1 "$E2E_TMP/good.txt")" = 'taskapi: configuration ok'
[ "$CHECK_RC" = 0 ] || diag "$(cat "$E2E_TMP/good.txt")"

run_check envonly env TASKAPI_CONFIG="$ini" TASKAPI_SERVER_THREADS=3 -- --set server.allow_root=true \
  --set server.listen="$E2E_TMP/x.sock"
check 'TASKAPI_CONFIG and TASKAPI_* variables: the file and the variables applied are named' \
  bash -c "grep -qF 'configuration file $ini' '$E2E_TMP/envonly.txt' &&
    grep -qF 'from the environment: TASKAPI_SERVER_THREADS' '$E2E_TMP/envonly.txt'"

# ---- every problem, not only the first ----
bad=$E2E_TMP/bad.ini
printf '[server]\nthreads = 0\nnot a setting\n[database]\npool_size = abc\n[nosuch]\nkey = 1\n' >"$bad"
run_check bad env TASKAPI_SERVER_BACKLOG=0 -- -c "$bad" --set server.workers=many
check "threads = 0 and pool_size = abc (and more): exit 1 (got $CHECK_RC)" test "$CHECK_RC" = 1
check '... names threads with its line' says bad "error: $bad: line 2: invalid value for server.threads: 0 is outside 1..1024"
check '... and pool_size with its line' says bad "error: $bad: line 5: invalid value for database.pool_size: 'abc'"
check '... and the line that is no setting' says bad "error: $bad: line 3: syntax error"
check '... and the unknown key' says bad "error: $bad: line 7: unknown configuration key 'nosuch.key'"
check '... and the bad environment variable' says bad 'error: environment TASKAPI_SERVER_BACKLOG: invalid value for server.backlog'
check '... and the bad --set' says bad "error: --set server.workers=many: invalid value for server.workers: 'many'"
check '... and that auth.mode is not chosen (there is no default)' says bad \
  'error: auth.mode is not set: choose one of token, remote_user, jwt or none'
check '... and counts them: 7 errors' says bad 'taskapi: configuration has 7 errors'
check '... and never says ok' bash -c "! grep -q 'configuration ok' '$E2E_TMP/bad.txt'"
diag "$(cat "$E2E_TMP/bad.txt")"

# A bad configuration stops a real start the same way, naming every problem.
rc=0
env -i "$TASKAPI_BIN" -c "$bad" </dev/null >"$E2E_TMP/start.txt" 2>&1 || rc=$?
check "starting with that file: exit 1 (got $rc), naming both threads and pool_size" \
  bash -c "[ $rc = 1 ] && grep -q 'server.threads' '$E2E_TMP/start.txt' && grep -q 'database.pool_size' '$E2E_TMP/start.txt'"

# ---- no configuration at all ----
if [ -e /usr/local/etc/taskapi/taskapi.ini ] && [[ $TASKAPI_BIN != /usr/local/* ]]; then
  ok '# SKIP no configuration at all: this build finds an installed default file'
else
  run_check none
  check "no file, no TASKAPI_* variable, no --set: exit 1 (got $CHECK_RC)" test "$CHECK_RC" = 1
  check '... saying there is no configuration file, and no configuration at all' \
    bash -c "grep -q 'taskapi: no configuration file' '$E2E_TMP/none.txt' && grep -q 'error: no configuration at all' '$E2E_TMP/none.txt'"
fi

# ---- what would stop a real start: warnings, exit 0 ----
run_check nolisten -c "$ini" --set server.allow_root=true
check "empty server.listen, no socket passed: exit 0 (got $CHECK_RC) with a warning" \
  says nolisten 'warning: server.listen is empty and no listening socket was passed'
check '... and the last line says a start here would fail' says nolisten 'configuration ok, but a start here, as this user, would fail (1 warning above)'
if command -v spawn-fcgi >/dev/null 2>&1; then
  sock=$E2E_TMP/check.sock
  rc=0
  env -i spawn-fcgi -n -s "$sock" -- "$TASKAPI_BIN" --check-config -c "$ini" --set server.allow_root=true \
    >"$E2E_TMP/spawned.txt" 2>&1 </dev/null || rc=$?
  check "... but not when a listening socket is passed on fd 0 (spawn-fcgi; exit $rc)" \
    bash -c "[ $rc = 0 ] && ! grep -q warning '$E2E_TMP/spawned.txt'"
  rm -f "$sock"
fi
run_check nodir -c "$ini" --set server.allow_root=true --set server.listen=/nonexistent-dir/t.sock \
  --set log.error_log=/nonexistent-dir/error.log
check 'a socket and a log file in a folder that does not exist: a warning for each' \
  bash -c "grep -q \"warning: server.listen '/nonexistent-dir/t.sock': its folder '/nonexistent-dir' does not exist\" '$E2E_TMP/nodir.txt' &&
    grep -q \"warning: log.error_log '/nonexistent-dir/error.log' cannot be created\" '$E2E_TMP/nodir.txt'"

if is_root; then
  run_check root -c "$ini" --set server.listen="$E2E_TMP/x.sock"
  check "as root without server.user or allow_root: exit 0 (got $CHECK_RC), warning 'refusing to run as root'" \
    bash -c "[ $CHECK_RC = 0 ] && grep -q 'warning: refusing to run as root' '$E2E_TMP/root.txt'"
  # Root-only files and server.user: the start reads them as root, a reload as nobody.
  run_check user -c "$ini" --set server.listen="$E2E_TMP/x.sock" --set server.user=nobody
  check "root-only password file with server.user = nobody: a warning that reloads would fail" \
    says user "warning: database.password_file '$pass_file' is not readable by server.user 'nobody'"
  check '... and the same for the configuration file itself' \
    says user "warning: the configuration file '$ini' is not readable by server.user 'nobody'"
  check "... exit 0 (got $CHECK_RC)" test "$CHECK_RC" = 0
fi

sanitizer_check
