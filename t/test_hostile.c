/*
 * Hostile input fed to the real t/conformance-server process.  Every case
 * states the exact bytes the peer gets back, then proves the process still
 * serves (a ping is answered) or that it ended the way it should.
 *
 * Behaviour table (N = NDJSON, C = Content-Length; "then" = what follows):
 *
 *  input                                    reply                     then
 *  ---------------------------------------  ------------------------  -----
 *  N truncated JSON line                    -32700 id null            ping
 *  N invalid UTF-8 in a string              -32700 id null            ping
 *  N id null / object / 1.5                 -32600 id null            ping
 *  N id missing (a notification)            none                      ping
 *  N method missing / not a string          -32600 with the id        ping
 *  N params a string                        -32600 with the id        ping
 *  N batch array                            -32600 id null            ping
 *  N unknown notification                   none                      ping
 *  N response to an id we never sent        none                      ping
 *  N 10,000 levels of nesting               -32600 with the id        ping
 *  N unknown method                         -32601 with the id        ping
 *  N line of max+1 bytes (max = 1024)       -32600 id null            ping
 *  N line of exactly max bytes              answered                  ping
 *  N/C one byte per write                   answered                  ping
 *  N/C 1000 requests in one write           1000 answers in order     ping
 *  C body of max+1 bytes                    -32600 id null (skipped)  ping
 *  C body of exactly max bytes              answered                  ping
 *  C Content-Length > max, body never sent  -32600 id null            alive;
 *                                           (body being skipped)      EOF ->
 *                                                                     exit 0
 *  C Content-Length negative / overflowing  -32700 id null            stream
 *    / non-numeric / repeated differently   (fatal: cannot resync)    closes,
 *                                                                     exit 1
 *  C header, then body + CRLF without the    -32700 "repeated with a   stream
 *    blank line, then the next frame         different value"         closes,
 *    (the body reads as a header line)                                exit 1
 *  C header then body without blank line,   -32700 "end of input      exit 0
 *    then EOF                                inside a header block",
 *                                            sent after the EOF
 *  EOF with a call in flight                the call's result          exit 0
 *  SIGTERM with a call in flight            the call's result          exit 0
 *  stdout closed by the peer                (EPIPE)                    exit 1
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define PING_N	"{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}"
#define PONG	"{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"result\":{}}"
#define ERR_NULL(code, msg) \
	"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":" #code \
	",\"message\":\"" msg "\"}}"
#define ERR_ID(id, code, msg) \
	"{\"jsonrpc\":\"2.0\",\"id\":" id ",\"error\":{\"code\":" #code \
	",\"message\":\"" msg "\"}}"

enum mode { NDJ, CL };
enum end {
	END_PING,	/* a ping is then answered */
	END_FATAL,	/* the stream closes by itself; exit status 1 */
	END_EOF,	/* alive; we close stdin; exit status 0 */
	END_CLOSE,	/* we close stdin at once; the reply; exit status 0 */
};

struct hcase {
	const char	*name;
	enum mode	 mode;
	const char	*input;		/* raw bytes, framed as they are sent */
	const char	*expect[4];	/* reply bodies, in order */
	enum end	 end;
	const char	*max_msg;	/* AFU9_MAX_MESSAGE_BYTES or NULL */
};

/* A growable string for building inputs and expectations. */
struct str {
	char	*s;
	size_t	 len;
};

static void
str_add(struct str *b, const void *p, size_t n)
{
	b->s = realloc(b->s, b->len + n + 1);
	ck_assert_ptr_nonnull(b->s);
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
str_cat(struct str *b, const char *s)
{
	str_add(b, s, strlen(s));
}

/* Append one message body framed per mode. */
static void
str_frame(struct str *b, enum mode m, const char *body)
{
	char hdr[64];

	if (m == NDJ) {
		str_cat(b, body);
		str_cat(b, "\n");
		return;
	}
	snprintf(hdr, sizeof(hdr), "Content-Length: %zu\r\n\r\n", strlen(body));
	str_cat(b, hdr);
	str_cat(b, body);
}

static void
spawn_server(struct tproc *p, const char *max_msg)
{
	char *argv[] = { (char *)t_builddir("t/conformance-server"), NULL };

	if (max_msg)
		setenv("AFU9_MAX_MESSAGE_BYTES", max_msg, 1);
	ck_assert_int_eq(t_spawn(p, argv, NULL, 0), 0);
	unsetenv("AFU9_MAX_MESSAGE_BYTES");
}

static void
send_bytes(struct tproc *p, const char *data, size_t len, size_t chunk)
{
	size_t off, n;

	if (chunk == 0)
		chunk = len;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		ck_assert_int_eq(t_write(p->in, data + off, n), 0);
	}
}

