#include "config.h"

#include <sys/queue.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <ev.h>
#include <jansson.h>

#include "httpc.h"
#include "later.h"
#include "log.h"
#include "redact.h"
#include "utf8.h"
#include "aws/awsclient.h"
#include "aws/awsconf.h"
#include "aws/creds.h"
#include "aws/sigv4.h"

#define DEF_ATTEMPTS	3
#define MAX_ATTEMPTS	10	/* bound on opts.max_attempts */
#define DEF_BASE_S	1.0
#define DEF_CAP_S	20.0
#define MAX_SNIPPET	200u	/* of a non-JSON error body, quoted */
#define MAX_TARGET	(64u + AWS_CLIENT_MAX_OPERATION)
#define NO_REGION	"no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, " \
			"or region in the profile's section of the config file)"

/* How one service is spoken to. */
struct svc_info {
	const char	*title;		/* for messages */
	const char	*target;	/* X-Amz-Target prefix; NULL: not served */
	const char	*ctype;
	int		 query_mode;	/* send x-amzn-query-mode: true */
};

static const struct svc_info svcs[AWS_SVC_COUNT] = {
	[AWS_SVC_ECS] = { "ECS", "AmazonEC2ContainerServiceV20141113",
	    "application/x-amz-json-1.1", 0 },
	[AWS_SVC_LOGS] = { "CloudWatch Logs", "Logs_20140328",
	    "application/x-amz-json-1.1", 0 },
	[AWS_SVC_MONITORING] = { "CloudWatch", "GraniteServiceVersion20100801",
	    "application/x-amz-json-1.0", 1 },
	[AWS_SVC_SECRETSMANAGER] = { "Secrets Manager", "secretsmanager",
	    "application/x-amz-json-1.1", 0 },
	[AWS_SVC_STS] = { "STS", NULL, NULL, 0 },
};

static const char *const throttling_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException",
	"TransactionInProgressException", "RequestLimitExceeded",
	"BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
	"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException", NULL
};

static const char *const transient_codes[] = {
	"RequestTimeout", "RequestTimeoutException", "InternalError",
	"InternalFailure", "ServiceUnavailable", NULL
};

static const char *const expired_codes[] = {
	"ExpiredToken", "ExpiredTokenException", NULL
};

/* A service's endpoint, split for the wire and the signer; all owned. */
struct endpoint {
	char	*name;		/* as configured, for messages */
	char	*url;		/* what is requested: name + "/" */
	char	*host;		/* the Host header: authority, default port
				   dropped */
	char	*path;		/* the path signed: name's path + "/" */
	char	*why;		/* no endpoint: what to set (name NULL) */
};

struct aws_client {
	struct ev_loop		*loop;
	struct httpc		*http;
	struct aws_creds_provider *creds;
	char			*region;	/* NULL: none configured */
	struct endpoint		 ep[AWS_SVC_COUNT];
	unsigned		 max_attempts;
	double			 base_s;
	double			 cap_s;
	long			 timeout_ms;
	double			(*random)(void);
	LIST_HEAD(, aws_call)	 calls;		/* every call not finished */
	int			 busy;		/* callbacks on the stack */
	int			 dead;		/* freed while busy */
};

enum call_state {
	CS_CREDS,	/* waiting for credentials */
	CS_HTTP,	/* a transfer in flight */
	CS_WAIT,	/* backoff before the next attempt */
	CS_FAIL,	/* a failure to report on the next loop iteration */
	CS_DONE		/* off the list, its callback running */
};

struct aws_call {
	struct aws_client	*c;
	LIST_ENTRY(aws_call)	 entry;
	enum call_state		 state;
	enum aws_service	 svc;
	char			 op[AWS_CLIENT_MAX_OPERATION + 1];
	char			*body;
	size_t			 body_len;
	aws_call_fn		 cb;
	void			*arg;
	unsigned		 attempts;	/* HTTP attempts started */
	int			 renewed;	/* the ExpiredToken retry used */
	struct httpc_req	*req;		/* CS_HTTP */
	ev_timer		 timer;		/* CS_WAIT */
	struct later		 soon;		/* CS_FAIL */
	enum aws_err		 fail_err;	/* CS_FAIL */
	char			*fail_msg;	/* CS_FAIL; owned */
};

