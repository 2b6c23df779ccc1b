#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "later.h"
#include "log.h"
#include "http/http.h"
#include "http/http_int.h"
#include "subsys.h"

#define HTTP_MAX_LISTENERS	8
#define HTTP_READ_CHUNK		16384
#define HTTP_BODY_CHUNK		65536
#define HTTP_ACCEPT_BURST	64
#define HTTP_FREE_EXCHANGES	64	/* recycled exchange records kept */
#define HTTP_MAX_RESP_HEADERS	16384	/* handler header bytes per response */
#define HTTP_ACCEPT_PAUSE	0.1	/* s, after EMFILE and friends */

/*
 * A connection moves IDLE -> HEAD -> (BODY ->) IDLE per request, or to
 * CLOSING when no more requests will be read, then LINGER, then DEAD.
 * Watcher interest is derived from the state and the buffers in
 * conn_update(): read while a request can be taken (room in the input
 * buffer, fewer than max_pipeline unanswered, output below the high-water
 * mark), write while output is queued.
 */
enum conn_state {
	CONN_IDLE,	/* between requests: no byte of the next one held */
	CONN_HEAD,	/* part of a head held; the request timeout runs */
	CONN_BODY,	/* head parsed, waiting for its Content-Length body */
	CONN_CLOSING,	/* no more requests: answer the queued ones, flush */
	CONN_LINGER,	/* flushed and shut down for writing; discarding
			   input until EOF or linger_timeout */
	CONN_DEAD,	/* to be freed at the next safe point */
};

/*
 * One request awaiting or holding its response.  Owned by the handler
 * until http_respond(), by the server after.  `conn` is NULL when the
 * connection went away before the handler answered (an orphan).
 */
struct http_exchange {
	struct http_conn	*conn;
	TAILQ_ENTRY(http_exchange) q;	/* the connection's queue, or the
					   server's free list */
	struct buf		 out;	/* the response, held until its turn */
	unsigned		 done:1;	/* answered, waiting for its turn */
	unsigned		 head:1;	/* a HEAD request: no body bytes */
	unsigned		 ka10:1;	/* HTTP/1.0 keep-alive: say so */
	unsigned		 http10:1;	/* the request was HTTP/1.0 */
	unsigned		 streaming:1;	/* head sent, body as it comes
						   (http_stream.c) */
	unsigned		 chunked:1;	/* ... in chunks (else closes) */
	struct http_params	 params;	/* the route's, during the
						   handler call (and after it,
						   into `held`) */
	struct http_held	*held;	/* http_exchange_hold(); NULL */
};

/*
 * A request kept past its handler's call: the bytes, then the fields.
 * Its body still counts toward max_body_total (taken over from the
 * connection that received it) until the copy is freed, so handlers
 * that hold requests, with clients that pipeline or hang up, cannot
 * make the server keep more bodies than a slow upload could.
 */
struct http_held {
	struct http_request	 req;	/* spans into bytes */
	struct http_header	*h;	/* req.nheaders of them */
	char			*bytes;
	size_t			 len;
	struct http_server	*srv;	/* NULL once it is freed */
	LIST_ENTRY(http_held)	 link;	/* srv->held */
	size_t			 body_held;	/* of srv->body_held */
};

struct http_conn {
	struct http_server	*srv;
	LIST_ENTRY(http_conn)	 link;	/* the server's connections */
	int			 fd;
	enum conn_state		 state;
	int			 busy;	/* our callbacks on the stack */
	int			 eof;	/* the client shut down its side */
	ev_io			 rio, wio;
	ev_timer		 timer;
	struct later		 kick;	/* resumes parsing */
	ev_tstamp		 timer_at;	/* 0: timer stopped */
	ev_tstamp		 req_start;	/* first byte of this request */
	ev_tstamp		 last_io;	/* last byte read */
	ev_tstamp		 last_write;	/* last output progress */
	ev_tstamp		 linger_start;
	unsigned long		 served;	/* requests taken */
	int			 reserve;	/* a reserve slot: health
						   checks only, one request */
	size_t			 body_held;	/* of srv->body_held: the
						   body being received */
	struct buf		 in, out;
	struct http_parser	 parser;
	size_t			 head_len, body_len;	/* in CONN_BODY */
	TAILQ_HEAD(http_exchanges, http_exchange) queue; /* in order */
	size_t			 nq;
};


struct listener {
	struct http_server	*srv;
	ev_io			 io;
	int			 fd;
	int			 port;
};

struct http_server {
	struct ev_loop		*loop;
	struct http_limits	 lim;
	size_t			 out_max;
	struct listener		 ls[HTTP_MAX_LISTENERS];
	size_t			 nls;
	ev_timer		 accept_pause;
	struct http_routes	 routes;
	LIST_HEAD(, http_conn)	 conns;
	size_t			 nreserve;	/* of st.open, in reserve */
	size_t			 body_held;	/* request body bytes being
						   received, all connections,
						   and held (http_held) */
	LIST_HEAD(, http_held)	 held;	/* copies not yet freed */
	struct http_header	*hdrs;	/* shared by the parsers */
	struct buf		 scratch;	/* one response head */
	TAILQ_HEAD(, http_exchange) freex;	/* cached, at most
						   HTTP_FREE_EXCHANGES */
	size_t			 nfreex;
	struct http_stats	 st;
	char			 date[48];	/* "Date: ...\r\n" */
	size_t			 date_len;
	time_t			 date_sec;
	int			 stopping, done_scheduled, freeing;
	ev_timer		 drain;
	struct later		 done_later;	/* calls done */
	void			(*done)(void *);
	void			*done_arg;
};

static void	conn_update(struct http_conn *);
static void	conn_process(struct http_conn *);
static void	deliver_held(struct http_conn *);

/* ---- small helpers ---- */

/* err = "<what> <addr>: <strerror(errno)>" */
static void
seterr(char *err, size_t errlen, const char *what, const char *addr)
{
	if (err && errlen)
		snprintf(err, errlen, "%s %s: %s", what, addr, strerror(errno));
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return status < 200 ? "Informational" : status < 300 ? "Success" :
	    status < 400 ? "Redirection" : status < 500 ? "Client Error" :
	    "Server Error";
}

/* Refresh the cached Date line (RFC 9110 IMF-fixdate) once a second. */
static void
date_update(struct http_server *srv)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = (time_t)ev_now(srv->loop);
	struct tm tm;
	int n;

	if (now == srv->date_sec && srv->date_len)
		return;
	srv->date_sec = now;
	gmtime_r(&now, &tm);
	n = snprintf(srv->date, sizeof(srv->date),
	    "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	srv->date_len = n > 0 && (size_t)n < sizeof(srv->date) ? (size_t)n : 0;
}

/* ---- exchanges ---- */

static void
held_free(struct http_exchange *x)
{
	struct http_held *h = x->held;

	if (h == NULL)
		return;
	if (h->srv != NULL) {
		INVARIANT(h->srv->body_held >= h->body_held);
		h->srv->body_held -= h->body_held;
		LIST_REMOVE(h, link);
	}
	free(h->h);
	free(h->bytes);
	free(h);
	x->held = NULL;
}