static int
exit_status(int status)
{
	ck_assert_msg(status != -1, "server did not exit in time");
	ck_assert_msg(WIFEXITED(status), "server killed by a signal");
	return WEXITSTATUS(status);
}

/*
 * Send `input` (in writes of `chunk` bytes; 0: one write), then check the
 * output is exactly `expect` followed by what `end` says.
 */
static void
run(const char *name, enum mode mode, const char *input, size_t inlen,
    const char *expect, enum end end, const char *max_msg, size_t chunk)
{
	struct tproc p;
	struct str want = { 0 }, ping = { 0 };
	char *got = NULL;
	int eof;

	spawn_server(&p, max_msg);
	send_bytes(&p, input, inlen, chunk);
	str_cat(&want, expect);
	switch (end) {
	case END_PING:
		str_frame(&ping, mode, PING_N);
		ck_assert_int_eq(t_write(p.in, ping.s, ping.len), 0);
		free(ping.s);
		ping.s = NULL;
		ping.len = 0;
		str_frame(&ping, mode, PONG);
		str_cat(&want, ping.s);
		got = t_read_until(p.out, ping.s, 10000, &eof);
		ck_assert_msg(got && strcmp(got, want.s) == 0,
		    "%s: got [%s] want [%s]", name, got ? got : "(nothing)",
		    want.s);
		ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 0);
		break;
	case END_FATAL:
		got = t_read_until(p.out, NULL, 10000, &eof);
		ck_assert_msg(eof, "%s: stream not closed", name);
		ck_assert_msg(got && strcmp(got, want.s) == 0,
		    "%s: got [%s] want [%s]", name, got ? got : "(nothing)",
		    want.s);
		ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 1);
		break;
	case END_CLOSE:
		close(p.in);
		p.in = -1;
		got = t_read_until(p.out, NULL, 10000, &eof);
		ck_assert_msg(eof, "%s: stream not closed", name);
		ck_assert_msg(got && strcmp(got, want.s) == 0,
		    "%s: got [%s] want [%s]", name, got ? got : "(nothing)",
		    want.s);
		ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 0);
		break;
	case END_EOF:
		got = t_read_until(p.out, want.s, 10000, &eof);
		ck_assert_msg(got && strcmp(got, want.s) == 0,
		    "%s: got [%s] want [%s]", name, got ? got : "(nothing)",
		    want.s);
		ck_assert_msg(!eof && t_alive(p.pid), "%s: server gone", name);
		free(got);
		close(p.in);
		p.in = -1;
		got = t_read_until(p.out, NULL, 10000, &eof);
		ck_assert_msg(eof && got && *got == '\0',
		    "%s: unexpected output at EOF [%s]", name, got);
		ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 0);
		break;
	}
	free(got);
	free(want.s);
	free(ping.s);
}

static void
run_case(const struct hcase *c)
{
	struct str want = { 0 };
	int i;

	for (i = 0; i < 4 && c->expect[i]; i++)
		str_frame(&want, c->mode, c->expect[i]);
	run(c->name, c->mode, c->input, strlen(c->input),
	    want.s ? want.s : "", c->end, c->max_msg, 0);
	free(want.s);
}

#define CLH(n)	"Content-Length: " #n "\r\n\r\n"

