#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "aws/sigv4.h"
#include "testutil.h"

/*
 * The AWS SigV4 test suite's 38 cases, read in place from
 * $AFU9_SIGV4_SUITE (default ../shared/testdata/aws-sigv4-suite/v4 beside
 * the source tree).  Where it is absent the whole program is skipped with
 * a TAP "1..0 # SKIP" line, unless AFU9_REQUIRE_SHARED=1 (CI), which makes
 * the absence a failure.
 */

#define SUITE_CASES	38
#define MAX_CASES	256

/*
 * The AWS SigV4 test suite (aws-c-auth's v4 directory): one directory per
 * case holding request.txt, context.json and the expected outputs.
 */
static char	 suite_dir[4096];
static char	*cases[MAX_CASES];
static int	 ncases;
static char	 suite_error[4096 + 512];

/* out = a "/" b; the test fails on a path too long. */
static void
join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	ck_assert_msg(n >= 0 && (size_t)n < len, "path too long: %s/%s", a, b);
}

static int
case_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fill cases[] from the suite directory; on trouble set suite_error. */
static void
load_case_list(void)
{
	const char *env = getenv("AFU9_SIGV4_SUITE");
	char path[4600];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(suite_dir, sizeof(suite_dir), "%s", env && *env ? env :
	    t_srcdir("../shared/testdata/aws-sigv4-suite/v4"));
	if ((d = opendir(suite_dir)) == NULL) {
		snprintf(suite_error, sizeof(suite_error), "AWS SigV4 test "
		    "suite not found at %s (%s); set AFU9_SIGV4_SUITE to its "
		    "v4 directory", suite_dir, strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL && ncases < MAX_CASES) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/request.txt", suite_dir,
		    de->d_name);
		if (stat(path, &st) == 0)
			cases[ncases++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(cases, (size_t)ncases, sizeof(cases[0]), case_cmp);
}

/* Whole file, NUL-terminated, malloc'd; NULL if unreadable. */
static char *
slurp(const char *dir, const char *name, size_t *lenp)
{
	char path[4600], *s = NULL;
	size_t n = 0, cap = 0, r;
	FILE *f;

	join(path, sizeof(path), dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	do {
		if (cap - n < 4097) {
			cap = cap ? cap * 2 : 8192;
			s = realloc(s, cap);
			ck_assert_ptr_nonnull(s);
		}
		r = fread(s + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	s[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return s;
}

/* A request.txt, parsed; every string points into `text`. */
struct http_req {
	char			*text;
	char			*method;
	char			*path;
	char			*query;
	struct aws_sigv4_header	 hdr[AWS_SIGV4_MAX_HEADERS];
	size_t			 nhdr;
	char			*body;
	size_t			 body_len;
};

/* Cut the next line from *p (the suite's files end lines with LF);
   NULL at the end. */
static char *
next_line(char **p, char *end)
{
	char *line = *p, *nl;

	if (line >= end)
		return NULL;
	if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
		nl = end;
	*p = nl < end ? nl + 1 : end;
	*nl = '\0';
	return line;
}

/*
 * Request line "METHOD target HTTP/1.1" (the target may hold spaces, as in
 * get-space-*), header lines with continuation lines (leading space or
 * tab) kept in the value after a '\n', an empty line, then the body.
 */
static void
parse_request(struct http_req *r, char *text, size_t len, const char *name)
{
	char *p = text, *end = text + len, *line, *sp, *colon, *prev;

	memset(r, 0, sizeof(*r));
	r->text = text;
	line = next_line(&p, end);
	ck_assert_msg(line != NULL, "%s: empty request.txt", name);
	sp = strchr(line, ' ');
	prev = strrchr(line, ' ');
	ck_assert_msg(sp != NULL && prev > sp, "%s: bad request line", name);
	*sp = '\0';
	*prev = '\0';
	r->method = line;
	r->path = sp + 1;
	if ((r->query = strchr(r->path, '?')) != NULL)
		*r->query++ = '\0';
	while ((line = next_line(&p, end)) != NULL && *line != '\0') {
		if (*line == ' ' || *line == '\t') {
			ck_assert_msg(r->nhdr > 0, "%s: continuation first",
			    name);
			/* Undo the cut: the value runs on over the line end. */
			prev = (char *)r->hdr[r->nhdr - 1].value;
			prev[strlen(prev)] = '\n';
			continue;
		}
		colon = strchr(line, ':');
		ck_assert_msg(colon != NULL, "%s: header without ':'", name);
		ck_assert_msg(r->nhdr < AWS_SIGV4_MAX_HEADERS, "%s: headers",
		    name);
		*colon = '\0';
		r->hdr[r->nhdr].name = line;
		r->hdr[r->nhdr++].value = colon + 1;
	}
	r->body = p;
	r->body_len = (size_t)(end - p);
}

struct context {
	json_t		*root;
	const char	*akid, *secret, *token, *region, *service;
	time_t		 when;
	unsigned	 flags;
};

static void
parse_context(struct context *c, const char *dir, const char *name)
{
	json_t *cr;
	json_error_t je;
	char path[4600];
	const char *ts;
	struct tm tm;
	char *rest;

	memset(c, 0, sizeof(*c));
	join(path, sizeof(path), dir, "context.json");
	c->root = json_load_file(path, 0, &je);
	ck_assert_msg(c->root != NULL, "%s: context.json: %s", name, je.text);
	cr = json_object_get(c->root, "credentials");
	c->akid = json_string_value(json_object_get(cr, "access_key_id"));
	c->secret = json_string_value(json_object_get(cr,
	    "secret_access_key"));
	c->token = json_string_value(json_object_get(cr, "token"));
	c->region = json_string_value(json_object_get(c->root, "region"));
	c->service = json_string_value(json_object_get(c->root, "service"));
	ts = json_string_value(json_object_get(c->root, "timestamp"));
	ck_assert_msg(c->akid && c->secret && c->region && c->service && ts,
	    "%s: context.json lacks a field", name);
	memset(&tm, 0, sizeof(tm));
	rest = strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	ck_assert_msg(rest != NULL && *rest == '\0', "%s: timestamp %s",
	    name, ts);
	c->when = timegm(&tm);
	if (json_is_false(json_object_get(c->root, "normalize")))
		c->flags |= AWS_SIGV4_NO_NORMALIZE;
	if (json_is_true(json_object_get(c->root, "sign_body")))
		c->flags |= AWS_SIGV4_CONTENT_SHA256;
	if (json_is_true(json_object_get(c->root, "omit_session_token")))
		c->flags |= AWS_SIGV4_OMIT_TOKEN;
}

/* Value of the first "Name:value" line in a signed request, or NULL. */
static char *
signed_header(char *text, const char *name)
{
	size_t n = strlen(name);
	char *p = text, *nl;

	while (*p != '\0' && *p != '\n') {
		nl = strchr(p, '\n');
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			if (nl != NULL)
				*nl = '\0';
			return p + n + 1;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return NULL;
}

static int
has_line(struct aws_sigv4_out *o, const char *line)
{
	size_t i;

	for (i = 0; o->headers[i] != NULL; i++)
		if (strcmp(o->headers[i], line) == 0)
			return 1;
	return 0;
}

static void
expect_eq(const char *name, const char *what, const char *want,
    const char *got)
{
	ck_assert_msg(want != NULL, "%s: expected-output file %s missing",
	    name, what);
	ck_assert_msg(strcmp(want, got) == 0, "%s: %s differs\n--- expected"
	    "\n%s\n--- got\n%s\n---", name, what, want, got);
}

START_TEST(suite_case)
{
	const char *name;
	char dir[4600], err[256], line[20000];
	char *want_creq, *want_sts, *want_sig, *signed_req, *text, *v;
	struct aws_sigv4_creds cr;
	struct aws_sigv4_req rq;
	struct aws_sigv4_out out;
	struct http_req hr;
	struct context c;
	size_t len;

	ck_assert_msg(_i < ncases, "no case %d", _i);
	name = cases[_i];
	join(dir, sizeof(dir), suite_dir, name);
	text = slurp(dir, "request.txt", &len);
	ck_assert_msg(text != NULL, "%s: request.txt unreadable", name);
	parse_request(&hr, text, len, name);
	parse_context(&c, dir, name);

	memset(&rq, 0, sizeof(rq));
	rq.method = hr.method;
	rq.path = hr.path;
	rq.query = hr.query;
	rq.headers = hr.hdr;
	rq.nheaders = hr.nhdr;
	rq.body = hr.body;
	rq.body_len = hr.body_len;
	rq.flags = c.flags;
	cr.access_key_id = c.akid;
	cr.secret_access_key = c.secret;
	cr.session_token = c.token;
	ck_assert_msg(aws_sigv4_sign(&rq, &cr, c.region, c.service, c.when,
	    &out, err, sizeof(err)) == 0, "%s: sign failed: %s", name, err);

	want_creq = slurp(dir, "header-canonical-request.txt", NULL);
	want_sts = slurp(dir, "header-string-to-sign.txt", NULL);
	want_sig = slurp(dir, "header-signature.txt", NULL);
	signed_req = slurp(dir, "header-signed-request.txt", NULL);
	expect_eq(name, "header-canonical-request.txt", want_creq,
	    out.canonical_request);
	expect_eq(name, "header-string-to-sign.txt", want_sts,
	    out.string_to_sign);
	expect_eq(name, "header-signature.txt", want_sig, out.signature);

	/* The headers to add match the suite's signed request. */
	ck_assert_msg(signed_req != NULL, "%s: no signed request", name);
	v = signed_header(signed_req, "Authorization");
	ck_assert_msg(v != NULL, "%s: no Authorization line", name);
	expect_eq(name, "Authorization", v, out.authorization);
	snprintf(line, sizeof(line), "Authorization: %s", v);
	ck_assert_msg(has_line(&out, line), "%s: %s not added", name, line);
	free(signed_req);
	signed_req = slurp(dir, "header-signed-request.txt", NULL);
	if ((v = signed_header(signed_req, "X-Amz-Security-Token")) != NULL) {
		snprintf(line, sizeof(line), "X-Amz-Security-Token: %s", v);
		ck_assert_msg(has_line(&out, line), "%s: token not added",
		    name);
	} else
		ck_assert_msg(c.token == NULL, "%s: token unexpected", name);

	free(want_creq);
	free(want_sts);
	free(want_sig);
	free(signed_req);
	aws_sigv4_out_free(&out);
	json_decref(c.root);
	free(text);
}
END_TEST

START_TEST(suite_present)
{
	ck_assert_msg(suite_error[0] == '\0', "%s", suite_error);
	ck_assert_msg(ncases == SUITE_CASES, "AWS SigV4 test suite at %s: "
	    "%d cases found, want %d", suite_dir, ncases, SUITE_CASES);
}
END_TEST

int
main(void)
{
	TCase *tc;
	Suite *s;
	int failed, i;

	load_case_list();
	if (suite_error[0] != '\0' && !t_shared_data(suite_error))
		return 0;
	s = suite_create("sigv4-suite");
	tc = tcase_create("aws-suite");
	tcase_add_test(tc, suite_present);
	tcase_add_loop_test(tc, suite_case, 0, ncases);
	suite_add_tcase(s, tc);
	failed = t_run(s);
	for (i = 0; i < ncases; i++)
		free(cases[i]);
	return failed;
}
