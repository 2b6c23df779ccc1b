/*
 * engine/defn: workflow definitions accepted and refused (with the exact
 * message a user sees), tool checks through a fake tools/list, bounds,
 * input checks, backoff and names.
 *
 * Definitions are written with ' for " and ` for ' (the quotes of
 * expression strings), so they read as the JSON they are.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "engine/defn.h"
#include "engine/expr.h"
#include "testutil.h"

/* The tools a router would list, as "server.tool" entries. */
static const char tools_json[] =
    "[{'name':'deploy.updateService','inputSchema':{'type':'object',"
    "'properties':{'cluster':{'type':'string'},'service':{'type':'string'},"
    "'replicas':{'type':'integer','minimum':1,'maximum':10},"
    "'tags':{'type':'array','items':{'type':'string'}}},"
    "'required':['cluster','service'],'additionalProperties':false}},"
    "{'name':'deploy.getStatus','inputSchema':{'type':'object',"
    "'properties':{'cluster':{'type':'string'}},'required':['cluster']},"
    "'annotations':{'readOnlyHint':true}},"
    "{'name':'github.merge','inputSchema':{'type':'object','properties':"
    "{'number':{'type':'integer'}}},'annotations':{'readOnlyHint':false}},"
    "{'name':'github.get_issue','inputSchema':{'type':'object',"
    "'properties':{'number':{'type':'integer'}},"
    "'additionalProperties':{'type':'string'}},"
    "'annotations':{'readOnlyHint':true,'title':'Get an issue'}},"
    "{'name':'obs.query','inputSchema':{'type':'object','properties':"
    "{'q':{'type':'string','format':'uri'}}}},"
    "{'name':'github.comment','inputSchema':{'type':'object','properties':"
    "{'body':{'type':'string'},'idempotencyKey':{'type':'string'}},"
    "'required':['body','idempotencyKey']}}]";

/* Around a steps fragment: a name and this inputs schema. */
#define INPUTS	"{'type':'object','properties':{'cluster':{'type':'string'}," \
		"'service':{'type':'string'},'n':{'type':'integer'}}," \
		"'required':['cluster']}"

static json_t	*tools;
static int	 lookups;

static const json_t *
lookup(const char *qname, void *arg)
{
	const json_t *t;
	size_t i;

	ck_assert_ptr_eq(arg, &lookups);
	lookups++;
	json_array_foreach(tools, i, t)
		if (strcmp(json_string_value(json_object_get(t, "name")),
		    qname) == 0)
			return t;
	return NULL;
}

/* JSON from the test's notation: ' is ", ` is '. */
static json_t *
jq(const char *text)
{
	json_error_t je;
	json_t *v;
	char *s, *p;

	ck_assert_ptr_nonnull(s = strdup(text));
	for (p = s; *p != '\0'; p++)
		*p = *p == '\'' ? '"' : *p == '`' ? '\'' : *p;
	v = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	ck_assert_msg(v != NULL, "%s: %s", s, je.text);
	free(s);
	return v;
}

static json_t *
doc_of(const char *steps)
{
	char *s;
	json_t *v;

	ck_assert_int_ne(asprintf(&s, "{'name':'w','inputs':" INPUTS
	    ",'steps':[%s]}", steps), -1);
	v = jq(s);
	free(s);
	return v;
}

static void
setup(void)
{
	tools = jq(tools_json);
	lookups = 0;
}

static void
teardown(void)
{
	json_decref(tools);
}

/* NULL when doc (stolen) is accepted, else the message (malloc'd). */
static char *
verdict(json_t *doc, int with_tools)
{
	char err[DEFN_ERR_MAX];
	struct defn *d;

	strcpy(err, "(no message)");
	errno = 0;
	d = defn_parse(doc, with_tools ? lookup : NULL, &lookups, err,
	    sizeof(err));
	json_decref(doc);
	if (d != NULL) {
		defn_free(d);
		return NULL;
	}
	/* a refusal, never taken for want of memory */
	ck_assert_int_eq(errno, EINVAL);
	return strdup(err);
}

#define ACCEPT_DOC(doc, with_tools) do {				\
	char *m_ = verdict((doc), (with_tools));			\
	ck_assert_msg(m_ == NULL, "refused: %s", m_);			\
} while (0)

#define REFUSE_DOC(doc, with_tools, want) do {				\
	char *m_ = verdict((doc), (with_tools));			\
	ck_assert_msg(m_ != NULL, "accepted, not refused with: %s", (want)); \
	ck_assert_msg(strcmp(m_, (want)) == 0, "got: %s\nwant: %s", m_,	\
	    (want));							\
	free(m_);							\
} while (0)

#define ACCEPT(steps)		ACCEPT_DOC(doc_of(steps), 1)
#define REFUSE(steps, want)	REFUSE_DOC(doc_of(steps), 1, (want))

/* A tool step calling deploy.updateService, and its required arguments. */
#define DEPLOY(id, extra) "{'id':'" id "','type':'tool','tool':" \
	"'deploy.updateService','arguments':{'cluster':'c','service':'s'}" \
	extra "}"
#define SLEEP(id) "{'id':'" id "','type':'sleep','duration_ms':0}"

/* Every step type, every field; what the parse keeps. */
START_TEST(accepted_whole)
{
	char err[DEFN_ERR_MAX];
	const struct defn_step *s;
	struct defn *d;
	json_t *doc, *ctx;

	doc = jq("{'name':'deploy_and_verify','version':3,'description':"
	    "'Deploy, then wait','inputs':" INPUTS ",'steps':["
	    "{'id':'ask','type':'approval','message':'Deploy ${{ "
	    "inputs.service }} to ${{ inputs.cluster }}?'},"
	    "{'id':'deploy','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'${{ inputs.cluster }}','service':"
	    "'${{ inputs.service }}','replicas':3,'tags':['a',"
	    "'${{ execution.id }}']},'retry':{'max_attempts':5,"
	    "'initial_interval_ms':500,'backoff_coefficient':1.5,"
	    "'max_interval_ms':4000,'non_retryable':['tool','rejected']},"
	    "'timeout_ms':30000,'on_error':{'goto':'rollback'}},"
	    "{'id':'settle','type':'sleep','duration_ms':10000},"
	    "{'id':'ready','type':'wait','tool':'deploy.getStatus',"
	    "'arguments':{'cluster':'${{ inputs.cluster }}'},'interval_ms':"
	    "5000,'timeout_ms':600000,'until':'${{ steps.ready.output.state "
	    "== `ACTIVE` }}','if':'${{ steps.deploy.status == `succeeded` }}'},"
	    "{'id':'at','type':'sleep','until':'2025-06-01T09:00:00Z',"
	    "'on_error':'continue'},"
	    "{'id':'later','type':'sleep','until':"
	    "'${{ steps.deploy.output.resume_at }}','on_error':'fail'},"
	    "{'id':'rollback','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'${{ inputs.cluster }}','service':"
	    "'${{ inputs.service }}','replicas':1},'if':'${{ "
	    "steps.deploy.status == `failed` && env.STAGE == `prod` }}'}],"
	    "'output':{'deployed':'${{ steps.deploy.output }}','last':"
	    "'${{ steps.rollback.status }}'}}");
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_int_eq(lookups, 3);
	ck_assert_str_eq(d->name, "deploy_and_verify");
	ck_assert_uint_eq(d->version, 3);
	ck_assert_str_eq(d->description, "Deploy, then wait");
	ck_assert_ptr_eq(d->doc, doc);
	ck_assert(json_equal(d->inputs, json_object_get(doc, "inputs")));
	ck_assert(json_equal(d->output, json_object_get(doc, "output")));
	ck_assert_uint_eq(d->nsteps, 7);
	ck_assert_int_eq(defn_step_index(d, "ready"), 3);
	ck_assert_int_eq(defn_step_index(d, "rollback"), 6);
	ck_assert_int_eq(defn_step_index(d, "nope"), -1);

	s = &d->steps[0];
	ck_assert_str_eq(s->id, "ask");
	ck_assert_int_eq(s->type, STEP_APPROVAL);
	ck_assert_str_eq(json_string_value(s->message),
	    "Deploy ${{ inputs.service }} to ${{ inputs.cluster }}?");
	ck_assert_ptr_null(s->cond);
	ck_assert_int_eq(s->on_error, ONERR_FAIL);

	s = &d->steps[1];
	ck_assert_int_eq(s->type, STEP_TOOL);
	ck_assert_str_eq(s->tool, "deploy.updateService");
	ck_assert(json_equal(s->arguments, json_object_get(json_array_get(
	    json_object_get(doc, "steps"), 1), "arguments")));
	ck_assert_uint_eq(s->retry.max_attempts, 5);
	ck_assert_uint_eq(s->retry.initial_interval_ms, 500);
	ck_assert(s->retry.backoff_coefficient == 1.5);
	ck_assert_uint_eq(s->retry.max_interval_ms, 4000);
	ck_assert_uint_eq(s->retry.non_retryable,
	    (1u << EK_TOOL) | (1u << EK_REJECTED));
	ck_assert_uint_eq(s->timeout_ms, 30000);
	ck_assert_int_eq(s->on_error, ONERR_GOTO);
	ck_assert_uint_eq(s->goto_index, 6);

	s = &d->steps[2];			/* the defaults */
	ck_assert_int_eq(s->type, STEP_SLEEP);
	ck_assert_int_eq(s->has_duration, 1);
	ck_assert_uint_eq(s->duration_ms, 10000);
	ck_assert_uint_eq(s->retry.max_attempts, 1);
	ck_assert_uint_eq(s->retry.initial_interval_ms, 1000);
	ck_assert(s->retry.backoff_coefficient == 2);
	ck_assert_uint_eq(s->retry.max_interval_ms, 60000);
	ck_assert_uint_eq(s->retry.non_retryable, 0);
	ck_assert_uint_eq(s->timeout_ms, 0);
	ck_assert_ptr_null(s->tool);
	ck_assert_ptr_null(s->arguments);

	s = &d->steps[3];
	ck_assert_int_eq(s->type, STEP_WAIT);
	ck_assert_str_eq(s->tool, "deploy.getStatus");
	ck_assert_uint_eq(s->interval_ms, 5000);
	ck_assert_uint_eq(s->timeout_ms, 600000);
	ck_assert_ptr_nonnull(s->cond);
	ctx = jq("{'steps':{'deploy':{'status':'succeeded'},'ready':"
	    "{'output':{'state':'ACTIVE'}}}}");
	ck_assert_int_eq(expr_test(s->cond, ctx, err, sizeof(err)), 1);
	ck_assert_int_eq(expr_test(s->until, ctx, err, sizeof(err)), 1);
	json_decref(ctx);

	s = &d->steps[4];
	ck_assert_int_eq(s->has_duration, 0);
	ck_assert_str_eq(s->until_text, "2025-06-01T09:00:00Z");
	ck_assert_ptr_null(s->until);
	ck_assert_int_eq(s->on_error, ONERR_CONTINUE);

	s = &d->steps[5];
	ck_assert_ptr_nonnull(s->until);
	ck_assert_ptr_null(s->until_text);
	ck_assert_int_eq(s->on_error, ONERR_FAIL);

	ck_assert_ptr_nonnull(d->steps[6].cond);
	defn_free(d);
	/* the definition held its own reference */
	ck_assert_int_eq(doc->refcount, 1);
	json_decref(doc);
	defn_free(NULL);
}
END_TEST

