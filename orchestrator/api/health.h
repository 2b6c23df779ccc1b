/*
 * api/health: the orchestrator's own HTTP endpoints.
 *
 *   GET /health   200 {"status":"ok","service":"afu9","version":V,
 *                 "uptime_s":N} always: it never waits on a child or a
 *                 database (the load balancer's liveness check).
 *   GET /ready    200 when every required server is initialized, the
 *                 database (when DATABASE_URL is set) is up, and the
 *                 process is not shutting down, else 503; the body names
 *                 each server's state, pid, restarts, last exit cause,
 *                 tool count and last ping round trip, and the database
 *                 as store_status() gives it ({"state":"disabled",...}
 *                 without DATABASE_URL, which does not make it 503).
 *   GET /metrics  Prometheus text: the router's call counters and
 *                 histogram, server restarts and up gauges, the store's
 *                 audit counters, the HTTP server's counters, process RSS
 *                 and open fds.
 */
#ifndef AFU9_API_HEALTH_H
#define AFU9_API_HEALTH_H

#include "http/http.h"
#include "mcp/router.h"
#include "store/store.h"

struct health;

/* Install the routes on hs.  hs, r and st are borrowed and must outlive
   the result (free it after they stop).  NULL with err on failure. */
struct health	*health_new(struct http_server *hs, struct router *r,
		    struct store *st, char *err, size_t errlen);
void		 health_free(struct health *);

#endif
