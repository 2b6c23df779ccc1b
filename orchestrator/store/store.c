/*
 * store: asynchronous PostgreSQL writer on the orchestrator's loop (see
 * store.h).
 *
 * Connection life: DOWN/CONNECTING with no PGconn -> PQconnectStartParams,
 * PQconnectPoll on socket readiness (connect_timeout_ms guards it) ->
 * pipeline mode, the statements prepared (and synchronous_commit set when
 * asked) -> UP.  Any connection-level failure closes the PGconn, puts
 * everything unacknowledged back to be sent, and arms the backoff timer;
 * its expiry starts the next attempt.
 *
 * Every statement is followed by its own PQpipelineSync, so the results
 * for one operation are: its result, a NULL, a PGRES_PIPELINE_SYNC.
 * s->ops mirrors what was sent, in order: results are matched to it.
 *
 * Audit rows go in batches: everything queued (up to BATCH_ROWS rows and
 * BATCH_BYTES) becomes one INSERT ... SELECT FROM unnest() of sixteen
 * array parameters (a NULL element for a row's NULL), one statement and
 * so one transaction and one WAL flush.  One batch is in flight at a
 * time: rows queued while it is written form the next one, so the batch
 * size follows the commit time.
 * Under a steady stream of calls the batches are also spaced at least
 * linger apart (AFU9_AUDIT_LINGER_MS, default 5 ms; like TCP's corking):
 * a row that comes after a quiet spell goes at once, rows that follow it
 * closely wait until the linger is over or LINGER_ROWS of them wait, so a
 * busy gateway pays for one round trip, one commit and one wakeup per
 * linger, not per few calls.  Shutdown sends what waits at once.
 * A batch refused for a row's data (SQLSTATE class 22, 23: a check,
 * or a foreign key naming an execution, step or agent run that is not
 * there) names no row, so its rows are then sent one statement each
 * ("isolating"): only the bad row is dropped, and batching resumes
 * after them.  Rows are sent in queue order, so the audit rows in flight
 * are always the queue's first qsent.
 *
 * The rows themselves are built elsewhere, audit.c (mcp_tool_calls) and
 * servers.c (mcp_servers); a batch's array parameters are made here,
 * beside the statement that sends them.  store_int.h is what the files
 * share.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "httpc.h"
#include "conf/conf_env.h"
#include "later.h"
#include "log.h"
#include "store/migrate.h"
#include "store/pgq.h"
#include "redact.h"
#include "store/store.h"
#include "store/store_int.h"
#include "subsys.h"

#define BATCH_ROWS	500	/* audit rows in one statement */
#define LINGER_ROWS	128	/* this many waiting: no more lingering */
#define BATCH_BYTES	(4u << 20) /* row bytes in one statement (one
				   row always goes, whatever its size) */
#define ARRAYS_MAX	(4 * BATCH_BYTES) /* bound of the array literals:
				   quoting at most doubles a row */

#define STMT_AUDIT	"afu9_audit_insert"
#define STMT_BATCH	"afu9_audit_batch"
#define STMT_BATCH_NEW	"afu9_audit_batch_new"
#define STMT_SERVER	"afu9_server_upsert"

static const char audit_sql[] =
    "INSERT INTO mcp_tool_calls (id, server, tool, rpc_id, caller, "
    "arguments, status, result_summary, is_error, error_code, "
    "error_message, duration_ms, started_at, execution_id, step_id, "
    "agent_run_id) VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $6::jsonb, "
    "$7, $8, $9::boolean, $10::integer, $11, $12::integer, "
    "to_timestamp($13::double precision), $14::uuid, $15::uuid, "
    "$16::uuid) ON CONFLICT (id) DO NOTHING";

/*
 * The same columns, one array per column, one row per element.  Rows
 * never sent before cannot be in the table (their ids are new), so
 * their batches skip ON CONFLICT, whose check costs PostgreSQL an extra
 * index probe per row; a batch with a resent row keeps it.
 */
#define BATCH_INSERT \
    "INSERT INTO mcp_tool_calls (id, server, tool, rpc_id, caller, " \
    "arguments, status, result_summary, is_error, error_code, " \
    "error_message, duration_ms, started_at, execution_id, step_id, " \
    "agent_run_id) SELECT id, server, tool, rpc_id, caller, arguments, " \
    "status, result_summary, is_error, error_code, error_message, " \
    "duration_ms, to_timestamp(started_at), execution_id, step_id, " \
    "agent_run_id FROM unnest($1::uuid[], $2::text[], $3::text[], " \
    "$4::jsonb[], $5::text[], $6::jsonb[], $7::text[], $8::text[], " \
    "$9::boolean[], $10::integer[], $11::text[], $12::integer[], " \
    "$13::double precision[], $14::uuid[], $15::uuid[], $16::uuid[]) " \
    "AS u (id, server, tool, rpc_id, caller, arguments, status, " \
    "result_summary, is_error, error_code, error_message, duration_ms, " \
    "started_at, execution_id, step_id, agent_run_id)"
