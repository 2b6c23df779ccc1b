/*
 * ui: the operator console (see ui/ui.h and doc/console.md).
 *
 * One struct ureq per page request from its handler to its answer: it
 * is either on the handler's stack (answered, or its statement sent,
 * before the handler returns) or waiting for one statement.  Pages are
 * built into a struct buf bounded by UI_PAGE_MAX; every value from the
 * database or the request goes through html_esc() (ui/html.h).
 */
#include "config.h"

#include <sys/queue.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "metrics.h"
#include "utf8.h"
#include "api/auth.h"
#include "http/http_stream.h"
#include "store/pgq.h"
#include "store/store.h"
#include "ui/html.h"
#include "ui/uiauth.h"
#include "ui/uisql.h"
#include "ui/ui.h"

#define UUID_LEN	36
#define TRIM		160	/* bytes of a value shown before <details> */
#define CURSOR_LEN	(27 + 1 + UUID_LEN)

extern const char ui_css[], ui_js[];

enum page {
	P_LOGIN = 0, P_LOGIN_POST, P_LOGOUT, P_OVERVIEW, P_SERVERS,
	P_EXECUTIONS, P_EXECUTION, P_STEPS, P_EVENTS, P_RUN, P_AUDIT,
	P_WEBHOOKS, P_CSS, P_JS, P_OTHER, P_COUNT
};

static const struct {
	const char	*method;
	const char	*pattern;
	int		 flags;
} pages[P_COUNT] = {
	[P_LOGIN] = { "GET", "/ui/login", HTTP_ROUTE_EXACT },
	[P_LOGIN_POST] = { "POST", "/ui/login", HTTP_ROUTE_EXACT },
	[P_LOGOUT] = { "POST", "/ui/logout", HTTP_ROUTE_EXACT },
	[P_OVERVIEW] = { "GET", "/ui/", HTTP_ROUTE_EXACT },
	[P_SERVERS] = { "GET", "/ui/servers", HTTP_ROUTE_EXACT },
	[P_EXECUTIONS] = { "GET", "/ui/executions", HTTP_ROUTE_EXACT },
	[P_EXECUTION] = { "GET", "/ui/executions/{id}", HTTP_ROUTE_EXACT },
	[P_STEPS] = { "GET", "/ui/executions/{id}/steps", HTTP_ROUTE_EXACT },
	[P_EVENTS] = { "GET", "/ui/executions/{id}/events",
	    HTTP_ROUTE_EXACT },
	[P_RUN] = { "GET", "/ui/runs/{id}", HTTP_ROUTE_EXACT },
	[P_AUDIT] = { "GET", "/ui/audit", HTTP_ROUTE_EXACT },
	[P_WEBHOOKS] = { "GET", "/ui/webhooks", HTTP_ROUTE_EXACT },
	[P_CSS] = { "GET", "/ui/static/console.css", HTTP_ROUTE_EXACT },
	[P_JS] = { "GET", "/ui/static/console.js", HTTP_ROUTE_EXACT },
	[P_OTHER] = { NULL, "/ui/", HTTP_ROUTE_PREFIX },
};

static const struct pgq_stmt stmts[] = {
	{ "ui_custom_plans", UISQL_CUSTOM_PLANS, 0 },
	{ "ui_overview", UISQL_OVERVIEW, 0 },
	{ "ui_executions", UISQL_EXECUTIONS, 7 },
	{ "ui_execution", UISQL_EXECUTION, 1 },
	{ "ui_steps", UISQL_STEPS, 1 },
	{ "ui_status", UISQL_STATUS, 1 },
	{ "ui_run", UISQL_AGENT_RUN, 1 },
	{ "ui_audit", UISQL_AUDIT, 8 },
	{ "ui_webhooks", UISQL_WEBHOOKS, 6 },
};

/* What every page and fragment carries. */
#define SEC_HEADERS \
	"Content-Security-Policy: default-src 'self'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'self'", \
	"X-Content-Type-Options: nosniff", \
	"Referrer-Policy: same-origin", \
	"X-Frame-Options: DENY"

struct ui;

struct uroute {
	struct ui	*ui;
	enum page	 p;
};

struct ureq;
typedef void (*ureq_fn)(struct ureq *, json_t *);

struct ureq {
	TAILQ_ENTRY(ureq)	 entry;
	struct ui		*ui;
	struct http_exchange	*x;
	enum page		 p;
	double			 t0;
	struct pgq_op		*op;
	ureq_fn			 done;
	char			 id[UUID_LEN + 1];
	struct html_form	 q;		/* the query's filters */
	struct buf		 b;		/* the page */
	/* the token check (api/auth.h) of a login or of a session */
	struct auth_op		*aop;
	const struct http_request *held;	/* the request, kept by x
						   while the session's token
						   is checked again */
	char			 sid[UIAUTH_SID_HEX + 1];
	int			 tls;		/* login: came through TLS */
	unsigned char		 digest[UIAUTH_DIGEST_LEN]; /* login */
};

/* A status check after a notification (no exchange). */
struct ucheck {
	TAILQ_ENTRY(ucheck)	 entry;
	struct ui		*ui;
	struct pgq_op		*op;
	char			 id[UUID_LEN + 1];
};

struct ustream {
	LIST_ENTRY(ustream)	 entry;
	struct http_exchange	*x;
	char			 id[UUID_LEN + 1];
};

struct ui {
	struct ev_loop		*loop;
	struct router		*r;
	struct pgq		*db;
	struct uroute		 ur[P_COUNT];
	struct auth		*check;		/* tokens (borrowed) */
	struct uiauth		 auth;
	TAILQ_HEAD(, ureq)	 reqs;
	TAILQ_HEAD(, ucheck)	 checks;
	LIST_HEAD(, ustream)	 streams;
	size_t			 nstreams;
	ev_timer		 beat;
	int			 stopping;
	void			(*stop_done)(void *);
	void			*stop_arg;
	uint64_t		 count[P_COUNT][HTTP_STATUS_MAX -
				    HTTP_STATUS_MIN + 1];
	uint64_t		 logins_ok, logins_failed, logins_limited;
	uint64_t		 events_sent;
	struct metrics_hist	 dur[P_COUNT];
};

/* ---- answers ---- */

static void
ureq_free(struct ureq *q)
{
	TAILQ_REMOVE(&q->ui->reqs, q, entry);
	pgq_op_forget(q->op);
	auth_op_forget(q->aop);
	sodium_memzero(q->sid, sizeof(q->sid));
	sodium_memzero(q->digest, sizeof(q->digest));
	buf_free(&q->b);
	free(q);
}

static void
count(struct ui *ui, enum page p, int status, double t0)
{
	if (status >= HTTP_STATUS_MIN && status <= HTTP_STATUS_MAX)
		ui->count[p][status - HTTP_STATUS_MIN]++;
	metrics_observe(&ui->dur[p], metrics_now_s() - t0);
}

/*
 * Answer q with status and its page (q->b), with up to two extra
 * headers (NULL: none), count it, free q.
 */
static void
reply(struct ureq *q, int status, const char *h1, const char *h2)
{
	const char *hdr[] = { "Content-Type: text/html; charset=utf-8",
	    "Cache-Control: no-store", SEC_HEADERS, h1, h2, NULL };

	if (h1 == NULL) {
		hdr[6] = h2;
		hdr[7] = NULL;
	}
	if (buf_used(&q->b) == 0 && buf_append(&q->b, "", 0) == -1)
		status = 500;
	if (http_respond(q->x, status, hdr, buf_data(&q->b),
	    buf_used(&q->b)) == -1)
		status = 500;
	count(q->ui, q->p, status, q->t0);
	q->x = NULL;
	ureq_free(q);
}

/* 303 to loc (a path of ours), with an extra header (NULL). */
static void
redirect(struct ureq *q, const char *loc, const char *extra)
{
	char h[256];

	snprintf(h, sizeof(h), "Location: %s", loc);
	buf_reset(&q->b);
	reply(q, 303, h, extra);
}

/* ---- page frame ---- */

static const char *const nav[][2] = {
	{ "/ui/", "Overview" }, { "/ui/servers", "Servers" },
	{ "/ui/executions", "Executions" }, { "/ui/audit", "Audit log" },
	{ "/ui/webhooks", "Webhooks" },
};

static void
head(struct buf *b, const char *title, int navon, const char *active)
{
	size_t i;

	buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\"><meta name=\"viewport\" content=\"width="
	    "device-width, initial-scale=1\"><title>");
	html_str(b, title);
	buf_printf(b, " \xe2\x80\x94 afu9</title><link rel=\"stylesheet\" "
	    "href=\"/ui/static/console.css\"><link rel=\"icon\" href=\"data:,\"></head><body><header><a "
	    "class=\"brand\" href=\"/ui/\">afu9</a>");
	if (navon) {
		buf_printf(b, "<nav>");
		for (i = 0; i < sizeof(nav) / sizeof(nav[0]); i++)
			buf_printf(b, "<a href=\"%s\"%s>%s</a>", nav[i][0],
			    active && strcmp(active, nav[i][0]) == 0 ?
			    " class=\"on\" aria-current=\"page\"" : "",
			    nav[i][1]);
		buf_printf(b, "</nav><form method=\"post\" action=\"/ui/"
		    "logout\" class=\"logout\"><button type=\"submit\">Log "
		    "out</button></form>");
	}
	buf_printf(b, "</header><main><h1>");
	html_str(b, title);
	buf_printf(b, "</h1>\n");
}

static void
foot(struct buf *b, int js)
{
	buf_printf(b, "</main>%s</body></html>\n", js ?
	    "<script src=\"/ui/static/console.js\"></script>" : "");
}

