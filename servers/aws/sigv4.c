#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#include <sodium.h>

#include "log.h"
#include "aws/sigv4.h"

#define ALGORITHM	"AWS4-HMAC-SHA256"
#define HASH_HEX	(2 * crypto_hash_sha256_BYTES + 1)

/* One canonical header entry: lowercased name, canonical value. */
struct chdr {
	char	*name;
	char	*value;
	size_t	 idx;		/* input order, for a stable sort */
};

struct qparam {
	char	*key;		/* encoded */
	char	*val;		/* encoded */
};

static int
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 9110 token character (method, header name). */
static int
is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int
aws_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

int
aws_sigv4_encode(struct buf *b, const void *s, size_t len, unsigned flags)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = s;
	size_t i, start = 0;
	char esc[3];

	for (i = 0; i < len; i++) {
		if (is_unreserved(p[i]) ||
		    (p[i] == '/' && (flags & AWS_SIGV4_KEEP_SLASH)))
			continue;
		if (buf_append(b, p + start, i - start) == -1)
			return -1;
		esc[0] = '%';
		esc[1] = hex[p[i] >> 4];
		esc[2] = hex[p[i] & 0x0f];
		if (buf_append(b, esc, sizeof(esc)) == -1)
			return -1;
		start = i + 1;
	}
	return buf_append(b, p + start, len - start);
}

/*
 * Append a NUL and hand the bytes over: returns the malloc'd string (the
 * caller frees) and leaves b empty, or NULL on ENOBUFS/ENOMEM with b
 * unchanged.
 */
static char *
buf_take(struct buf *b)
{
	char *s;

	if (buf_append(b, "", 1) == -1)
		return NULL;
	s = b->base;
	memset(b, 0, sizeof(*b));
	return s;
}

/*
 * Remove dot segments and empty segments from p[0..n): "." dropped, ".."
 * drops the segment before it (never above the root), "//" collapses.
 * The result always starts with '/', and ends with '/' when the input did
 * and the result is more than "/".  Writes into out (room for n + 2 bytes)
 * and returns the length.
 */
static size_t
normalize_path(const char *p, size_t n, char *out)
{
	size_t i = 0, j, o = 0;

	while (i < n) {
		for (j = i; j < n && p[j] != '/'; j++)
			;
		if (j - i == 0 || (j - i == 1 && p[i] == '.'))
			;
		else if (j - i == 2 && p[i] == '.' && p[i + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, p + i, j - i);
			o += j - i;
		}
		i = j + 1;
	}
	if (o == 0)
		out[o++] = '/';
	else if (n > 0 && p[n - 1] == '/')
		out[o++] = '/';
	return o;
}

/* Canonical URI into b.  0, or -1 with err set. */
static int
canon_path(struct buf *b, const char *path, unsigned flags, char *err,
    size_t errlen)
{
	size_t n = strlen(path);
	char *norm = NULL;
	int rc;

	if (n > AWS_SIGV4_MAX_PATH) {
		errfmt(err, errlen, "path longer than %u bytes",
		    AWS_SIGV4_MAX_PATH);
		return -1;
	}
	if (n == 0) {
		path = "/";
		n = 1;
	}
	if (!(flags & AWS_SIGV4_NO_NORMALIZE)) {
		if ((norm = malloc(n + 2)) == NULL) {
			errfmt(err, errlen, "out of memory");
			return -1;
		}
		n = normalize_path(path, n, norm);
		path = norm;
	}
	if (flags & AWS_SIGV4_NO_ENCODE_PATH)
		rc = buf_append(b, path, n);
	else
		rc = aws_sigv4_encode(b, path, n, AWS_SIGV4_KEEP_SLASH);
	free(norm);
	if (rc == -1)
		errfmt(err, errlen, "canonical request too large or out of "
		    "memory");
	return rc;
}

/*
 * Percent-decode s[0..n) into out (room for n bytes); returns the decoded
 * length, or -1 on a '%' not followed by two hex digits.
 */
static ssize_t
pct_decode(const char *s, size_t n, char *out)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (n - i < 3 || (hi = aws_hexval(s[i + 1])) < 0 ||
		    (lo = aws_hexval(s[i + 2])) < 0)
			return -1;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return (ssize_t)o;
}

/*
 * Decode then encode s[0..n) into a new string in *res (caller frees).
 * 0; -1 on a malformed escape (*res NULL, errno EINVAL) or ENOMEM.
 */