/* The document's own fields. */
START_TEST(top_level)
{
	REFUSE_DOC(jq("[]"), 1, "a definition must be a JSON object");
	REFUSE_DOC(jq("{'steps':[" SLEEP("a") "]}"), 1,
	    "field 'name': missing");
	REFUSE_DOC(jq("{'name':'-w','steps':[" SLEEP("a") "]}"), 1,
	    "field 'name': must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
	REFUSE_DOC(jq("{'name':'a b','steps':[" SLEEP("a") "]}"), 1,
	    "field 'name': must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
	REFUSE_DOC(jq("{'name':7,'steps':[" SLEEP("a") "]}"), 1,
	    "field 'name': must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");
	ACCEPT_DOC(jq("{'name':'9.w_x-1','steps':[" SLEEP("a") "]}"), 1);
	REFUSE_DOC(jq("{'name':'w','stpes':[]}"), 1, "unknown field 'stpes'");
	REFUSE_DOC(jq("{'name':'w','steps':[" SLEEP("a") "],'enabled':true}"),
	    1, "unknown field 'enabled'");
	REFUSE_DOC(jq("{'name':'w','version':0,'steps':[" SLEEP("a") "]}"), 1,
	    "field 'version': must be an integer from 1 to 2147483647");
	REFUSE_DOC(jq("{'name':'w','version':'3','steps':[" SLEEP("a") "]}"),
	    1, "field 'version': must be an integer from 1 to 2147483647");
	REFUSE_DOC(jq("{'name':'w','version':2147483648,'steps':[" SLEEP("a")
	    "]}"), 1, "field 'version': must be an integer from 1 to "
	    "2147483647");
	ACCEPT_DOC(jq("{'name':'w','version':2147483647,'steps':[" SLEEP("a")
	    "]}"), 1);
	REFUSE_DOC(jq("{'name':'w','description':5,'steps':[" SLEEP("a")
	    "]}"), 1, "field 'description': must be a string");
	REFUSE_DOC(jq("{'name':'w'}"), 1, "field 'steps': missing");
	REFUSE_DOC(jq("{'name':'w','steps':[]}"), 1,
	    "field 'steps': must be an array of 1 to 256 steps");
	REFUSE_DOC(jq("{'name':'w','steps':{}}"), 1,
	    "field 'steps': must be an array of 1 to 256 steps");
	/* inputs: a schema of an object, in the jschema subset */
	REFUSE_DOC(jq("{'name':'w','inputs':[],'steps':[" SLEEP("a") "]}"), 1,
	    "field 'inputs': must be a JSON Schema object");
	REFUSE_DOC(jq("{'name':'w','inputs':{'type':'string'},'steps':["
	    SLEEP("a") "]}"), 1, "field 'inputs': the input is an object "
	    "(\"type\": \"object\")");
	REFUSE_DOC(jq("{'name':'w','inputs':{'properties':{'x':{'format':"
	    "'uri'}}},'steps':[" SLEEP("a") "]}"), 1, "field 'inputs': "
	    "schema /properties/x: unknown keyword 'format'");
	ACCEPT_DOC(jq("{'name':'w','inputs':{'properties':{'x':{}}},"
	    "'steps':[" SLEEP("a") "]}"), 1);
	/* output: templates, referring to any step, not to unknown ones */
	ACCEPT_DOC(jq("{'name':'w','steps':[" SLEEP("a") "," SLEEP("b") "],"
	    "'output':['${{ steps.b.status }}',{'x':'${{ steps.a.output }}'},"
	    "3,null]}"), 1);
	REFUSE_DOC(jq("{'name':'w','steps':[" SLEEP("a") "],'output':"
	    "{'r':'${{ steps.nope.output }}'}}"), 1,
	    "field 'output.r': reference to unknown step 'nope'");
	REFUSE_DOC(jq("{'name':'w','steps':[" SLEEP("a") "],'output':"
	    "'${{ steps.a.output'}"), 1, "field 'output': '${{' without its "
	    "'}}' in \"${{ steps.a.output\"");
}
END_TEST

/* Ids, types, fields of a step. */
START_TEST(step_shape)
{
	json_t *doc;
	char key[128];

	REFUSE("5", "step 1: must be an object");
	REFUSE(SLEEP("a") ",{'type':'sleep','duration_ms':0}",
	    "step 2: field 'id': missing");
	REFUSE(SLEEP("a") "," SLEEP("b") ",{'id':'3x','type':'sleep',"
	    "'duration_ms':0}",
	    "step 3: field 'id': must match ^[A-Za-z_][A-Za-z0-9_-]{0,63}$");
	REFUSE("{'id':'a.b','type':'sleep','duration_ms':0}",
	    "step 1: field 'id': must match ^[A-Za-z_][A-Za-z0-9_-]{0,63}$");
	REFUSE("{'id':7,'type':'sleep','duration_ms':0}",
	    "step 1: field 'id': must match ^[A-Za-z_][A-Za-z0-9_-]{0,63}$");
	ACCEPT("{'id':'_a-9','type':'sleep','duration_ms':0}");
	REFUSE(SLEEP("a") "," SLEEP("b") "," SLEEP("a"),
	    "step 'a': duplicate step id");
	/* ids are all taken first: a bad id after a bad step wins */
	REFUSE("{'id':'a','type':'nope'},{'id':''}",
	    "step 2: field 'id': must match ^[A-Za-z_][A-Za-z0-9_-]{0,63}$");
	REFUSE("{'id':'a'}", "step 'a': field 'type': missing");
	REFUSE("{'id':'a','type':'script'}", "step 'a': field 'type': "
	    "unknown step type 'script' (tool, approval, sleep, wait, "
	    "agent)");
	REFUSE("{'id':'a','type':5}", "step 'a': field 'type': must be a "
	    "string");
	REFUSE("{'id':'r','type':'agent','prompt':'fix it'}",
	    "step 'r': unknown field 'prompt'");
	REFUSE("{'id':'x','type':'tool','tool':'deploy.updateService',"
	    "'argments':{}}", "step 'x': unknown field 'argments'");
	REFUSE("{'id':'s','type':'sleep','duration_ms':0,'tool':'a.b'}",
	    "step 's': field 'tool': not a field of a sleep step");
	REFUSE("{'id':'s','type':'sleep','duration_ms':0,'timeout_ms':5}",
	    "step 's': field 'timeout_ms': not a field of a sleep step");
	REFUSE("{'id':'p','type':'approval','until':'${{ true }}'}",
	    "step 'p': field 'until': not a field of a approval step");
	REFUSE(DEPLOY("t", ",'interval_ms':10"),
	    "step 't': field 'interval_ms': not a field of a tool step");
	REFUSE(DEPLOY("t", ",'message':'hi'"),
	    "step 't': field 'message': not a field of a tool step");
	/* a key shown in a message: unprintable bytes as ?, cut at 64 */
	doc = doc_of(SLEEP("a"));
	memset(key, 'b', sizeof(key));
	key[0] = 'a';
	key[1] = '\001';
	key[100] = '\0';
	ck_assert_int_eq(json_object_set_new(json_array_get(json_object_get(
	    doc, "steps"), 0), key, json_true()), 0);
	REFUSE_DOC(doc, 1, "step 'a': unknown field 'a?bbbbbbbbbbbbbbbbbbbbb"
	    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb...'");
	/* approval */
	ACCEPT("{'id':'p','type':'approval'}");
	ACCEPT("{'id':'p','type':'approval','message':'Ship ${{ inputs.n "
	    "}}?'}");
	REFUSE("{'id':'ok','type':'approval','message':{'text':'x'}}",
	    "step 'ok': field 'message': must be a string");
	REFUSE("{'id':'ok','type':'approval','message':'${{ inputs.n == }}'}",
	    "step 'ok': field 'message': unexpected end of the expression");
}
END_TEST

/* if, retry, timeout_ms, on_error. */
START_TEST(common_fields)
{
	ACCEPT(SLEEP("a") ",{'id':'b','type':'sleep','duration_ms':0,'if':"
	    "'${{ steps.a.status == `succeeded` || !inputs.n }}'}");
	ACCEPT("{'id':'b','type':'sleep','duration_ms':0,'if':'inputs.n > 2'}");
	REFUSE("{'id':'a','type':'sleep','duration_ms':0,'if':true}",
	    "step 'a': field 'if': must be a string");
	REFUSE("{'id':'a','type':'sleep','duration_ms':0,'if':"
	    "'${{ inputs.n == }}'}",
	    "step 'a': field 'if': unexpected end of the expression");
	REFUSE("{'id':'a','type':'sleep','duration_ms':0,'if':"
	    "'process.env'}", "step 'a': field 'if': unknown name 'process' "
	    "(references start with inputs, steps, execution, env or, in "
	    "webhook rules, event)");
	REFUSE("{'id':'a','type':'sleep','duration_ms':0,'if':"
	    "'event.payload.action'}", "step 'a': field 'if': 'event' is for "
	    "webhook rules (the configuration's afu9.webhooks); a workflow "
	    "gets what a rule puts in its inputs");
	/* retry */
	ACCEPT(DEPLOY("a", ",'retry':{'max_attempts':1,'initial_interval_ms':"
	    "0,'backoff_coefficient':1,'max_interval_ms':0}"));
	ACCEPT(DEPLOY("a", ",'retry':{'max_attempts':100,"
	    "'initial_interval_ms':86400000,'backoff_coefficient':100,"
	    "'max_interval_ms':86400000,'non_retryable':['tool','protocol',"
	    "'timeout','unavailable','expression','rejected','cancelled',"
	    "'internal','interrupted']}"));
	ACCEPT(DEPLOY("a", ",'retry':{'non_retryable':[]}"));
	REFUSE(DEPLOY("a", ",'retry':3"),
	    "step 'a': field 'retry': must be an object");
	REFUSE(DEPLOY("a", ",'retry':{'maxAttempts':3}"),
	    "step 'a': unknown field 'retry.maxAttempts'");
	REFUSE(DEPLOY("a", ",'retry':{'max_attempts':0}"),
	    "step 'a': field 'retry.max_attempts': must be an integer from 1 "
	    "to 100");
	REFUSE(DEPLOY("a", ",'retry':{'max_attempts':101}"),
	    "step 'a': field 'retry.max_attempts': must be an integer from 1 "
	    "to 100");
	REFUSE(DEPLOY("a", ",'retry':{'max_attempts':2.0}"),
	    "step 'a': field 'retry.max_attempts': must be an integer from 1 "
	    "to 100");
	REFUSE(DEPLOY("a", ",'retry':{'initial_interval_ms':-1}"),
	    "step 'a': field 'retry.initial_interval_ms': must be an integer "
	    "from 0 to 86400000");
	REFUSE(DEPLOY("a", ",'retry':{'initial_interval_ms':86400001}"),
	    "step 'a': field 'retry.initial_interval_ms': must be an integer "
	    "from 0 to 86400000");
	REFUSE(DEPLOY("a", ",'retry':{'backoff_coefficient':0.99}"),
	    "step 'a': field 'retry.backoff_coefficient': must be a number "
	    "from 1 to 100");
	REFUSE(DEPLOY("a", ",'retry':{'backoff_coefficient':100.5}"),
	    "step 'a': field 'retry.backoff_coefficient': must be a number "
	    "from 1 to 100");
	REFUSE(DEPLOY("a", ",'retry':{'backoff_coefficient':'2'}"),
	    "step 'a': field 'retry.backoff_coefficient': must be a number "
	    "from 1 to 100");
	REFUSE(DEPLOY("a", ",'retry':{'initial_interval_ms':5000,"
	    "'max_interval_ms':4999}"), "step 'a': field "
	    "'retry.max_interval_ms': must be >= initial_interval_ms (5000)");
	REFUSE(DEPLOY("a", ",'retry':{'max_interval_ms':86400001}"),
	    "step 'a': field 'retry.max_interval_ms': must be an integer "
	    "from 0 to 86400000");
	REFUSE(DEPLOY("a", ",'retry':{'max_interval_ms':999}"),
	    "step 'a': field 'retry.max_interval_ms': must be >= "
	    "initial_interval_ms (1000)");
	REFUSE(DEPLOY("a", ",'retry':{'non_retryable':'tool'}"),
	    "step 'a': field 'retry.non_retryable': must be an array of "
	    "error kinds");
	REFUSE(DEPLOY("a", ",'retry':{'non_retryable':['tool','nope']}"),
	    "step 'a': field 'retry.non_retryable[1]': unknown error kind "
	    "'nope' (tool, protocol, timeout, unavailable, expression, "
	    "rejected, cancelled, internal, interrupted)");
	REFUSE(DEPLOY("a", ",'retry':{'non_retryable':[1]}"),
	    "step 'a': field 'retry.non_retryable[0]': must be a string");
	REFUSE(DEPLOY("a", ",'retry':{'non_retryable':['tool','tool']}"),
	    "step 'a': field 'retry.non_retryable[1]': 'tool' listed twice");
	/* timeout_ms */
	ACCEPT(DEPLOY("a", ",'timeout_ms':1"));
	ACCEPT(DEPLOY("a", ",'timeout_ms':604800000"));
	REFUSE(DEPLOY("a", ",'timeout_ms':0"), "step 'a': field 'timeout_ms': "
	    "must be an integer from 1 to 604800000");
	REFUSE(DEPLOY("a", ",'timeout_ms':604800001"), "step 'a': field "
	    "'timeout_ms': must be an integer from 1 to 604800000");
	REFUSE(DEPLOY("a", ",'timeout_ms':1.5"), "step 'a': field "
	    "'timeout_ms': must be an integer from 1 to 604800000");
	/* on_error */
	ACCEPT(DEPLOY("a", ",'on_error':'fail'") "," DEPLOY("b",
	    ",'on_error':'continue'") "," DEPLOY("c", ",'on_error':{'goto':"
	    "'d'}") "," SLEEP("d"));
	REFUSE(DEPLOY("a", ",'on_error':'retry'"), "step 'a': field "
	    "'on_error': must be \"fail\", \"continue\" or {\"goto\": \"ID\"}");
	REFUSE(DEPLOY("a", ",'on_error':{'goto':'b','x':1}") "," SLEEP("b"),
	    "step 'a': field 'on_error': must be \"fail\", \"continue\" or "
	    "{\"goto\": \"ID\"}");
	REFUSE(SLEEP("z") "," DEPLOY("a", ",'on_error':{'goto':'z'}"),
	    "step 'a': field 'on_error.goto': step 'z' comes earlier: a jump "
	    "back is a cycle");
	REFUSE(DEPLOY("a", ",'on_error':{'goto':'a'}"), "step 'a': field "
	    "'on_error.goto': a jump to the step itself is a cycle");
	REFUSE(DEPLOY("a", ",'on_error':{'goto':'q'}"), "step 'a': field "
	    "'on_error.goto': unknown step 'q'");
	REFUSE(DEPLOY("a", ",'on_error':{'goto':5}"), "step 'a': field "
	    "'on_error.goto': must be a string");
}
END_TEST

/* steps, inputs, execution and env in every place they can be. */
START_TEST(references)
{
	/* an earlier step: yes; a later one, itself, an unknown one: no */
	ACCEPT(SLEEP("a") "," DEPLOY("b", ",'if':'${{ steps.a.status }}'"));
	REFUSE(SLEEP("a") ",{'id':'b','type':'tool','tool':"
	    "'deploy.updateService','arguments':{'service':'s','cluster':"
	    "'${{ steps.c.output.cluster }}'}}," SLEEP("c"),
	    "step 'b': field 'arguments.cluster': reference to step 'c', "
	    "which does not come earlier");
	REFUSE(DEPLOY("b", ",'if':'steps.b.status == `ok`'"),
	    "step 'b': field 'if': reference to step 'b', which does not "
	    "come earlier");
	REFUSE(DEPLOY("b", ",'if':'${{ steps.zz.status }}'"),
	    "step 'b': field 'if': reference to unknown step 'zz'");
	REFUSE(DEPLOY("b", ",'if':'${{ contains(steps, `a`) }}'"),
	    "step 'b': field 'if': a reference to steps needs a step id "
	    "(steps.ID)");
	/* nested paths of arguments, every template of a string */
	REFUSE(SLEEP("a") ",{'id':'b','type':'tool','tool':"
	    "'deploy.updateService','arguments':{'cluster':'c','service':'s',"
	    "'tags':['x','${{ steps.a.status }} and ${{ steps.q.output }}']}}",
	    "step 'b': field 'arguments.tags[1]': reference to unknown step "
	    "'q'");
	/* a wait step's until may name itself; its if may not */
	ACCEPT("{'id':'w','type':'wait','tool':'deploy.getStatus','arguments':"
	    "{'cluster':'c'},'interval_ms':10,'timeout_ms':1,'until':"
	    "'${{ steps.w.output.state == `ACTIVE` }}'}");
	REFUSE("{'id':'w','type':'wait','tool':'deploy.getStatus','arguments':"
	    "{'cluster':'c'},'interval_ms':10,'timeout_ms':1,'until':"
	    "'${{ true }}','if':'${{ steps.w.status }}'}",
	    "step 'w': field 'if': reference to step 'w', which does not "
	    "come earlier");
	REFUSE("{'id':'w','type':'wait','tool':'deploy.getStatus','arguments':"
	    "{'cluster':'${{ steps.w.output }}'},'interval_ms':10,"
	    "'timeout_ms':1,'until':'${{ true }}'}",
	    "step 'w': field 'arguments.cluster': reference to step 'w', "
	    "which does not come earlier");
	/* nor does a sleep's until */
	REFUSE("{'id':'s','type':'sleep','until':'${{ steps.s.output }}'}",
	    "step 's': field 'until': reference to step 's', which does not "
	    "come earlier");
	/* inputs: declared ones, when the schema declares them */
	ACCEPT(DEPLOY("a", ",'if':'${{ inputs.n > 1 && inputs }}'"));
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'c','service':'${{ inputs.srvice }}'}}",
	    "step 'a': field 'arguments.service': reference to input 'srvice', "
	    "which the inputs schema does not declare");
	REFUSE("{'id':'p','type':'approval','message':'ok ${{ inputs.x }}?'}",
	    "step 'p': field 'message': reference to input 'x', which the "
	    "inputs schema does not declare");
	ACCEPT_DOC(jq("{'name':'w','inputs':{'type':'object','properties':"
	    "{'a':{}},'additionalProperties':false},'steps':[{'id':'s','type':"
	    "'sleep','duration_ms':0,'if':'inputs.a'}]}"), 1);
	REFUSE_DOC(jq("{'name':'w','inputs':{'type':'object','properties':"
	    "{'a':{}},'additionalProperties':false},'steps':[{'id':'s','type':"
	    "'sleep','duration_ms':0,'if':'inputs.b'}]}"), 1, "step 's': "
	    "field 'if': reference to input 'b', which the inputs schema does "
	    "not declare");
	ACCEPT_DOC(jq("{'name':'w','inputs':{'type':'object','properties':"
	    "{'a':{}},'additionalProperties':true},'steps':[{'id':'s','type':"
	    "'sleep','duration_ms':0,'if':'inputs.b'}]}"), 1);
	ACCEPT_DOC(jq("{'name':'w','inputs':{'type':'object','properties':"
	    "{'a':{}},'additionalProperties':{'type':'string'}},'steps':["
	    "{'id':'s','type':'sleep','duration_ms':0,'if':'inputs.b'}]}"), 1);
	ACCEPT_DOC(jq("{'name':'w','inputs':{'type':'object'},'steps':["
	    "{'id':'s','type':'sleep','duration_ms':0,'if':'inputs.b'}]}"), 1);
	ACCEPT_DOC(jq("{'name':'w','steps':[{'id':'s','type':'sleep',"
	    "'duration_ms':0,'if':'inputs.b'}]}"), 1);
	/* execution.id; env.ANY */
	ACCEPT(DEPLOY("a", ",'if':'${{ execution.id != `` && env.STAGE && "
	    "env.ANYTHING_AT_ALL }}'"));
	REFUSE(DEPLOY("a", ",'if':'execution.ident'"), "step 'a': field 'if': "
	    "unknown execution field 'ident' (execution.id)");
	/* templates that do not parse, strings with a NUL */
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'${{ inputs.cluster','service':'s'}}",
	    "step 'a': field 'arguments.cluster': '${{' without its '}}' in "
	    "\"${{ inputs.cluster\"");
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'x ${{ }} y','service':'s'}}",
	    "step 'a': field 'arguments.cluster': unexpected end of the "
	    "expression");
}
END_TEST

