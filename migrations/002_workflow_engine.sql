-- 002_workflow_engine: what the durable workflow engine needs.
--
-- Every write the engine makes for an execution goes through one of the
-- functions below.  Each locks the execution's row and checks the
-- caller's fencing token (lease_token, increased at every claim) and the
-- status in SQL, and raises SQLSTATE AF001 when the caller no longer
-- holds the execution: a task that was paused past its lease and wakes
-- up cannot commit anything.  doc/workflows.md states the guarantees;
-- doc/schema.md describes the columns.

-- Executions: a fencing token, the step the execution is at, and the
-- state "waiting" (started, not leased: a durable sleep, a retry's
-- backoff, an approval; claimable again once run_after has passed;
-- 'infinity' waits for a decision).
ALTER TABLE workflow_executions
	ADD COLUMN lease_token bigint NOT NULL DEFAULT 0
		CONSTRAINT workflow_executions_lease_token_check
		CHECK (lease_token >= 0),
	ADD COLUMN next_step integer NOT NULL DEFAULT 0
		CONSTRAINT workflow_executions_next_step_check
		CHECK (next_step >= 0),
	ADD COLUMN cancelled_by text
		CONSTRAINT workflow_executions_cancelled_by_check
		CHECK (length(cancelled_by) BETWEEN 1 AND 255);
ALTER TABLE workflow_executions
	DROP CONSTRAINT workflow_executions_status_check,
	ADD CONSTRAINT workflow_executions_status_check
		CHECK (status IN ('pending', 'running', 'waiting', 'succeeded',
		    'failed', 'cancelled'));
-- Claims: due work (pending or waiting) by run_after; expired leases by
-- lease_expires_at (workflow_executions_lease_idx, from 001).
DROP INDEX workflow_executions_pending_idx;
CREATE INDEX workflow_executions_due_idx
	ON workflow_executions (run_after)
	WHERE status IN ('pending', 'waiting');

-- Steps: what kind of step, why it failed, the key passed to a write
-- tool, the claim that wrote it.
ALTER TABLE workflow_steps
	ADD COLUMN kind text NOT NULL DEFAULT 'tool'
		CONSTRAINT workflow_steps_kind_check
		CHECK (kind IN ('tool', 'approval', 'sleep', 'wait')),
	ADD COLUMN error_kind text
		CONSTRAINT workflow_steps_error_kind_check
		CHECK (error_kind IN ('tool', 'protocol', 'timeout',
		    'unavailable', 'expression', 'rejected', 'cancelled',
		    'interrupted', 'internal')),
	ADD COLUMN idempotency_key text
		CONSTRAINT workflow_steps_idempotency_key_check
		CHECK (length(idempotency_key) BETWEEN 1 AND 255),
	ADD COLUMN lease_token bigint NOT NULL DEFAULT 0,
	ADD COLUMN decided_by text
		CONSTRAINT workflow_steps_decided_by_check
		CHECK (length(decided_by) BETWEEN 1 AND 255);

