/*
 * store: the orchestrator's runtime link to PostgreSQL (DATABASE_URL).
 *
 * Everything runs on the caller's libev loop and nothing ever blocks it:
 * libpq in non-blocking mode (PQconnectStart/PQconnectPoll driven by an
 * ev_io on PQsocket, then pipeline mode: PQsendQueryPrepared and one
 * PQpipelineSync per statement; PQflush with a write watcher while
 * output is pending; PQconsumeInput/PQisBusy/PQgetResult on read).  Only
 * prepared statements with parameters: no SQL text ever carries a value.
 *
 * States (store_state(), for /ready):
 *   disabled    no DATABASE_URL: every call is a no-op that succeeds
 *   connecting  connecting and preparing the statements
 *   up          connected; queued work is being written
 *   down        the database is unreachable or failed; a reconnect is
 *               planned after a full-jitter backoff (httpc_backoff())
 * store_last_error() says why it is not up: libpq's or the server's
 * message, redacted (the connection password is registered as a secret).
 *
 * Audit (mcp_tool_calls): store_audit_call() copies, redacts and queues a
 * row and returns at once.  Rows are written in order, asynchronously,
 * in batches: whatever is queued when the previous batch is answered
 * (at most 500 rows, 4 MiB) goes as one INSERT ... SELECT FROM unnest()
 * of array parameters: one statement, one transaction, one WAL flush.
 * A batch refused for a row's data is retried one row per statement, so
 * only the bad row is lost (below).
 * While the database is down they wait in the queue and are written after
 * the reconnect.  Each row carries a client-generated uuid and is inserted
 * with ON CONFLICT (id) DO NOTHING, so a row whose acknowledgement was
 * lost with the connection is sent again and still lands exactly once.
 * One row per finished call: status 'completed' (a result, maybe with
 * isError) or 'failed' (no result: error_code set); the schema's
 * 'running' state is not used by this writer.
 *
 * Bounds: the queue holds at most queue_max rows and queue_max_bytes of
 * row data (in-flight rows included).  When it is full the NEW row is
 * dropped: rows already accepted keep their place and order, and rows
 * being written are never thrown away.  Every drop is counted
 * (afu9_audit_dropped_total) and logged, at most one warning per
 * drop_log_interval_ms with the count since the last one.  A row the
 * server refuses for its data (SQLSTATE class 22 or 23) is dropped,
 * counted (afu9_audit_rejected_total) and logged; any other failure is
 * treated as the connection's and the row is retried after reconnecting.
 * So is a row whose execution_id, step_id or agent_run_id names no row
 * of its table (23503, a foreign key: the execution was never written,
 * or was deleted while the row waited): only that row is lost.
 *
 * Durability: each batch commits with the server's synchronous_commit
 * (default on: acknowledged rows survive a database crash).  With
 * AFU9_AUDIT_SYNC_COMMIT=off (opts->env) the audit session sets
 * synchronous_commit = off: commits no longer wait for the WAL flush, so
 * a database crash may lose the last few hundred milliseconds of
 * acknowledged rows (never corrupt them; the calls returned long
 * before).  (config_env_read() refuses any value but "on", "off" or
 * empty.)
 *
 * Server states (mcp_servers): store_server_state() upserts by name;
 * only the latest report per server waits to be written (coalesced), and
 * one per server is in flight at a time, so the row always ends with
 * the newest report.
 *
 * The store logs its own state changes and drops through log.h (it is a
 * top-layer component, like the router); every other error goes to the
 * caller.  Not thread-safe: call everything from the loop's thread.
 */
#ifndef AFU9_STORE_H
#define AFU9_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <ev.h>
#include <jansson.h>

#include "buf.h"
#include "conf/conf_env.h"

#define STORE_QUEUE_MAX		10000		/* default queue_max */
#define STORE_QUEUE_BYTES	(64u << 20)	/* default queue_max_bytes */
#define STORE_SUMMARY_MAX	4096	/* bytes of result_summary, and of
					   error_message */
#define STORE_ARGS_MAX		(64u << 10) /* bytes of redacted arguments
					   JSON; larger is stored as
					   {"truncated":true,"bytes":N} */
#define STORE_SERVERS_MAX	256	/* distinct server names */
#define STORE_ERR_MAX		512	/* store_last_error() bound */
#define STORE_QUERY_MAX		10000	/* rows of store_audit_query() */

struct store;

enum store_state {
	STORE_DISABLED = 0,
	STORE_CONNECTING,
	STORE_UP,
	STORE_DOWN,
};

enum audit_caller {
	AUDIT_GATEWAY = 0,	/* an MCP client through the gateway */
	AUDIT_CLI,		/* `afu9 call` */
	AUDIT_WORKFLOW,		/* a workflow step */
	AUDIT_AGENT,		/* an agent run */
};

/*
 * One finished tool call.  Everything is borrowed for the duration of
 * store_audit_call() only; the store keeps redacted copies.
 */
