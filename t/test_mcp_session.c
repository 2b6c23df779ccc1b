/*
 * The MCP session without a transport: messages go in through
 * mcp_session_input(), and every message out reaches a send() callback
 * that records it (or refuses it, as a transport would), so the exact
 * bytes, whether each is a response, and the io contract are checked:
 * refusals, idle(), cancellation, free.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mcp_session.h"
#include "testutil.h"

#define RPC	"{\"jsonrpc\":\"2.0\","
#define OBJ	"{\"type\":\"object\"}"
#define NOUT	16

static struct {
	struct mcp_session	*ses;
	char			*out[NOUT];	/* messages taken, in order */
	int			 resp[NOUT];	/* ... and their `response` */
	int			 n;
	int			 tries;		/* send() calls */
	int			 refuse;	/* errno for refused sends */
	int			 refuse_left;	/* how many more to refuse */
	int			 idle;		/* idle() runs */
	int			 hooks;		/* cancel hooks run */
	struct mcp_call		*parked;
} S;

static int
s_send(void *arg, const char *msg, size_t len, int response)
{
	ck_assert_ptr_eq(arg, &S);
	ck_assert_uint_eq(strlen(msg), len);
	ck_assert_ptr_null(memchr(msg, '\n', len));
	S.tries++;
	if (S.refuse_left > 0) {
		S.refuse_left--;
		errno = S.refuse;
		return -1;
	}
	ck_assert_int_lt(S.n, NOUT);
	S.out[S.n] = strdup(msg);
	S.resp[S.n++] = response;
	return 0;
}

static void
s_idle(void *arg)
{
	ck_assert_ptr_eq(arg, &S);
	ck_assert_uint_eq(mcp_session_active(S.ses), 0);
	S.idle++;
}

/* ---- tools ---- */

static void
fn_echo(struct mcp_call *c, const json_t *args, void *u)
{
	ck_assert_ptr_eq(mcp_call_session(c), S.ses);
	mcp_call_return(c, NULL, json_string_value(json_object_get(args,
	    "text")));
}

static void
park_hook(struct mcp_call *c, void *arg)
{
	S.hooks++;
	S.parked = NULL;
}

/* Kept for the test to complete; "hook": cancellable. */
static void
fn_park(struct mcp_call *c, const json_t *args, void *u)
{
	S.parked = c;
	if (json_is_true(json_object_get(args, "hook")))
		mcp_call_on_cancel(c, park_hook, NULL);
}

static void
fn_progress(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_progress(c, 1, 2, NULL);
	mcp_call_return(c, NULL, "ok");
}

/* A protocol fault with a message no peer should see raw. */
static void
fn_fail(struct mcp_call *c, const json_t *args, void *u)
{
	char big[1600];

	if (json_is_true(json_object_get(args, "long"))) {
		/* 1023 bytes, then a character across the 1024-byte bound */
		memset(big, 'x', 1023);
		memcpy(big + 1023, "\xc3\xa9", 2);
		memset(big + 1025, 'y', 500);
		big[1525] = '\0';
		mcp_call_fail(c, -32000, big);
	} else
		mcp_call_fail(c, -32000, "bad \xff byte");
}

static const struct mcp_tool tools[] = {
	{ .name = "echo", .description = "Echo", .input_schema = OBJ,
	    .fn = fn_echo },
	{ .name = "park", .description = "Completed by the test",
	    .input_schema = OBJ, .fn = fn_park },
	{ .name = "progress", .description = "Progress", .input_schema = OBJ,
	    .fn = fn_progress },
	{ .name = "fail", .description = "Fails", .input_schema = OBJ,
	    .fn = fn_fail },
};

/* ---- harness ---- */

static void
s_setup(void)
{
	struct mcp_session_opts o = { .name = "s", .version = "1" };
	struct mcp_session_io io = { s_send, s_idle, &S };
	char err[256];
	size_t i;

	memset(&S, 0, sizeof(S));
	S.ses = mcp_session_new(&o, &io);
	ck_assert_ptr_nonnull(S.ses);
	ck_assert_ptr_eq(mcp_session_arg(S.ses), &S);
	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		ck_assert_int_eq(mcp_session_add_tool(S.ses, &tools[i], NULL,
		    err, sizeof(err)), 0);
}

static void
s_clear(void)
{
	int i;

	for (i = 0; i < S.n; i++)
		free(S.out[i]);
	S.n = 0;
	S.tries = 0;
}

static void
s_teardown(void)
{
	mcp_session_free(S.ses);
	s_clear();
}