static int	attempt_start(struct aws_call *);
static void	creds_cb(const struct aws_creds *, const char *, void *);

/* ---- small helpers ---- */

static int
in_list(const char *const *list, const char *s)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/*
 * Copy s[0..n) into out (outlen >= 4 bytes), control bytes turned into
 * spaces.  What does not fit is cut at a UTF-8 boundary and marked
 * "...".
 */
static void
clean_text(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, m = n;

	if (n >= outlen)
		m = u8_cut(s, n, outlen - 4);
	for (i = 0; i < m; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	if (m < n) {
		memcpy(out + m, "...", 3);
		m += 3;
	}
	out[m] = '\0';
}

/* Copy a token (code, request id, fault) into out: printable ASCII but
   spaces; anything else becomes '?'.  Cut at outlen - 1 bytes. */
static void
clean_token(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i;

	if (n >= outlen)
		n = outlen - 1;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[n] = '\0';
}

/*
 * The bare code of s: after the last '#' (a namespace, "aws.ecs#X"),
 * before the first ':' ("X:http://internal.amazon.com/..."), surrounding
 * blanks dropped.
 */
static void
bare_code(const char *s, char *out, size_t outlen)
{
	const char *h = strrchr(s, '#');
	size_t n;

	if (h != NULL)
		s = h + 1;
	s += strspn(s, " \t");
	n = strcspn(s, ":");
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	clean_token(s, n, out, outlen);
}

static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- public helpers ---- */

const char *
aws_service_title(enum aws_service svc)
{
	if ((unsigned)svc >= AWS_SVC_COUNT)
		return "AWS";
	return svcs[svc].title;
}

const char *
aws_err_name(enum aws_err e)
{
	switch (e) {
	case AWS_OK:
		return "ok";
	case AWS_ERR_CONFIG:
		return "config";
	case AWS_ERR_SERVICE:
		return "service";
	case AWS_ERR_NETWORK:
		return "network";
	case AWS_ERR_RESPONSE:
		return "response";
	case AWS_ERR_INTERNAL:
		return "internal";
	}
	return "unknown";
}

int
aws_code_is_throttling(const char *code)
{
	return in_list(throttling_codes, code);
}

int
aws_code_is_transient(const char *code)
{
	return in_list(transient_codes, code);
}

int
aws_code_is_expired(const char *code)
{
	return in_list(expired_codes, code);
}

void
aws_request_id(const struct httpc_response *r, char *out, size_t outlen)
{
	const char *v;

	if (outlen == 0)
		return;
	if ((v = httpc_header(r, "x-amzn-RequestId")) == NULL ||
	    *v == '\0')
		v = httpc_header(r, "x-amz-request-id");
	if (v == NULL)
		v = "";
	clean_token(v, strlen(v), out, outlen);
}

/* Fill out->code and out->fault from "Code;Sender"; 0, or -1 when the
   header is absent or names no code. */
static int
query_error(const struct httpc_response *r, struct aws_error *out)
{
	const char *q = httpc_header(r, "x-amzn-query-error"), *f;
	char code[AWS_CLIENT_MAX_CODE];
	size_t n;

	if (q == NULL)
		return -1;
	n = strcspn(q, ";");
	if (n >= sizeof(code))
		n = sizeof(code) - 1;
	memcpy(code, q, n);
	code[n] = '\0';
	bare_code(code, out->code, sizeof(out->code));
	if (out->code[0] == '\0')
		return -1;
	if (*(f = q + strcspn(q, ";")) == ';') {
		f++;
		clean_token(f, strcspn(f, ";"), out->fault,
		    sizeof(out->fault));
	}
	return 0;
}

void
aws_error_parse(const struct httpc_response *r, struct aws_error *out)
{
	json_t *doc = NULL;
	const char *type = NULL, *msg = NULL, *h;

	memset(out, 0, sizeof(*out));
	aws_request_id(r, out->request_id, sizeof(out->request_id));
	if (r->body != NULL && r->body_len > 0)
		doc = json_loadb(r->body, r->body_len, 0, NULL);
	if (json_is_object(doc)) {
		if ((type = jstr(doc, "__type")) == NULL || *type == '\0')
			type = jstr(doc, "code");
		if ((msg = jstr(doc, "message")) == NULL)
			if ((msg = jstr(doc, "Message")) == NULL)
				msg = jstr(doc, "errorMessage");
	}
	if (query_error(r, out) == -1) {
		if (type != NULL && *type != '\0')
			bare_code(type, out->code, sizeof(out->code));
		else if ((h = httpc_header(r, "x-amzn-errortype")) != NULL)
			bare_code(h, out->code, sizeof(out->code));
	}
	if (msg != NULL)
		clean_text(msg, strlen(msg), out->message,
		    sizeof(out->message));
	json_decref(doc);
}

/* ---- endpoints ---- */

static void
endpoint_free(struct endpoint *e)
{
	free(e->name);
	free(e->url);
	free(e->host);
	free(e->path);
	free(e->why);
	memset(e, 0, sizeof(*e));
}

static char *
dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static char *
cat2(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *d = malloc(na + nb + 1);

	if (d != NULL) {
		memcpy(d, a, na);
		memcpy(d + na, b, nb + 1);
	}
	return d;
}

/*
 * Split the endpoint URL `url` (checked by aws_config_load(): http or
 * https, a host, no userinfo, query or fragment, no trailing '/') into
 * *e.  0, or -1 on ENOMEM.
 */
static int
endpoint_set(struct endpoint *e, const char *url)
{
	size_t skip = strncasecmp(url, "https://", 8) == 0 ? 8 : 7;
	size_t alen = strcspn(url + skip, "/"), hlen = alen;
	const char *auth = url + skip, *dport = skip == 8 ? ":443" : ":80";
	size_t dlen = strlen(dport);

	if (hlen > dlen && strncmp(auth + hlen - dlen, dport, dlen) == 0)
		hlen -= dlen;	/* as the SDKs sign it */
	if ((e->name = strdup(url)) == NULL ||
	    (e->url = cat2(url, "/")) == NULL ||
	    (e->host = dup_n(auth, hlen)) == NULL ||
	    (e->path = cat2(auth + alen, "/")) == NULL)
		return -1;
	return 0;
}

/* ---- the client ---- */

static void
call_free(struct aws_call *k)
{
	later_cancel(&k->soon);
	free(k->body);
	free(k->fail_msg);
	free(k);
}

/* Stop whatever the call waits for; no callback runs. */
static void
call_abort(struct aws_call *k)
{
	struct aws_client *c = k->c;

	ev_timer_stop(c->loop, &k->timer);
	later_cancel(&k->soon);
	if (k->req != NULL) {
		httpc_cancel(k->req);
		k->req = NULL;
	}
	if (k->state == CS_CREDS)
		aws_creds_cancel(c->creds, creds_cb, k);
}

static void
client_destroy(struct aws_client *c)
{
	size_t i;

	for (i = 0; i < AWS_SVC_COUNT; i++)
		endpoint_free(&c->ep[i]);
	free(c->region);
	free(c);
}

struct aws_client *
aws_client_new(struct ev_loop *loop, struct httpc *http,
    struct aws_creds_provider *creds, const struct aws_config *cfg,
    const struct aws_client_opts *opts, char *err, size_t errlen)
{
	struct aws_client *c;
	const char *url;
	char why[512];
	size_t i;

	if (loop == NULL || http == NULL || creds == NULL || cfg == NULL) {
		errfmt(err, errlen, "aws_client_new: missing argument");
		errno = EINVAL;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto nomem;
	c->loop = loop;
	c->http = http;
	c->creds = creds;
	LIST_INIT(&c->calls);
	c->max_attempts = opts && opts->max_attempts ? opts->max_attempts :
	    DEF_ATTEMPTS;
	if (c->max_attempts > MAX_ATTEMPTS)
		c->max_attempts = MAX_ATTEMPTS;
	c->base_s = opts && opts->backoff_base_s > 0 ? opts->backoff_base_s :
	    DEF_BASE_S;
	c->cap_s = opts && opts->backoff_cap_s > 0 ? opts->backoff_cap_s :
	    DEF_CAP_S;
	c->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 0;
	c->random = opts && opts->random ? opts->random : httpc_random;
	if (cfg->region != NULL && (c->region = strdup(cfg->region)) == NULL)
		goto nomem;
	for (i = 0; i < AWS_SVC_COUNT; i++) {
		if ((url = aws_config_endpoint(cfg, (enum aws_service)i, why,
		    sizeof(why))) != NULL) {
			if (endpoint_set(&c->ep[i], url) == -1)
				goto nomem;
		} else if ((c->ep[i].why = strdup(why)) == NULL)
			goto nomem;
	}
	return c;
nomem:
	if (c != NULL)
		client_destroy(c);
	errfmt(err, errlen, "out of memory");
	errno = ENOMEM;
	return NULL;
}

void
aws_client_free(struct aws_client *c)
{
	struct aws_call *k;

	if (c == NULL || c->dead)
		return;
	while ((k = LIST_FIRST(&c->calls)) != NULL) {
		LIST_REMOVE(k, entry);
		call_abort(k);
		call_free(k);
	}
	if (c->busy > 0) {
		c->dead = 1;	/* released when the callback returns */
		return;
	}
	client_destroy(c);
}

/* ---- finishing a call ---- */

/*
 * Hand the outcome to the caller and free the call.  The callback may
 * free the client (then released here, once no callback is on the
 * stack): nothing touches k or c after this returns.
 */
static void
deliver(struct aws_call *k, struct aws_result *res)
{
	struct aws_client *c = k->c;

	LIST_REMOVE(k, entry);
	k->state = CS_DONE;
	res->attempts = k->attempts;
	c->busy++;
	k->cb(res, k->arg);
	c->busy--;
	call_free(k);
	if (c->dead && c->busy == 0)
		client_destroy(c);
}

static void fail(struct aws_call *, struct aws_result *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Deliver res (its err set) with the message "TITLE OP failed: " and
 * fmt, with registered secrets redacted.
 */
static void
fail(struct aws_call *k, struct aws_result *res, const char *fmt, ...)
{
	char msg[AWS_CLIENT_MAX_MESSAGE], *red;
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s %s failed: ", svcs[k->svc].title,
	    k->op);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if ((red = redact_str(msg)) == NULL) {
		snprintf(msg + n, sizeof(msg) - (size_t)n, "out of memory");
		res->err = AWS_ERR_INTERNAL;
	}
	res->message = red != NULL ? red : msg;
	deliver(k, res);
	free(red);
}

/* "request id X", or "no request id". */
static void
id_note(const char *rid, char *out, size_t outlen)
{
	if (*rid != '\0')
		snprintf(out, outlen, "request id %s", rid);
	else
		snprintf(out, outlen, "no request id");
}

/* ---- attempts ---- */

static int
can_retry(const struct aws_call *k)
{
	return k->attempts < k->c->max_attempts;
}

/* Wait rand * min(cap, base * 2^n) before attempt n + 2. */
static void
retry_later(struct aws_call *k)
{
	struct aws_client *c = k->c;
	double u = c->random(), d;

	if (!(u >= 0.0 && u < 1.0))
		u = 0.0;
	d = httpc_backoff(k->attempts - 1, c->base_s, c->cap_s, u);
	k->state = CS_WAIT;
	ev_timer_set(&k->timer, d, 0.);
	ev_timer_start(c->loop, &k->timer);
}

/* Ask for credentials; the attempt goes on in creds_cb().  0, or -1 on
   ENOMEM (nothing pending). */
static int
attempt_start(struct aws_call *k)
{
	k->state = CS_CREDS;
	return aws_creds_get(k->c->creds, creds_cb, k);
}

/* A new "Name: value" line; NULL on ENOMEM. */
static char *
header_line(const char *name, const char *value)
{
	size_t nn = strlen(name), nv = strlen(value);
	char *s = malloc(nn + nv + 3);

	if (s != NULL) {
		memcpy(s, name, nn);
		memcpy(s + nn, ": ", 2);
		memcpy(s + nn + 2, value, nv + 1);
	}
	return s;
}

static void	http_cb(struct httpc_req *, const struct httpc_response *,
		    void *);

/*
 * Sign the call with creds and start its transfer.  0, or -1 with the
 * reason in err (signing refused, out of memory).
 */
static int
send_signed(struct aws_call *k, const struct aws_creds *creds, char *err,
    size_t errlen)
{
	struct aws_client *c = k->c;
	const struct svc_info *si = &svcs[k->svc];
	const struct endpoint *e = &c->ep[k->svc];
	struct aws_sigv4_header sh[4];
	struct aws_sigv4_req rq;
	struct aws_sigv4_creds sc;
	struct aws_sigv4_out out;
	char target[MAX_TARGET];
	char *lines[4 + AWS_SIGV4_MAX_ADD + 1];
	size_t n = 0, i;
	int rc = -1;

	snprintf(target, sizeof(target), "%s.%s", si->target, k->op);
	sh[n++] = (struct aws_sigv4_header){ "Host", e->host };
	sh[n++] = (struct aws_sigv4_header){ "Content-Type", si->ctype };
	sh[n++] = (struct aws_sigv4_header){ "X-Amz-Target", target };
	if (si->query_mode)
		sh[n++] = (struct aws_sigv4_header){ "x-amzn-query-mode",
		    "true" };
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.path = e->path;
	rq.headers = sh;
	rq.nheaders = n;
	rq.body = k->body;
	rq.body_len = k->body_len;
	aws_creds_sigv4(creds, &sc);
	memset(&out, 0, sizeof(out));
	if (aws_sigv4_sign(&rq, &sc, c->region, aws_service_name(k->svc),
	    time(NULL), &out, err, errlen) == -1)
		return -1;
	memset(lines, 0, sizeof(lines));
	for (i = 0; i < n; i++)
		if ((lines[i] = header_line(sh[i].name, sh[i].value)) == NULL) {
			errfmt(err, errlen, "out of memory");
			goto out;
		}
	for (i = 0; out.headers[i] != NULL; i++)
		lines[n + i] = out.headers[i];	/* borrowed from out */
	k->req = httpc_request(c->http, "POST", e->url,
	    (const char *const *)lines, k->body, k->body_len, c->timeout_ms,
	    http_cb, k);
	if (k->req == NULL) {
		errfmt(err, errlen, "could not start a request to %s",
		    e->name);
		goto out;
	}
	k->attempts++;
	k->state = CS_HTTP;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(lines[i]);
	aws_sigv4_out_free(&out);
	return rc;
}

static void
creds_cb(const struct aws_creds *creds, const char *err, void *arg)
{
	struct aws_call *k = arg;
	struct aws_result res;
	char why[512];

	memset(&res, 0, sizeof(res));
	if (creds == NULL) {
		res.err = AWS_ERR_CONFIG;
		fail(k, &res, "%s", err != NULL ? err : "no AWS credentials");
		return;
	}
	if (send_signed(k, creds, why, sizeof(why)) == -1) {
		res.err = AWS_ERR_INTERNAL;
		fail(k, &res, "%s", why);
	}
}

/* curl's reason without httpc's "request to ORIGIN failed: " frame. */
static const char *
transport_reason(const struct httpc_response *r)
{
	const char *t = r->error_text, *p;

	if (t == NULL || *t == '\0')
		return curl_easy_strerror((CURLcode)r->error);
	if (strncmp(t, "request to ", 11) == 0 &&
	    (p = strstr(t, " failed: ")) != NULL)
		return p + 9;
	return t;
}

/* No HTTP answer: a bound crossed, or the network. */
static void
transport(struct aws_call *k, const struct httpc_response *resp)
{
	struct aws_result res;
	char note[64] = "";

	memset(&res, 0, sizeof(res));
	switch (resp->error) {
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		res.err = AWS_ERR_RESPONSE;
		fail(k, &res, "%s", transport_reason(resp));
		return;
	case CURLE_OUT_OF_MEMORY:
		res.err = AWS_ERR_INTERNAL;
		fail(k, &res, "out of memory");
		return;
	default:
		break;
	}
	if (can_retry(k)) {
		retry_later(k);
		return;
	}
	if (k->attempts > 1)
		snprintf(note, sizeof(note), " (gave up after %u attempts)",
		    k->attempts);
	res.err = AWS_ERR_NETWORK;
	fail(k, &res, "could not reach %s: %s%s", k->c->ep[k->svc].name,
	    transport_reason(resp), note);
}

static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strchr(" \t\r\n", s[i]) == NULL || s[i] == '\0')
			return 0;
	return 1;
}

