#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "buf.h"
#include "httpc.h"
#include "later.h"
#include "log.h"
#include "redact.h"
#include "aws/awsconf.h"
#include "aws/creds.h"
#include "aws/sigv4.h"

#define MAX_ATTEMPTS		3	/* per HTTP source and resolution */
#define BACKOFF_BASE_S		0.05
#define BACKOFF_CAP_S		1.0
#define PREFETCH_GAP_S		30	/* between background refreshes */
#define ECS_AGENT		"http://169.254.170.2"
#define MAX_RELATIVE_URI	1024u
#define MAX_ROLE_ARN		2048u
#define MIN_ROLE_ARN		20u
#define MAX_SESSION_NAME	64u
#define MAX_AUTH_TOKEN		16384u
#define MAX_MSG_TEXT		200u	/* a service's message quoted in ours */
#define STS_VERSION		"2011-06-15"

enum src {
	SRC_ENV = 0,
	SRC_WEBID,
	SRC_FILES,
	SRC_CONTAINER,
	SRC_END
};

static const char *const src_names[SRC_END] = {
	"environment", "web identity", "shared files", "container",
};

/* What starting a source did. */
enum step {
	STEP_OK,		/* credentials in hand */
	STEP_FAIL,		/* nothing here; the reason is recorded */
	STEP_PENDING		/* a request is in flight */
};

struct waiter {
	aws_creds_fn	 cb;
	void		*arg;
	struct waiter	*next;
};

struct aws_creds_provider {
	struct ev_loop	*loop;
	struct httpc	*http;
	char		*profile;
	char		*config_file;
	char		*credentials_file;
	char		*sts_endpoint;
	char		*container_base;

	struct aws_creds *cache;	/* NULL: none yet */
	int		 stale;		/* invalidated */

	struct waiter	*waiters;	/* FIFO of gets to answer */
	struct waiter	**wtail;
	struct waiter	*calling;	/* taken off waiters, being answered */

	struct later	 kick;		/* answer or resolve, from the loop */
	ev_timer	 retry;		/* backoff before the next attempt */

	/* the resolution in flight, if resolving */
	int		 resolving;
	enum src	 src;
	unsigned	 attempt;
	struct httpc_req *req;
	char		*webid_token;	/* kept to screen STS messages; wiped */
	char		 origin[256];	/* of the request, for messages */
	time_t		 last_resolve;
	time_t		(*clock)(void);	/* the wall clock */
	char		 why[AWS_CREDS_MAX_ERR];
	size_t		 whylen;
	size_t		 whystart;	/* length of the "no AWS ..." prefix */

	int		 busy;		/* loop callbacks on the stack */
	int		 dead;		/* freed while busy */
};

static void	chain_run(struct aws_creds_provider *);

/* ---- small helpers ---- */

static void
creds_free(struct aws_creds *c)
{
	if (c == NULL)
		return;
	redact_wipe_free(c->access_key_id);
	redact_wipe_free(c->secret_access_key);
	redact_wipe_free(c->session_token);
	free(c);
}

/* 1..max bytes, each printable ASCII other than space. */
static int
field_ok(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] <= 0x20 || s[i] >= 0x7f)
			return 0;
	return i > 0;
}

/*
 * New credentials from the three strings (copied; token NULL or "" for
 * none).  names[] name the fields in a message.  0 with *out set, or -1
 * with the reason in err (never quoting a value).
 */
static int
creds_make(const char *id, const char *secret, const char *token,
    time_t exp, enum src src, const char *const names[3],
    struct aws_creds **out, char *err, size_t errlen)
{
	struct aws_creds *c;

	*out = NULL;
	if (!field_ok(id, AWS_SIGV4_MAX_KEY_ID) ||
	    !field_ok(secret, AWS_SIGV4_MAX_SECRET) ||
	    (token != NULL && *token != '\0' &&
	    !field_ok(token, AWS_SIGV4_MAX_TOKEN))) {
		errfmt(err, errlen, "%s is empty, too long, or holds spaces or "
		    "control bytes", !field_ok(id, AWS_SIGV4_MAX_KEY_ID) ?
		    names[0] : !field_ok(secret, AWS_SIGV4_MAX_SECRET) ?
		    names[1] : names[2]);
		return -1;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->access_key_id = strdup(id)) == NULL ||
	    (c->secret_access_key = strdup(secret)) == NULL ||
	    (token != NULL && *token != '\0' &&
	    (c->session_token = strdup(token)) == NULL)) {
		creds_free(c);
		errfmt(err, errlen, "out of memory");
		return -1;
	}
	c->expiration = exp;
	c->source = src_names[src];
	*out = c;
	return 0;
}

/* n digits at s as a number, or -1. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/*
 * An ISO 8601 UTC time as AWS writes it, "YYYY-MM-DDTHH:MM:SS" with an
 * optional fraction and "Z" or "+HH:MM"/"-HH:MM", over s[0..n).  0 with
 * *out set, or -1.
 */
