/*
 * api/auth: the one bearer-token check of everything reachable from
 * outside: every /v1 route, /mcp and the console's login.
 *
 * Tokens (`afu9 token create`, table api_tokens, migration 004) are
 * "afu9_" followed by 43 characters of URL-safe base64 (32 bytes from
 * randombytes_buf()).  The table keeps only the token's BLAKE2b-256
 * digest (crypto_generichash, unkeyed: the token has 256 bits of
 * entropy, so a digest cannot be reversed or guessed, and every task
 * computes the same one), its name, scope, creation, expiry, last use
 * and revocation.  A candidate is hashed and its row found by the
 * digest's unique index; the digest the row returns is then compared
 * with sodium_memcmp().  The index lookup's time depends only on digest
 * bytes an attacker cannot choose, so it tells nothing about any token.
 *
 * Scopes are ordered: read < run < admin.  A token grants its own scope
 * and every lower one.
 *
 * Per request, no cache: every request with a token that is not the
 * bootstrap token is one indexed statement on the auth's own pgq
 * connection (pipelined, on the loop, never blocking it), so a token
 * revoked or expired is refused from the next request on, also on a
 * keep-alive connection that used it a moment before.  The same
 * statement sets last_used, at most once per AUTH_LAST_USED_S per token
 * (a row is written once a minute, not once a request).
 *
 * The bootstrap token: AFU9_API_TOKEN, when set, is an admin token
 * named "bootstrap" that needs no database (to create the first tokens
 * through the API, or to reach a task whose database is down).  It is
 * kept only as a digest keyed with the process's random key and
 * compared with sodium_memcmp().
 *
 * Refusals (what a client sees; the body is JSON {"error": "..."}):
 *  - no Authorization field, or not exactly one, or not "Bearer TOKEN",
 *    or a token that is unknown, revoked or expired: 401 with
 *    "WWW-Authenticate: Bearer realm=\"afu9\"" (or the route's own
 *    challenge, struct auth_need) and one and the same body.  Every
 *    present token, well-formed or not, goes through the same hash and
 *    the same statement, so the answer's time does not tell which case
 *    it was either.
 *  - a valid token whose scope is too low: 403 with WWW-Authenticate
 *    error="insufficient_scope" scope="NEEDED" (RFC 6750 3.1).
 *  - a peer that failed AUTH_FAIL_BURST times recently: 429 with
 *    Retry-After, before its token is looked at (a budget refilled at
 *    one failure per AUTH_FAIL_REFILL_S; every client together has
 *    AUTH_ALL_BURST, refilled at one per AUTH_ALL_REFILL_S, so varying
 *    the address does not help a guesser much).  Only a wrong token
 *    spends it (a request without any guesses nothing).
 *  - the database down, or the statement not answered within
 *    op_timeout_ms: 503 with Retry-After: 1 (the bootstrap token still
 *    works).
 * Every refusal is logged (peer, method, path, reason, and the token's
 * name when one was found), never the token or its digest.
 *
 * Ownership: struct auth is the caller's (auth_new / auth_free).  The
 * strings of the opts are copied.  Not thread-safe: the loop's thread.
 */
#ifndef AFU9_API_AUTH_H
#define AFU9_API_AUTH_H

#include <stddef.h>
#include <ev.h>

#include "http/http.h"
#include "subsys.h"

#define AUTH_PREFIX		"afu9_"
#define AUTH_TOKEN_RAW		32	/* random bytes of a token */
#define AUTH_TOKEN_LEN		48	/* "afu9_" + 43 base64url characters */
#define AUTH_DIGEST_LEN		32	/* BLAKE2b-256 */
#define AUTH_NAME_MAX		63	/* bytes of a token's name */
#define AUTH_LAST_USED_S	60	/* last_used written at most this often */
#define AUTH_DB_TIMEOUT_MS	5000	/* one lookup, sent to answered */
#define AUTH_PEERS_MAX		1024	/* peers whose failures are counted */
#define AUTH_PEER_MAX		64	/* bytes of a peer's name */
#define AUTH_FAIL_BURST		10
#define AUTH_FAIL_REFILL_S	6.
#define AUTH_ALL		"*"	/* every client together */
#define AUTH_ALL_BURST		100
#define AUTH_ALL_REFILL_S	0.5
#define AUTH_PENDING_MAX	10000	/* lookups waiting at once: 503 past it */

enum auth_scope {
	AUTH_NONE = 0,		/* no token (never granted) */
	AUTH_READ = 1,		/* GET: look at executions, audit, tools */
	AUTH_RUN = 2,		/* start, cancel, approve, reject; call tools */
	AUTH_ADMIN = 3,		/* manage workflows and tokens */
};

/* "read", "run", "admin" ("none" for AUTH_NONE, "?" out of range). */
const char	*auth_scope_name(enum auth_scope);
/* The scope named s[0..n); AUTH_NONE when it is none of the three. */
enum auth_scope	 auth_scope_parse(const char *s, size_t n);

struct auth;
struct auth_op;

struct auth_opts {
	const char	*bootstrap;	/* AFU9_API_TOKEN, or NULL */
	const char	*conninfo;	/* DATABASE_URL; NULL: only the
					   bootstrap token is known */
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	unsigned	 op_timeout_ms;	/* 0: AUTH_DB_TIMEOUT_MS */
	int		 trust_forwarded; /* the peer is the last address of
					   X-Forwarded-For (behind a load
					   balancer that appends it) */
};

/*
 * A new auth on loop, its connection opened from the loop.  NULL with
 * err when neither a bootstrap token nor a conninfo is given, or on
 * ENOMEM or a bad conninfo.
 */