struct audit_row {
	const char	*server;	/* 1..64 bytes */
	const char	*tool;		/* 1..128 bytes, without "server." */
	const json_t	*rpc_id;	/* string or number; NULL: none */
	const char	*rpc_id_text;	/* used when rpc_id is NULL: the id
					   as JSON text, a string or a
					   number; NULL: none */
	enum audit_caller caller;
	const json_t	*arguments;	/* NULL: arguments_text, else {};
					   redact_json()'ed */
	const char	*arguments_text; /* used when arguments is NULL:
					    the object as JSON text that
					    json_loadb() accepts (as the
					    protocol parser checked it);
					    stored as that tree would be */
	size_t		 arguments_len;
	const char	*result_summary; /* NULL: none; redacted, cut to
					    STORE_SUMMARY_MAX bytes */
	int		 is_error;	/* the result said isError: true */
	int		 failed;	/* no result: error_code/message */
	int		 error_code;	/* JSON-RPC code; used when failed */
	const char	*error_message;	/* used when failed; NULL: none */
	double		 started_at;	/* seconds since the epoch (ev_now),
					   below 9e12 */
	double		 duration_ms;	/* >= 0 */
	/* What the call was made for: each a uuid (store_uuid_ok()) of a
	   row that exists, or NULL: none.  A workflow step's calls carry
	   its execution and step, an agent run's its run (and the step it
	   runs in, if any). */
	const char	*execution_id;	/* workflow_executions.id */
	const char	*step_id;	/* workflow_steps.id */
	const char	*agent_run_id;	/* agent_runs.id */
};

/* One supervisor report for mcp_servers.  Borrowed for the call only. */
struct server_row {
	const char	*name;		/* ^[A-Za-z0-9_-]{1,64}$ */
	const char	*command;	/* argv[0], 1..4096 bytes */
	const json_t	*args;		/* array of the rest of argv; NULL: [] */
	const char	*state;		/* stopped starting running backoff
					   failed stopping */
	const char	*health;	/* unknown healthy unhealthy; NULL:
					   unknown */
	int		 pid;		/* <= 0: none */
	unsigned	 restarts;
	const char	*last_exit;	/* NULL: none; redacted */
	unsigned	 tool_count;
	const char	*protocol_version; /* NULL: none */
};

struct store_opts {
	size_t		 queue_max;		/* 0: STORE_QUEUE_MAX */
	size_t		 queue_max_bytes;	/* 0: STORE_QUEUE_BYTES */
	double		 backoff_base_s;	/* 0: 0.5 */
	double		 backoff_cap_s;		/* 0: 30 */
	unsigned	 connect_timeout_ms;	/* 0: 10000 */
	unsigned	 op_timeout_ms;		/* no answer to a write in
						   this long drops the
						   connection; 0: 30000 */
	unsigned	 drop_log_interval_ms;	/* 0: 10000 */
	const char	*reported_by;		/* mcp_servers.reported_by;
						   NULL: "hostname:pid" */
	const struct config_env *env;		/* AFU9_AUDIT_LINGER_MS,
						   AFU9_AUDIT_SYNC_COMMIT,
						   PGPASSWORD; borrowed during
						   store_new(); NULL: the
						   defaults (5 ms, on) */
	/* The state changed (called from the loop; may be NULL). */
	void		(*state_changed)(struct store *, enum store_state,
			    void *arg);
	void		*arg;
};

/* Counters (afu9_audit_*_total) and gauges, for /metrics and tests. */
struct store_stats {
	uint64_t	 audit_written;	/* rows inserted */
	uint64_t	 audit_duplicates; /* resent rows that were already in
					   (ON CONFLICT hit) */
	uint64_t	 audit_dropped;	/* queue full, or out of memory */
	uint64_t	 audit_rejected; /* refused (invalid row, or by the
					    server: class 22/23) */
	uint64_t	 servers_written; /* mcp_servers upserts done */
	uint64_t	 reconnects;	/* connections made after the first */
	uint64_t	 args_parsed;	/* rows whose arguments_text had to be
					   parsed (no fast path) */
	uint64_t	 audit_batches;	/* audit statements answered */
	size_t		 queued;	/* audit rows not yet acknowledged */
	size_t		 queued_bytes;
	size_t		 in_flight;	/* audit rows and server reports
					   sent, not answered */
	size_t		 servers_pending; /* server reports not yet written */
};

/*
 * A store on loop.  conninfo: a libpq connection string or URI
 * (DATABASE_URL), copied; NULL or "" gives a disabled store.  opts may be
 * NULL.  Connecting starts from the loop.  Returns the store (free with
 * store_free()), or NULL with err set (ENOMEM, unparsable conninfo: the
 * message never shows the password).
 */
struct store	*store_new(struct ev_loop *, const char *conninfo,
		    const struct store_opts *, char *err, size_t errlen);
/*
 * Stop every watcher, close the connection, free everything.  Rows not
 * written are lost (counted in the log).  Not from inside a store
 * callback other than the shutdown `done`.
 */
void		 store_free(struct store *);

