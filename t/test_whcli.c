/*
 * `afu9 webhooks redeliver` against a scripted GitHub (t/faultserver.py):
 * pages followed by their Link header and no further than --since, a
 * failed delivery whose event was later delivered OK skipped, one
 * redelivery per event, the oldest first, --dry-run asking nothing,
 * GitHub's refusals (rate limit, 5xx, 401, a refused attempt, a page
 * that is not a list) with their exit status, the token in no output,
 * and every malformed argument refused before any request.  With a
 * throwaway PostgreSQL (t/pgtest.h): a delivery afu9 recorded is not
 * redelivered, and `afu9 webhooks list` (order, --outcome, --since,
 * --limit and --after, --json, refusals).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <jansson.h>

#include "faultclient.h"
#include "orchtest.h"
#include "pgquery.h"
#include "pgtest.h"
#include "testutil.h"

#define TOKEN	"tok-Wh7Qx2Lp-whcli"
#define HOOK	"/repos/acme/shop/hooks/42"

static char tmpdir[] = "/tmp/afu9-whcli-XXXXXX";
static struct pgtest *pg;

#define RUN(out, err, ...) ot_run_afu9((const char *const []){ __VA_ARGS__, \
	    NULL }, out, err)

/* Exit status st, msg in stderr, and no request reached "GitHub". */
#define REFUSED(st, msg, ...) do {					\
	char *o_, *e_;							\
	int s_ = RUN(&o_, &e_, __VA_ARGS__);				\
	ck_assert_msg(s_ == (st), "status %d (want %d): %s%s", s_, (st),\
	    o_, e_);							\
	ck_assert_msg(strstr(e_, (msg)), "want '%s' in: %s", (msg), e_); \
	ck_assert_int_eq(fc_count(), 0);				\
	free(o_);							\
	free(e_);							\
} while (0)

static void
env_up(void)
{
	fc_reset();
	setenv("GITHUB_TOKEN", TOKEN, 1);
	setenv("GITHUB_API_URL", fc_base(), 1);
	setenv("AFU9_GITHUB_RETRY_BASE_MS", "1", 1);
	setenv("AFU9_LOG_LEVEL", "warn", 1);
	unsetenv("GITHUB_TOKEN_FILE");
	unsetenv("DATABASE_URL");
	unsetenv("AFU9_CONFIG");
}

static void
pg_up(void)
{
	pg = pgt_start_db(NULL);
}

static void
pg_down(void)
{
	pgt_stop(pg);
	pg = NULL;
}

/* A fresh, migrated database that DATABASE_URL names; its conninfo. */
static char *
use_db(const char *db)
{
	char *ci = pgt_use_db(pg, db), *out, *err;

	ck_assert_msg(RUN(&out, &err, "migrate") == 0, "%s", err);
	free(out);
	free(err);
	return ci;
}

/* One delivery as GitHub lists it (a new reference). */
static json_t *
dl(long long id, const char *guid, const char *at, int code,
    const char *status, int redelivery)
{
	return json_pack("{s:I, s:s, s:s, s:b, s:f, s:s, s:i, s:s, s:s, "
	    "s:I, s:n}", "id", (json_int_t)id, "guid", guid, "delivered_at",
	    at, "redelivery", redelivery, "duration", 0.03, "status", status,
	    "status_code", code, "event", "issues", "action", "labeled",
	    "repository_id", (json_int_t)1296269, "installation_id");
}

/* Answer GET target with 200 and body (stolen); link: the Link header's
   next target under the server, or NULL. */
static void
page(const char *target, json_t *body, const char *link)
{
	json_t *spec = json_pack("{s:i, s:o, s:{s:s, s:s}}", "status", 200,
	    "json", body, "match", "method", "GET", "path", target);
	char v[512];

	if (link != NULL) {
		snprintf(v, sizeof(v), "<%s%s>; rel=\"next\", <%s%s>; "
		    "rel=\"first\"", fc_base(), link, fc_base(), target);
		json_object_set_new(spec, "headers", json_pack("{s:s}", "Link",
		    v));
	}
	fc_push(spec);
}

