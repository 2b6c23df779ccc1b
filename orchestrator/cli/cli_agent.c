/*
 * cli_agent: `afu9 agent run` (see cli.h): one agent run (agent/agent.h)
 * from the command line, on the configured servers started for it (as
 * `afu9 call` does), its turns printed to stderr as they happen, its
 * answer on stdout, its status as the exit status.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <jansson.h>

#include "httpc.h"
#include "utf8.h"
#include "agent/agent.h"
#include "agent/agentrec.h"
#include "cli/cli.h"
#include "cli/cli_int.h"

#define EX_CANCELLED		4
#define SCHEMA_FILE_MAX		(1u << 20)
#define SHOW_MAX		160	/* bytes of a text shown on one line */
#define DRAIN_MS		10000	/* the recorder's last writes */

struct run {
	struct ev_loop	*loop;
	struct agent	*a;
	int		 done;
	enum agent_status status;
	char		*error;
	char		*text;
	json_t		*output;
	struct agent_totals totals;
	ev_signal	 sigint, sigterm;
};

static void
agent_usage(FILE *f)
{
	fprintf(f, "usage: afu9 agent run --task TEXT [--tools PATTERNS] "
	    "[--provider openai|anthropic]\n"
	    "                      [--model M] [--max-turns N] "
	    "[--max-tokens N] [--max-cost USD]\n"
	    "                      [--max-wall-ms N] [--output-schema FILE] "
	    "[--config FILE]\n"
	    "       afu9 agent show RUN [--full] [--json]\n"
	    "       afu9 agent list [--status S] [--execution ID] [--limit N] "
	    "[--after CURSOR] [--json]\n");
}

/* One line of s: its first line, cut to SHOW_MAX bytes, made UTF-8. */
static void
show(FILE *f, const char *prefix, const char *s)
{
	size_t n = strcspn(s, "\n");
	char *c;

	if (n > SHOW_MAX)
		n = u8_cut(s, n, SHOW_MAX);
	if ((c = strndup(s, n)) == NULL)
		return;
	u8_fix(c);
	fprintf(f, "%s%s%s\n", prefix, c, s[n] != '\0' ? " ..." : "");
	free(c);
}

static void
ev_turn(void *arg, unsigned turn, const struct prov_reply *r,
    const struct agent_totals *t)
{
	fprintf(stderr, "turn %u: %llu in, %llu out, %llu cached tokens; "
	    "$%.6f so far; %zu tool call%s\n", turn,
	    (unsigned long long)r->usage.input,
	    (unsigned long long)r->usage.output,
	    (unsigned long long)(r->usage.cache_read + r->usage.cache_write),
	    (double)t->cost_micro / 1e6, r->ncalls, r->ncalls == 1 ? "" : "s");
	if (r->text != NULL && r->text[0] != '\0' && r->ncalls > 0)
		show(stderr, "  model: ", r->text);
}

static void
ev_tool(void *arg, const char *tool, const json_t *args, const char *text,
    int is_error, double ms)
{
	char prefix[PROV_TOOL_MAX + 64];

	snprintf(prefix, sizeof(prefix), "  %s %s (%.0f ms): ", tool,
	    is_error ? "error" : "ok", ms);
	show(stderr, prefix, text);
}

static void
ev_retry(void *arg, unsigned attempt, long delay_ms, const char *why)
{
	char prefix[64];

	snprintf(prefix, sizeof(prefix), "  retry %u in %ld ms: ", attempt,
	    delay_ms);
	show(stderr, prefix, why);
}

static const struct agent_events events = { ev_turn, ev_tool, ev_retry };

static void
run_done(struct agent *a, const struct agent_result *res, void *arg)
{
	struct run *r = arg;

	r->done = 1;
	r->status = res->status;
	r->error = res->error ? strdup(res->error) : NULL;
	r->text = strdup(res->text ? res->text : "");
	r->output = res->output ? json_deep_copy(res->output) : NULL;
	r->totals = res->totals;
	ev_break(r->loop, EVBREAK_ALL);
}

static void
drained(void *arg)
{
	*(int *)arg = 1;
}

/* The recorder's writes done (or given up after DRAIN_MS), then free. */
static void
rec_down(struct ev_loop *loop, struct agentrec *rec)
{
	int done = 0;

	if (rec == NULL)
		return;
	agentrec_drain(rec, DRAIN_MS, drained, &done);
	while (!done)
		ev_run(loop, EVRUN_ONCE);
	agentrec_free(rec);
}

