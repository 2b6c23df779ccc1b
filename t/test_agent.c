/*
 * The agent loop (orchestrator/agent/agent.h) against t/llmserver.py, the
 * strict scripted provider (conversations in t/fixtures/llm/agent-*.json),
 * with its tool calls made through a real router to a real child,
 * t/conformance-server.  Each case checks what the run ended with (status,
 * error, text, output, totals), what the recorder was told, and what the
 * provider saw: every scripted turn used, no violation of the wire format
 * or of the history.  The text helpers (patterns, hidden content) are
 * checked directly first.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "httpc.h"
#include "later.h"
#include "redact.h"
#include "conf/conf.h"
#include "mcp/router.h"
#include "agent/agent.h"
#include "faultclient.h"
#include "orchtest.h"
#include "pgtest.h"
#include "testutil.h"

#define WAIT_MS	(20000 * t_slow())

static struct tproc		 llm;		/* t/llmserver.py */
static int			 llm_port;
static char			 llm_url[64];
static char			 tmpdir[64];

/* per test (in its own child, CK_FORK) */
static struct ev_loop		*loop;
static struct afu9_config	*cfg;
static struct router		*r;
static struct httpc		*http;

/* ---- the scripted provider ---- */

static json_t *
llm_cmd(json_t *cmd)
{
	return fc_proc_cmd(&llm, "t/llmserver.py", cmd);
}

static void
llm_load(const char *name)
{
	char rel[256];
	json_t *rep;

	snprintf(rel, sizeof(rel), "t/fixtures/llm/%s", name);
	rep = llm_cmd(json_pack("{s:s, s:s}", "cmd", "load", "file",
	    t_srcdir(rel)));
	ck_assert_msg(json_is_true(json_object_get(rep, "ok")), "load %s: %s",
	    name, json_string_value(json_object_get(rep, "error")));
	json_decref(rep);
}

static json_t *
llm_requests(void)
{
	return llm_cmd(json_pack("{s:s}", "cmd", "requests"));
}

/* No violation; done: every turn was used. */
static void
llm_check(int want_done)
{
	json_t *rep = llm_requests();
	char *v = json_dumps(json_object_get(rep, "violations"), 0);

	ck_assert_msg(json_array_size(json_object_get(rep, "violations")) == 0,
	    "violations: %s", v);
	if (want_done)
		ck_assert_msg(json_is_true(json_object_get(rep, "done")),
		    "not every turn used: at %lld of %lld",
		    json_integer_value(json_object_get(rep, "turn")),
		    json_integer_value(json_object_get(rep, "turns")));
	free(v);
	json_decref(rep);
}

static size_t
llm_nrequests(void)
{
	json_t *rep = llm_requests();
	size_t n = json_array_size(json_object_get(rep, "requests"));

	json_decref(rep);
	return n;
}

/* The server saw the client close n connections (within the wait). */
static void
llm_wait_closed(int n)
{
	json_t *rep = llm_cmd(json_pack("{s:s, s:i, s:i}", "cmd", "wait",
	    "closed", n, "timeout_ms", (int)WAIT_MS));

	ck_assert_msg(json_is_true(json_object_get(rep, "ok")),
	    "the provider did not see %d connections closed", n);
	json_decref(rep);
}

/* ---- a recorder that keeps everything ---- */

struct trec {
	json_t		*meta;		/* what begin got */
	json_t		*msgs;		/* [{"seq", "role", "content"}] */
	int		 nprogress;
	int		 nfinish;
	char		*status;
	char		*error;
	json_t		*result;
	int		 fail_begin;	/* begin answers -1 */
	/* begin answers from the loop, later */
	struct later	 l;
	void		(*done)(void *, int, const char *);
	void		*done_arg;
};

static void
trec_later(void *arg)
{
	struct trec *t = arg;

	t->done(t->done_arg, t->fail_begin ? -1 : 0,
	    t->fail_begin ? "the database is down" : NULL);
}

static void
trec_begin(void *self, const struct agent_run_meta *m,
    void (*done)(void *, int, const char *), void *arg)
{
	struct trec *t = self;

	ck_assert_ptr_null(t->meta);
	t->meta = json_pack("{s:s, s:s, s:s, s:s, s:O?}", "run_id", m->run_id,
	    "provider", m->provider, "model", m->model, "task", m->task,
	    "params", m->params);
	ck_assert_ptr_nonnull(t->meta);
	t->done = done;
	t->done_arg = arg;
	later_arm(&t->l);
}

static void
trec_message(void *self, const char *run_id, unsigned seq, const char *role,
    const json_t *content, const struct prov_usage *u)
{
	struct trec *t = self;

	ck_assert_ptr_nonnull(t->meta);
	ck_assert_str_eq(run_id, json_string_value(json_object_get(t->meta,
	    "run_id")));
	ck_assert_uint_eq(seq, json_array_size(t->msgs));
	ck_assert_int_eq(t->nfinish, 0);
	json_array_append_new(t->msgs, json_pack("{s:i, s:s, s:O, s:b}",
	    "seq", (int)seq, "role", role, "content", content, "usage",
	    u != NULL));
}

static void
trec_progress(void *self, const char *run_id, const struct agent_totals *x)
{
	((struct trec *)self)->nprogress++;
}

static void
trec_finish(void *self, const char *run_id, const char *status,
    const char *error, const json_t *result, const struct agent_totals *x)
{
	struct trec *t = self;

	t->nfinish++;
	t->status = strdup(status);
	t->error = error ? strdup(error) : NULL;
	t->result = result ? json_deep_copy(result) : NULL;
}

