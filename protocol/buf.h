/*
 * buf: a growable byte buffer with a hard upper bound.
 *
 * Data lives in [base + off, base + len).  Consuming from the front only
 * advances `off`; buf_compact() moves the tail down when space runs short.
 * Every grow is checked against `max`: a buffer never holds more than `max`
 * bytes, which is what keeps every protocol input and output bounded.
 */
#ifndef AFU9_BUF_H
#define AFU9_BUF_H

#include <stddef.h>

struct buf {
	char	*base;
	size_t	 off;	/* first unconsumed byte */
	size_t	 len;	/* end of data */
	size_t	 cap;	/* allocated */
	size_t	 max;	/* hard bound on len - off */
};

void	 buf_init(struct buf *, size_t max);
void	 buf_free(struct buf *);
/* Bytes held. */
static inline size_t buf_used(const struct buf *b) { return b->len - b->off; }
static inline char *buf_data(const struct buf *b) { return b->base + b->off; }
/*
 * Make room for at least `want` more bytes (capped by max).  Returns a
 * pointer to the free space and stores its size in *avail; returns NULL
 * (errno ENOBUFS) when the buffer is full to max, or ENOMEM.
 */
char	*buf_reserve(struct buf *, size_t want, size_t *avail);
/* Mark n bytes written into the space returned by buf_reserve(). */
void	 buf_commit(struct buf *, size_t n);
/* Append; 0 on success, -1 (ENOBUFS past max, ENOMEM) leaving b unchanged. */
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_printf(struct buf *, const char *, ...)
	     __attribute__((format(printf, 2, 3)));
/* Drop n bytes from the front; n more than buf_used() is a bug (fatal). */
void	 buf_consume(struct buf *, size_t n);
void	 buf_reset(struct buf *);

#endif
