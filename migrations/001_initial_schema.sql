-- 001_initial_schema: the seven AFU-9 tables.
--
-- Applied by `afu9 migrate up` inside one transaction together with its
-- schema_migrations row: no BEGIN/COMMIT in here.  Once applied anywhere,
-- this file never changes (its sha256 is recorded); changes go in a new
-- numbered file.  doc/schema.md describes every column.

-- One trigger function keeps every updated_at honest.
CREATE FUNCTION afu9_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END
$$;

-- Workflow definitions.  A new version of a workflow is a new row, so an
-- execution keeps pointing at the exact definition it ran.
CREATE TABLE workflows (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	name		text		NOT NULL
		CONSTRAINT workflows_name_check
		CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
	version		integer		NOT NULL DEFAULT 1
		CONSTRAINT workflows_version_check CHECK (version >= 1),
	description	text,
	definition	jsonb		NOT NULL
		CONSTRAINT workflows_definition_check
		CHECK (jsonb_typeof(definition) = 'object'),
	enabled		boolean		NOT NULL DEFAULT true,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	CONSTRAINT workflows_name_version_key UNIQUE (name, version)
);

-- GitHub repositories afu9 works on.
CREATE TABLE repositories (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	owner		text		NOT NULL
		CONSTRAINT repositories_owner_check
		CHECK (owner ~ '^[A-Za-z0-9][A-Za-z0-9-]{0,38}$'),
	name		text		NOT NULL
		CONSTRAINT repositories_name_check
		CHECK (name ~ '^[A-Za-z0-9._-]{1,100}$'),
	default_branch	text		NOT NULL DEFAULT 'main'
		CONSTRAINT repositories_default_branch_check
		CHECK (length(default_branch) BETWEEN 1 AND 255),
	github_id	bigint
		CONSTRAINT repositories_github_id_key UNIQUE,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	CONSTRAINT repositories_owner_name_key UNIQUE (owner, name)
);

-- MCP servers the orchestrator runs, and the last status one reported.
CREATE TABLE mcp_servers (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	name		text		NOT NULL
		CONSTRAINT mcp_servers_name_key UNIQUE
		CONSTRAINT mcp_servers_name_check
		CHECK (name ~ '^[A-Za-z0-9_-]{1,64}$'),
	command		text		NOT NULL
		CONSTRAINT mcp_servers_command_check
		CHECK (length(command) BETWEEN 1 AND 4096),
	args		jsonb		NOT NULL DEFAULT '[]'
		CONSTRAINT mcp_servers_args_check
		CHECK (jsonb_typeof(args) = 'array'),
	state		text		NOT NULL DEFAULT 'stopped'
		CONSTRAINT mcp_servers_state_check
		CHECK (state IN ('stopped', 'starting', 'running', 'backoff',
		    'failed', 'stopping')),
	health		text		NOT NULL DEFAULT 'unknown'
		CONSTRAINT mcp_servers_health_check
		CHECK (health IN ('unknown', 'healthy', 'unhealthy')),
	last_health_check_at timestamptz,
	restarts	integer		NOT NULL DEFAULT 0
		CONSTRAINT mcp_servers_restarts_check CHECK (restarts >= 0),
	pid		integer
		CONSTRAINT mcp_servers_pid_check CHECK (pid > 0),
	last_exit_cause	text,
	tool_count	integer		NOT NULL DEFAULT 0
		CONSTRAINT mcp_servers_tool_count_check CHECK (tool_count >= 0),
	protocol_version text,
	reported_by	text,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	updated_at	timestamptz	NOT NULL DEFAULT now()
);

