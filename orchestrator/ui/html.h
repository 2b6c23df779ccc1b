/*
 * ui/html: the console's text handling, on its own so it can be tested
 * without a server: HTML escaping (every value that came from outside
 * goes through html_esc() before it is part of a page), URL component
 * encoding for the links and forms that carry filter values, and the
 * strict parsers of what a browser sends: a form body
 * (application/x-www-form-urlencoded) or query string, and the Cookie
 * header.
 */
#ifndef AFU9_UI_HTML_H
#define AFU9_UI_HTML_H

#include <stddef.h>

#include "buf.h"

/*
 * Append s[0..n) to b as HTML text that is safe in element content and
 * in a double- or single-quoted attribute: & < > " ' become entities;
 * a byte that is not part of a valid UTF-8 character, NUL and the C0
 * controls other than tab, LF and CR become U+FFFD.  0, or -1 when b is
 * full (what was appended stays).
 */
int	html_esc(struct buf *b, const char *s, size_t n);
/* The same for a NUL-terminated string; NULL appends nothing. */
int	html_str(struct buf *b, const char *s);
/*
 * Append s as one URL query component (percent-encoding all but
 * A-Z a-z 0-9 - . _ ~).  The result is also HTML-safe as is.  0 or -1.
 */
int	html_url(struct buf *b, const char *s);

#define HTML_FORM_MAX	8	/* fields of one form or query */

struct html_form {
	size_t	 n;
	char	*name[HTML_FORM_MAX];	/* decoded, NUL-terminated */
	char	*value[HTML_FORM_MAX];
	char	 store[4096];		/* where they live */
};

/*
 * Parse p[0..len) ("a=1&b=x+y"; '+' is a space, %XX strictly two hex
 * digits, %00 refused) into f.  Empty pairs ("a=1&&b=2", a trailing &)
 * are skipped; a pair without '=' has the value "".  -1 (nothing
 * usable) on a bad escape, a NUL, invalid UTF-8, more than
 * HTML_FORM_MAX fields, or more than fits in f->store.  0.
 */
int	html_form_parse(struct html_form *f, const char *p, size_t len);
/* The value of the one field called name, or NULL (none, or sent more
   than once: *dup set to 1 then, when dup is not NULL). */
const char *html_form_get(const struct html_form *f, const char *name,
	    int *dup);

/*
 * The value of cookie `name` in the Cookie header value h[0..len)
 * ("a=1; b=2"), copied NUL-terminated into out[outlen].  1 found, 0 not
 * there, -1 there more than once or too long for out (count it as
 * none).
 */
int	html_cookie(const char *h, size_t len, const char *name, char *out,
	    size_t outlen);

#endif /* AFU9_UI_HTML_H */