static void
exchange_free(struct http_exchange *x)
{
	held_free(x);
	buf_free(&x->out);
	free(x);
}

/* Give an answered exchange back to the server's cache. */
static void
exchange_release(struct http_server *srv, struct http_exchange *x)
{
	held_free(x);
	buf_free(&x->out);
	if (srv->nfreex >= HTTP_FREE_EXCHANGES) {
		free(x);
		return;
	}
	TAILQ_INSERT_HEAD(&srv->freex, x, q);
	srv->nfreex++;
}

/* A new exchange at the tail of c's queue; NULL on ENOMEM. */
static struct http_exchange *
exchange_new(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct http_exchange *x;

	if ((x = TAILQ_FIRST(&srv->freex)) != NULL) {
		TAILQ_REMOVE(&srv->freex, x, q);
		srv->nfreex--;
	} else if ((x = malloc(sizeof(*x))) == NULL)
		return NULL;
	memset(x, 0, sizeof(*x));
	buf_init(&x->out, srv->out_max);
	x->conn = c;
	TAILQ_INSERT_TAIL(&c->queue, x, q);
	c->nq++;
	return x;
}

static void
queue_pop(struct http_conn *c)
{
	INVARIANT(c->nq > 0);
	TAILQ_REMOVE(&c->queue, TAILQ_FIRST(&c->queue), q);
	c->nq--;
}

/* A span of the held copy: the same offset from its base. */
static struct http_span
rebase(struct http_span sp, const char *from, size_t len, const char *to)
{
	if (sp.p != NULL && sp.p >= from && sp.p <= from + len)
		sp.p = to + (sp.p - from);
	return sp;
}

const struct http_request *
http_exchange_hold(struct http_exchange *x, const struct http_request *req)
{
	struct http_conn *c = x->conn;
	struct http_held *h;
	const char *base;
	size_t i, len;

	if (x->held != NULL)
		return &x->held->req;
	if (c == NULL) {
		errno = EPIPE;
		return NULL;
	}
	/* the request is the first head_len + body_len bytes of c->in
	   while its handler runs (dispatch() consumes them after) */
	base = buf_data(&c->in);
	len = c->head_len + c->body_len;
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->bytes = malloc(len ? len : 1)) == NULL ||
	    (h->h = calloc(req->nheaders ? req->nheaders : 1,
	    sizeof(*h->h))) == NULL) {
		if (h != NULL) {
			free(h->bytes);
			free(h);
		}
		errno = ENOMEM;
		return NULL;
	}
	memcpy(h->bytes, base, len);
	h->len = len;
	h->req = *req;
	h->req.method = rebase(req->method, base, len, h->bytes);
	h->req.target = rebase(req->target, base, len, h->bytes);
	h->req.path = rebase(req->path, base, len, h->bytes);
	h->req.query = rebase(req->query, base, len, h->bytes);
	for (i = 0; i < req->nheaders; i++) {
		h->h[i].name = rebase(req->headers[i].name, base, len,
		    h->bytes);
		h->h[i].value = rebase(req->headers[i].value, base, len,
		    h->bytes);
	}
	h->req.headers = h->h;
	if (req->body != NULL)
		h->req.body = h->bytes + (req->body - base);
	for (i = 0; i < x->params.n; i++)
		x->params.value[i] = rebase(x->params.value[i], base, len,
		    h->bytes);
	/* the body's share of the total moves from c to the copy */
	h->srv = c->srv;
	h->body_held = c->body_held;
	c->body_held = 0;
	LIST_INSERT_HEAD(&c->srv->held, h, link);
	x->held = h;
	return &h->req;
}

int
http_exchange_alive(const struct http_exchange *x)
{
	return x->conn != NULL && x->conn->state != CONN_DEAD;
}

/* ---- output ---- */

static void
out_queued(struct http_conn *c, const char *p, size_t n)
{
	if (n == 0 || c->state == CONN_DEAD)
		return;
	if (buf_used(&c->out) == 0)
		c->last_write = ev_now(c->srv->loop);
	if (buf_append(&c->out, p, n) == -1)
		c->state = CONN_DEAD;
}

/*
 * Send a then b: at once with one sendmsg() when nothing is queued before
 * them, the rest (or everything) queued for the write watcher.  A send
 * error marks the connection DEAD.
 */
static void
conn_write(struct http_conn *c, const char *a, size_t al, const char *b,
    size_t bl)
{
	struct iovec iov[2];
	struct msghdr mh;
	ssize_t n = 0;

	if (c->state == CONN_DEAD || c->state == CONN_LINGER)
		return;
	if (buf_used(&c->out) == 0) {
		iov[0].iov_base = (void *)a;
		iov[0].iov_len = al;
		iov[1].iov_base = (void *)b;
		iov[1].iov_len = bl;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = bl ? 2 : 1;
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				c->state = CONN_DEAD;
				return;
			}
			n = 0;
		}
	}
	if ((size_t)n < al) {
		out_queued(c, a + n, al - (size_t)n);
		out_queued(c, b, bl);
	} else
		out_queued(c, b + ((size_t)n - al), bl - ((size_t)n - al));
}

static void
conn_flush(struct http_conn *c)
{
	ssize_t n;

	if (buf_used(&c->out) == 0 || c->state == CONN_DEAD)
		return;
	n = send(c->fd, buf_data(&c->out), buf_used(&c->out), MSG_NOSIGNAL);
	if (n > 0) {
		buf_consume(&c->out, (size_t)n);
		c->last_write = ev_now(c->srv->loop);
	} else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)
		c->state = CONN_DEAD;
}

/* ---- responses ---- */

static int
forbidden_header(const char *h, size_t namelen)
{
	static const char *const own[] = { "content-length", "connection",
	    "date", "transfer-encoding" };
	size_t i;

	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strlen(own[i]) == namelen &&
		    strncasecmp(h, own[i], namelen) == 0)
			return 1;
	return 0;
}

/* Handler headers: "Name: value", token name, no CR/LF, bounded.  0/-1. */
static int
headers_check(const char *const *headers)
{
	size_t total = 0, i, n;
	const char *colon;

	for (i = 0; headers && headers[i]; i++) {
		n = strlen(headers[i]);
		total += n + 2;
		colon = strchr(headers[i], ':');
		if (colon == NULL || colon == headers[i] ||
		    strpbrk(headers[i], "\r\n") != NULL ||
		    total > HTTP_MAX_RESP_HEADERS ||
		    forbidden_header(headers[i], (size_t)(colon - headers[i])))
			return -1;
		for (n = 0; headers[i] + n < colon; n++)
			if (strchr(" \t()<>@,;\\\"/[]?={}", headers[i][n]) ||
			    (unsigned char)headers[i][n] <= 0x20 ||
			    (unsigned char)headers[i][n] >= 0x7f)
				return -1;
	}
	return 0;
}

