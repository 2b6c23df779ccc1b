/*
 * api/mcphttp: remote MCP over Streamable HTTP (see mcphttp.h).
 *
 * Objects:
 *  - struct mhses: a session this task has in memory: its mcp_session
 *    (mcp_session.h: the dispatch) with the router's tools on it
 *    (gateway_tools), the requests handed to it and not answered yet, and
 *    its GET stream when this task holds it.  Built from the row the
 *    first time a request names the session here; freed once it has been
 *    unused for a while (or ended) and nothing holds it.
 *  - struct mhreq: a request handed to the session: where its response
 *    goes (an exchange as JSON, a capture for initialize, or an SSE
 *    writer), matched by id; progress notifications by progressToken.
 *  - struct mhout: the SSE answer of one tools/call on this task: every
 *    message is appended to the stream's log first and written to the
 *    exchange (while the client is there) when the append returns, in
 *    order (pgq answers in order).  Lives until its last append returned.
 *  - struct mhfol: a resumed stream (GET with Last-Event-ID) or the
 *    session's GET stream: it sends what the log holds after the last
 *    event it sent, again at each NOTIFY of its stream, and ends a
 *    request stream after its response.
 *  - struct mhctx: one HTTP request waiting for the database.
 *
 * Safe freeing: a session is freed only from the sweep or from a
 * database callback, never from inside one of its mcp_session callbacks,
 * and only when no mhctx holds it (refs).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#include <jansson.h>
#include <sodium.h>

#include "api/auth.h"
#include "api/mcphttp.h"
#include "http/http_stream.h"
#include "json_scan.h"
#include "log.h"
#include "mcp/gateway.h"
#include "mcp_session.h"
#include "rpc.h"
#include "store/pgq.h"
#include "strv.h"

#define SID_BYTES	32
#define SID_LEN		43	/* base64url, no padding */
#define DIGEST_HEX	64
#define LIST_MAX	64	/* entries of an allow-list */
#define ENTRY_MAX	255	/* bytes of one */
#define FETCH_MAX	256	/* events per replay query */
#define CLIENT_FIELD_MAX 255
#define CHALLENGES_MAX	64	/* 401 challenges kept, one per Host */
#define LOCAL_IDLE_S	60.	/* an unused session stays in memory */
#define SWEEP_S		30.	/* expired sessions removed this often */

static const char *const versions[] = {
	MCP_LATEST_VERSION, "2025-06-18", "2025-03-26", "2024-11-05",
};

struct mh;
struct mhses;

enum req_mode { REQ_JSON, REQ_CAPTURE, REQ_SSE };

struct mhout {
	TAILQ_ENTRY(mhout)	 entry;
	struct mh		*mh;
	long long		 stream;
	struct http_exchange	*x;	/* NULL once the client left */
	unsigned		 pending;	/* appends not returned */
	int			 final;		/* the response was appended */
};

struct mhreq {
	TAILQ_ENTRY(mhreq)	 entry;
	enum req_mode		 mode;
	char			*id_raw;
	json_t			*progress;	/* progressToken; NULL */
	struct http_exchange	*x;		/* REQ_JSON */
	struct mhout		*out;		/* REQ_SSE */
	char			 server[40];	/* REQ_SSE: the tool's server */
	char			*answer;	/* REQ_CAPTURE */
	size_t			 answer_len;
};

struct mhfol {
	TAILQ_ENTRY(mhfol)	 entry;
	struct mh		*mh;
	struct mhses		*s;	/* only for its GET stream; else NULL */
	char			 sid[DIGEST_HEX + 1];
	long long		 stream;
	long long		 last;		/* last event id sent */
	struct http_exchange	*x;
	struct pgq_op		*op;		/* fetch in flight */
	int			 again;		/* notified meanwhile */
	int			 is_get;
	int			 dead;		/* ended; freed by the sweep */
};

struct mhses {
	TAILQ_ENTRY(mhses)	 entry;
	struct mh		*mh;
	char			 sid[DIGEST_HEX + 1];
	struct mcp_session	*ses;
	struct gateway_tools	*gt;
	char			 level[16];	/* as stored */
	TAILQ_HEAD(, mhreq)	 reqs;
	struct mhfol		*get;		/* its GET stream, held here */
	struct mhreq		*log_to;	/* a server's log message goes
						   to this request's stream */
	unsigned		 refs;
	double			 used;
	int			 ended;
};

struct mh {
	struct ev_loop		*loop;
	struct router		*r;
	struct auth		*auth;		/* borrowed */
	struct pgq		*db;
	/* WWW-Authenticate of a 401, by Host (auth borrows them until it
	   answers, so they are never freed before mcphttp_free()); the
	   configured resource's in [0] alone */
	char			*chal_host[CHALLENGES_MAX];
	char			*chal[CHALLENGES_MAX];
	size_t			 nchal;
	char			*hosts[LIST_MAX];
	size_t			 nhosts;
	char			*origins[LIST_MAX];
	size_t			 norigins;
	char			*resource;	/* NULL: from Host */
	json_t			*auth_servers;	/* array */
	char			*bare;		/* NULL: none */
	unsigned		 max_sessions, session_requests, max_streams;
	size_t			 max_message;
	unsigned		 idle_s, heartbeat_ms;
	TAILQ_HEAD(, mhses)	 sessions;
	TAILQ_HEAD(, mhout)	 outs;
	TAILQ_HEAD(, mhfol)	 fols;
	size_t			 nsessions, nstreams;
	ev_timer		 beat;
	double			 last_sweep;
	long			 pid;		/* our connection's backend */
	/* stop */
	ev_timer		 stop_poll;
	double			 stop_until;
	void			(*stop_done)(void *);
	void			*stop_arg;
	int			 stopping;
	/* metrics */
	uint64_t		 opened, resumed, orphaned, refused;
};

struct mhctx {
	struct mh		*mh;
	struct http_exchange	*x;
	struct mhses		*s;		/* held (refs) */
	char			 sid[DIGEST_HEX + 1];
	char			 sid_text[SID_LEN + 1];	/* initialize */
	char			 principal[AUTH_NAME_MAX + 1];
	char			*body;
	size_t			 body_len;
	struct rpc_msg		 m;
	int			 have_msg;
	long long		 stream, last;	/* GET */
	int			 is_get;
	struct mhreq		*rq;		/* initialize: the capture */
	char			 level[16];
};

static const struct pgq_stmt stmts[] = {
	{ "mh_ses_get", "UPDATE mcp_sessions SET last_seen = now() "
	    "WHERE id = $1 AND principal = $2 AND last_seen > now() - "
	    "make_interval(secs => $3::int) RETURNING log_level", 3 },
	{ "mh_ses_open", "SELECT afu9_mcp_session_open($1, $2, $3, $4, $5, "
	    "$6::int, $7::int)", 7 },
	{ "mh_ses_end", "WITH d AS (DELETE FROM mcp_sessions WHERE id = $1 "
	    "AND principal = $2 RETURNING id) SELECT pg_notify('afu9_mcp', "
	    "'x ' || id) FROM d", 2 },
	{ "mh_ses_level", "UPDATE mcp_sessions SET log_level = $2 "
	    "WHERE id = $1", 2 },
	{ "mh_ses_touch", "UPDATE mcp_sessions SET last_seen = now() "
	    "WHERE id = $1", 1 },
	{ "mh_sweep", "WITH d AS (DELETE FROM mcp_sessions WHERE last_seen "
	    "< now() - make_interval(secs => $1::int) RETURNING id) "
	    "SELECT pg_notify('afu9_mcp', 'x ' || id) FROM d", 1 },
	{ "mh_stream_open", "SELECT afu9_mcp_stream_open($1, $2, $3::int)",
	    3 },
	{ "mh_event", "SELECT afu9_mcp_event($1::bigint, $2, $3::boolean)",
	    3 },
	{ "mh_get_event", "SELECT afu9_mcp_event(s.id, $2, false) FROM "
	    "mcp_streams s WHERE s.session_id = $1 AND s.request_id IS NULL",
	    2 },
	{ "mh_fetch", "SELECT s.done, s.request_id IS NULL, e.id, e.message "
	    "FROM mcp_streams s LEFT JOIN LATERAL (SELECT id, message FROM "
	    "mcp_events WHERE stream_id = s.id AND id > $3::bigint ORDER BY "
	    "id LIMIT 256) e ON true WHERE s.id = $2::bigint AND "
	    "s.session_id = $1 ORDER BY e.id", 3 },
	{ "mh_orphan", "SELECT afu9_mcp_orphan($1::bigint, $2)", 2 },
	{ "mh_get_open", "SELECT stream_id, last_event FROM "
	    "afu9_mcp_get_open($1)", 1 },
	{ "mh_pid", "SELECT pg_backend_pid()", 0 },
	/* a cancelled call's stream: done without a response */
	{ "mh_stream_cancel", "WITH u AS (UPDATE mcp_streams SET done = true "
	    "WHERE id = $1::bigint AND NOT done RETURNING id) SELECT "
	    "pg_notify('afu9_mcp', 's ' || id) FROM u", 1 },
	/* a cancellation for the task running the call, while the session
	   has a call in flight anywhere */
	{ "mh_cancel", "SELECT pg_notify('afu9_mcp', 'c ' || $1 || ' ' || $2) "
	    "WHERE EXISTS (SELECT 1 FROM mcp_streams WHERE session_id = $1 "
	    "AND request_id IS NOT NULL AND NOT done)", 2 },
};