/* An error page: status and a message (text, escaped). */
static void
fail(struct ureq *q, int status, const char *msg)
{
	buf_reset(&q->b);
	head(&q->b, http_reason(status), q->p != P_LOGIN, NULL);
	buf_printf(&q->b, "<p class=\"error\">");
	html_str(&q->b, msg);
	buf_printf(&q->b, "</p>");
	foot(&q->b, 0);
	reply(q, status, status == 503 ? "Retry-After: 1" : NULL, NULL);
}

/* ---- values ---- */

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* A JSON value: short ones inline, long ones cut with the whole under
   <details>. */
static void
value(struct buf *b, const json_t *v)
{
	char *s, *full;
	size_t n, cut;

	if (v == NULL || json_is_null(v)) {
		buf_printf(b, "<span class=\"none\">\xe2\x80\x94</span>");
		return;
	}
	if ((s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
		return;
	if ((n = strlen(s)) <= TRIM) {
		buf_printf(b, "<code>");
		html_esc(b, s, n);
		buf_printf(b, "</code>");
		free(s);
		return;
	}
	cut = u8_cut(s, n, TRIM);
	buf_printf(b, "<details><summary><code>");
	html_esc(b, s, cut);
	buf_printf(b, "\xe2\x80\xa6</code> <span class=\"more\">(%zu bytes)"
	    "</span></summary><pre>", n);
	full = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	html_str(b, full ? full : s);
	buf_printf(b, "</pre></details>");
	free(full);
	free(s);
}

/* Text (a message, a title): cut with the rest under <details>. */
static void
text(struct buf *b, const char *s)
{
	size_t n, cut;

	if (s == NULL) {
		buf_printf(b, "<span class=\"none\">\xe2\x80\x94</span>");
		return;
	}
	if ((n = strlen(s)) <= TRIM) {
		html_esc(b, s, n);
		return;
	}
	cut = u8_cut(s, n, TRIM);
	buf_printf(b, "<details><summary>");
	html_esc(b, s, cut);
	buf_printf(b, "\xe2\x80\xa6</summary><pre>");
	html_esc(b, s, n);
	buf_printf(b, "</pre></details>");
}

static void
badge(struct buf *b, const char *status)
{
	buf_printf(b, "<span class=\"st st-");
	html_str(b, status ? status : "unknown");
	buf_printf(b, "\">");
	html_str(b, status ? status : "unknown");
	buf_printf(b, "</span>");
}

static void
ms(struct buf *b, const json_t *v)
{
	if (json_is_number(v))
		buf_printf(b, "%.0f ms", json_number_value(v));
	else
		buf_printf(b, "<span class=\"none\">\xe2\x80\x94</span>");
}

static void
cell_time(struct buf *b, const char *t)
{
	if (t == NULL) {
		buf_printf(b, "<span class=\"none\">\xe2\x80\x94</span>");
		return;
	}
	buf_printf(b, "<time datetime=\"");
	html_str(b, t);
	buf_printf(b, "\">");
	html_str(b, t);
	buf_printf(b, "</time>");
}

/* A link to an execution, a run (kind "executions", "runs"). */
static void
link_id(struct buf *b, const char *kind, const char *id)
{
	if (id == NULL || !store_uuid_ok(id)) {
		buf_printf(b, "<span class=\"none\">\xe2\x80\x94</span>");
		return;
	}
	buf_printf(b, "<a class=\"id\" href=\"/ui/%s/%s\">%.8s</a>", kind, id,
	    id);
}

/* ---- sessions ---- */

static const struct http_header *
header(const struct http_request *req, const char *name, size_t *n)
{
	size_t i, len = strlen(name);
	const struct http_header *h = NULL;

	*n = 0;
	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name.len == len &&
		    strncasecmp(req->headers[i].name.p, name, len) == 0) {
			if ((*n)++ == 0)
				h = &req->headers[i];
		}
	return h;
}

/* Did the request come through TLS (the load balancer says so)? */
static int
via_tls(const struct http_request *req)
{
	const struct http_header *h;
	size_t n;

	h = header(req, "x-forwarded-proto", &n);
	return n == 1 && h->value.len == 5 &&
	    strncasecmp(h->value.p, "https", 5) == 0;
}

/* The afu9_session cookie, into sid[UIAUTH_SID_HEX + 1]; 0, or -1. */
static int
session_cookie(const struct http_request *req, char *sid)
{
	const struct http_header *h;
	size_t i;
	int found = 0, r;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (h->name.len != 6 || strncasecmp(h->name.p, "cookie", 6))
			continue;
		r = html_cookie(h->value.p, h->value.len, "afu9_session", sid,
		    UIAUTH_SID_HEX + 1);
		if (r == -1 || (r == 1 && found++))
			return -1;
	}
	return found ? 0 : -1;
}

/* The session of req's cookie (its id into sid), or NULL. */
static const struct uiauth_sess *
session(struct ui *ui, const struct http_request *req, char *sid)
{
	if (session_cookie(req, sid) == -1)
		return NULL;
	return uiauth_check(&ui->auth, sid, metrics_now_s());
}

/*
 * A POST of ours: Origin (or, without it, Referer) names this host, by
 * the scheme the request came with.  SameSite=Strict keeps the cookie
 * from other sites' requests; this keeps their forms from posting a
 * login either.
 */
static int
same_origin(const struct http_request *req)
{
	const struct http_header *host, *o;
	char want[600];
	size_t n, hn, wl;

	if ((host = header(req, "host", &hn)) == NULL || hn != 1 ||
	    host->value.len > 512)
		return 0;
	wl = (size_t)snprintf(want, sizeof(want), "%s://%.*s", via_tls(req) ?
	    "https" : "http", (int)host->value.len, host->value.p);
	if ((o = header(req, "origin", &n)) != NULL)
		return n == 1 && o->value.len == wl &&
		    memcmp(o->value.p, want, wl) == 0;
	if ((o = header(req, "referer", &n)) != NULL)
		return n == 1 && o->value.len > wl &&
		    memcmp(o->value.p, want, wl) == 0 && o->value.p[wl] == '/';
	return 0;
}

/* ---- login ---- */

static void
login_form(struct ureq *q, int status, const char *msg)
{
	buf_reset(&q->b);
	head(&q->b, "Log in", 0, NULL);
	if (msg != NULL) {
		buf_printf(&q->b, "<p class=\"error\" role=\"alert\">");
		html_str(&q->b, msg);
		buf_printf(&q->b, "</p>");
	}
	buf_printf(&q->b, "<form method=\"post\" action=\"/ui/login\" "
	    "class=\"login\"><label for=\"token\">API token</label><input "
	    "type=\"password\" id=\"token\" name=\"token\" required "
	    "autocomplete=\"current-password\" autofocus><button "
	    "type=\"submit\">Log in</button></form><p class=\"note\">Any "
	    "API token logs in (afu9 token create, or AFU9_API_TOKEN); the "
	    "console shows what its scope may see. A login holds on this "
	    "afu9 task only: another task behind the same address asks "
	    "again.</p>");
	foot(&q->b, 0);
	reply(q, status, NULL, NULL);
}

static void
h_login(struct ureq *q, const struct http_request *req)
{
	if (session(q->ui, req, q->sid) != NULL) {
		redirect(q, "/ui/", NULL);
		return;
	}
	login_form(q, 200, NULL);
}

static const struct auth_need need_read = { AUTH_READ, NULL };

/* The login's token checked: a session, or the form again. */
static void
login_done(const struct auth_result *r, void *arg)
{
	struct ureq *q = arg;
	struct ui *ui = q->ui;
	struct uiauth_who who;
	char sid[UIAUTH_SID_HEX + 1], cookie[256], wait[64];

	q->aop = NULL;
	switch (r->status) {
	case 0:
		break;
	case 429:
		ui->logins_limited++;
		snprintf(wait, sizeof(wait), "Retry-After: %u",
		    r->retry_after);
		buf_reset(&q->b);
		head(&q->b, "Log in", 0, NULL);
		buf_printf(&q->b, "<p class=\"error\" role=\"alert\">Too many "
		    "failed logins: try again in %u s.</p>", r->retry_after);
		foot(&q->b, 0);
		reply(q, 429, wait, NULL);
		return;
	case 503:
		login_form(q, 503, "The tokens cannot be checked now (the "
		    "database is unavailable): try again.");
		return;
	default:
		ui->logins_failed++;
		login_form(q, 401, "That is not a valid token.");
		return;
	}
	memset(&who, 0, sizeof(who));
	who.scope = (int)r->scope;
	snprintf(who.name, sizeof(who.name), "%s", r->name);
	if (!r->bootstrap) {
		who.db = 1;
		memcpy(who.digest, q->digest, sizeof(who.digest));
	}
	uiauth_open(&ui->auth, metrics_now_s(), &who, sid);
	sodium_memzero(&who, sizeof(who));
	snprintf(cookie, sizeof(cookie), "Set-Cookie: afu9_session=%s; "
	    "Path=/ui/; HttpOnly; SameSite=Strict; Max-Age=%.0f%s", sid,
	    ui->auth.ttl, q->tls ? "; Secure" : "");
	sodium_memzero(sid, sizeof(sid));
	ui->logins_ok++;
	log_info("ui: login with token %s (scope %s)", r->name,
	    auth_scope_name(r->scope));
	redirect(q, "/ui/", cookie);
	sodium_memzero(cookie, sizeof(cookie));
}

