/*
 * router: child sessions, tool registry, call routing (see router.h).
 *
 * One struct rsrv per configured server.  Its session state:
 *   no session     no process, or the process is not exec'd yet
 *   initializing   session open, initialize (then tools/list) in flight
 *   ready          tools listed; calls accepted; pinged periodically
 * A process generation number (gen) tells calls of an old process from
 * calls of the current one.
 *
 * How a death reaches callers at once: when the child dies, its stdout
 * ends and the session fails every pending request with "connection
 * closed".  The cause ("killed by signal 9") is known only when the
 * supervisor reports the process gone, which usually follows within a
 * millisecond.  So a call whose session closed is parked as "lost" and
 * failed by `gone` with the cause, or by a short timer (LOST_WAIT) with
 * "closed its output" if the process lingers; a process that closed its
 * stdout but lives on is then restarted.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/queue.h>

#include "later.h"
#include "log.h"
#include "mcp_client.h"
#include "mcp_server.h"
#include "metrics.h"
#include "mcp/router.h"
#include "subsys.h"
#include "rpc.h"
#include "proc/supervisor.h"

extern char **environ;

#define LOST_WAIT		0.08	/* s: wait for the cause of a death */
#define INIT_TIMEOUT_MIN	10.	/* s: initialize and each tools/list */
#define LIST_MAX_PAGES		100
#define LIST_MAX_TOOLS		1000
#define QNAME_MAX		128
#define METRIC_MAX_SERIES	1024
#define CAUSE_MAX		(SUP_CAUSE_MAX + 300)

enum outcome { OC_OK, OC_ERROR, OC_TIMEOUT, OC_UNAVAILABLE, OC_PROTOCOL,
	OC_CANCELLED, OC_N };
static const char *const outcome_names[OC_N] = { "ok", "error", "timeout",
	"unavailable", "protocol_error", "cancelled" };

struct series {
	size_t			 server;
	char			*tool;
	uint64_t		 count[OC_N];
	struct metrics_hist	 hist;
};

struct rsrv;

struct router_call {
	struct router		*r;
	struct rsrv		*s;
	LIST_ENTRY(router_call)	 link;		/* in s->calls */
	char			*tool;		/* the child's tool name */
	int64_t			 id;		/* request id; 0 when none */
	unsigned		 gen;		/* process it went to */
	double			 t0;
	router_done_fn		 done;		/* one of done, done_raw */
	router_done_raw_fn	 done_raw;
	router_progress_fn	 progress;
	void			*arg;
	int			 cancelled;	/* by the caller */
	int			 lost;		/* session closed, cause awaited */
	/* audit: only when `audit` is set */
	int			 audit;
	enum audit_caller	 caller;
	json_t			*args;		/* owned reference; NULL: parse
						   args_text when needed */
	char			*args_text;	/* owned; NULL: none */
	size_t			 args_len;
	json_t			*rpc_id;	/* owned; NULL: none */
	char			*rpc_id_text;	/* owned; or the id as text */
	double			 wall0;		/* ev_now() at the start */
};

struct rsrv {
	struct router		*r;
	size_t			 idx;
	const struct config_server *cfg;
	struct sup_child	*child;
	struct mcp_client	*cl;		/* NULL: no session */
	unsigned		 gen;		/* current process */
	unsigned		 gone_gen;	/* last process that is gone */
	int			 ready;
	int			 settled;
	int			 listing;	/* tools/list in flight */
	int			 relist;	/* list_changed meanwhile */
	unsigned		 pages;
	json_t			*tools;		/* array: the child's entries */
	json_t			*byname;	/* name -> entry of tools */
	json_t			*acc;		/* array being listed */
	LIST_HEAD(, router_call) calls;
	size_t			 ncalls;
	int64_t			 ping_id;	/* 0: none in flight */
	double			 ping_t0;
	double			 ping_rtt_ms;	/* < 0: none */
	ev_timer		 ping;
	ev_timer		 lost;
	char			 cause[CAUSE_MAX];	/* last death, human */
	char			 kill_reason[256];	/* our reason, or "" */
};

struct router {
	struct ev_loop		*loop;
	const struct afu9_config *cfg;
	struct router_opts	 opts;
	struct router_cb	 cb;
	void			*arg;
	struct sup		*sup;
	struct rsrv		*srv;
	size_t			 nsrv;
	size_t			 ncalls;
	int			 stopping;	/* no new calls */
	int			 stopping_children;
	unsigned		 kill_grace_ms;
	void			(*done)(void *);
	void			*done_arg;
	int			 done_called;
	int			 freeing;
	ev_timer		 grace;
	struct later		 step;		/* the next shutdown step */
	struct later		 fire;		/* calls done, once */
	struct series		*series;
	size_t			 nseries, capseries;
	struct store		*store;		/* borrowed; NULL: no audit */
	int			 report_servers;
};

static void	srv_list_page(struct rsrv *, const char *cursor);
static void	router_step(struct router *);

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *
router_state_name(enum router_sstate st)
{
	static const char *const names[] = { "disabled", "starting", "ready",
	    "down", "failed", "stopped" };

	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] :
	    "unknown";
}

/* ---- metrics ---- */

/* The series for (server, tool), created on first use; NULL past the bound
   or on ENOMEM (then the call is simply not counted by tool). */
static struct series *
series_get(struct router *r, size_t server, const char *tool)
{
	struct series *ns;
	size_t i, ncap;

	for (i = 0; i < r->nseries; i++)
		if (r->series[i].server == server &&
		    strcmp(r->series[i].tool, tool) == 0)
			return &r->series[i];
	if (r->nseries >= METRIC_MAX_SERIES)
		return NULL;
	if (r->nseries == r->capseries) {
		ncap = r->capseries ? r->capseries * 2 : 16;
		if ((ns = realloc(r->series, ncap * sizeof(*ns))) == NULL)
			return NULL;
		r->series = ns;
		r->capseries = ncap;
	}
	ns = &r->series[r->nseries];
	memset(ns, 0, sizeof(*ns));
	if ((ns->tool = strdup(tool)) == NULL)
		return NULL;
	ns->server = server;
	r->nseries++;
	return ns;
}

static void
count_call(struct router_call *c, enum outcome oc)
{
	struct series *se = series_get(c->r, c->s->idx, c->tool);

	if (se == NULL)
		return;
	se->count[oc]++;
	metrics_observe(&se->hist, now_s() - c->t0);
}