static struct agent_recorder trec_if = {
	.begin = trec_begin, .message = trec_message,
	.progress = trec_progress, .finish = trec_finish,
};

static void
trec_init(struct trec *t)
{
	memset(t, 0, sizeof(*t));
	t->msgs = json_array();
	later_init(&t->l, loop, trec_later, t);
}

static void
trec_free(struct trec *t)
{
	later_cancel(&t->l);
	json_decref(t->meta);
	json_decref(t->msgs);
	json_decref(t->result);
	free(t->status);
	free(t->error);
}

/* The roles of the transcript, "system user assistant tool ...". */
static char *
trec_roles(const struct trec *t)
{
	static char out[1024];
	const json_t *m;
	size_t i;

	out[0] = '\0';
	json_array_foreach(t->msgs, i, m) {
		if (i > 0)
			strncat(out, " ", sizeof(out) - strlen(out) - 1);
		strncat(out, json_string_value(json_object_get(m, "role")),
		    sizeof(out) - strlen(out) - 1);
	}
	return out;
}

/* ---- a run ---- */

struct outcome {
	int			 done;
	enum agent_status	 status;
	char			*error;
	char			*text;
	json_t			*output;
	json_t			*result;
	struct agent_totals	 totals;
	/* events */
	int			 nturns, ntools, nretries;
};

static void
on_done(struct agent *a, const struct agent_result *res, void *arg)
{
	struct outcome *o = arg;

	ck_assert_int_eq(o->done, 0);
	o->done = 1;
	o->status = res->status;
	o->error = res->error ? strdup(res->error) : NULL;
	o->text = strdup(res->text);
	o->output = res->output ? json_deep_copy(res->output) : NULL;
	o->result = res->result ? json_deep_copy(res->result) : NULL;
	o->totals = res->totals;
	ck_assert_str_eq(res->run_id, agent_run_id(a));
}

static void
ev_turn(void *arg, unsigned turn, const struct prov_reply *rp,
    const struct agent_totals *t)
{
	struct outcome *o = arg;

	o->nturns++;
	ck_assert_uint_eq(t->turns, turn);	/* a resumed run goes on */
}

static void
ev_tool(void *arg, const char *tool, const json_t *args, const char *text,
    int is_error, double ms)
{
	((struct outcome *)arg)->ntools++;
	ck_assert(ms >= 0);
}

static void
ev_retry(void *arg, unsigned attempt, long delay_ms, const char *why)
{
	((struct outcome *)arg)->nretries++;
}

static const struct agent_events events = { ev_turn, ev_tool, ev_retry };

static struct outcome	*cur;

static int
cur_done(void)
{
	return cur->done;
}

static void
outcome_free(struct outcome *o)
{
	free(o->error);
	free(o->text);
	json_decref(o->output);
	json_decref(o->result);
}

/* The provider of a fixture: its kind, key and model. */
static void
provider_of(struct agent_provider *pv, enum prov_kind kind)
{
	memset(pv, 0, sizeof(*pv));
	pv->kind = kind;
	pv->base_url = llm_url;
	pv->api_key = kind == PROV_OPENAI ? "sk-test-agent-0001" :
	    "sk-ant-test-agent-0001";
	pv->model = kind == PROV_OPENAI ? "gpt-test" : "claude-test";
}

/* Quick retries: the tests are not about the backoff's length. */
static void
params_init(struct agent_params *pa, const char *task)
{
	memset(pa, 0, sizeof(*pa));
	pa->task = task;
	pa->retry_base_ms = 20;
}

static struct agent *
start(const struct agent_provider *pv, const struct agent_params *pa,
    struct trec *rec, struct outcome *o)
{
	struct agent_env env = { .loop = loop, .http = http, .router = r,
	    .rec = rec ? &trec_if : NULL, .events = &events,
	    .events_arg = o };
	char err[512];
	struct agent *a;

	if (rec)
		trec_if.self = rec;
	memset(o, 0, sizeof(*o));
	a = agent_start(&env, pv, pa, on_done, o, err, sizeof(err));
	ck_assert_msg(a != NULL, "agent_start: %s", err);
	return a;
}

static void
wait_done(struct outcome *o)
{
	cur = o;
	ck_assert_msg(t_run_until(loop, cur_done, WAIT_MS), "the run did not "
	    "end");
}

/* Start a run, run it to its end, free it. */
static void
run(const struct agent_provider *pv, const struct agent_params *pa,
    struct trec *rec, struct outcome *o)
{
	struct agent *a = start(pv, pa, rec, o);

	wait_done(o);
	agent_free(a);
}

static void
assert_error(const struct outcome *o, const char *want)
{
	ck_assert_msg(o->error != NULL && strstr(o->error, want) != NULL,
	    "error '%s', want '%s'", o->error ? o->error : "(none)", want);
}

/* ---- fixtures ---- */

static int
router_is_ready(void)
{
	return router_ready(r);
}

/* The configuration: t/conformance-server as "conf", with its ledger
   (and so one tool that is not read-only). */
static const char *
conf_path(void)
{
	static char path[128];

	snprintf(path, sizeof(path), "%s/c.json", tmpdir);
	return path;
}

static int
write_conf(void)
{
	FILE *f;

	if ((f = fopen(conf_path(), "w")) == NULL)
		return -1;
	fprintf(f, "{\"mcpServers\": {\"conf\": {\"command\": \"%s\", "
	    "\"args\": [\"--ledger\", \"%s/ledger\"]}}}",
	    t_builddir("t/conformance-server"), tmpdir);
	return fclose(f);
}

