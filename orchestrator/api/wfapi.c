/*
 * api/wfapi: the workflow engine's HTTP JSON API (see api/wfapi.h).
 *
 * One struct wreq per request from its handler to its answer.  A
 * request is always in one of two states: being checked on the stack of
 * its handler (answered or sent to the database before the handler
 * returns), or waiting for one statement (op).  Every answer goes
 * through reply(), which counts it and frees the request.
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "engine/defn.h"
#include "engine/wfsql.h"
#include "store/pgq.h"
#include "store/store.h"
#include "api/apiutil.h"
#include "api/auth.h"
#include "api/wfapi.h"

#define UUID_LEN	API_UUID_LEN
#define NAME_MAX_	128	/* bytes of a workflow name */
#define CURSOR_TS_LEN	API_CURSOR_TS_LEN
#define MSG_MAX		1024	/* bytes of an error message */

enum route {
	R_CREATE = 0,
	R_GET,
	R_LIST,
	R_CANCEL,
	R_APPROVE,
	R_REJECT,
	R_OTHER,	/* the rest of /v1: 404 or 405 */
	R_COUNT
};

/* What each route needs (doc/api.md): reading is read, acting on
   executions is run; the rest of /v1 answers 404/405 to any token. */
static const struct {
	const char	*method;
	const char	*pattern;
	enum auth_scope	 scope;
} routes[R_COUNT] = {
	[R_CREATE] = { "POST", "/v1/workflows/{name}/executions", AUTH_RUN },
	[R_GET] = { "GET", "/v1/executions/{id}", AUTH_READ },
	[R_LIST] = { "GET", "/v1/executions", AUTH_READ },
	[R_CANCEL] = { "POST", "/v1/executions/{id}/cancel", AUTH_RUN },
	[R_APPROVE] = { "POST", "/v1/executions/{id}/steps/{step}/approve",
	    AUTH_RUN },
	[R_REJECT] = { "POST", "/v1/executions/{id}/steps/{step}/reject",
	    AUTH_RUN },
	[R_OTHER] = { NULL, "other", AUTH_READ },
};

static const struct pgq_stmt stmts[] = {
	{ "api_latest", WFSQL_LATEST_UNLESS, 2 },
	{ "api_create", WFSQL_CREATE, 4 },
	{ "api_execution", WFSQL_EXECUTION, 1 },
	{ "api_executions", WFSQL_EXECUTIONS, 5 },
	{ "api_cancel", WFSQL_CANCEL, 2 },
	{ "api_decide", WFSQL_DECIDE, 5 },
};

struct wfapi;

/* The handler argument of one route. */
struct wroute {
	struct wfapi	*api;
	enum route	 r;
};

struct wreq;
typedef void (*wreq_fn)(struct wreq *, const PGresult *);

struct wreq {
	TAILQ_ENTRY(wreq)	 entry;
	struct wfapi		*api;
	struct http_exchange	*x;
	enum route		 r;
	double			 t0;		/* monotonic s */
	struct pgq_op		*op;		/* the statement waited for */
	wreq_fn			 done;		/* its answer's handler */
	int			 retried;	/* create: the definition
						   fetched again */
	char			 id[UUID_LEN + 1];	/* execution */
	char			 name[NAME_MAX_ + 1];	/* workflow */
	char			 step[DEFN_ID_MAX + 1];
	char			 key[WFAPI_KEY_MAX + 1]; /* "": none */
	char			 who[4 + AUTH_NAME_MAX + 1];	/* "api:NAME":
						   triggered_by, cancelled_by,
						   decided_by */
	int			 approve;
	unsigned		 limit;
	json_t			*input;		/* create */
	char			*input_s;	/* ... as stored */
	char			*comment;	/* decide; NULL: none */
};

struct dcache {
	char		 id[UUID_LEN + 1];	/* "": empty slot */
	char		 name[NAME_MAX_ + 1];
	long		 version;
	struct defn	*d;
};

struct wfapi {
	struct ev_loop		*loop;
	struct pgq		*db;		/* NULL: no DATABASE_URL */
	struct auth		*auth;		/* borrowed */
	struct wroute		 wr[R_COUNT];
	struct http_routes	 own;		/* the real routes, for 405 */
	TAILQ_HEAD(, wreq)	 reqs;
	struct dcache		 cache[WFAPI_DEFN_CACHE];
	size_t			 cache_next;
	uint64_t		 count[R_COUNT][HTTP_STATUS_MAX -
				    HTTP_STATUS_MIN + 1];
	struct metrics_hist	 dur[R_COUNT];
};

