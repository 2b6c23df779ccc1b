#!/bin/sh
# The R list below is split into words on purpose.
# shellcheck disable=SC2086,SC2317
# bench/wfbench.sh: the workflow engine's durable steps against plain rows.
#
# On a private PostgreSQL (scripts/localdb.sh in a temporary state
# directory, its default settings: fsync and synchronous_commit on):
#   1. the baseline, bench/wfbench rows: EXECS x STEPS steps as one
#      INSERT of a running workflow_steps row and one UPDATE of it to
#      succeeded, each its own transaction, from a C client (libpq
#      pipeline mode): one statement at a time on one connection, and
#      64 executions in flight on 1 and on 2 connections, 8 on 16;
#   2. the engine: `afu9 serve` (1 task, then 2 tasks on the same
#      database, each with t/conformance-server as child "conf"), EXECS
#      executions of a workflow of STEPS tool steps calling conf.add,
#      created in one statement with afu9_execution_create(); steps/s
#      from the committed rows (the last finished_at minus the first
#      started_at), as for the baseline;
#   3. the latency from creating an execution to its first step's
#      started_at, with the engine idle, 1 and 2 tasks: by
#      afu9_execution_create() (autocommit) and by POST
#      /v1/workflows/NAME/executions (AFU9_API_TOKEN set to a random one);
#   4. the claim: afu9_claim() timed in a transaction rolled back, with
#      10, 1,000, 10,000 and 100,000 pending executions (seeded with one
#      INSERT ... SELECT generate_series each), and its plan (auto_explain
#      of the statements inside the function).
# Rounds alternate 1 and 2; the table gives medians.  Every figure is a
# ratio against the baseline of the same run.
#
# Environment: BUILDDIR (default: the current directory), BENCH_QUICK=1
# for a short smoke run, WFBENCH_ROUNDS (3), WFBENCH_EXECS (1000),
# WFBENCH_STEPS (10), AFU9 (the afu9 binary run as serve; default the
# build's: another build's, to compare two in one run).  Needs the PostgreSQL 15 server binaries and psql.
# Exit status: 0 when every run ran (targets missed or not), 1 otherwise.
set -u

B=${BUILDDIR:-.}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROUNDS=1 EXECS=200 STEPS=5 LAT_K=20 CLAIM_R=20
	PENDING="10 1000 10000"
else
	ROUNDS=${WFBENCH_ROUNDS:-3} EXECS=${WFBENCH_EXECS:-1000}
	STEPS=${WFBENCH_STEPS:-10} LAT_K=100 CLAIM_R=50
	PENDING="10 1000 10000 100000"
fi

for p in bench/wfbench t/conformance-server orchestrator/afu9; do
	if [ ! -x "$B/$p" ]; then
		echo "wfbench: $B/$p not built (set BUILDDIR)" >&2
		exit 1
	fi
done
command -v psql > /dev/null || { echo "wfbench: psql not found" >&2; exit 1; }
B=$(cd "$B" && pwd)
AFU9=${AFU9:-$B/orchestrator/afu9}
# this tree's migrations, also for an AFU9 built elsewhere
AFU9_MIGRATIONS_DIR=${AFU9_MIGRATIONS_DIR:-$top/migrations}
export AFU9_MIGRATIONS_DIR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-wfbench.XXXXXX") || exit 1
# The database's directory must be reachable by its server's user.
chmod 755 "$tmp"
AFU9_STATE_DIR=$tmp/state
export AFU9_STATE_DIR
pids=
stop_serve() {
	for p in $pids; do
		kill -TERM "$p" 2> /dev/null
	done
	for p in $pids; do
		wait "$p" 2> /dev/null
	done
	pids=
}
cleanup() {
	stop_serve
	bash "$top/scripts/localdb.sh" stop > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=0
# shellcheck disable=SC2034
prog=wfbench
# shellcheck source=bench/benchlib.sh
. "$top/bench/benchlib.sh"

if ! DATABASE_URL=$(bash "$top/scripts/localdb.sh" start 2> "$tmp/localdb.log"); then
	cat "$tmp/localdb.log" >&2
	echo "wfbench: no PostgreSQL" >&2
	exit 1
fi
export DATABASE_URL
"$B/orchestrator/afu9" migrate up > /dev/null || exit 1

# sql TEXT: one statement through psql, its value(s) unaligned.
sql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "$1"
}

