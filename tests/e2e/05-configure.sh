#!/usr/bin/env bash
# 05-configure: a missing library stops ./configure with the Debian package to install.
# Runs a copy of the generated configure script against a pkg-config folder that
# lacks one library at a time (the checkout itself is already configured).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

src=$E2E_TMP/src
mkdir -p "$src/fcgi_app" "$E2E_TMP/pc"
cp "$TOP/configure" "$TOP/Makefile.in" "$TOP/autoconfig.h.in" "$src/"
cp -r "$TOP/build-aux" "$src/"
cp "$TOP/fcgi_app/main.c" "$src/fcgi_app/"

# try_without PC_NAME PACKAGE — configure fails and names PACKAGE when PC_NAME.pc is gone.
try_without() {
  local missing=$1 package=$2 pc dir out rc=0
  rm -f "$E2E_TMP"/pc/*.pc
  for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
    for pc in "$dir"/*.pc; do
      [ -e "$pc" ] || continue
      [ "$(basename "$pc")" = "$missing.pc" ] || cp -n "$pc" "$E2E_TMP/pc/"
    done
  done
  out=$(cd "$src" && PKG_CONFIG_LIBDIR=$E2E_TMP/pc PKG_CONFIG_PATH='' ./configure 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q "install the Debian package $package" <<<"$out"; then
    ok "configure without $missing.pc stops and names $package"
  else
    not_ok "configure without $missing.pc stops and names $package (exit $rc)"
    diag "$(tail -n 3 <<<"$out")"
  fi
}

try_without jansson libjansson-dev
try_without inih libinih-dev

# With everything present the same copy configures.
rc=0
(cd "$src" && ./configure >/dev/null 2>&1) || rc=$?
check "configure succeeds with every library present" [ "$rc" -eq 0 ]
