/*
 * gateway: `afu9 serve --stdio`.  The orchestrator as an MCP server on a
 * pair of fds (its stdin/stdout), built on the mcp_server runtime: every
 * READY child's tools are listed under "server.tool" names with their
 * schemas, annotations and outputSchema as the child gave them; calls,
 * progress and cancellation are forwarded through the router; a change of
 * any child's tool list sends notifications/tools/list_changed; children's
 * notifications/message are forwarded with logger "server" (or
 * "server/logger").
 *
 * Tool failures the model can act on (the server is down or died, the
 * call timed out) are isError results naming the server; an unknown tool
 * is JSON-RPC -32602; a JSON-RPC error from a child is passed on as is.
 */
#ifndef AFU9_GATEWAY_H
#define AFU9_GATEWAY_H

#include <ev.h>
#include <jansson.h>

#include "mcp/router.h"

struct gateway;
struct gateway_tools;
struct mcp_session;

/*
 * The router's tools registered on one MCP session: the stdio gateway's,
 * and each remote session's (api/mcphttp.h).  Both ends are borrowed and
 * outlive it; free the session first (it cancels the calls, whose hooks
 * use this).  Calls are audited with caller 'gateway'.  bare (copied;
 * NULL: none) names a server whose tools are offered under their own
 * names ("echo", not "conf.echo": AFU9_GATEWAY_BARE_SERVER, for a client
 * that expects one server's names); a bare name another tool already
 * has is not offered (logged).  NULL on ENOMEM.
 */
struct gateway_tools *gateway_tools_new(struct router *r,
		    struct mcp_session *ses, const char *bare);
/* Bring the session's tool set in line with the router; notify the
   client when it changed. */
void		 gateway_tools_sync(struct gateway_tools *);
void		 gateway_tools_free(struct gateway_tools *);
/* A child's notifications/message params (borrowed) to the session,
   with logger "server" or "server/logger", at the session's level. */
void		 gateway_tools_message(struct gateway_tools *,
		    const char *server, const json_t *params);
/* The server behind a tool name as the session lists it, into buf[len];
   NULL when it names none. */
const char	*gateway_tools_server(const struct gateway_tools *,
		    const char *tool, char *buf, size_t len);

/*
 * A gateway on in_fd/out_fd for router r (borrowed; outlives the
 * gateway), with the router's current tools registered (bare: as for
 * gateway_tools_new()).  grace_ms: how
 * long calls in flight may run on after EOF or SIGTERM.  NULL with err.
 */
struct gateway	*gateway_new(struct ev_loop *, struct router *r, int in_fd,
		    int out_fd, unsigned grace_ms, const char *bare, char *err,
		    size_t errlen);
/* Bring the tool set in line with the router; notify the client when it
   changed. */
void		 gateway_sync(struct gateway *);
/* Forward a child's notifications/message params (borrowed). */
void		 gateway_message(struct gateway *, const char *server,
		    const json_t *params);
/* Serve until the client leaves or SIGTERM/SIGINT: mcp_server_run(). */
int		 gateway_run(struct gateway *);
void		 gateway_free(struct gateway *);

#endif
