#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "frame.h"
#include "rpc.h"

/*
 * Reader states.  Every state keeps the invariant that the unconsumed
 * input starts at the beginning of the thing the state is waiting for, so
 * r->scan (bytes already searched for '\n') never has to be rewound.
 */
enum {
	ST_DETECT,	/* FRAME_AUTO: skipping whitespace before the first byte */
	ST_HEADER,	/* CL: at the start of a header line */
	ST_BODY,	/* CL: waiting for body_len body bytes */
	ST_HEAD,	/* CL: keeping the first bytes of an oversize body */
	ST_SKIP,	/* CL: discarding `skip` bytes of an oversize body */
	ST_LINE,	/* NDJSON: at the start of a line */
	ST_DISCARD,	/* NDJSON: discarding an over-long line up to '\n' */
	ST_FATAL,	/* stream cannot be resynchronised */
};

/* Read size asked from buf_reserve() when nothing bigger is known. */
#define FRAME_READ_CHUNK	(64u * 1024)
/* An idle buffer larger than this is released rather than kept. */
#define FRAME_KEEP_CAP		(1024u * 1024)

/* Start of unread input; never NULL (buf_data() is NULL + 0 when empty). */
static const char *
in_data(const struct frame_reader *r)
{
	return r->in.base != NULL ? buf_data(&r->in) : "";
}

static int
is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum frame_status
fail(struct frame_reader *r, enum frame_status st, int code,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	r->err_code = code;
	if (st == FRAME_FATAL) {
		r->fatal = 1;
		r->state = ST_FATAL;
	}
	return st;
}

static void
start_header(struct frame_reader *r)
{
	r->state = ST_HEADER;
	r->scan = 0;
	r->hdr_bytes = 0;
	r->have_len = 0;
	r->body_len = 0;
}

void
frame_reader_init(struct frame_reader *r, enum frame_mode mode, size_t max_msg)
{
	size_t bound;

	memset(r, 0, sizeof(*r));
	if (max_msg == 0)
		max_msg = FRAME_DEFAULT_MAX_MSG;
	if (max_msg > SIZE_MAX / 2)
		max_msg = SIZE_MAX / 2;
	bound = max_msg + FRAME_MAX_HEADER_BLOCK;
	r->mode = mode;
	r->max_msg = max_msg;
	buf_init(&r->in, bound);
	switch (mode) {
	case FRAME_CL:
		start_header(r);
		break;
	case FRAME_NDJSON:
		r->state = ST_LINE;
		break;
	default:
		r->mode = FRAME_AUTO;
		r->state = ST_DETECT;
		break;
	}
}

void
frame_reader_free(struct frame_reader *r)
{
	buf_free(&r->in);
}

/*
 * Room for the next read(2).  While a large CL body is pending the request
 * grows with what has arrived (doubling, up to the rest of the body), so
 * the body is moved O(log n) times, and a peer that only declares a large
 * length does not get that much memory allocated up front.  NULL (and the
 * reader turns fatal) when the bound is reached without the caller
 * draining events, or on ENOMEM.
 */
char *
frame_reader_space(struct frame_reader *r, size_t *avail)
{
	size_t want = FRAME_READ_CHUNK, used = buf_used(&r->in), rest;
	char *p;

	if (r->state == ST_BODY && r->body_len > used) {
		rest = r->body_len - used;
		if (used > want)
			want = used;
		if (want > rest)
			want = rest;
	}
	if ((p = buf_reserve(&r->in, want, avail)) == NULL) {
		if (!r->fatal)
			fail(r, FRAME_FATAL, errno == ENOBUFS ?
			    RPC_INVALID_REQUEST : RPC_INTERNAL_ERROR,
			    errno == ENOBUFS ? "input buffer full (%zu bytes)" :
			    "out of memory buffering input (%zu bytes)", used);
		return NULL;
	}
	return p;
}

void
frame_reader_commit(struct frame_reader *r, size_t n)
{
	buf_commit(&r->in, n);
}

