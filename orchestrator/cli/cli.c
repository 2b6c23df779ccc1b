/*
 * cli: tools, call, migrate, audit, health, version (see cli.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "httpc.h"
#include "cli/cli.h"
#include "log.h"
#include "store/migrate.h"
#include "mcp/router.h"
#include "store/store.h"

#define CLI_SETTLE_S		30.	/* wait for servers to start */
#define CLI_KILL_GRACE_MS	2000u
#define HEALTH_TIMEOUT_MS	5000
#define HEALTH_MAX		(1024u * 1024)
#define CLI_DRAIN_MS		5000u	/* audit rows: wait at most this */
#define EX_TOOL_ERROR		1
#define EX_USAGE		2
#define EX_UNAVAILABLE		3

struct cli {
	struct ev_loop		*loop;
	struct config_env	 env;
	struct afu9_config	*cfg;
	struct router		*r;
	struct store		*st;		/* audit; NULL: none */
	ev_timer		 deadline;
	int			 want;		/* server index; -1: all */
	int			 waiting;
	/* one call */
	int			 done;
	json_t			*result;	/* owned */
	enum router_ekind	 ekind;
	char			 emsg[1024];
};

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

/* The environment (conf/conf_env.h), or a message naming the bad variable
   for `who`: 0, or -1. */
static int
cli_env(struct config_env *e, const char *who)
{
	char err[256];

	if (config_env_read(e, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: %s\n", who, err);
	return -1;
}

/* Load, start and wait; audit: open the store when DATABASE_URL is set.
   0, or an exit status. */
static int
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
static void
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
static int
report_down(struct cli *c)
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
	down = report_down(&c);
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
	struct router_origin o = { AUDIT_CLI, NULL, NULL };
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

/* ---- migrate ---- */

static int
migrate_usage(void)
{
	fprintf(stderr, "usage: afu9 migrate [up | status] [--dir DIR]\n");
	return EX_USAGE;
}

/* The report of `status`; 0 when everything is applied, else 3. */
static int
migrate_status(PGconn *conn, const char *dir)
{
	struct mig_report rep;
	char err[MIG_ERR_MAX];
	size_t i;
	int rc = 0;

	if (mig_status(conn, dir, &rep, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9 migrate: %s\n", err);
		return 1;
	}
	if (rep.n == 0)
		printf("no migrations in %s\n", dir);
	if (mig_report_print(stdout, &rep) == -1)
		rc = 1;
	for (i = 0; rc == 0 && i < rep.n; i++)
		if (rep.v[i].state != MIG_APPLIED)
			rc = EX_UNAVAILABLE;
	mig_report_free(&rep);
	return rc;
}

int
cli_migrate(int argc, char **argv)
{
	const char *dir = NULL, *cmd = "up";
	char dbuf[PATH_MAX], err[MIG_ERR_MAX];
	struct config_env env;
	PGconn *conn;
	int i, applied = 0, rc, have_cmd = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strncmp(argv[i], "--dir=", 6) == 0)
			dir = argv[i] + 6;
		else if (!have_cmd && (strcmp(argv[i], "up") == 0 ||
		    strcmp(argv[i], "status") == 0)) {
			cmd = argv[i];
			have_cmd = 1;
		} else
			return migrate_usage();
	}
	if (cli_env(&env, "afu9 migrate") == -1)
		return EX_USAGE;
	if (env.database_url == NULL) {
		fprintf(stderr, "afu9 migrate: DATABASE_URL is not set\n");
		return EX_USAGE;
	}
	log_init("afu9");
	mig_dir(dir, env.migrations_dir, dbuf, sizeof(dbuf));
	if (mig_connect(env.database_url, &conn, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9 migrate: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "status") == 0)
		rc = migrate_status(conn, dbuf);
	else if (mig_up(conn, dbuf, &applied, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9 migrate: %s\n", err);
		if (applied > 0)
			fprintf(stderr, "afu9 migrate: %d migration(s) were "
			    "applied before the failure\n", applied);
		rc = 1;
	} else {
		if (applied > 0)
			printf("applied %d migration(s) from %s\n", applied,
			    dbuf);
		else
			printf("up to date: nothing to apply from %s\n", dbuf);
		rc = 0;
	}
	PQfinish(conn);
	if (fflush(stdout) == EOF && rc == 0)
		rc = 1;
	return rc;
}

/* ---- audit ---- */

static int
audit_usage(void)
{
	fprintf(stderr, "usage: afu9 audit [--server S] [--since T] [--json] "
	    "[--limit N]\n");
	return EX_USAGE;
}

int
cli_audit(int argc, char **argv)
{
	struct audit_query q = { NULL, NULL, 0 };
	struct config_env env;
	char err[MIG_ERR_MAX], *end;
	json_t *rows;
	unsigned long n;
	int i, as_json = 0, rc = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			q.server = argv[++i];
		else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc)
			q.since = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			errno = 0;
			n = strtoul(argv[++i], &end, 10);
			if (*argv[i] < '0' || *argv[i] > '9' || *end != '\0' ||
			    errno != 0 || n < 1 || n > STORE_QUERY_MAX) {
				fprintf(stderr, "afu9 audit: --limit: a number "
				    "from 1 to %d\n", STORE_QUERY_MAX);
				return EX_USAGE;
			}
			q.limit = (unsigned)n;
		} else
			return audit_usage();
	}
	if (cli_env(&env, "afu9 audit") == -1)
		return EX_USAGE;
	if (env.database_url == NULL) {
		fprintf(stderr, "afu9 audit: DATABASE_URL is not set\n");
		return EX_USAGE;
	}
	log_init("afu9");
	if (store_audit_query(env.database_url, &q, &rows, err, sizeof(err))
	    == -1) {
		fprintf(stderr, "afu9 audit: %s\n", err);
		return 1;
	}
	if (as_json) {
		if (json_dumpf(rows, stdout, JSON_INDENT(2)) == -1 ||
		    putchar('\n') == EOF)
			rc = 1;
	} else if (store_audit_print(stdout, rows) == -1)
		rc = 1;
	json_decref(rows);
	if (fflush(stdout) == EOF)
		rc = 1;
	return rc;
}

