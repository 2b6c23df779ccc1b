/*
 * mcp_server: the MCP server runtime every afu9 server links.
 *
 * One server speaks on one pair of fds (stdin/stdout for real servers)
 * from one libev loop.  It detects the peer's framing (Content-Length or
 * NDJSON) and answers in kind, handles the lifecycle and utility methods
 * itself, and hands tools/call to asynchronous tool handlers.
 *
 * Protocol revisions: 2025-11-25 (latest), 2025-06-18, 2025-03-26,
 * 2024-11-05.  A client asking for another revision is answered with the
 * latest.  Requests that arrive before "initialize" are served (as the
 * reference TypeScript SDK does), so piping JSON-RPC by hand works.
 *
 * Methods: initialize, notifications/initialized, ping, tools/list (cursor
 * pagination), tools/call, logging/setLevel, notifications/cancelled.
 * Anything else: -32601.  Unknown notifications are ignored.
 *
 * Lifecycle: EOF on input or SIGTERM/SIGINT stops reading; calls in flight
 * get up to `shutdown_grace` seconds to finish, then are cancelled; queued
 * output is flushed; mcp_server_run() returns 0.  EPIPE on output: return 1
 * at once (nobody is listening).
 */
#ifndef AFU9_MCP_SERVER_H
#define AFU9_MCP_SERVER_H

#include <stddef.h>
#include <ev.h>
#include <jansson.h>

#include "frame.h"
#include "log.h"

#define MCP_LATEST_VERSION "2025-11-25"

struct mcp_server;
struct mcp_call;

/*
 * A tool handler.  `args` is borrowed for the life of the call (already
 * validated against input_schema).  The handler must complete the call
 * exactly once with one of mcp_call_return*(), mcp_call_error() or
 * mcp_call_fail(): now, or later from the loop.  After completion `call`
 * is gone.
 */
typedef void (*mcp_tool_fn)(struct mcp_call *call, const json_t *args,
	    void *udata);
/*
 * Cancellation hook: the peer cancelled the call (notifications/cancelled)
 * or shutdown ran out of grace.  The handler must abort its work and
 * release what it holds; it must NOT complete the call and must not touch
 * `call` after returning: the runtime frees it and sends nothing.
 */
typedef void (*mcp_cancel_fn)(struct mcp_call *call, void *arg);

struct mcp_tool {
	const char	*name;
	const char	*title;
	const char	*description;
	const char	*input_schema;	/* JSON text; required */
	const char	*output_schema;	/* JSON text; NULL if none */
	/* annotations (hints) */
	int		 read_only;
	int		 destructive;
	int		 idempotent;
	int		 open_world;
	mcp_tool_fn	 fn;
};

struct mcp_server_opts {
	const char	*name;		/* serverInfo.name, e.g. "afu9-github" */
	const char	*title;		/* serverInfo.title */
	const char	*version;	/* serverInfo.version */
	const char	*instructions;	/* optional */
	enum frame_mode	 mode;		/* FRAME_AUTO for real servers */
	size_t		 max_msg;	/* 0: frame_max_msg_from_env() */
	size_t		 max_out;	/* 0: FRAME_DEFAULT_MAX_OUT */
	unsigned	 page_size;	/* tools/list page; 0: 100 */
	double		 shutdown_grace;/* seconds; 0: 10 */
};

/* New server on the given fds (made non-blocking).  NULL on ENOMEM. */
struct mcp_server *mcp_server_new(struct ev_loop *, const struct mcp_server_opts *,
	    int in_fd, int out_fd);
/*
 * Register a tool.  `tool` and its strings are borrowed and must outlive
 * the server (static tables).  Schemas are parsed and checked with
 * jschema_check(); -1 with err filled if invalid or the name is taken.
 */
int	mcp_server_add_tool(struct mcp_server *, const struct mcp_tool *,
	    void *udata, char *err, size_t errlen);
/*
 * Register a tool described by its tools/list entry (a gateway forwarding
 * another server's tools): `listing` is borrowed and deep-copied and is
 * listed as given.  Its "name" (1-128 characters of [A-Za-z0-9_./-])
 * names the tool; "inputSchema" must be an object.  Arguments are passed
 * to fn unvalidated and results are not checked against an outputSchema:
 * the server behind does both.  Allowed while the server runs.  0, or -1
 * with err filled.
 */
