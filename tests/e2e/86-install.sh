#!/usr/bin/env bash
# 86-install: `make install` puts the binary, the man page, the example config, the
# SQL migrations, the docs (operations.md too) and the nginx, Apache, systemd and
# logrotate files under the prefix,
# inside DESTDIR when given; the installed units and Apache files name the
# installed paths and pass systemd-analyze verify; `make uninstall` takes it all back.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

if [ ! -f "$TOP/Makefile" ]; then
  not_ok "the checkout is configured (no Makefile in $TOP)"
  exit 0
fi
prefix=$(sed -n 's/^prefix = //p' "$TOP/Makefile")
sysconfdir=$(make -s -C "$TOP" --no-print-directory -f Makefile -f - print-sysconfdir <<'MK' 2>/dev/null
print-sysconfdir: ; @echo $(sysconfdir)
MK
)
dest=$E2E_TMP/destdir

# expected ROOT PREFIX SYSCONFDIR — the files an install must hold, one per line.
expected() {
  local root=$1 p=$2 etc=$3 f
  printf '%s\n' "$root$p/bin/taskapi" "$root$p/share/man/man8/taskapi.8" \
    "$root$etc/taskapi/taskapi.ini.example" \
    "$root$p/share/taskapi/nginx/taskapi.conf" "$root$p/share/taskapi/nginx/taskapi-fastcgi.conf" \
    "$root$p/share/taskapi/apache/taskapi.conf" "$root$p/share/taskapi/apache/taskapi-tcp.conf" \
    "$root$p/share/taskapi/apache/taskapi-fcgid.conf" "$root$p/share/taskapi/apache/taskapi-cgi.conf" \
    "$root$p/share/taskapi/apache/shared-hosting.htaccess" \
    "$root$p/lib/systemd/system/taskapi.socket" "$root$p/lib/systemd/system/taskapi.service" \
    "$root$p/lib/systemd/system/taskapi-standalone.service" \
    "$root$p/share/taskapi/logrotate/taskapi" \
    "$root$p/share/doc/taskapi/deployment.md" "$root$p/share/doc/taskapi/configuration.md" \
    "$root$p/share/doc/taskapi/operations.md"
  for f in "$TOP"/sql/[0-9]*.sql; do
    printf '%s\n' "$root$p/share/taskapi/sql/$(basename "$f")"
  done
}

# missing_files — expected lines (stdin) that are not files.
missing_files() {
  local f
  while read -r f; do [ -f "$f" ] || echo "$f"; done
}

# ---- make install DESTDIR=... ----
rc=0
make -C "$TOP" --no-print-directory install DESTDIR="$dest" >"$E2E_TMP/install.log" 2>&1 || rc=$?
check "make install DESTDIR=\$tmp exits 0 (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || diag "$(tail -n 10 "$E2E_TMP/install.log")"
missing=$(expected "$dest" "$prefix" "$sysconfdir" | missing_files)
check "every expected file is installed under DESTDIR$prefix ($(expected "$dest" "$prefix" "$sysconfdir" | wc -l) files)" \
  test -z "$missing"
[ -z "$missing" ] || diag "missing:" "$missing"
diag "installed:" "$(cd "$dest" && find . -type f | sort)"
check "nothing was written to $prefix itself" \
  test -z "$(find "$prefix/bin/taskapi" "$prefix/lib/systemd/system/taskapi.service" -newer "$E2E_TMP/install.log" 2>/dev/null)"
out=$("$dest$prefix/bin/taskapi" --version 2>&1 || true)
check "the installed binary runs: $out" grep -qE '^taskapi [0-9]' <<<"$out"
check 'the installed man page is taskapi(8)' grep -q '^\.TH TASKAPI 8' "$dest$prefix/share/man/man8/taskapi.8"
unit=$dest$prefix/lib/systemd/system/taskapi.service
check "the installed taskapi.service runs $prefix/bin/taskapi with $sysconfdir/taskapi/taskapi.ini" \
  grep -qxF "ExecStart=$prefix/bin/taskapi --config $sysconfdir/taskapi/taskapi.ini" "$unit"
check "the installed taskapi-standalone.service runs $prefix/bin/taskapi with $sysconfdir/taskapi/taskapi.ini" \
  grep -qxF "ExecStart=$prefix/bin/taskapi --config $sysconfdir/taskapi/taskapi.ini" \
  "$dest$prefix/lib/systemd/system/taskapi-standalone.service"
lr=$dest$prefix/share/taskapi/logrotate/taskapi
check 'the installed logrotate example rotates /var/log/taskapi/*.log and sends SIGUSR1 (reopen), no copytruncate' \
  bash -c "grep -qF '/var/log/taskapi/*.log {' '$lr' && grep -q 'signal=USR1' '$lr' && ! grep -q '^ *copytruncate' '$lr'"

rc=0
make -C "$TOP" --no-print-directory uninstall DESTDIR="$dest" >"$E2E_TMP/uninstall.log" 2>&1 || rc=$?
left=$(find "$dest" -type f 2>/dev/null)
check "make uninstall DESTDIR=\$tmp removes every file (exit $rc)" test "$rc" = 0 -a -z "$left"
[ -z "$left" ] || diag "left: $left"

# ---- a user-level install: everything under one folder (shared hosting: ~/.local) ----
home=$E2E_TMP/home/.local
rc=0
make -C "$TOP" --no-print-directory install prefix="$home" >"$E2E_TMP/install-home.log" 2>&1 || rc=$?
check "make install prefix=\$HOME/.local exits 0 (exit $rc)" test "$rc" = 0
missing=$(expected "" "$home" "$home/etc" | missing_files)
check 'every expected file is under that prefix' test -z "$missing"
[ -z "$missing" ] || diag "missing:" "$missing"
check 'the installed systemd and Apache files name that prefix, never /usr/local' \
  test -z "$(grep -rl /usr/local "$home/lib/systemd/system" "$home/share/taskapi/apache" 2>/dev/null)"
check "... e.g. FcgidWrapper \"$home/bin/taskapi\"" \
  grep -qF "FcgidWrapper \"$home/bin/taskapi\" virtual" "$home/share/taskapi/apache/taskapi-fcgid.conf"
if command -v systemd-analyze >/dev/null 2>&1; then
  rc=0
  out=$(cd "$home/lib/systemd/system" && MANPATH=$home/share/man \
    systemd-analyze verify ./taskapi.socket ./taskapi.service ./taskapi-standalone.service 2>&1) || rc=$?
  check 'systemd-analyze verify on the installed units (ExecStart and man page present): no warning' \
    test "$rc" = 0 -a -z "$out"
  [ -z "$out" ] || diag "$out"
fi
make -C "$TOP" --no-print-directory uninstall prefix="$home" >/dev/null 2>&1 || true
