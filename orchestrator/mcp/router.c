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
 *
 * The calls themselves are in router_call.c, their audit rows in
 * router_audit.c; router_int.h is what the files share.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/queue.h>

#include "later.h"
#include "log.h"
#include "mcp_client.h"
#include "metrics.h"
#include "mcp/router.h"
#include "mcp/router_int.h"
#include "subsys.h"
#include "rpc.h"
#include "proc/supervisor.h"

extern char **environ;

#define LOST_WAIT		0.08	/* s: wait for the cause of a death */
#define INIT_TIMEOUT_MIN	10.	/* s: initialize and each tools/list */
#define LIST_MAX_PAGES		100
#define LIST_MAX_TOOLS		1000
#define QNAME_MAX		128

static const char *const outcome_names[OC_N] = { "ok", "error", "timeout",
	"unavailable", "protocol_error", "cancelled" };

static void	srv_list_page(struct rsrv *, const char *cursor);

const char *
router_state_name(enum router_sstate st)
{
	static const char *const names[] = { "disabled", "starting", "ready",
	    "down", "failed", "stopped" };

	return (size_t)st < sizeof(names) / sizeof(names[0]) ? names[st] :
	    "unknown";
}

/* ---- metrics ---- */

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

/* ---- registry ---- */

/* The server part of "server.tool", or NULL; *tool set past the dot. */
struct rsrv *
router_lookup(struct router *r, const char *qname, const char **tool)
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
	struct rsrv *s = router_lookup((struct router *)r, qname, &tool);

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
	call_fail_lost(s);
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
	call_fail_lost(s);
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
void
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