/* ---- answers ---- */

static void
wreq_free(struct wreq *q)
{
	TAILQ_REMOVE(&q->api->reqs, q, entry);
	pgq_op_forget(q->op);
	json_decref(q->input);
	free(q->input_s);
	free(q->comment);
	free(q);
}

/*
 * Answer q with status and the JSON text body[len], with one extra
 * header (NULL: none), count it, and free q.
 */
static void
reply(struct wreq *q, int status, const char *body, size_t len,
    const char *extra)
{
	const char *hdr[4] = { "Content-Type: application/json",
	    "Cache-Control: no-store", extra, NULL };
	struct wfapi *api = q->api;

	if (http_respond(q->x, status, hdr, body, len) == -1)
		status = 500;	/* the server sent its own 500 */
	if (status >= HTTP_STATUS_MIN && status <= HTTP_STATUS_MAX)
		api->count[q->r][status - HTTP_STATUS_MIN]++;
	metrics_observe(&api->dur[q->r], metrics_now_s() - q->t0);
	q->x = NULL;
	wreq_free(q);
}

/* Answer with v (stolen) as compact JSON. */
static void
reply_json(struct wreq *q, int status, json_t *v, const char *extra)
{
	char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;

	json_decref(v);
	if (s == NULL) {
		reply(q, 500, "{\"error\":\"out of memory\"}", 25, NULL);
		return;
	}
	reply(q, status, s, strlen(s), extra);
	free(s);
}

/* {"error": message} with extra members from more (stolen; NULL). */
static void __attribute__((format(printf, 5, 6)))
reply_err(struct wreq *q, int status, const char *extra, json_t *more,
    const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	json_t *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = more ? more : json_object();
	if (o != NULL && json_object_set_new(o, "error",
	    json_string(msg)) == -1) {
		/* a message cut inside a UTF-8 sequence: say less */
		if (json_object_set_new(o, "error",
		    json_string(http_reason(status))) == -1) {
			json_decref(o);
			o = NULL;
		}
	}
	reply_json(q, status, o, extra);
}

/* ---- input ---- */

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, as workflows_name_check. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= NAME_MAX_ && isalnum((unsigned char)s[0]) &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-") == n;
}

/* ^[A-Za-z_][A-Za-z0-9_-]{0,63}$, a step id as defn.h has it. */
static int
step_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= DEFN_ID_MAX && (isalpha((unsigned char)s[0]) ||
	    s[0] == '_') && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/*
 * The path parameter `what` of x decoded into out[outlen]; 0, or -1
 * after answering 400.
 */
static int
param(struct wreq *q, const char *what, char *out, size_t outlen)
{
	const struct http_span *v = http_exchange_param(q->x, what);

	if (v == NULL || api_pct_decode(v->p, v->len, out, outlen) == -1) {
		reply_err(q, 400, NULL, NULL, "the %s in the path is not "
		    "validly percent-encoded, holds %%00 or is too long", what);
		return -1;
	}
	return 0;
}

/* The execution id of the path into q->id; 0, or -1 after a 400. */
static int
param_id(struct wreq *q)
{
	if (param(q, "id", q->id, sizeof(q->id)) == -1)
		return -1;
	if (!api_uuid_ok(q->id)) {
		reply_err(q, 400, NULL, NULL, "an execution id is a UUID "
		    "(8-4-4-4-12 hexadecimal digits)");
		return -1;
	}
	return 0;
}

/* How many header fields are named name. */
static size_t
header_count(const struct http_request *req, const char *name,
    const struct http_header **first)
{
	size_t i, n = 0, len = strlen(name);

	*first = NULL;
	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name.len == len &&
		    strncasecmp(req->headers[i].name.p, name, len) == 0) {
			if (n++ == 0)
				*first = &req->headers[i];
		}
	return n;
}

/*
 * The body as a JSON object (new reference) in *out; an empty body is
 * NULL when `optional`.  0, or -1 after answering (415, 400).
 */
