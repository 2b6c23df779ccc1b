/*
 * The MCP server runtime in process: a server runs mcp_server_run() on a
 * thread with its own loop, on one end of a socketpair; the test speaks
 * NDJSON (or Content-Length) on the other end and checks the exact bytes.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "mcp_server.h"
#include "testutil.h"

#define OBJ	"{\"type\":\"object\",\"properties\":{}}"
#define RPC	"{\"jsonrpc\":\"2.0\","
#define TEXT(s)	"{\"content\":[{\"type\":\"text\",\"text\":\"" s "\"}]}"

static atomic_int cancels;	/* cancel hooks run */
static atomic_int completed;	/* asynchronous completions */

/* ---- tools ---- */

static void
fn_echo(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_return(c, NULL, json_string_value(json_object_get(args,
	    "text")));
}

static void
fn_name(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_return(c, NULL, mcp_call_tool(c));
}

static void
fn_add(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_return(c, json_pack("{s:I}", "sum",
	    json_integer_value(json_object_get(args, "a")) +
	    json_integer_value(json_object_get(args, "b"))), NULL);
}

static void
fn_badout(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_return(c, json_pack("{s:s}", "sum", "three"), NULL);
}

static void
fn_prog(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_progress(c, 1, 3, "one");
	mcp_call_progress(c, 1, 3, "again");	/* not increasing: dropped */
	mcp_call_progress(c, 2.5, -1, NULL);
	mcp_call_return(c, NULL, mcp_call_has_progress(c) ? "tok" : "none");
}

static void
fn_logs(struct mcp_call *c, const json_t *args, void *u)
{
	struct mcp_server *s = mcp_call_server(c);

	mcp_server_log(s, "debug", "t", json_string("d"));
	mcp_server_log(s, "info", NULL, json_pack("{s:s, s:i}", "apiToken",
	    "hunter22", "n", 1));
	mcp_server_log(s, "error", "t", json_string("e"));
	ck_assert_int_eq(mcp_server_log(s, "loud", "t", json_string("x")), -1);
	mcp_call_return(c, NULL, "logged");
}

static void
hang_cancel(struct mcp_call *c, void *arg)
{
	atomic_fetch_add(&cancels, 1);
	/* A hook must not complete: the runtime ignores it if it does. */
	mcp_call_return(c, NULL, "too late");
}

static void
fn_hang(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_call_on_cancel(c, hang_cancel, NULL);
}

struct later {
	ev_timer	 t;
	struct mcp_call	*call;
	struct ev_loop	*loop;
};

static void
later_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct later *l = w->data;
	struct mcp_call *c = l->call;

	free(l);
	mcp_call_return(c, NULL, "done");
	atomic_fetch_add(&completed, 1);
}

static void
later_cancel(struct mcp_call *c, void *arg)
{
	struct later *l = arg;

	ev_timer_stop(l->loop, &l->t);
	free(l);
	atomic_fetch_add(&cancels, 1);
}

/* Completes after ms (argument); with_hook: cancellable. */
static void
start_later(struct mcp_call *c, const json_t *args, int with_hook)
{
	struct later *l = calloc(1, sizeof(*l));

	l->call = c;
	l->loop = mcp_server_loop(mcp_call_server(c));
	ev_timer_init(&l->t, later_cb,
	    json_integer_value(json_object_get(args, "ms")) / 1000., 0.);
	l->t.data = l;
	ev_timer_start(l->loop, &l->t);
	if (with_hook)
		mcp_call_on_cancel(c, later_cancel, l);
}

static void
fn_later(struct mcp_call *c, const json_t *args, void *u)
{
	start_later(c, args, 1);
}

static void
fn_later_nohook(struct mcp_call *c, const json_t *args, void *u)
{
	start_later(c, args, 0);
}

static void
fn_stop(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_server_shutdown(mcp_call_server(c));
	mcp_call_return(c, NULL, "stopping");
}

static void
fn_changed(struct mcp_call *c, const json_t *args, void *u)
{
	mcp_server_tools_changed(mcp_call_server(c));
	mcp_call_return(c, NULL, "ok");
}

static void
fn_big(struct mcp_call *c, const json_t *args, void *u)
{
	static char text[16385];

	memset(text, 'x', sizeof(text) - 1);
	mcp_call_return(c, NULL, text);
}

#define MS_SCHEMA "{\"type\":\"object\",\"properties\":{\"ms\":" \
	"{\"type\":\"integer\",\"minimum\":0}},\"required\":[\"ms\"]}"