struct auth	*auth_new(struct ev_loop *, const struct auth_opts *,
		    char *err, size_t errlen);
/*
 * Free it: lookups still waiting are dropped, and the exchanges of
 * auth_request() answered 503 (after http_server_free() they are
 * orphans, and that only frees them).  NULL is fine.
 */
void		 auth_free(struct auth *);
/* As a subsystem ("auth"): ready when it can check tokens (its database
   is up, or it has only the bootstrap token), its status and metrics
   (afu9_auth_checks_total{result}). */
void		 auth_subsys(struct auth *, struct subsys *out);

/* What a check found. */
struct auth_result {
	int		 status;	/* 0: granted; 401 403 429 503 */
	enum auth_scope	 scope;		/* the token's own (granted, 403) */
	unsigned	 retry_after;	/* s, with 429 and 503 */
	char		 name[AUTH_NAME_MAX + 1]; /* the token's ("bootstrap"),
					   when one was found; else "" */
	int		 bootstrap;	/* it was AFU9_API_TOKEN */
	const char	*reason;	/* static, for logs only: "granted",
					   "no token", "malformed", "unknown
					   token", "revoked", "expired",
					   "scope", "rate limited",
					   "database unavailable" */
};

/* What a route needs. */
struct auth_need {
	enum auth_scope	 scope;		/* AUTH_READ .. AUTH_ADMIN */
	const char	*challenge;	/* WWW-Authenticate value of its 401;
					   NULL: Bearer realm="afu9".
					   Borrowed: must outlive the
					   route (a string constant) */
};

/*
 * A handler behind auth.  `req` is borrowed for the call, as for an
 * http_handler_fn (it may be a copy kept by the exchange: the same
 * spans, http_exchange_param() works), `x` is the handler's to answer,
 * `r` (status 0) says who was granted; borrowed for the call.
 */
typedef void	(*auth_handler_fn)(const struct http_request *req,
		    struct http_exchange *x, const struct auth_result *r,
		    void *arg);

/*
 * Install a route like http_server_route() whose handler fn runs only
 * for a token granting need->scope (need is copied; its challenge is
 * borrowed).  Refused requests are answered by auth as described at the
 * top.  0, or -1 with errno (as http_server_route(); ENOSPC also when
 * auth's own table of AUTH_ROUTES_MAX routes is full).
 */
#define AUTH_ROUTES_MAX	32
int		 auth_route(struct auth *, struct http_server *,
		    const char *method, const char *path, int flags,
		    const struct auth_need *need, auth_handler_fn fn,
		    void *arg);

/*
 * The same from inside a handler, when what is needed depends on the
 * request (one route for several methods, a JSON-RPC method in the
 * body): check req's bearer token for need->scope, then run fn(req, x,
 * result, arg), or answer x with the refusal.  Called during the
 * handler's call with its req and x; fn may run before auth_request()
 * returns (the bootstrap token, no token at all, a peer held back) or
 * later from the loop (a database lookup: req is then a copy the
 * exchange keeps, see http_exchange_hold()).  Either way x belongs to
 * auth until fn gets it.
 */
void		 auth_request(struct auth *, const struct http_request *req,
		    struct http_exchange *x, const struct auth_need *need,
		    auth_handler_fn fn, void *arg);

/*
 * The bare check, for a token that did not come in an Authorization
 * field (the console's login form): token[0..len) for need by peer (an
 * address as text, see http_exchange_peer()).  done(r, arg) runs once
 * with the result (r borrowed for the call): before auth_token() returns
 * when the answer is known at once (and then NULL is returned), else
 * from the loop (the handle is returned; auth_op_forget() cancels it).
 * Refusals are logged and counted as for auth_request(); `what` names
 * the place in the log ("ui login").
 */
typedef void	(*auth_done_fn)(const struct auth_result *r, void *arg);
struct auth_op	*auth_token(struct auth *, const char *token, size_t len,
		    const char *peer, const char *what,
		    const struct auth_need *need, auth_done_fn done,
		    void *arg);
/*
 * The check again for a token known by its digest (AUTH_DIGEST_LEN
 * bytes, auth_token_digest()): a console session keeps the digest of
 * the token it was opened with, not the token, and is checked against
 * the table at every page, so a revoked token ends its sessions too.
 * No failure budget is asked or spent (a digest is no guess).  done as
 * for auth_token(); a digest that was the bootstrap token's is unknown
 * here (the bootstrap token has no row).
 */
struct auth_op	*auth_digest(struct auth *, const unsigned char *digest,
		    const char *peer, const char *what,
		    const struct auth_need *need, auth_done_fn done,
		    void *arg);
/* done will not run for op.  NULL is fine; not from inside its done. */
void		 auth_op_forget(struct auth_op *);

/*
 * The peer of x as auth counts it (the client's address, or with
 * trust_forwarded the last X-Forwarded-For address of req) into
 * buf[len]; returns buf.
 */
const char	*auth_peer(const struct auth *, const struct http_request *req,
		    const struct http_exchange *x, char *buf, size_t len);

/*
 * For `afu9 token create` and the tests: a new token into
 * out[AUTH_TOKEN_LEN + 1] and its digest into digest[AUTH_DIGEST_LEN].
 * 0, or -1 (sodium_init() failed).
 */
int		 auth_token_new(char *out, unsigned char *digest);
/* The digest of token[0..len) as stored (unkeyed BLAKE2b-256). */
void		 auth_token_digest(const char *token, size_t len,
		    unsigned char *digest);

#endif /* AFU9_API_AUTH_H */
