/*
 * httpc: libcurl's multi interface on a libev loop.
 *
 * curl tells us which sockets to watch (sock_cb) and when to wake it
 * (timer_fn); we turn those into one ev_io per socket and one ev_timer,
 * and hand readiness back with curl_multi_socket_action().  After every
 * action the finished transfers are drained from curl_multi_info_read()
 * and their callbacks run.
 *
 * Lifetimes: a request is owned by the struct httpc from httpc_request()
 * until its callback returns (then freed) or httpc_cancel() (freed at
 * once).  A request whose callback is running is already off the multi
 * handle and off the request list, so the callback may start, cancel or
 * even free everything else.  httpc_free() called from inside a callback
 * is deferred until dispatch unwinds.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <ev.h>
#include <sodium.h>

#include "buf.h"
#include "httpc.h"

#define HTTPC_DEF_CONNECT_MS	10000
#define HTTPC_DEF_TIMEOUT_MS	60000
#define HTTPC_DEF_MAX_RESPONSE	((size_t)32 * 1024 * 1024)
#define HTTPC_DEF_HOST_CONNS	8

#define HTTPC_MAX_URL		(64 * 1024)	/* request URL */
#define HTTPC_MAX_METHOD	32
#define HTTPC_MAX_REQ_HEADERS	128		/* caller's lines */
#define HTTPC_MAX_REQ_HDR_LEN	(16 * 1024)	/* one caller line */
#define HTTPC_MAX_HEADERS	256		/* response header lines */
#define HTTPC_MAX_HEADER_BYTES	(256 * 1024)	/* response head */
#define HTTPC_ORIGIN_MAX	512		/* "scheme://host:port" */

enum req_state {
	RQ_RUNNING,	/* on the multi handle and h->reqs */
	RQ_CALLBACK	/* finished; its done callback is running */
};

enum req_fail {
	RF_NONE,
	RF_BODY_BOUND,	/* body passed max_response */
	RF_HEADER_BOUND,	/* header block passed its bounds */
	RF_NOMEM,
	RF_IDLE,	/* no byte for idle_timeout_ms */
	RF_READER	/* on_data asked to stop */
};

struct httpc_sock {
	ev_io			 io;
	struct httpc		*h;
	curl_socket_t		 fd;
	LIST_ENTRY(httpc_sock)	 entry;
};

struct httpc_req {
	struct httpc		*h;
	CURL			*easy;
	struct curl_slist	*hdrs;
	httpc_done_fn		 done;
	httpc_data_fn		 on_data;	/* NULL: collect */
	void			*arg;
	enum req_state		 state;
	enum req_fail		 fail;
	size_t			 max_response;
	struct buf		 body;		/* bound: max_response + NUL */
	long			 status;	/* of the response being read,
						   0: not known yet */
	size_t			 streamed;	/* bytes given to on_data */
	ev_timer		 idle;		/* idle_timeout_ms, when set */
	long			 idle_ms;
	ev_tstamp		 last;		/* last byte received */
	struct httpc_header	*rh;		/* response headers */
	size_t			 nrh;
	size_t			 caprh;
	size_t			 rh_bytes;
	char			 origin[HTTPC_ORIGIN_MAX];
	char			 errbuf[CURL_ERROR_SIZE];
	char			 errtext[CURL_ERROR_SIZE + HTTPC_ORIGIN_MAX * 2];
	TAILQ_ENTRY(httpc_req)	 entry;
};

struct httpc {
	struct ev_loop		*loop;
	CURLM			*multi;
	CURLSH			*share;		/* TLS sessions */
	ev_timer		 timer;
	char			*user_agent;
	long			 connect_timeout_ms;
	long			 timeout_ms;
	size_t			 max_response;
	TAILQ_HEAD(, httpc_req)	 reqs;
	LIST_HEAD(, httpc_sock)	 socks;
	size_t			 nactive;
	long			 nconnects;
	int			 dispatching;	/* httpc_dispatch() depth */
	int			 dying;		/* httpc_free() pending */
};

static pthread_once_t	httpc_once = PTHREAD_ONCE_INIT;
static int		httpc_curl_ok;
static int		httpc_sodium_ok;

