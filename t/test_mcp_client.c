/*
 * mcp_client against (a) a peer scripted by the test, which reads the
 * client's exact bytes and writes exact replies, and (b) the real
 * t/conformance-server process.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "log.h"
#include "mcp_client.h"
#include "rpc.h"
#include "testutil.h"

/* --- recording callbacks ------------------------------------------------ */

enum action {
	ACT_NONE,
	ACT_CLOSE,		/* first reply closes the session */
	ACT_FREE,		/* first reply frees the session */
	ACT_FREE_ON_CLOSED,	/* the closed callback frees the session */
	ACT_REQUEST,		/* each reply issues a new request (refused
				   once closed) */
};

struct reply {
	int64_t		 id;
	void		*arg;
	int		 code;		/* 0: success */
	char		*message;
	char		*data;		/* error data, compact JSON */
	char		*result;	/* compact JSON */
	unsigned	 iter;		/* loop iteration it ran in */
	int		 seq;
};

struct progress {
	int64_t		 id;
	char		*params;
};

static struct {
	struct ev_loop		*loop;
	struct mcp_client	*c;
	enum frame_mode		 mode;
	size_t			 max_msg;	/* 0: the default */
	int			 prd;	/* peer reads what the client writes */
	int			 pwr;	/* peer writes what the client reads */
	char			*in;	/* peer read-ahead */
	size_t			 inlen;
	int			 eof;
	struct reply		*replies;
	int			 nreplies;
	struct progress		 progress[8];
	int			 nprogress;
	char			*notify_method[8];
	char			*notify_params[8];
	int			 nnotify;
	int			 nclosed;
	char			 closed_reason[300];
	int			 closed_seq;
	int			 seq;
	enum action		 action;
	int			 in_api;	/* inside a client call that
						   must not run callbacks */
	int64_t			 later_id;	/* ACT_REQUEST results */
	ev_timer		 guard;
	int			 guard_fired;
	struct tproc		 proc;
} T;

static char *
dump(const json_t *j)
{
	return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void
on_reply(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	struct reply *r = &T.replies[T.nreplies++];

	ck_assert_msg(!T.in_api, "reply callback ran inside a client call");
	memset(r, 0, sizeof(*r));
	r->id = id;
	r->arg = arg;
	r->iter = ev_iteration(T.loop);
	r->seq = ++T.seq;
	if (err != NULL) {
		r->code = err->code;
		r->message = strdup(err->message);
		r->data = dump(err->data);
	} else
		r->result = dump(result);
	switch (T.action) {
	case ACT_CLOSE:
		T.action = ACT_NONE;
		mcp_client_close(c, "closed from a callback");
		break;
	case ACT_FREE:
		T.action = ACT_NONE;
		mcp_client_free(c);
		T.c = NULL;
		break;
	case ACT_REQUEST:
		T.later_id = mcp_client_request(c, "later", NULL, 0, on_reply,
		    NULL, NULL);
		break;
	default:
		break;
	}
}

static void
on_progress(struct mcp_client *c, int64_t id, const json_t *params, void *arg)
{
	ck_assert_msg(!T.in_api, "progress callback ran inside a client call");
	if (T.nprogress < 8) {
		T.progress[T.nprogress].id = id;
		T.progress[T.nprogress].params = dump(params);
		T.nprogress++;
	}
}

static void
on_notify(struct mcp_client *c, const char *method, const json_t *params,
    void *arg)
{
	ck_assert_msg(!T.in_api, "notify callback ran inside a client call");
	if (T.nnotify < 8) {
		T.notify_method[T.nnotify] = strdup(method);
		T.notify_params[T.nnotify] = dump(params);
		T.nnotify++;
	}
}

static void
on_closed(struct mcp_client *c, const char *reason, void *arg)
{
	ck_assert_msg(!T.in_api, "closed callback ran inside a client call");
	T.nclosed++;
	T.closed_seq = ++T.seq;
	snprintf(T.closed_reason, sizeof(T.closed_reason), "%s", reason);
	if (T.action == ACT_FREE_ON_CLOSED) {
		T.action = ACT_NONE;
		mcp_client_free(c);
		T.c = NULL;
	}
}

static const struct mcp_client_cb test_cb = {
	.notify = on_notify,
	.closed = on_closed,
};

/* --- loop driving ------------------------------------------------------- */

static void
guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	T.guard_fired = 1;
}

static void
guard_start(int ms)
{
	T.guard_fired = 0;
	ev_now_update(T.loop);
	ev_timer_set(&T.guard, ms * t_slow() / 1000.0, 0.);
	ev_timer_start(T.loop, &T.guard);
}

static void
guard_stop(void)
{
	ev_timer_stop(T.loop, &T.guard);
}

/* Run the loop until cond holds or ms pass (a liveness bound only). */
#define RUN_UNTIL(cond, ms) do {					\
	guard_start(ms);						\
	while (!(cond) && !T.guard_fired)				\
		ev_run(T.loop, EVRUN_ONCE);				\
	guard_stop();							\
} while (0)

/* Give the loop a few turns (for "nothing else happens" checks). */
static void
spin(void)
{
	int i;

	for (i = 0; i < 20; i++)
		ev_run(T.loop, EVRUN_NOWAIT);
}

/* --- scripted peer ------------------------------------------------------ */

static void
setup(void)
{
	memset(&T, 0, sizeof(T));
	T.loop = ev_loop_new(EVFLAG_AUTO);
	ev_timer_init(&T.guard, guard_cb, 1., 0.);
	T.replies = calloc(4096, sizeof(*T.replies));
	T.prd = T.pwr = -1;
	T.proc.pid = -1;
	T.proc.in = T.proc.out = T.proc.err = -1;
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	int i, st;

	mcp_client_free(T.c);
	for (i = 0; i < T.nreplies; i++) {
		free(T.replies[i].message);
		free(T.replies[i].data);
		free(T.replies[i].result);
	}
	free(T.replies);
	for (i = 0; i < T.nprogress; i++)
		free(T.progress[i].params);
	for (i = 0; i < T.nnotify; i++) {
		free(T.notify_method[i]);
		free(T.notify_params[i]);
	}
	free(T.in);
	if (T.prd >= 0)
		close(T.prd);
	if (T.pwr >= 0)
		close(T.pwr);
	if (T.proc.pid > 0) {
		kill(T.proc.pid, SIGKILL);
		waitpid(T.proc.pid, &st, 0);
	}
	if (T.proc.err >= 0)
		close(T.proc.err);
	ev_loop_destroy(T.loop);
}

