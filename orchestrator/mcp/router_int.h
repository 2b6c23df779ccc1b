/*
 * router_int.h: what the files of mcp/router* share, for them only
 * (router.h is the interface):
 *   router.c        servers: sessions on the children, supervision
 *                   glue, tools lists, pings, shutdown, status, metrics
 *   router_call.c   the call path: start, reply, progress, cancel,
 *                   completion, the counts per tool
 *   router_audit.c  the audit rows of calls
 * A function one file gives the others has the prefix of its file
 * (router_, call_, audit_) and its contract here; the few small ones
 * every call runs are inline at the end.
 */
#ifndef AFU9_ROUTER_INT_H
#define AFU9_ROUTER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>
#include <ev.h>
#include <jansson.h>

#include "later.h"
#include "metrics.h"
#include "mcp/router.h"
#include "proc/supervisor.h"
#include "store/store.h"

#define CAUSE_MAX		(SUP_CAUSE_MAX + 300)

enum outcome { OC_OK, OC_ERROR, OC_TIMEOUT, OC_UNAVAILABLE, OC_PROTOCOL,
	OC_CANCELLED, OC_N };

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
	char			 execution_id[37]; /* the origin's uuids;
						   "": none */
	char			 step_id[37];
	char			 agent_run_id[37];
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

/* ---- router.c ---- */

/* The next shutdown step, when its condition holds. */
void	 router_step(struct router *);
/* The server part of "server.tool", or NULL; *tool set past the dot. */
struct rsrv *router_lookup(struct router *, const char *qname,
	    const char **tool);

/* ---- router_call.c ---- */

/* Unlink call c from its server and the router, and free it. */
void	 call_unlink(struct router_call *c);
/* Fail every lost call of s with the cause of the death (s->cause). */
void	 call_fail_lost(struct rsrv *s);

/* ---- router_audit.c ---- */

/*
 * Complete row a with the outcome and queue it: result (borrowed) when
 * the child answered, else e, else the caller cancelled.
 */
void	 audit_submit(struct router *, struct audit_row *a, const char *res,
	    size_t rlen, int is_error, const struct router_err *e);
/* A call to server s refused before it was sent: its row, when audited. */
void	 audit_refused(struct router *, const struct rsrv *s, const char *tool,
	    const json_t *args, const struct router_origin *o,
	    enum router_ekind kind, const char *msg);

/* ---- inline: on the path of every call ---- */

/* Monotonic seconds. */
static inline double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Should calls be audited now (a store that is not disabled)? */
static inline int
audit_on(const struct router *r)
{
	return r->store != NULL && store_state(r->store) != STORE_DISABLED;
}

/* The caller's id for an audit row: a new reference, or NULL. */
static inline json_t *
origin_id(const struct router_origin *o)
{
	return o->rpc_id != NULL ? json_deep_copy(o->rpc_id) : NULL;
}

/* The tools/list entry of s's tool (borrowed), or NULL. */
static inline const json_t *
srv_find_tool(const struct rsrv *s, const char *tool)
{
	return json_object_get(s->byname, tool);
}

/* Audit call c, which ended at time end (now_s()). */
static inline void
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
	a.execution_id = c->execution_id[0] ? c->execution_id : NULL;
	a.step_id = c->step_id[0] ? c->step_id : NULL;
	a.agent_run_id = c->agent_run_id[0] ? c->agent_run_id : NULL;
	audit_submit(c->r, &a, res, rlen, is_error, e);
}

#endif
