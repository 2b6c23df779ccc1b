/*
 * ui: the read-only operator console, server-rendered HTML under /ui/
 * (doc/console.md has every page, the login, the headers and the live
 * updates).
 *
 *   GET  /ui/login, POST /ui/login, POST /ui/logout
 *   GET  /ui/                          overview
 *   GET  /ui/servers                   servers and their tools
 *   GET  /ui/executions                list (workflow, status,
 *                                      repository; keyset ?after=)
 *   GET  /ui/executions/{id}           one, with steps, runs, calls
 *   GET  /ui/executions/{id}/steps     its steps table (a fragment)
 *   GET  /ui/executions/{id}/events    Server-Sent Events as steps end
 *   GET  /ui/runs/{id}                 one agent run
 *   GET  /ui/audit                     tool calls (server, tool, caller,
 *                                      status, execution; keyset)
 *   GET  /ui/webhooks                  webhook deliveries
 *   GET  /ui/static/console.css, /ui/static/console.js
 *
 * serve installs it whenever there is a token check (api/auth.h: the
 * tokens of the database, or AFU9_API_TOKEN); without one every /ui/
 * path is the HTTP server's 404.  Any valid token of any scope logs in;
 * the session remembers the token's name and scope.  Every page but the
 * login and the static files needs a session (ui/uiauth.h), whose token
 * (one of the database's) is checked again at every page: without one,
 * or once its token is revoked or expired, a GET is redirected (303) to
 * /ui/login.  The console has no actions yet; those it gets will need
 * the run scope.
 *
 * The database: one pgq connection of its own, which also LISTENs on
 * afu9_step (afu9_advance() notifies it with the execution's id when a
 * step's outcome commits) and afu9_cancel: one connection for every
 * event stream, fanned out in memory to at most UI_STREAMS_MAX streams.
 */
#ifndef AFU9_UI_UI_H
#define AFU9_UI_UI_H

#include <stddef.h>
#include <ev.h>

#include "http/http.h"
#include "mcp/router.h"
#include "subsys.h"

#define UI_STREAMS_MAX		256	/* event streams open at once */
#define UI_HEARTBEAT_S		15.	/* a comment on every stream */
#define UI_PAGE_ROWS		50	/* rows of a listing page */
#define UI_FORM_MAX		4096	/* bytes of a login body */
#define UI_DB_TIMEOUT_MS	5000
#define UI_PAGE_MAX		(8u << 20)	/* bytes of one page */

struct ui;
struct auth;

struct ui_opts {
	struct auth	*auth;		/* the token check (required;
					   borrowed: must outlive the ui) */
	const char	*conninfo;	/* DATABASE_URL; NULL: pages that
					   need it answer 503 */
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	double		 session_ttl_s;	/* 0: UIAUTH_TTL_S */
};

/*
 * Install the routes on hs (which must outlive the result, freed after
 * http_server_free()).  r (borrowed) gives the servers and tools.  NULL
 * with err on failure.
 */
struct ui	*ui_new(struct ev_loop *, struct http_server *hs,
		    struct router *r, const struct ui_opts *, char *err,
		    size_t errlen);
void		 ui_free(struct ui *);
/* The console as a subsystem ("ui"): stop ends the event streams (so the
   HTTP server can drain); its metrics (afu9_ui_*). */
void		 ui_subsys(struct ui *, struct subsys *out);

#endif /* AFU9_UI_UI_H */
