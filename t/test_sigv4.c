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

static const char *AKID = "AKIDEXAMPLE";
static const char *SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/* 2015-08-30T12:36:00Z, the suite's timestamp */
static const time_t WHEN = 1440938160;

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

/* ---- unit tests, independent of the suite ---- */

static const struct aws_sigv4_header HOST_ONLY[] = {
	{ "Host", "example.amazonaws.com" },
};

static void
base_req(struct aws_sigv4_req *r, const char *method, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->path = path;
	r->headers = HOST_ONLY;
	r->nheaders = 1;
}

static void
base_creds(struct aws_sigv4_creds *c, const char *token)
{
	c->access_key_id = AKID;
	c->secret_access_key = SECRET;
	c->session_token = token;
}

/* Sign; must succeed. */
static void
sign_ok(const struct aws_sigv4_req *r, const struct aws_sigv4_creds *c,
    struct aws_sigv4_out *o)
{
	char err[256];

	ck_assert_msg(aws_sigv4_sign(r, c, "us-east-1", "service", WHEN, o,
	    err, sizeof(err)) == 0, "sign failed: %s", err);
}

/* Line `n` (0-based) of the canonical request, copied into buf. */
static const char *
creq_line(const struct aws_sigv4_out *o, int n, char *buf, size_t len)
{
	const char *p = o->canonical_request, *nl;

	while (n-- > 0) {
		ck_assert_ptr_nonnull(p = strchr(p, '\n'));
		p++;
	}
	nl = strchr(p, '\n');
	snprintf(buf, len, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
	return buf;
}

static char *
encode(const char *s, unsigned flags)
{
	struct buf b;
	char *r;

	buf_init(&b, 1024);
	ck_assert_int_eq(aws_sigv4_encode(&b, s, strlen(s), flags), 0);
	ck_assert_int_eq(buf_append(&b, "", 1), 0);
	r = strdup(buf_data(&b));
	buf_free(&b);
	return r;
}

START_TEST(encode_rules)
{
	char *s;

	s = encode("AZaz09-._~", 0);
	ck_assert_str_eq(s, "AZaz09-._~");
	free(s);
	s = encode("a b/c%20+=&?#\xe1\x88\xb4\x01\xff", 0);
	ck_assert_str_eq(s, "a%20b%2Fc%2520%2B%3D%26%3F%23%E1%88%B4%01%FF");
	free(s);
	s = encode("/a b/c", AWS_SIGV4_KEEP_SLASH);
	ck_assert_str_eq(s, "/a%20b/c");
	free(s);
}
END_TEST

START_TEST(encode_bounded)
{
	struct buf b;

	buf_init(&b, 5);
	errno = 0;
	ck_assert_int_eq(aws_sigv4_encode(&b, "ab c", 4, 0), -1);
	ck_assert_int_eq(errno, ENOBUFS);
	buf_free(&b);
	buf_init(&b, 6);
	ck_assert_int_eq(aws_sigv4_encode(&b, "ab c", 4, 0), 0);
	ck_assert_uint_eq(buf_used(&b), 6);
	ck_assert(memcmp(buf_data(&b), "ab%20c", 6) == 0);
	buf_free(&b);
}
END_TEST

/* The suite's get-vanilla, kept here so the signer is checked even
   without the suite directory. */
START_TEST(known_vector)
{
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;

	base_req(&r, "GET", "/");
	base_creds(&c, NULL);
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(o.signature,
	    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	ck_assert_str_eq(o.amz_date, "20150830T123600Z");
	ck_assert_str_eq(o.headers[0], "X-Amz-Date: 20150830T123600Z");
	ck_assert_str_eq(o.headers[1], "Authorization: AWS4-HMAC-SHA256 "
	    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
	    "SignedHeaders=host;x-amz-date, Signature="
	    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	ck_assert_ptr_null(o.headers[2]);
	aws_sigv4_out_free(&o);
	aws_sigv4_out_free(&o);		/* twice is safe */
}
END_TEST

START_TEST(path_double_encoded_and_s3_verbatim)
{
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;
	char line[256];

	base_creds(&c, NULL);
	base_req(&r, "GET", "/a%20b/./c/../d//e f/");
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(creq_line(&o, 1, line, sizeof(line)),
	    "/a%2520b/d/e%20f/");
	aws_sigv4_out_free(&o);

	r.flags = AWS_SIGV4_NO_NORMALIZE;
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(creq_line(&o, 1, line, sizeof(line)),
	    "/a%2520b/./c/../d//e%20f/");
	aws_sigv4_out_free(&o);

	r.path = "/bucket/key%20name/./x";
	r.flags = AWS_SIGV4_S3;
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(creq_line(&o, 1, line, sizeof(line)),
	    "/bucket/key%20name/./x");
	aws_sigv4_out_free(&o);

	r.path = "/../..";
	r.flags = 0;
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(creq_line(&o, 1, line, sizeof(line)), "/");
	aws_sigv4_out_free(&o);

	r.path = "";
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(creq_line(&o, 1, line, sizeof(line)), "/");
	aws_sigv4_out_free(&o);
}
END_TEST

START_TEST(query_canonical)
{
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;
	char line[256];

	base_creds(&c, NULL);
	base_req(&r, "GET", "/");
	r.query = "b=2&a=1&&a=&c&x=%7e%2f+%2a&k=v=w";
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(creq_line(&o, 2, line, sizeof(line)),
	    "a=&a=1&b=2&c=&k=v%3Dw&x=~%2F%2B%2A");
	aws_sigv4_out_free(&o);
}
END_TEST

START_TEST(session_token_header)
{
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;
	char line[256];

	base_creds(&c, "TOKEN/abc+==");
	base_req(&r, "GET", "/");
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(o.headers[0], "X-Amz-Date: 20150830T123600Z");
	ck_assert_str_eq(o.headers[1], "X-Amz-Security-Token: TOKEN/abc+==");
	ck_assert(strncmp(o.headers[2], "Authorization: ", 15) == 0);
	ck_assert_ptr_null(o.headers[3]);
	ck_assert_str_eq(creq_line(&o, 5, line, sizeof(line)),
	    "x-amz-security-token:TOKEN/abc+==");
	ck_assert_ptr_nonnull(strstr(o.authorization,
	    "SignedHeaders=host;x-amz-date;x-amz-security-token,"));
	aws_sigv4_out_free(&o);

	/* Left out of the signature, still sent. */
	r.flags = AWS_SIGV4_OMIT_TOKEN;
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(o.headers[1], "X-Amz-Security-Token: TOKEN/abc+==");
	ck_assert_ptr_null(strstr(o.canonical_request, "security-token"));
	ck_assert_ptr_nonnull(strstr(o.authorization,
	    "SignedHeaders=host;x-amz-date,"));
	aws_sigv4_out_free(&o);

	/* An empty token is no token. */
	base_creds(&c, "");
	r.flags = 0;
	sign_ok(&r, &c, &o);
	ck_assert(strncmp(o.headers[1], "Authorization: ", 15) == 0);
	aws_sigv4_out_free(&o);
}
END_TEST

START_TEST(content_sha256_header)
{
	static const char hash[] =
	    "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e";
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;
	char line[256];

	base_creds(&c, NULL);
	base_req(&r, "POST", "/");
	r.body = "Param1=value1";
	r.body_len = 13;
	r.flags = AWS_SIGV4_CONTENT_SHA256;
	sign_ok(&r, &c, &o);
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hash);
	ck_assert_str_eq(o.headers[1], line);
	ck_assert(strncmp(o.headers[2], "Authorization: ", 15) == 0);
	snprintf(line, sizeof(line), "\nx-amz-content-sha256:%s\n", hash);
	ck_assert_ptr_nonnull(strstr(o.canonical_request, line));
	snprintf(line, sizeof(line), "\n%s", hash);
	ck_assert_str_eq(o.canonical_request + strlen(o.canonical_request) -
	    strlen(line), line);
	ck_assert_ptr_nonnull(strstr(o.authorization,
	    "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
	aws_sigv4_out_free(&o);

	/* Without the flag the body is hashed but no header added. */
	r.flags = 0;
	sign_ok(&r, &c, &o);
	ck_assert(strncmp(o.headers[1], "Authorization: ", 15) == 0);
	ck_assert_ptr_null(strstr(o.canonical_request, "content-sha256"));
	aws_sigv4_out_free(&o);

	r.payload_hash = AWS_SIGV4_UNSIGNED_PAYLOAD;
	r.flags = AWS_SIGV4_CONTENT_SHA256;
	sign_ok(&r, &c, &o);
	ck_assert_str_eq(o.headers[1],
	    "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	ck_assert_str_eq(o.canonical_request + strlen(o.canonical_request) -
	    17, "\nUNSIGNED-PAYLOAD");
	aws_sigv4_out_free(&o);
}
END_TEST

START_TEST(header_values_canonical)
{
	static const struct aws_sigv4_header h[] = {
		{ "Host", "example.amazonaws.com" },
		{ "X-B", "  two\r\n\t folded   lines  " },
		{ "x-a", "1" },
		{ "X-A", "\t2 " },
		{ "X-Empty", "" },
	};
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;

	base_creds(&c, NULL);
	base_req(&r, "GET", "/");
	r.headers = h;
	r.nheaders = 5;
	sign_ok(&r, &c, &o);
	ck_assert_ptr_nonnull(strstr(o.canonical_request,
	    "\nhost:example.amazonaws.com\nx-a:1,2\nx-amz-date:20150830T123600Z"
	    "\nx-b:two folded lines\nx-empty:\n\n"
	    "host;x-a;x-amz-date;x-b;x-empty\n"));
	aws_sigv4_out_free(&o);
}
END_TEST

/* Sign; must fail with a message containing `want` and never the secret. */
static void
sign_fails(const struct aws_sigv4_req *r, const struct aws_sigv4_creds *c,
    const char *region, time_t when, const char *want)
{
	struct aws_sigv4_out o;
	char err[256];
	size_t i;

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(aws_sigv4_sign(r, c, region, "service", when, &o,
	    err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"",
	    err, want);
	ck_assert_ptr_null(strstr(err, c->secret_access_key));
	ck_assert_ptr_null(o.canonical_request);
	ck_assert_ptr_null(o.authorization);
	for (i = 0; i <= AWS_SIGV4_MAX_ADD; i++)
		ck_assert_ptr_null(o.headers[i]);
	aws_sigv4_out_free(&o);
}

START_TEST(refuses_bad_input)
{
	struct aws_sigv4_header h[AWS_SIGV4_MAX_HEADERS + 1];
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	char *big;
	size_t i;

	base_creds(&c, NULL);
	base_req(&r, "GET", "/");
	r.nheaders = 0;
	sign_fails(&r, &c, "us-east-1", WHEN, "Host header missing");

	h[0] = HOST_ONLY[0];
	h[1].name = "x-amz-date";
	h[1].value = "20150830T123600Z";
	r.headers = h;
	r.nheaders = 2;
	sign_fails(&r, &c, "us-east-1", WHEN,
	    "header x-amz-date is set by the signer");
	h[1].name = "Authorization";
	sign_fails(&r, &c, "us-east-1", WHEN,
	    "header Authorization is set by the signer");
	h[1].name = "X-Amz-Security-Token";
	base_creds(&c, "tok");
	sign_fails(&r, &c, "us-east-1", WHEN,
	    "header X-Amz-Security-Token is set by the signer");
	base_creds(&c, NULL);

	h[1].name = "X-Evil";
	h[1].value = "a\nInjected: yes";
	sign_fails(&r, &c, "us-east-1", WHEN, "line break");
	h[1].value = "a\rb";
	sign_fails(&r, &c, "us-east-1", WHEN, "line break");
	h[1].name = "Bad Name";
	h[1].value = "v";
	sign_fails(&r, &c, "us-east-1", WHEN, "header 1: invalid name");

	for (i = 0; i <= AWS_SIGV4_MAX_HEADERS; i++)
		h[i] = HOST_ONLY[0];
	r.nheaders = AWS_SIGV4_MAX_HEADERS + 1;
	sign_fails(&r, &c, "us-east-1", WHEN, "more than 64 headers");

	big = malloc(AWS_SIGV4_MAX_QUERY + 2);
	memset(big, 'a', AWS_SIGV4_MAX_QUERY + 1);
	big[AWS_SIGV4_MAX_HEADER_VALUE + 1] = '\0';
	h[1].name = "X-Big";
	h[1].value = big;
	r.nheaders = 2;
	sign_fails(&r, &c, "us-east-1", WHEN, "value longer than 16384");
	r.nheaders = 1;
	big[AWS_SIGV4_MAX_HEADER_VALUE + 1] = 'a';
	big[AWS_SIGV4_MAX_PATH + 1] = '\0';
	r.path = big;
	sign_fails(&r, &c, "us-east-1", WHEN, "path longer than 8192");
	r.path = "/";
	big[AWS_SIGV4_MAX_PATH + 1] = 'a';
	big[AWS_SIGV4_MAX_QUERY + 1] = '\0';
	r.query = big;
	sign_fails(&r, &c, "us-east-1", WHEN, "query longer than 65536");
	for (i = 0; i < 2 * AWS_SIGV4_MAX_QUERY_PARAMS + 2; i += 2)
		big[i] = '&';
	big[i] = '\0';
	sign_fails(&r, &c, "us-east-1", WHEN, "more than 1024 parameters");
	free(big);

	r.query = "a=%G0";
	sign_fails(&r, &c, "us-east-1", WHEN, "malformed percent-escape");
	r.query = "a=%4";
	sign_fails(&r, &c, "us-east-1", WHEN, "malformed percent-escape");
	r.query = NULL;

	sign_fails(&r, &c, "us/east", WHEN, "region or service");
	sign_fails(&r, &c, "", WHEN, "region or service");
	sign_fails(&r, &c, "us-east-1", (time_t)-1, "outside years");
	r.method = "GE T";
	sign_fails(&r, &c, "us-east-1", WHEN, "invalid method");
	r.method = "GET";
	r.payload_hash = "abc def";
	sign_fails(&r, &c, "us-east-1", WHEN, "payload_hash");
	r.payload_hash = NULL;
	r.body_len = 3;
	sign_fails(&r, &c, "us-east-1", WHEN, "body_len set without a body");
	r.body_len = 0;

	c.access_key_id = "AKID/X";
	sign_fails(&r, &c, "us-east-1", WHEN, "access key id");
	base_creds(&c, "tok\nen");
	sign_fails(&r, &c, "us-east-1", WHEN, "session token");
}
END_TEST

/* A secret of the maximum length signs (expected signature computed with
   an independent HMAC implementation); one byte more is refused. */
START_TEST(secret_bound)
{
	char secret[AWS_SIGV4_MAX_SECRET + 2];
	struct aws_sigv4_creds c;
	struct aws_sigv4_req r;
	struct aws_sigv4_out o;

	memset(secret, 'k', sizeof(secret) - 1);
	secret[AWS_SIGV4_MAX_SECRET] = '\0';
	base_req(&r, "GET", "/");
	base_creds(&c, NULL);
	c.secret_access_key = secret;
	sign_ok(&r, &c, &o);
	/* "AWS4" + secret is longer than an HMAC block: hashed first. */
	ck_assert_str_eq(o.signature,
	    "4f5c9bedb3a906601ef9b6e9072ce1e28c4c01bd4c202a2fab3463692d9f62b3");
	aws_sigv4_out_free(&o);
	secret[AWS_SIGV4_MAX_SECRET] = 'k';
	secret[AWS_SIGV4_MAX_SECRET + 1] = '\0';
	sign_fails(&r, &c, "us-east-1", WHEN, "secret access key");
}
END_TEST

int
main(void)
{
	TCase *tc;
	Suite *s;
	int failed, i;

	load_case_list();
	s = suite_create("sigv4");
	tc = tcase_create("aws-suite");
	tcase_add_test(tc, suite_present);
	tcase_add_loop_test(tc, suite_case, 0, ncases);
	suite_add_tcase(s, tc);
	tc = tcase_create("unit");
	tcase_add_test(tc, encode_rules);
	tcase_add_test(tc, encode_bounded);
	tcase_add_test(tc, known_vector);
	tcase_add_test(tc, path_double_encoded_and_s3_verbatim);
	tcase_add_test(tc, query_canonical);
	tcase_add_test(tc, session_token_header);
	tcase_add_test(tc, content_sha256_header);
	tcase_add_test(tc, header_values_canonical);
	tcase_add_test(tc, refuses_bad_input);
	tcase_add_test(tc, secret_bound);
	suite_add_tcase(s, tc);
	failed = t_run(s);
	for (i = 0; i < ncases; i++)
		free(cases[i]);
	return failed;
}