-- Lock execution p_exec for a write by the holder of token p_token, or
-- raise AF001.
CREATE FUNCTION afu9_fence(p_exec uuid, p_token bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	tok bigint;
BEGIN
	SELECT status, lease_token INTO st, tok FROM workflow_executions
	    WHERE id = p_exec FOR NO KEY UPDATE;
	IF NOT FOUND OR st <> 'running' OR tok <> p_token THEN
		RAISE EXCEPTION USING ERRCODE = 'AF001',
		    MESSAGE = format('execution %s is not held with token %s'
		    ' (%s, token %s)', p_exec, p_token,
		    coalesce(st, 'gone'), coalesce(tok::text, '-'));
	END IF;
END
$$;

-- Store a workflow definition: a new version when its content changed
-- (jsonb equality: key order and spacing do not count), nothing when it
-- did not.  p_version NULL: the next one.  Concurrent applies of one name
-- are serialised.
CREATE FUNCTION afu9_workflow_apply(p_name text, p_version integer,
    p_description text, p_definition jsonb)
RETURNS TABLE (id uuid, version integer, created boolean)
LANGUAGE plpgsql AS $$
DECLARE
	l workflows%ROWTYPE;
	o workflows%ROWTYPE;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('afu9.workflow.' || p_name));
	SELECT * INTO l FROM workflows w WHERE w.name = p_name
	    ORDER BY w.version DESC LIMIT 1;
	IF p_version IS NOT NULL THEN
		SELECT * INTO o FROM workflows w
		    WHERE w.name = p_name AND w.version = p_version;
		IF FOUND THEN
			IF o.definition = p_definition THEN
				RETURN QUERY SELECT o.id, o.version, false;
				RETURN;
			END IF;
			RAISE EXCEPTION USING ERRCODE = 'AF003',
			    MESSAGE = format('version %s of workflow %s is'
			    ' stored with other content: give the next'
			    ' version (%s) or none', p_version, p_name,
			    l.version + 1);
		END IF;
		IF l.id IS NOT NULL AND p_version < l.version THEN
			RAISE EXCEPTION USING ERRCODE = 'AF003',
			    MESSAGE = format('version %s of workflow %s is'
			    ' older than the stored version %s', p_version,
			    p_name, l.version);
		END IF;
	ELSIF l.id IS NOT NULL AND l.definition = p_definition THEN
		RETURN QUERY SELECT l.id, l.version, false;
		RETURN;
	END IF;
	RETURN QUERY INSERT INTO workflows AS w (name, version, description,
	    definition)
	    VALUES (p_name, coalesce(p_version, coalesce(l.version, 0) + 1),
	    p_description, p_definition)
	    RETURNING w.id, w.version, true;
END
$$;

-- A new execution of workflow p_workflow (a row id), or, when
-- p_idempotency_key was used before, that execution (created false; an
-- error when it belongs to another workflow).  Wakes the engines.
CREATE FUNCTION afu9_execution_create(p_workflow uuid, p_input jsonb,
    p_idempotency_key text, p_triggered_by text)
RETURNS TABLE (id uuid, created boolean, status text)
LANGUAGE plpgsql AS $$
DECLARE
	e workflow_executions%ROWTYPE;
BEGIN
	INSERT INTO workflow_executions AS x (workflow_id, input,
	    idempotency_key, triggered_by)
	    VALUES (p_workflow, p_input, p_idempotency_key, p_triggered_by)
	    ON CONFLICT (idempotency_key) DO NOTHING
	    RETURNING * INTO e;
	IF FOUND THEN
		PERFORM pg_notify('afu9_work', '');
		RETURN QUERY SELECT e.id, true, e.status;
		RETURN;
	END IF;
	SELECT * INTO e FROM workflow_executions x
	    WHERE x.idempotency_key = p_idempotency_key;
	IF e.workflow_id IS DISTINCT FROM p_workflow AND NOT EXISTS (
	    SELECT 1 FROM workflows a JOIN workflows b ON a.name = b.name
	    WHERE a.id = e.workflow_id AND b.id = p_workflow) THEN
		RAISE EXCEPTION USING ERRCODE = 'AF004',
		    MESSAGE = format('idempotency key %L belongs to an'
		    ' execution of another workflow', p_idempotency_key);
	END IF;
	RETURN QUERY SELECT e.id, false, e.status;
END
$$;

