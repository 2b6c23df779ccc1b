/*
 * orchestrator/mcp/router as a library, without the afu9 binary: calls
 * refused at once, each with its own error text.  (t/test_orch and
 * t/test_orchdb drive the router through real children.)
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "conf/conf.h"
#include "mcp/router.h"
#include "testutil.h"

static struct ev_loop		*loop;
static struct afu9_config	*cfg;
static struct router		*r;

static void
setup(void)
{
	static const char text[] = "{\"mcpServers\": {\"conf\": "
	    "{\"command\": \"/bin/true\"}}}";
	char tmp[] = "/tmp/afu9-router.XXXXXX", path[64], err[512];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(path, sizeof(path), "%s/c.json", tmp);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	cfg = config_load_file(path, NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	unlink(path);
	rmdir(tmp);
	loop = ev_default_loop(0);
	r = router_new(loop, cfg, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
}

static void
teardown(void)
{
	router_free(r);
	config_free(cfg);
}

static void
never_done(struct router_call *c, const json_t *res,
    const struct router_err *e, void *arg)
{
	(void)c; (void)res; (void)e; (void)arg;
	ck_abort_msg("done ran for a refused call");
}

/* Each refused call keeps its own message, whatever calls come after:
   the engine, the agent, the API and the gateway share one router. */
START_TEST(errors_per_call)
{
	struct router_err e1, e2, e3;

	ck_assert_ptr_null(router_call(r, "nope.tool", NULL, NULL,
	    never_done, NULL, NULL, &e1));
	ck_assert_ptr_null(router_call(r, "conf.tool", json_object(), NULL,
	    never_done, NULL, NULL, &e2));
	ck_assert_ptr_null(router_call_raw(r, "noserver", "{}", 2, NULL,
	    NULL, NULL, NULL, &e3));
	ck_assert_int_eq(e1.kind, ROUTER_E_UNKNOWN);
	ck_assert_str_eq(e1.message, "Unknown tool: nope.tool (tools are "
	    "named server.tool)");
	ck_assert_int_eq(e2.kind, ROUTER_E_UNAVAILABLE);
	ck_assert_msg(strncmp(e2.message, "server conf is ", 15) == 0, "%s",
	    e2.message);
	ck_assert_int_eq(e3.kind, ROUTER_E_UNKNOWN);
	ck_assert_str_eq(e3.message, "Unknown tool: noserver (tools are "
	    "named server.tool)");
	/* No err given: refused all the same. */
	ck_assert_ptr_null(router_call(r, "nope.tool", NULL, NULL,
	    never_done, NULL, NULL, NULL));
	ck_assert_uint_eq(router_calls_in_flight(r), 0);
}
END_TEST

/* A qname far longer than any message: cut, still NUL-terminated. */
START_TEST(long_name_cut)
{
	struct router_err e;
	char name[4000];

	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ck_assert_ptr_null(router_call(r, name, NULL, NULL, never_done, NULL,
	    NULL, &e));
	ck_assert_int_eq(e.kind, ROUTER_E_UNKNOWN);
	ck_assert_uint_lt(strlen(e.message), sizeof(e.message));
	ck_assert_ptr_nonnull(strstr(e.message, "Unknown tool: xxx"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("refused");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, errors_per_call);
	tcase_add_test(tc, long_name_cut);
	suite_add_tcase(s, tc);
	return t_run(s);
}
