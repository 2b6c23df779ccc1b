#!/bin/sh
# The official MCP TypeScript SDK's StreamableHTTPClientTransport against
# afu9's own /mcp (t/interop/http-client.mjs): two `afu9 serve` tasks on
# one throwaway PostgreSQL (t/pgrun), t/conformance-server as their
# child, and a token of scope run made with `afu9 token create`.  TAP on
# stdout, one line per check.
#
# Environment: AFU9_SRCDIR, AFU9_BUILDDIR, NODE (from make check);
# AFU9_TEST_WRAPPER (e.g. valgrind) prefixes afu9;
# AFU9_REQUIRE_NODE_TESTS=1 turns a missing node_modules into a failure.

set -u

srcdir=${AFU9_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${AFU9_BUILDDIR:-$srcdir}
tl_name=sdk-http
# shellcheck source=t/interop/afu9-task.sh
. "$srcdir/t/interop/afu9-task.sh"

if [ ! -d "$mods/@modelcontextprotocol/sdk" ]; then
	unavailable "node modules not installed (scripts/node-deps.sh)"
fi
tl_setup
trap tl_cleanup EXIT
trap 'exit 1' HUP INT TERM

tl_pg_start sdkhttp
tl_config
export DATABASE_URL="$conninfo" AFU9_ENGINE=0 AFU9_METRICS=open
unset AFU9_API_TOKEN

tl_start a
a_pid=$task_pid
a_port=$task_port
# the first task migrated the database: the token goes into it
token=$("$afu9" token create --name sdk-http --scope run 2>"$work/token.err") ||
	bail "afu9 token create failed: $(cat "$work/token.err")"
tl_start b
b_pid=$task_pid
b_port=$task_port

AFU9_MCP_TOKEN=$token "$node" "$tdir/interop/http-client.mjs" \
    "http://127.0.0.1:$a_port/mcp" "http://127.0.0.1:$b_port/mcp"
status=$?

tl_stop a "$a_pid" || status=1
tl_stop b "$b_pid" || status=1
if grep -q "$token" "$work/a.log" "$work/b.log"; then
	echo "not ok - the token appears in a log"
	status=1
fi
[ -n "${tl_failed:-}" ] && echo "$tl_failed"
[ "$status" = 0 ] && keep_logs=0
exit "$status"
