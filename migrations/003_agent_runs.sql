-- 003_agent_runs: what the agent runner records (doc/agents.md, "What is
-- recorded"; doc/schema.md describes the columns).
--
-- The recorder (orchestrator/agent/agentrec.c) inserts the agent_runs row
-- when a run begins, updates its totals after every turn, and writes the
-- transcript one message per row.  Every write is safe to repeat: the
-- run's id is made by the orchestrator (a row sent twice is one row), a
-- message is keyed by (run, seq), and totals only grow (an update that
-- arrives late never takes a row back), so a write whose outcome was lost
-- with the connection is simply sent again.

-- Runs: tokens by every kind the providers bill, the turns and calls,
-- what the run was asked and how it ended, the run it resumes, and how
-- many transcript messages the recorder could not keep.
ALTER TABLE agent_runs
	ADD COLUMN cache_read_tokens bigint NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_cache_read_tokens_check
		CHECK (cache_read_tokens >= 0),
	ADD COLUMN cache_write_tokens bigint NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_cache_write_tokens_check
		CHECK (cache_write_tokens >= 0),
	ADD COLUMN turns integer NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_turns_check CHECK (turns >= 0),
	ADD COLUMN tool_calls integer NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_tool_calls_check CHECK (tool_calls >= 0),
	ADD COLUMN retries integer NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_retries_check CHECK (retries >= 0),
	ADD COLUMN task text
		CONSTRAINT agent_runs_task_check
		CHECK (octet_length(task) BETWEEN 1 AND 1048576),
	ADD COLUMN params jsonb NOT NULL DEFAULT '{}'
		CONSTRAINT agent_runs_params_check
		CHECK (jsonb_typeof(params) = 'object'),
	ADD COLUMN result jsonb
		CONSTRAINT agent_runs_result_check
		CHECK (jsonb_typeof(result) = 'object'),
	ADD COLUMN resumed_from uuid
		REFERENCES agent_runs (id) ON DELETE SET NULL,
	ADD COLUMN messages_dropped integer NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_messages_dropped_check
		CHECK (messages_dropped >= 0),
	ADD CONSTRAINT agent_runs_error_check
		CHECK (length(error) <= 65536),
	ADD CONSTRAINT agent_runs_resumed_from_check
		CHECK (resumed_from <> id);
-- Listings newest first by the keyset (started_at, id): all runs, one
-- status's.  One execution's runs use agent_runs_execution_idx (001).
DROP INDEX agent_runs_started_idx;
CREATE INDEX agent_runs_started_idx
	ON agent_runs (started_at DESC, id DESC);
CREATE INDEX agent_runs_status_idx
	ON agent_runs (status, started_at DESC, id DESC);
CREATE INDEX agent_runs_resumed_from_idx ON agent_runs (resumed_from)
	WHERE resumed_from IS NOT NULL;

-- The transcript: one row per message of a run's conversation, in order
-- (seq from 0), written once.  A message is named by its run and place,
-- never on its own, so (run_id, seq) is the key and there is no id.
-- Token counts are the provider's usage of the reply an assistant
-- message is; the other roles have none.
CREATE TABLE agent_messages (
	run_id		uuid		NOT NULL
		REFERENCES agent_runs (id) ON DELETE CASCADE,
	seq		integer		NOT NULL
		CONSTRAINT agent_messages_seq_check CHECK (seq >= 0),
	role		text		NOT NULL
		CONSTRAINT agent_messages_role_check
		CHECK (role IN ('system', 'user', 'assistant', 'tool')),
	content		jsonb		NOT NULL
		CONSTRAINT agent_messages_content_check
		CHECK (jsonb_typeof(content) = 'object'),
	input_tokens	bigint
		CONSTRAINT agent_messages_input_tokens_check
		CHECK (input_tokens >= 0),
	output_tokens	bigint
		CONSTRAINT agent_messages_output_tokens_check
		CHECK (output_tokens >= 0),
	cache_read_tokens bigint
		CONSTRAINT agent_messages_cache_read_tokens_check
		CHECK (cache_read_tokens >= 0),
	cache_write_tokens bigint
		CONSTRAINT agent_messages_cache_write_tokens_check
		CHECK (cache_write_tokens >= 0),
	created_at	timestamptz	NOT NULL DEFAULT now(),
	CONSTRAINT agent_messages_pkey PRIMARY KEY (run_id, seq),
	-- all four counts or none
	CONSTRAINT agent_messages_usage_check CHECK (
	    (input_tokens IS NULL) = (output_tokens IS NULL) AND
	    (input_tokens IS NULL) = (cache_read_tokens IS NULL) AND
	    (input_tokens IS NULL) = (cache_write_tokens IS NULL))
);

-- One run as JSON, for `afu9 agent show`, the HTTP API and the console:
-- its row (times in ISO 8601 UTC with milliseconds), and p_limit messages
-- of its transcript from seq p_from on, with next_seq when there are
-- more.  NULL when there is no such run.
CREATE FUNCTION afu9_agent_run_json(p_run uuid, p_from integer,
    p_limit integer) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	a agent_runs%ROWTYPE;
	msgs jsonb;
	last integer;
	more boolean;
BEGIN
	IF p_from IS NULL OR p_from < 0 OR p_limit IS NULL OR p_limit < 0 THEN
		RAISE EXCEPTION 'a transcript page starts at seq >= 0 and '
		    'holds >= 0 messages' USING ERRCODE = '22023';
	END IF;
	SELECT * INTO a FROM agent_runs WHERE id = p_run;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT coalesce(jsonb_agg(jsonb_build_object('seq', m.seq,
	    'role', m.role, 'content', m.content,
	    'usage', CASE WHEN m.input_tokens IS NOT NULL THEN
	        jsonb_build_object('input_tokens', m.input_tokens,
	        'output_tokens', m.output_tokens,
	        'cache_read_tokens', m.cache_read_tokens,
	        'cache_write_tokens', m.cache_write_tokens) END,
	    'created_at', afu9_ts(m.created_at)) ORDER BY m.seq), '[]'),
	    max(m.seq)
	    INTO msgs, last
	    FROM (SELECT * FROM agent_messages WHERE run_id = p_run AND
	    seq >= p_from ORDER BY seq LIMIT p_limit) m;
	more := EXISTS (SELECT 1 FROM agent_messages WHERE run_id = p_run
	    AND seq > coalesce(last, p_from - 1));
	RETURN jsonb_build_object('id', a.id,
	    'execution_id', a.execution_id, 'step_id', a.step_id,
	    'step', (SELECT s.step_name FROM workflow_steps s
	        WHERE s.id = a.step_id),
	    'provider', a.provider, 'model', a.model, 'status', a.status,
	    'task', a.task, 'params', a.params,
	    'input_tokens', a.input_tokens, 'output_tokens', a.output_tokens,
	    'cache_read_tokens', a.cache_read_tokens,
	    'cache_write_tokens', a.cache_write_tokens,
	    'cost_usd', a.cost_usd::text, 'turns', a.turns,
	    'tool_calls', a.tool_calls, 'retries', a.retries,
	    'error', a.error, 'result', a.result,
	    'resumed_from', a.resumed_from,
	    'resumed_by', (SELECT coalesce(jsonb_agg(r.id ORDER BY
	        r.started_at, r.id), '[]') FROM agent_runs r
	        WHERE r.resumed_from = a.id),
	    'messages_dropped', a.messages_dropped,
	    'messages_total', (SELECT count(*) FROM agent_messages
	        WHERE run_id = p_run),
	    'started_at', afu9_ts(a.started_at),
	    'finished_at', afu9_ts(a.finished_at),
	    'updated_at', afu9_ts(a.updated_at),
	    'duration_ms', round(extract(epoch FROM a.finished_at -
	        a.started_at) * 1000),
	    'messages', msgs,
	    'next_seq', CASE WHEN more THEN coalesce(last + 1, p_from) END);
END
$$;

-- One page of runs as a JSON array, newest first: p_status and
-- p_execution filter when not NULL; p_ts/p_id, the started_at and id of
-- the previous page's last row, start after it.  Built with only the
-- conditions given, as afu9_executions_json() (002) is, so each call is
-- planned for them.
CREATE FUNCTION afu9_agent_runs_json(p_status text, p_execution uuid,
    p_limit integer, p_ts timestamptz, p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	q text := 'SELECT * FROM agent_runs a WHERE true';
	r jsonb;
BEGIN
	IF p_limit IS NULL OR p_limit < 1 THEN
		RAISE EXCEPTION 'a page holds at least one run'
		    USING ERRCODE = '22023';
	END IF;
	IF (p_ts IS NULL) <> (p_id IS NULL) THEN
		RAISE EXCEPTION 'a cursor is a time and an id'
		    USING ERRCODE = '22023';
	END IF;
	IF p_status IS NOT NULL THEN
		q := q || ' AND a.status = $1';
	END IF;
	IF p_execution IS NOT NULL THEN
		q := q || ' AND a.execution_id = $2';
	END IF;
	IF p_ts IS NOT NULL THEN
		q := q || ' AND (a.started_at, a.id) < ($4, $5)';
	END IF;
	q := 'SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', a.id, '
	    '''execution_id'', a.execution_id, ''step_id'', a.step_id, '
	    '''provider'', a.provider, ''model'', a.model, ''status'', '
	    'a.status, ''task'', left(a.task, 200), ''input_tokens'', '
	    'a.input_tokens, ''output_tokens'', a.output_tokens, '
	    '''cache_read_tokens'', a.cache_read_tokens, '
	    '''cache_write_tokens'', a.cache_write_tokens, ''cost_usd'', '
	    'a.cost_usd::text, ''turns'', a.turns, ''tool_calls'', '
	    'a.tool_calls, ''error'', left(a.error, 200), ''resumed_from'', '
	    'a.resumed_from, ''started_at'', afu9_ts(a.started_at), '
	    '''finished_at'', afu9_ts(a.finished_at), ''cursor'', '
	    'to_char(a.started_at AT TIME ZONE ''UTC'', '
	    '''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'') || ''/'' || a.id) '
	    'ORDER BY a.started_at DESC, a.id DESC), ''[]'') FROM (' || q ||
	    ' ORDER BY a.started_at DESC, a.id DESC LIMIT $3) a';
	EXECUTE q INTO r USING p_status, p_execution, p_limit, p_ts, p_id;
	RETURN r;
END
$$;
