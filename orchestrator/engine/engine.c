/*
 * engine: claims executions, runs their steps, commits every outcome
 * (see engine.h).  The SQL side is migrations/002_workflow_engine.sql.
 *
 * One struct exec per execution held.  It is always in exactly one
 * state: waiting for a statement (op), for a tool call (call), for a
 * timer (timer), or running code on the loop.  Every continuation runs
 * from a callback; a step's code never loops over steps on the stack.
 */
#include "config.h"

#include <sys/queue.h>

#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) && ((tvar) = TAILQ_NEXT(var, field), 1);		\
	    (var) = (tvar))
#endif

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "agent/agent.h"
#include "conf/conf_env.h"
#include "engine/defn.h"
#include "engine/engine.h"
#include "engine/expr.h"
#include "httpc.h"
#include "later.h"
#include "log.h"
#include "mcp/router.h"
#include "metrics.h"
#include "redact.h"
#include "store/pgq.h"
#include "subsys.h"
#include "utf8.h"

#define MSG_MAX		2048	/* a step's error text */
#define NPARAM_ADVANCE	15
#define READY_TICK_S	0.1	/* checking whether the servers are ready */
#define ERR_KEEP	512

enum xstate {
	XS_RUN = 0,	/* code on the loop (between callbacks) */
	XS_DB,		/* a statement in flight */
	XS_CALL,	/* a tool call in flight */
	XS_TIMER,	/* a delay */
	XS_AGENT,	/* an agent run */
};

struct exec;
struct engine;
typedef void (*xnext_fn)(struct exec *, const PGresult *);

/*
 * An agent step's run.  It outlives its execution when the engine gives
 * the execution up (cancelled, fenced, shut down): the run is cancelled
 * then, and its done callback, which always comes, frees it (x NULL,
 * on the engine's orphans list meanwhile), so the recorder writes how
 * it ended.
 */
struct ahold {
	TAILQ_ENTRY(ahold) link;
	struct engine	*e;
	struct exec	*x;		/* NULL: an orphan */
	struct agent	*a;
};
TAILQ_HEAD(aholdq, ahold);

struct exec {
	TAILQ_ENTRY(exec) link;
	struct engine	*e;
	char		 id[37];
	long long	 token;
	char		 tok[24];
	int		 wfm;		/* index in e->wfm, or -1 */
	struct defn	*def;
	json_t		*ctx;		/* inputs, steps, execution, env */
	json_t		*resume;	/* the cursor step's latest attempt
					   from the claim, until used */
	size_t		 cur;		/* step index */
	unsigned	 attempt;
	char		 step[37];	/* running row of this attempt; "" */
	double		 t0;		/* ev_now() at the attempt's start */
	double		 deadline;	/* wait: epoch seconds; 0: none */
	double		 lease_until;	/* our own lease estimate (ev_now) */
	json_t		*args;		/* the call's arguments (owned) */
	enum xstate	 state;
	struct router_call *call;
	struct pgq_op	*op;
	xnext_fn	 next;		/* continuation of op */
	ev_timer	 timer;
	void		(*timer_fn)(struct exec *);
	int		 timing_call;	/* the timer is the call's timeout */
	uint64_t	 hb_round;	/* last heartbeat that carried it */
	/* the outcome being committed */
	size_t		 to;		/* next step */
	int		 final;		/* 1 succeeded, 2 failed */
	int		 retry_after;	/* commit of a failure to retry */
	struct ahold	*agent;		/* the agent step's run, or NULL */
	json_t		*fail_out;	/* fail_if: the answer kept with the
					   failure (owned), or NULL */
	char		 gone[160];	/* why it is given up, for its run */
};

TAILQ_HEAD(execq, exec);

struct wfm {
	char		 name[129];
	uint64_t	 started, succeeded, failed;
};

struct engine {
	struct ev_loop	*loop;
	struct router	*r;
	struct pgq	*db;
	char		 owner[128];
	unsigned	 ttl_ms, poll_ms, concurrency, batch, hold_ms;
	json_t		*env;
	char		*wfdir;
	struct execq	 held;
	size_t		 nheld;
	int		 started;	/* engine_start() called */
	int		 claiming;	/* enabled (router ready, applied) */
	int		 applying;	/* built-ins being applied */
	int		 claim_inflight;
	int		 stopping;
	int		 releasing;
	struct later	 kick;
	ev_timer	 poll;
	ev_timer	 hb;
	ev_timer	 ready;
	ev_timer	 grace;
	int		 hb_inflight;
	uint64_t	 hb_round;
	double		 claim_sent;	/* ev_now() when the claim in flight went */
	void		(*done)(void *);
	void		*done_arg;
	struct engine_stats st;
	struct wfm	 wfm[ENGINE_WORKFLOWS_MAX];
	size_t		 nwfm;
	uint64_t	 wfm_other[3];
	struct metrics_hist step_h[DEFN_STYPES];	/* by enum defn_stype */
	struct metrics_hist claim_h;
	char		 err[ERR_KEEP];
	/* agent steps */
	struct httpc	*http;
	int		 own_http;
	const struct agent_recorder *arec;
	/* agent steps: the agent part of a config_env, copied */
	char		*ag_provider, *ag_model;
	char		*oa_key, *oa_url, *an_key, *an_url;
	struct prov_prices prices;	/* AFU9_AGENT_PRICES */
	struct aholdq	 orphans;
};

static void	run(struct exec *);
static void	drop(struct exec *, const char *why);
static void	outcome_fail(struct exec *, enum defn_ekind, const char *msg);
static void	start_attempt(struct exec *, unsigned attempt);
static void	claim_kick(void *);
static void	maybe_done(struct engine *);

/* ---- statements ---- */

static const struct pgq_stmt stmts[] = {
	{ "wf_claim", "SELECT id, token, takeover, waited_ms, next_step, "
	    "input, definition, steps FROM afu9_claim($1, $2, $3)", 3 },
	{ "wf_heartbeat", "SELECT afu9_heartbeat($1, $2, $3::uuid[], "
	    "$4::bigint[])", 4 },
	{ "wf_begin", "SELECT afu9_step_begin($1, $2, $3, $4, $5, $6, $7, "
	    "$8, $9)", 9 },
	/*
	 * The same without waiting for the WAL flush, for an attempt a
	 * resume would call again anyway (see begin()).
	 */
	{ "wf_begin_async", "SELECT afu9_step_begin($1, $2, $3, $4, $5, $6, "
	    "$7, $8, $9) FROM set_config('synchronous_commit', 'off', true)",
	    9 },
	{ "wf_advance", "SELECT afu9_advance($1, $2, $3, $4, $5, $6, $7, "
	    "$8, $9, $10, $11, $12, $13, $14, $15)", NPARAM_ADVANCE },
	{ "wf_park", "SELECT afu9_park($1, $2, $3, $4)", 4 },
	{ "wf_release", "SELECT afu9_release($1)", 1 },
	{ "wf_apply", "SELECT id, version, created FROM "
	    "afu9_workflow_apply($1, $2, $3, $4)", 4 },
	/*
	 * The latest agent run of an agent step's attempt (a resume), with
	 * its transcript and totals (the recorder closes a row left
	 * running when the run resuming it begins).
	 */
	{ "wf_agent_last", "SELECT l.id, l.status, l.result, (SELECT "
	    "coalesce(jsonb_agg(jsonb_build_object('role', m.role, 'content', "
	    "m.content) ORDER BY m.seq), '[]') FROM agent_messages m WHERE "
	    "m.run_id = l.id), l.input_tokens, l.output_tokens, "
	    "l.cache_read_tokens, l.cache_write_tokens, ceil(coalesce("
	    "l.cost_usd, 0) * 1000000), l.turns, l.tool_calls FROM agent_runs "
	    "l WHERE l.step_id = $1 ORDER BY l.started_at DESC, l.id DESC "
	    "LIMIT 1", 1 },
};

/* ---- small helpers ---- */

static const char *const kind_names[] = { "tool", "approval", "sleep",
	"wait", "agent" };
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == DEFN_STYPES,
    "a kind for every step type");

static double
now_s(const struct engine *e)
{
	return ev_now(e->loop);
}

/* Epoch seconds as a timestamptz literal, UTC with milliseconds. */
static void
ts_text(double t, char *out, size_t len)
{
	time_t s = (time_t)floor(t);
	struct tm tm;
	int ms = (int)((t - floor(t)) * 1000.);

	if (ms > 999)
		ms = 999;
	gmtime_r(&s, &tm);
	snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00",
	    (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
	    tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
	    tm.tm_sec % 100, ms % 1000);
}

static int
wfm_index(struct engine *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->nwfm; i++)
		if (strcmp(e->wfm[i].name, name) == 0)
			return (int)i;
	if (e->nwfm == ENGINE_WORKFLOWS_MAX)
		return -1;
	snprintf(e->wfm[e->nwfm].name, sizeof(e->wfm[0].name), "%s", name);
	return (int)e->nwfm++;
}

/* Count into workflow x's series: 0 started, 1 succeeded, 2 failed. */
static void
wfm_count(struct exec *x, int what)
{
	struct engine *e = x->e;

	if (x->wfm < 0) {
		e->wfm_other[what]++;
		return;
	}
	if (what == 0)
		e->wfm[x->wfm].started++;
	else if (what == 1)
		e->wfm[x->wfm].succeeded++;
	else
		e->wfm[x->wfm].failed++;
}

static struct defn_step *
cur_step(const struct exec *x)
{
	return &x->def->steps[x->cur];
}

