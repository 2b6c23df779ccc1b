/*
 * http: the embedded server over real sockets.  Each test runs a server
 * on its own libev loop in a thread and talks to it as a client would,
 * through 127.0.0.1 (or [::1]) on a kernel-chosen port, checking the
 * bytes that come back.  Server counters are read over HTTP (/stats).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "http/http.h"
#include "http/http_stream.h"
#include "testutil.h"

#define BIG_BODY	65536

/* ---- the server under test, in a thread ---- */

struct tsrv {
	struct ev_loop		*loop;
	struct http_server	*srv;
	pthread_t		 th;
	ev_async		 stop;	/* graceful stop, from the test */
	int			 port;
	int			 stopped;	/* done callback ran */
	int			 delayed;	/* /v1 answers waiting on a timer */
	struct held_x {
		struct http_exchange		*x;
		const struct http_request	*req;
	}			 held[8];	/* POST /hold, until /release */
	int			 nheld;
};

struct delayed {
	ev_timer		 t;
	struct tsrv		*ts;
	struct http_exchange	*x;
	char			 body[64];
	int			 rc;
};

static const char *const plain[] = {
	"Content-Type: text/plain; charset=utf-8", NULL };

static void
health(const struct http_request *req, struct http_exchange *x, void *arg)
{
	http_respond(x, 200, plain, "ok\n", 3);
}

static void
echo(const struct http_request *req, struct http_exchange *x, void *arg)
{
	http_respond(x, 200, plain, req->body, req->body_len);
}

/* POST /hold: kept (http_exchange_hold()) and not answered yet. */
static void
hold(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct tsrv *ts = arg;

	ck_assert_int_lt(ts->nheld, (int)(sizeof(ts->held) /
	    sizeof(ts->held[0])));
	ts->held[ts->nheld].x = x;
	ck_assert_ptr_nonnull(ts->held[ts->nheld].req =
	    http_exchange_hold(x, req));
	ck_assert_ptr_eq(http_exchange_hold(x, req), ts->held[ts->nheld].req);
	ts->nheld++;
}

/* GET /release: each held request answered with its body, from the copy. */
static void
release(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct tsrv *ts = arg;
	char body[32];
	int i, n;

	for (i = 0; i < ts->nheld; i++)
		http_respond(ts->held[i].x, 200, plain, ts->held[i].req->body,
		    ts->held[i].req->body_len);
	n = snprintf(body, sizeof(body), "released %d\n", ts->nheld);
	ts->nheld = 0;
	http_respond(x, 200, plain, body, (size_t)n);
}

/* /items/{id}/parts/{part}: the parameters as the handler sees them. */
static void
item_part(const struct http_request *req, struct http_exchange *x, void *arg)
{
	const struct http_span *id = http_exchange_param(x, "id");
	const struct http_span *part = http_exchange_param(x, "part");
	char body[256];
	int n;

	n = snprintf(body, sizeof(body), "id=%.*s part=%.*s none=%s\n",
	    (int)id->len, id->p, (int)part->len, part->p,
	    http_exchange_param(x, "none") ? "set" : "unset");
	http_respond(x, 200, plain, body, (size_t)n);
}

/* The authorization hook of /secret: "Authorization: Bearer good". */
static int
secret_auth(const struct http_request *req, void *arg, const char **ch)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name.len == 13 && strncasecmp(
		    req->headers[i].name.p, "authorization", 13) == 0) {
			if (req->headers[i].value.len == 11 && memcmp(
			    req->headers[i].value.p, "Bearer good", 11) == 0)
				return 0;
			if (req->headers[i].value.len == 13 && memcmp(
			    req->headers[i].value.p, "Bearer banned", 13) == 0)
				return 403;
		}
	*ch = "Bearer realm=\"afu9\"";
	return 401;
}

/* GET /stream: a chunked body written in three pieces (one empty). */
static void
stream_h(const struct http_request *req, struct http_exchange *x, void *arg)
{
	ck_assert_int_eq(http_stream_start(x, 200, plain), 0);
	ck_assert_int_eq(http_stream_write(x, "a", 1), 0);
	ck_assert_int_eq(http_stream_write(x, "bc", 2), 0);
	ck_assert_int_eq(http_stream_write(x, "", 0), 0);
	http_stream_end(x);
}

/* GET /sse: an event with lines, a comment, and a refused field. */
static void
sse_h(const struct http_request *req, struct http_exchange *x, void *arg)
{
	static const char *const h[] = { "X-Stream: 1", NULL };
	static const char data[] = "line1\nline2\r\n\r\nend";

	ck_assert_int_eq(http_stream_sse(x, h), 0);
	ck_assert_int_eq(http_stream_event(x, "step", "7", data,
	    sizeof(data) - 1), 0);
	ck_assert_int_eq(http_stream_comment(x, "ping"), 0);
	errno = 0;
	if (http_stream_event(x, "a\nb", NULL, "", 0) == -1 &&
	    errno == EINVAL)
		ck_assert_int_eq(http_stream_event(x, NULL, NULL, "bad=EINVAL",
		    10), 0);
	http_stream_end(x);
}

/*
 * GET /sse-flood: refused fields first, then 16 KiB events, without the
 * client reading, until a write is refused; what happened in flood_*.
 */
#define FLOOD_CAP	(64L << 20)
static int flood_errno, flood_bad_fields;
static long flood_bytes;
static volatile int flood_done;	/* set last, by the server thread */

static void
sse_flood(const struct http_request *req, struct http_exchange *x,
    void *arg)
{
	static char data[16384];
	char name[HTTP_SSE_FIELD_MAX + 2];

	memset(data, 'd', sizeof(data));
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_int_eq(http_stream_sse(x, NULL), 0);
	flood_bad_fields = 0;
	errno = 0;
	if (http_stream_event(x, name, NULL, "x", 1) == -1 && errno == EINVAL)
		flood_bad_fields++;
	name[HTTP_SSE_FIELD_MAX] = '\0';	/* at the bound: taken */
	if (http_stream_event(x, name, NULL, "x", 1) == 0)
		flood_bad_fields++;
	errno = 0;
	if (http_stream_comment(x, "two\nlines") == -1 && errno == EINVAL)
		flood_bad_fields++;
	errno = 0;
	if (http_stream_event(x, NULL, "i\rd", "x", 1) == -1 && errno == EINVAL)
		flood_bad_fields++;
	for (flood_bytes = 0; flood_bytes < FLOOD_CAP;
	    flood_bytes += (long)sizeof(data))
		if (http_stream_event(x, NULL, NULL, data, sizeof(data)) == -1)
			break;
	flood_errno = errno;
	http_stream_end(x);
	__atomic_store_n(&flood_done, 1, __ATOMIC_RELEASE);
}

/* GET /sse-forever: a comment every 5 ms until the client leaves. */
struct forever {
	ev_timer		 t;
	struct http_exchange	*x;
};
static volatile int forever_errno;	/* set when a write failed */

static void
forever_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct forever *f = w->data;

	if (http_stream_comment(f->x, "tick") == 0)
		return;
	forever_errno = errno;
	ev_timer_stop(loop, w);
	http_stream_end(f->x);
	free(f);
}

static void
sse_forever(const struct http_request *req, struct http_exchange *x,
    void *arg)
{
	struct tsrv *ts = arg;
	struct forever *f = calloc(1, sizeof(*f));

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(http_stream_sse(x, NULL), 0);
	f->x = x;
	ev_timer_init(&f->t, forever_cb, 0.005, 0.005);
	f->t.data = f;
	ev_timer_start(ts->loop, &f->t);
}

static void
big(const struct http_request *req, struct http_exchange *x, void *arg)
{
	static char body[BIG_BODY];

	if (body[0] == '\0')
		memset(body, 'b', sizeof(body));
	http_respond(x, 200, plain, body, sizeof(body));
}

static void
later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct delayed *d = w->data;

	d->ts->delayed--;
	http_respond(d->x, 200, plain, d->body, strlen(d->body));
	free(d);
}

