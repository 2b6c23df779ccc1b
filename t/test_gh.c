/*
 * gh against t/faultserver.py: one fault server per run (127.0.0.1, an
 * ephemeral port), reset before every test, with GITHUB_API_URL pointed at
 * it.  Each test scripts the answers, runs a request on a real libev loop
 * through a real httpc, and checks what the server received (headers,
 * bodies, how many attempts, when) and what the callback got (error kind,
 * the exact message).  Every message a callback sees, and everything
 * written to stderr, is checked for the token.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "github/gh.h"
#include "httpc.h"
#include "log.h"
#include "redact.h"
#include "faultclient.h"
#include "testutil.h"

/* not in a GitHub token shape, so only its registration can redact it */
#define TOKEN		"tok-ZQ9x7Wv3-faultserver"
#define MAX_RESPONSE	(256 * 1024)
#define SCALE		0.02	/* Retry-After 1 s -> 20 ms */

/* ---- the fault server ---- */

/* Queue `times` copies of status + JSON body + headers (all stolen). */
static void
fs_push_json(int status, json_t *body, json_t *headers, int times)
{
	json_t *spec = json_pack("{s:i, s:i}", "status", status, "times",
	    times);

	if (body)
		json_object_set_new(spec, "json", body);
	if (headers)
		json_object_set_new(spec, "headers", headers);
	fc_push(spec);
}

/* ---- the client under test ---- */

struct outcome {
	int		 done;
	enum gh_err	 err;
	char		*message;
	long		 status;
	json_t		*body;
	char		*next;
	char		*request_id;
	struct gh_rate	 rate;
	int		 cached;
	unsigned	 attempts;
};

static struct ev_loop	*loop;
static struct httpc	*hc;
static struct gh	*gh;
static int		 saved_stderr = -1;
static char		 errpath[] = "/tmp/test_gh_stderr.XXXXXX";

static struct gh_config
test_config(void)
{
	struct gh_config c;

	memset(&c, 0, sizeof(c));
	c.backoff_base_s = 0.01;
	c.backoff_cap_s = 0.05;
	c.wait_scale = SCALE;
	return c;
}

/* Replace the client with one made from cfg under the current env. */
static void
client(const struct gh_config *cfg)
{
	char err[512];

	gh_free(gh);
	gh = gh_new(loop, hc, cfg, err, sizeof(err));
	ck_assert_msg(gh != NULL, "gh_new: %s", err);
}

static void
setup(void)
{
	struct httpc_opts o;
	struct gh_config c = test_config();
	int fd;

	fc_reset();
	setenv("GITHUB_API_URL", fc_base(), 1);
	setenv("GITHUB_TOKEN", TOKEN, 1);
	unsetenv("GITHUB_TOKEN_FILE");
	/* everything written to stderr lands in a file scanned at the end */
	fd = mkstemp(errpath);
	ck_assert_int_ge(fd, 0);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&o, 0, sizeof(o));
	o.max_response = MAX_RESPONSE;
	o.timeout_ms = 10000 * t_slow();
	hc = httpc_new(loop, &o);
	ck_assert_ptr_nonnull(hc);
	gh = NULL;
	client(&c);
}

/* What went to stderr so far (malloc'd). */
static char *
captured_stderr(void)
{
	FILE *f = fopen(errpath, "r");
	char *s = calloc(1, 1 << 20);
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(s, 1, (1 << 20) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void
teardown(void)
{
	char *err;

	gh_free(gh);
	gh = NULL;
	httpc_free(hc);
	ev_loop_destroy(loop);
	err = captured_stderr();
	dup2(saved_stderr, 2);
	close(saved_stderr);
	unlink(errpath);
	ck_assert_msg(strstr(err, TOKEN) == NULL, "token on stderr: %s", err);
	free(err);
	memcpy(errpath + strlen(errpath) - 6, "XXXXXX", 6);
}

static void
on_done(struct gh_req *rq, struct gh_result *res, void *arg)
{
	struct outcome *o = arg;

	o->done++;
	o->err = res->err;
	o->status = res->status;
	o->body = res->body;
	o->cached = res->cached;
	o->attempts = res->attempts;
	o->rate = res->rate;
	ck_assert((res->err == GH_OK) == (res->message == NULL));
	if (res->message) {
		ck_assert_msg(strstr(res->message, TOKEN) == NULL,
		    "token in message: %s", res->message);
		o->message = strdup(res->message);
	}
	if (res->next_url)
		o->next = strdup(res->next_url);
	if (res->request_id)
		o->request_id = strdup(res->request_id);
	if (res->body) {
		char *s = json_dumps(res->body, JSON_ENCODE_ANY);

		ck_assert_msg(strstr(s, TOKEN) == NULL, "token in body");
		free(s);
	}
}

static void
outcome_free(struct outcome *o)
{
	free(o->message);
	free(o->next);
	free(o->request_id);
	json_decref(o->body);
	memset(o, 0, sizeof(*o));
}

static void
watchdog_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	*(int *)t->data = 1;
	ev_break(l, EVBREAK_ONE);
}

/* Run the loop until o is done (or for `ms` when o is NULL). */
static void
run_for(struct outcome *o, double ms)
{
	ev_timer wd;
	int fired = 0;

	ev_timer_init(&wd, watchdog_cb, ms / 1000.0, 0.);
	wd.data = &fired;
	ev_timer_start(loop, &wd);
	while (!fired && (o == NULL || !o->done))
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &wd);
}

static void
run(struct outcome *o)
{
	run_for(o, 8000.0 * t_slow());
	ck_assert_msg(o->done == 1, "no callback");
}

/* Request, run to completion, return the outcome in *o. */
static void
call(struct outcome *o, const char *method, const char *path,
    const json_t *body, int flags)
{
	memset(o, 0, sizeof(*o));
	ck_assert_ptr_nonnull(gh_request(gh, method, path, body, flags,
	    on_done, o));
	run(o);
}

/* Run the loop until the server has seen n requests. */
static void
run_until_requests(size_t n)
{
	double end = t_now_ms() + 8000.0 * t_slow();
	json_t *r;
	int ok;

	while (t_now_ms() < end) {
		run_for(NULL, 10);
		r = fc_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait",
		    "requests", (int)n, "timeout_ms", 10));
		ok = json_is_true(json_object_get(r, "ok"));
		json_decref(r);
		if (ok)
			return;
	}
	ck_abort_msg("server never saw %zu requests", n);
}