/* Client on two pipes, peer on the other ends (both non-blocking). */
static void
start_opts(enum frame_mode mode, size_t max_out, int same_fd)
{
	struct mcp_client_opts o = {
		.mode = mode, .max_out = max_out, .max_msg = T.max_msg,
		.name = "t-client", .version = "9.9",
	};
	int a[2], b[2];

	T.mode = mode;
	if (same_fd) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
		    0, a), 0);
		T.c = mcp_client_new(T.loop, a[0], a[0], &o, &test_cb, NULL);
		T.prd = a[1];
		T.pwr = dup(a[1]);
	} else {
		ck_assert_int_eq(pipe2(a, O_CLOEXEC), 0);
		ck_assert_int_eq(pipe2(b, O_CLOEXEC), 0);
		T.c = mcp_client_new(T.loop, a[0], b[1], &o, &test_cb, NULL);
		T.pwr = a[1];
		T.prd = b[0];
	}
	ck_assert_ptr_nonnull(T.c);
	fcntl(T.prd, F_SETFL, O_NONBLOCK);
	fcntl(T.pwr, F_SETFL, O_NONBLOCK);
}

static void
start(enum frame_mode mode)
{
	start_opts(mode, 0, 0);
}

/* Length of the first complete frame in the read-ahead, body offset/len. */
static long
frame_at(size_t *boff, size_t *blen)
{
	const char *nl, *end;

	if (T.mode == FRAME_NDJSON) {
		if ((nl = memchr(T.in, '\n', T.inlen)) == NULL)
			return -1;
		*boff = 0;
		*blen = (size_t)(nl - T.in);
		return nl - T.in + 1;
	}
	if ((end = memmem(T.in, T.inlen, "\r\n\r\n", 4)) == NULL)
		return -1;
	ck_assert(strncmp(T.in, "Content-Length: ", 16) == 0);
	*boff = (size_t)(end + 4 - T.in);
	*blen = strtoul(T.in + 16, NULL, 10);
	if (*boff + *blen > T.inlen)
		return -1;
	return (long)(*boff + *blen);
}

/*
 * Next whole frame the client wrote, raw bytes (header or newline
 * included), NUL-terminated and malloc'd; with body non-NULL the body
 * alone instead.  Runs the loop meanwhile.  NULL on EOF (T.eof) or after
 * ms.
 */
static char *
peer_frame_ex(int ms, int body)
{
	double deadline = t_now_ms() + ms * t_slow();
	struct pollfd pfd = { .fd = T.prd, .events = POLLIN };
	char tmp[65536], *out;
	size_t boff = 0, blen = 0;
	long n;

	for (;;) {
		if (T.in != NULL && (n = frame_at(&boff, &blen)) >= 0) {
			if (!body) {
				boff = 0;
				blen = (size_t)n;
			}
			out = strndup(T.in + boff, blen);
			memmove(T.in, T.in + n, T.inlen - (size_t)n);
			T.inlen -= (size_t)n;
			return out;
		}
		if (T.eof || t_now_ms() > deadline)
			return NULL;
		ev_run(T.loop, EVRUN_NOWAIT);
		if (poll(&pfd, 1, 2) <= 0)
			continue;
		n = read(T.prd, tmp, sizeof(tmp));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			T.eof = 1;
			continue;
		}
		if (n < 0)
			continue;
		T.in = realloc(T.in, T.inlen + (size_t)n + 1);
		memcpy(T.in + T.inlen, tmp, (size_t)n);
		T.inlen += (size_t)n;
		T.in[T.inlen] = '\0';
	}
}

static char *
peer_frame(void)
{
	return peer_frame_ex(2000, 0);
}

static char *
peer_msg(void)
{
	return peer_frame_ex(2000, 1);
}

/* Write raw bytes to the client, running the loop while the pipe is full. */
static void
peer_raw(const char *data, size_t len)
{
	struct pollfd pfd = { .fd = T.pwr, .events = POLLOUT };
	ssize_t n;

	while (len > 0) {
		n = write(T.pwr, data, len);
		if (n < 0 && errno == EPIPE)
			return;		/* the client closed; tests check that */
		if (n < 0) {
			ck_assert(errno == EAGAIN || errno == EINTR);
			ev_run(T.loop, EVRUN_NOWAIT);
			(void)poll(&pfd, 1, 2);
			continue;
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Frame one JSON text per the session's mode and send it. */
static void
peer_send(const char *json)
{
	char hdr[64];

	if (T.mode == FRAME_CL) {
		snprintf(hdr, sizeof(hdr), "Content-Length: %zu\r\n\r\n",
		    strlen(json));
		peer_raw(hdr, strlen(hdr));
		peer_raw(json, strlen(json));
	} else {
		peer_raw(json, strlen(json));
		peer_raw("\n", 1);
	}
}

/* Frame several JSON texts (NULL-terminated list) and send them in one
   write, so the client reads them in one go. */
static void
peer_send_batch(const char *json, ...)
{
	char all[4096];
	size_t n = 0;
	va_list ap;

	va_start(ap, json);
	for (; json != NULL && n < sizeof(all); json = va_arg(ap, const char *))
		if (T.mode == FRAME_CL)
			n += (size_t)snprintf(all + n, sizeof(all) - n,
			    "Content-Length: %zu\r\n\r\n%s", strlen(json), json);
		else
			n += (size_t)snprintf(all + n, sizeof(all) - n, "%s\n",
			    json);
	va_end(ap);
	ck_assert_uint_lt(n, sizeof(all));
	peer_raw(all, n);
}

static void
expect_msg(const char *want)
{
	char *got = peer_msg();

	ck_assert_msg(got != NULL, "expected %s, got nothing", want);
	ck_assert_str_eq(got, want);
	free(got);
}

static int64_t
req(const char *method, const char *params, double timeout_s, void *arg)
{
	json_t *p = NULL;
	int64_t id;

	if (params != NULL)
		ck_assert_ptr_nonnull(p = json_loads(params, 0, NULL));
	T.in_api = 1;
	id = mcp_client_request(T.c, method, p, timeout_s, on_reply, NULL, arg);
	T.in_api = 0;
	return id;
}

/* --- (a) scripted peer -------------------------------------------------- */

START_TEST(cl_framing_exact_bytes_and_ids)
{
	const char *b1 = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
	const char *b2 = "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"h\xc3\xa9\"}}}";
	char want[512], *got;

	start(FRAME_CL);
	ck_assert_int_eq(req("tools/list", NULL, 0, NULL), 1);
	ck_assert_int_eq(req("tools/call",
	    "{\"name\":\"echo\",\"arguments\":{\"text\":\"h\\u00e9\"}}", 0,
	    NULL), 2);
	ck_assert_uint_eq(mcp_client_pending(T.c), 2);
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n\r\n%s",
	    strlen(b1), b1);
	got = peer_frame();
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
	/* \u00e9 goes out as two raw UTF-8 bytes; the length counts bytes. */
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n\r\n%s",
	    strlen(b2), b2);
	got = peer_frame();
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 3);
	free(peer_frame());
}
END_TEST

