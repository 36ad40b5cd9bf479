# shellcheck shell=bash
# script/lib/common.sh — helpers shared by script/server, script/test and the e2e tests:
# messages, process checks by pid, free ports, and the build steps.
# Source it; it defines functions and TOP (the checkout) and runs nothing else.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

say() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# pid_alive PID — true while PID exists and is not a zombie. kill -0 alone is not
# enough: an orphan reparented to a PID 1 that does not reap stays a zombie forever.
pid_alive() {
  local pid=$1 stat
  [ -n "$pid" ] || return 1
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the comm field may contain spaces; the state follows ") "
  [ "${stat%% *}" != Z ]
}

# pid_args PID — the command line of PID, arguments separated by spaces.
pid_args() {
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null
}

# pid_from_file FILE MATCH — print the pid stored in FILE when that process is alive
# and its command line contains MATCH (so a recycled pid is never mistaken for ours).
pid_from_file() {
  local file=$1 match=$2 pid
  [ -r "$file" ] || return 1
  read -r pid <"$file" 2>/dev/null || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  [[ "$(pid_args "$pid")" == *"$match"* ]] || return 1
  printf '%s\n' "$pid"
}

# wait_pid_gone PID SECONDS — poll until PID has exited; false on timeout.
wait_pid_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while pid_alive "$pid"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

# stop_pid NAME PID SIGNAL SECONDS — send SIGNAL, wait up to SECONDS, then SIGKILL.
# Returns 0 when the process went away on SIGNAL, 1 when it had to be killed.
stop_pid() {
  local name=$1 pid=$2 sig=$3 secs=$4
  pid_alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  if wait_pid_gone "$pid" "$secs"; then
    return 0
  fi
  warn "$name (pid $pid) still running ${secs}s after SIG$sig; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait_pid_gone "$pid" 5 || warn "$name (pid $pid) survived SIGKILL"
  return 1
}

# free_port — an unused TCP port on 127.0.0.1 (the kernel picks it; a small race
# remains until the caller binds it, which is fine for tests).
free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_in_use PORT — true when something listens on 127.0.0.1:PORT.
port_in_use() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# ---- build ----

# build_autogen — generate configure when it is missing (make regenerates it later
# by itself when configure.ac or Makefile.am change).
build_autogen() {
  if [ ! -x "$TOP/configure" ]; then
    say "autogen.sh"
    (cd "$TOP" && ./autogen.sh)
  fi
}

# build_incremental — for script/server: configure only when there is no Makefile
# yet (keeping whatever flags the developer chose), then make.
build_incremental() {
  build_autogen
  if [ ! -f "$TOP/Makefile" ]; then
    say "./configure"
    (cd "$TOP" && ./configure)
  fi
  say "make"
  make --no-print-directory -C "$TOP" -j2
}

# build_fresh [configure args...] — for script/test: always configure with exactly
# these arguments. When they differ from the previous configuration, object files
# compiled with other flags (say, without ASan) are removed first: make alone would
# not rebuild them, because only the flags changed.
build_fresh() {
  local before=none after
  build_autogen
  if [ -x "$TOP/config.status" ]; then
    before=$(cd "$TOP" && ./config.status --config)
  fi
  say "./configure $*"
  (cd "$TOP" && ./configure "$@")
  after=$(cd "$TOP" && ./config.status --config)
  if [ "$before" != none ] && [ "$before" != "$after" ]; then
    say "configure flags changed ('$before' -> '$after'): make clean"
    make --no-print-directory -C "$TOP" clean >/dev/null
  fi
  say "make"
  make --no-print-directory -C "$TOP" -j2
}
