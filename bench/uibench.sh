#!/bin/sh
# bench/uibench.sh: how long the console's pages take to render.
#
# On a private PostgreSQL (scripts/localdb.sh in a temporary state
# directory) seeded with EXECS executions (10 workflows, 20 repositories,
# one step each, 1% failed, spread over 30 days), 1,000 agent runs and
# CALLS audit rows (5 servers, 10 tools, 4 callers, 1% failed, most
# naming an execution), then ANALYZE: `afu9 serve` with AFU9_API_TOKEN
# (engine off, t/conformance-server as its child) is logged in with curl,
# and every page is fetched N times on one keep-alive connection
# (curl's time_total: request to last byte, on loopback).  Prints the
# median, p95 and maximum per page, and whether each median is under
# the 10 ms target.
#
# Environment: BUILDDIR (default: the current directory), BENCH_QUICK=1
# for a short run (10,000 executions, 100,000 audit rows), UIBENCH_N
# (fetches per page, 200).  Needs the PostgreSQL server binaries, psql
# and curl.  Exit status: 0 when every page answered 200, 1 otherwise.
set -u

B=${BUILDDIR:-.}
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	EXECS=10000 CALLS=100000 N=${UIBENCH_N:-50}
else
	EXECS=100000 CALLS=1000000 N=${UIBENCH_N:-200}
fi
TOKEN=uibench-token-0123456789

for p in t/conformance-server orchestrator/afu9; do
	if [ ! -x "$B/$p" ]; then
		echo "uibench: $B/$p not built (set BUILDDIR)" >&2
		exit 1
	fi