/* Every POST of an attempt answered 202 {} (GitHub's answer). */
static void
attempts_accepted(void)
{
	fc_push(json_pack("{s:i, s:{}, s:i, s:{s:s, s:s}}", "status", 202,
	    "json", "times", 0, "match", "method", "POST", "prefix",
	    HOOK "/deliveries/"));
}

/* The target of recorded request n, and its method. */
static const char *
target(const json_t *reqs, size_t n, const char **method)
{
	const json_t *r = json_array_get(reqs, n);

	ck_assert_ptr_nonnull(r);
	*method = json_string_value(json_object_get(r, "method"));
	return json_string_value(json_object_get(r, "target"));
}

static void
assert_req(const json_t *reqs, size_t n, const char *method,
    const char *want)
{
	const char *m, *t = target(reqs, n, &m);

	ck_assert_msg(strcmp(m, method) == 0 && strcmp(t, want) == 0,
	    "request %zu: %s %s, want %s %s", n, m, t, method, want);
}

/*
 * Newest first, as GitHub lists: 10 (A, OK: a redelivery of 3), 9 (B
 * failed again), 8 (C, OK); page 2: 7 (D, no answer), 6 (B, 502), 3 (A,
 * 500), 2 (E, failed but before --since), and a next link that must not
 * be followed.
 */
static void
script_two_pages(void)
{
	page(HOOK "/deliveries?per_page=100", json_pack("[o, o, o]",
	    dl(10, "guid-a", "2025-06-01T10:10:00Z", 200, "OK", 1),
	    dl(9, "guid-b", "2025-06-01T10:09:00Z", 503,
	    "Invalid HTTP Response: 503", 1),
	    dl(8, "guid-c", "2025-06-01T10:08:00Z", 200, "OK", 0)),
	    HOOK "/deliveries?per_page=100&cursor=v1_8");
	page(HOOK "/deliveries?per_page=100&cursor=v1_8", json_pack(
	    "[o, o, o, o]",
	    dl(7, "guid-d", "2025-06-01T10:07:00Z", 0, "failed to connect",
	    0),
	    dl(6, "guid-b", "2025-06-01T10:06:00Z", 502,
	    "Invalid HTTP Response: 502", 0),
	    dl(3, "guid-a", "2025-06-01T10:03:00Z", 500,
	    "Invalid HTTP Response: 500", 0),
	    dl(2, "guid-e", "2025-05-31T23:00:00Z", 500,
	    "Invalid HTTP Response: 500", 0)),
	    HOOK "/deliveries?per_page=100&cursor=v1_2");
	page(HOOK "/deliveries?per_page=100&cursor=v1_2", json_pack("[o]",
	    dl(1, "guid-f", "2025-05-30T23:00:00Z", 500, "x", 0)), NULL);
}

static void
no_token_in(const char *out, const char *err)
{
	ck_assert_msg(strstr(out, TOKEN) == NULL && strstr(err, TOKEN) ==
	    NULL, "the token was printed: %s%s", out, err);
}

/* Run redeliver for acme/shop hook 42 since 2025-06-01; its status. */
static int
redeliver(char **out, char **err)
{
	return RUN(out, err, "webhooks", "redeliver", "--failed", "--since",
	    "2025-06-01T00:00:00Z", "--repo", "acme/shop", "--hook", "42");
}