/* ---- headers and bodies ---- */

START_TEST(get_sends_exact_headers)
{
	struct outcome o;
	json_t *reqs, *rq;

	fs_push_json(200, json_pack("{s:i, s:s}", "number", 7, "title", "t"),
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "X-RateLimit-Limit", "5000",
	    "X-RateLimit-Remaining", "4999", "X-RateLimit-Used", "1",
	    "X-RateLimit-Reset", "1700000000", "X-RateLimit-Resource", "core"),
	    1);
	call(&o, "GET", "/repos/octo/hello/issues/7", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_int_eq(o.status, 200);
	ck_assert_uint_eq(o.attempts, 1);
	ck_assert_int_eq(o.cached, 0);
	ck_assert_str_eq(json_string_value(json_object_get(o.body, "title")),
	    "t");
	ck_assert_int_eq(o.rate.limit, 5000);
	ck_assert_int_eq(o.rate.remaining, 4999);
	ck_assert_int_eq(o.rate.used, 1);
	ck_assert(o.rate.reset == 1700000000LL);
	ck_assert_str_eq(o.rate.resource, "core");
	ck_assert_ptr_null(o.next);

	reqs = fc_requests();
	ck_assert_uint_eq(json_array_size(reqs), 1);
	rq = json_array_get(reqs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(rq, "method")),
	    "GET");
	ck_assert_str_eq(json_string_value(json_object_get(rq, "target")),
	    "/repos/octo/hello/issues/7");
	fc_assert_header(rq, "Accept", "application/vnd.github+json");
	fc_assert_header(rq, "X-GitHub-Api-Version", "2022-11-28");
	fc_assert_header(rq, "User-Agent", "afu9/" AFU9_VERSION);
	fc_assert_header(rq, "Authorization", "Bearer " TOKEN);
	fc_assert_no_header(rq, "If-None-Match");
	fc_assert_no_header(rq, "Content-Type");
	ck_assert_str_eq(json_string_value(json_object_get(rq, "body")), "");
	json_decref(reqs);
	outcome_free(&o);
}
END_TEST

START_TEST(post_sends_json_body)
{
	struct outcome o;
	json_t *reqs, *rq, *body;

	fs_push_json(201, json_pack("{s:i}", "number", 8),
	    json_pack("{s:s}", "X-GitHub-Request-Id", "CAFE:1234:ABCD"), 1);
	body = json_pack("{s:s, s:[s]}", "title", "Bug: \xc3\xa9t\xc3\xa9",
	    "labels", "bug");
	call(&o, "POST", "/repos/octo/hello/issues", body, 0);
	json_decref(body);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_int_eq(o.status, 201);
	ck_assert_str_eq(o.request_id, "CAFE:1234:ABCD");
	reqs = fc_requests();
	rq = json_array_get(reqs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(rq, "method")),
	    "POST");
	ck_assert_str_eq(json_string_value(json_object_get(rq, "body")),
	    "{\"title\":\"Bug: \xc3\xa9t\xc3\xa9\",\"labels\":[\"bug\"]}");
	fc_assert_header(rq, "Content-Type", "application/json");
	fc_assert_header(rq, "Authorization", "Bearer " TOKEN);
	json_decref(reqs);
	outcome_free(&o);
}
END_TEST

START_TEST(no_content_gives_no_body)
{
	struct outcome o;

	fs_push_json(204, NULL, NULL, 1);
	call(&o, "DELETE", "/repos/octo/hello/git/refs/heads/x", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_int_eq(o.status, 204);
	ck_assert_ptr_null(o.body);
	outcome_free(&o);
}
END_TEST

START_TEST(api_url_forms)
{
	struct gh_config c = test_config();
	char url[128], err[512];
	struct outcome o;
	json_t *reqs;
	static const char *bad[] = {
		"ftp://example.com", "https://", "https:///api",
		"https://user:secretpw@example.com", "https://example.com/?x=1",
		"https://example.com/#frag", "https://exa mple.com",
		"example.com",
	};
	size_t i;

	/* GHES form, trailing slashes dropped */
	snprintf(url, sizeof(url), "%s/api/v3//", fc_base());
	setenv("GITHUB_API_URL", url, 1);
	client(&c);
	snprintf(url, sizeof(url), "%s/api/v3", fc_base());
	ck_assert_str_eq(gh_api_url(gh), url);
	fs_push_json(200, json_pack("{s:s}", "login", "octo"), NULL, 1);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	reqs = fc_requests();
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(reqs, 0), "target")), "/api/v3/user");
	json_decref(reqs);
	outcome_free(&o);
	/* GraphQL sits beside the REST API there: /api/graphql */
	fs_push_json(200, json_pack("{s:{}}", "data"), NULL, 1);
	call(&o, "POST", "/graphql", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	reqs = fc_requests();
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(reqs, 1), "target")), "/api/graphql");
	json_decref(reqs);
	outcome_free(&o);

	/* the default */
	unsetenv("GITHUB_API_URL");
	client(&c);
	ck_assert_str_eq(gh_api_url(gh), "https://api.github.com");
	setenv("GITHUB_API_URL", "", 1);
	client(&c);
	ck_assert_str_eq(gh_api_url(gh), "https://api.github.com");

	/* the length bound */
	{
		char lng[GH_MAX_API_URL + 2];

		memset(lng, 'a', sizeof(lng) - 1);
		lng[sizeof(lng) - 1] = '\0';
		memcpy(lng, "https://h/", 10);
		setenv("GITHUB_API_URL", lng, 1);
		ck_assert_ptr_null(gh_new(loop, hc, &c, err, sizeof(err)));
		lng[sizeof(lng) - 2] = '\0';
		setenv("GITHUB_API_URL", lng, 1);
		client(&c);
		ck_assert_str_eq(gh_api_url(gh), lng);
	}
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		setenv("GITHUB_API_URL", bad[i], 1);
		ck_assert_msg(gh_new(loop, hc, &c, err, sizeof(err)) == NULL,
		    "accepted %s", bad[i]);
		ck_assert_msg(strncmp(err, "GITHUB_API_URL is not usable: ",
		    30) == 0, "%s", err);
		ck_assert(strstr(err, "secretpw") == NULL);
	}
}
END_TEST