/* ctx.steps[ID] = {status, output, error}. */
static void
ctx_step(struct exec *x, const char *id, const char *status,
    const json_t *output, const char *error)
{
	json_t *o = json_object(), *steps = json_object_get(x->ctx, "steps");

	if (o == NULL)
		return;
	json_object_set_new(o, "status", json_string(status));
	json_object_set_new(o, "output", output ? json_deep_copy(output) :
	    json_null());
	json_object_set_new(o, "error", error ? json_string(error) :
	    json_null());
	json_object_set_new(steps, id, o);
}

/* JSON text of v (compact) for a jsonb parameter; malloc'd or NULL. */
static char *
jtext(const json_t *v)
{
	if (v == NULL)
		return NULL;
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/*
 * A step's output from v (stolen; NULL: out of memory): redacted, and
 * over ENGINE_OUTPUT_MAX bytes of JSON a note of its size.  A new
 * reference or NULL.
 */
static json_t *
bound_output(json_t *v)
{
	json_t *r;
	char *text;
	size_t len;

	if (v == NULL)
		return NULL;
	r = redact_json(v);
	json_decref(v);
	if (r == NULL)
		return NULL;
	if ((text = jtext(r)) == NULL) {
		json_decref(r);
		return NULL;
	}
	len = strlen(text);
	free(text);
	if (len > ENGINE_OUTPUT_MAX) {
		json_decref(r);
		r = json_pack("{s:b,s:I}", "truncated", 1, "bytes",
		    (json_int_t)len);
	}
	return r;
}

/*
 * A step's output from a tools/call result: structuredContent when the
 * tool gave it; else the text of a single text item when it is JSON,
 * that value; else the text of every text item joined by newlines.
 * Redacted; an output over ENGINE_OUTPUT_MAX becomes a note of its size.
 */
static json_t *
result_output(const json_t *res)
{
	const json_t *sc = json_object_get(res, "structuredContent");
	const json_t *content = json_object_get(res, "content"), *it;
	json_t *v = NULL;
	size_t i, n = 0, total = 0;
	struct buf b;

	if (sc != NULL && !json_is_null(sc))
		v = json_deep_copy(sc);
	else {
		buf_init(&b, 2 * ENGINE_OUTPUT_MAX);
		json_array_foreach(content, i, it) {
			const char *t = json_string_value(json_object_get(it,
			    "text"));

			if (t == NULL)
				continue;
			if (n++ > 0)
				total++;
			total += strlen(t);
		}
		/*
		 * Past the buffer's bound an append would fail and leave
		 * the text cut (a 3 MiB answer became ""): only its size
		 * is kept (of the text: it is not parsed), as for any
		 * output over ENGINE_OUTPUT_MAX.
		 */
		if (total > 2 * ENGINE_OUTPUT_MAX) {
			buf_free(&b);
			return json_pack("{s:b,s:I}", "truncated", 1, "bytes",
			    (json_int_t)total);
		}
		n = 0;
		json_array_foreach(content, i, it) {
			const char *t = json_string_value(json_object_get(it,
			    "text"));

			if (t == NULL)
				continue;
			if (n++ > 0)
				buf_append(&b, "\n", 1);
			buf_append(&b, t, strlen(t));
		}
		if (n == 1)
			v = json_loadb(buf_data(&b), buf_used(&b),
			    JSON_DECODE_ANY, NULL);
		if (v == NULL)
			v = json_stringn(buf_used(&b) ? buf_data(&b) : "",
			    buf_used(&b));
		buf_free(&b);
	}
	return bound_output(v);
}

/* The text of a result's content items, for an isError failure. */
static void
result_text(const json_t *res, char *out, size_t len)
{
	const json_t *content = json_object_get(res, "content"), *it;
	size_t i, o = 0, n;

	out[0] = '\0';
	json_array_foreach(content, i, it) {
		const char *t = json_string_value(json_object_get(it, "text"));

		if (t == NULL || o + 2 >= len)
			continue;
		if (o > 0)
			out[o++] = ' ';
		n = u8_cut(t, strlen(t), len - o - 1);
		memcpy(out + o, t, n);
		o += n;
		out[o] = '\0';
	}
	if (o == 0)
		snprintf(out, len, "the tool reported an error");
}

/* ---- leaving an execution ---- */

static void	agent_orphan(struct exec *);

static void
x_free(struct exec *x)
{
	struct engine *e = x->e;

	if (x->agent != NULL)
		agent_orphan(x);
	if (x->call != NULL)
		router_call_cancel(x->call, "workflow engine gave up the step");
	if (x->op != NULL)
		pgq_op_forget(x->op);
	ev_timer_stop(e->loop, &x->timer);
	TAILQ_REMOVE(&e->held, x, link);
	e->nheld--;
	defn_free(x->def);
	json_decref(x->ctx);
	json_decref(x->resume);
	json_decref(x->args);
	json_decref(x->fail_out);
	free(x);
	e->st.held = e->nheld;
	if (!e->stopping)
		later_arm(&e->kick);
	else
		maybe_done(e);
}

/* Give an execution up without committing (another task goes on). */
static void
drop(struct exec *x, const char *why)
{
	errfmt(x->gone, sizeof(x->gone), "%s", why);
	x->e->st.dropped++;
	log_warnx("workflow engine: execution %s dropped: %s", x->id, why);
	x_free(x);
}

/* ---- statements of an execution ---- */

static void
x_db_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct exec *x = arg;
	xnext_fn next = x->next;

	x->op = NULL;
	x->next = NULL;
	x->state = XS_RUN;
	if (err != NULL) {
		if (strcmp(err->sqlstate, "AF001") == 0) {
			x->e->st.fenced++;
			drop(x, err->message);
			return;
		}
		drop(x, err->message);
		return;
	}
	next(x, res);
}

/* Run statement name for x, then next(x, res). */
static void
x_db(struct exec *x, const char *name, int n, const char *const *p,
    xnext_fn next)
{
	INVARIANT(x->op == NULL && x->call == NULL);
	x->next = next;
	x->state = XS_DB;
	if ((x->op = pgq_exec(x->e->db, name, n, p, x_db_cb, x)) == NULL) {
		x->state = XS_RUN;
		drop(x, strerror(errno));
	}
}

static void
x_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec *x = w->data;
	void (*fn)(struct exec *) = x->timer_fn;

	(void)loop;
	(void)revents;
	if (x->timing_call) {		/* the call's timeout */
		x->timing_call = 0;
		if (x->call != NULL) {
			router_call_cancel(x->call, "step timeout");
			x->call = NULL;
		}
		x->state = XS_RUN;
		outcome_fail(x, EK_TIMEOUT, "the step's timeout_ms passed");
		return;
	}
	x->state = XS_RUN;
	if (x->e->stopping) {
		x_free(x);
		return;
	}
	fn(x);
}

static void
x_delay(struct exec *x, double s, void (*fn)(struct exec *))
{
	x->timer_fn = fn;
	x->timing_call = 0;
	x->state = XS_TIMER;
	ev_timer_set(&x->timer, s > 0 ? s : 0., 0.);
	ev_timer_start(x->e->loop, &x->timer);
}

/* Our lease is good for this long yet (a margin of a quarter TTL). */
static int
lease_ok(const struct exec *x)
{
	return now_s(x->e) < x->lease_until - x->e->ttl_ms / 4000.;
}

/* ---- committing outcomes ---- */

static void
after_park(struct exec *x, const PGresult *res)
{
	(void)res;
	x->e->st.parked++;
	x_free(x);
}

/* Park until t (epoch seconds; INFINITY: a decision), step: its row. */
static void
park(struct exec *x, double t, const char *step)
{
	char when[64];
	const char *p[4];

	if (isinf(t))
		snprintf(when, sizeof(when), "infinity");
	else
		ts_text(t, when, sizeof(when));
	p[0] = x->id;
	p[1] = x->tok;
	p[2] = when;
	p[3] = step && *step ? step : NULL;
	x_db(x, "wf_park", 4, p, after_park);
}

/* A retry's delay passed: begin its attempt. */
static void
attempt_cb(struct exec *x)
{
	start_attempt(x, x->attempt);
}

static void
after_advance(struct exec *x, const PGresult *res)
{
	struct engine *e = x->e;
	double dur = now_s(e) - x->t0;

	(void)res;
	e->st.steps++;
	if (x->step[0] != '\0' && x->cur < x->def->nsteps)
		metrics_observe(&e->step_h[cur_step(x)->type],
		    dur > 0 ? dur : 0);
	x->step[0] = '\0';
	if (x->final) {
		if (x->final == 1)
			e->st.succeeded++;
		else
			e->st.failed++;
		wfm_count(x, x->final);
		x_free(x);
		return;
	}
	if (x->retry_after) {
		unsigned next = x->attempt + 1;
		uint64_t ms = defn_backoff_ms(&cur_step(x)->retry, next);

		x->retry_after = 0;
		if (e->stopping) {
			x_free(x);
			return;
		}
		if (ms > e->hold_ms) {
			park(x, now_s(e) + ms / 1000., NULL);
			return;
		}
		x->attempt = next;
		x_delay(x, ms / 1000., attempt_cb);
		return;
	}
	x->cur = x->to;
	if (e->stopping) {
		x_free(x);
		return;
	}
	run(x);
}

enum cmode {
	CM_ROW = 0,	/* finish the running row x->step */
	CM_INSERT,	/* insert the attempt, finished */
	CM_NONE,	/* no step row: only the execution moves */
};