START_TEST(pages_skips_and_redelivers)
{
	json_t *reqs, *r;
	char *out, *err;
	int st;

	env_up();
	script_two_pages();
	attempts_accepted();
	st = redeliver(&out, &err);
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	reqs = fc_requests();
	ck_assert_msg(json_array_size(reqs) == 4, "%zu requests: %s",
	    json_array_size(reqs), out);
	assert_req(reqs, 0, "GET", HOOK "/deliveries?per_page=100");
	assert_req(reqs, 1, "GET", HOOK "/deliveries?per_page=100&cursor=v1_8");
	/* B once (its older attempt), then D: in the order they happened */
	assert_req(reqs, 2, "POST", HOOK "/deliveries/6/attempts");
	assert_req(reqs, 3, "POST", HOOK "/deliveries/7/attempts");
	r = json_array_get(reqs, 2);
	fc_assert_header(r, "Authorization", "Bearer " TOKEN);
	fc_assert_header(r, "X-GitHub-Api-Version", "2022-11-28");
	ck_assert_msg(strstr(out, "skipped         3  guid-a  "
	    "2025-06-01T10:03:00Z  issues.labeled  (was 500 Invalid HTTP "
	    "Response: 500): delivered OK as delivery 10\n"), "%s", out);
	ck_assert_msg(strstr(out, "redelivered     6  guid-b"), "%s", out);
	ck_assert_msg(strstr(out, "redelivered     7  guid-d  "
	    "2025-06-01T10:07:00Z  issues.labeled  (was failed to connect)"),
	    "%s", out);
	ck_assert_msg(strstr(out, "skipped         9  guid-b  "
	    "2025-06-01T10:09:00Z  issues.labeled  (was 503 Invalid HTTP "
	    "Response: 503): the same event as delivery 6\n"), "%s", out);
	ck_assert_msg(strstr(out, "guid-e") == NULL, "%s", out);
	ck_assert_msg(strstr(out, "4 failed: 2 redelivered, 2 skipped, 0 "
	    "refused, 0 not tried\n"), "%s", out);
	no_token_in(out, err);
	json_decref(reqs);
	free(out);
	free(err);

	/* the organization's hook: the same, under /orgs */
	fc_reset();
	page("/orgs/acme/hooks/7/deliveries?per_page=100", json_pack("[o]",
	    dl(5, "guid-g", "2025-06-01T10:00:00Z", 401, "Invalid HTTP "
	    "Response: 401", 0)), NULL);
	fc_push(json_pack("{s:i, s:{}, s:{s:s, s:s}}", "status", 202, "json",
	    "match", "method", "POST", "path",
	    "/orgs/acme/hooks/7/deliveries/5/attempts"));
	st = RUN(&out, &err, "webhooks", "redeliver", "--failed", "--since",
	    "2025-06-01T00:00:00Z", "--org", "acme", "--hook", "7");
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 2);
	ck_assert_msg(strstr(out, "1 failed: 1 redelivered"), "%s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(dry_run_asks_nothing)
{
	char *out, *err;
	int st;

	env_up();
	script_two_pages();
	attempts_accepted();
	st = RUN(&out, &err, "webhooks", "redeliver", "--failed", "--since",
	    "2025-06-01T00:00:00Z", "--repo", "acme/shop", "--hook", "42",
	    "--dry-run");
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 2);
	ck_assert_msg(strstr(out, "would redeliver 6  guid-b"), "%s", out);
	ck_assert_msg(strstr(out, "would redeliver 7  guid-d"), "%s", out);
	ck_assert_msg(strstr(out, "2 to redeliver (dry run: nothing asked), "
	    "2 skipped\n"), "%s", out);
	free(out);
	free(err);

	/* nothing failed: nothing to do, 0 */
	fc_reset();
	page(HOOK "/deliveries?per_page=100", json_pack("[o]", dl(8,
	    "guid-c", "2025-06-01T10:08:00Z", 200, "OK", 0)), NULL);
	st = redeliver(&out, &err);
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 1);
	ck_assert_msg(strstr(out, "0 failed: 0 redelivered"), "%s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(github_refusals)
{
	char *out, *err, reset[32];
	int st;

	env_up();
	/* the primary rate limit: not retried, said when it resets */
	snprintf(reset, sizeof(reset), "%lld", (long long)time(NULL) + 1800);
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s, s:s, s:s, s:s}}", "status",
	    429, "json", "message", "API rate limit exceeded", "headers",
	    "x-ratelimit-limit", "5000", "x-ratelimit-remaining", "0",
	    "x-ratelimit-used", "5000", "x-ratelimit-reset", reset));
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 1);
	ck_assert_msg(strstr(err, "listing the deliveries of hook 42 of "
	    "acme/shop: ") && strstr(err, "rate limit"), "%s", err);
	ck_assert_str_eq(out, "");
	free(out);
	free(err);

	/* 5xx: retried, then a clear error */
	fc_reset();
	fc_push(json_pack("{s:i, s:{s:s}, s:i}", "status", 503, "json",
	    "message", "unavailable", "times", 0));
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 3);
	ck_assert_msg(strstr(err, "503"), "%s", err);
	free(out);
	free(err);

	/* the token refused */
	fc_reset();
	fc_push(json_pack("{s:i, s:{s:s}}", "status", 401, "json", "message",
	    "Bad credentials"));
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 1);
	no_token_in(out, err);
	free(out);
	free(err);

	/* not a list; a delivery without a guid */
	fc_reset();
	page(HOOK "/deliveries?per_page=100", json_pack("{s:s}", "message",
	    "hm"), NULL);
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1 && strstr(err, "is not a list of deliveries"),
	    "status %d: %s", st, err);
	free(out);
	free(err);
	fc_reset();
	page(HOOK "/deliveries?per_page=100", json_pack("[{s:i, s:s}]", "id",
	    4, "delivered_at", "2025-06-01T10:00:00Z"), NULL);
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1 && strstr(err, "delivery 1 of page 1: no guid"),
	    "status %d: %s", st, err);
	ck_assert_int_eq(fc_count(), 1);
	free(out);
	free(err);

	/* one attempt refused (422), one failing with a 5xx (a POST is not
	   retried): both lines, the third still asked for, status 1 */
	fc_reset();
	page(HOOK "/deliveries?per_page=100", json_pack("[o, o, o]",
	    dl(13, "guid-j", "2025-06-01T10:13:00Z", 500, "x", 0),
	    dl(12, "guid-i", "2025-06-01T10:12:00Z", 500, "x", 0),
	    dl(11, "guid-h", "2025-06-01T10:11:00Z", 500,
	    "x\033[2J\302\233\a", 0)), NULL);
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s, s:s}}", "status", 422,
	    "json", "message", "Validation Failed", "match", "method", "POST",
	    "path", HOOK "/deliveries/11/attempts"));
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s, s:s}}", "status", 502,
	    "json", "message", "Server Error", "match", "method", "POST",
	    "path", HOOK "/deliveries/12/attempts"));
	attempts_accepted();
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 4);
	ck_assert_msg(strstr(out, "refused         11  guid-h"), "%s", out);
	/* GitHub's status text: escaped, nothing a terminal acts on */
	ck_assert_msg(strstr(out, "(was 500 x\\x1b[2J\\u009b\\x07)"), "%s",
	    out);
	ck_assert(strchr(out, '\033') == NULL && strchr(out, '\a') == NULL &&
	    strstr(out, "\302\233") == NULL);
	ck_assert_msg(strstr(out, "refused         12  guid-i"), "%s", out);
	ck_assert_msg(strstr(out, "redelivered     13  guid-j"), "%s", out);
	ck_assert_msg(strstr(out, "1 redelivered, 0 skipped, 2 refused, 0 "
	    "not tried"), "%s", out);
	free(out);
	free(err);

	/* a rate limit on an attempt stops the rest */
	fc_reset();
	page(HOOK "/deliveries?per_page=100", json_pack("[o, o]",
	    dl(12, "guid-i", "2025-06-01T10:12:00Z", 500, "x", 0),
	    dl(11, "guid-h", "2025-06-01T10:11:00Z", 500, "x", 0)), NULL);
	fc_push(json_pack("{s:i, s:{s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s}}",
	    "status", 403, "json", "message", "API rate limit exceeded",
	    "headers", "x-ratelimit-limit", "5000", "x-ratelimit-remaining",
	    "0", "x-ratelimit-used", "5000", "x-ratelimit-reset", reset,
	    "match", "method", "POST"));
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 2);
	ck_assert_msg(strstr(out, "not tried       12  guid-i"), "%s", out);
	ck_assert_msg(strstr(out, "0 redelivered, 0 skipped, 1 refused, 1 "
	    "not tried"), "%s", out);
	free(out);
	free(err);
}
END_TEST

