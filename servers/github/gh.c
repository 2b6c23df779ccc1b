/*
 * gh: GitHub REST requests on top of httpc.
 *
 * A request goes through these states:
 *
 *	GR_FAILING	no token: r->soon (a later) delivers the error from
 *			the loop, so the callback never runs inside
 *			gh_request()
 *	GR_SENDING	an httpc transfer is in flight (r->hr)
 *	GR_WAITING	between attempts: r->timer runs the next one
 *	GR_CALLBACK	the user callback is running; the request is
 *			already off g->reqs, freed when the callback returns
 *
 * Every HTTP outcome is judged once (judge_*): either it ends the request
 * with a result, or it asks for another attempt after a wait.  Messages
 * are built in a fixed buffer (struct msg), so each one is bounded, and
 * pass through redact_str() before anyone sees them.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ev.h>
#include <jansson.h>
#include <sodium.h>

#include "httpc.h"
#include "later.h"
#include "log.h"
#include "redact.h"
#include "utf8.h"
#include "gh.h"

#define GH_DEF_ATTEMPTS		3u
#define GH_MAX_ATTEMPTS		10u
#define GH_DEF_BASE_S		1.0
#define GH_DEF_CAP_S		20.0
#define GH_DEF_MAX_WAIT_S	60.0
#define GH_SECONDARY_WAIT_S	60.0  /* GitHub's advice without Retry-After */
#define GH_DEF_ETAG_ENTRIES	256u
#define GH_DEF_ETAG_BYTES	((size_t)16 * 1024 * 1024)
#define GH_MAX_ETAG		256u	/* an ETag value */
#define GH_MSG_MAX		4096u	/* one message */
#define GH_QUOTE_MAX		512u	/* GitHub's text quoted in it */
#define GH_MAX_ERRORS		10u	/* errors[] items listed */
#define GH_MAX_SCOPES		32u
#define GH_MAX_SCOPE_LEN	64u
#define GH_MAX_METHOD		15u

#define GH_OOM_MESSAGE		"the GitHub request failed: out of memory"

/* One cached GET: the URL, its ETag, the body and next link with it. */
struct gh_etag {
	char			*url;
	char			*etag;
	char			*body;
	char			*next;		/* Link rel="next", or NULL */
	size_t			 len;
	size_t			 size;	/* what it counts against the bound */
	long			 status;
	unsigned		 refs;	/* requests that sent this ETag */
	int			 linked;	/* still in the cache */
	TAILQ_ENTRY(gh_etag)	 lru;
};

struct gh {
	struct ev_loop		*loop;
	struct httpc		*h;
	char			*api_url;
	size_t			 api_len;
	char			*auth_hdr;	/* "Authorization: Bearer T" */
	size_t			 auth_len;
	char			*token_err;	/* why there is no token */
	char			*ua_hdr;
	unsigned		 max_attempts;
	double			 base_s;
	double			 cap_s;
	double			 max_wait_s;
	double			 wait_scale;
	long			 timeout_ms;
	size_t			 etag_max;
	size_t			 etag_bytes_max;
	size_t			 etag_n;
	size_t			 etag_bytes;
	TAILQ_HEAD(gh_etags, gh_etag) etags;	/* most recently used first */
	LIST_HEAD(, gh_req)	 reqs;	/* every request not in callback */
	int			 in_callback;
	int			 dying;
};

enum gr_state {
	GR_FAILING,
	GR_SENDING,
	GR_WAITING,
	GR_CALLBACK
};

struct gh_req {
	struct gh		*g;
	enum gr_state		 state;
	char			 method[GH_MAX_METHOD + 1];
	char			*url;
	char			*what;	/* "GET /repos/o/r" for messages */
	char			*rel;	/* path + query under the API URL */
	char			*body;
	size_t			 body_len;
	int			 idempotent;
	int			 conditional;
	unsigned		 attempts;
	struct httpc_req	*hr;
	ev_timer		 timer;
	struct later		 soon;		/* GR_FAILING */
	struct gh_etag		*etag;		/* entry whose ETag was sent */
	char			*next;		/* Link rel="next" */
	gh_done_fn		 done;
	void			*arg;
	LIST_ENTRY(gh_req)	 entry;
};

struct msg {
	char	s[GH_MSG_MAX];
	size_t	len;
};

static void	gh_destroy(struct gh *);

/* ---- bounded messages ---- */

