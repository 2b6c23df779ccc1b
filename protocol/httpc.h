/*
 * httpc: the one HTTP client.  libcurl's multi interface driven by libev
 * watchers (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION), so no call
 * ever blocks the loop and many transfers run at once.
 *
 * One struct httpc per process: its multi handle keeps a connection cache,
 * so N requests to one host reuse one connection (and HTTP/2 multiplexing
 * when the server offers it over TLS).  Every transfer has a connect
 * timeout, a total timeout and a response-size bound.
 *
 * Retries are policy, not transport: httpc_backoff() is the one jittered
 * backoff (full jitter: rand * min(cap, base * 2^attempt)) that GitHub and
 * AWS code both use.
 */
#ifndef AFU9_HTTPC_H
#define AFU9_HTTPC_H

#include <stddef.h>
#include <ev.h>

struct httpc;
struct httpc_req;

struct httpc_opts {
	const char	*user_agent;		/* default "afu9/VERSION" */
	long		 connect_timeout_ms;	/* default 10000 */
	long		 timeout_ms;		/* total, default 60000 */
	size_t		 max_response;		/* body bound, default 32 MiB */
	long		 max_host_connections;	/* default 8 */
};

struct httpc_header {
	char	*name;		/* as received */
	char	*value;		/* trimmed */
};

struct httpc_response {
	long			 status;	/* 0 when no HTTP response */
	const char		*body;		/* NUL-terminated, may hold NULs */
	size_t			 body_len;
	const struct httpc_header *headers;	/* of the final response */
	size_t			 nheaders;
	/* transport failure (status 0), or size bound hit: curl's text and the
	   URL's scheme://host:port (never the query, never credentials) */
	int			 error;		/* CURLcode; 0 = none */
	const char		*error_text;
	double			 total_s;
	int			 streamed;	/* the body went to on_data */
	size_t			 streamed_len;	/* bytes given to on_data */
};

/* Called once per request unless cancelled; response borrowed. */
typedef void (*httpc_done_fn)(struct httpc_req *, const struct httpc_response *,
	    void *arg);
/*
 * Body bytes of a 2xx response as they arrive (decoded), for streams
 * (text/event-stream): data borrowed for the call.  Return 0 to go on;
 * anything else stops the transfer, and done then runs with error
 * CURLE_WRITE_ERROR ("... stopped by its reader").  It must not start,
 * cancel or free requests of this client (it runs inside libcurl).
 */
typedef int (*httpc_data_fn)(struct httpc_req *, const char *data,
	    size_t len, void *arg);

/* Per-request options of httpc_request_opts(); zero: the default. */
struct httpc_reqopts {
	long		 timeout_ms;	/* total; 0: the client's */
	/*
	 * No byte of the response (head or body) for this long, from the
	 * start or since the last one: the request fails with error
	 * CURLE_OPERATION_TIMEDOUT ("... no data for N ms"), its
	 * connection closed.  For streams that stall, where a total
	 * timeout long enough for the whole answer is much too long to
	 * notice.  0: none.
	 */
	long		 idle_timeout_ms;
	/*
	 * NULL: the body is collected and given to done.  Else a 2xx body
	 * goes to on_data instead (done's response then has an empty body
	 * and streamed set); other statuses' bodies are collected as
	 * usual (an error's JSON is small and read whole).  The response
	 * bound (max_response) counts streamed bytes too.
	 */
	httpc_data_fn	 on_data;
};

struct httpc *httpc_new(struct ev_loop *, const struct httpc_opts *);
/* Cancels every request (no callbacks) and frees. */
void	httpc_free(struct httpc *);

/*
 * Start a request.  `headers` is a NULL-terminated array of "Name: value"
 * strings (copied); body copied (may be NULL).  timeout_ms 0: the default.
 * Returns a handle valid until the done callback returns or httpc_cancel();
 * NULL on error (no callback).
 */
struct httpc_req *httpc_request(struct httpc *, const char *method,
	    const char *url, const char *const *headers, const void *body,
	    size_t body_len, long timeout_ms, httpc_done_fn, void *arg);
/*
 * httpc_request() with options (NULL: none): a per-request idle timeout,
 * a body streamed to a callback.  Same rules otherwise.
 */
struct httpc_req *httpc_request_opts(struct httpc *, const char *method,
	    const char *url, const char *const *headers, const void *body,
	    size_t body_len, const struct httpc_reqopts *, httpc_done_fn,
	    void *arg);
/* Abort a transfer in flight; the callback does not run.  Safe anywhere
   except inside that request's own callback. */
void	httpc_cancel(struct httpc_req *);

/* Last value of a header, case-insensitive; NULL if absent. */
const char *httpc_header(const struct httpc_response *, const char *name);

/* Transfers in flight; connections opened so far (for reuse checks). */
size_t	httpc_active(const struct httpc *);
long	httpc_connections_opened(const struct httpc *);

/* Full-jitter backoff in seconds for attempt 0, 1, 2...; `u` in [0,1)
   (pass a random value; tests pass fixed ones). */
double	httpc_backoff(unsigned attempt, double base_s, double cap_s, double u);
/* A uniform random double in [0,1) from libsodium. */
double	httpc_random(void);

#endif
