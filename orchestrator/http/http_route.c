/*
 * http_route: patterns, matching and precedence (see http_route.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_route.h"

/*
 * Check pattern p and record its parameter names and literal length in
 * r.  0, or -1 (EINVAL).
 */
static int
pattern_parse(struct http_route *r, const char *p)
{
	const char *s = p, *close;
	size_t n, i;

	if (*p != '/')
		return -1;
	r->literal = 0;
	r->nparams = 0;
	while (*s != '\0') {
		if (*s != '{') {
			if (*s == '}')
				return -1;
			r->literal++;
			s++;
			continue;
		}
		/* A parameter is a whole segment: after '/', before '/' or
		   the end. */
		if (s[-1] != '/' || (close = strchr(s, '}')) == NULL ||
		    (close[1] != '/' && close[1] != '\0'))
			return -1;
		n = (size_t)(close - s - 1);
		if (n == 0 || n > HTTP_PARAM_NAME_MAX ||
		    r->nparams == HTTP_PARAMS_MAX ||
		    memchr(s + 1, '{', n) != NULL)
			return -1;
		memcpy(r->names[r->nparams], s + 1, n);
		r->names[r->nparams][n] = '\0';
		for (i = 0; i < r->nparams; i++)
			if (strcmp(r->names[i], r->names[r->nparams]) == 0)
				return -1;
		r->nparams++;
		s = close + 1;
	}
	return 0;
}

int
http_routes_add(struct http_routes *t, const char *method,
    const char *pattern, int flags, http_handler_fn fn, void *arg,
    http_auth_fn auth, void *auth_arg)
{
	struct http_route *r;

	if (pattern == NULL || fn == NULL || (flags != HTTP_ROUTE_EXACT &&
	    flags != HTTP_ROUTE_PREFIX)) {
		errno = EINVAL;
		return -1;
	}
	if (t->n == HTTP_ROUTES_MAX) {
		errno = ENOSPC;
		return -1;
	}
	r = &t->r[t->n];
	memset(r, 0, sizeof(*r));
	if (pattern_parse(r, pattern) == -1) {
		errno = EINVAL;
		return -1;
	}
	if ((r->pattern = strdup(pattern)) == NULL ||
	    (method != NULL && (r->method = strdup(method)) == NULL)) {
		free(r->pattern);
		return -1;
	}
	r->flags = flags;
	r->fn = fn;
	r->arg = arg;
	r->auth = auth;
	r->auth_arg = auth_arg;
	t->n++;
	return 0;
}

/* Does r's pattern match path?  Fills params when it does. */
static int
route_path(const struct http_route *r, const struct http_span *path,
    struct http_params *params)
{
	const char *p = r->pattern, *s = path->p, *end = path->p + path->len;
	const char *seg;

	params->n = 0;
	while (*p != '\0') {
		if (*p == '{') {
			for (seg = s; s < end && *s != '/'; s++)
				;
			if (s == seg)
				return 0;	/* an empty segment */
			params->name[params->n] = r->names[params->n];
			params->value[params->n].p = seg;
			params->value[params->n].len = (size_t)(s - seg);
			params->n++;
			p = strchr(p, '}') + 1;
			continue;
		}
		if (s == end || *s != *p)
			return 0;
		s++;
		p++;
	}
	return r->flags == HTTP_ROUTE_PREFIX || s == end;
}

static int
route_method(const struct http_route *r, const struct http_span *m)
{
	if (r->method == NULL)
		return 1;
	if (strlen(r->method) == m->len && memcmp(r->method, m->p, m->len) == 0)
		return 1;
	return m->len == 4 && memcmp(m->p, "HEAD", 4) == 0 &&
	    strcmp(r->method, "GET") == 0;
}

static void
allow_add(char *allow, size_t size, const char *m)
{
	size_t n = strlen(allow), ml = strlen(m);
	const char *p;

	for (p = strstr(allow, m); p; p = strstr(p + 1, m))
		if ((p == allow + 7 || p[-1] == ' ') &&
		    (p[ml] == ',' || p[ml] == '\0'))
			return;		/* already listed */
	if (n + ml + 3 > size)
		return;
	snprintf(allow + n, size - n, "%s%s", n > 7 ? ", " : "", m);
}

/* Precedence: exact before prefix, then more literal bytes. */
static size_t
route_score(const struct http_route *r)
{
	return (r->flags == HTTP_ROUTE_EXACT ? (size_t)1 << 20 : 0) +
	    r->literal;
}

const struct http_route *
http_routes_find(const struct http_routes *t, const struct http_request *req,
    struct http_params *params, char *allow, size_t size)
{
	const struct http_route *r, *best = NULL;
	struct http_params p;
	size_t i;

	params->n = 0;
	for (i = 0; i < t->n; i++) {
		r = &t->r[i];
		if (!route_method(r, &req->method) ||
		    (best != NULL && route_score(r) <= route_score(best)) ||
		    !route_path(r, &req->path, &p))
			continue;
		best = r;
		*params = p;
	}
	if (best != NULL)
		return best;
	/* No route takes this method: list those that would (405). */
	snprintf(allow, size, "Allow: ");
	for (i = 0; i < t->n; i++) {
		r = &t->r[i];
		if (r->method == NULL || !route_path(r, &req->path, &p))
			continue;
		allow_add(allow, size, r->method);
		if (strcmp(r->method, "GET") == 0)
			allow_add(allow, size, "HEAD");
	}
	if (strlen(allow) == 7)
		allow[0] = '\0';
	return NULL;
}

const struct http_span *
http_params_get(const struct http_params *params, const char *name)
{
	size_t i;

	for (i = 0; i < params->n; i++)
		if (strcmp(params->name[i], name) == 0)
			return &params->value[i];
	return NULL;
}

void
http_routes_free(struct http_routes *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->r[i].method);
		free(t->r[i].pattern);
	}
	t->n = 0;
}