int	mcp_server_add_tool_json(struct mcp_server *, const json_t *listing,
	    mcp_tool_fn fn, void *udata, char *err, size_t errlen);
/*
 * As mcp_server_add_tool_json(), for a handler that forwards the
 * arguments as text: a tools/call of it is answered without building the
 * request's params tree when the text allows.  fn then gets args NULL and
 * mcp_call_arguments_raw() returns the "arguments" object's text; when
 * that returns NULL, args is the tree as for a JSON tool ({} when the
 * arguments were absent or null).  Requests are refused exactly as for a
 * JSON tool.
 */
int	mcp_server_add_tool_raw(struct mcp_server *, const json_t *listing,
	    mcp_tool_fn fn, void *udata, char *err, size_t errlen);
/*
 * Unregister a tool (either kind); calls in flight on it go on.  0, or -1
 * when there is no such tool.  Follow a batch of changes with
 * mcp_server_tools_changed().
 */
int	mcp_server_remove_tool(struct mcp_server *, const char *name);
/*
 * Run the loop until the session ends (see Lifecycle).  Installs SIGTERM/
 * SIGINT watchers and ignores SIGPIPE.  Returns the process exit status.
 */
int	mcp_server_run(struct mcp_server *);
/* Begin a graceful stop, as on SIGTERM. */
void	mcp_server_shutdown(struct mcp_server *);
void	mcp_server_free(struct mcp_server *);

/*
 * notifications/message to the client if `level` is at or above the level
 * the client set with logging/setLevel (default "info").  `data` is stolen (any JSON; NULL allowed) and redacted.
 * Levels are the syslog names MCP uses: debug info notice warning error
 * critical alert emergency.  Returns 0, -1 on bad level.
 */
int	mcp_server_log(struct mcp_server *, const char *level,
	    const char *logger, json_t *data);
/* Notify the client that the tool list changed. */
void	mcp_server_tools_changed(struct mcp_server *);
struct ev_loop *mcp_server_loop(struct mcp_server *);

/* --- per call --- */
struct mcp_server *mcp_call_server(struct mcp_call *);
const char *mcp_call_tool(const struct mcp_call *);
/* The request's id as the client sent it: its JSON text (a number, or a
   quoted string); borrowed until the call completes. */
const char *mcp_call_id(const struct mcp_call *);
void	mcp_call_on_cancel(struct mcp_call *, mcp_cancel_fn, void *arg);
/*
 * The text of the request's "arguments" object exactly as the client sent
 * it (*len bytes, not NUL-terminated, valid JSON, may hold whitespace),
 * or NULL when it is not at hand (no arguments, or a message the parser
 * did not keep as text: use `args`).  Only while the handler runs, and
 * borrowed until it returns.
 */
const char *mcp_call_arguments_raw(const struct mcp_call *, size_t *len);
/* Non-zero if the request carried _meta.progressToken. */
int	mcp_call_has_progress(const struct mcp_call *);
/* notifications/progress; total < 0 means unknown; message may be NULL.
   Progress must increase; a non-increasing value is dropped.  No-op
   without a progress token. */
void	mcp_call_progress(struct mcp_call *, double progress, double total,
	    const char *message);
/*
 * Success.  `structured` (stolen, may be NULL) becomes structuredContent;
 * the text block is `text` when non-NULL, else the compact JSON of
 * `structured`.  Completes the call.
 */
void	mcp_call_return(struct mcp_call *, json_t *structured, const char *text);
/*
 * A complete result given as JSON text (len bytes, borrowed; a valid JSON
 * object, e.g. another server's tools/call result) is sent with the
 * call's id without being parsed; whitespace is dropped.  A tool with an
 * outputSchema has it parsed and checked as by mcp_call_return_content().
 * Completes the call.
 */
void	mcp_call_return_raw(struct mcp_call *, const char *result, size_t len);
/* General result: `content` array and `structured` stolen (may be NULL). */
void	mcp_call_return_content(struct mcp_call *, json_t *content,
	    json_t *structured, int is_error);
/* Tool error the model can act on: isError:true with this text. */
void	mcp_call_error(struct mcp_call *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Protocol fault: a JSON-RPC error response. */
void	mcp_call_fail(struct mcp_call *, int code, const char *message);

#endif