static void
h_login_post(struct ureq *q, const struct http_request *req)
{
	struct ui *ui = q->ui;
	const struct http_header *ct;
	char peer[AUTH_PEER_MAX];
	struct html_form f;
	struct auth_op *op;
	const char *tok;
	size_t n;
	int dup;

	if (!same_origin(req)) {
		login_form(q, 403, "This form is posted from the console's "
		    "own page only (Origin or Referer must name this host).");
		return;
	}
	ct = header(req, "content-type", &n);
	if (n != 1 || ct->value.len < 33 || strncasecmp(ct->value.p,
	    "application/x-www-form-urlencoded", 33) != 0) {
		login_form(q, 415, "The login form is sent as "
		    "application/x-www-form-urlencoded.");
		return;
	}
	if (req->body_len > UI_FORM_MAX) {
		login_form(q, 413, "The form is larger than a login.");
		return;
	}
	auth_peer(ui->check, req, q->x, peer, sizeof(peer));
	q->tls = via_tls(req);
	if (html_form_parse(&f, req->body, req->body_len) == -1 ||
	    (tok = html_form_get(&f, "token", &dup)) == NULL)
		tok = "";
	auth_token_digest(tok, strlen(tok), q->digest);
	/* done may run (and free q) before this returns */
	op = auth_token(ui->check, *tok ? tok : NULL, strlen(tok), peer,
	    "POST /ui/login", &need_read, login_done, q);
	sodium_memzero(&f, sizeof(f));
	if (op != NULL)
		q->aop = op;
}

static void
h_logout(struct ureq *q, const struct http_request *req)
{
	char sid[UIAUTH_SID_HEX + 1];

	if (!same_origin(req)) {
		fail(q, 403, "Log out from the console's own page.");
		return;
	}
	if (session_cookie(req, sid) == 0)
		uiauth_close(&q->ui->auth, sid);
	sodium_memzero(sid, sizeof(sid));
	redirect(q, "/ui/login", "Set-Cookie: afu9_session=; Path=/ui/; "
	    "HttpOnly; SameSite=Strict; Max-Age=0");
}

/* ---- the database ---- */

static void db_cb(const PGresult *, const struct pgq_err *, void *);

static void
db_exec(struct ureq *q, const char *name, int n, const char *const *p,
    ureq_fn done)
{
	struct ui *ui = q->ui;
	const char *why;

	if (ui->db == NULL) {
		fail(q, 503, "This page needs the database: DATABASE_URL is "
		    "not set.");
		return;
	}
	why = pgq_last_error(ui->db);
	if (!pgq_up(ui->db) && strcmp(why, "connecting") != 0) {
		buf_reset(&q->b);
		head(&q->b, "Database unavailable", 1, NULL);
		buf_printf(&q->b, "<p class=\"error\">The database is "
		    "unavailable: ");
		html_str(&q->b, why);
		buf_printf(&q->b, "</p>");
		foot(&q->b, 0);
		reply(q, 503, "Retry-After: 1", NULL);
		return;
	}
	q->done = done;
	if ((q->op = pgq_exec(ui->db, name, n, p, db_cb, q)) == NULL)
		fail(q, 503, "Too many requests are waiting for the "
		    "database.");
}

static void
db_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct ureq *q = arg;
	json_t *v;

	q->op = NULL;
	if (err != NULL) {
		if (!err->timeout && !err->lost)
			log_warnx("ui: %s: database error %s: %s",
			    pages[q->p].pattern, err->sqlstate, err->message);
		fail(q, err->timeout || err->lost ? 503 : 500, err->timeout ||
		    err->lost ? "The database did not answer." :
		    "The database refused the query.");
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0) ||
	    (v = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY,
	    NULL)) == NULL) {
		fail(q, 500, "The database answered nothing readable.");
		return;
	}
	q->done(q, v);
	json_decref(v);
}

/* The path's {id} into q->id (lowercase); 0, or -1 after a 404. */
static int
param_uuid(struct ureq *q, const char *what)
{
	const struct http_span *v = http_exchange_param(q->x, "id");
	size_t i;

	if (v == NULL || v->len != UUID_LEN) {
		fail(q, 404, what);
		return -1;
	}
	memcpy(q->id, v->p, UUID_LEN);
	q->id[UUID_LEN] = '\0';
	if (!store_uuid_ok(q->id)) {
		fail(q, 404, what);
		return -1;
	}
	for (i = 0; i < UUID_LEN; i++)
		q->id[i] = (char)tolower((unsigned char)q->id[i]);
	return 0;
}

/*
 * The query string into q->q, only the names in allowed (NULL-ended),
 * each at most once and non-empty ones kept.  0, or -1 after a 400.
 */
static int
query(struct ureq *q, const struct http_request *req,
    const char *const *allowed)
{
	size_t i, j;

	if (html_form_parse(&q->q, req->query.p, req->query.len) == -1) {
		fail(q, 400, "The query string is not validly encoded.");
		return -1;
	}
	for (i = 0; i < q->q.n; i++) {
		for (j = 0; allowed[j] != NULL; j++)
			if (strcmp(q->q.name[i], allowed[j]) == 0)
				break;
		if (allowed[j] == NULL) {
			fail(q, 400, "Unknown query parameter.");
			return -1;
		}
		for (j = 0; j < i; j++)
			if (strcmp(q->q.name[i], q->q.name[j]) == 0) {
				fail(q, 400, "A query parameter given twice.");
				return -1;
			}
	}
	return 0;
}

/* A filter's value, NULL when not given or empty. */
static const char *
qv(const struct ureq *q, const char *name)
{
	const char *v = html_form_get(&q->q, name, NULL);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* A keyset cursor "YYYY-MM-DDTHH:MM:SS.ffffffZ/UUID" split in ts, id. */
static int
cursor_ok(const char *s, char *ts, char *id)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	size_t i;

	if (strlen(s) != CURSOR_LEN || s[27] != '/')
		return 0;
	for (i = 0; i < 27; i++)
		if (form[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    s[i] != form[i])
			return 0;
	memcpy(ts, s, 27);
	ts[27] = '\0';
	memcpy(id, s + 28, UUID_LEN + 1);
	/* a month or day out of range is the database's 22008: keep it
	   from there */
	if (strncmp(ts + 5, "13", 2) >= 0 || strncmp(ts + 5, "00", 2) == 0 ||
	    strncmp(ts + 8, "32", 2) >= 0 || strncmp(ts + 8, "00", 2) == 0 ||
	    strncmp(ts + 11, "24", 2) >= 0 || ts[14] > '5' || ts[17] > '5')
		return 0;
	return store_uuid_ok(id);
}

/* <select> of the values in list (space-separated), with cur chosen. */
static void
select_of(struct buf *b, const char *name, const char *label,
    const char *list, const char *cur)
{
	const char *p = list;
	size_t n;

	buf_printf(b, "<label>%s <select name=\"%s\"><option value=\"\">any"
	    "</option>", label, name);
	while (*p) {
		n = strcspn(p, " ");
		buf_printf(b, "<option%s>%.*s</option>", cur && strlen(cur) ==
		    n && strncmp(cur, p, n) == 0 ? " selected" : "", (int)n, p);
		p += n;
		p += strspn(p, " ");
	}
	buf_printf(b, "</select></label>");
}

static void
input_of(struct buf *b, const char *name, const char *label,
    const char *cur, const char *hint)
{
	buf_printf(b, "<label>%s <input name=\"%s\" value=\"", label, name);
	html_str(b, cur ? cur : "");
	buf_printf(b, "\" placeholder=\"%s\"></label>", hint);
}

/* The link to the next page: the filters of q and after=cursor. */
static void
next_link(struct buf *b, const struct ureq *q, const char *path,
    const char *cursor)
{
	size_t i;

	buf_printf(b, "<p class=\"pager\"><a rel=\"next\" href=\"%s?", path);
	for (i = 0; i < q->q.n; i++) {
		if (strcmp(q->q.name[i], "after") == 0 ||
		    q->q.value[i][0] == '\0')
			continue;
		html_url(b, q->q.name[i]);
		buf_printf(b, "=");
		html_url(b, q->q.value[i]);
		buf_printf(b, "&amp;");
	}
	buf_printf(b, "after=");
	html_url(b, cursor);
	buf_printf(b, "\">Older \xe2\x86\x92</a></p>");
}

/* ---- overview ---- */

static void
servers_table(struct buf *b, struct router *r)
{
	struct router_sinfo si;
	size_t i, n = r ? router_nservers(r) : 0;

	buf_printf(b, "<table class=\"servers\"><thead><tr><th>Server</th>"
	    "<th>State</th><th>Restarts</th><th>Tools</th><th>Last exit"
	    "</th></tr></thead><tbody>");
	for (i = 0; i < n; i++) {
		router_server_info(r, i, &si);
		buf_printf(b, "<tr><td><a href=\"/ui/servers#s-");
		html_url(b, si.name);
		buf_printf(b, "\">");
		html_str(b, si.name);
		buf_printf(b, "</a>%s</td><td>", si.required ?
		    " <small>required</small>" : "");
		badge(b, router_state_name(si.state));
		buf_printf(b, "</td><td class=\"num\">%u</td><td class=\"num\">"
		    "%zu</td><td>", si.restarts, si.ntools);
		text(b, si.last_cause && *si.last_cause ? si.last_cause :
		    NULL);
		buf_printf(b, "</td></tr>");
	}
	if (n == 0)
		buf_printf(b, "<tr><td colspan=\"5\">No servers are "
		    "configured.</td></tr>");
	buf_printf(b, "</tbody></table>");
}

static void
overview_done(struct ureq *q, json_t *v)
{
	static const char *const st[] = { "pending", "running", "waiting",
	    "succeeded", "failed", "cancelled" };
	json_t *bs = json_object_get(v, "by_status");
	struct buf *b = &q->b;
	size_t i;
	json_int_t n;

	buf_printf(b, "<section><h2>Executions, last 24 h</h2><table "
	    "class=\"counts\" id=\"by-status\"><tbody>");
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		n = json_integer_value(json_object_get(bs, st[i]));
		buf_printf(b, "<tr><td>");
		badge(b, st[i]);
		buf_printf(b, "</td><td class=\"num\"><a href=\"/ui/executions"
		    "?status=%s\">%" JSON_INTEGER_FORMAT "</a></td></tr>",
		    st[i], n);
	}
	buf_printf(b, "</tbody></table></section><section><h2>Agent spend "
	    "today (UTC)</h2><p class=\"spend\"><span id=\"spend\">$");
	html_str(b, jstr(v, "spend") ? jstr(v, "spend") : "0");
	buf_printf(b, "</span> over %" JSON_INTEGER_FORMAT " run(s)</p>"
	    "</section>", json_integer_value(json_object_get(v, "runs")));
	foot(b, 0);
	reply(q, 200, NULL, NULL);
}