static int
parse_time(const char *s, size_t n, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	size_t i = 19;
	time_t t;

	if (n < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
	    (y = digits(s, 4)) < 1970 || (mo = digits(s + 5, 2)) < 1 ||
	    mo > 12 || (d = digits(s + 8, 2)) < 1 || d > 31 ||
	    (h = digits(s + 11, 2)) < 0 || h > 23 ||
	    (mi = digits(s + 14, 2)) < 0 || mi > 59 ||
	    (se = digits(s + 17, 2)) < 0 || se > 60)
		return -1;
	if (s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == 20)
			return -1;
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z'))
		sign = 0;
	else if (i + 6 == n && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':' && (oh = digits(s + i + 1, 2)) >= 0 &&
	    oh <= 23 && (om = digits(s + i + 4, 2)) >= 0 && om <= 59)
		sign = s[i] == '+' ? 1 : -1;
	else
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = t - sign * (time_t)(oh * 3600 + om * 60);
	return 0;
}

/*
 * A service's text s[0..n) made fit for our messages: printable ASCII,
 * at most MAX_MSG_TEXT bytes, and withheld entirely when it holds the
 * web identity token or a registered secret.
 */
static void
safe_text(const char *s, size_t n, const char *secret, char *out,
    size_t outlen)
{
	size_t i, o = 0;

	if ((secret != NULL && *secret != '\0' && n >= strlen(secret) &&
	    memmem(s, n, secret, strlen(secret)) != NULL) ||
	    redact_contains_secret(s, n)) {
		errfmt(out, outlen, "(message withheld)");
		return;
	}
	for (i = 0; i < n && i < MAX_MSG_TEXT && o + 4 < outlen; i++)
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (i < n && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
}

/* ---- the failure message ---- */

static void why_add(struct aws_creds_provider *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* Append one source's reason, "; " separated; truncated at the bound. */
static void
why_add(struct aws_creds_provider *p, const char *fmt, ...)
{
	size_t room = sizeof(p->why) - p->whylen;
	va_list ap;
	int n;

	if (p->whylen > p->whystart && room > 2) {
		memcpy(p->why + p->whylen, "; ", 3);
		p->whylen += 2;
		room -= 2;
	}
	va_start(ap, fmt);
	n = vsnprintf(p->why + p->whylen, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->whylen += (size_t)n < room ? (size_t)n : room - 1;
}

static void
why_reset(struct aws_creds_provider *p)
{
	int n = snprintf(p->why, sizeof(p->why), "no AWS credentials: ");

	p->whylen = p->whystart = (size_t)n;
}

/* ---- XML (STS Query protocol answers) ---- */

/*
 * The content of the one <tag>...</tag> element in doc[0..len) into
 * *out, *outlen (pointing into doc).  0; -1 when absent, unclosed, or
 * present more than once.
 */
static int
xml_find(const char *doc, size_t len, const char *tag, const char **out,
    size_t *outlen)
{
	char open[64], close[64];
	const char *a, *b, *end = doc + len;
	size_t on, cn;

	on = (size_t)snprintf(open, sizeof(open), "<%s>", tag);
	cn = (size_t)snprintf(close, sizeof(close), "</%s>", tag);
	if ((a = memmem(doc, len, open, on)) == NULL)
		return -1;
	a += on;
	if ((b = memmem(a, (size_t)(end - a), close, cn)) == NULL)
		return -1;
	if (memmem(b, (size_t)(end - b), open, on) != NULL)
		return -1;
	*out = a;
	*outlen = (size_t)(b - a);
	return 0;
}

/*
 * Decode the text content s[0..n): the five predefined entities and
 * ASCII character references; any other markup is refused.  New string
 * in *out (wipe it: it may be a secret); 0 or -1.
 */
static int
xml_text(const char *s, size_t n, char **out)
{
	static const struct { const char *ent; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' },
		{ "&quot;", '"' }, { "&apos;", '\'' },
	};
	size_t i, o = 0, k, el;
	char *r;
	long v;

	*out = NULL;
	if (memchr(s, '<', n) != NULL || memchr(s, '\0', n) != NULL ||
	    (r = malloc(n + 1)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] != '&') {
			r[o++] = s[i];
			continue;
		}
		for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
			el = strlen(ents[k].ent);
			if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0)
				break;
		}
		if (k < sizeof(ents) / sizeof(ents[0])) {
			r[o++] = ents[k].c;
			i += el - 1;
			continue;
		}
		if (n - i < 4 || s[i + 1] != '#')
			goto bad;
		v = 0;
		for (k = i + 2 + (s[i + 2] == 'x'); k < n && k < i + 8 &&
		    s[k] != ';'; k++) {
			if (s[i + 2] == 'x' && aws_hexval(s[k]) >= 0)
				v = v * 16 + aws_hexval(s[k]);
			else if (s[i + 2] != 'x' && s[k] >= '0' && s[k] <= '9')
				v = v * 10 + (s[k] - '0');
			else
				goto bad;
		}
		if (k >= n || s[k] != ';' || k == i + 2 + (s[i + 2] == 'x') ||
		    v < 0x20 || v > 0x7e)
			goto bad;
		r[o++] = (char)v;
		i = k;
	}
	r[o] = '\0';
	*out = r;
	return 0;
bad:
	sodium_memzero(r, n + 1);
	free(r);
	return -1;
}

/* ---- URLs ---- */

