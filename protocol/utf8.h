/*
 * utf8: the one UTF-8 well-formedness test (Unicode 15, table 3-7) that
 * the logger, the JSON scanner, the MCP server, the store and the
 * text cleaner share.  Overlong forms, surrogates (U+D800-U+DFFF), code
 * points past U+10FFFF and sequences cut short by the end of the buffer
 * are not characters.  A NUL byte is a character here; callers that
 * refuse it say so themselves.
 *
 * The one repair rule: a byte that is not part of a valid character
 * becomes U+FFFD (the replacement character) in every copy made
 * (u8_clean(); the logger writes it as \ufffd), and '?' only where text is
 * repaired in place and cannot grow (u8_fix()).  The one cut rule: text
 * cut to a bound ends on a character boundary (u8_cut()), never inside a
 * character.
 */
#ifndef AFU9_UTF8_H
#define AFU9_UTF8_H

#include <stddef.h>

/*
 * Length (1-4) of the valid UTF-8 character at s, with n >= 1 bytes
 * available, or 0 when the bytes there are not one.  Inline because the
 * JSON scanner calls it for every non-ASCII character it reads; the
 * byte ranges are compared directly, no code point is built.
 */
static inline size_t
u8_charlen(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong below U+0800 */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong below U+10000 */
		else if (c == 0xf4)
			hi = 0x8f;	/* past U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Where to cut s[0..len) to at most max bytes without splitting a
 * character: len when len <= max; else the largest i in (0, max] at
 * which no sequence continues, looking at most 3 bytes back (an invalid
 * byte is a boundary of its own), and max when there is none.
 */
size_t	u8_cut(const char *s, size_t len, size_t max);
/*
 * A malloc'd, NUL-terminated copy of the string s that is valid UTF-8:
 * invalid bytes become U+FFFD; when it does not fit in max bytes it is cut
 * at a character boundary and mark (may be NULL) appended, the mark
 * included in max (max must exceed strlen(mark)).  NULL on ENOMEM.
 */
char	*u8_clean(const char *s, size_t max, const char *mark);
/* Non-zero if s[0..n) is all valid UTF-8 (NUL bytes included). */
int	u8_valid(const char *s, size_t n);
/* Replace every byte of the string s that is not part of valid UTF-8
   with '?', in place (the buffer cannot grow), so that it always fits in
   a JSON string. */
void	u8_fix(char *s);

#endif /* AFU9_UTF8_H */