static void
h_overview(struct ureq *q, const struct http_request *req)
{
	head(&q->b, "Overview", 1, "/ui/");
	buf_printf(&q->b, "<section><h2>Servers</h2>");
	servers_table(&q->b, q->ui->r);
	buf_printf(&q->b, "</section>");
	if (q->ui->db == NULL) {
		buf_printf(&q->b, "<p class=\"note\">No database "
		    "(DATABASE_URL is not set): no executions or spend to "
		    "show.</p>");
		foot(&q->b, 0);
		reply(q, 200, NULL, NULL);
		return;
	}
	db_exec(q, "ui_overview", 0, NULL, overview_done);
}

/* ---- servers ---- */

static void
h_servers(struct ureq *q, const struct http_request *req)
{
	struct router *r = q->ui->r;
	struct router_sinfo si;
	struct buf *b = &q->b;
	json_t *tools = r ? router_tools(r) : json_array(), *t;
	const char *name, *dot;
	size_t i, j, n = r ? router_nservers(r) : 0, len, k;

	head(b, "Servers", 1, "/ui/servers");
	servers_table(b, r);
	for (i = 0; i < n; i++) {
		router_server_info(r, i, &si);
		len = strlen(si.name);
		buf_printf(b, "<section id=\"s-");
		html_url(b, si.name);
		buf_printf(b, "\"><h2>");
		html_str(b, si.name);
		buf_printf(b, " ");
		badge(b, router_state_name(si.state));
		buf_printf(b, "</h2><p class=\"meta\">pid %d \xc2\xb7 %u "
		    "restart(s) \xc2\xb7 protocol ", si.pid, si.restarts);
		html_str(b, si.protocol_version ? si.protocol_version : "-");
		if (si.ping_rtt_ms >= 0)
			buf_printf(b, " \xc2\xb7 ping %.1f ms", si.ping_rtt_ms);
		buf_printf(b, "</p><table class=\"tools\"><thead><tr><th>Tool"
		    "</th><th>Description</th><th>Input schema</th></tr>"
		    "</thead><tbody>");
		k = 0;
		json_array_foreach(tools, j, t) {
			name = jstr(t, "name");
			if (name == NULL || strncmp(name, si.name, len) != 0 ||
			    name[len] != '.')
				continue;
			dot = name + len + 1;
			k++;
			buf_printf(b, "<tr><td><code>");
			html_str(b, dot);
			buf_printf(b, "</code></td><td>");
			text(b, jstr(t, "description"));
			buf_printf(b, "</td><td>");
			value(b, json_object_get(t, "inputSchema"));
			buf_printf(b, "</td></tr>");
		}
		if (k == 0)
			buf_printf(b, "<tr><td colspan=\"3\">No tools listed "
			    "(the server is not ready).</td></tr>");
		buf_printf(b, "</tbody></table></section>");
	}
	json_decref(tools);
	foot(b, 0);
	reply(q, 200, NULL, NULL);
}

/* ---- executions ---- */

static void
executions_done(struct ureq *q, json_t *rows)
{
	struct buf *b = &q->b;
	json_t *row;
	const char *cur = NULL;
	size_t i;

	buf_printf(b, "<table class=\"list\" id=\"executions\"><thead><tr>"
	    "<th>Execution</th><th>Workflow</th><th>Status</th><th>"
	    "Repository</th><th>Title</th><th>Created</th><th>Duration</th>"
	    "<th>Error</th></tr></thead><tbody>");
	json_array_foreach(rows, i, row) {
		if (i == UI_PAGE_ROWS) {
			cur = jstr(json_array_get(rows, i - 1), "cursor");
			break;
		}
		buf_printf(b, "<tr><td>");
		link_id(b, "executions", jstr(row, "id"));
		buf_printf(b, "</td><td>");
		html_str(b, jstr(row, "workflow"));
		buf_printf(b, " <small>v%" JSON_INTEGER_FORMAT "</small></td>"
		    "<td>", json_integer_value(json_object_get(row,
		    "version")));
		badge(b, jstr(row, "status"));
		buf_printf(b, "</td><td>");
		text(b, jstr(row, "repository"));
		buf_printf(b, "</td><td class=\"title\">");
		text(b, jstr(row, "title"));
		buf_printf(b, "</td><td>");
		cell_time(b, jstr(row, "created_at"));
		buf_printf(b, "</td><td class=\"num\">");
		ms(b, json_object_get(row, "duration_ms"));
		buf_printf(b, "</td><td>");
		text(b, jstr(row, "error"));
		buf_printf(b, "</td></tr>");
	}
	if (json_array_size(rows) == 0)
		buf_printf(b, "<tr><td colspan=\"8\">No executions match."
		    "</td></tr>");
	buf_printf(b, "</tbody></table>");
	if (cur != NULL)
		next_link(b, q, "/ui/executions", cur);
	foot(b, 0);
	reply(q, 200, NULL, NULL);
}

static void
h_executions(struct ureq *q, const struct http_request *req)
{
	static const char *const allowed[] = { "workflow", "status",
	    "repository", "after", NULL };
	char ts[28], cid[UUID_LEN + 1], lim[16], owner[64], rname[128];
	const char *st, *wf, *repo, *after, *slash, *p[7];
	struct buf *b = &q->b;

	if (query(q, req, allowed) == -1)
		return;
	st = qv(q, "status");
	wf = qv(q, "workflow");
	repo = qv(q, "repository");
	after = qv(q, "after");
	if (st && strstr(" pending running waiting succeeded failed "
	    "cancelled ", st) == NULL) {
		fail(q, 400, "Unknown status.");
		return;
	}
	if (st && (strchr(st, ' ') || strlen(st) < 6)) {
		fail(q, 400, "Unknown status.");
		return;
	}
	if (wf && strlen(wf) > 128) {
		fail(q, 400, "A workflow name is at most 128 bytes.");
		return;
	}
	owner[0] = rname[0] = '\0';
	if (repo && ((slash = strchr(repo, '/')) == NULL ||
	    slash == repo || (size_t)(slash - repo) >= sizeof(owner) ||
	    strlen(slash + 1) >= sizeof(rname) || slash[1] == '\0')) {
		fail(q, 400, "A repository is OWNER/NAME.");
		return;
	}
	if (repo) {
		snprintf(owner, sizeof(owner), "%.*s", (int)(slash - repo),
		    repo);
		snprintf(rname, sizeof(rname), "%s", slash + 1);
	}
	if (after && !cursor_ok(after, ts, cid)) {
		fail(q, 400, "That is not a page cursor of this console.");
		return;
	}
	head(b, "Executions", 1, "/ui/executions");
	buf_printf(b, "<form method=\"get\" action=\"/ui/executions\" "
	    "class=\"filters\">");
	input_of(b, "workflow", "Workflow", wf, "issue_to_pr");
	select_of(b, "status", "Status", "pending running waiting succeeded "
	    "failed cancelled", st);
	input_of(b, "repository", "Repository", repo, "owner/name");
	buf_printf(b, "<button type=\"submit\">Filter</button></form>");
	snprintf(lim, sizeof(lim), "%d", UI_PAGE_ROWS + 1);
	p[0] = st;
	p[1] = wf;
	p[2] = repo ? owner : NULL;
	p[3] = repo ? rname : NULL;
	p[4] = after ? ts : NULL;
	p[5] = after ? cid : NULL;
	p[6] = lim;
	db_exec(q, "ui_executions", 7, p, executions_done);
}

/* The steps table of execution x (afu9_execution_json()); live: the
   attribute the script looks for while it runs. */