START_TEST(bad_requests_refused)
{
	char longpath[GH_MAX_PATH + 8], url[128];
	struct outcome o;

	memset(&o, 0, sizeof(o));
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_ptr_null(gh_request(gh, "get", "/x", NULL, 0, on_done, &o));
	ck_assert_ptr_null(gh_request(gh, "", "/x", NULL, 0, on_done, &o));
	ck_assert_ptr_null(gh_request(gh, "GET", "x", NULL, 0, on_done, &o));
	ck_assert_ptr_null(gh_request(gh, "GET", "/a b", NULL, 0, on_done,
	    &o));
	ck_assert_ptr_null(gh_request(gh, "GET", "/a\r\nX: y", NULL, 0,
	    on_done, &o));
	ck_assert_ptr_null(gh_request(gh, "GET", "/a#b", NULL, 0, on_done,
	    &o));
	ck_assert_ptr_null(gh_request(gh, "GET", "/\xc3\xa9", NULL, 0,
	    on_done, &o));
	ck_assert_ptr_null(gh_request(gh, "GET", longpath, NULL, 0, on_done,
	    &o));
	ck_assert_ptr_null(gh_request(gh, "GET", "/x", NULL, 0, NULL, &o));
	/* absolute URLs only under the API URL: the token goes nowhere else */
	ck_assert_ptr_null(gh_request(gh, "GET", "https://evil.example/x",
	    NULL, 0, on_done, &o));
	snprintf(url, sizeof(url), "%s9/x", fc_base());
	ck_assert_ptr_null(gh_request(gh, "GET", url, NULL, 0, on_done, &o));
	snprintf(url, sizeof(url), "%s@evil.example/x", fc_base());
	ck_assert_ptr_null(gh_request(gh, "GET", url, NULL, 0, on_done, &o));
	run_for(NULL, 20);
	ck_assert_int_eq(o.done, 0);
	ck_assert_uint_eq(fc_count(), 0);
}
END_TEST

/* ---- the token ---- */

START_TEST(missing_token_fails_without_network)
{
	struct gh_config c = test_config();
	struct outcome o;

	unsetenv("GITHUB_TOKEN");
	client(&c);
	ck_assert_int_eq(gh_has_token(gh), 0);
	memset(&o, 0, sizeof(o));
	ck_assert_ptr_nonnull(gh_request(gh, "GET", "/repos/o/r", NULL, 0,
	    on_done, &o));
	ck_assert_int_eq(o.done, 0);	/* never from inside gh_request */
	run(&o);
	ck_assert_int_eq(o.err, GH_ERR_CONFIG);
	ck_assert_str_eq(o.message, "GITHUB_TOKEN is not set: start the "
	    "server with a GitHub token in GITHUB_TOKEN or GITHUB_TOKEN_FILE");
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(o.attempts, 0);
	ck_assert_int_eq(httpc_connections_opened(hc), 0);
	ck_assert_uint_eq(fc_count(), 0);
	outcome_free(&o);

	/* cancellable like any request */
	ck_assert_ptr_nonnull(gh_request(gh, "GET", "/x", NULL, 0, on_done,
	    &o));
	gh_cancel(gh_request(gh, "GET", "/y", NULL, 0, on_done, &o));
	run(&o);
	run_for(NULL, 20);
	ck_assert_int_eq(o.done, 1);
	outcome_free(&o);
}
END_TEST

START_TEST(token_from_file)
{
	struct gh_config c = test_config();
	char path[] = "/tmp/test_gh_token.XXXXXX";
	const char *content = "  file-token-Kq81x\n";
	char want[256];
	struct outcome o;
	json_t *reqs;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(t_write(fd, content, strlen(content)), 0);
	close(fd);
	unsetenv("GITHUB_TOKEN");
	setenv("GITHUB_TOKEN_FILE", path, 1);
	client(&c);
	fs_push_json(200, json_object(), NULL, 1);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	reqs = fc_requests();
	fc_assert_header(json_array_get(reqs, 0), "Authorization",
	    "Bearer file-token-Kq81x");
	json_decref(reqs);
	outcome_free(&o);
	/* registered as a secret */
	ck_assert(redact_contains_secret("x file-token-Kq81x", 18));

	/* a file past the bound */
	{
		char big[GH_MAX_TOKEN_FILE + 1];

		memset(big, 'a', sizeof(big));
		fd = open(path, O_WRONLY | O_TRUNC);
		ck_assert_int_eq(t_write(fd, big, sizeof(big)), 0);
		close(fd);
	}
	client(&c);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_CONFIG);
	snprintf(want, sizeof(want), "GITHUB_TOKEN_FILE %s is larger than "
	    "4096 bytes: it must hold only a GitHub token", path);
	ck_assert_str_eq(o.message, want);
	outcome_free(&o);

	/* an unreadable file: said at call time, nothing sent */
	unlink(path);
	client(&c);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_CONFIG);
	snprintf(want, sizeof(want), "GITHUB_TOKEN_FILE %s cannot be read: "
	    "No such file or directory", path);
	ck_assert_str_eq(o.message, want);
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);
}
END_TEST

START_TEST(bad_tokens_refused)
{
	struct gh_config c = test_config();
	struct outcome o;

	setenv("GITHUB_TOKEN", "ghp_with space", 1);
	client(&c);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_CONFIG);
	ck_assert_str_eq(o.message, "GITHUB_TOKEN holds blanks or control "
	    "characters: it must hold only a GitHub token");
	outcome_free(&o);
	setenv("GITHUB_TOKEN", "ab\n", 1);
	client(&c);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_str_eq(o.message, "GITHUB_TOKEN is too short to be a "
	    "GitHub token");
	outcome_free(&o);
	ck_assert_uint_eq(fc_count(), 0);
}
END_TEST

