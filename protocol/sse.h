/*
 * sse: a reader of Server-Sent Events streams (text/event-stream), as the
 * HTML Living Standard's "event stream interpretation" defines them, fed
 * the bytes of a response as they arrive, cut anywhere.
 *
 *  - Lines end in CRLF, LF or CR, also when the CR ends one read and the
 *    LF begins the next; a UTF-8 byte order mark opening the stream is
 *    dropped.
 *  - ":comment" lines are ignored (providers send them as keep-alives);
 *    "field:value" (one space after the colon dropped) and "field" alone
 *    (empty value).  Fields: event (the type), data (appended, lines
 *    joined with LF), id (the last event id, kept across events; a value
 *    holding NUL is ignored), retry (ASCII digits only: the reconnection
 *    time).  Other fields are ignored.
 *  - An empty line dispatches the event: none when no data line came
 *    (the type is then forgotten); the type defaults to "message".  What
 *    comes after the last empty line at the end of the stream is not an
 *    event (sse_finish() says whether anything was left).
 *  - Text is decoded as UTF-8 with replacement, by utf8.h's one rule:
 *    each byte that is not part of a character reaches the callback as
 *    U+FFFD, so what it gets is always valid UTF-8 (NUL included: use
 *    len, not strlen).
 *
 * Bounded: a line of more than max bytes, or data of one event of more
 * than max bytes (once repaired), make sse_feed() fail with EMSGSIZE; the reader then refuses all input
 * (a stream cut inside an event cannot be resumed within it).
 */
#ifndef AFU9_SSE_H
#define AFU9_SSE_H

#include <stddef.h>

#include "buf.h"

#define SSE_MAX_DEFAULT	(16u << 20)	/* bytes of a line, of an event */

struct sse_event {
	const char	*type;		/* "message" unless an event field said */
	const char	*data;		/* NUL-terminated; len bytes */
	size_t		 len;
	const char	*id;		/* the last event id so far ("": none) */
};

/*
 * Called once per event; everything it points to is borrowed for the
 * call.  Return 0 to go on; anything else stops sse_feed(), which then
 * returns it (the bytes after the event are not read; feed them again,
 * or stop).
 */
typedef int (*sse_event_fn)(const struct sse_event *, void *arg);

struct sse {
	struct buf	 line;		/* a line not yet ended */
	struct buf	 data;		/* the event's data so far */
	struct buf	 type;
	struct buf	 id;
	sse_event_fn	 fn;
	void		*arg;
	long		 retry_ms;	/* -1: none given */
	size_t		 max;
	size_t		 events;	/* dispatched so far */
	int		 bom;		/* 0 start, 1 after the first bytes */
	int		 cr;		/* the last byte read was a CR */
	int		 failed;
	size_t		 nhead;		/* bytes of a BOM seen so far */
};

/* max 0: SSE_MAX_DEFAULT.  Nothing is allocated until bytes come. */
void	sse_init(struct sse *, size_t max, sse_event_fn fn, void *arg);
void	sse_free(struct sse *);
/*
 * Read len more bytes.  0 when all were read; the callback's non-zero
 * value when it stopped (*used, when not NULL, says how many bytes were
 * read, up to and including the line that ended the event); -1 with
 * errno EMSGSIZE (over max) or ENOMEM, after which the reader refuses
 * everything (EINVAL).
 */
int	sse_feed(struct sse *, const void *bytes, size_t len, size_t *used);
/*
 * The stream ended.  1 when something after the last dispatched event
 * was left incomplete (a line without its end, or fields without the
 * empty line that would have dispatched them: per the standard, not an
 * event), else 0.  The reader may then be freed or initialised again.
 */
int	sse_finish(struct sse *);

#endif /* AFU9_SSE_H */
