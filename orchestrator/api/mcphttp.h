/*
 * api/mcphttp: remote MCP, the Streamable HTTP transport (revision
 * 2025-11-25) at /mcp, serving the gateway's tools (mcp/gateway.h: the
 * same server.tool names, calls audited with caller 'gateway') to hosts
 * that cannot spawn `afu9 serve --stdio`.  doc/mcp-hosts.md ("Remote")
 * and doc/api.md ("/mcp") describe it for users.
 *
 *   POST   /mcp   one JSON-RPC message.  A request is answered as JSON
 *                 (initialize, ping, tools/list, logging/setLevel) or, for
 *                 tools/call, as an SSE stream: a priming event (an id, no
 *                 data, retry), the call's progress notifications, its
 *                 response, the end.  A notification or response: 202.
 *   GET    /mcp   the session's server-to-client SSE stream (tools/
 *                 list_changed), one per session: a new one, on any
 *                 task, ends the one before, so no message goes out
 *                 twice; with Last-Event-ID, the rest of the stream that
 *                 event was on.
 *   DELETE /mcp   ends the session (204).
 *   GET /.well-known/oauth-protected-resource[/mcp]   RFC 9728 metadata.
 *
 * Sessions are in PostgreSQL (migrations/006_mcp_sessions.sql): the
 * Mcp-Session-Id (32 random bytes, base64url) is issued with initialize's
 * answer and stored only as its digest, with the credential that opened
 * it (another credential gets 404), the negotiated revision and the
 * log level.  Every message sent on an SSE stream is written to the
 * stream's event log before it goes out, with the event id "<stream>-
 * <event>".  So any task serves any session: a task that is asked about
 * a session it has not seen builds its state from the row, and a GET with
 * Last-Event-ID on any task replays what followed that event on its stream
 * and follows the rest as the task running the call writes it (LISTEN
 * afu9_mcp: the writer NOTIFYs each event).  A task is known by the
 * backend pid of its connection: when the task running a call dies
 * before answering, the task that follows the stream writes the answer
 * instead, a JSON-RPC error saying the call's outcome is unknown, so no
 * client waits for ever.
 *
 * Cancellation: a notifications/cancelled may reach a task other than
 * the one running the call it names; that task NOTIFYs afu9_mcp
 * "c <session> <request id>" and the task running it cancels it there.
 * A cancelled call gets no response (MCP): its SSE answer ends and its
 * stream is marked done, on every task following it.
 *
 * Refusals, in the order checked (bodies are JSON-RPC errors, id null):
 *   Host not in the allow-list, or an Origin sent and not in it   403
 *   the token (api/auth.h): none, malformed, unknown, revoked or
 *     expired 401 (WWW-Authenticate with RFC 9728 resource_metadata);
 *     a peer that failed too often 429; for tools/call a token below
 *     run 403 (error="insufficient_scope")
 *   POST: Content-Type not application/json 415; Accept without
 *     both application/json and text/event-stream 406 (GET: without
 *     text/event-stream); a body over max_message 413; not one
 *     JSON-RPC message 400
 *   MCP-Protocol-Version not a revision afu9 speaks                 400
 *   no Mcp-Session-Id (but on initialize), or one on initialize     400
 *   a session unknown, ended, expired or another credential's       404
 *   max_sessions open (initialize) 503; session_requests requests in
 *     flight for the session 429; max_streams SSE responses open on
 *     this task 503; the database down 503 (Retry-After: 1)
 *
 * Scope: tools/call needs "run", everything else "read".  A session
 * belongs to the token (by name) that opened it.
 *
 * Idle sessions (no request and no open stream for idle_s) expire; the
 * rows and event logs of expired and deleted sessions are removed.
 * A graceful stop ends every SSE response without ending its stream
 * (clients reconnect, to another task, with Last-Event-ID).
 */
#ifndef AFU9_API_MCPHTTP_H
#define AFU9_API_MCPHTTP_H

#include <stddef.h>
#include <ev.h>

#include <jansson.h>

#include "http/http.h"
#include "mcp/router.h"
#include "subsys.h"

#define MCPHTTP_MAX_SESSIONS	1000	/* open at once, all tasks */
#define MCPHTTP_SESSION_REQS	16	/* SSE requests in flight/session */
#define MCPHTTP_MAX_STREAMS	512	/* SSE responses open on a task */
#define MCPHTTP_MAX_MESSAGE	(4u << 20) /* bytes, either way */
#define MCPHTTP_IDLE_S		1800
#define MCPHTTP_HEARTBEAT_MS	15000	/* SSE comment; orphan check */
#define MCPHTTP_RETRY_MS	1000	/* the SSE retry sent to clients */
#define MCPHTTP_DB_TIMEOUT_MS	5000

struct mcphttp;
struct auth;

struct mcphttp_opts {
	struct auth	*auth;		/* the token check (required;
					   borrowed, outlives the result) */
	const char	*conninfo;	/* DATABASE_URL; NULL: 503 */
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	const char	*allowed_hosts;	/* comma list; NULL: loopback */
	const char	*allowed_origins; /* comma list; NULL: loopback */
	const char	*resource;	/* this resource's URL; NULL: from
					   Host ("http://HOST/mcp") */
	const char	*auth_servers;	/* comma list, for the metadata */
	const char	*bare;		/* gateway_tools_new()'s; NULL */
	unsigned	 max_sessions;	/* 0: the defaults above */
	unsigned	 session_requests;
	unsigned	 max_streams;
	size_t		 max_message;
	unsigned	 idle_s;
	unsigned	 heartbeat_ms;
	unsigned	 op_timeout_ms;
};

/*
 * Install the routes on hs for router r (both borrowed; free the result
 * after http_server_free(hs) and before the router).  NULL with err.
 */
struct mcphttp	*mcphttp_new(struct ev_loop *, struct http_server *hs,
		    struct router *r, const struct mcphttp_opts *,
		    char *err, size_t errlen);
/* The router's tool list changed: every session here syncs its tools
   and, when they changed, tells its client. */
void		 mcphttp_sync(struct mcphttp *);
/* A child's notifications/message (params borrowed): to the one
   session with calls in flight on that server, if there is one. */
void		 mcphttp_message(struct mcphttp *, const char *server,
		    const json_t *params);
/* Cancel the calls, end the streams, close the connection, free.  NULL
   is fine. */
void		 mcphttp_free(struct mcphttp *);
/* As a subsystem ("mcp"): stop ends the SSE responses once the answers
   of finished calls are written; ready always; its status and
   metrics. */
void		 mcphttp_subsys(struct mcphttp *, struct subsys *out);

#endif /* AFU9_API_MCPHTTP_H */
