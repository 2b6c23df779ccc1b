/*
 * param: the text of statement parameters the row builders share (see
 * store_int.h): redacted and cut strings, jsonb-safe JSON, formatted
 * numbers, and freeing an array of them.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "store/store_int.h"
#include "utf8.h"

/* Redact, then clean and cut: malloc'd, NULL on ENOMEM. */
char *
param_text(const char *s, size_t max)
{
	char *r, *c;
	size_t n;

	if ((r = redact_str(s)) == NULL)
		return NULL;
	if ((n = strlen(r)) <= max && u8_valid(r, n))
		return r;	/* the usual case: nothing to cut */
	c = u8_clean(r, max, NULL);
	free(r);
	return c;
}

/*
 * jsonb refuses \u0000 in strings (22P05): turn each such escape in
 * compact JSON text into \ufffd, in place.  Escapes are skipped pairwise,
 * so "\\u0000" (an escaped backslash, then text) is left alone.
 */
static void
json_no_nul(char *j)
{
	for (; *j; j++) {
		if (*j != '\\')
			continue;
		if (j[1] == 'u' && strncmp(j + 2, "0000", 4) == 0)
			memcpy(j + 2, "fffd", 4);
		if (j[1] != '\0')
			j++;
	}
}

/* Compact JSON text of v for a jsonb parameter; malloc'd or NULL. */
char *
param_json(const json_t *v)
{
	char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (j)
		json_no_nul(j);
	return j;
}

char *
param_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	return rc == -1 ? NULL : s;
}

void
param_free(char **p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(p[i]);
		p[i] = NULL;
	}
}