static int
requote(const char *s, size_t n, char **res)
{
	struct buf b;
	char *tmp;
	ssize_t dn;

	*res = NULL;
	if ((tmp = malloc(n + 1)) == NULL)
		return -1;
	if ((dn = pct_decode(s, n, tmp)) < 0) {
		free(tmp);
		errno = EINVAL;
		return -1;
	}
	buf_init(&b, 3 * (size_t)dn + 1);
	if (aws_sigv4_encode(&b, tmp, (size_t)dn, 0) == -1 ||
	    (*res = buf_take(&b)) == NULL) {
		free(tmp);
		buf_free(&b);
		return -1;
	}
	free(tmp);
	return 0;
}

static int
qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int c;

	if ((c = strcmp(x->key, y->key)) != 0)
		return c;
	return strcmp(x->val, y->val);
}

static void
qparams_free(struct qparam *q, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(q[i].key);
		free(q[i].val);
	}
	free(q);
}

/*
 * Encoded key and value of one "key[=value]" parameter p[0..n) into *e
 * (strings the caller frees, also on failure).  0; -1 with errno EINVAL
 * for a malformed escape, or ENOMEM.
 */
static int
qparam_set(struct qparam *e, const char *p, size_t n)
{
	const char *eq = memchr(p, '=', n);
	size_t klen = eq != NULL ? (size_t)(eq - p) : n;

	if (requote(p, klen, &e->key) == -1)
		return -1;
	if (eq == NULL)
		return requote("", 0, &e->val);
	return requote(eq + 1, n - klen - 1, &e->val);
}

/* Split the raw query into encoded params in *out, *nout.  0 or -1. */
static int
split_query(const char *query, struct qparam **out, size_t *nout,
    char *err, size_t errlen)
{
	struct qparam *q;
	const char *p = query, *end;
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if ((q = calloc(AWS_SIGV4_MAX_QUERY_PARAMS, sizeof(*q))) == NULL) {
		errfmt(err, errlen, "out of memory");
		return -1;
	}
	for (; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if (end == p)
			continue;	/* "a&&b": nothing between */
		if (n == AWS_SIGV4_MAX_QUERY_PARAMS) {
			errfmt(err, errlen, "query has more than %u parameters",
			    AWS_SIGV4_MAX_QUERY_PARAMS);
			qparams_free(q, n);
			return -1;
		}
		if (qparam_set(&q[n++], p, (size_t)(end - p)) == -1) {
			if (errno == EINVAL)
				errfmt(err, errlen, "query parameter %zu has a "
				    "malformed percent-escape", n);
			else
				errfmt(err, errlen, "out of memory");
			qparams_free(q, n);
			return -1;
		}
	}
	*out = q;
	*nout = n;
	return 0;
}

/* Canonical query string into b.  0, or -1 with err set. */
static int
canon_query(struct buf *b, const char *query, char *err, size_t errlen)
{
	struct qparam *q;
	size_t n, i;
	int rc = 0;

	if (query == NULL || *query == '\0')
		return 0;
	if (strlen(query) > AWS_SIGV4_MAX_QUERY) {
		errfmt(err, errlen, "query longer than %u bytes",
		    AWS_SIGV4_MAX_QUERY);
		return -1;
	}
	if (split_query(query, &q, &n, err, errlen) == -1)
		return -1;
	qsort(q, n, sizeof(*q), qparam_cmp);
	for (i = 0; i < n && rc == 0; i++)
		rc = buf_printf(b, "%s%s=%s", i ? "&" : "", q[i].key,
		    q[i].val);
	qparams_free(q, n);
	if (rc == -1)
		errfmt(err, errlen, "canonical request too large or out of "
		    "memory");
	return rc;
}

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Check a header value: no control bytes but tab and line folds (CR LF or
 * LF followed by a space or tab).  0 if acceptable, else -1.
 */
static int
check_value(const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	for (; *p != '\0'; p++) {
		if (*p == '\r' && p[1] != '\n')
			return -1;
		if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
			return -1;
		if ((*p < 0x20 && !is_ws(*p)) || *p == 0x7f)
			return -1;
	}
	return 0;
}

/*
 * Canonical form of a header value: trimmed, every whitespace run (line
 * folds included) one space.  New string (caller frees), NULL on ENOMEM.
 */
static char *
canon_value(const char *v)
{
	size_t n = strlen(v), o = 0;
	char *out;

	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	while (is_ws((unsigned char)*v))
		v++;
	while (*v != '\0') {
		if (!is_ws((unsigned char)*v)) {
			out[o++] = *v++;
			continue;
		}
		while (is_ws((unsigned char)*v))
			v++;
		if (*v != '\0')
			out[o++] = ' ';
	}
	out[o] = '\0';
	return out;
}

