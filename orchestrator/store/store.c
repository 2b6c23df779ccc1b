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
 * BATCH_BYTES) becomes one INSERT ... SELECT FROM unnest() of thirteen
 * array parameters, one statement and so one transaction and one WAL
 * flush.  One batch is in flight at a time: rows queued while it is
 * written form the next one, so the batch size follows the commit time.
 * Under a steady stream of calls the batches are also spaced at least
 * linger apart (AFU9_AUDIT_LINGER_MS, default 5 ms; like TCP's corking):
 * a row that comes after a quiet spell goes at once, rows that follow it
 * closely wait until the linger is over or LINGER_ROWS of them wait, so a
 * busy gateway pays for one round trip, one commit and one wakeup per
 * linger, not per few calls.  Shutdown sends what waits at once.
 * A batch refused for a row's data (SQLSTATE class 22, 23) names no
 * row, so its rows are then sent one statement each ("isolating"): only
 * the bad row is dropped, and batching resumes after them.  Rows are
 * sent in queue order, so the audit rows in flight are always the
 * queue's first qsent.
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
#include "conf/conf_env.h"
#include "later.h"
#include "log.h"
#include "store/migrate.h"
#include "redact.h"
#include "rpc.h"
#include "store/store.h"
#include "subsys.h"
#include "utf8.h"

#define OPS_MAX		128	/* statements in flight on the pipeline */
#define AUDIT_NPARAM	13
#define BATCH_ROWS	500	/* audit rows in one statement */
#define LINGER_ROWS	128	/* this many waiting: no more lingering */
#define BATCH_BYTES	(4u << 20) /* row bytes in one statement (one
				   row always goes, whatever its size) */
#define ARRAYS_MAX	(4 * BATCH_BYTES) /* bound of the array literals:
				   quoting at most doubles a row */
#define RAND_POOL	4096	/* random bytes fetched at once */
#define START_MAX	9e12	/* started_at bound: PostgreSQL's range
				   ends at 9.2e12 s; microseconds fit in
				   a long long */
#define SRV_NPARAM	11
#define NAME_MAX_SRV	64
#define TOOL_MAX	128
#define COMMAND_MAX	4096
#define MSG_MAX		256	/* one failed operation's message */

#define STMT_AUDIT	"afu9_audit_insert"
#define STMT_BATCH	"afu9_audit_batch"
#define STMT_BATCH_NEW	"afu9_audit_batch_new"
#define STMT_SERVER	"afu9_server_upsert"

static const char audit_sql[] =
    "INSERT INTO mcp_tool_calls (id, server, tool, rpc_id, caller, "
    "arguments, status, result_summary, is_error, error_code, "
    "error_message, duration_ms, started_at) VALUES ($1::uuid, $2, $3, "
    "$4::jsonb, $5, $6::jsonb, $7, $8, $9::boolean, $10::integer, $11, "
    "$12::integer, to_timestamp($13::double precision)) "
    "ON CONFLICT (id) DO NOTHING";

/*
 * The same columns, one array per column, one row per element.  Rows
 * never sent before cannot be in the table (their ids are new), so
 * their batches skip ON CONFLICT, whose check costs PostgreSQL an extra
 * index probe per row; a batch with a resent row keeps it.
 */
#define BATCH_INSERT \
    "INSERT INTO mcp_tool_calls (id, server, tool, rpc_id, caller, " \
    "arguments, status, result_summary, is_error, error_code, " \
    "error_message, duration_ms, started_at) SELECT id, server, tool, " \
    "rpc_id, caller, arguments, status, result_summary, is_error, " \
    "error_code, error_message, duration_ms, to_timestamp(started_at) " \
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], " \
    "$5::text[], $6::jsonb[], $7::text[], $8::text[], $9::boolean[], " \
    "$10::integer[], $11::text[], $12::integer[], " \
    "$13::double precision[]) AS u (id, server, tool, rpc_id, caller, " \
    "arguments, status, result_summary, is_error, error_code, " \
    "error_message, duration_ms, started_at)"
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
	OP_SETUP = 0,	/* a PREPARE or the SET of the session */
	OP_AUDIT,	/* one row (STMT_AUDIT) or a batch (STMT_BATCH) */
	OP_SERVER,
};

