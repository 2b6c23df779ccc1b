/*
 * pgq: a general non-blocking PostgreSQL connection on a libev loop, for
 * the workflow engine and the HTTP API (the audit writer, store.h, keeps
 * its own specialised connection).
 *
 * libpq in non-blocking mode (PQconnectStart/PQconnectPoll on an ev_io,
 * then pipeline mode: each statement is PQsendQueryPrepared followed by
 * PQpipelineSync, so each is its own transaction and statements from many
 * callers are in flight together on the one connection, answered in
 * order).  Statements are registered once with pgq_prepare() and
 * prepared again on every connection, before any statement queued is
 * sent (one the server refuses to prepare keeps the connection from
 * coming up: it is retried after the backoff, pgq_last_error() says
 * why).  Parameters are text (NULL is SQL NULL); no SQL text ever
 * carries a value.  At most PGQ_INFLIGHT statements are sent and not
 * yet answered; the rest wait in order.
 *
 * LISTEN: the channels of the options are listened to on every
 * connection; notifications reach opts.notify from the loop.  After a
 * reconnect, `notify` is also called once with channel NULL: anything
 * may have been missed meanwhile (so may notifications received but not
 * yet delivered when the connection broke).
 *
 * Failures: a statement the server refuses fails alone (its callback
 * gets the SQLSTATE and message; the connection goes on).  When the
 * connection breaks, every statement in flight fails with err->lost set
 * (it may or may not have committed: the caller must make its writes
 * safe to repeat or check), and statements queued but not sent wait for
 * the reconnect (full-jitter backoff between backoff_base_s and
 * backoff_cap_s).  A statement not answered within op_timeout_ms of
 * pgq_exec() fails with err->timeout; a sent one also has err->lost (its
 * outcome is unknown) and drops the connection: an answer that late
 * means the link is broken, and the others in flight fail with lost.
 * Messages are redacted (the password of the conninfo, the one libpq
 * used and opts.password are registered as secrets) and one line each.
 *
 * The connection logs its own changes (connected, lost, unavailable,
 * restored; prefixed with opts.name) like the store; with
 * AFU9_TRACE=store one trace line per statement sent and per answer
 * ("engine exec wf_claim" out, "engine exec wf_claim: SELECT 3" or the
 * server's message in; "engine prepare wf_claim: ok", "engine listen
 * afu9_work: LISTEN", "engine notify afu9_work"), never a parameter or
 * a payload.
 *
 * Not thread-safe: call everything from the loop's thread.  Callbacks
 * run from the loop, never from inside the pgq_* call that causes them;
 * in one loop turn, state_changed comes first, then the statements'
 * callbacks in the order of pgq_exec(), then notify.  A callback may call
 * any pgq_* function but pgq_free().
 */
#ifndef AFU9_PGQ_H
#define AFU9_PGQ_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <libpq-fe.h>

#define PGQ_STMTS_MAX	64	/* prepared statements */
#define PGQ_NAME_MAX	63	/* bytes of a statement or channel name */
#define PGQ_SQL_MAX	(64u << 10) /* bytes of a statement's SQL */
#define PGQ_NPARAMS_MAX	100	/* parameters of a statement */
#define PGQ_LISTEN_MAX	8	/* channels */
#define PGQ_QUEUE_MAX	100000	/* statements queued, in flight, or
				   answered and not yet called back */
#define PGQ_QUEUE_BYTES	(64u << 20) /* parameter bytes of those */
#define PGQ_INFLIGHT	512	/* statements sent and not answered */
#define PGQ_ERR_MAX	512

struct pgq;
struct pgq_op;

struct pgq_err {
	char		 sqlstate[6];	/* "" when not from the server */
	int		 lost;		/* the connection broke with it in
					   flight: outcome unknown */
	int		 timeout;	/* op_timeout_ms passed (with lost
					   when it had been sent) */
	char		 message[PGQ_ERR_MAX];	/* redacted, one line: the
					   server's primary message, or
					   why it was lost or timed out */
};

/*
 * res: the statement's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK),
 * borrowed for the call, when err is NULL; else res is NULL and err is
 * borrowed for the call.
 */
typedef void (*pgq_done_fn)(const PGresult *res, const struct pgq_err *err,
		    void *arg);

struct pgq_opts {
	const char	*name;			/* for logs: "engine" (cut to
						   31 bytes); NULL: "pgq" */
	unsigned	 connect_timeout_ms;	/* 0: 10000 */
	unsigned	 op_timeout_ms;		/* 0: 30000 */
	double		 backoff_base_s;	/* 0: 0.2 */
	double		 backoff_cap_s;		/* 0: 10 */
	const char	*password;		/* a secret to redact besides
						   the conninfo's; NULL */
	const char	*listen[PGQ_LISTEN_MAX]; /* channels, NULL-ended
						   (or all PGQ_LISTEN_MAX);
						   [a-z_][a-z0-9_]{0,62} */
	/* A notification (payload "" when none), or channel and payload
	   NULL after a reconnect.  May be NULL. */
	void		(*notify)(struct pgq *, const char *channel,
			    const char *payload, void *arg);
	/* The connection came up (up 1) or went down (up 0): called once
	   per change, never for a first attempt that fails.  May be
	   NULL. */
	void		(*state_changed)(struct pgq *, int up, void *arg);
	void		*arg;
};

