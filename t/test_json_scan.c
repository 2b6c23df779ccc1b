/*
 * json_scan directly: what jscan_text() calls JSON and where it stops,
 * the exact id bytes and envelope members it reports, what
 * jscan_loadable() lets past jansson, and nesting far beyond any stack.
 * Every input is also scanned against a guard page, so an over-read
 * crashes.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "json_scan.h"
#include "testutil.h"

/* n bytes of s placed to end where an unreadable page begins. */
struct guarded {
	char	*region;
	size_t	 pg;
	char	*p;
};

static const char *
guard(struct guarded *g, const char *s, size_t n)
{
	g->pg = (size_t)sysconf(_SC_PAGESIZE);
	ck_assert_uint_le(n, g->pg);
	g->region = mmap(NULL, 2 * g->pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(g->region != MAP_FAILED);
	ck_assert_int_eq(mprotect(g->region + g->pg, g->pg, PROT_NONE), 0);
	g->p = g->region + g->pg - n;
	memcpy(g->p, s, n);
	return g->p;
}

static void
unguard(struct guarded *g)
{
	munmap(g->region, 2 * g->pg);
}

/* jscan_text() of the string s against a guard page; fills *t. */
static int
scan(const char *s, struct jscan_top *t)
{
	struct guarded g;
	size_t n = strlen(s);
	int rc;

	rc = jscan_text(guard(&g, s, n), n, t);
	/* id must point into the text: rebase it onto s for the caller */
	if (t->id != NULL) {
		ck_assert(t->id >= g.p && t->id + t->id_len <= g.p + n);
		t->id = s + (t->id - g.p);
	}
	unguard(&g);
	return rc;
}

/* ---- valid texts ---- */

static const char *const valid[] = {
	"0",
	"-0",
	"12",
	"-1.5e+10",
	"0.25E-3",
	"1e0",
	"123456789012345678901234567890",	/* beyond int64: still JSON */
	"\"\"",
	"\"plain\"",
	"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
	"\"\\u0041\\u00e9\\uD83D\\uDE00\"",
	"\"\\u0000\"",				/* JSON, jansson refuses it */
	"\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
	"true",
	"false",
	"null",
	"[]",
	"{}",
	" \t\r\n[ 1 , \"a\" , [ ] , { } ] \n",
	"{\"a\":1,\"a\":2}",			/* duplicate keys: JSON */
	"{\"a\":{\"b\":[{\"c\":null}]},\"d\":[true,false]}",
};

START_TEST(valid_texts)
{
	const char *s = valid[_i];
	struct jscan_top t;
	size_t i;

	ck_assert_msg(scan(s, &t) == JSCAN_OK, "refused: %s", s);
	ck_assert_uint_eq(t.stop, strlen(s));
	for (i = 0; s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
	    s[i] == '\n'; i++)
		;
	ck_assert_int_eq(t.first, (unsigned char)s[i]);
}
END_TEST

/* ---- invalid texts: where the scan stops ---- */

static const struct {
	const char	*in;
	size_t		 stop;
	size_t		 len;	/* 0: strlen(in) */
} invalid[] = {
	/* truncated */
	{ "", 0 },
	{ "  \n", 3 },
	{ "{\"a\":1", 6 },
	{ "[1,", 3 },
	{ "\"abc", 4 },
	{ "{\"a\"", 4 },
	{ "{\"a\":", 5 },
	{ "\"\\u00", 2 },
	{ "\"\\", 2 },
	{ "tru", 0 },
	{ "nul", 0 },
	/* bad escapes */
	{ "\"\\x\"", 2 },
	{ "\"\\u12g4\"", 2 },
	{ "\"\\U0041\"", 2 },
	{ "\"\\udc00\"", 7 },		/* lone low surrogate */
	{ "\"\\ud800x\"", 7 },		/* high surrogate, no low one */
	{ "\"\\ud800\\u0041\"", 7 },	/* high, then not a low one */
	/* raw controls and bad UTF-8 in strings */
	{ "\"a\nb\"", 2 },
	{ "\"\t\"", 1 },
	{ "\"\xff\"", 1 },
	{ "\"\xc0\xaf\"", 1 },		/* overlong '/' */
	{ "\"\xed\xa0\x80\"", 1 },	/* a surrogate in UTF-8 */
	{ "\"\xe2\x82\"", 1 },		/* cut short */
	{ "\"\xf4\x90\x80\x80\"", 1 },	/* past U+10FFFF */
	/* bad numbers */
	{ "01", 1 },
	{ "-01", 2 },
	{ "1.", 2 },
	{ ".5", 0 },
	{ "+1", 0 },
	{ "-", 1 },
	{ "-a", 1 },
	{ "1e", 2 },
	{ "1e+", 3 },
	{ "1.e5", 2 },
	{ "0x1f", 1 },
	{ "NaN", 0 },
	{ "Infinity", 0 },
	/* trailing garbage */
	{ "{} x", 3 },
	{ "1 2", 2 },
	{ "{}}", 2 },
	{ "[1]]", 3 },
	{ "\"a\"\"b\"", 3 },
	{ "null\0", 4, 5 },		/* a NUL byte after the value */
	/* unbalanced and misplaced */
	{ "[1}", 2 },
	{ "{\"a\":1]", 6 },
	{ "[", 1 },
	{ "{", 1 },
	{ "]", 0 },
	{ "}", 0 },
	{ "{\"a\"}", 4 },
	{ "{\"a\" 1}", 5 },
	{ "{1:2}", 1 },
	{ "{a:1}", 1 },
	{ "[1,]", 3 },
	{ "{\"a\":1,}", 7 },
	{ "[,1]", 1 },
	{ "[1 2]", 3 },
	{ "{\"a\":1 \"b\":2}", 7 },
	{ "{\"a\"::1}", 5 },
	{ "'a'", 0 },
};

START_TEST(invalid_texts)
{
	const char *s = invalid[_i].in;
	size_t n = invalid[_i].len ? invalid[_i].len : strlen(s);
	struct guarded g;
	struct jscan_top t;

	ck_assert_int_eq(jscan_text(guard(&g, s, n), n, &t), JSCAN_INVALID);
	ck_assert_msg(t.stop == invalid[_i].stop, "%s: stopped at %zu, not "
	    "%zu", s, t.stop, invalid[_i].stop);
	unguard(&g);
}
END_TEST

/* A NULL text of length 0 is the empty text. */
START_TEST(empty_text)
{
	struct jscan_top t;

	ck_assert_int_eq(jscan_text(NULL, 0, &t), JSCAN_INVALID);
	ck_assert_int_eq(t.first, -1);
	ck_assert_uint_eq(t.stop, 0);
	ck_assert_ptr_null(t.id);
}
END_TEST

/* ---- nesting ---- */

#define DEEP	100000

/* DEEP levels of open (one byte each) then DEEP of close: malloc'd. */
static char *
nest(const char *open, const char *close, size_t *len)
{
	size_t no = strlen(open), nc = strlen(close), i, n = 0;
	char *s = malloc(DEEP * (no + nc) + 1);

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < DEEP; i++, n += no)
		memcpy(s + n, open, no);
	for (i = 0; i < DEEP; i++, n += nc)
		memcpy(s + n, close, nc);
	s[n] = '\0';
	*len = n;
	return s;
}