static const char orphan_msg[] = "the afu9 task running this request "
    "ended before it answered; the call may or may not have taken "
    "effect: check before repeating it";

static void fol_fetch(struct mhfol *);
static void fol_end(struct mhfol *);
static void ses_release(struct mhses *);
static void ses_input(struct mhctx *, struct mhreq *);

/* ---- small helpers ---- */

static double
now_s(struct mh *mh)
{
	return ev_now(mh->loop);
}

/* How many header fields are named name; the first in *first. */
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

/* A JSON-RPC error without id, as the body of an HTTP refusal. */
static void
refuse(struct http_exchange *x, int status, const char *extra,
    const char *fmt, ...)
{
	const char *h[4];
	char msg[512], *body;
	size_t n = 0, len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h[n++] = "Content-Type: application/json";
	h[n++] = "Cache-Control: no-store";
	if (extra != NULL)
		h[n++] = extra;
	h[n] = NULL;
	if ((body = rpc_build_error(NULL, status == 400 ? RPC_INVALID_REQUEST :
	    -32000, msg, NULL, &len)) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	http_respond(x, status, h, body, len);
	free(body);
}

/* Is the comma list (of media ranges) naming type?  Parameters and
   case are ignored. */
static int
list_has(const char *v, size_t len, const char *type)
{
	size_t tl = strlen(type), i = 0, s, e;

	while (i < len) {
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < len && v[i] != ',' && v[i] != ';')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, type, tl) == 0)
			return 1;
		while (i < len && v[i] != ',')
			i++;
	}
	return 0;
}

static int
accepts(const struct http_request *req, const char *type)
{
	const struct http_header *h;
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (h->name.len == 6 && strncasecmp(h->name.p, "accept", 6) ==
		    0 && list_has(h->value.p, h->value.len, type))
			return 1;
	}
	return 0;
}

/* Split a comma list into out (copies), bounded. */
static int
split_list(const char *v, char **out, size_t *n, const char *what, char *err,
    size_t errlen)
{
	const char *p = v, *e;
	size_t len;

	*n = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		len = (size_t)(e - p);
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > ENTRY_MAX || *n == LIST_MAX) {
			snprintf(err, errlen, "%s: at most %d entries of at most "
			    "%d bytes", what, LIST_MAX, ENTRY_MAX);
			return -1;
		}
		if ((out[(*n)++] = strndup(p, len)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p = e;
	}
	return 0;
}

/* The host part and the port part of a Host value or an origin's
   authority: "[::1]:8080", "example.com:443", "localhost". */
static void
split_port(const char *v, size_t len, size_t *hostlen, const char **port,
    size_t *portlen)
{
	size_t i;

	*port = NULL;
	*portlen = 0;
	*hostlen = len;
	if (len > 0 && v[0] == '[') {
		for (i = 0; i < len && v[i] != ']'; i++)
			;
		if (i < len && i + 1 < len && v[i + 1] == ':') {
			*hostlen = i + 1;
			*port = v + i + 2;
			*portlen = len - i - 2;
		}
		return;
	}
	for (i = len; i > 0 && v[i - 1] != ':'; i--)
		;
	if (i > 0) {
		*hostlen = i - 1;
		*port = v + i;
		*portlen = len - i;
	}
}

/*
 * Does the entry allow v (a Host value, or an origin when scheme_len is
 * the length of its "scheme://")?  "*" allows all; an entry without a
 * port allows every port.
 */
static int
allowed(char *const *list, size_t n, const char *v, size_t len)
{
	const char *port;
	size_t i, hl, pl, off = 0;
	const char *ss;

	if ((ss = memchr(v, '/', len)) != NULL && ss + 2 <= v + len &&
	    ss[1] == '/')
		off = (size_t)(ss - v) + 2;
	split_port(v + off, len - off, &hl, &port, &pl);
	for (i = 0; i < n; i++) {
		if (strcmp(list[i], "*") == 0)
			return 1;
		if (strlen(list[i]) == len && strncasecmp(list[i], v, len) == 0)
			return 1;
		if (port != NULL && strlen(list[i]) == off + hl &&
		    strncasecmp(list[i], v, off + hl) == 0)
			return 1;
	}
	return 0;
}

/*
 * Host and Origin (DNS rebinding): 0, or -1 after a 403.  A request
 * without Origin is not from a browser page and passes that check.
 */
static int
check_origin(struct mh *mh, const struct http_request *req,
    struct http_exchange *x)
{
	const struct http_header *h;
	size_t n;

	if (header_count(req, "host", &h) != 1 || !allowed(mh->hosts,
	    mh->nhosts, h->value.p, h->value.len)) {
		mh->refused++;
		refuse(x, 403, NULL, "Host is not one this server answers to "
		    "for /mcp (AFU9_MCP_ALLOWED_HOSTS)");
		return -1;
	}
	n = header_count(req, "origin", &h);
	if (n > 1 || (n == 1 && !allowed(mh->origins, mh->norigins,
	    h->value.p, h->value.len))) {
		mh->refused++;
		refuse(x, 403, NULL, "Origin is not allowed for /mcp "
		    "(AFU9_MCP_ALLOWED_ORIGINS)");
		return -1;
	}
	return 0;
}

/* This resource's URL into buf (configured, else from Host). */
static const char *
resource_url(struct mh *mh, const struct http_request *req, char *buf,
    size_t len)
{
	const struct http_header *h;
	const struct http_header *fp;
	int https;

	if (mh->resource != NULL)
		return mh->resource;
	https = header_count(req, "x-forwarded-proto", &fp) == 1 &&
	    fp->value.len == 5 && strncasecmp(fp->value.p, "https", 5) == 0;
	if (header_count(req, "host", &h) != 1 || h->value.len > 512)
		snprintf(buf, len, "http://localhost/mcp");
	else
		snprintf(buf, len, "%s://%.*s/mcp", https ? "https" : "http",
		    (int)h->value.len, h->value.p);
	return buf;
}

/*
 * The RFC 9728 metadata URL of the resource at url: the well-known path
 * inserted between its authority and its path
 * ("https://h/mcp" -> "https://h/.well-known/oauth-protected-resource/mcp").
 */
static void
metadata_url(const char *url, char *buf, size_t len)
{
	const char *a = strstr(url, "://"), *path;

	path = a != NULL ? strchr(a + 3, '/') : NULL;
	if (path == NULL)
		snprintf(buf, len, "%s/.well-known/oauth-protected-resource",
		    url);
	else
		snprintf(buf, len, "%.*s/.well-known/oauth-protected-resource%s",
		    (int)(path - url), url, strcmp(path, "/") == 0 ? "" : path);
}

/*
 * The WWW-Authenticate value of a 401 for req: Bearer with the RFC 9728
 * resource_metadata of this resource.  Kept by Host when the resource
 * is not configured (the Host passed the allow-list); past
 * CHALLENGES_MAX of them, the first is given.  NULL on ENOMEM.
 */
static const char *
challenge_for(struct mh *mh, const struct http_request *req)
{
	const struct http_header *h;
	char url[600], meta[700], v[800], *host;
	size_t i;

	if (header_count(req, "host", &h) != 1)
		return mh->nchal > 0 ? mh->chal[0] : NULL;
	if (mh->resource == NULL)
		for (i = 0; i < mh->nchal; i++)
			if (strlen(mh->chal_host[i]) == h->value.len &&
			    memcmp(mh->chal_host[i], h->value.p, h->value.len)
			    == 0)
				return mh->chal[i];
	if (mh->nchal > 0 && (mh->resource != NULL || mh->nchal ==
	    CHALLENGES_MAX))
		return mh->chal[0];
	metadata_url(resource_url(mh, req, url, sizeof(url)), meta,
	    sizeof(meta));
	snprintf(v, sizeof(v), "Bearer realm=\"afu9\", resource_metadata="
	    "\"%s\"", meta);
	if ((host = strndup(h->value.p, h->value.len)) == NULL ||
	    (mh->chal[mh->nchal] = strdup(v)) == NULL) {
		free(host);
		return mh->nchal > 0 ? mh->chal[0] : NULL;
	}
	mh->chal_host[mh->nchal++] = host;
	return mh->chal[mh->nchal - 1];
}

/*
 * Origin and Host, then the token (api/auth.h) for read; fn runs with
 * the result when it is granted.
 */
static void
authorise(struct mh *mh, const struct http_request *req,
    struct http_exchange *x, auth_handler_fn fn)
{
	struct auth_need need = { AUTH_READ, NULL };

	if (check_origin(mh, req, x) == -1)
		return;
	need.challenge = challenge_for(mh, req);
	auth_request(mh->auth, req, x, &need, fn, mh);
}

/* MCP-Protocol-Version, when sent, must be a revision afu9 speaks. */
static int
check_version(struct mh *mh, const struct http_request *req,
    struct http_exchange *x)
{
	const struct http_header *h;
	size_t i, n = header_count(req, "mcp-protocol-version", &h);

	if (n == 0)
		return 0;
	for (i = 0; n == 1 && i < sizeof(versions) / sizeof(versions[0]); i++)
		if (h->value.len == strlen(versions[i]) &&
		    memcmp(h->value.p, versions[i], h->value.len) == 0)
			return 0;
	refuse(x, 400, NULL, "MCP-Protocol-Version must be one of %s, %s, %s, "
	    "%s", versions[0], versions[1], versions[2], versions[3]);
	return -1;
}

