/*
 * http_int: what http.c gives http_stream.c, and nobody else.
 *
 * A streamed response is a head sent without Content-Length, then body
 * bytes as they come, then an end; http.c keeps it in its place among
 * the connection's pipelined responses (bytes of a stream that is not
 * the oldest unanswered request wait in its exchange, bounded) and knows
 * nothing of chunks or events.
 */
#ifndef AFU9_HTTP_INT_H
#define AFU9_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

struct http_exchange;

#define HTTP_LEN_STREAM	SIZE_MAX	/* build_head(): no Content-Length */

/*
 * Send the head: status 200..599 but 204 and 304, headers as for
 * http_respond(); "Transfer-Encoding: chunked" for an HTTP/1.1 request,
 * "Connection: close" (the connection ends the body) for HTTP/1.0.
 * 0, or -1 with errno EINVAL or EPIPE (the client is gone).
 */
int	http_x_stream_head(struct http_exchange *x, int status,
	    const char *const *headers);
/* The request was HEAD (no body bytes go out)?  Chunked framing? */
int	http_x_stream_is_head(const struct http_exchange *x);
int	http_x_stream_chunked(const struct http_exchange *x);
/*
 * Framed body bytes.  0; or -1 with errno EPIPE (the client is gone:
 * end the stream) or ENOBUFS (out_high_water bytes queued already: the
 * client reads too slowly; nothing was queued).
 */
int	http_x_stream_bytes(struct http_exchange *x, const char *p, size_t n);
/* The last framed bytes (may be none); x is released. */
void	http_x_stream_end(struct http_exchange *x, const char *p, size_t n);

#endif /* AFU9_HTTP_INT_H */