static int
chdr_cmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
chdrs_free(struct chdr *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

/* Add one entry (name lowercased, value canonicalised).  0 or -1 ENOMEM. */
static int
chdr_add(struct chdr *h, size_t *n, const char *name, const char *value)
{
	struct chdr *e = &h[*n];
	size_t i;

	if ((e->name = strdup(name)) == NULL)
		return -1;
	if ((e->value = canon_value(value)) == NULL) {
		free(e->name);
		e->name = NULL;
		return -1;
	}
	for (i = 0; e->name[i] != '\0'; i++)
		e->name[i] = (char)lower((unsigned char)e->name[i]);
	e->idx = (*n)++;
	return 0;
}

/* Non-zero if `name` (any case) is one the signer sets itself. */
static int
reserved_header(const char *name, const char *tok, unsigned flags)
{
	if (strcasecmp(name, "authorization") == 0 ||
	    strcasecmp(name, "x-amz-date") == 0)
		return 1;
	if (tok != NULL && strcasecmp(name, "x-amz-security-token") == 0)
		return 1;
	return (flags & AWS_SIGV4_CONTENT_SHA256) &&
	    strcasecmp(name, "x-amz-content-sha256") == 0;
}

/* Validate the caller's headers.  0, or -1 with err set. */
static int
check_headers(const struct aws_sigv4_req *req, const char *tok, char *err,
    size_t errlen)
{
	const struct aws_sigv4_header *h;
	size_t i, j, nlen;
	int host = 0;

	if (req->nheaders > AWS_SIGV4_MAX_HEADERS) {
		errfmt(err, errlen, "more than %u headers to sign",
		    AWS_SIGV4_MAX_HEADERS);
		return -1;
	}
	if (req->nheaders > 0 && req->headers == NULL) {
		errfmt(err, errlen, "headers missing");
		return -1;
	}
	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (h->name == NULL || h->value == NULL) {
			errfmt(err, errlen, "header %zu: name or value "
			    "missing", i);
			return -1;
		}
		nlen = strlen(h->name);
		for (j = 0; j < nlen && is_tchar((unsigned char)h->name[j]);
		    j++)
			;
		if (nlen == 0 || nlen > AWS_SIGV4_MAX_HEADER_NAME ||
		    j < nlen) {
			errfmt(err, errlen, "header %zu: invalid name", i);
			return -1;
		}
		if (strlen(h->value) > AWS_SIGV4_MAX_HEADER_VALUE) {
			errfmt(err, errlen, "header %s: value longer than %u "
			    "bytes", h->name, AWS_SIGV4_MAX_HEADER_VALUE);
			return -1;
		}
		if (check_value(h->value) == -1) {
			errfmt(err, errlen, "header %s: control character or "
			    "line break without continuation in value",
			    h->name);
			return -1;
		}
		if (reserved_header(h->name, tok, req->flags)) {
			errfmt(err, errlen, "header %s is set by the signer",
			    h->name);
			return -1;
		}
		if (strcasecmp(h->name, "host") == 0)
			host = 1;
	}
	if (!host) {
		errfmt(err, errlen, "Host header missing (it must be signed)");
		return -1;
	}
	return 0;
}

/*
 * Build the sorted canonical header list: the caller's headers plus the
 * signed ones the signer adds.  New array in *out, *nout (chdrs_free()).
 * 0, or -1 on ENOMEM.
 */
static int
build_chdrs(const struct aws_sigv4_req *req, const char *amz_date,
    const char *tok, const char *payload, struct chdr **out, size_t *nout)
{
	struct chdr *h;
	size_t i, n = 0;

	*out = NULL;
	*nout = 0;
	if ((h = calloc(req->nheaders + 3, sizeof(*h))) == NULL)
		return -1;
	for (i = 0; i < req->nheaders; i++)
		if (chdr_add(h, &n, req->headers[i].name,
		    req->headers[i].value) == -1)
			goto fail;
	if (chdr_add(h, &n, "x-amz-date", amz_date) == -1)
		goto fail;
	if (tok != NULL && !(req->flags & AWS_SIGV4_OMIT_TOKEN) &&
	    chdr_add(h, &n, "x-amz-security-token", tok) == -1)
		goto fail;
	if ((req->flags & AWS_SIGV4_CONTENT_SHA256) &&
	    chdr_add(h, &n, "x-amz-content-sha256", payload) == -1)
		goto fail;
	qsort(h, n, sizeof(*h), chdr_cmp);
	*out = h;
	*nout = n;
	return 0;
fail:
	chdrs_free(h, n);
	return -1;
}