START_TEST(arguments_refused)
{
	env_up();
#define RD(...) "webhooks", "redeliver", "--failed", "--repo", "acme/shop", \
	"--hook", "42", __VA_ARGS__
	REFUSED(2, "--since yesterday: not a time", RD("--since",
	    "yesterday"));
	REFUSED(2, "--since 24x: not a time", RD("--since", "24x"));
	REFUSED(2, "--since 0h: not a time", RD("--since", "0h"));
	REFUSED(2, "--since 3651d: not a time", RD("--since", "3651d"));
	REFUSED(2, "not a time", RD("--since", "2025-13-01T00:00:00Z"));
	REFUSED(2, "not a time", RD("--since", "2025-06-01T00:00:00"));
	REFUSED(2, "not a time", RD("--since", ""));
	REFUSED(2, "that is in the future", RD("--since",
	    "2999-01-01T00:00:00Z"));
	REFUSED(2, "--since is required", "webhooks", "redeliver", "--failed",
	    "--repo", "acme/shop", "--hook", "42");
	REFUSED(2, "--failed is required", "webhooks", "redeliver", "--since",
	    "24h", "--repo", "acme/shop", "--hook", "42");
	REFUSED(2, "--app: a GitHub App's hook deliveries", "webhooks",
	    "redeliver", "--failed", "--since", "24h", "--app");
	REFUSED(2, "--repo acme: not OWNER/REPO", "webhooks", "redeliver",
	    "--failed", "--since", "24h", "--repo", "acme", "--hook", "1");
	REFUSED(2, "not OWNER/REPO", "webhooks", "redeliver", "--failed",
	    "--since", "24h", "--repo", "acme/sh op", "--hook", "1");
	REFUSED(2, "not OWNER/REPO", "webhooks", "redeliver", "--failed",
	    "--since", "24h", "--repo", "acme/..", "--hook", "1");
	REFUSED(2, "one of them", "webhooks", "redeliver", "--failed",
	    "--since", "24h", "--repo", "acme/shop", "--org", "acme",
	    "--hook", "1");
	REFUSED(2, "one of them", "webhooks", "redeliver", "--failed",
	    "--since", "24h", "--hook", "1");
	REFUSED(2, "--hook abc: the hook's id is required", "webhooks",
	    "redeliver", "--failed", "--since", "24h", "--repo", "acme/shop",
	    "--hook", "abc");
	REFUSED(2, "the hook's id is required", "webhooks", "redeliver",
	    "--failed", "--since", "24h", "--repo", "acme/shop");
	REFUSED(2, "usage:", "webhooks", "redeliver", "--failed", "--since");
	REFUSED(2, "usage:", "webhooks", "redeliver", "--nope");
	REFUSED(2, "usage:", "webhooks");
	REFUSED(2, "usage:", "webhooks", "frobnicate");
	setenv("GITHUB_API_URL", "ftp://example.com", 1);
	REFUSED(2, "GITHUB_API_URL is not usable", RD("--since", "24h"));
	setenv("GITHUB_API_URL", fc_base(), 1);
	unsetenv("GITHUB_TOKEN");
	REFUSED(2, "GITHUB_TOKEN (or GITHUB_TOKEN_FILE) is not set",
	    RD("--since", "24h"));
	setenv("GITHUB_TOKEN", "has blanks in it", 1);
	REFUSED(2, "GITHUB_TOKEN (or GITHUB_TOKEN_FILE) is not set",
	    RD("--since", "24h"));
#undef RD
}
END_TEST