/*
 * The digest (hex) of the Mcp-Session-Id sent into sid: 1; 0 when none
 * was sent; -1 when it cannot be one of ours (the caller answers 404).
 */
static int
session_digest(struct mh *mh, const struct http_request *req, char *sid)
{
	unsigned char d[crypto_generichash_BYTES];
	const struct http_header *h;
	size_t i, n = header_count(req, "mcp-session-id", &h);

	if (n == 0)
		return 0;
	if (n > 1 || h->value.len != SID_LEN)
		return -1;
	for (i = 0; i < SID_LEN; i++)
		if (!isalnum((unsigned char)h->value.p[i]) && h->value.p[i] !=
		    '-' && h->value.p[i] != '_')
			return -1;
	/* keyed with nothing secret: every task must get the same digest */
	crypto_generichash(d, sizeof(d), (const unsigned char *)h->value.p,
	    SID_LEN, NULL, 0);
	sodium_bin2hex(sid, DIGEST_HEX + 1, d, sizeof(d));
	return 1;
}

/* The tools/list cursor salt of a session: the same on every task. */
static unsigned
salt_of(const char *sid)
{
	char h[9];
	unsigned v;

	memcpy(h, sid, 8);
	h[8] = '\0';
	v = (unsigned)strtoul(h, NULL, 16);
	return v == 0 ? 1 : v;
}

/* ---- the context of a request waiting for the database ---- */

static struct mhctx *
ctx_new(struct mh *mh, struct http_exchange *x, const struct http_request *req)
{
	struct mhctx *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->mh = mh;
	c->x = x;
	if (req->body_len > 0) {
		if ((c->body = malloc(req->body_len + 1)) == NULL) {
			free(c);
			return NULL;
		}
		memcpy(c->body, req->body, req->body_len);
		c->body[req->body_len] = '\0';
		c->body_len = req->body_len;
	}
	return c;
}

static void
ctx_free(struct mhctx *c)
{
	if (c == NULL)
		return;
	if (c->s != NULL)
		ses_release(c->s);
	if (c->have_msg)
		rpc_msg_free(&c->m);
	free(c->body);
	free(c);
}

/* A database failure as the client sees it. */
static void
db_refuse(struct mhctx *c, const struct pgq_err *err)
{
	log_warnx("mcp: database: %s", err->message);
	refuse(c->x, 503, "Retry-After: 1", "the database is unavailable: "
	    "try again");
	c->x = NULL;
}

static int
db_down(struct mh *mh, struct http_exchange *x)
{
	if (mh->db != NULL && pgq_up(mh->db))
		return 0;
	refuse(x, 503, "Retry-After: 1", "the database is unavailable: try "
	    "again");
	return 1;
}

static struct pgq_op *
db_exec(struct mh *mh, const char *name, int n, const char *const *p,
    pgq_done_fn done, void *arg)
{
	struct pgq_op *op = pgq_exec(mh->db, name, n, p, done, arg);

	if (op == NULL)
		log_warn("mcp: %s", name);
	return op;
}

/* A statement whose answer nobody waits for but a failure is logged. */
static void
fire_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	if (err != NULL)
		log_warnx("mcp: %s: %s", (const char *)arg, err->message);
}

static void
fire(struct mh *mh, const char *name, int n, const char *const *p)
{
	(void)db_exec(mh, name, n, p, fire_done, (void *)name);
}

/* ---- SSE writers ---- */

static void
out_close(struct mhout *o)
{
	if (o->x != NULL) {
		http_stream_end(o->x);
		o->x = NULL;
		o->mh->nstreams--;
	}
}

static void
out_maybe_free(struct mhout *o)
{
	if (o->pending > 0 || !o->final)
		return;
	out_close(o);
	TAILQ_REMOVE(&o->mh->outs, o, entry);
	free(o);
}

struct append {
	struct mhout	*o;
	char		*msg;
	size_t		 len;
	int		 final;
};

static void
write_event(struct http_exchange **xp, long long stream, long long ev,
    const char *msg, size_t len, struct mh *mh)
{
	char id[48];

	if (*xp == NULL)
		return;
	if (ev > 0)
		snprintf(id, sizeof(id), "%lld-%lld", stream, ev);
	if (http_stream_event(*xp, NULL, ev > 0 ? id : NULL, msg, len) ==
	    -1 && errno == EPIPE) {
		http_stream_end(*xp);
		*xp = NULL;
		mh->nstreams--;
	}
}

static void
append_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct append *a = arg;
	struct mhout *o = a->o;
	long long ev = 0;

	if (err != NULL)
		log_warnx("mcp: stream %lld: the event log lost a message: %s",
		    o->stream, err->message);
	else if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		ev = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	/* Not logged (the session ended, or the database failed): the
	   client still gets it if it is there, without an id. */
	write_event(&o->x, o->stream, ev, a->msg, a->len, o->mh);
	if (a->final)
		out_close(o);
	o->pending--;
	free(a->msg);
	free(a);
	out_maybe_free(o);
}

static void
out_append(struct mhout *o, const char *msg, size_t len, int final)
{
	struct append *a;
	char sbuf[24];
	const char *p[3];

	if (final)
		o->final = 1;
	if ((a = calloc(1, sizeof(*a))) == NULL ||
	    (a->msg = malloc(len + 1)) == NULL) {
		free(a);
		log_warnx("mcp: stream %lld: out of memory", o->stream);
		return;
	}
	memcpy(a->msg, msg, len);
	a->msg[len] = '\0';
	a->len = len;
	a->o = o;
	a->final = final;
	snprintf(sbuf, sizeof(sbuf), "%lld", o->stream);
	p[0] = sbuf;
	p[1] = a->msg;
	p[2] = final ? "true" : "false";
	o->pending++;
	if (db_exec(o->mh, "mh_event", 3, p, append_done, a) == NULL) {
		o->pending--;
		write_event(&o->x, o->stream, 0, a->msg, len, o->mh);
		if (final)
			out_close(o);
		free(a->msg);
		free(a);
	}
}

/* ---- sessions in memory ---- */

static void
req_free(struct mhreq *q)
{
	free(q->id_raw);
	json_decref(q->progress);
	free(q->answer);
	free(q);
}

/* Deliver a message of the request; final: its response. */
static void
req_deliver(struct mhses *s, struct mhreq *q, const char *msg, size_t len,
    int final)
{
	const char *h[] = { "Content-Type: application/json",
	    "Cache-Control: no-store", NULL };

	switch (q->mode) {
	case REQ_JSON:
		if (final) {
			http_respond(q->x, 200, h, msg, len);
			q->x = NULL;
		}
		break;
	case REQ_CAPTURE:
		if (final && (q->answer = malloc(len + 1)) != NULL) {
			memcpy(q->answer, msg, len);
			q->answer[len] = '\0';
			q->answer_len = len;
		}
		break;
	case REQ_SSE:
		out_append(q->out, msg, len, final);
		break;
	}
	if (final) {
		TAILQ_REMOVE(&s->reqs, q, entry);
		if (q->mode != REQ_CAPTURE)
			req_free(q);
	}
}

static struct mhreq *
req_by_id(struct mhses *s, const char *id, size_t len)
{
	struct mhreq *q;

	TAILQ_FOREACH(q, &s->reqs, entry)
		if (strlen(q->id_raw) == len && memcmp(q->id_raw, id, len) == 0)
			return q;
	return NULL;
}

static struct mhreq *
req_by_progress(struct mhses *s, const char *msg, size_t len)
{
	json_t *root = json_loadb(msg, len, 0, NULL), *tok;
	struct mhreq *q, *found = NULL;

	tok = json_object_get(json_object_get(root, "params"),
	    "progressToken");
	TAILQ_FOREACH(q, &s->reqs, entry)
		if (tok != NULL && q->progress != NULL &&
		    json_equal(q->progress, tok)) {
			found = q;
			break;
		}
	json_decref(root);
	return found;
}

/*
 * The session's output: a response to the request with its id, a
 * progress notification to the request with its token, anything else
 * (tools/list_changed) to the session's GET stream, wherever it is held.
 */
static int
ses_send(void *arg, const char *msg, size_t len, int response)
{
	struct mhses *s = arg;
	struct jscan_top top;
	struct mhreq *q;
	const char *p[2];
	char *copy;

	if (len > s->mh->max_message) {
		errno = EMSGSIZE;
		return -1;
	}
	if (response) {
		if (jscan_text(msg, len, &top) != JSCAN_OK || top.id == NULL ||
		    (q = req_by_id(s, top.id, top.id_len)) == NULL)
			return 0;	/* nobody asked: dropped */
		req_deliver(s, q, msg, len, 1);
		return 0;
	}
	if (memmem(msg, len, "\"notifications/progress\"", 24) != NULL) {
		if ((q = req_by_progress(s, msg, len)) != NULL)
			req_deliver(s, q, msg, len, 0);
		return 0;
	}
	if (s->log_to != NULL) {
		req_deliver(s, s->log_to, msg, len, 0);
		return 0;
	}
	if (s->mh->db == NULL || (copy = strndup(msg, len)) == NULL)
		return 0;
	p[0] = s->sid;
	p[1] = copy;
	fire(s->mh, "mh_get_event", 2, p);
	free(copy);
	return 0;
}

static struct mhses *
ses_find(struct mh *mh, const char *sid)
{
	struct mhses *s;

	TAILQ_FOREACH(s, &mh->sessions, entry)
		if (!s->ended && strcmp(s->sid, sid) == 0)
			return s;
	return NULL;
}