START_TEST(deep_arrays)
{
	struct jscan_top t;
	size_t n;
	char *s = nest("[", "]", &n);

	ck_assert_int_eq(jscan_text(s, n, &t), JSCAN_OK);
	ck_assert_uint_eq(t.stop, 2 * DEEP);
	ck_assert_int_eq(t.first, '[');
	/* cut anywhere: not JSON, and the scan reaches the end */
	ck_assert_int_eq(jscan_text(s, n - 1, &t), JSCAN_INVALID);
	ck_assert_uint_eq(t.stop, n - 1);
	ck_assert_int_eq(jscan_text(s, DEEP, &t), JSCAN_INVALID);
	ck_assert_uint_eq(t.stop, DEEP);
	/* one closer of the wrong kind far down */
	s[DEEP + 70000] = '}';
	ck_assert_int_eq(jscan_text(s, n, &t), JSCAN_INVALID);
	ck_assert_uint_eq(t.stop, DEEP + 70000);
	free(s);
}
END_TEST

/* Objects and arrays alternating: the kind of every level is kept, across
   the words of the heap record. */
START_TEST(deep_mixed)
{
	struct jscan_top t;
	size_t n, i;
	char *s = nest("{\"k\":[", "]}", &n);

	ck_assert_int_eq(jscan_text(s, n, &t), JSCAN_OK);
	ck_assert_uint_eq(t.stop, n);
	/* swap one pair of closers at level 12345 from the inside out */
	i = (size_t)DEEP * 6 + 2 * 12345;
	ck_assert(s[i] == ']' && s[i + 1] == '}');
	s[i] = '}';
	s[i + 1] = ']';
	ck_assert_int_eq(jscan_text(s, n, &t), JSCAN_INVALID);
	ck_assert_uint_eq(t.stop, i);
	free(s);
}
END_TEST