static void
setup(void)
{
	char err[512];

	cfg = config_load_file(conf_path(), NULL, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	loop = ev_default_loop(0);
	r = router_new(loop, cfg, NULL, NULL, NULL, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_msg(router_start(r, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(t_run_until(loop, router_is_ready, WAIT_MS),
	    "conformance-server not ready");
	ck_assert_ptr_nonnull(http = httpc_new(loop, NULL));
}

static void
teardown(void)
{
	httpc_free(http);
	router_free(r);
	config_free(cfg);
}

/* ---- the text helpers ---- */

START_TEST(patterns)
{
	ck_assert(agent_pattern_match("github.*", "github.getIssue"));
	ck_assert(agent_pattern_match("*.get*", "github.getIssue"));
	ck_assert(agent_pattern_match("*", "a.b"));
	ck_assert(agent_pattern_match("a.b", "a.b"));
	ck_assert(!agent_pattern_match("a.b", "a.bc"));
	ck_assert(!agent_pattern_match("github.*", "githubx.get"));
	ck_assert(agent_pattern_match("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaab"));
	ck_assert(!agent_pattern_match("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

START_TEST(select_tools)
{
	json_t *tools = json_loads("[{\"name\":\"gh.get\",\"annotations\":"
	    "{\"readOnlyHint\":true}},{\"name\":\"gh.put\",\"annotations\":"
	    "{\"readOnlyHint\":false}},{\"name\":\"gh.other\"},{\"name\":"
	    "\"dep.get\",\"annotations\":{\"readOnlyHint\":true}}]", 0, NULL);
	const char *write[] = { "gh.put", "dep.*", NULL };
	const char *typo[] = { "gh.*", "gh.pt", NULL };
	const char *bad[] = { "gh tool", NULL };
	const char *empty[] = { NULL };
	char err[256];
	json_t *s;

	/* no patterns: the read-only ones only */
	ck_assert_ptr_nonnull(s = agent_select_tools(tools, NULL, err,
	    sizeof(err)));
	ck_assert_uint_eq(json_array_size(s), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(s,
	    1), "name")), "dep.get");
	json_decref(s);
	ck_assert_ptr_nonnull(s = agent_select_tools(tools, empty, err,
	    sizeof(err)));
	ck_assert_uint_eq(json_array_size(s), 2);
	json_decref(s);
	/* a write tool is there when named */
	ck_assert_ptr_nonnull(s = agent_select_tools(tools, write, err,
	    sizeof(err)));
	ck_assert_uint_eq(json_array_size(s), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(s,
	    0), "name")), "gh.put");
	json_decref(s);
	ck_assert_ptr_null(agent_select_tools(tools, typo, err, sizeof(err)));
	ck_assert_str_eq(err, "tool pattern 'gh.pt' matches no tool of the "
	    "servers that are up");
	ck_assert_ptr_null(agent_select_tools(tools, bad, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "tool pattern 1: must be"));
	json_decref(tools);
}
END_TEST

static void
strip_is(const char *in, const char *want, size_t want_removed)
{
	size_t len, removed;
	char *out = agent_strip_hidden(in, strlen(in), &len, &removed);

	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, want);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_uint_eq(removed, want_removed);
	free(out);
}

START_TEST(strip_hidden)
{
	strip_is("plain text", "plain text", 0);
	strip_is("a<!-- hidden -->b", "ab", 15);
	strip_is("a<!-- never closed", "a", 17);
	strip_is("<!---->x", "x", 7);
	strip_is("a<!- not one -->", "a<!- not one -->", 0);
	/* zero-width space, RLO, LRI, PDI, BOM, soft hyphen, word joiner */
	strip_is("a\xe2\x80\x8b" "b\xe2\x80\xae" "c\xe2\x81\xa6" "d\xe2\x81\xa9"
	    "e\xef\xbb\xbf" "f\xc2\xad" "g\xe2\x81\xa0" "h", "abcdefgh",
	    3 * 6 + 2);
	/* a Unicode tag run spelling text, and a variation selector */
	strip_is("ok\xf3\xa0\x81\x81\xf3\xa0\x81\x82!\xef\xb8\x8f", "ok!", 11);
	/* visible non-ASCII stays; a bad byte becomes U+FFFD */
	strip_is("caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac", 0);
	strip_is("a\xff" "b", "a\xef\xbf\xbd" "b", 0);
}
END_TEST

START_TEST(bad_params)
{
	struct agent_env env = { .loop = ev_default_loop(0) };
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	char err[256];
	json_t *schema;

	env.http = httpc_new(env.loop, NULL);
	memset(&pv, 0, sizeof(pv));
	pv.kind = PROV_OPENAI;
	pv.base_url = "http://127.0.0.1:1";
	pv.model = "gpt-test";
	params_init(&pa, NULL);
	ck_assert_ptr_null(agent_start(&env, &pv, &pa, on_done, &o, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "agent: a task is needed");
	pa.task = "t";
	pv.base_url = "ftp://x";
	ck_assert_ptr_null(agent_start(&env, &pv, &pa, on_done, &o, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "base URL"));
	pv.base_url = "http://127.0.0.1:1";
	pa.run_id = "not-a-uuid";
	ck_assert_ptr_null(agent_start(&env, &pv, &pa, on_done, &o, err,
	    sizeof(err)));
	ck_assert_str_eq(err, "agent: run_id must be a uuid");
	pa.run_id = NULL;
	schema = json_pack("{s:s}", "type", "objekt");
	pa.output_schema = schema;
	ck_assert_ptr_null(agent_start(&env, &pv, &pa, on_done, &o, err,
	    sizeof(err)));
	json_decref(schema);
	pa.output_schema = NULL;
	pa.budget.max_cost_micro = 1000;
	pv.model = "no-such-model-priced";
	ck_assert_ptr_null(agent_start(&env, &pv, &pa, on_done, &o, err,
	    sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "needs the price of model"));
	/* Anthropic needs a key, and the error does not repeat a bad one */
	pa.budget.max_cost_micro = 0;
	pv.kind = PROV_ANTHROPIC;
	pv.api_key = "sk-bad key\r\nX: y";
	ck_assert_ptr_null(agent_start(&env, &pv, &pa, on_done, &o, err,
	    sizeof(err)));
	ck_assert_ptr_null(strstr(err, "sk-bad"));
	httpc_free(env.http);
}
END_TEST

/* ---- runs ---- */

START_TEST(parallel_calls)
{
	const char *tools[] = { "conf.echo", "conf.add", NULL };
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	struct trec rec;
	const json_t *m;

	llm_load("agent-openai-parallel.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Echo alpha and add 2 and 3.");
	pa.tools = tools;
	trec_init(&rec);
	run(&pv, &pa, &rec, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_ptr_null(o.error);
	ck_assert_str_eq(o.text, "alpha, and 2 + 3 = 5.");
	ck_assert_uint_eq(o.totals.turns, 2);
	ck_assert_uint_eq(o.totals.tool_calls, 2);
	ck_assert_uint_eq(o.totals.usage.input, 680);
	ck_assert_uint_eq(o.totals.usage.output, 52);
	ck_assert_int_eq(o.nturns, 2);
	ck_assert_int_eq(o.ntools, 2);
	llm_check(1);
	/* the recorder: the row, then every message in order, then the end */
	ck_assert_str_eq(trec_roles(&rec), "system user assistant tool tool "
	    "assistant");
	ck_assert_str_eq(json_string_value(json_object_get(rec.meta,
	    "provider")), "openai");
	ck_assert_str_eq(json_string_value(json_object_get(rec.meta, "task")),
	    "Echo alpha and add 2 and 3.");
	m = json_array_get(rec.msgs, 2);
	ck_assert(json_is_true(json_object_get(m, "usage")));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(
	    json_object_get(json_object_get(m, "content"), "tool_calls"), 1),
	    "tool")), "conf.add");
	m = json_object_get(json_array_get(rec.msgs, 3), "content");
	ck_assert_str_eq(json_string_value(json_object_get(m, "tool")),
	    "conf.echo");
	ck_assert_str_eq(json_string_value(json_object_get(m, "text")),
	    "alpha");
	ck_assert_int_eq(rec.nfinish, 1);
	ck_assert_str_eq(rec.status, "succeeded");
	ck_assert_int_ge(rec.nprogress, 2);
	ck_assert_uint_eq(json_array_size(json_object_get(rec.result,
	    "tool_calls")), 2);
	outcome_free(&o);
	trec_free(&rec);
}
END_TEST

START_TEST(tool_error_recovered)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-anthropic-recover.json");
	provider_of(&pv, PROV_ANTHROPIC);
	params_init(&pa, "Try the failing tool, then echo ok.");
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_str_eq(o.text, "Recovered.");
	ck_assert_uint_eq(o.totals.tool_calls, 2);
	ck_assert(json_is_true(json_object_get(json_array_get(json_object_get(
	    o.result, "tool_calls"), 0), "is_error")));
	llm_check(1);
	outcome_free(&o);
}
END_TEST