static int
body_object(struct wreq *q, const struct http_request *req, int optional,
    const char *form, json_t **out)
{
	const struct http_header *ct;
	json_error_t je;
	const char *v;
	size_t n;

	*out = NULL;
	if (req->body_len == 0) {
		if (optional)
			return 0;
		reply_err(q, 400, NULL, NULL, "a JSON body is required: %s",
		    form);
		return -1;
	}
	n = header_count(req, "content-type", &ct);
	v = ct ? ct->value.p : "";
	if (n != 1 || ct->value.len < 16 || strncasecmp(v,
	    "application/json", 16) != 0 || (ct->value.len > 16 &&
	    v[16] != ';' && v[16] != ' ' && v[16] != '\t')) {
		reply_err(q, 415, NULL, NULL, "the body must be JSON, sent "
		    "with Content-Type: application/json");
		return -1;
	}
	if ((*out = json_loadb(req->body, req->body_len,
	    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je)) == NULL) {
		reply_err(q, 400, NULL, NULL, "invalid JSON body at line %d, "
		    "column %d: %s", je.line, je.column, je.text);
		return -1;
	}
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		reply_err(q, 400, NULL, NULL, "the body must be a JSON object: "
		    "%s", form);
		return -1;
	}
	return 0;
}

/* ---- the database ---- */

static void
db_cb(const PGresult *res, const struct pgq_err *err, void *arg);

/*
 * Run statement name for q; its result goes to done(q, res).  Answers
 * 503 at once when the connection is known to be down.
 */
static void
db_exec(struct wreq *q, const char *name, int n, const char *const *p,
    wreq_fn done)
{
	struct wfapi *api = q->api;
	const char *why;

	if (api->db == NULL) {
		reply_err(q, 503, NULL, NULL, "the API has no database: "
		    "DATABASE_URL is not set");
		return;
	}
	why = pgq_last_error(api->db);
	if (!pgq_up(api->db) && strcmp(why, "connecting") != 0) {
		reply_err(q, 503, "Retry-After: 1", NULL, "the database is "
		    "unavailable: %s", why);
		return;
	}
	q->done = done;
	if ((q->op = pgq_exec(api->db, name, n, p, db_cb, q)) == NULL) {
		if (errno == ENOSPC || errno == EMSGSIZE)
			reply_err(q, 503, "Retry-After: 1", NULL, "too many "
			    "requests are waiting for the database");
		else
			reply_err(q, 500, NULL, NULL, "cannot queue the "
			    "statement: %s", strerror(errno));
	}
}

/* Is err the SQLSTATE code? */
static int
sqlstate(const struct pgq_err *err, const char *code)
{
	return strcmp(err->sqlstate, code) == 0;
}

static void
db_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct wreq *q = arg;

	q->op = NULL;
	if (err == NULL) {
		q->done(q, res);
		return;
	}
	if (err->timeout || err->lost) {
		if (q->r == R_CREATE && err->lost)
			reply_err(q, 503, "Retry-After: 1", NULL, "the "
			    "database connection was lost while the execution "
			    "was being created: it may exist; %s",
			    q->key[0] ? "repeat the request with the same "
			    "Idempotency-Key to find out" : "send an "
			    "Idempotency-Key to make a repeat safe");
		else
			reply_err(q, 503, "Retry-After: 1", NULL, "the database "
			    "did not answer: %s", err->message);
		return;
	}
	/* The engine's own refusals (migrations/002_workflow_engine.sql):
	   their messages are written for users. */
	if (sqlstate(err, "AF002")) {
		if (strncmp(err->message, "no execution ", 13) == 0)
			reply_err(q, 404, NULL, NULL, "%s", err->message);
		else
			reply_err(q, 409, NULL, NULL, "%s", err->message);
		return;
	}
	if (sqlstate(err, "AF001") || sqlstate(err, "AF003") ||
	    sqlstate(err, "AF004") || sqlstate(err, "40001") ||
	    sqlstate(err, "40P01")) {
		reply_err(q, 409, NULL, NULL, "%s", err->message);
		return;
	}
	/* What the checks above should have kept from the database. */
	if (err->sqlstate[0] == '2' && err->sqlstate[1] == '2') {
		reply_err(q, 400, NULL, NULL, "invalid value: %s",
		    err->message);
		return;
	}
	if (sqlstate(err, "23514") || sqlstate(err, "23502")) {
		reply_err(q, 400, NULL, NULL, "refused by the database: %s",
		    err->message);
		return;
	}
	log_warnx("api: %s %s: database error %s: %s",
	    routes[q->r].method ? routes[q->r].method : "-",
	    routes[q->r].pattern, err->sqlstate, err->message);
	reply_err(q, 500, NULL, NULL, "database error (SQLSTATE %s)",
	    err->sqlstate[0] ? err->sqlstate : "none");
}