# A workflow of N tool steps calling conf.add: wfbench_N.
wf_def() {
	awk -v n="$1" 'BEGIN {
		printf "{\"name\": \"wfbench_%d\", \"steps\": [", n
		for (i = 0; i < n; i++)
			printf "%s{\"id\": \"s%d\", \"type\": \"tool\", " \
			    "\"tool\": \"conf.add\", \"arguments\": " \
			    "{\"a\": 1, \"b\": 2}}", i ? ", " : "", i
		printf "]}"
	}'
}
for n in 1 "$STEPS"; do
	sql "SELECT afu9_workflow_apply('wfbench_$n', NULL, NULL,
	    '$(wf_def "$n")')" > /dev/null || exit 1
done

printf '{"mcpServers": {"conf": {"command": "%s", "framing": "ndjson"}}, "afu9": {"http": {"listen": "127.0.0.1:0"}}}\n' \
    "$B/t/conformance-server" > "$tmp/gw.json"
mkdir "$tmp/workflows"		# no built-in workflows
# the API's token, for POST /v1/workflows/NAME/executions (environment only)
AFU9_API_TOKEN=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export AFU9_API_TOKEN

# start_serve N: N tasks of `afu9 serve` on the database; waits until
# each answers /ready and an execution has gone through.
start_serve() {
	i=1
	while [ "$i" -le "$1" ]; do
		AFU9_WORKFLOWS_DIR=$tmp/workflows "$AFU9" serve \
		    --config "$tmp/gw.json" < /dev/null > /dev/null \
		    2> "$tmp/serve.$i.log" &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=1
	while [ "$i" -le "$1" ]; do
		t=0 port=
		while [ -z "$port" ] && [ $t -lt 200 ]; do
			port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' \
			    "$tmp/serve.$i.log" | head -1)
			[ -z "$port" ] && sleep 0.1
			t=$((t + 1))
		done
		t=0
		until "$B/orchestrator/afu9" health \
		    "http://127.0.0.1:$port/ready" > /dev/null 2>&1; do
			t=$((t + 1))
			if [ -z "$port" ] || [ $t -ge 200 ]; then
				cat "$tmp/serve.$i.log" >&2
				echo "wfbench: afu9 serve $i is not ready" >&2
				return 1
			fi
			sleep 0.1
		done
		i=$((i + 1))
	done
	# the claims start once the servers are settled: one execution
	"$B/bench/wfbench" latency -k 1 --workflow wfbench_1 > /dev/null
}

# CPU time, in clock ticks: pg_ticks of PostgreSQL (the postmaster, its
# live children and those it reaped: once as many are left as pg_procs,
# set at the start of a run), ticks PID... of processes.
HZ=$(getconf CLK_TCK)
pm=$(head -1 "$AFU9_STATE_DIR/pg/data/postmaster.pid")
pg_ticks() {
	# a backend that ended is counted once the postmaster reaped it
	t=0
	while [ "$(pgrep -P "$pm" | wc -l)" -gt "$pg_procs" ] && [ $t -lt 50 ]; do
		sleep 0.05
		t=$((t + 1))
	done
	{
		awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
		for c in $(pgrep -P "$pm"); do
			awk '{ print $14 + $15 }' "/proc/$c/stat" 2> /dev/null
		done
	} | awk '{ s += $1 } END { print s + 0 }'
}
ticks() {
	for p in "$@"; do
		awk '{ print $14 + $15 }' "/proc/$p/stat" 2> /dev/null
	done | awk '{ s += $1 } END { print s + 0 }'
}
# put NAME KEY TICKS: TICKS over the run's steps, as KEY (us a step).
put() {
	awk -v t="$3" -v hz="$HZ" -v n=$((EXECS * STEPS)) -v k="$2" \
	    'BEGIN { printf " \"%s\": %.1f\n", k, t / hz / n * 1e6 }' \
	    >> "$tmp/$1"
}

