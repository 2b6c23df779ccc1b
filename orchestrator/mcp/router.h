/*
 * router: one MCP client session per child server, the tool registry, and
 * the routing of "server.tool" calls.
 *
 * Each enabled server of the configuration is a supervised child (see
 * supervisor.h).  When its process runs, the router opens an MCP client
 * session on its pipes (framing per config), sends initialize, lists its
 * tools (every page) and the server is READY.  notifications/tools/
 * list_changed makes it list again.  While READY it is pinged every
 * ping_interval_ms; no answer within ping_timeout_ms (a child stopped
 * with SIGSTOP, a wedged loop) kills and restarts it.  The child's stderr
 * lines go to the log under the server's name; its notifications/message
 * reach the `message` callback.
 *
 * Calls: router_call() sends tools/call to the named server with the
 * server's call_timeout_ms; on timeout the child gets notifications/
 * cancelled and the caller an error.  Progress reaches the call's
 * progress callback.  router_call_cancel() forwards a caller's
 * cancellation.  When a child dies, every call in flight to it fails at
 * once with an error naming the server and how it died ("server github
 * exited: killed by signal 9 (Killed)").
 *
 * Audit: with a store set (router_set_store()), every call that reaches a
 * known server ends in exactly one store_audit_call() row: when its
 * result or failure arrives, when the caller cancels it, or at once when
 * the server is not ready.  Unknown tools, calls refused during shutdown
 * and calls without an origin are not audited.  The row names the
 * origin's caller and what the call was for: a workflow step's calls
 * carry its execution_id and step_id, an agent run's its agent_run_id
 * (each must name a row that exists: a row naming none is refused by
 * the database and counted as rejected, see store.h).  Failures carry a
 * JSON-RPC code: the child's, RPC_REQUEST_TIMEOUT, MCP_ERR_CANCELLED, or
 * RPC_CONNECTION_CLOSED (server not ready, or it died).  With
 * report_servers, every state change of a server is also written with
 * store_server_state() (mcp_servers).
 *
 * Shutdown: router_shutdown() refuses new calls, lets calls in flight
 * finish up to grace_ms, then stops the children (stdin closed, SIGTERM,
 * SIGKILL after kill_grace_ms) and calls `done` once every child is gone.
 *
 * Everything runs on the default libev loop (the supervisor needs it);
 * callbacks run from the loop, never from inside the router_* call that
 * causes them, except where noted.
 */
#ifndef AFU9_ROUTER_H
#define AFU9_ROUTER_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <jansson.h>

#include "buf.h"
#include "conf/conf.h"
#include "store/store.h"

struct router;
struct router_call;

/* Failure kinds of a call (struct router_err.kind). */
enum router_ekind {
	ROUTER_E_UNKNOWN = 1,	/* no such server or tool */
	ROUTER_E_UNAVAILABLE,	/* server not ready, or it died */
	ROUTER_E_TIMEOUT,	/* call_timeout_ms passed */
	ROUTER_E_SHUTDOWN,	/* the router is stopping */
	ROUTER_E_PROTOCOL,	/* the child answered a JSON-RPC error */
	ROUTER_E_INTERNAL,	/* out of memory, output bound, an origin
				   whose id is not a uuid */
};

/* Room for any message: a server's death cause and a tool name fit. */
#define ROUTER_ERR_MAX	1024

/*
 * Why a call failed.  The message is the struct's own text, not a pointer
 * into the router: a struct router_err the caller passes to router_call()
 * stays valid as long as the caller keeps it, whatever other calls happen
 * meanwhile (the engine, the agent runner, the API and the gateway all
 * call the router); one handed to a done callback is valid during it.
 */
struct router_err {
	enum router_ekind kind;
	int		 code;		/* JSON-RPC code from the child, or 0 */
	char		 message[ROUTER_ERR_MAX]; /* human text naming the
						      server */
};

/* Server states as /ready reports them. */
enum router_sstate {
	RS_DISABLED = 0,	/* disabled in the config */
	RS_STARTING,		/* process starting, or initialize/tools/list */
	RS_READY,		/* initialized, tools listed */
	RS_DOWN,		/* no process; a restart is planned */
	RS_FAILED,		/* crash loop: restarts go on */
	RS_STOPPED,		/* no process, no restart (policy, shutdown) */
};

/* A snapshot for /ready and the CLI; strings borrowed until the loop runs. */
struct router_sinfo {
	const char	*name;
	enum router_sstate state;
	int		 required;
	int		 pid;		/* 0: none */
	unsigned	 restarts;
	const char	*last_cause;	/* "" if none */
	size_t		 ntools;
	double		 ping_rtt_ms;	/* last ping; < 0: none yet */
	int		 up;		/* READY now */
	int		 settled;	/* READY, or its first start failed */
	const char	*protocol_version; /* negotiated; NULL: none */
};

/* Who asked for a call, for its audit row. */
struct router_origin {
	enum audit_caller caller;
	const json_t	*rpc_id;	/* the caller's JSON-RPC id (string or
					   number), copied; NULL: none */
	const char	*rpc_id_text;	/* or, when rpc_id is NULL, the id as
					   JSON text (a string or an
					   integer), copied; NULL: none */
	/* What the call is for: uuids as text (store_uuid_ok()), copied;
	   NULL: none.  AUDIT_WORKFLOW: the execution and its step;
	   AUDIT_AGENT: the run (and its execution and step, if any). */
	const char	*execution_id;	/* workflow_executions.id */
	const char	*step_id;	/* workflow_steps.id */
	const char	*agent_run_id;	/* agent_runs.id */
};

