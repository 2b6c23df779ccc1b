/*
 * pgq: a general non-blocking PostgreSQL connection on a libev loop (see
 * pgq.h).
 *
 * Connection life, as the store's: no PGconn -> pgq_conn_start(),
 * PQconnectPoll on socket readiness (connect_timeout_ms guards it up to
 * UP) -> pipeline mode, every statement prepared and every channel
 * listened to, each with its own sync -> UP: queued statements are sent,
 * up to PGQ_INFLIGHT at a time.  A connection-level failure closes the
 * PGconn, fails what was in flight (lost), and arms the backoff timer;
 * its expiry starts the next attempt.
 *
 * Every entry of the pipeline is one statement and its PQpipelineSync,
 * so its results are: its result, a NULL, a PGRES_PIPELINE_SYNC.
 * q->pipe mirrors what was sent, in order (a PREPARE, a LISTEN, or a
 * statement: the oldest sent of q->ops); q->cur holds the result of the
 * oldest entry until its sync comes.
 *
 * q->ops holds every statement not yet answered, in pgq_exec() order:
 * the sent ones first, then from q->unsent on the ones waiting.  Their
 * deadlines grow with that order, so the watchdog needs only the first.
 * An answered (or failed) statement moves to q->done, and its callback
 * runs from the `deliver` later: never inside a pgq_* call, and never
 * while a result loop is walking the pipeline, so a callback may call
 * anything but pgq_free().  Notifications stay in libpq until `deliver`
 * takes them with PQnotifies().
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "httpc.h"
#include "later.h"
#include "log.h"
#include "redact.h"
#include "store/migrate.h"
#include "store/pgq.h"

#define PIPE_MAX	(PGQ_INFLIGHT + PGQ_STMTS_MAX + PGQ_LISTEN_MAX)
#define NAME_SHOWN	32	/* opts.name, with its NUL */

enum op_state {
	OP_QUEUED = 0,	/* in q->ops from q->unsent on */
	OP_SENT,	/* in q->ops before q->unsent */
	OP_DONE,	/* in q->done: its callback waits for the loop */
	OP_CALLING,	/* its callback is running */
};

struct pgq_op {
	TAILQ_ENTRY(pgq_op) link;
	struct pgq	*q;
	enum op_state	 state;
	int		 forgotten;	/* sent, then pgq_op_forget() */
	size_t		 stmt;		/* index in q->stmts */
	size_t		 bytes;		/* of parameter text */
	double		 deadline;	/* ev_now() + op_timeout */
	pgq_done_fn	 done;
	void		*arg;
	PGresult	*res;		/* OP_DONE: the result, or NULL */
	char		 sqlstate[6];
	int		 lost, timeout;
	char		*msg;		/* OP_DONE with an error: malloc'd,
					   redacted; NULL on ENOMEM */
	int		 nparams;
	const char	*p[];		/* then the text they point into */
};
TAILQ_HEAD(opq, pgq_op);

struct stmt {
	char		 name[PGQ_NAME_MAX + 1];
	char		*sql;
	int		 nparams;
	int		 sent;		/* prepared (or being) on this
					   connection */
};

enum pipe_kind {
	PIPE_PREPARE = 0,
	PIPE_LISTEN,
	PIPE_OP,	/* the oldest sent of q->ops */
};

struct pipe_ent {
	unsigned char	 kind;
	unsigned short	 idx;		/* PREPARE: of q->stmts, LISTEN: of
					   q->chan */
};

struct pgq {
	struct ev_loop	*loop;
	struct pgq_opts	 o;		/* its pointers cleared: borrowed */
	char		 name[NAME_SHOWN];
	char		*conninfo;
	char		 shown[512];	/* conninfo, password redacted */
	char		 err[PGQ_ERR_MAX];
	char		 chan[PGQ_LISTEN_MAX][PGQ_NAME_MAX + 1];
	size_t		 nchan;
	struct stmt	 stmts[PGQ_STMTS_MAX];
	size_t		 nstmts;

	PGconn		*conn;
	int		 connected;	/* PQconnectPoll said OK */
	int		 up;		/* and the setup answered */
	int		 ever_up;
	int		 setup_wait;	/* setup entries not yet answered */
	unsigned	 attempt;	/* failures since the last UP */
	int		 shown_up;	/* what state_changed last said */
	int		 missed;	/* notify(NULL) is due */

