/*
 * http_route: the HTTP server's route table, on its own so it can be
 * tested without sockets.
 *
 * A route is a method (NULL: any; a GET route also answers HEAD), a path
 * pattern and a handler, optionally behind an authorization hook.  A
 * pattern is a path whose segments may be parameters: "/v1/executions/
 * {id}/steps/{step}".  A parameter matches one whole, non-empty segment
 * (no '/'), as sent (still percent-encoded).  HTTP_ROUTE_EXACT patterns
 * match the whole path; HTTP_ROUTE_PREFIX patterns its beginning, byte
 * for byte after the last parameter ("/ui/" matches "/ui/x/y").
 *
 * Among the routes whose pattern matches: an exact route beats a
 * prefix, then the one with more literal bytes wins ("/v1/executions/
 * new" over "/v1/executions/{id}", "/ui/app/" over "/ui/"), then the
 * first added.
 */
#ifndef AFU9_HTTP_ROUTE_H
#define AFU9_HTTP_ROUTE_H

#include <stddef.h>

#include "http/httpparse.h"

#define HTTP_ROUTE_EXACT	0	/* the whole path */
#define HTTP_ROUTE_PREFIX	1	/* its beginning */

#define HTTP_ROUTES_MAX		64
#define HTTP_PARAMS_MAX		8	/* per pattern */
#define HTTP_PARAM_NAME_MAX	31

struct http_exchange;
typedef void (*http_handler_fn)(const struct http_request *req,
	    struct http_exchange *x, void *arg);

/*
 * May req reach its handler?  0: yes.  Otherwise the status to answer
 * with instead (401, 403, 429 ...); for 401, *challenge may be set to the
 * WWW-Authenticate value ("Bearer realm=\"afu9\"": static or owned by
 * arg).  Runs before the handler, for HEAD too; it must not keep req.
 */
typedef int (*http_auth_fn)(const struct http_request *req, void *arg,
	    const char **challenge);

struct http_route {
	char		*method;	/* NULL: any */
	char		*pattern;
	int		 flags;		/* HTTP_ROUTE_EXACT or _PREFIX */
	size_t		 literal;	/* bytes of pattern outside params */
	size_t		 nparams;
	char		 names[HTTP_PARAMS_MAX][HTTP_PARAM_NAME_MAX + 1];
	http_handler_fn	 fn;
	void		*arg;
	http_auth_fn	 auth;		/* NULL: open */
	void		*auth_arg;
	size_t		 max_body;	/* request body bound; 0: the
					   server's max_body */
	int		 reserve;	/* served on reserve slots too
					   (http_server_route_reserve) */
};

/* The parameters of one match: spans into the request's path. */
struct http_params {
	size_t			 n;
	const char		*name[HTTP_PARAMS_MAX];	/* the route's */
	struct http_span	 value[HTTP_PARAMS_MAX];
};

struct http_routes {
	struct http_route	 r[HTTP_ROUTES_MAX];
	size_t			 n;
};

/*
 * Add a route (strings copied).  0, or -1 with errno: EINVAL (no
 * pattern or fn, a pattern not starting with '/', a parameter that is
 * not a whole segment, an empty or too long or repeated name, more than
 * HTTP_PARAMS_MAX parameters, bad flags), ENOSPC (table full), ENOMEM.
 */
int	http_routes_add(struct http_routes *, const char *method,
	    const char *pattern, int flags, http_handler_fn fn, void *arg,
	    http_auth_fn auth, void *auth_arg);
/*
 * The route for req, its parameters in *params; or NULL, and then
 * allow[size] holds "Allow: GET, HEAD, ..." when some route has the path
 * but not the method (405), "" when none has it (404).  Borrowed from the
 * table; params point into req->path.
 */
const struct http_route *http_routes_find(const struct http_routes *,
	    const struct http_request *req, struct http_params *params,
	    char *allow, size_t size);
/* The value of parameter name, or NULL. */
const struct http_span *http_params_get(const struct http_params *,
	    const char *name);
void	http_routes_free(struct http_routes *);

#endif /* AFU9_HTTP_ROUTE_H */
