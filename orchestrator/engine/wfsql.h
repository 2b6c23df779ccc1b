/*
 * wfsql: the statements `afu9 workflow` (blocking libpq) and the HTTP
 * API (pgq) share, so both read and write the workflow tables the same
 * way.  Parameters are text; every answer that goes to a user is one
 * jsonb column built by the server.  The writes are the functions of
 * migrations/002_workflow_engine.sql.
 */
#ifndef AFU9_WFSQL_H
#define AFU9_WFSQL_H

/*
 * $1 name, $2 version (NULL: the next one), $3 description, $4 the
 * definition (JSON text): id, version, created ('t': a new version, 'f':
 * that content was stored already).  AF003: the version is taken by
 * other content or older than the stored one.
 */
#define WFSQL_APPLY \
	"SELECT id, version, created FROM afu9_workflow_apply($1, " \
	"$2::integer, $3, $4::jsonb)"

/* $1 name: the newest enabled version: id, version, definition. */
#define WFSQL_LATEST \
	"SELECT id, version, definition FROM workflows " \
	"WHERE name = $1 AND enabled ORDER BY version DESC LIMIT 1"

/* $1 name, $2 a workflow id or NULL: the newest enabled version: id,
   version, and its definition unless the id is $2 (then NULL: the
   caller has it already). */
#define WFSQL_LATEST_UNLESS \
	"SELECT id, version, CASE WHEN id = $2::uuid THEN NULL ELSE " \
	"definition END FROM workflows WHERE name = $1 AND enabled " \
	"ORDER BY version DESC LIMIT 1"

/* $1 name, $2 version (NULL: the newest): the row as JSON. */
#define WFSQL_SHOW \
	"SELECT jsonb_build_object('id', id, 'name', name, 'version', " \
	"version, 'description', description, 'enabled', enabled, " \
	"'created_at', afu9_ts(created_at), 'definition', definition) " \
	"FROM workflows WHERE name = $1 AND ($2::integer IS NULL OR " \
	"version = $2::integer) ORDER BY version DESC LIMIT 1"

/* Every workflow's newest version, by name: one JSON array. */
#define WFSQL_LIST \
	"SELECT coalesce(jsonb_agg(jsonb_build_object('name', name, " \
	"'version', version, 'enabled', enabled, 'description', " \
	"description, 'steps', jsonb_array_length(definition->'steps'), " \
	"'created_at', afu9_ts(created_at)) ORDER BY name), '[]') FROM " \
	"(SELECT DISTINCT ON (name) * FROM workflows " \
	"ORDER BY name, version DESC) w"

/* $1 name, $2 enabled ('true'/'false'): the number of versions set. */
#define WFSQL_ENABLE \
	"UPDATE workflows SET enabled = $2::boolean WHERE name = $1"

/* $1 workflow id, $2 input, $3 idempotency key, $4 triggered by. */
#define WFSQL_CREATE \
	"SELECT id, created, status FROM " \
	"afu9_execution_create($1, $2, $3, $4)"

/* $1 execution id: afu9_execution_json(), or NULL. */
#define WFSQL_EXECUTION	"SELECT afu9_execution_json($1::uuid)"

/*
 * Executions newest first, keyset-paginated: $1 status (NULL: any), $2
 * workflow name (NULL: any), $3 limit, $4 created_at and $5 id of the
 * last row of the previous page (NULL: from the newest).  One JSON array
 * of {id, workflow, version, status, error, created_at, started_at,
 * finished_at, next_step, cursor ("TIME/ID": what $4 and $5 take)}.
 */
#define WFSQL_EXECUTIONS \
	"SELECT afu9_executions_json($1, $2, $3::integer, " \
	"$4::timestamptz, $5::uuid)"

/* $1 execution, $2 who: the status afterwards, NULL: no such one. */
#define WFSQL_CANCEL	"SELECT afu9_cancel($1::uuid, $2)"

/* $1 execution, $2 step id, $3 approve ('true'/'false'), $4 who,
   $5 comment. */
#define WFSQL_DECIDE \
	"SELECT afu9_decide($1::uuid, $2, $3::boolean, $4, $5)"

/* Execution and step status names, for checking user input. */
#define WFSQL_STATUSES \
	"pending running waiting succeeded failed cancelled"

#define WFSQL_INPUT_MAX	(1u << 20)	/* bytes of an execution's input */

#endif /* AFU9_WFSQL_H */