/* One statement sent and not yet answered (its PIPELINE_SYNC pending). */
struct op {
	enum op_kind	 kind;
	const char	*stmt;		/* OP_SETUP: the statement prepared,
					   or the SET */
	size_t		 slot;		/* OP_SERVER: index in s->srv */
	size_t		 nrows;		/* OP_AUDIT: rows it carries */
	int		 batch;		/* OP_AUDIT: STMT_BATCH */
	int		 failed;	/* an error result came */
	int		 permanent;	/* ... for the row's data (22, 23) */
	size_t		 inserted;	/* OP_AUDIT: rows that went in */
	char		 msg[MSG_MAX];	/* the error, for the log */
};

/* Room for the short parameters: uuid, server, tool, an integer rpc_id,
   error_code, duration_ms, started_at, each with its NUL. */
#define ROW_INLINE	(37 + NAME_MAX_SRV + 1 + TOOL_MAX + 1 + 24 + 12 + \
			    12 + 32)
#define ROW_OWN		4	/* rpc_id, arguments, summary, message */

/*
 * An audit row as statement parameters (text; NULL is SQL NULL).  One
 * allocation holds the short ones (inl) and the pointers; p[] points
 * into inl, at constant strings, or at own[], which the row frees.
 */
struct qrow {
	const char	*p[AUDIT_NPARAM];
	char		*own[ROW_OWN];
	size_t		 bytes;		/* counted against queue_max_bytes */
	int		 sent;		/* was in a statement sent before */
	size_t		 used;		/* of inl */
	char		 inl[ROW_INLINE];
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
	int		 async_commit;	/* AFU9_AUDIT_SYNC_COMMIT=off */
	int		 nsetup;	/* OP_SETUP sent per connection */
	int		 prepared;	/* OP_SETUP answered */
	int		 ever_up;
	unsigned	 attempt;	/* failures since the last UP */
	ev_io		 io;
	ev_timer	 timer;		/* backoff, connect timeout, watchdog */
	struct later	 kick;		/* sends queued work once per loop */
	ev_timer	 droplog;	/* rate limit of the drop warning */
	ev_timer	 grace;		/* shutdown */
	ev_timer	 linger;	/* spacing of the audit batches */
	double		 linger_s;	/* AFU9_AUDIT_LINGER_MS / 1000 */
	double		 last_batch;	/* ev_now() when one was last sent */
	int		 linger_due;	/* the linger timer went off */

	struct qrow	**q;		/* ring of qcap; [qhead, +qlen) */
	size_t		 qcap, qhead, qlen;
	size_t		 qsent;		/* the first qsent rows are in flight */
	size_t		 qbytes;
	size_t		 isolate;	/* the first isolate rows go one
					   statement each (a batch of them
					   was refused) */
	struct buf	 arrays;	/* a batch's array literals */
	struct buf	 scratch;	/* arguments being written */
	unsigned char	 rand[RAND_POOL]; /* random bytes for uuids */
	size_t		 rand_used;	/* taken from rand (RAND_POOL:
					   empty) */

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

/* Redact, then clean and cut: malloc'd, NULL on ENOMEM. */
static char *
safe_text(const char *s, size_t max)
{
	char *r, *c;
	size_t n;

	if ((r = redact_str(s)) == NULL)
		return NULL;
	if ((n = strlen(r)) <= max && u8_valid(r, n))
		return r;	/* the usual case: nothing to cut */
	c = u8_clean(r, max, NULL);
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

/*
 * The text form of a time-ordered (version 7, RFC 9562) uuid into
 * out[37]: t (seconds since the epoch) in milliseconds in the first 48
 * bits, 74 random bits after the version and variant.  Ids of rows
 * written in time order land at the right edge of the primary key's
 * B-tree instead of on a random leaf: on a million-row mcp_tool_calls
 * that cut PostgreSQL's insert time per row by about a third, and the
 * index by a fifth (doc/performance.md).  The random bytes come from a
 * pool refilled RAND_POOL bytes at a time: libsodium may make one
 * getrandom(2) per request, and this runs once per call.
 */
static void
uuid_text(struct store *s, char *out, double t)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	unsigned long long ms = t > 0 && t < 2.8e11 ? (unsigned long long)
	    (t * 1000.0) : 0;
	size_t i;

	if (s->rand_used + sizeof(b) > sizeof(s->rand)) {
		randombytes_buf(s->rand, sizeof(s->rand));
		s->rand_used = 0;
	}
	memcpy(b, s->rand + s->rand_used, sizeof(b));
	s->rand_used += sizeof(b);
	for (i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x70);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*out++ = '-';
		*out++ = hex[b[i] >> 4];
		*out++ = hex[b[i] & 0x0f];
	}
	*out = '\0';
}