static int
put(struct buf *b, const char *s, size_t n)
{
	return buf_append(b, s, n);
}

static int
put_num(struct buf *b, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Build the response head for x into srv->scratch.  0 or -1 (ENOMEM). */
static int
build_head(struct http_conn *c, struct http_exchange *x, int status,
    const char *const *headers, size_t len)
{
	struct http_server *srv = c->srv;
	struct buf *b = &srv->scratch;
	const char *reason = http_reason(status);
	int closing = c->state >= CONN_CLOSING && x == TAILQ_LAST(&c->queue, http_exchanges);
	size_t i;
	int rc = 0;

	date_update(srv);
	buf_reset(b);
	rc |= put(b, "HTTP/1.1 ", 9);
	rc |= put_num(b, (uint64_t)status);
	rc |= put(b, " ", 1);
	rc |= put(b, reason, strlen(reason));
	rc |= put(b, "\r\n", 2);
	rc |= put(b, srv->date, srv->date_len);
	if (len == HTTP_LEN_STREAM) {
		if (x->chunked)
			rc |= put(b, "Transfer-Encoding: chunked\r\n", 28);
	} else if (status != 204 && status != 304) {
		rc |= put(b, "Content-Length: ", 16);
		rc |= put_num(b, len);
		rc |= put(b, "\r\n", 2);
	}
	if (closing)
		rc |= put(b, "Connection: close\r\n", 19);
	else if (x->ka10)
		rc |= put(b, "Connection: keep-alive\r\n", 24);
	for (i = 0; headers && headers[i]; i++) {
		rc |= put(b, headers[i], strlen(headers[i]));
		rc |= put(b, "\r\n", 2);
	}
	rc |= put(b, "\r\n", 2);
	return rc ? -1 : 0;
}

/*
 * Hand x's response to the connection: written now when x is the oldest
 * unanswered request (followed by any younger ones already answered),
 * else held in x until its turn.
 */
static void
deliver(struct http_conn *c, struct http_exchange *x, const char *h,
    size_t hl, const char *b, size_t bl)
{
	struct http_server *srv = c->srv;

	if (x != TAILQ_FIRST(&c->queue)) {
		if (buf_append(&x->out, h, hl) == -1 ||
		    buf_append(&x->out, b, bl) == -1)
			c->state = CONN_DEAD;
		x->done = !x->streaming;
		return;
	}
	conn_write(c, h, hl, b, bl);
	if (x->streaming)
		return;		/* the body follows as it comes */
	queue_pop(c);
	exchange_release(srv, x);
	deliver_held(c);
}

/*
 * The oldest exchange was answered: write the responses held behind it,
 * up to the first one not answered; a streamed one's bytes so far go too
 * (the rest will follow at once).
 */
static void
deliver_held(struct http_conn *c)
{
	struct http_exchange *y;

	while ((y = TAILQ_FIRST(&c->queue)) != NULL &&
	    (y->done || y->streaming)) {
		conn_write(c, buf_data(&y->out), buf_used(&y->out), NULL, 0);
		if (!y->done) {
			buf_reset(&y->out);
			return;
		}
		queue_pop(c);
		exchange_release(c->srv, y);
	}
}

/* Resume parsing c's buffered input from the loop (not from here). */
static void
conn_kick(struct http_conn *c)
{
	if (c->state <= CONN_BODY && buf_used(&c->in) > 0)
		later_arm(&c->kick);
}

static void	trace_http(const struct http_conn *, const char *, const char *,
		    size_t, const char *, size_t);

int
http_respond(struct http_exchange *x, int status, const char *const *headers,
    const void *body, size_t len)
{
	static const char *const plain[] = {
	    "Content-Type: text/plain; charset=utf-8", NULL };
	static const char oops[] = "500 Internal Server Error\n";
	struct http_conn *c = x->conn;
	struct http_server *srv;
	int saved = 0;

	if (c == NULL) {
		exchange_free(x);
		return 0;
	}
	srv = c->srv;
	if (status < 200 || status > HTTP_STATUS_MAX ||
	    headers_check(headers) == -1)
		saved = EINVAL;
	else if (len > srv->lim.max_response)
		saved = EMSGSIZE;
	if (saved) {
		status = 500;
		headers = plain;
		body = oops;
		len = sizeof(oops) - 1;
	}
	if (build_head(c, x, status, headers, len) == -1)
		c->state = CONN_DEAD;
	srv->st.responses[status - HTTP_STATUS_MIN]++;
	if (x->head || status == 204 || status == 304)
		len = 0;
	if (log_tracing(LOG_TRACE_HTTP))
		trace_http(c, "out", buf_data(&srv->scratch),
		    buf_used(&srv->scratch), body, len);
	deliver(c, x, buf_data(&srv->scratch), buf_used(&srv->scratch), body,
	    len);
	if (!c->busy) {
		conn_kick(c);
		conn_update(c);
	}
	if (saved) {
		errno = saved;
		return -1;
	}
	return 0;
}

/* ---- streamed responses (the framing is http_stream.c's) ---- */

int
http_x_stream_head(struct http_exchange *x, int status,
    const char *const *headers)
{
	struct http_conn *c = x->conn;
	struct http_server *srv;

	if (status < 200 || status > HTTP_STATUS_MAX || status == 204 ||
	    status == 304 || headers_check(headers) == -1) {
		errno = EINVAL;
		return -1;
	}
	if (c == NULL || c->state == CONN_DEAD) {
		errno = EPIPE;
		return -1;
	}
	srv = c->srv;
	/* HTTP/1.0 has no chunks: the body ends when the connection does. */
	x->chunked = !x->http10;
	if (x->http10 && c->state < CONN_CLOSING)
		c->state = CONN_CLOSING;
	x->ka10 = 0;
	x->streaming = 1;
	if (build_head(c, x, status, headers, HTTP_LEN_STREAM) == -1)
		c->state = CONN_DEAD;
	srv->st.responses[status - HTTP_STATUS_MIN]++;
	if (log_tracing(LOG_TRACE_HTTP))
		trace_http(c, "out", buf_data(&srv->scratch),
		    buf_used(&srv->scratch), NULL, 0);
	deliver(c, x, buf_data(&srv->scratch), buf_used(&srv->scratch), NULL,
	    0);
	if (!c->busy)
		conn_update(c);
	return 0;
}

int
http_x_stream_is_head(const struct http_exchange *x)
{
	return x->head;
}

int
http_x_stream_chunked(const struct http_exchange *x)
{
	return x->chunked;
}

int
http_x_stream_bytes(struct http_exchange *x, const char *p, size_t n)
{
	struct http_conn *c = x->conn;
	struct buf *held;

	if (c == NULL || c->state == CONN_DEAD || c->state == CONN_LINGER) {
		errno = EPIPE;
		return -1;
	}
	if (x->head || n == 0)
		return 0;
	/* A stream has no end to wait for: what the socket did not take is
	   bounded by out_high_water (one write larger than that still goes
	   when nothing is queued). */
	held = x != TAILQ_FIRST(&c->queue) ? &x->out : &c->out;
	if (buf_used(held) > 0 &&
	    buf_used(held) + n > c->srv->lim.out_high_water) {
		errno = ENOBUFS;
		return -1;
	}
	if (log_tracing(LOG_TRACE_HTTP))
		trace_http(c, "out", "", 0, p, n);
	if (held == &x->out) {
		if (buf_append(&x->out, p, n) == -1) {
			errno = ENOBUFS;
			return -1;
		}
		return 0;
	}
	conn_write(c, p, n, NULL, 0);
	if (!c->busy)
		conn_update(c);
	return 0;
}

void
http_x_stream_end(struct http_exchange *x, const char *p, size_t n)
{
	struct http_conn *c = x->conn;

	if (c == NULL) {		/* the client went away */
		exchange_free(x);
		return;
	}
	if (n > 0 && !x->head && c->state != CONN_DEAD) {
		if (x == TAILQ_FIRST(&c->queue))
			conn_write(c, p, n, NULL, 0);
		else if (buf_append(&x->out, p, n) == -1)
			c->state = CONN_DEAD;
	}
	x->streaming = 0;
	x->done = 1;
	if (x == TAILQ_FIRST(&c->queue)) {
		buf_reset(&x->out);
		deliver_held(c);
	}
	if (!c->busy) {
		conn_kick(c);
		conn_update(c);
	}
}

/* Answer x with a plain-text error: "<code> <reason>[: detail]\n". */
static void
respond_error(struct http_exchange *x, int status, const char *detail,
    const char *allow)
{
	const char *hdrs[3] = { "Content-Type: text/plain; charset=utf-8",
	    allow, NULL };
	char body[256];
	int n;

	n = snprintf(body, sizeof(body), "%d %s%s%s\n", status,
	    http_reason(status), detail ? ": " : "", detail ? detail : "");
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)strlen(body);
	http_respond(x, status, hdrs, body, (size_t)n);
}