static const char batch_sql[] = BATCH_INSERT " ON CONFLICT (id) DO NOTHING";
static const char batch_new_sql[] = BATCH_INSERT;

static const char async_sql[] = "SET synchronous_commit = off";

static const char server_sql[] =
    "INSERT INTO mcp_servers (name, command, args, state, health, pid, "
    "restarts, last_exit_cause, tool_count, protocol_version, reported_by) "
    "VALUES ($1, $2, $3::jsonb, $4, $5, $6::integer, $7::integer, $8, "
    "$9::integer, $10, $11) ON CONFLICT (name) DO UPDATE SET "
    "command = EXCLUDED.command, args = EXCLUDED.args, "
    "state = EXCLUDED.state, health = EXCLUDED.health, pid = EXCLUDED.pid, "
    "restarts = EXCLUDED.restarts, "
    "last_exit_cause = EXCLUDED.last_exit_cause, "
    "tool_count = EXCLUDED.tool_count, "
    "protocol_version = EXCLUDED.protocol_version, "
    "reported_by = EXCLUDED.reported_by";

static void	conn_start(struct store *);
static void	fail(struct store *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	pump(struct store *);

/* ---- audit batches ---- */

/*
 * Columns whose values never hold '"' or '\' (uuids, a caller, a
 * status, a boolean, integers, a time): their elements need no escape
 * scan.
 */
#define PLAIN_COLS	(1u << 0 | 1u << 4 | 1u << 6 | 1u << 8 | 1u << 9 | \
			    1u << 11 | 1u << 12 | 1u << 13 | 1u << 14 | \
			    1u << 15)

/*
 * Write s (n bytes) at p as one element of an array literal: "...",
 * with '"' and '\' escaped unless plain, and a ','.  Returns the end.
 * Room: 2 * n + 3 bytes.
 */
static char *
arr_elem(char *p, const char *s, size_t n, int plain)
{
	const char *end = s + n;
	size_t k;

	*p++ = '"';
	if (plain) {
		memcpy(p, s, n);
		p += n;
	} else
		while (s < end) {
			k = strcspn(s, "\"\\");
			memcpy(p, s, k);
			p += k;
			s += k;
			if (s < end) {
				*p++ = '\\';
				*p++ = *s++;
			}
		}
	*p++ = '"';
	*p++ = ',';
	return p;
}

/*
 * The batch's parameters: for each column, the array literal of the
 * queue's first n rows (NUL-terminated, in s->arrays; valid until
 * the next call).  0, or -1 (ENOBUFS, ENOMEM).
 */
static int
batch_params(struct store *s, size_t n, const char *params[AUDIT_NPARAM])
{
	size_t off[AUDIT_NPARAM], len[BATCH_ROWS], c, i, need, avail;
	struct buf *b = &s->arrays;
	const char *v;
	char *o, *p;

	buf_reset(b);
	for (c = 0; c < AUDIT_NPARAM; c++) {
		off[c] = buf_used(b);
		/* One reservation per column: "{", each element at worst
		   doubled, "}" and the NUL. */
		for (need = 3, i = 0; i < n; i++) {
			v = s->q[(s->qhead + i) % s->qcap]->p[c];
			len[i] = v ? strlen(v) : 0;
			need += v ? 2 * len[i] + 3 : 5;
		}
		if ((o = p = buf_reserve(b, need, &avail)) == NULL)
			return -1;
		if (avail < need) {
			errno = ENOBUFS;
			return -1;
		}
		*p++ = '{';
		for (i = 0; i < n; i++) {
			v = s->q[(s->qhead + i) % s->qcap]->p[c];
			if (v == NULL) {
				memcpy(p, "NULL,", 5);
				p += 5;
			} else
				p = arr_elem(p, v, len[i], (PLAIN_COLS >> c) &
				    1);
		}
		/* The last element's ',' becomes the closing brace. */
		p[-1] = '}';
		*p++ = '\0';
		buf_commit(b, (size_t)(p - o));
	}
	for (c = 0; c < AUDIT_NPARAM; c++)
		params[c] = buf_data(b) + off[c];
	return 0;
}

/* ---- watchers ---- */

static void
set_state(struct store *s, enum store_state st)
{
	if (s->state == st)
		return;
	s->state = st;
	if (s->o.state_changed)
		s->o.state_changed(s, st, s->o.arg);
}

static void
io_watch(struct store *s, int events, int force)
{
	pgq_io_watch(s->loop, &s->io, s->conn, events, force);
}

static void
timer_arm(struct store *s, double after)
{
	ev_timer_stop(s->loop, &s->timer);
	ev_timer_set(&s->timer, after, 0);
	ev_timer_start(s->loop, &s->timer);
}

