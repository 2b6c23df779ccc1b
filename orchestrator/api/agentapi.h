/*
 * api/agentapi: the recorded agent runs over HTTP (doc/api.md, "Agent
 * runs"), read scope:
 *
 *   GET /v1/agent-runs?status=&execution=&limit=&cursor=   newest first
 *   GET /v1/agent-runs/{id}?from=&limit=      one, with its transcript
 *
 * Behind the same token check as the workflow API (api/auth.h through
 * auth_route(), scope read): no valid token 401, too low a scope 403.
 * Another method on these paths is 405 with Allow: GET, HEAD.
 *
 * The list pages by keyset: at most `limit` runs (AGENTAPI_LIMIT_DEFAULT,
 * 1..AGENTAPI_LIMIT_MAX), and next_cursor to pass as `cursor` while
 * there are more.  One run pages its transcript the same way: `limit`
 * messages (AGENTAPI_MESSAGES_DEFAULT, 0..AGENTAPI_MESSAGES_MAX) from
 * seq `from` (0), and next_seq while there are more; an answer over
 * AGENTAPI_RESPONSE_MAX bytes is a 500 that says to ask for fewer.
 * Input is checked before anything touches the database (a run or
 * execution id that is no UUID, a status that is none, a number out of
 * range, an unknown or repeated parameter: 400); no such run is 404.
 *
 * One pgq connection of its own with the statements of agent/agentsql.h
 * (the CLI's too).  While it is down, a request is answered 503 at once
 * (Retry-After: 1), as is a statement lost or not answered within
 * AGENTAPI_DB_TIMEOUT_MS.
 *
 * Metrics (agentapi_subsys()): afu9_agent_api_requests_total{route,code}.
 */
#ifndef AFU9_API_AGENTAPI_H
#define AFU9_API_AGENTAPI_H

#include <stddef.h>
#include <ev.h>

#include "http/http.h"
#include "subsys.h"

#define AGENTAPI_DB_TIMEOUT_MS		5000
#define AGENTAPI_LIMIT_DEFAULT		50	/* runs per page */
#define AGENTAPI_LIMIT_MAX		500
#define AGENTAPI_MESSAGES_DEFAULT	500	/* messages per answer */
#define AGENTAPI_MESSAGES_MAX		10000
#define AGENTAPI_RESPONSE_MAX		(32u << 20)

struct agentapi;
struct auth;

struct agentapi_opts {
	struct auth	*auth;		/* the token check (required;
					   borrowed: it must outlive this) */
	const char	*conninfo;	/* DATABASE_URL; NULL: 503 */
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	unsigned	 op_timeout_ms;	/* 0: AGENTAPI_DB_TIMEOUT_MS */
};

/*
 * Install the routes on hs (borrowed; free the result after
 * http_server_free(hs), as for wfapi).  NULL with err on failure.
 */
struct agentapi	*agentapi_new(struct ev_loop *, struct http_server *hs,
		    const struct agentapi_opts *, char *err, size_t errlen);
/* Drop the requests still waiting, close the connection, free.  NULL is
   fine. */
void		 agentapi_free(struct agentapi *);
/* As a subsystem ("agentapi"): always ready (its database's state in
   its status), its metrics. */
void		 agentapi_subsys(struct agentapi *, struct subsys *out);

#endif /* AFU9_API_AGENTAPI_H */
