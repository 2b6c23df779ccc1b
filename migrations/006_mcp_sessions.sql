-- 006_mcp_sessions: remote MCP (Streamable HTTP at /mcp) sessions and
-- the event logs of their SSE streams, kept here rather than in a task's
-- memory so that any orchestrator task behind the load balancer serves
-- any session and resumes any stream (Last-Event-ID).  doc/schema.md
-- describes the columns; orchestrator/api/mcphttp.h the protocol.
--
-- A task is known by the backend pid of its own database connection
-- (pg_backend_pid()): while that connection lives, the task does; a
-- task that was killed drops it, and the requests it was running are
-- then seen as orphans by the others.

-- One row per session.  id is the BLAKE2b digest (hex) of the
-- Mcp-Session-Id the client holds, never the value itself.
CREATE TABLE mcp_sessions (
	id		text PRIMARY KEY
		CONSTRAINT mcp_sessions_id_check CHECK (id ~ '^[0-9a-f]{64}$'),
	principal	text NOT NULL
		CONSTRAINT mcp_sessions_principal_check
		CHECK (length(principal) BETWEEN 1 AND 255),
	protocol_version text NOT NULL
		CONSTRAINT mcp_sessions_protocol_version_check
		CHECK (protocol_version ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'),
	client_name	text
		CONSTRAINT mcp_sessions_client_name_check
		CHECK (length(client_name) <= 255),
	client_version	text
		CONSTRAINT mcp_sessions_client_version_check
		CHECK (length(client_version) <= 255),
	log_level	text NOT NULL DEFAULT 'info'
		CONSTRAINT mcp_sessions_log_level_check
		CHECK (log_level IN ('debug', 'info', 'notice', 'warning',
		    'error', 'critical', 'alert', 'emergency')),
	created		timestamptz NOT NULL DEFAULT now(),
	last_seen	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_sessions_last_seen_idx ON mcp_sessions (last_seen);

-- One row per SSE stream: a POST's answer to one request (request_id is
-- the request's id as JSON text) or the session's GET stream (request_id
-- NULL, at most one).  done: the response is in the log (the stream
-- ends after it).
CREATE TABLE mcp_streams (
	id		bigserial PRIMARY KEY,
	session_id	text NOT NULL REFERENCES mcp_sessions ON DELETE CASCADE,
	request_id	text
		CONSTRAINT mcp_streams_request_id_check
		CHECK (length(request_id) BETWEEN 1 AND 1024),
	owner_pid	integer,	-- backend of the task running it
	done		boolean NOT NULL DEFAULT false,
	created		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_streams_session_idx ON mcp_streams (session_id);
CREATE UNIQUE INDEX mcp_streams_get_idx ON mcp_streams (session_id)
	WHERE request_id IS NULL;

-- The messages sent on a stream, in order; an event's SSE id is
-- "<stream id>-<event id>".
CREATE TABLE mcp_events (
	id		bigserial PRIMARY KEY,
	stream_id	bigint NOT NULL REFERENCES mcp_streams ON DELETE CASCADE,
	message		text NOT NULL,
	created		timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mcp_events_stream_idx ON mcp_events (stream_id, id);

-- Is the task whose connection had backend pid p_pid alive?
CREATE FUNCTION afu9_mcp_alive(p_pid integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
	SELECT p_pid IS NOT NULL AND EXISTS
	    (SELECT 1 FROM pg_stat_activity WHERE pid = p_pid)
$$;

-- Open a session unless p_max sessions seen within p_idle_s seconds
-- exist already (serialised, so tasks opening sessions at once cannot
-- pass the bound together).  true, or false when full.
CREATE FUNCTION afu9_mcp_session_open(p_id text, p_principal text,
    p_version text, p_client_name text, p_client_version text,
    p_idle_s integer, p_max integer) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(hashtext('afu9_mcp_session_open'));
	IF (SELECT count(*) FROM mcp_sessions WHERE last_seen >
	    now() - make_interval(secs => p_idle_s)) >= p_max THEN
		RETURN false;
	END IF;
	INSERT INTO mcp_sessions (id, principal, protocol_version,
	    client_name, client_version)
	VALUES (p_id, p_principal, p_version, p_client_name,
	    p_client_version);
	RETURN true;
END
$$;

-- A stream for request p_request of session p_session run by this task,
-- unless the session has p_max streams not done already; its id, or
-- NULL when it has.
CREATE FUNCTION afu9_mcp_stream_open(p_session text, p_request text,
    p_max integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	PERFORM 1 FROM mcp_sessions WHERE id = p_session FOR UPDATE;
	IF NOT FOUND OR (SELECT count(*) FROM mcp_streams
	    WHERE session_id = p_session AND NOT done
	    AND request_id IS NOT NULL) >= p_max THEN
		RETURN NULL;
	END IF;
	INSERT INTO mcp_streams (session_id, request_id, owner_pid)
	VALUES (p_session, p_request, pg_backend_pid())
	RETURNING id INTO v_id;
	RETURN v_id;
END
$$;

-- Append message p_message to stream p_stream (p_final: it is the
-- response, and the stream is done) and wake the tasks following it
-- (NOTIFY afu9_mcp, payload "s <stream id>").  The event's id, or NULL
-- when the stream is gone (its session ended) or already done.
CREATE FUNCTION afu9_mcp_event(p_stream bigint, p_message text,
    p_final boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	v_id bigint;
BEGIN
	UPDATE mcp_streams SET done = p_final
	WHERE id = p_stream AND NOT done;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO mcp_events (stream_id, message)
	VALUES (p_stream, p_message) RETURNING id INTO v_id;
	PERFORM pg_notify('afu9_mcp', 's ' || p_stream);
	RETURN v_id;
END
$$;

-- A request stream whose task died before it answered: its response is
-- a JSON-RPC error saying so (p_message, the error's message), so the
-- client is not left waiting.  true when this call wrote it.
CREATE FUNCTION afu9_mcp_orphan(p_stream bigint, p_message text)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
	v_req text;
BEGIN
	SELECT request_id INTO v_req FROM mcp_streams
	WHERE id = p_stream AND NOT done AND request_id IS NOT NULL
	    AND NOT afu9_mcp_alive(owner_pid)
	FOR UPDATE;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	RETURN afu9_mcp_event(p_stream, '{"jsonrpc":"2.0","id":' || v_req ||
	    ',"error":{"code":-32603,"message":' || to_json(p_message)::text ||
	    '}}', true) IS NOT NULL;
END
$$;

-- Open the GET stream of session p_session on this task: its stream id
-- and the newest event id on it (the client gets what follows).  The
-- task holding it before, if any, ends its copy (NOTIFY afu9_mcp,
-- payload "g <session> <backend pid>"), so that a message is sent on
-- one stream only.  No row when the session does not exist.
CREATE FUNCTION afu9_mcp_get_open(p_session text,
    OUT stream_id bigint, OUT last_event bigint)
RETURNS SETOF record
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE mcp_sessions SET last_seen = now() WHERE id = p_session;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	INSERT INTO mcp_streams (session_id, request_id)
	VALUES (p_session, NULL)
	ON CONFLICT (session_id) WHERE request_id IS NULL DO NOTHING;
	SELECT s.id, coalesce((SELECT max(e.id) FROM mcp_events e
	    WHERE e.stream_id = s.id), 0)
	INTO stream_id, last_event
	FROM mcp_streams s
	WHERE s.session_id = p_session AND s.request_id IS NULL;
	PERFORM pg_notify('afu9_mcp', 'g ' || p_session || ' ' ||
	    pg_backend_pid());
	RETURN NEXT;
END
$$;
