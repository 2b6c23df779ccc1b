/*
 * mcp_server: the MCP server runtime every afu9 server links: one
 * mcp_session (mcp_session.h: the methods, tools and calls) served on a
 * pair of fds, stdin/stdout for real servers, from one libev loop
 * (mcp_stdio.c).
 *
 * The server detects the peer's framing (Content-Length or NDJSON) and
 * answers in kind.  Output queued toward a slow reader is bounded by
 * max_out; above half of it the server stops reading, so a peer that
 * does not read cannot make it buffer without bound.
 *
 * Lifecycle: EOF on input or SIGTERM/SIGINT stops reading; calls in flight
 * get up to `shutdown_grace` seconds to finish, then are cancelled; queued
 * output is flushed; mcp_server_run() returns 0.  EPIPE on output: return 1
 * at once (nobody is listening).
 *
 * The tool registry, logging and the per-call functions are the
 * session's; mcp_server_add_tool() and the others below reach the
 * server's session.
 */
#ifndef AFU9_MCP_SERVER_H
#define AFU9_MCP_SERVER_H

#include <stddef.h>
#include <ev.h>
#include <jansson.h>

#include "frame.h"
#include "log.h"
#include "mcp_session.h"

struct mcp_server;

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

/* New server on the given fds (made non-blocking; not closed by the
   server).  NULL on ENOMEM. */
struct mcp_server *mcp_server_new(struct ev_loop *, const struct mcp_server_opts *,
	    int in_fd, int out_fd);
/*
 * Run the loop until the session ends (see Lifecycle).  Installs SIGTERM/
 * SIGINT watchers and ignores SIGPIPE.  Returns the process exit status.
 */
int	mcp_server_run(struct mcp_server *);
/* Begin a graceful stop, as on SIGTERM. */
void	mcp_server_shutdown(struct mcp_server *);
/* Cancels the calls still running (mcp_session_free()).  Not from a
   callback. */
void	mcp_server_free(struct mcp_server *);
struct ev_loop *mcp_server_loop(struct mcp_server *);
/* The server's session (borrowed: the server's). */
struct mcp_session *mcp_server_session(struct mcp_server *);
/* The server whose session the call belongs to. */
struct mcp_server *mcp_call_server(struct mcp_call *);

/* The session's functions (mcp_session.h), on the server's session. */
int	mcp_server_add_tool(struct mcp_server *, const struct mcp_tool *,
	    void *udata, char *err, size_t errlen);
int	mcp_server_add_tool_json(struct mcp_server *, const json_t *listing,
	    mcp_tool_fn fn, void *udata, char *err, size_t errlen);
int	mcp_server_add_tool_raw(struct mcp_server *, const json_t *listing,
	    mcp_tool_fn fn, void *udata, char *err, size_t errlen);
int	mcp_server_remove_tool(struct mcp_server *, const char *name);
int	mcp_server_log(struct mcp_server *, const char *level,
	    const char *logger, json_t *data);
void	mcp_server_tools_changed(struct mcp_server *);

#endif