-- Claim up to p_limit executions for p_owner for p_ttl_ms: first those
-- whose holder's lease expired (takeovers), then due ones, oldest first,
-- skipping rows other tasks are claiming.  Each claim increases the
-- execution's fencing token.  Returns what the engine needs to go on:
-- the definition, the input, the step it is at, and the latest attempt
-- of every step so far (times in ms since the epoch).
CREATE FUNCTION afu9_claim(p_owner text, p_ttl_ms integer, p_limit integer)
RETURNS TABLE (id uuid, token bigint, takeover boolean, waited_ms double
    precision, workflow_id uuid, next_step integer, input jsonb,
    definition jsonb, steps jsonb)
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	RETURN QUERY
	WITH c AS (
		SELECT x.id, x.lease_expires_at AS due
		FROM workflow_executions x
		WHERE x.status = 'running' AND x.lease_expires_at < now()
		ORDER BY x.lease_expires_at LIMIT p_limit
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE workflow_executions x SET lease_owner = p_owner,
		    lease_expires_at = now() + p_ttl_ms * interval '1 ms',
		    lease_token = x.lease_token + 1
		FROM c WHERE x.id = c.id
		RETURNING x.id, x.lease_token, c.due, x.workflow_id,
		    x.next_step, x.input
	)
	SELECT u.id, u.lease_token, true,
	    extract(epoch FROM clock_timestamp() - u.due)::float8 * 1000,
	    u.workflow_id, u.next_step, u.input, w.definition,
	    afu9_steps_json(u.id)
	FROM u JOIN workflows w ON w.id = u.workflow_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n >= p_limit THEN
		RETURN;
	END IF;
	RETURN QUERY
	WITH c AS (
		SELECT x.id, x.run_after AS due
		FROM workflow_executions x
		WHERE x.status IN ('pending', 'waiting')
		    AND x.run_after <= now()
		ORDER BY x.run_after LIMIT p_limit - n
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE workflow_executions x SET status = 'running',
		    lease_owner = p_owner,
		    lease_expires_at = now() + p_ttl_ms * interval '1 ms',
		    lease_token = x.lease_token + 1,
		    started_at = coalesce(x.started_at, now())
		FROM c WHERE x.id = c.id
		RETURNING x.id, x.lease_token, c.due, x.workflow_id,
		    x.next_step, x.input
	)
	SELECT u.id, u.lease_token, false,
	    greatest(extract(epoch FROM clock_timestamp() - u.due)::float8 *
	    1000, 0), u.workflow_id, u.next_step, u.input, w.definition,
	    afu9_steps_json(u.id)
	FROM u JOIN workflows w ON w.id = u.workflow_id;
END
$$;

-- The latest attempt of each step of execution p_exec, in step order, as
-- a JSON array of {i, id, name, attempt, kind, status, input, output,
-- error, error_kind, started_ms, finished_ms}.
CREATE FUNCTION afu9_steps_json(p_exec uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('i', s.step_index,
	    'id', s.id, 'name', s.step_name, 'attempt', s.attempt,
	    'kind', s.kind, 'status', s.status, 'input', s.input,
	    'output', s.output, 'error', s.error,
	    'error_kind', s.error_kind,
	    'started_ms', extract(epoch FROM s.started_at) * 1000,
	    'finished_ms', extract(epoch FROM s.finished_at) * 1000)
	    ORDER BY s.step_index), '[]'::jsonb)
	FROM (SELECT DISTINCT ON (step_index) * FROM workflow_steps
	    WHERE execution_id = p_exec
	    ORDER BY step_index, attempt DESC) s
$$;

-- Renew the leases p_owner holds on p_ids (with the tokens p_tokens, in
-- the same order); returns the ids still held.
CREATE FUNCTION afu9_heartbeat(p_owner text, p_ttl_ms integer,
    p_ids uuid[], p_tokens bigint[])
RETURNS SETOF uuid
LANGUAGE sql AS $$
	UPDATE workflow_executions x
	SET lease_expires_at = now() + p_ttl_ms * interval '1 ms'
	FROM unnest(p_ids, p_tokens) AS h(id, token)
	WHERE x.id = h.id AND x.lease_token = h.token
	    AND x.lease_owner = p_owner AND x.status = 'running'
	RETURNING x.id
$$;

-- Begin attempt p_attempt of step p_index: a running row.  Returns its
-- id (the row already there when this attempt was begun before).
CREATE FUNCTION afu9_step_begin(p_exec uuid, p_token bigint,
    p_index integer, p_name text, p_attempt integer, p_kind text,
    p_tool text, p_input jsonb, p_idempotency_key text)
RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
	sid uuid;
BEGIN
	PERFORM afu9_fence(p_exec, p_token);
	INSERT INTO workflow_steps (execution_id, step_index, step_name,
	    attempt, kind, status, tool, input, idempotency_key, lease_token,
	    started_at)
	    VALUES (p_exec, p_index, p_name, p_attempt, p_kind, 'running',
	    p_tool, p_input, p_idempotency_key, p_token, now())
	    ON CONFLICT (execution_id, step_index, attempt) DO NOTHING
	    RETURNING id INTO sid;
	IF sid IS NULL THEN
		SELECT s.id INTO sid FROM workflow_steps s
		    WHERE s.execution_id = p_exec AND s.step_index = p_index
		    AND s.attempt = p_attempt;
	END IF;
	RETURN sid;
