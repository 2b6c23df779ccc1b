/*
 * api/agentapi: recorded agent runs over HTTP (see api/agentapi.h).
 *
 * One struct areq per request from its handler to its answer: checked
 * on the stack of its handler (answered or sent to the database before
 * it returns), or waiting for its one statement.  Every answer goes
 * through reply(), which counts it and frees the request.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agentsql.h"
#include "api/agentapi.h"
#include "api/apiutil.h"
#include "api/auth.h"
#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "store/pgq.h"

#define MSG_MAX		1024

enum route { R_LIST = 0, R_GET, R_OTHER, R_COUNT };

static const char *const route_names[R_COUNT] = {
	"/v1/agent-runs", "/v1/agent-runs/{id}", "other"
};

static const struct pgq_stmt stmts[] = {
	{ "agentapi_run", AGENTSQL_RUN, 3 },
	{ "agentapi_runs", AGENTSQL_RUNS, 5 },
};

struct agentapi;

struct aroute {
	struct agentapi	*api;
	enum route	 r;
};

struct areq {
	TAILQ_ENTRY(areq)	 entry;
	struct agentapi		*api;
	struct http_exchange	*x;
	enum route		 r;
	struct pgq_op		*op;
	unsigned		 limit;
	char			 id[API_UUID_LEN + 1];
};

struct agentapi {
	struct pgq		*db;		/* NULL: no DATABASE_URL */
	struct auth		*auth;		/* borrowed */
	struct aroute		 ar[R_COUNT];
	TAILQ_HEAD(, areq)	 reqs;
	uint64_t		 count[R_COUNT][HTTP_STATUS_MAX -
				    HTTP_STATUS_MIN + 1];
};

/* ---- answers ---- */

static void
areq_free(struct areq *q)
{
	TAILQ_REMOVE(&q->api->reqs, q, entry);
	pgq_op_forget(q->op);
	free(q);
}

/* Answer q with status and the JSON body[len], one extra header (NULL:
   none); count it; free q. */
static void
reply(struct areq *q, int status, const char *body, size_t len,
    const char *extra)
{
	const char *hdr[4] = { "Content-Type: application/json",
	    "Cache-Control: no-store", extra, NULL };

	if (http_respond(q->x, status, hdr, body, len) == -1)
		status = 500;
	if (status >= HTTP_STATUS_MIN && status <= HTTP_STATUS_MAX)
		q->api->count[q->r][status - HTTP_STATUS_MIN]++;
	q->x = NULL;
	areq_free(q);
}

static void
reply_json(struct areq *q, int status, json_t *v)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (s == NULL) {
		reply(q, 500, "{\"error\":\"out of memory\"}", 25, NULL);
		return;
	}
	reply(q, status, s, strlen(s), NULL);
	free(s);
}

static void __attribute__((format(printf, 4, 5)))
reply_err(struct areq *q, int status, const char *extra, const char *fmt,
    ...)
{
	char msg[MSG_MAX];
	va_list ap;
	json_t *o;
	char *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a message cut inside a UTF-8 sequence: say less */
	if ((o = json_pack("{s:s}", "error", msg)) == NULL)
		o = json_pack("{s:s}", "error", http_reason(status));
	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		reply(q, 500, "{\"error\":\"out of memory\"}", 25, NULL);
		return;
	}
	json_decref(o);
	reply(q, status, s, strlen(s), extra);
	free(s);
}

/* ---- the database ---- */

static void
db_cb(const PGresult *res, const struct pgq_err *err, void *arg);

/* Run statement name for q; 503 at once when the connection is known
   to be down. */