/*
 * Append the canonical headers block and the signed-headers line to b,
 * and a copy of the signed-headers list to *signed_hdrs (caller frees).
 * 0, or -1 (ENOBUFS/ENOMEM).
 */
static int
emit_headers(struct buf *b, const struct chdr *h, size_t n,
    char **signed_hdrs)
{
	struct buf sh;
	size_t i;
	int rc = 0;

	*signed_hdrs = NULL;
	buf_init(&sh, AWS_SIGV4_MAX_CANONICAL);
	for (i = 0; i < n && rc == 0; i++) {
		if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
			rc = buf_printf(b, ",%s", h[i].value);
			continue;
		}
		rc = buf_printf(b, "%s%s:%s", i ? "\n" : "", h[i].name,
		    h[i].value);
		if (rc == 0)
			rc = buf_printf(&sh, "%s%s", buf_used(&sh) ? ";" : "",
			    h[i].name);
	}
	if (rc == 0)
		rc = buf_printf(b, "\n\n%.*s\n", (int)buf_used(&sh),
		    buf_data(&sh));
	if (rc == 0 && (*signed_hdrs = buf_take(&sh)) == NULL)
		rc = -1;
	buf_free(&sh);
	return rc;
}

static void
sha256_hex(char hex[HASH_HEX], const void *p, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, p, n);
	sodium_bin2hex(hex, HASH_HEX, h, sizeof(h));
}

static void
hmac(unsigned char out[crypto_auth_hmacsha256_BYTES], const void *key,
    size_t klen, const void *msg, size_t mlen)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, msg, mlen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region),
 * service), "aws4_request").  Every intermediate is wiped.
 */
static void
derive_key(unsigned char key[crypto_auth_hmacsha256_BYTES],
    const char *secret, const char *date, const char *region,
    const char *service)
{
	unsigned char k0[4 + AWS_SIGV4_MAX_SECRET];
	unsigned char a[crypto_auth_hmacsha256_BYTES];
	unsigned char b[crypto_auth_hmacsha256_BYTES];
	size_t slen = strlen(secret);

	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	hmac(a, k0, 4 + slen, date, strlen(date));
	hmac(b, a, sizeof(a), region, strlen(region));
	hmac(a, b, sizeof(b), service, strlen(service));
	hmac(key, a, sizeof(a), "aws4_request", 12);
	sodium_memzero(k0, sizeof(k0));
	sodium_memzero(a, sizeof(a));
	sodium_memzero(b, sizeof(b));
}

/* Non-zero if every byte of s is in 0x21..0x7e and not in `bad`. */
static int
printable(const char *s, const char *bad)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr(bad, *s) != NULL)
			return 0;
	return 1;
}

/* Region and service: 1..MAX of A-Za-z0-9 - _ . */
static int
scope_part_ok(const char *s)
{
	size_t i, n;

	if (s == NULL || (n = strlen(s)) == 0 || n > AWS_SIGV4_MAX_SCOPE_PART)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_unreserved((unsigned char)s[i]) || s[i] == '~')
			return 0;
	return 1;
}

static int
check_creds(const struct aws_sigv4_creds *c, char *err, size_t errlen)
{
	size_t n;

	if (c == NULL || c->access_key_id == NULL ||
	    c->secret_access_key == NULL) {
		errfmt(err, errlen, "credentials missing");
		return -1;
	}
	n = strlen(c->access_key_id);
	if (n == 0 || n > AWS_SIGV4_MAX_KEY_ID ||
	    !printable(c->access_key_id, "/,;=")) {
		errfmt(err, errlen, "access key id empty, longer than %u "
		    "bytes or with invalid characters", AWS_SIGV4_MAX_KEY_ID);
		return -1;
	}
	n = strlen(c->secret_access_key);
	if (n == 0 || n > AWS_SIGV4_MAX_SECRET) {
		errfmt(err, errlen, "secret access key empty or longer than "
		    "%u bytes", AWS_SIGV4_MAX_SECRET);
		return -1;
	}
	if (c->session_token != NULL && (strlen(c->session_token) >
	    AWS_SIGV4_MAX_TOKEN || !printable(c->session_token, ""))) {
		errfmt(err, errlen, "session token longer than %u bytes or "
		    "with invalid characters", AWS_SIGV4_MAX_TOKEN);
		return -1;
	}
	return 0;
}

