-- 005_webhook_events: GitHub webhook deliveries, recorded before they are
-- answered and handled from the table afterwards (doc/webhooks.md).
--
-- The receiver (orchestrator/api/webhook.c) verifies a delivery's
-- signature, then records it with afu9_webhook_record() and answers.
-- Handlers on any task claim recorded deliveries with
-- afu9_webhook_claim() (FOR UPDATE SKIP LOCKED and a lease, as the
-- engine claims executions) and commit what each one did with
-- afu9_webhook_finish(), which also starts its executions, in one
-- transaction.  doc/schema.md describes the columns.

CREATE TABLE webhook_events (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	-- X-GitHub-Delivery: GitHub keeps it for a redelivery
	delivery_id	text		NOT NULL
		CONSTRAINT webhook_events_delivery_id_key UNIQUE
		CONSTRAINT webhook_events_delivery_id_check
		CHECK (delivery_id ~ '^[A-Za-z0-9._-]{1,100}$'),
	event		text		NOT NULL
		CONSTRAINT webhook_events_event_check
		CHECK (event ~ '^[a-z][a-z0-9_]{0,63}$'),
	action		text
		CONSTRAINT webhook_events_action_check
		CHECK (length(action) BETWEEN 1 AND 255),
	repository	text
		CONSTRAINT webhook_events_repository_check
		CHECK (length(repository) BETWEEN 3 AND 255),
	hook_id		bigint,
	payload_bytes	integer		NOT NULL
		CONSTRAINT webhook_events_payload_bytes_check
		CHECK (payload_bytes >= 0),
	-- the body as GitHub signed it, until it is handled
	payload		json,
	received_at	timestamptz	NOT NULL DEFAULT now(),
	redeliveries	integer		NOT NULL DEFAULT 0,
	last_received_at timestamptz	NOT NULL DEFAULT now(),
	claimed_by	text,
	claim_expires_at timestamptz,
	claim_token	bigint		NOT NULL DEFAULT 0,
	attempts	integer		NOT NULL DEFAULT 0,
	processed_at	timestamptz,
	outcome		text
		CONSTRAINT webhook_events_outcome_check
		CHECK (outcome IN ('started', 'woke', 'ignored', 'failed')),
	detail		text,
	executions	uuid[]		NOT NULL DEFAULT '{}',
	CONSTRAINT webhook_events_claim_check
		CHECK ((claimed_by IS NULL) = (claim_expires_at IS NULL)),
	CONSTRAINT webhook_events_processed_check
		CHECK ((processed_at IS NULL) = (outcome IS NULL)),
	CONSTRAINT webhook_events_payload_check
		CHECK (processed_at IS NULL OR payload IS NULL)
);
-- Claims: what is not handled yet, oldest first.
CREATE INDEX webhook_events_pending_idx ON webhook_events (received_at)
	WHERE processed_at IS NULL;
-- Listings newest first (the console, `afu9 webhooks list`).
CREATE INDEX webhook_events_received_idx
	ON webhook_events (received_at DESC, id DESC);

-- Record a delivery whose signature was verified: p_payload is the body
-- as received (JSON text; SQLSTATE 22P02 when it is not JSON, 22023
-- when it is not an object).  A delivery id seen before is counted as a
-- redelivery and changes nothing else (duplicate true).  A new one
-- wakes the handlers (afu9_webhook).
CREATE FUNCTION afu9_webhook_record(p_delivery text, p_event text,
    p_hook_id bigint, p_payload text)
RETURNS TABLE (id uuid, duplicate boolean, outcome text)
LANGUAGE plpgsql AS $$
DECLARE
	j json := p_payload::json;
	r record;
BEGIN
	IF json_typeof(j) <> 'object' THEN
		RAISE EXCEPTION USING ERRCODE = '22023',
		    MESSAGE = 'a webhook payload is a JSON object';
	END IF;
	INSERT INTO webhook_events AS w (delivery_id, event, action,
	    repository, hook_id, payload_bytes, payload)
	    VALUES (p_delivery, p_event,
	    nullif(left(j->>'action', 255), ''),
	    nullif(left(j->'repository'->>'full_name', 255), ''), p_hook_id,
	    octet_length(p_payload), j)
	    ON CONFLICT (delivery_id) DO UPDATE
	    SET redeliveries = w.redeliveries + 1, last_received_at = now()
	    RETURNING w.id, w.redeliveries > 0 AS dup, w.outcome INTO r;
	IF NOT r.dup THEN
		PERFORM pg_notify('afu9_webhook', '');
	END IF;
	RETURN QUERY SELECT r.id, r.dup, r.outcome;