/*
 * A fatal request error: answer it after the queued ones, then close.
 * `hdr` is one more header line ("Retry-After: 1") or NULL.
 */
static void
conn_fail(struct http_conn *c, int status, const char *detail,
    const char *hdr)
{
	struct http_exchange *x;

	c->state = CONN_CLOSING;
	if ((x = exchange_new(c)) == NULL) {
		c->state = CONN_DEAD;
		return;
	}
	respond_error(x, status, detail, hdr);
}

/* ---- routing ---- */

/* ---- wire trace (AFU9_TRACE=http) ---- */

/* The peer's address as "host:port" into buf. */
static const char *
conn_peer(const struct http_conn *c, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	int port = 0;

	snprintf(buf, len, "fd %d", c->fd);
	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) == -1)
		return buf;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(buf, len, "%s:%d", host, port);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(buf, len, "[%s]:%d", host, port);
	}
	return buf;
}

const char *
http_exchange_peer(const struct http_exchange *x, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	snprintf(buf, len, "unknown");
	if (x->conn == NULL || x->conn->state == CONN_DEAD ||
	    getpeername(x->conn->fd, (struct sockaddr *)&ss, &sl) == -1)
		return buf;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&ss)->sin_addr,
		    buf, (socklen_t)len);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&ss)->
		    sin6_addr, buf, (socklen_t)len);
	return buf;
}

/*
 * Trace a request or response: head and body, with the values of the
 * credential headers (Authorization, Proxy-Authorization, Cookie,
 * Set-Cookie, X-Hub-Signature*) replaced, since an unregistered token
 * would otherwise reach the log.
 */
static void
trace_http(const struct http_conn *c, const char *dir, const char *head,
    size_t hlen, const char *body, size_t blen)
{
	static const char *const secret[] = { "authorization:",
	    "proxy-authorization:", "cookie:", "set-cookie:",
	    "x-hub-signature" };
	struct buf t;
	const char *p = head, *end = head + hlen, *eol, *colon;
	char peer[INET6_ADDRSTRLEN + 16];
	size_t i, n, shown = blen < LOG_TRACE_MAX ? blen : LOG_TRACE_MAX;

	/* A replaced value may be longer than the one it hides: a line of
	   at least 9 bytes grows by at most 14, so the head at most 3x. */
	buf_init(&t, 3 * hlen + shown + 64);
	for (; p < end; p = eol) {
		eol = memchr(p, '\n', (size_t)(end - p));
		eol = eol ? eol + 1 : end;
		n = (size_t)(eol - p);
		for (i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
			if (n > strlen(secret[i]) &&
			    strncasecmp(p, secret[i], strlen(secret[i])) == 0)
				break;
		colon = memchr(p, ':', n);
		if (i < sizeof(secret) / sizeof(secret[0]) && colon != NULL) {
			(void)buf_append(&t, p, (size_t)(colon - p));
			(void)buf_append(&t, ": [REDACTED]\r\n", 14);
		} else
			(void)buf_append(&t, p, n);
	}
	(void)buf_append(&t, body, shown);
	log_trace(LOG_TRACE_HTTP, dir, conn_peer(c, peer, sizeof(peer)),
	    buf_data(&t), buf_used(&t));
	buf_free(&t);
}

/* Take one complete request: queue its exchange and run its handler. */
static void
dispatch(struct http_conn *c, struct http_request *req)
{
	struct http_server *srv = c->srv;
	const struct http_route *r;
	struct http_exchange *x;
	const char *challenge;
	char allow[256], hdr[320];
	int keep, st;

	if ((x = exchange_new(c)) == NULL) {
		c->state = CONN_DEAD;
		return;
	}
	c->served++;
	x->head = req->method.len == 4 && memcmp(req->method.p, "HEAD", 4) == 0;
	x->http10 = req->minor == 0;
	if (req->minor == 1)
		keep = !(req->flags & HTTP_REQ_CLOSE);
	else
		keep = (req->flags & HTTP_REQ_KEEPALIVE) &&
		    !(req->flags & HTTP_REQ_CLOSE);
	if (!keep || srv->stopping || c->reserve)
		c->state = CONN_CLOSING;
	else if (req->minor == 0)
		x->ka10 = 1;
	if ((r = http_routes_find(&srv->routes, req, &x->params, allow,
	    sizeof(allow))) != NULL) {
		challenge = NULL;
		if (r->auth == NULL ||
		    (st = r->auth(req, r->auth_arg, &challenge)) == 0)
			r->fn(req, x, r->arg);
		else {
			if (st < 400 || st > HTTP_STATUS_MAX)
				st = 403;
			if (st == 401 && challenge != NULL)
				snprintf(hdr, sizeof(hdr), "WWW-Authenticate: %s",
				    challenge);
			respond_error(x, st, NULL, st == 401 && challenge ?
			    hdr : NULL);
		}
	} else if (allow[0])
		respond_error(x, 405, NULL, allow);
	else
		respond_error(x, 404, NULL, NULL);
}

/* ---- input ---- */

static void
conn_reading(struct http_conn *c, enum conn_state st)
{
	c->state = st;
	if (c->req_start == 0)
		c->req_start = ev_now(c->srv->loop);
}

/* The head is parsed; false when its body is not all here yet. */
static int
body_ready(struct http_conn *c, const struct http_request *req, size_t head)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (buf_used(&c->in) - head >= c->body_len)
		return 1;
	if (c->state != CONN_BODY) {
		conn_reading(c, CONN_BODY);
		if ((req->flags & HTTP_REQ_CONTINUE) && c->nq == 0)
			conn_write(c, cont, sizeof(cont) - 1, NULL, 0);
	}
	return 0;
}

