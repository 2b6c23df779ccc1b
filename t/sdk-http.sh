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
tdir=$srcdir/t
mods=$tdir/node_modules
afu9=$builddir/orchestrator/afu9

unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "sdk-http.sh: $1" >&2
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

bail() {
	echo "Bail out! $1"
	exit 1
}

if [ ! -d "$mods/@modelcontextprotocol/sdk" ]; then
	unavailable "node modules not installed (scripts/node-deps.sh)"
fi
# shellcheck source=t/interop/pick-node.sh
. "$tdir/interop/pick-node.sh"
[ -n "$node" ] || unavailable "no usable node (need 20 or later)"
for f in orchestrator/afu9 t/conformance-server t/pgrun; do
	[ -x "$builddir/$f" ] || bail "$builddir/$f not built"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/afu9-sdk-http.XXXXXX") || bail "mktemp failed"
pg_pid=
a_pid=
b_pid=

# shellcheck disable=SC2317  # called through the trap
cleanup() {
	[ -n "$a_pid" ] && kill -KILL "$a_pid" 2>/dev/null
	[ -n "$b_pid" ] && kill -KILL "$b_pid" 2>/dev/null
	if [ -n "$pg_pid" ]; then
		exec 8>&-	# EOF on pgrun's stdin stops the database
		wait "$pg_pid" 2>/dev/null
	fi
	if [ "${keep_logs:-1}" = 1 ]; then
		for t in a b; do
			[ -s "$work/$t.log" ] || continue
			echo "--- afu9 $t stderr ---" >&2
			tail -n 100 "$work/$t.log" >&2
		done
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

mkfifo "$work/pgin" "$work/pgout" || bail "mkfifo failed"
"$builddir/t/pgrun" sdkhttp <"$work/pgin" >"$work/pgout" 2>"$work/pg.log" &
pg_pid=$!
exec 8>"$work/pgin"
conninfo=
read -r conninfo <"$work/pgout"
case $conninfo in
host=*) ;;
*) bail "pgrun did not start: $(tail -n 5 "$work/pg.log")" ;;
esac

cat >"$work/afu9.json" <<JSON
{"mcpServers": {"conf": {"command": "$builddir/t/conformance-server"}},
 "afu9": {"http": {"listen": "127.0.0.1:0"}, "shutdownGraceMs": 3000}}
JSON
export DATABASE_URL="$conninfo" AFU9_ENGINE=0 AFU9_METRICS=open
unset AFU9_API_TOKEN

# start_task NAME: afu9 serve in the background, its pid in $task_pid and
# its port in $task_port once its child is ready.
start_task() {
	# shellcheck disable=SC2086  # the wrapper is a command line, split on purpose
	${AFU9_TEST_WRAPPER:-} "$afu9" serve --config "$work/afu9.json" \
	    2>"$work/$1.log" &
	task_pid=$!
	task_port=
	i=0
	while [ "$i" -lt 900 ]; do
		if grep -q '"mcp: remote MCP is on' "$work/$1.log" 2>/dev/null &&
		    grep -q '"mcp: connected' "$work/$1.log" 2>/dev/null &&
		    grep -q '"ready: 16 tool' "$work/$1.log" 2>/dev/null; then
			task_port=$(sed -n 's/.*"http: listening on [^"]*(port \([0-9]*\)).*/\1/p' \
			    "$work/$1.log" | head -n 1)
			break
		fi
		kill -0 "$task_pid" 2>/dev/null || bail "afu9 serve ($1) exited"
		sleep 0.1
		i=$((i + 1))
	done
	[ -n "$task_port" ] || bail "afu9 serve ($1) did not come up"
}

start_task a
a_pid=$task_pid
a_port=$task_port
# the first task migrated the database: the token goes into it
token=$("$afu9" token create --name sdk-http --scope run 2>"$work/token.err") ||
	bail "afu9 token create failed: $(cat "$work/token.err")"
start_task b
b_pid=$task_pid
b_port=$task_port

AFU9_MCP_TOKEN=$token "$node" "$tdir/interop/http-client.mjs" \
    "http://127.0.0.1:$a_port/mcp" "http://127.0.0.1:$b_port/mcp"
status=$?

for t in a b; do
	eval "pid=\$${t}_pid"
	kill -TERM "$pid"
	wait "$pid"
	st=$?
	eval "${t}_pid="
	if [ "$st" != 0 ]; then
		echo "not ok - afu9 serve ($t) exited with status $st after SIGTERM"
		status=1
	fi
done
if grep -q "$token" "$work/a.log" "$work/b.log"; then
	echo "not ok - the token appears in a log"
	status=1
fi
[ "$status" = 0 ] && keep_logs=0
exit "$status"