/* The labels of a series: server="S",tool="T", escaped, into lb. */
static int
series_labels(const struct router *r, const struct series *se, struct buf *lb)
{
	buf_reset(lb);
	return buf_printf(lb, "server=\"") == -1 ||
	    metrics_label(lb, r->srv[se->server].cfg->name) == -1 ||
	    buf_printf(lb, "\",tool=\"") == -1 ||
	    metrics_label(lb, se->tool) == -1 ||
	    buf_append(lb, "\"", 1) == -1 ? -1 : 0;
}

int
router_metrics(const struct router *r, struct buf *out)
{
	struct sup_info si;
	struct buf lb;
	size_t i, k;
	int rc = -1;

	buf_init(&lb, 2 * QNAME_MAX + 64);
	if (metrics_head(out, "afu9_tool_calls_total", "counter",
	    "Tool calls routed, by outcome.") == -1)
		goto out;
	for (i = 0; i < r->nseries; i++) {
		if (series_labels(r, &r->series[i], &lb) == -1)
			goto out;
		for (k = 0; k < OC_N; k++)
			if (r->series[i].count[k] != 0 &&
			    buf_printf(out, "afu9_tool_calls_total{%.*s,"
			    "outcome=\"%s\"} %llu\n", (int)buf_used(&lb),
			    buf_data(&lb), outcome_names[k],
			    (unsigned long long)r->series[i].count[k]) == -1)
				goto out;
	}
	if (metrics_head(out, "afu9_tool_call_duration_seconds", "histogram",
	    "Tool call duration.") == -1)
		goto out;
	for (i = 0; i < r->nseries; i++)
		if (series_labels(r, &r->series[i], &lb) == -1 ||
		    buf_append(&lb, "", 1) == -1 ||
		    metrics_hist_write(out, "afu9_tool_call_duration_seconds",
		    buf_data(&lb), &r->series[i].hist) == -1)
			goto out;
	rc = 0;
out:
	buf_free(&lb);
	if (rc == -1)
		return -1;
	if (metrics_head(out, "afu9_server_restarts_total", "counter",
	    "Processes restarted.") == -1)
		return -1;
	for (i = 0; i < r->nsrv; i++) {
		if (r->srv[i].child == NULL)
			continue;
		sup_info(r->srv[i].child, &si);
		if (buf_printf(out, "afu9_server_restarts_total{server=\"%s\"} "
		    "%u\n", r->srv[i].cfg->name, si.restarts) == -1)
			return -1;
	}
	if (metrics_head(out, "afu9_server_up", "gauge",
	    "1 when the server is initialized and its tools listed.") == -1)
		return -1;
	for (i = 0; i < r->nsrv; i++)
		if (buf_printf(out, "afu9_server_up{server=\"%s\"} %d\n",
		    r->srv[i].cfg->name, r->srv[i].ready) == -1)
			return -1;
	return 0;
}

/* ---- calls ---- */

/* Free what a call owns, and the call. */
static void
call_free(struct router_call *c)
{
	json_decref(c->args);
	free(c->args_text);
	json_decref(c->rpc_id);
	free(c->rpc_id_text);
	free(c->tool);
	free(c);
}

static void
call_unlink(struct router_call *c)
{
	struct rsrv *s = c->s;

	INVARIANT(s->ncalls > 0 && c->r->ncalls > 0);
	LIST_REMOVE(c, link);
	s->ncalls--;
	c->r->ncalls--;
	call_free(c);
}

/* ---- audit ---- */

/* The JSON-RPC code recorded for a failure of this kind. */
static int
audit_code(const struct router_err *e)
{
	if (e->code != 0)
		return e->code;
	switch (e->kind) {
	case ROUTER_E_UNKNOWN:
		return RPC_INVALID_PARAMS;
	case ROUTER_E_TIMEOUT:
		return RPC_REQUEST_TIMEOUT;
	case ROUTER_E_INTERNAL:
		return RPC_INTERNAL_ERROR;
	default:
		return RPC_CONNECTION_CLOSED;
	}
}

/*
 * Complete row a with the outcome and queue it: result (borrowed) when
 * the child answered, else e, else the caller cancelled.  The store
 * counts and logs its own drops; a row it refuses as invalid is logged
 * here, since only the router knows which call it was.
 */
static void
audit_submit(struct router *r, struct audit_row *a, const char *res,
    size_t rlen, int is_error, const struct router_err *e)
{
	char *sum = NULL;

	if (e != NULL) {
		a->failed = 1;
		a->error_code = audit_code(e);
		a->error_message = e->message;
	} else if (res != NULL) {
		/* Only here: calls that are not audited never pay for it. */
		sum = store_result_summary_text(res, rlen);
		a->result_summary = sum;
		a->is_error = is_error;
	} else {
		a->failed = 1;
		a->error_code = MCP_ERR_CANCELLED;
		a->error_message = "cancelled by the caller";
	}
	if (store_audit_call(r->store, a) == -1 && errno == EINVAL)
		log_emit(LOG_LVL_WARN, a->server, NULL, "audit: the row for "
		    "tool %.128s was refused as invalid", a->tool);
	free(sum);
}

/* Should calls be audited now (a store that is not disabled)? */
static int
audit_on(const struct router *r)
{
	return r->store != NULL && store_state(r->store) != STORE_DISABLED;
}

static json_t	*args_json(const json_t *, const char *, size_t);

/*
 * The call's arguments for its audit row (borrowed): parsed from the
 * text only now, so a call's start does not pay for its audit row.
 */
static const json_t *
call_args(struct router_call *c)
{
	if (c->args == NULL && c->args_text != NULL)
		c->args = args_json(NULL, c->args_text, c->args_len);
	return c->args;
}

/* Audit call c, which ended at time end (now_s()). */
static void
call_audit(struct router_call *c, double end, const char *res, size_t rlen,
    int is_error, const struct router_err *e)
{
	struct audit_row a;

	if (!c->audit || !audit_on(c->r))
		return;
	memset(&a, 0, sizeof(a));
	a.server = c->s->cfg->name;
	a.tool = c->tool;
	a.rpc_id = c->rpc_id;
	a.rpc_id_text = c->rpc_id_text;
	a.caller = c->caller;
	/* The tree when the caller gave one, else the text as it came
	   (the store parses that only when it must). */
	a.arguments = c->args;
	a.arguments_text = c->args_text;
	a.arguments_len = c->args_len;
	a.started_at = c->wall0;
	a.duration_ms = (end - c->t0) * 1000.;
	audit_submit(c->r, &a, res, rlen, is_error, e);
}