END
$$;

-- Commit an attempt's outcome and where the execution goes next, in one
-- transaction.  p_step: the running row to finish; NULL: insert the
-- attempt finished (a step skipped by its `if`, or one that failed
-- before it could begin).  p_next: the step to go on with.  p_exec_status
-- ('succeeded' or 'failed'; NULL: the execution goes on) ends the
-- execution with p_exec_output / p_exec_error and gives up the lease.
-- p_index NULL with p_step NULL: no step, only the execution's move.
CREATE FUNCTION afu9_advance(p_exec uuid, p_token bigint, p_step uuid,
    p_index integer, p_name text, p_attempt integer, p_kind text,
    p_status text, p_output jsonb, p_error text, p_error_kind text,
    p_next integer, p_exec_status text, p_exec_output jsonb,
    p_exec_error text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM afu9_fence(p_exec, p_token);
	IF p_step IS NOT NULL THEN
		UPDATE workflow_steps SET status = p_status,
		    output = p_output, error = p_error,
		    error_kind = p_error_kind, finished_at = now()
		    WHERE id = p_step AND execution_id = p_exec
		    AND status = 'running';
		IF NOT FOUND THEN
			RAISE EXCEPTION USING ERRCODE = 'AF002',
			    MESSAGE = format('step %s of execution %s is not'
			    ' running', p_step, p_exec);
		END IF;
	ELSIF p_index IS NOT NULL THEN
		INSERT INTO workflow_steps (execution_id, step_index,
		    step_name, attempt, kind, status, output, error,
		    error_kind, lease_token, started_at, finished_at)
		    VALUES (p_exec, p_index, p_name, p_attempt, p_kind,
		    p_status, p_output, p_error, p_error_kind, p_token,
		    now(), now());
	END IF;
	IF p_exec_status IS NULL THEN
		UPDATE workflow_executions SET next_step = p_next
		    WHERE id = p_exec;
	ELSE
		UPDATE workflow_executions SET next_step = p_next,
		    status = p_exec_status, output = p_exec_output,
		    error = p_exec_error, finished_at = now(),
		    lease_owner = NULL, lease_expires_at = NULL
		    WHERE id = p_exec;
	END IF;
	-- the console's live pages (delivered at commit, with the outcome)
	PERFORM pg_notify('afu9_step', p_exec::text);
END
$$;

-- Give up the lease until p_run_after ('infinity': until a decision).
-- When the step p_step is no longer running (an approval decided
-- meanwhile), the execution is due at once instead.
CREATE FUNCTION afu9_park(p_exec uuid, p_token bigint, p_run_after
    timestamptz, p_step uuid)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	due timestamptz := p_run_after;
BEGIN
	PERFORM afu9_fence(p_exec, p_token);
	IF p_step IS NOT NULL AND NOT EXISTS (SELECT 1 FROM workflow_steps
	    WHERE id = p_step AND status = 'running') THEN
		due := now();
	END IF;
	UPDATE workflow_executions SET status = 'waiting', run_after = due,
	    lease_owner = NULL, lease_expires_at = NULL
	    WHERE id = p_exec;
	IF due <= now() THEN
		PERFORM pg_notify('afu9_work', '');
	END IF;
END
$$;

-- Give back every lease p_owner holds (a task stopping): its executions
-- are due at once for the other tasks.  Returns how many.
CREATE FUNCTION afu9_release(p_owner text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	UPDATE workflow_executions SET status = 'waiting', run_after = now(),
	    lease_owner = NULL, lease_expires_at = NULL
	    WHERE lease_owner = p_owner AND status = 'running';
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM pg_notify('afu9_work', '');
	END IF;
	RETURN n;
END
$$;

-- Cancel an execution that has not finished: it ends now, its running
-- steps are cancelled, its holder is told (afu9_cancel).  Returns the
-- execution's status afterwards (a finished one is left as it was), or
-- NULL when there is no such execution.
CREATE FUNCTION afu9_cancel(p_exec uuid, p_by text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	st text;
BEGIN
	SELECT status INTO st FROM workflow_executions WHERE id = p_exec
	    FOR NO KEY UPDATE;
	IF NOT FOUND OR st IN ('succeeded', 'failed', 'cancelled') THEN
		RETURN st;
	END IF;
	UPDATE workflow_steps SET status = 'cancelled',
	    error_kind = 'cancelled',
	    error = format('cancelled by %s', p_by), finished_at = now()
	    WHERE execution_id = p_exec AND status = 'running';
	UPDATE workflow_executions SET status = 'cancelled',
	    error = format('cancelled by %s', p_by), cancelled_by = p_by,
	    finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
	    WHERE id = p_exec;
	PERFORM pg_notify('afu9_cancel', p_exec::text);
	RETURN 'cancelled';
END
$$;

-- Approve (p_approve) or reject the approval step p_step (its id in the
-- definition) of execution p_exec, which must be waiting for it.  The
-- execution is due at once.  Raises AF002 when it is not waiting there.
CREATE FUNCTION afu9_decide(p_exec uuid, p_step text, p_approve boolean,
    p_by text, p_comment text)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	st text;
	sid uuid;
BEGIN
	SELECT status INTO st FROM workflow_executions WHERE id = p_exec
	    FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'AF002',
		    MESSAGE = format('no execution %s', p_exec);
	END IF;
	SELECT id INTO sid FROM workflow_steps
	    WHERE execution_id = p_exec AND step_name = p_step
	    AND kind = 'approval' AND status = 'running'
	    ORDER BY attempt DESC LIMIT 1;
	IF sid IS NULL OR st NOT IN ('running', 'waiting') THEN
		RAISE EXCEPTION USING ERRCODE = 'AF002',
		    MESSAGE = format('execution %s is not waiting for an'
		    ' approval of step %s (it is %s)', p_exec, p_step, st);
	END IF;
	UPDATE workflow_steps SET
	    status = CASE WHEN p_approve THEN 'succeeded' ELSE 'failed' END,
	    output = jsonb_build_object('approved', p_approve, 'by', p_by,
	    'comment', p_comment),
	    error = CASE WHEN p_approve THEN NULL ELSE
	    format('rejected by %s', p_by) ||
	    coalesce(': ' || p_comment, '') END,
	    error_kind = CASE WHEN p_approve THEN NULL ELSE 'rejected' END,
	    decided_by = p_by, finished_at = now()
	    WHERE id = sid;
	IF st = 'waiting' THEN
		UPDATE workflow_executions SET run_after = now()
		    WHERE id = p_exec;
	END IF;
	PERFORM pg_notify('afu9_work', '');
END
$$;

-- One execution as JSON, for `afu9 workflow status|logs` and the HTTP
-- API: its row, its workflow's name and version, and every attempt of
-- every step in order (times in ISO 8601 UTC with milliseconds).  NULL
-- when there is no such execution.
CREATE FUNCTION afu9_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION afu9_execution_json(p_exec uuid) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('id', x.id, 'workflow', w.name,
	    'version', w.version, 'status', x.status, 'input', x.input,
	    'output', x.output, 'error', x.error,
	    'triggered_by', x.triggered_by,
	    'idempotency_key', x.idempotency_key,
	    'next_step', x.next_step, 'steps_total',
	    jsonb_array_length(w.definition->'steps'),
	    'lease_owner', x.lease_owner, 'lease_token', x.lease_token,
	    'created_at', afu9_ts(x.created_at),
	    'started_at', afu9_ts(x.started_at),
	    'finished_at', afu9_ts(x.finished_at),
	    'run_after', CASE WHEN x.status = 'waiting' THEN
	        CASE WHEN x.run_after = 'infinity' THEN 'infinity'
	        ELSE afu9_ts(x.run_after) END END,
	    'steps', coalesce((SELECT jsonb_agg(jsonb_build_object(
	        'index', s.step_index, 'step', s.step_name,
	        'attempt', s.attempt, 'kind', s.kind, 'status', s.status,
	        'tool', s.tool, 'input', s.input, 'output', s.output,
	        'error', s.error, 'error_kind', s.error_kind,
	        'decided_by', s.decided_by,
	        'started_at', afu9_ts(s.started_at),
	        'finished_at', afu9_ts(s.finished_at),
	        'duration_ms', round(extract(epoch FROM s.finished_at -
	            s.started_at) * 1000))
	        ORDER BY s.started_at, s.step_index, s.attempt)
	        FROM workflow_steps s WHERE s.execution_id = x.id), '[]'))
	FROM workflow_executions x JOIN workflows w ON w.id = x.workflow_id
	WHERE x.id = p_exec
$$;

-- Listings newest first, a page at a time by the keyset (created_at, id)
-- of the last row shown: every execution, one status's, one workflow's.
CREATE INDEX workflow_executions_created_idx
	ON workflow_executions (created_at DESC, id DESC);
DROP INDEX workflow_executions_status_idx;
CREATE INDEX workflow_executions_status_idx
	ON workflow_executions (status, created_at DESC, id DESC);
DROP INDEX workflow_executions_workflow_idx;
CREATE INDEX workflow_executions_workflow_idx
	ON workflow_executions (workflow_id, created_at DESC, id DESC);

-- One page of executions as a JSON array, newest first: p_status and
-- p_workflow (a name) filter when not NULL; p_ts/p_id, the created_at and
-- id of the previous page's last row, start after it.  The statement is
-- built with only the conditions given, so each call is planned for
-- them (a prepared "x IS NULL OR ..." gets a generic plan that scans the
-- whole table once a client has run it five times).
CREATE FUNCTION afu9_executions_json(p_status text, p_workflow text,
    p_limit integer, p_ts timestamptz, p_id uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	q text := 'SELECT * FROM workflow_executions x WHERE true';
	r jsonb;
BEGIN
	IF p_limit IS NULL OR p_limit < 1 THEN
		RAISE EXCEPTION 'a page holds at least one execution'
		    USING ERRCODE = '22023';
	END IF;
	IF (p_ts IS NULL) <> (p_id IS NULL) THEN
		RAISE EXCEPTION 'a cursor is a time and an id'
		    USING ERRCODE = '22023';
	END IF;
	IF p_status IS NOT NULL THEN
		q := q || ' AND x.status = $1';
	END IF;
	IF p_workflow IS NOT NULL THEN
		q := q || ' AND x.workflow_id IN (SELECT id FROM workflows '
		    'WHERE name = $2)';
	END IF;
	IF p_ts IS NOT NULL THEN
		q := q || ' AND (x.created_at, x.id) < ($4, $5)';
	END IF;
	q := 'SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', x.id, '
	    '''workflow'', w.name, ''version'', w.version, ''status'', '
	    'x.status, ''error'', x.error, ''next_step'', x.next_step, '
	    '''created_at'', afu9_ts(x.created_at), ''started_at'', '
	    'afu9_ts(x.started_at), ''finished_at'', afu9_ts(x.finished_at), '
	    '''cursor'', to_char(x.created_at AT TIME ZONE ''UTC'', '
	    '''YYYY-MM-DD"T"HH24:MI:SS.US"Z"'') || ''/'' || x.id) '
	    'ORDER BY x.created_at DESC, x.id DESC), ''[]'') FROM (' || q ||
	    ' ORDER BY x.created_at DESC, x.id DESC LIMIT $3) x '
	    'JOIN workflows w ON w.id = x.workflow_id';
	EXECUTE q INTO r USING p_status, p_workflow, p_limit, p_ts, p_id;
	RETURN r;
END
$$;

-- The console's listings (orchestrator/ui/uisql.h), by keyset: one
-- repository's executions; the audit log newest first, whole, one
-- server's, its failures; one execution's calls in order.
CREATE INDEX workflow_executions_repository_created_idx
	ON workflow_executions (repository_id, created_at DESC, id DESC)
	WHERE repository_id IS NOT NULL;
DROP INDEX mcp_tool_calls_started_idx;
CREATE INDEX mcp_tool_calls_started_idx
	ON mcp_tool_calls (started_at DESC, id DESC);
DROP INDEX mcp_tool_calls_server_started_idx;
CREATE INDEX mcp_tool_calls_server_started_idx
	ON mcp_tool_calls (server, started_at DESC, id DESC);
CREATE INDEX mcp_tool_calls_failed_idx
	ON mcp_tool_calls (started_at DESC, id DESC) WHERE status = 'failed';
DROP INDEX mcp_tool_calls_execution_idx;
CREATE INDEX mcp_tool_calls_execution_idx
	ON mcp_tool_calls (execution_id, started_at, id)
	WHERE execution_id IS NOT NULL;