/* The route of req, or NULL (404 or 405 later). */
static const struct http_route *
route_of(const struct http_server *srv, const struct http_request *req)
{
	struct http_params params;
	char allow[256];

	return http_routes_find(&srv->routes, req, &params, allow,
	    sizeof(allow));
}

/* What a reserve connection may be served: a health check. */
static int
reserve_ok(const struct http_route *r, const struct http_request *req)
{
	return r != NULL && r->reserve && req->content_length == 0 &&
	    ((req->method.len == 3 && memcmp(req->method.p, "GET", 3) == 0) ||
	    (req->method.len == 4 && memcmp(req->method.p, "HEAD", 4) == 0));
}

/*
 * Admit the body of the request whose head was just parsed: its bytes
 * count toward max_body_total from now until it has been handled, so
 * slow uploads on many connections cannot make the server buffer more.
 * 0, or -1 with the connection failed (413, or 503 when others' bodies
 * hold the total now).  Called again for the same request while its
 * body arrives: admitted once.
 */
static int
body_admit(struct http_conn *c, const struct http_route *r,
    const struct http_request *req)
{
	struct http_server *srv = c->srv;
	uint64_t bound = r != NULL && r->max_body > 0 ? r->max_body :
	    srv->lim.max_body;

	if (req->content_length > bound ||
	    req->content_length > srv->lim.max_body_total) {
		conn_fail(c, 413, "request body too large", NULL);
		return -1;
	}
	if (c->body_held > 0 || req->content_length == 0)
		return 0;
	if (req->content_length > srv->lim.max_body_total - srv->body_held) {
		srv->st.body_refused++;
		conn_fail(c, 503, "too many request bodies being received: "
		    "retry later", "Retry-After: 1");
		return -1;
	}
	c->body_held = (size_t)req->content_length;
	srv->body_held += c->body_held;
	return 0;
}

static void
body_release(struct http_conn *c)
{
	INVARIANT(c->srv->body_held >= c->body_held);
	c->srv->body_held -= c->body_held;
	c->body_held = 0;
}

/*
 * After a request: a buffer grown for a large body goes back to its
 * usual bound and size, so a connection kept alive after a 25 MB upload
 * does not keep 25 MB.
 */
static void
in_trim(struct http_conn *c)
{
	size_t base = c->srv->lim.max_head + c->srv->lim.max_body;

	if (buf_used(&c->in) > 0)
		return;
	if (c->in.cap > 4 * HTTP_BODY_CHUNK) {
		buf_free(&c->in);
		buf_init(&c->in, base);
	}
	c->in.max = base;
}

/*
 * Parse and dispatch every complete request buffered, while the pipeline
 * and output bounds allow.  Leaves the state IDLE/HEAD/BODY, or CLOSING /
 * DEAD after an error or "Connection: close".
 */
static void
conn_process(struct http_conn *c)
{
	const struct http_limits *lim = &c->srv->lim;
	const struct http_route *rt;
	struct http_request req;
	int r;

	while (c->state <= CONN_BODY) {
		if (c->nq >= lim->max_pipeline ||
		    buf_used(&c->out) >= lim->out_high_water)
			return;
		if (buf_used(&c->in) == 0) {
			c->state = CONN_IDLE;
			break;
		}
		if (c->state == CONN_BODY)
			http_parser_reset(&c->parser);
		r = http_parse_request(&c->parser, buf_data(&c->in),
		    buf_used(&c->in), &req);
		if (r == HTTP_PARSE_MORE) {
			conn_reading(c, CONN_HEAD);
			break;
		}
		if (r == HTTP_PARSE_ERROR) {
			conn_fail(c, req.status, req.error, NULL);
			return;
		}
		rt = route_of(c->srv, &req);
		if (c->reserve && !reserve_ok(rt, &req)) {
			c->srv->st.rejected++;
			conn_fail(c, 503, "too many connections: only health "
			    "checks are served now", "Retry-After: 1");
			return;
		}
		if (body_admit(c, rt, &req) == -1)
			return;
		/* a route's bound may be above the server's */
		if (c->in.max < (size_t)r + (size_t)req.content_length)
			c->in.max = (size_t)r + (size_t)req.content_length;
		c->head_len = (size_t)r;
		c->body_len = (size_t)req.content_length;
		if (!body_ready(c, &req, (size_t)r))
			break;
		req.body = buf_data(&c->in) + r;
		req.body_len = c->body_len;
		c->state = CONN_IDLE;
		if (log_tracing(LOG_TRACE_HTTP))
			trace_http(c, "in", buf_data(&c->in), c->head_len,
			    req.body, req.body_len);
		dispatch(c, &req);
		buf_consume(&c->in, c->head_len + c->body_len);
		body_release(c);
		in_trim(c);
		http_parser_reset(&c->parser);
		c->req_start = 0;
	}
	/* Needs more input: none will come after EOF. */
	if (c->eof && c->state <= CONN_BODY)
		c->state = CONN_CLOSING;
}

static void
conn_read(struct http_conn *c)
{
	size_t want = HTTP_READ_CHUNK, avail;
	ssize_t n;
	char *p;

	if (c->state == CONN_BODY && c->head_len + c->body_len >
	    buf_used(&c->in) + want) {
		want = c->head_len + c->body_len - buf_used(&c->in);
		if (want > HTTP_BODY_CHUNK)
			want = HTTP_BODY_CHUNK;
	}
	if ((p = buf_reserve(&c->in, want, &avail)) == NULL) {
		if (errno == ENOMEM)
			c->state = CONN_DEAD;
		return;
	}
	n = recv(c->fd, p, avail, 0);
	if (n > 0) {
		buf_commit(&c->in, (size_t)n);
		c->last_io = ev_now(c->srv->loop);
	} else if (n == 0)
		c->eof = 1;
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		c->state = CONN_DEAD;
}

/* LINGER: read and drop; EOF or an error ends it. */
static void
linger_read(struct http_conn *c)
{
	char tmp[4096];
	ssize_t n;

	n = recv(c->fd, tmp, sizeof(tmp), 0);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR))
		c->state = CONN_DEAD;
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;

	c->busy++;
	if (c->state == CONN_LINGER)
		linger_read(c);
	else {
		conn_read(c);
		conn_process(c);
	}
	c->busy--;
	conn_update(c);
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct http_conn *c = w->data;

	c->busy++;
	conn_flush(c);
	conn_process(c);
	c->busy--;
	conn_update(c);
}