/*
 * Split an http(s) URL: "scheme://host:port" into origin (safe for
 * messages: no userinfo, path or query), the bare host (brackets of an
 * IPv6 literal removed) into host, and whether it is https.  0 or -1.
 */
static int
url_parts(const char *url, char *origin, size_t olen, char *host,
    size_t hlen, int *https)
{
	char *scheme = NULL, *h = NULL, *port = NULL;
	size_t n;
	CURLU *u;
	int rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "https") == 0)
		*https = 1;
	else if (strcasecmp(scheme, "http") == 0)
		*https = 0;
	else
		goto out;
	n = strlen(h);
	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		if (snprintf(host, hlen, "%.*s", (int)(n - 2), h + 1) >=
		    (int)hlen)
			goto out;
	} else if (snprintf(host, hlen, "%s", h) >= (int)hlen)
		goto out;
	if (snprintf(origin, olen, "%s://%s:%s", scheme, h, port) >=
	    (int)olen)
		goto out;
	rc = 0;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Loopback or an ECS/EKS agent address, as a literal (no DNS lookup). */
static int
host_allowed(const char *host)
{
	static const unsigned char eks6[16] = {
		0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23
	};
	unsigned char a[16];

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127 || (a[0] == 169 && a[1] == 254 &&
		    a[2] == 170 && (a[3] == 2 || a[3] == 23));
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, &in6addr_loopback, 16) == 0 ||
		    memcmp(a, eks6, 16) == 0;
	return 0;
}

int
aws_creds_full_uri_allowed(const char *uri, char *err, size_t errlen)
{
	char origin[256], host[256];
	int https;

	if (strnlen(uri, AWS_MAX_ENDPOINT + 1) > AWS_MAX_ENDPOINT ||
	    url_parts(uri, origin, sizeof(origin), host, sizeof(host),
	    &https) == -1) {
		errfmt(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is not "
		    "an http or https URL");
		return 0;
	}
	if (https || host_allowed(host))
		return 1;
	errfmt(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI: host %s is "
	    "not allowed over http (use https, a loopback address, or the "
	    "ECS/EKS agent 169.254.170.2, 169.254.170.23, fd00:ec2::23)",
	    host);
	return 0;
}

/* ---- token files ---- */

/*
 * The token in the file at path: trailing blanks and line ends dropped;
 * empty or holding control bytes is an error.  0 with *out set (wipe
 * it), or -1 with "PATH: reason" in err.
 */
static int
read_token(const char *path, size_t max, char **out, char *err,
    size_t errlen)
{
	size_t len, i;
	char *t;
	int rc;

	*out = NULL;
	if ((rc = aws_read_file(path, max, &t, &len, err, errlen)) == 1) {
		errfmt(err, errlen, "%s: no such file", path);
		return -1;
	}
	if (rc == -1)
		return -1;
	while (len > 0 && strchr(" \t\r\n", t[len - 1]) != NULL)
		t[--len] = '\0';
	for (i = 0; i < len; i++)
		if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
			break;
	if (len == 0 || i < len) {
		errfmt(err, errlen, "%s: %s", path, len == 0 ? "empty" :
		    "holds control bytes");
		sodium_memzero(t, len);
		free(t);
		return -1;
	}
	*out = t;
	return 0;
}

/* ---- source 1: environment ---- */

static enum step
src_env(struct aws_creds_provider *p, struct aws_creds **out)
{
	static const char *const names[3] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"
	};
	const char *id = aws_getenv(names[0]), *sk = aws_getenv(names[1]);
	char err[256];

	if (id == NULL || sk == NULL) {
		why_add(p, "environment: %s not set", names[id == NULL ? 0 : 1]);
		return STEP_FAIL;
	}
	if (creds_make(id, sk, aws_getenv(names[2]), 0, SRC_ENV, names, out,
	    err, sizeof(err)) == -1) {
		why_add(p, "environment: %s", err);
		return STEP_FAIL;
	}
	return STEP_OK;
}

/* ---- source 2: web identity (STS AssumeRoleWithWebIdentity) ---- */

static void	http_done(struct httpc_req *, const struct httpc_response *,
		    void *);

/* STS RoleSessionName: 2..64 of [A-Za-z0-9+=,.@_-]. */
static int
session_name_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= MAX_SESSION_NAME || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("+=,.@_-", s[i]) != NULL))
			return 0;
	return i >= 2;
}

/* The form body of the call into b (sized by the caller).  0 or -1. */
static int
sts_body(struct buf *b, const char *arn, const char *name, const char *tok)
{
	if (buf_printf(b, "Action=AssumeRoleWithWebIdentity&Version=%s"
	    "&RoleArn=", STS_VERSION) == -1 ||
	    aws_sigv4_encode(b, arn, strlen(arn), 0) == -1 ||
	    buf_printf(b, "&RoleSessionName=") == -1 ||
	    aws_sigv4_encode(b, name, strlen(name), 0) == -1 ||
	    buf_printf(b, "&WebIdentityToken=") == -1 ||
	    aws_sigv4_encode(b, tok, strlen(tok), 0) == -1)
		return -1;
	return 0;
}

