/*
 * api/health: the orchestrator's own HTTP endpoints.
 *
 *   GET /health   200 {"status":"ok","service":"afu9","version":V,
 *                 "uptime_s":N} always: it never waits on a child or a
 *                 database (the load balancer's liveness check).
 *   GET /ready    200 when every subsystem is ready, else 503 (as serve
 *                 wires them: every required server initialized and the
 *                 process not shutting down; the database, when
 *                 DATABASE_URL is set, up); the body {"status","ready"}
 *                 and each subsystem's status under its key ("servers":
 *                 router_status(), "database": store_status(), "api":
 *                 the workflow API's connection when it is on, see
 *                 api/wfapi.h).
 *   GET /metrics  Prometheus text: every subsystem's (the router's call
 *                 counters and histogram, server restarts and up gauges,
 *                 the store's audit counters, the HTTP server's
 *                 counters), then process RSS and open fds.  Open, behind
 *                 a bearer token of scope read (api/auth.h), or not
 *                 there at all, as serve asks (AFU9_METRICS,
 *                 AFU9_METRICS_LISTEN: doc/configuration.md).
 */
#ifndef AFU9_API_HEALTH_H
#define AFU9_API_HEALTH_H

#include "http/http.h"
#include "subsys.h"

struct health;
struct auth;

enum health_metrics {
	HEALTH_METRICS_OPEN = 0,	/* no token needed */
	HEALTH_METRICS_TOKEN,		/* a token of scope read */
	HEALTH_METRICS_OFF,		/* no /metrics route (404) */
};

/* Install the routes on hs; /metrics as `metrics` says (auth, borrowed,
   is needed for HEALTH_METRICS_TOKEN only).  hs, subs[0..nsubs) and
   auth are borrowed and must outlive the result (free it after they
   stop).  NULL with err on failure. */
struct health	*health_new(struct http_server *hs, const struct subsys *subs,
		    size_t nsubs, enum health_metrics metrics,
		    struct auth *auth, char *err, size_t errlen);
void		 health_free(struct health *);

#endif