/* Rows wait for the next batch (none in flight, not isolating). */
static int
audit_waiting(const struct store *s)
{
	return s->isolate == 0 && s->qsent == 0 && s->qlen > 0;
}

/* The next batch may go: no linger, or it is over, or it need not be. */
static int
linger_over(const struct store *s)
{
	return s->linger_due || s->draining || s->qlen >= LINGER_ROWS ||
	    ev_now(s->loop) - s->last_batch >= s->linger_s;
}

/*
 * Audit rows that may be sent now: while isolating, the suspect rows
 * not yet sent, one statement each; else, when no batch is in flight,
 * the next batch once the linger allows.
 */
static int
audit_sendable(const struct store *s)
{
	if (s->isolate > 0)
		return s->qsent < s->isolate;
	return audit_waiting(s) && linger_over(s);
}

/*
 * Something waits to be sent: send it before the loop next blocks, or
 * when the linger is over.
 */
void
store_kick(struct store *s)
{
	int work = audit_sendable(s);
	size_t i;

	if (!work && audit_waiting(s) && s->state == STORE_UP &&
	    !ev_is_active(&s->linger)) {
		ev_timer_set(&s->linger, s->last_batch + s->linger_s -
		    ev_now(s->loop), 0);
		ev_timer_start(s->loop, &s->linger);
	}
	for (i = 0; !work && i < s->nsrv; i++)
		work = s->srv[i].has_pending && !s->srv[i].has_inflight;
	if (work && s->state == STORE_UP && s->opn < OPS_MAX)
		later_arm(&s->kick);
	else
		later_cancel(&s->kick);
}

static size_t
servers_pending(const struct store *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nsrv; i++)
		n += s->srv[i].has_pending || s->srv[i].has_inflight;
	return n;
}

/* Shutdown: once nothing waits, let the grace timer call done. */
static void
drain_check(struct store *s)
{
	if (!s->draining || s->drained || s->qlen > 0 || servers_pending(s))
		return;
	s->drained = 1;
	ev_timer_stop(s->loop, &s->grace);
	ev_timer_set(&s->grace, 0, 0);
	ev_timer_start(s->loop, &s->grace);
}

/* ---- connection ---- */

/*
 * Close the connection; everything unacknowledged is put back to be sent
 * again (audit rows keep their place; a server report in flight returns
 * to pending unless a newer one is waiting).
 */
static void
conn_close(struct store *s)
{
	size_t i;
	struct srv *v;

	ev_io_stop(s->loop, &s->io);
	later_cancel(&s->kick);
	ev_timer_stop(s->loop, &s->timer);
	if (s->conn)
		PQfinish(s->conn);
	s->conn = NULL;
	s->connected = 0;
	s->prepared = 0;
	s->qsent = 0;
	s->ophead = s->opn = 0;
	for (i = 0; i < s->nsrv; i++) {
		v = &s->srv[i];
		if (!v->has_inflight)
			continue;
		if (v->has_pending)
			param_free(v->inflight, SRV_NPARAM);
		else {
			memcpy(v->pending, v->inflight, sizeof(v->pending));
			memset(v->inflight, 0, sizeof(v->inflight));
			v->has_pending = 1;
		}
		v->has_inflight = 0;
	}
}

/*
 * A connection-level failure: record and log why, close, and plan the
 * next attempt after the backoff.
 */
static void
fail(struct store *s, const char *fmt, ...)
{
	char msg[STORE_ERR_MAX], old[STORE_ERR_MAX];
	double delay;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(old, sizeof(old), "%s", s->err);
	pgq_msgline(s->err, sizeof(s->err), msg);
	delay = httpc_backoff(s->attempt, s->o.backoff_base_s,
	    s->o.backoff_cap_s, httpc_random());
	if (s->attempt < 30)
		s->attempt++;
	if (s->state == STORE_UP)
		log_warnx("database connection lost: %s; %zu audit rows "
		    "queued; reconnecting", s->err, s->qlen);
	else if (strcmp(old, s->err) != 0)
		log_warnx("database %s unavailable: %s; retrying", s->shown,
		    s->err);
	conn_close(s);
	set_state(s, STORE_DOWN);
	timer_arm(s, delay);
}

static void	op_push(struct store *, struct op);
static void	trace_op(const struct store *, const char *, const struct op *,
		    const char *);

/*
 * The session's setup, each statement with its sync: the three prepared
 * statements, and synchronous_commit when asked.  0, or -1 (libpq's
 * error; the caller fails the connection).
 */