static void
httpc_global_init(void)
{
	httpc_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	httpc_sodium_ok = sodium_init() >= 0;
}

/* ---- response collection (curl callbacks) ---- */

static void
headers_clear(struct httpc_req *r)
{
	size_t i;

	for (i = 0; i < r->nrh; i++) {
		free(r->rh[i].name);
		free(r->rh[i].value);
	}
	r->nrh = 0;
	r->rh_bytes = 0;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* Trim [*p, *p + *len) of optional whitespace on both ends. */
static void
trim(const char **p, size_t *len)
{
	while (*len > 0 && is_ows(**p)) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && is_ows((*p)[*len - 1]))
		(*len)--;
}

/* Append an obs-fold continuation to the last header's value.  0 or -1. */
static int
header_fold(struct httpc_req *r, const char *p, size_t len)
{
	struct httpc_header *last;
	size_t old;
	char *v;

	trim(&p, &len);
	if (r->nrh == 0 || len == 0)
		return 0;
	last = &r->rh[r->nrh - 1];
	old = strlen(last->value);
	if ((v = realloc(last->value, old + len + 2)) == NULL)
		return -1;
	v[old] = ' ';
	memcpy(v + old + 1, p, len);
	v[old + 1 + len] = '\0';
	last->value = v;
	return 0;
}

/* Store "Name: value" (no CRLF).  Lines without a colon are ignored.
   0, or -1 on ENOMEM. */
static int
header_add(struct httpc_req *r, const char *p, size_t len)
{
	const char *colon, *v;
	struct httpc_header *nh;
	size_t nlen, vlen, ncap;

	if ((colon = memchr(p, ':', len)) == NULL || colon == p)
		return 0;
	nlen = (size_t)(colon - p);
	while (nlen > 0 && is_ows(p[nlen - 1]))
		nlen--;
	v = colon + 1;
	vlen = len - (size_t)(v - p);
	trim(&v, &vlen);
	if (r->nrh == r->caprh) {
		ncap = r->caprh ? r->caprh * 2 : 16;
		if ((nh = reallocarray(r->rh, ncap, sizeof(*nh))) == NULL)
			return -1;
		r->rh = nh;
		r->caprh = ncap;
	}
	nh = &r->rh[r->nrh];
	nh->name = strndup(p, nlen);
	nh->value = strndup(v, vlen);
	if (nh->name == NULL || nh->value == NULL) {
		free(nh->name);
		free(nh->value);
		return -1;
	}
	r->nrh++;
	return 0;
}

/*
 * CURLOPT_HEADERFUNCTION: one header line per call.  A status line
 * starts a new response, so headers (and any body) of 1xx, of proxy
 * CONNECT replies or of earlier responses are dropped.  Returning less
 * than `len` aborts the transfer.
 */
static size_t
header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct httpc_req *r = arg;
	size_t len = size * nmemb, n = len;
	const char *p = data;

	r->last = ev_now(r->h->loop);
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		headers_clear(r);
		buf_reset(&r->body);
		r->status = 0;
		return len;
	}
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0)
		return len;
	r->rh_bytes += len;
	if (r->rh_bytes > HTTPC_MAX_HEADER_BYTES ||
	    r->nrh >= HTTPC_MAX_HEADERS) {
		r->fail = RF_HEADER_BOUND;
		return 0;
	}
	if ((is_ows(*p) ? header_fold(r, p, n) : header_add(r, p, n)) == -1) {
		r->fail = RF_NOMEM;
		return 0;
	}
	return len;
}

/*
 * CURLOPT_WRITEFUNCTION: collect the (decoded) body within its bound, or
 * hand a 2xx body to on_data.
 */
static size_t
write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct httpc_req *r = arg;
	size_t len = size * nmemb;

	r->last = ev_now(r->h->loop);
	if (r->on_data != NULL && r->status == 0 &&
	    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status) !=
	    CURLE_OK)
		r->status = 0;
	if (len > r->max_response - buf_used(&r->body) - r->streamed) {
		r->fail = RF_BODY_BOUND;
		return 0;
	}
	if (r->on_data != NULL && r->status >= 200 && r->status < 300) {
		r->streamed += len;
		if (len > 0 && r->on_data(r, data, len, r->arg) != 0) {
			r->fail = RF_READER;
			return 0;
		}
		return len;
	}
	if (buf_append(&r->body, data, len) == -1) {
		r->fail = RF_NOMEM;
		return 0;
	}
	return len;
}

