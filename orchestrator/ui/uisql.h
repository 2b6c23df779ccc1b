/*
 * ui/uisql: the console's statements.  Each answers one jsonb built by
 * the server.  Filters are "($n IS NULL OR col = $n)": the connection
 * runs with plan_cache_mode = force_custom_plan (ui.c sets it when it
 * comes up), so every execution is planned with its values and a filter
 * not given folds away instead of a generic plan scanning the table.
 * Listings page by keyset, never OFFSET.
 */
#ifndef AFU9_UI_UISQL_H
#define AFU9_UI_UISQL_H

#define UISQL_CUSTOM_PLANS \
	"SELECT set_config('plan_cache_mode', 'force_custom_plan', false)"

/* Executions by status over the last 24 h; agent spend and runs today
   (UTC). */
#define UISQL_OVERVIEW \
	"SELECT jsonb_build_object('by_status', (SELECT coalesce(" \
	"jsonb_object_agg(status, n), '{}') FROM (SELECT status, count(*) " \
	"AS n FROM workflow_executions WHERE created_at > now() - " \
	"interval '24 hours' GROUP BY status) s), 'spend', (SELECT " \
	"coalesce(sum(cost_usd), 0)::text FROM agent_runs WHERE " \
	"started_at >= date_trunc('day', now(), 'UTC')), 'runs', (SELECT " \
	"count(*) FROM agent_runs WHERE started_at >= date_trunc('day', " \
	"now(), 'UTC')))"

/*
 * $1 status, $2 workflow name, $3 repository owner, $4 its name, $5
 * created_at and $6 id of the previous page's last row, $7 rows: newest
 * first, with a cursor "TIME/ID" for $5 and $6.
 */
#define UISQL_EXECUTIONS \
	"SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, " \
	"'workflow', w.name, 'version', w.version, 'status', x.status, " \
	"'repository', r.owner || '/' || r.name, 'title', " \
	"left(coalesce(x.input->>'title', x.input->'issue'->>'title'), 200), " \
	"'error', left(x.error, 200), 'created_at', afu9_ts(x.created_at), " \
	"'duration_ms', round(extract(epoch FROM x.finished_at - " \
	"x.started_at) * 1000), 'cursor', to_char(x.created_at AT TIME " \
	"ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '/' || x.id) " \
	"ORDER BY x.created_at DESC, x.id DESC), '[]') FROM (SELECT * FROM " \
	"workflow_executions x WHERE ($1::text IS NULL OR x.status = $1) " \
	"AND ($2::text IS NULL OR x.workflow_id IN (SELECT id FROM " \
	"workflows WHERE name = $2)) AND ($3::text IS NULL OR " \
	"x.repository_id IN (SELECT id FROM repositories WHERE owner = $3 " \
	"AND name = $4::text)) AND ($5::timestamptz IS NULL OR " \
	"(x.created_at, x.id) < ($5, $6::uuid)) ORDER BY x.created_at " \
	"DESC, x.id DESC LIMIT $7::integer) x JOIN workflows w ON w.id = " \
	"x.workflow_id LEFT JOIN repositories r ON r.id = x.repository_id"

/* One audit row (alias m) as JSON. */
#define UISQL_CALL \
	"jsonb_build_object('id', m.id, 'server', m.server, 'tool', " \
	"m.tool, 'caller', m.caller, 'status', m.status, 'is_error', " \
	"m.is_error, 'error_code', m.error_code, 'error_message', " \
	"left(m.error_message, 300), 'result', left(m.result_summary, 300), " \
	"'duration_ms', m.duration_ms, 'execution_id', m.execution_id, " \
	"'step_id', m.step_id, 'agent_run_id', m.agent_run_id, " \
	"'started_at', afu9_ts(m.started_at), 'cursor', to_char(" \
	"m.started_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '/' || m.id)"

/* One agent run (alias a) as JSON. */
#define UISQL_RUN \
	"jsonb_build_object('id', a.id, 'execution_id', a.execution_id, " \
	"'step_id', a.step_id, 'provider', a.provider, 'model', a.model, " \
	"'status', a.status, 'input_tokens', a.input_tokens, " \
	"'output_tokens', a.output_tokens, 'cache_read_tokens', " \
	"a.cache_read_tokens, 'cache_write_tokens', a.cache_write_tokens, " \
	"'turns', a.turns, 'tool_calls', a.tool_calls, 'messages_dropped', " \
	"a.messages_dropped, 'cost_usd', a.cost_usd::text, " \
	"'error', a.error, 'started_at', afu9_ts(a.started_at), " \
	"'finished_at', afu9_ts(a.finished_at), 'duration_ms', " \
	"round(extract(epoch FROM a.finished_at - a.started_at) * 1000))"

/* $1 execution: afu9_execution_json(), its repository, its agent runs
   and its first 200 tool calls (201 fetched: are there more?). */