static void
steps_table(struct buf *b, const json_t *x)
{
	const char *st = jstr(x, "status");
	json_t *steps = json_object_get(x, "steps"), *s;
	int live = st && (strcmp(st, "pending") == 0 ||
	    strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0);
	size_t i;

	buf_printf(b, "<div id=\"steps\"%s%s%s><p class=\"meta\">Status ",
	    live ? " data-live=\"" : "", live ? jstr(x, "id") : "",
	    live ? "\"" : "");
	badge(b, st);
	buf_printf(b, " \xc2\xb7 %zu of %" JSON_INTEGER_FORMAT " step(s) run"
	    "%s</p><table class=\"list steps\"><thead><tr><th>#</th><th>Step"
	    "</th><th>Kind</th><th>Attempt</th><th>Status</th><th>Started"
	    "</th><th>Duration</th><th>Input</th><th>Output</th><th>Error"
	    "</th></tr></thead><tbody>", json_array_size(steps),
	    json_integer_value(json_object_get(x, "steps_total")),
	    live ? " \xc2\xb7 <span id=\"live\">live</span>" : "");
	json_array_foreach(steps, i, s) {
		buf_printf(b, "<tr data-step=\"");
		html_str(b, jstr(s, "step"));
		buf_printf(b, "\" data-status=\"");
		html_str(b, jstr(s, "status"));
		buf_printf(b, "\"><td class=\"num\">%" JSON_INTEGER_FORMAT
		    "</td><td>", json_integer_value(json_object_get(s,
		    "index")));
		html_str(b, jstr(s, "step"));
		if (jstr(s, "tool")) {
			buf_printf(b, "<br><small><code>");
			html_str(b, jstr(s, "tool"));
			buf_printf(b, "</code></small>");
		}
		buf_printf(b, "</td><td>");
		html_str(b, jstr(s, "kind"));
		buf_printf(b, "</td><td class=\"num\">%" JSON_INTEGER_FORMAT
		    "</td><td>", json_integer_value(json_object_get(s,
		    "attempt")));
		badge(b, jstr(s, "status"));
		buf_printf(b, "</td><td>");
		cell_time(b, jstr(s, "started_at"));
		buf_printf(b, "</td><td class=\"num\">");
		ms(b, json_object_get(s, "duration_ms"));
		buf_printf(b, "</td><td>");
		value(b, json_object_get(s, "input"));
		buf_printf(b, "</td><td>");
		value(b, json_object_get(s, "output"));
		buf_printf(b, "</td><td>");
		text(b, jstr(s, "error"));
		if (jstr(s, "error_kind")) {
			buf_printf(b, " <small>(");
			html_str(b, jstr(s, "error_kind"));
			buf_printf(b, ")</small>");
		}
		buf_printf(b, "</td></tr>");
	}
	if (json_array_size(steps) == 0)
		buf_printf(b, "<tr><td colspan=\"10\">No step has run yet."
		    "</td></tr>");
	buf_printf(b, "</tbody></table></div>");
}

static void
calls_table(struct buf *b, const json_t *calls, int with_exec)
{
	json_t *c;
	size_t i;

	buf_printf(b, "<table class=\"list calls\"><thead><tr><th>Started"
	    "</th><th>Tool</th><th>Caller</th><th>Status</th><th>Duration"
	    "</th>%s<th>Result or error</th></tr></thead><tbody>",
	    with_exec ? "<th>Execution</th><th>Agent run</th>" : "");
	json_array_foreach(calls, i, c) {
		if (i == 200)
			break;
		buf_printf(b, "<tr><td>");
		cell_time(b, jstr(c, "started_at"));
		buf_printf(b, "</td><td><code>");
		html_str(b, jstr(c, "server"));
		buf_printf(b, ".");
		html_str(b, jstr(c, "tool"));
		buf_printf(b, "</code></td><td>");
		html_str(b, jstr(c, "caller"));
		buf_printf(b, "</td><td>");
		badge(b, json_is_true(json_object_get(c, "is_error")) ?
		    "tool-error" : jstr(c, "status"));
		buf_printf(b, "</td><td class=\"num\">");
		ms(b, json_object_get(c, "duration_ms"));
		buf_printf(b, "</td>");
		if (with_exec) {
			buf_printf(b, "<td>");
			link_id(b, "executions", jstr(c, "execution_id"));
			buf_printf(b, "</td><td>");
			link_id(b, "runs", jstr(c, "agent_run_id"));
			buf_printf(b, "</td>");
		}
		buf_printf(b, "<td>");
		if (jstr(c, "error_message")) {
			buf_printf(b, "<span class=\"errcode\">%"
			    JSON_INTEGER_FORMAT "</span> ", json_integer_value(
			    json_object_get(c, "error_code")));
			text(b, jstr(c, "error_message"));
		} else
			text(b, jstr(c, "result"));
		buf_printf(b, "</td></tr>");
	}
	if (json_array_size(calls) == 0)
		buf_printf(b, "<tr><td colspan=\"%d\">No tool calls.</td>"
		    "</tr>", with_exec ? 8 : 6);
	buf_printf(b, "</tbody></table>");
	if (json_array_size(calls) > 200)
		buf_printf(b, "<p class=\"note\">The first 200 calls are "
		    "shown: the audit log has them all.</p>");
}

static void
execution_done(struct ureq *q, json_t *v)
{
	json_t *x = json_object_get(v, "x"), *runs, *r;
	struct buf *b = &q->b;
	size_t i;

	if (!json_is_object(x)) {
		fail(q, 404, "No such execution.");
		return;
	}
	head(b, "Execution", 1, "/ui/executions");
	buf_printf(b, "<dl class=\"facts\"><dt>Id</dt><dd><code>%s</code>"
	    "</dd><dt>Workflow</dt><dd><a href=\"/ui/executions?workflow=",
	    q->id);
	html_url(b, jstr(x, "workflow") ? jstr(x, "workflow") : "");
	buf_printf(b, "\">");
	html_str(b, jstr(x, "workflow"));
	buf_printf(b, "</a> v%" JSON_INTEGER_FORMAT "</dd><dt>Repository</dt>"
	    "<dd>", json_integer_value(json_object_get(x, "version")));
	text(b, jstr(v, "repository"));
	buf_printf(b, "</dd><dt>Triggered by</dt><dd>");
	text(b, jstr(x, "triggered_by"));
	buf_printf(b, "</dd><dt>Created</dt><dd>");
	cell_time(b, jstr(x, "created_at"));
	buf_printf(b, "</dd><dt>Started</dt><dd>");
	cell_time(b, jstr(x, "started_at"));
	buf_printf(b, "</dd><dt>Finished</dt><dd>");
	cell_time(b, jstr(x, "finished_at"));
	buf_printf(b, "</dd><dt>Input</dt><dd>");
	value(b, json_object_get(x, "input"));
	buf_printf(b, "</dd><dt>Output</dt><dd>");
	value(b, json_object_get(x, "output"));
	buf_printf(b, "</dd><dt>Error</dt><dd>");
	text(b, jstr(x, "error"));
	buf_printf(b, "</dd></dl><section><h2>Steps</h2>");
	steps_table(b, x);
	buf_printf(b, "</section><section><h2>Agent runs</h2><table "
	    "class=\"list runs\"><thead><tr><th>Run</th><th>Model</th><th>"
	    "Status</th><th>Tokens in / out</th><th>Cost</th><th>Started"
	    "</th></tr></thead><tbody>");
	runs = json_object_get(v, "runs");
	json_array_foreach(runs, i, r) {
		buf_printf(b, "<tr><td>");
		link_id(b, "runs", jstr(r, "id"));
		buf_printf(b, "</td><td>");
		html_str(b, jstr(r, "provider"));
		buf_printf(b, " / ");
		html_str(b, jstr(r, "model"));
		buf_printf(b, "</td><td>");
		badge(b, jstr(r, "status"));
		buf_printf(b, "</td><td class=\"num\">%" JSON_INTEGER_FORMAT
		    " / %" JSON_INTEGER_FORMAT "</td><td class=\"num\">$",
		    json_integer_value(json_object_get(r, "input_tokens")),
		    json_integer_value(json_object_get(r, "output_tokens")));
		html_str(b, jstr(r, "cost_usd") ? jstr(r, "cost_usd") : "0");
		buf_printf(b, "</td><td>");
		cell_time(b, jstr(r, "started_at"));
		buf_printf(b, "</td></tr>");
	}
	if (json_array_size(runs) == 0)
		buf_printf(b, "<tr><td colspan=\"6\">No agent runs.</td></tr>");
	buf_printf(b, "</tbody></table></section><section><h2>Tool calls"
	    "</h2>");
	calls_table(b, json_object_get(v, "calls"), 0);
	buf_printf(b, "<p><a href=\"/ui/audit?execution=%s\">All of them in "
	    "the audit log</a></p></section>", q->id);
	foot(b, 1);
	reply(q, 200, NULL, NULL);
}

static void
h_execution(struct ureq *q, const struct http_request *req)
{
	const char *p[1];

	if (param_uuid(q, "No such execution.") == -1)
		return;
	p[0] = q->id;
	db_exec(q, "ui_execution", 1, p, execution_done);
}

static void
steps_done(struct ureq *q, json_t *x)
{
	if (!json_is_object(x)) {
		fail(q, 404, "No such execution.");
		return;
	}
	steps_table(&q->b, x);
	reply(q, 200, NULL, NULL);
}

static void
h_steps(struct ureq *q, const struct http_request *req)
{
	const char *p[1];

	if (param_uuid(q, "No such execution.") == -1)
		return;
	p[0] = q->id;
	db_exec(q, "ui_steps", 1, p, steps_done);
}

/* ---- one agent run ---- */

static json_int_t
jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/*
 * The transcript (agent_messages rows as UISQL_AGENT_RUN gives them, at
 * most 201: the first 200 shown): one row per message, its text cut as
 * text() cuts, an assistant's tool calls with their arguments.
 */
