#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "frame.h"
#include "rpc.h"
#include "testutil.h"

/*
 * Check's ck_assert records a checkpoint (a write to a pipe) on every
 * success; loops that assert per byte use this instead.
 */
#define QUIET_ASSERT(c) do { \
	if (!(c)) \
		ck_abort_msg("%s:%d: assertion failed: %s", __FILE__, \
		    __LINE__, #c); \
} while (0)

/*
 * Event transcript of a reader run: "M:<body>\n" per message,
 * "B<code>\n" per bad message, "F<code>\n" for fatal (the run stops),
 * "E\n" when frame_reader_eof() reports a partial message at the end.
 */
struct transcript {
	char	*s;
	size_t	 len, cap;
};

static void
tr_add(struct transcript *t, const char *p, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		if ((t->s = realloc(t->s, t->cap)) == NULL)
			ck_abort_msg("out of memory");
	}
	memcpy(t->s + t->len, p, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void
tr_addf(struct transcript *t, const char *tag, int code)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%s%d\n", tag, code);

	tr_add(t, b, (size_t)n);
}

/* Drain events into t; returns 1 once the stream turned fatal. */
static int
drain(struct frame_reader *r, struct transcript *t)
{
	const char *msg;
	size_t len;
	enum frame_status st;

	for (;;) {
		st = frame_reader_next(r, &msg, &len);
		switch (st) {
		case FRAME_MORE:
			return 0;
		case FRAME_MSG:
			tr_add(t, "M:", 2);
			tr_add(t, msg, len);
			tr_add(t, "\n", 1);
			break;
		case FRAME_BAD:
			QUIET_ASSERT(r->err[0] != '\0');
			tr_addf(t, "B", r->err_code);
			break;
		case FRAME_FATAL:
			QUIET_ASSERT(r->err[0] != '\0');
			tr_addf(t, "F", r->err_code);
			/* fatal is sticky */
			ck_assert_int_eq(frame_reader_next(r, &msg, &len),
			    FRAME_FATAL);
			return 1;
		}
	}
}

/*
 * Run input through a fresh reader, `chunk` bytes per read (0: all at
 * once), draining after each read as a server loop does.  Returns the
 * transcript (caller frees); *modep gets the final r->mode.
 */
static char *
run(enum frame_mode mode, size_t max_msg, const char *in, size_t n,
    size_t chunk, enum frame_mode *modep)
{
	struct frame_reader r;
	struct transcript t = { NULL, 0, 0 };
	size_t off = 0, avail, k;
	char *p;
	int fatal = 0;

	tr_add(&t, "", 0);
	frame_reader_init(&r, mode, max_msg);
	while (off < n && !fatal) {
		p = frame_reader_space(&r, &avail);
		QUIET_ASSERT(p != NULL);
		k = n - off;
		if (chunk && k > chunk)
			k = chunk;
		if (k > avail)
			k = avail;
		memcpy(p, in + off, k);
		frame_reader_commit(&r, k);
		off += k;
		fatal = drain(&r, &t);
		QUIET_ASSERT(buf_used(&r.in) <= r.max_msg +
		    FRAME_MAX_HEADER_BLOCK);
	}
	if (!fatal && frame_reader_eof(&r)) {
		ck_assert(r.err[0] != '\0');
		tr_add(&t, "E\n", 2);
	}
	if (modep)
		*modep = r.mode;
	frame_reader_free(&r);
	return t.s;
}

/* Same transcript for every chunking, including one byte at a time. */
static void
expect(enum frame_mode mode, size_t max_msg, const char *in, size_t n,
    const char *want)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 7, 64, 1000 };
	size_t i;
	char *got;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		got = run(mode, max_msg, in, n, chunks[i], NULL);
		if (strcmp(got, want) != 0)
			ck_abort_msg("chunk %zu: input [%.*s]\n got [%s]\n "
			    "want [%s]", chunks[i], (int)(n > 200 ? 200 : n),
			    in, got, want);
		free(got);
	}
}

#define EXPECT(mode, max, in, want) \
	expect((mode), (max), (in), sizeof(in) - 1, (want))

START_TEST(cl_basic)
{
	EXPECT(FRAME_CL, 0, "Content-Length: 5\r\n\r\nhello", "M:hello\n");
	EXPECT(FRAME_CL, 0, "Content-Length: 5\n\nhello", "M:hello\n");
	EXPECT(FRAME_CL, 0, "Content-Length: 5\r\n\nhello", "M:hello\n");
	EXPECT(FRAME_CL, 0, "content-length:5\r\n\r\nhello", "M:hello\n");
	EXPECT(FRAME_CL, 0, "CONTENT-LENGTH: \t5 \t\r\n\r\nhello",
	    "M:hello\n");
	EXPECT(FRAME_CL, 0, "Content-Length: 005\r\n\r\nhello", "M:hello\n");
	EXPECT(FRAME_CL, 0,
	    "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
	    "Content-Length: 2\r\nX-Other: whatever: x\r\n\r\n{}",
	    "M:{}\n");
	EXPECT(FRAME_CL, 0, "Content-Length: 0\r\n\r\n"
	    "Content-Length: 1\r\n\r\nx", "M:\nM:x\n");
	/* two in a row, then a third split across everything */
	EXPECT(FRAME_CL, 0, "Content-Length: 3\r\n\r\nabc"
	    "Content-Length: 3\r\n\r\ndef" "Content-Length: 1\r\n\r\n\n",
	    "M:abc\nM:def\nM:\n\n");
	/* the body is opaque: header-looking bytes inside it are data */
	EXPECT(FRAME_CL, 0, "Content-Length: 21\r\n\r\n"
	    "Content-Length: 9\r\n\r\n", "M:Content-Length: 9\r\n\r\n\n");
}
END_TEST

