#!/usr/bin/env bash
# 32-auth-mode: auth.mode has no default. A configuration without it is refused at
# start with a message naming the choices (nothing listens, exit 1), and by
# --check-config; an unknown mode and a token mode without its key are refused too;
# mode none starts and says at every start that there is no authentication. The
# stack's instance (mode none) still answers the seed's routes without credentials.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

ini=$(instance_config nomode)
# The stack's file says [auth] mode = none: take the section out.
sed -i '/^\[auth\]/,$d' "$ini"
root_args
sock=$E2E_TMP/nomode.sock

ta_start nomode "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock"
check 'no auth.mode: taskapi refuses to start, naming the choices' \
  ta_died_with nomode "$TA_PID" 'auth.mode is not set: choose one of token, remote_user, jwt or none'
check '... and never listened' test ! -e "$sock"

"$TASKAPI_BIN" --check-config -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" \
  </dev/null >"$E2E_TMP/check.txt" 2>&1 && rc=0 || rc=$?
check '--check-config reports the missing mode as an error (exit 1)' \
  bash -c "[ $rc = 1 ] && grep -q 'error: auth.mode is not set' '$E2E_TMP/check.txt'"

ta_start badmode "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" --set auth.mode=open
check 'an unknown mode is refused' ta_died_with badmode "$TA_PID" "invalid value for auth.mode: 'open'"

ta_start nokey "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" --set auth.mode=token \
  --set auth.token_key_file=
check 'mode token without auth.token_key_file is refused' \
  ta_died_with nokey "$TA_PID" 'auth.mode = token needs auth.token_key_file'

ta_start none "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" --set auth.mode=none \
  --set server.workers=1
check 'mode none starts and answers' wait_for 20 fcgi_ok "$sock"
check '... with a warning that there is no authentication' \
  grep -q "warn: auth.mode = none: there is no authentication; every request is the owner 'local'" \
  "$E2E_TMP/none.log"
fcgi GET /tasks/ "$sock"
check '... and the task routes need no credential' test "$STATUS" = 200

http GET /tasks/
check 'the stack (mode none): GET /tasks/ without credentials is 200' test "$STATUS" = 200