#define UISQL_EXECUTION \
	"SELECT jsonb_build_object('x', afu9_execution_json($1::uuid), " \
	"'repository', (SELECT r.owner || '/' || r.name FROM " \
	"workflow_executions e JOIN repositories r ON r.id = " \
	"e.repository_id WHERE e.id = $1::uuid), 'runs', (SELECT " \
	"coalesce(jsonb_agg(" UISQL_RUN " ORDER BY a.started_at, a.id), " \
	"'[]') FROM agent_runs a WHERE a.execution_id = $1::uuid), " \
	"'calls', (SELECT coalesce(jsonb_agg(c ORDER BY k), '[]') FROM " \
	"(SELECT " UISQL_CALL " AS c, row_number() OVER (ORDER BY " \
	"m.started_at, m.id) AS k FROM mcp_tool_calls m WHERE " \
	"m.execution_id = $1::uuid ORDER BY m.started_at, m.id LIMIT 201) " \
	"q))"

/* $1 execution: afu9_execution_json() (the steps fragment). */
#define UISQL_STEPS	"SELECT afu9_execution_json($1::uuid)"

/* $1 execution: its status, or no row. */
#define UISQL_STATUS \
	"SELECT status FROM workflow_executions WHERE id = $1::uuid"

/* $1 agent run: the run with its step's name, the first 200 messages
   of its transcript (agent_messages, migration 003; 201 fetched: are
   there more?) and its first 200 tool calls. */
#define UISQL_AGENT_RUN \
	"SELECT jsonb_build_object('run', (SELECT " UISQL_RUN " || " \
	"jsonb_build_object('step', s.step_name) FROM agent_runs a LEFT " \
	"JOIN workflow_steps s ON s.id = a.step_id WHERE a.id = $1::uuid), " \
	"'messages', (SELECT coalesce(jsonb_agg(jsonb_build_object('seq', " \
	"m.seq, 'role', m.role, 'content', m.content, 'input_tokens', " \
	"m.input_tokens, 'output_tokens', m.output_tokens) ORDER BY m.seq), " \
	"'[]') FROM (SELECT * FROM agent_messages WHERE run_id = $1::uuid " \
	"ORDER BY seq LIMIT 201) m), " \
	"'calls', (SELECT coalesce(jsonb_agg(c ORDER BY k), '[]') FROM " \
	"(SELECT " UISQL_CALL " AS c, row_number() OVER (ORDER BY " \
	"m.started_at, m.id) AS k FROM mcp_tool_calls m WHERE " \
	"m.agent_run_id = $1::uuid ORDER BY m.started_at, m.id LIMIT 201) " \
	"q))"

/*
 * The audit log, newest first: $1 server, $2 tool, $3 caller, $4
 * status, $5 execution, $6 started_at and $7 id of the previous page's
 * last row, $8 rows.
 */
#define UISQL_AUDIT \
	"SELECT coalesce(jsonb_agg(" UISQL_CALL " ORDER BY m.started_at " \
	"DESC, m.id DESC), '[]') FROM (SELECT * FROM mcp_tool_calls m " \
	"WHERE ($1::text IS NULL OR m.server = $1) AND ($2::text IS NULL " \
	"OR m.tool = $2) AND ($3::text IS NULL OR m.caller = $3) AND " \
	"($4::text IS NULL OR m.status = $4) AND ($5::uuid IS NULL OR " \
	"m.execution_id = $5) AND ($6::timestamptz IS NULL OR " \
	"(m.started_at, m.id) < ($6, $7::uuid)) ORDER BY m.started_at " \
	"DESC, m.id DESC LIMIT $8::integer) m"

/*
 * Webhook deliveries (migrations/005_webhook_events.sql), newest first:
 * $1 outcome ('pending': not handled yet), $2 event, $3 repository
 * (OWNER/NAME, any case), $4 received_at and $5 id of the previous page's
 * last row, $6 rows.
 */
#define UISQL_WEBHOOKS \
	"SELECT coalesce(jsonb_agg(jsonb_build_object('id', w.id, " \
	"'delivery_id', w.delivery_id, 'event', w.event, 'action', " \
	"w.action, 'repository', w.repository, 'payload_bytes', " \
	"w.payload_bytes, 'received_at', afu9_ts(w.received_at), " \
	"'redeliveries', w.redeliveries, 'outcome', coalesce(w.outcome, " \
	"'pending'), 'detail', left(w.detail, 1000), 'attempts', " \
	"w.attempts, 'executions', to_jsonb(w.executions), 'cursor', " \
	"to_char(w.received_at AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') || '/' || w.id) ORDER BY " \
	"w.received_at DESC, w.id DESC), '[]') FROM (SELECT * FROM " \
	"webhook_events w WHERE ($1::text IS NULL OR coalesce(w.outcome, " \
	"'pending') = $1) AND ($2::text IS NULL OR w.event = $2) AND " \
	"($3::text IS NULL OR lower(w.repository) = lower($3)) AND " \
	"($4::timestamptz IS NULL OR (w.received_at, w.id) < ($4, " \
	"$5::uuid)) ORDER BY w.received_at DESC, w.id DESC " \
	"LIMIT $6::integer) w"

#endif /* AFU9_UI_UISQL_H */
