/*
 * cli_agentrec: `afu9 agent show|list` (see cli.h, doc/agents.md): the runs
 * the recorder wrote (agent/agentrec.h), read on one blocking connection
 * to DATABASE_URL with the statements of agent/agentsql.h, which the
 * HTTP API shares.  A transcript is read a page of AGENT_SHOW_PAGE
 * messages at a time and printed as it comes, so a long one needs no
 * more memory than a page.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agent/agentsql.h"
#include "cli/cli.h"
#include "cli/cli_int.h"
#include "store/store.h"

#define AG_FAIL		1
#define AG_TRIM		300	/* bytes of a text `show` prints without
				   --full */
#define AGENT_SHOW_PAGE	200	/* messages per statement */
#define AG_LIMIT_DEFAULT 20
#define AG_LIMIT_MAX	1000

static int
run_arg(const struct wf *w, const char *s)
{
	if (store_uuid_ok(s))
		return 0;
	wf_err(w, "%.200s: not an agent run id (a UUID such as "
	    "0190f5a3-7b1c-7d2e-8f00-00000000000a)", s);
	return -1;
}

/* One of AGENTSQL_STATUSES. */
static int
run_status_ok(const char *s)
{
	const char *p = AGENTSQL_STATUSES;
	size_t n = strlen(s);

	while (n > 0 && *p) {
		if (strncmp(p, s, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
			return 1;
		p += strcspn(p, " ");
		p += strspn(p, " ");
	}
	return 0;
}

static long long
jint(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* ---- show ---- */

static void
print_run(const json_t *r)
{
	char span[64], *t;
	const json_t *res = json_object_get(r, "result");

	printf("run        %s\n", jstr(r, "id"));
	printf("status     %s\n", jstr(r, "status"));
	printf("model      %s / %s\n", jstr(r, "provider"), jstr(r, "model"));
	if (*jstr(r, "execution_id"))
		printf("execution  %s%s%s%s\n", jstr(r, "execution_id"),
		    *jstr(r, "step") ? " (step " : "", jstr(r, "step"),
		    *jstr(r, "step") ? ")" : "");
	if (*jstr(r, "resumed_from"))
		printf("resumes    %s\n", jstr(r, "resumed_from"));
	if (json_array_size(json_object_get(r, "resumed_by")) > 0) {
		t = jtext(json_object_get(r, "resumed_by"));
		printf("resumed by %s\n", t ? t : "(out of memory)");
		free(t);
	}
	if (*jstr(r, "task")) {
		printf("task       ");
		print_trim(stdout, jstr(r, "task"), AG_TRIM);
	}
	printf("started    %s\n", jstr(r, "started_at"));
	if (*jstr(r, "finished_at")) {
		printf("finished   %s\n", jstr(r, "finished_at"));
		printf("duration   %s\n", fmt_span(span_s(jstr(r, "started_at"),
		    jstr(r, "finished_at")), span, sizeof(span)));
	} else
		printf("updated    %s\n", jstr(r, "updated_at"));
	printf("turns      %lld, tool calls %lld, retries %lld\n", jint(r,
	    "turns"), jint(r, "tool_calls"), jint(r, "retries"));
	printf("tokens     %lld in, %lld out, %lld cache read, %lld cache "
	    "write\n", jint(r, "input_tokens"), jint(r, "output_tokens"),
	    jint(r, "cache_read_tokens"), jint(r, "cache_write_tokens"));
	printf("cost       $%s\n", *jstr(r, "cost_usd") ? jstr(r, "cost_usd") :
	    "0");
	if (*jstr(r, "error")) {
		printf("error      ");
		print_trim(stdout, jstr(r, "error"), 0);
	}
	if (json_is_object(res) && json_object_get(res, "output")) {
		t = jtext(json_object_get(res, "output"));
		printf("output     %s\n", t ? t : "(out of memory)");
		free(t);
	}
	printf("messages   %lld", jint(r, "messages_total"));
	if (jint(r, "messages_dropped") > 0)
		printf(" (%lld more not recorded: the database was away)",
		    jint(r, "messages_dropped"));
	printf("\n");
}

/* One transcript message on a line or two; trim 0: everything. */
static void
print_message(const json_t *m, size_t trim)
{
	const json_t *c = json_object_get(m, "content"), *u, *calls, *k;
	const char *role = jstr(m, "role");
	char *args;
	size_t i;

	printf("[%lld] %s", jint(m, "seq"), role);
	if (strcmp(role, "tool") == 0)
		printf(" %s%s%s%s", *jstr(c, "tool") ? jstr(c, "tool") : "?",
		    *jstr(c, "call_id") ? " (" : "", jstr(c, "call_id"),
		    *jstr(c, "call_id") ? ")" : "");
	if (json_is_true(json_object_get(c, "is_error")))
		printf(" error");
	if (json_is_object(u = json_object_get(m, "usage")))
		printf(" (%lld in, %lld out, %lld cache read, %lld cache "
		    "write)", jint(u, "input_tokens"), jint(u,
		    "output_tokens"), jint(u, "cache_read_tokens"), jint(u,
		    "cache_write_tokens"));
	printf(": ");
	if (*jstr(c, "omitted"))
		printf("(%s)\n", jstr(c, "omitted"));
	else
		print_trim(stdout, jstr(c, "text"), trim);
	calls = json_object_get(c, "tool_calls");
	json_array_foreach(calls, i, k) {
		args = json_object_get(k, "arguments") &&
		    !json_is_null(json_object_get(k, "arguments")) ?
		    jtext(json_object_get(k, "arguments")) :
		    strdup(jstr(k, "raw"));
		printf("    -> %s (%s) ", *jstr(k, "tool") ? jstr(k, "tool") :
		    jstr(k, "name"), jstr(k, "id"));
		print_trim(stdout, args ? args : "(out of memory)", trim);
		free(args);
	}
}

int
cli_agent_show(int argc, char **argv)
{
	const char *id = NULL, *p[3];
	char from[16], lim[16];
	unsigned long seq = 0;
	struct wf w;
	json_t *r, *all = NULL, *msgs, *m, *next;
	int i, rc, as_json = 0, full = 0, first = 1;
	size_t k;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 agent show";
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (strcmp(argv[i], "--full") == 0)
			full = 1;
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			break;
	if (id == NULL || i < argc) {
		fprintf(stderr, "usage: afu9 agent show RUN [--full] "
		    "[--json]\n");
		return EX_USAGE;
	}
	if (run_arg(&w, id) == -1)
		return EX_USAGE;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	snprintf(lim, sizeof(lim), "%d", AGENT_SHOW_PAGE);
	p[0] = id;
	p[1] = from;
	p[2] = lim;
	for (;;) {
		snprintf(from, sizeof(from), "%lu", seq);
		if ((r = wf_json(&w, AGENTSQL_RUN, 3, p, &rc)) == NULL) {
			if (rc == 0) {
				wf_err(&w, "no agent run %s", id);
				rc = AG_FAIL;
			}
			break;
		}
		msgs = json_object_get(r, "messages");
		if (as_json) {
			if (all == NULL)
				all = json_incref(r);
			else
				json_array_extend(json_object_get(all,
				    "messages"), msgs);
		} else {
			if (first) {
				print_run(r);
				if (json_array_size(msgs) > 0)
					printf("\ntranscript\n");
			}
			json_array_foreach(msgs, k, m)
				print_message(m, full ? 0 : AG_TRIM);
		}
		first = 0;
		next = json_object_get(r, "next_seq");
		if (!json_is_integer(next) ||
		    (unsigned long)json_integer_value(next) <= seq) {
			json_decref(r);
			break;
		}
		seq = (unsigned long)json_integer_value(next);
		json_decref(r);
	}
	wf_close(&w);
	if (all != NULL) {
		json_object_del(all, "next_seq");
		if (rc == 0) {
			json_dumpf(all, stdout, JSON_INDENT(2));
			putchar('\n');
		}
		json_decref(all);
	}
	return cli_out_done(w.cmd, rc);
}

/* ---- list ---- */

static int
al_usage(void)
{
	fprintf(stderr, "usage: afu9 agent list [--status S] [--execution ID] "
	    "[--limit N] [--after CURSOR] [--json]\n");
	return EX_USAGE;
}

static void
print_runs(const json_t *v)
{
	const json_t *e;
	size_t i, width = 5;
	char model[300], span[64];

	json_array_foreach(v, i, e) {
		snprintf(model, sizeof(model), "%s/%s", jstr(e, "provider"),
		    jstr(e, "model"));
		if (strlen(model) > width)
			width = strlen(model) > 40 ? 40 : strlen(model);
	}
	printf("%-36s  %-9s  %-*s  %5s  %15s  %10s  %-24s  %-10s  %s\n", "ID",
	    "STATUS", (int)width, "MODEL", "TURNS", "TOKENS IN/OUT", "COST",
	    "STARTED", "DURATION", "TASK / ERROR");
	json_array_foreach(v, i, e) {
		char tok[48];

		snprintf(model, sizeof(model), "%s/%s", jstr(e, "provider"),
		    jstr(e, "model"));
		snprintf(tok, sizeof(tok), "%lld/%lld", jint(e, "input_tokens"),
		    jint(e, "output_tokens"));
		printf("%-36s  %-9s  %-*.*s  %5lld  %15s  %10s  %-24s  %-10s  ",
		    jstr(e, "id"), jstr(e, "status"), (int)width, (int)width,
		    model, jint(e, "turns"), tok, *jstr(e, "cost_usd") ?
		    jstr(e, "cost_usd") : "0", jstr(e, "started_at"),
		    fmt_span(span_s(jstr(e, "started_at"), jstr(e,
		    "finished_at")), span, sizeof(span)));
		print_trim(stdout, *jstr(e, "error") ? jstr(e, "error") :
		    jstr(e, "task"), 60);
	}
}

int
cli_agent_list(int argc, char **argv)
{
	const char *p[5] = { NULL, NULL, NULL, NULL, NULL };
	char lim[16], ts[64];
	unsigned long n = AG_LIMIT_DEFAULT;
	struct wf w;
	json_t *v;
	int i, rc, as_json = 0;

	memset(&w, 0, sizeof(w));
	w.cmd = "afu9 agent list";
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (i + 1 >= argc)
			return al_usage();
		else if (strcmp(argv[i], "--status") == 0) {
			if (!run_status_ok(p[0] = argv[++i])) {
				wf_err(&w, "--status %.200s: not a run status "
				    "(%s)", p[0], AGENTSQL_STATUSES);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--execution") == 0) {
			if (!store_uuid_ok(p[1] = argv[++i])) {
				wf_err(&w, "--execution %.200s: not an "
				    "execution id (a UUID)", p[1]);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--limit") == 0) {
			if (num_ok(argv[++i], 1, AG_LIMIT_MAX, &n) == -1) {
				wf_err(&w, "--limit %.200s: a number from 1 "
				    "to %d", argv[i], AG_LIMIT_MAX);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--after") == 0) {
			if (cursor_ok(argv[++i], ts, sizeof(ts), &p[4]) ==
			    -1) {
				wf_err(&w, "--after %.200s: not a cursor (the "
				    "TIME/ID a page ended with)", argv[i]);
				return EX_USAGE;
			}
			p[3] = ts;
		} else
			return al_usage();
	}
	snprintf(lim, sizeof(lim), "%lu", n);
	p[2] = lim;
	if ((rc = wf_open(&w, w.cmd)) != 0)
		return rc;
	v = wf_json(&w, AGENTSQL_RUNS, 5, p, &rc);
	wf_close(&w);
	if (v == NULL)
		return rc ? rc : AG_FAIL;
	if (as_json) {
		json_dumpf(v, stdout, JSON_INDENT(2));
		putchar('\n');
	} else if (json_array_size(v) == 0)
		printf("no agent runs\n");
	else
		print_runs(v);
	if (!as_json && json_array_size(v) == n)
		fprintf(stderr, "more may follow: --after %s\n",
		    jstr(json_array_get(v, n - 1), "cursor"));
	json_decref(v);
	return cli_out_done(w.cmd, 0);
}
