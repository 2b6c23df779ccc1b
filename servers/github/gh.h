/*
 * gh: the GitHub REST client under the afu9-github tools.  It turns
 * "GET /repos/o/r/issues/7" into an authenticated, asynchronous httpc
 * transfer and its outcome into either a parsed JSON body or one error
 * kind with a message a model can act on.
 *
 * Every request carries
 *	Accept: application/vnd.github+json
 *	X-GitHub-Api-Version: 2022-11-28
 *	User-Agent: afu9/VERSION
 *	Authorization: Bearer TOKEN
 * and, with a JSON body, Content-Type: application/json.
 *
 * Policy, in one place:
 *  - Retries: 5xx answers and transport failures are retried with full-
 *    jitter backoff (httpc_backoff) up to max_attempts in all, for
 *    idempotent requests only (GET, HEAD, PUT, DELETE, OPTIONS, or
 *    GH_F_IDEMPOTENT).  A failure to connect at all is retried for any
 *    method: nothing was sent.
 *  - Secondary rate limit (403/429 with Retry-After or GitHub's "secondary
 *    rate limit" message): idempotent requests wait Retry-After (60 s when
 *    absent) and retry when that wait is at most max_retry_after_s; others
 *    are reported with the wait.  Primary rate limit (403/429 with
 *    x-ratelimit-remaining: 0) is never retried; the message says when the
 *    limit resets.
 *  - Conditional GETs (GH_F_CONDITIONAL): a bounded LRU cache keyed by URL
 *    keeps ETag and body; the next GET of that URL sends If-None-Match and
 *    a 304 (which costs no rate limit) answers with the cached body.
 *
 * The token never appears in a message, a log line or a result: it is
 * registered with redact_add_secret() and every message, body and next
 * URL is checked against the registry before it is handed out.
 */
#ifndef AFU9_GH_H
#define AFU9_GH_H

#include <stddef.h>
#include <ev.h>
#include <jansson.h>

#define GH_DEFAULT_API_URL	"https://api.github.com"
#define GH_API_VERSION		"2022-11-28"
#define GH_MAX_API_URL		2048u		/* GITHUB_API_URL */
#define GH_MAX_TOKEN		1024u		/* the token itself */
#define GH_MAX_TOKEN_FILE	4096u		/* GITHUB_TOKEN_FILE contents */
#define GH_MAX_PATH		8192u		/* path + query of a request */
#define GH_MAX_REQUEST_BODY	((size_t)64 * 1024 * 1024)	/* JSON sent */

struct httpc;
struct gh;
struct gh_req;

/* Zero fields mean the default given. */
struct gh_config {
	const char	*token;		/* NULL or "": $GITHUB_TOKEN, else the
					   contents of $GITHUB_TOKEN_FILE */
	const char	*api_url;	/* NULL or "": $GITHUB_API_URL, else
					   https://api.github.com */
	const char	*user_agent;	/* "afu9/VERSION" */
	unsigned	 max_attempts;	/* 3, counting the first */
	double		 backoff_base_s;	/* 1 */
	double		 backoff_cap_s;		/* 20 */
	double		 max_retry_after_s;  /* 60: longer waits are reported */
	double		 wait_scale;	/* 1: multiplies waits GitHub asks for
					   (Retry-After, the 60 s default);
					   tests shrink it */
	size_t		 etag_entries;	/* 256 cached URLs */
	size_t		 etag_bytes;	/* 16 MiB of cached bodies */
	long		 timeout_ms;	/* per attempt; 0: httpc's default */
};

/* Request flags. */
#define GH_F_IDEMPOTENT		0x01	/* safe to repeat (e.g. a POST that
					   only reads) */
#define GH_F_CONDITIONAL	0x02	/* GET: use the ETag cache */

enum gh_err {
	GH_OK = 0,
	GH_ERR_CONFIG,		/* no usable token; no network use */
	GH_ERR_AUTH,		/* 401 */
	GH_ERR_FORBIDDEN,	/* 403: missing scope or permission */
	GH_ERR_RATE_LIMIT,	/* primary limit exhausted */
	GH_ERR_SECONDARY_LIMIT,	/* secondary limit, not retried */
	GH_ERR_NOT_FOUND,	/* 404 */
	GH_ERR_CONFLICT,	/* 409 */
	GH_ERR_VALIDATION,	/* 422 */
	GH_ERR_HTTP,		/* any other non-2xx answer */
	GH_ERR_SERVER,		/* 5xx after the retries allowed */
	GH_ERR_NETWORK,		/* no HTTP answer after the retries allowed */
	GH_ERR_RESPONSE,	/* too large, or not JSON */
	GH_ERR_INTERNAL		/* out of memory */
};

