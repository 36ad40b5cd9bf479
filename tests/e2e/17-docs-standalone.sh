#!/usr/bin/env bash
# 17-docs-standalone: the repository's files stand alone. No file under version control
# (docs, nginx, deploy, systemd, scripts, C sources and their comments, tests) points
# to a file outside the repository — a design brief, notes kept next to the checkout,
# a numbered finding in such notes — or names a path of the machine it was written
# on: it states the fact itself instead.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# What pointing outside looks like: machine paths of the development host, notes that
# are not in the repository, and the "finding N" / "L10" labels of such notes.
pattern='/wor[k]/|\.\./shared/|(^|[^A-Za-z_])shared/(DESIGN|RUNTIME|STYLE)|\b(DESIGN|RUNTIME|STYLE)\.md\b|\bfinding [0-9]+\b|\(RUNTIME|/home/[a-z][a-z0-9_-]*/(work|src|git)/'
# The tracked files; in a tree without git (a release tarball), the sources by folder.
list_files() {
  if git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$TOP" ls-files
  else
    (cd "$TOP" && find README.md Makefile.am configure.ac autogen.sh bench deploy docs etc \
      fcgi_app nginx script sql systemd tests tools -type f 2>/dev/null)
  fi
}
files=$(list_files | grep -v '^tests/e2e/17-docs-standalone.sh$')
hits=$(cd "$TOP" && tr '\n' '\0' <<<"$files" | xargs -0 grep -nIE "$pattern" 2>/dev/null) || hits=''
check "no file of the repository refers to notes outside it or to a machine path ($(wc -l <<<"$files") files)" \
  test -z "$hits"
[ -z "$hits" ] || diag "$hits"