static int
send_setup(struct store *s)
{
	static const struct {
		const char	*name, *sql;
		int		 nparam;
	} stmts[] = {
		{ STMT_AUDIT, audit_sql, AUDIT_NPARAM },
		{ STMT_BATCH, batch_sql, AUDIT_NPARAM },
		{ STMT_BATCH_NEW, batch_new_sql, AUDIT_NPARAM },
		{ STMT_SERVER, server_sql, SRV_NPARAM },
	};
	size_t i;

	s->nsetup = 0;
	for (i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
		if (!PQsendPrepare(s->conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparam, NULL) || !PQpipelineSync(s->conn))
			return -1;
		op_push(s, (struct op){ .kind = OP_SETUP, .stmt =
		    stmts[i].name });
		s->nsetup++;
	}
	if (s->async_commit) {
		if (!PQsendQueryParams(s->conn, async_sql, 0, NULL, NULL,
		    NULL, NULL, 0) || !PQpipelineSync(s->conn))
			return -1;
		op_push(s, (struct op){ .kind = OP_SETUP, .stmt = async_sql });
		s->nsetup++;
	}
	return 0;
}

/* Write what libpq holds; watch for writability while some remains. */
static void
flush(struct store *s)
{
	int r = PQflush(s->conn);

	if (r == -1) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	io_watch(s, r == 1 ? EV_READ | EV_WRITE : EV_READ, 0);
	if (s->opn > 0)
		timer_arm(s, s->o.op_timeout_ms / 1000.0);
	else
		ev_timer_stop(s->loop, &s->timer);
}

static void
on_connected(struct store *s)
{
	const char *pw = PQpass(s->conn);

	if (pw && strlen(pw) >= 4)
		redact_add_secret(pw);
	s->connected = 1;
	if (PQsetnonblocking(s->conn, 1) != 0 ||
	    !PQenterPipelineMode(s->conn)) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	if (send_setup(s) == -1) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	flush(s);
}

static void
connect_step(struct store *s)
{
	switch (PQconnectPoll(s->conn)) {
	case PGRES_POLLING_READING:
		io_watch(s, EV_READ, 1);
		break;
	case PGRES_POLLING_WRITING:
		io_watch(s, EV_WRITE, 1);
		break;
	case PGRES_POLLING_OK:
		on_connected(s);
		break;
	case PGRES_POLLING_FAILED:
	default:
		fail(s, "%s", PQerrorMessage(s->conn));
		break;
	}
}

static void
conn_start(struct store *s)
{
	set_state(s, STORE_CONNECTING);
	s->conn = pgq_conn_start(s->conninfo);
	if (s->conn == NULL) {
		fail(s, "out of memory");
		return;
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	timer_arm(s, s->o.connect_timeout_ms / 1000.0);
	io_watch(s, EV_WRITE, 1);
}

/* ---- results ---- */

/* Record one statement result in the oldest op. */
static void
op_result(struct store *s, PGresult *res)
{
	struct op *op = &s->ops[s->ophead];
	const char *st, *m, *con;

	INVARIANT(s->opn > 0);		/* a result answers a statement sent */
	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		op->inserted = strtoul(PQcmdTuples(res), NULL, 10);
		if (log_tracing(LOG_TRACE_STORE))
			trace_op(s, "in", op, PQcmdStatus(res));
		return;
	default:
		break;
	}
	op->failed = 1;
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	con = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	op->permanent = st && st[0] == '2' && (st[1] == '2' || st[1] == '3');
	snprintf(op->msg, sizeof(op->msg), "%s%s%s%s%s%s",
	    m ? m : PQresultErrorMessage(res), st ? " (SQLSTATE " : "",
	    st ? st : "", st ? ")" : "", con ? " constraint " : "",
	    con ? con : "");
	if (log_tracing(LOG_TRACE_STORE))
		trace_op(s, "in", op, op->msg);
}

/* The queue's head row was answered: forget it. */
static void
audit_pop(struct store *s)
{
	struct qrow *r = s->q[s->qhead];

	s->qbytes -= r->bytes;
	qrow_free(r);
	s->q[s->qhead] = NULL;
	s->qhead = (s->qhead + 1) % s->qcap;
	s->qlen--;
	s->qsent--;
	if (s->isolate > 0)
		s->isolate--;
}

/*
 * An audit statement (the oldest in flight, so for the queue's first
 * op->nrows rows) is done and did not fail the connection.  A refused
 * batch is taken apart; a refused single row is dropped.
 */
static void
audit_done(struct store *s, const struct op *op)
{
	const struct qrow *r = s->q[s->qhead];
	size_t i;

	if (op->failed && op->batch) {
		log_debug("audit batch of %zu rows refused (%s); writing them "
		    "one by one", op->nrows, op->msg);
		s->qsent -= op->nrows;
		s->isolate = op->nrows;
		return;
	}
	if (op->failed) {
		s->st.audit_rejected++;
		log_warnx("audit row for %s.%s rejected by the database: %s",
		    r->p[1], r->p[2], op->msg);
	} else {
		s->st.audit_written += op->inserted;
		s->st.audit_duplicates += op->nrows - op->inserted;
	}
	for (i = 0; i < op->nrows; i++)
		audit_pop(s);
}

