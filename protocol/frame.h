/*
 * frame: message framing on a byte stream, in both directions.
 *
 * Two framings:
 *  - FRAME_CL: "Content-Length: N\r\n" [other "Name: value\r\n" lines,
 *    Content-Type accepted and ignored] "\r\n" then exactly N body bytes.
 *    Header names are case-insensitive.  Bare "\n" line ends are accepted
 *    on input (some clients send them); output always uses CRLF.
 *  - FRAME_NDJSON: one JSON text per line, terminated by "\n" ("\r\n" is
 *    accepted); empty lines are skipped.
 * FRAME_AUTO decides from the first non-whitespace byte of the stream:
 * '{' or '[' means NDJSON, anything else a Content-Length header block.
 * Once decided, the mode is fixed for the stream (r->mode says which).
 *
 * Limits (violations and what happens):
 *  - header line > FRAME_MAX_HEADER_LINE, header block >
 *    FRAME_MAX_HEADER_BLOCK, a header line without ':', Content-Length
 *    missing, empty, non-digits, negative, > max_msg digits-wise overflow,
 *    repeated with a different value:                  FRAME_FATAL
 *    (the stream cannot be resynchronised; the peer gets an error, then
 *    the stream is closed).
 *  - Content-Length well-formed but > max_msg:         FRAME_BAD, the body is
 *    skipped as it arrives and the stream goes on (we know where it ends).
 *  - NDJSON line > max_msg:                            FRAME_BAD, input is
 *    discarded up to the next '\n', the stream goes on.
 * FRAME_BAD and FRAME_FATAL set r->err (text) and r->err_code (JSON-RPC
 * code to answer with: -32700 parse error or -32600 invalid request).
 * With keep_head set, an oversize message is reported only once its first
 * FRAME_HEAD_MAX bytes have arrived, and they are in r->head: enough to
 * find the "id" of an answer that cannot be read whole, so the request it
 * answers fails at once instead of at its timeout (mcp_client.c).
 * The reader never holds more than max_msg + FRAME_MAX_HEADER_BLOCK bytes.
 */
#ifndef AFU9_FRAME_H
#define AFU9_FRAME_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

#define FRAME_DEFAULT_MAX_MSG	(16u * 1024 * 1024)
#define FRAME_MIN_MAX_MSG	1024u
#define FRAME_MAX_HEADER_LINE	1024u
#define FRAME_MAX_HEADER_BLOCK	8192u
/* Bytes of an oversize message kept for the caller (keep_head). */
#define FRAME_HEAD_MAX		512u
/* Default bound on bytes queued toward a slow reader. */
#define FRAME_DEFAULT_MAX_OUT	(64u * 1024 * 1024)

enum frame_mode {
	FRAME_AUTO = 0,
	FRAME_CL,
	FRAME_NDJSON,
};

enum frame_status {
	FRAME_MORE = 0,		/* need more input */
	FRAME_MSG = 1,		/* one message in *msg, *len */
	FRAME_BAD = -1,		/* one bad message; the stream goes on */
	FRAME_FATAL = -2,	/* cannot resynchronise; close the stream */
};

struct frame_reader {
	enum frame_mode	 mode;
	size_t		 max_msg;
	struct buf	 in;
	/* parser state (private) */
	int		 state;
	size_t		 body_len;	/* CL: declared length of current body */
	size_t		 skip;		/* bytes still to discard */
	size_t		 scan;		/* bytes of `in` already scanned */
	size_t		 hdr_bytes;	/* header block bytes so far */
	int		 have_len;
	int		 fatal;
	/* last error */
	int		 err_code;
	char		 err[160];
	/* set by the caller after init: keep the start of an oversize
	   message; after FRAME_BAD for one, head[0..head_len) (head_len 0
	   otherwise), valid until the next call on the reader */
	int		 keep_head;
	size_t		 head_len;
	char		 head[FRAME_HEAD_MAX];
};

void	 frame_reader_init(struct frame_reader *, enum frame_mode, size_t max_msg);
void	 frame_reader_free(struct frame_reader *);
/*
 * Space to read(2) into: returns a pointer and stores its size (> 0) in
 * *avail, or NULL when no room can be made (a fatal condition the reader
 * also reports through frame_reader_next()).
 */
char	*frame_reader_space(struct frame_reader *, size_t *avail);
void	 frame_reader_commit(struct frame_reader *, size_t n);
/* Copying convenience for tests and fuzzers: space + memcpy + commit. */
int	 frame_reader_feed(struct frame_reader *, const void *, size_t);
/*
 * Next event.  On FRAME_MSG, *msg and *len point into the reader and stay
 * valid until the next call on this reader.  Call repeatedly until
 * FRAME_MORE.
 * After FRAME_FATAL every further call returns FRAME_FATAL.
 */
enum frame_status frame_reader_next(struct frame_reader *, const char **msg,
	    size_t *len);
/* At EOF: non-zero if a partial message was left unread (err is set). */
int	 frame_reader_eof(struct frame_reader *);

/* AFU9_MAX_MESSAGE_BYTES if set and valid (>= FRAME_MIN_MAX_MSG), else the default. */
size_t	 frame_max_msg_from_env(void);

struct frame_writer {
	enum frame_mode	 mode;	/* FRAME_AUTO means "not known yet": NDJSON */
	struct buf	 out;
};

void	 frame_writer_init(struct frame_writer *, enum frame_mode, size_t max_out);
void	 frame_writer_free(struct frame_writer *);
/*
 * Queue one message (compact JSON, no raw newline) framed per w->mode.
 * 0 on success; -1 with errno ENOBUFS when it would exceed max_out (nothing
 * is queued then: messages are never split by the bound).
 */
int	 frame_write(struct frame_writer *, const char *json, size_t len);
/*
 * Write queued bytes to fd (non-blocking).  Returns 1 when drained, 0 when
 * bytes remain (EAGAIN), -1 on error with errno set (EPIPE: peer gone).
 */
int	 frame_writer_flush(struct frame_writer *, int fd);
static inline size_t frame_writer_pending(const struct frame_writer *w)
{ return buf_used(&w->out); }

#endif