static void
kick_cb(void *arg)
{
	struct http_conn *c = arg;

	c->busy++;
	conn_process(c);
	c->busy--;
	conn_update(c);
}

/* ---- timers and watcher interest ---- */

/* The deadlines that apply now; 0 where none does. */
static void
conn_deadlines(const struct http_conn *c, ev_tstamp *wd, ev_tstamp *rd,
    ev_tstamp *id)
{
	const struct http_limits *lim = &c->srv->lim;
	double rt = c->reserve ? lim->reserve_timeout : lim->request_timeout;

	*wd = *rd = *id = 0;
	if (c->state == CONN_LINGER) {
		*id = c->linger_start + lim->linger_timeout;
		return;
	}
	if (buf_used(&c->out) > 0)
		*wd = c->last_write + lim->write_timeout;
	if (c->state == CONN_HEAD || c->state == CONN_BODY)
		*rd = c->req_start + rt;
	else if (c->state == CONN_IDLE && c->nq == 0 && *wd == 0)
		*id = c->last_io + (c->served ? lim->idle_timeout : rt);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_conn *c = w->data;
	struct http_server *srv = c->srv;
	ev_tstamp now = ev_now(loop), wd, rd, id;

	c->timer_at = 0;
	c->busy++;
	conn_deadlines(c, &wd, &rd, &id);
	if (wd && now >= wd) {
		srv->st.write_timeouts++;
		c->state = CONN_DEAD;
	} else if (rd && now >= rd) {
		srv->st.request_timeouts++;
		conn_fail(c, 408, "request not received in time", NULL);
	} else if (id && now >= id) {
		if (c->state != CONN_LINGER)
			srv->st.idle_timeouts++;
		c->state = CONN_DEAD;
	}
	c->busy--;
	conn_update(c);
}

static void
conn_timer(struct http_conn *c)
{
	ev_tstamp wd, rd, id, d = 0;

	conn_deadlines(c, &wd, &rd, &id);
	if (wd && (d == 0 || wd < d))
		d = wd;
	if (rd && (d == 0 || rd < d))
		d = rd;
	if (id && (d == 0 || id < d))
		d = id;
	if (d == 0) {
		if (c->timer_at) {
			ev_timer_stop(c->srv->loop, &c->timer);
			c->timer_at = 0;
		}
		return;
	}
	/* A later deadline is left to timer_cb, which re-arms. */
	if (c->timer_at && c->timer_at <= d)
		return;
	ev_timer_stop(c->srv->loop, &c->timer);
	d -= ev_now(c->srv->loop);
	ev_timer_set(&c->timer, d > 0 ? d : 0, 0);
	ev_timer_start(c->srv->loop, &c->timer);
	c->timer_at = ev_now(c->srv->loop) + (d > 0 ? d : 0);
}

static void
conn_free(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct http_exchange *x;

	ev_io_stop(srv->loop, &c->rio);
	ev_io_stop(srv->loop, &c->wio);
	ev_timer_stop(srv->loop, &c->timer);
	later_cancel(&c->kick);
	close(c->fd);
	while ((x = TAILQ_FIRST(&c->queue)) != NULL) {
		TAILQ_REMOVE(&c->queue, x, q);
		if (x->done)
			exchange_free(x);
		else
			x->conn = NULL;	/* the handler still holds it */
	}
	buf_free(&c->in);
	buf_free(&c->out);
	body_release(c);
	LIST_REMOVE(c, link);
	srv->st.open--;
	if (c->reserve)
		srv->nreserve--;
	free(c);
	if (srv->stopping && LIST_EMPTY(&srv->conns) && !srv->done_scheduled &&
	    !srv->freeing) {
		srv->done_scheduled = 1;
		later_arm(&srv->done_later);
	}
}

/* Everything answered and flushed: shut down our side, drain input. */
static void
conn_linger(struct http_conn *c)
{
	shutdown(c->fd, SHUT_WR);
	if (c->eof) {
		c->state = CONN_DEAD;
		return;
	}
	c->state = CONN_LINGER;
	c->linger_start = ev_now(c->srv->loop);
	buf_free(&c->in);
}

static int
want_read(const struct http_conn *c)
{
	const struct http_limits *lim = &c->srv->lim;

	if (c->state == CONN_LINGER)
		return 1;
	return c->state <= CONN_BODY && !c->eof && c->nq < lim->max_pipeline &&
	    buf_used(&c->out) < lim->out_high_water &&
	    buf_used(&c->in) < c->in.max;
}

static void
watch(struct ev_loop *loop, ev_io *w, int on)
{
	if (on && !ev_is_active(w))
		ev_io_start(loop, w);
	else if (!on && ev_is_active(w))
		ev_io_stop(loop, w);
}

/*
 * The safe point: after our callbacks have returned, derive watcher
 * interest and the timer from the state, or free a dead connection.
 * c must not be used after this returns.
 */
static void
conn_update(struct http_conn *c)
{
	struct ev_loop *loop = c->srv->loop;

	if (c->busy)
		return;
	if (c->state == CONN_CLOSING && c->nq == 0 && buf_used(&c->out) == 0)
		conn_linger(c);
	if (c->state == CONN_DEAD) {
		conn_free(c);
		return;
	}
	watch(loop, &c->rio, want_read(c));
	watch(loop, &c->wio, c->state != CONN_LINGER && buf_used(&c->out) > 0);
	conn_timer(c);
}

/* ---- accepting ---- */

static void
conn_new(struct http_server *srv, int fd, int reserve)
{
	struct http_conn *c;
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->srv = srv;
	c->fd = fd;
	c->state = CONN_IDLE;
	c->reserve = reserve;
	if (reserve) {
		srv->nreserve++;
		srv->st.reserved++;
	}
	c->last_io = ev_now(srv->loop);
	buf_init(&c->in, srv->lim.max_head + srv->lim.max_body);
	buf_init(&c->out, srv->out_max);
	http_parser_init(&c->parser, &(struct http_parse_limits){
	    srv->lim.max_line, srv->lim.max_head, srv->lim.max_headers },
	    srv->hdrs);
	ev_io_init(&c->rio, read_cb, fd, EV_READ);
	ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
	ev_init(&c->timer, timer_cb);
	later_init(&c->kick, srv->loop, kick_cb, c);
	c->rio.data = c->wio.data = c->timer.data = c;
	TAILQ_INIT(&c->queue);
	LIST_INSERT_HEAD(&srv->conns, c, link);
	srv->st.open++;
	conn_update(c);
}

static void
reject(struct http_server *srv, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Length: 0\r\nRetry-After: 1\r\nConnection: close\r\n"
	    "\r\n";
	ssize_t n;

	n = send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)n;
	close(fd);
	srv->st.rejected++;
}

