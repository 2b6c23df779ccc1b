/*
 * api/webhook: GitHub webhook deliveries (doc/webhooks.md).
 *
 *   POST /v1/webhooks/github
 *
 * The route exists only when a secret is configured
 * (AFU9_GITHUB_WEBHOOK_SECRET): without one, the path is whatever else
 * the server has there (a 404).  A delivery is answered as follows, each
 * check before the next:
 *
 *  - body over WEBHOOK_BODY_MAX (GitHub's cap, 25 MB) by its
 *    Content-Length                                     413 (the HTTP
 *                                                       server, before
 *                                                       reading it)
 *  - not exactly one X-Hub-Signature-256 of the form
 *    "sha256=" and 64 hex digits, or one that is not
 *    the HMAC-SHA256 of the body under the secret       401
 *    (computed over the raw bytes before anything of the body is looked
 *    at, compared with sodium_memcmp(): the time tells nothing about
 *    the expected digest; nothing is stored, nothing logged but the
 *    refusal and the peer)
 *  - X-GitHub-Event or X-GitHub-Delivery missing,
 *    repeated or out of form                            400
 *  - Content-Type not application/json                  415 (the hook
 *                                                       must be set to
 *                                                       send JSON)
 *  - the body not a JSON object                         400
 *  - no database, or it is down                         503
 *  - recorded (a new delivery id)                       202, ping 200
 *  - a delivery id recorded before (a redelivery)       200, "duplicate"
 *
 * A new delivery is recorded (afu9_webhook_record(),
 * migrations/005_webhook_events.sql) before it is answered; nothing else
 * happens on the request's path, so the answer takes one database round
 * trip whatever the event, on one of WEBHOOK_RECV_CONNS connections of
 * the receiver's own.  The payload is parsed by PostgreSQL there, not on
 * the loop, and for handling by a thread of the handler's.
 *
 * Handling, from the table: each task with the route claims recorded
 * deliveries (afu9_webhook_claim(): FOR UPDATE SKIP LOCKED, a lease of
 * WEBHOOK_CLAIM_TTL_MS, so several tasks share them and the claim of a
 * task that died is taken over once it expires), woken by NOTIFY
 * afu9_webhook and polling every WEBHOOK_POLL_MS besides.  Each delivery
 * is matched against the rules (conf.h, afu9.webhooks: the repository's
 * own list when the configuration has one, else the common list): a
 * rule whose event, action and `if` match starts its workflow with its
 * input templates resolved against {"event": {"name", "action",
 * "delivery", "payload", "repository": {"owner", "name", "full_name",
 * "default_branch", "id"}}} (default_branch and id from the
 * repositories table when the repository is there, else from the
 * payload; id null).  The input is checked against the workflow's
 * inputs schema first.  check_suite and check_run with action
 * "completed" also call afu9_checks_completed() for the repository and
 * head commit.  Everything a delivery does is committed in one
 * transaction with its outcome (afu9_webhook_finish(): 'started',
 * 'woke', 'ignored' or 'failed' with a detail), and each execution has
 * the idempotency key webhook:DELIVERY:RULE, so a delivery handled again
 * after a takeover starts nothing twice.  A delivery whose handling did
 * not finish in WEBHOOK_ATTEMPTS_MAX claims is failed with a detail that
 * says so.
 *
 * Metrics (webhook_subsys()): afu9_webhook_requests_total{code},
 * afu9_webhook_answer_seconds (from the request to its answer),
 * afu9_webhook_handled_total{outcome}.
 */
#ifndef AFU9_API_WEBHOOK_H
#define AFU9_API_WEBHOOK_H

#include <stddef.h>
#include <ev.h>
#include <jansson.h>

#include "http/http.h"
#include "subsys.h"

#define WEBHOOK_PATH		"/v1/webhooks/github"
#define WEBHOOK_BODY_MAX	(25u * 1000 * 1000)	/* GitHub's cap */
#define WEBHOOK_DB_TIMEOUT_MS	5000	/* recording one delivery */
#define WEBHOOK_CLAIM_TTL_MS	30000	/* a claim's lease */
#define WEBHOOK_POLL_MS		5000	/* claims without a NOTIFY */
#define WEBHOOK_CLAIM_BATCH	16	/* deliveries claimed at once */
#define WEBHOOK_RECV_CONNS	4	/* connections recording deliveries */
#define WEBHOOK_ATTEMPTS_MAX	5	/* claims before giving up */
#define WEBHOOK_DELIVERY_MAX	100	/* bytes of X-GitHub-Delivery */

struct webhook;

struct webhook_opts {
	const char	*secret;	/* AFU9_GITHUB_WEBHOOK_SECRET
					   (required; copied) */
	const char	*conninfo;	/* DATABASE_URL; NULL: 503 */
	const char	*password;	/* PGPASSWORD, to redact; NULL */
	const json_t	*rules;		/* afu9.webhooks (borrowed for the
					   call); NULL: none */
	const char	*owner;		/* claims' owner name (copied);
					   NULL: host:pid */
	unsigned	 claim_ttl_ms;	/* 0: WEBHOOK_CLAIM_TTL_MS */
	unsigned	 poll_ms;	/* 0: WEBHOOK_POLL_MS */
};

/*
 * Install the route on hs (borrowed: as wfapi_new(), it must outlive the
 * result, which is freed after http_server_free(hs)), with its body
 * bound.  The rules' expressions and templates are parsed here: NULL
 * with err naming the rule ("afu9.webhooks.rules[1].input: ...") when
 * one does not parse, or on ENOMEM.  Handling begins at the subsystem's
 * start.
 */
struct webhook	*webhook_new(struct ev_loop *, struct http_server *hs,
		    const struct webhook_opts *, char *err, size_t errlen);
void		 webhook_free(struct webhook *);
/* As a subsystem ("webhooks"): start begins handling, stop ends it
   (claims held are left to expire or be finished by their statements in
   flight); its database under /ready's "webhooks" key; its metrics. */
void		 webhook_subsys(struct webhook *, struct subsys *out);

/*
 * The signature check alone, for tests and the bench: is sig (the
 * header's value, len bytes) "sha256=" and the hex HMAC-SHA256 of
 * body[blen] under key[klen]?  1 or 0, in time independent of where
 * they differ.
 */
int		 webhook_signature_ok(const char *key, size_t klen,
		    const char *sig, size_t len, const void *body,
		    size_t blen);

#endif /* AFU9_API_WEBHOOK_H */