/* ---- top-level members ---- */

START_TEST(id_bytes_exact)
{
	static const struct {
		const char	*in;
		const char	*id;	/* NULL: none */
	} cases[] = {
		{ "{\"id\":1}", "1" },
		{ "{\"id\" : -12 , \"x\":0}", "-12" },
		{ "{\"id\":\"\\u0041b\"}", "\"\\u0041b\"" },
		{ "{\"id\":\"h\xc3\xa9\"}", "\"h\xc3\xa9\"" },
		{ "{\"id\":1.5e3}", "1.5e3" },
		{ "{\"id\":null}", "null" },
		{ "{\"id\":{\"a\":[1, 2]}}", "{\"a\":[1, 2]}" },
		{ "{\"id\":[]}", "[]" },
		{ "{\"\\u0069d\":7}", "7" },		/* escaped name */
		{ "{\"i\\u0064\":\"x\"}", "\"x\"" },
		{ "{\"params\":{\"id\":5}}", NULL },	/* not top level */
		{ "{\"idx\":5,\"i\":4}", NULL },
		{ "[{\"id\":1}]", NULL },		/* not an object */
		{ "{\"method\":\"m\",\"params\":{\"id\":9},\"id\":\"z\"}",
		    "\"z\"" },
	};
	struct jscan_top t;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(scan(cases[i].in, &t), JSCAN_OK);
		if (cases[i].id == NULL) {
			ck_assert_msg(t.id == NULL && t.ids == 0, "%s",
			    cases[i].in);
			continue;
		}
		ck_assert_msg(t.ids == 1, "%s", cases[i].in);
		ck_assert_msg(t.id_len == strlen(cases[i].id) &&
		    memcmp(t.id, cases[i].id, t.id_len) == 0, "%s: id %.*s",
		    cases[i].in, (int)t.id_len, t.id);
	}
}
END_TEST

START_TEST(duplicate_ids)
{
	struct jscan_top t;

	ck_assert_int_eq(scan("{\"id\":1,\"method\":\"m\",\"id\":\"two\"}", &t),
	    JSCAN_OK);
	ck_assert_int_eq(t.ids, 2);
	ck_assert_uint_eq(t.id_len, 5);
	ck_assert(memcmp(t.id, "\"two\"", 5) == 0);
	/* an escaped spelling is the same name */
	ck_assert_int_eq(scan("{\"id\":1,\"\\u0069\\u0064\":2,\"id\":3}", &t),
	    JSCAN_OK);
	ck_assert_int_eq(t.ids, 3);
	ck_assert_uint_eq(t.id_len, 1);
	ck_assert_int_eq(*t.id, '3');
}
END_TEST

