#!/bin/sh
# The console in a real browser: headless Chromium, driven by
# playwright-core (t/ui/console.mjs), against afu9 serve with
# t/conformance-server as its child, AFU9_API_TOKEN set and a throwaway
# PostgreSQL (t/pgrun) seeded with executions, steps, an agent run and
# audit rows, among them a hostile issue title.  TAP on stdout.
#
# Environment: AFU9_SRCDIR, AFU9_BUILDDIR, NODE (from make check);
# AFU9_CHROMIUM: the browser (default: chromium on PATH);
# AFU9_UI_SCREENSHOTS: where the page screenshots go (default
# $AFU9_BUILDDIR/t/ui-screenshots; doc/screenshots to refresh the ones
# the README shows); AFU9_REQUIRE_NODE_TESTS=1 turns a missing browser
# or node_modules into a failure.

set -u

srcdir=${AFU9_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AFU9_BUILDDIR:-$srcdir}
tdir=$srcdir/t
mods=$tdir/node_modules

unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "test_ui_browser.sh: $1" >&2
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

if [ ! -f "$mods/playwright-core/package.json" ]; then
	unavailable "playwright-core not installed in t/node_modules (scripts/node-deps.sh)"
fi
chromium=${AFU9_CHROMIUM:-$(command -v chromium 2>/dev/null || true)}
if [ -z "$chromium" ] || [ ! -x "$chromium" ]; then
	unavailable "no chromium (scripts/deps-debian.sh installs it)"
fi
# shellcheck source=t/interop/pick-node.sh
. "$tdir/interop/pick-node.sh"
[ -n "$node" ] || unavailable "no usable node (need 20 or later)"
for f in orchestrator/afu9 t/conformance-server t/pgrun; do
	if [ ! -x "$builddir/$f" ]; then
		echo "Bail out! $builddir/$f not built"
		exit 1
	fi
done
command -v psql >/dev/null 2>&1 || unavailable "no psql (postgresql-client)"

AFU9_CHROMIUM=$chromium AFU9_BUILDDIR=$builddir AFU9_SRCDIR=$srcdir \
AFU9_UI_SCREENSHOTS=${AFU9_UI_SCREENSHOTS:-$builddir/t/ui-screenshots} \
    exec "$node" "$tdir/ui/console.mjs"