static void
in(const char *msg)
{
	mcp_session_input(S.ses, msg, strlen(msg));
}

/* Exactly these messages were taken since the last check, in order;
   response 1 for each answer, 0 for each notification. */
static void
expect(int n, const char *const want[], const int resp[])
{
	int i;

	ck_assert_int_eq(S.n, n);
	for (i = 0; i < n; i++) {
		ck_assert_str_eq(S.out[i], want[i]);
		ck_assert_int_eq(S.resp[i], resp[i]);
	}
	s_clear();
}

static void
expect1(const char *want, int resp)
{
	expect(1, &want, &resp);
}

static void
expect_none(void)
{
	expect(0, NULL, NULL);
}

#define PING(id)	RPC "\"id\":" #id ",\"method\":\"ping\"}"
#define PONG(id)	RPC "\"id\":" #id ",\"result\":{}}"
#define CALL(id, name, args) RPC "\"id\":" #id ",\"method\":\"tools/call\"," \
	"\"params\":{\"name\":\"" name "\",\"arguments\":" args "}}"
#define RESULT(id, text) RPC "\"id\":" #id ",\"result\":{\"content\":" \
	"[{\"type\":\"text\",\"text\":\"" text "\"}]}}"
#define ERROR(id, code, msg) RPC "\"id\":" #id ",\"error\":{\"code\":" #code \
	",\"message\":\"" msg "\"}}"
#define CANCEL(id)	RPC "\"method\":\"notifications/cancelled\"," \
	"\"params\":{\"requestId\":" #id "}}"

/* ---- tests ---- */

START_TEST(answers_through_send)
{
	in(PING(1));
	expect1(PONG(1), 1);
	in(RPC "\"id\":\"a\",\"method\":\"initialize\",\"params\":"
	    "{\"protocolVersion\":\"2025-06-18\"}}");
	expect1(RPC "\"id\":\"a\",\"result\":{\"protocolVersion\":"
	    "\"2025-06-18\",\"capabilities\":{\"tools\":{\"listChanged\":true},"
	    "\"logging\":{}},\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}",
	    1);
	in(RPC "\"method\":\"notifications/initialized\"}");
	expect_none();
	in(CALL(2, "echo", "{\"text\":\"hi\"}"));
	expect1(RESULT(2, "hi"), 1);
	/* a notification is sent with response 0 */
	in(RPC "\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"progress\",\"_meta\":{\"progressToken\":\"t\"}}}");
	{
		static const char *const want[] = {
			RPC "\"method\":\"notifications/progress\",\"params\":"
			    "{\"progressToken\":\"t\",\"progress\":1,\"total\":2}}",
			RESULT(3, "ok"),
		};
		static const int resp[] = { 0, 1 };

		expect(2, want, resp);
	}
	mcp_session_tools_changed(S.ses);
	expect1(RPC "\"method\":\"notifications/tools/list_changed\"}", 0);
	/* the session sends no requests: a response is dropped */
	in(RPC "\"id\":9,\"result\":{}}");
	expect_none();
}
END_TEST

START_TEST(bad_input)
{
	in("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":[]}");
	expect1(ERROR(1, -32602, "invalid params: 'params' must be an object, "
	    "not an array"), 1);
	in("[1]");
	expect1(RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":"
	    "\"invalid request: batches are not supported\"}}", 1);
	/* a bad notification is not answered */
	in(RPC "\"method\":5}");
	expect_none();
	in(RPC "\"id\":4,\"method\":\"resources/list\"}");
	expect1(ERROR(4, -32601, "Method not found"), 1);
	/* what the transport could not frame */
	mcp_session_error(S.ses, -32600, "message line exceeds the limit");
	expect1(RPC "\"id\":null,\"error\":{\"code\":-32600,\"message\":"
	    "\"message line exceeds the limit\"}}", 1);
}
END_TEST

/* A response the transport refuses is replaced by a short error, which
   says why; nothing is tried once nobody listens. */
START_TEST(refused_responses)
{
	S.refuse = EMSGSIZE;
	S.refuse_left = 1;
	in(PING(1));
	ck_assert_int_eq(S.tries, 2);	/* the answer, then the error */
	expect1(ERROR(1, -32603, "internal error: result too large"), 1);
	S.refuse = ENOBUFS;
	S.refuse_left = 1;
	in(CALL(2, "echo", "{\"text\":\"x\"}"));
	ck_assert_int_eq(S.tries, 2);
	expect1(ERROR(2, -32603, "internal error: output queue full"), 1);
	S.refuse = EPIPE;
	S.refuse_left = 1;
	in(PING(3));
	ck_assert_int_eq(S.tries, 1);
	expect_none();
	/* a refused notification is dropped, nothing instead */
	S.refuse = ENOBUFS;
	S.refuse_left = 1;
	mcp_session_tools_changed(S.ses);
	ck_assert_int_eq(S.tries, 1);
	expect_none();
}
END_TEST