/*
 * Copy all n bytes in.  0 on success; -1 with errno ENOBUFS when they do
 * not fit in the room left (nothing is copied then: drain events first).
 */
int
frame_reader_feed(struct frame_reader *r, const void *data, size_t n)
{
	const char *s = data;
	size_t avail;
	char *p;

	if (n > r->in.max - buf_used(&r->in)) {
		errno = ENOBUFS;
		return -1;
	}
	while (n > 0) {
		if ((p = frame_reader_space(r, &avail)) == NULL)
			return -1;
		if (avail > n)
			avail = n;
		memcpy(p, s, avail);
		frame_reader_commit(r, avail);
		s += avail;
		n -= avail;
	}
	return 0;
}

/*
 * Find the next '\n' at or after r->scan; returns its offset from the
 * start of the unconsumed input, or -1 (r->scan then covers everything).
 */
static ssize_t
find_nl(struct frame_reader *r)
{
	const char *d = in_data(r), *nl;
	size_t used = buf_used(&r->in);

	if (r->scan >= used)
		return -1;
	nl = memchr(d + r->scan, '\n', used - r->scan);
	if (nl == NULL) {
		r->scan = used;
		return -1;
	}
	return nl - d;
}

static void
consume(struct frame_reader *r, size_t n)
{
	buf_consume(&r->in, n);
	r->scan = 0;
}

/* FRAME_AUTO: drop leading whitespace, then fix the mode. */
static int
detect(struct frame_reader *r)
{
	const char *d = in_data(r);
	size_t used = buf_used(&r->in), i;

	for (i = 0; i < used && is_ws((unsigned char)d[i]); i++)
		;
	consume(r, i);
	if (i == used)
		return 0;
	if (d[i] == '{' || d[i] == '[') {
		r->mode = FRAME_NDJSON;
		r->state = ST_LINE;
	} else {
		r->mode = FRAME_CL;
		start_header(r);
	}
	return 1;
}

/*
 * Parse a Content-Length value (OWS already trimmed).  Returns 0 and sets
 * *out, or -1 with the frame error already recorded.
 */
static int
parse_length(struct frame_reader *r, const char *v, size_t n, size_t *out)
{
	size_t val = 0, i;

	if (n == 0) {
		fail(r, FRAME_FATAL, RPC_PARSE_ERROR, "Content-Length is empty");
		return -1;
	}
	if (v[0] == '-') {
		fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
		    "Content-Length is negative");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9') {
			fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
			    "Content-Length is not a decimal number");
			return -1;
		}
		if (val > (SIZE_MAX - (size_t)(v[i] - '0')) / 10) {
			fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
			    "Content-Length overflows");
			return -1;
		}
		val = val * 10 + (size_t)(v[i] - '0');
	}
	*out = val;
	return 0;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * One complete header line (without its line end).  Returns 0 when the
 * line was accepted, -1 when it made the stream fatal.
 */
static int
header_line(struct frame_reader *r, const char *line, size_t n)
{
	const char *colon, *v;
	size_t namelen, vlen, val;

	if ((colon = memchr(line, ':', n)) == NULL) {
		fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
		    "header line without ':'");
		return -1;
	}
	namelen = (size_t)(colon - line);
	while (namelen > 0 && is_ows(line[namelen - 1]))
		namelen--;
	if (namelen == 0) {
		fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
		    "header line without a name");
		return -1;
	}
	if (namelen != 14 || strncasecmp(line, "Content-Length", 14) != 0)
		return 0;	/* Content-Type and the rest: ignored */
	v = colon + 1;
	vlen = n - (size_t)(v - line);
	while (vlen > 0 && is_ows(*v)) {
		v++;
		vlen--;
	}
	while (vlen > 0 && is_ows(v[vlen - 1]))
		vlen--;
	if (parse_length(r, v, vlen, &val) == -1)
		return -1;
	if (r->have_len && val != r->body_len) {
		fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
		    "Content-Length repeated with a different value");
		return -1;
	}
	r->have_len = 1;
	r->body_len = val;
	return 0;
}

