/*
 * httpc against a real HTTP/1.1 server running in a thread of the test:
 * 127.0.0.1, ephemeral port, keep-alive, one thread per connection.  The
 * path picks the behaviour (echo, status codes, delays, dropped bodies,
 * huge bodies, chunked, 1xx interim responses, a gate that answers only
 * when N requests are waiting at once, a request that is never answered).
 * The server counts accepted and client-closed connections so reuse and
 * cancellation are checked from the server's side of the wire.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <ev.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "httpc.h"
#include "testutil.h"

/* ---- the test server ---- */

#define SRV_MAX_CONNS	64
#define SRV_MAX_REQ	(4 * 1024 * 1024)

struct srv {
	int		 lfd;
	int		 port;
	int		 stop[2];	/* readable once the server stops */
	int		 stopping;
	pthread_t	 acceptor;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 accepted;	/* connections accepted */
	int		 requests;	/* requests read */
	int		 held;		/* /hold requests read */
	int		 held_gone;	/* /hold connections the client closed */
	int		 gate;		/* /gate arrivals */
	int		 nthreads;
	pthread_t	 threads[SRV_MAX_CONNS];
};

struct sconn {
	struct srv	*s;
	int		 fd;
	char		*buf;
	size_t		 have;
};

struct sreq {
	char		 method[32];
	char		 path[1024];
	size_t		 headlen;	/* through the blank line */
	size_t		 bodylen;
};