static void
transcript(struct buf *b, const json_t *msgs, json_int_t dropped)
{
	const json_t *m, *c, *k, *calls;
	size_t i, j;

	buf_printf(b, "<table class=\"list transcript\"><thead><tr><th>#"
	    "</th><th>Role</th><th>Tokens in / out</th><th>Content</th></tr>"
	    "</thead><tbody>");
	json_array_foreach(msgs, i, m) {
		if (i == 200)
			break;
		c = json_object_get(m, "content");
		buf_printf(b, "<tr><td class=\"num\">%" JSON_INTEGER_FORMAT
		    "</td><td>", jint(m, "seq"));
		html_str(b, jstr(m, "role"));
		if (jstr(c, "tool")) {
			buf_printf(b, " <code>");
			html_str(b, jstr(c, "tool"));
			buf_printf(b, "</code>");
		}
		if (json_is_true(json_object_get(c, "is_error")))
			badge(b, "tool-error");
		buf_printf(b, "</td><td class=\"num\">");
		if (json_is_integer(json_object_get(m, "input_tokens")))
			buf_printf(b, "%" JSON_INTEGER_FORMAT " / %"
			    JSON_INTEGER_FORMAT, jint(m, "input_tokens"),
			    jint(m, "output_tokens"));
		buf_printf(b, "</td><td>");
		if (jstr(c, "omitted"))
			text(b, jstr(c, "omitted"));
		else
			text(b, jstr(c, "text") ? jstr(c, "text") : "");
		calls = json_object_get(c, "tool_calls");
		json_array_foreach(calls, j, k) {
			buf_printf(b, "<div class=\"call\">\xe2\x86\x92 <code>");
			html_str(b, jstr(k, "tool") ? jstr(k, "tool") :
			    jstr(k, "name"));
			buf_printf(b, "</code> ");
			value(b, json_object_get(k, "arguments"));
			buf_printf(b, "</div>");
		}
		buf_printf(b, "</td></tr>");
	}
	if (json_array_size(msgs) == 0)
		buf_printf(b, "<tr><td colspan=\"4\">No messages recorded."
		    "</td></tr>");
	buf_printf(b, "</tbody></table>");
	if (json_array_size(msgs) > 200)
		buf_printf(b, "<p class=\"note\">The first 200 messages are "
		    "shown: <code>afu9 agent show</code> and GET "
		    "/v1/agent-runs/{id} have them all.</p>");
	if (dropped > 0)
		buf_printf(b, "<p class=\"note\">%" JSON_INTEGER_FORMAT
		    " more message(s) could not be recorded (the database was "
		    "away).</p>", dropped);
}

static void
run_done(struct ureq *q, json_t *v)
{
	json_t *r = json_object_get(v, "run");
	struct buf *b = &q->b;

	if (!json_is_object(r)) {
		fail(q, 404, "No such agent run.");
		return;
	}
	head(b, "Agent run", 1, "/ui/executions");
	buf_printf(b, "<dl class=\"facts\"><dt>Id</dt><dd><code>%s</code>"
	    "</dd><dt>Execution</dt><dd>", q->id);
	link_id(b, "executions", jstr(r, "execution_id"));
	buf_printf(b, "</dd><dt>Step</dt><dd>");
	text(b, jstr(r, "step"));
	buf_printf(b, "</dd><dt>Model</dt><dd>");
	html_str(b, jstr(r, "provider"));
	buf_printf(b, " / ");
	html_str(b, jstr(r, "model"));
	buf_printf(b, "</dd><dt>Status</dt><dd>");
	badge(b, jstr(r, "status"));
	buf_printf(b, "</dd><dt>Tokens</dt><dd id=\"tokens\">%"
	    JSON_INTEGER_FORMAT " in, %" JSON_INTEGER_FORMAT " out, %"
	    JSON_INTEGER_FORMAT " cache read, %" JSON_INTEGER_FORMAT " cache "
	    "write</dd><dt>Turns</dt><dd id=\"turns\">%" JSON_INTEGER_FORMAT
	    ", %" JSON_INTEGER_FORMAT " tool call(s)</dd><dt>Cost</dt><dd "
	    "id=\"cost\">$", jint(r, "input_tokens"), jint(r,
	    "output_tokens"), jint(r, "cache_read_tokens"), jint(r,
	    "cache_write_tokens"), jint(r, "turns"), jint(r, "tool_calls"));
	html_str(b, jstr(r, "cost_usd") ? jstr(r, "cost_usd") : "0");
	buf_printf(b, "</dd><dt>Started</dt><dd>");
	cell_time(b, jstr(r, "started_at"));
	buf_printf(b, "</dd><dt>Duration</dt><dd>");
	ms(b, json_object_get(r, "duration_ms"));
	buf_printf(b, "</dd><dt>Error</dt><dd>");
	text(b, jstr(r, "error"));
	buf_printf(b, "</dd></dl><section><h2>Transcript</h2>");
	transcript(b, json_object_get(v, "messages"), jint(r,
	    "messages_dropped"));
	buf_printf(b, "</section><section><h2>Tool calls</h2>");
	calls_table(b, json_object_get(v, "calls"), 0);
	buf_printf(b, "</section>");
	foot(b, 0);
	reply(q, 200, NULL, NULL);
}

static void
h_run(struct ureq *q, const struct http_request *req)
{
	const char *p[1];

	if (param_uuid(q, "No such agent run.") == -1)
		return;
	p[0] = q->id;
	db_exec(q, "ui_run", 1, p, run_done);
}

/* ---- audit ---- */

static void
audit_done(struct ureq *q, json_t *rows)
{
	struct buf *b = &q->b;
	const char *cur = NULL;

	if (json_array_size(rows) > UI_PAGE_ROWS) {
		cur = jstr(json_array_get(rows, UI_PAGE_ROWS - 1), "cursor");
		json_array_remove(rows, UI_PAGE_ROWS);
	}
	buf_printf(b, "<div id=\"audit\">");
	calls_table(b, rows, 1);
	buf_printf(b, "</div>");
	if (cur != NULL)
		next_link(b, q, "/ui/audit", cur);
	foot(b, 0);
	reply(q, 200, NULL, NULL);
}

static void
h_audit(struct ureq *q, const struct http_request *req)
{
	static const char *const allowed[] = { "server", "tool", "caller",
	    "status", "execution", "after", NULL };
	char ts[28], cid[UUID_LEN + 1], lim[16], ex[UUID_LEN + 1];
	const char *sv, *tool, *caller, *st, *exec, *after, *p[8];
	struct buf *b = &q->b;
	size_t i;

	if (query(q, req, allowed) == -1)
		return;
	sv = qv(q, "server");
	tool = qv(q, "tool");
	caller = qv(q, "caller");
	st = qv(q, "status");
	exec = qv(q, "execution");
	after = qv(q, "after");
	if ((sv && strlen(sv) > 64) || (tool && strlen(tool) > 128)) {
		fail(q, 400, "A server name is at most 64 bytes, a tool's 128.");
		return;
	}
	if (caller && strcmp(caller, "gateway") && strcmp(caller, "cli") &&
	    strcmp(caller, "workflow") && strcmp(caller, "agent")) {
		fail(q, 400, "A caller is gateway, cli, workflow or agent.");
		return;
	}
	if (st && strcmp(st, "running") && strcmp(st, "completed") &&
	    strcmp(st, "failed")) {
		fail(q, 400, "A status is running, completed or failed.");
		return;
	}
	if (exec && (strlen(exec) != UUID_LEN || !store_uuid_ok(exec))) {
		fail(q, 400, "An execution is its id (a UUID).");
		return;
	}
	if (exec) {
		for (i = 0; i <= UUID_LEN; i++)
			ex[i] = (char)tolower((unsigned char)exec[i]);
	}
	if (after && !cursor_ok(after, ts, cid)) {
		fail(q, 400, "That is not a page cursor of this console.");
		return;
	}
	head(b, "Audit log", 1, "/ui/audit");
	buf_printf(b, "<form method=\"get\" action=\"/ui/audit\" "
	    "class=\"filters\">");
	input_of(b, "server", "Server", sv, "github");
	input_of(b, "tool", "Tool", tool, "get_issue");
	select_of(b, "caller", "Caller", "gateway cli workflow agent",
	    caller);
	select_of(b, "status", "Status", "running completed failed", st);
	input_of(b, "execution", "Execution", exec, "uuid");
	buf_printf(b, "<button type=\"submit\">Filter</button></form>");
	snprintf(lim, sizeof(lim), "%d", UI_PAGE_ROWS + 1);
	p[0] = sv;
	p[1] = tool;
	p[2] = caller;
	p[3] = st;
	p[4] = exec ? ex : NULL;
	p[5] = after ? ts : NULL;
	p[6] = after ? cid : NULL;
	p[7] = lim;
	db_exec(q, "ui_audit", 8, p, audit_done);
}

/* ---- webhooks ---- */

