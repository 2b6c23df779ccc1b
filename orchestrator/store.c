/*
 * store: asynchronous PostgreSQL writer on the orchestrator's loop (see
 * store.h).
 *
 * Connection life: DOWN/CONNECTING with no PGconn -> PQconnectStartParams,
 * PQconnectPoll on socket readiness (connect_timeout_ms guards it) ->
 * pipeline mode, the two statements prepared -> UP.  Any connection-level
 * failure closes the PGconn, puts everything unacknowledged back to be
 * sent, and arms the backoff timer; its expiry starts the next attempt.
 *
 * Every statement is followed by its own PQpipelineSync, so the results
 * for one operation are: its result, a NULL, a PGRES_PIPELINE_SYNC.
 * s->ops mirrors what was sent, in order: results are matched to it.
 * Audit rows are sent in queue order, so the oldest audit op in flight is
 * always the queue's head.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "httpc.h"
#include "log.h"
#include "migrate.h"
#include "redact.h"
#include "store.h"

#define OPS_MAX		128	/* statements in flight on the pipeline */
#define AUDIT_NPARAM	13
#define SRV_NPARAM	11
#define NAME_MAX_SRV	64
#define TOOL_MAX	128
#define COMMAND_MAX	4096
#define MSG_MAX		256	/* one failed operation's message */

#define STMT_AUDIT	"afu9_audit_insert"
#define STMT_SERVER	"afu9_server_upsert"

static const char audit_sql[] =
    "INSERT INTO mcp_tool_calls (id, server, tool, rpc_id, caller, "
    "arguments, status, result_summary, is_error, error_code, "
    "error_message, duration_ms, started_at) VALUES ($1::uuid, $2, $3, "
    "$4::jsonb, $5, $6::jsonb, $7, $8, $9::boolean, $10::integer, $11, "
    "$12::integer, to_timestamp($13::double precision)) "
    "ON CONFLICT (id) DO NOTHING";

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

static const char *const caller_names[] = {
	"gateway", "cli", "workflow", "agent",
};
static const char *const server_states[] = {
	"stopped", "starting", "running", "backoff", "failed", "stopping",
	NULL,
};
static const char *const server_healths[] = {
	"unknown", "healthy", "unhealthy", NULL,
};

enum op_kind {
	OP_PREPARE = 0,
	OP_AUDIT,
	OP_SERVER,
};

/* One statement sent and not yet answered (its PIPELINE_SYNC pending). */
struct op {
	enum op_kind	 kind;
	size_t		 slot;		/* OP_SERVER: index in s->srv */
	int		 failed;	/* an error result came */
	int		 permanent;	/* ... for the row's data (22, 23) */
	int		 inserted;	/* OP_AUDIT: a row went in */
	char		 msg[MSG_MAX];	/* the error, for the log */
};

/* An audit row as statement parameters (each malloc'd; NULL is NULL). */
struct qrow {
	char	*p[AUDIT_NPARAM];
	size_t	 bytes;
};

/* One server's reports: the newest waiting one and the one in flight. */
struct srv {
	char	 name[NAME_MAX_SRV + 1];
	char	*pending[SRV_NPARAM];
	char	*inflight[SRV_NPARAM];
	int	 has_pending;
	int	 has_inflight;
};

struct store {
	struct ev_loop	*loop;
	enum store_state state;
	struct store_opts o;
	char		*conninfo;
	char		 shown[512];	/* conninfo, password redacted */
	char		 reported_by[160];
	char		 err[STORE_ERR_MAX];
	PGconn		*conn;
	int		 connected;	/* PQconnectPoll said OK */
	int		 prepared;	/* OP_PREPARE answered */
	int		 ever_up;
	unsigned	 attempt;	/* failures since the last UP */
	ev_io		 io;
	ev_timer	 timer;		/* backoff, connect timeout, watchdog */
	ev_prepare	 kick;		/* sends queued work once per loop */
	ev_timer	 droplog;	/* rate limit of the drop warning */
	ev_timer	 grace;		/* shutdown */

	struct qrow	**q;		/* ring of qcap; [qhead, +qlen) */
	size_t		 qcap, qhead, qlen;
	size_t		 qsent;		/* the first qsent rows are in flight */
	size_t		 qbytes;

	struct srv	*srv;
	size_t		 nsrv;

