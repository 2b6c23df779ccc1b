/*
 * text: invisible-character stripping, UTF-8 repair and byte caps for the
 * text the afu9 servers hand to a model (see text.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/text.h"

int
ghtext_is_invisible(uint32_t cp)
{
	return (cp >= 0xE0000 && cp <= 0xE007F) ||
	    (cp >= 0x202A && cp <= 0x202E) ||
	    (cp >= 0x2066 && cp <= 0x2069) ||
	    (cp >= 0x200B && cp <= 0x200D) ||
	    cp == 0x2060 || cp == 0xFEFF;
}

/*
 * Decode one UTF-8 sequence at s[0..len) (len > 0).  Returns its length
 * and the code point in *cp, or 0 when the bytes are not well-formed
 * UTF-8 (overlong forms, surrogates and values past U+10FFFF included).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

int
ghtext_clean(const char *in, size_t len, size_t cap, int flags,
    struct ghtext *out)
{
	static const char repl[] = "\xEF\xBF\xBD";
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, n, room, want;
	uint32_t cp;
	char *s;

	memset(out, 0, sizeof(*out));
	/* an invalid byte becomes 3 bytes at most */
	room = len > (SIZE_MAX - 1) / 3 ? SIZE_MAX - 1 : len * 3;
	if (cap > 0 && cap < room)
		room = cap;
	if ((s = malloc(room + 1)) == NULL)
		return -1;
	while (i < len) {
		n = utf8_decode(p + i, len - i, &cp);
		want = n == 0 ? 3 : n;
		if (n != 0 && ghtext_is_invisible(cp)) {
			out->invisible++;
			if (flags & GHTEXT_STRIP) {
				i += n;
				continue;
			}
		}
		if (out->len + want > room) {
			out->cut = len - i;
			break;
		}
		if (n == 0) {
			memcpy(s + out->len, repl, 3);
			i++;
		} else {
			memcpy(s + out->len, p + i, n);
			i += n;
		}
		out->len += want;
	}
	s[out->len] = '\0';
	out->s = s;
	return 0;
}

int
ghtext_is_text(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (p[i] == 0 || (n = utf8_decode(p + i, len - i, &cp)) == 0)
			return 0;
		i += n;
	}
	return 1;
}