START_TEST(ndjson_framing_exact_bytes)
{
	char *got;

	start(FRAME_NDJSON);
	ck_assert_int_eq(req("tools/call", "{\"name\":\"add\"}", 0, NULL), 1);
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 2);
	got = peer_frame();
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"add\"}}\n");
	free(got);
	got = peer_frame();
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"ping\"}\n");
	free(got);
	/* A reply with a CRLF line end and a blank line before it. */
	peer_raw("\n{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\r\n", 40);
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].id, 2);
	ck_assert_str_eq(T.replies[0].result, "{}");
}
END_TEST

START_TEST(responses_routed_out_of_order)
{
	int i;

	start(FRAME_CL);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(req("tools/call", NULL, 5, (void *)(intptr_t)
		    (100 + i)), i);
	for (i = 1; i <= 3; i++)
		free(peer_frame());
	/* Three responses in one write: one read, three dispatches. */
	peer_send_batch("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"n\":3}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"n\":1}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"n\":2}}", NULL);
	RUN_UNTIL(T.nreplies == 3, 2000);
	ck_assert_int_eq(T.nreplies, 3);
	ck_assert_int_eq(T.replies[0].id, 3);
	ck_assert_str_eq(T.replies[0].result, "{\"n\":3}");
	ck_assert_ptr_eq(T.replies[0].arg, (void *)103);
	ck_assert_int_eq(T.replies[1].id, 1);
	ck_assert_str_eq(T.replies[1].result, "{\"n\":1}");
	ck_assert_ptr_eq(T.replies[1].arg, (void *)101);
	ck_assert_int_eq(T.replies[2].id, 2);
	ck_assert_str_eq(T.replies[2].result, "{\"n\":2}");
	ck_assert_uint_eq(mcp_client_pending(T.c), 0);
	ck_assert_int_eq(T.nclosed, 0);
}
END_TEST

START_TEST(error_response_passed_through)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(req("tools/call", NULL, 0, NULL), 1);
	free(peer_frame());
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32602,"
	    "\"message\":\"Unknown tool: nope\",\"data\":{\"tool\":\"nope\","
	    "\"hint\":[1,2]}}}");
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].code, -32602);
	ck_assert_str_eq(T.replies[0].message, "Unknown tool: nope");
	ck_assert_str_eq(T.replies[0].data, "{\"tool\":\"nope\",\"hint\":[1,2]}");
	ck_assert_ptr_null(T.replies[0].result);
	ck_assert(mcp_client_is_open(T.c));
}
END_TEST

START_TEST(timeout_sends_cancelled_and_drops_late_response)
{
	char *got;

	start(FRAME_NDJSON);
	ck_assert_int_eq(req("tools/call", "{\"name\":\"sleep\"}", 0.2, NULL), 1);
	free(peer_frame());
	got = peer_frame_ex(3000, 0);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":1,"
	    "\"reason\":\"timeout after 0.2s\"}}\n");
	free(got);
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].code, RPC_REQUEST_TIMEOUT);
	ck_assert_str_eq(T.replies[0].message,
	    "tools/call timed out after 0.2s");
	ck_assert_uint_eq(mcp_client_pending(T.c), 0);

	/* The late answer is dropped; the session goes on. */
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"late\":true}}");
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 2);
	free(peer_frame());
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
	RUN_UNTIL(T.nreplies >= 2, 2000);
	spin();
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[1].id, 2);
	ck_assert_str_eq(T.replies[1].result, "{}");
	ck_assert(mcp_client_is_open(T.c));
	ck_assert_int_eq(T.nclosed, 0);
}
END_TEST

START_TEST(cancel_sends_cancelled_and_fails_from_loop)
{
	char *got;

	start(FRAME_NDJSON);
	ck_assert_int_eq(req("tools/call", NULL, 10, NULL), 1);
	ck_assert_int_eq(req("tools/call", NULL, 10, NULL), 2);
	T.in_api = 1;
	ck_assert_int_eq(mcp_client_cancel(T.c, 1, "user abort"), 0);
	ck_assert_int_eq(mcp_client_cancel(T.c, 1, "again"), -1);
	ck_assert_int_eq(mcp_client_cancel(T.c, 77, "never sent"), -1);
	T.in_api = 0;
	ck_assert_int_eq(T.nreplies, 0);	/* not from inside cancel */
	ck_assert_uint_eq(mcp_client_pending(T.c), 1);
	free(peer_frame());
	free(peer_frame());
	got = peer_frame();
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/cancelled\",\"params\":{\"requestId\":1,"
	    "\"reason\":\"user abort\"}}\n");
	free(got);
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.replies[0].id, 1);
	ck_assert_int_eq(T.replies[0].code, MCP_ERR_CANCELLED);
	ck_assert(strstr(T.replies[0].message, "user abort") != NULL);
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"two\":2}}");
	RUN_UNTIL(T.nreplies >= 2, 2000);
	spin();
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[1].id, 2);
	ck_assert_str_eq(T.replies[1].result, "{\"two\":2}");
}
END_TEST

