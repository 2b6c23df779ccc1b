/*
 * sse: the event stream reader (see sse.h).  A read is cut into lines
 * where a CR or LF is; a line that ends inside the read is handled in
 * place, only a line's unfinished tail is copied into `line`.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "sse.h"
#include "utf8.h"

static const unsigned char bom_bytes[3] = { 0xef, 0xbb, 0xbf };

void
sse_init(struct sse *p, size_t max, sse_event_fn fn, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->max = max ? max : SSE_MAX_DEFAULT;
	buf_init(&p->line, p->max);
	/* data: the value plus its LF, and the NUL the callback sees */
	buf_init(&p->data, p->max + 2);
	buf_init(&p->type, p->max + 1);
	buf_init(&p->id, p->max + 1);
	p->fn = fn;
	p->arg = arg;
	p->retry_ms = -1;
}

void
sse_free(struct sse *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->type);
	buf_free(&p->id);
}

static int
fail(struct sse *p, int err)
{
	p->failed = 1;
	errno = err;
	return -1;
}

/* Append, mapping the bound to EMSGSIZE. */
static int
put(struct sse *p, struct buf *b, const void *s, size_t n)
{
	if (buf_append(b, s, n) == 0)
		return 0;
	return fail(p, errno == ENOBUFS ? EMSGSIZE : ENOMEM);
}

/*
 * Append s[0..n) as valid UTF-8: every byte that is not part of a
 * character becomes U+FFFD.  Lines are cut only at CR and LF, which no
 * character contains, so repairing line by line is repairing the stream.
 */
static int
put_text(struct sse *p, struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i, c, run;

	if (u8_valid(s, n))
		return put(p, b, s, n);
	for (i = 0; i < n; i += c) {
		for (run = i; run < n && (c = u8_charlen(u + run, n - run)) > 0;
		    run += c)
			;
		if (run > i && put(p, b, s + i, run - i) == -1)
			return -1;
		if (run == n)
			break;
		if (put(p, b, "\xef\xbf\xbd", 3) == -1)
			return -1;
		i = run;
		c = 1;
	}
	return 0;
}

/* The NUL-terminated contents of b (the NUL not counted). */
static const char *
cstr(struct sse *p, struct buf *b)
{
	if (put(p, b, "", 1) == -1)
		return NULL;
	b->len--;
	return buf_data(b);
}

/* The empty line: dispatch the event, if it has data.  0, the
   callback's value, or -1. */
static int
dispatch(struct sse *p)
{
	struct sse_event ev;
	int rc;

	if (buf_used(&p->data) == 0) {
		buf_reset(&p->type);
		return 0;
	}
	p->data.len--;			/* the LF the last data line added */
	ev.len = buf_used(&p->data);
	if ((ev.data = cstr(p, &p->data)) == NULL ||
	    (ev.type = cstr(p, &p->type)) == NULL ||
	    (ev.id = cstr(p, &p->id)) == NULL)
		return -1;
	if (ev.type[0] == '\0')
		ev.type = "message";
	p->events++;
	rc = p->fn(&ev, p->arg);
	buf_reset(&p->data);
	buf_reset(&p->type);
	return rc;
}