/* Decimal text of v into out (room for 21 bytes); returns its length. */
static size_t
int_text(char *out, long long v)
{
	char tmp[24], *t = tmp + sizeof(tmp);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v :
	    (unsigned long long)v;
	size_t n;

	do {
		*--t = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--t = '-';
	n = (size_t)(tmp + sizeof(tmp) - t);
	memcpy(out, t, n);
	out[n] = '\0';
	return n;
}

/*
 * Seconds since the epoch, 0 < t < START_MAX, as "S.UUUUUU" (rounded to
 * the microsecond) into out (room for 32 bytes).
 */
static void
time_text(char *out, double t)
{
	long long us = llround(t * 1e6), frac = us % 1000000;
	size_t n = int_text(out, us / 1000000), i;

	out[n] = '.';
	for (i = 6; i > 0; i--, frac /= 10)
		out[n + i] = (char)('0' + frac % 10);
	out[n + 7] = '\0';
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
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < ROW_OWN; i++)
		free(r->own[i]);
	free(r);
}

/* Append a JSON string needing no escape; 0 when one is needed. */
static int
dump_str(struct buf *b, const char *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == '"' || v[i] == '\\' || (unsigned char)v[i] < 0x20)
			return 0;
	return buf_append(b, "\"", 1) == -1 || buf_append(b, v, n) == -1 ||
	    buf_append(b, "\"", 1) == -1 ? -1 : 1;
}

static int	dump_value(struct buf *, const json_t *, int);

static int
dump_object(struct buf *b, const json_t *v, int depth)
{
	const char *key, *sep = "{";
	json_t *val;
	int rc;

	json_object_foreach((json_t *)v, key, val) {
		if (redact_is_sensitive_key(key))
			return 0;
		if (buf_append(b, sep, 1) == -1)
			return -1;
		sep = ",";
		if ((rc = dump_str(b, key, strlen(key))) != 1 ||
		    (rc = buf_append(b, ":", 1)) == -1 ||
		    (rc = dump_value(b, val, depth + 1)) != 1)
			return rc;
	}
	return buf_append(b, *sep == '{' ? "{}" : "}", *sep == '{' ? 2 :
	    1) == -1 ? -1 : 1;
}

static int
dump_array(struct buf *b, const json_t *v, int depth)
{
	const char *sep = "[";
	json_t *val;
	size_t i;
	int rc;

	json_array_foreach(v, i, val) {
		if (buf_append(b, sep, 1) == -1)
			return -1;
		sep = ",";
		if ((rc = dump_value(b, val, depth + 1)) != 1)
			return rc;
	}
	return buf_append(b, *sep == '[' ? "[]" : "]", *sep == '[' ? 2 :
	    1) == -1 ? -1 : 1;
}

/*
 * Compact JSON text of v appended to b, as redact_json() would leave it
 * if it redacted nothing: 1 when done; 0 when v needs the exact path (a
 * key it redacts by name, a character that must be escaped, nesting
 * deeper than 32); -1 when b is full (ENOBUFS) or ENOMEM.
 */
static int
dump_value(struct buf *b, const json_t *v, int depth)
{
	char num[32];
	size_t n;

	if (depth > 32)
		return 0;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return dump_object(b, v, depth);
	case JSON_ARRAY:
		return dump_array(b, v, depth);
	case JSON_STRING:
		return dump_str(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		n = int_text(num, json_integer_value(v));
		break;
	case JSON_REAL:
		n = (size_t)snprintf(num, sizeof(num), "%.17g",
		    json_real_value(v));
		break;
	case JSON_TRUE:
		return buf_append(b, "true", 4) == -1 ? -1 : 1;
	case JSON_FALSE:
		return buf_append(b, "false", 5) == -1 ? -1 : 1;
	default:
		return buf_append(b, "null", 4) == -1 ? -1 : 1;
	}
	return buf_append(b, num, n) == -1 ? -1 : 1;
}

/*
 * The text of args as it is after redact_json(), without the copy, or
 * NULL when only the exact path will do.  Taken when dump_value() could
 * write it with no escape sequence, so that every string and key stands
 * in the text byte for byte between its quotes, and redacting the whole
 * text changes nothing: then no string held a secret or a token shape
 * either (none can hide across a quote unseen: a match would have
 * changed the text), and the text is what the copy would give.  Sets
 * *nomem on ENOMEM.  Malloc'd.
 */