START_TEST(recorded_deliveries_skipped)
{
	char *ci, *out, *err;
	int st;

	env_up();
	ci = use_db("recorded");
	/* D reached afu9 after GitHub gave up on it */
	q_do(ci, "INSERT INTO webhook_events (delivery_id, event, action, "
	    "repository, hook_id, payload_bytes, processed_at, outcome, "
	    "detail) VALUES ('guid-d', 'issues', 'labeled', 'acme/shop', 42, "
	    "100, now(), 'started', 'rule 0')");
	script_two_pages();
	attempts_accepted();
	st = redeliver(&out, &err);
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 3);
	ck_assert_msg(strstr(out, "skipped         7  guid-d  "
	    "2025-06-01T10:07:00Z  issues.labeled  (was failed to connect): "
	    "recorded by afu9 already (outcome started)\n"), "%s", out);
	ck_assert_msg(strstr(out, "1 redelivered, 3 skipped"), "%s", out);
	free(out);
	free(err);

	/* a table that cannot be read: nothing redelivered */
	fc_reset();
	script_two_pages();
	attempts_accepted();
	setenv("DATABASE_URL", "host=/nonexistent dbname=x", 1);
	st = redeliver(&out, &err);
	ck_assert_msg(st == 1, "status %d: %s%s", st, out, err);
	ck_assert_int_eq(fc_count(), 2);
	ck_assert_msg(strstr(err, "unset DATABASE_URL to redeliver without"),
	    "%s", err);
	free(out);
	free(err);

	/* nothing failed: the table is not asked */
	fc_reset();
	page(HOOK "/deliveries?per_page=100", json_pack("[o]", dl(8,
	    "guid-c", "2025-06-01T10:08:00Z", 200, "OK", 0)), NULL);
	st = redeliver(&out, &err);
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_msg(strstr(out, "0 failed: 0 redelivered"), "%s", out);
	free(out);
	free(err);
	free(ci);
}
END_TEST