static void
srv_bump(struct srv *s, int *counter)
{
	pthread_mutex_lock(&s->mu);
	(*counter)++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static int
srv_get(struct srv *s, int *counter)
{
	int v;

	pthread_mutex_lock(&s->mu);
	v = *counter;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static int
send_all(int fd, const void *p, size_t len)
{
	const char *c = p;
	ssize_t n;

	while (len > 0) {
		n = send(fd, c, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
send_str(int fd, const char *str)
{
	return send_all(fd, str, strlen(str));
}

/* Wait up to ms (-1: forever) for stop, or for fd (when >= 0) to be
   readable.  1 stop, 2 fd, 0 timeout. */
static int
srv_wait(struct srv *s, int fd, int ms)
{
	struct pollfd p[2] = {
		{ .fd = s->stop[0], .events = POLLIN },
		{ .fd = fd, .events = POLLIN },
	};
	int n;

	do
		n = poll(p, fd >= 0 ? 2 : 1, ms);
	while (n == -1 && errno == EINTR);
	if (n > 0 && p[0].revents)
		return 1;
	if (n > 0)
		return 2;
	return 0;
}

/* Value of header `name` in the request head, copied into out. */
static int
req_header(const char *head, size_t len, const char *name, char *out,
    size_t outsz)
{
	const char *p = head, *end = head + len, *eol, *v;
	size_t n = strlen(name);

	while (p < end && (eol = memmem(p, (size_t)(end - p), "\r\n", 2))) {
		if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			for (v = p + n + 1; v < eol && *v == ' '; v++)
				;
			snprintf(out, outsz, "%.*s", (int)(eol - v), v);
			return 1;
		}
		p = eol + 2;
	}
	return 0;
}

/* Read one request into c->buf.  0, or -1 on EOF, stop or bad input. */
static int
read_request(struct sconn *c, struct sreq *q)
{
	char *eoh, val[64];
	ssize_t n;

	for (;;) {
		eoh = memmem(c->buf, c->have, "\r\n\r\n", 4);
		if (eoh) {
			q->headlen = (size_t)(eoh - c->buf) + 4;
			q->bodylen = 0;
			if (req_header(c->buf, q->headlen, "Content-Length",
			    val, sizeof(val)))
				q->bodylen = strtoul(val, NULL, 10);
			if (q->headlen + q->bodylen > SRV_MAX_REQ)
				return -1;
			if (c->have >= q->headlen + q->bodylen)
				break;
			if (req_header(c->buf, q->headlen, "Expect", val,
			    sizeof(val)) && c->have == q->headlen &&
			    send_str(c->fd,
			    "HTTP/1.1 100 Continue\r\n\r\n") == -1)
				return -1;
		}
		if (c->have == SRV_MAX_REQ || srv_wait(c->s, c->fd, -1) != 2)
			return -1;
		n = recv(c->fd, c->buf + c->have, SRV_MAX_REQ - c->have, 0);
		if (n <= 0)
			return -1;
		c->have += (size_t)n;
	}
	if (sscanf(c->buf, "%31s %1023s", q->method, q->path) != 2)
		return -1;
	srv_bump(c->s, &c->s->requests);
	return 0;
}

static int
respond(int fd, int status, const char *extra, const void *body, size_t len)
{
	char head[1024];
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, len,
	    extra ? extra : "");
	if (send_all(fd, head, (size_t)n) == -1)
		return -1;
	return len ? send_all(fd, body, len) : 0;
}

static int
respond_chunked(int fd, const char *extra, const char *const *chunks,
    const char *trailer)
{
	char line[64];
	int i, n;

	n = snprintf(line, sizeof(line), "HTTP/1.1 200 OK\r\n");
	if (send_all(fd, line, (size_t)n) == -1 ||
	    send_str(fd, extra) == -1 ||
	    send_str(fd, "Transfer-Encoding: chunked\r\n\r\n") == -1)
		return -1;
	for (i = 0; chunks[i]; i++) {
		n = snprintf(line, sizeof(line), "%zx\r\n", strlen(chunks[i]));
		if (send_all(fd, line, (size_t)n) == -1 ||
		    send_str(fd, chunks[i]) == -1 ||
		    send_str(fd, "\r\n") == -1)
			return -1;
	}
	return send_str(fd, "0\r\n") == -1 ||
	    send_str(fd, trailer) == -1 ||
	    send_str(fd, "\r\n") == -1 ? -1 : 0;
}

/* n bytes of 'x', chunked in 4 KiB pieces (no Content-Length). */
static int
respond_big_chunked(int fd, size_t n)
{
	char piece[4096], line[32];
	size_t k;
	int l;

	memset(piece, 'x', sizeof(piece));
	if (send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n") == -1)
		return -1;
	while (n > 0) {
		k = n < sizeof(piece) ? n : sizeof(piece);
		l = snprintf(line, sizeof(line), "%zx\r\n", k);
		if (send_all(fd, line, (size_t)l) == -1 ||
		    send_all(fd, piece, k) == -1 || send_str(fd, "\r\n") == -1)
			return -1;
		n -= k;
	}
	return send_str(fd, "0\r\n\r\n");
}

/* Answer once `want` /gate requests have arrived in total (503 after 5 s). */
static int
respond_gate(struct srv *s, int fd, int want)
{
	struct timespec dl;
	int ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 5 * t_slow();
	pthread_mutex_lock(&s->mu);
	s->gate++;
	pthread_cond_broadcast(&s->cv);
	while (s->gate < want && !s->stopping &&
	    pthread_cond_timedwait(&s->cv, &s->mu, &dl) == 0)
		;
	ok = s->gate >= want;
	pthread_mutex_unlock(&s->mu);
	return ok ? respond(fd, 200, NULL, "through", 7) :
	    respond(fd, 503, NULL, "gate timeout", 12);
}

/* Never answer; note when the client hangs up.  Always -1 (close). */
static int
respond_hold(struct srv *s, int fd)
{
	char b[64];

	srv_bump(s, &s->held);
	while (srv_wait(s, fd, -1) == 2) {
		if (recv(fd, b, sizeof(b), 0) <= 0) {
			srv_bump(s, &s->held_gone);
			break;
		}
	}
	return -1;
}

/*
 * /drip/N/MS: a chunked 200 of N chunks "dN\n", MS ms apart; /stall:
 * the head and one chunk, then nothing until the client hangs up
 * (counted in held / held_gone, as /hold).
 */
static int
respond_drip(struct srv *s, int fd, int n, int ms)
{
	char line[64];
	int i, l;

	if (send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && srv_wait(s, -1, ms))
			return -1;
		l = snprintf(line, sizeof(line), "%x\r\nd%d\n\r\n",
		    (unsigned)snprintf(NULL, 0, "d%d\n", i), i);
		if (send_all(fd, line, (size_t)l) == -1)
			return -1;
	}
	return send_str(fd, "0\r\n\r\n");
}

static int
respond_stall(struct srv *s, int fd)
{
	if (send_str(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n3\r\nd0\n\r\n") == -1)
		return -1;
	return respond_hold(s, fd);
}

static const char gz_body[] =
    "\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\xcb\x48\xcd\xc9\xc9\xd7"
    "\x51\x48\xaf\xca\x2c\x50\x28\xcf\x2f\xca\x49\xe1\x02\x00\xe0\x7b"
    "\x8d\x05\x12\x00\x00\x00";

/* The routes.  0 keeps the connection, -1 closes it. */
static int
handle(struct sconn *c, struct sreq *q)
{
	static const char *const chunks[] = { "hello, ", "chunked ", "world",
	    NULL };
	const char *p = q->path;
	char extra[256], *many;
	int fd = c->fd, rc, i;

	if (strncmp(p, "/echo", 5) == 0) {
		snprintf(extra, sizeof(extra), "X-Method: %s\r\n"
		    "X-Body-Len: %zu\r\n", q->method, q->bodylen);
		return respond(fd, 200, extra, c->buf, q->headlen + q->bodylen);
	}
	if (strncmp(p, "/status/", 8) == 0)
		return respond(fd, atoi(p + 8), "X-Multi: first\r\n"
		    "x-multi: second\r\nX-Pad: \t padded value \t\r\n"
		    "Content-Type: text/plain\r\n", "status", 6);
	if (strcmp(p, "/continue") == 0)
		return send_str(fd, "HTTP/1.1 100 Continue\r\n"
		    "X-Interim: yes\r\n\r\n") == -1 ? -1 :
		    respond(fd, 200, "X-Final: yes\r\n", "done", 4);
	if (strcmp(p, "/redirect") == 0)
		return respond(fd, 302, "Location: /echo\r\n", "moved", 5);
	if (strncmp(p, "/delay/", 7) == 0)
		return srv_wait(c->s, -1, atoi(p + 7)) ? -1 :
		    respond(fd, 200, NULL, "late", 4);
	if (strcmp(p, "/drop") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
		    "0123456789");
		return -1;
	}
	if (strncmp(p, "/big/", 5) == 0)
		return respond_big_chunked(fd, strtoul(p + 5, NULL, 10));
	if (strncmp(p, "/bigcl/", 7) == 0) {
		/* announce the size only: the client must refuse up front */
		snprintf(extra, sizeof(extra), "HTTP/1.1 200 OK\r\n"
		    "Content-Length: %s\r\n\r\n", p + 7);
		send_str(fd, extra);
		return -1;
	}
	if (strcmp(p, "/chunked") == 0)
		return respond_chunked(fd, "X-Kind: chunked\r\n", chunks,
		    "X-Trailer: t\r\n");
	if (strcmp(p, "/gzip") == 0)
		return respond(fd, 200, "Content-Encoding: gzip\r\n", gz_body,
		    sizeof(gz_body) - 1);
	if (strcmp(p, "/manyheaders") == 0) {
		/* 300 header lines: past the client's bound of 256 */
		if ((many = malloc(300 * 16 + 64)) == NULL)
			return -1;
		strcpy(many, "HTTP/1.1 200 OK\r\n");
		for (i = 0; i < 300; i++)
			snprintf(many + strlen(many), 16, "X-H%d: v\r\n", i);
		strcat(many, "Content-Length: 0\r\n\r\n");
		rc = send_str(fd, many);
		free(many);
		return rc;
	}
	if (strcmp(p, "/hold") == 0)
		return respond_hold(c->s, fd);
	if (strncmp(p, "/drip/", 6) == 0)
		return respond_drip(c->s, fd, atoi(p + 6),
		    strchr(p + 6, '/') ? atoi(strchr(p + 6, '/') + 1) : 0);
	if (strcmp(p, "/stall") == 0)
		return respond_stall(c->s, fd);
	if (strncmp(p, "/gate/", 6) == 0)
		return respond_gate(c->s, fd, atoi(p + 6));
	return respond(fd, 404, NULL, "no route", 8);
}

static void *
conn_main(void *arg)
{
	struct sconn *c = arg;
	struct sreq q;
	size_t used;

	while (read_request(c, &q) == 0) {
		used = q.headlen + q.bodylen;
		if (handle(c, &q) == -1)
			break;
		memmove(c->buf, c->buf + used, c->have - used);
		c->have -= used;
	}
	close(c->fd);
	free(c->buf);
	free(c);
	return NULL;
}

static void *
accept_main(void *arg)
{
	struct srv *s = arg;
	struct sconn *c;
	int fd;

	while (srv_wait(s, s->lfd, -1) == 2) {
		if ((fd = accept(s->lfd, NULL, NULL)) == -1)
			continue;
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->buf = malloc(SRV_MAX_REQ)) == NULL ||
		    s->nthreads == SRV_MAX_CONNS) {
			if (c)
				free(c->buf);
			free(c);
			close(fd);
			continue;
		}
		c->s = s;
		c->fd = fd;
		srv_bump(s, &s->accepted);
		if (pthread_create(&s->threads[s->nthreads], NULL, conn_main,
		    c) != 0) {
			close(fd);
			free(c->buf);
			free(c);
			continue;
		}
		s->nthreads++;
	}
	return NULL;
}

static struct srv *
srv_start(void)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct srv *s;

	s = calloc(1, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	ck_assert_int_eq(pipe(s->stop), 0);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(s->lfd, 64), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&sin, &slen),
	    0);
	s->port = ntohs(sin.sin_port);
	ck_assert_int_eq(pthread_create(&s->acceptor, NULL, accept_main, s), 0);
	return s;
}