/* One-row result's first column, or NULL when SQL NULL or no row. */
static const char *
one_value(const PGresult *res, int col)
{
	if (PQntuples(res) != 1 || PQnfields(res) <= col ||
	    PQgetisnull(res, 0, col))
		return NULL;
	return PQgetvalue(res, 0, col);
}

/* ---- the definition cache ---- */

static struct dcache *
cache_by_id(struct wfapi *api, const char *id)
{
	size_t i;

	for (i = 0; i < WFAPI_DEFN_CACHE; i++)
		if (strcmp(api->cache[i].id, id) == 0 && api->cache[i].id[0])
			return &api->cache[i];
	return NULL;
}

/* The newest version cached for name, or NULL. */
static struct dcache *
cache_by_name(struct wfapi *api, const char *name)
{
	struct dcache *best = NULL;
	size_t i;

	for (i = 0; i < WFAPI_DEFN_CACHE; i++)
		if (api->cache[i].id[0] && strcmp(api->cache[i].name,
		    name) == 0 && (best == NULL ||
		    api->cache[i].version > best->version))
			best = &api->cache[i];
	return best;
}

/* Keep d (taken) for id, in the next slot (the oldest goes). */
static struct dcache *
cache_put(struct wfapi *api, const char *id, const char *name, long version,
    struct defn *d)
{
	struct dcache *c = &api->cache[api->cache_next];

	api->cache_next = (api->cache_next + 1) % WFAPI_DEFN_CACHE;
	defn_free(c->d);
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->version = version;
	c->d = d;
	return c;
}

/* ---- POST /v1/workflows/{name}/executions ---- */

#define CREATE_FORM	"{\"input\": {...}}"

static void create_latest(struct wreq *);

static void
create_done(struct wreq *q, const PGresult *res)
{
	const char *id = one_value(res, 0), *created = one_value(res, 1),
	    *st = one_value(res, 2);
	char loc[64];
	int fresh;

	if (id == NULL || created == NULL || st == NULL) {
		reply_err(q, 500, NULL, NULL, "the database answered no "
		    "execution");
		return;
	}
	fresh = strcmp(created, "t") == 0;
	snprintf(loc, sizeof(loc), "Location: /v1/executions/%s", id);
	reply_json(q, fresh ? 201 : 200, json_pack("{s:s,s:s,s:s,s:b}",
	    "id", id, "workflow", q->name, "status", st, "created", fresh),
	    loc);
}

static void
latest_done(struct wreq *q, const PGresult *res)
{
	const char *id = one_value(res, 0), *ver = one_value(res, 1),
	    *def = one_value(res, 2), *p[4];
	char err[DEFN_ERR_MAX];
	struct dcache *c;
	struct defn *d;
	json_error_t je;
	json_t *doc;
	long version;

	if (id == NULL || ver == NULL) {
		reply_err(q, 404, NULL, NULL, "workflow '%s' does not exist or "
		    "is disabled", q->name);
		return;
	}
	version = strtol(ver, NULL, 10);
	if ((c = cache_by_id(q->api, id)) == NULL) {
		if (def == NULL) {
			/* evicted since the hint was given: fetch it */
			if (q->retried++) {
				reply_err(q, 500, NULL, NULL, "the definition "
				    "of workflow '%s' could not be loaded",
				    q->name);
				return;
			}
			create_latest(q);
			return;
		}
		if ((doc = json_loads(def, 0, &je)) == NULL) {
			reply_err(q, 500, NULL, NULL, "the stored definition "
			    "of workflow '%s' version %ld is not JSON: %s",
			    q->name, version, je.text);
			return;
		}
		d = defn_parse(doc, NULL, NULL, err, sizeof(err));
		json_decref(doc);
		if (d == NULL) {
			log_warnx("api: workflow %s version %ld: %s", q->name,
			    version, err);
			reply_err(q, 500, NULL, NULL, "the stored definition "
			    "of workflow '%s' version %ld does not validate: "
			    "%s", q->name, version, err);
			return;
		}
		c = cache_put(q->api, id, q->name, version, d);
	}
	if (defn_check_input(c->d, q->input, err, sizeof(err)) == -1) {
		reply_err(q, 422, NULL, NULL, "%s", err);
		return;
	}
	p[0] = id;
	p[1] = q->input_s;
	p[2] = q->key[0] ? q->key : NULL;
	p[3] = q->who;
	db_exec(q, "api_create", 4, p, create_done);
}