/* The blank line ending a header block. */
static enum frame_status
header_end(struct frame_reader *r)
{
	if (!r->have_len)
		return fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
		    "header block without Content-Length");
	if (r->body_len > r->max_msg) {
		r->skip = r->body_len;
		if (r->keep_head) {
			/* reported by keep() once the head is in */
			r->state = ST_HEAD;
			return FRAME_MORE;
		}
		r->state = ST_SKIP;
		return fail(r, FRAME_BAD, RPC_INVALID_REQUEST,
		    "message of %zu bytes exceeds the limit of %zu bytes",
		    r->body_len, r->max_msg);
	}
	r->state = ST_BODY;
	return FRAME_MORE;
}

/*
 * Header state: consume whole lines.  Blank lines before the first header
 * line are tolerated (a stray CRLF after a body).  Returns FRAME_MORE with
 * r->state advanced to ST_BODY when a block completed, or an error status.
 */
static enum frame_status
header(struct frame_reader *r)
{
	const char *d;
	ssize_t nl;
	size_t n, used;

	for (;;) {
		used = buf_used(&r->in);
		if ((nl = find_nl(r)) == -1) {
			if (used > FRAME_MAX_HEADER_LINE + 1)
				return fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
				    "header line longer than %u bytes",
				    FRAME_MAX_HEADER_LINE);
			if (r->hdr_bytes + used > FRAME_MAX_HEADER_BLOCK)
				return fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
				    "header block longer than %u bytes",
				    FRAME_MAX_HEADER_BLOCK);
			return FRAME_MORE;
		}
		d = in_data(r);
		n = (size_t)nl;
		if (n > 0 && d[n - 1] == '\r')
			n--;
		if (n > FRAME_MAX_HEADER_LINE)
			return fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
			    "header line longer than %u bytes",
			    FRAME_MAX_HEADER_LINE);
		r->hdr_bytes += (size_t)nl + 1;
		if (r->hdr_bytes > FRAME_MAX_HEADER_BLOCK)
			return fail(r, FRAME_FATAL, RPC_PARSE_ERROR,
			    "header block longer than %u bytes",
			    FRAME_MAX_HEADER_BLOCK);
		if (n == 0) {
			consume(r, (size_t)nl + 1);
			if (r->hdr_bytes == (size_t)nl + 1 && !r->have_len) {
				/* blank line before any header */
				r->hdr_bytes = 0;
				continue;
			}
			return header_end(r);
		}
		if (header_line(r, d, n) == -1)
			return FRAME_FATAL;
		consume(r, (size_t)nl + 1);
	}
}

/* Copy up to n bytes of d into the head (keep_head). */
static void
head_add(struct frame_reader *r, const char *d, size_t n)
{
	if (n > FRAME_HEAD_MAX - r->head_len)
		n = FRAME_HEAD_MAX - r->head_len;
	memcpy(r->head + r->head_len, d, n);
	r->head_len += n;
}

/*
 * NDJSON: next non-blank line.  Lines longer than max_msg (line end and a
 * trailing '\r' excluded) are reported once and discarded up to '\n'.
 */
static enum frame_status
line(struct frame_reader *r, const char **msg, size_t *len)
{
	const char *d;
	ssize_t nl;
	size_t n, i;

	for (;;) {
		if ((nl = find_nl(r)) == -1) {
			if (buf_used(&r->in) > r->max_msg + 1) {
				r->state = ST_DISCARD;
				if (r->keep_head)
					head_add(r, in_data(r),
					    buf_used(&r->in));
				return fail(r, FRAME_BAD, RPC_INVALID_REQUEST,
				    "message line exceeds the limit of %zu "
				    "bytes", r->max_msg);
			}
			return FRAME_MORE;
		}
		d = in_data(r);
		n = (size_t)nl;
		if (n > 0 && d[n - 1] == '\r')
			n--;
		consume(r, (size_t)nl + 1);
		if (n > r->max_msg) {
			if (r->keep_head)
				head_add(r, d, n);
			return fail(r, FRAME_BAD, RPC_INVALID_REQUEST,
			    "message line exceeds the limit of %zu bytes",
			    r->max_msg);
		}
		for (i = 0; i < n && is_ws((unsigned char)d[i]); i++)
			;
		if (i == n)
			continue;
		*msg = d;
		*len = n;
		return FRAME_MSG;
	}
}