/*
 * Commit the current attempt's outcome (status, output, error, ekind or
 * -1) and the move to step `to`; past the last step the execution ends
 * (final 0: succeeded with its output; 2: failed with xerr).
 */
static void
commit(struct exec *x, enum cmode mode, const char *status,
    const json_t *output, const char *error, int ekind, size_t to, int final,
    const char *xerr)
{
	const struct defn_step *s = x->cur < x->def->nsteps ? cur_step(x) :
	    NULL;
	char idx[24], att[24], next[24], oerr[MSG_MAX];
	char *out = NULL, *xout = NULL;
	const char *p[NPARAM_ADVANCE];
	json_t *xo = NULL;

	if (final == 0 && to >= x->def->nsteps) {
		final = 1;
		if (x->def->output != NULL && expr_template(x->def->output,
		    x->ctx, &xo, oerr + 8, sizeof(oerr) - 8) == -1) {
			memcpy(oerr, "output: ", 8);
			final = 2;
			xerr = oerr;
		}
	}
	x->final = final;
	x->to = to;
	snprintf(idx, sizeof(idx), "%zu", x->cur);
	snprintf(att, sizeof(att), "%u", x->attempt);
	snprintf(next, sizeof(next), "%zu", to);
	out = jtext(output);
	if (xo != NULL) {
		json_t *r = redact_json(xo);

		xout = jtext(r);
		json_decref(r);
		json_decref(xo);
	}
	memset(p, 0, sizeof(p));
	p[0] = x->id;
	p[1] = x->tok;
	if (mode == CM_ROW)
		p[2] = x->step;
	if (mode == CM_INSERT && s != NULL) {
		p[3] = idx;
		p[4] = s->id;
		p[5] = att;
		p[6] = kind_names[s->type];
	}
	if (mode != CM_NONE) {
		p[7] = status;
		p[8] = out;
		p[9] = error;
		p[10] = ekind >= 0 ? defn_ekind_name(ekind) : NULL;
	}
	p[11] = next;
	p[12] = final == 1 ? "succeeded" : final == 2 ? "failed" : NULL;
	p[13] = final == 1 ? (xout ? xout : "{}") : NULL;
	p[14] = final == 2 ? xerr : NULL;
	if ((output != NULL && out == NULL) || (xo != NULL && xout == NULL)) {
		free(out);
		free(xout);
		drop(x, "out of memory");
		return;
	}
	x_db(x, "wf_advance", NPARAM_ADVANCE, p, after_advance);
	free(out);
	free(xout);
}

static void
outcome_ok(struct exec *x, const json_t *output)
{
	const struct defn_step *s = cur_step(x);

	ctx_step(x, s->id, "succeeded", output, NULL);
	commit(x, x->step[0] ? CM_ROW : CM_INSERT, "succeeded", output, NULL,
	    -1, x->cur + 1, 0, NULL);
}

static int
retryable(const struct defn_step *s, enum defn_ekind k, unsigned attempt)
{
	if (k == EK_EXPRESSION || k == EK_REJECTED || k == EK_CANCELLED ||
	    k == EK_INTERRUPTED)
		return 0;
	if (s->retry.non_retryable & (1u << k))
		return 0;
	return attempt < s->retry.max_attempts;
}

/*
 * Where a failure that is not retried leads: on_error.  mode: how the
 * attempt is recorded (CM_NONE when it is already).
 */
static void
flow_error(struct exec *x, enum cmode mode, enum defn_ekind k,
    const char *msg, const json_t *out)
{
	const struct defn_step *s = cur_step(x);
	char xerr[MSG_MAX + 160];

	switch (s->on_error) {
	case ONERR_CONTINUE:
		commit(x, mode, "failed", out, msg, k, x->cur + 1, 0, NULL);
		return;
	case ONERR_GOTO:
		commit(x, mode, "failed", out, msg, k, s->goto_index, 0, NULL);
		return;
	case ONERR_FAIL:
		break;
	}
	snprintf(xerr, sizeof(xerr), "step '%s' failed (%s, attempt %u): %s",
	    s->id, defn_ekind_name(k), x->attempt, msg);
	commit(x, mode, "failed", out, msg, k, x->cur, 2, xerr);
}

/*
 * The current attempt failed with kind k.  The row keeps x->fail_out as
 * its output (a fail_if's answer), if any.
 */
static void
outcome_fail(struct exec *x, enum defn_ekind k, const char *msg)
{
	const struct defn_step *s = cur_step(x);
	enum cmode mode = x->step[0] ? CM_ROW : CM_INSERT;
	json_t *out = x->fail_out;
	char m[MSG_MAX];

	x->fail_out = NULL;
	errfmt(m, sizeof(m), "%s", msg);
	ctx_step(x, s->id, "failed", out, m);
	if (retryable(s, k, x->attempt)) {
		x->retry_after = 1;
		commit(x, mode, "failed", out, m, k, x->cur, 0, NULL);
	} else
		flow_error(x, mode, k, m, out);
	json_decref(out);
}

/* ---- tool calls ---- */

static enum defn_ekind
ekind_of(enum router_ekind k)
{
	switch (k) {
	case ROUTER_E_TIMEOUT:
		return EK_TIMEOUT;
	case ROUTER_E_PROTOCOL:
		return EK_PROTOCOL;
	case ROUTER_E_INTERNAL:
		return EK_INTERNAL;
	case ROUTER_E_UNKNOWN:
	case ROUTER_E_UNAVAILABLE:
	case ROUTER_E_SHUTDOWN:
		break;
	}
	return EK_UNAVAILABLE;
}

static void	call_start(struct exec *);

static void
poll_cb(struct exec *x)
{
	call_start(x);
}

static void
call_done(struct router_call *c, const json_t *result,
    const struct router_err *err, void *arg)
{
	struct exec *x = arg;
	const struct defn_step *s = cur_step(x);
	char msg[MSG_MAX], eb[EXPR_ERR_MAX];
	json_t *out;
	int t;

	(void)c;
	x->call = NULL;
	if (x->timing_call) {
		x->timing_call = 0;
		ev_timer_stop(x->e->loop, &x->timer);
	}
	x->state = XS_RUN;
	if (err != NULL) {
		outcome_fail(x, ekind_of(err->kind), err->message);
		return;
	}
	if (json_is_true(json_object_get(result, "isError"))) {
		result_text(result, msg, sizeof(msg));
		outcome_fail(x, EK_TOOL, msg);
		return;
	}
	if ((out = result_output(result)) == NULL) {
		outcome_fail(x, EK_INTERNAL, "out of memory");
		return;
	}
	if (s->type == STEP_WAIT) {
		ctx_step(x, s->id, "running", out, NULL);
		if ((t = expr_test(s->until, x->ctx, eb, sizeof(eb))) == -1) {
			json_decref(out);
			outcome_fail(x, EK_EXPRESSION, eb);
			return;
		}
		if (t == 0) {
			json_decref(out);
			if (now_s(x->e) + s->interval_ms / 1000. > x->deadline) {
				snprintf(msg, sizeof(msg), "'until' did not hold "
				    "within timeout_ms (%" PRIu64 " ms)",
				    s->timeout_ms);
				outcome_fail(x, EK_TIMEOUT, msg);
				return;
			}
			if (x->e->stopping) {
				x_free(x);
				return;
			}
			x_delay(x, s->interval_ms / 1000., poll_cb);
			return;
		}
	}
	if (s->fail_if != NULL) {
		ctx_step(x, s->id, "running", out, NULL);
		if ((t = expr_test(s->fail_if, x->ctx, eb, sizeof(eb))) == -1) {
			json_decref(out);
			outcome_fail(x, EK_EXPRESSION, eb);
			return;
		}
		if (t == 1) {
			snprintf(msg, sizeof(msg), "fail_if held: %s",
			    json_string_value(json_object_get(json_array_get(
			    json_object_get(x->def->doc, "steps"), x->cur),
			    "fail_if")));
			x->fail_out = out;
			outcome_fail(x, EK_TOOL, msg);
			return;
		}
	}
	outcome_ok(x, out);
	json_decref(out);
}

/* Does the tool's inputSchema declare idempotencyKey? */
static int
takes_key(const json_t *tool)
{
	return json_object_get(json_object_get(json_object_get(tool,
	    "inputSchema"), "properties"), "idempotencyKey") != NULL;
}

static int
is_idempotent(const json_t *tool)
{
	const json_t *a = json_object_get(tool, "annotations");

	return json_is_true(json_object_get(a, "readOnlyHint")) ||
	    json_is_true(json_object_get(a, "idempotentHint"));
}

/*
 * The arguments of the current attempt: the step's templates resolved in
 * the context, plus idempotencyKey for a tool that takes one.  0, or -1
 * after failing the attempt.
 */
static int
build_args(struct exec *x)
{
	const struct defn_step *s = cur_step(x);
	const json_t *tool = router_tool(x->e->r, s->tool);
	char eb[EXPR_ERR_MAX], key[160];
	json_t *a;

	json_decref(x->args);
	x->args = NULL;
	if (expr_template(s->arguments, x->ctx, &a, eb, sizeof(eb)) == -1) {
		outcome_fail(x, EK_EXPRESSION, eb);
		return -1;
	}
	if (!json_is_object(a)) {
		json_decref(a);
		outcome_fail(x, EK_EXPRESSION, "arguments: not an object");
		return -1;
	}
	if (tool != NULL && takes_key(tool) &&
	    json_object_get(a, "idempotencyKey") == NULL) {
		snprintf(key, sizeof(key), "afu9:%s:%s:%u", x->id, s->id,
		    x->attempt);
		json_object_set_new(a, "idempotencyKey", json_string(key));
	}
	x->args = a;
	return 0;
}

