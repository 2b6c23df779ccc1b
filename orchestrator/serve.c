/*
 * serve: the orchestrator process (see serve.h).
 *
 * HTTP mode (`afu9 serve`): children start, the HTTP server listens on
 * afu9.http.listen / $AFU9_HTTP_LISTEN / 0.0.0.0:8080, and the loop runs
 * until SIGTERM or SIGINT.  Then: /ready turns 503 and no new call is
 * taken; calls in flight get up to shutdownGraceMs; children's stdin is
 * closed and they get SIGTERM, then SIGKILL after min(shutdownGraceMs,
 * 5 s); the HTTP server drains; exit 0.
 *
 * Database (see serve.h): migrations before the router exists, then the
 * store on the loop.
 *
 * What runs is wired through subsys.h: the router, the store and the
 * HTTP server, in that order, are started in order and stopped in order,
 * each once the one before it is done: the calls in flight finish, the
 * store drains (the last calls' rows included) for up to
 * shutdownGraceMs, then the HTTP server stops.
 *
 * Gateway mode (`afu9 serve --stdio`): stdout carries the MCP protocol
 * only.  The MCP server on stdin/stdout opens once every enabled child
 * has settled (ready, or its first start failed; at most SETTLE_MAX
 * seconds), so the client's first tools/list sees every tool.  HTTP
 * listens only when the address is set explicitly ("afu9.http.listen" in
 * the file, or $AFU9_HTTP_LISTEN).  EOF on stdin or a signal ends the
 * session as the runtime describes; then the children are stopped as
 * above.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include <jansson.h>

#include "agent/agentrec.h"
#include "mcp/gateway.h"
#include "http/http.h"
#include "log.h"
#include "engine/engine.h"
#include "redact.h"
#include "store/migrate.h"
#include "mcp/router.h"
#include "api/health.h"
#include "api/auth.h"
#include "api/wfapi.h"
#include "api/agentapi.h"
#include "api/mcphttp.h"
#include "api/webhook.h"
#include "ui/ui.h"
#include "serve.h"
#include "store/store.h"
#include "subsys.h"

/* Set by Makefile.am; empty when built otherwise. */

#define SETTLE_MAX	30.	/* s: gateway waits this long for children */

struct serve {
	struct ev_loop		*loop;
	struct config_env	 env;
	struct afu9_config	*cfg;
	struct router		*r;
	struct store		*st;
	struct engine		*eng;		/* NULL: no engine here */
	struct agentrec		*rec;		/* agent runs' recorder; NULL:
						   no database */
	struct http_server	*hs;
	struct health		*rt;
	struct auth		*auth;		/* NULL: no DATABASE_URL and
						   no AFU9_API_TOKEN */
	struct wfapi		*api;		/* NULL: no auth */
	struct agentapi		*agentapi;	/* the same */
	struct ui		*ui;		/* the console; same */
	struct mcphttp		*mcp;		/* remote MCP at /mcp; same */
	struct http_server	*mhs;		/* AFU9_METRICS_LISTEN; NULL */
	struct health		*mrt;		/* its routes */
	struct webhook		*wh;		/* NULL: no webhook secret */
	struct gateway		*gw;
	struct subsys		 subs[SUBSYS_MAX];	/* in wiring order */
	size_t			 nsubs;
	size_t			 nstopped;	/* stop: done so far */
	ev_signal		 sigterm, sigint;
	ev_timer		 settle;
	int			 stdio;
	int			 no_migrate;
	int			 stopping;
	int			 waiting;	/* gateway not open yet */
	int			 finished;	/* everything stopped */
	int			 gw_open;	/* the MCP session runs */
};

/* ---- shutdown ---- */

/* Stop the next subsystem, or end the loop after the last. */
static void
stop_next(void *arg)
{
	struct serve *sv = arg;
	struct subsys *ss;

	while (sv->nstopped < sv->nsubs) {
		ss = &sv->subs[sv->nstopped++];
		if (ss->stop != NULL) {
			ss->stop(ss->self, ss->grace_ms, stop_next, sv);
			return;
		}
	}
	sv->finished = 1;
	ev_break(sv->loop, EVBREAK_ALL);
}

/* Stop everything in order; the first (the router) waits grace_ms for
   the calls in flight. */