/* The offset of needle in hay; fails when absent. */
static size_t
at(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	ck_assert_msg(p != NULL, "want '%s' in: %s", needle, hay);
	return (size_t)(p - hay);
}

START_TEST(list_deliveries)
{
	char *ci, *out, *err, cursor[128];
	const char *c;
	json_t *v;
	json_error_t je;
	int st;

	env_up();
	ci = use_db("listing");
	q_do(ci, "INSERT INTO webhook_events (delivery_id, event, action, "
	    "repository, hook_id, payload_bytes, received_at, processed_at, "
	    "outcome, detail) VALUES "
	    "('d-old', 'issues', 'labeled', 'acme/shop', 42, 10, "
	    "now() - interval '3 hours', now(), 'failed', "
	    "'rule 0: no workflow \"x\"'), "
	    "('d-mid', 'pull_request', 'closed', 'acme/shop', 42, 10, "
	    "now() - interval '1 hour', now(), 'started', "
	    "'rule 1: deploy started')");
	q_do(ci, "INSERT INTO webhook_events (delivery_id, event, hook_id, "
	    "payload_bytes, payload, received_at) VALUES ('d-new', 'ping', "
	    "NULL, 2, '{}', now() - interval '1 minute')");
	/* what a payload or a row may carry, shown escaped */
	q_do(ci, "INSERT INTO webhook_events (delivery_id, event, action, "
	    "repository, hook_id, payload_bytes, received_at, processed_at, "
	    "outcome, detail) VALUES ('d-esc', 'issues', E'opened\\033[2J', "
	    "E'acme/\\007shop', 42, 10, now() - interval '4 hours', now(), "
	    "'ignored', E'red \\033[31m \\u009b tab\\there\\r\\nnext')");

	st = RUN(&out, &err, "webhooks", "list");
	ck_assert_msg(st == 0, "status %d: %s%s", st, out, err);
	ck_assert_msg(strncmp(out, "RECEIVED ", 9) == 0, "%s", out);
	ck_assert(at(out, "d-new") < at(out, "d-mid"));
	ck_assert(at(out, "d-mid") < at(out, "d-old"));
	at(out, "pull_request.closed");
	at(out, "pending");
	at(out, "rule 0: no workflow \"x\"\n");
	at(out, "issues.opened\\x1b[2J  acme/\\x07shop");
	at(out, "red \\x1b[31m \\u009b tab\\there\\r\\nnext\n");
	ck_assert(strchr(out, '\033') == NULL && strchr(out, '\a') == NULL &&
	    strchr(out, '\t') == NULL && strchr(out, '\r') == NULL &&
	    strstr(out, "\302\233") == NULL);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);

	st = RUN(&out, &err, "webhooks", "list", "--outcome", "failed");
	ck_assert_msg(st == 0 && strstr(out, "d-old") && !strstr(out,
	    "d-mid") && !strstr(out, "d-new"), "%d: %s%s", st, out, err);
	free(out);
	free(err);
	st = RUN(&out, &err, "webhooks", "list", "--outcome", "woke");
	ck_assert_msg(st == 0, "%d: %s", st, err);
	ck_assert_str_eq(out, "no webhook deliveries\n");
	free(out);
	free(err);

	st = RUN(&out, &err, "webhooks", "list", "--since", "2h");
	ck_assert_msg(st == 0 && strstr(out, "d-new") && strstr(out, "d-mid")
	    && !strstr(out, "d-old"), "%d: %s%s", st, out, err);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);

	st = RUN(&out, &err, "webhooks", "list", "--limit", "2");
	ck_assert_msg(st == 0 && strstr(out, "d-mid") && !strstr(out,
	    "d-old"), "%d: %s%s", st, out, err);
	c = strstr(err, "more may follow: --after ");
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(sscanf(c, "more may follow: --after %127s", cursor),
	    1);
	free(out);
	free(err);
	st = RUN(&out, &err, "webhooks", "list", "--limit", "2", "--after",
	    cursor);
	ck_assert_msg(st == 0 && strstr(out, "d-old") && strstr(out,
	    "d-esc") && !strstr(out, "d-mid"), "%d: %s%s", st, out, err);
	ck_assert_msg(strstr(err, "more may follow: --after "), "%s", err);
	free(out);
	free(err);

	st = RUN(&out, &err, "webhooks", "list", "--json");
	ck_assert_msg(st == 0, "%d: %s", st, err);
	v = json_loads(out, 0, &je);
	ck_assert_msg(json_is_array(v) && json_array_size(v) == 4, "%s", out);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v,
	    0), "outcome")), "pending");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(v,
	    2), "hook_id")), 42);
	json_decref(v);
	free(out);
	free(err);

