/*
 * http: the embedded HTTP/1.1 server (health, readiness, metrics, API).
 *
 * It runs on the caller's libev loop and never blocks it.  Requests are
 * parsed by httpparse (see httpparse.h for what is accepted) and routed by
 * method and path to handlers.  A handler answers with http_respond(),
 * either before it returns or later (for instance when a tool call has
 * completed): responses on one connection always leave in request order.
 *
 * Connections: HTTP/1.1 keep-alive and pipelining; "Connection: close"
 * honoured; HTTP/1.0 closes after the response unless the request said
 * "Connection: keep-alive".  Responses are always HTTP/1.1 and carry Date
 * and Content-Length (none on 204 and 304); a HEAD request runs the GET
 * handler and gets its headers without the body.
 *
 * Limits (struct http_limits) and what a client sees:
 *  - request line > max_line                       414, close
 *  - head > max_head, or > max_headers fields      431, close
 *  - Content-Length > max_body, or the route's own
 *    bound (http_server_route_body()), or
 *    > max_body_total (checked before any body
 *    byte is read)                                 413, close
 *  - the bodies being received on all connections, and
 *    those of requests handlers hold
 *    (http_exchange_hold()), plus this one's
 *    Content-Length would pass
 *    max_body_total (checked before any of it
 *    is read)                                      503 + Retry-After, close
 *  - malformed request                             400, close
 *  - chunked body 411, other transfer coding 501, version other than
 *    1.0/1.1 505, unknown Expect 417               all close
 *  - no route for the path                         404 (connection kept)
 *  - a route for the path but not the method       405 + Allow (kept)
 *  - request not complete request_timeout after its first byte
 *    (slowloris)                                   408, close
 *  - keep-alive connection idle for idle_timeout   closed silently
 *  - no output progress for write_timeout          closed
 *  - max_connections open: the next reserve_connections are reserve
 *    slots, for the load balancer's health checks: one request each,
 *    which must be a GET or HEAD of a route marked with
 *    http_server_route_reserve() (/health, /ready), else 503 +
 *    Retry-After and close; reserve_timeout to send it.  Past the
 *    reserve, a new connection gets a best-effort 503 + Retry-After and
 *    is closed at once.  Both refusals count as rejected.
 *  - max_pipeline requests unanswered on one connection, or more than
 *    out_high_water bytes queued to it: the server stops reading that
 *    connection until the backlog drains (back-pressure; a client that
 *    never reads cannot make the server buffer without bound).
 * Every error that may leave the stream out of sync closes the
 * connection after the response; the close is "lingering" (shutdown for
 * writing, then input discarded for up to linger_timeout) so the client
 * gets the response rather than a reset.
 */
#ifndef AFU9_HTTP_H
#define AFU9_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <ev.h>

#include "buf.h"
#include "http/http_route.h"
#include "http/httpparse.h"

struct http_server;
struct http_exchange;

#define HTTP_MAX_CONNECTIONS	1024	/* the defaults of the caps */
#define HTTP_RESERVE_CONNECTIONS	8

/* Zero fields take the defaults in brackets. */
struct http_limits {
	size_t	 max_line;		/* request line bytes [8192] */
	size_t	 max_head;		/* head bytes [16384] */
	size_t	 max_headers;		/* header fields [64] */
	size_t	 max_body;		/* request body bytes [1 MiB] */
	size_t	 max_body_total;	/* request body bytes being received
					   or held, all connections [64 MiB] */
	size_t	 max_connections;	/* open at once [1024] */
	size_t	 reserve_connections;	/* health checks past it [8] */
	size_t	 max_pipeline;		/* unanswered per connection [16] */
	size_t	 out_high_water;	/* queued output before reads stop [256 KiB] */
	size_t	 max_response;		/* one response body [64 MiB] */
	double	 request_timeout;	/* s, first byte to whole request [10] */
	double	 reserve_timeout;	/* s, the same on a reserve slot [2] */
	double	 idle_timeout;		/* s, keep-alive idle [75] */
	double	 write_timeout;		/* s, without output progress [30] */
	double	 linger_timeout;	/* s, draining input after an error [2] */
	double	 drain_timeout;		/* s, graceful stop before force [10] */
	int	 backlog;		/* listen(2) backlog [511] */
};

#define HTTP_STATUS_MIN	100
#define HTTP_STATUS_MAX	599

struct http_stats {
	uint64_t	 responses[HTTP_STATUS_MAX - HTTP_STATUS_MIN + 1];
					/* by status code - 100 */
	uint64_t	 accepted;	/* connections accepted (incl. rejected) */
	uint64_t	 rejected;	/* refused over max_connections: past
					   the reserve, or not a health
					   check on a reserve slot */
	uint64_t	 reserved;	/* taken into a reserve slot */
	uint64_t	 body_refused;	/* 503: max_body_total reached */
	uint64_t	 body_buffered;	/* request body bytes being received
					   (admitted) or held now */
	uint64_t	 open;		/* connections open now */
	uint64_t	 request_timeouts;	/* 408 sent */
	uint64_t	 idle_timeouts;
	uint64_t	 write_timeouts;
	uint64_t	 accept_errors;	/* EMFILE and friends */
	uint64_t	 out_buffered;	/* response bytes queued now */
};

/*
 * A handler (http_handler_fn, http_route.h).  `req` and everything it
 * points to (method, path, headers, body, path parameters) is borrowed
 * for the duration of the call only: copy what you need.  `x` is owned by
 * the handler from the call until it passes it to http_respond(), which
 * it must do exactly once, now or later.
 */

