/*
 * router_call: the call path (see router.h, Calls): a call starts on a
 * ready server's session, its reply or failure completes it (the
 * caller's done first, then its audit row), a caller may cancel it, and
 * every outcome is counted per (server, tool) for /metrics.  A call whose
 * session closed waits as "lost" for the cause of the death (router.c).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "log.h"
#include "mcp_client.h"
#include "metrics.h"
#include "mcp/router.h"
#include "mcp/router_int.h"
#include "rpc.h"
#include "proc/supervisor.h"

#define METRIC_MAX_SERIES	1024

/* ---- counts ---- */

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

void
call_unlink(struct router_call *c)
{
	struct rsrv *s = c->s;

	INVARIANT(s->ncalls > 0 && c->r->ncalls > 0);
	LIST_REMOVE(c, link);
	s->ncalls--;
	c->r->ncalls--;
	call_free(c);
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
void
call_fail_lost(struct rsrv *s)
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

/*
 * The name of the first id of origin o (NULL: none) that is neither NULL
 * nor a uuid, or NULL when every one is fine.
 */
static const char *
origin_bad_id(const struct router_origin *o)
{
	if (o == NULL)
		return NULL;
	if (o->execution_id != NULL && !store_uuid_ok(o->execution_id))
		return "execution_id";
	if (o->step_id != NULL && !store_uuid_ok(o->step_id))
		return "step_id";
	if (o->agent_run_id != NULL && !store_uuid_ok(o->agent_run_id))
		return "agent_run_id";
	return NULL;
}

/* Copy id, a uuid checked by origin_bad_id() or NULL, into out[37]. */
static void
id_copy(char *out, const char *id)
{
	if (id != NULL)
		memcpy(out, id, 37);
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
	const char *bad;
	struct rsrv *s;
	json_t *aj;
	size_t plen;
	char why[CAUSE_MAX + 64], *params;

	if (err == NULL)
		err = &local;
	/* The caller's bug, whatever the router's state: say so at once. */
	if ((bad = origin_bad_id(origin)) != NULL)
		return call_refuse(err, ROUTER_E_INTERNAL, "Invalid origin: "
		    "%s is not a uuid (8-4-4-4-12 hex digits)", bad);
	if (r->stopping)
		return call_refuse(err, ROUTER_E_SHUTDOWN,
		    "afu9 is shutting down");
	if ((s = router_lookup(r, qname, &tool)) == NULL)
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
		id_copy(c->execution_id, origin->execution_id);
		id_copy(c->step_id, origin->step_id);
		id_copy(c->agent_run_id, origin->agent_run_id);
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

