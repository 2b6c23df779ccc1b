/*
 * tools: the afu9-observability MCP tools over awsclient (CloudWatch Logs,
 * Logs Insights, CloudWatch metrics and alarms, ECS service counts).
 *
 * Each tool call is one struct obs_op: a small state machine that has at
 * most one AWS call (or one poll timer) outstanding and continues in its
 * callback (op->next).  It ends exactly once, through obs_return() or
 * obs_error(), which complete the MCP call and free the op; a cancelled
 * call frees it through the cancel hook, which also cancels the request in
 * flight (and, for queryLogs, stops the query on the AWS side).
 *
 * Every tool is read-only.  Results are compact: only the fields a model
 * needs, times as ISO 8601 UTC, text from AWS cleaned (invalid UTF-8
 * replaced, invisible characters removed) and capped, with notes[] saying
 * what was cut.
 */
#ifndef AFU9_OBSTOOLS_H
#define AFU9_OBSTOOLS_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <jansson.h>

#include "aws/awsclient.h"
#include "mcp_server.h"

/* Bounds */
#define OBS_MESSAGE_CAP		4096u	/* one log message / Insights value */
#define OBS_REASON_CAP		1024u	/* an alarm's state reason */
#define OBS_RESULT_BYTES	(512u * 1024)	/* text kept in one result */
#define OBS_SEARCH_DEFAULT	100
#define OBS_SEARCH_MAX		1000
#define OBS_SEARCH_MAX_PAGES	50	/* FilterLogEvents pages per call */
#define OBS_QUERY_DEFAULT	100
#define OBS_QUERY_MAX		1000
#define OBS_QUERY_MAX_GROUPS	50
#define OBS_ALARMS_MAX		1000	/* alarms kept in one answer */
#define OBS_ALARM_MAX_PAGES	20	/* DescribeAlarms pages per call */
#define OBS_DEFAULT_WINDOW_MS	(3600LL * 1000)	/* last hour */

/* Health verdict thresholds (percent; see getServiceHealth). */
#define OBS_UTIL_DEGRADED_MAX	90.0	/* Maximum over the window */
#define OBS_UTIL_DEGRADED_AVG	80.0	/* Average over the window */
#define OBS_UTIL_UNHEALTHY_AVG	95.0

/* Knobs, from the environment in main.c.  Zero means the default. */
struct obs_config {
	long	poll_ms;	/* queryLogs poll interval; 1000 */
	long	query_wait_ms;	/* longest queryLogs wait; 300000 */
};

/* What every handler gets as udata.  Borrowed from main. */
struct obs {
	struct ev_loop		*loop;
	struct aws_client	*aws;
	struct obs_config	 cfg;
	char			 config_err[1100];	/* "" when the AWS
					   configuration loaded; else every
					   call answers isError with it */
};

struct obs_op;
/* A continuation: res is the AWS answer (borrowed for the call). */
typedef void (*obs_step)(struct obs_op *, const struct aws_result *res);

struct obs_op {
	struct mcp_call		*call;
	struct obs		*obs;
	const json_t		*args;	/* borrowed for the call's life */
	struct aws_call		*req;	/* in flight, or NULL */
	obs_step		 next;	/* continuation for req or timer */
	int			 errors_too;	/* next wants failed answers */
	ev_timer		 timer;	/* a poll wait */
	/* scratch, owned by the op and freed with it */
	json_t			*acc;
	json_t			*out;
	json_t			*notes;	/* array of strings */
	char			*query_id;	/* queryLogs, once started */
	int			 query_done;	/* no StopQuery needed */
	int64_t			 start_ms, end_ms;
	long			 n, max, pages, polls;
	size_t			 bytes;		/* text kept so far */
	ev_tstamp		 deadline;
};

/* A new op for call, with the cancel hook set.  NULL (and the call
   failed) on ENOMEM. */
struct obs_op *obs_op_new(struct mcp_call *, const json_t *args, void *udata);
/*
 * Call `operation` of svc with params (stolen); continue in next.  A
 * failed answer ends the op with an isError result carrying awsclient's
 * message, unless errors_too is set on the op (cleared by each send).
 * On failure to start, the op ends with an isError result.
 */
void	obs_send(struct obs_op *, enum aws_service svc, const char *operation,
	    json_t *params, obs_step next);
/* Run next (with a NULL result) after ms milliseconds. */
void	obs_after(struct obs_op *, long ms, obs_step next);
/* Success: structured (stolen) gets op->notes as "notes" when any. */
void	obs_return(struct obs_op *, json_t *structured);
/* isError result; ends the op. */
void	obs_error(struct obs_op *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Append a note (printf-style), once per distinct text. */
void	obs_note(struct obs_op *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Wall clock, epoch milliseconds. */
int64_t	obs_now_ms(void);
/*
 * Read the optional times startTime/endTime of args into op->start_ms and
 * op->end_ms (default: the last hour).  0, or -1 with the op ended
 * (isError naming the argument).
 */
int	obs_window(struct obs_op *, const char *start_key, const char *end_key);
/* ISO 8601 string of ms (new reference). */
json_t	*obs_iso(int64_t ms);
/*
 * Text from AWS for a model: cleaned and capped at cap bytes; a cut adds
 * a note naming `what`.  New reference; null when s is NULL.
 */
json_t	*obs_text(struct obs_op *, const char *s, size_t cap, const char *what);
/* Borrowed string member, or NULL. */
const char *obs_str(const json_t *o, const char *key);
/* Integer member, or dflt. */
long long obs_int(const json_t *o, const char *key, long long dflt);

/*
 * StopQuery for query_id, not tied to any call: its answer is only
 * logged.  Used when a queryLogs call is cancelled.
 */
void	obs_stop_query_detached(struct obs *, const char *query_id);

/* Tool handlers. */
void	tool_search_logs(struct mcp_call *, const json_t *, void *);
void	tool_query_logs(struct mcp_call *, const json_t *, void *);
void	tool_get_service_health(struct mcp_call *, const json_t *, void *);
void	tool_get_alarm_status(struct mcp_call *, const json_t *, void *);

/* The tool table (static) and its size. */
const struct mcp_tool *obstools_table(size_t *n);

#endif