static void
srv_stop(struct srv *s)
{
	int i;

	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	ck_assert_int_eq(write(s->stop[1], "x", 1), 1);
	pthread_join(s->acceptor, NULL);
	for (i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

static const char *
url(struct srv *s, const char *path)
{
	static char slots[8][256];
	static int next;
	char *p = slots[next++ % 8];

	snprintf(p, sizeof(slots[0]), "http://127.0.0.1:%d%s", s->port, path);
	return p;
}

/* ---- the client side ---- */

/* A copy of one response (the callback's is borrowed). */
struct got {
	int			 calls;
	long			 status;
	int			 error;
	char			*error_text;
	char			*body;
	size_t			 body_len;
	struct httpc_header	*hv;
	size_t			 nh;
	struct httpc_response	 view;	/* for httpc_header() */
	/* optional: chain more requests from the callback */
	struct httpc		*h;
	int			 chain_left;
	struct httpc_req	*to_cancel;
	struct got		*next_got;
	const char		*next_url;
	int			 free_h;	/* httpc_free() in the callback */
	int			 streamed;
	size_t			 streamed_len;
	void			*stream;	/* on_data's (struct stream) */
};

static void
got_reset(struct got *g)
{
	size_t i;

	for (i = 0; i < g->nh; i++) {
		free(g->hv[i].name);
		free(g->hv[i].value);
	}
	free(g->hv);
	free(g->body);
	free(g->error_text);
	g->hv = NULL;
	g->nh = 0;
	g->body = g->error_text = NULL;
}

static void
on_done(struct httpc_req *r, const struct httpc_response *resp, void *arg)
{
	struct got *g = arg;
	size_t i;

	got_reset(g);
	g->calls++;
	g->status = resp->status;
	g->error = resp->error;
	g->error_text = resp->error_text ? strdup(resp->error_text) : NULL;
	ck_assert_ptr_nonnull(resp->body);
	ck_assert_int_eq(resp->body[resp->body_len], '\0');
	g->body = malloc(resp->body_len + 1);
	memcpy(g->body, resp->body, resp->body_len + 1);
	g->body_len = resp->body_len;
	g->hv = calloc(resp->nheaders + 1, sizeof(*g->hv));
	for (i = 0; i < resp->nheaders; i++) {
		g->hv[i].name = strdup(resp->headers[i].name);
		g->hv[i].value = strdup(resp->headers[i].value);
	}
	g->nh = resp->nheaders;
	g->view.headers = g->hv;
	g->view.nheaders = g->nh;
	ck_assert(resp->total_s >= 0);
	if (g->to_cancel) {
		httpc_cancel(g->to_cancel);
		g->to_cancel = NULL;
	}
	if (g->next_got)
		ck_assert_ptr_nonnull(httpc_request(g->h, "GET", g->next_url,
		    NULL, NULL, 0, 0, on_done, g->next_got));
	if (g->chain_left > 0) {
		g->chain_left--;
		ck_assert_ptr_nonnull(httpc_request(g->h, "GET", g->next_url,
		    NULL, NULL, 0, 0, on_done, g));
	}
	if (g->free_h)
		httpc_free(g->h);
}

/* on_done, and what a streamed response adds. */
static void
on_stream_done(struct httpc_req *r, const struct httpc_response *resp,
    void *arg)
{
	struct got *g = arg;

	on_done(r, resp, arg);
	g->streamed = resp->streamed;
	g->streamed_len = resp->streamed_len;
}

static void
tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

/* Run the loop until pred(arg) or timeout_ms (scaled under valgrind). */
static int
run_until(struct ev_loop *loop, int (*pred)(void *), void *arg,
    int timeout_ms)
{
	double deadline = t_now_ms() + timeout_ms * t_slow();
	ev_timer tick;

	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	while (!pred(arg) && t_now_ms() < deadline)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return pred(arg);
}

static int
got_done(void *arg)
{
	return ((struct got *)arg)->calls > 0;
}

struct counter_wait {
	struct srv	*s;
	int		*counter;
	int		 want;
};

static int
counter_reached(void *arg)
{
	struct counter_wait *w = arg;

	return srv_get(w->s, w->counter) >= w->want;
}

static void
wait_counter(struct ev_loop *loop, struct srv *s, int *counter, int want)
{
	struct counter_wait w = { s, counter, want };

	ck_assert_msg(run_until(loop, counter_reached, &w, 5000),
	    "server counter stuck at %d, want %d", srv_get(s, counter), want);
}

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	*(int *)w->data = 1;
	ev_break(loop, EVBREAK_ALL);
}

/* After httpc_free the loop must hold no watchers of ours: ev_run returns
   at once instead of waiting for the (unreferenced) guard timer. */
static void
assert_loop_idle(struct ev_loop *loop)
{
	ev_timer guard;
	int fired = 0;

	ev_timer_init(&guard, guard_cb, 2.0, 0.);
	guard.data = &fired;
	ev_timer_start(loop, &guard);
	ev_unref(loop);
	ev_run(loop, 0);
	ev_ref(loop);
	ev_timer_stop(loop, &guard);
	ck_assert_msg(!fired, "httpc left watchers on the loop");
}

/* One request, run to completion. */
static void
fetch(struct ev_loop *loop, struct httpc *h, const char *method,
    const char *u, const char *const *hdrs, const void *body, size_t len,
    struct got *g)
{
	memset(g, 0, sizeof(*g));
	ck_assert_ptr_nonnull(httpc_request(h, method, u, hdrs, body, len, 0,
	    on_done, g));
	ck_assert_msg(run_until(loop, got_done, g, 5000), "no response");
	ck_assert_int_eq(g->calls, 1);
}

static int
starts(const struct got *g, const char *prefix)
{
	return strncmp(g->body, prefix, strlen(prefix)) == 0;
}

static int
has(const struct got *g, const char *needle)
{
	return memmem(g->body, g->body_len, needle, strlen(needle)) != NULL;
}

/* ---- tests ---- */

START_TEST(get_roundtrip)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	const char *hdrs[] = { "X-Test: hello world", "Accept: text/plain",
	    NULL };
	struct got g;

	ck_assert_ptr_nonnull(h);
	fetch(loop, h, "GET", url(s, "/echo/a%20b?q=1&r=2"), hdrs, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(g.error, 0);
	ck_assert_ptr_null(g.error_text);
	ck_assert_msg(starts(&g, "GET /echo/a%20b?q=1&r=2 HTTP/1.1\r\n"),
	    "request line: %s", g.body);
	ck_assert(has(&g, "\r\nX-Test: hello world\r\n"));
	ck_assert(has(&g, "\r\nAccept: text/plain\r\n"));
	ck_assert(has(&g, "\r\nUser-Agent: afu9/" AFU9_VERSION "\r\n"));
	ck_assert(has(&g, "\r\nHost: 127.0.0.1:"));
	ck_assert(has(&g, "\r\nAccept-Encoding: "));
	ck_assert(has(&g, "gzip"));
	ck_assert(!has(&g, "Content-Length"));
	ck_assert(!has(&g, "Expect"));
	ck_assert_str_eq(httpc_header(&g.view, "X-Method"), "GET");
	ck_assert_str_eq(httpc_header(&g.view, "x-method"), "GET");
	ck_assert_str_eq(httpc_header(&g.view, "X-BODY-LEN"), "0");
	ck_assert_ptr_null(httpc_header(&g.view, "X-Absent"));
	got_reset(&g);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

#define BIG_POST	((size_t)3 * 1024 * 1024 / 2)

START_TEST(post_put_delete_roundtrip)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc_opts o = { .user_agent = "tester/1" };
	struct httpc *h = httpc_new(loop, &o);
	const char *hdrs[] = { "Content-Type: application/json",
	    "X-Req-Id: 42", NULL };
	static const char body[] = "{\"a\":1}\0tail";
	struct got g;
	char *big;
	size_t i;

	fetch(loop, h, "POST", url(s, "/echo"), hdrs, body, sizeof(body) - 1,
	    &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert(starts(&g, "POST /echo HTTP/1.1\r\n"));
	ck_assert(has(&g, "\r\nContent-Type: application/json\r\n"));
	ck_assert(has(&g, "\r\nX-Req-Id: 42\r\n"));
	ck_assert(has(&g, "\r\nUser-Agent: tester/1\r\n"));
	ck_assert(has(&g, "\r\nContent-Length: 12\r\n"));
	/* the body arrives byte for byte, NUL included, after the head */
	ck_assert_uint_ge(g.body_len, 12);
	ck_assert(memcmp(g.body + g.body_len - 12, body, 12) == 0);
	ck_assert(memcmp(g.body + g.body_len - 16, "\r\n\r\n", 4) == 0);
	ck_assert_str_eq(httpc_header(&g.view, "X-Body-Len"), "12");
	got_reset(&g);

	/* PUT without a body still says Content-Length: 0; no form type */
	fetch(loop, h, "PUT", url(s, "/echo/put"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert(starts(&g, "PUT /echo/put HTTP/1.1\r\n"));
	ck_assert(has(&g, "\r\nContent-Length: 0\r\n"));
	ck_assert(!has(&g, "Content-Type"));
	got_reset(&g);

	fetch(loop, h, "DELETE", url(s, "/echo/x"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert(starts(&g, "DELETE /echo/x HTTP/1.1\r\n"));
	ck_assert(!has(&g, "Content-Length"));
	got_reset(&g);

	fetch(loop, h, "PATCH", url(s, "/echo"), NULL, "xyz", 3, &g);
	ck_assert(starts(&g, "PATCH /echo HTTP/1.1\r\n"));
	ck_assert(memcmp(g.body + g.body_len - 7, "\r\n\r\nxyz", 7) == 0);
	got_reset(&g);

	/* a large body goes out at once: no "Expect: 100-continue" stall */
	big = malloc(BIG_POST);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < BIG_POST; i++)
		big[i] = (char)('a' + i % 26);
	fetch(loop, h, "POST", url(s, "/echo/big"), hdrs, big, BIG_POST, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert(!has(&g, "Expect"));
	ck_assert_uint_gt(g.body_len, BIG_POST);
	ck_assert(memcmp(g.body + g.body_len - BIG_POST, big, BIG_POST) == 0);
	free(big);
	got_reset(&g);

	fetch(loop, h, "HEAD", url(s, "/echo"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(g.body_len, 0);
	ck_assert_str_eq(httpc_header(&g.view, "X-Method"), "HEAD");
	got_reset(&g);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(status_and_headers)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g;

	fetch(loop, h, "GET", url(s, "/status/404"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 404);
	ck_assert_int_eq(g.error, 0);
	ck_assert_str_eq(g.body, "status");
	/* the last of repeated headers wins, any case; values trimmed */
	ck_assert_str_eq(httpc_header(&g.view, "X-MULTI"), "second");
	ck_assert_str_eq(httpc_header(&g.view, "x-pad"), "padded value");
	ck_assert_str_eq(httpc_header(&g.view, "content-type"), "text/plain");
	ck_assert_str_eq(httpc_header(&g.view, "Content-Length"), "6");
	/* names as received */
	ck_assert_str_eq(g.hv[0].name, "Content-Length");
	ck_assert_ptr_null(httpc_header(&g.view, "X-Mult"));
	got_reset(&g);

	fetch(loop, h, "GET", url(s, "/status/503"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 503);
	got_reset(&g);

	/* interim 1xx headers are not mixed into the final response */
	fetch(loop, h, "GET", url(s, "/continue"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_str_eq(g.body, "done");
	ck_assert_str_eq(httpc_header(&g.view, "X-Final"), "yes");
	ck_assert_ptr_null(httpc_header(&g.view, "X-Interim"));
	got_reset(&g);

	/* redirects are the caller's decision */
	fetch(loop, h, "GET", url(s, "/redirect"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 302);
	ck_assert_str_eq(g.body, "moved");
	ck_assert_str_eq(httpc_header(&g.view, "location"), "/echo");
	got_reset(&g);
	ck_assert_int_eq(srv_get(s, &s->requests), 4);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(chunked_and_gzip_bodies)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g;

	fetch(loop, h, "GET", url(s, "/chunked"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(g.body_len, 20);
	ck_assert_str_eq(g.body, "hello, chunked world");
	ck_assert_str_eq(httpc_header(&g.view, "X-Kind"), "chunked");
	ck_assert_str_eq(httpc_header(&g.view, "X-Trailer"), "t");
	got_reset(&g);

	fetch(loop, h, "GET", url(s, "/gzip"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_str_eq(g.body, "hello, gzip world\n");
	got_reset(&g);
	ck_assert_int_eq(srv_get(s, &s->accepted), 1);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

static int
chain_done(void *arg)
{
	return ((struct got *)arg)->chain_left == 0 &&
	    ((struct got *)arg)->calls == 20;
}

START_TEST(sequential_requests_reuse_one_connection)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g;

	/* each callback starts the next request: 20 in a row */
	memset(&g, 0, sizeof(g));
	g.h = h;
	g.chain_left = 19;
	g.next_url = url(s, "/echo/seq");
	ck_assert_ptr_nonnull(httpc_request(h, "GET", g.next_url, NULL, NULL,
	    0, 0, on_done, &g));
	ck_assert(run_until(loop, chain_done, &g, 5000));
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(srv_get(s, &s->requests), 20);
	ck_assert_int_eq(srv_get(s, &s->accepted), 1);
	ck_assert_int_eq(httpc_connections_opened(h), 1);
	ck_assert_uint_eq(httpc_active(h), 0);
	got_reset(&g);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

static int
all_ten_done(void *arg)
{
	struct got *g = arg;
	int i;

	for (i = 0; i < 10; i++)
		if (g[i].calls == 0)
			return 0;
	return 1;
}

START_TEST(concurrent_requests)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g[10];
	int i;

	/*
	 * /gate/8 answers only once 8 requests wait at the server at the
	 * same time: all 10 complete only if 8 run in parallel, and the
	 * default per-host limit of 8 keeps it to 8 connections.
	 */
	memset(g, 0, sizeof(g));
	for (i = 0; i < 10; i++)
		ck_assert_ptr_nonnull(httpc_request(h, "GET", url(s, "/gate/8"),
		    NULL, NULL, 0, 0, on_done, &g[i]));
	ck_assert_uint_eq(httpc_active(h), 10);
	ck_assert(run_until(loop, all_ten_done, g, 8000));
	for (i = 0; i < 10; i++) {
		ck_assert_int_eq(g[i].calls, 1);
		ck_assert_int_eq(g[i].status, 200);
		ck_assert_str_eq(g[i].body, "through");
		got_reset(&g[i]);
	}
	ck_assert_uint_eq(httpc_active(h), 0);
	ck_assert_int_eq(srv_get(s, &s->accepted), 8);
	ck_assert_int_eq(httpc_connections_opened(h), 8);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(connect_refused_names_origin_only)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct httpc *h = httpc_new(loop, NULL);
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	char u[256], origin[64];
	struct got g;
	int fd, port;

	/* a port that was free a moment ago: nothing listens there */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	port = ntohs(sin.sin_port);
	close(fd);

	snprintf(u, sizeof(u),
	    "http://alice:s3cret@127.0.0.1:%d/private/path?token=abc#frag",
	    port);
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", port);
	fetch(loop, h, "GET", u, NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_COULDNT_CONNECT);
	ck_assert_ptr_nonnull(g.error_text);
	ck_assert_msg(strstr(g.error_text, origin) != NULL, "%s", g.error_text);
	ck_assert(strstr(g.error_text, "private") == NULL);
	ck_assert(strstr(g.error_text, "token") == NULL);
	ck_assert(strstr(g.error_text, "abc") == NULL);
	ck_assert(strstr(g.error_text, "alice") == NULL);
	ck_assert(strstr(g.error_text, "s3cret") == NULL);
	ck_assert_uint_eq(g.body_len, 0);
	ck_assert_uint_eq(g.nh, 0);
	got_reset(&g);
	httpc_free(h);
	assert_loop_idle(loop);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(total_timeout_fires)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g;
	double t0;
	char origin[64];

	memset(&g, 0, sizeof(g));
	t0 = t_now_ms();
	ck_assert_ptr_nonnull(httpc_request(h, "GET", url(s, "/delay/20000"),
	    NULL, NULL, 0, 300, on_done, &g));
	ck_assert(run_until(loop, got_done, &g, 5000));
	ck_assert_double_lt(t_now_ms() - t0, 5000.0 * t_slow());
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_OPERATION_TIMEDOUT);
	snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", s->port);
	ck_assert_msg(strstr(g.error_text, origin) && !strstr(g.error_text,
	    "delay"), "%s", g.error_text);
	got_reset(&g);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(drop_mid_body_is_an_error)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g;

	fetch(loop, h, "GET", url(s, "/drop"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_PARTIAL_FILE);
	ck_assert_uint_eq(g.body_len, 0);	/* no truncated body */
	ck_assert_ptr_nonnull(strstr(g.error_text, "http://127.0.0.1:"));
	got_reset(&g);

	/* the client recovers: a new connection for the next request */
	fetch(loop, h, "GET", url(s, "/echo"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(srv_get(s, &s->accepted), 2);
	got_reset(&g);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(body_bound)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc_opts o = { .max_response = 1000 };
	struct httpc *h = httpc_new(loop, &o);
	char want[128];
	struct got g;

	snprintf(want, sizeof(want),
	    "response from http://127.0.0.1:%d exceeds 1000 bytes", s->port);
	/* exactly at the bound: fine */
	fetch(loop, h, "GET", url(s, "/big/1000"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(g.error, 0);
	ck_assert_uint_eq(g.body_len, 1000);
	got_reset(&g);

	/* one byte over, no Content-Length: cut off while reading */
	fetch(loop, h, "GET", url(s, "/big/1001"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_FILESIZE_EXCEEDED);
	ck_assert_str_eq(g.error_text, want);
	ck_assert_uint_eq(g.body_len, 0);
	got_reset(&g);

	/* a huge body */
	fetch(loop, h, "GET", url(s, "/big/5000000"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.error, CURLE_FILESIZE_EXCEEDED);
	ck_assert_str_eq(g.error_text, want);
	got_reset(&g);

	/* Content-Length over the bound: refused before any body */
	fetch(loop, h, "GET", url(s, "/bigcl/40000000000"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_FILESIZE_EXCEEDED);
	ck_assert_str_eq(g.error_text, want);
	got_reset(&g);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(header_bound)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g;

	fetch(loop, h, "GET", url(s, "/manyheaders"), NULL, NULL, 0, &g);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_ne(g.error, 0);
	ck_assert_msg(strncmp(g.error_text, "response headers from "
	    "http://127.0.0.1:", 39) == 0, "%s", g.error_text);
	got_reset(&g);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(cancel_in_flight)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct httpc_req *held, *early;
	struct got gh, gb, ge;

	memset(&gh, 0, sizeof(gh));
	memset(&gb, 0, sizeof(gb));
	memset(&ge, 0, sizeof(ge));
	held = httpc_request(h, "GET", url(s, "/hold"), NULL, NULL, 0, 0,
	    on_done, &gh);
	ck_assert_ptr_nonnull(held);
	/* cancelled before the loop ever ran it */
	early = httpc_request(h, "GET", url(s, "/echo/early"), NULL, NULL, 0,
	    0, on_done, &ge);
	ck_assert_ptr_nonnull(early);
	httpc_cancel(early);
	ck_assert_uint_eq(httpc_active(h), 1);
	wait_counter(loop, s, &s->held, 1);

	ck_assert_ptr_nonnull(httpc_request(h, "POST", url(s, "/delay/50"),
	    NULL, "b", 1, 0, on_done, &gb));
	ck_assert_uint_eq(httpc_active(h), 2);
	httpc_cancel(held);
	ck_assert_uint_eq(httpc_active(h), 1);
	/* the server sees its connection closed */
	wait_counter(loop, s, &s->held_gone, 1);
	ck_assert(run_until(loop, got_done, &gb, 5000));
	ck_assert_int_eq(gb.status, 200);
	ck_assert_str_eq(gb.body, "late");
	ck_assert_int_eq(gh.calls, 0);
	ck_assert_int_eq(ge.calls, 0);
	ck_assert_int_eq(srv_get(s, &s->requests), 2);
	got_reset(&gb);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

/* ---- streamed bodies, idle timeouts ---- */

struct stream {
	struct buf	 got;		/* the bytes on_data saw */
	int		 calls;
	int		 stop_after;	/* > 0: stop on that call */
};

static int
on_data(struct httpc_req *r, const char *data, size_t len, void *arg)
{
	struct got *g = arg;
	struct stream *st = g->stream;

	ck_assert_uint_gt(len, 0);
	st->calls++;
	ck_assert_int_eq(buf_append(&st->got, data, len), 0);
	return st->stop_after > 0 && st->calls >= st->stop_after;
}

/* One streamed request, run to completion; on_data fills st. */
static void
stream_fetch(struct ev_loop *loop, struct httpc *h, const char *u,
    long idle_ms, struct got *g, struct stream *st)
{
	struct httpc_reqopts o = { .idle_timeout_ms = idle_ms,
	    .on_data = on_data };

	memset(g, 0, sizeof(*g));
	g->stream = st;
	ck_assert_ptr_nonnull(httpc_request_opts(h, "GET", u, NULL, NULL, 0,
	    &o, on_stream_done, g));
	ck_assert_msg(run_until(loop, got_done, g, 10000), "no response");
	ck_assert_int_eq(g->calls, 1);
}

START_TEST(stream_body_to_callback)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct stream st;
	struct got g;

	memset(&st, 0, sizeof(st));
	buf_init(&st.got, 1 << 20);
	stream_fetch(loop, h, url(s, "/drip/5/1"), 0, &g, &st);
	ck_assert_int_eq(g.status, 200);
	ck_assert_int_eq(g.error, 0);
	ck_assert(g.streamed);
	ck_assert_uint_eq(g.streamed_len, 15);
	ck_assert_uint_eq(g.body_len, 0);	/* nothing collected */
	ck_assert_uint_eq(buf_used(&st.got), 15);
	ck_assert(memcmp(buf_data(&st.got), "d0\nd1\nd2\nd3\nd4\n", 15) == 0);
	ck_assert_str_eq(httpc_header(&g.view, "Content-Type"),
	    "text/event-stream");
	got_reset(&g);

	/* an error status is collected whole, on_data never called */
	buf_reset(&st.got);
	st.calls = 0;
	stream_fetch(loop, h, url(s, "/status/503"), 0, &g, &st);
	ck_assert_int_eq(g.status, 503);
	ck_assert(!g.streamed);
	ck_assert_str_eq(g.body, "status");
	ck_assert_int_eq(st.calls, 0);
	got_reset(&g);
	buf_free(&st.got);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(stream_reader_stops)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct stream st;
	struct got g;

	memset(&st, 0, sizeof(st));
	buf_init(&st.got, 1 << 20);
	st.stop_after = 1;
	stream_fetch(loop, h, url(s, "/drip/50/20"), 0, &g, &st);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_WRITE_ERROR);
	ck_assert_msg(strstr(g.error_text, "stopped by its reader") != NULL,
	    "%s", g.error_text);
	ck_assert_int_eq(st.calls, 1);
	ck_assert_uint_eq(g.streamed_len, 3);
	got_reset(&g);
	buf_free(&st.got);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(stream_bound)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc_opts ho = { .max_response = 1000 };
	struct httpc *h = httpc_new(loop, &ho);
	struct stream st;
	struct got g;

	memset(&st, 0, sizeof(st));
	buf_init(&st.got, 1 << 20);
	stream_fetch(loop, h, url(s, "/big/1001"), 0, &g, &st);
	ck_assert_int_eq(g.error, CURLE_FILESIZE_EXCEEDED);
	ck_assert_uint_le(buf_used(&st.got), 1000);
	got_reset(&g);
	buf_free(&st.got);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(idle_timeout_stalled_stream)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct stream st;
	struct got g;
	char want[128];

	memset(&st, 0, sizeof(st));
	buf_init(&st.got, 1 << 20);
	/* the head and a chunk came, then nothing: fails, connection closed */
	stream_fetch(loop, h, url(s, "/stall"), 200, &g, &st);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.error, CURLE_OPERATION_TIMEDOUT);
	snprintf(want, sizeof(want), "request to http://127.0.0.1:%d failed: "
	    "no data for 200 ms (idle timeout)", s->port);
	ck_assert_str_eq(g.error_text, want);
	ck_assert_uint_eq(g.streamed_len, 3);
	wait_counter(loop, s, &s->held_gone, 1);
	got_reset(&g);

	/* no answer at all */
	stream_fetch(loop, h, url(s, "/hold"), 200, &g, &st);
	ck_assert_int_eq(g.error, CURLE_OPERATION_TIMEDOUT);
	ck_assert_uint_eq(g.streamed_len, 0);
	wait_counter(loop, s, &s->held_gone, 2);
	got_reset(&g);
	ck_assert_uint_eq(httpc_active(h), 0);
	buf_free(&st.got);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

/* A stream slower in total than its idle timeout, but never idle that
   long, is not cut: the timeout is per gap, not per request. */
START_TEST(idle_timeout_spans_gaps_only)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct stream st;
	struct got g;
	long idle = 300 * t_slow();
	char path[64];
	double t0;

	/* 10 chunks 50 ms apart (scaled): 450 in all, gaps a sixth of idle */
	snprintf(path, sizeof(path), "/drip/10/%d", 50 * t_slow());
	memset(&st, 0, sizeof(st));
	buf_init(&st.got, 1 << 20);
	t0 = t_now_ms();
	stream_fetch(loop, h, url(s, path), idle, &g, &st);
	ck_assert_msg(g.error == 0, "%s", g.error_text);
	ck_assert_int_eq(g.status, 200);
	ck_assert_uint_eq(buf_used(&st.got), 10 * 3);
	ck_assert_double_gt(t_now_ms() - t0, (double)idle);
	got_reset(&g);
	buf_free(&st.got);
	httpc_free(h);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(callback_starts_and_cancels)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct httpc_req *held;
	struct got gh, ga, gc;

	memset(&gh, 0, sizeof(gh));
	memset(&ga, 0, sizeof(ga));
	memset(&gc, 0, sizeof(gc));
	held = httpc_request(h, "GET", url(s, "/hold"), NULL, NULL, 0, 0,
	    on_done, &gh);
	ck_assert_ptr_nonnull(held);
	wait_counter(loop, s, &s->held, 1);
	/* A's callback cancels the held request and starts C */
	ga.h = h;
	ga.to_cancel = held;
	ga.next_got = &gc;
	ga.next_url = url(s, "/echo/c");
	ck_assert_ptr_nonnull(httpc_request(h, "GET", url(s, "/echo/a"), NULL,
	    NULL, 0, 0, on_done, &ga));
	ck_assert(run_until(loop, got_done, &gc, 5000));
	ck_assert_int_eq(ga.calls, 1);
	ck_assert_int_eq(ga.status, 200);
	ck_assert_int_eq(gc.calls, 1);
	ck_assert_int_eq(gc.status, 200);
	ck_assert(starts(&gc, "GET /echo/c HTTP/1.1\r\n"));
	wait_counter(loop, s, &s->held_gone, 1);
	ck_assert_int_eq(gh.calls, 0);
	ck_assert_uint_eq(httpc_active(h), 0);
	got_reset(&ga);
	got_reset(&gc);
	httpc_free(h);
	assert_loop_idle(loop);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(free_with_pending_transfers)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got g[3];
	int i;

	memset(g, 0, sizeof(g));
	for (i = 0; i < 3; i++)
		ck_assert_ptr_nonnull(httpc_request(h, "GET", url(s, "/hold"),
		    NULL, NULL, 0, 0, on_done, &g[i]));
	wait_counter(loop, s, &s->held, 3);
	httpc_free(h);
	assert_loop_idle(loop);
	wait_counter(loop, s, &s->held_gone, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(g[i].calls, 0);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(free_from_callback)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct srv *s = srv_start();
	struct httpc *h = httpc_new(loop, NULL);
	struct got gh, ga;

	memset(&gh, 0, sizeof(gh));
	memset(&ga, 0, sizeof(ga));
	ck_assert_ptr_nonnull(httpc_request(h, "GET", url(s, "/hold"), NULL,
	    NULL, 0, 0, on_done, &gh));
	wait_counter(loop, s, &s->held, 1);
	ga.h = h;
	ga.free_h = 1;
	ck_assert_ptr_nonnull(httpc_request(h, "GET", url(s, "/echo"), NULL,
	    NULL, 0, 0, on_done, &ga));
	ck_assert(run_until(loop, got_done, &ga, 5000));
	ck_assert_int_eq(ga.status, 200);
	assert_loop_idle(loop);
	wait_counter(loop, s, &s->held_gone, 1);
	ck_assert_int_eq(gh.calls, 0);
	got_reset(&ga);
	srv_stop(s);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(bad_requests_refused)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct httpc *h = httpc_new(loop, NULL);
	const char *crlf[] = { "X-A: b\r\nX-Injected: 1", NULL };
	const char *nocolon[] = { "NoColon", NULL };
	struct got g;

	memset(&g, 0, sizeof(g));
	ck_assert_ptr_null(httpc_request(h, "GET", "ftp://127.0.0.1/x", NULL,
	    NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "file:///etc/passwd", NULL,
	    NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "127.0.0.1/no-scheme",
	    NULL, NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "http://", NULL, NULL, 0, 0,
	    on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GE T", "http://127.0.0.1/", NULL,
	    NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "", "http://127.0.0.1/", NULL,
	    NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "http://127.0.0.1/", crlf,
	    NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "http://127.0.0.1/",
	    nocolon, NULL, 0, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "POST", "http://127.0.0.1/", NULL,
	    NULL, 5, 0, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "http://127.0.0.1/", NULL,
	    NULL, 0, -1, on_done, &g));
	ck_assert_ptr_null(httpc_request(h, "GET", "http://127.0.0.1/", NULL,
	    NULL, 0, 0, NULL, &g));
	ck_assert_uint_eq(httpc_active(h), 0);
	httpc_free(h);
	assert_loop_idle(loop);
	ck_assert_int_eq(g.calls, 0);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(backoff_bounds)
{
	double v;
	unsigned a;

	ck_assert_double_eq(httpc_backoff(0, 1.0, 30.0, 0.5), 0.5);
	ck_assert_double_eq(httpc_backoff(1, 1.0, 30.0, 0.5), 1.0);
	ck_assert_double_eq(httpc_backoff(3, 1.0, 30.0, 0.5), 4.0);
	ck_assert_double_eq(httpc_backoff(4, 0.25, 30.0, 1.0 / 4), 1.0);
	/* capped */
	ck_assert_double_eq(httpc_backoff(5, 1.0, 30.0, 0.5), 15.0);
	ck_assert_double_eq(httpc_backoff(64, 1.0, 30.0, 0.5), 15.0);
	ck_assert_double_eq(httpc_backoff(2000, 1e-3, 10.0, 0.5), 5.0);
	ck_assert_double_eq(httpc_backoff(UINT_MAX, 1.0, 30.0, 0.5), 15.0);
	ck_assert_double_eq(httpc_backoff(UINT_MAX, 1.0, 30.0, 0.0), 0.0);
	/* never reaches the cap, whatever the attempt */
	for (a = 0; a < 70; a++) {
		v = httpc_backoff(a, 0.1, 20.0, 0.999999);
		ck_assert(v >= 0 && v < 20.0);
		ck_assert(httpc_backoff(a, 0.1, 20.0, 0.0) == 0.0);
	}
	ck_assert(httpc_backoff(UINT_MAX, 0.1, 20.0, 1.0) < 20.0);
	/* nonsense in, zero or in-range out */
	ck_assert_double_eq(httpc_backoff(3, -1.0, 30.0, 0.5), 0.0);
	ck_assert_double_eq(httpc_backoff(3, 1.0, -30.0, 0.5), 0.0);
	ck_assert_double_eq(httpc_backoff(3, 1.0, 30.0, -0.5), 0.0);
}
END_TEST

START_TEST(random_in_unit_interval)
{
	double v, lo = 1, hi = 0;
	int i;

	for (i = 0; i < 2000; i++) {
		v = httpc_random();
		ck_assert(v >= 0.0 && v < 1.0);
		if (v < lo)
			lo = v;
		if (v > hi)
			hi = v;
	}
	/* 2000 uniform draws: all but certain to spread this far */
	ck_assert(lo < 0.05 && hi > 0.95);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("httpc");
	TCase *tc = tcase_create("httpc");

	/* loopback must not be sent through a proxy from the environment */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, get_roundtrip);
	tcase_add_test(tc, post_put_delete_roundtrip);
	tcase_add_test(tc, status_and_headers);
	tcase_add_test(tc, chunked_and_gzip_bodies);
	tcase_add_test(tc, sequential_requests_reuse_one_connection);
	tcase_add_test(tc, concurrent_requests);
	tcase_add_test(tc, connect_refused_names_origin_only);
	tcase_add_test(tc, total_timeout_fires);
	tcase_add_test(tc, drop_mid_body_is_an_error);
	tcase_add_test(tc, body_bound);
	tcase_add_test(tc, header_bound);
	tcase_add_test(tc, cancel_in_flight);
	tcase_add_test(tc, stream_body_to_callback);
	tcase_add_test(tc, stream_reader_stops);
	tcase_add_test(tc, stream_bound);
	tcase_add_test(tc, idle_timeout_stalled_stream);
	tcase_add_test(tc, idle_timeout_spans_gaps_only);
	tcase_add_test(tc, callback_starts_and_cancels);
	tcase_add_test(tc, free_with_pending_transfers);
	tcase_add_test(tc, free_from_callback);
	tcase_add_test(tc, bad_requests_refused);
	tcase_add_test(tc, backoff_bounds);
	tcase_add_test(tc, random_in_unit_interval);
	suite_add_tcase(s, tc);
	return t_run(s);
}