START_TEST(token_never_leaks)
{
	struct outcome o;

	/* GitHub echoing the token back: redacted in message and body */
	fs_push_json(422, json_pack("{s:s, s:[{s:s, s:s}]}", "message",
	    "bad token " TOKEN, "errors", "code", "invalid", "message",
	    "value " TOKEN " rejected"), NULL, 1);
	call(&o, "POST", "/repos/o/r/issues", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_VALIDATION);
	ck_assert_str_eq(o.message, "GitHub rejected POST /repos/o/r/issues "
	    "(422): bad token [REDACTED]: invalid: value [REDACTED] rejected");
	ck_assert_str_eq(json_string_value(json_object_get(o.body,
	    "message")), "bad token [REDACTED]");
	outcome_free(&o);

	/* a path holding the token, retried server errors, a 404 */
	fs_push_json(500, json_pack("{s:s}", "message", TOKEN), NULL, 3);
	call(&o, "GET", "/repos/o/" TOKEN, NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SERVER);
	ck_assert_str_eq(o.message, "GitHub failed GET /repos/o/[REDACTED] "
	    "with 500: [REDACTED] (3 attempts); try again later");
	outcome_free(&o);
	fs_push_json(404, NULL, NULL, 1);
	call(&o, "GET", "/repos/" TOKEN "/x", NULL, 0);
	ck_assert_str_eq(o.message, "not found, or the token cannot see it: "
	    "[REDACTED]/x (GET /repos/[REDACTED]/x)");
	outcome_free(&o);
}
END_TEST

/* ---- error mapping ---- */

START_TEST(unauthorized)
{
	struct outcome o;

	fs_push_json(401, json_pack("{s:s}", "message", "Bad credentials"),
	    NULL, 1);
	call(&o, "GET", "/user", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_AUTH);
	ck_assert_int_eq(o.status, 401);
	ck_assert_str_eq(o.message, "GitHub rejected the token (invalid or "
	    "expired): set a valid GITHUB_TOKEN");
	ck_assert_str_eq(json_string_value(json_object_get(o.body,
	    "message")), "Bad credentials");
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);
}
END_TEST

START_TEST(not_found_names_the_repository)
{
	struct outcome o;

	fs_push_json(404, json_pack("{s:s}", "message", "Not Found"), NULL, 2);
	call(&o, "GET", "/repos/octo/hello/issues/7?per_page=1", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_NOT_FOUND);
	ck_assert_str_eq(o.message, "not found, or the token cannot see it: "
	    "octo/hello (GET /repos/octo/hello/issues/7)");
	outcome_free(&o);
	call(&o, "GET", "/users/nobody", NULL, 0);
	ck_assert_str_eq(o.message, "not found, or the token cannot see it: "
	    "GET /users/nobody");
	ck_assert_uint_eq(fc_count(), 2);
	outcome_free(&o);
}
END_TEST

START_TEST(validation_errors_listed)
{
	struct outcome o;

	fs_push_json(422, json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, "
	    "s:s}, s, {s:s}], s:s}", "message", "Validation Failed",
	    "errors", "resource", "Issue", "field", "title", "code",
	    "missing_field", "resource", "PullRequest", "code", "custom",
	    "message", "A pull request already exists for octo:feature.",
	    "plain text error", "field", "head", "documentation_url",
	    "https://docs.github.com/rest"), NULL, 1);
	call(&o, "POST", "/repos/octo/hello/pulls", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_VALIDATION);
	ck_assert_str_eq(o.message, "GitHub rejected POST "
	    "/repos/octo/hello/pulls (422): Validation Failed: Issue.title "
	    "missing_field; PullRequest custom: A pull request already exists "
	    "for octo:feature.; plain text error; head");
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);

	/* no document at all */
	fc_push(json_pack("{s:i, s:s}", "status", 422, "body", "oops"));
	call(&o, "POST", "/repos/octo/hello/pulls", NULL, 0);
	ck_assert_str_eq(o.message, "GitHub rejected POST "
	    "/repos/octo/hello/pulls (422): Validation Failed");
	outcome_free(&o);
}
END_TEST

START_TEST(conflict_reported_not_retried)
{
	struct outcome o;

	fs_push_json(409, json_pack("{s:s}", "message",
	    "is at 1111 but expected 2222"), NULL, 0);
	call(&o, "PUT", "/repos/octo/hello/contents/a.txt", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_CONFLICT);
	ck_assert_str_eq(o.message, "GitHub reported a conflict on PUT "
	    "/repos/octo/hello/contents/a.txt (409): is at 1111 but expected "
	    "2222");
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);
}
END_TEST

START_TEST(forbidden_names_missing_scope)
{
	struct outcome o;

	fs_push_json(403, json_pack("{s:s}", "message", "Not allowed"),
	    json_pack("[[s,s],[s,s]]", "X-Accepted-OAuth-Scopes", "repo",
	    "X-OAuth-Scopes", "read:org, gist"), 1);
	call(&o, "GET", "/repos/octo/hello/hooks", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_FORBIDDEN);
	ck_assert_str_eq(o.message, "the token lacks the OAuth scope \"repo\" "
	    "needed for GET /repos/octo/hello/hooks (the token has: read:org, "
	    "gist); add the scope to the token or use one that has it");
	outcome_free(&o);

	fs_push_json(403, json_pack("{s:s}", "message", "Not allowed"),
	    json_pack("[[s,s],[s,s]]", "X-Accepted-OAuth-Scopes",
	    "admin:org, write:org", "X-OAuth-Scopes", ""), 1);
	call(&o, "PUT", "/orgs/octo/memberships/u", NULL, 0);
	ck_assert_str_eq(o.message, "the token lacks an OAuth scope (one of "
	    "\"admin:org\", \"write:org\") needed for PUT "
	    "/orgs/octo/memberships/u (the token has: no scopes); add the "
	    "scope to the token or use one that has it");
	outcome_free(&o);

	/* admin:org implies read:org: not a scope problem */
	fs_push_json(403, json_pack("{s:s}", "message",
	    "Must have admin rights to Repository."),
	    json_pack("[[s,s],[s,s]]", "X-Accepted-OAuth-Scopes", "read:org",
	    "X-OAuth-Scopes", "admin:org"), 1);
	call(&o, "GET", "/orgs/octo/teams", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_FORBIDDEN);
	ck_assert_str_eq(o.message, "GitHub refused GET /orgs/octo/teams "
	    "(403): Must have admin rights to Repository.; check that the "
	    "token may do this");
	outcome_free(&o);

	/* fine-grained token: the permission GitHub wants */
	fs_push_json(403, json_pack("{s:s}", "message",
	    "Resource not accessible by personal access token"),
	    json_pack("[[s,s]]", "X-Accepted-GitHub-Permissions",
	    "issues=write"), 1);
	call(&o, "POST", "/repos/octo/hello/issues", NULL, 0);
	ck_assert_str_eq(o.message, "the token lacks a permission needed for "
	    "POST /repos/octo/hello/issues (GitHub accepts: issues=write); "
	    "grant it to the token: Resource not accessible by personal "
	    "access token");
	ck_assert_uint_eq(fc_count(), 4);
	outcome_free(&o);
}
END_TEST