static void
call_start(struct exec *x)
{
	struct engine *e = x->e;
	const struct defn_step *s = cur_step(x);
	struct router_origin o;
	struct router_err rerr;

	if (!lease_ok(x)) {
		drop(x, "its lease is about to expire (no heartbeat answered)");
		return;
	}
	memset(&o, 0, sizeof(o));
	o.caller = AUDIT_WORKFLOW;
	o.execution_id = x->id;
	o.step_id = x->step;
	x->state = XS_CALL;
	x->call = router_call(e->r, s->tool, json_incref(x->args), &o,
	    call_done, NULL, x, &rerr);
	if (x->call == NULL) {
		x->state = XS_RUN;
		outcome_fail(x, ekind_of(rerr.kind), rerr.message);
		return;
	}
	if (s->type == STEP_TOOL && s->timeout_ms > 0) {
		x->timing_call = 1;
		ev_timer_set(&x->timer, s->timeout_ms / 1000., 0.);
		ev_timer_start(e->loop, &x->timer);
	} else if (s->type == STEP_WAIT) {
		double left = x->deadline - now_s(e);

		x->timing_call = 1;
		ev_timer_set(&x->timer, left > 0 ? left : 0., 0.);
		ev_timer_start(e->loop, &x->timer);
	}
}

/* ---- sleep, approval ---- */

static void
sleep_done(struct exec *x)
{
	json_t *o = json_pack("{s:f}", "until_ms", x->deadline * 1000.);

	if (o == NULL) {
		drop(x, "out of memory");
		return;
	}
	outcome_ok(x, o);
	json_decref(o);
}

/* Sleep until t (epoch seconds): held or parked. */
static void
sleep_until(struct exec *x, double t)
{
	double left = t - now_s(x->e);

	if (left <= 0) {
		sleep_done(x);
		return;
	}
	if (left * 1000. > x->e->hold_ms) {
		park(x, t, NULL);
		return;
	}
	x_delay(x, left, sleep_done);
}

/* ---- beginning an attempt ---- */

static void	agent_go(struct exec *, const json_t *resume,
		    const char *resumed_from, const struct agent_totals *);
static int	agent_args(struct exec *);
static void	agent_resume(struct exec *, const PGresult *);

static void
after_begin(struct exec *x, const PGresult *res)
{
	const struct defn_step *s = cur_step(x);
	const char *id = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";

	if (strlen(id) != 36) {
		drop(x, "afu9_step_begin() returned no step");
		return;
	}
	memcpy(x->step, id, 37);
	switch (s->type) {
	case STEP_TOOL:
	case STEP_WAIT:
		call_start(x);
		return;
	case STEP_SLEEP:
		sleep_until(x, x->deadline);
		return;
	case STEP_APPROVAL:
		park(x, INFINITY, x->step);
		return;
	case STEP_AGENT:
		agent_go(x, NULL, NULL, NULL);
		return;
	}
}

/*
 * Would a resume call this attempt's tool again (resume_running())?  A
 * wait step's read-only tool, or a tool step's tool that is read-only,
 * idempotent or takes an idempotencyKey (the same key: it names the
 * attempt).  Then the running row need not be on disk before the call:
 * its commit is visible at once to any task that takes over, and only a
 * crash of PostgreSQL itself can lose it (with nothing committed after
 * it: the outcome's synchronous commit flushes the WAL past it), after
 * which the attempt is begun and called again as after any takeover.
 * The outcome (afu9_advance()) is always committed synchronously.
 */
static int
resumable(const struct exec *x)
{
	const struct defn_step *s = cur_step(x);
	const json_t *tool;

	if (s->type == STEP_WAIT)
		return 1;
	if (s->type != STEP_TOOL)
		return 0;
	tool = router_tool(x->e->r, s->tool);
	return tool != NULL && (is_idempotent(tool) || takes_key(tool));
}

/* Begin the attempt's row with input (may be NULL), then go on. */
static void
begin(struct exec *x, const json_t *input)
{
	const struct defn_step *s = cur_step(x);
	char idx[24], att[24], key[160];
	const char *p[9];
	json_t *r = input ? redact_json(input) : NULL;
	char *in = jtext(r);

	json_decref(r);
	if (input != NULL && in == NULL) {
		drop(x, "out of memory");
		return;
	}
	snprintf(idx, sizeof(idx), "%zu", x->cur);
	snprintf(att, sizeof(att), "%u", x->attempt);
	key[0] = '\0';
	if (x->args != NULL)
		snprintf(key, sizeof(key), "%s", json_string_value(
		    json_object_get(x->args, "idempotencyKey")) ?
		    json_string_value(json_object_get(x->args,
		    "idempotencyKey")) : "");
	p[0] = x->id;
	p[1] = x->tok;
	p[2] = idx;
	p[3] = s->id;
	p[4] = att;
	p[5] = kind_names[s->type];
	p[6] = s->tool;
	p[7] = in;
	p[8] = key[0] ? key : NULL;
	x_db(x, resumable(x) ? "wf_begin_async" : "wf_begin", 9, p,
	    after_begin);
	free(in);
}

static void
start_attempt(struct exec *x, unsigned attempt)
{
	const struct defn_step *s = cur_step(x);
	char eb[EXPR_ERR_MAX];
	json_t *v, *in;
	int t;

	x->attempt = attempt;
	x->step[0] = '\0';
	x->t0 = now_s(x->e);
	json_decref(x->resume);
	x->resume = NULL;
	if (!lease_ok(x)) {
		drop(x, "its lease is about to expire (no heartbeat answered)");
		return;
	}
	if (attempt == 1 && s->cond != NULL) {
		if ((t = expr_test(s->cond, x->ctx, eb, sizeof(eb))) == -1) {
			outcome_fail(x, EK_EXPRESSION, eb);
			return;
		}
		if (t == 0) {
			ctx_step(x, s->id, "skipped", NULL, NULL);
			commit(x, CM_INSERT, "skipped", NULL, NULL, -1,
			    x->cur + 1, 0, NULL);
			return;
		}
	}
	switch (s->type) {
	case STEP_TOOL:
	case STEP_WAIT:
		if (build_args(x) == -1)
			return;
		if (s->type == STEP_WAIT)
			x->deadline = now_s(x->e) + s->timeout_ms / 1000.;
		begin(x, x->args);
		return;
	case STEP_SLEEP:
		if (s->has_duration)
			x->deadline = now_s(x->e) + s->duration_ms / 1000.;
		else if (s->until_text != NULL) {
			if (defn_time_parse(s->until_text, &x->deadline) == -1) {
				outcome_fail(x, EK_EXPRESSION,
				    "until: not an ISO 8601 timestamp with its zone");
				return;
			}
		} else {
			if (expr_eval(s->until, x->ctx, &v, eb,
			    sizeof(eb)) == -1) {
				outcome_fail(x, EK_EXPRESSION, eb);
				return;
			}
			t = json_is_string(v) ? defn_time_parse(
			    json_string_value(v), &x->deadline) : -1;
			json_decref(v);
			if (t == -1) {
				outcome_fail(x, EK_EXPRESSION, "until: the "
				    "value is not an ISO 8601 timestamp with its zone");
				return;
			}
		}
		in = json_pack("{s:f}", "until_ms", x->deadline * 1000.);
		begin(x, in);
		json_decref(in);
		return;
	case STEP_APPROVAL:
		v = NULL;
		if (s->message != NULL && expr_template(s->message, x->ctx, &v,
		    eb, sizeof(eb)) == -1) {
			outcome_fail(x, EK_EXPRESSION, eb);
			return;
		}
		in = json_pack("{s:o?}", "message", v);
		begin(x, in);
		json_decref(in);
		return;
	case STEP_AGENT:
		if (agent_args(x) == -1)
			return;
		begin(x, x->args);
		return;
	}
}

/* ---- resuming ---- */

/* The cursor step's latest attempt is running: its task stopped. */
static void
resume_running(struct exec *x, const json_t *row)
{
	const struct defn_step *s = cur_step(x);
	const json_t *tool;
	double started = json_number_value(json_object_get(row,
	    "started_ms")) / 1000.;
	char msg[MSG_MAX];
	const char *p[1];

	snprintf(x->step, sizeof(x->step), "%s", json_string_value(
	    json_object_get(row, "id")) ? json_string_value(
	    json_object_get(row, "id")) : "");
	switch (s->type) {
	case STEP_TOOL:
		tool = router_tool(x->e->r, s->tool);
		if (tool == NULL || (!is_idempotent(tool) &&
		    !takes_key(tool))) {
			snprintf(msg, sizeof(msg), "interrupted: the task "
			    "running it stopped during the call, and %s %s, "
			    "so it is not called again", s->tool, tool == NULL ?
			    "is not available to check its annotations" :
			    "is neither read-only nor idempotent and takes "
			    "no idempotencyKey");
			outcome_fail(x, EK_INTERRUPTED, msg);
			return;
		}
		if (build_args(x) == -1)
			return;
		call_start(x);
		return;
	case STEP_WAIT:
		x->deadline = started + s->timeout_ms / 1000.;
		if (build_args(x) == -1)
			return;
		call_start(x);
		return;
	case STEP_SLEEP:
		x->deadline = json_number_value(json_object_get(
		    json_object_get(row, "input"), "until_ms")) / 1000.;
		sleep_until(x, x->deadline);
		return;
	case STEP_APPROVAL:
		park(x, INFINITY, x->step);
		return;
	case STEP_AGENT:
		if (agent_args(x) == -1)
			return;
		p[0] = x->step;
		x_db(x, "wf_agent_last", 1, p, agent_resume);
		return;
	}
}