/*
 * A connection to conninfo (a libpq connection string or URI, copied) on
 * loop; opts may be NULL (the defaults), and everything it points to is
 * borrowed for the call (copied).  Connecting starts from the loop.
 * NULL with err set (ENOMEM, an empty or unparsable conninfo, a channel
 * name out of form); the message never shows the password.
 */
struct pgq	*pgq_new(struct ev_loop *, const char *conninfo,
		    const struct pgq_opts *, char *err, size_t errlen);
/*
 * Stop everything and close the connection.  Statements not answered
 * are dropped without callbacks.  Not from inside a pgq callback.
 */
void		 pgq_free(struct pgq *);

/*
 * Register statement `name` ([a-z0-9_]{1,63}) as sql (at most
 * PGQ_SQL_MAX bytes) with nparams (0..PGQ_NPARAMS_MAX) parameters (types
 * inferred by the server, or cast in the SQL).  Before or after
 * connecting: a connection that is up prepares it at once, ahead of any
 * pgq_exec() that follows.  0, or -1 with errno EINVAL (a name, sql or
 * count out of form), ENOSPC (PGQ_STMTS_MAX reached), EEXIST or ENOMEM.
 */
int		 pgq_prepare(struct pgq *, const char *name, const char *sql,
		    int nparams);
/* A statement table for pgq_prepare_all(). */
struct pgq_stmt {
	const char	*name;
	const char	*sql;
	int		 nparams;
};
/* pgq_prepare() of each of stmts[0..n): 0, or -1 with "prepare NAME:
   reason" in err at the first that fails. */
int		 pgq_prepare_all(struct pgq *, const struct pgq_stmt *stmts,
		    size_t n, char *err, size_t errlen);
/*
 * Run prepared statement `name` with params[0..nparams) (text, copied;
 * NULL entries are SQL NULL; params may be NULL when nparams is 0).
 * done(res, err, arg) runs once from the loop, unless pgq_op_forget() is
 * called first.  Returns the handle (valid until done has run or it is
 * forgotten), or NULL with errno (EINVAL: unknown statement, wrong count
 * or a NULL done; ENOSPC: PGQ_QUEUE_MAX statements or PGQ_QUEUE_BYTES of
 * parameters reached; EMSGSIZE: its parameters alone are more than
 * PGQ_QUEUE_BYTES; ENOMEM): then done never runs.
 */
struct pgq_op	*pgq_exec(struct pgq *, const char *name, int nparams,
		    const char *const *params, pgq_done_fn done, void *arg);
/*
 * done will not run for op (the statement still runs if it was sent; one
 * not yet sent never will).  NULL is a no-op; so is a call from inside
 * op's own done.  The handle is invalid afterwards.
 */
void		 pgq_op_forget(struct pgq_op *);

/* Connected, every statement prepared and every channel listened to. */
int		 pgq_up(const struct pgq *);
/* Why it is not up ("" when up; "connecting" before the first
   failure), redacted; borrowed. */
const char	*pgq_last_error(const struct pgq *);
/* Statements whose done has not run: queued, in flight, or answered and
   waiting for the loop (what PGQ_QUEUE_MAX counts). */
size_t		 pgq_pending(const struct pgq *);

struct pgq_stats {
	uint64_t	 executed;	/* answered without error */
	uint64_t	 failed;	/* refused by the server */
	uint64_t	 lost;		/* in flight when the connection broke */
	uint64_t	 timeouts;	/* op_timeout_ms passed (not counted
					   in lost) */
	uint64_t	 reconnects;	/* connections up after the first */
	uint64_t	 notifies;	/* notifications delivered */
};
void		 pgq_get_stats(const struct pgq *, struct pgq_stats *);

/*
 * Drop the connection now and reconnect after the backoff (tests,
 * operators): what was in flight fails with lost.  No-op while waiting
 * for the backoff.
 */
void		 pgq_reconnect(struct pgq *);

/*
 * For every libpq connection of the orchestrator (pgq, the store):
 *
 * PQconnectStartParams() on conninfo (expanded as dbname) with
 * fallback_application_name "afu9" and client_encoding UTF8, server
 * notices discarded (they would reach stderr, outside the log).  The new
 * PGconn (check PQstatus(); PQfinish() it), or NULL on ENOMEM.
 */
PGconn		*pgq_conn_start(const char *conninfo);
/*
 * Watch conn's socket on io for events (EV_READ, EV_WRITE or both);
 * force re-arms even when nothing seems to change (while connecting
 * libpq may close and reopen the descriptor).  No socket: io stopped.
 */
void		 pgq_io_watch(struct ev_loop *, ev_io *io, const PGconn *conn,
		    int events, int force);
/*
 * The next result of a pipeline in which every statement has its own
 * PQpipelineSync, from what libpq has read: 1 with *res (a statement's
 * result or a PGRES_PIPELINE_SYNC; the caller PQclear()s it), 0 when
 * more input is needed, -1 when the pipeline is out of step (two NULLs
 * in a row: libpq has nothing that is waited for).
 */
int		 pgq_pipe_result(PGconn *conn, PGresult **res);
/*
 * msg (libpq's or the server's; NULL counts as "") redacted, as one line
 * (newlines and tabs made spaces, trailing blanks cut) in out[outlen].
 * Returns out.
 */
char		*pgq_msgline(char *out, size_t outlen, const char *msg);

#endif /* AFU9_PGQ_H */
