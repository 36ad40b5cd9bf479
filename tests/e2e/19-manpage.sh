#!/usr/bin/env bash
# 19-manpage: taskapi(8) is in step with the code. Every configuration key of
# fcgi_app/config.c and every long option of fcgi_app/main.c is named in
# docs/taskapi.8, which renders without a groff warning and no longer carries the
# statements that stopped being true (write routes "not there yet", one process,
# keepalive kept below the thread count, an idle stop in "milliseconds").
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

man8=$TOP/docs/taskapi.8
if ! command -v man >/dev/null 2>&1; then
  not_ok 'man is installed (Debian package man-db), to render docs/taskapi.8'
  exit 0
fi
# Plain ASCII, no hyphenation, no justification: words stay whole for grep.
text=$(MANWIDTH=200 man -E ascii --nh --nj --warnings -l "$man8" 2>"$E2E_TMP/man.err" | col -b)
check 'man -l docs/taskapi.8 renders without a warning' test ! -s "$E2E_TMP/man.err"
[ ! -s "$E2E_TMP/man.err" ] || diag "$(head -n 10 "$E2E_TMP/man.err")"

# Keys: { "section", "key", ... } rows of the option table.
mapfile -t keys < <(sed -nE 's/^\s*\{ "([a-z]+)", "([a-z_]+)", OPT_.*/\1.\2/p' "$TOP/fcgi_app/config.c")
missing=()
for k in "${keys[@]}"; do
  # Named in the section's list ("[server] (listen, workers, ...)") or as section.key.
  grep -qE "(^|[^a-z_])${k#*.}([^a-z_]|$)" <<<"$text" || missing+=("$k")
done
check "every configuration key of fcgi_app/config.c (${#keys[@]}) is in taskapi(8)" test "${#missing[@]}" = 0
[ "${#missing[@]}" = 0 ] || diag "missing: ${missing[*]}"

# Options: the long options of main.c's getopt table.
mapfile -t opts < <(sed -nE 's/^\s*\{ "([a-z-]+)", (no|required)_argument.*/\1/p' "$TOP/fcgi_app/main.c")
missing=()
for o in "${opts[@]}"; do
  grep -qE -- "--$o([^a-z-]|$)" <<<"$text" || missing+=("--$o")
done
check "every command-line option of fcgi_app/main.c (${#opts[@]}: ${opts[*]}) is in taskapi(8)" \
  test "${#missing[@]}" = 0 -a "${#opts[@]}" -gt 0
[ "${#missing[@]}" = 0 ] || diag "missing: ${missing[*]}"

flat=$(tr -s ' \n' ' ' <<<"$text")
# has TEXT... — the rendered page contains every TEXT (fixed strings).
has() {
  local t
  for t in "$@"; do grep -qF -- "$t" <<<"$flat" || return 1; done
}
check 'it describes the master, its workers and the admin process' \
  has 'master process' 'worker processes' 'admin process'
check 'it lists the write routes (POST, PATCH, DELETE /tasks/)' has 'POST /tasks/' 'PATCH /tasks/' 'DELETE /tasks/'
for stale in 'not there yet' 'Keep server.threads above' 'holds one thread' 'within a few milliseconds'; do
  if has "$stale"; then not_ok "no stale statement: '$stale'"; else ok "no stale statement: '$stale'"; fi
done