struct router_cb {
	/* The set of tools changed (a server became ready, left, or its list
	   changed).  May be NULL. */
	void	(*tools_changed)(struct router *, void *arg);
	/* A server changed state.  May be NULL. */
	void	(*state_changed)(struct router *, const char *server,
		    void *arg);
	/* notifications/message from a child: params borrowed.  NULL: the
	   message is only logged. */
	void	(*message)(struct router *, const char *server,
		    const json_t *params, void *arg);
};

struct router_opts {
	int	 no_restart;	/* one process per server, never restarted
				   (CLI use) */
};

/*
 * A router for cfg (borrowed: it must outlive the router) on the default
 * loop.  Nothing starts yet.  NULL with a reason in err.
 */
struct router	*router_new(struct ev_loop *, const struct afu9_config *cfg,
		    const struct router_opts *, const struct router_cb *,
		    void *arg, char *err, size_t errlen);
/*
 * Audit calls into st (borrowed: it must outlive the router's calls;
 * NULL: no audit).  report_servers: also write server states.
 */
void		 router_set_store(struct router *, struct store *st,
		    int report_servers);
/* Start every enabled server.  0, or -1 with err (a spawn failed). */
int		 router_start(struct router *, char *err, size_t errlen);
/*
 * Graceful stop (see above); done(arg) runs from the loop once every
 * child is gone.  Call once.
 */
void		 router_shutdown(struct router *, unsigned grace_ms,
		    unsigned kill_grace_ms, void (*done)(void *), void *arg);
/* Free everything: children still alive are killed.  Not from a
   callback.  Pending calls are dropped without callbacks. */
void		 router_free(struct router *);

/* Servers, in config order. */
size_t		 router_nservers(const struct router *);
void		 router_server_info(const struct router *, size_t i,
		    struct router_sinfo *);
/* Index of the server called name, or -1. */
int		 router_server_index(const struct router *, const char *name);
/* Every required, enabled server is READY (and not shutting down). */
int		 router_ready(const struct router *);
/* Every enabled server has settled (READY, or its first start failed). */
int		 router_settled(const struct router *);

/*
 * The tools of every READY server as tools/list entries named
 * "server.tool", in config order: a new reference to an array, or NULL
 * on ENOMEM.
 */
json_t		*router_tools(const struct router *);
/* The tools/list entry of "server.tool" as the child gave it (borrowed
   until the loop runs), or NULL. */
const json_t	*router_tool(const struct router *, const char *qname);

/*
 * done: exactly once, unless the call was cancelled by its caller.
 * result borrowed (the child's tools/call result) when err is NULL.
 */
typedef void (*router_done_fn)(struct router_call *, const json_t *result,
		    const struct router_err *err, void *arg);
/* A progress notification for the call: params borrowed. */
typedef void (*router_progress_fn)(struct router_call *,
		    const json_t *params, void *arg);

/*
 * Call "server.tool" with args (stolen; NULL: {}).  progress NULL: no
 * progress requested.  origin (borrowed for this call only; NULL: not
 * audited) names the caller for the audit row; an id of it that is
 * neither NULL nor a uuid fails the call at once (ROUTER_E_INTERNAL,
 * naming the field), store or no store.  Returns the call handle, or
 * NULL when it fails at once: then done has NOT run and *err (if err
 * not NULL) says why.
 */
struct router_call *router_call(struct router *, const char *qname,
		    json_t *args, const struct router_origin *origin,
		    router_done_fn done,
		    router_progress_fn progress, void *arg,
		    struct router_err *err);
/*
 * done for router_call_raw(): the child's result as JSON text (len bytes,
 * borrowed for the callback; valid JSON as the child sent it, whitespace
 * and all) and whether it said "isError": true, when err is NULL.
 */
typedef void (*router_done_raw_fn)(struct router_call *, const char *result,
		    size_t len, int is_error, const struct router_err *err,
		    void *arg);
/*
 * router_call() without trees on the way: args is the text of a JSON
 * object (args_len bytes, borrowed for this call only; NULL: {}), spliced
 * into the request to the child as it is, and the child's result comes
 * back as text.  Only an audit row parses them.  Same rules otherwise.
 */
struct router_call *router_call_raw(struct router *, const char *qname,
		    const char *args, size_t args_len,
		    const struct router_origin *origin, router_done_raw_fn done,
		    router_progress_fn progress, void *arg,
		    struct router_err *err);
/* The caller gives up: the child gets notifications/cancelled; no
   callback of this call runs after this. */
void		 router_call_cancel(struct router_call *, const char *reason);
size_t		 router_calls_in_flight(const struct router *);

/*
 * Prometheus text for the router: afu9_tool_calls_total{server,tool,
 * outcome}, afu9_tool_call_duration_seconds histogram,
 * afu9_server_restarts_total, afu9_server_up.  0, or -1 when out is full.
 */
int		 router_metrics(const struct router *, struct buf *out);

/* "disabled", "starting", "ready", "down", "failed", "stopped". */
const char	*router_state_name(enum router_sstate);

/*
 * The /ready entry: one object per server in config order (name, state,
 * required, restarts, last_exit, pid, tools, ping_rtt_ms).  New
 * reference, NULL on ENOMEM.
 */
json_t		*router_status(const struct router *);

struct subsys;
/*
 * r as a subsystem (see subsys.h) under the /ready key "servers": start
 * starts the servers; stop is router_shutdown() with grace_ms for the
 * calls in flight and min(shutdownGraceMs, 5 s) from SIGTERM to
 * SIGKILL; ready is router_ready().
 */
void		 router_subsys(struct router *r, struct subsys *out);

#endif