/*
 * /v1/...: answers "v1 <path>\n"; after 100 ms when the query is "delay",
 * else at once.
 */
static void
v1(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct tsrv *ts = arg;
	struct delayed *d;
	char body[64];
	int n;

	n = snprintf(body, sizeof(body), "v1 %.*s\n", (int)req->path.len,
	    req->path.p);
	if (!(req->query.len == 5 && memcmp(req->query.p, "delay", 5) == 0)) {
		http_respond(x, 200, plain, body, (size_t)n);
		return;
	}
	d = calloc(1, sizeof(*d));
	d->x = x;
	d->ts = ts;
	ts->delayed++;
	memcpy(d->body, body, sizeof(body));
	ev_timer_init(&d->t, later_cb, 0.1, 0);
	d->t.data = d;
	ev_timer_start(ts->loop, &d->t);
}

static void
stats(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct tsrv *ts = arg;
	struct http_stats st;
	char body[512];
	int n;

	http_server_stats(ts->srv, &st);
	n = snprintf(body, sizeof(body), "open=%llu accepted=%llu "
	    "rejected=%llu rtimeouts=%llu itimeouts=%llu buffered=%llu "
	    "r200=%llu delayed=%d reserved=%llu brefused=%llu "
	    "bbuffered=%llu held=%d\n", (unsigned long long)st.open,
	    (unsigned long long)st.accepted, (unsigned long long)st.rejected,
	    (unsigned long long)st.request_timeouts,
	    (unsigned long long)st.idle_timeouts,
	    (unsigned long long)st.out_buffered,
	    (unsigned long long)st.responses[200 - HTTP_STATUS_MIN],
	    ts->delayed, (unsigned long long)st.reserved,
	    (unsigned long long)st.body_refused,
	    (unsigned long long)st.body_buffered, ts->nheld);
	http_respond(x, 200, plain, body, (size_t)n);
}

static void
metrics(const struct http_request *req, struct http_exchange *x, void *arg)
{
	struct tsrv *ts = arg;
	struct buf b;

	buf_init(&b, 65536);
	ck_assert_int_eq(http_server_metrics(ts->srv, &b), 0);
	http_respond(x, 200, plain, buf_data(&b), buf_used(&b));
	buf_free(&b);
}

static void
badheader(const struct http_request *req, struct http_exchange *x, void *arg)
{
	static const char *const evil[] = { "X-Evil: a\r\nSet-Cookie: b",
	    NULL };

	errno = 0;
	ck_assert_int_eq(http_respond(x, 200, evil, "no", 2), -1);
	ck_assert_int_eq(errno, EINVAL);
}

static void
stopped(void *arg)
{
	struct tsrv *ts = arg;

	ts->stopped = 1;
	ev_break(ts->loop, EVBREAK_ALL);
}

static void
stop_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct tsrv *ts = w->data;

	http_server_stop(ts->srv, stopped, ts);
}

static void *
run(void *arg)
{
	struct tsrv *ts = arg;

	ev_run(ts->loop, 0);
	return NULL;
}

static void
tsrv_start(struct tsrv *ts, const char *addr, const struct http_limits *l)
{
	char err[256];

	memset(ts, 0, sizeof(*ts));
	signal(SIGPIPE, SIG_IGN);
	ts->loop = ev_loop_new(EVFLAG_AUTO);
	ts->srv = http_server_new(ts->loop, addr, l, err, sizeof(err));
	ck_assert_msg(ts->srv != NULL, "%s", err);
	ts->port = http_server_port(ts->srv);
	ck_assert_int_gt(ts->port, 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/health",
	    HTTP_ROUTE_EXACT, health, ts), 0);
	ck_assert_int_eq(http_server_route_reserve(ts->srv, "GET", "/health"),
	    0);
	ck_assert_int_eq(http_server_route_reserve(ts->srv, "GET", "/nope"),
	    -1);
	ck_assert_int_eq(http_server_route(ts->srv, "POST", "/echo",
	    HTTP_ROUTE_EXACT, echo, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "POST", "/hold",
	    HTTP_ROUTE_EXACT, hold, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/release",
	    HTTP_ROUTE_EXACT, release, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/big",
	    HTTP_ROUTE_EXACT, big, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/stats",
	    HTTP_ROUTE_EXACT, stats, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/metrics",
	    HTTP_ROUTE_EXACT, metrics, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/badheader",
	    HTTP_ROUTE_EXACT, badheader, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/v1/",
	    HTTP_ROUTE_PREFIX, v1, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "POST", "/v1/",
	    HTTP_ROUTE_PREFIX, v1, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET",
	    "/items/{id}/parts/{part}", HTTP_ROUTE_EXACT, item_part, ts), 0);
	ck_assert_int_eq(http_server_route_auth(ts->srv, "GET", "/secret",
	    HTTP_ROUTE_EXACT, health, ts, secret_auth, NULL), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/stream",
	    HTTP_ROUTE_EXACT, stream_h, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/sse",
	    HTTP_ROUTE_EXACT, sse_h, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/sse-forever",
	    HTTP_ROUTE_EXACT, sse_forever, ts), 0);
	ck_assert_int_eq(http_server_route(ts->srv, "GET", "/sse-flood",
	    HTTP_ROUTE_EXACT, sse_flood, ts), 0);
	ev_async_init(&ts->stop, stop_cb);
	ts->stop.data = ts;
	ev_async_start(ts->loop, &ts->stop);
	ck_assert_int_eq(pthread_create(&ts->th, NULL, run, ts), 0);
}

/* Graceful stop from the test thread; waits for the loop to end. */
static void
tsrv_stop(struct tsrv *ts)
{
	ev_async_send(ts->loop, &ts->stop);
	pthread_join(ts->th, NULL);
	ck_assert_int_eq(ts->stopped, 1);
	http_server_free(ts->srv);
	ev_loop_destroy(ts->loop);
}

/* ---- the client side ---- */

struct cli {
	int	 fd;
	char	 buf[1 << 20];
	size_t	 len;
};

struct resp {
	int	 status;
	char	*head;		/* status line and headers, NUL-terminated */
	char	*body;
	size_t	 body_len;
};

static struct cli *
cli_open_af(int af, int port)
{
	struct cli *c = calloc(1, sizeof(*c));
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	int r;

	c->fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	if (af == AF_INET6) {
		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_port = htons((uint16_t)port);
		s6.sin6_addr = in6addr_loopback;
		r = connect(c->fd, (struct sockaddr *)&s6, sizeof(s6));
	} else {
		memset(&s4, 0, sizeof(s4));
		s4.sin_family = AF_INET;
		s4.sin_port = htons((uint16_t)port);
		s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		r = connect(c->fd, (struct sockaddr *)&s4, sizeof(s4));
	}
	ck_assert_msg(r == 0, "connect: %s", strerror(errno));
	return c;
}

static struct cli *
cli_open(int port)
{
	return cli_open_af(AF_INET, port);
}

static void
cli_close(struct cli *c)
{
	close(c->fd);
	free(c);
}

static void
cli_send(struct cli *c, const char *s, size_t n)
{
	ck_assert_int_eq(t_write(c->fd, s, n), 0);
}

#define SEND(c, lit)	cli_send((c), (lit), sizeof(lit) - 1)

/*
 * Read more into c->buf within the deadline.  1 read something, 0 EOF,
 * -1 timeout, -2 error (a reset counts as EOF for most tests).
 */
static int
cli_fill(struct cli *c, double deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int left;

	for (;;) {
		left = (int)(deadline - t_now_ms());
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, left) <= 0)
			continue;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n > 0) {
			c->len += (size_t)n;
			return 1;
		}
		return n == 0 ? 0 : -2;
	}
}

static void
resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/*
 * Read one response (interim 1xx included) within timeout_ms.  `head`
 * true: the request was HEAD (no body whatever Content-Length says).
 * Returns 1, or 0 on EOF / timeout before a whole response.
 */
