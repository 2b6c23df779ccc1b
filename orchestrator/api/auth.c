/*
 * api/auth: bearer tokens checked per request (see auth.h).
 *
 * A check is: the peer's failure budget, then the token's form, then
 * the bootstrap token (no database), then one statement on auth's own
 * pgq connection.  Every way to fail with 401 past the budget costs the
 * same hash and the same statement, and ends in the same answer.
 */
#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
#include "store/pgq.h"
#include "api/auth.h"

/*
 * One statement: the row of a digest, and last_used set when the token
 * is valid and it was last set more than AUTH_LAST_USED_S ago (so a
 * token used a thousand times a minute costs one row write a minute).
 * The digest goes in as text ("\x" and hex) and comes back so, for the
 * constant-time comparison.
 */
#define STR_(x)	#x
#define STR(x)	STR_(x)
static const struct pgq_stmt stmts[] = {
	{ "auth_lookup",
	  "WITH t AS (SELECT id, name, scope, token_hash,"
	  " revoked IS NOT NULL AS is_revoked,"
	  " (expires IS NOT NULL AND expires <= now()) AS is_expired"
	  " FROM api_tokens WHERE token_hash = $1::bytea),"
	  " u AS (UPDATE api_tokens a SET last_used = now() FROM t"
	  " WHERE a.id = t.id AND NOT t.is_revoked AND NOT t.is_expired"
	  " AND (a.last_used IS NULL OR a.last_used < now() - interval '"
	  STR(AUTH_LAST_USED_S) " seconds') RETURNING a.id)"
	  " SELECT name, scope, encode(token_hash, 'hex'), is_revoked,"
	  " is_expired FROM t", 1 },
};

enum result {
	RES_GRANTED = 0,
	RES_NO_TOKEN,
	RES_MALFORMED,
	RES_UNKNOWN,
	RES_REVOKED,
	RES_EXPIRED,
	RES_SCOPE,
	RES_LIMITED,
	RES_UNAVAILABLE,
	RES_COUNT
};

/* Reasons for logs, and the result label of the metric. */
static const struct {
	const char	*reason;
	const char	*label;
	int		 status;
} results[RES_COUNT] = {
	[RES_GRANTED] = { "granted", "granted", 0 },
	[RES_NO_TOKEN] = { "no token", "no_token", 401 },
	[RES_MALFORMED] = { "malformed", "malformed", 401 },
	[RES_UNKNOWN] = { "unknown token", "unknown", 401 },
	[RES_REVOKED] = { "revoked", "revoked", 401 },
	[RES_EXPIRED] = { "expired", "expired", 401 },
	[RES_SCOPE] = { "scope", "insufficient_scope", 403 },
	[RES_LIMITED] = { "rate limited", "rate_limited", 429 },
	[RES_UNAVAILABLE] = { "database unavailable", "unavailable", 503 },
};

#define WHAT_MAX	160	/* bytes of "METHOD /path" in a log line */

struct peer {
	char		 name[AUTH_PEER_MAX];	/* "": free */
	double		 tokens;
	double		 at;		/* when tokens was computed */
};

/* A route of auth_route(). */
struct aroute {
	struct auth	*a;
	struct auth_need need;
	auth_handler_fn	 fn;
	void		*arg;
};

struct auth_op {
	TAILQ_ENTRY(auth_op)	 entry;
	struct auth		*a;
	struct pgq_op		*op;
	char			 hex[2 * AUTH_DIGEST_LEN + 1];
	int			 malformed;	/* not of the token's form */
	int			 nobudget;	/* auth_digest(): spends none */
	char			 peer[AUTH_PEER_MAX];
	char			 what[WHAT_MAX];
	struct auth_need	 need;
	/* auth_token() */
	auth_done_fn		 done;
	void			*done_arg;
	/* auth_request() */
	struct http_exchange	*x;
	const struct http_request *req;	/* held by x */
	auth_handler_fn		 fn;
	void			*fn_arg;
};