static void
db_exec(struct areq *q, const char *name, int n, const char *const *p)
{
	struct agentapi *api = q->api;
	const char *why;

	if (api->db == NULL) {
		reply_err(q, 503, NULL, "the API has no database: "
		    "DATABASE_URL is not set");
		return;
	}
	why = pgq_last_error(api->db);
	if (!pgq_up(api->db) && strcmp(why, "connecting") != 0) {
		reply_err(q, 503, "Retry-After: 1", "the database is "
		    "unavailable: %s", why);
		return;
	}
	if ((q->op = pgq_exec(api->db, name, n, p, db_cb, q)) == NULL)
		reply_err(q, 503, "Retry-After: 1", "cannot queue the "
		    "statement: %s", errno == ENOSPC || errno == EMSGSIZE ?
		    "too many requests are waiting for the database" :
		    strerror(errno));
}

static void
list_done(struct areq *q, const char *v)
{
	const char *cur = NULL;
	json_t *rows, *row, *out;
	size_t i;

	if (v == NULL || (rows = json_loads(v, 0, NULL)) == NULL ||
	    !json_is_array(rows)) {
		reply_err(q, 500, NULL, "the database answered no list");
		return;
	}
	/* one more row than asked for was fetched: is there a next page? */
	if (json_array_size(rows) > q->limit) {
		json_array_remove(rows, q->limit);
		cur = json_string_value(json_object_get(json_array_get(rows,
		    q->limit - 1), "cursor"));
	}
	out = json_pack("{s:O,s:s?}", "runs", rows, "next_cursor", cur);
	json_array_foreach(rows, i, row)
		json_object_del(row, "cursor");
	json_decref(rows);
	reply_json(q, 200, out);
}

static void
db_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct areq *q = arg;
	const char *v;
	size_t len;

	q->op = NULL;
	if (err != NULL) {
		if (err->timeout || err->lost)
			reply_err(q, 503, "Retry-After: 1", "the database did "
			    "not answer: %s", err->message);
		else {
			log_warnx("agentapi: GET %s: database error %s: %s",
			    route_names[q->r], err->sqlstate, err->message);
			reply_err(q, 500, NULL, "database error (SQLSTATE %s)",
			    err->sqlstate[0] ? err->sqlstate : "none");
		}
		return;
	}
	v = PQntuples(res) == 1 && PQnfields(res) == 1 &&
	    !PQgetisnull(res, 0, 0) ? PQgetvalue(res, 0, 0) : NULL;
	if (q->r == R_LIST) {
		list_done(q, v);
		return;
	}
	if (v == NULL) {
		reply_err(q, 404, NULL, "no agent run %s", q->id);
		return;
	}
	if ((len = strlen(v)) > AGENTAPI_RESPONSE_MAX) {
		reply_err(q, 500, NULL, "agent run %s with this page of its "
		    "transcript is %zu bytes as JSON, more than the API "
		    "answers (%u): ask for fewer messages (?limit=)", q->id,
		    len, AGENTAPI_RESPONSE_MAX);
		return;
	}
	reply(q, 200, v, len, NULL);
}

/* ---- input ---- */