static void
begin_stop(struct serve *sv, unsigned grace_ms)
{
	if (sv->stopping)
		return;
	sv->stopping = 1;
	sv->waiting = 0;
	ev_timer_stop(sv->loop, &sv->settle);
	if (sv->nsubs > 0)
		sv->subs[0].grace_ms = grace_ms;
	stop_next(sv);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct serve *sv = w->data;

	if (sv->stopping) {
		log_info("signal %d: already stopping", w->signum);
		return;
	}
	log_info("signal %d: stopping (calls in flight get up to %u ms)",
	    w->signum, sv->cfg->shutdown_grace_ms);
	begin_stop(sv, sv->cfg->shutdown_grace_ms);
}

/* ---- router callbacks ---- */

static void
open_gateway(struct serve *sv)
{
	if (!sv->waiting)
		return;
	sv->waiting = 0;
	ev_timer_stop(sv->loop, &sv->settle);
	ev_break(sv->loop, EVBREAK_ONE);
}

static void
on_tools(struct router *r, void *arg)
{
	struct serve *sv = arg;

	if (sv->gw_open)
		gateway_sync(sv->gw);
	mcphttp_sync(sv->mcp);
}

static void
on_state(struct router *r, const char *server, void *arg)
{
	struct serve *sv = arg;

	if (sv->waiting && router_settled(r))
		open_gateway(sv);
}

static void
on_message(struct router *r, const char *server, const json_t *params,
    void *arg)
{
	struct serve *sv = arg;
	json_t *data = json_object_get(params, "data");
	const char *level = json_string_value(json_object_get(params,
	    "level"));
	enum log_level lvl = LOG_LVL_INFO;

	if (sv->gw_open)
		gateway_message(sv->gw, server, params);
	mcphttp_message(sv->mcp, server, params);
	if (level && log_level_parse(level, &lvl) == -1)
		lvl = strcmp(level, "debug") == 0 ? LOG_LVL_DEBUG :
		    strcmp(level, "notice") == 0 ? LOG_LVL_INFO : LOG_LVL_ERROR;
	log_emit(lvl, server, json_is_object(data) ? data : NULL,
	    "notifications/message%s%s", json_is_object(data) ? "" : ": ",
	    json_is_string(data) ? json_string_value(data) : "");
}

static void
settle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct serve *sv = w->data;

	log_warnx("not every server is ready after %.0f s; serving the tools "
	    "of those that are", SETTLE_MAX);
	open_gateway(sv);
}

/* ---- set-up ---- */

/*
 * The token check (api/auth.h) for everything reachable from outside:
 * with DATABASE_URL (the tokens table) or AFU9_API_TOKEN (the bootstrap
 * admin token); without either, none, and no /v1 route exists.
 */
static int
start_auth(struct serve *sv, char *err, size_t errlen)
{
	struct auth_opts ao;

	if (sv->env.api_token == NULL && sv->env.database_url == NULL)
		return 0;
	memset(&ao, 0, sizeof(ao));
	ao.bootstrap = sv->env.api_token;
	ao.conninfo = sv->env.database_url;
	ao.password = sv->env.pgpassword;
	ao.trust_forwarded = sv->env.trust_forwarded;
	if ((sv->auth = auth_new(sv->loop, &ao, err, errlen)) == NULL)
		return -1;
	auth_subsys(sv->auth, &sv->subs[sv->nsubs++]);
	return 0;
}

/*
 * The workflow API (api/wfapi.h) only with the token check: without it
 * no /v1 route exists.  Its subsystem comes before health_new(), which
 * takes the list as it is then.
 */
static int
start_api(struct serve *sv, char *err, size_t errlen)
{
	struct wfapi_opts wo;

	if (sv->auth == NULL)
		return 0;
	memset(&wo, 0, sizeof(wo));
	wo.auth = sv->auth;
	wo.conninfo = sv->env.database_url;
	wo.password = sv->env.pgpassword;
	if ((sv->api = wfapi_new(sv->loop, sv->hs, &wo, err, errlen)) == NULL)
		return -1;
	wfapi_subsys(sv->api, &sv->subs[sv->nsubs++]);
	if (sv->env.database_url == NULL)
		log_warnx("api: DATABASE_URL is not set: the /v1 routes "
		    "answer 503");
	else
		log_info("api: the /v1 workflow routes are on");
	return 0;
}

/* The recorded agent runs' routes (api/agentapi.h), with the workflow
   API's token check. */