static void
webhooks_done(struct ureq *q, json_t *rows)
{
	struct buf *b = &q->b;
	const char *cur = NULL;
	json_t *w, *ex, *e;
	size_t i, k;

	if (json_array_size(rows) > UI_PAGE_ROWS) {
		cur = jstr(json_array_get(rows, UI_PAGE_ROWS - 1), "cursor");
		json_array_remove(rows, UI_PAGE_ROWS);
	}
	if (json_array_size(rows) == 0 && q->q.n == 0) {
		buf_printf(b, "<p id=\"no-webhooks\">No webhook deliveries are "
		    "recorded yet. GitHub sends them to POST "
		    "/v1/webhooks/github once a hook is configured "
		    "(doc/webhooks.md).</p>");
		foot(b, 0);
		reply(q, 200, NULL, NULL);
		return;
	}
	buf_printf(b, "<table class=\"list\" id=\"webhooks\"><thead><tr><th>"
	    "Received</th><th>Delivery</th><th>Event</th><th>Repository</th>"
	    "<th>Outcome</th><th>Executions</th><th>Detail</th></tr></thead>"
	    "<tbody>");
	json_array_foreach(rows, i, w) {
		buf_printf(b, "<tr><td>");
		cell_time(b, jstr(w, "received_at"));
		buf_printf(b, "</td><td><code>");
		html_str(b, jstr(w, "delivery_id"));
		buf_printf(b, "</code>");
		if (json_integer_value(json_object_get(w, "redeliveries")) > 0)
			buf_printf(b, " <span class=\"more\">(+%"
			    JSON_INTEGER_FORMAT " redelivered)</span>",
			    json_integer_value(json_object_get(w,
			    "redeliveries")));
		buf_printf(b, "</td><td><code>");
		html_str(b, jstr(w, "event"));
		if (jstr(w, "action")) {
			buf_printf(b, ".");
			html_str(b, jstr(w, "action"));
		}
		buf_printf(b, "</code></td><td>");
		text(b, jstr(w, "repository"));
		buf_printf(b, "</td><td>");
		badge(b, jstr(w, "outcome"));
		buf_printf(b, "</td><td>");
		ex = json_object_get(w, "executions");
		json_array_foreach(ex, k, e) {
			if (k > 0)
				buf_printf(b, " ");
			link_id(b, "executions", json_string_value(e));
		}
		if (json_array_size(ex) == 0)
			buf_printf(b, "<span class=\"none\">\xe2\x80\x94</span>");
		buf_printf(b, "</td><td>");
		text(b, jstr(w, "detail"));
		buf_printf(b, "</td></tr>");
	}
	if (json_array_size(rows) == 0)
		buf_printf(b, "<tr><td colspan=\"7\">No deliveries match."
		    "</td></tr>");
	buf_printf(b, "</tbody></table>");
	if (cur != NULL)
		next_link(b, q, "/ui/webhooks", cur);
	foot(b, 0);
	reply(q, 200, NULL, NULL);
}

static void
h_webhooks(struct ureq *q, const struct http_request *req)
{
	static const char *const allowed[] = { "outcome", "event",
	    "repository", "after", NULL };
	char ts[28], cid[UUID_LEN + 1], lim[16];
	const char *oc, *ev, *repo, *after, *p[6];
	struct buf *b = &q->b;

	if (query(q, req, allowed) == -1)
		return;
	oc = qv(q, "outcome");
	ev = qv(q, "event");
	repo = qv(q, "repository");
	after = qv(q, "after");
	if (oc && strcmp(oc, "pending") && strcmp(oc, "started") &&
	    strcmp(oc, "woke") && strcmp(oc, "ignored") &&
	    strcmp(oc, "failed")) {
		fail(q, 400, "An outcome is pending, started, woke, ignored or "
		    "failed.");
		return;
	}
	if ((ev && strlen(ev) > 64) || (repo && strlen(repo) > 255)) {
		fail(q, 400, "An event name is at most 64 bytes, a repository "
		    "255.");
		return;
	}
	if (after && !cursor_ok(after, ts, cid)) {
		fail(q, 400, "That is not a page cursor of this console.");
		return;
	}
	head(b, "Webhook deliveries", 1, "/ui/webhooks");
	buf_printf(b, "<form method=\"get\" action=\"/ui/webhooks\" "
	    "class=\"filters\">");
	select_of(b, "outcome", "Outcome", "pending started woke ignored "
	    "failed", oc);
	input_of(b, "event", "Event", ev, "issues");
	input_of(b, "repository", "Repository", repo, "owner/name");
	buf_printf(b, "<button type=\"submit\">Filter</button></form>");
	snprintf(lim, sizeof(lim), "%d", UI_PAGE_ROWS + 1);
	p[0] = oc;
	p[1] = ev;
	p[2] = repo;
	p[3] = after ? ts : NULL;
	p[4] = after ? cid : NULL;
	p[5] = lim;
	db_exec(q, "ui_webhooks", 6, p, webhooks_done);
}

/* ---- static files ---- */

static void
h_static(struct ureq *q, const struct http_request *req)
{
	const char *hdr[] = { q->p == P_CSS ? "Content-Type: text/css; "
	    "charset=utf-8" : "Content-Type: text/javascript; charset=utf-8",
	    "Cache-Control: public, max-age=3600",
	    "X-Content-Type-Options: nosniff", NULL };
	const char *s = q->p == P_CSS ? ui_css : ui_js;
	int st = 200;

	if (http_respond(q->x, 200, hdr, s, strlen(s)) == -1)
		st = 500;
	count(q->ui, q->p, st, q->t0);
	q->x = NULL;
	ureq_free(q);
}

/* ---- live updates ---- */

static void
stream_end(struct ui *ui, struct ustream *s)
{
	LIST_REMOVE(s, entry);
	ui->nstreams--;
	http_stream_end(s->x);
	free(s);
}

/* Send event ev to every stream of execution id (NULL: all); end those
   whose client is gone, and, when finished, all of them. */
static void
fan_out(struct ui *ui, const char *id, const char *ev, int finished)
{
	struct ustream *s, *next;

	for (s = LIST_FIRST(&ui->streams); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (id != NULL && strcmp(s->id, id) != 0)
			continue;
		if (http_stream_event(s->x, ev, NULL, s->id,
		    strlen(s->id)) == -1 && errno != ENOBUFS) {
			stream_end(ui, s);
			continue;
		}
		ui->events_sent++;
		if (finished)
			stream_end(ui, s);
	}
}

static void
check_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct ucheck *c = arg;
	struct ui *ui = c->ui;
	const char *st;
	int fin = 0;

	c->op = NULL;
	TAILQ_REMOVE(&ui->checks, c, entry);
	if (err == NULL) {
		st = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : NULL;
		fin = st == NULL || strcmp(st, "succeeded") == 0 ||
		    strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0;
	}
	fan_out(ui, c->id, fin ? "end" : "step", fin);
	free(c);
}

/* Look at execution id's status, then tell its streams. */
static void
check(struct ui *ui, const char *id)
{
	struct ucheck *c;
	const char *p[1];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		fan_out(ui, id, "step", 0);
		return;
	}
	c->ui = ui;
	snprintf(c->id, sizeof(c->id), "%s", id);
	p[0] = c->id;
	TAILQ_INSERT_TAIL(&ui->checks, c, entry);
	if ((c->op = pgq_exec(ui->db, "ui_status", 1, p, check_done,
	    c)) == NULL) {
		TAILQ_REMOVE(&ui->checks, c, entry);
		free(c);
		fan_out(ui, id, "step", 0);
	}
}

static void
on_notify(struct pgq *db, const char *channel, const char *payload,
    void *arg)
{
	struct ui *ui = arg;
	struct ustream *s;
	int any = 0;

	if (channel == NULL) {
		/* anything may have been missed: every stream looks again */
		LIST_FOREACH(s, &ui->streams, entry)
			check(ui, s->id);
		return;
	}
	if (payload == NULL || strlen(payload) != UUID_LEN)
		return;
	LIST_FOREACH(s, &ui->streams, entry)
		if (strcmp(s->id, payload) == 0)
			any = 1;
	if (any)
		check(ui, payload);
}

static void
plans_done(const PGresult *res, const struct pgq_err *err, void *arg)
{
	if (err != NULL)
		log_warnx("ui: plan_cache_mode: %s", err->message);
}

/* Each connection plans every statement with its values (ui/uisql.h);
   the first five executions of a statement are custom plans anyway, so
   this is in place before a generic one could be chosen. */
static void
on_db_state(struct pgq *db, int up, void *arg)
{
	if (up)
		pgq_exec(db, "ui_custom_plans", 0, NULL, plans_done, NULL);
}

static void
beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ui *ui = w->data;
	struct ustream *s, *next;

	for (s = LIST_FIRST(&ui->streams); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (http_stream_comment(s->x, "heartbeat") == -1 &&
		    errno != ENOBUFS)
			stream_end(ui, s);
	}
}

static void
h_events(struct ureq *q, const struct http_request *req)
{
	struct ui *ui = q->ui;
	struct ustream *s;
	const char *hdr[] = { "X-Content-Type-Options: nosniff",
	    "X-Accel-Buffering: no", NULL };

	if (param_uuid(q, "No such execution.") == -1)
		return;
	if (ui->db == NULL || ui->stopping) {
		fail(q, 503, ui->db == NULL ? "Live updates need the "
		    "database." : "Stopping.");
		return;
	}
	if (ui->nstreams >= UI_STREAMS_MAX) {
		fail(q, 503, "Too many live pages are open.");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		fail(q, 500, "Out of memory.");
		return;
	}
	if (http_stream_sse(q->x, hdr) == -1) {
		free(s);
		http_stream_end(q->x);
		count(ui, q->p, 500, q->t0);
		q->x = NULL;
		ureq_free(q);
		return;
	}
	s->x = q->x;
	memcpy(s->id, q->id, sizeof(s->id));
	LIST_INSERT_HEAD(&ui->streams, s, entry);
	ui->nstreams++;
	count(ui, q->p, 200, q->t0);
	q->x = NULL;
	/* it may have finished before the page's stream came: look once */
	http_stream_write(s->x, "retry: 5000\n\n", 13);
	check(ui, s->id);
	ureq_free(q);
}

/* ---- dispatch ---- */

static void
h_other(struct ureq *q, const struct http_request *req)
{
	fail(q, 404, "There is no such page in the console.");
}

static void (*const page_fn[P_COUNT])(struct ureq *,
    const struct http_request *) = {
	[P_LOGIN] = h_login, [P_LOGIN_POST] = h_login_post,
	[P_LOGOUT] = h_logout, [P_OVERVIEW] = h_overview,
	[P_SERVERS] = h_servers, [P_EXECUTIONS] = h_executions,
	[P_EXECUTION] = h_execution, [P_STEPS] = h_steps,
	[P_EVENTS] = h_events, [P_RUN] = h_run, [P_AUDIT] = h_audit,
	[P_WEBHOOKS] = h_webhooks, [P_CSS] = h_static,
	[P_JS] = h_static, [P_OTHER] = h_other,
};