/* Payload hash literal: 64 lowercase hex, or 1..64 of A-Z 0-9 '-'. */
static int
payload_hash_ok(const char *s)
{
	size_t i, n = strlen(s);
	int hex = n == 64, lit = n > 0 && n <= 64;

	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			hex = 0;
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-'))
			lit = 0;
	}
	return hex || lit;
}

static int
check_req(const struct aws_sigv4_req *req, char *err, size_t errlen)
{
	size_t i, n;

	if (req == NULL || req->method == NULL || req->path == NULL) {
		errfmt(err, errlen, "request method or path missing");
		return -1;
	}
	n = strlen(req->method);
	for (i = 0; i < n && is_tchar((unsigned char)req->method[i]); i++)
		;
	if (n == 0 || n > AWS_SIGV4_MAX_METHOD || i < n) {
		errfmt(err, errlen, "invalid method");
		return -1;
	}
	if (req->payload_hash == NULL && req->body == NULL &&
	    req->body_len > 0) {
		errfmt(err, errlen, "body_len set without a body");
		return -1;
	}
	if (req->payload_hash != NULL && !payload_hash_ok(req->payload_hash)) {
		errfmt(err, errlen, "payload_hash is neither 64 lowercase hex "
		    "digits nor a literal such as UNSIGNED-PAYLOAD");
		return -1;
	}
	return 0;
}

/* "YYYYMMDDTHHMMSSZ" for `when`.  0, or -1 when it has no such form. */
static int
format_amz_date(time_t when, char out[17])
{
	struct tm tm;

	if (gmtime_r(&when, &tm) == NULL || tm.tm_year < 70 ||
	    tm.tm_year > 9999 - 1900)
		return -1;
	return strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) == 16 ? 0 : -1;
}

/*
 * Method, path, query, headers, signed headers, payload into b, and the
 * signed-headers list into *signed_hdrs (caller frees).  0, or -1 with err
 * set and *signed_hdrs NULL.
 */
static int
build_canonical(struct buf *b, const struct aws_sigv4_req *req,
    const char *amz_date, const char *tok, const char *payload,
    char **signed_hdrs, char *err, size_t errlen)
{
	struct chdr *h;
	size_t nh;
	int rc;

	*signed_hdrs = NULL;
	if (buf_printf(b, "%s\n", req->method) == -1 ||
	    canon_path(b, req->path, req->flags, err, errlen) == -1 ||
	    buf_append(b, "\n", 1) == -1 ||
	    canon_query(b, req->query, err, errlen) == -1 ||
	    buf_append(b, "\n", 1) == -1)
		goto fail;
	if (build_chdrs(req, amz_date, tok, payload, &h, &nh) == -1)
		goto fail;
	rc = emit_headers(b, h, nh, signed_hdrs);
	chdrs_free(h, nh);
	if (rc == -1 || buf_append(b, payload, strlen(payload)) == -1)
		goto fail;
	return 0;
fail:
	free(*signed_hdrs);
	*signed_hdrs = NULL;
	if (err != NULL && errlen > 0 && err[0] == '\0')
		errfmt(err, errlen, "canonical request too large or out of "
		    "memory");
	return -1;
}

/* The string to sign for a canonical request; new string or NULL. */
static char *
string_to_sign(const char *amz_date, const char *scope, const char *creq)
{
	char hex[HASH_HEX];
	struct buf b;
	char *s;

	sha256_hex(hex, creq, strlen(creq));
	buf_init(&b, AWS_SIGV4_MAX_CANONICAL);
	if (buf_printf(&b, ALGORITHM "\n%s\n%s\n%s", amz_date, scope,
	    hex) == -1 || (s = buf_take(&b)) == NULL) {
		buf_free(&b);
		return NULL;
	}
	return s;
}

/* Fill out->headers.  0, or -1 on ENOMEM. */
static int
add_headers(struct aws_sigv4_out *out, const char *tok, const char *payload,
    unsigned flags)
{
	size_t n = 0;

	if (asprintf(&out->headers[n++], "X-Amz-Date: %s",
	    out->amz_date) == -1)
		goto fail;
	if (tok != NULL && asprintf(&out->headers[n++],
	    "X-Amz-Security-Token: %s", tok) == -1)
		goto fail;
	if ((flags & AWS_SIGV4_CONTENT_SHA256) && asprintf(&out->headers[n++],
	    "x-amz-content-sha256: %s", payload) == -1)
		goto fail;
	if (asprintf(&out->headers[n++], "Authorization: %s",
	    out->authorization) == -1)
		goto fail;
	return 0;
fail:
	out->headers[n - 1] = NULL;
	return -1;
}

