/*
 * mcp_session: one MCP server session, with no transport.
 *
 * A session is given JSON-RPC messages as text, one at a time
 * (mcp_session_input()), and hands every message it sends, responses and
 * notifications alike, to the transport's send callback.  It serves the
 * lifecycle and utility methods itself and hands tools/call to
 * asynchronous tool handlers; the transport (the stdio server of
 * mcp_server.h, later an HTTP one) owns fds, framing, back-pressure,
 * signals and the shutdown grace, and learns from the session only how
 * many calls are active.
 *
 * Protocol revisions: 2025-11-25 (latest), 2025-06-18, 2025-03-26,
 * 2024-11-05.  A client asking for another revision is answered with the
 * latest.  Requests that arrive before "initialize" are served (as the
 * reference TypeScript SDK does), so piping JSON-RPC by hand works.
 *
 * Methods: initialize, notifications/initialized, ping, tools/list (cursor
 * pagination), tools/call, logging/setLevel, notifications/cancelled.
 * Anything else: -32601.  Unknown notifications are ignored, responses
 * (a session sends no requests) dropped.
 *
 * Ownership: the session owns its tools' copies and its calls; a call is
 * lent to its tool handler until the handler completes it.  Strings in
 * the options and static tool tables are borrowed and must outlive the
 * session.  Functions that take json_t say whether they steal or borrow.
 */
#ifndef AFU9_MCP_SESSION_H
#define AFU9_MCP_SESSION_H

#include <stddef.h>
#include <jansson.h>

#define MCP_LATEST_VERSION "2025-11-25"

struct mcp_session;
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
 * or the transport cancelled every call (mcp_session_cancel_all(): its
 * shutdown ran out of grace, or nobody listens any more).  The handler
 * must abort its work and release what it holds; it must NOT complete
 * the call and must not touch `call` after returning: the session frees
 * it and sends nothing.
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

struct mcp_session_opts {
	const char	*name;		/* serverInfo.name; NULL: "afu9" */
	const char	*title;		/* serverInfo.title; optional */
	const char	*version;	/* serverInfo.version; NULL: afu9's */
	const char	*instructions;	/* optional */
	unsigned	 page_size;	/* tools/list page; 0: 100 */
	/* Tags tools/list cursors.  0: random.  A transport that serves one
	   session from several processes (HTTP, mcphttp.h) gives each the
	   same value, so a cursor one gave another takes. */
	unsigned	 cursor_salt;
};

/*
 * Where a session's messages go.
 *
 * send() is given one message, compact JSON with no raw newline, borrowed
 * for the call; `response` is 1 for the answer to a request, 0 for a
 * notification.  It returns 0 when it took the message, or -1 with errno
 *   EMSGSIZE  the message is larger than the transport will ever take;
 *   ENOBUFS   not now: output is backed up;
 *   EPIPE     nobody listens: nothing more will be taken.
 * A response refused with EMSGSIZE or ENOBUFS is replaced by a -32603
 * error ("internal error: result too large" / "internal error: output
 * queue full"), so the peer is never left waiting; a refused notification
 * is dropped (notifications are advisory).
 *
 * idle() (may be NULL) runs each time a call ends or is cancelled and no
 * call is active any more: the moment a stopping transport waits for.
 *
 * Both may run inside any session function and any mcp_call_*()
 * completion; neither may free the session.
 */
struct mcp_session_io {
	int	(*send)(void *arg, const char *msg, size_t len, int response);
	void	(*idle)(void *arg);
	void	*arg;
};

/* New session; opts is copied (its strings borrowed), io copied.  NULL on
   ENOMEM. */
struct mcp_session *mcp_session_new(const struct mcp_session_opts *,
	    const struct mcp_session_io *);
/*
 * Cancel every call (their hooks run; calls without one are dropped),
 * free the tools and the session.  Sends nothing and runs no io
 * callback.  Not from a callback of this session.
 */
void	mcp_session_free(struct mcp_session *);
/* The io arg the session was made with. */
void	*mcp_session_arg(const struct mcp_session *);