START_TEST(server_ping_answered)
{
	start(FRAME_CL);
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":\"p-1\",\"method\":\"ping\"}");
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":\"p-1\",\"result\":{}}");
	/* Ids are echoed byte for byte, escapes included. */
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0041\",\"method\":\"ping\","
	    "\"params\":{}}");
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":\"a\\u0041\",\"result\":{}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}");
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}");
	ck_assert_int_eq(T.nnotify, 0);
	ck_assert_int_eq(T.nreplies, 0);
}
END_TEST

START_TEST(ping_on_one_socket)
{
	start_opts(FRAME_NDJSON, 0, 1);
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}");
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}");
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 1);
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.nreplies, 1);
}
END_TEST

START_TEST(unknown_server_request_method_not_found)
{
	json_t *j;
	char *got;

	start(FRAME_NDJSON);
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
	    "\"sampling/createMessage\",\"params\":{}}");
	got = peer_msg();
	ck_assert_ptr_nonnull(got);
	j = json_loads(got, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), 7);
	ck_assert_ptr_null(json_object_get(j, "result"));
	ck_assert_int_eq(json_integer_value(json_object_get(
	    json_object_get(j, "error"), "code")), RPC_METHOD_NOT_FOUND);
	ck_assert(strstr(json_string_value(json_object_get(json_object_get(j,
	    "error"), "message")), "sampling/createMessage") != NULL);
	json_decref(j);
	free(got);
	ck_assert_int_eq(T.nnotify, 0);
	ck_assert(mcp_client_is_open(T.c));
}
END_TEST

START_TEST(progress_routed_and_notifications_delivered)
{
	json_t *p;
	char *got;

	start(FRAME_NDJSON);
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 1);
	p = json_pack("{s:s}", "name", "sleep");
	T.in_api = 1;
	ck_assert_int_eq(mcp_client_request(T.c, "tools/call", p, 5, on_reply,
	    on_progress, NULL), 2);
	ck_assert_int_eq(mcp_client_request(T.c, "tools/call", NULL, 5,
	    on_reply, on_progress, NULL), 3);
	T.in_api = 0;
	free(peer_frame());
	got = peer_frame();
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"sleep\",\"_meta\":"
	    "{\"progressToken\":2}}}\n");
	free(got);
	got = peer_frame();
	ck_assert_str_eq(got, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":"
	    "\"tools/call\",\"params\":{\"_meta\":{\"progressToken\":3}}}\n");
	free(got);
	/* Token 1 names a request without a progress fn, 99 nothing. */
	peer_send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
	    "\"params\":{\"progressToken\":1,\"progress\":1}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
	    "\"params\":{\"progressToken\":99,\"progress\":1}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
	    "\"params\":{\"progressToken\":2,\"progress\":1,\"total\":3}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
	    "\"params\":{\"level\":\"info\",\"data\":\"hello\"}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"method\":"
	    "\"notifications/tools/list_changed\"}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"done\":1}}");
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.nprogress, 1);
	ck_assert_int_eq(T.progress[0].id, 2);
	ck_assert_str_eq(T.progress[0].params,
	    "{\"progressToken\":2,\"progress\":1,\"total\":3}");
	ck_assert_int_eq(T.nnotify, 2);
	ck_assert_str_eq(T.notify_method[0], "notifications/message");
	ck_assert_str_eq(T.notify_params[0],
	    "{\"level\":\"info\",\"data\":\"hello\"}");
	ck_assert_str_eq(T.notify_method[1], "notifications/tools/list_changed");
	ck_assert_ptr_null(T.notify_params[1]);
	ck_assert_int_eq(T.replies[0].id, 2);
	ck_assert_str_eq(T.replies[0].result, "{\"done\":1}");
	/* After completion the token is dead. */
	peer_send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
	    "\"params\":{\"progressToken\":2,\"progress\":2}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	RUN_UNTIL(T.nreplies == 2, 2000);
	ck_assert_int_eq(T.nprogress, 1);
}
END_TEST

START_TEST(peer_eof_fails_all_pending_at_once)
{
	int i;

	start(FRAME_CL);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(req("tools/call", NULL, 30, NULL), i);
	for (i = 1; i <= 3; i++)
		free(peer_frame());
	close(T.pwr);
	T.pwr = -1;
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_eq(T.nreplies, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(T.replies[i].id, i + 1);
		ck_assert_int_eq(T.replies[i].code, RPC_CONNECTION_CLOSED);
		ck_assert_str_eq(T.replies[i].message, "connection closed: "
		    "the server closed the connection (EOF)");
		ck_assert_uint_eq(T.replies[i].iter, T.replies[0].iter);
	}
	ck_assert_str_eq(T.closed_reason,
	    "the server closed the connection (EOF)");
	ck_assert_int_gt(T.closed_seq, T.replies[2].seq);
	ck_assert(!mcp_client_is_open(T.c));
	ck_assert_uint_eq(mcp_client_pending(T.c), 0);
	ck_assert_int_eq(req("ping", NULL, 0, NULL), -1);
	ck_assert_int_eq(mcp_client_notify(T.c, "notifications/x", NULL), -1);
	spin();
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_eq(T.nreplies, 3);
}
END_TEST

START_TEST(peer_eof_mid_message)
{
	start(FRAME_CL);
	ck_assert_int_eq(req("tools/call", NULL, 30, NULL), 1);
	peer_raw("Content-Length: 100\r\n\r\n{\"jsonrpc\"", 33);
	close(T.pwr);
	T.pwr = -1;
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].code, RPC_CONNECTION_CLOSED);
	ck_assert(strstr(T.closed_reason, "middle of a message") != NULL);
}
END_TEST