START_TEST(invalid_arguments)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-openai-invalid.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Count.");
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_str_eq(o.text, "Counted once.");
	ck_assert_uint_eq(o.totals.tool_calls, 4);
	llm_check(1);
	outcome_free(&o);
}
END_TEST

START_TEST(retries)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	double t0 = t_now_ms();
	json_t *rep;

	llm_load("agent-openai-retries.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Say hello.");
	pa.idle_timeout_ms = 400 * t_slow();
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_str_eq(o.text, "Hello at last.");
	ck_assert_uint_eq(o.totals.retries, 4);
	ck_assert_int_eq(o.nretries, 4);
	ck_assert_uint_eq(o.totals.turns, 1);
	/* retry-after: 1 was waited for */
	ck_assert_double_ge(t_now_ms() - t0, 1000.0);
	llm_check(1);
	outcome_free(&o);

	/* two 5xx with one retry allowed: given up, saying why */
	rep = llm_cmd(json_pack("{s:s, s:{s:s, s:s, s:s, s:[{s:{s:s, s:i}}, "
	    "{s:{s:s, s:i}}]}}", "cmd", "load", "conversation", "provider",
	    "openai", "api_key", "sk-test-agent-0001", "model", "gpt-test",
	    "turns", "fault", "kind", "status", "status", 503, "fault", "kind",
	    "status", "status", 500));
	ck_assert(json_is_true(json_object_get(rep, "ok")));
	json_decref(rep);
	pa.max_retries = 1;
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	assert_error(&o, "provider: 500 ");
	assert_error(&o, "(given up after 1 retries)");
	outcome_free(&o);
}
END_TEST

START_TEST(overloaded)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-anthropic-overloaded.json");
	provider_of(&pv, PROV_ANTHROPIC);
	params_init(&pa, "Go.");
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_str_eq(o.text, "Through.");
	ck_assert_uint_eq(o.totals.retries, 2);
	llm_check(1);
	outcome_free(&o);
}
END_TEST