static void
run(struct exec *x)
{
	const struct defn_step *s;
	json_t *row = x->resume;
	const char *st;
	unsigned attempt;
	int k;
	double fin, due;

	if (x->cur >= x->def->nsteps) {
		commit(x, CM_NONE, NULL, NULL, NULL, -1, x->cur, 0, NULL);
		return;
	}
	s = cur_step(x);
	if (row == NULL || (size_t)json_integer_value(json_object_get(row,
	    "i")) != x->cur) {
		start_attempt(x, 1);
		return;
	}
	x->resume = NULL;
	st = json_string_value(json_object_get(row, "status"));
	attempt = (unsigned)json_integer_value(json_object_get(row,
	    "attempt"));
	x->attempt = attempt ? attempt : 1;
	x->t0 = now_s(x->e);
	if (st == NULL)
		st = "";
	if (strcmp(st, "running") == 0) {
		resume_running(x, row);
	} else if (strcmp(st, "succeeded") == 0 ||
	    strcmp(st, "skipped") == 0) {
		/* decided (an approval): move on */
		commit(x, CM_NONE, NULL, NULL, NULL, -1, x->cur + 1, 0, NULL);
	} else if (strcmp(st, "failed") == 0) {
		k = defn_ekind_parse(json_string_value(json_object_get(row,
		    "error_kind")) ? json_string_value(json_object_get(row,
		    "error_kind")) : "internal");
		if (k < 0)
			k = EK_INTERNAL;
		if (retryable(s, k, x->attempt)) {
			fin = json_number_value(json_object_get(row,
			    "finished_ms")) / 1000.;
			due = fin + defn_backoff_ms(&s->retry,
			    x->attempt + 1) / 1000.;
			x->attempt++;
			if (due - now_s(x->e) > x->e->hold_ms / 1000.)
				park(x, due, NULL);
			else
				x_delay(x, due - now_s(x->e), attempt_cb);
		} else
			flow_error(x, CM_NONE, k, json_string_value(
			    json_object_get(row, "error")) ?
			    json_string_value(json_object_get(row, "error")) :
			    "failed", NULL);
	} else
		drop(x, "its current step was cancelled");
	json_decref(row);
}

/* ---- agent steps ---- */

/* Give the run up with its execution: cancelled, freed when it ends. */
static void
agent_orphan(struct exec *x)
{
	struct ahold *h = x->agent;

	x->agent = NULL;
	h->x = NULL;
	TAILQ_INSERT_TAIL(&x->e->orphans, h, link);
	agent_cancel(h->a, x->gone[0] ? x->gone : "the workflow engine gave "
	    "up the step");
}

/*
 * The attempt's input, in x->args: the task resolved, and what the run
 * is given.  0, or -1 after failing the attempt.
 */
static int
agent_args(struct exec *x)
{
	const struct defn_step *s = cur_step(x);
	char eb[EXPR_ERR_MAX];
	json_t *task, *tools = NULL, *a;
	size_t i;

	json_decref(x->args);
	x->args = NULL;
	if (expr_template(s->task, x->ctx, &task, eb, sizeof(eb)) == -1) {
		outcome_fail(x, EK_EXPRESSION, eb);
		return -1;
	}
	if (!json_is_string(task)) {
		json_decref(task);
		outcome_fail(x, EK_EXPRESSION, "task: not a string");
		return -1;
	}
	if (s->tools != NULL && (tools = json_array()) != NULL)
		for (i = 0; s->tools[i] != NULL; i++)
			json_array_append_new(tools, json_string(s->tools[i]));
	a = json_pack("{s:o, s:o, s:s?, s:s?, s:{s:I, s:I, s:I, s:I}}",
	    "task", task, "tools", tools ? tools : json_null(),
	    "provider", s->provider, "model", s->model, "budget",
	    "max_turns", (json_int_t)s->budget.max_turns,
	    "max_tokens", (json_int_t)s->budget.max_tokens,
	    "max_cost_micro", (json_int_t)s->budget.max_cost_micro,
	    "max_wall_ms", (json_int_t)s->budget.max_wall_ms);
	if (a == NULL) {
		outcome_fail(x, EK_INTERNAL, "out of memory");
		return -1;
	}
	x->args = a;
	return 0;
}

/*
 * The provider of step s: its own provider and model, else the defaults,
 * by agent_provider_env()'s rule (the one afu9 agent run follows), with
 * the configured prices.
 */
static int
agent_provider_of(const struct engine *e, const struct defn_step *s,
    struct agent_provider *pv, char *err, size_t errlen)
{
	struct config_env ce;

	memset(&ce, 0, sizeof(ce));
	ce.agent.provider = e->ag_provider;
	ce.agent.model = e->ag_model;
	ce.agent.openai_key = e->oa_key;
	ce.agent.openai_url = e->oa_url;
	ce.agent.anthropic_key = e->an_key;
	ce.agent.anthropic_url = e->an_url;
	if (agent_provider_env(&ce, s->provider, s->model, pv, err,
	    errlen) == -1)
		return -1;
	pv->prices = &e->prices;
	return 0;
}

/*
 * The step's output from how its run ended (borrowed): the structured
 * result when the step has an output schema, else {"text": ...}.  New,
 * bounded, or NULL.
 */
static json_t *
agent_output(const struct agent_result *r)
{
	if (r->output != NULL)
		return bound_output(json_deep_copy(r->output));
	return bound_output(json_pack("{s:s}", "text", r->text ? r->text :
	    ""));
}

static void
agent_done(struct agent *a, const struct agent_result *r, void *arg)
{
	struct ahold *h = arg;
	struct exec *x = h->x;
	enum agent_status st = r->status;
	char msg[MSG_MAX];
	json_t *out = NULL;

	if (x == NULL) {		/* its execution was given up */
		TAILQ_REMOVE(&h->e->orphans, h, link);
		agent_free(a);
		free(h);
		return;
	}
	x->agent = NULL;
	x->state = XS_RUN;
	if (st == AGENT_SUCCEEDED)
		out = agent_output(r);
	else
		snprintf(msg, sizeof(msg), "agent run %s: %s", r->run_id,
		    r->error ? r->error : agent_status_name(st));
	agent_free(a);			/* r is gone from here on */
	free(h);
	if (st == AGENT_SUCCEEDED && out == NULL)
		outcome_fail(x, EK_INTERNAL, "out of memory");
	else if (st == AGENT_SUCCEEDED) {
		outcome_ok(x, out);
		json_decref(out);
	} else
		outcome_fail(x, st == AGENT_CANCELLED ? EK_CANCELLED : EK_TOOL,
		    msg);
}

/*
 * Start the attempt's run: new, or (resume) from the transcript of an
 * earlier run of the same attempt, which counts against the budget with
 * its totals.
 */
static void
agent_go(struct exec *x, const json_t *resume, const char *resumed_from,
    const struct agent_totals *tot)
{
	const struct defn_step *s = cur_step(x);
	struct engine *e = x->e;
	struct agent_provider pv;
	struct agent_params ap;
	struct agent_env env;
	struct ahold *h;
	char err[MSG_MAX];

	if (agent_provider_of(e, s, &pv, err, sizeof(err)) == -1) {
		outcome_fail(x, EK_UNAVAILABLE, err);
		return;
	}
	memset(&ap, 0, sizeof(ap));
	ap.task = json_string_value(json_object_get(x->args, "task"));
	ap.tools = (const char *const *)s->tools;
	ap.budget.max_turns = s->budget.max_turns;
	ap.budget.max_tokens = s->budget.max_tokens;
	ap.budget.max_cost_micro = s->budget.max_cost_micro;
	ap.budget.max_wall_ms = (long)s->budget.max_wall_ms;
	ap.output_schema = s->output_schema;
	ap.execution_id = x->id;
	ap.step_id = x->step;
	ap.resume = resume;
	ap.resumed_from = resumed_from;
	ap.resume_totals = tot;
	memset(&env, 0, sizeof(env));
	env.loop = e->loop;
	env.http = e->http;
	env.router = e->r;
	env.rec = e->arec;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		outcome_fail(x, EK_INTERNAL, "out of memory");
		return;
	}
	h->e = e;
	h->x = x;
	x->agent = h;
	x->state = XS_AGENT;
	if ((h->a = agent_start(&env, &pv, &ap, agent_done, h, err,
	    sizeof(err))) == NULL) {
		x->agent = NULL;
		x->state = XS_RUN;
		free(h);
		outcome_fail(x, EK_INTERNAL, err);
	}
}

/*
 * The latest run of a running agent attempt whose task stopped: one
 * that succeeded gives the step its output (its outcome was all that was
 * lost); else a new run goes on from its transcript; none recorded
 * (the task stopped before the row committed): a new run.
 */