/* ---- health ---- */

struct health_get {
	long		 status;	/* -1: no answer yet; 0: transport error */
	struct buf	*body;
	char		*err;
	size_t		 errlen;
};

static void
health_done(struct httpc_req *rq, const struct httpc_response *res,
    void *arg)
{
	struct health_get *g = arg;

	(void)rq;
	g->status = res->status;
	if (res->error != 0 || res->status == 0) {
		g->status = 0;
		snprintf(g->err, g->errlen, "%s", res->error_text ?
		    res->error_text : "no HTTP response");
	} else if (buf_append(g->body, res->body, res->body_len) == -1) {
		g->status = 0;
		snprintf(g->err, g->errlen, "response larger than %u bytes",
		    HEALTH_MAX);
	}
}

/* GET url through httpc on a loop of its own; the status code (the body,
   NUL-terminated, in *body), or -1 with err. */
static int
http_get(const char *url, struct buf *body, char *err, size_t errlen)
{
	struct httpc_opts o = { .user_agent = "afu9-health",
	    .connect_timeout_ms = HEALTH_TIMEOUT_MS,
	    .timeout_ms = HEALTH_TIMEOUT_MS, .max_response = HEALTH_MAX,
	    .max_host_connections = 1 };
	struct health_get g = { -1, body, err, errlen };
	struct ev_loop *loop;
	struct httpc *hc;

	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "only http:// and https:// URLs are "
		    "supported");
		return -1;
	}
	if ((loop = ev_loop_new(EVFLAG_AUTO)) == NULL) {
		snprintf(err, errlen, "cannot create an event loop");
		return -1;
	}
	if ((hc = httpc_new(loop, &o)) == NULL) {
		snprintf(err, errlen, "cannot create the HTTP client");
		ev_loop_destroy(loop);
		return -1;
	}
	if (httpc_request(hc, "GET", url, NULL, NULL, 0, 0, health_done,
	    &g) == NULL)
		snprintf(err, errlen, "malformed URL: %.200s", url);
	else
		while (g.status == -1)
			ev_run(loop, EVRUN_ONCE);
	httpc_free(hc);
	ev_loop_destroy(loop);
	if (g.status <= 0 || buf_append(body, "", 1) == -1)
		return -1;
	return (int)g.status;
}

int
cli_health(int argc, char **argv)
{
	const char *url = "http://127.0.0.1:8080/health", *port;
	struct config_env env;
	char err[512], def[64], pbuf[8];
	struct buf body;
	int status;

	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: afu9 health [URL]\n");
		return EX_USAGE;
	}
	if (argc == 2)
		url = argv[1];
	else if (cli_env(&env, "afu9 health") == -1)
		return EX_USAGE;
	else if ((port = config_env_listen_port(&env, pbuf, sizeof(pbuf)))
	    != NULL) {
		snprintf(def, sizeof(def), "http://127.0.0.1:%s/health", port);
		url = def;
	}
	buf_init(&body, HEALTH_MAX);
	status = http_get(url, &body, err, sizeof(err));
	if (status < 0) {
		fprintf(stderr, "afu9 health: %s\n", err);
		buf_free(&body);
		return 1;
	}
	fputs(buf_data(&body), stdout);
	if (buf_used(&body) > 1 && buf_data(&body)[buf_used(&body) - 2] != '\n')
		putchar('\n');
	if (status != 200)
		fprintf(stderr, "afu9 health: %s: HTTP %d\n", url, status);
	buf_free(&body);
	return status == 200 ? 0 : 1;
}

int
cli_version(int argc, char **argv)
{
	printf("afu9 %s\n", AFU9_VERSION);
	return 0;
}