static int
cli_resp(struct cli *c, struct resp *r, int timeout_ms, int head)
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	char *end, *cl;
	size_t hl, bl = 0;

	memset(r, 0, sizeof(*r));
	for (;;) {
		end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end) {
			hl = (size_t)(end + 4 - c->buf);
			r->head = strndup(c->buf, hl);
			cl = strcasestr(r->head, "\r\ncontent-length: ");
			bl = cl && !head ? strtoul(cl + 18, NULL, 10) : 0;
			if (c->len >= hl + bl)
				break;
			free(r->head);
			r->head = NULL;
		}
		if (cli_fill(c, deadline) != 1)
			return 0;
	}
	r->status = atoi(r->head + 9);
	r->body = malloc(bl + 1);
	memcpy(r->body, c->buf + hl, bl);
	r->body[bl] = '\0';
	r->body_len = bl;
	memmove(c->buf, c->buf + hl + bl, c->len - hl - bl);
	c->len -= hl + bl;
	return 1;
}

/* Wait for EOF (or reset) with nothing more sent; 1 if so. */
static int
cli_eof(struct cli *c, int timeout_ms)
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	size_t before = c->len;
	int r;

	while ((r = cli_fill(c, deadline)) == 1)
		;
	return (r == 0 || r == -2) && c->len == before;
}

/*
 * Send the request text req on c and read its answer: the status must be
 * `status`, the body `body` (NULL: any), and the head hold `header`
 * (NULL: no check).
 */
static void
expect(struct cli *c, const char *req, int status, const char *header,
    const char *body)
{
	struct resp r;

	cli_send(c, req, strlen(req));
	ck_assert_msg(cli_resp(c, &r, 2000, strncmp(req, "HEAD ", 5) == 0)
	    == 1, "no answer to %s", req);
	ck_assert_int_eq(r.status, status);
	if (header != NULL)
		ck_assert_msg(strstr(r.head, header) != NULL, "%s", r.head);
	if (body != NULL)
		ck_assert_str_eq(r.body, body);
	resp_free(&r);
}

/* GET path on a fresh connection; the response body (malloc'd). */
static char *
get_once(int port, const char *path)
{
	struct cli *c = cli_open(port);
	struct resp r;
	char req[256];
	char *body;
	int n;

	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", path);
	cli_send(c, req, (size_t)n);
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	body = r.body;
	r.body = NULL;
	resp_free(&r);
	cli_close(c);
	return body;
}

/* A counter from /stats ("name=value"). */
static long long
stat_of(int port, const char *name)
{
	char *body = get_once(port, "/stats"), key[64], *p;
	long long v;

	snprintf(key, sizeof(key), "%s=", name);
	p = strstr(body, key);
	ck_assert_msg(p != NULL, "no %s in %s", name, body);
	v = atoll(p + strlen(key));
	free(body);
	return v;
}

/* Until the counter `name` of /stats is `want`; 1 if seen in time. */
static int
stat_until(int port, const char *name, long long want)
{
	double deadline = t_now_ms() + 5000 * t_slow();

	while (stat_of(port, name) != want)
		if (t_now_ms() > deadline)
			return 0;
	return 1;
}