/* ---- request lifetime ---- */

static void
req_free(struct httpc_req *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	buf_free(&r->body);
	headers_clear(r);
	free(r->rh);
	free(r);
}

/* Add this transfer's new connections to the total; call before removal. */
static void
req_count_connects(struct httpc_req *r)
{
	long n = 0;

	if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK &&
	    n > 0)
		r->h->nconnects += n;
}

/* Take r off the multi handle and the request list (no callback). */
static void
req_detach(struct httpc_req *r)
{
	struct httpc *h = r->h;

	req_count_connects(r);
	ev_timer_stop(h->loop, &r->idle);
	TAILQ_REMOVE(&h->reqs, r, entry);
	h->nactive--;
	curl_multi_remove_handle(h->multi, r->easy);
}

/*
 * Fill in the error fields of `resp` for a failed transfer: the bound
 * that was crossed, or curl's own text; both name only the origin.
 */
static void
req_error(struct httpc_req *r, CURLcode res, struct httpc_response *resp)
{
	size_t n;

	switch (r->fail) {
	case RF_BODY_BOUND:
		res = CURLE_FILESIZE_EXCEEDED;
		break;
	case RF_HEADER_BOUND:
		snprintf(r->errtext, sizeof(r->errtext),
		    "response headers from %s exceed %d bytes or %d lines",
		    r->origin, HTTPC_MAX_HEADER_BYTES, HTTPC_MAX_HEADERS);
		resp->error = CURLE_WRITE_ERROR;
		resp->error_text = r->errtext;
		return;
	case RF_NOMEM:
		snprintf(r->errtext, sizeof(r->errtext),
		    "out of memory reading response from %s", r->origin);
		resp->error = CURLE_OUT_OF_MEMORY;
		resp->error_text = r->errtext;
		return;
	case RF_IDLE:
		snprintf(r->errtext, sizeof(r->errtext),
		    "request to %s failed: no data for %ld ms (idle timeout)",
		    r->origin, r->idle_ms);
		resp->error = CURLE_OPERATION_TIMEDOUT;
		resp->error_text = r->errtext;
		return;
	case RF_READER:
		snprintf(r->errtext, sizeof(r->errtext),
		    "response from %s stopped by its reader", r->origin);
		resp->error = CURLE_WRITE_ERROR;
		resp->error_text = r->errtext;
		return;
	case RF_NONE:
		break;
	}
	resp->error = res;
	resp->error_text = r->errtext;
	if (res == CURLE_FILESIZE_EXCEEDED) {
		snprintf(r->errtext, sizeof(r->errtext),
		    "response from %s exceeds %zu bytes", r->origin,
		    r->max_response);
		return;
	}
	n = strlen(r->errbuf);
	while (n > 0 && (r->errbuf[n - 1] == '\n' || r->errbuf[n - 1] == '\r'))
		r->errbuf[--n] = '\0';
	snprintf(r->errtext, sizeof(r->errtext), "request to %s failed: %s",
	    r->origin, n ? r->errbuf : curl_easy_strerror(res));
}

/*
 * A transfer finished with `res`: build the response, detach, run the
 * callback, then free.  On any error the response has status 0, an empty
 * body and no headers, so a truncated body is never mistaken for a reply.
 */