static char *
args_fast(struct store *s, const json_t *args, int *nomem)
{
	struct buf *b = &s->scratch;
	char *r;
	int rc;

	buf_reset(b);
	if ((rc = dump_value(b, args, 0)) == -1 && errno != ENOBUFS)
		*nomem = 1;
	if (rc != 1 || buf_append(b, "", 1) == -1 ||
	    redact_would_change(buf_data(b), buf_used(b) - 1))
		return NULL;
	if ((r = strdup(buf_data(b))) == NULL)
		*nomem = 1;
	return r;
}

#define RAW_KEY_MAX	256	/* longer keys take the tree path */

/*
 * The same for arguments given as text, without building the tree: the
 * text with the whitespace between tokens taken out, or NULL when only
 * the tree will do.  The text is JSON that json_loadb() accepts.  Taken
 * when the text holds no backslash at all, so that, as in args_fast(),
 * every string and key stands in it byte for byte between its quotes;
 * no key is redacted by name; no container is nested 32 deep (where
 * args_fast() gives up); and redacting the whole text changes nothing.
 * The result then equals args_fast()'s for the parsed tree except that
 * numbers keep the client's spelling (1.0 stays 1.0, not 1), which
 * jsonb reads as the same value.  Sets *nomem on ENOMEM.  Malloc'd.
 */
static char *
args_raw_fast(struct store *s, const char *t, size_t n, int *nomem)
{
	char key[RAW_KEY_MAX + 1], *out, *o;
	const char *q, *end = t + n;
	size_t depth = 0, k;

	if (n > STORE_ARGS_MAX || memchr(t, '\\', n) != NULL)
		return NULL;
	if ((o = out = malloc(n + 1)) == NULL) {
		*nomem = 1;
		return NULL;
	}
	for (; t < end; t++) {
		switch (*t) {
		case ' ': case '\t': case '\n': case '\r':
			continue;
		case '{': case '[':
			if (++depth >= 32)
				goto slow;
			break;
		case '}': case ']':
			depth--;
			break;
		case '"':
			/* No escapes: the string ends at the next quote. */
			if ((q = memchr(t + 1, '"', (size_t)(end - t - 1))) ==
			    NULL)
				goto slow;
			k = (size_t)(q - t - 1);
			memcpy(o, t, k + 2);
			o += k + 2;
			for (t = q + 1; t < end && (*t == ' ' || *t == '\t' ||
			    *t == '\n' || *t == '\r'); t++)
				;
			if (t < end && *t == ':') {
				if (k > RAW_KEY_MAX)
					goto slow;
				memcpy(key, q - k, k);
				key[k] = '\0';
				if (redact_is_sensitive_key(key))
					goto slow;
			}
			t--;
			continue;
		}
		*o++ = *t;
	}
	*o = '\0';
	if (!redact_would_change(out, (size_t)(o - out)))
		return out;
slow:
	free(out);
	return NULL;
}

/*
 * The redacted arguments of a (the tree, else the text) as jsonb text,
 * bounded by STORE_ARGS_MAX, in *out: malloc'd, or NULL for the constant
 * "{}".  0, or -1 on ENOMEM.
 */
static int
args_param(struct store *s, const struct audit_row *a, char **out)
{
	const json_t *args = a->arguments;
	json_t *red, *parsed = NULL;
	char *j = NULL;
	size_t n;
	int nomem = 0;

	*out = NULL;
	if (args == NULL && a->arguments_text != NULL) {
		if ((j = args_raw_fast(s, a->arguments_text, a->arguments_len,
		    &nomem)) == NULL && !nomem) {
			s->st.args_parsed++;
			args = parsed = json_loadb(a->arguments_text,
			    a->arguments_len, 0, NULL);
		}
		if (nomem)
			return -1;
		if (j != NULL && strcmp(j, "{}") == 0) {
			free(j);
			return 0;
		}
	}
	if (j == NULL && (args == NULL || (json_is_object(args) &&
	    json_object_size(args) == 0))) {
		json_decref(parsed);
		return 0;
	}
	if (j == NULL && (j = args_fast(s, args, &nomem)) == NULL && !nomem) {
		if ((red = redact_json(args)) != NULL)
			j = json_param(red);
		json_decref(red);
	}
	json_decref(parsed);
	if (j == NULL)
		return -1;
	if ((n = strlen(j)) > STORE_ARGS_MAX) {
		free(j);
		if ((j = xprintf("{\"truncated\":true,\"bytes\":%zu}", n)) ==
		    NULL)
			return -1;
	}
	*out = j;
	return 0;
}