static struct mhses *
ses_new(struct mh *mh, const char *sid)
{
	struct mcp_session_opts so = {
		.name = "afu9",
		.title = "afu9 orchestrator",
		.version = AFU9_VERSION,
		.instructions = "afu9 gateway: the tools of every configured MCP "
		    "server, named server.tool (for example github.getIssue).",
		.cursor_salt = salt_of(sid),
	};
	struct mcp_session_io io = { ses_send, NULL, NULL };
	struct mhses *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	io.arg = s;
	s->mh = mh;
	snprintf(s->sid, sizeof(s->sid), "%s", sid);
	snprintf(s->level, sizeof(s->level), "info");
	TAILQ_INIT(&s->reqs);
	if ((s->ses = mcp_session_new(&so, &io)) == NULL ||
	    (s->gt = gateway_tools_new(mh->r, s->ses, mh->bare)) == NULL) {
		mcp_session_free(s->ses);
		free(s);
		return NULL;
	}
	s->used = now_s(mh);
	TAILQ_INSERT_TAIL(&mh->sessions, s, entry);
	mh->nsessions++;
	return s;
}

static void
ses_free(struct mhses *s)
{
	struct mhreq *q;

	TAILQ_REMOVE(&s->mh->sessions, s, entry);
	s->mh->nsessions--;
	/* calls cancelled: their hooks cancel the router calls */
	mcp_session_free(s->ses);
	gateway_tools_free(s->gt);
	while ((q = TAILQ_FIRST(&s->reqs)) != NULL) {
		TAILQ_REMOVE(&s->reqs, q, entry);
		if (q->mode == REQ_JSON && q->x != NULL)
			refuse(q->x, 404, NULL, "the session ended");
		if (q->mode == REQ_SSE)
			/* its stream ends without an answer */
			q->out->final = 1, out_maybe_free(q->out);
		req_free(q);
	}
	if (s->get != NULL) {
		s->get->s = NULL;
		fol_end(s->get);
	}
	free(s);
}

static void
ses_release(struct mhses *s)
{
	if (--s->refs == 0 && s->ended)
		ses_free(s);
}

/* The session ended (DELETE, expiry, here or on another task). */
static void
ses_end(struct mhses *s)
{
	s->ended = 1;
	if (s->refs == 0)
		ses_free(s);
	else
		mcp_session_cancel_all(s->ses);
}

/* ---- cancellation ---- */

/* The tools/call of s in flight on this task whose id is id (a JSON
   value, as notifications/cancelled names it); NULL. */
static struct mhreq *
req_by_value(struct mhses *s, const json_t *id)
{
	struct mhreq *q;

	TAILQ_FOREACH(q, &s->reqs, entry)
		if (q->mode == REQ_SSE && rpc_id_equal(q->id_raw, id))
			return q;
	return NULL;
}

/*
 * Cancel q, a call of s running on this task, with msg (a
 * notifications/cancelled naming it).  The session cancels the call (its
 * hook cancels the router call, the child gets notifications/cancelled)
 * and sends no response, as MCP asks; so q is done here: its SSE
 * response ends without one, and its stream is marked done, so that it
 * no longer counts against session_requests and the task following it,
 * if another, ends its copy too.
 */
static void
ses_cancel(struct mhses *s, struct mhreq *q, const char *msg, size_t len)
{
	struct mhreq *t;
	struct mhout *o;
	char sb[24];
	const char *p[1];

	s->used = now_s(s->mh);
	mcp_session_input(s->ses, msg, len);
	TAILQ_FOREACH(t, &s->reqs, entry)
		if (t == q)
			break;
	if (t == NULL)
		return;		/* answered meanwhile */
	TAILQ_REMOVE(&s->reqs, q, entry);
	o = q->out;
	req_free(q);
	if (s->mh->db != NULL) {
		/* after the appends before it: pgq runs them in order */
		snprintf(sb, sizeof(sb), "%lld", o->stream);
		p[0] = sb;
		fire(s->mh, "mh_stream_cancel", 1, p);
	}
	o->final = 1;
	out_maybe_free(o);
}

/*
 * notifications/cancelled for a call in flight on another task (a
 * session is served by any task, so the cancellation may reach one that
 * is not running the call): NOTIFY afu9_mcp "c <session> <request id>",
 * and the task running it cancels it (on_notify).  The request id is
 * sent as compact JSON; rpc_id_equal() matches it however the client
 * spelled it.  A cancellation that reaches the running task before the
 * call itself did (the call's stream not yet open) is lost, as MCP
 * allows: it is advisory.
 */
static void
cancel_elsewhere(struct mhses *s, const json_t *id)
{
	const char *p[2];
	char *text;

	if ((!json_is_integer(id) && !json_is_string(id)) || s->mh->db == NULL)
		return;
	if ((text = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT)) == NULL)
		return;
	/* the bound of mcp_streams.request_id; NOTIFY payloads are < 8000 */
	if (strlen(text) <= 1024) {
		p[0] = s->sid;
		p[1] = text;
		fire(s->mh, "mh_cancel", 2, p);
	}
	free(text);
}

/* NOTIFY "c <session> <request id>": cancel it if it runs here. */
static void
cancel_notified(struct mh *mh, const char *sid, const char *idtext)
{
	struct mhses *s;
	struct mhreq *q;
	json_t *id, *msg;
	char *text;

	if ((s = ses_find(mh, sid)) == NULL)
		return;
	if ((id = json_loads(idtext, JSON_DECODE_ANY, NULL)) == NULL)
		return;
	if ((q = req_by_value(s, id)) == NULL) {
		json_decref(id);
		return;
	}
	msg = json_pack("{s:s, s:s, s:{s:o}}", "jsonrpc", "2.0", "method",
	    "notifications/cancelled", "params", "requestId", id);
	if (msg == NULL || (text = json_dumps(msg, JSON_COMPACT)) == NULL) {
		json_decref(msg);
		log_warnx("mcp: a cancellation: out of memory");
		return;
	}
	ses_cancel(s, q, text, strlen(text));
	free(text);
	json_decref(msg);
}

/* A notifications/cancelled from the client (the session is known). */
static void
post_cancel(struct mhctx *c)
{
	const json_t *id = json_object_get(c->m.params, "requestId");
	struct mhreq *q;

	if (id != NULL && (q = req_by_value(c->s, id)) != NULL) {
		ses_cancel(c->s, q, c->body, c->body_len);
		return;
	}
	ses_input(c, NULL);	/* nothing of it here: ignored */
	if (id != NULL)
		cancel_elsewhere(c->s, id);
}

/* ---- followers (resumed streams, GET streams) ---- */

static void
fol_end(struct mhfol *f)
{
	if (f->dead)
		return;
	f->dead = 1;
	pgq_op_forget(f->op);
	f->op = NULL;
	if (f->x != NULL) {
		http_stream_end(f->x);
		f->x = NULL;
		f->mh->nstreams--;
	}
	if (f->is_get && f->s != NULL && f->s->get == f)
		f->s->get = NULL;
}

static void
fol_reap(struct mh *mh)
{
	struct mhfol *f, *t;

	TAILQ_FOREACH_SAFE(f, &mh->fols, entry, t)
		if (f->dead) {
			TAILQ_REMOVE(&mh->fols, f, entry);
			free(f);
		}
}

static void
fetch_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhfol *f = arg;
	int i, n, done = 0, got = 0;
	long long ev;

	f->op = NULL;
	if (err != NULL) {
		log_warnx("mcp: stream %lld: %s", f->stream, err->message);
		f->again = 1;	/* the next NOTIFY or heartbeat retries */
		return;
	}
	n = PQntuples(res);
	if (n == 0) {
		fol_end(f);	/* the session ended */
		return;
	}
	for (i = 0; i < n && f->x != NULL; i++) {
		done = PQgetvalue(res, i, 0)[0] == 't';
		if (PQgetisnull(res, i, 2))
			continue;
		ev = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		got++;
		write_event(&f->x, f->stream, ev, PQgetvalue(res, i, 3),
		    (size_t)PQgetlength(res, i, 3), f->mh);
		f->last = ev;
	}
	if (f->x == NULL) {
		fol_end(f);
		return;
	}
	if (got == FETCH_MAX || f->again) {
		f->again = 0;
		fol_fetch(f);
	} else if (done && !f->is_get)
		fol_end(f);
}

static void
fol_fetch(struct mhfol *f)
{
	char sb[24], lb[24];
	const char *p[3];

	if (f->dead)
		return;
	if (f->op != NULL) {
		f->again = 1;
		return;
	}
	snprintf(sb, sizeof(sb), "%lld", f->stream);
	snprintf(lb, sizeof(lb), "%lld", f->last);
	p[0] = f->sid;
	p[1] = sb;
	p[2] = lb;
	f->op = db_exec(f->mh, "mh_fetch", 3, p, fetch_done, f);
}

static void
fol_orphan(struct mhfol *f)
{
	char sb[24];
	const char *p[2];

	snprintf(sb, sizeof(sb), "%lld", f->stream);
	p[0] = sb;
	p[1] = orphan_msg;
	fire(f->mh, "mh_orphan", 2, p);
}