/* A string holding a NUL, wherever a string goes. */
START_TEST(nul_bytes)
{
	static const char *const where[][2] = {
		{ "arguments", "step 'a': field 'arguments.cluster': a string "
		    "holding a NUL byte" },
		{ "if", "step 'a': field 'if': a string holding a NUL byte" },
		{ "tool", "step 'a': field 'tool': a string holding a NUL "
		    "byte" },
		{ "type", "step 'a': field 'type': a string holding a NUL "
		    "byte" },
	};
	json_t *doc, *step, *v;
	size_t i;

	for (i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		doc = doc_of(DEPLOY("a", ""));
		step = json_array_get(json_object_get(doc, "steps"), 0);
		v = json_stringn("${{ true }}\0junk", 16);
		if (strcmp(where[i][0], "arguments") == 0)
			json_object_set_new(json_object_get(step, "arguments"),
			    "cluster", v);
		else
			json_object_set_new(step, where[i][0], v);
		REFUSE_DOC(doc, 1, where[i][1]);
	}
	doc = jq("{'name':'w','steps':[" SLEEP("a") "]}");
	json_object_set_new(doc, "description", json_stringn("a\0b", 3));
	REFUSE_DOC(doc, 1, "field 'description': a string holding a NUL "
	    "byte");
}
END_TEST