static void
became_up(struct store *s)
{
	if (s->ever_up) {
		s->st.reconnects++;
		log_info("database connection restored; %zu audit rows "
		    "queued", s->qlen);
	} else
		log_info("connected to database %s", s->shown);
	s->ever_up = 1;
	s->attempt = 0;
	s->err[0] = '\0';
	set_state(s, STORE_UP);
}

/*
 * The oldest op got its PIPELINE_SYNC: act on its outcome.  Returns 0,
 * or -1 when the connection was failed (s->ops is then reset).
 */
static int
op_done(struct store *s)
{
	struct op op = s->ops[s->ophead];
	struct srv *v;

	INVARIANT(s->opn > 0);
	s->ophead = (s->ophead + 1) % OPS_MAX;
	s->opn--;
	if (op.failed && (!op.permanent || op.kind == OP_SETUP)) {
		fail(s, "%s%s", op.kind == OP_SETUP ?
		    "preparing statements: " : "", op.msg);
		return -1;
	}
	switch (op.kind) {
	case OP_SETUP:
		if (++s->prepared == s->nsetup)
			became_up(s);
		break;
	case OP_AUDIT:
		s->st.audit_batches++;
		audit_done(s, &op);
		break;
	case OP_SERVER:
		v = &s->srv[op.slot];
		if (op.failed)
			log_warnx("server state of %s rejected by the "
			    "database: %s", v->name, op.msg);
		else
			s->st.servers_written++;
		param_free(v->inflight, SRV_NPARAM);
		v->has_inflight = 0;
		break;
	}
	return 0;
}

/* Read what arrived and handle every complete result. */
static void
on_read(struct store *s)
{
	PGresult *res;
	int r = 0;

	if (!PQconsumeInput(s->conn)) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	while (s->opn > 0 && (r = pgq_pipe_result(s->conn, &res)) == 1) {
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (op_done(s) == -1)
				return;
			continue;
		}
		op_result(s, res);
		PQclear(res);
	}
	if (r == -1) {
		fail(s, "database pipeline out of step");
		return;
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	flush(s);
	if (s->conn == NULL)
		return;
	store_kick(s);
	drain_check(s);
}

static void
io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct store *s = w->data;

	if (!s->connected) {
		connect_step(s);
		return;
	}
	if (revents & EV_READ)
		on_read(s);
	else if (s->conn && (revents & EV_WRITE))
		flush(s);
}

/* Backoff over: connect.  Else a connect or a statement took too long. */
static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store *s = w->data;

	if (s->conn == NULL)
		conn_start(s);
	else if (!s->connected)
		fail(s, "no connection after %u ms", s->o.connect_timeout_ms);
	else
		fail(s, "no answer from the database in %u ms",
		    s->o.op_timeout_ms);
}

/* ---- sending ---- */

/*
 * AFU9_TRACE=store: what a statement is, in a few words ("audit batch
 * rows=12", "server github", "setup afu9_audit"), and the answer's tag or
 * error; never a parameter (those are in the table, redacted).  The peer
 * is the connection's database@host:port.
 */