static int
audit_row_ok(const struct audit_row *a)
{
	size_t ns = a->server ? strlen(a->server) : 0;
	size_t nt = a->tool ? strlen(a->tool) : 0;

	return ns >= 1 && ns <= NAME_MAX_SRV && u8_valid(a->server, ns) &&
	    nt >= 1 && nt <= TOOL_MAX && u8_valid(a->tool, nt) &&
	    (unsigned)a->caller < sizeof(caller_names) /
	    sizeof(caller_names[0]) && isfinite(a->started_at) &&
	    a->started_at > 0 && a->started_at < START_MAX &&
	    isfinite(a->duration_ms) && a->duration_ms >= 0;
}

/* Room for n more bytes in r->inl; the caller writes them. */
static char *
inl_take(struct qrow *r, size_t n)
{
	char *p = r->inl + r->used;

	r->used += n;
	return p;
}

static const char *
inl_copy(struct qrow *r, const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(inl_take(r, n), s, n);
}

static const char *
inl_int(struct qrow *r, long long v)
{
	char *p = r->inl + r->used;

	r->used += int_text(p, v) + 1;
	return p;
}

/* Is t, n bytes, an integer's JSON text that fits in r->inl? */
static int
int_literal(const char *t, size_t n)
{
	size_t i = n > 0 && t[0] == '-';

	if (n - i == 0 || n - i > 19)
		return 0;
	for (; i < n; i++)
		if (t[i] < '0' || t[i] > '9')
			return 0;
	return 1;
}

/*
 * The rpc_id parameter (NULL: none), in r->inl or r->own[0]: from the
 * tree, else from the text (as it is when an integer, or a string with
 * no escape, as json_param() would write it; parsed otherwise).
 */
static int
rpc_id_param(struct qrow *r, const json_t *id, const char *text)
{
	json_t *parsed;
	size_t n;
	int rc;

	if (id == NULL && text != NULL) {
		n = strlen(text);
		if (int_literal(text, n)) {
			r->p[3] = memcpy(inl_take(r, n + 1), text, n + 1);
			return 0;
		}
		if (n >= 2 && text[0] == '"' && memchr(text, '\\', n) ==
		    NULL) {
			if ((r->own[0] = strdup(text)) == NULL)
				return -1;
			r->p[3] = r->own[0];
			return 0;
		}
		parsed = json_loads(text, JSON_DECODE_ANY, NULL);
		rc = rpc_id_param(r, parsed, NULL);
		json_decref(parsed);
		return rc;
	}
	if (json_is_integer(id))
		r->p[3] = inl_int(r, json_integer_value(id));
	else if (json_is_string(id) || json_is_number(id)) {
		if ((r->own[0] = json_param(id)) == NULL)
			return -1;
		r->p[3] = r->own[0];
	}
	return 0;
}

/*
 * Build the parameters of one row (see audit_sql), redacting what came
 * from tools.  The short ones are formatted by hand: this runs once per
 * call, on the loop.  NULL on ENOMEM.
 */
static struct qrow *
qrow_new(struct store *s, const struct audit_row *a)
{
	struct qrow *r;
	double ms = a->duration_ms > INT_MAX ? INT_MAX : a->duration_ms;
	size_t i;

	if ((r = malloc(sizeof(*r))) == NULL)
		return NULL;
	memset(r->p, 0, sizeof(r->p));
	memset(r->own, 0, sizeof(r->own));
	r->used = 0;
	r->sent = 0;
	uuid_text(s, inl_take(r, 37), a->started_at);
	r->p[0] = r->inl;
	r->p[1] = inl_copy(r, a->server);
	r->p[2] = inl_copy(r, a->tool);
	r->p[4] = caller_names[a->caller];
	r->p[6] = a->failed ? "failed" : "completed";
	r->p[8] = a->is_error && !a->failed ? "true" : "false";
	r->p[11] = inl_int(r, (long long)ms);
	time_text(inl_take(r, 32), a->started_at);
	r->p[12] = r->inl + r->used - 32;
	if (a->failed)
		r->p[9] = inl_int(r, a->error_code);
	if (rpc_id_param(r, a->rpc_id, a->rpc_id_text) == -1 ||
	    args_param(s, a, &r->own[1]) == -1 ||
	    (a->result_summary && (r->own[2] = safe_text(a->result_summary,
	    STORE_SUMMARY_MAX)) == NULL) ||
	    (a->failed && a->error_message && (r->own[3] =
	    safe_text(a->error_message, STORE_SUMMARY_MAX)) == NULL)) {
		qrow_free(r);
		return NULL;
	}
	r->p[5] = r->own[1] ? r->own[1] : "{}";
	r->p[7] = r->own[2];
	r->p[10] = r->own[3];
	r->bytes = sizeof(*r);
	for (i = 0; i < ROW_OWN; i++)
		r->bytes += r->own[i] ? strlen(r->own[i]) + 1 : 0;
	return r;
}