START_TEST(redirect_reported)
{
	struct outcome o;

	fs_push_json(301, json_pack("{s:s}", "message", "Moved Permanently"),
	    json_pack("{s:s}", "Location", "https://api.github.com/repositories/"
	    "42"), 1);
	call(&o, "GET", "/repos/old/name", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_HTTP);
	ck_assert_str_eq(o.message, "GitHub answered GET /repos/old/name with "
	    "301: Moved Permanently (moved to "
	    "https://api.github.com/repositories/42)");
	outcome_free(&o);
}
END_TEST

/* ---- rate limits ---- */

START_TEST(primary_rate_limit_not_retried)
{
	struct outcome o;
	char hdr[32], when[64], want[512];
	time_t reset = time(NULL) + 120;
	long long secs = -1;
	struct tm tm;
	const char *in;

	snprintf(hdr, sizeof(hdr), "%lld", (long long)reset);
	fs_push_json(403, json_pack("{s:s}", "message",
	    "API rate limit exceeded for user ID 1."),
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "X-RateLimit-Limit", "5000",
	    "X-RateLimit-Remaining", "0", "X-RateLimit-Used", "5000",
	    "X-RateLimit-Reset", hdr, "X-RateLimit-Resource", "core"), 0);
	call(&o, "GET", "/repos/octo/hello", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_RATE_LIMIT);
	ck_assert_uint_eq(o.attempts, 1);
	ck_assert_uint_eq(fc_count(), 1);
	ck_assert_int_eq(o.rate.remaining, 0);
	ck_assert(o.rate.reset == (long long)reset);
	gmtime_r(&reset, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(want, sizeof(want), "GitHub API rate limit exhausted (limit "
	    "5000, resource core) on GET /repos/octo/hello: it resets at %s, "
	    "in ", when);
	ck_assert_msg(strncmp(o.message, want, strlen(want)) == 0, "%s",
	    o.message);
	in = o.message + strlen(want);
	ck_assert_int_eq(sscanf(in, "%lld s; do not retry before then", &secs),
	    1);
	ck_assert(secs >= 100 && secs <= 120);
	ck_assert_str_eq(strchr(in, ' '), " s; do not retry before then");
	outcome_free(&o);
}
END_TEST

