#include "config.h"

#include <string.h>
#include <strings.h>

#include "http/httpparse.h"

/* Character classes, one bit each, in one 256-entry table. */
#define C_TCHAR		0x01	/* RFC 9110 token character */
#define C_TARGET	0x02	/* allowed in a request-target (RFC 3986) */
#define C_VALUE		0x04	/* field-vchar, SP, HTAB */
#define C_LINE		0x08	/* allowed anywhere in the request line */
#define C_HEAD		0x10	/* allowed anywhere in the header section */
#define C_HEX		0x20

static unsigned char ctab[256];

static void
ctab_init(void)
{
	const char *tchar_extra = "!#$%&'*+-.^_`|~";
	const char *target_extra = "-._~!$&'()*+,;=:@/?%[]";
	int c;

	if (ctab['a'] != 0)
		return;
	for (c = 0; c < 256; c++) {
		unsigned char v = 0;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9'))
			v |= C_TCHAR | C_TARGET;
		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F'))
			v |= C_HEX;
		if (c != 0 && strchr(tchar_extra, c))
			v |= C_TCHAR;
		if (c != 0 && strchr(target_extra, c))
			v |= C_TARGET;
		if ((c >= 0x21 && c <= 0x7e) || c >= 0x80 || c == ' ' ||
		    c == '\t')
			v |= C_VALUE | C_HEAD;
		if (c >= 0x20 && c <= 0x7e)
			v |= C_LINE;
		ctab[c] = v;
	}
}

#define IS(c, cls)	(ctab[(unsigned char)(c)] & (cls))

size_t
http_parse_max_headers(const struct http_parse_limits *l)
{
	return l && l->max_headers ? l->max_headers : HTTP_DEFAULT_MAX_HEADERS;
}

void
http_parser_init(struct http_parser *ps, const struct http_parse_limits *l,
    struct http_header *headers)
{
	ctab_init();
	memset(ps, 0, sizeof(*ps));
	ps->max_line = l && l->max_line ? l->max_line : HTTP_DEFAULT_MAX_LINE;
	ps->max_head = l && l->max_head ? l->max_head : HTTP_DEFAULT_MAX_HEAD;
	ps->max_headers = http_parse_max_headers(l);
	ps->headers = headers;
}

void
http_parser_reset(struct http_parser *ps)
{
	ps->pos = ps->start = ps->line_start = ps->line_end = 0;
	ps->nfields = 0;
	ps->cr = 0;
}

static int
fail(struct http_request *req, int status, const char *why)
{
	req->status = status;
	req->error = why;
	return HTTP_PARSE_ERROR;
}

/*
 * A LF at buf[i] ends a line.  Returns 1 when it ends the head, -1 on a
 * limit crossed, 0 otherwise.
 */
static int
scan_lf(struct http_parser *ps, size_t i, struct http_request *req)
{
	size_t content = i - ps->line_start - (ps->cr ? 1 : 0);

	ps->cr = 0;
	if (ps->line_end == 0) {
		if (content == 0)	/* empty line before the request line */
			ps->start = i + 1;
		else
			ps->line_end = i + 1;
		ps->line_start = i + 1;
		return 0;
	}
	if (content == 0)
		return 1;
	if (++ps->nfields > ps->max_headers)
		return fail(req, 431, "too many header fields");
	ps->line_start = i + 1;
	return 0;
}

/*
 * Scan new bytes for line ends, forbidden bytes and limits.  Returns the
 * head length when the empty line ending the head is seen,
 * HTTP_PARSE_MORE, or HTTP_PARSE_ERROR.
 */
static int
scan(struct http_parser *ps, const char *buf, size_t len,
    struct http_request *req)
{
	size_t i;
	int r;

	for (i = ps->pos; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (i >= ps->max_head)		/* this byte is one too many */
			return ps->line_end ? fail(req, 431,
			    "header section too large") : fail(req, 414,
			    "request line too long");
		if (c == '\n') {
			/* A bare LF is a line end to some parsers and part of
			   a value to others: a proxy in front and this server
			   could then see different fields (smuggling). */
			if (!ps->cr)
				return fail(req, 400, "bare LF: lines must "
				    "end with CRLF");
			if ((r = scan_lf(ps, i, req)) != 0) {
				ps->pos = i + 1;
				return r < 0 ? r : (int)(i + 1);
			}
			continue;
		}
		if (ps->cr)
			return fail(req, 400, "CR not followed by LF");
		if (c == '\r') {
			ps->cr = 1;
			continue;
		}
		if (ps->line_end == 0) {
			if (!IS(c, C_LINE))
				return fail(req, 400,
				    "invalid byte in request line");
			if (i - ps->start >= ps->max_line)
				return fail(req, 414, "request line too long");
		} else if (!IS(c, C_HEAD))
			return fail(req, 400, "invalid byte in header section");
	}
	ps->pos = len;
	return HTTP_PARSE_MORE;
}

/* Validate a request-target's characters and percent escapes. */
static int
target_chars(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!IS(p[i], C_TARGET))
			return -1;
		if (p[i] == '%' && (i + 2 >= n || !IS(p[i + 1], C_HEX) ||
		    !IS(p[i + 2], C_HEX)))
			return -1;
	}
	return 0;
}

