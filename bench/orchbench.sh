#!/bin/sh
# The *_ARGS lists below are split into words on purpose.
# shellcheck disable=SC2086,SC2317
# bench/orchbench.sh: the orchestrator's benchmarks (bench/run.sh runs it
# last; it also runs alone, from a build directory).
#
#   1. gateway overhead: bench/mcpbench on t/conformance-server directly
#      (tool echo) and on `afu9 serve --stdio` running the same server as
#      child "conf" (tool conf.echo): sequential tools/call p50/p99 and
#      pipelined tools/call throughput, given as gateway / direct ratios;
#   2. GET /health under wrk (-t2 -c100): bench/httpbench (the embedded
#      HTTP server alone: the baseline), afu9 with an idle child, and afu9
#      while a background mcpbench keeps its child busy through the stdio
#      gateway (sleep calls in flight; echo calls as fast as they go).
#
# Environment: BUILDDIR (default: the current directory), BENCH_QUICK=1
# for a short smoke run, WRK (default: wrk on PATH), PYTHON (python3, to
# pick a free port).  Prints the commands it runs, a table and the targets.
# Exit status: 0 when every benchmark ran (targets missed or not), 1 when
# one failed to run.
set -u

B=${BUILDDIR:-.}
WRK=${WRK:-wrk}
PYTHON=${PYTHON:-python3}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	GW_ARGS="-s 3 -n 500 -m 5000 -r 1 --warmup 100"
	WRK_S=2
else
	GW_ARGS="-s 20 -n 5000 -m 50000 -r 3 --warmup 500"
	WRK_S=10
fi
ECHO='{"text":"hi"}'
SLEEP='{"ms":2}'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-orchbench.XXXXXX") || exit 1
bg=
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=0
prog=orchbench
# shellcheck source=bench/benchlib.sh
. "$(dirname "$0")/benchlib.sh"

for p in bench/mcpbench bench/httpbench t/conformance-server \
    orchestrator/afu9; do
	if [ ! -x "$B/$p" ]; then
		echo "orchbench: $B/$p not built (run make in the build" \
		    "directory, or set BUILDDIR)" >&2
		exit 1
	fi
done
have_wrk=1
if ! command -v "$WRK" > /dev/null 2>&1; then
	echo "orchbench: wrk not found (apt-get install wrk); the /health" \
	    "runs are skipped" >&2
	have_wrk=0
fi

# free_port: a TCP port on 127.0.0.1 that nothing listens on just now.
free_port() {
	"$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null ||
	    awk -v r="$$" 'BEGIN { print 20000 + r % 30000 }'
}

# config FILE [PORT]: a configuration running t/conformance-server as
# "conf" (NDJSON both ways, as the direct run speaks), HTTP on PORT.
config() {
	http=
	[ -n "${2:-}" ] && http=", \"afu9\": {\"http\": {\"listen\": \"127.0.0.1:$2\"}}"
	printf '{"mcpServers": {"conf": {"command": "%s", "framing": "ndjson"}}%s}\n' \
	    "$(cd "$B" && pwd)/t/conformance-server" "$http" > "$1"
}

# wait_ok URL SECONDS: until GET URL answers 200, or give up (status 1).
wait_ok() {
	i=0
	while [ $i -lt $(($2 * 10)) ]; do
		"$B/orchestrator/afu9" health "$1" > /dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	echo "orchbench: $1 did not answer 200 within $2 s" >&2
	return 1
}

