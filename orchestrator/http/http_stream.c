/*
 * http_stream: chunked and SSE framing over http.c's streamed responses
 * (see http_stream.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "http/http_int.h"
#include "http/http_stream.h"

#define SSE_EVENT_MAX	(64u * 1024 * 1024)	/* one framed event */

int
http_stream_start(struct http_exchange *x, int status,
    const char *const *headers)
{
	return http_x_stream_head(x, status, headers);
}

int
http_stream_sse(struct http_exchange *x, const char *const *headers)
{
	const char *h[34];
	size_t n = 0, i;

	h[n++] = "Content-Type: text/event-stream";
	h[n++] = "Cache-Control: no-store";
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (n == sizeof(h) / sizeof(h[0]) - 1) {
			errno = EINVAL;
			return -1;
		}
		h[n++] = headers[i];
	}
	h[n] = NULL;
	return http_x_stream_head(x, 200, h);
}

/* Frame p as one chunk ("<hex>\r\n" p "\r\n") unless the connection
   ends the body; write it. */
static int
put_chunk(struct http_exchange *x, const char *p, size_t n)
{
	char len[24];
	struct buf b;
	int k, rc;

	if (n == 0)
		return 0;	/* a zero chunk would end the body */
	if (!http_x_stream_chunked(x))
		return http_x_stream_bytes(x, p, n);
	k = snprintf(len, sizeof(len), "%zx\r\n", n);
	buf_init(&b, n + (size_t)k + 2);
	if (buf_append(&b, len, (size_t)k) == -1 || buf_append(&b, p, n) ==
	    -1 || buf_append(&b, "\r\n", 2) == -1) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	rc = http_x_stream_bytes(x, buf_data(&b), buf_used(&b));
	buf_free(&b);
	return rc;
}

int
http_stream_write(struct http_exchange *x, const void *p, size_t n)
{
	return put_chunk(x, p, n);
}

/* An event name or id: bounded, no line breaks, no NUL. */
static int
field_ok(const char *s)
{
	return s == NULL || (strlen(s) <= HTTP_SSE_FIELD_MAX &&
	    strpbrk(s, "\r\n") == NULL);
}

static int
put_field(struct buf *b, const char *name, const char *v, size_t n)
{
	return buf_append(b, name, strlen(name)) == -1 ||
	    buf_append(b, v, n) == -1 || buf_append(b, "\n", 1) == -1 ?
	    -1 : 0;
}

int
http_stream_event(struct http_exchange *x, const char *event, const char *id,
    const char *data, size_t n)
{
	const char *p = data, *end = data + n, *eol;
	struct buf b;
	int rc = 0;

	if (!field_ok(event) || !field_ok(id)) {
		errno = EINVAL;
		return -1;
	}
	buf_init(&b, SSE_EVENT_MAX);
	if (id != NULL)
		rc |= put_field(&b, "id: ", id, strlen(id));
	if (event != NULL)
		rc |= put_field(&b, "event: ", event, strlen(event));
	/* Every line of data is a data field: the client joins them with
	   "\n", so the text arrives as it was (line ends normalized). */
	for (;;) {
		for (eol = p; eol < end && *eol != '\r' && *eol != '\n'; eol++)
			;
		rc |= put_field(&b, "data: ", p, (size_t)(eol - p));
		if (eol == end || rc != 0)
			break;
		p = eol + (*eol == '\r' && eol + 1 < end && eol[1] == '\n' ?
		    2 : 1);
	}
	rc |= buf_append(&b, "\n", 1);
	if (rc != 0) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	rc = put_chunk(x, buf_data(&b), buf_used(&b));
	buf_free(&b);
	return rc;
}

int
http_stream_comment(struct http_exchange *x, const char *text)
{
	char line[HTTP_SSE_FIELD_MAX + 8];
	int n;

	if (text == NULL)
		text = "";
	if (!field_ok(text)) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(line, sizeof(line), ":%s%s\n\n", *text ? " " : "", text);
	return put_chunk(x, line, (size_t)n);
}

void
http_stream_end(struct http_exchange *x)
{
	if (http_x_stream_chunked(x))
		http_x_stream_end(x, "0\r\n\r\n", 5);
	else
		http_x_stream_end(x, NULL, 0);
}
