/*
 * cli_call: `afu9 tools` and `afu9 call` (see cli.h).  Both start the
 * configured servers for the one command (no restarts), wait until they
 * are ready or have failed, act, and stop them; `call` coerces its
 * KEY=VALUE words by the tool's input schema and writes its audit row
 * when DATABASE_URL is set.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/cli_int.h"
#include "log.h"
#include "mcp/router.h"
#include "store/store.h"

#define CLI_SETTLE_S		30.	/* wait for servers to start */
#define CLI_KILL_GRACE_MS	2000u
#define CLI_DRAIN_MS		5000u	/* audit rows: wait at most this */

/* ---- argument coercion ---- */

/* The schema's type, first of an array that is not "null"; or NULL. */
static const char *
prop_type(const json_t *prop)
{
	const json_t *t = json_object_get(prop, "type"), *e;
	size_t i;

	if (json_is_string(t))
		return json_string_value(t);
	json_array_foreach(t, i, e)
		if (json_is_string(e) && strcmp(json_string_value(e), "null"))
			return json_string_value(e);
	return NULL;
}

static json_t *
coerce_json(const char *value, int (*is)(const json_t *), const char *what,
    char *err, size_t errlen)
{
	json_error_t je;
	json_t *v = json_loads(value, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
	    &je);

	if (v == NULL || !is(v)) {
		snprintf(err, errlen, "not a JSON %s: %.200s", what, value);
		json_decref(v);
		return NULL;
	}
	return v;
}

static int
is_array(const json_t *v)
{
	return json_is_array(v);
}

static int
is_object(const json_t *v)
{
	return json_is_object(v);
}