/* The caller's id for an audit row: a new reference, or NULL. */
static json_t *
origin_id(const struct router_origin *o)
{
	return o->rpc_id != NULL ? json_deep_copy(o->rpc_id) : NULL;
}

/* Arguments for an audit row: tree (borrowed) or text; new reference. */
static json_t *
args_json(const json_t *tree, const char *text, size_t len)
{
	if (tree != NULL)
		return json_incref((json_t *)tree);
	if (text != NULL)
		return json_loadb(text, len, 0, NULL);
	return json_object();
}

/* A call to server s refused before it was sent (server not ready). */
static void
audit_refused(struct router *r, const struct rsrv *s, const char *tool,
    const json_t *args, const struct router_origin *o, enum router_ekind kind,
    const char *msg)
{
	struct router_err e;
	struct audit_row a;
	json_t *id;

	if (o == NULL || !audit_on(r))
		return;
	e.kind = kind;
	e.code = 0;
	snprintf(e.message, sizeof(e.message), "%s", msg);
	id = origin_id(o);
	memset(&a, 0, sizeof(a));
	a.server = s->cfg->name;
	a.tool = tool;
	a.rpc_id = id;
	a.rpc_id_text = o->rpc_id_text;
	a.caller = o->caller;
	a.arguments = args;
	a.started_at = ev_now(r->loop);
	audit_submit(r, &a, NULL, 0, 0, &e);
	json_decref(id);
}

/*
 * Run the caller's done with the result text (or e).  A tree caller gets
 * the text parsed.
 */
static void
call_done(struct router_call *c, const char *res, size_t rlen, int is_error,
    const struct router_err *e)
{
	static const struct router_err oom = { ROUTER_E_INTERNAL, 0,
	    "out of memory" };
	json_t *tree = NULL;

	if (c->done_raw != NULL) {
		c->done_raw(c, res, rlen, is_error, e, c->arg);
		return;
	}
	if (c->done == NULL)
		return;
	if (res != NULL && (tree = json_loadb(res, rlen, JSON_DECODE_ANY,
	    NULL)) == NULL)
		e = &oom;
	c->done(c, tree, tree ? NULL : e, c->arg);
	json_decref(tree);
}

/*
 * Finish a call: count it, run done (unless cancelled), audit it, free
 * it.  res (rlen bytes, borrowed) is the child's result text when it
 * answered.  done goes first so the caller's reply is written before the
 * audit row is built: the row costs the caller no latency.  The call stays
 * linked (and r->ncalls counted) until the row is queued.
 */
static void
call_finish(struct router_call *c, enum outcome oc, const char *res,
    size_t rlen, int is_error, const struct router_err *e)
{
	struct router *r = c->r;
	int cancelled = c->cancelled;
	double end = c->audit ? now_s() : 0.;

	count_call(c, oc);
	if (!cancelled)
		call_done(c, res, rlen, is_error, e);
	call_audit(c, end, cancelled ? NULL : res, rlen, is_error,
	    cancelled ? NULL : e);
	call_unlink(c);
	if (r->stopping && r->ncalls == 0)
		router_step(r);
}

static void
call_fail(struct router_call *c, enum router_ekind kind, enum outcome oc,
    int code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
call_fail(struct router_call *c, enum router_ekind kind, enum outcome oc,
    int code, const char *fmt, ...)
{
	struct router_err e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	e.kind = kind;
	e.code = code;
	call_finish(c, oc, NULL, 0, 0, &e);
}

/* Fail every lost call of s with the cause of the death. */
static void
fail_lost(struct rsrv *s)
{
	struct router_call *c, *next;

	for (c = LIST_FIRST(&s->calls); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c->lost)
			call_fail(c, ROUTER_E_UNAVAILABLE, OC_UNAVAILABLE, 0,
			    "server %s %s", s->cfg->name, s->cause);
	}
}

/*
 * Does the result text say "isError": true?  A look at its top-level
 * members; a parse only when that cannot tell (an escaped member name).
 */
static int
result_is_error(const char *res, size_t len)
{
	const char *v;
	size_t vlen;
	json_t *t;
	int rc;

	switch (rpc_raw_member(res, len, "isError", &v, &vlen)) {
	case 1:
		return vlen == 4 && memcmp(v, "true", 4) == 0;
	case 0:
		return 0;
	default:
		t = json_loadb(res, len, JSON_DECODE_ANY, NULL);
		rc = json_is_true(json_object_get(t, "isError"));
		json_decref(t);
		return rc;
	}
}

static void
call_reply(struct mcp_client *cl, int64_t id, const char *result,
    size_t len, const struct mcp_error *err, void *arg)
{
	struct router_call *c = arg;
	struct rsrv *s = c->s;
	int ie;

	c->id = 0;
	if (c->cancelled) {
		call_finish(c, OC_CANCELLED, NULL, 0, 0, NULL);
		return;
	}
	if (err == NULL) {
		ie = result_is_error(result, len);
		call_finish(c, ie ? OC_ERROR : OC_OK, result, len, ie, NULL);
		return;
	}
	switch (err->code) {
	case RPC_CONNECTION_CLOSED:
		if (s->gone_gen >= c->gen) {
			call_fail(c, ROUTER_E_UNAVAILABLE, OC_UNAVAILABLE, 0,
			    "server %s %s", s->cfg->name, s->cause);
			return;
		}
		if (s->r->stopping_children) {
			call_fail(c, ROUTER_E_SHUTDOWN, OC_UNAVAILABLE, 0,
			    "server %s stopped: shutting down", s->cfg->name);
			return;
		}
		c->lost = 1;
		if (!ev_is_active(&s->lost))
			ev_timer_start(s->r->loop, &s->lost);
		return;
	case RPC_REQUEST_TIMEOUT:
		call_fail(c, ROUTER_E_TIMEOUT, OC_TIMEOUT, err->code,
		    "server %s: tool %s did not answer within %u ms (cancelled)",
		    s->cfg->name, c->tool, s->cfg->call_timeout_ms);
		return;
	default:
		call_fail(c, ROUTER_E_PROTOCOL, OC_PROTOCOL, err->code,
		    "server %s: %s", s->cfg->name,
		    err->message ? err->message : "error");
		return;
	}
}