static const struct mcp_tool tools[] = {
	{ .name = "echo", .title = "Echo", .description = "Echo text",
	    .input_schema = "{\"type\":\"object\",\"properties\":{\"text\":"
	    "{\"type\":\"string\",\"maxLength\":5}},\"required\":[\"text\"]}",
	    .read_only = 1, .idempotent = 1, .fn = fn_echo },
	{ .name = "add", .description = "Add",
	    .input_schema = "{\"type\":\"object\",\"properties\":{"
	    "\"a\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":10},"
	    "\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"],"
	    "\"additionalProperties\":false}",
	    .output_schema = "{\"type\":\"object\",\"properties\":{\"sum\":"
	    "{\"type\":\"integer\"}},\"required\":[\"sum\"]}",
	    .destructive = 1, .open_world = 1, .fn = fn_add },
	{ .name = "badout", .description = "Breaks its outputSchema",
	    .input_schema = OBJ, .output_schema = "{\"type\":\"object\","
	    "\"properties\":{\"sum\":{\"type\":\"integer\"}}}", .fn = fn_badout },
	{ .name = "prog", .description = "Progress", .input_schema = OBJ,
	    .fn = fn_prog },
	{ .name = "logs", .description = "Logs", .input_schema = OBJ,
	    .fn = fn_logs },
	{ .name = "hang", .description = "Never ends", .input_schema = OBJ,
	    .fn = fn_hang },
	{ .name = "later", .description = "Ends after ms",
	    .input_schema = MS_SCHEMA, .fn = fn_later },
	{ .name = "later_nohook", .description = "Ends after ms, no hook",
	    .input_schema = MS_SCHEMA, .fn = fn_later_nohook },
	{ .name = "big", .description = "16 KiB of text", .input_schema = OBJ,
	    .fn = fn_big },
	{ .name = "stop", .description = "Stops the server",
	    .input_schema = OBJ, .fn = fn_stop },
	{ .name = "changed", .description = "Tool list changed",
	    .input_schema = OBJ, .fn = fn_changed },
};
#define NTOOLS	(sizeof(tools) / sizeof(tools[0]))

static const struct mcp_tool five[] = {
	{ .name = "t1", .description = "1", .input_schema = OBJ, .fn = fn_name },
	{ .name = "t2", .description = "2", .input_schema = OBJ, .fn = fn_name },
	{ .name = "t3", .description = "3", .input_schema = OBJ, .fn = fn_name },
	{ .name = "t4", .description = "4", .input_schema = OBJ, .fn = fn_name },
	{ .name = "t5", .description = "5", .input_schema = OBJ, .fn = fn_name },
};

/* ---- harness ---- */

static struct {
	int			 fd;	/* our end */
	int			 sfd;	/* the server's end */
	pthread_t		 th;
	struct ev_loop		*loop;
	struct mcp_server	*srv;
	int			 status;
} H;

/* Run by h_start_opts() before the server's thread starts; NULL: none. */
static void	(*h_pre)(void);

static void *
h_thread(void *arg)
{
	H.status = mcp_server_run(H.srv);
	return NULL;
}

static void
h_start_opts(struct mcp_server_opts *o, const struct mcp_tool *t, size_t n)
{
	int sv[2];
	char err[256];
	size_t i;

	atomic_store(&cancels, 0);
	atomic_store(&completed, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
	    0);
	H.fd = sv[0];
	H.sfd = sv[1];
	if (o->name == NULL) {
		o->name = "test-server";
		o->title = "Test Server";
		o->version = "9.9";
	}
	H.loop = ev_loop_new(EVFLAG_AUTO);
	H.srv = mcp_server_new(H.loop, o, H.sfd, H.sfd);
	ck_assert_ptr_nonnull(H.srv);
	for (i = 0; i < n; i++)
		ck_assert_msg(mcp_server_add_tool(H.srv, &t[i], NULL, err,
		    sizeof(err)) == 0, "%s: %s", t[i].name, err);
	if (h_pre != NULL)
		h_pre();
	ck_assert_int_eq(pthread_create(&H.th, NULL, h_thread, NULL), 0);
}

static void
h_start(void)
{
	struct mcp_server_opts o = { 0 };

	h_start_opts(&o, tools, NTOOLS);
}

static void
h_send(const char *line)
{
	ck_assert_int_eq(t_write(H.fd, line, strlen(line)), 0);
	ck_assert_int_eq(t_write(H.fd, "\n", 1), 0);
}

static char *
h_line(void)
{
	char *l = t_read_line(H.fd, 5000);

	ck_assert_msg(l != NULL, "no line from the server");
	return l;
}

static void
h_expect(const char *want)
{
	char *l = h_line();

	ck_assert_str_eq(l, want);
	free(l);
}

/* Wait (with a deadline) until *v reaches n. */
static void
wait_count(atomic_int *v, int n)
{
	double end = t_now_ms() + 5000 * t_slow();

	while (atomic_load(v) < n && t_now_ms() < end)
		usleep(1000);
	ck_assert_int_eq(atomic_load(v), n);
}

/* Close our sending side; the server must end; returns its status and
   asserts nothing more came. */
static int
h_stop(void)
{
	char *rest;
	int eof;

	shutdown(H.fd, SHUT_WR);
	/* The server's output is flushed before mcp_server_run() returns;
	   it does not close its fd, so we do, to read up to EOF. */
	pthread_join(H.th, NULL);
	close(H.sfd);
	rest = t_read_until(H.fd, NULL, 5000, &eof);
	ck_assert(eof);
	ck_assert_msg(rest && *rest == '\0', "unexpected output: %s", rest);
	free(rest);
	mcp_server_free(H.srv);
	ev_loop_destroy(H.loop);
	close(H.fd);
	return H.status;
}

