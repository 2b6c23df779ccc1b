/*
 * utf8: the one UTF-8 well-formedness test (Unicode 15, table 3-7) that
 * the logger, the JSON-RPC scanner, the MCP server, the store and the
 * text cleaner share.  Overlong forms, surrogates (U+D800-U+DFFF), code
 * points past U+10FFFF and sequences cut short by the end of the buffer
 * are not characters.  A NUL byte is a character here; callers that
 * refuse it say so themselves.
 */
#ifndef AFU9_UTF8_H
#define AFU9_UTF8_H

#include <stddef.h>

/*
 * Length (1-4) of the valid UTF-8 character at s, with n >= 1 bytes
 * available, or 0 when the bytes there are not one.  Inline because the
 * JSON-RPC scanner calls it for every non-ASCII character it reads; the
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

/* Non-zero if s[0..n) is all valid UTF-8 (NUL bytes included). */
int	u8_valid(const char *s, size_t n);
/* Replace every byte of the string s that is not part of valid UTF-8
   with '?', in place, so that it always fits in a JSON string. */
void	u8_fix(char *s);

#endif /* AFU9_UTF8_H */
