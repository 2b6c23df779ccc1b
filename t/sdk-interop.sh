#!/bin/sh
# The official MCP TypeScript SDK client against t/conformance-server over
# stdio (t/interop/sdk-client.mjs).  TAP on stdout, one line per check.
#
# Environment: AFU9_SRCDIR, AFU9_BUILDDIR, NODE (from make check);
# AFU9_TEST_WRAPPER (e.g. valgrind) prefixes the server command;
# AFU9_REQUIRE_NODE_TESTS=1 turns a missing node_modules into a failure.

set -u

srcdir=${AFU9_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AFU9_BUILDDIR:-$srcdir}
tdir=$srcdir/t
mods=$tdir/node_modules
server=$builddir/t/conformance-server

unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "sdk-interop.sh: $1" >&2
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

if [ ! -d "$mods/@modelcontextprotocol/sdk" ]; then
	unavailable "node modules not installed (scripts/node-deps.sh)"
fi
# shellcheck source=t/interop/pick-node.sh
. "$tdir/interop/pick-node.sh"
[ -n "$node" ] || unavailable "no usable node (need 20 or later)"
if [ ! -x "$server" ]; then
	echo "Bail out! $server not built"
	exit 1
fi

# shellcheck disable=SC2086  # the wrapper is a command line, split on purpose
exec "$node" "$tdir/interop/sdk-client.mjs" -- ${AFU9_TEST_WRAPPER:-} "$server"