static void
agent_resume(struct exec *x, const PGresult *res)
{
	struct agent_totals tot;
	json_t *tr, *result, *out;
	const char *id;

	if (PQntuples(res) != 1) {
		agent_go(x, NULL, NULL, NULL);
		return;
	}
	id = PQgetvalue(res, 0, 0);
	if (strcmp(PQgetvalue(res, 0, 1), "succeeded") == 0 &&
	    (result = json_loads(PQgetvalue(res, 0, 2), 0, NULL)) != NULL) {
		out = cur_step(x)->output_schema != NULL ?
		    json_incref(json_object_get(result, "output")) :
		    json_pack("{s:O?}", "text", json_object_get(result,
		    "text"));
		json_decref(result);
		if (out != NULL) {
			log_info("workflow engine: execution %s step %s: agent "
			    "run %s had succeeded; its result is the outcome",
			    x->id, cur_step(x)->id, id);
			outcome_ok(x, out);
			json_decref(out);
			return;
		}
	}
	memset(&tot, 0, sizeof(tot));
	tot.usage.input = strtoull(PQgetvalue(res, 0, 4), NULL, 10);
	tot.usage.output = strtoull(PQgetvalue(res, 0, 5), NULL, 10);
	tot.usage.cache_read = strtoull(PQgetvalue(res, 0, 6), NULL, 10);
	tot.usage.cache_write = strtoull(PQgetvalue(res, 0, 7), NULL, 10);
	tot.cost_micro = strtoull(PQgetvalue(res, 0, 8), NULL, 10);
	tot.turns = (unsigned)strtoul(PQgetvalue(res, 0, 9), NULL, 10);
	tot.tool_calls = (unsigned)strtoul(PQgetvalue(res, 0, 10), NULL, 10);
	if ((tr = json_loads(PQgetvalue(res, 0, 3), 0, NULL)) == NULL) {
		outcome_fail(x, EK_INTERNAL, "the transcript to resume from "
		    "is not JSON, or memory ran out");
		return;
	}
	log_info("workflow engine: execution %s step %s: resuming agent run "
	    "%s (%s, %zu messages, %u turns)", x->id, cur_step(x)->id, id,
	    PQgetvalue(res, 0, 1), json_array_size(tr), tot.turns);
	agent_go(x, tr, id, &tot);
	json_decref(tr);
}

/* ---- claiming ---- */

static const json_t *
tool_lookup(const char *qname, void *arg)
{
	return router_tool(arg, qname);
}

/* Fail an execution whose stored definition no longer parses. */
static void
fail_undefined(struct exec *x, const char *why)
{
	char xerr[MSG_MAX], next[24];
	const char *p[NPARAM_ADVANCE];

	errfmt(xerr, sizeof(xerr), "definition: %s", why);
	snprintf(next, sizeof(next), "%zu", x->cur);
	memset(p, 0, sizeof(p));
	p[0] = x->id;
	p[1] = x->tok;
	p[11] = next;
	p[12] = "failed";
	p[14] = xerr;
	x->final = 2;
	x_db(x, "wf_advance", NPARAM_ADVANCE, p, after_advance);
}

/*
 * The defaults of the inputs schema's properties for the inputs the
 * execution lacks, in its context only (the stored input stays as it
 * was given).
 */
static void
inputs_defaults(struct exec *x)
{
	json_t *in = json_object_get(x->ctx, "inputs"), *p, *d;
	const char *k;

	if (!json_is_object(in))
		return;
	json_object_foreach(json_object_get(x->def->inputs, "properties"), k,
	    p)
		if ((d = json_object_get(p, "default")) != NULL &&
		    json_object_get(in, k) == NULL)
			json_object_set(in, k, d);
}

static void
claim_row(struct engine *e, const PGresult *res, int i, double sent)
{
	struct exec *x;
	json_t *doc, *in, *steps, *el;
	char err[DEFN_ERR_MAX];
	size_t j;
	long long nx;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warnx("workflow engine: out of memory for a claimed "
		    "execution (its lease will expire)");
		return;
	}
	x->e = e;
	x->wfm = -1;
	snprintf(x->id, sizeof(x->id), "%s", PQgetvalue(res, i, 0));
	x->token = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	snprintf(x->tok, sizeof(x->tok), "%lld", x->token);
	nx = strtoll(PQgetvalue(res, i, 4), NULL, 10);
	x->cur = nx > 0 ? (size_t)nx : 0;
	x->lease_until = sent + e->ttl_ms / 1000.;
	ev_timer_init(&x->timer, x_timer_cb, 0., 0.);
	x->timer.data = x;
	TAILQ_INSERT_TAIL(&e->held, x, link);
	e->nheld++;
	e->st.held = e->nheld;
	e->st.claimed++;
	if (*PQgetvalue(res, i, 2) == 't')
		e->st.takeovers++;
	metrics_observe(&e->claim_h, strtod(PQgetvalue(res, i, 3), NULL) /
	    1000.);

	doc = json_loads(PQgetvalue(res, i, 6), 0, NULL);
	in = json_loads(PQgetvalue(res, i, 5), 0, NULL);
	steps = json_loads(PQgetvalue(res, i, 7), 0, NULL);
	x->ctx = json_pack("{s:O,s:{},s:{s:s},s:O}", "inputs", in ? in :
	    json_null(), "steps", "execution", "id", x->id, "env", e->env);
	x->def = doc ? defn_parse(doc, NULL, NULL, err, sizeof(err)) : NULL;
	if (doc == NULL)
		snprintf(err, sizeof(err), "not JSON");
	json_decref(doc);
	json_decref(in);
	if (x->ctx == NULL || !json_is_array(steps)) {
		json_decref(steps);
		drop(x, "out of memory");
		return;
	}
	if (x->def == NULL) {
		json_decref(steps);
		fail_undefined(x, err);
		return;
	}
	x->wfm = wfm_index(e, x->def->name);
	inputs_defaults(x);
	json_array_foreach(steps, j, el) {
		const char *name = json_string_value(json_object_get(el,
		    "name"));

		if (name == NULL)
			continue;
		ctx_step(x, name, json_string_value(json_object_get(el,
		    "status")), json_object_get(el, "output"),
		    json_string_value(json_object_get(el, "error")));
		if (json_integer_value(json_object_get(el, "i")) == nx) {
			json_decref(x->resume);
			x->resume = json_incref(el);
		}
	}
	if (json_array_size(steps) == 0 && nx == 0 &&
	    *PQgetvalue(res, i, 2) != 't') {
		e->st.started++;
		wfm_count(x, 0);
	}
	json_decref(steps);
	if (x->cur > x->def->nsteps) {
		fail_undefined(x, "its next step is past the last one");
		return;
	}
	run(x);
}

static void
claim_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct engine *e = arg;
	double sent = e->claim_sent;
	int i, n, asked = e->claim_inflight;

	e->claim_inflight = 0;
	if (err != NULL) {
		snprintf(e->err, sizeof(e->err), "%s", err->message);
		log_warnx("workflow engine: claim failed: %s", err->message);
		return;
	}
	if (e->stopping) {
		/* claimed while stopping: given back by afu9_release() */
		return;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		claim_row(e, res, i, sent);
	if (n >= asked)
		later_arm(&e->kick);
}

static void
claim_kick(void *arg)
{
	struct engine *e = arg;
	char ttl[16], lim[16];
	const char *p[3];
	unsigned n;

	if (!e->claiming || e->stopping || e->claim_inflight ||
	    e->nheld >= e->concurrency || !pgq_up(e->db))
		return;
	n = e->concurrency - (unsigned)e->nheld;
	if (n > e->batch)
		n = e->batch;
	snprintf(ttl, sizeof(ttl), "%u", e->ttl_ms);
	snprintf(lim, sizeof(lim), "%u", n);
	p[0] = e->owner;
	p[1] = ttl;
	p[2] = lim;
	e->claim_sent = now_s(e);
	if (pgq_exec(e->db, "wf_claim", 3, p, claim_cb, e) != NULL)
		e->claim_inflight = (int)n;
}

static void
poll_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	claim_kick(w->data);
}

/* ---- heartbeat ---- */

static struct exec *
held_find(struct engine *e, const char *id)
{
	struct exec *x;

	TAILQ_FOREACH(x, &e->held, link)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

struct hb {
	struct engine	*e;
	uint64_t	 round;
	double		 sent;
};

static void
hb_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct hb *h = arg;
	struct engine *e = h->e;
	struct exec *x, *nx;
	int i, n;

	e->hb_inflight = 0;
	if (err != NULL) {
		log_warnx("workflow engine: heartbeat failed: %s",
		    err->message);
		free(h);
		return;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		if ((x = held_find(e, PQgetvalue(res, i, 0))) != NULL &&
		    x->hb_round == h->round)
			x->lease_until = h->sent + e->ttl_ms / 1000.;
	TAILQ_FOREACH_SAFE(x, &e->held, link, nx)
		if (x->hb_round == h->round &&
		    x->lease_until < h->sent + e->ttl_ms / 1000.)
			drop(x, "its lease is held by another task now, or "
			    "it was cancelled");
	free(h);
}

static void
hb_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;
	struct exec *x, *nx;
	struct buf ids, toks;
	struct hb *h;
	char ttl[16];
	const char *p[4];

	(void)loop;
	(void)revents;
	TAILQ_FOREACH_SAFE(x, &e->held, link, nx)
		if (now_s(e) > x->lease_until)
			drop(x, "its lease expired (no heartbeat answered)");
	if (e->nheld == 0 || e->hb_inflight || !pgq_up(e->db))
		return;
	if ((h = malloc(sizeof(*h))) == NULL)
		return;
	buf_init(&ids, 1u << 24);
	buf_init(&toks, 1u << 24);
	h->e = e;
	h->round = ++e->hb_round;
	h->sent = now_s(e);
	buf_append(&ids, "{", 1);
	buf_append(&toks, "{", 1);
	TAILQ_FOREACH(x, &e->held, link) {
		buf_printf(&ids, "%s%s", buf_used(&ids) > 1 ? "," : "", x->id);
		buf_printf(&toks, "%s%s", buf_used(&toks) > 1 ? "," : "",
		    x->tok);
		x->hb_round = h->round;
	}
	/* both NUL-terminated for the parameters */
	if (buf_append(&ids, "}", 2) == -1 || buf_append(&toks, "}", 2) ==
	    -1) {
		buf_free(&ids);
		buf_free(&toks);
		free(h);
		return;
	}
	snprintf(ttl, sizeof(ttl), "%u", e->ttl_ms);
	p[0] = e->owner;
	p[1] = ttl;
	p[2] = buf_data(&ids);
	p[3] = buf_data(&toks);
	if (pgq_exec(e->db, "wf_heartbeat", 4, p, hb_cb, h) != NULL)
		e->hb_inflight = 1;
	else
		free(h);
	buf_free(&ids);
	buf_free(&toks);
}