START_TEST(async_call_and_idle)
{
	in(CALL(1, "park", "{}"));
	expect_none();
	ck_assert_ptr_nonnull(S.parked);
	ck_assert_str_eq(mcp_call_id(S.parked), "1");
	ck_assert_uint_eq(mcp_session_active(S.ses), 1);
	ck_assert_int_eq(S.idle, 0);
	in(PING(2));	/* served while the call runs */
	expect1(PONG(2), 1);
	mcp_call_return(S.parked, NULL, "late");
	expect1(RESULT(1, "late"), 1);
	ck_assert_uint_eq(mcp_session_active(S.ses), 0);
	ck_assert_int_eq(S.idle, 1);
}
END_TEST

START_TEST(cancellation)
{
	struct mcp_call *c;

	/* by the peer: the hook runs, nothing is sent */
	in(CALL(1, "park", "{\"hook\":true}"));
	in(CANCEL(1));
	ck_assert_int_eq(S.hooks, 1);
	ck_assert_uint_eq(mcp_session_active(S.ses), 0);
	ck_assert_int_eq(S.idle, 1);
	expect_none();
	/* by the transport, a call without a hook: marked, its answer
	   suppressed when it completes */
	in(CALL(2, "park", "{}"));
	c = S.parked;
	mcp_session_cancel_all(S.ses);
	ck_assert_uint_eq(mcp_session_active(S.ses), 0);
	ck_assert_int_eq(S.idle, 2);
	mcp_call_return(c, NULL, "unseen");
	ck_assert_int_eq(S.idle, 3);
	expect_none();
	/* a cancel of what is not in flight changes nothing */
	in(CANCEL(2));
	ck_assert_int_eq(S.hooks, 1);
	expect_none();
}
END_TEST

/* Freeing a session with a call running: its hook runs, nothing is sent
   and no io callback runs. */
START_TEST(free_cancels)
{
	in(CALL(1, "park", "{\"hook\":true}"));
	mcp_session_free(S.ses);
	S.ses = NULL;
	ck_assert_int_eq(S.hooks, 1);
	ck_assert_int_eq(S.idle, 0);
	ck_assert_int_eq(S.tries, 0);
}
END_TEST

/* Text quoted back is valid UTF-8 and cut on a character at its bound,
   "..." marking the cut. */
START_TEST(quoted_text)
{
	char name[300], req[512], want[512];

	memset(name, 'a', 128);
	name[128] = '\0';
	snprintf(req, sizeof(req), CALL(1, "%s", "{}"), name);
	in(req);
	snprintf(want, sizeof(want), ERROR(1, -32602, "Unknown tool: %s"),
	    name);
	expect1(want, 1);
	/* 127 bytes, a 2-byte character across the bound, more */
	memcpy(name + 127, "\xc3\xa9", 2);
	memset(name + 129, 'b', 100);
	name[229] = '\0';
	snprintf(req, sizeof(req), CALL(2, "%s", "{}"), name);
	in(req);
	name[127] = '\0';
	snprintf(want, sizeof(want), ERROR(2, -32602, "Unknown tool: %s..."),
	    name);
	expect1(want, 1);

	in(CALL(3, "fail", "{}"));
	expect1(ERROR(3, -32000, "bad \xef\xbf\xbd byte"), 1);
	in(CALL(4, "fail", "{\"long\":true}"));
	ck_assert_int_eq(S.n, 1);
	ck_assert_uint_eq(strlen(S.out[0]), strlen(ERROR(4, -32000, "")) +
	    1023 + 3);
	ck_assert_ptr_nonnull(strstr(S.out[0], "\"message\":\"xxx"));
	ck_assert_ptr_nonnull(strstr(S.out[0], "xxx...\"}}"));
	s_clear();
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("mcp_session");
	TCase *tc = tcase_create("session");

	tcase_add_checked_fixture(tc, s_setup, s_teardown);
	tcase_add_test(tc, answers_through_send);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, refused_responses);
	tcase_add_test(tc, async_call_and_idle);
	tcase_add_test(tc, cancellation);
	tcase_add_test(tc, free_cancels);
	tcase_add_test(tc, quoted_text);
	suite_add_tcase(s, tc);
	return t_run(s);
}