static void
sig_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct run *r = w->data;

	agent_cancel(r->a, w->signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* A whole number from 0 to max, digits only. */
static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Dollars with at most six decimals, as micro-dollars, exactly. */
static int
parse_usd(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0;
	const char *dot;
	char w[32];
	size_t nf, i;

	if (s[0] == '$')
		s++;
	dot = strchr(s, '.');
	if (dot == NULL)
		dot = s + strlen(s);
	if ((size_t)(dot - s) >= sizeof(w))
		return -1;
	snprintf(w, sizeof(w), "%.*s", (int)(dot - s), s);
	if ((*w != '\0' && parse_u64(w, 1000000, &whole) == -1) ||
	    (*w == '\0' && *dot == '\0'))
		return -1;
	if (*dot == '.') {
		nf = strlen(dot + 1);
		if (nf == 0 || nf > 6 || parse_u64(dot + 1, 999999, &frac) ==
		    -1)
			return -1;
		for (i = nf; i < 6; i++)
			frac *= 10;
	}
	*out = whole * 1000000 + frac;
	return 0;
}

static json_t *
load_schema(const char *path)
{
	json_error_t je;
	json_t *v;

	if ((v = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		fprintf(stderr, "afu9: %s:%d:%d: %s\n", path, je.line,
		    je.column, je.text);
		return NULL;
	}
	if (!json_is_object(v)) {
		fprintf(stderr, "afu9: %s: the output schema must be a JSON "
		    "object\n", path);
		json_decref(v);
		return NULL;
	}
	return v;
}

/* "a.*,b.c" into a NULL-terminated vector (the string is cut in place). */
static char **
split_patterns(char *s)
{
	char **v, *p;
	size_t n = 1, i = 0;

	for (p = s; *p; p++)
		n += *p == ',';
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return NULL;
	for (p = strtok(s, ","); p != NULL; p = strtok(NULL, ","))
		v[i++] = p;
	return v;
}

struct opts {
	const char	*task, *tools, *provider, *model, *schema_path;
	const char	*config;
	struct agent_budget budget;
};

static int
parse_args(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int i;

	memset(o, 0, sizeof(*o));
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] :
		    NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			agent_usage(stdout);
			exit(0);
		}
		if (val == NULL || a[0] != '-' || a[1] != '-')
			goto usage;
		i++;
		if (strcmp(a, "--task") == 0)
			o->task = val;
		else if (strcmp(a, "--tools") == 0)
			o->tools = val;
		else if (strcmp(a, "--provider") == 0)
			o->provider = val;
		else if (strcmp(a, "--model") == 0)
			o->model = val;
		else if (strcmp(a, "--output-schema") == 0)
			o->schema_path = val;
		else if (strcmp(a, "--config") == 0)
			o->config = val;
		else if (strcmp(a, "--max-turns") == 0) {
			if (parse_u64(val, 100000, &v) == -1)
				return fprintf(stderr, "afu9: --max-turns: a "
				    "number from 0 to 100000\n"), -1;
			o->budget.max_turns = (unsigned)v;
		} else if (strcmp(a, "--max-tokens") == 0) {
			if (parse_u64(val, 1000000000000ULL,
			    &o->budget.max_tokens) == -1)
				return fprintf(stderr, "afu9: --max-tokens: a "
				    "whole number of tokens\n"), -1;
		} else if (strcmp(a, "--max-cost") == 0) {
			if (parse_usd(val, &o->budget.max_cost_micro) == -1)
				return fprintf(stderr, "afu9: --max-cost: "
				    "dollars, at most 6 decimals (0.25)\n"), -1;
		} else if (strcmp(a, "--max-wall-ms") == 0) {
			if (parse_u64(val, 30ULL * 86400 * 1000, &v) == -1)
				return fprintf(stderr, "afu9: --max-wall-ms: "
				    "milliseconds, at most 30 days\n"), -1;
			o->budget.max_wall_ms = (long)v;
		} else
			goto usage;
	}
	if (o->task == NULL || *o->task == '\0') {
		fprintf(stderr, "afu9: agent run: --task is required\n");
		goto usage;
	}
	return 0;
usage:
	agent_usage(stderr);
	return -1;
}

static int
exit_of(enum agent_status s)
{
	switch (s) {
	case AGENT_SUCCEEDED:
		return 0;
	case AGENT_CANCELLED:
		return EX_CANCELLED;
	default:
		return 1;
	}
}