START_TEST(refused_400)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	struct trec rec;

	llm_load("agent-openai-400.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Go.");
	trec_init(&rec);
	run(&pv, &pa, &rec, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	assert_error(&o, "provider: 400 ");
	assert_error(&o, "max_tokens is too large for this model");
	ck_assert_uint_eq(o.totals.retries, 0);
	ck_assert_str_eq(rec.status, "failed");
	ck_assert_str_eq(rec.error, o.error);
	llm_check(1);
	outcome_free(&o);
	trec_free(&rec);
}
END_TEST

START_TEST(wrong_key_not_repeated)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-anthropic-plain.json");
	provider_of(&pv, PROV_ANTHROPIC);
	pv.api_key = "sk-ant-wrong-key-98765";
	params_init(&pa, "Go.");
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	assert_error(&o, "provider: 401 ");
	ck_assert_ptr_null(strstr(o.error, "wrong-key"));
	outcome_free(&o);
}
END_TEST

START_TEST(budget_turns_tokens_cost)
{
	static const char prices[] = "{\"gpt-test\": {\"input\": 1, "
	    "\"output\": 2, \"cache_read\": 0.1, \"cache_write\": 1}}";
	struct prov_prices table;
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	char err[256];
	json_t *pj;

	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Five steps.");

	llm_load("agent-openai-steps.json");
	pa.budget.max_turns = 2;
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "budget: max_turns (2) reached");
	ck_assert_uint_eq(o.totals.turns, 2);
	/* what was done so far: the first turn's call */
	ck_assert_uint_eq(json_array_size(json_object_get(o.result,
	    "tool_calls")), 1);
	llm_check(0);
	outcome_free(&o);

	llm_load("agent-openai-steps.json");
	pa.budget.max_turns = 0;
	pa.budget.max_tokens = 2500;
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "budget: max_tokens (2500) used up: 3300 "
	    "tokens");
	ck_assert_uint_eq(o.totals.turns, 3);
	ck_assert_uint_eq(o.totals.tool_calls, 2);
	llm_check(0);
	outcome_free(&o);

	/* 1,000 x $1 + 100 x $2 per million: 1,200 micro-dollars a turn */
	pj = json_loads(prices, 0, NULL);
	ck_assert_int_eq(prov_prices_parse(&table, pj, err, sizeof(err)), 0);
	json_decref(pj);
	pv.prices = &table;
	llm_load("agent-openai-steps.json");
	pa.budget.max_tokens = 0;
	pa.budget.max_cost_micro = 3000;
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "budget: max_cost_usd (0.003000) used up: "
	    "$0.003600");
	ck_assert_uint_eq(o.totals.cost_micro, 3600);
	llm_check(0);
	outcome_free(&o);

	/* no budget: all six turns */
	llm_load("agent-openai-steps.json");
	pa.budget.max_cost_micro = 0;
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_uint_eq(o.totals.cost_micro, 7200);
	llm_check(1);
	outcome_free(&o);
	prov_prices_free(&table);
}
END_TEST

START_TEST(budget_wall)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-openai-slow.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Go.");
	pa.budget.max_wall_ms = 300;
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "budget: max_wall_ms (300) passed");
	ck_assert_uint_eq(o.totals.turns, 0);
	/* the request in flight was abandoned: its connection closed */
	llm_wait_closed(1);
	outcome_free(&o);
}
END_TEST

START_TEST(budget_output_cut)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-anthropic-cut.json");
	provider_of(&pv, PROV_ANTHROPIC);
	params_init(&pa, "Go on.");
	pa.max_output_tokens = 64;
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "budget: the reply was cut at "
	    "max_output_tokens (64)");
	ck_assert_str_eq(o.text, "This answer goes on and on");
	llm_check(1);
	outcome_free(&o);
}
END_TEST

START_TEST(loop_detected)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-openai-loop.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Echo.");
	run(&pv, &pa, NULL, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "loop detected: conf.echo called 4 times "
	    "with the same arguments and the same result");
	ck_assert_uint_eq(o.totals.turns, 4);
	ck_assert_uint_eq(o.totals.tool_calls, 4);
	llm_check(1);
	outcome_free(&o);
}
END_TEST

static size_t	want_requests;

static int
llm_got_requests(void)
{
	return llm_nrequests() >= want_requests;
}

START_TEST(cancel_request)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	struct trec rec;
	struct agent *a;

	llm_load("agent-openai-slow.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Go.");
	trec_init(&rec);
	a = start(&pv, &pa, &rec, &o);
	want_requests = 1;
	ck_assert(t_run_until(loop, llm_got_requests, WAIT_MS));
	agent_cancel(a, "SIGTERM");
	agent_cancel(a, "twice");	/* no-op */
	ck_assert_int_eq(o.done, 0);	/* done comes from the loop */
	wait_done(&o);
	ck_assert_int_eq(o.status, AGENT_CANCELLED);
	ck_assert_str_eq(o.error, "cancelled: SIGTERM");
	ck_assert_str_eq(rec.status, "cancelled");
	llm_wait_closed(1);
	agent_free(a);
	outcome_free(&o);
	trec_free(&rec);
}
END_TEST

static int
tool_in_flight(void)
{
	return router_calls_in_flight(r) == 1;
}

static int
no_tool_in_flight(void)
{
	return router_calls_in_flight(r) == 0;
}