static int
start_agentapi(struct serve *sv, char *err, size_t errlen)
{
	struct agentapi_opts ao;

	if (sv->auth == NULL)
		return 0;
	memset(&ao, 0, sizeof(ao));
	ao.auth = sv->auth;
	ao.conninfo = sv->env.database_url;
	ao.password = sv->env.pgpassword;
	if ((sv->agentapi = agentapi_new(sv->loop, sv->hs, &ao, err,
	    errlen)) == NULL)
		return -1;
	agentapi_subsys(sv->agentapi, &sv->subs[sv->nsubs++]);
	return 0;
}

/*
 * GitHub webhooks (api/webhook.h) only with AFU9_GITHUB_WEBHOOK_SECRET:
 * without it the route does not exist.  Deliveries are handled on this
 * task too (with the engine's lease owner name for its claims).
 */
static int
start_webhooks(struct serve *sv, char *err, size_t errlen)
{
	struct webhook_opts wo;

	if (sv->env.webhook_secret == NULL)
		return 0;
	if (redact_add_secret(sv->env.webhook_secret) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&wo, 0, sizeof(wo));
	wo.secret = sv->env.webhook_secret;
	wo.conninfo = sv->env.database_url;
	wo.password = sv->env.pgpassword;
	wo.rules = sv->cfg->webhooks;
	wo.owner = sv->eng ? engine_owner(sv->eng) : NULL;
	if ((sv->wh = webhook_new(sv->loop, sv->hs, &wo, err, errlen)) ==
	    NULL)
		return -1;
	webhook_subsys(sv->wh, &sv->subs[sv->nsubs++]);
	if (sv->env.database_url == NULL)
		log_warnx("webhooks: DATABASE_URL is not set: deliveries are "
		    "answered 503");
	else
		log_info("webhooks: POST %s is on", WEBHOOK_PATH);
	return 0;
}

/*
 * The console (ui/ui.h) under /ui/, also only with the token check: any
 * token logs in.
 */
static int
start_ui(struct serve *sv, char *err, size_t errlen)
{
	struct ui_opts uo;

	if (sv->auth == NULL)
		return 0;
	memset(&uo, 0, sizeof(uo));
	uo.auth = sv->auth;
	uo.conninfo = sv->env.database_url;
	uo.password = sv->env.pgpassword;
	if ((sv->ui = ui_new(sv->loop, sv->hs, sv->r, &uo, err,
	    errlen)) == NULL)
		return -1;
	ui_subsys(sv->ui, &sv->subs[sv->nsubs++]);
	log_info("ui: the console is on under /ui/");
	return 0;
}

/*
 * Remote MCP (api/mcphttp.h) at /mcp, only with the token check.  Before
 * the HTTP server's subsystem: its stop ends the SSE responses the
 * server would otherwise wait for.
 */
static int
start_mcp(struct serve *sv, char *err, size_t errlen)
{
	struct mcphttp_opts mo;

	if (sv->auth == NULL)
		return 0;
	memset(&mo, 0, sizeof(mo));
	mo.auth = sv->auth;
	mo.conninfo = sv->env.database_url;
	mo.password = sv->env.pgpassword;
	mo.allowed_hosts = sv->env.mcp.allowed_hosts;
	mo.allowed_origins = sv->env.mcp.allowed_origins;
	mo.resource = sv->env.mcp.resource;
	mo.auth_servers = sv->env.mcp.auth_servers;
	mo.max_sessions = sv->env.mcp.max_sessions;
	mo.session_requests = sv->env.mcp.session_requests;
	mo.max_streams = sv->env.mcp.max_streams;
	mo.max_message = sv->env.mcp.max_message;
	mo.idle_s = sv->env.mcp.idle_s;
	mo.heartbeat_ms = sv->env.mcp.heartbeat_ms;
	mo.bare = sv->env.gateway_bare;
	if ((sv->mcp = mcphttp_new(sv->loop, sv->hs, sv->r, &mo, err,
	    errlen)) == NULL)
		return -1;
	mcphttp_subsys(sv->mcp, &sv->subs[sv->nsubs++]);
	if (sv->env.database_url == NULL)
		log_warnx("mcp: DATABASE_URL is not set: /mcp answers 503");
	else
		log_info("mcp: remote MCP is on at /mcp");
	return 0;
}

/*
 * Descriptors afu9 needs besides its HTTP connections: the children's
 * pipes, PostgreSQL connections, listeners, the loop's own.
 */
#define SERVE_FD_HEADROOM	256

/*
 * Room in the open file limit for `conns` HTTP connections: the soft
 * limit is raised toward the hard one as far as they and the rest need
 * (a shell's soft limit is often 1024, below the default cap).  When
 * the hard limit leaves less, say so: past it accept() fails with
 * EMFILE and new connections wait in the listen backlog.
 */