START_TEST(framing_fatal_closes_session)
{
	start(FRAME_CL);
	ck_assert_int_eq(req("tools/call", NULL, 30, NULL), 1);
	free(peer_frame());
	peer_raw("Content-Length: 12x\r\n\r\n", 23);
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].code, RPC_CONNECTION_CLOSED);
	ck_assert(strstr(T.closed_reason, "framing error") != NULL);
	ck_assert(strstr(T.replies[0].message, "framing error") != NULL);
	/* Our side of the pipe is closed. */
	ck_assert_ptr_null(peer_frame());
	ck_assert(T.eof);
}
END_TEST

START_TEST(write_epipe_closes_session)
{
	start(FRAME_NDJSON);
	close(T.prd);
	T.prd = -1;
	ck_assert_int_eq(req("tools/call", NULL, 30, NULL), 1);
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].code, RPC_CONNECTION_CLOSED);
	ck_assert_str_eq(T.closed_reason,
	    "write to the server failed: Broken pipe");
	ck_assert_str_eq(T.replies[0].message,
	    "connection closed: write to the server failed: Broken pipe");
}
END_TEST

START_TEST(close_from_reply_callback)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(req("a", NULL, 30, NULL), 1);
	ck_assert_int_eq(req("b", NULL, 30, NULL), 2);
	free(peer_frame());
	free(peer_frame());
	T.action = ACT_CLOSE;
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[0].id, 1);
	ck_assert_int_eq(T.replies[0].code, 0);
	ck_assert_int_eq(T.replies[1].id, 2);
	ck_assert_int_eq(T.replies[1].code, RPC_CONNECTION_CLOSED);
	ck_assert_str_eq(T.replies[1].message,
	    "connection closed: closed from a callback");
	ck_assert_str_eq(T.closed_reason, "closed from a callback");
	ck_assert_ptr_null(peer_frame());
	ck_assert(T.eof);		/* the client closed its fds */
	mcp_client_close(T.c, "again");	/* no-op */
	spin();
	ck_assert_int_eq(T.nclosed, 1);
}
END_TEST

START_TEST(free_from_reply_callback)
{
	start(FRAME_CL);
	ck_assert_int_eq(req("a", NULL, 30, NULL), 1);
	ck_assert_int_eq(req("b", NULL, 30, NULL), 2);
	ck_assert_int_eq(req("c", NULL, 0.3, NULL), 3);
	T.action = ACT_FREE;
	/* Both responses arrive in one read; after the free nothing more
	   may be dispatched from the freed session's buffer. */
	peer_send_batch("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}", NULL);
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_ptr_null(T.c);
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_eq(T.nreplies, 3);
	ck_assert_int_eq(T.replies[0].code, 0);
	ck_assert_int_eq(T.replies[1].id, 2);
	ck_assert_int_eq(T.replies[1].code, RPC_CONNECTION_CLOSED);
	ck_assert_int_eq(T.replies[2].id, 3);
	ck_assert_int_eq(T.replies[2].code, RPC_CONNECTION_CLOSED);
	/* Request 3's timer must be gone with the session (ASan / valgrind
	   see a use after free otherwise). */
	T.guard_fired = 0;
	ev_now_update(T.loop);
	ev_timer_set(&T.guard, 0.4, 0.);
	ev_timer_start(T.loop, &T.guard);
	while (!T.guard_fired)
		ev_run(T.loop, EVRUN_ONCE);
	ck_assert_int_eq(T.nreplies, 3);
}
END_TEST

START_TEST(free_from_reply_callback_during_close)
{
	int i;

	start(FRAME_NDJSON);
	for (i = 1; i <= 3; i++)
		ck_assert_int_eq(req("x", NULL, 30, NULL), i);
	T.action = ACT_FREE;
	close(T.pwr);
	T.pwr = -1;
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_ptr_null(T.c);
	ck_assert_int_eq(T.nreplies, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(T.replies[i].code, RPC_CONNECTION_CLOSED);
	spin();
	ck_assert_int_eq(T.nclosed, 1);
}
END_TEST

START_TEST(free_from_closed_callback)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(req("x", NULL, 30, NULL), 1);
	T.action = ACT_FREE_ON_CLOSED;
	close(T.pwr);
	T.pwr = -1;
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_ptr_null(T.c);
	ck_assert_int_eq(T.nreplies, 1);
	spin();
}
END_TEST

START_TEST(requests_from_callbacks_refused_once_closed)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(req("x", NULL, 30, NULL), 1);
	free(peer_frame());
	T.action = ACT_REQUEST;
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.later_id, 2);	/* open: accepted */
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"later\"}");
	mcp_client_close(T.c, "bye");
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[1].code, RPC_CONNECTION_CLOSED);
	ck_assert_int_eq(T.later_id, -1);	/* closed: refused */
	ck_assert_int_eq(T.nclosed, 1);
}
END_TEST

START_TEST(output_bound_refuses_request)
{
	char big[2048];

	start_opts(FRAME_NDJSON, 1024, 0);
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"s\":\"", 6);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	ck_assert_int_eq(req("tools/call", big, 5, NULL), -1);
	spin();
	ck_assert_int_eq(T.nreplies, 0);
	ck_assert_uint_eq(mcp_client_pending(T.c), 0);
	ck_assert(mcp_client_is_open(T.c));
	/* The id was not used up. */
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 1);
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
}
END_TEST

START_TEST(server_not_reading_hits_output_bound)
{
	char ping[64];
	int i;

	start_opts(FRAME_NDJSON, 1024, 0);
	ck_assert_int_eq(fcntl(T.prd, F_SETPIPE_SZ, 4096), 4096);
	ck_assert_int_eq(req("tools/call", NULL, 30, NULL), 1);
	/* Pings whose answers the peer never reads: 4 KiB of pipe plus
	   1 KiB of queue hold about 150 of them. */
	for (i = 1; i <= 2000 && T.nclosed == 0; i++) {
		snprintf(ping, sizeof(ping), "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		    "\"method\":\"ping\"}", i);
		peer_send(ping);
		ev_run(T.loop, EVRUN_NOWAIT);
	}
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_lt(i, 400);
	ck_assert_msg(strstr(T.closed_reason, "output bound exceeded: the "
	    "server is not reading (") == T.closed_reason, "%s",
	    T.closed_reason);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_int_eq(T.replies[0].code, RPC_CONNECTION_CLOSED);
}
END_TEST