/* One line, its end not included.  0, the callback's value, or -1. */
static int
line(struct sse *p, const char *s, size_t n)
{
	const char *colon, *v;
	size_t fn, vn, i;
	long r;

	if (n == 0)
		return dispatch(p);
	if (s[0] == ':')
		return 0;
	if ((colon = memchr(s, ':', n)) != NULL) {
		fn = (size_t)(colon - s);
		v = colon + 1;
		vn = n - fn - 1;
		if (vn > 0 && v[0] == ' ') {
			v++;
			vn--;
		}
	} else {
		fn = n;
		v = s + n;
		vn = 0;
	}
	if (fn == 4 && memcmp(s, "data", 4) == 0) {
		if (put_text(p, &p->data, v, vn) == -1 ||
		    put(p, &p->data, "\n", 1) == -1)
			return -1;
		/* the bound is on the data, not on its separators */
		if (buf_used(&p->data) > p->max + 1)
			return fail(p, EMSGSIZE);
	} else if (fn == 5 && memcmp(s, "event", 5) == 0) {
		buf_reset(&p->type);
		return put_text(p, &p->type, v, vn);
	} else if (fn == 2 && memcmp(s, "id", 2) == 0) {
		if (memchr(v, '\0', vn) != NULL)
			return 0;
		buf_reset(&p->id);
		return put_text(p, &p->id, v, vn);
	} else if (fn == 5 && memcmp(s, "retry", 5) == 0) {
		for (i = 0, r = 0; i < vn; i++) {
			if (v[i] < '0' || v[i] > '9')
				return 0;
			if (r <= 86400000L)	/* beyond a day: a day */
				r = r * 10 + (v[i] - '0');
		}
		if (vn > 0)
			p->retry_ms = r > 86400000L ? 86400000L : r;
	}
	return 0;
}

/* The end of the line whose tail is in p->line, or of s[0..n) when
   p->line is empty. */
static int
line_end(struct sse *p, const char *s, size_t n)
{
	int rc;

	if (buf_used(&p->line) == 0) {
		/* the bound the line buffer puts on a line cut in two */
		if (n > p->max)
			return fail(p, EMSGSIZE);
		return line(p, s, n);
	}
	if (put(p, &p->line, s, n) == -1)
		return -1;
	rc = line(p, buf_data(&p->line), buf_used(&p->line));
	buf_reset(&p->line);
	return rc;
}

static int
feed(struct sse *p, const char *s, size_t len, size_t *used)
{
	const char *end = s + len, *q, *start = s;
	int rc;

	while (s < end) {
		if (p->cr) {
			p->cr = 0;
			if (*s == '\n') {	/* the LF of a CRLF cut in two */
				s++;
				continue;
			}
		}
		for (q = s; q < end && *q != '\n' && *q != '\r'; q++)
			;
		if (q == end) {
			if (put(p, &p->line, s, (size_t)(end - s)) == -1)
				return -1;
			break;
		}
		if (*q == '\r')
			p->cr = 1;
		rc = line_end(p, s, (size_t)(q - s));
		s = q + 1;
		if (rc != 0) {
			if (used != NULL)
				*used = (size_t)(s - start);
			/* a CRLF's LF in the same read is part of the line */
			if (rc > 0 && p->cr && s < end && *s == '\n') {
				p->cr = 0;
				if (used != NULL)
					(*used)++;
			}
			return rc;
		}
	}
	if (used != NULL)
		*used = len;
	return 0;
}

int
sse_feed(struct sse *p, const void *bytes, size_t len, size_t *used)
{
	const unsigned char *b = bytes;
	size_t k = 0, u = 0;
	int rc;

	if (used != NULL)
		*used = 0;
	if (p->failed) {
		errno = EINVAL;
		return -1;
	}
	/* the byte order mark, which may come one byte per read */
	while (!p->bom && u < len) {
		if (b[u] != bom_bytes[p->nhead]) {
			p->bom = 1;
			/* not a BOM after all: text (no line ends in it) */
			if (p->nhead > 0 && put(p, &p->line, bom_bytes,
			    p->nhead) == -1)
				return -1;
			break;
		}
		p->nhead++;
		u++;
		if (p->nhead == 3)
			p->bom = 1;
	}
	if (u == len) {
		if (used != NULL)
			*used = len;
		return 0;
	}
	rc = feed(p, (const char *)b + u, len - u, &k);
	if (used != NULL)
		*used = u + k;
	return rc;
}

int
sse_finish(struct sse *p)
{
	int left;

	left = buf_used(&p->line) > 0 || buf_used(&p->data) > 0 ||
	    buf_used(&p->type) > 0 || (!p->bom && p->nhead > 0);
	buf_reset(&p->line);
	buf_reset(&p->data);
	buf_reset(&p->type);
	p->cr = 0;
	return left;
}