static void
req_finish(struct httpc_req *r, CURLcode res)
{
	struct httpc_response resp;

	memset(&resp, 0, sizeof(resp));
	resp.body = "";
	resp.streamed_len = r->streamed;
	curl_easy_getinfo(r->easy, CURLINFO_TOTAL_TIME, &resp.total_s);
	if (res == CURLE_OK && r->fail == RF_NONE &&
	    buf_append(&r->body, "", 1) == -1)
		r->fail = RF_NOMEM;
	if (res != CURLE_OK || r->fail != RF_NONE)
		req_error(r, res, &resp);
	else {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
		    &resp.status);
		resp.body = buf_data(&r->body);
		resp.body_len = buf_used(&r->body) - 1;
		resp.headers = r->rh;
		resp.nheaders = r->nrh;
		resp.streamed = r->on_data != NULL &&
		    resp.status >= 200 && resp.status < 300;
	}
	req_detach(r);
	r->state = RQ_CALLBACK;
	r->done(r, &resp, r->arg);
	req_free(r);
}

/* ---- the loop glue ---- */

static void	httpc_destroy(struct httpc *);

/* Run the callbacks of every finished transfer. */
static void
httpc_dispatch(struct httpc *h)
{
	struct httpc_req *r;
	CURLMsg *m;
	char *priv;
	int left;

	h->dispatching++;
	while (!h->dying && (m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		priv = NULL;
		if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
		    &priv) != CURLE_OK || priv == NULL)
			continue;
		r = (struct httpc_req *)(void *)priv;
		req_finish(r, m->data.result);
	}
	if (--h->dispatching == 0 && h->dying)
		httpc_destroy(h);
}

static void
io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct httpc_sock *w = io->data;
	struct httpc *h = w->h;
	curl_socket_t fd = w->fd;
	int flags = 0, running;

	if (revents & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (revents & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	if (revents & EV_ERROR)
		flags |= CURL_CSELECT_ERR;
	/* w may be freed by sock_cb inside this call */
	curl_multi_socket_action(h->multi, fd, flags, &running);
	httpc_dispatch(h);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct httpc *h = t->data;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	httpc_dispatch(h);
}

/*
 * A request's idle timer: the timer runs for idle_ms from the start and
 * is pushed back lazily (the bytes only note when they came, the timer
 * is re-armed for what is left when it fires), so a fast stream costs no
 * timer operation per read.  When nothing came for idle_ms the request
 * finishes here, outside any curl callback, as a timeout.
 */
static void
idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct httpc_req *r = t->data;
	struct httpc *h = r->h;
	ev_tstamp left;

	left = r->last + (double)r->idle_ms / 1000.0 - ev_now(loop);
	if (left > 0.0005) {
		ev_timer_set(t, left, 0.);
		ev_timer_start(loop, t);
		return;
	}
	h->dispatching++;
	r->fail = RF_IDLE;
	req_finish(r, CURLE_OPERATION_TIMEDOUT);
	if (--h->dispatching == 0 && h->dying)
		httpc_destroy(h);
}

/* CURLMOPT_SOCKETFUNCTION: keep one ev_io per socket in step with curl. */
static int
sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp)
{
	struct httpc *h = userp;
	struct httpc_sock *w = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			ev_io_stop(h->loop, &w->io);
			LIST_REMOVE(w, entry);
			free(w);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return -1;
		w->h = h;
		w->fd = s;
		ev_init(&w->io, io_cb);
		w->io.data = w;
		if (curl_multi_assign(h->multi, s, w) != CURLM_OK) {
			free(w);
			return -1;
		}
		LIST_INSERT_HEAD(&h->socks, w, entry);
	}
	ev_io_stop(h->loop, &w->io);
	ev_io_set(&w->io, s, events);
	if (events)
		ev_io_start(h->loop, &w->io);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer, else (re)arm it. */
static int
timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct httpc *h = userp;

	ev_timer_stop(h->loop, &h->timer);
	if (timeout_ms >= 0) {
		ev_timer_set(&h->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(h->loop, &h->timer);
	}
	return 0;
}

/* ---- public: client ---- */

/*
 * Returns a new client on `loop` (NULL opts or zero fields: defaults),
 * or NULL on allocation or libcurl failure.  Free with httpc_free().
 */