static void
discard(struct frame_reader *r)
{
	ssize_t nl;

	if ((nl = find_nl(r)) == -1) {
		consume(r, buf_used(&r->in));
		return;
	}
	consume(r, (size_t)nl + 1);
	r->state = ST_LINE;
}

/*
 * ST_HEAD: move the body's first bytes into the head; once it is full
 * (or the body ended), report the message and skip the rest.
 */
static enum frame_status
keep(struct frame_reader *r)
{
	size_t n = buf_used(&r->in), before = r->head_len;

	if (n > r->skip)
		n = r->skip;
	head_add(r, in_data(r), n);
	n = r->head_len - before;
	consume(r, n);
	r->skip -= n;
	if (r->head_len < FRAME_HEAD_MAX && r->skip > 0)
		return FRAME_MORE;
	if (r->skip > 0)
		r->state = ST_SKIP;
	else
		start_header(r);
	return fail(r, FRAME_BAD, RPC_INVALID_REQUEST,
	    "message of %zu bytes exceeds the limit of %zu bytes",
	    r->body_len, r->max_msg);
}

static void
skip(struct frame_reader *r)
{
	size_t n = buf_used(&r->in);

	if (n > r->skip)
		n = r->skip;
	consume(r, n);
	r->skip -= n;
	if (r->skip == 0)
		start_header(r);
}

/* CL body complete? Then hand it out; it is consumed already but stays in
   place until the caller's next call on the reader. */
static enum frame_status
body(struct frame_reader *r, const char **msg, size_t *len)
{
	if (buf_used(&r->in) < r->body_len)
		return FRAME_MORE;
	*msg = in_data(r);
	*len = r->body_len;
	consume(r, r->body_len);
	start_header(r);
	return FRAME_MSG;
}

static void
release_idle(struct frame_reader *r)
{
	if (buf_used(&r->in) == 0 && r->in.cap > FRAME_KEEP_CAP)
		buf_free(&r->in);
}

/*
 * Next event.  The loop runs while a state made progress without producing
 * an event; every iteration either consumes input or changes state toward
 * one that waits for input, so it ends.
 */
enum frame_status
frame_reader_next(struct frame_reader *r, const char **msg, size_t *len)
{
	enum frame_status st;
	size_t before;

	*msg = NULL;
	*len = 0;
	if (r->state != ST_HEAD)	/* else it is being filled */
		r->head_len = 0;
	for (;;) {
		if (r->fatal)
			return FRAME_FATAL;
		switch (r->state) {
		case ST_DETECT:
			if (!detect(r))
				goto more;
			break;
		case ST_HEADER:
			if ((st = header(r)) != FRAME_MORE)
				return st;
			if (r->state == ST_HEADER)
				goto more;
			break;
		case ST_BODY:
			if ((st = body(r, msg, len)) != FRAME_MORE)
				return st;
			goto more;
		case ST_HEAD:
			if ((st = keep(r)) != FRAME_MORE)
				return st;
			goto more;
		case ST_SKIP:
			skip(r);
			if (r->state == ST_SKIP)
				goto more;
			break;
		case ST_LINE:
			if ((st = line(r, msg, len)) != FRAME_MORE)
				return st;
			goto more;
		case ST_DISCARD:
			before = buf_used(&r->in);
			discard(r);
			if (r->state == ST_DISCARD || before == 0)
				goto more;
			break;
		default:
			r->fatal = 1;
			return FRAME_FATAL;
		}
	}
more:
	release_idle(r);
	return FRAME_MORE;
}

