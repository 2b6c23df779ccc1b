/*
 * text: invisible-character stripping, UTF-8 repair and byte caps for the
 * text the afu9 servers hand to a model (see text.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "utf8.h"

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
 * UTF-8 (u8_charlen() decides; this only builds the code point).
 */
static size_t
utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n, i;
	uint32_t c;

	if ((n = u8_charlen(s, len)) == 0)
		return 0;
	/* the lead byte keeps 7, 5, 4 or 3 payload bits */
	c = s[0] & (n == 1 ? 0x7f : 0x7f >> n);
	for (i = 1; i < n; i++)
		c = (c << 6) | (s[i] & 0x3f);
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
	/* a NUL is valid UTF-8 but not text */
	return memchr(s, '\0', len) == NULL && u8_valid(s, len);
}