/* Follow stream c->stream from c->last on c->x (taken from c). */
static struct mhfol *
fol_start(struct mhctx *c, int is_get, const char *prime)
{
	const char *h[] = { "X-Accel-Buffering: no", NULL };
	struct mhfol *f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		refuse(c->x, 500, NULL, "out of memory");
		c->x = NULL;
		return NULL;
	}
	if (http_stream_sse(c->x, h) == -1) {
		http_stream_end(c->x);
		c->x = NULL;
		free(f);
		return NULL;
	}
	f->mh = c->mh;
	f->x = c->x;
	c->x = NULL;
	c->mh->nstreams++;
	snprintf(f->sid, sizeof(f->sid), "%s", c->sid);
	f->stream = c->stream;
	f->last = c->last;
	f->is_get = is_get;
	TAILQ_INSERT_TAIL(&c->mh->fols, f, entry);
	if (prime != NULL)
		(void)http_stream_write(f->x, prime, strlen(prime));
	return f;
}

/* ---- POST ---- */

/* Hand the message to the session; for a request, where its answer
   goes. */
static void
ses_input(struct mhctx *c, struct mhreq *q)
{
	struct mhses *s = c->s;
	const char *p[2];

	s->used = now_s(c->mh);
	if (q != NULL)
		TAILQ_INSERT_TAIL(&s->reqs, q, entry);
	mcp_session_input(s->ses, c->body, c->body_len);
	if (strcmp(mcp_session_log_level(s->ses), s->level) != 0) {
		snprintf(s->level, sizeof(s->level), "%s",
		    mcp_session_log_level(s->ses));
		p[0] = s->sid;
		p[1] = s->level;
		fire(c->mh, "mh_ses_level", 2, p);
	}
}

static struct mhreq *
req_new(struct mhctx *c, enum req_mode mode)
{
	struct mhreq *q;
	json_t *meta;

	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->id_raw = strdup(c->m.id_raw)) == NULL) {
		free(q);
		return NULL;
	}
	q->mode = mode;
	meta = json_object_get(c->m.params, "_meta");
	if ((q->progress = json_object_get(meta, "progressToken")) != NULL)
		json_incref(q->progress);
	return q;
}

static void
stream_opened(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	const char *h[] = { "X-Accel-Buffering: no", NULL };
	struct mhout *o = NULL;
	struct mhreq *q;
	char prime[96];

	if (err != NULL) {
		db_refuse(c, err);
		ctx_free(c);
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		refuse(c->x, 429, "Retry-After: 1", "this session has %u "
		    "requests in flight already", c->mh->session_requests);
		ctx_free(c);
		return;
	}
	if (c->s->ended) {
		refuse(c->x, 404, NULL, "the session ended");
		ctx_free(c);
		return;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL ||
	    (q = req_new(c, REQ_SSE)) == NULL) {
		free(o);
		refuse(c->x, 500, NULL, "out of memory");
		ctx_free(c);
		return;
	}
	o->mh = c->mh;
	o->stream = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	q->out = o;
	if (gateway_tools_server(c->s->gt, json_string_value(json_object_get(
	    c->m.params, "name")) ? json_string_value(json_object_get(
	    c->m.params, "name")) : "", q->server, sizeof(q->server)) == NULL)
		q->server[0] = '\0';
	TAILQ_INSERT_TAIL(&c->mh->outs, o, entry);
	if (http_stream_sse(c->x, h) == -1)
		http_stream_end(c->x);	/* gone: the call runs all the same */
	else {
		o->x = c->x;
		c->mh->nstreams++;
		/* the priming event: an id to resume from, and how soon */
		snprintf(prime, sizeof(prime), "id: %lld-0\nretry: %d\n"
		    "data: \n\n", o->stream, MCPHTTP_RETRY_MS);
		(void)http_stream_write(o->x, prime, strlen(prime));
	}
	c->x = NULL;
	ses_input(c, q);
	ctx_free(c);
}

/* The session is known: serve the message. */
static void
post_serve(struct mhctx *c)
{
	struct mh *mh = c->mh;
	struct mhreq *q;
	char lim[24];
	const char *p[3];

	if (c->m.kind != RPC_REQUEST) {
		http_respond(c->x, 202, NULL, NULL, 0);
		c->x = NULL;
		if (c->m.kind == RPC_NOTIFICATION && strcmp(c->m.method,
		    "notifications/cancelled") == 0)
			post_cancel(c);
		else
			ses_input(c, NULL);
		ctx_free(c);
		return;
	}
	if (req_by_id(c->s, c->m.id_raw, strlen(c->m.id_raw)) != NULL) {
		refuse(c->x, 400, NULL, "a request with this id is in flight "
		    "already");
		ctx_free(c);
		return;
	}
	if (strcmp(c->m.method, "tools/call") != 0) {
		if ((q = req_new(c, REQ_JSON)) == NULL) {
			refuse(c->x, 500, NULL, "out of memory");
			ctx_free(c);
			return;
		}
		q->x = c->x;
		c->x = NULL;
		ses_input(c, q);
		ctx_free(c);
		return;
	}
	if (mh->nstreams >= mh->max_streams) {
		refuse(c->x, 503, "Retry-After: 1", "this server has %u event "
		    "streams open already", mh->max_streams);
		ctx_free(c);
		return;
	}
	snprintf(lim, sizeof(lim), "%u", mh->session_requests);
	p[0] = c->sid;
	p[1] = c->m.id_raw;
	p[2] = lim;
	if (db_exec(mh, "mh_stream_open", 3, p, stream_opened, c) == NULL) {
		refuse(c->x, 503, "Retry-After: 1", "the database is busy");
		ctx_free(c);
	}
}

/* mh_ses_get answered: the session exists (a row) or not. */
static void
ses_got(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	struct mhses *s;

	if (err != NULL) {
		db_refuse(c, err);
		ctx_free(c);
		return;
	}
	if (PQntuples(res) != 1) {
		if (c->s != NULL && !c->s->ended)
			ses_end(c->s);	/* expired or ended elsewhere */
		refuse(c->x, 404, NULL, "no such session (it ended or "
		    "expired): initialize a new one");
		ctx_free(c);
		return;
	}
	if (c->s == NULL) {
		if ((s = ses_find(c->mh, c->sid)) == NULL) {
			if ((s = ses_new(c->mh, c->sid)) == NULL) {
				refuse(c->x, 500, NULL, "out of memory");
				ctx_free(c);
				return;
			}
			(void)mcp_session_set_log_level(s->ses,
			    PQgetvalue(res, 0, 0));
			snprintf(s->level, sizeof(s->level), "%s",
			    mcp_session_log_level(s->ses));
		}
		c->s = s;
		s->refs++;
	}
	if (c->s->ended) {
		refuse(c->x, 404, NULL, "the session ended");
		ctx_free(c);
		return;
	}
	post_serve(c);
}

/* Look the session up (c->sid), then done. */
static void
ses_lookup(struct mhctx *c, pgq_done_fn done)
{
	char idle[24];
	const char *p[3];

	snprintf(idle, sizeof(idle), "%u", c->mh->idle_s);
	p[0] = c->sid;
	p[1] = c->principal;
	p[2] = idle;
	if ((c->s = ses_find(c->mh, c->sid)) != NULL)
		c->s->refs++;
	if (db_exec(c->mh, "mh_ses_get", 3, p, done, c) == NULL) {
		refuse(c->x, 503, "Retry-After: 1", "the database is busy");
		ctx_free(c);
	}
}

static void
ses_opened(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	struct mhreq *q = c->rq;
	char hdr[64];
	const char *h[] = { "Content-Type: application/json",
	    "Cache-Control: no-store", hdr, NULL };

	c->rq = NULL;
	if (err != NULL || PQntuples(res) != 1 ||
	    PQgetvalue(res, 0, 0)[0] != 't') {
		if (err != NULL)
			db_refuse(c, err);
		else
			refuse(c->x, 503, "Retry-After: 5", "this server has "
			    "%u sessions open already", c->mh->max_sessions);
		ses_end(c->s);
		req_free(q);
		ctx_free(c);
		return;
	}
	c->mh->opened++;
	snprintf(hdr, sizeof(hdr), "Mcp-Session-Id: %s", c->sid_text);
	http_respond(c->x, 200, h, q->answer, q->answer_len);
	c->x = NULL;
	req_free(q);
	ctx_free(c);
}

/* string member of clientInfo, if short enough to store */
static const char *
client_field(const json_t *params, const char *name)
{
	const char *v = json_string_value(json_object_get(json_object_get(
	    params, "clientInfo"), name));

	return v != NULL && strlen(v) <= CLIENT_FIELD_MAX ? v : NULL;
}