/* Ask for the newest version of q->name, its definition unless cached. */
static void
create_latest(struct wreq *q)
{
	struct dcache *c = q->retried ? NULL : cache_by_name(q->api, q->name);
	const char *p[2] = { q->name, c ? c->id : NULL };

	db_exec(q, "api_latest", 2, p, latest_done);
}

/* The Idempotency-Key header into q->key ("" without); 0, or -1 after
   a 400. */
static int
idempotency_key(struct wreq *q, const struct http_request *req)
{
	const struct http_header *h;
	size_t n = header_count(req, "idempotency-key", &h), i;

	if (n == 0)
		return 0;
	if (n > 1) {
		reply_err(q, 400, NULL, NULL, "one Idempotency-Key header "
		    "at most");
		return -1;
	}
	if (h->value.len < 1 || h->value.len > WFAPI_KEY_MAX) {
		reply_err(q, 400, NULL, NULL, "Idempotency-Key: 1 to %u "
		    "bytes", WFAPI_KEY_MAX);
		return -1;
	}
	for (i = 0; i < h->value.len; i++)
		if ((unsigned char)h->value.p[i] < 0x21 ||
		    (unsigned char)h->value.p[i] > 0x7e) {
			reply_err(q, 400, NULL, NULL, "Idempotency-Key: "
			    "printable ASCII without spaces");
			return -1;
		}
	memcpy(q->key, h->value.p, h->value.len);
	q->key[h->value.len] = '\0';
	return 0;
}

static void
h_create(struct wreq *q, const struct http_request *req)
{
	json_t *body, *input;
	const char *k;
	size_t len;

	if (param(q, "name", q->name, sizeof(q->name)) == -1)
		return;
	if (!name_ok(q->name)) {
		reply_err(q, 400, NULL, NULL, "a workflow name is 1 to 128 of "
		    "A-Z a-z 0-9 . _ -, starting with a letter or digit");
		return;
	}
	if (idempotency_key(q, req) == -1 ||
	    body_object(q, req, 0, CREATE_FORM, &body) == -1)
		return;
	k = json_object_iter_key(json_object_iter(body));
	if (json_object_size(body) > 1 || (k != NULL &&
	    strcmp(k, "input") != 0)) {
		json_decref(body);
		reply_err(q, 400, NULL, NULL, "the body is %s and nothing else "
		    "(the input object itself goes under \"input\")",
		    CREATE_FORM);
		return;
	}
	if ((input = json_object_get(body, "input")) == NULL)
		input = json_object();
	else if (!json_is_object(input)) {
		reply_err(q, 400, NULL, NULL, "\"input\" must be a JSON object, "
		    "not %s", json_is_array(input) ? "an array" :
		    json_is_string(input) ? "a string" : json_is_null(input) ?
		    "null" : json_is_boolean(input) ? "a boolean" :
		    "a number");
		json_decref(body);
		return;
	} else
		json_incref(input);
	json_decref(body);
	q->input = input;
	if (input == NULL ||
	    (q->input_s = json_dumps(input, JSON_COMPACT)) == NULL) {
		reply_err(q, 500, NULL, NULL, "out of memory");
		return;
	}
	if ((len = strlen(q->input_s)) > WFSQL_INPUT_MAX) {
		reply_err(q, 413, NULL, NULL, "the input is %zu bytes as "
		    "compact JSON; at most %u", len, WFSQL_INPUT_MAX);
		return;
	}
	create_latest(q);
}

/* ---- GET /v1/executions/{id} ---- */

static void
get_done(struct wreq *q, const PGresult *res)
{
	const char *v = one_value(res, 0);
	size_t len;

	if (v == NULL) {
		reply_err(q, 404, NULL, NULL, "no execution %s", q->id);
		return;
	}
	if ((len = strlen(v)) > WFAPI_RESPONSE_MAX) {
		reply_err(q, 500, NULL, NULL, "execution %s is %zu bytes as "
		    "JSON, more than the API answers (%u)", q->id, len,
		    WFAPI_RESPONSE_MAX);
		return;
	}
	reply(q, 200, v, len, NULL);
}

static void
h_get(struct wreq *q, const struct http_request *req)
{
	const char *p[1];

	if (param_id(q) == -1)
		return;
	p[0] = q->id;
	db_exec(q, "api_execution", 1, p, get_done);
}

/* ---- GET /v1/executions ---- */

