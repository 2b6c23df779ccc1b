#!/bin/sh
# The *_ARGS list below is split into words on purpose.
# shellcheck disable=SC2086
# bench/auditbench.sh: what auditing costs a gateway call.
#
# bench/mcpbench sends sequential tools/call conf.echo through
# `afu9 serve --stdio` (child: t/conformance-server), once without
# DATABASE_URL (audit off) and once with a private PostgreSQL
# (scripts/localdb.sh in a temporary state directory; audit on: one
# mcp_tool_calls row per call), alternating ROUNDS times.  Prints the
# commands, both runs' figures, the on/off ratios of the median call
# time, mean call time and afu9's CPU per call, and the row count.
#
# Environment: BUILDDIR (default: the current directory), BENCH_QUICK=1
# for a short run.  Exit status: 0 when every run ran, 1 otherwise.
set -u

B=${BUILDDIR:-.}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	N=1000 ROUNDS=1
else
	N=5000 ROUNDS=${AUDITBENCH_ROUNDS:-3}
fi
ARGS="--json -s 0 -m 0 -n $N --warmup 200 --tool conf.echo"
ECHO='{"text":"hi"}'

for p in bench/mcpbench t/conformance-server orchestrator/afu9; do
	if [ ! -x "$B/$p" ]; then
		echo "auditbench: $B/$p not built (set BUILDDIR)" >&2
		exit 1
	fi
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-auditbench.XXXXXX") || exit 1
# The database's directory must be reachable by its server's user.
chmod 755 "$tmp"
AFU9_STATE_DIR=$tmp/state
export AFU9_STATE_DIR
cleanup() {
	bash "$top/scripts/localdb.sh" stop > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! url=$(bash "$top/scripts/localdb.sh" start 2> "$tmp/localdb.log"); then
	cat "$tmp/localdb.log" >&2
	echo "auditbench: no PostgreSQL" >&2
	exit 1
fi
printf '{"mcpServers": {"conf": {"command": "%s", "framing": "ndjson"}}}\n' \
    "$(cd "$B" && pwd)/t/conformance-server" > "$tmp/gw.json"
AFU9_LOG_LEVEL=warn
export AFU9_LOG_LEVEL
# AUDITBENCH_SPLIT=1: the database gets core 1 and the call chain
# (mcpbench, afu9, its child) core 0, in both modes.  In production the
# database is another host (RDS); on a 2-core box this is the closest
# model of that: the chain's figures then show afu9's own audit cost, not
# PostgreSQL's inserts taking the chain's core.
PIN=""
if [ "${AUDITBENCH_SPLIT:-0}" = 1 ]; then
	command -v taskset > /dev/null || { echo "auditbench: AUDITBENCH_SPLIT needs taskset" >&2; exit 1; }
	# the postmaster and its children; backends forked later inherit it
	for main in $(pgrep -f -- "-D $AFU9_STATE_DIR/pg" || true); do
		for pid in $main $(pgrep -P "$main" || true); do
			taskset -a -p -c 1 "$pid" > /dev/null || exit 1
		done
	done
	PIN="taskset -c 0"
fi
# Migrate once, outside the timed runs.
DATABASE_URL=$url "$B/orchestrator/afu9" migrate up > /dev/null || exit 1

echo "+ bench/mcpbench $ARGS --args '$ECHO' -- orchestrator/afu9 serve --stdio --config X"
echo "  (off: DATABASE_URL unset; on: DATABASE_URL=<private PostgreSQL, unix socket>)"
[ -n "$PIN" ] && echo "  split: the chain runs under '$PIN', PostgreSQL on core 1"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
failed=0
i=1
while [ $i -le $ROUNDS ]; do
	for mode in off on; do
		if [ $mode = on ]; then
			DATABASE_URL=$url
			export DATABASE_URL
		else
			unset DATABASE_URL
		fi
		if ! $PIN "$B/bench/mcpbench" $ARGS --args "$ECHO" -- \
		    "$B/orchestrator/afu9" serve --stdio --config "$tmp/gw.json" \
		    > "$tmp/$mode.$i"; then
			echo "auditbench: run $mode.$i failed" >&2
			failed=1
		fi
	done
	i=$((i + 1))
done
unset DATABASE_URL
echo "  load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# med MODE KEY: the median of KEY over MODE's rounds.
med() {
	for f in "$tmp/$1".*; do
		sed -n "s/^ *\"$2\": *\\([-0-9.e+]*\\),\\{0,1\\}\$/\\1/p" "$f"
	done | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

printf '\n%-34s %10s %10s %8s\n' "sequential conf.echo ($N x $ROUNDS)" off on on/off
for k in call_p50_us call_mean_us call_p99_us call_srv_cpu_us; do
	off=$(med off $k)
	on=$(med on $k)
	printf '%-34s %10s %10s %8s\n' "$k" "$off" "$on" \
	    "$(awk -v a="$off" -v b="$on" 'BEGIN { if (a > 0) printf "%.3f", b / a }')"
done
off=$(med off call_mean_us)
on=$(med on call_mean_us)
awk -v a="$off" -v b="$on" 'BEGIN {
	printf "%-34s %10.0f %10.0f %8.3f\n", "calls/s (1e6 / mean)", 1e6 / a,
	    1e6 / b, a / b }'
rows=$(psql -X -A -t -d "$url" -c 'SELECT count(*) FROM mcp_tool_calls' \
    2> /dev/null) || rows="(psql not available)"
echo "audit rows written: $rows of $(( (N + 200) * ROUNDS )) calls (mcpbench kills afu9 3 s after EOF; rows still queued then are lost)"
exit $failed