START_TEST(cl_duplicates)
{
	EXPECT(FRAME_CL, 0, "Content-Length: 2\r\nContent-Length: 2\r\n\r\n"
	    "{}", "M:{}\n");
	EXPECT(FRAME_CL, 0, "Content-Length: 2\r\ncontent-length: 02\r\n\r\n"
	    "{}", "M:{}\n");
	EXPECT(FRAME_CL, 0, "Content-Length: 2\r\nContent-Length: 3\r\n\r\n"
	    "{}x", "F-32700\n");
}
END_TEST

START_TEST(cl_blank_lines_between_messages)
{
	EXPECT(FRAME_CL, 0, "\r\n\r\nContent-Length: 1\r\n\r\na\r\n"
	    "Content-Length: 1\r\n\r\nb\n", "M:a\nM:b\n");
}
END_TEST

/* Every header violation named in frame.h is fatal, with -32700. */
static const struct {
	const char	*name;
	const char	*in;
	const char	*err;	/* substring of r->err */
} cl_fatal[] = {
	{ "missing length", "Content-Type: x\r\n\r\n{}", "without Content-Length" },
	{ "empty length", "Content-Length:\r\n\r\n{}", "empty" },
	{ "blank length", "Content-Length:   \r\n\r\n{}", "empty" },
	{ "non-digits", "Content-Length: 5a\r\n\r\nhello", "decimal" },
	{ "hex", "Content-Length: 0x5\r\n\r\nhello", "decimal" },
	{ "plus sign", "Content-Length: +5\r\n\r\nhello", "decimal" },
	{ "inner space", "Content-Length: 1 2\r\n\r\nhello", "decimal" },
	{ "negative", "Content-Length: -5\r\n\r\nhello", "negative" },
	{ "float", "Content-Length: 5.0\r\n\r\nhello", "decimal" },
	{ "overflow", "Content-Length: 99999999999999999999999\r\n\r\n",
	  "overflows" },
	{ "overflow 2^64", "Content-Length: 18446744073709551616\r\n\r\n",
	  "overflows" },
	{ "disagreeing duplicate",
	  "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	  "different" },
	{ "no colon", "Content-Length 5\r\n\r\nhello", "without ':'" },
	{ "garbage first line", "hello world\n", "without ':'" },
	{ "no name", ": 5\r\n\r\nhello", "without a name" },
	{ "bare body", "}{\n", "without ':'" },
};

START_TEST(cl_fatal_table)
{
	const char *in = cl_fatal[_i].in;
	struct frame_reader r;
	const char *msg;
	size_t len;
	char *got;

	got = run(FRAME_CL, 0, in, strlen(in), 0, NULL);
	ck_assert_msg(strcmp(got, "F-32700\n") == 0, "%s: got %s",
	    cl_fatal[_i].name, got);
	free(got);
	got = run(FRAME_CL, 0, in, strlen(in), 1, NULL);
	ck_assert_msg(strcmp(got, "F-32700\n") == 0, "%s bytewise: got %s",
	    cl_fatal[_i].name, got);
	free(got);

	frame_reader_init(&r, FRAME_CL, 0);
	ck_assert_int_eq(frame_reader_feed(&r, in, strlen(in)), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_FATAL);
	ck_assert_msg(strstr(r.err, cl_fatal[_i].err) != NULL,
	    "%s: err '%s'", cl_fatal[_i].name, r.err);
	ck_assert_int_eq(r.err_code, RPC_PARSE_ERROR);
	/* more input does not revive it */
	ck_assert_int_eq(frame_reader_feed(&r, "Content-Length: 1\r\n\r\nx",
	    22), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_FATAL);
	ck_assert_int_eq(frame_reader_eof(&r), 0);
	frame_reader_free(&r);
}
END_TEST

/* A header line of exactly the limit passes; one byte more is fatal. */
static char *
long_header(size_t linelen, const char *eol)
{
	static const char pre[] = "Content-Length: 2\r\nX-Pad: ";
	size_t n = sizeof(pre) - 1, pad = linelen - 7;
	char *s = malloc(n + pad + 16);

	memcpy(s, pre, n);
	memset(s + n, 'a', pad);
	sprintf(s + n + pad, "%s\r\n{}", eol);
	return s;
}

START_TEST(cl_header_line_limit)
{
	char *in, *got;

	in = long_header(FRAME_MAX_HEADER_LINE, "\r\n");
	expect(FRAME_CL, 0, in, strlen(in), "M:{}\n");
	free(in);
	in = long_header(FRAME_MAX_HEADER_LINE, "\n");
	expect(FRAME_CL, 0, in, strlen(in), "M:{}\n");
	free(in);
	in = long_header(FRAME_MAX_HEADER_LINE + 1, "\r\n");
	expect(FRAME_CL, 0, in, strlen(in), "F-32700\n");
	free(in);
	/* and a line that never ends fails once it passes the limit */
	in = malloc(4096);
	memcpy(in, "Content-Length: 2\r\nX-Pad: ", 26);
	memset(in + 26, 'b', 4096 - 26);
	got = run(FRAME_CL, 0, in, 4096, 1, NULL);
	ck_assert_str_eq(got, "F-32700\n");
	free(got);
	free(in);
}
END_TEST

/*
 * An unfinished line is judged as soon as it cannot fit any more: a
 * partial header line of limit + 1 bytes may still be "...\r", one more
 * byte cannot; the same for an NDJSON line against max_msg.
 */
START_TEST(partial_line_limits)
{
	struct frame_reader r;
	const char *msg;
	size_t len;
	char pad[2048];

	memset(pad, 'a', sizeof(pad));
	frame_reader_init(&r, FRAME_CL, 0);
	ck_assert_int_eq(frame_reader_feed(&r, pad,
	    FRAME_MAX_HEADER_LINE + 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	ck_assert_int_eq(frame_reader_feed(&r, "a", 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_FATAL);
	ck_assert_str_eq(r.err, "header line longer than 1024 bytes");
	frame_reader_free(&r);

	frame_reader_init(&r, FRAME_NDJSON, 1024);
	ck_assert_int_eq(frame_reader_feed(&r, pad, 1025), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	ck_assert_int_eq(frame_reader_feed(&r, "a", 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_BAD);
	ck_assert_str_eq(r.err, "message line exceeds the limit of 1024 bytes");
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	ck_assert_uint_eq(buf_used(&r.in), 0);
	frame_reader_free(&r);
}
END_TEST

START_TEST(cl_header_block_limit)
{
	char in[FRAME_MAX_HEADER_BLOCK * 2], *got;
	size_t n = 0;
	struct frame_reader r;
	const char *msg;
	size_t len;

	/* 19 + 817 * 10 = 8189 header bytes: + "\r\n" fits in 8192,
	   + one more 10-byte line does not */
	n += (size_t)sprintf(in, "Content-Length: 2\r\n");
	while (n + 10 + 2 <= FRAME_MAX_HEADER_BLOCK) {
		memcpy(in + n, "X-Pad: 1\r\n", 10);
		n += 10;
	}
	/* now n + 2 <= 8192: a complete block that fits */
	memcpy(in + n, "\r\n{}", 4);
	expect(FRAME_CL, 0, in, n + 4, "M:{}\n");
	/* one more header line pushes it over */
	memcpy(in + n, "X-Pad: 1\r\n\r\n{}", 14);
	expect(FRAME_CL, 0, in, n + 14, "F-32700\n");

	/* headers forever, never a blank line: fatal, bounded memory */
	frame_reader_init(&r, FRAME_CL, 0);
	for (n = 0; n < 10000; n++) {
		QUIET_ASSERT(frame_reader_feed(&r, "X-Pad: 1\r\n", 10) == 0);
		if (frame_reader_next(&r, &msg, &len) == FRAME_FATAL)
			break;
	}
	ck_assert_uint_lt(n, FRAME_MAX_HEADER_BLOCK / 10 + 1);
	ck_assert(strstr(r.err, "header block") != NULL);
	frame_reader_free(&r);

	got = run(FRAME_AUTO, 0, "Content-Length: 2\r\n", 19, 0, NULL);
	ck_assert_str_eq(got, "E\n");
	free(got);
}
END_TEST

/* Oversize: BAD with -32600, the body is skipped, the stream goes on. */
START_TEST(cl_oversize_skipped)
{
	size_t max = FRAME_MIN_MAX_MSG, n;
	char *in = malloc(3 * max + 200), *want = malloc(2 * max + 64);
	char *got;

	/* exactly at the limit: delivered */
	n = (size_t)sprintf(in, "Content-Length: %zu\r\n\r\n", max);
	memset(in + n, 'a', max);
	n += max;
	/* one byte over: skipped */
	n += (size_t)sprintf(in + n, "Content-Length: %zu\r\n\r\n", max + 1);
	memset(in + n, 'b', max + 1);
	n += max + 1;
	n += (size_t)sprintf(in + n, "Content-Length: 2\r\n\r\n{}");
	strcpy(want, "M:");
	memset(want + 2, 'a', max);
	strcpy(want + 2 + max, "\nB-32600\nM:{}\n");
	expect(FRAME_CL, max, in, n, want);

	/* a huge declared length: skipped as it arrives, never buffered */
	got = run(FRAME_CL, max, "Content-Length: 1000000000000\r\n\r\nxyz",
	    36, 0, NULL);
	ck_assert_str_eq(got, "B-32600\n");	/* not E: already reported */
	free(got);
	free(in);
	free(want);
}
END_TEST

START_TEST(cl_oversize_message_text)
{
	struct frame_reader r;
	const char *msg;
	size_t len;
	static const char in[] = "Content-Length: 2000\r\n\r\n";

	frame_reader_init(&r, FRAME_CL, 1024);
	ck_assert_int_eq(frame_reader_feed(&r, in, sizeof(in) - 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_BAD);
	ck_assert_str_eq(r.err,
	    "message of 2000 bytes exceeds the limit of 1024 bytes");
	ck_assert_int_eq(r.err_code, RPC_INVALID_REQUEST);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	frame_reader_free(&r);
}
END_TEST

/* keep_head: an oversize message is reported once its head is in. */
START_TEST(oversize_head_kept)
{
	struct frame_reader r;
	const char *msg;
	size_t len, i;
	char body[2000];
	static const char hdr[] = "Content-Length: 2000\r\n\r\n";

	for (i = 0; i < sizeof(body); i++)
		body[i] = (char)('a' + i % 26);
	frame_reader_init(&r, FRAME_CL, 1024);
	r.keep_head = 1;
	ck_assert_int_eq(frame_reader_feed(&r, hdr, sizeof(hdr) - 1), 0);
	ck_assert_int_eq(frame_reader_feed(&r, body, 100), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	ck_assert_int_eq(frame_reader_feed(&r, body + 100, 600), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_BAD);
	ck_assert_str_eq(r.err,
	    "message of 2000 bytes exceeds the limit of 1024 bytes");
	ck_assert_uint_eq(r.head_len, FRAME_HEAD_MAX);
	ck_assert(memcmp(r.head, body, FRAME_HEAD_MAX) == 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	ck_assert_uint_eq(r.head_len, 0);
	ck_assert_int_eq(frame_reader_feed(&r, body + 700, 1300), 0);
	ck_assert_int_eq(frame_reader_feed(&r, "Content-Length: 2\r\n\r\n{}",
	    24), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MSG);
	ck_assert_uint_eq(len, 2);
	ck_assert(memcmp(msg, "{}", 2) == 0);
	frame_reader_free(&r);

	/* NDJSON: the line's first bytes, whether or not its end is in */
	frame_reader_init(&r, FRAME_NDJSON, 1024);
	r.keep_head = 1;
	ck_assert_int_eq(frame_reader_feed(&r, body, 1500), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_BAD);
	ck_assert_uint_eq(r.head_len, FRAME_HEAD_MAX);
	ck_assert(memcmp(r.head, body, FRAME_HEAD_MAX) == 0);
	ck_assert_int_eq(frame_reader_feed(&r, "\n{}\n", 4), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MSG);
	ck_assert_uint_eq(r.head_len, 0);
	ck_assert_int_eq(frame_reader_feed(&r, body, 1100), 0);
	ck_assert_int_eq(frame_reader_feed(&r, "\n", 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_BAD);
	ck_assert_uint_eq(r.head_len, FRAME_HEAD_MAX);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
	frame_reader_free(&r);
}
END_TEST

START_TEST(ndjson_basic)
{
	EXPECT(FRAME_NDJSON, 0, "{\"a\":1}\n{\"b\":2}\n",
	    "M:{\"a\":1}\nM:{\"b\":2}\n");
	EXPECT(FRAME_NDJSON, 0, "{\"a\":1}\r\n{\"b\":2}\r\n",
	    "M:{\"a\":1}\nM:{\"b\":2}\n");
	/* empty and whitespace-only lines are skipped */
	EXPECT(FRAME_NDJSON, 0, "\n\r\n  \t \r\n{}\n\n \n[]\n",
	    "M:{}\nM:[]\n");
	/* only one trailing \r is stripped; other bytes are the message's */
	EXPECT(FRAME_NDJSON, 0, " {} \r\r\n", "M: {} \r\n");
	/* no final newline: a truncated message at EOF */
	EXPECT(FRAME_NDJSON, 0, "{}\n{\"a\"", "M:{}\nE\n");
	EXPECT(FRAME_NDJSON, 0, "{}\n  \r", "M:{}\n");
}
END_TEST

START_TEST(ndjson_limit)
{
	size_t max = FRAME_MIN_MAX_MSG, n = 0;
	char *in = malloc(8 * max), *want = malloc(4 * max);

	/* exactly max bytes (and with CRLF): delivered */
	memset(in, 'a', max);
	n = max;
	in[n++] = '\n';
	memset(in + n, 'c', max);
	n += max;
	in[n++] = '\r';
	in[n++] = '\n';
	/* max + 1: one BAD, the rest of the line discarded */
	memset(in + n, 'b', 3 * max + 1);
	n += 3 * max + 1;
	in[n++] = '\n';
	memcpy(in + n, "{}\n", 3);
	n += 3;
	strcpy(want, "M:");
	memset(want + 2, 'a', max);
	strcpy(want + 2 + max, "\nM:");
	memset(want + 5 + max, 'c', max);
	strcpy(want + 5 + 2 * max, "\nB-32600\nM:{}\n");
	expect(FRAME_NDJSON, max, in, n, want);
	/* an over-long line at EOF is not reported twice */
	expect(FRAME_NDJSON, max, in + 2 * max + 3, 3 * max + 1, "B-32600\n");
	free(in);
	free(want);
}
END_TEST

/* A line that never ends: one BAD, memory stays bounded, then recovery. */
START_TEST(ndjson_endless_line)
{
	struct frame_reader r;
	struct transcript t = { NULL, 0, 0 };
	char chunk[4096];
	int i;

	tr_add(&t, "", 0);
	memset(chunk, 'x', sizeof(chunk));
	frame_reader_init(&r, FRAME_NDJSON, 1024);
	for (i = 0; i < 256; i++) {
		QUIET_ASSERT(frame_reader_feed(&r, chunk, sizeof(chunk)) == 0);
		QUIET_ASSERT(drain(&r, &t) == 0);
		QUIET_ASSERT(buf_used(&r.in) <= 1025);
	}
	ck_assert_int_eq(frame_reader_feed(&r, "x\n{\"ok\":1}\n", 11), 0);
	drain(&r, &t);
	ck_assert_str_eq(t.s, "B-32600\nM:{\"ok\":1}\n");
	ck_assert_int_eq(frame_reader_eof(&r), 0);
	free(t.s);
	frame_reader_free(&r);
}
END_TEST

START_TEST(auto_detect)
{
	enum frame_mode mode;
	char *got;

	got = run(FRAME_AUTO, 0, " \r\n\t{\"a\":1}\n", 12, 0, &mode);
	ck_assert_str_eq(got, "M:{\"a\":1}\n");
	ck_assert_int_eq(mode, FRAME_NDJSON);
	free(got);
	got = run(FRAME_AUTO, 0, "[1]\n", 4, 1, &mode);
	ck_assert_str_eq(got, "M:[1]\n");
	ck_assert_int_eq(mode, FRAME_NDJSON);
	free(got);
	got = run(FRAME_AUTO, 0, "\r\nContent-Length: 2\r\n\r\n{}", 25, 1,
	    &mode);
	ck_assert_str_eq(got, "M:{}\n");
	ck_assert_int_eq(mode, FRAME_CL);
	free(got);
	/* whitespace only: undecided, nothing pending */
	got = run(FRAME_AUTO, 0, " \n \n", 4, 0, &mode);
	ck_assert_str_eq(got, "");
	ck_assert_int_eq(mode, FRAME_AUTO);
	free(got);
	/* the mode is fixed once decided */
	got = run(FRAME_AUTO, 0, "{}\nContent-Length: 2\r\n\r\n{}\n", 27, 0,
	    &mode);
	ck_assert_str_eq(got, "M:{}\nM:Content-Length: 2\nM:{}\n");
	ck_assert_int_eq(mode, FRAME_NDJSON);
	free(got);
	got = run(FRAME_AUTO, 0, "Content-Length: 2\r\n\r\n{}{}\n", 26, 0,
	    &mode);
	ck_assert_str_eq(got, "M:{}\nF-32700\n");
	ck_assert_int_eq(mode, FRAME_CL);
	free(got);
	/* a plain word is not JSON: header parsing, which fails */
	got = run(FRAME_AUTO, 0, "ping\n", 5, 0, &mode);
	ck_assert_str_eq(got, "F-32700\n");
	free(got);
}
END_TEST

START_TEST(eof_reports)
{
	static const struct {
		enum frame_mode	 mode;
		const char	*in;
		int		 partial;
	} t[] = {
		{ FRAME_CL, "", 0 },
		{ FRAME_CL, "\r\n", 0 },
		{ FRAME_CL, "Content-Length: 5\r\n\r\nhello\r\n", 0 },
		{ FRAME_CL, "Content-Length: 5\r\n\r\nhel", 1 },
		{ FRAME_CL, "Content-Length: 5\r\n\r\n", 1 },
		{ FRAME_CL, "Content-Length: 5\r\n", 1 },
		{ FRAME_CL, "Content-Len", 1 },
		{ FRAME_NDJSON, "{}\n", 0 },
		{ FRAME_NDJSON, "{}\n   ", 0 },
		{ FRAME_NDJSON, "{}", 1 },
		{ FRAME_AUTO, "  ", 0 },
		{ FRAME_AUTO, " {", 1 },
		{ FRAME_AUTO, "C", 1 },
	};
	struct frame_reader r;
	const char *msg;
	size_t len, i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		frame_reader_init(&r, t[i].mode, 0);
		ck_assert_int_eq(frame_reader_feed(&r, t[i].in,
		    strlen(t[i].in)), 0);
		while (frame_reader_next(&r, &msg, &len) == FRAME_MSG)
			;
		ck_assert_msg(frame_reader_eof(&r) == t[i].partial,
		    "case %zu [%s]", i, t[i].in);
		if (t[i].partial)
			ck_assert(strstr(r.err, "end of input") != NULL);
		frame_reader_free(&r);
	}
}
END_TEST

/* 1000 messages in one read, both framings. */
START_TEST(thousand_in_one_feed)
{
	struct frame_reader r;
	char body[64], *in = malloc(1000 * 96);
	const char *msg;
	size_t n = 0, len;
	int i, mode;

	for (mode = FRAME_CL; mode <= FRAME_NDJSON; mode++) {
		n = 0;
		for (i = 0; i < 1000; i++) {
			len = (size_t)sprintf(body, "{\"id\":%d}", i);
			if (mode == FRAME_CL)
				n += (size_t)sprintf(in + n,
				    "Content-Length: %zu\r\n\r\n%s", len, body);
			else
				n += (size_t)sprintf(in + n, "%s\n", body);
		}
		frame_reader_init(&r, FRAME_AUTO, 0);
		ck_assert_int_eq(frame_reader_feed(&r, in, n), 0);
		for (i = 0; i < 1000; i++) {
			QUIET_ASSERT(frame_reader_next(&r, &msg, &len) ==
			    FRAME_MSG);
			sprintf(body, "{\"id\":%d}", i);
			QUIET_ASSERT(len == strlen(body));
			QUIET_ASSERT(memcmp(msg, body, len) == 0);
		}
		ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MORE);
		ck_assert_int_eq(r.mode, mode);
		ck_assert_uint_eq(buf_used(&r.in), 0);
		frame_reader_free(&r);
	}
	free(in);
}
END_TEST

/* Byte-at-a-time input is scanned once: the scan offset covers it all. */
START_TEST(scan_offset_no_rescan)
{
	struct frame_reader r;
	const char *msg;
	size_t len, i;

	frame_reader_init(&r, FRAME_NDJSON, 0);
	for (i = 0; i < 5000; i++) {
		QUIET_ASSERT(frame_reader_feed(&r, "a", 1) == 0);
		QUIET_ASSERT(frame_reader_next(&r, &msg, &len) == FRAME_MORE);
		QUIET_ASSERT(r.scan == i + 1);
	}
	ck_assert_int_eq(frame_reader_feed(&r, "\n", 1), 0);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_MSG);
	ck_assert_uint_eq(len, 5000);
	frame_reader_free(&r);

	frame_reader_init(&r, FRAME_CL, 0);
	for (i = 0; i < 500; i++) {
		QUIET_ASSERT(frame_reader_feed(&r, "X", 1) == 0);
		QUIET_ASSERT(frame_reader_next(&r, &msg, &len) == FRAME_MORE);
		QUIET_ASSERT(r.scan == i + 1);
	}
	frame_reader_free(&r);
}
END_TEST

/* The caller must drain: a full buffer is fatal and says so. */
START_TEST(space_exhausted)
{
	struct frame_reader r;
	const char *msg;
	size_t avail, len, total = 0;
	char *p;

	frame_reader_init(&r, FRAME_NDJSON, 1024);
	while ((p = frame_reader_space(&r, &avail)) != NULL) {
		memset(p, 'x', avail);
		frame_reader_commit(&r, avail);
		total += avail;
	}
	ck_assert_uint_eq(total, 1024 + FRAME_MAX_HEADER_BLOCK);
	ck_assert_int_eq(frame_reader_next(&r, &msg, &len), FRAME_FATAL);
	ck_assert(strstr(r.err, "buffer full") != NULL);
	/* feed refuses what does not fit, copying nothing */
	frame_reader_free(&r);
	frame_reader_init(&r, FRAME_NDJSON, 1024);
	p = calloc(1, 1024 + FRAME_MAX_HEADER_BLOCK + 1);
	errno = 0;
	ck_assert_int_eq(frame_reader_feed(&r, p,
	    1024 + FRAME_MAX_HEADER_BLOCK + 1), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(buf_used(&r.in), 0);
	free(p);
	frame_reader_free(&r);
}
END_TEST

/*
 * Inputs parsed in place right before a PROT_NONE page: any read past
 * the end faults.  The reader's buffer is pointed at the guarded bytes.
 */
static const char *guard_inputs[] = {
	"Content-Length: 5\r\n\r\nhello",
	"Content-Length: 5\r\n\r\nhel",
	"Content-Length: 5\r\n\r",
	"Content-Length: 5\r\n",
	"Content-Length: 5",
	"Content-Length:",
	"Content-Length",
	"C",
	"\r",
	"Content-Length: 99999999999999999999999",
	"Content-Length: 5\r\nContent-Length: 5\r\n\r\nab",
	"{\"a\":1}\n{\"b\"",
	"{\"a\":1}\r",
	"{",
	"   ",
	"\n\n\n",
};

static char *
guard_place(const char *in, size_t n, char **region, size_t *pg)
{
	*pg = (size_t)sysconf(_SC_PAGESIZE);
	*region = mmap(NULL, 2 * *pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(*region != MAP_FAILED);
	ck_assert_int_eq(mprotect(*region + *pg, *pg, PROT_NONE), 0);
	memcpy(*region + *pg - n, in, n);
	return *region + *pg - n;
}

START_TEST(guard_page)
{
	struct frame_reader r;
	const char *in = guard_inputs[_i], *msg;
	size_t n = strlen(in), pg, len;
	enum frame_status st;
	char *region, *p;
	int mode;

	for (mode = FRAME_AUTO; mode <= FRAME_NDJSON; mode++) {
		p = guard_place(in, n, &region, &pg);
		frame_reader_init(&r, mode, 0);
		r.in.base = p;
		r.in.cap = r.in.len = n;
		do
			st = frame_reader_next(&r, &msg, &len);
		while (st == FRAME_MSG || st == FRAME_BAD);
		(void)frame_reader_eof(&r);
		memset(&r.in, 0, sizeof(r.in));
		frame_reader_free(&r);
		munmap(region, 2 * pg);
	}
}
END_TEST

START_TEST(writer_framing)
{
	struct frame_writer w;

	frame_writer_init(&w, FRAME_CL, 0);
	ck_assert_int_eq(frame_write(&w, "{\"a\":1}", 7), 0);
	ck_assert_int_eq(frame_write(&w, "{}", 2), 0);
	ck_assert_uint_eq(frame_writer_pending(&w), 51);
	ck_assert(memcmp(buf_data(&w.out), "Content-Length: 7\r\n\r\n{\"a\":1}"
	    "Content-Length: 2\r\n\r\n{}", 51) == 0);
	frame_writer_free(&w);

	frame_writer_init(&w, FRAME_NDJSON, 0);
	ck_assert_int_eq(frame_write(&w, "{\"a\":1}", 7), 0);
	ck_assert_int_eq(frame_write(&w, "{}", 2), 0);
	ck_assert_uint_eq(frame_writer_pending(&w), 11);
	ck_assert(memcmp(buf_data(&w.out), "{\"a\":1}\n{}\n", 11) == 0);
	/* a raw newline would split the message on the wire */
	errno = 0;
	ck_assert_int_eq(frame_write(&w, "{\n}", 3), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(frame_writer_pending(&w), 11);
	frame_writer_free(&w);

	/* AUTO writes NDJSON until the server learns the peer's mode */
	frame_writer_init(&w, FRAME_AUTO, 0);
	ck_assert_int_eq(frame_write(&w, "{}", 2), 0);
	w.mode = FRAME_CL;
	ck_assert_int_eq(frame_write(&w, "[]", 2), 0);
	ck_assert_uint_eq(frame_writer_pending(&w), 26);
	ck_assert(memcmp(buf_data(&w.out),
	    "{}\nContent-Length: 2\r\n\r\n[]", 26) == 0);
	frame_writer_free(&w);
}
END_TEST

/* The bound is never crossed, and a refused message leaves no trace. */
START_TEST(writer_bound)
{
	struct frame_writer w;
	char body[100];

	memset(body, 'x', sizeof(body));
	frame_writer_init(&w, FRAME_NDJSON, 250);
	ck_assert_int_eq(frame_write(&w, body, 100), 0);
	ck_assert_int_eq(frame_write(&w, body, 100), 0);
	errno = 0;
	ck_assert_int_eq(frame_write(&w, body, 48), -1);	/* 202+49 */
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(frame_writer_pending(&w), 202);
	ck_assert_int_eq(frame_write(&w, body, 47), 0);		/* exactly */
	ck_assert_uint_eq(frame_writer_pending(&w), 250);
	errno = 0;
	ck_assert_int_eq(frame_write(&w, "", 0), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	frame_writer_free(&w);

	frame_writer_init(&w, FRAME_CL, 120);
	errno = 0;
	/* 22 header bytes + 99 body > 120 */
	ck_assert_int_eq(frame_write(&w, body, 99), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	ck_assert_uint_eq(frame_writer_pending(&w), 0);
	ck_assert_int_eq(frame_write(&w, body, 98), 0);
	ck_assert_uint_eq(frame_writer_pending(&w), 120);
	frame_writer_free(&w);
}
END_TEST

static void
set_nonblock(int fd)
{
	ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK),
	    -1);
}

/* A reader slower than the writer: flush stops at EAGAIN, resumes later. */
START_TEST(writer_flush_slow_reader)
{
	struct frame_writer w;
	enum { NMSG = 8, BODY = 40000 };
	char *body = malloc(BODY), *got = malloc(NMSG * (BODY + 32));
	size_t total = 0, want = 0;
	ssize_t n;
	int fds[2], i, rc, partial = 0;

	ck_assert_int_eq(pipe(fds), 0);
	set_nonblock(fds[0]);
	set_nonblock(fds[1]);
	frame_writer_init(&w, FRAME_CL, 0);
	for (i = 0; i < NMSG; i++) {
		memset(body, 'a' + i, BODY);
		ck_assert_int_eq(frame_write(&w, body, BODY), 0);
	}
	want = frame_writer_pending(&w);
	ck_assert_uint_eq(want, NMSG * (BODY + 25));
	for (;;) {
		rc = frame_writer_flush(&w, fds[1]);
		ck_assert_int_ge(rc, 0);
		if (rc == 0) {
			partial = 1;
			ck_assert_uint_gt(frame_writer_pending(&w), 0);
		}
		/* the reader takes a little at a time */
		n = read(fds[0], got + total, want - total < 5000 ?
		    want - total : 5000);
		if (n > 0)
			total += (size_t)n;
		if (rc == 1 && n <= 0)
			break;
	}
	ck_assert_int_eq(partial, 1);
	ck_assert_uint_eq(frame_writer_pending(&w), 0);
	ck_assert_uint_eq(total, want);
	for (i = 0; i < NMSG; i++) {
		char *m = got + (size_t)i * (BODY + 25);

		ck_assert(memcmp(m, "Content-Length: 40000\r\n\r\n", 25) == 0);
		ck_assert_int_eq(m[25], 'a' + i);
		ck_assert_int_eq(m[25 + BODY - 1], 'a' + i);
	}
	/* nothing queued: drained at once */
	ck_assert_int_eq(frame_writer_flush(&w, fds[1]), 1);
	frame_writer_free(&w);
	close(fds[0]);
	close(fds[1]);
	free(body);
	free(got);
}
END_TEST

START_TEST(writer_flush_peer_gone)
{
	struct frame_writer w;
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	close(fds[0]);
	frame_writer_init(&w, FRAME_NDJSON, 0);
	ck_assert_int_eq(frame_write(&w, "{}", 2), 0);
	errno = 0;
	ck_assert_int_eq(frame_writer_flush(&w, fds[1]), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(frame_writer_pending(&w), 3);
	errno = 0;
	ck_assert_int_eq(frame_writer_flush(&w, -1), -1);
	ck_assert_int_eq(errno, EBADF);
	frame_writer_free(&w);
	close(fds[1]);
	signal(SIGPIPE, old);
}
END_TEST

/* What the writer produces, the reader reads back. */
START_TEST(writer_reader_roundtrip)
{
	struct frame_writer w;
	char *got;
	int mode;

	for (mode = FRAME_CL; mode <= FRAME_NDJSON; mode++) {
		frame_writer_init(&w, mode, 0);
		ck_assert_int_eq(frame_write(&w, "{\"x\":\"\\n\"}", 10), 0);
		ck_assert_int_eq(frame_write(&w, "[]", 2), 0);
		got = run(FRAME_AUTO, 0, buf_data(&w.out),
		    frame_writer_pending(&w), 1, NULL);
		ck_assert_str_eq(got, "M:{\"x\":\"\\n\"}\nM:[]\n");
		free(got);
		frame_writer_free(&w);
	}
}
END_TEST

START_TEST(max_msg_from_env)
{
	static const struct {
		const char	*v;
		size_t		 want;
	} t[] = {
		{ "2048", 2048 },
		{ "1024", 1024 },
		{ "1023", FRAME_DEFAULT_MAX_MSG },
		{ "0", FRAME_DEFAULT_MAX_MSG },
		{ "", FRAME_DEFAULT_MAX_MSG },
		{ "12a", FRAME_DEFAULT_MAX_MSG },
		{ "-2048", FRAME_DEFAULT_MAX_MSG },
		{ "+2048", FRAME_DEFAULT_MAX_MSG },
		{ " 2048", FRAME_DEFAULT_MAX_MSG },
		{ "2048 ", FRAME_DEFAULT_MAX_MSG },
		{ "1e6", FRAME_DEFAULT_MAX_MSG },
		{ "99999999999999999999999", FRAME_DEFAULT_MAX_MSG },
		{ "0000004096", 4096 },
		{ "104857600", 104857600 },
	};
	size_t i;

	unsetenv("AFU9_MAX_MESSAGE_BYTES");
	ck_assert_uint_eq(frame_max_msg_from_env(), FRAME_DEFAULT_MAX_MSG);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		setenv("AFU9_MAX_MESSAGE_BYTES", t[i].v, 1);
		ck_assert_msg(frame_max_msg_from_env() == t[i].want,
		    "'%s' gave %zu", t[i].v, frame_max_msg_from_env());
	}
	unsetenv("AFU9_MAX_MESSAGE_BYTES");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("frame");

	tcase_add_test(tc, cl_basic);
	tcase_add_test(tc, cl_duplicates);
	tcase_add_test(tc, cl_blank_lines_between_messages);
	tcase_add_loop_test(tc, cl_fatal_table, 0,
	    sizeof(cl_fatal) / sizeof(cl_fatal[0]));
	tcase_add_test(tc, cl_header_line_limit);
	tcase_add_test(tc, partial_line_limits);
	tcase_add_test(tc, cl_header_block_limit);
	tcase_add_test(tc, cl_oversize_skipped);
	tcase_add_test(tc, cl_oversize_message_text);
	tcase_add_test(tc, oversize_head_kept);
	tcase_add_test(tc, ndjson_basic);
	tcase_add_test(tc, ndjson_limit);
	tcase_add_test(tc, ndjson_endless_line);
	tcase_add_test(tc, auto_detect);
	tcase_add_test(tc, eof_reports);
	tcase_add_test(tc, thousand_in_one_feed);
	tcase_add_test(tc, scan_offset_no_rescan);
	tcase_add_test(tc, space_exhausted);
	tcase_add_loop_test(tc, guard_page, 0,
	    sizeof(guard_inputs) / sizeof(guard_inputs[0]));
	tcase_add_test(tc, writer_framing);
	tcase_add_test(tc, writer_bound);
	tcase_add_test(tc, writer_flush_slow_reader);
	tcase_add_test(tc, writer_flush_peer_gone);
	tcase_add_test(tc, writer_reader_roundtrip);
	tcase_add_test(tc, max_msg_from_env);
	suite_add_tcase(s, tc);
	return t_run(s);
}