static void
list_done(struct wreq *q, const PGresult *res)
{
	const char *v = one_value(res, 0), *cur = NULL;
	json_t *rows, *row, *out;
	size_t i;

	if (v == NULL || (rows = json_loads(v, 0, NULL)) == NULL ||
	    !json_is_array(rows)) {
		reply_err(q, 500, NULL, NULL, "the database answered no list");
		return;
	}
	/* one more row than asked for was fetched: is there a next page? */
	if (json_array_size(rows) > q->limit) {
		json_array_remove(rows, q->limit);
		cur = json_string_value(json_object_get(json_array_get(rows,
		    q->limit - 1), "cursor"));
	}
	out = json_pack("{s:O,s:s?}", "executions", rows, "next_cursor", cur);
	json_array_foreach(rows, i, row)
		json_object_del(row, "cursor");
	json_decref(rows);
	reply_json(q, 200, out, NULL);
}

/* Is s one of WFSQL_STATUSES? */
static int
status_ok(const char *s)
{
	const char *p = WFSQL_STATUSES;
	size_t n = strlen(s);

	while (*p) {
		if (strncmp(p, s, n) == 0 && (p[n] == ' ' || p[n] == '\0') &&
		    n > 0)
			return 1;
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return 0;
}

static void
h_list(struct wreq *q, const struct http_request *req)
{
	static const char *const names[] = { "status", "workflow", "limit",
	    "cursor" };
	char val[4][API_VALUE_MAX], lim[16], ts[CURSOR_TS_LEN + 1],
	    cid[UUID_LEN + 1], why[MSG_MAX];
	const char *prm[5];
	int seen[4];
	char *e;
	unsigned long n;

	if (api_query(req, names, 4, val, seen, why, sizeof(why)) == -1) {
		reply_err(q, 400, NULL, NULL, "%s", why);
		return;
	}
	if (seen[0] && !status_ok(val[0])) {
		reply_err(q, 400, NULL, NULL, "unknown status '%s' (one of: "
		    "%s)", val[0], WFSQL_STATUSES);
		return;
	}
	if (seen[1] && !name_ok(val[1])) {
		reply_err(q, 400, NULL, NULL, "workflow: not a workflow name");
		return;
	}
	q->limit = WFAPI_LIMIT_DEFAULT;
	if (seen[2]) {
		errno = 0;
		n = strtoul(val[2], &e, 10);
		if (!isdigit((unsigned char)val[2][0]) || *e != '\0' ||
		    errno != 0 || n < 1 || n > WFAPI_LIMIT_MAX) {
			reply_err(q, 400, NULL, NULL, "limit: a number from 1 "
			    "to %d", WFAPI_LIMIT_MAX);
			return;
		}
		q->limit = (unsigned)n;
	}
	if (seen[3] && api_cursor_parse(val[3], ts, cid) == -1) {
		reply_err(q, 400, NULL, NULL, "cursor: not one this API gave "
		    "(next_cursor)");
		return;
	}
	snprintf(lim, sizeof(lim), "%u", q->limit + 1);
	prm[0] = seen[0] ? val[0] : NULL;
	prm[1] = seen[1] ? val[1] : NULL;
	prm[2] = lim;
	prm[3] = seen[3] ? ts : NULL;
	prm[4] = seen[3] ? cid : NULL;
	db_exec(q, "api_executions", 5, prm, list_done);
}

/* ---- POST /v1/executions/{id}/cancel ---- */

static void
cancel_done(struct wreq *q, const PGresult *res)
{
	const char *st = one_value(res, 0);

	if (st == NULL)
		reply_err(q, 404, NULL, NULL, "no execution %s", q->id);
	else if (strcmp(st, "cancelled") == 0)
		reply_json(q, 200, json_pack("{s:s,s:s}", "id", q->id,
		    "status", st), NULL);
	else
		reply_err(q, 409, NULL, json_pack("{s:s,s:s}", "id", q->id,
		    "status", st), "execution %s has already %s: only a "
		    "pending, running or waiting execution can be cancelled",
		    q->id, st);
}

static void
h_cancel(struct wreq *q, const struct http_request *req)
{
	const char *p[2];
	json_t *body;

	if (param_id(q) == -1 || body_object(q, req, 1, "none", &body) == -1)
		return;
	if (body != NULL && json_object_size(body) > 0) {
		json_decref(body);
		reply_err(q, 400, NULL, NULL, "cancel takes no body (or {})");
		return;
	}
	json_decref(body);
	p[0] = q->id;
	p[1] = q->who;
	db_exec(q, "api_cancel", 2, p, cancel_done);
}

/* ---- POST /v1/executions/{id}/steps/{step}/approve|reject ---- */

static void
decide_done(struct wreq *q, const PGresult *res)
{
	reply_json(q, 200, json_pack("{s:s,s:s,s:s}", "id", q->id, "step",
	    q->step, "decision", q->approve ? "approved" : "rejected"), NULL);
}

static void
h_decide(struct wreq *q, const struct http_request *req)
{
	const char *p[5], *k;
	json_t *body, *c;

	q->approve = q->r == R_APPROVE;
	if (param_id(q) == -1 ||
	    param(q, "step", q->step, sizeof(q->step)) == -1)
		return;
	if (!step_ok(q->step)) {
		reply_err(q, 400, NULL, NULL, "a step id is 1 to 64 of A-Z a-z "
		    "0-9 _ -, starting with a letter or _");
		return;
	}
	if (body_object(q, req, 1, "{\"comment\": \"...\"}", &body) == -1)
		return;
	k = json_object_iter_key(json_object_iter(body));
	if (json_object_size(body) > 1 || (k != NULL &&
	    strcmp(k, "comment") != 0)) {
		json_decref(body);
		reply_err(q, 400, NULL, NULL, "the body is {\"comment\": "
		    "\"...\"} or nothing");
		return;
	}
	c = json_object_get(body, "comment");
	if (c != NULL && !json_is_null(c) && (!json_is_string(c) ||
	    json_string_length(c) > WFAPI_COMMENT_MAX)) {
		json_decref(body);
		reply_err(q, 400, NULL, NULL, "\"comment\" must be a string of "
		    "at most %u bytes", WFAPI_COMMENT_MAX);
		return;
	}
	if (json_is_string(c) && (q->comment = strdup(json_string_value(c))) ==
	    NULL) {
		json_decref(body);
		reply_err(q, 500, NULL, NULL, "out of memory");
		return;
	}
	json_decref(body);
	p[0] = q->id;
	p[1] = q->step;
	p[2] = q->approve ? "true" : "false";
	p[3] = q->who;
	p[4] = q->comment;
	db_exec(q, "api_decide", 5, p, decide_done);
}

/* ---- the rest of /v1 ---- */

static void
h_other(struct wreq *q, const struct http_request *req)
{
	struct http_params prm;
	char allow[256];

	if (http_routes_find(&q->api->own, req, &prm, allow,
	    sizeof(allow)) == NULL && allow[0] != '\0') {
		reply_err(q, 405, allow, NULL, "method not allowed here (%s)",
		    allow + 7);
		return;
	}
	reply_err(q, 404, NULL, NULL, "no such endpoint: see the HTTP API "
	    "in doc/workflows.md");
}

/* ---- dispatch ---- */

static void
h_entry(const struct http_request *req, struct http_exchange *x,
    const struct auth_result *who, void *arg)
{
	static void (*const fn[R_COUNT])(struct wreq *,
	    const struct http_request *) = {
		[R_CREATE] = h_create, [R_GET] = h_get, [R_LIST] = h_list,
		[R_CANCEL] = h_cancel, [R_APPROVE] = h_decide,
		[R_REJECT] = h_decide, [R_OTHER] = h_other,
	};
	struct wroute *wr = arg;
	struct wreq *q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	q->api = wr->api;
	q->x = x;
	q->r = wr->r;
	q->t0 = metrics_now_s();
	TAILQ_INSERT_TAIL(&q->api->reqs, q, entry);
	snprintf(q->who, sizeof(q->who), "api:%s", who->name);
	fn[q->r](q, req);
}

/* A handler for the private table, which is only searched. */
static void
h_none(const struct http_request *req, struct http_exchange *x, void *arg)
{
}

struct wfapi *
wfapi_new(struct ev_loop *loop, struct http_server *hs,
    const struct wfapi_opts *o, char *err, size_t errlen)
{
	struct pgq_opts po;
	struct wfapi *api;
	int r;

	struct auth_need need;

	if (o == NULL || o->auth == NULL) {
		snprintf(err, errlen, "the API needs its token check");
		return NULL;
	}
	if (sodium_init() < 0 || (api = calloc(1, sizeof(*api))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	api->loop = loop;
	api->auth = o->auth;
	TAILQ_INIT(&api->reqs);
	if (o->conninfo != NULL) {
		memset(&po, 0, sizeof(po));
		po.name = "api";
		po.op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms :
		    WFAPI_DB_TIMEOUT_MS;
		po.password = o->password;
		if ((api->db = pgq_new(loop, o->conninfo, &po, err,
		    errlen)) == NULL) {
			wfapi_free(api);
			return NULL;
		}
		if (pgq_prepare_all(api->db, stmts, sizeof(stmts) /
		    sizeof(stmts[0]), err, errlen) == -1) {
			wfapi_free(api);
			return NULL;
		}
	}
	for (r = 0; r < R_COUNT; r++) {
		api->wr[r].api = api;
		api->wr[r].r = (enum route)r;
		if (r == R_OTHER)
			continue;
		need.scope = routes[r].scope;
		need.challenge = NULL;
		if (auth_route(api->auth, hs, routes[r].method,
		    routes[r].pattern, HTTP_ROUTE_EXACT, &need, h_entry,
		    &api->wr[r]) == -1 ||
		    http_routes_add(&api->own, routes[r].method,
		    routes[r].pattern, HTTP_ROUTE_EXACT, h_none, NULL, NULL,
		    NULL) == -1)
			goto fail;
	}
	need.scope = routes[R_OTHER].scope;
	need.challenge = NULL;
	if (auth_route(api->auth, hs, NULL, "/v1/", HTTP_ROUTE_PREFIX, &need,
	    h_entry, &api->wr[R_OTHER]) == -1 ||
	    auth_route(api->auth, hs, NULL, "/v1", HTTP_ROUTE_EXACT, &need,
	    h_entry, &api->wr[R_OTHER]) == -1)
		goto fail;
	return api;
fail:
	snprintf(err, errlen, "cannot add the API's HTTP routes: %s",
	    strerror(errno));
	wfapi_free(api);
	return NULL;
}

void
wfapi_free(struct wfapi *api)
{
	struct wreq *q;
	size_t i;

	if (api == NULL)
		return;
	while ((q = TAILQ_FIRST(&api->reqs)) != NULL) {
		/* an orphan once the server is gone: this only frees it */
		http_respond(q->x, 503, NULL, "stopping\n", 9);
		wreq_free(q);
	}
	if (api->db != NULL)
		pgq_free(api->db);
	for (i = 0; i < WFAPI_DEFN_CACHE; i++)
		defn_free(api->cache[i].d);
	http_routes_free(&api->own);
	free(api);
}

/* ---- subsystem ---- */

static json_t *
ws_status(const void *self)
{
	const struct wfapi *api = self;

	if (api->db == NULL)
		return json_pack("{s:s,s:s}", "database", "disabled", "error",
		    "DATABASE_URL is not set");
	return json_pack("{s:s,s:s?,s:I}", "database", pgq_up(api->db) ?
	    "up" : "down", "error", pgq_up(api->db) ? NULL :
	    pgq_last_error(api->db), "pending",
	    (json_int_t)pgq_pending(api->db));
}

static int
ws_metrics(const void *self, struct buf *b)
{
	const struct wfapi *api = self;
	char lab[160];
	int r, c, rc = 0;

	rc |= metrics_head(b, "afu9_api_requests_total", "counter",
	    "Workflow API requests answered, by route and status code.");
	for (r = 0; r < R_COUNT; r++)
		for (c = 0; c <= HTTP_STATUS_MAX - HTTP_STATUS_MIN; c++)
			if (api->count[r][c] != 0)
				rc |= buf_printf(b, "afu9_api_requests_total{"
				    "method=\"%s\",route=\"%s\",code=\"%d\"} %"
				    PRIu64 "\n", routes[r].method ?
				    routes[r].method : "any",
				    routes[r].pattern, c + HTTP_STATUS_MIN,
				    api->count[r][c]);
	rc |= metrics_head(b, "afu9_api_request_duration_seconds",
	    "histogram", "Workflow API requests from their handler to their "
	    "answer, by route.");
	for (r = 0; r < R_COUNT; r++) {
		snprintf(lab, sizeof(lab), "method=\"%s\",route=\"%s\"",
		    routes[r].method ? routes[r].method : "any",
		    routes[r].pattern);
		rc |= metrics_hist_write(b, "afu9_api_request_duration_seconds",
		    lab, &api->dur[r]);
	}
	return rc ? -1 : 0;
}

void
wfapi_subsys(struct wfapi *api, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "api";
	out->key = "api";
	out->self = api;
	out->status = ws_status;
	out->metrics = ws_metrics;
}