START_TEST(thousands_pending_answered_in_reverse)
{
	enum { N = 3000 };
	char line[128], *acc;
	size_t alen = 0;
	int i, ok = 1;

	start(FRAME_NDJSON);
	for (i = 1; i <= N; i++)
		ck_assert_int_eq(req("tools/call", NULL, 60, NULL), i);
	ck_assert_uint_eq(mcp_client_pending(T.c), N);
	for (i = 1; i <= N; i++) {
		char *f = peer_frame();
		snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		    "\"method\":\"tools/call\"}\n", i);
		ck_assert_ptr_nonnull(f);
		ck_assert_str_eq(f, line);
		free(f);
	}
	acc = malloc((size_t)N * 64);
	for (i = N; i >= 1; i--)
		alen += (size_t)sprintf(acc + alen, "{\"jsonrpc\":\"2.0\","
		    "\"id\":%d,\"result\":{\"id\":%d}}\n", i, i);
	peer_raw(acc, alen);
	free(acc);
	RUN_UNTIL(T.nreplies == N, 5000);
	ck_assert_int_eq(T.nreplies, N);
	for (i = 0; i < N; i++) {
		snprintf(line, sizeof(line), "{\"id\":%d}", N - i);
		if (T.replies[i].id != N - i || T.replies[i].result == NULL ||
		    strcmp(T.replies[i].result, line) != 0)
			ok = 0;
	}
	ck_assert(ok);
	ck_assert_uint_eq(mcp_client_pending(T.c), 0);
}
END_TEST

START_TEST(invalid_response_fails_its_request)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(req("x", NULL, 30, NULL), 1);
	ck_assert_int_eq(req("y", NULL, 30, NULL), 2);
	/* Both result and error: not a valid response. */
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":"
	    "{\"code\":1,\"message\":\"m\"}}");
	/* A response to an id never issued is dropped. */
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":555,\"result\":{}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}");
	RUN_UNTIL(T.nreplies == 2, 2000);
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[0].id, 1);
	ck_assert_int_eq(T.replies[0].code, RPC_INVALID_REQUEST);
	ck_assert(strstr(T.replies[0].message, "invalid response from the "
	    "server: ") == T.replies[0].message);
	ck_assert_int_eq(T.replies[1].id, 2);
	ck_assert_int_eq(T.replies[1].code, 0);
	ck_assert(mcp_client_is_open(T.c));
}
END_TEST

/*
 * An answer over max_msg cannot be read, but its first bytes name the
 * request it answers: that request fails at once with the reason, the
 * others are untouched, the session goes on.  Oversize messages that are
 * no answer to a pending request are only dropped.
 */
static void
oversize_answer(enum frame_mode mode)
{
	char *big;
	size_t n = 4000;

	T.max_msg = 2048;
	start(mode);
	ck_assert_int_eq(req("x", NULL, 30, NULL), 1);
	ck_assert_int_eq(req("y", NULL, 30, NULL), 2);
	ck_assert_int_eq(req("z", NULL, 30, NULL), 3);
	big = malloc(n + 200);
	ck_assert_ptr_nonnull(big);
	/* a notification, an answer to an unknown id, then the answer to 2 */
	snprintf(big, n + 200, "{\"jsonrpc\":\"2.0\",\"method\":\"n\","
	    "\"params\":{\"id\":2,\"t\":\"%0*d\"}}", (int)n, 0);
	peer_send(big);
	snprintf(big, n + 200, "{\"jsonrpc\":\"2.0\",\"id\":77,\"result\":"
	    "{\"t\":\"%0*d\"}}", (int)n, 0);
	peer_send(big);
	snprintf(big, n + 200, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":"
	    "{\"content\":[{\"type\":\"text\",\"text\":\"%0*d\"}]}}",
	    (int)n, 0);
	peer_send(big);
	free(big);
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	RUN_UNTIL(T.nreplies == 2, 2000);
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[0].id, 2);
	ck_assert_int_eq(T.replies[0].code, RPC_INVALID_REQUEST);
	ck_assert_msg(strstr(T.replies[0].message, "the server's answer "
	    "cannot be read: ") == T.replies[0].message, "%s",
	    T.replies[0].message);
	ck_assert(strstr(T.replies[0].message, "exceeds the limit of 2048 "
	    "bytes") != NULL);
	ck_assert_int_eq(T.replies[1].id, 1);
	ck_assert_int_eq(T.replies[1].code, 0);
	ck_assert(mcp_client_is_open(T.c));
	/* 3 still waits for its answer */
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}");
	RUN_UNTIL(T.nreplies == 3, 2000);
	ck_assert_int_eq(T.replies[2].id, 3);
	ck_assert_int_eq(T.replies[2].code, 0);
}

START_TEST(oversize_answer_fails_its_request_cl)
{
	oversize_answer(FRAME_CL);
}
END_TEST

START_TEST(oversize_answer_fails_its_request_ndjson)
{
	oversize_answer(FRAME_NDJSON);
}
END_TEST

static void
on_init(struct mcp_client *c, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	on_reply(c, id, result, err, arg);
}

static const char init_req[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
    "\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
    "\"capabilities\":{},\"clientInfo\":{\"name\":\"t-client\","
    "\"version\":\"9.9\"}}}";

START_TEST(initialize_accepts_older_revision)
{
	const json_t *si;

	start(FRAME_CL);
	ck_assert_ptr_null(mcp_client_server_info(T.c));
	T.in_api = 1;
	ck_assert_int_eq(mcp_client_initialize(T.c, 5, on_init, (void *)7), 0);
	ck_assert_int_eq(mcp_client_initialize(T.c, 5, on_init, NULL), -1);
	T.in_api = 0;
	expect_msg(init_req);
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":"
	    "\"2025-03-26\",\"capabilities\":{\"tools\":{}},\"serverInfo\":"
	    "{\"name\":\"srv\",\"version\":\"1\"}}}");
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.replies[0].code, 0);
	ck_assert_ptr_eq(T.replies[0].arg, (void *)7);
	si = mcp_client_server_info(T.c);
	ck_assert_ptr_nonnull(si);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(si,
	    "serverInfo"), "name")), "srv");
	expect_msg("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ck_assert(mcp_client_is_open(T.c));
}
END_TEST