/*
 * Queue one audit row (see the header comment).  Never blocks.
 * Returns 0 when queued (or the store is disabled), 1 when the row was
 * dropped because the queue is full (or ENOMEM), -1 with errno EINVAL
 * for a row that breaks the bounds above (counted as rejected).
 */
int		 store_audit_call(struct store *, const struct audit_row *);
/*
 * Is s a uuid as text: 36 characters, hex digits (either case) in
 * groups of 8-4-4-4-12 joined by '-'?  0 for NULL.  The form of the
 * ids of struct audit_row; the router checks origins with it.
 */
int		 store_uuid_ok(const char *s);
/*
 * Record a server's state (upsert by name, coalesced).  0 when queued
 * (or disabled), -1 with errno EINVAL (bad name, state, health, command)
 * or ENOMEM, or ENOSPC past STORE_SERVERS_MAX names.
 */
int		 store_server_state(struct store *, const struct server_row *);

enum store_state store_state(const struct store *);
/* "disabled", "connecting", "up", "down". */
const char	*store_state_name(enum store_state);
/* Why the store is not up ("" when up or disabled); borrowed. */
const char	*store_last_error(const struct store *);
void		 store_get_stats(const struct store *, struct store_stats *);
/*
 * For /ready: {"state":"up","error":null|"...","queued":N,"dropped":N}.
 * New reference, NULL on ENOMEM.
 */
json_t		*store_status(const struct store *);
/*
 * Prometheus text: afu9_store_up, afu9_audit_queue_rows,
 * afu9_audit_written_total, afu9_audit_batches_total,
 * afu9_audit_dropped_total,
 * afu9_audit_rejected_total, afu9_store_reconnects_total.  0, or -1 when
 * out is full.
 */
int		 store_metrics(const struct store *, struct buf *out);

/*
 * Drop the connection now and reconnect after the usual backoff
 * (operators: a credentials change; tests: a lost acknowledgement).
 * Statements in flight are sent again.  No-op unless connecting or up.
 */
void		 store_reconnect(struct store *);
/*
 * Graceful end: keep writing until nothing is queued or grace_ms passed
 * (what is left is logged as lost), then call done(arg) from the loop
 * (never from inside this call).  store_free() may be called from done.
 * Rows queued meanwhile are still accepted.  Call once.
 */
void		 store_shutdown(struct store *, unsigned grace_ms,
		    void (*done)(void *), void *arg);

struct subsys;
/*
 * st as a subsystem (see subsys.h) under the /ready key "database": no
 * start step (it connects from store_new()); stop is store_shutdown();
 * ready when disabled (no DATABASE_URL) or up; status is store_status().
 */
void		 store_subsys(struct store *st, unsigned grace_ms,
		    struct subsys *out);

/*
 * A result_summary for a tools/call result: the text of its content
 * items (joined by a newline), else its compact JSON, cut at a UTF-8
 * character boundary to STORE_SUMMARY_MAX bytes.  Not yet redacted
 * (store_audit_call() does it).  Malloc'd, NULL for a NULL result or ENOMEM.
 */
char		*store_result_summary(const json_t *result);
/*
 * store_result_summary() of the result text res (len bytes, valid JSON,
 * as a child sent it), found in the text without parsing it when its
 * content texts are plain strings (no escapes); else parsed.  The same
 * string either way.  Malloc'd; NULL when res does not parse, or ENOMEM.
 */
char		*store_result_summary_text(const char *res, size_t len);

/* Filters for store_audit_query(); NULL / 0: no filter, default. */
struct audit_query {
	const char	*server;	/* exact server name */
	const char	*since;		/* a timestamp PostgreSQL parses
					   ("2026-01-02", "2026-01-02T03:04Z")
					   or a relative age "90s", "15m",
					   "2h", "7d" */
	unsigned	 limit;		/* 0: 100; at most STORE_QUERY_MAX */
	const char	*execution;	/* the calls of one workflow
					   execution (a UUID) */
};

/*
 * BLOCKING (for `afu9 audit`, never on the loop): connect with
 * mig_connect(), read matching mcp_tool_calls rows, newest first.  On
 * success *out is a new JSON array of objects {id, server, tool, rpc_id,
 * caller, arguments, status, result_summary, is_error, error_code,
 * error_message, started_at (UTC, ISO 8601 with ms), duration_ms,
 * execution_id, step_id, agent_run_id (null when the call was made for
 * none)} and 0 is returned; -1 with err set (redacted) otherwise (also
 * for an execution filter that is not a UUID).
 */
int		 store_audit_query(const char *conninfo,
		    const struct audit_query *, json_t **out, char *err,
		    size_t errlen);
/*
 * Print rows from store_audit_query() one per line:
 *   2026-01-02T03:04:05.678Z  github.getIssue  completed  41 ms  gateway
 * followed by "  execution ID step ID" for a workflow's call and
 * "  error -32603: ..." for failed calls.  0, or -1 on a write error.
 */
int		 store_audit_print(FILE *, const json_t *rows);

#endif