/* No session (any more): to the login, or 401 for what a page fetches. */
static void
to_login(struct ureq *q)
{
	if (q->p == P_STEPS || q->p == P_EVENTS) {
		fail(q, 401, "Log in again.");
		return;
	}
	redirect(q, "/ui/login", NULL);
}

/* The session's token checked again: the page, or the login. */
static void
recheck_done(const struct auth_result *r, void *arg)
{
	struct ureq *q = arg;

	q->aop = NULL;
	if (r->status == 0) {
		page_fn[q->p](q, q->held);
		return;
	}
	if (r->status == 503) {
		fail(q, 503, "The tokens cannot be checked now (the database "
		    "is unavailable): try again.");
		return;
	}
	/* revoked, expired or gone: so is every session it opened */
	uiauth_close(&q->ui->auth, q->sid);
	to_login(q);
}

static void
h_entry(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct uroute *ur = arg;
	const struct uiauth_sess *sess;
	struct auth_op *op;
	struct ureq *q;
	char peer[AUTH_PEER_MAX], what[160];

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		http_respond(x, 500, NULL, "out of memory\n", 14);
		return;
	}
	q->ui = ur->ui;
	q->x = x;
	q->p = ur->p;
	q->t0 = metrics_now_s();
	buf_init(&q->b, UI_PAGE_MAX);
	TAILQ_INSERT_TAIL(&q->ui->reqs, q, entry);
	switch (q->p) {
	case P_LOGIN: case P_LOGIN_POST: case P_LOGOUT: case P_CSS: case P_JS:
		break;
	default:
		if ((sess = session(q->ui, req, q->sid)) == NULL) {
			to_login(q);
			return;
		}
		if (!sess->who.db)
			break;
		/* a token of the database: still valid? (per page, as the
		   API checks per request) */
		if ((q->held = http_exchange_hold(x, req)) == NULL) {
			fail(q, 500, "Out of memory.");
			return;
		}
		auth_peer(q->ui->check, req, x, peer, sizeof(peer));
		snprintf(what, sizeof(what), "%.*s %.*s (console session)",
		    (int)(req->method.len > 16 ? 16 : req->method.len),
		    req->method.p, (int)(req->path.len > 120 ? 120 :
		    req->path.len), req->path.p);
		/* done may run (and free q) before this returns */
		op = auth_digest(q->ui->check, sess->who.digest, peer, what,
		    &need_read, recheck_done, q);
		if (op != NULL)
			q->aop = op;
		return;
	}
	page_fn[q->p](q, req);
}

struct ui *
ui_new(struct ev_loop *loop, struct http_server *hs, struct router *r,
    const struct ui_opts *o, char *err, size_t errlen)
{
	struct pgq_opts po;
	struct ui *ui;
	int p;

	if ((ui = calloc(1, sizeof(*ui))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ui->loop = loop;
	ui->r = r;
	TAILQ_INIT(&ui->reqs);
	TAILQ_INIT(&ui->checks);
	LIST_INIT(&ui->streams);
	if (o == NULL || o->auth == NULL || uiauth_init(&ui->auth,
	    o->session_ttl_s) == -1) {
		snprintf(err, errlen, "the console needs the token check");
		free(ui);
		return NULL;
	}
	ui->check = o->auth;
	if (o->conninfo != NULL) {
		memset(&po, 0, sizeof(po));
		po.name = "ui";
		po.op_timeout_ms = UI_DB_TIMEOUT_MS;
		po.password = o->password;
		po.listen[0] = "afu9_step";
		po.listen[1] = "afu9_cancel";
		po.notify = on_notify;
		po.state_changed = on_db_state;
		po.arg = ui;
		if ((ui->db = pgq_new(loop, o->conninfo, &po, err,
		    errlen)) == NULL) {
			ui_free(ui);
			return NULL;
		}
		if (pgq_prepare_all(ui->db, stmts, sizeof(stmts) /
		    sizeof(stmts[0]), err, errlen) == -1) {
			ui_free(ui);
			return NULL;
		}
	}
	for (p = 0; p < P_COUNT; p++) {
		ui->ur[p].ui = ui;
		ui->ur[p].p = (enum page)p;
		if (http_server_route(hs, pages[p].method, pages[p].pattern,
		    pages[p].flags, h_entry, &ui->ur[p]) == -1) {
			snprintf(err, errlen, "cannot add the console's HTTP "
			    "routes: %s", strerror(errno));
			ui_free(ui);
			return NULL;
		}
	}
	ev_timer_init(&ui->beat, beat_cb, UI_HEARTBEAT_S, UI_HEARTBEAT_S);
	ui->beat.data = ui;
	ev_timer_start(loop, &ui->beat);
	ev_unref(loop);		/* the heartbeat alone keeps no loop alive */
	return ui;
}

static void
streams_end(struct ui *ui)
{
	while (!LIST_EMPTY(&ui->streams))
		stream_end(ui, LIST_FIRST(&ui->streams));
}

void
ui_free(struct ui *ui)
{
	struct ureq *q;
	struct ucheck *c;

	if (ui == NULL)
		return;
	if (ev_is_active(&ui->beat)) {
		ev_ref(ui->loop);
		ev_timer_stop(ui->loop, &ui->beat);
	}
	streams_end(ui);
	while ((q = TAILQ_FIRST(&ui->reqs)) != NULL) {
		http_respond(q->x, 503, NULL, "stopping\n", 9);
		ureq_free(q);
	}
	while ((c = TAILQ_FIRST(&ui->checks)) != NULL) {
		TAILQ_REMOVE(&ui->checks, c, entry);
		pgq_op_forget(c->op);
		free(c);
	}
	if (ui->db != NULL)
		pgq_free(ui->db);
	uiauth_clear(&ui->auth);
	free(ui);
}

/* ---- subsystem ---- */

static void
stopped_cb(int revents, void *arg)
{
	struct ui *ui = arg;

	ui->stop_done(ui->stop_arg);
}

static void
us_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	struct ui *ui = self;

	ui->stop_done = done;
	ui->stop_arg = arg;
	ui->stopping = 1;
	streams_end(ui);
	if (ev_is_active(&ui->beat)) {
		ev_ref(ui->loop);
		ev_timer_stop(ui->loop, &ui->beat);
	}
	/* done runs from the loop, never inside the call */
	ev_once(ui->loop, -1, 0, 0., stopped_cb, ui);
}

static int
us_metrics(const void *self, struct buf *b)
{
	const struct ui *ui = self;
	char lab[160];
	int p, c, rc = 0;

	rc |= metrics_head(b, "afu9_ui_requests_total", "counter",
	    "Console requests answered, by route and status code.");
	for (p = 0; p < P_COUNT; p++)
		for (c = 0; c <= HTTP_STATUS_MAX - HTTP_STATUS_MIN; c++)
			if (ui->count[p][c] != 0)
				rc |= buf_printf(b, "afu9_ui_requests_total{"
				    "method=\"%s\",route=\"%s\",code=\"%d\"} %"
				    PRIu64 "\n", pages[p].method ?
				    pages[p].method : "any", p == P_OTHER ?
				    "other" : pages[p].pattern,
				    c + HTTP_STATUS_MIN, ui->count[p][c]);
	rc |= metrics_head(b, "afu9_ui_request_duration_seconds",
	    "histogram", "Console requests from their handler to their "
	    "answer (pages: rendered), by route.");
	for (p = 0; p < P_COUNT; p++) {
		snprintf(lab, sizeof(lab), "method=\"%s\",route=\"%s\"",
		    pages[p].method ? pages[p].method : "any", p == P_OTHER ?
		    "other" : pages[p].pattern);
		rc |= metrics_hist_write(b, "afu9_ui_request_duration_seconds",
		    lab, &ui->dur[p]);
	}
	rc |= metrics_head(b, "afu9_ui_logins_total", "counter",
	    "Console logins, by outcome.");
	rc |= buf_printf(b, "afu9_ui_logins_total{outcome=\"ok\"} %" PRIu64
	    "\nafu9_ui_logins_total{outcome=\"wrong\"} %" PRIu64
	    "\nafu9_ui_logins_total{outcome=\"limited\"} %" PRIu64 "\n",
	    ui->logins_ok, ui->logins_failed, ui->logins_limited);
	rc |= metrics_head(b, "afu9_ui_streams", "gauge",
	    "Live execution pages (event streams) open.");
	rc |= buf_printf(b, "afu9_ui_streams %zu\n", ui->nstreams);
	rc |= metrics_head(b, "afu9_ui_events_total", "counter",
	    "Events sent to live execution pages.");
	rc |= buf_printf(b, "afu9_ui_events_total %" PRIu64 "\n",
	    ui->events_sent);
	return rc ? -1 : 0;
}

static json_t *
us_status(const void *self)
{
	const struct ui *ui = self;

	if (ui->db == NULL)
		return json_pack("{s:s,s:I}", "database", "disabled",
		    "streams", (json_int_t)ui->nstreams);
	return json_pack("{s:s,s:I}", "database", pgq_up(ui->db) ? "up" :
	    "down", "streams", (json_int_t)ui->nstreams);
}

void
ui_subsys(struct ui *ui, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "ui";
	out->key = "ui";
	out->self = ui;
	out->stop = us_stop;
	out->status = us_status;
	out->metrics = us_metrics;
}