START_TEST(initialize_unknown_revision_fails_session)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(req("ping", NULL, 30, NULL), 1);
	ck_assert_int_eq(mcp_client_initialize(T.c, 5, on_init, NULL), 0);
	free(peer_frame());
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":"
	    "{},\"clientInfo\":{\"name\":\"t-client\",\"version\":\"9.9\"}}}");
	peer_send("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"protocolVersion\":"
	    "\"1999-01-01\",\"capabilities\":{},\"serverInfo\":{\"name\":\"s\","
	    "\"version\":\"1\"}}}");
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_int_eq(T.nclosed, 1);
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[0].id, 2);
	ck_assert_int_eq(T.replies[0].code, RPC_CONNECTION_CLOSED);
	ck_assert(strstr(T.replies[0].message, "\"1999-01-01\"") != NULL);
	ck_assert(strstr(T.replies[0].message, "2025-11-25") != NULL);
	ck_assert_int_eq(T.replies[1].id, 1);
	ck_assert_int_eq(T.replies[1].code, RPC_CONNECTION_CLOSED);
	ck_assert(strstr(T.closed_reason, "1999-01-01") != NULL);
	ck_assert_ptr_null(mcp_client_server_info(T.c));
	ck_assert(!mcp_client_is_open(T.c));
	/* No notifications/initialized: the next thing is EOF. */
	ck_assert_ptr_null(peer_frame());
	ck_assert(T.eof);
}
END_TEST

START_TEST(initialize_timeout_sends_no_cancel)
{
	start(FRAME_NDJSON);
	ck_assert_int_eq(mcp_client_initialize(T.c, 0.05, on_init, NULL), 0);
	free(peer_frame());
	RUN_UNTIL(T.nreplies == 1, 2000);
	ck_assert_int_eq(T.replies[0].code, RPC_REQUEST_TIMEOUT);
	ck_assert_str_eq(T.replies[0].message,
	    "initialize timed out after 0.05s");
	ck_assert_int_eq(req("ping", NULL, 0, NULL), 2);
	/* The next frame is the ping, not a cancellation. */
	expect_msg("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}");
}
END_TEST

/* --- (b) the real conformance server ----------------------------------- */

static int
have_server(void)
{
	ck_assert_msg(access(t_builddir("t/conformance-server"), X_OK) == 0,
	    "%s is not built", t_builddir("t/conformance-server"));
	return 1;
}

/* Client on a spawned t/conformance-server, initialized (CL framing). */
static void
start_server(void)
{
	char *argv[] = { (char *)t_builddir("t/conformance-server"), NULL };
	struct mcp_client_opts o = {
		.mode = FRAME_CL, .name = "t-client", .version = "9.9",
	};

	ck_assert_int_eq(t_spawn(&T.proc, argv, NULL, 0), 0);
	T.c = mcp_client_new(T.loop, T.proc.out, T.proc.in, &o, &test_cb, NULL);
	ck_assert_ptr_nonnull(T.c);
	T.proc.in = T.proc.out = -1;	/* the session owns them now */
	ck_assert_int_eq(mcp_client_initialize(T.c, 10, on_init, NULL), 0);
	RUN_UNTIL(T.nreplies == 1, 5000);
	ck_assert_int_eq(T.nreplies, 1);
	ck_assert_msg(T.replies[0].code == 0, "initialize: %s",
	    T.replies[0].message);
}

/* Let the server see EOF and exit; its status must be 0. */
static void
stop_server(void)
{
	double deadline = t_now_ms() + 5000 * t_slow();
	int st = -1;

	mcp_client_free(T.c);
	T.c = NULL;
	while (waitpid(T.proc.pid, &st, WNOHANG) == 0 && t_now_ms() < deadline)
		usleep(2000);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	T.proc.pid = -1;
}

static int64_t
call_tool(const char *name, const char *args, double timeout_s,
    mcp_progress_fn progress)
{
	json_t *p = json_pack("{s:s, s:o}", "name", name, "arguments",
	    json_loads(args, 0, NULL));

	ck_assert_ptr_nonnull(p);
	return mcp_client_request(T.c, "tools/call", p, timeout_s, on_reply,
	    progress, NULL);
}

static int
tools_has(const json_t *r, const char *name)
{
	const json_t *tools = json_object_get(r, "tools");
	const char *n;
	size_t i;

	for (i = 0; i < json_array_size(tools); i++) {
		n = json_string_value(json_object_get(json_array_get(tools, i),
		    "name"));
		if (n != NULL && strcmp(n, name) == 0)
			return 1;
	}
	return 0;
}

START_TEST(server_initialize_and_list)
{
	const json_t *si;
	json_t *r;
	const char *names[] = { "echo", "sleep", "add", "fail", "big" };
	size_t i;

	if (!have_server())
		return;
	start_server();
	si = mcp_client_server_info(T.c);
	ck_assert_str_eq(json_string_value(json_object_get(si,
	    "protocolVersion")), "2025-11-25");
	ck_assert(json_is_object(json_object_get(si, "serverInfo")));
	ck_assert_int_eq(req("tools/list", NULL, 5, NULL), 2);
	RUN_UNTIL(T.nreplies == 2, 5000);
	ck_assert_int_eq(T.replies[1].code, 0);
	r = json_loads(T.replies[1].result, 0, NULL);
	ck_assert_ptr_nonnull(r);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(tools_has(r, names[i]), "tool %s not listed",
		    names[i]);
	json_decref(r);
	stop_server();
}
END_TEST