/* A 2xx answer: the output object, or a malformed body. */
static void
answer_ok(struct aws_call *k, const struct httpc_response *resp)
{
	struct aws_result res;
	json_error_t je;
	json_t *doc;
	char rid[AWS_CLIENT_MAX_REQID], idn[AWS_CLIENT_MAX_REQID + 16];
	char text[sizeof(je.text)];

	memset(&res, 0, sizeof(res));
	aws_request_id(resp, rid, sizeof(rid));
	id_note(rid, idn, sizeof(idn));
	res.status = resp->status;
	res.request_id = *rid != '\0' ? rid : NULL;
	if (blank(resp->body, resp->body_len))
		doc = json_object();	/* an empty output */
	else
		doc = json_loadb(resp->body, resp->body_len, 0, &je);
	if (doc == NULL && blank(resp->body, resp->body_len)) {
		res.err = AWS_ERR_INTERNAL;
		fail(k, &res, "out of memory");
	} else if (doc == NULL) {
		clean_text(je.text, strlen(je.text), text, sizeof(text));
		res.err = AWS_ERR_RESPONSE;
		fail(k, &res, "the answer is not JSON (%s): %s", idn, text);
	} else if (!json_is_object(doc)) {
		res.err = AWS_ERR_RESPONSE;
		fail(k, &res, "the answer is not a JSON object (%s)", idn);
	} else {
		res.body = doc;
		deliver(k, &res);
	}
	json_decref(doc);
}