# wrk_run NAME URL: wrk -t2 -c100 on URL; its req/s, p50, p99 (ms) and
# error counts as flat JSON in $tmp/NAME, its report on stdout.
wrk_run() {
	show "$WRK" -t2 -c100 -d${WRK_S}s --latency "$2"
	if ! "$WRK" -t2 -c100 -d${WRK_S}s --latency "$2" > "$tmp/$1.txt" \
	    2>&1; then
		cat "$tmp/$1.txt" >&2
		echo "orchbench: wrk on $2 failed" >&2
		failed=1
		return
	fi
	sed 's/^/  /' "$tmp/$1.txt"
	awk '
	function ms(v) {
		if (v ~ /us$/) return v * 0.001
		if (v ~ /ms$/) return v + 0
		if (v ~ /s$/) return v * 1000
		return v
	}
	/^Requests\/sec:/ { rps = $2 }
	/^ +50% / { p50 = ms($2) }
	/^ +99% / { p99 = ms($2) }
	/Non-2xx or 3xx responses:/ { bad = $NF }
	/Socket errors:/ { gsub(/,/, ""); serr = $4 + $6 + $8 + $10 }
	END {
		printf "{\n \"req_per_s\": %s,\n \"p50_ms\": %s,\n", rps, p50
		printf " \"p99_ms\": %s,\n \"non_2xx\": %d,\n", p99, bad
		printf " \"socket_errors\": %d\n}\n", serr
	}' "$tmp/$1.txt" > "$tmp/$1"
}

echo "== orchestrator: gateway overhead (load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg))"
config "$tmp/gw.json"
run direct "$B/bench/mcpbench" --json $GW_ARGS --pipe-calls \
    --tool echo --args "$ECHO" -- "$B/t/conformance-server"
AFU9_LOG_LEVEL=warn
export AFU9_LOG_LEVEL
run gateway "$B/bench/mcpbench" --json $GW_ARGS --pipe-calls \
    --tool conf.echo --args "$ECHO" -- \
    "$B/orchestrator/afu9" serve --stdio --config "$tmp/gw.json"

# stop_bg: end the background process $bg and reap it.
stop_bg() {
	kill "$bg" 2>/dev/null
	wait "$bg" 2>/dev/null
	bg=
}

# health_busy NAME TOOL ARGS WINDOW: /health under wrk while mcpbench
# keeps WINDOW calls of TOOL in flight through the stdio gateway; the
# load's own figures go to $tmp/NAME.load.
health_busy() {
	port=$(free_port)
	config "$tmp/$1.json" "$port"
	show "$B/bench/mcpbench" --json -s 0 -n 0 -m 0 -w "$4" \
	    --busy $((WRK_S + 3)) --tool "$2" --args "$3" -- \
	    "$B/orchestrator/afu9" serve --stdio --config "$tmp/$1.json" "&"
	"$B/bench/mcpbench" --json -s 0 -n 0 -m 0 -w "$4" \
	    --busy $((WRK_S + 3)) --tool "$2" --args "$3" -- \
	    "$B/orchestrator/afu9" serve --stdio --config "$tmp/$1.json" \
	    > "$tmp/$1.load" &
	bg=$!
	if wait_ok "http://127.0.0.1:$port/ready" 10; then
		sleep 0.5		# the calls are flowing by now
		wrk_run "$1" "http://127.0.0.1:$port/health"
	else
		failed=1
	fi
	if ! wait "$bg"; then
		echo "orchbench: the background load for $1 failed" >&2
		rm -f "$tmp/$1.load"
		failed=1
	fi
	bg=
}