/* ---- notifications ---- */

static void
notify_cb(struct pgq *q, const char *channel, const char *payload, void *arg)
{
	struct engine *e = arg;
	struct exec *x;

	(void)q;
	if (channel != NULL && strcmp(channel, "afu9_cancel") == 0) {
		if (payload != NULL && (x = held_find(e, payload)) != NULL) {
			log_info("workflow engine: execution %s cancelled",
			    x->id);
			snprintf(x->gone, sizeof(x->gone), "the workflow "
			    "execution was cancelled");
			x_free(x);
		}
		return;
	}
	later_arm(&e->kick);
}

static void
db_state_cb(struct pgq *q, int up, void *arg)
{
	struct engine *e = arg;

	(void)q;
	if (up)
		later_arm(&e->kick);
}

/* ---- built-in workflows ---- */

struct apply {
	struct engine	*e;
	char		 name[129];
};

static void
apply_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct apply *a = arg;
	struct engine *e = a->e;

	if (err != NULL)
		log_warnx("workflow engine: built-in workflow %s: %s",
		    a->name, err->message);
	else if (PQntuples(res) == 1)
		log_info("workflow engine: built-in workflow %s version %s%s",
		    a->name, PQgetvalue(res, 0, 1),
		    *PQgetvalue(res, 0, 2) == 't' ? " stored" : " unchanged");
	free(a);
	if (--e->applying == 0) {
		e->claiming = 1;
		later_arm(&e->kick);
	}
}

static int
json_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".json") == 0;
}

/* Validate and store every definition of e->wfdir (sorted by name). */
static void
apply_builtins(struct engine *e)
{
	struct dirent **list = NULL;
	char path[PATH_MAX], err[DEFN_ERR_MAX], ver[16];
	json_error_t je;
	struct defn *d;
	struct apply *a;
	json_t *doc;
	char *text;
	const char *p[4];
	int i, n;

	e->applying = 1;	/* held until every statement is queued */
	if ((n = scandir(e->wfdir, &list, json_file, alphasort)) < 0) {
		log_warn("workflow engine: %s", e->wfdir);
		n = 0;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", e->wfdir,
		    list[i]->d_name);
		free(list[i]);
		if ((doc = json_load_file(path, JSON_REJECT_DUPLICATES,
		    &je)) == NULL) {
			log_warnx("workflow engine: %s:%d: %s", path, je.line,
			    je.text);
			continue;
		}
		d = defn_parse(doc, tool_lookup, e->r, err, sizeof(err));
		if (d == NULL) {
			log_warnx("workflow engine: %s: %s", path, err);
			json_decref(doc);
			continue;
		}
		text = jtext(doc);
		a = calloc(1, sizeof(*a));
		if (text != NULL && a != NULL) {
			a->e = e;
			snprintf(a->name, sizeof(a->name), "%s", d->name);
			snprintf(ver, sizeof(ver), "%u", d->version);
			p[0] = d->name;
			p[1] = d->version ? ver : NULL;
			p[2] = d->description;
			p[3] = text;
			if (pgq_exec(e->db, "wf_apply", 4, p, apply_cb, a) !=
			    NULL) {
				e->applying++;
				a = NULL;
			}
		}
		free(a);
		free(text);
		defn_free(d);
		json_decref(doc);
	}
	free(list);
	if (--e->applying == 0) {
		e->claiming = 1;
		later_arm(&e->kick);
	}
}

static void
ready_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;

	(void)revents;
	if (e->stopping || !router_ready(e->r) || !pgq_up(e->db))
		return;
	ev_timer_stop(loop, w);
	if (e->wfdir != NULL)
		apply_builtins(e);
	else {
		e->claiming = 1;
		later_arm(&e->kick);
	}
}

/* ---- the engine ---- */

int
engine_start(struct engine *e, char *err, size_t errlen)
{
	DIR *d;

	if (e->wfdir != NULL) {
		if ((d = opendir(e->wfdir)) == NULL)
			return errfmt(err, errlen, "workflows directory %s: %s",
			    e->wfdir, strerror(errno));
		closedir(d);
	}
	e->started = 1;
	ev_timer_start(e->loop, &e->ready);
	ev_timer_start(e->loop, &e->poll);
	ev_timer_start(e->loop, &e->hb);
	return 0;
}

static void
fin_cb(void *arg)
{
	struct engine *e = arg;
	void (*done)(void *) = e->done;

	e->done = NULL;
	if (done != NULL)
		done(e->done_arg);
}

static void
release_cb(const PGresult *res, const struct pgq_err *err, void *arg)
{
	struct engine *e = arg;

	if (err != NULL)
		log_warnx("workflow engine: giving back the leases failed: "
		    "%s (they expire in %u ms)", err->message, e->ttl_ms);
	else if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "0"))
		log_info("workflow engine: gave back %s leases",
		    PQgetvalue(res, 0, 0));
	e->releasing = 2;
	fin_cb(e);
}

static void
maybe_done(struct engine *e)
{
	const char *p[1];

	if (!e->stopping || e->nheld > 0 || e->releasing || e->applying ||
	    e->claim_inflight)
		return;
	ev_timer_stop(e->loop, &e->grace);
	ev_timer_stop(e->loop, &e->hb);
	e->releasing = 1;
	p[0] = e->owner;
	if (!pgq_up(e->db) ||
	    pgq_exec(e->db, "wf_release", 1, p, release_cb, e) == NULL) {
		e->releasing = 2;
		later_arm(&e->kick);	/* runs fin_cb: see kick_or_fin */
	}
}

static void
kick_or_fin(void *arg)
{
	struct engine *e = arg;

	if (e->releasing == 2) {
		fin_cb(e);
		return;
	}
	claim_kick(e);
}

static void
grace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct engine *e = w->data;
	struct exec *x;

	(void)loop;
	(void)revents;
	while ((x = TAILQ_FIRST(&e->held)) != NULL)
		drop(x, "shutdown grace passed");
	e->applying = 0;
	e->claim_inflight = 0;
	maybe_done(e);
}

void
engine_shutdown(struct engine *e, unsigned grace_ms, void (*done)(void *),
    void *arg)
{
	struct exec *x, *nx;

	e->done = done;
	e->done_arg = arg;
	e->stopping = 1;
	ev_timer_stop(e->loop, &e->ready);
	ev_timer_stop(e->loop, &e->poll);
	TAILQ_FOREACH_SAFE(x, &e->held, link, nx)
		if (x->state == XS_TIMER || x->state == XS_RUN)
			x_free(x);
	/* nothing in flight: on from the loop, never inside this call */
	ev_timer_set(&e->grace, e->nheld == 0 && !e->applying &&
	    !e->claim_inflight ? 0. : grace_ms / 1000., 0.);
	ev_timer_start(e->loop, &e->grace);
}

/* A copy of s (NULL or "": NULL).  0, or -1 on ENOMEM. */
static int
conf_copy(char **out, const char *s)
{
	*out = NULL;
	if (s == NULL || *s == '\0')
		return 0;
	return (*out = strdup(s)) == NULL ? -1 : 0;
}

/* The agent steps' configuration; the keys registered as secrets. */
static int
agent_conf(struct engine *e, const struct engine_opts *o, char *err,
    size_t errlen)
{
	struct config_env env;
	const struct config_env *c = o->agents;
	char why[512];

	if (c == NULL) {
		if (config_env_read(&env, why, sizeof(why)) == -1)
			return errfmt(err, errlen, "%s", why);
		c = &env;
	}
	if (conf_copy(&e->ag_provider, c->agent.provider) == -1 ||
	    conf_copy(&e->ag_model, c->agent.model) == -1 ||
	    conf_copy(&e->oa_key, c->agent.openai_key) == -1 ||
	    conf_copy(&e->an_key, c->agent.anthropic_key) == -1 ||
	    conf_copy(&e->oa_url, c->agent.openai_url) == -1 ||
	    conf_copy(&e->an_url, c->agent.anthropic_url) == -1 ||
	    (e->oa_key && redact_add_secret(e->oa_key) == -1) ||
	    (e->an_key && redact_add_secret(e->an_key) == -1))
		return errfmt(err, errlen, "out of memory");
	if (agent_prices_env(c, &e->prices, why, sizeof(why)) == -1)
		return errfmt(err, errlen, "agent steps: %s", why);
	e->arec = o->agent_rec;
	if ((e->http = o->http) == NULL) {
		if ((e->http = httpc_new(e->loop, NULL)) == NULL)
			return errfmt(err, errlen, "the agent steps' HTTP "
			    "client could not be set up");
		e->own_http = 1;
	}
	return 0;
}

