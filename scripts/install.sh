#!/bin/sh
# Install a built afu9 (scripts/build.sh, in $BUILDDIR) under DESTDIR:
# `make install`: the four binaries, their man pages and the migrations
# (PREFIX/share/afu9/migrations, where `afu9 migrate` looks by default)
# under the configured prefix, /usr/local by default; then the binaries
# are stripped.
#
#   BUILDDIR=_build scripts/install.sh DESTDIR
#
# PREFIX overrides the configured prefix for the install step only (the
# suite uses /usr/local, the image's layout, whatever the build used).
#
# The container image's build stage runs this into /out and copies the
# tree into the runtime stage; t/test_ship.sh runs it into a temporary
# directory and checks what lands there.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILDDIR=${BUILDDIR:-$top/_build}
[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: install.sh DESTDIR" >&2; exit 2; }
[ -f "$BUILDDIR/Makefile" ] || { echo "install.sh: $BUILDDIR is not built (scripts/build.sh)" >&2; exit 1; }
mkdir -p "$1"
dest=$(cd "$1" && pwd)
prefix=${PREFIX:-$(sed -n 's/^prefix = //p' "$BUILDDIR/Makefile")}
# Run on its own: not as part of an enclosing make's job server.
unset MAKEFLAGS MFLAGS MAKELEVEL
make -s -C "$BUILDDIR" install DESTDIR="$dest" prefix="$prefix" >/dev/null
for b in afu9 afu9-github afu9-deploy afu9-observability; do
	strip --strip-unneeded "$dest$prefix/bin/$b"
done