static const struct hcase cases[] = {
	{ "truncated JSON", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"\n",
	    { ERR_NULL(-32700, "parse error: '}' expected near end of file "
	    "at line 1 column 39") }, END_PING, NULL },
	{ "invalid UTF-8", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":"
	    "{\"x\":\"\xff\"}}\n",
	    { ERR_NULL(-32700, "parse error: unable to decode byte 0xff near "
	    "'\\\"' at line 1 column 55") }, END_PING, NULL },
	{ "id null", NDJ, "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}\n",
	    { ERR_NULL(-32600, "invalid request: 'id' must be a string or "
	    "integer") }, END_PING, NULL },
	{ "id object", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":{\"a\":1},\"method\":\"ping\"}\n",
	    { ERR_NULL(-32600, "invalid request: 'id' must be a string or "
	    "integer") }, END_PING, NULL },
	{ "id float", NDJ, "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}\n",
	    { ERR_NULL(-32600, "invalid request: 'id' must be a string or "
	    "integer") }, END_PING, NULL },
	{ "id missing is a notification", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n", { NULL }, END_PING, NULL },
	{ "method missing", NDJ, "{\"jsonrpc\":\"2.0\",\"id\":5}\n",
	    { ERR_ID("5", -32600, "invalid request: 'method' is missing") },
	    END_PING, NULL },
	{ "method not a string", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":7}\n",
	    { ERR_ID("6", -32600, "invalid request: 'method' must be a "
	    "string") }, END_PING, NULL },
	{ "params a string", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":\"x\"}\n",
	    { ERR_ID("7", -32600, "invalid request: 'params' must be an "
	    "object") }, END_PING, NULL },
	{ "batch array", NDJ,
	    "[{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}]\n",
	    { ERR_NULL(-32600, "invalid request: batches are not supported") },
	    END_PING, NULL },
	{ "unknown notification", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/whatever\"}\n",
	    { NULL }, END_PING, NULL },
	{ "response to an id never sent", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"zz\",\"result\":{}}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":1,\"message\":\"x\"}}\n",
	    { NULL }, END_PING, NULL },
	{ "unknown method", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"m\",\"method\":\"resources/list\"}\n",
	    { ERR_ID("\"m\"", -32601, "Method not found") }, END_PING, NULL },
	{ "string id echoed byte for byte", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041b\",\"method\":\"ping\"}\n",
	    { "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041b\",\"result\":{}}" },
	    END_PING, NULL },
	{ "ids -0 and 19 digits echoed as sent", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":-0,\"method\":\"ping\"}\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"method\":"
	    "\"ping\"}\n",
	    { "{\"jsonrpc\":\"2.0\",\"id\":-0,\"result\":{}}",
	    "{\"jsonrpc\":\"2.0\",\"id\":-9223372036854775808,\"result\":"
	    "{}}" }, END_PING, NULL },
	{ "id beyond int64", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":9223372036854775808,\"method\":"
	    "\"ping\"}\n",
	    { ERR_NULL(-32600, "invalid request: too big integer near "
	    "'9223372036854775808' at line 1 column 41") }, END_PING, NULL },
	{ "escaped member names and method", NDJ,
	    "{\"json\\u0072pc\":\"2.0\",\"\\u0069d\":\"e\",\"method\":"
	    "\"p\\u0069ng\"}\n",
	    { "{\"jsonrpc\":\"2.0\",\"id\":\"e\",\"result\":{}}" },
	    END_PING, NULL },
	{ "duplicate member in params", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":"
	    "{\"a\":1,\"a\":1}}\n",
	    { ERR_ID("4", -32600, "invalid request: duplicate object key near "
	    "'\\\"a\\\"' at line 1 column 59") }, END_PING, NULL },
	{ "duplicate envelope member", NDJ,
	    "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"method\":"
	    "\"ping\"}\n",
	    { ERR_ID("4", -32600, "invalid request: duplicate object key near "
	    "'\\\"method\\\"' at line 1 column 48") }, END_PING, NULL },
	{ "CL well-formed", CL,
	    CLH(40) "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
	    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}" }, END_PING, NULL },
	{ "CL negative", CL, CLH(-5),
	    { ERR_NULL(-32700, "Content-Length is negative") }, END_FATAL, NULL },
	{ "CL overflowing", CL, CLH(99999999999999999999999),
	    { ERR_NULL(-32700, "Content-Length overflows") }, END_FATAL, NULL },
	{ "CL non-numeric", CL, CLH(abc),
	    { ERR_NULL(-32700, "Content-Length is not a decimal number") },
	    END_FATAL, NULL },
	{ "CL repeated with different values", CL,
	    "Content-Length: 10\r\nContent-Length: 11\r\n\r\n",
	    { ERR_NULL(-32700, "Content-Length repeated with a different "
	    "value") }, END_FATAL, NULL },
	{ "CL repeated with the same value", CL,
	    "Content-Length: 40\r\ncontent-length: 40\r\n\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
	    { "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}" }, END_PING, NULL },
	{ "CL missing blank line, next frame follows", CL,
	    "Content-Length: 40\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n"
	    "Content-Length: 44\r\n\r\n" PING_N,
	    { ERR_NULL(-32700, "Content-Length repeated with a different "
	    "value") }, END_FATAL, NULL },
	{ "CL missing blank line, then EOF", CL,
	    "Content-Length: 40\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
	    { ERR_NULL(-32700, "end of input inside a header block") },
	    END_CLOSE, NULL },
	{ "CL huge, body never sent", CL, CLH(4294967296),
	    { ERR_NULL(-32600, "message of 4294967296 bytes exceeds the limit "
	    "of 16777216 bytes") }, END_EOF, NULL },
};

START_TEST(table)
{
	run_case(&cases[_i]);
}
END_TEST

/* A ping request of exactly `size` bytes (padding in params). */
static char *
ping_of_size(size_t size, const char *id)
{
	struct str b = { 0 };
	size_t n;

	str_cat(&b, "{\"jsonrpc\":\"2.0\",\"id\":");
	str_cat(&b, id);
	str_cat(&b, ",\"method\":\"ping\",\"params\":{\"pad\":\"");
	n = b.len + 3;
	ck_assert_uint_le(n, size);
	while (b.len < size - 3)
		str_cat(&b, "x");
	str_cat(&b, "\"}}");
	ck_assert_uint_eq(b.len, size);
	return b.s;
}

static void
limit_case(enum mode mode)
{
	struct str in = { 0 }, want = { 0 };
	char *at = ping_of_size(1024, "1"), *over = ping_of_size(1025, "2");

	str_frame(&in, mode, at);
	str_frame(&in, mode, over);
	str_frame(&want, mode, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
	str_frame(&want, mode, mode == NDJ ?
	    ERR_NULL(-32600, "message line exceeds the limit of 1024 bytes") :
	    ERR_NULL(-32600, "message of 1025 bytes exceeds the limit of "
	    "1024 bytes"));
	run(mode == NDJ ? "NDJSON limit" : "CL limit", mode, in.s, in.len,
	    want.s, END_PING, "1024", 0);
	free(at);
	free(over);
	free(in.s);
	free(want.s);
}

START_TEST(one_byte_over_limit_ndjson)
{
	limit_case(NDJ);
}
END_TEST

START_TEST(one_byte_over_limit_cl)
{
	limit_case(CL);
}
END_TEST

static void
byte_per_write(enum mode mode)
{
	struct str in = { 0 }, want = { 0 };

	str_frame(&in, mode, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":"
	    "{\"text\":\"h\\u00e9llo\"}}}");
	str_frame(&want, mode, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
	    "{\"content\":[{\"type\":\"text\",\"text\":\"h\xc3\xa9llo\"}]}}");
	run("one byte per write", mode, in.s, in.len, want.s, END_PING, NULL, 1);
	free(in.s);
	free(want.s);
}

START_TEST(one_byte_per_write_ndjson)
{
	byte_per_write(NDJ);
}
END_TEST

START_TEST(one_byte_per_write_cl)
{
	byte_per_write(CL);
}
END_TEST

static void
thousand(enum mode mode)
{
	struct str in = { 0 }, want = { 0 };
	char buf[128];
	int i;

	for (i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf),
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"ping\"}", i);
		str_frame(&in, mode, buf);
		snprintf(buf, sizeof(buf),
		    "{\"jsonrpc\":\"2.0\",\"id\":%d,\"result\":{}}", i);
		str_frame(&want, mode, buf);
	}
	run("1000 messages in one write", mode, in.s, in.len, want.s,
	    END_PING, NULL, 0);
	free(in.s);
	free(want.s);
}