struct engine *
engine_new(struct ev_loop *loop, const char *conninfo, struct router *r,
    const struct engine_opts *o, char *err, size_t errlen)
{
	struct engine_opts dflt;
	struct pgq_opts po;
	struct engine *e;
	char host[64];

	if (o == NULL) {
		memset(&dflt, 0, sizeof(dflt));
		o = &dflt;
	}
	if (conninfo == NULL || *conninfo == '\0') {
		errfmt(err, errlen, "the workflow engine needs DATABASE_URL");
		return NULL;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		errfmt(err, errlen, "out of memory");
		return NULL;
	}
	e->loop = loop;
	e->r = r;
	TAILQ_INIT(&e->held);
	TAILQ_INIT(&e->orphans);
	e->ttl_ms = o->lease_ttl_ms ? o->lease_ttl_ms : 10000;
	if (e->ttl_ms < 100)
		e->ttl_ms = 100;
	e->poll_ms = o->poll_ms ? o->poll_ms : (e->ttl_ms / 4 < 1000 ?
	    e->ttl_ms / 4 : 1000);
	e->concurrency = o->concurrency ? o->concurrency : 256;
	e->batch = o->claim_batch ? o->claim_batch : 64;
	e->hold_ms = o->hold_max_ms ? o->hold_max_ms : e->ttl_ms / 2;
	if (o->owner != NULL)
		snprintf(e->owner, sizeof(e->owner), "%s", o->owner);
	else {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "afu9");
		host[sizeof(host) - 1] = '\0';
		snprintf(e->owner, sizeof(e->owner), "%s:%ld:%08" PRIx32,
		    host, (long)getpid(), randombytes_random());
	}
	e->env = o->env ? json_deep_copy(o->env) : json_object();
	e->wfdir = o->workflows_dir ? strdup(o->workflows_dir) : NULL;
	if (e->env == NULL || (o->workflows_dir && e->wfdir == NULL)) {
		errfmt(err, errlen, "out of memory");
		engine_free(e);
		return NULL;
	}
	if (agent_conf(e, o, err, errlen) == -1) {
		engine_free(e);
		return NULL;
	}
	memset(&po, 0, sizeof(po));
	po.name = "engine";
	po.password = o->password;
	po.listen[0] = "afu9_work";
	po.listen[1] = "afu9_cancel";
	po.notify = notify_cb;
	po.state_changed = db_state_cb;
	po.arg = e;
	if ((e->db = pgq_new(loop, conninfo, &po, err, errlen)) == NULL) {
		engine_free(e);
		return NULL;
	}
	if (pgq_prepare_all(e->db, stmts, sizeof(stmts) / sizeof(stmts[0]),
	    err, errlen) == -1) {
		engine_free(e);
		return NULL;
	}
	later_init(&e->kick, loop, kick_or_fin, e);
	ev_timer_init(&e->poll, poll_timer_cb, e->poll_ms / 1000.,
	    e->poll_ms / 1000.);
	e->poll.data = e;
	ev_timer_init(&e->hb, hb_timer_cb, e->ttl_ms / 3000.,
	    e->ttl_ms / 3000.);
	e->hb.data = e;
	ev_timer_init(&e->ready, ready_timer_cb, 0., READY_TICK_S);
	e->ready.data = e;
	ev_timer_init(&e->grace, grace_cb, 0., 0.);
	e->grace.data = e;
	return e;
}

void
engine_free(struct engine *e)
{
	struct exec *x;
	struct ahold *h;

	if (e == NULL)
		return;
	e->stopping = 1;
	while ((x = TAILQ_FIRST(&e->held)) != NULL) {
		if (x->call != NULL)
			router_call_cancel(x->call, "workflow engine stopped");
		x->call = NULL;
		x_free(x);
	}
	/* runs still ending: abandoned (no callback, nothing recorded) */
	while ((h = TAILQ_FIRST(&e->orphans)) != NULL) {
		TAILQ_REMOVE(&e->orphans, h, link);
		agent_free(h->a);
		free(h);
	}
	if (e->own_http)
		httpc_free(e->http);
	free(e->ag_provider);
	free(e->ag_model);
	if (e->oa_key != NULL)
		sodium_memzero(e->oa_key, strlen(e->oa_key));
	if (e->an_key != NULL)
		sodium_memzero(e->an_key, strlen(e->an_key));
	free(e->oa_key);
	free(e->oa_url);
	free(e->an_key);
	free(e->an_url);
	prov_prices_free(&e->prices);
	if (e->db != NULL) {
		later_cancel(&e->kick);
		ev_timer_stop(e->loop, &e->poll);
		ev_timer_stop(e->loop, &e->hb);
		ev_timer_stop(e->loop, &e->ready);
		ev_timer_stop(e->loop, &e->grace);
		pgq_free(e->db);
	}
	json_decref(e->env);
	free(e->wfdir);
	free(e);
}

const char *
engine_owner(const struct engine *e)
{
	return e->owner;
}

void
engine_get_stats(const struct engine *e, struct engine_stats *out)
{
	*out = e->st;
	out->held = e->nheld;
}

/* ---- subsystem ---- */

static int
es_start(void *self, char *err, size_t errlen)
{
	return engine_start(self, err, errlen);
}

static void
es_stop(void *self, unsigned grace_ms, void (*done)(void *), void *arg)
{
	engine_shutdown(self, grace_ms, done, arg);
}

static int
es_ready(const void *self)
{
	return pgq_up(((const struct engine *)self)->db);
}

static json_t *
es_status(const void *self)
{
	const struct engine *e = self;

	return json_pack("{s:s,s:s,s:I,s:I,s:s?}", "state", e->stopping ?
	    "stopping" : e->claiming ? "claiming" : "waiting for servers",
	    "owner", e->owner, "held", (json_int_t)e->nheld,
	    "lease_ttl_ms", (json_int_t)e->ttl_ms, "error",
	    pgq_up(e->db) ? NULL : pgq_last_error(e->db));
}

static int
es_metrics(const void *self, struct buf *b)
{
	const struct engine *e = self;
	static const char *const st[] = { "succeeded", "failed" };
	char lab[256];
	size_t i;
	int k, rc = 0;

	rc |= metrics_head(b, "afu9_workflow_executions_started_total",
	    "counter", "Executions begun by this task, by workflow.");
	for (i = 0; i < e->nwfm; i++) {
		rc |= buf_printf(b, "afu9_workflow_executions_started_total"
		    "{workflow=\"");
		rc |= metrics_label(b, e->wfm[i].name);
		rc |= buf_printf(b, "\"} %" PRIu64 "\n", e->wfm[i].started);
	}
	rc |= metrics_head(b, "afu9_workflow_executions_finished_total",
	    "counter", "Executions this task ended, by workflow and status.");
	for (i = 0; i < e->nwfm; i++)
		for (k = 0; k < 2; k++) {
			rc |= buf_printf(b, "afu9_workflow_executions_"
			    "finished_total{workflow=\"");
			rc |= metrics_label(b, e->wfm[i].name);
			rc |= buf_printf(b, "\",status=\"%s\"} %" PRIu64 "\n",
			    st[k], k ? e->wfm[i].failed : e->wfm[i].succeeded);
		}
	rc |= metrics_head(b, "afu9_workflow_step_duration_seconds",
	    "histogram", "Step attempts from their start to their committed "
	    "outcome, by step kind.");
	for (k = 0; k < DEFN_STYPES; k++) {
		snprintf(lab, sizeof(lab), "kind=\"%s\"", kind_names[k]);
		rc |= metrics_hist_write(b,
		    "afu9_workflow_step_duration_seconds", lab, &e->step_h[k]);
	}
	rc |= metrics_head(b, "afu9_workflow_claim_latency_seconds",
	    "histogram", "From an execution being due (or its lease "
	    "expiring) to this task claiming it.");
	rc |= metrics_hist_write(b, "afu9_workflow_claim_latency_seconds", "",
	    &e->claim_h);
	rc |= metrics_head(b, "afu9_workflow_claims_total", "counter",
	    "Executions claimed.");
	rc |= buf_printf(b, "afu9_workflow_claims_total %" PRIu64 "\n",
	    e->st.claimed);
	rc |= metrics_head(b, "afu9_workflow_lease_takeovers_total", "counter",
	    "Executions claimed because their holder's lease expired.");
	rc |= buf_printf(b, "afu9_workflow_lease_takeovers_total %" PRIu64
	    "\n", e->st.takeovers);
	rc |= metrics_head(b, "afu9_workflow_fenced_writes_total", "counter",
	    "Writes the database refused because this task no longer held "
	    "the execution.");
	rc |= buf_printf(b, "afu9_workflow_fenced_writes_total %" PRIu64 "\n",
	    e->st.fenced);
	rc |= metrics_head(b, "afu9_workflow_executions_held", "gauge",
	    "Executions this task holds now.");
	rc |= buf_printf(b, "afu9_workflow_executions_held %zu\n", e->nheld);
	return rc ? -1 : 0;
}

void
engine_subsys(struct engine *e, unsigned grace_ms, struct subsys *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "engine";
	out->key = "engine";
	out->self = e;
	out->grace_ms = grace_ms;
	out->start = es_start;
	out->stop = es_stop;
	out->ready = es_ready;
	out->status = es_status;
	out->metrics = es_metrics;
}