static void
call_progress(struct mcp_client *cl, int64_t id, const json_t *params,
    void *arg)
{
	struct router_call *c = arg;

	if (!c->cancelled && c->progress)
		c->progress(c, params, c->arg);
}

/* The server part of "server.tool", or NULL; *tool set past the dot. */
static struct rsrv *
split_qname(struct router *r, const char *qname, const char **tool)
{
	const char *dot = strchr(qname, '.');
	size_t i, n;

	if (dot == NULL || dot[1] == '\0')
		return NULL;
	n = (size_t)(dot - qname);
	for (i = 0; i < r->nsrv; i++)
		if (strlen(r->srv[i].cfg->name) == n &&
		    strncmp(r->srv[i].cfg->name, qname, n) == 0) {
			*tool = dot + 1;
			return &r->srv[i];
		}
	return NULL;
}

static const json_t *
srv_find_tool(const struct rsrv *s, const char *tool)
{
	return json_object_get(s->byname, tool);
}

/* Fill *err; returns NULL for the caller to return. */
static struct router_call *
call_refuse(struct router_err *err, enum router_ekind kind,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static struct router_call *
call_refuse(struct router_err *err, enum router_ekind kind,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	err->kind = kind;
	err->code = 0;
	return NULL;
}

/* Why s takes no call now. */
static const char *
srv_down_reason(const struct rsrv *s, char *buf, size_t len)
{
	struct sup_info si;

	if (s->cfg->disabled)
		return "is disabled";
	sup_info(s->child, &si);
	if (si.last_cause[0] != '\0' && si.state != SUP_RUNNING)
		snprintf(buf, len, "is %s (last exit: %s)",
		    si.crashloop ? "failed" : sup_state_name(si.state),
		    si.last_cause);
	else
		snprintf(buf, len, "is %s", s->ready ? "ready" :
		    si.state == SUP_RUNNING ? "initializing" :
		    sup_state_name(si.state));
	return buf;
}

/*
 * {"name":"<tool>","arguments":<args>}: new, in *len bytes, or NULL.
 * Tool names are [A-Za-z0-9_./-] (qname_ok): nothing to escape.
 */
static char *
call_params(const char *tool, const char *args, size_t alen, size_t *len)
{
	static const char a[] = "{\"name\":\"", b[] = "\",\"arguments\":";
	size_t tl = strlen(tool), n;
	char *p;

	if (args == NULL) {
		args = "{}";
		alen = 2;
	}
	n = sizeof(a) - 1 + tl + sizeof(b) - 1 + alen + 1;
	if ((p = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(p, a, sizeof(a) - 1);
	memcpy(p + sizeof(a) - 1, tool, tl);
	memcpy(p + sizeof(a) - 1 + tl, b, sizeof(b) - 1);
	memcpy(p + n - 1 - alen, args, alen);
	p[n - 1] = '}';
	p[n] = '\0';
	*len = n;
	return p;
}

/*
 * The one way a call starts: args as text (borrowed; NULL: {}), and
 * tree, the same arguments parsed when the caller has them (borrowed; for
 * an audit row).  Exactly one of done and done_raw.  See router_call().
 */
static struct router_call *
call_start(struct router *r, const char *qname, const char *args,
    size_t alen, const json_t *tree, const struct router_origin *origin,
    router_done_fn done, router_done_raw_fn done_raw,
    router_progress_fn progress, void *arg, struct router_err *err)
{
	struct router_err local;
	struct router_call *c;
	const char *tool;
	struct rsrv *s;
	json_t *aj;
	size_t plen;
	char why[CAUSE_MAX + 64], *params;

	if (err == NULL)
		err = &local;
	if (r->stopping)
		return call_refuse(err, ROUTER_E_SHUTDOWN,
		    "afu9 is shutting down");
	if ((s = split_qname(r, qname, &tool)) == NULL)
		return call_refuse(err, ROUTER_E_UNKNOWN, "Unknown tool: "
		    "%.200s (tools are named server.tool)", qname);
	if (!s->ready || s->cl == NULL) {
		(void)call_refuse(err, ROUTER_E_UNAVAILABLE,
		    "server %s %s", s->cfg->name,
		    srv_down_reason(s, why, sizeof(why)));
		if (origin != NULL && audit_on(r)) {
			aj = args_json(tree, args, alen);
			audit_refused(r, s, tool, aj, origin,
			    ROUTER_E_UNAVAILABLE, err->message);
			json_decref(aj);
		}
		return NULL;
	}
	if (srv_find_tool(s, tool) == NULL)
		return call_refuse(err, ROUTER_E_UNKNOWN, "Unknown tool: "
		    "%.200s", qname);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->tool = strdup(tool)) == NULL ||
	    (params = call_params(tool, args, alen, &plen)) == NULL) {
		if (c)
			free(c->tool);
		free(c);
		return call_refuse(err, ROUTER_E_INTERNAL, "out of memory");
	}
	if (origin != NULL && audit_on(r)) {
		c->audit = 1;
		c->caller = origin->caller;
		if (tree == NULL && args != NULL &&
		    (c->args_text = malloc(alen + 1)) != NULL) {
			memcpy(c->args_text, args, alen);
			c->args_text[alen] = '\0';
			c->args_len = alen;
		} else
			c->args = args_json(tree, args, alen);
		c->rpc_id = origin_id(origin);
		if (c->rpc_id == NULL && origin->rpc_id_text != NULL)
			c->rpc_id_text = strdup(origin->rpc_id_text);
		c->wall0 = ev_now(r->loop);
	}
	c->r = r;
	c->s = s;
	c->gen = s->gen;
	c->t0 = now_s();
	c->done = done;
	c->done_raw = done_raw;
	c->progress = progress;
	c->arg = arg;
	c->id = mcp_client_request_raw(s->cl, "tools/call", params, plen,
	    s->cfg->call_timeout_ms / 1000., call_reply,
	    progress ? call_progress : NULL, c);
	free(params);
	if (c->id < 0) {
		(void)call_refuse(err, ROUTER_E_INTERNAL, "server %s: "
		    "cannot send the request (output full or closed)",
		    s->cfg->name);
		if (c->audit)
			audit_refused(r, s, tool, call_args(c), origin,
			    ROUTER_E_INTERNAL, err->message);
		call_free(c);
		return NULL;
	}
	LIST_INSERT_HEAD(&s->calls, c, link);
	s->ncalls++;
	r->ncalls++;
	return c;
}

struct router_call *
router_call(struct router *r, const char *qname, json_t *args,
    const struct router_origin *origin, router_done_fn done,
    router_progress_fn progress, void *arg, struct router_err *err)
{
	struct router_err local;
	struct router_call *c;
	char *text = NULL;

	if (err == NULL)
		err = &local;
	if (args != NULL && (text = json_dumps(args, JSON_COMPACT |
	    JSON_ENCODE_ANY)) == NULL) {
		json_decref(args);
		return call_refuse(err, ROUTER_E_INTERNAL, "out of memory");
	}
	c = call_start(r, qname, text, text ? strlen(text) : 0, args, origin,
	    done, NULL, progress, arg, err);
	free(text);
	json_decref(args);
	return c;
}

struct router_call *
router_call_raw(struct router *r, const char *qname, const char *args,
    size_t args_len, const struct router_origin *origin,
    router_done_raw_fn done, router_progress_fn progress, void *arg,
    struct router_err *err)
{
	return call_start(r, qname, args, args_len, NULL, origin, NULL, done,
	    progress, arg, err);
}

void
router_call_cancel(struct router_call *c, const char *reason)
{
	if (c->cancelled)
		return;
	c->cancelled = 1;
	/*
	 * The reply callback (MCP_ERR_CANCELLED) frees it from the loop; a
	 * lost call is freed by `gone` or the lost timer.
	 */
	if (c->id > 0 && c->s->cl)
		(void)mcp_client_cancel(c->s->cl, c->id, reason);
}

size_t
router_calls_in_flight(const struct router *r)
{
	return r->ncalls;
}

/* ---- registry ---- */

static int
qname_ok(const char *server, const char *tool)
{
	const char *p;

	if (strlen(server) + 1 + strlen(tool) > QNAME_MAX || *tool == '\0')
		return 0;
	for (p = tool; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("_./-", *p)))
			return 0;
	return 1;
}