static int
agent_run(int argc, char **argv)
{
	struct agent_provider pv;
	struct agent_params pa;
	struct agent_env env;
	struct prov_prices prices;
	struct config_env ce;
	struct opts o;
	struct run r;
	struct httpc *http = NULL;
	struct agentrec *rec = NULL;
	struct agentrec_opts ro;
	struct cli c;
	json_t *schema = NULL;
	char err[1024], *pat = NULL, **patterns = NULL;
	int rc;

	memset(&prices, 0, sizeof(prices));
	if (parse_args(argc, argv, &o) == -1)
		return EX_USAGE;
	if (cli_env(&ce, "afu9") == -1)
		return EX_USAGE;
	if (agent_provider_env(&ce, o.provider, o.model, &pv, err,
	    sizeof(err)) == -1 ||
	    agent_prices_env(&ce, &prices, err, sizeof(err)) == -1) {
		fprintf(stderr, "afu9: %s\n", err);
		return EX_USAGE;
	}
	pv.prices = &prices;
	if (o.schema_path && (schema = load_schema(o.schema_path)) == NULL) {
		prov_prices_free(&prices);
		return EX_USAGE;
	}
	if (o.tools && ((pat = strdup(o.tools)) == NULL ||
	    (patterns = split_patterns(pat)) == NULL)) {
		fprintf(stderr, "afu9: out of memory\n");
		rc = EX_USAGE;
		goto out;
	}
	/* with a database: the run recorded, its tool calls audited */
	if ((rc = cli_boot(&c, o.config, NULL, ce.database_url != NULL)) !=
	    0) {
		cli_down(&c);
		goto out;
	}
	cli_report_down(&c);
	if (ce.database_url == NULL)
		fprintf(stderr, "afu9: nothing recorded (DATABASE_URL is not "
		    "set)\n");
	else {
		memset(&ro, 0, sizeof(ro));
		ro.password = ce.pgpassword;
		if ((rec = agentrec_new(c.loop, ce.database_url, &ro, err,
		    sizeof(err))) == NULL) {
			fprintf(stderr, "afu9: %s\n", err);
			cli_down(&c);
			rc = EX_USAGE;
			goto out;
		}
	}
	if ((http = httpc_new(c.loop, NULL)) == NULL) {
		fprintf(stderr, "afu9: cannot start the HTTP client\n");
		rec_down(c.loop, rec);
		cli_down(&c);
		rc = EX_UNAVAILABLE;
		goto out;
	}
	memset(&pa, 0, sizeof(pa));
	pa.task = o.task;
	pa.tools = (const char *const *)patterns;
	pa.budget = o.budget;
	pa.output_schema = schema;
	memset(&env, 0, sizeof(env));
	env.loop = c.loop;
	env.http = http;
	env.router = c.r;
	env.rec = rec ? agentrec_recorder(rec) : NULL;
	env.events = &events;
	memset(&r, 0, sizeof(r));
	r.loop = c.loop;
	if ((r.a = agent_start(&env, &pv, &pa, run_done, &r, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "afu9: %s\n", err);
		httpc_free(http);
		rec_down(c.loop, rec);
		cli_down(&c);
		rc = EX_USAGE;
		goto out;
	}
	fprintf(stderr, "run %s: %s %s%s\n", agent_run_id(r.a),
	    pv.kind == PROV_OPENAI ? "openai" : "anthropic", pv.model,
	    rec ? " (recorded in agent_runs)" : "");
	ev_signal_init(&r.sigint, sig_cb, SIGINT);
	ev_signal_init(&r.sigterm, sig_cb, SIGTERM);
	r.sigint.data = r.sigterm.data = &r;
	ev_signal_start(c.loop, &r.sigint);
	ev_signal_start(c.loop, &r.sigterm);
	while (!r.done)
		ev_run(c.loop, 0);
	ev_signal_stop(c.loop, &r.sigint);
	ev_signal_stop(c.loop, &r.sigterm);
	agent_free(r.a);
	httpc_free(http);
	rec_down(c.loop, rec);
	cli_down(&c);

	if (r.output != NULL) {
		json_dumpf(r.output, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (r.status == AGENT_SUCCEEDED)
		printf("%s\n", r.text);
	fflush(stdout);
	fprintf(stderr, "%s: %u turns, %u tool calls, %llu tokens in, %llu "
	    "out, %llu cached; $%.6f; %ld ms\n", agent_status_name(r.status),
	    r.totals.turns, r.totals.tool_calls,
	    (unsigned long long)r.totals.usage.input,
	    (unsigned long long)r.totals.usage.output,
	    (unsigned long long)(r.totals.usage.cache_read +
	    r.totals.usage.cache_write), (double)r.totals.cost_micro / 1e6,
	    r.totals.wall_ms);
	if (r.error)
		fprintf(stderr, "afu9: %s\n", r.error);
	rc = exit_of(r.status);
	free(r.error);
	free(r.text);
	json_decref(r.output);
out:
	free(patterns);
	free(pat);
	json_decref(schema);
	prov_prices_free(&prices);
	return rc;
}

int
cli_agent(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		agent_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EX_USAGE : 0;
	}
	if (strcmp(argv[1], "run") == 0)
		return agent_run(argc, argv);
	if (strcmp(argv[1], "show") == 0)
		return cli_agent_show(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return cli_agent_list(argc - 1, argv + 1);
	fprintf(stderr, "afu9: unknown agent command %s\n", argv[1]);
	agent_usage(stderr);
	return EX_USAGE;
}