static void
fd_room(size_t conns)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)conns + SERVE_FD_HEADROOM;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("http: getrlimit(RLIMIT_NOFILE)");
		return;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("http: setrlimit(RLIMIT_NOFILE)");
		return;
	}
	if (rl.rlim_cur < want)
		log_warnx("http: the open file limit is %llu (its hard limit), "
		    "below the %llu that %zu connections need: past it new "
		    "connections wait to be accepted; raise it (ulimit -n, "
		    "the task's nofile ulimit) or lower "
		    "AFU9_HTTP_MAX_CONNECTIONS", (unsigned long long)rl.rlim_cur,
		    (unsigned long long)want, conns);
}

static int
start_http(struct serve *sv, char *err, size_t errlen)
{
	struct http_limits lim;
	size_t mcp_body;
	enum health_metrics hm;

	/* the API's bodies carry an input of up to WFSQL_INPUT_MAX bytes,
	   /mcp's a message of up to its bound */
	memset(&lim, 0, sizeof(lim));
	mcp_body = sv->env.mcp.max_message ? sv->env.mcp.max_message :
	    MCPHTTP_MAX_MESSAGE;
	if (sv->env.api_token != NULL || sv->env.database_url != NULL)
		lim.max_body = mcp_body > WFAPI_BODY_MAX ? mcp_body :
		    WFAPI_BODY_MAX;
	/* bodies being received on all connections together */
	lim.max_body_total = (size_t)sv->env.http_body_total;
	/* connections, and the slots past them kept for health checks */
	lim.max_connections = sv->env.http_connections;
	lim.reserve_connections = sv->env.http_reserve;
	fd_room((lim.max_connections ? lim.max_connections :
	    HTTP_MAX_CONNECTIONS) + (lim.reserve_connections ?
	    lim.reserve_connections : HTTP_RESERVE_CONNECTIONS));
	if ((sv->hs = http_server_new(sv->loop, sv->cfg->listen, &lim, err,
	    errlen)) == NULL)
		return -1;
	if (start_auth(sv, err, errlen) == -1)
		return -1;
	/* before the HTTP server's: its stop ends the event streams the
	   server would otherwise wait for */
	if (start_ui(sv, err, errlen) == -1)
		return -1;
	if (start_mcp(sv, err, errlen) == -1)
		return -1;
	http_subsys(sv->hs, &sv->subs[sv->nsubs++]);
	if (start_api(sv, err, errlen) == -1)
		return -1;
	if (start_agentapi(sv, err, errlen) == -1)
		return -1;
	if (start_webhooks(sv, err, errlen) == -1)
		return -1;
	/* /metrics: open only where asked (AFU9_METRICS=open, or on the
	   address of AFU9_METRICS_LISTEN), else behind a token */
	hm = sv->env.metrics_open ? HEALTH_METRICS_OPEN : sv->auth ?
	    HEALTH_METRICS_TOKEN : HEALTH_METRICS_OFF;
	if ((sv->rt = health_new(sv->hs, sv->subs, sv->nsubs, hm, sv->auth,
	    err, errlen)) == NULL)
		return -1;
	if (sv->env.metrics_listen != NULL) {
		if ((sv->mhs = http_server_new(sv->loop,
		    sv->env.metrics_listen, NULL, err, errlen)) == NULL ||
		    (sv->mrt = health_new(sv->mhs, sv->subs, sv->nsubs,
		    HEALTH_METRICS_OPEN, NULL, err, errlen)) == NULL)
			return -1;
		log_info("http: /metrics without a token on %s (port %d)",
		    sv->env.metrics_listen, http_server_port(sv->mhs));
	}
	if (hm == HEALTH_METRICS_OFF && sv->mhs == NULL)
		log_warnx("http: no /metrics: it needs a token and there are "
		    "none (set DATABASE_URL or AFU9_API_TOKEN), or "
		    "AFU9_METRICS_LISTEN, or AFU9_METRICS=open");
	log_emit(LOG_LVL_INFO, NULL, NULL, "http: listening on %s (port %d)",
	    sv->cfg->listen, http_server_port(sv->hs));
	return 0;
}

/*
 * The workflow engine, with a database, unless AFU9_ENGINE=0 or in
 * gateway mode.  It is the first subsystem: it stops first, so its steps
 * in flight still have the router and their outcomes the database.
 */