/* The tool, its arguments against its inputSchema. */
START_TEST(tool_checks)
{
	REFUSE("{'id':'a','type':'tool'}", "step 'a': field 'tool': missing");
	REFUSE("{'id':'a','type':'tool','tool':5}",
	    "step 'a': field 'tool': must be a string");
	REFUSE("{'id':'a','type':'tool','tool':'deploy'}", "step 'a': field "
	    "'tool': must be server.tool (server [A-Za-z0-9_-]{1,64}, tool "
	    "[A-Za-z0-9_./-]+, at most 128 bytes)");
	REFUSE("{'id':'a','type':'tool','tool':'.x'}", "step 'a': field "
	    "'tool': must be server.tool (server [A-Za-z0-9_-]{1,64}, tool "
	    "[A-Za-z0-9_./-]+, at most 128 bytes)");
	REFUSE("{'id':'a','type':'tool','tool':'x.'}", "step 'a': field "
	    "'tool': must be server.tool (server [A-Za-z0-9_-]{1,64}, tool "
	    "[A-Za-z0-9_./-]+, at most 128 bytes)");
	REFUSE("{'id':'a','type':'tool','tool':'my server.x'}", "step 'a': "
	    "field 'tool': must be server.tool (server [A-Za-z0-9_-]{1,64}, "
	    "tool [A-Za-z0-9_./-]+, at most 128 bytes)");
	REFUSE("{'id':'a','type':'tool','tool':'s.a tool'}", "step 'a': "
	    "field 'tool': must be server.tool (server [A-Za-z0-9_-]{1,64}, "
	    "tool [A-Za-z0-9_./-]+, at most 128 bytes)");
	REFUSE(DEPLOY("a", "") ",{'id':'deploy','type':'tool','tool':"
	    "'deploy.updateServce'}", "step 'deploy': field 'tool': unknown "
	    "tool 'deploy.updateServce'");
	/* without a lookup: the form only */
	lookups = 0;
	ACCEPT_DOC(doc_of("{'id':'a','type':'tool','tool':'x-1.a/b.c_d'}"), 0);
	REFUSE_DOC(doc_of("{'id':'a','type':'tool','tool':'deploy'}"), 0,
	    "step 'a': field 'tool': must be server.tool (server "
	    "[A-Za-z0-9_-]{1,64}, tool [A-Za-z0-9_./-]+, at most 128 bytes)");
	ck_assert_int_eq(lookups, 0);
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':[]}", "step 'a': field 'arguments': must be an "
	    "object");
	/* required, literal or template */
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'c'}}", "step 'a': field 'arguments': "
	    "missing required argument 'service' (required)");
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService'}",
	    "step 'a': field 'arguments': missing required argument "
	    "'cluster' (required)");
	ACCEPT("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'${{ inputs.cluster }}','service':"
	    "'${{ inputs.service }}'}}");
	/* additionalProperties false: refused, literal or template */