START_TEST(envelope_members)
{
	struct jscan_top t;

	ck_assert_int_eq(scan("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}", &t),
	    JSCAN_OK);
	ck_assert(t.has_method && !t.has_result && !t.has_error);
	ck_assert_int_eq(t.ids, 0);
	ck_assert_int_eq(scan("{\"result\":{\"method\":1},\"id\":1}", &t),
	    JSCAN_OK);
	ck_assert(!t.has_method && t.has_result && !t.has_error);
	ck_assert_int_eq(scan("{\"\\u0065rror\":{},\"id\":null}", &t),
	    JSCAN_OK);
	ck_assert(!t.has_method && !t.has_result && t.has_error);
	ck_assert_int_eq(scan("{\"Method\":1,\"results\":2,\"err\":3}", &t),
	    JSCAN_OK);
	ck_assert(!t.has_method && !t.has_result && !t.has_error);
	/* members are counted as far as the scan got */
	ck_assert_int_eq(scan("{\"method\":\"m\",\"id\":5,\"x\":tru}", &t),
	    JSCAN_INVALID);
	ck_assert(t.has_method);
	ck_assert_int_eq(t.ids, 1);
	ck_assert_uint_eq(t.stop, 25);
}
END_TEST

/* ---- jscan_loadable() ---- */

/* jscan_loadable() on s (a guard page after it): -1, or the offset where
   it left the cursor. */
static long
loadable(const char *s)
{
	struct guarded g;
	struct jscan_cur c;
	const char *p;
	size_t n = strlen(s);
	long r;

	p = guard(&g, s, n);
	c.p = (const unsigned char *)p;
	c.end = c.p + n;
	if (jscan_loadable(&c) == -1) {
		ck_assert(c.p == (const unsigned char *)p);	/* unchanged */
		r = -1;
	} else
		r = (long)((const char *)c.p - p);
	unguard(&g);
	return r;
}

/* The container is taken and the cursor left right after it. */
#define TAKES(container, rest) \
	ck_assert_int_eq(loadable(container rest), (long)sizeof(container) - 1)

START_TEST(loadable_accepts)
{
	TAKES("{}", "");
	TAKES("[]", " , 1");
	TAKES("{\"a\": [1, -2.5, 1e10, \"x\", true, false, null], \"b\" : {}}",
	    "rest");
	TAKES("[\"\\n\\u00e9\\ud83d\\ude00\"]", "]");
	TAKES("[123456789012345678]", "");	/* 18 digits */
	TAKES("[-123456789012345678]", "");
	TAKES("[1.5e-99]", "");
	/* the same name in different objects */
	TAKES("[{\"a\":1},{\"a\":2},{\"b\":{\"a\":3}}]", "");
}
END_TEST

START_TEST(loadable_refuses)
{
	static const char *const no[] = {
		"1",				/* not a container */
		" {}",				/* not at c->p */
		"\"s\"",
		"{\"a\":1,\"a\":2}",		/* duplicate (pairwise) */
		"{\"a\":{\"b\":1,\"b\":1}}",
		"{\"\\u0061\":1}",		/* escaped name */
		"[\"\\u0000\"]",		/* jansson refuses \u0000 */
		"[1234567890123456789]",	/* 19 digits: maybe not int64 */
		"[1e100]",			/* exponent of 3 digits */
		"[1e+100]",
		"{\"a\":}",			/* not JSON */
		"[1,]",
		"[\"\xff\"]",
		"{\"a\":1",
		"[",
	};
	size_t i;

	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(loadable(no[i]) == -1, "took %s", no[i]);
}
END_TEST

/* {"k0":0,...} with names k0..k(n-2) and then k(last). */
static void
names(char *s, size_t size, int n, int last)
{
	size_t o = 0;
	int i;

	s[o++] = '{';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, size - o, "%s\"k%d\":%d",
		    i ? "," : "", i < n - 1 ? i : last, i);
	snprintf(s + o, size - o, "}");
}

/* More names than are compared pairwise: the sorted path, both ways. */
START_TEST(loadable_many_names)
{
	char s[1024];

	names(s, sizeof(s), 40, 39);
	ck_assert_int_eq(loadable(s), (long)strlen(s));
	names(s, sizeof(s), 40, 0);	/* the last name repeats the first */
	ck_assert_int_eq(loadable(s), -1);
	names(s, sizeof(s), 10, 3);	/* pairwise */
	ck_assert_int_eq(loadable(s), -1);
}
END_TEST

