#!/bin/sh
# Regenerate the build system from configure.ac and Makefile.am.
die() { echo "autogen.sh: $*" >&2; exit 1; }
cd "$(dirname "$0")" || die "cannot cd to the source folder"
command -v autoreconf >/dev/null 2>&1 || die "autoreconf not found: install the Debian packages autoconf and automake"
autoreconf --install --force || die "autoreconf failed"