#define UPD(args) "{'id':'a','type':'tool','tool':'deploy.updateService'," \
	"'arguments':{'cluster':'c','service':'s'," args "}}"
	REFUSE(UPD("'replica':3"), "step 'a': field 'arguments': unexpected "
	    "argument 'replica' (additionalProperties)");
	REFUSE(UPD("'replica':'${{ inputs.n }}'"), "step 'a': field "
	    "'arguments': unexpected argument 'replica' "
	    "(additionalProperties)");
	/* literals against their property's schema; templates skipped */
	ACCEPT(UPD("'replicas':10,'tags':['a','b']"));
	ACCEPT(UPD("'replicas':1.0"));
	REFUSE(UPD("'replicas':'3'"), "step 'a': field 'arguments': argument "
	    "'replicas': must be an integer (type)");
	REFUSE(UPD("'replicas':11"), "step 'a': field 'arguments': argument "
	    "'replicas': must be <= 10 (maximum)");
	REFUSE(UPD("'replicas':0"), "step 'a': field 'arguments': argument "
	    "'replicas': must be >= 1 (minimum)");
	REFUSE(UPD("'tags':['a',5]"), "step 'a': field 'arguments': argument "
	    "'tags[1]': must be a string (type)");
	ACCEPT(UPD("'replicas':'${{ inputs.n }}'"));
	ACCEPT(UPD("'tags':['a',5,'${{ inputs.n }}']"));  /* not literal */
	REFUSE("{'id':'a','type':'tool','tool':'deploy.updateService',"
	    "'arguments':{'cluster':7,'service':'s'}}", "step 'a': field "
	    "'arguments': argument 'cluster': must be a string (type)");
#undef UPD
	/* additionalProperties a schema: extras checked against it */
	ACCEPT("{'id':'a','type':'tool','tool':'github.get_issue','arguments':"
	    "{'number':1,'label':'bug','other':'${{ inputs.n }}'}}");
	REFUSE("{'id':'a','type':'tool','tool':'github.get_issue','arguments':"
	    "{'number':1,'label':5}}", "step 'a': field 'arguments': argument "
	    "'label': must be a string (type)");
	/* a declared idempotencyKey may be left to the engine */
	ACCEPT("{'id':'a','type':'tool','tool':'github.comment','arguments':"
	    "{'body':'hi'}}");
	REFUSE("{'id':'a','type':'tool','tool':'github.comment','arguments':"
	    "{'idempotencyKey':'k'}}", "step 'a': field 'arguments': missing "
	    "required argument 'body' (required)");
	/* no additionalProperties: anything else goes */
	ACCEPT("{'id':'a','type':'tool','tool':'github.merge','arguments':"
	    "{'number':1,'anything':[1,2]}}");
	/* a schema outside jschema's subset: for the server to judge */
	ACCEPT("{'id':'a','type':'tool','tool':'obs.query','arguments':"
	    "{'q':5}}");
	/* without a lookup, nothing about the tool's schema */
	ACCEPT_DOC(doc_of("{'id':'a','type':'tool','tool':"
	    "'deploy.updateService','arguments':{'replicas':'x'}}"), 0);
	/* a wait step polls a read-only tool */
	ACCEPT("{'id':'w','type':'wait','tool':'github.get_issue','arguments':"
	    "{'number':1},'interval_ms':10,'timeout_ms':1,'until':'true'}");
	REFUSE("{'id':'w','type':'wait','tool':'github.merge','arguments':"
	    "{'number':1},'interval_ms':10,'timeout_ms':1,'until':'true'}",
	    "step 'w': field 'tool': tool 'github.merge' is not read-only "
	    "(annotations.readOnlyHint), and a wait step calls it again and "
	    "again");
	REFUSE("{'id':'w','type':'wait','tool':'deploy.updateService',"
	    "'arguments':{'cluster':'c','service':'s'},'interval_ms':10,"
	    "'timeout_ms':1,'until':'true'}", "step 'w': field 'tool': tool "
	    "'deploy.updateService' is not read-only "
	    "(annotations.readOnlyHint), and a wait step calls it again and "
	    "again");
	REFUSE("{'id':'w','type':'wait','tool':'deploy.getStatus','arguments':"
	    "{},'interval_ms':10,'timeout_ms':1,'until':'true'}",
	    "step 'w': field 'arguments': missing required argument "
	    "'cluster' (required)");
	ACCEPT_DOC(doc_of("{'id':'w','type':'wait','tool':'github.merge',"
	    "'interval_ms':10,'timeout_ms':1,'until':'true'}"), 0);
}
END_TEST

/* wait and sleep: their fields, bounds and timestamps. */
START_TEST(wait_and_sleep)
{
	static const char *const good_times[] = {
		"2025-06-01T09:00:00Z", "2024-02-29T23:59:59Z",
		"2000-02-29T00:00:00Z", "2025-06-01T11:00:00.5+02:00",
		"2025-06-01T09:00:00.123456789-05:30", "1970-01-01T00:00:00Z",
		"9999-12-31T23:59:59+23:59",
	};
	static const char *const bad_times[] = {
		"2025-06-01", "2025-06-01T09:00:00", "2025-13-01T00:00:00Z",
		"2025-00-01T00:00:00Z", "2025-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
		"2025-06-00T00:00:00Z", "2025-06-01T24:00:00Z",
		"2025-06-01T09:60:00Z", "2025-06-01T09:00:60Z",
		"2025-06-01 09:00:00Z", "2025-06-01T09:00:00.Z",
		"2025-06-01T09:00:00.1234567890Z", "2025-06-01T09:00:00+2:00",
		"2025-06-01T09:00:00+02:00x", "2025-06-01T09:00:00+24:00",
		"2025-06-01T09:00:00+0200", "2025-06-01t09:00:00z",
		"1969-12-31T23:59:59Z", "+2025-06-01T09:00:00Z", "tomorrow",
		"2025-06-01T09:00:00.000000000000000000000000000Z",
	};
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(good_times) / sizeof(good_times[0]); i++) {
		snprintf(text, sizeof(text), "{'id':'s','type':'sleep',"
		    "'until':'%s'}", good_times[i]);
		ACCEPT(text);
	}
	for (i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++) {
		snprintf(text, sizeof(text), "{'id':'s','type':'sleep',"
		    "'until':'%s'}", bad_times[i]);
		REFUSE(text, "step 's': field 'until': must be \"${{ "
		    "expression }}\" or an ISO 8601 timestamp with its zone "
		    "(2025-06-01T09:00:00Z, 2025-06-01T11:00:00.5+02:00)");
	}
	ACCEPT("{'id':'s','type':'sleep','until':'${{ inputs.n }}'}");
	REFUSE("{'id':'s','type':'sleep','until':'${{ inputs.n'}",
	    "step 's': field 'until': '${{' without its '}}'");
	REFUSE("{'id':'s','type':'sleep','until':5}",
	    "step 's': field 'until': must be a string");
	ACCEPT("{'id':'s','type':'sleep','duration_ms':31536000000}");
	REFUSE("{'id':'s','type':'sleep','duration_ms':31536000001}",
	    "step 's': field 'duration_ms': must be an integer from 0 to "
	    "31536000000");
	REFUSE("{'id':'s','type':'sleep','duration_ms':-1}",
	    "step 's': field 'duration_ms': must be an integer from 0 to "
	    "31536000000");
	REFUSE("{'id':'s','type':'sleep','duration_ms':0,'until':"
	    "'2025-06-01T09:00:00Z'}", "step 's': a sleep step takes exactly "
	    "one of 'duration_ms' and 'until'");
	REFUSE("{'id':'s','type':'sleep'}", "step 's': a sleep step takes "
	    "exactly one of 'duration_ms' and 'until'");
	/* wait */
