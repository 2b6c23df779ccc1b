/*
 * Fuzz target for the frame reader and writer.
 *
 * The input is read as a byte stream in every mode and with two message
 * limits, split into reads at data-derived points, and again one byte per
 * read: the event sequences must match exactly (the reader is resumable,
 * so how input is cut must not change what it reports).  Every message is
 * also written back through a frame_writer and must read back unchanged.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c)	do { if (!(c)) abort(); } while (0)

static int	roundtrips;	/* messages written back, this input */

/* FNV-1a over the event sequence. */
static void
mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n--) {
		*h ^= *s++;
		*h *= 1099511628211ULL;
	}
}

/* A message must survive writer -> reader in the same framing. */
static void
roundtrip(enum frame_mode mode, size_t max_msg, const char *msg, size_t len)
{
	struct frame_writer w;
	struct frame_reader r;
	const char *got;
	size_t glen;

	if (mode == FRAME_NDJSON && memchr(msg, '\n', len) != NULL)
		return;
	frame_writer_init(&w, mode, 0);
	CHECK(frame_write(&w, msg, len) == 0);
	frame_reader_init(&r, mode, max_msg);
	CHECK(frame_reader_feed(&r, buf_data(&w.out),
	    frame_writer_pending(&w)) == 0);
	CHECK(frame_reader_next(&r, &got, &glen) == FRAME_MSG);
	/* NDJSON drops one trailing '\r' per line; that is the framing */
	if (mode == FRAME_NDJSON && len > 0 && msg[len - 1] == '\r')
		len--;
	CHECK(glen == len && memcmp(got, msg, len) == 0);
	CHECK(frame_reader_next(&r, &got, &glen) == FRAME_MORE);
	frame_reader_free(&r);
	frame_writer_free(&w);
}

/* Drain events into the digest; returns 1 once fatal. */
static int
drain(struct frame_reader *r, uint64_t *h, int check_roundtrip)
{
	const char *msg;
	size_t len;
	enum frame_status st;
	int v;

	for (;;) {
		st = frame_reader_next(r, &msg, &len);
		if (st == FRAME_MORE)
			return 0;	/* how often depends on the reads */
		v = (int)st;
		mix(h, &v, sizeof(v));
		switch (st) {
		case FRAME_MORE:
			break;
		case FRAME_MSG:
			CHECK(len <= r->max_msg);
			mix(h, &len, sizeof(len));
			if (len > 0)
				mix(h, msg, len);
			/* a few per input: each costs two fresh buffers */
			if (check_roundtrip && roundtrips++ < 16)
				roundtrip(r->mode, r->max_msg, msg, len);
			break;
		case FRAME_BAD:
			CHECK(r->err[0] != '\0');
			mix(h, &r->err_code, sizeof(r->err_code));
			break;
		case FRAME_FATAL:
			CHECK(r->err[0] != '\0');
			mix(h, &r->err_code, sizeof(r->err_code));
			CHECK(frame_reader_next(r, &msg, &len) == FRAME_FATAL);
			return 1;
		}
	}
}

/*
 * Feed data in reads ending at the given cut points (ascending, each
 * <= size; none: one read), or one byte per read when cuts is NULL.
 * Returns the digest of the events.
 */
static uint64_t
run(enum frame_mode mode, size_t max_msg, const uint8_t *data, size_t size,
    const size_t *cuts, size_t ncuts, int check_roundtrip)
{
	struct frame_reader r;
	uint64_t h = 14695981039346656037ULL;
	size_t off = 0, end, k, avail, c = 0;
	char *p;
	int fatal = 0, v;

	frame_reader_init(&r, mode, max_msg);
	while (off < size && !fatal) {
		if (cuts == NULL)
			end = off + 1;
		else {
			while (c < ncuts && cuts[c] <= off)
				c++;
			end = c < ncuts ? cuts[c] : size;
		}
		while (off < end && !fatal) {
			p = frame_reader_space(&r, &avail);
			CHECK(p != NULL);
			k = end - off < avail ? end - off : avail;
			memcpy(p, data + off, k);
			frame_reader_commit(&r, k);
			off += k;
			fatal = drain(&r, &h, check_roundtrip);
			CHECK(buf_used(&r.in) <= r.max_msg +
			    FRAME_MAX_HEADER_BLOCK);
		}
	}
	v = fatal ? 0 : frame_reader_eof(&r);
	mix(&h, &v, sizeof(v));
	frame_reader_free(&r);
	return h;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { FRAME_DEFAULT_MAX_MSG, 16 };
	size_t cuts[3] = { 0, 0, 0 }, l;
	uint64_t whole, split, bytes;
	int mode;

	if (size > 65536)
		return 0;
	roundtrips = 0;
	if (size > 0) {
		cuts[0] = (size_t)data[0] * 7 % (size + 1);
		cuts[1] = (size_t)data[size - 1] * 131 % (size + 1);
		cuts[2] = size / 2 + (size > 2 ? data[size / 2] % 3 : 0);
		if (cuts[2] > size)
			cuts[2] = size;
		qsort(cuts, 3, sizeof(cuts[0]), cmp_size);
	}
	for (mode = FRAME_AUTO; mode <= FRAME_NDJSON; mode++)
		for (l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
			whole = run(mode, limits[l], data, size, cuts, 0, 1);
			split = run(mode, limits[l], data, size, cuts, 3, 0);
			CHECK(whole == split);
			if (size <= 4096) {
				bytes = run(mode, limits[l], data, size, NULL,
				    0, 0);
				CHECK(whole == bytes);
			}
		}
	return 0;
}