/*
 * One message as received (msg borrowed for the call): parsed, checked
 * and served.  Every answer goes through send(), now or, for tools/call,
 * whenever the handler completes; a message that cannot be parsed is
 * answered with the JSON-RPC error rpc_parse() gives it, unless it was a
 * notification or a response.
 */
void	mcp_session_input(struct mcp_session *, const char *msg, size_t len);
/*
 * Send an error response with id null: for input the transport could not
 * make into a message (framing).  message is borrowed.
 */
void	mcp_session_error(struct mcp_session *, int code, const char *message);
/*
 * The session state a transport may keep elsewhere (mcphttp.h keeps it
 * in the database, to serve one session from several processes): the
 * revision initialize negotiated (MCP_LATEST_VERSION before it; static
 * text), and the level logging/setLevel set ("info" until then; static
 * text).  mcp_session_set_log_level() restores one: 0, or -1 when level
 * is none of the names mcp_session_log() lists.
 */
const char *mcp_session_version(const struct mcp_session *);
const char *mcp_session_log_level(const struct mcp_session *);
int	mcp_session_set_log_level(struct mcp_session *, const char *level);
/* Calls begun and neither completed nor cancelled. */
size_t	mcp_session_active(const struct mcp_session *);
/*
 * Cancel every active call: hooks run and their calls are freed; a call
 * without a hook is only marked, its answer suppressed when its handler
 * completes it.  No call is active afterwards (idle() ran if one was).
 */
void	mcp_session_cancel_all(struct mcp_session *);

/*
 * Register a tool.  `tool` and its strings are borrowed and must outlive
 * the session (static tables).  Schemas are parsed and checked with
 * jschema_check(); -1 with err filled if invalid or the name is taken.
 */
int	mcp_session_add_tool(struct mcp_session *, const struct mcp_tool *,
	    void *udata, char *err, size_t errlen);
/*
 * Register a tool described by its tools/list entry (a gateway forwarding
 * another server's tools): `listing` is borrowed and deep-copied and is
 * listed as given.  Its "name" (1-128 characters of [A-Za-z0-9_./-])
 * names the tool; "inputSchema" must be an object.  Arguments are passed
 * to fn unvalidated and results are not checked against an outputSchema:
 * the server behind does both.  Allowed while the session runs.  0, or -1
 * with err filled.
 */
int	mcp_session_add_tool_json(struct mcp_session *, const json_t *listing,
	    mcp_tool_fn fn, void *udata, char *err, size_t errlen);
/*
 * As mcp_session_add_tool_json(), for a handler that forwards the
 * arguments as text: a tools/call of it is answered without building the
 * request's params tree when the text allows.  fn then gets args NULL and
 * mcp_call_arguments_raw() returns the "arguments" object's text; when
 * that returns NULL, args is the tree as for a JSON tool ({} when the
 * arguments were absent or null).  Requests are refused exactly as for a
 * JSON tool.
 */
int	mcp_session_add_tool_raw(struct mcp_session *, const json_t *listing,
	    mcp_tool_fn fn, void *udata, char *err, size_t errlen);
/*
 * Unregister a tool (either kind); calls in flight on it go on.  0, or -1
 * when there is no such tool.  Follow a batch of changes with
 * mcp_session_tools_changed().
 */
int	mcp_session_remove_tool(struct mcp_session *, const char *name);
/*
 * notifications/message to the client if `level` is at or above the level
 * the client set with logging/setLevel (default "info").  `data` is stolen
 * (any JSON; NULL allowed) and redacted.  Levels are the syslog names MCP
 * uses: debug info notice warning error critical alert emergency.
 * Returns 0, -1 on bad level.
 */
int	mcp_session_log(struct mcp_session *, const char *level,
	    const char *logger, json_t *data);
/* Notify the client that the tool list changed. */
void	mcp_session_tools_changed(struct mcp_session *);

/* --- per call --- */
struct mcp_session *mcp_call_session(const struct mcp_call *);
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
/*
 * Protocol fault: a JSON-RPC error response.  message (borrowed) is made
 * valid UTF-8 and cut to 1024 bytes, "..." marking a cut.
 */
void	mcp_call_fail(struct mcp_call *, int code, const char *message);

#endif /* AFU9_MCP_SESSION_H */