static void msg_add(struct msg *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Append formatted text, truncating at the bound. */
static void
msg_add(struct msg *m, const char *fmt, ...)
{
	va_list ap;
	size_t avail = sizeof(m->s) - m->len;
	int n;

	if (avail <= 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(m->s + m->len, avail, fmt, ap);
	va_end(ap);
	if (n < 0)
		m->s[m->len] = '\0';
	else
		m->len += (size_t)n < avail ? (size_t)n : avail - 1;
}

/*
 * Append text from the network: at most `max` bytes (cut back to a
 * character boundary, "..." marking the cut), control bytes as spaces.
 */
static void
msg_text(struct msg *m, const char *t, size_t max)
{
	size_t n = strlen(t), i;
	int cut = 0;

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
			n--;
		cut = 1;
	}
	for (i = 0; i < n && m->len + 1 < sizeof(m->s); i++) {
		unsigned char c = (unsigned char)t[i];

		m->s[m->len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	m->s[m->len] = '\0';
	if (cut)
		msg_add(m, "...");
}

/* ---- configuration ---- */

static void
set_err(char *err, size_t errlen, const char *text)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", text);
}

/*
 * Normalise an API URL into a new string in *out: http(s) only, a host,
 * no userinfo, query, fragment, blanks or control bytes; trailing
 * slashes dropped.  0, or -1 with *out NULL.  The value is never echoed:
 * it could hold credentials.
 */
static int
api_url_norm(const char *in, char **out)
{
	size_t len, hs, hl, i;
	const char *host;

	*out = NULL;
	len = strnlen(in, GH_MAX_API_URL + 1);
	if (len > GH_MAX_API_URL)
		return -1;
	if (strncasecmp(in, "https://", 8) == 0)
		hs = 8;
	else if (strncasecmp(in, "http://", 7) == 0)
		hs = 7;
	else
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
			return -1;
	}
	host = in + hs;
	hl = strcspn(host, "/");
	if (hl == 0 || memchr(host, '@', hl) != NULL)
		return -1;
	while (len > hs + hl && in[len - 1] == '/')
		len--;
	if ((*out = strndup(in, len)) == NULL)
		return -1;
	return 0;
}

static int
token_fail(struct gh *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record why there is no token.  0, or -1 on ENOMEM. */
static int
token_fail(struct gh *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&g->token_err, fmt, ap);
	va_end(ap);
	if (n < 0) {
		g->token_err = NULL;
		return -1;
	}
	return 0;
}

/*
 * Take the token t[0..len) (surrounding blanks trimmed) from `src`: check
 * it, register it as a secret and build the Authorization header.  A bad
 * token is recorded in token_err.  0, or -1 on ENOMEM.
 */
static int
token_set(struct gh *g, const char *t, size_t len, const char *src)
{
	char *copy;
	size_t i;
	int rc;

	while (len > 0 &&
	    (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')) {
		t++;
		len--;
	}
	while (len > 0 && (t[len - 1] == ' ' || t[len - 1] == '\t' ||
	    t[len - 1] == '\r' || t[len - 1] == '\n'))
		len--;
	if (len == 0)
		return token_fail(g, "%s is empty: it must hold a GitHub token",
		    src);
	if (len > GH_MAX_TOKEN)
		return token_fail(g, "%s is longer than %u bytes: it must hold "
		    "only a GitHub token", src, GH_MAX_TOKEN);
	for (i = 0; i < len; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return token_fail(g, "%s holds blanks or control "
			    "characters: it must hold only a GitHub token",
			    src);
	if (len < 4)
		return token_fail(g, "%s is too short to be a GitHub token",
		    src);
	if ((copy = strndup(t, len)) == NULL)
		return -1;
	rc = redact_add_secret(copy);
	if (rc == 0) {
		g->auth_len = strlen("Authorization: Bearer ") + len;
		rc = asprintf(&g->auth_hdr, "Authorization: Bearer %s", copy);
		if (rc < 0)
			g->auth_hdr = NULL;
		rc = rc < 0 ? -1 : 0;
	}
	sodium_memzero(copy, len);
	free(copy);
	return rc;
}

/* Read the token from GITHUB_TOKEN_FILE `path`.  0, or -1 on ENOMEM. */
static int
token_from_file(struct gh *g, const char *path)
{
	char buf[GH_MAX_TOKEN_FILE + 1];
	size_t have = 0;
	ssize_t n;
	int fd, rc, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return token_fail(g, "GITHUB_TOKEN_FILE %s cannot be read: %s",
		    path, strerror(errno));
	while (have < sizeof(buf)) {
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	saved = errno;
	close(fd);
	if (n == -1)
		rc = token_fail(g, "GITHUB_TOKEN_FILE %s cannot be read: %s",
		    path, strerror(saved));
	else if (have > GH_MAX_TOKEN_FILE)
		rc = token_fail(g, "GITHUB_TOKEN_FILE %s is larger than %u "
		    "bytes: it must hold only a GitHub token", path,
		    GH_MAX_TOKEN_FILE);
	else if (memchr(buf, '\0', have) != NULL)
		rc = token_fail(g, "GITHUB_TOKEN_FILE %s holds NUL bytes: it "
		    "must hold only a GitHub token", path);
	else
		rc = token_set(g, buf, have, "GITHUB_TOKEN_FILE");
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

/* The token from the config, GITHUB_TOKEN or GITHUB_TOKEN_FILE.  0, or -1
   on ENOMEM; a missing or bad token only sets token_err. */
static int
token_load(struct gh *g, const char *cfg_token)
{
	const char *t = cfg_token, *file;

	if (t == NULL || *t == '\0')
		t = getenv("GITHUB_TOKEN");
	if (t != NULL && *t != '\0')
		return token_set(g, t, strlen(t), "GITHUB_TOKEN");
	file = getenv("GITHUB_TOKEN_FILE");
	if (file != NULL && *file != '\0')
		return token_from_file(g, file);
	return token_fail(g, "GITHUB_TOKEN is not set: start the server with "
	    "a GitHub token in GITHUB_TOKEN or GITHUB_TOKEN_FILE");
}

/* Copy the tunables from cfg, defaults for zeros and nonsense. */
static void
gh_tunables(struct gh *g, const struct gh_config *c)
{
	g->max_attempts = c && c->max_attempts > 0 ? c->max_attempts :
	    GH_DEF_ATTEMPTS;
	if (g->max_attempts > GH_MAX_ATTEMPTS)
		g->max_attempts = GH_MAX_ATTEMPTS;
	g->base_s = c && c->backoff_base_s > 0 ? c->backoff_base_s :
	    GH_DEF_BASE_S;
	g->cap_s = c && c->backoff_cap_s > 0 ? c->backoff_cap_s : GH_DEF_CAP_S;
	g->max_wait_s = c && c->max_retry_after_s > 0 ? c->max_retry_after_s :
	    GH_DEF_MAX_WAIT_S;
	g->wait_scale = c && c->wait_scale > 0 ? c->wait_scale : 1.0;
	g->etag_max = c && c->etag_entries > 0 ? c->etag_entries :
	    GH_DEF_ETAG_ENTRIES;
	g->etag_bytes_max = c && c->etag_bytes > 0 ? c->etag_bytes :
	    GH_DEF_ETAG_BYTES;
	g->timeout_ms = c && c->timeout_ms > 0 ? c->timeout_ms : 0;
}

struct gh *
gh_new(struct ev_loop *loop, struct httpc *h, const struct gh_config *cfg,
    char *err, size_t errlen)
{
	struct gh *g;
	const char *url = cfg ? cfg->api_url : NULL;
	const char *ua = cfg && cfg->user_agent ? cfg->user_agent :
	    "afu9/" AFU9_VERSION;

	if (loop == NULL || h == NULL) {
		set_err(err, errlen, "gh_new: no loop or HTTP client");
		return NULL;
	}
	if ((g = calloc(1, sizeof(*g))) == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	g->loop = loop;
	g->h = h;
	TAILQ_INIT(&g->etags);
	LIST_INIT(&g->reqs);
	gh_tunables(g, cfg);
	if (url == NULL || *url == '\0')
		url = getenv("GITHUB_API_URL");
	if (url == NULL || *url == '\0')
		url = GH_DEFAULT_API_URL;
	if (api_url_norm(url, &g->api_url) == -1) {
		set_err(err, errlen, "GITHUB_API_URL is not usable: give an "
		    "http:// or https:// URL such as https://api.github.com or "
		    "https://HOST/api/v3, without credentials, query or "
		    "fragment");
		gh_destroy(g);
		return NULL;
	}
	g->api_len = strlen(g->api_url);
	if (strpbrk(ua, "\r\n") != NULL ||
	    asprintf(&g->ua_hdr, "User-Agent: %s", ua) < 0) {
		g->ua_hdr = NULL;
		set_err(err, errlen, "bad user agent, or out of memory");
		gh_destroy(g);
		return NULL;
	}
	if (token_load(g, cfg ? cfg->token : NULL) == -1) {
		set_err(err, errlen, "out of memory");
		gh_destroy(g);
		return NULL;
	}
	return g;
}

const char *
gh_api_url(const struct gh *g)
{
	return g->api_url;
}

int
gh_has_token(const struct gh *g)
{
	return g->auth_hdr != NULL;
}

size_t
gh_cache_count(const struct gh *g)
{
	return g->etag_n;
}

const char *
gh_err_name(enum gh_err e)
{
	switch (e) {
	case GH_OK:			return "ok";
	case GH_ERR_CONFIG:		return "config";
	case GH_ERR_AUTH:		return "auth";
	case GH_ERR_FORBIDDEN:		return "forbidden";
	case GH_ERR_RATE_LIMIT:		return "rate_limit";
	case GH_ERR_SECONDARY_LIMIT:	return "secondary_rate_limit";
	case GH_ERR_NOT_FOUND:		return "not_found";
	case GH_ERR_CONFLICT:		return "conflict";
	case GH_ERR_VALIDATION:		return "validation";
	case GH_ERR_HTTP:		return "http";
	case GH_ERR_SERVER:		return "server";
	case GH_ERR_NETWORK:		return "network";
	case GH_ERR_RESPONSE:		return "response";
	case GH_ERR_INTERNAL:		return "internal";
	}
	return "unknown";
}

/* ---- the ETag cache ---- */

static void
etag_free(struct gh_etag *e)
{
	free(e->url);
	free(e->etag);
	free(e->body);
	free(e->next);
	free(e);
}

/* Take e out of the cache; freed now unless a request still holds it. */
static void
etag_unlink(struct gh *g, struct gh_etag *e)
{
	TAILQ_REMOVE(&g->etags, e, lru);
	e->linked = 0;
	g->etag_n--;
	g->etag_bytes -= e->size;
	if (e->refs == 0)
		etag_free(e);
}

static void
etag_unref(struct gh_etag *e)
{
	if (--e->refs == 0 && !e->linked)
		etag_free(e);
}

/* The entry for url (borrowed), marked most recently used; or NULL. */
static struct gh_etag *
etag_find(struct gh *g, const char *url)
{
	struct gh_etag *e;

	TAILQ_FOREACH(e, &g->etags, lru)
		if (strcmp(e->url, url) == 0) {
			TAILQ_REMOVE(&g->etags, e, lru);
			TAILQ_INSERT_HEAD(&g->etags, e, lru);
			return e;
		}
	return NULL;
}

/* Is v usable as an ETag we send back (printable ASCII, bounded)? */
static int
etag_ok(const char *v)
{
	size_t i;

	if (v == NULL || *v == '\0' || strlen(v) > GH_MAX_ETAG)
		return 0;
	for (i = 0; v[i]; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f)
			return 0;
	return 1;
}

/*
 * Remember body[0..len) and the next link (NULL: none) under url with its
 * ETag, replacing any older entry, then evict least recently used entries
 * down to both bounds.  An entry larger than the byte bound is not kept.
 * Out of memory only means nothing is cached.
 */
static void
etag_put(struct gh *g, const char *url, const char *etag, const char *body,
    size_t len, long status, const char *next)
{
	struct gh_etag *e, *old;
	size_t size = len + strlen(url) + strlen(etag) +
	    (next ? strlen(next) : 0);

	TAILQ_FOREACH(old, &g->etags, lru)
		if (strcmp(old->url, url) == 0) {
			etag_unlink(g, old);
			break;
		}
	if (size > g->etag_bytes_max || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	e->url = strdup(url);
	e->etag = strdup(etag);
	e->body = malloc(len + 1);
	e->next = next ? strdup(next) : NULL;
	if (e->url == NULL || e->etag == NULL || e->body == NULL ||
	    (next != NULL && e->next == NULL)) {
		etag_free(e);
		return;
	}
	memcpy(e->body, body, len);
	e->body[len] = '\0';
	e->len = len;
	e->size = size;
	e->status = status;
	e->linked = 1;
	TAILQ_INSERT_HEAD(&g->etags, e, lru);
	g->etag_n++;
	g->etag_bytes += size;
	while (g->etag_n > g->etag_max || g->etag_bytes > g->etag_bytes_max)
		etag_unlink(g, TAILQ_LAST(&g->etags, gh_etags));
}

/* ---- header parsing ---- */

/* A non-negative decimal header value, or -1 when absent or malformed. */
static long long
num_header(const struct httpc_response *resp, const char *name)
{
	const char *v = httpc_header(resp, name);
	long long n = 0;
	size_t i;

	if (v == NULL || *v == '\0' || strlen(v) > 18)
		return -1;
	for (i = 0; v[i]; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (v[i] - '0');
	}
	return n;
}

static void
rate_parse(const struct httpc_response *resp, struct gh_rate *rt)
{
	const char *res = httpc_header(resp, "x-ratelimit-resource");
	long long v;

	v = num_header(resp, "x-ratelimit-limit");
	rt->limit = v >= 0 && v <= 0x7fffffff ? (long)v : -1;
	v = num_header(resp, "x-ratelimit-remaining");
	rt->remaining = v >= 0 && v <= 0x7fffffff ? (long)v : -1;
	v = num_header(resp, "x-ratelimit-used");
	rt->used = v >= 0 && v <= 0x7fffffff ? (long)v : -1;
	rt->reset = num_header(resp, "x-ratelimit-reset");
	rt->resource[0] = '\0';
	if (res != NULL && strlen(res) < sizeof(rt->resource) &&
	    strspn(res, "abcdefghijklmnopqrstuvwxyz_-0123456789") ==
	    strlen(res))
		memcpy(rt->resource, res, strlen(res) + 1);
}

/* Retry-After in seconds (delta or HTTP-date), or -1. */
static long long
retry_after(const struct httpc_response *resp)
{
	const char *v = httpc_header(resp, "Retry-After");
	long long n;
	time_t t, now;

	if (v == NULL)
		return -1;
	if ((n = num_header(resp, "Retry-After")) >= 0)
		return n;
	if ((t = curl_getdate(v, NULL)) == -1)
		return -1;
	now = time(NULL);
	return t > now ? (long long)(t - now) : 0;
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A link-param value (token or quoted-string) at p into out, truncated
   to outlen; returns the end, or NULL on an unterminated quote. */
static const char *
link_value(const char *p, char *out, size_t outlen)
{
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return NULL;
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 < outlen)
				out[n++] = *p;
		}
		p++;
	} else {
		for (; *p && strchr(";, \t", *p) == NULL; p++)
			if (n + 1 < outlen)
				out[n++] = *p;
	}
	out[n] = '\0';
	return p;
}

/* Does the blank-separated relation list hold "next"? */
static int
rel_has_next(const char *v)
{
	size_t n;

	for (;;) {
		v += strspn(v, " \t");
		if (*v == '\0')
			return 0;
		n = strcspn(v, " \t");
		if (n == 4 && strncasecmp(v, "next", 4) == 0)
			return 1;
		v += n;
	}
}

/*
 * Parse the ";name=value" parameters after one link target; p is just
 * past the '>'.  Sets *next when the first rel parameter lists "next".
 * Returns the end (at ',' or NUL), or NULL when malformed.
 */
static const char *
link_params(const char *p, int *next)
{
	char name[32], val[256];
	int seen_rel = 0;
	size_t n;

	*next = 0;
	for (;;) {
		p = skip_ows(p);
		if (*p != ';')
			break;
		p = skip_ows(p + 1);
		for (n = 0; *p && strchr(";,= \t", *p) == NULL; p++)
			if (n + 1 < sizeof(name))
				name[n++] = *p;
		name[n] = '\0';
		p = skip_ows(p);
		val[0] = '\0';
		if (*p == '=' &&
		    (p = link_value(skip_ows(p + 1), val, sizeof(val))) == NULL)
			return NULL;
		if (!seen_rel && strcasecmp(name, "rel") == 0) {
			seen_rel = 1;
			*next = rel_has_next(val);
		}
	}
	return *p == ',' || *p == '\0' ? p : NULL;
}

char *
gh_link_next(const char *link)
{
	const char *p = link, *u, *ue;
	int next;

	if (link == NULL)
		return NULL;
	for (;;) {
		p = skip_ows(p);
		while (*p == ',')
			p = skip_ows(p + 1);
		if (*p != '<')
			return NULL;
		u = p + 1;
		if ((ue = strchr(u, '>')) == NULL ||
		    (p = link_params(ue + 1, &next)) == NULL)
			return NULL;
		if (next)
			return strndup(u, (size_t)(ue - u));
	}
}

/* ---- OAuth scopes ---- */

struct scopes {
	char	v[GH_MAX_SCOPES][GH_MAX_SCOPE_LEN];
	size_t	n;
};

/* A granted scope implies these (GitHub's scope hierarchy). */
static const struct {
	const char	*parent;
	const char	*child;
} scope_implies[] = {
	{ "repo", "repo:status" },
	{ "repo", "repo_deployment" },
	{ "repo", "public_repo" },
	{ "repo", "repo:invite" },
	{ "repo", "security_events" },
	{ "admin:repo_hook", "write:repo_hook" },
	{ "admin:repo_hook", "read:repo_hook" },
	{ "write:repo_hook", "read:repo_hook" },
	{ "admin:org", "write:org" },
	{ "admin:org", "read:org" },
	{ "write:org", "read:org" },
	{ "admin:public_key", "write:public_key" },
	{ "admin:public_key", "read:public_key" },
	{ "write:public_key", "read:public_key" },
	{ "admin:gpg_key", "write:gpg_key" },
	{ "admin:gpg_key", "read:gpg_key" },
	{ "write:gpg_key", "read:gpg_key" },
	{ "admin:ssh_signing_key", "write:ssh_signing_key" },
	{ "admin:ssh_signing_key", "read:ssh_signing_key" },
	{ "write:ssh_signing_key", "read:ssh_signing_key" },
	{ "user", "read:user" },
	{ "user", "user:email" },
	{ "user", "user:follow" },
	{ "write:packages", "read:packages" },
	{ "write:discussion", "read:discussion" },
	{ "project", "read:project" },
	{ "admin:enterprise", "manage_runners:enterprise" },
	{ "admin:enterprise", "manage_billing:enterprise" },
	{ "admin:enterprise", "read:enterprise" },
};

/* Split a comma-separated scope list; overlong names are dropped. */
static void
scopes_parse(const char *s, struct scopes *out)
{
	size_t n;

	out->n = 0;
	while (s != NULL && *s != '\0' && out->n < GH_MAX_SCOPES) {
		s += strspn(s, " \t,");
		n = strcspn(s, ",");
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n > 0 && n < GH_MAX_SCOPE_LEN) {
			memcpy(out->v[out->n], s, n);
			out->v[out->n++][n] = '\0';
		}
		s += n;
		s += strcspn(s, ",");
	}
}

static int
scope_granted(const struct scopes *have, const char *want)
{
	size_t i, j;

	for (i = 0; i < have->n; i++) {
		if (strcmp(have->v[i], want) == 0)
			return 1;
		for (j = 0; j < sizeof(scope_implies) / sizeof(*scope_implies);
		    j++)
			if (strcmp(scope_implies[j].parent, have->v[i]) == 0 &&
			    strcmp(scope_implies[j].child, want) == 0)
				return 1;
	}
	return 0;
}

/* ", "-joined, each name quoted when `quote`. */
static void
msg_scopes(struct msg *m, const struct scopes *s, int quote)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		msg_add(m, "%s%s", i ? ", " : "", quote ? "\"" : "");
		msg_text(m, s->v[i], GH_MAX_SCOPE_LEN);
		if (quote)
			msg_add(m, "\"");
	}
}

/* ---- request lifetime ---- */

static void
req_free(struct gh_req *r)
{
	ev_timer_stop(r->g->loop, &r->timer);
	later_cancel(&r->soon);
	if (r->etag != NULL)
		etag_unref(r->etag);
	free(r->url);
	free(r->what);
	free(r->rel);
	free(r->body);
	free(r->next);
	free(r);
}

/*
 * End the request: fill in the message (redacted, valid UTF-8) and the
 * bookkeeping, take the request off the list, run the callback, free.
 * `res->body` passes to the callback.
 */
static void
req_finish(struct gh_req *r, struct gh_result *res, struct msg *m)
{
	struct gh *g = r->g;
	char *text = NULL;

	res->attempts = r->attempts;
	res->message = NULL;
	if (res->err != GH_OK) {
		u8_fix(m->s);
		text = redact_str(m->s);
		res->message = text != NULL ? text : GH_OOM_MESSAGE;
	}
	if (r->next != NULL &&
	    !redact_contains_secret(r->next, strlen(r->next)))
		res->next_url = r->next;
	LIST_REMOVE(r, entry);
	r->state = GR_CALLBACK;
	g->in_callback++;
	r->done(r, res, r->arg);
	g->in_callback--;
	free(text);
	req_free(r);
	if (g->dying && g->in_callback == 0)
		gh_destroy(g);
}

/* End the request with an error and no HTTP details. */
static void
req_fail(struct gh_req *r, enum gh_err err, const char *text)
{
	struct gh_result res;
	struct msg m;

	memset(&res, 0, sizeof(res));
	res.err = err;
	res.rate.limit = res.rate.remaining = res.rate.used = -1;
	res.rate.reset = -1;
	m.len = 0;
	m.s[0] = '\0';
	msg_add(&m, "%s", text);
	req_finish(r, &res, &m);
}

static void	http_done(struct httpc_req *, const struct httpc_response *,
		    void *);

/*
 * Start one HTTP attempt; a conditional GET whose URL is cached sends its
 * ETag and holds the entry until the answer.  0, or -1 when httpc
 * refused (out of memory).
 */
static int
attempt_start(struct gh_req *r)
{
	struct gh *g = r->g;
	const char *hdrs[8];
	char *inm = NULL;
	struct gh_etag *e;
	size_t n = 0;

	hdrs[n++] = "Accept: application/vnd.github+json";
	hdrs[n++] = "X-GitHub-Api-Version: " GH_API_VERSION;
	hdrs[n++] = g->ua_hdr;
	hdrs[n++] = g->auth_hdr;
	if (r->body != NULL)
		hdrs[n++] = "Content-Type: application/json";
	if (r->conditional && (e = etag_find(g, r->url)) != NULL) {
		if (asprintf(&inm, "If-None-Match: %s", e->etag) < 0)
			return -1;
		hdrs[n++] = inm;
		r->etag = e;
		e->refs++;
	}
	hdrs[n] = NULL;
	r->hr = httpc_request(g->h, r->method, r->url, hdrs, r->body,
	    r->body_len, g->timeout_ms, http_done, r);
	free(inm);
	if (r->hr == NULL) {
		if (r->etag != NULL)
			etag_unref(r->etag);
		r->etag = NULL;
		return -1;
	}
	r->state = GR_SENDING;
	return 0;
}

/* No token: the error, from the loop. */
static void
soon_cb(void *arg)
{
	struct gh_req *r = arg;

	req_fail(r, GH_ERR_CONFIG, r->g->token_err ? r->g->token_err :
	    GH_OOM_MESSAGE);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct gh_req *r = t->data;

	if (attempt_start(r) == -1)
		req_fail(r, GH_ERR_INTERNAL, GH_OOM_MESSAGE);
}

/* Wait `wait` seconds, then try again; `why` says what went wrong. */
static void
retry_schedule(struct gh_req *r, double wait, struct msg *why)
{
	struct gh *g = r->g;

	if (r->etag != NULL)
		etag_unref(r->etag);
	r->etag = NULL;
	free(r->next);
	r->next = NULL;
	u8_fix(why->s);
	log_info("%s; retrying in %.3f s (attempt %u of %u)", why->s, wait,
	    r->attempts + 1, g->max_attempts);
	r->state = GR_WAITING;
	ev_timer_set(&r->timer, wait, 0.);
	ev_timer_start(g->loop, &r->timer);
}

/* The full-jitter wait before the next attempt. */
static double
backoff(const struct gh_req *r)
{
	return httpc_backoff(r->attempts - 1, r->g->base_s, r->g->cap_s,
	    httpc_random());
}

/* ---- judging an outcome ---- */

/*
 * Each judge_* writes the message for its case into m and returns the
 * wait before another attempt (>= 0), or -1 when the request ends with
 * res as filled in.
 */

/* GitHub's "message" in an error document (borrowed), or NULL. */
static const char *
gh_message(const json_t *body)
{
	const char *s = json_string_value(json_object_get(body, "message"));

	return s != NULL && *s != '\0' ? s : NULL;
}

/* ": <GitHub's message>" when there is one. */
static void
msg_quote(struct msg *m, const json_t *body)
{
	const char *s = gh_message(body);

	if (s != NULL) {
		msg_add(m, ": ");
		msg_text(m, s, GH_QUOTE_MAX);
	}
}

/* One errors[] item: "Resource.field code: message", or the string. */
static void
msg_error_item(struct msg *m, const json_t *it)
{
	const char *res, *field, *code, *text;
	int any = 0;

	if (json_is_string(it)) {
		msg_text(m, json_string_value(it), GH_QUOTE_MAX);
		return;
	}
	res = json_string_value(json_object_get(it, "resource"));
	field = json_string_value(json_object_get(it, "field"));
	code = json_string_value(json_object_get(it, "code"));
	text = json_string_value(json_object_get(it, "message"));
	if (res != NULL && *res) {
		msg_text(m, res, 64);
		any = 1;
	}
	if (field != NULL && *field) {
		msg_add(m, "%s", any ? "." : "");
		msg_text(m, field, 128);
		any = 1;
	}
	if (code != NULL && *code) {
		msg_add(m, "%s", any ? " " : "");
		msg_text(m, code, 64);
		any = 1;
	}
	if (text != NULL && *text) {
		msg_add(m, "%s", any ? ": " : "");
		msg_text(m, text, GH_QUOTE_MAX);
	}
}

/* GitHub's message and its errors[] list, "; "-separated. */
static void
msg_validation(struct msg *m, const json_t *body, const char *dflt)
{
	const json_t *errs = json_object_get(body, "errors");
	size_t i, n = json_array_size(errs);

	if (gh_message(body) != NULL)
		msg_quote(m, body);
	else
		msg_add(m, ": %s", dflt);
	for (i = 0; i < n && i < GH_MAX_ERRORS; i++) {
		msg_add(m, "%s", i == 0 ? ": " : "; ");
		msg_error_item(m, json_array_get(errs, i));
	}
	if (n > GH_MAX_ERRORS)
		msg_add(m, "; and %zu more", n - GH_MAX_ERRORS);
}

/* "OWNER/REPO" of a /repos/OWNER/REPO/... path into out, or 0. */
static int
repo_of(const char *rel, char *out, size_t outlen)
{
	size_t o, rl;

	if (strncmp(rel, "/repos/", 7) != 0)
		return 0;
	rel += 7;
	o = strcspn(rel, "/?");
	if (o == 0 || rel[o] != '/')
		return 0;
	rl = strcspn(rel + o + 1, "/?");
	if (rl == 0 || o + 1 + rl >= outlen)
		return 0;
	memcpy(out, rel, o + 1 + rl);
	out[o + 1 + rl] = '\0';
	return 1;
}

/* No HTTP answer: a bound crossed, or the network. */
static double
judge_transport(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	const char *why = resp->error_text ? resp->error_text : "no answer";
	const char *p;
	int unsent;

	if (resp->error == CURLE_FILESIZE_EXCEEDED ||
	    resp->error == CURLE_WRITE_ERROR ||
	    resp->error == CURLE_OUT_OF_MEMORY) {
		res->err = resp->error == CURLE_OUT_OF_MEMORY ?
		    GH_ERR_INTERNAL : GH_ERR_RESPONSE;
		msg_add(m, "GitHub's answer to %s could not be read: ",
		    r->what);
		msg_text(m, why, GH_QUOTE_MAX);
		if (resp->error == CURLE_FILESIZE_EXCEEDED)
			msg_add(m, "; ask for less (a smaller per_page or a "
			    "narrower query)");
		return -1;
	}
	/* httpc says "request to ORIGIN failed: REASON"; keep the reason */
	if (strncmp(why, "request to ", 11) == 0 &&
	    (p = strstr(why, " failed: ")) != NULL)
		why = p + 9;
	res->err = GH_ERR_NETWORK;
	msg_add(m, "could not reach %s for %s: ", r->g->api_url, r->what);
	msg_text(m, why, GH_QUOTE_MAX);
	/* nothing was sent when the connection never opened */
	unsent = resp->error == CURLE_COULDNT_CONNECT ||
	    resp->error == CURLE_COULDNT_RESOLVE_HOST ||
	    resp->error == CURLE_COULDNT_RESOLVE_PROXY;
	if ((r->idempotent || unsent) && r->attempts < r->g->max_attempts)
		return backoff(r);
	if (r->attempts > 1)
		msg_add(m, " (%u attempts)", r->attempts);
	if (!r->idempotent && !unsent)
		msg_add(m, "; it was not retried because it may have taken "
		    "effect: check before repeating it");
	return -1;
}

/* 5xx: retried when idempotent, honouring a short Retry-After. */
static double
judge_server(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	struct gh *g = r->g;
	long long ra = retry_after(resp);

	res->err = GH_ERR_SERVER;
	msg_add(m, "GitHub failed %s with %ld", r->what, resp->status);
	msg_quote(m, res->body);
	if (r->idempotent && r->attempts < g->max_attempts) {
		if (ra >= 0 && (double)ra <= g->max_wait_s)
			return (double)ra * g->wait_scale;
		return backoff(r);
	}
	if (r->attempts > 1)
		msg_add(m, " (%u attempts); try again later", r->attempts);
	else if (!r->idempotent)
		msg_add(m, "; not retried because it may have taken effect: "
		    "check before repeating it");
	else
		msg_add(m, "; try again later");
	return -1;
}

/* Primary limit exhausted: when it resets, never a retry. */
static double
judge_primary(struct gh_req *r, struct gh_result *res, struct msg *m)
{
	char when[64];
	struct tm tm;
	time_t reset, now = time(NULL);

	res->err = GH_ERR_RATE_LIMIT;
	msg_add(m, "GitHub API rate limit exhausted");
	if (res->rate.limit >= 0 && res->rate.resource[0])
		msg_add(m, " (limit %ld, resource %s)", res->rate.limit,
		    res->rate.resource);
	else if (res->rate.limit >= 0)
		msg_add(m, " (limit %ld)", res->rate.limit);
	msg_add(m, " on %s", r->what);
	reset = (time_t)res->rate.reset;
	if (res->rate.reset >= 0 && gmtime_r(&reset, &tm) != NULL &&
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
		msg_add(m, ": it resets at %s, in %lld s; do not retry "
		    "before then", when,
		    reset > now ? (long long)(reset - now) : 0LL);
	else
		msg_add(m, ": retry later");
	return -1;
}

/* Secondary limit: wait and retry if idempotent and the wait is short. */
static double
judge_secondary(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	struct gh *g = r->g;
	long long ra = retry_after(resp);
	double wait = ra >= 0 ? (double)ra : GH_SECONDARY_WAIT_S;

	res->err = GH_ERR_SECONDARY_LIMIT;
	msg_add(m, "GitHub's secondary rate limit stopped %s", r->what);
	if (r->idempotent && wait <= g->max_wait_s &&
	    r->attempts < g->max_attempts)
		return wait * g->wait_scale;
	msg_add(m, ": wait %.0f s before retrying it, and send fewer "
	    "requests at once (content-creating ones especially)", wait);
	return -1;
}

/* 403 that is no rate limit: name the missing scope or permission. */
static double
judge_forbidden(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	const char *acc = httpc_header(resp, "X-Accepted-OAuth-Scopes");
	const char *have = httpc_header(resp, "X-OAuth-Scopes");
	const char *perm = httpc_header(resp, "X-Accepted-GitHub-Permissions");
	struct scopes want, got;
	size_t i;

	res->err = GH_ERR_FORBIDDEN;
	scopes_parse(acc, &want);
	scopes_parse(have, &got);
	for (i = 0; i < want.n; i++)
		if (scope_granted(&got, want.v[i]))
			break;
	if (have != NULL && want.n > 0 && i == want.n) {
		if (want.n == 1)
			msg_add(m, "the token lacks the OAuth scope ");
		else
			msg_add(m, "the token lacks an OAuth scope (one of ");
		msg_scopes(m, &want, 1);
		msg_add(m, "%s needed for %s (the token has: ",
		    want.n == 1 ? "" : ")", r->what);
		if (got.n == 0)
			msg_add(m, "no scopes");
		msg_scopes(m, &got, 0);
		msg_add(m, "); add the scope to the token or use one that "
		    "has it");
		return -1;
	}
	if (perm != NULL && *perm != '\0') {
		msg_add(m, "the token lacks a permission needed for %s "
		    "(GitHub accepts: ", r->what);
		msg_text(m, perm, GH_QUOTE_MAX);
		msg_add(m, "); grant it to the token");
		msg_quote(m, res->body);
		return -1;
	}
	msg_add(m, "GitHub refused %s (403)", r->what);
	msg_quote(m, res->body);
	msg_add(m, "; check that the token may do this");
	return -1;
}

/* 403 and 429: which rate limit, if any. */
static double
judge_limited(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	const char *gm = gh_message(res->body);
	int secondary = gm != NULL && strcasestr(gm, "secondary rate limit");

	if (!secondary && res->rate.remaining == 0)
		return judge_primary(r, res, m);
	if (secondary || resp->status == 429 ||
	    httpc_header(resp, "Retry-After") != NULL)
		return judge_secondary(r, resp, res, m);
	return judge_forbidden(r, resp, res, m);
}

/* 4xx and anything else that is neither success nor 5xx. */
static double
judge_client(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	const char *loc;
	char repo[256];

	switch (resp->status) {
	case 401:
		res->err = GH_ERR_AUTH;
		msg_add(m, "GitHub rejected the token (invalid or expired): "
		    "set a valid GITHUB_TOKEN");
		return -1;
	case 403:
	case 429:
		return judge_limited(r, resp, res, m);
	case 404:
		res->err = GH_ERR_NOT_FOUND;
		if (repo_of(r->rel, repo, sizeof(repo)))
			msg_add(m, "not found, or the token cannot see it: "
			    "%s (%s)", repo, r->what);
		else
			msg_add(m, "not found, or the token cannot see it: %s",
			    r->what);
		return -1;
	case 409:
		res->err = GH_ERR_CONFLICT;
		msg_add(m, "GitHub reported a conflict on %s (409)", r->what);
		msg_validation(m, res->body, "Conflict");
		return -1;
	case 422:
		res->err = GH_ERR_VALIDATION;
		msg_add(m, "GitHub rejected %s (422)", r->what);
		msg_validation(m, res->body, "Validation Failed");
		return -1;
	}
	res->err = GH_ERR_HTTP;
	msg_add(m, "GitHub answered %s with %ld", r->what, resp->status);
	msg_quote(m, res->body);
	if (resp->status >= 300 && resp->status < 400 &&
	    (loc = httpc_header(resp, "Location")) != NULL) {
		msg_add(m, " (moved to ");
		msg_text(m, loc, GH_QUOTE_MAX);
		msg_add(m, ")");
	}
	return -1;
}

/* 304: the cached body, if this request sent the ETag. */
static double
judge_not_modified(struct gh_req *r, struct gh_result *res, struct msg *m)
{
	struct gh_etag *e = r->etag;

	if (e == NULL) {
		res->err = GH_ERR_HTTP;
		msg_add(m, "GitHub answered %s with 304 but nothing was "
		    "cached", r->what);
		return -1;
	}
	json_decref(res->body);
	res->body = e->len > 0 ? json_loadb(e->body, e->len, JSON_DECODE_ANY,
	    NULL) : NULL;
	if (e->len > 0 && res->body == NULL) {
		res->err = GH_ERR_INTERNAL;
		msg_add(m, "%s", GH_OOM_MESSAGE);
		return -1;
	}
	if (r->next == NULL && e->next != NULL &&
	    (r->next = strdup(e->next)) == NULL) {
		res->err = GH_ERR_INTERNAL;
		msg_add(m, "%s", GH_OOM_MESSAGE);
		return -1;
	}
	res->status = e->status;
	res->cached = 1;
	return -1;
}

/* 2xx: the body must be JSON when there is one. */
static double
judge_success(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m, const json_error_t *jerr)
{
	const char *etag;

	if (resp->body_len > 0 && res->body == NULL) {
		res->err = GH_ERR_RESPONSE;
		msg_add(m, "GitHub's answer to %s (%ld) is not valid JSON: ",
		    r->what, resp->status);
		msg_text(m, jerr->text, 160);
		msg_add(m, " (line %d, column %d)", jerr->line, jerr->column);
		return -1;
	}
	etag = httpc_header(resp, "ETag");
	if (r->conditional && etag_ok(etag) &&
	    !redact_contains_secret(resp->body, resp->body_len))
		etag_put(r->g, r->url, etag, resp->body, resp->body_len,
		    resp->status, r->next);
	return -1;
}

/* An HTTP answer: parse what it carries, then judge by status. */
static double
judge_answer(struct gh_req *r, const struct httpc_response *resp,
    struct gh_result *res, struct msg *m)
{
	json_error_t jerr;
	json_t *redacted;
	const char *link = httpc_header(resp, "Link");
	const char *rid = httpc_header(resp, "X-GitHub-Request-Id");

	memset(&jerr, 0, sizeof(jerr));
	if (resp->body_len > 0)
		res->body = json_loadb(resp->body, resp->body_len,
		    JSON_DECODE_ANY, &jerr);
	if (res->body != NULL &&
	    redact_contains_secret(resp->body, resp->body_len)) {
		redacted = redact_json(res->body);
		json_decref(res->body);
		res->body = redacted;
	}
	if (link != NULL)
		r->next = gh_link_next(link);
	if (rid != NULL && strlen(rid) < 128 &&
	    strspn(rid, "0123456789ABCDEFabcdef:-") == strlen(rid))
		res->request_id = rid;
	if (resp->status == 304)
		return judge_not_modified(r, res, m);
	if (resp->status >= 200 && resp->status < 300)
		return judge_success(r, resp, res, m, &jerr);
	if (resp->status >= 500)
		return judge_server(r, resp, res, m);
	return judge_client(r, resp, res, m);
}

/* httpc's callback: judge the attempt, then retry or finish. */
static void
http_done(struct httpc_req *hr, const struct httpc_response *resp, void *arg)
{
	struct gh_req *r = arg;
	struct gh_result res;
	struct msg m;
	double wait;

	r->hr = NULL;
	r->attempts++;
	memset(&res, 0, sizeof(res));
	m.len = 0;
	m.s[0] = '\0';
	rate_parse(resp, &res.rate);
	res.status = resp->status;
	if (resp->status == 0)
		wait = judge_transport(r, resp, &res, &m);
	else
		wait = judge_answer(r, resp, &res, &m);
	if (wait >= 0) {
		json_decref(res.body);
		retry_schedule(r, wait, &m);
		return;
	}
	req_finish(r, &res, &m);
}

/* ---- public: requests ---- */

/* An upper-case method name of 1..GH_MAX_METHOD letters. */
static int
method_ok(const char *m)
{
	size_t i;

	for (i = 0; m[i]; i++)
		if (m[i] < 'A' || m[i] > 'Z' || i >= GH_MAX_METHOD)
			return 0;
	return i > 0;
}

/*
 * Resolve `path` (relative, or absolute under the API URL) into r->url,
 * r->rel and r->what ("/graphql" is GitHub's GraphQL endpoint, also on
 * GitHub Enterprise Server).  0, or -1 when it is not under the API URL, holds
 * bytes a URL must not carry raw, crosses GH_MAX_PATH, or ENOMEM.
 */
static int
req_target(struct gh_req *r, const char *path)
{
	struct gh *g = r->g;
	const char *rel;
	size_t len, i, plen;
	int ghes;

	if (path[0] == '/')
		rel = path;
	else if (strncmp(path, g->api_url, g->api_len) == 0 &&
	    path[g->api_len] == '/')
		rel = path + g->api_len;
	else
		return -1;
	len = strnlen(rel, GH_MAX_PATH + 1);
	if (len > GH_MAX_PATH)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)rel[i];

		if (c <= 0x20 || c >= 0x7f || c == '#')
			return -1;
	}
	plen = strcspn(rel, "?");
	/* GitHub Enterprise Server answers GraphQL at /api/graphql, beside
	   its REST API's /api/v3 rather than under it */
	ghes = strcmp(rel, "/graphql") == 0 && g->api_len >= 7 &&
	    strcmp(g->api_url + g->api_len - 7, "/api/v3") == 0;
	if ((r->rel = strdup(rel)) == NULL ||
	    asprintf(&r->url, "%.*s%s", (int)(g->api_len - (ghes ? 3 : 0)),
	    g->api_url, rel) < 0) {
		r->url = NULL;
		return -1;
	}
	if (asprintf(&r->what, "%s %.*s", r->method, (int)plen, rel) < 0) {
		r->what = NULL;
		return -1;
	}
	return 0;
}

struct gh_req *
gh_request(struct gh *g, const char *method, const char *path,
    const json_t *body, int flags, gh_done_fn done, void *arg)
{
	struct gh_req *r;

	if (g == NULL || g->dying || method == NULL || path == NULL ||
	    done == NULL || !method_ok(method))
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->g = g;
	r->done = done;
	r->arg = arg;
	memcpy(r->method, method, strlen(method) + 1);
	ev_init(&r->timer, timer_cb);
	r->timer.data = r;
	later_init(&r->soon, g->loop, soon_cb, r);
	r->idempotent = (flags & GH_F_IDEMPOTENT) ||
	    strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "DELETE") == 0 ||
	    strcmp(method, "OPTIONS") == 0;
	r->conditional = (flags & GH_F_CONDITIONAL) &&
	    strcmp(method, "GET") == 0;
	if (req_target(r, path) == -1)
		goto fail;
	if (body != NULL) {
		if ((r->body = json_dumps(body, JSON_COMPACT |
		    JSON_ENCODE_ANY)) == NULL)
			goto fail;
		if ((r->body_len = strlen(r->body)) > GH_MAX_REQUEST_BODY)
			goto fail;
	}
	if (g->auth_hdr == NULL) {
		r->state = GR_FAILING;
		later_arm(&r->soon);
	} else if (attempt_start(r) == -1)
		goto fail;
	LIST_INSERT_HEAD(&g->reqs, r, entry);
	return r;
fail:
	req_free(r);
	return NULL;
}

void
gh_cancel(struct gh_req *r)
{
	if (r == NULL || r->state == GR_CALLBACK)
		return;
	if (r->hr != NULL)
		httpc_cancel(r->hr);
	r->hr = NULL;
	LIST_REMOVE(r, entry);
	req_free(r);
}

/* ---- public: client ---- */

/* Free everything; no request may remain. */
static void
gh_destroy(struct gh *g)
{
	struct gh_etag *e;

	while ((e = TAILQ_FIRST(&g->etags)) != NULL)
		etag_unlink(g, e);
	if (g->auth_hdr != NULL)
		sodium_memzero(g->auth_hdr, g->auth_len);
	free(g->auth_hdr);
	free(g->token_err);
	free(g->ua_hdr);
	free(g->api_url);
	free(g);
}

void
gh_free(struct gh *g)
{
	if (g == NULL || g->dying)
		return;
	g->dying = 1;
	while (!LIST_EMPTY(&g->reqs))
		gh_cancel(LIST_FIRST(&g->reqs));
	if (g->in_callback == 0)
		gh_destroy(g);
}
