/*
 * httpparse: a table of valid and malformed request heads.  Every input
 * is parsed whole and then one byte at a time (each prefix copied against
 * a PROT_NONE guard page, so reading one byte past the end crashes), and
 * both ways must agree.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http/httpparse.h"
#include "testutil.h"

#define S(lit)	lit, sizeof(lit) - 1

/* A region whose last byte is followed by an inaccessible page. */
struct guard {
	char	*base;
	size_t	 size;		/* readable bytes before the guard page */
};

static void
guard_init(struct guard *g, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g->size = (n / page + 1) * page;
	g->base = mmap(NULL, g->size + page, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g->base, MAP_FAILED);
	ck_assert_int_eq(mprotect(g->base + g->size, page, PROT_NONE), 0);
}

/* Copy s[0, n) so that it ends right at the guard page. */
static const char *
guard_put(struct guard *g, const char *s, size_t n)
{
	char *p = g->base + g->size - n;

	memcpy(p, s, n);
	return p;
}

struct result {
	int		 rc;
	struct http_request req;
	struct http_header hdrs[64];
	const char	*base;	/* buffer the spans point into */
};

/* Parse s[0, n) in one call, against the guard page. */
static void
parse_whole(const char *s, size_t n, const struct http_parse_limits *l,
    struct result *r, struct guard *g)
{
	struct http_parser ps;

	ck_assert_uint_le(http_parse_max_headers(l), 64);
	http_parser_init(&ps, l, r->hdrs);
	r->base = guard_put(g, s, n);
	r->rc = http_parse_request(&ps, r->base, n, &r->req);
}

/*
 * Parse s one byte more per call, each prefix at a new address against
 * the guard page; every call before the last must say "need more".
 */
static void
parse_bytewise(const char *s, size_t n, const struct http_parse_limits *l,
    struct result *r, struct guard *g)
{
	struct http_parser ps;
	size_t k;

	http_parser_init(&ps, l, r->hdrs);
	r->rc = HTTP_PARSE_MORE;
	for (k = 1; k <= n && r->rc == HTTP_PARSE_MORE; k++) {
		r->base = guard_put(g, s, k);
		r->rc = http_parse_request(&ps, r->base, k, &r->req);
	}
}

static void
span_eq(const struct http_span *a, const char *abase,
    const struct http_span *b, const char *bbase)
{
	ck_assert_uint_eq(a->len, b->len);
	ck_assert(memcmp(a->p, b->p, a->len) == 0);
	/* Same place relative to the buffer, unless a static "/". */
	if (a->p >= abase && a->p < abase + 65536)
		ck_assert_int_eq(a->p - abase, b->p - bbase);
}

static void
same(const struct result *a, const struct result *b)
{
	size_t i;

	ck_assert_int_eq(a->rc, b->rc);
	if (a->rc == HTTP_PARSE_ERROR) {
		ck_assert_int_eq(a->req.status, b->req.status);
		ck_assert_str_eq(a->req.error, b->req.error);
		return;
	}
	if (a->rc < 0)
		return;
	span_eq(&a->req.method, a->base, &b->req.method, b->base);
	span_eq(&a->req.target, a->base, &b->req.target, b->base);
	span_eq(&a->req.path, a->base, &b->req.path, b->base);
	span_eq(&a->req.query, a->base, &b->req.query, b->base);
	ck_assert_int_eq(a->req.minor, b->req.minor);
	ck_assert_uint_eq(a->req.flags, b->req.flags);
	ck_assert_uint_eq(a->req.content_length, b->req.content_length);
	ck_assert_uint_eq(a->req.nheaders, b->req.nheaders);
	for (i = 0; i < a->req.nheaders; i++) {
		span_eq(&a->req.headers[i].name, a->base,
		    &b->req.headers[i].name, b->base);
		span_eq(&a->req.headers[i].value, a->base,
		    &b->req.headers[i].value, b->base);
	}
}

/* Parse both ways, check they agree, return the whole-buffer result. */
static void
parse(const char *s, size_t n, const struct http_parse_limits *l,
    struct result *whole)
{
	static struct result bw;
	static struct guard g1, g2;

