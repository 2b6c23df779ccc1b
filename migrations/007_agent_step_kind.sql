-- 007_agent_step_kind: a workflow step may be of kind 'agent' (the
-- engine's agent step, doc/workflows.md "Agent steps"; its runs name the
-- step's row in agent_runs.step_id).
--
-- This ALTER was first appended to 003_agent_runs.sql after that file had
-- landed, which a database that had applied 003 would have refused as a
-- changed migration; 003 is as it first landed again and the change is
-- here.  Idempotent: a database that ran the edited 003 already has the
-- constraint in this form, and running it again changes nothing.
ALTER TABLE workflow_steps
	DROP CONSTRAINT IF EXISTS workflow_steps_kind_check,
	ADD CONSTRAINT workflow_steps_kind_check
		CHECK (kind IN ('tool', 'approval', 'sleep', 'wait', 'agent'));