json_t *
router_tools(const struct router *r)
{
	json_t *out = json_array(), *e;
	const json_t *t;
	char q[QNAME_MAX + 2];
	size_t i, k;

	if (out == NULL)
		return NULL;
	for (i = 0; i < r->nsrv; i++) {
		if (!r->srv[i].ready)
			continue;
		json_array_foreach(r->srv[i].tools, k, t) {
			snprintf(q, sizeof(q), "%s.%s", r->srv[i].cfg->name,
			    json_string_value(json_object_get(t, "name")));
			if ((e = json_copy((json_t *)t)) == NULL) {
				json_decref(out);
				return NULL;
			}
			json_object_set_new(e, "name", json_string(q));
			json_array_append_new(out, e);
		}
	}
	return out;
}

const json_t *
router_tool(const struct router *r, const char *qname)
{
	const char *tool;
	struct rsrv *s = split_qname((struct router *)r, qname, &tool);

	return s && s->ready ? srv_find_tool(s, tool) : NULL;
}

/* ---- sessions ---- */

/* Write s's state to mcp_servers when the router reports servers. */
static void
report_server(struct rsrv *s)
{
	struct router_sinfo ri;
	struct server_row row;
	struct sup_info si;
	json_t *args;
	size_t i;

	if (!s->r->report_servers || s->r->freeing || !audit_on(s->r) ||
	    s->child == NULL)
		return;
	sup_info(s->child, &si);
	router_server_info(s->r, s->idx, &ri);
	if ((args = json_array()) == NULL)
		return;
	for (i = 1; i < s->cfg->argc; i++)
		json_array_append_new(args, json_string(s->cfg->argv[i]));
	memset(&row, 0, sizeof(row));
	row.name = s->cfg->name;
	row.command = s->cfg->argv[0];
	row.args = args;
	row.state = sup_state_name(si.state);
	row.health = s->ready ? "healthy" : (si.state == SUP_BACKOFF ||
	    si.state == SUP_FAILED || si.crashloop) ? "unhealthy" : "unknown";
	row.pid = (int)si.pid;
	row.restarts = si.restarts;
	row.last_exit = si.last_cause[0] ? si.last_cause : NULL;
	row.tool_count = (unsigned)ri.ntools;
	row.protocol_version = ri.protocol_version;
	if (store_server_state(s->r->store, &row) == -1)
		log_emit(LOG_LVL_WARN, s->cfg->name, NULL, "cannot record the "
		    "server state: %s", strerror(errno));
	json_decref(args);
}

static void
notify_state(struct rsrv *s)
{
	report_server(s);
	if (s->r->cb.state_changed)
		s->r->cb.state_changed(s->r, s->cfg->name, s->r->arg);
}

static void
notify_tools(struct rsrv *s)
{
	if (s->r->cb.tools_changed)
		s->r->cb.tools_changed(s->r, s->r->arg);
}

/*
 * A liveness or protocol failure of a running child: kill it (a restart
 * follows unless restarts are off).  reason is kept as the cause callers
 * see.
 */
static void
srv_kill(struct rsrv *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
srv_kill(struct rsrv *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->kill_reason, sizeof(s->kill_reason), fmt, ap);
	va_end(ap);
	log_emit(LOG_LVL_WARN, s->cfg->name, NULL, "%s: killing the process",
	    s->kill_reason);
	if (s->r->opts.no_restart || s->r->stopping_children)
		(void)sup_kill(s->child, SIGKILL);
	else if (sup_restart(s->child) == -1)
		(void)sup_kill(s->child, SIGKILL);
}

static void
srv_set_ready(struct rsrv *s)
{
	s->ready = 1;
	s->settled = 1;
	log_emit(LOG_LVL_INFO, s->cfg->name, NULL, "ready: %zu tool(s)",
	    json_array_size(s->tools));
	if (s->cfg->ping_interval_ms > 0 && !ev_is_active(&s->ping)) {
		ev_timer_set(&s->ping, s->cfg->ping_interval_ms / 1000.,
		    s->cfg->ping_interval_ms / 1000.);
		ev_timer_start(s->r->loop, &s->ping);
	}
	notify_state(s);
	notify_tools(s);
}

