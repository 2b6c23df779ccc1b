/*
 * api/apiutil: input checks of the /v1 APIs (see api/apiutil.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "api/apiutil.h"
#include "engine/defn.h"
#include "store/store.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
api_pct_decode(const char *p, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo, c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			if ((hi = hexval(p[i + 1])) < 0 ||
			    (lo = hexval(p[i + 2])) < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == '\0' || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

int
api_uuid_ok(char *s)
{
	size_t i;

	if (!store_uuid_ok(s))
		return 0;
	for (i = 0; i < API_UUID_LEN; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return 1;
}

int
api_cursor_parse(const char *s, char *ts, char *id)
{
	static const char form[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	double t;
	size_t i;

	if (strlen(s) != API_CURSOR_TS_LEN + 1 + API_UUID_LEN ||
	    s[API_CURSOR_TS_LEN] != '/')
		return -1;
	for (i = 0; i < API_CURSOR_TS_LEN; i++)
		if (form[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    s[i] != form[i])
			return -1;
	memcpy(ts, s, API_CURSOR_TS_LEN);
	ts[API_CURSOR_TS_LEN] = '\0';
	if (defn_time_parse(ts, &t) == -1)	/* a real time: no 13th month */
		return -1;
	memcpy(id, s + API_CURSOR_TS_LEN + 1, API_UUID_LEN + 1);
	return api_uuid_ok(id) ? 0 : -1;
}

int
api_query(const struct http_request *req, const char *const *names,
    size_t n, char vals[][API_VALUE_MAX], int *seen, char *err,
    size_t errlen)
{
	const char *p = req->query.p, *end = p + req->query.len, *amp, *eq;
	char key[32];
	size_t i;

	for (i = 0; i < n; i++)
		seen[i] = 0;
	while (req->query.len > 0 && p <= end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == NULL || eq == p) {
			snprintf(err, errlen, "the query string is name=value "
			    "pairs joined by &");
			return -1;
		}
		if (api_pct_decode(p, (size_t)(eq - p), key, sizeof(key)) ==
		    -1)
			key[0] = '\0';
		for (i = 0; i < n; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == n) {
			snprintf(err, errlen, "unknown query parameter: this "
			    "route takes %s%s%s%s%s%s%s", names[0],
			    n > 1 ? ", " : "", n > 1 ? names[1] : "",
			    n > 2 ? ", " : "", n > 2 ? names[2] : "",
			    n > 3 ? ", " : "", n > 3 ? names[3] : "");
			return -1;
		}
		if (seen[i]++) {
			snprintf(err, errlen, "query parameter %s given twice",
			    names[i]);
			return -1;
		}
		if (api_pct_decode(eq + 1, (size_t)(amp - eq - 1), vals[i],
		    API_VALUE_MAX) == -1 || vals[i][0] == '\0') {
			snprintf(err, errlen, "query parameter %s: empty, too "
			    "long, or not validly percent-encoded", names[i]);
			return -1;
		}
		p = amp + 1;
	}
	return 0;
}