/*
 * At EOF: a CL header block or body, or an NDJSON line without its '\n',
 * left over counts as a truncated message.  Input already reported (an
 * oversize body or line being skipped, a fatal stream) does not.
 */
int
frame_reader_eof(struct frame_reader *r)
{
	const char *d = in_data(r);
	size_t used = buf_used(&r->in), i;

	switch (r->state) {
	case ST_DETECT:
	case ST_HEADER:
	case ST_LINE:
		for (i = 0; i < used && is_ws((unsigned char)d[i]); i++)
			;
		if (i == used && (r->state != ST_HEADER || r->hdr_bytes == 0))
			return 0;
		if (r->state == ST_LINE)
			fail(r, FRAME_BAD, RPC_PARSE_ERROR,
			    "end of input inside a message line "
			    "(%zu bytes without a final newline)", used);
		else
			fail(r, FRAME_BAD, RPC_PARSE_ERROR,
			    "end of input inside a header block");
		return 1;
	case ST_BODY:
		fail(r, FRAME_BAD, RPC_PARSE_ERROR,
		    "end of input after %zu of %zu body bytes",
		    used, r->body_len);
		return 1;
	default:
		return 0;
	}
}

size_t
frame_max_msg_from_env(void)
{
	const char *v = getenv("AFU9_MAX_MESSAGE_BYTES");
	size_t val = 0;

	if (v == NULL || *v == '\0')
		return FRAME_DEFAULT_MAX_MSG;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return FRAME_DEFAULT_MAX_MSG;
		if (val > (SIZE_MAX / 2 - (size_t)(*v - '0')) / 10)
			return FRAME_DEFAULT_MAX_MSG;
		val = val * 10 + (size_t)(*v - '0');
	}
	if (val < FRAME_MIN_MAX_MSG)
		return FRAME_DEFAULT_MAX_MSG;
	return val;
}

void
frame_writer_init(struct frame_writer *w, enum frame_mode mode, size_t max_out)
{
	memset(w, 0, sizeof(*w));
	w->mode = mode;
	buf_init(&w->out, max_out ? max_out : FRAME_DEFAULT_MAX_OUT);
}

void
frame_writer_free(struct frame_writer *w)
{
	buf_free(&w->out);
}

/*
 * Queue one framed message, all or nothing.  Besides ENOBUFS, NDJSON
 * output refuses a body holding a raw '\n' (EINVAL): it would split into
 * two lines on the wire and desynchronise the peer.
 */
int
frame_write(struct frame_writer *w, const char *json, size_t len)
{
	char hdr[64];
	size_t hlen = 0, total, avail;
	char *p;

	if (w->mode == FRAME_CL) {
		hlen = (size_t)snprintf(hdr, sizeof(hdr),
		    "Content-Length: %zu\r\n\r\n", len);
		total = hlen + len;
	} else {
		if (len > 0 && memchr(json, '\n', len) != NULL) {
			errno = EINVAL;
			return -1;
		}
		total = len + 1;
	}
	if (total < len || total > w->out.max - buf_used(&w->out)) {
		errno = ENOBUFS;
		return -1;
	}
	if ((p = buf_reserve(&w->out, total, &avail)) == NULL)
		return -1;
	if (avail < total) {
		errno = ENOBUFS;
		return -1;
	}
	if (hlen > 0)
		memcpy(p, hdr, hlen);
	if (len > 0)
		memcpy(p + hlen, json, len);
	if (w->mode != FRAME_CL)
		p[len] = '\n';
	buf_commit(&w->out, total);
	return 0;
}

int
frame_writer_flush(struct frame_writer *w, int fd)
{
	ssize_t n;

	while (buf_used(&w->out) > 0) {
		n = write(fd, buf_data(&w->out), buf_used(&w->out));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0)
			return 0;
		buf_consume(&w->out, (size_t)n);
	}
	if (w->out.cap > FRAME_KEEP_CAP)
		buf_free(&w->out);
	return 1;
}
