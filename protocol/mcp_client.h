/*
 * mcp_client: an MCP client session over a pair of fds (the orchestrator
 * holds one per child server; tests and the bench use it too).
 *
 * The session frames with the given mode (Content-Length toward afu9
 * servers, NDJSON toward others), allocates integer ids, keeps a table of
 * pending requests, times each one out (sending notifications/cancelled to
 * the server and failing the caller), answers the server's "ping", and
 * dispatches notifications: progress to the request that owns the token,
 * everything else (notifications/message, notifications/tools/list_changed,
 * ...) to the session callback.  When the peer goes away (EOF, read or
 * write error, FRAME_FATAL) every pending request fails at once with
 * RPC_CONNECTION_CLOSED and the closed callback runs once.
 *
 * Callback rules: reply callbacks run exactly once per request, from the
 * loop, never from inside mcp_client_request().  A callback may issue new
 * requests or call mcp_client_close(); freeing happens at a safe point.
 */
#ifndef AFU9_MCP_CLIENT_H
#define AFU9_MCP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <jansson.h>

#include "frame.h"

struct mcp_client;

/* Local failure codes (JSON-RPC reserves -32000..-32099 for servers). */
#define MCP_ERR_CANCELLED	(-32800)	/* cancelled by this side */

struct mcp_error {
	int		 code;		/* JSON-RPC code; RPC_REQUEST_TIMEOUT,
					   RPC_CONNECTION_CLOSED for local failures */
	const char	*message;
	const json_t	*data;		/* borrowed; may be NULL */
};

/* result borrowed (NULL when err is set). */
typedef void (*mcp_reply_fn)(struct mcp_client *, int64_t id,
	    const json_t *result, const struct mcp_error *err, void *arg);
/*
 * The same with the result as JSON text: `result` (len bytes, not
 * NUL-terminated, borrowed for the callback) is the exact text the server
 * sent when the response was plain, else the compact encoding of the
 * parsed value; valid JSON either way, possibly with whitespace (raw
 * newlines included).  NULL when err is set.
 */
typedef void (*mcp_raw_reply_fn)(struct mcp_client *, int64_t id,
	    const char *result, size_t len, const struct mcp_error *err,
	    void *arg);
/* params of notifications/progress for this request, borrowed. */
typedef void (*mcp_progress_fn)(struct mcp_client *, int64_t id,
	    const json_t *params, void *arg);

struct mcp_client_cb {
	/* A notification other than progress; params borrowed, may be NULL. */
	void	(*notify)(struct mcp_client *, const char *method,
		    const json_t *params, void *arg);
	/* The session ended; reason is human text. Called once. */
	void	(*closed)(struct mcp_client *, const char *reason, void *arg);
};

struct mcp_client_opts {
	enum frame_mode	 mode;		/* FRAME_CL or FRAME_NDJSON */
	size_t		 max_msg;	/* 0: frame_max_msg_from_env() */
	size_t		 max_out;	/* 0: FRAME_DEFAULT_MAX_OUT */
	const char	*name;		/* clientInfo.name */
	const char	*version;	/* clientInfo.version */
	const char	*peer;		/* the server's name, for the wire
					   trace (AFU9_TRACE=mcp); NULL:
					   "server" */
};

/* rfd: read from the server (its stdout); wfd: write to it (its stdin).
   The session owns both fds and closes them. */
struct mcp_client *mcp_client_new(struct ev_loop *, int rfd, int wfd,
	    const struct mcp_client_opts *, const struct mcp_client_cb *,
	    void *arg);
/*
 * initialize, then notifications/initialized.  `done` gets the initialize
 * result (serverInfo, capabilities, protocolVersion) or the error.
 * Protocol version offered: MCP_LATEST_VERSION; an answer with a revision
 * the client does not know fails the session.
 */
int	mcp_client_initialize(struct mcp_client *, double timeout_s,
	    mcp_reply_fn done, void *arg);
/* initialize result, borrowed; NULL before it arrived. */
const json_t *mcp_client_server_info(const struct mcp_client *);
/*
 * Send a request.  params stolen (may be NULL).  timeout_s <= 0: none.
 * With `progress` non-NULL a progressToken (the id) is added to
 * params._meta.  Returns the id (> 0), or -1 if the session is closed or
 * the output bound is hit (nothing is sent, no callback runs).
 */
int64_t	mcp_client_request(struct mcp_client *, const char *method,
	    json_t *params, double timeout_s, mcp_reply_fn, mcp_progress_fn,
	    void *arg);
/*
 * As mcp_client_request(), with params given as the text of a JSON object
 * (plen bytes, borrowed; NULL: none) and the reply as text: neither is
 * parsed nor built as a tree on the way.  params must be valid JSON (it
 * is only checked to be an object; whitespace is dropped on the wire).
 * With `progress`, the progressToken is spliced in as "_meta"; params that
 * already have a "_meta" get it merged (through a parse).  Returns the id,
 * or -1 as mcp_client_request() does.
 */
int64_t	mcp_client_request_raw(struct mcp_client *, const char *method,
	    const char *params, size_t plen, double timeout_s,
	    mcp_raw_reply_fn, mcp_progress_fn, void *arg);
/* Send a notification; params stolen.  0 or -1. */
int	mcp_client_notify(struct mcp_client *, const char *method, json_t *params);
/*
 * Cancel a pending request: notifications/cancelled with `reason` to the
 * server; the reply callback runs (from the loop) with MCP_ERR_CANCELLED
 * and any late response from the server is dropped.  0, or -1 if no such
 * pending request.
 */
int	mcp_client_cancel(struct mcp_client *, int64_t id, const char *reason);
size_t	mcp_client_pending(const struct mcp_client *);
int	mcp_client_is_open(const struct mcp_client *);
/* Close the session: pending requests fail with RPC_CONNECTION_CLOSED,
   `closed` runs, fds are closed.  Safe from callbacks. */
void	mcp_client_close(struct mcp_client *, const char *reason);
/* Free a closed (or open: it is closed first) session.  Safe from callbacks
   (deferred). */
void	mcp_client_free(struct mcp_client *);

#endif