START_TEST(thousand_messages_one_write_ndjson)
{
	thousand(NDJ);
}
END_TEST

START_TEST(thousand_messages_one_write_cl)
{
	thousand(CL);
}
END_TEST

START_TEST(deep_nesting)
{
	struct str in = { 0 }, want = { 0 };
	int i;

	str_cat(&in, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\","
	    "\"params\":{\"a\":");
	for (i = 0; i < 10000; i++)
		str_cat(&in, "[");
	for (i = 0; i < 10000; i++)
		str_cat(&in, "]");
	str_cat(&in, "}}\n");
	str_frame(&want, NDJ, ERR_ID("9", -32600,
	    "invalid request: nesting deeper than 2048 levels"));
	run("10,000 levels of nesting", NDJ, in.s, in.len, want.s, END_PING,
	    NULL, 0);
	free(in.s);
	free(want.s);
}
END_TEST

/*
 * At jansson's bound: the envelope, params, its member's array and 2045
 * more arrays are 2048 levels, answered; one level more is refused with
 * the id.
 */
START_TEST(nesting_at_the_bound)
{
	struct str in = { 0 }, want = { 0 };
	int i, n;

	for (n = 2046; n <= 2047; n++) {
		str_cat(&in, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":"
		    "\"ping\",\"params\":{\"a\":");
		for (i = 0; i < n; i++)
			str_cat(&in, "[");
		for (i = 0; i < n; i++)
			str_cat(&in, "]");
		str_cat(&in, "}}\n");
		str_frame(&want, NDJ, n == 2046 ?
		    "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}" :
		    ERR_ID("9", -32600, "invalid request: nesting deeper than "
		    "2048 levels"));
	}
	run("nesting at the bound", NDJ, in.s, in.len, want.s, END_PING, NULL,
	    0);
	free(in.s);
	free(want.s);
}
END_TEST

