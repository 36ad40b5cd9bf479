#!/usr/bin/env bash
# 79-process-titles: ps tells the master, the workers and the admin process apart, as
# with nginx and PHP-FPM: "taskapi: master process <its command line>", "taskapi:
# worker process (generation N)", "taskapi: admin process" (/proc/PID/cmdline). The
# master keeps its whole command line in the title, so scripts that find it by its
# arguments (script/lib/common.sh pid_from_file) still do; when the title would not
# fit whole, the command line is left as it was. The process name (comm) stays
# "taskapi" for every process; the environment still works after the title moved it.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/lib-proc.sh
. "$E2E_DIR/lib-proc.sh"

# title PID — what ps shows as the command line of PID.
title() { ps -o args= -p "$1" 2>/dev/null | sed 's/ *$//'; }

admin=$E2E_TMP/titles-admin.sock
# The worker count comes from the environment: it must still be read after the
# environment strings were copied away for the title.
TASKAPI_SERVER_WORKERS=2 proc_taskapi titles --set "server.admin_listen=$admin"
master=$PROC_PID
taskapi_args
expected="$TASKAPI_BIN ${TASKAPI_ARGS[*]} --set server.listen=$PROC_SOCK --set server.admin_listen=$admin"
wait_for 15 test "$(workers_of "$master" | wc -l)" -ge 3 || true

got=$(title "$master")
check "master: ps shows 'taskapi: master process' and its whole command line" \
  test "$got" = "taskapi: master process $expected"
diag "master: $got"
check 'master: /proc/PID/cmdline holds the same (what pid_args reads)' \
  test "$(pid_args "$master" | sed 's/ *$//')" = "taskapi: master process $expected"
echo "$master" >"$E2E_TMP/titles.pid"
found_by() { [ "$(pid_from_file "$E2E_TMP/titles.pid" "$1")" = "$master" ]; }
check 'master: pid_from_file still finds it by its config file' found_by "$APP_CONF"
check 'master: ... and by its socket' found_by "$PROC_SOCK"
workers=0 admins=0 others=()
for pid in $(workers_of "$master"); do
  t=$(title "$pid")
  case $t in
    'taskapi: worker process (generation 1)') workers=$((workers + 1)) ;;
    'taskapi: admin process') admins=$((admins + 1)) ;;
    *) others+=("$pid: $t") ;;
  esac
done
check "2 children titled 'taskapi: worker process (generation 1)' (got $workers; workers from TASKAPI_SERVER_WORKERS)" \
  test "$workers" = 2
check "1 child titled 'taskapi: admin process' (got $admins)" test "$admins" = 1
check 'no child with another title' test "${#others[@]}" = 0
[ "${#others[@]}" = 0 ] || diag "${others[@]}"
comms=$(for pid in "$master" $(workers_of "$master"); do cat "/proc/$pid/comm"; done | sort -u | tr '\n' ' ')
check "the process name (comm) stays taskapi for all of them (got: $comms)" test "$comms" = 'taskapi '
check 'ps -C taskapi lists the master and its 3 children' \
  test "$(ps -C taskapi -o pid= | tr -d ' ' | grep -cxE "$master|$(workers_of "$master" | paste -sd '|')")" = 4

# A reload starts generation 2: the new workers say so.
kill -HUP "$master"
gen2() {
  local n=0 pid
  for pid in $(workers_of "$master"); do
    [ "$(title "$pid")" != 'taskapi: worker process (generation 2)' ] || n=$((n + 1))
  done
  [ "$n" = 2 ]
}
if wait_for 20 gen2; then
  ok "after SIGHUP: 2 workers titled 'taskapi: worker process (generation 2)' (${WAITED}s)"
else
  not_ok "after SIGHUP: 2 workers titled 'taskapi: worker process (generation 2)' within 20s"
  for pid in $(workers_of "$master"); do diag "$pid: $(title "$pid")"; done
fi
check "after SIGHUP: the master's title is unchanged" test "$(title "$master")" = "taskapi: master process $expected"
http GET /healthz
fcgi_status=$STATUS
stop_pid taskapi-titles "$master" TERM 20 >/dev/null 2>&1 || true
check "the stack's own taskapi (found by its command line) still answers ($fcgi_status)" test "$fcgi_status" = 200

# No environment at all and a long command line: the title would not fit whole, so the
# command line stays as it was (a script matching its arguments still finds it).
sock=$E2E_TMP/noenv.sock
long=$E2E_TMP/$(printf 'x%.0s' $(seq 60))
env -i "$TASKAPI_BIN" "${TASKAPI_ARGS[@]}" --set "server.listen=$sock" --set "server.workers=1" \
  --set "log.slow_log_file=$long" </dev/null >>"$E2E_TMP/noenv.log" 2>&1 &
pid=$!
at_exit "stop_pid taskapi-noenv $pid TERM 20 >/dev/null 2>&1"
wait_for 15 test -S "$sock" || diag "$(tail -n 5 "$E2E_TMP/noenv.log")"
check 'no environment: the command line is left whole (the title did not fit)' \
  test "$(title "$pid")" = "$TASKAPI_BIN ${TASKAPI_ARGS[*]} --set server.listen=$sock --set server.workers=1 --set log.slow_log_file=$long"
check "... and its worker is titled all the same" \
  test "$(title "$(workers_of "$pid" | head -n 1)")" = 'taskapi: worker process (generation 1)'
stop_pid taskapi-noenv "$pid" TERM 20 >/dev/null 2>&1 || true