START_TEST(secondary_rate_limit_waits_retry_after)
{
	struct outcome o;
	json_t *reqs;
	double t0, t1;

	fs_push_json(403, json_pack("{s:s}", "message", "You have exceeded a "
	    "secondary rate limit. Please wait a few minutes."),
	    json_pack("{s:s}", "Retry-After", "3"), 1);
	fs_push_json(200, json_pack("{s:b}", "ok", 1), NULL, 1);
	call(&o, "GET", "/repos/octo/hello/issues", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_uint_eq(o.attempts, 2);
	reqs = fc_requests();
	ck_assert_uint_eq(json_array_size(reqs), 2);
	t0 = json_real_value(json_object_get(json_array_get(reqs, 0), "t_ms"));
	t1 = json_real_value(json_object_get(json_array_get(reqs, 1), "t_ms"));
	/* 3 s scaled by SCALE: at least 60 ms between the two */
	ck_assert_msg(t1 - t0 >= 3000 * SCALE, "waited %.1f ms", t1 - t0);
	json_decref(reqs);
	outcome_free(&o);

	/* 429 without Retry-After, message only: 60 s scaled */
	fs_push_json(429, json_pack("{s:s}", "message", "slow down"), NULL, 1);
	fs_push_json(200, json_object(), NULL, 1);
	call(&o, "GET", "/x", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_uint_eq(o.attempts, 2);
	outcome_free(&o);
}
END_TEST

START_TEST(secondary_rate_limit_reported)
{
	struct outcome o;

	/* POST: never repeated on its own */
	fs_push_json(429, json_pack("{s:s}", "message", "secondary rate limit"),
	    json_pack("{s:s}", "Retry-After", "30"), 1);
	call(&o, "POST", "/repos/octo/hello/issues", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SECONDARY_LIMIT);
	ck_assert_str_eq(o.message, "GitHub's secondary rate limit stopped "
	    "POST /repos/octo/hello/issues: wait 30 s before retrying it, and "
	    "send fewer requests at once (content-creating ones especially)");
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);

	/* a wait beyond the bound is reported even for a GET */
	fs_push_json(403, json_pack("{s:s}", "message", "You have exceeded a "
	    "secondary rate limit"), json_pack("{s:s}", "Retry-After", "120"),
	    1);
	call(&o, "GET", "/repos/octo/hello", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SECONDARY_LIMIT);
	ck_assert_str_eq(o.message, "GitHub's secondary rate limit stopped "
	    "GET /repos/octo/hello: wait 120 s before retrying it, and send "
	    "fewer requests at once (content-creating ones especially)");
	ck_assert_uint_eq(fc_count(), 2);
	outcome_free(&o);

	/* retried, but every attempt limited */
	fs_push_json(403, json_pack("{s:s}", "message", "secondary rate limit"),
	    json_pack("{s:s}", "Retry-After", "1"), 0);
	call(&o, "GET", "/y", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SECONDARY_LIMIT);
	ck_assert_uint_eq(o.attempts, 3);
	ck_assert_uint_eq(fc_count(), 5);
	outcome_free(&o);
}
END_TEST

/* ---- retries ---- */

START_TEST(server_errors_retried_then_success)
{
	struct outcome o;
	char *err;

	fs_push_json(502, json_pack("{s:s}", "message", "bad gateway"), NULL, 2);
	fs_push_json(200, json_pack("{s:i}", "id", 1), NULL, 1);
	call(&o, "GET", "/repos/octo/hello", NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_uint_eq(o.attempts, 3);
	ck_assert_uint_eq(fc_count(), 3);
	outcome_free(&o);
	/* each retry is logged (and the scan of stderr is not vacuous) */
	err = captured_stderr();
	ck_assert_msg(strstr(err, "GitHub failed GET /repos/octo/hello with "
	    "502: bad gateway; retrying in") != NULL, "%s", err);
	free(err);
}
END_TEST

START_TEST(server_errors_exhausted)
{
	struct outcome o;

	fs_push_json(503, json_pack("{s:s}", "message", "unavailable"), NULL, 0);
	call(&o, "GET", "/repos/octo/hello", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SERVER);
	ck_assert_int_eq(o.status, 503);
	ck_assert_uint_eq(o.attempts, 3);
	ck_assert_str_eq(o.message, "GitHub failed GET /repos/octo/hello with "
	    "503: unavailable (3 attempts); try again later");
	ck_assert_uint_eq(fc_count(), 3);
	outcome_free(&o);
}
END_TEST

START_TEST(post_not_retried_unless_flagged)
{
	struct outcome o;

	fs_push_json(500, json_pack("{s:s}", "message", "boom"), NULL, 1);
	call(&o, "POST", "/repos/octo/hello/issues", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SERVER);
	ck_assert_str_eq(o.message, "GitHub failed POST /repos/octo/hello/"
	    "issues with 500: boom; not retried because it may have taken "
	    "effect: check before repeating it");
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);

	fs_push_json(500, json_pack("{s:s}", "message", "boom"), NULL, 1);
	fs_push_json(200, json_object(), NULL, 1);
	call(&o, "POST", "/graphql", NULL, GH_F_IDEMPOTENT);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_uint_eq(o.attempts, 2);
	ck_assert_uint_eq(fc_count(), 3);
	outcome_free(&o);

	/* PATCH is not idempotent either */
	fs_push_json(502, NULL, NULL, 1);
	call(&o, "PATCH", "/repos/octo/hello/issues/1", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_SERVER);
	ck_assert_str_eq(o.message, "GitHub failed PATCH /repos/octo/hello/"
	    "issues/1 with 502; not retried because it may have taken effect: "
	    "check before repeating it");
	ck_assert_uint_eq(fc_count(), 4);
	outcome_free(&o);
}
END_TEST

START_TEST(network_errors)
{
	struct outcome o;
	char want[256];

	fc_push(json_pack("{s:s, s:i}", "action", "drop", "times", 0));
	call(&o, "GET", "/repos/octo/hello?page=2", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_NETWORK);
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(o.attempts, 3);
	snprintf(want, sizeof(want), "could not reach %s for GET /repos/octo/"
	    "hello: Empty reply from server (3 attempts)", fc_base());
	ck_assert_str_eq(o.message, want);
	ck_assert_uint_eq(fc_count(), 3);
	outcome_free(&o);

	call(&o, "POST", "/repos/octo/hello/issues", NULL, 0);
	snprintf(want, sizeof(want), "could not reach %s for POST /repos/octo/"
	    "hello/issues: Empty reply from server; it was not retried because "
	    "it may have taken effect: check before repeating it", fc_base());
	ck_assert_str_eq(o.message, want);
	ck_assert_uint_eq(fc_count(), 4);
	outcome_free(&o);
}
END_TEST

START_TEST(connect_failure_retried_for_any_method)
{
	struct gh_config c = test_config();
	struct outcome o;
	char url[64], want[128];
	int fd, port;

	/* a port nobody listens on: bound, never listened, closed after */
	{
		struct sockaddr_in sa;
		socklen_t len = sizeof(sa);

		fd = socket(AF_INET, SOCK_STREAM, 0);
		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)),
		    0);
		getsockname(fd, (struct sockaddr *)&sa, &len);
		port = ntohs(sa.sin_port);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("GITHUB_API_URL", url, 1);
	client(&c);
	call(&o, "POST", "/repos/octo/hello/issues", NULL, 0);
	close(fd);
	ck_assert_int_eq(o.err, GH_ERR_NETWORK);
	ck_assert_uint_eq(o.attempts, 3);
	snprintf(want, sizeof(want), "could not reach %s for POST /repos/octo/"
	    "hello/issues: ", url);
	ck_assert_msg(strncmp(o.message, want, strlen(want)) == 0, "%s",
	    o.message);
	ck_assert_str_eq(o.message + strlen(o.message) - 13, " (3 attempts)");
	ck_assert(strstr(o.message, "not retried") == NULL);
	outcome_free(&o);
}
END_TEST

/* ---- bodies ---- */

START_TEST(response_bound_and_bad_json)
{
	struct outcome o;
	char want[512];

	fc_push(json_pack("{s:s, s:i, s:i}", "body", "x", "repeat",
	    MAX_RESPONSE + 1000, "times", 0));
	call(&o, "GET", "/repos/octo/hello/issues?per_page=100", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_RESPONSE);
	snprintf(want, sizeof(want), "GitHub's answer to GET "
	    "/repos/octo/hello/issues could not be read: response from "
	    "%s exceeds %d bytes; ask for less (a smaller per_page or a "
	    "narrower query)", fc_base(), MAX_RESPONSE);
	ck_assert_str_eq(o.message, want);
	ck_assert_uint_eq(fc_count(), 1);
	outcome_free(&o);

	fc_reset();
	fc_push(json_pack("{s:s}", "body", "<html>oops</html>"));
	call(&o, "GET", "/repos/octo/hello", NULL, 0);
	ck_assert_int_eq(o.err, GH_ERR_RESPONSE);
	ck_assert_int_eq(o.status, 200);
	ck_assert_ptr_null(o.body);
	ck_assert_msg(strncmp(o.message, "GitHub's answer to GET "
	    "/repos/octo/hello (200) is not valid JSON: ", 63) == 0, "%s",
	    o.message);
	ck_assert_str_eq(o.message + strlen(o.message) - 19,
	    " (line 1, column 1)");
	outcome_free(&o);
}
END_TEST

/* ---- conditional requests ---- */