/* Rate-limit headers of the final answer; -1 where absent. */
struct gh_rate {
	long		 limit;
	long		 remaining;
	long		 used;
	long long	 reset;		/* epoch seconds */
	char		 resource[32];	/* "core", "search" ... or "" */
};

/*
 * What a request came to.  Everything is borrowed for the duration of
 * the callback except `body`, which is a new reference the callback owns
 * (json_decref() it, or keep it).
 */
struct gh_result {
	enum gh_err	 err;
	const char	*message;	/* NULL on success; else what went
					   wrong and what to do about it */
	long		 status;	/* final HTTP status, 0 if none; a 304
					   answered from the cache reports the
					   cached status */
	json_t		*body;		/* parsed body (GitHub's error document
					   on HTTP errors); NULL when empty,
					   not JSON, or no answer */
	const char	*next_url;	/* Link rel="next", or NULL */
	const char	*request_id;	/* X-GitHub-Request-Id, or NULL */
	struct gh_rate	 rate;
	int		 cached;	/* body came from the ETag cache */
	unsigned	 attempts;	/* HTTP attempts made */
};

typedef void (*gh_done_fn)(struct gh_req *, struct gh_result *, void *arg);

/*
 * A client on `loop` sending through `h` (borrowed; it must outlive the
 * client).  Reads the token and the API URL from cfg (NULL: all defaults)
 * or the environment and registers the token with redact_add_secret().
 * The API URL must be http:// or https://, with no credentials, query or
 * fragment; trailing slashes are dropped (https://HOST/api/v3 is the GitHub
 * Enterprise Server form).  A missing or unreadable token is not an error
 * here: each request then fails with GH_ERR_CONFIG and says why.
 * Returns NULL with a message in err (errlen bytes) on a bad API URL or
 * out of memory.
 */
struct gh	*gh_new(struct ev_loop *loop, struct httpc *h,
		    const struct gh_config *cfg, char *err, size_t errlen);

/* Cancels every request (no callbacks), wipes the token and frees.  From
   inside a gh callback the release is deferred until it returns. */
void		 gh_free(struct gh *);

/*
 * Start a request.  `path` is a path and query under the API URL
 * ("/repos/o/r/issues?state=open"), or an absolute URL under it (a
 * next_url); the caller percent-encodes.  "/graphql" is the GraphQL
 * endpoint, which GitHub Enterprise Server has at /api/graphql beside an
 * API URL ending in /api/v3.  `body` is borrowed and
 * serialised at once (NULL: none).  Returns a handle valid until the
 * callback returns or gh_cancel(); NULL (and no callback) on a bad
 * method, a path that is not under the API URL or holds control bytes,
 * spaces or '#', a bound crossed, or out of memory.  Without a token the
 * callback runs on the next loop iteration with GH_ERR_CONFIG, and
 * nothing is sent.
 */
struct gh_req	*gh_request(struct gh *, const char *method, const char *path,
		    const json_t *body, int flags, gh_done_fn done, void *arg);

/* Abort: the transfer in flight is closed, a pending retry dropped, and
   the callback does not run.  A no-op inside the request's own callback. */
void		 gh_cancel(struct gh_req *);

/* The normalised API URL (borrowed). */
const char	*gh_api_url(const struct gh *);
/* Non-zero when a token is available. */
int		 gh_has_token(const struct gh *);
/* URLs in the ETag cache. */
size_t		 gh_cache_count(const struct gh *);
/* "ok", "config", "auth", "forbidden", "rate_limit" ...; static. */
const char	*gh_err_name(enum gh_err);

/*
 * The target of the first rel="next" link in an RFC 8288 Link header
 * value (rel may list several types; names and types are case-
 * insensitive), as a new malloc'd string; NULL when there is none, the
 * value is malformed before one is found, or out of memory.
 */
char		*gh_link_next(const char *link);

#endif