	if (g1.base == NULL) {
		guard_init(&g1, 65536);
		guard_init(&g2, 65536);
	}
	ck_assert_uint_le(n, 65536);
	parse_whole(s, n, l, whole, &g1);
	parse_bytewise(s, n, l, &bw, &g2);
	same(whole, &bw);
}

static int
span_is(const struct http_span *sp, const char *s)
{
	return sp->len == strlen(s) && memcmp(sp->p, s, sp->len) == 0;
}

/* ---- valid heads ---- */

struct valid {
	const char	*in;
	size_t		 n;
	size_t		 body;		/* bytes after the head */
	const char	*method, *path, *query;
	int		 minor;
	unsigned	 flags;
	uint64_t	 cl;
	size_t		 nheaders;
};

static const struct valid valids[] = {
	{ S("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, "GET", "/", "", 1, 0,
	    0, 1 },
	{ S("GET /x?y=1&z HTTP/1.0\r\n\r\n"), 0, "GET", "/x", "y=1&z", 0, 0,
	    0, 0 },
	{ S("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0, "GET", "/", "",
	    1, 0, 0, 1 },
	{ S("POST /v1/call HTTP/1.1\r\nHost: h\r\nContent-Length:  5 \r\n"
	    "X-A:\t b c \t\r\n\r\nhello"), 5, "POST", "/v1/call", "", 1,
	    HTTP_REQ_HAS_LENGTH, 5, 3 },
	{ S("GET / HTTP/1.0\r\nConnection: Keep-Alive, Upgrade\r\n\r\n"), 0,
	    "GET", "/", "", 0, HTTP_REQ_KEEPALIVE, 0, 1 },
	{ S("GET / HTTP/1.1\r\nHost: a\r\nconnection: ,close ,\r\n\r\n"), 0,
	    "GET", "/", "", 1, HTTP_REQ_CLOSE, 0, 2 },
	{ S("GET http://example.com:8080/a/b?q HTTP/1.1\r\nHost: x\r\n\r\n"),
	    0, "GET", "/a/b", "q", 1, 0, 0, 1 },
	{ S("GET https://[::1]:8080 HTTP/1.1\r\nHost: x\r\n\r\n"), 0, "GET",
	    "/", "", 1, 0, 0, 1 },
	{ S("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), 0, "OPTIONS", "*", "",
	    1, 0, 0, 1 },
	{ S("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 9\r\n\r\n"), 0, "POST", "/", "", 1,
	    HTTP_REQ_CONTINUE | HTTP_REQ_HAS_LENGTH, 9, 3 },
	{ S("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"), 0, "POST",
	    "/", "", 0, 0, 0, 1 },
	{ S("GET /caf%C3%a9/~a-b_c.d!$&'()*+,;=:@ HTTP/1.1\r\nHost: a\r\n"
	    "X-Name: caf\xc3\xa9\r\nX-Empty:\r\n\r\n"), 0, "GET",
	    "/caf%C3%a9/~a-b_c.d!$&'()*+,;=:@", "", 1, 0, 0, 3 },
	{ S("M-SEARCH!#$%&'*+.^_`|~ / HTTP/1.1\r\nHost: a\r\n\r\n"), 0,
	    "M-SEARCH!#$%&'*+.^_`|~", "/", "", 1, 0, 0, 1 },
};

START_TEST(valid_heads)
{
	const struct valid *v = &valids[_i];
	struct result r;

	parse(v->in, v->n, NULL, &r);
	if (r.rc < 0)
		ck_abort_msg("case %d: rc %d status %d (%s)", _i, r.rc,
		    r.req.status, r.req.error ? r.req.error : "");
	ck_assert_int_eq(r.rc, (int)(v->n - v->body));
	ck_assert_msg(span_is(&r.req.method, v->method), "case %d method", _i);
	ck_assert_msg(span_is(&r.req.path, v->path), "case %d path", _i);
	ck_assert_msg(span_is(&r.req.query, v->query), "case %d query", _i);
	ck_assert_int_eq(r.req.minor, v->minor);
	ck_assert_uint_eq(r.req.flags, v->flags);
	ck_assert_uint_eq(r.req.content_length, v->cl);
	ck_assert_uint_eq(r.req.nheaders, v->nheaders);
}
END_TEST

START_TEST(header_values_and_lookup)
{
	static const char in[] = "POST /v1/call HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length:  5 \r\nX-A:\t b c \t\r\nX-Empty:\r\n\r\n";
	struct result r;
	const char *v;
	size_t len;

	parse(in, sizeof(in) - 1, NULL, &r);
	ck_assert_int_eq(r.rc, (int)sizeof(in) - 1);
	ck_assert(span_is(&r.req.headers[2].name, "X-A"));
	ck_assert(span_is(&r.req.headers[2].value, "b c"));
	v = http_request_header(&r.req, "x-a", &len);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(len, 3);
	ck_assert(memcmp(v, "b c", 3) == 0);
	v = http_request_header(&r.req, "X-EMPTY", &len);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(len, 0);
	ck_assert_ptr_null(http_request_header(&r.req, "X-None", &len));
	ck_assert(span_is(&r.req.target, "/v1/call"));
}
END_TEST

/* ---- malformed heads ---- */

struct bad {
	const char	*in;
	size_t		 n;
	int		 status;
	const char	*why;	/* substring of req.error */
};

#define HOST	"Host: a\r\n"

static const struct bad bads[] = {
	{ S("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400, "before colon" },
	{ S("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), 400, "before colon" },
	{ S("GET / HTTP/1.1\r\n" HOST "X: a\r\n b\r\n\r\n"), 400, "folding" },
	{ S("GET / HTTP/1.1\r\n" HOST "X: a\r\n\tb\r\n\r\n"), 400, "folding" },
	{ S("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400, "CR" },
	{ S("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), 400, "CR" },
	{ S("GET / HTTP/1.1\r\n" HOST "X: a\0b\r\n\r\n"), 400, "invalid byte" },
	{ S("GET / HTTP/1.1\r\n" HOST "X: a\x7f\r\n\r\n"), 400, "invalid byte" },
	{ S("GET / HTTP/1.1\r\n" HOST "X: a\x01\r\n\r\n"), 400, "invalid byte" },
	{ S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400,
	    "request line" },
	{ S("GET /\xc3\xa9 HTTP/1.1\r\n" HOST "\r\n"), 400, "request line" },
	{ S("GET  / HTTP/1.1\r\n" HOST "\r\n"), 400, "request-target" },
	{ S("GET / HTTP/1.1 \r\n" HOST "\r\n"), 400, "version" },
	{ S("GET /  HTTP/1.1\r\n" HOST "\r\n"), 400, "version" },
	{ S("GET / http/1.1\r\n" HOST "\r\n"), 400, "version" },
	{ S("GET / HTTP/1.10\r\n" HOST "\r\n"), 400, "version" },
	{ S("GET / HTTP/1\r\n" HOST "\r\n"), 400, "version" },
	{ S("GET /\r\n\r\n"), 400, "request-target" },
	{ S(" GET / HTTP/1.1\r\n" HOST "\r\n"), 400, "method" },
	{ S("G(T / HTTP/1.1\r\n" HOST "\r\n"), 400, "method" },
	{ S("GET\t/ HTTP/1.1\r\n" HOST "\r\n"), 400, "request line" },
	{ S("GET /a\"b HTTP/1.1\r\n" HOST "\r\n"), 400, "character" },
	{ S("GET /a#b HTTP/1.1\r\n" HOST "\r\n"), 400, "character" },
	{ S("GET /a{b} HTTP/1.1\r\n" HOST "\r\n"), 400, "character" },
	{ S("GET /%zz HTTP/1.1\r\n" HOST "\r\n"), 400, "character" },
	{ S("GET /%2 HTTP/1.1\r\n" HOST "\r\n"), 400, "character" },
	{ S("GET a/b HTTP/1.1\r\n" HOST "\r\n"), 400, "request-target" },
	{ S("GET http:/x HTTP/1.1\r\n" HOST "\r\n"), 400, "request-target" },
	{ S("GET http://u@h/ HTTP/1.1\r\n" HOST "\r\n"), 400, "request-target" },
	{ S("GET * HTTP/1.1\r\n" HOST "\r\n"), 400, "OPTIONS" },
	{ S("CONNECT a:443 HTTP/1.1\r\n" HOST "\r\n"), 501, "CONNECT" },
	{ S("GET / HTTP/2.0\r\n" HOST "\r\n"), 505, "version" },
	{ S("GET / HTTP/1.2\r\n" HOST "\r\n"), 505, "version" },
	{ S("GET / HTTP/0.9\r\n\r\n"), 505, "version" },
	{ S("GET / HTTP/1.1\r\n" HOST "Ho(st: a\r\n\r\n"), 400, "name" },
	{ S("GET / HTTP/1.1\r\n" HOST ": a\r\n\r\n"), 400, "name" },
	{ S("GET / HTTP/1.1\r\n" HOST "NoColon\r\n\r\n"), 400, "name" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: abc\r\n\r\n"), 400,
	    "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: -1\r\n\r\n"), 400,
	    "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: +1\r\n\r\n"), 400,
	    "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: 1,1\r\n\r\n"), 400,
	    "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length:\r\n\r\n"), 400,
	    "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: 1 2\r\n\r\n"), 400,
	    "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: 1234567890123456\r\n"
	    "\r\n"), 400, "Content-Length" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\n"
	    "Content-Length: 4\r\n\r\n"), 400, "conflicting" },
	{ S("PUT /a HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	    "content-length: 3\r\n\r\n"), 400, "more than one Content" },
	{ S("GET / HTTP/1.0\n\n"), 400, "bare LF" },
	{ S("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"), 400, "bare LF" },
	{ S("\nGET / HTTP/1.1\r\n" HOST "\r\n"), 400, "bare LF" },
	{ S("GET / HTTP/1.1\r\n" HOST "\n"), 400, "bare LF" },
	{ S("POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n\r\n"),
	    411, "chunked" },
	{ S("POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip, Chunked\r\n"
	    "\r\n"), 411, "chunked" },
	{ S("POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: gzip\r\n\r\n"), 501,
	    "coding" },
	{ S("POST / HTTP/1.1\r\n" HOST "Transfer-Encoding: chunked\r\n"
	    "Content-Length: 3\r\n\r\n"), 400, "both" },
	{ S("POST / HTTP/1.1\r\n" HOST "Content-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 400, "both" },
	{ S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400,
	    "HTTP/1.0" },
	{ S("GET / HTTP/1.1\r\n\r\n"), 400, "missing Host" },
	{ S("GET / HTTP/1.1\r\n" HOST HOST "\r\n"), 400, "more than one Host" },
	{ S("GET / HTTP/1.1\r\n" HOST "Expect: 200-ok\r\n\r\n"), 417,
	    "expectation" },
};

START_TEST(malformed_heads)
{
	const struct bad *b = &bads[_i];
	struct result r;

	parse(b->in, b->n, NULL, &r);
	ck_assert_msg(r.rc == HTTP_PARSE_ERROR, "case %d: rc %d", _i, r.rc);
	ck_assert_msg(r.req.status == b->status, "case %d: status %d (%s)",
	    _i, r.req.status, r.req.error);
	ck_assert_msg(strstr(r.req.error, b->why) != NULL,
	    "case %d: \"%s\" lacks \"%s\"", _i, r.req.error, b->why);
}
END_TEST

/* Binary garbage is refused at its first byte, not after a timeout. */
START_TEST(garbage_refused_at_once)
{
	struct http_header h[64];
	struct http_parser ps;
	struct http_request req;

	http_parser_init(&ps, NULL, h);
	ck_assert_int_eq(http_parse_request(&ps, "\x16", 1, &req),
	    HTTP_PARSE_ERROR);
	ck_assert_int_eq(req.status, 400);
	http_parser_init(&ps, NULL, h);
	ck_assert_int_eq(http_parse_request(&ps, "GET / HTTP/1.1\r\nX: \0",
	    20, &req), HTTP_PARSE_ERROR);
	http_parser_init(&ps, NULL, h);
	ck_assert_int_eq(http_parse_request(&ps, "GET / HTTP/1.1\r\nX: a",
	    20, &req), HTTP_PARSE_MORE);
}
END_TEST

/* ---- limits: at the bound accepted, one past refused ---- */

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

START_TEST(request_line_limit)
{
	struct http_parse_limits l = { .max_line = 32 };
	char in[256], *path;
	struct result r;
	int n;

	/* "GET /aaa HTTP/1.1": 14 bytes and the path's, 32 exactly */
	path = repeat('a', 32 - 14);
	n = snprintf(in, sizeof(in), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
	    path);
	parse(in, (size_t)n, &l, &r);
	ck_assert_int_eq(r.rc, n);
	free(path);
	path = repeat('a', 32 - 14 + 1);
	n = snprintf(in, sizeof(in), "GET /%s HTTP/1.1\r\nHost: a\r\n\r\n",
	    path);
	parse(in, (size_t)n, &l, &r);
	ck_assert_int_eq(r.rc, HTTP_PARSE_ERROR);
	ck_assert_int_eq(r.req.status, 414);
	free(path);
	/* No line end at all: refused once the bound is crossed. */
	path = repeat('a', 100);
	n = snprintf(in, sizeof(in), "GET /%s", path);
	parse(in, (size_t)n, &l, &r);
	ck_assert_int_eq(r.req.status, 414);
	free(path);
}
END_TEST

START_TEST(head_size_limit)
{
	struct http_parse_limits l = { .max_head = 128 };
	char in[512], *val;
	struct result r;
	size_t fixed = strlen("GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n");
	int n;

	val = repeat('v', 128 - fixed);
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n"
	    "\r\n", val);
	ck_assert_int_eq(n, 128);
	parse(in, (size_t)n, &l, &r);
	ck_assert_int_eq(r.rc, 128);
	free(val);
	val = repeat('v', 128 - fixed + 1);
	n = snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\nX: %s\r\n"
	    "\r\n", val);
	parse(in, (size_t)n, &l, &r);
	ck_assert_int_eq(r.rc, HTTP_PARSE_ERROR);
	ck_assert_int_eq(r.req.status, 431);
	free(val);
	/* Leading empty lines count toward the head. */
	val = repeat('\n', 200);
	for (n = 0; n < 200; n += 2)
		val[n] = '\r';
	parse(val, 200, &l, &r);
	ck_assert_int_eq(r.rc, HTTP_PARSE_ERROR);
	ck_assert_int_eq(r.req.status, 414);
	free(val);
}
END_TEST

START_TEST(header_count_limit)
{
	struct http_parse_limits l = { .max_headers = 4 };
	static const char ok[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n"
	    "C: 3\r\n\r\n";
	static const char over[] = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\n"
	    "B: 2\r\nC: 3\r\nD: 4\r\n\r\n";
	struct result r;

	parse(ok, sizeof(ok) - 1, &l, &r);
	ck_assert_int_eq(r.rc, (int)sizeof(ok) - 1);
	ck_assert_uint_eq(r.req.nheaders, 4);
	parse(over, sizeof(over) - 1, &l, &r);
	ck_assert_int_eq(r.rc, HTTP_PARSE_ERROR);
	ck_assert_int_eq(r.req.status, 431);
	ck_assert(strstr(r.req.error, "too many") != NULL);
}
END_TEST

/* Two pipelined requests: the first's length, then the second after reset. */
START_TEST(pipelined_pair)
{
	static const char in[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
	    "GET /b HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_header h[64];
	struct http_parser ps;
	struct http_request req;
	int n;

	http_parser_init(&ps, NULL, h);
	n = http_parse_request(&ps, in, sizeof(in) - 1, &req);
	ck_assert_int_eq(n, 28);
	ck_assert(span_is(&req.path, "/a"));
	http_parser_reset(&ps);
	n = http_parse_request(&ps, in + 28, sizeof(in) - 1 - 28, &req);
	ck_assert_int_eq(n, 28);
	ck_assert(span_is(&req.path, "/b"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("httpparse");
	TCase *tc = tcase_create("httpparse");

	tcase_add_loop_test(tc, valid_heads, 0,
	    (int)(sizeof(valids) / sizeof(valids[0])));
	tcase_add_test(tc, header_values_and_lookup);
	tcase_add_loop_test(tc, malformed_heads, 0,
	    (int)(sizeof(bads) / sizeof(bads[0])));
	tcase_add_test(tc, garbage_refused_at_once);
	tcase_add_test(tc, request_line_limit);
	tcase_add_test(tc, head_size_limit);
	tcase_add_test(tc, header_count_limit);
	tcase_add_test(tc, pipelined_pair);
	suite_add_tcase(s, tc);
	return t_run(s);
}
