/*
 * agent/agentsql: the statements on agent_runs and agent_messages
 * (migrations/003_agent_runs.sql), shared by the recorder (agentrec.c),
 * `afu9 agent show|list` and the HTTP API (api/agentapi.c).  Parameters
 * are text, cast here; no statement text ever carries a value.
 *
 * The recorder's writes are each safe to repeat (see the migration): a
 * run's insert does nothing when the id is there already, a message
 * nothing when its (run, seq) is, and totals are raised with greatest()
 * on a running row only, so a write sent again after its connection broke,
 * or arriving after a later one, changes nothing it should not.
 */
#ifndef AFU9_AGENT_AGENTSQL_H
#define AFU9_AGENT_AGENTSQL_H

/*
 * $1 id, $2 provider, $3 model, $4 task, $5 execution, $6 step, $7 the
 * run resumed, $8 params (jsonb): the row, status running.  A run that
 * resumes another closes that one when it is still running (its task
 * died with it): failed, "interrupted: resumed as run ID".  Answers
 * (inserted, closed) as counts: (0, 0) when the row was there already.
 */
#define AGENTSQL_BEGIN \
	"WITH r AS (INSERT INTO agent_runs (id, provider, model, task, " \
	"execution_id, step_id, resumed_from, params) VALUES ($1::uuid, $2, " \
	"$3, $4, $5::uuid, $6::uuid, $7::uuid, coalesce($8::jsonb, '{}')) " \
	"ON CONFLICT (id) DO NOTHING RETURNING id), o AS (UPDATE agent_runs " \
	"SET status = 'failed', finished_at = now(), error = " \
	"'interrupted: resumed as run ' || $1::uuid::text WHERE id = " \
	"$7::uuid AND status = 'running' AND EXISTS (SELECT 1 FROM r) " \
	"RETURNING id) " \
	"SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM o)"
#define AGENTSQL_BEGIN_N	8

/* $1 run, $2 seq, $3 role, $4 content (jsonb), $5..$8 input, output,
   cache read, cache write tokens (all NULL: no usage). */
#define AGENTSQL_MESSAGE \
	"INSERT INTO agent_messages (run_id, seq, role, content, " \
	"input_tokens, output_tokens, cache_read_tokens, cache_write_tokens) " \
	"VALUES ($1::uuid, $2::integer, $3, $4::jsonb, $5::bigint, " \
	"$6::bigint, $7::bigint, $8::bigint) ON CONFLICT (run_id, seq) DO " \
	"NOTHING"
#define AGENTSQL_MESSAGE_N	8

/* The totals of a running row raised to $2..$10: input, output, cache
   read, cache write tokens, cost (dollars), turns, tool calls, retries,
   messages dropped. */
#define AGENTSQL_TOTALS \
	"input_tokens = greatest(input_tokens, $2::bigint), " \
	"output_tokens = greatest(output_tokens, $3::bigint), " \
	"cache_read_tokens = greatest(cache_read_tokens, $4::bigint), " \
	"cache_write_tokens = greatest(cache_write_tokens, $5::bigint), " \
	"cost_usd = greatest(coalesce(cost_usd, 0), $6::numeric), " \
	"turns = greatest(turns, $7::integer), " \
	"tool_calls = greatest(tool_calls, $8::integer), " \
	"retries = greatest(retries, $9::integer), " \
	"messages_dropped = greatest(messages_dropped, $10::integer)"

/* $1 run, $2..$10 AGENTSQL_TOTALS. */
#define AGENTSQL_PROGRESS \
	"UPDATE agent_runs SET " AGENTSQL_TOTALS " WHERE id = $1::uuid AND " \
	"status = 'running'"
#define AGENTSQL_PROGRESS_N	10

/* $1 run, $2..$10 AGENTSQL_TOTALS, $11 status, $12 error, $13 result
   (jsonb): the end of a running row. */
#define AGENTSQL_FINISH \
	"UPDATE agent_runs SET " AGENTSQL_TOTALS ", status = $11, " \
	"error = $12, result = $13::jsonb, finished_at = now() WHERE " \
	"id = $1::uuid AND status = 'running'"
#define AGENTSQL_FINISH_N	13

/* $1 run, $2 first seq, $3 messages at most: afu9_agent_run_json()
   (NULL: no such run). */
#define AGENTSQL_RUN \
	"SELECT afu9_agent_run_json($1::uuid, $2::integer, $3::integer)"

/* $1 status, $2 execution, $3 rows, $4 started_at and $5 id of the
   previous page's last row: afu9_agent_runs_json(), newest first. */
#define AGENTSQL_RUNS \
	"SELECT afu9_agent_runs_json($1, $2::uuid, $3::integer, " \
	"$4::timestamptz, $5::uuid)"

/* The statuses of agent_runs, for checking user input. */
#define AGENTSQL_STATUSES	"running succeeded failed cancelled"

#endif /* AFU9_AGENT_AGENTSQL_H */