#define INIT(v)	RPC "\"id\":1,\"method\":\"initialize\",\"params\":{" \
	"\"protocolVersion\":\"" v "\",\"capabilities\":{},\"clientInfo\":" \
	"{\"name\":\"c\",\"version\":\"1\"}}}"
#define INIT_OK(v) RPC "\"id\":1,\"result\":{\"protocolVersion\":\"" v "\"," \
	"\"capabilities\":{\"tools\":{\"listChanged\":true},\"logging\":{}}," \
	"\"serverInfo\":{\"name\":\"test-server\",\"title\":\"Test Server\"," \
	"\"version\":\"9.9\"}}}"
#define CALL(id, name, args) RPC "\"id\":" #id ",\"method\":\"tools/call\"," \
	"\"params\":{\"name\":\"" name "\",\"arguments\":" args "}}"
#define RESULT(id, r) RPC "\"id\":" #id ",\"result\":" r "}"
#define ERROR(id, code, msg) RPC "\"id\":" #id ",\"error\":{\"code\":" #code \
	",\"message\":\"" msg "\"}}"
#define PING(id) RPC "\"id\":" #id ",\"method\":\"ping\"}"
#define PONG(id) RESULT(id, "{}")

/* ---- lifecycle ---- */

START_TEST(initialize_versions)
{
	static const char *const ok[] = {
		"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
	};
	char req[512], want[1024];
	size_t i;

	h_start();
	for (i = 0; i < 4; i++) {
		snprintf(req, sizeof(req), INIT("%s"), ok[i]);
		snprintf(want, sizeof(want), INIT_OK("%s"), ok[i]);
		h_send(req);
		h_expect(want);
	}
	h_send(INIT("1999-01-01"));
	h_expect(INIT_OK("2025-11-25"));
	h_send(INIT("2026-01-01"));
	h_expect(INIT_OK("2025-11-25"));
	h_send(RPC "\"id\":2,\"method\":\"initialize\",\"params\":{}}");
	h_expect(ERROR(2, -32602,
	    "invalid params: protocolVersion must be a string"));
	h_send(RPC "\"method\":\"notifications/initialized\"}");
	h_send(PING(3));
	h_expect(PONG(3));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(instructions_present)
{
	struct mcp_server_opts o = { .name = "n", .version = "1",
	    .instructions = "Use echo." };

	h_start_opts(&o, tools, 1);
	h_send(INIT("2025-06-18"));
	h_expect(RPC "\"id\":1,\"result\":{\"protocolVersion\":\"2025-06-18\","
	    "\"capabilities\":{\"tools\":{\"listChanged\":true},\"logging\":{}},"
	    "\"serverInfo\":{\"name\":\"n\",\"version\":\"1\"},"
	    "\"instructions\":\"Use echo.\"}}");
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(requests_before_initialize)
{
	h_start();
	h_send(CALL(1, "echo", "{\"text\":\"hi\"}"));
	h_expect(RESULT(1, TEXT("hi")));
	h_send(RPC "\"id\":2,\"method\":\"resources/list\"}");
	h_expect(ERROR(2, -32601, "Method not found"));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(content_length_detected)
{
	static const char req[] = "Content-Length: 40\r\n\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
	char *got;
	int eof;

	h_start();
	ck_assert_int_eq(t_write(H.fd, req, strlen(req)), 0);
	got = t_read_until(H.fd, "{}}", 5000, &eof);
	ck_assert_str_eq(got, "Content-Length: 36\r\n\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	free(got);
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

/* ---- tools/list ---- */

/* Fetch one tools/list page; returns the names joined by ',' and the next
   cursor (NULL at the end), both malloc'd. */
static char *
list_page(int id, const char *cursor, char **next)
{
	char req[256], *line, names[256] = "";
	json_t *root, *res, *tool;
	size_t i;

	if (cursor)
		snprintf(req, sizeof(req), RPC "\"id\":%d,\"method\":"
		    "\"tools/list\",\"params\":{\"cursor\":\"%s\"}}", id, cursor);
	else
		snprintf(req, sizeof(req), RPC "\"id\":%d,\"method\":"
		    "\"tools/list\"}", id);
	h_send(req);
	line = h_line();
	root = json_loads(line, 0, NULL);
	ck_assert_msg(root != NULL, "%s", line);
	res = json_object_get(root, "result");
	ck_assert_msg(res != NULL, "%s", line);
	json_array_foreach(json_object_get(res, "tools"), i, tool) {
		if (i)
			strcat(names, ",");
		strcat(names, json_string_value(json_object_get(tool, "name")));
	}
	*next = json_object_get(res, "nextCursor") ?
	    strdup(json_string_value(json_object_get(res, "nextCursor"))) :
	    NULL;
	json_decref(root);
	free(line);
	return strdup(names);
}

START_TEST(tools_list_pagination)
{
	struct mcp_server_opts o = { .page_size = 2 };
	char *names, *c1, *c2, *c3, bad[64], req[256];

	h_start_opts(&o, five, 5);
	names = list_page(1, NULL, &c1);
	ck_assert_str_eq(names, "t1,t2");
	ck_assert_ptr_nonnull(c1);
	free(names);
	names = list_page(2, c1, &c2);
	ck_assert_str_eq(names, "t3,t4");
	ck_assert_ptr_nonnull(c2);
	free(names);
	names = list_page(3, c2, &c3);
	ck_assert_str_eq(names, "t5");
	ck_assert_ptr_null(c3);
	free(names);
	/* Cursors can be replayed. */
	names = list_page(4, c1, &c3);
	ck_assert_str_eq(names, "t3,t4");
	free(names);
	free(c3);

	h_send(RPC "\"id\":5,\"method\":\"tools/list\",\"params\":"
	    "{\"cursor\":\"bogus\"}}");
	h_expect(ERROR(5, -32602, "invalid params: invalid cursor"));
	/* A cursor with one character changed is refused. */
	snprintf(bad, sizeof(bad), "%s", c1);
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	snprintf(req, sizeof(req), RPC "\"id\":6,\"method\":\"tools/list\","
	    "\"params\":{\"cursor\":\"%s\"}}", bad);
	h_send(req);
	h_expect(ERROR(6, -32602, "invalid params: invalid cursor"));
	h_send(RPC "\"id\":7,\"method\":\"tools/list\",\"params\":"
	    "{\"cursor\":7}}");
	h_expect(ERROR(7, -32602, "invalid params: invalid cursor"));
	free(c1);
	free(c2);
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(tools_list_shape)
{
	h_start();
	h_send(RPC "\"id\":1,\"method\":\"tools/list\"}");
	{
		char *line = h_line();

		/* echo: title in the tool and its annotations */
		ck_assert_ptr_nonnull(strstr(line, "{\"name\":\"echo\","
		    "\"title\":\"Echo\",\"description\":\"Echo text\","
		    "\"inputSchema\":{\"type\":\"object\",\"properties\":"
		    "{\"text\":{\"type\":\"string\",\"maxLength\":5}},"
		    "\"required\":[\"text\"]},\"annotations\":{\"title\":"
		    "\"Echo\",\"readOnlyHint\":true,\"destructiveHint\":false,"
		    "\"idempotentHint\":true,\"openWorldHint\":false}}"));
		/* add: outputSchema, hints */
		ck_assert_ptr_nonnull(strstr(line, "\"outputSchema\":{\"type\":"
		    "\"object\",\"properties\":{\"sum\":{\"type\":\"integer\"}},"
		    "\"required\":[\"sum\"]},\"annotations\":{\"readOnlyHint\":"
		    "false,\"destructiveHint\":true,\"idempotentHint\":false,"
		    "\"openWorldHint\":true}}"));
		ck_assert_ptr_null(strstr(line, "nextCursor"));
		free(line);
	}
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(add_tool_errors)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct mcp_server_opts o = { 0 };
	struct mcp_server *s;
	static const struct mcp_tool x = { .name = "x", .input_schema = OBJ,
	    .fn = fn_name };
	struct mcp_tool t = { .name = "x", .input_schema = OBJ, .fn = fn_name };
	char err[256];
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = mcp_server_new(loop, &o, sv[1], sv[1]);
	/* Registered tools are borrowed: `t` is a scratch copy for the
	   refused ones. */
	ck_assert_int_eq(mcp_server_add_tool(s, &x, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(mcp_server_add_tool(s, &t, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "tool x: name already registered");
	t.name = "bad name";
	ck_assert_int_eq(mcp_server_add_tool(s, &t, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "invalid tool name: 1-64 characters of "
	    "[A-Za-z0-9_./-]");
	t.name = "y";
	t.input_schema = "{\"type\":\"object\"";
	ck_assert_int_eq(mcp_server_add_tool(s, &t, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "inputSchema: ", 13) == 0, "%s", err);
	t.input_schema = "{\"type\":\"string\"}";
	ck_assert_int_eq(mcp_server_add_tool(s, &t, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "tool y: inputSchema must have \"type\": "
	    "\"object\"");
	t.input_schema = "{\"type\":\"object\",\"oneOf\":[]}";
	ck_assert_int_eq(mcp_server_add_tool(s, &t, NULL, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "inputSchema: ", 13) == 0 &&
	    strstr(err, "oneOf"), "%s", err);
	t.input_schema = OBJ;
	t.output_schema = "[]";
	ck_assert_int_eq(mcp_server_add_tool(s, &t, NULL, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "outputSchema: not a JSON object");
	mcp_server_free(s);
	ev_loop_destroy(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- tools/call ---- */

START_TEST(call_errors)
{
	h_start();
	h_send(CALL(1, "nope", "{}"));
	h_expect(ERROR(1, -32602, "Unknown tool: nope"));
	h_send(RPC "\"id\":2,\"method\":\"tools/call\",\"params\":{}}");
	h_expect(ERROR(2, -32602, "invalid params: name must be a string"));
	h_send(RPC "\"id\":3,\"method\":\"tools/call\"}");
	h_expect(ERROR(3, -32602, "invalid params: name must be a string"));
	h_send(CALL(4, "echo", "[1]"));
	h_expect(ERROR(4, -32602, "invalid params: arguments must be an "
	    "object"));
	/* Arguments may be omitted when the schema allows it. */
	h_send(RPC "\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"prog\"}}");
	h_expect(RESULT(5, TEXT("none")));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(schema_errors_are_tool_results)
{
	h_start();
	h_send(CALL(1, "add", "{\"a\":11,\"b\":1}"));
	h_expect(RESULT(1, "{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Invalid arguments for tool add: argument 'a': must be <= 10 "
	    "(maximum)\"}],\"isError\":true}"));
	h_send(CALL(2, "add", "{\"a\":1}"));
	h_expect(RESULT(2, "{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Invalid arguments for tool add: missing required argument 'b' "
	    "(required)\"}],\"isError\":true}"));
	h_send(CALL(3, "add", "{\"a\":1,\"b\":2,\"c\":3}"));
	h_expect(RESULT(3, "{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Invalid arguments for tool add: unexpected argument 'c' "
	    "(additionalProperties)\"}],\"isError\":true}"));
	h_send(CALL(4, "echo", "{\"text\":\"toolong\"}"));
	h_expect(RESULT(4, "{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"Invalid arguments for tool echo: argument 'text': must be at "
	    "most 5 characters long (maxLength)\"}],\"isError\":true}"));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(structured_content)
{
	h_start();
	h_send(CALL(1, "add", "{\"a\":1,\"b\":2}"));
	h_expect(RESULT(1, "{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"{\\\"sum\\\":3}\"}],\"structuredContent\":{\"sum\":3}}"));
	h_send(CALL(2, "badout", "{}"));
	h_expect(RESULT(2, "{\"content\":[{\"type\":\"text\",\"text\":"
	    "\"internal error: the tool result does not match its "
	    "outputSchema: argument 'sum': must be an integer (type)\"}],"
	    "\"isError\":true}"));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(progress_with_token)
{
	h_start();
	h_send(RPC "\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"prog\",\"arguments\":{},\"_meta\":{\"progressToken\":\"tk\"}}}");
	h_expect(RPC "\"method\":\"notifications/progress\",\"params\":"
	    "{\"progressToken\":\"tk\",\"progress\":1,\"total\":3,"
	    "\"message\":\"one\"}}");
	h_expect(RPC "\"method\":\"notifications/progress\",\"params\":"
	    "{\"progressToken\":\"tk\",\"progress\":2.5}}");
	h_expect(RESULT(1, TEXT("tok")));
	h_send(RPC "\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"prog\",\"_meta\":{\"progressToken\":42}}}");
	h_expect(RPC "\"method\":\"notifications/progress\",\"params\":"
	    "{\"progressToken\":42,\"progress\":1,\"total\":3,"
	    "\"message\":\"one\"}}");
	h_expect(RPC "\"method\":\"notifications/progress\",\"params\":"
	    "{\"progressToken\":42,\"progress\":2.5}}");
	h_expect(RESULT(2, TEXT("tok")));
	/* No token (or one of a wrong type): no notifications. */
	h_send(RPC "\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"prog\",\"_meta\":{\"progressToken\":1.5}}}");
	h_expect(RESULT(3, TEXT("none")));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(cancel_runs_hook_and_suppresses)
{
	h_start();
	h_send(CALL(1, "hang", "{}"));
	h_send(RPC "\"id\":\"x\",\"method\":\"tools/call\",\"params\":"
	    "{\"name\":\"later\",\"arguments\":{\"ms\":60000}}}");
	h_send(PING(2));
	h_expect(PONG(2));	/* ping served while calls run */
	h_send(RPC "\"method\":\"notifications/cancelled\",\"params\":"
	    "{\"requestId\":1,\"reason\":\"user\"}}");
	h_send(RPC "\"method\":\"notifications/cancelled\",\"params\":"
	    "{\"requestId\":\"x\"}}");
	/* Unknown and repeated ids are ignored. */
	h_send(RPC "\"method\":\"notifications/cancelled\",\"params\":"
	    "{\"requestId\":1}}");
	h_send(RPC "\"method\":\"notifications/cancelled\",\"params\":"
	    "{\"requestId\":\"nope\"}}");
	h_send(PING(3));
	h_expect(PONG(3));
	ck_assert_int_eq(atomic_load(&cancels), 2);
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(cancel_without_hook_suppresses)
{
	h_start();
	h_send(CALL(1, "later_nohook", "{\"ms\":300}"));
	h_send(RPC "\"method\":\"notifications/cancelled\",\"params\":"
	    "{\"requestId\":1}}");
	wait_count(&completed, 1);
	h_send(PING(2));
	h_expect(PONG(2));	/* and no result for id 1 before it */
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(eof_waits_for_calls)
{
	h_start();
	h_send(CALL(1, "later", "{\"ms\":100}"));
	shutdown(H.fd, SHUT_WR);
	h_expect(RESULT(1, TEXT("done")));
	ck_assert_int_eq(h_stop(), 0);
	ck_assert_int_eq(atomic_load(&cancels), 0);
}
END_TEST

START_TEST(grace_expiry_cancels)
{
	struct mcp_server_opts o = { .shutdown_grace = 0.05 };

	h_start_opts(&o, tools, NTOOLS);
	h_send(CALL(1, "hang", "{}"));
	h_send(CALL(2, "later", "{\"ms\":60000}"));
	h_send(PING(3));
	h_expect(PONG(3));
	ck_assert_int_eq(h_stop(), 0);	/* no result for 1 or 2 */
	ck_assert_int_eq(atomic_load(&cancels), 2);
}
END_TEST

/* The server's end closes itself (the session ended with our input still
   open): everything left to read, then the thread's status. */
static int
h_wait_end(const char *want_rest)
{
	char *rest;
	int eof;

	pthread_join(H.th, NULL);
	close(H.sfd);
	rest = t_read_until(H.fd, NULL, 5000, &eof);
	ck_assert(eof);
	ck_assert_str_eq(rest, want_rest);
	free(rest);
	mcp_server_free(H.srv);
	ev_loop_destroy(H.loop);
	close(H.fd);
	return H.status;
}

START_TEST(sigterm_finishes_calls)
{
	h_start();
	h_send(CALL(1, "later", "{\"ms\":50}"));
	h_send(PING(2));
	h_expect(PONG(2));
	/* Input stays open: the signal alone ends the session. */
	ck_assert_int_eq(pthread_kill(H.th, SIGTERM), 0);
	ck_assert_int_eq(h_wait_end(RESULT(1, TEXT("done")) "\n"), 0);
}
END_TEST

START_TEST(shutdown_from_a_tool)
{
	h_start();
	h_send(CALL(1, "later", "{\"ms\":50}"));
	h_send(CALL(2, "stop", "{}"));
	h_expect(RESULT(2, TEXT("stopping")));
	ck_assert_int_eq(h_wait_end(RESULT(1, TEXT("done")) "\n"), 0);
}
END_TEST

START_TEST(write_error_exits_1)
{
	struct mcp_server_opts o = { 0 };

	h_start_opts(&o, tools, NTOOLS);
	h_send(CALL(1, "later", "{\"ms\":300}"));
	h_send(CALL(2, "hang", "{}"));
	h_send(PING(3));
	h_expect(PONG(3));
	/* Our end is closed: the server sees EOF, waits for its calls, and
	   the result of call 1 meets EPIPE: status 1, at once, and the
	   hanging call is cancelled rather than waited for. */
	close(H.fd);
	pthread_join(H.th, NULL);
	ck_assert_int_eq(H.status, 1);
	ck_assert_int_eq(atomic_load(&cancels), 1);
	mcp_server_free(H.srv);
	ev_loop_destroy(H.loop);
	close(H.sfd);
}
END_TEST

/* ---- logging ---- */

START_TEST(logging_levels)
{
	h_start();
	h_send(CALL(1, "logs", "{}"));
	/* default level info: debug filtered; secrets redacted */
	h_expect(RPC "\"method\":\"notifications/message\",\"params\":"
	    "{\"level\":\"info\",\"data\":{\"apiToken\":\"[REDACTED]\","
	    "\"n\":1}}}");
	h_expect(RPC "\"method\":\"notifications/message\",\"params\":"
	    "{\"level\":\"error\",\"logger\":\"t\",\"data\":\"e\"}}");
	h_expect(RESULT(1, TEXT("logged")));
	h_send(RPC "\"id\":2,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"error\"}}");
	h_expect(RESULT(2, "{}"));
	h_send(CALL(3, "logs", "{}"));
	h_expect(RPC "\"method\":\"notifications/message\",\"params\":"
	    "{\"level\":\"error\",\"logger\":\"t\",\"data\":\"e\"}}");
	h_expect(RESULT(3, TEXT("logged")));
	h_send(RPC "\"id\":4,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"debug\"}}");
	h_expect(RESULT(4, "{}"));
	h_send(CALL(5, "logs", "{}"));
	h_expect(RPC "\"method\":\"notifications/message\",\"params\":"
	    "{\"level\":\"debug\",\"logger\":\"t\",\"data\":\"d\"}}");
	h_expect(RPC "\"method\":\"notifications/message\",\"params\":"
	    "{\"level\":\"info\",\"data\":{\"apiToken\":\"[REDACTED]\","
	    "\"n\":1}}}");
	h_expect(RPC "\"method\":\"notifications/message\",\"params\":"
	    "{\"level\":\"error\",\"logger\":\"t\",\"data\":\"e\"}}");
	h_expect(RESULT(5, TEXT("logged")));
	h_send(RPC "\"id\":6,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"banana\"}}");
	h_expect(ERROR(6, -32602, "invalid params: level must be one of "
	    "debug, info, notice, warning, error, critical, alert, emergency"));
	h_send(RPC "\"id\":7,\"method\":\"logging/setLevel\"}");
	h_expect(ERROR(7, -32602, "invalid params: level must be one of "
	    "debug, info, notice, warning, error, critical, alert, emergency"));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

/* ---- back-pressure ---- */

START_TEST(backpressure_bounded)
{
	struct mcp_server_opts o = { .max_out = 64 * 1024 };
	static const char req[] = RPC "\"id\":1,\"method\":\"tools/call\","
	    "\"params\":{\"name\":\"big\"}}\n";
	struct pollfd pfd = { 0 };
	size_t sent = 0, off = 0, n_req, got = 0, i;
	char buf[65536];
	ssize_t n;
	int fl;

	h_start_opts(&o, tools, NTOOLS);
	fl = fcntl(H.fd, F_GETFL);
	fcntl(H.fd, F_SETFL, fl | O_NONBLOCK);
	/*
	 * Never read: the server's output fills the socket, then its queue
	 * reaches the high-water mark and it stops reading us, so our writes
	 * block.  Without back-pressure it would read every request and
	 * queue (or refuse) every 16 KiB answer.
	 */
	pfd.fd = H.fd;
	pfd.events = POLLOUT;
	for (;;) {
		n = write(H.fd, req + off, sizeof(req) - 1 - off);
		if (n > 0) {
			off += (size_t)n;
			if (off == sizeof(req) - 1) {
				off = 0;
				sent++;
			}
			ck_assert_msg(sent < 200000, "server never stopped "
			    "reading");
			continue;
		}
		ck_assert(errno == EAGAIN);
		if (poll(&pfd, 1, 300 * t_slow()) == 0)
			break;
	}
	ck_assert_uint_gt(sent, 0);
	ck_assert(t_alive(getpid()));
	/* Drain: finish the partial request, read every answer. */
	n_req = sent + (off ? 1 : 0);
	pfd.events = POLLIN | (off ? POLLOUT : 0);
	while (got < n_req) {
		ck_assert_int_gt(poll(&pfd, 1, 5000 * t_slow()), 0);
		if ((pfd.revents & POLLOUT) && off) {
			n = write(H.fd, req + off, sizeof(req) - 1 - off);
			if (n > 0 && (off += (size_t)n) == sizeof(req) - 1) {
				off = 0;
				pfd.events = POLLIN;
			}
		}
		if (pfd.revents & POLLIN) {
			n = read(H.fd, buf, sizeof(buf));
			ck_assert_int_gt(n, 0);
			for (i = 0; i < (size_t)n; i++)
				got += buf[i] == '\n';
			/* Every answer is a real result, never "queue full". */
			ck_assert_ptr_null(memmem(buf, (size_t)n, "error", 5));
		}
	}
	ck_assert_uint_eq(got, n_req);
	fcntl(H.fd, F_SETFL, fl);
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

START_TEST(tools_changed_notification)
{
	h_start();
	h_send(CALL(1, "changed", "{}"));
	h_expect(RPC "\"method\":\"notifications/tools/list_changed\"}");
	h_expect(RESULT(1, TEXT("ok")));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

/* ---- raw-arguments tools (mcp_server_add_tool_raw) ---- */

/* "N:" when args is NULL, "T:" when a tree; then the arguments text (as
   sent) or the tree's encoding; "|p" with a progress token. */
static void
fn_rawinfo(struct mcp_call *c, const json_t *args, void *u)
{
	const char *raw;
	char *dump = NULL, *text = NULL;
	size_t len = 0;

	if ((raw = mcp_call_arguments_raw(c, &len)) == NULL) {
		dump = json_dumps(args, JSON_COMPACT);
		raw = dump ? dump : "?";
		len = strlen(raw);
	}
	ck_assert_int_ne(asprintf(&text, "%s:%.*s%s", args ? "T" : "N",
	    (int)len, raw, mcp_call_has_progress(c) ? "|p" : ""), -1);
	mcp_call_return(c, NULL, text);
	free(text);
	free(dump);
}

static void
raw_register(void)
{
	json_t *l;
	char err[256];

	l = json_pack("{s:s, s:{s:s}}", "name", "j.t", "inputSchema", "type",
	    "object");
	ck_assert_int_eq(mcp_server_add_tool_json(H.srv, l, fn_rawinfo, NULL,
	    err, sizeof(err)), 0);
	json_object_set_new(l, "name", json_string("r.t"));
	ck_assert_int_eq(mcp_server_add_tool_raw(H.srv, l, fn_rawinfo, NULL,
	    err, sizeof(err)), 0);
	ck_assert_int_eq(mcp_server_add_tool_raw(H.srv, l, fn_rawinfo, NULL,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "tool r.t: name already registered");
	json_decref(l);
}

static void
h_start_raw(void)
{
	struct mcp_server_opts o = { 0 };

	h_pre = raw_register;
	h_start_opts(&o, NULL, 0);
	h_pre = NULL;
}

#define RAWHEAD	RPC "\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\""

/*
 * Call tool j.t (a JSON tool: params parsed) and r.t (raw arguments: not
 * parsed when the text allows) with the params members after the name
 * given by rest; want_j and want_r are the exact answers.
 */
static void
raw_same(const char *rest, const char *want_j, const char *want_r)
{
	char req[1024];

	snprintf(req, sizeof(req), "%s%s\"%s}}", RAWHEAD, "j.t", rest);
	h_send(req);
	h_expect(want_j);
	snprintf(req, sizeof(req), "%s%s\"%s}}", RAWHEAD, "r.t", rest);
	h_send(req);
	h_expect(want_r);
}

#define RAWCALL(args)	args
#define BADARGS	ERROR(7, -32602, "invalid params: arguments must be an object")

START_TEST(raw_tool_calls)
{
	h_start_raw();
	/* Arguments of a wrong type: answered exactly as before. */
	raw_same(RAWCALL(",\"arguments\":\"s\""), BADARGS, BADARGS);
	raw_same(RAWCALL(",\"arguments\":5"), BADARGS, BADARGS);
	raw_same(RAWCALL(",\"arguments\":[1]"), BADARGS, BADARGS);
	raw_same(RAWCALL(",\"arguments\":true"), BADARGS, BADARGS);
	raw_same(RAWCALL(" , \"arguments\" : [ ] "), BADARGS, BADARGS);
	/* Absent or null arguments: the tree {} for both. */
	raw_same(RAWCALL(""), RESULT(7, TEXT("T:{}")), RESULT(7, TEXT("T:{}")));
	raw_same(RAWCALL(",\"arguments\":null"), RESULT(7, TEXT("T:{}")),
	    RESULT(7, TEXT("T:{}")));
	/* An object: its text as sent; no tree for the raw tool. */
	raw_same(RAWCALL(",\"arguments\":{\"a\": [1, \"x\"]}"),
	    RESULT(7, TEXT("T:{\\\"a\\\": [1, \\\"x\\\"]}")),
	    RESULT(7, TEXT("N:{\\\"a\\\": [1, \\\"x\\\"]}")));
	/* _meta before the arguments; a progress token is seen. */
	h_send(RPC "\"id\":8,\"method\":\"tools/call\",\"params\":{\"_meta\":"
	    "{\"progressToken\":\"tk\"},\"arguments\":{},\"name\":\"r.t\"}}");
	h_expect(RESULT(8, TEXT("N:{}|p")));
	h_send(RPC "\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"r.t\",\"arguments\":{},\"_meta\":{\"progressToken\":1.5}}}");
	h_expect(RESULT(9, TEXT("N:{}")));
	/* An escaped name: the params tree decides, as for any tool. */
	h_send(RPC "\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"r\\u002et\",\"arguments\":{\"b\":2}}}");
	h_expect(RESULT(10, TEXT("T:{\\\"b\\\":2}")));
	/* Errors before the tool is known: unchanged. */
	h_send(RPC "\"id\":11,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"r.zz\",\"arguments\":{}}}");
	h_expect(ERROR(11, -32602, "Unknown tool: r.zz"));
	h_send(RPC "\"id\":12,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "5,\"arguments\":\"x\"}}");
	h_expect(ERROR(12, -32602, "invalid params: name must be a string"));
	/* Duplicate members: refused as any message is. */
	h_send(RPC "\"id\":13,\"method\":\"tools/call\",\"params\":{\"name\":"
	    "\"j.t\",\"name\":\"j.t\"}}");
	{
		char *a = h_line(), *b;

		h_send(RPC "\"id\":13,\"method\":\"tools/call\",\"params\":{"
		    "\"name\":\"r.t\",\"name\":\"r.t\"}}");
		b = h_line();
		ck_assert_str_eq(a, b);
		ck_assert_msg(strstr(a, "\"error\"") != NULL, "%s", a);
		free(a);
		free(b);
	}
	/* Other methods still get their params. */
	h_send(RPC "\"id\":14,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"loud\"}}");
	h_expect(ERROR(14, -32602, "invalid params: level must be one of "
	    "debug, info, notice, warning, error, critical, alert, emergency"));
	h_send(RPC "\"id\":15,\"method\":\"logging/setLevel\",\"params\":"
	    "{\"level\":\"error\"}}");
	h_expect(PONG(15));
	ck_assert_int_eq(h_stop(), 0);
}
END_TEST

static Suite *
server_suite(void)
{
	Suite *s = suite_create("mcp_server");
	TCase *tc = tcase_create("protocol");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, initialize_versions);
	tcase_add_test(tc, instructions_present);
	tcase_add_test(tc, requests_before_initialize);
	tcase_add_test(tc, content_length_detected);
	tcase_add_test(tc, tools_list_pagination);
	tcase_add_test(tc, tools_list_shape);
	tcase_add_test(tc, add_tool_errors);
	tcase_add_test(tc, call_errors);
	tcase_add_test(tc, schema_errors_are_tool_results);
	tcase_add_test(tc, structured_content);
	tcase_add_test(tc, progress_with_token);
	tcase_add_test(tc, logging_levels);
	tcase_add_test(tc, tools_changed_notification);
	tcase_add_test(tc, raw_tool_calls);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, cancel_runs_hook_and_suppresses);
	tcase_add_test(tc, cancel_without_hook_suppresses);
	tcase_add_test(tc, eof_waits_for_calls);
	tcase_add_test(tc, grace_expiry_cancels);
	tcase_add_test(tc, sigterm_finishes_calls);
	tcase_add_test(tc, shutdown_from_a_tool);
	tcase_add_test(tc, write_error_exits_1);
	tcase_add_test(tc, backpressure_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_run(server_suite());
}