/* JSCAN_LOADABLE_MAX_DEPTH levels are checked; one more is left to
   jansson. */
START_TEST(loadable_depth)
{
	enum { D = JSCAN_LOADABLE_MAX_DEPTH };
	char s[2 * D + 3];
	size_t i;

	for (i = 0; i < D; i++) {
		s[i] = '[';
		s[2 * D - 1 - i] = ']';
	}
	s[2 * D] = '\0';
	ck_assert_int_eq(loadable(s), 2 * D);
	memmove(s + 1, s, 2 * D);
	s[0] = '[';
	s[2 * D + 1] = ']';
	s[2 * D + 2] = '\0';
	ck_assert_int_eq(loadable(s), -1);
}
END_TEST

/* ---- jscan_plain_string() ---- */

START_TEST(plain_strings)
{
	static const struct {
		const char	*in;
		long		 end;	/* -1: refused */
	} cases[] = {
		{ "\"abc\" rest", 5 },
		{ "\"\"", 2 },
		{ "\"h\xc3\xa9\xe2\x82\xac\"", 8 },
		{ "\"a\\nb\"", -1 },		/* an escape: not plain */
		{ "\"a\\\"", -1 },
		{ "\"a\tb\"", -1 },		/* a raw control */
		{ "\"\xff\"", -1 },
		{ "\"\xc3\"", -1 },
		{ "\"abc", -1 },		/* unterminated */
		{ "\"", -1 },
	};
	struct guarded g;
	struct jscan_cur c;
	const char *p;
	size_t i, n;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = strlen(cases[i].in);
		p = guard(&g, cases[i].in, n);
		c.p = (const unsigned char *)p;
		c.end = c.p + n;
		rc = jscan_plain_string(&c);
		if (cases[i].end == -1) {
			ck_assert_msg(rc == -1, "took %s", cases[i].in);
			ck_assert(c.p == (const unsigned char *)p);
		} else {
			ck_assert_msg(rc == 0, "refused %s", cases[i].in);
			ck_assert_int_eq((const char *)c.p - p, cases[i].end);
		}
		unguard(&g);
	}
}
END_TEST

/* Every proper prefix of a valid text is invalid, and each scan stops
   inside the prefix. */
START_TEST(prefixes)
{
	static const char text[] = "{\"jsonrpc\":\"2.0\",\"id\":\"\\u0041\","
	    "\"method\":\"m\",\"params\":{\"a\":[1,-2.5e3,true,null,"
	    "\"\xc3\xa9\\ud83d\\ude00\"]}}";
	struct guarded g;
	struct jscan_top t;
	size_t n;

	for (n = 0; n < sizeof(text) - 1; n++) {
		ck_assert_int_eq(jscan_text(guard(&g, text, n), n, &t),
		    JSCAN_INVALID);
		ck_assert_uint_le(t.stop, n);
		unguard(&g);
	}
	ck_assert_int_eq(jscan_text(guard(&g, text, n), n, &t), JSCAN_OK);
	ck_assert_uint_eq(t.id_len, 8);
	ck_assert(memcmp(t.id, "\"\\u0041\"", 8) == 0);
	unguard(&g);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("json_scan");
	TCase *tc = tcase_create("text");

	tcase_add_loop_test(tc, valid_texts, 0,
	    sizeof(valid) / sizeof(valid[0]));
	tcase_add_loop_test(tc, invalid_texts, 0,
	    sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, empty_text);
	tcase_add_test(tc, deep_arrays);
	tcase_add_test(tc, deep_mixed);
	tcase_add_test(tc, id_bytes_exact);
	tcase_add_test(tc, duplicate_ids);
	tcase_add_test(tc, envelope_members);
	tcase_add_test(tc, prefixes);
	suite_add_tcase(s, tc);
	tc = tcase_create("loadable");
	tcase_add_test(tc, loadable_accepts);
	tcase_add_test(tc, loadable_refuses);
	tcase_add_test(tc, loadable_many_names);
	tcase_add_test(tc, loadable_depth);
	tcase_add_test(tc, plain_strings);
	suite_add_tcase(s, tc);
	return t_run(s);
}