#define LR(st, msg, ...) do {						\
	st_ = RUN(&out, &err, "webhooks", "list", __VA_ARGS__);		\
	ck_assert_msg(st_ == (st) && strstr(err, (msg)), "%d: %s", st_,	\
	    err);							\
	free(out);							\
	free(err);							\
} while (0)
	{
		int st_;

		LR(2, "--outcome nope: not an outcome", "--outcome", "nope");
		LR(2, "--limit 0: a number from 1 to 1000", "--limit", "0");
		LR(2, "--limit 1001", "--limit", "1001");
		LR(2, "--after x: not a cursor", "--after", "x");
		LR(2, "that is in the future", "--since",
		    "2999-01-01T00:00:00Z");
		LR(2, "usage:", "--bogus");
		unsetenv("DATABASE_URL");
		LR(2, "DATABASE_URL is not set", "--json");
	}
#undef LR
	free(ci);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("whcli");
	TCase *gh = tcase_create("redeliver");
	TCase *db = tcase_create("database");
	int rc;

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	fc_start();
	tcase_set_timeout(gh, 60);
	tcase_add_test(gh, pages_skips_and_redelivers);
	tcase_add_test(gh, dry_run_asks_nothing);
	tcase_add_test(gh, github_refusals);
	tcase_add_test(gh, arguments_refused);
	suite_add_tcase(s, gh);
	tcase_add_unchecked_fixture(db, pg_up, pg_down);
	tcase_set_timeout(db, 120);
	tcase_add_test(db, recorded_deliveries_skipped);
	tcase_add_test(db, list_deliveries);
	suite_add_tcase(s, db);
	rc = ot_main(s, tmpdir);
	fc_stop(5000);
	return rc;
}