#define SLEEP_REQ(id, ms) \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"method\":\"tools/call\"," \
	"\"params\":{\"name\":\"sleep\",\"arguments\":{\"ms\":" #ms "}}}\n"
#define SLEPT(id, ms) \
	"{\"jsonrpc\":\"2.0\",\"id\":" #id ",\"result\":{\"content\":" \
	"[{\"type\":\"text\",\"text\":\"slept " #ms " ms\"}]}}\n"

START_TEST(eof_with_call_in_flight)
{
	static const char req[] = SLEEP_REQ(1, 300);
	struct tproc p;
	char *got;
	int eof;

	spawn_server(&p, NULL);
	ck_assert_int_eq(t_write(p.in, req, strlen(req)), 0);
	close(p.in);
	p.in = -1;
	got = t_read_until(p.out, NULL, 10000, &eof);
	ck_assert(eof);
	ck_assert_str_eq(got, SLEPT(1, 300));
	ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 0);
	free(got);
}
END_TEST

START_TEST(sigterm_with_call_in_flight)
{
	static const char req[] = SLEEP_REQ(1, 400) PING_N "\n";
	struct tproc p;
	char *got;
	int eof;

	spawn_server(&p, NULL);
	ck_assert_int_eq(t_write(p.in, req, strlen(req)), 0);
	/* The ping answer proves the sleep call was dispatched before it. */
	got = t_read_until(p.out, PONG "\n", 10000, &eof);
	ck_assert_str_eq(got, PONG "\n");
	free(got);
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	got = t_read_until(p.out, NULL, 10000, &eof);
	ck_assert(eof);
	ck_assert_str_eq(got, SLEPT(1, 400));
	ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 0);
	free(got);
}
END_TEST

START_TEST(sigterm_idle)
{
	struct tproc p;
	char *got;
	int eof;

	spawn_server(&p, NULL);
	ck_assert_int_eq(t_write(p.in, PING_N "\n", strlen(PING_N) + 1), 0);
	got = t_read_until(p.out, PONG "\n", 10000, &eof);
	ck_assert_str_eq(got, PONG "\n");
	free(got);
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	/* stdin stays open: the signal alone ends the session. */
	got = t_read_until(p.out, NULL, 10000, &eof);
	ck_assert(eof);
	ck_assert_str_eq(got, "");
	free(got);
	ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 0);
}
END_TEST

START_TEST(closed_stdout_epipe)
{
	static const char req[] = SLEEP_REQ(1, 100) PING_N "\n";
	struct tproc p;

	spawn_server(&p, NULL);
	close(p.out);
	p.out = -1;
	ck_assert_int_eq(t_write(p.in, req, strlen(req)), 0);
	/* The ping reply hits EPIPE: exit 1 without waiting for the sleep. */
	ck_assert_int_eq(exit_status(t_finish(&p, 10000)), 1);
}
END_TEST

static Suite *
hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("input");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, one_byte_over_limit_ndjson);
	tcase_add_test(tc, one_byte_over_limit_cl);
	tcase_add_test(tc, one_byte_per_write_ndjson);
	tcase_add_test(tc, one_byte_per_write_cl);
	tcase_add_test(tc, thousand_messages_one_write_ndjson);
	tcase_add_test(tc, thousand_messages_one_write_cl);
	tcase_add_test(tc, deep_nesting);
	tcase_add_test(tc, nesting_at_the_bound);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, eof_with_call_in_flight);
	tcase_add_test(tc, sigterm_with_call_in_flight);
	tcase_add_test(tc, sigterm_idle);
	tcase_add_test(tc, closed_stdout_epipe);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return t_run(hostile_suite());
}