static void
accept_resume(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *srv = w->data;
	size_t i;

	for (i = 0; i < srv->nls; i++)
		ev_io_start(loop, &srv->ls[i].io);
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct http_server *srv = l->srv;
	size_t i;
	int fd, n;

	for (n = 0; n < HTTP_ACCEPT_BURST; n++) {
		fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED ||
			    errno == EPROTO)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			/* EMFILE, ENFILE, ENOBUFS...: back off briefly. */
			srv->st.accept_errors++;
			for (i = 0; i < srv->nls; i++)
				ev_io_stop(loop, &srv->ls[i].io);
			ev_timer_stop(loop, &srv->accept_pause);
			ev_timer_set(&srv->accept_pause, HTTP_ACCEPT_PAUSE, 0);
			ev_timer_start(loop, &srv->accept_pause);
			return;
		}
		srv->st.accepted++;
		/* Past the cap, a few more slots take health checks, so a
		   load balancer does not see a flooded task as dead. */
		if (srv->st.open - srv->nreserve < srv->lim.max_connections)
			conn_new(srv, fd, 0);
		else if (srv->nreserve < srv->lim.reserve_connections)
			conn_new(srv, fd, 1);
		else
			reject(srv, fd);
	}
}

/* ---- setup ---- */

/* "a.b.c.d:port" or "[v6]:port" -> *ss.  0, or -1 with err set. */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sl,
    char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN + 1];
	const char *h, *he, *port;
	char *end;
	long p;
	int v6 = addr[0] == '[';

	if (v6) {
		h = addr + 1;
		if ((he = strchr(h, ']')) == NULL || he[1] != ':')
			goto bad;
		port = he + 2;
	} else {
		h = addr;
		if ((he = strrchr(addr, ':')) == NULL)
			goto bad;
		port = he + 1;
	}
	if (he == h || (size_t)(he - h) >= sizeof(host))
		goto bad;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	if (*port < '0' || *port > '9')
		goto bad;
	errno = 0;
	p = strtol(port, &end, 10);
	if (*end != '\0' || p > 65535 || errno)
		goto bad;
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		*sl = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		*sl = sizeof(*s4);
	}
	return 0;
bad:
	if (err && errlen)
		snprintf(err, errlen, "%s: not a numeric address:port "
		    "(\"0.0.0.0:8080\", \"[::]:8080\")", addr);
	return -1;
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int
http_server_listen(struct http_server *srv, const char *addr, char *err,
    size_t errlen)
{
	struct listener *l;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1, zero = 0;

	if (srv->nls == HTTP_MAX_LISTENERS || srv->stopping) {
		errno = ENOSPC;
		seterr(err, errlen, "listen on", addr);
		return -1;
	}
	if (parse_addr(addr, &ss, &sl, err, errlen) == -1) {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		seterr(err, errlen, "socket for", addr);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&ss)->sin6_addr))
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&ss, sl) == -1) {
		seterr(err, errlen, "bind", addr);
		close(fd);
		return -1;
	}
	if (listen(fd, srv->lim.backlog) == -1) {
		seterr(err, errlen, "listen", addr);
		close(fd);
		return -1;
	}
	l = &srv->ls[srv->nls++];
	l->srv = srv;
	l->fd = fd;
	l->port = bound_port(fd);
	ev_io_init(&l->io, accept_cb, fd, EV_READ);
	l->io.data = l;
	ev_io_start(srv->loop, &l->io);
	return 0;
}

static void
limits_default(struct http_limits *l)
{
#define DEF(f, v)	do { if (l->f <= 0) l->f = (v); } while (0)
	DEF(max_line, HTTP_DEFAULT_MAX_LINE);
	DEF(max_head, HTTP_DEFAULT_MAX_HEAD);
	DEF(max_headers, HTTP_DEFAULT_MAX_HEADERS);
	DEF(max_body, 1024 * 1024);
	DEF(max_connections, HTTP_MAX_CONNECTIONS);
	DEF(reserve_connections, HTTP_RESERVE_CONNECTIONS);
	DEF(max_body_total, 64 * 1024 * 1024);
	DEF(max_pipeline, 16);
	DEF(out_high_water, 256 * 1024);
	DEF(max_response, 64 * 1024 * 1024);
	DEF(request_timeout, 10.0);
	DEF(reserve_timeout, 2.0);
	DEF(idle_timeout, 75.0);
	DEF(write_timeout, 30.0);
	DEF(linger_timeout, 2.0);
	DEF(drain_timeout, 10.0);
	DEF(backlog, 511);
#undef DEF
}

static void
drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct http_server *srv = w->data;
	struct http_conn *c, *next;

	for (c = LIST_FIRST(&srv->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		c->state = CONN_DEAD;
		conn_update(c);
	}
}

static void
done_cb(void *arg)
{
	struct http_server *srv = arg;

	ev_timer_stop(srv->loop, &srv->drain);
	if (srv->done)
		srv->done(srv->done_arg);	/* may free srv */
}

struct http_server *
http_server_new(struct ev_loop *loop, const char *addr,
    const struct http_limits *limits, char *err, size_t errlen)
{
	struct http_server *srv;
	size_t per;

	if ((srv = calloc(1, sizeof(*srv))) == NULL) {
		seterr(err, errlen, "http server for", addr);
		return NULL;
	}
	srv->loop = loop;
	if (limits)
		srv->lim = *limits;
	limits_default(&srv->lim);
	/* Queued output: below the high-water mark when a request is taken,
	   plus at most max_pipeline whole responses. */
	per = srv->lim.max_response + HTTP_MAX_RESP_HEADERS + 1024;
	srv->out_max = srv->lim.out_high_water + srv->lim.max_pipeline * per;
	buf_init(&srv->scratch, HTTP_MAX_RESP_HEADERS + 1024);
	ev_init(&srv->accept_pause, accept_resume);
	srv->accept_pause.data = srv;
	ev_timer_init(&srv->drain, drain_cb, srv->lim.drain_timeout, 0);
	srv->drain.data = srv;
	later_init(&srv->done_later, loop, done_cb, srv);
	LIST_INIT(&srv->conns);
	LIST_INIT(&srv->held);
	TAILQ_INIT(&srv->freex);
	srv->hdrs = calloc(srv->lim.max_headers, sizeof(*srv->hdrs));
	if (srv->hdrs == NULL) {
		seterr(err, errlen, "http server for", addr);
		http_server_free(srv);
		return NULL;
	}
	if (http_server_listen(srv, addr, err, errlen) == -1) {
		http_server_free(srv);
		return NULL;
	}
	return srv;
}

int
http_server_port_at(const struct http_server *srv, size_t i)
{
	return i < srv->nls ? srv->ls[i].port : -1;
}

int
http_server_port(const struct http_server *srv)
{
	return http_server_port_at(srv, 0);
}

int
http_server_route(struct http_server *srv, const char *method,
    const char *path, int flags, http_handler_fn fn, void *arg)
{
	return http_routes_add(&srv->routes, method, path, flags, fn, arg,
	    NULL, NULL);
}