static void
split_query(struct http_request *req, const char *p, size_t n)
{
	const char *q = memchr(p, '?', n);

	if (q == NULL) {
		req->path.p = p;
		req->path.len = n;
		req->query.p = p + n;
		req->query.len = 0;
	} else {
		req->path.p = p;
		req->path.len = (size_t)(q - p);
		req->query.p = q + 1;
		req->query.len = n - req->path.len - 1;
	}
}

/* RFC 3986 scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static int
scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* absolute-form: scheme "://" authority [path-abempty] [ "?" query ] */
static int
absolute_form(struct http_request *req, const char *p, size_t n)
{
	static const char root[] = "/";
	size_t i = 0, a;

	if (n == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
		return -1;
	while (i < n && scheme_char(p[i]))
		i++;
	if (i + 3 > n || memcmp(p + i, "://", 3) != 0)
		return -1;
	a = i + 3;
	for (i = a; i < n && p[i] != '/' && p[i] != '?'; i++)
		if (p[i] == '@')	/* userinfo is deprecated: refuse */
			return -1;
	if (i == a)
		return -1;
	if (i == n || p[i] == '?') {
		split_query(req, p + i, n - i);
		req->path.p = root;
		req->path.len = 1;
		return 0;
	}
	split_query(req, p + i, n - i);
	return 0;
}

static int
request_target(struct http_request *req)
{
	const char *p = req->target.p;
	size_t n = req->target.len;

	if (req->method.len == 7 && memcmp(req->method.p, "CONNECT", 7) == 0)
		return fail(req, 501, "CONNECT is not supported");
	if (target_chars(p, n) == -1)
		return fail(req, 400, "invalid character in request-target");
	if (p[0] == '/') {
		split_query(req, p, n);
		return 0;
	}
	if (n == 1 && p[0] == '*') {
		if (req->method.len != 7 ||
		    memcmp(req->method.p, "OPTIONS", 7) != 0)
			return fail(req, 400, "'*' target needs OPTIONS");
		req->path = req->target;
		req->query.p = p + 1;
		req->query.len = 0;
		return 0;
	}
	if (absolute_form(req, p, n) == -1)
		return fail(req, 400, "invalid request-target");
	return 0;
}

/* The request line in [p, e), line terminator excluded. */
static int
request_line(struct http_request *req, const char *p, const char *e)
{
	const char *s = p;

	while (p < e && IS(*p, C_TCHAR))
		p++;
	if (p == s || p == e || *p != ' ')
		return fail(req, 400, "invalid method");
	req->method.p = s;
	req->method.len = (size_t)(p - s);
	s = ++p;
	while (p < e && *p != ' ')
		p++;
	if (p == s || p == e)
		return fail(req, 400, "invalid request-target");
	req->target.p = s;
	req->target.len = (size_t)(p - s);
	p++;
	if (e - p != 8 || memcmp(p, "HTTP/", 5) != 0 ||
	    !(p[5] >= '0' && p[5] <= '9') || p[6] != '.' ||
	    !(p[7] >= '0' && p[7] <= '9'))
		return fail(req, 400, "invalid HTTP version");
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return fail(req, 505, "HTTP version not supported");
	req->minor = p[7] - '0';
	return request_target(req);
}

static int
name_is(const struct http_header *h, const char *name, size_t n)
{
	return h->name.len == n && strncasecmp(h->name.p, name, n) == 0;
}

static int
span_is(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

static int
content_length(struct http_request *req, const struct http_header *h)
{
	uint64_t v = 0;
	size_t i;

	if (h->value.len == 0 || h->value.len > HTTP_MAX_CL_DIGITS)
		return fail(req, 400, "invalid Content-Length");
	for (i = 0; i < h->value.len; i++) {
		if (h->value.p[i] < '0' || h->value.p[i] > '9')
			return fail(req, 400, "invalid Content-Length");
		v = v * 10 + (uint64_t)(h->value.p[i] - '0');
	}
	/* RFC 9112 6.3 lets a recipient merge identical values; refusing
	   them too leaves nothing for a proxy in front to read otherwise. */
	if ((req->flags & HTTP_REQ_HAS_LENGTH) && v != req->content_length)
		return fail(req, 400, "conflicting Content-Length fields");
	if (req->flags & HTTP_REQ_HAS_LENGTH)
		return fail(req, 400, "more than one Content-Length field");
	req->flags |= HTTP_REQ_HAS_LENGTH;
	req->content_length = v;
	return 0;
}

/*
 * Walk a comma-separated list value; calls fn for each trimmed element.
 * Empty elements are skipped (RFC 9110 5.6.1).
 */
static void
each_element(const struct http_span *v, void (*fn)(void *, const char *,
    size_t), void *arg)
{
	const char *p = v->p, *e = v->p + v->len, *s, *t;

	while (p < e) {
		while (p < e && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		s = p;
		while (p < e && *p != ',')
			p++;
		t = p;
		while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (t > s)
			fn(arg, s, (size_t)(t - s));
	}
}

static void
connection_token(void *arg, const char *p, size_t n)
{
	struct http_request *req = arg;

	if (span_is(p, n, "close"))
		req->flags |= HTTP_REQ_CLOSE;
	else if (span_is(p, n, "keep-alive"))
		req->flags |= HTTP_REQ_KEEPALIVE;
}

/* Header line [p, e): fills *h, or fails. */
static int
header_line(struct http_request *req, struct http_header *h, const char *p,
    const char *e)
{
	const char *s = p;

	if (*p == ' ' || *p == '\t')
		return fail(req, 400, "obsolete line folding");
	while (p < e && IS(*p, C_TCHAR))
		p++;
	if (p == e || *p != ':') {
		if (p < e && (*p == ' ' || *p == '\t'))
			return fail(req, 400, "whitespace before colon");
		return fail(req, 400, "invalid header field name");
	}
	if (p == s)
		return fail(req, 400, "empty header field name");
	h->name.p = s;
	h->name.len = (size_t)(p - s);
	p++;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h->value.p = p;
	h->value.len = (size_t)(e - p);
	for (; p < e; p++)
		if (!IS(*p, C_VALUE))
			return fail(req, 400, "invalid header field value");
	return 0;
}

struct framing {
	int	 hosts;
	int	 te;		/* Transfer-Encoding seen */
	int	 te_chunked;	/* its last coding is chunked */
};

/* Called per coding: leaves 1 in *arg when the last one is chunked. */
static void
te_token(void *arg, const char *p, size_t n)
{
	*(int *)arg = span_is(p, n, "chunked");
}

/* Interpret the fields the server acts on. */
static int
known_field(struct http_request *req, const struct http_header *h,
    struct framing *f)
{
	switch (h->name.len) {
	case 4:
		if (name_is(h, "host", 4))
			f->hosts++;
		break;
	case 6:
		if (name_is(h, "expect", 6) && req->minor == 1) {
			if (!span_is(h->value.p, h->value.len, "100-continue"))
				return fail(req, 417, "unsupported expectation");
			req->flags |= HTTP_REQ_CONTINUE;
		}
		break;
	case 10:
		if (name_is(h, "connection", 10))
			each_element(&h->value, connection_token, req);
		break;
	case 14:
		if (name_is(h, "content-length", 14))
			return content_length(req, h);
		break;
	case 17:
		if (name_is(h, "transfer-encoding", 17)) {
			f->te = 1;
			each_element(&h->value, te_token, &f->te_chunked);
		}
		break;
	}
	return 0;
}

static int
framing_check(struct http_request *req, const struct framing *f)
{
	if (f->te && (req->flags & HTTP_REQ_HAS_LENGTH))
		return fail(req, 400,
		    "both Transfer-Encoding and Content-Length");
	if (f->te && req->minor == 0)
		return fail(req, 400, "Transfer-Encoding in HTTP/1.0");
	if (f->te && f->te_chunked)
		return fail(req, 411, "chunked request bodies are not "
		    "supported: send Content-Length");
	if (f->te)
		return fail(req, 501, "unsupported transfer coding");
	if (req->minor == 1 && f->hosts != 1)
		return fail(req, 400, f->hosts ? "more than one Host field" :
		    "missing Host field");
	return 0;
}

/* Strip the line terminator: [s, e) then ends before CRLF or LF. */
static const char *
line_content_end(const char *s, const char *lf)
{
	return lf > s && lf[-1] == '\r' ? lf - 1 : lf;
}

/* Parse the complete head buf[ps->start, end). */
static int
parse_head(struct http_parser *ps, const char *buf, size_t end,
    struct http_request *req)
{
	struct framing f = { 0, 0, 0 };
	const char *p, *e = buf + end, *lf;
	struct http_header *h;

	p = buf + ps->start;
	lf = buf + ps->line_end - 1;
	if (request_line(req, p, line_content_end(p, lf)) == -1)
		return -1;
	req->headers = ps->headers;
	for (p = lf + 1; p < e; p = lf + 1) {
		lf = memchr(p, '\n', (size_t)(e - p));
		if (lf == p || (lf == p + 1 && *p == '\r'))
			break;		/* the empty line */
		h = &ps->headers[req->nheaders++];
		if (header_line(req, h, p, line_content_end(p, lf)) == -1 ||
		    known_field(req, h, &f) == -1)
			return -1;
	}
	return framing_check(req, &f);
}

int
http_parse_request(struct http_parser *ps, const char *buf, size_t len,
    struct http_request *req)
{
	int r;

	memset(req, 0, sizeof(*req));
	if ((r = scan(ps, buf, len, req)) < 0)
		return r;
	if (parse_head(ps, buf, (size_t)r, req) == -1)
		return HTTP_PARSE_ERROR;
	return r;
}

const char *
http_request_header(const struct http_request *req, const char *name,
    size_t *len)
{
	size_t i, n = strlen(name);

	for (i = 0; i < req->nheaders; i++) {
		if (name_is(&req->headers[i], name, n)) {
			if (len)
				*len = req->headers[i].value.len;
			return req->headers[i].value.p;
		}
	}
	return NULL;
}