static int
status_transient(long status)
{
	return status == 500 || status == 502 || status == 503 ||
	    status == 504;
}

/* An error answer: renew, retry, or report. */
static void
answer_error(struct aws_call *k, const struct httpc_response *resp)
{
	struct aws_client *c = k->c;
	struct aws_result res;
	struct aws_error e;
	const char *code;
	char what[AWS_CLIENT_MAX_CODE + AWS_CLIENT_MAX_TEXT + 32];
	char snip[MAX_SNIPPET + 4], idn[AWS_CLIENT_MAX_REQID + 16];
	char note[64] = "";

	aws_error_parse(resp, &e);
	code = e.code[0] != '\0' ? e.code : NULL;
	memset(&res, 0, sizeof(res));
	if (aws_code_is_expired(code) && !k->renewed && can_retry(k)) {
		k->renewed = 1;
		aws_creds_invalidate(c->creds);
		if (attempt_start(k) == 0)
			return;
		res.err = AWS_ERR_INTERNAL;
		fail(k, &res, "out of memory");
		return;
	}
	if ((aws_code_is_throttling(code) || aws_code_is_transient(code) ||
	    status_transient(resp->status)) && can_retry(k)) {
		retry_later(k);
		return;
	}
	if (code != NULL && e.message[0] != '\0')
		snprintf(what, sizeof(what), "%s: %s", code, e.message);
	else if (code != NULL)
		snprintf(what, sizeof(what), "%s", code);
	else if (e.message[0] != '\0')
		snprintf(what, sizeof(what), "HTTP %ld: %s", resp->status,
		    e.message);
	else if (!blank(resp->body, resp->body_len)) {
		clean_text(resp->body, resp->body_len < MAX_SNIPPET ?
		    resp->body_len : MAX_SNIPPET, snip, sizeof(snip));
		snprintf(what, sizeof(what), "HTTP %ld: %s%s", resp->status,
		    snip, resp->body_len > MAX_SNIPPET ? "..." : "");
	} else
		snprintf(what, sizeof(what), "HTTP %ld", resp->status);
	id_note(e.request_id, idn, sizeof(idn));
	if (k->attempts > 1)
		snprintf(note, sizeof(note), "; gave up after %u attempts",
		    k->attempts);
	res.err = AWS_ERR_SERVICE;
	res.code = code;
	res.fault = e.fault[0] != '\0' ? e.fault : NULL;
	res.status = resp->status;
	res.request_id = e.request_id[0] != '\0' ? e.request_id : NULL;
	fail(k, &res, "%s (%s%s)", what, idn, note);
}