#define WAIT(f) "{'id':'w','type':'wait','tool':'deploy.getStatus'," \
	"'arguments':{'cluster':'c'}" f "}"
	ACCEPT(WAIT(",'interval_ms':3600000,'timeout_ms':604800000,"
	    "'until':'true'"));
	REFUSE(WAIT(",'timeout_ms':1,'until':'true'"),
	    "step 'w': field 'interval_ms': missing");
	REFUSE(WAIT(",'interval_ms':9,'timeout_ms':1,'until':'true'"),
	    "step 'w': field 'interval_ms': must be an integer from 10 to "
	    "3600000");
	REFUSE(WAIT(",'interval_ms':3600001,'timeout_ms':1,'until':'true'"),
	    "step 'w': field 'interval_ms': must be an integer from 10 to "
	    "3600000");
	REFUSE(WAIT(",'interval_ms':10,'until':'true'"), "step 'w': field "
	    "'timeout_ms': missing (a wait step needs a bound)");
	REFUSE(WAIT(",'interval_ms':10,'timeout_ms':1"),
	    "step 'w': field 'until': missing");
	REFUSE(WAIT(",'interval_ms':10,'timeout_ms':1,'until':'a =='"),
	    "step 'w': field 'until': unknown name 'a' (references start "
	    "with inputs, steps, execution, env or, in webhook rules, "
	    "event)");
	REFUSE("{'id':'w','type':'wait','interval_ms':10,'timeout_ms':1,"
	    "'until':'true'}", "step 'w': field 'tool': missing");
	REFUSE(WAIT(",'interval_ms':10,'timeout_ms':1,'until':'true',"
	    "'duration_ms':5"), "step 'w': field 'duration_ms': not a field "
	    "of a wait step");
#undef WAIT
}
END_TEST

/* Each bound, at it and past it. */
START_TEST(bounds)
{
	char err[DEFN_ERR_MAX], id[DEFN_ID_MAX + 2], name[130], tool[140];
	char *text, want[256];
	json_t *doc, *steps, *v;
	size_t i, n;
	struct defn *d;

	/* steps: 256, 257 */
	steps = json_array();
	for (i = 0; i < DEFN_STEPS_MAX; i++) {
		snprintf(id, sizeof(id), "s%zu", i);
		json_array_append_new(steps, json_pack("{s:s, s:s, s:i}", "id",
		    id, "type", "sleep", "duration_ms", 0));
	}
	doc = json_pack("{s:s, s:O}", "name", "w", "steps", steps);
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_eq(d->nsteps, DEFN_STEPS_MAX);
	ck_assert_int_eq(defn_step_index(d, "s255"), 255);
	defn_free(d);
	json_decref(doc);
	json_array_append_new(steps, json_pack("{s:s, s:s, s:i}", "id", "x",
	    "type", "sleep", "duration_ms", 0));
	doc = json_pack("{s:s, s:o}", "name", "w", "steps", steps);
	REFUSE_DOC(doc, 1, "field 'steps': 257 steps, over the limit of 256");

	/* id: 64, 65 bytes */
	memset(id, 'i', sizeof(id));
	id[DEFN_ID_MAX] = '\0';
	doc = jq("{'name':'w','steps':[{'type':'sleep','duration_ms':0}]}");
	v = json_array_get(json_object_get(doc, "steps"), 0);
	json_object_set_new(v, "id", json_string(id));
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_str_eq(d->steps[0].id, id);
	defn_free(d);
	id[DEFN_ID_MAX] = 'i';
	id[DEFN_ID_MAX + 1] = '\0';
	json_object_set_new(v, "id", json_string(id));
	REFUSE_DOC(doc, 1, "step 1: field 'id': must match "
	    "^[A-Za-z_][A-Za-z0-9_-]{0,63}$");

	/* name: 128, 129 bytes */
	memset(name, 'n', sizeof(name));
	name[128] = '\0';
	doc = jq("{'steps':[" SLEEP("a") "]}");
	json_object_set_new(doc, "name", json_string(name));
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_str_eq(d->name, name);
	defn_free(d);
	name[128] = 'n';
	name[129] = '\0';
	json_object_set_new(doc, "name", json_string(name));
	REFUSE_DOC(doc, 1, "field 'name': must match "
	    "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$");

	/* server.tool: 128 bytes, 129; a server of 64 bytes, 65 */
	memset(tool, 't', sizeof(tool));
	tool[64] = '.';
	tool[DEFN_QNAME_MAX] = '\0';
	for (i = 0; i < 4; i++) {
		if (i == 1)
			tool[DEFN_QNAME_MAX] = 't', tool[DEFN_QNAME_MAX + 1] =
			    '\0';
		if (i == 2)
			tool[64] = 't', tool[65] = '.', tool[70] = '\0';
		if (i == 3)
			tool[65] = 't', tool[64] = '.', tool[70] = '\0';
		doc = jq("{'name':'w','steps':[{'id':'a','type':'tool'}]}");
		json_object_set_new(json_array_get(json_object_get(doc,
		    "steps"), 0), "tool", json_string(tool));
		if (i == 0 || i == 3)
			ACCEPT_DOC(doc, 0);
		else
			REFUSE_DOC(doc, 0, "step 'a': field 'tool': must be "
			    "server.tool (server [A-Za-z0-9_-]{1,64}, tool "
			    "[A-Za-z0-9_./-]+, at most 128 bytes)");
	}

	/* the whole text: DEFN_TEXT_MAX bytes of compact JSON, and one more */
	doc = jq("{'name':'w','description':'','steps':[" SLEEP("a") "]}");
	text = json_dumps(doc, JSON_COMPACT);
	n = DEFN_TEXT_MAX - strlen(text);
	free(text);
	text = malloc(n + 2);
	memset(text, 'd', n + 1);
	text[n] = '\0';
	json_object_set_new(doc, "description", json_string(text));
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	ck_assert_uint_eq(strlen(d->description), n);
	defn_free(d);
	text[n] = 'd';
	text[n + 1] = '\0';
	json_object_set_new(doc, "description", json_string(text));
	free(text);
	snprintf(want, sizeof(want), "the definition is %u bytes of JSON, "
	    "over the limit of %u", DEFN_TEXT_MAX + 1, DEFN_TEXT_MAX);
	REFUSE_DOC(doc, 1, want);

	/* templates nested as deep as expr_template() takes, and deeper */
	for (n = EXPR_DEPTH_MAX - 1; n <= EXPR_DEPTH_MAX; n++) {
		v = json_string("${{ inputs.n }}");
		for (i = 0; i < n; i++)
			v = json_pack("[o]", v);
		doc = doc_of("{'id':'a','type':'tool','tool':'github.merge'}");
		json_object_set_new(json_array_get(json_object_get(doc,
		    "steps"), 0), "arguments", json_pack("{s:o}", "x", v));
		/* the runtime's verdict on these arguments */
		ck_assert_int_eq(expr_template(json_object_get(json_array_get(
		    json_object_get(doc, "steps"), 0), "arguments"), NULL, &v,
		    err, sizeof(err)), n < EXPR_DEPTH_MAX ? 0 : -1);
		if (n < EXPR_DEPTH_MAX) {
			json_decref(v);
			ACCEPT_DOC(doc, 1);
			continue;
		}
		text = verdict(doc, 1);
		ck_assert_ptr_nonnull(text);
		ck_assert_msg(strncmp(text, "step 'a': field 'arguments.x[0]"
		    "[0]", 31) == 0 && strstr(text, "': nested deeper than 64 "
		    "levels") != NULL, "%s", text);
		free(text);
	}
}
END_TEST