static double
init_timeout(const struct rsrv *s)
{
	double t = s->cfg->ping_timeout_ms / 1000.;

	return t > INIT_TIMEOUT_MIN ? t : INIT_TIMEOUT_MIN;
}

/* Keep the valid entries of one tools/list page. */
static void
list_take(struct rsrv *s, const json_t *tools)
{
	const json_t *t;
	const char *name;
	size_t i;

	json_array_foreach(tools, i, t) {
		name = json_string_value(json_object_get(t, "name"));
		if (name == NULL || !json_is_object(json_object_get(t,
		    "inputSchema")) || !qname_ok(s->cfg->name, name)) {
			log_emit(LOG_LVL_WARN, s->cfg->name, NULL, "tool %.64s "
			    "skipped: no valid name or inputSchema",
			    name ? name : "(unnamed)");
			continue;
		}
		if (json_array_size(s->acc) >= LIST_MAX_TOOLS)
			return;
		json_array_append(s->acc, (json_t *)t);
	}
}

/* Index s->tools by name (entries borrowed from the array). */
static void
srv_index_tools(struct rsrv *s)
{
	const json_t *t;
	size_t i;

	json_object_clear(s->byname);
	json_array_foreach(s->tools, i, t)
		json_object_set(s->byname, json_string_value(json_object_get(t,
		    "name")), (json_t *)t);
}

static void
list_reply(struct mcp_client *cl, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	struct rsrv *s = arg;
	const json_t *tools, *next;
	int was_ready = s->ready;

	s->listing = 0;
	if (err != NULL) {
		json_decref(s->acc);
		s->acc = NULL;
		if (err->code != RPC_CONNECTION_CLOSED)
			srv_kill(s, "tools/list failed: %s", err->message);
		return;
	}
	tools = json_object_get(result, "tools");
	next = json_object_get(result, "nextCursor");
	if (!json_is_array(tools)) {
		srv_kill(s, "tools/list: the result has no tools array");
		return;
	}
	list_take(s, tools);
	if (json_is_string(next) && ++s->pages < LIST_MAX_PAGES &&
	    json_array_size(s->acc) < LIST_MAX_TOOLS) {
		srv_list_page(s, json_string_value(next));
		return;
	}
	json_decref(s->tools);
	s->tools = s->acc;
	s->acc = NULL;
	srv_index_tools(s);
	if (s->relist) {
		s->relist = 0;
		srv_list_page(s, NULL);
	}
	if (!was_ready)
		srv_set_ready(s);
	else
		notify_tools(s);
}

static void
srv_list_page(struct rsrv *s, const char *cursor)
{
	json_t *params = NULL;

	if (cursor == NULL) {
		json_decref(s->acc);
		s->acc = json_array();
		s->pages = 0;
	} else
		params = json_pack("{s:s}", "cursor", cursor);
	s->listing = 1;
	if (mcp_client_request(s->cl, "tools/list", params, init_timeout(s),
	    list_reply, NULL, s) < 0) {
		s->listing = 0;
		srv_kill(s, "cannot send tools/list");
	}
}

static void
init_reply(struct mcp_client *cl, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	struct rsrv *s = arg;

	if (err != NULL) {
		if (err->code != RPC_CONNECTION_CLOSED)
			srv_kill(s, "initialize failed: %s", err->message);
		return;
	}
	srv_list_page(s, NULL);
}

static void
sess_notify(struct mcp_client *cl, const char *method, const json_t *params,
    void *arg)
{
	struct rsrv *s = arg;

	if (strcmp(method, "notifications/tools/list_changed") == 0) {
		if (s->listing)
			s->relist = 1;
		else if (s->ready)
			srv_list_page(s, NULL);
		return;
	}
	if (strcmp(method, "notifications/message") == 0) {
		if (s->r->cb.message)
			s->r->cb.message(s->r, s->cfg->name, params, s->r->arg);
		else
			log_emit(LOG_LVL_INFO, s->cfg->name, params,
			    "notifications/message");
		return;
	}
	log_emit(LOG_LVL_DEBUG, s->cfg->name, NULL, "notification %.64s "
	    "ignored", method);
}

/* Drop the session's state: not ready, no tools, no ping. */
static void
srv_reset(struct rsrv *s)
{
	int had_tools = s->ready;

	ev_timer_stop(s->r->loop, &s->ping);
	s->ping_id = 0;
	s->ready = 0;
	s->listing = s->relist = 0;
	json_decref(s->acc);
	s->acc = NULL;
	json_array_clear(s->tools);
	json_object_clear(s->byname);
	if (had_tools)
		notify_tools(s);
}

static void
sess_closed(struct mcp_client *cl, const char *reason, void *arg)
{
	struct rsrv *s = arg;

	if (s->cl != cl)
		return;
	log_emit(s->r->stopping_children ? LOG_LVL_DEBUG : LOG_LVL_INFO,
	    s->cfg->name, NULL, "session closed: %s", reason);
	s->cl = NULL;
	mcp_client_free(cl);
	srv_reset(s);
	if (s->gone_gen < s->gen && !s->r->stopping_children &&
	    !ev_is_active(&s->lost))
		ev_timer_start(s->r->loop, &s->lost);
	notify_state(s);
}

/* The process closed its stdout but `gone` did not follow. */
static void
lost_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rsrv *s = w->data;
	struct sup_info si;

	if (s->gone_gen >= s->gen)
		return;
	snprintf(s->cause, sizeof(s->cause), "closed its output (stdout)");
	fail_lost(s);
	sup_info(s->child, &si);
	if (si.state == SUP_RUNNING && s->cl == NULL)
		srv_kill(s, "the process closed its stdout");
}

static void
ping_reply(struct mcp_client *cl, int64_t id, const json_t *result,
    const struct mcp_error *err, void *arg)
{
	struct rsrv *s = arg;

	if (s->ping_id != id)
		return;
	s->ping_id = 0;
	if (err == NULL) {
		s->ping_rtt_ms = (now_s() - s->ping_t0) * 1000.;
		return;
	}
	if (err->code == RPC_REQUEST_TIMEOUT)
		srv_kill(s, "no answer to ping within %u ms",
		    s->cfg->ping_timeout_ms);
}

