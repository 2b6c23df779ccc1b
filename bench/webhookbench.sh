#!/bin/sh
# The C list below is split into words on purpose.
# shellcheck disable=SC2086,SC2317
# bench/webhookbench.sh: the webhook answer against GET /health.
#
# On a private PostgreSQL (scripts/localdb.sh in a temporary state
# directory, its default settings: fsync and synchronous_commit on), one
# `afu9 serve` with a webhook secret (random, in the environment) and
# rules that start workflows (issues labelled bug and opened, pull
# requests merged, pushes: one conf.add tool step each, t/conformance-
# server as child "conf"), so that the handlers and the engine work
# while deliveries arrive.  Then, for each C of CONNS and ROUNDS times,
# bench/webhookbench: N signed deliveries (@octokit/webhooks-examples'
# payloads from t/node_modules when there, 1 to 28 KB, and every 25th a
# push of 64 KiB, 256 KiB or 1 MiB) on C keep-alive connections beside
# GET /health every 10 ms on one more, then the wait until all are
# handled.  The table gives the medians over the rounds of: the answer
# time (p50/p90/p99/max) and GET /health's in the same run, the answer
# as a ratio of /health, deliveries/s, and the time from the first
# request to the last delivery handled (from the table).
#
# Environment: BUILDDIR (default: the current directory), BENCH_QUICK=1
# for a short smoke run, WHBENCH_ROUNDS (3), WHBENCH_N (2000),
# WHBENCH_CONNS ("1 8 32"), WHBENCH_LARGE_EVERY (25), AFU9 (the afu9
# binary run as serve).  Needs the PostgreSQL server binaries and psql.
# Exit status: 0 when every run ran (targets missed or not), 1 otherwise.
set -u

B=${BUILDDIR:-.}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROUNDS=1 N=200 CONNS="1 8"
else
	ROUNDS=${WHBENCH_ROUNDS:-3} N=${WHBENCH_N:-2000}
	CONNS=${WHBENCH_CONNS:-1 8 32}
fi
LARGE=${WHBENCH_LARGE_EVERY:-25}
EXAMPLES=$top/t/node_modules/@octokit/webhooks-examples/api.github.com/index.json

for p in bench/webhookbench t/conformance-server orchestrator/afu9; do
	if [ ! -x "$B/$p" ]; then
		echo "webhookbench: $B/$p not built (set BUILDDIR)" >&2
		exit 1
	fi
done
command -v psql > /dev/null || { echo "webhookbench: psql not found" >&2; exit 1; }
B=$(cd "$B" && pwd)
AFU9=${AFU9:-$B/orchestrator/afu9}
AFU9_MIGRATIONS_DIR=${AFU9_MIGRATIONS_DIR:-$top/migrations}
export AFU9_MIGRATIONS_DIR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-whbench.XXXXXX") || exit 1
# The database's directory must be reachable by its server's user.
chmod 755 "$tmp"
AFU9_STATE_DIR=$tmp/state
export AFU9_STATE_DIR
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2> /dev/null
		wait "$pid" 2> /dev/null
	fi
	bash "$top/scripts/localdb.sh" stop > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
failed=0
# shellcheck disable=SC2034
prog=webhookbench
# shellcheck source=bench/benchlib.sh
. "$top/bench/benchlib.sh"

if [ -f "$EXAMPLES" ]; then
	EX_ARGS="--examples $EXAMPLES"
	ex_what="@octokit/webhooks-examples $(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
	    "$(dirname "$EXAMPLES")/../package.json" | head -1)"
else
	echo "webhookbench: $EXAMPLES missing (cd t && npm ci): the built-in" \
	    "issues.labeled payload only" >&2
	EX_ARGS='' ex_what="the built-in issues.labeled payload"
fi

if ! DATABASE_URL=$(bash "$top/scripts/localdb.sh" start 2> "$tmp/localdb.log"); then
	cat "$tmp/localdb.log" >&2
	echo "webhookbench: no PostgreSQL" >&2
	exit 1
