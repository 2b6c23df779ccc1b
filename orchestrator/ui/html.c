/*
 * ui/html: escaping, URL components, form and cookie parsing (see
 * ui/html.h).
 */
#include "config.h"

#include <string.h>

#include "utf8.h"
#include "ui/html.h"

int
html_esc(struct buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0, k;
	const char *rep;

	while (i < n) {
		k = 1;
		switch (p[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			if (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' &&
			    p[i] != '\r')
				rep = "\xef\xbf\xbd";
			else if (p[i] < 0x80)
				rep = NULL;
			else if ((k = u8_charlen(p + i, n - i)) == 0) {
				k = 1;
				rep = "\xef\xbf\xbd";
			} else
				rep = NULL;
		}
		if (rep == NULL) {
			i += k;
			run += k;
			continue;
		}
		/* the run of plain characters before this one, then it */
		if (buf_append(b, p + i - run, run) == -1 ||
		    buf_append(b, rep, strlen(rep)) == -1)
			return -1;
		run = 0;
		i += k;
	}
	return buf_append(b, p + i - run, run);
}

int
html_str(struct buf *b, const char *s)
{
	return s == NULL ? 0 : html_esc(b, s, strlen(s));
}

int
html_url(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	char e[3];

	for (; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			if (buf_append(b, p, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		if (buf_append(b, e, 3) == -1)
			return -1;
	}
	return 0;
}

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

/* Decode p[0..n) into f->store at *at; the string's start, or NULL. */
static char *
form_decode(struct html_form *f, size_t *at, const char *p, size_t n)
{
	char *out = f->store + *at;
	size_t i, o = *at;
	int c, hi, lo;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '+')
			c = ' ';
		else if (c == '%') {
			if (n - i < 3 || (hi = hexval(p[i + 1])) < 0 ||
			    (lo = hexval(p[i + 2])) < 0)
				return NULL;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c == '\0' || o + 1 >= sizeof(f->store))
			return NULL;
		f->store[o++] = (char)c;
	}
	f->store[o++] = '\0';
	if (!u8_valid(out, strlen(out)))
		return NULL;
	*at = o;
	return out;
}

int
html_form_parse(struct html_form *f, const char *p, size_t len)
{
	const char *end = p + len, *amp, *eq;
	size_t at = 0;

	f->n = 0;
	while (p < end) {
		if ((amp = memchr(p, '&', (size_t)(end - p))) == NULL)
			amp = end;
		if (amp == p) {
			p++;
			continue;
		}
		if (f->n == HTML_FORM_MAX)
			goto bad;
		if ((eq = memchr(p, '=', (size_t)(amp - p))) == NULL)
			eq = amp;
		if ((f->name[f->n] = form_decode(f, &at, p,
		    (size_t)(eq - p))) == NULL ||
		    (f->value[f->n] = form_decode(f, &at, eq < amp ? eq + 1 :
		    eq, eq < amp ? (size_t)(amp - eq - 1) : 0)) == NULL)
			goto bad;
		f->n++;
		p = amp < end ? amp + 1 : end;
	}
	return 0;
bad:
	f->n = 0;
	return -1;
}

const char *
html_form_get(const struct html_form *f, const char *name, int *dup)
{
	const char *v = NULL;
	size_t i, seen = 0;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->name[i], name) == 0) {
			v = f->value[i];
			seen++;
		}
	if (dup != NULL)
		*dup = seen > 1;
	return seen == 1 ? v : NULL;
}

int
html_cookie(const char *h, size_t len, const char *name, char *out,
    size_t outlen)
{
	const char *p = h, *end = h + len, *semi, *eq, *v;
	size_t nl = strlen(name), vl;
	int found = 0;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((semi = memchr(p, ';', (size_t)(end - p))) == NULL)
			semi = end;
		eq = memchr(p, '=', (size_t)(semi - p));
		if (eq != NULL && (size_t)(eq - p) == nl &&
		    memcmp(p, name, nl) == 0) {
			v = eq + 1;
			vl = (size_t)(semi - v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (found++ || vl >= outlen)
				return -1;
			memcpy(out, v, vl);
			out[vl] = '\0';
		}
		p = semi < end ? semi + 1 : end;
	}
	return found;
}