static void
ping_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rsrv *s = w->data;
	int64_t id;

	if (!s->ready || s->cl == NULL || s->ping_id != 0)
		return;
	s->ping_t0 = now_s();
	id = mcp_client_request(s->cl, "ping", NULL,
	    s->cfg->ping_timeout_ms / 1000., ping_reply, NULL, s);
	if (id > 0)
		s->ping_id = id;
}

static void
sup_started(struct sup_child *ch, int in_fd, int out_fd, void *arg)
{
	struct rsrv *s = arg;
	struct mcp_client_opts o = {
		.mode = s->cfg->framing,
		.max_msg = s->cfg->max_message_bytes,
		.name = "afu9",
		.version = AFU9_VERSION,
		.peer = s->cfg->name,
	};
	struct mcp_client_cb cb = { sess_notify, sess_closed };

	s->gen++;
	s->kill_reason[0] = '\0';
	ev_timer_stop(s->r->loop, &s->lost);
	if ((s->cl = mcp_client_new(s->r->loop, out_fd, in_fd, &o, &cb, s))
	    == NULL) {
		close(in_fd);
		close(out_fd);
		srv_kill(s, "cannot open a session: out of memory");
		return;
	}
	if (mcp_client_initialize(s->cl, init_timeout(s), init_reply, s) == -1)
		srv_kill(s, "cannot send initialize");
	notify_state(s);
}

static void
sup_close_input(struct sup_child *ch, void *arg)
{
	struct rsrv *s = arg;

	if (s->cl)
		mcp_client_close(s->cl, "stopping");
}

static void
sup_gone(struct sup_child *ch, const char *cause, void *arg)
{
	struct rsrv *s = arg;
	struct router *r = s->r;

	s->gone_gen = s->gen;
	s->settled = 1;
	ev_timer_stop(r->loop, &s->lost);
	if (s->kill_reason[0] != '\0')
		snprintf(s->cause, sizeof(s->cause), "was killed (%s): %s",
		    s->kill_reason, cause);
	else
		snprintf(s->cause, sizeof(s->cause), "exited: %s", cause);
	if (!r->stopping_children)
		log_emit(LOG_LVL_WARN, s->cfg->name, NULL, "process %s",
		    s->cause);
	if (s->cl)
		mcp_client_close(s->cl, cause);	/* fails pending calls now */
	fail_lost(s);
	srv_reset(s);
	notify_state(s);
	if (r->stopping_children)
		router_step(r);
}

static void
sup_state_cb(struct sup_child *ch, enum sup_state st, void *arg)
{
	struct rsrv *s = arg;

	if (st == SUP_FAILED || st == SUP_BACKOFF)
		notify_state(s);
	else
		report_server(s);
}

/* ---- public ---- */

static void	fire_done(void *);
static void	step_later(void *);

struct router *
router_new(struct ev_loop *loop, const struct afu9_config *cfg,
    const struct router_opts *opts, const struct router_cb *cb, void *arg,
    char *err, size_t errlen)
{
	struct sup_cb scb = { sup_started, sup_close_input, sup_gone,
	    sup_state_cb, NULL };
	struct sup_spec sp;
	struct router *r;
	struct rsrv *s;
	char **env;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->srv = calloc(cfg->nservers ? cfg->nservers : 1,
	    sizeof(*r->srv))) == NULL) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->cfg = cfg;
	if (opts)
		r->opts = *opts;
	if (cb)
		r->cb = *cb;
	r->arg = arg;
	ev_timer_init(&r->grace, NULL, 0., 0.);
	later_init(&r->step, loop, step_later, r);
	later_init(&r->fire, loop, fire_done, r);
	if ((r->sup = sup_new(loop)) == NULL) {
		snprintf(err, errlen, "supervisor: %s", strerror(errno));
		free(r->srv);
		free(r);
		return NULL;
	}
	for (i = 0; i < cfg->nservers; i++) {
		s = &r->srv[i];
		s->r = r;
		s->idx = i;
		s->cfg = &cfg->servers[i];
		s->ping_rtt_ms = -1;
		s->tools = json_array();
		s->byname = json_object();
		ev_timer_init(&s->ping, ping_cb, 0., 0.);
		ev_timer_init(&s->lost, lost_cb, LOST_WAIT, 0.);
		s->ping.data = s->lost.data = s;
		r->nsrv++;
		if (s->cfg->disabled)
			continue;
		memset(&sp, 0, sizeof(sp));
		if ((env = config_build_env(s->cfg, environ)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		sp.name = s->cfg->name;
		sp.argv = (const char *const *)s->cfg->argv;
		sp.env = (const char *const *)env;
		sp.policy = r->opts.no_restart ? SUP_NEVER : s->cfg->restart;
		s->child = sup_add(r->sup, &sp, &scb, s, err, errlen);
		config_env_free(env);
		if (s->child == NULL)
			goto fail;
	}
	return r;
fail:
	router_free(r);
	return NULL;
}

void
router_set_store(struct router *r, struct store *st, int report_servers)
{
	r->store = st;
	r->report_servers = report_servers;
}

int
router_start(struct router *r, char *err, size_t errlen)
{
	char why[256];
	size_t i;

	for (i = 0; i < r->nsrv; i++) {
		if (r->srv[i].child == NULL)
			continue;
		if (sup_start(r->srv[i].child, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "server %s: %s",
			    r->srv[i].cfg->name, why);
			return -1;
		}
	}
	return 0;
}

static void
fire_done(void *arg)
{
	struct router *r = arg;

	if (r->done_called)
		return;
	r->done_called = 1;
	if (r->done)
		r->done(r->done_arg);
}

static void
stop_children(struct router *r)
{
	size_t i;

	if (r->stopping_children)
		return;
	r->stopping_children = 1;
	ev_timer_stop(r->loop, &r->grace);
	for (i = 0; i < r->nsrv; i++)
		ev_timer_stop(r->loop, &r->srv[i].ping);
	sup_stop_all(r->sup, r->kill_grace_ms);
}

/* The next shutdown step, when its condition holds. */
static void
router_step(struct router *r)
{
	if (!r->stopping || r->freeing)
		return;
	if (!r->stopping_children && r->ncalls == 0)
		stop_children(r);
	if (r->stopping_children && sup_active(r->sup) == 0 &&
	    !r->done_called)
		later_arm(&r->fire);
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct router *r = w->data;

	if (r->ncalls > 0)
		log_warnx("shutdown: %zu call(s) still in flight after the "
		    "grace period; stopping the servers", r->ncalls);
	stop_children(r);
	router_step(r);
}

static void
step_later(void *arg)
{
	router_step(arg);
}

void
router_shutdown(struct router *r, unsigned grace_ms, unsigned kill_grace_ms,
    void (*done)(void *), void *arg)
{
	if (r->stopping)
		return;
	r->stopping = 1;
	r->kill_grace_ms = kill_grace_ms;
	r->done = done;
	r->done_arg = arg;
	r->grace.data = r;
	ev_set_cb(&r->grace, grace_cb);
	if (r->ncalls > 0) {
		ev_timer_set(&r->grace, grace_ms / 1000., 0.);
		ev_timer_start(r->loop, &r->grace);
	}
	/* The rest from the loop: no callback inside this call. */
	later_arm(&r->step);
}

void
router_free(struct router *r)
{
	struct router_call *c;
	struct rsrv *s;
	size_t i;

	if (r == NULL)
		return;
	ev_timer_stop(r->loop, &r->grace);
	later_cancel(&r->step);
	later_cancel(&r->fire);
	r->stopping = r->stopping_children = r->freeing = 1;
	for (i = 0; i < r->nsrv; i++) {
		s = &r->srv[i];
		ev_timer_stop(r->loop, &s->ping);
		ev_timer_stop(r->loop, &s->lost);
		LIST_FOREACH(c, &s->calls, link)
			c->cancelled = 1;
		if (s->cl) {
			struct mcp_client *cl = s->cl;

			s->cl = NULL;
			mcp_client_free(cl);
		}
		while (!LIST_EMPTY(&s->calls))
			call_unlink(LIST_FIRST(&s->calls));
		json_decref(s->tools);
		json_decref(s->byname);
		json_decref(s->acc);
	}
	sup_free(r->sup);
	for (i = 0; i < r->nseries; i++)
		free(r->series[i].tool);
	free(r->series);
	free(r->srv);
	free(r);
}

size_t
router_nservers(const struct router *r)
{
	return r->nsrv;
}

int
router_server_index(const struct router *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nsrv; i++)
		if (strcmp(r->srv[i].cfg->name, name) == 0)
			return (int)i;
	return -1;
}

