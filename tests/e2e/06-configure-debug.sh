#!/usr/bin/env bash
# 06-configure-debug: the optimisation level the build switches ask for is the one
# the compiler gets. autoconf's default CFLAGS ("-g -O2") comes after taskapi's own
# flags on every compile line, so an -O0 of --enable-debug used to lose to it:
# configure sets CFLAGS before AC_PROG_CC now. Configures a copy of the generated
# build system (timestamps kept, so nothing is regenerated) with each switch and
# compiles one object, reading the compile line. Also: --enable-coverage, and the
# stop on a host that is not Linux.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

src=$E2E_TMP/src
mkdir -p "$src/fcgi_app"
(cd "$TOP" && cp -a configure configure.ac Makefile.am Makefile.in aclocal.m4 autoconfig.h.in \
  build-aux m4 "$src/")
cp -a "$TOP"/fcgi_app/*.[ch] "$src/fcgi_app/"

# compile_line CONFIGURE_ARGS... — configure the copy with these arguments (and no
# CFLAGS from the environment), compile fcgi_app/buf.o, print its compile line.
compile_line() {
  (
    cd "$src" || exit 1
    make distclean >/dev/null 2>&1 || true
    env -u CFLAGS ./configure "$@" >configure.out 2>&1 || {
      echo "configure $* failed: $(tail -n 3 configure.out)"
      exit 1
    }
    make V=1 fcgi_app/buf.o 2>&1 | grep -E -- '-c (-o fcgi_app/buf.o )?.*buf\.c' | tail -n 1
  )
}

# has_flag LINE FLAG — FLAG is one of LINE's words.
has_flag() { [[ " $1 " == *" $2 "* ]]; }

line=$(compile_line --enable-debug)
check '--enable-debug: the compile line has -O0' has_flag "$line" -O0
check '--enable-debug: ... and no -O2 (autoconf default) or other optimisation after it' \
  bash -c '[[ " $1 " != *" -O2 "* && " $1 " != *" -O1 "* ]]' _ "$line"
check '--enable-debug: ... with full debug info (-g3), without _FORTIFY_SOURCE' \
  bash -c '[[ " $1 " == *" -g3 "* && $1 != *_FORTIFY_SOURCE* ]]' _ "$line"
diag "compile line: $line"

line=$(compile_line --enable-asan)
check '--enable-asan: the compile line has -O1 and the sanitizers, no -O2' \
  bash -c '[[ " $1 " == *" -O1 "* && $1 == *-fsanitize=address,undefined* && " $1 " != *" -O2 "* ]]' _ "$line"

line=$(compile_line)
check 'no switch: -O2 with _FORTIFY_SOURCE=2 (the release build)' \
  bash -c '[[ " $1 " == *" -O2 "* && $1 == *-D_FORTIFY_SOURCE=2* ]]' _ "$line"

line=$(cd "$src" && make distclean >/dev/null 2>&1; CFLAGS='-O3' ./configure --enable-debug >/dev/null 2>&1 &&
  make V=1 fcgi_app/buf.o 2>&1 | grep -E -- 'buf\.c' | tail -n 1)
check 'CFLAGS given by the user win over --enable-debug (-O3 kept, no -O0)' \
  bash -c '[[ " $1 " == *" -O3 "* && " $1 " != *" -O0 "* ]]' _ "$line"

line=$(compile_line --enable-coverage)
check '--enable-coverage: gcov instrumentation (--coverage) at -O0, without _FORTIFY_SOURCE' \
  bash -c '[[ " $1 " == *" --coverage "* && " $1 " == *" -O0 "* && $1 != *_FORTIFY_SOURCE* ]]' _ "$line"

# taskapi needs epoll and sock_diag: configure for another system stops at once, and
# says why (with --host and no cross compiler, configure falls back to gcc).
rc=0
out=$(cd "$src" && { make distclean >/dev/null 2>&1 || true; } &&
  ./configure --host=x86_64-unknown-freebsd14 2>&1) || rc=$?
check "configure --host=...-freebsd14 fails with 'taskapi runs on Linux only' (exit $rc)" \
  bash -c '[ "$1" -ne 0 ] && [[ $2 == *"taskapi runs on Linux only"* ]]' _ "$rc" "$out"
