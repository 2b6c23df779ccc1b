/*
 * utf8: whole-buffer UTF-8 checks built on u8_charlen() (see utf8.h).
 */
#include "config.h"

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