START_TEST(etag_cache_answers_304)
{
	struct outcome o;
	json_t *reqs;

	fs_push_json(200, json_pack("{s:i}", "n", 1),
	    json_pack("{s:s, s:s}", "ETag", "W/\"v1\"", "Link",
	    "<https://api.github.com/x?page=2>; rel=\"next\""), 1);
	call(&o, "GET", "/repos/octo/hello", NULL, GH_F_CONDITIONAL);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_int_eq(o.cached, 0);
	ck_assert_uint_eq(gh_cache_count(gh), 1);
	outcome_free(&o);

	fs_push_json(304, NULL, json_pack("{s:s, s:s}", "ETag", "W/\"v1\"",
	    "X-RateLimit-Remaining", "4990"), 1);
	call(&o, "GET", "/repos/octo/hello", NULL, GH_F_CONDITIONAL);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_int_eq(o.cached, 1);
	ck_assert_int_eq(o.status, 200);
	ck_assert_int_eq(o.rate.remaining, 4990);
	ck_assert_int_eq(json_integer_value(json_object_get(o.body, "n")), 1);
	/* the next link that came with the cached body */
	ck_assert_str_eq(o.next, "https://api.github.com/x?page=2");
	outcome_free(&o);

	/* unconditional: no If-None-Match, and a 200 replaces nothing */
	fs_push_json(200, json_pack("{s:i}", "n", 2), NULL, 1);
	call(&o, "GET", "/repos/octo/hello", NULL, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(o.body, "n")), 2);
	outcome_free(&o);

	reqs = fc_requests();
	ck_assert_uint_eq(json_array_size(reqs), 3);
	fc_assert_no_header(json_array_get(reqs, 0), "If-None-Match");
	fc_assert_header(json_array_get(reqs, 1), "If-None-Match", "W/\"v1\"");
	fc_assert_no_header(json_array_get(reqs, 2), "If-None-Match");
	json_decref(reqs);

	/* a new ETag replaces the entry */
	fs_push_json(200, json_pack("{s:i}", "n", 3),
	    json_pack("{s:s}", "ETag", "\"v2\""), 1);
	call(&o, "GET", "/repos/octo/hello", NULL, GH_F_CONDITIONAL);
	outcome_free(&o);
	fs_push_json(304, NULL, NULL, 1);
	call(&o, "GET", "/repos/octo/hello", NULL, GH_F_CONDITIONAL);
	ck_assert_int_eq(json_integer_value(json_object_get(o.body, "n")), 3);
	ck_assert_uint_eq(gh_cache_count(gh), 1);
	outcome_free(&o);
	reqs = fc_requests();
	fc_assert_header(json_array_get(reqs, 4), "If-None-Match", "\"v2\"");
	json_decref(reqs);
}
END_TEST

START_TEST(etag_cache_is_bounded_lru)
{
	struct gh_config c = test_config();
	struct outcome o;
	json_t *reqs;
	static const char *paths[] = { "/a", "/b", "/c" };
	size_t i;

	c.etag_entries = 2;
	client(&c);
	for (i = 0; i < 3; i++) {
		fs_push_json(200, json_pack("{s:s}", "p", paths[i]),
		    json_pack("{s:s}", "ETag", "\"e\""), 1);
		call(&o, "GET", paths[i], NULL, GH_F_CONDITIONAL);
		outcome_free(&o);
	}
	ck_assert_uint_eq(gh_cache_count(gh), 2);
	fs_push_json(200, json_object(), NULL, 2);
	call(&o, "GET", "/a", NULL, GH_F_CONDITIONAL);	/* evicted */
	outcome_free(&o);
	call(&o, "GET", "/c", NULL, GH_F_CONDITIONAL);	/* kept */
	outcome_free(&o);
	reqs = fc_requests();
	fc_assert_no_header(json_array_get(reqs, 3), "If-None-Match");
	fc_assert_header(json_array_get(reqs, 4), "If-None-Match", "\"e\"");
	json_decref(reqs);

	/* a body larger than the byte bound is not kept */
	c.etag_bytes = 64;
	client(&c);
	fc_push(json_pack("{s:s, s:[[s,s]]}", "json",
	    "0123456789012345678901234567890123456789012345678901234567890123",
	    "headers", "ETag", "\"big\""));
	call(&o, "GET", "/big", NULL, GH_F_CONDITIONAL);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_uint_eq(gh_cache_count(gh), 0);
	outcome_free(&o);
}
END_TEST

/* ---- pagination ---- */

START_TEST(link_next_followed)
{
	struct outcome o;
	char link[512], next[256];
	json_t *reqs;

	snprintf(next, sizeof(next), "%s/repositories/1/issues?page=2", fc_base());
	snprintf(link, sizeof(link), "<%s>; rel=\"next\", "
	    "<%s/repositories/1/issues?page=5>; rel=\"last\"", next, fc_base());
	fs_push_json(200, json_pack("[i]", 1), json_pack("{s:s}", "Link", link),
	    1);
	fs_push_json(200, json_pack("[i]", 2), NULL, 1);
	call(&o, "GET", "/repos/octo/hello/issues", NULL, 0);
	ck_assert_str_eq(o.next, next);
	outcome_free(&o);
	call(&o, "GET", next, NULL, 0);
	ck_assert_int_eq(o.err, GH_OK);
	ck_assert_ptr_null(o.next);
	reqs = fc_requests();
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(reqs, 1), "target")), "/repositories/1/issues?page=2");
	json_decref(reqs);
	outcome_free(&o);
}
END_TEST

START_TEST(link_header_parsing)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "<https://a/x?page=2>; rel=\"next\"", "https://a/x?page=2" },
		{ "<https://a/1>; rel=\"prev\", <https://a/3>; rel=\"next\"",
		  "https://a/3" },
		{ "<https://a/3>;rel=next", "https://a/3" },
		{ "<https://a/3> ; REL = \"Next\"", "https://a/3" },
		{ "<https://a/3>; title=\"a, b; rel=next\"; rel=\"last\", "
		  "<https://a/4>; rel=\"prev next\"", "https://a/4" },
		{ "<https://a/,x>; rel=\"next\"", "https://a/,x" },
		{ "<https://a/5>; rel=\"last\"; rel=\"next\"", NULL },
		{ "<https://a/5>; rel=\"nextpage\"", NULL },
		{ "<https://a/5>; rel=\"last\"", NULL },
		{ "", NULL },
		{ "https://a/5; rel=\"next\"", NULL },
		{ "<https://a/5; rel=\"next\"", NULL },
		{ "<https://a/5>; rel=\"next", NULL },
		{ "<https://a/5>; rel=\"last\" junk, <https://a/6>; rel=next",
		  NULL },
		{ ",, <https://a/7>; rel=next", "https://a/7" },
	};
	size_t i;
	char *got;

	ck_assert_ptr_null(gh_link_next(NULL));
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		got = gh_link_next(cases[i].in);
		if (cases[i].want == NULL)
			ck_assert_msg(got == NULL, "%s -> %s", cases[i].in, got);
		else
			ck_assert_msg(got && strcmp(got, cases[i].want) == 0,
			    "%s -> %s", cases[i].in, got ? got : "(null)");
		free(got);
	}
}
END_TEST