fi
export DATABASE_URL
"$B/orchestrator/afu9" migrate up > /dev/null || exit 1

sql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -c "$1"
}

# The workflows the rules start: one conf.add step, an input schema.
for w in whb_issue whb_pr whb_push; do
	sql "SELECT afu9_workflow_apply('$w', NULL, NULL, '{\"name\": \"$w\",
	    \"inputs\": {\"type\": \"object\", \"properties\": {\"repo\":
	    {\"type\": \"string\"}}, \"required\": [\"repo\"]},
	    \"steps\": [{\"id\": \"s\", \"type\": \"tool\", \"tool\":
	    \"conf.add\", \"arguments\": {\"a\": 1, \"b\": 2}}]}')" \
	    > /dev/null || exit 1
done
cat > "$tmp/serve.json" <<EOF
{"mcpServers": {"conf": {"command": "$B/t/conformance-server",
  "framing": "ndjson"}},
 "afu9": {"http": {"listen": "127.0.0.1:0"},
  "webhooks": {"rules": [
   {"event": "issues", "action": "labeled",
    "if": "\${{ event.payload.label.name == 'bug' }}",
    "workflow": "whb_issue",
    "input": {"repo": "\${{ event.repository.full_name }}",
              "number": "\${{ event.payload.issue.number }}"}},
   {"event": "issues", "action": "opened", "workflow": "whb_issue",
    "input": {"repo": "\${{ event.repository.full_name }}",
              "title": "\${{ event.payload.issue.title }}"}},
   {"event": "pull_request", "action": "closed",
    "if": "\${{ event.payload.pull_request.merged }}",
    "workflow": "whb_pr",
    "input": {"repo": "\${{ event.repository.full_name }}"}},
   {"event": "push", "workflow": "whb_push",
    "input": {"repo": "\${{ event.repository.full_name }}",
              "sha": "\${{ event.payload.after }}"}}]}}}
EOF
mkdir "$tmp/workflows"		# no built-in workflows
AFU9_GITHUB_WEBHOOK_SECRET=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
export AFU9_GITHUB_WEBHOOK_SECRET

AFU9_WORKFLOWS_DIR=$tmp/workflows "$AFU9" serve --config "$tmp/serve.json" \
    < /dev/null > /dev/null 2> "$tmp/serve.log" &
pid=$!
t=0 port=
while [ -z "$port" ] && [ $t -lt 200 ]; do
	port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/serve.log" | head -1)
	[ -z "$port" ] && sleep 0.1
	t=$((t + 1))
done
t=0
until "$B/orchestrator/afu9" health "http://127.0.0.1:$port/ready" \
    > /dev/null 2>&1; do
	t=$((t + 1))
	if [ -z "$port" ] || [ $t -ge 200 ]; then
		cat "$tmp/serve.log" >&2
		echo "webhookbench: afu9 serve is not ready" >&2
		exit 1
	fi
	sleep 0.1
done

echo "== machine"
echo "cpus: $(nproc), $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)"
echo "PostgreSQL: $(sql 'SHOW server_version'), fsync $(sql 'SHOW fsync'), synchronous_commit $(sql 'SHOW synchronous_commit')"
echo "payloads: $ex_what; every ${LARGE}th delivery 64 KiB, 256 KiB or 1 MiB"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== runs ($ROUNDS rounds of $N deliveries per connection count)"
# warm: the prepared statements, the workflows' first executions
"$B/bench/webhookbench" -p "$port" -n 100 -c 4 --large-every "$LARGE" \
    --tag whb-warm $EX_ARGS > /dev/null || exit 1
r=1
while [ $r -le "$ROUNDS" ]; do
	for c in $CONNS; do
		run "c$c.$r" "$B/bench/webhookbench" -p "$port" -n "$N" -c "$c" \
		    --large-every "$LARGE" --tag "whb-$r-$c" $EX_ARGS
	done
	r=$((r + 1))
done
if ! kill -0 "$pid" 2> /dev/null; then
	cat "$tmp/serve.log" >&2
	echo "webhookbench: afu9 serve died" >&2
	failed=1
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

# med NAME KEY: the median of KEY over NAME's rounds.
med() {
	r=1
	while [ $r -le "$ROUNDS" ]; do
		get "$1.$r" "$2"
		r=$((r + 1))
	done | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}

echo
echo "== answer and GET /health in the same runs (ms; medians of $ROUNDS)"
printf '%-16s %9s %7s %7s %7s %7s   %6s %6s %6s %6s\n' "" "deliv/s" \
    "p50" "p90" "p99" "max" "/h p50" "/h p90" "/h p99" "/h max"
for c in $CONNS; do
	printf '%-16s %9s %7s %7s %7s %7s   %6s %6s %6s %6s\n' \
	    "$c connection(s)" "$(fmt "$(med c$c deliveries_per_s)" 0)" \
	    "$(fmt "$(med c$c answer_p50_ms)" 2)" \
	    "$(fmt "$(med c$c answer_p90_ms)" 2)" \
	    "$(fmt "$(med c$c answer_p99_ms)" 2)" \
	    "$(fmt "$(med c$c answer_max_ms)" 1)" \
	    "$(fmt "$(med c$c health_p50_ms)" 2)" \
	    "$(fmt "$(med c$c health_p90_ms)" 2)" \
	    "$(fmt "$(med c$c health_p99_ms)" 2)" \
	    "$(fmt "$(med c$c health_max_ms)" 1)"
done
echo "(answer: a delivery's first byte written to its answer's last byte"
echo " read; /h: GET /health every 10 ms on its own connection meanwhile)"
echo
echo "== the answer as a ratio of GET /health (medians of the rounds' ratios)"
printf '%-16s %7s %7s %7s %7s\n' "" "p50" "p90" "p99" "max"
for c in $CONNS; do
	line=$(printf '%-16s' "$c connection(s)")
	for q in p50 p90 p99 max; do
		v=$(r=1; while [ $r -le "$ROUNDS" ]; do
			ratio "$(get "c$c.$r" answer_${q}_ms)" \
			    "$(get "c$c.$r" health_${q}_ms)"
			echo
			r=$((r + 1))
		done | sed '/^$/d' | sort -g |
		    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
		line="$line $(printf '%7s' "$(fmt "$v" 1)")"
	done
	echo "$line"
done
echo
echo "== handled (from webhook_events; medians of $ROUNDS)"
printf '%-16s %10s %12s %9s %9s   %s\n' "" "all (s)" "after last" \
    "h p50" "h p99" "outcomes started/woke/ignored/failed"
for c in $CONNS; do
	printf '%-16s %10s %9s ms %6s ms %6s ms   %s/%s/%s/%s\n' \
	    "$c connection(s)" "$(fmt "$(med c$c handled_all_s)" 2)" \
	    "$(fmt "$(med c$c handled_after_last_answer_ms)" 0)" \
	    "$(fmt "$(med c$c handle_p50_ms)" 1)" \
	    "$(fmt "$(med c$c handle_p99_ms)" 1)" \
	    "$(get c$c.1 outcome_started)" "$(get c$c.1 outcome_woke)" \
	    "$(get c$c.1 outcome_ignored)" "$(get c$c.1 outcome_failed)"
done
echo "(all: the first request to the last delivery handled; after last:"
echo " the last answer to the last delivery handled; h: each delivery's"
echo " received_at to processed_at; outcomes of round 1)"
echo
echo "== targets"
for c in $CONNS; do
	check "webhook answer p99 ms, $c connection(s)" \
	    "$(med c$c answer_p99_ms)" "<" 100 \
	    "(/health p99 $(fmt "$(med c$c health_p99_ms)" 2) ms)"
done
for c in $CONNS; do
	[ "$(get c$c.1 outcome_failed)" = 0 ] || {
		echo "webhookbench: $c connection(s): deliveries failed" \
		    "(see the table)" >&2
		failed=1
	}
done
exit $failed