/* Check the variables; the reason is recorded on failure.  0 or -1. */
static int
webid_vars(struct aws_creds_provider *p, const char **tf, const char **arn,
    const char **sn)
{
	*tf = aws_getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	*arn = aws_getenv("AWS_ROLE_ARN");
	*sn = aws_getenv("AWS_ROLE_SESSION_NAME");
	if (*tf == NULL || *arn == NULL) {
		why_add(p, "web identity: %s not set", *tf == NULL ?
		    "AWS_WEB_IDENTITY_TOKEN_FILE" : "AWS_ROLE_ARN");
		return -1;
	}
	if (strlen(*arn) < MIN_ROLE_ARN || !field_ok(*arn, MAX_ROLE_ARN) ||
	    strncmp(*arn, "arn:", 4) != 0) {
		why_add(p, "web identity: AWS_ROLE_ARN is not a role ARN");
		return -1;
	}
	if (*sn != NULL && !session_name_ok(*sn)) {
		why_add(p, "web identity: AWS_ROLE_SESSION_NAME must be 2 to "
		    "64 of A-Z a-z 0-9 + = , . @ _ -");
		return -1;
	}
	return 0;
}

static enum step
src_webid(struct aws_creds_provider *p)
{
	static const char *const hdrs[] = {
		"Content-Type: application/x-www-form-urlencoded; charset=utf-8",
		"Accept: text/xml",
		NULL
	};
	const char *tf, *arn, *sn;
	char gen[32], err[512], *tok, *url = NULL;
	struct buf body;
	size_t avail;
	int ok;

	if (webid_vars(p, &tf, &arn, &sn) == -1)
		return STEP_FAIL;
	if (sn == NULL) {
		snprintf(gen, sizeof(gen), "afu9-%lld", (long long)time(NULL));
		sn = gen;
	}
	if (read_token(tf, AWS_CREDS_MAX_TOKEN_FILE, &tok, err,
	    sizeof(err)) == -1) {
		why_add(p, "web identity: %s", err);
		return STEP_FAIL;
	}
	/* one allocation, so no stale copy of the token is left behind */
	buf_init(&body, 3 * (strlen(tok) + strlen(arn) + strlen(sn)) + 256);
	ok = buf_reserve(&body, body.max, &avail) != NULL &&
	    sts_body(&body, arn, sn, tok) == 0 &&
	    asprintf(&url, "%s/", p->sts_endpoint) != -1;
	redact_wipe_free(p->webid_token);
	p->webid_token = tok;
	snprintf(p->origin, sizeof(p->origin), "%s", p->sts_endpoint);
	if (ok)
		p->req = httpc_request(p->http, "POST", url, hdrs,
		    buf_data(&body), buf_used(&body), AWS_CREDS_TIMEOUT_MS,
		    http_done, p);
	if (body.base != NULL)
		sodium_memzero(body.base, body.cap);
	buf_free(&body);
	free(ok ? url : NULL);
	if (!ok || p->req == NULL) {
		why_add(p, "web identity: cannot send a request to %s%s",
		    p->origin, ok ? "" : " (out of memory)");
		return STEP_FAIL;
	}
	return STEP_PENDING;
}

/* One credential field of the Credentials element; 0 or -1. */
static int
xml_field(const char *cr, size_t crlen, const char *tag, char **out)
{
	const char *v;
	size_t vlen;

	*out = NULL;
	if (xml_find(cr, crlen, tag, &v, &vlen) == -1)
		return -1;
	return xml_text(v, vlen, out);
}

static int
retryable_code(const char *code)
{
	static const char *const codes[] = {
		"Throttling", "ThrottlingException", "RequestLimitExceeded",
		"IDPCommunicationError", "ServiceUnavailable",
		"InternalFailure", "InternalError",
	};
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return 1;
	return 0;
}

/* "STS answered HTTP 403 AccessDenied: message" into reason. */
static void
sts_error(struct aws_creds_provider *p, const struct httpc_response *resp,
    const char *doc, size_t len, char *reason, size_t rlen, int *retry)
{
	char code[64] = "", msg[MAX_MSG_TEXT + 8] = "", *t;
	const char *v;
	size_t vlen;

	if (xml_find(doc, len, "Code", &v, &vlen) == 0 &&
	    xml_text(v, vlen, &t) == 0) {
		safe_text(t, strlen(t), p->webid_token, code, sizeof(code));
		redact_wipe_free(t);
	}
	if (xml_find(doc, len, "Message", &v, &vlen) == 0 &&
	    xml_text(v, vlen, &t) == 0) {
		safe_text(t, strlen(t), p->webid_token, msg, sizeof(msg));
		redact_wipe_free(t);
	}
	*retry = resp->status >= 500 || resp->status == 429 ||
	    retryable_code(code);
	errfmt(reason, rlen, "STS %s answered HTTP %ld%s%s%s%s", p->origin,
	    resp->status, *code ? " " : "", code, *msg ? ": " : "", msg);
}

/* The answer of STS: credentials in *out, or a reason. */
static void
sts_result(struct aws_creds_provider *p, const struct httpc_response *resp,
    struct aws_creds **out, char *reason, size_t rlen, int *retry)
{
	static const char *const names[3] = {
		"STS AccessKeyId", "STS SecretAccessKey", "STS SessionToken"
	};
	static const char *const tags[4] = {
		"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"
	};
	const char *doc = resp->body != NULL ? resp->body : "", *cr;
	size_t len = resp->body != NULL ? resp->body_len : 0, crlen;
	char *f[4] = { NULL, NULL, NULL, NULL };
	time_t exp;
	int i;