END
$$;

-- Claim up to p_limit deliveries not handled yet for p_owner for
-- p_ttl_ms, oldest first: those nobody holds and those whose holder's
-- lease expired (a task that died), skipping rows other tasks are
-- claiming.  Each claim increases claim_token (the fencing token
-- afu9_webhook_finish() checks) and attempts.  With the repository's
-- row of the repositories table, when it has one.
CREATE FUNCTION afu9_webhook_claim(p_owner text, p_ttl_ms integer,
    p_limit integer)
RETURNS TABLE (id uuid, token bigint, delivery_id text, event text,
    action text, repository text, attempts integer, payload json,
    repository_id uuid, default_branch text)
LANGUAGE sql AS $$
	WITH c AS (
		SELECT w.id FROM webhook_events w
		WHERE w.processed_at IS NULL AND (w.claim_expires_at IS NULL
		    OR w.claim_expires_at < now())
		ORDER BY w.received_at LIMIT p_limit
		FOR UPDATE SKIP LOCKED
	), u AS (
		UPDATE webhook_events w SET claimed_by = p_owner,
		    claim_expires_at = now() + p_ttl_ms * interval '1 ms',
		    claim_token = w.claim_token + 1, attempts = w.attempts + 1
		FROM c WHERE w.id = c.id
		RETURNING w.*
	)
	SELECT u.id, u.claim_token, u.delivery_id, u.event, u.action,
	    u.repository, u.attempts, u.payload, r.id, r.default_branch
	FROM u LEFT JOIN repositories r
	    ON lower(r.owner || '/' || r.name) = lower(u.repository)
	ORDER BY u.received_at
$$;

-- The wake-up contract for steps that wait on a repository's checks:
-- check runs or a check suite of repository p_owner/p_repo (compared
-- without case) completed on commit p_sha (NULL: any commit).  Every
-- execution parked ('waiting') at a wait step whose running attempt's
-- input names that repository as {"owner": ..., "repo": ...} and, when
-- its input's "sha", "head_sha" or "ref" (the first present) is a commit
-- SHA (40 hex digits), that commit (a branch or tag: any commit), is due
-- now (run_after = now(); the engines are woken with afu9_work), so its
-- next poll comes at once instead of after its interval.  An engine
-- holding such a wait in memory learns of it on the afu9_checks channel
-- (payload {"owner", "repo", "sha"}).  Returns how many executions were
-- made due.  Safe to call twice: it only moves run_after earlier.
CREATE FUNCTION afu9_checks_completed(p_owner text, p_repo text,
    p_sha text)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
	n integer;
BEGIN
	UPDATE workflow_executions x SET run_after = now()
	WHERE x.status = 'waiting' AND x.run_after > now()
	    AND EXISTS (SELECT 1 FROM workflow_steps s
	    WHERE s.execution_id = x.id AND s.kind = 'wait'
	    AND s.status = 'running'
	    AND lower(s.input->>'owner') = lower(p_owner)
	    AND lower(s.input->>'repo') = lower(p_repo)
	    AND (p_sha IS NULL OR coalesce(s.input->>'sha',
	        s.input->>'head_sha', s.input->>'ref') IS NULL
	        OR lower(coalesce(s.input->>'sha', s.input->>'head_sha',
	        s.input->>'ref')) !~ '^[0-9a-f]{40}$'
	        OR lower(coalesce(s.input->>'sha', s.input->>'head_sha',
	        s.input->>'ref')) = lower(p_sha)));
	GET DIAGNOSTICS n = ROW_COUNT;
	IF n > 0 THEN
		PERFORM pg_notify('afu9_work', '');
	END IF;
	PERFORM pg_notify('afu9_checks', json_build_object('owner', p_owner,
	    'repo', p_repo, 'sha', p_sha)::text);
	RETURN n;
END
$$;

