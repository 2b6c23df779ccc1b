#!/bin/sh
# Configure and build afu9 out of tree in $BUILDDIR (default: _build).
# Extra arguments go to configure (e.g. --enable-sanitizers).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILDDIR=${BUILDDIR:-$top/_build}
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] && [ Makefile.in -nt Makefile.am ] ||
	autoreconf -fi >/dev/null
mkdir -p "$BUILDDIR"
cd "$BUILDDIR"
want="$*"
if [ ! -f Makefile ] || [ "$(cat .afu9-configure-args 2>/dev/null)" != "$want" ]; then
	"$top/configure" -q "$@"
	printf '%s' "$want" > .afu9-configure-args
fi
make -s -j"$(nproc)"