static void
http_cb(struct httpc_req *r, const struct httpc_response *resp, void *arg)
{
	struct aws_call *k = arg;

	(void)r;
	k->req = NULL;
	if (resp->status == 0)
		transport(k, resp);
	else if (resp->status >= 200 && resp->status < 300)
		answer_ok(k, resp);
	else
		answer_error(k, resp);
}

/* A failure found at aws_call() is due. */
static void
soon_cb(void *arg)
{
	struct aws_call *k = arg;
	struct aws_result res;

	memset(&res, 0, sizeof(res));
	res.err = k->fail_err;
	fail(k, &res, "%s", k->fail_msg);
}

/* The backoff wait is over. */
static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct aws_call *k = w->data;
	struct aws_result res;

	(void)loop;
	(void)revents;
	memset(&res, 0, sizeof(res));
	if (attempt_start(k) == -1) {
		res.err = AWS_ERR_INTERNAL;
		fail(k, &res, "out of memory");
	}
}

/* ---- calls ---- */

static int
op_valid(const char *op)
{
	size_t i;

	if (op == NULL)
		return 0;
	for (i = 0; op[i] != '\0'; i++) {
		unsigned char ch = (unsigned char)op[i];

		if (i >= AWS_CLIENT_MAX_OPERATION ||
		    !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9')))
			return 0;
	}
	return i > 0;
}

/* Serialise params (NULL: {}) into k->body.  0, or -1 with errno. */
static int
body_set(struct aws_call *k, const json_t *params)
{
	size_t need;

	if (params == NULL) {
		k->body = strdup("{}");
		k->body_len = 2;
		return k->body != NULL ? 0 : -1;
	}
	if ((need = json_dumpb(params, NULL, 0, JSON_COMPACT)) == 0) {
		errno = EINVAL;
		return -1;
	}
	if (need > AWS_CLIENT_MAX_BODY) {
		errno = EMSGSIZE;
		return -1;
	}
	if ((k->body = malloc(need + 1)) == NULL)
		return -1;
	if (json_dumpb(params, k->body, need, JSON_COMPACT) != need) {
		errno = EINVAL;
		return -1;
	}
	k->body[need] = '\0';
	k->body_len = need;
	return 0;
}

/* Report `msg` (copied) on the next loop iteration.  0, or -1 ENOMEM. */
static int
fail_soon(struct aws_call *k, enum aws_err err, const char *msg)
{
	if ((k->fail_msg = strdup(msg)) == NULL)
		return -1;
	k->fail_err = err;
	k->state = CS_FAIL;
	later_arm(&k->soon);
	return 0;
}

struct aws_call *
aws_call(struct aws_client *c, enum aws_service svc, const char *operation,
    const json_t *params, aws_call_fn cb, void *arg)
{
	struct aws_call *k;
	const struct endpoint *e;
	int rc;

	if (c == NULL || c->dead || cb == NULL ||
	    (unsigned)svc >= AWS_SVC_COUNT || svcs[svc].target == NULL ||
	    !op_valid(operation) ||
	    (params != NULL && !json_is_object(params))) {
		errno = EINVAL;
		return NULL;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->c = c;
	k->svc = svc;
	k->cb = cb;
	k->arg = arg;
	memcpy(k->op, operation, strlen(operation) + 1);
	ev_timer_init(&k->timer, timer_cb, 0., 0.);
	k->timer.data = k;
	later_init(&k->soon, c->loop, soon_cb, k);
	if (body_set(k, params) == -1) {
		call_free(k);
		return NULL;
	}
	e = &c->ep[svc];
	if (e->name == NULL)
		rc = fail_soon(k, AWS_ERR_CONFIG, e->why);
	else if (c->region == NULL)
		rc = fail_soon(k, AWS_ERR_CONFIG, NO_REGION);
	else
		rc = attempt_start(k);
	if (rc == -1) {
		call_free(k);
		errno = ENOMEM;
		return NULL;
	}
	LIST_INSERT_HEAD(&c->calls, k, entry);
	return k;
}

void
aws_call_cancel(struct aws_call *k)
{
	if (k == NULL || k->state == CS_DONE)
		return;
	LIST_REMOVE(k, entry);
	call_abort(k);
	call_free(k);
}
