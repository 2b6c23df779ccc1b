/*
 * httpparse: a strict, incremental HTTP/1.x request-head parser.
 *
 * The caller keeps the bytes of a request in its own buffer and calls
 * http_parse_request() each time more have arrived, passing the whole
 * buffer again (it may have moved in memory; the bytes already passed must
 * be unchanged).  A struct http_parser remembers how far it has scanned,
 * so a head trickling in one byte at a time costs O(n) in total, not
 * O(n^2).  Nothing is allocated; every span points into the caller's
 * buffer and stays valid while that buffer does.
 *
 * Returns (picohttpparser style):
 *   > 0  the head is complete: that many bytes (leading empty lines, the
 *        request line, the header fields and the empty line) were parsed;
 *        a body of req->content_length bytes follows.
 *   -2   HTTP_PARSE_MORE: no error so far, the head is not complete.
 *   -1   HTTP_PARSE_ERROR: req->status is the status to answer with and
 *        req->error a static one-line reason.  The stream cannot be
 *        resynchronised: answer and close.
 *
 * Decisions (RFC 9110 / RFC 9112):
 *  - Line ends: CRLF only.  RFC 9112 2.2 allows taking a bare LF as a
 *    line end, but a proxy in front that does not would see other fields
 *    than this server (request smuggling): a bare LF is 400, and so is a
 *    CR not followed by LF, anywhere.  Empty lines (CRLF) before the
 *    request line are skipped.
 *  - Request line: method = token, exactly one SP, request-target, exactly
 *    one SP, "HTTP/" DIGIT "." DIGIT.  Only HTTP/1.0 and HTTP/1.1 are
 *    served; any other well-formed version gets 505.
 *  - request-target: origin-form ("/path?query"), absolute-form
 *    ("http://host/path", routed by its path) or "*" for OPTIONS.
 *    Characters are those RFC 3986 allows (unreserved, sub-delims,
 *    ":@/?%[]"), and '%' must be followed by two hex digits; anything else
 *    (space, '"', '<', '{', '|', '#', non-ASCII...) is 400.  CONNECT
 *    (authority-form) is 501.  The path is not decoded or normalised.
 *  - Header field: token name, ':' immediately after it (whitespace before
 *    the colon is 400), optional whitespace, a value of VCHAR / obs-text /
 *    SP / HTAB with surrounding whitespace trimmed.  obs-fold (a line
 *    starting with SP or HTAB) is 400.  NUL and other control bytes are
 *    400 as soon as they are seen, so binary garbage (say, a TLS
 *    ClientHello) is refused at once, not after a timeout.
 *  - Content-Length: 1*DIGIT (at most 15 digits), else 400 (no sign, no
 *    hex, no inner space, no comma list).  A second Content-Length field
 *    is 400 even with the same value: RFC 9112 6.3 allows merging
 *    identical ones, refusing them leaves a proxy in front nothing to
 *    read differently.
 *  - Transfer-Encoding is not supported for requests (the API takes small
 *    JSON bodies with a Content-Length): "chunked" gets 411 Length
 *    Required, any other coding 501, in an HTTP/1.0 request 400, and
 *    together with Content-Length 400 (request smuggling).
 *  - HTTP/1.1 needs exactly one Host field (RFC 9112 3.2), else 400.
 *  - Expect: "100-continue" sets HTTP_REQ_CONTINUE (HTTP/1.1 only; ignored
 *    in 1.0); any other expectation is 417.
 *  - Connection: the tokens "close" and "keep-alive" set flags.
 *
 * Limits (struct http_parse_limits; a zero field takes the default):
 *  - request line longer than max_line bytes (without CRLF):   414
 *  - head (leading empty lines included) over max_head bytes:   431
 *  - more than max_headers header fields:                       431
 * Each is detected as soon as the byte that crosses it arrives.
 */
#ifndef AFU9_HTTPPARSE_H
#define AFU9_HTTPPARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_PARSE_MORE		(-2)
#define HTTP_PARSE_ERROR	(-1)

#define HTTP_DEFAULT_MAX_LINE		8192u
#define HTTP_DEFAULT_MAX_HEAD		16384u
#define HTTP_DEFAULT_MAX_HEADERS	64u
/* Content-Length beyond this many digits is malformed (400). */
#define HTTP_MAX_CL_DIGITS		15

/* Request flags. */
#define HTTP_REQ_CLOSE		0x01	/* Connection: close */
#define HTTP_REQ_KEEPALIVE	0x02	/* Connection: keep-alive */
#define HTTP_REQ_CONTINUE	0x04	/* Expect: 100-continue (HTTP/1.1) */
#define HTTP_REQ_HAS_LENGTH	0x08	/* a Content-Length field was sent */

struct http_span {
	const char	*p;
	size_t		 len;
};

struct http_header {
	struct http_span name;		/* as sent (case preserved) */
	struct http_span value;		/* surrounding whitespace trimmed */
};

struct http_request {
	struct http_span method;
	struct http_span target;	/* the request-target as sent */
	struct http_span path;		/* "/..." up to '?' ("/" if absent) */
	struct http_span query;		/* after '?', without it; len 0: none */
	int		 minor;		/* 0: HTTP/1.0, 1: HTTP/1.1 */
	unsigned	 flags;		/* HTTP_REQ_* */
	uint64_t	 content_length;	/* 0 without the field */
	struct http_header *headers;	/* the parser's array, borrowed */
	size_t		 nheaders;
	/* Set by the server, not by the parser: the body that followed. */
	const char	*body;
	size_t		 body_len;
	/* On HTTP_PARSE_ERROR: */
	int		 status;	/* 400 411 414 417 431 501 505 */
	const char	*error;		/* static text */
};

struct http_parse_limits {
	size_t	max_line;	/* default HTTP_DEFAULT_MAX_LINE */
	size_t	max_head;	/* default HTTP_DEFAULT_MAX_HEAD */
	size_t	max_headers;	/* default HTTP_DEFAULT_MAX_HEADERS */
};

/* Scan state, kept between calls; reset before each new request. */
struct http_parser {
	size_t	 max_line, max_head, max_headers;
	struct http_header *headers;	/* caller's array of max_headers */
	size_t	 pos;		/* bytes scanned so far */
	size_t	 start;		/* first byte of the request line */
	size_t	 line_start;	/* first byte of the line being scanned */
	size_t	 line_end;	/* end of the request line (after LF); 0: not yet */
	size_t	 nfields;	/* header lines seen */
	int	 cr;		/* the last byte scanned was CR */
};

/*
 * Set limits (NULL or zero fields: defaults) and the header array, which
 * must hold the resulting max_headers entries and is borrowed for the
 * parser's life.  Leaves the parser reset.
 */
void	http_parser_init(struct http_parser *, const struct http_parse_limits *,
	    struct http_header *headers);
/* Forget the scan position: the next call starts a new request. */
void	http_parser_reset(struct http_parser *);
/* The resulting max_headers (after defaults), to size the array. */
size_t	http_parse_max_headers(const struct http_parse_limits *);

/*
 * Parse the head at the start of buf[0, len).  Never reads outside
 * buf[0, len).  Fills *req on success (spans into buf) and req->status /
 * req->error on HTTP_PARSE_ERROR.  See the top of this file.
 */
int	http_parse_request(struct http_parser *, const char *buf, size_t len,
	    struct http_request *req);

/*
 * Value of the first header field named `name` (case-insensitive), or
 * NULL; *len gets its length.  The pointer borrows from the request.
 */
const char *http_request_header(const struct http_request *, const char *name,
	    size_t *len);

#endif
