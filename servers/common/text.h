/*
 * text: what the afu9 servers do to outside text (GitHub issues and pull
 * requests, AWS events, log lines) before a model reads it.
 *
 * Such text can carry characters that render as nothing in a web view
 * yet are read by a model: Unicode tag characters (U+E0000-U+E007F),
 * bidirectional controls (U+202A-U+202E, U+2066-U+2069) and zero-width
 * characters (U+200B-U+200D, U+2060, U+FEFF).  ghtext_clean() removes
 * them (or only counts them), replaces invalid UTF-8 with U+FFFD, and
 * cuts the text at a byte bound on a character boundary.  (The ghtext_
 * prefix is historical: the cleaner began in afu9-github.)
 */
#ifndef AFU9_TEXT_H
#define AFU9_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct ghtext {
	char	*s;		/* malloc'd, NUL-terminated, valid UTF-8 */
	size_t	 len;		/* bytes in s */
	size_t	 invisible;	/* invisible characters removed (counted
				   only, without GHTEXT_STRIP) */
	size_t	 cut;		/* input bytes left out by the bound */
};

#define GHTEXT_STRIP	0x01	/* remove invisible characters */

/* Non-zero for a code point in one of the invisible ranges above. */
int	ghtext_is_invisible(uint32_t cp);

/*
 * Clean in[0..len) into out (out->s is new; free it with free()).  At most
 * `cap` bytes of output are kept (0: no bound).  Returns 0, or -1 on ENOMEM
 * (out->s is then NULL).
 */
int	ghtext_clean(const char *in, size_t len, size_t cap, int flags,
	    struct ghtext *out);

/* Non-zero when s[0..len) is valid UTF-8 without NUL bytes: text a model
   can be shown as it is. */
int	ghtext_is_text(const char *s, size_t len);

#endif