/* Cancelled in its tool call, then resumed from the transcript. */
START_TEST(cancel_tool_then_resume)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct agent_totals was;
	struct outcome o;
	struct trec rec, rec2;
	struct agent *a;
	json_t *tr, *m;
	size_t i;

	llm_load("agent-openai-resume.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Sleep a long time.");
	trec_init(&rec);
	a = start(&pv, &pa, &rec, &o);
	ck_assert(t_run_until(loop, tool_in_flight, WAIT_MS));
	agent_cancel(a, "workflow cancelled");
	wait_done(&o);
	ck_assert(t_run_until(loop, no_tool_in_flight, WAIT_MS));
	ck_assert_int_eq(o.status, AGENT_CANCELLED);
	ck_assert_str_eq(trec_roles(&rec), "system user assistant");
	was = o.totals;
	agent_free(a);
	outcome_free(&o);

	/* the transcript as a recorder keeps it, back into a new run */
	tr = json_array();
	json_array_foreach(rec.msgs, i, m)
		json_array_append_new(tr, json_pack("{s:O, s:O}", "role",
		    json_object_get(m, "role"), "content",
		    json_object_get(m, "content")));
	params_init(&pa, NULL);
	pa.resume = tr;
	pa.resumed_from = json_string_value(json_object_get(rec.meta,
	    "run_id"));
	pa.resume_totals = &was;
	trec_init(&rec2);
	run(&pv, &pa, &rec2, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_str_eq(o.text, "Resumed and done.");
	ck_assert_uint_eq(o.totals.turns, 2);	/* 1 before, 1 now */
	ck_assert_str_eq(trec_roles(&rec2), "system user assistant tool "
	    "assistant");
	ck_assert_str_ne(json_string_value(json_object_get(rec2.meta,
	    "run_id")), pa.resumed_from);
	llm_check(1);
	json_decref(tr);
	outcome_free(&o);
	trec_free(&rec);
	trec_free(&rec2);
}
END_TEST

START_TEST(structured_output)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	json_t *schema = json_loads("{\"type\": \"object\", \"properties\": "
	    "{\"answer\": {\"type\": \"integer\"}}, \"required\": "
	    "[\"answer\"], \"additionalProperties\": false}", 0, NULL);

	llm_load("agent-anthropic-schema.json");
	provider_of(&pv, PROV_ANTHROPIC);
	params_init(&pa, "What is 3 + 4?");
	pa.output_schema = schema;
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_ptr_nonnull(o.output);
	ck_assert_int_eq(json_integer_value(json_object_get(o.output,
	    "answer")), 7);
	ck_assert(json_equal(json_object_get(o.result, "output"), o.output));
	llm_check(1);
	outcome_free(&o);
	json_decref(schema);
}
END_TEST

START_TEST(hidden_and_trimmed)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	json_t *rep, *msgs, *m, *tm;
	char *body;
	size_t i;

	llm_load("agent-openai-hidden.json");
	provider_of(&pv, PROV_OPENAI);
	params_init(&pa, "Read.");
	pa.max_result_bytes = 1024;
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	llm_check(1);
	/* the tool messages of the second request (the model's own call,
	   in the assistant message, still has what it wrote) */
	rep = llm_requests();
	msgs = json_object_get(json_object_get(json_array_get(json_object_get(
	    rep, "requests"), 1), "body"), "messages");
	tm = json_array();
	json_array_foreach(msgs, i, m)
		if (strcmp(json_string_value(json_object_get(m, "role")),
		    "tool") == 0)
			json_array_append(tm, m);
	ck_assert_uint_eq(json_array_size(tm), 2);
	body = json_dumps(tm, JSON_ENSURE_ASCII);
	json_decref(tm);
	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_null(strstr(body, "ignore all previous"));
	ck_assert_ptr_null(strstr(body, "\\u200b"));
	ck_assert_ptr_null(strstr(body, "\\u202e"));
	ck_assert_ptr_nonnull(strstr(body, "the first "));
	free(body);
	json_decref(rep);
	outcome_free(&o);
}
END_TEST

START_TEST(whole_replies)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;

	llm_load("agent-anthropic-plain.json");
	provider_of(&pv, PROV_ANTHROPIC);
	params_init(&pa, "Echo plain.");
	pa.no_stream = 1;
	run(&pv, &pa, NULL, &o);
	ck_assert_msg(o.status == AGENT_SUCCEEDED, "%s", o.error);
	ck_assert_str_eq(o.text, "Plainly done.");
	llm_check(1);
	outcome_free(&o);
}
END_TEST

/* The row could not be written: no tool call is made. */
START_TEST(recorder_refuses)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct outcome o;
	struct trec rec;

	llm_load("agent-anthropic-plain.json");
	provider_of(&pv, PROV_ANTHROPIC);
	params_init(&pa, "Echo plain.");
	pa.no_stream = 1;
	trec_init(&rec);
	rec.fail_begin = 1;
	run(&pv, &pa, &rec, &o);
	ck_assert_int_eq(o.status, AGENT_FAILED);
	ck_assert_str_eq(o.error, "recording: the database is down");
	ck_assert_uint_eq(o.totals.tool_calls, 0);
	outcome_free(&o);
	trec_free(&rec);
}
END_TEST

/* Default tools: read-only ones; the ledger's record (a write) only when
   named. */
START_TEST(default_tools_read_only)
{
	json_t *all = router_tools(r), *t;
	const char *w[] = { "conf.record", NULL };
	char err[256];
	size_t i;
	int found = 0;

	ck_assert_ptr_nonnull(t = agent_select_tools(all, NULL, err,
	    sizeof(err)));
	ck_assert_uint_eq(json_array_size(t), json_array_size(all) - 1);
	for (i = 0; i < json_array_size(t); i++)
		found |= strcmp(json_string_value(json_object_get(
		    json_array_get(t, i), "name")), "conf.record") == 0;
	ck_assert(!found);
	json_decref(t);
	ck_assert_ptr_nonnull(t = agent_select_tools(all, w, err,
	    sizeof(err)));
	ck_assert_uint_eq(json_array_size(t), 1);
	json_decref(t);
	json_decref(all);
}
END_TEST