START_TEST(check_input)
{
	char err[DEFN_ERR_MAX];
	struct defn *d;
	json_t *doc, *in;
	size_t i;
	static const char *const cases[][2] = {
		{ "{'cluster':'c'}", NULL },
		{ "{'cluster':'c','n':3,'extra':true}", NULL },
		{ "{'n':3}", "input: missing required argument 'cluster' "
		    "(required)" },
		{ "{'cluster':'c','n':'3'}", "input: argument 'n': must be an "
		    "integer (type)" },
		{ "['cluster']", "input: must be an object" },
		{ "null", "input: must be an object" },
	};

	doc = doc_of(SLEEP("a"));
	ck_assert_ptr_nonnull(d = defn_parse(doc, NULL, NULL, err,
	    sizeof(err)));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		in = jq(cases[i][0]);
		err[0] = '\0';
		ck_assert_int_eq(defn_check_input(d, in, err, sizeof(err)),
		    cases[i][1] == NULL ? 0 : -1);
		if (cases[i][1] != NULL)
			ck_assert_str_eq(err, cases[i][1]);
		json_decref(in);
	}
	defn_free(d);
	json_decref(doc);
	/* no inputs schema: any object */
	doc = jq("{'name':'w','steps':[" SLEEP("a") "]}");
	ck_assert_ptr_nonnull(d = defn_parse(doc, NULL, NULL, err,
	    sizeof(err)));
	in = jq("{'anything':[1]}");
	ck_assert_int_eq(defn_check_input(d, in, err, sizeof(err)), 0);
	json_decref(in);
	in = jq("{}");
	ck_assert_int_eq(defn_check_input(d, in, err, sizeof(err)), 0);
	json_decref(in);
	in = jq("'x'");
	ck_assert_int_eq(defn_check_input(d, in, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "input: must be an object");
	json_decref(in);
	defn_free(d);
	json_decref(doc);
}
END_TEST

START_TEST(backoff)
{
	struct defn_retry r = { 5, 1000, 2, 60000, 0 };

	ck_assert_uint_eq(defn_backoff_ms(&r, 0), 0);
	ck_assert_uint_eq(defn_backoff_ms(&r, 1), 0);
	ck_assert_uint_eq(defn_backoff_ms(&r, 2), 1000);
	ck_assert_uint_eq(defn_backoff_ms(&r, 3), 2000);
	ck_assert_uint_eq(defn_backoff_ms(&r, 7), 32000);
	ck_assert_uint_eq(defn_backoff_ms(&r, 8), 60000);	/* 64000 */
	ck_assert_uint_eq(defn_backoff_ms(&r, 100), 60000);
	ck_assert_uint_eq(defn_backoff_ms(&r, UINT_MAX), 60000);
	r.backoff_coefficient = 1;
	ck_assert_uint_eq(defn_backoff_ms(&r, UINT_MAX), 1000);
	r.backoff_coefficient = 1.5;
	r.initial_interval_ms = 500;
	ck_assert_uint_eq(defn_backoff_ms(&r, 3), 750);
	ck_assert_uint_eq(defn_backoff_ms(&r, 4), 1125);
	/* the largest coefficient: no overflow, the bound */
	r.backoff_coefficient = 100;
	r.initial_interval_ms = 1000;
	r.max_interval_ms = 86400000;
	ck_assert_uint_eq(defn_backoff_ms(&r, 4), 10000000);
	ck_assert_uint_eq(defn_backoff_ms(&r, 5), 86400000);
	ck_assert_uint_eq(defn_backoff_ms(&r, 200), 86400000);
	ck_assert_uint_eq(defn_backoff_ms(&r, UINT_MAX), 86400000);
	r.initial_interval_ms = 0;
	ck_assert_uint_eq(defn_backoff_ms(&r, UINT_MAX), 0);
	r.initial_interval_ms = r.max_interval_ms = 7;
	ck_assert_uint_eq(defn_backoff_ms(&r, 2), 7);
	ck_assert_uint_eq(defn_backoff_ms(&r, 9), 7);
}
END_TEST

/* A larger initial interval without a maximum: the maximum follows it. */
START_TEST(retry_default_max)
{
	char err[DEFN_ERR_MAX];
	struct defn *d;
	json_t *doc;

	doc = doc_of(DEPLOY("a", ",'retry':{'max_attempts':3,"
	    "'initial_interval_ms':120000}"));
	ck_assert_ptr_nonnull(d = defn_parse(doc, lookup, &lookups, err,
	    sizeof(err)));
	ck_assert_uint_eq(d->steps[0].retry.max_interval_ms, 120000);
	ck_assert_uint_eq(defn_backoff_ms(&d->steps[0].retry, 3), 120000);
	defn_free(d);
	json_decref(doc);
}
END_TEST

/* defn_time_parse(): the sleep times validation takes, as epoch seconds;
   what validation refuses is refused. */
START_TEST(time_parse)
{
	double t = -1;

	ck_assert_int_eq(defn_time_parse("1970-01-01T00:00:00Z", &t), 0);
	ck_assert(t == 0);
	ck_assert_int_eq(defn_time_parse("2026-12-07T10:00:00.5Z", &t), 0);
	ck_assert(t == 1796637600.5);
	ck_assert_int_eq(defn_time_parse("2026-12-07T12:30:00+02:30", &t), 0);
	ck_assert(t == 1796637600.);
	ck_assert_int_eq(defn_time_parse("2026-12-07T07:00:00-03:00", &t), 0);
	ck_assert(t == 1796637600.);
	ck_assert_int_eq(defn_time_parse("2024-02-29T00:00:00Z", &t), 0);
	ck_assert_int_eq(defn_time_parse("2025-02-29T00:00:00Z", &t), -1);
	ck_assert_int_eq(defn_time_parse("2026-12-07T10:00:00", &t), -1);
	ck_assert_int_eq(defn_time_parse("1969-12-31T23:59:59Z", &t), -1);
	ck_assert_int_eq(defn_time_parse("2026-12-07 10:00:00Z", &t), -1);
	ck_assert_int_eq(defn_time_parse("2026-12-07T10:00:00.Z", &t), -1);
	ck_assert_int_eq(defn_time_parse("2026-12-07T10:00:00.1234567890Z",
	    &t), -1);
	ck_assert_int_eq(defn_time_parse("2026-12-07T10:00:00Zjunk", &t), -1);
	ck_assert_int_eq(defn_time_parse("", &t), -1);
	ck_assert_int_eq(defn_time_parse(NULL, &t), -1);
}
END_TEST

START_TEST(names)
{
	static const char *const kinds[EK_COUNT] = { "tool", "protocol",
	    "timeout", "unavailable", "expression", "rejected", "cancelled",
	    "internal", "interrupted" };
	int k;

	for (k = 0; k < EK_COUNT; k++) {
		ck_assert_str_eq(defn_ekind_name((enum defn_ekind)k), kinds[k]);
		ck_assert_int_eq(defn_ekind_parse(kinds[k]), k);
	}
	ck_assert_str_eq(defn_ekind_name(EK_COUNT), "unknown");
	ck_assert_int_eq(defn_ekind_parse("Tool"), -1);
	ck_assert_int_eq(defn_ekind_parse(""), -1);
	ck_assert_int_eq(defn_ekind_parse(NULL), -1);
	ck_assert_str_eq(defn_stype_name(STEP_TOOL), "tool");
	ck_assert_str_eq(defn_stype_name(STEP_APPROVAL), "approval");
	ck_assert_str_eq(defn_stype_name(STEP_SLEEP), "sleep");
	ck_assert_str_eq(defn_stype_name(STEP_WAIT), "wait");
	ck_assert_str_eq(defn_stype_name(STEP_AGENT), "agent");
	ck_assert_str_eq(defn_stype_name((enum defn_stype)9), "unknown");
}
END_TEST