struct auth {
	struct ev_loop		*loop;
	struct pgq		*db;		/* NULL: bootstrap only */
	int			 has_boot;
	unsigned char		 key[crypto_generichash_KEYBYTES];
	unsigned char		 key_bad[crypto_generichash_KEYBYTES];
					/* for what is not "Bearer TOKEN":
					   the same work, no match */
	unsigned char		 boot[crypto_generichash_BYTES];
	int			 trust_forwarded;
	TAILQ_HEAD(, auth_op)	 ops;
	size_t			 nops;
	struct aroute		 routes[AUTH_ROUTES_MAX];
	size_t			 nroutes;
	struct peer		 peers[AUTH_PEERS_MAX];
	uint64_t		 count[RES_COUNT];
};

static const char default_challenge[] = "Bearer realm=\"afu9\"";

/* ---- scopes and tokens ---- */

const char *
auth_scope_name(enum auth_scope s)
{
	switch (s) {
	case AUTH_NONE: return "none";
	case AUTH_READ: return "read";
	case AUTH_RUN: return "run";
	case AUTH_ADMIN: return "admin";
	}
	return "?";
}

enum auth_scope
auth_scope_parse(const char *s, size_t n)
{
	if (n == 4 && memcmp(s, "read", 4) == 0)
		return AUTH_READ;
	if (n == 3 && memcmp(s, "run", 3) == 0)
		return AUTH_RUN;
	if (n == 5 && memcmp(s, "admin", 5) == 0)
		return AUTH_ADMIN;
	return AUTH_NONE;
}

void
auth_token_digest(const char *token, size_t len, unsigned char *digest)
{
	crypto_generichash(digest, AUTH_DIGEST_LEN,
	    (const unsigned char *)token, len, NULL, 0);
}