# wal_syncs: WAL flushes to disk so far (pg_stat_wal); put_syncs NAME N0:
# those since N0 per step, as wal_syncs_per_step.
wal_syncs() {
	sql "SELECT wal_sync FROM pg_stat_wal"
}
put_syncs() {
	awk -v a="$2" -v b="$(wal_syncs)" -v n=$((EXECS * STEPS)) \
	    'BEGIN { printf " \"wal_syncs_per_step\": %.2f\n", (b - a) / n }' \
	    >> "$tmp/$1"
}

# rows NAME ARGS...: bench/wfbench rows ARGS, with PostgreSQL's CPU.
rows() {
	name=$1
	shift
	pg_procs=$(pgrep -P "$pm" | wc -l)
	w0=$(wal_syncs)
	c0=$(pg_ticks)
	run "$name" "$B/bench/wfbench" rows "$@" -e $EXECS -n $STEPS
	[ -f "$tmp/$name" ] || return
	put "$name" pg_us_per_step $(($(pg_ticks) - c0))
	put_syncs "$name" "$w0"
}

# engine NAME: EXECS executions of wfbench_STEPS created at once; waits
# until all ended; their steps/s from the rows as flat JSON in $tmp/NAME,
# with the CPU of PostgreSQL and of afu9 and its children per step.
engine() {
	tag="wfbench-$1"
	kids=$(for p in $pids; do pgrep -P "$p"; done)
	pg_procs=$(pgrep -P "$pm" | wc -l)
	w0=$(wal_syncs)
	c0=$(pg_ticks) a0=$(ticks $pids) k0=$(ticks $kids)
	echo "+ SELECT afu9_execution_create(wfbench_$STEPS, ...) x $EXECS  ($1)"
	sql "SELECT count(*) FROM (SELECT (afu9_execution_create(w.id, '{}',
	    NULL, '$tag')).id FROM workflows w, generate_series(1, $EXECS)
	    WHERE w.name = 'wfbench_$STEPS') c" > /dev/null || return 1
	run "$1" "$B/bench/wfbench" wait --tag "$tag"
	[ -f "$tmp/$1" ] || return 1
	put "$1" pg_us_per_step $(($(pg_ticks) - c0))
	put "$1" afu9_us_per_step $(($(ticks $pids) - a0))
	put "$1" child_us_per_step $(($(ticks $kids) - k0))
	put_syncs "$1" "$w0"
	if [ "$(get "$1" failed)" != 0 ] ||
	    [ "$(get "$1" rows)" != $((EXECS * STEPS)) ]; then
		echo "wfbench: $1: not every step succeeded:" >&2
		cat "$tmp/$1" >&2
		rm -f "$tmp/$1"
		return 1
	fi
}

echo "== machine"
echo "cpus: $(nproc), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "PostgreSQL: $(sql 'SHOW server_version'), fsync $(sql 'SHOW fsync'), synchronous_commit $(sql 'SHOW synchronous_commit')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== runs ($ROUNDS rounds; DATABASE_URL: the private PostgreSQL)"
r=1
while [ $r -le "$ROUNDS" ]; do
	rows "rows_seq.$r" -c 1 -w 1
	rows "rows_c1.$r" -c 1 -w 64
	rows "rows_c2.$r" -c 2 -w 64
	rows "rows_c16.$r" -c 16 -w 8
	for n in 1 2; do
		echo "+ afu9 serve --config X  (x $n, child conf = t/conformance-server)"
		if start_serve $n; then
			engine "eng$n.$r" || failed=1
			run "lat$n.$r" "$B/bench/wfbench" latency -k $LAT_K \
			    --workflow wfbench_1
			run "post$n.$r" "$B/bench/wfbench" latency -k $LAT_K \
			    --workflow wfbench_1 --post "127.0.0.1:$port"
		else
			failed=1
		fi
		stop_serve
	done
	r=$((r + 1))