	if (resp->status == 0) {
		errfmt(reason, rlen, "STS: %s", resp->error_text ?
		    resp->error_text : "no response");
		*retry = 1;
		return;
	}
	if (len > AWS_CREDS_MAX_RESPONSE) {
		errfmt(reason, rlen, "STS %s: response larger than %u bytes",
		    p->origin, AWS_CREDS_MAX_RESPONSE);
		return;
	}
	if (resp->status != 200) {
		sts_error(p, resp, doc, len, reason, rlen, retry);
		return;
	}
	if (xml_find(doc, len, "Credentials", &cr, &crlen) == -1) {
		errfmt(reason, rlen, "STS %s: response has no Credentials "
		    "element", p->origin);
		return;
	}
	for (i = 0; i < 4; i++)
		if (xml_field(cr, crlen, tags[i], &f[i]) == -1) {
			errfmt(reason, rlen, "STS %s: response has no valid %s",
			    p->origin, tags[i]);
			goto out;
		}
	if (parse_time(f[3], strlen(f[3]), &exp) == -1) {
		errfmt(reason, rlen, "STS %s: response Expiration is not an "
		    "ISO 8601 time", p->origin);
		goto out;
	}
	if (creds_make(f[0], f[1], f[2], exp, SRC_WEBID, names, out, reason,
	    rlen) == -1)
		goto out;
out:
	for (i = 0; i < 4; i++)
		redact_wipe_free(f[i]);
}

/* ---- source 3: shared files ---- */

/* key of the profile: the credentials file's, else the config file's. */
static const char *
file_get(const struct aws_ini *ci, const struct aws_ini *fi,
    const char *profile, const char *sect, const char *key)
{
	const char *v = aws_ini_get(ci, profile, key);

	if (v == NULL || *v == '\0')
		v = aws_ini_get(fi, sect, key);
	return v != NULL && *v != '\0' ? v : NULL;
}

/* Why the files gave no keys (r1, r2: aws_ini_load() results). */
static void
files_why(struct aws_creds_provider *p, const struct aws_ini *ci,
    const struct aws_ini *fi, int r1, int r2, const char *sect,
    const char *id, const char *sk)
{
	static const char *const unsupported[] = {
		"role_arn", "credential_process", "sso_session",
		"sso_start_url", "web_identity_token_file",
	};
	size_t i;

	if (!aws_ini_has_section(ci, p->profile) &&
	    !aws_ini_has_section(fi, sect)) {
		why_add(p, "shared files: %s: %s%s%s, %s: %s%s%s",
		    p->credentials_file, r1 == 1 ? "no such file" : "no [",
		    r1 == 1 ? "" : p->profile, r1 == 1 ? "" : "]",
		    p->config_file, r2 == 1 ? "no such file" : "no [",
		    r2 == 1 ? "" : sect, r2 == 1 ? "" : "]");
		return;
	}
	if (id != NULL || sk != NULL) {
		why_add(p, "shared files: profile %s: %s without %s",
		    p->profile, id ? "aws_access_key_id" :
		    "aws_secret_access_key", id ? "aws_secret_access_key" :
		    "aws_access_key_id");
		return;
	}
	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++)
		if (file_get(ci, fi, p->profile, sect, unsupported[i])) {
			why_add(p, "shared files: profile %s: %s is not "
			    "supported (only aws_access_key_id and "
			    "aws_secret_access_key)", p->profile,
			    unsupported[i]);
			return;
		}
	why_add(p, "shared files: profile %s has no aws_access_key_id",
	    p->profile);
}

static enum step
src_files(struct aws_creds_provider *p, struct aws_creds **out)
{
	static const char *const names[3] = {
		"aws_access_key_id", "aws_secret_access_key", "aws_session_token"
	};
	struct aws_ini *ci = NULL, *fi = NULL;
	char e1[768], e2[768], err[256], sect[AWS_MAX_PROFILE + 16];
	const char *id, *sk;
	enum step rc = STEP_FAIL;
	int r1, r2;

	r1 = aws_ini_load(p->credentials_file, &ci, e1, sizeof(e1));
	r2 = aws_ini_load(p->config_file, &fi, e2, sizeof(e2));
	if (r1 == -1 || r2 == -1) {
		why_add(p, "shared files: %s%s%s", r1 == -1 ? e1 : "",
		    r1 == -1 && r2 == -1 ? ", " : "", r2 == -1 ? e2 : "");
		goto out;
	}
	if (aws_config_section(fi, p->profile, sect, sizeof(sect)) == NULL) {
		why_add(p, "shared files: profile name too long");
		goto out;
	}
	id = file_get(ci, fi, p->profile, sect, names[0]);
	sk = file_get(ci, fi, p->profile, sect, names[1]);
	if (id == NULL || sk == NULL) {
		files_why(p, ci, fi, r1, r2, sect, id, sk);
		goto out;
	}
	if (creds_make(id, sk, file_get(ci, fi, p->profile, sect, names[2]),
	    0, SRC_FILES, names, out, err, sizeof(err)) == -1)
		why_add(p, "shared files: profile %s: %s", p->profile, err);
	else
		rc = STEP_OK;
out:
	aws_ini_free(ci);
	aws_ini_free(fi);
	return rc;
}