-- One run of a workflow.  Claimed by an orchestrator task with a lease:
-- see doc/schema.md for the claim query the two partial indexes serve.
CREATE TABLE workflow_executions (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	workflow_id	uuid		NOT NULL
		REFERENCES workflows (id) ON DELETE RESTRICT,
	repository_id	uuid
		REFERENCES repositories (id) ON DELETE SET NULL,
	status		text		NOT NULL DEFAULT 'pending'
		CONSTRAINT workflow_executions_status_check
		CHECK (status IN ('pending', 'running', 'succeeded', 'failed',
		    'cancelled')),
	input		jsonb		NOT NULL DEFAULT '{}'
		CONSTRAINT workflow_executions_input_check
		CHECK (jsonb_typeof(input) = 'object'),
	output		jsonb,
	error		text,
	triggered_by	text,
	idempotency_key	text
		CONSTRAINT workflow_executions_idempotency_key_key UNIQUE
		CONSTRAINT workflow_executions_idempotency_key_check
		CHECK (length(idempotency_key) BETWEEN 1 AND 255),
	attempt		integer		NOT NULL DEFAULT 0
		CONSTRAINT workflow_executions_attempt_check
		CHECK (attempt >= 0),
	max_attempts	integer		NOT NULL DEFAULT 3
		CONSTRAINT workflow_executions_max_attempts_check
		CHECK (max_attempts >= 1),
	run_after	timestamptz	NOT NULL DEFAULT now(),
	lease_owner	text,
	lease_expires_at timestamptz,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	started_at	timestamptz,
	finished_at	timestamptz,
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	CONSTRAINT workflow_executions_lease_check
		CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL)),
	CONSTRAINT workflow_executions_running_lease_check
		CHECK (status <> 'running' OR lease_owner IS NOT NULL),
	CONSTRAINT workflow_executions_finished_check
		CHECK ((status IN ('succeeded', 'failed', 'cancelled')) =
		    (finished_at IS NOT NULL))
);
-- Claims: pending work that is due, and running work whose lease expired.
CREATE INDEX workflow_executions_pending_idx
	ON workflow_executions (run_after, created_at)
	WHERE status = 'pending';
CREATE INDEX workflow_executions_lease_idx
	ON workflow_executions (lease_expires_at)
	WHERE status = 'running';
-- Listings: by status, and one workflow's history.
CREATE INDEX workflow_executions_status_idx
	ON workflow_executions (status, created_at DESC);
CREATE INDEX workflow_executions_workflow_idx
	ON workflow_executions (workflow_id, created_at DESC);
CREATE INDEX workflow_executions_repository_idx
	ON workflow_executions (repository_id)
	WHERE repository_id IS NOT NULL;

-- One attempt at one step of an execution.  A retried step gets a new row
-- with the next attempt number; earlier attempts stay as history.
CREATE TABLE workflow_steps (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	execution_id	uuid		NOT NULL
		REFERENCES workflow_executions (id) ON DELETE CASCADE,
	step_index	integer		NOT NULL
		CONSTRAINT workflow_steps_step_index_check
		CHECK (step_index >= 0),
	step_name	text		NOT NULL
		CONSTRAINT workflow_steps_step_name_check
		CHECK (length(step_name) BETWEEN 1 AND 128),
	attempt		integer		NOT NULL DEFAULT 1
		CONSTRAINT workflow_steps_attempt_check CHECK (attempt >= 1),
	status		text		NOT NULL DEFAULT 'pending'
		CONSTRAINT workflow_steps_status_check
		CHECK (status IN ('pending', 'running', 'succeeded', 'failed',
		    'skipped', 'cancelled')),
	tool		text,
	input		jsonb,
	output		jsonb,
	error		text,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	started_at	timestamptz,
	finished_at	timestamptz,
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	-- Also the index for "steps of an execution, in order".
	CONSTRAINT workflow_steps_execution_step_attempt_key
		UNIQUE (execution_id, step_index, attempt),
	CONSTRAINT workflow_steps_finished_check
		CHECK ((status IN ('succeeded', 'failed', 'skipped',
		    'cancelled')) = (finished_at IS NOT NULL))
);

-- One LLM agent run (a model conversation), possibly inside a step.
CREATE TABLE agent_runs (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	execution_id	uuid
		REFERENCES workflow_executions (id) ON DELETE SET NULL,
	step_id		uuid
		REFERENCES workflow_steps (id) ON DELETE SET NULL,
	provider	text		NOT NULL
		CONSTRAINT agent_runs_provider_check
		CHECK (length(provider) BETWEEN 1 AND 64),
	model		text		NOT NULL
		CONSTRAINT agent_runs_model_check
		CHECK (length(model) BETWEEN 1 AND 255),
	status		text		NOT NULL DEFAULT 'running'
		CONSTRAINT agent_runs_status_check
		CHECK (status IN ('running', 'succeeded', 'failed',
		    'cancelled')),
	input_tokens	bigint		NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_input_tokens_check
		CHECK (input_tokens >= 0),
	output_tokens	bigint		NOT NULL DEFAULT 0
		CONSTRAINT agent_runs_output_tokens_check
		CHECK (output_tokens >= 0),
	cost_usd	numeric(14, 6)
		CONSTRAINT agent_runs_cost_usd_check CHECK (cost_usd >= 0),
	error		text,
	started_at	timestamptz	NOT NULL DEFAULT now(),
	finished_at	timestamptz,
	created_at	timestamptz	NOT NULL DEFAULT now(),
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	CONSTRAINT agent_runs_finished_check
		CHECK ((status <> 'running') = (finished_at IS NOT NULL))
);
CREATE INDEX agent_runs_execution_idx ON agent_runs (execution_id)
	WHERE execution_id IS NOT NULL;
