# shellcheck shell=sh disable=SC2034,SC2154  # variables to and from the caller
# Sourced by the shell tests that run `afu9 serve` on a throwaway
# PostgreSQL (t/sdk-http.sh, t/conformance-mcp.sh): skipping or bailing
# in TAP, the database, the configuration, starting and stopping tasks.
#
# The caller sets tl_name (its name, for messages), srcdir and builddir,
# then calls tl_setup, which sets tdir, mods and afu9, makes $work and
# starts nothing.  Its EXIT trap calls tl_cleanup, which kills what is
# still running, stops the database and, unless keep_logs=0, prints the
# tails of the logs named in $tl_logs.

tdir=$srcdir/t
mods=$tdir/node_modules
afu9=$builddir/orchestrator/afu9
pg_pid=
tl_pids=
tl_logs=

# unavailable WHY: skip (TAP), or fail when AFU9_REQUIRE_NODE_TESTS=1.
unavailable() {
	if [ "${AFU9_REQUIRE_NODE_TESTS:-0}" = 1 ]; then
		echo "Bail out! $1"
		echo "$tl_name: $1" >&2
		exit 1
	fi
	echo "1..0 # SKIP $1"
	exit 0
}

bail() {
	echo "Bail out! $1"
	exit 1
}

# tl_setup: node picked ($node), the binaries there, $work made.
tl_setup() {
	# shellcheck source=t/interop/pick-node.sh
	. "$tdir/interop/pick-node.sh"
	[ -n "$node" ] || unavailable "no usable node (need 20 or later)"
	for f in orchestrator/afu9 t/conformance-server t/pgrun; do
		[ -x "$builddir/$f" ] || bail "$builddir/$f not built"
	done
	work=$(mktemp -d "${TMPDIR:-/tmp}/afu9-$tl_name.XXXXXX") ||
		bail "mktemp failed"
}

# shellcheck disable=SC2317  # called through the caller's trap
tl_cleanup() {
	for p in $tl_pids; do
		kill -KILL "$p" 2>/dev/null
	done
	if [ -n "$pg_pid" ]; then
		exec 8>&-	# EOF on pgrun's stdin stops the database
		wait "$pg_pid" 2>/dev/null
	fi
	if [ "${keep_logs:-1}" = 1 ]; then
		for l in $tl_logs; do
			[ -s "$work/$l.log" ] || continue
			echo "--- $l stderr ---" >&2
			tail -n 150 "$work/$l.log" >&2
		done
	fi
	rm -rf "$work"
}

# tl_pg_start DB: t/pgrun's database, its conninfo in $conninfo; it
# lives while fd 8 is open.
tl_pg_start() {
	mkfifo "$work/pgin" "$work/pgout" || bail "mkfifo failed"
	"$builddir/t/pgrun" "$1" <"$work/pgin" >"$work/pgout" \
	    2>"$work/pg.log" &
	pg_pid=$!
	exec 8>"$work/pgin"
	conninfo=
	read -r conninfo <"$work/pgout"
	case $conninfo in
	host=*) ;;
	*) bail "pgrun did not start: $(tail -n 5 "$work/pg.log")" ;;
	esac
}

# tl_config: $work/afu9.json, t/conformance-server as the one server
# "conf", HTTP on a free loopback port.
tl_config() {
	cat >"$work/afu9.json" <<JSON
{"mcpServers": {"conf": {"command": "$builddir/t/conformance-server"}},
 "afu9": {"http": {"listen": "127.0.0.1:0"}, "shutdownGraceMs": 3000}}
JSON
}

# tl_start NAME: afu9 serve (the environment as exported) in the
# background, stderr in $work/NAME.log; its pid in $task_pid and its port
# in $task_port once /mcp is on and its child ready.
tl_start() {
	# shellcheck disable=SC2086  # the wrapper is a command line, split on purpose
	${AFU9_TEST_WRAPPER:-} "$afu9" serve --config "$work/afu9.json" \
	    2>"$work/$1.log" &
	task_pid=$!
	tl_pids="$tl_pids $task_pid"
	tl_logs="$tl_logs $1"
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

# tl_stop NAME PID: SIGTERM, then wait; 0 when it exited with 0, else 1
# and "not ok - ..." in $tl_failed (for the caller to print where its TAP
# allows).
tl_stop() {
	kill -TERM "$2"
	wait "$2"
	st=$?
	tl_pids=$(echo "$tl_pids" | sed "s/ $2\$//; s/ $2 / /")
	[ "$st" = 0 ] && return 0
	tl_failed="${tl_failed:+$tl_failed
}not ok - afu9 serve ($1) exited with status $st after SIGTERM"
	return 1
}