/* The agent step: what the parse keeps, the defaults, every refusal. */
START_TEST(agent_step)
{
	char err[DEFN_ERR_MAX];
	const struct defn_step *s;
	struct defn *d;
	json_t *doc;

	doc = doc_of("{'id':'w','type':'agent','task':'Fix ${{ "
	    "inputs.service }} in ${{ inputs.cluster }}','tools':["
	    "'github.get_issue','deploy.*'],'budget':{'max_turns':12,"
	    "'max_tokens':200000,'max_cost_usd':0.5,'max_wall_ms':60000},"
	    "'output_schema':{'type':'object','properties':{'files':{'type':"
	    "'array'}},'required':['files']},'provider':'anthropic','model':"
	    "'claude-x','retry':{'max_attempts':2},'on_error':'continue',"
	    "'if':'${{ inputs.n > 1 }}'},"
	    "{'id':'plain','type':'agent','task':'${{ steps.w.output.files }}'}");
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	json_decref(doc);
	s = &d->steps[0];
	ck_assert_int_eq(s->type, STEP_AGENT);
	ck_assert_str_eq(json_string_value(s->task), "Fix ${{ inputs.service "
	    "}} in ${{ inputs.cluster }}");
	ck_assert_str_eq(s->tools[0], "github.get_issue");
	ck_assert_str_eq(s->tools[1], "deploy.*");
	ck_assert_ptr_null(s->tools[2]);
	ck_assert_uint_eq(s->budget.max_turns, 12);
	ck_assert_uint_eq(s->budget.max_tokens, 200000);
	ck_assert_uint_eq(s->budget.max_cost_micro, 500000);
	ck_assert_uint_eq(s->budget.max_wall_ms, 60000);
	ck_assert_ptr_nonnull(json_object_get(s->output_schema, "required"));
	ck_assert_str_eq(s->provider, "anthropic");
	ck_assert_str_eq(s->model, "claude-x");
	ck_assert_uint_eq(s->retry.max_attempts, 2);
	ck_assert_int_eq(s->on_error, ONERR_CONTINUE);
	/* the defaults: read-only tools, a turn and time bound, the
	   configured provider and model */
	s = &d->steps[1];
	ck_assert_ptr_null(s->tools);
	ck_assert_uint_eq(s->budget.max_turns, DEFN_TURNS_DEFAULT);
	ck_assert_uint_eq(s->budget.max_wall_ms, DEFN_WALL_DEFAULT);
	ck_assert_uint_eq(s->budget.max_tokens, 0);
	ck_assert_uint_eq(s->budget.max_cost_micro, 0);
	ck_assert_ptr_null(s->output_schema);
	ck_assert_ptr_null(s->provider);
	ck_assert_ptr_null(s->model);
	defn_free(d);

#define AGENT(extra) "{'id':'a','type':'agent','task':'t'" extra "}"
	REFUSE("{'id':'a','type':'agent'}", "step 'a': field 'task': missing");
	REFUSE("{'id':'a','type':'agent','task':''}",
	    "step 'a': field 'task': must not be empty");
	REFUSE("{'id':'a','type':'agent','task':['x']}",
	    "step 'a': field 'task': must be a string");
	REFUSE("{'id':'a','type':'agent','task':'${{ steps.a.output }}'}",
	    "step 'a': field 'task': reference to step 'a', which does not "
	    "come earlier");
	REFUSE("{'id':'a','type':'agent','task':'${{ inputs.nope }}'}",
	    "step 'a': field 'task': reference to input 'nope', which the "
	    "inputs schema does not declare");
	REFUSE(AGENT(",'tools':[]"), "step 'a': field 'tools': must be an "
	    "array of 1 to 64 tool patterns (\"server.tool\", '*' for any run "
	    "of bytes)");
	REFUSE(AGENT(",'tools':'github.*'"), "step 'a': field 'tools': must "
	    "be an array of 1 to 64 tool patterns (\"server.tool\", '*' for "
	    "any run of bytes)");
	REFUSE(AGENT(",'tools':['github.*','git hub']"), "step 'a': field "
	    "'tools[1]': must be a pattern of 1 to 128 bytes of "
	    "[A-Za-z0-9_.*-]");
	REFUSE(AGENT(",'tools':['github.get_isue']"), "step 'a': field "
	    "'tools[0]': unknown tool 'github.get_isue'");
	/* without the servers' tools, a name is not looked up */
	ACCEPT_DOC(doc_of(AGENT(",'tools':['github.get_isue']")), 0);
	REFUSE(AGENT(",'budget':5"), "step 'a': field 'budget': must be an "
	    "object");
	REFUSE(AGENT(",'budget':{'turns':5}"), "step 'a': unknown field "
	    "'budget.turns' (max_turns, max_tokens, max_cost_usd, "
	    "max_wall_ms)");
	REFUSE(AGENT(",'budget':{'max_turns':0}"), "step 'a': field "
	    "'budget.max_turns': must be an integer from 1 to 1000");
	REFUSE(AGENT(",'budget':{'max_tokens':1000000001}"), "step 'a': "
	    "field 'budget.max_tokens': must be an integer from 1 to "
	    "1000000000");
	REFUSE(AGENT(",'budget':{'max_cost_usd':0}"), "step 'a': field "
	    "'budget.max_cost_usd': must be a number of dollars above 0, at "
	    "most 10000");
	REFUSE(AGENT(",'budget':{'max_cost_usd':'1'}"), "step 'a': field "
	    "'budget.max_cost_usd': must be a number of dollars above 0, at "
	    "most 10000");
	REFUSE(AGENT(",'budget':{'max_wall_ms':604800001}"), "step 'a': "
	    "field 'budget.max_wall_ms': must be an integer from 1 to "
	    "604800000");
	REFUSE(AGENT(",'output_schema':[]"), "step 'a': field "
	    "'output_schema': must be a JSON Schema object");
	REFUSE(AGENT(",'output_schema':{'type':'thing'}"), "step 'a': field "
	    "'output_schema': schema /type: unknown type 'thing'");
	REFUSE(AGENT(",'provider':'gemini'"), "step 'a': field 'provider': "
	    "must be \"openai\" or \"anthropic\"");
	REFUSE(AGENT(",'model':''"), "step 'a': field 'model': must be 1 to "
	    "255 bytes");
	REFUSE(AGENT(",'tool':'github.merge'"), "step 'a': field 'tool': not "
	    "a field of a agent step");
	REFUSE(AGENT(",'timeout_ms':5"), "step 'a': field 'timeout_ms': not a "
	    "field of a agent step");
	REFUSE(DEPLOY("t", ",'task':'x'"), "step 't': field 'task': not a "
	    "field of a tool step");
#undef AGENT
}
END_TEST

/* An input's default must pass its own schema. */
START_TEST(input_defaults)
{
	ACCEPT_DOC(jq("{'name':'w','inputs':{'type':'object','properties':"
	    "{'n':{'type':'integer','minimum':0,'maximum':5,'default':3}}},"
	    "'steps':[" SLEEP("a") "]}"), 1);
	REFUSE_DOC(jq("{'name':'w','inputs':{'type':'object','properties':"
	    "{'n':{'type':'integer','maximum':5,'default':7}}},"
	    "'steps':[" SLEEP("a") "]}"), 1, "field 'inputs': the default of "
	    "'n' does not pass its schema: argument 'n': must be <= 5 "
	    "(maximum)");
}
END_TEST

/* fail_if: tool and wait steps, its own output in sight. */
START_TEST(fail_if)
{
	char err[DEFN_ERR_MAX];
	struct defn *d;
	json_t *doc;

	doc = doc_of(DEPLOY("t", ",'fail_if':'${{ steps.t.output.state != "
	    "`ok` }}'") ",{'id':'w','type':'wait','tool':'deploy.getStatus',"
	    "'arguments':{'cluster':'c'},'interval_ms':10,'timeout_ms':100,"
	    "'until':'${{ steps.w.output.done }}','fail_if':'${{ "
	    "steps.w.output.failed || steps.t.output.x }}'}");
	d = defn_parse(doc, lookup, &lookups, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	json_decref(doc);
	ck_assert_ptr_nonnull(d->steps[0].fail_if);
	ck_assert_ptr_nonnull(d->steps[1].fail_if);
	ck_assert_ptr_null(d->steps[1].cond);
	defn_free(d);
	REFUSE(DEPLOY("t", ",'fail_if':'${{ steps.u.output }}'") ","
	    SLEEP("u"), "step 't': field 'fail_if': reference to step 'u', "
	    "which does not come earlier");
	REFUSE(DEPLOY("t", ",'fail_if':'${{ ( }}'"), "step 't': field "
	    "'fail_if': unexpected end of the expression");
	REFUSE("{'id':'s','type':'sleep','duration_ms':0,'fail_if':'${{ "
	    "true }}'}", "step 's': field 'fail_if': not a field of a sleep "
	    "step");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("defn");
	TCase *tc = tcase_create("defn");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, accepted_whole);
	tcase_add_test(tc, top_level);
	tcase_add_test(tc, step_shape);
	tcase_add_test(tc, common_fields);
	tcase_add_test(tc, references);
	tcase_add_test(tc, nul_bytes);
	tcase_add_test(tc, tool_checks);
	tcase_add_test(tc, wait_and_sleep);
	tcase_add_test(tc, bounds);
	tcase_add_test(tc, check_input);
	tcase_add_test(tc, backoff);
	tcase_add_test(tc, retry_default_max);
	tcase_add_test(tc, names);
	tcase_add_test(tc, agent_step);
	tcase_add_test(tc, fail_if);
	tcase_add_test(tc, input_defaults);
	tcase_add_test(tc, time_parse);
	suite_add_tcase(s, tc);
	return t_run(s);
}