struct httpc *
httpc_new(struct ev_loop *loop, const struct httpc_opts *o)
{
	struct httpc *h;
	long hostconns;
	int ok = 1;

	pthread_once(&httpc_once, httpc_global_init);
	if (!httpc_curl_ok || loop == NULL)
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->loop = loop;
	TAILQ_INIT(&h->reqs);
	LIST_INIT(&h->socks);
	ev_init(&h->timer, timer_cb);
	h->timer.data = h;
	h->connect_timeout_ms = o && o->connect_timeout_ms > 0 ?
	    o->connect_timeout_ms : HTTPC_DEF_CONNECT_MS;
	h->timeout_ms = o && o->timeout_ms > 0 ?
	    o->timeout_ms : HTTPC_DEF_TIMEOUT_MS;
	h->max_response = o && o->max_response > 0 ?
	    o->max_response : HTTPC_DEF_MAX_RESPONSE;
	if (h->max_response > SIZE_MAX / 2)
		h->max_response = SIZE_MAX / 2;
	hostconns = o && o->max_host_connections > 0 ?
	    o->max_host_connections : HTTPC_DEF_HOST_CONNS;
	h->user_agent = strdup(o && o->user_agent ? o->user_agent :
	    "afu9/" AFU9_VERSION);
	h->multi = curl_multi_init();
	h->share = curl_share_init();
	if (h->user_agent == NULL || h->multi == NULL || h->share == NULL) {
		httpc_destroy(h);
		return NULL;
	}
	ok &= curl_share_setopt(h->share, CURLSHOPT_SHARE,
	    CURL_LOCK_DATA_SSL_SESSION) == CURLSHE_OK;
	ok &= curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb) ==
	    CURLM_OK;
	ok &= curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h) == CURLM_OK;
	ok &= curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_fn) ==
	    CURLM_OK;
	ok &= curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h) == CURLM_OK;
	ok &= curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    hostconns) == CURLM_OK;
	/* idle connections kept for reuse: a few hosts' worth */
	ok &= curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
	    hostconns < 8 ? 64L : (hostconns > 128 ? 1024L : hostconns * 8)) ==
	    CURLM_OK;
	/* multiplex over HTTP/2 when offered (the default since 7.62) */
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	if (!ok) {
		httpc_destroy(h);
		return NULL;
	}
	return h;
}

/* Release everything; requests must already be detached and freed. */
static void
httpc_destroy(struct httpc *h)
{
	struct httpc_sock *w;

	ev_timer_stop(h->loop, &h->timer);
	if (h->multi)
		curl_multi_cleanup(h->multi);	/* may call our callbacks */
	ev_timer_stop(h->loop, &h->timer);
	while ((w = LIST_FIRST(&h->socks)) != NULL) {
		ev_io_stop(h->loop, &w->io);
		LIST_REMOVE(w, entry);
		free(w);
	}
	if (h->share)
		curl_share_cleanup(h->share);
	free(h->user_agent);
	free(h);
}

void
httpc_free(struct httpc *h)
{
	struct httpc_req *r;

	if (h == NULL || h->dying)
		return;
	h->dying = 1;
	while ((r = TAILQ_FIRST(&h->reqs)) != NULL) {
		req_detach(r);
		req_free(r);
	}
	if (h->dispatching == 0)
		httpc_destroy(h);
}

size_t
httpc_active(const struct httpc *h)
{
	return h->nactive;
}

long
httpc_connections_opened(const struct httpc *h)
{
	return h->nconnects;
}

/* ---- public: requests ---- */

/* An HTTP token of 1..HTTPC_MAX_METHOD characters? */
static int
method_ok(const char *m)
{
	size_t i;

	for (i = 0; m[i] != '\0'; i++) {
		if (i >= HTTPC_MAX_METHOD ||
		    !((m[i] >= 'A' && m[i] <= 'Z') ||
		    (m[i] >= 'a' && m[i] <= 'z') ||
		    (m[i] >= '0' && m[i] <= '9') ||
		    strchr("!#$%&'*+-.^_`|~", m[i]) != NULL))
			return 0;
	}
	return i > 0;
}

/*
 * Write "scheme://host:port" of an http(s) URL into out (port filled in
 * from the scheme when absent).  Userinfo, path, query and fragment are
 * left out, so the result is safe to put in error messages.  0 or -1
 * (not an absolute http/https URL, or too long).
 */
