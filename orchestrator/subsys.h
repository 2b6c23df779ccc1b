/*
 * subsys: the one wiring interface between `afu9 serve` and what it runs.
 *
 * Each part of the running orchestrator (the MCP router, the audit
 * store, the HTTP server; the workflow engine and the agent runner when
 * they come) describes itself as a struct subsys over its own object,
 * made by its module (router_subsys(), store_subsys(), http_subsys()).
 * serve keeps them in one array in dependency order and does everything
 * through it: start them in order; stop them in order, each once the one
 * before it is done (the router first, so no call is left to audit, then
 * the store, so the last rows are written, then HTTP, which answers
 * /ready with 503 meanwhile); /ready is ready when every one is, with
 * each one's status under its key; /metrics is every one's text.
 *
 * Every member but name and self may be NULL: the subsystem has nothing
 * to do there (no start step, always ready, no status or metrics).
 */
#ifndef AFU9_SUBSYS_H
#define AFU9_SUBSYS_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

#define SUBSYS_MAX	16	/* serve wires 7 today; room for more */

struct subsys {
	const char	*name;		/* for logs: "router", "store", "http" */
	const char	*key;		/* its member in the /ready body */
	void		*self;		/* borrowed: the module's object */
	unsigned	 grace_ms;	/* how long stop may wait for work in
					   flight (set by serve) */
	/* Begin work once everything is built.  0, or -1 with err. */
	int		(*start)(void *self, char *err, size_t errlen);
	/* Stop gracefully; done(arg) once, from the loop (never inside the
	   call).  Called once. */
	void		(*stop)(void *self, unsigned grace_ms,
			    void (*done)(void *), void *arg);
	/* Non-zero when it can serve (for /ready). */
	int		(*ready)(const void *self);
	/* Its /ready entry: a new reference, NULL on ENOMEM. */
	json_t		*(*status)(const void *self);
	/* Append its Prometheus text.  0, or -1 when out is full. */
	int		(*metrics)(const void *self, struct buf *out);
};

#endif /* AFU9_SUBSYS_H */
