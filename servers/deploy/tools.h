/*
 * tools: the afu9-deploy MCP tools over awsclient (ECS).
 *
 * Each tool call is one struct dop: a small state machine that sends one
 * ECS request at a time and continues in the callback (dop->next).  It
 * ends exactly once, through dop_return() or dop_error() (or their
 * variants), which complete the MCP call and free the dop; a cancelled
 * call frees it through the cancel hook, which also cancels the request
 * in flight and stops the timers of waitForDeployment.
 *
 * Results are compact: only the fields a model needs, ARNs shortened to
 * names ("web:7" for a task definition), times as ISO 8601 UTC, long
 * texts (events, stop reasons) capped, lists bounded; notes[] says what
 * was left out.
 */
#ifndef AFU9_DEPTOOLS_H
#define AFU9_DEPTOOLS_H

#include <stddef.h>
#include <ev.h>
#include <jansson.h>

#include "aws/awsclient.h"
#include "mcp_server.h"

/* Bounds */
#define DEP_TEXT_CAP		1024u	/* an event message, a stop reason */
#define DEP_EVENTS_DEFAULT	10
#define DEP_EVENTS_MAX		100	/* ECS keeps at most 100 */
#define DEP_STOPPED_DEFAULT	5
#define DEP_STOPPED_MAX		20
#define DEP_STOPPED_LIST	20	/* ListTasks maxResults */
#define DEP_LIST_DEFAULT	100
#define DEP_LIST_MAX		500
#define DEP_LIST_PAGES		20	/* ListServices pages followed */
#define DEP_DESCRIBE_BATCH	10	/* DescribeServices takes 10 at most */
#define DEP_POLL_MS_DEFAULT	15000L
#define DEP_POLL_MS_MIN		10L
#define DEP_POLL_MS_MAX		600000L
#define DEP_WAIT_DEFAULT_S	600
#define DEP_WAIT_MAX_S		3600
#define DEP_TD_REVISIONS	100	/* ListTaskDefinitions maxResults */

/* What every tool shares (the udata of each): owned by main. */
struct dep_ctx {
	struct ev_loop		*loop;
	struct aws_client	*aws;
	int			 allow_write;	/* --allow-write */
	long			 poll_ms;	/* waitForDeployment default */
};

struct dop;
/* A continuation: res is borrowed for the call (res->body too). */
typedef void (*dop_fn)(struct dop *, const struct aws_result *res);

struct dop {
	struct mcp_call	*call;
	struct dep_ctx	*ctx;
	const json_t	*args;		/* borrowed for the call's life */
	struct aws_call	*req;		/* in flight, or NULL */
	dop_fn		 next;		/* continuation for req */
	dop_fn		 then;		/* after dep_describe() */
	const char	*cluster;	/* borrowed from args */
	const char	*service;	/* borrowed from args */
	/* scratch, owned by the dop and freed with it */
	json_t		*svc;		/* the service as last described */
	json_t		*acc;
	json_t		*out;
	json_t		*notes;		/* array of strings */
	char		*s[2];
	long		 n;
	long		 max;
	long		 pages;
	size_t		 i;
	/* waitForDeployment */
	ev_timer	 poll;
	ev_timer	 deadline;
	double		 started;	/* ev_now() at the start */
	long		 poll_ms;
	int		 timers;	/* the timers were initialised */
	int		 timed_out;
};

/*
 * A new dop for `call`, with the cancel hook set and cluster/service taken
 * from args when present.  NULL (and the call failed) on ENOMEM.
 */
struct dop *dop_new(struct mcp_call *, const json_t *args, void *udata);
/*
 * Send ECS `operation` with `params` (stolen); continue in next.  On
 * failure to start, the call ends with an isError result and the dop is
 * gone.
 */
void	dop_send(struct dop *, const char *operation, json_t *params,
	    dop_fn next);
/* Success: structured (stolen) gets dop->notes as "notes" when any. */
void	dop_return(struct dop *, json_t *structured);
/* isError result; ends the dop. */
void	dop_error(struct dop *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* isError result carrying the AWS message, after an optional prefix. */
void	dop_aws_error(struct dop *, const struct aws_result *,
	    const char *prefix);
/* Append a note (printf-style, cut at 512 bytes). */
void	dop_note(struct dop *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/*
 * Refuse a write tool when writes are not enabled: 1 (and the call ended
 * with an isError saying how to enable them), else 0.
 */
int	dop_refuse_write(struct dop *);

/*
 * DescribeServices for dop->cluster / dop->service; on success the
 * service object is kept in dop->svc (replacing any earlier one) and
 * next(dop, res) runs.  An error, or a service ECS reports missing, ends
 * the call with an isError naming the cluster and service.
 */
void	dep_describe(struct dop *, dop_fn next);

/* ---- compact views ---- */

/* Borrowed string member, or NULL. */
const char *dep_str(const json_t *o, const char *key);
/* Integer member (a JSON integer or integral real), or dflt. */
long	dep_int(const json_t *o, const char *key, long dflt);
/* The name part of an ARN (after the last '/'), or s itself; borrowed. */
const char *dep_arn_name(const char *s);
/* An ECS time (epoch seconds, a number) as "YYYY-MM-DDTHH:MM:SSZ", or
   null; new reference. */
json_t	*dep_time(const json_t *v);
/* New JSON string of s cut at cap bytes (on a UTF-8 boundary, "..."
   appended), control bytes replaced; null when s is NULL. */
json_t	*dep_text(const char *s, size_t cap);
/* A compact deployment (id, status, rolloutState, rolloutStateReason,
   taskDefinition, counts, times); new reference. */
json_t	*dep_deployment(const json_t *d);
/* The PRIMARY deployment of a service (borrowed), or NULL. */
const json_t *dep_primary(const json_t *svc);
/* A compact service summary for listings; new reference. */
json_t	*dep_service_brief(const json_t *svc);
/* A compact stopped task; new reference. */
json_t	*dep_stopped_task(const json_t *task);

enum dep_verdict {
	DEP_STABLE,
	DEP_ROLLING_OUT,
	DEP_FAILING,
	DEP_INACTIVE
};
/*
 * The verdict on a service (as DescribeServices gives it) and the
 * compact stopped tasks seen (may be NULL), with a one-line reason
 * written into why (whylen bytes).
 */
enum dep_verdict dep_verdict(const json_t *svc, const json_t *stopped,
	    char *why, size_t whylen);
/* "stable", "rolling_out", "failing", "inactive"; static. */
const char *dep_verdict_name(enum dep_verdict);

/*
 * Is deployment d (of service svc) done, and how?  Returns 1 and sets
 * *state to "COMPLETED" or "FAILED" when it is, 0 while it goes on.
 * Without a rolloutState (older services, some emulators) a PRIMARY
 * deployment that is the service's only one with running == desired and
 * nothing pending counts as COMPLETED.
 */
int	dep_deployment_done(const json_t *svc, const json_t *d,
	    const char **state);

/* Tool handlers, by file. */
void	tool_get_service_status(struct mcp_call *, const json_t *, void *);
void	tool_list_services(struct mcp_call *, const json_t *, void *);
void	tool_update_service(struct mcp_call *, const json_t *, void *);
void	tool_rollback_service(struct mcp_call *, const json_t *, void *);
void	tool_wait_for_deployment(struct mcp_call *, const json_t *, void *);

/* The tool table (static) and its size. */
const struct mcp_tool *deptools_table(size_t *n);

#endif