static int
origin_of(const char *url, char *out, size_t outsz)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u;
	int n, rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	n = snprintf(out, outsz, "%s://%s:%s", scheme, host, port);
	if (n > 0 && (size_t)n < outsz)
		rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

/* Does header line `line` set header `name` ("Name: v" or "Name;")? */
static int
header_names(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 &&
	    (line[n] == ':' || line[n] == ';');
}

/*
 * Copy the caller's header lines into r->hdrs, refusing CR/LF (header
 * injection) and unbounded input.  curl's defaults that would surprise
 * a JSON API are switched off unless the caller set them: the form
 * Content-Type it adds to POSTs, and "Expect: 100-continue" (a round
 * trip, and a stall on servers that ignore it).  0 or -1.
 */
static int
req_headers(struct httpc_req *r, const char *const *headers)
{
	struct curl_slist *l;
	int have_ct = 0, have_expect = 0;
	size_t i;

	for (i = 0; headers && headers[i]; i++) {
		if (i >= HTTPC_MAX_REQ_HEADERS ||
		    strnlen(headers[i], HTTPC_MAX_REQ_HDR_LEN + 1) >
		    HTTPC_MAX_REQ_HDR_LEN ||
		    strpbrk(headers[i], "\r\n") != NULL ||
		    strpbrk(headers[i], ":;") == NULL)
			return -1;
		have_ct |= header_names(headers[i], "Content-Type");
		have_expect |= header_names(headers[i], "Expect");
		if ((l = curl_slist_append(r->hdrs, headers[i])) == NULL)
			return -1;
		r->hdrs = l;
	}
	if (!have_ct) {
		if ((l = curl_slist_append(r->hdrs, "Content-Type:")) == NULL)
			return -1;
		r->hdrs = l;
	}
	if (!have_expect) {
		if ((l = curl_slist_append(r->hdrs, "Expect:")) == NULL)
			return -1;
		r->hdrs = l;
	}
	return 0;
}

/*
 * Method and body.  POST, PUT and PATCH always send a body (empty when
 * NULL, so Content-Length: 0 goes out); other methods send one only when
 * given.  COPYPOSTFIELDS copies, so the caller's body is not borrowed.
 */
static int
req_method(CURL *e, const char *method, const void *body, size_t body_len)
{
	int ok = 1;

	if (strcmp(method, "HEAD") == 0) {
		if (body != NULL)
			return -1;
		return curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK ?
		    0 : -1;
	}
	if (body == NULL && strcmp(method, "POST") != 0 &&
	    strcmp(method, "PUT") != 0 && strcmp(method, "PATCH") != 0) {
		if (strcmp(method, "GET") == 0)
			return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) ==
			    CURLE_OK ? 0 : -1;
		return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) ==
		    CURLE_OK ? 0 : -1;
	}
	ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)(body ? body_len : 0)) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
	    body ? (const char *)body : "") == CURLE_OK;
	if (strcmp(method, "POST") != 0)
		ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) ==
		    CURLE_OK;
	return ok ? 0 : -1;
}

/* Set the options every transfer carries.  0 or -1. */
static int
req_options(struct httpc_req *r, const char *url, long timeout_ms)
{
	struct httpc *h = r->h;
	CURL *e = r->easy;
	int ok = 1;

	ok &= curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") ==
	    CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") ==
	    CURLE_OK;
#else
	ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
	ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    h->connect_timeout_ms) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
	    timeout_ms > 0 ? timeout_ms : h->timeout_ms) == CURLE_OK;
	/* early refusal when Content-Length already says too much */
	ok &= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)r->max_response) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) ==
	    CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
	ok &= curl_easy_setopt(e, CURLOPT_SHARE, h->share) == CURLE_OK;
	/* best effort: absent features must not fail the request */
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 60L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 30L);
	/*
	 * Over TLS, wait for ALPN before opening a second connection: it may
	 * turn out to be HTTP/2 and carry every request.  Cleartext never
	 * becomes HTTP/2 here, and waiting would serialise the first wave
	 * of parallel requests behind the first response.
	 */
	if (strncmp(r->origin, "https:", 6) == 0)
		curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
#ifdef CURL_HTTP_VERSION_2TLS
	if (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_2TLS);