/* ---- afu9 agent run ---- */

static void
cli_env_clear(void)
{
	static const char *const vars[] = { "OPENAI_API_KEY",
	    "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
	    "AFU9_AGENT_PROVIDER", "AFU9_AGENT_MODEL", "AFU9_AGENT_PRICES",
	    "DATABASE_URL", "AFU9_CONFIG" };
	size_t i;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
		unsetenv(vars[i]);
}

static void
cli_openai(void)
{
	char url[96];

	cli_env_clear();
	snprintf(url, sizeof(url), "%s/v1", llm_url);
	setenv("OPENAI_BASE_URL", url, 1);	/* the SDKs' form */
	setenv("OPENAI_API_KEY", "sk-test-agent-0001", 1);
	setenv("AFU9_AGENT_MODEL", "gpt-test", 1);
}

static void
has(const char *text, const char *want)
{
	ck_assert_msg(strstr(text, want) != NULL, "'%s' not in:\n%s", want,
	    text);
}

START_TEST(cli_run)
{
	const char *args[] = { "agent", "run", "--config", conf_path(),
	    "--task", "Echo alpha and add 2 and 3.", "--tools",
	    "conf.echo,conf.add", NULL };
	char *out, *err;

	llm_load("agent-openai-parallel.json");
	cli_openai();
	ck_assert_int_eq(ot_run_afu9(args, &out, &err), 0);
	ck_assert_str_eq(out, "alpha, and 2 + 3 = 5.\n");
	has(err, "openai gpt-test");
	has(err, "turn 1: 300 in, 40 out, 0 cached tokens; $0.000000 so far; "
	    "2 tool calls");
	has(err, "  conf.echo ok (");
	has(err, "  conf.add ok (");
	has(err, "succeeded: 2 turns, 2 tool calls, 680 tokens in, 52 out");
	has(err, "nothing recorded (DATABASE_URL is not set)");
	llm_check(1);
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_budget)
{
	const char *args[] = { "agent", "run", "--config", conf_path(),
	    "--task", "Five steps.", "--max-cost", "0.003", NULL };
	const char *turns[] = { "agent", "run", "--config", conf_path(),
	    "--task", "Five steps.", "--max-turns", "1", NULL };
	char *out, *err;

	llm_load("agent-openai-steps.json");
	cli_openai();
	setenv("AFU9_AGENT_PRICES", "{\"gpt-test\": {\"input\": 1, "
	    "\"output\": 2, \"cache_read\": 0.1, \"cache_write\": 1}}", 1);
	ck_assert_int_eq(ot_run_afu9(args, &out, &err), 1);
	ck_assert_str_eq(out, "");
	has(err, "turn 3: 1000 in, 100 out, 0 cached tokens; $0.003600 so "
	    "far");
	has(err, "afu9: budget: max_cost_usd (0.003000) used up: $0.003600");
	free(out);
	free(err);
	llm_load("agent-openai-steps.json");
	ck_assert_int_eq(ot_run_afu9(turns, &out, &err), 1);
	has(err, "afu9: budget: max_turns (1) reached");
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_output_schema)
{
	const char *args[] = { "agent", "run", "--config", conf_path(),
	    "--task", "What is 3 + 4?", "--model", "claude-test",
	    "--output-schema", NULL, NULL };
	char path[128], *out, *err;
	FILE *f;

	snprintf(path, sizeof(path), "%s/schema.json", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("{\"type\": \"object\", \"properties\": {\"answer\": "
	    "{\"type\": \"integer\"}}, \"required\": [\"answer\"]}", f);
	fclose(f);
	args[9] = path;
	llm_load("agent-anthropic-schema.json");
	cli_env_clear();
	setenv("ANTHROPIC_BASE_URL", llm_url, 1);
	setenv("ANTHROPIC_API_KEY", "sk-ant-test-agent-0001", 1);
	ck_assert_int_eq(ot_run_afu9(args, &out, &err), 0);
	ck_assert_str_eq(out, "{\n  \"answer\": 7\n}\n");
	llm_check(1);
	unlink(path);
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_sigterm)
{
	const char *args[] = { "agent", "run", "--config", conf_path(),
	    "--task", "Go.", NULL };
	struct tproc p;
	char *out, *err;
	double until;

	llm_load("agent-openai-slow.json");
	cli_openai();
	ot_spawn_afu9(&p, args);
	until = t_now_ms() + WAIT_MS;
	while (llm_nrequests() < 1 && t_now_ms() < until)
		usleep(20000);
	ck_assert_uint_eq(llm_nrequests(), 1);
	ck_assert_int_eq(kill(p.pid, SIGTERM), 0);
	ck_assert_int_eq(ot_reap_afu9(&p, &out, &err), 4);
	has(err, "cancelled: 0 turns");
	has(err, "afu9: cancelled: SIGTERM");
	llm_wait_closed(1);
	free(out);
	free(err);
}
END_TEST

START_TEST(cli_usage_and_keys)
{
	const char *noprov[] = { "agent", "run", "--task", "x", NULL };
	const char *notask[] = { "agent", "run", NULL };
	const char *cost[] = { "agent", "run", "--task", "x", "--max-cost",
	    "0.1234567", NULL };
	const char *run[] = { "agent", "run", "--config", conf_path(),
	    "--task", "Go.", "--model", "claude-test", NULL };
	char *out, *err;

	cli_env_clear();
	ck_assert_int_eq(ot_run_afu9(noprov, &out, &err), 2);
	has(err, "afu9: no model provider: set ANTHROPIC_API_KEY");
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(notask, &out, &err), 2);
	has(err, "--task is required");
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(cost, &out, &err), 2);
	has(err, "--max-cost: dollars, at most 6 decimals");
	free(out);
	free(err);
	/* a wrong key: the provider's 401, the key itself nowhere */
	llm_load("agent-anthropic-plain.json");
	setenv("ANTHROPIC_BASE_URL", llm_url, 1);
	setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-key-4242", 1);
	ck_assert_int_eq(ot_run_afu9(run, &out, &err), 1);
	has(err, "afu9: provider: 401 ");
	ck_assert_ptr_null(strstr(err, "wrong-key-4242"));
	ck_assert_ptr_null(strstr(out, "wrong-key-4242"));
	free(out);
	free(err);
}
END_TEST

