/*
 * api/wfapi: the HTTP JSON API of the workflow engine (doc/api.md has
 * every route with its scope, bodies and status codes).
 *
 *   POST /v1/workflows/{name}/executions         start an execution   run
 *   GET  /v1/executions/{id}                      one, with its steps  read
 *   GET  /v1/executions?status=&workflow=&limit=&cursor=  newest first read
 *   POST /v1/executions/{id}/cancel                                   run
 *   POST /v1/executions/{id}/steps/{step}/approve                     run
 *   POST /v1/executions/{id}/steps/{step}/reject                      run
 *
 * The routes exist when serve has a token check (api/auth.h: tokens in
 * the database, or AFU9_API_TOKEN); without one every /v1 path is the
 * HTTP server's 404.  Every request under /v1/ goes through auth_route()
 * with the scope above (the rest of /v1/: read) before anything else of
 * it is looked at: no valid token is 401, too low a scope 403, as
 * auth.h says.  Who acted is recorded as "api:NAME", NAME the token's
 * ("api:bootstrap" for AFU9_API_TOKEN), in triggered_by, cancelled_by
 * and decided_by.
 *
 * Every answer is JSON (Content-Type: application/json, Cache-Control:
 * no-store); an error is {"error": "..."} with a message that says what
 * to change.  A path under /v1/ that is no route is a JSON 404 (405 with
 * Allow when the path is a route for another method), once the request
 * is authorised.
 *
 * Input is checked before anything touches the database: path
 * parameters are percent-decoded strictly (a bad escape or %00 is 400),
 * then must have the form of what they name (a UUID, a workflow name, a
 * step id); query strings and bodies are parsed strictly (unknown or
 * repeated parameters and members, duplicate JSON keys, wrong types: 400;
 * an input that fails the workflow's `inputs` schema: 422; an input over
 * WFSQL_INPUT_MAX bytes: 413).  Nothing is stored for a refused request.
 *
 * The database: one pgq connection of the API's own (pipelined, never
 * blocking the loop) with the statements of engine/wfsql.h.  While it is
 * down, a request is answered 503 at once (Retry-After: 1); a statement
 * not answered within WFAPI_DB_TIMEOUT_MS, or lost with the connection,
 * is a 503 too, and a create lost that way may have committed: the
 * message says to repeat it with the same Idempotency-Key.
 *
 * Parsed workflow definitions are cached by workflow id (a row's
 * definition never changes; a new version is a new id), at most
 * WFAPI_DEFN_CACHE of them; a create fetches a definition only when the
 * workflow's newest version is not the one cached for its name.
 *
 * Metrics (wfapi_subsys()): afu9_api_requests_total{method,route,code}
 * and afu9_api_request_duration_seconds{method,route}, route being the
 * pattern ("/v1/executions/{id}"; "other" for the rest of /v1/).
 */
#ifndef AFU9_API_WFAPI_H
#define AFU9_API_WFAPI_H

#include <stddef.h>
#include <ev.h>

#include "engine/wfsql.h"
#include "http/http.h"
#include "subsys.h"

/* The request body bound serve gives the HTTP server when the API is
   on: an input of WFSQL_INPUT_MAX bytes with its envelope and spacing. */
#define WFAPI_BODY_MAX		(WFSQL_INPUT_MAX + (64u << 10))
#define WFAPI_DB_TIMEOUT_MS	5000	/* one statement, sent to answered */
#define WFAPI_DEFN_CACHE	32	/* parsed definitions kept */
#define WFAPI_KEY_MAX		255	/* bytes of an Idempotency-Key */
#define WFAPI_COMMENT_MAX	4096	/* bytes of an approval's comment */
#define WFAPI_LIMIT_DEFAULT	50	/* executions per page */
#define WFAPI_LIMIT_MAX		500
#define WFAPI_RESPONSE_MAX	(32u << 20) /* bytes of one answer; an
					   execution larger than this is a
					   500 that says so */

struct wfapi;
struct auth;

struct wfapi_opts {
	struct auth	*auth;		/* the token check (required;
					   borrowed: it must outlive the
					   API) */
	const char	*conninfo;	/* DATABASE_URL; NULL: every route
					   answers 503 */
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	unsigned	 op_timeout_ms;	/* 0: WFAPI_DB_TIMEOUT_MS */
};

/*
 * Install the routes on hs (borrowed: it must outlive the result, and
 * the result must be freed after http_server_free(hs), which hands the
 * exchanges still waiting for the database back to it as orphans).
 * Opens the connection from the loop.  NULL with err on failure.
 */
struct wfapi	*wfapi_new(struct ev_loop *, struct http_server *hs,
		    const struct wfapi_opts *, char *err, size_t errlen);
/* Drop the requests still waiting (their exchanges freed), close the
   connection, free.  NULL is fine. */
void		 wfapi_free(struct wfapi *);
/* The API as a subsystem ("api"): no start or stop step, always ready
   (the database's state is under /ready's "api" key), its metrics. */
void		 wfapi_subsys(struct wfapi *, struct subsys *out);

#endif /* AFU9_API_WFAPI_H */