#endif
	return ok ? 0 : -1;
}

struct httpc_req *
httpc_request(struct httpc *h, const char *method, const char *url,
    const char *const *headers, const void *body, size_t body_len,
    long timeout_ms, httpc_done_fn done, void *arg)
{
	struct httpc_reqopts o = { .timeout_ms = timeout_ms };

	return httpc_request_opts(h, method, url, headers, body, body_len, &o,
	    done, arg);
}

struct httpc_req *
httpc_request_opts(struct httpc *h, const char *method, const char *url,
    const char *const *headers, const void *body, size_t body_len,
    const struct httpc_reqopts *o, httpc_done_fn done, void *arg)
{
	static const struct httpc_reqopts none;
	struct httpc_req *r;
	long timeout_ms;

	if (o == NULL)
		o = &none;
	timeout_ms = o->timeout_ms;
	if (h == NULL || h->dying || method == NULL || url == NULL ||
	    done == NULL || timeout_ms < 0 || o->idle_timeout_ms < 0 ||
	    (body == NULL && body_len > 0) ||
	    !method_ok(method) ||
	    strnlen(url, HTTPC_MAX_URL + 1) > HTTPC_MAX_URL)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->h = h;
	r->done = done;
	r->on_data = o->on_data;
	r->arg = arg;
	r->idle_ms = o->idle_timeout_ms;
	ev_init(&r->idle, idle_cb);
	r->idle.data = r;
	r->max_response = h->max_response;
	buf_init(&r->body, h->max_response + 1);
	if (origin_of(url, r->origin, sizeof(r->origin)) == -1 ||
	    req_headers(r, headers) == -1 ||
	    (r->easy = curl_easy_init()) == NULL ||
	    req_options(r, url, timeout_ms) == -1 ||
	    req_method(r->easy, method, body, body_len) == -1 ||
	    curl_multi_add_handle(h->multi, r->easy) != CURLM_OK) {
		req_free(r);
		return NULL;
	}
	r->state = RQ_RUNNING;
	TAILQ_INSERT_TAIL(&h->reqs, r, entry);
	h->nactive++;
	if (r->idle_ms > 0) {
		r->last = ev_now(h->loop);
		ev_timer_set(&r->idle, (double)r->idle_ms / 1000.0, 0.);
		ev_timer_start(h->loop, &r->idle);
	}
	return r;
}

void
httpc_cancel(struct httpc_req *r)
{
	/* inside its own callback the request is already finished */
	if (r == NULL || r->state != RQ_RUNNING)
		return;
	req_detach(r);
	req_free(r);
}

const char *
httpc_header(const struct httpc_response *resp, const char *name)
{
	size_t i;

	if (resp == NULL || name == NULL)
		return NULL;
	for (i = resp->nheaders; i > 0; i--)
		if (strcasecmp(resp->headers[i - 1].name, name) == 0)
			return resp->headers[i - 1].value;
	return NULL;
}

/* ---- retry policy ---- */

/*
 * Full jitter: u * min(cap, base * 2^attempt).  The exponent is clamped
 * before ldexp() so no attempt number overflows; bad inputs (negative,
 * NaN, u outside [0,1)) are pulled into range, so the result is always
 * in [0, cap).
 */
double
httpc_backoff(unsigned attempt, double base_s, double cap_s, double u)
{
	double d;

	if (!(base_s > 0) || !(cap_s > 0))
		return 0;
	if (!(u > 0))
		u = 0;
	if (u >= 1)
		u = nextafter(1.0, 0.0);
	if (attempt > 1100)
		attempt = 1100;
	d = ldexp(base_s, (int)attempt);
	if (!(d < cap_s))
		d = cap_s;
	return u * d;
}

/* Uniform in [0,1): 53 random bits from libsodium's CSPRNG. */
double
httpc_random(void)
{
	uint64_t v;

	pthread_once(&httpc_once, httpc_global_init);
	if (!httpc_sodium_ok)
		abort();	/* no entropy source: nothing safe to return */
	randombytes_buf(&v, sizeof(v));
	return (double)(v >> 11) * 0x1.0p-53;
}
