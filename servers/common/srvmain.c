/*
 * srvmain: options, environment knobs, start-up and the end of a tool call
 * shared by the afu9 MCP servers (see srvmain.h).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "common/srvmain.h"
#include "httpc.h"
#include "log.h"
#include "mcp_server.h"

enum {
	ARGS_OK,		/* serve */
	ARGS_DONE,		/* --help or --version printed */
	ARGS_USAGE		/* a usage error, reported */
};

/* Is name in the comma-separated list? */
static int
in_list(const char *list, const char *name)
{
	size_t n = strlen(name), l;

	while (*list != '\0') {
		l = strcspn(list, ",");
		if (l == n && strncmp(list, name, n) == 0)
			return 1;
		list += l + (list[l] == ',');
	}
	return 0;
}

/* Every name in the list names a tool of def.  0, or -1 with err filled. */
static int
check_list(const struct srv_def *def, const char *opt, const char *list,
    char *err, size_t errlen)
{
	const struct mcp_tool *t;
	char name[128];
	size_t i, n, l;

	if (strlen(list) > SRV_MAX_TOOL_LIST) {
		snprintf(err, errlen, "%s: the list is too long", opt);
		return -1;
	}
	t = def->table(&n);
	while (*list != '\0') {
		l = strcspn(list, ",");
		snprintf(name, sizeof(name), "%.*s", (int)(l < 127 ? l : 127),
		    list);
		for (i = 0; i < n; i++)
			if (strcmp(t[i].name, name) == 0)
				break;
		if (i == n) {
			snprintf(err, errlen, "%s: unknown tool '%s' (see "
			    "--help)", opt, name);
			return -1;
		}
		list += l + (list[l] == ',');
	}
	return 0;
}

/*
 * Read the knobs of def set in the environment into the struct at base.
 * 0, or -1 with err filled when one is not a number within its bounds.
 */
static int
read_knobs(const struct srv_def *def, void *base, char *err, size_t errlen)
{
	const struct srv_knob *k;
	const char *v;
	char *end;
	double d;
	size_t i;

	for (i = 0; i < def->nknobs; i++) {
		k = &def->knobs[i];
		if ((v = getenv(k->name)) == NULL || *v == '\0')
			continue;
		errno = 0;
		d = strtod(v, &end);
		if (errno != 0 || *end != '\0' || !(d >= k->min &&
		    d <= k->max)) {
			snprintf(err, errlen, "%s must be a number from %.10g to "
			    "%.10g, not '%.64s'", k->name, k->min, k->max, v);
			return -1;
		}
		if (k->type == SRV_KNOB_LONG)
			*(long *)(void *)((char *)base + k->off) =
			    (long)(d * k->scale);
		else
			*(double *)(void *)((char *)base + k->off) =
			    d * k->scale;
	}
	return 0;
}

static int
env_is_1(const char *name)
{
	const char *v;

	if (name == NULL)
		return 0;
	v = getenv(name);
	return v != NULL && strcmp(v, "1") == 0;
}

/* The def's flag spelled arg, or NULL. */
static const struct srv_flag *
find_flag(const struct srv_def *def, const char *arg)
{
	size_t i;

	for (i = 0; i < def->nflags; i++)
		if (strcmp(def->flags[i].opt, arg) == 0)
			return &def->flags[i];
	return NULL;
}

static void
set_flag(const struct srv_flag *fl, void *base)
{
	*(int *)(void *)((char *)base + fl->off) = 1;
}

/*
 * One argument at argv[*i] (advanced past a separate value).  ARGS_OK,
 * ARGS_DONE after --help/--version, ARGS_USAGE when it is unknown or its
 * value is missing.
 */
static int
parse_one(const struct srv_def *def, int argc, char **argv, int *i,
    struct srv_opts *so, void *base)
{
	const char *a = argv[*i];
	const struct srv_flag *fl;

	if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
		def->usage(stdout);
		return ARGS_DONE;
	} else if (strcmp(a, "--version") == 0) {
		printf("%s %s\n", def->name, AFU9_VERSION);
		return ARGS_DONE;
	} else if (strcmp(a, "--read-only") == 0)
		so->read_only = 1;
	else if ((fl = find_flag(def, a)) != NULL)
		set_flag(fl, base);
	else if (strcmp(a, "--tools") == 0 && *i + 1 < argc)
		so->only = argv[++*i];
	else if (strcmp(a, "--exclude-tools") == 0 && *i + 1 < argc)
		so->exclude = argv[++*i];
	else if (strncmp(a, "--tools=", 8) == 0)
		so->only = a + 8;
	else if (strncmp(a, "--exclude-tools=", 16) == 0)
		so->exclude = a + 16;
	else {
		fprintf(stderr, "%s: unknown or incomplete option '%s'\n",
		    def->name, a);
		def->usage(stderr);
		return ARGS_USAGE;
	}
	return ARGS_OK;
}

/* ARGS_OK, ARGS_DONE or ARGS_USAGE (see parse_one; also bad lists and
   knobs). */
static int
parse_args(const struct srv_def *def, int argc, char **argv,
    struct srv_opts *so, void *base)
{
	char err[256];
	size_t j;
	int i, rc;

