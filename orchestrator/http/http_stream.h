/*
 * http_stream: responses whose body is not known up front: chunked
 * (Transfer-Encoding: chunked on HTTP/1.1; to the connection's end on
 * HTTP/1.0) and Server-Sent Events (text/event-stream).
 *
 * A handler starts a stream on its exchange instead of calling
 * http_respond(); it then owns the exchange until http_stream_end(),
 * which it must call exactly once, also after a write failed.  Writes
 * never block: bytes the socket does not take are queued, up to the
 * server's out_high_water (struct http_limits; one write larger than
 * that goes when nothing is queued); beyond it a write fails with
 * ENOBUFS and queues nothing (a client that does not read cannot make
 * afu9 buffer without bound; the producer may drop, coalesce or end).  A write to a client that went away fails with EPIPE:
 * that is how a producer learns to stop, so a quiet SSE stream should
 * send a comment now and then (http_stream_comment()), which also keeps
 * proxies from closing it.  A HEAD request gets the head only; writes
 * succeed and send nothing.
 */
#ifndef AFU9_HTTP_STREAM_H
#define AFU9_HTTP_STREAM_H

#include <stddef.h>

#include "http/http.h"

#define HTTP_SSE_FIELD_MAX	256	/* bytes of an event name or id */

/* Begin a streamed response (headers as for http_respond(); neither
   Content-Length nor Transfer-Encoding).  0, or -1 with errno EINVAL
   (status 204/304 or outside 200..599, a bad header) or EPIPE. */
int	http_stream_start(struct http_exchange *x, int status,
	    const char *const *headers);
/* Begin an SSE response: 200, Content-Type: text/event-stream,
   Cache-Control: no-store, plus headers (may be NULL). */
int	http_stream_sse(struct http_exchange *x, const char *const *headers);
/* Body bytes (one chunk).  0, or -1 with errno EPIPE or ENOBUFS. */
int	http_stream_write(struct http_exchange *x, const void *p, size_t n);
/*
 * One event: "id:" (when id is not NULL), "event:" (when event is not
 * NULL), one "data:" line per line of data (n bytes; "\r\n", "\r" and
 * "\n" all end a line), then a blank line.  0, or -1 with errno EINVAL
 * (event or id holding CR, LF or NUL, or longer than HTTP_SSE_FIELD_MAX),
 * EPIPE, ENOBUFS, ENOMEM.
 */
int	http_stream_event(struct http_exchange *x, const char *event,
	    const char *id, const char *data, size_t n);
/* ": text" and a blank line (text without CR/LF; NULL: empty). */
int	http_stream_comment(struct http_exchange *x, const char *text);
/* The end (the last chunk); x is released. */
void	http_stream_end(struct http_exchange *x);

#endif /* AFU9_HTTP_STREAM_H */
