/*
 * Fuzz target for the HTTP request-head parser (orchestrator/http/
 * httpparse.c), everything that reaches the server from a socket.
 *
 * The input is parsed as one read, as reads ending at data-derived cut
 * points, and one byte at a time, with the default limits and with small
 * ones: the verdict (head length, or the error's status and reason), the
 * request line and every header span must be the same however the bytes
 * arrived, as the parser promises.  A parsed head must also hold what the
 * parser documents: spans inside the buffer, a token method, a path
 * starting with '/' (or "*"), at most max_headers fields, a
 * Content-Length only with its flag, HTTP/1.1 with exactly one Host.
 * Parsed requests are pipelined: the parser is reset and run again on
 * what follows the head and its body, up to 8 requests.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/httpparse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)
#define MAXH		64

static void
mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		*h ^= *s++;
		*h *= 1099511628211ULL;
	}
}

static void
mix_span(uint64_t *h, const char *base, const struct http_span *s)
{
	size_t off = s->p != NULL ? (size_t)(s->p - base) : (size_t)-1;

	mix(h, &off, sizeof(off));
	mix(h, &s->len, sizeof(s->len));
}

static int
tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* What a parsed head promises. */
static void
check_head(const char *buf, size_t n, const struct http_request *r,
    size_t maxh)
{
	size_t i, hosts = 0;

	CHECK(r->method.len > 0 && r->method.p >= buf &&
	    r->method.p + r->method.len <= buf + n);
	for (i = 0; i < r->method.len; i++)
		CHECK(tchar((unsigned char)r->method.p[i]));
	CHECK(r->path.len > 0 && (r->path.p[0] == '/' || (r->path.len == 1 &&
	    r->path.p[0] == '*')));
	CHECK(r->minor == 0 || r->minor == 1);
	CHECK(r->nheaders <= maxh);
	CHECK(((r->flags & HTTP_REQ_HAS_LENGTH) != 0) ||
	    r->content_length == 0);
	for (i = 0; i < r->nheaders; i++) {
		CHECK(r->headers[i].name.len > 0);
		CHECK(r->headers[i].name.p >= buf && r->headers[i].value.p >= buf
		    && r->headers[i].value.p + r->headers[i].value.len <=
		    buf + n);
		if (r->headers[i].name.len == 4 &&
		    strncasecmp(r->headers[i].name.p, "host", 4) == 0)
			hosts++;
	}
	if (r->minor == 1)
		CHECK(hosts == 1);
}

/*
 * Parse the requests of data, each head fed in reads ending at cuts
 * (NULL and one_by_one: a byte a read; ncuts 0: one read).  The digest.
 */
static uint64_t
run(const uint8_t *data, size_t size, const struct http_parse_limits *lim,
    const size_t *cuts, size_t ncuts, int one_by_one)
{
	struct http_header hdr[MAXH];
	struct http_parser p;
	struct http_request r;
	uint64_t h = 14695981039346656037ULL;
	const char *buf = (const char *)data;
	size_t base = 0, k, c = 0, i, maxh = http_parse_max_headers(lim);
	int rc = HTTP_PARSE_MORE, nreq;

	CHECK(maxh <= MAXH);
	http_parser_init(&p, lim, hdr);
	for (nreq = 0; nreq < 8 && base < size; nreq++) {
		http_parser_reset(&p);
		rc = HTTP_PARSE_MORE;
		for (k = 0; rc == HTTP_PARSE_MORE && k < size - base;) {
			if (one_by_one)
				k++;
			else {
				while (c < ncuts && cuts[c] <= base + k)
					c++;
				k = c < ncuts ? cuts[c] - base : size - base;
			}
			memset(&r, 0, sizeof(r));
			rc = http_parse_request(&p, buf + base, k, &r);
			CHECK(rc == HTTP_PARSE_MORE || rc == HTTP_PARSE_ERROR ||
			    (rc > 0 && (size_t)rc <= k));
		}
		mix(&h, &rc, sizeof(rc));
		if (rc == HTTP_PARSE_ERROR) {
			CHECK(r.error != NULL && r.error[0] != '\0');
			CHECK(r.status == 400 || r.status == 411 ||
			    r.status == 414 || r.status == 417 ||
			    r.status == 431 || r.status == 501 ||
			    r.status == 505);
			mix(&h, &r.status, sizeof(r.status));
			mix(&h, r.error, strlen(r.error));
			break;
		}
		if (rc == HTTP_PARSE_MORE)
			break;
		check_head(buf + base, (size_t)rc, &r, maxh);
		mix_span(&h, buf, &r.method);
		mix_span(&h, buf, &r.target);
		mix_span(&h, buf, &r.path);
		mix_span(&h, buf, &r.query);
		mix(&h, &r.minor, sizeof(r.minor));
		mix(&h, &r.flags, sizeof(r.flags));
		mix(&h, &r.content_length, sizeof(r.content_length));
		mix(&h, &r.nheaders, sizeof(r.nheaders));
		for (i = 0; i < r.nheaders; i++) {
			mix_span(&h, buf, &r.headers[i].name);
			mix_span(&h, buf, &r.headers[i].value);
		}
		if (r.content_length > size - base - (size_t)rc)
			break;
		base += (size_t)rc + (size_t)r.content_length;
	}
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_parse_limits small = { 64, 256, 4 };
	const struct http_parse_limits *lims[] = { NULL, &small };
	size_t cuts[16], ncuts = 0, i, at;
	uint64_t whole;

	for (i = 0, at = 0; i < size && ncuts < 16; i += 61) {
		at += 1 + data[i] % 29;
		if (at >= size)
			break;
		cuts[ncuts++] = at;
	}
	for (i = 0; i < 2; i++) {
		whole = run(data, size, lims[i], NULL, 0, 0);
		CHECK(run(data, size, lims[i], cuts, ncuts, 0) == whole);
		if (size <= 32768)
			CHECK(run(data, size, lims[i], NULL, 0, 1) == whole);
	}
	return 0;
}