static void
post_initialize(struct mhctx *c)
{
	unsigned char raw[SID_BYTES], d[crypto_generichash_BYTES];
	char idle[24], max[24];
	const char *p[7];
	struct mhreq *q;

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(c->sid_text, sizeof(c->sid_text), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_generichash(d, sizeof(d), (const unsigned char *)c->sid_text,
	    SID_LEN, NULL, 0);
	sodium_bin2hex(c->sid, sizeof(c->sid), d, sizeof(d));
	if ((c->s = ses_new(c->mh, c->sid)) == NULL ||
	    (q = req_new(c, REQ_CAPTURE)) == NULL) {
		if (c->s != NULL)
			ses_free(c->s);
		c->s = NULL;
		refuse(c->x, 500, NULL, "out of memory");
		ctx_free(c);
		return;
	}
	c->s->refs++;
	ses_input(c, q);
	if (q->answer == NULL || strstr(q->answer, "\"result\"") == NULL) {
		/* refused (bad params): the error is the answer, no session */
		const char *h[] = { "Content-Type: application/json", NULL };

		if (q->answer != NULL)
			http_respond(c->x, 200, h, q->answer, q->answer_len);
		else
			refuse(c->x, 500, NULL, "initialize was not answered");
		c->x = NULL;
		if (TAILQ_FIRST(&c->s->reqs) == q)
			TAILQ_REMOVE(&c->s->reqs, q, entry);
		req_free(q);
		ses_end(c->s);
		ctx_free(c);
		return;
	}
	c->rq = q;
	snprintf(idle, sizeof(idle), "%u", c->mh->idle_s);
	snprintf(max, sizeof(max), "%u", c->mh->max_sessions);
	p[0] = c->sid;
	p[1] = c->principal;
	p[2] = mcp_session_version(c->s->ses);
	p[3] = client_field(c->m.params, "name");
	p[4] = client_field(c->m.params, "version");
	p[5] = idle;
	p[6] = max;
	if (db_exec(c->mh, "mh_ses_open", 7, p, ses_opened, c) == NULL) {
		refuse(c->x, 503, "Retry-After: 1", "the database is busy");
		req_free(q);
		c->rq = NULL;
		ses_end(c->s);
		ctx_free(c);
	}
}

static int
is_json_type(const struct http_request *req)
{
	const struct http_header *h;
	size_t n;

	if (header_count(req, "content-type", &h) != 1)
		return 0;
	for (n = 0; n < h->value.len && h->value.p[n] != ';'; n++)
		;
	while (n > 0 && h->value.p[n - 1] == ' ')
		n--;
	return n == 16 && strncasecmp(h->value.p, "application/json", 16) == 0;
}

static void
post_authed(const struct http_request *req, struct http_exchange *x,
    const struct auth_result *ar, void *arg)
{
	struct mh *mh = arg;
	struct rpc_err e;
	struct mhctx *c;
	char sid[DIGEST_HEX + 1];
	int has;

	if (!is_json_type(req)) {
		refuse(x, 415, NULL, "a POST to /mcp is one JSON-RPC message "
		    "with Content-Type: application/json");
		return;
	}
	if (!accepts(req, "application/json") ||
	    !accepts(req, "text/event-stream")) {
		refuse(x, 406, NULL, "a POST to /mcp must accept both "
		    "application/json and text/event-stream");
		return;
	}
	if (req->body_len > mh->max_message) {
		refuse(x, 413, NULL, "a message is at most %zu bytes",
		    mh->max_message);
		return;
	}
	if (check_version(mh, req, x) == -1)
		return;
	if ((c = ctx_new(mh, x, req)) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	if (rpc_parse(c->body ? c->body : "", c->body_len, &c->m, &e) == -1) {
		const char *h[] = { "Content-Type: application/json", NULL };
		char *b;
		size_t len;

		if ((b = rpc_build_error(e.id_raw, e.code, e.message, NULL, &len))
		    !=
		    NULL)
			http_respond(x, 400, h, b, len);
		else
			http_respond(x, 500, NULL, "out of memory\n", 14);
		free(b);
		rpc_err_clear(&e);
		c->x = NULL;
		ctx_free(c);
		return;
	}
	c->have_msg = 1;
	snprintf(c->principal, sizeof(c->principal), "%s", ar->name);
	if (c->m.kind == RPC_REQUEST && strcmp(c->m.method, "tools/call") ==
	    0 && ar->scope < AUTH_RUN) {
		mh->refused++;
		refuse(x, 403, "WWW-Authenticate: Bearer realm=\"afu9\", "
		    "error=\"insufficient_scope\", scope=\"run\"", "calling "
		    "tools needs a token of scope run");
		c->x = NULL;
		ctx_free(c);
		return;
	}
	has = session_digest(mh, req, sid);
	if (c->m.kind == RPC_REQUEST && strcmp(c->m.method, "initialize") ==
	    0) {
		if (has != 0) {
			refuse(x, 400, NULL, "initialize opens a new session: "
			    "send it without Mcp-Session-Id");
			c->x = NULL;
			ctx_free(c);
			return;
		}
		if (db_down(mh, x)) {
			c->x = NULL;
			ctx_free(c);
			return;
		}
		post_initialize(c);
		return;
	}
	if (has == 0) {
		refuse(x, 400, NULL, "Mcp-Session-Id is required (initialize "
		    "first)");
	} else if (has < 0) {
		refuse(x, 404, NULL, "no such session: initialize a new one");
	} else if (!db_down(mh, x)) {
		snprintf(c->sid, sizeof(c->sid), "%s", sid);
		ses_lookup(c, ses_got);
		return;
	}
	c->x = NULL;
	ctx_free(c);
}

static void
h_post(const struct http_request *req, struct http_exchange *x, void *arg)
{
	authorise(arg, req, x, post_authed);
}

/* ---- GET ---- */

static void
get_opened(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	struct mhfol *f;
	char prime[96];

	if (err != NULL) {
		db_refuse(c, err);
		ctx_free(c);
		return;
	}
	if (PQntuples(res) != 1 || c->s->ended) {
		refuse(c->x, 404, NULL, "no such session (it ended or "
		    "expired): initialize a new one");
		ctx_free(c);
		return;
	}
	if (c->s->get != NULL)	/* the one before on this task */
		fol_end(c->s->get);
	c->stream = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (c->last == 0)	/* a new stream: what follows from now */
		c->last = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(prime, sizeof(prime), "id: %lld-%lld\nretry: %d\ndata: \n\n",
	    c->stream, c->last, MCPHTTP_RETRY_MS);
	if ((f = fol_start(c, 1, prime)) != NULL) {
		f->s = c->s;
		c->s->get = f;
		fol_fetch(f);
	}
	ctx_free(c);
}

static void
get_claim(struct mhctx *c)
{
	const char *p[1] = { c->sid };

	if (db_exec(c->mh, "mh_get_open", 1, p, get_opened, c) == NULL) {
		refuse(c->x, 503, "Retry-After: 1", "the database is busy");
		ctx_free(c);
	}
}

/* The first replay of a resumed stream: it exists in this session? */
static void
resume_fetched(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	struct mhfol *f;

	if (err != NULL) {
		db_refuse(c, err);
		ctx_free(c);
		return;
	}
	if (PQntuples(res) == 0) {
		refuse(c->x, 400, NULL, "Last-Event-ID names no stream of this "
		    "session");
		ctx_free(c);
		return;
	}
	if (PQgetvalue(res, 0, 1)[0] == 't') {
		get_claim(c);	/* the GET stream, resumed */
		return;
	}
	c->mh->resumed++;
	if ((f = fol_start(c, 0, NULL)) != NULL) {
		/* the replay again, now that the stream has begun */
		fol_orphan(f);
		fol_fetch(f);
	}
	ctx_free(c);
}

static void
get_got(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	char sb[24], lb[24];
	const char *p[3];

	if (err != NULL || PQntuples(res) != 1) {
		if (err == NULL)
			refuse(c->x, 404, NULL, "no such session (it ended or "
			    "expired): initialize a new one");
		else
			db_refuse(c, err);
		ctx_free(c);
		return;
	}
	if (c->s == NULL) {
		if ((c->s = ses_find(c->mh, c->sid)) == NULL &&
		    (c->s = ses_new(c->mh, c->sid)) == NULL) {
			refuse(c->x, 500, NULL, "out of memory");
			ctx_free(c);
			return;
		}
		(void)mcp_session_set_log_level(c->s->ses,
		    PQgetvalue(res, 0, 0));
		snprintf(c->s->level, sizeof(c->s->level), "%s",
		    mcp_session_log_level(c->s->ses));
		c->s->refs++;
	}
	c->s->used = now_s(c->mh);
	if (c->stream == 0) {
		get_claim(c);
		return;
	}
	snprintf(sb, sizeof(sb), "%lld", c->stream);
	snprintf(lb, sizeof(lb), "%lld", c->last);
	p[0] = c->sid;
	p[1] = sb;
	p[2] = lb;
	if (db_exec(c->mh, "mh_fetch", 3, p, resume_fetched, c) == NULL) {
		refuse(c->x, 503, "Retry-After: 1", "the database is busy");
		ctx_free(c);
	}
}

/* "<stream>-<event>", both decimal, without sign or excess. */
static int
parse_event_id(const char *p, size_t n, long long *stream, long long *ev)
{
	char buf[48], *dash, *end;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789-") != n || (dash = strchr(buf, '-')) ==
	    NULL || dash == buf || dash[1] == '\0' || dash - buf > 18 ||
	    strlen(dash + 1) > 18)
		return -1;
	*dash = '\0';
	*stream = strtoll(buf, &end, 10);
	if (*end != '\0' || *stream <= 0)
		return -1;
	*ev = strtoll(dash + 1, &end, 10);
	return *end == '\0' && *ev >= 0 ? 0 : -1;
}

static void
get_authed(const struct http_request *req, struct http_exchange *x,
    const struct auth_result *ar, void *arg)
{
	struct mh *mh = arg;
	const struct http_header *h;
	struct mhctx *c;
	char sid[DIGEST_HEX + 1];
	size_t n;
	int has;

	if (!accepts(req, "text/event-stream")) {
		refuse(x, 406, NULL, "a GET of /mcp must accept "
		    "text/event-stream");
		return;
	}
	if (check_version(mh, req, x) == -1)
		return;
	if ((has = session_digest(mh, req, sid)) <= 0) {
		if (has == 0)
			refuse(x, 400, NULL, "Mcp-Session-Id is required "
			    "(initialize first)");
		else
			refuse(x, 404, NULL, "no such session: initialize a "
			    "new one");
		return;
	}
	if (mh->nstreams >= mh->max_streams) {
		refuse(x, 503, "Retry-After: 1", "this server has %u event "
		    "streams open already", mh->max_streams);
		return;
	}
	if (db_down(mh, x))
		return;
	if ((c = ctx_new(mh, x, req)) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	snprintf(c->principal, sizeof(c->principal), "%s", ar->name);
	if ((n = header_count(req, "last-event-id", &h)) > 0 && (n > 1 ||
	    parse_event_id(h->value.p, h->value.len, &c->stream, &c->last) ==
	    -1)) {
		refuse(x, 400, NULL, "Last-Event-ID is not an event id of "
		    "this server");
		c->x = NULL;
		ctx_free(c);
		return;
	}
	c->is_get = 1;
	ses_lookup(c, get_got);
}

static void
h_get(const struct http_request *req, struct http_exchange *x, void *arg)
{
	if (req->method.len == 4 && memcmp(req->method.p, "HEAD", 4) == 0) {
		const char *al[] = { "Allow: GET, POST, DELETE", NULL };

		http_respond(x, 405, al, NULL, 0);
		return;
	}
	authorise(arg, req, x, get_authed);
}

/* ---- DELETE ---- */

static void
del_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mhctx *c = arg;
	struct mhses *s;

	if (err != NULL)
		db_refuse(c, err);
	else if (PQntuples(res) != 1)
		refuse(c->x, 404, NULL, "no such session");
	else {
		if ((s = ses_find(c->mh, c->sid)) != NULL)
			ses_end(s);
		http_respond(c->x, 204, NULL, NULL, 0);
	}
	c->x = NULL;
	ctx_free(c);
}

static void
delete_authed(const struct http_request *req, struct http_exchange *x,
    const struct auth_result *ar, void *arg)
{
	struct mh *mh = arg;
	struct mhctx *c;
	char sid[DIGEST_HEX + 1];
	const char *p[2];
	int has;

	if (check_version(mh, req, x) == -1)
		return;
	if ((has = session_digest(mh, req, sid)) <= 0) {
		if (has == 0)
			refuse(x, 400, NULL, "Mcp-Session-Id is required");
		else
			refuse(x, 404, NULL, "no such session");
		return;
	}
	if (db_down(mh, x))
		return;
	if ((c = ctx_new(mh, x, req)) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	snprintf(c->sid, sizeof(c->sid), "%s", sid);
	snprintf(c->principal, sizeof(c->principal), "%s", ar->name);
	p[0] = c->sid;
	p[1] = c->principal;
	if (db_exec(mh, "mh_ses_end", 2, p, del_done, c) == NULL) {
		refuse(x, 503, "Retry-After: 1", "the database is busy");
		c->x = NULL;
		ctx_free(c);
	}
}

static void
h_delete(const struct http_request *req, struct http_exchange *x, void *arg)
{
	authorise(arg, req, x, delete_authed);
}

/* ---- RFC 9728 metadata ---- */

static void
h_metadata(const struct http_request *req, struct http_exchange *x,
    void *arg)
{
	struct mh *mh = arg;
	const char *h[] = { "Content-Type: application/json",
	    "Cache-Control: max-age=300", NULL };
	char url[600], *body;
	json_t *m;

	m = json_pack("{s:s, s:[s], s:[s,s,s], s:s}",
	    "resource", resource_url(mh, req, url, sizeof(url)),
	    "bearer_methods_supported", "header",
	    "scopes_supported", "read", "run", "admin",
	    "resource_name", "afu9");
	if (m != NULL && json_array_size(mh->auth_servers) > 0)
		json_object_set(m, "authorization_servers", mh->auth_servers);
	if (m == NULL || (body = json_dumps(m, JSON_COMPACT)) == NULL) {
		json_decref(m);
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	http_respond(x, 200, h, body, strlen(body));
	free(body);
	json_decref(m);
}

/* ---- notifications, heartbeat, sweep ---- */

static void
on_notify(struct pgq *db, const char *channel, const char *payload,
    void *arg)
{
	struct mh *mh = arg;
	struct mhfol *f;
	struct mhses *s;
	long long id;

	if (channel == NULL || payload == NULL) {
		/* reconnected: anything may have been missed */
		TAILQ_FOREACH(f, &mh->fols, entry)
			fol_fetch(f);
		return;
	}
	if (payload[0] == 's' && payload[1] == ' ') {
		id = strtoll(payload + 2, NULL, 10);
		TAILQ_FOREACH(f, &mh->fols, entry)
			if (f->stream == id)
				fol_fetch(f);
	} else if (payload[0] == 'g' && payload[1] == ' ' &&
	    strlen(payload) > DIGEST_HEX + 3 && payload[DIGEST_HEX + 2] == ' ') {
		/* another task opened the session's GET stream: ours ends */
		if (strtol(payload + DIGEST_HEX + 3, NULL, 10) != mh->pid)
			TAILQ_FOREACH(f, &mh->fols, entry)
				if (f->is_get && strncmp(f->sid, payload + 2,
				    DIGEST_HEX) == 0)
					fol_end(f);
	} else if (payload[0] == 'c' && payload[1] == ' ' &&
	    strlen(payload) > DIGEST_HEX + 3 && payload[DIGEST_HEX + 2] == ' ') {
		char sid[DIGEST_HEX + 1];

		memcpy(sid, payload + 2, DIGEST_HEX);
		sid[DIGEST_HEX] = '\0';
		cancel_notified(mh, sid, payload + DIGEST_HEX + 3);
	} else if (payload[0] == 'x' && payload[1] == ' ') {
		if ((s = ses_find(mh, payload + 2)) != NULL)
			ses_end(s);
		TAILQ_FOREACH(f, &mh->fols, entry)
			if (strcmp(f->sid, payload + 2) == 0)
				fol_end(f);
	}
	fol_reap(mh);
}

static void
pid_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct mh *mh = arg;

	if (err == NULL && PQntuples(res) == 1)
		mh->pid = strtol(PQgetvalue(res, 0, 0), NULL, 10);
}

/* Up again: which backend we are (the GET streams' NOTIFY names it). */
static void
on_state(struct pgq *db, int up, void *arg)
{
	struct mh *mh = arg;

	if (up)
		(void)db_exec(mh, "mh_pid", 0, NULL, pid_done, mh);
}

static void
beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mh *mh = w->data;
	struct mhout *o, *ot;
	struct mhfol *f;
	struct mhses *s, *st;
	char idle[24];
	const char *p[1];
	double now = now_s(mh);

	TAILQ_FOREACH_SAFE(o, &mh->outs, entry, ot)
		if (o->x != NULL && (!http_exchange_alive(o->x) ||
		    (http_stream_comment(o->x, NULL) == -1 && errno == EPIPE)))
			out_close(o);
	TAILQ_FOREACH(f, &mh->fols, entry) {
		if (f->dead)
			continue;
		if (!http_exchange_alive(f->x) || (http_stream_comment(f->x,
		    NULL) == -1 && errno == EPIPE)) {
			fol_end(f);
			continue;
		}
		if (!f->is_get && mh->db != NULL) {
			fol_orphan(f);
			if (f->again)
				fol_fetch(f);
		}
	}
	fol_reap(mh);
	if (mh->db == NULL || !pgq_up(mh->db))
		return;
	TAILQ_FOREACH_SAFE(s, &mh->sessions, entry, st) {
		if (s->ended)
			continue;
		if (s->get != NULL || !TAILQ_EMPTY(&s->reqs) ||
		    mcp_session_active(s->ses) > 0) {
			s->used = now;
			p[0] = s->sid;
			fire(mh, "mh_ses_touch", 1, p);
		} else if (s->refs == 0 && now - s->used > LOCAL_IDLE_S)
			ses_free(s);
	}
	if (now - mh->last_sweep >= SWEEP_S) {
		mh->last_sweep = now;
		snprintf(idle, sizeof(idle), "%u", mh->idle_s);
		p[0] = idle;
		fire(mh, "mh_sweep", 1, p);
	}
}

/* ---- life ---- */

/*
 * A server's log message goes to a remote client only when it can be
 * told whose it is: when one session alone has calls in flight on that
 * server, to the stream of its oldest such call.  Otherwise it is
 * dropped (it stays in afu9's own log): a message not tied to a session
 * must not reach another client.
 */
void
mcphttp_message(struct mcphttp *m, const char *server, const json_t *params)
{
	struct mh *mh = (struct mh *)m;
	struct mhses *s, *one = NULL;
	struct mhreq *q, *first = NULL, *mine;

	if (mh == NULL)
		return;
	TAILQ_FOREACH(s, &mh->sessions, entry) {
		mine = NULL;
		TAILQ_FOREACH(q, &s->reqs, entry)
			if (q->mode == REQ_SSE && strcmp(q->server, server) == 0) {
				mine = q;
				break;
			}
		if (mine == NULL || s->ended)
			continue;
		if (one != NULL)
			return;		/* two sessions: whose is it? */
		one = s;
		first = mine;
	}
	if (one == NULL)
		return;
	one->log_to = first;
	gateway_tools_message(one->gt, server, params);
	one->log_to = NULL;
}

void
mcphttp_sync(struct mcphttp *m)
{
	struct mh *mh = (struct mh *)m;
	struct mhses *s;

	if (mh == NULL)
		return;
	TAILQ_FOREACH(s, &mh->sessions, entry)
		if (!s->ended)
			gateway_tools_sync(s->gt);
}

static void
end_all(struct mh *mh)
{
	struct mhout *o;
	struct mhfol *f;

	TAILQ_FOREACH(o, &mh->outs, entry)
		out_close(o);
	TAILQ_FOREACH(f, &mh->fols, entry)
		fol_end(f);
	fol_reap(mh);
}

void
mcphttp_free(struct mcphttp *m)
{
	struct mh *mh = (struct mh *)m;
	struct mhses *s;
	struct mhout *o;
	size_t i;

	if (mh == NULL)
		return;
	ev_timer_stop(mh->loop, &mh->beat);
	ev_timer_stop(mh->loop, &mh->stop_poll);
	while ((s = TAILQ_FIRST(&mh->sessions)) != NULL)
		ses_free(s);
	end_all(mh);
	/* pgq_free drops the appends still waiting, without callbacks */
	pgq_free(mh->db);
	while ((o = TAILQ_FIRST(&mh->outs)) != NULL) {
		TAILQ_REMOVE(&mh->outs, o, entry);
		free(o);
	}
	for (i = 0; i < mh->nchal; i++) {
		free(mh->chal_host[i]);
		free(mh->chal[i]);
	}
	for (i = 0; i < mh->nhosts; i++)
		free(mh->hosts[i]);
	for (i = 0; i < mh->norigins; i++)
		free(mh->origins[i]);
	free(mh->resource);
	free(mh->bare);
	json_decref(mh->auth_servers);
	free(mh);
}

static int
lists(struct mh *mh, const struct mcphttp_opts *o, char *err, size_t errlen)
{
	char *servers[LIST_MAX];
	size_t n = 0, i;

	if (split_list(o->allowed_hosts ? o->allowed_hosts :
	    "localhost,127.0.0.1,[::1]", mh->hosts, &mh->nhosts,
	    "AFU9_MCP_ALLOWED_HOSTS", err, errlen) == -1 ||
	    split_list(o->allowed_origins ? o->allowed_origins :
	    "http://localhost,http://127.0.0.1,http://[::1],https://localhost,"
	    "https://127.0.0.1,https://[::1]", mh->origins, &mh->norigins,
	    "AFU9_MCP_ALLOWED_ORIGINS", err, errlen) == -1)
		return -1;
	if ((mh->auth_servers = json_array()) == NULL)
		goto nomem;
	if (o->auth_servers != NULL) {
		if (split_list(o->auth_servers, servers, &n,
		    "AFU9_MCP_AUTHORIZATION_SERVERS", err, errlen) == -1)
			return -1;
		for (i = 0; i < n; i++) {
			json_array_append_new(mh->auth_servers,
			    json_string(servers[i]));
			free(servers[i]);
		}
	}
	if ((o->resource != NULL && (mh->resource = strdup(o->resource)) ==
	    NULL) || (o->bare != NULL && (mh->bare = strdup(o->bare)) == NULL))
		goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

struct mcphttp *
mcphttp_new(struct ev_loop *loop, struct http_server *hs, struct router *r,
    const struct mcphttp_opts *o, char *err, size_t errlen)
{
	struct pgq_opts po;
	struct mh *mh;

	if (o == NULL || o->auth == NULL) {
		snprintf(err, errlen, "/mcp needs the token check");
		return NULL;
	}
	if (sodium_init() < 0 || (mh = calloc(1, sizeof(*mh))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mh->loop = loop;
	mh->r = r;
	mh->auth = o->auth;
	TAILQ_INIT(&mh->sessions);
	TAILQ_INIT(&mh->outs);
	TAILQ_INIT(&mh->fols);
	mh->max_sessions = o->max_sessions ? o->max_sessions :
	    MCPHTTP_MAX_SESSIONS;
	mh->session_requests = o->session_requests ? o->session_requests :
	    MCPHTTP_SESSION_REQS;
	mh->max_streams = o->max_streams ? o->max_streams :
	    MCPHTTP_MAX_STREAMS;
	mh->max_message = o->max_message ? o->max_message :
	    MCPHTTP_MAX_MESSAGE;
	mh->idle_s = o->idle_s ? o->idle_s : MCPHTTP_IDLE_S;
	mh->heartbeat_ms = o->heartbeat_ms ? o->heartbeat_ms :
	    MCPHTTP_HEARTBEAT_MS;
	if (lists(mh, o, err, errlen) == -1) {
		mcphttp_free((struct mcphttp *)mh);
		return NULL;
	}
	if (o->conninfo != NULL) {
		memset(&po, 0, sizeof(po));
		po.name = "mcp";
		po.op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms :
		    MCPHTTP_DB_TIMEOUT_MS;
		po.password = o->password;
		po.listen[0] = "afu9_mcp";
		po.notify = on_notify;
		po.state_changed = on_state;
		po.arg = mh;
		if ((mh->db = pgq_new(loop, o->conninfo, &po, err,
		    errlen)) == NULL || pgq_prepare_all(mh->db, stmts,
		    sizeof(stmts) / sizeof(stmts[0]), err, errlen) == -1) {
			mcphttp_free((struct mcphttp *)mh);
			return NULL;
		}
	}
	if (http_server_route(hs, "POST", "/mcp", HTTP_ROUTE_EXACT, h_post,
	    mh) == -1 || http_server_route(hs, "GET", "/mcp",
	    HTTP_ROUTE_EXACT, h_get, mh) == -1 || http_server_route(hs,
	    "DELETE", "/mcp", HTTP_ROUTE_EXACT, h_delete, mh) == -1 ||
	    http_server_route(hs, "GET", "/.well-known/oauth-protected-resource",
	    HTTP_ROUTE_EXACT, h_metadata, mh) == -1 || http_server_route(hs,
	    "GET", "/.well-known/oauth-protected-resource/mcp",
	    HTTP_ROUTE_EXACT, h_metadata, mh) == -1) {
		snprintf(err, errlen, "cannot add the /mcp routes: %s",
		    strerror(errno));
		mcphttp_free((struct mcphttp *)mh);
		return NULL;
	}
	ev_timer_init(&mh->beat, beat_cb, mh->heartbeat_ms / 1000.,
	    mh->heartbeat_ms / 1000.);
	mh->beat.data = mh;
	ev_timer_start(loop, &mh->beat);
	mh->last_sweep = now_s(mh);
	return (struct mcphttp *)mh;
}

/* ---- as a subsystem ---- */

static void
stop_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mh *mh = w->data;

	if (mh->db != NULL && pgq_pending(mh->db) > 0 && pgq_up(mh->db) &&
	    now_s(mh) < mh->stop_until)
		return;
	ev_timer_stop(loop, w);
	end_all(mh);
	mh->stop_done(mh->stop_arg);
}

static void
sub_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	struct mh *mh = self;

	mh->stopping = 1;
	mh->stop_done = done;
	mh->stop_arg = arg;
	mh->stop_until = now_s(mh) + (grace_ms > 0 ? grace_ms : 2000) / 1000.;
	ev_timer_init(&mh->stop_poll, stop_poll_cb, 0., 0.02);
	mh->stop_poll.data = mh;
	ev_timer_start(mh->loop, &mh->stop_poll);
}

static json_t *
sub_status(const void *self)
{
	const struct mh *mh = self;

	return json_pack("{s:s, s:I, s:I}", "database", mh->db == NULL ?
	    "none" : pgq_up(mh->db) ? "up" : "down", "sessions",
	    (json_int_t)mh->nsessions, "streams", (json_int_t)mh->nstreams);
}

static int
sub_metrics(const void *self, struct buf *out)
{
	const struct mh *mh = self;
	char t[1024];
	int n;

	n = snprintf(t, sizeof(t),
	    "# HELP afu9_mcp_sessions MCP sessions this task has in memory.\n"
	    "# TYPE afu9_mcp_sessions gauge\n"
	    "afu9_mcp_sessions %zu\n"
	    "# HELP afu9_mcp_streams SSE responses open on /mcp.\n"
	    "# TYPE afu9_mcp_streams gauge\n"
	    "afu9_mcp_streams %zu\n"
	    "# HELP afu9_mcp_sessions_opened_total Sessions initialized here.\n"
	    "# TYPE afu9_mcp_sessions_opened_total counter\n"
	    "afu9_mcp_sessions_opened_total %" PRIu64 "\n"
	    "# HELP afu9_mcp_resumed_total Streams resumed with Last-Event-ID.\n"
	    "# TYPE afu9_mcp_resumed_total counter\n"
	    "afu9_mcp_resumed_total %" PRIu64 "\n"
	    "# HELP afu9_mcp_refused_total Requests refused by Origin, Host "
	    "or token.\n"
	    "# TYPE afu9_mcp_refused_total counter\n"
	    "afu9_mcp_refused_total %" PRIu64 "\n",
	    mh->nsessions, mh->nstreams, mh->opened, mh->resumed, mh->refused);
	return buf_append(out, t, (size_t)n);
}

void
mcphttp_subsys(struct mcphttp *m, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "mcp";
	out->key = "mcp";
	out->self = m;
	out->stop = sub_stop;
	out->status = sub_status;
	out->metrics = sub_metrics;
}
