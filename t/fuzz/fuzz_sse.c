/*
 * Fuzz target for the event stream reader (protocol/sse.c).
 *
 * The input is read whole, in reads cut at data-derived points, and one
 * byte per read, with the default bound and with a small one: the events
 * (type, id, data), the retry time, the error and what sse_finish() says
 * must not depend on how the input was cut.  Every event must be valid
 * UTF-8, its data NUL-terminated and within the bound.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

struct run {
	uint64_t	 h;
	size_t		 max;
};

static void
mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		*h ^= *s++;
		*h *= 1099511628211ULL;
	}
}

static int
on_event(const struct sse_event *ev, void *arg)
{
	struct run *r = arg;
	size_t tl = strlen(ev->type), il = strlen(ev->id);

	CHECK(ev->len <= r->max && ev->data[ev->len] == '\0');
	CHECK(tl > 0 && u8_valid(ev->type, tl) && u8_valid(ev->id, il));
	CHECK(u8_valid(ev->data, ev->len));
	mix(&r->h, ev->type, tl + 1);
	mix(&r->h, ev->id, il + 1);
	mix(&r->h, &ev->len, sizeof(ev->len));
	mix(&r->h, ev->data, ev->len);
	return 0;
}

/* cuts NULL: one byte per read; ncuts 0: one read. */
static uint64_t
run(const uint8_t *data, size_t size, size_t max, const size_t *cuts,
    size_t ncuts, int one_by_one)
{
	struct sse p;
	struct run r = { 14695981039346656037ULL, max ? max : SSE_MAX_DEFAULT };
	size_t off = 0, end, c = 0, used;
	int rc = 0, left, e = 0;

	sse_init(&p, max, on_event, &r);
	while (off < size && rc == 0) {
		if (one_by_one)
			end = off + 1;
		else if (c < ncuts)
			end = cuts[c++];
		else
			end = size;
		if (end <= off)
			continue;
		rc = sse_feed(&p, data + off, end - off, &used);
		if (rc == -1) {
			e = errno;
			CHECK(e == EMSGSIZE);
			CHECK(sse_feed(&p, "\n\n", 2, NULL) == -1 &&
			    errno == EINVAL);
		} else
			CHECK(used == end - off);
		off = end;
	}
	mix(&r.h, &e, sizeof(e));
	mix(&r.h, &p.retry_ms, sizeof(p.retry_ms));
	left = rc == 0 ? sse_finish(&p) : -1;
	mix(&r.h, &left, sizeof(left));
	sse_free(&p);
	return r.h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxes[] = { 0, 64 };
	size_t cuts[16], ncuts = 0, i, at;
	uint64_t whole;

	/* cut points from the data itself, ascending */
	for (i = 0, at = 0; i < size && ncuts < 16; i += 97) {
		at += 1 + data[i] % 41;
		if (at >= size)
			break;
		cuts[ncuts++] = at;
	}
	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		whole = run(data, size, maxes[i], NULL, 0, 0);
		CHECK(run(data, size, maxes[i], cuts, ncuts, 0) == whole);
		if (size <= 65536)
			CHECK(run(data, size, maxes[i], NULL, 0, 1) == whole);
	}
	return 0;
}
