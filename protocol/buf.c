#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->base);
	b->base = NULL;
	b->off = b->len = b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

static void
buf_compact(struct buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->base, b->base + b->off, b->len - b->off);
	b->len -= b->off;
	b->off = 0;
}

char *
buf_reserve(struct buf *b, size_t want, size_t *avail)
{
	size_t used = buf_used(b), room, ncap;
	char *p;

	if (used >= b->max) {
		errno = ENOBUFS;
		return NULL;
	}
	if (want > b->max - used)
		want = b->max - used;
	if (want == 0)
		want = 1;
	if (b->cap - b->len < want) {
		buf_compact(b);
		if (b->cap - b->len < want) {
			ncap = b->cap ? b->cap : 4096;
			while (ncap - b->len < want)
				ncap *= 2;
			if (ncap > b->max + 1 && b->max + 1 > b->len + want)
				ncap = b->max + 1;
			if ((p = realloc(b->base, ncap)) == NULL)
				return NULL;
			b->base = p;
			b->cap = ncap;
		}
	}
	room = b->cap - b->len;
	if (room > b->max - used)
		room = b->max - used;
	*avail = room;
	return b->base + b->len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->len += n;
}

int
buf_append(struct buf *b, const void *data, size_t n)
{
	size_t avail;
	char *p;

	if (n > b->max - buf_used(b)) {
		errno = ENOBUFS;
		return -1;
	}
	if (n == 0)
		return 0;
	if ((p = buf_reserve(b, n, &avail)) == NULL)
		return -1;
	memcpy(p, data, n);
	buf_commit(b, n);
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char small[256], *big;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return buf_append(b, small, (size_t)n);
	if ((big = malloc((size_t)n + 1)) == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = buf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

void
buf_consume(struct buf *b, size_t n)
{
	INVARIANT(n <= buf_used(b));
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}