done
for c in psql curl; do
	command -v $c >/dev/null 2>&1 || { echo "uibench: no $c" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/afu9-uibench.XXXXXX") || exit 1
chmod 755 "$tmp"
AFU9_STATE_DIR=$tmp/state
export AFU9_STATE_DIR
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	bash "$top/scripts/localdb.sh" stop > /dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

if ! url=$(bash "$top/scripts/localdb.sh" start 2> "$tmp/localdb.log"); then
	cat "$tmp/localdb.log" >&2
	echo "uibench: no PostgreSQL" >&2
	exit 1
fi
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$url" "$@"; }

printf '{"mcpServers":{"conf":{"command":"%s"}},"afu9":{"http":{"listen":"127.0.0.1:0"}}}\n' \
    "$(cd "$B" && pwd)/t/conformance-server" > "$tmp/ui.json"
DATABASE_URL=$url AFU9_API_TOKEN=$TOKEN AFU9_ENGINE=0 AFU9_LOG_LEVEL=info \
    "$B/orchestrator/afu9" serve --config "$tmp/ui.json" 2> "$tmp/afu9.log" &
pid=$!
i=0
until port=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$tmp/afu9.log") && [ -n "$port" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || { cat "$tmp/afu9.log" >&2; echo "uibench: afu9 did not listen" >&2; exit 1; }
	sleep 0.1
done
base=http://127.0.0.1:$port

echo "uibench: seeding $EXECS executions and $CALLS audit rows"
t0=$(date +%s)
q -o /dev/null <<SQL
SELECT afu9_workflow_apply('w' || g, NULL, NULL, ('{"name":"w' || g ||
    '","steps":[{"id":"a","type":"tool","tool":"conf.echo","arguments":{"text":"x"}}]}')::jsonb)
FROM generate_series(0, 9) g;
INSERT INTO repositories (owner, name) SELECT 'o', 'r' || g FROM generate_series(0, 19) g;
INSERT INTO workflow_executions (id, workflow_id, repository_id, status, input,
    error, created_at, started_at, finished_at)
SELECT md5(g::text)::uuid, (SELECT id FROM workflows WHERE name = 'w' || (g % 10)),
    (SELECT id FROM repositories WHERE name = 'r' || (g % 20)),
    CASE WHEN g % 100 = 0 THEN 'failed' ELSE 'succeeded' END,
    jsonb_build_object('issue', jsonb_build_object('number', g, 'title', 'Issue number ' || g)),
    CASE WHEN g % 100 = 0 THEN 'step a failed' END,
    t, t, t + interval '2 seconds'
FROM (SELECT g, now() - (g * (30 * 86400.0 / $EXECS)) * interval '1 second' AS t
    FROM generate_series(1, $EXECS) g) s;
INSERT INTO workflow_steps (execution_id, step_index, step_name, kind, status,
    tool, input, output, started_at, finished_at)
SELECT id, 0, 'a', 'tool', CASE status WHEN 'failed' THEN 'failed' ELSE 'succeeded' END,
    'conf.echo', '{"text":"x"}', '{"content":[{"type":"text","text":"x"}]}',
    started_at, finished_at FROM workflow_executions;
INSERT INTO agent_runs (id, execution_id, provider, model, status, input_tokens,
    output_tokens, cost_usd, started_at, finished_at)
SELECT md5('run' || g)::uuid, md5(g::text)::uuid, 'anthropic', 'model', 'succeeded',
    1000, 200, 0.01, now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '5 s'
FROM generate_series(1, 1000) g;
INSERT INTO mcp_tool_calls (server, tool, caller, status, is_error, error_code,
    error_message, result_summary, duration_ms, execution_id, started_at)
SELECT 's' || (g % 5), 't' || (g % 10),
    (ARRAY['gateway', 'cli', 'workflow', 'agent'])[1 + g % 4],
    CASE WHEN g % 100 = 0 THEN 'failed' ELSE 'completed' END, false,
    CASE WHEN g % 100 = 0 THEN -32001 END, CASE WHEN g % 100 = 0 THEN 'timeout' END,
    'ok', 5, CASE WHEN g % 5 <> 0 THEN md5((1 + g % $EXECS)::text)::uuid END,
    now() - (g * (30 * 86400.0 / $CALLS)) * interval '1 second'
FROM generate_series(1, $CALLS) g;
ANALYZE;
SQL
[ $? -eq 0 ] || { echo "uibench: seeding failed" >&2; exit 1; }
echo "uibench: seeded in $(( $(date +%s) - t0 )) s"

cookie=$(curl -s -o /dev/null -D - -H "Origin: $base" --data-urlencode "token=$TOKEN" \
    "$base/ui/login" | sed -n 's/^Set-Cookie: \(afu9_session=[0-9a-f]*\);.*/\1/p')
[ -n "$cookie" ] || { echo "uibench: no login" >&2; exit 1; }

ex=$(q -c "SELECT md5('1')::uuid")
run=$(q -c "SELECT md5('run1')::uuid")
mid=$(q -c "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '/' || id
    FROM workflow_executions ORDER BY created_at DESC, id DESC OFFSET $((EXECS / 2)) LIMIT 1")
amid=$(q -c "SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '/' || id
    FROM mcp_tool_calls ORDER BY started_at DESC, id DESC OFFSET $((CALLS / 2)) LIMIT 1")
PAGES="/ui/
/ui/servers
/ui/executions
/ui/executions?status=failed
/ui/executions?workflow=w3
/ui/executions?repository=o/r7
/ui/executions?workflow=w3&status=failed&repository=o/r3
/ui/executions?after=$mid
/ui/executions/$ex
/ui/executions/$ex/steps
/ui/runs/$run
/ui/audit
/ui/audit?server=s2
/ui/audit?tool=t4
/ui/audit?caller=agent
/ui/audit?status=failed
/ui/audit?execution=$ex
/ui/audit?server=s0&tool=t0&status=failed
/ui/audit?after=$amid
/ui/webhooks"

echo "uibench: $EXECS executions, $CALLS audit rows; $N fetches per page (ms)"
printf '%-60s %8s %8s %8s %s\n' page median p95 max "<10ms"
status=0
echo "$PAGES" | while IFS= read -r p; do
	u=$(printf '%s' "$p" | sed 's/+/%2B/g')
	args=
	k=0
	while [ $k -lt "$N" ]; do args="$args -o /dev/null $base$u"; k=$((k + 1)); done
	# shellcheck disable=SC2086
	curl -s -H "Cookie: $cookie" -w '%{http_code} %{time_total}\n' $args > "$tmp/t"
	if grep -qv '^200 ' "$tmp/t"; then
		echo "uibench: $p: $(grep -v '^200 ' "$tmp/t" | head -1)" >&2
		echo fail > "$tmp/failed"
	fi
	sort -k2 -n "$tmp/t" | awk -v p="$(printf '%s' "$p" | cut -c1-60)" '
	    { t[NR] = $2 * 1000 }
	    END { m = t[int((NR + 1) / 2)]; q = t[int(NR * 0.95 + 0.5)];
		  printf "%-60s %8.2f %8.2f %8.2f %s\n", p, m, q, t[NR], m < 10 ? "yes" : "NO" }'
done
[ -f "$tmp/failed" ] && status=1
q -c "SELECT 'uibench: database ' || pg_size_pretty(pg_database_size(current_database()))"
exit $status
