#!/bin/sh
# The *_ARGS lists below are split into words on purpose.
# shellcheck disable=SC2086
# bench/run.sh: the afu9 benchmarks in one run (`make bench` calls it).
#
# Runs, in this order and on this machine:
#   1. bench/pipebench: raw pipe echo between two processes (the limit);
#   2. bench/mcpbench on t/conformance-server, NDJSON and Content-Length;
#   3. bench/mcpbench on the reference server, the official TypeScript
#      @modelcontextprotocol/server-everything (stdio, NDJSON), from
#      t/node_modules (cd t && npm ci);
#   4. bench/ghbench: getIssue through afu9-github against its own fixture
#      HTTP server, beside raw HTTP and MCP ping (its own baselines);
# then prints a table and the ratios against the targets; and last
#   5. bench/orchbench.sh: the orchestrator (gateway overhead against a
#      direct connection, GET /health under wrk), with its own table;
#   6. bench/wfbench.sh: the workflow engine's durable steps against the
#      same work as plain rows, on a private PostgreSQL (skipped without
#      the PostgreSQL server binaries).
#   7. bench/webhookbench.sh: signed webhook deliveries against
#      afu9 serve on a private PostgreSQL, their answer beside GET /health
#      (skipped likewise).
# Builds nothing: the programs come from $BUILDDIR (default: the current
# directory).
#
# Environment: BUILDDIR, NODE (default: node on PATH), REF_SERVER (path of
# server-everything's dist/index.js), BENCH_QUICK=1 for a short smoke run.
# Exit status: 0 when every benchmark ran (targets missed or not), 1 when
# one failed to run.
set -u

srcdir=$(cd "$(dirname "$0")/.." && pwd)
B=${BUILDDIR:-.}
NODE=${NODE:-node}
REF=${REF_SERVER:-$srcdir/t/node_modules/@modelcontextprotocol/server-everything/dist/index.js}

# Sample sizes.  The reference server is ~100x slower per message, so it
# gets fewer messages; every figure is a rate, a median or a percentile,
# so the counts only set the precision.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	PIPE_ARGS="-s 5 -n 2000 -m 20000 -r 1"
	C_ARGS="-s 5 -n 500 -m 20000 -r 1 --warmup 100"
	REF_ARGS="-s 2 -n 200 -m 2000 -r 1 --warmup 200"
	GH_ARGS="-n 500 -w 16"
else
	PIPE_ARGS="-s 50 -n 20000 -m 200000 -r 5"
	C_ARGS="-s 50 -n 5000 -m 200000 -r 5 --warmup 500"
	REF_ARGS="-s 10 -n 2000 -m 20000 -r 3 --warmup 2000"
	GH_ARGS="-n 20000 -w 16"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-bench.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
prog=bench
# shellcheck source=bench/benchlib.sh
. "$srcdir/bench/benchlib.sh"

for p in bench/pipebench bench/mcpbench t/conformance-server; do
	if [ ! -x "$B/$p" ]; then
		echo "bench: $B/$p not built (run make in the build directory," \
		    "or set BUILDDIR)" >&2
		exit 1
	fi
done

echo "== machine"
echo "cpus: $(nproc), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "kernel: $(uname -sr); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== runs"
run pipe "$B/bench/pipebench" --json $PIPE_ARGS
run c_nd "$B/bench/mcpbench" --json --framing ndjson $C_ARGS \
    --tool echo --args '{"text":"hi"}' -- "$B/t/conformance-server"
run c_cl "$B/bench/mcpbench" --json --framing cl $C_ARGS \
    --tool echo --args '{"text":"hi"}' -- "$B/t/conformance-server"
have_ref=0
if ! command -v "$NODE" > /dev/null 2>&1; then
	echo "bench: node not found; the reference server is skipped" >&2
elif [ ! -f "$REF" ]; then
	echo "bench: $REF missing (cd t && npm ci); the reference server" \
	    "is skipped" >&2
else
	echo "# reference: node $("$NODE" --version), server-everything" \
	    "$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
	    "$(dirname "$REF")/../package.json" | head -1)"
	run ref "$B/bench/mcpbench" --json --framing ndjson $REF_ARGS \
	    --tool echo --args '{"message":"hi"}' -- "$NODE" "$REF" stdio
	[ -f "$tmp/ref" ] && have_ref=1
fi
if [ -x "$B/bench/ghbench" ] && [ -x "$B/servers/github/afu9-github" ]; then
	run gh "$B/bench/ghbench" $GH_ARGS --json -- \
	    "$B/servers/github/afu9-github"
else
	echo "bench: bench/ghbench or servers/github/afu9-github not built;" \
	    "the GitHub server run is skipped" >&2
fi

row() {
	label=$1 key=$2 dec=$3
	printf '%-30s %12s %12s %12s %12s\n' "$label" \
	    "$(fmt "$(get pipe "$key")" "$dec")" \
	    "$(fmt "$(get c_nd "$key")" "$dec")" \
	    "$(fmt "$(get c_cl "$key")" "$dec")" \
	    "$(fmt "$(get ref "$key")" "$dec")"
}

echo
echo "== results"
printf '%-30s %12s %12s %12s %12s\n' "" "raw pipe" "afu9 NDJSON" "afu9 CL" \
    "reference"
