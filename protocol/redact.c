#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "redact.h"

/*
 * Key rule.  A key is compared with separators ('_', '-', '.', ' ')
 * skipped and ASCII case folded, so "githubToken", "x-api-key",
 * "AWS_SECRET_ACCESS_KEY" and "Authorization" all reduce to a string that
 * contains one of the stems below.  The match is a plain substring match,
 * which errs on the side of redacting: "tokens_used", "max_tokens" and
 * "secretary" are redacted too (a lost counter is cheap, a leaked token is
 * not).  "author" is not: the stem is the whole word "authorization".
 */
/* Their first letters (t p s a c) are tested alone in
   redact_is_sensitive_key(): keep the two in step. */
static const char *const sensitive_stems[] = {
	"token", "password", "passwd", "secret", "authorization", "apikey",
	"credential", "privatekey", "cookie", "accesskey",
};

/*
 * Value rules.  Registered secrets (at most REDACT_MAX_SECRETS, each
 * REDACT_MIN_SECRET..REDACT_MAX_SECRET bytes) and two token shapes found
 * by pattern even when nobody registered them:
 *  - GitHub tokens: "ghp_", "gho_", "ghu_", "ghs_", "ghr_" or
 *    "github_pat_" followed by 20 or more of [A-Za-z0-9_]; the whole
 *    token, prefix included, is replaced;
 *  - HTTP bearer credentials: "Bearer " (any case) followed by 16 or more
 *    token68 characters ([A-Za-z0-9._~+/-] then '='); only the credential
 *    is replaced, "Bearer " stays readable.
 * Every byte inside any occurrence of any of these (occurrences may
 * overlap) is covered, and each maximal run of covered bytes becomes one
 * "[REDACTED]".  So overlapping or adjacent registered secrets leave no
 * fragment of either behind.
 *
 * The registry is process-global and not locked: register secrets at
 * start-up, before any thread that logs is started.
 */
#define REDACT_MAX_SECRETS	64	/* pinned: redact_add_secret() */
#define REDACT_MAX_ROTATING	192	/* redact_add_rotating_secret() */
#define REDACT_MIN_SECRET	4
#define REDACT_MAX_SECRET	8192
#define REDACT_MAX_DEPTH	128
#define GH_MIN_BODY		20
#define BEARER_MIN		16

struct secret {
	char		*val;
	size_t		 len;
	int		 rotating;
	unsigned long	 seq;		/* registration order */
};

static struct secret	secrets[REDACT_MAX_SECRETS + REDACT_MAX_ROTATING];
static size_t		nsecrets;
static size_t		npinned, nrotating;
static unsigned long	next_seq;

static int
is_sep(unsigned char c)
{
	return c == '_' || c == '-' || c == '.' || c == ' ';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Does `stem` (lower case, no separators) match key at p, skipping separators? */
static int
stem_at(const char *p, const char *stem)
{
	for (; *stem != '\0'; stem++) {
		while (is_sep((unsigned char)*p))
			p++;
		if (*p == '\0' || lower((unsigned char)*p) != (unsigned char)*stem)
			return 0;
		p++;
	}
	return 1;
}

int
redact_is_sensitive_key(const char *key)
{
	const char *p;
	unsigned char c;
	size_t i;

	if (key == NULL)
		return 0;
	for (p = key; *p != '\0'; p++) {
		/* Most bytes start no stem: test the first letter alone. */
		c = lower((unsigned char)*p);
		if (c != 't' && c != 'p' && c != 's' && c != 'a' && c != 'c')
			continue;
		for (i = 0; i < sizeof(sensitive_stems) / sizeof(*sensitive_stems); i++)
			if ((unsigned char)sensitive_stems[i][0] == c &&
			    stem_at(p, sensitive_stems[i]))
				return 1;
	}
	return 0;
}

/*
 * Register a copy of value.  Kept sorted longest first (the order does not
 * change the result of the coverage scan, but it keeps the cheapest
 * rejection tests last).  Registering a value twice is a no-op.
 */
/* Remove entry i, keeping the longest-first order. */
static void
secret_remove(size_t i)
{
	if (secrets[i].rotating)
		nrotating--;
	else
		npinned--;
	free(secrets[i].val);
	memmove(&secrets[i], &secrets[i + 1], (nsecrets - i - 1) * sizeof(secrets[0]));
	nsecrets--;
	memset(&secrets[nsecrets], 0, sizeof(secrets[0]));
}

static int
secret_add(const char *value, int rotating)
{
	size_t len, i, oldest;
	char *copy;

	if (value == NULL || (len = strlen(value)) < REDACT_MIN_SECRET ||
	    len > REDACT_MAX_SECRET) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nsecrets; i++)
		if (secrets[i].len == len && memcmp(secrets[i].val, value, len) == 0) {
			if (!rotating && secrets[i].rotating) {
				/* pinning wins: it must never be evicted */
				if (npinned == REDACT_MAX_SECRETS) {
					errno = ENOSPC;
					return -1;
				}
				secrets[i].rotating = 0;
				nrotating--;
				npinned++;
			} else if (rotating && secrets[i].rotating)
				secrets[i].seq = next_seq++;
			return 0;
		}
	if (!rotating && npinned == REDACT_MAX_SECRETS) {
		errno = ENOSPC;
		return -1;
	}
	if ((copy = strdup(value)) == NULL)
		return -1;
	if (rotating && nrotating == REDACT_MAX_ROTATING) {
		oldest = nsecrets;
		for (i = 0; i < nsecrets; i++)
			if (secrets[i].rotating && (oldest == nsecrets ||
			    secrets[i].seq < secrets[oldest].seq))
				oldest = i;
		secret_remove(oldest);
	}
	for (i = nsecrets; i > 0 && secrets[i - 1].len < len; i--)
		secrets[i] = secrets[i - 1];
	secrets[i].val = copy;
	secrets[i].len = len;
	secrets[i].rotating = rotating;
	secrets[i].seq = next_seq++;
	nsecrets++;
	if (rotating)
		nrotating++;
	else
		npinned++;
	return 0;
}