/* ---- source 4: container (ECS task role, EKS pod identity) ---- */

/* The URL to ask into *url (malloc'd), p->origin set; 0 or -1 (recorded). */
static int
container_url(struct aws_creds_provider *p, char **url)
{
	const char *rel = aws_getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = aws_getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	char err[512], host[256];
	int https;

	*url = NULL;
	if (rel == NULL && full == NULL) {
		why_add(p, "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/"
		    "FULL_URI not set");
		return -1;
	}
	if (rel != NULL) {
		if (rel[0] != '/' || !field_ok(rel, MAX_RELATIVE_URI)) {
			why_add(p, "container: AWS_CONTAINER_CREDENTIALS_"
			    "RELATIVE_URI must be a path of at most %u "
			    "printable bytes", MAX_RELATIVE_URI);
			return -1;
		}
		snprintf(p->origin, sizeof(p->origin), "%s", p->container_base);
		if (asprintf(url, "%s%s", p->container_base, rel) == -1)
			goto nomem;
		return 0;
	}
	if (!aws_creds_full_uri_allowed(full, err, sizeof(err))) {
		why_add(p, "container: %s", err);
		return -1;
	}
	url_parts(full, p->origin, sizeof(p->origin), host, sizeof(host),
	    &https);
	if ((*url = strdup(full)) == NULL)
		goto nomem;
	return 0;
nomem:
	*url = NULL;
	why_add(p, "container: out of memory");
	return -1;
}

/* The Authorization token, if any, into *tok (wipe it); 0 or -1. */
static int
container_token(struct aws_creds_provider *p, char **tok)
{
	const char *tf = aws_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *t = aws_getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	char err[512];
	size_t i;

	*tok = NULL;
	if (tf != NULL) {
		if (read_token(tf, MAX_AUTH_TOKEN, tok, err,
		    sizeof(err)) == -1) {
			why_add(p, "container: AWS_CONTAINER_AUTHORIZATION_"
			    "TOKEN_FILE %s", err);
			return -1;
		}
		return 0;
	}
	if (t == NULL)
		return 0;
	for (i = 0; t[i] != '\0'; i++)
		if (i >= MAX_AUTH_TOKEN || (unsigned char)t[i] < 0x20 ||
		    t[i] == 0x7f) {
			why_add(p, "container: AWS_CONTAINER_AUTHORIZATION_"
			    "TOKEN is longer than %u bytes or holds control "
			    "bytes", MAX_AUTH_TOKEN);
			return -1;
		}
	if ((*tok = strdup(t)) == NULL) {
		why_add(p, "container: out of memory");
		return -1;
	}
	return 0;
}

static enum step
src_container(struct aws_creds_provider *p)
{
	const char *hdrs[3] = { "Accept: application/json", NULL, NULL };
	char *url, *tok, *auth = NULL;

	if (container_url(p, &url) == -1)
		return STEP_FAIL;
	if (container_token(p, &tok) == -1) {
		free(url);
		return STEP_FAIL;
	}
	if (tok != NULL && asprintf(&auth, "Authorization: %s", tok) == -1)
		auth = NULL;
	hdrs[1] = auth;
	if (tok == NULL || auth != NULL)
		p->req = httpc_request(p->http, "GET", url, hdrs, NULL, 0,
		    AWS_CREDS_TIMEOUT_MS, http_done, p);
	redact_wipe_free(tok);
	redact_wipe_free(auth);
	free(url);
	if (p->req == NULL) {
		why_add(p, "container: cannot send a request to %s",
		    p->origin);
		return STEP_FAIL;
	}
	return STEP_PENDING;
}

/* A string member of o, or NULL. */
static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Wipe the string members jansson holds (they are about to be freed). */
static void
json_wipe(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v)
		if (json_is_string(v))
			sodium_memzero((char *)json_string_value(v),
			    json_string_length(v));
}

/* The container endpoint's answer: credentials in *out, or a reason. */
static void
container_result(struct aws_creds_provider *p,
    const struct httpc_response *resp, struct aws_creds **out, char *reason,
    size_t rlen, int *retry)
{
	static const char *const names[3] = {
		"AccessKeyId", "SecretAccessKey", "Token"
	};
	const char *id, *sk, *exps;
	json_t *j;
	time_t exp;

	if (resp->status == 0) {
		errfmt(reason, rlen, "%s", resp->error_text ?
		    resp->error_text : "no response");
		*retry = 1;
		return;
	}
	if (resp->body_len > AWS_CREDS_MAX_RESPONSE) {
		errfmt(reason, rlen, "%s: response larger than %u bytes",
		    p->origin, AWS_CREDS_MAX_RESPONSE);
		return;
	}
	if (resp->status != 200) {
		errfmt(reason, rlen, "%s answered HTTP %ld", p->origin,
		    resp->status);
		*retry = resp->status >= 500 || resp->status == 429;
		return;
	}
	j = json_loadb(resp->body ? resp->body : "", resp->body_len,
	    JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL || !json_is_object(j)) {
		errfmt(reason, rlen, "%s: response is not a JSON object",
		    p->origin);
		json_decref(j);
		return;
	}
	id = jstr(j, "AccessKeyId");
	sk = jstr(j, "SecretAccessKey");
	exps = jstr(j, "Expiration");
	if (id == NULL || sk == NULL || exps == NULL)
		errfmt(reason, rlen, "%s: response has no %s", p->origin,
		    id == NULL ? "AccessKeyId" : sk == NULL ?
		    "SecretAccessKey" : "Expiration");
	else if (parse_time(exps, strlen(exps), &exp) == -1)
		errfmt(reason, rlen, "%s: response Expiration is not an ISO "
		    "8601 time", p->origin);
	else
		creds_make(id, sk, jstr(j, "Token"), exp, SRC_CONTAINER, names,
		    out, reason, rlen);
	json_wipe(j);
	json_decref(j);
}