static json_t *
coerce_list(const json_t *prop, const char *value, char *err, size_t errlen)
{
	const json_t *items = json_object_get(prop, "items");
	json_t *arr, *v;
	char *copy, *p, *tok;

	if (value[0] == '[')
		return coerce_json(value, is_array, "array", err, errlen);
	if ((arr = json_array()) == NULL || (copy = strdup(value)) == NULL) {
		json_decref(arr);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (p = copy; *value != '\0' && (tok = strsep(&p, ",")) != NULL;) {
		if ((v = cli_coerce(items, tok, err, errlen)) == NULL) {
			free(copy);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
	}
	free(copy);
	return arr;
}

json_t *
cli_coerce(const json_t *prop, const char *value, char *err, size_t errlen)
{
	const char *type = prop_type(prop);
	char *end;
	long long ll;
	double d;

	if (type == NULL || strcmp(type, "string") == 0)
		return json_string(value);
	if (strcmp(type, "integer") == 0) {
		errno = 0;
		ll = strtoll(value, &end, 10);
		if (*value == '\0' || *end != '\0' || errno == ERANGE) {
			snprintf(err, errlen, "not an integer: %.200s", value);
			return NULL;
		}
		return json_integer(ll);
	}
	if (strcmp(type, "number") == 0) {
		d = strtod(value, &end);
		if (*value == '\0' || *end != '\0' || !isfinite(d)) {
			snprintf(err, errlen, "not a number: %.200s", value);
			return NULL;
		}
		return json_real(d);
	}
	if (strcmp(type, "boolean") == 0) {
		if (!strcasecmp(value, "true") || !strcmp(value, "1") ||
		    !strcasecmp(value, "yes"))
			return json_true();
		if (!strcasecmp(value, "false") || !strcmp(value, "0") ||
		    !strcasecmp(value, "no"))
			return json_false();
		snprintf(err, errlen, "not a boolean (true/false): %.200s",
		    value);
		return NULL;
	}
	if (strcmp(type, "array") == 0)
		return coerce_list(prop, value, err, errlen);
	if (strcmp(type, "object") == 0)
		return coerce_json(value, is_object, "object", err, errlen);
	return json_string(value);
}

/* ---- start and stop the servers ---- */

static int
cli_settled(struct cli *c)
{
	struct router_sinfo si;

	if (c->want < 0)
		return router_settled(c->r);
	router_server_info(c->r, (size_t)c->want, &si);
	return si.settled;
}

static void
on_state(struct router *r, const char *server, void *arg)
{
	struct cli *c = arg;

	if (c->waiting && cli_settled(c)) {
		c->waiting = 0;
		ev_break(c->loop, EVBREAK_ONE);
	}
}

static void
deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cli *c = w->data;

	c->waiting = 0;
	ev_break(loop, EVBREAK_ONE);
}

/* Load, start and wait (cli_int.h). */
int
cli_boot(struct cli *c, const char *path, const char *server, int audit)
{
	struct router_opts ro = { .no_restart = 1 };
	struct router_cb cb = { NULL, on_state, NULL };
	struct store_opts so;
	char err[1024];
	size_t i;

	memset(c, 0, sizeof(*c));
	c->want = -1;
	log_init("afu9");
	if (cli_env(&c->env, "afu9") == -1)
		return EX_USAGE;
	if (!c->env.log_level_set)
		log_set_level(LOG_LVL_WARN);
	signal(SIGPIPE, SIG_IGN);
	if ((c->cfg = config_open(path, &c->env, err, sizeof(err))) == NULL) {
		fprintf(stderr, "afu9: %s\n", err);
		return EX_USAGE;
	}
	if (server != NULL) {
		for (i = 0; i < c->cfg->nservers; i++)
			if (strcmp(c->cfg->servers[i].name, server) == 0)
				c->want = (int)i;
		if (c->want < 0) {
			fprintf(stderr, "afu9: no server named %s in the "
			    "configuration\n", server);
			return EX_USAGE;
		}
	}
	c->loop = ev_default_loop(0);
	if ((c->r = router_new(c->loop, c->cfg, &ro, &cb, c, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "afu9: %s\n", err);
		return EX_UNAVAILABLE;
	}
	/* After the configuration: its secrets are registered already. */
	if (audit && c->env.database_url != NULL) {
		memset(&so, 0, sizeof(so));
		so.env = &c->env;
		if ((c->st = store_new(c->loop, c->env.database_url, &so, err,
		    sizeof(err))) == NULL)
			fprintf(stderr, "afu9: audit disabled: %s\n", err);
		router_set_store(c->r, c->st, 0);
	}
	if (router_start(c->r, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9: %s\n", err);
		return EX_UNAVAILABLE;
	}
	ev_timer_init(&c->deadline, deadline_cb, CLI_SETTLE_S, 0.);
	c->deadline.data = c;
	if (!cli_settled(c)) {
		c->waiting = 1;
		ev_timer_start(c->loop, &c->deadline);
		ev_run(c->loop, 0);
		ev_timer_stop(c->loop, &c->deadline);
	}
	return 0;
}

static void
down_done(void *arg)
{
	struct cli *c = arg;

	c->done = 1;
	ev_break(c->loop, EVBREAK_ALL);
}

/*
 * Stop the servers, then write the audit rows still queued (at most
 * CLI_DRAIN_MS; the store logs what it could not write), free all.
 */
void
cli_down(struct cli *c)
{
	if (c->r) {
		c->done = 0;
		router_shutdown(c->r, 0, CLI_KILL_GRACE_MS, down_done, c);
		while (!c->done)
			ev_run(c->loop, 0);
		router_free(c->r);
	}
	if (c->st) {
		c->done = 0;
		store_shutdown(c->st, CLI_DRAIN_MS, down_done, c);
		while (!c->done)
			ev_run(c->loop, 0);
		store_free(c->st);
	}
	json_decref(c->result);
	config_free(c->cfg);
	if (c->loop)
		ev_loop_destroy(c->loop);
}

/* Print the servers that are not ready to stderr; their count. */
int
cli_report_down(struct cli *c)
{
	struct router_sinfo si;
	size_t i;
	int n = 0;

	for (i = 0; i < router_nservers(c->r); i++) {
		if (c->want >= 0 && (int)i != c->want)
			continue;
		router_server_info(c->r, i, &si);
		if (si.state == RS_DISABLED || si.up)
			continue;
		fprintf(stderr, "afu9: server %s unavailable%s%s\n", si.name,
		    si.last_cause[0] ? ": " : " (did not start in time)",
		    si.last_cause);
		n++;
	}
	return n;
}

/* ---- tools ---- */

static void
print_tool(const json_t *t)
{
	const char *d = json_string_value(json_object_get(t, "description"));
	size_t n = d ? strcspn(d, "\n") : 0;

	printf("%s%s%.*s\n", json_string_value(json_object_get(t, "name")),
	    d ? "  " : "", (int)n, d ? d : "");
}

int
cli_tools(int argc, char **argv)
{
	const char *path = NULL;
	struct cli c;
	json_t *tools, *t;
	size_t i;
	int as_json = 0, rc, down;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < (size_t)argc)
			path = argv[++i];
		else {
			fprintf(stderr, "usage: afu9 tools [--json] "
			    "[--config FILE]\n");
			return EX_USAGE;
		}
	}
	if ((rc = cli_boot(&c, path, NULL, 0)) != 0) {
		cli_down(&c);
		return rc;
	}
	down = cli_report_down(&c);
	if ((tools = router_tools(c.r)) == NULL) {
		cli_down(&c);
		return EX_USAGE;
	}
	if (as_json) {
		json_dumpf(tools, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		json_array_foreach(tools, i, t)
			print_tool(t);
	json_decref(tools);
	fflush(stdout);
	cli_down(&c);
	return down ? EX_UNAVAILABLE : 0;
}

/* ---- call ---- */

static void
call_done(struct router_call *rc, const json_t *result,
    const struct router_err *e, void *arg)
{
	struct cli *c = arg;

	if (e != NULL) {
		c->ekind = e->kind;
		snprintf(c->emsg, sizeof(c->emsg), "%s", e->message);
	} else
		c->result = json_incref((json_t *)result);
	c->done = 1;
	ev_break(c->loop, EVBREAK_ONE);
}

static void
call_progress(struct router_call *rc, const json_t *params, void *arg)
{
	const json_t *p = json_object_get(params, "progress");
	const json_t *t = json_object_get(params, "total");
	const char *m = json_string_value(json_object_get(params, "message"));

	if (json_is_number(t))
		fprintf(stderr, "progress %g/%g%s%s\n", json_number_value(p),
		    json_number_value(t), m ? " " : "", m ? m : "");
	else
		fprintf(stderr, "progress %g%s%s\n", json_number_value(p),
		    m ? " " : "", m ? m : "");
}

static int
exit_for(enum router_ekind k)
{
	switch (k) {
	case ROUTER_E_UNAVAILABLE:
	case ROUTER_E_TIMEOUT:
	case ROUTER_E_SHUTDOWN:
		return EX_UNAVAILABLE;
	default:
		return EX_USAGE;
	}
}

/* Print a tools/call result: text blocks as text, others as JSON. */
static void
print_result(const json_t *res, int raw)
{
	const json_t *content = json_object_get(res, "content"), *b;
	const char *text;
	FILE *f = json_is_true(json_object_get(res, "isError")) ? stderr :
	    stdout;
	size_t i, n;

	if (raw) {
		json_dumpf(res, stdout, JSON_INDENT(2));
		putchar('\n');
		return;
	}
	json_array_foreach(content, i, b) {
		text = json_string_value(json_object_get(b, "text"));
		if (text != NULL) {
			n = strlen(text);
			fprintf(f, "%s%s", text, n && text[n - 1] == '\n' ?
			    "" : "\n");
		} else {
			json_dumpf(b, f, JSON_COMPACT);
			fputc('\n', f);
		}
	}
	if (json_array_size(content) == 0 &&
	    json_object_get(res, "structuredContent")) {
		json_dumpf(json_object_get(res, "structuredContent"), f,
		    JSON_COMPACT);
		fputc('\n', f);
	}
}

static void
call_usage(void)
{
	fprintf(stderr, "usage: afu9 call [--config FILE] [--raw] "
	    "SERVER.TOOL [--json '{...}'] [KEY=VALUE ...]\n");
}

/* Build the arguments object from --json and KEY=VALUE words. */
static json_t *
build_args(struct cli *c, const char *qname, char **words, int n,
    const char *jtext)
{
	const json_t *tool = router_tool(c->r, qname);
	const json_t *props = json_object_get(json_object_get(tool,
	    "inputSchema"), "properties");
	json_t *args, *v;
	char err[512], *eq, key[256];
	int i;

	if (jtext) {
		if ((args = coerce_json(jtext, is_object, "object", err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "afu9: --json: %s\n", err);
			return NULL;
		}
	} else
		args = json_object();
	for (i = 0; i < n; i++) {
		if ((eq = strchr(words[i], '=')) == NULL || eq == words[i] ||
		    (size_t)(eq - words[i]) >= sizeof(key)) {
			fprintf(stderr, "afu9: argument %s: expected "
			    "KEY=VALUE\n", words[i]);
			json_decref(args);
			return NULL;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - words[i]),
		    words[i]);
		if ((v = cli_coerce(json_object_get(props, key), eq + 1, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "afu9: argument %s: %s\n", key, err);
			json_decref(args);
			return NULL;
		}
		json_object_set_new(args, key, v);
	}
	return args;
}

int
cli_call(int argc, char **argv)
{
	const char *path = NULL, *qname = NULL, *jtext = NULL, *dot;
	char server[CONFIG_NAME_MAX + 1];
	struct router_origin o = { .caller = AUDIT_CLI };
	struct router_err e;
	struct cli c;
	json_t *args;
	int i, raw = 0, rc, first = 0;

	for (i = 1; i < argc && qname == NULL; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--raw") == 0)
			raw = 1;
		else if (argv[i][0] == '-') {
			call_usage();
			return EX_USAGE;
		} else
			qname = argv[i];
	}
	for (first = i; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
			jtext = argv[i + 1];
			memmove(&argv[i], &argv[i + 2],
			    (size_t)(argc - i - 2) * sizeof(*argv));
			argc -= 2;
			i--;
		}
	if (qname == NULL || (dot = strchr(qname, '.')) == NULL ||
	    dot == qname || (size_t)(dot - qname) > CONFIG_NAME_MAX) {
		call_usage();
		return EX_USAGE;
	}
	snprintf(server, sizeof(server), "%.*s", (int)(dot - qname), qname);
	if ((rc = cli_boot(&c, path, server, 1)) != 0) {
		cli_down(&c);
		return rc;
	}
	if ((args = build_args(&c, qname, argv + first, argc - first,
	    jtext)) == NULL) {
		cli_down(&c);
		return EX_USAGE;
	}
	if (router_call(c.r, qname, args, &o, call_done, call_progress, &c,
	    &e) == NULL) {
		fprintf(stderr, "afu9: %s\n", e.message);
		rc = exit_for(e.kind);
		cli_down(&c);
		return rc;
	}
	while (!c.done)
		ev_run(c.loop, 0);
	if (c.result == NULL) {
		fprintf(stderr, "afu9: %s\n", c.emsg);
		rc = exit_for(c.ekind);
	} else {
		print_result(c.result, raw);
		rc = json_is_true(json_object_get(c.result, "isError")) ?
		    EX_TOOL_ERROR : 0;
	}
	fflush(stdout);
	cli_down(&c);
	return rc;
}