done

echo "+ the claim: INSERT ... SELECT generate_series of pending executions, then:"
have=0
for p in $PENDING; do
	sql "INSERT INTO workflow_executions (workflow_id, triggered_by)
	    SELECT (SELECT id FROM workflows WHERE name = 'wfbench_1'),
	    'wfbench-pending' FROM generate_series(1, $((p - have)));
	    ANALYZE workflow_executions" > /dev/null || failed=1
	have=$p
	run "claim64.$p" "$B/bench/wfbench" claim -r $CLAIM_R -l 64
	run "claim1.$p" "$B/bench/wfbench" claim -r $CLAIM_R -l 1
done
# The plan of the due claim inside afu9_claim(), at the largest count.
psql -X -q -d "$DATABASE_URL" > /dev/null 2> "$tmp/explain" <<'EOF'
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_nested_statements = on;
SET auto_explain.log_analyze = on;
SET auto_explain.log_timing = off;
SET auto_explain.log_level = notice;
BEGIN;
SELECT count(*) FROM afu9_claim('wfbench', 10000, 64);
ROLLBACK;
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# each NAME KEY: KEY of every round of NAME, one a line.
each() {
	r=1
	while [ $r -le "$ROUNDS" ]; do
		get "$1.$r" "$2"
		r=$((r + 1))
	done
}

# med NAME KEY: the median of KEY over NAME's rounds.
med() {
	each "$1" "$2" | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

# rounds NAME KEY [DECIMALS]: every round's KEY, comma-separated.
rounds() {
	each "$1" "$2" | awk -v d="${3:-0}" '{
	    printf "%s" "%." d "f", (NR > 1 ? ", " : ""), $1 }'
}

echo
echo "== durable steps/s ($EXECS executions x $STEPS steps; medians of $ROUNDS)"
printf '%-40s %8s %7s %6s %6s %6s  %s\n' "" "steps/s" "/ bound" "pg us" \
    "afu9" "syncs" "steps/s of each round"
# the bound: the fastest pipelined rows run (medians)
bound=$(for k in rows_c1 rows_c2 rows_c16; do med $k steps_per_s; done |
    sort -g | tail -1)
for k in rows_seq:"rows, 1 connection, 1 in flight" \
    rows_c1:"rows, 1 connection, 64 in flight" \
    rows_c2:"rows, 2 connections, 64 in flight each" \
    rows_c16:"rows, 16 connections, 8 in flight each" \
    eng1:"afu9 serve, 1 task" eng2:"afu9 serve, 2 tasks"; do
	v=$(med "${k%%:*}" steps_per_s)
	printf '%-40s %8s %7s %6s %6s %6s  %s\n' "${k#*:}" "$(fmt "$v" 0)" \
	    "$(fmt "$(ratio "$v" "$bound")" 2)" \
	    "$(fmt "$(med "${k%%:*}" pg_us_per_step)" 0)" \
	    "$(fmt "$(med "${k%%:*}" afu9_us_per_step)" 0)" \
	    "$(fmt "$(med "${k%%:*}" wal_syncs_per_step)" 2)" \
	    "$(rounds "${k%%:*}" steps_per_s)"
