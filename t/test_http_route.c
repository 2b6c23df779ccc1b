/*
 * http_route: patterns accepted and refused, matching, parameters,
 * precedence, methods and the Allow list; no sockets.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include <check.h>

#include "http/http_route.h"
#include "testutil.h"

static void
h_a(const struct http_request *req, struct http_exchange *x, void *arg)
{
}

static struct http_request
req_of(const char *method, const char *path)
{
	struct http_request r;

	memset(&r, 0, sizeof(r));
	r.method.p = method;
	r.method.len = strlen(method);
	r.path.p = path;
	r.path.len = strlen(path);
	return r;
}

/* The pattern of the route req finds, or "" (and the Allow text). */
static const char *
found(const struct http_routes *t, const char *method, const char *path,
    struct http_params *p, char *allow)
{
	struct http_request r = req_of(method, path);
	const struct http_route *rt;

	rt = http_routes_find(t, &r, p, allow, 128);
	return rt != NULL ? rt->pattern : "";
}

START_TEST(patterns_refused)
{
	static const char *const bad[] = {
		"", "x", "/a/{", "/a/{}", "/a/b{id}", "/a/{id}b", "/a/{i{d}",
		"/a/}", "/{a}/{a}", "/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}",
		"/{0123456789012345678901234567890123}",
	};
	struct http_routes t;
	size_t i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(http_routes_add(&t, "GET", bad[i],
		    HTTP_ROUTE_EXACT, h_a, NULL, NULL, NULL) == -1 &&
		    errno == EINVAL, "accepted '%s'", bad[i]);
	}
	ck_assert_int_eq(http_routes_add(&t, "GET", "/a", 7, h_a, NULL, NULL,
	    NULL), -1);
	ck_assert_int_eq(http_routes_add(&t, "GET", "/a", HTTP_ROUTE_EXACT,
	    NULL, NULL, NULL, NULL), -1);
	ck_assert_uint_eq(t.n, 0);
	for (i = 0; i < HTTP_ROUTES_MAX; i++)
		ck_assert_int_eq(http_routes_add(&t, NULL, "/{a}/{b}/x",
		    HTTP_ROUTE_EXACT, h_a, NULL, NULL, NULL), 0);
	errno = 0;
	ck_assert_int_eq(http_routes_add(&t, NULL, "/y", HTTP_ROUTE_EXACT,
	    h_a, NULL, NULL, NULL), -1);
	ck_assert_int_eq(errno, ENOSPC);
	http_routes_free(&t);
	ck_assert_uint_eq(t.n, 0);
}
END_TEST

START_TEST(params_and_precedence)
{
	struct http_routes t;
	struct http_params p;
	const struct http_span *v;
	char allow[128];

	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(http_routes_add(&t, "GET", "/v1/executions/{id}",
	    HTTP_ROUTE_EXACT, h_a, NULL, NULL, NULL), 0);
	ck_assert_int_eq(http_routes_add(&t, "GET", "/v1/executions/new",
	    HTTP_ROUTE_EXACT, h_a, NULL, NULL, NULL), 0);
	ck_assert_int_eq(http_routes_add(&t, "POST",
	    "/v1/executions/{id}/steps/{step}/approve", HTTP_ROUTE_EXACT,
	    h_a, NULL, NULL, NULL), 0);
	ck_assert_int_eq(http_routes_add(&t, "GET", "/ui/", HTTP_ROUTE_PREFIX,
	    h_a, NULL, NULL, NULL), 0);
	ck_assert_int_eq(http_routes_add(&t, "GET", "/ui/app/",
	    HTTP_ROUTE_PREFIX, h_a, NULL, NULL, NULL), 0);
	ck_assert_int_eq(http_routes_add(&t, "GET", "/ui/", HTTP_ROUTE_EXACT,
	    h_a, NULL, NULL, NULL), 0);

	ck_assert_str_eq(found(&t, "GET", "/v1/executions/42", &p, allow),
	    "/v1/executions/{id}");
	ck_assert_uint_eq(p.n, 1);
	ck_assert_ptr_nonnull(v = http_params_get(&p, "id"));
	ck_assert_uint_eq(v->len, 2);
	ck_assert_int_eq(memcmp(v->p, "42", 2), 0);
	ck_assert_ptr_null(http_params_get(&p, "step"));
	/* A literal beats a parameter; a parameter is one whole segment. */
	ck_assert_str_eq(found(&t, "GET", "/v1/executions/new", &p, allow),
	    "/v1/executions/new");
	ck_assert_uint_eq(p.n, 0);
	ck_assert_str_eq(found(&t, "GET", "/v1/executions/", &p, allow), "");
	ck_assert_str_eq(found(&t, "GET", "/v1/executions/4/2", &p, allow),
	    "");
	ck_assert_str_eq(found(&t, "HEAD", "/v1/executions/9", &p, allow),
	    "/v1/executions/{id}");
	ck_assert_str_eq(found(&t, "POST",
	    "/v1/executions/e-1/steps/build/approve", &p, allow),
	    "/v1/executions/{id}/steps/{step}/approve");
	ck_assert_uint_eq(p.n, 2);
	v = http_params_get(&p, "step");
	ck_assert_int_eq((int)v->len, 5);
	ck_assert_int_eq(memcmp(v->p, "build", 5), 0);
	/* Exact over prefix, longer prefix over shorter. */
	ck_assert_str_eq(found(&t, "GET", "/ui/", &p, allow), "/ui/");
	ck_assert_int_eq(t.r[5].flags, HTTP_ROUTE_EXACT);
	ck_assert_ptr_eq(http_routes_find(&t, &(struct http_request){
	    .method = { "GET", 3 }, .path = { "/ui/", 4 } }, &p, allow, 128),
	    &t.r[5]);
	ck_assert_str_eq(found(&t, "GET", "/ui/app/x", &p, allow), "/ui/app/");
	ck_assert_str_eq(found(&t, "GET", "/ui/other", &p, allow), "/ui/");
	/* The method: 405 lists who would take the path; 404 when none. */
	ck_assert_str_eq(found(&t, "DELETE", "/v1/executions/42", &p, allow),
	    "");
	ck_assert_str_eq(allow, "Allow: GET, HEAD");
	ck_assert_str_eq(found(&t, "GET",
	    "/v1/executions/1/steps/2/approve", &p, allow), "");
	ck_assert_str_eq(allow, "Allow: POST");
	ck_assert_str_eq(found(&t, "GET", "/nothing", &p, allow), "");
	ck_assert_str_eq(allow, "");
	http_routes_free(&t);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("http_route");
	TCase *tc = tcase_create("route");

	tcase_add_test(tc, patterns_refused);
	tcase_add_test(tc, params_and_precedence);
	suite_add_tcase(s, tc);
	return t_run(s);
}
