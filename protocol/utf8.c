/*
 * utf8: whole-buffer UTF-8 checks built on u8_charlen() (see utf8.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

void
u8_fix(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t n, left = strlen(s);

	for (; left > 0; p += n, left -= n)
		if ((n = u8_charlen(p, left)) == 0) {
			*p = '?';
			n = 1;
		}
}

int
u8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	for (; n > 0; p += k, n -= k)
		if ((k = u8_charlen(p, n)) == 0)
			return 0;
	return 1;
}

size_t
u8_cut(const char *s, size_t len, size_t max)
{
	size_t i;

	if (len <= max)
		return len;
	/* s[max] exists: step back over at most 3 continuation bytes.  A
	   cut never lands on 0: nothing before it would be kept. */
	for (i = max; i > 0 && max - i < 4; i--)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return i;
	return max;
}

/* Bytes the character (or invalid byte) at p takes in a clean copy, and
   in *adv the bytes it takes in s. */
static size_t
clean_width(const unsigned char *p, size_t left, size_t *adv)
{
	size_t n = u8_charlen(p, left);

	*adv = n ? n : 1;
	return n ? n : 3;
}

char *
u8_clean(const char *s, size_t max, const char *mark)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), ml = mark ? strlen(mark) : 0;
	size_t i, o = 0, w, adv, total = 0, limit;
	char *out;

	for (i = 0; i < len && total <= max; i += adv)
		total += clean_width(p + i, len - i, &adv);
	limit = total <= max ? total : (max > ml ? max - ml : 0);
	if ((out = malloc((total <= max ? total : max) + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i += adv) {
		w = clean_width(p + i, len - i, &adv);
		if (o + w > limit)
			break;
		memcpy(out + o, adv == w ? (const char *)p + i : "\xef\xbf\xbd",
		    w);
		o += w;
	}
	if (total > max && ml > 0 && ml <= max) {
		memcpy(out + o, mark, ml);
		o += ml;
	}
	out[o] = '\0';
	return out;
}