/* ---- the chain ---- */

static void
destroy(struct aws_creds_provider *p)
{
	struct waiter *w;

	later_cancel(&p->kick);
	ev_timer_stop(p->loop, &p->retry);
	if (p->req != NULL)
		httpc_cancel(p->req);
	while ((w = p->waiters) != NULL) {
		p->waiters = w->next;
		free(w);
	}
	creds_free(p->cache);
	redact_wipe_free(p->webid_token);
	free(p->profile);
	free(p->config_file);
	free(p->credentials_file);
	free(p->sts_endpoint);
	free(p->container_base);
	free(p);
}

/* Leave a loop callback: the provider is gone if it was freed meanwhile. */
static void
leave(struct aws_creds_provider *p)
{
	if (--p->busy == 0 && p->dead)
		destroy(p);
}

/* Usable without waiting: valid for more than AWS_CREDS_REFRESH_S. */
static int
fresh(const struct aws_creds_provider *p, time_t now)
{
	return p->cache != NULL && !p->stale && (p->cache->expiration == 0 ||
	    p->cache->expiration - now > AWS_CREDS_REFRESH_S);
}

/* Fresh, but inside the prefetch window and not refreshed just now. */
static int
prefetch_due(const struct aws_creds_provider *p, time_t now)
{
	return p->cache != NULL && p->cache->expiration != 0 &&
	    p->cache->expiration - now <= AWS_CREDS_PREFETCH_S &&
	    now - p->last_resolve >= PREFETCH_GAP_S;
}

/*
 * Answer every waiter with (c, err).  The list is taken first, so gets
 * made from a callback wait for the next round; a callback that frees
 * the provider stops the round (destroy() runs in leave()).
 */
static void
dispatch(struct aws_creds_provider *p, const struct aws_creds *c,
    const char *err)
{
	struct waiter *w;

	p->calling = p->waiters;
	p->waiters = NULL;
	p->wtail = &p->waiters;
	while (!p->dead && (w = p->calling) != NULL) {
		p->calling = w->next;
		w->cb(c, err, w->arg);
		free(w);
	}
}

/* The resolution ended with c (owned now), or NULL and p->why. */
static void
resolve_done(struct aws_creds_provider *p, struct aws_creds *c)
{
	time_t now = p->clock();

	p->resolving = 0;
	p->attempt = 0;
	redact_wipe_free(p->webid_token);
	p->webid_token = NULL;
	if (c != NULL) {
		/* rotating: refreshes never exhaust the registry */
		(void)redact_add_rotating_secret(c->secret_access_key);
		if (c->session_token != NULL)
			(void)redact_add_rotating_secret(c->session_token);
		creds_free(p->cache);
		p->cache = c;
		p->stale = 0;
		dispatch(p, c, NULL);
	} else if (p->cache != NULL && !p->stale &&
	    (p->cache->expiration == 0 || p->cache->expiration > now))
		dispatch(p, p->cache, NULL);	/* old ones still work */
	else
		dispatch(p, NULL, p->why);
}

/* Try sources from p->src on until one answers or is in flight. */
static void
chain_run(struct aws_creds_provider *p)
{
	struct aws_creds *c = NULL;
	enum step rc;

	for (; p->src < SRC_END; p->src++, p->attempt = 0) {
		switch (p->src) {
		case SRC_ENV:
			rc = src_env(p, &c);
			break;
		case SRC_WEBID:
			rc = src_webid(p);
			break;
		case SRC_FILES:
			rc = src_files(p, &c);
			break;
		default:
			rc = src_container(p);
			break;
		}
		if (rc == STEP_OK) {
			resolve_done(p, c);
			return;
		}
		if (rc == STEP_PENDING)
			return;
	}
	resolve_done(p, NULL);
}

static void
resolve_start(struct aws_creds_provider *p)
{
	p->resolving = 1;
	p->src = SRC_ENV;
	p->attempt = 0;
	p->last_resolve = p->clock();
	why_reset(p);
	chain_run(p);
}

