/*
 * json_scan: JSON syntax checks that build no tree (see json_scan.h).
 *
 * One lexer (strings, escapes, numbers, literals) under two iterative
 * drivers: the strict scanner behind jscan_text() and the checker behind
 * jscan_loadable().  They share the state names: a value is expected, a
 * member name is expected, or a value just ended.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "utf8.h"

enum scan_state { SC_VALUE, SC_KEY, SC_AFTER };

/* ---- the lexer ---- */

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0, d;
	int i;

	for (i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			d = p[i] - 'a' + 10;
		else if (p[i] >= 'A' && p[i] <= 'F')
			d = p[i] - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* One escape after '\'; s->p on the byte after the backslash. */
static int
scan_escape(struct jscan_cur *s)
{
	unsigned u, lo;

	if (s->p >= s->end)
		return -1;
	if (strchr("\"\\/bfnrt", *s->p) != NULL && *s->p != '\0') {
		s->p++;
		return 0;
	}
	if (*s->p != 'u' || s->end - s->p < 5 || hex4(s->p + 1, &u) == -1)
		return -1;
	s->p += 5;
	if (u >= 0xdc00 && u <= 0xdfff)
		return -1;		/* lone low surrogate */
	if (u < 0xd800 || u > 0xdbff)
		return 0;
	if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u' ||
	    hex4(s->p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
		return -1;
	s->p += 6;
	return 0;
}

/* A string; s->p on the opening quote, left after the closing one. */
static int
scan_string(struct jscan_cur *s)
{
	size_t n;

	s->p++;
	while (s->p < s->end) {
		if (*s->p == '"') {
			s->p++;
			return 0;
		}
		if (*s->p == '\\') {
			s->p++;
			if (scan_escape(s) == -1)
				return -1;
		} else if (*s->p < 0x20)
			return -1;
		else if (*s->p < 0x80)
			s->p++;
		else if ((n = u8_charlen(s->p, (size_t)(s->end - s->p))) == 0)
			return -1;
		else
			s->p += n;
	}
	return -1;
}

static int
scan_digits(struct jscan_cur *s)
{
	const unsigned char *b = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > b ? 0 : -1;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
scan_number(struct jscan_cur *s)
{
	if (*s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (s->p >= s->end || *s->p < '1' || *s->p > '9' ||
	    scan_digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (scan_digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (scan_digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
scan_literal(struct jscan_cur *s, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

static int
scan_scalar(struct jscan_cur *s)
{
	switch (*s->p) {
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

/*
 * Bytes a string holds as they are: printable ASCII but '"' and '\\'.
 * Controls are invalid, '\\' starts an escape, bytes >= 0x80 start a
 * UTF-8 sequence.
 */
static const unsigned char plain_ascii[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x20 '"' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x50 '\\' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	/* 0x80-0xff: 0 */
};

int
jscan_plain_string(struct jscan_cur *c)
{
	const unsigned char *p = c->p + 1, *end = c->end;
	size_t n;

	for (;;) {
		while (p < end && plain_ascii[*p])
			p++;
		if (p >= end || *p < 0x80)
			break;
		if ((n = u8_charlen(p, (size_t)(end - p))) == 0)
			return -1;
		p += n;
	}
	if (p >= end || *p != '"')
		return -1;
	c->p = p + 1;
	return 0;
}

/* ---- jscan_text(): the strict scanner ---- */

struct scan {
	struct jscan_cur	 c;
	uint64_t		 small[64];	/* 1 bit per level: object? */
	uint64_t		*kinds;
	size_t			 cap;		/* levels `kinds` holds */
	size_t			 depth;
	int			 in_id;		/* the value of a top-level
						   "id" is being scanned */
	struct jscan_top	*top;
};

static int
scan_push(struct scan *s, int is_obj)
{
	uint64_t *nk;
	size_t ncap;

	if (s->depth == s->cap) {
		ncap = s->cap * 2;
		if ((nk = calloc(ncap / 64, sizeof(*nk))) == NULL)
			return -1;
		memcpy(nk, s->kinds, s->cap / 8);
		if (s->kinds != s->small)
			free(s->kinds);
		s->kinds = nk;
		s->cap = ncap;
	}
	if (is_obj)
		s->kinds[s->depth / 64] |= (uint64_t)1 << (s->depth % 64);
	else
		s->kinds[s->depth / 64] &= ~((uint64_t)1 << (s->depth % 64));
	s->depth++;
	return 0;
}

static int
scan_top_is_obj(const struct scan *s)
{
	size_t d = s->depth - 1;

	return (s->kinds[d / 64] >> (d % 64)) & 1;
}

/*
 * Decode a member name (quotes included in k..k+n) just far enough to
 * compare it with a short ASCII name; escapes count ("\u0069d" is "id").
 */
static int
key_is(const unsigned char *k, size_t n, const char *name)
{
	const unsigned char *p = k + 1, *e = k + n - 1;
	size_t i = 0, len = strlen(name);
	unsigned u;
	int c;

	while (p < e) {
		if (*p != '\\')
			c = *p++;
		else if (p[1] == 'u') {
			if (hex4(p + 2, &u) == -1)
				return 0;
			c = u < 0x80 ? (int)u : -1;
			p += 6;
		} else {
			c = p[1] == 'b' ? '\b' : p[1] == 'f' ? '\f' :
			    p[1] == 'n' ? '\n' : p[1] == 'r' ? '\r' :
			    p[1] == 't' ? '\t' : p[1];
			p += 2;
		}
		if (i >= len || c != name[i])
			return 0;
		i++;
	}
	return i == len;
}

static void
scan_member(struct scan *s, const unsigned char *k, size_t n)
{
	struct jscan_top *t = s->top;

	if (s->depth != 1)
		return;
	if (key_is(k, n, "id")) {
		t->ids++;
		s->in_id = 1;
	} else if (key_is(k, n, "method"))
		t->has_method = 1;
	else if (key_is(k, n, "result"))
		t->has_result = 1;
	else if (key_is(k, n, "error"))
		t->has_error = 1;
}

/* Value start: a container opens, or a scalar is scanned.  0, 1 when
   the nesting record could not grow, -1 when not JSON. */
static int
scan_value(struct scan *s, enum scan_state *st)
{
	int obj;

	jscan_ws(&s->c);
	if (s->c.p >= s->c.end)
		return -1;
	if (s->in_id && s->depth == 1)
		s->top->id = (const char *)s->c.p;
	if (*s->c.p != '{' && *s->c.p != '[') {
		*st = SC_AFTER;
		return scan_scalar(&s->c);
	}
	obj = *s->c.p == '{';
	s->c.p++;
	if (scan_push(s, obj) == -1)
		return 1;
	jscan_ws(&s->c);
	if (s->c.p < s->c.end && *s->c.p == (obj ? '}' : ']')) {
		s->c.p++;
		s->depth--;
		*st = SC_AFTER;
	} else
		*st = obj ? SC_KEY : SC_VALUE;
	return 0;
}

static int
scan_key(struct scan *s, enum scan_state *st)
{
	const unsigned char *k;

	jscan_ws(&s->c);
	if (s->c.p >= s->c.end || *s->c.p != '"')
		return -1;
	k = s->c.p;
	if (scan_string(&s->c) == -1)
		return -1;
	scan_member(s, k, (size_t)(s->c.p - k));
	jscan_ws(&s->c);
	if (s->c.p >= s->c.end || *s->c.p != ':')
		return -1;
	s->c.p++;
	*st = SC_VALUE;
	return 0;
}

/* After a complete value: a separator, a closer, or the end (2). */
static int
scan_after(struct scan *s, enum scan_state *st)
{
	int obj;

	if (s->in_id && s->depth == 1) {
		s->top->id_len = (size_t)((const char *)s->c.p - s->top->id);
		s->in_id = 0;
	}
	jscan_ws(&s->c);
	if (s->depth == 0)
		return s->c.p == s->c.end ? 2 : -1;
	if (s->c.p >= s->c.end)
		return -1;
	obj = scan_top_is_obj(s);
	if (*s->c.p == ',') {
		s->c.p++;
		*st = obj ? SC_KEY : SC_VALUE;
		return 0;
	}
	if (*s->c.p != (obj ? '}' : ']'))
		return -1;
	s->c.p++;
	s->depth--;
	return 0;
}

int
jscan_text(const char *buf, size_t len, struct jscan_top *top)
{
	enum scan_state st = SC_VALUE;
	struct scan s;
	int rc;

	memset(top, 0, sizeof(*top));
	s.c.p = (const unsigned char *)buf;
	s.c.end = s.c.p + len;
	s.kinds = s.small;
	s.cap = sizeof(s.small) * 8;
	s.depth = 0;
	s.in_id = 0;
	s.top = top;
	jscan_ws(&s.c);
	top->first = s.c.p < s.c.end ? *s.c.p : -1;
	do {
		if (st == SC_VALUE)
			rc = scan_value(&s, &st);
		else if (st == SC_KEY)
			rc = scan_key(&s, &st);
		else
			rc = scan_after(&s, &st);
	} while (rc == 0);
	if (s.kinds != s.small)
		free(s.kinds);
	top->stop = (size_t)((const char *)s.c.p - buf);
	return rc == 2 ? JSCAN_OK : rc == 1 ? JSCAN_NOMEM : JSCAN_INVALID;
}

/* ---- jscan_loadable(): what jansson takes ---- */

#define LOAD_KEYS_SMALL	64
#define LOAD_PAIRWISE	24	/* members compared pairwise, else sorted */
#define LOAD_NUM_MAX	200	/* bytes: a real this long cannot overflow */

struct loadkey {
	const unsigned char	*p;	/* the name, without quotes */
	size_t			 n;
};

struct loadchk {
	struct jscan_cur c;
	struct loadkey	 small[LOAD_KEYS_SMALL];
	struct loadkey	*keys;
	size_t		 nkeys, cap;
	size_t		 start[JSCAN_LOADABLE_MAX_DEPTH]; /* an object's
							     first key */
	unsigned char	 obj[JSCAN_LOADABLE_MAX_DEPTH];
	size_t		 depth;
};

/* A string; c->p on the opening quote.  No escape at all in a name. */
static int
load_string(struct jscan_cur *c, int is_key)
{
	const unsigned char *p, *end = c->end;
	size_t n;

	c->p++;
	for (;;) {
		p = c->p;
		while (p < end && plain_ascii[*p])
			p++;
		c->p = p;
		if (p >= end)
			return -1;
		if (*p == '"') {
			c->p++;
			return 0;
		}
		if (*p == '\\') {
			if (is_key || (end - p >= 6 && p[1] == 'u' &&
			    memcmp(p + 2, "0000", 4) == 0))
				return -1;
			c->p++;
			if (scan_escape(c) == -1)
				return -1;
		} else if (*p < 0x80 || (n = u8_charlen(p,
		    (size_t)(end - p))) == 0)
			return -1;
		else
			c->p += n;
	}
}

/* A number jansson surely takes as the same kind of number. */
static int
load_number(struct jscan_cur *c)
{
	const unsigned char *b = c->p, *e;
	int real = 0;

	if (scan_number(c) == -1)
		return -1;
	for (e = b; e < c->p; e++)
		if (*e == '.' || *e == 'e' || *e == 'E')
			real = 1;
	if (!real)
		return c->p - b - (*b == '-') <= JSCAN_SAFE_INT_DIGITS ? 0 : -1;
	if (c->p - b > LOAD_NUM_MAX)
		return -1;
	for (e = b; e < c->p && *e != 'e' && *e != 'E'; e++)
		;
	if (e < c->p && (e[1] == '+' || e[1] == '-'))
		e++;
	return c->p - e - 1 <= 2 ? 0 : -1;
}

static int
loadkey_cmp(const void *a, const void *b)
{
	const struct loadkey *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->p, y->p, x->n);
}

/* The names of the object closing now are distinct; drops them. */
static int
load_close_object(struct loadchk *r)
{
	struct loadkey *k = r->keys + r->start[r->depth - 1];
	size_t n = r->nkeys - r->start[r->depth - 1], i, j;

	r->nkeys = r->start[r->depth - 1];
	if (n <= LOAD_PAIRWISE) {
		for (i = 1; i < n; i++)
			for (j = 0; j < i; j++)
				if (k[i].n == k[j].n &&
				    memcmp(k[i].p, k[j].p, k[i].n) == 0)
					return -1;
		return 0;
	}
	qsort(k, n, sizeof(*k), loadkey_cmp);
	for (i = 1; i < n; i++)
		if (loadkey_cmp(&k[i - 1], &k[i]) == 0)
			return -1;
	return 0;
}

static int
load_push_key(struct loadchk *r, const unsigned char *p, size_t n)
{
	struct loadkey *nk;
	size_t ncap;

	if (r->nkeys == r->cap) {
		ncap = r->cap * 2;
		if ((nk = malloc(ncap * sizeof(*nk))) == NULL)
			return -1;
		memcpy(nk, r->keys, r->nkeys * sizeof(*nk));
		if (r->keys != r->small)
			free(r->keys);
		r->keys = nk;
		r->cap = ncap;
	}
	r->keys[r->nkeys].p = p;
	r->keys[r->nkeys].n = n;
	r->nkeys++;
	return 0;
}

/* Value start: a container opens (maybe closes at once), or a scalar. */
static int
load_value(struct loadchk *r, enum scan_state *st)
{
	struct jscan_cur *c = &r->c;
	int obj;

	jscan_ws(c);
	if (c->p >= c->end)
		return -1;
	*st = SC_AFTER;
	switch (*c->p) {
	case '{':
	case '[':
		break;
	case '"':
		return load_string(c, 0);
	case 't':
		return scan_literal(c, "true");
	case 'f':
		return scan_literal(c, "false");
	case 'n':
		return scan_literal(c, "null");
	default:
		return load_number(c);
	}
	if (r->depth == JSCAN_LOADABLE_MAX_DEPTH)
		return -1;
	obj = *c->p++ == '{';
	jscan_ws(c);
	if (c->p < c->end && *c->p == (obj ? '}' : ']')) {
		c->p++;
		return 0;
	}
	r->obj[r->depth] = (unsigned char)obj;
	r->start[r->depth] = r->nkeys;
	r->depth++;
	*st = obj ? SC_KEY : SC_VALUE;
	return 0;
}

static int
load_key(struct loadchk *r, enum scan_state *st)
{
	struct jscan_cur *c = &r->c;
	const unsigned char *k;

	jscan_ws(c);
	if (c->p >= c->end || *c->p != '"')
		return -1;
	k = c->p;
	if (load_string(c, 1) == -1 ||
	    load_push_key(r, k + 1, (size_t)(c->p - k) - 2) == -1)
		return -1;
	jscan_ws(c);
	if (c->p >= c->end || *c->p != ':')
		return -1;
	c->p++;
	*st = SC_VALUE;
	return 0;
}

/* After a value: 1 when the outermost container closed. */
static int
load_after(struct loadchk *r, enum scan_state *st)
{
	struct jscan_cur *c = &r->c;
	int obj;

	if (r->depth == 0)
		return 1;
	jscan_ws(c);
	if (c->p >= c->end)
		return -1;
	obj = r->obj[r->depth - 1];
	if (*c->p == ',') {
		c->p++;
		*st = obj ? SC_KEY : SC_VALUE;
		return 0;
	}
	if (*c->p != (obj ? '}' : ']'))
		return -1;
	c->p++;
	if (obj && load_close_object(r) == -1)
		return -1;
	r->depth--;
	return 0;
}

int
jscan_loadable(struct jscan_cur *c)
{
	struct loadchk r;
	enum scan_state st = SC_VALUE;
	int rc;

	/* A scalar at c->p is not a container: not for this check. */
	if (c->p >= c->end || (*c->p != '{' && *c->p != '['))
		return -1;
	r.c = *c;
	r.keys = r.small;
	r.cap = LOAD_KEYS_SMALL;
	r.nkeys = r.depth = 0;
	do {
		if (st == SC_VALUE)
			rc = load_value(&r, &st);
		else if (st == SC_KEY)
			rc = load_key(&r, &st);
		else
			rc = load_after(&r, &st);
	} while (rc == 0);
	if (r.keys != r.small)
		free(r.keys);
	if (rc == -1)
		return -1;
	*c = r.c;
	return 0;
}
