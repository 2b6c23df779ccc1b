#!/bin/sh
# bench/agentbench.sh: the agent loop's overhead per turn against its parts
# measured alone in the same run (bench/agentbench.c says how).
#
# bench/agentbench runs an instant scripted provider (a child answering
# every request at once with a canned stream) and two t/conformance-server
# children behind a real router, 20 tools offered; it measures, in one
# process: HTTP round trips alone (httpc, a first turn's body), tool calls
# alone (router_call of conf.echo), agent runs of AGENTBENCH_TURNS turns
# (AGENTBENCH_RUNS of them, RSS read after every tenth), and one run of
# AGENTBENCH_LONG turns, timed turn by turn.  Rounds (AGENTBENCH_ROUNDS, 3)
# each run all of it; the table gives each round and the median of the
# loop's overhead per turn (the agent's turn less a request and its share
# of tool calls), also over the last tenth of the long run's turns (its
# CPU time: the wall time there holds the scripted provider's own reading
# of a conversation of ~1,000 turns), with the targets: under 1 ms a turn,
# at turn 10 and at turn 1,000, RSS flat over 1,000 turns.
#
# Environment: BUILDDIR (default: the current directory), BENCH_QUICK=1
# for a short smoke run, AGENTBENCH_ROUNDS, AGENTBENCH_RUNS (100),
# AGENTBENCH_TURNS (10), AGENTBENCH_LONG (1000).
# Exit status: 0 when every round ran (targets missed or not), 1 otherwise.
set -u

B=${BUILDDIR:-.}
prog=agentbench
failed=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-agentbench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
. "$(cd "$(dirname "$0")" && pwd)/benchlib.sh"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROUNDS=1 RUNS=20 TURNS=10 LONG=200 BASE=200
else
	ROUNDS=${AGENTBENCH_ROUNDS:-3} RUNS=${AGENTBENCH_RUNS:-100}
	TURNS=${AGENTBENCH_TURNS:-10} LONG=${AGENTBENCH_LONG:-1000} BASE=1000
fi
for p in bench/agentbench t/conformance-server; do
	if [ ! -x "$B/$p" ]; then
		echo "agentbench: $B/$p not built (set BUILDDIR)" >&2
		exit 1
	fi
done
B=$(cd "$B" && pwd)

r=1
while [ $r -le "$ROUNDS" ]; do
	run "round$r" "$B/bench/agentbench" --server "$B/t/conformance-server" \
	    --runs "$RUNS" --turns "$TURNS" --long "$LONG" --baseline "$BASE" \
	    --json
	r=$((r + 1))
done

echo
printf '%-6s %9s %9s %9s %9s %9s %9s %10s %9s %9s %9s\n' round http_us \
    tool_us turn_us over_us over_cpu ratio long_us late_us late_cpu rss_kib
r=1
overs=
lates=
while [ $r -le "$ROUNDS" ]; do
	n=round$r
	h=$(get $n http_wall_us) t=$(get $n tool_wall_us)
	tu=$(get $n turn_wall_us) o=$(get $n overhead_wall_us)
	oc=$(get $n overhead_cpu_us) l=$(get $n long_turn_wall_us)
	lw=$(get $n late_turn_wall_us) lc=$(get $n late_overhead_cpu_us)
	g=$(awk -v a="$(get $n rss_last_kib)" -v b="$(get $n rss_first_kib)" \
	    'BEGIN { if (a != "" && b != "") print a - b }')
	printf '%-6s %9s %9s %9s %9s %9s %9s %10s %9s %9s %9s\n' $r \
	    "$(fmt "$h")" "$(fmt "$t")" "$(fmt "$tu")" "$(fmt "$o")" \
	    "$(fmt "$oc")" "$(fmt "$(ratio "$tu" "$h")" 2)" "$(fmt "$l")" \
	    "$(fmt "$lw")" "$(fmt "$lc")" "${g:--}"
	overs="$overs $o"
	lates="$lates ${lc:-}"
	r=$((r + 1))
done
med=$(printf '%s\n' $overs | sort -n | awk '{ v[NR] = $1 }
    END { if (NR) print v[int((NR + 1) / 2)] }')
lmed=$(printf '%s\n' $lates | sort -n | awk '{ v[NR] = $1 }
    END { if (NR) print v[int((NR + 1) / 2)] }')
g=$(awk -v a="$(get round1 rss_last_kib)" -v b="$(get round1 rss_first_kib)" \
    'BEGIN { if (a != "" && b != "") print a - b }')
echo
echo "ratio: an agent turn over an HTTP round trip alone; over_us: the loop's"
echo "own time per turn (turn - request - $(awk -v t="$TURNS" 'BEGIN {
    printf "%.2f", (t - 1) / t }') tool calls); rss_kib: RSS growth from the"
echo "first tenth of the runs to the last ($((RUNS * TURNS)) turns); long_us:"
echo "a turn of the $LONG-turn run, late_us: of its last tenth, late_cpu: this"
echo "process's CPU time in those turns less a request's and a tool call's"
check "loop overhead per turn, 20 tools (us, median)" "$med" "<" 1000 \
    "wall time"
check "loop overhead, turns $((LONG * 9 / 10))-$LONG (CPU us, median)" \
    "$lmed" "<" 1000 "the request serialises only the new messages"
check "RSS growth over $((RUNS * TURNS)) turns (KiB, round 1)" "$g" "<" 1024 \
    "flat: nothing kept from run to run"
exit $failed