/*
 * Create a server on `loop` listening on `addr`: "0.0.0.0:8080",
 * "[::]:8080" (dual-stack: IPv6 and IPv4-mapped), "[::1]:0",
 * "127.0.0.1:0" (port 0: the kernel picks one; see http_server_port).
 * Numeric addresses only (no DNS on the loop).  SO_REUSEADDR is set.
 * `limits` may be NULL.  Returns the server, or NULL with a message in
 * err[errlen].
 */
struct http_server *http_server_new(struct ev_loop *loop, const char *addr,
	    const struct http_limits *limits, char *err, size_t errlen);
/* Listen on one more address (same forms).  0, or -1 with err set. */
int	http_server_listen(struct http_server *, const char *addr, char *err,
	    size_t errlen);
/* The bound port of the first (or i-th) listener; -1 if there is none. */
int	http_server_port(const struct http_server *);
int	http_server_port_at(const struct http_server *, size_t i);

/*
 * Route `method` (NULL: any method) on the pattern `path` (parameters
 * and precedence: http_route.h) to fn(req, x, arg).  Strings are copied.
 * A GET route also answers HEAD.  At most 64 routes.  Returns 0, or -1
 * (EINVAL, ENOSPC, ENOMEM).
 */
int	http_server_route(struct http_server *, const char *method,
	    const char *path, int flags, http_handler_fn fn, void *arg);
/*
 * The same behind auth (see http_auth_fn): a request it refuses gets the
 * status it returned (a value outside 400..599 counts as 403), with
 * WWW-Authenticate on a 401 when it gave a challenge, and a plain-text
 * body; the handler does not run.
 */
int	http_server_route_auth(struct http_server *, const char *method,
	    const char *path, int flags, http_handler_fn fn, void *arg,
	    http_auth_fn auth, void *auth_arg);
/*
 * Give the route added for exactly `method` and `path` its own request
 * body bound, above or below the server's max_body (GitHub's webhook
 * deliveries are up to 25 MB; no other route should make the server
 * buffer that much).  The route is found from the head, so a body over
 * its bound is refused with 413 before any of it is read, as above.
 * 0, or -1 with errno ENOENT (no such route) or EINVAL (max_body 0).
 */
int	http_server_route_body(struct http_server *, const char *method,
	    const char *path, size_t max_body);
/*
 * Serve the route added for exactly `method` and `path` (a GET route:
 * HEAD too) also on the reserve slots past max_connections: health
 * checks.  0, or -1 with errno ENOENT.
 */
int	http_server_route_reserve(struct http_server *, const char *method,
	    const char *path);
/* In a handler: the value of path parameter `name` of its route, still
   percent-encoded (borrowed for the handler call), or NULL. */
const struct http_span *http_exchange_param(const struct http_exchange *x,
	    const char *name);

/*
 * Answer the request behind `x` and release `x` (it must not be used
 * again, whatever the result).  `headers` is a NULL-terminated array of
 * "Name: value" strings (NULL: none); Date, Content-Length and Connection
 * are added by the server and must not be given.  `body` is copied when
 * it cannot be written at once.  If the connection is gone (the client
 * left, or the server was freed), this only frees `x` and returns 0.
 * Returns 0; or -1 with errno EINVAL (status outside 200..599, a header
 * without ':' or with CR/LF) or EMSGSIZE (body over max_response), in
 * which case the client gets a 500 instead.
 * May be called from any callback on the server's loop, including another
 * connection's handler.
 */
int	http_respond(struct http_exchange *x, int status,
	    const char *const *headers, const void *body, size_t len);
/*
 * Keep x's request past the handler's call (a handler that decides
 * later whether to serve it, such as auth_request()): a copy of its
 * bytes owned by x, freed when x is released after http_respond().  The
 * copy's spans, and x's path parameters, point into it, so it can be
 * passed to another handler later.  The body counts toward
 * max_body_total until the copy is freed, also when the connection has
 * gone.  Only during the handler's call with that req; a second call
 * returns the same copy.  NULL with errno
 * ENOMEM, or EPIPE when the connection is gone.
 */
const struct http_request *http_exchange_hold(struct http_exchange *x,
	    const struct http_request *req);
/* The client's address of x (the host, no port: "127.0.0.1", "::1")
   into buf[len] ("unknown" when it cannot be had); returns buf. */
const char *http_exchange_peer(const struct http_exchange *x, char *buf,
	    size_t len);
/* Is the client of `x` still connected?  (An answer would be delivered.) */
int	http_exchange_alive(const struct http_exchange *x);

/* Counters and gauges, copied into *st. */
void	http_server_stats(const struct http_server *, struct http_stats *st);
/*
 * Append the counters in the Prometheus text format to `out`
 * (afu9_http_responses_total{code="200"} and friends).  0, or -1 when
 * `out` is full.
 */
int	http_server_metrics(const struct http_server *, struct buf *out);

/*
 * Graceful stop: close the listeners, close idle connections and those
 * with only a partial request, let requests already received be answered
 * (their last response says "Connection: close"), then close.  After
 * drain_timeout the rest are closed.  done(arg) (may be NULL) runs from
 * the loop once no connection is left; the server is then inert and may
 * be freed.  Call once.
 */
void	http_server_stop(struct http_server *, void (*done)(void *), void *arg);
/*
 * Close everything now and free the server.  Exchanges still held by
 * handlers become orphans: http_respond() on them just frees them.  Not
 * to be called from a handler or callback of this server.
 */
void	http_server_free(struct http_server *);

struct subsys;
/* srv as a subsystem (see subsys.h): no start step, always ready, no
   status; stop is http_server_stop(); metrics http_server_metrics(). */
void	http_subsys(struct http_server *srv, struct subsys *out);

/* Reason phrase for a status code ("OK", "Not Found"...); never NULL. */
const char *http_reason(int status);

#endif
