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
 * prepared again on every connection.  Parameters are text (NULL is SQL
 * NULL); no SQL text ever carries a value.
 *
 * LISTEN: the channels of the options are listened to on every
 * connection; notifications reach opts.notify from the loop.  After a
 * reconnect, `notify` is also called once with channel NULL: anything
 * may have been missed meanwhile.
 *
 * Failures: a statement the server refuses fails alone (its callback
 * gets the SQLSTATE and message; the connection goes on).  When the
 * connection breaks, every statement in flight fails with err->lost set
 * (it may or may not have committed: the caller must make its writes
 * safe to repeat or check), and statements queued but not sent wait for
 * the reconnect (full-jitter backoff between backoff_base_s and
 * backoff_cap_s).  A statement not answered within op_timeout_ms of
 * pgq_exec() fails with err->timeout (a sent one drops the connection:
 * an answer that late means the link is broken).  Messages are redacted
 * (the password of the conninfo is registered as a secret).
 *
 * Not thread-safe: call everything from the loop's thread.  Callbacks
 * run from the loop, never from inside the pgq_* call that causes them.
 */
#ifndef AFU9_PGQ_H
#define AFU9_PGQ_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <libpq-fe.h>

#define PGQ_STMTS_MAX	64	/* prepared statements */
#define PGQ_LISTEN_MAX	8	/* channels */
#define PGQ_QUEUE_MAX	100000	/* statements queued or in flight */
#define PGQ_ERR_MAX	512

struct pgq;
struct pgq_op;

struct pgq_err {
	char		 sqlstate[6];	/* "" when not from the server */
	int		 lost;		/* the connection broke with it in
					   flight: outcome unknown */
	int		 timeout;	/* op_timeout_ms passed */
	char		 message[PGQ_ERR_MAX];	/* redacted */
};

/*
 * res: the statement's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK),
 * borrowed for the call, when err is NULL; else res is NULL.
 */
typedef void (*pgq_done_fn)(const PGresult *res, const struct pgq_err *err,
		    void *arg);

struct pgq_opts {
	const char	*name;			/* for logs: "engine" */
	unsigned	 connect_timeout_ms;	/* 0: 10000 */
	unsigned	 op_timeout_ms;		/* 0: 30000 */
	double		 backoff_base_s;	/* 0: 0.2 */
	double		 backoff_cap_s;		/* 0: 10 */
	const char	*password;		/* a secret to redact besides
						   the conninfo's; NULL */
	const char	*listen[PGQ_LISTEN_MAX]; /* channels, NULL-ended;
						   [a-z_]{1,63} */
	void		(*notify)(struct pgq *, const char *channel,
			    const char *payload, void *arg);
	/* The connection came up (up 1) or went down (up 0). */
	void		(*state_changed)(struct pgq *, int up, void *arg);
	void		*arg;
};

/*
 * A connection to conninfo (copied) on loop; connecting starts from the
 * loop.  NULL with err set (ENOMEM, an unparsable conninfo, a channel
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
 * Register statement `name` ([a-z0-9_]{1,63}) as sql with nparams
 * parameters (types inferred by the server, or cast in the SQL).  Before
 * or after connecting: a connection that is up prepares it at once.
 * 0, or -1 with errno EINVAL, ENOSPC, EEXIST or ENOMEM.
 */
int		 pgq_prepare(struct pgq *, const char *name, const char *sql,
		    int nparams);
/*
 * Run prepared statement `name` with params[0..nparams) (text, copied;
 * NULL entries are SQL NULL).  done(res, err, arg) runs once from the
 * loop, unless pgq_op_forget() is called first.  Returns the handle, or
 * NULL with errno (EINVAL: unknown statement or wrong count, ENOSPC:
 * PGQ_QUEUE_MAX reached, ENOMEM): then done never runs.
 */
struct pgq_op	*pgq_exec(struct pgq *, const char *name, int nparams,
		    const char *const *params, pgq_done_fn done, void *arg);
/* done will not run for op (the statement still runs if it was sent). */
void		 pgq_op_forget(struct pgq_op *);

/* Connected and every statement prepared. */
int		 pgq_up(const struct pgq *);
/* Why it is not up ("" when up), redacted; borrowed. */
const char	*pgq_last_error(const struct pgq *);
/* Statements queued or in flight. */
size_t		 pgq_pending(const struct pgq *);

struct pgq_stats {
	uint64_t	 executed;	/* answered without error */
	uint64_t	 failed;	/* refused by the server */
	uint64_t	 lost;		/* in flight when the connection broke */
	uint64_t	 timeouts;
	uint64_t	 reconnects;
	uint64_t	 notifies;	/* notifications received */
};
void		 pgq_get_stats(const struct pgq *, struct pgq_stats *);

/* Drop the connection now and reconnect after the backoff (tests). */
void		 pgq_reconnect(struct pgq *);

#endif /* AFU9_PGQ_H */