done
echo "(bound: the fastest pipelined rows run, $(fmt "$bound" 0) steps/s; pg us: CPU"
echo " of every PostgreSQL process a step; afu9: of afu9 serve, its child:"
echo " $(fmt "$(med eng1 child_us_per_step)" 0) and $(fmt "$(med eng2 child_us_per_step)" 0) us more; syncs: WAL flushes a step)"
echo
echo "== first step after afu9_execution_create (ms; medians of $ROUNDS)"
printf '%-26s %9s %9s %10s %10s   %s\n' "" "send p50" "send p99" \
    "answer p50" "answer p99" "send p50 rounds"
for n in 1 2; do
	printf '%-26s %9s %9s %10s %10s   %s\n' "$n task(s), $LAT_K executions" \
	    "$(fmt "$(med lat$n send_p50_ms)" 2)" \
	    "$(fmt "$(med lat$n send_p99_ms)" 2)" \
	    "$(fmt "$(med lat$n answer_p50_ms)" 2)" \
	    "$(fmt "$(med lat$n answer_p99_ms)" 2)" \
	    "$(rounds lat$n send_p50_ms 2)"
done
for n in 1 2; do
	printf '%-26s %9s %9s %10s %10s   %s\n' "POST, $n task(s)" \
	    "$(fmt "$(med post$n send_p50_ms)" 2)" \
	    "$(fmt "$(med post$n send_p99_ms)" 2)" \
	    "$(fmt "$(med post$n answer_p50_ms)" 2)" \
	    "$(fmt "$(med post$n answer_p99_ms)" 2)" \
	    "$(rounds post$n send_p50_ms 2)"
done
echo "(send: from just before the statement, or the POST's connect, was sent;"
echo " answer: from its answer; POST: /v1/workflows/wfbench_1/executions, the"
echo " last task's HTTP API, a new connection each)"
echo
echo "== afu9_claim() with pending executions (ms, $CLAIM_R claims rolled back)"
printf '%-12s %12s %12s %12s %12s\n' "pending" "64: p50" "64: p99" "1: p50" \
    "1: p99"
for p in $PENDING; do
	printf '%-12s %12s %12s %12s %12s\n' "$p" \
	    "$(fmt "$(get claim64.$p claim_p50_ms)" 3)" \
	    "$(fmt "$(get claim64.$p claim_p99_ms)" 3)" \
	    "$(fmt "$(get claim1.$p claim_p50_ms)" 3)" \
	    "$(fmt "$(get claim1.$p claim_p99_ms)" 3)"
done
echo "plan of the due claim at $have pending (auto_explain inside afu9_claim()):"
awk '/^NOTICE:/ { if (keep) printf "%s", blk; blk = ""; keep = 0; next }
    /run_after <= now\(\)/ { keep = 1 }
    /cost=|Cond:|Filter:|^ *CTE / { blk = blk "  " $0 "\n" }
    END { if (keep) printf "%s", blk }' "$tmp/explain"
grep -q workflow_executions_due_idx "$tmp/explain" ||
    echo "  (the plan does not name workflow_executions_due_idx)"

first=${PENDING%% *}
echo
echo "== targets"
for n in 1 2; do
	check "steps/s, $n task(s) / bound" \
	    "$(ratio "$(med eng$n steps_per_s)" "$bound")" ">=" 0.5 "(x)"
	check "steps/s, $n task(s)" "$(med eng$n steps_per_s)" ">=" 500 ""
	check "first step p50 ms, $n task(s)" "$(med post$n send_p50_ms)" \
	    "<=" 5 "(from the POST)"
done
check "claim of 1: $have pending / $first pending" \
    "$(ratio "$(get claim1.$have claim_p50_ms)" \
    "$(get claim1.$first claim_p50_ms)")" "<=" 1.5 "(p50 ratio)"
check "claim of 64: $have pending / 1000 pending" \
    "$(ratio "$(get claim64.$have claim_p50_ms)" \
    "$(get claim64.1000 claim_p50_ms)")" "<=" 1.5 "(p50 ratio)"
exit $failed