int
http_server_route_auth(struct http_server *srv, const char *method,
    const char *path, int flags, http_handler_fn fn, void *arg,
    http_auth_fn auth, void *auth_arg)
{
	return http_routes_add(&srv->routes, method, path, flags, fn, arg,
	    auth, auth_arg);
}

/* The route added for exactly method and path; NULL with ENOENT. */
static struct http_route *
route_added(struct http_server *srv, const char *method, const char *path)
{
	struct http_route *r;
	size_t i;

	for (i = 0; i < srv->routes.n; i++) {
		r = &srv->routes.r[i];
		if (strcmp(r->pattern, path) == 0 && (method == NULL ?
		    r->method == NULL : r->method != NULL &&
		    strcmp(r->method, method) == 0))
			return r;
	}
	errno = ENOENT;
	return NULL;
}

int
http_server_route_body(struct http_server *srv, const char *method,
    const char *path, size_t max_body)
{
	struct http_route *r;

	if (max_body == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((r = route_added(srv, method, path)) == NULL)
		return -1;
	r->max_body = max_body;
	return 0;
}

int
http_server_route_reserve(struct http_server *srv, const char *method,
    const char *path)
{
	struct http_route *r;

	if ((r = route_added(srv, method, path)) == NULL)
		return -1;
	r->reserve = 1;
	return 0;
}

const struct http_span *
http_exchange_param(const struct http_exchange *x, const char *name)
{
	return http_params_get(&x->params, name);
}

static void
listeners_close(struct http_server *srv)
{
	size_t i;

	ev_timer_stop(srv->loop, &srv->accept_pause);
	for (i = 0; i < srv->nls; i++) {
		ev_io_stop(srv->loop, &srv->ls[i].io);
		close(srv->ls[i].fd);
	}
	srv->nls = 0;
}

void
http_server_stop(struct http_server *srv, void (*done)(void *), void *arg)
{
	struct http_conn *c, *next;

	if (srv->stopping)
		return;
	srv->stopping = 1;
	srv->done = done;
	srv->done_arg = arg;
	listeners_close(srv);
	ev_timer_start(srv->loop, &srv->drain);
	for (c = LIST_FIRST(&srv->conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->state <= CONN_BODY)
			c->state = c->nq == 0 && buf_used(&c->out) == 0 ?
			    CONN_DEAD : CONN_CLOSING;
		conn_update(c);
	}
	if (LIST_EMPTY(&srv->conns) && !srv->done_scheduled) {
		srv->done_scheduled = 1;
		later_arm(&srv->done_later);
	}
}

void
http_server_free(struct http_server *srv)
{
	struct http_exchange *x;
	struct http_held *h;

	if (srv == NULL)
		return;
	srv->freeing = 1;
	listeners_close(srv);
	ev_timer_stop(srv->loop, &srv->drain);
	later_cancel(&srv->done_later);
	while (!LIST_EMPTY(&srv->conns))
		conn_free(LIST_FIRST(&srv->conns));
	/* orphans' copies outlive the server: unlink them */
	while ((h = LIST_FIRST(&srv->held)) != NULL) {
		LIST_REMOVE(h, link);
		h->srv = NULL;
	}
	while ((x = TAILQ_FIRST(&srv->freex)) != NULL) {
		TAILQ_REMOVE(&srv->freex, x, q);
		free(x);
	}
	http_routes_free(&srv->routes);
	buf_free(&srv->scratch);
	free(srv->hdrs);
	free(srv);
}

void
http_server_stats(const struct http_server *srv, struct http_stats *st)
{
	const struct http_conn *c;
	const struct http_exchange *x;

	*st = srv->st;
	st->body_buffered = srv->body_held;
	st->out_buffered = 0;
	LIST_FOREACH(c, &srv->conns, link) {
		st->out_buffered += buf_used(&c->out);
		TAILQ_FOREACH(x, &c->queue, q)
			st->out_buffered += buf_used(&x->out);
	}
}

int
http_server_metrics(const struct http_server *srv, struct buf *out)
{
	struct http_stats st;
	int i, rc = 0;

	http_server_stats(srv, &st);
	rc |= buf_printf(out, "# HELP afu9_http_responses_total HTTP responses "
	    "sent, by status code.\n# TYPE afu9_http_responses_total counter\n");
	for (i = 0; i <= HTTP_STATUS_MAX - HTTP_STATUS_MIN; i++)
		if (st.responses[i])
			rc |= buf_printf(out, "afu9_http_responses_total"
			    "{code=\"%d\"} %llu\n", i + HTTP_STATUS_MIN,
			    (unsigned long long)st.responses[i]);
	rc |= buf_printf(out,
	    "# TYPE afu9_http_connections_open gauge\n"
	    "afu9_http_connections_open %llu\n"
	    "# TYPE afu9_http_connections_accepted_total counter\n"
	    "afu9_http_connections_accepted_total %llu\n"
	    "# TYPE afu9_http_connections_rejected_total counter\n"
	    "afu9_http_connections_rejected_total %llu\n"
	    "# TYPE afu9_http_connections_reserved_total counter\n"
	    "afu9_http_connections_reserved_total %llu\n"
	    "# TYPE afu9_http_body_refused_total counter\n"
	    "afu9_http_body_refused_total %llu\n"
	    "# TYPE afu9_http_body_buffered_bytes gauge\n"
	    "afu9_http_body_buffered_bytes %llu\n"
	    "# TYPE afu9_http_timeouts_total counter\n"
	    "afu9_http_timeouts_total{kind=\"request\"} %llu\n"
	    "afu9_http_timeouts_total{kind=\"idle\"} %llu\n"
	    "afu9_http_timeouts_total{kind=\"write\"} %llu\n"
	    "# TYPE afu9_http_accept_errors_total counter\n"
	    "afu9_http_accept_errors_total %llu\n"
	    "# TYPE afu9_http_output_buffered_bytes gauge\n"
	    "afu9_http_output_buffered_bytes %llu\n",
	    (unsigned long long)st.open, (unsigned long long)st.accepted,
	    (unsigned long long)st.rejected,
	    (unsigned long long)st.reserved,
	    (unsigned long long)st.body_refused,
	    (unsigned long long)st.body_buffered,
	    (unsigned long long)st.request_timeouts,
	    (unsigned long long)st.idle_timeouts,
	    (unsigned long long)st.write_timeouts,
	    (unsigned long long)st.accept_errors,
	    (unsigned long long)st.out_buffered);
	return rc ? -1 : 0;
}

/* ---- as a subsystem ---- */

static void
ss_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	http_server_stop(self, done, arg);
}

static int
ss_metrics(const void *self, struct buf *out)
{
	return http_server_metrics(self, out);
}

void
http_subsys(struct http_server *srv, struct subsys *out)
{
	*out = (struct subsys){ .name = "http", .self = srv,
	    .stop = ss_stop, .metrics = ss_metrics };
}