static void
http_done(struct httpc_req *r, const struct httpc_response *resp, void *arg)
{
	struct aws_creds_provider *p = arg;
	struct aws_creds *c = NULL;
	char reason[1024] = "";
	int retry = 0;

	p->req = NULL;
	p->busy++;
	if (p->src == SRC_WEBID)
		sts_result(p, resp, &c, reason, sizeof(reason), &retry);
	else
		container_result(p, resp, &c, reason, sizeof(reason), &retry);
	if (c != NULL)
		resolve_done(p, c);
	else if (retry && p->attempt + 1 < MAX_ATTEMPTS) {
		ev_timer_set(&p->retry, httpc_backoff(p->attempt,
		    BACKOFF_BASE_S, BACKOFF_CAP_S, httpc_random()), 0.);
		p->attempt++;
		ev_timer_start(p->loop, &p->retry);
	} else {
		why_add(p, "%s: %s", src_names[p->src], reason);
		p->src++;
		p->attempt = 0;
		chain_run(p);
	}
	leave(p);
}

static void
retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct aws_creds_provider *p = w->data;

	p->busy++;
	chain_run(p);
	leave(p);
}

static void
kick_cb(void *arg)
{
	struct aws_creds_provider *p = arg;
	time_t now = p->clock();

	if (p->waiters == NULL)
		return;		/* cancelled, or answered already */
	p->busy++;
	if (!p->resolving && (!fresh(p, now) || prefetch_due(p, now)))
		resolve_start(p);
	if (!p->dead && p->waiters != NULL && fresh(p, now))
		dispatch(p, p->cache, NULL);
	leave(p);
}

/* ---- API ---- */

static time_t
wall_clock(void)
{
	return time(NULL);
}

void
aws_creds_set_clock(struct aws_creds_provider *p, time_t (*clock)(void))
{
	p->clock = clock != NULL ? clock : wall_clock;
}

struct aws_creds_provider *
aws_creds_new(struct ev_loop *loop, struct httpc *http,
    const struct aws_config *cfg)
{
	struct aws_creds_provider *p;
	const char *sts;

	if (loop == NULL || http == NULL || cfg == NULL ||
	    cfg->profile == NULL || cfg->config_file == NULL ||
	    cfg->credentials_file == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->loop = loop;
	p->http = http;
	p->wtail = &p->waiters;
	p->clock = wall_clock;
	later_init(&p->kick, loop, kick_cb, p);
	ev_timer_init(&p->retry, retry_cb, 0., 0.);
	p->retry.data = p;
	sts = cfg->endpoint[AWS_SVC_STS] != NULL ?
	    cfg->endpoint[AWS_SVC_STS] : "https://sts.amazonaws.com";
	if ((p->profile = strdup(cfg->profile)) == NULL ||
	    (p->config_file = strdup(cfg->config_file)) == NULL ||
	    (p->credentials_file = strdup(cfg->credentials_file)) == NULL ||
	    (p->sts_endpoint = strdup(sts)) == NULL ||
	    (p->container_base = strdup(ECS_AGENT)) == NULL) {
		destroy(p);
		return NULL;
	}
	why_reset(p);
	return p;
}

void
aws_creds_free(struct aws_creds_provider *p)
{
	struct waiter *w;

	if (p == NULL || p->dead)
		return;
	if (p->busy == 0) {
		destroy(p);
		return;
	}
	/* inside a callback: stop everything now, free in leave() */
	p->dead = 1;
	later_cancel(&p->kick);
	ev_timer_stop(p->loop, &p->retry);
	if (p->req != NULL) {
		httpc_cancel(p->req);
		p->req = NULL;
	}
	while ((w = p->calling) != NULL) {
		p->calling = w->next;
		free(w);
	}
}

int
aws_creds_get(struct aws_creds_provider *p, aws_creds_fn cb, void *arg)
{
	struct waiter *w;

	if (p == NULL || p->dead || cb == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->cb = cb;
	w->arg = arg;
	*p->wtail = w;
	p->wtail = &w->next;
	later_arm(&p->kick);
	return 0;
}

/* Remove the matching entries of the list at *head; returns the new tail. */
static struct waiter **
unlink_matching(struct waiter **head, aws_creds_fn cb, void *arg)
{
	struct waiter **pp = head, *w;

	while ((w = *pp) != NULL) {
		if (w->cb == cb && w->arg == arg) {
			*pp = w->next;
			free(w);
		} else
			pp = &w->next;
	}
	return pp;
}

void
aws_creds_cancel(struct aws_creds_provider *p, aws_creds_fn cb, void *arg)
{
	if (p == NULL)
		return;
	p->wtail = unlink_matching(&p->waiters, cb, arg);
	(void)unlink_matching(&p->calling, cb, arg);
}

void
aws_creds_invalidate(struct aws_creds_provider *p)
{
	if (p != NULL)
		p->stale = 1;
}

void
aws_creds_sigv4(const struct aws_creds *c, struct aws_sigv4_creds *out)
{
	out->access_key_id = c->access_key_id;
	out->secret_access_key = c->secret_access_key;
	out->session_token = c->session_token;
}

int
aws_creds_set_container_base(struct aws_creds_provider *p, const char *base)
{
	char *s;

	if (aws_endpoint_check(base, NULL, 0) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((s = strdup(base)) == NULL)
		return -1;
	free(p->container_base);
	p->container_base = s;
	return 0;
}