int
auth_token_new(char *out, unsigned char *digest)
{
	unsigned char raw[AUTH_TOKEN_RAW];
	size_t pl = sizeof(AUTH_PREFIX) - 1;

	if (sodium_init() < 0)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	memcpy(out, AUTH_PREFIX, pl);
	sodium_bin2base64(out + pl, AUTH_TOKEN_LEN + 1 - pl, raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	auth_token_digest(out, AUTH_TOKEN_LEN, digest);
	return 0;
}

/* Of the form of a token: the prefix, then 43 base64url characters. */
static int
token_form(const char *p, size_t n)
{
	size_t i, pl = sizeof(AUTH_PREFIX) - 1;
	int ok = n == AUTH_TOKEN_LEN && memcmp(p, AUTH_PREFIX, pl) == 0;

	for (i = pl; ok && i < n; i++)
		ok = (p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' &&
		    p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') ||
		    p[i] == '-' || p[i] == '_';
	return ok;
}

/* ---- failure budgets (as ui/uiauth's) ---- */

/* The entry of peer with its budget brought to now, or NULL. */
static struct peer *
peer_get(struct auth *a, const char *name, double now, int make)
{
	struct peer *p, *old = &a->peers[0];
	int all = strcmp(name, AUTH_ALL) == 0;
	double burst = all ? AUTH_ALL_BURST : AUTH_FAIL_BURST;
	double refill = all ? AUTH_ALL_REFILL_S : AUTH_FAIL_REFILL_S;
	size_t i;

	for (i = 0; i < AUTH_PEERS_MAX; i++) {
		p = &a->peers[i];
		if (p->name[0] != '\0' && strncmp(p->name, name,
		    sizeof(p->name) - 1) == 0) {
			p->tokens += (now - p->at) / refill;
			if (p->tokens > burst)
				p->tokens = burst;
			p->at = now;
			return p;
		}
		if (p->name[0] == '\0' ? old->name[0] != '\0' :
		    old->name[0] != '\0' && p->at < old->at)
			old = p;
	}
	if (!make)
		return NULL;
	snprintf(old->name, sizeof(old->name), "%s", name);
	old->tokens = burst;
	old->at = now;
	return old;
}

/* Seconds before name may try again (0: now). */
static double
peer_wait(struct auth *a, const char *name, double now)
{
	struct peer *p = peer_get(a, name, now, 0);

	if (p == NULL || p->tokens >= 1)
		return 0;
	return (1 - p->tokens) * (strcmp(name, AUTH_ALL) == 0 ?
	    AUTH_ALL_REFILL_S : AUTH_FAIL_REFILL_S);
}

static void
peer_failed(struct auth *a, const char *name, double now)
{
	struct peer *p = peer_get(a, name, now, 1);

	p->tokens = p->tokens >= 1 ? p->tokens - 1 : 0;
}

/* ---- results ---- */

/* Fill r for res; count it, spend the budgets of a wrong token, log a
   refusal. */
static void
conclude(struct auth *a, enum result res, const char *peer,
    const char *what, int nobudget, struct auth_result *r)
{
	double now;

	r->status = results[res].status;
	r->reason = results[res].reason;
	a->count[res]++;
	/* a guess spends the budget; sending nothing guesses nothing */
	if (r->status == 401 && res != RES_NO_TOKEN && !nobudget) {
		now = metrics_now_s();
		peer_failed(a, peer, now);
		peer_failed(a, AUTH_ALL, now);
	}
	if (r->status == 0)
		return;
	if (r->name[0] != '\0')
		log_warnx("auth: %s from %s refused (%d): %s (token %s, scope "
		    "%s)", what, peer, r->status, r->reason, r->name,
		    auth_scope_name(r->scope));
	else
		log_warnx("auth: %s from %s refused (%d): %s", what, peer,
		    r->status, r->reason);
}

/*
 * The part of a check that needs no database: 1 with the result in *r,
 * or 0 when the token must be looked up (its digest as hex into
 * hex[2 * AUTH_DIGEST_LEN + 1], *malformed set when it is not of the
 * form of a token).  tok NULL: none was sent.  bad: tok is an
 * Authorization value that is not one "Bearer TOKEN": it goes through
 * the same steps, with keys that make neither digest match anything.
 */
static int
check_local(struct auth *a, const char *tok, size_t n, int bad,
    const char *peer, const char *what, const struct auth_need *need,
    struct auth_result *r, char *hex, int *malformed)
{
	unsigned char d[crypto_generichash_BYTES];
	double w, w2, now = metrics_now_s();
	const char *why;

	memset(r, 0, sizeof(*r));
	w = peer_wait(a, peer, now);
	w2 = peer_wait(a, AUTH_ALL, now);
	if (w2 > w)
		w = w2;
	if (w > 0) {
		r->retry_after = (unsigned)ceil(w);
		conclude(a, RES_LIMITED, peer, what, 0, r);
		return 1;
	}
	if (tok == NULL) {
		conclude(a, RES_NO_TOKEN, peer, what, 0, r);
		return 1;
	}
	if (a->has_boot) {
		crypto_generichash(d, sizeof(d), (const unsigned char *)tok, n,
		    bad ? a->key_bad : a->key, sizeof(a->key));
		if (sodium_memcmp(d, a->boot, sizeof(d)) == 0) {
			r->scope = AUTH_ADMIN;
			r->bootstrap = 1;
			snprintf(r->name, sizeof(r->name), "bootstrap");
			conclude(a, r->scope >= need->scope ? RES_GRANTED :
			    RES_SCOPE, peer, what, 0, r);
			return 1;
		}
	}
	*malformed = bad || !token_form(tok, n);
	if (a->db == NULL) {
		conclude(a, *malformed ? RES_MALFORMED : RES_UNKNOWN, peer,
		    what, 0, r);
		return 1;
	}
	why = pgq_last_error(a->db);
	if ((!pgq_up(a->db) && strcmp(why, "connecting") != 0) ||
	    a->nops >= AUTH_PENDING_MAX) {
		r->retry_after = 1;
		conclude(a, RES_UNAVAILABLE, peer, what, 0, r);
		return 1;
	}
	if (bad)
		crypto_generichash(d, AUTH_DIGEST_LEN,
		    (const unsigned char *)tok, n, a->key_bad,
		    sizeof(a->key_bad));
	else
		auth_token_digest(tok, n, d);
	sodium_bin2hex(hex, 2 * AUTH_DIGEST_LEN + 1, d, AUTH_DIGEST_LEN);
	return 0;
}

/* The lookup's answer into *r. */
static void
check_row(struct auth_op *o, const PGresult *res, const struct pgq_err *err,
    struct auth_result *r)
{
	struct auth *a = o->a;
	const char *v;
	enum result rr;

	memset(r, 0, sizeof(*r));
	if (err != NULL) {
		log_warnx("auth: token lookup failed: %s", err->message);
		r->retry_after = 1;
		rr = RES_UNAVAILABLE;
	} else if (PQntuples(res) != 1 || PQnfields(res) != 5 ||
	    strlen(v = PQgetvalue(res, 0, 2)) != sizeof(o->hex) - 1 ||
	    sodium_memcmp(v, o->hex, sizeof(o->hex) - 1) != 0)
		rr = o->malformed ? RES_MALFORMED : RES_UNKNOWN;
	else {
		snprintf(r->name, sizeof(r->name), "%s", PQgetvalue(res, 0, 0));
		v = PQgetvalue(res, 0, 1);
		r->scope = auth_scope_parse(v, strlen(v));
		if (strcmp(PQgetvalue(res, 0, 3), "t") == 0)
			rr = RES_REVOKED;
		else if (strcmp(PQgetvalue(res, 0, 4), "t") == 0)
			rr = RES_EXPIRED;
		else if (r->scope == AUTH_NONE || r->scope < o->need.scope)
			rr = RES_SCOPE;
		else
			rr = RES_GRANTED;
	}
	conclude(a, rr, o->peer, o->what, o->nobudget, r);
}

/* ---- answers ---- */

/* Answer x with the refusal r (status 401 403 429 503). */
static void
refuse(const struct auth_need *need, struct http_exchange *x,
    const struct auth_result *r)
{
	const char *ch = need->challenge ? need->challenge : default_challenge;
	const char *hdr[4] = { "Content-Type: application/json",
	    "Cache-Control: no-store", NULL, NULL };
	char extra[512], body[256];

	switch (r->status) {
	case 401:
		snprintf(extra, sizeof(extra), "WWW-Authenticate: %s", ch);
		snprintf(body, sizeof(body), "{\"error\":\"this endpoint needs "
		    "Authorization: Bearer with a valid API token (afu9 token "
		    "create)\"}");
		break;
	case 403:
		snprintf(extra, sizeof(extra), "WWW-Authenticate: %s, "
		    "error=\"insufficient_scope\", scope=\"%s\"", ch,
		    auth_scope_name(need->scope));
		snprintf(body, sizeof(body), "{\"error\":\"the token's scope "
		    "is %s; this needs %s\"}", auth_scope_name(r->scope),
		    auth_scope_name(need->scope));
		break;
	case 429:
		snprintf(extra, sizeof(extra), "Retry-After: %u",
		    r->retry_after);
		snprintf(body, sizeof(body), "{\"error\":\"too many failed "
		    "authentications from this address: retry after %u s\"}",
		    r->retry_after);
		break;
	default:
		snprintf(extra, sizeof(extra), "Retry-After: %u",
		    r->retry_after ? r->retry_after : 1);
		snprintf(body, sizeof(body), "{\"error\":\"the token database "
		    "is unavailable: retry\"}");
		break;
	}
	hdr[2] = extra;
	http_respond(x, r->status ? r->status : 500, hdr, body, strlen(body));
}

/* ---- the checks ---- */

static void
op_free(struct auth_op *o)
{
	TAILQ_REMOVE(&o->a->ops, o, entry);
	o->a->nops--;
	sodium_memzero(o->hex, sizeof(o->hex));
	free(o);
}

static void
lookup_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct auth_op *o = arg;
	struct auth_result r;

	o->op = NULL;
	check_row(o, res, err, &r);
	if (o->x != NULL) {
		if (r.status == 0)
			o->fn(o->req, o->x, &r, o->fn_arg);
		else
			refuse(&o->need, o->x, &r);
		o->x = NULL;
	} else
		o->done(&r, o->done_arg);
	op_free(o);
}

/* A lookup for o (its hex, peer, what, need set): 0, or -1 (ENOMEM,
   ENOSPC: the queue is full) with o freed. */
static int
lookup(struct auth *a, struct auth_op *o)
{
	char param[2 + sizeof(o->hex)];
	const char *p[1] = { param };

	snprintf(param, sizeof(param), "\\x%s", o->hex);
	o->a = a;
	TAILQ_INSERT_TAIL(&a->ops, o, entry);
	a->nops++;
	o->op = pgq_exec(a->db, "auth_lookup", 1, p, lookup_cb, o);
	sodium_memzero(param, sizeof(param));
	if (o->op == NULL) {
		op_free(o);
		return -1;
	}
	return 0;
}

/* "METHOD /path" of req, cut, for logs. */
static void
what_of(const struct http_request *req, char *out, size_t len)
{
	snprintf(out, len, "%.*s %.*s", (int)(req->method.len > 16 ? 16 :
	    req->method.len), req->method.p, (int)(req->path.len > 120 ? 120 :
	    req->path.len), req->path.p);
}

/*
 * The token of req's Authorization field into *tok, *n; NULL when there
 * is none.  A field that is not exactly one "Bearer TOKEN" still gives
 * its whole value, with *bad set (it goes through the same steps as any
 * wrong token, and fails them).
 */
static const char *
bearer(const struct http_request *req, size_t *n, int *bad)
{
	const struct http_header *h = NULL;
	const char *p;
	size_t i, count = 0, len;

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name.len == 13 &&
		    strncasecmp(req->headers[i].name.p, "authorization",
		    13) == 0 && count++ == 0)
			h = &req->headers[i];
	if (h == NULL)
		return NULL;
	p = h->value.p;
	len = h->value.len;
	*bad = 1;
	if (count == 1 && len > 7 && strncasecmp(p, "Bearer ", 7) == 0) {
		p += 7;
		len -= 7;
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		*bad = len == 0;
	}
	*n = len;
	return p;
}