static int
setup_engine(struct serve *sv, char *err, size_t errlen)
{
	struct engine_opts eo;
	char dir[PATH_MAX];
	json_t *env = NULL;

	if (sv->env.api_token != NULL &&
	    redact_add_secret(sv->env.api_token) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (sv->env.database_url == NULL || !sv->env.engine || sv->stdio)
		return 0;
	if (config_env_workflow_env(&sv->env, &env, err, errlen) == -1)
		return -1;
	memset(&eo, 0, sizeof(eo));
	eo.lease_ttl_ms = sv->env.lease_ttl_ms;
	eo.concurrency = sv->env.concurrency;
	eo.env = env;
	eo.workflows_dir = mig_workflows_dir(NULL, sv->env.workflows_dir, dir,
	    sizeof(dir));
	eo.password = sv->env.pgpassword;
	eo.agents = &sv->env;	/* the agent steps: agent_provider_env() */
	/* its agent steps' runs are recorded by the recorder (set up
	   before it, stopped after it) */
	eo.agent_rec = sv->rec != NULL ? agentrec_recorder(sv->rec) : NULL;
	sv->eng = engine_new(sv->loop, sv->env.database_url, sv->r, &eo, err,
	    errlen);
	json_decref(env);
	if (sv->eng == NULL)
		return -1;
	memmove(&sv->subs[1], &sv->subs[0], sv->nsubs * sizeof(sv->subs[0]));
	engine_subsys(sv->eng, sv->cfg->shutdown_grace_ms, &sv->subs[0]);
	sv->nsubs++;
	log_info("workflow engine: lease owner %s, lease %u ms",
	    engine_owner(sv->eng), sv->env.lease_ttl_ms);
	return 0;
}

/*
 * The recorder of agent runs (agent/agentrec.h), with a database and
 * not in gateway mode.  Its subsystem follows the store's: it stops after
 * the engine and the router, once the runs have ended and their last
 * writes are queued, and waits up to shutdownGraceMs for them.
 */
static int
setup_agents(struct serve *sv, char *err, size_t errlen)
{
	struct agentrec_opts ro;

	if (sv->env.database_url == NULL || sv->stdio)
		return 0;
	memset(&ro, 0, sizeof(ro));
	ro.password = sv->env.pgpassword;
	if ((sv->rec = agentrec_new(sv->loop, sv->env.database_url, &ro, err,
	    errlen)) == NULL)
		return -1;
	agentrec_subsys(sv->rec, sv->cfg->shutdown_grace_ms,
	    &sv->subs[sv->nsubs++]);
	return 0;
}

/* Migrate (unless told not to) and open the store. */
static int
setup_db(struct serve *sv, char *err, size_t errlen)
{
	struct store_opts so = { .env = &sv->env };
	const char *url = sv->env.database_url;
	char dir[PATH_MAX], why[MIG_ERR_MAX], shown[1024];
	int applied;

	if (url == NULL)
		log_info("database: DATABASE_URL is not set; running without "
		    "a database (no audit)");
	else if (sv->no_migrate || !sv->env.migrate)
		log_info("database: migrations skipped");
	else {
		mig_dir(NULL, sv->env.migrations_dir, dir, sizeof(dir));
		if (mig_apply(url, dir, &applied, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "migrate (%.256s): %.700s", dir, why);
			return -1;
		}
		log_info("database: %s: %d migration(s) applied",
		    mig_conninfo_redact(url, shown, sizeof(shown)), applied);
	}
	if ((sv->st = store_new(sv->loop, url, &so, err, errlen)) == NULL)
		return -1;
	router_set_store(sv->r, sv->st, 1);
	store_subsys(sv->st, sv->cfg->shutdown_grace_ms,
	    &sv->subs[sv->nsubs++]);
	if (setup_agents(sv, err, errlen) == -1)
		return -1;
	return setup_engine(sv, err, errlen);
}

static int
setup(struct serve *sv, char *err, size_t errlen)
{
	struct router_cb cb = { on_tools, on_state, on_message };
	struct sigaction sa;
	struct subsys *ss;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if ((sv->loop = ev_default_loop(0)) == NULL) {
		snprintf(err, errlen, "cannot initialise the event loop");
		return -1;
	}
	if ((sv->r = router_new(sv->loop, sv->cfg, NULL, &cb, sv, err,
	    errlen)) == NULL)
		return -1;
	router_subsys(sv->r, &sv->subs[sv->nsubs++]);
	if (setup_db(sv, err, errlen) == -1)
		return -1;
	if ((!sv->stdio || sv->cfg->listen_explicit) &&
	    start_http(sv, err, errlen) == -1)
		return -1;
	ev_signal_init(&sv->sigterm, signal_cb, SIGTERM);
	ev_signal_init(&sv->sigint, signal_cb, SIGINT);
	ev_timer_init(&sv->settle, settle_cb, SETTLE_MAX, 0.);
	sv->sigterm.data = sv->sigint.data = sv->settle.data = sv;
	ev_signal_start(sv->loop, &sv->sigterm);
	ev_signal_start(sv->loop, &sv->sigint);
	for (i = 0; i < sv->nsubs; i++) {
		ss = &sv->subs[i];
		if (ss->start != NULL && ss->start(ss->self, err, errlen) == -1)
			return -1;
	}
	return 0;
}

static void
teardown(struct serve *sv)
{
	if (sv->loop) {
		ev_signal_stop(sv->loop, &sv->sigterm);
		ev_signal_stop(sv->loop, &sv->sigint);
		ev_timer_stop(sv->loop, &sv->settle);
	}
	gateway_free(sv->gw);
	if (sv->hs)
		http_server_free(sv->hs);
	if (sv->mhs)
		http_server_free(sv->mhs);
	agentapi_free(sv->agentapi);
	wfapi_free(sv->api);	/* after the server: its exchanges are
				   orphans by now */
	ui_free(sv->ui);
	mcphttp_free(sv->mcp);	/* before the router: it cancels calls */
	webhook_free(sv->wh);
	auth_free(sv->auth);	/* after its users */
	health_free(sv->rt);
	health_free(sv->mrt);
	engine_free(sv->eng);
	agentrec_free(sv->rec);
	router_free(sv->r);
	store_free(sv->st);
	config_free(sv->cfg);
	if (sv->loop)
		ev_loop_destroy(sv->loop);
}

/* Gateway mode after set-up: wait for the children, serve, stop. */
static int
run_stdio(struct serve *sv)
{
	char err[512];
	int status = 0;

	sv->waiting = 1;
	ev_timer_start(sv->loop, &sv->settle);
	if (router_settled(sv->r))
		open_gateway(sv);
	else
		ev_run(sv->loop, 0);
	if (!sv->stopping) {
		if ((sv->gw = gateway_new(sv->loop, sv->r, 0, 1,
		    sv->cfg->shutdown_grace_ms, sv->env.gateway_bare, err,
		    sizeof(err))) == NULL) {
			log_error("gateway: %s", err);
			status = 1;
		} else {
			/* The runtime handles SIGTERM/SIGINT from here. */
			ev_signal_stop(sv->loop, &sv->sigterm);
			ev_signal_stop(sv->loop, &sv->sigint);
			sv->gw_open = 1;
			status = gateway_run(sv->gw);
			sv->gw_open = 0;
			ev_signal_start(sv->loop, &sv->sigterm);
			ev_signal_start(sv->loop, &sv->sigint);
		}
		begin_stop(sv, 0);
	}
	while (!sv->finished)
		ev_run(sv->loop, 0);
	return status;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: afu9 serve [--config FILE] [--stdio] "
	    "[--check-config] [--no-migrate]\n");
}