/*
 * Register a copy of value.  Kept sorted longest first (the order does not
 * change the result of the coverage scan, but it keeps the cheapest
 * rejection tests last).  Registering a value twice is a no-op.
 */
int
redact_add_secret(const char *value)
{
	return secret_add(value, 0);
}

int
redact_add_rotating_secret(const char *value)
{
	return secret_add(value, 1);
}

void
redact_clear(void)
{
	size_t i;

	for (i = 0; i < nsecrets; i++) {
		free(secrets[i].val);
		secrets[i].val = NULL;
		secrets[i].len = 0;
	}
	nsecrets = npinned = nrotating = 0;
}

int
redact_contains_secret(const char *s, size_t len)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < nsecrets; i++)
		if (memmem(s, len, secrets[i].val, secrets[i].len) != NULL)
			return 1;
	return 0;
}

static int
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static int
is_token68(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/';
}

/* Length of a GitHub token starting at s[i], or 0. */
static size_t
gh_token_at(const char *s, size_t len, size_t i)
{
	static const char *const prefixes[] = {
		"github_pat_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
	};
	size_t k, plen, j;

	for (k = 0; k < sizeof(prefixes) / sizeof(*prefixes); k++) {
		plen = strlen(prefixes[k]);
		if (len - i < plen || memcmp(s + i, prefixes[k], plen) != 0)
			continue;
		for (j = i + plen; j < len && is_word((unsigned char)s[j]); j++)
			;
		if (j - i - plen >= GH_MIN_BODY)
			return j - i;
	}
	return 0;
}

/* Offset and length of a bearer credential whose scheme starts at s[i]. */
static size_t
bearer_at(const char *s, size_t len, size_t i, size_t *start)
{
	static const char scheme[] = "bearer ";
	size_t k, j;

	if (len - i < sizeof(scheme) - 1)
		return 0;
	for (k = 0; k < sizeof(scheme) - 1; k++)
		if (lower((unsigned char)s[i + k]) != (unsigned char)scheme[k])
			return 0;
	*start = j = i + k;
	while (j < len && is_token68((unsigned char)s[j]))
		j++;
	if (j - *start < BEARER_MIN)
		return 0;
	while (j < len && s[j] == '=')
		j++;
	return j - *start;
}

/*
 * Mark in cov[] every byte of s[0..len) that belongs to a registered
 * secret or a token shape.  Returns the number of bytes covered; with
 * cov NULL, marks nothing and returns non-zero at the first match.
 */
static size_t
cover(const char *s, size_t len, unsigned char *cov)
{
	const char *p, *end = s + len;
	size_t i, n, off, covered = 0;

	for (i = 0; i < nsecrets; i++) {
		p = s;
		while ((size_t)(end - p) >= secrets[i].len &&
		    (p = memmem(p, (size_t)(end - p), secrets[i].val,
		    secrets[i].len)) != NULL) {
			if (cov == NULL)
				return 1;
			memset(cov + (p - s), 1, secrets[i].len);
			covered += secrets[i].len;
			p++;
		}
	}
	for (i = 0; i < len; i++) {
		if (s[i] == 'g' && (n = gh_token_at(s, len, i)) > 0) {
			if (cov == NULL)
				return 1;
			memset(cov + i, 1, n);
			covered += n;
			i += n - 1;
		} else if ((s[i] == 'b' || s[i] == 'B') &&
		    (n = bearer_at(s, len, i, &off)) > 0) {
			if (cov == NULL)
				return 1;
			memset(cov + off, 1, n);
			covered += n;
			i = off + n - 1;
		}
	}
	return covered;
}

static int
is_cont(unsigned char c)
{
	return (c & 0xc0) == 0x80;
}

/*
 * Widen covered runs to whole UTF-8 sequences, so that replacing them
 * never leaves half a character behind (valid UTF-8 stays valid).
 */