const char *
auth_peer(const struct auth *a, const struct http_request *req,
    const struct http_exchange *x, char *buf, size_t len)
{
	const char *v, *p;
	size_t n;

	if (a->trust_forwarded && (v = http_request_header(req,
	    "x-forwarded-for", &n)) != NULL) {
		/* the last entry: the one the load balancer added */
		for (p = v + n; p > v && p[-1] != ','; p--)
			;
		while (p < v + n && (*p == ' ' || *p == '\t'))
			p++;
		n -= (size_t)(p - v);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n > 0 && n < len && n < AUTH_PEER_MAX) {
			memcpy(buf, p, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return http_exchange_peer(x, buf, len);
}

void
auth_request(struct auth *a, const struct http_request *req,
    struct http_exchange *x, const struct auth_need *need,
    auth_handler_fn fn, void *arg)
{
	struct auth_result r;
	struct auth_op *o;
	const char *tok;
	size_t n = 0;
	int bad = 0;

	if ((o = calloc(1, sizeof(*o))) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	auth_peer(a, req, x, o->peer, sizeof(o->peer));
	what_of(req, o->what, sizeof(o->what));
	o->need = *need;
	tok = bearer(req, &n, &bad);
	if (check_local(a, tok, n, bad, o->peer, o->what, need, &r, o->hex,
	    &o->malformed)) {
		free(o);
		if (r.status == 0)
			fn(req, x, &r, arg);
		else
			refuse(need, x, &r);
		return;
	}
	if ((o->req = http_exchange_hold(x, req)) == NULL) {
		free(o);
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	o->x = x;
	o->fn = fn;
	o->fn_arg = arg;
	if (lookup(a, o) == -1) {
		memset(&r, 0, sizeof(r));
		r.retry_after = 1;
		conclude(a, RES_UNAVAILABLE, "-", "lookup queue", 0, &r);
		refuse(need, x, &r);
	}
}

struct auth_op *
auth_token(struct auth *a, const char *token, size_t len, const char *peer,
    const char *what, const struct auth_need *need, auth_done_fn done,
    void *arg)
{
	struct auth_result r;
	struct auth_op *o;

	if ((o = calloc(1, sizeof(*o))) == NULL) {
		memset(&r, 0, sizeof(r));
		r.status = 503;
		r.retry_after = 1;
		r.reason = "out of memory";
		done(&r, arg);
		return NULL;
	}
	snprintf(o->peer, sizeof(o->peer), "%s", peer);
	snprintf(o->what, sizeof(o->what), "%s", what);
	o->need = *need;
	if (check_local(a, token, len, 0, o->peer, o->what, need, &r, o->hex,
	    &o->malformed)) {
		free(o);
		done(&r, arg);
		return NULL;
	}
	o->done = done;
	o->done_arg = arg;
	if (lookup(a, o) == -1) {
		memset(&r, 0, sizeof(r));
		r.retry_after = 1;
		conclude(a, RES_UNAVAILABLE, peer, what, 0, &r);
		done(&r, arg);
		return NULL;
	}
	return o;
}

struct auth_op *
auth_digest(struct auth *a, const unsigned char *digest, const char *peer,
    const char *what, const struct auth_need *need, auth_done_fn done,
    void *arg)
{
	struct auth_result r;
	struct auth_op *o;

	memset(&r, 0, sizeof(r));
	if (a->db == NULL || (!pgq_up(a->db) && strcmp(pgq_last_error(a->db),
	    "connecting") != 0) || a->nops >= AUTH_PENDING_MAX ||
	    (o = calloc(1, sizeof(*o))) == NULL) {
		r.status = 503;
		r.retry_after = 1;
		r.reason = results[RES_UNAVAILABLE].reason;
		a->count[RES_UNAVAILABLE]++;
		done(&r, arg);
		return NULL;
	}
	snprintf(o->peer, sizeof(o->peer), "%s", peer);
	snprintf(o->what, sizeof(o->what), "%s", what);
	o->need = *need;
	o->nobudget = 1;
	sodium_bin2hex(o->hex, sizeof(o->hex), digest, AUTH_DIGEST_LEN);
	o->done = done;
	o->done_arg = arg;
	if (lookup(a, o) == -1) {
		r.status = 503;
		r.retry_after = 1;
		r.reason = results[RES_UNAVAILABLE].reason;
		a->count[RES_UNAVAILABLE]++;
		done(&r, arg);
		return NULL;
	}
	return o;
}

void
auth_op_forget(struct auth_op *o)
{
	if (o == NULL)
		return;
	pgq_op_forget(o->op);
	op_free(o);
}

/* ---- routes ---- */

static void
route_entry(const struct http_request *req, struct http_exchange *x,
    void *arg)
{
	struct aroute *ar = arg;

	auth_request(ar->a, req, x, &ar->need, ar->fn, ar->arg);
}

int
auth_route(struct auth *a, struct http_server *hs, const char *method,
    const char *path, int flags, const struct auth_need *need,
    auth_handler_fn fn, void *arg)
{
	struct aroute *ar;

	if (need == NULL || fn == NULL || need->scope < AUTH_READ ||
	    need->scope > AUTH_ADMIN) {
		errno = EINVAL;
		return -1;
	}
	if (a->nroutes >= AUTH_ROUTES_MAX) {
		errno = ENOSPC;
		return -1;
	}
	ar = &a->routes[a->nroutes];
	ar->a = a;
	ar->need = *need;
	ar->fn = fn;
	ar->arg = arg;
	if (http_server_route(hs, method, path, flags, route_entry, ar) == -1)
		return -1;
	a->nroutes++;
	return 0;
}

/* ---- life ---- */

struct auth *
auth_new(struct ev_loop *loop, const struct auth_opts *o, char *err,
    size_t errlen)
{
	struct pgq_opts po;
	struct auth *a;

	if (o == NULL || ((o->bootstrap == NULL || *o->bootstrap == '\0') &&
	    o->conninfo == NULL)) {
		snprintf(err, errlen, "authentication needs DATABASE_URL (the "
		    "tokens) or AFU9_API_TOKEN");
		return NULL;
	}
	if (sodium_init() < 0 || (a = calloc(1, sizeof(*a))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->loop = loop;
	a->trust_forwarded = o->trust_forwarded;
	TAILQ_INIT(&a->ops);
	randombytes_buf(a->key, sizeof(a->key));
	randombytes_buf(a->key_bad, sizeof(a->key_bad));
	if (o->bootstrap != NULL && *o->bootstrap != '\0') {
		a->has_boot = 1;
		crypto_generichash(a->boot, sizeof(a->boot),
		    (const unsigned char *)o->bootstrap, strlen(o->bootstrap),
		    a->key, sizeof(a->key));
	}
	if (o->conninfo != NULL) {
		memset(&po, 0, sizeof(po));
		po.name = "auth";
		po.op_timeout_ms = o->op_timeout_ms ? o->op_timeout_ms :
		    AUTH_DB_TIMEOUT_MS;
		po.password = o->password;
		if ((a->db = pgq_new(loop, o->conninfo, &po, err,
		    errlen)) == NULL ||
		    pgq_prepare_all(a->db, stmts, sizeof(stmts) /
		    sizeof(stmts[0]), err, errlen) == -1) {
			auth_free(a);
			return NULL;
		}
	}
	return a;
}

void
auth_free(struct auth *a)
{
	struct auth_op *o;
	struct auth_result r;

	if (a == NULL)
		return;
	while ((o = TAILQ_FIRST(&a->ops)) != NULL) {
		pgq_op_forget(o->op);
		if (o->x != NULL) {
			memset(&r, 0, sizeof(r));
			r.status = 503;
			r.retry_after = 1;
			refuse(&o->need, o->x, &r);
		}
		op_free(o);
	}
	if (a->db != NULL)
		pgq_free(a->db);
	sodium_memzero(a->key, sizeof(a->key));
	sodium_memzero(a->key_bad, sizeof(a->key_bad));
	sodium_memzero(a->boot, sizeof(a->boot));
	free(a);
}

/* ---- subsystem ---- */

static json_t *
as_status(const void *self)
{
	const struct auth *a = self;

	if (a->db == NULL)
		return json_pack("{s:s,s:b}", "database", "disabled",
		    "bootstrap", a->has_boot);
	return json_pack("{s:s,s:s?,s:b}", "database", pgq_up(a->db) ?
	    "up" : "down", "error", pgq_up(a->db) ? NULL :
	    pgq_last_error(a->db), "bootstrap", a->has_boot);
}

static int
as_metrics(const void *self, struct buf *b)
{
	const struct auth *a = self;
	int i, rc = 0;

	rc |= metrics_head(b, "afu9_auth_checks_total", "counter",
	    "Bearer-token checks, by result.");
	for (i = 0; i < RES_COUNT; i++)
		rc |= buf_printf(b, "afu9_auth_checks_total{result=\"%s\"} %"
		    PRIu64 "\n", results[i].label, a->count[i]);
	return rc ? -1 : 0;
}

void
auth_subsys(struct auth *a, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "auth";
	out->key = "auth";
	out->self = a;
	out->status = as_status;
	out->metrics = as_metrics;
}