void
router_server_info(const struct router *r, size_t i, struct router_sinfo *o)
{
	const struct rsrv *s = &r->srv[i];
	struct sup_info si;

	memset(o, 0, sizeof(*o));
	o->name = s->cfg->name;
	o->required = s->cfg->required;
	o->ping_rtt_ms = s->ping_rtt_ms;
	o->last_cause = "";
	if (s->cfg->disabled || s->child == NULL) {
		o->state = RS_DISABLED;
		o->settled = 1;
		return;
	}
	sup_info(s->child, &si);
	o->pid = (int)si.pid;
	o->restarts = si.restarts;
	o->last_cause = si.last_cause;
	o->ntools = s->ready ? json_array_size(s->tools) : 0;
	o->up = s->ready;
	o->settled = s->settled;
	if (s->ready && s->cl != NULL)
		o->protocol_version = json_string_value(json_object_get(
		    mcp_client_server_info(s->cl), "protocolVersion"));
	switch (si.state) {
	case SUP_STARTING:
	case SUP_RUNNING:
		o->state = s->ready ? RS_READY : si.crashloop ? RS_FAILED :
		    RS_STARTING;
		break;
	case SUP_BACKOFF:
		o->state = si.crashloop ? RS_FAILED : RS_DOWN;
		break;
	case SUP_FAILED:
		o->state = RS_FAILED;
		break;
	default:
		o->state = RS_STOPPED;
		break;
	}
}

int
router_ready(const struct router *r)
{
	size_t i;

	if (r->stopping)
		return 0;
	for (i = 0; i < r->nsrv; i++)
		if (r->srv[i].cfg->required && !r->srv[i].cfg->disabled &&
		    !r->srv[i].ready)
			return 0;
	return 1;
}

int
router_settled(const struct router *r)
{
	size_t i;

	for (i = 0; i < r->nsrv; i++)
		if (!r->srv[i].cfg->disabled && !r->srv[i].settled)
			return 0;
	return 1;
}

/* ---- as a subsystem ---- */

/* One server's entry in the /ready body; new reference. */
static json_t *
server_json(const struct router_sinfo *si)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:s}", "name", si->name,
	    "state", router_state_name(si->state), "required", si->required,
	    "restarts", (json_int_t)si->restarts, "last_exit",
	    si->last_cause ? si->last_cause : "");

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, "pid", si->pid > 0 ?
	    json_integer(si->pid) : json_null()) == -1 ||
	    json_object_set_new(o, "tools",
	    json_integer((json_int_t)si->ntools)) == -1 ||
	    json_object_set_new(o, "ping_rtt_ms", si->ping_rtt_ms >= 0 ?
	    json_real(si->ping_rtt_ms) : json_null()) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *
router_status(const struct router *r)
{
	struct router_sinfo si;
	json_t *list = json_array();
	size_t i;

	for (i = 0; list != NULL && i < router_nservers(r); i++) {
		router_server_info(r, i, &si);
		if (json_array_append_new(list, server_json(&si)) == -1) {
			json_decref(list);
			list = NULL;
		}
	}
	return list;
}

#define KILL_GRACE_MAX	5000u	/* ms: SIGTERM to SIGKILL, at most */

static int
ss_start(void *self, char *err, size_t errlen)
{
	return router_start(self, err, errlen);
}

static void
ss_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	struct router *r = self;
	unsigned g = r->cfg->shutdown_grace_ms;

	router_shutdown(r, grace_ms, g < KILL_GRACE_MAX ? g : KILL_GRACE_MAX,
	    done, arg);
}

static int
ss_ready(const void *self)
{
	return router_ready(self);
}

static json_t *
ss_status(const void *self)
{
	return router_status(self);
}

static int
ss_metrics(const void *self, struct buf *out)
{
	return router_metrics(self, out);
}

void
router_subsys(struct router *r, struct subsys *out)
{
	*out = (struct subsys){ .name = "router", .key = "servers",
	    .self = r, .grace_ms = r->cfg->shutdown_grace_ms,
	    .start = ss_start, .stop = ss_stop, .ready = ss_ready,
	    .status = ss_status, .metrics = ss_metrics };
}