int
serve_main(int argc, char **argv)
{
	struct serve sv;
	const char *path = NULL;
	char err[1024];
	int i, check = 0, status;

	memset(&sv, 0, sizeof(sv));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		else if (strcmp(argv[i], "--stdio") == 0)
			sv.stdio = 1;
		else if (strcmp(argv[i], "--check-config") == 0)
			check = 1;
		else if (strcmp(argv[i], "--no-migrate") == 0)
			sv.no_migrate = 1;
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	log_init("afu9");
	if (config_env_read(&sv.env, err, sizeof(err)) == -1 ||
	    (sv.cfg = config_open(path, &sv.env, err, sizeof(err))) == NULL) {
		fprintf(stderr, "afu9: %s\n", err);
		return 2;
	}
	if (check) {
		printf("%s: configuration OK (%zu server(s))\n",
		    sv.cfg->source ? sv.cfg->source : "built-in",
		    sv.cfg->nservers);
		config_free(sv.cfg);
		return 0;
	}
	if (setup(&sv, err, sizeof(err)) == -1) {
		log_error("%s", err);
		teardown(&sv);
		return 1;
	}
	if (sv.stdio)
		status = run_stdio(&sv);
	else {
		while (!sv.finished)
			ev_run(sv.loop, 0);
		status = 0;
	}
	log_info("stopped");
	teardown(&sv);
	return status;
}