-- Commit what was done for delivery p_id, claimed with token p_token
-- (SQLSTATE AF005 when the claim is no longer the caller's: another task
-- took it over, or it is handled already).  p_runs: the executions to
-- start, a JSON array of {"workflow": ID, "input": {...}, "rule": N},
-- each created with the idempotency key webhook:DELIVERY:N (so a start
-- repeated for any reason finds the execution it made) and with the
-- delivery's repository; p_checks: {"owner", "repo", "sha"} to pass to
-- afu9_checks_completed(), or NULL.  The payload is dropped: it was kept
-- only to be handled.  Returns the executions (one per run, in order).
CREATE FUNCTION afu9_webhook_finish(p_id uuid, p_token bigint,
    p_outcome text, p_detail text, p_runs jsonb, p_checks jsonb)
RETURNS uuid[]
LANGUAGE plpgsql AS $$
DECLARE
	w webhook_events%ROWTYPE;
	run jsonb;
	ex uuid;
	ids uuid[] := '{}';
	repo uuid;
	n integer;
BEGIN
	SELECT * INTO w FROM webhook_events e WHERE e.id = p_id FOR UPDATE;
	IF NOT FOUND OR w.processed_at IS NOT NULL OR
	    w.claim_token <> p_token THEN
		RAISE EXCEPTION USING ERRCODE = 'AF005',
		    MESSAGE = format('delivery %s is not held with token %s',
		    coalesce(w.delivery_id, p_id::text), p_token);
	END IF;
	SELECT r.id INTO repo FROM repositories r
	    WHERE lower(r.owner || '/' || r.name) = lower(w.repository);
	FOR run IN SELECT * FROM jsonb_array_elements(coalesce(p_runs,
	    '[]'))
	LOOP
		SELECT c.id INTO ex FROM afu9_execution_create(
		    (run->>'workflow')::uuid, run->'input',
		    format('webhook:%s:%s', w.delivery_id, run->>'rule'),
		    format('webhook %s', w.delivery_id)) c;
		UPDATE workflow_executions SET repository_id = repo
		    WHERE id = ex AND repository_id IS NULL AND repo IS NOT NULL;
		ids := ids || ex;
	END LOOP;
	IF p_checks IS NOT NULL THEN
		n := afu9_checks_completed(p_checks->>'owner',
		    p_checks->>'repo', p_checks->>'sha');
		p_detail := coalesce(p_detail || '; ', '') ||
		    format('%s waiting execution(s) due now', n);
	END IF;
	UPDATE webhook_events SET processed_at = now(), outcome = p_outcome,
	    detail = left(p_detail, 4096), executions = ids, payload = NULL,
	    claimed_by = NULL, claim_expires_at = NULL
	    WHERE id = p_id;
	RETURN ids;
END
$$;

-- One page of deliveries, newest first, as a JSON array (the console,
-- `afu9 webhooks list`): p_outcome filters ('pending': not handled yet;
-- NULL: all); p_ts/p_id, the received_at and id of the previous page's
-- last row, start after it.
CREATE FUNCTION afu9_webhook_events_json(p_outcome text, p_limit integer,
    p_ts timestamptz, p_id uuid)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_object('id', w.id,
	    'delivery_id', w.delivery_id, 'event', w.event,
	    'action', w.action, 'repository', w.repository,
	    'hook_id', w.hook_id, 'payload_bytes', w.payload_bytes,
	    'received_at', afu9_ts(w.received_at),
	    'redeliveries', w.redeliveries,
	    'processed_at', afu9_ts(w.processed_at),
	    'outcome', coalesce(w.outcome, 'pending'), 'detail', w.detail,
	    'attempts', w.attempts, 'executions', to_jsonb(w.executions),
	    'cursor', to_char(w.received_at AT TIME ZONE 'UTC',
	    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '/' || w.id)
	    ORDER BY w.received_at DESC, w.id DESC), '[]')
	FROM (SELECT * FROM webhook_events e
	    WHERE (p_outcome IS NULL OR coalesce(e.outcome, 'pending') =
	        p_outcome)
	    AND (p_ts IS NULL OR (e.received_at, e.id) < (p_ts, p_id))
	    ORDER BY e.received_at DESC, e.id DESC LIMIT p_limit) w
$$;