	struct op	 ops[OPS_MAX];	/* ring; [ophead, +opn) */
	size_t		 ophead, opn;

	struct store_stats st;
	uint64_t	 drops_unlogged;

	int		 draining;
	int		 drained;
	void		(*done)(void *);
	void		*done_arg;
};

static void	conn_start(struct store *);
static void	fail(struct store *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	pump(struct store *);

/* ---- small helpers ---- */

static void __attribute__((format(printf, 3, 4)))
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Length of the valid UTF-8 character at s (n bytes available), or 0
 * when it is not one (overlong, surrogate, past U+10FFFF, truncated).
 */
static size_t
u8len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

static int
u8valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), k;

	while (n > 0) {
		if ((k = u8len(p, n)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/*
 * A malloc'd copy of s with invalid UTF-8 bytes replaced by '?', cut at
 * a character boundary to at most max bytes.  NULL on ENOMEM.
 */
static char *
u8clean(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), used = 0, k;
	char *out;

	if ((out = malloc((n < max ? n : max) + 1)) == NULL)
		return NULL;
	while (n > 0) {
		if ((k = u8len(p, n)) == 0) {
			if (used + 1 > max)
				break;
			out[used++] = '?';
			p++;
			n--;
			continue;
		}
		if (used + k > max)
			break;
		memcpy(out + used, p, k);
		used += k;
		p += k;
		n -= k;
	}
	out[used] = '\0';
	return out;
}

/* Redact, then clean and cut: malloc'd, NULL on ENOMEM. */
static char *
safe_text(const char *s, size_t max)
{
	char *r, *c;

	if ((r = redact_str(s)) == NULL)
		return NULL;
	c = u8clean(r, max);
	free(r);
	return c;
}

/*
 * jsonb refuses \u0000 in strings (22P05): turn each such escape in
 * compact JSON text into \ufffd, in place.  Escapes are skipped pairwise,
 * so "\\u0000" (an escaped backslash, then text) is left alone.
 */
static void
json_no_nul(char *j)
{
	for (; *j; j++) {
		if (*j != '\\')
			continue;
		if (j[1] == 'u' && strncmp(j + 2, "0000", 4) == 0)
			memcpy(j + 2, "fffd", 4);
		if (j[1] != '\0')
			j++;
	}
}

/* Compact JSON text of v for a jsonb parameter; malloc'd or NULL. */
static char *
json_param(const json_t *v)
{
	char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (j)
		json_no_nul(j);
	return j;
}

static char *
xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	return rc == -1 ? NULL : s;
}

/* A random (version 4) uuid in its text form; malloc'd or NULL. */
static char *
uuid_new(void)
{
	unsigned char b[16];

	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	return xprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int
in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int
server_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 1 && n <= NAME_MAX_SRV && strspn(s,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
	    == n;
}

static void
params_free(char **p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i]);
		p[i] = NULL;
	}
}

/* ---- audit rows ---- */

static void
qrow_free(struct qrow *r)
{
	if (r == NULL)
		return;
	params_free(r->p, AUDIT_NPARAM);
	free(r);
}

/* The redacted arguments as jsonb text, bounded by STORE_ARGS_MAX. */
static char *
args_param(const json_t *args)
{
	json_t *red;
	char *j;
	size_t n;

	if (args == NULL)
		return strdup("{}");
	if ((red = redact_json(args)) == NULL)
		return NULL;
	j = json_param(red);
	json_decref(red);
	if (j == NULL || (n = strlen(j)) <= STORE_ARGS_MAX)
		return j;
	free(j);
	return xprintf("{\"truncated\":true,\"bytes\":%zu}", n);
}

static char *
rpc_id_param(const json_t *id)
{
	if (json_is_integer(id))
		return xprintf("%" JSON_INTEGER_FORMAT, json_integer_value(id));
	return json_param(id);
}

static int
audit_row_ok(const struct audit_row *a)
{
	size_t ns = a->server ? strlen(a->server) : 0;
	size_t nt = a->tool ? strlen(a->tool) : 0;

	return ns >= 1 && ns <= NAME_MAX_SRV && u8valid(a->server) &&
	    nt >= 1 && nt <= TOOL_MAX && u8valid(a->tool) &&
	    (unsigned)a->caller < sizeof(caller_names) /
	    sizeof(caller_names[0]) && isfinite(a->started_at) &&
	    a->started_at > 0 && isfinite(a->duration_ms) &&
	    a->duration_ms >= 0;
}