/*
 * The signature over out->string_to_sign, then the Authorization value.
 * 0, or -1 on ENOMEM.
 */
static int
sign_sts(struct aws_sigv4_out *out, const struct aws_sigv4_creds *c,
    const char *region, const char *service, const char *scope,
    const char *signed_hdrs)
{
	unsigned char key[crypto_auth_hmacsha256_BYTES];
	unsigned char sig[crypto_auth_hmacsha256_BYTES];
	char date[9];

	memcpy(date, out->amz_date, 8);
	date[8] = '\0';
	derive_key(key, c->secret_access_key, date, region, service);
	hmac(sig, key, sizeof(key), out->string_to_sign,
	    strlen(out->string_to_sign));
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(out->signature, sizeof(out->signature), sig,
	    sizeof(sig));
	if (asprintf(&out->authorization, ALGORITHM " Credential=%s/%s, "
	    "SignedHeaders=%s, Signature=%s", c->access_key_id, scope,
	    signed_hdrs, out->signature) == -1) {
		out->authorization = NULL;
		return -1;
	}
	return 0;
}

/* Validate everything the caller passed.  0, or -1 with err set. */
static int
check_inputs(const struct aws_sigv4_req *req, const struct aws_sigv4_creds *c,
    const char *region, const char *service, char *err, size_t errlen)
{
	const char *tok;

	if (check_req(req, err, errlen) == -1 ||
	    check_creds(c, err, errlen) == -1)
		return -1;
	if (!scope_part_ok(region) || !scope_part_ok(service)) {
		errfmt(err, errlen, "region or service empty, longer than %u "
		    "bytes or with characters other than A-Za-z0-9-_.",
		    AWS_SIGV4_MAX_SCOPE_PART);
		return -1;
	}
	tok = c->session_token && *c->session_token ? c->session_token : NULL;
	return check_headers(req, tok, err, errlen);
}

int
aws_sigv4_sign(const struct aws_sigv4_req *req,
    const struct aws_sigv4_creds *c, const char *region, const char *service,
    time_t when, struct aws_sigv4_out *out, char *err, size_t errlen)
{
	char payload[HASH_HEX], scope[3 * AWS_SIGV4_MAX_SCOPE_PART];
	char *signed_hdrs = NULL;
	const char *tok, *ph;
	struct buf b;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (check_inputs(req, c, region, service, err, errlen) == -1)
		return -1;
	if (sodium_init() < 0) {
		errfmt(err, errlen, "libsodium failed to initialise");
		return -1;
	}
	if (format_amz_date(when, out->amz_date) == -1) {
		errfmt(err, errlen, "time %lld outside years 1970-9999",
		    (long long)when);
		return -1;
	}
	tok = c->session_token && *c->session_token ? c->session_token : NULL;
	if ((ph = req->payload_hash) == NULL) {
		sha256_hex(payload, req->body_len ? req->body : "",
		    req->body_len);
		ph = payload;
	}
	snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request",
	    out->amz_date, region, service);

	buf_init(&b, AWS_SIGV4_MAX_CANONICAL);
	if (build_canonical(&b, req, out->amz_date, tok, ph, &signed_hdrs,
	    err, errlen) == -1) {
		buf_free(&b);
		return -1;
	}
	if ((out->canonical_request = buf_take(&b)) == NULL ||
	    (out->string_to_sign = string_to_sign(out->amz_date, scope,
	    out->canonical_request)) == NULL ||
	    sign_sts(out, c, region, service, scope, signed_hdrs) == -1 ||
	    add_headers(out, tok, ph, req->flags) == -1) {
		errfmt(err, errlen, "canonical request too large or out of "
		    "memory");
		buf_free(&b);
		free(signed_hdrs);
		aws_sigv4_out_free(out);
		return -1;
	}
	free(signed_hdrs);
	return 0;
}

void
aws_sigv4_out_free(struct aws_sigv4_out *out)
{
	size_t i;

	if (out == NULL)
		return;
	free(out->canonical_request);
	free(out->string_to_sign);
	free(out->authorization);
	for (i = 0; i < AWS_SIGV4_MAX_ADD; i++)
		free(out->headers[i]);
	memset(out, 0, sizeof(*out));
}
