#!/usr/bin/env bash
# 15-readme: the README's transcript is what taskapi prints. Every ```console block of
# README.md is a transcript: "$ command" lines, each followed by the output it shows.
# This test starts a fresh stack of its own (script/server with an empty run folder,
# so an empty database and ids from 1, on a free port), runs each command in order —
# with http://127.0.0.1:8080 and run/taskapi.sock pointing at that stack — and
# compares what it prints with what the README shows. Masked on both sides: ids
# ("id":N, /tasks/N in Location), timestamps, and the headers the README says it
# leaves out (Server, Date, Connection, Content-Length, X-Request-Id) unless a block
# shows them. A drift in a status line, a header, a body or an error message fails.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

readme=$TOP/README.md
srv_dir=$RUN_DIR/readme-check
srv_port=$(free_port)
srv_url=http://127.0.0.1:$srv_port
srv_pid=''
rm -rf "$srv_dir"
mkdir -p "$srv_dir"

gone() { ! pid_alive "$1"; }
srv_ok() { curl -fs --max-time 2 -o /dev/null "$srv_url/readyz"; }
cleanup_server() {
  if [ -n "$srv_pid" ]; then
    kill -TERM "$srv_pid" 2>/dev/null || true
    wait_for 60 gone "$srv_pid" || true
  fi
  (TASKAPI_RUN_DIR=$srv_dir TASKAPI_PORT=$srv_port stack_env && stack_stop) >/dev/null 2>&1 || true
  rm -rf "$srv_dir"
}
at_exit cleanup_server

TASKAPI_RUN_DIR=$srv_dir TASKAPI_PORT=$srv_port "$TOP/script/server" </dev/null >"$srv_dir.log" 2>&1 &
srv_pid=$!
if wait_for 120 srv_ok; then
  ok "a fresh stack (script/server, empty run folder) answers on port $srv_port within ${WAITED}s"
else
  not_ok "a fresh stack (script/server, empty run folder) answers within 120s"
  diag "$(tail -n 20 "$srv_dir.log")"
  exit 0
fi
srv_sock=$(TASKAPI_RUN_DIR=$srv_dir TASKAPI_PORT=$srv_port stack_env && printf '%s' "$APP_SOCK")
check 'its database is empty: GET /tasks/ is []' \
  test "$(curl -s --max-time 10 "$srv_url/tasks/")" = '[]'

python3 - "$readme" "$srv_url" "$srv_sock" "$E2E_TMP" <<'PY'
import difflib, os, re, subprocess, sys

readme, url, sock, tmp = sys.argv[1:5]
LEFT_OUT = ("server", "date", "connection", "content-length", "x-request-id")

# The transcript: ```console blocks, "$ " commands and the lines that follow each.
steps, block, cmd, out = [], None, None, []
for line in open(readme, encoding="utf-8").read().split("\n"):
    if block is None:
        if line.strip() == "```console":
            block = True
        continue
    if line.strip() == "```" or line.startswith("$ "):
        if cmd is not None:
            steps.append((cmd, out))
        cmd, out = (line[2:], []) if line.startswith("$ ") else (None, [])
        if line.strip() == "```":
            block = None
        continue
    if cmd is not None:
        out.append(line)

def mask(text, shown_headers):
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        name = line.split(":", 1)[0].lower() if re.match(r"^[A-Za-z-]+: ", line) else None
        if name in LEFT_OUT and name not in shown_headers:
            continue
        line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>", line)
        line = re.sub(r'"id":\d+', '"id":<id>', line)
        line = re.sub(r"^(Location: /tasks/)\d+$", r"\1<id>", line)
        lines.append(line)
    return "\n".join(lines).strip("\n")

if not steps:
    print("not ok - README.md has a transcript (```console blocks with $ commands)")
    sys.exit(0)
env = dict(os.environ, LC_ALL="C.UTF-8")
for i, (cmd, expected) in enumerate(steps, 1):
    run = cmd.replace("http://127.0.0.1:8080", url).replace("run/taskapi.sock", sock)
    try:
        got = subprocess.run(["bash", "-c", run], capture_output=True, timeout=30, env=env,
                             cwd=tmp).stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        got = "(timed out after 30 s)"
    want_text = "\n".join(expected)
    shown = {l.split(":", 1)[0].lower() for l in expected if re.match(r"^[A-Za-z-]+: ", l)}
    want, have = mask(want_text, shown), mask(got, shown)
    short = cmd if len(cmd) <= 100 else cmd[:97] + "..."
    if want == have:
        print("ok - README step %d: %s" % (i, short))
    else:
        print("not ok - README step %d prints what the README shows: %s" % (i, short))
        for d in difflib.unified_diff(want.split("\n"), have.split("\n"), "README", "taskapi", lineterm=""):
            print("#   " + d)
PY