/* With a database: the row, the transcript and the audit rows of the
   calls, which name the run. */
START_TEST(cli_recorded)
{
	const char *mig[] = { "migrate", "up", NULL };
	const char *args[] = { "agent", "run", "--config", conf_path(),
	    "--task", "Echo alpha and add 2 and 3.", "--tools",
	    "conf.echo,conf.add", NULL };
	struct pgtest *pg = pgt_start_db("agentcli");
	char *ci = pgt_conninfo(pg, "agentcli"), *out, *err, *id;
	PGconn *db;
	PGresult *res;

	llm_load("agent-openai-parallel.json");
	cli_openai();
	setenv("DATABASE_URL", ci, 1);
	ck_assert_int_eq(ot_run_afu9(mig, &out, &err), 0);
	free(out);
	free(err);
	ck_assert_int_eq(ot_run_afu9(args, &out, &err), 0);
	has(err, "(recorded in agent_runs)");
	ck_assert_ptr_nonnull(id = strstr(err, "run "));
	id = strndup(id + 4, 36);
	llm_check(1);
	db = PQconnectdb(ci);
	ck_assert_int_eq(PQstatus(db), CONNECTION_OK);
	res = PQexecParams(db, "SELECT r.status || ' ' || r.turns || ' ' || "
	    "r.tool_calls || ' ' || r.provider || ' ' || r.model || ' ' || "
	    "(SELECT count(*) FROM agent_messages m WHERE m.run_id = r.id) "
	    "|| ' ' || (SELECT count(*) FROM mcp_tool_calls c WHERE "
	    "c.agent_run_id = r.id AND c.caller = 'agent') FROM agent_runs r "
	    "WHERE r.id = $1::uuid", 1, NULL, (const char *const *)&id, NULL,
	    NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK &&
	    PQntuples(res) == 1, "%s", PQerrorMessage(db));
	ck_assert_str_eq(PQgetvalue(res, 0, 0), "succeeded 2 2 openai "
	    "gpt-test 6 2");
	PQclear(res);
	PQfinish(db);
	free(id);
	free(out);
	free(err);
	free(ci);
	pgt_stop(pg);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("agent");
	TCase *unit = tcase_create("text");
	TCase *tc = tcase_create("runs");
	TCase *cli = tcase_create("cli");
	char *line, path[128];
	int rc;

	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/afu9-agent.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 99;
	line = fc_tool_start(&llm, "t/llmserver.py", 20000);
	if (line == NULL || (llm_port = atoi(line)) <= 0) {
		fprintf(stderr, "cannot start t/llmserver.py\n");
		return 99;
	}
	free(line);
	snprintf(llm_url, sizeof(llm_url), "http://127.0.0.1:%d", llm_port);
	if (write_conf() == -1)
		return 99;

	tcase_add_test(unit, patterns);
	tcase_add_test(unit, select_tools);
	tcase_add_test(unit, strip_hidden);
	tcase_add_test(unit, bad_params);
	suite_add_tcase(s, unit);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, parallel_calls);
	tcase_add_test(tc, tool_error_recovered);
	tcase_add_test(tc, invalid_arguments);
	tcase_add_test(tc, retries);
	tcase_add_test(tc, overloaded);
	tcase_add_test(tc, refused_400);
	tcase_add_test(tc, wrong_key_not_repeated);
	tcase_add_test(tc, budget_turns_tokens_cost);
	tcase_add_test(tc, budget_wall);
	tcase_add_test(tc, budget_output_cut);
	tcase_add_test(tc, loop_detected);
	tcase_add_test(tc, cancel_request);
	tcase_add_test(tc, cancel_tool_then_resume);
	tcase_add_test(tc, structured_output);
	tcase_add_test(tc, hidden_and_trimmed);
	tcase_add_test(tc, whole_replies);
	tcase_add_test(tc, recorder_refuses);
	tcase_add_test(tc, default_tools_read_only);
	suite_add_tcase(s, tc);

	tcase_set_timeout(cli, 120);
	tcase_add_test(cli, cli_run);
	tcase_add_test(cli, cli_budget);
	tcase_add_test(cli, cli_output_schema);
	tcase_add_test(cli, cli_sigterm);
	tcase_add_test(cli, cli_usage_and_keys);
	tcase_add_test(cli, cli_recorded);
	suite_add_tcase(s, cli);
	signal(SIGPIPE, SIG_IGN);
	rc = t_run(s);
	close(llm.in);
	t_finish(&llm, 10000);
	snprintf(path, sizeof(path), "%s/c.json", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/ledger", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	return rc;
}