/*
 * Build the parameters of one row (see audit_sql), redacting what came
 * from tools.  NULL on ENOMEM.
 */
static struct qrow *
qrow_new(const struct audit_row *a)
{
	struct qrow *r;
	double ms = a->duration_ms > INT_MAX ? INT_MAX : a->duration_ms;
	size_t i;
	int ok = 1;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	ok &= (r->p[0] = uuid_new()) != NULL;
	ok &= (r->p[1] = strdup(a->server)) != NULL;
	ok &= (r->p[2] = strdup(a->tool)) != NULL;
	if (json_is_string(a->rpc_id) || json_is_number(a->rpc_id))
		ok &= (r->p[3] = rpc_id_param(a->rpc_id)) != NULL;
	ok &= (r->p[4] = strdup(caller_names[a->caller])) != NULL;
	ok &= (r->p[5] = args_param(a->arguments)) != NULL;
	ok &= (r->p[6] = strdup(a->failed ? "failed" : "completed")) != NULL;
	if (a->result_summary)
		ok &= (r->p[7] = safe_text(a->result_summary,
		    STORE_SUMMARY_MAX)) != NULL;
	ok &= (r->p[8] = strdup(a->is_error && !a->failed ? "true" :
	    "false")) != NULL;
	if (a->failed) {
		ok &= (r->p[9] = xprintf("%d", a->error_code)) != NULL;
		if (a->error_message)
			ok &= (r->p[10] = safe_text(a->error_message,
			    STORE_SUMMARY_MAX)) != NULL;
	}
	ok &= (r->p[11] = xprintf("%d", (int)ms)) != NULL;
	ok &= (r->p[12] = xprintf("%.6f", a->started_at)) != NULL;
	if (!ok) {
		qrow_free(r);
		return NULL;
	}
	r->bytes = sizeof(*r);
	for (i = 0; i < AUDIT_NPARAM; i++)
		r->bytes += r->p[i] ? strlen(r->p[i]) + 1 : 0;
	return r;
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

/* Watch the connection's socket for events (forces a re-arm when asked:
   libpq may have closed and reopened the descriptor). */
static void
io_watch(struct store *s, int events, int force)
{
	int fd = PQsocket(s->conn);

	if (!force && ev_is_active(&s->io) && s->io.fd == fd &&
	    (s->io.events & (EV_READ | EV_WRITE)) == events)
		return;
	ev_io_stop(s->loop, &s->io);
	if (fd < 0)
		return;
	ev_io_set(&s->io, fd, events);
	ev_io_start(s->loop, &s->io);
}

static void
timer_arm(struct store *s, double after)
{
	ev_timer_stop(s->loop, &s->timer);
	ev_timer_set(&s->timer, after, 0);
	ev_timer_start(s->loop, &s->timer);
}

/* Something waits to be sent: send it before the loop next blocks. */
static void
want_kick(struct store *s)
{
	int work = s->qsent < s->qlen;
	size_t i;

	for (i = 0; !work && i < s->nsrv; i++)
		work = s->srv[i].has_pending && !s->srv[i].has_inflight;
	if (work && s->state == STORE_UP && s->opn < OPS_MAX)
		ev_prepare_start(s->loop, &s->kick);
	else
		ev_prepare_stop(s->loop, &s->kick);
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

static void
notice_discard(void *arg, const char *msg)
{
}

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
	ev_prepare_stop(s->loop, &s->kick);
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
			params_free(v->inflight, SRV_NPARAM);
		else {
			memcpy(v->pending, v->inflight, sizeof(v->pending));
			memset(v->inflight, 0, sizeof(v->inflight));
			v->has_pending = 1;
		}
		v->has_inflight = 0;
	}
}