static void
cover_whole_chars(const char *s, size_t len, unsigned char *cov)
{
	size_t i, j;

	for (i = 0; i < len; i++) {
		if (!cov[i])
			continue;
		if ((i == 0 || !cov[i - 1]) && is_cont((unsigned char)s[i]))
			for (j = i; j > 0 && is_cont((unsigned char)s[j]); j--)
				cov[j - 1] = 1;
		if (i + 1 < len && !cov[i + 1] && is_cont((unsigned char)s[i + 1]))
			cov[i + 1] = 1;
	}
}

/*
 * Scrub s[0..len) into a new NUL-terminated malloc'd string; its length
 * in *outlen.  NULL on ENOMEM.
 */
static char *
scrub(const char *s, size_t len, size_t *outlen)
{
	unsigned char *cov;
	char *out, *q;
	size_t i, runs = 0, cap;

	if ((cov = calloc(len ? len : 1, 1)) == NULL)
		return NULL;
	if (cover(s, len, cov) == 0) {
		free(cov);
		if ((out = malloc(len + 1)) == NULL)
			return NULL;
		memcpy(out, s, len);
		out[len] = '\0';
		*outlen = len;
		return out;
	}
	cover_whole_chars(s, len, cov);
	for (i = 0; i < len; i++)
		if (cov[i] && (i == 0 || !cov[i - 1]))
			runs++;
	cap = len + runs * (sizeof(REDACTED) - 1) + 1;
	if ((out = malloc(cap)) == NULL) {
		free(cov);
		return NULL;
	}
	for (q = out, i = 0; i < len; i++) {
		if (!cov[i])
			*q++ = s[i];
		else if (i == 0 || !cov[i - 1]) {
			memcpy(q, REDACTED, sizeof(REDACTED) - 1);
			q += sizeof(REDACTED) - 1;
		}
	}
	*q = '\0';
	*outlen = (size_t)(q - out);
	free(cov);
	return out;
}

int
redact_would_change(const char *s, size_t len)
{
	return s != NULL && cover(s, len, NULL) != 0;
}

/* NULL in, NULL out (errno EINVAL); otherwise as the header says. */
char *
redact_str(const char *s)
{
	size_t n;

	if (s == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return scrub(s, strlen(s), &n);
}

static json_t	*redact_value(const json_t *, int);

static json_t *
redact_string(const json_t *v)
{
	json_t *r;
	char *s;
	size_t n;

	if ((s = scrub(json_string_value(v), json_string_length(v), &n)) == NULL)
		return NULL;
	r = json_stringn_nocheck(s, n);
	free(s);
	return r;
}

/*
 * Copy an object: values under sensitive keys become "[REDACTED]" whatever
 * their type; keys themselves are scrubbed like any other string.
 */
static json_t *
redact_object(const json_t *v, int depth)
{
	json_t *r, *val, *nv;
	const char *key;
	char *k;
	size_t n;

	if ((r = json_object()) == NULL)
		return NULL;
	json_object_foreach((json_t *)v, key, val) {
		if (redact_is_sensitive_key(key))
			nv = json_string(REDACTED);
		else
			nv = redact_value(val, depth + 1);
		if (nv == NULL || (k = scrub(key, strlen(key), &n)) == NULL) {
			json_decref(nv);
			json_decref(r);
			return NULL;
		}
		if (json_object_set_new_nocheck(r, k, nv) == -1) {
			free(k);
			json_decref(r);
			return NULL;
		}
		free(k);
	}
	return r;
}

static json_t *
redact_array(const json_t *v, int depth)
{
	json_t *r, *nv;
	size_t i;

	if ((r = json_array()) == NULL)
		return NULL;
	for (i = 0; i < json_array_size(v); i++) {
		nv = redact_value(json_array_get(v, i), depth + 1);
		if (nv == NULL || json_array_append_new(r, nv) == -1) {
			json_decref(r);
			return NULL;
		}
	}
	return r;
}

/*
 * Deep copy with both rules.  A subtree nested deeper than
 * REDACT_MAX_DEPTH is replaced as a whole by "[REDACTED]": it is not
 * inspected, so it is not shown.
 */
static json_t *
redact_value(const json_t *v, int depth)
{
	if (depth > REDACT_MAX_DEPTH)
		return json_string(REDACTED);
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return redact_object(v, depth);
	case JSON_ARRAY:
		return redact_array(v, depth);
	case JSON_STRING:
		return redact_string(v);
	case JSON_INTEGER:
		return json_integer(json_integer_value(v));
	case JSON_REAL:
		return json_real(json_real_value(v));
	case JSON_TRUE:
		return json_true();
	case JSON_FALSE:
		return json_false();
	case JSON_NULL:
	default:
		return json_null();
	}
}

json_t *
redact_json(const json_t *v)
{
	if (v == NULL) {
		errno = EINVAL;
		return NULL;
	}
	return redact_value(v, 0);
}

void
redact_wipe_free(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}