/* Close c with a reset (SO_LINGER 0): the server's read fails. */
static void
cli_reset(struct cli *c)
{
	struct linger lg = { 1, 0 };

	ck_assert_int_eq(setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(c->fd);
	free(c);
}

/* ---- tests ---- */

START_TEST(health_exact_bytes)
{
	static const char want_tail[] = "\r\nContent-Length: 3\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\nok\n";
	struct tsrv ts;
	struct cli *c;
	size_t i;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	while (c->len < 23 + 29 + sizeof(want_tail) - 1)
		ck_assert_int_eq(cli_fill(c, t_now_ms() + 2000 * t_slow()), 1);
	ck_assert_uint_eq(c->len, 23 + 29 + sizeof(want_tail) - 1);
	ck_assert(memcmp(c->buf, "HTTP/1.1 200 OK\r\nDate: ", 23) == 0);
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
	for (i = 0; i < 29; i++)
		ck_assert_msg(strchr(" ,:", "Sun, 06 Nov 1994 08:49:37 GMT"[i]) ?
		    c->buf[23 + i] == "Sun, 06 Nov 1994 08:49:37 GMT"[i] :
		    c->buf[23 + i] != ' ', "date byte %zu", i);
	ck_assert(memcmp(c->buf + 23 + 26, "GMT", 3) == 0);
	ck_assert(memcmp(c->buf + 23 + 29, want_tail, sizeof(want_tail) - 1)
	    == 0);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(keepalive_hundred)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;
	int i;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	for (i = 0; i < 100; i++) {
		SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
		ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, "ok\n");
		ck_assert_ptr_null(strcasestr(r.head, "Connection:"));
		resp_free(&r);
	}
	/* 100 requests, one connection (the stats one is the second). */
	ck_assert_int_eq(stat_of(ts.port, "accepted"), 2);
	ck_assert_int_eq(stat_of(ts.port, "r200"), 101);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

/* Three requests in one write; the first is answered last by its
   handler, yet the responses come back in request order. */
/* The next answer on c, whose body must be `body`. */
static void
expect_body(struct cli *c, const char *body)
{
	struct resp r;

	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_str_eq(r.body, body);
	resp_free(&r);
}

START_TEST(pipelined_in_order)
{
	struct tsrv ts;
	struct cli *c;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	SEND(c, "GET /v1/one?delay HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /v1/two HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /v1/three HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_body(c, "v1 /v1/one\n");
	expect_body(c, "v1 /v1/two\n");
	expect_body(c, "v1 /v1/three\n");
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

/* Send `req`, expect `status` with Connection: close, then EOF. */
static void
expect_fatal(int port, const char *req, size_t n, int status)
{
	struct cli *c = cli_open(port);
	struct resp r;

	cli_send(c, req, n);
	ck_assert_msg(cli_resp(c, &r, 2000, 0) == 1, "no response to %.40s",
	    req);
	ck_assert_msg(r.status == status, "%d, not %d, for %.60s: %s",
	    r.status, status, req, r.body);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	ck_assert(cli_eof(c, 2000));
	resp_free(&r);
	cli_close(c);
}

#define FATAL(port, lit, st)	expect_fatal((port), (lit), sizeof(lit) - 1, (st))

START_TEST(limit_codes)
{
	struct http_limits l = { .max_line = 100, .max_head = 400,
	    .max_headers = 8, .max_body = 1000 };
	char req[2048];
	struct tsrv ts;
	int n;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	n = snprintf(req, sizeof(req), "GET /%0100d HTTP/1.1\r\nHost: t\r\n"
	    "\r\n", 0);
	expect_fatal(ts.port, req, (size_t)n, 414);
	n = snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nHost: t\r\n"
	    "X: %0400d\r\n\r\n", 0);
	expect_fatal(ts.port, req, (size_t)n, 431);
	FATAL(ts.port, "GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n"
	    "D: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n", 431);
	/* The body is refused from its Content-Length, none of it sent. */
	FATAL(ts.port, "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 1001\r\n\r\n", 413);
	FATAL(ts.port, "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
	FATAL(ts.port, "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 411);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(not_found_and_method)
{
	struct tsrv ts;
	struct cli *c;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	expect(c, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404, NULL,
	    "404 Not Found\n");
	/* Same connection still usable: 404/405 do not close. */
	expect(c, "POST /health HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
	    "\r\n", 405, "\r\nAllow: GET, HEAD\r\n", NULL);
	expect(c, "DELETE /v1/x HTTP/1.1\r\nHost: t\r\n\r\n", 405,
	    "\r\nAllow: GET, HEAD, POST\r\n", NULL);
	expect(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n", 200, NULL, NULL);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

/* Path parameters reach the handler; the hook of an authorized route
   answers 401 (with its challenge) or 403 instead of the handler. */
START_TEST(route_params_and_auth)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	expect(c, "GET /items/a%2Fb/parts/7?x=1 HTTP/1.1\r\nHost: t\r\n\r\n",
	    200, NULL, "id=a%2Fb part=7 none=unset\n");
	expect(c, "GET /items//parts/7 HTTP/1.1\r\nHost: t\r\n\r\n", 404,
	    NULL, NULL);
	expect(c, "GET /items/1/parts/7/more HTTP/1.1\r\nHost: t\r\n\r\n",
	    404, NULL, NULL);
	expect(c, "GET /secret HTTP/1.1\r\nHost: t\r\n\r\n", 401,
	    "\r\nWWW-Authenticate: Bearer realm=\"afu9\"\r\n",
	    "401 Unauthorized\n");
	SEND(c, "HEAD /secret HTTP/1.1\r\nHost: t\r\n"
	    "Authorization: Bearer banned\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 1), 1);
	ck_assert_int_eq(r.status, 403);
	ck_assert_ptr_null(strstr(r.head, "WWW-Authenticate"));
	resp_free(&r);
	expect(c, "GET /secret HTTP/1.1\r\nHost: t\r\n"
	    "Authorization: Bearer good\r\n\r\n", 200, NULL, "ok\n");
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

/* Read until needle is in the buffer; the bytes up to its end
   (malloc'd), taken from the buffer. */
static char *
cli_until(struct cli *c, const char *needle, int timeout_ms)
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	char *at, *s;
	size_t n;

	while ((at = memmem(c->buf, c->len, needle, strlen(needle))) ==
	    NULL)
		ck_assert_msg(cli_fill(c, deadline) == 1, "no '%s' in: %.*s",
		    needle, (int)c->len, c->buf);
	n = (size_t)(at - c->buf) + strlen(needle);
	s = strndup(c->buf, n);
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	return s;
}

/* One chunk as the server frames it. */
static void
chunk(char *out, size_t size, const char *data)
{
	size_t n = strlen(out);

	snprintf(out + n, size - n, "%zx\r\n%s\r\n", strlen(data), data);
}

/* Chunked and SSE bodies byte for byte; a stream keeps its place among
   pipelined responses; HTTP/1.0 gets the body to the close; HEAD only
   the head; a client that leaves makes the next write fail (EPIPE). */
START_TEST(streamed_responses)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;
	char *got, want[1024];
	double deadline;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	SEND(c, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	got = cli_until(c, "\r\n0\r\n\r\n", 2000);
	ck_assert_msg(strncmp(got, "HTTP/1.1 200 OK\r\n", 17) == 0 &&
	    strstr(got, "\r\nTransfer-Encoding: chunked\r\n") &&
	    !strcasestr(got, "content-length"), "%s", got);
	ck_assert_str_eq(strstr(got, "\r\n\r\n") + 4,
	    "1\r\na\r\n2\r\nbc\r\n0\r\n\r\n");
	free(got);
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);	/* then in order */
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	resp_free(&r);

	SEND(c, "GET /sse HTTP/1.1\r\nHost: t\r\n\r\n");
	got = cli_until(c, "\r\n0\r\n\r\n", 2000);
	ck_assert_msg(strstr(got, "\r\nContent-Type: text/event-stream\r\n") &&
	    strstr(got, "\r\nCache-Control: no-store\r\n") &&
	    strstr(got, "\r\nX-Stream: 1\r\n"), "%s", got);
	want[0] = '\0';
	chunk(want, sizeof(want), "id: 7\nevent: step\ndata: line1\n"
	    "data: line2\ndata: \ndata: end\n\n");
	chunk(want, sizeof(want), ": ping\n\n");
	chunk(want, sizeof(want), "data: bad=EINVAL\n\n");
	strcat(want, "0\r\n\r\n");
	ck_assert_str_eq(strstr(got, "\r\n\r\n") + 4, want);
	free(got);

	SEND(c, "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	got = cli_until(c, "\r\n\r\n", 2000);
	ck_assert_msg(strstr(got, "Transfer-Encoding: chunked"), "%s", got);
	free(got);
	SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);	/* no body bytes */
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	cli_close(c);

	c = cli_open(ts.port);
	SEND(c, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	got = cli_until(c, "\r\n\r\nabc", 2000);
	ck_assert(cli_eof(c, 2000));		/* the end of the body */
	ck_assert_msg(strstr(got, "\r\nConnection: close\r\n") &&
	    !strstr(got, "Transfer-Encoding") && !strstr(got, "keep-alive"),
	    "%s", got);
	free(got);
	cli_close(c);

	/* A client that does not read: the stream is refused (ENOBUFS)
	   past out_high_water queued, long before the cap; what was queued
	   still arrives, and the stream ends properly. */
	flood_done = 0;
	c = cli_open(ts.port);
	SEND(c, "GET /sse-flood HTTP/1.1\r\nHost: t\r\n\r\n");
	deadline = t_now_ms() + 5000 * t_slow();
	while (!__atomic_load_n(&flood_done, __ATOMIC_ACQUIRE) &&
	    t_now_ms() < deadline)
		usleep(5000);
	ck_assert(flood_done);
	ck_assert_int_eq(flood_errno, ENOBUFS);
	ck_assert_int_eq(flood_bad_fields, 4);
	ck_assert_int_gt(flood_bytes, 0);
	ck_assert_int_lt(flood_bytes, FLOOD_CAP);
	got = NULL;
	while (got == NULL) {	/* drain: the buffer holds 1 MiB at a time */
		if (memmem(c->buf, c->len, "\r\n0\r\n\r\n", 7) != NULL)
			got = cli_until(c, "\r\n0\r\n\r\n", 2000);
		else if (c->len > sizeof(c->buf) / 2) {
			/* keep a tail the terminator may have begun in */
			memmove(c->buf, c->buf + c->len - 8, 8);
			c->len = 8;
		} else
			ck_assert_int_eq(cli_fill(c, t_now_ms() + 5000), 1);
	}
	free(got);
	cli_close(c);

	forever_errno = 0;
	c = cli_open(ts.port);
	SEND(c, "GET /sse-forever HTTP/1.1\r\nHost: t\r\n\r\n");
	free(cli_until(c, ": tick\n\n", 2000));
	cli_close(c);
	deadline = t_now_ms() + 5000 * t_slow();
	while (forever_errno == 0 && t_now_ms() < deadline)
		usleep(5000);
	ck_assert_int_eq(forever_errno, EPIPE);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(malformed_get_400)
{
	static const char *const bad[] = {
		"GET /health HTTP/1.1\r\nHost : t\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n",
		"GET /health HTTP/1.1\rHost: t\r\n\r\n",
		"GET  /health HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /health HTTP/1.1 \r\nHost: t\r\n\r\n",
		"GET /health\r\n\r\n",
		"G@T /health HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /he\"alth HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /health HTTP/1.1\r\n\r\n",
		"GET /health HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
		    "Content-Length: 3\r\n\r\nab",
		"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
		    "Transfer-Encoding: chunked\r\n\r\nab",
		"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0x2\r\n\r\n",
		"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
		"GET /health HTTP/1.1\r\nHost: t\r\nX: \x01\r\n\r\n",
	};
	struct tsrv ts;
	size_t i;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_fatal(ts.port, bad[i], strlen(bad[i]), 400);
	/* A bad request after a good one on the same connection: the
	   good one is answered, then 400, then close. */
	{
		struct cli *c = cli_open(ts.port);
		struct resp r;

		SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n"
		    "GET /health HTTP/1.1\r\nHost : t\r\n\r\n");
		ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
		ck_assert_int_eq(r.status, 200);
		ck_assert_ptr_null(strstr(r.head, "Connection:"));
		resp_free(&r);
		ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
		ck_assert_int_eq(r.status, 400);
		ck_assert_str_eq(r.body,
		    "400 Bad Request: whitespace before colon\n");
		resp_free(&r);
		ck_assert(cli_eof(c, 2000));
		cli_close(c);
	}
	tsrv_stop(&ts);
}
END_TEST

START_TEST(slowloris_408)
{
	struct http_limits l = { .request_timeout = 0.3 };
	struct tsrv ts;
	struct cli *c;
	struct resp r;
	double t0;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	c = cli_open(ts.port);
	t0 = t_now_ms();
	SEND(c, "GET /health HTTP/1.1\r\nHo");
	ck_assert_int_eq(cli_resp(c, &r, 3000, 0), 1);
	ck_assert_int_eq(r.status, 408);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	ck_assert(cli_eof(c, 3000));
	ck_assert_msg(t_now_ms() - t0 < 3000 * t_slow(), "took %.0f ms",
	    t_now_ms() - t0);
	ck_assert_msg(t_now_ms() - t0 >= 250, "408 too early");
	resp_free(&r);
	cli_close(c);
	ck_assert_int_eq(stat_of(ts.port, "rtimeouts"), 1);
	tsrv_stop(&ts);
}
END_TEST

/* Bytes trickling in do not extend the request timeout. */
START_TEST(slowloris_trickle)
{
	struct http_limits l = { .request_timeout = 0.4 };
	static const char req[] = "GET /health HTTP/1.1\r\nHost: t\r\n\r\n";
	struct tsrv ts;
	struct cli *c;
	struct resp r;
	size_t i;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	c = cli_open(ts.port);
	for (i = 0; i < sizeof(req) - 3; i++) {
		if (send(c->fd, req + i, 1, MSG_NOSIGNAL) != 1)
			break;
		if (cli_fill(c, t_now_ms() + 50) != -1)
			break;		/* the server answered (or closed) */
	}
	ck_assert_int_eq(cli_resp(c, &r, 3000, 0), 1);
	ck_assert_int_eq(r.status, 408);
	resp_free(&r);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(idle_keepalive_closed)
{
	struct http_limits l = { .idle_timeout = 0.3 };
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	resp_free(&r);
	ck_assert(cli_eof(c, 3000));
	cli_close(c);
	ck_assert_int_eq(stat_of(ts.port, "itimeouts"), 1);
	tsrv_stop(&ts);
}
END_TEST

/* ---- hostile shapes (issue 14: HTTP hardening), each with its status ---- */

/* The server still serves: a fresh GET /health is 200. */
static void
health_ok(int port)
{
	char *body = get_once(port, "/health");

	ck_assert_str_eq(body, "ok\n");
	free(body);
}

#define CL_TE	"POST /echo HTTP/1.1\r\nHost: t\r\n"

/*
 * Every request shape the server must refuse, with its status; each is
 * sent on a fresh connection, must get exactly that status with
 * "Connection: close" and then EOF, and the server must answer a fresh
 * /health after it.  The limits are those of hostile_shapes below.
 * (HTTP/1.0 with and without keep-alive: http10_and_close; 100 requests
 * on one keep-alive connection: keepalive_hundred; pipelining:
 * pipelined_in_order and pipelined_bad_in_middle; slow clients:
 * hostile_timeouts; the caps: connection_cap and body_total.)
 */
static const struct hostile {
	const char	*what;
	const char	*req;
	int		 status;
} hostiles[] = {
	/* request smuggling: the body's length must be unambiguous */
	{ "CL then TE", CL_TE "Content-Length: 2\r\n"
	    "Transfer-Encoding: chunked\r\n\r\nab", 400 },
	{ "TE then CL", CL_TE "Transfer-Encoding: chunked\r\n"
	    "Content-Length: 2\r\n\r\nab", 400 },
	{ "two differing CLs", CL_TE "Content-Length: 2\r\n"
	    "Content-Length: 3\r\n\r\nabc", 400 },
	/* RFC 9112 6.3 allows merging identical values: refused here too */
	{ "two equal CLs", CL_TE "Content-Length: 2\r\n"
	    "Content-Length: 2\r\n\r\nab", 400 },
	{ "CL list", CL_TE "Content-Length: 2, 2\r\n\r\nab", 400 },
	{ "CL with +", CL_TE "Content-Length: +2\r\n\r\nab", 400 },
	{ "CL with -", CL_TE "Content-Length: -2\r\n\r\nab", 400 },
	{ "CL with inner space", CL_TE "Content-Length: 1 2\r\n\r\nab", 400 },
	{ "CL hex", CL_TE "Content-Length: 0x2\r\n\r\nab", 400 },
	{ "CL exponent", CL_TE "Content-Length: 1e3\r\n\r\n", 400 },
	{ "CL empty", CL_TE "Content-Length:\r\n\r\n", 400 },
	{ "CL 2^64+1", CL_TE "Content-Length: 18446744073709551617\r\n\r\n",
	    400 },
	{ "CL 40 digits", CL_TE "Content-Length: "
	    "1000000000000000000000000000000000000002\r\n\r\nab", 400 },
	{ "CL 15 digits", CL_TE "Content-Length: 999999999999999\r\n\r\n",
	    413 },
	/* Transfer-Encoding: no request body is chunked here */
	{ "TE chunked", CL_TE "Transfer-Encoding: chunked\r\n\r\n"
	    "2\r\nab\r\n0\r\n\r\n", 411 },
	{ "TE CHUNKED", CL_TE "Transfer-Encoding: CHUNKED\r\n\r\n", 411 },
	{ "TE gzip, chunked", CL_TE "Transfer-Encoding: gzip, chunked\r\n\r\n",
	    411 },
	{ "TE chunked, gzip", CL_TE "Transfer-Encoding: chunked, gzip\r\n\r\n",
	    501 },
	{ "TE xchunked", CL_TE "Transfer-Encoding: xchunked\r\n\r\n", 501 },
	{ "TE chunked-x", CL_TE "Transfer-Encoding: chunked-x\r\n\r\n", 501 },
	{ "TE identity", CL_TE "Transfer-Encoding: identity\r\n\r\n", 501 },
	{ "TE empty", CL_TE "Transfer-Encoding:\r\n\r\n", 501 },
	{ "TE tabs", CL_TE "Transfer-Encoding:\tchunked\t\r\n\r\n", 411 },
	{ "TE twice", CL_TE "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 411 },
	{ "TE chunked then gzip line", CL_TE "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n", 501 },
	{ "TE space before colon", CL_TE "Transfer-Encoding : chunked\r\n\r\n",
	    400 },
	{ "TE folded", CL_TE "Transfer-Encoding:\r\n chunked\r\n\r\n", 400 },
	{ "TE in HTTP/1.0", "POST /echo HTTP/1.0\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 400 },
	/* chunk sizes are never parsed: refused with the coding, unread */
	{ "chunk size overflow", CL_TE "Transfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffffffffffff\r\nab\r\n0\r\n\r\n", 411 },
	/* framing of the head */
	{ "obs-fold SP", "GET /health HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n"
	    "\r\n", 400 },
	{ "obs-fold HTAB", "GET /health HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n"
	    "\r\n", 400 },
	{ "bare LF request line", "GET /health HTTP/1.1\nHost: t\r\n\r\n",
	    400 },
	{ "bare LF header", "GET /health HTTP/1.1\r\nHost: t\nX: a\r\n\r\n",
	    400 },
	{ "bare LF end", "GET /health HTTP/1.1\r\nHost: t\r\n\n", 400 },
	{ "all bare LF", "GET /health HTTP/1.1\nHost: t\n\n", 400 },
	{ "bare CR request line", "GET /health HTTP/1.1\rHost: t\r\n\r\n",
	    400 },
	{ "bare CR value", "GET /health HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n"
	    "\r\n", 400 },
	{ "space before colon", "GET /health HTTP/1.1\r\nHost : t\r\n\r\n",
	    400 },
	{ "tab before colon", "GET /health HTTP/1.1\r\nHost\t: t\r\n\r\n",
	    400 },
	{ "no Host", "GET /health HTTP/1.1\r\n\r\n", 400 },
	{ "two Hosts", "GET /health HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
	    400 },
	{ "HTTP/2.0", "GET /health HTTP/2.0\r\nHost: t\r\n\r\n", 505 },
	{ "unknown Expect", "GET /health HTTP/1.1\r\nHost: t\r\n"
	    "Expect: 200-ok\r\n\r\n", 417 },
	{ "CONNECT", "CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n", 501 },
	{ "TLS ClientHello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
	    400 },
};

/* NUL bytes cannot sit in the table's strings: (text, offset of NUL). */
static const struct {
	const char	*what;
	const char	*req;
	size_t		 at;
} nuls[] = {
	{ "NUL in value", "GET /health HTTP/1.1\r\nHost: t\r\nX: a_b\r\n\r\n",
	    35 },
	{ "NUL in name", "GET /health HTTP/1.1\r\nHost: t\r\nX_Y: a\r\n\r\n",
	    32 },
	{ "NUL in request line", "GET /hea_th HTTP/1.1\r\nHost: t\r\n\r\n",
	    8 },
};

START_TEST(hostile_shapes)
{
	struct http_limits l = { .max_line = 100, .max_head = 400,
	    .max_headers = 8, .max_body = 1000 };
	char req[2048];
	struct tsrv ts;
	size_t i;
	int n;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	for (i = 0; i < sizeof(hostiles) / sizeof(hostiles[0]); i++) {
		expect_fatal(ts.port, hostiles[i].req, strlen(hostiles[i].req),
		    hostiles[i].status);
		health_ok(ts.port);
	}
	for (i = 0; i < sizeof(nuls) / sizeof(nuls[0]); i++) {
		n = snprintf(req, sizeof(req), "%s", nuls[i].req);
		ck_assert_msg(req[nuls[i].at] == '_', "%s", nuls[i].what);
		req[nuls[i].at] = '\0';
		expect_fatal(ts.port, req, (size_t)n, 400);
		health_ok(ts.port);
	}
	/* the size limits: request line, one field, the head, the count,
	   the body (from its Content-Length, none of it sent) */
	n = snprintf(req, sizeof(req), "GET /%0100d HTTP/1.1\r\nHost: t\r\n"
	    "\r\n", 0);
	expect_fatal(ts.port, req, (size_t)n, 414);
	health_ok(ts.port);
	n = snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nHost: t\r\n"
	    "X: %0400d\r\n\r\n", 0);
	expect_fatal(ts.port, req, (size_t)n, 431);
	health_ok(ts.port);
	n = snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nHost: t\r\n"
	    "A: %090d\r\nB: %090d\r\nC: %090d\r\nD: %090d\r\n\r\n", 0, 0, 0, 0);
	expect_fatal(ts.port, req, (size_t)n, 431);
	health_ok(ts.port);
	FATAL(ts.port, "GET /health HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\n"
	    "C: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\n\r\n", 431);
	health_ok(ts.port);
	FATAL(ts.port, "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 1001\r\n\r\n", 413);
	health_ok(ts.port);
	/* and what is allowed at the edges is served */
	{
		struct cli *c = cli_open(ts.port);

		expect(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
		    "Content-Length: 0002\r\n\r\nab", 200, NULL, "ab");
		expect(c, "POST /echo HTTP/1.1\r\nHost: t\r\n"
		    "Content-Length:\t 2 \t\r\n\r\nab", 200, NULL, "ab");
		cli_close(c);
	}
	tsrv_stop(&ts);
}
END_TEST

/* A head that stops, and a body shorter than its Content-Length: 408. */
START_TEST(hostile_timeouts)
{
	struct http_limits l = { .request_timeout = 0.4 };
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 4000, 0), 1);
	ck_assert_int_eq(r.status, 408);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(c, 3000));
	cli_close(c);
	health_ok(ts.port);
	c = cli_open(ts.port);
	SEND(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
	    "\r\nabc");
	ck_assert_int_eq(cli_resp(c, &r, 4000, 0), 1);
	ck_assert_int_eq(r.status, 408);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(c, 3000));
	cli_close(c);
	health_ok(ts.port);
	ck_assert_int_eq(stat_of(ts.port, "rtimeouts"), 2);
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 0);
	tsrv_stop(&ts);
}
END_TEST

/* Pipelined in one write with a bad request in the middle: the ones
   before it are answered in order, then the error, then the close; the
   one after it is never answered. */
START_TEST(pipelined_bad_in_middle)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	SEND(c, "GET /v1/one?delay HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /v1/two HTTP/1.1\r\nHost: t\r\n\r\n"
	    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"
	    "GET /v1/bad HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
	    "GET /v1/after HTTP/1.1\r\nHost: t\r\n\r\n");
	expect_body(c, "v1 /v1/one\n");
	expect_body(c, "v1 /v1/two\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_str_eq(r.body, "hi");
	ck_assert_ptr_null(strstr(r.head, "Connection:"));
	resp_free(&r);
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(c, 2000));
	cli_close(c);
	health_ok(ts.port);
	tsrv_stop(&ts);
}
END_TEST

/*
 * One request on a new connection: its status (0 when the connection
 * ended without a whole response: a refusal past the reserve may be a
 * reset), the response in *r.  `closed`: the server closed after it.
 */
static int
cap_try(int port, const char *req, struct resp *r, int *closed)
{
	struct cli *c = cli_open(port);
	int st = 0;

	memset(r, 0, sizeof(*r));
	cli_send(c, req, strlen(req));
	if (cli_resp(c, r, 2000, strncmp(req, "HEAD ", 5) == 0) == 1)
		st = r->status;
	*closed = cli_eof(c, 2000);
	cli_close(c);
	return st;
}

/* Until `want` (and, for a 503, a body holding `body`), retrying while
   the reserve slot of an earlier try is not free yet.  1 if seen. */
static int
cap_until(int port, const char *req, int want, const char *body,
    struct resp *r)
{
	double deadline = t_now_ms() + 5000 * t_slow();
	int closed;

	while (t_now_ms() < deadline) {
		if (cap_try(port, req, r, &closed) == want && closed &&
		    (body == NULL || strstr(r->body, body) != NULL))
			return 1;
		resp_free(r);
	}
	return 0;
}

/*
 * max_connections idle connections: a health check is still answered,
 * on a reserve slot (then closed), anything else there is 503 +
 * Retry-After; past the reserve a connection is refused at once; when
 * the idle ones go, everything is served again.
 */
START_TEST(connection_cap)
{
	static const char hc[] = "GET /health HTTP/1.1\r\nHost: lb\r\n\r\n";
	struct http_limits l = { .max_connections = 3,
	    .reserve_connections = 1, .reserve_timeout = 5 };
	struct tsrv ts;
	struct cli *full[3], *d;
	struct resp r;
	char *m;
	int i, closed, seen;
	double deadline;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	for (i = 0; i < 3; i++) {
		full[i] = cli_open(ts.port);
		expect(full[i], hc, 200, NULL, "ok\n");
	}
	/* The cap is full: the load balancer's check is answered. */
	ck_assert_int_eq(cap_try(ts.port, hc, &r, &closed), 200);
	ck_assert_str_eq(r.body, "ok\n");
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	ck_assert(closed);
	resp_free(&r);
	ck_assert(cap_until(ts.port, "HEAD /health HTTP/1.1\r\nHost: lb\r\n"
	    "\r\n", 200, NULL, &r));
	resp_free(&r);
	/* An API request on the reserve: 503, Retry-After, closed. */
	ck_assert(cap_until(ts.port, "GET /v1/x HTTP/1.1\r\nHost: t\r\n\r\n",
	    503, "only health checks", &r));
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nRetry-After: 1\r\n"));
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cap_until(ts.port, "POST /health HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 2\r\n\r\nab", 503, "only health checks", &r));
	resp_free(&r);
	/* The reserve taken by an idle connection: the next is refused at
	   once (a best-effort 503 with no body, or a reset), while the
	   reserve's check is still answered. */
	deadline = t_now_ms() + 5000 * t_slow();
	seen = 0;
	while (!seen && t_now_ms() < deadline) {
		int st;

		d = cli_open(ts.port);
		(void)cli_fill(d, t_now_ms() + 100);	/* d accepted first */
		st = cap_try(ts.port, hc, &r, &closed);
		ck_assert_msg(st == 0 || st == 503 || st == 200, "%d", st);
		if ((st == 0 || r.body_len == 0) && closed) {
			struct resp rd;

			SEND(d, hc);
			if (cli_resp(d, &rd, 2000, 0) == 1 && rd.status == 200)
				seen = 1;
			resp_free(&rd);
		}
		resp_free(&r);
		cli_close(d);
	}
	ck_assert_msg(seen, "no refusal past the reserve");
	/* The idle connections go: everything is served again. */
	for (i = 0; i < 3; i++)
		cli_close(full[i]);
	ck_assert(cap_until(ts.port, "GET /v1/x HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n", 200, NULL, &r));
	ck_assert_str_eq(r.body, "v1 /v1/x\n");
	resp_free(&r);
	ck_assert_int_ge(stat_of(ts.port, "rejected"), 3);
	ck_assert_int_ge(stat_of(ts.port, "reserved"), 5);
	m = get_once(ts.port, "/metrics");
	ck_assert_ptr_nonnull(strstr(m,
	    "\nafu9_http_connections_rejected_total "));
	ck_assert_ptr_nonnull(strstr(m,
	    "\nafu9_http_connections_reserved_total "));
	free(m);
	tsrv_stop(&ts);
}
END_TEST

/* A reserve slot has reserve_timeout, not request_timeout, to send its
   health check: a head that stops there gets its 408 early. */
START_TEST(reserve_timeout)
{
	struct http_limits l = { .max_connections = 1,
	    .reserve_connections = 1, .reserve_timeout = 0.3,
	    .request_timeout = 30 };
	struct tsrv ts;
	struct cli *a, *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	a = cli_open(ts.port);
	expect(a, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n", 200, NULL,
	    "ok\n");
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.1\r\nHo");
	ck_assert_int_eq(cli_resp(c, &r, 10000, 0), 1);
	ck_assert_int_eq(r.status, 408);
	resp_free(&r);
	ck_assert(cli_eof(c, 3000));
	cli_close(c);
	cli_close(a);
	tsrv_stop(&ts);
}
END_TEST

/*
 * max_body_total: a body that would take the bodies being received past
 * it is refused with 503 + Retry-After before any of it is read; one
 * that fits is served meanwhile; the first ends and the total is free.
 */
START_TEST(body_total)
{
	struct http_limits l = { .max_body = 2000, .max_body_total = 1500 };
	char body[1001], req[1200];
	struct tsrv ts;
	struct cli *a, *b;
	struct resp r;
	int n;

	memset(body, 'a', 1000);
	body[1000] = '\0';
	tsrv_start(&ts, "127.0.0.1:0", &l);
	/* a's 1000 bytes admitted (the 100 Continue says its head was
	   taken); 10 of them sent, then a stalls */
	a = cli_open(ts.port);
	SEND(a, "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
	    "Content-Length: 1000\r\n\r\n");
	ck_assert_int_eq(cli_resp(a, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 100);
	resp_free(&r);
	cli_send(a, body, 10);
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 1000);
	/* 1000 + 600 > 1500: refused from the head */
	b = cli_open(ts.port);
	SEND(b, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 600\r\n"
	    "\r\n");
	ck_assert_int_eq(cli_resp(b, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nRetry-After: 1\r\n"));
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(b, 2000));
	cli_close(b);
	/* 1000 + 500 fits */
	b = cli_open(ts.port);
	n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 500\r\n\r\n%.500s", body);
	expect(b, req, 200, NULL, body + 500);
	/* over the total on its own: can never be taken, 413 */
	FATAL(ts.port, "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 1501\r\n\r\n", 413);
	/* a's body completes; then b's 600 is taken */
	cli_send(a, body + 10, 990);
	ck_assert_int_eq(cli_resp(a, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 1000);
	resp_free(&r);
	n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 600\r\n\r\n%.600s", body);
	expect(b, req, 200, NULL, body + 400);
	(void)n;
	ck_assert_int_eq(stat_of(ts.port, "brefused"), 1);
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 0);
	cli_close(a);
	cli_close(b);
	health_ok(ts.port);
	tsrv_stop(&ts);
}
END_TEST

/*
 * A request a handler holds (http_exchange_hold()) keeps its body's
 * share of max_body_total until its copy is freed: while its connection
 * waits, after the client has reset it (an orphan), and a copy that
 * outlives the server is freed without touching it.
 */
START_TEST(body_total_held)
{
	struct http_limits l = { .max_body = 2000, .max_body_total = 1500 };
	char body[1001], req[1200];
	struct tsrv ts;
	struct cli *a, *c;
	struct resp r;
	char *rel;
	int n;

	memset(body, 'h', 1000);
	body[1000] = '\0';
	tsrv_start(&ts, "127.0.0.1:0", &l);
	a = cli_open(ts.port);
	n = snprintf(req, sizeof(req), "POST /hold HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 1000\r\n\r\n%s", body);
	cli_send(a, req, (size_t)n);
	ck_assert(stat_until(ts.port, "held", 1));
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 1000);
	/* 1000 held + 600 > 1500; 1000 + 500 fits */
	FATAL(ts.port, "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 600\r\n\r\n", 503);
	c = cli_open(ts.port);
	n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 500\r\n\r\n%.500s", body);
	expect(c, req, 200, NULL, body + 500);
	cli_close(c);
	/* a resets: its request is an orphan, its copy still counted */
	cli_reset(a);
	ck_assert(stat_until(ts.port, "open", 1));
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 1000);
	FATAL(ts.port, "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 600\r\n\r\n", 503);
	/* a second held request, answered from its copy on release */
	c = cli_open(ts.port);
	n = snprintf(req, sizeof(req), "POST /hold HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 400\r\n\r\n%.400s", body);
	cli_send(c, req, (size_t)n);
	ck_assert(stat_until(ts.port, "held", 2));
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 1400);
	rel = get_once(ts.port, "/release");
	ck_assert_str_eq(rel, "released 2\n");
	free(rel);
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 400);
	ck_assert_int_eq(memcmp(r.body, body, 400), 0);
	resp_free(&r);
	cli_close(c);
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 0);
	c = cli_open(ts.port);
	n = snprintf(req, sizeof(req), "POST /echo HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 600\r\n\r\n%.600s", body);
	expect(c, req, 200, NULL, body + 400);
	cli_close(c);
	/* an orphan's copy freed after the server (ASan, valgrind) */
	c = cli_open(ts.port);
	n = snprintf(req, sizeof(req), "POST /hold HTTP/1.1\r\nHost: t\r\n"
	    "Content-Length: 300\r\n\r\n%.300s", body);
	cli_send(c, req, (size_t)n);
	ck_assert(stat_until(ts.port, "held", 1));
	ck_assert_int_eq(stat_of(ts.port, "bbuffered"), 300);
	cli_reset(c);
	ck_assert(stat_until(ts.port, "open", 1));
	tsrv_stop(&ts);
	ck_assert_int_eq(http_respond(ts.held[0].x, 200, plain, "late", 4),
	    0);
}
END_TEST