/*
 * Columns whose values never hold '"' or '\' (a uuid, a caller, a
 * status, a boolean, integers, a time): their elements need no escape
 * scan.
 */
#define PLAIN_COLS	(1u << 0 | 1u << 4 | 1u << 6 | 1u << 8 | 1u << 9 | \
			    1u << 11 | 1u << 12)

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
static void
want_kick(struct store *s)
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
	want_kick(s);
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
		params_free(s->srv[i].pending, SRV_NPARAM);
		params_free(s->srv[i].inflight, SRV_NPARAM);
	}
	free(s->srv);
	free(s->q);
	free(s->conninfo);
	buf_free(&s->arrays);
	buf_free(&s->scratch);
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
	if ((r = qrow_new(s, a)) == NULL)
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
	ok &= (p[1] = u8_clean(r->command, COMMAND_MAX, NULL)) != NULL;
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
		ok &= (p[9] = u8_clean(r->protocol_version, 64, NULL)) != NULL;
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
	want_kick(s);		/* no more lingering */
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
	/* A little over the bound so that u8_clean cuts at a character. */
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
	out = u8_clean(k.p, STORE_SUMMARY_MAX, NULL);
	free(k.p);
	return out;
}

/* Is the JSON string body s (n bytes) plain: no escape, valid UTF-8? */
static int
plain_text(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (n > 0) {
		if (*p < 0x20 || *p == '\\' || (k = u8_charlen(p, n)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/*
 * The summary from the text when its content items' "text" members are
 * plain strings: 1 with *out set (NULL on ENOMEM), or 0 to parse instead
 * (anything else, and no text at all: then the summary is the result's
 * JSON encoding).  The same steps as store_result_summary() on the tree.
 */
static int
summary_text(const char *res, size_t len, char **out)
{
	char buf[STORE_SUMMARY_MAX + 5];
	struct sink k = { buf, 0, STORE_SUMMARY_MAX + 4 };
	const char *arr, *it, *v;
	size_t alen, ilen, vlen, pos = 0;
	int rc;

	if (rpc_raw_member(res, len, "content", &arr, &alen) != 1 ||
	    alen == 0 || *arr != '[')
		return 0;
	while ((rc = rpc_raw_element(arr, alen, &pos, &it, &ilen)) == 1) {
		if (*it != '{')
			continue;
		if ((rc = rpc_raw_member(it, ilen, "text", &v, &vlen)) == -1)
			return 0;
		if (rc == 0 || *v != '"' || vlen < 2)
			continue;
		if (!plain_text(v + 1, vlen - 2))
			return 0;
		if (k.len >= k.max)
			continue;
		if (k.len > 0)
			sink_add("\n", 1, &k);
		sink_add(v + 1, vlen - 2, &k);
	}
	if (rc == -1 || k.len == 0)
		return 0;
	buf[k.len] = '\0';
	*out = u8_clean(buf, STORE_SUMMARY_MAX, NULL);
	return 1;
}

char *
store_result_summary_text(const char *res, size_t len)
{
	json_t *result;
	char *sum = NULL;

	if (summary_text(res, len, &sum))
		return sum;
	result = json_loadb(res, len, JSON_DECODE_ANY, NULL);
	sum = store_result_summary(result);
	json_decref(result);
	return sum;
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
			errfmt(err, errlen, "audit query: bad row: %s",
			    je.text);
			json_decref(rows);
			return NULL;
		}
	}
	if (rows == NULL)
		errfmt(err, errlen, "out of memory");
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
		errfmt(err, errlen, "audit query: %s", m ? m : "out of memory");
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