if [ $have_wrk = 1 ]; then
	echo
	echo "== orchestrator: GET /health under wrk (load average" \
	    "$(cut -d' ' -f1-3 /proc/loadavg))"
	# Baseline: the embedded HTTP server alone (answers "ok\n").
	show "$B/bench/httpbench" 127.0.0.1:0 "&"
	"$B/bench/httpbench" 127.0.0.1:0 > "$tmp/httpbench.port" &
	bg=$!
	i=0
	while [ ! -s "$tmp/httpbench.port" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	port=$(head -1 "$tmp/httpbench.port")
	if [ -n "$port" ]; then
		wrk_run h_base "http://127.0.0.1:$port/health"
	else
		echo "orchbench: httpbench did not start" >&2
		failed=1
	fi
	stop_bg

	# afu9 serve (HTTP mode), its child idle.
	port=$(free_port)
	config "$tmp/idle.json" "$port"
	show "$B/orchestrator/afu9" serve --config "$tmp/idle.json" "&"
	"$B/orchestrator/afu9" serve --config "$tmp/idle.json" \
	    2> "$tmp/idle.log" &
	bg=$!
	if wait_ok "http://127.0.0.1:$port/ready" 10; then
		wrk_run h_idle "http://127.0.0.1:$port/health"
	else
		cat "$tmp/idle.log" >&2
		failed=1
	fi
	stop_bg

	health_busy h_sleep conf.sleep "$SLEEP" 32
	health_busy h_echo conf.echo "$ECHO" 16
fi

# grow LABEL KEY DEC: direct, gateway, gateway / direct.
grow() {
	d=$(get direct "$2") g=$(get gateway "$2")
	printf '%-34s %11s %11s %9s\n' "$1" "$(fmt "$d" "$3")" \
	    "$(fmt "$g" "$3")" "$(fmt "$(ratio "$g" "$d")" 2)"
}

echo
echo "== orchestrator: results"
printf '%-34s %11s %11s %9s\n' "" direct gateway ratio
grow "spawn->initialize median ms" spawn_init_p50_ms 2
grow "tools/call echo p50 us" call_p50_us 1
grow "tools/call echo p99 us" call_p99_us 1
grow "  server CPU per call us" call_srv_cpu_us 2
grow "  its child's CPU per call us" call_child_cpu_us 2
grow "pipelined tools/call/s (median)" pipe_call_msgs_per_s 0
grow "  server CPU per call us" pipe_call_srv_cpu_us 2
grow "  its child's CPU per call us" pipe_call_child_cpu_us 2
grow "ping p50 us (afu9 answers itself)" ping_p50_us 1
grow "peak RSS (VmHWM) KiB" vmhwm_kib 0
echo "(gateway: mcpbench -> afu9 serve --stdio -> t/conformance-server;"
echo " \"server\" is the process mcpbench spawned, \"child\" its children.)"

if [ $have_wrk = 1 ]; then
	echo
	printf '%-34s %11s %9s %9s %9s\n' "GET /health, wrk -t2 -c100" \
	    "req/s" "p50 ms" "p99 ms" "errors"
	for h in h_base h_idle h_sleep h_echo; do
		case $h in
		h_base)  l="httpbench (HTTP server alone)" ;;
		h_idle)  l="afu9 serve, child idle" ;;
		h_sleep) l="afu9, 32 sleep calls in flight" ;;
		h_echo)  l="afu9, echo calls saturating" ;;
		esac
		e=
		[ -f "$tmp/$h" ] && e=$(($(get $h non_2xx) + $(get $h socket_errors)))
		printf '%-34s %11s %9s %9s %9s\n' "$l" \
		    "$(fmt "$(get $h req_per_s)" 0)" \
		    "$(fmt "$(get $h p50_ms)" 2)" "$(fmt "$(get $h p99_ms)" 2)" \
		    "${e:--}"
	done
	for h in h_sleep h_echo; do
		printf '  load during %-7s %s calls/s through the gateway\n' \
		    "$h:" "$(fmt "$(get $h.load busy_calls_per_s)" 0)"
	done
fi

echo
echo "== orchestrator: targets"
check "gateway / direct tools/call p50" \
    "$(ratio "$(get gateway call_p50_us)" "$(get direct call_p50_us)")" \
    "<" 2 "(x)"
check "gateway / direct tools/call p99" \
    "$(ratio "$(get gateway call_p99_us)" "$(get direct call_p99_us)")" \
    "<" 2 "(x)"
if [ $have_wrk = 1 ]; then
	for h in h_sleep h_echo; do
		check "/health req/s, busy child ($h)" "$(get $h req_per_s)" \
		    ">=" 50000 "(baseline httpbench: $(fmt \
		    "$(get h_base req_per_s)" 0); ratio $(fmt "$(ratio \
		    "$(get $h req_per_s)" "$(get h_base req_per_s)")" 2))"
		check "/health p99 ms, busy child ($h)" "$(get $h p99_ms)" \
		    "<" 5 "(baseline httpbench: $(fmt "$(get h_base p99_ms)" 2) ms)"
	done
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $failed