START_TEST(async_after_timer)
{
	struct tsrv ts;
	struct cli *a, *b;
	struct resp r;
	double t0;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	a = cli_open(ts.port);
	b = cli_open(ts.port);
	t0 = t_now_ms();
	SEND(a, "GET /v1/slow?delay HTTP/1.1\r\nHost: t\r\n\r\n");
	/* The loop is not blocked while /v1/slow waits. */
	SEND(b, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(b, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	ck_assert_int_eq(a->len, 0);
	ck_assert_int_eq(cli_resp(a, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "v1 /v1/slow\n");
	ck_assert_msg(t_now_ms() - t0 >= 90, "answered before the timer");
	resp_free(&r);
	/* A client that leaves before the answer: the late answer is
	   dropped; the server goes on. */
	SEND(b, "GET /v1/gone?delay HTTP/1.1\r\nHost: t\r\n\r\n");
	cli_close(b);
	SEND(a, "GET /v1/after?delay HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(a, &r, 2000, 0), 1);
	ck_assert_str_eq(r.body, "v1 /v1/after\n");
	resp_free(&r);
	cli_close(a);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(ipv6_listen)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "[::1]:0", NULL);
	c = cli_open_af(AF_INET6, ts.port);
	SEND(c, "GET /health HTTP/1.1\r\nHost: [::1]\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	resp_free(&r);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(dual_stack_any)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "[::]:0", NULL);
	c = cli_open_af(AF_INET, ts.port);	/* IPv4 on the v6 socket */
	SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(bad_listen_address)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	static const char *const bad[] = { "8080", "::1:80", "[::1]80",
	    "1.2.3:80", "127.0.0.1:65536", "127.0.0.1:", "localhost:80",
	    "127.0.0.1:8x" };
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_ptr_null(http_server_new(loop, bad[i], NULL, err,
		    sizeof(err)));
		ck_assert_msg(strstr(err, bad[i]) != NULL, "%s", err);
	}
	ev_loop_destroy(loop);
}
END_TEST

/*
 * A client that sends many requests for big responses and never reads:
 * the server stops reading it once out_high_water is queued, so what it
 * holds stays under the bound; once the client reads, every response
 * arrives, in order.
 */
START_TEST(nonreading_client_bounded)
{
	struct http_limits l = { .out_high_water = 32768 };
	static const char req[] = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
	const long long bound = 32768 + BIG_BODY + 1024;
	struct tsrv ts;
	struct cli *c;
	struct resp r;
	long long buffered, prev = -1;
	int i, sent = 0, stable = 0, flags;
	double deadline;

	tsrv_start(&ts, "127.0.0.1:0", &l);
	c = cli_open(ts.port);
	flags = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
	for (i = 0; i < 400; i++) {
		if (send(c->fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(req) - 1)
			break;
		sent++;
	}
	ck_assert_int_gt(sent, 100);
	/* Sample until the server's buffered output settles. */
	deadline = t_now_ms() + 3000 * t_slow();
	while (stable < 3 && t_now_ms() < deadline) {
		buffered = stat_of(ts.port, "buffered");
		ck_assert_msg(buffered <= bound, "buffered %lld > %lld",
		    buffered, bound);
		stable = buffered == prev && buffered > 0 ? stable + 1 : 0;
		prev = buffered;
		poll(NULL, 0, 30);
	}
	ck_assert_int_eq(stable, 3);
	ck_assert_int_gt(prev, 0);
	fcntl(c->fd, F_SETFL, flags);
	for (i = 0; i < sent; i++) {
		ck_assert_msg(cli_resp(c, &r, 5000, 0) == 1, "response %d", i);
		ck_assert_int_eq(r.status, 200);
		ck_assert_uint_eq(r.body_len, BIG_BODY);
		resp_free(&r);
	}
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(http10_and_close)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	/* HTTP/1.0: closed after the response. */
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(c, 2000));
	cli_close(c);
	/* HTTP/1.0 keep-alive: kept, and said so. */
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: keep-alive\r\n"));
	resp_free(&r);
	SEND(c, "GET /health HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(c, 2000));
	cli_close(c);
	/* HTTP/1.1 Connection: close. */
	c = cli_open(ts.port);
	SEND(c, "GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	    "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(c, 2000));	/* the second is not answered */
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(body_head_and_continue)
{
	struct tsrv ts;
	struct cli *c;
	struct resp r;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	c = cli_open(ts.port);
	/* A body in two pieces. */
	SEND(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n"
	    "hello");
	ck_assert(cli_fill(c, t_now_ms() + 100) == -1);
	SEND(c, " world");
	expect_body(c, "hello world");
	/* Expect: 100-continue gets the interim response first. */
	SEND(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
	    "Expect: 100-continue\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 100);
	ck_assert_str_eq(r.head, "HTTP/1.1 100 Continue\r\n\r\n");
	resp_free(&r);
	SEND(c, "data");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "data");
	resp_free(&r);
	/* HEAD: GET's headers, no body; the next response follows. */
	SEND(c, "HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n"
	    "GET /health HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 1), 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nContent-Length: 3\r\n"));
	resp_free(&r);
	expect_body(c, "ok\n");
	/* A handler's CR/LF in a header gets a 500, not a split response. */
	SEND(c, "GET /badheader HTTP/1.1\r\nHost: t\r\n\r\n");
	ck_assert_int_eq(cli_resp(c, &r, 2000, 0), 1);
	ck_assert_int_eq(r.status, 500);
	ck_assert_ptr_null(strstr(r.head, "Set-Cookie"));
	resp_free(&r);
	cli_close(c);
	tsrv_stop(&ts);
}
END_TEST

START_TEST(metrics_text)
{
	struct tsrv ts;
	char *body;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	free(get_once(ts.port, "/health"));
	free(get_once(ts.port, "/health"));
	body = get_once(ts.port, "/metrics");
	ck_assert_ptr_nonnull(strstr(body,
	    "\nafu9_http_responses_total{code=\"200\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(body, "\nafu9_http_connections_open "));
	ck_assert_ptr_nonnull(strstr(body,
	    "\nafu9_http_connections_accepted_total 3\n"));
	free(body);
	tsrv_stop(&ts);
}
END_TEST

/* Stop: no new connections; a request in flight is still answered,
   with Connection: close, and the done callback runs. */
START_TEST(graceful_stop)
{
	struct tsrv ts;
	struct cli *a, *idle;
	struct resp r;
	int fd;
	struct sockaddr_in s4;

	tsrv_start(&ts, "127.0.0.1:0", NULL);
	idle = cli_open(ts.port);
	a = cli_open(ts.port);
	SEND(a, "GET /v1/inflight?delay HTTP/1.1\r\nHost: t\r\n\r\n");
	/* Stop once the server holds the request. */
	while (stat_of(ts.port, "delayed") == 0)
		;
	ev_async_send(ts.loop, &ts.stop);
	ck_assert_int_eq(cli_resp(a, &r, 2000, 0), 1);
	ck_assert_str_eq(r.body, "v1 /v1/inflight\n");
	ck_assert_ptr_nonnull(strstr(r.head, "\r\nConnection: close\r\n"));
	resp_free(&r);
	ck_assert(cli_eof(a, 2000));
	ck_assert(cli_eof(idle, 2000));
	pthread_join(ts.th, NULL);
	ck_assert_int_eq(ts.stopped, 1);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = htons((uint16_t)ts.port);
	s4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&s4, sizeof(s4)), -1);
	close(fd);
	cli_close(a);
	cli_close(idle);
	http_server_free(ts.srv);
	ev_loop_destroy(ts.loop);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, health_exact_bytes);
	tcase_add_test(tc, keepalive_hundred);
	tcase_add_test(tc, pipelined_in_order);
	tcase_add_test(tc, limit_codes);
	tcase_add_test(tc, not_found_and_method);
	tcase_add_test(tc, route_params_and_auth);
	tcase_add_test(tc, streamed_responses);
	tcase_add_test(tc, malformed_get_400);
	tcase_add_test(tc, slowloris_408);
	tcase_add_test(tc, slowloris_trickle);
	tcase_add_test(tc, idle_keepalive_closed);
	tcase_add_test(tc, connection_cap);
	tcase_add_test(tc, hostile_shapes);
	tcase_add_test(tc, hostile_timeouts);
	tcase_add_test(tc, pipelined_bad_in_middle);
	tcase_add_test(tc, body_total);
	tcase_add_test(tc, body_total_held);
	tcase_add_test(tc, reserve_timeout);
	tcase_add_test(tc, async_after_timer);
	tcase_add_test(tc, ipv6_listen);
	tcase_add_test(tc, dual_stack_any);
	tcase_add_test(tc, bad_listen_address);
	tcase_add_test(tc, nonreading_client_bounded);
	tcase_add_test(tc, http10_and_close);
	tcase_add_test(tc, body_head_and_continue);
	tcase_add_test(tc, metrics_text);
	tcase_add_test(tc, graceful_stop);
	suite_add_tcase(s, tc);
	return t_run(s);
}