row "spawn->initialize median ms" spawn_init_p50_ms 2
row "  server CPU per life ms" spawn_cpu_p50_ms 2
row "ping round trip p50 us" ping_p50_us 1
row "ping round trip p99 us" ping_p99_us 1
row "  server CPU per ping us" ping_srv_cpu_us 2
row "tools/call echo p50 us" call_p50_us 1
row "tools/call echo p99 us" call_p99_us 1
row "  server CPU per call us" call_srv_cpu_us 2
row "pipelined ping msg/s (median)" pipe_msgs_per_s 0
row "  server CPU per ping us" pipe_srv_cpu_us 2
row "peak RSS (VmHWM) KiB" vmhwm_kib 0
echo "(raw pipe: the server is the echo child; spawn is fork+exec to the"
echo " first echo.  CPU figures are the server's own, summed over its"
echo " threads from /proc/PID/task/*/schedstat: less disturbed by other load.)"

echo
echo "== targets"
for f in c_nd c_cl; do
	[ -f "$tmp/$f" ] || continue
	if [ $f = c_nd ]; then fr=NDJSON; else fr=CL; fi
	check "ping p50 RTT / raw pipe RTT ($fr)" \
	    "$(ratio "$(get $f ping_p50_us)" "$(get pipe ping_p50_us)")" \
	    "<=" 1.5 "(x)"
	if [ $have_ref = 1 ]; then
		check "pipelined ping rate / reference ($fr)" \
		    "$(ratio "$(get $f pipe_msgs_per_s)" \
		    "$(get ref pipe_msgs_per_s)")" ">=" 20 "(x)"
	else
		check "pipelined ping rate / reference ($fr)" "" "" "" \
		    "(no reference run)"
	fi
	check "peak RSS MiB ($fr)" \
	    "$(ratio "$(get $f vmhwm_kib)" 1024)" "<" 4 \
	    "(reference: $(fmt "$(ratio "$(get ref vmhwm_kib)" 1024)" 1) MiB)"
	check "spawn->initialize median ms ($fr)" \
	    "$(get $f spawn_init_p50_ms)" "<" 5 \
	    "(reference: $(fmt "$(get ref spawn_init_p50_ms)" 1) ms)"
done
# factor LABEL A B KEY: KEY of run A over KEY of run B.
factor() {
	printf '%-46s %10s\n' "$1" \
	    "$(fmt "$(ratio "$(get "$2" "$4")" "$(get "$3" "$4")")" 1)"
}

if [ $have_ref = 1 ]; then
	echo
	echo "== afu9 (NDJSON) against the reference, as factors"
	factor "spawn->initialize, reference / afu9" ref c_nd \
	    spawn_init_p50_ms
	factor "ping p50 RTT, reference / afu9" ref c_nd ping_p50_us
	factor "tools/call echo p50, reference / afu9" ref c_nd call_p50_us
	factor "pipelined rate, afu9 / reference" c_nd ref pipe_msgs_per_s
	factor "server CPU per pipelined ping, reference / afu9" ref c_nd \
	    pipe_srv_cpu_us
	factor "peak RSS, reference / afu9" ref c_nd vmhwm_kib
fi
if [ -f "$tmp/gh" ]; then
	echo
	echo "== afu9-github getIssue against a local fixture (bench/ghbench)"
	printf '%-30s %12s %10s %10s\n' "" "calls/s" "p50 ms" "p99 ms"
	for k in raw_http_seq raw_http_win ping_seq ping_win getIssue_seq \
	    getIssue_win; do
		printf '%-30s %12s %10s %10s\n' "$k" \
		    "$(fmt "$(get gh ${k}_rate)" 0)" \
		    "$(fmt "$(get gh ${k}_p50_ms)" 3)" \
		    "$(fmt "$(get gh ${k}_p99_ms)" 3)"
	done
	printf '%-30s %12s\n' "getIssue / raw HTTP, sequential" \
	    "$(fmt "$(ratio "$(get gh getIssue_seq_rate)" \
	    "$(get gh raw_http_seq_rate)")" 2)"
	printf '%-30s %12s\n' "getIssue / raw HTTP, window" \
	    "$(fmt "$(ratio "$(get gh getIssue_win_rate)" \
	    "$(get gh raw_http_win_rate)")" 2)"
	printf '%-30s %12s KiB\n' "afu9-github VmHWM" "$(get gh vmhwm_kib)"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
if [ -x "$B/orchestrator/afu9" ] && [ -x "$B/bench/httpbench" ]; then
	BUILDDIR=$B sh "$srcdir/bench/orchbench.sh" || failed=1
else
	echo "bench: orchestrator/afu9 or bench/httpbench not built; the" \
	    "orchestrator runs are skipped" >&2
fi
echo
have_pg=0
for d in ${AFU9_PG_BINDIR:-} /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
	[ -n "$d" ] && [ -x "$d/postgres" ] && have_pg=1
done
if [ ! -x "$B/bench/wfbench" ] || [ ! -x "$B/orchestrator/afu9" ]; then
	echo "bench: bench/wfbench or orchestrator/afu9 not built; the" \
	    "workflow engine runs are skipped" >&2
elif [ $have_pg = 0 ] || ! command -v psql > /dev/null 2>&1; then
	echo "bench: no PostgreSQL server binaries or psql; the workflow" \
	    "engine runs are skipped" >&2
else
	BUILDDIR=$B sh "$srcdir/bench/wfbench.sh" || failed=1
fi
echo
if [ ! -x "$B/bench/webhookbench" ] || [ ! -x "$B/orchestrator/afu9" ]; then
	echo "bench: bench/webhookbench or orchestrator/afu9 not built; the" \
	    "webhook runs are skipped" >&2
elif [ $have_pg = 0 ] || ! command -v psql > /dev/null 2>&1; then
	echo "bench: no PostgreSQL server binaries or psql; the webhook" \
	    "runs are skipped" >&2
else
	BUILDDIR=$B sh "$srcdir/bench/webhookbench.sh" || failed=1
fi
exit $failed