	struct pipe_ent	 pipe[PIPE_MAX]; /* ring; [phead, +npipe) */
	size_t		 phead, npipe;
	size_t		 nsent;		/* PIPE_OP entries in it */
	PGresult	*cur;		/* the oldest entry's result */

	struct opq	 ops;		/* sent, then queued */
	struct pgq_op	*unsent;	/* the first queued one, or NULL */
	struct opq	 done;		/* answered, callbacks due */
	size_t		 nops, ndone, bytes;

	ev_io		 io;
	ev_timer	 timer;		/* backoff, connect timeout */
	ev_timer	 watchdog;	/* the oldest statement's deadline */
	struct later	 kick;		/* sends what waits */
	struct later	 deliver;	/* runs the callbacks */
	struct pgq_stats st;
};

static void	conn_start(struct pgq *);
static void	fail(struct pgq *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	kick(struct pgq *);
static void	trace(const struct pgq *, const char *, const char *,
		    const char *, const char *);

/* ---- shared with the store ---- */

static void
notice_discard(void *arg, const char *msg)
{
}

PGconn *
pgq_conn_start(const char *conninfo)
{
	const char *const kw[] = { "dbname", "fallback_application_name",
	    "client_encoding", NULL };
	const char *const val[] = { conninfo, "afu9", "UTF8", NULL };
	PGconn *c;

	if ((c = PQconnectStartParams(kw, val, 1)) != NULL)
		PQsetNoticeProcessor(c, notice_discard, NULL);
	return c;
}

void
pgq_io_watch(struct ev_loop *loop, ev_io *io, const PGconn *conn,
    int events, int force)
{
	int fd = PQsocket(conn);

	if (!force && ev_is_active(io) && io->fd == fd &&
	    (io->events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(loop, io);
	if (fd < 0)
		return;
	ev_io_set(io, fd, events);
	ev_io_start(loop, io);
}

int
pgq_pipe_result(PGconn *conn, PGresult **res)
{
	int nulls = 0;

	while (!PQisBusy(conn)) {
		if ((*res = PQgetResult(conn)) != NULL)
			return 1;
		/* One NULL ends each statement's results; two in a row
		   mean libpq has nothing we are waiting for. */
		if (++nulls > 1)
			return -1;
	}
	return 0;
}

char *
pgq_msgline(char *out, size_t outlen, const char *msg)
{
	char *r = redact_str(msg ? msg : "");
	size_t n;

	snprintf(out, outlen, "%s", r ? r : "(out of memory)");
	free(r);
	for (n = strlen(out); n > 0 && (out[n - 1] == '\n' ||
	    out[n - 1] == ' '); n--)
		out[n - 1] = '\0';
	for (n = 0; out[n]; n++)
		if (out[n] == '\n' || out[n] == '\t' || out[n] == '\r')
			out[n] = ' ';
	return out;
}

/* ---- names ---- */

/* [a-z_][a-z0-9_]{0,62} (a channel) or [a-z0-9_]{1,63} (a statement). */
static int
name_ok(const char *s, int digit_first)
{
	size_t n;

	if (s == NULL || *s == '\0' || (!digit_first && *s >= '0' &&
	    *s <= '9'))
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (n == PGQ_NAME_MAX || !((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return 0;
	return 1;
}

static struct stmt *
stmt_find(struct pgq *q, const char *name)
{
	size_t i;

	for (i = 0; i < q->nstmts; i++)
		if (strcmp(q->stmts[i].name, name) == 0)
			return &q->stmts[i];
	return NULL;
}

/* ---- statements ---- */

static void
op_free(struct pgq *q, struct pgq_op *op)
{
	q->bytes -= op->bytes;
	PQclear(op->res);
	free(op->msg);
	free(op);
}

/* Out of q->ops (keeping q->unsent right). */
static void
op_unlink(struct pgq *q, struct pgq_op *op)
{
	if (q->unsent == op)
		q->unsent = TAILQ_NEXT(op, link);
	TAILQ_REMOVE(&q->ops, op, link);
	q->nops--;
}

/* Arm the watchdog for the oldest statement's deadline, if any. */
static void
watchdog_arm(struct pgq *q)
{
	struct pgq_op *op = TAILQ_FIRST(&q->ops);
	double after;

	ev_timer_stop(q->loop, &q->watchdog);
	if (op == NULL)
		return;
	after = op->deadline - ev_now(q->loop);
	ev_timer_set(&q->watchdog, after > 0 ? after : 0, 0);
	ev_timer_start(q->loop, &q->watchdog);
}

/*
 * op (out of q->ops) is answered: its callback is due, with res (taken)
 * or the error of op->msg, else msg (copied).  A forgotten op is freed.
 */
static void
op_complete(struct pgq *q, struct pgq_op *op, PGresult *res,
    const char *msg)
{
	if (op->forgotten) {
		PQclear(res);
		op_free(q, op);
		return;
	}
	op->res = res;
	if (res == NULL && op->msg == NULL && msg != NULL)
		op->msg = strdup(msg);
	op->state = OP_DONE;
	TAILQ_INSERT_TAIL(&q->done, op, link);
	q->ndone++;
	later_arm(&q->deliver);
}

/* The statements' callbacks, state changes and notifications. */
static void
deliver_cb(void *arg)
{
	struct pgq *q = arg;
	struct pgq_err e;
	struct pgq_op *op;
	PGnotify *n;

	if (q->shown_up != q->up) {
		q->shown_up = q->up;
		if (q->o.state_changed)
			q->o.state_changed(q, q->up, q->o.arg);
	}
	while ((op = TAILQ_FIRST(&q->done)) != NULL) {
		TAILQ_REMOVE(&q->done, op, link);
		q->ndone--;
		op->state = OP_CALLING;
		if (op->res != NULL)
			op->done(op->res, NULL, op->arg);
		else {
			memcpy(e.sqlstate, op->sqlstate, sizeof(e.sqlstate));
			e.lost = op->lost;
			e.timeout = op->timeout;
			snprintf(e.message, sizeof(e.message), "%s",
			    op->msg ? op->msg : "out of memory");
			op->done(NULL, &e, op->arg);
		}
		op_free(q, op);
	}
	if (q->missed && q->up && q->o.notify) {
		q->missed = 0;
		q->o.notify(q, NULL, NULL, q->o.arg);
	}
	while (q->conn != NULL && (n = PQnotifies(q->conn)) != NULL) {
		if (log_tracing(LOG_TRACE_STORE))
			trace(q, "in", "notify", n->relname, NULL);
		if (q->o.notify != NULL) {
			q->st.notifies++;
			q->o.notify(q, n->relname, n->extra ? n->extra : "",
			    q->o.arg);
		}
		PQfreemem(n);
	}
	/* A callback may have changed the state or failed statements: the
	   later runs again before the loop waits. */
	if (q->shown_up != q->up || !TAILQ_EMPTY(&q->done))
		later_arm(&q->deliver);
}

/* ---- watchers ---- */

static void
io_watch(struct pgq *q, int events, int force)
{
	pgq_io_watch(q->loop, &q->io, q->conn, events, force);
}

static void
timer_arm(struct pgq *q, double after)
{
	ev_timer_stop(q->loop, &q->timer);
	ev_timer_set(&q->timer, after, 0);
	ev_timer_start(q->loop, &q->timer);
}

/* ---- connection ---- */

/*
 * Close the connection.  Statements in flight fail with lost (reason
 * why), unless lose is 0 (pgq_free: they are freed); queued ones stay.
 */
static void
conn_close(struct pgq *q, int lose, const char *why)
{
	struct pgq_op *op;
	char msg[PGQ_ERR_MAX];
	size_t i;

	ev_io_stop(q->loop, &q->io);
	later_cancel(&q->kick);
	ev_timer_stop(q->loop, &q->timer);
	if (q->conn)
		PQfinish(q->conn);
	q->conn = NULL;
	q->connected = q->up = 0;
	q->setup_wait = 0;
	PQclear(q->cur);
	q->cur = NULL;
	q->phead = q->npipe = q->nsent = 0;
	for (i = 0; i < q->nstmts; i++)
		q->stmts[i].sent = 0;
	snprintf(msg, sizeof(msg), "connection lost: %s", why);
	while ((op = TAILQ_FIRST(&q->ops)) != NULL && op != q->unsent) {
		op_unlink(q, op);
		if (!lose) {
			op_free(q, op);
			continue;
		}
		if (op->timeout)
			q->st.timeouts++;
		else
			q->st.lost++;
		op->lost = 1;
		op_complete(q, op, NULL, op->msg ? op->msg : msg);
	}
}

/*
 * A connection-level failure: record and log why, fail what was in
 * flight, and plan the next attempt after the backoff.
 */
static void
fail(struct pgq *q, const char *fmt, ...)
{
	char msg[PGQ_ERR_MAX], old[PGQ_ERR_MAX];
	double delay;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(old, sizeof(old), "%s", q->err);
	pgq_msgline(q->err, sizeof(q->err), msg);
	delay = httpc_backoff(q->attempt, q->o.backoff_base_s,
	    q->o.backoff_cap_s, httpc_random());
	if (q->attempt < 30)
		q->attempt++;
	if (q->up)
		log_warnx("%s: database connection lost: %s; %zu statements "
		    "in flight, %zu queued; reconnecting", q->name, q->err,
		    q->nsent, q->nops - q->nsent);
	else if (strcmp(old, q->err) != 0)
		log_warnx("%s: database %s unavailable: %s; retrying", q->name,
		    q->shown, q->err);
	conn_close(q, 1, q->err);
	later_arm(&q->deliver);		/* the state change */
	timer_arm(q, delay);
	watchdog_arm(q);
}

static void
pipe_push(struct pgq *q, enum pipe_kind kind, size_t idx)
{
	INVARIANT(q->npipe < PIPE_MAX);	/* bounded by its parts */
	q->pipe[(q->phead + q->npipe++) % PIPE_MAX] = (struct pipe_ent){
	    .kind = kind, .idx = (unsigned short)idx };
}

/*
 * The channels' LISTENs, each with its sync (the statements are prepared
 * by kick's pump, first).  0, or -1 (libpq's error).
 */
static int
send_listens(struct pgq *q)
{
	char sql[sizeof("LISTEN \"\"") + PGQ_NAME_MAX];
	size_t i;

	for (i = 0; i < q->nchan; i++) {
		/* The name is checked ([a-z_][a-z0-9_]*): no quoting
		   needed beyond the identifier's quotes. */
		snprintf(sql, sizeof(sql), "LISTEN \"%s\"", q->chan[i]);
		if (!PQsendQueryParams(q->conn, sql, 0, NULL, NULL, NULL,
		    NULL, 0) || !PQpipelineSync(q->conn))
			return -1;
		pipe_push(q, PIPE_LISTEN, i);
		q->setup_wait++;
		if (log_tracing(LOG_TRACE_STORE))
			trace(q, "out", "listen", q->chan[i], NULL);
	}
	return 0;
}

/* Write what libpq holds; watch for writability while some remains. */
static int
flush(struct pgq *q)
{
	int r = PQflush(q->conn);

	if (r == -1) {
		fail(q, "%s", PQerrorMessage(q->conn));
		return -1;
	}
	io_watch(q, r == 1 ? EV_READ | EV_WRITE : EV_READ, 0);
	return 0;
}

static void	pump(struct pgq *);

static void
became_up(struct pgq *q)
{
	if (q->ever_up) {
		q->st.reconnects++;
		q->missed = 1;
		log_info("%s: database connection restored; %zu statements "
		    "queued", q->name, q->nops);
	} else
		log_info("%s: connected to database %s", q->name, q->shown);
	q->ever_up = q->up = 1;
	q->attempt = 0;
	q->err[0] = '\0';
	ev_timer_stop(q->loop, &q->timer);
	later_arm(&q->deliver);
	kick(q);
}

static void
on_connected(struct pgq *q)
{
	const char *pw = PQpass(q->conn);

	if (pw && strlen(pw) >= 4)
		redact_add_secret(pw);
	q->connected = 1;
	if (PQsetnonblocking(q->conn, 1) != 0 ||
	    !PQenterPipelineMode(q->conn) || send_listens(q) == -1) {
		fail(q, "%s", PQerrorMessage(q->conn));
		return;
	}
	pump(q);		/* the PREPAREs, then the flush */
	if (q->conn != NULL && q->setup_wait == 0)
		became_up(q);
}

static void
connect_step(struct pgq *q)
{
	switch (PQconnectPoll(q->conn)) {
	case PGRES_POLLING_READING:
		io_watch(q, EV_READ, 1);
		break;
	case PGRES_POLLING_WRITING:
		io_watch(q, EV_WRITE, 1);
		break;
	case PGRES_POLLING_OK:
		on_connected(q);
		break;
	case PGRES_POLLING_FAILED:
	default:
		fail(q, "%s", PQerrorMessage(q->conn));
		break;
	}
}

static void
conn_start(struct pgq *q)
{
	if ((q->conn = pgq_conn_start(q->conninfo)) == NULL) {
		fail(q, "out of memory");
		return;
	}
	if (PQstatus(q->conn) == CONNECTION_BAD) {
		fail(q, "%s", PQerrorMessage(q->conn));
		return;
	}
	timer_arm(q, q->o.connect_timeout_ms / 1000.0);
	io_watch(q, EV_WRITE, 1);
}

/* ---- results ---- */

/*
 * AFU9_TRACE=store: "<name> <what> <obj>[: <answer>]"; never a parameter
 * or a payload.  The peer is the connection's database@host:port.
 */
static void
trace(const struct pgq *q, const char *dir, const char *what,
    const char *obj, const char *answer)
{
	char line[PGQ_ERR_MAX + 160], peer[256];
	int n;

	n = snprintf(line, sizeof(line), "%s %s %s%s%s", q->name, what, obj,
	    answer ? ": " : "", answer ? answer : "");
	if (q->conn != NULL)
		snprintf(peer, sizeof(peer), "%s@%s:%s", PQdb(q->conn),
		    PQhost(q->conn), PQport(q->conn));
	else
		snprintf(peer, sizeof(peer), "database");
	log_trace(LOG_TRACE_STORE, dir, peer, line, n < 0 ? 0 :
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/*
 * res as an outcome: NULL when it is a success, else its message (the
 * server's primary one, redacted, one line) in msg, and its SQLSTATE in
 * sqlstate ("" when none).
 */
static const char *
res_error(const PGresult *res, char *msg, size_t msglen, char sqlstate[6])
{
	const char *st, *m;

	sqlstate[0] = '\0';
	if (res == NULL)
		return pgq_msgline(msg, msglen, "no result");
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		return NULL;
	default:
		break;
	}
	if ((st = PQresultErrorField(res, PG_DIAG_SQLSTATE)) != NULL)
		snprintf(sqlstate, 6, "%s", st);
	if ((m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) == NULL &&
	    *(m = PQresultErrorMessage(res)) == '\0')
		m = PQresStatus(PQresultStatus(res));
	return pgq_msgline(msg, msglen, m);
}

/* A PREPARE or LISTEN answered.  0, or -1 when the connection failed. */
static int
setup_done(struct pgq *q, const struct pipe_ent *e, PGresult *res)
{
	const char *obj = e->kind == PIPE_PREPARE ? q->stmts[e->idx].name :
	    q->chan[e->idx];
	char msg[PGQ_ERR_MAX], st[6];
	const char *bad = res_error(res, msg, sizeof(msg), st);

	if (log_tracing(LOG_TRACE_STORE))
		trace(q, "in", e->kind == PIPE_PREPARE ? "prepare" : "listen",
		    obj, bad ? bad : *PQcmdStatus(res) ? PQcmdStatus(res) :
		    "ok");
	PQclear(res);
	if (bad != NULL) {
		fail(q, "%s %s: %s", e->kind == PIPE_PREPARE ? "preparing" :
		    "listening on", obj, bad);
		return -1;
	}
	if (!q->up && --q->setup_wait == 0)
		became_up(q);
	return 0;
}

/* The oldest statement sent is answered with res (taken). */
static void
op_done(struct pgq *q, PGresult *res)
{
	struct pgq_op *op = TAILQ_FIRST(&q->ops);
	char msg[PGQ_ERR_MAX];
	const char *bad;

	INVARIANT(op != NULL && op->state == OP_SENT && q->nsent > 0);
	q->nsent--;
	op_unlink(q, op);
	bad = res_error(res, msg, sizeof(msg), op->sqlstate);
	if (log_tracing(LOG_TRACE_STORE))
		trace(q, "in", "exec", q->stmts[op->stmt].name, bad ? bad :
		    PQcmdStatus(res));
	if (bad == NULL) {
		q->st.executed++;
		op_complete(q, op, res, NULL);
		return;
	}
	q->st.failed++;
	PQclear(res);
	op_complete(q, op, NULL, bad);
}

/* The oldest entry got its PIPELINE_SYNC.  0, or -1: failed. */
static int
ent_done(struct pgq *q)
{
	struct pipe_ent e = q->pipe[q->phead];
	PGresult *res = q->cur;

	INVARIANT(q->npipe > 0);
	q->cur = NULL;
	q->phead = (q->phead + 1) % PIPE_MAX;
	q->npipe--;
	if (e.kind != PIPE_OP)
		return setup_done(q, &e, res);
	op_done(q, res);
	return 0;
}

/*
 * Handle every complete result libpq holds (read already, or read by
 * libpq while it wrote).  0, or -1 when the connection failed.
 */
static int
drain(struct pgq *q)
{
	PGresult *res;
	int r = 0;

	while (q->npipe > 0 && (r = pgq_pipe_result(q->conn, &res)) == 1) {
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (ent_done(q) == -1)
				return -1;
			continue;
		}
		if (q->cur == NULL)
			q->cur = res;
		else
			PQclear(res);	/* one result per statement */
	}
	if (r == -1) {
		fail(q, "database pipeline out of step");
		return -1;
	}
	if (PQstatus(q->conn) == CONNECTION_BAD) {
		fail(q, "%s", PQerrorMessage(q->conn));
		return -1;
	}
	if (q->nchan > 0)
		later_arm(&q->deliver);	/* maybe notifications */
	watchdog_arm(q);
	kick(q);
	return 0;
}

static void
on_read(struct pgq *q)
{
	if (!PQconsumeInput(q->conn)) {
		fail(q, "%s", PQerrorMessage(q->conn));
		return;
	}
	if (drain(q) == 0)
		flush(q);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct pgq *q = w->data;

	if (!q->connected) {
		connect_step(q);
		return;
	}
	if (revents & EV_READ)
		on_read(q);
	else if (q->conn && (revents & EV_WRITE) && flush(q) == 0)
		drain(q);
}

/* Backoff over: connect.  Else connecting took too long. */
static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgq *q = w->data;

	if (q->conn == NULL)
		conn_start(q);
	else
		fail(q, "no connection after %u ms", q->o.connect_timeout_ms);
}

/*
 * The oldest statement's deadline passed.  One sent drops the
 * connection (the rest in flight are lost); the queued ones past theirs
 * fail.
 */
static void
watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pgq *q = w->data;
	struct pgq_op *op = TAILQ_FIRST(&q->ops);
	char msg[PGQ_ERR_MAX + 64];	/* cut to PGQ_ERR_MAX when delivered */
	double now = ev_now(loop);

	if (op != NULL && op->state == OP_SENT && op->deadline <= now) {
		snprintf(msg, sizeof(msg), "no answer from the database in "
		    "%u ms", q->o.op_timeout_ms);
		op->timeout = 1;
		op->msg = strdup(msg);
		fail(q, "%s (statement %s)", msg, q->stmts[op->stmt].name);
	}
	while ((op = TAILQ_FIRST(&q->ops)) != NULL && op->deadline <= now &&
	    op->state == OP_QUEUED) {
		snprintf(msg, sizeof(msg), "not sent in %u ms%s%s",
		    q->o.op_timeout_ms, q->up ? "" : ": ", q->up ? "" :
		    q->err);
		op_unlink(q, op);
		op->timeout = 1;
		q->st.timeouts++;
		op_complete(q, op, NULL, msg);
	}
	watchdog_arm(q);
}

/* ---- sending ---- */

/*
 * Send what waits: statements not yet prepared on this connection
 * (while connected), then queued statements (while up) up to
 * PGQ_INFLIGHT in flight, and flush.
 */
static void
pump(struct pgq *q)
{
	struct pgq_op *op;
	struct stmt *s;
	size_t i;
	int sent = 0;

	later_cancel(&q->kick);
	if (q->conn == NULL || !q->connected)
		return;
	for (i = 0; i < q->nstmts; i++) {
		s = &q->stmts[i];
		if (s->sent)
			continue;
		if (!PQsendPrepare(q->conn, s->name, s->sql, s->nparams,
		    NULL) || !PQpipelineSync(q->conn))
			goto bad;
		s->sent = 1;
		pipe_push(q, PIPE_PREPARE, i);
		if (!q->up)
			q->setup_wait++;
		if (log_tracing(LOG_TRACE_STORE))
			trace(q, "out", "prepare", s->name, NULL);
		sent = 1;
	}
	while (q->up && (op = q->unsent) != NULL && q->nsent < PGQ_INFLIGHT) {
		s = &q->stmts[op->stmt];
		if (!PQsendQueryPrepared(q->conn, s->name, op->nparams, op->p,
		    NULL, NULL, 0) || !PQpipelineSync(q->conn))
			goto bad;
		op->state = OP_SENT;
		q->unsent = TAILQ_NEXT(op, link);
		q->nsent++;
		pipe_push(q, PIPE_OP, 0);
		if (log_tracing(LOG_TRACE_STORE))
			trace(q, "out", "exec", s->name, NULL);
		sent = 1;
	}
	if (sent && flush(q) == 0)
		drain(q);
	return;
bad:
	fail(q, "%s", PQerrorMessage(q->conn));
}

static void
kick_cb(void *arg)
{
	pump(arg);
}

/* Have pump() run before the loop waits, if it has work. */
static void
kick(struct pgq *q)
{
	size_t i;
	int work = q->up && q->unsent != NULL && q->nsent < PGQ_INFLIGHT;

	for (i = 0; !work && q->connected && i < q->nstmts; i++)
		work = !q->stmts[i].sent;
	if (work)
		later_arm(&q->kick);
}

/* ---- public ---- */

static void
opts_defaults(struct pgq_opts *o, const struct pgq_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (o->connect_timeout_ms == 0)
		o->connect_timeout_ms = 10000;
	if (o->op_timeout_ms == 0)
		o->op_timeout_ms = 30000;
	if (o->backoff_base_s <= 0)
		o->backoff_base_s = 0.2;
	if (o->backoff_cap_s <= 0)
		o->backoff_cap_s = 10;
	/* Borrowed for pgq_new() only. */
	o->name = o->password = NULL;
	memset(o->listen, 0, sizeof(o->listen));
}

/* The channels of in, checked and copied.  0, or -1 with err set. */
static int
channels_copy(struct pgq *q, const struct pgq_opts *in, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; in != NULL && i < PGQ_LISTEN_MAX && in->listen[i]; i++) {
		if (!name_ok(in->listen[i], 0))
			return errfmt(err, errlen, "LISTEN channel %zu is not "
			    "a name of [a-z_][a-z0-9_]{0,62}", i);
		snprintf(q->chan[i], sizeof(q->chan[i]), "%s", in->listen[i]);
	}
	q->nchan = i;
	return 0;
}

static void
watchers_init(struct pgq *q)
{
	ev_init(&q->io, io_cb);
	q->io.data = q;
	ev_init(&q->timer, timer_cb);
	q->timer.data = q;
	ev_init(&q->watchdog, watchdog_cb);
	q->watchdog.data = q;
	later_init(&q->kick, q->loop, kick_cb, q);
	later_init(&q->deliver, q->loop, deliver_cb, q);
}

struct pgq *
pgq_new(struct ev_loop *loop, const char *conninfo,
    const struct pgq_opts *opts, char *err, size_t errlen)
{
	struct pgq *q;

	if (conninfo == NULL || *conninfo == '\0') {
		errfmt(err, errlen, "no database connection string");
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		errfmt(err, errlen, "out of memory");
		return NULL;
	}
	if (mig_register_password(conninfo, opts ? opts->password : NULL) ==
	    -1) {
		errfmt(err, errlen, "database connection string cannot be "
		    "parsed (check DATABASE_URL)");
		free(q);
		return NULL;
	}
	if (channels_copy(q, opts, err, errlen) == -1) {
		free(q);
		return NULL;
	}
	q->loop = loop;
	snprintf(q->name, sizeof(q->name), "%s", opts && opts->name ?
	    opts->name : "pgq");
	opts_defaults(&q->o, opts);
	mig_conninfo_redact(conninfo, q->shown, sizeof(q->shown));
	snprintf(q->err, sizeof(q->err), "connecting");
	TAILQ_INIT(&q->ops);
	TAILQ_INIT(&q->done);
	watchers_init(q);
	if ((q->conninfo = strdup(conninfo)) == NULL) {
		errfmt(err, errlen, "out of memory");
		free(q);
		return NULL;
	}
	timer_arm(q, 0);
	return q;
}

void
pgq_free(struct pgq *q)
{
	struct pgq_op *op;
	size_t i;

	if (q == NULL)
		return;
	conn_close(q, 0, "");
	while ((op = TAILQ_FIRST(&q->ops)) != NULL) {
		op_unlink(q, op);
		op_free(q, op);
	}
	while ((op = TAILQ_FIRST(&q->done)) != NULL) {
		TAILQ_REMOVE(&q->done, op, link);
		op_free(q, op);
	}
	ev_timer_stop(q->loop, &q->watchdog);
	later_cancel(&q->deliver);
	for (i = 0; i < q->nstmts; i++)
		free(q->stmts[i].sql);
	free(q->conninfo);
	free(q);
}

int
pgq_prepare_all(struct pgq *q, const struct pgq_stmt *stmts, size_t n,
    char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pgq_prepare(q, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams) == -1)
			return errfmt(err, errlen, "prepare %s: %s",
			    stmts[i].name, strerror(errno));
	return 0;
}

int
pgq_prepare(struct pgq *q, const char *name, const char *sql, int nparams)
{
	struct stmt *s;

	if (!name_ok(name, 1) || sql == NULL ||
	    strnlen(sql, PGQ_SQL_MAX + 1) > PGQ_SQL_MAX || nparams < 0 ||
	    nparams > PGQ_NPARAMS_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (stmt_find(q, name) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (q->nstmts == PGQ_STMTS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	s = &q->stmts[q->nstmts];
	if ((s->sql = strdup(sql)) == NULL)
		return -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->nparams = nparams;
	s->sent = 0;
	q->nstmts++;
	kick(q);
	return 0;
}

struct pgq_op *
pgq_exec(struct pgq *q, const char *name, int nparams,
    const char *const *params, pgq_done_fn done, void *arg)
{
	struct stmt *s = name ? stmt_find(q, name) : NULL;
	size_t len[PGQ_NPARAMS_MAX], bytes = 0, off;
	struct pgq_op *op;
	char *text;
	int i;

	if (s == NULL || done == NULL || nparams != s->nparams ||
	    (nparams > 0 && params == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	for (i = 0; i < nparams; i++) {
		len[i] = params[i] ? strlen(params[i]) + 1 : 0;
		if ((bytes += len[i]) > PGQ_QUEUE_BYTES) {
			errno = EMSGSIZE;
			return NULL;
		}
	}
	if (q->nops + q->ndone >= PGQ_QUEUE_MAX ||
	    bytes > PGQ_QUEUE_BYTES - q->bytes) {
		errno = ENOSPC;
		return NULL;
	}
	off = sizeof(*op) + (size_t)nparams * sizeof(op->p[0]);
	if ((op = calloc(1, off + bytes)) == NULL)
		return NULL;
	text = (char *)op + off;
	for (i = 0; i < nparams; i++) {
		if (params[i] == NULL)
			continue;
		memcpy(text, params[i], len[i]);
		op->p[i] = text;
		text += len[i];
	}
	op->q = q;
	op->stmt = (size_t)(s - q->stmts);
	op->nparams = nparams;
	op->bytes = bytes;
	op->done = done;
	op->arg = arg;
	op->deadline = ev_now(q->loop) + q->o.op_timeout_ms / 1000.0;
	op->state = OP_QUEUED;
	TAILQ_INSERT_TAIL(&q->ops, op, link);
	if (q->unsent == NULL)
		q->unsent = op;
	q->nops++;
	q->bytes += bytes;
	if (q->nops == 1)
		watchdog_arm(q);
	kick(q);
	return op;
}

void
pgq_op_forget(struct pgq_op *op)
{
	struct pgq *q;

	if (op == NULL)
		return;
	q = op->q;
	switch (op->state) {
	case OP_QUEUED:
		op_unlink(q, op);
		op_free(q, op);
		watchdog_arm(q);
		break;
	case OP_SENT:
		op->forgotten = 1;
		break;
	case OP_DONE:
		TAILQ_REMOVE(&q->done, op, link);
		q->ndone--;
		op_free(q, op);
		break;
	case OP_CALLING:
		break;
	}
}

int
pgq_up(const struct pgq *q)
{
	return q->up;
}

const char *
pgq_last_error(const struct pgq *q)
{
	return q->up ? "" : q->err;
}

size_t
pgq_pending(const struct pgq *q)
{
	return q->nops + q->ndone;
}

void
pgq_get_stats(const struct pgq *q, struct pgq_stats *out)
{
	*out = q->st;
}

void
pgq_reconnect(struct pgq *q)
{
	if (q->conn == NULL)
		return;
	fail(q, "reconnect requested");
}