	so->read_only = env_is_1(def->read_only_env);
	for (j = 0; j < def->nflags; j++)
		if (env_is_1(def->flags[j].env))
			set_flag(&def->flags[j], base);
	for (i = 1; i < argc; i++)
		if ((rc = parse_one(def, argc, argv, &i, so, base)) != ARGS_OK)
			return rc;
	if ((so->only && check_list(def, "--tools", so->only, err,
	    sizeof(err)) == -1) || (so->exclude && check_list(def,
	    "--exclude-tools", so->exclude, err, sizeof(err)) == -1) ||
	    read_knobs(def, base, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", def->name, err);
		return ARGS_USAGE;
	}
	return ARGS_OK;
}

int
srv_parse(const struct srv_def *def, int argc, char **argv,
    struct srv_opts *so, void *base, int *status)
{
	switch (parse_args(def, argc, argv, so, base)) {
	case ARGS_OK:
		log_init(def->name);
		return 0;
	case ARGS_DONE:
		*status = 0;
		return -1;
	default:
		*status = 2;
		return -1;
	}
}

void
srv_usage_tools(FILE *f, const struct srv_def *def)
{
	const struct mcp_tool *t;
	size_t i, n;
	int rw = 0;

	t = def->table(&n);
	for (i = 0; i < n; i++)
		rw |= !t[i].read_only;
	fprintf(f,
	    "  --tools A,B            serve only these tools\n"
	    "  --exclude-tools A,B    do not serve these tools\n"
	    "  --help                 this text\n"
	    "  --version              the version\n"
	    "\n"
	    "%s\n", rw ? "Tools (r: read, w: write):" :
	    "Tools (all read-only):");
	for (i = 0; i < n; i++) {
		if (rw)
			fprintf(f, "  %-18s %s %s\n", t[i].name,
			    t[i].read_only ? "r" : "w", t[i].title);
		else
			fprintf(f, "  %-18s %s\n", t[i].name, t[i].title);
	}
}

void
srv_start(struct ev_loop **loopp, struct httpc **hcp)
{
	if ((*loopp = ev_default_loop(0)) == NULL)
		fatalx("cannot initialise the event loop");
	if ((*hcp = httpc_new(*loopp, NULL)) == NULL)
		fatalx("cannot initialise the HTTP client");
}

/* Register the tools *so selects; their count, or -1 (logged). */
static int
add_tools(struct mcp_server *srv, const struct srv_def *def,
    const struct srv_opts *so, void *udata)
{
	const struct mcp_tool *t;
	size_t i, n;
	char err[256];
	int count = 0;

	t = def->table(&n);
	for (i = 0; i < n; i++) {
		if ((so->read_only && !t[i].read_only) ||
		    (so->only && !in_list(so->only, t[i].name)) ||
		    (so->exclude && in_list(so->exclude, t[i].name)))
			continue;
		if (mcp_server_add_tool(srv, &t[i], udata, err, sizeof(err)) ==
		    -1) {
			log_error("tool %s: %s", t[i].name, err);
			return -1;
		}
		count++;
	}
	return count;
}

struct mcp_server *
srv_server_new(struct ev_loop *loop, const struct mcp_server_opts *mo,
    const struct srv_def *def, const struct srv_opts *so, void *udata,
    int *ntools)
{
	struct mcp_server *srv;

	if ((srv = mcp_server_new(loop, mo, 0, 1)) == NULL)
		fatalx("out of memory");
	if ((*ntools = add_tools(srv, def, so, udata)) == -1)
		fatalx("cannot register the tools");
	return srv;
}

int
srv_run(struct mcp_server *srv)
{
	int rc;

	rc = mcp_server_run(srv);
	mcp_server_free(srv);
	return rc;
}

void *
srv_op_alloc(struct mcp_call *call, size_t size, json_t **notes)
{
	void *op;

	if ((op = calloc(1, size)) == NULL || (*notes = json_array()) == NULL) {
		free(op);
		mcp_call_fail(call, -32603, "internal error: out of memory");
		return NULL;
	}
	return op;
}

void
srv_call_return(struct mcp_call *call, json_t *structured, json_t *notes,
    srv_free_fn *free_op, void *op)
{
	if (structured != NULL && json_array_size(notes) > 0)
		json_object_set(structured, "notes", notes);
	free_op(op);
	mcp_call_return(call, structured, NULL);
}

void
srv_call_verror(struct mcp_call *call, srv_free_fn *free_op, void *op,
    const char *fmt, va_list ap)
{
	char *s;
	int n;

	n = vasprintf(&s, fmt, ap);
	free_op(op);
	if (n < 0) {
		mcp_call_error(call, "out of memory");
		return;
	}
	mcp_call_error(call, "%s", s);
	free(s);
}

void
srv_vnote(json_t *notes, size_t distinct, const char *fmt, va_list ap)
{
	char buf[SRV_NOTE_MAX];
	const json_t *v;
	size_t i;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (distinct > 0) {
		json_array_foreach(notes, i, v)
			if (strcmp(json_string_value(v), buf) == 0)
				return;
		if (json_array_size(notes) >= distinct)
			return;
	}
	json_array_append_new(notes, json_string(buf));
}