static void
trace_op(const struct store *s, const char *dir, const struct op *op,
    const char *what)
{
	char line[512], peer[256];
	int n;

	switch (op->kind) {
	case OP_SETUP:
		n = snprintf(line, sizeof(line), "setup %s", op->stmt);
		break;
	case OP_AUDIT:
		n = snprintf(line, sizeof(line), "audit %s rows=%zu",
		    op->batch ? "batch" : "row", op->nrows);
		break;
	default:
		n = snprintf(line, sizeof(line), "server %s",
		    s->srv[op->slot].name);
		break;
	}
	if (n >= 0 && (size_t)n < sizeof(line) && what != NULL &&
	    *what != '\0')
		n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s", what);
	if (s->conn != NULL)
		snprintf(peer, sizeof(peer), "%s@%s:%s", PQdb(s->conn),
		    PQhost(s->conn), PQport(s->conn));
	else
		snprintf(peer, sizeof(peer), "database");
	log_trace(LOG_TRACE_STORE, dir, peer, line, n < 0 ? 0 :
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void
op_push(struct store *s, struct op op)
{
	INVARIANT(s->opn < OPS_MAX);	/* callers check for room */
	s->ops[(s->ophead + s->opn++) % OPS_MAX] = op;
	if (log_tracing(LOG_TRACE_STORE))
		trace_op(s, "out", &op, NULL);
}

/* The next unsent row as its own statement.  0, or -1 (libpq's error). */
static int
send_row(struct store *s)
{
	struct qrow *r = s->q[(s->qhead + s->qsent) % s->qcap];

	if (!PQsendQueryPrepared(s->conn, STMT_AUDIT, AUDIT_NPARAM, r->p,
	    NULL, NULL, 0) || !PQpipelineSync(s->conn))
		return -1;
	r->sent = 1;
	s->qsent++;
	op_push(s, (struct op){ .kind = OP_AUDIT, .nrows = 1 });
	return 0;
}

/*
 * Every queued row, up to BATCH_ROWS and BATCH_BYTES, as one statement
 * (one row alone goes as send_row()).  0, or -1 with the error in err.
 */
static int
send_batch(struct store *s, char *err, size_t errlen)
{
	const char *params[AUDIT_NPARAM];
	size_t n, i, bytes = 0, b;
	int resent = 0;

	for (n = 0; n < s->qlen && n < BATCH_ROWS; n++) {
		b = s->q[(s->qhead + n) % s->qcap]->bytes;
		if (n > 0 && bytes + b > BATCH_BYTES)
			break;
		bytes += b;
	}
	if (n == 1) {
		if (send_row(s) == 0)
			return 0;
		errfmt(err, errlen, "%s", PQerrorMessage(s->conn));
		return -1;
	}
	if (batch_params(s, n, params) == -1) {
		errfmt(err, errlen, "audit batch of %zu rows: %s", n,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++)
		resent |= s->q[(s->qhead + i) % s->qcap]->sent;
	if (!PQsendQueryPrepared(s->conn, resent ? STMT_BATCH : STMT_BATCH_NEW,
	    AUDIT_NPARAM, params, NULL, NULL, 0) ||
	    !PQpipelineSync(s->conn)) {
		errfmt(err, errlen, "%s", PQerrorMessage(s->conn));
		return -1;
	}
	for (i = 0; i < n; i++)
		s->q[(s->qhead + i) % s->qcap]->sent = 1;
	s->qsent = n;
	op_push(s, (struct op){ .kind = OP_AUDIT, .nrows = n, .batch = 1 });
	return 0;
}

/* A batch (or a lone row) was sent: the next one lingers from now. */
static void
linger_restart(struct store *s)
{
	s->last_batch = ev_now(s->loop);
	s->linger_due = 0;
	ev_timer_stop(s->loop, &s->linger);
}

static int
send_server(struct store *s, size_t i)
{
	struct srv *v = &s->srv[i];

	if (!PQsendQueryPrepared(s->conn, STMT_SERVER, SRV_NPARAM,
	    (const char *const *)v->pending, NULL, NULL, 0) ||
	    !PQpipelineSync(s->conn))
		return -1;
	memcpy(v->inflight, v->pending, sizeof(v->inflight));
	memset(v->pending, 0, sizeof(v->pending));
	v->has_inflight = 1;
	v->has_pending = 0;
	op_push(s, (struct op){ .kind = OP_SERVER, .slot = i });
	return 0;
}

/*
 * Send what waits, up to OPS_MAX statements in flight: server reports
 * first (few, and /ready readers want them fresh), then audit rows in
 * order: the suspect rows of a refused batch one by one, else the next
 * batch once the last one is answered.
 */
static void
pump(struct store *s)
{
	char err[STORE_ERR_MAX];
	size_t i;
	int sent = 0;

	later_cancel(&s->kick);
	if (s->state != STORE_UP || s->conn == NULL)
		return;
	for (i = 0; i < s->nsrv && s->opn < OPS_MAX; i++) {
		if (!s->srv[i].has_pending || s->srv[i].has_inflight)
			continue;
		if (send_server(s, i) == -1)
			goto bad;
		sent = 1;
	}
	while (s->isolate > 0 && s->qsent < s->isolate && s->opn < OPS_MAX) {
		if (send_row(s) == -1)
			goto bad;
		sent = 1;
	}
	if (audit_sendable(s) && s->opn < OPS_MAX) {
		if (send_batch(s, err, sizeof(err)) == -1) {
			fail(s, "%s", err);
			return;
		}
		linger_restart(s);
		sent = 1;
	}
	if (sent)
		flush(s);
	return;
bad:
	fail(s, "%s", PQerrorMessage(s->conn));
}

static void
kick_cb(void *arg)
{
	pump(arg);
}

static void
linger_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store *s = w->data;

	s->linger_due = 1;
	store_kick(s);
}

/* ---- drops ---- */

static void
drop_log(struct store *s)
{
	log_warnx("audit queue full (%zu rows, %zu bytes; database %s): "
	    "dropped %llu new audit row(s), %llu in total",
	    s->qlen, s->qbytes, store_state_name(s->state),
	    (unsigned long long)s->drops_unlogged,
	    (unsigned long long)s->st.audit_dropped);
	s->drops_unlogged = 0;
}

static void
droplog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store *s = w->data;

	if (s->drops_unlogged > 0)
		drop_log(s);
	else
		ev_timer_stop(loop, w);
}

/* Count a dropped row; warn now, or at the end of the quiet interval. */
int
store_drop_row(struct store *s)
{
	s->st.audit_dropped++;
	s->drops_unlogged++;
	if (!ev_is_active(&s->droplog)) {
		drop_log(s);
		ev_timer_again(s->loop, &s->droplog);
	}
	return 1;
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store *s = w->data;
	void (*done)(void *) = s->done;
	void *arg = s->done_arg;

	ev_timer_stop(loop, w);
	if (!s->drained && (s->qlen > 0 || servers_pending(s)))
		log_warnx("shutting down: %zu audit rows and %zu server "
		    "states not written to the database", s->qlen,
		    servers_pending(s));
	s->drained = 1;
	s->done = NULL;
	if (done)
		done(arg);	/* last: it may free s */
}

/* ---- public ---- */

static void
opts_defaults(struct store_opts *o, const struct store_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (o->queue_max == 0)
		o->queue_max = STORE_QUEUE_MAX;
	if (o->queue_max_bytes == 0)
		o->queue_max_bytes = STORE_QUEUE_BYTES;
	if (o->backoff_base_s <= 0)
		o->backoff_base_s = 0.5;
	if (o->backoff_cap_s <= 0)
		o->backoff_cap_s = 30;
	if (o->connect_timeout_ms == 0)
		o->connect_timeout_ms = 10000;
	if (o->op_timeout_ms == 0)
		o->op_timeout_ms = 30000;
	if (o->drop_log_interval_ms == 0)
		o->drop_log_interval_ms = 10000;
}

static void
watchers_init(struct store *s)
{
	ev_init(&s->io, io_cb);
	s->io.data = s;
	ev_init(&s->timer, timer_cb);
	s->timer.data = s;
	later_init(&s->kick, s->loop, kick_cb, s);
	ev_init(&s->droplog, droplog_cb);
	s->droplog.repeat = s->o.drop_log_interval_ms / 1000.0;
	s->droplog.data = s;
	ev_init(&s->grace, grace_cb);
	s->grace.data = s;
	ev_init(&s->linger, linger_cb);
	s->linger.data = s;
}

struct store *
store_new(struct ev_loop *loop, const char *conninfo,
    const struct store_opts *opts, char *err, size_t errlen)
{
	const struct config_env *env = opts != NULL ? opts->env : NULL;
	struct store *s;
	char host[128];

	if ((s = calloc(1, sizeof(*s))) == NULL || sodium_init() < 0) {
		free(s);
		errfmt(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->rand_used = RAND_POOL;
	opts_defaults(&s->o, opts);
	watchers_init(s);
	buf_init(&s->arrays, ARRAYS_MAX);
	buf_init(&s->scratch, STORE_ARGS_MAX + 1);
	if (conninfo == NULL || *conninfo == '\0') {
		s->state = STORE_DISABLED;
		return s;
	}
	s->async_commit = env != NULL && env->audit_async_commit;
	s->linger_s = (env != NULL ? env->audit_linger_ms :
	    CONFIG_LINGER_MS_DEFAULT) / 1000.0;
	if (mig_register_password(conninfo, env != NULL ? env->pgpassword :
	    NULL) == -1) {
		errfmt(err, errlen, "database connection string cannot be "
		    "parsed (check DATABASE_URL)");
		free(s);
		return NULL;
	}
	mig_conninfo_redact(conninfo, s->shown, sizeof(s->shown));
	if (s->o.reported_by == NULL && gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(s->reported_by, sizeof(s->reported_by), "%s",
	    s->o.reported_by ? s->o.reported_by : host);
	if (s->o.reported_by == NULL)
		snprintf(s->reported_by + strlen(s->reported_by),
		    sizeof(s->reported_by) - strlen(s->reported_by), ":%ld",
		    (long)getpid());
	s->o.reported_by = NULL;	/* borrowed: not kept */
	s->qcap = s->o.queue_max;
	if ((s->conninfo = strdup(conninfo)) == NULL ||
	    (s->q = calloc(s->qcap, sizeof(*s->q))) == NULL) {
		free(s->conninfo);
		free(s);
		errfmt(err, errlen, "out of memory");
		return NULL;
	}
	s->state = STORE_CONNECTING;
	timer_arm(s, 0);
	return s;
}

void
store_free(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	if (s->state != STORE_DISABLED && !s->draining &&
	    (s->qlen > 0 || servers_pending(s)))
		log_warnx("closing the store: %zu audit rows and %zu server "
		    "states not written to the database", s->qlen,
		    servers_pending(s));
	conn_close(s);
	ev_timer_stop(s->loop, &s->droplog);
	ev_timer_stop(s->loop, &s->grace);
	ev_timer_stop(s->loop, &s->linger);
	for (i = 0; i < s->qlen; i++)
		qrow_free(s->q[(s->qhead + i) % s->qcap]);
	for (i = 0; i < s->nsrv; i++) {
		param_free(s->srv[i].pending, SRV_NPARAM);
		param_free(s->srv[i].inflight, SRV_NPARAM);
	}
	free(s->srv);
	free(s->q);
	free(s->conninfo);
	buf_free(&s->arrays);
	buf_free(&s->scratch);
	free(s);
}

enum store_state
store_state(const struct store *s)
{
	return s ? s->state : STORE_DISABLED;
}

const char *
store_state_name(enum store_state st)
{
	switch (st) {
	case STORE_DISABLED:
		return "disabled";
	case STORE_CONNECTING:
		return "connecting";
	case STORE_UP:
		return "up";
	case STORE_DOWN:
		return "down";
	}
	return "unknown";
}

const char *
store_last_error(const struct store *s)
{
	return s && s->state != STORE_UP ? s->err : "";
}

void
store_get_stats(const struct store *s, struct store_stats *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	*out = s->st;
	out->queued = s->qlen;
	out->queued_bytes = s->qbytes;
	out->in_flight = s->qsent;
	for (i = 0; i < s->nsrv; i++)
		out->in_flight += s->srv[i].has_inflight;
	out->servers_pending = servers_pending(s);
}

json_t *
store_status(const struct store *s)
{
	const char *e = store_last_error(s);

	return json_pack("{s:s, s:o, s:I, s:I}",
	    "state", store_state_name(store_state(s)),
	    "error", *e ? json_string(e) : json_null(),
	    "queued", (json_int_t)(s ? s->qlen : 0),
	    "dropped", (json_int_t)(s ? s->st.audit_dropped : 0));
}

int
store_metrics(const struct store *s, struct buf *b)
{
	struct store_stats st;

	store_get_stats(s, &st);
	return buf_printf(b,
	    "# HELP afu9_store_up The database connection is up (1) or not "
	    "(0: connecting, down, or disabled).\n"
	    "# TYPE afu9_store_up gauge\n"
	    "afu9_store_up %d\n"
	    "# HELP afu9_audit_queue_rows Audit rows waiting to be written.\n"
	    "# TYPE afu9_audit_queue_rows gauge\n"
	    "afu9_audit_queue_rows %zu\n"
	    "# HELP afu9_audit_written_total Audit rows written.\n"
	    "# TYPE afu9_audit_written_total counter\n"
	    "afu9_audit_written_total %llu\n"
	    "# HELP afu9_audit_batches_total Audit statements written (rows "
	    "per batch: written / batches).\n"
	    "# TYPE afu9_audit_batches_total counter\n"
	    "afu9_audit_batches_total %llu\n"
	    "# HELP afu9_audit_dropped_total Audit rows dropped: queue full.\n"
	    "# TYPE afu9_audit_dropped_total counter\n"
	    "afu9_audit_dropped_total %llu\n"
	    "# HELP afu9_audit_rejected_total Audit rows refused as invalid.\n"
	    "# TYPE afu9_audit_rejected_total counter\n"
	    "afu9_audit_rejected_total %llu\n"
	    "# HELP afu9_store_reconnects_total Database reconnections.\n"
	    "# TYPE afu9_store_reconnects_total counter\n"
	    "afu9_store_reconnects_total %llu\n",
	    store_state(s) == STORE_UP, st.queued,
	    (unsigned long long)st.audit_written,
	    (unsigned long long)st.audit_batches,
	    (unsigned long long)st.audit_dropped,
	    (unsigned long long)st.audit_rejected,
	    (unsigned long long)st.reconnects) < 0 ? -1 : 0;
}

void
store_reconnect(struct store *s)
{
	if (s == NULL || s->conn == NULL)
		return;
	fail(s, "reconnect requested");
}

void
store_shutdown(struct store *s, unsigned grace_ms, void (*done)(void *),
    void *arg)
{
	s->draining = 1;
	s->done = done;
	s->done_arg = arg;
	ev_timer_set(&s->grace, grace_ms / 1000.0, 0);
	ev_timer_start(s->loop, &s->grace);
	store_kick(s);		/* no more lingering */
	drain_check(s);
}

/* ---- as a subsystem ---- */

static void
ss_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	store_shutdown(self, grace_ms, done, arg);
}

static int
ss_ready(const void *self)
{
	enum store_state st = store_state(self);

	return st == STORE_DISABLED || st == STORE_UP;
}

static json_t *
ss_status(const void *self)
{
	return store_status(self);
}

static int
ss_metrics(const void *self, struct buf *out)
{
	return store_metrics(self, out);
}

void
store_subsys(struct store *st, unsigned grace_ms, struct subsys *out)
{
	*out = (struct subsys){ .name = "store", .key = "database",
	    .self = st, .grace_ms = grace_ms, .stop = ss_stop,
	    .ready = ss_ready, .status = ss_status, .metrics = ss_metrics };
}