CREATE INDEX agent_runs_step_idx ON agent_runs (step_id)
	WHERE step_id IS NOT NULL;
CREATE INDEX agent_runs_started_idx ON agent_runs (started_at DESC);

-- Audit of every tools/call afu9 makes or routes.  Inserted when the call
-- is sent (status running), updated once when it ends.
CREATE TABLE mcp_tool_calls (
	id		uuid		PRIMARY KEY DEFAULT gen_random_uuid(),
	server		text		NOT NULL
		CONSTRAINT mcp_tool_calls_server_check
		CHECK (length(server) BETWEEN 1 AND 64),
	tool		text		NOT NULL
		CONSTRAINT mcp_tool_calls_tool_check
		CHECK (length(tool) BETWEEN 1 AND 128),
	rpc_id		jsonb
		CONSTRAINT mcp_tool_calls_rpc_id_check
		CHECK (jsonb_typeof(rpc_id) IN ('string', 'number')),
	caller		text		NOT NULL
		CONSTRAINT mcp_tool_calls_caller_check
		CHECK (caller IN ('gateway', 'cli', 'workflow', 'agent')),
	arguments	jsonb		NOT NULL DEFAULT '{}',
	status		text		NOT NULL DEFAULT 'running'
		CONSTRAINT mcp_tool_calls_status_check
		CHECK (status IN ('running', 'completed', 'failed')),
	result_summary	text
		CONSTRAINT mcp_tool_calls_result_summary_check
		CHECK (length(result_summary) <= 4096),
	is_error	boolean		NOT NULL DEFAULT false,
	error_code	integer,
	error_message	text,
	duration_ms	integer
		CONSTRAINT mcp_tool_calls_duration_ms_check
		CHECK (duration_ms >= 0),
	execution_id	uuid
		REFERENCES workflow_executions (id) ON DELETE SET NULL,
	step_id		uuid
		REFERENCES workflow_steps (id) ON DELETE SET NULL,
	agent_run_id	uuid
		REFERENCES agent_runs (id) ON DELETE SET NULL,
	started_at	timestamptz	NOT NULL DEFAULT now(),
	created_at	timestamptz	NOT NULL DEFAULT now(),
	updated_at	timestamptz	NOT NULL DEFAULT now(),
	-- A result arrived (completed, maybe a tool error) or none did
	-- (failed: a JSON-RPC error, a timeout, a cancel, the server gone).
	CONSTRAINT mcp_tool_calls_outcome_check CHECK (
	    (status = 'running' AND duration_ms IS NULL AND
	        error_code IS NULL AND NOT is_error) OR
	    (status = 'completed' AND duration_ms IS NOT NULL AND
	        error_code IS NULL) OR
	    (status = 'failed' AND duration_ms IS NOT NULL AND
	        error_code IS NOT NULL AND NOT is_error)),
	CONSTRAINT mcp_tool_calls_error_message_check
		CHECK (error_message IS NULL OR error_code IS NOT NULL)
);
CREATE INDEX mcp_tool_calls_server_started_idx
	ON mcp_tool_calls (server, started_at DESC);
CREATE INDEX mcp_tool_calls_started_idx ON mcp_tool_calls (started_at DESC);
CREATE INDEX mcp_tool_calls_execution_idx ON mcp_tool_calls (execution_id)
	WHERE execution_id IS NOT NULL;
CREATE INDEX mcp_tool_calls_step_idx ON mcp_tool_calls (step_id)
	WHERE step_id IS NOT NULL;
CREATE INDEX mcp_tool_calls_agent_run_idx ON mcp_tool_calls (agent_run_id)
	WHERE agent_run_id IS NOT NULL;

CREATE TRIGGER workflows_updated_at BEFORE UPDATE ON workflows
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
CREATE TRIGGER repositories_updated_at BEFORE UPDATE ON repositories
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
CREATE TRIGGER mcp_servers_updated_at BEFORE UPDATE ON mcp_servers
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
CREATE TRIGGER workflow_executions_updated_at BEFORE UPDATE
	ON workflow_executions
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
CREATE TRIGGER workflow_steps_updated_at BEFORE UPDATE ON workflow_steps
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
CREATE TRIGGER agent_runs_updated_at BEFORE UPDATE ON agent_runs
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
CREATE TRIGGER mcp_tool_calls_updated_at BEFORE UPDATE ON mcp_tool_calls
	FOR EACH ROW EXECUTE FUNCTION afu9_set_updated_at();