START_TEST(server_echo_and_errors)
{
	json_t *r;

	if (!have_server())
		return;
	start_server();
	ck_assert_int_eq(call_tool("echo", "{\"text\":\"h\\u00e9llo\"}", 5,
	    NULL), 2);
	ck_assert_int_eq(req("no/such/method", NULL, 5, NULL), 3);
	ck_assert_int_eq(req("ping", NULL, 5, NULL), 4);
	RUN_UNTIL(T.nreplies == 4, 5000);
	ck_assert_int_eq(T.nreplies, 4);
	ck_assert_int_eq(T.replies[1].code, 0);
	r = json_loads(T.replies[1].result, 0, NULL);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(r, "content"), 0), "text")), "h\xc3\xa9llo");
	json_decref(r);
	ck_assert_int_eq(T.replies[2].id, 3);
	ck_assert_int_eq(T.replies[2].code, RPC_METHOD_NOT_FOUND);
	ck_assert_int_eq(T.replies[3].id, 4);
	ck_assert_str_eq(T.replies[3].result, "{}");
	stop_server();
}
END_TEST

START_TEST(server_sleep_with_progress)
{
	if (!have_server())
		return;
	start_server();
	ck_assert_int_eq(call_tool("sleep", "{\"ms\":300}", 10, on_progress), 2);
	RUN_UNTIL(T.nreplies == 2, 5000);
	ck_assert_int_eq(T.nreplies, 2);
	ck_assert_int_eq(T.replies[1].code, 0);
	ck_assert_int_ge(T.nprogress, 1);
	ck_assert_int_eq(T.progress[0].id, 2);
	ck_assert(strstr(T.progress[0].params, "\"progressToken\":2") != NULL);
	stop_server();
}
END_TEST

START_TEST(server_cancel_sleep)
{
	double t0;

	if (!have_server())
		return;
	start_server();
	ck_assert_int_eq(call_tool("sleep", "{\"ms\":60000}", 30, NULL), 2);
	ck_assert_int_eq(req("ping", NULL, 5, NULL), 3);
	RUN_UNTIL(T.nreplies == 2, 5000);	/* the server is running it */
	ck_assert_int_eq(T.replies[1].id, 3);
	t0 = t_now_ms();
	ck_assert_int_eq(mcp_client_cancel(T.c, 2, "test cancels"), 0);
	RUN_UNTIL(T.nreplies == 3, 5000);
	ck_assert_int_eq(T.replies[2].id, 2);
	ck_assert_int_eq(T.replies[2].code, MCP_ERR_CANCELLED);
	ck_assert(t_now_ms() - t0 < 1000 * t_slow());
	/* The server dropped the call: it still answers, and exits 0 at once
	   on EOF (nothing left in flight). */
	ck_assert_int_eq(call_tool("echo", "{\"text\":\"after\"}", 5, NULL), 4);
	RUN_UNTIL(T.nreplies == 4, 5000);
	ck_assert_int_eq(T.replies[3].code, 0);
	ck_assert(strstr(T.replies[3].result, "after") != NULL);
	stop_server();
}
END_TEST

START_TEST(server_killed_mid_call)
{
	double t0;
	int st;

	if (!have_server())
		return;
	start_server();
	ck_assert_int_eq(call_tool("sleep", "{\"ms\":60000}", 30, NULL), 2);
	ck_assert_int_eq(req("ping", NULL, 5, NULL), 3);
	RUN_UNTIL(T.nreplies == 2, 5000);
	ck_assert_int_eq(mcp_client_pending(T.c), 1);
	t0 = t_now_ms();
	kill(T.proc.pid, SIGKILL);
	RUN_UNTIL(T.nclosed == 1, 2000);
	ck_assert_msg(t_now_ms() - t0 < 100 * t_slow(), "took %.0f ms",
	    t_now_ms() - t0);
	ck_assert_int_eq(T.nreplies, 3);
	ck_assert_int_eq(T.replies[2].id, 2);
	ck_assert_int_eq(T.replies[2].code, RPC_CONNECTION_CLOSED);
	ck_assert(strstr(T.replies[2].message, "EOF") != NULL);
	waitpid(T.proc.pid, &st, 0);
	T.proc.pid = -1;
	ck_assert(WIFSIGNALED(st));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mcp_client");
	TCase *tc = tcase_create("scripted");
	TCase *tr = tcase_create("server");

	log_init("test_mcp_client");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cl_framing_exact_bytes_and_ids);
	tcase_add_test(tc, ndjson_framing_exact_bytes);
	tcase_add_test(tc, responses_routed_out_of_order);
	tcase_add_test(tc, error_response_passed_through);
	tcase_add_test(tc, timeout_sends_cancelled_and_drops_late_response);
	tcase_add_test(tc, cancel_sends_cancelled_and_fails_from_loop);
	tcase_add_test(tc, server_ping_answered);
	tcase_add_test(tc, ping_on_one_socket);
	tcase_add_test(tc, unknown_server_request_method_not_found);
	tcase_add_test(tc, progress_routed_and_notifications_delivered);
	tcase_add_test(tc, peer_eof_fails_all_pending_at_once);
	tcase_add_test(tc, peer_eof_mid_message);
	tcase_add_test(tc, framing_fatal_closes_session);
	tcase_add_test(tc, write_epipe_closes_session);
	tcase_add_test(tc, close_from_reply_callback);
	tcase_add_test(tc, free_from_reply_callback);
	tcase_add_test(tc, free_from_reply_callback_during_close);
	tcase_add_test(tc, free_from_closed_callback);
	tcase_add_test(tc, requests_from_callbacks_refused_once_closed);
	tcase_add_test(tc, output_bound_refuses_request);
	tcase_add_test(tc, server_not_reading_hits_output_bound);
	tcase_add_test(tc, thousands_pending_answered_in_reverse);
	tcase_add_test(tc, invalid_response_fails_its_request);
	tcase_add_test(tc, oversize_answer_fails_its_request_cl);
	tcase_add_test(tc, oversize_answer_fails_its_request_ndjson);
	tcase_add_test(tc, initialize_accepts_older_revision);
	tcase_add_test(tc, initialize_unknown_revision_fails_session);
	tcase_add_test(tc, initialize_timeout_sends_no_cancel);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 30);
	tcase_add_test(tr, server_initialize_and_list);
	tcase_add_test(tr, server_echo_and_errors);
	tcase_add_test(tr, server_sleep_with_progress);
	tcase_add_test(tr, server_cancel_sleep);
	tcase_add_test(tr, server_killed_mid_call);
	suite_add_tcase(s, tr);

	return t_run(s);
}
