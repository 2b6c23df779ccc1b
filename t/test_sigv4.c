#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "aws/sigv4.h"
#include "testutil.h"

/*
 * SigV4 signing checks that need no outside data: encoding rules, bounds,
 * one known vector, refusals.  The AWS test suite's 38 cases are in
 * t/test_sigv4_suite.c.
 */

static const char *AKID = "AKIDEXAMPLE";
static const char *SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/* 2015-08-30T12:36:00Z, the suite's timestamp */
static const time_t WHEN = 1440938160;

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

	s = suite_create("sigv4");
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
	return t_run(s);
}