/* ---- cancellation and teardown ---- */

START_TEST(cancel_closes_the_transfer)
{
	struct outcome o;
	struct gh_req *rq;
	json_t *reqs, *r;
	json_int_t conn;

	memset(&o, 0, sizeof(o));
	fc_push(json_pack("{s:s}", "action", "hold"));
	rq = gh_request(gh, "GET", "/repos/octo/hello", NULL, 0, on_done, &o);
	ck_assert_ptr_nonnull(rq);
	run_until_requests(1);
	gh_cancel(rq);
	reqs = fc_requests();
	conn = json_integer_value(json_object_get(json_array_get(reqs, 0),
	    "conn"));
	json_decref(reqs);
	r = fc_cmd(json_pack("{s:s, s:I, s:i}", "cmd", "wait", "closed_conn",
	    conn, "timeout_ms", 5000 * t_slow()));
	ck_assert_msg(json_is_true(json_object_get(r, "ok")),
	    "server did not see the connection close");
	json_decref(r);
	run_for(NULL, 30);
	ck_assert_int_eq(o.done, 0);
	ck_assert_uint_eq(httpc_active(hc), 0);
}
END_TEST

START_TEST(cancel_during_retry_wait)
{
	struct gh_config c = test_config();
	struct outcome o;
	struct gh_req *rq;

	c.wait_scale = 0.1;		/* Retry-After 2 -> 200 ms */
	client(&c);
	memset(&o, 0, sizeof(o));
	fs_push_json(503, NULL, json_pack("{s:s}", "Retry-After", "2"), 0);
	rq = gh_request(gh, "GET", "/x", NULL, 0, on_done, &o);
	run_until_requests(1);
	while (httpc_active(hc) > 0)	/* the 503 is in: now waiting */
		run_for(NULL, 5);
	gh_cancel(rq);
	run_for(NULL, 400);
	ck_assert_int_eq(o.done, 0);
	ck_assert_uint_eq(fc_count(), 1);
}
END_TEST

static void
on_done_free_client(struct gh_req *rq, struct gh_result *res, void *arg)
{
	on_done(rq, res, arg);
	gh_free(gh);		/* deferred until this callback returns */
	gh = NULL;
}

START_TEST(free_with_requests_pending)
{
	struct outcome a, b, c;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	fc_push(json_pack("{s:s, s:i}", "action", "hold", "times", 0));
	ck_assert_ptr_nonnull(gh_request(gh, "GET", "/a", NULL, 0, on_done,
	    &a));
	ck_assert_ptr_nonnull(gh_request(gh, "GET", "/b", NULL,
	    GH_F_CONDITIONAL, on_done, &b));
	run_until_requests(2);
	gh_free(gh);
	gh = NULL;
	run_for(NULL, 20);
	ck_assert_int_eq(a.done + b.done, 0);
	ck_assert_uint_eq(httpc_active(hc), 0);

	/* freeing from inside a callback, with another request in flight */
	client(NULL);
	fc_reset();
	fc_push(json_pack("{s:s, s:{s:s}}", "action", "hold", "match",
	    "path", "/held"));
	fs_push_json(200, json_object(), NULL, 1);
	ck_assert_ptr_nonnull(gh_request(gh, "GET", "/held", NULL, 0, on_done,
	    &b));
	run_until_requests(1);
	ck_assert_ptr_nonnull(gh_request(gh, "GET", "/now", NULL, 0,
	    on_done_free_client, &c));
	run(&c);
	ck_assert_int_eq(c.err, GH_OK);
	run_for(NULL, 20);
	ck_assert_int_eq(b.done, 0);
	outcome_free(&c);
}
END_TEST

START_TEST(err_names)
{
	ck_assert_str_eq(gh_err_name(GH_OK), "ok");
	ck_assert_str_eq(gh_err_name(GH_ERR_NOT_FOUND), "not_found");
	ck_assert_str_eq(gh_err_name(GH_ERR_SECONDARY_LIMIT),
	    "secondary_rate_limit");
	ck_assert_str_eq(gh_err_name((enum gh_err)99), "unknown");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("gh");
	TCase *tc = tcase_create("gh");
	int failed;

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("AFU9_LOG_FORMAT");
	log_init("test_gh");
	fc_start();
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, get_sends_exact_headers);
	tcase_add_test(tc, post_sends_json_body);
	tcase_add_test(tc, no_content_gives_no_body);
	tcase_add_test(tc, api_url_forms);
	tcase_add_test(tc, bad_requests_refused);
	tcase_add_test(tc, missing_token_fails_without_network);
	tcase_add_test(tc, token_from_file);
	tcase_add_test(tc, bad_tokens_refused);
	tcase_add_test(tc, token_never_leaks);
	tcase_add_test(tc, unauthorized);
	tcase_add_test(tc, not_found_names_the_repository);
	tcase_add_test(tc, validation_errors_listed);
	tcase_add_test(tc, conflict_reported_not_retried);
	tcase_add_test(tc, forbidden_names_missing_scope);
	tcase_add_test(tc, redirect_reported);
	tcase_add_test(tc, primary_rate_limit_not_retried);
	tcase_add_test(tc, secondary_rate_limit_waits_retry_after);
	tcase_add_test(tc, secondary_rate_limit_reported);
	tcase_add_test(tc, server_errors_retried_then_success);
	tcase_add_test(tc, server_errors_exhausted);
	tcase_add_test(tc, post_not_retried_unless_flagged);
	tcase_add_test(tc, network_errors);
	tcase_add_test(tc, connect_failure_retried_for_any_method);
	tcase_add_test(tc, response_bound_and_bad_json);
	tcase_add_test(tc, etag_cache_answers_304);
	tcase_add_test(tc, etag_cache_is_bounded_lru);
	tcase_add_test(tc, link_next_followed);
	tcase_add_test(tc, link_header_parsing);
	tcase_add_test(tc, cancel_closes_the_transfer);
	tcase_add_test(tc, cancel_during_retry_wait);
	tcase_add_test(tc, free_with_requests_pending);
	tcase_add_test(tc, err_names);
	suite_add_tcase(s, tc);
	failed = t_run(s);
	fc_stop(5000);
	return failed;
}
