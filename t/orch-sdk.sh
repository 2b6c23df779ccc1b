#!/bin/sh
# The official MCP TypeScript SDK client against `afu9 serve --stdio` (the
# gateway) with two t/conformance-server children, one per framing
# (t/interop/orch-sdk-client.mjs).  TAP on stdout, one line per check.
#
# Environment: AFU9_SRCDIR, AFU9_BUILDDIR, NODE (from make check);
# AFU9_TEST_WRAPPER (e.g. valgrind) prefixes afu9;
# AFU9_REQUIRE_NODE_TESTS=1 turns a missing node_modules into a failure.

set -u

srcdir=${AFU9_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AFU9_BUILDDIR:-$srcdir}
tdir=$srcdir/t
mods=$tdir/node_modules
afu9=$builddir/orchestrator/afu9
server=$builddir/t/conformance-server

unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "orch-sdk.sh: $1" >&2
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
for f in "$afu9" "$server"; do
	if [ ! -x "$f" ]; then
		echo "Bail out! $f not built"
		exit 1
	fi
done

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
sed "s|@SERVER@|$server|g" "$tdir/orch/gateway.json.in" >"$tmp/gateway.json"

# the client reads /metrics without a token (doc/api.md, "Metrics")
export AFU9_METRICS=open
# shellcheck disable=SC2086  # the wrapper is a command line, split on purpose
"$node" "$tdir/interop/orch-sdk-client.mjs" -- ${AFU9_TEST_WRAPPER:-} \
    "$afu9" serve --stdio --config "$tmp/gateway.json"