/* A decimal number lo..hi (digits only) into *out: 0, or -1. */
static int
num(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] == '\0' || strlen(s) > 10)
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* One of AGENTSQL_STATUSES. */
static int
status_ok(const char *s)
{
	const char *p = AGENTSQL_STATUSES;
	size_t n = strlen(s);

	while (n > 0 && *p) {
		if (strncmp(p, s, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return 0;
}

/* ---- GET /v1/agent-runs ---- */

static void
h_list(struct areq *q, const struct http_request *req)
{
	static const char *const names[] = { "status", "execution", "limit",
	    "cursor" };
	char val[4][API_VALUE_MAX], why[MSG_MAX], lim[16],
	    ts[API_CURSOR_TS_LEN + 1], cid[API_UUID_LEN + 1];
	const char *p[5];
	int seen[4];

	if (api_query(req, names, 4, val, seen, why, sizeof(why)) == -1) {
		reply_err(q, 400, NULL, "%s", why);
		return;
	}
	if (seen[0] && !status_ok(val[0])) {
		reply_err(q, 400, NULL, "unknown status '%s' (one of: %s)",
		    val[0], AGENTSQL_STATUSES);
		return;
	}
	if (seen[1] && !api_uuid_ok(val[1])) {
		reply_err(q, 400, NULL, "execution: an execution id is a UUID "
		    "(8-4-4-4-12 hexadecimal digits)");
		return;
	}
	q->limit = AGENTAPI_LIMIT_DEFAULT;
	if (seen[2] && num(val[2], 1, AGENTAPI_LIMIT_MAX, &q->limit) == -1) {
		reply_err(q, 400, NULL, "limit: a number from 1 to %d",
		    AGENTAPI_LIMIT_MAX);
		return;
	}
	if (seen[3] && api_cursor_parse(val[3], ts, cid) == -1) {
		reply_err(q, 400, NULL, "cursor: not one this API gave "
		    "(next_cursor)");
		return;
	}
	snprintf(lim, sizeof(lim), "%u", q->limit + 1);
	p[0] = seen[0] ? val[0] : NULL;
	p[1] = seen[1] ? val[1] : NULL;
	p[2] = lim;
	p[3] = seen[3] ? ts : NULL;
	p[4] = seen[3] ? cid : NULL;
	db_exec(q, "agentapi_runs", 5, p);
}

/* ---- GET /v1/agent-runs/{id} ---- */

static void
h_get(struct areq *q, const struct http_request *req)
{
	static const char *const names[] = { "from", "limit" };
	const struct http_span *v = http_exchange_param(q->x, "id");
	char val[2][API_VALUE_MAX], why[MSG_MAX], from[16], lim[16];
	const char *p[3];
	unsigned f = 0, n = AGENTAPI_MESSAGES_DEFAULT;
	int seen[2];

	if (v == NULL || api_pct_decode(v->p, v->len, q->id,
	    sizeof(q->id)) == -1 || !api_uuid_ok(q->id)) {
		reply_err(q, 400, NULL, "an agent run id is a UUID "
		    "(8-4-4-4-12 hexadecimal digits)");
		return;
	}
	if (api_query(req, names, 2, val, seen, why, sizeof(why)) == -1) {
		reply_err(q, 400, NULL, "%s", why);
		return;
	}
	if (seen[0] && num(val[0], 0, 2147483647, &f) == -1) {
		reply_err(q, 400, NULL, "from: a message seq, 0 or more");
		return;
	}
	if (seen[1] && num(val[1], 0, AGENTAPI_MESSAGES_MAX, &n) == -1) {
		reply_err(q, 400, NULL, "limit: a number of messages from 0 "
		    "to %d", AGENTAPI_MESSAGES_MAX);
		return;
	}
	snprintf(from, sizeof(from), "%u", f);
	snprintf(lim, sizeof(lim), "%u", n);
	p[0] = q->id;
	p[1] = from;
	p[2] = lim;
	db_exec(q, "agentapi_run", 3, p);
}

/* Another method on the routes' paths. */
static void
h_other(struct areq *q, const struct http_request *req)
{
	reply_err(q, 405, "Allow: GET, HEAD", "method not allowed here "
	    "(GET, HEAD)");
}

static void
h_entry(const struct http_request *req, struct http_exchange *x,
    const struct auth_result *who, void *arg)
{
	static void (*const fn[R_COUNT])(struct areq *,
	    const struct http_request *) = {
		[R_LIST] = h_list, [R_GET] = h_get, [R_OTHER] = h_other,
	};
	struct aroute *ar = arg;
	struct areq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	q->api = ar->api;
	q->x = x;
	q->r = ar->r;
	TAILQ_INSERT_TAIL(&q->api->reqs, q, entry);
	fn[q->r](q, req);
}

struct agentapi *
agentapi_new(struct ev_loop *loop, struct http_server *hs,
    const struct agentapi_opts *o, char *err, size_t errlen)
{
	struct auth_need need = { AUTH_READ, NULL };
	struct pgq_opts po;
	struct agentapi *api;
	int r;

	if (o == NULL || o->auth == NULL) {
		snprintf(err, errlen, "the agent runs API needs its token "
		    "check");
		return NULL;
	}
	if ((api = calloc(1, sizeof(*api))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	api->auth = o->auth;
	TAILQ_INIT(&api->reqs);
	for (r = 0; r < R_COUNT; r++) {
		api->ar[r].api = api;
		api->ar[r].r = (enum route)r;
	}
	if (o->conninfo != NULL) {
		memset(&po, 0, sizeof(po));
		po.name = "agentapi";
		po.op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms :
		    AGENTAPI_DB_TIMEOUT_MS;
		po.password = o->password;
		if ((api->db = pgq_new(loop, o->conninfo, &po, err,
		    errlen)) == NULL || pgq_prepare_all(api->db, stmts,
		    sizeof(stmts) / sizeof(stmts[0]), err, errlen) == -1) {
			agentapi_free(api);
			return NULL;
		}
	}
	/* GET first: for a GET the first added of two equal routes wins;
	   any other method reaches the catch-all, 405 */
	if (auth_route(api->auth, hs, "GET", "/v1/agent-runs",
	    HTTP_ROUTE_EXACT, &need, h_entry, &api->ar[R_LIST]) == -1 ||
	    auth_route(api->auth, hs, "GET", "/v1/agent-runs/{id}",
	    HTTP_ROUTE_EXACT, &need, h_entry, &api->ar[R_GET]) == -1 ||
	    auth_route(api->auth, hs, NULL, "/v1/agent-runs",
	    HTTP_ROUTE_EXACT, &need, h_entry, &api->ar[R_OTHER]) == -1 ||
	    auth_route(api->auth, hs, NULL, "/v1/agent-runs/{id}",
	    HTTP_ROUTE_EXACT, &need, h_entry, &api->ar[R_OTHER]) == -1) {
		snprintf(err, errlen, "cannot add the agent runs' HTTP "
		    "routes: %s", strerror(errno));
		agentapi_free(api);
		return NULL;
	}
	return api;
}

void
agentapi_free(struct agentapi *api)
{
	struct areq *q;

	if (api == NULL)
		return;
	while ((q = TAILQ_FIRST(&api->reqs)) != NULL) {
		/* an orphan once the server is gone: this only frees it */
		http_respond(q->x, 503, NULL, "stopping\n", 9);
		areq_free(q);
	}
	if (api->db != NULL)
		pgq_free(api->db);
	free(api);
}

/* ---- subsystem ---- */

static json_t *
aa_status(const void *self)
{
	const struct agentapi *api = self;

	if (api->db == NULL)
		return json_pack("{s:s,s:s}", "database", "disabled", "error",
		    "DATABASE_URL is not set");
	return json_pack("{s:s,s:s?}", "database", pgq_up(api->db) ? "up" :
	    "down", "error", pgq_up(api->db) ? NULL :
	    pgq_last_error(api->db));
}

static int
aa_metrics(const void *self, struct buf *b)
{
	const struct agentapi *api = self;
	int r, c, rc = 0;

	rc |= metrics_head(b, "afu9_agent_api_requests_total", "counter",
	    "Agent runs API requests answered, by route and status code.");
	for (r = 0; r < R_COUNT; r++)
		for (c = 0; c <= HTTP_STATUS_MAX - HTTP_STATUS_MIN; c++)
			if (api->count[r][c] != 0)
				rc |= buf_printf(b,
				    "afu9_agent_api_requests_total{route=\"%s\","
				    "code=\"%d\"} %" PRIu64 "\n",
				    route_names[r], c + HTTP_STATUS_MIN,
				    api->count[r][c]);
	return rc ? -1 : 0;
}

void
agentapi_subsys(struct agentapi *api, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "agentapi";
	out->key = "agentapi";
	out->self = api;
	out->status = aa_status;
	out->metrics = aa_metrics;
}