/* libpq's message as one redacted line in s->err. */
static void
set_err(struct store *s, const char *msg)
{
	char *r = redact_str(msg ? msg : "");
	size_t n;

	snprintf(s->err, sizeof(s->err), "%s", r ? r : "(out of memory)");
	free(r);
	for (n = strlen(s->err); n > 0 && (s->err[n - 1] == '\n' ||
	    s->err[n - 1] == ' '); n--)
		s->err[n - 1] = '\0';
	for (n = 0; s->err[n]; n++)
		if (s->err[n] == '\n' || s->err[n] == '\t')
			s->err[n] = ' ';
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
	set_err(s, msg);
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

static void
send_prepares(struct store *s)
{
	if (!PQsendPrepare(s->conn, STMT_AUDIT, audit_sql, AUDIT_NPARAM,
	    NULL) || !PQpipelineSync(s->conn)) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	s->ops[(s->ophead + s->opn++) % OPS_MAX] = (struct op){ .kind =
	    OP_PREPARE };
	if (!PQsendPrepare(s->conn, STMT_SERVER, server_sql, SRV_NPARAM,
	    NULL) || !PQpipelineSync(s->conn)) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	s->ops[(s->ophead + s->opn++) % OPS_MAX] = (struct op){ .kind =
	    OP_PREPARE };
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
	send_prepares(s);
	if (s->conn)
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
	const char *const kw[] = { "dbname", "fallback_application_name",
	    "client_encoding", NULL };
	const char *const val[] = { s->conninfo, "afu9", "UTF8", NULL };

	set_state(s, STORE_CONNECTING);
	s->conn = PQconnectStartParams(kw, val, 1);
	if (s->conn == NULL) {
		fail(s, "out of memory");
		return;
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	/* Server notices would go to stderr, outside the log: none wanted. */
	PQsetNoticeProcessor(s->conn, notice_discard, NULL);
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

	switch (PQresultStatus(res)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		op->inserted = strcmp(PQcmdTuples(res), "1") == 0;
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
}

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

	s->ophead = (s->ophead + 1) % OPS_MAX;
	s->opn--;
	if (op.failed && (!op.permanent || op.kind == OP_PREPARE)) {
		fail(s, "%s%s", op.kind == OP_PREPARE ?
		    "preparing statements: " : "", op.msg);
		return -1;
	}
	switch (op.kind) {
	case OP_PREPARE:
		if (++s->prepared == 2)
			became_up(s);
		break;
	case OP_AUDIT:
		if (op.failed) {
			s->st.audit_rejected++;
			log_warnx("audit row for %s.%s rejected by the "
			    "database: %s", s->q[s->qhead]->p[1],
			    s->q[s->qhead]->p[2], op.msg);
		} else if (op.inserted)
			s->st.audit_written++;
		else
			s->st.audit_duplicates++;
		audit_pop(s);
		break;
	case OP_SERVER:
		v = &s->srv[op.slot];
		if (op.failed)
			log_warnx("server state of %s rejected by the "
			    "database: %s", v->name, op.msg);
		else
			s->st.servers_written++;
		params_free(v->inflight, SRV_NPARAM);
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
	int nulls = 0;

	if (!PQconsumeInput(s->conn)) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	while (s->opn > 0 && !PQisBusy(s->conn)) {
		if ((res = PQgetResult(s->conn)) == NULL) {
			/* One NULL ends each statement's results; two in a
			   row mean libpq has nothing we are waiting for. */
			if (++nulls > 1) {
				fail(s, "database pipeline out of step");
				return;
			}
			continue;
		}
		nulls = 0;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			if (op_done(s) == -1)
				return;
			continue;
		}
		op_result(s, res);
		PQclear(res);
	}
	if (PQstatus(s->conn) == CONNECTION_BAD) {
		fail(s, "%s", PQerrorMessage(s->conn));
		return;
	}
	flush(s);
	if (s->conn == NULL)
		return;
	want_kick(s);
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

static int
send_audit(struct store *s)
{
	struct qrow *r = s->q[(s->qhead + s->qsent) % s->qcap];

	if (!PQsendQueryPrepared(s->conn, STMT_AUDIT, AUDIT_NPARAM,
	    (const char *const *)r->p, NULL, NULL, 0) ||
	    !PQpipelineSync(s->conn))
		return -1;
	s->qsent++;
	s->ops[(s->ophead + s->opn++) % OPS_MAX] = (struct op){ .kind =
	    OP_AUDIT };
	return 0;
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
	s->ops[(s->ophead + s->opn++) % OPS_MAX] = (struct op){ .kind =
	    OP_SERVER, .slot = i };
	return 0;
}

/* Send what waits, up to OPS_MAX in flight: server reports first (few,
   and /ready readers want them fresh), then audit rows in order. */
static void
pump(struct store *s)
{
	size_t i;
	int sent = 0;

	ev_prepare_stop(s->loop, &s->kick);
	if (s->state != STORE_UP || s->conn == NULL)
		return;
	for (i = 0; i < s->nsrv && s->opn < OPS_MAX; i++) {
		if (!s->srv[i].has_pending || s->srv[i].has_inflight)
			continue;
		if (send_server(s, i) == -1)
			goto bad;
		sent = 1;
	}
	while (s->qsent < s->qlen && s->opn < OPS_MAX) {
		if (send_audit(s) == -1)
			goto bad;
		sent = 1;
	}
	if (sent)
		flush(s);
	return;
bad:
	fail(s, "%s", PQerrorMessage(s->conn));
}

static void
kick_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	pump(w->data);
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
static int
drop(struct store *s)
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

/* Register the conninfo's password as a secret; -1 if unparsable. */
static int
register_password(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	const char *pw;
	char *msg = NULL;

	if ((opts = PQconninfoParse(conninfo, &msg)) == NULL) {
		PQfreemem(msg);
		return -1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val &&
		    strlen(o->val) >= 4)
			redact_add_secret(o->val);
	PQconninfoFree(opts);
	if ((pw = getenv("PGPASSWORD")) != NULL && strlen(pw) >= 4)
		redact_add_secret(pw);
	return 0;
}

static void
watchers_init(struct store *s)
{
	ev_init(&s->io, io_cb);
	s->io.data = s;
	ev_init(&s->timer, timer_cb);
	s->timer.data = s;
	ev_prepare_init(&s->kick, kick_cb);
	s->kick.data = s;
	ev_init(&s->droplog, droplog_cb);
	s->droplog.repeat = s->o.drop_log_interval_ms / 1000.0;
	s->droplog.data = s;
	ev_init(&s->grace, grace_cb);
	s->grace.data = s;
}

struct store *
store_new(struct ev_loop *loop, const char *conninfo,
    const struct store_opts *opts, char *err, size_t errlen)
{
	struct store *s;
	char host[128];

	if ((s = calloc(1, sizeof(*s))) == NULL || sodium_init() < 0) {
		free(s);
		errf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	opts_defaults(&s->o, opts);
	watchers_init(s);
	if (conninfo == NULL || *conninfo == '\0') {
		s->state = STORE_DISABLED;
		return s;
	}
	if (register_password(conninfo) == -1) {
		errf(err, errlen, "database connection string cannot be "
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
		errf(err, errlen, "out of memory");
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
	for (i = 0; i < s->qlen; i++)
		qrow_free(s->q[(s->qhead + i) % s->qcap]);
	for (i = 0; i < s->nsrv; i++) {
		params_free(s->srv[i].pending, SRV_NPARAM);
		params_free(s->srv[i].inflight, SRV_NPARAM);
	}
	free(s->srv);
	free(s->q);
	free(s->conninfo);
	free(s);
}

int
store_audit_call(struct store *s, const struct audit_row *a)
{
	struct qrow *r;

	if (s == NULL || s->state == STORE_DISABLED)
		return 0;
	if (a == NULL || !audit_row_ok(a)) {
		s->st.audit_rejected++;
		errno = EINVAL;
		return -1;
	}
	if (s->qlen >= s->qcap)
		return drop(s);
	if ((r = qrow_new(a)) == NULL)
		return drop(s);
	if (s->qbytes + r->bytes > s->o.queue_max_bytes) {
		qrow_free(r);
		return drop(s);
	}
	s->q[(s->qhead + s->qlen) % s->qcap] = r;
	s->qlen++;
	s->qbytes += r->bytes;
	want_kick(s);
	return 0;
}

/* The slot for name, added when new; NULL with errno set. */
static struct srv *
srv_slot(struct store *s, const char *name)
{
	struct srv *v;
	size_t i;

	for (i = 0; i < s->nsrv; i++)
		if (strcmp(s->srv[i].name, name) == 0)
			return &s->srv[i];
	if (s->nsrv >= STORE_SERVERS_MAX) {
		errno = ENOSPC;
		return NULL;
	}
	/* ops refer to slots by index, so growing in place is safe. */
	if ((v = realloc(s->srv, (s->nsrv + 1) * sizeof(*v))) == NULL)
		return NULL;
	s->srv = v;
	v = &s->srv[s->nsrv++];
	memset(v, 0, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	return v;
}

static int
server_row_ok(const struct server_row *r)
{
	size_t nc = r->command ? strlen(r->command) : 0;

	return server_name_ok(r->name) && nc >= 1 && nc <= COMMAND_MAX &&
	    r->state && in_list(r->state, server_states) &&
	    (r->health == NULL || in_list(r->health, server_healths)) &&
	    (r->args == NULL || json_is_array(r->args));
}

int
store_server_state(struct store *s, const struct server_row *r)
{
	char *p[SRV_NPARAM] = { NULL };
	struct srv *v;
	int ok = 1;

	if (s == NULL || s->state == STORE_DISABLED)
		return 0;
	if (r == NULL || !server_row_ok(r)) {
		errno = EINVAL;
		return -1;
	}
	ok &= (p[0] = strdup(r->name)) != NULL;
	ok &= (p[1] = u8clean(r->command, COMMAND_MAX)) != NULL;
	ok &= (p[2] = r->args ? json_param(r->args) : strdup("[]")) != NULL;
	ok &= (p[3] = strdup(r->state)) != NULL;
	ok &= (p[4] = strdup(r->health ? r->health : "unknown")) != NULL;
	if (r->pid > 0)
		ok &= (p[5] = xprintf("%d", r->pid)) != NULL;
	ok &= (p[6] = xprintf("%u", r->restarts > INT_MAX ? INT_MAX :
	    r->restarts)) != NULL;
	if (r->last_exit)
		ok &= (p[7] = safe_text(r->last_exit, STORE_SUMMARY_MAX)) !=
		    NULL;
	ok &= (p[8] = xprintf("%u", r->tool_count > INT_MAX ? INT_MAX :
	    r->tool_count)) != NULL;
	if (r->protocol_version)
		ok &= (p[9] = u8clean(r->protocol_version, 64)) != NULL;
	ok &= (p[10] = strdup(s->reported_by)) != NULL;
	if (!ok || (v = srv_slot(s, r->name)) == NULL) {
		params_free(p, SRV_NPARAM);
		if (ok == 0)
			errno = ENOMEM;
		return -1;
	}
	params_free(v->pending, SRV_NPARAM);	/* coalesce: newest wins */
	memcpy(v->pending, p, sizeof(p));
	v->has_pending = 1;
	want_kick(s);
	return 0;
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
	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return;
	*out = s->st;
	out->queued = s->qlen;
	out->queued_bytes = s->qbytes;
	out->in_flight = s->opn;
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
	drain_check(s);
}

/* ---- summaries and the CLI query ---- */

/* A bounded text sink for json_dump_callback(). */
struct sink {
	char	*p;
	size_t	 len, max;
};

static int
sink_add(const char *buf, size_t n, void *data)
{
	struct sink *k = data;
	size_t room = k->max - k->len;

	memcpy(k->p + k->len, buf, n < room ? n : room);
	k->len += n < room ? n : room;
	return n <= room ? 0 : -1;	/* full: stop dumping */
}

char *
store_result_summary(const json_t *result)
{
	/* A little over the bound so that u8clean cuts at a character. */
	struct sink k = { NULL, 0, STORE_SUMMARY_MAX + 4 };
	const json_t *item, *text;
	size_t i;
	char *out;

	if (result == NULL || (k.p = malloc(k.max + 1)) == NULL)
		return NULL;
	json_array_foreach(json_object_get(result, "content"), i, item) {
		text = json_object_get(item, "text");
		if (!json_is_string(text) || k.len >= k.max)
			continue;
		if (k.len > 0)
			sink_add("\n", 1, &k);
		sink_add(json_string_value(text), json_string_length(text),
		    &k);
	}
	if (k.len == 0)
		json_dump_callback(result, sink_add, &k, JSON_COMPACT |
		    JSON_ENCODE_ANY);
	k.p[k.len] = '\0';
	out = u8clean(k.p, STORE_SUMMARY_MAX);
	free(k.p);
	return out;
}

static const char query_sql[] =
    "SELECT json_build_object('id', id, 'server', server, 'tool', tool, "
    "'rpc_id', rpc_id, 'caller', caller, 'arguments', arguments, "
    "'status', status, 'result_summary', result_summary, "
    "'is_error', is_error, 'error_code', error_code, "
    "'error_message', error_message, 'started_at', "
    "to_char(started_at AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'duration_ms', duration_ms)::text "
    "FROM mcp_tool_calls "
    "WHERE ($1::text IS NULL OR server = $1) "
    "AND ($2::timestamptz IS NULL OR started_at >= $2) "
    "AND ($3::double precision IS NULL OR "
    "started_at >= now() - make_interval(secs => $3)) "
    "ORDER BY started_at DESC, id LIMIT $4::integer";

/*
 * A relative age "90s", "15m", "2h", "7d" in seconds, or -1 when since is
 * not one (then it is a timestamp for PostgreSQL to parse).
 */
static double
since_age(const char *since)
{
	size_t n = strspn(since, "0123456789");
	double v;

	if (n == 0 || n > 9 || since[n] == '\0' || since[n + 1] != '\0')
		return -1;
	v = strtod(since, NULL);
	switch (since[n]) {
	case 's':
		return v;
	case 'm':
		return v * 60;
	case 'h':
		return v * 3600;
	case 'd':
		return v * 86400;
	}
	return -1;
}

/* The rows of a successful query as a JSON array; NULL with err. */
static json_t *
query_rows(PGresult *res, char *err, size_t errlen)
{
	json_t *rows = json_array(), *row;
	json_error_t je = { .text = "out of memory" };
	int i;

	for (i = 0; rows && i < PQntuples(res); i++) {
		row = json_loads(PQgetvalue(res, i, 0), 0, &je);
		if (row == NULL || json_array_append_new(rows, row) == -1) {
			errf(err, errlen, "audit query: bad row: %s",
			    je.text);
			json_decref(rows);
			return NULL;
		}
	}
	if (rows == NULL)
		errf(err, errlen, "out of memory");
	return rows;
}

int
store_audit_query(const char *conninfo, const struct audit_query *q,
    json_t **out, char *err, size_t errlen)
{
	const char *params[4] = { NULL, NULL, NULL, NULL };
	char age[32], lim[16], *m;
	unsigned limit = q && q->limit ? q->limit : 100;
	PGconn *c;
	PGresult *res;
	double a;

	*out = NULL;
	if (limit > STORE_QUERY_MAX)
		limit = STORE_QUERY_MAX;
	if (q && q->server)
		params[0] = q->server;
	if (q && q->since && (a = since_age(q->since)) >= 0) {
		snprintf(age, sizeof(age), "%.0f", a);
		params[2] = age;
	} else if (q && q->since)
		params[1] = q->since;
	snprintf(lim, sizeof(lim), "%u", limit);
	params[3] = lim;
	if (mig_connect(conninfo, &c, err, errlen) == -1)
		return -1;
	res = PQexecParams(c, query_sql, 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		*out = query_rows(res, err, errlen);
	else {
		m = redact_str(PQresultErrorMessage(res));
		if (m)
			m[strcspn(m, "\n")] = '\0';
		errf(err, errlen, "audit query: %s", m ? m : "out of memory");
		free(m);
	}
	PQclear(res);
	PQfinish(c);
	return *out ? 0 : -1;
}

static const char *
jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

int
store_audit_print(FILE *fp, const json_t *rows)
{
	const json_t *r;
	size_t i;

	json_array_foreach(rows, i, r) {
		if (fprintf(fp, "%s  %s.%s  %s%s  %lld ms  %s\n",
		    jstr(r, "started_at"), jstr(r, "server"), jstr(r, "tool"),
		    jstr(r, "status"), json_is_true(json_object_get(r,
		    "is_error")) ? " (tool error)" : "",
		    (long long)json_integer_value(json_object_get(r,
		    "duration_ms")), jstr(r, "caller")) < 0)
			return -1;
		if (json_is_integer(json_object_get(r, "error_code")) &&
		    fprintf(fp, "  error %lld: %s\n",
		    (long long)json_integer_value(json_object_get(r,
		    "error_code")), jstr(r, "error_message")) < 0)
			return -1;
	}
	return fflush(fp) == 0 ? 0 : -1;
}
